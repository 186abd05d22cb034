"""Readers: events and cases files into engine tables, with an account of what was read.

The engine does the row work: a file is registered with it, the key columns
are cleaned and parsed as Ibis expressions, and the result is computed once
into a temporary table. Rows that cannot be used are set aside with a reason,
never dropped silently: ``report.rows == report.used + report.n_set_aside``.

    read_events(path, *, columns: ColumnMap, engine: Engine) -> EventLog
    read_cases(path, *, case_id: str, engine: Engine) -> CaseTable
    write_set_aside(reports: list[ReadReport], path, engine) -> int   # rows written

EventLog.table columns: case_id (string), activity (string), timestamp
(timestamp, UTC, no zone), row (int64, 1-based position in the file), plus every
other source column unchanged.  CaseTable.table: case_id (string) + every
other column of the file (numbers as numbers where the whole column parses).

Example:
    >>> from keymoments.data.engine import connect
    >>> from keymoments.model import ColumnMap
    >>> log = read_events("tests/data/running-example.xes", columns=ColumnMap(), engine=connect())
    >>> log.report.rows, log.report.used
    (42, 42)
"""

from __future__ import annotations

import re
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from keymoments.data.columns import resolve_column
from keymoments.data.engine import MAX_LINE_BYTES, Engine, is_interrupt
from keymoments.data.sniff import Sniffed, sniff, transcode_to_utf8
from keymoments.data.tables import read_xlsx, xes_table
from keymoments.data.timestamps import parse_timestamps
from keymoments.data.writing import FORMULA_STARTS, atomic_path, neutralise_text
from keymoments.errors import DataError
from keymoments.model import ColumnMap

__all__ = [
    "FORMULA_STARTS",
    "CaseTable",
    "EventLog",
    "ReadReport",
    "neutralise_text",
    "read_cases",
    "read_events",
    "write_set_aside",
]

# Internal column names in the materialised table; chosen not to meet real headers.
_ROW = "__km_row"
_CASE = "__km_case"
_ACTIVITY = "__km_activity"
_TS = "__km_ts"
_REASON = "__km_reason"

_EXPECTED = {
    "events": "expected one event per row with a case id, an activity and a timestamp",
    "cases": "expected one case per row with a case id and its survey answers or outcomes",
}
_FORMAT_LABEL = {
    "csv": "CSV",
    "parquet": "Parquet",
    "jsonl": "JSON Lines",
    "xes": "XES",
    "xlsx": "XLSX",
}
# DuckDB cannot read these itself; they are copied to UTF-8 first.
_TRANSCODE = {"cp1252"}


@dataclass
class ReadReport:
    """What was read from one file: rows, rows used, rows set aside by reason.

    ``format`` is the format the file was read as (``csv``, ``parquet``,
    ``jsonl``, ``xes``, ``xlsx``); ``columns`` maps each key role
    (``case_id``, ``activity``, ``timestamp``) to the source column used.
    """

    file: str
    kind: str  # "events" or "cases"
    rows: int
    used: int
    set_aside: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # columns: file, row, reason, record (lazy; kept out of the repr, which it would swamp)
    set_aside_rows: ibis.Table | None = field(default=None, repr=False)
    format: str = ""
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def n_set_aside(self) -> int:
        """How many rows were set aside, for every reason."""
        return sum(self.set_aside.values())

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe summary (without the set-aside rows themselves)."""
        return {
            "file": self.file,
            "kind": self.kind,
            "rows": self.rows,
            "used": self.used,
            "set_aside": dict(self.set_aside),
            "notes": list(self.notes),
        }


@dataclass
class EventLog:
    """The events table (``case_id``, ``activity``, ``timestamp``, ``row``, ...) and its report."""

    table: ibis.Table
    report: ReadReport


@dataclass
class CaseTable:
    """The cases table (``case_id`` and every other column) and its report."""

    table: ibis.Table
    report: ReadReport


# -- opening a file as an engine table ---------------------------------------------


@dataclass
class _Source:
    table: ibis.Table
    sniffed: Sniffed
    has_row: bool = False  # the table already carries _ROW (XES)
    csv_rejects: tuple[str, str] | None = None  # (errors table, scans table) of DuckDB
    json_columns: bool = False  # all-null rows mean a line that was not JSON
    notes: list[str] = field(default_factory=list)


class _ParserState(DataError):
    """DuckDB's CSV parser stopped on a character it could not place (a bare CR)."""


@contextmanager
def _engine_errors(name: str, what: str, engine: Engine) -> Iterator[None]:
    """Turn engine and library failures on a user's file into one readable DataError."""
    try:
        yield
    except DataError:
        raise
    except RuntimeError as exc:
        if is_interrupt(exc):
            raise KeyboardInterrupt from None  # Ctrl-C during a query: not the file's fault
        raise
    except (
        *engine.errors,
        pa.ArrowException,
        ibis.common.exceptions.IbisError,
        OSError,
    ) as exc:
        if is_interrupt(exc):
            raise KeyboardInterrupt from None
        text = str(exc).strip()
        if "Maximum line size" in text:
            raise DataError(
                f"{name}: a line is longer than {MAX_LINE_BYTES // 2**20} MB; expected one "
                "record per line (an unclosed quote joins every line after it into one)"
            ) from None
        lines = [line.strip(" :") for line in text.splitlines() if line.strip(" :")]
        # Py4J's first line only names the Java call ("An error occurred while calling
        # o41.parquet."); Spark's own reason is on the next
        if len(lines) > 1 and lines[0].startswith("An error occurred while calling"):
            lines = lines[1:]
        first = lines[0] if lines else type(exc).__name__
        if "state machine reached an invalid state" in text:
            raise _ParserState(f"{name}: cannot read it as {what} ({first})") from None
        raise DataError(f"{name}: cannot read it as {what} ({first})") from None


def _open(
    path: Path, sniffed: Sniffed, engine: Engine, tmp: Path, *, bare_cr: bool = False
) -> _Source:
    """Register ``path`` with the engine (CSV columns all as text)."""
    name = path.name
    fmt = sniffed.format
    label = _FORMAT_LABEL[fmt]
    with _engine_errors(name, label, engine):
        if fmt == "csv":
            return _open_csv(path, sniffed, engine, tmp, bare_cr=bare_cr)
        if fmt == "parquet":
            return _Source(engine.read_parquet(path), sniffed, has_row=True)
        if fmt == "jsonl":
            table = engine.read_json(path, array=sniffed.json_array)
            return _Source(table, sniffed, has_row=_ROW in table.columns, json_columns=True)
        if fmt == "xes":
            return _Source(xes_table(path, engine, tmp), sniffed, has_row=True)
        if fmt == "xlsx":
            return _Source(read_xlsx(path, engine), sniffed)
    raise AssertionError(fmt)  # pragma: no cover - sniff() only returns known formats


def _open_csv(
    path: Path, sniffed: Sniffed, engine: Engine, tmp: Path, *, bare_cr: bool = False
) -> _Source:
    source = path
    encoding = sniffed.encoding
    compressed = sniffed.compressed
    notes: list[str] = []
    if encoding in _TRANSCODE or bare_cr or not engine.reads_csv_in(encoding):
        source = engine.scratch / f"transcoded-{uuid.uuid4().hex[:8]}.csv"
        turned = transcode_to_utf8(
            path, sniffed.python_encoding, source, compressed=compressed, bare_cr=bare_cr
        )
        encoding, compressed = "utf-8", False
        if turned:
            notes.append(
                f"{turned:,} bare carriage return{'s' if turned != 1 else ''} (a CR without "
                "a LF) read as line ends, as Spark reads them: each piece of a line one "
                "splits is a line of its own, set aside as malformed unless it has every field"
            )
    table, rejects = engine.read_csv_text(
        source,
        delimiter=sniffed.delimiter,
        header=sniffed.header,
        encoding=encoding,
        compressed=compressed,
    )
    return _Source(table, sniffed, has_row=_ROW in table.columns, csv_rejects=rejects, notes=notes)


# empty, or starting or ending with one of the characters ``strip`` removes
_EDGE_BLANK = r"^$|^[ \t\n\r\x0b\x0c]|[ \t\n\r\x0b\x0c]$"


def _as_text(col: ir.Value) -> ir.StringValue:
    """A column as trimmed text, with empty strings as NULL."""
    dtype = col.type()
    if dtype.is_json():
        text = col.unwrap_as(dt.string).coalesce(col.cast(dt.string))  # type: ignore[attr-defined]
    elif dtype.is_floating():
        # 12.0 read from a spreadsheet or JSON is the case id "12", not "12.0".
        text = ibis.ifelse(
            col == col.round(0),  # type: ignore[attr-defined]
            col.cast(dt.int64).cast(dt.string),
            col.cast(dt.string),
        )
    else:
        text = col.cast(dt.string)
    # Trimming copies every string; most values need none, and finding the few
    # that do costs less than the copy (a fifth of the reading time at 10M events).
    needs_trim = text.re_search(_EDGE_BLANK)
    return ibis.ifelse(needs_trim, text.strip().nullif(""), text)


def _malformed(engine: Engine, source: _Source, file: str) -> pa.Table | None:
    """Lines the CSV reader rejected, as (row, record) with 1-based data-row numbers."""
    if source.csv_rejects is None:
        return None
    errors, scans = source.csv_rejects
    cur = engine.con.raw_sql(
        f'SELECT DISTINCT line, csv_line FROM "{errors}" '
        f'WHERE scan_id = (SELECT max(scan_id) FROM "{errors}") ORDER BY line'
    )
    found = cur.fetchall()
    for table in (errors, scans):
        engine.con.raw_sql(f'DROP TABLE IF EXISTS "{table}"')
    if not found:
        return None
    # The header is line 1, so data row = line - 1 (exact unless quoted fields hold newlines).
    rows = [int(line) - 1 for line, _ in found]
    records = [str(text).strip("\r\n") for _, text in found]
    return pa.table(
        {
            "file": pa.array([file] * len(rows), pa.string()),
            "row": pa.array(rows, pa.int64()),
            "reason": pa.array(["malformed line"] * len(rows), pa.string()),
            "record": pa.array(records, pa.string()),
        }
    )


def _shift_rows(table: ibis.Table, rejected: list[int], engine: Engine) -> ibis.Table:
    """Renumber rows so they count the rejected lines too (file positions again).

    Good row ``n`` sits after every rejected line ``q_j`` (the j-th) with
    ``q_j - j < n``; an as-of join finds how many such lines there are.
    """
    thresholds: dict[int, int] = {}
    for j, q in enumerate(sorted(rejected), start=1):
        thresholds[q - j] = j
    marks = engine.from_arrow(
        pa.table(
            {
                "__km_t": pa.array(list(thresholds), pa.int64()),
                "__km_k": pa.array(list(thresholds.values()), pa.int64()),
            }
        ),
        prefix="marks",
    )
    joined = table.asof_join(marks, on=table[_ROW] > marks["__km_t"])
    shifted = joined.mutate(**{_ROW: joined[_ROW] + joined["__km_k"].fill_null(0)}).drop(
        "__km_t", "__km_k"
    )
    return engine.materialise(shifted.order_by(_ROW), prefix="events")


def _not_a_record(source: _Source, raw: ibis.Table, available: list[str]) -> ir.BooleanValue:
    """True for a JSON line that parsed to nothing (the reader's mark of a bad line)."""
    if source.json_columns:
        return ibis.and_(*(raw[c].isnull() for c in available))
    if "__km_malformed" in raw.columns:
        return raw["__km_malformed"]
    return ibis.literal(False)


def _tally(
    engine: Engine, table: ibis.Table, source: _Source, name: str
) -> tuple[ibis.Table, int, dict[str, int], pa.Table | None]:
    """Rows read and set aside by reason, the CSV reader's rejected lines included.

    Returns the table with file row numbers corrected for those lines, the total,
    the reasons and the rejected lines themselves.
    """
    total, reasons = _counts(engine, table)
    malformed = _malformed(engine, source, name)
    if malformed is not None:
        table = _shift_rows(table, malformed["row"].to_pylist(), engine)
        reasons["malformed line"] = reasons.get("malformed line", 0) + malformed.num_rows
        total += malformed.num_rows
    return table, total, reasons, malformed


def _usable(name: str, kind: str, sniffed: Sniffed, total: int, reasons: dict[str, int]) -> int:
    """Rows left to use; an empty file or one with nothing usable is an error."""
    if total == 0:
        raise _empty_error(name, kind, sniffed)
    used = total - sum(reasons.values())
    if used == 0:
        raise _nothing_usable(name, kind, total, reasons)
    return used


def _counts(engine: Engine, table: ibis.Table) -> tuple[int, dict[str, int]]:
    per = engine.to_pandas(table.group_by(_REASON).aggregate(n=table.count()))
    total = int(per["n"].sum()) if len(per) else 0
    reasons = {
        str(r): int(n) for r, n in zip(per[_REASON], per["n"], strict=True) if isinstance(r, str)
    }
    return total, reasons


def _set_aside_table(
    engine: Engine,
    table: ibis.Table,
    record: Callable[[ibis.Table], dict[str, ir.Value]],
    file: str,
    malformed: pa.Table | None,
) -> ibis.Table:
    """The set-aside rows: ``record`` gives the fields (as read) to show for a row."""
    bad = table.filter(table[_REASON].notnull())
    fields = record(bad)
    text = ibis.struct(fields).cast(dt.JSON).cast(dt.string) if fields else ibis.literal("{}")
    rows = bad.select(
        file=ibis.literal(file, dt.string),
        row=bad[_ROW].cast(dt.int64),
        reason=bad[_REASON],
        record=text,
    )
    if malformed is not None:
        rows = rows.union(engine.from_arrow(malformed, prefix="rejected"))
    return rows.order_by("row")


def _empty_error(name: str, kind: str, sniffed: Sniffed) -> DataError:
    if sniffed.format == "csv":
        return DataError(f"{name}: no rows after the header; {_EXPECTED[kind]}")
    return DataError(f"{name}: no rows in the file; {_EXPECTED[kind]}")


def _nothing_usable(name: str, kind: str, rows: int, reasons: dict[str, int]) -> DataError:
    why = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    return DataError(f"{name}: none of the {rows} rows could be used ({why}); {_EXPECTED[kind]}")


def _unique_names(wanted: list[str], taken: set[str], notes: list[str]) -> dict[str, str]:
    """Output names for other source columns, renaming any that clash with the key names."""
    names: dict[str, str] = {}
    for col in wanted:
        new = col
        while new in taken:
            new = f"{new}_source"
        if new != col:
            notes.append(f"column {col!r} renamed {new!r} (its name is used by keymoments)")
        taken.add(new)
        names[col] = new
    return names


# A header cell that reads as a date or time is a row of data in the header's place.
_LOOKS_LIKE_DATA = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4})")


@contextmanager
def _header_hints(name: str, sniffed: Sniffed, example: str) -> Iterator[None]:
    """Add what the header itself suggests to a missing-column error."""
    try:
        yield
    except DataError as exc:
        header = sniffed.header
        hint = ""
        if sniffed.format == "csv" and any(_LOOKS_LIKE_DATA.match(h) for h in header):
            hint = (
                " The first line looks like a row of data, not a header: add a header line "
                f"naming the columns ({example})."
            )
        elif sniffed.format == "csv" and len(header) == 1:
            hint = (
                " The header was read as one column: keymoments splits columns at "
                "commas, semicolons, tabs or '|'; save the file with one of those."
            )
        if not hint:
            raise
        raise DataError(f"{exc}{hint}") from None


def _check_repeated_headers(name: str, sniffed: Sniffed, keys: dict[str, str]) -> list[str]:
    """Notes on header names given twice; an error when a key column is one of them."""
    positions: dict[str, list[int]] = {}
    for i, h in enumerate(sniffed.header, start=1):
        positions.setdefault(h.strip(), []).append(i)
    notes = []
    for header, where in positions.items():
        if len(where) < 2 or not header:
            continue
        columns = " and ".join(str(i) for i in where)
        roles = [role.replace("_", " ") for role, col in keys.items() if col == header]
        if roles:
            raise DataError(
                f"{name}: the header names column {header!r} {len(where)} times (columns "
                f"{columns}), so which one holds the {roles[0]} is unclear; rename the others"
            )
        notes.append(
            f"column {header!r} appears {len(where)} times in the header (columns {columns}); "
            "the repeats are read with a suffix (_1, _2, ...)"
        )
    return notes


def _file_name(path: Path) -> str:
    return path.name


# -- events -----------------------------------------------------------------------


def read_events(path: str | Path, *, columns: ColumnMap, engine: Engine) -> EventLog:
    """Read an events file (CSV, Parquet, JSON Lines, XES, XLSX) into the engine.

    Rows with no case id, no activity or a missing or unparseable timestamp,
    and lines that are not well formed, are set aside and counted in
    ``log.report``. Raises :class:`DataError` when the file is missing, empty,
    unreadable, lacks a key column or has no usable row.

    Example:
        >>> from keymoments.data.engine import connect
        >>> from keymoments.model import ColumnMap
        >>> log = read_events("tests/data/running-example.xes", columns=ColumnMap(),
        ...                   engine=connect())
        >>> log.table.columns[:4]
        ('case_id', 'activity', 'timestamp', 'row')
        >>> log.report.notes[0]
        "case id: using column 'case:concept:name' (no column named 'case_id')"
    """
    p = Path(path)
    name = _file_name(p)
    sniffed = sniff(p)
    with tempfile.TemporaryDirectory(prefix="keymoments-") as tmp:
        try:
            return _read_events(p, name, sniffed, columns, engine, Path(tmp))
        except _ParserState:
            # a bare CR (old Mac line ends, or one inside a quoted field after DuckDB's
            # sample) stops DuckDB's parser; read such CRs as line ends, as Spark does
            return _read_events(p, name, sniffed, columns, engine, Path(tmp), bare_cr=True)


def _read_events(
    p: Path,
    name: str,
    sniffed: Sniffed,
    columns: ColumnMap,
    engine: Engine,
    tmp: Path,
    *,
    bare_cr: bool = False,
) -> EventLog:
    source = _open(p, sniffed, engine, tmp, bare_cr=bare_cr)
    raw = source.table
    notes = [*sniffed.notes, *source.notes]
    available = [c for c in raw.columns if c not in (_ROW, "__km_malformed")]
    keys: dict[str, str] = {}
    for key in ("case_id", "activity", "timestamp"):
        with _header_hints(name, sniffed, "case_id,activity,timestamp"):
            col, note = resolve_column(getattr(columns, key), available, key=key, file=name)
        keys[key] = col
        if note:
            notes.append(note)
    notes.extend(_check_repeated_headers(name, sniffed, keys))
    label = _FORMAT_LABEL[sniffed.format]
    case_col, activity_col, ts_col = keys["case_id"], keys["activity"], keys["timestamp"]
    with _engine_errors(name, label, engine):
        if not source.has_row:
            # a copy in file order numbers its rows for free (a window would not)
            raw = engine.row_numbers(engine.materialise(raw, prefix="raw"))
        parsed_ts = parse_timestamps(
            raw[ts_col], engine=engine, timestamp_format=columns.timestamp_format
        )
        notes.extend(parsed_ts.notes)
        row = raw[_ROW]
        all_null = _not_a_record(source, raw, available)
        # The cleaned case id and activity replace the source columns (one copy of
        # each in memory); the timestamp keeps its source text beside the parsed
        # value, so a set-aside row shows what could not be parsed, unless the
        # source is already a plain timestamp and the two would be one column twice.
        ts_as_read = raw[ts_col].type().is_timestamp() and raw[ts_col].type().timezone is None
        dropped = {case_col, activity_col} - {ts_col}
        if ts_as_read:
            dropped.add(ts_col)
        parsed = raw.mutate(
            **{
                _ROW: row,
                _CASE: _as_text(raw[case_col]),
                _ACTIVITY: _as_text(raw[activity_col]),
                _TS: parsed_ts.expr,
                "__km_all_null": all_null,
            }
        ).drop(*dropped)
        table = engine.materialise(parsed, prefix="events")
        ts_source = table[_TS] if ts_as_read else _as_text(table[ts_col])
        reason = ibis.cases(
            (table["__km_all_null"], "malformed line"),
            (table[_CASE].isnull(), "no case id"),
            (table[_ACTIVITY].isnull(), "no activity"),
            (ts_source.isnull() & table[_TS].isnull(), "no timestamp"),
            (table[_TS].isnull(), "unparseable timestamp"),
            else_=ibis.null(dt.string),
        )
        table = table.mutate(**{_REASON: reason})
        table, total, reasons, malformed = _tally(engine, table, source, name)
    used = _usable(name, "events", sniffed, total, reasons)
    others = [c for c in available if c not in keys.values()]
    out_names = _unique_names(others, {"case_id", "activity", "timestamp", "row"}, notes)
    good = table.filter(table[_REASON].isnull())
    events = good.select(
        case_id=good[_CASE],
        activity=good[_ACTIVITY],
        timestamp=good[_TS],
        row=good[_ROW].cast(dt.int64),
        **{out_names[c]: good[c] for c in others},
    )

    def record(t: ibis.Table) -> dict[str, ir.Value]:
        cleaned = {case_col: t[_CASE], activity_col: t[_ACTIVITY]}
        if ts_as_read:
            cleaned[ts_col] = t[_TS]
        return {c: cleaned[c] if c in cleaned else t[c] for c in available}

    report = ReadReport(
        file=name,
        kind="events",
        rows=total,
        used=used,
        set_aside=reasons,
        notes=notes,
        set_aside_rows=_set_aside_table(engine, table, record, name, malformed),
        format=sniffed.format,
        columns=keys,
    )
    return EventLog(table=events, report=report)


# -- cases ------------------------------------------------------------------------


def _numeric_types(engine: Engine, table: ibis.Table, names: list[str]) -> dict[str, dt.DataType]:
    """For text columns: the number (or boolean) type every non-empty value parses as."""
    if not names:
        return {}
    measures: dict[str, ir.Scalar] = {}
    for i, c in enumerate(names):
        col = table[c].strip()
        col = ibis.ifelse(col == "", ibis.null(dt.string), col)
        measures[f"n{i}"] = col.count()
        as_float = col.try_cast(dt.float64)
        # DuckDB rounds "1.5" to the integer 2, so whole numbers are checked as such.
        whole = as_float == col.try_cast(dt.int64).cast(dt.float64)
        measures[f"i{i}"] = whole.nullif(False).count()
        measures[f"f{i}"] = as_float.count()
        measures[f"b{i}"] = col.try_cast(dt.boolean).count()
    counts = engine.to_pandas(table.aggregate(**measures)).iloc[0]
    types: dict[str, dt.DataType] = {}
    for i, c in enumerate(names):
        n = int(counts[f"n{i}"])
        if n == 0:
            continue
        for prefix, dtype in (("i", dt.int64), ("f", dt.float64), ("b", dt.boolean)):
            if int(counts[f"{prefix}{i}"]) == n:
                types[c] = dtype
                break
    return types


def read_cases(path: str | Path, *, case_id: str | None, engine: Engine) -> CaseTable:
    """Read a cases file (CSV, Parquet, JSON Lines, XLSX): one row per case.

    Rows without a case id and repeats of a case id already seen are set
    aside (the first row of each case is kept). Text columns whose every value
    is a number become numbers. ``case_id=None`` numbers the rows instead (a
    survey without ids: each row is one respondent).

    Example:
        >>> import tempfile, pathlib
        >>> from keymoments.data.engine import connect
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "cases.csv"
        >>> _ = p.write_text("Case ID,score\\n1,4\\n2,5\\n1,3\\n")
        >>> cases = read_cases(p, case_id="case_id", engine=connect())
        >>> cases.report.used, cases.report.set_aside
        (2, {'duplicate case id': 1})
    """
    p = Path(path)
    name = _file_name(p)
    sniffed = sniff(p)
    if sniffed.format == "xes":
        raise DataError(
            f"{name}: an XES event log is not a cases table; {_EXPECTED['cases']} "
            "(CSV, Parquet, JSON Lines or XLSX)"
        )
    with tempfile.TemporaryDirectory(prefix="keymoments-") as tmp:
        try:
            return _read_cases(p, name, sniffed, case_id, engine, Path(tmp))
        except _ParserState:  # a bare CR: see read_events
            return _read_cases(p, name, sniffed, case_id, engine, Path(tmp), bare_cr=True)


def _read_cases(
    p: Path,
    name: str,
    sniffed: Sniffed,
    case_id: str | None,
    engine: Engine,
    tmp: Path,
    *,
    bare_cr: bool = False,
) -> CaseTable:
    source = _open(p, sniffed, engine, tmp, bare_cr=bare_cr)
    raw = source.table
    notes = [*sniffed.notes, *source.notes]
    available = [c for c in raw.columns if c not in (_ROW, "__km_malformed")]
    key_col: str | None = None
    if case_id is not None:
        with _header_hints(name, sniffed, "case_id and the survey's columns"):
            key_col, note = resolve_column(case_id, available, key="cases_case_id", file=name)
        if note:
            notes.append(note)
        notes.extend(_check_repeated_headers(name, sniffed, {"case_id": key_col}))
    else:
        notes.append("no case id column: each row is one respondent, numbered from 1")
    label = _FORMAT_LABEL[sniffed.format]
    with _engine_errors(name, label, engine):
        if not source.has_row:
            raw = engine.row_numbers(raw)
        row_number = raw[_ROW]
        case = _as_text(raw[key_col]) if key_col is not None else row_number.cast(dt.string)
        all_null = _not_a_record(source, raw, available)
        numbered = raw.mutate(
            **{
                _CASE: case,
                "__km_all_null": all_null,
            }
        )
        first = ibis.row_number().over(group_by=numbered[_CASE], order_by=numbered[_ROW])
        reason = ibis.cases(
            (numbered["__km_all_null"], "malformed line"),
            (numbered[_CASE].isnull(), "no case id"),
            (first > 0, "duplicate case id"),
            else_=ibis.null(dt.string),
        )
        parsed = numbered.mutate(**{_REASON: reason}).drop("__km_all_null")
        table = engine.materialise(parsed.order_by(_ROW), prefix="cases")
        table, total, reasons, malformed = _tally(engine, table, source, name)
        others = [c for c in available if c != key_col]
        good = table.filter(table[_REASON].isnull())
        text_cols = [c for c in others if table[c].type().is_string()]
        casts = _numeric_types(engine, good, text_cols) if sniffed.format == "csv" else {}
    used = _usable(name, "cases", sniffed, total, reasons)
    out_names = _unique_names(others, {"case_id"}, notes)
    cases = good.select(
        case_id=good[_CASE],
        **{
            out_names[c]: (good[c].strip().try_cast(casts[c]) if c in casts else good[c])
            for c in others
        },
    )
    report = ReadReport(
        file=name,
        kind="cases",
        rows=total,
        used=used,
        set_aside=reasons,
        notes=notes,
        set_aside_rows=_set_aside_table(
            engine, table, lambda t: {c: t[c] for c in available}, name, malformed
        ),
        format=sniffed.format,
        columns={"case_id": key_col or "(row number)"},
    )
    return CaseTable(table=cases, report=report)


# -- writing set-aside rows ----------------------------------------------------------


def _neutralise(col: ir.StringValue) -> ir.StringValue:
    """Prefix ``'`` to text a spreadsheet would run as a formula (CSV injection)."""
    first = col.substr(0, 1)
    risky = first.isin(list(FORMULA_STARTS))
    return ibis.ifelse(risky, "'" + col, col)


def write_set_aside(reports: list[ReadReport], path: str | Path, engine: Engine) -> int:
    """Write every report's set-aside rows to one CSV (``file,row,reason,record``).

    Returns how many rows were written; writes nothing (no file) and returns 0
    when no row was set aside. Text that a spreadsheet would take for a
    formula is prefixed with ``'``.

    Example:
        >>> import tempfile, pathlib
        >>> from keymoments.data.engine import connect
        >>> eng = connect()
        >>> log = read_events("tests/data/running-example.xes", columns=ColumnMap(), engine=eng)
        >>> write_set_aside([log.report], pathlib.Path(tempfile.mkdtemp()) / "aside.csv", eng)
        0
    """
    parts = [
        r.set_aside_rows for r in reports if r.set_aside_rows is not None and r.n_set_aside > 0
    ]
    if not parts:
        return 0
    rows = parts[0]
    for part in parts[1:]:
        rows = rows.union(part)
    safe = rows.select(
        file=_neutralise(rows.file),
        row=rows.row,
        reason=_neutralise(rows.reason),
        record=_neutralise(rows.record.fill_null("")),
    )
    n = int(engine.to_pandas(safe.count()))
    if n == 0:
        return 0
    failures: tuple[type[BaseException], ...] = (*engine.errors, OSError)
    try:
        with atomic_path(path) as tmp:  # whole or not at all, even on Ctrl-C
            engine.write_csv(safe, tmp)
    except failures as exc:
        raise DataError(f"{path}: cannot write the set-aside rows ({exc})") from None
    return n
