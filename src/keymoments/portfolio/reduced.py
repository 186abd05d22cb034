"""The chain reduced to its moments: an exact, small integer program for the best plan.

A plan picks one *option* per moment with candidates (a subset of that
moment's interventions, with its exact combined factor). Changing moment
``m``'s option only moves flow, in the rows feeding ``m``, between ``m:broken``
and ``m:ok``: row ``r`` moves ``δ_rk`` (known beforehand, capping included).
Around the chain ``P₀`` where every moment takes its first (cheapest) option,
with fundamental matrix ``N₀``, visits ``v₀`` and value to go ``h₀ = N₀c``
(``c``: money per visit), two exact identities of absorbing chains (the
change is of rank one per moment, so this is the Woodbury identity) give the
value ``g(x)`` of any plan ``x``::

    g(x) − g₀ = Σ_m a_m(k_m) · d_m(x)
    d_m(x)    = d_m⁰ + Σ_m' W_mm'(k_m') · d_m'(x)

where ``d_m(x) = h_x(m:ok) − h_x(m:broken)`` is what a case gains by not
breaking ``m`` under plan ``x``, ``d_m⁰`` its value in ``P₀``,
``a_m(k) = Σ_r v₀_r δ_rk`` (the flow the option moves, start row included)
and ``W_mm'(k) = Σ_r (N₀[m:ok, r] − N₀[m:broken, r]) δ_rk``. The unknowns are
one ``d`` per moment and block (segment × outcome), not one visit count per
state and row.

**The program** (HiGHS through :func:`scipy.optimize.milp`): binaries
``λ_mk`` (one option per moment, the budget one row), and for each block
``d_m`` with the balance rows above, where each product ``λ_mk · d_m`` is a
variable ``y_mk`` with ``Σ_k y_mk = d_m`` and
``lo_m λ_mk ≤ y_mk ≤ hi_mk λ_mk`` (the convex hull of "``d_m`` lies in
``[lo_m, hi_mk]`` for the option taken"). At every integer ``λ`` this forces
``y = d`` for the option chosen and 0 for the others, so the rows *are* the
reduced chain of that plan and the objective ``Σ a·y`` *is* its exact value:
the optimum is the best plan on the chain. The bounds only have to hold for
every plan within the budget; the tighter they are, the closer the linear
relaxation and the fewer branches HiGHS needs.

**The bounds.** A Markov decision problem where every row picks its option
freely (a relaxation of every plan; policy iteration for the most and the
least value to go) bounds each ``d_m``. Then, a few rounds: each term
``W·d`` is at most ``max(W·hi, W·lo)``, and the most a budgeted choice of
one option per moment adds is at most the Lagrangian of that multiple-choice
knapsack, ``min_μ≥0 μ·B + Σ_m max_k (gain_mk − μ·cost_mk)`` (any ``μ`` gives a
valid bound; the minimum is found by bisection on the subgradient). With
option ``k`` taken at ``m`` the others share what is left of the budget,
which gives the per-option ``hi_mk``.

A plan whose chain would trap journeys in a loop for good is not a plan
(every chain fitted from data ends); the chosen plans are re-evaluated on
the full chain, and if one traps or disagrees with the program, or the
decision problem cannot bound ``d``, :mod:`keymoments.portfolio.milp` (the
whole chain as the program, slower) answers instead.

Example (three moments in a row, one intervention each, room for two):
    >>> import numpy as np
    >>> from keymoments.journey.fit import FittedChains
    >>> from keymoments.model import parse_service
    >>> from keymoments.portfolio.chain import ChainModel
    >>> from keymoments.portfolio.interventions import Option
    >>> svc = parse_service('''
    ... version: 1
    ... name: toy
    ... moments: [{id: a, reached: [a], broken: [a_x]}, {id: b, reached: [b], broken: [b_x]},
    ...           {id: c, reached: [c], broken: [c_x]}]
    ... outcomes: [{id: won, perspective: provider, reached: [won]}]
    ... ''')
    >>> S = 7                                  # a:ok a:broken b:ok b:broken c:ok c:broken won
    >>> P = np.zeros((1, S + 1, S + 2))
    >>> P[0, 0, [0, 1]] = [0.8, 0.2]           # start -> a
    >>> P[0, 1, [2, 3]] = [0.7, 0.3]           # a:ok -> b
    >>> P[0, 3, [4, 5]] = [0.9, 0.1]           # b:ok -> c
    >>> P[0, 5, 6] = 1.0                       # c:ok -> won
    >>> P[0, [2, 4, 6], S + 1] = 1.0           # broken -> exit
    >>> P[0, 7, S] = 1.0                       # won -> done
    >>> chain = ChainModel(svc, FittedChains(P, np.ones(1), {}, {}))
    >>> options = {m: [Option(m, (), 1.0, 0.0), Option(m, (m,), 0.0, 1.0)] for m in range(3)}
    >>> found = MomentProgram(chain, options, np.array([100.0]), budget=2).solve(top=1)
    >>> found.proven, found.plans[0].choice     # fix a and b: 1 × 1 × 0.9 of cases win
    (True, {0: 1, 1: 1, 2: 0})
    >>> round(found.plans[0].objective, 6)
    90.0
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from keymoments.errors import EngineError
from keymoments.journey.kernel import fundamental, release_traps, solve_values
from keymoments.portfolio.certify import (
    CHECK_SECONDS,
    EXHAUSTIVE_INTERVENTIONS,
    MAX_CHECKED,
    all_choices,
    n_interventions,
    not_excluded,
    option_bounds,
    plan_values,
)
from keymoments.portfolio.chain import ChainModel, scale_breaks
from keymoments.portfolio.interventions import Option
from keymoments.portfolio.milp import ChainProgram, Solution, quiet_stdout

__all__ = ["MomentProgram", "SearchResult"]

Array = NDArray[np.float64]
MIP_GAP = 1e-9
# Rounds of bound tightening: the bounds stop moving after three or four.
_ROUNDS = 4
_BISECTIONS = 30
# Per-option bounds need (blocks × moments × options)² cells; past this, one per moment.
_PER_OPTION_CELLS = 2_000_000
# Margin added to the scaled bounds of the unknowns (see MomentProgram.solve).
_WIDEN = 1e-6
# The program's objective and the full chain's value of its plan must agree to this
# (relative); more means the reduced chain was singular for that plan.
_AGREE = 1e-6


@dataclass
class SearchResult:
    """The best plans found, best first; ``proven`` unless the time limit cut the search."""

    plans: list[Solution]
    proven: bool
    gap: float = 0.0  # relative gap HiGHS still had open when the time ran out
    method: str = "moments"  # "moments" (this program) or "chain" (the full-chain program)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    runner_up_proven: bool = True  # False: the time ran out looking for the runner-up
    checked: int = 0  # plans evaluated exactly on the full chain (module certify)
    # "exhaustive": every plan evaluated; "checked": every plan the bound cannot exclude
    # evaluated; "program": the solver's proof alone (the full-chain program, or a bound
    # too loose to check within its time)
    certificate: str = "program"


class MomentProgram:
    """The portfolio program on the chain reduced to its moments (see module doc).

    Args:
        chain: the fitted chains.
        options: per moment index, its options; the first is the cheapest
            (no intervention, or only the ones that must be included).
        money: money per year per unit of each outcome per case (O,).
        net: subtract each option's cost from the objective.
        budget: the most the chosen options may cost together (``None``: no limit).
        cost_weight: subtracted per unit of cost when not ``net`` (a tie-break
            toward the cheaper of two plans of equal value).
    """

    def __init__(
        self,
        chain: ChainModel,
        options: dict[int, list[Option]],
        money: Array,
        *,
        net: bool = False,
        budget: float | None = None,
        cost_weight: float = 0.0,
    ) -> None:
        self.chain = chain
        self.option_lists = {m: list(opts) for m, opts in sorted(options.items())}
        self.moments = sorted(options)
        self.money = np.asarray(money, dtype=float)
        self.net = net
        self.budget = budget
        self.penalty = 1.0 if net else float(cost_weight)
        self.moments_with_options = [m for m in self.moments if len(self.option_lists[m]) > 1]
        self._blocks()
        self._memo: dict[tuple[int, ...], float] = {}

    # -- the chain, per block ------------------------------------------------------------

    def _blocks(self) -> None:
        chain, space = self.chain, self.chain.space
        S = chain.n_states
        # one block per chain and segment that carries money (ChainModel.blocks)
        found = chain.blocks(self.money)
        probs = [chain.views[v][g] for v, g, _ in found]
        coefs = [coef for _, _, coef in found]
        self.P = np.stack(probs) if probs else np.zeros((0, S + 1, S + 2))
        self.c = np.stack(coefs) if coefs else np.zeros((0, S))
        M = len(self.moments)
        K = max((len(o) for o in self.option_lists.values()), default=1)
        self.ok = np.array([space.ok(m) for m in self.moments], dtype=np.int64)
        self.br = np.array([space.broken(m) for m in self.moments], dtype=np.int64)
        self.factor = np.ones((M, K))
        self.cost = np.zeros((M, K))
        self.valid = np.zeros((M, K), dtype=bool)
        for i, m in enumerate(self.moments):
            for k, opt in enumerate(self.option_lists[m]):
                self.factor[i, k] = opt.factor
                self.cost[i, k] = opt.cost
                self.valid[i, k] = True
        self.rel_cost = np.where(self.valid, self.cost - self.cost[:, :1], 0.0)
        # delta[b, r, i, k]: flow row r moves from moment i's broken state to its ok
        # state under option k, against option 0 (capped as in scale_breaks)
        pb = self.P[:, :, self.br]
        po = self.P[:, :, self.ok]
        new_b = np.minimum(pb[..., None] * self.factor[None, None], (pb + po)[..., None])
        delta = new_b[..., :1] - new_b
        delta[..., ~self.valid] = 0.0
        self.delta = delta

    def _chains(self, choice: NDArray[np.int64]) -> Array:
        factors = np.ones(self.chain.n_moments)
        factors[self.moments] = self.factor[np.arange(len(self.moments)), choice]
        return scale_breaks(self.P, self.chain.space, factors)

    def _fundamental(self, P: Array) -> Array | None:
        """N = (I − Q)⁻¹ per block, or None when journeys from the start could loop for good."""
        S = self.chain.n_states
        if P.shape[0] == 0:  # nothing counts as money: no block, every plan is worth 0
            return np.zeros((0, S, S))
        try:
            N = fundamental(P[:, 1:, :S])
        except np.linalg.LinAlgError:
            N = None
        if N is not None and np.all(np.isfinite(N)) and N.min() > -1e-9 and N.max() < 1e9:
            return np.asarray(N, dtype=float)
        # a loop with no way out is harmless only where the start never reaches it
        released, stuck = release_traps(P, S)
        if stuck.any():
            return None
        try:
            return fundamental(released[:, 1:, :S])
        except np.linalg.LinAlgError:
            return None

    def objective_of(self, choice: Sequence[int] | NDArray[np.int64]) -> float:
        """Exact objective of a plan on the full chain (−inf when its chain traps)."""
        key = tuple(int(k) for k in choice)
        if key not in self._memo:
            arr = np.asarray(key, dtype=np.int64)
            P = self._chains(arr)
            N = self._fundamental(P)
            value = (
                -np.inf
                if N is None
                else float(np.einsum("bs,bst,bt->", P[:, 0, :-2], N, self.c))
                - self.penalty * float(self.cost[np.arange(len(key)), arr].sum())
            )
            self._memo[key] = value
        return self._memo[key]

    # -- bounds ------------------------------------------------------------------------

    def _mdp_intervals(self, P: Array) -> tuple[Array, Array]:
        """Bounds on d_m when every row picks its option freely (infinite if a policy traps)."""
        S = self.chain.n_states
        B, M = P.shape[0], len(self.moments)
        hi = np.full((B, M), np.inf)
        lo = np.full((B, M), -np.inf)
        for b in range(B):
            pairs = [
                (int(r), i)
                for i in range(M)
                for r in np.flatnonzero(P[b, 1:, self.br[i]] + P[b, 1:, self.ok[i]] > 0)
            ]
            rows = np.array([r for r, _ in pairs], dtype=np.int64)
            mom = np.array([i for _, i in pairs], dtype=np.int64)
            base_b = self.P[b, 1 + rows, self.br[mom]]
            total = base_b + self.P[b, 1 + rows, self.ok[mom]]
            nb = np.minimum(base_b[:, None] * self.factor[mom], total[:, None])
            no = total[:, None] - nb
            allowed = self.valid[mom]
            at = np.arange(len(pairs))
            extremes: list[Array | None] = []
            for sign in (1.0, -1.0):
                Q = P[b, 1:, :S].copy()
                policy = np.zeros(len(pairs), dtype=np.int64)
                h: Array | None = None
                for _ in range(100):
                    Q[rows, self.br[mom]] = nb[at, policy]
                    Q[rows, self.ok[mom]] = no[at, policy]
                    try:
                        h = solve_values(Q, self.c[b])
                    except np.linalg.LinAlgError:
                        h = None
                        break
                    if not np.all(np.isfinite(h)) or np.abs(h).max() > 1e15:
                        h = None
                        break
                    score = sign * (nb * h[self.br[mom]][:, None] + no * h[self.ok[mom]][:, None])
                    score = np.where(allowed, score, -np.inf)
                    best = np.argmax(score, axis=1)
                    now = score[at, policy]
                    better = score[at, best] > now + 1e-12 * (1.0 + np.abs(now))
                    if not better.any():
                        break
                    policy = np.where(better, best, policy)
                else:
                    h = None
                extremes.append(h)
            h_max, h_min = extremes
            if h_max is not None and h_min is not None:
                # a whisker of slack for the solver's rounding in the last policy step
                slack = 1e-9 * (1.0 + np.abs(h_max).max() + np.abs(h_min).max())
                hi[b] = h_max[self.ok] - h_min[self.br] + slack
                lo[b] = h_min[self.ok] - h_max[self.br] - slack
        return hi, lo

    def _knapsack(self, gain: Array, room: Array | None) -> Array:
        """Lagrangian bound on what one option per moment adds within ``room``, per problem.

        ``gain`` is (problems, M, K) against option 0 (gain 0, cost 0); an
        entry of −inf is an option that problem may not take.
        """
        gain = np.where(self.valid[None], gain, -np.inf)
        gain[:, :, 0] = 0.0
        cost = self.rel_cost
        if room is None:
            return np.asarray(gain.max(axis=2).sum(axis=1), dtype=float)
        rows = np.arange(cost.shape[0])[None]

        def lagrangian(mu: Array) -> tuple[Array, Array]:
            score = gain - mu[:, None, None] * cost[None]
            best = np.argmax(score, axis=2)
            top = np.take_along_axis(score, best[..., None], axis=2)[..., 0]
            return top.sum(axis=1) + mu * room, room - cost[rows, best].sum(axis=1)

        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.where(cost[None] > 0, gain / np.where(cost > 0, cost, 1.0)[None], 0.0)
        mu_hi = np.maximum(np.nan_to_num(ratio, nan=0.0, neginf=0.0).max(axis=(1, 2)), 0.0)
        mu_lo = np.zeros(len(gain))
        bound, slope = lagrangian(mu_lo)
        mu_lo = np.where(slope >= 0, mu_hi, mu_lo)  # the unconstrained best fits: μ = 0
        for _ in range(_BISECTIONS):
            mid = (mu_lo + mu_hi) / 2
            value, slope = lagrangian(mid)
            bound = np.minimum(bound, value)
            over = slope < 0  # the choice at mid overspends: raise μ
            mu_lo = np.where(over, mid, mu_lo)
            mu_hi = np.where(over, mu_hi, mid)
        return np.asarray(np.minimum(bound, lagrangian(mu_hi)[0]), dtype=float)

    def _tighten(
        self, W: Array, d0: Array, hi: Array, lo: Array, room: float | None
    ) -> tuple[Array, Array]:
        """Per-option upper bounds hi[b, m, k] and lower bounds lo[b, m] of d_m (module doc)."""
        B, M, _, K = W.shape
        hik = np.repeat(hi[:, :, None], K, axis=2)
        if B == 0:
            return hik, lo
        idx = np.arange(M)
        rel = self.rel_cost
        per_option = B * M * K * M * K <= _PER_OPTION_CELLS
        for _ in range(_ROUNDS):
            up = np.maximum(W * hik[:, None], W * lo[:, None, :, None])  # (B, M, M', K)
            down = np.minimum(W * hik[:, None], W * lo[:, None, :, None])
            if per_option:
                others = np.repeat(up[:, :, None], K, axis=2)  # (B, M, k at m, M', K')
                others[:, idx, :, idx, 1:] = -np.inf  # m's own option is the one given
                own = up[:, idx, idx, :]  # (B, M, K): m's option acting on d_m itself (loops)
                rooms = None
                if room is not None:
                    rooms = np.broadcast_to(room - rel[None], (B, M, K)).reshape(-1)
                add = self._knapsack(others.reshape(B * M * K, M, K), rooms)
                new_hi = np.minimum(hik, d0[:, :, None] + own + add.reshape(B, M, K))
            else:  # many options per moment: one bound per moment, whatever it takes
                rooms = None if room is None else np.full(B * M, room)
                add = self._knapsack(up.reshape(B * M, M, K), rooms).reshape(B, M)
                new_hi = np.minimum(hik, (d0 + add)[:, :, None])
            new_hi = np.where(self.valid[None], new_hi, hik)
            fall = np.where(self.valid[None, None], down, 0.0).min(axis=3)
            new_lo = np.maximum(lo, d0 + np.minimum(fall, 0.0).sum(axis=2))
            moved = np.abs(new_hi - hik).max() + np.abs(new_lo - lo).max()
            hik, lo = new_hi, new_lo
            if moved <= 1e-9 * (1.0 + np.abs(hik).max()):
                break
        return hik, lo

    # -- the program ---------------------------------------------------------------------

    def _reduced(self) -> tuple[Array, Array, Array, Array, Array, float] | None:
        """a, W, d0, hi, lo of the reduced chain around option 0 everywhere, and g0."""
        M = len(self.moments)
        base = np.zeros(M, dtype=np.int64)
        P = self._chains(base)
        N = self._fundamental(P)
        if N is None:
            return None
        hi, lo = self._mdp_intervals(P)
        if not (np.all(np.isfinite(hi)) and np.all(np.isfinite(lo))):
            return None
        v0 = np.einsum("bs,bst->bt", P[:, 0, :-2], N)
        h0 = np.einsum("bst,bt->bs", N, self.c)
        d0 = h0[:, self.ok] - h0[:, self.br]
        delta = self.delta[:, 1:]
        a = np.einsum("bs,bsmk->bmk", v0, delta) + self.delta[:, 0]
        W = np.einsum("bis,bsmk->bimk", N[:, self.ok, :] - N[:, self.br, :], delta)
        room = None if self.budget is None else self.budget - float(self.cost[:, 0].sum())
        hik, lo = self._tighten(W, d0, hi, lo, room)
        return a, W, d0, hik, lo, float(np.einsum("bs,bs->", v0, self.c))

    def solve(self, *, top: int = 2, time_limit: float | None = None) -> SearchResult:
        """The ``top`` best plans within the budget, best first (fewer if fewer fit)."""
        start = time.perf_counter()
        M = len(self.moments)
        if M == 0:
            return SearchResult([Solution({}, 0.0)], True)
        if self.budget is not None and float(self.cost[:, 0].sum()) > self.budget:
            return SearchResult([], True)  # what must be included costs more than the budget
        if n_interventions(self) <= EXHAUSTIVE_INTERVENTIONS:
            return self._exhaustive(top, start)
        if self.chain.space.memory:
            # a moment then has one (ok, broken) pair per history: the reduction to one
            # unknown per moment does not hold, the full chain program does
            return self._fallback(top, time_limit, start, "the chains remember breaks")
        reduced = self._reduced()
        if reduced is None:
            return self._fallback(top, time_limit, start, "the decision problem could not bound")
        a, W, d0, hik, lo, g0 = reduced
        # the bounds widened far beyond the solver's tolerances: a plan's unknowns are fixed
        # by its balance rows, so a wider bound never admits a wrong plan, while a bound a
        # few parts in 10⁹ from a plan's value (a moment whose value to go barely depends
        # on the plan) can cut the best plan off
        widen = _WIDEN * np.maximum(
            1.0, np.maximum(np.abs(hik).max(axis=(1, 2)), np.abs(lo).max(axis=1))
        )
        model = _build(
            self,
            a,
            W,
            d0,
            hik + widen[:, None, None],
            lo - widen[:, None],
            g0 - self.penalty * float(self.cost[:, 0].sum()),
        )
        plans: list[Solution] = []
        avoid: list[NDArray[np.int64]] = []
        proven, gap = True, 0.0
        runner_up_proven = True
        for rank in range(top):
            left = None if time_limit is None else time_limit - (time.perf_counter() - start)
            if left is not None and left <= 0:
                if rank == 0:
                    proven = False
                else:
                    runner_up_proven = False
                break
            found = model.solve(avoid, left)
            if found is None:
                break
            choice, objective, complete, open_gap = found
            exact = self.objective_of(choice)
            if not np.isfinite(exact) or abs(exact - (objective + model.constant)) > _AGREE * (
                1.0 + abs(exact)
            ):
                return self._fallback(top, time_limit, start, "the reduced chain disagreed")
            plans.append(Solution(dict(zip(self.moments, choice.tolist(), strict=True)), exact))
            avoid.append(choice)
            if not complete:
                if rank == 0:
                    proven, gap = False, open_gap
                else:
                    runner_up_proven = False
                break
        if not plans:
            # out of time before any plan: the cheapest plan always fits
            base = np.zeros(M, dtype=np.int64)
            cheapest = dict(zip(self.moments, base.tolist(), strict=True))
            plans.append(Solution(cheapest, self.objective_of(base)))
            proven = False
            gap = float("inf")
        return self._check(plans, proven, gap, runner_up_proven, reduced, top, time_limit, start)

    def _exhaustive(self, top: int, start: float) -> SearchResult:
        """Every plan within the budget evaluated on the full chain (module certify)."""
        choices = all_choices(self)
        values = plan_values(self, choices)
        live = np.flatnonzero(np.isfinite(values))
        best = live[np.argsort(-values[live], kind="stable")[:top]]
        plans = [
            Solution(dict(zip(self.moments, choices[i].tolist(), strict=True)), float(values[i]))
            for i in best
        ]
        return SearchResult(
            plans,
            True,
            0.0,
            "exhaustive",
            time.perf_counter() - start,
            [],
            True,
            len(choices),
            "exhaustive",
        )

    def _check(
        self,
        plans: list[Solution],
        proven: bool,
        gap: float,
        runner_up_proven: bool,
        reduced: tuple[Array, Array, Array, Array, Array, float],
        top: int,
        time_limit: float | None,
        start: float,
    ) -> SearchResult:
        """The program's plans checked against every plan its bound cannot exclude."""
        # the plan to beat: the program's last (its runner-up, or its best alone); when the
        # program proved that no other plan fits, the check lists every plan that does
        threshold = plans[-1].objective
        if proven and runner_up_proven and len(plans) < top:
            threshold = -np.inf
        u, constant = option_bounds(self, reduced)
        found = not_excluded(
            self, u, constant, threshold, deadline=time.perf_counter() + CHECK_SECONDS
        )
        if found is None:
            # the bound is too loose to list the plans it cannot exclude: the plan rests on
            # the program's own proof (bounds widened far beyond the solver's tolerances)
            note = (
                f"the check on the full chain could not narrow the plans down to {MAX_CHECKED:,} "
                f"within {CHECK_SECONDS:g} s: the plan rests on the program's proof"
            )
            return SearchResult(
                plans,
                proven,
                gap,
                "moments",
                time.perf_counter() - start,
                [note],
                runner_up_proven,
                len(plans),
                "program",
            )
        notes: list[str] = []
        values = plan_values(self, found)
        pool = {tuple(p.choice[m] for m in self.moments): p.objective for p in plans}
        pool.update({tuple(ch.tolist()): float(v) for ch, v in zip(found, values, strict=True)})
        ranked = sorted(((v, ch) for ch, v in pool.items() if np.isfinite(v)), key=lambda t: -t[0])[
            :top
        ]
        if ranked and ranked[0][0] > plans[0].objective + 1e-9 * (1.0 + abs(ranked[0][0])):
            notes.append("the check on the full chain found a better plan than the program")
        checked = [Solution(dict(zip(self.moments, ch, strict=True)), v) for v, ch in ranked]
        tol = 1e-9 * (1.0 + abs(threshold)) if np.isfinite(threshold) else 0.0
        second_sure = len(checked) < top or checked[-1].objective >= threshold - tol
        return SearchResult(
            checked,
            True,
            0.0,
            "moments",
            time.perf_counter() - start,
            notes,
            second_sure,
            len(found),
            "checked",
        )

    def _fallback(self, top: int, time_limit: float | None, start: float, why: str) -> SearchResult:
        program = ChainProgram(
            self.chain, self.option_lists, self.money, net=self.net, budget=self.budget
        )
        if not self.net and self.penalty:
            program.c[: program.n_lam] -= self.penalty * program.costs[: program.n_lam]
        plans: list[Solution] = []
        avoid: list[dict[int, int]] = []
        for _ in range(top):
            sol = program.solve(avoid=avoid)
            if sol is None:
                break
            avoid.append(sol.choice)
            plans.append(sol)
            if not sol.choice:
                break
        return SearchResult(
            plans, True, 0.0, "chain", time.perf_counter() - start, [f"{why}; full chain program"]
        )


@dataclass
class _Model:
    """The reduced program's matrices, ready to solve with cuts."""

    c: Array
    A: sp.csr_matrix
    lo: Array
    hi: Array
    lower: Array
    upper: Array
    integrality: Array
    M: int
    K: int
    valid: NDArray[np.bool_]
    constant: float

    def solve(
        self, avoid: Sequence[NDArray[np.int64]], time_limit: float | None
    ) -> tuple[NDArray[np.int64], float, bool, float] | None:
        """Best choice avoiding the given ones: (choice, objective, proven, gap) or None."""
        A, lo, hi = self.A, self.lo, self.hi
        if avoid:
            # no-good cut: at least one moment takes another option than in each plan avoided
            cut = sp.lil_matrix((len(avoid), A.shape[1]))
            for j, choice in enumerate(avoid):
                for m, k in enumerate(choice.tolist()):
                    cut[j, m * self.K + k] = 1.0
            A = sp.vstack([A, cut.tocsr()], format="csr")
            lo = np.concatenate([lo, np.full(len(avoid), -np.inf)])
            hi = np.concatenate([hi, np.full(len(avoid), self.M - 1.0)])
        options: dict[str, float | bool] = {"mip_rel_gap": MIP_GAP, "presolve": False}
        if time_limit is not None:
            options["time_limit"] = max(float(time_limit), 1e-3)
        # imported here: scipy.optimize costs a sixth of a second at start-up
        from scipy.optimize import Bounds, LinearConstraint, milp

        with quiet_stdout():
            res = milp(
                -self.c,
                constraints=LinearConstraint(A, lo, hi),
                integrality=self.integrality,
                bounds=Bounds(self.lower, self.upper),
                # HiGHS' presolve (scipy 1.17) was seen to return a worse plan as optimal
                options=options,
            )
        if res.status == 2:  # infeasible: no plan left within the budget
            return None
        if res.x is None:
            if res.status == 1:  # out of time before a first plan
                return None
            raise EngineError(f"the portfolio program could not be solved: {res.message}")
        lam = res.x[: self.M * self.K].reshape(self.M, self.K)
        choice = np.argmax(np.where(self.valid, lam, -1.0), axis=1).astype(np.int64)
        complete = res.status == 0
        gap = 0.0 if complete else float(getattr(res, "mip_gap", np.inf) or np.inf)
        return choice, -float(res.fun), complete, gap


def _build(
    program: MomentProgram, a: Array, W: Array, d0: Array, hik: Array, lo: Array, constant: float
) -> _Model:
    """Rows and bounds of the reduced program (variables: λ, then per block d and y)."""
    B, M, K = a.shape
    valid = program.valid
    n_lam = M * K
    per_block = M + M * K
    n = n_lam + B * per_block
    lam = np.arange(n_lam).reshape(M, K)
    d = n_lam + np.arange(B)[:, None] * per_block + np.arange(M)[None]  # (B, M)
    y = n_lam + np.arange(B)[:, None, None] * per_block + M + lam[None]  # (B, M, K)
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    vals: list[Array] = []
    lo_r: list[Array] = []
    hi_r: list[Array] = []
    r = 0

    def add(r_idx: NDArray[Any], c_idx: NDArray[Any], v: NDArray[Any]) -> None:
        rows.append(np.asarray(r_idx, dtype=np.int64).ravel())
        cols.append(np.asarray(c_idx, dtype=np.int64).ravel())
        vals.append(np.asarray(v, dtype=float).ravel())

    # one option per moment
    mm, kk = np.nonzero(valid)
    add(r + mm, lam[mm, kk], np.ones(len(mm)))
    lo_r.append(np.ones(M))
    hi_r.append(np.ones(M))
    r += M
    if program.budget is not None:
        add(np.full(len(mm), r), lam[mm, kk], program.rel_cost[mm, kk])
        lo_r.append(np.array([-np.inf]))
        hi_r.append(np.array([program.budget - float(program.cost[:, 0].sum())]))
        r += 1
    for b in range(B):
        # balance: d_m − Σ W[m, m', k] y_m'k = d0_m
        nz_m, nz_m2, nz_k = np.nonzero(W[b] * valid[None])
        add(r + np.arange(M), d[b], np.ones(M))
        add(r + nz_m, y[b, nz_m2, nz_k], -W[b, nz_m, nz_m2, nz_k])
        lo_r.append(d0[b])
        hi_r.append(d0[b])
        r += M
        # Σ_k y_mk = d_m
        add(r + mm, y[b, mm, kk], np.ones(len(mm)))
        add(r + np.arange(M), d[b], -np.ones(M))
        lo_r.append(np.zeros(M))
        hi_r.append(np.zeros(M))
        r += M
        # lo_m λ_mk ≤ y_mk ≤ hi_mk λ_mk
        count = len(mm)
        at = r + np.arange(count)
        add(at, y[b, mm, kk], np.ones(count))
        add(at, lam[mm, kk], -hik[b, mm, kk])
        lo_r.append(np.full(count, -np.inf))
        hi_r.append(np.zeros(count))
        r += count
        at = r + np.arange(count)
        add(at, y[b, mm, kk], np.ones(count))
        add(at, lam[mm, kk], -lo[b, mm])
        lo_r.append(np.zeros(count))
        hi_r.append(np.full(count, np.inf))
        r += count
    A = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n)
    )
    c = np.zeros(n)
    c[y[:, mm, kk]] = a[:, mm, kk]
    c[lam[mm, kk]] -= program.penalty * program.rel_cost[mm, kk]
    lower = np.full(n, -np.inf)
    upper = np.full(n, np.inf)
    lower[:n_lam] = 0.0
    upper[:n_lam] = np.where(valid, 1.0, 0.0).ravel()
    lower[d] = lo
    upper[d] = hik.max(axis=2, where=valid[None], initial=-np.inf)
    integrality = np.zeros(n)
    integrality[:n_lam] = 1
    # the objective is the plan's gain over option 0 everywhere; the constant makes it whole
    return _Model(
        c,
        A,
        np.concatenate(lo_r),
        np.concatenate(hi_r),
        lower,
        upper,
        integrality,
        M,
        K,
        valid,
        constant,
    )
