"""A first look at an uploaded file: is it a format keymoments reads, and its columns.

Reads only the start of the file (the readers' own sniffing) or its schema,
so it stays quick on files of hundreds of megabytes. The column names fill
the column-mapping choices of the model form.
"""

from __future__ import annotations

import json
from pathlib import Path

from keymoments.data.sniff import sniff

__all__ = ["XES_COLUMNS", "file_columns"]

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
