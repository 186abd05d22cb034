"""The result of an analysis: a typed object with a table, a JSON view and charts.

In the manner of lifelines' fitters and statsmodels' results:
:attr:`AnalysisResult.summary` is a tidy table (one row per moment),
:meth:`AnalysisResult.to_dict` the JSON document of the command line's
``--json`` (the contract in DESIGN.md, plus extra fields), ``plot_*`` methods
give Altair charts and ``_repr_html_`` shows it in a notebook.

Summary columns: ``moment``, ``name``, ``stage``, ``reach``, ``break_rate``;
per outcome ``O``: ``O:recoverable``, ``O:lo``, ``O:hi`` (the interval),
``O:gearing``, ``O:marginal`` (gain per percentage point fewer breaks);
then ``key_user``, ``key_provider`` and ``quadrant``.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from keymoments.gearing import PerspectiveImpact
from keymoments.journey.after_break import AfterBreak
from keymoments.journey.states import StateSpace
from keymoments.model import Perspective, Service
from keymoments.schema import SCHEMA_VERSION

if TYPE_CHECKING:
    import altair as alt

    from keymoments.data.engine import Engine
    from keymoments.data.readers import ReadReport
    from keymoments.experience.barrier_results import BarrierResults
    from keymoments.experience.comments.results import CommentResults
    from keymoments.experience.drivers import Drivers
    from keymoments.experience.emotion import Emotion
    from keymoments.journey.check import CheckRow
    from keymoments.journey.fit import JourneyData
    from keymoments.journey.memory import MemoryChoice
    from keymoments.journey.summaries import OrderNotes, TimeBreaks

__all__ = ["AnalysisResult", "MomentResult", "json_safe"]


def json_safe(value: Any) -> Any:
    """Replace NaN and infinities by ``None`` (JSON has neither), recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return json_safe(value.item())
    return value


@dataclass
class MomentResult:
    """Everything measured about one moment."""

    id: str
    name: str
    stage: str
    perspectives: list[str]
    breakable: bool
    reach: float
    reach_ci: tuple[float, float]
    break_rate: float
    break_rate_ci: tuple[float, float]
    impact: dict[str, dict[str, Any]]
    key: dict[str, bool]
    quadrant: str
    deciding: dict[str, PerspectiveImpact | None] = field(default_factory=dict)
    # every measure judged per perspective (money first, then outcomes without a value)
    measures: dict[str, list[PerspectiveImpact]] = field(default_factory=dict)

    def money(self, perspective: str) -> PerspectiveImpact | None:
        """The money this moment is worth to a perspective, when its outcomes carry a value."""
        for m in self.measures.get(perspective, []):
            if m.measure == "money":
                return m
        return None

    def to_dict(self, volume: float | None = None) -> dict[str, Any]:
        """The moment as in the JSON result (``volume``: cases a year, for money a year)."""
        return {
            "id": self.id,
            "name": self.name,
            "stage": self.stage,
            "reach": self.reach,
            "reach_ci": list(self.reach_ci),
            "break_rate": self.break_rate,
            "break_rate_ci": list(self.break_rate_ci),
            "impact": self.impact,
            "key": dict(self.key),
            "perspective_impact": {
                p: None
                if d is None
                else {
                    "measure": d.measure,
                    "recoverable": d.recoverable,
                    "ci": list(d.ci),
                    "gearing": d.gearing,
                    "gearing_ci": list(d.gearing_ci),
                    "per_year": None
                    if volume is None or d.measure != "money"
                    else d.recoverable * volume,
                }
                for p, d in self.deciding.items()
            },
        }


@dataclass
class AnalysisResult:
    """Key moments of a service, with intervals; see the module doc for the table."""

    service: Service
    n_cases: int
    n_events: int
    n_events_mapped: int
    outcome_means: list[float | None]
    moments: list[MomentResult]
    after_break: dict[str, AfterBreak]
    waits: pd.DataFrame
    variants: pd.DataFrame
    unmapped: pd.DataFrame
    reports: list[ReadReport]
    n_boot: int
    confidence: float
    space: StateSpace
    cases_without_events: int = 0
    n_events_filtered: int = 0
    # the journey model's mean of each outcome before any fix, with its interval
    model_means: list[float | None] = field(default_factory=list)
    model_mean_ci: list[tuple[float, float]] = field(default_factory=list)
    # where the model, not time, ordered events; what the time rules judged
    order: OrderNotes | None = None
    time_breaks: list[TimeBreaks] = field(default_factory=list)
    # the histories the chain remembers, and how well it reproduces what happened
    memory: MemoryChoice | None = None
    model_check: list[CheckRow] = field(default_factory=list)
    # the bootstrap's seed, as used (the caller's, or the model's)
    seed: int | None = None
    warnings: list[str] = field(default_factory=list)
    barriers: BarrierResults | None = None
    # the best plan under the budget (keymoments.portfolio), when the model has interventions
    portfolio: Any = None
    _journey: JourneyData | None = field(default=None, repr=False)
    # the fitted chains of the first bootstrap draws (at most 100): the plan's Monte Carlo
    # reads these, never refits the chains from the data
    chain_draws: list[Any] = field(default_factory=list, repr=False)
    # survey sections (issue 3): None when no moment carries a rating
    drivers: Drivers | None = None
    emotion: Emotion | None = None
    # a cases table without events: no journey figures, drivers and emotion only
    survey_only: bool = False
    # what people say (issue 21): comments coded into themes, sentiment and quotes
    comments: CommentResults | None = None
    _set_aside: list[ReadReport] = field(default_factory=list, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    # -- views ----------------------------------------------------------------

    def moment(self, moment_id: str) -> MomentResult:
        """The result for one moment."""
        for m in self.moments:
            if m.id == moment_id:
                return m
        raise KeyError(moment_id)

    def key_moments(self, perspective: Perspective) -> list[str]:
        """Ids of the moments key for a perspective, in journey order."""
        return [m.id for m in self.moments if m.key.get(perspective)]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per moment; columns documented in the module docstring."""
        rows = []
        for m in self.moments:
            row: dict[str, Any] = {
                "moment": m.id,
                "name": m.name,
                "stage": m.stage,
                "reach": m.reach,
                "break_rate": m.break_rate if m.breakable else None,
            }
            for o in self.service.outcomes:
                imp = m.impact.get(o.id)
                row[f"{o.id}:recoverable"] = imp["recoverable"] if imp else None
                row[f"{o.id}:lo"] = imp["ci"][0] if imp else None
                row[f"{o.id}:hi"] = imp["ci"][1] if imp else None
                row[f"{o.id}:gearing"] = imp["gearing"] if imp else None
                row[f"{o.id}:marginal"] = imp["marginal"] if imp else None
            row["key_user"] = m.key["user"]
            row["key_provider"] = m.key["provider"]
            row["quadrant"] = m.quadrant
            rows.append(row)
        return pd.DataFrame(rows)

    def data_quality(self) -> dict[str, Any]:
        """What was read: rows, cases, rows set aside by reason, unmapped activities."""
        unmapped = self.unmapped.head(20)
        return {
            "files": [r.to_dict() for r in self.reports],
            "n_events": self.n_events,
            "n_events_mapped": self.n_events_mapped,
            "n_events_unmapped": int(self.unmapped["n"].sum()) if len(self.unmapped) else 0,
            "unmapped_activities": {
                str(a): int(n) for a, n in zip(unmapped["activity"], unmapped["n"], strict=True)
            },
            "cases_without_events": self.cases_without_events,
            "n_events_filtered_out": self.n_events_filtered,
            "order": {
                "tied_transitions": self.order.tied_transitions,
                "tied_cases": self.order.tied_cases,
                "date_only_activities": list(self.order.date_only),
                "date_only_events": self.order.date_only_events,
                "date_only_placed": self.order.placed_events,
            }
            if self.order is not None
            else {},
            "time_breaks": [
                {
                    "moment": t.moment,
                    "rule": t.rule,
                    "events": t.events,
                    "cases": t.cases,
                    "not_yet_due": t.not_yet_due,
                    "unjudged": t.unjudged,
                }
                for t in self.time_breaks
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON result: DESIGN.md's contract plus extra fields (all JSON-safe)."""
        outcomes = []
        for k, (o, mean) in enumerate(zip(self.service.outcomes, self.outcome_means, strict=True)):
            model = self.model_means[k] if k < len(self.model_means) else None
            ci = self.model_mean_ci[k] if k < len(self.model_mean_ci) else None
            outcomes.append(
                {
                    "id": o.id,
                    "name": o.label,
                    "perspective": o.perspective,
                    "kind": o.kind,
                    "mean": mean,
                    "model_mean": model,
                    "model_mean_ci": list(ci) if ci is not None else None,
                    "value": o.value,
                    "value_column": o.value_column,
                }
            )
        doc = {
            "schema_version": SCHEMA_VERSION,
            "service": self.service.name,
            "n_cases": self.n_cases,
            "outcomes": outcomes,
            "moments": [m.to_dict(self.service.volume) for m in self.moments],
            "alignment": [{"moment": m.id, "quadrant": m.quadrant} for m in self.moments],
            "drivers": self.drivers.to_dict() if self.drivers is not None else {},
            "drivers_fit": self.drivers.fits_to_dict() if self.drivers is not None else {},
            "emotion": self.emotion.to_dict() if self.emotion is not None else {},
            "barriers": self.barriers.to_dict() if self.barriers else [],
            "moment_barriers": self.barriers.moments_to_dict() if self.barriers else [],
            "comments": self.comments.to_dict() if self.comments is not None else {},
            "portfolio": self.portfolio.to_dict() if self.portfolio is not None else {},
            "after_break": [
                self.after_break[m.id].to_dict() for m in self.moments if m.id in self.after_break
            ],
            "waits": [
                {
                    "from": self.space.label(int(r.from_code)),
                    "to": self.space.label(None if int(r.to_code) < 0 else int(r.to_code)),
                    "cases": int(getattr(r, "cases", r.n)),
                    "transitions": int(r.n),
                    "median_hours": None if pd.isna(r.median_s) else float(r.median_s) / 3600,
                    "p90_hours": None if pd.isna(r.p90_s) else float(r.p90_s) / 3600,
                }
                for r in self.waits.itertuples()
            ],
            "variants": self.variants.to_dict(orient="records"),
            "model_check": [r.to_dict() for r in self.model_check],
            "data": self.data_quality(),
            "method": {
                "bootstrap": self.n_boot,
                "confidence": self.confidence,
                "key_gearing": self.service.analysis.key_gearing,
                "seed": self.service.analysis.seed if self.seed is None else self.seed,
                "memory": self.memory.to_dict() if self.memory is not None else None,
                "segments": list(self.service.segment_columns),
                "drivers": self.service.analysis.drivers.model_dump(),
                "survey_only": self.survey_only,
            },
            "warnings": list(self.warnings),
        }
        return json_safe(doc)  # type: ignore[no-any-return]

    # -- writing ----------------------------------------------------------------

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as one JSON document (whole or not at all)."""
        from keymoments.data.writing import atomic_path

        p = Path(path)
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        with atomic_path(p) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return p

    def to_csv(self, path: str | Path) -> Path:
        """Write :attr:`summary` as CSV; text a spreadsheet would run as a formula gets a ``'``."""
        from keymoments.data.writing import atomic_path, csv_text

        p = Path(path)
        with atomic_path(p) as tmp:
            tmp.write_text(csv_text(self.summary), encoding="utf-8", newline="")
        return p

    def write_set_aside(self, path: str | Path) -> int:
        """Write the rows set aside while reading (with reasons) to a CSV; returns the count."""
        from keymoments.data.readers import write_set_aside

        if not self._set_aside or self._engine is None:
            return 0
        return write_set_aside(self._set_aside, path, self._engine)

    @property
    def n_set_aside(self) -> int:
        """Rows set aside while reading, all files together."""
        return sum(r.n_set_aside for r in self.reports)

    # -- charts ---------------------------------------------------------------------

    def plot_gearing(self, outcome: str | None = None) -> alt.FacetChart:
        """Recoverable of each breakable moment with its interval, one panel per outcome."""
        from keymoments.report.charts import plot_gearing_intervals

        return plot_gearing_intervals(self, outcome=outcome)

    def plot_alignment(self) -> alt.LayerChart:
        """User gearing against provider gearing, one point per moment, by quadrant."""
        from keymoments.report.charts import plot_alignment_map

        return plot_alignment_map(self)

    # -- notebooks ---------------------------------------------------------------------

    def __repr__(self) -> str:
        keys = ", ".join(m.id for m in self.moments if any(m.key.values())) or "none"
        return (
            f"<AnalysisResult {self.service.name!r}: {self.n_cases} cases, "
            f"{len(self.moments)} moments, key: {keys}>"
        )

    def _repr_html_(self) -> str:
        table = self.summary.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="")
        keys_u = ", ".join(self.key_moments("user")) or "none"
        keys_p = ", ".join(self.key_moments("provider")) or "none"
        return (
            f"<div><h4>{html.escape(self.service.name)}</h4>"
            f"<p>{self.n_cases:,} cases, {self.n_events:,} events; key for the user: "
            f"<b>{html.escape(keys_u)}</b>; key for the provider: <b>{html.escape(keys_p)}</b>"
            f" ({int(self.confidence * 100)}% intervals from {self.n_boot} bootstrap draws)</p>"
            f"{table}</div>"
        )
