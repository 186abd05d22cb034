"""The service model file: what loads, and the errors that name file, line and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keymoments import ModelError, load_service
from keymoments.model import Service, parse_service

VALID = textwrap.dedent(
    """\
    version: 1
    name: Physical health check (SMI)
    data: {events: events.csv, cases: cases.csv}
    columns: {case_id: case_id, activity: activity, timestamp: timestamp}
    volume: 12000
    budget: 25000
    moments:
      - id: booking
        name: Book the check
        stage: Book
        reached: [booking_made, booking_failed]
        broken: [booking_failed]
      - id: appointment
        name: Attend the check appointment
        stage: Check
        perspectives: [user, provider]
        reached: [appointment_attended, appointment_dna]
        broken: [appointment_dna]
        rating: rating_appointment
    outcomes:
      - id: check_completed
        perspective: provider
        reached: [check_completed]
        value: 150
      - id: satisfaction
        perspective: user
        column: overall_satisfaction
    segments: [severity]
    barriers:
      - {id: transport, moment: appointment, column: worry_transport}
    interventions:
      - id: sms_reminder
        moment: appointment
        effect: -0.25
        effect_range: [-0.35, -0.10]
        cost: 2000
        cost_per_case: 0.04
    """
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "service.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_design_example_loads(tmp_path: Path) -> None:
    svc = load_service(write(tmp_path, VALID))
    assert svc.name == "Physical health check (SMI)"
    assert [m.id for m in svc.moments] == ["booking", "appointment"]
    assert svc.moments[0].perspectives == ["user", "provider"]  # the default
    assert svc.outcome("check_completed").kind == "binary"
    assert svc.outcome("satisfaction").kind == "numeric"
    assert svc.interventions[0].effect_range == (-0.35, -0.10)
    assert svc.resolve(svc.data.events) == tmp_path.resolve() / "events.csv"
    assert svc.case_columns == [
        "severity",
        "rating_appointment",
        "overall_satisfaction",
        "worry_transport",
    ]


def test_minimal_model_loads() -> None:
    svc = parse_service("version: 1\nname: x\nmoments: [{id: a, reached: [a1]}]\n")
    assert svc.outcomes == [] and svc.segments == [] and svc.analysis.bootstrap == 200


def _error(text: str) -> ModelError:
    with pytest.raises(ModelError) as info:
        parse_service(text, file="svc.yaml")
    return info.value


def _replace(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "line", "field", "words"),
    [
        (
            _replace("  - id: appointment", "  - id: booking"),
            13,
            "moments[1].id",
            ["duplicate id 'booking'"],
        ),
        (
            _replace("    column: overall_satisfaction\n", ""),
            25,
            "outcomes[1]",
            ["exactly one of 'reached'", "'column'"],
        ),
        (
            _replace("perspectives: [user, provider]", "perspectives: [user, patient]"),
            16,
            "moments[1].perspectives[1]",
            ["unknown perspective 'patient'"],
        ),
        (
            _replace("perspective: provider", "perspective: dealer"),
            22,
            "outcomes[0].perspective",
            ["unknown perspective 'dealer'"],
        ),
        (
            _replace("moment: appointment, column", "moment: appointmnet, column"),
            30,
            "barriers[0].moment",
            ["unknown moment 'appointmnet'", "did you mean 'appointment'"],
        ),
        (
            _replace("    moment: appointment\n    effect", "    moment: reminder\n    effect"),
            33,
            "interventions[0].moment",
            ["unknown moment 'reminder'"],
        ),
        (
            _replace(
                "reached: [appointment_attended, appointment_dna]",
                "reached: [appointment_attended, booking_made]",
            ),
            17,
            "moments[1].reached",
            ["'booking_made' is mapped to two moments"],
        ),
        (_replace("version: 1", "version: 2"), 1, "version", ["unknown version 2"]),
        (
            _replace("    stage: Book\n", "    stag: Book\n"),
            10,
            "moments[0].stag",
            ["unknown field 'stag'", "did you mean 'stage'"],
        ),
        (_replace("volume: 12000", "volume: lots"), 5, "volume", ["lots"]),
        (
            _replace("  - id: booking\n", "  - rating: r1\n"),
            8,
            "moments[0].id",
            ["missing required field 'id'"],
        ),
    ],
)
def test_errors_name_line_and_field(text: str, line: int, field: str, words: list[str]) -> None:
    err = _error(text)
    assert err.file == "svc.yaml"
    assert err.line == line, str(err)
    assert err.field == field, str(err)
    for w in words:
        assert w in str(err)
    assert str(err).startswith(f"svc.yaml, line {line}, field {field}: ")


def test_tab_is_reported_with_its_line() -> None:
    err = _error(VALID.replace("  - id: appointment", "\t- id: appointment"))
    assert err.line == 13 and "tab" in str(err)


def test_duplicate_key_is_an_error() -> None:
    err = _error(VALID.replace("budget: 25000", "budget: 25000\nbudget: 30000"))
    assert "duplicate key 'budget'" in str(err) and err.line == 7


def test_yaml_syntax_error_has_a_line() -> None:
    err = _error("version: 1\nname: [unclosed\nmoments: []\n")
    assert err.line is not None and "YAML syntax" in str(err)


@pytest.mark.parametrize("text", ["", "just a string", "- a\n- b\n"])
def test_not_a_mapping(text: str) -> None:
    assert "svc.yaml" in str(_error(text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="file not found"):
        load_service(tmp_path / "nope.yaml")


def test_intervention_effect_outside_range() -> None:
    err = _error(VALID.replace("effect: -0.25", "effect: -0.5"))
    assert "outside its effect_range" in str(err) and err.field == "interventions[0]"


def test_intervention_on_unbreakable_moment() -> None:
    text = VALID.replace("    broken: [appointment_dna]\n", "")
    err = _error(text)
    assert "no 'broken' activities" in str(err)


def test_model_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_service("version: 3\nname: x\nmoments: [{id: a}]\n")


ids = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(st.lists(ids, min_size=1, max_size=6, unique=True), st.data())
def test_any_generated_model_round_trips(moment_ids: list[str], data: st.DataObject) -> None:
    moments = []
    for mid in moment_ids:
        breakable = data.draw(st.booleans())
        moments.append(
            {
                "id": mid,
                "reached": [f"{mid}_ok", *([f"{mid}_fail"] if breakable else [])],
                "broken": [f"{mid}_fail"] if breakable else [],
                "perspectives": data.draw(
                    st.sampled_from([["user"], ["provider"], ["user", "provider"]])
                ),
            }
        )
    raw = {
        "version": 1,
        "name": "generated",
        "moments": moments,
        "outcomes": [{"id": "won", "perspective": "provider", "reached": ["won"]}],
    }
    svc = Service.model_validate(raw)
    again = Service.model_validate(svc.model_dump(exclude_none=True))
    assert again == svc
    assert [m.id for m in again.moments] == moment_ids
