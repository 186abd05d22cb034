"""The analysis' inputs: files or DataFrames, read and checked against the model.

``analyse``, ``monitor`` and ``code_comments`` take the same inputs (a path, a
DataFrame, or the file the model names) and read them the same way; these are
the steps they share, so that a DataFrame and a file give the same errors and
the same figures.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeAlias

import pandas as pd

from keymoments.data.engine import Engine
from keymoments.data.readers import CaseTable, EventLog, read_cases, read_events
from keymoments.errors import DataError
from keymoments.model import Service

__all__ = [
    "DataInput",
    "apply_filters",
    "as_file",
    "check_columns",
    "column_users",
    "input_path",
    "named_errors",
    "read_case_input",
    "read_case_table",
    "read_event_input",
    "require_mapped_events",
    "resolve_input",
]

DataInput: TypeAlias = str | Path | pd.DataFrame | None


def resolve_input(service: Service, given: DataInput, which: str) -> DataInput:
    if given is not None:
        return given
    path = service.resolve(getattr(service.data, which))
    if path is not None and not path.exists():
        model = f" in {service.source.name}" if service.source is not None else ""
        raise DataError(
            f"{path}: file not found (named by data.{which}{model}, relative to the "
            f"model's folder); check the path, or give the {which} file explicitly"
        )
    return path


def as_file(data: pd.DataFrame, folder: Path, name: str) -> Path:
    """A DataFrame given in Python goes through the same reader as a file would."""
    path = folder / f"{name}.parquet"
    frame = data.copy()
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].map(lambda v: None if pd.isna(v) else str(v))
    frame.to_parquet(path, index=False)
    return path


@contextlib.contextmanager
def named_errors(given: DataInput, path: Path, label: str) -> Iterator[None]:
    """Errors about a DataFrame's temporary file name the DataFrame instead."""
    try:
        yield
    except DataError as exc:
        if not isinstance(given, pd.DataFrame):
            raise
        raise DataError(str(exc).replace(path.name, label)) from None


def read_case_table(service: Service, path: Path, engine: Engine) -> CaseTable:
    """The cases table, its id column named as in the model.

    Without ``columns.cases_case_id`` the events' case column name is tried
    first, then ``case_id`` and its usual spellings: exports often rename the
    events' columns and leave the survey's alone.
    """
    explicit = service.columns.cases_case_id
    if explicit:
        return read_cases(path, case_id=explicit, engine=engine)
    try:
        return read_cases(path, case_id=service.columns.case_id, engine=engine)
    except DataError as first:
        if service.columns.case_id == "case_id":
            raise
        try:
            return read_cases(path, case_id="case_id", engine=engine)
        except DataError:
            raise first from None


def input_path(given: str | Path | pd.DataFrame, folder: Path, name: str) -> Path:
    """The file to read: the path given, or a DataFrame written into ``folder`` first."""
    return as_file(given, folder, name) if isinstance(given, pd.DataFrame) else Path(str(given))


def read_event_input(
    service: Service, given: str | Path | pd.DataFrame, folder: Path, engine: Engine
) -> EventLog:
    """The event log from a path or a DataFrame, its errors and report naming what was given."""
    path = input_path(given, folder, "events")
    with named_errors(given, path, "<events DataFrame>"):
        log = read_events(path, columns=service.columns, engine=engine)
    if isinstance(given, pd.DataFrame):
        log.report.file = "<events DataFrame>"
    return log


def read_case_input(
    service: Service, given: str | Path | pd.DataFrame, folder: Path, engine: Engine
) -> CaseTable:
    """The cases table from a path or a DataFrame, its errors and report naming what was given."""
    path = input_path(given, folder, "cases")
    with named_errors(given, path, "<cases DataFrame>"):
        table = read_case_table(service, path, engine)
    if isinstance(given, pd.DataFrame):
        table.report.file = "<cases DataFrame>"
    return table


def check_columns(service: Service, log: EventLog, cases: CaseTable | None) -> None:
    available = set(log.table.columns) | (set(cases.table.columns) if cases else set())
    for col in service.case_columns:
        if col not in available:
            where = cases.report.file if cases else log.report.file
            names = sorted(cases.table.columns if cases else log.table.columns)
            close = difflib.get_close_matches(col, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            users = column_users(service, col)
            raise DataError(
                f"{where}: no column {col!r} (needed by {users}){hint}; "
                f"columns are: {', '.join(names)}"
                + ("" if cases else "; give a cases table with --cases")
            )


def column_users(service: Service, col: str) -> str:
    """What in the model reads column ``col``, for an error that says why it is needed."""
    users = [f"segment {col!r}"] if col in service.segment_columns else []
    users += [f"moment {m.id!r} rating" for m in service.moments if m.rating == col]
    users += [f"outcome {o.id!r}" for o in service.outcomes if o.column == col]
    users += [f"barrier {b.id!r}" for b in service.barriers if b.column == col]
    users += [f"comments {c.id!r}" for c in service.comments if c.column == col]
    return ", ".join(users)


def apply_filters(service: Service, log: EventLog, engine: Engine) -> tuple[Any, int]:
    """The events the model's ``filters`` keep, and how many they left out."""
    table = log.table
    if not service.filters:
        return table, 0
    for column, values in service.filters.items():
        if column not in table.columns:
            names = sorted(c for c in table.columns if c != "row")
            raise DataError(
                f"{log.report.file}: no column {column!r} to filter on (named under 'filters' "
                f"in the model); columns are: {', '.join(names)}"
            )
        wanted = [v.strip().lower() for v in values]
        table = table.filter(table[column].cast("string").strip().lower().isin(wanted))
    kept = int(engine.to_pandas(table.count()))
    return table, log.report.used - kept


def require_mapped_events(summary: Any, log: EventLog) -> None:
    if summary.n_events_mapped == 0:
        unmapped = ", ".join(summary.unmapped["activity"].astype(str).head(8))
        raise DataError(
            f"{log.report.file}: none of the {summary.n_events} events has an activity named in "
            f"the model; the log's activities include: {unmapped}. Check 'reached'/'broken' "
            "of the moments (activity names must match exactly)"
        )
