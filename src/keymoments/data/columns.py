"""Finding the key columns in a file's header: exact names, then well-known aliases.

Example:
    >>> resolve_column("case_id", ["Case ID", "Activity"], key="case_id", file="log.csv")
    ('Case ID', "case id: using column 'Case ID' (no column named 'case_id')")
"""

from __future__ import annotations

import difflib
import re

from keymoments.errors import DataError

__all__ = ["ALIASES", "ROLES", "resolve_column"]

ROLES = {
    "case_id": "the case id",
    "activity": "the activity",
    "timestamp": "the timestamp",
    "cases_case_id": "the case id",
}

# Tried in order when the configured name is the default and is absent: XES
# names first (pm4py's flattened log), then headers common in exports.
ALIASES: dict[str, tuple[str, ...]] = {
    "case_id": (
        "case_id",
        "case:concept:name",
        "Case ID",
        "CaseID",
        "case",
        "case_key",
        "trace_id",
        "trace",
    ),
    "activity": (
        "activity",
        "concept:name",
        "Activity",
        "activity_name",
        "event",
        "event_name",
        "action",
        "task",
    ),
    "timestamp": (
        "timestamp",
        "time:timestamp",
        "Complete Timestamp",
        "complete_timestamp",
        "end_timestamp",
        "end_time",
        "time",
        "datetime",
        "date_time",
        "event_time",
        "date",
        "Start Timestamp",
        "start_time",
    ),
    "cases_case_id": (
        "case_id",
        "case:concept:name",
        "Case ID",
        "CaseID",
        "case",
        "id",
        "trace_id",
    ),
}
DEFAULTS = {"case_id": "case_id", "activity": "activity", "timestamp": "timestamp"}


def _fold(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def resolve_column(
    name: str, available: list[str], *, key: str, file: str
) -> tuple[str, str | None]:
    """The column to use for ``key`` (``case_id``, ``activity``, ``timestamp``,
    ``cases_case_id``) and a note when it is not exactly ``name``.

    Raises :class:`DataError` naming the file, the missing column, the columns
    that exist and the closest match.
    """
    role = ROLES[key]
    label = role.removeprefix("the ")
    if name in available:
        return name, None
    folded: dict[str, list[str]] = {}
    for col in available:
        folded.setdefault(_fold(col), []).append(col)
    same = folded.get(_fold(name), [])
    if len(same) == 1:
        return same[0], f"{label}: using column {same[0]!r} (no column named {name!r})"
    if name == DEFAULTS.get(key, "case_id"):
        for alias in ALIASES[key]:
            hits = folded.get(_fold(alias), [])
            if hits:
                return hits[0], f"{label}: using column {hits[0]!r} (no column named {name!r})"
    lowered = {c.lower(): c for c in available}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    hint = f"; did you mean {lowered[close[0]]!r}?" if close else "."
    shown = ", ".join(repr(c) for c in available[:30])
    more = f" and {len(available) - 30} more" if len(available) > 30 else ""
    setting = f"columns.{key}"
    raise DataError(
        f"{file}: no column {name!r} for {role}{hint} The file has columns: {shown}{more}. "
        f"Rename the column or set {setting} in the service model."
    )
