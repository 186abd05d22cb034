"""Penalty–reward analysis: do low ratings hurt more than high ratings help?

Each rated moment gets two dummies, *low* (rating at or below ``low``) and
*high* (at or above ``high``), the middle being the reference, and one more
for *not answered* where some respondents skipped it. The outcome is
regressed on all of them in one model (weighted least squares over answer
patterns), so each moment's figures are net of the others:

- **penalty** = −coefficient of *low*: how much lower the outcome is when the
  moment is rated low rather than middling;
- **reward** = coefficient of *high*: how much higher when rated high;
- **impact asymmetry** = (reward − penalty) / (reward + penalty), with
  negative values counted as zero (Mittal, Ross & Baldasare 1998).

The **class** follows Kano's three kinds of quality: *basic* (asymmetry
below −0.2: expected; failing it costs, exceeding it earns little),
*excitement* (above 0.2: a delighter), *performance* (in between: more is
better, both ways), or *indifferent* when neither figure is positive (with
bootstrap intervals: when neither interval lies above zero).

Default cut points are the thirds of each moment's observed scale (on 1–10:
low ≤ 4, high ≥ 7); the model file's ``analysis.drivers.low`` and ``high``
set them in rating points for every moment.

Example:
    >>> import numpy as np
    >>> x = np.array([[1.0], [5.0], [10.0], [1.0], [5.0], [10.0]])
    >>> y = np.array([2.0, 6.0, 7.0, 2.0, 6.0, 7.0])
    >>> pr = penalty_reward(x, y, np.ones(6))
    >>> round(float(pr.penalty[0]), 6), round(float(pr.reward[0]), 6)
    (4.0, 1.0)
    >>> classify(pr.penalty, pr.reward)
    ['basic']
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["PenaltyReward", "asymmetry", "classify", "cut_points", "penalty_reward"]

CLASS_THRESHOLD = 0.2


@dataclass
class PenaltyReward:
    """Penalty, reward and the cut points used, per moment (NaN where not estimable)."""

    penalty: np.ndarray
    reward: np.ndarray
    low: np.ndarray
    high: np.ndarray


def cut_points(
    ratings: np.ndarray, *, low: float | None = None, high: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per moment: ratings at or below ``low`` are low, at or above ``high`` high.

    Without ``low``/``high``, the thirds of each moment's observed range.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a moment nobody rated: NaN cuts
        lo_seen = np.nanmin(ratings, axis=0) if ratings.size else np.zeros(ratings.shape[1])
        hi_seen = np.nanmax(ratings, axis=0) if ratings.size else np.zeros(ratings.shape[1])
    span = hi_seen - lo_seen
    lows = np.full(ratings.shape[1], low) if low is not None else lo_seen + span / 3
    highs = np.full(ratings.shape[1], high) if high is not None else hi_seen - span / 3
    return lows, highs


def penalty_reward(
    ratings: np.ndarray,
    outcome: np.ndarray,
    weights: np.ndarray,
    *,
    cuts: tuple[np.ndarray, np.ndarray] | None = None,
) -> PenaltyReward:
    """Fit the dummy model (see the module doc) on the rows with an outcome."""
    keep = ~np.isnan(outcome) & (weights > 0)
    x, y, w = ratings[keep], outcome[keep], weights[keep]
    k = ratings.shape[1]
    lows, highs = cuts if cuts is not None else cut_points(ratings)
    columns = [np.ones(len(y))]
    where: list[tuple[int, str]] = []
    with np.errstate(invalid="ignore"):
        for j in range(k):
            answered = ~np.isnan(x[:, j])
            for kind, dummy in (
                ("low", answered & (x[:, j] <= lows[j])),
                ("high", answered & (x[:, j] >= highs[j])),
                ("missing", ~answered),
            ):
                share = float(w[dummy].sum())
                # a dummy that never (or always) holds cannot be estimated
                if 0 < share < float(w.sum()):
                    columns.append(dummy.astype(np.float64))
                    where.append((j, kind))
    penalty = np.full(k, np.nan)
    reward = np.full(k, np.nan)
    if len(y) > len(columns):
        design = np.column_stack(columns)
        root = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(design * root[:, None], y * root, rcond=None)
        for (j, kind), b in zip(where, coef[1:], strict=True):
            if kind == "low":
                penalty[j] = -b
            elif kind == "high":
                reward[j] = b
    return PenaltyReward(penalty=penalty, reward=reward, low=lows, high=highs)


def asymmetry(penalty: np.ndarray, reward: np.ndarray) -> np.ndarray:
    """(reward − penalty) / (reward + penalty), negatives counted as zero; NaN if both are."""
    p = np.clip(np.nan_to_num(penalty, nan=0.0), 0.0, None)
    r = np.clip(np.nan_to_num(reward, nan=0.0), 0.0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (r - p) / (r + p)
    return np.where((r + p) > 0, out, np.nan)


def classify(penalty: np.ndarray, reward: np.ndarray) -> list[str]:
    """basic / performance / excitement (or indifferent) per moment."""
    out = []
    for ia in asymmetry(penalty, reward):
        if np.isnan(ia):
            out.append("indifferent")
        elif ia < -CLASS_THRESHOLD:
            out.append("basic")
        elif ia > CLASS_THRESHOLD:
            out.append("excitement")
        else:
            out.append("performance")
    return out
