"""Event logs reduced to journey summaries, as Ibis expressions on the engine.

This is the only place where journeys are computed from raw rows. Each event
is mapped to a moment (or a binary outcome marker) through a small mapping
table; consecutive events of the same moment form one *visit*, which is broken
when any of its events is a broken activity (a broken event also closes the
visit, so "declined, then approved" is two visits), or when the moment's
``broken_if`` rule about time judges its last event late (:func:`judge_time_rules`).

Events are ordered by time; events of one case at the same instant by the
service model (moments in the file's order, outcome markers after them), then
by file order. An activity whose timestamps are all at midnight is *date-only*:
on a date it shares with timed events of its case it is placed after the
timed events of moments that come earlier in the model (:func:`place_date_only`), so a
same-day booking comes before its appointment. From the ordered visits of each
case come:

- **journey signatures**: the sequence of state codes, with the number of cases
  that followed it per segment and the sums needed for numeric outcomes;
- **waits**: for each pair of consecutive states (and state → end), how many
  times it happened and the median and 90th percentile of the time between
  the last event of one visit and the first of the next;
- **unmapped activities**: events that mark no moment, counted by activity;
- **order notes**: how many transitions were ordered by the model rather than
  by time (ties), the date-only activities, and what the time rules judged.

Everything after this module works on these summaries, whose size does not
grow with the number of events.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from keymoments.data.engine import Engine
from keymoments.journey.states import StateSpace
from keymoments.model import Segment, Service

__all__ = [
    "MISSING_SEGMENT",
    "JourneySummary",
    "OrderNotes",
    "TimeBreaks",
    "number_or_null",
    "present",
    "summarise_journeys",
]

MISSING_SEGMENT = "(missing)"
_SEGMENT_SEP = " | "


@dataclass
class JourneySummary:
    """The small tables the statistics work on.

    Attributes:
        space: the chain's state space.
        signatures: one row per (segment, signature): ``segment``, ``sig``
            (state codes joined by ``.``; empty for a case that reached no
            moment), ``n`` cases, and per numeric outcome ``o``: ``n_y:o``,
            ``sum_y:o``, ``sum_y2:o`` over the cases with a value.
        waits: ``from_code``, ``to_code`` (-1 for the end of the journey), ``n``,
            ``mean_s``, ``median_s``, ``p90_s`` (seconds).
        unmapped: ``activity``, ``n`` for events that mark no moment or outcome.
        n_events: events used; n_events_mapped: of which mapped to a state.
        n_cases: cases in the events (every case, including those that reached
            no moment).
        numeric_outcomes: ids of the numeric outcomes summarised.
        outcome_values_ignored: per numeric outcome, values present but not
            numbers.
        cases_without_events: cases in the cases table that have no event.
        segment_bins: cut points chosen for numeric segment columns with many values.
        value_sums: the keys (``money:OUTCOME``) of the value columns summed per
            signature like numeric outcomes (``n_y:money:o`` ...), for outcomes
            whose money comes from a cases column.
        order: how the events were ordered where time could not tell (see
            :class:`OrderNotes`).
        time_breaks: per moment with a ``broken_if`` rule, what it judged.
    """

    space: StateSpace
    signatures: pd.DataFrame
    waits: pd.DataFrame
    unmapped: pd.DataFrame
    n_events: int
    n_events_mapped: int
    n_cases: int
    numeric_outcomes: list[str] = field(default_factory=list)
    outcome_values_ignored: dict[str, int] = field(default_factory=dict)
    cases_without_events: int = 0
    segment_bins: dict[str, list[float]] = field(default_factory=dict)
    value_sums: list[str] = field(default_factory=list)
    order: OrderNotes = field(default_factory=lambda: OrderNotes())
    time_breaks: list[TimeBreaks] = field(default_factory=list)


@dataclass
class OrderNotes:
    """Where the order of a case's events came from the model, not from time.

    Attributes:
        tied_transitions: moves from one visit to the next whose two events share
            their timestamp (ordered by the model, then file order).
        tied_cases: cases with at least one such move.
        date_only: activities whose timestamps are all at midnight (dates only).
        date_only_events: events of those activities (moment or outcome events).
        placed_events: of which placed after a timed event of the same case and
            date by the model's order (without it they would come first).
    """

    tied_transitions: int = 0
    tied_cases: int = 0
    date_only: list[str] = field(default_factory=list)
    date_only_events: int = 0
    placed_events: int = 0


@dataclass
class TimeBreaks:
    """What one moment's ``broken_if`` rule judged.

    Attributes:
        moment: the moment's id.
        rule: the rule in words.
        events: the moment's events it judged late (or unanswered).
        cases: distinct cases with such an event.
        not_yet_due: events still waiting when the log ends (unanswered rule:
            the deadline lies after the last event of the log); not broken.
        unjudged: events of the moment with no ``since`` activity before them
            (late rule); not broken.
    """

    moment: str
    rule: str
    events: int = 0
    cases: int = 0
    not_yet_due: int = 0
    unjudged: int = 0


def mapping_table(service: Service, space: StateSpace) -> pa.Table:
    """activity → (unit, is_broken, place): unit is the moment index, or M + j for marker j.

    The unit also orders events at one instant: moments in the model's order,
    then outcome markers (an activity marking a moment and an outcome gives
    two mapped events, the moment's first). ``place`` is the rank a date-only
    event is placed by (:func:`place_date_only`): an outcome marked by a moment's
    activity is placed with that moment.
    """
    activities: list[str] = []
    units: list[int] = []
    broken: list[int] = []
    places: list[int] = []
    n_moments = len(space.moments)
    moment_of: dict[str, int] = {}
    for i, m in enumerate(service.moments):
        for a in m.activities:
            activities.append(a)
            units.append(i)
            broken.append(int(a in m.broken))
            places.append(i)
            moment_of[a] = i
    for j, name in enumerate(space.binary_outcomes):
        for a in dict.fromkeys(service.outcome(name).reached or []):
            activities.append(a)
            units.append(n_moments + j)
            broken.append(0)
            places.append(moment_of.get(a, n_moments + j))
    return pa.table(
        {
            "activity": pa.array(activities, pa.string()),
            "unit": pa.array(units, pa.int64()),
            "is_broken": pa.array(broken, pa.int64()),
            "place": pa.array(places, pa.int64()),
        }
    )


def _number(value: float) -> str:
    return f"{value:g}"


def band_labels(bins: list[float]) -> list[str]:
    """Names of the bands that cut points make (``[50, 70]`` → three bands).

    Example:
        >>> band_labels([50, 70])
        ['below 50', '50 to under 70', '70 and over']
    """
    labels = [f"below {_number(bins[0])}"]
    labels += [f"{_number(a)} to under {_number(b)}" for a, b in itertools.pairwise(bins)]
    labels.append(f"{_number(bins[-1])} and over")
    return labels


def _banded(col: ibis.Value, bins: list[float]) -> ibis.Value:
    labels = band_labels(bins)
    # blanks, text, NaN and infinities fall in no band (a NULL comparison would
    # otherwise reach the last branch, the top band)
    value, _ = number_or_null(col)
    branches = [(value < edge, label) for edge, label in zip(bins, labels, strict=False)]
    return ibis.cases((value.isnull(), MISSING_SEGMENT), *branches, else_=labels[-1])


def segment_key(
    cases: ibis.Table, segments: list[Segment], bins: dict[str, list[float]] | None = None
) -> ibis.Value:
    """One string per case naming its segment (``"a | b"`` for several columns).

    Columns with cut points (the model's ``bins``, or ``bins`` found for them)
    are named by band; others by their value.
    """
    if not segments:
        return ibis.literal("all")
    found = bins or {}
    parts = []
    for s in segments:
        cuts = s.bins or found.get(s.column)
        if cuts:
            parts.append(_banded(cases[s.column], cuts))
        else:
            parts.append(
                cases[s.column].cast("string").strip().nullif("").fill_null(MISSING_SEGMENT)
            )
    key = parts[0]
    for p in parts[1:]:
        key = key.concat(_SEGMENT_SEP, p)
    return key


def summarise_journeys(
    events: ibis.Table,
    service: Service,
    engine: Engine,
    *,
    cases: ibis.Table | None = None,
) -> JourneySummary:
    """Reduce an event table (case_id, activity, timestamp, row) to journey summaries.

    ``cases`` (case_id plus columns) supplies segments, numeric outcomes and
    value columns. Those missing from ``cases`` are looked for on the events
    (case attributes are often repeated on every event).
    """
    space = StateSpace.from_service(service)
    n_moments = len(space.moments)
    mapping_rows = mapping_table(service, space)
    mapping = engine.from_arrow(mapping_rows, prefix="mapping")
    marked_activities = sorted(set(mapping_rows["activity"].to_pylist()))

    ev = events.select("case_id", "activity", "timestamp", "row")
    # One pass over the events counts every activity (the mapped ones give the events
    # that mark a state, the others the unmapped table) and finds the date-only ones.
    by_activity = engine.to_pandas(
        ev.group_by("activity").aggregate(
            n=ev.count(),
            timed=(ev.timestamp.truncate("D") != ev.timestamp).cast("int64").max(),
        )
    )
    is_marked = by_activity["activity"].isin(marked_activities)
    timed = by_activity["timed"].fillna(0).astype(bool)
    date_only = sorted(by_activity.loc[is_marked & ~timed, "activity"].astype(str))
    order = OrderNotes(date_only=date_only)

    mapped = ev.inner_join(mapping, "activity")
    time_breaks: list[TimeBreaks] = []
    if any(m.broken_if is not None for m in service.moments):
        late, time_breaks = judge_time_rules(ev, service, engine)
        mapped = mapped.left_join(late, ["case_id", "row", "unit"]).select(
            *[mapped[c] for c in mapped.columns], late=late.late.fill_null(0)
        )
    else:
        mapped = mapped.mutate(late=ibis.literal(0, "int64"))
    if date_only and bool((is_marked & timed).any()):
        mapped, order.date_only_events, order.placed_events = place_date_only(
            mapped, date_only, engine
        )
    else:
        mapped = mapped.mutate(at=mapped.timestamp, moved=ibis.literal(0, "int64"))
        if date_only:
            order.date_only_events = int(
                by_activity.loc[by_activity["activity"].isin(date_only), "n"].sum()
            )

    # A visit ends at a broken event or where the next event marks another unit, so
    # one ordered pass finds every visit's last event; its code (2u + broken) is
    # the visit's state, and the next event is the first of the next visit. The
    # same pass numbers the events of each case (seq), which orders the visits
    # from then on without sorting by time again, and looks a few events ahead
    # for the next visit's state (see _next_code). Events at one instant follow
    # the model's order (the unit), then the file's.
    w = ibis.window(group_by=mapped.case_id, order_by=[mapped.at, mapped.unit, mapped.row])
    # unit, date-only placement, broken activity and broken visit packed in one
    # number, so that each look-ahead is one lead; a time rule breaks the visit its
    # event ends, but
    # (unlike a broken activity) does not end it
    broken = ((mapped.is_broken == 1) | (mapped.late == 1)).cast("int64")
    packed = ((mapped.unit * 2 + mapped.moved) * 2 + mapped.is_broken) * 2 + broken
    ahead = [packed.lead(k).over(w) for k in range(1, _LOOK_AHEAD + 2)]
    next_unit = ahead[0] // 8
    next_time = mapped.at.lead().over(w)
    marked = mapped.mutate(
        is_last=next_unit.isnull() | (next_unit != mapped.unit) | (mapped.is_broken == 1),
        broken=broken,
        # whole milliseconds: sums of integers do not depend on the order they are added in
        gap=((next_time.epoch_seconds() - mapped.at.epoch_seconds()) * 1000).round().cast("int64"),
        # a tie in the data: equal timestamps, neither of them a placed date-only event
        placed=mapped.moved + (ahead[0] // 4) % 2,
        seq=ibis.row_number().over(w),
        to_code=_next_code(ahead, n_moments),
    )
    ends = marked.filter(marked.is_last)
    visits = engine.materialise(
        ends.select(
            "case_id",
            "seq",
            "gap",
            "placed",
            code=_code(ends.unit, ends.broken, n_moments),
            to_code="to_code",
        ),
        prefix="visits",
    )
    base = space.n_transient + 1
    # a tie in the data: a move into a moment at the instant of the visit before it,
    # not a placed date-only event; counted per case in the signatures' own pass
    tie = (
        (visits.gap == 0)
        & (visits.placed == 0)
        & (visits.to_code >= 0)
        & (visits.to_code < 2 * n_moments)
    )
    per_case = _packed_signatures(visits, base, tie)
    # Every case, also those whose events all mark no moment (an empty journey):
    # those are among the cases with an unmapped event, a tenth of the events or
    # so, which is cheaper to scan for than every event's case.
    idle = ev.filter(~ev.activity.isin(marked_activities)).select("case_id").distinct()
    journeys = (
        per_case.outer_join(idle, "case_id")
        .select(
            case_id=ibis.coalesce(per_case.case_id, idle.case_id),
            sig=per_case.sig,
            ties=per_case.ties,
        )
        .view()  # a table of its own, so that more joins do not extend this one
    )

    numeric = [o for o in service.outcomes if o.kind == "numeric"]
    # per key, the column summed per signature: numeric outcomes, then value columns
    summed: dict[str, str] = {o.id: str(o.column) for o in numeric}
    priced = [o for o in service.outcomes if o.value_column]
    value_sums = [f"money:{o.id}" for o in priced]
    summed.update({f"money:{o.id}": str(o.value_column) for o in priced})
    wanted = list(dict.fromkeys([*service.segment_columns, *summed.values()]))
    attrs = case_attributes(events, cases, wanted, mark_cases=cases is not None)
    if attrs is not None:
        carried = [c for c in [*wanted, _IN_CASES] if c in attrs.columns]
        journeys = journeys.left_join(attrs, "case_id").select(
            journeys.case_id, journeys.sig, journeys.ties, *[attrs[c] for c in carried]
        )

    auto_bins = _quartile_bins(journeys, service.segment_specs, engine)
    seg = segment_key(journeys, service.segment_specs, auto_bins)
    journeys = journeys.mutate(segment=seg)
    aggs: dict[str, ibis.Value] = {
        "n": journeys.count(),
        _TIED_TRANSITIONS: journeys.ties.sum(),
        _TIED_CASES: (journeys.ties > 0).cast("int64").sum(),
    }
    if _IN_CASES in journeys.columns:
        aggs[_IN_CASES] = journeys[_IN_CASES].sum()
    values = {key: number_or_null(journeys[column]) for key, column in summed.items()}
    # the scales bound the values of every case with attributes, a superset of the
    # journeys: one pass over the attributes rather than over the journeys again
    scales = (
        _binary_scales(attrs, {k: number_or_null(attrs[c])[0] for k, c in summed.items()}, engine)
        if attrs is not None
        else {}
    )
    for key, (y, unreadable) in values.items():
        aggs[f"n_y:{key}"] = y.count()
        aggs[f"sum_y:{key}"] = _exact_sum(y, scales[key][0])
        aggs[f"sum_y2:{key}"] = _exact_sum(y * y, scales[key][1])
        # counted per group with the sums, not in a pass of their own
        aggs[f"{_UNREADABLE}{key}"] = unreadable.cast("int64").sum()
    grouped = engine.to_arrow(journeys.group_by(["segment", "sig"]).aggregate(**aggs))
    signatures = _unpacked(grouped, base)
    order.tied_transitions = int(signatures.pop(_TIED_TRANSITIONS).fillna(0).sum())
    order.tied_cases = int(signatures.pop(_TIED_CASES).fillna(0).sum())
    ignored: dict[str, int] = {}
    for key in summed:
        column = signatures.pop(f"{_UNREADABLE}{key}")
        ignored[key] = int(column.fillna(0).sum())
    cases_without_events = 0
    if _IN_CASES in signatures.columns and cases is not None:
        found_in_events = int(signatures.pop(_IN_CASES).fillna(0).sum())
        cases_without_events = int(engine.to_pandas(cases.count())) - found_in_events
    for key in summed:
        for prefix, power in zip(("sum_y", "sum_y2"), scales[key], strict=True):
            column = f"{prefix}:{key}"
            signatures[column] = signatures[column].fillna(0.0) / 2.0**power

    waits = _waits(visits, engine)

    unmapped = (
        by_activity.loc[~is_marked, ["activity", "n"]]
        .sort_values(["n", "activity"], ascending=[False, True], kind="stable")
        .reset_index(drop=True)
    )
    n_events = int(by_activity["n"].sum())
    n_mapped = int(by_activity.loc[is_marked, "n"].sum())
    n_cases = int(signatures["n"].sum())
    return JourneySummary(
        space=space,
        signatures=signatures,
        waits=waits,
        unmapped=unmapped,
        n_events=n_events,
        n_events_mapped=n_mapped,
        n_cases=n_cases,
        numeric_outcomes=[o.id for o in numeric],
        outcome_values_ignored=ignored,
        cases_without_events=cases_without_events,
        segment_bins=auto_bins,
        value_sums=value_sums,
        order=order,
        time_breaks=time_breaks,
    )


def _binary_scales(
    journeys: ibis.Table, values: dict[str, ibis.FloatingValue], engine: Engine
) -> dict[str, tuple[int, int]]:
    """Powers of two that turn each value, and its square, into whole numbers for summing.

    Floating-point sums depend on the order the engine adds them in, which
    changes from run to run with its threads (and differs between engines).
    A double times a power of two is exact, so is its floor: each value becomes
    a whole number of 2⁻ᵏ (k as large as keeps the largest value below 2⁶²),
    and whole numbers add up exactly in any order. The sums are thus the same
    on every run and on every engine, to 60 bits, finer than a double's own.
    """
    if not values:
        return {}
    stats = engine.to_pandas(
        journeys.aggregate(**{f"m:{k}": y.abs().max() for k, y in values.items()})
    ).iloc[0]

    def power(biggest: float) -> int:
        if not np.isfinite(biggest) or biggest <= 0:
            return 0
        return _BITS - int(np.frexp(biggest)[1])  # biggest < 2^e, so scaled < 2^62

    out: dict[str, tuple[int, int]] = {}
    for key in values:
        top = stats[f"m:{key}"]
        top = float(top) if top is not None and pd.notna(top) else 0.0
        out[key] = (power(top), power(top * top))
    return out


# bits of a whole number each scaled value may use (int64 holds 63)
_BITS = 62


def _exact_sum(y: ibis.FloatingValue, power: int) -> ibis.Value:
    """The sum of ``y`` in whole units of 2^-power, exact (see :func:`_binary_scales`)."""
    whole = (y * float(2.0**power)).floor().cast("int64")
    return whole.cast(ibis.expr.datatypes.Decimal(38, 0)).sum()


def number_or_null(col: ibis.Value) -> tuple[ibis.FloatingValue, ibis.BooleanValue]:
    """A column read as a finite float, and which values were there but are not one.

    Text is parsed; NaN and infinities (``nan``, ``inf``, ``1e999``) are not
    numbers a mean can use, so they count as unreadable like any other text.
    """
    y = (
        col.cast("float64")
        if col.type().is_numeric()
        else col.cast("string").strip().try_cast("float64")
    )
    # y - y is 0 for a finite number and NaN for NaN and infinities, on every engine
    # (Ibis compiles isinf() for Spark as FALSE, which let infinities through there)
    finite = y.notnull() & ((y - y) == 0).fill_null(False)
    value = ibis.ifelse(finite, y, ibis.null("float64"))
    return value, present(col) & ~finite


def present(col: ibis.Value) -> ibis.BooleanValue:
    """Whether a value is there (not NULL), NaN included, on every engine.

    Ibis compiles ``notnull()`` of a float column for Spark as "neither NULL nor
    NaN", so a NaN answer would pass for a blank there rather than an unreadable one.

    Example:
        >>> t = ibis.memtable({"s": ["1", "nan", None]})
        >>> v = t.s.cast("float64")  # a NaN (a pandas NaN would become NULL)
        >>> ibis.duckdb.connect().execute(t.select(p=present(v))).p.tolist()
        [True, True, False]
    """
    if col.type().is_floating():
        return col.notnull() | col.isnan().fill_null(False)
    return col.notnull()


def place_date_only(
    mapped: ibis.Table, date_only: list[str], engine: Engine
) -> tuple[ibis.Table, int, int]:
    """Mapped events with ``at``: the time they are ordered by.

    A timed event keeps its timestamp. A date-only event (midnight, for a day)
    is placed after the latest timed event of the same case and date that
    belongs to a moment at or before its own in the model (at that event's
    time: the unit then orders the two); with none, at midnight, before the
    day's timed events. An outcome marked by a moment's activity is placed
    with that moment (``place``), so the two stay together. Returns the table
    and the counts of date-only events and of those placed after a timed event.
    """
    dated = mapped.activity.isin(date_only)
    with_day = mapped.mutate(day=mapped.timestamp.truncate("D"), dated=dated)
    w = ibis.window(
        group_by=[with_day.case_id, with_day.day],
        order_by=[with_day.place, with_day.row, with_day.unit],
        rows=(None, 0),
    )
    timed_at = ibis.ifelse(with_day.dated, ibis.null("timestamp"), with_day.timestamp)
    latest = timed_at.max().over(w)
    placed = with_day.mutate(
        at=ibis.ifelse(with_day.dated, latest.fill_null(with_day.timestamp), with_day.timestamp),
        moved=(with_day.dated & latest.notnull()).cast("int64"),
    )
    # events, not mapped rows: an activity marking a moment and an outcome is one event
    dated_rows = placed.filter(placed.dated)
    counts = engine.to_pandas(
        dated_rows.aggregate(
            dated=dated_rows.row.nunique(),
            moved=dated_rows.filter(dated_rows.moved == 1).row.nunique().as_scalar(),
        )
    ).iloc[0]
    table = placed.drop("day", "dated")
    return table, int(counts["dated"] or 0), int(counts["moved"] or 0)


def judge_time_rules(
    ev: ibis.Table, service: Service, engine: Engine
) -> tuple[ibis.Table, list[TimeBreaks]]:
    """The moments' events broken by a ``broken_if`` rule: (case_id, row, unit, late=1).

    Each rule is judged on the moment's events and the rule's own activities,
    in one ordered pass per rule over those events only:

    - *late* (``waited_over``, ``since``): the events of the moment after the
      latest ``since`` event belong to it; they are late when the first of them
      came more than the duration after it (so every event of the visit agrees);
    - *unanswered* (``no``, ``within``): an event of the moment is broken when
      no ``no`` event follows it within the duration; when the deadline lies
      past the last timestamp of the log it is not yet due and not broken.

    Ties at one instant put ``since`` events before the moment's and ``no``
    events after them: a wait of zero is never late, and an answer at the same
    instant counts.
    """
    parts: list[ibis.Table] = []
    notes: list[TimeBreaks] = []
    log_end: ibis.Value | None = None
    for i, m in enumerate(service.moments):
        rule = m.broken_if
        if rule is None:
            continue
        own = list(m.activities)
        others = rule.activities
        sub = ev.filter(ev.activity.isin(sorted(set(own) | set(others))))
        sub = sub.mutate(is_m=sub.activity.isin(own), is_o=sub.activity.isin(others))
        seconds = rule.seconds
        if rule.kind == "late":
            w = ibis.window(
                group_by=sub.case_id,
                order_by=[sub.timestamp, (~sub.is_o).cast("int64"), sub.row],
                rows=(None, 0),
            )
            since = ibis.ifelse(sub.is_o, sub.timestamp, ibis.null("timestamp"))
            grouped = sub.mutate(
                grp=sub.is_o.cast("int64").sum().over(w), since=since.max().over(w)
            ).filter(lambda t: t.is_m)
            w2 = ibis.window(group_by=[grouped.case_id, grouped.grp])
            first = grouped.timestamp.min().over(w2)
            judged = grouped.mutate(
                broken=(grouped.grp > 0)
                & ((first.epoch_seconds() - grouped.since.epoch_seconds()) > seconds),
                pending=ibis.literal(False),
                unjudged=grouped.grp == 0,
            )
        else:
            if log_end is None:
                log_end = ev.timestamp.max().as_scalar()
            w = ibis.window(
                group_by=sub.case_id,
                order_by=[sub.timestamp, sub.is_o.cast("int64"), sub.row],
                rows=(1, None),
            )
            answer = ibis.ifelse(sub.is_o, sub.timestamp, ibis.null("timestamp"))
            nxt = sub.mutate(answered=answer.min().over(w)).filter(lambda t: t.is_m)
            wait = nxt.answered.epoch_seconds() - nxt.timestamp.epoch_seconds()
            due = (log_end.epoch_seconds() - nxt.timestamp.epoch_seconds()) >= seconds
            judged = nxt.mutate(
                broken=(nxt.answered.isnull() & due) | (wait > seconds),
                pending=nxt.answered.isnull() & ~due,
                unjudged=ibis.literal(False),
            )
        judged = engine.materialise(
            judged.select("case_id", "row", "broken", "pending", "unjudged"), prefix="rule"
        )
        hit = judged.filter(judged.broken)
        counts = engine.to_pandas(
            judged.aggregate(
                pending=judged.pending.cast("int64").sum(),
                unjudged=judged.unjudged.cast("int64").sum(),
            )
        ).iloc[0]
        broken_counts = engine.to_pandas(
            hit.aggregate(events=hit.count(), cases=hit.case_id.nunique())
        ).iloc[0]
        notes.append(
            TimeBreaks(
                moment=m.id,
                rule=rule.describe(),
                events=int(broken_counts["events"] or 0),
                cases=int(broken_counts["cases"] or 0),
                not_yet_due=int(counts["pending"] or 0),
                unjudged=int(counts["unjudged"] or 0),
            )
        )
        parts.append(
            judged.filter(judged.broken).select(
                "case_id", "row", unit=ibis.literal(i, "int64"), late=ibis.literal(1, "int64")
            )
        )
    late = parts[0]
    for part in parts[1:]:
        late = late.union(part)
    return late, notes


# A numeric segment column with more distinct values than this is cut into quartiles
# (one chain per age in years would leave every chain nearly empty).
MAX_SEGMENT_VALUES = 12


def _quartile_bins(
    journeys: ibis.Table, segments: list[Segment], engine: Engine
) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for s in segments:
        if s.bins or s.column not in journeys.columns:
            continue
        col = journeys[s.column]
        if not col.type().is_numeric():
            continue
        stats = engine.to_pandas(
            journeys.aggregate(
                n=col.nunique(),
                q1=col.quantile(0.25),
                q2=col.quantile(0.5),
                q3=col.quantile(0.75),
            )
        ).iloc[0]
        if int(stats["n"]) > MAX_SEGMENT_VALUES:
            cuts = sorted({float(stats[q]) for q in ("q1", "q2", "q3") if pd.notna(stats[q])})
            if cuts:
                out[s.column] = cuts
    return out


def _packed_signatures(visits: ibis.Table, base: int, tie: ibis.BooleanValue) -> ibis.Table:
    """Per case, its visits as one sorted array of ``seq * base + code``.

    Sorting the packed numbers sorts the visits by their place in the case (an
    unordered collect and an array sort cost a fraction of an ordered
    aggregation, which Spark's Ibis backend cannot express anyway); the codes
    are recovered, as ``packed % base``, once per distinct array by
    :func:`_unpacked` rather than once per case.
    """
    packed = visits.seq.cast("int64") * base + visits.code.cast("int64")
    return visits.group_by("case_id").aggregate(
        sig=packed.collect().sort(), ties=tie.cast("int64").sum()
    )


def _unpacked(grouped: pa.Table, base: int) -> pd.DataFrame:
    """Packed signature arrays as ``"code.code..."`` text, rows of one signature added up.

    Two cases with the same visits can differ in their events (a visit of one
    event or of three), so several packed arrays can name one signature. The
    rows are added up by Arrow, decimals exactly, and only then turned into
    floats, so no figure depends on the order the engine returned its rows in.
    """
    column = grouped.column("sig").combine_chunks()
    column = column.fill_null(pa.scalar([], column.type))  # a case that reached no moment
    packed = column.values
    codes = pc.subtract(packed, pc.multiply(pc.divide(packed, base), base))
    lists = pa.ListArray.from_arrays(column.offsets, pc.cast(codes, pa.string()))
    text = pc.binary_join(lists, ".")
    table = grouped.drop_columns(["sig"]).append_column("sig", text)
    sums = [c for c in table.column_names if c not in ("segment", "sig")]
    added = table.group_by(["segment", "sig"]).aggregate(
        [(c, "sum", pc.ScalarAggregateOptions(min_count=1)) for c in sums]
    )
    added = added.rename_columns([c.removesuffix("_sum") for c in added.column_names])
    frame = added.to_pandas()
    for c in sums:
        if pa.types.is_decimal(added.schema.field(c).type):
            # whole numbers (see _exact_sum): int() is exact, float() rounds once
            frame[c] = [float(int(v)) if v is not None else np.nan for v in frame[c]]
    frame = frame[["segment", "sig", *sums]]
    return frame.sort_values(["segment", "sig"], kind="stable").reset_index(drop=True)


# Events looked ahead for the next visit's state: a next visit of up to this many
# events is resolved in the first ordered pass; a longer one by a second pass over
# the visits of the cases that have one.
_LOOK_AHEAD = 3
# prefix of the per-group counts of unreadable values
_UNREADABLE = "unreadable:"
# the per-group counts of tied moves and of the cases with one
_TIED_TRANSITIONS = "tied:transitions"
_TIED_CASES = "tied:cases"
_UNRESOLVED = -2


def _code(unit: ibis.IntegerValue, broken: ibis.IntegerValue, n_moments: int) -> ibis.IntegerValue:
    """A visit's state code from its unit and whether its last event is broken."""
    return ibis.ifelse(unit < n_moments, unit * 2 + broken, unit + n_moments)


def _next_code(ahead: list[ibis.IntegerValue], n_moments: int) -> ibis.IntegerValue:
    """The state of the visit after an event's, from the next events' packed values.

    ``ahead[k]`` is ``8 * unit + 4 * placed + 2 * broken activity + broken`` of
    the event k + 1 places ahead (``placed``: a date-only event placed by the
    model, see :func:`place_date_only`). The next visit starts with the next event and ends at
    its first broken activity or before the unit changes; its state is
    2u + broken of that last event (an outcome marker is never broken). -1 is
    the end of the journey; ``_UNRESOLVED`` a next visit longer than the
    look-ahead.
    """
    first = ahead[0] // 8
    branches = [
        (ahead[0].isnull(), ibis.literal(-1, "int64")),
        (first >= n_moments, first + n_moments),
    ]
    for k in range(len(ahead) - 1):
        closes = (ahead[k] // 2) % 2
        after = ahead[k + 1] // 8
        ends_here = (closes == 1) | after.isnull() | (after != first)
        branches.append((ends_here, first * 2 + ahead[k] % 2))
    return ibis.cases(*branches, else_=ibis.literal(_UNRESOLVED, "int64"))


def _waits(visits: ibis.Table, engine: Engine) -> pd.DataFrame:
    """Times between consecutive visits by pair of states, from the visits table.

    Most next states were found in the first ordered pass; the rest come from
    one more ordered pass over the visits of the cases that have any, which is
    usually none.
    """
    resolved = visits.filter(visits.to_code != _UNRESOLVED).select("code", "gap", "to_code")
    pending = visits.filter(visits.to_code == _UNRESOLVED).select("case_id").distinct()
    theirs = visits.semi_join(pending, "case_id")
    wv = ibis.window(group_by=theirs.case_id, order_by=theirs.seq)
    redone = theirs.mutate(next_code=theirs.code.lead().over(wv).fill_null(-1))
    redone = redone.filter(redone.to_code == _UNRESOLVED).select(
        "code", "gap", to_code=redone.next_code
    )
    pairs = resolved.union(redone)
    expr = pairs.group_by([pairs.code.name("from_code"), "to_code"]).aggregate(
        n=pairs.count(),
        timed=pairs.gap.count(),
        total_ms=pairs.gap.sum(),
        # both quantiles from one sort of each pair's times (Spark: one exact percentile)
        quantiles=pairs.gap.quantile([0.5, 0.9]),
    )
    out = engine.to_pandas(expr)
    both = [q if q is not None and len(q) == 2 else (np.nan, np.nan) for q in out.pop("quantiles")]
    timed = out.pop("timed").astype(float)
    total = out.pop("total_ms").astype(float)
    out["mean_s"] = np.where(timed > 0, total / np.where(timed > 0, timed, 1) / 1000.0, np.nan)
    out["median_s"] = [float(a) / 1000.0 if a is not None else np.nan for a, _ in both]
    out["p90_s"] = [float(b) / 1000.0 if b is not None else np.nan for _, b in both]
    return out.sort_values(["from_code", "to_code"]).reset_index(drop=True)


def case_attributes(
    events: ibis.Table,
    cases: ibis.Table | None,
    wanted: list[str],
    *,
    mark_cases: bool = False,
) -> ibis.Table | None:
    """Per-case columns from the cases table, falling back to the events' case attributes.

    With ``mark_cases``, the cases table's rows carry ``_IN_CASES`` = 1, so that
    the query that joins these columns to the journeys also counts the cases
    table's cases found among the events (one join instead of a second one).
    """
    if not wanted:
        return None
    tables: list[ibis.Table] = []
    found: set[str] = set()
    if cases is not None:
        have = [c for c in wanted if c in cases.columns]
        if have or mark_cases:
            picked = cases.select("case_id", *have)
            if mark_cases:
                picked = picked.mutate(**{_IN_CASES: ibis.literal(1, "int64")})
            tables.append(picked)
            found.update(have)
    rest = [c for c in wanted if c not in found and c in events.columns]
    if rest:
        # a case attribute repeated on events: take any non-null value per case
        tables.append(events.group_by("case_id").aggregate(**{c: events[c].max() for c in rest}))
    if not tables:
        return None
    out = tables[0]
    for t in tables[1:]:
        out = out.outer_join(t, "case_id").select(
            case_id=ibis.coalesce(out.case_id, t.case_id),
            **{c: out[c] for c in out.columns if c != "case_id"},
            **{c: t[c] for c in t.columns if c != "case_id"},
        )
    return out


_IN_CASES = "__km_in_cases"
