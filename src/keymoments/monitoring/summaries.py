"""Per-period summaries of an event log, as Ibis expressions on the engine.

Two reductions, each one pass over the events, both small whatever the log:

- **visits per period**: every moment's visits, and how many broke, by the
  period of the visit's last event (the one that decides whether it broke).
  Visits are cut exactly as the journey summaries cut them
  (:mod:`keymoments.journey.summaries`: events ordered by time, then the
  model, then the file; a visit ends at a broken event or where the next event
  marks another moment or outcome; ``broken_if`` rules about time judged in the
  engine; date-only activities placed after the day's timed events of earlier
  moments), so over the whole log they add up to the analysis' own counts;
- **journeys per cohort**: the journey summaries themselves, with the period
  of each case's first event as an extra, first segment (its *cohort*). An
  outcome's rate or mean per period, the key moments of a quarter and the
  journey chain before a change all come from these signatures, on numpy.

A week starts on Monday (ISO 8601); a month on its first day; times are UTC.

Example:
    >>> import keymoments
    >>> from keymoments.data.engine import connect
    >>> from keymoments.monitoring.planted import simulate_rollout
    >>> ex = simulate_rollout(weeks=8, cases_per_week=50, seed=1)
    >>> eng = connect()
    >>> events = eng.from_arrow(ex.events.assign(row=range(1, len(ex.events) + 1)))
    >>> s = summarise_periods(events, ex.service, eng, cases=eng.from_arrow(ex.cases))
    >>> sorted(s.visits.columns)
    ['broken', 'moment', 'period', 'visits']
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import ibis
import pandas as pd

from keymoments.data.engine import Engine
from keymoments.journey.states import StateSpace

# The journey summaries' own pieces, so that a visit here is cut exactly as there.
from keymoments.journey.summaries import (
    JourneySummary,
    judge_time_rules,
    mapping_table,
    place_date_only,
    summarise_journeys,
)
from keymoments.model import Segment, Service

__all__ = [
    "COHORT",
    "EVERY",
    "PeriodSummaries",
    "cohort_label",
    "dated_visits",
    "split_cohorts",
    "summarise_periods",
]

#: the cohort column added to the cases (the period of a case's first event)
COHORT = "__km_cohort"
#: period names and the Ibis truncation unit of each
EVERY = {"week": "W", "month": "M"}
_SEP = " | "


@dataclass
class PeriodSummaries:
    """What the monitor's statistics work on.

    Attributes:
        every: ``week`` or ``month``.
        visits: ``period`` (its first day), ``moment`` (id), ``visits`` and
            ``broken``, one row per period and moment with a visit.
        cohorts: the journey summaries with each case's cohort (the period of
            its first event, ``YYYY-MM-DD``) as the first part of its segment
            (``"2024-03-04"``, or ``"2024-03-04 | unwell"`` with segments).
        log_start, log_end: the first and last event of the log.
        horizon_s: 90th percentile of a case's duration (first to last event),
            seconds: how long a cohort takes to be nearly complete.
        n_cases: cases in the log.
    """

    every: str
    visits: pd.DataFrame
    cohorts: JourneySummary
    log_start: pd.Timestamp
    log_end: pd.Timestamp
    horizon_s: float
    n_cases: int


def cohort_label(start: pd.Timestamp) -> str:
    """The label of the cohort whose period starts on ``start`` (``2024-03-04``)."""
    return pd.Timestamp(start).strftime("%Y-%m-%d")


def dated_visits(events: ibis.Table, service: Service, engine: Engine) -> ibis.Table:
    """Every visit to a moment: ``case_id``, ``unit`` (moment index), ``broken`` (0/1), ``at``.

    ``at`` is the time of the visit's last event (placed, for a date-only one).
    """
    space = StateSpace.from_service(service)
    n_moments = len(space.moments)
    mapping_rows = mapping_table(service, space)
    mapping = engine.from_arrow(mapping_rows, prefix="mapping")
    ev = events.select("case_id", "activity", "timestamp", "row")
    marked = sorted(set(mapping_rows["activity"].to_pylist()))
    on_marked = ev.filter(ev.activity.isin(marked))
    by_activity = engine.to_pandas(
        on_marked.group_by("activity").aggregate(
            timed=(on_marked.timestamp.truncate("D") != on_marked.timestamp).cast("int64").max()
        )
    )
    timed = by_activity["timed"].fillna(0).astype(bool)
    date_only = sorted(by_activity.loc[~timed, "activity"].astype(str))
    mapped = ev.inner_join(mapping, "activity")
    if any(m.broken_if is not None for m in service.moments):
        late, _ = judge_time_rules(ev, service, engine)
        mapped = mapped.left_join(late, ["case_id", "row", "unit"]).select(
            *[mapped[c] for c in mapped.columns], late=late.late.fill_null(0)
        )
    else:
        mapped = mapped.mutate(late=ibis.literal(0, "int64"))
    if date_only and bool(timed.any()):
        mapped, _, _ = place_date_only(mapped, date_only, engine)
    else:
        mapped = mapped.mutate(at=mapped.timestamp)
    w = ibis.window(group_by=mapped.case_id, order_by=[mapped.at, mapped.unit, mapped.row])
    next_unit = mapped.unit.lead().over(w)
    ends = mapped.mutate(
        is_last=next_unit.isnull() | (next_unit != mapped.unit) | (mapped.is_broken == 1),
        broken=((mapped.is_broken == 1) | (mapped.late == 1)).cast("int64"),
    )
    ends = ends.filter(ends.is_last & (ends.unit < n_moments))
    return ends.select("case_id", "unit", "broken", "at")


def summarise_periods(
    events: ibis.Table,
    service: Service,
    engine: Engine,
    *,
    cases: ibis.Table | None = None,
    every: str = "week",
) -> PeriodSummaries:
    """Visits per period and journeys per cohort (see the module doc).

    ``events`` has the readers' columns (``case_id``, ``activity``,
    ``timestamp``, ``row``); ``cases`` (``case_id`` plus columns) supplies
    segments and numeric outcomes, as for :func:`~keymoments.analyse`.
    """
    if every not in EVERY:
        raise ValueError(f"every must be one of {', '.join(EVERY)}, got {every!r}")
    unit = EVERY[every]
    visits = dated_visits(events, service, engine)
    per_period = visits.group_by(period=visits.at.truncate(unit), unit=visits.unit).aggregate(
        visits=visits.count(), broken=visits.broken.sum()
    )
    frame = engine.to_pandas(per_period)
    ids = [m.id for m in service.moments]
    frame["moment"] = [ids[int(u)] for u in frame.pop("unit")]
    frame["period"] = pd.to_datetime(frame["period"])
    frame["visits"] = frame["visits"].astype("int64")
    frame["broken"] = frame["broken"].fillna(0).astype("int64")
    frame = frame[["period", "moment", "visits", "broken"]]
    frame = frame.sort_values(["moment", "period"], kind="stable").reset_index(drop=True)

    ev = events.select("case_id", "timestamp")
    spans = ev.group_by("case_id").aggregate(first=ev.timestamp.min(), last=ev.timestamp.max())
    starts = spans.mutate(**{COHORT: spans.first.truncate(unit).date().cast("string")})
    duration = starts.last.epoch_seconds() - starts.first.epoch_seconds()
    stats = engine.to_pandas(
        starts.aggregate(
            log_start=starts.first.min(),
            log_end=starts.last.max(),
            horizon=duration.quantile(0.9),
            n_cases=starts.count(),
        )
    ).iloc[0]
    cohorts = starts.select("case_id", COHORT)
    if cases is not None:
        others = [c for c in cases.columns if c not in ("case_id", COHORT)]
        cohorts = cohorts.left_join(cases, "case_id").select(
            cohorts.case_id, cohorts[COHORT], *[cases[c] for c in others]
        )
    with_cohort = service.model_copy(
        update={"segments": [Segment(column=COHORT), *service.segments]}
    )
    summary = summarise_journeys(events, with_cohort, engine, cases=cohorts)
    return PeriodSummaries(
        every=every,
        visits=frame,
        cohorts=summary,
        log_start=pd.Timestamp(stats["log_start"]),
        log_end=pd.Timestamp(stats["log_end"]),
        horizon_s=float(stats["horizon"] or 0.0),
        n_cases=int(stats["n_cases"]),
    )


def split_cohorts(summary: JourneySummary, keep: set[str] | None = None) -> JourneySummary:
    """The journey summaries of the cohorts in ``keep`` (all when ``None``), cohorts merged.

    The result's segments are the model's own (``all`` without segments), as
    :func:`~keymoments.journey.summaries.summarise_journeys` gives them for the
    cases of those cohorts alone.
    """
    frame = summary.signatures
    parts = [s.split(_SEP, 1) for s in frame["segment"].astype(str)]
    cohort = pd.Series([p[0] for p in parts], index=frame.index)
    chosen = frame.assign(segment=[p[1] if len(p) > 1 else "all" for p in parts])
    if keep is not None:
        chosen = chosen[cohort.isin(keep).to_numpy()]
    sums = [c for c in chosen.columns if c not in ("segment", "sig")]
    merged = (
        chosen.groupby(["segment", "sig"], sort=True, as_index=False)[sums].sum()
        if len(chosen)
        else chosen
    )
    return replace(
        summary, signatures=merged.reset_index(drop=True), n_cases=int(merged["n"].sum())
    )


def cohort_of_rows(summary: JourneySummary) -> pd.Series:
    """The cohort label of each signature row."""
    segments = summary.signatures["segment"].astype(str)
    return pd.Series([s.split(_SEP, 1)[0] for s in segments], index=segments.index)
