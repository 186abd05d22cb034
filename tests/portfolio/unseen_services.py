"""Unseen services for the portfolio: planted journeys, interventions that interact, and
the true best plan found by brute force on the chain built from the planted parameters.

Journeys come from the planted-truth generator of the journey tests (moments in
order with retries, going back, leaving and optional moments, per segment). The
*true chain* is built here by hand from those parameters, independently of any
data; the tests check it against that generator's own value iteration, then use
it for the truth of every what-if and for the brute-force optimum.
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "journey"))

from planted import Planted, simulate

from keymoments.journey.fit import FittedChains
from keymoments.model import Service
from keymoments.portfolio.chain import ChainModel

__all__ = ["Unseen", "make_unseen", "scaled", "simulate", "true_chain"]


def true_chain(p: Planted, service: Service) -> ChainModel:
    """The planted process as an absorbing chain over moment states, per segment."""
    n_m = len(p.moments)
    S = 2 * n_m + 1  # moment states, then the 'won' marker
    won = 2 * n_m
    G = len(p.segments)
    probs = np.zeros((G, 1 + S, S + 2))
    done, exit_ = S, S + 1
    for g, seg in enumerate(p.segments):
        b = np.array(p.break_p[seg], dtype=float)

        def arrive(k: int, b: np.ndarray = b, seg: str = seg) -> np.ndarray:
            """Distribution over to-states on heading for position k (skips resolved)."""
            out = np.zeros(S + 2)
            weight = 1.0
            while k < n_m:
                visit = weight * (1 - p.skip[k])
                out[2 * k] += visit * (1 - b[k])
                out[2 * k + 1] += visit * b[k]
                weight *= p.skip[k]
                k += 1
            out[won] += weight * p.win_p[seg]
            out[exit_] += weight * (1 - p.win_p[seg])
            return out

        probs[g, 0] = arrive(0)
        for m in range(n_m):
            leave_o = p.leave_after_ok[seg][m]
            probs[g, 1 + 2 * m] = (1 - leave_o) * arrive(m + 1)
            probs[g, 1 + 2 * m, exit_] += leave_o
            retry, back = p.retry[m], p.back[m]
            leave_b = p.leave_after_break[seg][m]
            fwd = 1 - retry - back - leave_b
            row = retry * arrive(m) + back * arrive(p.back_to[m]) + fwd * arrive(m + 1)
            row[exit_] += leave_b
            probs[g, 1 + 2 * m + 1] = row
        probs[g, 1 + won, done] = 1.0
    rewards = np.zeros((G, S))
    rewards[:, 0 : 2 * n_m : 2] = p.reward_ok
    rewards[:, 1 : 2 * n_m : 2] = p.reward_broken
    intercepts = np.array([p.intercept[s] for s in p.segments])
    seg_w = np.array(list(p.segments.values()), dtype=float)
    fitted = FittedChains(probs, seg_w / seg_w.sum(), {"score": rewards}, {"score": intercepts})
    return ChainModel(service, fitted)


def scaled(p: Planted, factors: np.ndarray) -> Planted:
    """The planted process with each moment's break probability multiplied by its factor."""
    return dataclasses.replace(
        p,
        break_p={
            s: [min(1.0, b * f) for b, f in zip(v, factors, strict=True)]
            for s, v in p.break_p.items()
        },
    )


@dataclass
class Unseen:
    """One generated service with its planted process, interventions and true optimum."""

    planted: Planted
    service: Service
    chain: ChainModel  # the true chain
    budget: float
    best: tuple[str, ...]
    margin: float  # best over runner-up, relative


def _service(p: Planted, interventions: list[dict], budget: float, seed: int) -> Service:
    return Service.model_validate(
        {
            "version": 1,
            "name": f"Unseen service {seed}",
            "columns": {"case_id": "Case", "activity": "Step", "timestamp": "When"},
            "volume": 10_000,
            "budget": budget,
            "moments": [{"id": m, "reached": p.oks(m), "broken": p.brokens(m)} for m in p.moments],
            "outcomes": [
                {"id": "won", "perspective": "provider", "reached": ["outcome_won"], "value": 400},
                {"id": "score", "perspective": "user", "column": "score", "value": 20},
            ],
            "segments": ["group"],
            "interventions": interventions,
            "analysis": {"bootstrap": 0, "seed": seed},
        }
    )


def _planted(rng: np.random.Generator, n_m: int) -> Planted:
    moments = [f"step{i}" for i in range(n_m)]
    segs = {"a": 0.55, "b": 0.45}
    base = rng.uniform(0.08, 0.4, n_m)
    return Planted(
        moments=moments,
        segments=segs,
        break_p={"a": list(base), "b": list(np.minimum(base * 1.4, 0.7))},
        retry=list(np.where(rng.random(n_m) < 0.3, 0.3, 0.0)),
        back=[0.0, *np.where(rng.random(n_m - 1) < 0.25, 0.2, 0.0).tolist()],
        back_to=[0] + [int(rng.integers(0, i)) for i in range(1, n_m)],
        leave_after_break={
            "a": list(rng.uniform(0.2, 0.5, n_m)),
            "b": list(rng.uniform(0.3, 0.6, n_m)),
        },
        leave_after_ok={"a": [0.02] * n_m, "b": [0.04] * n_m},
        skip=[0.0] * n_m,
        win_p={"a": 0.95, "b": 0.9},
        reward_ok=list(rng.uniform(0.0, 0.3, n_m)),
        reward_broken=list(rng.uniform(-1.5, -0.2, n_m)),
        intercept={"a": 6.0, "b": 5.0},
        noise=1.0,
    )


def _interventions(rng: np.random.Generator, p: Planted) -> list[dict]:
    n_m = len(p.moments)
    # two moments get two interventions each: they combine multiplicatively
    targets = [0, 0, 1, 1, *rng.choice(np.arange(2, n_m), size=4, replace=False).tolist()]
    order = rng.permutation(n_m)
    out = []
    for j, t in enumerate(targets):
        effect = float(-rng.uniform(0.25, 0.8))
        out.append(
            {
                "id": f"iv{j}",
                "moment": p.moments[int(order[t])],
                "effect": round(effect, 3),
                "effect_range": [round(effect - 0.1, 3), round(min(effect + 0.1, 0.0), 3)],
                "cost": float(rng.integers(5, 40) * 1000),
                "cost_per_case": float(rng.integers(0, 5) / 10),
            }
        )
    return out


def brute_force(chain: ChainModel, service: Service, budget: float) -> list[tuple[float, tuple]]:
    """Every affordable subset's money value a year on a chain, best first."""
    from keymoments.portfolio.context import Valuation
    from keymoments.portfolio.interventions import candidates, factors_of

    volume = float(service.volume or 0)
    cands = candidates(service, volume=volume)
    val = Valuation.of(service, volume=volume)
    subsets = [
        s
        for r in range(len(cands) + 1)
        for s in itertools.combinations(range(len(cands)), r)
        if sum(cands[i].cost for i in s) <= budget
    ]
    factors = np.stack([factors_of(list(s), cands, chain.n_moments) for s in subsets])
    out = chain.outcomes(np.vstack([chain.identity()[None], factors]))
    values = val.total(out[1:] - out[0])
    ranked = sorted(
        zip(values.tolist(), [tuple(cands[i].id for i in s) for s in subsets], strict=True),
        key=lambda t: -t[0],
    )
    return ranked


def make_unseen(seed: int) -> Unseen:
    """A service whose true optimum is unique by at least 5% (the budget is searched)."""
    rng = np.random.default_rng(seed)
    p = _planted(rng, int(rng.integers(6, 9)))
    ivs = _interventions(rng, p)
    total = sum(iv["cost"] + iv["cost_per_case"] * 10_000 for iv in ivs)
    for share in (0.45, 0.35, 0.55, 0.3, 0.6, 0.25, 0.5, 0.4):
        budget = round(total * share, -3)
        service = _service(p, ivs, budget, seed)
        chain = true_chain(p, service)
        ranked = brute_force(chain, service, budget)
        (v1, best), (v2, _) = ranked[0], ranked[1]
        margin = (v1 - v2) / abs(v1)
        if margin >= 0.05:
            return Unseen(p, service, chain, budget, tuple(sorted(best)), margin)
    raise RuntimeError(f"seed {seed}: no budget gives a unique optimum")
