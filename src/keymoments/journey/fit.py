"""Journey chains fitted from signatures, and what fixing a moment would change.

The journey signatures of :mod:`keymoments.journey.summaries` become sparse
matrices (transitions and visit counts per signature). For any weighting of the
signatures — the observed counts, or one bootstrap draw — :func:`evaluate`
fits one absorbing chain per segment and returns, exactly:

- reach and break rate of each moment (per case, from the signatures);
- each outcome's mean under the observed chain and under the chain where a
  moment never breaks (flow into ``m:broken`` sent to ``m:ok``);
- the marginal gain of each outcome per percentage point fewer breaks.

Binary outcomes are the probability of ever visiting their marker state;
numeric outcomes are a constant plus a reward per visit to each state, fitted
by weighted, centred least squares per segment, so the
expected visits of a fixed chain give their counterfactual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from keymoments.journey.chain import chain_from_counts, redirect
from keymoments.journey.states import StateSpace
from keymoments.journey.summaries import JourneySummary
from keymoments.model import Service

__all__ = ["Evaluation", "FittedChains", "JourneyData", "evaluate", "fit_chains"]

Array = NDArray[np.float64]
# Cases with an observed numeric outcome needed, per regressor, before a segment
# gets its own rewards; smaller segments borrow the pooled rewards.
_ROWS_PER_REGRESSOR = 10
_MARGINAL_STEP = 1e-6


def parse_signature(sig: str) -> list[int]:
    """State codes of a signature string (``"0.2.5"`` → ``[0, 2, 5]``)."""
    return [int(c) for c in sig.split(".")] if sig else []


@dataclass
class JourneyData:
    """Signatures as matrices, ready for repeated evaluation under different weights."""

    space: StateSpace
    segments: list[str]
    seg_of_row: NDArray[np.int64]
    n: Array  # cases per row
    transitions: sp.csr_matrix  # rows × (G · F · T): transition counts per case
    visits: sp.csr_matrix  # rows × S: visits to each transient state per case
    reached: sp.csr_matrix  # rows × M: 1 if the moment was reached
    broke: sp.csr_matrix  # rows × M: 1 if the moment was broken
    numeric: list[str]
    n_y: dict[str, Array]
    sum_y: dict[str, Array]
    sum_y2: dict[str, Array]
    sigs: list[str]

    @property
    def n_from(self) -> int:
        """start + transient states."""
        return 1 + self.space.n_transient

    @property
    def n_to(self) -> int:
        """transient + done + exit."""
        return self.space.n_transient + 2

    @property
    def codes(self) -> list[list[int]]:
        """Each signature row as its list of state codes."""
        return [parse_signature(sig) for sig in self.sigs]

    @classmethod
    def from_summary(cls, summary: JourneySummary) -> JourneyData:
        """Build the matrices from a journey summary (vectorised: logs can have
        hundreds of thousands of distinct journeys)."""
        space = summary.space
        frame = summary.signatures
        segments = sorted(frame["segment"].astype(str).unique().tolist())
        seg_index = {s: i for i, s in enumerate(segments)}
        seg_of_row = frame["segment"].astype(str).map(seg_index).to_numpy(dtype=np.int64)
        sigs = frame["sig"].astype(str).tolist()
        n_states = space.n_transient
        n_from, n_to = 1 + n_states, n_states + 2
        n_moments = len(space.moments)
        n_rows = len(sigs)

        # all codes of all journeys in one array, with the row each belongs to
        lengths = np.array([sig.count(".") + 1 if sig else 0 for sig in sigs], dtype=np.int64)
        joined = ".".join(sig for sig in sigs if sig)
        codes = np.array(joined.split("."), dtype=np.int64) if joined else np.zeros(0, np.int64)
        row_of = np.repeat(np.arange(n_rows), lengths)
        first = np.zeros(len(codes), dtype=bool)
        starts = np.cumsum(lengths) - lengths
        first[starts[lengths > 0]] = True
        prev = np.empty(len(codes), dtype=np.int64)
        prev[1:] = codes[:-1] + 1  # from-axis index of the previous state
        prev[first] = 0  # start
        block = n_from * n_to
        base = seg_of_row * block
        t_cols = base[row_of] + prev * n_to + codes

        # the end of each journey: from its last state (or start) to done or exit
        last_code = np.full(n_rows, -1, dtype=np.int64)
        has = lengths > 0
        last_code[has] = codes[starts[has] + lengths[has] - 1]
        if space.binary_outcomes:
            marker = np.bincount(row_of, weights=codes >= 2 * n_moments, minlength=n_rows) > 0
            done = marker
        else:
            done = has & ~((last_code < 2 * n_moments) & (last_code % 2 == 1))
        end_cols = base + (last_code + 1) * n_to + np.where(done, n_states, n_states + 1)

        def matrix(rows: NDArray[np.int64], cols: NDArray[np.int64], width: int) -> sp.csr_matrix:
            return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_rows, width))

        transitions = matrix(
            np.concatenate([row_of, np.arange(n_rows)]),
            np.concatenate([t_cols, end_cols]),
            len(segments) * block,
        )
        is_moment = codes < 2 * n_moments
        reached = matrix(row_of[is_moment], codes[is_moment] // 2, n_moments)
        is_broken = is_moment & (codes % 2 == 1)
        broke = matrix(row_of[is_broken], codes[is_broken] // 2, n_moments)
        # a moment reached (or broken) twice still counts once per case
        reached.data[:] = 1.0
        broke.data[:] = 1.0
        numeric = list(summary.numeric_outcomes)
        return cls(
            space=space,
            segments=segments,
            seg_of_row=seg_of_row,
            n=frame["n"].to_numpy(dtype=float),
            transitions=transitions,
            visits=matrix(row_of, codes, n_states),
            reached=reached,
            broke=broke,
            numeric=numeric,
            n_y={o: frame[f"n_y:{o}"].to_numpy(dtype=float) for o in numeric},
            sum_y={o: frame[f"sum_y:{o}"].to_numpy(dtype=float) for o in numeric},
            sum_y2={o: frame[f"sum_y2:{o}"].to_numpy(dtype=float) for o in numeric},
            sigs=sigs,
        )

    def variants(self, top: int = 10) -> pd.DataFrame:
        """The most frequent journeys (all segments together), as state names."""
        frame = pd.DataFrame({"codes": [".".join(map(str, c)) for c in self.codes], "n": self.n})
        grouped = frame.groupby("codes", sort=False)["n"].sum().sort_values(ascending=False)
        total = float(self.n.sum())
        out = []
        for sig, n in grouped.head(top).items():
            names = [self.space.label(c) for c in parse_signature(str(sig))]
            out.append({"path": names, "cases": int(n), "share": float(n) / total})
        return pd.DataFrame(out)


@dataclass
class Evaluation:
    """Figures from one weighting of the signatures (observed or one bootstrap draw).

    Arrays are indexed by moment (``reach``, ``break_rate``: all moments) or by
    breakable moment × outcome (``recoverable``, ``marginal``); outcomes follow
    the order of ``Service.outcomes``.
    """

    reach: Array
    break_rate: Array
    outcome_mean: Array  # the fitted chain's own value of each outcome
    recoverable: Array
    marginal: Array
    ok_unseen: NDArray[np.bool_]  # breakable moment whose ok state was never observed
    trapped: NDArray[np.bool_]  # breakable moment whose fix leaves journeys no way out


def _segment_chains(data: JourneyData, w: Array) -> tuple[Array, Array]:
    """Per-segment transition probabilities (G, F, T) and segment weights (G,)."""
    n_seg = len(data.segments)
    counts = (data.transitions.T @ w).reshape(n_seg, data.n_from, data.n_to)
    pooled = counts.sum(axis=0)
    probs = chain_from_counts(counts)
    pooled_p = chain_from_counts(pooled)
    # A state never left in a segment behaves as in the pooled chain; never left
    # at all (e.g. an ok state nobody reached), it ends the journey.
    empty_pooled = pooled.sum(axis=1) == 0
    pooled_p[empty_pooled, data.n_to - 1] = 1.0
    empty = counts.sum(axis=2) == 0
    probs = np.where(empty[:, :, None], pooled_p[None, :, :], probs)
    seg_w = np.bincount(data.seg_of_row, weights=w, minlength=n_seg).astype(float)
    total = seg_w.sum()
    return np.asarray(probs, dtype=float), (seg_w / total if total > 0 else seg_w)


def _visits_and_returns(P: Array, n_states: int, outcome_states: list[int]) -> tuple[Array, Array]:
    """Expected visits from start, and N[s, s] for the outcome marker states.

    ``P`` has shape (..., F, T). Returns visits (..., S) and diag (..., len(outcome_states)).
    """
    Q = P[..., 1:, :n_states]
    start = P[..., 0, :n_states]
    eye = np.eye(n_states)
    A = eye - Q
    visits = np.linalg.solve(np.swapaxes(A, -1, -2), start[..., None])[..., 0]
    if not outcome_states:
        return np.asarray(visits, dtype=float), np.zeros((*visits.shape[:-1], 0))
    rhs = np.zeros((*A.shape[:-2], n_states, len(outcome_states)))
    for k, s in enumerate(outcome_states):
        rhs[..., s, k] = 1.0
    cols = np.linalg.solve(A, rhs)
    diag = np.stack([cols[..., s, k] for k, s in enumerate(outcome_states)], axis=-1)
    return np.asarray(visits, dtype=float), np.asarray(diag, dtype=float)


def least_squares_later_credit(xtx: Array, xty: Array, *, tol: float = 1e-9) -> Array:
    """Solve the normal equations; where the data cannot separate states, credit the later.

    States always visited together (every case that sits in the waiting room
    then sees the doctor) leave the least-squares rewards undetermined along
    some directions. Any split fits the data equally well, but a fixed chain
    may visit one without the other (a patient who would have missed the
    appointment now attends, straight from the reminder), so the split matters.
    The rule: among all least-squares solutions take the one whose reward sits
    on the latest state of each such group, i.e. the earliest states that can
    be set to zero are. States are ordered by code, which follows the journey.

    Example:
        >>> xtx = np.array([[1.0, 1.0], [1.0, 1.0]])  # two states always together
        >>> least_squares_later_credit(xtx, np.array([2.0, 2.0])).round(6).tolist()
        [0.0, 2.0]
    """
    vals, vecs = np.linalg.eigh(xtx)
    top = float(vals.max()) if vals.size else 0.0
    if top <= 0:
        return np.zeros(len(xty))
    keep = vals > tol * top
    basis = vecs[:, keep]
    beta = basis @ ((basis.T @ xty) / vals[keep])
    null = vecs[:, ~keep]
    if null.shape[1] == 0:
        return np.asarray(beta)
    # pivot on the earliest states the null space can move, and zero them
    pivots: list[int] = []
    reduced = null.copy()
    for state in range(len(xty)):
        if len(pivots) == null.shape[1]:
            break
        candidate = np.array([*pivots, state])
        sub = reduced[candidate, :]
        if np.linalg.matrix_rank(sub, tol=1e-8) > len(pivots):
            pivots.append(state)
    sub = null[pivots, :]
    z = np.linalg.lstsq(sub, -beta[pivots], rcond=None)[0]
    return np.asarray(beta + null @ z)


def _rewards(data: JourneyData, y_sum: Array, y_n: Array) -> tuple[Array, Array]:
    """Per-segment rewards (G, S) and intercepts (G,) of a numeric outcome.

    ``y_sum``/``y_n`` are the (possibly resampled) sums and counts of the outcome
    per signature row. Least squares on visit counts, centred; see
    :func:`least_squares_later_credit` for states the data cannot tell apart.
    """
    n_seg = len(data.segments)
    n_states = data.space.n_transient
    X = data.visits
    rewards = np.zeros((n_seg, n_states))
    intercepts = np.zeros(n_seg)

    def solve(rows: NDArray[np.bool_]) -> tuple[Array, float] | None:
        wy = y_n * rows
        total = wy.sum()
        if total <= 0:
            return None
        Xw = X.multiply(wy[:, None]).tocsr()
        mean_x = np.asarray(Xw.sum(axis=0)).ravel() / total
        mean_y = float((y_sum * rows).sum() / total)
        xtx = np.asarray((X.T @ Xw).todense()) - total * np.outer(mean_x, mean_x)
        xty = np.asarray(X.T @ (y_sum * rows)).ravel() - total * mean_x * mean_y
        beta = least_squares_later_credit(xtx, xty)
        return beta, mean_y - float(mean_x @ beta)

    pooled = solve(np.ones(len(y_n), dtype=bool))
    if pooled is None:
        return rewards, intercepts  # no case has a value
    for g in range(n_seg):
        rows = data.seg_of_row == g
        tot = (y_n * rows).sum()
        if n_seg > 1 and tot >= _ROWS_PER_REGRESSOR * (1 + n_states):
            rewards[g], intercepts[g] = solve(rows) or pooled
        elif tot > 0:
            # too few for its own rewards: borrow the pooled ones, keep its own level
            mean_x = np.asarray(X.T @ (y_n * rows)).ravel() / tot
            rewards[g] = pooled[0]
            intercepts[g] = (y_sum * rows).sum() / tot - mean_x @ pooled[0]
        else:
            rewards[g], intercepts[g] = pooled
    return rewards, intercepts


@dataclass
class FittedChains:
    """The per-segment chains and numeric-outcome rewards of one weighting ``w``.

    ``probs`` is (segments, from, to) as in :func:`evaluate`; ``seg_w`` the
    segment weights (summing to one); ``rewards[o]`` (segments, states) and
    ``intercepts[o]`` (segments,) give numeric outcome ``o`` as a constant plus
    a reward per visit. What-if questions (:mod:`keymoments.portfolio`) change
    ``probs`` and recompute the outcomes from these exactly.
    """

    probs: Array
    seg_w: Array
    rewards: dict[str, Array]
    intercepts: dict[str, Array]


def fit_chains(
    data: JourneyData,
    service: Service,
    w: Array,
    *,
    y_sums: dict[str, Array] | None = None,
    y_counts: dict[str, Array] | None = None,
) -> FittedChains:
    """The chains :func:`evaluate` fits for weighting ``w``, for reuse elsewhere."""
    probs, seg_w = _segment_chains(data, w)
    rewards: dict[str, Array] = {}
    intercepts: dict[str, Array] = {}
    for o in service.outcomes:
        if o.kind != "binary":
            ys = (y_sums or data.sum_y)[o.id]
            yn = (y_counts or data.n_y)[o.id]
            rewards[o.id], intercepts[o.id] = _rewards(data, ys, yn)
    return FittedChains(probs=probs, seg_w=seg_w, rewards=rewards, intercepts=intercepts)


def evaluate(
    data: JourneyData,
    service: Service,
    w: Array,
    *,
    y_sums: dict[str, Array] | None = None,
    y_counts: dict[str, Array] | None = None,
) -> Evaluation:
    """All figures for one weighting ``w`` of the signature rows (see module doc)."""
    space = data.space
    n_states = space.n_transient
    total = w.sum()
    reach = (data.reached.T @ w) / total
    breaks = data.broke.T @ w
    reached_n = data.reached.T @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        break_rate = np.where(reached_n > 0, breaks / np.where(reached_n > 0, reached_n, 1), 0.0)

    probs, seg_w = _segment_chains(data, w)
    breakable = [i for i, m in enumerate(service.moments) if m.breakable]
    # variants: observed, each moment fixed, each moment nudged (marginal)
    variants = [probs]
    for i in breakable:
        variants.append(_fix(probs, space, i, 1.0))
    for i in breakable:
        variants.append(_fix(probs, space, i, _MARGINAL_STEP))
    stacked = np.stack(variants)  # (K, G, F, T)
    stacked, stuck = _release_traps(stacked, n_states)
    outcome_states = [space.outcome(j) for j in range(len(space.binary_outcomes))]
    broken_states = [space.broken(i) for i in breakable]
    # one solve gives the returns to outcome markers (their reach) and to broken
    # states (the per-case break rate the marginal needs)
    visits, diag = _visits_and_returns(stacked, n_states, outcome_states + broken_states)
    n_out = len(outcome_states)

    outcomes = service.outcomes
    values = np.zeros((stacked.shape[0], len(outcomes)))  # per variant, combined over segments
    binary_index = {o: j for j, o in enumerate(space.binary_outcomes)}
    for k, o in enumerate(outcomes):
        if o.kind == "binary":
            j = binary_index[o.id]
            s = outcome_states[j]
            p = visits[..., s] / diag[..., j]
            values[:, k] = p @ seg_w
        else:
            ys = (y_sums or data.sum_y)[o.id]
            yn = (y_counts or data.n_y)[o.id]
            rewards, intercepts = _rewards(data, ys, yn)
            per_seg = (visits * rewards[None]).sum(axis=-1) + intercepts[None]
            values[:, k] = per_seg @ seg_w
    # a fix whose journeys could never end has no value to report
    values[(stuck & (seg_w > 0)[None, :]).any(axis=1)] = np.nan

    observed = values[0]
    nb = len(breakable)
    recoverable = values[1 : 1 + nb] - observed[None, :]
    # break rate per case under the chain, for the marginal: P(ever visit m:broken)
    nudged = values[1 + nb :] - observed[None, :]
    marginal = np.zeros_like(recoverable)
    for q, s in enumerate(broken_states):
        returns = diag[..., n_out + q]
        once = visits[..., s] / np.where(returns > 0, returns, 1)  # P(ever broken), (K, G)
        drop = (once[0] - once[1 + nb + q]) @ seg_w
        if drop > 0:
            # gain per percentage point fewer breaks
            marginal[q] = nudged[q] / drop * 0.01
    ok_seen = (data.visits.T @ w)[[space.ok(i) for i in breakable]] > 0
    return Evaluation(
        reach=np.asarray(reach, dtype=float),
        break_rate=np.asarray(break_rate, dtype=float),
        outcome_mean=observed,
        recoverable=recoverable,
        marginal=marginal,
        ok_unseen=~np.asarray(ok_seen, dtype=bool),
        trapped=np.asarray(stuck[1 : 1 + nb].any(axis=1), dtype=bool),
    )


def _release_traps(P: Array, n_states: int) -> tuple[Array, NDArray[np.bool_]]:
    """Find chains (..., F, T) where journeys from start can be caught in a loop for good.

    A fitted chain never traps (every observed journey ended), but a fixed one
    can: if the only way on from ``m:ok`` ever observed went through ``m:broken``,
    sending that flow back to ``m:ok`` closes the loop. Such chains are flagged
    (the second return, shape (...)) and their trapped states sent to ``exit``
    so the linear algebra stays solvable for the rest.
    """
    Q = P[..., 1:, :n_states] > 0
    can_end = P[..., 1:, n_states:].sum(axis=-1) > 0
    for _ in range(n_states):
        more = can_end | (Q & can_end[..., None, :]).any(axis=-1)
        if (more == can_end).all():
            break
        can_end = more
    reach = P[..., 0, :n_states] > 0
    for _ in range(n_states):
        more = reach | (reach[..., :, None] & Q).any(axis=-2)
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


def _fix(probs: Array, space: StateSpace, moment: int, share: float) -> Array:
    """Send ``share`` of the flow into a moment's broken state to its ok state."""
    ok, broken = space.ok(moment), space.broken(moment)
    if share >= 1.0:
        return redirect(probs, broken, ok)
    out = probs.copy()
    moved = out[..., :, broken] * share
    out[..., :, ok] += moved
    out[..., :, broken] -= moved
    return out
