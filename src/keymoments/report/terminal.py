"""The analysis in the terminal, with rich: what was read, the moments, quadrants, paths.

Example:
    >>> from rich.console import Console
    >>> render_terminal(result, Console())  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from keymoments.report.markup import escape
from keymoments.report.terminal_barriers import barrier_headline, barriers_table
from keymoments.report.terminal_comments import comments_part
from keymoments.report.terminal_drivers import drivers_tables
from keymoments.report.terminal_fit import fit_table, fits

if TYPE_CHECKING:
    from keymoments.result import AnalysisResult

__all__ = ["render_terminal"]

# Every string that comes from the data, the model or a message goes to rich
# through escape() (or as a Text): a name like "[/unknown]" is text, not markup.

_QUADRANT_STYLE = {
    "sweet_spot": "bold green",
    "user_only": "cyan",
    "provider_only": "yellow",
    "conflict": "bold red",
    "minor": "dim",
}


# Dropped in this order, while a table is wider than the terminal (see terminal_fit):
# detail that other columns or sections also give before what only they give
_OPTIONAL_COLUMNS = (
    "stage",
    "rel. weight",
    "retry",
    "forward",
    "if not",
    "breaks if held",
    "penalty",
    "reward",
    "class",
    "key",
    "gear",
)


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _num(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _read_table(result: AnalysisResult) -> Table:
    table = Table(box=box.SIMPLE, title="What was read", title_justify="left")
    unmapped = result.unmapped.head(6)
    if len(unmapped):
        pairs = zip(unmapped["activity"], unmapped["n"], strict=True)
        listed = ", ".join(f"{escape(str(a))} ({n:,})" for a, n in pairs)
        more = len(result.unmapped) - len(unmapped)
        table.caption = f"Activities in no moment: {listed}" + (
            f" and {more} more" if more > 0 else ""
        )
        table.caption_justify = "left"
    for col in ("file", "kind", "rows", "used", "set aside"):
        table.add_column(col, justify="right" if col in ("rows", "used", "set aside") else "left")
    for r in result.reports:
        reasons = ", ".join(f"{n:,} {why}" for why, n in r.set_aside.items()) or "0"
        table.add_row(escape(r.file), r.kind, f"{r.rows:,}", f"{r.used:,}", escape(reasons))
    return table


def _outcomes_table(result: AnalysisResult) -> Table:
    """Each outcome as observed and as the fitted journey model gives it (before any fix)."""
    pct = int(result.confidence * 100)
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"Outcomes: observed, and as the journey model reproduces them [{pct}% interval]",
        title_justify="left",
    )
    for col in ("outcome", "for", "observed", "model"):
        table.add_column(col, justify="right" if col in ("observed", "model") else "left")
    for k, o in enumerate(result.service.outcomes):
        mean = result.outcome_means[k]
        model = result.model_means[k] if k < len(result.model_means) else None
        as_pct = o.kind == "binary"
        shown = "–" if mean is None else (_pct(mean) if as_pct else _num(mean))
        cell = "–"
        if model is not None:
            cell = _pct(model) if as_pct else _num(model)
            if k < len(result.model_mean_ci) and result.n_boot:
                lo, hi = result.model_mean_ci[k]
                cell += f" [{_pct(lo)}, {_pct(hi)}]" if as_pct else f" [{_num(lo)}, {_num(hi)}]"
        table.add_row(escape(o.label), o.perspective, shown, cell)
    return table


def _check_table(result: AnalysisResult) -> Table | Text | None:
    """The model check: a line when the model reproduces every group, else its misses."""
    if not result.model_check:
        return None
    missed = [r for r in result.model_check if not r.ok]
    memory = f"; {result.memory.describe()}" if result.memory is not None else ""
    if not missed:
        return Text(
            f"Model check: the journey model reproduces all {len(result.model_check)} "
            f"comparisons (overall, per segment, per history){memory}\n"
        )
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"Model check: {len(missed)} of {len(result.model_check)} comparisons missed",
        title_justify="left",
    )
    if result.memory is not None:
        table.caption = escape(result.memory.describe())
        table.caption_justify = "left"
    for col in ("outcome", "group", "observed", "model"):
        table.add_column(col, justify="right" if col in ("observed", "model") else "left")
    for r in missed[:8]:
        binary = result.service.outcome(r.outcome).kind == "binary"
        show = _pct if binary else _num
        model = f"{show(r.model)} [{show(r.ci[0])}, {show(r.ci[1])}]"
        table.add_row(escape(r.outcome), escape(r.group), show(r.observed), model)
    return table


def _fitted_moments_table(result: AnalysisResult, console: Console) -> Table:
    """The moments table, without its intervals when even its essential columns
    holding them are wider than the terminal (many outcomes, a narrow window)."""
    table = fit_table(_moments_table(result), console, drop=_OPTIONAL_COLUMNS)
    if not fits(table, console):
        table = fit_table(_moments_table(result, intervals=False), console, drop=_OPTIONAL_COLUMNS)
        table.title = "Moments: recoverable per case and gearing (1 = average)"
        table.caption = f"{table.caption}; intervals: in the JSON result and the report"
    if "key" not in [str(c.header) for c in table.columns]:
        table.caption = str(table.caption).removeprefix("key: U = user, P = provider; ")
    return table


def _moments_table(result: AnalysisResult, *, intervals: bool = True) -> Table:
    pct = int(result.confidence * 100)
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"Moments: recoverable per case [{pct}% interval] and gearing (1 = average)",
        title_justify="left",
    )
    table.add_column("stage", overflow="fold", max_width=12)
    table.add_column("moment", overflow="fold", min_width=12, max_width=28)
    table.add_column("reach", justify="right")
    table.add_column("breaks", justify="right")
    for o in result.service.outcomes:
        unit = "share" if o.kind == "binary" else "mean"
        table.add_column(
            f"{escape(o.id)}\n{o.perspective}, {unit}", justify="right", overflow="fold"
        )
        table.add_column("gear", justify="right")
    money = _money_perspectives(result)
    for p in money:
        table.add_column(f"money\n{p}", justify="right", overflow="fold")
        table.add_column("gear", justify="right")
    table.add_column("key", justify="center")
    table.add_column("quadrant")
    for m in result.moments:
        cells: list[str | Text] = [
            escape(m.stage),
            escape(m.name),
            _pct(m.reach),
            _pct(m.break_rate) if m.breakable else "–",
        ]
        for o in result.service.outcomes:
            imp = m.impact.get(o.id)
            if imp is None:
                cells += ["–", ""]
                continue
            lo, hi = imp["ci"]
            band = f"\n[{_num(lo)}, {_num(hi)}]" if intervals else ""
            cells.append(f"{_num(imp['recoverable'])}{band}")
            cells.append(f"{imp['gearing']:.1f}")
        for p in money:
            d = m.deciding.get(p)
            if d is None or d.measure != "money" or not m.impact:
                cells += ["–", ""]
                continue
            band = f"\n[{_num(d.ci[0])}, {_num(d.ci[1])}]" if intervals else ""
            cells.append(f"{_num(d.recoverable)}{band}")
            cells.append(f"{d.gearing:.1f}")
        marks = " ".join(p[0].upper() for p in ("user", "provider") if m.key[p])
        cells += [marks, Text(m.quadrant, style=_QUADRANT_STYLE.get(m.quadrant, ""))]
        style = "bold" if any(m.key.values()) else None
        table.add_row(*cells, style=style)
    table.caption = "key: U = user, P = provider" + (
        "; money: Σ value × recoverable of the outcomes with a value, per case" if money else ""
    )
    return table


def _money_perspectives(result: AnalysisResult) -> list[str]:
    """Perspectives whose key flag is judged on money that no single column shows.

    That is when the perspective adds up several outcomes, or values one
    negatively (a return to the ER costs money: fewer returns are a gain).
    """
    out = []
    for p in ("user", "provider"):
        outcomes = [o for o in result.service.outcomes if o.perspective == p]
        valued = [o for o in outcomes if o.value is not None]
        if valued and (len(outcomes) > 1 or any((o.value or 0) < 0 for o in valued)):
            out.append(p)
    return out


def _after_break(result: AnalysisResult) -> Table | None:
    key_ids = [m.id for m in result.moments if any(m.key.values()) or m.quadrant == "conflict"]
    if not key_ids:
        return None
    table = Table(box=box.SIMPLE, title="After a break (key moments)", title_justify="left")
    for col in ("moment", "breaks", "retry", "back", "forward", "exit", "then most go to", "after"):
        table.add_column(col, justify="left" if col in ("moment", "then most go to") else "right")
    for mid in key_ids:
        ab = result.after_break.get(mid)
        if ab is None or ab.breaks == 0:
            continue
        # where those who carry on go, and how long it takes them (median)
        onward = [d for d in ab.destinations if d["to"] != "end"]
        top = onward[0] if onward else None
        wait = top["median_hours"] if top else None
        table.add_row(
            escape(result.moment(mid).name),
            f"{ab.breaks:,}",
            *(_pct(ab.shares[k]) for k in ("retry", "back", "forward", "exit")),
            f"{escape(_state_name(result, top['to']))} ({_pct(top['share'])})" if top else "",
            _hours(wait),
        )
    return table


def _state_name(result: AnalysisResult, state: str) -> str:
    """``finance:broken`` → ``Arrange finance (broken)``; outcome markers by their label."""
    kind, _, rest = state.partition(":")
    if kind == "outcome":
        return result.service.outcome(rest).label
    try:
        return f"{result.service.moment(kind).label} ({rest})"
    except KeyError:
        return state


def _hours(hours: float | None) -> str:
    if hours is None:
        return "–"
    if hours >= 48:
        return f"{hours / 24:.1f} days"
    if hours >= 1:
        return f"{hours:.1f} h"
    return f"{hours * 60:.0f} min"


def render_terminal(result: AnalysisResult, console: Console | None = None) -> None:
    """Print the analysis: data read, the moments table, the key moments' after-break paths."""
    if console is None:
        console = Console()
    if not console.is_terminal and console.width < 170:
        # logs and CI: wide enough for every column
        console = Console(width=170, file=console.file)
    keys_u = ", ".join(result.moment(m).name for m in result.key_moments("user")) or "none"
    keys_p = ", ".join(result.moment(m).name for m in result.key_moments("provider")) or "none"
    conflicts = ", ".join(m.name for m in result.moments if m.quadrant == "conflict")
    sweet = ", ".join(m.name for m in result.moments if m.quadrant == "sweet_spot")
    headline = Text.assemble(
        (f"{result.service.name}\n", "bold"),
        f"{result.n_cases:,} cases, {result.n_events:,} events "
        f"({result.n_events - result.n_events_mapped:,} mark no moment"
        + (
            f"; {result.n_events_filtered:,} more left out by the model's filters"
            if result.n_events_filtered
            else ""
        )
        + ")\n",
        ("Key for the user: ", "bold"),
        f"{keys_u}\n",
        ("Key for the provider: ", "bold"),
        f"{keys_p}",
    )
    volume = result.service.volume
    for m in result.moments:
        provider = m.money("provider")
        if m.key["provider"] and provider is not None and volume:
            lo, hi = provider.ci
            headline.append(
                f"\nIf '{m.name}' never broke: {provider.recoverable * volume:,.0f} a year "
                f"for the provider [{lo * volume:,.0f} to {hi * volume:,.0f}] "
                f"at {volume:,.0f} cases a year"
            )
    if sweet:
        headline.append("\nSweet spots: ", style="bold green")
        headline.append(sweet)
    if conflicts:
        headline.append("\nConflicts: ", style="bold red")
        headline.append(conflicts)
    for line in barrier_headline(result):
        headline.append("\n" + line)
    if result.survey_only:
        headline = Text.assemble(
            (f"{result.service.name}\n", "bold"),
            f"{result.n_cases:,} respondents; a survey without events: drivers and the "
            "emotion curve only",
        )
    parts: list[object] = [Panel(headline, expand=False), _read_table(result)]
    if not result.survey_only:
        parts.append(_outcomes_table(result))
        check = _check_table(result)
        if check is not None:
            parts.append(check)
        parts.append(_fitted_moments_table(result, console))
    paths = _after_break(result)
    if paths is not None:
        parts.append(paths)
    parts.extend(drivers_tables(result))
    barrier_rows = barriers_table(result)
    if barrier_rows is not None:
        parts.append(barrier_rows)
    said = comments_part(result)
    if said is not None:
        parts.append(said)
    for part in parts:
        if isinstance(part, Table):
            fit_table(part, console, drop=_OPTIONAL_COLUMNS)
    console.print(Group(*parts))  # type: ignore[arg-type]
    if result.portfolio is not None:
        from keymoments.report.plan import plan_panel

        console.print(plan_panel(result.portfolio))
    for message in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)
