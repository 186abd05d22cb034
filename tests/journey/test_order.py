"""Where time cannot order a case's events, the service model does; worked by hand."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest

import keymoments
from keymoments.errors import DataWarning, ModelError
from keymoments.model import parse_service

SERVICE = parse_service(
    """
version: 1
name: clinic
moments:
  - {id: booking, reached: [booked]}
  - {id: appointment, reached: [attended, dna], broken: [dna]}
  - {id: test, reached: [test_done]}
outcomes:
  - {id: seen, perspective: user, reached: [attended]}
  - {id: slot_used, perspective: provider, reached: [attended]}
"""
)


def _run(rows: list[tuple[str, str, str]], service=SERVICE) -> keymoments.AnalysisResult:
    events = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return keymoments.analyse(service, events=events, bootstrap=10)


def _paths(result: keymoments.AnalysisResult) -> dict[str, int]:
    return {" > ".join(v["path"]): v["cases"] for v in result.to_dict()["variants"]}


def test_events_at_one_instant_follow_the_model_whatever_the_file_order() -> None:
    rows = [
        ("a", "test_done", "2024-01-02T10:00"),
        ("a", "attended", "2024-01-02T10:00"),
        ("a", "booked", "2024-01-02T10:00"),
    ]
    for order in (rows, rows[::-1], [rows[1], rows[0], rows[2]]):
        # moments in the model's order, then the outcome (both outcomes on one marker)
        assert _paths(_run(order)) == {"booking:ok > appointment:ok > test:ok > outcome:seen": 1}


def test_a_same_day_booking_comes_before_its_date_only_appointment() -> None:
    rows = [
        # booked at 09:30 for the same day; the appointment is recorded as a date
        ("a", "booked", "2024-01-02T09:30"), ("a", "attended", "2024-01-02"),
        ("a", "test_done", "2024-01-02T11:00"),
        # booked a week ahead
        ("b", "booked", "2024-01-02T09:30"), ("b", "dna", "2024-01-09"),
        ("c", "booked", "2024-01-03T14:00"), ("c", "attended", "2024-01-03"),
    ]  # fmt: skip
    result = _run(rows)
    assert _paths(result) == {
        "booking:ok > appointment:ok > outcome:seen > test:ok": 1,
        "booking:ok > appointment:broken": 1,
        "booking:ok > appointment:ok > outcome:seen": 1,
    }
    order = result.to_dict()["data"]["order"]
    assert order["date_only_activities"] == ["attended", "dna"]
    # three appointment events, two of them placed after a same-day booking
    assert (order["date_only_events"], order["date_only_placed"]) == (3, 2)
    assert any("dates only" in w for w in result.warnings)


def test_two_outcomes_on_one_activity_are_identical_on_every_run() -> None:
    rows = []
    for i in range(300):
        rows += [(f"c{i}", "booked", f"2024-01-{1 + i % 20:02d}T09:00")]
        rows += [(f"c{i}", "dna" if i % 4 == 0 else "attended", f"2024-01-{1 + i % 20:02d}T09:00")]
        if i % 8 == 0:
            rows += [(f"c{i}", "booked", f"2024-02-{1 + i % 20:02d}T09:00")]
            rows += [(f"c{i}", "attended", f"2024-02-{1 + i % 20:02d}T10:00")]
    first = _run(rows).to_dict()
    again = _run(rows[::-1]).to_dict()
    # the file order changes nothing, byte for byte (the data section lists the file)
    first.pop("data"), again.pop("data")
    assert json.dumps(first) == json.dumps(again)
    appointment = next(m for m in first["moments"] if m["id"] == "appointment")
    assert appointment["impact"]["seen"] == appointment["impact"]["slot_used"]
    # 75 of 300 miss and 38 of those come back: fixing it recovers the other 37
    assert appointment["impact"]["seen"]["recoverable"] == pytest.approx(37 / 300)


def test_one_breakable_moment_can_be_key_but_not_a_trivial_one() -> None:
    rows = []
    for i in range(400):
        rows += [(f"c{i}", "booked", "2024-01-01T09:00")]
        rows += [(f"c{i}", "dna" if i % 5 == 0 else "attended", "2024-01-02T09:00")]
    result = _run(rows)
    # the missed appointment is the only moment that breaks; its gearing is 1 by
    # construction, and it is key: material, and clear of zero
    assert result.key_moments("user") == ["appointment"]
    assert result.key_moments("provider") == ["appointment"]
    # with one missed appointment in 4,000 it would still be the only one, but trivial
    rows = []
    for i in range(4000):
        rows += [(f"c{i}", "booked", "2024-01-01T09:00")]
        rows += [(f"c{i}", "dna" if i == 0 else "attended", "2024-01-02T09:00")]
    assert _run(rows).key_moments("user") == []


def test_value_column_prices_outcomes_reached_through_activities_only() -> None:
    with pytest.raises(ModelError, match="'value_column' prices an outcome reached"):
        parse_service(
            """
version: 1
name: x
moments: [{id: m, reached: [a]}]
outcomes: [{id: revenue, perspective: provider, column: revenue, value_column: amount}]
"""
        )
    ok = parse_service(
        """
version: 1
name: x
moments: [{id: m, reached: [a]}]
outcomes: [{id: lent, perspective: provider, reached: [a], value_column: amount}]
"""
    )
    assert ok.outcomes[0].money_per_unit == 1.0  # value defaults to 1
    assert "amount" in ok.case_columns


def test_yes_and_no_are_names_not_booleans() -> None:
    service = parse_service(
        """
version: 1
name: x
moments: [{id: m, reached: [yes, no], broken: [no]}]
"""
    )
    assert service.moments[0].reached == ["yes", "no"]
