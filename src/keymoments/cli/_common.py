"""What every command shares: error handling, progress, writing outputs."""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from keymoments.errors import KeymomentsError
from keymoments.report.markup import escape

if TYPE_CHECKING:
    from keymoments.result import AnalysisResult

console = Console()
err_console = Console(stderr=True)

_STAGES = {
    "read": "Reading",
    "summarise": "Summarising journeys",
    "bootstrap": "Bootstrap",
    "plan": "Choosing the plan",
    "uncertainty": "Monte Carlo",
    "frontier": "Frontier",
    "drivers": "Survey drivers",
    "periods": "Summarising periods",
    "changes": "Checking the changes",
    "windows": "Key moments per window",
    "comments": "Comments",
}


@contextlib.contextmanager
def user_errors(debug: bool) -> Iterator[None]:
    """Turn a KeymomentsError into its message and exit status 2.

    keymoments' own warnings are printed by the report, so Python's copy is muted.
    """
    import warnings

    from keymoments.errors import KeymomentsWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KeymomentsWarning)
            yield
    except KeymomentsError as exc:
        if debug:
            traceback.print_exc()
        err_console.print(
            f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        _interrupted()
    except RuntimeError as exc:
        from keymoments.data.engine import is_interrupt

        if not is_interrupt(exc):
            raise
        _interrupted()  # DuckDB stopped its query for the Ctrl-C


def _interrupted() -> NoReturn:
    """Ctrl-C: one line and exit status 130; outputs are whole or absent (written atomically)."""
    err_console.print("interrupted")
    raise typer.Exit(130) from None


@contextlib.contextmanager
def progress_bar(enabled: bool = True) -> Iterator[object]:
    """A rich progress bar fed by ``analyse(progress=...)`` callbacks."""
    from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    if not enabled:  # --quiet: nothing but the files written, and errors

        def silent(stage: str, done: int, total: int) -> None:
            pass

        yield silent
        return
    if not sys.stderr.isatty() and not sys.stdout.isatty():
        # still show stage changes in logs and CI, but without redrawing
        def plain(stage: str, done: int, total: int) -> None:
            if done == 0:
                err_console.print(f"{escape(_STAGES.get(stage, stage))}…", highlight=False)

        yield plain
        return
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(escape(_STAGES.get(stage, stage)), total=total)
        bar.update(tasks[stage], completed=done, total=total)

    with bar:
        yield update


def write_outputs(
    result: AnalysisResult,
    *,
    json_path: Path | None,
    csv_path: Path | None,
    set_aside_path: Path | None,
    html_path: Path | None = None,
    pdf_path: Path | None = None,
    quiet: bool = False,
) -> list[tuple[str, Path]]:
    """Write the requested files; returns (what, path) pairs for the summary.

    ``quiet`` drops the "Writing the report…" spinners.
    """
    written: list[tuple[str, Path]] = []
    for path in (json_path, csv_path, set_aside_path):
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    if json_path is not None:
        written.append(("JSON result", result.to_json(json_path)))
    if csv_path is not None:
        written.append(("summary table (CSV)", result.to_csv(csv_path)))
    if html_path is not None:
        from keymoments.report.html import write_html

        with _status("Writing the HTML report…", quiet):
            written.append(("report (HTML)", write_html(result, html_path)))
    if pdf_path is not None:
        from keymoments.report.pdf import write_pdf

        with _status("Writing the PDF report (a few seconds)…", quiet):
            written.append(("report (PDF)", write_pdf(result, pdf_path)))
    if result.n_set_aside:
        target = set_aside_path or _default_set_aside(json_path)
        n = result.write_set_aside(target)
        if n:
            written.append((f"{n:,} rows set aside, with reasons", target))
    return written


def _status(text: str, quiet: bool) -> contextlib.AbstractContextManager[object]:
    return contextlib.nullcontext() if quiet else err_console.status(text)


def _default_set_aside(json_path: Path | None) -> Path:
    if json_path is not None:
        return json_path.with_name(json_path.stem + ".set-aside.csv")
    return Path("keymoments-set-aside.csv")


def print_written(written: list[tuple[str, Path]]) -> None:
    """List the files written."""
    for what, path in written:
        console.print(f"[green]wrote[/green] {what}: {escape(str(path))}", highlight=False)
