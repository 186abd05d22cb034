"""The service-model form: its fields to YAML and back.

The form is a flat set of named fields (``moment-0-id``, ``outcome-1-value``,
...). :func:`form_to_yaml` turns them into the YAML of the model file, which
is then validated by the model loader itself
(:func:`keymoments.model.parse_service`), so a mistake in the form is
reported with the same message, line and field the command line would give
for the downloaded file. :func:`yaml_to_form` fills the form from a model.

Example:
    >>> text = form_to_yaml({
    ...     "name": "Clinic", "moment-0-id": "visit", "moment-0-reached": "attended, dna",
    ...     "moment-0-broken": "dna", "outcome-0-id": "seen",
    ...     "outcome-0-perspective": "provider", "outcome-0-reached": "seen",
    ... })
    >>> from keymoments.model import parse_service
    >>> parse_service(text).moments[0].broken
    ['dna']
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

__all__ = ["BLANK_ROWS", "ROW_FIELDS", "form_error", "form_to_yaml", "yaml_to_form"]

# The repeated groups of the form and their fields, in the model file's order.
ROW_FIELDS: dict[str, tuple[str, ...]] = {
    "moment": ("id", "name", "stage", "perspectives", "reached", "broken", "rating"),
    "outcome": ("id", "name", "perspective", "reached", "column", "value"),
    "barrier": ("id", "name", "moment", "column"),
    "intervention": (
        "id",
        "name",
        "moment",
        "barrier",
        "effect",
        "effect_lo",
        "effect_hi",
        "cost",
        "cost_per_case",
    ),
}
# The form's own words for each field (its section, column headers and labels), so an
# error names what the user sees, not a line of the YAML they never wrote.
GROUP_TITLES = {
    "moment": "Moments",
    "outcome": "Outcomes",
    "barrier": "Barriers",
    "intervention": "Interventions",
}
FIELD_LABELS: dict[str, dict[str, str]] = {
    "moment": {"perspectives": "matters to", "reached": "reached by", "broken": "broken by",
               "rating": "rating column"},
    "outcome": {"perspective": "for", "reached": "reached by", "column": "or column"},
    "barrier": {"moment": "at moment", "column": "cases column"},
    "intervention": {"barrier": "or barrier", "effect_range": "range from / to",
                     "cost_per_case": "per case"},
}  # fmt: skip
_TOP_LABELS = {
    "name": "Service, Name",
    "description": "Service, Description",
    "volume": "Service, Cases a year",
    "budget": "Service, Budget",
    "currency": "Service, Currency",
    "segments": "Service, Segments",
    "analysis": "Service, Bootstrap draws",
    "columns": "Columns of the events file",
}
_COLUMN_LABELS = {
    "case_id": "Case id",
    "activity": "Activity",
    "timestamp": "Timestamp",
    "timestamp_format": "Timestamp format",
    "cases_case_id": "Case id in the cases file",
}
# drop-downs always send a value; a row is blank when every typed field is
_SELECTS = {"perspectives", "perspective"}
# top-level keys the form has fields for; every other key of the model is carried over
_FORM_KEYS = {"version", "name", "description", "columns", "volume", "budget", "currency",
              "moments", "outcomes", "segments", "barriers", "interventions"}  # fmt: skip
_NUMBERS = {"value", "effect", "effect_lo", "effect_hi", "cost", "cost_per_case"}
_COLUMNS = ("case_id", "activity", "timestamp", "timestamp_format", "cases_case_id")
BLANK_ROWS = 2  # empty rows offered under each group for adding more
_ROW_KEY = re.compile(r"^(moment|outcome|barrier|intervention)-(\d{1,4})-([a-z_]+)$")


def _number(text: str) -> Any:
    """A number when it reads as one; otherwise the text, for the loader to reject."""
    cleaned = text.replace(",", "").replace("_", "").strip()
    try:
        value = float(cleaned)
    except ValueError:
        return text.strip()
    return int(value) if value.is_integer() and "." not in cleaned else value


def _words(text: str) -> list[str]:
    return [w.strip() for w in re.split(r"[,\n]", text) if w.strip()]


def _rows(fields: Mapping[str, str], group: str) -> list[dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    for key, value in fields.items():
        m = _ROW_KEY.match(key)
        if m and m.group(1) == group and m.group(3) in ROW_FIELDS[group]:
            found.setdefault(int(m.group(2)), {})[m.group(3)] = value.strip()
    # a row whose typed fields are all empty is an unused blank row, whatever its
    # drop-downs say (they always send their first choice)
    return [
        found[i] for i in sorted(found) if any(v for k, v in found[i].items() if k not in _SELECTS)
    ]


def _moment(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.get("id", "")}
    for key in ("name", "stage"):
        if row.get(key):
            out[key] = row[key]
    persp = row.get("perspectives", "both")
    out["perspectives"] = ["user", "provider"] if persp in ("", "both") else _words(persp)
    for key in ("reached", "broken"):
        if row.get(key):
            out[key] = _words(row[key])
    if row.get("rating"):
        out["rating"] = row["rating"]
    return out


def _outcome(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.get("id", "")}
    if row.get("name"):
        out["name"] = row["name"]
    out["perspective"] = row.get("perspective") or "provider"
    if row.get("reached"):
        out["reached"] = _words(row["reached"])
    if row.get("column"):
        out["column"] = row["column"]
    if row.get("value"):
        out["value"] = _number(row["value"])
    return out


def _intervention(row: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": row.get("id", "")}
    for key in ("name", "moment", "barrier"):
        if row.get(key):
            out[key] = row[key]
    out["effect"] = _number(row.get("effect", "")) if row.get("effect") else None
    if row.get("effect_lo") or row.get("effect_hi"):
        out["effect_range"] = [
            _number(row.get("effect_lo", "")),
            _number(row.get("effect_hi", "")),
        ]
    for key in ("cost", "cost_per_case"):
        if row.get(key):
            out[key] = _number(row[key])
    return out


def form_to_yaml(fields: Mapping[str, str]) -> str:
    """The model file (YAML text) the form describes; validate it with ``parse_service``."""
    doc: dict[str, Any] = {"version": 1, "name": fields.get("name", "").strip()}
    if fields.get("description", "").strip():
        doc["description"] = fields["description"].strip()
    columns = {c: fields[f"columns-{c}"].strip() for c in _COLUMNS if fields.get(f"columns-{c}")}
    if columns:
        doc["columns"] = columns
    for key in ("volume", "budget"):
        if fields.get(key, "").strip():
            doc[key] = _number(fields[key])
    if fields.get("currency", "").strip():
        doc["currency"] = fields["currency"].strip()
    doc["moments"] = [_moment(r) for r in _rows(fields, "moment")]
    doc["outcomes"] = [_outcome(r) for r in _rows(fields, "outcome")]
    if fields.get("segments", "").strip():
        doc["segments"] = _words(fields["segments"])
    barriers = [{k: v for k, v in r.items() if v} for r in _rows(fields, "barrier")]
    if barriers:
        doc["barriers"] = barriers
    interventions = [_intervention(r) for r in _rows(fields, "intervention")]
    if interventions:
        doc["interventions"] = interventions
    _carry_over(doc, fields)
    if fields.get("bootstrap", "").strip():
        doc.setdefault("analysis", {})["bootstrap"] = _number(fields["bootstrap"])
    elif isinstance(doc.get("analysis"), dict):
        doc["analysis"].pop("bootstrap", None)
        if not doc["analysis"]:
            del doc["analysis"]
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def _carry_over(doc: dict[str, Any], fields: Mapping[str, str]) -> None:
    """Keep what the form does not show from the model it was filled from (``base_yaml``).

    Filters, memory, changes, analysis settings, comments and their codebook,
    segment bins and each row's settings without a field (``broken_if``,
    ``value_column``...) have no fields; saving the form must not drop them.
    """
    try:
        base = yaml.safe_load(fields.get("base_yaml", "") or "") or {}
    except yaml.YAMLError:
        return
    if not isinstance(base, dict):
        return
    for key, value in base.items():
        if key not in _FORM_KEYS:
            doc[key] = value
    for group, key in _GROUP_KEYS.items():
        shown = (*ROW_FIELDS[group], "effect_range", "perspectives", "perspective")
        kept = {
            str(item.get("id")): item
            for item in base.get(key) or []
            if isinstance(item, dict) and item.get("id") is not None
        }
        for item in doc.get(key) or []:
            old = kept.get(str(item.get("id")))
            if old is None:
                continue
            extra = {k: v for k, v in old.items() if k not in shown and k not in item}
            item.update(extra)
    segments = base.get("segments")
    if isinstance(segments, list) and doc.get("segments"):
        by_column = {
            str(s.get("column")): s for s in segments if isinstance(s, dict) and s.get("column")
        }
        doc["segments"] = [by_column.get(c, c) for c in doc["segments"]]


_GROUP_KEYS = {
    "moment": "moments",
    "outcome": "outcomes",
    "barrier": "barriers",
    "intervention": "interventions",
}
_LOC = re.compile(r"^(moments|outcomes|barriers|interventions)\[(\d+)\](?:\.([a-z_]+))?")


def form_error(exc: Any) -> tuple[str, str | None]:
    """The model loader's message in the form's own words, and the input it is about.

    ``exc`` is the :class:`~keymoments.errors.ModelError` raised for
    :func:`form_to_yaml`'s text. Its field (``moments[1].id``) becomes the
    section, row and column heading of the form as it is shown again with the
    message (blank rows left out, so the n-th filled row is row n), and the
    name of that input (``moment-1-id``), or None when no single input is at fault.

    >>> from keymoments.errors import ModelError
    >>> form_error(ModelError("id '' should be ...", line=9, field="moments[1].id"))
    ("Moments, row 2, id: id '' should be ...", 'moment-1-id')
    """
    reason = str(getattr(exc, "reason", exc))
    field = getattr(exc, "field", None) or ""
    m = _LOC.match(field)
    if m:
        group = next(g for g, k in _GROUP_KEYS.items() if k == m.group(1))
        index, column = int(m.group(2)), m.group(3)
        where = f"{GROUP_TITLES[group]}, row {index + 1}"
        name = None
        if column:
            where += ", " + FIELD_LABELS[group].get(column, column.replace("_", " "))
            input_field = "effect_lo" if column == "effect_range" else column
            if input_field in ROW_FIELDS[group]:
                name = f"{group}-{index}-{input_field}"
        return f"{where}: {reason}", name
    top = field.split(".")[0].split("[")[0]
    if top == "columns" and "." in field:
        column = field.split(".")[1]
        label = _COLUMN_LABELS.get(column, column)
        return f"{_TOP_LABELS['columns']}, {label}: {reason}", f"columns-{column}"
    if top in _TOP_LABELS:
        name = "bootstrap" if top == "analysis" else top
        return f"{_TOP_LABELS[top]}: {reason}", name
    return reason, None


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def yaml_to_form(text: str | None) -> dict[str, Any]:
    """Form values (and row lists) from a model's YAML, for filling the form.

    Returns ``{"fields": {...}, "rows": {group: [dict, ...]}}``; unknown or
    malformed parts are left out (the YAML box still shows the whole text).
    """
    try:
        doc = yaml.safe_load(text or "") or {}
    except yaml.YAMLError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    fields: dict[str, str] = {
        "name": _joined(doc.get("name")),
        "description": _joined(doc.get("description")),
        "volume": _joined(doc.get("volume")),
        "budget": _joined(doc.get("budget")),
        "currency": _joined(doc.get("currency")),
        "segments": ", ".join(
            str(s.get("column")) if isinstance(s, dict) else str(s)
            for s in doc.get("segments") or []
        ),
        "bootstrap": _joined((doc.get("analysis") or {}).get("bootstrap"))
        if isinstance(doc.get("analysis"), dict)
        else "",
    }
    given = doc.get("columns")
    columns: dict[str, Any] = given if isinstance(given, dict) else {}
    for c in _COLUMNS:
        fields[f"columns-{c}"] = _joined(columns.get(c))
    rows: dict[str, list[dict[str, str]]] = {}
    for group, key in (
        ("moment", "moments"),
        ("outcome", "outcomes"),
        ("barrier", "barriers"),
        ("intervention", "interventions"),
    ):
        items = [i for i in doc.get(key) or [] if isinstance(i, dict)]
        out = []
        for item in items:
            row = {f: _joined(item.get(f)) for f in ROW_FIELDS[group]}
            if group == "moment":
                persp = item.get("perspectives") or ["user", "provider"]
                row["perspectives"] = (
                    "both" if set(persp) == {"user", "provider"} else _joined(persp)
                )
            if group == "intervention" and isinstance(item.get("effect_range"), list):
                lo, hi = ([*item["effect_range"], None, None])[:2]
                row["effect_lo"], row["effect_hi"] = _joined(lo), _joined(hi)
            out.append(row)
        rows[group] = out + [dict.fromkeys(ROW_FIELDS[group], "") for _ in range(BLANK_ROWS)]
    return {"fields": fields, "rows": rows}
