"""Which breaks the journey chain should remember: chosen by cross-validated likelihood.

A first-order chain forgets how a case got where it is. When a break changes
what happens long after it (patients who missed their appointment decline
treatment more often), the chain must remember it: its states then carry a
*history*, which of a few chosen moments broke earlier (see
:class:`~keymoments.journey.states.StateSpace`).

``memory: auto`` (the default) chooses those moments from the data, one at a
time, greedily:

1. the candidates are the breakable moments not yet remembered whose history
   is held by at least :data:`MIN_HISTORY_CASES` cases (cases that broke the
   moment and went on to some later state: the ones memory is about);
2. each candidate is scored by the log-likelihood of held-out cases under the
   chain fitted on the others, over :data:`FOLDS` folds of the cases (a
   candidate's extra transitions shrink toward the chain without it, so a
   history seen rarely costs little);
3. the candidate with the largest gain is added if it improves the held-out
   likelihood in *every* fold, and the search stops when none does or
   :data:`MAX_MEMORY` moments are remembered.

A history that changes nothing fits the training folds a little better by
chance and the held-out ones a little worse, so a service without memory gets
none. Everything works on the journey signatures, never on raw events.

Example:
    >>> MIN_HISTORY_CASES, FOLDS, MAX_MEMORY
    (100, 5, 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from keymoments.errors import ModelError
from keymoments.journey.fit import JourneyArrays, JourneyData, history_codes
from keymoments.model import Service

__all__ = [
    "FOLDS",
    "MAX_MEMORY",
    "MIN_HISTORY_CASES",
    "MemoryChoice",
    "choose_memory",
    "memory_for",
]

Array = NDArray[np.float64]

MIN_HISTORY_CASES = 100
FOLDS = 5
MAX_MEMORY = 3
# pseudo-cases a remembered state's moves borrow from the chain without that memory
_SHRINK = 1.0
# and the chain without memory, from the pooled chain and a floor for moves never seen
_POOL = 1.0
_FLOOR = 1e-3


@dataclass
class MemoryChoice:
    """The moments the chain remembers, and why.

    ``setting`` is the model's (``auto``, ``none`` or the listed ids);
    ``chosen`` the moment ids remembered, in the order they were added;
    ``steps`` one row per candidate tried at each step (``moment``, ``step``,
    ``history_cases``, ``cv_gain`` in log-likelihood units over all folds,
    ``folds_better``, ``added``).
    """

    setting: str | list[str]
    chosen: list[str]
    steps: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON view (the result's ``method.memory``)."""
        return {
            "setting": self.setting,
            "chosen": list(self.chosen),
            "steps": [dict(s) for s in self.steps],
            "minimum_history_cases": MIN_HISTORY_CASES,
            "folds": FOLDS,
            "max_moments": MAX_MEMORY,
        }

    def describe(self) -> str:
        """The choice in a sentence, for the terminal and the report."""
        if self.setting == "none":
            return "memory: none (a first-order chain, as the model asks)"
        if isinstance(self.setting, list):
            return f"memory: {', '.join(self.chosen)} (as the model lists)"
        if not self.chosen:
            tried = sum(1 for s in self.steps if s["step"] == 1)
            return (
                f"memory: none needed ({tried} moments tried; no history improved the "
                f"held-out likelihood in all {FOLDS} folds)"
            )
        gains = {s["moment"]: s["cv_gain"] for s in self.steps if s["added"]}
        parts = [f"{m} (+{gains[m]:,.1f} log-likelihood held out)" for m in self.chosen]
        return "memory: the chain remembers breaks of " + ", ".join(parts)


def history_cases(data: JourneyData, moments: list[int]) -> dict[int, int]:
    """Per moment, the cases that broke it and then went on to some later state."""
    codes, row_of, lengths = data.parsed.codes, data.parsed.row_of, data.parsed.lengths
    position = np.arange(len(codes))
    last = (np.cumsum(lengths) - 1)[row_of] if len(codes) else position
    out: dict[int, int] = {}
    for i in moments:
        broke = codes == data.space.broken(i)
        first = np.full(len(data.sigs), np.iinfo(np.int64).max)
        np.minimum.at(first, row_of[broke], position[broke])
        goes_on = np.zeros(len(data.sigs), dtype=bool)
        has = first < np.iinfo(np.int64).max
        row_last = np.full(len(data.sigs), -1)
        row_last[row_of] = last
        goes_on[has] = first[has] < row_last[has]
        out[i] = round(float(data.n[goes_on].sum()))
    return out


def _whole(data: JourneyData, memory: tuple[int, ...]) -> tuple[sp.csr_matrix, Any]:
    """The whole journeys' transition counts per row for a memory, and its space."""
    space = data.space.with_memory(memory)
    p = data.parsed
    codes, row_of, starts, lengths = p.codes, p.row_of, p.starts, p.lengths
    states = codes + space.n_base * history_codes(space, codes, row_of, starts)
    journeys = JourneyArrays(
        space, len(data.segments), data.seg_of_row, codes, states, row_of, starts, lengths
    )
    return journeys.transitions(np.ones(len(codes), dtype=bool), lengths), space


def _base_cells(space: Any, n_seg: int) -> NDArray[np.int64]:
    """For each cell (segment, from, to) of a space with memory, the cell without it."""
    n_states, n_base = space.n_transient, space.n_base
    n_from, n_to = n_states + 1, n_states + 2
    base_from, base_to = n_base + 1, n_base + 2
    f = np.arange(n_from)
    t = np.arange(n_to)
    f_base = np.where(f == 0, 0, (f - 1) % n_base + 1)
    t_base = np.where(t < n_states, t % n_base, t - n_states + n_base)
    cell = f_base[:, None] * base_to + t_base[None, :]
    g = np.arange(n_seg)[:, None, None] * (base_from * base_to)
    return np.asarray((g + cell[None]).reshape(-1), dtype=np.int64)


def _reference(counts: Array, n_seg: int, n_from: int, n_to: int) -> Array:
    """The chain without memory, per segment, shrunk toward the pooled one and floored."""
    c = counts.reshape(n_seg, n_from, n_to)
    pooled = c.sum(axis=0)
    pooled_p = (pooled + _FLOOR) / (pooled + _FLOOR).sum(axis=-1, keepdims=True)
    own = c + _POOL * pooled_p[None]
    return np.asarray(own / own.sum(axis=-1, keepdims=True)).reshape(-1)


def _held_out(
    train: Array, test: Array, reference: Array, cells: NDArray[np.int64], shape: tuple[int, ...]
) -> float:
    """Log-likelihood of the held-out moves under the training chain, shrunk to the reference."""
    prior = reference[cells].reshape(shape)
    c = train.reshape(shape)
    p = (c + _SHRINK * prior) / (c.sum(axis=-1, keepdims=True) + _SHRINK)
    t = test.reshape(shape)
    used = t > 0
    return float((t[used] * np.log(p[used])).sum())


def choose_memory(data: JourneyData, service: Service, *, seed: int = 0) -> MemoryChoice:
    """Choose the moments to remember (see the module doc). ``data`` has no memory."""
    breakable = [i for i, m in enumerate(service.moments) if m.breakable]
    n_seg = len(data.segments)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6D656D]))  # "mem"
    folds = rng.multinomial(np.round(data.n).astype(np.int64), [1.0 / FOLDS] * FOLDS).astype(
        float
    )  # rows × folds
    base_moves, _ = _whole(data, ())
    base_train = [np.asarray(base_moves.T @ (data.n - folds[:, f])) for f in range(FOLDS)]
    nb_from, nb_to = data.space.n_base + 1, data.space.n_base + 2
    references = [_reference(c, n_seg, nb_from, nb_to) for c in base_train]
    cases = history_cases(data, breakable)

    def scores(memory: tuple[int, ...]) -> Array:
        moves, space = _whole(data, memory)
        shape = (n_seg, space.n_transient + 1, space.n_transient + 2)
        cells = _base_cells(space, n_seg)
        out = np.zeros(FOLDS)
        for f in range(FOLDS):
            train = np.asarray(moves.T @ (data.n - folds[:, f]))
            test = np.asarray(moves.T @ folds[:, f])
            out[f] = _held_out(train, test, references[f], cells, shape)
        return out

    chosen: list[int] = []
    steps: list[dict[str, Any]] = []
    current = scores(())
    for step in range(1, MAX_MEMORY + 1):
        best: tuple[float, int, Array] | None = None
        for i in breakable:
            if i in chosen:
                continue
            row: dict[str, Any] = {
                "moment": service.moments[i].id,
                "step": step,
                "history_cases": cases[i],
                "cv_gain": None,
                "folds_better": None,
                "added": False,
            }
            steps.append(row)
            if cases[i] < MIN_HISTORY_CASES:
                continue
            trial = scores(tuple(sorted([*chosen, i])))
            gain = trial - current
            row["cv_gain"] = float(gain.sum())
            row["folds_better"] = int((gain > 0).sum())
            if (gain > 0).all() and (best is None or gain.sum() > best[0]):
                best = (float(gain.sum()), i, trial)
        if best is None:
            break
        _, pick, current = best
        chosen.append(pick)
        for row in steps:
            if row["step"] == step and row["moment"] == service.moments[pick].id:
                row["added"] = True
    return MemoryChoice("auto", [service.moments[i].id for i in chosen], steps)


def memory_for(
    service: Service, data: JourneyData, setting: str | list[str], seed: int
) -> MemoryChoice:
    """The moments whose breaks the chain remembers: chosen, none, or as listed."""
    if isinstance(setting, str) and setting not in ("auto", "none"):
        setting = [m.strip() for m in setting.split(",") if m.strip()]
    if setting == "none":
        return MemoryChoice("none", [])
    if isinstance(setting, list):
        ids = [m.id for m in service.moments]
        for mid in setting:
            if mid not in ids or not service.moment(mid).breakable:
                raise ModelError(
                    f"memory: {mid!r} is not a moment that can break; give moment ids "
                    f"among {', '.join(m.id for m in service.moments if m.breakable)}, "
                    "'auto' or 'none'",
                    field="memory",
                )
        return MemoryChoice(list(setting), [m.id for m in service.moments if m.id in setting])
    return choose_memory(data, service, seed=seed)
