"""Published cases a1 (LMG and companions on swiss, relaimpo) and a4 (relative weights, rwa)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keymoments.experience.shapley import lmg, lmg_many
from keymoments.experience.weights import companion_metrics, relative_weights

DATA = Path(__file__).parents[1] / "data" / "validation"
TOL = 1e-8


def _corr(frame: pd.DataFrame, predictors: list[str], outcome: str) -> np.ndarray:
    return np.corrcoef(frame[[*predictors, outcome]].to_numpy(float), rowvar=False)


@pytest.fixture(scope="module")
def a1() -> dict:
    return json.loads((DATA / "a1_lmg_relaimpo_swiss.json").read_text())


@pytest.fixture(scope="module")
def swiss() -> pd.DataFrame:
    return pd.read_csv(DATA / "swiss.csv").drop(columns=["rownames"])


def test_a1_lmg_on_swiss(a1: dict, swiss: pd.DataFrame) -> None:
    predictors = [c for c in swiss.columns if c != "Fertility"]
    fit = lmg(_corr(swiss, predictors, "Fertility"))
    expected = a1["expected"]
    assert fit.exact
    assert fit.r2 == pytest.approx(expected["R2"], abs=TOL)
    for name, share in zip(predictors, fit.shares, strict=True):
        assert share == pytest.approx(expected["lmg"][name], abs=TOL), name
    assert [predictors[i] for i in np.argsort(-fit.shares)] == expected["lmg_rank"]


def test_a1_lmg_on_swiss_among_many_draws(a1: dict, swiss: pd.DataFrame) -> None:
    """The walk shared by many matrices (the bootstrap's) gives each its published shares."""
    predictors = [c for c in swiss.columns if c != "Fertility"]
    corr = _corr(swiss, predictors, "Fertility")
    rng = np.random.default_rng(0)
    others = [
        _corr(swiss.sample(len(swiss), replace=True, random_state=rng), predictors, "Fertility")
        for _ in range(6)
    ]
    fits = lmg_many([*others[:3], corr, *others[3:]])
    fit = fits[3]
    assert fit.exact
    assert fit.r2 == pytest.approx(a1["expected"]["R2"], abs=TOL)
    for name, share in zip(predictors, fit.shares, strict=True):
        assert share == pytest.approx(a1["expected"]["lmg"][name], abs=TOL), name
    for other, fit in zip(others, [*fits[:3], *fits[4:]], strict=True):
        np.testing.assert_allclose(fit.shares, lmg(other).shares, rtol=0, atol=1e-13)


def test_a1_companion_metrics(a1: dict, swiss: pd.DataFrame) -> None:
    predictors = [c for c in swiss.columns if c != "Fertility"]
    corr = _corr(swiss, predictors, "Fertility")
    metrics = companion_metrics(corr)
    for metric in ("first", "last", "betasq", "pratt", "car"):
        for name, value in zip(predictors, metrics[metric], strict=True):
            assert value == pytest.approx(a1["expected"][metric][name], abs=TOL), (metric, name)
    genizi = a1["expected"]["genizi_equals_johnson_relative_weights"]
    for name, value in zip(predictors, relative_weights(corr), strict=True):
        assert value == pytest.approx(genizi[name], abs=TOL), name


def test_a1_four_predictor_model_normalised(a1: dict, swiss: pd.DataFrame) -> None:
    case = a1["expected"]["four_predictor_model"]
    predictors = list(case["lmg_normalised_rela_TRUE"])
    fit = lmg(_corr(swiss, predictors, "Fertility"))
    assert fit.r2 == pytest.approx(case["R2"], abs=TOL)
    for name, share in zip(predictors, fit.shares / fit.r2, strict=True):
        assert share == pytest.approx(case["lmg_normalised_rela_TRUE"][name], abs=TOL)


def test_a1_sampled_orders_stay_within_their_bound(a1: dict, swiss: pd.DataFrame) -> None:
    predictors = [c for c in swiss.columns if c != "Fertility"]
    fit = lmg(_corr(swiss, predictors, "Fertility"), exact_limit=2, samples=4000, seed=3)
    assert not fit.exact and fit.samples == 4000
    truth = np.array([a1["expected"]["lmg"][p] for p in predictors])
    assert np.all(np.abs(fit.shares - truth) <= fit.error + 1e-12)
    assert fit.error.max() < 0.01


def test_a4_relative_weights_on_mtcars() -> None:
    case = json.loads((DATA / "a4_relative_weights_mtcars_rwa.json").read_text())
    cars = pd.read_csv(DATA / "mtcars.csv")
    predictors = ["cyl", "disp", "hp", "gear"]
    corr = _corr(cars, predictors, "mpg")
    raw = relative_weights(corr)
    expected = case["expected"]
    assert raw.sum() == pytest.approx(expected["R2"], abs=TOL)
    for name, value in zip(predictors, raw, strict=True):
        assert value == pytest.approx(expected["raw_relative_weight_exact"][name], abs=TOL)
        assert value == pytest.approx(expected["raw_relative_weight_published_7dp"][name], abs=6e-8)
    rescaled = 100 * raw / raw.sum()
    for name, value in zip(predictors, rescaled, strict=True):
        assert value == pytest.approx(expected["rescaled_pct_published"][name], abs=6e-6)
    signs = {n: "+" if r > 0 else "-" for n, r in zip(predictors, corr[:-1, -1], strict=True)}
    assert signs == expected["sign"]
    shares = lmg(corr).shares
    for name, value in zip(predictors, shares, strict=True):
        assert value == pytest.approx(expected["lmg_for_comparison_not_from_rwa"][name], abs=TOL)
