"""The result object's views: summary table, JSON, charts, notebook display."""

from __future__ import annotations

import json

import pytest

import keymoments
from keymoments.report.charts import QUADRANT_NAMES


@pytest.fixture(scope="module")
def result() -> keymoments.AnalysisResult:
    ex = keymoments.examples.load_car_purchase(n_cases=4000, seed=3)
    return keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=30)


def test_summary_has_one_row_per_moment(result) -> None:
    table = result.summary
    assert list(table["moment"]) == [m.id for m in result.service.moments]
    for o in result.service.outcomes:
        for suffix in ("recoverable", "lo", "hi", "gearing", "marginal"):
            assert f"{o.id}:{suffix}" in table.columns
    finance = table.set_index("moment").loc["finance"]
    assert finance["sale:lo"] <= finance["sale:recoverable"] <= finance["sale:hi"]
    assert finance["quadrant"] == "sweet_spot"


def test_to_dict_matches_the_objects(result) -> None:
    doc = result.to_dict()
    json.dumps(doc, allow_nan=False)
    for m, d in zip(result.moments, doc["moments"], strict=True):
        assert d["id"] == m.id and d["key"] == m.key
        assert d["reach"] == m.reach
    money = doc["moments"][5]["perspective_impact"]["provider"]
    assert money["measure"] == "money"
    assert money["per_year"] == pytest.approx(money["recoverable"] * result.service.volume)


def test_charts_are_vega_lite_with_the_data(result) -> None:
    gearing = result.plot_gearing().to_dict()
    assert "vega-lite" in gearing["$schema"]
    rows = next(iter(gearing["datasets"].values()))
    assert {r["moment"] for r in rows} >= {"Arrange finance"}
    assert len(rows) == sum(len(m.impact) for m in result.moments)
    alignment = result.plot_alignment().to_dict()
    points = next(d for d in alignment["datasets"].values() if d and "moment" in d[0])
    by_moment = {p["moment"]: p for p in points}
    addon = result.moment("add_on_pitch")
    assert by_moment[addon.name]["quadrant"] == QUADRANT_NAMES["conflict"]
    assert by_moment[addon.name]["user"] < 0 < by_moment[addon.name]["provider"]


def test_notebook_and_repr(result) -> None:
    html = result._repr_html_()
    assert "<table" in html and "Arrange finance" in html
    assert repr(result).startswith("<AnalysisResult 'Second-hand car purchase': 4000 cases")


def test_names_from_data_are_escaped_in_html() -> None:
    ex = keymoments.examples.load_health_check(n_cases=1500, seed=1)
    service = ex.service.model_copy(deep=True)
    service.moments[0].name = "<script>alert(1)</script>"
    result = keymoments.analyse(service, events=ex.events, cases=ex.cases, bootstrap=0)
    html = result._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
