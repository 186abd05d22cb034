"""ASGI middleware: the ``.json`` suffix, the token check and a same-origin check.

Plain ASGI (not Starlette's ``BaseHTTPMiddleware``) so an upload's body
streams through untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["SESSION_COOKIE", "JsonSuffix", "SecurityHeaders", "TokenGate", "session_value"]

SESSION_COOKIE = "keymoments_session"
# Paths that keep their own ".json" (FastAPI's schema).
_KEEP_SUFFIX = {"/openapi.json"}


def session_value(token: str) -> str:
    """The cookie value a login sets: derived from the token, so the token is not stored."""
    return hmac.new(token.encode(), b"keymoments-session-v1", hashlib.sha256).hexdigest()


async def _send_json(
    send: Send, status: int, message: str, headers: list[Any] | None = None
) -> None:
    body = json.dumps(
        {
            "error": {
                "status": status,
                "type": "Unauthorized" if status == 401 else "Forbidden",
                "message": message,
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class JsonSuffix:
    """``/runs/abc.json`` is ``/runs/abc`` asked for with ``Accept: application/json``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.endswith(".json") and path not in _KEEP_SUFFIX and len(path) > 5:
                scope = dict(scope)
                scope["path"] = path[: -len(".json")]
                raw = scope.get("raw_path")
                if raw and raw.endswith(b".json"):
                    scope["raw_path"] = raw[: -len(b".json")]
                headers = [(k, v) for k, v in scope["headers"] if k != b"accept"]
                scope["headers"] = [*headers, (b"accept", b"application/json")]
        await self.app(scope, receive, send)


class TokenGate:
    """With a token set, every request needs ``Authorization: Bearer`` or the login cookie.

    Also refuses a state-changing request whose ``Origin`` is another site
    (a page elsewhere posting a form to this server).
    """

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token
        self.cookie = session_value(token) if token else None

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        assert self.token is not None and self.cookie is not None
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if auth.lower().startswith("bearer ") and hmac.compare_digest(
            auth[7:].strip().encode(), self.token.encode()
        ):
            return True
        jar = SimpleCookie()
        try:
            jar.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:
            return False
        morsel = jar.get(SESSION_COOKIE)
        return morsel is not None and hmac.compare_digest(morsel.value, self.cookie)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and not _same_origin(headers):
            await _send_json(
                send, 403, "cross-site request refused: post from this server's own pages"
            )
            return
        if self.token is None or scope["path"] == "/login" or self._authorised(headers):
            await self.app(scope, receive, send)
            return
        accept = headers.get(b"accept", b"").decode("latin-1")
        if scope["method"] == "GET" and "text/html" in accept:
            target = scope["path"] + (
                "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""
            )
            location = "/login?next=" + quote(target, safe="")
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [(b"location", location.encode()), (b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await _send_json(
            send,
            401,
            "this server needs its token: send 'Authorization: Bearer TOKEN' or log in at /login",
            [(b"www-authenticate", b"Bearer")],
        )


def _same_origin(headers: dict[bytes, bytes]) -> bool:
    origin = headers.get(b"origin")
    if origin is None or origin == b"null":
        # no Origin: not a browser's cross-site form post (curl, scripts, old browsers)
        return origin is None
    host = headers.get(b"host", b"").decode("latin-1")
    return urlsplit(origin.decode("latin-1")).netloc == host


# Vega compiles its expressions with Function(), hence 'unsafe-eval'; no inline
# script runs on our pages (chart specs sit in non-executable JSON blocks).
_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# The HTML report is one self-contained page with inline scripts: let them run,
# but in a sandbox of its own origin, away from this app's cookies and API.
_REPORT_CSP = (
    "sandbox allow-scripts allow-popups allow-downloads; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """A Content-Security-Policy and friends on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        report = scope["path"].endswith("/report.html")

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", (_REPORT_CSP if report else _CSP).encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
