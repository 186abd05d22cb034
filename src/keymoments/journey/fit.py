"""Journey chains fitted from signatures, and what fixing a moment would change.

The journey signatures of :mod:`keymoments.journey.summaries` become sparse
matrices (transitions and visit counts per signature). For any weighting of the
signatures — the observed counts, or one bootstrap draw — :func:`evaluate`
fits the absorbing chains per segment and returns, exactly:

- reach and break rate of each moment (per case, from the signatures);
- each outcome's mean under the observed chain (``outcome_mean``, the model's
  mean) and under the chain where a moment never breaks (flow into
  ``m:broken`` sent to ``m:ok``);
- the marginal gain of each outcome per percentage point fewer breaks.

**Which chain answers what.** A case reaches a binary outcome if it has the
activity at least once, whatever follows. So each binary outcome is measured on
the journeys *cut at their first visit to its marker*: a chain in which
reaching the outcome ends the journey, so the chance of reaching it is an
absorption probability, which the fitted chain reproduces exactly (what
happens after the outcome cannot undo it, and breaks after it cannot cost
it). Numeric outcomes, earned along the whole journey, are a constant plus a
reward per visit to each state of the *whole* journey's chain, fitted by
weighted, centred least squares per segment, so the expected visits of a
fixed chain give their counterfactual. An outcome whose money comes from a
cases column (``value_column``: a loan's amount) is priced on the cut chain
fitted with each case weighted by that column, so that the money it brings
back follows the amounts of the cases that break. Chains that would be equal
(nobody goes on after an outcome) are fitted once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import NDArray

from keymoments.journey.kernel import (
    chain_from_counts,
    ever_entered,
    fix_moment,
    variant_visits,
)
from keymoments.journey.states import StateSpace
from keymoments.journey.summaries import JourneySummary
from keymoments.model import Service

__all__ = [
    "ChainSet",
    "Evaluation",
    "FittedChains",
    "JourneyData",
    "RewardSums",
    "evaluate",
    "evaluate_many",
    "fit_chains",
    "fit_chains_many",
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


@dataclass(frozen=True)
class ParsedJourneys:
    """Every signature's state codes in one array: ``codes``, the ``row_of`` each
    belongs to, each row's ``starts`` in ``codes`` and its ``lengths``."""

    codes: NDArray[np.int64]
    row_of: NDArray[np.int64]
    starts: NDArray[np.int64]
    lengths: NDArray[np.int64]

    @classmethod
    def of(cls, sigs: list[str]) -> ParsedJourneys:
        """Parse signature strings (``"0.2.5"``), vectorised."""
        lengths = np.array([s.count(".") + 1 if s else 0 for s in sigs], dtype=np.int64)
        joined = ".".join(s for s in sigs if s)
        codes = np.array(joined.split("."), dtype=np.int64) if joined else np.zeros(0, np.int64)
        row_of = np.repeat(np.arange(len(sigs)), lengths)
        return cls(codes, row_of, np.cumsum(lengths) - lengths, lengths)


@dataclass
class JourneyData:
    """Signatures as matrices, ready for repeated evaluation under different weights.

    ``transitions`` counts each signature row's moves along its whole journey;
    ``cut[j]`` along the journey cut at its first visit to marker ``j`` (the
    same matrix object as ``transitions`` when no journey goes on after that
    marker). Both are rows × (G · F · T): per segment, from-state, to-state.
    """

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
    cut: list[sp.csr_matrix] = field(default_factory=list)
    value_sums: list[str] = field(default_factory=list)  # "money:OUTCOME" keys in sum_y

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

    @functools.cached_property
    def parsed(self) -> ParsedJourneys:
        """All signatures' codes in one array (parsed once, kept)."""
        return ParsedJourneys.of(self.sigs)

    @classmethod
    def from_summary(cls, summary: JourneySummary, memory: tuple[int, ...] = ()) -> JourneyData:
        """Build the matrices from a journey summary (vectorised: logs can have
        hundreds of thousands of distinct journeys).

        ``memory``: moment indices whose breaks the chain's states remember
        (see :mod:`keymoments.journey.memory`); none by default.
        """
        frame = summary.signatures
        segments = sorted(frame["segment"].astype(str).unique().tolist())
        seg_index = {s: i for i, s in enumerate(segments)}
        seg_of_row = frame["segment"].astype(str).map(seg_index).to_numpy(dtype=np.int64)
        sigs = frame["sig"].astype(str).tolist()
        keys = [*summary.numeric_outcomes, *summary.value_sums]
        base = cls(
            space=summary.space,
            segments=segments,
            seg_of_row=seg_of_row,
            n=frame["n"].to_numpy(dtype=float),
            transitions=sp.csr_matrix((len(sigs), 0)),
            visits=sp.csr_matrix((len(sigs), 0)),
            reached=sp.csr_matrix((len(sigs), 0)),
            broke=sp.csr_matrix((len(sigs), 0)),
            numeric=list(summary.numeric_outcomes),
            n_y={o: frame[f"n_y:{o}"].to_numpy(dtype=float) for o in keys},
            sum_y={o: frame[f"sum_y:{o}"].to_numpy(dtype=float) for o in keys},
            sum_y2={o: frame[f"sum_y2:{o}"].to_numpy(dtype=float) for o in keys},
            sigs=sigs,
            value_sums=list(summary.value_sums),
        )
        return base.with_memory(memory)

    def with_memory(self, memory: tuple[int, ...]) -> JourneyData:
        """The same journeys, their chain states remembering these moments' breaks.

        Only the transition matrices change (over one copy of each state per
        history); visits, reach and breaks stay on the states without history.
        """
        space = self.space.with_memory(tuple(memory))
        sigs = self.sigs
        n_moments = len(space.moments)
        n_rows = len(sigs)
        parsed = self.parsed
        codes, row_of, starts, lengths = parsed.codes, parsed.row_of, parsed.starts, parsed.lengths
        states = codes + space.n_base * history_codes(space, codes, row_of, starts)
        journeys = JourneyArrays(
            space, len(self.segments), self.seg_of_row, codes, states, row_of, starts, lengths
        )
        transitions = journeys.transitions(np.ones(len(codes), dtype=bool), lengths)
        cut: list[sp.csr_matrix] = []
        for j in range(len(space.binary_outcomes)):
            hit = codes == space.outcome(j)
            first = np.full(n_rows, np.iinfo(np.int64).max)
            np.minimum.at(first, row_of[hit], np.flatnonzero(hit))
            keep = np.arange(len(codes)) <= first[row_of]
            if keep.all():
                cut.append(transitions)  # nobody goes on after it: the same chain
                continue
            kept = np.bincount(row_of[keep], minlength=n_rows).astype(np.int64)
            cut.append(journeys.transitions(keep, kept))

        def matrix(rows: NDArray[np.int64], cols: NDArray[np.int64], width: int) -> sp.csr_matrix:
            return sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_rows, width))

        is_moment = codes < 2 * n_moments
        reached = matrix(row_of[is_moment], codes[is_moment] // 2, n_moments)
        is_broken = is_moment & (codes % 2 == 1)
        broke = matrix(row_of[is_broken], codes[is_broken] // 2, n_moments)
        # a moment reached (or broken) twice still counts once per case
        reached.data[:] = 1.0
        broke.data[:] = 1.0
        out = JourneyData(
            space=space,
            segments=self.segments,
            seg_of_row=self.seg_of_row,
            n=self.n,
            transitions=transitions,
            visits=matrix(row_of, codes, space.n_base),
            reached=reached,
            broke=broke,
            numeric=self.numeric,
            n_y=self.n_y,
            sum_y=self.sum_y,
            sum_y2=self.sum_y2,
            sigs=sigs,
            cut=cut,
            value_sums=self.value_sums,
        )
        out.__dict__["parsed"] = parsed  # the same signatures: parsed once
        return out

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

    def pair_cases(self) -> pd.DataFrame:
        """Distinct cases making each move between states (``to_code`` −1: the end).

        The waits summary counts moves; a case that misses two appointments
        moves twice but is one case. Columns ``from_code``, ``to_code``, ``cases``.
        """
        codes, row_of, lengths = self.parsed.codes, self.parsed.row_of, self.parsed.lengths
        nxt = np.full(len(codes), -1, dtype=np.int64)
        if len(codes):
            nxt[:-1] = codes[1:]
            nxt[(np.cumsum(lengths) - 1)[lengths > 0]] = -1  # a journey's last state: the end
        width = self.space.n_base + 2
        pair = codes * width + (nxt + 1)
        # each (row, move) once: a case counts once per move however often it makes it
        keys = np.unique(row_of * (width * width) + pair)
        rows, moves = keys // (width * width), keys % (width * width)
        found, where = np.unique(moves, return_inverse=True)
        cases = np.bincount(where, weights=self.n[rows], minlength=len(found))
        return pd.DataFrame(
            {
                "from_code": found // width,
                "to_code": found % width - 1,
                "cases": np.round(cases).astype(np.int64),
            }
        )


def history_codes(
    space: StateSpace,
    codes: NDArray[np.int64],
    row_of: NDArray[np.int64],
    starts: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Each position's history: a bit per remembered moment that broke earlier in its row."""
    history = np.zeros(len(codes), dtype=np.int64)
    for bit, moment in enumerate(space.memory):
        broke = (codes == space.broken(moment)).astype(np.int64)
        before = np.cumsum(broke) - broke  # breaks strictly before each position
        first = before[starts[row_of]] if len(codes) else before
        history |= ((before - first) > 0).astype(np.int64) << bit
    return history


@dataclass
class JourneyArrays:
    """All signatures' codes in one array, for building transition matrices.

    ``codes`` are the states without history (they decide how a journey ends);
    ``states`` the chain's states, with their history when the space has memory.
    """

    space: StateSpace
    n_segments: int
    seg_of_row: NDArray[np.int64]
    codes: NDArray[np.int64]
    states: NDArray[np.int64]
    row_of: NDArray[np.int64]
    starts: NDArray[np.int64]
    lengths: NDArray[np.int64]

    def transitions(self, keep: NDArray[np.bool_], kept: NDArray[np.int64]) -> sp.csr_matrix:
        """Rows × (G · F · T) move counts of each journey's kept prefix (``kept`` codes).

        A journey ends in ``done`` when its prefix visited an outcome marker
        (with no binary outcome: when its last state is not broken), else ``exit``.
        """
        space = self.space
        n_states = space.n_transient
        n_moments = len(space.moments)
        n_rows = len(self.lengths)
        n_from, n_to = 1 + n_states, n_states + 2
        codes, states, row_of = self.codes[keep], self.states[keep], self.row_of[keep]
        first = np.zeros(len(codes), dtype=bool)
        starts = np.cumsum(kept) - kept
        first[starts[kept > 0]] = True
        prev = np.empty(len(codes), dtype=np.int64)
        prev[1:] = states[:-1] + 1  # from-axis index of the previous state
        prev[first] = 0  # start
        block = n_from * n_to
        base = self.seg_of_row * block
        t_cols = base[row_of] + prev * n_to + states
        # the end of each journey: from its last state (or start) to done or exit
        last_code = np.full(n_rows, -1, dtype=np.int64)
        last_state = np.full(n_rows, -1, dtype=np.int64)
        has = kept > 0
        last_code[has] = codes[starts[has] + kept[has] - 1]
        last_state[has] = states[starts[has] + kept[has] - 1]
        if space.binary_outcomes:
            done = np.bincount(row_of, weights=codes >= 2 * n_moments, minlength=n_rows) > 0
        else:
            done = has & ~((last_code < 2 * n_moments) & (last_code % 2 == 1))
        end_cols = base + (last_state + 1) * n_to + np.where(done, n_states, n_states + 1)
        rows = np.concatenate([row_of, np.arange(n_rows)])
        cols = np.concatenate([t_cols, end_cols])
        return sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(n_rows, self.n_segments * block)
        )


@dataclass(frozen=True)
class ChainSet:
    """The distinct chains an analysis fits, and which chain answers each outcome.

    A chain is a transition matrix (``None``: the whole journey; ``j``: cut at
    marker ``j``) with a row weight (``None``: cases; ``"money:o"``: the sum of
    outcome ``o``'s value column). ``outcome[k]`` is the chain whose value is
    outcome ``k``'s mean; ``money[k]`` the chain that prices it (the same,
    unless it has a ``value_column``); ``whole`` the chain of the whole journey
    (``None`` when nothing needs it).
    """

    chains: tuple[tuple[int | None, str | None], ...]
    outcome: tuple[int, ...]
    money: tuple[int, ...]
    whole: int | None

    @classmethod
    def of(cls, data: JourneyData, service: Service, *, whole: bool = False) -> ChainSet:
        """The chains for a service's outcomes (``whole``: include the whole journey's)."""
        space = data.space
        chains: list[tuple[int | None, str | None]] = []
        keys: list[tuple[int, str | None]] = []  # (id of its matrix, weight): equal chains

        def chain(marker: int | None, weight: str | None) -> int:
            matrix = data.transitions if marker is None else data.cut[marker]
            key = (id(matrix), weight)
            if key not in keys:
                keys.append(key)
                chains.append((marker, weight))
            return keys.index(key)

        outcome: list[int] = []
        money: list[int] = []
        needs_whole = whole or any(o.kind != "binary" for o in service.outcomes)
        whole_index = chain(None, None) if needs_whole else None
        for o in service.outcomes:
            if o.kind == "binary":
                here = chain(space.marker_of(o.id), None)
                outcome.append(here)
                weight = f"money:{o.id}"
                priced = weight in data.value_sums
                money.append(chain(space.marker_of(o.id), weight) if priced else here)
            else:
                assert whole_index is not None
                outcome.append(whole_index)
                money.append(whole_index)
        return cls(tuple(chains), tuple(outcome), tuple(money), whole_index)

    def matrix(self, data: JourneyData, index: int) -> sp.csr_matrix:
        """The transition matrix of chain ``index``."""
        marker = self.chains[index][0]
        return data.transitions if marker is None else data.cut[marker]

    def weights(self, index: int, cases: Array, money: dict[str, Array] | None) -> Array:
        """Row weights of chain ``index`` (draws × rows) from the case weights and money sums."""
        weight = self.chains[index][1]
        if weight is None:
            return cases
        assert money is not None
        return np.atleast_2d(money[weight])


@dataclass
class Evaluation:
    """Figures from one weighting of the signatures (observed or one bootstrap draw).

    Arrays are indexed by moment (``reach``, ``break_rate``: all moments) or by
    breakable moment × outcome (``recoverable``, ``marginal``); outcomes follow
    the order of ``Service.outcomes``. ``money`` and ``money_recoverable`` are
    what each outcome's ``value`` multiplies: the outcome itself, or for an
    outcome with a ``value_column`` the column's amount reached per case.
    """

    reach: Array
    break_rate: Array
    outcome_mean: Array  # the fitted chain's own value of each outcome (the model's mean)
    recoverable: Array
    marginal: Array
    ok_unseen: NDArray[np.bool_]  # breakable moment whose ok state was never observed
    trapped: NDArray[np.bool_]  # breakable moment whose fix leaves journeys no way out
    per_segment: Array = field(default_factory=lambda: np.zeros((0, 0)))  # (G, O) model means
    money: Array = field(default_factory=lambda: np.zeros(0))  # (O,)
    money_recoverable: Array = field(default_factory=lambda: np.zeros((0, 0)))  # (B, O)
    # per numeric outcome: its rewards per segment and state, and intercepts per segment
    rewards: dict[str, tuple[Array, Array]] = field(default_factory=dict)


def segment_chains(
    data: JourneyData, w: Array, matrix: sp.csr_matrix | None = None, cases: Array | None = None
) -> tuple[Array, Array]:
    """Per-segment transition probabilities (G, F, T) and segment weights (G,).

    ``w`` weighs the rows of ``matrix`` (default: the whole journey's
    transitions); it may hold many weightings, (draws, rows): then
    (draws, G, F, T) and (draws, G). Segment weights come from ``cases``
    (default ``w``): the share of cases in each segment.
    """
    n_seg = len(data.segments)
    weights = np.atleast_2d(w)
    moves = data.transitions if matrix is None else matrix
    counts = np.asarray(moves.T @ weights.T).T.reshape(len(weights), n_seg, data.n_from, data.n_to)
    pooled = counts.sum(axis=1)
    probs = chain_from_counts(counts)
    pooled_p = chain_from_counts(pooled)
    # A state never left in a segment behaves as in the pooled chain; never left
    # at all (e.g. an ok state nobody reached), it ends the journey.
    empty_pooled = pooled.sum(axis=-1) == 0
    pooled_p[empty_pooled, data.n_to - 1] = 1.0
    empty = counts.sum(axis=-1) == 0
    probs = np.where(empty[..., None], pooled_p[:, None], probs)
    by_case = weights if cases is None else np.atleast_2d(cases)
    seg_w = np.stack(
        [by_case[:, data.seg_of_row == g].sum(axis=1) for g in range(n_seg)], axis=-1
    ).astype(float)
    total = seg_w.sum(axis=-1, keepdims=True)
    seg_w = np.where(total > 0, seg_w / np.where(total > 0, total, 1.0), seg_w)
    if np.ndim(w) == 1:
        return np.asarray(probs[0], dtype=float), seg_w[0]
    return np.asarray(probs, dtype=float), seg_w


def _ever_broken(
    probs: Array, space: StateSpace, moment: int, n_draws: int, n_chains: int, n_seg: int, v: int
) -> Array:
    """P(ever breaking ``moment``) in chain ``v``, observed and nudged: (D, 2, G).

    With memory a journey can visit several copies of the broken state, so the
    chance of breaking it at all comes from the taboo chain
    (:func:`keymoments.journey.kernel.ever_entered`).
    """
    chain = probs.reshape(n_draws, n_chains, n_seg, *probs.shape[-2:])[:, v]
    nudged = fix_moment(chain, space, moment, _MARGINAL_STEP)
    broken = [b for _, b in space.pairs(moment)]
    both = np.stack([chain, nudged], axis=1)
    return ever_entered(both, space.n_transient, [broken])[..., 0]


def _money_scale(data: JourneyData, cases: Array, money: Array) -> Array:
    """Per segment, a value column's sum per case (draws × G): what one unit of the
    money-weighted chain's probability is worth per case."""
    cases, money = np.atleast_2d(cases), np.atleast_2d(money)
    out = np.zeros((len(cases), len(data.segments)))
    for g in range(len(data.segments)):
        rows = data.seg_of_row == g
        n = cases[:, rows].sum(axis=1)
        out[:, g] = np.where(n > 0, money[:, rows].sum(axis=1) / np.where(n > 0, n, 1.0), 0.0)
    return out


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
    draws, n_seg, n_states = len(yn), len(data.segments), data.space.n_base
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
    n_states = data.space.n_base
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

    ``probs`` is the whole journey's chain (segments, from, to); ``seg_w`` the
    segment weights (summing to one); ``rewards[o]`` (segments, states) and
    ``intercepts[o]`` (segments,) give numeric outcome ``o`` as a constant plus
    a reward per visit. ``views`` (chains, segments, from, to) are the chains of
    a :class:`ChainSet`: ``outcome_view[k]`` answers outcome ``k`` (service
    order), ``money_view[k]`` prices it, and ``money_scale[k]`` (segments,) is
    the value column's sum per case for an outcome priced by a column. What-if
    questions (:mod:`keymoments.portfolio`) change the chains and recompute the
    outcomes from these exactly.

    Built by hand with ``probs`` alone (tests, examples), each binary outcome is
    measured on ``probs`` with its marker made absorbing: the chance of ever
    reaching it (:meth:`resolved`).
    """

    probs: Array
    seg_w: Array
    rewards: dict[str, Array]
    intercepts: dict[str, Array]
    views: Array | None = None
    outcome_view: tuple[int, ...] = ()
    money_view: tuple[int, ...] = ()
    money_scale: dict[int, Array] = field(default_factory=dict)
    # the chains' states, with their histories when they remember breaks (None: the
    # service's plain states)
    space: StateSpace | None = None

    def resolved(self, service: Service) -> FittedChains:
        """These chains with ``views`` filled in (see the class doc)."""
        if self.views is not None:
            return self
        space = StateSpace.from_service(service)
        n_states = space.n_transient
        views = [self.probs]
        view_of_marker: list[int] = []
        for j in range(len(space.binary_outcomes)):
            marker = 1 + space.outcome(j)
            if not np.any(self.probs[..., marker, :n_states] > 0):
                view_of_marker.append(0)  # nothing follows the outcome: the same chain
                continue
            cut = self.probs.copy()
            cut[..., marker, :] = 0.0
            cut[..., marker, n_states] = 1.0  # reaching the outcome ends the journey
            view_of_marker.append(len(views))
            views.append(cut)
        per_outcome = tuple(
            view_of_marker[space.marker_of(o.id)] if o.kind == "binary" else 0
            for o in service.outcomes
        )
        return FittedChains(
            probs=self.probs,
            seg_w=self.seg_w,
            rewards=self.rewards,
            intercepts=self.intercepts,
            views=np.stack(views),
            outcome_view=per_outcome,
            money_view=per_outcome,
        )


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


def money_weights(data: JourneyData, y_sums: dict[str, Array] | None) -> dict[str, Array]:
    """Row weights of the money-weighted chains: each value column's sum per row.

    Never negative (a weight is an amount of money carried by the cases).
    """
    source = y_sums or data.sum_y
    return {key: np.maximum(np.asarray(source[key], dtype=float), 0.0) for key in data.value_sums}


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
    probs, seg_w = segment_chains(data, w)
    rewards: dict[str, Array] = {}
    intercepts: dict[str, Array] = {}
    for o in service.outcomes:
        if o.kind != "binary":
            rewards[o.id], intercepts[o.id] = _rewards(
                data, _sums_of(data, o.id, y_sums, y_counts, sums)
            )
    chains = ChainSet.of(data, service, whole=True)
    money = money_weights(data, y_sums)
    views = np.stack(
        [
            segment_chains(
                data, chains.weights(v, w[None], money)[0], chains.matrix(data, v), cases=w
            )[0]
            for v in range(len(chains.chains))
        ]
    )
    scales: dict[int, Array] = {}
    for k, o in enumerate(service.outcomes):
        if f"money:{o.id}" in money:
            scales[k] = _money_scale(data, w, money[f"money:{o.id}"])[0]
    assert chains.whole == 0
    return FittedChains(
        probs=probs,
        seg_w=seg_w,
        rewards=rewards,
        intercepts=intercepts,
        views=views,
        outcome_view=chains.outcome,
        money_view=chains.money,
        money_scale=scales,
        space=data.space,
    )


def fit_chains_many(
    data: JourneyData,
    service: Service,
    weights: Array,
    *,
    money: dict[str, Array],
    rewards: list[dict[str, tuple[Array, Array]]],
) -> list[FittedChains]:
    """:func:`fit_chains` for many weightings at once (draws × rows): the bootstrap's chains.

    ``money`` holds each value column's sums (draws × rows) and ``rewards`` each
    draw's numeric-outcome rewards and intercepts as the bootstrap fitted them
    (:attr:`Evaluation.rewards`), so nothing is regressed again.
    """
    weights = np.atleast_2d(weights)
    probs, seg_w = segment_chains(data, weights)
    chains = ChainSet.of(data, service, whole=True)
    views = np.stack(
        [
            segment_chains(
                data, chains.weights(v, weights, money), chains.matrix(data, v), cases=weights
            )[0]
            for v in range(len(chains.chains))
        ],
        axis=1,
    )
    scales = {
        k: _money_scale(data, weights, money[f"money:{o.id}"])
        for k, o in enumerate(service.outcomes)
        if f"money:{o.id}" in money
    }
    assert chains.whole == 0
    return [
        FittedChains(
            probs=probs[d],
            seg_w=seg_w[d],
            rewards={o: r[0] for o, r in rewards[d].items()},
            intercepts={o: r[1] for o, r in rewards[d].items()},
            views=views[d],
            outcome_view=chains.outcome,
            money_view=chains.money,
            money_scale={k: v[d] for k, v in scales.items()},
            space=data.space,
        )
        for d in range(len(weights))
    ]


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
    money = {k: v[None, :] for k, v in money_weights(data, y_sums).items()}
    return evaluate_many(data, service, w[None, :], sums=[own], money=money)[0]


def evaluate_many(
    data: JourneyData,
    service: Service,
    weights: Array,
    *,
    sums: list[dict[str, RewardSums]],
    money: dict[str, Array] | None = None,
) -> list[Evaluation]:
    """:func:`evaluate` for many weightings at once (draws × rows), one batch of linear algebra.

    ``sums`` holds each weighting's numeric-outcome sums (:func:`reward_sums`);
    ``money`` each value column's sums per row, draws × rows (default: the
    observed sums, for every draw).
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
    if money is None:
        now = money_weights(data, None)
        money = {k: np.broadcast_to(v, weights.shape) for k, v in now.items()}

    chains = ChainSet.of(data, service)
    n_chains = len(chains.chains)
    n_seg = len(data.segments)
    stacked = []
    for v in range(n_chains):
        probs, seg_w = segment_chains(
            data, chains.weights(v, weights, money), chains.matrix(data, v), cases=weights
        )
        stacked.append(probs)
    # chains side by side with the segments: one batch of linear algebra for all
    probs = np.stack(stacked, axis=1).reshape(n_draws, n_chains * n_seg, data.n_from, data.n_to)
    breakable = [i for i, m in enumerate(service.moments) if m.breakable]
    # variants: observed, each moment fixed, each moment nudged (marginal)
    fixes = [(i, 1.0) for i in breakable] + [(i, _MARGINAL_STEP) for i in breakable]
    # every copy of each marker (one per history; one without memory)
    markers = [space.outcome_states(j) for j in range(len(space.binary_outcomes))]
    marker_states = [s for copies in markers for s in copies]
    broken_states = [space.broken(i) for i in breakable]
    # the returns to outcome markers (their reach) and, without memory, to broken
    # states (the per-case break rate the marginal needs), for every variant
    targets = marker_states + ([] if space.memory else broken_states)
    visits, diag, stuck = variant_visits(probs, space, fixes, n_states, targets)
    n_var = 1 + len(fixes)
    visits = visits.reshape(n_draws, n_var, n_chains, n_seg, n_states)
    diag = diag.reshape(n_draws, n_var, n_chains, n_seg, -1)
    stuck = stuck.reshape(n_draws, n_var, n_chains, n_seg) & (seg_w > 0)[:, None, None, :]
    n_markers = len(marker_states)

    def reached_in(v: int, j: int) -> Array:
        """P(ever reaching marker j) in chain v, (D, K, G): its copies, each reached at
        most once on a journey (a history only grows), added up."""
        total = np.zeros((n_draws, n_var, n_seg))
        for s in markers[j]:
            returns = diag[:, :, v, :, marker_states.index(s)]
            total += visits[:, :, v, :, s] / np.where(returns > 0, returns, 1)
        return total

    outcomes = service.outcomes
    per_seg = np.zeros((n_draws, n_var, n_seg, len(outcomes)))
    priced = np.zeros((n_draws, n_var, len(outcomes)))
    fitted_rewards: list[dict[str, tuple[Array, Array]]] = [{} for _ in range(n_draws)]
    for k, o in enumerate(outcomes):
        v = chains.outcome[k]
        if o.kind == "binary":
            per_seg[..., k] = reached_in(v, space.marker_of(o.id))
        else:
            for d in range(n_draws):
                rewards, intercepts = _rewards(data, sums[d][o.id])
                fitted_rewards[d][o.id] = (rewards, intercepts)
                # a reward per visit to a state, whatever its history
                per_state = np.tile(rewards, (1, space.n_histories))
                per_seg[d, :, :, k] = (visits[d, :, v] * per_state[None]).sum(axis=-1) + intercepts
        mv = chains.money[k]
        if mv != v:
            scale = _money_scale(data, weights, money[f"money:{o.id}"])  # (D, G)
            p = reached_in(mv, space.marker_of(o.id))
            priced[..., k] = np.einsum("dkg,dg,dg->dk", p, scale, seg_w)
    values = np.einsum("dkgo,dg->dko", per_seg, seg_w)
    for k in range(len(outcomes)):
        if chains.money[k] == chains.outcome[k]:
            priced[..., k] = values[..., k]
        # a fix whose journeys could never end has no value to report
        lost = stuck[:, :, chains.outcome[k]].any(axis=-1) | stuck[:, :, chains.money[k]].any(
            axis=-1
        )
        values[..., k][lost] = np.nan
        priced[..., k][lost] = np.nan

    observed = values[:, 0]
    nb = len(breakable)
    recoverable = values[:, 1 : 1 + nb] - observed[:, None]
    money_recoverable = priced[:, 1 : 1 + nb] - priced[:, :1]
    # the marginal: gain per percentage point fewer breaks, the break probability
    # P(ever visit m:broken) measured in the chain of each outcome
    nudged = values[:, 1 + nb :] - observed[:, None]
    marginal = np.zeros_like(recoverable)
    ever: dict[tuple[int, int], Array] = {}  # (chain, moment) -> P(ever broken), with memory
    for k in range(len(outcomes)):
        v = chains.outcome[k]
        for q, s in enumerate(broken_states):
            if space.memory:
                if (v, q) not in ever:
                    ever[(v, q)] = _ever_broken(
                        probs, space, breakable[q], n_draws, n_chains, n_seg, v
                    )
                once = ever[(v, q)]
                drop = np.einsum("dg,dg->d", once[:, 0] - once[:, 1], seg_w)
            else:
                returns = diag[:, :, v, :, n_markers + q]
                once = visits[:, :, v, :, s] / np.where(returns > 0, returns, 1)  # (D, K, G)
                drop = np.einsum("dg,dg->d", once[:, 0] - once[:, 1 + nb + q], seg_w)
            moved = drop > 0
            marginal[moved, q, k] = nudged[moved, q, k] / drop[moved] * 0.01
    ok_seen = np.asarray(data.visits.T @ weights.T).T[:, [space.ok(i) for i in breakable]] > 0
    trapped: NDArray[np.bool_] = np.asarray(stuck[:, 1 : 1 + nb].any(axis=(2, 3)), dtype=np.bool_)
    return [
        Evaluation(
            reach=np.asarray(reach[d], dtype=float),
            break_rate=np.asarray(break_rate[d], dtype=float),
            outcome_mean=observed[d],
            recoverable=recoverable[d],
            marginal=marginal[d],
            ok_unseen=~np.asarray(ok_seen[d], dtype=bool),
            trapped=trapped[d],
            per_segment=per_seg[d, 0],
            money=priced[d, 0],
            money_recoverable=money_recoverable[d],
            rewards=fitted_rewards[d],
        )
        for d in range(n_draws)
    ]
