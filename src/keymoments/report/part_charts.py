"""The charts of the optional parts: emotion, drivers, barriers, the plan and what-ifs.

Defined once, here; each results object's ``plot_*`` method draws its chart
through these functions, and the report passes them the model's names,
units and currency. Panels that need their own scale (one outcome's margin in
pounds, another's satisfaction out of ten) are separate charts side by side,
never a facet that would force one axis on both; labelled points are placed by
:func:`~keymoments.report.placement.place_labels` so no two labels overlap.

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=1500)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=10)
    >>> spec = plot_emotion_curve(result.emotion).to_dict()
    >>> spec["layer"][0]["encoding"]["y"]["title"]
    'mean rating (95% interval)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from keymoments.report.charts import unique_labels, wrap_label
from keymoments.report.placement import place_labels

__all__ = [
    "finite_span",
    "labelled_points",
    "name_of",
    "pad_domain",
    "plot_barrier_fractions",
    "plot_barrier_odds_ratios",
    "plot_comment_sentiment",
    "plot_driver_importance",
    "plot_emotion_curve",
    "plot_importance_performance",
    "plot_penalty_reward",
]

BLUE, ORANGE, GREEN, VERMILLION, GREY = "#0072B2", "#E69F00", "#009E73", "#D55E00", "#999999"
SKY, PURPLE = "#56B4E9", "#CC79A7"
_CLASS_COLOURS = {
    "basic": VERMILLION,
    "performance": BLUE,
    "excitement": GREEN,
    "indifferent": GREY,
}
_PRIORITY_COLOURS = {
    "concentrate here": VERMILLION,
    "keep up the good work": GREEN,
    "low priority": GREY,
    "possible overkill": SKY,
}


def name_of(names: Mapping[str, str] | None, key: str) -> str:
    """The name people see for an id, or the id when none is given."""
    return (names or {}).get(key, key)


def finite_span(*columns: Any) -> tuple[float, float]:
    """The smallest and largest finite value over the columns; (0, 1) when there is none
    (no bootstrap leaves intervals empty; a scale's domain must be numbers, never NaN)."""
    parts = [np.asarray(c, dtype=float).ravel() for c in columns]
    values = np.concatenate(parts) if parts else np.zeros(0)
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)


def pad_domain(lo: float, hi: float, share: float = 0.08) -> tuple[float, float]:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        lo, hi = finite_span([lo, hi])
    span = hi - lo if hi > lo else max(abs(hi), 1.0)
    return lo - span * share, hi + span * share


def labelled_points(
    frame: pd.DataFrame,
    *,
    x: str,
    y: str,
    text: str,
    x_domain: tuple[float, float],
    y_domain: tuple[float, float],
    width: int,
    height: int,
    order: Sequence[Any] | None = None,
    font_size: float = 11,
    x_title: str | None = None,
    y_title: str | None = None,
) -> list[Any]:
    """Text layers labelling the points of ``frame`` where a label fits (see placement).

    ``x_title``, ``y_title``: the axis titles of the points' layer, repeated so the
    layered chart keeps them (Vega-Lite joins differing titles of one axis).
    """
    import altair as alt

    rows = frame if order is None else frame.loc[list(order)]
    spots = place_labels(
        list(zip(rows[x].astype(float), rows[y].astype(float), strict=True)),
        [str(t) for t in rows[text]],
        x_domain=x_domain,
        y_domain=y_domain,
        width=width,
        height=height,
        font_size=font_size,
    )
    placed = pd.DataFrame(
        [
            {"lx": s.x, "ly": s.y, "label": s.text, "align": s.align, "baseline": s.baseline}
            for s in spots
            if s is not None
        ],
        columns=["lx", "ly", "label", "align", "baseline"],
    )
    layers = []
    for (align, baseline), part in placed.groupby(["align", "baseline"], sort=True):
        layers.append(
            alt.Chart(part)
            .mark_text(
                align=align, baseline=baseline, fontSize=font_size, color="#222222", lineBreak="\n"
            )
            .encode(
                x=alt.X("lx:Q", title=x_title, scale=alt.Scale(domain=list(x_domain), nice=False)),
                y=alt.Y("ly:Q", title=y_title, scale=alt.Scale(domain=list(y_domain), nice=False)),
                text="label:N",
            )
        )
    return layers


# -- emotion --------------------------------------------------------------------------------


def plot_emotion_curve(emotion: Any) -> Any:
    """Mean rating per moment in journey order with its interval; dips marked."""
    import altair as alt

    frame = emotion.summary.assign(order=range(len(emotion.moments)))
    frame["point"] = np.where(frame["dip"], "dip: below both neighbours", "moment")
    frame["label"] = unique_labels([wrap_label(str(n), 14) for n in frame["name"]])
    pct = round(getattr(emotion, "confidence", 0.95) * 100)
    x = _journey_axis(list(frame["label"]))
    lo, hi = finite_span(frame["lo"], frame["hi"], frame["mean"])
    y = alt.Y(
        "mean:Q",
        title=f"mean rating ({pct}% interval)",
        scale=alt.Scale(domain=list(pad_domain(lo, hi)), nice=False, zero=False),
    )
    line = alt.Chart(frame).mark_line(color=GREY).encode(x=x, y=y)
    band = alt.Chart(frame).mark_rule(color=BLUE).encode(x=x, y="lo:Q", y2="hi:Q")
    points = (
        alt.Chart(frame)
        .mark_point(filled=True, size=90)
        .encode(
            x=x,
            y="mean:Q",
            color=alt.Color(
                "point:N",
                title=None,
                scale=alt.Scale(
                    domain=["moment", "dip: below both neighbours"], range=[BLUE, VERMILLION]
                ),
                legend=alt.Legend(orient="bottom"),
            ),
            shape=alt.Shape(
                "point:N",
                scale=alt.Scale(
                    domain=["moment", "dip: below both neighbours"],
                    range=["circle", "triangle-down"],
                ),
            ),
            tooltip=["name", "stage", alt.Tooltip("mean:Q", format=".2f"), "lo", "hi", "answered"],
        )
    )
    return alt.layer(line, band, points).properties(
        title=str(getattr(emotion, "title", "The emotion curve")), width=alt.Step(100), height=240
    )


def _journey_axis(labels: list[str]) -> Any:
    """Moments across, in journey order, their names wrapped onto lines (never slanted)."""
    import altair as alt

    return alt.X(
        "label:N",
        sort=labels,
        title=None,
        axis=alt.Axis(labelAngle=0, labelExpr="split(datum.label, '\\n')", labelPadding=6),
    )


def plot_comment_sentiment(comments: Any, order: list[str] | None = None) -> Any:
    """Mean sentiment of the comments at each moment (−1 to +1) with its interval."""
    import altair as alt

    frame = comments.sentiment_frame()
    if order:
        rank = {n: i for i, n in enumerate(order)}
        frame = frame.sort_values("moment", key=lambda s: s.map(lambda n: rank.get(n, len(rank))))
    frame["label"] = unique_labels([wrap_label(str(n), 14) for n in frame["moment"]])
    pct = round(getattr(comments, "confidence", 0.95) * 100)
    base = alt.Chart(frame).encode(x=_journey_axis(list(frame["label"])))
    points = base.mark_point(filled=True, size=80, color=BLUE).encode(
        y=alt.Y(
            "sentiment:Q",
            scale=alt.Scale(domain=[-1, 1]),
            title=f"sentiment of comments (VADER, {pct}% interval)",
        ),
        tooltip=["moment", "sentiment", "lo", "hi", "comments"],
    )
    rules = base.mark_rule(color=BLUE).encode(y="lo:Q", y2="hi:Q")
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(y="y:Q")
    return alt.layer(zero, rules, points).properties(
        title="What people feel, moment by moment", width=alt.Step(100), height=220
    )


# -- drivers --------------------------------------------------------------------------------


def _by_outcome(frame: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    return [(str(o), part) for o, part in frame.groupby("outcome", sort=False)]


def _side_by_side(charts: list[Any], title: str) -> Any:
    import altair as alt

    if len(charts) == 1:
        return charts[0].properties(title=title)
    return alt.hconcat(*charts, spacing=40).properties(title=title)


def _stacked(charts: list[Any], title: str) -> Any:
    import altair as alt

    if len(charts) == 1:
        return charts[0].properties(title=title)
    return alt.vconcat(*charts, spacing=24).properties(title=title)


def plot_driver_importance(drivers: Any, outcome_names: Mapping[str, str] | None = None) -> Any:
    """Importance (LMG share of R²) of each moment with its interval, a panel per outcome."""
    import altair as alt

    pct = round(getattr(drivers, "confidence", 0.95) * 100)
    panels = []
    for oid, part in _by_outcome(drivers.summary):
        part = part.sort_values("importance", ascending=False)
        base = alt.Chart(part).encode(y=alt.Y("name:N", sort=list(part["name"]), title=None))
        bars = base.mark_bar().encode(
            x=alt.X("importance:Q", title=f"share of R² (LMG), {pct}% interval"),
            color=alt.Color(
                "class:N",
                title="penalty–reward class",
                scale=alt.Scale(domain=list(_CLASS_COLOURS), range=list(_CLASS_COLOURS.values())),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                "name",
                alt.Tooltip("importance:Q", format=".3f"),
                alt.Tooltip("lo:Q", format=".3f"),
                alt.Tooltip("hi:Q", format=".3f"),
                "class",
            ],
        )
        rules = base.mark_rule().encode(x="lo:Q", x2="hi:Q")
        panels.append(
            alt.layer(bars, rules).properties(
                title=name_of(outcome_names, oid), width=360, height=alt.Step(22)
            )
        )
    return _stacked(panels, str(getattr(drivers, "title", "What drives the experience")))


def plot_importance_performance(
    drivers: Any, outcome_names: Mapping[str, str] | None = None
) -> Any:
    """Importance against performance (mean rating), a panel per outcome, every point named."""
    import altair as alt

    width, height = 340, 260
    panels = []
    for oid, part in _by_outcome(drivers.summary):
        part = part.reset_index(drop=True)
        x_domain = pad_domain(*finite_span(part["performance"]), 0.15)
        y_domain = (0.0, finite_span(part["importance"])[1] * 1.2 or 1.0)
        x = alt.X(
            "performance:Q",
            title="mean rating",
            scale=alt.Scale(domain=list(x_domain), nice=False, zero=False),
        )
        y = alt.Y(
            "importance:Q",
            title="importance (share of R²)",
            scale=alt.Scale(domain=list(y_domain), nice=False),
        )
        points = (
            alt.Chart(part)
            .mark_point(filled=True, size=90)
            .encode(
                x=x,
                y=y,
                color=alt.Color(
                    "quadrant:N",
                    title="importance × rating",
                    scale=alt.Scale(
                        domain=list(_PRIORITY_COLOURS), range=list(_PRIORITY_COLOURS.values())
                    ),
                    legend=alt.Legend(orient="bottom", columns=2),
                ),
                tooltip=["name", "quadrant", "importance", "performance"],
            )
        )
        labels = labelled_points(
            part,
            x="performance",
            y="importance",
            text="name",
            x_domain=x_domain,
            y_domain=y_domain,
            width=width,
            height=height,
            order=part["importance"].sort_values(ascending=False).index,
            x_title="mean rating",
            y_title="importance (share of R²)",
        )
        panels.append(
            alt.layer(points, *labels).properties(
                title=name_of(outcome_names, oid), width=width, height=height
            )
        )
    return _side_by_side(panels, "Importance and rating: where to concentrate")


def plot_penalty_reward(drivers: Any, outcome_names: Mapping[str, str] | None = None) -> Any:
    """Penalty (a low rating, left) and reward (a high one, right), each outcome on its own axis."""
    import altair as alt

    panels = []
    for oid, part in _by_outcome(drivers.summary):
        long = pd.concat(
            [
                part.assign(effect=-part["penalty"], side="low rating (penalty)"),
                part.assign(effect=part["reward"], side="high rating (reward)"),
            ]
        )
        name = name_of(outcome_names, oid)
        panels.append(
            alt.Chart(long)
            .mark_bar()
            .encode(
                y=alt.Y("name:N", sort=list(part["name"]), title=None),
                x=alt.X("effect:Q", title=f"change in {name}"),
                color=alt.Color(
                    "class:N",
                    title="class",
                    scale=alt.Scale(
                        domain=list(_CLASS_COLOURS), range=list(_CLASS_COLOURS.values())
                    ),
                    legend=alt.Legend(orient="bottom"),
                ),
                tooltip=["name", "side", alt.Tooltip("effect:Q", format=".3g"), "class"],
            )
            .properties(title=name, width=320, height=alt.Step(22))
        )
    return _side_by_side(panels, "Penalty and reward: what a low or a high rating does")


# -- barriers -------------------------------------------------------------------------------


def plot_barrier_fractions(barriers: Any) -> Any:
    """Share of each moment's breaks each barrier explains, with intervals, a panel per moment."""
    import altair as alt

    frame = barriers._frame()
    pct = round(getattr(barriers, "confidence", 0.95) * 100)
    panels = []
    for moment, part in frame.groupby("moment", sort=False):
        part = part.sort_values("attributable fraction", ascending=False)
        base = alt.Chart(part).encode(y=alt.Y("barrier:N", sort=list(part["barrier"]), title=None))
        bars = base.mark_bar(color=VERMILLION).encode(
            x=alt.X(
                "attributable fraction:Q",
                axis=alt.Axis(format="%"),
                title=f"share of breaks it explains ({pct}% interval)",
            ),
            tooltip=["moment", "barrier", "attributable fraction", "lo", "hi", "prevalence"],
        )
        rules = base.mark_rule().encode(x="lo:Q", x2="hi:Q")
        panels.append(
            alt.layer(bars, rules).properties(title=str(moment), width=360, height=alt.Step(22))
        )
    return _stacked(panels, str(getattr(barriers, "title", "Barriers")))


def plot_barrier_odds_ratios(barriers: Any) -> Any:
    """Adjusted odds ratio of each barrier with its interval, on a log scale."""
    import altair as alt

    frame = barriers._frame()
    frame["label"] = [f"{b} ({m})" for b, m in zip(frame["barrier"], frame["moment"], strict=True)]
    base = alt.Chart(frame).encode(y=alt.Y("label:N", title=None, sort=list(frame["label"])))
    points = base.mark_point(filled=True, size=70, color=VERMILLION).encode(
        x=alt.X("odds ratio:Q", scale=alt.Scale(type="log"), title="adjusted odds ratio (log)"),
        tooltip=["moment", "barrier", "odds ratio", "or_lo", "or_hi"],
    )
    rules = base.mark_rule().encode(x="or_lo:Q", x2="or_hi:Q")
    one = alt.Chart(pd.DataFrame({"x": [1.0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
    return alt.layer(rules, points, one).properties(
        title="Barriers: adjusted odds ratios (1: no link)", width=360, height=alt.Step(22)
    )
