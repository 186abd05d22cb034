"""The textbook absorbing Markov chain, kept as an independent oracle.

The analysis solves its chains in :mod:`keymoments.journey.kernel` (batched,
by rank-one updates); this class does the same sums the textbook way, one
chain at a time, and the tests hold the kernel to it.

A chain has transient states (the moment states ``m:ok``/``m:broken`` and
outcome markers) and absorbing ones (``done``, ``exit``). Everything here is
exact: fundamental matrix, expected visits, absorption and first-visit
probabilities, and the sensitivity of any of them to one transition. It knows
nothing about services; :mod:`keymoments.journey.fit` builds chains from
journeys.

Example (Grinstead & Snell, Example 11.13, the drunkard's walk):
    >>> import numpy as np
    >>> P = np.zeros((5, 5))
    >>> P[0, 0] = P[4, 4] = 1
    >>> for i in (1, 2, 3):
    ...     P[i, i - 1] = P[i, i + 1] = 0.5
    >>> chain = AbsorbingChain(P, transient=[1, 2, 3], absorbing=[0, 4])
    >>> chain.expected_steps().round(6).tolist()
    [3.0, 4.0, 3.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["AbsorbingChain", "redirect"]

Array = NDArray[np.float64]


class AbsorbingChain:
    """An absorbing Markov chain given by its full transition matrix.

    Args:
        P: square row-stochastic matrix over all states (rows of absorbing
            states are ignored).
        transient: indices of the transient states, in the order results use.
        absorbing: indices of the absorbing states.
        names: optional state names, for :meth:`index`.
    """

    def __init__(
        self,
        P: Array,
        transient: Sequence[int],
        absorbing: Sequence[int],
        names: Sequence[str] | None = None,
    ) -> None:
        self.P = np.asarray(P, dtype=float)
        self.transient = list(transient)
        self.absorbing = list(absorbing)
        self.names = list(names) if names is not None else None
        self.Q = self.P[np.ix_(self.transient, self.transient)]
        self.R = self.P[np.ix_(self.transient, self.absorbing)]
        self._N: Array | None = None

    def index(self, state: str | int) -> int:
        """Position of a state among the transient states."""
        if isinstance(state, str):
            if self.names is None:
                raise KeyError(state)
            state = self.names.index(state)
        return self.transient.index(state)

    @property
    def fundamental(self) -> Array:
        """N = (I − Q)⁻¹: expected visits to j starting from i (transient states)."""
        if self._N is None:
            eye = np.eye(len(self.transient))
            self._N = np.linalg.inv(eye - self.Q)
        return self._N

    def expected_steps(self) -> Array:
        """t = N·1: expected number of steps before absorption, from each transient state."""
        return self.fundamental.sum(axis=1)

    def absorption(self) -> Array:
        """B = N·R: probability of ending in each absorbing state, from each transient state."""
        return self.fundamental @ self.R

    def expected_visits(self, start: Array) -> Array:
        """Expected visits to each transient state from a start distribution over them."""
        eye = np.eye(len(self.transient))
        return np.linalg.solve((eye - self.Q).T, np.asarray(start, dtype=float))

    def first_visit_probability(self, start: Array, state: int) -> float:
        """Probability of ever visiting transient ``state`` (by position) from ``start``.

        Equals expected visits over N[state, state], the mean number of visits
        once there, so loops through the state are counted once.
        """
        visits = self.expected_visits(start)
        return float(visits[state] / self.fundamental[state, state])

    def sensitivity(
        self,
        start: Array,
        i: int,
        j: int,
        k: int,
        *,
        absorbing_value: Array | None = None,
        reward: Array | None = None,
    ) -> float:
        """d(expected value from ``start``)/dP[i, j] when P[i, k] absorbs the change.

        ``i`` is a transient position; ``j`` and ``k`` are full-matrix state
        indices. The value is a terminal ``absorbing_value`` per absorbing state
        (``[1, 0]`` gives the probability of ending in the first) plus a
        ``reward`` per visit to each transient state. Closed form (Caswell
        2013): dV/dP_ij = (start·N)_i (g_j − g_k), g the value to go.
        """
        visits = self.expected_visits(start)
        g = self._value_to_go(absorbing_value, reward)
        return float(visits[i] * (g[j] - g[k]))

    def _value_to_go(self, absorbing_value: Array | None, reward: Array | None) -> Array:
        """Expected value still to come from every state (full indexing)."""
        a = (
            np.zeros(len(self.absorbing))
            if absorbing_value is None
            else np.asarray(absorbing_value)
        )
        r = np.zeros(len(self.transient)) if reward is None else np.asarray(reward)
        out = np.zeros(len(self.P))
        out[self.absorbing] = a
        out[self.transient] = self.fundamental @ (r + self.R @ a)
        return out


def redirect(P: Array, source: int, target: int) -> Array:
    """Send all flow into ``source`` to ``target`` instead (column move), every row.

    This is how a moment is "fixed" (flow into ``m:broken`` goes to ``m:ok``)
    and how a channel is "removed" (flow into it goes to the null state).
    Works on stacked matrices (..., n_from, n_to).
    """
    out = P.copy()
    out[..., :, target] += out[..., :, source]
    out[..., :, source] = 0.0
    return out
