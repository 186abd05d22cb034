"""Barriers in the terminal: the headline's line on what breaks key moments, and a table.

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=3000)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=20)
    >>> print(barrier_headline(result)[0])  # doctest: +ELLIPSIS
    What stops 'Attend the check appointment': Worried about getting there ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from rich import box
from rich.table import Table

from keymoments.report.markup import escape

if TYPE_CHECKING:
    from keymoments.result import AnalysisResult

__all__ = ["barrier_headline", "barriers_table"]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}" if abs(value) >= 0.095 else f"{value:.1%}"


def _interval(ci: tuple[float | None, float | None] | list[float | None], fmt=_pct) -> str:  # type: ignore[no-untyped-def]
    lo, hi = ci
    return "" if lo is None or hi is None else f"[{fmt(lo)}, {fmt(hi)}]"


def _percentiles(values: list[float], confidence: float) -> tuple[float | None, float | None]:
    finite = sorted(v for v in values if v == v)
    if len(finite) < 2:
        return None, None
    lo, hi = np.percentile(finite, [(1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100])
    return float(lo), float(hi)


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def barrier_headline(result: AnalysisResult) -> list[str]:
    """One line per key moment with barriers (every barrier moment if none is key).

    Names the barriers whose share of the moment's breaks is clearly above
    zero, largest first, and what those named explain together.
    """
    barriers = result.barriers
    if barriers is None:
        return []
    with_model = [m for m in barriers.moments if m.moment in barriers.models]
    key = [m for m in with_model if any(result.moment(m.moment).key.values())]
    lines = []
    for m in key or with_model:
        drivers = barriers.drivers(m.moment)
        if drivers:
            named = ", ".join(
                f"{e.name} ({_pct(e.attributable_fraction)} of its breaks {_interval(e.ci)})"
                for e in drivers
            )
        else:
            named = "no barrier clearly explains its breaks"
        together = ""
        if len(drivers) > 1:
            # what lifting the named ones at once would do (a case stops breaking only once)
            model = barriers.models[m.moment]
            ids = [e.id for e in drivers]
            draws = [r.attributable_fraction(ids) for r in model.replicates]
            ci = _percentiles(draws, barriers.confidence)
            together = f"; these together {_pct(model.attributable_fraction(ids))} {_interval(ci)}"
        lines.append(f"What stops '{m.name}': {named}{together}")
    return lines


def barriers_table(result: AnalysisResult) -> Table | None:
    """Per barrier: who holds it, their break rate, adjusted odds ratio, share of breaks."""
    barriers = result.barriers
    if barriers is None or not barriers.estimates:
        return None
    pct = int(barriers.confidence * 100)
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"Barriers: share of each moment's breaks they explain [{pct}% interval]",
        title_justify="left",
    )
    for col in ("moment", "barrier", "held by", "breaks if held", "if not"):
        table.add_column(col, justify="left" if col in ("moment", "barrier") else "right")
    table.add_column("adjusted odds ratio", justify="right")
    table.add_column("share of breaks", justify="right")
    if barriers.by_segment:
        table.add_column("differs by segment", justify="right")
    names = {m.moment: m.name for m in barriers.moments}
    for e in barriers.estimates:
        cells = [
            escape(names.get(e.moment, e.moment)),
            escape(e.name + (" (said)" if e.source == "comments" else "")),
            _pct(e.prevalence),
            _pct(e.holders_break_rate),
            _pct(e.others_break_rate),
            f"{_ratio(e.odds_ratio)} {_interval(e.odds_ratio_ci, _ratio)}",
            f"{_pct(e.attributable_fraction)} {_interval(e.ci)}"
            if e.status == "fitted"
            else e.status.replace("_", " "),
        ]
        if barriers.by_segment:
            test = e.segment_test
            cells.append("–" if not test else f"p = {test['p_value']:.3g}")
        drives = e.ci[0] is not None and e.ci[0] > 0
        table.add_row(*cells, style="bold" if drives else None)
    notes = []
    for m in barriers.moments:
        note = f"{escape(m.name)}: {m.n_used:,} of {m.n_reached:,} cases that reached it"
        if m.n_set_aside:
            note += f" ({m.n_set_aside:,} set aside for missing or unreadable answers)"
        if m.attributable_fraction is not None:
            note += f"; all barriers together {_pct(m.attributable_fraction)} {_interval(m.ci)}"
        notes.append(note)
    table.caption = (
        "\n".join(notes) + "\nadjusted: for the other barriers and the segments; share of "
        "breaks: those that would not happen if the barrier were lifted from its holders"
        + (
            "; (said): a theme coded from comments, blank comments set aside"
            if any(e.source == "comments" for e in barriers.estimates)
            else ""
        )
    )
    table.caption_justify = "left"
    return table
