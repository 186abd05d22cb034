"""ASGI middleware: the ``.json`` suffix, the token check, a same-origin check, body limits.

Plain ASGI (not Starlette's ``BaseHTTPMiddleware``) so an upload's body
streams through untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "OTHER_BODY_LIMIT",
    "SESSION_COOKIE",
    "BodyLimit",
    "FailedLogins",
    "JsonSuffix",
    "SecurityHeaders",
    "TokenGate",
    "session_value",
]

SESSION_COOKIE = "keymoments_session"
# Paths that keep their own ".json" (FastAPI's schema).
_KEEP_SUFFIX = {"/openapi.json"}


def session_value(token: str) -> str:
    """The cookie value a login sets: derived from the token, so the token is not stored."""
    return hmac.new(token.encode(), b"keymoments-session-v1", hashlib.sha256).hexdigest()


async def _send_json(
    send: Send, status: int, message: str, headers: list[Any] | None = None
) -> None:
    kind = {401: "Unauthorized", 403: "Forbidden", 429: "TooManyRequests"}.get(status, "Error")
    body = json.dumps({"error": {"status": status, "type": kind, "message": message}}).encode()
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


class FailedLogins:
    """Wrong tokens per client address, and how long each must wait before the next try.

    The first few mistakes cost nothing (a typo); from the fifth within ten
    minutes, each one locks the address out for twice as long as the last
    (1 s, 2 s, 4 s, ... up to 5 minutes), during which no token it sends is
    even compared: 429 with ``Retry-After``. Guessing a 16-character token at
    that pace would take longer than the universe has existed. Behind a proxy
    every client shares the proxy's address (``X-Forwarded-For`` is not trusted).
    """

    FREE = 4  # failures allowed before the waits start
    WINDOW_S = 600.0  # failures older than this are forgotten
    LONGEST_S = 300.0
    _MAX_CLIENTS = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, float, float]] = {}  # failures, last, locked until

    def wait(self, client: str) -> float:
        """Seconds this address must still wait (0: it may try)."""
        with self._lock:
            entry = self._seen.get(client)
            if entry is None:
                return 0.0
            return max(0.0, entry[2] - time.monotonic())

    def failed(self, client: str) -> float:
        """Count a wrong token; returns the wait it now has."""
        now = time.monotonic()
        with self._lock:
            failures, last, _ = self._seen.get(client, (0, now, 0.0))
            if now - last > self.WINDOW_S:
                failures = 0
            failures += 1
            wait = 0.0
            if failures > self.FREE:
                wait = min(2.0 ** (failures - self.FREE - 1), self.LONGEST_S)
            self._seen[client] = (failures, now, now + wait)
            if len(self._seen) > self._MAX_CLIENTS:  # forget the longest quiet
                for key, _entry in sorted(self._seen.items(), key=lambda kv: kv[1][1])[:1000]:
                    del self._seen[key]
            return wait

    def succeeded(self, client: str) -> None:
        """The right token: start counting afresh."""
        with self._lock:
            self._seen.pop(client, None)


def client_address(scope: Scope) -> str:
    """The address a request came from (the proxy's, behind one)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class TokenGate:
    """With a token set, every request needs ``Authorization: Bearer`` or the login cookie.

    Also refuses a state-changing request whose ``Origin`` is another site
    (a page elsewhere posting a form to this server), and slows down an
    address that keeps sending wrong tokens (:class:`FailedLogins`).
    """

    def __init__(
        self, app: ASGIApp, token: str | None, failures: FailedLogins | None = None
    ) -> None:
        self.app = app
        self.token = token
        self.cookie = session_value(token) if token else None
        self.failures = failures or FailedLogins()

    def _cookie(self, headers: dict[bytes, bytes]) -> str | None:
        jar = SimpleCookie()
        try:
            jar.load(headers.get(b"cookie", b"").decode("latin-1"))
        except Exception:
            return None
        morsel = jar.get(SESSION_COOKIE)
        return None if morsel is None else morsel.value

    def _check(self, headers: dict[bytes, bytes], locked: bool) -> bool | None:
        """True: authorised; False: a wrong bearer token; None: no usable credential.

        The session cookie is always looked at: it is 256 bits derived from the
        token, so checking it helps no guesser, and a stale one (the server got a
        new token) only sends its browser to the login page. A bearer token is
        not even compared while the address is locked out.
        """
        assert self.token is not None and self.cookie is not None
        cookie = self._cookie(headers)
        if cookie is not None and hmac.compare_digest(cookie, self.cookie):
            return True
        auth = headers.get(b"authorization", b"").decode("latin-1")
        if not auth.lower().startswith("bearer "):
            return None
        if locked:
            return False
        return hmac.compare_digest(auth[7:].strip().encode(), self.token.encode())

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
        if self.token is None or scope["path"] == "/login":
            await self.app(scope, receive, send)
            return
        client = client_address(scope)
        wait = self.failures.wait(client)
        verdict = self._check(headers, locked=wait > 0)
        if verdict:
            await self.app(scope, receive, send)
            return
        if verdict is False:
            if wait == 0:
                wait = self.failures.failed(client)
            if wait > 0:
                await too_many_tries(send, wait)
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


def wait_message(wait: float) -> str:
    """What a client locked out for wrong tokens is told."""
    return (
        f"too many wrong tokens from this address: wait {max(1, round(wait))} s before trying again"
    )


async def too_many_tries(send: Send, wait: float) -> None:
    """429 with ``Retry-After``: the address sent too many wrong tokens."""
    await _send_json(
        send, 429, wait_message(wait), [(b"retry-after", str(max(1, round(wait))).encode())]
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


# Bodies other than file uploads: JSON, forms and model text (a model is at most
# 1 MB, and a form percent-encodes it to at most three times that).
OTHER_BODY_LIMIT = 4 * 2**20
# What a multipart form adds around an uploaded file (boundaries, headers, fields).
_FORM_OVERHEAD = 2 * 2**20
_UPLOAD_PATH = re.compile(r"^/workspaces/[0-9a-f]{12}/uploads$")


class BodyLimit:
    """Every request body bounded, declared or streamed (chunked) alike.

    An upload may be ``--max-upload`` plus the form around it; any other body
    (JSON, forms, model text) :data:`OTHER_BODY_LIMIT`. A declared length over
    the limit is refused (413) when the app first asks for the body; a body that
    grows past it while it arrives stops there (:class:`~keymoments.web.uploads.TooLarge`,
    413), so no request can make the server hold more than its limit.
    """

    def __init__(self, app: ASGIApp, upload_limit: int) -> None:
        self.app = app
        self.upload_limit = upload_limit + _FORM_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from keymoments.web.uploads import TooLarge

        upload = scope["method"] == "POST" and bool(_UPLOAD_PATH.match(scope["path"]))
        limit = self.upload_limit if upload else OTHER_BODY_LIMIT
        what = None if upload else "the request body"
        shown = limit - _FORM_OVERHEAD if upload else limit  # the limit the user set
        declared = dict(scope["headers"]).get(b"content-length", b"")
        over = declared.isdigit() and int(declared) > limit
        seen = 0

        async def bounded() -> Any:
            nonlocal seen
            if over:  # refused before a byte of it is read
                raise TooLarge(shown, what)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise TooLarge(shown, what)
            return message

        # TooLarge raised here reaches the app's error handler: 413, as a page or JSON
        await self.app(scope, bounded, send)
