"""Readers: events and cases files into engine tables, with an account of what was read.

CONTRACT (the rest of keymoments relies on exactly this; implementation pending):

    read_events(path, *, columns: ColumnMap, engine: Engine) -> EventLog
    read_cases(path, *, case_id: str, engine: Engine) -> CaseTable
    write_set_aside(reports: list[ReadReport], path) -> int   # rows written

EventLog.table columns: case_id (string), activity (string), timestamp
(timestamp, UTC, no zone), row (int64, 1-based position in the file), plus every
other source column unchanged.  CaseTable.table: case_id (string) + every
other column of the file (numbers as numbers where the whole column parses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import ibis

from keymoments.data.engine import Engine
from keymoments.model import ColumnMap

__all__ = ["CaseTable", "EventLog", "ReadReport", "read_cases", "read_events", "write_set_aside"]


@dataclass
class ReadReport:
    """What was read from one file: rows, rows used, rows set aside by reason."""

    file: str
    kind: str  # "events" or "cases"
    rows: int
    used: int
    set_aside: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    set_aside_rows: ibis.Table | None = None  # columns: file, row, reason, record

    @property
    def n_set_aside(self) -> int:
        return sum(self.set_aside.values())

    def to_dict(self) -> dict[str, object]:
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
    table: ibis.Table
    report: ReadReport


@dataclass
class CaseTable:
    table: ibis.Table
    report: ReadReport


def read_events(path: str | Path, *, columns: ColumnMap, engine: Engine) -> EventLog:
    raise NotImplementedError


def read_cases(path: str | Path, *, case_id: str, engine: Engine) -> CaseTable:
    raise NotImplementedError


def write_set_aside(reports: list[ReadReport], path: str | Path, engine: Engine) -> int:
    raise NotImplementedError
