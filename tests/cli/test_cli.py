"""The command line end to end: demo, analyse, and bad input (exit 2, one clear message)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import keymoments
from keymoments import examples
from keymoments.cli import app

runner = CliRunner()

CONTRACT_MOMENT_KEYS = {"id", "name", "stage", "reach", "break_rate", "impact", "key"}


@pytest.fixture(scope="module")
def health_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hc")
    return examples.write_example("health-check", folder, n_cases=3000, seed=1)


def test_demo_shows_the_key_moment_and_writes_files(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "--out", str(out), "--cases", "3000", "--bootstrap", "30"])
    assert res.exit_code == 0, res.output
    assert "Key for the user: Attend the check appointment" in res.output
    assert "Key for the provider: Attend the check appointment" in res.output
    assert "sweet_spot" in res.output
    assert "After a break" in res.output
    for name in ("service.yaml", "events.csv", "cases.csv", "result.json", "summary.csv"):
        assert (out / name).exists(), name
        assert str(out / name) in res.output.replace("\n", "")
    doc = json.loads((out / "result.json").read_text())
    appointment = next(m for m in doc["moments"] if m["id"] == "appointment")
    assert appointment["key"] == {"user": True, "provider": True}


def test_demo_car_purchase(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        ["demo", "car-purchase", "--out", str(tmp_path), "--cases", "4000", "--bootstrap", "30"],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "result.json").read_text())
    quadrants = {a["moment"]: a["quadrant"] for a in doc["alignment"]}
    assert quadrants["finance"] == "sweet_spot"
    assert quadrants["add_on_pitch"] == "conflict"


def test_unknown_demo_is_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(app, ["demo", "mortgage", "--out", str(tmp_path)])
    assert res.exit_code == 2
    assert "unknown example 'mortgage'" in res.output
    assert "Traceback" not in res.output


def test_analyse_writes_the_json_contract(health_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    csv = tmp_path / "summary.csv"
    res = runner.invoke(
        app,
        [
            "analyse",
            str(health_files["service"]),
            "--events",
            str(health_files["events"]),
            "--cases",
            str(health_files["cases"]),
            "--json",
            str(out),
            "--csv",
            str(csv),
            "--bootstrap",
            "20",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert {
        "service",
        "n_cases",
        "outcomes",
        "moments",
        "alignment",
        "drivers",
        "barriers",
        "portfolio",
    } <= set(doc)
    assert doc["n_cases"] == 3000
    assert {"budget", "chosen", "cost", "gain", "value"} <= set(doc["portfolio"])
    assert [b["id"] for b in doc["barriers"]] == [
        "transport",
        "unwell",
        "seen",
        "doctor",
        "breakdown",
    ]
    for b in doc["barriers"]:
        assert {"id", "moment", "prevalence", "odds_ratio", "attributable_fraction", "ci"} <= set(b)
    # the health check rates its moments and the experience outcome is numeric
    for rows in doc["drivers"].values():
        for row in rows:
            assert {"moment", "importance", "ci"} <= set(row) and len(row["ci"]) == 2
    for o in doc["outcomes"]:
        assert {"id", "perspective", "mean"} <= set(o)
    for m in doc["moments"]:
        assert set(m) >= CONTRACT_MOMENT_KEYS
        assert set(m["key"]) == {"user", "provider"}
        for impact in m["impact"].values():
            lo, hi = impact["ci"]
            assert lo <= impact["recoverable"] <= hi
            assert isinstance(impact["gearing"], float)
    assert {a["quadrant"] for a in doc["alignment"]} <= {
        "sweet_spot",
        "user_only",
        "provider_only",
        "conflict",
        "minor",
    }
    summary = pd.read_csv(csv)
    assert list(summary["moment"]) == [m["id"] for m in doc["moments"]]


def test_analyse_uses_the_files_named_in_the_model(health_files: dict[str, Path]) -> None:
    res = runner.invoke(app, ["analyse", str(health_files["service"]), "--bootstrap", "10"])
    assert res.exit_code == 0, res.output
    assert "3,000 cases" in res.output


def _exit_2(args: list[str], *words: str) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert "Traceback" not in res.output
    for w in words:
        assert w in res.output.replace("\n", " "), res.output
    return res.output


def test_missing_events_file(health_files: dict[str, Path], tmp_path: Path) -> None:
    _exit_2(
        ["analyse", str(health_files["service"]), "--events", str(tmp_path / "no.csv")], "no.csv"
    )


def test_bad_model_names_line(tmp_path: Path) -> None:
    bad = tmp_path / "svc.yaml"
    bad.write_text("version: 1\nname: x\nmoments:\n  - id: a\n    perspectives: [staff]\n")
    _exit_2(["analyse", str(bad)], "svc.yaml", "line 5", "unknown perspective 'staff'")


def test_missing_case_column(health_files: dict[str, Path], tmp_path: Path) -> None:
    cases = pd.read_csv(health_files["cases"]).drop(columns=["experience_rating"])
    path = tmp_path / "cases.csv"
    cases.to_csv(path, index=False)
    _exit_2(
        ["analyse", str(health_files["service"]), "--cases", str(path)],
        "no column 'experience_rating'",
        "outcome 'experience'",
    )


def test_no_activity_in_the_model(health_files: dict[str, Path], tmp_path: Path) -> None:
    events = tmp_path / "events.csv"
    events.write_text("case_id,activity,timestamp\n1,foo,2024-01-01\n2,bar,2024-01-02\n")
    _exit_2(
        ["analyse", str(health_files["service"]), "--events", str(events)],
        "none of the 2 events has an activity named in the model",
    )


def test_rows_set_aside_are_written_with_reasons(
    health_files: dict[str, Path], tmp_path: Path
) -> None:
    events = pd.read_csv(health_files["events"])
    events.loc[[3, 7], "timestamp"] = "not a time"
    events.loc[11, "case_id"] = None
    path = tmp_path / "events.csv"
    events.to_csv(path, index=False)
    out = tmp_path / "r.json"
    res = runner.invoke(
        app,
        [
            "analyse",
            str(health_files["service"]),
            "--events",
            str(path),
            "--json",
            str(out),
            "--bootstrap",
            "5",
        ],
    )
    assert res.exit_code == 0, res.output
    aside = pd.read_csv(tmp_path / "r.set-aside.csv")
    assert len(aside) == 3
    assert set(aside["reason"]) == {"unparseable timestamp", "no case id"}
    doc = json.loads(out.read_text())
    (events_report,) = [f for f in doc["data"]["files"] if f["kind"] == "events"]
    assert events_report["rows"] == len(events)
    assert events_report["used"] == len(events) - 3


def test_real_entry_point_exit_status(tmp_path: Path) -> None:
    bad = tmp_path / "svc.yaml"
    bad.write_text("version: 2\nname: x\nmoments: [{id: a}]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "keymoments", "analyse", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "unknown version 2" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_lists_the_commands() -> None:
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    assert "demo" in res.output and "analyse" in res.output


def test_version() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"keymoments {keymoments.__version__}"


def test_help_texts_keep_their_brackets() -> None:
    # help was rich markup: "keymoments[spark]" lost its "[spark]" as an unknown tag;
    # it is click's plain help now, which shows every help text as written
    from typer.main import get_command

    from keymoments.cli import app as typer_app

    group = get_command(typer_app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        # compared without spaces: click wraps lines at spaces and hyphens
        shown = "".join(runner.invoke(app, [name, "--help"]).output.split())
        for param in command.params:
            text = "".join((getattr(param, "help", None) or "").split())
            assert text in shown, (name, text)  # every bracket shows
    res = runner.invoke(app, ["analyse", "--help"], env={"COLUMNS": "200"})
    assert "pip install 'keymoments[spark]'" in " ".join(res.output.split())


def test_csv_summary_neutralises_formulas(health_files: dict[str, Path], tmp_path: Path) -> None:
    # the web's CSV exports did this; --csv wrote moment names as they were
    text = health_files["service"].read_text(encoding="utf-8")
    text = text.replace("name: Attend the check appointment", "name: '=HYPERLINK(\"x\")'")
    text = text.replace("stage: Check", "stage: '+cmd'")
    model = tmp_path / "svc.yaml"
    model.write_text(text, encoding="utf-8")
    for key in ("events", "cases"):
        (tmp_path / health_files[key].name).write_bytes(health_files[key].read_bytes())
    out = tmp_path / "summary.csv"
    res = runner.invoke(app, ["analyse", str(model), "--bootstrap", "0", "--csv", str(out), "-q"])
    assert res.exit_code == 0, res.output
    raw = out.read_text(encoding="utf-8")
    assert "'=HYPERLINK" in raw and "'+cmd" in raw
    cells = [c for line in raw.splitlines() for c in line.split(",")]
    assert not any(c.lstrip('"').startswith(("=", "+", "@")) for c in cells)
    frame = pd.read_csv(out)
    assert pd.api.types.is_numeric_dtype(frame["reach"])  # numbers stay numbers
    assert not list(tmp_path.glob(".*.part"))  # written whole, nothing left beside it
