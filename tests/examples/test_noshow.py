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
        # appointment days are dates (checked in test_raw_dates_... below)
        warnings.filterwarnings("ignore", "activities with dates only", keymoments.DataWarning)
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


# -- the raw export, as a new user would give it ----------------------------------

ONE_OUTCOME = """
version: 1
name: no-shows, raw
moments:
  - {id: booking, reached: [scheduled]}
  - {id: appointment, reached: [attended, missed], broken: [missed]}
outcomes:
  - {id: seen, perspective: user, reached: [attended]}
"""
# "attended" means "seen" for the patient and "slot used" for the clinic
TWO_OUTCOMES = ONE_OUTCOME + "  - {id: slot_used, perspective: provider, reached: [attended]}\n"


@pytest.fixture(scope="module")
def raw_events() -> pd.DataFrame:
    """One case per appointment: booked at ScheduledDay (a time), attended or missed
    on AppointmentDay (a date only, midnight), as the export has them; shuffled."""
    raw = pd.read_csv(SAMPLE)
    case = raw["AppointmentID"].astype(str)
    missed = raw["No-show"].str.strip().str.lower() == "yes"
    events = pd.concat(
        [
            pd.DataFrame({"case_id": case, "activity": "scheduled", "ts": raw["ScheduledDay"]}),
            pd.DataFrame(
                {
                    "case_id": case,
                    "activity": missed.map({True: "missed", False: "attended"}),
                    "ts": raw["AppointmentDay"],
                }
            ),
        ]
    ).rename(columns={"ts": "timestamp"})
    return events.sample(frac=1.0, random_state=3).reset_index(drop=True)


def _raw_result(events: pd.DataFrame, model: str) -> keymoments.AnalysisResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", keymoments.DataWarning)  # the dates, checked below
        return keymoments.analyse(keymoments.parse_service(model), events=events, bootstrap=30)


def test_raw_dates_put_same_day_bookings_before_their_appointment(raw_events) -> None:
    result = _raw_result(raw_events, TWO_OUTCOMES)
    raw = pd.read_csv(SAMPLE)
    booked = pd.to_datetime(raw["ScheduledDay"]).dt.tz_localize(None)
    day = pd.to_datetime(raw["AppointmentDay"]).dt.tz_localize(None)
    same_day = int((booked.dt.normalize() == day).sum())
    after = int((day < booked.dt.normalize()).sum())  # the export's own errors
    order = result.to_dict()["data"]["order"]
    assert order["date_only_activities"] == ["attended", "missed"]
    assert order["date_only_placed"] == same_day > 0.3 * len(raw)
    # every appointment follows its booking, but for the few booked after the day
    variants = {" > ".join(v["path"]): v["cases"] for v in result.to_dict()["variants"]}
    booked_first = sum(n for path, n in variants.items() if path.startswith("booking"))
    assert booked_first == len(raw) - after
    # the missed appointment is key, and the model gives the observed attendance
    assert result.key_moments("user") == ["appointment"]
    assert result.key_moments("provider") == ["appointment"]
    attended = float((raw["No-show"] == "No").mean())
    assert result.outcome_means == pytest.approx([attended, attended])
    assert result.model_means == pytest.approx([attended, attended], abs=1e-12)


def test_two_outcomes_on_one_activity_as_one_and_the_same_every_run(raw_events) -> None:
    one = _raw_result(raw_events, ONE_OUTCOME).moment("appointment").impact["seen"]
    runs = [_raw_result(raw_events, TWO_OUTCOMES) for _ in range(3)]
    for result in runs:
        impact = result.moment("appointment").impact
        assert impact["seen"] == impact["slot_used"] == one
    docs = [r.to_dict() for r in runs]
    assert docs[0] == docs[1] == docs[2]
    # fixing the no-show brings every booked appointment in (nobody rebooks here)
    raw = pd.read_csv(SAMPLE)
    assert one["recoverable"] == pytest.approx(float((raw["No-show"] == "Yes").mean()), abs=1e-3)
