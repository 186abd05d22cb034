"""Barriers on an unseen service: correlated worries with planted effects."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from planted_barriers import MISSING_B, Plant, exact_truth, generate, service
from scipy.special import expit

import keymoments
from keymoments.errors import DataWarning


@pytest.fixture(scope="module")
def planted():
    events, cases = generate(30_000, seed=12)
    with pytest.warns(DataWarning, match="set aside from its barrier model"):
        result = keymoments.analyse(service(), events=events, cases=cases, bootstrap=60)
    return events, cases, result


def test_attributable_fractions_within_005_of_exact_truth(planted) -> None:
    _, _, result = planted
    truth = exact_truth()
    for b, want in truth.items():
        got = result.barriers.estimate(b).attributable_fraction
        assert got == pytest.approx(want, abs=0.05), (b, got, want)


def test_intervals_cover_the_truth(planted) -> None:
    # each 95% interval misses its truth one time in twenty: of five, allow one miss
    # (checked over other seeds: odds-ratio intervals covered 95 of 100 truths, bootstrap
    # intervals of the attributable fractions 59 of 60)
    _, _, result = planted
    truth = exact_truth()
    plant = Plant()
    or_misses = af_misses = 0
    for b in "abcde":
        est = result.barriers.estimate(b)
        lo, hi = est.odds_ratio_ci
        or_misses += not lo <= np.exp(plant.effects[b]) <= hi
        lo, hi = est.ci
        af_misses += not lo <= truth[b] <= hi
    assert or_misses <= 1
    assert af_misses <= 1


def test_a_worry_that_only_travels_with_another_gets_no_credit(planted) -> None:
    _, _, result = planted
    c = result.barriers.estimate("c")
    # unadjusted, `c` looks like a driver; adjusted, it explains nothing
    assert c.crude_odds_ratio > 1.5
    assert abs(c.attributable_fraction) < 0.02
    assert c.ci[0] < 0 < c.ci[1]
    assert [e.id for e in result.barriers.drivers("visit")][:2] == ["a", "d"]


def test_missing_answers_are_counted_and_set_aside(planted) -> None:
    events, cases, result = planted
    reached = set(events.loc[events["activity"].isin(["attended", "missed"]), "case_id"])
    mask = cases["case_id"].isin(reached)
    want = int(cases.loc[mask, "worry_b"].isna().sum())
    assert 0.01 < want / mask.sum() < 3 * MISSING_B
    row = result.barriers.moments[0]
    assert row.n_reached == mask.sum()
    assert row.n_set_aside == want
    assert result.barriers.estimate("b").missing == want
    assert any("set aside from its barrier model" in w for w in result.warnings)


def test_scale_and_yes_no_columns_are_read_as_documented(planted) -> None:
    events, cases, result = planted
    d = result.barriers.estimate("d")
    assert d.reading == "scale 1 to 5, held when > 3"
    assert result.barriers.estimate("e").reading == "yes/no"
    reached = set(events.loc[events["activity"].isin(["attended", "missed"]), "case_id"])
    used = cases[cases["case_id"].isin(reached) & cases["worry_b"].notna()]
    assert d.prevalence == pytest.approx((used["worry_d"] >= 4).mean(), abs=1e-12)
    assert result.barriers.estimate("e").prevalence == pytest.approx(
        (used["worry_e"] == "Yes").mean(), abs=1e-12
    )


def test_break_rate_lifts_exactly(planted) -> None:
    _, _, result = planted
    model = result.barriers.models["visit"]
    lift = {"a": 0.5, "d": 0.25}
    # by hand: every case's chance, each of its barriers lifted with its own coin
    k = model.segment_design.shape[1]
    beta = dict(zip(model.fitted_, model.coef_[1 + k :], strict=True))
    base = model.coef_[0] + model.segment_design @ model.coef_[1 : 1 + k]
    expected = 0.0
    for off_a, off_d in itertools.product((0, 1), repeat=2):
        weight = 0.5 * (0.25 if off_d else 0.75)  # a: half lifted, half not
        lp = base.copy()
        for j, b in enumerate(model.fitted_):
            held = model.held[:, j].astype(float)
            if (b == "a" and off_a) or (b == "d" and off_d):
                held = 0 * held
            lp = lp + beta[b] * held
        expected += weight * float((model.cases * expit(lp)).sum())
    assert model.break_rate(lift) == pytest.approx(expected / model.cases.sum(), rel=1e-12)
    assert model.break_rate() == pytest.approx(result.barriers.moments[0].break_rate, abs=2e-3)
    assert model.break_rate({"a": 1.0}) < model.break_rate({"a": 0.5}) < model.break_rate()
    assert len(model.replicates) == 60
    with pytest.raises(KeyError, match="no barrier 'zzz'"):
        model.break_rate({"zzz": 0.5})
    with pytest.raises(ValueError, match="share in"):
        model.break_rate({"a": 1.5})


def test_json_contract(planted) -> None:
    _, _, result = planted
    doc = result.to_dict()
    json.dumps(doc, allow_nan=False)
    first = doc["barriers"][0]
    assert list(first)[:6] == [
        "id",
        "moment",
        "prevalence",
        "odds_ratio",
        "attributable_fraction",
        "ci",
    ]
    assert first["ci"][0] <= first["attributable_fraction"] <= first["ci"][1]
    assert doc["moment_barriers"][0]["moment"] == "visit"


def test_effect_that_differs_between_segments_is_found() -> None:
    plant = Plant(a_by_segment={"young": 1.6, "old": 0.1})
    events, cases = generate(20_000, seed=5, plant=plant)
    with pytest.warns(DataWarning):
        result = keymoments.analyse(
            service(by_segment=True), events=events, cases=cases, bootstrap=20
        )
    a = result.barriers.estimate("a")
    assert a.segment_test["p_value"] < 1e-6
    assert result.barriers.estimate("b").segment_test["p_value"] > 0.01
    by = {row["segment"]: row for row in a.by_segment}
    assert by["young"]["odds_ratio_ci"][0] <= np.exp(1.6) <= by["young"]["odds_ratio_ci"][1]
    assert by["old"]["odds_ratio_ci"][0] <= np.exp(0.1) <= by["old"]["odds_ratio_ci"][1]
