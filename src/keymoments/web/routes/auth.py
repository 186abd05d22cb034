"""The login page: trade the server's token for a cookie (only when a token is set)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response
from starlette.requests import Request

from keymoments.web.middleware import (
    SESSION_COOKIE,
    client_address,
    session_value,
    wait_message,
)
from keymoments.web.render import templates

__all__ = ["router"]

router = APIRouter(tags=["login"])


def _safe_next(target: str) -> str:
    # only a path on this server: no scheme, no host, no "//evil.example"
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login", include_in_schema=False)
def login_page(request: Request, next: str = "/") -> Response:
    """The token form."""
    return templates.TemplateResponse(
        request, "login.html", {"next": _safe_next(next), "error": None}
    )


@router.post("/login", include_in_schema=False)
async def login(request: Request) -> Response:
    """Check the token; on success set the session cookie and go on."""
    form = await request.form()
    token = request.app.state.settings.token
    given = str(form.get("token", ""))
    target = _safe_next(str(form.get("next", "/")))
    if token is None:
        return RedirectResponse(target, status_code=303)
    failures = request.app.state.failed_logins
    client = client_address(request.scope)
    wait = failures.wait(client)
    if wait == 0 and not hmac.compare_digest(given.strip().encode(), token.encode()):
        wait = failures.failed(client)
        if wait == 0:
            return templates.TemplateResponse(
                request,
                "login.html",
                {"next": target, "error": "That is not this server's token."},
                status_code=401,
            )
    if wait > 0:  # locked out: the token sent is not even compared
        seconds = str(max(1, round(wait)))
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": target, "error": f"{wait_message(wait).capitalize()}."},
            status_code=429,
            headers={"retry-after": seconds},
        )
    failures.succeeded(client)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_value(token),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=30 * 24 * 3600,
    )
    return response


@router.post("/logout", include_in_schema=False)
def logout() -> Response:
    """Forget the session cookie."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
