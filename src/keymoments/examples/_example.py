"""The two result types of the built-in examples: :class:`Example` and :class:`Truth`.

Example:
    >>> from keymoments.examples import load_example
    >>> ex = load_example("health-check", n_cases=500)
    >>> ex.truth.quadrant["appointment"]
    'sweet_spot'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from keymoments.model import Service

__all__ = ["Example", "Truth"]


@dataclass
class Truth:
    """What was planted in a generated example, for checking estimates against.

    ``reach`` and ``break_rate`` describe the generated sample itself (computed
    from its events); ``recoverable`` is a property of the generating process,
    found by simulating it twice with common random numbers on a large sample;
    ``attributable_fraction`` is computed exactly from the planted process.

    Example:
        >>> t = Truth({}, {}, {}, {}, {}, {}, "nothing planted")
        >>> t.notes
        'nothing planted'
    """

    reach: dict[str, float]
    break_rate: dict[str, float]
    recoverable: dict[str, dict[str, float]]
    key: dict[str, dict[str, bool]]
    quadrant: dict[str, str]
    barrier_effects: dict[str, float]
    notes: str
    # moment -> barrier -> exact share of the moment's breaks the barrier explains
    attributable_fraction: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class Example:
    """A built-in service with generated events, cases and the truth planted in them.

    Example:
        >>> from keymoments.examples import load_car_purchase
        >>> ex = load_car_purchase(n_cases=300)
        >>> len(ex.cases)
        300
    """

    name: str
    service: Service
    events: pd.DataFrame
    cases: pd.DataFrame
    truth: Truth

    def __repr__(self) -> str:
        return (
            f"Example({self.name!r}, {len(self.cases)} cases, {len(self.events)} events, "
            f"{len(self.service.moments)} moments)"
        )
