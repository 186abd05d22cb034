"""``keymoments plan``: the table, the JSON section, and bad input as exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keymoments import examples
from keymoments.cli import app

runner = CliRunner()
pytestmark = pytest.mark.filterwarnings("ignore:plan .* widens the gap")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return examples.write_example("health-check", tmp_path_factory.mktemp("hc"), n_cases=3000)


def test_plan_prints_the_table_and_writes_the_contract(files, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    res = runner.invoke(
        app,
        [
            "plan",
            str(files["service"]),
            "--budget",
            "6000",
            "--bootstrap",
            "10",
            "--draws",
            "100",
            "--weight",
            "user=1,experience=20",
            "--exclude",
            "home_visit",
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    for text in ("Best plan", "ROI", "payback", "P(beats doing nothing)", "Frontier", "Text"):
        assert text in res.output, text
    doc = json.loads(out.read_text())["portfolio"]
    assert {"budget", "chosen", "cost", "gain", "value"} <= set(doc)
    assert doc["budget"] == 6000 and doc["cost"] <= 6000
    assert "home_visit" not in doc["chosen"]
    assert doc["weights"] == {"user": 1.0, "experience": 20.0}
    assert doc["uncertainty"]["draws"] == 100
    assert doc["frontier"]


def test_plan_plans_once(files, monkeypatch) -> None:
    import importlib

    import keymoments.portfolio as package

    module = importlib.import_module("keymoments.portfolio.optimise")

    def planned_inside_analyse(*args, **kwargs):
        raise AssertionError("analyse planned although the command plans itself")

    calls = []
    original = package.optimise

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "plan_in_analysis", planned_inside_analyse)
    monkeypatch.setattr(package, "optimise", counted)
    res = runner.invoke(
        app,
        ["plan", str(files["service"]), "--bootstrap", "0", "--draws", "0", "--no-frontier"],
    )
    assert res.exit_code == 0, res.output
    assert len(calls) == 1


def test_time_limit_does_not_cut_an_exhaustive_search(files, tmp_path: Path) -> None:
    # a handful of interventions: every plan is evaluated, whatever the time limit (the
    # limit is the program's, past the threshold; tests/portfolio/test_reduced_program.py)
    out = tmp_path / "plan.json"
    args = ["plan", str(files["service"]), "--bootstrap", "0", "--draws", "0", "--no-frontier"]
    res = runner.invoke(app, [*args, "--time-limit", "0.000001", "--json", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())["portfolio"]
    assert doc["proven_optimal"] is True
    assert doc["search"]["certificate"] == "exhaustive"
    assert doc["search"]["plans_evaluated"] >= 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--objective", "profit"], "use 'value' or 'net'"),
        (["--weight", "user"], "expected NAME=NUMBER"),
        (["--weight", "patient=2"], "unknown weight 'patient'"),
        (["--include", "sms"], "unknown intervention 'sms'"),
        # inf used to end in a TypeError deep in the optimiser
        (["--budget", "inf"], "--budget inf: give the most the plan may cost a year"),
    ],
)
def test_bad_options_exit_2(files, args: list[str], message: str) -> None:
    res = runner.invoke(
        app, ["plan", str(files["service"]), "--bootstrap", "0", "--draws", "0", *args]
    )
    assert res.exit_code == 2, res.output
    assert message in res.output.replace("\n", "")
