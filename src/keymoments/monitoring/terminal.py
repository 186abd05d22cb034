"""The monitor in the terminal, with rich: signals per measure, changes, key moments over time.

Example:
    >>> from rich.console import Console
    >>> render_monitor(result, Console())  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from keymoments.monitoring.spc import RULES
from keymoments.monitoring.summaries import cohort_label
from keymoments.report.markup import escape

if TYPE_CHECKING:
    from keymoments.monitoring.changes import ChangeCheck
    from keymoments.monitoring.result import MonitorResult
    from keymoments.monitoring.series import Series

__all__ = ["change_sentence", "render_monitor"]

_VARIATION = {
    "improvement": ("[bold blue]improvement[/]", "special cause: improvement"),
    "concern": ("[bold yellow]concern[/]", "special cause: concern"),
    "neutral": ("[magenta]special cause[/]", "special cause"),
    "common_cause": ("[dim]common cause[/]", "common cause"),
}
_VERDICT_STYLE = {
    "delivered": "bold green",
    "partly": "yellow",
    "not": "bold red",
    "too_early": "dim",
}


def _value(s: Series, v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    if s.measure in ("break_rate", "rate"):
        return f"{v:.1%}"
    return f"{v:.3g}"


def _signals(s: Series) -> str:
    flagged = [i for i, rules in enumerate(s.chart.signals) if rules]
    if not flagged:
        return "none"
    last = flagged[-1]
    rules = ", ".join(r.replace("_", " ") for r in RULES if r in s.chart.signals[last])
    return f"{len(flagged)}; latest {cohort_label(s.periods[last])}: {rules}"


def _series_table(result: MonitorResult) -> Table:
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"Per {result.every}: break rates (p-charts) and outcomes by the {result.every} "
        "cases began",
        title_justify="left",
    )
    for col, right in (("measure", False), ("chart", False), ("centre", True),
                       ("limits (latest)", True), ("latest", True), ("signals", False),
                       ("now", False)):  # fmt: skip
        table.add_column(col, justify="right" if right else "left")
    for s in [*result.moments, *result.outcomes]:
        c = s.chart
        judged = np.flatnonzero(c.judged)
        last = int(judged[-1]) if len(judged) else None
        latest = float(c.values[last]) if last is not None else None
        limits = (
            f"{_value(s, float(c.lcl[last]))} – {_value(s, float(c.ucl[last]))}"
            if last is not None
            else "–"
        )
        table.add_row(
            escape(s.name if s.kind == "moment" else f"{s.name} ({s.measure})"),
            c.kind,
            _value(s, c.centre),
            limits,
            _value(s, latest),
            _signals(s),
            _VARIATION[c.variation][0],
        )
    return table


def change_sentence(c: ChangeCheck) -> str:
    """A change's verdict in words, for the terminal and the report."""
    head = f"{c.name} ({c.date.isoformat()}) at {c.moment}: {c.verdict.replace('_', ' ')}"
    if c.change is None or c.ci is None:
        return f"{head}: {c.reason}."
    text = (
        f"{head}: the break rate went from {c.before:.1%} to {c.after:.1%} "
        f"({c.change * 100:+.1f} points [{c.ci[0] * 100:+.1f} to {c.ci[1] * 100:+.1f}])"
    )
    if c.promised:
        text += f"; {c.promised['change'] * 100:+.1f} points were promised"
    text += f"; {c.reason}"
    if c.weeks_needed is not None:
        text += f"; about {int(np.ceil(c.weeks_needed))} more weeks of data should tell"
    return text + "."


def _changes_table(result: MonitorResult) -> Table:
    pct = round(result.confidence * 100)
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"Changes: the break rate before and after [{pct}% interval], and the outcomes "
        "as measured, predicted by the journey model and promised",
        title_justify="left",
    )
    for col, right in (("change", False), ("moment", False), ("before → after", True),
                       ("change [interval]", True), ("promised", True), ("outcomes", False),
                       ("verdict", False)):  # fmt: skip
        table.add_column(col, justify="right" if right else "left")
    outcomes = {o.id: o for o in result.service.outcomes}
    for c in result.changes:
        if c.change is None or c.ci is None:
            moved = "–"
            change = "–"
        else:
            moved = f"{c.before:.1%} → {c.after:.1%}"
            change = f"{c.change * 100:+.1f} pts\n[{c.ci[0] * 100:+.1f}, {c.ci[1] * 100:+.1f}]"
        promised = f"{c.promised['change'] * 100:+.1f} pts" if c.promised else "–"
        lines = []
        for oid, o in outcomes.items():
            scale, unit = (100, " pts") if o.kind == "binary" else (1, "")
            parts = []
            if oid in c.observed:
                parts.append(f"measured {c.observed[oid] * scale:+.2f}{unit}")
            if oid in c.predicted:
                parts.append(f"model {c.predicted[oid] * scale:+.2f}")
            if c.promised and oid in c.promised.get("outcomes", {}):
                parts.append(f"promised {c.promised['outcomes'][oid] * scale:+.2f}")
            if parts:
                lines.append(escape(f"{o.label}: {', '.join(parts)}"))
        verdict = f"[{_VERDICT_STYLE[c.verdict]}]{c.verdict.replace('_', ' ')}[/]"
        if c.weeks_needed is not None:
            verdict += f"\n~{int(np.ceil(c.weeks_needed))} more weeks"
        table.add_row(
            escape(c.name),
            escape(c.moment),
            moved,
            escape(change),
            promised,
            "\n".join(lines) or "–",
            verdict,
        )
    return table


def _windows_table(result: MonitorResult) -> Table:
    names = {m.id: m.label for m in result.service.moments}
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"Key moments per {result.window} (cases by when they began)",
        title_justify="left",
    )
    for col in ("window", "cases", "key for the user", "key for the provider", ""):
        table.add_column(col, justify="right" if col == "cases" else "left")
    for w in result.windows:
        if not w.analysed:
            table.add_row(w.label, f"{w.n_cases:,}", "–", "–", "too few cases")
            continue
        table.add_row(
            w.label,
            f"{w.n_cases:,}",
            escape(", ".join(names[m] for m in w.key.get("user", [])) or "none"),
            escape(", ".join(names[m] for m in w.key.get("provider", [])) or "none"),
            "" if w.complete else "cases still running",
        )
    return table


def render_monitor(result: MonitorResult, console: Console) -> None:
    """Print the monitor: a headline, the measures with signals, changes, key moments."""
    head = [
        f"[bold]{escape(result.service.name)}[/bold]",
        f"{result.n_cases:,} cases, {len(result.periods)} {result.every}s "
        f"({result.log_start:%Y-%m-%d} to {result.log_end:%Y-%m-%d})",
    ]
    # names from the model and the data: text, not rich markup
    head += [escape(change_sentence(c)) for c in result.changes]
    head += [escape(n.text) for n in result.key_notes]
    console.print(Panel("\n".join(head), expand=False))
    console.print(_series_table(result))
    if result.changes:
        console.print(_changes_table(result))
    if result.windows:
        console.print(_windows_table(result))
    for message in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)
