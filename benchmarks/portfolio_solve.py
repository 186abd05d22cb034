"""Benchmark: the exact portfolio program on a 20-moment service with 40 interventions.

Run from the repository root:

    python benchmarks/portfolio_solve.py [--repeats 5] [--old-repeats 1]

A generated service (20 moments with retries, going back and leaving; two
segments; a binary and a numeric outcome, both valued) gets 40 candidate
interventions, two per moment, and a budget of 30% of their total cost. It
reports, side by side in the same run:

- the exact program (``keymoments.portfolio``: the chain reduced to its
  moments as a mixed-integer program, HiGHS): median time over repeats for
  the best plan (building included) and for the best plus the runner-up (what
  ``optimise`` computes), and the process's peak resident memory (HiGHS' own
  allocations included);
- the previous program (the whole chain as the program, per-state visit
  bounds; ``keymoments.portfolio.milp``) on the same problem: the same plan,
  and the time ratio (``--old-repeats 0`` skips it: ~25 s a run);
- brute force over every subset on the exact chain, on the first 16
  candidates (65,536 subsets, batched linear algebra), against the search on
  the same 16 (which, at 16 interventions, evaluates every affordable plan on
  the full chain itself: ``keymoments.portfolio.certify``): the same plan, and
  the time ratio; its time per subset gives the estimate for all 2^40 subsets
  of the full problem;
- how the 40-candidate plan is certified (``exhaustive``, ``checked`` or
  ``program``) and how many plans were evaluated exactly;
- the naive baseline (rank interventions by value alone per unit cost, fill
  the budget greedily): its time, and how much value it leaves on the table
  against the exact plan.
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import statistics
import time

import numpy as np

from keymoments.journey.fit import FittedChains
from keymoments.model import Service
from keymoments.portfolio.chain import ChainModel
from keymoments.portfolio.context import PlanContext, Valuation
from keymoments.portfolio.interventions import candidates, factors_of, options_by_moment
from keymoments.portfolio.milp import ChainProgram
from keymoments.portfolio.optimise import best_plans, search_plans

N_MOMENTS = 20
VOLUME = 10_000


def make_context(n_candidates: int = 40, seed: int = 1) -> PlanContext:
    """A generated service and its chain (per segment, exact), with its candidates."""
    rng = np.random.default_rng(seed)
    moments = [f"m{i}" for i in range(N_MOMENTS)]
    interventions = []
    for j in range(n_candidates):
        effect = -float(rng.uniform(0.2, 0.8))
        interventions.append(
            {
                "id": f"iv{j}",
                "moment": moments[j % N_MOMENTS],
                "effect": round(effect, 3),
                "effect_range": [round(effect - 0.1, 3), round(min(effect + 0.1, 0.0), 3)],
                "cost": float(rng.integers(2, 30) * 1000),
                "cost_per_case": float(rng.integers(0, 4) / 10),
            }
        )
    total = sum(iv["cost"] + iv["cost_per_case"] * VOLUME for iv in interventions)
    service = Service.model_validate(
        {
            "version": 1,
            "name": "benchmark",
            "volume": VOLUME,
            "budget": round(0.3 * total),
            "moments": [{"id": m, "reached": [f"{m}_ok"], "broken": [f"{m}_bad"]} for m in moments],
            "outcomes": [
                {"id": "won", "perspective": "provider", "reached": ["won"], "value": 300},
                {"id": "score", "perspective": "user", "column": "score", "value": 25},
            ],
            "interventions": interventions,
        }
    )
    S = 2 * N_MOMENTS + 1
    won, done, exit_ = 2 * N_MOMENTS, S, S + 1
    G = 2
    probs = np.zeros((G, 1 + S, S + 2))
    for g in range(G):
        brk = rng.uniform(0.05, 0.35, N_MOMENTS) * (1 + 0.3 * g)

        def arrive(k: int, brk: np.ndarray = brk) -> np.ndarray:
            out = np.zeros(S + 2)
            if k >= N_MOMENTS:
                out[won], out[exit_] = 0.95, 0.05
            else:
                out[2 * k], out[2 * k + 1] = 1 - brk[k], brk[k]
            return out

        probs[g, 0] = arrive(0)
        for m in range(N_MOMENTS):
            probs[g, 1 + 2 * m] = 0.97 * arrive(m + 1)
            probs[g, 1 + 2 * m, exit_] += 0.03
            retry, back = (0.25, 0.1) if m % 3 == 1 else (0.0, 0.0)
            leave = float(rng.uniform(0.2, 0.5))
            row = retry * arrive(m) + back * arrive(max(m - 2, 0))
            row += (1 - retry - back - leave) * arrive(m + 1)
            row[exit_] += leave
            probs[g, 2 + 2 * m] = row
        probs[g, 1 + won, done] = 1.0
    rewards = np.zeros((G, S))
    rewards[:, 0 : 2 * N_MOMENTS : 2] = rng.uniform(0.0, 0.2, N_MOMENTS)
    rewards[:, 1 : 2 * N_MOMENTS : 2] = rng.uniform(-1.0, -0.1, N_MOMENTS)
    fitted = FittedChains(
        probs, np.array([0.6, 0.4]), {"score": rewards}, {"score": np.array([6.0, 5.0])}
    )
    chain = ChainModel(service, fitted)
    cands = candidates(service, volume=VOLUME)[:n_candidates]
    return PlanContext(
        service=service,
        chain=chain,
        candidates=cands,
        valuation=Valuation.of(service, volume=VOLUME),
        barrier_models={},
        volume_from_data=False,
    )


def value_of(ctx: PlanContext, plans: list[list[int]]) -> np.ndarray:
    """Exact money a year of each plan."""
    f = [ctx.chain.identity()] + [factors_of(p, ctx.candidates, ctx.chain.n_moments) for p in plans]
    out = ctx.chain.outcomes(np.stack(f))
    return ctx.valuation.total(out[1:] - out[0])


def solve(ctx: PlanContext, budget: float, top: int = 1) -> list[int]:
    coef = ctx.valuation.money_per_unit * ctx.valuation.volume
    return best_plans(ctx, coef, budget=budget, top=top)[0]


def solve_old(ctx: PlanContext, budget: float) -> list[int]:
    """The previous program: the whole chain, one visit variable per state and row."""
    coef = ctx.valuation.money_per_unit * ctx.valuation.volume
    opts = options_by_moment(ctx.candidates)
    program = ChainProgram(ctx.chain, opts, coef, budget=budget)
    program.c[: program.n_lam] -= 1e-6 * program.costs[: program.n_lam]
    sol = program.solve()
    assert sol is not None
    return sorted(p for m, k in sol.choice.items() for p in opts[m][k].members)


def brute_force(ctx: PlanContext, budget: float) -> tuple[list[int], int]:
    n = len(ctx.candidates)
    costs = np.array([c.cost for c in ctx.candidates])
    best, best_value, count = [], -np.inf, 0
    batch: list[list[int]] = []

    def flush() -> None:
        nonlocal best, best_value
        if batch:
            values = value_of(ctx, batch)
            k = int(np.argmax(values))
            if values[k] > best_value:
                best, best_value = batch[k], float(values[k])
            batch.clear()

    for r in range(n + 1):
        for s in itertools.combinations(range(n), r):
            count += 1
            if costs[list(s)].sum() <= budget:
                batch.append(list(s))
                if len(batch) == 4096:
                    flush()
    flush()
    return sorted(best), count


def greedy(ctx: PlanContext, budget: float) -> list[int]:
    alone = value_of(ctx, [[p] for p in range(len(ctx.candidates))])
    order = np.argsort(-alone / np.array([c.cost for c in ctx.candidates]))
    chosen, spent = [], 0.0
    for p in order:
        c = ctx.candidates[int(p)].cost
        if alone[p] > 0 and spent + c <= budget:
            chosen.append(int(p))
            spent += c
    return sorted(chosen)


def timed(fn, repeats: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--old-repeats", type=int, default=1)
    args = parser.parse_args()
    print(f"load: {os.getloadavg()[0]:.1f} (1-minute average), {os.cpu_count()} cores")

    ctx = make_context(40)
    budget = float(ctx.service.budget or 0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    t_exact, plan = timed(lambda: solve(ctx, budget), args.repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    t_two, _ = timed(lambda: solve(ctx, budget, top=2), args.repeats)
    exact_value = float(value_of(ctx, [plan])[0])  # type: ignore[list-item]
    print(
        f"exact program, 40 interventions on 20 moments (budget {budget:,.0f}): "
        f"median {t_exact:.3f} s over {args.repeats} (best and runner-up: {t_two:.3f} s), "
        f"peak memory of the process {peak:.0f} MB ({before:.0f} MB before solving); "
        f"plan {len(plan)} interventions, value {exact_value:,.0f} a year"  # type: ignore[arg-type]
    )
    coef = ctx.valuation.money_per_unit * ctx.valuation.volume
    _, found = search_plans(ctx, coef, budget=budget, top=2)
    print(
        f"certificate: {found.certificate} ({found.checked:,} plans evaluated exactly); "
        f"{'; '.join(found.notes) or 'no notes'}"
    )
    print(f"load: {os.getloadavg()[0]:.1f}")
    if args.old_repeats > 0:
        t_old, old_plan = timed(lambda: solve_old(ctx, budget), args.old_repeats)
        print(
            f"previous program (whole chain): median {t_old:.2f} s over {args.old_repeats}; "
            f"ratio {t_old / t_exact:,.0f}x; same plan: {sorted(old_plan) == plan}"  # type: ignore[arg-type]
        )
        print(f"load: {os.getloadavg()[0]:.1f}")

    t_greedy, g_plan = timed(lambda: greedy(ctx, budget), args.repeats)
    g_value = float(value_of(ctx, [g_plan])[0])  # type: ignore[list-item]
    print(
        f"naive baseline (greedy by value alone per cost): median {t_greedy:.3f} s; value "
        f"{g_value:,.0f} a year, {100 * (1 - g_value / exact_value):.2f}% below the exact plan"
    )

    small = make_context(16)
    small_budget = 0.3 * sum(c.cost for c in small.candidates)
    t_small, s_plan = timed(lambda: solve(small, small_budget), args.repeats)
    t0 = time.perf_counter()
    b_plan, n_subsets = brute_force(small, small_budget)
    t_brute = time.perf_counter() - t0
    same = sorted(s_plan) == b_plan  # type: ignore[arg-type]
    per_subset = t_brute / n_subsets
    print(
        f"16 interventions: exact program median {t_small:.3f} s; brute force over "
        f"{n_subsets:,} subsets {t_brute:.2f} s (ratio {t_brute / t_small:,.0f}x); "
        f"same plan: {same}"
    )
    print(
        f"brute force over all 2^40 subsets of the full problem, at that rate: about "
        f"{per_subset * 2**40 / 86400 / 365:,.0f} years"
    )
    print(f"load: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
