"""Equity: per-segment gains and the warning when a plan widens the gap between segments."""

from __future__ import annotations

import numpy as np
import pytest

from keymoments.errors import StatisticsWarning
from keymoments.journey.fit import FittedChains
from keymoments.model import Service
from keymoments.portfolio.chain import ChainModel
from keymoments.portfolio.context import PlanContext, Valuation
from keymoments.portfolio.equity import gaps, widened
from keymoments.portfolio.interventions import candidates
from keymoments.portfolio.optimise import optimise


def test_gap_today_and_after_by_hand() -> None:
    today = np.array([[0.45, 2.0], [0.15, 5.0]])
    after = np.array([[0.9, 1.0], [0.3, 4.9]])
    # second outcome is a cost (lower is better): the worse-off segment pays 5.0
    assert gaps(today, after, np.array([1.0, -1.0])) == [
        pytest.approx((0.3, 0.6)),
        pytest.approx((3.0, 3.9)),
    ]
    assert widened(0.3, 0.6) and not widened(0.3, 0.3001) and not widened(0.3, 0.2)


class _Result:
    """The two attributes PlanContext reads from an analysis result."""

    def __init__(self, service: Service, chain: ChainModel) -> None:
        self.service = service
        self._chain_model = chain
        self._journey = type("J", (), {"segments": ["poor", "well"]})()
        self.n_cases = 1000
        self.n_boot = 0


def test_a_fix_that_helps_the_well_off_most_is_flagged() -> None:
    service = Service.model_validate(
        {
            "version": 1,
            "name": "two segments",
            "volume": 100,
            "moments": [{"id": "a", "reached": ["a_ok"], "broken": ["a_bad"]}],
            "outcomes": [{"id": "won", "perspective": "provider", "reached": ["won"], "value": 10}],
            "interventions": [{"id": "fix_a", "moment": "a", "effect": -1.0, "cost": 1}],
        }
    )
    P = np.zeros((2, 4, 5))  # from start, a:ok, a:broken, won; to a:ok, a:broken, won, done, exit
    for g, win in enumerate((0.3, 0.9)):  # after passing a, the poor win 30%, the well-off 90%
        P[g, 0, :2] = 0.5
        P[g, 1, 2], P[g, 1, 4] = win, 1 - win
        P[g, 2, 4] = 1.0
        P[g, 3, 3] = 1.0
    chain = ChainModel(service, FittedChains(P, np.array([0.5, 0.5]), {}, {}))
    result = _Result(service, chain)
    with pytest.warns(StatisticsWarning, match=r"widens the gap .* 'won' from 0.3 to 0.6"):
        plan = optimise(result, uncertainty=False)
    assert plan.chosen == ["fix_a"]
    gains = {row["segment"]: row["gain"]["won"] for row in plan.equity}
    assert gains == {"poor": pytest.approx(0.15), "well": pytest.approx(0.45)}
    assert plan.to_dict()["equity_warnings"]
    assert candidates(service, volume=100)[0].cost == 1
    assert Valuation.of(service, volume=100).total(np.array([0.3])) == pytest.approx(300)
    assert PlanContext.of(result).chain is chain
