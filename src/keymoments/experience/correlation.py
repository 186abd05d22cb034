"""Correlation matrices from weighted answer patterns, with missing answers.

``pairwise`` (the default) uses, for each pair of columns, every respondent
who answered both — R's ``cor(use = "pairwise.complete.obs")``: means and
variances are those of the pair's own respondents. ``listwise`` keeps only
respondents who answered every column. Pairwise keeps more information but
can give a matrix that is not positive semi-definite; such a matrix is
repaired (negative eigenvalues set to zero, the diagonal rescaled to one)
and the repair reported, because R² from it could otherwise exceed one.

Example:
    >>> import numpy as np
    >>> x = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0], [4.0, 3.0]])
    >>> c = weighted_correlation(x, np.array([1, 1, 1, 1]))
    >>> round(float(c.matrix[0, 1]), 6), c.pairs_n.tolist()
    (0.5, [[4, 3], [3, 3]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["Correlation", "Missing", "correlation_from_sums", "weighted_correlation"]

Missing = Literal["pairwise", "listwise"]


@dataclass
class Correlation:
    """A correlation matrix and what it rests on.

    Attributes:
        matrix: the correlations (NaN where a pair has under 3 respondents or
            a column does not vary among them).
        pairs_n: respondents behind each entry.
        repaired: the pairwise matrix was not positive semi-definite and was
            repaired (see the module doc).
        n_used: respondents used (listwise: complete ones; pairwise: those
            with at least one answer).
    """

    matrix: np.ndarray
    pairs_n: np.ndarray
    repaired: bool
    n_used: int


def _nearest_correlation(c: np.ndarray) -> tuple[np.ndarray, bool]:
    vals, vecs = np.linalg.eigh(c)
    if vals.min() >= -1e-10:
        return c, False
    fixed = (vecs * np.clip(vals, 0.0, None)) @ vecs.T
    d = np.sqrt(np.clip(np.diag(fixed), 1e-300, None))
    fixed = fixed / np.outer(d, d)
    np.fill_diagonal(fixed, 1.0)
    return fixed, True


def weighted_correlation(
    values: np.ndarray, weights: np.ndarray, *, missing: Missing = "pairwise"
) -> Correlation:
    """Pearson correlations of the columns of ``values`` (rows weighted by ``weights``)."""
    x = np.asarray(values, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    present = ~np.isnan(x)
    if missing == "listwise":
        complete = present.all(axis=1)
        x, w, present = x[complete], w[complete], present[complete]
        n_used = int(w.sum())
    else:
        n_used = int(w[present.any(axis=1)].sum())
    m = present.astype(np.float64)
    z = np.where(present, x, 0.0)
    wm = m * w[:, None]
    return correlation_from_sums(
        count=wm.T @ m,  # respondents answering both a and b
        sums=(z * w[:, None]).T @ m,  # sums[a, b]: sum of x_a over those answering a and b
        squares=(z * z * w[:, None]).T @ m,
        cross=(z * w[:, None]).T @ z,
        n_used=n_used,
        missing=missing,
    )


def correlation_from_sums(
    *,
    count: np.ndarray,
    sums: np.ndarray,
    squares: np.ndarray,
    cross: np.ndarray,
    n_used: float,
    missing: Missing = "pairwise",
) -> Correlation:
    """The correlations from weighted sums over respondents (what a bootstrap draw keeps).

    ``count[a, b]`` is the weight of those answering both a and b,
    ``sums[a, b]`` and ``squares[a, b]`` the sums of x_a and x_a² over them,
    ``cross[a, b]`` the sum of x_a·x_b (unanswered items counting as 0).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_ab = sums / count
        var_ab = squares / count - mean_ab**2
        cov = cross / count - mean_ab * mean_ab.T
        corr = cov / np.sqrt(var_ab * var_ab.T)
    bad = (count < 3) | ~(var_ab > 1e-12) | ~(var_ab.T > 1e-12)
    corr = np.where(bad, np.nan, np.clip(corr, -1.0, 1.0))
    np.fill_diagonal(corr, np.where(np.diag(bad), np.nan, 1.0))
    repaired = False
    if missing == "pairwise" and np.all(np.isfinite(corr)):
        corr, repaired = _nearest_correlation(corr)
    return Correlation(
        matrix=corr, pairs_n=np.rint(count).astype(np.int64), repaired=repaired, n_used=int(n_used)
    )
