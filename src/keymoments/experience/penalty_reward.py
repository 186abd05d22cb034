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

__all__ = [
    "PenaltyReward",
    "asymmetry",
    "classify",
    "cut_points",
    "design",
    "penalty_reward",
    "penalty_reward_from_sums",
]

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


def design(
    ratings: np.ndarray, outcome: np.ndarray, cuts: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """The model's columns per row: 1, then (low, high, missing) per moment, then the outcome."""
    lows, highs = cuts
    columns = [np.ones(len(outcome))]
    with np.errstate(invalid="ignore"):
        for j in range(ratings.shape[1]):
            answered = ~np.isnan(ratings[:, j])
            columns += [
                answered & (ratings[:, j] <= lows[j]),
                answered & (ratings[:, j] >= highs[j]),
                ~answered,
            ]
    columns.append(outcome)
    return np.column_stack(columns).astype(np.float64)


def penalty_reward_from_sums(
    gram: np.ndarray, n_rows: int, cuts: tuple[np.ndarray, np.ndarray]
) -> PenaltyReward:
    """Fit the model from the weighted sums of products of :func:`design`'s columns.

    ``gram`` is DᵀWD for the design D (outcome last); ``n_rows`` the distinct
    rows behind it (the model needs more rows than columns).
    """
    k = (gram.shape[0] - 2) // 3
    total = gram[0, 0]
    kept = [0]
    for col in range(1, 1 + 3 * k):
        # a dummy that never (or always) holds cannot be estimated
        if 0 < gram[0, col] < total:
            kept.append(col)
    penalty = np.full(k, np.nan)
    reward = np.full(k, np.nan)
    if n_rows > len(kept):
        sel = np.asarray(kept)
        # The normal equations give lstsq's (minimum-norm) solution on the rows; the
        # dummies are 0/1 and the weights counts, so DᵀWD is exact and a relative
        # cut-off of 1e-10 on its singular values separates true collinearity.
        coef, *_ = np.linalg.lstsq(gram[np.ix_(sel, sel)], gram[sel, -1], rcond=1e-10)
        for col, b in zip(kept[1:], coef[1:], strict=True):
            j, kind = divmod(col - 1, 3)
            if kind == 0:
                penalty[j] = -b
            elif kind == 1:
                reward[j] = b
    return PenaltyReward(penalty=penalty, reward=reward, low=cuts[0], high=cuts[1])


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
    used = cuts if cuts is not None else cut_points(ratings)
    d = design(x, y, used)
    return penalty_reward_from_sums((d * w[:, None]).T @ d, len(y), used)


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
