"""The frontier of user gain against provider gain, across budgets and weights.

Each perspective's score is its money per year when any of its outcomes
counts as money, otherwise the sum of its outcomes' gains per case (in their
own units). For every budget on a grid and every weight ``a`` from 0 to 1,
the exact chain program finds the plan maximising
``a · user / U* + (1 − a) · provider / P*``, where ``U*`` and ``P*`` are the
best each side can get alone at the largest budget. At each budget, the
plans no other plan of that budget beats on both sides form its frontier
(more money buys more of both, so across budgets the largest would dominate).
The **sweet-spot plan** is the frontier plan, at the model's budget (or the
largest traced), whose worse side does best (the largest
``min(user / U*, provider / P*)``), the cheaper one on a tie.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from keymoments.model import PERSPECTIVES
from keymoments.portfolio.context import PlanContext
from keymoments.portfolio.optimise import evaluate_plans, search_plans

__all__ = ["frontier", "perspective_scores"]

Array = NDArray[np.float64]
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)


def perspective_scores(ctx: PlanContext) -> tuple[dict[str, Array], dict[str, str]]:
    """Per perspective: coefficients on the outcomes' per-case gains, and their unit."""
    val = ctx.valuation
    coef: dict[str, Array] = {}
    unit: dict[str, str] = {}
    outs = ctx.service.outcomes
    for p in PERSPECTIVES:
        mine = np.array([o.perspective == p for o in outs])
        money = val.money_per_unit * val.volume * mine
        if np.any(money != 0):
            coef[p] = money
            unit[p] = "money a year"
        else:
            coef[p] = mine.astype(float)
            names = [o.id for o in outs if o.perspective == p]
            unit[p] = ("gain per case: " + " + ".join(names)) if names else "none"
    return coef, unit


def frontier(
    ctx: PlanContext,
    *,
    budgets: Sequence[float] | None = None,
    alphas: Sequence[float] = ALPHAS,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    time_limit: float | None = None,
) -> pd.DataFrame:
    """Plans across budgets and user/provider weights (see module doc).

    Columns: ``budget``, ``alpha`` (weight on the user), ``plan`` (ids, ``+``
    joined), ``cost``, ``user``, ``provider``, ``value``, ``on_frontier``,
    ``sweet_spot``. ``time_limit`` bounds each plan's search (seconds); a plan
    it cut short is the best found, marked ``proven`` False.
    """
    coef, _ = perspective_scores(ctx)
    usable = ctx.usable()
    total_cost = float(sum(ctx.candidates[p].cost for p in usable))
    if budgets is None:
        grid = list(np.linspace(0.0, total_cost, 6)[1:])
        if ctx.service.budget is not None:
            grid.append(float(ctx.service.budget))
        budgets = sorted(set(round(b, 6) for b in grid))
    top_budget = max(budgets) if budgets else None

    unproven: set[tuple[float | None, float]] = set()

    def solve(c: Array, budget: float | None, alpha: float = -1.0) -> list[int]:
        plans, found = search_plans(
            ctx, c, budget=budget, include=include, exclude=exclude, top=1, time_limit=time_limit
        )
        if not found.proven:
            unproven.add((budget, alpha))
        return plans[0] if plans else []

    best_user = solve(coef["user"], top_budget)
    best_provider = solve(coef["provider"], top_budget)
    _, _, (gu, gp) = evaluate_plans(ctx, [best_user, best_provider])
    u_star = float(gu @ coef["user"]) or 1.0
    p_star = float(gp @ coef["provider"]) or 1.0
    u_star = u_star if u_star > 0 else 1.0
    p_star = p_star if p_star > 0 else 1.0
    rows = []
    total = len(budgets) * len(alphas)
    done = 0
    if progress is not None:
        progress(0, total)
    for budget in budgets:
        for a in alphas:
            c = a * coef["user"] / u_star + (1 - a) * coef["provider"] / p_star
            plan = solve(c, budget, float(a))
            _, _, gain = evaluate_plans(ctx, [plan])
            rows.append(
                {
                    "budget": float(budget),
                    "alpha": float(a),
                    "plan": "+".join(ctx.candidates[p].id for p in plan) or "(nothing)",
                    "cost": float(sum(ctx.candidates[p].cost for p in plan)),
                    "user": float(gain[0] @ coef["user"]),
                    "provider": float(gain[0] @ coef["provider"]),
                    "value": float(ctx.valuation.total(gain[0])),
                    "proven": (float(budget), float(a)) not in unproven,
                }
            )
            done += 1
            if progress is not None:
                progress(done, total)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    u, p = frame["user"].to_numpy(), frame["provider"].to_numpy()
    b = frame["budget"].to_numpy()
    # the frontier at each budget: plans no other plan within that budget beats on both sides
    dominated = np.array(
        [
            bool(np.any((b == b[i]) & (u >= u[i]) & (p >= p[i]) & ((u > u[i]) | (p > p[i]))))
            for i in range(len(u))
        ]
    )
    frame["on_frontier"] = ~dominated
    # the sweet spot is chosen at the model's budget (or the largest traced)
    at = ctx.service.budget if ctx.service.budget in set(b.tolist()) else float(b.max())
    balance = np.minimum(u / u_star, p / p_star)
    balance = np.where(frame["on_frontier"] & (b == at), balance, -np.inf)
    best = np.flatnonzero(np.isclose(balance, balance.max()))
    pick = int(best[np.argmin(frame["cost"].to_numpy()[best])])
    frame["sweet_spot"] = (frame["plan"] == frame["plan"].iloc[pick]) & (b == at)
    return frame
