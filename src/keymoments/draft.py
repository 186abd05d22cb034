"""A first service model drafted from an export: the columns, the activities, a YAML to edit.

``keymoments init EVENTS`` and the web app's model form both start here. The
export is read by the ordinary readers (every format, every check); the key
columns are guessed when they are not given; each activity is counted and
placed at its typical step; the draft model puts every activity in a moment
of its own, in that order, for the user to merge, mark broken and complete
with outcomes.

Example:
    >>> from keymoments.draft import draft_model
    >>> draft = draft_model("tests/data/running-example.xes")
    >>> draft.columns.activity, draft.n_cases
    ('Activity', 6)
    >>> draft.activity_names[:3]
    ['register request', 'examine casually', 'check ticket']
    >>> service = parse_service(draft.to_yaml())  # loads as it is
    >>> [m.id for m in service.moments][:2]
    ['register_request', 'examine_casually']
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from keymoments.data.activities import profile_activities
from keymoments.data.columns import guess_columns
from keymoments.data.engine import Engine, connect
from keymoments.data.peek import peek
from keymoments.data.readers import ReadReport, read_cases, read_events
from keymoments.errors import DataError
from keymoments.model import ColumnMap, parse_service

__all__ = ["ModelDraft", "draft_model"]

# an outcome is suggested for an activity that ends at least this share of its cases
_ENDING = 0.5
# a text column of the cases table with at most this many values could be a segment
_SEGMENT_VALUES = 12


@dataclass
class ModelDraft:
    """What :func:`draft_model` found in an export, and the draft model it writes.

    ``activities`` has one row per activity in typical order (columns ``activity``,
    ``cases``, ``share``, ``events``, ``step``, ``ends``: see
    :func:`keymoments.data.activities.profile_activities`); ``columns`` the key
    columns used; ``notes`` how they were found and what the reader noticed.
    """

    events_path: Path
    columns: ColumnMap
    activities: pd.DataFrame
    n_cases: int
    n_events: int
    report: ReadReport
    notes: list[str] = field(default_factory=list)
    cases_path: Path | None = None
    cases_report: ReadReport | None = None
    # columns of the cases table: numeric ones (outcome or rating candidates) and
    # text ones with few values (segment candidates), each with its distinct count
    numeric_columns: dict[str, int] = field(default_factory=dict)
    segment_columns: dict[str, int] = field(default_factory=dict)

    @property
    def activity_names(self) -> list[str]:
        """The activities, in typical order (the names a model must use exactly)."""
        return [str(a) for a in self.activities["activity"]]

    @property
    def summary(self) -> pd.DataFrame:
        """The activities table (a copy)."""
        return self.activities.copy()

    def __repr__(self) -> str:
        return (
            f"<ModelDraft {self.events_path.name}: {self.n_cases:,} cases, "
            f"{self.n_events:,} events, {len(self.activities)} activities>"
        )

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe view: columns, counts and the activities."""
        return {
            "events": str(self.events_path),
            "columns": self.columns.model_dump(exclude_none=True),
            "n_cases": self.n_cases,
            "n_events": self.n_events,
            "notes": list(self.notes),
            "activities": [
                {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                for row in self.activities.to_dict(orient="records")
            ],
            "cases_columns": {
                "numeric": dict(self.numeric_columns),
                "segments": dict(self.segment_columns),
            },
        }

    def to_yaml(self, model_path: str | Path | None = None) -> str:
        """The draft model as YAML text, with a comment on every activity.

        ``model_path`` is where the model will be written: the data paths are
        made relative to its folder when they can be. The text loads as a model
        as it is (every activity a moment, no outcome yet); ``keymoments
        analyse`` asks for an outcome until one is added.
        """
        return _render(self, Path(model_path) if model_path is not None else None)

    def write(self, path: str | Path) -> Path:
        """Write :meth:`to_yaml` to ``path`` (checked to load first); returns the path."""
        target = Path(path)
        text = self.to_yaml(target)
        parse_service(text, file=target.name)  # a draft that does not load is a bug
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return target


def draft_model(
    events: str | Path,
    *,
    cases: str | Path | None = None,
    case_id: str | None = None,
    activity: str | None = None,
    timestamp: str | None = None,
    engine: str | Engine = "duckdb",
) -> ModelDraft:
    """Read an export and draft a service model from it.

    The key columns not named by ``case_id``, ``activity`` and ``timestamp`` are
    guessed (:func:`keymoments.data.columns.guess_columns`). With ``cases``, the
    cases table's columns are listed as candidate outcomes and segments.

    Raises :class:`~keymoments.errors.DataError` for a file that cannot be read
    or columns that cannot be found.
    """
    eng = connect(engine)
    path = Path(events)
    given = {"case_id": case_id, "activity": activity, "timestamp": timestamp}
    notes: list[str] = []
    if None in given.values():
        sample = peek(path, engine=eng)
        guessed, notes = guess_columns(sample, file=path.name)
        for key, col in given.items():
            if col is not None and col not in sample.columns:
                raise DataError(
                    f"{path.name}: no column {col!r} for --{key.replace('_', '-')}; the file "
                    f"has columns: {', '.join(repr(str(c)) for c in sample.columns[:30])}"
                )
        chosen = {key: col if col is not None else guessed[key] for key, col in given.items()}
        notes = [
            n
            for n in notes
            if not any(n.startswith(k.replace("_", " ")) for k in given if given[k])
        ]
    else:
        chosen = {k: str(v) for k, v in given.items()}
    columns = ColumnMap(**chosen)
    log = read_events(path, columns=columns, engine=eng)
    activities = profile_activities(log.table, engine=eng)
    draft = ModelDraft(
        events_path=path,
        columns=columns,
        activities=activities,
        n_cases=int(eng.to_pandas(log.table.case_id.nunique())),
        n_events=log.report.used,
        report=log.report,
        notes=[*notes, *[n for n in log.report.notes if not _about_columns(n)]],
    )
    if cases is not None:
        _add_cases(draft, Path(cases), eng)
    return draft


def _about_columns(note: str) -> bool:
    # "case id: using column 'Case ID' (...)": the draft says which columns it uses
    return bool(re.match(r"^(case id|activity|timestamp): using column", note))


def _add_cases(draft: ModelDraft, path: Path, engine: Engine) -> None:
    try:
        table = read_cases(path, case_id=draft.columns.case_id, engine=engine)
    except DataError:
        table = read_cases(path, case_id="case_id", engine=engine)
    if table.report.columns.get("case_id") != draft.columns.case_id:
        draft.columns = draft.columns.model_copy(
            update={"cases_case_id": table.report.columns.get("case_id")}
        )
    t = table.table
    others = [c for c in t.columns if c != "case_id"]
    counts = engine.to_pandas(
        t.aggregate(**{f"n{i}": t[c].nunique() for i, c in enumerate(others)})
    )
    for i, c in enumerate(others):
        n = int(counts[f"n{i}"].iloc[0])
        dtype = t[c].type()
        if dtype.is_numeric() or dtype.is_boolean():
            draft.numeric_columns[c] = n
        elif dtype.is_string() and 1 < n <= _SEGMENT_VALUES:
            draft.segment_columns[c] = n
    draft.cases_path = path
    draft.cases_report = table.report


# -- the YAML text ------------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ ./()'&-]*[A-Za-z0-9_.)]$|^[A-Za-z_]$")


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when it reads back as itself, else double-quoted."""
    if _PLAIN.match(text) and " #" not in text:
        try:
            if yaml.safe_load(text) == text:
                return text
        except yaml.YAMLError:
            pass
    quoted = yaml.safe_dump(text, default_style='"', allow_unicode=True, width=1_000_000)
    return quoted.removesuffix("\n").removesuffix("\n...")


def _ids(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        base = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").lower() or "activity"
        candidate, k = base, 2
        while candidate in seen:
            candidate, k = f"{base}_{k}", k + 1
        seen.add(candidate)
        out.append(candidate)
    return out


def _label(name: str) -> str:
    if " " not in name and "_" in name:
        name = name.replace("_", " ")
    return name[:1].upper() + name[1:]


def _where(data: Path, model_path: Path | None) -> str:
    if model_path is None:
        return str(data)
    try:
        relative = os.path.relpath(data.resolve(), model_path.resolve().parent)
    except ValueError:  # another drive on Windows
        return str(data.resolve())
    # beside or below the model: relative, so the folder can move; elsewhere: absolute
    return str(data.resolve()) if relative.startswith("..") else Path(relative).as_posix()


def _render(draft: ModelDraft, model_path: Path | None) -> str:
    acts = draft.activities
    names = draft.activity_names
    ids = _ids(names)
    file = draft.events_path.name
    stem = re.sub(r"(\.gz)$", "", file)
    stem = Path(stem).stem
    lines = [
        f"# A draft service model for {file}, written by `keymoments init`.",
        f"# {draft.n_cases:,} cases, {draft.n_events:,} events, {len(names)} activities.",
        "# Every activity is a moment of its own below, in the log's typical order. Next:",
        "#   1. merge the activities that are one moment (list them under one moment's",
        "#      reached:), name it, give it a stage, and delete moments nobody cares about;",
        "#   2. under broken:, list the activities that mean the moment went wrong;",
        "#   3. add outcomes: what the user and the provider want (suggestions at the end).",
        "# Then: keymoments analyse THIS_FILE.  Reference: docs/service-model.md",
    ]
    for note in draft.notes:
        lines.append(f"# read: {note}")
    lines += [
        "version: 1",
        f"name: {_scalar(_label(stem))}",
        "data:",
        f"  events: {_scalar(_where(draft.events_path, model_path))}",
    ]
    if draft.cases_path is not None:
        lines.append(f"  cases: {_scalar(_where(draft.cases_path, model_path))}")
    lines.append("columns:")
    for key, value in draft.columns.model_dump(exclude_none=True).items():
        lines.append(f"  {key}: {_scalar(str(value))}")
    lines += [
        "# volume: 1000   # cases a year: turns gains per case into gains a year",
        "# currency: GBP  # shown with every money figure",
        "moments:",
    ]
    for i, row in enumerate(acts.itertuples(index=False)):
        lines += [
            f"  # {row.cases:,} cases ({row.share:.1%}), {row.events:,} events, "
            f"typical step {row.step:.1f}, last event of {row.ends:,} cases",
            f"  - id: {_scalar(ids[i])}",
            f"    name: {_scalar(_label(str(row.activity)))}",
            "    stage: ''",
            f"    reached: [{_scalar(str(row.activity))}]",
            "    # broken: []",
        ]
    lines += _outcome_lines(draft)
    if draft.segment_columns:
        lines.append("# segments: fit the journey per group; candidates in the cases table:")
        for col, n in draft.segment_columns.items():
            lines.append(f"#   - {_scalar(col)}   # {n} values")
    return "\n".join(lines) + "\n"


def _outcome_lines(draft: ModelDraft) -> list[str]:
    lines = [
        "outcomes: []   # none yet: replace [] with outcomes such as those below",
        "# A case reaches an outcome when it has one of the activities (perspective: user",
        "# or provider; value: money per case reaching it), for example:",
    ]
    acts = draft.activities
    ending = acts[(acts["ends"] >= _ENDING * acts["cases"]) & (acts["ends"] > 0)]
    ids = dict(zip(draft.activity_names, _ids(draft.activity_names), strict=True))
    for row in ending.sort_values("ends", ascending=False).itertuples(index=False):
        act = str(row.activity)
        lines.append(
            f"#   - {{id: {_scalar(ids[act])}, perspective: provider, "
            f"reached: [{_scalar(act)}]}}   # ends {row.ends:,} cases"
        )
    if ending.empty and len(acts):
        act = str(acts["activity"].iloc[-1])
        lines.append(
            f"#   - {{id: {_scalar(ids[act])}, perspective: provider, reached: [{_scalar(act)}]}}"
        )
    if draft.numeric_columns:
        lines.append("# or a numeric column of the cases table (a rating, a spend):")
        for col, n in draft.numeric_columns.items():
            oid = _ids([col])[0]
            lines.append(
                f"#   - {{id: {_scalar(oid)}, perspective: user, column: {_scalar(col)}}}"
                f"   # {n} values"
            )
    return lines
