"""The emotion curve and the peak–end check.

**Emotion curve**: the mean rating of each rated moment in journey (model)
order, with bootstrap intervals — the curve service designers draw by hand.
A moment is a **dip** when it is rated lower than both rated neighbours (the
moment before and the one after, so never the first or last) and both
differences' intervals lie below zero. The curve compares raw means, so it
assumes the moments share one rating scale.

**Peak–end check** (Kahneman's peak–end rule, here for the worst moment):
does the overall rating follow the *worst* and the *last* moment a person
rated more than the *average* of all they rated? Each rating is first
standardised (so a harsh scale does not pass for a worst moment); then, over
respondents with the outcome and at least two ratings, two regressions are
compared: outcome on the average, and outcome on the worst and the last. The
difference of their R² gets a bootstrap interval; the verdict is
``peak_end`` when it lies above zero, ``average`` below, ``undecided``
otherwise. The R² of the outcome on all three is given too.

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_car_purchase(n_cases=1500)
    >>> r = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=20)
    >>> r.emotion.summary.columns.tolist()
    ['moment', 'name', 'stage', 'mean', 'lo', 'hi', 'answered', 'dip']
"""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keymoments.experience.ratings import RatingSummary
from keymoments.experience.resample import Resampler, products_matrix

if TYPE_CHECKING:
    import altair as alt

__all__ = ["Emotion", "PeakEnd", "measure_emotion"]


@dataclass
class PeakEnd:
    """The comparison of fits for one outcome (see the module doc)."""

    outcome: str
    n: int
    r2_average: float
    r2_peak_end: float
    r2_all: float
    difference: float
    ci: tuple[float, float]
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields."""
        return {
            "outcome": self.outcome,
            "n": self.n,
            "r2_average": self.r2_average,
            "r2_worst_and_last": self.r2_peak_end,
            "r2_all_three": self.r2_all,
            "difference": self.difference,
            "ci": list(self.ci),
            "verdict": self.verdict,
        }


@dataclass
class Emotion:
    """Mean rating per moment in journey order, dips, and the peak–end check per outcome."""

    moments: list[str]
    names: list[str]
    stages: list[str]
    mean: np.ndarray
    ci: np.ndarray
    answered: np.ndarray
    dips: list[bool]
    peak_end: dict[str, PeakEnd] = field(default_factory=dict)
    title: str = "The emotion curve"

    @property
    def summary(self) -> pd.DataFrame:
        """One row per rated moment: ``moment``, ``name``, ``stage``, ``mean``, ``lo``, ``hi``,
        ``answered`` (respondents who rated it), ``dip``."""
        return pd.DataFrame(
            {
                "moment": self.moments,
                "name": self.names,
                "stage": self.stages,
                "mean": self.mean,
                "lo": self.ci[0],
                "hi": self.ci[1],
                "answered": self.answered,
                "dip": self.dips,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``emotion`` section: the curve and the peak–end checks."""
        return {
            "curve": [
                {
                    "moment": m,
                    "name": self.names[j],
                    "stage": self.stages[j],
                    "mean": float(self.mean[j]),
                    "ci": [float(self.ci[0, j]), float(self.ci[1, j])],
                    "answered": int(self.answered[j]),
                    "dip": bool(self.dips[j]),
                }
                for j, m in enumerate(self.moments)
            ],
            "peak_end": {o: p.to_dict() for o, p in self.peak_end.items()},
        }

    @property
    def headline(self) -> str:
        """The dips and the peak–end verdicts, in a sentence or two."""
        dips = [n for n, d in zip(self.names, self.dips, strict=True) if d]
        text = (
            f"Dips (rated below both neighbours): {', '.join(dips)}."
            if dips
            else "No moment is rated clearly below both its neighbours."
        )
        verdicts = {
            "peak_end": "follows the worst and the last moment more than the average",
            "average": "follows the average of the moments more than the worst and the last",
            "undecided": "follows the worst and last moment no better or worse than the average",
        }
        for o, p in self.peak_end.items():
            text += f" {o} {verdicts[p.verdict]}."
        return text

    def plot(self) -> alt.LayerChart:
        """The curve: mean rating per moment in journey order, intervals, dips in red."""
        from keymoments.report.part_charts import plot_emotion_curve

        return plot_emotion_curve(self)

    def __repr__(self) -> str:
        dips = [m for m, d in zip(self.moments, self.dips, strict=True) if d] or ["none"]
        return f"<Emotion {len(self.moments)} moments, dips: {', '.join(dips)}>"

    def _repr_html_(self) -> str:
        table = self.summary.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="")
        return f"<div><h4>{html.escape(self.title)}</h4>{table}</div>"


def _means(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    present = ~np.isnan(x)
    den = (present * w[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((np.where(present, x, 0.0) * w[:, None]).sum(axis=0) / den)


def _r2(gram: np.ndarray, columns: list[int]) -> float:
    """R² of the outcome (last column) on an intercept (column 0) and ``columns``.

    From the weighted sums of products of [1, predictors..., outcome], so a
    bootstrap draw needs only its sums (see :mod:`~keymoments.experience.resample`).
    """
    sel = np.asarray([0, *columns])
    xty = gram[sel, -1]
    coef, *_ = np.linalg.lstsq(gram[np.ix_(sel, sel)], xty, rcond=1e-12)
    total, yy = gram[0, 0], gram[-1, -1]
    if total <= 0:
        return float("nan")
    tss = yy - gram[0, -1] ** 2 / total
    rss = yy - float(coef @ xty)
    return 1 - rss / tss if tss > 1e-12 * max(yy, 1.0) else float("nan")


@dataclass
class _PeakEndData:
    average: np.ndarray
    worst: np.ndarray
    last: np.ndarray
    y: np.ndarray
    rows: np.ndarray  # pattern indices used


def _peak_end_data(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> _PeakEndData | None:
    present = ~np.isnan(x)
    use = ~np.isnan(y) & (present.sum(axis=1) >= 2)
    if w[use].sum() < 10:
        return None
    mean = _means(x[use], w[use])
    with np.errstate(invalid="ignore", divide="ignore"):
        var = _means((x[use] - mean) ** 2, w[use])
        z = (x[use] - mean) / np.sqrt(var)
    z = np.where(np.isfinite(z), z, np.nan)
    ok = ~np.isnan(z)
    z_ok = ok.sum(axis=1) >= 2
    if not z_ok.any():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        average = np.nanmean(z, axis=1)
        worst = np.nanmin(z, axis=1)
    last_col = z.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    last = z[np.arange(len(z)), last_col]
    rows = np.flatnonzero(use)[z_ok]
    return _PeakEndData(average[z_ok], worst[z_ok], last[z_ok], y[use][z_ok], rows)


_PACKED = 15  # sums of products of [1, average, worst, last, outcome]: a packed 5×5 triangle


def _peak_end_features(d: _PeakEndData, n_rows: int) -> np.ndarray:
    """[1, average, worst, last, outcome] on the pattern rows used, zero elsewhere."""
    out = np.zeros((n_rows, 5))
    out[d.rows] = np.column_stack([np.ones(len(d.rows)), d.average, d.worst, d.last, d.y])
    return out


def _peak_end_fits(gram: np.ndarray) -> tuple[float, float, float]:
    return _r2(gram, [1]), _r2(gram, [2, 3]), _r2(gram, [1, 2, 3])


def measure_emotion(
    summary: RatingSummary,
    *,
    names: dict[str, str] | None = None,
    stages: dict[str, str] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> Emotion | None:
    """The emotion curve of the rated moments and a peak–end check per numeric outcome.

    ``None`` when no moment carries a rating.
    """
    k = len(summary.moments)
    if k == 0 or summary.n_respondents == 0:
        return None
    x = summary.values[:, :k]
    w = summary.n.astype(np.float64)
    pe_data = {
        o: _peak_end_data(x, summary.values[:, k + i], w) for i, o in enumerate(summary.outcomes)
    }
    used = {o: d for o, d in pe_data.items() if d is not None}
    # every figure is a function of weighted sums: the rated share and the rating sums of
    # each moment, and per outcome the peak-end regressions' cross-products
    present = ~np.isnan(x)
    resampler = Resampler(summary.n, seed=seed)
    curve = np.column_stack([present, np.where(present, x, 0.0)])
    blocks = [resampler.unit_sums(curve, products=False)]
    blocks += [
        resampler.unit_sums(_peak_end_features(d, len(w)), products=True) for d in used.values()
    ]
    units = np.hstack(blocks)

    def grams(sums: np.ndarray) -> dict[str, np.ndarray]:
        return {
            o: products_matrix(sums[2 * k + _PACKED * i : 2 * k + _PACKED * (i + 1)], 5)
            for i, o in enumerate(used)
        }

    def curve_means(sums: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(sums[k : 2 * k] / sums[:k])

    totals = resampler.point(units)
    answered, point = totals[:k], curve_means(totals)
    pe_point = {o: _peak_end_fits(g) for o, g in grams(totals).items()}
    rng = np.random.default_rng([seed, 11])
    reps = []
    pe_reps: dict[str, list[float]] = {o: [] for o in pe_point}
    for start in range(0, n_boot, 50):
        draws = resampler.draw_weights(min(50, n_boot - start), rng)
        for sums in draws @ units:
            reps.append(curve_means(sums))
            for o, gram in grams(sums).items():
                if gram[0, 0] > 0:
                    fits = _peak_end_fits(gram)
                    pe_reps[o].append(fits[1] - fits[0])
    alpha = (1 - confidence) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        stack = np.vstack(reps) if reps else np.full((1, k), np.nan)
        ci = np.nanquantile(stack, [alpha, 1 - alpha], axis=0) if reps else np.full((2, k), np.nan)
        dips = _dips(point, stack, alpha, answered) if reps else [False] * k
    peak_end: dict[str, PeakEnd] = {}
    for o, (r2_avg, r2_pe, r2_all) in pe_point.items():
        d = pe_data[o]
        assert d is not None
        diffs = np.asarray(pe_reps[o])
        lo, hi = (
            (float(np.quantile(diffs, alpha)), float(np.quantile(diffs, 1 - alpha)))
            if diffs.size
            else (float("nan"), float("nan"))
        )
        verdict = "peak_end" if lo > 0 else "average" if hi < 0 else "undecided"
        peak_end[o] = PeakEnd(
            outcome=o,
            n=int(w[d.rows].sum()),
            r2_average=r2_avg,
            r2_peak_end=r2_pe,
            r2_all=r2_all,
            difference=r2_pe - r2_avg,
            ci=(lo, hi),
            verdict=verdict,
        )
    labels, steps = names or {}, stages or {}
    return Emotion(
        moments=list(summary.moments),
        names=[labels.get(m, m) for m in summary.moments],
        stages=[steps.get(m, "") for m in summary.moments],
        mean=point,
        ci=ci,
        answered=answered,
        dips=dips,
        peak_end=peak_end,
    )


def _dips(point: np.ndarray, reps: np.ndarray, alpha: float, answered: np.ndarray) -> list[bool]:
    rated = [j for j in range(len(point)) if answered[j] > 0 and np.isfinite(point[j])]
    out = [False] * len(point)
    for pos, j in enumerate(rated):
        if pos == 0 or pos == len(rated) - 1:
            continue  # a dip has a moment on each side (the ending is the peak-end check's)
        neighbours = [rated[pos - 1], rated[pos + 1]]
        is_dip = True
        for nb in neighbours:
            diff = reps[:, j] - reps[:, nb]
            diff = diff[np.isfinite(diff)]
            if not diff.size or np.quantile(diff, 1 - alpha) >= 0 or point[j] >= point[nb]:
                is_dip = False
        out[j] = is_dip
    return out
