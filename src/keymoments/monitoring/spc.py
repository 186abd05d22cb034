"""Statistical process control: p-charts, XmR charts and the special-cause rules.

The charts and rules are those of NHS England's *Making Data Count* ("plot the
dots"), as its reference implementation, the NHS-R community's
NHSRplotthedots, computes them:

- **p-chart** (a proportion per period, e.g. the share of a moment's visits
  that broke): centre p̄ = Σ breaks / Σ visits over the baseline periods;
  limits p̄ ± 3 √(p̄(1 − p̄)/nᵢ), one pair per period, held within [0, 1]
  (Montgomery, *Introduction to Statistical Quality Control*, section 7.2);
- **XmR chart** (one value per period, e.g. a mean rating): centre the mean of
  the baseline values; limits centre ± 2.66 × the mean moving range of the
  baseline, after moving ranges of 3.267 × their mean or more are left out
  (the screening NHSRplotthedots does by default).

Special causes, on the periods that can be judged (with a value, complete):

- ``outside_limits``: a point above the upper or below the lower limit;
- ``shift``: seven or more points in a row on one side of the centre line (a
  point on the line ends the run); every point of the run is flagged;
- ``trend``: seven or more points in a row each higher (or each lower) than the
  one before; every point of the run is flagged;
- ``two_of_three``: two of three points in a row close to a limit (beyond two
  sigma, inside the limit), all three on the same side of the centre; the
  close points are flagged.

A flagged point is an *improvement* or a *concern* by its side of the centre
line and the direction that is better (fewer breaks is better; a higher
outcome is better): Making Data Count's orange and blue dots.

Example (Montgomery's orange-juice cans, Example 7.1: 30 samples of 50):
    >>> import numpy as np
    >>> d = np.array([12, 15, 8, 10, 4, 7, 16, 9, 14, 10, 5, 6, 17, 12, 22,
    ...               8, 10, 5, 13, 11, 20, 18, 24, 15, 9, 12, 7, 13, 9, 6])
    >>> chart = p_chart(d, np.full(30, 50))
    >>> round(chart.centre, 4), round(float(chart.ucl[0]), 4), round(float(chart.lcl[0]), 4)
    (0.2313, 0.4102, 0.0524)
    >>> [i + 1 for i, s in enumerate(chart.signals) if "outside_limits" in s]
    [15, 23]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["RULES", "ControlChart", "p_chart", "special_causes", "xmr_chart"]

Array = NDArray[np.float64]
Mask = NDArray[np.bool_]

#: the special-cause rules, in the order they are reported
RULES = ("outside_limits", "shift", "trend", "two_of_three")
#: points in a row that make a shift or a trend
RUN = 7
# XmR constants: 3 / d2 with d2 = 1.128 for moving ranges of two, and D4 = 3.267
XMR_LIMIT = 2.66
MR_SCREEN = 3.267


@dataclass
class ControlChart:
    """One measure's SPC chart: values per period, centre, limits and signals.

    Attributes:
        kind: ``p`` (a proportion with its denominators) or ``xmr``.
        values: the value per period (NaN where there is none).
        n: the denominator per period (visits or cases).
        centre: the centre line, from the baseline periods.
        lcl, ucl: the lower and upper limits per period.
        sigma: one standard deviation per period (a third of the limits' width).
        baseline: the periods the centre and limits come from.
        judged: the periods the rules look at (a value, and complete).
        signals: per period, the rules it breaks (empty when none).
        direction: -1 when lower is better, +1 when higher is better, 0 neither.
    """

    kind: Literal["p", "xmr"]
    values: Array
    n: Array
    centre: float
    lcl: Array
    ucl: Array
    sigma: Array
    baseline: Mask
    judged: Mask
    signals: list[list[str]]
    direction: int = 0

    @property
    def n_signals(self) -> int:
        """Periods flagged by at least one rule."""
        return sum(1 for s in self.signals if s)

    def point_types(self) -> list[str]:
        """Per period: ``improvement``, ``concern``, ``neutral`` (a special cause with no
        better direction) or ``common`` (no rule broken, or not judged)."""
        out = []
        for v, s in zip(self.values, self.signals, strict=True):
            if not s:
                out.append("common")
            elif self.direction == 0:
                out.append("neutral")
            else:
                side = np.sign(v - self.centre)
                out.append("improvement" if side == self.direction else "concern")
        return out

    @property
    def variation(self) -> str:
        """Making Data Count's variation icon, from the latest judged period:
        ``improvement``, ``concern``, ``neutral`` or ``common_cause``."""
        judged = np.flatnonzero(self.judged)
        if not len(judged):
            return "common_cause"
        kind = self.point_types()[int(judged[-1])]
        return "common_cause" if kind == "common" else kind


def _usable(values: Array, judged: ArrayLike | None) -> Mask:
    ok = np.isfinite(values)
    if judged is not None:
        ok &= np.asarray(judged, dtype=bool)
    return np.asarray(ok, dtype=bool)


def _baseline(usable: Mask, baseline: ArrayLike | None) -> Mask:
    base = usable.copy() if baseline is None else usable & np.asarray(baseline, dtype=bool)
    if not base.any():
        raise ValueError("no period of the baseline has a value; widen the baseline")
    return base


def p_chart(
    breaks: ArrayLike,
    n: ArrayLike,
    *,
    baseline: ArrayLike | None = None,
    judged: ArrayLike | None = None,
    direction: int = -1,
) -> ControlChart:
    """A p-chart of ``breaks / n`` per period, limits from the ``baseline`` periods.

    ``baseline`` and ``judged`` are boolean masks (default: every period with
    ``n > 0``); a period with ``n = 0`` has no value and is never judged.
    """
    b = np.asarray(breaks, dtype=float)
    size = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(size > 0, b / np.where(size > 0, size, 1.0), np.nan)
    usable = _usable(values, judged)
    base = _baseline(usable, baseline)
    centre = float(b[base].sum() / size[base].sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(centre * (1 - centre) / np.where(size > 0, size, np.nan))
    lcl = np.clip(centre - 3 * sigma, 0.0, 1.0)
    ucl = np.clip(centre + 3 * sigma, 0.0, 1.0)
    signals = special_causes(values, centre, lcl, ucl, sigma, usable)
    return ControlChart("p", values, size, centre, lcl, ucl, sigma, base, usable, signals,
                        direction)  # fmt: skip


def xmr_chart(
    values: ArrayLike,
    *,
    n: ArrayLike | None = None,
    baseline: ArrayLike | None = None,
    judged: ArrayLike | None = None,
    direction: int = 1,
    screen: bool = True,
) -> ControlChart:
    """An XmR (individuals) chart of ``values``, limits from the ``baseline`` periods.

    Moving ranges are taken between consecutive baseline values; with
    ``screen``, those of 3.267 times their mean or more are left out before
    the limits are set (NHSRplotthedots' default).

    Example (Montgomery, Example 6.5: weekly loan-processing costs):
        >>> costs = [310, 288, 297, 298, 307, 303, 294, 297, 308, 306,
        ...          294, 299, 297, 299, 314, 295, 293, 306, 301, 304]
        >>> chart = xmr_chart(costs)
        >>> round(chart.centre, 2), round(float(chart.ucl[0]), 2), round(float(chart.lcl[0]), 2)
        (300.5, 321.22, 279.78)
    """
    y = np.asarray(values, dtype=float)
    size = np.ones_like(y) if n is None else np.asarray(n, dtype=float)
    usable = _usable(y, judged)
    base = _baseline(usable, baseline)
    points = y[base]
    centre = float(points.mean())
    ranges = np.abs(np.diff(points))
    if len(ranges):
        mean_range = float(ranges.mean())
        if screen and mean_range > 0:
            kept = ranges[ranges < MR_SCREEN * mean_range]
            mean_range = float(kept.mean()) if len(kept) else mean_range
    else:
        mean_range = 0.0
    width = XMR_LIMIT * mean_range
    lcl = np.full_like(y, centre - width)
    ucl = np.full_like(y, centre + width)
    sigma = np.full_like(y, width / 3)
    signals = special_causes(y, centre, lcl, ucl, sigma, usable)
    return ControlChart("xmr", y, size, centre, lcl, ucl, sigma, base, usable, signals,
                        direction)  # fmt: skip


def _runs(flags: NDArray[np.int64], length: int) -> Mask:
    """Points in runs of at least ``length`` equal non-zero values."""
    out = np.zeros(len(flags), dtype=bool)
    start = 0
    for i in range(1, len(flags) + 1):
        if i == len(flags) or flags[i] != flags[start]:
            if flags[start] != 0 and i - start >= length:
                out[start:i] = True
            start = i
    return out


def special_causes(
    values: Array,
    centre: float,
    lcl: Array,
    ucl: Array,
    sigma: Array,
    judged: Mask,
) -> list[list[str]]:
    """The rules each period breaks (see the module doc), judged periods only.

    Runs and trends count judged periods in order, skipping the others.
    """
    found: list[list[str]] = [[] for _ in values]
    idx = np.flatnonzero(judged)
    if not len(idx):
        return found
    y, lo, hi, s = values[idx], lcl[idx], ucl[idx], sigma[idx]
    outside = (y > hi) | (y < lo)
    side = np.sign(y - centre).astype(np.int64)
    shift = _runs(side, RUN)
    step = np.sign(np.diff(y)).astype(np.int64)
    # a trend of RUN points is RUN - 1 steps the same way; flag both ends of each step
    rising = _runs(step, RUN - 1)
    trend = np.zeros(len(y), dtype=bool)
    trend[:-1] |= rising
    trend[1:] |= rising
    close = ~outside & (np.abs(y - centre) > 2 * s)
    two = np.zeros(len(y), dtype=bool)
    for i in range(len(y) - 2):
        window = slice(i, i + 3)
        if abs(int(side[window].sum())) == 3 and int(close[window].sum()) >= 2:
            two[window] |= close[window]
    for rule, hits in zip(RULES, (outside, shift, trend, two), strict=True):
        for j in np.flatnonzero(hits):
            found[int(idx[j])].append(rule)
    return found
