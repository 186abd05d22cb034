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
import re
import zipfile
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa

from keymoments.data.engine import Engine
from keymoments.data.xes import ROW, stream_xes
from keymoments.errors import DataError

__all__ = ["read_xlsx", "refuse_declared_entities", "xes_table"]

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


# A document type declaration: where XML declares entities (spreadsheets never do).
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY")
# How much of each part is looked at for one: the declaration precedes the first element.
_PROLOG_BYTES = 64 * 1024


def refuse_declared_entities(path: Path) -> None:
    """``DataError`` if any XML part of the workbook declares a document type or entities.

    Excel, LibreOffice and every library that writes XLSX leave them out; a
    declaration is a damaged or hostile file (entities that expand to gigabytes,
    or name files on this machine), refused before any XML parser sees it.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if not member.filename.endswith((".xml", ".rels", ".vml")):
                    continue
                with archive.open(member) as part:
                    head = part.read(_PROLOG_BYTES)
                if _DOCTYPE.search(head):
                    raise DataError(
                        f"{path.name}: its part {member.filename} declares XML entities "
                        "(<!DOCTYPE>), which spreadsheets never write, so it is damaged or "
                        "was made by hand; save it again from your spreadsheet as .xlsx, or "
                        "as CSV"
                    )
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
        raise DataError(
            f"{path.name}: cannot open it as an XLSX workbook ({exc}); save it from "
            "your spreadsheet as .xlsx, or as CSV"
        ) from None


def read_xlsx(path: Path, engine: Engine) -> ibis.Table:
    """The first sheet of a workbook as an engine table (first non-empty row = header)."""
    import openpyxl  # imported here: only spreadsheets need it

    refuse_declared_entities(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, ParseError) as exc:
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
    except (ParseError, zipfile.BadZipFile, KeyError, ValueError, TypeError, EOFError) as exc:
        # the sheet's XML is parsed as the rows are read: damage shows up here
        raise DataError(
            f"{path.name}: the first sheet cannot be read ({str(exc).split(':')[0]}); the "
            "workbook is damaged. Save it again from your spreadsheet as .xlsx, or as CSV"
        ) from None
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
