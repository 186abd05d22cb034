"""The exact attributable fractions planted in a generated example's barriers.

A generated case is a Markov process whose move and break probabilities depend
on its segment and, through per-case nudges, on its barriers. For each
distinct (segment, barrier pattern), with its exact probability in the
population, the chain's hitting probabilities give the chance of reaching a
moment at least once and of breaking it at least once, the per-case
definitions the analysis uses. The attributable fraction of a barrier is then

    1 - Σ π(x) r(x) q(x with the barrier set to 0) / Σ π(x) r(x) q(x)

with ``r`` the chance of reaching the moment and ``q`` of breaking it once
reached: the share of the breaks, among the cases reaching the moment, that
would not happen if the barrier were lifted from its holders, all else
unchanged. No simulation: linear algebra on a chain of a few dozen states.

Example:
    >>> from keymoments.examples.car_purchase import SPEC
    >>> af = true_attributable_fractions(SPEC)
    >>> round(af["finance"]["credit_score"], 3)
    0.29
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from keymoments.examples._simulate import Flow, Population
from keymoments.journey.kernel import solve_values
from keymoments.model import load_service

__all__ = ["BarrierPatterns", "hitting_probabilities", "true_attributable_fractions"]

# every (segment, barrier pattern) of an example's population, one per "case",
# with its exact probability
BarrierPatterns = Callable[[], tuple[Population, np.ndarray]]


def _case_chain(flow: Flow, population: Population, case: int) -> np.ndarray:
    """One case's transition matrix over [start, m:ok, m:broken..., end]."""
    g = int(population.segment[case])
    n_m = len(flow.moments)
    n_s = flow.n_states
    move = flow.move[g].copy()
    brk = flow.brk[g].copy()
    index = np.array([case])
    for nudge in population.nudges:
        sources = range(n_s) if nudge.sources is None else nudge.sources
        j = nudge.moment
        for s in sources:
            if nudge.kind == "move":
                old = move[s, j]
                new = float(nudge.apply(np.array([old]), index)[0])
                rest = (1 - new) / (1 - old) if old < 1 else 0.0
                move[s] *= rest
                move[s, j] = new
            else:
                brk[s, j] = float(nudge.apply(np.array([brk[s, j]]), index)[0])
    P = np.zeros((n_s + 1, n_s + 1))
    for s in range(n_s):
        for j in range(n_m):
            P[s, 1 + 2 * j] += move[s, j] * (1 - brk[s, j])
            P[s, 2 + 2 * j] += move[s, j] * brk[s, j]
        P[s, n_s] += move[s, n_m]
    P[n_s, n_s] = 1.0
    return P


def hitting_probabilities(P: np.ndarray, targets: list[int], start: int = 0) -> float:
    """The chance that a chain started in ``start`` ever enters one of ``targets``.

    Example:
        >>> P = np.array([[0, .5, .5], [0, 1, 0], [0, 0, 1.]])  # start, a, b
        >>> hitting_probabilities(P, [1])
        0.5
    """
    n = P.shape[0]
    # absorbing states outside the targets never reach them: leave them out
    others = [s for s in range(n) if s not in targets and P[s, s] < 1]
    Q = P[np.ix_(others, others)]
    r = P[np.ix_(others, targets)].sum(axis=1)
    h = solve_values(Q, r)
    return float(h[others.index(start)])


def true_attributable_fractions(spec: object) -> dict[str, dict[str, float]]:
    """moment id -> barrier id -> the exact planted attributable fraction.

    ``spec`` is an :class:`~keymoments.examples._generate.ExampleSpec` with
    ``barrier_patterns``; without it the result is empty.
    """
    patterns_of: BarrierPatterns | None = getattr(spec, "barrier_patterns", None)
    if patterns_of is None:
        return {}
    flow: Flow = spec.flow  # type: ignore[attr-defined]
    service = load_service(spec.service_path())  # type: ignore[attr-defined]
    population, prob = patterns_of()
    columns = population.columns
    keys = [
        (int(population.segment[i]), *(int(columns[c][i]) for c in sorted(columns)))
        for i in range(len(prob))
    ]
    where = {k: i for i, k in enumerate(keys)}
    chains = [_case_chain(flow, population, i) for i in range(len(prob))]
    out: dict[str, dict[str, float]] = {}
    for moment in dict.fromkeys(b.moment for b in service.barriers):
        j = flow.moments.index(moment)
        ok, broken = 1 + 2 * j, 2 + 2 * j
        reach = np.array([hitting_probabilities(P, [ok, broken]) for P in chains])
        broke = np.array([hitting_probabilities(P, [broken]) for P in chains])
        q = np.where(reach > 0, broke / np.where(reach > 0, reach, 1.0), 0.0)
        now = float((prob * reach * q).sum())
        out[moment] = {}
        for b in service.barriers:
            if b.moment != moment:
                continue
            position = 1 + sorted(columns).index(b.column)
            lifted = np.empty(len(prob))
            for i, k in enumerate(keys):
                off = list(k)
                off[position] = 0
                lifted[i] = q[where[tuple(off)]]
            out[moment][b.id] = 1.0 - float((prob * reach * lifted).sum()) / now
    return out
