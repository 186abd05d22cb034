"""Finding the key columns in a file's header: exact names, then well-known aliases.

Example:
    >>> resolve_column("case_id", ["Case ID", "Activity"], key="case_id", file="log.csv")
    ('Case ID', "case id: using column 'Case ID' (no column named 'case_id')")
"""

from __future__ import annotations

import difflib
import re

import pandas as pd

from keymoments.errors import DataError

__all__ = ["ALIASES", "ROLES", "guess_columns", "resolve_column"]

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


# Parts of a header that hint at a role, when no alias matches exactly.
_HINTS = {
    "case_id": ("case", "trace", "journey", "ticket", "order", "patient", "customer", "id"),
    "activity": ("activity", "event", "action", "task", "step", "status", "stage", "name"),
    "timestamp": ("timestamp", "time", "date", "when", "ts", "at"),
}
_DATE_TEXT = re.compile(r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})")


def _looks_like_time(values: pd.Series) -> bool:
    kind = values.dtype.kind
    if kind == "M":
        return True
    if kind in "biuf":
        return False
    text = values.dropna().astype(str).head(200)
    return len(text) > 0 and text.map(lambda v: bool(_DATE_TEXT.match(v))).mean() >= 0.9


def guess_columns(sample: pd.DataFrame, *, file: str) -> tuple[dict[str, str], list[str]]:
    """Which columns of ``sample`` (the first rows of an event log) hold the case id,
    the activity and the timestamp, with a note for each role guessed.

    Known header names first (``Case ID``, ``concept:name``...); then headers that
    contain a hint (``ticket_no``, ``event_type``, ``created_at``); then the values:
    the timestamp reads as dates, the case id repeats in runs of rows, the activity
    is the text column with the fewest distinct values. Raises :class:`DataError`
    when a role cannot be placed.

    Example:
        >>> import pandas as pd
        >>> sample = pd.DataFrame({"ticket": ["t1", "t1", "t2"], "what": ["open", "close", "open"],
        ...                        "created": ["2024-01-01 10:00", "2024-01-02", "2024-01-03"]})
        >>> guess_columns(sample, file="log.csv")[0]
        {'case_id': 'ticket', 'activity': 'what', 'timestamp': 'created'}
    """
    available = [str(c) for c in sample.columns]
    found: dict[str, str] = {}
    notes: list[str] = []
    for key in ("case_id", "activity", "timestamp"):
        try:
            col, _ = resolve_column(DEFAULTS[key], available, key=key, file=file)
        except DataError:
            continue
        if col not in found.values():
            found[key] = col
    for key, hints in _HINTS.items():
        if key in found:
            continue
        for hint in hints:
            hits = [c for c in available if hint in _fold(c) and c not in found.values()]
            if key == "timestamp":
                hits = [c for c in hits if _looks_like_time(sample[c])]
            if hits:
                found[key] = hits[0]
                notes.append(
                    f"{ROLES[key].removeprefix('the ')}: guessed {hits[0]!r} from its name"
                )
                break
    rest = [c for c in available if c not in found.values()]
    if "timestamp" not in found:
        times = [c for c in rest if _looks_like_time(sample[c])]
        if times:
            found["timestamp"] = times[0]
            notes.append(f"timestamp: guessed {times[0]!r}, whose values read as dates")
            rest.remove(times[0])
    if "case_id" not in found:
        # a log lists each case's events together, so its id repeats row after row
        runs = {c: (sample[c] == sample[c].shift()).mean() for c in rest if sample[c].nunique() > 1}
        if runs:
            best = max(runs, key=lambda c: runs[c])
            if runs[best] > 0:
                found["case_id"] = best
                notes.append(f"case id: guessed {best!r}, whose values repeat in runs of rows")
                rest.remove(best)
    if "activity" not in found:
        texts = [c for c in rest if sample[c].dtype.kind in "OSUT" and sample[c].nunique() > 1] or [
            c for c in rest if sample[c].dtype.kind not in "M" and sample[c].nunique() > 1
        ]
        if texts:
            best = min(texts, key=lambda c: sample[c].nunique())
            found["activity"] = best
            notes.append(f"activity: guessed {best!r}, the text column with fewest values")
    missing = [k for k in ("case_id", "activity", "timestamp") if k not in found]
    if missing:
        roles = " and ".join(ROLES[k] for k in missing)
        shown = ", ".join(repr(c) for c in available[:30])
        flags = " ".join(f"--{k.replace('_', '-')} COLUMN" for k in missing)
        raise DataError(
            f"{file}: cannot tell which column holds {roles}; the file has columns: {shown}. "
            f"Name it with {flags}"
        )
    return {k: found[k] for k in ("case_id", "activity", "timestamp")}, notes
