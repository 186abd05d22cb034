"""Emotion curve dips and the peak–end check, planted."""

from __future__ import annotations

import numpy as np
import pandas as pd
from planted_survey import service_for, summarise

from keymoments.experience.emotion import measure_emotion


def _ratings(means: list[float], n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mood = rng.normal(0, 1, size=(n, 1))
    noise = rng.normal(0, 1.2, size=(n, len(means)))
    return np.clip(np.round(np.array(means) + 0.8 * mood + noise), 1, 10)


def test_planted_dips_are_found_and_nothing_else() -> None:
    means = [7.5, 7.4, 5.5, 7.3, 7.6, 6.0, 7.5]
    r = _ratings(means, 2000, seed=1)
    frame = pd.DataFrame(r, columns=[f"r{j}" for j in range(7)]).assign(y=r.mean(axis=1))
    e = measure_emotion(summarise(frame, service_for(7)), n_boot=100)
    assert e is not None
    assert [m for m, d in zip(e.moments, e.dips, strict=True) if d] == ["m2", "m5"]
    assert np.all((e.ci[0] <= e.mean) & (e.mean <= e.ci[1]))
    assert abs(e.mean[2] - 5.5) < 0.15


def test_peak_end_verdicts_follow_the_planted_rule() -> None:
    r = _ratings([7.0] * 6, 3000, seed=2)
    rng = np.random.default_rng(3)
    z = (r - r.mean(axis=0)) / r.std(axis=0)
    columns = [f"r{j}" for j in range(6)]
    by_rule = pd.DataFrame(r, columns=columns).assign(
        y=z.min(axis=1) + z[:, -1] + rng.normal(0, 0.5, 3000)
    )
    by_mean = pd.DataFrame(r, columns=columns).assign(y=z.mean(axis=1) + rng.normal(0, 0.3, 3000))
    rule = measure_emotion(summarise(by_rule, service_for(6)), n_boot=60)
    mean = measure_emotion(summarise(by_mean, service_for(6)), n_boot=60)
    assert rule is not None and mean is not None
    assert rule.peak_end["overall"].verdict == "peak_end"
    assert mean.peak_end["overall"].verdict == "average"
    assert rule.peak_end["overall"].r2_all >= rule.peak_end["overall"].r2_peak_end - 1e-12
