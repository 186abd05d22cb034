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

__all__ = [
    "Evaluation",
    "FittedChains",
    "JourneyData",
    "RewardSums",
    "evaluate",
    "evaluate_many",
    "fit_chains",
    "reward_sums",
]

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
        # the engine writes each signature one way ("0.2.5"), so the text groups them
        frame = pd.DataFrame({"codes": self.sigs, "n": self.n})
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
    """Per-segment transition probabilities (G, F, T) and segment weights (G,).

    ``w`` may hold many weightings, (draws, rows): then (draws, G, F, T) and (draws, G).
    """
    n_seg = len(data.segments)
    weights = np.atleast_2d(w)
    counts = np.asarray(data.transitions.T @ weights.T).T.reshape(
        len(weights), n_seg, data.n_from, data.n_to
    )
    pooled = counts.sum(axis=1)
    probs = chain_from_counts(counts)
    pooled_p = chain_from_counts(pooled)
    # A state never left in a segment behaves as in the pooled chain; never left
    # at all (e.g. an ok state nobody reached), it ends the journey.
    empty_pooled = pooled.sum(axis=-1) == 0
    pooled_p[empty_pooled, data.n_to - 1] = 1.0
    empty = counts.sum(axis=-1) == 0
    probs = np.where(empty[..., None], pooled_p[:, None], probs)
    seg_w = np.stack(
        [weights[:, data.seg_of_row == g].sum(axis=1) for g in range(n_seg)], axis=-1
    ).astype(float)
    total = seg_w.sum(axis=-1, keepdims=True)
    seg_w = np.where(total > 0, seg_w / np.where(total > 0, total, 1.0), seg_w)
    if np.ndim(w) == 1:
        return np.asarray(probs[0], dtype=float), seg_w[0]
    return np.asarray(probs, dtype=float), seg_w


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


@dataclass
class RewardSums:
    """The weighted sums a numeric outcome's per-segment regression needs.

    Per segment (first axis): the weight of cases with a value (``n``), the sums
    of their visit counts (``x``) and of the products of visit counts (``xx``,
    states × states), the sum of the outcome (``y``) and of outcome × visits
    (``xy``). A bootstrap draw needs only these, so many draws' sums come from
    one matrix product over the signatures (:func:`reward_sums`).
    """

    n: Array  # (G,)
    x: Array  # (G, S)
    xx: Array  # (G, S, S)
    y: Array  # (G,)
    xy: Array  # (G, S)


_ROWS_AT_ONCE = 4096


def reward_sums(data: JourneyData, y_sum: Array, y_n: Array) -> list[RewardSums]:
    """:class:`RewardSums` for one or many weightings of the signature rows.

    ``y_sum`` and ``y_n`` are the outcome's sums and counts per signature row,
    (rows,) or (draws, rows); one :class:`RewardSums` per draw.

    The point estimate is ``reward_sums(data, data.sum_y[o], data.n_y[o])[0]``;
    :func:`keymoments.gearing.bootstrap` passes a block of draws at once.
    """
    ys, yn = np.atleast_2d(y_sum), np.atleast_2d(y_n)
    draws, n_seg, n_states = len(yn), len(data.segments), data.space.n_transient
    upper = np.triu_indices(n_states)
    n, y = np.zeros((draws, n_seg)), np.zeros((draws, n_seg))
    x, xy = np.zeros((draws, n_seg, n_states)), np.zeros((draws, n_seg, n_states))
    xx = np.zeros((draws, n_seg, len(upper[0])))
    for g in range(n_seg):
        rows = np.flatnonzero(data.seg_of_row == g)
        for lo in range(0, len(rows), _ROWS_AT_ONCE):
            r = rows[lo : lo + _ROWS_AT_ONCE]
            visits = data.visits[r].toarray()
            wn, wy = yn[:, r], ys[:, r]
            n[:, g] += wn.sum(axis=1)
            y[:, g] += wy.sum(axis=1)
            x[:, g] += wn @ visits
            xy[:, g] += wy @ visits
            xx[:, g] += wn @ (visits[:, upper[0]] * visits[:, upper[1]])
    full = np.zeros((draws, n_seg, n_states, n_states))
    full[..., upper[0], upper[1]] = xx
    full[..., upper[1], upper[0]] = xx
    return [RewardSums(n[b], x[b], full[b], y[b], xy[b]) for b in range(draws)]


def _rewards(data: JourneyData, sums: RewardSums) -> tuple[Array, Array]:
    """Per-segment rewards (G, S) and intercepts (G,) of a numeric outcome.

    Least squares on visit counts, centred, from the (possibly resampled) sums
    of :func:`reward_sums`; see :func:`least_squares_later_credit` for states
    the data cannot tell apart.
    """
    n_seg = len(data.segments)
    n_states = data.space.n_transient
    rewards = np.zeros((n_seg, n_states))
    intercepts = np.zeros(n_seg)

    def solve(
        total: float, sx: Array, sxx: Array, sy: float, sxy: Array
    ) -> tuple[Array, float] | None:
        if total <= 0:
            return None
        mean_x = sx / total
        mean_y = sy / total
        xtx = sxx - total * np.outer(mean_x, mean_x)
        xty = sxy - total * mean_x * mean_y
        beta = least_squares_later_credit(xtx, xty)
        return beta, mean_y - float(mean_x @ beta)

    pooled = solve(
        float(sums.n.sum()),
        sums.x.sum(axis=0),
        sums.xx.sum(axis=0),
        float(sums.y.sum()),
        sums.xy.sum(axis=0),
    )
    if pooled is None:
        return rewards, intercepts  # no case has a value
    for g in range(n_seg):
        tot = float(sums.n[g])
        if n_seg > 1 and tot >= _ROWS_PER_REGRESSOR * (1 + n_states):
            own = solve(tot, sums.x[g], sums.xx[g], float(sums.y[g]), sums.xy[g])
            rewards[g], intercepts[g] = own or pooled
        elif tot > 0:
            # too few for its own rewards: borrow the pooled ones, keep its own level
            rewards[g] = pooled[0]
            intercepts[g] = sums.y[g] / tot - (sums.x[g] / tot) @ pooled[0]
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


def _sums_of(
    data: JourneyData,
    outcome: str,
    y_sums: dict[str, Array] | None,
    y_counts: dict[str, Array] | None,
    sums: dict[str, RewardSums] | None,
) -> RewardSums:
    if sums is not None:
        return sums[outcome]
    ys = (y_sums or data.sum_y)[outcome]
    yn = (y_counts or data.n_y)[outcome]
    return reward_sums(data, ys, yn)[0]


def fit_chains(
    data: JourneyData,
    service: Service,
    w: Array,
    *,
    y_sums: dict[str, Array] | None = None,
    y_counts: dict[str, Array] | None = None,
    sums: dict[str, RewardSums] | None = None,
) -> FittedChains:
    """The chains :func:`evaluate` fits for weighting ``w``, for reuse elsewhere."""
    probs, seg_w = _segment_chains(data, w)
    rewards: dict[str, Array] = {}
    intercepts: dict[str, Array] = {}
    for o in service.outcomes:
        if o.kind != "binary":
            rewards[o.id], intercepts[o.id] = _rewards(
                data, _sums_of(data, o.id, y_sums, y_counts, sums)
            )
    return FittedChains(probs=probs, seg_w=seg_w, rewards=rewards, intercepts=intercepts)


def evaluate(
    data: JourneyData,
    service: Service,
    w: Array,
    *,
    y_sums: dict[str, Array] | None = None,
    y_counts: dict[str, Array] | None = None,
    sums: dict[str, RewardSums] | None = None,
) -> Evaluation:
    """All figures for one weighting ``w`` of the signature rows (see module doc)."""
    own = {
        o.id: _sums_of(data, o.id, y_sums, y_counts, sums)
        for o in service.outcomes
        if o.kind != "binary"
    }
    return evaluate_many(data, service, w[None, :], sums=[own])[0]


def evaluate_many(
    data: JourneyData,
    service: Service,
    weights: Array,
    *,
    sums: list[dict[str, RewardSums]],
) -> list[Evaluation]:
    """:func:`evaluate` for many weightings at once (draws × rows), one batch of linear algebra.

    ``sums`` holds each weighting's numeric-outcome sums (:func:`reward_sums`).
    """
    space = data.space
    n_states = space.n_transient
    n_draws = len(weights)
    total = weights.sum(axis=1)
    reached_n = np.asarray(data.reached.T @ weights.T).T
    breaks = np.asarray(data.broke.T @ weights.T).T
    with np.errstate(invalid="ignore", divide="ignore"):
        reach = reached_n / total[:, None]
        break_rate = np.where(reached_n > 0, breaks / np.where(reached_n > 0, reached_n, 1), 0.0)

    probs, seg_w = _segment_chains(data, weights)  # (D, G, F, T), (D, G)
    breakable = [i for i, m in enumerate(service.moments) if m.breakable]
    # variants: observed, each moment fixed, each moment nudged (marginal)
    fixes = [(i, 1.0) for i in breakable] + [(i, _MARGINAL_STEP) for i in breakable]
    outcome_states = [space.outcome(j) for j in range(len(space.binary_outcomes))]
    broken_states = [space.broken(i) for i in breakable]
    # the returns to outcome markers (their reach) and to broken states (the per-case
    # break rate the marginal needs), for the observed chain and every variant
    visits, diag, stuck = _variant_visits(
        probs, space, fixes, n_states, outcome_states + broken_states
    )
    n_out = len(outcome_states)

    outcomes = service.outcomes
    values = np.zeros((n_draws, 1 + len(fixes), len(outcomes)))  # combined over segments
    binary_index = {o: j for j, o in enumerate(space.binary_outcomes)}
    for k, o in enumerate(outcomes):
        if o.kind == "binary":
            j = binary_index[o.id]
            p = visits[..., outcome_states[j]] / diag[..., j]  # (D, K, G)
            values[:, :, k] = np.einsum("dkg,dg->dk", p, seg_w)
        else:
            for d in range(n_draws):
                rewards, intercepts = _rewards(data, sums[d][o.id])
                per_seg = (visits[d] * rewards[None]).sum(axis=-1) + intercepts[None]
                values[d, :, k] = per_seg @ seg_w[d]
    # a fix whose journeys could never end has no value to report
    values[(stuck & (seg_w > 0)[:, None, :]).any(axis=2)] = np.nan

    observed = values[:, 0]
    nb = len(breakable)
    recoverable = values[:, 1 : 1 + nb] - observed[:, None]
    # break rate per case under the chain, for the marginal: P(ever visit m:broken)
    nudged = values[:, 1 + nb :] - observed[:, None]
    marginal = np.zeros_like(recoverable)
    for q, s in enumerate(broken_states):
        returns = diag[..., n_out + q]
        once = visits[..., s] / np.where(returns > 0, returns, 1)  # P(ever broken), (D, K, G)
        drop = np.einsum("dg,dg->d", once[:, 0] - once[:, 1 + nb + q], seg_w)
        moved = drop > 0
        # gain per percentage point fewer breaks
        marginal[moved, q] = nudged[moved, q] / drop[moved, None] * 0.01
    ok_seen = np.asarray(data.visits.T @ weights.T).T[:, [space.ok(i) for i in breakable]] > 0
    return [
        Evaluation(
            reach=np.asarray(reach[d], dtype=float),
            break_rate=np.asarray(break_rate[d], dtype=float),
            outcome_mean=observed[d],
            recoverable=recoverable[d],
            marginal=marginal[d],
            ok_unseen=~np.asarray(ok_seen[d], dtype=bool),
            trapped=np.asarray(stuck[d, 1 : 1 + nb].any(axis=1), dtype=bool),
        )
        for d in range(n_draws)
    ]


def _variant_visits(
    probs: Array,
    space: StateSpace,
    fixes: list[tuple[int, float]],
    n_states: int,
    states: list[int],
) -> tuple[Array, Array, NDArray[np.bool_]]:
    """Visits and returns of the observed chains and of each fixed variant.

    ``probs`` is (D, G, F, T); variant k + 1 sends ``fixes[k][1]`` of the flow
    into moment ``fixes[k][0]``'s broken state to its ok state (:func:`_fix`).
    Returns visits (D, K, G, S), N[s, s] for ``states`` (D, K, G, len(states))
    and the stuck flags of :func:`_release_traps` (D, K, G), K = 1 + len(fixes).

    A fix moves one column of the chain, a rank-one change of I − Q, so each
    variant's fundamental matrix N follows from the observed one by the
    Sherman–Morrison formula: one inversion per chain instead of one solve per
    variant. The formula's denominator is zero exactly when the fixed chain is
    singular, i.e. when the fix traps journeys in a loop (or leaves states
    that can never end); those rare variants are found that way, checked and
    released by :func:`_release_traps`, and solved directly.
    """
    base, base_stuck = _release_traps(probs, n_states)
    targets = np.asarray(states, dtype=np.int64)
    n_draws, n_seg = probs.shape[:2]
    n_variants = 1 + len(fixes)
    visits = np.zeros((n_draws, n_variants, n_seg, n_states))
    diag = np.zeros((n_draws, n_variants, n_seg, len(states)))
    stuck = np.zeros((n_draws, n_variants, n_seg), dtype=bool)
    stuck[:, 0] = base_stuck

    q = base[..., 1:, :n_states]
    inverse = np.linalg.inv(np.eye(n_states) - q)  # N: (D, G, S, S)
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
            fixed, trapped = _release_traps(_fix(base[rows], space, moment, share), n_states)
            visits[:, k][rows], diag[:, k][rows] = _visits_and_returns(fixed, n_states, states)
            stuck[:, k][rows] = trapped
    return visits, diag, stuck


# |1 − share·(e_ok − e_broken)ᵀ N u| below this: the fixed chain is singular (a trap).
# Fitted probabilities are case counts over case counts, so a genuine escape has
# probability of at least one in the number of cases, far above it.
_SINGULAR = 1e-10


def _release_traps(P: Array, n_states: int) -> tuple[Array, NDArray[np.bool_]]:
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
