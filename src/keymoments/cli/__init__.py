"""The ``keymoments`` command line: thin shells over the public API.

Each command lives in its own module, parses its arguments, makes one API
call and prints with rich. Any :class:`~keymoments.errors.KeymomentsError`
becomes its message on stderr and exit status 2 (``--debug`` shows the
traceback). Heavy libraries are imported inside commands so ``--help`` is fast.
"""

from __future__ import annotations

import typer

from keymoments.cli import analyse as _analyse
from keymoments.cli import demo as _demo
from keymoments.cli import init as _init
from keymoments.cli import monitor as _monitor
from keymoments.cli import plan as _plan
from keymoments.cli import serve as _serve
from keymoments.cli import themes as _themes

__all__ = ["app", "main"]

app = typer.Typer(
    name="keymoments",
    help="Find the key moments of a service: where breaking a touchpoint sinks the service.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help: rich's panels label every flag <bool> and read the
    # [spark] in "pip install 'keymoments[spark]'" as markup, dropping it
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        from keymoments import __version__

        typer.echo(f"keymoments {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    """Find the key moments of a service: where breaking a touchpoint sinks the service."""


app.command("demo")(_demo.demo)
app.command("init")(_init.init)
app.command("analyse")(_analyse.analyse)
app.command("serve")(_serve.serve)
app.command("plan")(_plan.plan)
app.command("monitor")(_monitor.monitor)
app.command("themes")(_themes.themes)


def main() -> None:
    """Entry point of the ``keymoments`` script."""
    app()
