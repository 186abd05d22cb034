"""Planted truth: LMG shares, penalty–reward classes, missing ratings, segment differences."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planted_survey import draw, population, population_corr, service_for, summarise

from keymoments.errors import MissingRatingsWarning, StatisticsWarning
from keymoments.experience.drivers import measure_drivers
from keymoments.experience.shapley import lmg


@pytest.fixture(scope="module")
def planted20() -> tuple[pd.DataFrame, np.ndarray]:
    cov, beta, noise = population(20, seed=42)
    truth = lmg(population_corr(cov, beta, noise)).shares
    return draw(cov, beta, noise, n=10_000, seed=1), truth


def test_lmg_shares_of_a_20_moment_survey_within_002_of_truth(planted20) -> None:
    frame, truth = planted20
    d = measure_drivers(summarise(frame, service_for(20)), n_boot=30, seed=0)
    assert d is not None
    est = d.outcomes["overall"]
    assert est.exact and len(est.moments) == 20
    assert np.abs(est.figures["importance"] - truth).max() < 0.02
    # the interval of the overall fit covers the truth's R²
    assert est.r2_ci[0] <= truth.sum() <= est.r2_ci[1]
    assert est.figures["importance"].sum() == pytest.approx(est.r2, abs=1e-9)
    lo, hi = est.intervals["importance"]
    assert np.mean((lo <= truth) & (truth <= hi)) >= 0.8


def test_pairwise_missing_warns_and_stays_near_truth(planted20) -> None:
    frame, truth = planted20
    rng = np.random.default_rng(3)
    holes = frame.copy()
    for j in range(20):
        holes.loc[rng.random(len(holes)) < 0.15, f"r{j}"] = np.nan
    summary = summarise(holes, service_for(20))
    with pytest.warns(MissingRatingsWarning, match=r"of the ratings are missing.*pairwise"):
        d = measure_drivers(summary, n_boot=0)
    assert d is not None
    assert np.abs(d.outcomes["overall"].figures["importance"] - truth).max() < 0.03
    with pytest.warns(MissingRatingsWarning, match="listwise"):
        listwise = measure_drivers(summary, n_boot=0, missing="listwise")
    assert listwise is not None
    complete = int(holes[[f"r{j}" for j in range(20)]].notna().all(axis=1).sum())
    assert listwise.outcomes["overall"].n == complete < d.outcomes["overall"].n


def test_a_moment_nobody_rated_is_left_out_with_a_warning() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        rng.integers(1, 11, size=(300, 3)).astype(float), columns=["r0", "r1", "r2"]
    )
    frame["y"] = frame["r0"] + rng.normal(size=300)
    frame["r2"] = np.nan
    with pytest.warns(StatisticsWarning, match="'m2' left out"):
        d = measure_drivers(summarise(frame, service_for(3)), n_boot=5)
    assert d is not None and d.outcomes["overall"].moments == ["m0", "m1"]


def test_penalty_reward_classes_are_recovered() -> None:
    rng = np.random.default_rng(7)
    n = 6000
    r = rng.integers(1, 11, size=(n, 3)).astype(float)
    low, high = r <= 4, r >= 7
    y = (
        5.0
        - 2.0 * low[:, 0]  # basic: failing costs, excelling earns nothing
        + 2.0 * high[:, 1]  # excitement: a delighter
        - 1.0 * low[:, 2]
        + 1.0 * high[:, 2]  # performance: symmetric
        + rng.normal(0, 1.0, n)
    )
    frame = pd.DataFrame(r, columns=["r0", "r1", "r2"]).assign(y=y)
    d = measure_drivers(summarise(frame, service_for(3)), n_boot=40, seed=1)
    assert d is not None
    est = d.outcomes["overall"]
    assert est.classes == ["basic", "excitement", "performance"]
    planted_penalty = [2.0, 0.0, 1.0]
    planted_reward = [0.0, 2.0, 1.0]
    for j in range(3):
        lo, hi = est.intervals["penalty"][:, j]
        assert lo <= planted_penalty[j] <= hi
        lo, hi = est.intervals["reward"][:, j]
        assert lo <= planted_reward[j] <= hi
    assert est.class_agreement.min() > 0.9


def test_quadrants_follow_importance_and_performance() -> None:
    rng = np.random.default_rng(11)
    n = 4000
    base = [3.0, 8.0, 3.0, 8.0]  # means: low, high, low, high
    r = np.column_stack([np.clip(np.round(b + rng.normal(0, 1.5, n)), 1, 10) for b in base])
    y = 1.0 * r[:, 0] + 1.0 * r[:, 1] + 0.05 * r[:, 2] + 0.05 * r[:, 3] + rng.normal(0, 1, n)
    frame = pd.DataFrame(r, columns=[f"r{j}" for j in range(4)]).assign(y=y)
    d = measure_drivers(summarise(frame, service_for(4)), n_boot=0)
    assert d is not None
    assert d.outcomes["overall"].quadrants == [
        "concentrate here",
        "keep up the good work",
        "low priority",
        "possible overkill",
    ]


def test_segment_difference_is_detected_only_where_planted() -> None:
    rng = np.random.default_rng(5)
    parts = []
    # m1 explains the same share of the outcome's variance in both segments (0.49 / 2.49)
    for group, w0, noise in (("a", 1.0, 1.0), ("b", 0.0, np.sqrt(2.0))):
        x = rng.standard_normal((3000, 2))
        y = w0 * x[:, 0] + 0.7 * x[:, 1] + rng.normal(0.0, noise, 3000)
        parts.append(pd.DataFrame({"r0": x[:, 0], "r1": x[:, 1], "y": y, "group": group}))
    frame = pd.concat(parts, ignore_index=True)
    d = measure_drivers(
        summarise(frame, service_for(2, segments=True)), n_boot=100, by_segment=True
    )
    assert d is not None
    assert set(d.segments["overall"]) == {"a", "b"}
    diffs = {x["moment"]: x for x in d.differences["overall"]}
    assert diffs["m0"]["p_value"] < 0.05 and diffs["m0"]["ci"][0] > 0
    assert diffs["m1"]["p_value"] > 0.05
    row = next(r for r in d.to_dict()["overall"] if r["moment"] == "m0")
    assert set(row["by_segment"]) == {"a", "b"}
    assert row["segment_differences"][0]["a"] == "a"


def _one_draw_at_a_time(sums, n_rows, k, s):  # type: ignore[no-untyped-def]
    """The bootstrap before draws were batched: one estimate, one LMG, per draw."""
    from keymoments.experience import drivers

    return [drivers._estimate(row, k, n, s) for row, n in zip(sums, n_rows, strict=True)]


@pytest.mark.parametrize("missing", ["pairwise", "listwise"])
def test_batched_bootstrap_gives_the_per_draw_figures(
    planted20, monkeypatch: pytest.MonkeyPatch, missing: str
) -> None:
    """LMG of all draws at once: every interval, R² and class agreement as one draw at a time."""
    from keymoments.experience import drivers

    frame, _ = planted20
    rng = np.random.default_rng(8)
    holes = frame.iloc[:3000].copy()
    for j in range(20):
        holes.loc[rng.random(len(holes)) < 0.1, f"r{j}"] = np.nan
    summary = summarise(holes, service_for(20))
    with pytest.warns(MissingRatingsWarning):
        batched = measure_drivers(summary, n_boot=60, seed=4, missing=missing)  # type: ignore[arg-type]
    monkeypatch.setattr(drivers, "_estimate_many", _one_draw_at_a_time)
    with pytest.warns(MissingRatingsWarning):
        single = measure_drivers(summary, n_boot=60, seed=4, missing=missing)  # type: ignore[arg-type]
    assert batched is not None and single is not None
    a, b = batched.outcomes["overall"], single.outcomes["overall"]
    assert a.exact and len(a.moments) == 20
    for f in a.figures:
        np.testing.assert_allclose(a.figures[f], b.figures[f], rtol=0, atol=1e-9, err_msg=f)
        np.testing.assert_allclose(a.intervals[f], b.intervals[f], rtol=0, atol=1e-9, err_msg=f)
    assert a.r2_ci == pytest.approx(b.r2_ci, abs=1e-9)
    np.testing.assert_array_equal(a.class_agreement, b.class_agreement)
    assert a.classes == b.classes
