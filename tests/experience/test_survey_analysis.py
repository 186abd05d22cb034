"""Drivers inside an analysis: survey-only runs, the car demo, JSON, terminal, real surveys."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import keymoments
from keymoments.analysis import analyse
from keymoments.cli import app
from keymoments.errors import DataError
from keymoments.report.terminal import render_terminal

ROOT = Path(__file__).parents[2]
REAL = ROOT / "tests" / "data" / "real"
EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def customer_sat() -> keymoments.AnalysisResult:
    svc = keymoments.load_service(EXAMPLES / "customer-sat" / "service.yaml")
    return analyse(svc, cases=REAL / "bayesm_customerSat.csv", bootstrap=30)


def test_survey_only_customer_sat_matches_least_squares(customer_sat) -> None:
    raw = pd.read_csv(REAL / "bayesm_customerSat.csv")
    x = np.column_stack([np.ones(len(raw)), raw[[f"q{i}" for i in range(2, 11)]]])
    y = raw["q1"].to_numpy(float)
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    r2 = 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))
    d = customer_sat.drivers.outcomes["overall"]
    assert d.r2 == pytest.approx(r2, abs=1e-10)
    assert d.figures["importance"].sum() == pytest.approx(r2, abs=1e-10)
    assert d.n == 1811 and d.exact
    assert customer_sat.survey_only and customer_sat.n_cases == 1811
    assert customer_sat.outcome_means[0] == pytest.approx(y.mean())
    np.testing.assert_allclose(
        customer_sat.emotion.mean, raw[[f"q{i}" for i in range(2, 11)]].mean().to_numpy()
    )


def test_survey_only_json_keeps_the_contract(customer_sat, tmp_path: Path) -> None:
    doc = json.loads(json.dumps(customer_sat.to_dict(), allow_nan=False))
    assert doc["n_cases"] == 1811
    assert [o["id"] for o in doc["outcomes"]] == ["overall"]
    for m in doc["moments"]:
        assert {"id", "name", "stage", "reach", "break_rate", "impact", "key"} <= set(m)
        assert m["reach"] == 1.0 and m["break_rate"] == 0.0 and m["impact"] == {}
    rows = doc["drivers"]["overall"]
    assert len(rows) == 9
    for r in rows:
        assert {"moment", "importance", "ci"} <= set(r) and len(r["ci"]) == 2
        assert r["ci"][0] <= r["importance"] <= r["ci"][1]
    assert doc["barriers"] == [] and doc["alignment"][0]["quadrant"] == "minor"
    assert len(doc["emotion"]["curve"]) == 9 and "overall" in doc["emotion"]["peak_end"]
    assert doc["method"]["survey_only"] is True


def test_survey_only_on_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        app,
        [
            "analyse",
            str(EXAMPLES / "ecsi-mobile" / "service.yaml"),
            "--cases",
            str(REAL / "plspm_ecsi_mobile_phone.csv"),
            "--bootstrap",
            "20",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "What drives Overall satisfaction" in result.output
    assert "Emotion curve" in result.output
    doc = json.loads(out.read_text())
    assert {r["moment"] for r in doc["drivers"]["satisfaction"]} >= {"complaints", "value_1"}


def test_no_events_and_no_ratings_is_a_clear_error() -> None:
    svc = keymoments.Service.model_validate(
        {
            "version": 1,
            "name": "x",
            "moments": [{"id": "a", "reached": ["a"]}],
            "outcomes": [{"id": "y", "perspective": "user", "column": "y"}],
        }
    )
    with pytest.raises(DataError, match=r"no events given.*rating"):
        analyse(svc, cases=pd.DataFrame({"case_id": ["1"], "y": [1.0]}))


def test_listwise_from_python_and_segments_from_the_model() -> None:
    svc = keymoments.load_service(EXAMPLES / "ecsi-bank" / "service.yaml")
    cases = pd.read_csv(REAL / "plspm_ecsi_bank_satisfaction.csv")
    cases.loc[::7, "qual3"] = np.nan
    with pytest.warns(keymoments.errors.MissingRatingsWarning, match="listwise"):
        r = analyse(svc, cases=cases, bootstrap=20, missing="listwise")
    d = r.drivers
    assert d.outcomes["satisfaction"].missing == "listwise"
    assert d.outcomes["satisfaction"].n == int(cases["qual3"].notna().sum())
    assert set(d.segments["satisfaction"]) == {"female", "male"}
    diffs = d.differences["satisfaction"]
    assert len(diffs) == 9 and all(0 < x["p_value"] <= 1 for x in diffs)
    r2 = analyse(svc, cases=cases, bootstrap=5, by_segment=False)
    assert r2.drivers.segments == {}


@pytest.fixture(scope="module")
def car() -> keymoments.AnalysisResult:
    ex = keymoments.examples.load_car_purchase(n_cases=3000)
    return analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=30)


def test_car_demo_drivers_follow_the_planted_rating_effects(car) -> None:
    # the generator lowers the finance and price ratings most when those moments
    # break (penalties 3.5 and 3.0 points, against 2.5 elsewhere), and breaking them
    # is what costs the buyer's satisfaction: they must lead its drivers
    d = car.drivers.outcomes["satisfaction"]
    top = [d.moments[j] for j in np.argsort(-d.figures["importance"])[:2]]
    assert sorted(top) == ["finance", "price_negotiation"]
    lo = d.intervals["importance"][0]
    others = [j for j, m in enumerate(d.moments) if m not in top]
    hi_others = d.intervals["importance"][1, others].max()
    assert min(lo[d.moments.index(m)] for m in top) > hi_others
    assert car.emotion is not None and len(car.emotion.moments) == 5


def test_terminal_shows_the_drivers_table(car) -> None:
    console = Console(record=True, width=200)
    render_terminal(car, console)
    text = console.export_text()
    assert "What drives Buyer satisfaction" in text
    assert "Emotion curve" in text
    assert "Arrange finance" in text.split("What drives Buyer satisfaction")[1]


def test_html_report_renders_a_survey_only_result(customer_sat) -> None:
    from keymoments.report.html import render_report

    page = render_report(customer_sat)
    assert "What drives the experience" in page and "The emotion curve" in page


def test_drivers_options_on_the_command_line(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    args = [
        "analyse",
        str(EXAMPLES / "ecsi-bank" / "service.yaml"),
        "--cases",
        str(REAL / "plspm_ecsi_bank_satisfaction.csv"),
        "--bootstrap",
        "10",
    ]
    done = CliRunner().invoke(
        app, [*args, "--missing", "listwise", "--no-drivers-by-segment", "--json", str(out)]
    )
    assert done.exit_code == 0, done.output
    fit = json.loads(out.read_text())["drivers_fit"]["satisfaction"]
    assert fit["missing"] == "listwise" and "segments" not in fit
    bad = CliRunner().invoke(app, [*args, "--missing", "sometimes"])
    assert bad.exit_code == 2 and "pairwise" in bad.output
