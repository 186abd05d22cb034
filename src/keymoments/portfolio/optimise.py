"""The best portfolio under a budget: exact on the chain, by integer programming (HiGHS).

The program (:mod:`keymoments.portfolio.reduced`) is the fitted chain itself,
reduced to one unknown per moment, so the plan it proves best is best on the
chain, interactions included. The runner-up is the best plan once the winner
is cut off (a no-good cut), and both are re-evaluated with plain linear
algebra (:mod:`keymoments.portfolio.chain`) for the figures reported. With a
``time_limit`` the best plan found so far is returned, marked not proven
optimal (``Portfolio.proven``), with a warning.

Example:
    >>> import keymoments
    >>> from keymoments.portfolio import optimise
    >>> ex = keymoments.examples.load_health_check(n_cases=2000)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=0)
    >>> plan = optimise(result, budget=10_000, uncertainty=False)
    >>> plan.cost <= 10_000
    True
    >>> "sms_reminder" in plan.chosen
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from keymoments.errors import ModelError, SolverWarning, StatisticsWarning
from keymoments.portfolio.context import PlanContext
from keymoments.portfolio.interventions import Option, factors_of, options_by_moment
from keymoments.portfolio.reduced import MomentProgram, SearchResult
from keymoments.portfolio.results import InterventionRow, Plan, Portfolio
from keymoments.portfolio.uncertainty import N_CHAINS, monte_carlo

__all__ = ["best_plans", "evaluate_plans", "optimise", "plan_in_analysis", "search_plans"]

Array = NDArray[np.float64]
Objective = Literal["value", "net"]
Progress = Callable[[str, int, int], None]
# ``analyse`` plans on its own whenever the model has interventions: it must not hang
# on a huge model, so its search stops here (the plan then says it is not proven).
ANALYSE_TIME_LIMIT = 60.0
# ``analyse`` also traces the frontier (about 30 plans) when there are at most this
# many usable interventions: well under a second on the demos; beyond, ``keymoments
# plan`` or ``Portfolio.frontier()`` trace it on request.
FRONTIER_IN_ANALYSE = 12
# Plans of equal value are told apart by cost, the cheaper first (a millionth of
# the cost weighs less than any difference in value worth reporting).
_TIE_BREAK = 1e-6


def evaluate_plans(ctx: PlanContext, plans: Sequence[Sequence[int]]) -> tuple[Array, Array, Array]:
    """Exact gains of plans (candidate positions): outcome gains (P, O), per-segment
    gains (P, G, O), and the gains the money per unit multiplies (P, O; the outcome's
    own, or for an outcome priced by a value column the amount it brings per case)."""
    factors = [ctx.chain.identity()] + [
        factors_of(p, ctx.candidates, ctx.chain.n_moments, barrier_models=ctx.barrier_models)
        for p in plans
    ]
    ev = ctx.chain.evaluate(np.stack(factors))
    return (
        ev.outcomes[1:] - ev.outcomes[0],
        ev.per_segment[1:] - ev.per_segment[:1],
        ev.priced[1:] - ev.priced[0],
    )


def _program(
    ctx: PlanContext,
    coefficients: Array,
    *,
    net: bool,
    budget: float | None,
    include: Sequence[str],
    exclude: Sequence[str],
) -> tuple[MomentProgram, dict[int, list[Option]]]:
    allowed = ctx.usable()
    cands = [ctx.candidates[p] for p in allowed]
    opts = options_by_moment(
        cands, barrier_models=ctx.barrier_models, include=include, exclude=exclude
    )
    # options index the usable list; map back to positions in the full candidate list
    remapped = {
        m: [
            Option(o.moment_index, tuple(allowed[p] for p in o.members), o.factor, o.cost)
            for o in ol
        ]
        for m, ol in opts.items()
    }
    program = MomentProgram(
        ctx.chain,
        remapped,
        coefficients,
        net=net,
        budget=budget,
        cost_weight=0.0 if net else _TIE_BREAK,
    )
    return program, remapped


def search_plans(
    ctx: PlanContext,
    coefficients: Array,
    *,
    net: bool = False,
    budget: float | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    top: int = 2,
    time_limit: float | None = None,
) -> tuple[list[list[int]], SearchResult]:
    """The ``top`` best plans (candidate positions), best first, and how the search went."""
    program, opts = _program(
        ctx, coefficients, net=net, budget=budget, include=include, exclude=exclude
    )
    found = program.solve(top=top, time_limit=time_limit)
    plans = [
        sorted(p for m, k in sol.choice.items() for p in opts[m][k].members) for sol in found.plans
    ]
    return plans, found


def best_plans(
    ctx: PlanContext,
    coefficients: Array,
    *,
    net: bool = False,
    budget: float | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    top: int = 2,
    time_limit: float | None = None,
) -> list[list[int]]:
    """The ``top`` best plans (candidate positions), best first, by the exact chain program."""
    plans, _ = search_plans(
        ctx,
        coefficients,
        net=net,
        budget=budget,
        include=include,
        exclude=exclude,
        top=top,
        time_limit=time_limit,
    )
    return plans


def _check_ids(ctx: PlanContext, ids: Sequence[str], what: str) -> list[str]:
    for cid in ids:
        ctx.candidate(cid)
    usable = {ctx.candidates[p].id for p in ctx.usable()}
    missing = [c for c in ids if c not in usable]
    if missing and what == "include":
        raise ModelError(
            f"cannot include {', '.join(missing)}: barrier interventions need their barrier "
            "model, which this analysis does not have"
        )
    return list(ids)


def optimise(
    result: Any,
    *,
    budget: float | None = None,
    objective: Objective = "value",
    weights: Mapping[str, float] | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    uncertainty: bool = True,
    n_draws: int = 400,
    seed: int = 0,
    chain_bootstrap: int | None = None,
    progress: Progress | None = None,
    context: PlanContext | None = None,
    time_limit: float | None = None,
) -> Portfolio:
    """The set of interventions worth most within the budget, exactly on the fitted chain.

    Args:
        result: an :class:`~keymoments.result.AnalysisResult` (from ``analyse``).
        budget: the most the plan may cost a year (default: the model's
            ``budget``; none means no limit).
        objective: ``"value"`` (money per year) or ``"net"`` (value minus cost).
        weights: perspective or outcome weights for money, e.g.
            ``{"user": 1, "provider": 1, "experience": 40}`` (see
            :mod:`keymoments.portfolio.context`).
        include: interventions the plan must contain; ``exclude``: ones it must not.
        uncertainty: run the Monte Carlo over effect ranges and the chain bootstrap.
        n_draws: Monte Carlo draws.
        seed: Monte Carlo seed.
        chain_bootstrap: bootstrap refits of the chain shared out among the draws
            (default: as many as the analysis' bootstrap, at most 100; 0: effects only).
        progress: called as ``progress(stage, done, total)``.
        time_limit: seconds the search for the plan may take; when it runs out, the
            best plan found so far is returned with ``proven=False`` and a
            :class:`~keymoments.errors.SolverWarning` (default: no limit).

    Returns:
        A :class:`~keymoments.portfolio.results.Portfolio`.
    """
    if objective not in ("value", "net"):
        raise ModelError(f"unknown objective {objective!r}: use 'value' or 'net'")
    ctx = context or PlanContext.of(result, weights=weights)
    if context is not None and weights is not None:
        ctx = ctx.with_weights(weights)
    service = ctx.service
    if budget is None:
        budget = service.budget
    if budget is not None and budget < 0:
        raise ModelError(f"budget {budget} is negative; give a budget of 0 or more")
    _check_ids(ctx, include, "include")
    _check_ids(ctx, exclude, "exclude")
    both = set(include) & set(exclude)
    if both:
        raise ModelError(f"{', '.join(sorted(both))}: both included and excluded")
    notify = progress or (lambda stage, done, total: None)
    notify("plan", 0, 1)
    val = ctx.valuation
    coefficients = val.money_per_unit * val.volume
    if time_limit is not None and time_limit <= 0:
        raise ModelError(f"time limit {time_limit} must be a positive number of seconds")
    plans, search = search_plans(
        ctx,
        coefficients,
        net=objective == "net",
        budget=budget,
        include=include,
        exclude=exclude,
        top=2,
        time_limit=time_limit,
    )
    if not plans:
        raise ModelError(
            f"no plan fits: the interventions that must be included cost more than the "
            f"budget of {budget:,.0f}"
        )
    notify("plan", 1, 1)
    singles = [[p] for p in range(len(ctx.candidates)) if p in set(ctx.usable())]
    best = plans[0]
    without = [[q for q in best if q != p] for p in best]
    gains, seg_gains, priced = evaluate_plans(ctx, [*plans, *singles, *without])
    n_plans = len(plans)
    plan_objs = []
    for j, members in enumerate(plans):
        plan_objs.append(_plan(ctx, members, gains[j], seg_gains[j], priced[j]))
    single_value = {
        singles[j][0]: float(val.total(priced[n_plans + j])) for j in range(len(singles))
    }
    plan_value = plan_objs[0].value
    marginal = {
        p: plan_value - float(val.total(priced[n_plans + len(singles) + j]))
        for j, p in enumerate(best)
    }
    rows = []
    usable = set(ctx.usable())
    for p, c in enumerate(ctx.candidates):
        alone = single_value.get(p)
        rows.append(
            InterventionRow(
                id=c.id,
                name=c.name,
                moment=c.moment,
                barrier=c.barrier,
                effect=c.effect,
                effect_range=c.effect_range,
                cost=c.cost,
                chosen=p in best,
                value_alone=alone,
                value_in_plan=marginal.get(p),
                usable=p in usable,
            )
        )
    portfolio = Portfolio(
        service_name=service.name,
        budget=budget,
        objective=objective,
        weights=dict(val.weights),
        include=list(include),
        exclude=list(exclude),
        plan=plan_objs[0],
        runner_up=plan_objs[1] if n_plans > 1 else None,
        interventions=rows,
        volume=val.volume,
        volume_from_data=ctx.volume_from_data,
        outcomes=[o.id for o in service.outcomes],
        perspective={o.id: o.perspective for o in service.outcomes},
        counted={o.id: c for o, c in zip(service.outcomes, val.counted, strict=True)},
        segments=_segment_names(ctx),
        context=ctx,
    )
    portfolio.proven = search.proven
    portfolio.gap = search.gap
    portfolio.solve_seconds = search.seconds
    portfolio.method = search.method
    portfolio.check_equity()
    portfolio.notes = _notes(ctx, include, exclude) + portfolio.equity_warnings
    if not search.proven:
        gap = "unknown" if not np.isfinite(search.gap) else f"{search.gap:.2%}"
        unproven = (
            f"the search for the best plan stopped at its time limit of {time_limit:g} s: "
            f"this is the best plan found, not proven optimal (gap still open: {gap}); "
            "raise the time limit to prove it"
        )
        portfolio.notes.insert(0, unproven)
        warnings.warn(unproven, SolverWarning, stacklevel=2)
    elif not search.runner_up_proven:
        portfolio.notes.insert(
            0,
            f"the best plan is proven, but the time limit of {time_limit:g} s ran out looking "
            "for the runner-up: the one shown (if any) is the best other plan found",
        )
    if chain_bootstrap is None:
        chain_bootstrap = min(int(getattr(result, "n_boot", 0) or 0), N_CHAINS)
    if uncertainty:
        portfolio.uncertainty = monte_carlo(
            ctx,
            [plan_objs[0].members, *([plan_objs[1].members] if n_plans > 1 else [])],
            objective=objective,
            n_draws=n_draws,
            seed=seed,
            n_chains=chain_bootstrap,
            progress=lambda done, total: notify("uncertainty", done, total),
        )
    for note in portfolio.equity_warnings:
        warnings.warn(note, StatisticsWarning, stacklevel=2)
    return portfolio


def plan_in_analysis(result: Any, progress: Progress | None = None) -> Portfolio:
    """The plan ``analyse`` attaches: the model's budget and weights, and the frontier when cheap.

    The search stops after :data:`ANALYSE_TIME_LIMIT` seconds (the plan then
    says it is not proven optimal); the frontier is traced when the model has
    at most :data:`FRONTIER_IN_ANALYSE` usable interventions, otherwise the
    JSON's ``frontier`` stays null and a note says how to get it.
    """
    from keymoments.portfolio.frontier import frontier

    notify = progress or (lambda stage, done, total: None)
    portfolio = optimise(result, progress=notify, time_limit=ANALYSE_TIME_LIMIT)
    ctx = portfolio.context
    if ctx is None:
        return portfolio
    usable = len(ctx.usable())
    if usable <= FRONTIER_IN_ANALYSE:
        portfolio._frontier = frontier(
            ctx,
            include=portfolio.include,
            exclude=portfolio.exclude,
            progress=lambda done, total: notify("frontier", done, total),
            time_limit=ANALYSE_TIME_LIMIT / 10,
        )
    else:
        portfolio.notes.append(
            f"the user/provider frontier is not traced during the analysis for {usable} "
            f"interventions (more than {FRONTIER_IN_ANALYSE}): run 'keymoments plan' or "
            "Portfolio.frontier() to trace it"
        )
    return portfolio


def _notes(ctx: PlanContext, include: Sequence[str], exclude: Sequence[str]) -> list[str]:
    notes = []
    usable = set(ctx.usable())
    left = [c.id for p, c in enumerate(ctx.candidates) if p not in usable]
    if left:
        notes.append(
            f"barrier interventions {', '.join(left)} are left out of the plan: their "
            "moments have no barrier model (it needs the barriers and a cases table)"
        )
    if ctx.volume_from_data:
        notes.append(
            f"the model gives no 'volume'; money a year uses the {ctx.valuation.volume:,.0f} "
            "cases in the data as a year's volume"
        )
    return notes


def _plan(
    ctx: PlanContext, members: list[int], gain: Array, seg_gain: Array, priced: Array
) -> Plan:
    val = ctx.valuation
    outs = ctx.service.outcomes
    cost = float(sum(ctx.candidates[p].cost for p in members))
    money = val.per_year(priced)
    value = float(np.nansum(money))
    return Plan(
        members=list(members),
        chosen=[ctx.candidates[p].id for p in members],
        cost=cost,
        gain={o.id: float(gain[k]) for k, o in enumerate(outs)},
        per_year={o.id: float(gain[k] * val.volume) for k, o in enumerate(outs)},
        money={o.id: float(money[k]) for k, o in enumerate(outs)},
        value=value,
        by_perspective=val.by_perspective(priced),
        segment_gain=np.asarray(seg_gain, dtype=float),
    )


def _segment_names(ctx: PlanContext) -> list[str]:
    data = getattr(ctx.result, "_journey", None)
    return list(data.segments) if data is not None else []
