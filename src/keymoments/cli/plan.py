"""``keymoments plan SERVICE.yaml``: the best set of interventions under a budget."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from keymoments.cli._common import console, print_written, progress_bar, user_errors


def _ids(values: list[str] | None) -> list[str]:
    """``--include a,b --include c`` as ``[a, b, c]``."""
    out: list[str] = []
    for v in values or []:
        out += [x.strip() for x in v.split(",") if x.strip()]
    return out


def plan(
    service: Path = typer.Argument(..., help="The service model (YAML).", show_default=False),
    events: Path | None = typer.Option(
        None, "--events", help="Event log: CSV, Parquet, JSON Lines or XES (.gz fine)."
    ),
    cases: Path | None = typer.Option(
        None, "--cases", help="Cases table: CSV, Parquet, JSON Lines or XLSX."
    ),
    budget: float | None = typer.Option(
        None, "--budget", min=0, help="Most the plan may cost a year (default: the model's)."
    ),
    objective: str = typer.Option(
        "net",
        "--objective",
        help="net (value minus cost a year, the default) or value (money a year within the "
        "budget, whatever it costs).",
    ),
    weight: str | None = typer.Option(
        None,
        "--weight",
        help="Weights, e.g. user=1,provider=1 (perspectives) or experience=40 "
        "(money per unit of an outcome without a value).",
    ),
    include: list[str] | None = typer.Option(
        None, "--include", help="Interventions the plan must contain (comma-separated)."
    ),
    exclude: list[str] | None = typer.Option(
        None, "--exclude", help="Interventions the plan must not contain (comma-separated)."
    ),
    json_out: Path | None = typer.Option(
        None, "--json", help="Write the JSON result (with this plan) here."
    ),
    draws: int = typer.Option(400, "--draws", min=0, help="Monte Carlo draws (0: none)."),
    frontier: bool = typer.Option(
        True, "--frontier/--no-frontier", help="Trace the user/provider frontier."
    ),
    time_limit: float | None = typer.Option(
        None,
        "--time-limit",
        min=0,
        help="Seconds the search for the plan may take; past it, the best plan found "
        "is shown marked not proven optimal (default: no limit).",
    ),
    engine: str = typer.Option("duckdb", "--engine", help="Query engine: duckdb."),
    bootstrap: int | None = typer.Option(
        None, "--bootstrap", min=0, help="Bootstrap draws (default 200, from the model)."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Bootstrap and Monte Carlo seed."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the files written."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Choose the interventions worth most within the budget, exactly on the journey chain."""
    with user_errors(debug):
        from keymoments.analysis import analyse as run
        from keymoments.errors import ModelError
        from keymoments.model import load_service
        from keymoments.portfolio import PlanContext, optimise
        from keymoments.portfolio.context import parse_weights
        from keymoments.report.plan import render_plan

        if objective not in ("value", "net"):
            raise ModelError(f"--objective {objective!r}: use 'value' or 'net'")
        if budget is not None and not math.isfinite(budget):
            raise ModelError(
                f"--budget {budget}: give the most the plan may cost a year as a finite "
                "number (leave --budget out to use the model's budget)"
            )
        model = load_service(service)
        if not model.interventions:
            raise ModelError(
                "the model lists no interventions; add some under 'interventions:' "
                "(id, moment or barrier, effect, cost) to plan",
                file=str(service),
                field="interventions",
            )
        weights = parse_weights(weight)
        with progress_bar(not quiet) as progress:
            result = run(
                model,
                events=events,
                cases=cases,
                engine=engine,
                bootstrap=bootstrap,
                seed=seed,
                progress=progress,  # type: ignore[arg-type]
                plan=False,  # planned once, below, with this command's options
            )
            ctx = PlanContext.of(result, weights=weights)
            portfolio = optimise(
                result,
                budget=budget,
                objective=objective,  # type: ignore[arg-type]
                include=_ids(include),
                exclude=_ids(exclude),
                uncertainty=draws > 0,
                n_draws=max(draws, 1),
                seed=seed or 0,
                progress=progress,  # type: ignore[arg-type]
                context=ctx,
                time_limit=time_limit or None,
            )
            if frontier:
                from keymoments.portfolio.frontier import frontier as trace

                portfolio._frontier = trace(
                    ctx,
                    include=portfolio.include,
                    exclude=portfolio.exclude,
                    progress=lambda done, total: progress("frontier", done, total),  # type: ignore[operator]
                    time_limit=time_limit or None,
                )
        result.portfolio = portfolio
        result.warnings.extend(portfolio.notes)
        if not quiet:
            render_plan(portfolio, console)
        written = []
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            written.append(("JSON result", result.to_json(json_out)))
        print_written(written)
