"""What-if: the exact gain of any set of interventions, or of a free change of break rates.

Example:
    >>> import keymoments
    >>> from keymoments.portfolio import what_if
    >>> ex = keymoments.examples.load_health_check(n_cases=2000)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=0)
    >>> w = what_if(result, interventions=["sms_reminder"])
    >>> w.gain["check_completed"] > 0
    True
    >>> fixed = what_if(result, break_rates={"appointment": 0.0})
    >>> round(fixed.gain["check_completed"], 6) == round(
    ...     result.moment("appointment").impact["check_completed"]["recoverable"], 6)
    True
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keymoments.errors import ModelError
from keymoments.portfolio.context import PlanContext
from keymoments.portfolio.interventions import factors_of

if TYPE_CHECKING:
    import altair as alt

__all__ = ["WhatIf", "what_if"]


@dataclass
class WhatIf:
    """The exact consequences of one change to the service.

    ``gain`` is per case in each outcome's unit, ``per_year`` is that times the
    volume, ``value`` the money per year by perspective (and ``"total"``),
    ``cost`` the interventions' cost per year, ``factors`` the factor applied
    to each changed moment's break probability, ``segments`` the gain per
    segment.
    """

    service_name: str
    interventions: list[str]
    factors: dict[str, float]
    today: dict[str, float]
    after: dict[str, float]
    gain: dict[str, float]
    per_year: dict[str, float]
    money: dict[str, float]
    value: dict[str, float]
    cost: float
    volume: float
    segments: dict[str, dict[str, float]] = field(default_factory=dict)
    perspective: dict[str, str] = field(default_factory=dict)
    title: str = "What if"

    @property
    def summary(self) -> pd.DataFrame:
        """One row per outcome: today, after, gain per case and per year, money per year."""
        rows = [
            {
                "outcome": o,
                "perspective": self.perspective.get(o, ""),
                "today": self.today[o],
                "after": self.after[o],
                "gain": self.gain[o],
                "gain_per_year": self.per_year[o],
                "money_per_year": self.money[o],
            }
            for o in self.gain
        ]
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        from keymoments.result import json_safe

        return json_safe(  # type: ignore[no-any-return]
            {
                "interventions": list(self.interventions),
                "factors": dict(self.factors),
                "today": dict(self.today),
                "after": dict(self.after),
                "gain": dict(self.gain),
                "per_year": dict(self.per_year),
                "money": dict(self.money),
                "value": dict(self.value),
                "cost": self.cost,
                "volume": self.volume,
                "segments": {k: dict(v) for k, v in self.segments.items()},
            }
        )

    def plot(self) -> alt.Chart:
        """Gain per case of each outcome (bars)."""
        from keymoments.report.plan_charts import plot_what_if

        return plot_what_if(self)

    def _label(self) -> str:
        if self.interventions:
            return "what if " + ", ".join(self.interventions)
        return "what if " + ", ".join(f"{m} ×{f:.2f}" for m, f in self.factors.items())

    def __repr__(self) -> str:
        total = self.value.get("total", 0.0)
        return f"<WhatIf {self._label()}: {total:,.0f} a year, cost {self.cost:,.0f}>"

    def _repr_html_(self) -> str:
        table = self.summary.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return f"<div><h4>{html.escape(self._label())}</h4>{table}</div>"


def what_if(
    result: Any,
    *,
    interventions: Sequence[str] = (),
    break_rates: Mapping[str, float] | None = None,
    effects: Mapping[str, float] | None = None,
    weights: Mapping[str, float] | None = None,
    context: PlanContext | None = None,
) -> WhatIf:
    """The exact gain of a change, on the analysis' fitted chains.

    Args:
        result: an :class:`~keymoments.result.AnalysisResult`.
        interventions: ids of the model's interventions to apply together.
        break_rates: ``{moment_id: new break rate}``, a free change: the
            moment's break probability is scaled so that the chain's share of
            arrivals that break it becomes this rate (0 is the engine's "fix").
        effects: ``{intervention_id: effect}`` overriding the model's effects.
        weights: perspective or outcome weights for money (see
            :mod:`keymoments.portfolio.context`).

    Returns:
        A :class:`WhatIf`.
    """
    ctx = context or PlanContext.of(result, weights=weights)
    if context is not None and weights is not None:
        ctx = ctx.with_weights(weights)
    chain = ctx.chain
    service = ctx.service
    positions = [ctx.candidate(c) for c in interventions]
    factors = factors_of(
        positions,
        ctx.candidates,
        chain.n_moments,
        barrier_models=ctx.barrier_models,
        effects=effects,
    )
    ids = [m.id for m in service.moments]
    for moment, rate in (break_rates or {}).items():
        if moment not in ids:
            raise ModelError(f"unknown moment {moment!r}; moments: {', '.join(ids)}")
        i = ids.index(moment)
        if not service.moments[i].breakable:
            raise ModelError(f"moment {moment!r} has no 'broken' activities; it cannot break")
        try:
            factors[i] *= chain.factor_for_break_share(i, float(rate))
        except ValueError as exc:
            raise ModelError(f"break rate for {moment!r}: {exc}") from None
    ev = chain.evaluate(np.stack([chain.identity(), factors]))
    base, after = ev.outcomes[0], ev.outcomes[1]
    gain = after - base
    priced = ev.priced[1] - ev.priced[0]
    val = ctx.valuation
    money = val.per_year(priced)
    value = val.by_perspective(priced)
    value["total"] = float(np.nansum(money))
    outs = service.outcomes
    segments: dict[str, dict[str, float]] = {}
    data = getattr(result, "_journey", None)
    names = data.segments if data is not None else [str(g) for g in range(chain.n_segments)]
    if len(names) > 1:
        seg_gain = ev.per_segment[1] - ev.per_segment[0]
        for g, name in enumerate(names):
            segments[name] = {o.id: float(seg_gain[g, k]) for k, o in enumerate(outs)}
    return WhatIf(
        service_name=service.name,
        interventions=list(interventions),
        factors={ids[i]: float(f) for i, f in enumerate(factors) if f != 1.0},
        today={o.id: float(base[k]) for k, o in enumerate(outs)},
        after={o.id: float(after[k]) for k, o in enumerate(outs)},
        gain={o.id: float(gain[k]) for k, o in enumerate(outs)},
        per_year={o.id: float(gain[k] * val.volume) for k, o in enumerate(outs)},
        money={o.id: float(money[k]) for k, o in enumerate(outs)},
        value=value,
        cost=float(sum(ctx.candidates[p].cost for p in positions)),
        volume=val.volume,
        segments=segments,
        perspective={o.id: o.perspective for o in outs},
    )
