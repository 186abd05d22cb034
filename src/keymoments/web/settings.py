"""The web app's settings: where it keeps data, its token and its upload limit."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

__all__ = ["DEFAULT_MAX_UPLOAD_MB", "TOKEN_MIN_CHARS", "WebSettings", "check_token"]

DEFAULT_MAX_UPLOAD_MB = 1024
# The least a token may be: long, and not a word repeated (see docs/security.md).
TOKEN_MIN_CHARS = 16
_TOKEN_MIN_DISTINCT = 8


def check_token(token: str) -> None:
    """``KeymomentsError`` unless the token is strong enough to guard a server.

    At least 16 characters, of at least 8 different ones, with no blank at
    either end (the server compares what it is sent after trimming). One made
    by ``python -c "import secrets; print(secrets.token_urlsafe(24))"`` passes.

    Example:
        >>> check_token("k3y-9fQ2-xv7L-mW4p")
        >>> check_token("secret")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        keymoments.errors.KeymomentsError: the token is too weak: ...
    """
    from keymoments.errors import KeymomentsError

    problem = None
    if token != token.strip():
        problem = "it starts or ends with a blank"
    elif len(token) < TOKEN_MIN_CHARS:
        problem = f"it has {len(token)} characters; use at least {TOKEN_MIN_CHARS}"
    elif len(set(token)) < _TOKEN_MIN_DISTINCT:
        problem = f"it uses only {len(set(token))} different characters"
    if problem:
        raise KeymomentsError(
            f"the token is too weak: {problem}. Make one with "
            'python -c "import secrets; print(secrets.token_urlsafe(24))" and give it '
            "as --token or KEYMOMENTS_TOKEN"
        )


class WebSettings(BaseModel):
    """Settings of one app instance (see :func:`keymoments.web.create_app`).

    Example:
        >>> WebSettings(data_dir="km-data").max_upload_bytes // 2**20
        1024
    """

    data_dir: Path = Path("keymoments-data")
    # None: no login (only safe on a loopback address; the CLI enforces that)
    token: str | None = None
    max_upload_bytes: int = Field(DEFAULT_MAX_UPLOAD_MB * 2**20, gt=0)
    # analyses running at once; each runs in its own process
    workers: int = Field(1, ge=1)
    # bootstrap draws offered by default in the run form (None: the model's)
    bootstrap: int | None = None
