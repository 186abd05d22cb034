"""Interventions as candidates for a plan: what each costs and what it does to a moment.

A moment intervention multiplies its moment's break probability by
``1 + effect``. A barrier intervention lifts its barrier from a share
``-effect`` of the barrier's holders; the barrier model of that moment (see
:mod:`keymoments.experience.barriers`) turns the lift into the moment's new
break rate, and the ratio new/today is the factor on the break probability.
Interventions on one moment combine: moment ones multiply, barrier ones enter
the barrier model together (two on one barrier reach independent shares of
its holders, ``1 − (1 − s₁)(1 − s₂)``), and the two kinds multiply.

A plan's cost per year is, for each intervention, its fixed ``cost`` plus
``cost_per_case`` times the yearly ``volume``.

Example:
    >>> from keymoments import load_service
    >>> from keymoments.examples import service_path
    >>> svc = load_service(service_path("health-check"))
    >>> cands = candidates(svc, volume=12000)
    >>> [(c.id, c.cost) for c in cands if c.moment == "appointment" and not c.barrier]
    [('sms_reminder', 2480.0), ('home_visit', 22000.0)]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from keymoments.errors import ModelError
from keymoments.model import Intervention, Service

__all__ = [
    "BarrierRates",
    "Candidate",
    "Option",
    "barrier_models_of",
    "candidates",
    "factors_of",
    "moment_factor",
    "options_by_moment",
]

# More than this many interventions on one moment would make the per-moment
# option list (all their subsets) too long to enumerate.
MAX_PER_MOMENT = 12


class BarrierRates(Protocol):
    """What the portfolio needs of a barrier model (see INTERFACES: BarrierModel)."""

    moment: str
    barrier_ids: list[str]

    def break_rate(self, lift: Mapping[str, float] | None = None) -> float: ...


@dataclass(frozen=True)
class Candidate:
    """One intervention, resolved against the service: its moment and its yearly cost."""

    id: str
    name: str
    moment: str
    moment_index: int
    barrier: str | None
    effect: float
    effect_range: tuple[float, float]
    fixed_cost: float
    cost_per_case: float
    cost: float  # per year: fixed_cost + cost_per_case × volume

    @property
    def kind(self) -> str:
        """``"moment"`` or ``"barrier"``."""
        return "barrier" if self.barrier else "moment"


def _barrier_moment(service: Service, iv: Intervention) -> str:
    for b in service.barriers:
        if b.id == iv.barrier:
            return b.moment
    raise ModelError(f"intervention {iv.id!r}: unknown barrier {iv.barrier!r}")


def candidates(service: Service, *, volume: float) -> list[Candidate]:
    """The service's interventions as candidates, in model order."""
    index = {m.id: i for i, m in enumerate(service.moments)}
    out = []
    for iv in service.interventions:
        moment = iv.moment if iv.moment else _barrier_moment(service, iv)
        rng = iv.effect_range or (iv.effect, iv.effect)
        out.append(
            Candidate(
                id=iv.id,
                name=iv.name or iv.id.replace("_", " "),
                moment=moment,
                moment_index=index[moment],
                barrier=iv.barrier,
                effect=float(iv.effect),
                effect_range=(float(rng[0]), float(rng[1])),
                fixed_cost=float(iv.cost),
                cost_per_case=float(iv.cost_per_case),
                cost=float(iv.cost + iv.cost_per_case * volume),
            )
        )
    return out


def moment_factor(
    chosen: Sequence[Candidate],
    *,
    barrier_models: Mapping[str, BarrierRates] | None = None,
    effects: Mapping[str, float] | None = None,
) -> float:
    """The factor on one moment's break probability from interventions chosen on it.

    ``effects`` overrides the candidates' point effects (Monte Carlo draws);
    ``barrier_models`` maps a moment id to its barrier model (replicates too).
    """
    factor = 1.0
    lift: dict[str, float] = {}
    for c in chosen:
        e = effects.get(c.id, c.effect) if effects is not None else c.effect
        if c.barrier is None:
            factor *= 1.0 + e
        else:
            share = min(max(-e, 0.0), 1.0)
            lift[c.barrier] = 1.0 - (1.0 - lift.get(c.barrier, 0.0)) * (1.0 - share)
    if lift:
        moment = chosen[0].moment
        model = (barrier_models or {}).get(moment)
        if model is None:
            raise ModelError(
                f"barrier interventions on moment {moment!r} need its barrier model "
                "(the analysis fits one per moment with barriers and a cases table)"
            )
        today = float(model.break_rate(None))
        factor *= float(model.break_rate(lift)) / today if today > 0 else 1.0
    return factor


@dataclass(frozen=True)
class Option:
    """One choice at one moment: a subset of its candidates, its factor and its cost."""

    moment_index: int
    members: tuple[int, ...]  # positions in the candidate list
    factor: float
    cost: float


def options_by_moment(
    cands: Sequence[Candidate],
    *,
    barrier_models: Mapping[str, BarrierRates] | None = None,
    effects: Mapping[str, float] | None = None,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> dict[int, list[Option]]:
    """Every subset of each moment's candidates as an option (the empty one first).

    Options breaking ``include`` (must be in) or ``exclude`` (must be out) are left out.
    """
    by_moment: dict[int, list[int]] = {}
    for pos, c in enumerate(cands):
        by_moment.setdefault(c.moment_index, []).append(pos)
    must, never = set(include), set(exclude)
    out: dict[int, list[Option]] = {}
    for m, members in by_moment.items():
        if len(members) > MAX_PER_MOMENT:
            raise ModelError(
                f"moment {cands[members[0]].moment!r} has {len(members)} interventions; "
                f"at most {MAX_PER_MOMENT} per moment can be planned together"
            )
        opts = []
        for r in range(len(members) + 1):
            for subset in itertools.combinations(members, r):
                ids = {cands[p].id for p in subset}
                if ids & never:
                    continue
                if any(cands[p].id in must and cands[p].id not in ids for p in members):
                    continue
                chosen = [cands[p] for p in subset]
                f = (
                    moment_factor(chosen, barrier_models=barrier_models, effects=effects)
                    if chosen
                    else 1.0
                )
                opts.append(Option(m, tuple(subset), f, float(sum(c.cost for c in chosen))))
        out[m] = opts
    return out


def factors_of(
    chosen: Sequence[int],
    cands: Sequence[Candidate],
    n_moments: int,
    *,
    barrier_models: Mapping[str, BarrierRates] | None = None,
    effects: Mapping[str, float] | None = None,
) -> np.ndarray:
    """The factor vector (one per moment) of a set of chosen candidate positions."""
    factors = np.ones(n_moments)
    groups: dict[int, list[Candidate]] = {}
    for p in chosen:
        groups.setdefault(cands[p].moment_index, []).append(cands[p])
    for m, group in groups.items():
        factors[m] = moment_factor(group, barrier_models=barrier_models, effects=effects)
    return factors


def barrier_models_of(result: Any) -> dict[str, BarrierRates]:
    """The barrier models an analysis result holds (none before barriers are fitted)."""
    section = getattr(result, "barriers", None)
    models = getattr(section, "models", None)
    return dict(models) if models else {}
