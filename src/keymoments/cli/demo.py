"""``keymoments demo``: a built-in service analysed end to end, no data of yours needed."""

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


def demo(
    name: str = typer.Argument("health-check", help="Which example: health-check or car-purchase."),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the data and results (default ./keymoments-demo/NAME)."
    ),
    cases: int | None = typer.Option(None, "--cases", min=10, help="How many cases to generate."),
    bootstrap: int | None = typer.Option(None, "--bootstrap", min=0, help="Bootstrap draws."),
    seed: int = typer.Option(0, "--seed", help="Seed of the generated data and the bootstrap."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Generate a built-in service's data, analyse it and show its key moments."""
    with user_errors(debug):
        from keymoments import examples
        from keymoments.analysis import analyse as run
        from keymoments.errors import KeymomentsError
        from keymoments.report.terminal import render_terminal

        if name not in examples.EXAMPLES:
            raise KeymomentsError(
                f"unknown example {name!r}; choose one of: {', '.join(examples.EXAMPLES)}"
            )
        folder = out or Path("keymoments-demo") / name
        folder.mkdir(parents=True, exist_ok=True)
        files = examples.write_example(name, folder, n_cases=cases, seed=seed)
        with progress_bar() as progress:
            result = run(
                files["service"],
                bootstrap=bootstrap,
                seed=seed,
                progress=progress,  # type: ignore[arg-type]
            )
        render_terminal(result, console)
        written = [
            ("service model", files["service"]),
            ("generated events", files["events"]),
            ("generated cases", files["cases"]),
        ]
        written += write_outputs(
            result,
            json_path=folder / "result.json",
            csv_path=folder / "summary.csv",
            set_aside_path=folder / "set-aside.csv",
            html_path=folder / "report.html",
        )
        print_written(written)
