"""Equity: what a plan does for each segment, and whether it widens the gap between them.

For each outcome the *gap* is the distance between the best-off and the
worst-off segment (for an outcome with a negative money value, such as a
cost, lower is better). A plan *widens* the gap when the gap after it exceeds
today's by more than 1% of today's gap (and more than a rounding error): a
fix that helps the better-off most.

Example:
    >>> import numpy as np
    >>> today = np.array([[0.8], [0.6]])       # segments × outcomes
    >>> after = np.array([[0.9], [0.62]])
    >>> [round(g, 6) for g in gaps(today, after, np.array([1.0]))[0]]
    [0.2, 0.28]
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["gaps", "widened"]

Array = NDArray[np.float64]
_RELATIVE = 0.01
_ABSOLUTE = 1e-9


def gaps(today: Array, after: Array, direction: Array) -> list[tuple[float, float]]:
    """Gap between best and worst segment per outcome, today and after: [(today, after)].

    ``today`` and ``after`` are (segments, outcomes); ``direction`` is +1 where
    higher is better and -1 where lower is.
    """
    out = []
    for k in range(today.shape[1]):
        t = today[:, k] * direction[k]
        a = after[:, k] * direction[k]
        worst = int(np.argmin(t))
        best = int(np.argmax(t))
        out.append((float(t[best] - t[worst]), float(a[best] - a[worst])))
    return out


def widened(before: float, after: float) -> bool:
    """Whether a gap grew by more than 1% of itself (and a rounding error)."""
    return after - before > max(_RELATIVE * abs(before), _ABSOLUTE)
