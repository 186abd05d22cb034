"""What the plan is chosen for: net return by default, expected over the effect ranges and the
analysis' own bootstrap chains; flags for interventions below their cost; cautions."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import keymoments
from keymoments.gearing import resampled_counts
from keymoments.journey.fit import FittedChains, fit_chains
from keymoments.model import Service
from keymoments.portfolio import optimise
from keymoments.portfolio.chain import ChainModel
from keymoments.portfolio.context import PlanContext, Valuation
from keymoments.portfolio.interventions import candidates
from keymoments.portfolio.optimise import cautions
from keymoments.portfolio.results import InterventionRow

pytestmark = pytest.mark.filterwarnings("ignore:plan .* widens the gap")


@pytest.fixture(scope="module")
def car():
    ex = keymoments.examples.load_car_purchase(n_cases=20_000)
    return ex, keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=30)


def test_car_default_plan_funds_nothing_below_its_cost(car) -> None:
    _, result = car
    plan = result.portfolio
    assert plan.objective == "net"
    chosen = [r for r in plan.interventions if r.chosen]
    assert chosen
    assert all(r.value_in_plan is not None and r.value_in_plan >= r.cost for r in chosen)
    assert not any(r.below_cost for r in plan.interventions)
    assert plan.to_dict()["search"]["certificate"] == "exhaustive"
    # the value objective spends the budget, and flags what is worth less than it costs
    by_value = optimise(result, objective="value", uncertainty=False)
    below = [r for r in by_value.interventions if r.chosen and r.below_cost]
    assert below, "the value objective funded nothing below its cost on the car demo"
    for r in below:
        assert r.value_in_plan < r.cost
        assert any(r.name in note and "for a cost of" in note for note in by_value.notes)
    assert any(rec["below_cost"] for rec in by_value.to_dict()["interventions"])


def test_monte_carlo_reads_the_bootstrap_chains(car, monkeypatch) -> None:
    _, result = car
    assert len(result.chain_draws) == 30
    # the first kept chain is the bootstrap's first draw, fitted as the analysis fits it
    data = result._journey
    k, y_sums, y_counts = next(resampled_counts(data, 1, result.seed))
    refit = fit_chains(data, result.service, k, y_sums=y_sums, y_counts=y_counts)
    kept = result.chain_draws[0]
    np.testing.assert_allclose(kept.views, refit.views, rtol=0, atol=1e-12)
    for o in refit.rewards:
        np.testing.assert_allclose(kept.rewards[o], refit.rewards[o], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(kept.intercepts[o], refit.intercepts[o], rtol=1e-9, atol=1e-9)

    # and the plan's Monte Carlo never fits a chain from the data again
    def refuse(*args, **kwargs):
        raise AssertionError("the Monte Carlo refitted the chains from the data")

    monkeypatch.setattr("keymoments.portfolio.chain.fit_chains", refuse)
    monkeypatch.setattr("keymoments.gearing.resampled_counts", refuse)
    plan = optimise(result, n_draws=60)
    mc = plan.uncertainty
    assert mc["chains"] == 30 and mc["draws"] == 60
    assert "bootstrap chains (30)" in mc["distribution"]
    assert 0.0 <= mc["p_beats_nothing"] <= 1.0


def _two_choices(first: dict, second: dict) -> PlanContext:
    """Two moments in a row, one intervention each, room for one."""
    service = Service.model_validate(
        {
            "version": 1,
            "name": "skewed",
            "volume": 10_000,
            "budget": 1_000,
            "moments": [
                {"id": "a", "name": "Step A", "reached": ["a"], "broken": ["a_x"]},
                {"id": "b", "name": "Step B", "reached": ["b"], "broken": ["b_x"]},
            ],
            "outcomes": [{"id": "won", "perspective": "provider", "reached": ["won"], "value": 50}],
            "interventions": [
                {"id": "bold", "name": "Bold bet", "moment": "a", "cost": 1_000, **first},
                {"id": "safe", "name": "Safe bet", "moment": "b", "cost": 1_000, **second},
            ],
        }
    )
    S = 5  # a:ok a:broken b:ok b:broken won
    P = np.zeros((1, S + 1, S + 2))
    P[0, 0, [0, 1]] = [0.7, 0.3]  # start -> a
    P[0, 1, [2, 3]] = [0.7, 0.3]  # a:ok -> b
    P[0, 3, 4] = 1.0  # b:ok -> won
    P[0, [2, 4], S + 1] = 1.0  # broken -> exit
    P[0, 5, S] = 1.0  # won -> done
    chain = ChainModel(service, FittedChains(P, np.ones(1), {}, {}))
    return PlanContext(
        service=service,
        chain=chain,
        candidates=candidates(service, volume=10_000),
        valuation=Valuation.of(service, volume=10_000),
        barrier_models={},
        volume_from_data=False,
    )


def test_chosen_for_the_expected_return_not_the_modes() -> None:
    # at the modes the bold bet halves A's breaks (worth a little more than the safe bet's
    # 45% on B), but its range reaches to no effect at all: expected, it is -35%
    ctx = _two_choices(
        {"effect": -0.5, "effect_range": [-0.55, 0.0]},
        {"effect": -0.45, "effect_range": [-0.5, -0.4]},
    )
    at_modes = optimise(None, context=ctx, uncertainty=False)
    assert at_modes.chosen == ["bold"]
    plan = optimise(None, context=ctx, n_draws=2000, seed=3)
    assert plan.chosen == ["safe"]
    assert plan.at_modes is not None and plan.at_modes.chosen == ["bold"]
    assert plan.runner_up is not None and plan.runner_up.chosen == ["bold"]
    mc = plan.uncertainty
    # the safe bet returns more in expectation; it beats the bold one in most draws
    compared = {tuple(p["chosen"]): p for p in mc["plans_compared"]}
    assert compared[("safe",)]["expected_return"] > compared[("bold",)]["expected_return"]
    assert compared[("bold",)]["objective_at_modes"] > compared[("safe",)]["objective_at_modes"]
    assert mc["p_beats_runner_up"] > 0.5
    # the expected returns by hand: value 50 × 10,000 × the gain in P(won) − cost. P(won) is
    # P(A ok) · P(B ok) = 0.7 · 0.7; an effect e moves 0.3·|e| of the breaks to ok, and the
    # gain is linear in e, so its expectation is at the triangular mean (lo + mode + hi) / 3
    safe = 50 * 10_000 * 0.7 * 0.3 * 0.45 - 1_000  # B: E[e] = -0.45
    bold = 50 * 10_000 * 0.3 * 0.35 * 0.7 - 1_000  # A: E[e] = (-0.55 - 0.5 + 0) / 3
    assert compared[("safe",)]["expected_return"] == pytest.approx(safe, rel=0.02)
    assert compared[("bold",)]["expected_return"] == pytest.approx(bold, rel=0.02)
    assert compared[("bold",)]["objective_at_modes"] == pytest.approx(
        50 * 10_000 * 0.3 * 0.5 * 0.7 - 1_000, rel=1e-9
    )
    note = plan.notes[0]
    assert "at the most likely effects the best plan is bold" in note
    assert "Bold bet" in note and "more likely weaker" in note
    doc = plan.to_dict()
    assert doc["at_modes"]["chosen"] == ["bold"]
    assert "most likely effects bold" in plan.headline


def test_no_ranges_chooses_the_plan_at_the_modes() -> None:
    ctx = _two_choices({"effect": -0.5}, {"effect": -0.45})
    plan = optimise(None, context=ctx, n_draws=50)
    assert plan.chosen == ["bold"] and plan.at_modes is None
    assert plan.uncertainty["p_beats_runner_up"] == 1.0  # same chain, same effects every draw


def test_cautions_for_negative_value_and_reversed_barriers() -> None:
    def row(iv: str, barrier: str | None, alone: float) -> InterventionRow:
        return InterventionRow(
            id=iv,
            name=iv.replace("_", " "),
            moment="appointment",
            barrier=barrier,
            effect=-0.5,
            effect_range=(-0.5, -0.5),
            cost=1.0,
            chosen=False,
            value_alone=alone,
            value_in_plan=None,
        )

    estimates = {
        "no_sms": SimpleNamespace(crude_odds_ratio=1.4, odds_ratio=0.57, odds_ratio_ci=(0.4, 0.8)),
        "long_wait": SimpleNamespace(crude_odds_ratio=2.0, odds_ratio=1.6, odds_ratio_ci=(1.2, 2)),
        # noise around one is no reversal
        "doctor": SimpleNamespace(crude_odds_ratio=1.02, odds_ratio=0.99, odds_ratio_ci=(0.8, 1.2)),
        "wide": SimpleNamespace(crude_odds_ratio=1.5, odds_ratio=0.7, odds_ratio_ci=(0.4, 1.3)),
    }
    barriers = SimpleNamespace(estimate=lambda b: estimates[b])
    ctx = SimpleNamespace(result=SimpleNamespace(barriers=barriers))
    rows = [
        row("sms_to_everyone", "no_sms", -1.8e6),
        row("shorter_wait", "long_wait", 5e4),
        row("plain_fix", None, 3e4),
        row("named_clinician", "doctor", 10.0),
        row("wide_one", "wide", 10.0),
    ]
    out = cautions(ctx, rows)  # type: ignore[arg-type]
    assert len(out) == 2
    assert "sms to everyone (sms_to_everyone) is worth -1,800,000 a year" in out[0]
    assert "odds ratio 1.40 in the raw data, 0.57 adjusted" in out[1]
    assert not any(w in c for c in out for w in ("shorter", "plain", "named", "wide"))
