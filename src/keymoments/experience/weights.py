"""Johnson's relative weights and the simple importance metrics beside LMG.

All take the correlation matrix of the predictors and the outcome (last row
and column), so they work from the same summary as :func:`~keymoments.experience.shapley.lmg`.

- **Relative weights** (Johnson 2000): with ``Rxx = V diag(λ) V'`` and
  ``Λ = V diag(√λ) V'`` (the symmetric square root), the outcome is regressed
  on the orthogonal ``Z = X Λ⁻¹``: ``β = Λ⁻¹ r_xy`` and predictor j's weight is
  ``Σ_k Λ_jk² β_k²``. The weights sum to R²; they equal Genizi's (1993)
  decomposition and are usually close to LMG.
- ``first``: the squared correlation with the outcome (R² alone);
  ``last``: the R² lost when the predictor is dropped from the full model;
  ``betasq``: the squared standardised coefficient; ``pratt``: standardised
  coefficient × correlation; ``car``: squared CAR score (``(Rxx^-1/2 r_xy)²``).

Eigenvalues below 1e-10 (predictors that are linear combinations of others)
are treated as zero, as a generalised inverse would.

Example:
    >>> import numpy as np
    >>> corr = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.3], [0.5, 0.3, 1.0]])
    >>> [round(float(v), 3) for v in relative_weights(corr)]
    [0.25, 0.09]
"""

from __future__ import annotations

import numpy as np

__all__ = ["companion_metrics", "relative_weights"]

_EIGEN_TOL = 1e-10


def _split(corr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(corr, dtype=np.float64)
    return c[:-1, :-1], c[:-1, -1]


def _sqrt_and_inverse(rxx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    vals, vecs = np.linalg.eigh(rxx)
    keep = vals > _EIGEN_TOL
    root = np.sqrt(np.where(keep, vals, 0.0))
    inv_root = np.where(keep, 1.0 / np.where(keep, root, 1.0), 0.0)
    return (vecs * root) @ vecs.T, (vecs * inv_root) @ vecs.T


def relative_weights(corr: np.ndarray) -> np.ndarray:
    """Johnson's (2000) raw relative weights; they sum to the full model's R²."""
    rxx, rxy = _split(corr)
    lam, lam_inv = _sqrt_and_inverse(rxx)
    beta = lam_inv @ rxy
    return np.asarray((lam**2) @ (beta**2))


def _beta(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    return np.asarray(np.linalg.pinv(rxx, rcond=1e-10, hermitian=True) @ rxy)


def companion_metrics(corr: np.ndarray) -> dict[str, np.ndarray]:
    """``first``, ``last``, ``betasq``, ``pratt`` and ``car`` per predictor (see the module doc).

    Example:
        >>> import numpy as np
        >>> corr = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.3], [0.5, 0.3, 1.0]])
        >>> [round(float(x), 2) for x in companion_metrics(corr)["first"]]
        [0.25, 0.09]
    """
    rxx, rxy = _split(corr)
    k = len(rxy)
    beta = _beta(rxx, rxy)
    r2 = float(beta @ rxy)
    last = np.empty(k)
    for j in range(k):
        rest = [i for i in range(k) if i != j]
        last[j] = r2 - (
            float(_beta(rxx[np.ix_(rest, rest)], rxy[rest]) @ rxy[rest]) if rest else 0.0
        )
    _, inv_root = _sqrt_and_inverse(rxx)
    return {
        "first": rxy**2,
        "last": last,
        "betasq": beta**2,
        "pratt": beta * rxy,
        "car": (inv_root @ rxy) ** 2,
    }
