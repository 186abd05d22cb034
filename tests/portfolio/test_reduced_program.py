"""The reduced program against brute force on a seeded family of random small services.

Each service: 3–6 moments with retries, going back and leaving; two segments; a
binary outcome (sometimes reached more than once: repeat customers come back
to the start) and a numeric one, both valued; 0–3 interventions per moment,
some with positive effects (capped at a row's flow, as the chain does); a
random budget, objective, must-include and exclude. The truth is every
affordable subset evaluated on the chain (plans whose chain traps are not
plans). The program's best and runner-up must match it exactly.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from keymoments.errors import SolverWarning
from keymoments.journey.fit import FittedChains
from keymoments.model import Service
from keymoments.portfolio import optimise
from keymoments.portfolio.chain import ChainModel
from keymoments.portfolio.context import PlanContext, Valuation
from keymoments.portfolio.interventions import candidates, factors_of
from keymoments.portfolio.optimise import search_plans

VOLUME = 1_000


def random_context(seed: int, *, n_moments: int | None = None, repeat: bool | None = None):
    """A random service, its exact chain and its candidates (see module doc)."""
    rng = np.random.default_rng(seed)
    M = int(rng.integers(3, 7)) if n_moments is None else n_moments
    repeat = bool(rng.random() < 0.4) if repeat is None else repeat
    moments = [f"m{i}" for i in range(M)]
    ivs = []
    for i, m in enumerate(moments):
        for j in range(int(rng.integers(0, 4))):
            effect = float(
                rng.choice([rng.uniform(-0.95, -0.1), rng.uniform(0.05, 0.6)], p=[0.8, 0.2])
            )
            ivs.append(
                {
                    "id": f"iv{i}_{j}",
                    "moment": m,
                    "effect": round(effect, 3),
                    "cost": float(rng.integers(1, 20) * 100),
                    "cost_per_case": float(rng.integers(0, 3) / 10),
                }
            )
    ivs = ivs[:10] or [{"id": "iv0_0", "moment": "m0", "effect": -0.5, "cost": 500.0}]
    total = sum(iv["cost"] + iv.get("cost_per_case", 0.0) * VOLUME for iv in ivs)
    service = Service.model_validate(
        {
            "version": 1,
            "name": f"random {seed}",
            "volume": VOLUME,
            "budget": round(float(rng.uniform(0.2, 0.7)) * total, 2),
            "moments": [{"id": m, "reached": [f"{m}_ok"], "broken": [f"{m}_bad"]} for m in moments],
            "outcomes": [
                {"id": "won", "perspective": "provider", "reached": ["won"], "value": 200},
                {"id": "score", "perspective": "user", "column": "score", "value": 30},
            ],
            "interventions": ivs,
        }
    )
    S = 2 * M + 1
    won, done, exit_ = 2 * M, S, S + 1
    G = 2
    probs = np.zeros((G, 1 + S, S + 2))
    for g in range(G):
        brk = rng.uniform(0.05, 0.5, M)

        def arrive(k: int, brk: np.ndarray = brk) -> np.ndarray:
            out = np.zeros(S + 2)
            if k >= M:
                out[won], out[exit_] = 0.9, 0.1
            else:
                out[2 * k], out[2 * k + 1] = 1 - brk[k], brk[k]
            return out

        probs[g, 0] = arrive(0)
        for m in range(M):
            probs[g, 1 + 2 * m] = 0.95 * arrive(m + 1)
            probs[g, 1 + 2 * m, exit_] += 0.05
            retry, back = rng.uniform(0, 0.3), (rng.uniform(0, 0.2) if m else 0.0)
            leave = rng.uniform(0.1, 0.5)
            row = retry * arrive(m) + back * arrive(max(m - 1, 0))
            row += (1 - retry - back - leave) * arrive(m + 1)
            row[exit_] += leave
            probs[g, 2 + 2 * m] = row
        if repeat:  # some who win come back for more: the marker can be reached twice
            probs[g, 1 + won] = 0.3 * arrive(0)
            probs[g, 1 + won, done] = 0.7
        else:
            probs[g, 1 + won, done] = 1.0
    rewards = np.zeros((G, S))
    rewards[:, 0 : 2 * M : 2] = rng.uniform(0.0, 0.3, (G, M))
    rewards[:, 1 : 2 * M : 2] = rng.uniform(-1.0, 0.0, (G, M))
    w = rng.uniform(0.3, 0.7)
    fitted = FittedChains(
        probs, np.array([w, 1 - w]), {"score": rewards}, {"score": np.array([5.0, 4.0])}
    )
    chain = ChainModel(service, fitted)
    return PlanContext(
        service=service,
        chain=chain,
        candidates=candidates(service, volume=VOLUME),
        valuation=Valuation.of(service, volume=VOLUME),
        barrier_models={},
        volume_from_data=False,
    )


def brute_force(ctx: PlanContext, *, net: bool, include=(), exclude=()):
    """Every affordable plan's objective, best first (trapping plans left out)."""
    cands = ctx.candidates
    budget = float(ctx.service.budget or 0)
    subsets = [
        list(s)
        for r in range(len(cands) + 1)
        for s in itertools.combinations(range(len(cands)), r)
        if sum(cands[i].cost for i in s) <= budget
        and all(
            cands[i].id in {cands[j].id for j in s} for i, c in enumerate(cands) if c.id in include
        )
        and not any(cands[i].id in exclude for i in s)
    ]
    factors = np.stack([factors_of(s, cands, ctx.chain.n_moments) for s in subsets])
    out = ctx.chain.outcomes(np.vstack([ctx.chain.identity()[None], factors]))
    value = ctx.valuation.total(out[1:] - out[0])
    trapped = np.isnan(out[1:]).any(axis=1)
    cost = np.array([sum(cands[i].cost for i in s) for s in subsets])
    objective = value - cost if net else value
    order = [int(i) for i in np.argsort(-objective) if not trapped[i]]
    return [(float(objective[i]), sorted(subsets[i])) for i in order]


def objective_of(ctx: PlanContext, plan: list[int], *, net: bool) -> float:
    f = factors_of(plan, ctx.candidates, ctx.chain.n_moments)
    out = ctx.chain.outcomes(np.stack([ctx.chain.identity(), f]))
    value = float(ctx.valuation.total(out[1] - out[0]))
    return value - sum(ctx.candidates[p].cost for p in plan) if net else value


@pytest.mark.parametrize("seed", range(16))
def test_best_and_runner_up_equal_brute_force(seed: int) -> None:
    ctx = random_context(seed)
    rng = np.random.default_rng(1000 + seed)
    net = bool(seed % 3 == 2)
    ids = [c.id for c in ctx.candidates]
    include = [str(rng.choice(ids))] if seed % 4 == 1 else []
    exclude = [i for i in ids if i not in include][:1] if seed % 5 == 3 else []
    truth = brute_force(ctx, net=net, include=include, exclude=exclude)
    coef = ctx.valuation.money_per_unit * ctx.valuation.volume
    plans, found = search_plans(
        ctx, coef, net=net, budget=ctx.service.budget, include=include, exclude=exclude, top=2
    )
    assert found.proven
    best = objective_of(ctx, plans[0], net=net)
    scale = max(1.0, abs(truth[0][0]))
    assert best == pytest.approx(truth[0][0], abs=1e-9 * scale)
    # the same plan unless another one is worth the same to 1e-9
    if len(truth) > 1 and truth[0][0] - truth[1][0] > 1e-9 * scale:
        assert plans[0] == truth[0][1]
    if len(truth) > 1:
        assert len(plans) == 2
        assert objective_of(ctx, plans[1], net=net) == pytest.approx(truth[1][0], abs=1e-9 * scale)


def test_a_plan_that_traps_journeys_is_not_a_plan() -> None:
    # a positive effect so large it sends all of m0's flow to broken, whose only way on
    # is to retry m0: that plan would loop for ever, and the search must not pick it
    ctx = random_context(3, n_moments=3, repeat=False)
    P = ctx.chain.fitted.probs.copy()
    P[:, 2, :] = 0.0
    P[:, 2, 0:2] = P[:, 0, 0:2]  # m0:broken -> retry m0 only
    fitted = ctx.chain.fitted
    fitted = FittedChains(P, fitted.seg_w, fitted.rewards, fitted.intercepts)
    service = ctx.service.model_copy(
        update={
            "interventions": [
                *ctx.service.interventions,
                ctx.service.interventions[0].model_copy(
                    update={"id": "worse", "moment": "m0", "effect": 50.0, "cost": 1.0}
                ),
            ]
        }
    )
    ctx = PlanContext(
        service=service,
        chain=ChainModel(service, fitted),
        candidates=candidates(service, volume=VOLUME),
        valuation=Valuation.of(service, volume=VOLUME),
        barrier_models={},
        volume_from_data=False,
    )
    truth = brute_force(ctx, net=False)
    coef = ctx.valuation.money_per_unit * ctx.valuation.volume
    plans, found = search_plans(ctx, coef, budget=service.budget, top=2)
    assert found.proven
    # few interventions: every plan evaluated, the trapping ones left out
    assert found.method == "exhaustive"
    best = objective_of(ctx, plans[0], net=False)
    assert np.isfinite(best)
    assert best == pytest.approx(truth[0][0], rel=1e-9)


def test_time_limit_returns_the_best_plan_found_flagged_not_proven() -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
    from portfolio_solve import make_context

    ctx = make_context(40)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan = optimise(None, context=ctx, uncertainty=False, time_limit=1e-3)
    assert not plan.proven
    assert plan.cost <= float(ctx.service.budget or 0)
    assert any(issubclass(w.category, SolverWarning) for w in caught)
    assert "not proven optimal" in plan.headline
    assert "not proven optimal" in plan.notes[0]
    doc = plan.to_dict()
    assert doc["proven_optimal"] is False
    # with time to finish, the same call proves its plan
    done = optimise(None, context=ctx, uncertainty=False, time_limit=120)
    assert done.proven and done.to_dict()["proven_optimal"] is True
    assert done.value >= plan.value - 1e-6


def test_time_limit_must_be_positive() -> None:
    from keymoments.errors import ModelError

    ctx = random_context(0)
    with pytest.raises(ModelError, match="time limit"):
        optimise(None, context=ctx, uncertainty=False, time_limit=0)


def test_nothing_valued_picks_the_cheapest_plan() -> None:
    # no outcome counts (a perspective without money in the frontier): every plan is worth 0
    ctx = random_context(1)
    plans, found = search_plans(ctx, np.zeros(2), budget=ctx.service.budget, top=1)
    assert found.proven and plans == [[]]
