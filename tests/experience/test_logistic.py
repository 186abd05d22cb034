"""The grouped logistic fit against values worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from keymoments.experience.logistic import fit_logistic

# one binary covariate: a 2x2 table, holders 30 of 100 broke, others 10 of 100
X = np.array([[1.0, 0.0], [1.0, 1.0]])
EVENTS = np.array([10.0, 30.0])
TRIALS = np.array([100.0, 100.0])


def test_maximum_likelihood_is_the_table_odds_ratio() -> None:
    fit = fit_logistic(X, events=EVENTS, trials=TRIALS, firth=False)
    assert fit.converged
    assert fit.coef[0] == pytest.approx(np.log(10 / 90), abs=1e-10)
    assert fit.coef[1] == pytest.approx(np.log((30 / 70) / (10 / 90)), abs=1e-10)
    # Woolf's standard error of a log odds ratio
    assert np.sqrt(fit.cov[1, 1]) == pytest.approx(np.sqrt(1 / 10 + 1 / 90 + 1 / 30 + 1 / 70))


def test_firth_on_a_saturated_table_adds_a_half_to_every_cell() -> None:
    # a known property of Firth's estimate in a saturated 2x2 model
    fit = fit_logistic(X, events=EVENTS, trials=TRIALS, firth=True)
    assert fit.coef[1] == pytest.approx(np.log((30.5 / 70.5) / (10.5 / 90.5)), abs=1e-9)


def test_firth_stays_finite_under_separation() -> None:
    events = np.array([10.0, 40.0])  # every one of the 40 holders broke
    trials = np.array([100.0, 40.0])
    fit = fit_logistic(X, events=events, trials=trials, firth=True)
    assert fit.converged
    assert fit.coef[1] == pytest.approx(np.log((40.5 / 0.5) / (10.5 / 90.5)), abs=1e-8)


def test_grouping_does_not_change_the_fit() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, size=(400, 2)).astype(float)
    y = (rng.random(400) < 0.2 + 0.3 * x[:, 0]).astype(float)
    design = np.column_stack([np.ones(400), x])
    one_by_one = fit_logistic(design, events=y, trials=np.ones(400))
    keys, inverse = np.unique(x, axis=0, return_inverse=True)
    grouped = fit_logistic(
        np.column_stack([np.ones(len(keys)), keys]),
        events=np.bincount(inverse.ravel(), weights=y),
        trials=np.bincount(inverse.ravel()).astype(float),
    )
    np.testing.assert_allclose(grouped.coef, one_by_one.coef, atol=1e-8)
