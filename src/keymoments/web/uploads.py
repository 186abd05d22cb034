"""Receiving request bodies: an uploaded file streamed to disk, JSON, every part bounded.

Starlette's own form parsing would spool the whole file to the system's
temporary folder before the handler could check its size, so the multipart
body is parsed here as it arrives (python-multipart's streaming parser, the
one Starlette uses underneath) and each chunk is written straight into a
temporary file in the workspace's uploads folder, which is renamed to its
final, server-chosen name only once the file is complete. Memory use does not
grow with the file; an upload over the limit stops as soon as it crosses it.

Everything else in a form is bounded too: the text fields together (1 MB),
each part's headers, and the number of parts, so a request of endless text
fields cannot fill the server's memory. A body that ends before the form's
closing boundary (a dropped connection, a client that stopped) is refused, not
stored as half a file; a body that is not a well-formed form, or JSON that
does not parse, is the sender's mistake (a 4xx with a message), never a 500.

The uploaded file's name is kept as text to display; only its extension,
looked up in a fixed list, decides the stored name's suffix (the readers
recognise formats by it).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from keymoments.errors import DataError
from keymoments.web.store import check_disk_fault

__all__ = [
    "ALLOWED_SUFFIXES",
    "FIELDS_LIMIT",
    "ReceivedForm",
    "TooLarge",
    "json_body",
    "receive_form",
    "stored_suffix",
]

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


# The text fields of one form together (a model's YAML is under 1 MB), the bytes
# of one part's headers, and the parts of one form: no honest form comes near them.
FIELDS_LIMIT = 2**20
_HEADER_LIMIT = 16 * 1024
_PARTS_LIMIT = 100


class TooLarge(Exception):
    """The request body (or part of it) is over its limit."""

    def __init__(self, limit: int, what: str | None = None) -> None:
        self.limit = limit
        if what is None:
            message = (
                f"the upload is larger than this server's limit of {format_size(limit)}; "
                "split or compress the file (.csv.gz is read directly), or restart the "
                "server with a larger --max-upload"
            )
        else:
            message = f"{what} is larger than this server's limit of {format_size(limit)}"
        super().__init__(message)


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
    complete: bool = False  # the closing boundary arrived

    def discard(self) -> None:
        """Remove the received file (when it will not be kept)."""
        if self.file_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.file_path.unlink()


async def receive_form(request: Request, folder: Path, *, limit: int) -> ReceivedForm:
    """Parse a ``multipart/form-data`` body; the file part goes to a temp file in ``folder``.

    Raises :class:`TooLarge` past ``limit`` bytes (the declared length is checked
    first, then what actually arrives) or past the bounds on text fields and
    headers; ``DataError`` for a body that is not a well-formed form, or that
    ends before the form's closing boundary (nothing is kept of it).
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
    counts = {"parts": 0, "text": 0, "headers": 0}

    def on_part_begin() -> None:
        part.reset()
        counts["parts"] += 1
        counts["headers"] = 0
        if counts["parts"] > _PARTS_LIMIT:
            raise DataError(f"the form has more than {_PARTS_LIMIT} parts; send one file")

    def count_header(n: int) -> None:
        counts["headers"] += n
        if counts["headers"] > _HEADER_LIMIT:
            raise TooLarge(_HEADER_LIMIT, "a form part's headers")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        count_header(end - start)
        part.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        count_header(end - start)
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
            counts["text"] += end - start
            if counts["text"] > FIELDS_LIMIT:
                raise DataError(
                    f"the form's text fields are over {format_size(FIELDS_LIMIT)} together "
                    f"(at field {part.name[:100]!r}); upload large text as a file"
                )
            part.value += data[start:end]

    def on_part_end() -> None:
        if not part.is_file:
            form.fields[part.name] = part.value.decode("utf-8", "replace")

    def on_end() -> None:
        form.complete = True

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
            "on_end": on_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        if not form.complete:
            raise DataError(
                "the upload ended before the form's closing boundary: the file arrived "
                "incomplete (the connection dropped, or the sender stopped); nothing was "
                "kept, send it again"
            )
    except FormParserError as exc:
        for fh in out:
            fh.close()
        form.discard()
        raise DataError(
            f"the request is not a well-formed form upload ({exc}); send the file as "
            "multipart/form-data, as a browser or curl -F does"
        ) from None
    except BaseException:
        for fh in out:
            fh.close()
        form.discard()
        raise
    for fh in out:
        fh.close()
    return form


async def json_body(request: Request) -> object:
    """The request's JSON body; ``DataError`` (422) when it is not JSON, never a 500.

    NaN and infinities are refused (JSON has none), and so is nesting deep
    enough to exhaust Python's parser. The body's size is bounded before this
    reads it (:class:`~keymoments.web.middleware.BodyLimit`).
    """
    raw = await request.body()

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    try:
        return json.loads(raw, parse_constant=refuse)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"the request body is not valid JSON ({first})") from None
