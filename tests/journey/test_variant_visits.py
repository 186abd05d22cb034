"""Fixed chains by rank-one updates equal fixed chains solved one by one, traps included."""

from __future__ import annotations

import numpy as np
import pytest

from keymoments.examples import load_example
from keymoments.journey.kernel import (
    fix_moment,
    release_traps,
    variant_visits,
    visits_and_returns,
)
from keymoments.journey.states import StateSpace


def _one_by_one(probs, space, fixes, n_states, states):
    """The plain way: build every variant, release its traps, solve it."""
    stacked = np.stack([probs] + [fix_moment(probs, space, i, s) for i, s in fixes], axis=1)
    released, stuck = release_traps(stacked, n_states)
    visits, diag = visits_and_returns(released, n_states, states)
    return visits, diag, stuck


def _random_chains(space: StateSpace, draws: int, segments: int, seed: int) -> np.ndarray:
    """Random sparse chains that always end: every row leads somewhere, done or exit possible."""
    rng = np.random.default_rng(seed)
    n_from, n_to = space.n_transient + 1, space.n_transient + 2
    probs = rng.random((draws, segments, n_from, n_to)) * (
        rng.random((draws, segments, n_from, n_to)) < 0.3
    )
    probs[..., 1:, -2:] += 0.05  # a way out from every transient state
    return probs / probs.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rank_one_variants_equal_direct_solves(seed: int) -> None:
    service = load_example("health-check", n_cases=50, seed=1).service
    space = StateSpace.from_service(service)
    breakable = [i for i, m in enumerate(service.moments) if m.breakable]
    fixes = [(i, 1.0) for i in breakable] + [(i, 1e-6) for i in breakable]
    states = [space.broken(i) for i in breakable] + [space.ok(breakable[0])]
    probs = _random_chains(space, draws=4, segments=2, seed=seed)
    n = space.n_transient
    got = variant_visits(probs, space, fixes, n, states)
    want = _one_by_one(probs, space, fixes, n, states)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(got[2], want[2])


def test_a_fix_that_traps_journeys_is_found_and_released() -> None:
    service = load_example("health-check", n_cases=50, seed=1).service
    space = StateSpace.from_service(service)
    moment = next(i for i, m in enumerate(service.moments) if m.breakable)
    ok, broken = space.ok(moment), space.broken(moment)
    probs = _random_chains(space, draws=2, segments=2, seed=5)
    # in draw 1, segment 0, the only way on from "ok" is through "broken": fixing the
    # moment sends that flow back to "ok", a loop journeys never leave
    probs[1, 0, 1 + ok] = 0.0
    probs[1, 0, 1 + ok, broken] = 1.0
    probs[1, 0, 0] = 0.0
    probs[1, 0, 0, ok] = 1.0  # every journey starts there, so the trap is reached
    n = space.n_transient
    fixes = [(moment, 1.0), (moment, 1e-6)]
    got = variant_visits(probs, space, fixes, n, [broken, ok])
    want = _one_by_one(probs, space, fixes, n, [broken, ok])
    assert want[2][1, 1, 0]  # the plain way flags it stuck
    np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("memory", [(0,), (0, 2)])
def test_fixes_with_memory_equal_direct_solves(memory: tuple[int, ...]) -> None:
    # with memory a fix moves one column per history: a rank-r change (Woodbury)
    service = load_example("health-check", n_cases=50, seed=1).service
    space = StateSpace.from_service(service).with_memory(memory)
    breakable = [i for i, m in enumerate(service.moments) if m.breakable]
    fixes = [(i, 1.0) for i in breakable] + [(i, 1e-6) for i in breakable] + [(2, 0.3)]
    states = [space.broken(i) + space.n_base for i in breakable] + space.outcome_states(0)
    probs = _random_chains(space, draws=3, segments=2, seed=7)
    n = space.n_transient
    got = variant_visits(probs, space, fixes, n, states)
    want = _one_by_one(probs, space, fixes, n, states)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(got[2], want[2])
