"""Every chart of both built-in reports drawn in chromium: no Vega-Lite warning, no text
mark on another or on a legend, no axis labels colliding, no empty facet cell.

The checker itself is tested first on charts made to fail each way, so a clean
report means the charts are clean, not that the checker is blind.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.report.chart_check import chart_page, check_spec, check_specs
from tests.web.test_browser import CHROMIUM_ARGS, chromium_path

from keymoments.report.sections import build_sections
from keymoments.result import AnalysisResult


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with chart_page(chromium_path(), CHROMIUM_ARGS) as p:
        yield p


def _specs(result: AnalysisResult) -> dict[str, dict[str, Any]]:
    return {f.id: f.chart.to_dict() for s in build_sections(result) for f in s.figures}


def test_the_checker_sees_overlaps_warnings_and_empty_facets(page: Any) -> None:
    import altair as alt
    import pandas as pd

    same_place = pd.DataFrame({"x": [1, 1], "y": [1, 1], "t": ["Arrange finance", "Agree"]})
    overlap = alt.Chart(same_place).mark_text().encode(x="x:Q", y="y:Q", text="t:N")
    assert any("overlap: text" in p for p in check_spec(page, overlap.to_dict()))

    # a sort Vega-Lite drops, with a warning, on a unioned domain
    frame = pd.DataFrame({"o": ["a", "a", "b"], "n": ["p", "q", "p"], "v": [1.0, 2.0, 3.0]})
    base = alt.Chart().encode(y=alt.Y("n:N", sort="-x"))
    warned = (
        alt.layer(base.mark_bar().encode(x="v:Q"), base.mark_rule().encode(x="v:Q"), data=frame)
        .facet(row="o:N")
        .resolve_scale(y="independent")
    )
    assert any(p.startswith("warning") for p in check_spec(page, warned.to_dict()))

    # a facet cell with nothing in it (Vega itself: Vega-Lite lifts such a filter above the
    # facet, so the cell would not be made at all)
    cells = {
        "$schema": "https://vega.github.io/schema/vega/v6.json",
        "width": 200,
        "height": 100,
        "data": [{"name": "table", "values": [{"o": "a"}, {"o": "b"}]}],
        "marks": [
            {
                "type": "group",
                "role": "scope",
                "from": {"facet": {"data": "table", "name": "f", "groupby": "o"}},
                "encode": {"enter": {"width": {"value": 50}, "height": {"value": 50}}},
                "data": [
                    {"name": "g", "source": "f",
                     "transform": [{"type": "filter", "expr": "datum.o != 'b'"}]}
                ],
                "marks": [{"type": "symbol", "from": {"data": "g"}}],
            }
        ],
    }  # fmt: skip
    assert check_spec(page, cells) == ["1 empty facet cell(s)"]

    axis = alt.Chart(pd.DataFrame({"x": [136000.0, 152000.0]})).mark_point()
    crowded = axis.encode(
        x=alt.X("x:Q", axis=alt.Axis(labelOverlap=False, values=[136000, 136500, 137000]))
    ).properties(width=40)
    assert any("axis labels" in p for p in check_spec(page, crowded.to_dict()))


@pytest.mark.parametrize("demo", ["health", "cars"])
def test_every_chart_of_the_demo_reports_draws_clean(
    demo: str, page: Any, request: pytest.FixtureRequest
) -> None:
    result: AnalysisResult = request.getfixturevalue(demo)
    specs = _specs(result)
    # the report's own charts and every optional part's
    for chart in ("journey-map", "gearing", "alignment", "emotion-plot", "drivers-plot",
                  "drivers-plot-quadrants", "drivers-plot-penalty-reward", "barriers-plot",
                  "portfolio-plot", "portfolio-plot-frontier"):  # fmt: skip
        assert chart in specs, sorted(specs)
    assert check_specs(page, specs) == {}
