"""``keymoments serve``: the web app, on this machine only unless given a token."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import typer

from keymoments.cli._common import console, user_errors

LOOPBACK_NAMES = ["127.0.0.1", "localhost", "::1", "[::1]"]


def is_loopback(host: str) -> bool:
    """Whether an address only this machine can reach.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on."),
    data_dir: Path = typer.Option(
        Path("keymoments-data"),
        "--data-dir",
        help="Folder for workspaces, uploads, runs and results (made if missing).",
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="KEYMOMENTS_TOKEN",
        help="Access token every request must carry (needed on any address but loopback).",
        show_envvar=True,
    ),
    max_upload: float = typer.Option(
        1024, "--max-upload", min=0.001, help="Largest upload accepted, in MB."
    ),
    workers: int = typer.Option(1, "--workers", min=1, help="Analyses that may run at once."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
) -> None:
    """Serve the web app: upload data, define the service, run, browse and download."""
    with user_errors(debug):
        from keymoments.errors import KeymomentsError

        if not is_loopback(host) and not token:
            raise KeymomentsError(
                f"--host {host} lets other machines reach the app, so it needs a token: "
                "give --token SECRET or set KEYMOMENTS_TOKEN (or keep the default "
                "--host 127.0.0.1)"
            )
        import uvicorn

        from keymoments.web import create_app

        app = create_app(
            data_dir,
            token=token,
            max_upload_bytes=int(max_upload * 2**20),
            workers=workers,
            # without a token, answer only to loopback names (no DNS rebinding)
            allowed_hosts=None if token else LOOPBACK_NAMES,
        )
        from keymoments.report.markup import escape

        shown = f"[{host}]" if ":" in host else host
        console.print(
            f"keymoments on [bold]{escape(f'http://{shown}:{port}/')}[/bold] · data in "
            f"{escape(str(data_dir.resolve()))}" + (" · token required" if token else ""),
            highlight=False,
        )
        uvicorn.run(app, host=host, port=port, log_level="warning" if not debug else "info")
