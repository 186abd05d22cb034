"""Streaming an XES event log (plain or gzipped) into Parquet chunks.

The XML is read with ``iterparse`` and every element is cleared once used, so
memory stays flat however long the log. Each event becomes one row holding its
attributes under their XES keys (``concept:name``, ``time:timestamp``,
``lifecycle:transition``, ``org:resource``, ...) and its trace's attributes
prefixed ``case:`` (pm4py's convention), plus ``row``, its position in the file.
Values are written as text; :attr:`XesChunks.types` says which XES type each
key had, so the reader can cast them in the engine.

Example:
    >>> import tempfile, pathlib
    >>> chunks = stream_xes(pathlib.Path("tests/data/running-example.xes"),
    ...                     pathlib.Path(tempfile.mkdtemp()))
    >>> chunks.events, chunks.traces
    (42, 6)
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from xml.etree.ElementTree import Element, ParseError, iterparse

import pyarrow as pa
import pyarrow.parquet as pq

from keymoments.errors import DataError

__all__ = ["ROW", "XesChunks", "stream_xes"]

ROW = "__km_row"
CHUNK_ROWS = 100_000
_VALUE_TAGS = {"string", "date", "int", "float", "boolean", "id"}


@dataclass
class XesChunks:
    """The Parquet files an XES log was written to, and what was in it."""

    files: list[Path] = field(default_factory=list)
    types: dict[str, str] = field(default_factory=dict)  # column -> XES type; "mixed" if several
    columns: list[str] = field(default_factory=list)
    events: int = 0
    traces: int = 0


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class _Writer:
    def __init__(self, folder: Path, out: XesChunks) -> None:
        self.folder = folder
        self.out = out
        self.rows: list[dict[str, str | None]] = []

    def add(self, row: dict[str, str | None]) -> None:
        self.out.events += 1
        row[ROW] = str(self.out.events)
        self.rows.append(row)
        if len(self.rows) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        keys = list(dict.fromkeys(k for r in self.rows for k in r))
        for k in keys:
            if k not in self.out.columns and k != ROW:
                self.out.columns.append(k)
        arrays = {k: pa.array([r.get(k) for r in self.rows], pa.string()) for k in keys}
        arrays[ROW] = pa.array([int(r[ROW] or 0) for r in self.rows], pa.int64())
        path = self.folder / f"chunk-{len(self.out.files):05d}.parquet"
        pq.write_table(pa.table(arrays), path)
        self.out.files.append(path)
        self.rows = []


def _attributes(elem: Element, types: dict[str, str], prefix: str = "") -> dict[str, str | None]:
    """The direct typed attributes of a trace or event (nested lists are skipped)."""
    found: dict[str, str | None] = {}
    for child in elem:
        kind = _local(child.tag)
        if kind not in _VALUE_TAGS:
            continue
        key = child.get("key")
        if key is None:
            continue
        name = prefix + key
        found[name] = child.get("value")
        seen = types.setdefault(name, kind)
        if seen != kind:
            types[name] = "mixed"
    return found


def _events(fh: IO[bytes] | gzip.GzipFile, name: str) -> Iterator[tuple[str, Element]]:
    try:
        yield from iterparse(fh, events=("start", "end"))
    except (LookupError, ValueError) as exc:
        # the XML declaration names an encoding Python does not know ("UTF-9") or
        # expat cannot read (multi-byte ones other than UTF-8 and UTF-16)
        raise DataError(
            f"{name}: the XML declares an encoding that cannot be read ({exc}); save the "
            'log as UTF-8 with <?xml version="1.0" encoding="UTF-8"?>'
        ) from None


def stream_xes(path: Path, folder: Path) -> XesChunks:
    """Parse ``path`` (``.xes`` or ``.xes.gz``) into Parquet files under ``folder``.

    Raises :class:`DataError` with the line number when the XML is broken, and
    when the file holds no ``<log>``.
    """
    out = XesChunks()
    writer = _Writer(folder, out)
    with path.open("rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if compressed else open
    depth_trace = False
    trace_attrs: dict[str, str | None] = {}
    pending: list[dict[str, str | None]] = []
    root: Element | None = None
    saw_log = False
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            for kind, elem in _events(fh, path.name):
                tag = _local(elem.tag)
                if kind == "start":
                    if root is None:
                        root = elem
                        saw_log = tag == "log"
                    elif tag == "trace":
                        depth_trace = True
                    continue
                if tag == "event":
                    row = _attributes(elem, out.types)
                    if depth_trace:
                        pending.append(row)
                    else:  # an event outside any trace: no case id, set aside later
                        writer.add(row)
                    elem.clear()
                elif tag == "trace":
                    # Trace attributes may follow its events in the file, so the
                    # trace's events wait here until the trace closes.
                    trace_attrs = _attributes(elem, out.types, prefix="case:")
                    out.traces += 1
                    for row in pending:
                        writer.add({**trace_attrs, **row})
                    pending = []
                    depth_trace = False
                    elem.clear()
                    if root is not None:
                        root.clear()
    except ParseError as exc:
        line, column = exc.position
        raise DataError(
            f"{path.name}, line {line}, column {column}: not valid XML "
            f"({str(exc).split(':')[0]}); expected an XES event log (the file may be "
            "cut short or damaged)"
        ) from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(
            f"{path.name}: the gzip data is damaged or cut short ({exc}); compress the "
            "XES file again"
        ) from None
    if not saw_log:
        raise DataError(f"{path.name}: no <log> element; expected an XES event log")
    writer.flush()
    return out
