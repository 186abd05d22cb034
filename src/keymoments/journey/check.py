"""The model check: does the fitted journey model reproduce what happened?

Every recoverable is a difference on the journey model, so the model should
give back, before any fix, what was observed. For each outcome the check
compares the model's prediction with the observed value:

- ``all``: the outcome's mean;
- each segment: its mean there;
- each breakable moment, two history groups: the cases that broke it earlier
  (before a binary outcome, anywhere in the journey for a numeric one) and
  those that did not.

The history groups are what a first-order chain can miss: a chain that
forgets a missed appointment by the time of treatment predicts the same
treatment rate for those who missed and those who did not. The model's
predictions for a group are exact conditional expectations on the chain
(taboo chains for "first broke the moment here", value-to-go from there).

Intervals come from the analysis' bootstrap draws (the same seed, so the same
draws). A row is ``ok`` when the bootstrap interval of observed − model
covers zero, or when the difference is too small to matter: within
:data:`RELATIVE` of the observed rate for a binary outcome (and at least
:data:`TOLERANCE`), within :data:`RELATIVE` of a standard deviation for a
numeric one. The second rule keeps the many groups of a large log from
raising warnings for differences nobody would act on. Groups of fewer than
:data:`MIN_GROUP` cases are not reported.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from keymoments.journey.fit import (
    ChainSet,
    Evaluation,
    JourneyData,
    money_weights,
    segment_chains,
)
from keymoments.journey.kernel import fundamental, release_traps
from keymoments.model import Service

if TYPE_CHECKING:
    from keymoments.gearing import DrawBlock

__all__ = ["MIN_GROUP", "RELATIVE", "TOLERANCE", "CheckRow", "ModelCheck"]

Array = NDArray[np.float64]

MIN_GROUP = 30
TOLERANCE = 0.005
RELATIVE = 0.05


@dataclass
class CheckRow:
    """One comparison of the model with the data (see the module doc)."""

    outcome: str
    group: str
    observed: float
    model: float
    ci: tuple[float, float]
    ok: bool
    cases: int
    moment: str | None = None
    broke: bool | None = None
    segment: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON view (a row of the result's ``model_check``)."""
        return {
            "outcome": self.outcome,
            "group": self.group,
            "observed": self.observed,
            "model": self.model,
            "ci": list(self.ci),
            "ok": self.ok,
            "cases": self.cases,
            "moment": self.moment,
            "broke": self.broke,
            "segment": self.segment,
        }


def _groups(data: JourneyData, service: Service) -> dict[tuple[int | None, int], Array]:
    """Per (marker, or None for the whole journey; moment): rows whose journey broke it
    (before the marker's first visit, when there is a marker)."""
    space = data.space
    sigs = data.sigs
    codes, row_of = data.parsed.codes, data.parsed.row_of
    position = np.arange(len(codes))
    breakable = [i for i, m in enumerate(service.moments) if m.breakable]
    out: dict[tuple[int | None, int], Array] = {}
    for j in [None, *range(len(space.binary_outcomes))]:
        keep = np.ones(len(codes), dtype=bool)
        if j is not None:
            hit = codes == space.outcome(j)
            first = np.full(len(sigs), np.iinfo(np.int64).max)
            np.minimum.at(first, row_of[hit], position[hit])
            keep = position <= first[row_of]
        for i in breakable:
            broke = keep & (codes == space.broken(i))
            out[(j, i)] = (np.bincount(row_of[broke], minlength=len(sigs)) > 0).astype(float)
    return out


def _predictions(
    data: JourneyData,
    service: Service,
    weights: Array,
    rewards: list[dict[str, tuple[Array, Array]]],
    money: dict[str, Array],
) -> dict[tuple[int, str], Array]:
    """Model values per outcome for many weightings (draws × rows), one batch each.

    ``rewards`` holds each draw's fitted rewards and intercepts per numeric
    outcome (as the analysis fitted them, :attr:`Evaluation.rewards`).

    Keys (k, "all"), (k, "seg:g"), (k, "broke:i"), (k, "kept:i"); values (draws,).
    """
    space = data.space
    S = space.n_transient
    chains = ChainSet.of(data, service)
    n_draws, n_seg = len(weights), len(data.segments)
    breakable = [i for i, m in enumerate(service.moments) if m.breakable]
    out: dict[tuple[int, str], Array] = {}
    probs_by_view: dict[int, Array] = {}
    seg_w: Array = np.zeros((n_draws, n_seg))
    for v in range(len(chains.chains)):
        probs, seg_w = segment_chains(
            data, chains.weights(v, weights, money), chains.matrix(data, v), cases=weights
        )
        probs_by_view[v], _ = release_traps(probs, S)  # (D, G, F, T)
    solved: dict[int, tuple[Array, Array]] = {}  # view -> (N, visits)
    taboos: dict[tuple[int, int], tuple[Array, Array]] = {}  # (view, moment) -> (entry, N)
    for k, o in enumerate(service.outcomes):
        view = chains.outcome[k]
        P = probs_by_view[view]
        if view not in solved:
            N_view = fundamental(P[..., 1:, :S])  # (D, G, S, S)
            solved[view] = (N_view, (P[..., 0, None, :S] @ N_view)[..., 0, :])
        N, visits = solved[view]
        if o.kind == "binary":
            copies = space.outcome_states(space.marker_of(o.id))
            # a marker ends the cut chain: reached at most once, from any state
            reach = N[..., copies].sum(axis=-1)  # (D, G, S): P(outcome | from s)
            value = visits[..., copies].sum(axis=-1)
            intercept = np.zeros((n_draws, n_seg))
            r = None
        else:
            per_state = np.stack([rewards[d][o.id][0] for d in range(n_draws)])  # (D, G, S_b)
            intercept = np.stack([rewards[d][o.id][1] for d in range(n_draws)])  # (D, G)
            r = np.tile(per_state, (1, 1, space.n_histories))  # (D, G, S)
            reach = (N @ r[..., None])[..., 0]  # value to go from s (rewards ahead)
            value = (visits * r).sum(axis=-1) + intercept
        total = np.einsum("dg,dg->d", value, seg_w)
        out[(k, "all")] = total
        for g in range(n_seg):
            out[(k, f"seg:{g}")] = value[:, g]
        for i in breakable:
            broken = [b for _, b in space.pairs(i)]
            if (view, i) not in taboos:
                rows = [1 + b for b in broken]
                taboo = P.copy()
                taboo[..., rows, :] = 0.0
                taboo[..., rows, S + 1] = 1.0  # more ways out: a chain that ended still ends
                n_taboo = fundamental(taboo[..., 1:, :S])
                # expected visits before entering the broken states (entries into them)
                taboos[(view, i)] = ((taboo[..., 0, None, :S] @ n_taboo)[..., 0, :], n_taboo)
            entry, n_taboo = taboos[(view, i)]
            p_b = entry[..., broken].sum(axis=-1)  # (D, G): P(ever break i)
            joint = (entry[..., broken] * reach[..., broken]).sum(axis=-1)
            if r is not None:
                # rewards gathered before the break, on the journeys that go on to break
                h_b = n_taboo[..., broken].sum(axis=-1)  # P(enter B | from s)
                outside = np.ones(S, dtype=bool)
                outside[broken] = False
                before = (entry[..., outside] * r[..., outside] * h_b[..., outside]).sum(axis=-1)
                joint = joint + before + intercept * p_b
            pb = np.einsum("dg,dg->d", p_b, seg_w)
            jt = np.einsum("dg,dg->d", joint, seg_w)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[(k, f"broke:{i}")] = np.where(pb > 0, jt / pb, np.nan)
                out[(k, f"kept:{i}")] = np.where(pb < 1, (total - jt) / (1 - pb), np.nan)
    return out


def _observed(
    data: JourneyData,
    service: Service,
    weights: Array,
    sums_y: dict[str, Array],
    counts_y: dict[str, Array],
    groups: dict[tuple[int | None, int], Array],
) -> tuple[dict[tuple[int, str], Array], dict[tuple[int, str], Array]]:
    """Observed values and case counts for many weightings (draws × rows), keyed as
    :func:`_predictions`."""
    space = data.space
    breakable = [i for i, m in enumerate(service.moments) if m.breakable]
    values: dict[tuple[int, str], Array] = {}
    sizes: dict[tuple[int, str], Array] = {}
    seg = [(data.seg_of_row == g).astype(float) for g in range(len(data.segments))]
    for k, o in enumerate(service.outcomes):
        if o.kind == "binary":
            marker = space.marker_of(o.id)
            hit = np.asarray((data.visits[:, space.outcome(marker)] > 0).todense()).ravel()
            num, den, key = weights * hit, weights, marker
        else:
            num, den, key = np.atleast_2d(sums_y[o.id]), np.atleast_2d(counts_y[o.id]), None

        def ratio(mask: Array, num: Array = num, den: Array = den) -> tuple[Array, Array]:
            d = den @ mask
            with np.errstate(invalid="ignore", divide="ignore"):
                return np.where(d > 0, (num @ mask) / np.where(d > 0, d, 1.0), np.nan), d

        values[(k, "all")], sizes[(k, "all")] = ratio(np.ones(weights.shape[1]))
        for g, rows in enumerate(seg):
            values[(k, f"seg:{g}")], sizes[(k, f"seg:{g}")] = ratio(rows)
        for i in breakable:
            mask = groups[(key, i)]
            values[(k, f"broke:{i}")], sizes[(k, f"broke:{i}")] = ratio(mask)
            values[(k, f"kept:{i}")], sizes[(k, f"kept:{i}")] = ratio(1.0 - mask)
    return values, sizes


class ModelCheck:
    """The model check, filled block by block from the analysis' own bootstrap draws.

    Give it to :func:`keymoments.gearing.estimate_impacts` as its ``listener``:
    each block of draws is then checked with the chains and rewards the
    bootstrap fitted, and :meth:`rows` gives the comparisons.

    Args:
        data: the journeys (with the memory the analysis uses).
        service: the service model.
    """

    def __init__(self, data: JourneyData, service: Service) -> None:
        self.data, self.service = data, service
        self.groups = _groups(data, service)
        self.model: dict[tuple[int, str], float] = {}
        self.observed: dict[tuple[int, str], float] = {}
        self.sizes: dict[tuple[int, str], float] = {}
        self.draws_model: dict[tuple[int, str], list[Array]] = {}
        self.draws_diff: dict[tuple[int, str], list[Array]] = {}

    def start(self, point: Evaluation) -> None:
        """Check the point estimate (its rewards are the fitted ones), before any draw."""
        data, service = self.data, self.service
        money = {k: v[None, :] for k, v in money_weights(data, None).items()}
        model = _predictions(data, service, data.n[None, :], [point.rewards], money)
        self.model = {k: float(v[0]) for k, v in model.items()}
        now, counted = _observed(data, service, data.n[None, :], data.sum_y, data.n_y, self.groups)
        self.observed = {k: float(v[0]) for k, v in now.items()}
        self.sizes = {k: float(v[0]) for k, v in counted.items()}
        self.draws_model = {key: [] for key in model}
        self.draws_diff = {key: [] for key in model}

    def add(self, draws: DrawBlock) -> None:
        """Check one block of bootstrap draws."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rewards = [e.rewards for e in draws.evaluations]
            m = _predictions(self.data, self.service, draws.weights, rewards, draws.money)
            obs, _ = _observed(
                self.data, self.service, draws.weights, draws.y_sums, draws.y_counts, self.groups
            )
        for key in self.model:
            self.draws_model[key].append(m[key])
            self.draws_diff[key].append(obs[key] - m[key])

    def rows(self, *, confidence: float, outcome_sd: Array) -> list[CheckRow]:
        """The comparisons (see the module doc), groups of fewer than MIN_GROUP cases left out."""
        data, service = self.data, self.service
        tail = (1 - confidence) / 2 * 100
        rows: list[CheckRow] = []
        for (k, group), value in self.model.items():
            o = service.outcomes[k]
            n = self.sizes[(k, group)]
            seen = self.observed[(k, group)]
            if n < MIN_GROUP or not np.isfinite(seen) or not np.isfinite(float(value)):
                continue
            if o.kind == "binary":
                tolerance = max(TOLERANCE, RELATIVE * abs(seen))
            else:
                tolerance = RELATIVE * float(outcome_sd[k])
            diff = seen - float(value)
            if self.draws_model[(k, group)]:
                model_draws = np.concatenate(self.draws_model[(k, group)])
                diff_draws = np.concatenate(self.draws_diff[(k, group)])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    lo, hi = np.nanpercentile(model_draws, [tail, 100 - tail])
                    d_lo, d_hi = np.nanpercentile(diff_draws, [tail, 100 - tail])
                ok = bool(d_lo <= 0 <= d_hi or abs(diff) <= tolerance)
            else:
                lo = hi = float(value)
                ok = abs(diff) <= tolerance
            moment = segment = None
            broke: bool | None = None
            label = group
            if group.startswith("seg:"):
                segment = data.segments[int(group[4:])]
                label = f"segment {segment}"
            elif group.startswith(("broke:", "kept:")):
                i = int(group.split(":")[1])
                moment = service.moments[i].id
                broke = group.startswith("broke:")
                label = f"{'broke' if broke else 'did not break'} {moment} earlier"
            rows.append(
                CheckRow(
                    outcome=o.id,
                    group=label,
                    observed=float(seen),
                    model=float(value),
                    ci=(float(lo), float(hi)),
                    ok=ok,
                    cases=round(n),
                    moment=moment,
                    broke=broke,
                    segment=segment,
                )
            )
        return rows
