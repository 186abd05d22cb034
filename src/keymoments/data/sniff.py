"""Looking at the first bytes of a file: its format, text encoding, delimiter and header.

Only a small sample is read here (64 KiB, decompressed when gzipped); the rows
themselves are left to the engine.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "events.txt"
    >>> _ = p.write_text("case;activity;time\\n1;a;2020-01-01\\n", encoding="utf-8")
    >>> s = sniff(p)
    >>> s.format, s.delimiter, s.header
    ('csv', ';', ['case', 'activity', 'time'])
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from keymoments.errors import DataError

__all__ = ["FORMATS", "Sniffed", "sniff", "transcode_to_utf8"]

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
FORMATS = ("csv", "parquet", "jsonl", "xes", "xlsx")

# Extensions after stripping a trailing ".gz".
_BY_EXTENSION = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".xes": "xes",
    ".xlsx": "xlsx",
}
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


@dataclass
class Sniffed:
    """What the first bytes of a file say about it."""

    format: str
    compressed: bool = False
    encoding: str = "utf-8"  # a name DuckDB's read_csv understands
    python_encoding: str = "utf-8"  # the codec to decode it in Python
    delimiter: str = ","
    header: list[str] = field(default_factory=list)
    has_data_line: bool = False  # a non-blank line after the header in the sample
    json_array: bool = False  # a JSON document holding one array, not JSON Lines
    notes: list[str] = field(default_factory=list)


def _head(path: Path) -> tuple[bytes, bool]:
    """The first bytes of the file (decompressed if gzipped) and whether it was gzipped."""
    with path.open("rb") as fh:
        raw = fh.read(SAMPLE_BYTES)
    if not raw.startswith(b"\x1f\x8b"):
        return raw, False
    # A truncated .gz is still readable at its start; read what we can.
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = b""
    with path.open("rb") as fh:
        while len(out) < SAMPLE_BYTES:
            chunk = fh.read(SAMPLE_BYTES)
            if not chunk:
                break
            try:
                out += decomp.decompress(chunk, SAMPLE_BYTES - len(out))
            except zlib.error as exc:
                raise DataError(
                    f"{path.name}: the gzip data is damaged ({exc}); compress the file again"
                ) from None
            if decomp.eof:
                break
    return out, True


def _format_from_name(path: Path) -> str | None:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return _BY_EXTENSION.get(suffixes[-1]) if suffixes else None


def _format_from_content(head: bytes) -> str | None:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"<?xml", b"<log", b"<!--")):
        return "xes"
    if text.startswith((b"{", b"[")):
        return "jsonl"
    if _looks_binary(head):
        return None
    return "csv"


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    sample = head[:4096]
    if not sample:
        return False
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13, 12))
    return b"\x00" in sample or controls / len(sample) > 0.05


def _encoding(head: bytes) -> tuple[str, str, str | None]:
    """(DuckDB encoding, Python codec, note) for a text sample."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", "utf-8-sig", "encoding: UTF-8 with a byte-order mark"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "utf-16", "encoding: UTF-16"
    # The sample may end inside a multi-byte character: cut at the last newline.
    cut = head.rfind(b"\n")
    sample = head if cut < 0 or len(head) < SAMPLE_BYTES else head[: cut + 1]
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8", "utf-8", None
    # Bytes 0x80-0x9F are control characters in Latin-1 but letters and signs
    # (€, ’, “) in Windows-1252, which is what spreadsheets on Windows write.
    if any(0x80 <= b <= 0x9F for b in sample):
        try:
            sample.decode("cp1252")
        except UnicodeDecodeError:
            pass
        else:
            return "cp1252", "cp1252", "encoding: Windows-1252 (not UTF-8)"
    return "latin-1", "latin-1", "encoding: Latin-1 (not UTF-8)"


def _delimiter(lines: list[str]) -> str:
    """The candidate that splits the header into most columns, consistently."""
    best, best_score = ",", (0.0, 0)
    for delim in DELIMITERS:
        rows = list(csv.reader(lines, delimiter=delim))
        if not rows:
            continue
        width = len(rows[0])
        if width < 2:
            continue
        same = sum(1 for r in rows[1:] if len(r) == width)
        consistency = same / (len(rows) - 1) if len(rows) > 1 else 1.0
        score = (consistency, width)
        if score > best_score:
            best, best_score = delim, score
    return best


def sniff(path: Path) -> Sniffed:
    """Format, compression and, for text tables, encoding, delimiter and header of ``path``.

    Raises :class:`DataError` for a missing, empty or unrecognisable file.
    """
    name = path.name
    if not path.exists():
        raise DataError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise DataError(f"{path}: is a folder; give the path of a file")
    try:
        head, compressed = _head(path)
    except OSError as exc:
        raise DataError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    if not head.strip(b" \t\r\n\xef\xbb\xbf\x00\xff\xfe"):
        raise DataError(f"{name}: the file is empty")
    fmt = _format_from_name(path) or _format_from_content(head)
    if fmt is None:
        raise DataError(
            f"{name}: not a format keymoments reads (it looks like binary data); "
            "expected CSV, Parquet, JSON Lines, XES or XLSX"
        )
    found = Sniffed(format=fmt, compressed=compressed)
    if fmt in ("parquet", "xlsx", "xes"):
        return found
    if _looks_binary(head):
        raise DataError(
            f"{name}: looks like binary data, not {'JSON Lines' if fmt == 'jsonl' else 'CSV'} text"
        )
    found.encoding, found.python_encoding, note = _encoding(head)
    if note:
        found.notes.append(note)
    text = head.decode(found.python_encoding, errors="replace")
    if fmt == "jsonl":
        found.json_array = text.lstrip("\ufeff \t\r\n").startswith("[")
        return found
    lines = [ln for ln in io.StringIO(text, newline=None).read().splitlines()]
    if len(head) >= SAMPLE_BYTES and lines:
        lines = lines[:-1]  # the last line of a cut sample is partial
    lines = [ln for ln in lines if ln.strip()][:200]
    if not lines:
        raise DataError(f"{name}: the file is empty")
    found.delimiter = _delimiter(lines)
    found.header = next(csv.reader(lines[:1], delimiter=found.delimiter))
    found.has_data_line = len(lines) > 1
    if found.delimiter != ",":
        found.notes.append(f"delimiter: {_DELIMITER_NAMES[found.delimiter]}")
    return found


def transcode_to_utf8(
    path: Path, encoding: str, target: Path, *, compressed: bool, bare_cr: bool = False
) -> int:
    """Copy a text file to ``target`` as UTF-8, streaming in large blocks.

    Used for encodings the engine cannot read itself (Windows-1252), and with
    ``bare_cr`` to end every line with a line feed: CRLF and a carriage return
    alone alike (see :func:`keymoments.data.readers.read_events`). Returns how
    many carriage returns stood alone.
    """
    opener = gzip.open if compressed else open
    turned = 0
    with (
        opener(path, "rb") as src,  # type: ignore[operator]
        io.TextIOWrapper(src, encoding=encoding, errors="replace", newline="") as reader,
        target.open("w", encoding="utf-8", newline="") as out,
    ):
        if not bare_cr:
            shutil.copyfileobj(reader, out, 1 << 20)
            return 0
        held = ""  # a CR at the end of a block: its LF may start the next one
        while chunk := reader.read(1 << 20):
            text = held + chunk
            held = "\r" if text.endswith("\r") else ""
            # one line end throughout: a CRLF file with a lone CR turned into a LF
            # would hold two kinds of line end, which DuckDB refuses as well
            text = (text[:-1] if held else text).replace("\r\n", "\n")
            turned += text.count("\r")
            out.write(text.replace("\r", "\n"))
        if held:
            out.write("\n")
            turned += 1
    return turned
