"""``keymoments monitor SERVICE.yaml``: key moments over time, and changes checked."""

from __future__ import annotations

from pathlib import Path

import typer

from keymoments.cli._common import console, print_written, progress_bar, user_errors


def _baseline(text: str | None) -> int | str | None:
    """``--baseline 20`` (periods) or ``--baseline 2024-03-01`` (periods ending by then)."""
    if text is None:
        return None
    from keymoments.errors import ModelError

    value = text.strip()
    if value.isdigit():
        return int(value)
    import datetime

    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise ModelError(
            f"--baseline {text!r}: give a number of periods (20) or a date (2024-03-01)"
        ) from None
    return value


def monitor(
    service: Path = typer.Argument(..., help="The service model (YAML).", show_default=False),
    events: Path | None = typer.Option(
        None, "--events", help="Event log: CSV, Parquet, JSON Lines or XES (.gz fine)."
    ),
    cases: Path | None = typer.Option(
        None, "--cases", help="Cases table: CSV, Parquet, JSON Lines or XLSX."
    ),
    every: str = typer.Option("week", "--every", help="The charts' period: week or month."),
    baseline: str | None = typer.Option(
        None,
        "--baseline",
        help="The periods the limits come from: a number of periods from the start, or "
        "a date (default: the periods before the first change).",
        show_default=False,
    ),
    window: str = typer.Option(
        "quarter",
        "--window",
        help="Key moments per: quarter, half, year, or a number of periods.",
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Write the JSON result here."),
    html_out: Path | None = typer.Option(
        None, "--html", help="Write the report as one self-contained HTML page here."
    ),
    engine: str = typer.Option(
        "duckdb",
        "--engine",
        help="Query engine: duckdb, or spark (pip install 'keymoments[spark]').",
    ),
    bootstrap: int | None = typer.Option(
        None,
        "--bootstrap",
        min=0,
        help="Bootstrap draws for each window's key moments (default 200, from the model).",
    ),
    seed: int | None = typer.Option(None, "--seed", help="Bootstrap seed (default 0)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the files written."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Follow a service over time: SPC charts, changes against their promise, key moments."""
    with user_errors(debug):
        from keymoments.monitoring import monitor as run
        from keymoments.monitoring.report import write_monitor_html
        from keymoments.monitoring.terminal import render_monitor
        from keymoments.report.html import check_writable

        if html_out is not None:
            check_writable(html_out)  # before the work, not after it
        with progress_bar(not quiet) as progress:
            result = run(
                service,
                events=events,
                cases=cases,
                every=every,
                baseline=_baseline(baseline),
                window=window,
                engine=engine,
                bootstrap=bootstrap,
                seed=seed,
                progress=progress,  # type: ignore[arg-type]
            )
        if not quiet:
            render_monitor(result, console)
        written: list[tuple[str, Path]] = []
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            written.append(("JSON result", result.to_json(json_out)))
        if html_out is not None:
            written.append(("report (HTML)", write_monitor_html(result, html_out)))
        print_written(written)
