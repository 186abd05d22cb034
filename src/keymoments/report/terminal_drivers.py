"""The survey sections in the terminal: what drives each outcome, and the emotion curve.

Example:
    >>> from rich.console import Console
    >>> for table in drivers_tables(result):  # doctest: +SKIP
    ...     Console().print(table)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from keymoments.report.markup import escape

if TYPE_CHECKING:
    from keymoments.result import AnalysisResult

__all__ = ["drivers_tables"]

_CLASS_STYLE = {
    "basic": "red",
    "performance": "yellow",
    "excitement": "green",
    "indifferent": "dim",
}
_QUADRANT_STYLE = {"concentrate here": "bold red", "keep up the good work": "green"}


def _ci(lo: float, hi: float, fmt: str = "{:.3f}") -> str:
    return f"[{fmt.format(lo)}, {fmt.format(hi)}]"


def drivers_tables(result: AnalysisResult) -> list[Table]:
    """One table per outcome with drivers, then the emotion curve (empty list if none)."""
    tables: list[Table] = []
    drivers = result.drivers
    pct = int(result.confidence * 100)
    if drivers is not None:
        for oid, d in drivers.outcomes.items():
            label = result.service.outcome(oid).label
            how = "exact" if d.exact else f"sampled, ±{float(d.error.max()):.3f}"
            table = Table(
                box=box.SIMPLE_HEAD,
                title=(
                    f"What drives {escape(label)}: R² {d.r2:.2f} {_ci(*d.r2_ci, '{:.2f}')}, "
                    f"{d.n:,} respondents, LMG {how}, missing ratings: {d.missing} "
                    f"[{pct}% intervals]"
                ),
                title_justify="left",
            )
            for col in ("moment", "importance", "share", "rel. weight", "penalty", "reward"):
                table.add_column(col, justify="left" if col == "moment" else "right")
            table.add_column("class")
            table.add_column("mean rating", justify="right")
            table.add_column("quadrant")
            order = sorted(range(len(d.moments)), key=lambda j: -d.figures["importance"][j])
            for j in order:
                fig, ci = d.figures, d.intervals
                table.add_row(
                    escape(d.names[j]),
                    f"{fig['importance'][j]:.3f}\n"
                    f"{_ci(ci['importance'][0, j], ci['importance'][1, j])}",
                    f"{fig['importance'][j] / d.r2:.0%}" if d.r2 > 0 else "",
                    f"{fig['relative_weight'][j]:.3f}",
                    f"{fig['penalty'][j]:.2f}",
                    f"{fig['reward'][j]:.2f}",
                    Text(d.classes[j], style=_CLASS_STYLE.get(d.classes[j], "")),
                    f"{fig['performance'][j]:.2f}",
                    Text(d.quadrants[j], style=_QUADRANT_STYLE.get(d.quadrants[j], "")),
                )
            diffs = [x for x in drivers.differences.get(oid, []) if x["p_value"] < 0.05]
            if diffs:
                table.caption = "Differs between segments (p < 0.05): " + "; ".join(
                    f"{escape(result.service.moment(x['moment']).label)}: "
                    f"{escape(str(x['a']))} vs {escape(str(x['b']))} "
                    f"{x['difference']:+.3f}"
                    for x in diffs[:6]
                )
                table.caption_justify = "left"
            tables.append(table)
    emotion = result.emotion
    if emotion is not None and len(emotion.moments) > 1:
        table = Table(
            box=box.SIMPLE_HEAD,
            title=f"Emotion curve: mean rating in journey order [{pct}% interval]",
            title_justify="left",
        )
        for col in ("stage", "moment", "mean", "interval", "answered", ""):
            table.add_column(col, justify="right" if col in ("mean", "answered") else "left")
        for j in range(len(emotion.moments)):
            table.add_row(
                escape(emotion.stages[j]),
                escape(emotion.names[j]),
                f"{emotion.mean[j]:.2f}",
                _ci(emotion.ci[0, j], emotion.ci[1, j], "{:.2f}"),
                f"{int(emotion.answered[j]):,}",
                Text("dip", style="bold red") if emotion.dips[j] else "",
            )
        checks = [
            f"{escape(result.service.outcome(o).label)}: {p.verdict.replace('_', '–')} "
            f"(R² worst+last {p.r2_peak_end:.2f} vs average {p.r2_average:.2f}, "
            f"difference {_ci(*p.ci, '{:+.2f}')})"
            for o, p in emotion.peak_end.items()
        ]
        if checks:
            table.caption = "Peak–end check: " + "; ".join(checks)
            table.caption_justify = "left"
        tables.append(table)
    return tables
