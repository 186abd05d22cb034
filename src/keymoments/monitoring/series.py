"""Measures per period as SPC charts: each moment's break rate, each outcome's rate or mean.

A moment's **break rate** in a period is the share of its visits in that
period that broke (a p-chart: visits are the denominators). An outcome's
value in a period is measured on the *cohort* of cases that began then: the
share that reached a binary outcome (a p-chart over cases), or the mean of a
numeric one (an XmR chart). A cohort is complete once its period ended more
than the log's 90th-percentile case duration before the log's end; younger
cohorts are drawn but neither judged nor used for limits, since their cases
are still running. A moment with a ``no … within`` rule is likewise not judged
in periods that end less than the rule's duration before the log's end (its
late answers are not due yet).

The limits come from the **baseline** periods: by default those before the
first change (``changes:`` in the model) that concerns the measure, when there
are at least two; otherwise every judged period. ``baseline`` overrides it: a
number of periods from the start, or a date (the periods whose last day is on or
before it).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from keymoments.journey.summaries import JourneySummary
from keymoments.model import Service
from keymoments.monitoring.spc import ControlChart, p_chart, xmr_chart
from keymoments.monitoring.summaries import PeriodSummaries, cohort_label, cohort_of_rows

__all__ = ["Baseline", "Series", "period_axis", "period_ends"]

Baseline = int | str | datetime.date | None
Mask = NDArray[np.bool_]
#: the nominal length of a period in days (time in the regressions is counted in these)
PERIOD_DAYS = {"week": 7.0, "month": 365.25 / 12}
#: fewer baseline periods than this and the limits are marked uncertain
MIN_BASELINE = 12


@dataclass
class Series:
    """One measure per period with its SPC chart.

    Attributes:
        id: the moment's or outcome's id; ``name`` its label.
        kind: ``moment`` or ``outcome``.
        measure: ``break_rate``, ``rate`` (binary outcome) or ``mean`` (numeric).
        periods: the first day of each period.
        chart: the :class:`~keymoments.monitoring.spc.ControlChart`.
        complete: whether each period can be judged yet.
    """

    id: str
    name: str
    kind: str
    measure: str
    periods: list[pd.Timestamp]
    chart: ControlChart
    complete: Mask

    def baseline_span(self) -> tuple[str, str] | None:
        """The first days of the first and last periods the limits came from."""
        idx = np.flatnonzero(self.chart.baseline & self.chart.judged)
        if not len(idx):
            return None
        return cohort_label(self.periods[idx[0]]), cohort_label(self.periods[idx[-1]])

    def frame(self) -> pd.DataFrame:
        """One row per period: value, n, centre, limits, signals, type, complete."""
        c = self.chart
        return pd.DataFrame(
            {
                "period": self.periods,
                "value": c.values,
                "n": c.n,
                "centre": c.centre,
                "lcl": c.lcl,
                "ucl": c.ucl,
                "signals": [list(s) for s in c.signals],
                "type": c.point_types(),
                "complete": self.complete,
                "baseline": c.baseline,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The series as in the JSON's ``monitor`` section."""
        c = self.chart
        key = "moment" if self.kind == "moment" else "outcome"
        value = "break_rate" if self.kind == "moment" else "mean"
        points = []
        for i, period in enumerate(self.periods):
            v = c.values[i]
            points.append(
                {
                    "period": cohort_label(period),
                    value: None if not np.isfinite(v) else float(v),
                    "n": float(c.n[i]),
                    "centre": c.centre,
                    "lcl": float(c.lcl[i]) if np.isfinite(c.lcl[i]) else None,
                    "ucl": float(c.ucl[i]) if np.isfinite(c.ucl[i]) else None,
                    "signals": list(c.signals[i]),
                    "type": c.point_types()[i],
                    "complete": bool(self.complete[i]),
                }
            )
        span = self.baseline_span()
        return {
            key: self.id,
            "name": self.name,
            "measure": self.measure,
            "chart": c.kind,
            "variation": c.variation,
            "baseline": list(span) if span else [],
            "series": points,
        }


def period_axis(summaries: PeriodSummaries) -> list[pd.Timestamp]:
    """Every period from the log's first to its last, none skipped."""
    freq = "W-MON" if summaries.every == "week" else "MS"
    first = summaries.log_start.normalize()
    if summaries.every == "week":
        first -= pd.Timedelta(days=first.weekday())
    else:
        first = first.replace(day=1)
    return list(pd.date_range(first, summaries.log_end, freq=freq))


def period_ends(periods: list[pd.Timestamp], every: str) -> list[pd.Timestamp]:
    """The first moment after each period."""
    step = pd.DateOffset(weeks=1) if every == "week" else pd.DateOffset(months=1)
    return [p + step for p in periods]


def baseline_mask(
    periods: list[pd.Timestamp],
    ends: list[pd.Timestamp],
    judged: Mask,
    baseline: Baseline,
    first_change: pd.Timestamp | None,
) -> Mask:
    """The periods the limits come from (see the module doc)."""
    n = len(periods)
    if isinstance(baseline, int) and not isinstance(baseline, bool):
        return np.arange(n) < baseline
    if baseline is not None:
        # a period ends on its last day: a baseline to 2024-04-30 holds April
        until = pd.Timestamp(baseline) + pd.Timedelta(days=1)
        return np.array([e <= until for e in ends], dtype=bool)
    if first_change is not None:
        before = np.array([e <= first_change for e in ends], dtype=bool)
        if int((before & judged).sum()) >= 2:
            return before
    return np.ones(n, dtype=bool)


def moment_series(
    service: Service,
    summaries: PeriodSummaries,
    periods: list[pd.Timestamp],
    *,
    baseline: Baseline,
    first_change: dict[str, pd.Timestamp],
) -> list[Series]:
    """Each breakable moment's break rate per period, as a p-chart."""
    ends = period_ends(periods, summaries.every)
    index = {p: i for i, p in enumerate(periods)}
    out = []
    for m in service.moments:
        if not m.breakable:
            continue
        rows = summaries.visits[summaries.visits["moment"] == m.id]
        visits = np.zeros(len(periods))
        broken = np.zeros(len(periods))
        for p, v, b in zip(rows["period"], rows["visits"], rows["broken"], strict=True):
            i = index.get(pd.Timestamp(p))
            if i is not None:
                visits[i], broken[i] = v, b
        complete = np.ones(len(periods), dtype=bool)
        rule = m.broken_if
        if rule is not None and rule.kind == "unanswered":
            due = summaries.log_end - pd.Timedelta(seconds=rule.seconds)
            complete = np.array([e <= due for e in ends], dtype=bool)
        judged = complete & (visits > 0)
        if not judged.any():
            continue
        base = baseline_mask(periods, ends, judged, baseline, first_change.get(m.id))
        if not (base & judged).any():
            base = np.ones(len(periods), dtype=bool)
        chart = p_chart(broken, visits, baseline=base, judged=judged, direction=-1)
        out.append(Series(m.id, m.label, "moment", "break_rate", periods, chart, complete))
    return out


def cohort_frame(summary: JourneySummary, service: Service) -> pd.DataFrame:
    """Per cohort: ``cases``, and per outcome ``o``: ``n:o`` and ``sum:o`` (cases reaching
    a binary outcome, or the numeric outcome's count and sum)."""
    sigs = summary.signatures
    frame = pd.DataFrame({"cohort": cohort_of_rows(summary), "cases": sigs["n"].to_numpy(float)})
    codes = sigs["sig"].astype(str).str.split(".")
    space = summary.space
    for o in service.outcomes:
        if o.kind == "binary":
            marker = str(space.outcome(space.marker_of(o.id)))
            reached = codes.map(lambda c, m=marker: m in c).to_numpy(bool)
            frame[f"n:{o.id}"] = frame["cases"]
            frame[f"sum:{o.id}"] = np.where(reached, frame["cases"], 0.0)
        else:
            frame[f"n:{o.id}"] = sigs[f"n_y:{o.id}"].to_numpy(float)
            frame[f"sum:{o.id}"] = sigs[f"sum_y:{o.id}"].to_numpy(float)
    return frame.groupby("cohort", sort=True).sum()


def outcome_series(
    service: Service,
    summaries: PeriodSummaries,
    periods: list[pd.Timestamp],
    *,
    baseline: Baseline,
    first_change: pd.Timestamp | None,
) -> list[Series]:
    """Each outcome per cohort: a p-chart of a binary outcome's rate, an XmR of a mean."""
    ends = period_ends(periods, summaries.every)
    horizon = pd.Timedelta(seconds=summaries.horizon_s)
    complete = np.array([e + horizon <= summaries.log_end for e in ends], dtype=bool)
    by_cohort = cohort_frame(summaries.cohorts, service).reindex(
        [cohort_label(p) for p in periods], fill_value=0.0
    )
    out = []
    for o in service.outcomes:
        n = by_cohort[f"n:{o.id}"].to_numpy(float)
        total = by_cohort[f"sum:{o.id}"].to_numpy(float)
        judged = complete & (n > 0)
        if not judged.any():
            continue
        base = baseline_mask(periods, ends, judged, baseline, first_change)
        if not (base & judged).any():
            base = np.ones(len(periods), dtype=bool)
        if o.kind == "binary":
            chart = p_chart(total, n, baseline=base, judged=judged, direction=1)
            measure = "rate"
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.where(n > 0, total / np.where(n > 0, n, 1.0), np.nan)
            chart = xmr_chart(means, n=n, baseline=base, judged=judged, direction=1)
            measure = "mean"
        out.append(Series(o.id, o.label, "outcome", measure, periods, chart, complete))
    return out
