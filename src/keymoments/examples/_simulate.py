"""Simulate journeys as a Markov process over moment states, given a case's segment.

A case starts in ``start``. From its current state (``start``, ``m:ok`` or
``m:broken``) it moves to a next moment (or ends) with probabilities that depend
on that state and its segment; on arriving at a moment it breaks it with a
probability that depends on the state it came from, its segment and, through a
per-case nudge, its barriers. Numeric outcomes are a segment constant
plus a reward per visit to each state plus noise; a binary outcome is "visited
this state".

Random numbers are *counter based*: the draw for a decision is a hash of (seed,
case, the moment being left, how often it was visited). Two runs that differ
only in one moment never breaking therefore share every other decision (common
random numbers): a case that would have broken takes the ok branch, meets the
same numbers there, and from then on behaves as an ok case of its segment. That
is what makes the planted recoverables sharp with a few hundred thousand
simulated cases.

Example:
    >>> flow = build_flow(
    ...     moments=("visit",), segments=("all",),
    ...     moves={"start": {"visit": 1.0}}, breaks={"visit": 0.3},
    ... )
    >>> paths = simulate(flow, np.zeros(1000, dtype=np.int64), seed=1)
    >>> round(float(paths.counts[:, flow.state("visit:broken")].mean()), 1)
    0.3
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "BinaryOutcome",
    "Flow",
    "Nudge",
    "NumericOutcome",
    "Paths",
    "Population",
    "build_flow",
    "compute_outcomes",
    "recoverable",
    "simulate",
    "uniform",
]

# A per-segment value: one number for every segment, or one per segment in order.
PerSegment = float | tuple[float, ...]

_MAX_STEPS = 80  # far beyond any journey's length; a safety net against a loop of bad luck
_MAX_VISIT_KEY = 63  # visits past this share random numbers; never reached in practice


@dataclass(frozen=True)
class Flow:
    """Transition and break probabilities of a journey process.

    States are numbered ``start`` = 0, then ``m:ok`` = 1 + 2i and
    ``m:broken`` = 2 + 2i for the i-th moment. ``move[g, s, j]`` is the chance
    of going from state ``s`` to moment ``j`` for segment ``g`` (``j`` = number
    of moments means the journey ends); ``brk[g, s, j]`` is the chance of
    breaking moment ``j`` on arriving there from ``s``.
    """

    moments: tuple[str, ...]
    segments: tuple[str, ...]
    move: np.ndarray
    brk: np.ndarray

    @property
    def n_states(self) -> int:
        """Number of states, ``start`` included."""
        return 1 + 2 * len(self.moments)

    @property
    def state_names(self) -> list[str]:
        """``['start', 'm1:ok', 'm1:broken', ...]``."""
        names = ["start"]
        for m in self.moments:
            names += [f"{m}:ok", f"{m}:broken"]
        return names

    def state(self, name: str) -> int:
        """The index of a state given as ``'start'``, ``'m:ok'`` or ``'m:broken'``."""
        return self.state_names.index(name)


def per_segment(value: PerSegment, n_segments: int, what: str) -> np.ndarray:
    arr = np.broadcast_to(np.asarray(value, dtype=np.float64), (n_segments,)).copy()
    if arr.shape != (n_segments,):  # pragma: no cover - broadcast_to raises first
        raise ValueError(f"{what}: give one value or one per segment")
    return arr


def build_flow(
    *,
    moments: tuple[str, ...],
    segments: tuple[str, ...],
    moves: Mapping[str, Mapping[str, PerSegment]],
    breaks: Mapping[str, PerSegment],
    break_from: Mapping[tuple[str, str], PerSegment] | None = None,
) -> Flow:
    """Build a :class:`Flow` from readable tables.

    ``moves[from_state][to_moment]`` is a probability (one, or one per
    segment); whatever a row leaves over ends the journey. ``breaks[moment]`` is
    the break probability on arriving at a moment; ``break_from[(from_state,
    moment)]`` overrides it for arrivals from one state.

    Example:
        >>> f = build_flow(moments=("a", "b"), segments=("x", "y"),
        ...                moves={"start": {"a": 1.0}, "a:ok": {"b": (0.9, 0.5)}},
        ...                breaks={"b": 0.1})
        >>> f.move[1, f.state("a:ok")].round(2).tolist()
        [0.0, 0.5, 0.5]
    """
    n_m, n_g = len(moments), len(segments)
    n_s = 1 + 2 * n_m
    names = ["start"] + [f"{m}:{k}" for m in moments for k in ("ok", "broken")]
    move = np.zeros((n_g, n_s, n_m + 1))
    for src, row in moves.items():
        s = names.index(src)
        for dst, p in row.items():
            move[:, s, moments.index(dst)] = per_segment(p, n_g, f"moves[{src}][{dst}]")
    total = move.sum(axis=2)
    if (total > 1 + 1e-9).any():
        raise ValueError("a row of moves sums to more than 1")
    move[:, :, n_m] = 1.0 - total
    brk = np.zeros((n_g, n_s, n_m))
    for m, p in breaks.items():
        brk[:, :, moments.index(m)] = per_segment(p, n_g, f"breaks[{m}]")[:, None]
    for (src, m), p in (break_from or {}).items():
        brk[:, names.index(src), moments.index(m)] = per_segment(p, n_g, f"break_from[{src}]")
    return Flow(moments=moments, segments=segments, move=move, brk=brk)


# -- counter-based random numbers -------------------------------------------------


def _mix(x: np.ndarray) -> np.ndarray:
    # splitmix64's finaliser: a cheap, well-tested 64-bit hash (wraps modulo 2**64).
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def uniform(seed: int, case: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Uniform numbers in [0, 1) that depend only on (seed, case, key).

    Example:
        >>> a = uniform(7, np.arange(3), np.zeros(3, dtype=np.int64))
        >>> b = uniform(7, np.arange(3), np.zeros(3, dtype=np.int64))
        >>> bool((a == b).all()) and bool(((0 <= a) & (a < 1)).all())
        True
    """
    seed_hash = _mix(np.full(1, seed, dtype=np.uint64))
    combined = (case.astype(np.uint64) << np.uint64(24)) | key.astype(np.uint64)
    x = _mix(_mix(combined ^ seed_hash))
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


# -- simulation ----------------------------------------------------------------------


@dataclass
class Paths:
    """Simulated journeys.

    ``case``, ``step`` and ``state`` list every visit, sorted by case then step;
    ``counts[i, s]`` is how often case ``i`` visited state ``s``.
    """

    case: np.ndarray
    step: np.ndarray
    state: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True)
class Nudge:
    """A per-case change (a case's barriers) to one decision.

    ``kind="break"``: the chance of breaking ``moment`` on arriving there;
    ``kind="move"``: the chance of moving to ``moment`` (the rest of the row
    shrinks in proportion). ``sources`` limits it to moves out of those states.
    With ``mode="shift"`` the ``value`` per case is added to the log-odds; with
    ``mode="set"`` it replaces the probability.
    """

    moment: int
    value: np.ndarray
    kind: str = "break"
    sources: tuple[int, ...] | None = None
    mode: str = "shift"

    def apply(self, p: np.ndarray, cases: np.ndarray) -> np.ndarray:
        """The nudged probabilities of these cases, from their unnudged ones."""
        if self.mode == "set":
            return self.value[cases].astype(np.float64)
        return _shift(p, self.value[cases])


def _shift(p: np.ndarray, offset: np.ndarray) -> np.ndarray:
    inside = (p > 0) & (p < 1)
    logit = np.log(np.where(inside, p, 0.5) / (1 - np.where(inside, p, 0.5))) + offset
    return np.where(inside, 1.0 / (1.0 + np.exp(-logit)), p)


def simulate(
    flow: Flow,
    segment: np.ndarray,
    *,
    seed: int,
    nudges: tuple[Nudge, ...] = (),
    fixed: int | None = None,
    record: bool = True,
) -> Paths:
    """Simulate one journey per case.

    ``segment[i]`` is case i's segment index; ``nudges`` shift single
    decisions per case (barriers); ``fixed`` is the index of a moment that
    never breaks (its breaks take the ok branch). With ``record=False`` only
    the visit counts are kept (the truth needs no more).

    Example:
        >>> flow = build_flow(moments=("a",), segments=("all",),
        ...                   moves={"start": {"a": 1.0}}, breaks={"a": 0.5})
        >>> seg = np.zeros(200, dtype=np.int64)
        >>> int(simulate(flow, seg, seed=0, fixed=0).counts[:, 2].sum())
        0
    """
    n = len(segment)
    n_m = len(flow.moments)
    counts = np.zeros((n, flow.n_states), dtype=np.int64)
    state = np.zeros(n, dtype=np.int64)
    active = np.arange(n)
    rec_case, rec_step, rec_state = [], [], []
    for step in range(_MAX_STEPS):
        if active.size == 0:
            break
        s = state[active]
        g = segment[active]
        # Key the draws by the moment left (not its ok/broken state) and how often
        # it was visited: a case whose break is fixed then meets the very numbers
        # it would have met, so ok and broken paths are coupled tightly.
        left = (s + 1) // 2
        visit = counts[active, np.maximum(2 * left - 1, 0)] + counts[active, 2 * left]
        visit = np.minimum(visit, _MAX_VISIT_KEY)  # 0 at the start, never counted
        key = (left * 64 + visit) * 2
        u_move = uniform(seed, active, key)
        u_break = uniform(seed, active, key + 1)
        rows = flow.move[g, s]
        for nudge in nudges:
            if nudge.kind != "move":
                continue
            here = np.isin(s, nudge.sources) if nudge.sources is not None else slice(None)
            j = nudge.moment
            old = rows[here, j]
            new = nudge.apply(old, active[here])
            rest = np.where(old < 1, (1 - new) / np.where(old < 1, 1 - old, 1.0), 0.0)
            rows[here] *= rest[:, None]
            rows[here, j] = new
        cum = np.cumsum(rows, axis=1)
        target = np.minimum((u_move[:, None] >= cum).sum(axis=1), n_m)
        going = target < n_m
        active, s, g, target, u_break = (
            active[going],
            s[going],
            g[going],
            target[going],
            u_break[going],
        )
        p = flow.brk[g, s, target]
        for nudge in nudges:
            if nudge.kind != "break":
                continue
            here = target == nudge.moment
            if nudge.sources is not None:
                here &= np.isin(s, nudge.sources)
            p[here] = nudge.apply(p[here], active[here])
        if fixed is not None:
            p[target == fixed] = 0.0
        new_state = 1 + 2 * target + (u_break < p)
        counts[active, new_state] += 1  # each active case once per step: no repeated index
        state[active] = new_state
        if not record:
            continue
        rec_case.append(active)
        rec_step.append(np.full(active.size, step))
        rec_state.append(new_state)
    case = np.concatenate(rec_case) if rec_case else np.zeros(0, dtype=np.int64)
    steps = np.concatenate(rec_step) if rec_step else np.zeros(0, dtype=np.int64)
    states = np.concatenate(rec_state) if rec_state else np.zeros(0, dtype=np.int64)
    order = np.lexsort((steps, case))
    return Paths(case=case[order], step=steps[order], state=states[order], counts=counts)


# -- outcomes ----------------------------------------------------------------------


@dataclass(frozen=True)
class BinaryOutcome:
    """An outcome reached when a case visits ``state`` (its activity follows it)."""

    id: str
    state: str


@dataclass(frozen=True)
class NumericOutcome:
    """A numeric outcome: segment constant + reward per visit + noise, clipped, rounded.

    ``noise_state``, when given, scales the noise by the visits to that state
    (a dealer's margin varies only on cars actually sold).
    """

    id: str
    column: str
    constant: PerSegment
    rewards: Mapping[str, PerSegment]
    noise: float
    low: float | None = None
    high: float | None = None
    decimals: int = 0
    noise_state: str | None = None


@dataclass
class Population:
    """The per-case draws that do not depend on the path: segment, barriers, noise."""

    segment: np.ndarray
    nudges: tuple[Nudge, ...] = ()
    noise: dict[str, np.ndarray] = field(default_factory=dict)
    columns: dict[str, np.ndarray] = field(default_factory=dict)


def compute_outcomes(
    flow: Flow,
    outcomes: tuple[BinaryOutcome | NumericOutcome, ...],
    population: Population,
    counts: np.ndarray,
) -> dict[str, np.ndarray]:
    """Each outcome per case, from the visit counts and the population's noise.

    Example:
        >>> flow = build_flow(moments=("a",), segments=("all",),
        ...                   moves={"start": {"a": 1.0}}, breaks={"a": 0.0})
        >>> pop = Population(segment=np.zeros(2, dtype=np.int64), noise={"y": np.zeros(2)})
        >>> paths = simulate(flow, pop.segment, seed=0)
        >>> out = compute_outcomes(flow, (NumericOutcome("y", "y", 5.0, {"a:ok": 1.0}, 1.0),),
        ...                        pop, paths.counts)
        >>> out["y"].tolist()
        [6.0, 6.0]
    """
    n_g = len(flow.segments)
    seg = population.segment
    result: dict[str, np.ndarray] = {}
    for o in outcomes:
        if isinstance(o, BinaryOutcome):
            result[o.id] = (counts[:, flow.state(o.state)] > 0).astype(np.float64)
            continue
        reward = np.zeros((n_g, flow.n_states))
        for name, r in o.rewards.items():
            reward[:, flow.state(name)] = per_segment(r, n_g, f"{o.id} reward {name}")
        value = per_segment(o.constant, n_g, f"{o.id} constant")[seg]
        value = value + (counts * reward[seg]).sum(axis=1)
        noise = o.noise * population.noise[o.id]
        if o.noise_state is not None:
            noise = noise * counts[:, flow.state(o.noise_state)]
        value = np.round(value + noise, o.decimals)
        if o.low is not None or o.high is not None:
            value = np.clip(value, o.low, o.high)
        result[o.id] = value
    return result


def recoverable(
    flow: Flow,
    outcomes: tuple[BinaryOutcome | NumericOutcome, ...],
    population: Population,
    *,
    seed: int,
) -> dict[str, dict[str, float]]:
    """The planted recoverable of every breakable moment for every outcome.

    Simulates the process as is and once per moment with that moment never
    breaking, on the same population and random numbers; the recoverable is the
    difference in the outcome's mean per case.

    Example:
        >>> flow = build_flow(moments=("a", "b"), segments=("all",),
        ...                   moves={"start": {"a": 1.0}, "a:ok": {"b": 1.0}},
        ...                   breaks={"a": 0.5})
        >>> pop = Population(segment=np.zeros(20_000, dtype=np.int64))
        >>> r = recoverable(flow, (BinaryOutcome("got_b", "b:ok"),), pop, seed=0)
        >>> round(r["a"]["got_b"], 1)
        0.5
    """
    base_paths = simulate(
        flow, population.segment, seed=seed, nudges=population.nudges, record=False
    )
    base = compute_outcomes(flow, outcomes, population, base_paths.counts)
    result: dict[str, dict[str, float]] = {}
    for j, m in enumerate(flow.moments):
        if not flow.brk[:, :, j].any():
            continue  # a moment that cannot break has nothing to recover
        paths = simulate(
            flow, population.segment, seed=seed, nudges=population.nudges, fixed=j, record=False
        )
        fixed = compute_outcomes(flow, outcomes, population, paths.counts)
        result[m] = {o.id: float(fixed[o.id].mean() - base[o.id].mean()) for o in outcomes}
    return result
