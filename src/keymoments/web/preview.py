"""A first look at an uploaded file: is it a format keymoments reads, and its columns.

Reads only the start of the file (the readers' own sniffing) or its schema,
so it stays quick on files of hundreds of megabytes. The column names fill
the column-mapping choices of the model form.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from keymoments.data.sniff import sniff
from keymoments.errors import KeymomentsError
from keymoments.model import ColumnMap

__all__ = ["XES_COLUMNS", "file_activities", "file_columns"]

# what the XES reader calls the usual attributes (pm4py's convention)
XES_COLUMNS = ["case:concept:name", "concept:name", "time:timestamp", "lifecycle:transition"]


def file_columns(path: Path) -> list[str]:
    """The file's column names (``DataError`` if it is not a format keymoments reads).

    Example:
        >>> file_columns(Path("tests/data/readers/semicolon_crlf.csv"))[:2]
        ['Case ID', 'Activity']
    """
    sniffed = sniff(path)
    if sniffed.format == "csv":
        return list(sniffed.header)
    if sniffed.format == "parquet":
        import pyarrow.parquet as pq

        try:
            return [str(n) for n in pq.read_schema(path).names]
        except Exception:
            return []
    if sniffed.format == "xes":
        return list(XES_COLUMNS)
    if sniffed.format == "jsonl":
        return [] if sniffed.compressed else _json_keys(path)
    if sniffed.format == "xlsx":
        return _xlsx_header(path)
    return []


# The most of a JSON Lines file's first line looked at for its keys.
_FIRST_LINE_BYTES = 1 << 20


def _json_keys(path: Path) -> list[str]:
    with path.open("rb") as fh:
        first = fh.readline(_FIRST_LINE_BYTES).decode("utf-8", "replace").strip()
    try:
        doc = json.loads(first.lstrip("[").rstrip(","))
    except (ValueError, RecursionError):  # not JSON, cut short, or nested thousands deep
        return []
    return [str(k) for k in doc] if isinstance(doc, dict) else []


def _xlsx_header(path: Path) -> list[str]:
    import openpyxl

    from keymoments.data.tables import refuse_declared_entities

    refuse_declared_entities(path)  # DataError: the upload is refused, as analyse would
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:
        return []
    try:
        for values in book.worksheets[0].iter_rows(values_only=True):
            if any(v not in (None, "") for v in values):
                return [str(v).strip() for v in values if v not in (None, "")]
    except Exception:  # a damaged sheet: the reader says why when it is analysed
        return []
    finally:
        book.close()
    return []


def file_activities(path: Path, columns: ColumnMap, limit: int = 300) -> list[tuple[str, int]]:
    """The activities of an events file with their counts, commonest first (at most ``limit``).

    The model form offers them where activities are typed, since the model must
    name them exactly. Read with the model's column names; an empty list when the
    file cannot be read with them (the form then offers nothing, and the run says why).

    Example:
        >>> from keymoments.model import ColumnMap
        >>> file_activities(Path("tests/data/readers/semicolon_crlf.csv"),
        ...                 ColumnMap(case_id="Case ID", activity="Activity",
        ...                           timestamp="Complete Timestamp"))[:1]
        [('register', 2)]
    """
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    return list(_activities(path, stamp, columns.model_dump_json(), limit))


@lru_cache(maxsize=16)
def _activities(path: Path, stamp: int, columns: str, limit: int) -> tuple[tuple[str, int], ...]:
    import ibis

    from keymoments.data.engine import connect
    from keymoments.data.readers import read_events

    engine = connect("duckdb")
    try:
        log = read_events(path, columns=ColumnMap.model_validate_json(columns), engine=engine)
        t = log.table
        counts = t.group_by("activity").aggregate(n=t.count())
        frame = engine.to_pandas(counts.order_by([ibis.desc("n"), "activity"]).limit(limit))
    except (KeymomentsError, OSError):
        return ()
    finally:
        engine.close()
    return tuple((str(a), int(n)) for a, n in zip(frame["activity"], frame["n"], strict=True))
