"""Interrupted time series: segmented regression with autocorrelation-robust intervals.

A measure per period ``y_t`` (a break rate, an outcome's rate or mean) is fitted
with a line before the change and another after it (Wagner et al. 2002,
*Segmented regression analysis of interrupted time series studies in
medication use research*, J Clin Pharm Ther 27:299):

    y_t = b0 + b1·t + b2·after_t + b3·after_t·(t − t*) + e_t

with ``t`` the period's middle and ``t*`` the date of the change, both in
periods. ``b2`` is the **level change** at the date (after − before), ``b3``
the change of slope; ``before`` is the first line's level at the date and
``after`` = before + b2. Rows are weighted by the period's denominator (visits
or cases), so a thin period counts for less.

**Errors robust to autocorrelation**: the covariance is Newey and West's (1987)
with the Bartlett kernel, on residuals scaled by 1/(1 − hᵢ) (the leverage
correction of MacKinnon and White's HC3, 1985; without it the lines' end
points, which carry the level change, get too little weight and intervals are
too narrow on series a year long). The bandwidth comes from the residuals'
first-order autocorrelation ρ by Andrews' (1991) AR(1) plug-in rule,
M = 1.1447 (α T)^(1/3) with α = 4ρ² / ((1 − ρ)² (1 + ρ)²); the critical value
is Kiefer and Vogelsang's (2005) fixed-b value for the Bartlett kernel,
1.96 + 2.9694 b + 0.4160 b² − 0.5324 b³ with b = M / T (at 95%; other levels
scale it by their normal quantile), and never below Student's t with T − 4
degrees of freedom. ``docs/monitor.md`` gives the coverage measured on
generated series (white noise and AR(1)).

Example (a step of -0.1 at period 10 in a series with no noise):
    >>> import numpy as np
    >>> t = np.arange(20) + 0.5
    >>> fit = segmented_regression(np.where(t < 10, 0.3, 0.2), t, 10.0)
    >>> round(fit.before, 6), round(fit.after, 6), round(fit.change, 6)
    (0.3, 0.2, -0.1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = ["MIN_AFTER", "MIN_BEFORE", "Segmented", "segmented_regression"]

Array = NDArray[np.float64]

#: periods needed on each side of the change for a fit
MIN_BEFORE = 4
MIN_AFTER = 3
# a hundred years of weeks: a projection beyond it says "not in any useful time"
_MAX_EXTRA = 5200


@dataclass
class Segmented:
    """A segmented-regression fit around one change (see the module doc).

    Attributes:
        before, after: the level just before and just after the change.
        change: after − before (the level change).
        ci: its interval at ``confidence``.
        slope_before: the trend per period before the change.
        slope_change: the change of trend at the change, with ``slope_ci``.
        se: the standard error of ``change``; ``critical``: the value its
            interval is ``change ± critical × se`` with.
        bandwidth: the Newey–West bandwidth M used; ``rho``: the residuals'
            first-order autocorrelation it came from.
        n_before, n_after: periods fitted on each side.
    """

    before: float
    after: float
    change: float
    ci: tuple[float, float]
    slope_before: float
    slope_change: float
    slope_ci: tuple[float, float]
    se: float
    critical: float
    bandwidth: float
    rho: float
    n_before: int
    n_after: int
    confidence: float
    _t: Array
    _w: Array
    _t_change: float

    def covers(self, value: float) -> bool:
        """Whether the interval of the level change holds ``value``."""
        return self.ci[0] <= value <= self.ci[1]

    def periods_needed(self, half_width: float) -> int | None:
        """More periods after the change until the interval's half-width is ``half_width``.

        Projected with the same noise, autocorrelation and critical value, the
        new periods spaced and weighted like those after the change so far;
        ``0`` when it already is, ``None`` when no length of series would do.
        """
        if not np.isfinite(self.se) or half_width <= 0:
            return None
        if self.critical * self.se <= half_width:
            return 0
        base = _design_factor(self._t, self._w, self._t_change)
        after = self._t > self._t_change
        step = float(np.diff(self._t).mean()) if len(self._t) > 1 else 1.0
        weight = float(self._w[after].mean()) if after.any() else float(self._w.mean())

        def half(extra: int) -> float:
            t = np.concatenate([self._t, self._t[-1] + step * np.arange(1, extra + 1)])
            w = np.concatenate([self._w, np.full(extra, weight)])
            grown = _design_factor(t, w, self._t_change)
            return self.critical * self.se * float(np.sqrt(grown / base))

        if half(_MAX_EXTRA) > half_width:
            return None
        lo, hi = 0, _MAX_EXTRA
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if half(mid) <= half_width:
                hi = mid
            else:
                lo = mid
        return hi


def _design(t: Array, t_change: float) -> Array:
    after = (t > t_change).astype(float)
    return np.column_stack([np.ones_like(t), t - t_change, after, after * (t - t_change)])


def _design_factor(t: Array, w: Array, t_change: float) -> float:
    """[(X'WX)^-1] of the level change: how the design alone sets its variance."""
    x = _design(t, t_change)
    return float(np.linalg.pinv(x.T @ (x * w[:, None]))[2, 2])


def fixed_b_critical(b: float, confidence: float = 0.95) -> float:
    """Kiefer–Vogelsang (2005) fixed-b critical value for a Bartlett-kernel t test.

    Their polynomial is for 95% two-sided tests; other levels scale it by the
    ratio of the normal quantiles.

    >>> round(fixed_b_critical(0.1), 4)
    2.2606
    """
    poly = 1.9600 + 2.9694 * b + 0.4160 * b**2 - 0.5324 * b**3
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    return float(poly * z / 1.959964)


def segmented_regression(
    y: ArrayLike,
    t: ArrayLike,
    t_change: float,
    *,
    weights: ArrayLike | None = None,
    confidence: float = 0.95,
) -> Segmented:
    """Fit the level and slope change at ``t_change`` (see the module doc).

    ``t`` are the periods' middles and ``t_change`` the change's date, in
    periods; ``weights`` the periods' denominators. Needs at least
    :data:`MIN_BEFORE` periods before the change and :data:`MIN_AFTER` after.
    """
    values: Array = np.asarray(y, dtype=float)
    times: Array = np.asarray(t, dtype=float)
    w: Array = np.ones_like(values) if weights is None else np.asarray(weights, dtype=float)
    keep = np.isfinite(values) & np.isfinite(times) & (w > 0)
    order = np.argsort(times[keep], kind="stable")
    y, t, w = values[keep][order], times[keep][order], w[keep][order]
    w = w / w.mean() if len(w) else w
    after = t > t_change
    n_before, n_after = int((~after).sum()), int(after.sum())
    if n_before < MIN_BEFORE or n_after < MIN_AFTER:
        raise ValueError(
            f"{n_before} periods before and {n_after} after the change; a segmented "
            f"regression needs at least {MIN_BEFORE} before and {MIN_AFTER} after"
        )
    x = _design(t, t_change)
    root = np.sqrt(w)
    xw, yw = x * root[:, None], y * root
    inverse = np.linalg.pinv(xw.T @ xw)
    coef = inverse @ xw.T @ yw
    resid = yw - xw @ coef
    leverage = np.einsum("ij,jk,ik->i", xw, inverse, xw)
    n, k = len(y), x.shape[1]
    denom = float(resid[:-1] @ resid[:-1])
    rho = float(resid[1:] @ resid[:-1]) / denom if denom > 0 else 0.0
    rho = float(np.clip(rho, -0.97, 0.97))
    alpha = 4 * rho**2 / ((1 - rho) ** 2 * (1 + rho) ** 2)
    bandwidth = float(min(1.1447 * (alpha * n) ** (1 / 3), n / 2))
    scaled = resid / np.clip(1 - leverage, 1e-6, None)
    z = xw * scaled[:, None]
    meat = z.T @ z
    lag = 1
    while lag < bandwidth:
        cross = z[lag:].T @ z[:-lag]
        meat += (1 - lag / bandwidth) * (cross + cross.T)
        lag += 1
    cov = inverse @ meat @ inverse
    critical = max(
        fixed_b_critical(bandwidth / n, confidence),
        float(stats.t.ppf(0.5 + confidence / 2, max(n - k, 1))),
    )
    se = float(np.sqrt(max(cov[2, 2], 0.0)))
    slope_se = float(np.sqrt(max(cov[3, 3], 0.0)))
    before = float(coef[0])
    change = float(coef[2])
    return Segmented(
        before=before,
        after=before + change,
        change=change,
        ci=(change - critical * se, change + critical * se),
        slope_before=float(coef[1]),
        slope_change=float(coef[3]),
        slope_ci=(float(coef[3]) - critical * slope_se, float(coef[3]) + critical * slope_se),
        se=se,
        critical=critical,
        bandwidth=bandwidth,
        rho=rho,
        n_before=n_before,
        n_after=n_after,
        confidence=confidence,
        _t=t,
        _w=w,
        _t_change=float(t_change),
    )
