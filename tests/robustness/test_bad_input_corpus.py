"""Every file of the bad-input corpus through ``keymoments analyse``.

Each case either stops with exit status 2 and one message naming the file and
what was expected, or is analysed with its bad rows set aside and counted and
the same figures as the clean rows give. Never a traceback, never a hang.
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from keymoments.cli import app
from keymoments.cli._common import console as cli_console

CORPUS = Path(__file__).parent / "corpus"
SERVICE = CORPUS / "service.yaml"
TIMEOUT_S = 60
runner = CliRunner()


@dataclass(frozen=True)
class Refused:
    """Exit status 2, one message naming ``names`` (default: the file) with ``words``."""

    file: str
    words: tuple[str, ...] = ()
    names: str | None = None


@dataclass(frozen=True)
class Analysed:
    """Exit 0 with ``set_aside`` counted; figures equal to the clean ``reference``.

    ``events``/``cases`` rewrite the clean corpus files into what the analysis
    must agree with (None: the clean files as they are); ``figures=False`` when
    the point is the warning alone.
    """

    file: str
    set_aside: dict[str, int] = field(default_factory=dict)
    warns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    events: Callable[[str], str] | None = None
    cases: Callable[[str], str] | None = None
    figures: bool = True


def _without_line(start: str) -> Callable[[str], str]:
    return lambda text: "".join(ln for ln in text.splitlines(True) if not ln.startswith(start))


def _blank_not_numbers(text: str) -> str:
    """The cases table with the corpus' three non-numbers left blank instead."""
    text = text.replace("c02,4,5,4.5,no", "c02,4,5,,no")
    return text.replace("c05,3,1,3.0,no", "c05,,1,3.0,")


def _blank_non_finite(text: str) -> str:
    """The cases table with the corpus' NaN and infinities left blank instead."""
    for before, after in (
        ("c02,4,5,", "c02,,5,"),
        ("c03,5,2,", "c03,5,,"),
        ("c04,2,4,6.0,", "c04,2,4,,"),
        ("c06,4,3,3.75,", "c06,4,3,,"),
    ):
        text = text.replace(before, after)
    return text


# rich markup planted in names (make_corpus.MARKUP): each must reach the terminal as text
MARKUP = ("[/unknown]", "[bold red]loud[/]", "[link=file:///etc/passwd]here[/link]")


CASES: list[Refused | Analysed] = [
    # -- events, analysed ------------------------------------------------------------
    Analysed("events_truncated.csv", {"malformed line": 1}),
    Analysed("events_semicolon.csv", notes=("delimiter: semicolon",)),
    Analysed("events_bom.csv", notes=("byte-order mark",)),
    Analysed("events_latin1.csv", notes=("Latin-1",)),
    Analysed("events_utf16.csv", notes=("UTF-16",)),
    Analysed(
        "events_missing_values.csv",
        {"no case id": 1, "no activity": 1, "no timestamp": 1, "unparseable timestamp": 3},
    ),
    Analysed("events_ragged_rows.csv", {"malformed line": 2}),
    Analysed(
        "events_unclosed_quote.csv",
        warns=("activity '\"attended'", "names 'attended'"),
        events=_without_line("c02,attended,"),
    ),
    Analysed("events_mixed_zones.csv"),
    Analysed(
        "events_mixed_formats.csv",
        notes=("mostly ISO 8601; 2 of the 2 other values", "'%d/%m/%Y %H:%M'"),
        events=lambda text: (
            text + "c40,booked,2024-03-20T08:00:00Z\nc40,attended,2024-03-20T09:00Z\n"
        ),
    ),
    Analysed("events_quoted_fields.csv"),
    Analysed("events_enormous_field.csv.gz"),
    Analysed("events_markup_names.csv"),
    # both pieces of the line the CR splits lack fields; Spark reads the CR alike
    Analysed(
        "events_bare_cr.csv.gz",
        {"malformed line": 2},
        notes=("1 bare carriage return (a CR without a LF) read as line ends",),
    ),
    Analysed("events_repeated_other_header.csv", notes=("'note' appears 2 times",)),
    Analysed("events_bad_lines.jsonl", {"malformed line": 2}),
    Analysed(
        "events_missing_attributes.xes", {"no activity": 1, "no timestamp": 1, "no case id": 1}
    ),
    # -- events, refused -------------------------------------------------------------
    Refused("events_empty.csv", ("the file is empty",)),
    Refused("events_header_only.csv", ("no rows after the header", "expected one event")),
    Refused("events_no_header.csv", ("no column 'case_id'", "looks like a row of data")),
    Refused("events_wrong_delimiter.csv", ("read as one column", "semicolons")),
    Refused("events_duplicate_headers.csv", ("'activity' 2 times", "rename")),
    Refused("events_binary.csv", ("binary data",)),
    Refused("events_garbage.parquet", ("cannot read it as Parquet",)),
    Refused("events_broken.xes", ("line 8", "not valid XML", "expected an XES")),
    Refused("events_cut_short.xes", ("not valid XML", "cut short")),
    Refused("events_cut_short.xes.gz", ("gzip data is damaged",)),
    Refused("events_not_a_log.xes", ("no <log> element",)),
    Refused("events_unknown_encoding.xes", ("declares an encoding", "UTF-9")),
    Refused("events_empty_log.xes", ("no events in the log",)),
    Refused("events_entity_bomb.xes", ("not valid XML",)),
    Refused("events_no_model_activity.csv", ("none of the 40 events", "BOOKED")),
    # -- cases -----------------------------------------------------------------------
    Analysed("cases_duplicate_ids.csv", {"no case id": 1, "duplicate case id": 1}),
    Analysed(
        "cases_not_numbers.csv",
        warns=("1 values are not finite numbers", "1 unreadable values of 'transport'"),
        cases=_blank_not_numbers,
    ),
    Refused("cases_empty.csv", ("the file is empty",)),
    Refused("cases_header_only.csv", ("no rows after the header",)),
    Refused("cases_missing_column.csv", ("no column 'satisfaction'", "outcome 'satisfaction'")),
    Refused("cases_binary.xlsx", ("XLSX",)),
    Analysed(
        "cases_non_finite.csv",
        warns=(
            "column 'rating_booking': 1 answers are not finite numbers",
            "column 'rating_visit': 1 answers are not finite numbers",
            "outcome 'satisfaction': 2 values are not finite numbers",
        ),
        cases=_blank_non_finite,
    ),
    Refused("cases_entities.xlsx", ("sheet1.xml declares XML entities", "save it again")),
    # -- service models --------------------------------------------------------------
    Analysed(
        "model_unknown_activity.yaml",
        warns=("activity 'attended' (10 events) marks nothing", "names 'atended'"),
        figures=False,
    ),
    Analysed("model_markup_names.yaml"),
    Refused("model_syntax_error.yaml", ("line 9", "YAML syntax")),
    Refused("model_tabs.yaml", ("line 13", "tab character")),
    Refused("model_duplicate_keys.yaml", ("line 14", "duplicate key 'stage'")),
    Refused("model_unknown_field.yaml", ("line 14", "did you mean 'perspectives'")),
    Refused("model_wrong_type.yaml", ("field analysis.bootstrap", "'lots'")),
    Refused("model_string_for_list.yaml", ("field moments[1].broken", "list")),
    Refused("model_unknown_moment.yaml", ("field barriers[0].moment", "did you mean 'visit'")),
    Refused("model_unknown_column.yaml", ("'satisfation'", "did you mean"), names="cases.csv"),
    Refused("model_unknown_rating.yaml", ("'rating_vist'", "moment 'visit'"), names="cases.csv"),
    Refused("model_empty.yaml", ("the file is empty",)),
    Refused("model_a_list.yaml", ("expected a mapping",)),
    Refused("model_latin1.yaml", ("not UTF-8",)),
    Refused("model_binary.yaml", ("not UTF-8",)),
    Refused("model_version_2.yaml", ("unknown version 2",)),
    Refused("model_no_moments.yaml", ("field moments", "at least one")),
    Refused(
        "model_missing_events_file.yaml",
        ("file not found", "data.events in model_missing_events_file.yaml"),
        names="nowhere.csv",
    ),
    Refused("model_deep_nesting.yaml", ("line 2", "nested more than 100 deep")),
    Refused("model_deep_sequence.yaml", ("nested too deeply",)),
    Refused("model_alias_bomb.yaml", ("aliases",)),
    Refused("model_huge_number.yaml", ("field volume", "finite")),
    Refused("model_python_tag.yaml", ("line 2", "python/object")),
]


@pytest.fixture(autouse=True)
def _deadline() -> Iterator[None]:
    """Fail, rather than hang, a case that takes over a minute."""

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"no answer within {TIMEOUT_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TIMEOUT_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _arguments(file: str, folder: Path) -> list[str]:
    path = str(CORPUS / file)
    if file.startswith("model_"):
        return ["analyse", path]
    flag = "--events" if file.startswith("events_") else "--cases"
    return ["analyse", str(SERVICE), flag, path]


def _run(args: list[str], out: Path) -> tuple[int, str]:
    res = runner.invoke(app, [*args, "--json", str(out), "--quiet"])
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception  # a crash: let pytest show it
    return res.exit_code, res.output


def _figures(doc: dict[str, Any]) -> dict[str, Any]:
    """What a silently wrong read would change: cases, reach, breaks, impacts, means."""
    return {
        "n_cases": doc["n_cases"],
        "moments": {
            m["id"]: (
                m["reach"],
                m["break_rate"],
                {o: v["recoverable"] for o, v in m["impact"].items()},
            )
            for m in doc["moments"]
        },
        "outcomes": {o["id"]: o["mean"] for o in doc["outcomes"]},
        "drivers": {
            o: [(d["moment"], d["importance"]) for d in rows] for o, rows in doc["drivers"].items()
        },
        "barriers": [(b["id"], b["prevalence"], b["holders"]) for b in doc["barriers"]],
    }


def _strict(text: str) -> dict[str, Any]:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in the JSON result")

    return json.loads(text, parse_constant=refuse)  # type: ignore[no-any-return]


def _reference(case: Analysed, folder: Path) -> dict[str, Any]:
    """The figures of the clean files, rewritten as the case says."""
    args = ["analyse", str(SERVICE)]
    for flag, name, rewrite in (
        ("--events", "events.csv", case.events),
        ("--cases", "cases.csv", case.cases),
    ):
        if rewrite is not None:
            path = folder / f"reference-{name}"
            path.write_text(rewrite((CORPUS / name).read_text()))
            args += [flag, str(path)]
    code, output = _run(args, folder / "reference.json")
    assert code == 0, output
    return _figures(_strict((folder / "reference.json").read_text()))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("clean")
    return _reference(Analysed("clean"), folder)


def test_corpus_is_all_listed() -> None:
    listed = {c.file for c in CASES}
    present = {p.name for p in CORPUS.iterdir()} - {"README.md", *_CLEAN}
    assert present == listed
    readme = (CORPUS / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in present | set(_CLEAN))


_CLEAN = ("service.yaml", "events.csv", "cases.csv")


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.file)
def test_corpus_case(case: Refused | Analysed, tmp_path: Path, clean: dict[str, Any]) -> None:
    code, output = _run(_arguments(case.file, tmp_path), tmp_path / "result.json")
    assert "Traceback" not in output
    flat = " ".join(output.split())
    if isinstance(case, Refused):
        assert code == 2, output
        assert flat.count("error:") == 1, output
        message = flat[flat.index("error:") :]
        assert (case.names or case.file) in message, output
        for word in case.words:
            assert word in message, output
        assert not (tmp_path / "result.json").exists()
        return
    assert code == 0, output
    doc = _strict((tmp_path / "result.json").read_text())
    read = "events.csv" if case.file.startswith("model_") else case.file
    (report,) = [f for f in doc["data"]["files"] if f["file"] == read]
    assert report["set_aside"] == case.set_aside
    assert report["rows"] == report["used"] + sum(case.set_aside.values())
    for note in case.notes:
        assert any(note in n for n in report["notes"]), report["notes"]
    aside = tmp_path / "result.set-aside.csv"
    if case.set_aside:
        with aside.open(encoding="utf-8", newline="") as fh:
            reasons = Counter(row["reason"] for row in csv.DictReader(fh))
        assert reasons == case.set_aside
    else:
        assert not aside.exists()
    for word in case.warns:
        assert any(word in w for w in doc["warnings"]), doc["warnings"]
    if case.figures:
        expected = clean if case.events is None and case.cases is None else None
        if expected is None:
            expected = _reference(case, tmp_path)
        assert _figures(doc) == expected


def test_latin1_text_is_decoded(tmp_path: Path) -> None:
    code, output = _run(_arguments("events_latin1.csv", tmp_path), tmp_path / "r.json")
    assert code == 0, output
    unmapped = _strict((tmp_path / "r.json").read_text())["data"]["unmapped_activities"]
    assert "rappel envoyé" in unmapped


@pytest.mark.parametrize("file", ["model_alias_bomb.yaml", "events_binary.csv"])
def test_the_real_command_exits_2_without_a_traceback(file: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "keymoments", *_arguments(file, tmp_path), "--quiet"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert file in proc.stderr


def test_names_with_markup_reach_the_terminal_as_text(tmp_path: Path) -> None:
    # an activity called "[/unknown]" used to end analyse with rich's MarkupError
    args = ["analyse", str(CORPUS / "model_markup_names.yaml")]
    args += [
        "--events",
        str(CORPUS / "events_markup_names.csv"),
        "--json",
        str(tmp_path / "r.json"),
    ]
    res = runner.invoke(app, args, terminal_width=400)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.output
    for text in (*MARKUP, "[bold]Corpus[/] clinic [/x]", "[/booking] Book the visit", "[red]Visit"):
        assert text in res.output, text


def test_an_error_message_keeps_its_brackets(tmp_path: Path) -> None:
    res = runner.invoke(app, ["analyse", str(tmp_path / "[bold]x[/].yaml")])
    assert res.exit_code == 2
    assert "[bold]x[/].yaml: file not found" in " ".join(res.output.split())


def test_names_with_markup_reach_the_monitor_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    # the monitor's tables, headline and warnings print model names as typed too
    args = ["monitor", str(CORPUS / "model_markup_names.yaml")]
    args += ["--events", str(CORPUS / "events_markup_names.csv")]
    monkeypatch.setattr(cli_console, "width", 300)  # wide enough that no name is cut
    res = runner.invoke(app, args)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.output
    for text in ("[bold]Corpus[/] clinic [/x]", "[/booking] Book the visit"):
        assert text in res.output, text


def test_themes_and_comments_with_markup_reach_the_terminal_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a theme's name and the comments quoted under it are text, brackets and all
    model = (CORPUS / "model_markup_names.yaml").read_text() + (
        "comments:\n  - {id: said, column: said, moment: visit}\n"
        "themes:\n  - {id: bus, name: '[/bus] Getting there', comments: said, patterns: [bus]}\n"
    )
    (tmp_path / "model.yaml").write_text(model)
    lines = (CORPUS / "cases.csv").read_text().splitlines()
    said = ["the bus [/never] came", "[red]no bus", "fine", "all good [b]"]
    rows = [lines[0] + ",said"]
    rows += [f"{line},{said[i % len(said)]}" for i, line in enumerate(lines[1:])]
    (tmp_path / "cases.csv").write_text("\n".join(rows) + "\n")
    args = ["themes", str(tmp_path / "model.yaml"), "--cases", str(tmp_path / "cases.csv")]
    monkeypatch.setattr(cli_console, "width", 300)  # wide enough that no name is cut
    res = runner.invoke(app, args)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        raise res.exception
    assert res.exit_code == 0, res.output
    for text in ("[/bus] Getting there", "the bus [/never] came", "[red]no bus"):
        assert text in res.output, text
