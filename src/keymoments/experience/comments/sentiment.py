"""Sentiment of comments: VADER's compound score, and its summary with an interval.

VADER (Hutto and Gilbert, 2014) scores a text from -1 (most negative) to +1
(most positive) with a lexicon of rated words and rules for negation,
intensifiers, capitals and punctuation; its lexicon ships in the
``vaderSentiment`` package, so nothing is fetched. Its authors' thresholds
classify a text as negative (compound ≤ -0.05), positive (≥ 0.05) or neutral.

Example:
    >>> compound_scores(["The book was good.", "Today SUX!"]).round(4).tolist()
    [0.4404, -0.5461]
    >>> s = summarise_sentiment(np.array([0.5, -0.5, 0.0, 0.9]))
    >>> s.n, round(s.mean, 3), s.negative, s.positive
    (4, 0.225, 0.25, 0.5)
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["NEGATIVE", "POSITIVE", "Sentiment", "compound_scores", "summarise_sentiment"]

NEGATIVE = -0.05  # VADER's authors' thresholds for a negative and a positive text
POSITIVE = 0.05


@functools.cache
def _analyser() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def compound_scores(texts: Sequence[str]) -> NDArray[np.float64]:
    """VADER's compound score of each text (about 10,000 short texts a second)."""
    analyser = _analyser()
    return np.array([analyser.polarity_scores(t)["compound"] for t in texts], dtype=np.float64)


@dataclass(frozen=True)
class Sentiment:
    """Sentiment of a set of comments: mean compound score with its interval, and shares.

    ``ci`` is a Student-t interval for the mean of comments like these;
    ``negative``/``neutral``/``positive`` are shares by VADER's thresholds.
    """

    n: int
    mean: float | None
    ci: tuple[float | None, float | None]
    negative: float | None
    neutral: float | None
    positive: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "n": self.n,
            "mean": self.mean,
            "ci": list(self.ci),
            "negative": self.negative,
            "neutral": self.neutral,
            "positive": self.positive,
        }


def summarise_sentiment(
    scores: NDArray[np.float64],
    weights: NDArray[np.float64] | None = None,
    *,
    confidence: float = 0.95,
) -> Sentiment:
    """Mean score (weighted: a sampled comment stands for ``weight`` comments), interval, shares."""
    x = np.asarray(scores, dtype=np.float64)
    n = int(x.size)
    if n == 0:
        return Sentiment(0, None, (None, None), None, None, None)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mean = float((w * x).sum())
    neg = float(w[x <= NEGATIVE].sum())
    pos = float(w[x >= POSITIVE].sum())
    lo: float | None = None
    hi: float | None = None
    if n > 1:
        # the effective sample size of weighted comments (Kish)
        n_eff = 1.0 / float((w**2).sum())
        var = float((w * (x - mean) ** 2).sum()) * n_eff / max(n_eff - 1.0, 1.0)
        # scipy.stats costs a second to import: only analyses with comments pay it
        from scipy.stats import t as student_t

        half = float(student_t.ppf(0.5 + confidence / 2, max(n_eff - 1.0, 1.0))) * np.sqrt(
            var / n_eff
        )
        lo, hi = max(-1.0, mean - half), min(1.0, mean + half)
    return Sentiment(n, mean, (lo, hi), neg, max(0.0, 1.0 - neg - pos), pos)
