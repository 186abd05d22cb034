"""Validation case c1: the Rosetta Code knapsacks (0-1 and bounded) solved by the
portfolio optimiser, through the whole chain program.

Each item becomes moments on a straight journey that always break, each costing its
value on a numeric outcome when broken; an intervention with effect -1 stops one
moment breaking, so its gain is exactly the item's value and gains add up. A bounded
item with k units is k such moments, one intervention each.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from keymoments.journey.fit import FittedChains
from keymoments.model import Service
from keymoments.portfolio.chain import ChainModel
from keymoments.portfolio.context import PlanContext, Valuation
from keymoments.portfolio.interventions import candidates
from keymoments.portfolio.optimise import best_plans

CASE = json.loads(
    (
        Path(__file__).parents[1]
        / "data"
        / "validation"
        / "c1_budget_portfolio_knapsack_rosetta.json"
    ).read_text()
)
ITEMS = ast.literal_eval(CASE["dataset"]["how_to_load"].split("#")[0].split("=", 1)[1].strip())


def _knapsack(bounded: bool) -> tuple[PlanContext, list[str]]:
    units: list[tuple[str, int, float]] = []  # (item, weight, value) per unit
    for name, weight, value, most in ITEMS:
        if name == "sandwich":
            value = 60 if bounded else 160
        for _ in range(most if bounded else 1):
            units.append((name, weight, float(value)))
    n = len(units)
    service = Service.model_validate(
        {
            "version": 1,
            "name": "knapsack",
            "volume": 1,
            "budget": 400,
            "moments": [
                {"id": f"u{i}", "reached": [f"a{i}"], "broken": [f"b{i}"]} for i in range(n)
            ],
            "outcomes": [{"id": "worth", "perspective": "provider", "column": "worth", "value": 1}],
            "interventions": [
                {"id": f"u{i}", "moment": f"u{i}", "effect": -1.0, "cost": w}
                for i, (_, w, _) in enumerate(units)
            ],
        }
    )
    S = 2 * n
    P = np.zeros((1, 1 + S, S + 2))
    P[0, 0, 1] = 1.0  # start -> u0 broken
    for i in range(n):
        for state in (2 * i, 2 * i + 1):  # ok or broken, on to the next moment's broken state
            if i + 1 < n:
                P[0, 1 + state, 2 * (i + 1) + 1] = 1.0
            else:
                P[0, 1 + state, S] = 1.0
    rewards = np.zeros((1, S))
    rewards[0, 1::2] = [-v for _, _, v in units]
    fitted = FittedChains(P, np.ones(1), {"worth": rewards}, {"worth": np.zeros(1)})
    chain = ChainModel(service, fitted)
    ctx = PlanContext(
        service=service,
        chain=chain,
        candidates=candidates(service, volume=1),
        valuation=Valuation.of(service, volume=1),
        barrier_models={},
        volume_from_data=False,
    )
    return ctx, [name for name, _, _ in units]


@pytest.mark.parametrize("variant", ["zero_one", "bounded"])
def test_rosetta_knapsack(variant: str) -> None:
    expected = CASE["expected"][variant]
    ctx, names = _knapsack(variant == "bounded")
    coef = ctx.valuation.money_per_unit * ctx.valuation.volume
    best, runner_up = best_plans(ctx, coef, budget=400, top=2)
    chosen: dict[str, int] = {}
    for p in best:
        chosen[names[p]] = chosen.get(names[p], 0) + 1
    assert chosen == expected["selection"]
    weight = sum(ctx.candidates[p].cost for p in best)
    assert weight == expected["weight_used"]
    out = ctx.chain.outcomes(
        np.stack(
            [ctx.chain.identity()]
            + [
                np.where(np.isin(np.arange(len(names)), plan), 0.0, 1.0)
                for plan in (best, runner_up)
            ]
        )
    )
    value = out[1, 0] - out[0, 0]
    assert value == pytest.approx(expected["optimal_value"], abs=1e-6)
    if variant == "zero_one":
        # the runner-up (the best plan once the winner is cut off) is the published 1010
        assert out[2, 0] - out[0, 0] == pytest.approx(1010, abs=1e-6)
