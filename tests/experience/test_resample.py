"""The bootstrap over weighted sums: exact sums, and intervals as wide as the sampling truth."""

from __future__ import annotations

import numpy as np
import pytest

from keymoments.experience.drivers import measure_drivers
from keymoments.experience.ratings import RatingSummary
from keymoments.experience.resample import Resampler, products_matrix


def _patterns(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 3))
    counts = rng.integers(1, 5, size=n)
    return features, counts


@pytest.mark.parametrize("max_units", [10_000, 50])
def test_sums_over_units_are_the_weighted_sums_over_respondents(max_units: int) -> None:
    features, counts = _patterns(1, 400)
    r = Resampler(counts, seed=3, max_units=max_units)
    assert r.grouped == (max_units < 400)
    w = counts.astype(float)
    linear = r.point(r.unit_sums(features, products=False))
    np.testing.assert_allclose(linear, w @ features, rtol=1e-12)
    packed = r.point(r.unit_sums(features, products=True))
    np.testing.assert_allclose(products_matrix(packed, 3), (features * w[:, None]).T @ features)
    draws = r.draw_weights(5, np.random.default_rng(0))
    assert draws.shape == (5, r.n_units)
    # a draw keeps the sample's size: respondents for patterns, groups for groups
    np.testing.assert_array_equal(draws.sum(axis=1), w.sum() if not r.grouped else max_units)


def test_grouping_deals_every_respondent_once() -> None:
    counts = np.array([1, 1, 7, 1, 3] * 100)
    r = Resampler(counts, seed=0, max_units=40)
    per_group = r.unit_sums(np.ones((len(counts), 1)), products=False)[:, 0]
    assert per_group.sum() == counts.sum()
    assert per_group.min() > 0


def test_pattern_draws_are_the_respondent_bootstrap() -> None:
    """Few patterns: each draw is the multinomial over patterns by their counts."""
    counts = np.array([5, 2, 3])
    r = Resampler(counts)
    got = r.draw_weights(3, np.random.default_rng(9))
    rng = np.random.default_rng(9)
    want = [rng.multinomial(10, counts / 10) for _ in range(3)]
    np.testing.assert_array_equal(got, want)


def _survey(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.integers(1, 6, size=(n, 2)).astype(float)
    y = 0.8 * x[:, 0] + 0.4 * x[:, 1] + rng.normal(size=n)  # continuous: a pattern each
    return x, y


def _lmg_first(x: np.ndarray, y: np.ndarray) -> float:
    """LMG share of the first of two predictors, by hand: the mean of its two R² gains."""
    r = np.corrcoef(np.column_stack([x, y]).T)
    r1, r2, r12 = r[0, 2] ** 2, r[1, 2] ** 2, r[0, 1]
    full = (r[0, 2] ** 2 + r[1, 2] ** 2 - 2 * r[0, 2] * r[1, 2] * r12) / (1 - r12**2)
    return 0.5 * (r1 + (full - r2))


def test_grouped_intervals_match_the_sampling_distribution() -> None:
    """5,000 respondents make 5,000 patterns, so the draws resample groups of them.

    Truth: the spread of the same figures over 400 independent samples from
    the population. The bootstrap interval from one sample must be as wide as
    the central 95% of that spread (within Monte-Carlo noise).
    """
    n = 5000
    rng = np.random.default_rng(2024)
    truth_importance, truth_performance = [], []
    for _ in range(400):
        x, y = _survey(rng, n)
        truth_importance.append(_lmg_first(x, y))
        truth_performance.append(x[:, 0].mean())
    true_width = {
        "importance": np.diff(np.quantile(truth_importance, [0.025, 0.975]))[0],
        "performance": np.diff(np.quantile(truth_performance, [0.025, 0.975]))[0],
    }
    x, y = _survey(rng, n)
    summary = RatingSummary(
        moments=["a", "b"],
        outcomes=["overall"],
        values=np.column_stack([x, y]),
        n=np.ones(n, dtype=np.int64),
        segment=np.array(["all"] * n),
    )
    fitted = measure_drivers(summary, n_boot=400, seed=1)
    assert fitted is not None
    od = fitted.outcomes["overall"]
    assert od.figures["importance"][0] == pytest.approx(_lmg_first(x, y), abs=1e-10)
    for figure, width in true_width.items():
        lo, hi = od.intervals[figure][:, 0]
        assert 0.8 < (hi - lo) / width < 1.25, figure
