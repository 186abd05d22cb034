"""The web app's settings: where it keeps data, its token and its upload limit."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

__all__ = ["DEFAULT_MAX_UPLOAD_MB", "WebSettings"]

DEFAULT_MAX_UPLOAD_MB = 1024


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
