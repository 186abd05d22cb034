"""The monitor's charts: SPC charts, the changes' segmented lines, key moments per window.

Altair (Vega-Lite) charts with their data inline, in the report's palette
(Okabe & Ito). As in Making Data Count, a special-cause point is blue when it
is an improvement and orange when it is a concern (purple when neither
direction is better); grey points are common-cause variation. Colour never
carries meaning alone: special causes are also larger and filled, and every
chart has a ``description`` that Vega turns into the SVG's ``aria-label``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keymoments.monitoring.series import PERIOD_DAYS, Series, period_ends
from keymoments.monitoring.spc import RULES
from keymoments.report.charts import OKABE_ITO

if TYPE_CHECKING:
    import altair as alt

    from keymoments.monitoring.changes import ChangeCheck
    from keymoments.monitoring.result import MonitorResult

__all__ = ["TYPE_COLOURS", "plot_its", "plot_spc", "plot_windows", "spc_frame"]

TYPE_COLOURS = {
    "improvement": OKABE_ITO["blue"],
    "concern": OKABE_ITO["orange"],
    "neutral": OKABE_ITO["purple"],
    "common": OKABE_ITO["grey"],
}
_TYPE_NAMES = {
    "improvement": "special cause: improvement",
    "concern": "special cause: concern",
    "neutral": "special cause",
    "common": "common cause",
}
_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def _value(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def spc_frame(series: list[Series], changes: list[ChangeCheck]) -> pd.DataFrame:
    """Long form: one row per series and period (``row = "point"``), and one per change
    date that concerns the series (``row = "change"``)."""
    rows: list[dict[str, Any]] = []
    for s in series:
        c = s.chart
        types = c.point_types()
        for i, period in enumerate(s.periods):
            rows.append(
                {
                    "row": "point",
                    "series": s.name,
                    "period": period,
                    "value": _value(c.values[i]),
                    # the line joins complete periods only (a young cohort is not yet a rate)
                    "line": _value(c.values[i]) if s.complete[i] else None,
                    "n": float(c.n[i]),
                    "centre": c.centre,
                    "lcl": _value(c.lcl[i]),
                    "ucl": _value(c.ucl[i]),
                    "type": _TYPE_NAMES[types[i]] if s.complete[i] else "not complete yet",
                    "signals": ", ".join(r.replace("_", " ") for r in RULES if r in c.signals[i]),
                    "change": "",
                }
            )
        for ch in changes:
            if s.kind == "outcome" or ch.moment == s.id:
                rows.append(
                    {
                        "row": "change",
                        "series": s.name,
                        "period": pd.Timestamp(ch.date),
                        "change": ch.name,
                    }
                )
    frame = pd.DataFrame(rows)
    frame = frame.drop_duplicates(subset=["row", "series", "period", "change"])
    frame["period"] = pd.to_datetime(frame["period"])
    return frame


def plot_spc(series: list[Series], changes: list[ChangeCheck], *, title: str) -> alt.FacetChart:
    """One SPC chart per series, stacked: values, centre line, limits, signals, changes."""
    import altair as alt

    frame = spc_frame(series, changes)
    order = [s.name for s in series]
    names = [*_TYPE_NAMES.values(), "not complete yet"]
    colours = [*TYPE_COLOURS.values(), "#DDDDDD"]
    base = alt.Chart().encode(x=alt.X("period:T", title=None))
    points = base.transform_filter(alt.datum.row == "point")
    line = points.mark_line(color="#777777", strokeWidth=1).encode(
        y=alt.Y("line:Q", title=None, scale=alt.Scale(zero=False))
    )
    centre = points.mark_line(color=OKABE_ITO["black"], strokeWidth=1).encode(y="centre:Q")
    limits = [
        points.mark_line(color=OKABE_ITO["black"], strokeDash=[4, 3], strokeWidth=1,
                         interpolate="step-after").encode(y=f"{edge}:Q")
        for edge in ("lcl", "ucl")
    ]  # fmt: skip
    dots = points.mark_point(filled=True).encode(
        y="value:Q",
        color=alt.Color("type:N", scale=alt.Scale(domain=names, range=colours), title=None),
        size=alt.condition(alt.datum.signals != "", alt.value(70), alt.value(22)),
        tooltip=[
            alt.Tooltip("period:T", title="period"),
            alt.Tooltip("value:Q", format=".4g"),
            alt.Tooltip("n:Q", format=",.0f"),
            alt.Tooltip("centre:Q", format=".4g"),
            alt.Tooltip("lcl:Q", format=".4g"),
            alt.Tooltip("ucl:Q", format=".4g"),
            "signals:N",
        ],
    )
    marks = base.transform_filter(alt.datum.row == "change")
    rules = marks.mark_rule(color=OKABE_ITO["vermillion"], strokeDash=[2, 2]).encode(
        tooltip=["change:N", alt.Tooltip("period:T", title="date")]
    )
    chart = (
        alt.layer(line, centre, *limits, dots, rules, data=frame)
        .properties(width=560, height=140)
        .facet(row=alt.Row("series:N", sort=order, title=None))
        .resolve_scale(y="independent")
        .properties(title=title)
    )
    chart.description = _spc_description(series)
    return chart.configure(font=_FONT).configure_header(
        labelAngle=0, labelAlign="left", labelOrient="top", labelFontWeight="bold"
    )


def _spc_description(series: list[Series]) -> str:
    parts = []
    for s in series:
        flagged = s.chart.n_signals
        parts.append(
            f"{s.name}: centre {s.chart.centre:.3g}, {flagged} period"
            f"{'s' if flagged != 1 else ''} flagged, latest {s.chart.variation.replace('_', ' ')}"
        )
    return "SPC charts. " + "; ".join(parts) + "."


def its_frame(result: MonitorResult) -> pd.DataFrame:
    """Per change and moment: the observed rate per period and the two fitted lines."""
    rows: list[dict[str, Any]] = []
    every = result.every
    for ch in result.changes:
        if ch.fit is None:
            continue
        try:
            s = result.series(ch.moment)
        except KeyError:
            continue
        label = f"{ch.name}: {s.name}"
        origin = s.periods[0]
        ends = period_ends(s.periods, every)
        date = pd.Timestamp(ch.date)
        unit = pd.Timedelta(days=PERIOD_DAYS[every])
        t_change = (date - origin) / unit
        for p, e, v, ok in zip(s.periods, ends, s.chart.values, s.complete, strict=True):
            if not np.isfinite(v):
                continue
            middle = p + (e - p) / 2
            t = (middle - origin) / unit
            after = middle > date
            slope = ch.fit.slope_before + (ch.fit.slope_change if after else 0.0)
            level = ch.fit.after if after else ch.fit.before
            rows.append(
                {
                    "panel": label,
                    "period": middle,
                    "value": float(v),
                    "fitted": level + slope * (t - t_change),
                    "side": "after" if after else "before",
                    "complete": bool(ok) and not (p < date < e),
                }
            )
        rows.append({"panel": label, "period": date, "side": "date"})
    frame = pd.DataFrame(rows, columns=["panel", "period", "value", "fitted", "side", "complete"])
    frame["period"] = pd.to_datetime(frame["period"])
    return frame


def plot_its(result: MonitorResult) -> alt.FacetChart:
    """Each change: the moment's break rate per period, the fitted lines, the date."""
    import altair as alt

    frame = its_frame(result)
    base = alt.Chart().encode(x=alt.X("period:T", title=None))
    observed = base.transform_filter(alt.datum.side != "date")
    dots = observed.mark_point(filled=True, size=22, color=OKABE_ITO["grey"]).encode(
        y=alt.Y(
            "value:Q", title="break rate", axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)
        ),
        opacity=alt.condition(alt.datum.complete, alt.value(1.0), alt.value(0.3)),
        tooltip=[alt.Tooltip("period:T"), alt.Tooltip("value:Q", format=".1%")],
    )
    lines = observed.mark_line(strokeWidth=2).encode(
        y="fitted:Q",
        color=alt.Color(
            "side:N",
            scale=alt.Scale(domain=["before", "after"],
                            range=[OKABE_ITO["black"], OKABE_ITO["blue"]]),
            title=None,
        ),
    )  # fmt: skip
    rule = base.transform_filter(alt.datum.side == "date").mark_rule(
        color=OKABE_ITO["vermillion"], strokeDash=[2, 2]
    )
    chart = (
        alt.layer(dots, lines, rule, data=frame)
        .properties(width=560, height=160)
        .facet(row=alt.Row("panel:N", title=None))
        .resolve_scale(y="independent")
        .properties(title=f"{result.service.name}: each change, before and after")
    )
    parts = [
        f"{c.moment}: {c.before:.1%} before, {c.after:.1%} after ({c.verdict.replace('_', ' ')})"
        for c in result.changes
        if c.fit is not None and c.before is not None and c.after is not None
    ]
    chart.description = "Interrupted time series. " + ("; ".join(parts) or "no change fitted") + "."
    return chart.configure(font=_FONT).configure_header(
        labelAngle=0, labelAlign="left", labelOrient="top", labelFontWeight="bold"
    )


def windows_frame(result: MonitorResult) -> pd.DataFrame:
    """Per window, moment and perspective: gearing and whether the moment is key."""
    names = {m.id: m.label for m in result.service.moments}
    rows = []
    for w in result.windows:
        for moment, gear in w.gearing.items():
            for p, g in gear.items():
                rows.append(
                    {
                        "window": w.label,
                        "moment": names.get(moment, moment),
                        "perspective": p,
                        "gearing": g,
                        "key": "key" if moment in w.key.get(p, []) else "",
                        "complete": w.complete,
                    }
                )
    return pd.DataFrame(
        rows, columns=["window", "moment", "perspective", "gearing", "key", "complete"]
    )


def plot_windows(result: MonitorResult) -> alt.FacetChart:
    """Gearing of each moment per window (colour), key moments marked, per perspective."""
    import altair as alt

    frame = windows_frame(result)
    order = [m.label for m in result.service.moments]
    base = alt.Chart().encode(
        x=alt.X("window:O", title=None, sort=[w.label for w in result.windows]),
        y=alt.Y("moment:N", sort=order, title=None),
    )
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("gearing:Q", scale=alt.Scale(scheme="blues"), title="gearing"),
        tooltip=["window:N", "moment:N", "perspective:N",
                 alt.Tooltip("gearing:Q", format=".2f"), "key:N"],
    )  # fmt: skip
    marks = base.mark_text(fontWeight="bold").encode(text="key:N")
    chart = (
        alt.layer(cells, marks, data=frame)
        .properties(width=alt.Step(64))
        .facet(column=alt.Column("perspective:N", title=None))
        .properties(title=f"{result.service.name}: key moments per {result.window}")
    )
    keys = [
        f"{w.label}: {', '.join(sorted(set(w.key.get('user', []) + w.key.get('provider', []))))}"
        for w in result.windows
        if w.analysed
    ]
    chart.description = "Key moments per window. " + ("; ".join(keys) or "none") + "."
    return chart.configure(font=_FONT).configure_view(stroke=None)
