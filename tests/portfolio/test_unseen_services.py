"""Five unseen services with interacting interventions: the plan chosen from their data
is the true optimum (brute force over all subsets on the planted chain, unique by at
least 5%), and its gains are within 15% of the planted truth."""

from __future__ import annotations

import numpy as np
import pytest
from unseen_services import brute_force, make_unseen, scaled, simulate, true_chain

from keymoments.analysis import analyse
from keymoments.portfolio import optimise, what_if
from keymoments.portfolio.context import PlanContext
from keymoments.portfolio.interventions import candidates, factors_of

SEEDS = [1, 2, 5, 6, 7]
# equity is tested on its own; here a widened gap is expected news, not a failure
pytestmark = pytest.mark.filterwarnings("ignore:plan .* widens the gap")


@pytest.fixture(scope="module", params=SEEDS)
def unseen(request):
    u = make_unseen(request.param)
    cases, events = simulate(u.planted, 20_000, seed=100 + request.param, events=True)
    result = analyse(u.service, events=events, cases=cases.rename(columns={"case": "Case"}))
    return u, result


def test_the_true_optimum_is_unique_by_five_percent(unseen) -> None:
    u, _ = unseen
    assert u.margin >= 0.05


def test_chosen_set_is_the_true_optimum(unseen) -> None:
    u, result = unseen
    plan = optimise(result, objective="value", uncertainty=False)
    assert tuple(sorted(plan.chosen)) == u.best
    assert plan.cost <= u.budget


def test_program_matches_brute_force_on_the_fitted_chain(unseen) -> None:
    u, result = unseen
    ctx = PlanContext.of(result)
    ranked = brute_force(ctx.chain, u.service, u.budget)
    plan = optimise(result, objective="value", uncertainty=False)
    assert tuple(sorted(plan.chosen)) == tuple(sorted(ranked[0][1]))
    assert plan.value == pytest.approx(ranked[0][0], rel=1e-9)
    assert plan.runner_up is not None
    assert plan.runner_up.value == pytest.approx(ranked[1][0], rel=1e-9)


def test_gains_within_15_percent_of_the_planted_truth(unseen) -> None:
    u, result = unseen
    plan = optimise(result, objective="value", uncertainty=False)
    cands = candidates(u.service, volume=10_000)
    chosen = [i for i, c in enumerate(cands) if c.id in plan.chosen]
    f = factors_of(chosen, cands, u.chain.n_moments)
    truth = u.chain.outcomes(np.stack([u.chain.identity(), f]))
    gain = truth[1] - truth[0]
    assert plan.gain["won"] == pytest.approx(gain[0], rel=0.15)
    assert plan.gain["score"] == pytest.approx(gain[1], rel=0.15)


def test_what_if_matches_simulating_the_planted_process() -> None:
    u = make_unseen(1)
    cands = candidates(u.service, volume=10_000)
    chosen = [i for i, c in enumerate(cands) if c.id in u.best]
    f = factors_of(chosen, cands, u.chain.n_moments)
    n = 150_000
    base, _ = simulate(u.planted, n, seed=7)
    after, _ = simulate(scaled(u.planted, f), n, seed=7)
    exact = u.chain.outcomes(np.stack([u.chain.identity(), f]))
    # common random numbers keep the simulated difference sharp
    assert after["won"].mean() - base["won"].mean() == pytest.approx(
        exact[1, 0] - exact[0, 0], abs=0.006
    )
    assert after["score"].mean() - base["score"].mean() == pytest.approx(
        exact[1, 1] - exact[0, 1], abs=0.03
    )


def test_true_chain_rebuilt_from_a_result_service_is_the_same() -> None:
    u = make_unseen(2)
    again = true_chain(u.planted, u.service)
    assert np.allclose(again.fitted.probs, u.chain.fitted.probs)


def test_what_if_on_fitted_chain_close_to_truth(unseen) -> None:
    u, result = unseen
    w = what_if(result, interventions=list(u.best))
    cands = candidates(u.service, volume=10_000)
    chosen = [i for i, c in enumerate(cands) if c.id in u.best]
    f = factors_of(chosen, cands, u.chain.n_moments)
    exact = u.chain.outcomes(np.stack([u.chain.identity(), f]))
    assert w.gain["won"] == pytest.approx(exact[1, 0] - exact[0, 0], rel=0.15)
    assert w.value["total"] == pytest.approx(
        10_000 * (400 * (exact[1, 0] - exact[0, 0]) + 20 * (exact[1, 1] - exact[0, 1])),
        rel=0.15,
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_true_chain_is_the_planted_process(seed: int) -> None:
    from planted import exact_truth

    u = make_unseen(seed)
    expected = exact_truth(u.planted)  # value iteration on the planted parameters
    for i, m in enumerate(u.planted.moments):
        f = u.chain.identity()
        f[i] = 0.0
        out = u.chain.outcomes(np.stack([u.chain.identity(), f]))
        assert out[1, 0] - out[0, 0] == pytest.approx(expected[m]["won"], abs=1e-10)
        assert out[1, 1] - out[0, 1] == pytest.approx(expected[m]["score"], abs=1e-10)
