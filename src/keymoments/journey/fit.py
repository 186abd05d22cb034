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

__all__ = ["Evaluation", "JourneyData", "evaluate"]

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
    codes: list[list[int]]

    @property
    def n_from(self) -> int:
        """start + transient states."""
        return 1 + self.space.n_transient

    @property
    def n_to(self) -> int:
        """transient + done + exit."""
        return self.space.n_transient + 2

    @classmethod
    def from_summary(cls, summary: JourneySummary) -> JourneyData:
        """Build the matrices from a journey summary."""
        space = summary.space
        sigs = summary.signatures
        segments = sorted(sigs["segment"].astype(str).unique().tolist())
        seg_index = {s: i for i, s in enumerate(segments)}
        seg_of_row = sigs["segment"].astype(str).map(seg_index).to_numpy(dtype=np.int64)
        n_states = space.n_transient
        n_from, n_to = 1 + n_states, n_states + 2
        block = n_from * n_to
        n_moments = len(space.moments)
        has_binary = bool(space.binary_outcomes)

        t_rows: list[int] = []
        t_cols: list[int] = []
        v_rows: list[int] = []
        v_cols: list[int] = []
        r_rows: list[int] = []
        r_cols: list[int] = []
        b_rows: list[int] = []
        b_cols: list[int] = []
        codes_all: list[list[int]] = []
        for r, (sig, g) in enumerate(zip(sigs["sig"].astype(str), seg_of_row, strict=True)):
            codes = parse_signature(sig)
            codes_all.append(codes)
            base = int(g) * block
            prev = 0  # start (from-axis index 0)
            for c in codes:
                t_rows.append(r)
                t_cols.append(base + prev * n_to + c)
                prev = c + 1
                v_rows.append(r)
                v_cols.append(c)
            if has_binary:
                done = any(c >= 2 * n_moments for c in codes)
            else:
                done = bool(codes) and not space.is_broken(codes[-1])
            t_rows.append(r)
            t_cols.append(base + prev * n_to + (n_states if done else n_states + 1))
            moments_seen = {c // 2 for c in codes if c < 2 * n_moments}
            broken_seen = {c // 2 for c in codes if c < 2 * n_moments and c % 2 == 1}
            r_rows += [r] * len(moments_seen)
            r_cols += sorted(moments_seen)
            b_rows += [r] * len(broken_seen)
            b_cols += sorted(broken_seen)

        n_rows = len(sigs)

        def matrix(rows: list[int], cols: list[int], width: int) -> sp.csr_matrix:
            data = np.ones(len(rows))
            return sp.csr_matrix((data, (rows, cols)), shape=(n_rows, width))

        reached = matrix(r_rows, r_cols, n_moments)
        broke = matrix(b_rows, b_cols, n_moments)
        reached.data[:] = 1.0
        broke.data[:] = 1.0
        numeric = list(summary.numeric_outcomes)
        return cls(
            space=space,
            segments=segments,
            seg_of_row=seg_of_row,
            n=sigs["n"].to_numpy(dtype=float),
            transitions=matrix(t_rows, t_cols, len(segments) * block),
            visits=matrix(v_rows, v_cols, n_states),
            reached=reached,
            broke=broke,
            numeric=numeric,
            n_y={o: sigs[f"n_y:{o}"].to_numpy(dtype=float) for o in numeric},
            sum_y={o: sigs[f"sum_y:{o}"].to_numpy(dtype=float) for o in numeric},
            sum_y2={o: sigs[f"sum_y2:{o}"].to_numpy(dtype=float) for o in numeric},
            codes=codes_all,
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
    probs = chain_from_counts(counts, data.space.n_transient)
    pooled_p = chain_from_counts(pooled, data.space.n_transient)
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


def _rewards(data: JourneyData, w: Array, y_sum: Array, y_n: Array) -> tuple[Array, Array]:
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

    pooled = solve(np.ones(len(w), dtype=bool))
    for g in range(n_seg):
        rows = data.seg_of_row == g
        enough = (y_n * rows).sum() >= _ROWS_PER_REGRESSOR * (1 + n_states)
        fitted = solve(rows) if enough and n_seg > 1 else None
        if fitted is None:
            fitted = pooled
        if fitted is None:
            continue
        rewards[g], intercepts[g] = fitted
    if n_seg > 1 and pooled is not None:
        # segments borrowing the pooled rewards keep their own level
        for g in range(n_seg):
            rows = data.seg_of_row == g
            tot = (y_n * rows).sum()
            if tot > 0 and not (tot >= _ROWS_PER_REGRESSOR * (1 + n_states)):
                mean_x = np.asarray(data.visits.T @ (y_n * rows)).ravel() / tot
                intercepts[g] = (y_sum * rows).sum() / tot - mean_x @ pooled[0]
    return rewards, intercepts


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
    visits, diag = _visits_and_returns(stacked, n_states, outcome_states)  # (K, G, S)

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
            rewards, intercepts = _rewards(data, w, ys, yn)
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
    if nb:
        b_states = [space.broken(i) for i in breakable]
        _, b_diag0 = _visits_and_returns(stacked[:1], n_states, b_states)
        _, b_diag1 = _visits_and_returns(stacked[1 + nb :], n_states, b_states)
        v0 = visits[0]
        for q, i in enumerate(breakable):
            s = space.broken(i)
            rate0 = (v0[:, s] / np.where(b_diag0[0, :, q] > 0, b_diag0[0, :, q], 1)) @ seg_w
            v1 = visits[1 + nb + q]
            rate1 = (v1[:, s] / np.where(b_diag1[q, :, q] > 0, b_diag1[q, :, q], 1)) @ seg_w
            drop = rate0 - rate1
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
