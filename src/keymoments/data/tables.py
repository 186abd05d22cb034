"""Formats the engine cannot scan itself, turned into engine tables: XES and XLSX.

XES is streamed into Parquet chunks (see :mod:`keymoments.data.xes`) and its
typed attributes cast in the engine; a spreadsheet's first sheet is read with
openpyxl in read-only mode (spreadsheets are small by nature).

Example:
    >>> import tempfile, pathlib
    >>> from keymoments.data.engine import connect
    >>> eng = connect()
    >>> t = xes_table(pathlib.Path("tests/data/running-example.xes"), eng,
    ...               pathlib.Path(tempfile.mkdtemp()))
    >>> t.schema()["time:timestamp"].is_timestamp()
    True
"""

from __future__ import annotations

import datetime as _dt
import zipfile
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa

from keymoments.data.engine import Engine
from keymoments.data.xes import ROW, stream_xes
from keymoments.errors import DataError

__all__ = ["read_xlsx", "xes_table"]

_XES_CASTS: dict[str, dt.DataType] = {
    "int": dt.int64,
    "float": dt.float64,
    "boolean": dt.boolean,
}


def xes_table(path: Path, engine: Engine, folder: Path) -> ibis.Table:
    """An XES log as an engine table, one row per event, computed into the engine.

    ``folder`` holds the intermediate Parquet files; the returned table no
    longer needs them.
    """
    chunks = stream_xes(path, folder)
    if not chunks.files:
        raise DataError(f"{path.name}: no events in the log; expected <trace> and <event> elements")
    raw = engine.read_parquet_files(chunks.files)
    typed: dict[str, Any] = {ROW: raw[ROW]}
    for col in chunks.columns:
        kind = chunks.types.get(col, "string")
        value = raw[col]
        if kind == "date":
            # Honour each value's own offset, then keep UTC wall-clock time.
            typed[col] = value.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp())
        elif kind in _XES_CASTS:
            typed[col] = value.try_cast(_XES_CASTS[kind])
        else:
            typed[col] = value
    table = engine.materialise(raw.select(**typed).order_by(ROW), prefix="xes")
    engine.forget(raw)
    return table


def _column(values: list[Any]) -> pa.Array:
    """One spreadsheet column as a typed array; mixed columns become text."""
    present = [v for v in values if v is not None and v != ""]
    cleaned = [None if v == "" else v for v in values]
    if present and all(isinstance(v, bool) for v in present):
        return pa.array(cleaned, pa.bool_())
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.array(cleaned, pa.int64())
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pa.array([None if v is None else float(v) for v in cleaned], pa.float64())
    if present and all(isinstance(v, _dt.datetime) for v in present):
        return pa.array(cleaned, pa.timestamp("us"))
    return pa.array([None if v is None else str(v) for v in cleaned], pa.string())


def read_xlsx(path: Path, engine: Engine) -> ibis.Table:
    """The first sheet of a workbook as an engine table (first non-empty row = header)."""
    import openpyxl  # imported here: only spreadsheets need it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DataError(
            f"{path.name}: cannot open it as an XLSX workbook ({exc}); save it from "
            "your spreadsheet as .xlsx, or as CSV"
        ) from None
    try:
        sheet = book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header: list[str] | None = None
        data: list[tuple[Any, ...]] = []
        for values in rows:
            if header is None:
                if any(v not in (None, "") for v in values):
                    header = [
                        str(v).strip() if v not in (None, "") else f"column{i + 1}"
                        for i, v in enumerate(values)
                    ]
                continue
            if any(v not in (None, "") for v in values):
                data.append(values)
    finally:
        book.close()
    if header is None:
        raise DataError(f"{path.name}: the first sheet is empty")
    columns: dict[str, pa.Array] = {}
    for i, name in enumerate(header):
        unique = name
        while unique in columns:
            unique = f"{unique}_{i + 1}"
        columns[unique] = _column([r[i] if i < len(r) else None for r in data])
    return engine.from_arrow(pa.table(columns), prefix="xlsx")
