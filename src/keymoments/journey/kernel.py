"""The absorbing-chain kernel: every solve of a journey chain goes through here.

Chains are stacked arrays of transition probabilities, shape ``(..., F, T)``:
from-states ``[start, transient...]`` (F = S + 1), to-states
``[transient..., done, exit]`` (T = S + 2), any leading axes (draws, segments,
variants, views). Everything here is exact linear algebra, batched over the
leading axes:

- :func:`chain_from_counts`: transition counts to probabilities;
- :func:`fundamental` and :func:`solve_values`: N = (I − Q)⁻¹, and (I − Q)⁻¹ r
  (what a reward r per visit adds up to from each state), on the transient
  block Q of any chain;
- :func:`visits_and_returns`: expected visits from start, and the expected
  visits to a state once there (N[s, s]), from which the probability of ever
  reaching a state follows;
- :func:`fix_moment`: send (a share of) the flow into a moment's broken state
  to its ok state;
- :func:`variant_visits`: the visits of many fixed variants of one chain at
  once, by rank-one updates of its fundamental matrix;
- :func:`release_traps`: find chains in which journeys could loop for ever and
  make them solvable.

The textbook :class:`keymoments.journey.chain.AbsorbingChain` is kept as an
independent oracle for the tests.

Example (a moment that breaks half the time; breaking ends the journey):
    >>> import numpy as np
    >>> P = np.zeros((4, 5))          # from: start, a:ok, a:broken, won; to: ..., done, exit
    >>> P[0, :2] = 0.5                 # start -> a:ok / a:broken
    >>> P[1, 2] = 1.0                  # a:ok -> won
    >>> P[2, 4] = P[3, 3] = 1.0        # a:broken -> exit; won -> done
    >>> visits, returns = visits_and_returns(P, 3, [2])
    >>> (visits[2] / returns[0]).round(6)   # the chance of ever winning
    np.float64(0.5)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from keymoments.journey.states import StateSpace

__all__ = [
    "chain_from_counts",
    "ever_entered",
    "fix_moment",
    "fundamental",
    "release_traps",
    "solve_values",
    "variant_visits",
    "visits_and_returns",
]

Array = NDArray[np.float64]

# |1 − share·(e_ok − e_broken)ᵀ N u| below this: the fixed chain is singular (a trap).
# Fitted probabilities are case counts over case counts, so a genuine escape has
# probability of at least one in the number of cases, far above it.
_SINGULAR = 1e-10


def chain_from_counts(counts: Array) -> Array:
    """Row-normalise transition counts into probabilities.

    ``counts`` has shape (..., n_from, n_to). Rows with no observations are
    left as zeros (the caller decides what an unobserved state does).

    Example:
        >>> chain_from_counts(np.array([[3.0, 1.0], [0.0, 0.0]])).tolist()
        [[0.75, 0.25], [0.0, 0.0]]
    """
    totals = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        probs = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0), 0.0)
    return np.asarray(probs, dtype=float)


def fundamental(Q: Array) -> Array:
    """N = (I − Q)⁻¹ for transient blocks Q (..., S, S): expected visits to j from i.

    Raises ``numpy.linalg.LinAlgError`` when I − Q is singular (a chain whose
    journeys can loop for ever; see :func:`release_traps`).
    """
    return np.asarray(np.linalg.inv(np.eye(Q.shape[-1]) - Q), dtype=float)


def solve_values(Q: Array, reward: Array) -> Array:
    """(I − Q)⁻¹ r: what a reward per visit adds up to from each transient state.

    ``reward`` is (..., S) or (..., S, k) for k rewards at once; with the
    one-step chance of entering a set as the reward, it is the chance of ever
    entering it (a hitting probability).

    Example:
        >>> Q = np.array([[0.0, 0.5], [0.0, 0.0]])   # a -> b half the time
        >>> solve_values(Q, np.array([0.0, 1.0])).tolist()  # reward 1 for a visit to b
        [0.5, 1.0]
    """
    eye = np.eye(Q.shape[-1])
    if reward.ndim == Q.ndim - 1:
        return np.asarray(np.linalg.solve(eye - Q, reward[..., None])[..., 0], dtype=float)
    return np.asarray(np.linalg.solve(eye - Q, reward), dtype=float)


def visits_and_returns(P: Array, n_states: int, states: list[int]) -> tuple[Array, Array]:
    """Expected visits from start, and N[s, s] for the given transient states.

    ``P`` has shape (..., F, T). Returns visits (..., S) and the returns
    (..., len(states)): the expected visits to ``s`` counted from a first visit,
    so that visits / returns is the probability of ever visiting ``s``.
    """
    Q = P[..., 1:, :n_states]
    start = P[..., 0, :n_states]
    eye = np.eye(n_states)
    A = eye - Q
    visits = np.linalg.solve(np.swapaxes(A, -1, -2), start[..., None])[..., 0]
    if not states:
        return np.asarray(visits, dtype=float), np.zeros((*visits.shape[:-1], 0))
    rhs = np.zeros((*A.shape[:-2], n_states, len(states)))
    for k, s in enumerate(states):
        rhs[..., s, k] = 1.0
    cols = np.linalg.solve(A, rhs)
    diag = np.stack([cols[..., s, k] for k, s in enumerate(states)], axis=-1)
    return np.asarray(visits, dtype=float), np.asarray(diag, dtype=float)


def release_traps(P: Array, n_states: int) -> tuple[Array, NDArray[np.bool_]]:
    """Find chains (..., F, T) where journeys from start can be caught in a loop for good.

    A fitted chain never traps (every observed journey ended), but a fixed one
    can: if the only way on from ``m:ok`` ever observed went through ``m:broken``,
    sending that flow back to ``m:ok`` closes the loop. Such chains are flagged
    (the second return, shape (...)) and their trapped states sent to ``exit``
    so the linear algebra stays solvable for the rest.
    """
    # reachability by repeated matrix-vector products (0/1 floats: one BLAS call a step)
    Q = (P[..., 1:, :n_states] > 0).astype(np.float64)
    can_end = P[..., 1:, n_states:].sum(axis=-1) > 0
    for _ in range(n_states):
        more = can_end | (np.einsum("...st,...t->...s", Q, can_end.astype(np.float64)) > 0)
        if (more == can_end).all():
            break
        can_end = more
    reach = P[..., 0, :n_states] > 0
    for _ in range(n_states):
        more = reach | (np.einsum("...s,...st->...t", reach.astype(np.float64), Q) > 0)
        if (more == reach).all():
            break
        reach = more
    trapped = ~can_end
    if not trapped.any():
        return P, np.zeros(P.shape[:-2], dtype=bool)
    out = P.copy()
    rows = out[..., 1:, :]
    rows[trapped] = 0.0
    rows[..., n_states + 1][trapped] = 1.0
    return out, (trapped & reach).any(axis=-1)


def fix_moment(probs: Array, space: StateSpace, moment: int, share: float) -> Array:
    """Send ``share`` of the flow into a moment's broken states to its ok states, every row.

    ``share = 1`` is the moment never breaking ("fixed"). With memory, every
    copy of the broken state sends its flow to the ok state of the same
    history, so the break, and the memory of it downstream, are gone. Works
    on stacked chains (..., F, T); returns a new array.
    """
    out = probs.copy()
    for ok, broken in space.pairs(moment):
        if share >= 1.0:
            out[..., :, ok] += out[..., :, broken]
            out[..., :, broken] = 0.0
            continue
        moved = out[..., :, broken] * share
        out[..., :, ok] += moved
        out[..., :, broken] -= moved
    return out


def ever_entered(P: Array, n_states: int, sets: list[list[int]]) -> Array:
    """The probability of ever entering each set of transient states, from start.

    ``P`` is (..., F, T); returns (..., len(sets)). Each set is made absorbing
    in turn (the taboo chain), so a journey enters it at most once and the
    expected entries are the probability. With memory a moment's broken state
    has a copy per history and a journey can visit several copies; this is
    the chance of breaking it at all.
    """
    out = np.zeros((*P.shape[:-2], len(sets)))
    for k, states in enumerate(sets):
        taboo = P.copy()
        rows = [1 + s for s in states]
        taboo[..., rows, :] = 0.0
        # more ways out: a chain whose journeys all end (``P`` is, or was released)
        # still ends, so the taboo chain needs no releasing
        taboo[..., rows, n_states + 1] = 1.0
        visits, _ = visits_and_returns(taboo, n_states, [])
        out[..., k] = visits[..., states].sum(axis=-1)
    return out


def variant_visits(
    probs: Array,
    space: StateSpace,
    fixes: list[tuple[int, float]],
    n_states: int,
    states: list[int],
) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Visits and returns of the observed chains and of each fixed variant.

    ``probs`` is (D, G, F, T); variant k + 1 sends ``fixes[k][1]`` of the flow
    into moment ``fixes[k][0]``'s broken state to its ok state (:func:`fix_moment`).
    Returns visits (D, K, G, S), N[s, s] for ``states`` (D, K, G, len(states))
    and the stuck flags of :func:`release_traps` (D, K, G), K = 1 + len(fixes).

    A fix moves one column of the chain, a rank-one change of I − Q, so each
    variant's fundamental matrix N follows from the observed one by the
    Sherman–Morrison formula: one inversion per chain instead of one solve per
    variant. The formula's denominator is zero exactly when the fixed chain is
    singular, i.e. when the fix traps journeys in a loop (or leaves states
    that can never end); those rare variants are found that way, checked and
    released by :func:`release_traps`, and solved directly. With memory a fix
    moves one column per history, and each variant is solved directly.
    """
    if space.memory:
        return _variant_visits_direct(probs, space, fixes, n_states, states)
    base, base_stuck = release_traps(probs, n_states)
    targets = np.asarray(states, dtype=np.int64)
    n_draws, n_seg = probs.shape[:2]
    n_variants = 1 + len(fixes)
    visits = np.zeros((n_draws, n_variants, n_seg, n_states))
    diag = np.zeros((n_draws, n_variants, n_seg, len(states)))
    stuck = np.zeros((n_draws, n_variants, n_seg), dtype=bool)
    stuck[:, 0] = base_stuck

    q = base[..., 1:, :n_states]
    inverse = fundamental(q)  # N: (D, G, S, S)
    start = base[..., 0, :n_states]
    visits[:, 0] = np.einsum("dgs,dgst->dgt", start, inverse)
    diag[:, 0] = inverse[..., targets, targets]
    for k, (moment, share) in enumerate(fixes, start=1):
        ok, broken = space.ok(moment), space.broken(moment)
        nu = np.einsum("dgst,dgt->dgs", inverse, q[..., :, broken])  # N u, u the moved column
        dn = inverse[..., ok, :] - inverse[..., broken, :]  # (e_ok − e_broken)ᵀ N
        gain = nu[..., ok] - nu[..., broken]
        singular = np.abs(1.0 - share * gain) < _SINGULAR
        scale = share / np.where(singular, 1.0, 1.0 - share * gain)
        # the start row moves the same share: start' = start + share·start[broken]·(e_ok − e_broken)
        moved = share * start[..., broken]
        through = np.einsum("dgs,dgs->dg", start, nu) + moved * gain  # start'ᵀ N u
        visits[:, k] = visits[:, 0] + (moved + scale * through)[..., None] * dn
        diag[:, k] = diag[:, 0] + scale[..., None] * nu[..., targets] * dn[..., targets]
        if singular.any():
            rows = np.nonzero(singular)
            fixed, trapped = release_traps(fix_moment(base[rows], space, moment, share), n_states)
            visits[:, k][rows], diag[:, k][rows] = visits_and_returns(fixed, n_states, states)
            stuck[:, k][rows] = trapped
    return visits, diag, stuck


def _variant_visits_direct(
    probs: Array,
    space: StateSpace,
    fixes: list[tuple[int, float]],
    n_states: int,
    states: list[int],
) -> tuple[Array, Array, NDArray[np.bool_]]:
    """:func:`variant_visits` for chains with memory: a fix moves one column per history.

    The r moved columns are a rank-r change of I − Q, so each variant follows
    from the observed chain's N by the Woodbury identity (the rank-one formula
    of :func:`variant_visits`, r at a time): N' = N + (N U) M⁻¹ (Vᵀ N) with
    M = I − Vᵀ N U. A singular M is a fix that traps journeys; those variants
    are solved directly, like the rank-one path's.
    """
    base, base_stuck = release_traps(probs, n_states)
    targets = np.asarray(states, dtype=np.int64)
    n_draws, n_seg = probs.shape[:2]
    n_variants = 1 + len(fixes)
    visits = np.zeros((n_draws, n_variants, n_seg, n_states))
    diag = np.zeros((n_draws, n_variants, n_seg, len(states)))
    stuck = np.zeros((n_draws, n_variants, n_seg), dtype=bool)
    stuck[:, 0] = base_stuck
    q = base[..., 1:, :n_states]
    inverse = fundamental(q)  # N: (D, G, S, S)
    start = base[..., 0, :n_states]
    visits[:, 0] = (start[..., None, :] @ inverse)[..., 0, :]
    diag[:, 0] = inverse[..., targets, targets]
    for k, (moment, share) in enumerate(fixes, start=1):
        pairs = space.pairs(moment)
        ok = np.array([o for o, _ in pairs])
        broken = np.array([b for _, b in pairs])
        r = len(pairs)
        nu = share * (inverse @ q[..., :, broken])  # N U: (D, G, S, r)
        dn = inverse[..., ok, :] - inverse[..., broken, :]  # Vᵀ N: (D, G, r, S)
        M = np.eye(r) - (nu[..., ok, :] - nu[..., broken, :])  # (D, G, r, r)
        det = np.linalg.det(M)
        singular = np.abs(det) < _SINGULAR
        safe = np.where(singular[..., None, None], np.eye(r), M)
        # the start row moves the same share into each ok copy
        moved = share * start[..., broken]  # (D, G, r)
        s_n = visits[:, 0] + (moved[..., None, :] @ dn)[..., 0, :]  # start'ᵀ N
        s_nu = share * (s_n[..., None, :] @ q[..., :, broken])[..., 0, :]  # start'ᵀ N U
        coef = np.linalg.solve(np.swapaxes(safe, -1, -2), s_nu[..., None])[..., 0]
        visits[:, k] = s_n + (coef[..., None, :] @ dn)[..., 0, :]
        right = np.linalg.solve(safe, dn[..., targets])  # M⁻¹ Vᵀ N, target columns
        diag[:, k] = diag[:, 0] + np.einsum("dgth,dght->dgt", nu[..., targets, :], right)
        if singular.any():
            rows = np.nonzero(singular)
            fixed, trapped = release_traps(fix_moment(base[rows], space, moment, share), n_states)
            visits[:, k][rows], diag[:, k][rows] = visits_and_returns(fixed, n_states, states)
            stuck[:, k][rows] = trapped
    return visits, diag, stuck
