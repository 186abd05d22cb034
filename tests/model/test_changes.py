"""``changes:`` in the model file: what loads, and the errors that name the line and field."""

from __future__ import annotations

import datetime
import textwrap

import pytest

from keymoments import ModelError
from keymoments.model import parse_service

BASE = textwrap.dedent(
    """\
    version: 1
    name: Clinic
    moments:
      - {id: appointment, reached: [attended, dna], broken: [dna]}
      - {id: letter, reached: [letter_sent]}
    interventions:
      - {id: sms, moment: appointment, effect: -0.25}
    """
)


def test_changes_load_with_their_dates() -> None:
    svc = parse_service(
        BASE
        + "changes:\n"
        + "  - {id: sms_live, date: 2024-03-01, intervention: sms}\n"
        + "  - {id: new_rota, name: New rota, date: 2024-05-13, moments: [appointment]}\n"
    )
    first, second = svc.changes
    assert first.date == datetime.date(2024, 3, 1) and first.moments == []
    assert first.intervention == "sms"
    assert second.label == "New rota" and second.moments == ["appointment"]
    assert parse_service(BASE).changes == []


@pytest.mark.parametrize(
    ("change", "message", "line"),
    [
        ("{id: c, date: 2024-03-01}", "needs the moments it changed", 9),
        ("{id: c, date: 2024-03-01, moments: [apointment]}", "did you mean 'appointment'", 9),
        ("{id: c, date: 2024-03-01, moments: [letter]}", "has no 'broken' activities", 9),
        ("{id: c, date: 2024-03-01, intervention: smss}", "did you mean 'sms'", 9),
        ("{id: c, date: 2024-02-30, intervention: sms}", "a date that does not exist", 9),
        ("{id: c, date: soon, intervention: sms}", "valid date", 9),
        ("{id: c, date: 2024-03-01, intervention: sms, when: x}", "unknown field 'when'", 9),
        ("{id: 'a b', date: 2024-03-01, intervention: sms}", "no spaces", 9),
    ],
)
def test_change_mistakes_name_the_line(change: str, message: str, line: int) -> None:
    with pytest.raises(ModelError, match=message) as caught:
        parse_service(BASE + "changes:\n  - " + change + "\n", file="service.yaml")
    assert caught.value.line == line
    assert str(caught.value).startswith("service.yaml, line")


def test_duplicate_change_ids_are_refused() -> None:
    text = (
        BASE
        + "changes:\n"
        + "  - {id: c, date: 2024-03-01, intervention: sms}\n"
        + "  - {id: c, date: 2024-04-01, intervention: sms}\n"
    )
    with pytest.raises(ModelError, match=r"duplicate id 'c' \(also changes\[0\]\)"):
        parse_service(text)


def test_a_date_that_does_not_exist_anywhere_is_a_model_error() -> None:
    # YAML reads 2024-13-01 as a date and fails on it, whatever the field
    with pytest.raises(ModelError, match="write dates as YYYY-MM-DD") as caught:
        parse_service(BASE.replace("name: Clinic", "name: 2024-13-01"))
    assert caught.value.line == 2
