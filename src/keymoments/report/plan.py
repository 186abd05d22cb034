"""The portfolio in the terminal, with rich: the plan, every intervention, how sure it is.

Example:
    >>> from rich.console import Console
    >>> render_plan(portfolio, Console())  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table

from keymoments.report.markup import escape

if TYPE_CHECKING:
    from keymoments.portfolio.results import Portfolio

__all__ = ["plan_panel", "plan_table", "render_plan"]


def _missing(value: float | None) -> bool:
    return value is None or value != value  # None or NaN


def _money(value: float | None) -> str:
    return "" if value is None or _missing(value) else f"{value:,.0f}"


def _ratio(value: float | None) -> str:
    return "" if value is None or _missing(value) else f"{value:.1f}×"


def _months(value: float | None) -> str:
    return "never" if value is None or _missing(value) else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def _gain(value: float) -> str:
    return f"{value:+.4f}" if abs(value) < 1 else f"{value:+,.2f}"


def plan_table(portfolio: Portfolio) -> Table:
    """One row per intervention: chosen, cost, value alone and in the plan, ROI, payback."""
    table = Table(
        box=box.SIMPLE,
        title="Interventions (money a year)",
        title_justify="left",
        caption="value alone: if it were the only change; in plan: what the plan loses "
        "without it (✓ < cost: less than it costs); ROI = (value alone − cost) / cost; "
        "payback in months",
        caption_justify="left",
    )
    for col, right in (
        ("", False),
        ("intervention", False),
        ("moment", False),
        ("effect", True),
        ("cost", True),
        ("value alone", True),
        ("in plan", True),
        ("ROI", True),
        ("payback", True),
    ):
        table.add_column(col, justify="right" if right else "left")
    frame = portfolio.summary
    for row, r in zip(frame.itertuples(), portfolio.interventions, strict=True):
        target = escape(r.moment + (f" ({r.barrier})" if r.barrier else ""))
        if not r.usable:
            mark = "[dim]n/a[/dim]"
        elif r.chosen and r.below_cost:
            mark = "[bold yellow]✓ < cost[/bold yellow]"
        else:
            mark = "[bold green]✓[/bold green]" if r.chosen else ""
        table.add_row(
            mark,
            escape(r.name),
            target,
            f"{r.effect:+.0%}",
            _money(r.cost),
            _money(r.value_alone),
            _money(r.value_in_plan),
            _ratio(row.roi),
            _months(row.payback_months),
        )
    return table


def plan_panel(portfolio: Portfolio) -> Panel:
    """The chosen plan: cost, gains, value, ROI, payback and the Monte Carlo figures."""
    plan = portfolio.plan
    budget = "no limit" if portfolio.budget is None else _money(portfolio.budget)
    best = "Best plan" if portfolio.proven else "Best plan found (not proven optimal)"
    lines = [
        f"[bold]{best}[/bold] ({'value' if portfolio.objective == 'value' else 'value − cost'}"
        f"{', expected over the effect ranges' if portfolio.uncertainty else ''}"
        f", budget {budget}): [bold]{escape(', '.join(plan.chosen)) or 'nothing'}[/bold]",
        f"Cost {_money(plan.cost)} a year; value {_money(plan.value)} a year "
        f"(user {_money(plan.by_perspective['user'])}, "
        f"provider {_money(plan.by_perspective['provider'])}); "
        f"ROI {_ratio(plan.roi)}; pays back in {_months(plan.payback_months)} months",
    ]
    gains = ", ".join(
        f"{escape(o)} {_gain(g)} per case ({plan.per_year[o]:+,.0f} a year)"
        for o, g in plan.gain.items()
    )
    lines.append(f"Gains: {gains}")
    mc = portfolio.uncertainty
    if mc and mc.get("draws"):
        ret = mc["return"]
        lines.append(
            f"Return a year (value − cost), {mc['draws']} draws: median {_money(ret['median'])}"
            f" [90%: {_money(ret['p5'])} to {_money(ret['p95'])}]; "
            f"P(beats doing nothing) {_pct(mc['p_beats_nothing'])}"
            + (
                f"; P(beats the runner-up) {_pct(mc['p_beats_runner_up'])}"
                if mc.get("p_beats_runner_up") is not None
                else ""
            )
        )
    if portfolio.runner_up is not None:
        r = portfolio.runner_up
        lines.append(
            f"Runner-up: {escape(', '.join(r.chosen)) or 'nothing'} "
            f"(value {_money(r.value)}, cost {_money(r.cost)})"
        )
    if portfolio.at_modes is not None:
        m = portfolio.at_modes
        lines.append(
            f"Best at the most likely effects: {escape(', '.join(m.chosen)) or 'nothing'} "
            f"(value {_money(m.value)}, cost {_money(m.cost)}); the plan above has the higher "
            "expected return over the effect ranges (see the note)"
        )
    how = {
        "exhaustive": f"every one of {portfolio.plans_evaluated:,} affordable plans evaluated",
        "checked": f"checked against {portfolio.plans_evaluated:,} plans evaluated exactly",
        "program": "the program's proof",
    }.get(portfolio.certificate, portfolio.certificate)
    lines.append(f"[dim]Certificate: {how}[/dim]")
    return Panel("\n".join(lines), title=escape(portfolio.title), title_align="left")


def _frontier_table(portfolio: Portfolio) -> Table | None:
    frame = portfolio._frontier
    if frame is None or frame.empty:
        return None
    table = Table(
        box=box.SIMPLE,
        title="Frontier: user against provider gain (★ sweet spot)",
        title_justify="left",
    )
    for col in ("", "plan", "cost", "user", "provider"):
        table.add_column(col, justify="right" if col in ("cost", "user", "provider") else "left")
    best = frame[frame["on_frontier"]].drop_duplicates("plan").sort_values(["cost", "user"])
    for r in best.itertuples():
        table.add_row(
            "★" if r.sweet_spot else "",
            escape(str(r.plan)),
            _money(float(r.cost)),
            f"{float(r.user):,.4g}",
            f"{float(r.provider):,.4g}",
        )
    return table


def render_plan(portfolio: Portfolio, console: Console | None = None) -> None:
    """Print the plan panel, the interventions table and, when computed, the frontier."""
    console = console or Console()
    if not console.is_terminal and console.width < 150:
        # logs and CI: wide enough that the table does not fold every cell
        console = Console(width=150, file=console.file)
    parts: list[object] = [plan_panel(portfolio), plan_table(portfolio)]
    frontier = _frontier_table(portfolio)
    if frontier is not None:
        parts.append(frontier)
    console.print(Group(*parts))  # type: ignore[arg-type]
    for message in portfolio.notes:
        console.print(f"[yellow]note:[/yellow] {escape(message)}", highlight=False)
    for message in portfolio.cautions:
        console.print(f"[bold red]caution:[/bold red] {escape(message)}", highlight=False)
