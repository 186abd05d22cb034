"""The portfolio result: the chosen plan, its figures, and the views of it.

:attr:`Portfolio.summary` has one row per intervention: ``id``, ``name``,
``moment``, ``barrier``, ``effect``, ``cost`` (per year), ``chosen``,
``value_alone`` (money a year if it were the only change), ``value_in_plan``
(what the plan loses without it), ``roi`` ((value alone − cost) / cost) and
``payback_months`` (12 × cost / value alone) and ``below_cost`` (chosen, yet
what the plan loses without it is less than its cost).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

if TYPE_CHECKING:
    import altair as alt

    from keymoments.portfolio.context import PlanContext

__all__ = ["InterventionRow", "Plan", "Portfolio", "payback_months", "roi"]


def _exhaustive_up_to() -> int:
    from keymoments.portfolio.certify import EXHAUSTIVE_INTERVENTIONS

    return EXHAUSTIVE_INTERVENTIONS


def roi(value: float | None, cost: float) -> float | None:
    """Return on investment: (value − cost) / cost; ``None`` for a free change."""
    if value is None or cost <= 0:
        return None
    return (value - cost) / cost


def payback_months(value: float | None, cost: float) -> float | None:
    """Months of the yearly value needed to cover the cost; ``None`` if it never pays."""
    if value is None or value <= 0:
        return None
    return 12.0 * cost / value


@dataclass
class Plan:
    """A set of interventions and its exact figures (gain per case, money a year)."""

    members: list[int]
    chosen: list[str]
    cost: float
    gain: dict[str, float]
    per_year: dict[str, float]
    money: dict[str, float]
    value: float
    by_perspective: dict[str, float]
    segment_gain: NDArray[np.float64]  # (segments, outcomes)

    @property
    def net(self) -> float:
        """Value minus cost, a year."""
        return self.value - self.cost

    @property
    def roi(self) -> float | None:
        """(value − cost) / cost."""
        return roi(self.value, self.cost)

    @property
    def payback_months(self) -> float | None:
        """12 × cost / value."""
        return payback_months(self.value, self.cost)

    def to_dict(self) -> dict[str, Any]:
        """JSON view (without the per-segment array)."""
        return {
            "chosen": list(self.chosen),
            "cost": self.cost,
            "gain": dict(self.gain),
            "per_year": dict(self.per_year),
            "money": dict(self.money),
            "value": self.value,
            "value_by_perspective": dict(self.by_perspective),
            "net": self.net,
            "roi": self.roi,
            "payback_months": self.payback_months,
        }


@dataclass
class InterventionRow:
    """One candidate intervention and what it is worth."""

    id: str
    name: str
    moment: str
    barrier: str | None
    effect: float
    effect_range: tuple[float, float]
    cost: float
    chosen: bool
    value_alone: float | None
    value_in_plan: float | None
    usable: bool = True
    # chosen, but what the plan loses without it is less than its cost
    below_cost: bool = False


@dataclass
class Portfolio:
    """The best plan under the budget, exact on the fitted chain; see the module doc."""

    service_name: str
    budget: float | None
    objective: str
    weights: dict[str, float]
    include: list[str]
    exclude: list[str]
    plan: Plan
    runner_up: Plan | None
    interventions: list[InterventionRow]
    volume: float
    volume_from_data: bool
    outcomes: list[str]
    perspective: dict[str, str]
    counted: dict[str, bool]
    segments: list[str]
    uncertainty: dict[str, Any] | None = None
    equity: list[dict[str, Any]] = field(default_factory=list)
    equity_warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    context: PlanContext | None = field(default=None, repr=False)
    _frontier: pd.DataFrame | None = field(default=None, repr=False)
    _curves: pd.DataFrame | None = field(default=None, repr=False)
    title: str = "Where to spend"
    proven: bool = True  # False: the search hit its time limit; the best plan found
    gap: float = 0.0  # relative gap still open when it did
    solve_seconds: float = 0.0  # not in to_dict: the same analysis gives the same JSON
    method: str = "moments"  # "moments": the reduced program; "chain": the full one
    # the best plan at the most likely effects, when the plan chosen for its expected
    # objective over the effect ranges and the bootstrap is another
    at_modes: Plan | None = None
    # how the plan at the modes is known best (keymoments.portfolio.certify):
    # "exhaustive", "checked" or "program"; and how many plans were evaluated exactly
    certificate: str = "program"
    plans_evaluated: int = 0
    # interventions whose value is negative or rests on a reversed barrier effect
    cautions: list[str] = field(default_factory=list)

    # -- the contract's fields -----------------------------------------------------------

    @property
    def chosen(self) -> list[str]:
        """Ids of the chosen interventions."""
        return list(self.plan.chosen)

    @property
    def cost(self) -> float:
        """The plan's cost a year."""
        return self.plan.cost

    @property
    def gain(self) -> dict[str, float]:
        """Gain per case of each outcome."""
        return dict(self.plan.gain)

    @property
    def value(self) -> float:
        """Money a year."""
        return self.plan.value

    @property
    def headline(self) -> str:
        """One sentence: what to fund, what it costs and returns, how sure."""
        chosen = ", ".join(r.name for r in self.interventions if r.chosen) or "nothing"
        budget = "" if self.budget is None else f" within a budget of {self.budget:,.0f}"
        text = (
            f"Fund {chosen}{budget}: {self.cost:,.0f} a year for {self.value:,.0f} a year in money"
        )
        if not self.proven:
            text += " (the best plan found within the time limit, not proven optimal)"
        if self.at_modes is not None:
            text += (
                f" (chosen for its expected return over the effect ranges; at the most likely "
                f"effects {', '.join(self.at_modes.chosen) or 'nothing'} would be best)"
            )
        mc = self.uncertainty
        if mc and mc.get("p_beats_nothing") is not None:
            text += f"; it pays for itself with probability {mc['p_beats_nothing']:.0%}"
            if mc.get("p_beats_runner_up") is not None:
                text += f" and beats the runner-up with probability {mc['p_beats_runner_up']:.0%}"
        return text + "."

    # -- tables ----------------------------------------------------------------------------

    @property
    def summary(self) -> pd.DataFrame:
        """One row per intervention (columns in the module doc)."""
        rows = [
            {
                "id": r.id,
                "name": r.name,
                "moment": r.moment,
                "barrier": r.barrier,
                "effect": r.effect,
                "cost": r.cost,
                "chosen": r.chosen,
                "value_alone": r.value_alone,
                "value_in_plan": r.value_in_plan,
                "roi": roi(r.value_alone, r.cost),
                "payback_months": payback_months(r.value_alone, r.cost),
                "below_cost": r.below_cost,
            }
            for r in self.interventions
        ]
        return pd.DataFrame(rows)

    def check_equity(self) -> None:
        """Fill :attr:`equity` per segment and warn when the plan widens a gap."""
        from keymoments.portfolio.equity import gaps, widened

        ctx = self.context
        if ctx is None or len(self.segments) < 2:
            return
        today = ctx.chain.evaluate(ctx.chain.identity()[None]).per_segment[0]
        after = today + self.plan.segment_gain
        service = ctx.service
        direction = np.array([-1.0 if (o.value or 0) < 0 else 1.0 for o in service.outcomes])
        self.equity = []
        for g, seg in enumerate(self.segments):
            self.equity.append(
                {
                    "segment": seg,
                    "today": {o.id: float(today[g, k]) for k, o in enumerate(service.outcomes)},
                    "gain": {
                        o.id: float(self.plan.segment_gain[g, k])
                        for k, o in enumerate(service.outcomes)
                    },
                }
            )
        self.equity_warnings = []
        for k, (before, later) in enumerate(gaps(today, after, direction)):
            if widened(before, later):
                o = service.outcomes[k].id
                self.equity_warnings.append(
                    f"plan {'+'.join(self.chosen) or '(nothing)'} widens the gap between "
                    f"segments in {o!r} from {before:.4g} to {later:.4g}: it helps the "
                    "better-off segment most"
                )

    def frontier(self) -> pd.DataFrame:
        """User gain against provider gain across budgets and weights (computed once)."""
        if self._frontier is None:
            from keymoments.portfolio.frontier import frontier

            if self.context is None:
                return pd.DataFrame()
            self._frontier = frontier(self.context, include=self.include, exclude=self.exclude)
        return self._frontier

    def curves(self) -> pd.DataFrame:
        """Gearing curves of every moment with candidates (see :mod:`.curves`)."""
        if self._curves is None:
            from keymoments.portfolio.curves import gearing_curves

            if self.context is None:
                return pd.DataFrame()
            moments = list(dict.fromkeys(r.moment for r in self.interventions))
            self._curves = gearing_curves(self.context, moments=moments)
        return self._curves

    def to_dict(self) -> dict[str, Any]:
        """The JSON ``portfolio`` section: the contract's fields first, then the rest."""
        from keymoments.result import json_safe

        doc: dict[str, Any] = {
            "budget": self.budget,
            "chosen": self.chosen,
            "cost": self.cost,
            "gain": self.gain,
            "value": self.value,
            "objective": self.objective,
            "weights": dict(self.weights),
            "include": list(self.include),
            "exclude": list(self.exclude),
            "volume": self.volume,
            "volume_from_data": self.volume_from_data,
            "value_by_perspective": dict(self.plan.by_perspective),
            "per_year": dict(self.plan.per_year),
            "money": dict(self.plan.money),
            "counted_as_money": dict(self.counted),
            "net": self.plan.net,
            "roi": self.plan.roi,
            "payback_months": self.plan.payback_months,
            "runner_up": self.runner_up.to_dict() if self.runner_up else None,
            "interventions": self.summary.to_dict(orient="records"),
            "uncertainty": None
            if self.uncertainty is None
            else {k: v for k, v in self.uncertainty.items() if k != "samples"},
            "equity": self.equity,
            "equity_warnings": list(self.equity_warnings),
            "notes": list(self.notes),
            "frontier": None if self._frontier is None else self._frontier.to_dict("records"),
            "method": "exact mixed-integer program on the fitted chain (HiGHS)",
            "proven_optimal": self.proven,
            "optimality_gap": self.gap,
            "search": {
                "certificate": self.certificate,
                "plans_evaluated": self.plans_evaluated,
                "exhaustive_up_to": _exhaustive_up_to(),
                "program": self.method,
            },
            "at_modes": self.at_modes.to_dict() if self.at_modes else None,
            "cautions": list(self.cautions),
        }
        return json_safe(doc)  # type: ignore[no-any-return]

    # -- charts --------------------------------------------------------------------------------

    def plot(self) -> alt.Chart:
        """Each intervention's value a year against its cost; the chosen ones marked."""
        import altair as alt

        frame = self.summary.assign(status=lambda d: np.where(d["chosen"], "chosen", "not chosen"))
        points = (
            alt.Chart(frame)
            .mark_point(filled=True, size=120)
            .encode(
                x=alt.X("cost:Q", title="cost a year"),
                y=alt.Y("value_alone:Q", title="value a year (alone)"),
                color=alt.Color(
                    "status:N",
                    scale=alt.Scale(domain=["chosen", "not chosen"], range=["#009E73", "#999999"]),
                ),
                tooltip=["name", "moment", "cost", "value_alone", "value_in_plan", "roi"],
            )
        )
        labels = points.mark_text(align="left", dx=8).encode(text="name:N")
        line = (
            alt.Chart(pd.DataFrame({"x": [0, float(frame["cost"].max() or 1)]}))
            .mark_rule(strokeDash=[4, 4], color="#666")
            .encode(x="x:Q", y="x:Q")
        )
        return (points + labels + line).properties(
            title=f"{self.service_name}: value against cost (dashed: break-even)"
        )

    def plot_frontier(self) -> alt.Chart:
        """User gain against provider gain across budgets and weights, sweet spot marked."""
        import altair as alt

        frame = self.frontier().copy()
        frame["kind"] = np.where(
            frame["sweet_spot"], "sweet spot", np.where(frame["on_frontier"], "frontier", "other")
        )
        return (
            alt.Chart(frame)
            .mark_point(filled=True, size=90)
            .encode(
                x=alt.X("user:Q", title="user gain"),
                y=alt.Y("provider:Q", title="provider gain"),
                color=alt.Color(
                    "kind:N",
                    scale=alt.Scale(
                        domain=["sweet spot", "frontier", "other"],
                        range=["#D55E00", "#0072B2", "#BBBBBB"],
                    ),
                ),
                tooltip=["plan", "budget", "alpha", "cost", "user", "provider", "value"],
            )
            .properties(title=f"{self.service_name}: user against provider gain")
        )

    def plot_curves(self) -> alt.Chart:
        """Gain of each outcome as each planned-for moment's break rate goes to zero."""
        import altair as alt

        frame = self.curves()
        return (
            alt.Chart(frame)
            .mark_line(point=True)
            .encode(
                x=alt.X("break_rate:Q", title="break rate", scale=alt.Scale(reverse=True)),
                y=alt.Y("gain:Q", title="gain per case"),
                color="moment:N",
                tooltip=["moment", "break_rate", "outcome", "gain", "money"],
            )
            .facet(column=alt.Column("outcome:N", title=None))
            .resolve_scale(y="independent")
            .properties(title=f"{self.service_name}: gearing curves")
        )

    def plot_uncertainty(self) -> alt.Chart:
        """Histogram of the plan's return a year over the Monte Carlo draws."""
        import altair as alt

        samples = (self.uncertainty or {}).get("samples", [])
        frame = pd.DataFrame({"return": samples})
        return (
            alt.Chart(frame)
            .mark_bar()
            .encode(x=alt.X("return:Q", bin=alt.Bin(maxbins=40)), y="count():Q")
            .properties(title=f"{self.service_name}: the plan's return a year (value − cost)")
        )

    # -- notebooks ------------------------------------------------------------------------------

    def __repr__(self) -> str:
        chosen = ", ".join(self.chosen) or "nothing"
        return f"<Portfolio {chosen}: value {self.value:,.0f} a year, cost {self.cost:,.0f}>"

    def _repr_html_(self) -> str:
        table = self.summary.to_html(index=False, float_format=lambda v: f"{v:,.4g}", na_rep="")
        chosen = ", ".join(self.chosen) or "nothing"
        return (
            f"<div><h4>{html.escape(self.title)}: {html.escape(chosen)}</h4>"
            f"<p>value {self.value:,.0f} a year for {self.cost:,.0f}</p>{table}</div>"
        )
