"""The state space of a service's journey chain.

Each moment *i* (model order) gives two transient states, ``moment:ok`` (code
``2i``) and ``moment:broken`` (``2i + 1``); each binary outcome gives a marker
state (code ``2M + j``) entered when its activity happens. Outcomes reached by
the same activities share one marker (they mean the same event, so they get
the same figures), named after the first of them. ``start`` precedes every
journey; ``done`` and ``exit`` absorb it.

Example:
    >>> from keymoments import load_service
    >>> from keymoments.examples import service_path
    >>> space = StateSpace.from_service(load_service(service_path("health-check")))
    >>> space.names[:2]
    ['invitation:ok', 'invitation:broken']
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keymoments.model import Service

__all__ = ["StateSpace"]


@dataclass(frozen=True)
class StateSpace:
    """Names and codes of the chain's states for one service."""

    moments: tuple[str, ...]
    # one name per marker state: the first binary outcome reached by its activities
    binary_outcomes: tuple[str, ...]
    # every binary outcome id with the index of its marker (outcomes on one activity set share)
    outcome_markers: tuple[tuple[str, int], ...] = field(default=())

    @classmethod
    def from_service(cls, service: Service) -> StateSpace:
        """The state space of a service model."""
        markers: dict[frozenset[str], int] = {}
        names: list[str] = []
        owner: list[tuple[str, int]] = []
        for o in service.outcomes:
            if o.kind != "binary":
                continue
            key = frozenset(o.reached or [])
            if key not in markers:
                markers[key] = len(names)
                names.append(o.id)
            owner.append((o.id, markers[key]))
        return cls(
            moments=tuple(m.id for m in service.moments),
            binary_outcomes=tuple(names),
            outcome_markers=tuple(owner),
        )

    def marker_of(self, outcome_id: str) -> int:
        """Index of the marker state a binary outcome is measured on."""
        for oid, j in self.outcome_markers:
            if oid == outcome_id:
                return j
        return self.binary_outcomes.index(outcome_id)

    @property
    def n_transient(self) -> int:
        """Number of transient states (moment states and outcome markers)."""
        return 2 * len(self.moments) + len(self.binary_outcomes)

    @property
    def names(self) -> list[str]:
        """Transient state names, by code."""
        out: list[str] = []
        for m in self.moments:
            out += [f"{m}:ok", f"{m}:broken"]
        out += [f"outcome:{o}" for o in self.binary_outcomes]
        return out

    # Index layout used by the count arrays: from-states are [start, transient...],
    # to-states are [transient..., done, exit].
    @property
    def start(self) -> int:
        """Row of ``start`` in the from-axis."""
        return 0

    @property
    def done(self) -> int:
        """Column of ``done`` in the to-axis."""
        return self.n_transient

    @property
    def exit(self) -> int:
        """Column of ``exit`` in the to-axis."""
        return self.n_transient + 1

    def ok(self, moment_index: int) -> int:
        """Code of a moment's ok state."""
        return 2 * moment_index

    def broken(self, moment_index: int) -> int:
        """Code of a moment's broken state."""
        return 2 * moment_index + 1

    def outcome(self, outcome_index: int) -> int:
        """Code of a binary outcome's marker state."""
        return 2 * len(self.moments) + outcome_index

    def moment_of(self, code: int) -> int | None:
        """The moment index of a state code (``None`` for outcome markers)."""
        return code // 2 if code < 2 * len(self.moments) else None

    def is_broken(self, code: int) -> bool:
        """Whether a code is a broken moment state."""
        return code < 2 * len(self.moments) and code % 2 == 1

    def label(self, code: int | None) -> str:
        """A state's name; ``None`` (end of journey) is ``end``."""
        return "end" if code is None else self.names[code]
