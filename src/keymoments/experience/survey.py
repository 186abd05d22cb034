"""The survey half of an analysis: from a cases table to drivers and the emotion curve.

:func:`measure_experience` reduces the cases table to answer patterns on the
engine (:mod:`~keymoments.experience.ratings`) and measures the drivers and
the emotion curve on them. It needs moments with a ``rating`` column; the
drivers also need a numeric outcome (a cases ``column``).

Example:
    >>> import keymoments
    >>> from keymoments.data.engine import connect
    >>> ex = keymoments.examples.load_car_purchase(n_cases=800)
    >>> eng = connect()
    >>> part = measure_experience(ex.service, eng.from_arrow(ex.cases), eng, n_boot=10)
    >>> part.summary.moments[:2], part.drivers is not None, part.emotion is not None
    (['visit', 'test_drive'], True, True)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import ibis
from threadpoolctl import threadpool_limits

from keymoments.data.engine import Engine
from keymoments.errors import DataWarning
from keymoments.experience.correlation import Missing
from keymoments.experience.drivers import Drivers, measure_drivers
from keymoments.experience.emotion import Emotion, measure_emotion
from keymoments.experience.ratings import RatingSummary, rated_moments, summarise_ratings
from keymoments.experience.reached import missing_among_reached
from keymoments.model import Service

__all__ = ["Experience", "measure_experience"]


@dataclass
class Experience:
    """What the survey says: the answer patterns, the drivers and the emotion curve."""

    summary: RatingSummary
    drivers: Drivers | None
    emotion: Emotion | None


def measure_experience(
    service: Service,
    cases: ibis.Table,
    engine: Engine,
    *,
    n_boot: int | None = None,
    seed: int | None = None,
    missing: Missing | None = None,
    by_segment: bool | None = None,
    segment_bins: dict[str, list[float]] | None = None,
    reached: ibis.Table | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Experience | None:
    """Drivers and the emotion curve of a cases table (``None`` if no moment is rated).

    Settings left ``None`` come from the model's ``analysis`` (and
    ``analysis.drivers``) section. ``reached``: per case, the rated moments
    it reached (:func:`~keymoments.experience.reached.reached_by_case`), so a
    moment a case never reached does not count as a missing rating.
    """
    if not rated_moments(service):
        return None
    settings = service.analysis
    boot = settings.bootstrap if n_boot is None else n_boot
    seed_ = settings.seed if seed is None else seed
    summary = summarise_ratings(cases, service, engine, segment_bins=segment_bins)
    if reached is not None:
        summary.missing_among_reached = missing_among_reached(cases, reached, service, engine)
    for column, count in summary.non_numeric.items():
        warnings.warn(
            f"column {column!r}: {count:,} answers are not finite numbers (text, NaN or "
            "infinity) and were left out of the ratings (count them as missing)",
            DataWarning,
            stacklevel=3,
        )
    names = {m.id: m.label for m in service.moments}
    # thousands of small products (a group's 250 x 64 answers, 62 x 62 normal equations):
    # BLAS threads only fight each other over them. At 500,000 respondents the drivers'
    # sums took 3.7 s on one thread against 90 s on OpenBLAS' threads on a busy machine
    with threadpool_limits(limits=1, user_api="blas"):
        drivers, emotion = _measure(
            service, summary, names, boot, seed_, missing, by_segment, progress
        )
    return Experience(summary=summary, drivers=drivers, emotion=emotion)


def _measure(
    service: Service,
    summary: RatingSummary,
    names: dict[str, str],
    boot: int,
    seed_: int,
    missing: Missing | None,
    by_segment: bool | None,
    progress: Callable[[int, int], None] | None,
) -> tuple[Drivers | None, Emotion | None]:
    settings = service.analysis
    opts = settings.drivers
    drivers = measure_drivers(
        summary,
        names=names,
        n_boot=boot,
        seed=seed_,
        confidence=settings.confidence,
        missing=missing or opts.missing,
        exact_limit=opts.exact_limit,
        samples=opts.samples,
        low=opts.low,
        high=opts.high,
        by_segment=opts.by_segment if by_segment is None else by_segment,
        progress=progress,
    )
    emotion = measure_emotion(
        summary,
        names=names,
        stages={m.id: m.stage for m in service.moments},
        n_boot=boot,
        seed=seed_,
        confidence=settings.confidence,
    )
    return drivers, emotion


def case_columns_from_events(events: ibis.Table, service: Service) -> ibis.Table:
    """Per case, the model's cases columns found on the events (any non-null value).

    Some exports repeat survey answers on every event of a case instead of
    giving a cases table.
    """
    wanted = [c for c in service.case_columns if c in events.columns]
    return events.group_by("case_id").aggregate(**{c: events[c].max() for c in wanted})
