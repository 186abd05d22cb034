"""keymoments.monitor end to end on generated logs with a change planted at a known date."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import keymoments
from keymoments.errors import DataError, ModelError, StatisticsWarning
from keymoments.model import parse_service
from keymoments.monitoring import MonitorResult, monitor, simulate_rollout
from keymoments.monitoring.planted import _MODEL, Rollout

BOOTSTRAP = 20


@pytest.fixture(scope="module")
def rollout() -> Rollout:
    """A year of weeks, 1,000 cases a week; a text reminder halves... the DNAs from week 26."""
    return simulate_rollout(weeks=52, cases_per_week=1000, seed=0)


@pytest.fixture(scope="module")
def result(rollout: Rollout) -> MonitorResult:
    return monitor(rollout.service, events=rollout.events, cases=rollout.cases, bootstrap=BOOTSTRAP)


def _model(effect: float, date: str, *, extra: str = "") -> str:
    lo, hi = sorted([effect * 1.5, effect / 2])
    return _MODEL.format(effect=effect, effect_lo=lo, effect_hi=hi, date=date) + extra


def test_the_chart_flags_the_planted_step_in_its_first_week(
    result: MonitorResult, rollout: Rollout
) -> None:
    # documented: a step this size (about 7 standard errors of a week's rate) is flagged in
    # the first period after it; steps of 2 standard errors within 7 periods
    series = result.series("appointment")
    first = series.periods.index(pd.Timestamp(rollout.truth["change_date"]))
    types = series.chart.point_types()
    assert types[first] == "improvement"
    assert "outside_limits" in series.chart.signals[first]
    assert all(t == "improvement" for t in types[first:])  # the shift holds every week after
    assert series.chart.variation == "improvement"
    # the limits come from the weeks before the change with a visit (the first has none)
    assert series.baseline_span() == ("2024-01-08", "2024-06-24")
    assert series.chart.centre == pytest.approx(rollout.truth["break_before"], abs=0.01)


def test_the_measured_change_is_within_15_percent_of_the_planted_one(
    result: MonitorResult, rollout: Rollout
) -> None:
    (check,) = result.changes
    step = rollout.truth["step"]
    assert check.moment == "appointment"
    assert abs(check.change - step) <= 0.15 * abs(step)
    assert check.ci[0] <= step <= check.ci[1]
    assert check.periods_before == 25 and check.periods_after == 26
    assert check.verdict == "delivered"


def test_predicted_outcomes_are_within_15_percent_of_the_planted_process(
    result: MonitorResult, rollout: Rollout
) -> None:
    (check,) = result.changes
    for outcome, truth in rollout.truth["outcomes"].items():
        assert abs(check.predicted[outcome] - truth) <= 0.15 * abs(truth), outcome
        lo, hi = check.observed_ci[outcome]
        assert lo <= truth <= hi, outcome  # and the outcomes' own measure covers it


def test_the_journey_model_given_the_planted_step_gives_the_planted_outcomes(
    rollout: Rollout,
) -> None:
    # the prediction without the measurement's noise: the chains before the date, moved
    # by exactly the planted step, against the process's own figures
    from keymoments.data.engine import connect
    from keymoments.monitoring.changes import _chains_before, _outcome_changes
    from keymoments.monitoring.summaries import summarise_periods

    eng = connect()
    events = eng.from_arrow(rollout.events.assign(row=np.arange(1, len(rollout.events) + 1)))
    s = summarise_periods(events, rollout.service, eng, cases=eng.from_arrow(rollout.cases))
    chains = _chains_before(rollout.service, s, pd.Timestamp(rollout.truth["change_date"]))
    step = {"appointment": rollout.truth["step"]}
    got = _outcome_changes(rollout.service, chains, measured=step)
    for outcome, truth in rollout.truth["outcomes"].items():
        assert got[outcome] == pytest.approx(truth, rel=0.05), outcome


def test_the_promise_is_the_interventions_effect_through_the_same_chains(
    result: MonitorResult, rollout: Rollout
) -> None:
    (check,) = result.changes
    assert check.promised is not None
    assert check.promised["effect"] == pytest.approx(-0.4)
    assert check.promised["change"] == pytest.approx(check.before * -0.4)
    lo, hi = check.promised["range"]
    assert lo < check.promised["change"] < hi
    for outcome, truth in rollout.truth["outcomes"].items():
        # planted: the effect is exactly the planted step, so the promise is the truth
        assert check.promised["outcomes"][outcome] == pytest.approx(truth, rel=0.1)


def test_visits_per_period_add_up_to_the_analysis_own_counts(rollout: Rollout) -> None:
    from keymoments.data.engine import connect
    from keymoments.journey.fit import JourneyData
    from keymoments.journey.summaries import summarise_journeys
    from keymoments.monitoring.summaries import summarise_periods

    eng = connect()
    events = eng.from_arrow(rollout.events.assign(row=np.arange(1, len(rollout.events) + 1)))
    cases = eng.from_arrow(rollout.cases)
    periods = summarise_periods(events, rollout.service, eng, cases=cases)
    data = JourneyData.from_summary(summarise_journeys(events, rollout.service, eng, cases=cases))
    visits = np.asarray(data.visits.multiply(data.n[:, None]).sum(axis=0)).ravel()
    for i, m in enumerate(rollout.service.moments):
        rows = periods.visits[periods.visits["moment"] == m.id]
        assert rows["visits"].sum() == visits[2 * i] + visits[2 * i + 1], m.id
        assert rows["broken"].sum() == visits[2 * i + 1], m.id
    assert periods.n_cases == int(data.n.sum())


def test_a_change_too_recent_is_too_early_with_the_weeks_still_needed(rollout: Rollout) -> None:
    service = parse_service(_model(-0.4, "2024-12-16"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticsWarning)
        got = monitor(service, events=rollout.events, cases=rollout.cases, bootstrap=0,
                      window="year")  # fmt: skip
    (check,) = got.changes
    assert check.verdict == "too_early"
    assert check.periods_after == 2
    assert check.weeks_needed == 4.0  # a verdict waits for six weeks after the date
    assert "a verdict needs at least 6" in check.reason


def test_a_noisy_small_change_is_too_early_and_says_how_long_to_wait() -> None:
    ex = simulate_rollout(weeks=30, cases_per_week=400, change_week=22, break_after=0.255, seed=3)
    got = monitor(ex.service, events=ex.events, cases=ex.cases, bootstrap=0, window="year")
    (check,) = got.changes
    assert check.verdict == "too_early"
    promise = check.promised["change"]
    assert check.ci[0] < min(0, promise) and check.ci[1] > max(0, promise)
    assert check.fit is not None and check.periods_after == 8
    assert check.weeks_needed == check.fit.periods_needed(abs(promise) / 2) == 44


def test_too_early_says_when_waiting_cannot_settle_it() -> None:
    # a few noisy weeks before the date: the line there is too uncertain at the date for
    # any number of weeks after it to narrow the interval enough
    ex = simulate_rollout(weeks=30, cases_per_week=300, change_week=20, break_after=0.26, seed=5)
    got = monitor(ex.service, events=ex.events, cases=ex.cases, bootstrap=0, window="year")
    (check,) = got.changes
    assert check.verdict == "too_early"
    assert check.weeks_needed is None
    assert "will not settle it" in check.reason


def test_a_change_that_did_nothing_is_not_delivered() -> None:
    ex = simulate_rollout(weeks=40, cases_per_week=500, break_after=0.30, seed=5)
    service = parse_service(_model(-0.4, ex.truth["change_date"]))
    got = monitor(service, events=ex.events, cases=ex.cases, bootstrap=0, window="year")
    assert got.changes[0].verdict == "not"


def test_a_change_that_did_half_is_partly_delivered() -> None:
    ex = simulate_rollout(weeks=40, cases_per_week=800, break_after=0.24, seed=6)
    service = parse_service(_model(-0.4, ex.truth["change_date"]))
    got = monitor(service, events=ex.events, cases=ex.cases, bootstrap=0, window="year")
    check = got.changes[0]
    assert check.verdict == "partly"
    assert check.ci[0] <= -0.06 <= check.ci[1]


def test_the_json_has_the_shape_the_issue_sets(result: MonitorResult) -> None:
    doc = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    m = doc["monitor"]
    assert m["every"] == "week"
    assert m["memory"] == []  # the planted process remembers nothing; auto finds nothing
    moment = next(s for s in m["moments"] if s["moment"] == "appointment")
    point = moment["series"][30]
    assert {"period", "break_rate", "centre", "lcl", "ucl", "signals"} <= set(point)
    assert point["signals"] and set(point["signals"]) <= {
        "outside_limits",
        "shift",
        "trend",
        "two_of_three",
    }
    outcome = next(s for s in m["outcomes"] if s["outcome"] == "check_completed")
    assert {"period", "mean", "centre", "lcl", "ucl", "signals"} <= set(outcome["series"][0])
    (change,) = m["changes"]
    assert {"id", "moment", "date", "before", "after", "change", "ci", "predicted",
            "observed", "verdict"} <= set(change)  # fmt: skip
    assert change["change"] == pytest.approx(change["after"] - change["before"])
    assert set(change["predicted"]) == {"check_completed", "satisfaction"}
    assert change["verdict"] in ("delivered", "partly", "not", "too_early")
    assert [w["window"] for w in m["key_moments"]] == ["2024-Q1", "2024-Q2", "2024-Q3", "2024-Q4"]


def test_key_moments_per_quarter_note_the_moment_that_moved(result: MonitorResult) -> None:
    # halving the DNAs makes the appointment worth much less to the provider: it stops
    # being key for the provider in the quarter the reminders began
    q1, q2, q3, q4 = result.windows
    assert "appointment" in q1.key["provider"] and "appointment" in q2.key["provider"]
    assert "appointment" not in q3.key["provider"]
    assert q3.complete and not q4.complete
    notes = [(n.window, n.moment, n.perspective, n.change) for n in result.key_notes]
    assert ("2024-Q3", "appointment", "provider", "stopped") in notes
    assert all(n[0] != "2024-Q4" for n in notes)  # an incomplete window gives no note


def test_months_and_a_baseline_of_the_users_choice(rollout: Rollout) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StatisticsWarning)
        got = monitor(
            rollout.service,
            events=rollout.events,
            cases=rollout.cases,
            every="month",
            baseline="2024-04-30",
            bootstrap=0,
            window=6,
        )
    assert len(got.periods) == 12
    series = got.series("appointment")
    assert series.baseline_span() == ("2024-01-01", "2024-04-01")  # January to April
    assert any("limits rest on" in str(w.message) for w in caught)
    assert [w.label for w in got.windows] == ["2024-01-01", "2024-07-01"]
    check = got.changes[0]
    assert abs(check.change - rollout.truth["step"]) <= 0.15 * abs(rollout.truth["step"])


def test_bad_settings_and_missing_events_are_clear_errors(rollout: Rollout) -> None:
    with pytest.raises(ModelError, match="use week or month"):
        monitor(rollout.service, events=rollout.events, every="day")
    with pytest.raises(ModelError, match="window 'decade'"):
        monitor(rollout.service, events=rollout.events, window="decade")
    with pytest.raises(DataError, match="no events given"):
        monitor(rollout.service)


def test_the_result_reads_well(result: MonitorResult) -> None:
    assert keymoments.monitor is monitor
    assert "appointment: delivered" in repr(result)
    summary = result.summary
    assert list(summary["id"]) == [
        "invitation",
        "booking",
        "appointment",
        "results",
        "check_completed",
        "satisfaction",
    ]
    row = summary.set_index("id").loc["appointment"]
    assert row["variation"] == "improvement" and row["chart"] == "p"
    assert result.signals["id"].eq("appointment").sum() >= 26
    assert "<table" in result._repr_html_()
    assert result.changes_summary.loc[0, "verdict"] == "delivered"
    for chart in (result.plot_series(), result.plot_series("outcome"), result.plot_changes(),
                  result.plot_key_windows()):  # fmt: skip
        spec: dict[str, Any] = chart.to_dict()
        assert spec["description"]


def test_the_report_and_the_terminal(result: MonitorResult, tmp_path: Any) -> None:
    from rich.console import Console

    from keymoments.monitoring.report import write_monitor_html
    from keymoments.monitoring.terminal import render_monitor

    page = write_monitor_html(result, tmp_path / "monitor.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for section in ("monitor-headline", "monitor-changes", "monitor-moments", "monitor-key"):
        assert f'id="{section}"' in page
    assert "Text reminders go live" in page
    console = Console(record=True, width=160)
    render_monitor(result, console)
    text = console.export_text()
    assert "delivered" in text and "Key moments per quarter" in text


def test_segments_and_memory_are_kept_within_each_cohort() -> None:
    # a segment column and a remembered moment: the chains before a change and each
    # window's analysis are fitted per segment and history, the cohort only selects cases
    ex = simulate_rollout(weeks=30, cases_per_week=300, seed=12)
    cases = ex.cases.assign(site=np.where(np.arange(len(ex.cases)) % 3 == 0, "north", "south"))
    extra = "segments: [site]\nmemory: [booking]\n"
    text = _model(-0.4, ex.truth["change_date"], extra=extra)
    got = monitor(parse_service(text), events=ex.events, cases=cases, bootstrap=0, window="half")
    assert got.memory == ["booking"] and got.to_dict()["monitor"]["memory"] == ["booking"]
    (check,) = got.changes
    assert check.verdict == "delivered"
    truth = ex.truth["outcomes"]["check_completed"]
    assert abs(check.predicted["check_completed"] - truth) <= 0.3 * truth
    assert [w.label for w in got.windows] == ["2024-H1", "2024-H2"]
    assert all(w.analysed for w in got.windows)
