"""keymoments init: columns guessed, activities counted and placed, a draft that loads."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import keymoments
from keymoments.cli import app
from keymoments.data.activities import profile_activities
from keymoments.data.columns import guess_columns
from keymoments.data.engine import connect
from keymoments.draft import _scalar, draft_model
from keymoments.errors import DataError, DataWarning, ModelError, StatisticsWarning
from keymoments.model import load_service, parse_service

DATA = Path(__file__).resolve().parent / "data"
SEPSIS = DATA / "real" / "sepsis_cases_eventlog.csv.gz"
runner = CliRunner()


@pytest.fixture(scope="module")
def sepsis() -> keymoments.ModelDraft:
    return draft_model(SEPSIS)


def _fill_outcome(text: str) -> str:
    """What a user does first: replace ``outcomes: []`` with the first suggestion."""
    first = next(ln for ln in text.splitlines() if ln.startswith("#   - {id:"))
    filled = first.removeprefix("#").split("   #")[0]
    return re.sub(r"^outcomes: \[\].*$", "outcomes:\n" + filled, text, count=1, flags=re.M)


def test_sepsis_columns_and_counts_match_a_pandas_recount(sepsis: keymoments.ModelDraft) -> None:
    assert (sepsis.columns.case_id, sepsis.columns.activity, sepsis.columns.timestamp) == (
        "Case ID",
        "Activity",
        "Complete Timestamp",
    )
    raw = pd.read_csv(SEPSIS, sep=";", keep_default_na=False, dtype=str)
    assert (sepsis.n_cases, sepsis.n_events) == (raw["Case ID"].nunique(), len(raw))
    assert (sepsis.n_cases, sepsis.n_events) == (1050, 15214)  # as the data's README says
    got = sepsis.activities.set_index("activity")
    want_cases = raw.groupby("Activity")["Case ID"].nunique()
    want_events = raw.groupby("Activity").size()
    assert got["cases"].to_dict() == want_cases.to_dict()
    assert got["events"].to_dict() == want_events.to_dict()
    assert got.loc["Return ER", "cases"] == 294  # the README's figure
    # the typical order starts at registration and ends with releases and returns
    assert sepsis.activity_names[:2] == ["ER Registration", "ER Triage"]
    assert set(sepsis.activity_names[-6:]) == {"Return ER"} | {f"Release {x}" for x in "ABCDE"}


def test_the_draft_places_every_activity_once_and_loads(
    sepsis: keymoments.ModelDraft, tmp_path: Path
) -> None:
    path = sepsis.write(tmp_path / "service.yaml")
    service = load_service(path)
    placed = [a for m in service.moments for a in m.activities]
    assert sorted(placed) == sorted(sepsis.activity_names)
    assert [m.activities[0] for m in service.moments] == sepsis.activity_names
    assert service.outcomes == []
    assert service.columns.case_id == "Case ID"
    assert service.data.events == str(SEPSIS.resolve())  # not beside the model: absolute
    text = path.read_text()
    assert "# 294 cases (28.0%), 294 events" in text
    assert "reached: [Return ER]}   # ends 291 cases" in text


def test_analyse_asks_for_an_outcome_then_runs_once_one_is_filled(
    sepsis: keymoments.ModelDraft, tmp_path: Path
) -> None:
    path = sepsis.write(tmp_path / "service.yaml")
    with pytest.raises(ModelError, match="add at least one under 'outcomes:'"):
        keymoments.analyse(path, bootstrap=0)
    path.write_text(_fill_outcome(path.read_text()))
    service = load_service(path)
    assert [(o.id, o.reached) for o in service.outcomes] == [("release_a", ["Release A"])]
    # with every activity a moment, lab tests taken at one instant are moves at one instant
    # and with no 'broken:' yet, nothing can be key
    with (
        pytest.warns(DataWarning, match="at the same instant"),
        pytest.warns(StatisticsWarning, match="no moment lists 'broken' activities"),
    ):
        result = keymoments.analyse(path, bootstrap=5)
    assert result.n_cases == 1050
    assert result.outcome_means[0] == pytest.approx(671 / 1050)


def test_data_beside_the_model_is_written_relative(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("case,event,when\n1,a,2024-01-01\n1,b,2024-01-02\n2,a,2024-01-01\n")
    draft = draft_model(log)
    text = draft.to_yaml(tmp_path / "service.yaml")
    assert "  events: log.csv\n" in text
    assert draft.to_dict()["activities"][0] == {
        "activity": "a",
        "cases": 2,
        "share": 1.0,
        "events": 2,
        "step": 1.0,
        "ends": 1,
    }


def test_columns_are_guessed_from_names_then_values() -> None:
    by_name = pd.DataFrame(
        {
            "ticket_no": ["t1", "t1", "t2"],
            "event_type": ["open", "close", "open"],
            "created_at": ["2024-01-01 10:00", "2024-01-02 09:00", "2024-01-03 08:00"],
        }
    )
    cols, notes = guess_columns(by_name, file="x.csv")
    assert cols == {"case_id": "ticket_no", "activity": "event_type", "timestamp": "created_at"}
    assert len(notes) == 3
    by_values = pd.DataFrame(
        {
            "a": ["k1", "k1", "k1", "k2", "k2"],
            "b": ["12/03/2024", "13/03/2024", "14/03/2024", "12/03/2024", "15/03/2024"],
            "c": ["sent", "read", "paid", "sent", "read"],
            "d": [10.5, 3.0, 2.5, 8.0, 1.0],
        }
    )
    cols, notes = guess_columns(by_values, file="x.csv")
    assert cols == {"case_id": "a", "activity": "c", "timestamp": "b"}


def test_a_column_that_cannot_be_placed_names_the_flag() -> None:
    numbers = pd.DataFrame({"x": [1, 2, 3], "y": [4.0, 5.0, 6.0]})
    with pytest.raises(DataError, match=r"x\.csv: cannot tell which column holds .*--timestamp"):
        guess_columns(numbers, file="x.csv")


def test_given_columns_override_the_guess(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("who,what,status,when\n1,a,x,2024-01-01\n1,b,y,2024-01-02\n2,a,x,2024-01-01\n")
    assert draft_model(log, activity="status").columns.activity == "status"
    with pytest.raises(DataError, match="no column 'stat' for --activity"):
        draft_model(log, activity="stat")


def test_cases_columns_are_offered_as_outcomes_and_segments(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("case_id,activity,timestamp\n1,a,2024-01-01\n1,b,2024-01-02\n2,a,2024-01-01\n")
    survey = tmp_path / "survey.csv"
    survey.write_text("case_id,rating,region\n1,7,north\n2,9,south\n")
    draft = draft_model(log, cases=survey)
    assert draft.numeric_columns == {"rating": 2}
    assert draft.segment_columns == {"region": 2}
    text = draft.to_yaml(tmp_path / "service.yaml")
    assert "#   - {id: rating, perspective: user, column: rating}" in text
    assert "  cases: survey.csv\n" in text
    filled = text.replace(
        "outcomes: []", "outcomes:\n  - {id: rating, perspective: user, column: rating}"
    )
    assert parse_service(filled).outcomes[0].column == "rating"


@st.composite
def _logs(draw: st.DrawFn) -> list[tuple[str, str, int]]:
    n_cases = draw(st.integers(1, 6))
    rows = []
    for c in range(n_cases):
        for _ in range(draw(st.integers(1, 5))):
            rows.append((f"c{c}", draw(st.sampled_from("abcd")), draw(st.integers(0, 4))))
    return draw(st.permutations(rows))


def _by_hand(rows: list[tuple[str, str, int]]) -> dict[str, tuple[int, int, float, int]]:
    """cases, events, mean first step, ends: the same counts in plain Python."""
    by_case: dict[str, list[tuple[int, int, str]]] = {}
    for i, (case, act, day) in enumerate(rows):
        by_case.setdefault(case, []).append((day, i, act))
    firsts: dict[str, list[int]] = {}
    events: dict[str, int] = {}
    ends: dict[str, int] = {}
    for seq in by_case.values():
        ordered = [a for _, _, a in sorted(seq)]
        for pos, act in enumerate(ordered, start=1):
            events[act] = events.get(act, 0) + 1
            if act not in ordered[: pos - 1]:
                firsts.setdefault(act, []).append(pos)
        ends[ordered[-1]] = ends.get(ordered[-1], 0) + 1
    return {a: (len(f), events[a], sum(f) / len(f), ends.get(a, 0)) for a, f in firsts.items()}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_logs())
def test_profile_matches_a_plain_python_count(rows: list[tuple[str, str, int]]) -> None:
    eng = connect()
    table = eng.from_arrow(
        pd.DataFrame(
            {
                "case_id": [r[0] for r in rows],
                "activity": [r[1] for r in rows],
                "timestamp": pd.to_datetime([f"2024-01-0{r[2] + 1}" for r in rows]),
                "row": range(1, len(rows) + 1),
            }
        )
    )
    got = profile_activities(table, engine=eng).set_index("activity")
    want = _by_hand(rows)
    assert set(got.index) == set(want)
    for act, (cases, events, step, ends) in want.items():
        assert (got.loc[act, "cases"], got.loc[act, "events"], got.loc[act, "ends"]) == (
            cases,
            events,
            ends,
        )
        assert got.loc[act, "step"] == pytest.approx(step)
    assert list(got["step"]) == sorted(got["step"])


@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s and s.strip()))
def test_any_activity_name_survives_the_yaml(name: str) -> None:
    assert yaml.safe_load(f"x: [{_scalar(name)}]") == {"x": [name]}
    assert yaml.safe_load(f"x: {_scalar(name)}") == {"x": name}


def test_awkward_activity_names_are_written_exactly(tmp_path: Path) -> None:
    names = ["yes", "null", "12", "Call: back", "#1 done", "[x] ticked", 'say "hi"', "a, b"]
    rows = [f'c1,"{n.replace(chr(34), chr(34) * 2)}",2024-01-0{i + 1}' for i, n in enumerate(names)]
    log = tmp_path / "log.csv"
    log.write_text("case_id,activity,timestamp\n" + "\n".join(rows) + "\n")
    draft = draft_model(log)
    service = parse_service(draft.to_yaml())
    assert [m.reached[0] for m in service.moments] == names
    assert len({m.id for m in service.moments}) == len(names)


def test_cli_init_writes_the_draft_and_keeps_an_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "service.yaml"
    res = runner.invoke(app, ["init", str(SEPSIS), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "1,050 cases, 15,214 events, 16 activities" in res.output
    assert "Return ER" in res.output
    assert "wrote draft service model" in res.output
    assert load_service(out).moments[0].reached == ["ER Registration"]
    again = runner.invoke(app, ["init", str(SEPSIS), "--out", str(out)])
    assert again.exit_code == 2
    assert "exists; choose another --out, or add --force" in again.output
    quiet = runner.invoke(app, ["init", str(SEPSIS), "--out", str(out), "--force", "-q"])
    assert quiet.exit_code == 0
    assert quiet.output.strip().startswith("wrote draft service model")


def test_cli_init_on_a_missing_file_is_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["init", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "s")])
    assert res.exit_code == 2
    assert "nope.csv: file not found" in res.output
