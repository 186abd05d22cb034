"""The monitor as report sections, and as one self-contained HTML page.

The sections are the report's own (:class:`~keymoments.report.sections.Section`:
plain strings, tables and Altair charts) and the page is the report's page
(:func:`~keymoments.report.html.render_document`): the same look, the same
offline charts, every name escaped.

Example:
    >>> import keymoments
    >>> from keymoments.monitoring import simulate_rollout
    >>> ex = simulate_rollout(weeks=30, cases_per_week=300, seed=4)
    >>> result = keymoments.monitor(ex.service, events=ex.events, cases=ex.cases, bootstrap=0)
    >>> [s.id.removeprefix("monitor-") for s in monitor_sections(result)]
    ['headline', 'changes', 'moments', 'outcomes', 'key', 'method']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keymoments.monitoring.result import MonitorResult
from keymoments.monitoring.series import Series
from keymoments.monitoring.spc import RULES
from keymoments.monitoring.summaries import cohort_label
from keymoments.monitoring.terminal import change_sentence
from keymoments.report.sections import Figure, Section, Table, fmt_number

__all__ = ["monitor_sections", "render_monitor_report", "write_monitor_html"]


def _show(s: Series, v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    return f"{v:.1%}" if s.measure in ("break_rate", "rate") else fmt_number(v)


def _series_table(series: list[Series], caption: str) -> Table:
    rows = []
    for s in series:
        c = s.chart
        judged = np.flatnonzero(c.judged)
        last = int(judged[-1]) if len(judged) else None
        flagged = [i for i, r in enumerate(c.signals) if r]
        latest_rules = (
            ", ".join(r.replace("_", " ") for r in RULES if r in c.signals[flagged[-1]])
            if flagged
            else ""
        )
        span = s.baseline_span()
        rows.append(
            [
                s.name,
                c.kind,
                _show(s, c.centre),
                f"{span[0]} to {span[1]}" if span else "–",
                _show(s, float(c.values[last])) if last is not None else "–",
                str(len(flagged)),
                f"{cohort_label(s.periods[flagged[-1]])}: {latest_rules}" if flagged else "",
                c.variation.replace("_", " "),
            ]
        )
    return Table(
        caption=caption,
        columns=["measure", "chart", "centre", "baseline", "latest", "flagged",
                 "latest signal", "now"],
        rows=rows,
        numeric=[False, False, True, False, True, True, False, False],
    )  # fmt: skip


def _figure(fid: str, chart: object, caption: str, table: Table | None) -> Figure:
    text = getattr(chart, "description", None)
    return Figure(
        id=fid,
        chart=chart,  # type: ignore[arg-type]
        alt_text=text if isinstance(text, str) and text else caption,
        caption=caption,
        table=table,
    )


def _headline(result: MonitorResult) -> Section:
    s = Section("monitor-headline", "Over time: the headline")
    s.paragraphs.append(
        f"{result.service.name}: {result.n_cases:,} cases from {result.log_start:%d %B %Y} "
        f"to {result.log_end:%d %B %Y}, in {len(result.periods)} {result.every}s."
    )
    for c in result.changes:
        s.bullets.append(change_sentence(c))
    now = [
        f"{x.name} ({x.chart.variation.replace('_', ' ')})"
        for x in [*result.moments, *result.outcomes]
        if x.chart.variation in ("improvement", "concern")
    ]
    s.paragraphs.append(
        "Special cause in the latest period: " + (", ".join(now) if now else "none") + "."
    )
    for n in result.key_notes:
        s.bullets.append(n.text + ".")
    for message in result.warnings:
        s.notes.append(f"Warning: {message}")
    return s


def _changes(result: MonitorResult) -> Section:
    s = Section("monitor-changes", "Did the changes work?")
    if not result.changes:
        s.present = False
        s.paragraphs.append(
            "Not part of this run: the model lists no changes. Add them under 'changes:' "
            "(id, date, moments or intervention) to have each one checked."
        )
        return s
    pct = round(result.confidence * 100)
    s.paragraphs.append(
        "Each change is measured by an interrupted time series: a line through the break "
        "rate before the date and another after it; the gap between them at the date is "
        f"the change, with its {pct}% interval (robust to autocorrelation). Beside it, what "
        "the journey model says the outcomes should have done given that change, what "
        "they did, and what the intervention promised."
    )
    outcomes = {o.id: o for o in result.service.outcomes}
    rows = []
    for c in result.changes:
        cells = [c.name, c.moment, c.date.isoformat()]
        if c.change is None or c.ci is None:
            cells += ["–", "–", "–"]
        else:
            cells += [
                f"{c.before:.1%} → {c.after:.1%}",
                f"{c.change * 100:+.1f} [{c.ci[0] * 100:+.1f} to {c.ci[1] * 100:+.1f}]",
                f"{c.promised['change'] * 100:+.1f}" if c.promised else "–",
            ]
        verdict = c.verdict.replace("_", " ")
        if c.weeks_needed is not None:
            verdict += f" (~{int(np.ceil(c.weeks_needed))} more weeks)"
        rows.append([*cells, verdict])
        for oid, o in outcomes.items():
            scale = 100 if o.kind == "binary" else 1
            unit = " per 100 cases" if o.kind == "binary" else " per case"
            parts = []
            if oid in c.observed:
                lo, hi = c.observed_ci[oid]
                parts.append(
                    f"measured {c.observed[oid] * scale:+.2f} "
                    f"[{lo * scale:+.2f} to {hi * scale:+.2f}]"
                )
            if oid in c.predicted:
                parts.append(f"the journey model predicts {c.predicted[oid] * scale:+.2f}")
            if c.promised and oid in c.promised.get("outcomes", {}):
                parts.append(
                    f"the intervention promised {c.promised['outcomes'][oid] * scale:+.2f}"
                )
            if parts:
                s.bullets.append((f"{c.name}, {o.label}{unit}: ", "; ".join(parts) + "."))
    table = Table(
        caption=f"The break rate at each change: level change in points [{pct}% interval]",
        columns=["change", "moment", "date", "before → after", "change (points)",
                 "promised (points)", "verdict"],
        rows=rows,
        numeric=[False, False, False, True, True, True, False],
    )  # fmt: skip
    if any(c.fit is not None for c in result.changes):
        s.figures.append(
            _figure(
                "monitor-its",
                result.plot_changes(),
                "Each change: the break rate per period and the lines fitted before and after",
                table,
            )
        )
    else:
        s.tables.append(table)
    return s


def _spc(result: MonitorResult, kind: str) -> Section:
    series = result.moments if kind == "moment" else result.outcomes
    if kind == "moment":
        s = Section("monitor-moments", f"Break rates per {result.every}")
        s.paragraphs.append(
            f"Each moment's break rate per {result.every} (the share of its visits that broke) "
            "as a p-chart: the centre line and limits (dashed) come from the baseline periods. "
            "Blue points are special causes that improve things, orange ones concerns "
            "(Making Data Count's rules: a point beyond a limit, seven in a row on one side "
            "of the centre, seven rising or falling, two of three near a limit)."
        )
    else:
        s = Section("monitor-outcomes", f"Outcomes by the {result.every} cases began")
        s.paragraphs.append(
            "Each outcome on the cases that began in each period: a p-chart of a share, an "
            "XmR chart of a mean. The latest periods are pale until their cases have had "
            f"time to finish ({result.horizon_days:.0f} days, the 90th percentile of a "
            "case's length)."
        )
    if not series:
        s.present = False
        s.paragraphs.append("Nothing to chart.")
        return s
    table = _series_table(series, f"{s.title}: the charts in figures")
    s.figures.append(_figure(f"monitor-spc-{kind}", result.plot_series(kind), s.title, table))
    return s


def _key(result: MonitorResult) -> Section:
    s = Section("monitor-key", f"Key moments per {result.window}")
    if not result.windows:
        s.present = False
        s.paragraphs.append("Not measured: the model has no outcomes.")
        return s
    s.paragraphs.append(
        f"The key-moment analysis on the cases that began in each {result.window}, with the "
        "analysis' own rule and intervals. A moment that becomes or stops being key between "
        "two complete windows is noted."
    )
    names = {m.id: m.label for m in result.service.moments}
    rows = [
        [
            w.label,
            f"{w.n_cases:,}",
            ", ".join(names[m] for m in w.key.get("user", [])) or ("none" if w.analysed else "–"),
            ", ".join(names[m] for m in w.key.get("provider", []))
            or ("none" if w.analysed else "–"),
            "" if w.complete else "cases still running",
        ]
        for w in result.windows
    ]
    table = Table(
        caption=f"Key moments per {result.window}",
        columns=["window", "cases", "key for the user", "key for the provider", "note"],
        rows=rows,
        numeric=[False, True, False, False, False],
    )
    s.figures.append(_figure("monitor-key", result.plot_key_windows(), s.title, table))
    s.bullets = [n.text + "." for n in result.key_notes]
    return s


def _method(result: MonitorResult) -> Section:
    s = Section("monitor-method", "Method notes")
    s.bullets = [
        f"Periods are {result.every}s (weeks start on Monday), in UTC. A visit counts in the "
        "period of its last event; a case's outcome in the period its first event fell in.",
        "Charts and rules follow NHS England's Making Data Count as NHSRplotthedots computes "
        "them: p-chart limits p̄ ± 3√(p̄(1−p̄)/n) per period; XmR limits mean ± 2.66 × the "
        "mean moving range, moving ranges of 3.267 times the mean or more left out.",
        "Changes: segmented regression weighted by each period's visits or cases; "
        "Newey–West errors on leverage-scaled residuals, Andrews' bandwidth and "
        "Kiefer–Vogelsang's fixed-b critical values. Periods the date falls inside, and "
        "cohorts of cases that straddle it, are left out.",
        "Predictions are exact on the journey chains fitted to the cases that began before "
        "the change: the moment's break probability is scaled until its break share has moved "
        "by the measured change.",
        "A verdict reads the interval of the measured change against the intervention's "
        "promise (its effect times the break rate before): delivered, partly, not, or too "
        "early to tell.",
    ]
    return s


def monitor_sections(result: MonitorResult) -> list[Section]:
    """Every section of the monitor's report, in reading order."""
    return [
        _headline(result),
        _changes(result),
        _spc(result, "moment"),
        _spc(result, "outcome"),
        _key(result),
        _method(result),
    ]


def render_monitor_report(result: MonitorResult) -> str:
    """The monitor as one HTML page that opens offline (all JavaScript inlined)."""
    from keymoments.report.html import render_document, script_json

    sections = monitor_sections(result)
    figures = {
        f.id: {"spec_json": script_json(f.chart.to_dict())} for s in sections for f in s.figures
    }
    meta = (
        f"{result.n_cases:,} cases, {result.n_events:,} events; per {result.every}, "
        f"{result.log_start:%Y-%m-%d} to {result.log_end:%Y-%m-%d}"
    )
    return render_document(f"{result.service.name}: over time", meta, sections, figures, "live")


def write_monitor_html(result: MonitorResult, path: str | Path) -> Path:
    """Write :func:`render_monitor_report` to ``path`` (UTF-8); returns the path."""
    from keymoments.report.html import write_text_atomic

    page = render_monitor_report(result).encode("utf-8")
    return write_text_atomic(path, lambda handle: handle.write(page))
