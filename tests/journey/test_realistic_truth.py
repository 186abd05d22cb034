"""Planted truth recovered from a log recorded the way real logs are (see realistic.py).

Journeys go on after their outcome, one activity marks two outcomes, appointment
days are dates only with same-day bookings, online bookings are tied to the
invite's instant in a shuffled file, and results can be late by a rule about
time. The truth of fixing each moment is simulated from the planted process
(a million cases, common random numbers); the analysis sees 100,000 cases.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import realistic as planted

import keymoments
from keymoments.errors import DataWarning
from keymoments.journey.fit import evaluate
from keymoments.model import parse_service

pytestmark = pytest.mark.slow

SERVICE = parse_service(planted.SERVICE)
OUTCOMES = ["seen", "slot_used", "treated", "satisfaction"]


@pytest.fixture(scope="module")
def truth() -> dict[str, dict[str, float]]:
    return planted.truth(1_000_000, seed=99)


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    return planted.simulate(100_000, seed=7, events=True)  # type: ignore[return-value]


def _analyse(data: tuple[pd.DataFrame, pd.DataFrame]) -> keymoments.AnalysisResult:
    cases, events = data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # the ties and dates, checked below
        return keymoments.analyse(
            SERVICE, events=events, cases=cases[["case_id", "band", "amount", "satisfaction"]]
        )


@pytest.fixture(scope="module")
def result(data) -> keymoments.AnalysisResult:
    return _analyse(data)


def test_every_recoverable_within_15_percent_of_the_simulated_fix(result, truth) -> None:
    checked = 0
    for m in planted.MOMENTS:
        for o in OUTCOMES:
            want = truth[m][o]
            got = result.moment(m).impact[o]["recoverable"]
            if abs(want) < 1e-12:
                # a moment after the outcome cannot cost it: exactly nothing to recover
                assert got == pytest.approx(0.0, abs=1e-12), (m, o)
            else:
                assert got == pytest.approx(want, rel=0.15), (m, o, got, want)
                checked += 1
    assert checked >= 15


def test_the_model_reproduces_every_observed_mean(result, data) -> None:
    doc = result.to_dict()
    for o in doc["outcomes"]:
        assert o["model_mean"] == pytest.approx(o["mean"], abs=0.005), o["id"]
    # exactly, for the binary outcomes: the chain cut at the outcome is fitted to it
    cases, _ = data
    means = {o["id"]: o for o in doc["outcomes"]}
    assert means["seen"]["mean"] == pytest.approx(cases["seen"].mean())
    assert means["seen"]["model_mean"] == pytest.approx(cases["seen"].mean(), abs=1e-12)
    assert means["treated"]["model_mean"] == pytest.approx(cases["treated"].mean(), abs=1e-12)
    # and per segment
    journey = result._journey
    point = evaluate(journey, SERVICE, journey.n)
    for g, band in enumerate(journey.segments):
        mine = cases[cases["band"] == band]
        assert point.per_segment[g, 0] == pytest.approx(mine["seen"].mean(), abs=1e-9)
        assert point.per_segment[g, 2] == pytest.approx(mine["treated"].mean(), abs=1e-9)
        assert point.per_segment[g, 3] == pytest.approx(mine["satisfaction"].mean(), abs=1e-6)


def test_two_outcomes_on_one_activity_get_identical_figures(result) -> None:
    doc = result.to_dict()
    for m in doc["moments"]:
        if m["impact"]:
            assert m["impact"]["seen"] == m["impact"]["slot_used"], m["id"]
    means = {o["id"]: o for o in doc["outcomes"]}
    assert means["seen"]["model_mean_ci"] == means["slot_used"]["model_mean_ci"]


def test_money_from_a_value_column_follows_the_amounts(result, truth, data) -> None:
    cases, _ = data
    journey = result._journey
    point = evaluate(journey, SERVICE, journey.n)
    treated = OUTCOMES.index("treated")
    # the model's money per case is the observed value x amount over treated cases
    observed = float((planted.VALUE * cases["amount"] * cases["treated"]).mean())
    assert planted.VALUE * point.money[treated] == pytest.approx(observed, rel=1e-6)
    for q, m in enumerate(planted.MOMENTS):
        got = planted.VALUE * point.money_recoverable[q, treated]
        want = truth[m]["treated_money"]
        if abs(want) > 1e-9:
            assert got == pytest.approx(want, rel=0.15), (m, got, want)
    # where the provider is judged on money, that money is this one
    for q, m in enumerate(planted.MOMENTS):
        judged = result.moment(m).deciding["provider"]
        if judged is not None and judged.measure == "money":
            assert judged.recoverable == pytest.approx(
                planted.VALUE * point.money_recoverable[q, treated]
            )


def test_the_same_input_gives_the_same_json(result, data) -> None:
    again = _analyse(data)
    assert json.dumps(again.to_dict()) == json.dumps(result.to_dict())


def test_what_the_log_needed_is_counted(result, data) -> None:
    _, events = data
    doc = result.to_dict()["data"]
    order = doc["order"]
    assert order["date_only_activities"] == ["attended", "dna"]
    stamps = pd.to_datetime(events["timestamp"])
    dated = events["activity"].isin(["attended", "dna"])
    assert order["date_only_events"] == int(dated.sum())
    # a date-only event is placed after a timed event of its day: the same-day bookings
    # and the tests (which come after the appointment, so do not move it)
    frame = events.assign(day=stamps.dt.normalize(), ts=stamps)
    booked = frame[frame["activity"].isin(["booked", "booking_failed"])]
    appointments = frame[dated]
    same_day = appointments.merge(booked[["case_id", "day"]], on=["case_id", "day"])
    assert order["date_only_placed"] == len(same_day.drop_duplicates(["case_id", "day"]))
    assert order["tied_transitions"] > 0
    # the late results, recounted: results given more than 7 days after the latest test
    (rule,) = doc["time_breaks"]
    tests = frame[frame["activity"] == "test_done"].sort_values("ts")
    given = frame[frame["activity"] == "results_given"].sort_values("ts")
    paired = pd.merge_asof(given, tests[["case_id", "ts"]].rename(columns={"ts": "test"}),
                           left_on="ts", right_on="test", by="case_id")  # fmt: skip
    late = (paired["ts"] - paired["test"]) > pd.Timedelta(days=7)
    assert rule["moment"] == "results" and rule["events"] == int(late.sum())
    assert rule["cases"] == paired.loc[late, "case_id"].nunique()
    assert rule["not_yet_due"] == 0 and rule["unjudged"] == 0
    results = result.moment("results")
    reached = events.loc[events["activity"] == "results_given", "case_id"].nunique()
    assert results.break_rate == pytest.approx(paired.loc[late, "case_id"].nunique() / reached)


def test_counts_are_named_right(result, data) -> None:
    _, events = data
    doc = result.to_dict()
    waits = {(w["from"], w["to"]): w for w in doc["waits"]}
    # a case can miss two appointments: moves are counted as transitions, people as cases
    move = waits[("appointment:broken", "booking:ok")]
    assert move["transitions"] > move["cases"] > 0
    dna_cases = events.loc[events["activity"] == "dna", "case_id"].nunique()
    assert move["cases"] <= dna_cases
    (after,) = [a for a in doc["after_break"] if a["moment"] == "appointment"]
    back = next(d for d in after["next"] if d["to"] == "booking:ok")
    assert back["cases"] == move["cases"] and back["transitions"] == move["transitions"]
    assert np.isclose(sum(d["transitions"] for d in after["next"]), after["breaks"])


def test_the_plan_prices_outcomes_by_their_value_column(result) -> None:
    # a what-if that stops a moment from breaking brings back, a year, exactly the
    # money the analysis says is at stake there: value x amounts, not value x cases
    from keymoments.portfolio import what_if

    journey = result._journey
    point = evaluate(journey, SERVICE, journey.n)
    treated = OUTCOMES.index("treated")
    volume = float(result.n_cases)  # the model gives no volume: the data's cases stand in
    for q, m in enumerate(planted.MOMENTS):
        change = what_if(result, break_rates={m: 0.0})
        money = change.to_dict()["money"]["treated"]
        want = planted.VALUE * point.money_recoverable[q, treated] * volume
        assert money == pytest.approx(want, rel=1e-6), m
        gain = change.to_dict()["gain"]["treated"]
        assert gain == pytest.approx(point.recoverable[q, treated], rel=1e-6), m
