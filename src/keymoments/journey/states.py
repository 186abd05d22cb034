"""The state space of a service's journey chain.

Each moment *i* (model order) gives two transient states, ``moment:ok`` (code
``2i``) and ``moment:broken`` (``2i + 1``); each binary outcome gives a marker
state (code ``2M + j``) entered when its activity happens. Outcomes reached by
the same activities share one marker (they mean the same event, so they get
the same figures), named after the first of them. ``start`` precedes every
journey; ``done`` and ``exit`` absorb it.

With **memory** (a few moments whose breaks the chain remembers), every state
comes in one copy per history: which of those moments broke earlier in the
journey. A copy's code is the base code plus ``n_base`` times the history's
bit mask, so with no memory the codes are the base codes.

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
    # moment indices whose breaks the states remember (bit b of a history: memory[b] broke)
    memory: tuple[int, ...] = field(default=())

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

    def with_memory(self, memory: tuple[int, ...]) -> StateSpace:
        """The same states, remembering the breaks of these moments (indices, kept sorted)."""
        return StateSpace(
            self.moments, self.binary_outcomes, self.outcome_markers, tuple(sorted(memory))
        )

    @property
    def n_base(self) -> int:
        """States without history: moment states and outcome markers."""
        return 2 * len(self.moments) + len(self.binary_outcomes)

    @property
    def n_histories(self) -> int:
        """Copies of each state: one per set of remembered moments that broke earlier."""
        return 1 << len(self.memory)

    @property
    def n_transient(self) -> int:
        """Number of transient states (every copy of the moment states and markers)."""
        return self.n_base * self.n_histories

    @property
    def names(self) -> list[str]:
        """Transient state names, by code."""
        base: list[str] = []
        for m in self.moments:
            base += [f"{m}:ok", f"{m}:broken"]
        base += [f"outcome:{o}" for o in self.binary_outcomes]
        out = list(base)
        for history in range(1, self.n_histories):
            out += [f"{name} (after {self.history_label(history)})" for name in base]
        return out

    def history_label(self, history: int) -> str:
        """``"appointment broke"`` for a history's bit mask."""
        broke = [self.moments[m] for b, m in enumerate(self.memory) if history >> b & 1]
        return " and ".join(broke) + " broke" if broke else "no remembered break"

    def pairs(self, moment_index: int) -> list[tuple[int, int]]:
        """Every copy of a moment's (ok, broken) states, one pair per history."""
        ok, broken = self.ok(moment_index), self.broken(moment_index)
        step = self.n_base
        return [(ok + h * step, broken + h * step) for h in range(self.n_histories)]

    def outcome_states(self, outcome_index: int) -> list[int]:
        """Every copy of a binary outcome's marker state."""
        return [self.outcome(outcome_index) + h * self.n_base for h in range(self.n_histories)]

    def base_code(self, code: int) -> int:
        """A state's code without its history."""
        return code % self.n_base

    def history_of(self, code: int) -> int:
        """A state's history (bit mask over ``memory``)."""
        return code // self.n_base

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
        code = self.base_code(code)
        return code // 2 if code < 2 * len(self.moments) else None

    def is_broken(self, code: int) -> bool:
        """Whether a code is a broken moment state."""
        code = self.base_code(code)
        return code < 2 * len(self.moments) and code % 2 == 1

    def label(self, code: int | None) -> str:
        """A state's name; ``None`` (end of journey) is ``end``."""
        return "end" if code is None else self.names[code]
