"""Barrier data reduced to patterns with counts, as Ibis expressions on the engine.

For each moment that has barriers, every case is marked from the event log:
*reached* (one of the moment's activities happened) and *broke* (one of its
broken activities happened), the same per-case definitions as the journey
summaries' reach and break rate. Those marks are joined to the cases table's
barrier and segment columns and reduced, among the cases that reached the
moment, to the distinct (segment, barrier pattern, broke) rows with their
number of cases. The logistic fits and the bootstrap work on that small table.

How a barrier column is read (decided once per column from its values):

- ``yes``/``no``, ``true``/``false``, ``y``/``n``, ``t``/``f``, ``1``/``0``
  (any case, text or numbers) and booleans: held / not held;
- a number column with other values is a **scale** (a 1–5 agreement, a 0–10
  worry): held when the value is *above the middle of the range seen* (4 and 5
  on 1–5), or at or above the barrier's ``threshold`` when the model gives one;
- empty cells are missing; any other text, and NaN or an infinity in a number
  column, is *unreadable*. Both are counted
  per barrier; a case missing any barrier of a moment is set aside from that
  moment's model (with a warning), never silently.

Example:
    >>> from keymoments.experience.barrier_summaries import code_values
    >>> code_values(["Yes", "no", "", "maybe"])
    ('binary', [1, 0, None, -1])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from keymoments.data.engine import Engine
from keymoments.journey.summaries import case_attributes, number_or_null, segment_key
from keymoments.model import Barrier, Service

__all__ = ["BarrierColumn", "BarrierSummary", "MomentPatterns", "code_values", "summarise_barriers"]

YES = ("yes", "y", "true", "t", "1", "1.0")
NO = ("no", "n", "false", "f", "0", "0.0")
UNREADABLE = -1  # the code of a value that is neither missing nor readable


@dataclass
class BarrierColumn:
    """How one barrier column was read.

    ``kind`` is ``"binary"`` or ``"scale"``; a scale is held from ``threshold``
    (inclusive) when ``inclusive`` else above it. ``unreadable`` lists a few
    values that could not be read.
    """

    barrier: str
    column: str
    kind: str
    threshold: float | None = None
    inclusive: bool = False
    low: float | None = None
    high: float | None = None
    unreadable: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """How holding the barrier was decided, in words."""
        if self.kind == "binary":
            return "yes/no"
        assert self.threshold is not None
        rule = ">=" if self.inclusive else ">"
        return f"scale {self.low:g} to {self.high:g}, held when {rule} {self.threshold:g}"


@dataclass
class MomentPatterns:
    """One moment's barrier data among the cases that reached it.

    ``table`` has columns ``segment``, one per barrier id (1 held, 0 not,
    missing as ``<NA>``, -1 unreadable), ``broke`` (0/1) and ``n`` (cases).
    """

    moment: str
    barriers: list[str]
    table: pd.DataFrame
    n_cases: int  # every case in the events
    n_reached: int


@dataclass
class BarrierSummary:
    """The barrier tables of every moment with barriers, and how each column was read."""

    moments: dict[str, MomentPatterns]
    columns: dict[str, BarrierColumn]


def code_values(values: Sequence[Any], threshold: float | None = None) -> tuple[str, list[Any]]:
    """Read a few values as the data layer does (for docs and tests of the rule).

    Returns the column's kind and each value's code (1, 0, ``None`` missing,
    -1 unreadable).
    """
    frame = pd.DataFrame({"x": list(values)})
    engine = Engine("duckdb")
    try:
        table = engine.from_arrow(frame.astype({"x": "string"}), prefix="values")
        barrier = Barrier(id="x", moment="m", column="x", threshold=threshold)
        spec = _read_column(table, barrier, engine)
        codes = engine.to_pandas(table.select(code=_code(table["x"], spec)))["code"]
    finally:
        engine.close()
    return spec.kind, [None if pd.isna(c) else int(c) for c in codes]


def _text(col: ibis.Value) -> ibis.Value:
    return col.cast("string").strip().lower()


def _read_column(table: ibis.Table, barrier: Barrier, engine: Engine) -> BarrierColumn:
    """Decide how a column is read from its distinct values (a small query)."""
    col = table[barrier.column]
    if col.type().is_boolean():
        return BarrierColumn(barrier.id, barrier.column, "binary")
    text = _text(col).nullif("")
    number = number_or_null(col)[0]  # NaN and infinities are not readable answers
    readable = text.isin([*YES, *NO])
    stats = engine.to_pandas(
        table.aggregate(
            low=number.min(),
            high=number.max(),
            n_numbers=number.count(),
            n_values=text.count(),
            n_words=(readable & number.isnull()).cast("int64").sum(),
            n_binary=(number.isin([0.0, 1.0])).cast("int64").sum(),
        )
    ).iloc[0]
    n_numbers = int(stats["n_numbers"] or 0)
    n_words = int(stats["n_words"] or 0)
    is_scale = n_numbers > 0 and int(stats["n_binary"] or 0) < n_numbers
    if is_scale and n_words == 0:
        low, high = float(stats["low"]), float(stats["high"])
        if barrier.threshold is not None:
            spec = BarrierColumn(
                barrier.id, barrier.column, "scale", barrier.threshold, True, low, high
            )
        else:
            middle = (low + high) / 2
            spec = BarrierColumn(barrier.id, barrier.column, "scale", middle, False, low, high)
    else:
        spec = BarrierColumn(barrier.id, barrier.column, "binary")
    if spec.kind == "binary":
        bad = table.filter(text.notnull() & ~readable)
    else:
        bad = table.filter(text.notnull() & number.isnull())
    examples = engine.to_pandas(
        bad.select(v=text)
        .group_by("v")
        .aggregate(n=ibis._.count())
        .order_by([ibis.desc("n"), "v"])
        .limit(5)
    )
    spec.unreadable = [str(v) for v in examples["v"]]
    return spec


def _code(col: ibis.Value, spec: BarrierColumn) -> ibis.Value:
    """1 held, 0 not held, null missing, -1 unreadable."""
    if col.type().is_boolean():
        return col.cast("int64")
    text = _text(col).nullif("")
    if spec.kind == "binary":
        return ibis.cases(
            (text.isnull(), ibis.null("int64")),
            (text.isin(YES), 1),
            (text.isin(NO), 0),
            else_=UNREADABLE,
        ).cast("int64")
    number = number_or_null(col)[0]  # NaN and infinities are not readable answers
    assert spec.threshold is not None
    held = number >= spec.threshold if spec.inclusive else number > spec.threshold
    return ibis.cases(
        (text.isnull(), ibis.null("int64")),
        (number.isnull(), UNREADABLE),
        (held, 1),
        else_=0,
    ).cast("int64")


def _mapping(service: Service, moment_ids: list[str]) -> pa.Table:
    activities: list[str] = []
    units: list[int] = []
    broken: list[int] = []
    for k, mid in enumerate(moment_ids):
        m = service.moment(mid)
        for a in m.activities:
            activities.append(a)
            units.append(k)
            broken.append(int(a in m.broken))
    return pa.table(
        {
            "activity": pa.array(activities, pa.string()),
            "unit": pa.array(units, pa.int64()),
            "is_broken": pa.array(broken, pa.int64()),
        }
    )


def summarise_barriers(
    events: ibis.Table,
    service: Service,
    engine: Engine,
    *,
    cases: ibis.Table | None = None,
    segment_bins: dict[str, list[float]] | None = None,
    n_cases: int | None = None,
) -> BarrierSummary | None:
    """Reduce events and cases to each barrier moment's (segment, pattern, broke) counts.

    ``segment_bins`` are the cut points the journey summaries chose for numeric
    segment columns, so both halves name segments alike; ``n_cases``, the cases
    in the events when the journey summaries have counted them already.
    Returns ``None`` when the model has no barriers.
    """
    if not service.barriers:
        return None
    moment_ids = list(dict.fromkeys(b.moment for b in service.barriers))
    mapping = engine.from_arrow(_mapping(service, moment_ids), prefix="barrier_mapping")
    ev = events.select("case_id", "activity")
    mapped = ev.inner_join(mapping, "activity")
    flags: dict[str, ibis.Value] = {}
    for k in range(len(moment_ids)):
        here = mapped.unit == k
        flags[f"reached_{k}"] = ibis.ifelse(here, 1, 0).max()
        flags[f"broke_{k}"] = ibis.ifelse(here & (mapped.is_broken == 1), 1, 0).max()
    per_case = mapped.group_by("case_id").aggregate(**flags)

    columns = list(dict.fromkeys([*service.segment_columns, *(b.column for b in service.barriers)]))
    attrs = case_attributes(events, cases, columns)
    joined = per_case
    if attrs is not None:
        joined = per_case.left_join(attrs, "case_id").select(
            per_case, *[attrs[c] for c in columns if c in attrs.columns]
        )
    joined = engine.materialise(joined, prefix="barrier_cases")

    specs = {
        b.id: _read_column(joined, b, engine)
        for b in service.barriers
        if b.column in joined.columns
    }
    seg = segment_key(joined, service.segment_specs, segment_bins)
    if n_cases is None:
        n_cases = int(engine.to_pandas(ev.select("case_id").distinct().count()))
    out: dict[str, MomentPatterns] = {}
    for k, mid in enumerate(moment_ids):
        ids = [b.id for b in service.barriers if b.moment == mid]
        codes = {
            b.id: _code(joined[b.column], specs[b.id]) for b in service.barriers if b.moment == mid
        }
        reached = joined.filter(joined[f"reached_{k}"] == 1)
        expr = (
            joined.mutate(segment=seg, broke=joined[f"broke_{k}"], **codes)
            .filter(joined[f"reached_{k}"] == 1)
            .group_by(["segment", *ids, "broke"])
            .aggregate(n=ibis._.count())
        )
        table = engine.to_pandas(expr)
        table = table.sort_values(["segment", *ids, "broke"], na_position="last").reset_index(
            drop=True
        )
        for bid in ids:
            table[bid] = table[bid].astype("Int64")
        table["broke"] = table["broke"].astype("int64")
        table["n"] = table["n"].astype("int64")
        out[mid] = MomentPatterns(
            moment=mid,
            barriers=ids,
            table=table,
            n_cases=n_cases,
            n_reached=int(engine.to_pandas(reached.count())),
        )
    return BarrierSummary(moments=out, columns=specs)
