"""``monitor``: from a service model and its log to measures over time and changes checked.

The steps, each on the smallest data that will do:

1. read the events (and cases) as :func:`~keymoments.analyse` does, rows that
   cannot be used set aside with reasons;
2. reduce them to visits per period and journeys per cohort
   (:mod:`keymoments.monitoring.summaries`), one pass each;
3. draw each moment's break rate and each outcome per period as SPC charts
   with Making Data Count's rules (:mod:`keymoments.monitoring.series`);
4. check every change of the model: measured, predicted, promised, verdict
   (:mod:`keymoments.monitoring.changes`);
5. find the key moments per window and note those that moved
   (:mod:`keymoments.monitoring.key`).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

from keymoments.analysis import Progress
from keymoments.data.engine import Engine, connect
from keymoments.data.inputs import (
    DataInput,
    apply_filters,
    check_columns,
    read_case_input,
    read_event_input,
    require_mapped_events,
    resolve_input,
)
from keymoments.data.readers import CaseTable
from keymoments.errors import (
    DataError,
    DataWarning,
    KeymomentsWarning,
    ModelError,
    StatisticsWarning,
)
from keymoments.journey.fit import JourneyData
from keymoments.journey.memory import memory_for
from keymoments.model import Service, load_service
from keymoments.monitoring.changes import change_moments, check_changes
from keymoments.monitoring.key import WINDOWS, key_windows
from keymoments.monitoring.result import MonitorResult
from keymoments.monitoring.series import (
    MIN_BASELINE,
    Baseline,
    Series,
    moment_series,
    outcome_series,
    period_axis,
)
from keymoments.monitoring.summaries import EVERY, split_cohorts, summarise_periods

__all__ = ["monitor"]


def monitor(
    service: Service | str | Path,
    *,
    events: DataInput = None,
    cases: DataInput = None,
    every: str = "week",
    baseline: Baseline = None,
    window: str | int = "quarter",
    engine: str | Engine | None = None,
    bootstrap: int | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
) -> MonitorResult:
    """Key moments over time, and each change of the model checked against its promise.

    Args:
        service: a :class:`~keymoments.model.Service` or the path of its YAML file.
        events, cases: as for :func:`~keymoments.analyse` (default: the model's ``data:``).
        every: ``"week"`` or ``"month"``: the period of the charts.
        baseline: the periods the charts' limits come from: a number of periods
            from the start, or a date (the periods that end by then); default:
            the periods before the first change that concerns each measure.
        window: the key-moment windows: ``"quarter"``, ``"half"``, ``"year"``
            or a number of periods.
        engine: ``"duckdb"`` (default), ``"spark"`` or an Engine.
        bootstrap, seed: for the key moments of each window (default: the model's).
        progress: called as ``progress(stage, done, total)``; stages ``read``,
            ``periods``, ``changes``, ``windows``.

    Returns:
        A :class:`~keymoments.monitoring.result.MonitorResult`.

    Example:
        >>> import keymoments
        >>> from keymoments.monitoring import simulate_rollout
        >>> ex = simulate_rollout(weeks=40, cases_per_week=400, seed=2)
        >>> result = keymoments.monitor(ex.service, events=ex.events, cases=ex.cases,
        ...                             bootstrap=0)
        >>> check = result.changes[0]
        >>> check.moment, check.verdict, round(check.change, 2)
        ('appointment', 'delivered', -0.12)
    """
    if not isinstance(service, Service):
        service = load_service(service)
    if every not in EVERY:
        raise ModelError(f"--every {every!r}: use {' or '.join(EVERY)}")
    if isinstance(window, str) and window.isdigit():
        window = int(window)
    if not (isinstance(window, int) and window >= 1) and window not in WINDOWS:
        raise ModelError(
            f"window {window!r}: use {', '.join(WINDOWS)} or a whole number of periods"
        )
    eng = connect(engine)
    notify = progress or (lambda stage, done, total: None)
    events_in = resolve_input(service, events, "events")
    cases_in = resolve_input(service, cases, "cases")
    if events_in is None:
        raise DataError(
            f"service {service.name!r}: no events given; pass --events FILE or name one "
            "under 'data: {events: ...}' in the model (monitoring follows moments in time)"
        )
    changed = {c.id: change_moments(service, c) for c in service.changes}
    with (
        tempfile.TemporaryDirectory(prefix="keymoments-") as tmp,
        warnings.catch_warnings(record=True) as caught,
        threadpool_limits(limits=1, user_api="blas"),
    ):
        warnings.simplefilter("always", category=DataWarning)
        warnings.simplefilter("always", category=StatisticsWarning)
        folder = Path(tmp)
        notify("read", 0, 2)
        log = read_event_input(service, events_in, folder, eng)
        case_table: CaseTable | None = None
        if cases_in is not None:
            case_table = read_case_input(service, cases_in, folder, eng)
        notify("read", 2, 2)
        check_columns(service, log, case_table)
        events_table, _ = apply_filters(service, log, eng)
        notify("periods", 0, 1)
        summaries = summarise_periods(
            events_table,
            service,
            eng,
            cases=case_table.table if case_table else None,
            every=every,
        )
        require_mapped_events(summaries.cohorts, log)
        # the histories the chains remember, chosen once on every case as analyse does
        whole = JourneyData.from_summary(split_cohorts(summaries.cohorts))
        used_seed = service.analysis.seed if seed is None else seed
        choice = memory_for(service, whole, service.memory, used_seed)
        memory = tuple(service.moments.index(service.moment(m)) for m in choice.chosen)
        notify("periods", 1, 1)
        periods = period_axis(summaries)
        first: dict[str, pd.Timestamp] = {}
        for c in service.changes:
            for mid in changed[c.id]:
                date = pd.Timestamp(c.date)
                first[mid] = min(first.get(mid, date), date)
        moments = moment_series(service, summaries, periods, baseline=baseline, first_change=first)
        outcomes = outcome_series(
            service,
            summaries,
            periods,
            baseline=baseline,
            first_change=min(first.values()) if first else None,
        )
        _warn_about_baselines([*moments, *outcomes])
        notify("changes", 0, len(service.changes))
        checks = check_changes(
            service,
            summaries,
            moments,
            outcomes,
            confidence=service.analysis.confidence,
            memory=memory,
        )
        notify("changes", len(service.changes), len(service.changes))
        windows, notes, messages = key_windows(
            service,
            summaries,
            window=window,
            bootstrap=bootstrap,
            seed=used_seed,
            memory=memory,
            progress=lambda done, total: notify("windows", done, total),
        )
        for message in messages:
            warnings.warn(message, StatisticsWarning, stacklevel=2)
        reports = [log.report, *([case_table.report] if case_table else [])]
        result = MonitorResult(
            service=service,
            every=every,
            periods=periods,
            moments=moments,
            outcomes=outcomes,
            changes=checks,
            windows=windows,
            key_notes=notes,
            n_cases=summaries.n_cases,
            n_events=summaries.cohorts.n_events,
            log_start=summaries.log_start,
            log_end=summaries.log_end,
            horizon_days=summaries.horizon_s / 86400.0,
            window=window,
            confidence=service.analysis.confidence,
            memory=list(choice.chosen),
            reports=reports,
        )
        result.warnings = [
            str(w.message) for w in caught if issubclass(w.category, KeymomentsWarning)
        ]
        kept = [(w.message, w.category) for w in caught]
    for found, category in kept:
        warnings.warn(found, category, stacklevel=2)
    return result


def _warn_about_baselines(series: list[Series]) -> None:
    for s in series:
        n = int((s.chart.baseline & s.chart.judged).sum())
        if n < MIN_BASELINE:
            warnings.warn(
                f"{s.kind} {s.id!r}: its limits rest on {n} period{'s' if n != 1 else ''} "
                f"(fewer than {MIN_BASELINE}); read its signals with care, they firm up "
                "with a longer baseline",
                StatisticsWarning,
                stacklevel=3,
            )
