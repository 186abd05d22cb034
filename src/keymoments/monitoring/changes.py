"""Did a change deliver? Its effect measured, predicted and promised, and a verdict.

For each change of the model (``changes:``) and each moment it concerns:

- **measured**: the level change of the moment's break rate at the change's
  date, by an interrupted time series (:mod:`keymoments.monitoring.its`) on the
  periods wholly before and wholly after the date (a period the date falls
  inside is left out), and the same for each outcome on the cohorts of cases
  that began wholly before, or after, the date (a cohort that began within the
  log's 90th-percentile case duration before the date straddles it and is left
  out, as are cohorts too young to be complete);
- **predicted**: what the journey model says the outcomes should have done,
  given the measured change of every moment of the change: the chains are
  fitted on the cases that began before the date, each moment's break
  probability is scaled until its share of visits that break has moved by the
  measured change (:meth:`~keymoments.portfolio.chain.ChainModel.factor_for_break_share`),
  and the outcomes are read off exactly (no simulation);
- **promised**: what the change's ``intervention`` said: its ``effect`` on the
  moment's break rate (``before × effect``, with ``effect_range``), and what the
  same chains give for the outcomes with the break probability times
  (1 + effect).

The **verdict** compares the interval of the measured change with the promise
(``P`` = before × effect, an improvement of size |P|):

- ``delivered``: the interval shows an improvement (it excludes no change) and
  reaches the promise (holds |P| or more);
- ``partly``: an improvement, but the whole interval falls short of the promise;
- ``not``: no improvement shown, and the promise ruled out;
- ``too_early``: the interval holds both no change and the promise, or there
  are fewer than six periods after the date (a line through fewer is too
  easily bent by one period). ``weeks_needed`` says how many
  more weeks of data would narrow the interval to half the promise (so it can
  no longer hold both), projected with today's noise; none when no number
  would (the line before the date is itself too uncertain there).

A change without a moment intervention promises no figure: it is
``delivered`` when the interval shows fewer breaks, ``not`` when it shows more,
and ``too_early`` otherwise.
"""

from __future__ import annotations

import datetime
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from keymoments.errors import ModelError
from keymoments.journey.fit import JourneyData
from keymoments.model import Change, Service
from keymoments.monitoring.its import MIN_BEFORE, Segmented, segmented_regression
from keymoments.monitoring.series import PERIOD_DAYS, Series, period_ends
from keymoments.monitoring.summaries import PeriodSummaries, cohort_label, split_cohorts

__all__ = ["VERDICTS", "ChangeCheck", "change_moments", "check_changes", "verdict_of"]

#: the verdicts, best first
VERDICTS = ("delivered", "partly", "not", "too_early")
#: periods after the change before a verdict other than too early (a fit needs three)
VERDICT_AFTER = 6


@dataclass
class ChangeCheck:
    """One change at one moment: measured, predicted, promised, and the verdict.

    Attributes:
        id, name: the change's id and label; ``moment`` the moment's id.
        date: the change's date; ``intervention`` its intervention's id, if any.
        fit: the break rate's segmented regression (``None`` when too few periods).
        before, after, change, ci: the break rate just before and after the
            date, the level change and its interval.
        promised: ``{"change", "range", "outcomes"}`` from the intervention's
            effect, or ``None``.
        predicted: per outcome, the change the journey model gives for the
            measured break-rate changes of all the change's moments.
        observed: per outcome, the measured level change, with ``observed_ci``.
        verdict: one of :data:`VERDICTS`; ``weeks_needed`` when too early.
        reason: the verdict in a sentence.
    """

    id: str
    name: str
    moment: str
    date: datetime.date
    intervention: str | None
    fit: Segmented | None
    before: float | None
    after: float | None
    change: float | None
    ci: tuple[float, float] | None
    promised: dict[str, Any] | None
    predicted: dict[str, float] = field(default_factory=dict)
    observed: dict[str, float] = field(default_factory=dict)
    observed_ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    verdict: str = "too_early"
    weeks_needed: float | None = None
    reason: str = ""
    periods_before: int = 0
    periods_after: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The check as in the JSON's ``monitor.changes``."""
        return {
            "id": self.id,
            "name": self.name,
            "moment": self.moment,
            "date": self.date.isoformat(),
            "intervention": self.intervention,
            "before": self.before,
            "after": self.after,
            "change": self.change,
            "ci": list(self.ci) if self.ci is not None else None,
            "slope_change": self.fit.slope_change if self.fit else None,
            "slope_ci": list(self.fit.slope_ci) if self.fit else None,
            "periods_before": self.periods_before,
            "periods_after": self.periods_after,
            "promised": self.promised,
            "predicted": dict(self.predicted),
            "observed": dict(self.observed),
            "observed_ci": {k: list(v) for k, v in self.observed_ci.items()},
            "agrees": {
                o: bool(lo <= self.predicted[o] <= hi)
                for o, (lo, hi) in self.observed_ci.items()
                if o in self.predicted
            },
            "verdict": self.verdict,
            "weeks_needed": self.weeks_needed,
            "reason": self.reason,
        }


def change_moments(service: Service, change: Change) -> list[str]:
    """The moments a change concerns: its own list, else its intervention's moment."""
    if change.moments:
        return list(change.moments)
    iv = next(i for i in service.interventions if i.id == change.intervention)
    if iv.moment is not None:
        return [iv.moment]
    moment = next(b.moment for b in service.barriers if b.id == iv.barrier)
    if not service.moment(moment).breakable:
        raise ModelError(
            f"change {change.id!r}: its intervention {iv.id!r} acts on barrier "
            f"{iv.barrier!r} at moment {moment!r}, which cannot break; name the moments "
            "it changed under 'moments'",
            field="changes",
        )
    return [moment]


def verdict_of(change: float, ci: tuple[float, float], promise: float | None) -> tuple[str, str]:
    """The verdict on a measured change and its interval against a promised change.

    A promise is a change of the break rate (negative: fewer breaks). Returns
    the verdict and a sentence saying why.

    >>> verdict_of(-0.10, (-0.12, -0.08), -0.09)[0]
    'delivered'
    >>> verdict_of(-0.04, (-0.06, -0.02), -0.09)[0]
    'partly'
    >>> verdict_of(0.0, (-0.02, 0.02), -0.09)[0]
    'not'
    >>> verdict_of(-0.05, (-0.11, 0.01), -0.09)[0]
    'too_early'
    """
    sign = -1.0 if promise is None or promise <= 0 else 1.0
    lo, hi = sorted((ci[0] * sign, ci[1] * sign))  # improvement is positive from here
    if promise is None:
        if lo > 0:
            return "delivered", "the interval shows fewer breaks (no figure was promised)"
        if hi < 0:
            return "not", "the interval shows more breaks than before"
        return "too_early", "the interval still holds no change"
    size = abs(promise)
    if lo > 0 and hi >= size:
        return "delivered", "an improvement, and the interval reaches the promise"
    if lo > 0:
        return "partly", "an improvement, but the whole interval falls short of the promise"
    if hi < size:
        return "not", "no improvement shown, and the interval rules the promise out"
    return "too_early", "the interval still holds both no change and the promise"


def _time(stamp: pd.Timestamp, origin: pd.Timestamp, every: str) -> float:
    return float((stamp - origin) / pd.Timedelta(days=PERIOD_DAYS[every]))


def _fit(
    series: Series,
    use: np.ndarray,
    date: pd.Timestamp,
    every: str,
    confidence: float,
) -> Segmented | None:
    periods = series.periods
    ends = period_ends(periods, every)
    origin = periods[0]
    middles = np.array([(_time(p, origin, every) + _time(e, origin, every)) / 2
                        for p, e in zip(periods, ends, strict=True)])  # fmt: skip
    c = series.chart
    keep = use & series.complete & np.isfinite(c.values) & (c.n > 0)
    try:
        return segmented_regression(
            c.values[keep],
            middles[keep],
            _time(date, origin, every),
            weights=c.n[keep],
            confidence=confidence,
        )
    except ValueError:
        return None


def _sides(series: Series, use: np.ndarray, date: pd.Timestamp, every: str) -> tuple[int, int]:
    ends = period_ends(series.periods, every)
    ok = use & series.complete & np.isfinite(series.chart.values) & (series.chart.n > 0)
    before = sum(1 for e, k in zip(ends, ok, strict=True) if k and e <= date)
    after = sum(1 for p, k in zip(series.periods, ok, strict=True) if k and p >= date)
    return before, after


def check_changes(
    service: Service,
    summaries: PeriodSummaries,
    moments: list[Series],
    outcomes: list[Series],
    *,
    confidence: float = 0.95,
    memory: tuple[int, ...] = (),
) -> list[ChangeCheck]:
    """Every change at every moment it concerns (see the module doc).

    ``memory``: the moments whose breaks the chains remember (as the analysis chose).
    """
    every = summaries.every
    by_moment = {s.id: s for s in moments}
    horizon = pd.Timedelta(seconds=summaries.horizon_s)
    week_per_period = PERIOD_DAYS[every] / 7.0
    out: list[ChangeCheck] = []
    for change in service.changes:
        date = pd.Timestamp(change.date)
        ids = change_moments(service, change)
        iv = next((i for i in service.interventions if i.id == change.intervention), None)
        fits: dict[str, Segmented | None] = {}
        sides: dict[str, tuple[int, int]] = {}
        for mid in ids:
            s = by_moment.get(mid)
            if s is None:
                fits[mid], sides[mid] = None, (0, 0)
                continue
            whole = np.array(
                [not (p < date < e) for p, e in zip(s.periods, period_ends(s.periods, every),
                                                      strict=True)]
            )  # fmt: skip
            fits[mid] = _fit(s, whole, date, every, confidence)
            sides[mid] = _sides(s, whole, date, every)
        observed: dict[str, float] = {}
        observed_ci: dict[str, tuple[float, float]] = {}
        for s in outcomes:
            ends = period_ends(s.periods, every)
            clear = np.array(
                [e <= date - horizon or p >= date for p, e in zip(s.periods, ends, strict=True)]
            )
            fit = _fit(s, clear, date, every, confidence)
            if fit is not None:
                observed[s.id], observed_ci[s.id] = fit.change, fit.ci
        chains = _chains_before(service, summaries, date, memory)
        measured = {m: f.change for m, f in fits.items() if f is not None}
        predicted = _outcome_changes(service, chains, measured=measured) if chains else {}
        for mid in ids:
            fit = fits[mid]
            promised = None
            if iv is not None and iv.moment == mid and fit is not None:
                lo, hi = iv.effect_range or (iv.effect, iv.effect)
                promised = {
                    "effect": iv.effect,
                    "change": fit.before * iv.effect,
                    "range": sorted([fit.before * lo, fit.before * hi]),
                    "outcomes": _outcome_changes(service, chains, factors={mid: 1 + iv.effect})
                    if chains
                    else {},
                }
            n_before, n_after = sides[mid]
            check = ChangeCheck(
                id=change.id,
                name=change.label,
                moment=mid,
                date=change.date,
                intervention=change.intervention,
                fit=fit,
                before=fit.before if fit else None,
                after=fit.after if fit else None,
                change=fit.change if fit else None,
                ci=fit.ci if fit else None,
                promised=promised,
                predicted=predicted,
                observed=observed,
                observed_ci=observed_ci,
                periods_before=n_before,
                periods_after=n_after,
            )
            _judge(check, week_per_period)
            out.append(check)
    return out


def _judge(check: ChangeCheck, weeks_per_period: float) -> None:
    """Set the verdict, its reason and the weeks of data still needed."""
    promise = check.promised["change"] if check.promised else None
    short = max(VERDICT_AFTER - check.periods_after, 0)
    if check.fit is None:
        check.verdict = "too_early"
        if check.periods_before < MIN_BEFORE:
            check.reason = (
                f"{check.periods_before} periods of data before the date; the measure needs "
                f"at least {MIN_BEFORE}"
            )
        else:
            check.weeks_needed = short * weeks_per_period
            check.reason = (
                f"{check.periods_after} periods of data after the date; a verdict needs "
                f"at least {VERDICT_AFTER}"
            )
        return
    assert check.ci is not None and check.change is not None
    check.verdict, check.reason = verdict_of(check.change, check.ci, promise)
    if short:
        check.verdict = "too_early"
        check.reason = (
            f"{check.periods_after} periods of data after the date; a verdict needs at least "
            f"{VERDICT_AFTER} (so far: {check.reason})"
        )
    if check.verdict != "too_early":
        return
    periods: int | None = short
    if promise is not None:
        narrow = check.fit.periods_needed(abs(promise) / 2)
        periods = None if narrow is None else max(narrow, short)
    if periods is None:
        # the line before the change is itself too uncertain at the date
        check.reason += (
            "; more weeks after the change will not settle it, the periods before it "
            "are too few or too noisy to say where the break rate stood"
        )
    elif periods:
        check.weeks_needed = periods * weeks_per_period


def _chains_before(
    service: Service,
    summaries: PeriodSummaries,
    date: pd.Timestamp,
    memory: tuple[int, ...] = (),
) -> Any:
    """The journey chains of the cases that began in periods wholly before the date."""
    from keymoments.portfolio.chain import ChainModel

    if not service.outcomes:
        return None
    starts = sorted({cohort_label(p) for p in _cohort_starts(summaries)})
    every = summaries.every
    keep = {label for label in starts if period_ends([pd.Timestamp(label)], every)[0] <= date}
    if not keep:
        return None
    sub = split_cohorts(summaries.cohorts, keep)
    if sub.n_cases == 0:
        return None
    data = JourneyData.from_summary(sub, memory=memory)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return ChainModel.from_data(data, service)


def _cohort_starts(summaries: PeriodSummaries) -> list[pd.Timestamp]:
    from keymoments.monitoring.summaries import cohort_of_rows

    return [pd.Timestamp(c) for c in cohort_of_rows(summaries.cohorts).unique()]


def _outcome_changes(
    service: Service,
    chains: Any,
    *,
    measured: dict[str, float] | None = None,
    factors: dict[str, float] | None = None,
) -> dict[str, float]:
    """Each outcome's change on the chains when moments' break shares move by ``measured``
    (additive) or their break probabilities are scaled by ``factors``."""
    ids = [m.id for m in service.moments]
    vector = chains.identity()
    for mid, delta in (measured or {}).items():
        i = ids.index(mid)
        today = float(chains.break_share(chains.identity()[None], i)[0])
        try:
            vector[i] *= chains.factor_for_break_share(i, float(np.clip(today + delta, 0, 1)))
        except ValueError:
            return {}
    for mid, f in (factors or {}).items():
        vector[ids.index(mid)] *= f
    ev = chains.evaluate(np.stack([chains.identity(), vector]))
    gain = ev.outcomes[1] - ev.outcomes[0]
    return {o.id: float(gain[k]) for k, o in enumerate(service.outcomes) if np.isfinite(gain[k])}
