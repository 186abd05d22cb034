"""The health check's free-text worries: written from the planted worries, nothing else moved.

The example writes ``worries_text`` from each patient's planted worries (the
same ones as the tick boxes), from a random stream of its own, so every other
generated figure is what it was. Heard through a codebook instead of the tick
boxes, the worries' attributable fractions are the planted ones.
"""

from __future__ import annotations

import dataclasses
import warnings

import pandas as pd
import pytest

import keymoments
from keymoments import examples
from keymoments.errors import DataWarning
from keymoments.examples._comments import HEALTH_CHECK_CODEBOOK
from keymoments.examples._generate import generate
from keymoments.examples.health_check import SPEC
from keymoments.model import Theme


def test_the_comments_leave_every_other_column_and_event_as_they_were() -> None:
    with_text = generate(SPEC, n_cases=2000, seed=5)
    without = generate(dataclasses.replace(SPEC, comments=None), n_cases=2000, seed=5)
    pd.testing.assert_frame_equal(with_text.events, without.events)
    pd.testing.assert_frame_equal(with_text.cases.drop(columns="worries_text"), without.cases)
    assert with_text.service.comments[0].column == "worries_text"
    assert with_text.service.themes == []  # no codebook in the demo's model: barriers unchanged


def test_patients_write_what_they_ticked() -> None:
    ex = examples.load_health_check(n_cases=4000, seed=1)
    text = ex.cases["worries_text"]
    blank = text.isna() | ~text.fillna("").str.contains(r"[A-Za-z]")
    assert blank.mean() == pytest.approx(0.25, abs=0.03)
    said = text[~blank].str.lower()
    transport = ex.cases.loc[~blank, "worry_transport"] == 1
    mentions = said.str.contains(r"\b(?:bus|buses|taxi|lift|get there|getting there)\b")
    # typos hide a few mentions; a worry never held is never written
    assert mentions[transport].mean() > 0.9 and not mentions[~transport].any()


@pytest.fixture(scope="module")
def heard() -> tuple[examples.Example, keymoments.AnalysisResult]:
    ex = examples.load_health_check(n_cases=20_000, seed=4)
    themes = [
        Theme(id=w, name=name, comments="worries", patterns=list(patterns))
        for w, (name, patterns) in HEALTH_CHECK_CODEBOOK.items()
    ]
    # the same service, its worries heard in the comments instead of ticked
    listening = ex.service.model_copy(update={"barriers": [], "themes": themes})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        result = keymoments.analyse(listening, events=ex.events, cases=ex.cases, bootstrap=50)
    return ex, result


def test_themes_recover_the_planted_attributable_fractions(heard) -> None:
    ex, result = heard
    truth = ex.truth.attributable_fraction["appointment"]
    for worry, want in truth.items():
        est = result.barriers.estimate(worry)
        assert est.source == "comments"
        assert est.attributable_fraction == pytest.approx(want, abs=0.05), worry
    # the interventions on the worries now reach them through the themes
    plan = result.portfolio
    assert plan is not None and "transport_voucher" in plan.summary["id"].tolist()


def test_quotes_for_the_key_moment(heard) -> None:
    _, result = heard
    themes = result.comments.at("appointment")  # most comments first
    assert sorted(t.id for t in themes) == sorted(HEALTH_CHECK_CODEBOOK)
    assert [t.count for t in themes] == sorted((t.count for t in themes), reverse=True)
    assert all(len(t.quotes) == 3 for t in themes)
