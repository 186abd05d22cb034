"""Exact LMG against one regression per subset, and its edge cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from keymoments.experience.shapley import lmg, lmg_many, subset_r2


def _brute_force(corr: np.ndarray) -> np.ndarray:
    k = corr.shape[0] - 1
    out = np.zeros(k)
    for j in range(k):
        others = [i for i in range(k) if i != j]
        for s in range(k):
            weight = math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k)
            for subset in itertools.combinations(others, s):
                gain = subset_r2(corr, [*subset, j]) - subset_r2(corr, list(subset))
                out[j] += weight * gain
    return out


@pytest.mark.parametrize("k", [1, 2, 7])
def test_exact_matches_all_subset_regressions(k: int) -> None:
    rng = np.random.default_rng(k)
    x = rng.standard_normal((300, k)) @ rng.standard_normal((k, k))
    y = x @ rng.standard_normal(k) + rng.standard_normal(300)
    corr = np.corrcoef(np.column_stack([x, y]), rowvar=False)
    fit = lmg(corr)
    np.testing.assert_allclose(fit.shares, _brute_force(corr), atol=1e-12)
    assert fit.r2 == pytest.approx(subset_r2(corr, list(range(k))), abs=1e-12)


def test_a_duplicated_predictor_adds_no_r2_and_ties_with_its_copy() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 2))
    data = np.column_stack([x[:, 0], x[:, 0], x[:, 1], x @ [1.0, 0.5] + rng.standard_normal(500)])
    corr = np.corrcoef(data, rowvar=False)
    fit = lmg(corr)
    alone = lmg(corr[np.ix_([0, 2, 3], [0, 2, 3])])
    assert fit.shares[0] == pytest.approx(fit.shares[1], abs=1e-12)
    assert fit.shares[2] < alone.shares[1]  # the copy takes credit from the others, not R²
    assert fit.r2 == pytest.approx(alone.r2, abs=1e-9)


def test_sampling_above_the_limit_is_seeded_and_bounded() -> None:
    rng = np.random.default_rng(5)
    x = rng.standard_normal((400, 10))
    y = x @ np.linspace(0, 1, 10) + rng.standard_normal(400)
    corr = np.corrcoef(np.column_stack([x, y]), rowvar=False)
    exact = lmg(corr)
    first = lmg(corr, exact_limit=8, samples=3000, seed=1)
    again = lmg(corr, exact_limit=8, samples=3000, seed=1)
    np.testing.assert_array_equal(first.shares, again.shares)
    assert not first.exact
    # the bound is a 95% half-width per predictor: nearly all must hold
    assert np.mean(np.abs(first.shares - exact.shares) <= first.error) >= 0.8
    assert np.abs(first.shares - exact.shares).max() < 3 * first.error.max()


def test_rejects_a_matrix_with_gaps() -> None:
    with pytest.raises(ValueError, match="missing"):
        lmg(np.array([[1.0, np.nan], [np.nan, 1.0]]))


def _random_corr(rng: np.random.Generator, k: int, n: int = 200) -> np.ndarray:
    x = rng.standard_normal((n, k)) @ rng.standard_normal((k, k)) + rng.standard_normal((n, 1))
    y = x @ rng.standard_normal(k) + rng.standard_normal(n) * rng.uniform(0.1, 3)
    return np.corrcoef(np.column_stack([x, y]), rowvar=False)


@pytest.mark.parametrize("k", [1, 2, 3, 7, 12])
def test_many_at_once_equal_one_at_a_time(k: int) -> None:
    """The walk shared by many matrices gives each the single walk's shares and R²."""
    rng = np.random.default_rng(100 + k)
    corrs = [_random_corr(rng, k) for _ in range(23)]
    if k >= 3:
        # a predictor that copies another (pivot zero) in some matrices, not in others
        for c in corrs[::4]:
            c[:, 2], c[2, :] = c[:, 1], c[1, :]
            c[2, 2] = 1.0
    fits = lmg_many(corrs)
    for corr, fit in zip(corrs, fits, strict=True):
        one = lmg(corr)
        np.testing.assert_allclose(fit.shares, one.shares, rtol=0, atol=1e-13)
        assert fit.r2 == pytest.approx(one.r2, abs=1e-13)
        assert fit.exact
    if k <= 7:
        np.testing.assert_allclose(fits[1].shares, _brute_force(corrs[1]), atol=1e-12)


def test_many_at_once_at_twenty_moments() -> None:
    rng = np.random.default_rng(20)
    corrs = np.stack([_random_corr(rng, 20, n=400) for _ in range(5)])
    for corr, fit in zip(corrs, lmg_many(corrs), strict=True):
        np.testing.assert_allclose(fit.shares, lmg(corr).shares, rtol=0, atol=1e-13)
        assert fit.shares.sum() == pytest.approx(fit.r2, abs=1e-10)


def test_many_above_the_limit_sample_each_matrix_as_one_would() -> None:
    rng = np.random.default_rng(6)
    corrs = [_random_corr(rng, 6) for _ in range(3)]
    fits = lmg_many(corrs, exact_limit=4, samples=200, seed=2)
    for corr, fit in zip(corrs, fits, strict=True):
        np.testing.assert_array_equal(
            fit.shares, lmg(corr, exact_limit=4, samples=200, seed=2).shares
        )
        assert not fit.exact
    assert lmg_many([]) == []
    with pytest.raises(ValueError, match="one size"):
        lmg_many([corrs[0], corrs[0][1:, 1:]])
