"""Compressed uploads: how much they unpack to, checked before anything reads them.

A ``.csv.gz`` of a few kilobytes can unpack to terabytes (a "zip bomb"), and an
``.xlsx`` is a zip archive too. The upload limit counts the bytes sent; this
module counts the bytes a reader would get, by unpacking the file once in
chunks (memory stays flat) and stopping as soon as it crosses the bound. A
Parquet file compresses inside (a column of one value repeated 100 million
times takes a few kilobytes); its footer says how many values it holds, and
the engine holds at least :data:`PARQUET_VALUE_BYTES` bytes for each while it
reads, so that is the size checked, without decoding anything:

- at most :data:`INFLATE_FACTOR` times the upload limit in all, and
- beyond :data:`RATIO_FLOOR` bytes, at most :data:`MAX_RATIO` times the
  compressed size (real exports compress 5–20 times; a bomb, thousands).

Either way the upload is refused with 413 and a message saying what to do.

Example:
    >>> import gzip, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "events.csv.gz"
    >>> _ = path.write_bytes(gzip.compress(b"case_id,activity\\n" * 1000))
    >>> unpacked_size(path, ".csv.gz", limit=10**6)
    17000
"""

from __future__ import annotations

import gzip
import zipfile
import zlib
from pathlib import Path
from typing import Protocol

from keymoments.web.uploads import TooLarge, format_size

__all__ = [
    "INFLATE_FACTOR",
    "MAX_RATIO",
    "PARQUET_VALUE_BYTES",
    "RATIO_FLOOR",
    "Inflated",
    "check_unpacked",
    "unpacked_size",
]

INFLATE_FACTOR = 10
MAX_RATIO = 200
# What the engine holds for one decoded value at least (DuckDB's string is 16 bytes).
PARQUET_VALUE_BYTES = 16
RATIO_FLOOR = 100 * 2**20
_CHUNK = 2**20


class Inflated(TooLarge):
    """A compressed upload that unpacks to more than the server accepts."""

    def __init__(self, name: str, bound: int, packed: int) -> None:
        self.limit = bound
        Exception.__init__(
            self,
            f"{name}: unpacks to more than {format_size(bound)} from {format_size(packed)} "
            f"compressed; this server reads at most {INFLATE_FACTOR}× its upload limit "
            f"unpacked, and no more than {MAX_RATIO}× the compressed size (a file that "
            "unpacks further is refused as a possible zip bomb). Upload the file "
            "uncompressed, or split it",
        )


def _bound(packed: int, limit: int, total: int) -> int:
    """The most ``total`` unpacked bytes may be, for ``packed`` bytes sent."""
    by_ratio = max(RATIO_FLOOR, MAX_RATIO * packed)
    return min(INFLATE_FACTOR * limit, by_ratio) if total > RATIO_FLOOR else INFLATE_FACTOR * limit


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def _count(stream: _Readable, packed: int, limit: int, start: int = 0) -> int:
    total = start
    while chunk := stream.read(_CHUNK):
        total += len(chunk)
        if total > _bound(packed, limit, total):
            raise _Over(total)
    return total


class _Over(Exception):
    def __init__(self, total: int) -> None:
        self.total = total


def unpacked_size(path: Path, suffix: str, *, limit: int, name: str | None = None) -> int | None:
    """Bytes ``path`` unpacks to (``None`` when it is not compressed).

    Raises :class:`Inflated` (a 413) as soon as the unpacked bytes cross the
    bound, and ``OSError``/``zipfile.BadZipFile`` for a damaged archive.
    """
    packed = path.stat().st_size
    shown = name or path.name
    try:
        if suffix.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return _count(fh, packed, limit)
        if suffix in (".parquet", ".pq"):
            total = _parquet_decoded(path)
            if total > _bound(packed, limit, total):
                raise _Over(total)
            return total
        if suffix == ".xlsx":
            total = 0
            with zipfile.ZipFile(path) as archive:
                for member in archive.infolist():
                    with archive.open(member) as fh:
                        total = _count(fh, packed, limit, total)
            return total
    except _Over as over:
        raise Inflated(shown, _bound(packed, limit, over.total), packed) from None
    return None


def _parquet_decoded(path: Path) -> int:
    """What reading a Parquet file takes at least, from its footer alone."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    by_values = meta.num_rows * max(meta.num_columns, 1) * PARQUET_VALUE_BYTES
    plain = sum(
        meta.row_group(i).column(j).total_uncompressed_size
        for i in range(meta.num_row_groups)
        for j in range(meta.num_columns)
    )
    return max(by_values, plain)


def check_unpacked(path: Path, suffix: str, *, limit: int, name: str) -> None:
    """Refuse a compressed upload that unpacks too far, or that cannot be unpacked.

    Raises :class:`Inflated` (413) or :class:`~keymoments.errors.DataError` (422).
    """
    import pyarrow as pa

    from keymoments.errors import DataError

    try:
        unpacked_size(path, suffix, limit=limit, name=name)
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile, pa.ArrowException) as exc:
        kinds = {".xlsx": "Excel (zip)", ".parquet": "Parquet", ".pq": "Parquet"}
        kind = "gzip" if suffix.endswith(".gz") else kinds.get(suffix, suffix)
        raise DataError(
            f"{name}: not a readable {kind} file ({exc}); is it complete? upload it again"
        ) from None
