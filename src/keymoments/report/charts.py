"""The report's own charts: the journey map, gearing with intervals, the alignment map.

Every chart is an Altair (Vega-Lite) chart with its data inline, a
colour-blind-safe palette (Okabe & Ito, 2008) and a ``description`` that
Vega turns into the SVG's ``aria-label``. Colour never carries meaning alone:
key moments also get a star and a bold outline, quadrants also get a shape.

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=1500)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=10)
    >>> spec = plot_journey_map(result).to_dict()
    >>> spec["description"].startswith("Journey map")
    True
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

import pandas as pd

from keymoments.report.placement import place_labels

if TYPE_CHECKING:
    import altair as alt

    from keymoments.result import AnalysisResult, MomentResult

__all__ = [
    "OKABE_ITO",
    "QUADRANT_COLOURS",
    "QUADRANT_NAMES",
    "house_style",
    "plot_alignment_map",
    "plot_gearing_intervals",
    "plot_journey_map",
    "unique_labels",
    "wrap_label",
]

# Okabe & Ito's palette, distinguishable with every common colour-vision deficiency.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "grey": "#999999",
}

QUADRANT_NAMES = {
    "sweet_spot": "Sweet spot: key for both",
    "user_only": "Key for the user only",
    "provider_only": "Key for the provider only",
    "conflict": "Conflict: helps one side, hurts the other",
    "minor": "Minor for both",
}
QUADRANT_COLOURS = {
    "sweet_spot": OKABE_ITO["green"],
    "user_only": OKABE_ITO["sky_blue"],
    "provider_only": OKABE_ITO["orange"],
    "conflict": OKABE_ITO["vermillion"],
    "minor": OKABE_ITO["grey"],
}
_QUADRANT_SHAPES = {
    "sweet_spot": "diamond",
    "user_only": "triangle-up",
    "provider_only": "square",
    "conflict": "cross",
    "minor": "circle",
}
_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
_CATEGORY_COLOURS = [
    OKABE_ITO[c]
    for c in ("blue", "orange", "green", "vermillion", "sky_blue", "purple", "yellow", "black")
]


def wrap_label(text: str, width: int = 16) -> str:
    """Break a long moment name into lines (joined by newlines) for axis labels."""
    return "\n".join(textwrap.wrap(text, width=width, break_long_words=True)) or text


def unique_labels(labels: list[str]) -> list[str]:
    """Labels made distinct with invisible zero-width spaces, so two moments that share a
    name keep a row or column each on a chart axis.

    >>> [len(x) for x in unique_labels(["Call", "Call", "Visit"])]
    [4, 5, 5]
    """
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        k = seen.get(label, 0)
        seen[label] = k + 1
        out.append(label + "\u200b" * k)
    return out


def house_style(chart: Any) -> Any:
    """Another part's chart in the report's style: its font, facet labels above their
    panels and not across the axis labels, long labels given room."""
    if not hasattr(chart, "configure_header"):
        return chart
    return (
        chart.configure(font=_FONT)
        .configure_axis(labelLimit=260)
        .configure_header(
            labelAngle=0, labelAlign="left", labelOrient="top", labelFontWeight="bold"
        )
        # categories without a palette of their own get Okabe & Ito's, in this order
        .configure_range(category=_CATEGORY_COLOURS)
        # a moment per column needs room for its name
        .configure_view(discreteWidth={"step": 64})
    )


def _configure(chart: Any) -> Any:
    return chart.configure(font=_FONT).configure_view(stroke=None)


def _gearing_domain(values: list[float]) -> list[float]:
    top = max([abs(v) for v in values] + [2.0])
    return [-top, 0.0, top]


def _side_gearing(m: MomentResult, side: str) -> float | None:
    d = m.deciding.get(side)
    return None if d is None else float(d.gearing)


def _cell_width(n_moments: int) -> int:
    """Pixels per moment: roomy for a short journey, narrower so a long one still fits a page."""
    return 96 if n_moments <= 10 else max(60, 960 // n_moments)


def journey_map_frame(result: AnalysisResult) -> pd.DataFrame:
    """One row per moment and line of the map (user, provider, breaks)."""
    rows: list[dict[str, Any]] = []
    width = 16 if _cell_width(len(result.moments)) >= 90 else 10
    labels = unique_labels([wrap_label(m.name, width) for m in result.moments])
    for order, (m, label) in enumerate(zip(result.moments, labels, strict=True)):
        for side in ("user", "provider"):
            g = _side_gearing(m, side) if side in m.perspectives else None
            key = bool(m.key.get(side))
            text = "–" if g is None else f"{round(g, 1) + 0.0:.1f}" + (" ★" if key else "")
            rows.append(
                {
                    "order": order,
                    "stage": m.stage,
                    "moment": label,
                    "name": m.name,
                    "line": f"{side} gearing",
                    "gearing": g,
                    "break_rate": None,
                    "key": key,
                    "text": text,
                    "quadrant": QUADRANT_NAMES.get(m.quadrant, m.quadrant),
                }
            )
        rows.append(
            {
                "order": order,
                "stage": m.stage,
                "moment": label,
                "name": m.name,
                "line": "broken share",
                "gearing": None,
                "break_rate": m.break_rate if m.breakable else None,
                "key": False,
                "text": f"{m.break_rate:.0%}" if m.breakable else "–",
                "quadrant": QUADRANT_NAMES.get(m.quadrant, m.quadrant),
            }
        )
    return pd.DataFrame(rows)


def plot_journey_map(result: AnalysisResult) -> alt.HConcatChart:
    """Stages and moments in journey order; cells coloured by gearing, key ones starred.

    Blue cells are worth fixing for that side (darker is more), vermillion ones
    would cost that side if fixed; ``★`` and a black outline mark key moments;
    the last line is the share of cases reaching the moment that break it. One
    panel per stage, side by side, each holding only its own moments.
    """
    import altair as alt

    frame = journey_map_frame(result)
    stages = list(dict.fromkeys(m.stage for m in result.moments))
    lines = ["user gearing", "provider gearing", "broken share"]
    gearing_values = [float(v) for v in frame["gearing"].dropna()]
    max_break = max([float(v) for v in frame["break_rate"].dropna()] + [0.2])
    domain = _gearing_domain(gearing_values)
    tooltip = [
        alt.Tooltip("name:N", title="moment"),
        alt.Tooltip("stage:N"),
        alt.Tooltip("line:N"),
        alt.Tooltip("text:N", title="value"),
        alt.Tooltip("quadrant:N"),
    ]
    panels = []
    for i, stage in enumerate(stages):
        part = frame[frame["stage"] == stage]
        x = alt.X(
            "moment:N",
            sort=list(dict.fromkeys(part["moment"])),
            title=None,
            axis=alt.Axis(
                orient="bottom",
                labelAngle=0,
                labelExpr="split(datum.label, '\\n')",
                labelPadding=6,
            ),
        )
        y = alt.Y(
            "line:N",
            sort=lines,
            title=None,
            axis=alt.Axis(labelFontWeight="bold") if i == 0 else None,
        )
        base = alt.Chart(part).encode(x=x, y=y)
        gearing_cells = (
            base.transform_filter("datum.line != 'broken share'")
            .mark_rect(stroke="#000000", cornerRadius=3)
            .encode(
                color=alt.Color(
                    "gearing:Q",
                    title="gearing (1 = average)",
                    scale=alt.Scale(
                        domain=domain,
                        range=[OKABE_ITO["vermillion"], "#F7F7F7", OKABE_ITO["blue"]],
                    ),
                    # the value is written in every cell; a legend would only repeat it
                    legend=None,
                ),
                strokeWidth=alt.condition("datum.key", alt.value(3), alt.value(0)),
                tooltip=tooltip,
            )
        )
        break_cells = (
            base.transform_filter("datum.line == 'broken share'")
            .mark_rect(cornerRadius=3)
            .encode(
                color=alt.Color(
                    "break_rate:Q",
                    title="broken share",
                    scale=alt.Scale(domain=[0, max_break], range=["#F7F7F7", OKABE_ITO["orange"]]),
                    legend=None,
                ),
                tooltip=tooltip,
            )
        )
        # dark cells get white text: the threshold is a little over half way up the scale
        labels = base.mark_text(fontSize=12, fontWeight="bold").encode(
            text="text:N",
            color=alt.condition(
                f"datum.gearing != null && abs(datum.gearing) > {domain[2] * 0.55:.3f}",
                alt.value("#FFFFFF"),
                alt.value("#000000"),
            ),
        )
        panels.append(
            alt.layer(gearing_cells, break_cells, labels)
            .properties(
                title=alt.Title(str(stage), anchor="start", fontSize=13, fontWeight="bold"),
                width=alt.Step(_cell_width(len(result.moments))),
                height=alt.Step(34),
            )
            .resolve_scale(color="independent")
        )
    chart = alt.hconcat(*panels, spacing=6).properties(
        title=alt.Title(
            f"{result.service.name}: the journey",
            subtitle="gearing for each side (★ = key moment) and the share who break it",
            offset=14,  # keeps the subtitle clear of the stage names
        ),
        description=_journey_description(result),
    )
    return _configure(chart)  # type: ignore[no-any-return]


def _journey_description(result: AnalysisResult) -> str:
    parts = []
    for m in result.moments:
        keys = [p for p in ("user", "provider") if m.key.get(p)]
        extra = f", key for the {' and '.join(keys)}" if keys else ""
        broken = f", {m.break_rate:.0%} break it" if m.breakable else ""
        parts.append(f"{m.name} ({m.stage}{broken}{extra})")
    return "Journey map of " + result.service.name + ": " + "; ".join(parts) + "."


def gearing_frame(result: AnalysisResult) -> pd.DataFrame:
    """One row per breakable moment and outcome: recoverable, interval, gearing, key."""
    rows = []
    labels = unique_labels([m.name for m in result.moments])
    for order, (m, label) in enumerate(zip(result.moments, labels, strict=True)):
        for o in result.service.outcomes:
            imp = m.impact.get(o.id)
            if imp is None:
                continue
            rows.append(
                {
                    "order": order,
                    "moment": label,
                    "outcome_id": o.id,
                    "outcome": f"{o.label} ({o.perspective})",
                    "recoverable": imp["recoverable"],
                    "lo": imp["ci"][0],
                    "hi": imp["ci"][1],
                    "gearing": imp["gearing"],
                    "key": "key moment" if m.key.get(o.perspective) else "not key",
                }
            )
    return pd.DataFrame(rows)


def plot_gearing_intervals(result: AnalysisResult, outcome: str | None = None) -> alt.FacetChart:
    """What fixing each moment recovers, per outcome (or only ``outcome``, an id), with its
    interval; key moments marked."""
    import altair as alt

    frame = gearing_frame(result)
    if outcome is not None and not frame.empty:
        frame = frame[frame["outcome_id"] == outcome]
    pct = round(result.confidence * 100)
    if frame.empty:
        frame = pd.DataFrame(
            columns=[
                "order",
                "moment",
                "outcome_id",
                "outcome",
                "recoverable",
                "lo",
                "hi",
                "gearing",
                "key",
            ]
        )
    y = alt.Y("moment:N", sort=alt.EncodingSortField(field="order", order="ascending"), title=None)
    colour = alt.Color(
        "key:N",
        title=None,
        scale=alt.Scale(
            domain=["key moment", "not key"], range=[OKABE_ITO["blue"], OKABE_ITO["grey"]]
        ),
        legend=alt.Legend(orient="bottom"),
    )
    shape = alt.Shape(
        "key:N", scale=alt.Scale(domain=["key moment", "not key"], range=["diamond", "circle"])
    )
    tooltip = [
        "moment:N",
        "outcome:N",
        alt.Tooltip("recoverable:Q", format=".3~g"),
        alt.Tooltip("lo:Q", format=".3~g", title=f"{pct}% low"),
        alt.Tooltip("hi:Q", format=".3~g", title=f"{pct}% high"),
        alt.Tooltip("gearing:Q", format=".2f"),
    ]
    base = alt.Chart().encode(y=y)
    rules = base.mark_rule(strokeWidth=2).encode(
        x=alt.X("lo:Q", title="recoverable per case"), x2="hi:Q", color=colour
    )
    points = base.mark_point(filled=True, size=90).encode(
        x="recoverable:Q", color=colour, shape=shape, tooltip=tooltip
    )
    zero = alt.Chart().mark_rule(color="#555555", strokeDash=[3, 3]).encode(x=alt.datum(0))
    labels = base.mark_text(align="left", dx=8, dy=-9, fontSize=10).encode(
        x="hi:Q", text=alt.Text("gearing:Q", format=".1f")
    )
    chart = (
        alt.layer(zero, rules, points, labels, data=frame)
        .properties(width=260, height=alt.Step(26))
        .facet(column=alt.Column("outcome:N", title=None, header=alt.Header(labelFontSize=12)))
        .resolve_scale(x="independent")
        .properties(
            title=alt.Title(
                "What fixing each moment recovers, per case",
                subtitle=f"dot: estimate; line: {pct}% interval; number: gearing (1 = average)",
            ),
            description=_gearing_description(result, frame),
        )
    )
    return _configure(chart)  # type: ignore[no-any-return]


def _gearing_description(result: AnalysisResult, frame: pd.DataFrame) -> str:
    parts = [
        f"{r.moment} for {r.outcome}: {r.recoverable:.3g} [{r.lo:.3g} to {r.hi:.3g}], "
        f"gearing {r.gearing:.1f}"
        for r in frame.itertuples()
    ]
    return "Recoverable per case with intervals. " + "; ".join(parts) + "."


def alignment_frame(result: AnalysisResult) -> pd.DataFrame:
    """One row per moment with a gearing on at least one side."""
    rows = []
    for m in result.moments:
        u, p = _side_gearing(m, "user"), _side_gearing(m, "provider")
        if u is None and p is None:
            continue
        rows.append(
            {
                "moment": m.name,
                "user": 0.0 if u is None else u,
                "provider": 0.0 if p is None else p,
                "declared": "both sides"
                if u is not None and p is not None
                else ("user only" if u is not None else "provider only"),
                "quadrant": QUADRANT_NAMES.get(m.quadrant, m.quadrant),
            }
        )
    return pd.DataFrame(rows)


def plot_alignment_map(result: AnalysisResult) -> alt.LayerChart:
    """User gearing against provider gearing, the key threshold drawn, quadrants named."""
    import altair as alt

    frame = alignment_frame(result)
    threshold = float(result.service.analysis.key_gearing)
    if frame.empty:
        frame = pd.DataFrame(columns=["moment", "user", "provider", "declared", "quadrant"])
    xs = [float(v) for v in frame["user"]] + [0.0, threshold]
    ys = [float(v) for v in frame["provider"]] + [0.0, threshold]
    x_lo, x_hi = min(xs) - 0.6, max(xs) * 1.15 + 0.6
    y_lo, y_hi = min(ys) - 0.6, max(ys) * 1.15 + 0.6
    corners = pd.DataFrame(
        [
            {"x": x_hi, "y": y_hi, "label": "Sweet spot", "align": "right", "baseline": "top"},
            {"x": x_hi, "y": y_lo, "label": "Key for the user", "align": "right",
             "baseline": "bottom"},
            {"x": x_lo, "y": y_hi, "label": "Key for the provider", "align": "left",
             "baseline": "top"},
            {"x": x_lo, "y": y_lo, "label": "Minor", "align": "left", "baseline": "bottom"},
        ]
    )  # fmt: skip
    names = list(QUADRANT_NAMES.values())
    x_title, y_title = "user gearing (1 = average moment)", "provider gearing (1 = average moment)"
    x = alt.X("user:Q", title=x_title, scale=alt.Scale(domain=[x_lo, x_hi]))
    y = alt.Y("provider:Q", title=y_title, scale=alt.Scale(domain=[y_lo, y_hi]))
    points = (
        alt.Chart(frame)
        .mark_point(filled=True, size=140, opacity=0.9)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "quadrant:N",
                title=None,
                scale=alt.Scale(domain=names, range=list(QUADRANT_COLOURS.values())),
                legend=alt.Legend(orient="bottom", columns=2, labelLimit=320),
            ),
            shape=alt.Shape(
                "quadrant:N",
                scale=alt.Scale(domain=names, range=list(_QUADRANT_SHAPES.values())),
            ),
            tooltip=[
                "moment:N",
                "quadrant:N",
                alt.Tooltip("user:Q", format=".2f", title="user gearing"),
                alt.Tooltip("provider:Q", format=".2f", title="provider gearing"),
                "declared:N",
            ],
        )
    )
    # every moment is named where its name fits, the key ones first; minor moments crowd
    # round the origin, and a name that finds no room is in the tooltip and the table
    width, height = 520, 380
    corner_boxes = [
        (width - 170.0, 0.0, float(width), 24.0),
        (width - 170.0, height - 24.0, float(width), float(height)),
        (0.0, 0.0, 170.0, 24.0),
        (0.0, height - 24.0, 170.0, float(height)),
    ]
    rank = frame.assign(
        minor=[q == QUADRANT_NAMES["minor"] for q in frame["quadrant"]],
        size=[max(abs(u), abs(p)) for u, p in zip(frame["user"], frame["provider"], strict=True)],
    ).sort_values(["minor", "size"], ascending=[True, False])
    spots = place_labels(
        list(zip(rank["user"].astype(float), rank["provider"].astype(float), strict=True)),
        [str(n) for n in rank["moment"]],
        x_domain=(x_lo, x_hi),
        y_domain=(y_lo, y_hi),
        width=width,
        height=height,
        avoid=corner_boxes,
    )
    placed = pd.DataFrame(
        [
            {"x": p.x, "y": p.y, "label": p.text, "align": p.align, "baseline": p.baseline}
            for p in spots
            if p is not None
        ],
        columns=["x", "y", "label", "align", "baseline"],
    )
    labels = [
        alt.Chart(part)
        .mark_text(align=align, baseline=baseline, fontSize=11, lineBreak="\n")
        .encode(
            # the points' titles again: Vega-Lite joins differing titles of one axis
            x=alt.X("x:Q", title=x_title, scale=alt.Scale(domain=[x_lo, x_hi])),
            y=alt.Y("y:Q", title=y_title, scale=alt.Scale(domain=[y_lo, y_hi])),
            text="label:N",
        )
        for (align, baseline), part in placed.groupby(["align", "baseline"], sort=True)
    ]
    lines = alt.Chart(pd.DataFrame({"v": [threshold]}))
    vline = lines.mark_rule(strokeDash=[5, 4], color="#555555").encode(
        x=alt.X("v:Q", title=x_title)
    )
    hline = lines.mark_rule(strokeDash=[5, 4], color="#555555").encode(
        y=alt.Y("v:Q", title=y_title)
    )
    zero = alt.Chart(pd.DataFrame({"v": [0.0]}))
    zx = zero.mark_rule(color="#BBBBBB").encode(x=alt.X("v:Q", title=x_title))
    zy = zero.mark_rule(color="#BBBBBB").encode(y=alt.Y("v:Q", title=y_title))
    corner_text = [
        alt.Chart(corners.iloc[[i]])
        .mark_text(
            fontSize=12,
            fontStyle="italic",
            color="#555555",
            align=row.align,
            baseline=row.baseline,
            dx=4 if row.align == "left" else -4,
            dy=4 if row.baseline == "top" else -4,
        )
        .encode(x=alt.X("x:Q", title=x_title), y=alt.Y("y:Q", title=y_title), text="label:N")
        for i, row in enumerate(corners.itertuples())
    ]
    chart = alt.layer(zx, zy, vline, hline, *corner_text, points, *labels).properties(
        width=width,
        height=height,
        title=alt.Title(
            f"{result.service.name}: where the two sides agree",
            subtitle=f"dashed lines: key threshold (gearing {threshold:g}); "
            "a conflict helps one side and hurts the other",
        ),
        description=_alignment_description(frame),
    )
    return _configure(chart)  # type: ignore[no-any-return]


def _alignment_description(frame: pd.DataFrame) -> str:
    parts = [
        f"{r.moment}: user gearing {r.user:.1f}, provider gearing {r.provider:.1f}, {r.quadrant}"
        for r in frame.itertuples()
    ]
    return "Alignment of user and provider gearing. " + "; ".join(parts) + "."
