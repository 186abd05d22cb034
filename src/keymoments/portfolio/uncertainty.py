"""How sure is the plan? Monte Carlo over effect ranges and the bootstrap of the chain.

Each draw takes one bootstrap refit of the chains (journey signatures
resampled multinomially, as the engine's bootstrap does, numeric outcomes
with their within-signature spread) and one effect per intervention drawn
from a **triangular distribution** on its ``effect_range`` with its mode at
the point ``effect`` (the range read as the smallest and largest plausible
effect, the point as the most likely; an intervention without a range keeps
its point effect). Barrier interventions use the barrier models' bootstrap
replicates when they have them. On each draw the plan, the runner-up and
doing nothing are evaluated exactly on the same chain with the same effects,
so the comparisons are paired.

The plan's *return* is its money value per year minus its cost; it *beats
doing nothing* on a draw when that return is positive, and *beats the
runner-up* when it scores higher on the objective optimised (value, or value
minus cost).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from keymoments.gearing import resampled_counts
from keymoments.portfolio.chain import ChainModel
from keymoments.portfolio.context import PlanContext
from keymoments.portfolio.interventions import factors_of

__all__ = ["chain_replicates", "draw_effects", "monte_carlo"]

Array = NDArray[np.float64]
N_CHAINS = 100  # bootstrap refits shared out among the draws


def draw_effects(ctx: PlanContext, rng: np.random.Generator) -> dict[str, float]:
    """One effect per intervention, triangular on its range with the point effect as mode."""
    out = {}
    for c in ctx.candidates:
        lo, hi = c.effect_range
        out[c.id] = float(rng.triangular(lo, c.effect, hi)) if hi > lo else c.effect
    return out


def chain_replicates(ctx: PlanContext, n: int, seed: int) -> list[ChainModel]:
    """Bootstrap refits of the chains: signatures resampled with their counts."""
    data = getattr(ctx.result, "_journey", None)
    if data is None or n <= 0:
        return [ctx.chain]
    return [
        ChainModel.from_data(data, ctx.service, k, y_sums=y_sums, y_counts=y_counts)
        for k, y_sums, y_counts in resampled_counts(data, n, seed)
    ]


def monte_carlo(
    ctx: PlanContext,
    plans: Sequence[Sequence[int]],
    *,
    objective: str = "value",
    n_draws: int = 400,
    seed: int = 0,
    n_chains: int = N_CHAINS,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The distribution of each plan's return; P(plan 0 beats nothing) and beats plan 1."""
    rng = np.random.default_rng(seed)
    chains = chain_replicates(ctx, min(n_chains, n_draws), seed + 1)
    val = ctx.valuation
    costs = np.array([sum(ctx.candidates[p].cost for p in plan) for plan in plans])
    values = np.zeros((n_draws, len(plans)))
    if progress is not None:
        progress(0, n_draws)
    for d in range(n_draws):
        chain = chains[d % len(chains)]
        effects = draw_effects(ctx, rng)
        models = {
            m: (reps[d % len(reps)] if (reps := getattr(model, "replicates", None)) else model)
            for m, model in ctx.barrier_models.items()
        }
        factors = [chain.identity()] + [
            factors_of(
                plan, ctx.candidates, chain.n_moments, barrier_models=models, effects=effects
            )
            for plan in plans
        ]
        priced = chain.evaluate(np.stack(factors)).priced
        values[d] = val.total(priced[1:] - priced[0])
        if progress is not None and ((d + 1) % 50 == 0 or d + 1 == n_draws):
            progress(d + 1, n_draws)
    returns = values - costs[None, :]
    score = returns if objective == "net" else values
    ok = np.isfinite(returns[:, 0])
    out: dict[str, Any] = {
        "draws": int(ok.sum()),
        "distribution": "triangular on effect_range, mode at effect; chain bootstrap",
        "value": _quantiles(values[ok, 0]),
        "return": _quantiles(returns[ok, 0]),
        "p_beats_nothing": float(np.mean(returns[ok, 0] > 0)) if ok.any() else None,
        "p_beats_runner_up": None,
        "samples": returns[ok, 0].tolist(),
    }
    if len(plans) > 1:
        both = ok & np.isfinite(score[:, 1])
        out["p_beats_runner_up"] = (
            float(np.mean(score[both, 0] > score[both, 1])) if both.any() else None
        )
        out["runner_up_return"] = _quantiles(returns[both, 1])
    return out


def _quantiles(x: Array) -> dict[str, float | None]:
    if len(x) == 0:
        return {"mean": None, "p5": None, "median": None, "p95": None}
    q = np.percentile(x, [5, 50, 95])
    return {"mean": float(x.mean()), "p5": float(q[0]), "median": float(q[1]), "p95": float(q[2])}
