"""The service model: moments, outcomes, segments, barriers and interventions.

A service is declared in one YAML file (version 1, see ``docs/service-model.md``)
and loaded with :func:`load_service`. Every mistake is reported as a
:class:`~keymoments.errors.ModelError` naming the file, the line and the field.

Example:
    >>> from keymoments import Service
    >>> svc = Service.model_validate({
    ...     "version": 1, "name": "Clinic",
    ...     "moments": [{"id": "visit", "reached": ["attended", "dna"], "broken": ["dna"]}],
    ...     "outcomes": [{"id": "seen", "perspective": "provider", "reached": ["seen"]}],
    ... })
    >>> svc.moments[0].perspectives
    ['user', 'provider']
"""

from __future__ import annotations

import datetime
import difflib
import itertools
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from keymoments.errors import ModelError

__all__ = [
    "AnalysisSettings",
    "Barrier",
    "BreakRule",
    "Change",
    "ColumnMap",
    "Comment",
    "DataFiles",
    "DriversSettings",
    "Intervention",
    "Moment",
    "Outcome",
    "Perspective",
    "Segment",
    "Service",
    "Theme",
    "load_service",
    "parse_duration",
]

Perspective = Literal["user", "provider"]
PERSPECTIVES: tuple[Perspective, ...] = ("user", "provider")
_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class _Strict(BaseModel):
    # Unknown fields are nearly always typos ("perspectivs"); reject them with a hint.
    # NaN and infinity (YAML's .nan, .inf, 1e999) are never a sensible cost, volume or effect.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"id {value!r} should be letters, digits, '_', '-' or '.', with no spaces")
    return value


class DataFiles(_Strict):
    """Where the data lives, relative to the model file."""

    events: str | None = None
    cases: str | None = None


class ColumnMap(_Strict):
    """Which source columns hold the case id, the activity and the timestamp.

    ``timestamp_format`` (strftime codes, e.g. ``%d/%m/%Y %H:%M``) is only needed
    when the timestamps are not ISO 8601; ``cases_case_id`` when the cases table
    names its case column differently from the events table.
    """

    case_id: str = "case_id"
    activity: str = "activity"
    timestamp: str = "timestamp"
    timestamp_format: str | None = None
    cases_case_id: str | None = None


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhdw])$")
_UNIT_SECONDS = {"m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Seconds in a duration written as a number and a unit: m, h, d or w.

    Example:
        >>> parse_duration("7d"), parse_duration("18w"), parse_duration("90m")
        (604800.0, 10886400.0, 5400.0)
    """
    found = _DURATION.match(str(text).strip().lower())
    if not found:
        raise ValueError(
            f"duration {text!r} should be a number and a unit: m (minutes), h (hours), "
            "d (days) or w (weeks), e.g. 7d or 18w"
        )
    seconds = float(found.group(1)) * _UNIT_SECONDS[found.group(2)]
    if seconds <= 0:
        raise ValueError(f"duration {text!r} must be longer than zero")
    return seconds


class BreakRule(_Strict):
    """A break that is about time: a visit that came too late, or was not answered in time.

    Two forms (durations in m, h, d, w):

    - ``{waited_over: 7d, since: [test_done]}``: the moment's first event after
      the latest of ``since`` came more than 7 days after it (results given late);
    - ``{no: [offer_returned], within: 20d}``: none of ``no`` happened within 20
      days after the moment's event (an offer never returned in time).

    Example:
        >>> BreakRule.model_validate({"waited_over": "7d", "since": ["test_done"]}).seconds
        604800.0
    """

    waited_over: str | None = None
    since: list[str] | None = None
    no: list[str] | None = None
    within: str | None = None

    @field_validator("waited_over", "within")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one_form(self) -> BreakRule:
        late = self.waited_over is not None or self.since is not None
        unanswered = self.no is not None or self.within is not None
        if late and unanswered:
            raise ValueError(
                "broken_if takes one form: {waited_over: 7d, since: [...]} or "
                "{no: [...], within: 20d}, not both"
            )
        if late and (self.waited_over is None or not self.since):
            raise ValueError(
                "broken_if needs both 'waited_over' (a duration such as 7d) and 'since' "
                "(the activities the wait is counted from)"
            )
        if unanswered and (self.within is None or not self.no):
            raise ValueError(
                "broken_if needs both 'no' (the activities that should follow) and "
                "'within' (a duration such as 20d)"
            )
        if not (late or unanswered):
            raise ValueError(
                "broken_if is empty; write {waited_over: 7d, since: [...]} or "
                "{no: [...], within: 20d}"
            )
        return self

    @property
    def kind(self) -> Literal["late", "unanswered"]:
        """``late`` (waited_over/since) or ``unanswered`` (no/within)."""
        return "late" if self.waited_over is not None else "unanswered"

    @property
    def seconds(self) -> float:
        """The rule's duration in seconds."""
        return parse_duration(self.waited_over or self.within or "")

    @property
    def activities(self) -> list[str]:
        """The activities the rule measures from (``since``) or waits for (``no``)."""
        return list(self.since or self.no or [])

    def describe(self) -> str:
        """The rule in words, for messages and reports."""
        if self.kind == "late":
            return f"over {self.waited_over} since {' or '.join(self.activities)}"
        return f"no {' or '.join(self.activities)} within {self.within}"


class Moment(_Strict):
    """A touchpoint of the service.

    A case *reaches* the moment when one of ``reached`` happens and *breaks* it
    when one of ``broken`` happens (broken activities count as reached too), or
    when its ``broken_if`` rule about time says so (:class:`BreakRule`).
    """

    id: str
    name: str | None = None
    stage: str = ""
    perspectives: list[Perspective] = Field(default_factory=lambda: list(PERSPECTIVES))
    reached: list[str] = Field(default_factory=list)
    broken: list[str] = Field(default_factory=list)
    broken_if: BreakRule | None = None
    rating: str | None = None

    _id = field_validator("id")(_check_id)

    @field_validator("perspectives")
    @classmethod
    def _some_perspective(cls, value: list[Perspective]) -> list[Perspective]:
        if not value:
            raise ValueError("give at least one perspective: user, provider or both")
        return list(dict.fromkeys(value))

    @property
    def label(self) -> str:
        """The name to show people (the id when no name was given)."""
        return self.name or self.id

    @property
    def activities(self) -> list[str]:
        """Every activity that means the moment was reached, broken ones included."""
        return list(dict.fromkeys([*self.reached, *self.broken]))

    @property
    def breakable(self) -> bool:
        """Whether the data can show this moment breaking (an activity or a time rule)."""
        return bool(self.broken) or self.broken_if is not None


class Outcome(_Strict):
    """What a perspective wants: an activity reached, or a numeric cases column.

    ``value`` is money per case achieving it (per unit, for a numeric column).
    With ``value_column`` (a cases column, e.g. the amount of a loan), a case's
    money is ``value`` (default 1) times its value in that column.
    """

    id: str
    name: str | None = None
    perspective: Perspective
    reached: list[str] | None = None
    column: str | None = None
    value: float | None = None
    value_column: str | None = None
    weight: float | None = None

    _id = field_validator("id")(_check_id)

    @model_validator(mode="after")
    def _one_kind(self) -> Outcome:
        if bool(self.reached) == bool(self.column):
            raise ValueError(
                f"outcome {self.id!r} needs exactly one of 'reached' (a list of activities) "
                "or 'column' (a numeric column of the cases table)"
            )
        if self.value_column is not None and self.column:
            raise ValueError(
                f"outcome {self.id!r}: 'value_column' prices an outcome reached through "
                "activities (money = value × the column); a numeric outcome's money is "
                "'value' per unit of its own column"
            )
        return self

    @property
    def money_per_unit(self) -> float | None:
        """Money per unit of the outcome (per case reaching it, or per unit of the
        value column); ``None`` when it carries no money."""
        if self.value is not None:
            return float(self.value)
        return 1.0 if self.value_column is not None else None

    @property
    def kind(self) -> Literal["binary", "numeric"]:
        """``binary`` when reached through activities, ``numeric`` for a cases column."""
        return "binary" if self.reached else "numeric"

    @property
    def label(self) -> str:
        """The name to show people."""
        return self.name or self.id


class Barrier(_Strict):
    """A worry or obstacle some users hold at a moment (a cases column).

    The column is yes/no (also true/false, 1/0) or a scale (1-5, 0-10): a scale
    is held at or above ``threshold``, by default above the middle of its range.
    """

    id: str
    moment: str
    column: str
    name: str | None = None
    # for a scale column (1-5, 0-10): held at or above this value; default: above the middle
    threshold: float | None = None

    _id = field_validator("id")(_check_id)


class Comment(_Strict):
    """A free-text column of the cases table, heard at a moment (see ``docs/comments.md``).

    ``mask_names``: a text file (one name a line, relative to the model file)
    of people's names to mask in the comments, besides e-mail addresses, phone
    numbers, NHS numbers and postcodes, which are always masked.
    """

    id: str
    column: str
    moment: str
    name: str | None = None
    mask_names: str | None = None

    _id = field_validator("id")(_check_id)


class Theme(_Strict):
    """A theme of a codebook: comments that use any of its patterns hold it.

    Patterns are words or phrases matched case-insensitively as whole words,
    plurals included (``doctor`` matches "doctors", ``car`` not "scared"); a
    pattern between slashes (``/appoint?ments?/``) is a regular expression.
    A coded theme is a barrier of its comments' moment.

    Example:
        >>> Theme.model_validate({"id": "transport", "comments": "worries",
        ...                       "patterns": ["bus", "get there"]}).label
        'transport'
    """

    id: str
    name: str | None = None
    comments: str
    patterns: list[str] = Field(min_length=1)

    _id = field_validator("id")(_check_id)

    @field_validator("patterns")
    @classmethod
    def _readable(cls, value: list[str]) -> list[str]:
        out = []
        for pattern in value:
            text = str(pattern).strip()
            if len(text) > 2 and text.startswith("/") and text.endswith("/"):
                try:
                    re.compile(text[1:-1])
                except re.error as exc:
                    raise ValueError(
                        f"pattern {text!r} is not a valid regular expression ({exc}); "
                        "write a word or phrase, or fix the expression between the slashes"
                    ) from None
            elif not any(ch.isalnum() for ch in text):
                raise ValueError(
                    f"pattern {text!r} has no letter or digit; write a word or phrase "
                    "(bus, get there) or a /regular expression/"
                )
            out.append(text)
        return out

    @property
    def label(self) -> str:
        """The name to show people (the id when no name was given)."""
        return self.name or self.id


class Intervention(_Strict):
    """A change with a cost that lowers a moment's break rate or a barrier's prevalence."""

    id: str
    name: str | None = None
    moment: str | None = None
    barrier: str | None = None
    effect: float
    effect_range: tuple[float, float] | None = None
    cost: float = 0.0
    cost_per_case: float = 0.0

    _id = field_validator("id")(_check_id)

    @model_validator(mode="after")
    def _target_and_effect(self) -> Intervention:
        if bool(self.moment) == bool(self.barrier):
            raise ValueError(
                f"intervention {self.id!r} needs exactly one target: 'moment' or 'barrier'"
            )
        if not -1.0 <= self.effect <= 1.0:
            raise ValueError(
                f"effect {self.effect} is a relative change and must lie between -1 and 1 "
                "(-0.25 means a quarter fewer breaks)"
            )
        if self.effect_range is not None:
            lo, hi = sorted(self.effect_range)
            if not lo <= self.effect <= hi:
                raise ValueError(f"effect {self.effect} lies outside its effect_range [{lo}, {hi}]")
            self.effect_range = (lo, hi)
        if self.cost < 0 or self.cost_per_case < 0:
            raise ValueError("cost and cost_per_case cannot be negative")
        return self


class Change(_Strict):
    """A change made to the service on a date, checked by ``keymoments monitor``.

    ``moments`` are the moments whose break rate it meant to change (default:
    the moment of its ``intervention``); ``intervention`` names the model's
    intervention it put in place, whose ``effect`` is what it promised.

    Example:
        >>> Change.model_validate(
        ...     {"id": "sms", "date": "2024-03-01", "moments": ["appointment"]}
        ... ).date.isoformat()
        '2024-03-01'
    """

    id: str
    date: datetime.date
    name: str | None = None
    moments: list[str] = Field(default_factory=list)
    intervention: str | None = None

    _id = field_validator("id")(_check_id)

    @model_validator(mode="after")
    def _something_changed(self) -> Change:
        if not self.moments and self.intervention is None:
            raise ValueError(
                f"change {self.id!r} needs the moments it changed ('moments: [...]') or "
                "the 'intervention' it put in place"
            )
        self.moments = list(dict.fromkeys(self.moments))
        return self

    @property
    def label(self) -> str:
        """The name to show people."""
        return self.name or self.id


class Segment(_Strict):
    """A cases column to fit and combine by; a numeric one can be cut into bands.

    ``bins`` are the cut points, ascending: ``[50, 70]`` gives the bands
    "below 50", "50 to under 70" and "70 and over". In the model file a plain
    column name (``segments: [severity]``) is a segment without bins.
    """

    column: str
    bins: list[float] | None = None

    @field_validator("bins")
    @classmethod
    def _ascending(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            if not value:
                raise ValueError("give at least one cut point in 'bins'")
            if any(b <= a for a, b in itertools.pairwise(value)):
                raise ValueError(f"bins must increase strictly, got {value}")
        return value


class DriversSettings(_Strict):
    """How the survey drivers are measured (``analysis: {drivers: {...}}``).

    ``missing``: ``pairwise`` (each correlation from everyone who answered
    both; the default) or ``listwise`` (only respondents who answered every
    rating). ``exact_limit``: up to this many rated moments LMG is exact over
    all subsets; above it, ``samples`` orders are sampled. ``low``/``high``:
    penalty–reward cut points in rating points (default: thirds of each
    scale). ``by_segment``: also measure the drivers within each segment and
    test the differences.
    """

    missing: Literal["pairwise", "listwise"] = "pairwise"
    exact_limit: int = Field(24, ge=1, le=30)
    samples: int = Field(4000, ge=2, le=1_000_000)
    low: float | None = None
    high: float | None = None
    by_segment: bool = False


class AnalysisSettings(_Strict):
    """How the analysis runs; every field has a sensible default."""

    bootstrap: int = Field(200, ge=0, le=100_000)
    seed: int = 0
    confidence: float = Field(0.95, gt=0.5, lt=1.0)
    key_gearing: float = Field(1.5, gt=0.0)
    # a key moment's recoverable is at least this share of the outcome's standard
    # deviation across cases (a trivial moment is not key for being the only one)
    key_min_effect: float = Field(0.01, ge=0.0)
    # barrier models fitted again within each segment, with a test of whether
    # a barrier's effect differs between segments
    barriers_by_segment: bool = False
    drivers: DriversSettings = Field(default_factory=DriversSettings)


class _Problem(ValueError):
    """A cross-reference problem, with the path of the field it concerns."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc


class Service(_Strict):
    """A service: the root of the model file."""

    version: int
    name: str
    description: str | None = None
    data: DataFiles = Field(default_factory=DataFiles)
    columns: ColumnMap = Field(default_factory=ColumnMap)
    volume: float | None = Field(None, ge=0)
    budget: float | None = Field(None, ge=0)
    # shown with every money figure (GBP, EUR, £...)
    currency: str | None = None
    # which breaks the journey chain remembers: auto (chosen from the data), none
    # (a first-order chain) or a list of moment ids (see docs/concepts.md)
    memory: Literal["auto", "none"] | list[str] = "auto"
    moments: list[Moment] = Field(min_length=1)
    outcomes: list[Outcome] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    # keep only events whose column holds one of the values (case ignored), e.g.
    # {"lifecycle:transition": [complete]} for logs that record starts and ends
    filters: dict[str, list[str]] = Field(default_factory=dict)
    barriers: list[Barrier] = Field(default_factory=list)
    # free-text columns at moments, and the codebook that turns them into barriers
    comments: list[Comment] = Field(default_factory=list)
    themes: list[Theme] = Field(default_factory=list)
    interventions: list[Intervention] = Field(default_factory=list)
    # changes made to the service on a date, for keymoments monitor
    changes: list[Change] = Field(default_factory=list)
    analysis: AnalysisSettings = Field(default_factory=AnalysisSettings)

    # Where the model was read from; relative data paths resolve against it.
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("segments", mode="before")
    @classmethod
    def _plain_names(cls, value: Any) -> Any:
        # `segments: [severity]` names columns; a mapping adds bins
        if isinstance(value, list):
            return [{"column": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != 1:
            raise ValueError(
                f"unknown version {value}: this keymoments reads service models of version 1"
            )
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> Service:
        for loc, message in [*self._problems(), *self._change_problems()]:
            raise _Problem(loc, message)
        return self

    def _problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for section in ("moments", "outcomes", "barriers", "comments", "themes", "interventions"):
            seen: dict[str, int] = {}
            for i, item in enumerate(getattr(self, section)):
                if item.id in seen:
                    problems.append(
                        (
                            (section, i, "id"),
                            f"duplicate id {item.id!r} (also {section}[{seen[item.id]}]); "
                            "give each one its own id",
                        )
                    )
                seen.setdefault(item.id, i)
        owner: dict[str, str] = {}
        for i, m in enumerate(self.moments):
            for activity in m.activities:
                if activity in owner and owner[activity] != m.id:
                    problems.append(
                        (
                            ("moments", i, "reached"),
                            f"activity {activity!r} is mapped to two moments, "
                            f"{owner[activity]!r} and {m.id!r}; an activity can mark only one",
                        )
                    )
                owner.setdefault(activity, m.id)
        moment_ids = [m.id for m in self.moments]
        barrier_ids = [b.id for b in self.barriers]
        for i, b in enumerate(self.barriers):
            if b.moment not in moment_ids:
                problems.append(
                    (("barriers", i, "moment"), _unknown("moment", b.moment, moment_ids))
                )
        problems += self._comment_problems(moment_ids, barrier_ids)
        # a coded theme is a barrier of its moment: interventions may target it
        barrier_ids += [t.id for t in self.themes]
        for i, iv in enumerate(self.interventions):
            if iv.moment is not None and iv.moment not in moment_ids:
                problems.append(
                    (("interventions", i, "moment"), _unknown("moment", iv.moment, moment_ids))
                )
            if iv.barrier is not None and iv.barrier not in barrier_ids:
                problems.append(
                    (("interventions", i, "barrier"), _unknown("barrier", iv.barrier, barrier_ids))
                )
            if iv.moment is not None and iv.moment in moment_ids:
                target = next(m for m in self.moments if m.id == iv.moment)
                if not target.breakable:
                    problems.append(
                        (
                            ("interventions", i, "moment"),
                            f"moment {iv.moment!r} has no 'broken' activities (nor a "
                            "'broken_if' rule), so an intervention cannot lower its break "
                            "rate; add 'broken' to the moment",
                        )
                    )
        if isinstance(self.memory, list):
            for k, mid in enumerate(self.memory):
                if mid not in moment_ids:
                    problems.append((("memory", k), _unknown("moment", mid, moment_ids)))
                elif not self.moment(mid).breakable:
                    problems.append(
                        (
                            ("memory", k),
                            f"moment {mid!r} cannot break (no 'broken' activities nor "
                            "'broken_if' rule), so there is no break to remember",
                        )
                    )
            if len(set(self.memory)) < len(self.memory):
                problems.append((("memory",), "a moment is listed twice under 'memory'"))
        for column, values in self.filters.items():
            if not values:
                problems.append(
                    (("filters", column), f"filter {column!r} lists no value; give at least one")
                )
        for i, name in enumerate(self.segment_columns):
            if not name:
                problems.append((("segments", i), "a segment column name cannot be empty"))
        return problems

    def _change_problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """The changes' ids, moments and interventions, checked against the rest."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        moment_ids = [m.id for m in self.moments]
        interventions = {iv.id: iv for iv in self.interventions}
        seen: dict[str, int] = {}
        for i, c in enumerate(self.changes):
            if c.id in seen:
                problems.append(
                    (
                        ("changes", i, "id"),
                        f"duplicate id {c.id!r} (also changes[{seen[c.id]}]); "
                        "give each one its own id",
                    )
                )
            seen.setdefault(c.id, i)
            if c.intervention is not None and c.intervention not in interventions:
                problems.append(
                    (
                        ("changes", i, "intervention"),
                        _unknown("intervention", c.intervention, list(interventions)),
                    )
                )
            for j, moment in enumerate(c.moments):
                if moment not in moment_ids:
                    problems.append(
                        (("changes", i, "moments", j), _unknown("moment", moment, moment_ids))
                    )
                elif not self.moment(moment).breakable:
                    problems.append(
                        (
                            ("changes", i, "moments", j),
                            f"moment {moment!r} has no 'broken' activities (nor a 'broken_if' "
                            "rule), so its break rate cannot be followed; add 'broken' to it",
                        )
                    )
        return problems

    def _comment_problems(
        self, moment_ids: list[str], barrier_ids: list[str]
    ) -> list[tuple[tuple[str | int, ...], str]]:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for i, c in enumerate(self.comments):
            if c.moment not in moment_ids:
                problems.append(
                    (("comments", i, "moment"), _unknown("moment", c.moment, moment_ids))
                )
        comment_ids = [c.id for c in self.comments]
        for i, t in enumerate(self.themes):
            if t.comments not in comment_ids:
                problems.append(
                    (
                        ("themes", i, "comments"),
                        _unknown("comments", t.comments, comment_ids)
                        if comment_ids
                        else f"theme {t.id!r} codes comments {t.comments!r}, but the model "
                        "declares none; add them under 'comments:' "
                        "({id, column, moment})",
                    )
                )
            if t.id in barrier_ids:
                problems.append(
                    (
                        ("themes", i, "id"),
                        f"theme {t.id!r} has the id of a barrier; a coded theme is a barrier "
                        "of its moment, so give it its own id",
                    )
                )
        return problems

    # -- convenient views ---------------------------------------------------

    def moment(self, moment_id: str) -> Moment:
        """The moment with this id (``KeyError`` if none)."""
        for m in self.moments:
            if m.id == moment_id:
                return m
        raise KeyError(moment_id)

    def outcome(self, outcome_id: str) -> Outcome:
        """The outcome with this id (``KeyError`` if none)."""
        for o in self.outcomes:
            if o.id == outcome_id:
                return o
        raise KeyError(outcome_id)

    def comment(self, comment_id: str) -> Comment:
        """The comments (a free-text column at a moment) with this id (``KeyError`` if none)."""
        for c in self.comments:
            if c.id == comment_id:
                return c
        raise KeyError(comment_id)

    @property
    def case_columns(self) -> list[str]:
        """Every cases-table column the model refers to, in a stable order."""
        cols = [
            *self.segment_columns,
            *(m.rating for m in self.moments if m.rating),
            *(o.column for o in self.outcomes if o.column),
            *(o.value_column for o in self.outcomes if o.value_column),
            *(b.column for b in self.barriers),
            *(c.column for c in self.comments),
        ]
        return list(dict.fromkeys(cols))

    @property
    def segment_specs(self) -> list[Segment]:
        """The segments as :class:`Segment` objects (plain names without bins)."""
        return list(self.segments)

    @property
    def segment_columns(self) -> list[str]:
        """The cases columns the segments are read from."""
        return [s.column for s in self.segment_specs]

    def resolve(self, path: str | Path | None) -> Path | None:
        """A data path from the model, made absolute against the model file's folder."""
        if path is None:
            return None
        p = Path(path).expanduser()
        if not p.is_absolute() and self.source is not None:
            p = self.source.parent / p
        return p


def _unknown(kind: str, value: str, known: list[str]) -> str:
    close = difflib.get_close_matches(value, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known {kind}s: {', '.join(known)}"
    return f"unknown {kind} {value!r}{hint}"


# -- reading the YAML file with line numbers ---------------------------------------


class _LineLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys and remembers each value's line."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,  # type: ignore[arg-type]
)

# YAML 1.1 reads yes/no/on/off as booleans: `broken_if: {no: [...]}` would lose its
# key and an activity called "no" would become False. As in YAML 1.2, only
# true/false are booleans here (fields that want a boolean still accept yes/no).
_BOOL = "tag:yaml.org,2002:bool"
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


# A real model has hundreds of values; aliases (``*name``) can make a short file
# stand for billions of them ("billion laughs"), which would never finish loading.
MAX_VALUES = 100_000


# PyYAML reads about a megabyte a second; a real model is a few kilobytes.
MAX_CHARACTERS = 1_000_000
# PyYAML's scanner takes time quadratic in the depth of [ and { nesting (9 KB of
# brackets: seconds); a model nests a few levels.
MAX_DEPTH = 100


def _check_depth(text: str, file: str) -> None:
    """Refuse brackets nested deeper than :data:`MAX_DEPTH` before YAML scans them."""
    depth = deepest = 0
    for bracket in re.finditer(r"[\[\]{}]", text):
        depth = depth + 1 if bracket.group() in "[{" else max(depth - 1, 0)
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            raise ModelError(
                f"brackets nested more than {MAX_DEPTH} deep; a service model nests a few "
                "levels, so check the file is the model you meant",
                file=file,
                line=text[: bracket.start()].count("\n") + 1,
            )


def _check_size(node: yaml.Node | None, file: str) -> None:
    """Refuse a document whose aliases expand to more than :data:`MAX_VALUES` values."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        if id(n) in sizes:
            return sizes[id(n)]
        sizes[id(n)] = 1  # a node that contains itself counts once
        total = 1
        if isinstance(n, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in n.value)
        elif isinstance(n, yaml.SequenceNode):
            total += sum(size(v) for v in n.value)
        sizes[id(n)] = total
        return total

    if node is not None and size(node) > MAX_VALUES:
        raise ModelError(
            f"its aliases (*name) expand to more than {MAX_VALUES:,} values; a service "
            "model needs far fewer, so write the repeated parts out or use fewer aliases",
            file=file,
        )


def _line_index(node: yaml.Node | None, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map each path (('moments', 2, 'id')) in the YAML tree to its 1-based line."""
    lines: dict[tuple[Any, ...], int] = {}
    if node is None:
        return lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1
            lines.update(_line_index(value_node, (*path, key)))
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, i)))
    return lines


def _field_name(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _first_error(exc: ValidationError) -> tuple[tuple[Any, ...], str]:
    err = exc.errors()[0]
    loc = tuple(err["loc"])
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, _Problem):
        return cause.loc, str(cause)
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if err["type"] == "extra_forbidden":
        return loc, _extra_field_message(loc)
    if err["type"] == "missing":
        message = f"missing required field {loc[-1]!r}"
    elif err["type"] == "too_short" and loc:
        message = f"{loc[-1]!r} needs at least one entry"
    elif (err["type"] == "literal_error" and loc and loc[-2:-1] == ("perspectives",)) or (
        err["type"] == "literal_error" and loc and loc[-1] == "perspective"
    ):
        message = f"unknown perspective {err.get('input')!r}: use 'user' or 'provider'"
    elif "input" in err and not isinstance(err["input"], dict | list):
        message = f"{message} (got {err['input']!r})"
    return loc, message


def _extra_field_message(loc: tuple[Any, ...]) -> str:
    name = str(loc[-1])
    known = _known_fields(loc[:-1])
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known fields: {', '.join(known)}"
    return f"unknown field {name!r}{hint}"


def _known_fields(parent: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Service
    sections: dict[str, type[BaseModel]] = {
        "moments": Moment,
        "outcomes": Outcome,
        "barriers": Barrier,
        "comments": Comment,
        "themes": Theme,
        "interventions": Intervention,
        "changes": Change,
        "data": DataFiles,
        "columns": ColumnMap,
        "analysis": AnalysisSettings,
        "drivers": DriversSettings,
        "broken_if": BreakRule,
    }
    names = [p for p in parent if isinstance(p, str)]
    if names and names[-1] in sections:
        model = sections[names[-1]]
    return [n for n in model.model_fields if n != "source"]


def load_service(path: str | Path) -> Service:
    """Read and validate a service model file (YAML, version 1).

    Raises :class:`~keymoments.errors.ModelError` naming the file, line and field
    of the first problem found.

    Example:
        >>> import keymoments
        >>> svc = keymoments.load_service(keymoments.examples.service_path("health-check"))
        >>> [m.id for m in svc.moments][:3]
        ['invitation', 'booking', 'reminder']
    """
    p = Path(path)
    name = str(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ModelError("file not found; check the path to the service model", file=name) from None
    except UnicodeDecodeError as exc:
        raise ModelError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start}); save the model as UTF-8",
            file=name,
        ) from None
    except OSError as exc:
        raise ModelError(f"cannot read it: {exc.strerror}", file=name) from None
    return parse_service(text, file=name, source=p.resolve())


_DATE_LIKE = re.compile(r"(?<![\w.-])(\d{4})-(\d{1,2})-(\d{1,2})(?![\w.])")


def _bad_date_line(text: str) -> int | None:
    """The line of the first date-like value that is no date (2024-02-30), if any."""
    for number, line in enumerate(text.splitlines(), start=1):
        for found in _DATE_LIKE.finditer(line.split("#", 1)[0]):
            try:
                datetime.date(*(int(g) for g in found.groups()))
            except ValueError:
                return number
    return None


def parse_service(text: str, *, file: str = "<model>", source: Path | None = None) -> Service:
    """Validate a service model given as YAML text (see :func:`load_service`)."""
    if "\t" in text:
        raise ModelError(
            "a tab character; YAML indents with spaces only, replace the tab with spaces",
            file=file,
            line=text[: text.index("\t")].count("\n") + 1,
        )
    if len(text) > MAX_CHARACTERS:
        raise ModelError(
            f"{len(text):,} characters; a service model is a few thousand, so check the "
            "file is the model you meant (data goes in the events and cases files)",
            file=file,
        )
    _check_depth(text, file)
    try:
        node = yaml.compose(text, Loader=_LineLoader)  # type: ignore[no-untyped-call]
        _check_size(node, file)
        raw = yaml.load(text, Loader=_LineLoader)
    except RecursionError:
        raise ModelError(
            "nested too deeply to be a service model (brackets or indents opened "
            "thousands of times); check the file is the model you meant",
            file=file,
        ) from None
    except ValueError as exc:
        # YAML reads 2024-13-01 as a date and fails on it (a change's date, or any value)
        raise ModelError(
            f"a date that does not exist ({exc}); write dates as YYYY-MM-DD",
            file=file,
            line=_bad_date_line(text),
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "not valid YAML"
        raise ModelError(
            f"YAML syntax: {problem}",
            file=file,
            line=mark.line + 1 if mark is not None else None,
        ) from None
    except yaml.reader.ReaderError as exc:
        # a control character (NUL, ESC...) that YAML forbids anywhere in the text
        at = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        raise ModelError(
            f"a control character (#x{exc.character:04x}) that YAML does not allow; remove it "
            "(was the file saved by a word processor, or is it not the model?)"
            if isinstance(exc.character, int)
            else "bytes that are not text; save the model as UTF-8 text",
            file=file,
            line=at,
        ) from None
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"YAML syntax: {first}", file=file) from None
    if raw is None:
        raise ModelError("the file is empty; start with 'version: 1' and 'name:'", file=file)
    if not isinstance(raw, dict):
        raise ModelError(
            "expected a mapping of fields (version, name, moments, ...), "
            f"got a {type(raw).__name__}",
            file=file,
            line=1,
        )
    lines = _line_index(node)
    try:
        service = Service.model_validate(raw)
    except ValidationError as exc:
        loc, message = _first_error(exc)
        line: int | None = None
        for cut in range(len(loc), -1, -1):
            if loc[:cut] in lines:
                line = lines[loc[:cut]]
                break
        raise ModelError(message, file=file, line=line, field=_field_name(loc) or None) from None
    service.source = source
    return service
