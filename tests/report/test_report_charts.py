"""The report's own charts: the right numbers in their data, marks that do not rely on colour."""

from __future__ import annotations

import copy
import json

from keymoments.report import charts
from keymoments.result import AnalysisResult


def test_journey_map_cells_hold_gearing_key_stars_and_break_share(health: AnalysisResult) -> None:
    frame = charts.journey_map_frame(health).set_index(["name", "line"])
    appointment = health.moment("appointment")
    user = appointment.deciding["user"]
    assert user is not None
    cell = frame.loc[(appointment.name, "user gearing")]
    assert cell["text"] == f"{user.gearing:.1f} ★" and bool(cell["key"])
    assert frame.loc[(appointment.name, "broken share"), "text"] == f"{appointment.break_rate:.0%}"
    # a side the moment is not declared for is a dash, not a zero
    getting_there = health.moment("getting_there")
    assert getting_there.perspectives == ["user"]
    assert frame.loc[(getting_there.name, "provider gearing"), "text"] == "–"
    assert len(frame) == 3 * len(health.moments)


def test_journey_map_stages_in_journey_order(health: AnalysisResult) -> None:
    spec = charts.plot_journey_map(health).to_dict()
    stages = [panel["title"]["text"] for panel in spec["hconcat"]]
    assert stages == ["Invite", "Book", "Attend", "Check", "After"]


def test_moments_sharing_a_name_keep_their_own_column(health: AnalysisResult) -> None:
    result = copy.deepcopy(health)
    result.moment("tests").name = result.moment("appointment").name
    journey = charts.journey_map_frame(result)
    assert journey["moment"].nunique() == len(result.moments)
    gearing = charts.gearing_frame(result)
    assert gearing["moment"].nunique() == len({m.id for m in result.moments if m.impact})


def test_alignment_names_quadrants_with_colour_and_shape(cars: AnalysisResult) -> None:
    frame = charts.alignment_frame(cars).set_index("moment")
    add_on = cars.moment("add_on_pitch")
    assert frame.loc[add_on.name, "quadrant"] == charts.QUADRANT_NAMES["conflict"]
    assert frame.loc[cars.moment("finance").name, "quadrant"] == charts.QUADRANT_NAMES["sweet_spot"]
    user = add_on.deciding["user"]
    assert user is not None and frame.loc[add_on.name, "user"] == user.gearing < 0
    spec = json.dumps(charts.plot_alignment_map(cars).to_dict())
    for shape in ("diamond", "triangle-up", "square", "cross", "circle"):
        assert f'"{shape}"' in spec
    for colour in charts.QUADRANT_COLOURS.values():
        assert colour in spec
    assert "Sweet spot" in spec and "Key for the provider" in spec


def test_gearing_frame_matches_the_result(cars: AnalysisResult) -> None:
    frame = charts.gearing_frame(cars)
    finance = cars.moment("finance")
    row = frame[(frame["moment"] == finance.name) & frame["outcome"].str.startswith("Car sold")]
    imp = finance.impact["sale"]
    assert row[["recoverable", "lo", "hi"]].iloc[0].tolist() == [imp["recoverable"], *imp["ci"]]
    assert row["key"].iloc[0] == "key moment"
