"""Static files shipped in the package: the app's CSS and JS, the report's Vega JS, and
Swagger UI for the API page (``/api``), so no page loads anything from elsewhere.

Served from a table of names made at import time, so no part of a request
is ever turned into a path: an unknown name is simply not in the table.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response
from starlette.requests import Request

from keymoments.web.store import NotFound

__all__ = ["ASSETS", "VEGA_AVAILABLE", "router"]

_HERE = Path(__file__).resolve().parent.parent
_REPORT_STATIC = _HERE.parent / "report" / "static"
_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


def _table() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder in (_HERE / "static", _REPORT_STATIC):
        if folder.is_dir():
            for path in folder.iterdir():
                if path.suffix in _TYPES and path.is_file():
                    found[path.name] = path
    return found


ASSETS = _table()
VEGA_AVAILABLE = all(n in ASSETS for n in ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js"))

router = APIRouter(include_in_schema=False)


@router.get("/static/{name}")
def asset(name: str) -> FileResponse:
    """One shipped CSS or JS file, cached for an hour."""
    path = ASSETS.get(name)
    if path is None:
        raise NotFound(name)
    return FileResponse(
        path, media_type=_TYPES[path.suffix], headers={"cache-control": "max-age=3600"}
    )


@router.get("/api")
def api_page(request: Request) -> Response:
    """The API described by ``/openapi.json``, drawn by the shipped Swagger UI."""
    from keymoments.web.render import templates  # render imports this module

    return templates.TemplateResponse(request, "api.html", {})
