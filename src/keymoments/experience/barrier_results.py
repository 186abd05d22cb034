"""Barrier estimates for a whole service: the results object and how it is built.

:func:`estimate_barriers` turns the data layer's pattern tables into one
:class:`~keymoments.experience.barriers.BarrierModel` per moment with its
bootstrap replicates, and per barrier the prevalence, adjusted odds ratio and
attributable fraction with intervals (optionally per segment, with a test of
whether the barrier's effect differs between segments). :class:`BarrierResults`
holds them with the usual views: ``.summary``, ``.to_dict()``, ``.plot()``.

Summary columns: ``moment``, ``barrier``, ``name``, ``prevalence``,
``odds_ratio``, ``or_lo``, ``or_hi``, ``p_value``, ``attributable_fraction``,
``af_lo``, ``af_hi``, ``crude_odds_ratio``, ``holders``, ``holders_break_rate``,
``others_break_rate``, ``status``, ``source`` (``survey``, or ``comments`` for a
theme coded from free text: see :mod:`keymoments.experience.comments`).

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=3000)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=20)
    >>> result.barriers.title
    'What stops people: barriers'
    >>> sorted(result.barriers.models)
    ['appointment']
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri
from threadpoolctl import threadpool_limits

from keymoments.errors import DataWarning, StatisticsWarning
from keymoments.experience.barrier_summaries import UNREADABLE, BarrierSummary, MomentPatterns
from keymoments.experience.barriers import (
    BarrierModel,
    bootstrap_replicates,
    fit_barrier_model,
    interaction_test,
)
from keymoments.model import Service

if TYPE_CHECKING:
    import altair as alt

__all__ = ["BarrierEstimate", "BarrierResults", "MomentBarriers", "estimate_barriers"]

MIN_SEGMENT_CASES = 30  # fewer cases in a segment: no separate segment model


def _interval(values: list[float], confidence: float) -> tuple[float | None, float | None]:
    arr = np.asarray([v for v in values if np.isfinite(v)], dtype=np.float64)
    if arr.size < 2:
        return None, None
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(arr, [tail, 100 - tail])
    return float(lo), float(hi)


@dataclass
class BarrierEstimate:
    """What one barrier does at its moment (figures among the cases that reached it)."""

    id: str
    moment: str
    name: str
    column: str
    reading: str
    status: str  # "fitted", "not_held", "held_by_all", "inseparable", "no_model"
    holders: int
    prevalence: float | None
    prevalence_ci: tuple[float | None, float | None]
    odds_ratio: float | None
    odds_ratio_ci: tuple[float | None, float | None]
    p_value: float | None
    attributable_fraction: float | None
    ci: tuple[float | None, float | None]
    crude_odds_ratio: float | None
    holders_break_rate: float | None
    others_break_rate: float | None
    missing: int = 0
    unreadable: int = 0
    by_segment: list[dict[str, Any]] = field(default_factory=list)
    segment_test: dict[str, Any] | None = None
    # "survey" (a cases column) or "comments" (a theme coded from free text)
    source: str = "survey"

    def to_dict(self) -> dict[str, Any]:
        """The barrier as in the JSON result (contract fields first)."""
        return {
            "id": self.id,
            "moment": self.moment,
            "prevalence": self.prevalence,
            "odds_ratio": self.odds_ratio,
            "attributable_fraction": self.attributable_fraction,
            "ci": list(self.ci),
            "name": self.name,
            "column": self.column,
            "reading": self.reading,
            "status": self.status,
            "holders": self.holders,
            "prevalence_ci": list(self.prevalence_ci),
            "odds_ratio_ci": list(self.odds_ratio_ci),
            "p_value": self.p_value,
            "crude_odds_ratio": self.crude_odds_ratio,
            "holders_break_rate": self.holders_break_rate,
            "others_break_rate": self.others_break_rate,
            "missing": self.missing,
            "unreadable": self.unreadable,
            "by_segment": self.by_segment,
            "segment_test": self.segment_test,
            "source": self.source,
        }


@dataclass
class MomentBarriers:
    """One moment's barrier model in numbers: cases used, set aside, all barriers together."""

    moment: str
    name: str
    n_reached: int
    n_used: int
    n_set_aside: int
    break_rate: float | None
    attributable_fraction: float | None  # all its barriers lifted together
    ci: tuple[float | None, float | None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "moment": self.moment,
            "name": self.name,
            "n_reached": self.n_reached,
            "n_used": self.n_used,
            "n_set_aside": self.n_set_aside,
            "break_rate": self.break_rate,
            "attributable_fraction": self.attributable_fraction,
            "ci": list(self.ci),
        }


@dataclass
class BarrierResults:
    """Barriers of every moment: models for what-if, estimates, and their views."""

    estimates: list[BarrierEstimate]
    moments: list[MomentBarriers]
    models: dict[str, BarrierModel]
    confidence: float
    n_boot: int
    by_segment: bool = False
    title: str = "What stops people: barriers"

    @property
    def summary(self) -> pd.DataFrame:
        """One row per barrier; columns in the module docstring."""
        rows = [
            {
                "moment": e.moment,
                "barrier": e.id,
                "name": e.name,
                "prevalence": e.prevalence,
                "odds_ratio": e.odds_ratio,
                "or_lo": e.odds_ratio_ci[0],
                "or_hi": e.odds_ratio_ci[1],
                "p_value": e.p_value,
                "attributable_fraction": e.attributable_fraction,
                "af_lo": e.ci[0],
                "af_hi": e.ci[1],
                "crude_odds_ratio": e.crude_odds_ratio,
                "holders": e.holders,
                "holders_break_rate": e.holders_break_rate,
                "others_break_rate": e.others_break_rate,
                "status": e.status,
                "source": e.source,
            }
            for e in self.estimates
        ]
        return pd.DataFrame(rows)

    def estimate(self, barrier: str) -> BarrierEstimate:
        """The estimate of one barrier, by id."""
        for e in self.estimates:
            if e.id == barrier:
                return e
        raise KeyError(barrier)

    def drivers(self, moment: str) -> list[BarrierEstimate]:
        """The barriers that clearly drive a moment's breaks (interval above 0), largest first."""
        found = [
            e
            for e in self.estimates
            if e.moment == moment
            and e.attributable_fraction is not None
            and e.ci[0] is not None
            and e.ci[0] > 0
        ]
        return sorted(found, key=lambda e: -(e.attributable_fraction or 0.0))

    def to_dict(self) -> list[dict[str, Any]]:
        """The ``barriers`` list of the JSON result: one entry per barrier."""
        return [e.to_dict() for e in self.estimates]

    def moments_to_dict(self) -> list[dict[str, Any]]:
        """Per moment: cases used and set aside, and all its barriers together."""
        return [m.to_dict() for m in self.moments]

    # -- charts -----------------------------------------------------------------

    def _frame(self) -> pd.DataFrame:
        names = {m.moment: m.name for m in self.moments}
        return pd.DataFrame(
            [
                {
                    "moment": names.get(e.moment, e.moment),
                    "barrier": e.name,
                    "attributable fraction": e.attributable_fraction,
                    "lo": e.ci[0],
                    "hi": e.ci[1],
                    "odds ratio": e.odds_ratio,
                    "or_lo": e.odds_ratio_ci[0],
                    "or_hi": e.odds_ratio_ci[1],
                    "prevalence": e.prevalence,
                }
                for e in self.estimates
                if e.attributable_fraction is not None
            ]
        )

    def plot(self) -> alt.FacetChart:
        """Attributable fraction of each barrier with its interval, one panel per moment."""
        return self.plot_attributable_fractions()

    def plot_attributable_fractions(self) -> alt.FacetChart:
        """Share of each moment's breaks each barrier explains, with intervals."""
        from keymoments.report.part_charts import plot_barrier_fractions

        return plot_barrier_fractions(self)

    def plot_odds_ratios(self) -> alt.LayerChart:
        """Adjusted odds ratio of each barrier with its interval, on a log scale."""
        from keymoments.report.part_charts import plot_barrier_odds_ratios

        return plot_barrier_odds_ratios(self)

    # -- notebooks ----------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"<BarrierResults: {len(self.estimates)} barriers at "
            f"{len(self.moments)} moment{'s' if len(self.moments) != 1 else ''}>"
        )

    def _repr_html_(self) -> str:
        table = self.summary.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="")
        return f"<div><h4>{html.escape(self.title)}</h4>{table}</div>"


# -- building it --------------------------------------------------------------------


def _crude(table: pd.DataFrame, barrier: str) -> tuple[float | None, float | None, float | None]:
    held = table[barrier] == 1
    n1 = float(table.loc[held, "n"].sum())
    b1 = float((table.loc[held, "n"] * table.loc[held, "broke"]).sum())
    n0 = float(table.loc[~held, "n"].sum())
    b0 = float((table.loc[~held, "n"] * table.loc[~held, "broke"]).sum())
    r1 = b1 / n1 if n1 else None
    r0 = b0 / n0 if n0 else None
    if not (n1 and n0):
        return None, r1, r0
    cells = np.array([b1, n1 - b1, b0, n0 - b0])
    if (cells == 0).any():
        cells = cells + 0.5  # Haldane's correction, only where a cell is empty
    return float(cells[0] * cells[3] / (cells[1] * cells[2])), r1, r0


def _usable(
    patterns: MomentPatterns, service: Service
) -> tuple[pd.DataFrame, dict[str, int], dict[str, int]]:
    """Rows with every barrier readable; missing and unreadable counts per barrier."""
    table = patterns.table
    missing: dict[str, int] = {}
    unreadable: dict[str, int] = {}
    bad = pd.Series(False, index=table.index)
    for b in patterns.barriers:
        col = table[b]
        is_missing = col.isna()
        is_bad = (col == UNREADABLE).fillna(False).astype(bool)
        missing[b] = int(table.loc[is_missing, "n"].sum())
        unreadable[b] = int(table.loc[is_bad, "n"].sum())
        bad |= is_missing | is_bad
    n_aside = int(table.loc[bad, "n"].sum())
    if n_aside:
        parts = []
        themes = {t.id: t.comments for t in service.themes}
        for b in patterns.barriers:
            column = next(x.column for x in service.barriers if x.id == b)
            if b in themes:
                # every theme of a blank comment is missing: say it once per comments column
                said = themes[b]
                first = next(x for x in patterns.barriers if themes.get(x) == said)
                if b == first and missing[b]:
                    where = service.comment(said).column
                    parts.append(f"{missing[b]:,} blank comments {said!r} (column {where!r})")
                continue
            if missing[b]:
                parts.append(f"{missing[b]:,} no answer for {b!r} (column {column!r})")
            if unreadable[b]:
                parts.append(f"{unreadable[b]:,} unreadable values of {b!r} (column {column!r})")
        warnings.warn(
            f"moment {patterns.moment!r}: {n_aside:,} of the {patterns.n_reached:,} cases that "
            f"reached it are set aside from its barrier model ({'; '.join(parts)})",
            DataWarning,
            stacklevel=4,
        )
    used = table.loc[~bad].copy()
    for b in patterns.barriers:
        used[b] = used[b].astype(np.int64)
    return used, missing, unreadable


def _segment_results(
    table: pd.DataFrame,
    moment: str,
    ids: list[str],
    n_boot: int,
    rng: np.random.Generator,
    confidence: float,
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {b: [] for b in ids}
    for label, sub in table.groupby("segment", sort=True):
        n = int(sub["n"].sum())
        nb = int((sub["n"] * sub["broke"]).sum())
        if n < MIN_SEGMENT_CASES or nb in (0, n):
            for b in ids:
                out[b].append({"segment": str(label), "cases": n, "status": "too_few"})
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = fit_barrier_model(moment, ids, sub, segments=False)
            reps = bootstrap_replicates(model, n_boot, rng)
        for w in caught:
            warnings.warn(f"(segment {label!r}) {w.message}", w.category, stacklevel=4)
        for b in ids:
            entry: dict[str, Any] = {"segment": str(label), "cases": n}
            if b not in model.fitted_:
                entry["status"] = "not_fitted"
                out[b].append(entry)
                continue
            beta = model.effect(b)
            se = float(np.sqrt(model.cov_[1 + model.fitted_.index(b)][1 + model.fitted_.index(b)]))
            z = ndtri(0.5 + confidence / 2)
            entry.update(
                status="fitted",
                prevalence=model.prevalence(b),
                odds_ratio=float(np.exp(beta)),
                odds_ratio_ci=[float(np.exp(beta - z * se)), float(np.exp(beta + z * se))],
                attributable_fraction=model.attributable_fraction(b),
                ci=list(_interval([r.attributable_fraction(b) for r in reps], confidence)),
            )
            out[b].append(entry)
    return out


def _fit_moment(
    patterns: MomentPatterns,
    service: Service,
    summary: BarrierSummary,
    *,
    n_boot: int,
    rng: np.random.Generator,
    confidence: float,
    by_segment: bool,
) -> tuple[MomentBarriers, list[BarrierEstimate], BarrierModel | None]:
    moment = service.moment(patterns.moment)
    used, missing, unreadable = _usable(patterns, service)
    ids = patterns.barriers
    n_used = int(used["n"].sum())
    n_breaks = int((used["n"] * used["broke"]).sum())
    specs = {b.id: b for b in service.barriers}
    themes = {t.id: t for t in service.themes}
    model: BarrierModel | None = None
    reps: list[BarrierModel] = []
    if n_used == 0 or n_breaks in (0, n_used):
        what = "no case" if n_used == 0 else ("none" if n_breaks == 0 else "all")
        warnings.warn(
            f"moment {moment.id!r}: {what} of the {n_used:,} cases with barrier answers that "
            "reached it broke it, so what its barriers explain cannot be measured",
            StatisticsWarning,
            stacklevel=3,
        )
    else:
        model = fit_barrier_model(moment.id, ids, used)
        reps = bootstrap_replicates(model, n_boot, rng)
        model.replicates = reps
    z = ndtri(0.5 + confidence / 2)
    segment_rows = (
        _segment_results(used, moment.id, ids, n_boot, rng, confidence)
        if by_segment and model is not None and used["segment"].nunique() > 1
        else {}
    )
    estimates = []
    for b in ids:
        crude, r1, r0 = _crude(used, b) if n_used else (None, None, None)
        holders = int(used.loc[used[b] == 1, "n"].sum()) if n_used else 0
        column = summary.columns.get(b)
        theme = themes.get(b)
        est = BarrierEstimate(
            id=b,
            moment=moment.id,
            name=specs[b].name or b,
            column=service.comment(theme.comments).column if theme else specs[b].column,
            reading=f"theme of comments {theme.comments!r}"
            if theme
            else column.describe()
            if column
            else "",
            status="no_model",
            holders=holders,
            prevalence=holders / n_used if n_used else None,
            prevalence_ci=(None, None),
            odds_ratio=None,
            odds_ratio_ci=(None, None),
            p_value=None,
            attributable_fraction=None,
            ci=(None, None),
            crude_odds_ratio=crude,
            holders_break_rate=r1,
            others_break_rate=r0,
            missing=missing[b],
            unreadable=unreadable[b],
            by_segment=segment_rows.get(b, []),
            source="comments" if theme else "survey",
        )
        if model is not None:
            if b in model.fitted_:
                k = 1 + model.segment_design.shape[1] + model.fitted_.index(b)
                beta, se = float(model.coef_[k]), float(np.sqrt(model.cov_[k, k]))
                est.status = "fitted"
                est.odds_ratio = float(np.exp(beta))
                est.odds_ratio_ci = (float(np.exp(beta - z * se)), float(np.exp(beta + z * se)))
                est.p_value = float(2 * ndtr(-abs(beta / se)))
                est.attributable_fraction = model.attributable_fraction(b)
                est.ci = _interval([r.attributable_fraction(b) for r in reps], confidence)
                est.prevalence_ci = _interval([r.prevalence(b) for r in reps], confidence)
                if by_segment:
                    test = interaction_test(model, b)
                    est.segment_test = test.to_dict() if test else None
            else:
                est.status = (
                    "not_held"
                    if holders == 0
                    else "held_by_all"
                    if holders == n_used
                    else "inseparable"
                )
                if holders == 0:
                    est.attributable_fraction = 0.0
        estimates.append(est)
    joint = model.attributable_fraction(ids) if model is not None else None
    summary_row = MomentBarriers(
        moment=moment.id,
        name=moment.label,
        n_reached=patterns.n_reached,
        n_used=n_used,
        n_set_aside=patterns.n_reached - n_used,
        break_rate=n_breaks / n_used if n_used else None,
        attributable_fraction=joint,
        ci=_interval([r.attributable_fraction(ids) for r in reps], confidence),
    )
    return summary_row, estimates, model


def estimate_barriers(
    summary: BarrierSummary,
    service: Service,
    *,
    n_boot: int,
    seed: int,
    confidence: float = 0.95,
    by_segment: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BarrierResults:
    """Fit every barrier moment's model, bootstrap it and collect the estimates."""
    rng = np.random.default_rng([seed, 3])
    notify = progress or (lambda done, total: None)
    estimates: list[BarrierEstimate] = []
    moments: list[MomentBarriers] = []
    models: dict[str, BarrierModel] = {}
    total = len(summary.moments)
    notify(0, total)
    for done, patterns in enumerate(summary.moments.values(), start=1):
        # the matrices are small (patterns x covariates): on a busy machine BLAS
        # threads spinning for each product made a bootstrap 10-100 times slower
        with threadpool_limits(limits=1, user_api="blas"):
            row, ests, model = _fit_moment(
                patterns,
                service,
                summary,
                n_boot=n_boot,
                rng=rng,
                confidence=confidence,
                by_segment=by_segment,
            )
        moments.append(row)
        estimates.extend(ests)
        if model is not None:
            models[patterns.moment] = model
        notify(done, total)
    return BarrierResults(
        estimates=estimates,
        moments=moments,
        models=models,
        confidence=confidence,
        n_boot=n_boot,
        by_segment=by_segment,
    )
