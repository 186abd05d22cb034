"""Breaks about time (``broken_if``), judged in the journey summaries, worked by hand."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import keymoments
from keymoments.errors import DataWarning, ModelError
from keymoments.model import parse_service

LATE = parse_service(
    """
version: 1
name: results on time
moments:
  - {id: test, reached: [test_done]}
  - id: results
    reached: [results_given, results_explained]
    broken_if: {waited_over: 7d, since: [test_done]}
outcomes:
  - {id: treated, perspective: provider, reached: [treated]}
"""
)

UNANSWERED = parse_service(
    """
version: 1
name: offers returned
moments:
  - id: offer
    reached: [offer_sent, offer_withdrawn]
    broken: [offer_withdrawn]
    broken_if: {no: [offer_returned], within: 20d}
  - {id: sale, reached: [offer_returned]}
outcomes:
  - {id: sold, perspective: provider, reached: [offer_returned]}
"""
)


def _events(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"])


def _analyse(service, rows) -> keymoments.AnalysisResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return keymoments.analyse(service, events=_events(rows), bootstrap=0)


def test_results_later_than_a_week_after_the_latest_test_break_the_visit() -> None:
    rows = [
        # on time: 6 days
        ("a", "test_done", "2024-01-01T09:00"), ("a", "results_given", "2024-01-07T09:00"),
        ("a", "treated", "2024-01-08T09:00"),
        # late: 7 days and a minute; explained the next day, in the same visit
        ("b", "test_done", "2024-01-01T09:00"), ("b", "results_given", "2024-01-08T09:01"),
        ("b", "results_explained", "2024-01-09T09:00"),
        # a retest resets the clock: 3 days after the latest test is on time
        ("c", "test_done", "2024-01-01T09:00"), ("c", "test_done", "2024-01-10T09:00"),
        ("c", "results_given", "2024-01-13T09:00"), ("c", "treated", "2024-01-14T09:00"),
        # exactly 7 days is not over 7 days
        ("d", "test_done", "2024-01-01T09:00"), ("d", "results_given", "2024-01-08T09:00"),
        # results with no test before them cannot be judged
        ("e", "results_given", "2024-01-08T09:00"),
    ]  # fmt: skip
    result = _analyse(LATE, rows)
    doc = result.to_dict()
    (rule,) = doc["data"]["time_breaks"]
    assert rule["moment"] == "results" and rule["rule"] == "over 7d since test_done"
    # b's two events are one late visit: both judged from the first after the test
    assert (rule["events"], rule["cases"], rule["unjudged"]) == (2, 1, 1)
    results = result.moment("results")
    assert results.reach == 1.0 and results.break_rate == pytest.approx(1 / 5)
    variants = {" > ".join(v["path"]): v["cases"] for v in doc["variants"]}
    assert variants["test:ok > results:broken"] == 1  # one visit, not two
    # the late case never gets treated: fixing lateness recovers it in the chain
    assert result.moment("results").impact["treated"]["recoverable"] > 0


def test_a_late_wait_also_breaks_a_visit_that_ends_in_a_broken_activity() -> None:
    service = LATE.model_copy(deep=True)
    service.moments[1].broken = ["results_lost"]
    service.moments[1].reached = ["results_given", "results_lost"]
    rows = [
        ("a", "test_done", "2024-01-01"), ("a", "results_lost", "2024-01-02"),
        ("b", "test_done", "2024-01-01"), ("b", "results_given", "2024-01-20"),
        ("c", "test_done", "2024-01-01"), ("c", "results_given", "2024-01-03"),
        ("c", "treated", "2024-01-04"),
    ]  # fmt: skip
    result = _analyse(service, rows)
    # a broke by activity, b by time: either breaks the visit
    assert result.moment("results").break_rate == pytest.approx(2 / 3)


def test_an_offer_not_returned_within_20_days_breaks_unless_still_pending() -> None:
    rows = [
        ("a", "offer_sent", "2024-01-01"), ("a", "offer_returned", "2024-01-15"),  # in time
        ("b", "offer_sent", "2024-01-01"), ("b", "offer_returned", "2024-01-25"),  # 24 days
        ("c", "offer_sent", "2024-01-01"),  # never returned, long past the deadline
        ("d", "offer_sent", "2024-03-01"),  # 10 days before the log ends: not yet due
        ("e", "offer_sent", "2024-01-01"), ("e", "offer_withdrawn", "2024-01-02"),
        ("z", "offer_sent", "2024-03-11"), ("z", "offer_returned", "2024-03-11"),  # same day
    ]  # fmt: skip
    result = _analyse(UNANSWERED, rows)
    assert any("1 events were still waiting when the log ends" in w for w in result.warnings)
    (rule,) = result.to_dict()["data"]["time_breaks"]
    # b and c late; e's two events (sent, withdrawn) were never answered either
    assert (rule["events"], rule["cases"], rule["not_yet_due"]) == (4, 3, 1)
    offer = result.moment("offer")
    assert offer.break_rate == pytest.approx(3 / 6)
    assert result.outcome_means[0] == pytest.approx(3 / 6)
    assert result.model_means[0] == pytest.approx(3 / 6)


def test_the_same_rule_on_both_sides_of_a_tie_and_in_any_file_order() -> None:
    rows = [
        ("a", "test_done", "2024-01-01T09:00"), ("a", "results_given", "2024-01-01T09:00"),
        ("b", "results_given", "2024-01-20T09:00"), ("b", "test_done", "2024-01-01T09:00"),
    ]  # fmt: skip
    first = _analyse(LATE, rows).to_dict()
    second = _analyse(LATE, rows[::-1]).to_dict()
    assert first["moments"] == second["moments"]
    (rule,) = first["data"]["time_breaks"]
    assert (rule["events"], rule["unjudged"]) == (1, 0)  # a waited 0: never late


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"waited_over": "7d"}, "needs both 'waited_over'"),
        ({"since": ["x"]}, "needs both 'waited_over'"),
        ({"no": ["x"]}, "needs both 'no'"),
        ({"waited_over": "7d", "since": ["x"], "within": "2d"}, "takes one form"),
        ({"waited_over": "seven days", "since": ["x"]}, "a number and a unit"),
        ({"no": ["x"], "within": "0d"}, "longer than zero"),
        ({}, "broken_if is empty"),
    ],
)
def test_rules_that_cannot_be_read_name_the_field(rule: dict, message: str) -> None:
    import yaml

    text = yaml.safe_dump(
        {
            "version": 1,
            "name": "x",
            "moments": [{"id": "m", "reached": ["a"], "broken_if": rule}],
        }
    )
    with pytest.raises(ModelError, match=message) as info:
        parse_service(text, file="service.yaml")
    assert "moments[0].broken_if" in str(info.value)
