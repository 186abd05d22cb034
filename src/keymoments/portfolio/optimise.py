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

import dataclasses
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from keymoments.errors import ModelError, SolverWarning, StatisticsWarning
from keymoments.portfolio.certify import EXHAUSTIVE_INTERVENTIONS
from keymoments.portfolio.context import PlanContext
from keymoments.portfolio.interventions import Option, factors_of, options_by_moment
from keymoments.portfolio.reduced import MomentProgram, SearchResult
from keymoments.portfolio.results import InterventionRow, Plan, Portfolio
from keymoments.portfolio.uncertainty import N_CHAINS, draw_values, mean_effects, summarise

__all__ = [
    "best_plans",
    "cautions",
    "evaluate_plans",
    "optimise",
    "plan_in_analysis",
    "search_plans",
]

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
# Plans at the modes the choice under uncertainty compares (with the best at the
# expected effects), when every plan is evaluated anyway.
CANDIDATES = 4
# A crude odds ratio at least this far from one (log scale: 10%) counts as pointing a way.
_CLEAR = float(np.log(1.1))
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
    objective: Objective = "net",
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
    """The set of interventions that returns most within the budget, exactly on the fitted chain.

    The plans best at the most likely effects (the modes) are found exactly
    (:mod:`keymoments.portfolio.certify`); with ``uncertainty``, the plan chosen
    among them, and the best plan at the expected effects, is the one with the
    highest **expected** objective over the effect ranges and the analysis'
    bootstrap chains (:mod:`keymoments.portfolio.uncertainty`). When that is
    not the plan at the modes, both are shown and a note says why.

    Args:
        result: an :class:`~keymoments.result.AnalysisResult` (from ``analyse``).
        budget: the most the plan may cost a year (default: the model's
            ``budget``; none means no limit).
        objective: ``"net"`` (value minus cost a year, the default) or
            ``"value"`` (money a year, whatever the cost within the budget).
        weights: perspective or outcome weights for money, e.g.
            ``{"user": 1, "provider": 1, "experience": 40}`` (see
            :mod:`keymoments.portfolio.context`).
        include: interventions the plan must contain; ``exclude``: ones it must not.
        uncertainty: run the Monte Carlo over effect ranges and the chain bootstrap,
            and choose for the expected objective.
        n_draws: Monte Carlo draws.
        seed: Monte Carlo seed.
        chain_bootstrap: the analysis' bootstrap chains shared out among the draws
            (default: all it kept, at most 100; 0: effects only).
        progress: called as ``progress(stage, done, total)``.
        time_limit: seconds the program may take past the exhaustive threshold; when
            it runs out, the best plan found so far is returned with ``proven=False``
            and a :class:`~keymoments.errors.SolverWarning` (default: no limit).

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
    choose = uncertainty and n_draws > 0
    search_args: dict[str, Any] = {
        "net": objective == "net",
        "budget": budget,
        "include": include,
        "exclude": exclude,
        "time_limit": time_limit,
    }
    # candidates for the choice under uncertainty: the best few plans at the modes (free
    # when every plan is evaluated anyway), and the best at the expected effects
    few = choose and len(ctx.usable()) <= EXHAUSTIVE_INTERVENTIONS
    plans, search = search_plans(ctx, coefficients, top=CANDIDATES if few else 2, **search_args)
    if not plans:
        raise ModelError(
            f"no plan fits: the interventions that must be included cost more than the "
            f"budget of {budget:,.0f}"
        )
    notify("plan", 1, 1)
    if chain_bootstrap is None:
        chain_bootstrap = N_CHAINS
    pool = [list(p) for p in plans]
    mc: dict[str, Any] | None = None
    chosen_at, runner_at = 0, (1 if len(pool) > 1 else None)
    if choose:
        at_means = _at_mean_effects(ctx)
        if at_means is not None:
            extra, _ = search_plans(at_means, coefficients, top=1, **search_args)
            pool += [p for p in extra if p not in pool]
        values, used = draw_values(
            ctx,
            pool,
            n_draws=n_draws,
            seed=seed,
            n_chains=chain_bootstrap,
            progress=lambda done, total: notify("uncertainty", done, total),
        )
        costs = np.array([sum(ctx.candidates[p].cost for p in plan) for plan in pool])
        score = values - costs[None] if objective == "net" else values
        with np.errstate(invalid="ignore"):
            expected = np.where(np.isfinite(score).all(axis=0), score.mean(axis=0), -np.inf)
        order = [int(i) for i in np.argsort(-expected, kind="stable")]
        chosen_at = order[0]
        runner_at = order[1] if len(order) > 1 else None
        mc = summarise(
            values, costs, objective=objective, chosen=chosen_at, runner_up=runner_at, chains=used
        )
        mc["chosen_by"] = "expected objective over the effect ranges and the bootstrap"
        # each plan's objective at the modes, in money a year (the search's own objective
        # leaves out what no plan moves)
        _, _, pool_priced = evaluate_plans(ctx, pool)
        at_modes = [
            float(val.total(pool_priced[j])) - (costs[j] if objective == "net" else 0.0)
            for j in range(len(pool))
        ]
        mc["plans_compared"] = [
            {
                "chosen": [ctx.candidates[p].id for p in plan],
                "objective_at_modes": at_modes[j],
                "expected_objective": float(expected[j]),
                "expected_return": float(np.mean(values[:, j] - costs[j])),
            }
            for j, plan in enumerate(pool)
        ]
    best = pool[chosen_at]
    runner = pool[runner_at] if runner_at is not None else None
    modal = pool[0]
    singles = [[p] for p in range(len(ctx.candidates)) if p in set(ctx.usable())]
    without = [[q for q in best if q != p] for p in best]
    shown = [best, *([runner] if runner is not None else []), *([modal] if modal != best else [])]
    gains, seg_gains, priced = evaluate_plans(ctx, [*shown, *singles, *without])
    n_shown = len(shown)
    plan_objs = [_plan(ctx, m, gains[j], seg_gains[j], priced[j]) for j, m in enumerate(shown)]
    single_value = {
        singles[j][0]: float(val.total(priced[n_shown + j])) for j in range(len(singles))
    }
    plan_value = plan_objs[0].value
    marginal = {
        p: plan_value - float(val.total(priced[n_shown + len(singles) + j]))
        for j, p in enumerate(best)
    }
    rows = []
    usable = set(ctx.usable())
    for p, c in enumerate(ctx.candidates):
        alone = single_value.get(p)
        in_plan = marginal.get(p)
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
                value_in_plan=in_plan,
                usable=p in usable,
                below_cost=in_plan is not None and in_plan < c.cost,
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
        runner_up=plan_objs[1] if runner is not None else None,
        interventions=rows,
        volume=val.volume,
        volume_from_data=ctx.volume_from_data,
        outcomes=[o.id for o in service.outcomes],
        perspective={o.id: o.perspective for o in service.outcomes},
        counted={o.id: c for o, c in zip(service.outcomes, val.counted, strict=True)},
        segments=_segment_names(ctx),
        context=ctx,
        at_modes=plan_objs[-1] if modal != best else None,
        certificate=search.certificate,
        plans_evaluated=search.checked,
    )
    portfolio.proven = search.proven
    portfolio.gap = search.gap
    portfolio.solve_seconds = search.seconds
    portfolio.method = search.method
    portfolio.uncertainty = mc
    portfolio.check_equity()
    portfolio.notes = _notes(ctx, include, exclude) + portfolio.equity_warnings + search.notes
    if modal != best and mc is not None:
        portfolio.notes.insert(0, _why_not_modes(ctx, portfolio, mc, chosen_at))
    portfolio.notes += [
        f"{r.name} is in the plan but adds {r.value_in_plan:,.0f} a year for a cost of "
        f"{r.cost:,.0f}: the plan would return more without it"
        + (" (it must be included)" if r.id in include else "")
        for r in rows
        if r.chosen and r.below_cost and r.value_in_plan is not None
    ]
    portfolio.cautions = cautions(ctx, rows)
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
    for note in portfolio.equity_warnings:
        warnings.warn(note, StatisticsWarning, stacklevel=2)
    return portfolio


def _at_mean_effects(ctx: PlanContext) -> PlanContext | None:
    """The context with each effect at its expected value (None: the same as the modes)."""
    means = mean_effects(ctx)
    if all(abs(means[c.id] - c.effect) < 1e-12 for c in ctx.candidates):
        return None
    moved = [dataclasses.replace(c, effect=means[c.id]) for c in ctx.candidates]
    return dataclasses.replace(ctx, candidates=moved)


def _why_not_modes(ctx: PlanContext, portfolio: Portfolio, mc: dict[str, Any], at: int) -> str:
    """Why the plan chosen for its expected objective is not the best at the modes."""
    modal, chosen = portfolio.at_modes, portfolio.plan
    assert modal is not None
    compared = mc["plans_compared"]
    what = "return" if portfolio.objective == "net" else "value"
    modal_at = modal.net if portfolio.objective == "net" else modal.value
    chosen_at = chosen.net if portfolio.objective == "net" else chosen.value
    text = (
        f"at the most likely effects the best plan is {', '.join(modal.chosen) or 'nothing'} "
        f"({what} {modal_at:,.0f} a year, against {chosen_at:,.0f} for the plan chosen); over "
        f"the effect ranges and the bootstrap the plan chosen, "
        f"{', '.join(chosen.chosen) or 'nothing'}, has the higher expected {what} "
        f"({compared[at]['expected_objective']:,.0f} against "
        f"{compared[0]['expected_objective']:,.0f} a year)"
    )
    skewed = []
    for cid in sorted(set(modal.chosen) - set(chosen.chosen)):
        c = ctx.candidates[ctx.candidate(cid)]
        mean = (c.effect_range[0] + c.effect + c.effect_range[1]) / 3
        if abs(mean) < abs(c.effect) - 1e-12:
            skewed.append(
                f"{c.name} ({c.effect:+.0%}, likely range {c.effect_range[0]:+.0%} to "
                f"{c.effect_range[1]:+.0%}: {mean:+.0%} expected)"
            )
    if skewed:
        text += (
            ": the effect of "
            + "; ".join(skewed)
            + " is more likely weaker than its point value, its range reaching further toward "
            "no effect"
        )
    else:
        text += (
            ": the two plans are close at the modes, and the ranges of their effects and the "
            "chain's bootstrap favour the plan chosen on average"
        )
    return text


def cautions(ctx: PlanContext, rows: Sequence[InterventionRow]) -> list[str]:
    """Interventions whose value is negative, or rests on a barrier whose crude and adjusted
    effects point opposite ways (the adjustment reverses what the raw data say)."""
    out = []
    barriers = getattr(ctx.result, "barriers", None)
    for r in rows:
        if r.value_alone is not None and r.value_alone < 0:
            out.append(
                f"{r.name} ({r.id}) is worth {r.value_alone:,.0f} a year on its own: on the "
                "fitted journeys it makes things worse; check its effect and the data before "
                "acting on it"
            )
        if r.barrier is None or barriers is None:
            continue
        try:
            estimate = barriers.estimate(r.barrier)
        except (KeyError, ValueError):
            continue
        crude, adjusted = estimate.crude_odds_ratio, estimate.odds_ratio
        if crude is None or adjusted is None or crude <= 0 or adjusted <= 0:
            continue
        # opposite sides of one, and both clear of it: the adjusted interval excludes one
        # and the crude ratio is at least 10% away (noise around one is no reversal)
        lo, hi = getattr(estimate, "odds_ratio_ci", (None, None))
        clear = lo is None or hi is None or lo > 1 or hi < 1
        if np.log(crude) * np.log(adjusted) < 0 and abs(np.log(crude)) >= _CLEAR and clear:
            out.append(
                f"{r.name} ({r.id}) rests on barrier {r.barrier!r}, whose crude and adjusted "
                f"effects point opposite ways (odds ratio {crude:.2f} in the raw data, "
                f"{adjusted:.2f} adjusted for the other barriers and the segments): a control "
                "that is too coarse can turn a harm into a protection; check the barrier model "
                "before acting on it"
            )
    return out


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
