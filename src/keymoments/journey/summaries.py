"""Event logs reduced to journey summaries, as Ibis expressions on the engine.

This is the only place where journeys are computed from raw rows. Each event
is mapped to a moment (or a binary outcome marker) through a small mapping
table; consecutive events of the same moment form one *visit*, which is broken
when any of its events is a broken activity (a broken event also closes the
visit, so "declined, then approved" is two visits). From the ordered visits of
each case come:

- **journey signatures**: the sequence of state codes, with the number of cases
  that followed it per segment and the sums needed for numeric outcomes;
- **waits**: for each pair of consecutive states (and state → end), how many
  times it happened and the median and 90th percentile of the time between
  the last event of one visit and the first of the next;
- **unmapped activities**: events that mark no moment, counted by activity.

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

__all__ = ["MISSING_SEGMENT", "JourneySummary", "summarise_journeys"]

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


def _mapping_table(service: Service, space: StateSpace) -> pa.Table:
    """activity → (unit, broken, sub): unit is the moment index, or M + j for outcome j."""
    activities: list[str] = []
    units: list[int] = []
    broken: list[int] = []
    subs: list[int] = []
    n_moments = len(space.moments)
    for i, m in enumerate(service.moments):
        for a in m.activities:
            activities.append(a)
            units.append(i)
            broken.append(int(a in m.broken))
            subs.append(0)
    binary = [o for o in service.outcomes if o.kind == "binary"]
    for j, o in enumerate(binary):
        for a in o.reached or []:
            activities.append(a)
            units.append(n_moments + j)
            broken.append(0)
            # an outcome marker follows the moment event of the same activity
            subs.append(1)
    return pa.table(
        {
            "activity": pa.array(activities, pa.string()),
            "unit": pa.array(units, pa.int64()),
            "is_broken": pa.array(broken, pa.int64()),
            "sub": pa.array(subs, pa.int64()),
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
    value = (
        col.cast("float64") if col.type().is_numeric() else col.cast("string").try_cast("float64")
    )
    branches = [(value < edge, label) for edge, label in zip(bins, labels, strict=False)]
    return ibis.cases(*branches, else_=labels[-1]).fill_null(MISSING_SEGMENT)


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

    ``cases`` (case_id plus columns) supplies segments and numeric outcomes.
    Numeric outcome and segment columns missing from ``cases`` are looked for
    on the events (case attributes are often repeated on every event).
    """
    space = StateSpace.from_service(service)
    n_moments = len(space.moments)
    mapping_rows = _mapping_table(service, space)
    mapping = engine.from_arrow(mapping_rows, prefix="mapping")

    ev = events.select("case_id", "activity", "timestamp", "row")
    mapped = ev.inner_join(mapping, "activity")

    # A visit ends at a broken event or where the next event marks another unit, so
    # one ordered pass finds every visit's last event; its code (2u + broken) is
    # the visit's state, and the next event is the first of the next visit. The
    # same pass numbers the events of each case (seq), which orders the visits
    # from then on without sorting by time again, and looks a few events ahead
    # for the next visit's state (see _next_code).
    w = ibis.window(group_by=mapped.case_id, order_by=[mapped.timestamp, mapped.row, mapped["sub"]])
    # unit and break packed in one number, so that each look-ahead is one lead
    packed = mapped.unit * 2 + mapped.is_broken
    ahead = [packed.lead(k).over(w) for k in range(1, _LOOK_AHEAD + 2)]
    next_unit = ahead[0] // 2
    next_time = mapped.timestamp.lead().over(w)
    marked = mapped.mutate(
        is_last=next_unit.isnull() | (next_unit != mapped.unit) | (mapped.is_broken == 1),
        gap=(next_time.epoch_seconds() - mapped.timestamp.epoch_seconds()).cast("float64"),
        seq=ibis.row_number().over(w),
        to_code=_next_code(ahead, n_moments),
    )
    ends = marked.filter(marked.is_last)
    visits = engine.materialise(
        ends.select(
            "case_id",
            "seq",
            "gap",
            code=_code(ends.unit, ends.is_broken, n_moments),
            to_code="to_code",
        ),
        prefix="visits",
    )
    base = space.n_transient + 1
    per_case = _packed_signatures(visits, base)
    # Every case, also those whose events all mark no moment (an empty journey):
    # those are among the cases with an unmapped event, a tenth of the events or
    # so, which is cheaper to scan for than every event's case.
    marked_activities = sorted(set(mapping_rows["activity"].to_pylist()))
    idle = ev.filter(~ev.activity.isin(marked_activities)).select("case_id").distinct()
    journeys = (
        per_case.outer_join(idle, "case_id")
        .select(case_id=ibis.coalesce(per_case.case_id, idle.case_id), sig=per_case.sig)
        .view()  # a table of its own, so that more joins do not extend this one
    )

    numeric = [o for o in service.outcomes if o.kind == "numeric"]
    wanted = [*service.segment_columns, *(o.column for o in numeric if o.column)]
    attrs = _case_attributes(events, cases, wanted, mark_cases=cases is not None)
    if attrs is not None:
        carried = [c for c in [*wanted, _IN_CASES] if c in attrs.columns]
        journeys = journeys.left_join(attrs, "case_id").select(
            journeys.case_id, journeys.sig, *[attrs[c] for c in carried]
        )

    auto_bins = _quartile_bins(journeys, service.segment_specs, engine)
    seg = segment_key(journeys, service.segment_specs, auto_bins)
    journeys = journeys.mutate(segment=seg)
    aggs: dict[str, ibis.Value] = {"n": journeys.count()}
    if _IN_CASES in journeys.columns:
        aggs[_IN_CASES] = journeys[_IN_CASES].sum()
    ignored_exprs: dict[str, ibis.Value] = {}
    for o in numeric:
        col = journeys[o.column]
        y = (
            col.cast("float64")
            if col.type().is_numeric()
            else col.cast("string").try_cast("float64")
        )
        aggs[f"n_y:{o.id}"] = y.count()
        aggs[f"sum_y:{o.id}"] = y.sum()
        aggs[f"sum_y2:{o.id}"] = (y * y).sum()
        if not col.type().is_numeric():
            ignored_exprs[o.id] = (col.notnull() & y.isnull()).cast("int64").sum()
    grouped = engine.to_arrow(journeys.group_by(["segment", "sig"]).aggregate(**aggs))
    signatures = _unpacked(grouped, base)
    cases_without_events = 0
    if _IN_CASES in signatures.columns and cases is not None:
        found_in_events = int(signatures.pop(_IN_CASES).fillna(0).sum())
        cases_without_events = int(engine.to_pandas(cases.count())) - found_in_events
    for o in numeric:
        for prefix in ("sum_y", "sum_y2"):
            signatures[f"{prefix}:{o.id}"] = signatures[f"{prefix}:{o.id}"].fillna(0.0)
    ignored: dict[str, int] = {}
    if ignored_exprs:
        counts = engine.to_pandas(journeys.aggregate(**ignored_exprs))
        ignored = {k: int(counts[k].iloc[0] or 0) for k in ignored_exprs}

    waits = _waits(visits, engine)

    # One pass over the events counts every activity; the mapped ones give the
    # events that mark a state, the others the unmapped table.
    by_activity = engine.to_pandas(ev.group_by("activity").aggregate(n=ev.count()))
    is_marked = by_activity["activity"].isin(marked_activities)
    unmapped = (
        by_activity[~is_marked]
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
    )


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


def _packed_signatures(visits: ibis.Table, base: int) -> ibis.Table:
    """Per case, its visits as one sorted array of ``seq * base + code``.

    Sorting the packed numbers sorts the visits by their place in the case (an
    unordered collect and an array sort cost a fraction of an ordered
    aggregation, which Spark's Ibis backend cannot express anyway); the codes
    are recovered, as ``packed % base``, once per distinct array by
    :func:`_unpacked` rather than once per case.
    """
    packed = visits.seq.cast("int64") * base + visits.code.cast("int64")
    return visits.group_by("case_id").aggregate(sig=packed.collect().sort())


def _unpacked(grouped: pa.Table, base: int) -> pd.DataFrame:
    """Packed signature arrays as ``"code.code..."`` text, rows of one signature added up.

    Two cases with the same visits can differ in their events (a visit of one
    event or of three), so several packed arrays can name one signature.
    """
    column = grouped.column("sig").combine_chunks()
    column = column.fill_null(pa.scalar([], column.type))  # a case that reached no moment
    packed = column.values
    codes = pc.subtract(packed, pc.multiply(pc.divide(packed, base), base))
    lists = pa.ListArray.from_arrays(column.offsets, pc.cast(codes, pa.string()))
    text = pc.binary_join(lists, ".")
    frame = grouped.drop_columns(["sig"]).to_pandas()
    frame.insert(1, "sig", text.to_pandas())
    sums = [c for c in frame.columns if c not in ("segment", "sig")]
    summed = frame.groupby(["segment", "sig"], sort=True, dropna=False)[sums].sum(min_count=1)
    return summed.reset_index()


# Events looked ahead for the next visit's state: a next visit of up to this many
# events is resolved in the first ordered pass; a longer one by a second pass over
# the visits of the cases that have one.
_LOOK_AHEAD = 3
_UNRESOLVED = -2


def _code(unit: ibis.IntegerValue, broken: ibis.IntegerValue, n_moments: int) -> ibis.IntegerValue:
    """A visit's state code from its unit and whether its last event is broken."""
    return ibis.ifelse(unit < n_moments, unit * 2 + broken, unit + n_moments)


def _next_code(ahead: list[ibis.IntegerValue], n_moments: int) -> ibis.IntegerValue:
    """The state of the visit after an event's, from the next events' units and breaks.

    ``ahead[k]`` is ``2 * unit + broken`` of the event k + 1 places ahead. The
    next visit starts with the next event and ends at its first broken event or
    before the unit changes; its state is 2u + broken (an outcome marker is never
    broken). -1 is the end of the journey; ``_UNRESOLVED`` a next visit longer
    than the look-ahead.
    """
    first = ahead[0] // 2
    branches = [
        (ahead[0].isnull(), ibis.literal(-1, "int64")),
        (first >= n_moments, first + n_moments),
    ]
    for k in range(len(ahead) - 1):
        broken = ahead[k] % 2
        after = ahead[k + 1] // 2
        ends_here = (broken == 1) | after.isnull() | (after != first)
        branches.append((ends_here, first * 2 + broken))
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
        mean_s=pairs.gap.mean(),
        # both quantiles from one sort of each pair's times (Spark: one exact percentile)
        quantiles=pairs.gap.quantile([0.5, 0.9]),
    )
    out = engine.to_pandas(expr)
    both = [q if q is not None and len(q) == 2 else (np.nan, np.nan) for q in out.pop("quantiles")]
    out["median_s"] = [float(a) if a is not None else np.nan for a, _ in both]
    out["p90_s"] = [float(b) if b is not None else np.nan for _, b in both]
    return out.sort_values(["from_code", "to_code"]).reset_index(drop=True)


def _case_attributes(
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
