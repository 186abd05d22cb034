"""Barriers: what stops people at a moment, and what share of its breaks each explains.

For each moment with barriers, a logistic model of breaking it on its barriers
(0/1 each) and the model's segments (as adjusting covariates) is fitted on the
cases that reached it, from the small (segment, pattern, broke) table of
:mod:`keymoments.experience.barrier_summaries`. Per barrier:

- **prevalence**: the share of the cases reaching the moment that hold it;
- **adjusted odds ratio**, with a Wald interval from the fit;
- **attributable fraction**: the share of the moment's breaks that would not
  happen if the barrier were lifted from everyone holding it, all else
  unchanged — by standardisation (g-computation) on the fitted model:
  ``1 - Σ p̂(case with the barrier set to 0) / Σ p̂(case)`` over the cases
  that reached the moment — with a bootstrap interval (cases resampled as a
  multinomial over the table's rows, the model refitted each time).

Because the model holds the other barriers fixed, a worry that only travels
with another and has no effect of its own gets an attributable fraction near
zero, however often it is held by those who break. Fits use Firth's penalty
(:mod:`keymoments.experience.logistic`), so separation (every holder broke)
gives a finite, shrunk odds ratio rather than infinity.

Example:
    >>> import pandas as pd
    >>> table = pd.DataFrame({"segment": ["all"] * 4, "worry": [0, 0, 1, 1],
    ...                       "broke": [0, 1, 0, 1], "n": [90, 10, 60, 40]})
    >>> table["worry"] = table["worry"].astype("Int64")
    >>> model = fit_barrier_model("visit", ["worry"], table, firth=False)
    >>> round(model.break_rate(), 3), round(model.break_rate({"worry": 1.0}), 3)
    (0.25, 0.1)
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import chdtrc, expit

from keymoments.errors import StatisticsWarning
from keymoments.experience.logistic import LogisticFit, fit_logistic

__all__ = ["BarrierModel", "fit_barrier_model", "interaction_test"]

# beyond this many barriers lifted from a fraction of holders, the exact
# enumeration (2^k per pattern) would be slow; nobody plans that many at once
MAX_PARTIAL_LIFTS = 16
# fewer holders (or non-holders) than this: the barrier's figures rest on a handful of cases
RARE = 20


@dataclass
class BarrierModel:
    """A fitted model of breaking one moment on its barriers (and segments).

    Attributes:
        moment: the moment's id.
        barrier_ids: every barrier of the moment, as in the service model.
        fitted_: the barriers in the fitted design (a barrier nobody or
            everybody holds, or one that travels exactly with another, is not).
        segments_: segment labels, the reference (largest) first.
        coef_: intercept, segment effects (against the reference), barrier
            effects (log-odds, in ``fitted_`` order); cov_: their covariance.
        replicates: bootstrap refits, each on its own resampled cases.
    """

    moment: str
    barrier_ids: list[str]
    fitted_: list[str]
    segments_: list[str]
    coef_: np.ndarray
    cov_: np.ndarray
    loglik_: float
    held: np.ndarray  # patterns × fitted barriers, 0/1
    segment_design: np.ndarray  # patterns × (segments - 1), 0/1
    cases: np.ndarray  # cases per pattern
    breaks: np.ndarray  # breaks per pattern
    replicates: list[BarrierModel] = field(default_factory=list, repr=False)

    @property
    def n_cases(self) -> float:
        """Cases in the model (reached the moment, no barrier missing)."""
        return float(self.cases.sum())

    def effect(self, barrier: str) -> float:
        """The barrier's log-odds effect (0 for a barrier not in the fit)."""
        if barrier not in self.fitted_:
            return 0.0
        return float(self.coef_[1 + self.segment_design.shape[1] + self.fitted_.index(barrier)])

    def break_rate(self, lift: Mapping[str, float] | None = None) -> float:
        """The expected break rate among the cases reaching the moment.

        ``lift[b]`` is the share of the holders of barrier ``b`` from whom it
        is lifted (set to 0), independently per barrier, all else unchanged;
        ``None`` gives the fitted rate today. Exact: every combination of
        partly lifted barriers is weighed by its probability.

        Example:
            >>> import pandas as pd
            >>> t = pd.DataFrame({"segment": ["a"] * 4, "w": pd.array([0, 0, 1, 1], "Int64"),
            ...                   "broke": [0, 1, 0, 1], "n": [80, 20, 50, 50]})
            >>> m = fit_barrier_model("visit", ["w"], t, firth=False)
            >>> round(m.break_rate(), 3)  # (20 + 50) / 200
            0.35
            >>> round(m.break_rate({"w": 0.5}), 3)  # half the holders break at 0.2, not 0.5
            0.275
        """
        lift = dict(lift or {})
        for b, share in lift.items():
            if b not in self.barrier_ids:
                raise KeyError(
                    f"moment {self.moment!r} has no barrier {b!r}; its barriers: "
                    + ", ".join(self.barrier_ids)
                )
            if not 0.0 <= float(share) <= 1.0:
                raise ValueError(f"lift of barrier {b!r} must be a share in [0, 1], got {share}")
        total = self.cases.sum()
        if total == 0:
            return float("nan")
        k = self.segment_design.shape[1]
        base = self.coef_[0] + self.segment_design @ self.coef_[1 : 1 + k]
        beta = self.coef_[1 + k :]
        held = self.held.astype(np.float64).copy()
        partial: list[tuple[int, float]] = []
        for j, b in enumerate(self.fitted_):
            share = float(lift.get(b, 0.0))
            if share >= 1.0:
                held[:, j] = 0.0
            elif share > 0.0:
                partial.append((j, share))
        if len(partial) > MAX_PARTIAL_LIFTS:
            raise ValueError(
                f"at most {MAX_PARTIAL_LIFTS} barriers can be lifted from a share of their "
                f"holders at once, got {len(partial)}"
            )
        expected = 0.0
        for lifted in itertools.product((False, True), repeat=len(partial)):
            weight = 1.0
            h = held
            if partial:
                h = held.copy()
                for (j, share), off in zip(partial, lifted, strict=True):
                    weight *= share if off else 1.0 - share
                    if off:
                        h[:, j] = 0.0
            expected += weight * float((self.cases * expit(base + h @ beta)).sum())
        return expected / float(total)

    def attributable_fraction(self, barriers: list[str] | str) -> float:
        """Share of the moment's breaks that lifting these barriers from all holders removes."""
        names = [barriers] if isinstance(barriers, str) else list(barriers)
        now = self.break_rate()
        if not now > 0:
            return float("nan")
        return 1.0 - self.break_rate(dict.fromkeys(names, 1.0)) / now

    def prevalence(self, barrier: str) -> float:
        """Share of the model's cases holding the barrier (NaN if not in the fit)."""
        if barrier not in self.fitted_:
            return float("nan")
        j = self.fitted_.index(barrier)
        return float((self.cases * self.held[:, j]).sum() / max(self.cases.sum(), 1.0))

    def __repr__(self) -> str:
        return (
            f"<BarrierModel {self.moment!r}: {int(self.n_cases)} cases, barriers "
            f"{', '.join(self.fitted_)}, break rate {self.break_rate():.3f}>"
        )


def _design(
    segments: np.ndarray, labels: list[str], held: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    dummies = (
        np.column_stack([(segments == lab).astype(np.float64) for lab in labels[1:]])
        if len(labels) > 1
        else np.zeros((len(segments), 0))
    )
    X = np.column_stack([np.ones(len(segments)), dummies, held.astype(np.float64)])
    return X, dummies


def _independent(X: np.ndarray, rows: np.ndarray, first: int) -> list[int]:
    """Columns from ``first`` on that add to the span of the earlier ones (on rows with cases).

    One pass of Gram-Schmidt in column order (the first ``first`` are kept):
    a column whose residual against the kept ones is negligible adds nothing.
    """
    sub = X[rows]
    keep: list[int] = []
    basis = np.zeros((sub.shape[0], 0))
    for j in range(sub.shape[1]):
        col = sub[:, j]
        norm = float(np.linalg.norm(col))
        residual = col - basis @ (basis.T @ col)
        residual = residual - basis @ (basis.T @ residual)  # twice is enough
        size = float(np.linalg.norm(residual))
        if j < first or (norm > 0 and size > 1e-9 * max(norm, 1.0)):
            keep.append(j)
            if size > 0:
                basis = np.column_stack([basis, residual / size])
    return keep


def fit_barrier_model(
    moment: str,
    barrier_ids: list[str],
    table: pd.DataFrame,
    *,
    firth: bool = True,
    segments: bool = True,
) -> BarrierModel:
    """Fit one moment's model from its (segment, barriers..., broke, n) table.

    Rows with a missing or unreadable barrier must already be removed. A
    barrier nobody or everybody holds, or one that is an exact combination of
    the others, is left out of the fit with a :class:`StatisticsWarning`.
    ``segments=False`` fits without segment covariates (one segment's model).
    """
    patterns = (
        table.assign(breaks=table["n"] * table["broke"])
        .groupby(["segment", *barrier_ids], dropna=False, sort=True)[["n", "breaks"]]
        .sum()
        .reset_index()
    )
    held_all = patterns[barrier_ids].to_numpy(dtype=np.float64).reshape(len(patterns), -1)
    cases = patterns["n"].to_numpy(dtype=np.float64)
    breaks = patterns["breaks"].to_numpy(dtype=np.float64)
    seg = patterns["segment"].astype(str).to_numpy()
    sizes = patterns.groupby("segment")["n"].sum().sort_values(ascending=False, kind="stable")
    labels = [str(s) for s in sizes.index] if segments else []
    candidates: list[int] = []
    total = cases.sum()
    for j, b in enumerate(barrier_ids):
        holders = float((cases * held_all[:, j]).sum())
        if holders == 0:
            warnings.warn(
                f"barrier {b!r} at moment {moment!r}: none of the {int(total)} cases that "
                "reached it holds it, so its effect cannot be measured",
                StatisticsWarning,
                stacklevel=3,
            )
        elif holders == total:
            warnings.warn(
                f"barrier {b!r} at moment {moment!r}: every case that reached it holds it, "
                "so there is no one without it to compare with; its effect cannot be measured",
                StatisticsWarning,
                stacklevel=3,
            )
        else:
            candidates.append(j)
    X, dummies = _design(seg, labels, held_all[:, candidates])
    first = 1 + dummies.shape[1]
    keep = _independent(X, cases > 0, first)
    kept = [candidates[c - first] for c in keep[first:]]
    for c in range(first, X.shape[1]):
        if c not in keep:
            b = barrier_ids[candidates[c - first]]
            others = [barrier_ids[j] for j in kept]
            warnings.warn(
                f"barrier {b!r} at moment {moment!r} travels exactly with "
                f"{', '.join(repr(o) for o in others) or 'the segments'} (the same cases hold "
                "it), so its own effect cannot be told apart; it is left out of the model",
                StatisticsWarning,
                stacklevel=3,
            )
    fitted = [barrier_ids[j] for j in kept]
    held = held_all[:, kept]
    for j, b in enumerate(fitted):
        holders = float((cases * held[:, j]).sum())
        broke = float((breaks * held[:, j]).sum())
        if broke in (0.0, holders):
            warnings.warn(
                f"barrier {b!r} at moment {moment!r}: {'all' if broke else 'none'} of its "
                f"{int(holders)} holders broke the moment (separation); its odds ratio comes "
                "from Firth's penalised fit and its interval is wide",
                StatisticsWarning,
                stacklevel=3,
            )
        elif min(holders, total - holders) < RARE:
            warnings.warn(
                f"barrier {b!r} at moment {moment!r}: only {int(min(holders, total - holders))} "
                f"of the {int(total)} cases that reached it {'hold' if holders < RARE else 'lack'} "
                "it; its figures are uncertain",
                StatisticsWarning,
                stacklevel=3,
            )
    X, dummies = _design(seg, labels, held)
    fit = fit_logistic(X, events=breaks, trials=cases, firth=firth)
    if not fit.converged:
        warnings.warn(
            f"moment {moment!r}: the barrier model did not settle in 100 steps; "
            "its figures are approximate",
            StatisticsWarning,
            stacklevel=3,
        )
    return BarrierModel(
        moment=moment,
        barrier_ids=list(barrier_ids),
        fitted_=fitted,
        segments_=labels,
        coef_=fit.coef,
        cov_=fit.cov,
        loglik_=fit.loglik,
        held=held.astype(np.int8),
        segment_design=dummies,
        cases=cases,
        breaks=breaks,
    )


def refit(
    model: BarrierModel, cases: np.ndarray, breaks: np.ndarray, *, firth: bool
) -> BarrierModel:
    """The same model refitted on other counts per pattern (a bootstrap draw).

    A column with no variation among the drawn cases (a rare barrier nobody in
    the draw holds) keeps a zero effect: lifting it changes nothing there.
    """
    X = np.column_stack([np.ones(len(cases)), model.segment_design, model.held])
    # most draws keep every column; only a draw that lost one (a rare barrier
    # nobody drawn holds) pays for finding which
    drawn = X[cases > 0]
    keep = list(range(X.shape[1]))
    if np.linalg.matrix_rank(drawn) < X.shape[1]:
        keep = _independent(X, cases > 0, 1)
    fit: LogisticFit | None = None
    try:
        fit = fit_logistic(
            X[:, keep], events=breaks, trials=cases, firth=firth, start=model.coef_[keep]
        )
    except np.linalg.LinAlgError:
        fit = None
    coef = np.zeros(X.shape[1])
    cov = np.full((X.shape[1], X.shape[1]), np.nan)
    loglik = float("nan")
    if fit is not None:
        coef[keep] = fit.coef
        cov[np.ix_(keep, keep)] = fit.cov
        loglik = fit.loglik
    return BarrierModel(
        moment=model.moment,
        barrier_ids=model.barrier_ids,
        fitted_=model.fitted_,
        segments_=model.segments_,
        coef_=coef,
        cov_=cov,
        loglik_=loglik,
        held=model.held,
        segment_design=model.segment_design,
        cases=cases,
        breaks=breaks,
    )


def bootstrap_replicates(
    model: BarrierModel, n_boot: int, rng: np.random.Generator, *, firth: bool = True
) -> list[BarrierModel]:
    """Refits on cases resampled as a multinomial over (pattern, broke) cells."""
    ok = model.cases - model.breaks
    cells = np.concatenate([ok, model.breaks])
    total = int(np.rint(cells.sum()))
    if total == 0 or n_boot <= 0:
        return []
    probs = cells / cells.sum()
    n_pat = len(model.cases)
    out = []
    for _ in range(n_boot):
        draw = rng.multinomial(total, probs).astype(np.float64)
        breaks = draw[n_pat:]
        out.append(refit(model, draw[:n_pat] + breaks, breaks, firth=firth))
    return out


@dataclass(frozen=True)
class InteractionTest:
    """Whether a barrier's effect differs between segments: a likelihood-ratio test."""

    barrier: str
    statistic: float
    df: int
    p_value: float

    def to_dict(self) -> dict[str, float | int | str]:
        """JSON-safe view."""
        return {"statistic": self.statistic, "df": self.df, "p_value": self.p_value}


def interaction_test(
    model: BarrierModel, barrier: str, *, firth: bool = True
) -> InteractionTest | None:
    """Test barrier × segment interactions against the model without them.

    The (penalised) likelihood-ratio statistic is referred to a chi-squared
    with one degree of freedom per interaction that the data can estimate.
    ``None`` when there is one segment or the barrier is not in the fit.

    Example:
        >>> import pandas as pd
        >>> t = pd.DataFrame({"segment": ["a"] * 4 + ["b"] * 4,
        ...                   "w": pd.array([0, 0, 1, 1] * 2, "Int64"), "broke": [0, 1] * 4,
        ...                   "n": [90, 10, 50, 50, 90, 10, 88, 12]})
        >>> m = fit_barrier_model("visit", ["w"], t, firth=False)
        >>> interaction_test(m, "w").p_value < 0.001  # holds in segment a only
        True
    """
    if barrier not in model.fitted_ or model.segment_design.shape[1] == 0:
        return None
    j = model.fitted_.index(barrier)
    inter = model.segment_design * model.held[:, [j]]
    X0 = np.column_stack([np.ones(len(model.cases)), model.segment_design, model.held])
    X = np.column_stack([X0, inter])
    keep = _independent(X, model.cases > 0, X0.shape[1])
    df = len(keep) - X0.shape[1]
    if df == 0:
        return None
    X = X[:, keep]
    start = np.concatenate([model.coef_, np.zeros(df)])
    fixed = np.arange(X.shape[1]) >= X0.shape[1]
    # both fits carry the whole design's penalty, so their difference is a fair test
    without = fit_logistic(
        X, events=model.breaks, trials=model.cases, firth=firth, start=start, fixed=fixed
    )
    full = fit_logistic(X, events=model.breaks, trials=model.cases, firth=firth, start=start)
    statistic = max(0.0, 2.0 * (full.loglik - without.loglik))
    return InteractionTest(barrier, float(statistic), df, float(chdtrc(df, statistic)))
