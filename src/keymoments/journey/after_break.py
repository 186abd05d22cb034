"""Where cases go after breaking a moment, and how long until their next event.

From the waits summary (consecutive visit pairs with counts and times), each
move out of ``m:broken`` is sorted into:

- ``retry``: the same moment again (rebook the same appointment, reapply);
- ``back``: an earlier moment of the journey (start part of it over);
- ``forward``: carries on to a later moment or an outcome;
- ``exit``: the journey ends there.

Example:
    >>> import pandas as pd
    >>> from keymoments.journey.states import StateSpace
    >>> space = StateSpace(moments=("book", "visit"), binary_outcomes=())
    >>> waits = pd.DataFrame({"from_code": [3, 3], "to_code": [0, -1], "n": [30, 70],
    ...                       "median_s": [86400.0, None], "p90_s": [172800.0, None]})
    >>> paths = after_break(waits, space, moment=1)
    >>> paths.shares
    {'retry': 0.0, 'back': 0.3, 'forward': 0.0, 'exit': 0.7}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from keymoments.journey.states import StateSpace

__all__ = ["AfterBreak", "after_break"]

CATEGORIES = ("retry", "back", "forward", "exit")


@dataclass
class AfterBreak:
    """The paths out of one moment's broken state."""

    moment: str
    breaks: int
    shares: dict[str, float]
    destinations: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready view."""
        return {
            "moment": self.moment,
            "breaks": self.breaks,
            "shares": dict(self.shares),
            "next": list(self.destinations),
        }


def _category(space: StateSpace, moment: int, to_code: int) -> str:
    if to_code < 0:
        return "exit"
    target = space.moment_of(to_code)
    if target is None:
        return "forward"
    if target == moment:
        return "retry"
    return "back" if target < moment else "forward"


def after_break(waits: pd.DataFrame, space: StateSpace, moment: int) -> AfterBreak:
    """Shares of retry/back/forward/exit after breaking ``moment`` (index), with wait times.

    Shares are of the moves out of the broken state (``breaks`` of them); each
    destination gives its ``transitions`` (moves) and ``cases`` (distinct cases,
    when the waits carry a ``cases`` column).
    """
    rows = waits[waits["from_code"] == space.broken(moment)]
    total = int(rows["n"].sum())
    cases = rows["cases"] if "cases" in rows.columns else rows["n"]
    shares = dict.fromkeys(CATEGORIES, 0.0)
    destinations: list[dict[str, Any]] = []
    for index, r in rows.sort_values(["n", "to_code"], ascending=[False, True]).iterrows():
        to_code = int(r["to_code"])
        cat = _category(space, moment, to_code)
        shares[cat] += float(r["n"]) / total if total else 0.0
        destinations.append(
            {
                "to": "end" if to_code < 0 else space.names[to_code],
                "path": cat,
                "cases": int(cases[index]),
                "transitions": int(r["n"]),
                "share": float(r["n"]) / total if total else 0.0,
                "median_hours": _hours(r["median_s"]),
                "p90_hours": _hours(r["p90_s"]),
            }
        )
    return AfterBreak(
        moment=space.moments[moment],
        breaks=total,
        shares={k: round(v, 12) for k, v in shares.items()},
        destinations=destinations,
    )


def _hours(seconds: Any) -> float | None:
    if seconds is None or (isinstance(seconds, float) and np.isnan(seconds)) or pd.isna(seconds):
        return None
    return float(seconds) / 3600.0
