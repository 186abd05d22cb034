"""Key moments that move: the key-moment analysis per window of time.

The cases are grouped by the window their first event falls in (a quarter by
default, or a half, a year, or a number of periods), and each window gets the
analysis' own key rule (:func:`keymoments.gearing.estimate_impacts`, with its
bootstrap intervals) on its cases' journeys alone. Between two consecutive
complete windows, a moment that is key in the second and was not in the first
*becomes* key; one that was and is not *stops* being key. A window is complete
once it ended more than the log's 90th-percentile case duration before the
log's end (younger cases are still running, and would make every moment look
cheaper to break); an incomplete window is shown but gives no note.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from keymoments.errors import KeymomentsWarning, StatisticsWarning
from keymoments.gearing import estimate_impacts
from keymoments.journey.fit import JourneyData
from keymoments.model import PERSPECTIVES, Service
from keymoments.monitoring.summaries import PeriodSummaries, cohort_of_rows, split_cohorts

__all__ = ["WINDOWS", "KeyNote", "KeyWindow", "key_windows", "window_of"]

#: the named windows (a whole number of periods is also a window)
WINDOWS = ("quarter", "half", "year")
#: a window with fewer cases is not analysed
MIN_WINDOW_CASES = 100


@dataclass
class KeyWindow:
    """The key moments of the cases that began in one window.

    Attributes:
        label: ``2024-Q1``, ``2024-H1``, ``2024``, or the first day of a window of
            periods; ``start``/``end`` its first day and the day after it.
        n_cases: cases that began in it.
        complete: whether its cases have had time to finish.
        key: per perspective, the ids of its key moments.
        gearing: per moment and perspective, the gearing that decided.
        analysed: ``False`` when it had too few cases to analyse.
    """

    label: str
    start: pd.Timestamp
    end: pd.Timestamp
    n_cases: int
    complete: bool
    key: dict[str, list[str]] = field(default_factory=dict)
    gearing: dict[str, dict[str, float]] = field(default_factory=dict)
    analysed: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "window": self.label,
            "from": self.start.date().isoformat(),
            "to": (self.end - pd.Timedelta(days=1)).date().isoformat(),
            "n_cases": self.n_cases,
            "complete": self.complete,
            "analysed": self.analysed,
            "key": {p: list(v) for p, v in self.key.items()},
            "gearing": {m: dict(g) for m, g in self.gearing.items()},
        }


@dataclass
class KeyNote:
    """A moment that became, or stopped being, key for a perspective in a window."""

    window: str
    moment: str
    perspective: str
    change: str  # "became" or "stopped"
    text: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "window": self.window,
            "moment": self.moment,
            "perspective": self.perspective,
            "change": self.change,
            "text": self.text,
        }


def window_of(
    start: pd.Timestamp, window: str | int, origin: pd.Timestamp, every: str
) -> tuple[str, pd.Timestamp, pd.Timestamp]:
    """The window a period starting on ``start`` belongs to: its label, start and end.

    >>> window_of(pd.Timestamp("2024-05-06"), "quarter", pd.Timestamp("2024-01-01"), "week")[0]
    '2024-Q2'
    """
    if isinstance(window, int):
        if window < 1:
            raise ValueError(f"a window of {window} periods: give at least one")
        step = pd.DateOffset(weeks=1) if every == "week" else pd.DateOffset(months=1)
        if every == "week":
            index = (start - origin).days // 7
        else:
            index = (start.year - origin.year) * 12 + start.month - origin.month
        first = origin + step * (index // window * window)
        return first.strftime("%Y-%m-%d"), first, first + step * window
    year = start.year
    if window == "quarter":
        q = (start.month - 1) // 3
        first = pd.Timestamp(year=year, month=3 * q + 1, day=1)
        return f"{year}-Q{q + 1}", first, first + pd.DateOffset(months=3)
    if window == "half":
        h = (start.month - 1) // 6
        first = pd.Timestamp(year=year, month=6 * h + 1, day=1)
        return f"{year}-H{h + 1}", first, first + pd.DateOffset(months=6)
    if window == "year":
        first = pd.Timestamp(year=year, month=1, day=1)
        return str(year), first, first + pd.DateOffset(years=1)
    raise ValueError(f"window must be quarter, half, year or a number of periods, got {window!r}")


def key_windows(
    service: Service,
    summaries: PeriodSummaries,
    *,
    window: str | int = "quarter",
    bootstrap: int | None = None,
    seed: int | None = None,
    memory: tuple[int, ...] = (),
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[KeyWindow], list[KeyNote], list[str]]:
    """Key moments per window, the notes on moments that moved, and the warnings met.

    ``memory``: the moments whose breaks the chains remember (as the analysis chose).
    """
    if not service.outcomes:
        return [], [], []
    cohorts = sorted(set(cohort_of_rows(summaries.cohorts)))
    starts = [pd.Timestamp(c) for c in cohorts]
    if not starts:
        return [], [], []
    groups: dict[str, tuple[pd.Timestamp, pd.Timestamp, set[str]]] = {}
    origin = min(starts)
    for label, start in zip(cohorts, starts, strict=True):
        name, first, end = window_of(start, window, origin, summaries.every)
        groups.setdefault(name, (first, end, set()))[2].add(label)
    horizon = pd.Timedelta(seconds=summaries.horizon_s)
    notify = progress or (lambda done, total: None)
    windows: list[KeyWindow] = []
    messages: list[str] = []
    notify(0, len(groups))
    for k, (name, (first, end, labels)) in enumerate(sorted(groups.items(), key=lambda g: g[1][0])):
        sub = split_cohorts(summaries.cohorts, labels)
        complete = end + horizon <= summaries.log_end
        win = KeyWindow(name, first, end, int(sub.n_cases), bool(complete))
        if sub.n_cases < MIN_WINDOW_CASES:
            win.analysed = False
            messages.append(
                f"window {name}: {sub.n_cases} cases began in it, fewer than "
                f"{MIN_WINDOW_CASES}; its key moments are not measured"
            )
        else:
            _analyse_window(win, service, sub, bootstrap, seed, memory, messages)
        windows.append(win)
        notify(k + 1, len(groups))
    return windows, _notes(service, windows), messages


def _analyse_window(
    win: KeyWindow,
    service: Service,
    summary: Any,
    bootstrap: int | None,
    seed: int | None,
    memory: tuple[int, ...],
    messages: list[str],
) -> None:
    data = JourneyData.from_summary(summary, memory=memory)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KeymomentsWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        impacts = estimate_impacts(data, service, n_boot=bootstrap, seed=seed)
    for w in caught:
        if issubclass(w.category, StatisticsWarning):
            messages.append(f"window {win.label}: {w.message}")
    win.key = {p: [] for p in PERSPECTIVES}
    for q, i in enumerate(impacts.breakable):
        moment = service.moments[i]
        gear: dict[str, float] = {}
        for p in PERSPECTIVES:
            impact = impacts.perspective[p][q]
            if impact is None:
                continue
            if np.isfinite(impact.gearing):
                gear[p] = float(impact.gearing)
            if impact.key:
                win.key[p].append(moment.id)
        win.gearing[moment.id] = gear


def _notes(service: Service, windows: list[KeyWindow]) -> list[KeyNote]:
    """Moments that became or stopped being key between consecutive complete windows."""
    done = [w for w in windows if w.complete and w.analysed]
    names = {m.id: m.label for m in service.moments}
    notes: list[KeyNote] = []
    for before, after in itertools.pairwise(done):
        for p in PERSPECTIVES:
            was, now = set(before.key.get(p, [])), set(after.key.get(p, []))
            for m in service.moments:
                if m.id in now and m.id not in was:
                    change, verb = "became", "became key"
                elif m.id in was and m.id not in now:
                    change, verb = "stopped", "stopped being key"
                else:
                    continue
                notes.append(
                    KeyNote(
                        window=after.label,
                        moment=m.id,
                        perspective=p,
                        change=change,
                        text=f"{names[m.id]} {verb} for the {p} in {after.label} "
                        f"(after {before.label})",
                    )
                )
    return notes
