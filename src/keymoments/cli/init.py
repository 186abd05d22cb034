"""``keymoments init EVENTS``: a draft service model from an export, and its activities."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from keymoments.cli._common import console, print_written, user_errors

if TYPE_CHECKING:
    from rich.table import Table

    from keymoments.draft import ModelDraft


def init(
    events: Path = typer.Argument(
        ...,
        help="Event log: CSV, Parquet, JSON Lines, XES or XLSX (.gz fine).",
        show_default=False,
    ),
    cases: Path | None = typer.Option(
        None, "--cases", help="Cases table (survey, outcomes): CSV, Parquet, JSON Lines or XLSX."
    ),
    out: Path = typer.Option(
        Path("service.yaml"), "--out", "-o", help="Where to write the draft model."
    ),
    case_id: str | None = typer.Option(
        None, "--case-id", help="The case id column (default: guessed).", show_default=False
    ),
    activity: str | None = typer.Option(
        None, "--activity", help="The activity column (default: guessed).", show_default=False
    ),
    timestamp: str | None = typer.Option(
        None, "--timestamp", help="The timestamp column (default: guessed).", show_default=False
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
    engine: str = typer.Option(
        "duckdb",
        "--engine",
        help="Query engine: duckdb, or spark (pip install 'keymoments[spark]').",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the file written."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Draft a service model from an export: guess the columns, list the activities."""
    with user_errors(debug):
        from keymoments.draft import draft_model
        from keymoments.errors import KeymomentsError

        if out.exists() and not force:
            raise KeymomentsError(f"{out} exists; choose another --out, or add --force")
        draft = draft_model(
            events,
            cases=cases,
            case_id=case_id,
            activity=activity,
            timestamp=timestamp,
            engine=engine,
        )
        if not quiet:
            _show(draft)
        print_written([("draft service model", draft.write(out))])
        if not quiet:
            console.print(
                f"Next: edit {out} (merge activities into moments, list what breaks "
                f"them, add an outcome), then: keymoments analyse {out}",
                highlight=False,
            )


def _show(draft: ModelDraft) -> None:
    cols = draft.columns
    console.print(
        f"{draft.events_path.name}: {draft.n_cases:,} cases, {draft.n_events:,} events, "
        f"{len(draft.activities)} activities",
        highlight=False,
    )
    console.print(
        f"columns: case id {cols.case_id!r}, activity {cols.activity!r}, "
        f"timestamp {cols.timestamp!r}",
        highlight=False,
    )
    for note in draft.notes:
        console.print(f"  {note}", highlight=False, markup=False)
    if draft.report.n_set_aside:
        console.print(
            f"  {draft.report.n_set_aside:,} rows set aside "
            f"({', '.join(f'{k}: {v:,}' for k, v in draft.report.set_aside.items())})",
            highlight=False,
        )
    console.print(_table(draft))


def _table(draft: ModelDraft) -> Table:
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title="Activities, in their typical order",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("step", justify="right")
    table.add_column("activity", overflow="fold", ratio=1)
    table.add_column("cases", justify="right", no_wrap=True)
    table.add_column("share", justify="right", no_wrap=True)
    table.add_column("events", justify="right", no_wrap=True)
    table.add_column("last of", justify="right", no_wrap=True)
    for row in draft.activities.itertuples(index=False):
        table.add_row(
            f"{row.step:.1f}",
            Text(str(row.activity)),  # names are data, not markup
            f"{row.cases:,}",
            f"{row.share:.1%}",
            f"{row.events:,}",
            f"{row.ends:,}",
            end_section=False,
        )
    return table
