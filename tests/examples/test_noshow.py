"""The Vitória no-show appointments (a real sample): flags as barriers of attendance."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pandas as pd
import pytest

import keymoments

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "tests" / "data" / "real" / "noshow_appointments_sample.csv.gz"


def _prepare():
    path = ROOT / "examples" / "noshow" / "prepare.py"
    spec = importlib.util.spec_from_file_location("noshow_prepare", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def noshow(tmp_path_factory: pytest.TempPathFactory):
    raw = pd.read_csv(SAMPLE)
    events, cases, aside = _prepare().build(raw)
    out = tmp_path_factory.mktemp("noshow")
    events.to_csv(out / "events.csv.gz", index=False)
    cases.to_csv(out / "cases.csv.gz", index=False)
    with warnings.catch_warnings():
        # a few age x gender x lead-time segments are small in the sample
        warnings.simplefilter("ignore", keymoments.StatisticsWarning)
        result = keymoments.analyse(
            ROOT / "examples/noshow/service.yaml",
            events=out / "events.csv.gz",
            cases=out / "cases.csv.gz",
            bootstrap=15,
        )
    return raw, cases, aside, result


def test_prepare_keeps_every_usable_appointment(noshow) -> None:
    raw, cases, aside, result = noshow
    assert len(cases) + len(aside) == len(raw)
    assert result.n_cases == len(cases)
    appointment = result.moment("appointment")
    assert appointment.reach == 1.0
    want = (raw.loc[~raw.index.isin(aside.index), "No-show"] == "Yes").mean()
    assert appointment.break_rate == pytest.approx(want, abs=1e-12)


def test_sms_looks_like_a_barrier_only_until_lead_time_is_adjusted_for(noshow) -> None:
    _, _, _, result = noshow
    sms = result.barriers.estimate("sms")
    # raw: more no-shows among those texted (they booked further ahead) ...
    assert sms.holders_break_rate > sms.others_break_rate + 0.05
    assert sms.crude_odds_ratio > 1.5
    # ... within the same lead time, a text goes with fewer no-shows
    assert sms.odds_ratio_ci[1] < 1.0
    assert sms.attributable_fraction < 0


def test_an_earlier_no_show_is_the_clearest_barrier(noshow) -> None:
    _, _, _, result = noshow
    drivers = [e.id for e in result.barriers.drivers("appointment")]
    assert drivers[0] == "missed_before"
    handicap = result.barriers.estimate("handicap")
    assert handicap.reading == "scale 0 to 3, held when >= 1"
