"""How sure is the plan? Monte Carlo over effect ranges and the bootstrap of the chain.

Each draw takes one of the analysis' own bootstrap chains (the fitted chains
of its bootstrap draws, kept as the bootstrap made them:
:attr:`AnalysisResult.chain_draws`; never refitted from the data) and one
effect per intervention drawn from a **triangular distribution** on its
``effect_range`` with its mode at the point ``effect`` (the range read as the
smallest and largest plausible effect, the point as the most likely; an
intervention without a range keeps its point effect). Barrier interventions
use the barrier models' bootstrap replicates when they have them. On each draw
every plan compared and doing nothing are evaluated exactly on the same chain
with the same effects, so the comparisons are paired. An analysis run without
a bootstrap gives effects only (said in ``distribution``).

The plan's *return* is its money value per year minus its cost; it *beats
doing nothing* on a draw when that return is positive, and *beats the
runner-up* when it scores higher on the objective optimised (value minus
cost, or value).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from keymoments.portfolio.chain import ChainModel
from keymoments.portfolio.context import PlanContext
from keymoments.portfolio.interventions import factors_of

__all__ = ["chain_draws", "draw_effects", "draw_values", "monte_carlo", "summarise"]

Array = NDArray[np.float64]
N_CHAINS = 100  # bootstrap chains shared out among the draws (the analysis keeps 100)


def draw_effects(ctx: PlanContext, rng: np.random.Generator) -> dict[str, float]:
    """One effect per intervention, triangular on its range with the point effect as mode."""
    out = {}
    for c in ctx.candidates:
        lo, hi = c.effect_range
        out[c.id] = float(rng.triangular(lo, c.effect, hi)) if hi > lo else c.effect
    return out


def mean_effects(ctx: PlanContext) -> dict[str, float]:
    """Each intervention's expected effect under its triangular distribution."""
    return {c.id: (c.effect_range[0] + c.effect + c.effect_range[1]) / 3 for c in ctx.candidates}


def chain_draws(ctx: PlanContext, n: int) -> list[ChainModel]:
    """The analysis' bootstrap chains (at most ``n``); none when it ran without a bootstrap."""
    fitted = list(getattr(ctx.result, "chain_draws", None) or [])[: max(n, 0)]
    return [ChainModel(ctx.service, f) for f in fitted]


def draw_values(
    ctx: PlanContext,
    plans: Sequence[Sequence[int]],
    *,
    n_draws: int = 400,
    seed: int = 0,
    n_chains: int = N_CHAINS,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Array, int]:
    """Each plan's money value a year on each draw (draws × plans), and the chains used."""
    rng = np.random.default_rng(seed)
    chains = chain_draws(ctx, min(n_chains, n_draws)) or [ctx.chain]
    val = ctx.valuation
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
    used = len(chains) if chains[0] is not ctx.chain else 0
    return values, used


def summarise(
    values: Array,
    costs: Array,
    *,
    objective: str,
    chosen: int = 0,
    runner_up: int | None = 1,
    chains: int = 0,
) -> dict[str, Any]:
    """The Monte Carlo figures of plan ``chosen`` against ``runner_up`` and doing nothing."""
    returns = values - costs[None, :]
    score = returns if objective == "net" else values
    ok = np.isfinite(returns[:, chosen])
    distribution = "triangular on effect_range, mode at effect; " + (
        f"the analysis' bootstrap chains ({chains})" if chains else "effects only (no bootstrap)"
    )
    out: dict[str, Any] = {
        "draws": int(ok.sum()),
        "distribution": distribution,
        "chains": chains,
        "value": _quantiles(values[ok, chosen]),
        "return": _quantiles(returns[ok, chosen]),
        "p_beats_nothing": float(np.mean(returns[ok, chosen] > 0)) if ok.any() else None,
        "p_beats_runner_up": None,
        "samples": returns[ok, chosen].tolist(),
    }
    if runner_up is not None and values.shape[1] > runner_up:
        both = ok & np.isfinite(score[:, runner_up])
        out["p_beats_runner_up"] = (
            float(np.mean(score[both, chosen] > score[both, runner_up])) if both.any() else None
        )
        out["runner_up_return"] = _quantiles(returns[both, runner_up])
    return out


def monte_carlo(
    ctx: PlanContext,
    plans: Sequence[Sequence[int]],
    *,
    objective: str = "net",
    n_draws: int = 400,
    seed: int = 0,
    n_chains: int = N_CHAINS,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The distribution of each plan's return; P(plan 0 beats nothing) and beats plan 1."""
    values, used = draw_values(
        ctx, plans, n_draws=n_draws, seed=seed, n_chains=n_chains, progress=progress
    )
    costs = np.array([sum(ctx.candidates[p].cost for p in plan) for plan in plans])
    return summarise(
        values, costs, objective=objective, runner_up=1 if len(plans) > 1 else None, chains=used
    )


def _quantiles(x: Array) -> dict[str, float | None]:
    if len(x) == 0:
        return {"mean": None, "p5": None, "median": None, "p95": None}
    q = np.percentile(x, [5, 50, 95])
    return {"mean": float(x.mean()), "p5": float(q[0]), "median": float(q[1]), "p95": float(q[2])}
