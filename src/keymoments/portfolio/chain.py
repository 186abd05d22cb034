"""Exact what-if on the fitted journey chains: break probabilities scaled per moment.

An intervention on a moment multiplies its break probability by a factor
``F = 1 + effect``: in every row of every segment's chain, the flow heading
into ``m:broken`` is scaled by ``F`` and the difference goes to (or, for
``F > 1``, comes from) ``m:ok``. A factor above one can take no more from a
row than that row sends to ``m:ok``, so the break probability of such a row is
capped at the row's whole flow into the moment. ``F = 0`` is the engine's
"fix" (the recoverable of :mod:`keymoments.gearing`).

Everything is exact linear algebra on the analysis' own chains
(:class:`keymoments.journey.fit.FittedChains`): binary outcomes as the
probability of reaching their marker in the chain cut at it, numeric outcomes
as a constant plus a reward per visit in the whole journey's chain, outcomes
priced by a value column on their money-weighted chain; per segment, combined
by the segment weights exactly as the analysis does.

Example (a moment that breaks half the time; breaking ends the journey):
    >>> import numpy as np
    >>> from keymoments.model import parse_service
    >>> svc = parse_service('''
    ... version: 1
    ... name: toy
    ... moments: [{id: a, reached: [a_ok, a_bad], broken: [a_bad]}]
    ... outcomes: [{id: won, perspective: provider, reached: [won]}]
    ... ''')
    >>> P = np.zeros((1, 4, 5))        # from: start, a:ok, a:broken, won; to: ..., done, exit
    >>> P[0, 0, :2] = 0.5              # start -> a:ok / a:broken
    >>> P[0, 1, 2] = 1.0               # a:ok -> won
    >>> P[0, 2, 4] = P[0, 3, 3] = 1.0  # a:broken -> exit; won -> done
    >>> model = ChainModel(svc, FittedChains(P, np.ones(1), {}, {}))
    >>> model.outcomes(np.array([[1.0], [0.6], [0.0]]))[:, 0].round(6).tolist()
    [0.5, 0.7, 1.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from keymoments.journey.fit import FittedChains, JourneyData, fit_chains
from keymoments.journey.kernel import release_traps, visits_and_returns
from keymoments.journey.states import StateSpace
from keymoments.model import Service

__all__ = ["ChainModel", "FittedChains", "scale_breaks"]

Array = NDArray[np.float64]


def scale_breaks(probs: Array, space: StateSpace, factors: Array) -> Array:
    """Multiply each moment's break probability by its factor, in every row.

    ``probs`` is (..., F, T); ``factors`` (..., M) broadcasts against its
    leading axes. Returns a new array; rows keep summing to one.
    """
    probs = np.asarray(probs, dtype=float)
    factors = np.asarray(factors, dtype=float)
    lead = np.broadcast_shapes(probs.shape[:-2], factors.shape[:-1])
    out = np.broadcast_to(probs, (*lead, *probs.shape[-2:])).copy()
    factors = np.broadcast_to(factors, (*lead, factors.shape[-1]))
    for i in range(len(space.moments)):
        f = factors[..., i]
        if np.all(f == 1.0):
            continue
        for ok, broken in space.pairs(i):  # every history's copy (one without memory)
            into_broken = out[..., :, broken]
            into_ok = out[..., :, ok]
            # a factor above one takes from m:ok, never more than m:ok has
            new_broken = np.minimum(into_broken * f[..., None], into_broken + into_ok)
            out[..., :, ok] = into_ok + into_broken - new_broken
            out[..., :, broken] = new_broken
    return out


@dataclass
class Evaluated:
    """Outcome values of K variants: combined (K, O) and per segment (K, G, O).

    ``priced`` (K, O) is what each outcome's money per unit multiplies: the
    outcome itself, or for an outcome priced by a value column, the column's
    amount reached per case. ``trapped`` (K,) marks variants whose journeys
    could loop for ever (their values are NaN).
    """

    outcomes: Array
    per_segment: Array
    trapped: NDArray[np.bool_]
    priced: Array


class ChainModel:
    """The fitted chains of one analysis, ready to answer what-if questions exactly.

    Args:
        service: the service model (its outcome order is the column order).
        fitted: per-segment chains and rewards, from
            :func:`keymoments.journey.fit.fit_chains`.
    """

    def __init__(self, service: Service, fitted: FittedChains) -> None:
        self.service = service
        self.fitted = fitted.resolved(service)
        # the analysis' states, with the histories its chains remember (if any)
        self.space = fitted.space or StateSpace.from_service(service)
        self.n_states = self.space.n_transient

    @property
    def views(self) -> Array:
        """The chains (V, G, F, T): view 0 the whole journey, then those of the outcomes."""
        assert self.fitted.views is not None  # resolved in __init__
        return self.fitted.views

    def blocks(self, coefficients: Array) -> list[tuple[int, int, Array]]:
        """The chains that value a plan: (view, segment, money per visit to each state).

        ``coefficients`` (O,) are per unit of each outcome's priced measure. A
        plan's value per case is the sum over blocks of the segment's weight
        times the expected visits of the block's chain times its coefficients
        (binary outcomes: the marker, which ends its chain, is visited at most
        once). Blocks of one chain and segment are merged; zero blocks dropped.
        """
        fitted, space = self.fitted, self.space
        merged: dict[tuple[int, int], Array] = {}
        for k, o in enumerate(self.service.outcomes):
            c = float(coefficients[k])
            if c == 0:
                continue
            v = fitted.money_view[k]
            for g in range(self.n_segments):
                weight = float(fitted.seg_w[g])
                if weight <= 0:
                    continue
                coef = merged.setdefault((v, g), np.zeros(self.n_states))
                if o.kind == "binary":
                    scale = fitted.money_scale[k][g] if k in fitted.money_scale else 1.0
                    coef[space.outcome_states(space.marker_of(o.id))] += c * weight * scale
                else:
                    coef += c * weight * np.tile(fitted.rewards[o.id][g], space.n_histories)
        return [(v, g, coef) for (v, g), coef in sorted(merged.items()) if np.any(coef != 0)]

    def constant(self, coefficients: Array) -> float:
        """The part of a plan's value no chain moves: the numeric outcomes' intercepts."""
        total = 0.0
        for k, o in enumerate(self.service.outcomes):
            if o.kind != "binary" and coefficients[k] != 0:
                total += float(coefficients[k]) * float(
                    self.fitted.intercepts[o.id] @ self.fitted.seg_w
                )
        return total

    @classmethod
    def from_data(
        cls,
        data: JourneyData,
        service: Service,
        w: Array | None = None,
        *,
        y_sums: dict[str, Array] | None = None,
        y_counts: dict[str, Array] | None = None,
    ) -> ChainModel:
        """Fit the chains from journey signatures (``w``: row weights, default observed)."""
        weights = data.n if w is None else w
        return cls(service, fit_chains(data, service, weights, y_sums=y_sums, y_counts=y_counts))

    @property
    def n_moments(self) -> int:
        """Number of moments (the length of a factor vector)."""
        return len(self.space.moments)

    @property
    def n_segments(self) -> int:
        """Number of segments the chains are fitted for."""
        return int(self.fitted.probs.shape[0])

    def identity(self) -> Array:
        """The factor vector that changes nothing."""
        return np.ones(self.n_moments)

    def evaluate(self, factors: Array) -> Evaluated:
        """Exact outcomes of each factor vector (rows of ``factors``, shape (K, M))."""
        factors = np.atleast_2d(np.asarray(factors, dtype=float))
        K, G = factors.shape[0], self.n_segments
        S = self.n_states
        fitted, space = self.fitted, self.space
        probs = scale_breaks(self.views[None], space, factors[:, None, None, :])
        probs, stuck = release_traps(probs, S)  # (K, V, G, F, T), (K, V, G)
        copies = [space.outcome_states(j) for j in range(len(space.binary_outcomes))]
        markers = [s for c in copies for s in c]
        visits, diag = visits_and_returns(probs, S, markers)

        def reached(v: int, j: int) -> Array:
            total = np.zeros((K, G))
            for s in copies[j]:  # each copy reached at most once (a history only grows)
                total += visits[:, v, :, s] / _safe(diag[:, v, :, markers.index(s)])
            return total

        outs = self.service.outcomes
        per_seg = np.zeros((K, G, len(outs)))
        priced_seg = np.zeros((K, G, len(outs)))
        used: set[int] = set()
        for k, o in enumerate(outs):
            v, mv = fitted.outcome_view[k], fitted.money_view[k]
            used.update((v, mv))
            if o.kind == "binary":
                j = space.marker_of(o.id)
                per_seg[..., k] = reached(v, j)
                priced_seg[..., k] = per_seg[..., k]
                if mv != v:
                    priced_seg[..., k] = reached(mv, j) * fitted.money_scale[k][None]
            else:
                r = np.tile(fitted.rewards[o.id], (1, space.n_histories))
                per_seg[..., k] = (visits[:, v] * r[None]).sum(axis=-1) + fitted.intercepts[o.id]
                priced_seg[..., k] = per_seg[..., k]
        live = (fitted.seg_w > 0)[None, None, :]
        trapped = np.asarray((stuck[:, sorted(used)] & live).any(axis=(1, 2)), dtype=bool)
        per_seg[trapped] = np.nan
        priced_seg[trapped] = np.nan
        combined = np.einsum("kgo,g->ko", per_seg, fitted.seg_w)
        return Evaluated(
            outcomes=combined,
            per_segment=per_seg,
            trapped=trapped,
            priced=np.einsum("kgo,g->ko", priced_seg, fitted.seg_w),
        )

    def outcomes(self, factors: Array) -> Array:
        """Combined outcome means (K, O) for each factor vector."""
        return self.evaluate(factors).outcomes

    def break_share(self, factors: Array, moment: int) -> Array:
        """The chain's share of arrivals at a moment that break it, per factor vector (K,).

        Expected visits to ``m:broken`` over visits to the moment, segments
        combined by their weights.
        """
        factors = np.atleast_2d(np.asarray(factors, dtype=float))
        probs = scale_breaks(self.fitted.probs[None], self.space, factors[:, None, :])
        probs, _ = release_traps(probs, self.n_states)
        visits, _ = visits_and_returns(probs, self.n_states, [])
        pairs = self.space.pairs(moment)
        ok, broken = [o for o, _ in pairs], [b for _, b in pairs]
        w = self.fitted.seg_w
        b = visits[..., broken].sum(axis=-1) @ w
        a = (visits[..., ok].sum(axis=-1) + visits[..., broken].sum(axis=-1)) @ w
        return np.asarray(np.where(a > 0, b / np.where(a > 0, a, 1.0), 0.0), dtype=float)

    def factor_for_break_share(self, moment: int, target: float) -> float:
        """The factor on a moment's break probability that makes its break share ``target``.

        Found by bisection on the exact chain (the share grows with the factor).
        Raises ``ValueError`` when no factor reaches the target.
        """
        base = self.identity()

        def share(f: float) -> float:
            v = base.copy()
            v[moment] = f
            return float(self.break_share(v[None], moment)[0])

        if target < 0 or target > 1:
            raise ValueError(f"a break rate lies between 0 and 1, got {target}")
        today = share(1.0)
        if today <= 0:
            raise ValueError("the moment never breaks in the fitted chain; nothing to scale")
        lo, hi = 0.0, 1.0
        if target > today:
            hi = 2.0
            while share(hi) < target:
                if hi > 1e6:
                    raise ValueError(f"no factor gives a break rate of {target:.3f}")
                lo, hi = hi, hi * 2
            lo = 1.0 if lo == 0.0 else lo
        for _ in range(60):
            mid = (lo + hi) / 2
            if share(mid) < target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2


def _safe(x: Array) -> Array:
    return np.where(x > 0, x, 1.0)
