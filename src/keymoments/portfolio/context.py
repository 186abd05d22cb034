"""What every portfolio question shares: the fitted chains, the candidates and the money.

**Money.** An outcome's gain per case is in its own unit (a share of cases
for a binary outcome, points for a rating). Its money per year is
``volume × value × gain``, where ``value`` is the outcome's ``value`` in the
model. ``weights`` adjust that: a perspective name (``user``, ``provider``)
multiplies the money of that perspective's outcomes, and an outcome id gives
money per unit to an outcome (replacing its ``value``; this is how an outcome
without a value, such as a satisfaction score, can count as money). An
outcome with neither counts as a gain, never as money.

``volume`` is the model's cases per year; without one, the number of cases
in the data stands in (said in the result).

Example:
    >>> from keymoments import load_service
    >>> from keymoments.examples import service_path
    >>> svc = load_service(service_path("health-check"))
    >>> v = Valuation.of(svc, volume=12000, weights={"experience": 50})
    >>> v.money_per_unit.tolist()
    [150.0, 50.0]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from keymoments.errors import ModelError, NotFittedError
from keymoments.model import PERSPECTIVES, Service
from keymoments.portfolio.chain import ChainModel
from keymoments.portfolio.interventions import (
    BarrierRates,
    Candidate,
    barrier_models_of,
    candidates,
)

__all__ = ["PlanContext", "Valuation", "parse_weights"]

Array = NDArray[np.float64]


def parse_weights(text: str | Mapping[str, float] | None) -> dict[str, float]:
    """``"user=1,provider=0.5"`` (or a mapping) as a dict of floats.

    Example:
        >>> parse_weights("user=2, experience=40")
        {'user': 2.0, 'experience': 40.0}
    """
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return {str(k): float(v) for k, v in text.items()}
    out: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[key.strip()] = float(value)
        except ValueError:
            raise ModelError(
                f"weight {part.strip()!r}: expected NAME=NUMBER, e.g. user=1,provider=0.5"
            ) from None
    return out


@dataclass
class Valuation:
    """Money per unit of each outcome (per case) and the yearly volume."""

    service: Service
    volume: float
    money_per_unit: Array  # (O,)
    weights: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(
        cls, service: Service, *, volume: float, weights: Mapping[str, float] | None = None
    ) -> Valuation:
        """Money per unit from the outcomes' values and the weights (see module doc)."""
        weights = dict(weights or {})
        known = {*PERSPECTIVES, *(o.id for o in service.outcomes)}
        for key in weights:
            if key not in known:
                raise ModelError(
                    f"unknown weight {key!r}: weigh a perspective (user, provider) or an "
                    f"outcome ({', '.join(o.id for o in service.outcomes)})",
                    field="weight",
                )
        money = np.zeros(len(service.outcomes))
        for k, o in enumerate(service.outcomes):
            per_unit = weights.get(o.id, o.money_per_unit)
            if per_unit is not None:
                money[k] = float(per_unit) * weights.get(o.perspective, 1.0)
        return cls(service=service, volume=volume, money_per_unit=money, weights=weights)

    def per_year(self, gain: Array) -> Array:
        """Money per year of each outcome's gain per case (..., O)."""
        return np.asarray(gain, dtype=float) * self.money_per_unit * self.volume

    def total(self, gain: Array) -> Array:
        """Money per year of a gain per case, all outcomes together (...)."""
        return np.asarray(np.nansum(self.per_year(gain), axis=-1), dtype=float)

    def by_perspective(self, gain: Array) -> dict[str, float]:
        """Money per year of a gain (O,), per perspective."""
        money = self.per_year(gain)
        return {
            p: float(
                sum(money[k] for k, o in enumerate(self.service.outcomes) if o.perspective == p)
            )
            for p in PERSPECTIVES
        }

    @property
    def counted(self) -> list[bool]:
        """Whether each outcome counts as money."""
        return [bool(m != 0) for m in self.money_per_unit]


@dataclass
class PlanContext:
    """The chains, candidates, barrier models and valuation of one analysis."""

    service: Service
    chain: ChainModel
    candidates: list[Candidate]
    valuation: Valuation
    barrier_models: dict[str, BarrierRates]
    volume_from_data: bool
    result: Any = None

    @classmethod
    def of(cls, result: Any, *, weights: Mapping[str, float] | None = None) -> PlanContext:
        """Build from an :class:`~keymoments.result.AnalysisResult`."""
        data = getattr(result, "_journey", None)
        if data is None:
            raise NotFittedError(
                "this result holds no fitted journey chains (it was not made by "
                "keymoments.analyse in this session); run analyse() again"
            )
        chain = getattr(result, "_chain_model", None)
        if chain is None:
            chain = ChainModel.from_data(data, result.service)
            result._chain_model = chain
        service = result.service
        volume_from_data = service.volume is None
        volume = float(service.volume) if service.volume is not None else float(result.n_cases)
        return cls(
            service=service,
            chain=chain,
            candidates=candidates(service, volume=volume),
            valuation=Valuation.of(service, volume=volume, weights=weights),
            barrier_models=barrier_models_of(result),
            volume_from_data=volume_from_data,
            result=result,
        )

    def with_weights(self, weights: Mapping[str, float] | None) -> PlanContext:
        """The same context valued with other weights."""
        return PlanContext(
            service=self.service,
            chain=self.chain,
            candidates=self.candidates,
            valuation=Valuation.of(self.service, volume=self.valuation.volume, weights=weights),
            barrier_models=self.barrier_models,
            volume_from_data=self.volume_from_data,
            result=self.result,
        )

    def candidate(self, cid: str) -> int:
        """Position of a candidate by id; a clear error naming the known ones otherwise."""
        for pos, c in enumerate(self.candidates):
            if c.id == cid:
                return pos
        known = ", ".join(c.id for c in self.candidates) or "none"
        raise ModelError(f"unknown intervention {cid!r}; the model's interventions: {known}")

    def usable(self) -> list[int]:
        """Candidates that can be evaluated (barrier ones need their barrier model)."""
        return [
            p
            for p, c in enumerate(self.candidates)
            if c.barrier is None or c.moment in self.barrier_models
        ]
