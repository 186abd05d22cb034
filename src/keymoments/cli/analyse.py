"""``keymoments analyse SERVICE.yaml``: the key moments of your own data."""

from __future__ import annotations

from pathlib import Path

import typer

from keymoments.cli._common import (
    console,
    print_written,
    progress_bar,
    user_errors,
    write_outputs,
)


def analyse(
    service: Path = typer.Argument(..., help="The service model (YAML).", show_default=False),
    events: Path | None = typer.Option(
        None, "--events", help="Event log: CSV, Parquet, JSON Lines or XES (.gz fine)."
    ),
    cases: Path | None = typer.Option(
        None, "--cases", help="Cases table: CSV, Parquet, JSON Lines or XLSX."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Write the JSON result here."),
    csv_out: Path | None = typer.Option(None, "--csv", help="Write the summary table here."),
    html_out: Path | None = typer.Option(
        None, "--html", help="Write the report as one self-contained HTML page here."
    ),
    pdf_out: Path | None = typer.Option(None, "--pdf", help="Write the report as a PDF (A4) here."),
    set_aside: Path | None = typer.Option(
        None,
        "--set-aside",
        help="Where to write rows that could not be used (default: beside --json, "
        "or ./keymoments-set-aside.csv).",
    ),
    engine: str = typer.Option(
        "duckdb",
        "--engine",
        # help is rich markup: the extra's bracket is escaped to show as typed
        help="Query engine: duckdb, or spark (pip install 'keymoments[spark]').",
    ),
    spark_master: str | None = typer.Option(
        None,
        "--spark-master",
        help="Spark master URL (local[4], spark://host:7077, yarn); default local, or "
        "Spark Connect when SPARK_REMOTE is set.",
    ),
    bootstrap: int | None = typer.Option(
        None, "--bootstrap", min=0, help="Bootstrap draws (default 200, from the model)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Bootstrap seed (default 0)."),
    missing: str | None = typer.Option(
        None,
        "--missing",
        help="Missing survey ratings in the drivers: pairwise (default) or listwise.",
        show_default=False,
    ),
    drivers_by_segment: bool | None = typer.Option(
        None,
        "--drivers-by-segment/--no-drivers-by-segment",
        help="Also measure the drivers within each segment and test the differences.",
        show_default=False,
    ),
    barriers_by_segment: bool | None = typer.Option(
        None,
        "--barriers-by-segment/--no-barriers-by-segment",
        help="Fit barriers per segment too, testing whether their effects differ "
        "(default: the model's analysis.barriers_by_segment).",
    ),
    memory: str | None = typer.Option(
        None,
        "--memory",
        help="Which breaks the journey chain remembers: auto (chosen from the data), "
        "none, or moment ids separated by commas (default: the model's memory, auto).",
        show_default=False,
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the files written."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Analyse a service: key moments for the user and the provider, with intervals."""
    with user_errors(debug):
        from keymoments.analysis import analyse as run
        from keymoments.data.engine import connect
        from keymoments.report.html import check_writable
        from keymoments.report.terminal import render_terminal

        for report_path in (html_out, pdf_out):
            if report_path is not None:
                check_writable(report_path)  # before the analysis, not after it
        chosen = connect(engine, master=spark_master) if spark_master else engine

        with progress_bar(not quiet) as progress:
            result = run(
                service,
                events=events,
                cases=cases,
                engine=chosen,
                bootstrap=bootstrap,
                seed=seed,
                missing=missing,
                by_segment=drivers_by_segment,
                barriers_by_segment=barriers_by_segment,
                progress=progress,  # type: ignore[arg-type]
                memory=memory,
            )
        if not quiet:
            render_terminal(result, console)
        written = write_outputs(
            result,
            json_path=json_out,
            csv_path=csv_out,
            set_aside_path=set_aside,
            html_path=html_out,
            pdf_path=pdf_out,
            quiet=quiet,
        )
        print_written(written)
