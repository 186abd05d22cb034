"""The result of ``keymoments monitor``: a typed object with tables, a JSON view and charts.

In the manner of :class:`~keymoments.result.AnalysisResult`:
:attr:`MonitorResult.summary` is one row per measure (a moment's break rate,
an outcome's rate or mean) with its latest value and signals;
:attr:`MonitorResult.changes_summary` one row per change and moment;
:meth:`MonitorResult.to_dict` is the JSON document of ``keymoments monitor
--json`` (its ``monitor`` section is the contract in DESIGN.md); ``plot_*``
methods give Altair charts and ``_repr_html_`` shows it in a notebook.

Summary columns: ``kind`` (moment or outcome), ``id``, ``name``, ``measure``,
``chart`` (p or xmr), ``centre``, ``latest`` (the last judged period's
value), ``latest_period``, ``signals`` (periods flagged), ``variation``
(Making Data Count's icon from the latest period: improvement, concern,
neutral or common_cause).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keymoments.model import Service
from keymoments.monitoring.changes import ChangeCheck
from keymoments.monitoring.key import KeyNote, KeyWindow
from keymoments.monitoring.series import Series
from keymoments.monitoring.spc import RULES

if TYPE_CHECKING:
    import altair as alt

    from keymoments.data.readers import ReadReport

__all__ = ["MonitorResult"]


@dataclass
class MonitorResult:
    """Key moments over time, and changes checked against what they promised."""

    service: Service
    every: str
    periods: list[pd.Timestamp]
    moments: list[Series]
    outcomes: list[Series]
    changes: list[ChangeCheck]
    windows: list[KeyWindow]
    key_notes: list[KeyNote]
    n_cases: int
    n_events: int
    log_start: pd.Timestamp
    log_end: pd.Timestamp
    horizon_days: float
    window: str | int
    confidence: float
    # the moments whose breaks the chains remember (the analysis' memory, chosen once)
    memory: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    reports: list[ReadReport] = field(default_factory=list, repr=False)

    # -- views ------------------------------------------------------------------

    def series(self, series_id: str) -> Series:
        """The series of a moment or an outcome, by id."""
        for s in [*self.moments, *self.outcomes]:
            if s.id == series_id:
                return s
        raise KeyError(series_id)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per measure; columns in the module doc."""
        rows = []
        for s in [*self.moments, *self.outcomes]:
            c = s.chart
            judged = np.flatnonzero(c.judged)
            last = int(judged[-1]) if len(judged) else None
            rows.append(
                {
                    "kind": s.kind,
                    "id": s.id,
                    "name": s.name,
                    "measure": s.measure,
                    "chart": c.kind,
                    "centre": c.centre,
                    "latest": float(c.values[last]) if last is not None else None,
                    "latest_period": s.periods[last] if last is not None else None,
                    "signals": c.n_signals,
                    "variation": c.variation,
                }
            )
        return pd.DataFrame(rows)

    @property
    def changes_summary(self) -> pd.DataFrame:
        """One row per change and moment: the break rate before and after, the level
        change with its interval (``lo``, ``hi``), the promised change, the verdict."""
        rows = []
        for c in self.changes:
            rows.append(
                {
                    "change": c.id,
                    "moment": c.moment,
                    "date": c.date,
                    "before": c.before,
                    "after": c.after,
                    "level_change": c.change,
                    "lo": c.ci[0] if c.ci else None,
                    "hi": c.ci[1] if c.ci else None,
                    "promised": c.promised["change"] if c.promised else None,
                    "verdict": c.verdict,
                    "weeks_needed": c.weeks_needed,
                }
            )
        return pd.DataFrame(rows)

    @property
    def signals(self) -> pd.DataFrame:
        """Every flagged period: ``id``, ``period``, ``value``, ``rules``, ``type``."""
        rows = []
        for s in [*self.moments, *self.outcomes]:
            types = s.chart.point_types()
            for i, rules in enumerate(s.chart.signals):
                if rules:
                    rows.append(
                        {
                            "kind": s.kind,
                            "id": s.id,
                            "period": s.periods[i],
                            "value": float(s.chart.values[i]),
                            "rules": ", ".join(r for r in RULES if r in rules),
                            "type": types[i],
                        }
                    )
        return pd.DataFrame(rows, columns=["kind", "id", "period", "value", "rules", "type"])

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: ``service``, ``n_cases`` and the ``monitor`` section."""
        from keymoments.result import json_safe

        doc = {
            "service": self.service.name,
            "n_cases": self.n_cases,
            "n_events": self.n_events,
            "monitor": {
                "every": self.every,
                "from": self.log_start.isoformat(),
                "to": self.log_end.isoformat(),
                "horizon_days": self.horizon_days,
                "confidence": self.confidence,
                "memory": list(self.memory),
                "moments": [s.to_dict() for s in self.moments],
                "outcomes": [s.to_dict() for s in self.outcomes],
                "changes": [c.to_dict() for c in self.changes],
                "window": self.window,
                "key_moments": [w.to_dict() for w in self.windows],
                "key_notes": [n.to_dict() for n in self.key_notes],
            },
            "data": {"files": [r.to_dict() for r in self.reports]},
            "warnings": list(self.warnings),
        }
        return json_safe(doc)  # type: ignore[no-any-return]

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as one JSON document."""
        p = Path(path)
        p.write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False), encoding="utf-8")
        return p

    # -- charts -------------------------------------------------------------------

    def plot_series(self, kind: str = "moment") -> alt.FacetChart:
        """The SPC charts of every moment (``kind="moment"``) or outcome, one row each."""
        from keymoments.monitoring.charts import plot_spc

        chosen = self.moments if kind == "moment" else self.outcomes
        return plot_spc(chosen, self.changes, title=self._title(kind))

    def plot_changes(self) -> alt.FacetChart:
        """Each change: the break rate per period with the fitted lines before and after."""
        from keymoments.monitoring.charts import plot_its

        return plot_its(self)

    def plot_key_windows(self) -> alt.FacetChart:
        """Gearing per window for each moment and perspective; key moments marked."""
        from keymoments.monitoring.charts import plot_windows

        return plot_windows(self)

    def _title(self, kind: str) -> str:
        what = "break rate per" if kind == "moment" else "outcomes by the"
        return f"{self.service.name}: {what} {self.every}"

    # -- notebooks -------------------------------------------------------------------

    def __repr__(self) -> str:
        verdicts = ", ".join(f"{c.id}/{c.moment}: {c.verdict}" for c in self.changes) or "none"
        return (
            f"<MonitorResult {self.service.name!r}: {len(self.periods)} {self.every}s, "
            f"{sum(s.chart.n_signals > 0 for s in self.moments)} moments with signals, "
            f"changes: {verdicts}>"
        )

    def _repr_html_(self) -> str:
        table = self.summary.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="")
        changes = (
            self.changes_summary.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="")
            if self.changes
            else "<p>No changes in the model.</p>"
        )
        return (
            f"<div><h4>{html.escape(self.service.name)}</h4>"
            f"<p>{len(self.periods)} {self.every}s, {self.n_cases:,} cases</p>"
            f"{table}{changes}</div>"
        )
