"""Turning a timestamp column, whatever its type or text format, into naive UTC instants.

ISO 8601 (with or without a zone, ``T`` or space, fractional seconds, date
only, or ``2014/10/22 11:15:41.000``) is tried first. When most of a sample will
not parse that way, a short list of common day-first and month-first formats is
tried on the sample and the one that parses most values wins.

Example:
    >>> import ibis
    >>> from keymoments.data.engine import connect
    >>> eng = connect()
    >>> t = eng.from_arrow(ibis.memtable({"ts": ["2020-01-01T10:00:00+02:00"]}).to_pyarrow())
    >>> parsed = parse_timestamps(t.ts, engine=eng)
    >>> str(eng.to_pandas(parsed.expr.name("ts"))[0])
    '2020-01-01 08:00:00'
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from keymoments.data.engine import Engine

__all__ = ["COMMON_FORMATS", "ParsedTimestamps", "parse_timestamps"]

SAMPLE_SIZE = 2000

# Tried in this order: on a tie, the earlier (day-first) format wins.
COMMON_FORMATS = (
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S.%f",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S.%f",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d/%m/%y %H:%M",
    "%d/%m/%y",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
    "%d %b %Y %H:%M:%S",
    "%d %b %Y",
)


@dataclass
class ParsedTimestamps:
    """A naive-UTC timestamp expression and how it was obtained."""

    expr: ir.TimestampValue
    format: str | None = None  # strftime format used, None for ISO or typed columns
    notes: list[str] = field(default_factory=list)


def _iso(col: ir.StringValue, engine: Engine) -> ir.TimestampValue:
    return engine.iso_timestamp(col)


def _strptime(col: ir.StringValue, fmt: str, engine: Engine) -> ir.TimestampValue:
    parsed = engine.try_strptime(col, fmt)
    if "%z" in fmt or "%Z" in fmt:
        return parsed.cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp())
    return parsed


def _ambiguous(fmt: str) -> str | None:
    """The month-first twin of a day-first format (or the reverse)."""
    if fmt.startswith("%d/%m/"):
        return "%m/%d/" + fmt[len("%d/%m/") :]
    if fmt.startswith("%m/%d/"):
        return "%d/%m/" + fmt[len("%m/%d/") :]
    return None


def parse_timestamps(
    col: ir.Value, *, engine: Engine, timestamp_format: str | None = None
) -> ParsedTimestamps:
    """A naive UTC timestamp expression for ``col``; unparseable values become NULL.

    Typed timestamp and date columns are used as they are (a zoned one is
    converted to UTC). Text is parsed with ``timestamp_format`` when given,
    else as ISO 8601, else with the best of :data:`COMMON_FORMATS` on a sample.
    """
    dtype = col.type()
    if dtype.is_timestamp():
        if dtype.timezone is not None:
            return ParsedTimestamps(col.cast(dt.Timestamp()))
        return ParsedTimestamps(col)
    if dtype.is_date():
        return ParsedTimestamps(col.cast(dt.Timestamp()))
    # The ISO cast ignores surrounding blanks itself; strptime does not.
    text = col if dtype.is_string() else col.cast(dt.string)
    if timestamp_format:
        return ParsedTimestamps(
            _strptime(text.strip(), timestamp_format, engine),
            timestamp_format,
            [f"timestamps: read with the given format {timestamp_format!r}"],
        )
    sample_table = (
        text.strip()
        .name("v")
        .as_table()
        .filter(lambda t: t.v.notnull() & (t.v != ""))
        .limit(SAMPLE_SIZE)
    )
    # One aggregate over the sample scores ISO and every candidate format in one scan.
    agg = sample_table.aggregate(
        n=sample_table.v.count(),
        iso=_iso(sample_table.v, engine).count(),
        **{
            f"f{i}": _strptime(sample_table.v, fmt, engine).count()
            for i, fmt in enumerate(COMMON_FORMATS)
        },
    )
    row = engine.to_pandas(agg).iloc[0]
    n = int(row["n"])
    iso = int(row["iso"])
    if n == 0 or iso == n:
        return ParsedTimestamps(_iso(text, engine))
    if iso >= 0.5 * n:
        return _iso_and_another(text, sample_table, engine)
    counts = [int(row[f"f{i}"]) for i in range(len(COMMON_FORMATS))]
    best = max(range(len(COMMON_FORMATS)), key=lambda i: (counts[i], -i))
    if counts[best] <= iso:
        return ParsedTimestamps(_iso(text, engine))
    fmt = COMMON_FORMATS[best]
    notes = [f"timestamps: not ISO 8601; read with format {fmt!r}"]
    notes.extend(_twin_note(fmt, counts))
    parsed = _strptime(text.strip(), fmt, engine)
    if iso:
        # ISO 8601 is unambiguous, so values written that way are read that way too
        parsed = parsed.coalesce(_iso(text, engine))
        notes.append("timestamps: values in ISO 8601 among them read as ISO")
    return ParsedTimestamps(parsed, fmt, notes)


def _twin_note(fmt: str, counts: list[int]) -> list[str]:
    twin = _ambiguous(fmt)
    if twin is not None and counts[COMMON_FORMATS.index(twin)] == counts[COMMON_FORMATS.index(fmt)]:
        return [
            "timestamps: day and month cannot be told apart in these dates; read them "
            "day first (set columns.timestamp_format to read them month first)"
        ]
    return []


def _iso_and_another(text: ir.StringValue, sample: ir.Table, engine: Engine) -> ParsedTimestamps:
    """Mostly ISO 8601: the rest of the sample may share one other format (two systems
    merged into one export); if so, both are read, ISO first."""
    rest = sample.filter(_iso(sample.v, engine).isnull())
    agg = rest.aggregate(
        m=rest.v.count(),
        **{f"f{i}": _strptime(rest.v, fmt, engine).count() for i, fmt in enumerate(COMMON_FORMATS)},
    )
    row = engine.to_pandas(agg).iloc[0]
    counts = [int(row[f"f{i}"]) for i in range(len(COMMON_FORMATS))]
    best = max(range(len(COMMON_FORMATS)), key=lambda i: (counts[i], -i))
    if counts[best] == 0:
        return ParsedTimestamps(_iso(text, engine))
    fmt = COMMON_FORMATS[best]
    notes = [
        f"timestamps: mostly ISO 8601; {counts[best]:,} of the {int(row['m']):,} other values "
        f"in the sample read with format {fmt!r}",
        *_twin_note(fmt, counts),
    ]
    parsed = _iso(text, engine).coalesce(_strptime(text.strip(), fmt, engine))
    return ParsedTimestamps(parsed, fmt, notes)
