"""The app factory: :func:`create_app` builds one web app over one data folder.

Errors are mapped to HTTP in one place (:func:`_error_response`): a
:class:`~keymoments.errors.KeymomentsError` is the user's mistake and answers
4xx with the message the command line would print; anything else is a 500
that says so without a traceback. Every error has the same JSON shape,
``{"error": {"status", "type", "message"}}``, or an HTML page with that message.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request

from keymoments import __version__
from keymoments.errors import DataError, KeymomentsError, ModelError
from keymoments.web.jobs import Jobs
from keymoments.web.middleware import (
    BodyLimit,
    FailedLogins,
    JsonSuffix,
    SecurityHeaders,
    TokenGate,
)
from keymoments.web.render import templates, wants_json
from keymoments.web.settings import DEFAULT_MAX_UPLOAD_MB, WebSettings, check_token
from keymoments.web.store import Busy, NotFound, Store, is_disk_full
from keymoments.web.uploads import TooLarge

__all__ = ["create_app", "error_status"]

log = logging.getLogger("keymoments.web")


def error_status(exc: BaseException) -> int:
    """The HTTP status of an error (the one table from error class to status).

    Example:
        >>> from keymoments.errors import DataError
        >>> error_status(DataError("events.csv: empty"))
        422
    """
    if isinstance(exc, TooLarge):
        return 413
    if is_disk_full(exc):
        return 507
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Busy):
        return 409
    if isinstance(exc, ModelError | DataError):
        return 422
    if isinstance(exc, KeymomentsError):
        return 400
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, RequestValidationError):
        return 422
    return 500


def _message(exc: BaseException) -> str:
    if isinstance(exc, NotFound):
        return (
            f"nothing here with id {exc.args[0]!r}; it may have been removed, or the link is wrong"
        )
    if isinstance(exc, HTTPException):
        return str(exc.detail)
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return f"{where}: {first.get('msg', 'invalid request')}"
    if isinstance(exc, KeymomentsError | TooLarge | Busy):
        return str(exc)
    if is_disk_full(exc):
        return (
            "the server's disk is full, so nothing was saved; free space in the data "
            "folder (or start the server with another --data-dir) and try again"
        )
    return "internal error: the server failed on this request; the log has the details"


def _error_response(request: Request, exc: BaseException) -> Response:
    status = error_status(exc)
    if status >= 500:
        log.error("error on %s %s", request.method, request.url.path, exc_info=exc)
    kind = type(exc).__name__ if not isinstance(exc, HTTPException) else "HTTPError"
    if status >= 500:
        kind = "DiskFull" if status == 507 else "InternalError"
    message = _message(exc)
    if wants_json(request):
        return JSONResponse(
            {"error": {"status": status, "type": kind, "message": message}}, status_code=status
        )
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "kind": kind, "message": message, "back": _back_link(request)},
        status_code=status,
    )


_PARENT = re.compile(r"^/(workspaces|runs)/[0-9a-f]{12}")


def _back_link(request: Request) -> str | None:
    """Where the error page's "Go back" leads: the page the request came from.

    A plain link (the page's policy runs no inline script, so ``history.back()``
    cannot work): the ``Referer`` when it is a page of this server, else the
    workspace or run the failed address belongs to.

    Example:
        >>> from starlette.requests import Request
        >>> scope = {"type": "http", "method": "POST", "path": "/workspaces/0123456789ab/uploads",
        ...          "headers": [(b"host", b"km.local")], "query_string": b""}
        >>> _back_link(Request(scope))
        '/workspaces/0123456789ab'
    """
    referer = request.headers.get("referer", "")
    if referer:
        parts = urlsplit(referer)
        same = parts.netloc == request.headers.get("host", "")
        path = parts.path or "/"
        if same and path.startswith("/") and not path.startswith("//") and "\\" not in path:
            return path + (f"?{parts.query}" if parts.query else "")
    found = _PARENT.match(request.url.path)
    if found and found.group(0) != request.url.path:
        return found.group(0)
    return None


def create_app(
    data_dir: str | os.PathLike[str] = "keymoments-data",
    *,
    token: str | None = None,
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_MB * 2**20,
    workers: int = 1,
    allowed_hosts: list[str] | None = None,
    settings: WebSettings | None = None,
) -> FastAPI:
    """The keymoments web app over one data folder.

    Args:
        data_dir: where workspaces, uploads, runs and results are kept (made if missing).
        token: when given, every request needs it (``Authorization: Bearer`` or the
            login page's cookie); needed on any address but loopback, and at least 16
            characters (:func:`~keymoments.web.settings.check_token`). Addresses that
            keep sending wrong ones are made to wait (429).
        max_upload_bytes: larger uploads get 413 with a message saying the limit.
        workers: how many analyses may run at once (each in its own process).
        allowed_hosts: when given, requests whose ``Host`` is not one of these get 400;
            ``keymoments serve`` on loopback without a token passes the loopback
            names, so a web page elsewhere cannot reach the app by DNS rebinding.
        settings: all of the above at once (overrides the keywords).

    Example:
        >>> import tempfile
        >>> from fastapi.testclient import TestClient
        >>> with TestClient(create_app(tempfile.mkdtemp())) as client:
        ...     reply = client.post("/workspaces", json={"name": "Clinic"})
        >>> reply.status_code, reply.json()["name"]
        (201, 'Clinic')
    """
    cfg = settings or WebSettings(
        data_dir=Path(data_dir), token=token, max_upload_bytes=max_upload_bytes, workers=workers
    )
    if cfg.token is not None:
        check_token(cfg.token)  # before anything is made on disk
    store = Store(cfg.data_dir)
    interrupted = store.fail_interrupted()
    if interrupted:
        log.warning("%d run(s) interrupted by the last stop were marked failed", interrupted)
    swept = store.sweep()
    if swept:
        log.warning("removed %d half-written file(s) left by the last stop", swept)
    if not store.keep_reserve():
        log.warning("the disk holding %s is full or nearly so", cfg.data_dir)
    jobs = Jobs(store, workers=cfg.workers)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        jobs.close()

    app = FastAPI(
        title="keymoments",
        version=__version__,
        description="Find the key moments of a service: upload an event log, define the "
        "service, run the analysis, browse and download the results. Every page answers "
        "JSON with a `.json` suffix or `Accept: application/json`.",
        lifespan=lifespan,
        docs_url=None,  # /api is ours: Swagger UI from the package, not a CDN
        redoc_url=None,
    )
    app.state.settings = cfg
    app.state.store = store
    app.state.jobs = jobs
    app.state.failed_logins = FailedLogins()  # shared by the token check and the login page

    # OSError here too: a full disk answers 507 with its own message
    for exc_class in (
        KeymomentsError,
        NotFound,
        Busy,
        TooLarge,
        HTTPException,
        RequestValidationError,
        OSError,
        sqlite3.Error,
    ):
        app.add_exception_handler(exc_class, _error_response)
    app.add_exception_handler(Exception, _error_response)

    from keymoments.web.routes import assets, auth, monitor, runs, workspaces

    app.include_router(assets.router)
    app.include_router(auth.router)
    app.include_router(workspaces.router)
    app.include_router(runs.router)
    app.include_router(monitor.router)

    # the last added runs first: security headers on every answer (the token
    # gate's and the host check's refusals too), then the suffix is stripped
    # before the token check sees the path; bodies are bounded once the token is
    app.add_middleware(BodyLimit, upload_limit=cfg.max_upload_bytes)
    if allowed_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(TokenGate, token=cfg.token, failures=app.state.failed_logins)
    app.add_middleware(JsonSuffix)
    app.add_middleware(SecurityHeaders)
    return app
