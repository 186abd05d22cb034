"""One URL, two answers: an HTML page for people, JSON for programs.

A request wants JSON when its path ended in ``.json`` (the suffix is taken
off by :class:`~keymoments.web.middleware.JsonSuffix`, which sets the Accept
header) or when it asks for ``application/json`` before ``text/html``.
Templates are Jinja2 with autoescape on, so every name that comes from data
shows as text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from keymoments.report.formatting import fmt_money, fmt_number, fmt_pct
from keymoments.web.routes.assets import VEGA_AVAILABLE
from keymoments.web.uploads import format_size

__all__ = ["page", "templates", "wants_json"]

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# autoescape is on for .html templates by default; make it explicit and total
templates.env.autoescape = True
templates.env.filters["size"] = format_size


# numbers as the report writes them (keymoments.report.formatting): one way everywhere
def _pct(value: Any, digits: int = 1) -> str:
    return "" if value is None else fmt_pct(value, digits)


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return fmt_number(value, digits)
    return str(value)


def _money(value: Any, currency: str | None = None) -> str:
    return "" if value is None else fmt_money(value, currency)


templates.env.filters["pct"] = _pct
templates.env.filters["num"] = _num
templates.env.filters["money"] = _money
templates.env.globals["vega"] = VEGA_AVAILABLE


def wants_json(request: Request) -> bool:
    """Whether the client asked for JSON rather than a page."""
    if request.method == "DELETE":  # no page sends one: a program does
        return True
    accept = request.headers.get("accept", "")
    if "application/json" not in accept:
        # a program that sent JSON wants JSON back, unless it asked for a page
        sent_json = request.headers.get("content-type", "").startswith("application/json")
        return sent_json and "text/html" not in accept
    if "text/html" not in accept:
        return True
    return accept.index("application/json") < accept.index("text/html")


def page(
    request: Request,
    template: str,
    data: Any,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """``data`` as JSON, or the template rendered with ``data`` and ``context``."""
    if wants_json(request):
        return JSONResponse(jsonable_encoder(data), status_code=status_code)
    return templates.TemplateResponse(
        request,
        template,
        {"data": data, **context},
        status_code=status_code,
    )
