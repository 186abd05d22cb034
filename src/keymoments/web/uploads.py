"""Receiving an uploaded file: streamed to disk in chunks, with a size limit.

Starlette's own form parsing would spool the whole file to the system's
temporary folder before the handler could check its size, so the multipart
body is parsed here as it arrives (python-multipart's streaming parser, the
one Starlette uses underneath) and each chunk is written straight into a
temporary file in the workspace's uploads folder, which is renamed to its
final, server-chosen name only once the file is complete. Memory use does not
grow with the file; an upload over the limit stops as soon as it crosses it.

The uploaded file's name is kept as text to display; only its extension,
looked up in a fixed list, decides the stored name's suffix (the readers
recognise formats by it).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from keymoments.errors import DataError
from keymoments.web.store import check_disk_fault

__all__ = ["ALLOWED_SUFFIXES", "ReceivedForm", "TooLarge", "receive_form", "stored_suffix"]

# The formats the readers know (DESIGN.md), compressed or not.
ALLOWED_SUFFIXES = (
    ".csv",
    ".tsv",
    ".txt",
    ".parquet",
    ".pq",
    ".jsonl",
    ".ndjson",
    ".json",
    ".xes",
    ".xlsx",
    ".yaml",
    ".yml",
)


class TooLarge(Exception):
    """The request body is over the upload limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"the upload is larger than this server's limit of {format_size(limit)}; "
            "split or compress the file (.csv.gz is read directly), or restart the "
            "server with a larger --max-upload"
        )


def format_size(n: float) -> str:
    """Bytes for people: ``1.5 MB``."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def stored_suffix(original_name: str) -> str:
    """The suffix to store a file under, from a fixed list (``DataError`` if unknown).

    Example:
        >>> stored_suffix("Export 2024.CSV.gz")
        '.csv.gz'
        >>> stored_suffix("../../etc/passwd")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        keymoments.errors.DataError: ../../etc/passwd: not a file type keymoments reads; ...
    """
    lower = original_name.lower()
    gz = lower.endswith(".gz")
    base = lower[:-3] if gz else lower
    for suffix in ALLOWED_SUFFIXES:
        if base.endswith(suffix):
            return suffix + (".gz" if gz else "")
    raise DataError(
        f"{original_name}: not a file type keymoments reads; give events as CSV, Parquet, "
        "JSON Lines or XES and cases as CSV, Parquet, JSON Lines or XLSX (.gz fine)"
    )


@dataclass
class _Part:
    """The part of a multipart body being parsed."""

    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytes = b""
    header_value: bytes = b""
    name: str = ""
    value: bytes = b""
    is_file: bool = False

    def reset(self) -> None:
        self.headers = {}
        self.header_field = self.header_value = self.value = b""
        self.name = ""
        self.is_file = False


@dataclass
class ReceivedForm:
    """Text fields and the one file of a multipart form."""

    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    file_path: Path | None = None
    size: int = 0

    def discard(self) -> None:
        """Remove the received file (when it will not be kept)."""
        if self.file_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.file_path.unlink()


async def receive_form(request: Request, folder: Path, *, limit: int) -> ReceivedForm:
    """Parse a ``multipart/form-data`` body; the file part goes to a temp file in ``folder``.

    Raises :class:`TooLarge` past ``limit`` bytes (the declared length is checked
    first, then what actually arrives), ``DataError`` for a body that is not a form.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise DataError("expected a form upload (multipart/form-data) with a file field")
    form = ReceivedForm()
    part = _Part()
    out: list[IO[bytes]] = []

    def on_part_begin() -> None:
        part.reset()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part.header_value += data[start:end]

    def on_header_end() -> None:
        part.headers[part.header_field.lower()] = part.header_value
        part.header_field = b""
        part.header_value = b""

    def on_headers_finished() -> None:
        _, disp = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = disp.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in disp:
            if out:
                raise DataError("send one file per upload")
            filename = disp[b"filename"].decode("utf-8", "replace")
            # browsers on Windows may send a full path; keep the last part, for display
            form.file_name = filename.replace("\\", "/").rsplit("/", 1)[-1] or "upload"
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-", suffix=".part")
            form.file_path = Path(tmp)
            out.append(os.fdopen(fd, "wb"))
            part.is_file = True

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part.is_file:
            form.size += end - start
            if form.size > limit:
                raise TooLarge(limit)
            check_disk_fault(form.file_path or folder)
            out[0].write(data[start:end])
        else:
            part.value += data[start:end]
            if len(part.value) > 1_000_000:
                raise DataError(f"form field {part.name!r} is over 1 MB; upload it as a file")

    def on_part_end() -> None:
        if not part.is_file:
            form.fields[part.name] = part.value.decode("utf-8", "replace")

    parser = MultipartParser(
        params[b"boundary"],
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BaseException:
        for fh in out:
            fh.close()
        form.discard()
        raise
    for fh in out:
        fh.close()
    return form
