"""``analyse``: from a service model and its data to key moments with confidence.

The steps, each on the smallest data that will do:

1. read the events (and cases) through the engine, setting aside rows that
   cannot be used, with reasons (:mod:`keymoments.data.readers`);
2. reduce them to journey signatures and waits (:mod:`keymoments.journey.summaries`);
3. fit the journey chains and measure recoverable, gearing and key flags with
   bootstrap intervals (:mod:`keymoments.gearing`);
4. place every moment in a quadrant (:mod:`keymoments.alignment`) and follow
   the paths out of each broken moment (:mod:`keymoments.journey.after_break`).

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=2000)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=20)
    >>> result.key_moments("provider")
    ['appointment']
"""

from __future__ import annotations

import difflib
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from keymoments.alignment import quadrant
from keymoments.data.activity_names import near_misses
from keymoments.data.engine import Engine, connect
from keymoments.data.inputs import (
    DataInput,
    apply_filters,
    check_columns,
    column_users,
    input_path,
    named_errors,
    read_case_input,
    read_case_table,
    read_event_input,
    require_mapped_events,
    resolve_input,
)
from keymoments.data.readers import CaseTable, ReadReport, read_cases
from keymoments.errors import (
    DataError,
    DataWarning,
    KeymomentsWarning,
    ModelCheckWarning,
    ModelError,
    StatisticsWarning,
)
from keymoments.experience.barrier_results import estimate_barriers
from keymoments.experience.barrier_summaries import summarise_barriers
from keymoments.experience.comments.build import describe_comments
from keymoments.experience.comments.coding import CodedComments, code_themes
from keymoments.experience.comments.results import CommentResults
from keymoments.experience.ratings import rated_moments
from keymoments.experience.reached import reached_by_case
from keymoments.experience.survey import (
    Experience,
    case_columns_from_events,
    measure_experience,
)
from keymoments.gearing import ChainDraws, Impacts, Listeners, estimate_impacts, outcome_scale
from keymoments.journey.after_break import after_break
from keymoments.journey.check import CheckRow, ModelCheck
from keymoments.journey.fit import JourneyData
from keymoments.journey.memory import MemoryChoice, memory_for
from keymoments.journey.states import StateSpace
from keymoments.journey.summaries import (
    MAX_SEGMENT_VALUES,
    MISSING_SEGMENT,
    band_labels,
    case_attributes,
    number_or_null,
    summarise_journeys,
)
from keymoments.model import Service, load_service
from keymoments.result import AnalysisResult, MomentResult

__all__ = ["Progress", "analyse"]

# progress(stage, done, total): stage names are "read", "summarise", "bootstrap",
# "check", "barriers", "drivers", "comments".
Progress = Callable[[str, int, int], None]


def analyse(
    service: Service | str | Path,
    *,
    events: DataInput = None,
    cases: DataInput = None,
    engine: str | Engine | None = None,
    bootstrap: int | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
    barriers_by_segment: bool | None = None,
    missing: str | None = None,
    by_segment: bool | None = None,
    plan: bool = True,
    memory: str | list[str] | None = None,
) -> AnalysisResult:
    """Find the key moments of a service in its journey data.

    Args:
        service: a :class:`~keymoments.model.Service` or the path of its YAML file.
        events: the event log (path or DataFrame); defaults to the model's ``data.events``.
        cases: the cases table (path or DataFrame); defaults to the model's ``data.cases``.
        engine: ``"duckdb"`` (default), ``"spark"`` (local, or a cluster through
            ``SPARK_REMOTE``) or an :class:`~keymoments.data.engine.Engine`
            (e.g. ``Engine("spark", master="spark://host:7077")``).
        bootstrap: number of bootstrap draws (default: the model's, 200).
        seed: bootstrap seed (default: the model's, 0).
        progress: called as ``progress(stage, done, total)`` while it works.
        barriers_by_segment: also fit each barrier model within each segment and
            test whether a barrier's effect differs between segments (default:
            the model's ``analysis.barriers_by_segment``).
        missing: missing ratings in the drivers, ``"pairwise"`` or ``"listwise"``
            (default: the model's ``analysis.drivers.missing``, pairwise).
        by_segment: also measure the drivers per segment and test the differences
            (default: the model's ``analysis.drivers.by_segment``).
        plan: when the model has interventions, choose the best plan (and the
            frontier, when cheap) with the model's budget; ``False`` leaves
            ``portfolio`` empty for the caller to plan (as ``keymoments plan`` does).
        memory: which breaks the journey chain remembers: ``"auto"``, ``"none"``
            or a list of moment ids (default: the model's ``memory``, auto).

    With a cases table but no events (moments with a ``rating``, a numeric
    outcome), the analysis is survey-only: drivers and the emotion curve,
    moments without journey figures (see ``docs/drivers.md``).

    Returns:
        An :class:`~keymoments.result.AnalysisResult`.

    Raises:
        ModelError: the model is invalid. DataError: the data cannot be used.
    """
    if not isinstance(service, Service):
        service = load_service(service)
    if not service.outcomes:
        raise ModelError(
            "the model has no outcomes; add at least one under 'outcomes:' (an activity "
            "reached, or a numeric cases column) so moments can be measured against it",
            file=str(service.source) if service.source else None,
            field="outcomes",
        )
    eng = connect(engine)
    notify = progress or (lambda stage, done, total: None)
    events_in = resolve_input(service, events, "events")
    cases_in = resolve_input(service, cases, "cases")
    if missing is not None and missing not in ("pairwise", "listwise"):
        raise ModelError(f"missing must be 'pairwise' or 'listwise', got {missing!r}")
    if events_in is None:
        if cases_in is None or not rated_moments(service):
            raise DataError(
                f"service {service.name!r}: no events given; pass --events FILE or name one "
                "under 'data: {events: ...}' in the model (or, for a survey-only analysis, "
                "give --cases FILE and a 'rating' column on the moments)"
            )
        return _analyse_survey(service, cases_in, eng, notify, bootstrap, seed, missing, by_segment)
    with (
        tempfile.TemporaryDirectory(prefix="keymoments-") as tmp,
        warnings.catch_warnings(record=True) as caught,
        # The statistics solve many tiny systems (tens of states): threaded BLAS only
        # adds hand-offs, and on a busy machine its spinning threads made a 33×33
        # eigh 1000× slower (bootstrap of 15 moments: 195 s instead of a few).
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
        # a coded theme is a barrier of its moment: the barrier steps see the service
        # with its themes among the barriers, and the cases with the themes coded
        coded = _code_themes(service, case_table, eng)
        analysed = coded.service if coded else service
        events_table, n_filtered = apply_filters(service, log, eng)
        notify("summarise", 0, 1)
        summary = summarise_journeys(
            events_table, service, eng, cases=case_table.table if case_table else None
        )
        notify("summarise", 1, 1)
        require_mapped_events(summary, log)
        data = JourneyData.from_summary(summary)
        _warn_about_data(service, summary, data)
        _warn_about_bands(
            service,
            summary.segment_bins,
            eng,
            events=events_table,
            cases=case_table.table if case_table else None,
        )
        used_seed = service.analysis.seed if seed is None else seed
        choice = memory_for(service, data, service.memory if memory is None else memory, used_seed)
        data = data.with_memory(
            tuple(service.moments.index(service.moment(m)) for m in choice.chosen)
        )
        # the model check reads the bootstrap's own draws, as they are evaluated
        check = ModelCheck(data, service)
        # and the plan's Monte Carlo reads its chains
        chain_draws = ChainDraws(data, service)
        impacts = estimate_impacts(
            data,
            service,
            n_boot=bootstrap,
            seed=used_seed,
            progress=lambda done, total: notify("bootstrap", done, total),
            listener=Listeners(check, chain_draws),
        )
        _warn_about_estimates(service, impacts)
        _warn_about_model_means(service, data, impacts)
        checks = check.rows(
            confidence=impacts.confidence, outcome_sd=outcome_scale(data, service, impacts.point)
        )
        _warn_about_checks(service, checks, choice)
        barrier_data = summarise_barriers(
            events_table,
            analysed,
            eng,
            cases=coded.cases if coded else case_table.table if case_table else None,
            segment_bins=summary.segment_bins,
            n_cases=summary.n_cases,
        )
        experience = measure_experience(
            service,
            case_table.table if case_table else case_columns_from_events(events_table, service),
            eng,
            n_boot=bootstrap,
            seed=seed,
            missing=missing,  # type: ignore[arg-type]
            by_segment=by_segment,
            segment_bins=summary.segment_bins,
            reached=reached_by_case(events_table, service),
            progress=lambda done, total: notify("drivers", done, total),
        )
        reports: list[ReadReport] = [log.report, *([case_table.report] if case_table else [])]
        result = _assemble(analysed, summary, data, impacts, reports, eng)
        result.memory = choice
        result.model_check = checks
        result.chain_draws = chain_draws.chains
        result.seed = used_seed
        if barrier_data is not None:
            result.barriers = estimate_barriers(
                barrier_data,
                analysed,
                n_boot=impacts.n_boot,
                seed=service.analysis.seed if seed is None else seed,
                confidence=impacts.confidence,
                by_segment=service.analysis.barriers_by_segment
                if barriers_by_segment is None
                else barriers_by_segment,
                progress=lambda done, total: notify("barriers", done, total),
            )
        _attach_experience(result, experience)
        if coded is not None:
            result.comments = _describe_comments(coded, eng, seed, notify)
        result.n_events_filtered = n_filtered
        result._journey = data
        if service.interventions and plan:
            _plan(result, notify)
        # the result says what keymoments has to say; other libraries' warnings
        # (deprecations) are passed on below but are not findings
        result.warnings = [
            str(w.message) for w in caught if issubclass(w.category, KeymomentsWarning)
        ] + result.warnings
        kept = [(w.message, w.category) for w in caught]
        result._set_aside = [r for r in reports if r.set_aside_rows is not None and r.n_set_aside]
        result._engine = eng
    # shown again outside the recording block, so notebooks and scripts see them too
    for message, category in kept:
        warnings.warn(message, category, stacklevel=2)
    return result


def _plan(result: AnalysisResult, notify: Progress) -> None:
    """The best plan under the model's budget, when the model has interventions.

    Its notes (interventions left out, gaps widened) join the result's warnings.
    """
    from keymoments.portfolio.optimise import plan_in_analysis

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StatisticsWarning)
        result.portfolio = plan_in_analysis(result, progress=notify)
    result.warnings.extend(result.portfolio.notes)


def _code_themes(service: Service, cases: CaseTable | None, engine: Engine) -> CodedComments | None:
    """The model's comments coded into its themes on the engine (None without comments)."""
    if not service.comments:
        return None
    return code_themes(
        service, cases.table if cases else None, engine, file=cases.report.file if cases else None
    )


def _describe_comments(
    coded: CodedComments, engine: Engine, seed: int | None, notify: Progress
) -> CommentResults:
    """Counts, sentiment and quotes of the comments (masked), for the result."""
    settings = coded.service.analysis
    return describe_comments(
        coded,
        engine,
        seed=settings.seed if seed is None else seed,
        confidence=settings.confidence,
        progress=lambda done, total: notify("comments", done, total),
    )


def _warn_about_estimates(service: Service, impacts: Impacts) -> None:
    """Say which moments have no recoverable, and why."""
    if not impacts.breakable:
        warnings.warn(
            f"service {service.name!r}: no moment lists 'broken' activities, so no moment "
            "can be fixed and none can be key; add 'broken:' to the moments that can fail",
            StatisticsWarning,
            stacklevel=3,
        )
    for q, i in enumerate(impacts.breakable):
        if impacts.point.ok_unseen[q] and impacts.point.reach[i] > 0:
            warnings.warn(
                f"moment {service.moments[i].id!r}: no case ever passed it without "
                "breaking it, so what fixing it would bring cannot be estimated; its "
                "recoverable is left empty",
                StatisticsWarning,
                stacklevel=3,
            )
        elif impacts.point.trapped[q]:
            warnings.warn(
                f"moment {service.moments[i].id!r}: the journeys seen after passing it "
                "all came back to break it, so a fixed chain would never end; its "
                "recoverable is left empty (more cases would tell)",
                StatisticsWarning,
                stacklevel=3,
            )


# history groups the model misses, named one by one in warnings (the rest counted)
_CHECK_WARNINGS = 3


def _warn_about_checks(service: Service, checks: list[CheckRow], choice: MemoryChoice) -> None:
    """Name the histories (and segments) the journey model does not reproduce."""
    missed = [r for r in checks if not r.ok and r.group != "all"]
    missed.sort(key=lambda r: -abs(r.observed - r.model) / max(abs(r.observed), 1e-9))
    for r in missed[:_CHECK_WARNINGS]:
        o = service.outcome(r.outcome)
        show = (lambda v: f"{v:.1%}") if o.kind == "binary" else (lambda v: f"{v:.3g}")
        what = f"reached {o.label!r}" if o.kind == "binary" else f"had a mean {o.label!r} of"
        if r.moment is not None:
            who = (
                f"of the cases that broke {service.moment(r.moment).label!r} earlier"
                if r.broke
                else f"of the cases that did not break {service.moment(r.moment).label!r}"
            )
            hint = (
                f"; the chain forgets that history: add {r.moment!r} under 'memory:' in the "
                "model (or leave memory: auto)"
                if r.broke and r.moment not in choice.chosen
                else ""
            )
        else:
            who, hint = f"in segment {r.segment!r}", ""
        warnings.warn(
            f"model check: {who}, {show(r.observed)} {what}; the journey model predicts "
            f"{show(r.model)} [{show(r.ci[0])}, {show(r.ci[1])}]{hint}",
            ModelCheckWarning,
            stacklevel=3,
        )
    more = len(missed) - _CHECK_WARNINGS
    if more > 0:
        warnings.warn(
            f"model check: {more} more group{'s' if more > 1 else ''} where the journey "
            "model misses what happened (see model_check in the result)",
            ModelCheckWarning,
            stacklevel=3,
        )


def _warn_about_data(service: Service, summary: Any, data: JourneyData) -> None:
    sigs = summary.signatures
    space = summary.space
    seen = np.asarray(data.visits.sum(axis=0)).ravel() > 0
    for i, m in enumerate(service.moments):
        if not (seen[space.ok(i)] or seen[space.broken(i)]):
            warnings.warn(
                f"moment {m.id!r}: none of its activities ({', '.join(m.activities)}) "
                "appears in the events; nobody reaches it",
                DataWarning,
                stacklevel=3,
            )
    for message in near_misses(service, summary.unmapped):
        warnings.warn(message, DataWarning, stacklevel=3)
    for o in service.outcomes:
        if o.kind == "binary" and not seen[space.outcome(space.marker_of(o.id))]:
            warnings.warn(
                f"outcome {o.id!r}: its activities never appear in the events; its mean is 0",
                DataWarning,
                stacklevel=3,
            )
    for key, n in summary.outcome_values_ignored.items():
        if not n:
            continue
        if key.startswith("money:"):
            o = service.outcome(key.removeprefix("money:"))
            message = (
                f"outcome {o.id!r}: {n:,} values of its value column {o.value_column!r} are "
                "not finite numbers (text, NaN or infinity); those cases count as no money"
            )
        else:
            message = (
                f"outcome {key!r}: {n:,} values are not finite numbers (text, NaN or "
                "infinity) and were left out of its mean"
            )
        warnings.warn(message, DataWarning, stacklevel=3)
    _warn_about_order(summary)
    for column, cuts in summary.segment_bins.items():
        warnings.warn(
            f"segment {column!r} is a number with more than {MAX_SEGMENT_VALUES} values; "
            f"cut at its quartiles into: {', '.join(band_labels(cuts))}. To choose the bands, "
            f"write it as {{column: {column}, bins: [...]}} under segments",
            DataWarning,
            stacklevel=3,
        )
    if len(sigs) and service.segments:
        sizes = sigs.groupby("segment")["n"].sum()
        for seg, n in sizes.items():
            if n < 30:
                warnings.warn(
                    f"segment {seg!r} has only {int(n)} case{'s' if n != 1 else ''}; its chain "
                    "borrows the pooled "
                    "transitions where it has none and its figures are uncertain",
                    StatisticsWarning,
                    stacklevel=3,
                )


def _warn_about_bands(
    service: Service,
    found: dict[str, list[float]],
    engine: Engine,
    *,
    events: Any = None,
    cases: Any = None,
) -> None:
    """Count the values of banded segment columns that are not finite numbers.

    Such a case falls in no band and is counted in the missing segment; said
    here so that text, NaN or an infinity in an age column is not missed.
    """
    banded = [s.column for s in service.segment_specs if s.bins or s.column in found]
    if not banded:
        return
    if events is None:
        present = [c for c in banded if c in cases.columns]
        table = cases.select(*present) if present else None
    else:
        table = case_attributes(events, cases, banded)
    columns = [c for c in banded if table is not None and c in table.columns]
    if table is None or not columns:
        return

    def unreadable(col: Any) -> Any:
        bad = number_or_null(col)[1]
        if col.type().is_string():
            bad = bad & (col.strip() != "")  # a blank is missing, not unreadable
        return bad.cast("int64").sum()

    counts = engine.to_pandas(
        table.aggregate(**{f"b{i}": unreadable(table[c]) for i, c in enumerate(columns)})
    ).iloc[0]
    for i, column in enumerate(columns):
        n = int(counts[f"b{i}"] or 0)
        if n:
            warnings.warn(
                f"segment {column!r}: {n:,} values are not finite numbers (text, NaN or "
                f"infinity); those cases fall in no band and are counted as {MISSING_SEGMENT!r}",
                DataWarning,
                stacklevel=3,
            )


def _warn_about_order(summary: Any) -> None:
    """Say where the model, not time, ordered events, and what the time rules could not judge."""
    order = summary.order
    if order.tied_transitions:
        warnings.warn(
            f"{order.tied_transitions:,} moves between moments in {order.tied_cases:,} cases "
            "had both events at the same instant; they were ordered by the service model "
            "(moments in its order, outcomes after them), then by file order",
            DataWarning,
            stacklevel=3,
        )
    if order.date_only:
        placed = (
            f"; {order.placed_events:,} of their {order.date_only_events:,} events share a "
            "date with timed events of their case and were placed after the moments before "
            "them in the model"
            if order.placed_events
            else ""
        )
        warnings.warn(
            f"activities with dates only (every timestamp at midnight): "
            f"{', '.join(order.date_only)}{placed}",
            DataWarning,
            stacklevel=3,
        )
    for rule in summary.time_breaks:
        if rule.not_yet_due:
            warnings.warn(
                f"moment {rule.moment!r} ({rule.rule}): {rule.not_yet_due:,} events were still "
                "waiting when the log ends, so they are not counted as broken",
                DataWarning,
                stacklevel=3,
            )
        if rule.unjudged:
            warnings.warn(
                f"moment {rule.moment!r} ({rule.rule}): {rule.unjudged:,} events had no earlier "
                "event to count the wait from, so they are not counted as broken",
                DataWarning,
                stacklevel=3,
            )


# The model's mean may differ from the observed one by this much (in the outcome's
# unit for a binary outcome, in standard deviations for a numeric one) before it warns.
MODEL_MEAN_TOLERANCE = 0.005


def _warn_about_model_means(service: Service, data: JourneyData, impacts: Impacts) -> None:
    """Warn when the fitted journey model does not reproduce an outcome's observed mean.

    The tolerance is the larger of :data:`MODEL_MEAN_TOLERANCE` and the half-width of
    the observed mean's own 95% interval.
    """
    observed = _outcome_means(service, data)
    total = float(data.n.sum())
    for k, o in enumerate(service.outcomes):
        mean = observed[k]
        model = float(impacts.point.outcome_mean[k])
        if mean is None or not np.isfinite(model):
            continue
        if o.kind == "binary":
            spread, n = float(np.sqrt(max(mean * (1 - mean), 0.0))), total
            tolerance = MODEL_MEAN_TOLERANCE
        else:
            n = float(data.n_y[o.id].sum())
            s2 = float(data.sum_y2[o.id].sum())
            spread = float(np.sqrt(max(s2 / n - mean**2, 0.0))) if n > 0 else 0.0
            tolerance = MODEL_MEAN_TOLERANCE * spread
        half = 1.959964 * spread / np.sqrt(n) if n > 0 else 0.0
        if abs(model - mean) > max(tolerance, half):
            warnings.warn(
                f"outcome {o.id!r}: the journey model gives a mean of {model:.4g} where "
                f"{mean:.4g} was observed; its figures rest on a model that does not "
                "reproduce the data"
                + (
                    " (cases without a value for the outcome walk the journeys too)"
                    if o.kind != "binary" and data.n_y[o.id].sum() < total
                    else ""
                ),
                StatisticsWarning,
                stacklevel=3,
            )


def _outcome_means(service: Service, data: JourneyData) -> list[float | None]:
    total = data.n.sum()
    means: list[float | None] = []
    for o in service.outcomes:
        if o.kind == "binary":
            s = data.space.outcome(data.space.marker_of(o.id))
            col = np.asarray((data.visits[:, s] > 0).todense()).ravel()
            means.append(float((data.n * col).sum() / total) if total else None)
        else:
            ny = data.n_y[o.id].sum()
            means.append(float(data.sum_y[o.id].sum() / ny) if ny > 0 else None)
    return means


def _assemble(
    service: Service,
    summary: Any,
    data: JourneyData,
    impacts: Any,
    reports: list[ReadReport],
    engine: Engine,
) -> AnalysisResult:
    position = {i: q for q, i in enumerate(impacts.breakable)}
    moments: list[MomentResult] = []
    for i, m in enumerate(service.moments):
        q = position.get(i)
        impact: dict[str, dict[str, Any]] = {}
        key = {"user": False, "provider": False}
        measures: dict[str, list[Any]] = {}
        user = provider = None
        if q is not None and not (impacts.point.ok_unseen[q] or impacts.point.trapped[q]):
            for k, o in enumerate(service.outcomes):
                impact[o.id] = {
                    "recoverable": float(impacts.point.recoverable[q, k]),
                    "ci": [
                        float(impacts.recoverable_ci[0, q, k]),
                        float(impacts.recoverable_ci[1, q, k]),
                    ],
                    "gearing": float(impacts.gearing[q, k]),
                    "gearing_ci": [
                        float(impacts.gearing_ci[0, q, k]),
                        float(impacts.gearing_ci[1, q, k]),
                    ],
                    "marginal": float(impacts.point.marginal[q, k]),
                    "marginal_ci": [
                        float(impacts.marginal_ci[0, q, k]),
                        float(impacts.marginal_ci[1, q, k]),
                    ],
                    "marginal_gearing": float(impacts.marginal_gearing[q, k]),
                }
            user = impacts.perspective["user"][q]
            provider = impacts.perspective["provider"][q]
            measures = {p: list(impacts.measures[p][q]) for p in ("user", "provider")}
            key = {"user": bool(user and user.key), "provider": bool(provider and provider.key)}
        moments.append(
            MomentResult(
                id=m.id,
                name=m.label,
                stage=m.stage,
                perspectives=list(m.perspectives),
                breakable=m.breakable,
                reach=float(impacts.point.reach[i]),
                reach_ci=(float(impacts.reach_ci[0, i]), float(impacts.reach_ci[1, i])),
                break_rate=float(impacts.point.break_rate[i]) if m.breakable else 0.0,
                break_rate_ci=(
                    float(impacts.break_rate_ci[0, i]),
                    float(impacts.break_rate_ci[1, i]),
                )
                if m.breakable
                else (0.0, 0.0),
                impact=impact,
                key=key,
                deciding={"user": user, "provider": provider},
                measures=measures,
                quadrant=quadrant(
                    key_user=key["user"],
                    key_provider=key["provider"],
                    user=user,
                    provider=provider,
                ),
            )
        )
    waits = _with_cases(summary.waits, data)
    breaks = {
        m.id: after_break(waits, summary.space, i)
        for i, m in enumerate(service.moments)
        if m.breakable
    }
    return AnalysisResult(
        service=service,
        n_cases=summary.n_cases,
        n_events=summary.n_events,
        n_events_mapped=summary.n_events_mapped,
        outcome_means=_outcome_means(service, data),
        model_means=[float(v) for v in impacts.point.outcome_mean],
        model_mean_ci=[(float(lo), float(hi)) for lo, hi in impacts.model_mean_ci.T],
        order=summary.order,
        time_breaks=list(summary.time_breaks),
        moments=moments,
        after_break=breaks,
        waits=waits,
        variants=data.variants(),
        unmapped=summary.unmapped,
        reports=reports,
        n_boot=impacts.n_boot,
        confidence=impacts.confidence,
        space=summary.space,
        cases_without_events=summary.cases_without_events,
    )


def _with_cases(waits: pd.DataFrame, data: JourneyData) -> pd.DataFrame:
    """The waits with ``cases``: distinct cases making each move (``n`` counts moves)."""
    cases = data.pair_cases()
    out = waits.merge(cases, on=["from_code", "to_code"], how="left")
    out["cases"] = out["cases"].fillna(0).astype(int)
    return out


def _attach_experience(result: AnalysisResult, experience: Experience | None) -> None:
    if experience is not None:
        result.drivers = experience.drivers
        result.emotion = experience.emotion


def _analyse_survey(
    service: Service,
    cases_in: DataInput,
    eng: Engine,
    notify: Progress,
    bootstrap: int | None,
    seed: int | None,
    missing: str | None,
    by_segment: bool | None,
) -> AnalysisResult:
    """A cases table without events: drivers and the emotion curve only.

    Moments keep the contract's fields: ``reach`` is the share of respondents
    who rated the moment, ``break_rate`` 0 with no ``impact`` and never key
    (nothing breaks in a survey); outcomes' means come from the cases table.
    """
    with (
        tempfile.TemporaryDirectory(prefix="keymoments-") as tmp,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always", category=DataWarning)
        warnings.simplefilter("always", category=StatisticsWarning)
        notify("read", 0, 1)
        cases_path = input_path(cases_in, Path(tmp), "cases")
        with named_errors(cases_in, cases_path, "<cases DataFrame>"):
            try:
                case_table = read_case_table(service, cases_path, eng)
            except DataError as exc:
                # a survey on its own often has no respondent id: one row, one respondent
                if service.columns.cases_case_id or "for the case id" not in str(exc):
                    raise
                case_table = read_cases(cases_path, case_id=None, engine=eng)
        if isinstance(cases_in, pd.DataFrame):
            case_table.report.file = "<cases DataFrame>"
        notify("read", 1, 1)
        for col in service.case_columns:
            if col not in case_table.table.columns:
                names = sorted(case_table.table.columns)
                close = difflib.get_close_matches(col, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise DataError(
                    f"{case_table.report.file}: no column {col!r} (needed by "
                    f"{column_users(service, col)}){hint}; columns are: {', '.join(names)}"
                )
        _warn_about_bands(service, {}, eng, cases=case_table.table)
        experience = measure_experience(
            service,
            case_table.table,
            eng,
            n_boot=bootstrap,
            seed=seed,
            missing=missing,  # type: ignore[arg-type]
            by_segment=by_segment,
            progress=lambda done, total: notify("drivers", done, total),
        )
        assert experience is not None  # rated moments were checked by the caller
        coded = _code_themes(service, case_table, eng)
        ratings = experience.summary
        k = len(ratings.moments)
        w = ratings.n.astype(float)
        total = float(w.sum())
        answered = {
            m: float(w[~np.isnan(ratings.values[:, j])].sum()) / total if total else 0.0
            for j, m in enumerate(ratings.moments)
        }
        means: list[float | None] = []
        for o in service.outcomes:
            if o.id in ratings.outcomes:
                y = ratings.values[:, k + ratings.outcomes.index(o.id)]
                have = ~np.isnan(y)
                means.append(
                    float((y[have] * w[have]).sum() / w[have].sum()) if have.any() else None
                )
            else:
                means.append(None)
        if any(o.kind == "binary" for o in service.outcomes):
            warnings.warn(
                "no events: outcomes reached through activities "
                f"({', '.join(o.id for o in service.outcomes if o.kind == 'binary')}) "
                "cannot be measured from a survey; their means are empty",
                DataWarning,
                stacklevel=3,
            )
        moments = []
        for m in service.moments:
            reach = answered.get(m.id, 0.0)
            half = 1.959964 * float(np.sqrt(reach * (1 - reach) / total)) if total else 0.0
            moments.append(
                MomentResult(
                    id=m.id,
                    name=m.label,
                    stage=m.stage,
                    perspectives=list(m.perspectives),
                    breakable=False,
                    reach=reach,
                    reach_ci=(max(0.0, reach - half), min(1.0, reach + half)),
                    break_rate=0.0,
                    break_rate_ci=(0.0, 0.0),
                    impact={},
                    key={"user": False, "provider": False},
                    deciding={"user": None, "provider": None},
                    quadrant="minor",
                )
            )
        result = AnalysisResult(
            service=service,
            n_cases=ratings.n_respondents,
            n_events=0,
            n_events_mapped=0,
            outcome_means=means,
            moments=moments,
            after_break={},
            waits=pd.DataFrame(
                columns=["from_code", "to_code", "n", "mean_s", "median_s", "p90_s"]
            ),
            variants=pd.DataFrame(),
            unmapped=pd.DataFrame({"activity": pd.Series(dtype=str), "n": pd.Series(dtype=int)}),
            reports=[case_table.report],
            n_boot=service.analysis.bootstrap if bootstrap is None else bootstrap,
            confidence=service.analysis.confidence,
            space=StateSpace.from_service(service),
            survey_only=True,
        )
        _attach_experience(result, experience)
        if coded is not None:
            result.comments = _describe_comments(coded, eng, seed, notify)
        result.warnings = [
            str(c.message) for c in caught if issubclass(c.category, KeymomentsWarning)
        ]
        kept = [(c.message, c.category) for c in caught]
        result._set_aside = [
            r for r in result.reports if r.set_aside_rows is not None and r.n_set_aside
        ]
        result._engine = eng
    for message, category in kept:
        warnings.warn(message, category, stacklevel=3)
    return result
