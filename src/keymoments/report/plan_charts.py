"""The plan's charts: value against cost, what each side gains, the return's spread, what-ifs.

Drawn with the helpers of :mod:`keymoments.report.part_charts` (placed labels,
finite domains), in the model's currency.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from keymoments.report.formatting import currency_symbol, fmt_money, join_names
from keymoments.report.part_charts import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    SKY,
    VERMILLION,
    finite_span,
    labelled_points,
    name_of,
    pad_domain,
)

__all__ = ["plot_frontier", "plot_return_spread", "plot_value_against_cost", "plot_what_if"]


def _money_axis(currency: str | None) -> str:
    """A d3 format for money on an axis: thousands separated, the currency's symbol."""
    before, _ = currency_symbol(currency)
    return "$,.0f" if before == "$" else ",.0f"


def _money_title(what: str, currency: str | None) -> str:
    return f"{what} ({currency.strip()})" if currency else what


# -- the plan -------------------------------------------------------------------------------


def _service(portfolio: Any) -> Any:
    ctx = getattr(portfolio, "context", None)
    return getattr(ctx, "service", None)


def _currency(portfolio: Any, currency: str | None) -> str | None:
    if currency is not None:
        return currency
    service = _service(portfolio)
    return getattr(service, "currency", None)


def plot_value_against_cost(portfolio: Any, currency: str | None = None) -> Any:
    """Each intervention's value a year against its cost, chosen ones marked, break-even drawn."""
    import altair as alt

    currency = _currency(portfolio, currency)
    frame = portfolio.summary.copy()
    frame["status"] = np.where(frame["chosen"], "chosen", "not chosen")
    frame["value_alone"] = frame["value_alone"].astype(float).fillna(0.0)
    frame["cost"] = frame["cost"].astype(float).fillna(0.0)
    width, height = 460, 300
    x_domain = (0.0, (finite_span(frame["cost"])[1] or 1.0) * 1.15)
    v_lo, v_hi = finite_span(frame["value_alone"], [0.0])
    y_domain = pad_domain(v_lo, max(v_hi, x_domain[1] * 0.5), 0.12)
    fmt = _money_axis(currency)
    x = alt.X(
        "cost:Q",
        title=_money_title("cost a year", currency),
        scale=alt.Scale(domain=list(x_domain), nice=False),
        axis=alt.Axis(format=fmt, tickCount=5),
    )
    y = alt.Y(
        "value_alone:Q",
        title=_money_title("value a year, alone", currency),
        scale=alt.Scale(domain=list(y_domain), nice=False),
        axis=alt.Axis(format=fmt),
    )
    # break-even: value = cost, across the whole cost axis (or until it leaves the plot)
    end = min(x_domain[1], y_domain[1])
    even = pd.DataFrame({"cost": [0.0, end], "value_alone": [0.0, end]})
    line = alt.Chart(even).mark_line(strokeDash=[6, 4], color="#555555", clip=True).encode(x=x, y=y)
    zero = alt.Chart(pd.DataFrame({"y": [0.0]})).mark_rule(color="#BBBBBB").encode(y="y:Q")
    points = (
        alt.Chart(frame)
        .mark_point(filled=True, size=120)
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "status:N",
                title=None,
                scale=alt.Scale(domain=["chosen", "not chosen"], range=[GREEN, GREY]),
                legend=alt.Legend(orient="bottom"),
            ),
            shape=alt.Shape(
                "status:N",
                scale=alt.Scale(domain=["chosen", "not chosen"], range=["diamond", "circle"]),
            ),
            tooltip=["name", "moment", "cost", "value_alone", "value_in_plan", "roi"],
        )
    )
    marks = pd.concat(
        [
            frame[["cost", "value_alone", "name"]],
            pd.DataFrame(
                {"cost": [end * 0.92], "value_alone": [end * 0.92], "name": ["break-even"]}
            ),
        ],
        ignore_index=True,
    )
    labels = labelled_points(
        marks,
        x="cost",
        y="value_alone",
        text="name",
        x_domain=x_domain,
        y_domain=y_domain,
        width=width,
        height=height,
        order=[*frame["value_alone"].sort_values(ascending=False).index, len(frame)],
        x_title=_money_title("cost a year", currency),
        y_title=_money_title("value a year, alone", currency),
    )
    name = str(getattr(portfolio, "service_name", ""))
    return alt.layer(zero, line, points, *labels).properties(
        title=alt.Title(
            f"{name}: value against cost" if name else "Value against cost",
            subtitle="dashed: break-even, where a year's value equals its cost; "
            "above it an intervention pays for itself",
        ),
        width=width,
        height=height,
    )


def _frontier_units(portfolio: Any, currency: str | None) -> dict[str, str]:
    service = _service(portfolio)
    units = {"user": "user gain", "provider": "provider gain"}
    if service is None:
        return units
    try:
        from keymoments.portfolio.frontier import perspective_scores

        _, found = perspective_scores(portfolio.context)
    except Exception:  # the plan without its chain: plain titles
        return units
    labels = {o.id: o.label for o in service.outcomes}
    for side, unit in found.items():
        if unit == "money a year":
            units[side] = _money_title(f"{side}'s money a year", currency)
        elif unit.startswith("gain per case: "):
            ids = unit.removeprefix("gain per case: ").split(" + ")
            units[side] = f"{side}'s gain per case: " + " + ".join(labels.get(i, i) for i in ids)
    return units


def plot_frontier(portfolio: Any, currency: str | None = None) -> Any:
    """User gain against provider gain of the best plans across budgets; plans named."""
    import altair as alt

    currency = _currency(portfolio, currency)
    frame = portfolio.frontier().copy()
    if frame.empty:
        frame = pd.DataFrame(
            columns=["user", "provider", "plan", "budget", "cost", "sweet_spot", "on_frontier"]
        )
    frame["kind"] = np.where(
        frame["sweet_spot"].astype(bool),
        "sweet-spot plan",
        np.where(frame["on_frontier"].astype(bool), "on the frontier", "other plans"),
    )
    names = {r.id: r.name for r in getattr(portfolio, "interventions", [])}
    frame["label"] = [
        join_names([names.get(i, i) for i in str(p).split("+") if i]) or "nothing"
        for p in frame["plan"]
    ]
    frame["cost_text"] = [fmt_money(c, currency) for c in frame["cost"]]
    units = _frontier_units(portfolio, currency)
    width, height = 460, 320
    x_domain = pad_domain(*finite_span(frame["user"], [0.0]), 0.1)
    y_domain = pad_domain(*finite_span(frame["provider"], [0.0]), 0.1)
    kinds = ["sweet-spot plan", "on the frontier", "other plans"]
    points = (
        alt.Chart(frame)
        .mark_point(filled=True, size=90)
        .encode(
            x=alt.X(
                "user:Q", title=units["user"], scale=alt.Scale(domain=list(x_domain), nice=False)
            ),
            y=alt.Y(
                "provider:Q",
                title=units["provider"],
                scale=alt.Scale(domain=list(y_domain), nice=False),
            ),
            color=alt.Color(
                "kind:N",
                title=None,
                scale=alt.Scale(domain=kinds, range=[VERMILLION, BLUE, "#BBBBBB"]),
                legend=alt.Legend(orient="bottom"),
            ),
            shape=alt.Shape(
                "kind:N", scale=alt.Scale(domain=kinds, range=["diamond", "circle", "circle"])
            ),
            tooltip=[
                alt.Tooltip("label:N", title="plan"),
                alt.Tooltip("cost_text:N", title="cost a year"),
                "budget",
                alt.Tooltip("user:Q", format=",.3g"),
                alt.Tooltip("provider:Q", format=",.3g"),
            ],
        )
    )
    # each distinct plan on the frontier once, the sweet spot first
    named = frame[frame["kind"] != "other plans"].sort_values("kind", key=lambda s: s.map(
        {"sweet-spot plan": 0, "on the frontier": 1})).drop_duplicates("plan")  # fmt: skip
    labels = labelled_points(
        named,
        x="user",
        y="provider",
        text="label",
        x_domain=x_domain,
        y_domain=y_domain,
        width=width,
        height=height,
        font_size=10,
        x_title=units["user"],
        y_title=units["provider"],
    )
    name = str(getattr(portfolio, "service_name", ""))
    return alt.layer(points, *labels).properties(
        title=alt.Title(
            f"{name}: what each side gains" if name else "What each side gains",
            subtitle="the best plans across budgets and weights; named: the plans no other "
            "plan of their budget beats on both sides",
        ),
        width=width,
        height=height,
    )


def plot_return_spread(portfolio: Any, currency: str | None = None) -> Any:
    """The plan's return a year (value − cost) over the Monte Carlo draws, 5th–95th marked."""
    import altair as alt

    currency = _currency(portfolio, currency)
    samples = np.asarray((getattr(portfolio, "uncertainty", None) or {}).get("samples", []))
    samples = samples[np.isfinite(samples)] if samples.size else samples
    if samples.size:
        counts, edges = np.histogram(samples, bins=min(30, max(5, samples.size // 20)))
        frame = pd.DataFrame({"lo": edges[:-1], "hi": edges[1:], "draws": counts})
        p5, p95 = np.percentile(samples, [5, 95])
    else:
        frame = pd.DataFrame(columns=["lo", "hi", "draws"])
        p5 = p95 = 0.0
    fmt = _money_axis(currency)
    x = alt.X(
        "lo:Q",
        title=_money_title("return a year: value − cost", currency),
        axis=alt.Axis(format=fmt, tickCount=5, labelOverlap="greedy"),
    )
    bars = (
        alt.Chart(frame)
        .mark_rect(color=BLUE, stroke="#FFFFFF", strokeWidth=0.5)
        .encode(x=x, x2="hi:Q", y=alt.Y("draws:Q", title="simulations"), y2=alt.datum(0))
    )
    marks = pd.DataFrame({"x": [float(p5), float(p95)]})
    rules = alt.Chart(marks).mark_rule(strokeDash=[4, 4], color="#333333").encode(x="x:Q")
    n = int(samples.size)
    return alt.layer(bars, rules).properties(
        title=alt.Title(
            "How sure the return is",
            subtitle=f"{n:,} simulations drawing each effect from its range; between the "
            f"dashed lines ({fmt_money(p5, currency)} and {fmt_money(p95, currency)}): "
            "90% of them",
        ),
        width=460,
        height=220,
    )


def plot_what_if(
    what_if: Any,
    intervention_names: Mapping[str, str] | None = None,
    outcome_names: Mapping[str, str] | None = None,
) -> Any:
    """The gain per case of each outcome under the what-if, by perspective."""
    import altair as alt

    frame = what_if.summary.copy()
    frame["outcome_name"] = [name_of(outcome_names, str(o)) for o in frame["outcome"]]
    if what_if.interventions:
        what = join_names([name_of(intervention_names, i) for i in what_if.interventions])
    else:
        what = "break rates " + ", ".join(
            f"{name_of(None, m)} ×{f:.2f}" for m, f in what_if.factors.items()
        )
    return (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("outcome_name:N", title=None),
            x=alt.X("gain:Q", title="gain per case, in each outcome's unit"),
            color=alt.Color(
                "perspective:N",
                title="for",
                scale=alt.Scale(domain=["user", "provider"], range=[SKY, ORANGE]),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=["outcome_name", "today", "after", "gain", "gain_per_year", "money_per_year"],
        )
        .properties(title=f"What if: {what}", width=420, height=alt.Step(26))
    )
