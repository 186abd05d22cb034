"""LMG (the Shapley value of R²), exact over all subsets, from a correlation matrix.

LMG shares out a regression's R² among its predictors: each predictor gets
the average, over every order of entering the model, of the R² it adds when
it enters. Over subsets S of the other predictors that is

    LMG_j = Σ_{S ∌ j} w(|S|) · (R²(S ∪ {j}) − R²(S)),   w(s) = s! (k − s − 1)! / k!

and the shares sum to the full model's R².

**Exact** (``k ≤ exact_limit``, default 24): every one of the 2^k subsets is
visited once, depth first, adding predictors in increasing index order. Each
step is one *sweep* of the partial covariance matrix of the predictors still
to come (and the outcome) on the predictor just added, so a subset's R² costs
O((k − j)²) for its last predictor j — about 6 · 2^k multiply-adds in all —
and the memory is one (k + 1)² matrix per depth, never 2^k × n. Rearranging
the sum, ``LMG_j = Σ_{S ∋ j} (w(|S|−1) + w(|S|)) R²(S) − Σ_S w(|S|) R²(S)``,
so each subset's R² is added once to a running total for its subtree: the
whole decomposition costs O(1) beyond the sweep per subset. The loop is
compiled with numba (a Python loop over 16 million subsets would take
minutes; numpy cannot express the depth-first walk without 2^k-sized arrays).

A predictor that adds nothing new (a pivot below 1e-10: it is a linear
combination of those already in) adds 0 and leaves the sweep unchanged, as a
generalised inverse would.

**Approximate** (``k > exact_limit``): Monte Carlo over orders (Castro,
Gómez & Tejada 2009, "Polynomial calculation of the Shapley value based on
sampling"), with antithetic pairs (each order and its reverse). Every
sampled order gives an unbiased contribution per predictor; the error bound
is the 95% half-width 1.96 · sd / √m over the m pairs, reported per
predictor. Seeded, so reruns agree.

Example:
    >>> import numpy as np
    >>> corr = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.3], [0.5, 0.3, 1.0]])
    >>> fit = lmg(corr)
    >>> [round(float(v), 3) for v in fit.shares], round(fit.r2, 3)
    ([0.25, 0.09], 0.34)
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["DEFAULT_EXACT_LIMIT", "LMGFit", "lmg", "lmg_many", "subset_r2"]

DEFAULT_EXACT_LIMIT = 24
_PIVOT_TOL = 1e-10


@dataclass
class LMGFit:
    """LMG shares and how they were computed.

    Attributes:
        shares: one per predictor; they sum to ``r2``.
        r2: the full model's R².
        exact: whether every subset was visited.
        error: per predictor, the 95% half-width of the Monte Carlo estimate
            (zeros when exact).
        samples: orders sampled (0 when exact).
    """

    shares: np.ndarray
    r2: float
    exact: bool
    error: np.ndarray
    samples: int = 0


def _weights(k: int) -> tuple[np.ndarray, np.ndarray]:
    """w[s] for subsets of size s (w[k] = 0) and a[s] = w[s-1] + w[s] for s >= 1."""
    w = np.zeros(k + 1)
    for s in range(k):
        w[s] = 1.0 / (k * math.comb(k - 1, s))
    a = np.zeros(k + 1)
    a[1:] = w[:-1] + w[1:]
    return w, a


def _lmg_exact(c: np.ndarray, w: np.ndarray, a: np.ndarray, tol: float) -> np.ndarray:
    k = c.shape[0] - 1
    states = np.empty((k + 1, k + 1, k + 1))
    states[0] = c
    r2 = np.zeros(k + 1)
    elem = np.zeros(k + 1, np.int64)
    nxt = np.zeros(k + 1, np.int64)
    sub = np.zeros(k + 1)
    out = np.zeros(k + 1)  # out[k] holds the full-model R²
    total = 0.0
    depth = 0
    while True:
        if nxt[depth] < k:
            j = nxt[depth]
            nxt[depth] += 1
            p = states[depth]
            q = states[depth + 1]
            piv = p[j, j]
            if piv > tol:
                inc = p[j, k] * p[j, k] / piv
                # only the upper triangle of the predictors after j (and y) is kept
                for r in range(j + 1, k + 1):
                    f = p[j, r] / piv
                    for s in range(r, k + 1):
                        q[r, s] = p[r, s] - f * p[j, s]
            else:
                inc = 0.0
                for r in range(j + 1, k + 1):
                    for s in range(r, k + 1):
                        q[r, s] = p[r, s]
            d = depth + 1
            r2[d] = r2[depth] + inc
            total += w[d] * r2[d]
            sub[d] = a[d] * r2[d]
            elem[d] = j
            nxt[d] = j + 1
            if d == k:
                out[k] = r2[d]
            depth = d
        else:
            if depth == 0:
                break
            out[elem[depth]] += sub[depth]
            sub[depth - 1] += sub[depth]
            depth -= 1
    for j in range(k):
        out[j] -= total
    return out


def _lmg_exact_many(c: np.ndarray, w: np.ndarray, a: np.ndarray, tol: float) -> np.ndarray:
    """:func:`_lmg_exact` for m matrices at once, stacked on the last axis: (k+1, k+1, m).

    The walk over subsets is the same for every matrix, so each of its steps
    loops over the m matrices innermost, where the compiler vectorises the
    loop, and the cost of the walk itself is shared. Two changes from the
    single walk make each step cheaper; both change results only by rounding
    (about 1e-15):

    - a step divides by the pivot once (a reciprocal, zero for a pivot at or
      below ``tol``: the predictor adds nothing and the sweep carries over
      unchanged, since x − 0·y is x);
    - the last predictor (a leaf of the walk: nothing is swept after it) is
      added without a sweep, and the outcome's own row is never swept (its
      residual variance is never read: R² grows by p[j, k]² / pivot).
    """
    k = c.shape[0] - 1
    m = c.shape[2]
    states = np.empty((k + 1, k + 1, k + 1, m))
    states[0] = c
    r2 = np.zeros((k + 1, m))
    elem = np.zeros(k + 1, np.int64)
    nxt = np.zeros(k + 1, np.int64)
    sub = np.zeros((k + 1, m))
    out = np.zeros((k + 1, m))  # out[k] holds the full-model R²
    total = np.zeros(m)
    inv = np.empty(m)
    f = np.empty(m)
    depth = 0
    while True:
        if nxt[depth] < k:
            j = nxt[depth]
            nxt[depth] += 1
            p = states[depth]
            d = depth + 1
            wd, ad = w[d], a[d]
            if j == k - 1:
                # a leaf: added to its parent's subtree total at once
                for b in range(m):
                    v = p[j, j, b]
                    x = r2[depth, b] + (p[j, k, b] * p[j, k, b] / v if v > tol else 0.0)
                    total[b] += wd * x
                    y = ad * x
                    out[j, b] += y
                    sub[depth, b] += y
                    if d == k:
                        out[k, b] = x
                continue
            q = states[d]
            for b in range(m):
                v = p[j, j, b]
                iv = 1.0 / v if v > tol else 0.0
                inv[b] = iv
                x = r2[depth, b] + p[j, k, b] * p[j, k, b] * iv
                r2[d, b] = x
                total[b] += wd * x
                sub[d, b] = ad * x
            for r in range(j + 1, k):
                for b in range(m):
                    f[b] = p[j, r, b] * inv[b]
                for s in range(r, k + 1):
                    for b in range(m):
                        q[r, s, b] = p[r, s, b] - f[b] * p[j, s, b]
            elem[d] = j
            nxt[d] = j + 1
            depth = d
        else:
            if depth == 0:
                break
            e = elem[depth]
            for b in range(m):
                out[e, b] += sub[depth, b]
                sub[depth - 1, b] += sub[depth, b]
            depth -= 1
    for j in range(k):
        for b in range(m):
            out[j, b] -= total[b]
    return out


def _order_contributions(c: np.ndarray, orders: np.ndarray, tol: float) -> np.ndarray:
    m, k = orders.shape
    out = np.zeros((m, k))
    p = np.empty_like(c)
    for t in range(m):
        p[:, :] = c
        for step in range(k):
            j = orders[t, step]
            piv = p[j, j]
            if piv <= tol:
                continue
            out[t, j] = p[j, k] * p[j, k] / piv
            for r in range(k + 1):
                if r == j:
                    continue
                f = p[r, j] / piv
                if f == 0.0:
                    continue
                for s in range(k + 1):
                    p[r, s] -= f * p[j, s]
            for s in range(k + 1):
                p[j, s] = 0.0
                p[s, j] = 0.0
    return out


def _check(corr: np.ndarray) -> np.ndarray:
    c = np.ascontiguousarray(corr, dtype=np.float64)
    if c.ndim != 2 or c.shape[0] != c.shape[1] or c.shape[0] < 2:
        raise ValueError(
            f"expected a square matrix of predictors and the outcome (last), got shape {c.shape}"
        )
    if not np.all(np.isfinite(c)):
        raise ValueError("the correlation matrix has missing or infinite entries")
    return c


@functools.cache
def _compiled(name: str) -> Callable[..., Any]:
    """A numba-compiled kernel, compiled (or loaded from numba's cache) on first use.

    Importing numba costs a fifth of a second, which every analysis without
    survey ratings would otherwise pay at start-up.
    """
    from numba import njit  # type: ignore[import-untyped]

    kernels: dict[str, Any] = {
        "exact": _lmg_exact,
        "exact_many": _lmg_exact_many,
        "orders": _order_contributions,
    }
    compiled: Callable[..., Any] = njit(cache=True)(kernels[name])
    return compiled


def lmg(
    corr: np.ndarray,
    *,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
    samples: int = 4000,
    seed: int = 0,
) -> LMGFit:
    """LMG shares of R² from the correlation matrix of the predictors and the outcome.

    Args:
        corr: (k + 1) × (k + 1), the outcome in the last row and column.
        exact_limit: above this many predictors, sample orders instead.
        samples: orders sampled when approximating (in antithetic pairs).
        seed: seed of the sampled orders.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(1)
        >>> x = rng.standard_normal((500, 3))
        >>> y = x @ [1.0, 0.5, 0.0] + rng.standard_normal(500)
        >>> fit = lmg(np.corrcoef(np.column_stack([x, y]), rowvar=False))
        >>> bool(abs(fit.shares.sum() - fit.r2) < 1e-12)
        True
    """
    c = _check(corr)
    k = c.shape[0] - 1
    if k <= exact_limit:
        w, a = _weights(k)
        out = _compiled("exact")(c, w, a, _PIVOT_TOL)
        return LMGFit(shares=out[:k].copy(), r2=float(out[k]), exact=True, error=np.zeros(k))
    rng = np.random.default_rng(seed)
    pairs = max(1, samples // 2)
    first = np.argsort(rng.random((pairs, k)), axis=1).astype(np.int64)
    orders = np.concatenate([first, first[:, ::-1]])
    contrib = _compiled("orders")(c, np.ascontiguousarray(orders), _PIVOT_TOL)
    paired = (contrib[:pairs] + contrib[pairs:]) / 2
    shares = paired.mean(axis=0)
    sd = paired.std(axis=0, ddof=1) if pairs > 1 else np.full(k, np.inf)
    return LMGFit(
        shares=shares,
        r2=float(shares.sum()),
        exact=False,
        error=1.96 * sd / math.sqrt(pairs),
        samples=2 * pairs,
    )


def lmg_many(
    corrs: np.ndarray | list[np.ndarray],
    *,
    exact_limit: int = DEFAULT_EXACT_LIMIT,
    samples: int = 4000,
    seed: int = 0,
) -> list[LMGFit]:
    """:func:`lmg` of many correlation matrices of the same size (bootstrap draws).

    Exact decompositions walk the subsets once for all the matrices together
    (:func:`_lmg_exact_many`); they equal :func:`lmg`'s to rounding (1e-15).
    Above ``exact_limit`` each matrix samples its own orders, as in :func:`lmg`.

    Example:
        >>> import numpy as np
        >>> a = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.3], [0.5, 0.3, 1.0]])
        >>> b = np.array([[1.0, 0.2, 0.4], [0.2, 1.0, 0.1], [0.4, 0.1, 1.0]])
        >>> fits = lmg_many([a, b])
        >>> bool(np.allclose(fits[1].shares, lmg(b).shares, atol=1e-14))
        True
    """
    mats = [_check(c) for c in corrs]
    if not mats:
        return []
    k = mats[0].shape[0] - 1
    if any(c.shape != mats[0].shape for c in mats):
        raise ValueError("lmg_many needs matrices of one size")
    if k > exact_limit:
        return [lmg(c, exact_limit=exact_limit, samples=samples, seed=seed) for c in mats]
    w, a = _weights(k)
    stacked = np.ascontiguousarray(np.stack(mats, axis=-1))
    out = _compiled("exact_many")(stacked, w, a, _PIVOT_TOL)
    return [
        LMGFit(shares=out[:k, b].copy(), r2=float(out[k, b]), exact=True, error=np.zeros(k))
        for b in range(len(mats))
    ]


def subset_r2(corr: np.ndarray, subset: list[int] | np.ndarray) -> float:
    """R² of the outcome (last) on the predictors in ``subset``, by least squares.

    Example:
        >>> import numpy as np
        >>> subset_r2(np.array([[1.0, 0.6], [0.6, 1.0]]), [0])
        0.36
    """
    c = _check(corr)
    idx = np.asarray(subset, dtype=int)
    if idx.size == 0:
        return 0.0
    rxx = c[np.ix_(idx, idx)]
    rxy = c[idx, -1]
    beta = np.linalg.lstsq(rxx, rxy, rcond=None)[0]
    return float(round(rxy @ beta, 15))
