"""What drives an overall rating: LMG, relative weights, penalty–reward, quadrants.

For every numeric outcome and the moments that carry a rating, from the
answer patterns of :mod:`keymoments.experience.ratings`:

- **importance**: the LMG share of R² (:mod:`~keymoments.experience.shapley`);
  the shares sum to the R² of the outcome on all the ratings;
- **relative weight**: Johnson's, beside it (:mod:`~keymoments.experience.weights`);
- **penalty, reward, asymmetry and class**
  (:mod:`~keymoments.experience.penalty_reward`);
- **performance**: the mean rating, and the **quadrant** of importance
  against performance: *concentrate here* (important, rated low), *keep up the
  good work* (important, rated high), *low priority* (neither), *possible
  overkill* (rated high, matters little). Importance is split at its average
  over moments (R² / k); performance at the average of the moments' mean
  ratings, each taken as a share of its own scale's observed range, so a 0–100
  item and a 1–10 item compare;
- **intervals**: a percentile bootstrap over respondents (multinomial over
  answer patterns) on every figure; for classes, the share of draws that
  agree with the class given.

Missing ratings use pairwise-complete correlations by default, with a
warning saying how much is missing; ``missing="listwise"`` keeps only
complete respondents. A moment nobody (or nearly nobody) rated, or whose
ratings never vary, is left out of that outcome's drivers with a warning.

With ``by_segment``, every figure is measured within each segment too, and
for each pair of segments the difference of each moment's importance gets a
bootstrap interval and a two-sided p-value (segments resampled independently).

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_car_purchase(n_cases=1500)
    >>> r = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=20)
    >>> d = r.drivers.summary.query("outcome == 'satisfaction'")
    >>> sorted(d.nlargest(2, "importance")["moment"])
    ['finance', 'price_negotiation']
"""

from __future__ import annotations

import html
import itertools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keymoments.errors import MissingRatingsWarning, StatisticsWarning
from keymoments.experience.correlation import (
    Missing,
    correlation_from_sums,
    weighted_correlation,
)
from keymoments.experience.penalty_reward import (
    asymmetry,
    classify,
    cut_points,
    design,
    penalty_reward_from_sums,
)
from keymoments.experience.ratings import RatingSummary
from keymoments.experience.reached import missing_message
from keymoments.experience.resample import Resampler, products_matrix
from keymoments.experience.shapley import DEFAULT_EXACT_LIMIT, LMGFit, lmg_many
from keymoments.experience.weights import relative_weights

if TYPE_CHECKING:
    import altair as alt

__all__ = ["Drivers", "OutcomeDrivers", "measure_drivers"]

QUADRANTS = ("concentrate here", "keep up the good work", "low priority", "possible overkill")
_FIGURES = ("importance", "relative_weight", "penalty", "reward", "performance")
_DRAWS_AT_ONCE = 50


@dataclass
class OutcomeDrivers:
    """The drivers of one outcome (in one segment, or all respondents).

    Arrays hold one value per moment in ``moments``; ``*_ci`` arrays are
    (2, k): lower and upper bounds.
    """

    outcome: str
    segment: str
    moments: list[str]
    names: list[str]
    n: int
    r2: float
    r2_ci: tuple[float, float]
    figures: dict[str, np.ndarray]
    intervals: dict[str, np.ndarray]
    classes: list[str]
    class_agreement: np.ndarray
    quadrants: list[str]
    answered: np.ndarray
    exact: bool
    error: np.ndarray
    samples: int
    missing: str
    repaired: bool
    cuts: tuple[np.ndarray, np.ndarray]
    replicates: np.ndarray | None = field(default=None, repr=False)  # (B, k) importances

    def rows(self) -> list[dict[str, Any]]:
        """One dict per moment (the JSON rows of the ``drivers`` section)."""
        out = []
        ia = asymmetry(self.figures["penalty"], self.figures["reward"])
        for j, m in enumerate(self.moments):
            row: dict[str, Any] = {"moment": m, "name": self.names[j]}
            for fig in _FIGURES:
                row[fig] = float(self.figures[fig][j])
                key = "ci" if fig == "importance" else f"{fig}_ci"
                row[key] = [float(self.intervals[fig][0, j]), float(self.intervals[fig][1, j])]
            row["share"] = float(self.figures["importance"][j] / self.r2) if self.r2 > 0 else None
            row["asymmetry"] = float(ia[j])
            row["class"] = self.classes[j]
            row["class_agreement"] = float(self.class_agreement[j])
            row["quadrant"] = self.quadrants[j]
            row["answered"] = float(self.answered[j])
            row["low_at_or_below"] = float(self.cuts[0][j])
            row["high_at_or_above"] = float(self.cuts[1][j])
            if not self.exact:
                row["approximation_error"] = float(self.error[j])
            out.append(row)
        return out

    def fit_dict(self) -> dict[str, Any]:
        """R², its interval and how it was computed."""
        return {
            "r2": self.r2,
            "ci": list(self.r2_ci),
            "n": self.n,
            "exact": self.exact,
            "samples": self.samples,
            "max_error": float(self.error.max()) if self.error.size else 0.0,
            "missing": self.missing,
            "repaired": self.repaired,
        }


@dataclass
class Drivers:
    """What drives each numeric outcome; see the module doc.

    Attributes:
        outcomes: per outcome id, the drivers over all respondents.
        segments: per outcome id, per segment, the same within the segment
            (empty unless asked for).
        differences: per outcome id, one row per (moment, segment pair):
            ``moment``, ``a``, ``b``, ``difference`` (importance in a minus in
            b), ``ci``, ``p_value``.
    """

    outcomes: dict[str, OutcomeDrivers]
    segments: dict[str, dict[str, OutcomeDrivers]] = field(default_factory=dict)
    differences: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    n_boot: int = 0
    confidence: float = 0.95
    title: str = "What drives the experience"

    @property
    def summary(self) -> pd.DataFrame:
        """One row per (outcome, moment): importance, intervals, class, quadrant.

        Columns: ``outcome``, ``moment``, ``name``, ``importance``, ``lo``,
        ``hi``, ``share`` (of R²), ``relative_weight``, ``penalty``,
        ``reward``, ``asymmetry``, ``class``, ``performance``, ``quadrant``,
        ``answered`` (share of respondents who rated the moment).
        """
        rows = []
        for oid, d in self.outcomes.items():
            for r in d.rows():
                rows.append(
                    {
                        "outcome": oid,
                        "moment": r["moment"],
                        "name": r["name"],
                        "importance": r["importance"],
                        "lo": r["ci"][0],
                        "hi": r["ci"][1],
                        "share": r["share"],
                        "relative_weight": r["relative_weight"],
                        "penalty": r["penalty"],
                        "reward": r["reward"],
                        "asymmetry": r["asymmetry"],
                        "class": r["class"],
                        "performance": r["performance"],
                        "quadrant": r["quadrant"],
                        "answered": r["answered"],
                    }
                )
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        """The ``drivers`` section: {outcome: [{"moment", "importance", "ci", ...}]}."""
        out: dict[str, Any] = {}
        for oid, d in self.outcomes.items():
            rows = d.rows()
            by_seg = self.segments.get(oid, {})
            for r in rows:
                if by_seg:
                    r["by_segment"] = {}
                    for seg, sd in by_seg.items():
                        if r["moment"] in sd.moments:
                            j = sd.moments.index(r["moment"])
                            r["by_segment"][seg] = {
                                "importance": float(sd.figures["importance"][j]),
                                "ci": [
                                    float(sd.intervals["importance"][0, j]),
                                    float(sd.intervals["importance"][1, j]),
                                ],
                                "n": sd.n,
                            }
                    r["segment_differences"] = [
                        {k: v for k, v in diff.items() if k != "moment"}
                        for diff in self.differences.get(oid, [])
                        if diff["moment"] == r["moment"]
                    ]
            out[oid] = rows
        return out

    def fits_to_dict(self) -> dict[str, Any]:
        """Per outcome: R² with its interval, respondents, exactness, missing-data method."""
        out: dict[str, Any] = {}
        for oid, d in self.outcomes.items():
            fit = d.fit_dict()
            if self.segments.get(oid):
                fit["segments"] = {s: sd.fit_dict() for s, sd in self.segments[oid].items()}
            out[oid] = fit
        return out

    @property
    def headline(self) -> str:
        """One sentence per outcome: its R² and its strongest drivers."""
        parts = []
        for oid, d in self.outcomes.items():
            order = np.argsort(-d.figures["importance"])[:2]
            top = " and ".join(
                f"{d.names[j]} ({d.figures['importance'][j] / d.r2:.0%} of R²)" for j in order
            )
            parts.append(
                f"{oid}: the ratings explain {d.r2:.0%} of its variation (R²); most of it "
                f"comes from {top}."
            )
        return " ".join(parts)

    @property
    def method_notes(self) -> list[str]:
        """How the drivers were measured, for the report's method section."""
        any_d = next(iter(self.outcomes.values()))
        how = (
            "exact over all subsets"
            if all(d.exact for d in self.outcomes.values())
            else f"sampled orders ({any_d.samples}), error bound given per moment"
        )
        return [
            f"Drivers: LMG shares of R² ({how}) from {any_d.missing} correlations of the "
            "ratings and the outcome, Johnson's relative weights beside them, a "
            "penalty–reward model of low/high rating dummies; "
            f"{int(self.confidence * 100)}% bootstrap intervals from {self.n_boot} draws of "
            "respondents. Importance is association, not proof of cause."
        ]

    # -- charts -------------------------------------------------------------------

    def plot(self) -> alt.Chart:
        """Importance (LMG share of R²) per moment with its interval, a panel per outcome."""
        import altair as alt

        frame = self.summary
        base = alt.Chart(frame).encode(
            y=alt.Y("name:N", sort="-x", title=None),
        )
        bars = base.mark_bar().encode(
            x=alt.X("importance:Q", title="share of R² (LMG)"),
            color=alt.Color("class:N", title="penalty–reward class"),
            tooltip=["name", "importance", "lo", "hi", "relative_weight", "class", "quadrant"],
        )
        rules = base.mark_rule().encode(x="lo:Q", x2="hi:Q")
        return (
            alt.layer(bars, rules, data=frame)
            .facet(row=alt.Row("outcome:N", title=None))
            .resolve_scale(y="independent")
            .properties(title=self.title)
        )

    def plot_quadrants(self) -> alt.Chart:
        """Importance against performance, one point per moment, by quadrant."""
        import altair as alt

        frame = self.summary
        points = (
            alt.Chart(frame)
            .mark_point(filled=True, size=90)
            .encode(
                x=alt.X("performance:Q", title="mean rating", scale=alt.Scale(zero=False)),
                y=alt.Y("importance:Q", title="importance (share of R²)"),
                color=alt.Color("quadrant:N", scale=alt.Scale(domain=list(QUADRANTS))),
                tooltip=["name", "outcome", "importance", "performance", "quadrant"],
            )
        )
        labels = points.mark_text(align="left", dx=7).encode(text="name:N")
        return (points + labels).properties(title="Importance and performance")

    def plot_penalty_reward(self) -> alt.Chart:
        """Penalty (left) and reward (right) per moment, coloured by class."""
        import altair as alt

        frame = self.summary
        long = pd.concat(
            [
                frame.assign(effect=-frame["penalty"], side="penalty"),
                frame.assign(effect=frame["reward"], side="reward"),
            ]
        )
        return (
            alt.Chart(long)
            .mark_bar()
            .encode(
                y=alt.Y("name:N", title=None),
                x=alt.X("effect:Q", title="outcome change: low rating (left), high (right)"),
                color=alt.Color("class:N"),
                row=alt.Row("outcome:N", title=None),
                tooltip=["name", "side", "effect", "class"],
            )
            .properties(title="Penalty and reward")
        )

    def __repr__(self) -> str:
        parts = []
        for oid, d in self.outcomes.items():
            top = d.moments[int(np.argmax(d.figures["importance"]))] if d.moments else "none"
            parts.append(f"{oid}: R²={d.r2:.2f}, top {top}")
        return f"<Drivers {'; '.join(parts)}>"

    def _repr_html_(self) -> str:
        table = self.summary.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="")
        return f"<div><h4>{html.escape(self.title)}</h4>{table}</div>"


# -- estimation ---------------------------------------------------------------------


@dataclass
class _Settings:
    missing: Missing
    exact_limit: int
    samples: int
    seed: int
    cuts: tuple[np.ndarray, np.ndarray]


def _sum_features(x: np.ndarray, y: np.ndarray, s: _Settings) -> list[tuple[np.ndarray, bool]]:
    """Per pattern, the features whose weighted sums (or sums of products) make every figure.

    The correlations need, for each pair of the ratings and the outcome, the
    weight answering both and the sums of x, x² and x·y over them (pairwise),
    or the same over complete respondents (listwise); the penalty–reward model
    its design's cross-products; the performance figure the sums of each
    rating and of who answered it.
    """
    k = x.shape[1]
    v = np.column_stack([x, y])
    present = ~np.isnan(v)
    z = np.where(present, v, 0.0)
    if s.missing == "listwise":
        complete = present.all(axis=1).astype(np.float64)
        corr = np.column_stack([complete, z * complete[:, None]])
    else:
        corr = np.column_stack([present.any(axis=1), present, z, z * z]).astype(np.float64)
    linear = np.column_stack([present[:, :k], z[:, :k]]).astype(np.float64)
    return [(corr, True), (design(x, y, s.cuts), True), (linear, False)]


def _correlation(packed: np.ndarray, k: int, missing: Missing) -> Any:
    kk = k + 1  # the ratings and the outcome
    if missing == "listwise":
        g = products_matrix(packed, 1 + kk)
        n, cz = g[0, 0], np.arange(1, 1 + kk)
        return correlation_from_sums(
            count=np.full((kk, kk), n),
            sums=np.repeat(g[cz, 0][:, None], kk, axis=1),
            squares=np.repeat(np.diag(g)[cz][:, None], kk, axis=1),
            cross=g[np.ix_(cz, cz)],
            n_used=n,
            missing=missing,
        )
    g = products_matrix(packed, 1 + 3 * kk)
    m, z, q = (np.arange(1 + i * kk, 1 + (i + 1) * kk) for i in range(3))
    return correlation_from_sums(
        count=g[np.ix_(m, m)],
        sums=g[np.ix_(z, m)],
        squares=g[np.ix_(q, m)],
        cross=g[np.ix_(z, z)],
        n_used=g[0, 0],
        missing=missing,
    )


def _estimate(
    sums: np.ndarray, k: int, n_rows: int, s: _Settings, *, importance: bool = True
) -> dict[str, Any] | None:
    """Every figure from the weighted sums of :func:`_sum_features` (packed one after another).

    Without ``importance`` the LMG shares are left for the caller, who
    decomposes many draws' ``corr`` matrices at once (:func:`_estimate_many`).
    """
    corr_width = 1 + (k + 1) * (1 if s.missing == "listwise" else 3)
    design_width = 2 + 3 * k
    a = corr_width * (corr_width + 1) // 2
    b = a + design_width * (design_width + 1) // 2
    corr = _correlation(sums[:a], k, s.missing)
    if not np.all(np.isfinite(corr.matrix)):
        return None
    pr = penalty_reward_from_sums(products_matrix(sums[a:b], design_width), n_rows, s.cuts)
    answered, totals = sums[b : b + k], sums[b + k : b + 2 * k]
    with np.errstate(invalid="ignore", divide="ignore"):
        performance = totals / answered
    out = {
        "corr": corr.matrix,
        "relative_weight": relative_weights(corr.matrix),
        "penalty": pr.penalty,
        "reward": pr.reward,
        "performance": performance,
        "repaired": corr.repaired,
        "n_used": corr.n_used,
    }
    if importance:
        # the draws' kernel for the point too: one compiled walk loaded, not two
        fits = lmg_many([corr.matrix], exact_limit=s.exact_limit, samples=s.samples, seed=s.seed)
        _add_importance(out, fits[0])
    return out


def _add_importance(est: dict[str, Any], fit: LMGFit) -> None:
    est["importance"] = fit.shares
    est["r2"] = fit.r2
    est["fit"] = fit


def _estimate_many(
    sums: np.ndarray, n_rows: list[int], k: int, s: _Settings
) -> list[dict[str, Any] | None]:
    """:func:`_estimate` of many draws (one row of ``sums`` each), LMG of all of them at once."""
    out = [_estimate(row, k, n, s, importance=False) for row, n in zip(sums, n_rows, strict=True)]
    valid = [est for est in out if est is not None]
    fits = lmg_many(
        [est["corr"] for est in valid], exact_limit=s.exact_limit, samples=s.samples, seed=s.seed
    )
    for est, fit in zip(valid, fits, strict=True):
        _add_importance(est, fit)
    return out


def _usable(x: np.ndarray, y: np.ndarray, w: np.ndarray, missing: Missing) -> list[int]:
    """Columns that give a finite correlation matrix, dropping the worst first."""
    keep = list(range(x.shape[1]))
    while keep:
        corr = weighted_correlation(np.column_stack([x[:, keep], y]), w, missing=missing).matrix
        bad = ~np.isfinite(corr)
        if not bad.any():
            return keep
        if bad[-1, -1]:
            return []
        worst = int(np.argmax(bad[:-1].sum(axis=1)))
        keep.pop(worst)
    return keep


def _quadrants(importance: np.ndarray, performance: np.ndarray, x: np.ndarray) -> list[str]:
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(x, axis=0), np.nanmax(x, axis=0)
        pomp = np.where(hi > lo, (performance - lo) / (hi - lo), 0.5)
    imp_cut = float(np.mean(importance))
    perf_cut = float(np.mean(pomp))
    out = []
    for imp, perf in zip(importance, pomp, strict=True):
        if imp >= imp_cut:
            out.append(QUADRANTS[0] if perf < perf_cut else QUADRANTS[1])
        else:
            out.append(QUADRANTS[2] if perf < perf_cut else QUADRANTS[3])
    return out


def _fit_one(
    summary: RatingSummary,
    outcome: str,
    segment: str,
    names: dict[str, str],
    n_boot: int,
    confidence: float,
    settings: _Settings,
    missing_note: Callable[[str, str], None] | None,
    tick: Callable[[], None],
) -> OutcomeDrivers | None:
    k_all = len(summary.moments)
    y_all = summary.values[:, k_all + summary.outcomes.index(outcome)]
    x_all = summary.values[:, :k_all]
    w = summary.n.astype(np.float64)
    has_y = ~np.isnan(y_all)
    cols = _usable(x_all[has_y], y_all[has_y], w[has_y], settings.missing)
    where = f"outcome {outcome!r}" + ("" if segment == "all" else f", segment {segment!r}")
    dropped = [summary.moments[j] for j in range(k_all) if j not in cols]
    if not cols:
        warnings.warn(
            f"{where}: too few respondents with both ratings and this outcome (or no variation) "
            "to measure drivers; none reported",
            StatisticsWarning,
            stacklevel=4,
        )
        for _ in range(n_boot):
            tick()
        return None
    if dropped:
        warnings.warn(
            f"{where}: moments {', '.join(map(repr, dropped))} left out of the drivers: fewer "
            "than 3 respondents rated them together with the others, or their ratings never vary",
            StatisticsWarning,
            stacklevel=4,
        )
    x, y = x_all[has_y][:, cols], y_all[has_y]
    wy = w[has_y]
    among_reached = (summary.missing_among_reached or {}).get(outcome)
    if missing_note is not None and among_reached is not None:
        pairwise = settings.missing == "pairwise"
        missing_note(where, missing_message(among_reached, summary.moments, cols, pairwise))
    elif missing_note is not None:
        missing_note(where, _missing_message(x, wy, [summary.moments[j] for j in cols], settings))
    cuts = (settings.cuts[0][cols], settings.cuts[1][cols])
    local = _Settings(settings.missing, settings.exact_limit, settings.samples, settings.seed, cuts)
    k = len(cols)
    resampler = Resampler(wy.astype(np.int64), seed=settings.seed)
    units = np.hstack([resampler.unit_sums(f, products=p) for f, p in _sum_features(x, y, local)])
    point = _estimate(resampler.point(units), k, int(np.count_nonzero(wy)), local)
    if point is None:  # pragma: no cover - _usable guarantees a finite matrix
        return None
    reps: dict[str, list[np.ndarray]] = {f: [] for f in (*_FIGURES, "r2")}
    classes_seen: list[list[str]] = []
    rng = np.random.default_rng([settings.seed, 7])
    for start in range(0, n_boot, _DRAWS_AT_ONCE):
        draws = resampler.draw_weights(min(_DRAWS_AT_ONCE, n_boot - start), rng)
        # every draw's sums in one matrix product; units drawn stand in for distinct rows
        estimates = _estimate_many(
            draws @ units, [int(np.count_nonzero(d)) for d in draws], k, local
        )
        for est in estimates:
            tick()
            if est is None:
                continue
            for f in _FIGURES:
                reps[f].append(est[f])
            reps["r2"].append(np.array([est["r2"]]))
            classes_seen.append(classify(est["penalty"], est["reward"]))
    alpha = (1 - confidence) / 2
    intervals: dict[str, np.ndarray] = {}
    for f in _FIGURES:
        if reps[f]:
            stack = np.vstack(reps[f])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                intervals[f] = np.nanquantile(stack, [alpha, 1 - alpha], axis=0)
        else:
            intervals[f] = np.full((2, k), np.nan)
    r2_ci = (float("nan"), float("nan"))
    if reps["r2"]:
        r2_reps = np.concatenate(reps["r2"])
        r2_ci = (float(np.quantile(r2_reps, alpha)), float(np.quantile(r2_reps, 1 - alpha)))
    classes = classify(point["penalty"], point["reward"])
    if classes_seen:
        # a class needs evidence: a penalty or a reward whose interval lies above zero
        clear = (intervals["penalty"][0] > 0) | (intervals["reward"][0] > 0)
        classes = [c if clear[j] else "indifferent" for j, c in enumerate(classes)]
    agreement = (
        np.mean([[c == classes[j] for j, c in enumerate(row)] for row in classes_seen], axis=0)
        if classes_seen
        else np.full(k, np.nan)
    )
    answered_w = ((~np.isnan(x_all[:, cols])) * w[:, None]).sum(axis=0) / w.sum()
    fit = point["fit"]
    return OutcomeDrivers(
        outcome=outcome,
        segment=segment,
        moments=[summary.moments[j] for j in cols],
        names=[names.get(summary.moments[j], summary.moments[j]) for j in cols],
        n=int(point["n_used"]),
        r2=float(point["r2"]),
        r2_ci=r2_ci,
        figures={f: np.asarray(point[f], dtype=np.float64) for f in _FIGURES},
        intervals=intervals,
        classes=classes,
        class_agreement=np.asarray(agreement, dtype=np.float64),
        quadrants=_quadrants(point["importance"], point["performance"], x),
        answered=answered_w,
        exact=fit.exact,
        error=fit.error,
        samples=fit.samples,
        missing=settings.missing,
        repaired=bool(point["repaired"]),
        cuts=cuts,
        replicates=np.vstack(reps["importance"]) if reps["importance"] else None,
    )


def _missing_message(x: np.ndarray, w: np.ndarray, moments: list[str], s: _Settings) -> str:
    present = ~np.isnan(x)
    total = float(w.sum())
    share = 1 - float((present * w[:, None]).sum() / (total * x.shape[1]))
    complete = int(w[present.all(axis=1)].sum())
    if share == 0:
        return ""
    by_moment = 1 - (present * w[:, None]).sum(axis=0) / total
    worst = int(np.argmax(by_moment))
    head = (
        f"{share:.1%} of the ratings are missing (most: {moments[worst]!r}, "
        f"unanswered by {by_moment[worst]:.0%}); {complete:,} of {int(total):,} respondents "
        "answered every rating. "
    )
    if s.missing == "pairwise":
        return head + (
            "Correlations use everyone who answered both items (pairwise); set "
            "analysis.drivers.missing: listwise to use only the complete respondents"
        )
    return head + "Only those complete respondents are used (listwise)"


def _differences(per_segment: dict[str, OutcomeDrivers], confidence: float) -> list[dict[str, Any]]:
    alpha = (1 - confidence) / 2
    out = []
    for (a, da), (b, db) in itertools.combinations(sorted(per_segment.items()), 2):
        if da.replicates is None or db.replicates is None:
            continue
        b_count = min(len(da.replicates), len(db.replicates))
        for m in da.moments:
            if m not in db.moments:
                continue
            ja, jb = da.moments.index(m), db.moments.index(m)
            diff = float(da.figures["importance"][ja] - db.figures["importance"][jb])
            reps = da.replicates[:b_count, ja] - db.replicates[:b_count, jb]
            below = float(np.sum(reps <= 0))
            above = float(np.sum(reps >= 0))
            p = min(1.0, 2 * (min(below, above) + 1) / (b_count + 1))
            out.append(
                {
                    "moment": m,
                    "a": a,
                    "b": b,
                    "difference": diff,
                    "ci": [float(np.quantile(reps, alpha)), float(np.quantile(reps, 1 - alpha))],
                    "p_value": p,
                }
            )
    return out


def measure_drivers(
    summary: RatingSummary,
    *,
    names: dict[str, str] | None = None,
    n_boot: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    missing: Missing = "pairwise",
    exact_limit: int = DEFAULT_EXACT_LIMIT,
    samples: int = 4000,
    low: float | None = None,
    high: float | None = None,
    by_segment: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Drivers | None:
    """The drivers of every numeric outcome in a rating summary (``None`` if there are none).

    Warnings (:class:`~keymoments.errors.StatisticsWarning`) say how much is
    missing and which moments could not be measured.
    """
    if not summary.moments or not summary.outcomes or summary.n_respondents == 0:
        return None
    if missing not in ("pairwise", "listwise"):
        raise ValueError(f"missing must be 'pairwise' or 'listwise', got {missing!r}")
    labels = names or {}
    x_all = summary.values[:, : len(summary.moments)]
    settings = _Settings(missing, exact_limit, samples, seed, cut_points(x_all, low=low, high=high))
    segments = sorted(set(summary.segment.tolist())) if by_segment else []
    if len(segments) < 2:
        segments = []
    total = n_boot * len(summary.outcomes) * (1 + len(segments))
    done = [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None and (done[0] % 10 == 0 or done[0] == total):
            progress(done[0], total)

    notes: dict[str, list[str]] = {}

    def note(where: str, message: str) -> None:
        if message:
            notes.setdefault(message, []).append(where)

    if progress is not None:
        progress(0, total)
    result = Drivers(outcomes={}, n_boot=n_boot, confidence=confidence)
    for oid in summary.outcomes:
        fitted = _fit_one(summary, oid, "all", labels, n_boot, confidence, settings, note, tick)
        if fitted is not None:
            result.outcomes[oid] = fitted
        per_seg: dict[str, OutcomeDrivers] = {}
        for seg in segments:
            sub = summary.subset(summary.segment == seg)
            d = _fit_one(sub, oid, seg, labels, n_boot, confidence, settings, None, tick)
            if d is not None:
                per_seg[seg] = d
        if per_seg:
            result.segments[oid] = per_seg
            result.differences[oid] = _differences(per_seg, confidence)
    for message, wheres in notes.items():
        warnings.warn(f"{', '.join(wheres)}: {message}", MissingRatingsWarning, stacklevel=2)
    if not result.outcomes:
        return None
    return result
