"""Recoverable, gearing and key flags, with bootstrap intervals.

For each breakable moment and outcome, the **recoverable** is the change in
the outcome's mean per case if the moment never broke (see
:mod:`keymoments.journey.fit`). **Gearing** divides it by the mean absolute
recoverable of all breakable moments for that outcome, so 1 is an average
moment and 3 a moment worth three average ones. **Marginal** is the gain per
percentage point fewer breaks; marginal gearing compares it the same way.

Key rule (documented in ``docs/concepts.md``): a moment is *key for an
outcome* when

- its gearing is at least ``key_gearing`` (1.5 by default); with fewer than
  three breakable moments gearing cannot single one out (one moment always has
  gearing 1, two at most 2), so there it needs to be at least 1, the average;
- the interval of its recoverable lies wholly above zero; and
- its recoverable is material: at least ``key_min_effect`` (1% by default) of
  the outcome's standard deviation across cases, so that a trivial moment is
  not key merely for being the only one.

A perspective's outcomes that carry a money ``value`` are first added up into
one money recoverable per moment, which is judged the same way; a moment is
*key for a perspective* when it is key for that money total or for any of the
perspective's outcomes without a value, and the moment declares that
perspective.

Intervals come from a bootstrap over cases: the journey signatures are
resampled multinomially with their observed counts (never the raw events), and
within a signature the numeric outcomes get the signature's own spread.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from keymoments.journey.fit import (
    ChainSet,
    Evaluation,
    FittedChains,
    JourneyData,
    evaluate,
    evaluate_many,
    fit_chains_many,
    reward_sums,
)
from keymoments.model import PERSPECTIVES, Perspective, Service

__all__ = [
    "ChainDraws",
    "Impacts",
    "Listeners",
    "PerspectiveImpact",
    "bootstrap",
    "estimate_impacts",
    "gearing_of",
]

Array = NDArray[np.float64]
Progress = Callable[[int, int], None]


def gearing_of(recoverable: Array) -> Array:
    """Gearing along the moment axis (-2): recoverable over the mean |recoverable|."""
    if recoverable.shape[-2] == 0:  # no breakable moment: nothing to compare
        return np.zeros_like(recoverable)
    with warnings.catch_warnings():
        # a moment whose fix cannot be estimated is NaN; all of them NaN is NaN too
        warnings.simplefilter("ignore", RuntimeWarning)
        scale = np.nanmean(np.abs(recoverable), axis=-2, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, recoverable / np.where(scale > 0, scale, 1.0), 0.0)


def _within_variance(data: JourneyData, outcome: str) -> Array:
    """Per-row variance of a numeric outcome among cases sharing a signature and segment.

    Pooled over the rows of a segment (rows of one case have no spread of their own).
    """
    n_y, s, s2 = data.n_y[outcome], data.sum_y[outcome], data.sum_y2[outcome]
    with np.errstate(invalid="ignore", divide="ignore"):
        within = np.where(n_y > 0, s2 - s * s / np.where(n_y > 0, n_y, 1), 0.0)
    out = np.zeros(len(n_y))
    for g in range(len(data.segments)):
        rows = data.seg_of_row == g
        dof = (np.maximum(n_y - 1, 0) * rows).sum()
        var = (within * rows).sum() / dof if dof > 0 else 0.0
        out[rows] = max(var, 0.0)
    return out


class BlockListener(Protocol):
    """Something that reads the point estimate and then each block of bootstrap draws
    as it is evaluated (the model check), so the draws are made and fitted once."""

    def start(self, point: Evaluation) -> None: ...

    def add(self, draws: DrawBlock) -> None: ...


@dataclass
class DrawBlock:
    """A block of bootstrap draws: row weights (draws × rows), each value column's sums,
    each numeric outcome's sums and counts (draws × rows), and their evaluations."""

    weights: Array
    money: dict[str, Array]
    y_sums: dict[str, Array]
    y_counts: dict[str, Array]
    evaluations: list[Evaluation]


class ChainDraws:
    """Keeps the fitted chains of the first ``limit`` bootstrap draws, as they are made.

    A :class:`BlockListener`: each block's row weights, value-column sums and
    fitted rewards become :class:`~keymoments.journey.fit.FittedChains`
    (:func:`~keymoments.journey.fit.fit_chains_many`), so whatever needs the
    chain's uncertainty later (the plan's Monte Carlo) reads the analysis' own
    draws and never refits from the data.
    """

    # the chains kept take at most this much memory (a chain with memory over several
    # segments and outcome views can take megabytes; the Monte Carlo shares what it gets)
    MAX_BYTES = 256 * 2**20

    def __init__(self, data: JourneyData, service: Service, limit: int = 100) -> None:
        views = len(ChainSet.of(data, service, whole=True).chains) + 1  # and the whole chain
        per_draw = views * len(data.segments) * data.n_from * data.n_to * 8
        self.data, self.service = data, service
        self.limit = min(limit, max(1, self.MAX_BYTES // max(per_draw, 1)))
        self.chains: list[FittedChains] = []

    def start(self, point: Evaluation) -> None:
        """Nothing to keep of the point estimate (the analysis keeps its chain)."""

    def add(self, draws: DrawBlock) -> None:
        """Keep the chains of this block's draws, up to the limit."""
        take = self.limit - len(self.chains)
        if take <= 0:
            return
        self.chains += fit_chains_many(
            self.data,
            self.service,
            draws.weights[:take],
            money={k: v[:take] for k, v in draws.money.items()},
            rewards=[e.rewards for e in draws.evaluations[:take]],
        )


class Listeners:
    """Several :class:`BlockListener` reading the same draws, in turn."""

    def __init__(self, *listeners: BlockListener) -> None:
        self.listeners = listeners

    def start(self, point: Evaluation) -> None:
        """Give each listener the point estimate."""
        for listener in self.listeners:
            listener.start(point)

    def add(self, draws: DrawBlock) -> None:
        """Give each listener the block of draws."""
        for listener in self.listeners:
            listener.add(draws)


def bootstrap(
    data: JourneyData,
    service: Service,
    *,
    n_boot: int,
    seed: int,
    progress: Progress | None = None,
    listener: BlockListener | None = None,
) -> list[Evaluation]:
    """Evaluate ``n_boot`` multinomial resamples of the signature counts.

    ``listener`` is given every block of draws with its evaluations.
    """
    draws: list[Evaluation] = []
    if progress is not None:
        progress(0, n_boot)  # the stage shows as started before its first block ends
    for block in _blocks(resampled_counts(data, n_boot, seed), _DRAWS_AT_ONCE):
        # the numeric outcomes' regression sums of a block of draws: one product each
        sums = {
            o: reward_sums(
                data, np.stack([ys[o] for _, ys, _ in block]), np.stack([yc[o] for *_, yc in block])
            )
            for o in data.numeric
        }
        weights = np.stack([k for k, _, _ in block])
        each = [{o: sums[o][i] for o in data.numeric} for i in range(len(block))]
        money = {key: np.stack([ys[key] for _, ys, _ in block]) for key in data.value_sums}
        evaluated = evaluate_many(data, service, weights, sums=each, money=money)
        draws += evaluated
        if listener is not None:
            listener.add(
                DrawBlock(
                    weights=weights,
                    money=money,
                    y_sums={o: np.stack([ys[o] for _, ys, _ in block]) for o in data.numeric},
                    y_counts={o: np.stack([yc[o] for *_, yc in block]) for o in data.numeric},
                    evaluations=evaluated,
                )
            )
        if progress is not None:
            progress(len(draws), n_boot)
    return draws


# draws evaluated together: one batch of linear algebra (a few MB per 100 draws)
_DRAWS_AT_ONCE = 200
T = TypeVar("T")


def _blocks(items: Iterator[T], size: int) -> Iterator[list[T]]:
    block: list[T] = []
    for item in items:
        block.append(item)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def resampled_counts(
    data: JourneyData, n_boot: int, seed: int
) -> Iterator[tuple[Array, dict[str, Array], dict[str, Array]]]:
    """``n_boot`` resamples of the cases: (signature counts, outcome sums, outcome counts).

    Cases are drawn multinomially over the journey signatures; a numeric outcome's
    sum moves with its count plus normal noise of the within-signature variance, so
    a resample needs no per-case values. A value column's sum (money per case,
    ``money:OUTCOME``) moves with the count alone: it weighs the cases, and a
    weight is never negative.
    """
    rng = np.random.default_rng(seed)
    total = round(float(data.n.sum()))
    p = data.n / data.n.sum()
    variances = {o: _within_variance(data, o) for o in data.numeric}
    for _ in range(n_boot):
        k = rng.multinomial(total, p).astype(float)
        ratio = np.divide(k, data.n, out=np.zeros_like(k), where=data.n > 0)
        y_counts = {o: data.n_y[o] * ratio for o in data.numeric}
        y_sums = {}
        for o in data.numeric:
            noise = rng.normal(0.0, 1.0, len(k)) * np.sqrt(y_counts[o] * variances[o])
            y_sums[o] = data.sum_y[o] * ratio + noise
        for key in data.value_sums:
            y_sums[key] = data.sum_y[key] * ratio
        yield k, y_sums, y_counts


@dataclass
class PerspectiveImpact:
    """How much a moment is worth fixing for one perspective."""

    measure: str  # "money" or an outcome id
    recoverable: float
    ci: tuple[float, float]
    gearing: float
    gearing_ci: tuple[float, float]
    significant: bool
    key: bool


@dataclass
class Impacts:
    """Point estimates, intervals and key flags for every moment and outcome.

    Arrays are (breakable moments × outcomes); ``breakable`` lists their moment
    indices. ``draws`` hold the bootstrap values (draws × ...), or are empty.
    """

    breakable: list[int]
    point: Evaluation
    reach_ci: Array  # (2, M)
    break_rate_ci: Array
    recoverable_ci: Array  # (2, B, O)
    gearing: Array
    gearing_ci: Array
    marginal_ci: Array
    marginal_gearing: Array
    perspective: dict[Perspective, list[PerspectiveImpact | None]]
    confidence: float
    n_boot: int
    model_mean_ci: Array = field(default_factory=lambda: np.zeros((2, 0)))  # (2, O)
    draws: list[Evaluation] = field(default_factory=list, repr=False)
    # every measure judged per perspective and breakable moment (money first), not only
    # the deciding one: what the report needs to give each key moment its money
    measures: dict[Perspective, list[list[PerspectiveImpact]]] = field(default_factory=dict)

    def key(self, moment_position: int, perspective: Perspective) -> bool:
        """Whether the breakable moment at this position is key for a perspective."""
        impact = self.perspective[perspective][moment_position]
        return bool(impact is not None and impact.key)


def _interval(draws: Array, point: Array, confidence: float) -> Array:
    if draws.shape[0] == 0:
        return np.stack([point, point])
    tail = (1 - confidence) / 2 * 100
    with warnings.catch_warnings():
        # draws where a fix could not be estimated are NaN and left out
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(draws, [tail, 100 - tail], axis=0)


def estimate_impacts(
    data: JourneyData,
    service: Service,
    *,
    n_boot: int | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
    listener: BlockListener | None = None,
) -> Impacts:
    """Point estimates plus bootstrap intervals, gearing and key flags.

    ``listener`` reads every block of bootstrap draws (see :func:`bootstrap`).
    """
    settings = service.analysis
    n_boot = settings.bootstrap if n_boot is None else n_boot
    seed = settings.seed if seed is None else seed
    confidence = settings.confidence
    point = evaluate(data, service, data.n)
    if listener is not None:
        listener.start(point)
    draws = bootstrap(data, service, n_boot=n_boot, seed=seed, progress=progress, listener=listener)
    breakable = [i for i, m in enumerate(service.moments) if m.breakable]

    def stack(attr: str) -> Array:
        if not draws:
            return np.zeros((0, *getattr(point, attr).shape))
        return np.stack([getattr(d, attr) for d in draws])

    rec_draws = stack("recoverable")
    money_draws = stack("money_recoverable")
    gear_point = gearing_of(point.recoverable)
    gear_draws = gearing_of(rec_draws) if len(draws) else rec_draws
    marg_draws = stack("marginal")

    impacts = Impacts(
        breakable=breakable,
        point=point,
        reach_ci=_interval(stack("reach"), point.reach, confidence),
        break_rate_ci=_interval(stack("break_rate"), point.break_rate, confidence),
        recoverable_ci=_interval(rec_draws, point.recoverable, confidence),
        gearing=gear_point,
        gearing_ci=_interval(gear_draws, gear_point, confidence),
        marginal_ci=_interval(marg_draws, point.marginal, confidence),
        marginal_gearing=gearing_of(point.marginal),
        perspective={},
        confidence=confidence,
        n_boot=len(draws),
        model_mean_ci=_interval(stack("outcome_mean"), point.outcome_mean, confidence),
        draws=draws,
    )
    scale = outcome_scale(data, service, point)
    for p in PERSPECTIVES:
        impacts.perspective[p], impacts.measures[p] = _perspective_impacts(
            service, p, breakable, point, rec_draws, money_draws, scale, confidence
        )
    return impacts


def outcome_scale(data: JourneyData, service: Service, point: Evaluation) -> Array:
    """Each outcome's standard deviation across cases, as observed (O,).

    A binary outcome's is sqrt(p(1 − p)); a numeric one's from its sums. For an
    outcome priced by a value column it is the spread of the money it brings,
    taken as the binary spread times the mean amount among those reaching it.
    """
    total = float(data.n.sum())
    out = np.zeros(len(service.outcomes))
    for k, o in enumerate(service.outcomes):
        if o.kind == "binary":
            hit = np.asarray(
                (data.visits[:, data.space.outcome(data.space.marker_of(o.id))] > 0).todense()
            ).ravel()
            p = float((data.n * hit).sum() / total) if total else 0.0
            out[k] = np.sqrt(max(p * (1 - p), 0.0))
        else:
            n, s1, s2 = data.n_y[o.id].sum(), data.sum_y[o.id].sum(), data.sum_y2[o.id].sum()
            out[k] = float(np.sqrt(max(s2 / n - (s1 / n) ** 2, 0.0))) if n > 0 else 0.0
    return out


def _money_scale_of(service: Service, point: Evaluation, scale: Array, keys: list[int]) -> float:
    """The spread of money per case over the given outcomes (a sum of their spreads)."""
    out = 0.0
    for k in keys:
        o = service.outcomes[k]
        per_unit = abs(float(o.money_per_unit or 0.0))
        spread = scale[k]
        if o.value_column and point.outcome_mean[k] > 0:
            # the column's mean amount among those reaching the outcome
            spread *= float(point.money[k] / point.outcome_mean[k])
        out += per_unit * spread
    return out


def _perspective_impacts(
    service: Service,
    perspective: Perspective,
    breakable: list[int],
    point_eval: Evaluation,
    rec_draws: Array,
    money_draws: Array,
    scale: Array,
    confidence: float,
) -> tuple[list[PerspectiveImpact | None], list[list[PerspectiveImpact]]]:
    """Per breakable moment: the measure that decides key-ness for this perspective,
    and every measure judged (money first, then each outcome without a value)."""
    settings = service.analysis
    # with fewer than three breakable moments no gearing can stand out (see module doc)
    threshold = settings.key_gearing if len(breakable) > 2 else min(settings.key_gearing, 1.0)
    outcomes = [(k, o) for k, o in enumerate(service.outcomes) if o.perspective == perspective]
    valued = [(k, o) for k, o in outcomes if o.money_per_unit is not None]
    unvalued = [(k, o) for k, o in outcomes if o.money_per_unit is None]
    rec = point_eval.recoverable
    measures: list[tuple[str, Array, Array, float]] = []
    if valued:
        weights = np.zeros(rec.shape[-1])
        for k, o in valued:
            weights[k] = float(o.money_per_unit or 0.0)
        money = point_eval.money_recoverable @ weights
        spread = _money_scale_of(service, point_eval, scale, [k for k, _ in valued])
        measures.append(("money", money, money_draws @ weights, spread))
    for k, o in unvalued:
        measures.append((o.id, rec[:, k], rec_draws[..., k], float(scale[k])))
    if not measures:
        return [None] * len(breakable), [[] for _ in breakable]

    judged: list[list[PerspectiveImpact]] = []
    for name, point, draws, spread in measures:
        gear = gearing_of(point[:, None])[:, 0]
        gear_draws = gearing_of(draws[..., None])[..., 0] if draws.shape[0] else draws
        ci = _interval(draws, point, confidence)
        gci = _interval(gear_draws, gear, confidence)
        floor = settings.key_min_effect * spread
        row = []
        for q in range(len(breakable)):
            lo, hi = float(ci[0, q]), float(ci[1, q])
            significant = bool(lo > 0 or hi < 0) if draws.shape[0] else bool(point[q] != 0)
            material = bool(abs(point[q]) >= floor) if spread > 0 else bool(point[q] != 0)
            row.append(
                PerspectiveImpact(
                    measure=name,
                    recoverable=float(point[q]),
                    ci=(lo, hi),
                    gearing=float(gear[q]),
                    gearing_ci=(float(gci[0, q]), float(gci[1, q])),
                    significant=significant,
                    key=bool(gear[q] >= threshold and lo > 0 and material),
                )
            )
        judged.append(row)

    out: list[PerspectiveImpact | None] = []
    every: list[list[PerspectiveImpact]] = []
    for q, i in enumerate(breakable):
        candidates = [row[q] for row in judged]
        if perspective not in service.moments[i].perspectives:
            out.append(None)
            every.append([])
            continue
        keyed = [c for c in candidates if c.key]
        # the deciding measure: a key one if any, else the largest effect
        best = max(keyed or candidates, key=lambda c: abs(c.gearing))
        out.append(best)
        every.append(candidates)
    return out, every
