"""``keymoments monitor`` on the command line: files written, a terminal summary, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keymoments.cli import app
from keymoments.monitoring import simulate_rollout
from keymoments.monitoring.planted import _MODEL

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("rollout")
    ex = simulate_rollout(weeks=40, cases_per_week=300, seed=8)
    ex.events.to_csv(folder / "events.csv", index=False)
    ex.cases.to_csv(folder / "cases.csv", index=False)
    model = _MODEL.format(effect=-0.4, effect_lo=-0.6, effect_hi=-0.2, date=ex.truth["change_date"])
    model = model.replace(
        "volume: 50000", "volume: 50000\ndata: {events: events.csv, cases: cases.csv}"
    )
    (folder / "service.yaml").write_text(model, encoding="utf-8")
    return {"service": folder / "service.yaml", "folder": folder}


def test_monitor_writes_json_and_html(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        [
            "monitor", str(files["service"]), "--json", str(out / "monitor.json"),
            "--html", str(out / "monitor.html"), "--bootstrap", "10",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Text reminders go live" in res.output and "delivered" in res.output
    assert "Key moments per quarter" in res.output
    doc = json.loads((out / "monitor.json").read_text(encoding="utf-8"))
    assert doc["monitor"]["every"] == "week"
    assert doc["monitor"]["changes"][0]["verdict"] == "delivered"
    page = (out / "monitor.html").read_text(encoding="utf-8")
    assert 'id="monitor-changes"' in page and "vegaEmbed" in page


def test_monitor_by_month_with_a_baseline(files: dict[str, Path], tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "monitor", str(files["service"]), "--every", "month", "--baseline", "3",
            "--window", "year", "--bootstrap", "0", "--json", str(tmp_path / "m.json"), "-q",
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))
    appointment = doc["monitor"]["moments"][2]
    assert appointment["moment"] == "appointment"
    assert appointment["baseline"] == ["2024-01-01", "2024-03-01"]
    assert [w["window"] for w in doc["monitor"]["key_moments"]] == ["2024"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--every", "day"], "use week or month"),
        (["--baseline", "soon"], "--baseline 'soon'"),
        (["--window", "decade"], "window 'decade'"),
        (["--events", "missing.csv"], "missing.csv"),
    ],
)
def test_bad_input_is_exit_2_with_one_message(
    files: dict[str, Path], args: list[str], message: str
) -> None:
    res = runner.invoke(app, ["monitor", str(files["service"]), "-q", *args])
    assert res.exit_code == 2, res.output
    assert message in res.output
    assert "Traceback" not in res.output
