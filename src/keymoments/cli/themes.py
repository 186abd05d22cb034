"""``keymoments themes SERVICE.yaml --cases FILE``: what people say, coded into themes."""

from __future__ import annotations

from pathlib import Path

import typer

from keymoments.cli._common import console, print_written, progress_bar, user_errors


def themes(
    service: Path = typer.Argument(..., help="The service model (YAML).", show_default=False),
    cases: Path | None = typer.Option(
        None, "--cases", help="Cases table with the comments: CSV, Parquet, JSON Lines or XLSX."
    ),
    suggest: int | None = typer.Option(
        None,
        "--suggest",
        min=1,
        max=50,
        help="Propose this many candidate themes per comments column (TF-IDF and NMF).",
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Write the JSON result here."),
    engine: str = typer.Option(
        "duckdb",
        "--engine",
        help="Query engine: duckdb, or spark (pip install 'keymoments[spark]').",
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed of the suggestions (default 0)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the files written."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Code the model's comments with its themes: counts, sentiment, quotes, suggestions."""
    with user_errors(debug):
        from keymoments.report.terminal_comments import render_comments
        from keymoments.themes import code_comments

        with progress_bar(not quiet) as progress:
            said = code_comments(
                service,
                cases=cases,
                engine=engine,
                suggest=suggest,
                seed=seed,
                progress=progress,  # type: ignore[arg-type]
            )
        if not quiet:
            console.print(render_comments(said))
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            print_written([("JSON result", said.to_json(json_out))])
