"""A certificate that cannot lie: every plan, or every plan the bound cannot exclude, evaluated.

The reduced program (:mod:`keymoments.portfolio.reduced`) is exact in exact
arithmetic, but a solver works to tolerances: when the bounds of a moment's
unknown are a few parts in 10⁹ apart at values of 10⁸ (a moment whose value
to go barely depends on the plan), a solver may declare the best plan
infeasible and prove the second best "optimal". So the plan reported is never
the solver's word alone:

- **At most** :data:`EXHAUSTIVE_INTERVENTIONS` **interventions** (2¹⁶ = 65,536
  plans): every plan within the budget is evaluated exactly on the full chain
  (one batched linear solve per block of plans), and the best two are the
  best two. Nothing is left to a bound.
- **Above it**: the program's best plan and runner-up are evaluated exactly on
  the full chain; then every plan whose *separable bound*
  ``g₀ + Σ_m u_m(k_m)``, with ``u_mk = Σ_blocks max(a_mk·hi_mk, a_mk·lo_m)``
  (each moment's share of the value at its own bounds, which no plan can
  exceed), reaches the runner-up's exact value is listed (a branch and bound
  over the moments) and evaluated exactly too. A plan the bound excludes is
  worth less than the runner-up, so the best two of the plans evaluated are
  the best two of all. When more than :data:`MAX_CHECKED` plans cannot be
  excluded, the plan is reported as not proven, with the number.

Example (the toy chain of :mod:`keymoments.portfolio.reduced`: every plan of three
moments, one intervention each, room for two):
    >>> import numpy as np
    >>> from keymoments.journey.fit import FittedChains
    >>> from keymoments.model import parse_service
    >>> from keymoments.portfolio.chain import ChainModel
    >>> from keymoments.portfolio.interventions import Option
    >>> from keymoments.portfolio.reduced import MomentProgram
    >>> svc = parse_service('''
    ... version: 1
    ... name: toy
    ... moments: [{id: a, reached: [a], broken: [a_x]}, {id: b, reached: [b], broken: [b_x]},
    ...           {id: c, reached: [c], broken: [c_x]}]
    ... outcomes: [{id: won, perspective: provider, reached: [won]}]
    ... ''')
    >>> P = np.zeros((1, 8, 9))
    >>> P[0, 0, [0, 1]] = [0.8, 0.2]
    >>> P[0, 1, [2, 3]] = [0.7, 0.3]
    >>> P[0, 3, [4, 5]] = [0.9, 0.1]
    >>> P[0, 5, 6] = 1.0
    >>> P[0, [2, 4, 6], 8] = 1.0
    >>> P[0, 7, 7] = 1.0
    >>> chain = ChainModel(svc, FittedChains(P, np.ones(1), {}, {}))
    >>> options = {m: [Option(m, (), 1.0, 0.0), Option(m, (m,), 0.0, 1.0)] for m in range(3)}
    >>> program = MomentProgram(chain, options, np.array([100.0]), budget=2)
    >>> choices = all_choices(program)
    >>> len(choices)                   # 8 plans, 7 within the budget
    7
    >>> plan_values(program, choices).round(2).tolist()
    [50.4, 56.0, 72.0, 80.0, 63.0, 70.0, 90.0]
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from keymoments.portfolio.reduced import MomentProgram

__all__ = [
    "CHECK_SECONDS",
    "EXHAUSTIVE_INTERVENTIONS",
    "MAX_CHECKED",
    "all_choices",
    "not_excluded",
    "option_bounds",
    "plan_values",
]

Array = NDArray[np.float64]
Choices = NDArray[np.int64]

# Up to this many interventions every plan is evaluated on the full chain (2^16 plans:
# about a second for 20 moments; see docs/portfolio.md).
EXHAUSTIVE_INTERVENTIONS = 16
# Above it, at most this many plans the bound cannot exclude are evaluated exactly.
MAX_CHECKED = 4_096
# and the check stops after this many seconds (the plan then rests on the program's proof).
CHECK_SECONDS = 0.5
# Plans evaluated in one batch of linear solves (a few tens of MB for 40 states).
_CHUNK = 1024
# Visits beyond this (or below zero) mean the plan's chain could trap journeys.
_TRAPPED = 1e9


def n_interventions(program: MomentProgram) -> int:
    """The distinct interventions the program chooses among."""
    return len({p for opts in program.option_lists.values() for o in opts for p in o.members})


def within_budget(program: MomentProgram, extra: Array) -> NDArray[np.bool_]:
    """Whether plans whose options cost ``extra`` over the cheapest ones fit the budget."""
    if program.budget is None:
        return np.ones(len(extra), dtype=bool)
    room = program.budget - float(program.cost[:, 0].sum())
    return np.asarray(extra <= room + 1e-9 * max(1.0, abs(program.budget)), dtype=bool)


def all_choices(program: MomentProgram) -> Choices:
    """Every plan within the budget: one option index per moment (plans × moments)."""
    sizes = program.valid.sum(axis=1)
    grids = np.meshgrid(*[np.arange(int(s)) for s in sizes], indexing="ij")
    choices = np.stack([g.ravel() for g in grids], axis=1).astype(np.int64)
    extra = program.rel_cost[np.arange(len(sizes))[None], choices].sum(axis=1)
    return choices[within_budget(program, extra)]


def plan_values(program: MomentProgram, choices: Choices) -> Array:
    """The exact objective of each plan on the full chain (−inf where its chain traps).

    The chains of a block of plans are solved together (``I − Q`` of each
    plan and block, only the columns of the moments with options changed from
    the fitted chain, as :func:`~keymoments.portfolio.chain.scale_breaks` does):
    value to go ``h = (I − Q)⁻¹ c`` and steps to the end ``(I − Q)⁻¹ 1`` in one
    solve. Steps from the start beyond 10⁹, or below zero, mean the plan's chain
    could trap journeys: such a plan is evaluated on its own
    (:meth:`MomentProgram.objective_of`, which releases traps the start never
    reaches, and gives −inf for the others).
    """
    choices = np.asarray(choices, dtype=np.int64).reshape(len(choices), -1)
    S = program.chain.n_states
    M = len(program.moments)
    B = program.P.shape[0]
    out = np.empty(len(choices))
    rows = np.arange(M)[None]
    pairs = [program.chain.space.pairs(m) for m in program.moments]
    base = np.eye(S)[None] - program.P[:, 1:, :S]  # (B, S, S)
    rhs = np.concatenate([program.c[..., None], np.ones((B, S, 1))], axis=2)  # (B, S, 2)
    for start in range(0, len(choices), _CHUNK):
        ch = choices[start : start + _CHUNK]
        n = len(ch)
        cost = program.cost[rows, ch].sum(axis=1)
        if B == 0:  # nothing counts as money: every plan is worth its cost alone
            out[start : start + n] = -program.penalty * cost
            continue
        A = np.broadcast_to(base, (n, *base.shape)).copy()  # (n, B, S, S)
        s = np.broadcast_to(program.P[:, 0, :S], (n, B, S)).copy()
        factor = program.factor[rows, ch]  # (n, M)
        for i in range(M):
            f = factor[:, i]
            if np.all(f == 1.0):
                continue
            for ok, broken in pairs[i]:
                into_b = program.P[:, :, broken][None]  # (1, B, F)
                into_o = program.P[:, :, ok][None]
                # the flow each row moves from broken to ok (capped as scale_breaks caps)
                moved = into_b - np.minimum(into_b * f[:, None, None], into_b + into_o)
                A[..., ok] -= moved[..., 1:]
                A[..., broken] += moved[..., 1:]
                s[..., ok] += moved[..., 0]
                s[..., broken] -= moved[..., 0]
        good = np.ones(n, dtype=bool)
        try:
            x = np.linalg.solve(A, np.broadcast_to(rhs, (n, *rhs.shape)))
            value = np.einsum("nbs,nbs->n", s, x[..., 0])
            steps = np.einsum("nbs,nbs->nb", s, x[..., 1])
            good = np.isfinite(value) & (steps.min(axis=1) >= 0) & (steps.max(axis=1) < _TRAPPED)
        except np.linalg.LinAlgError:
            value = np.full(n, np.nan)
            good[:] = False
        value = value - program.penalty * cost
        for j in np.flatnonzero(~good):
            value[j] = program.objective_of(ch[j])
        out[start : start + n] = value
    return out


def option_bounds(
    program: MomentProgram, reduced: tuple[Array, Array, Array, Array, Array, float]
) -> tuple[Array, float]:
    """Per moment and option, the most it can add to a plan's objective; and the constant.

    ``reduced`` is the reduced chain (a, W, d0, hi, lo, g0) of
    :meth:`MomentProgram._reduced`. An invalid option gets −inf.
    """
    a, _W, _d0, hik, lo, g0 = reduced
    share = np.maximum(a * hik, a * lo[:, :, None]).sum(axis=0)  # (M, K)
    # the bounds hold in exact arithmetic; a whisker for the rounding of a and d
    share = share + 1e-9 * (1.0 + np.abs(a).sum(axis=0) * np.abs(hik).max(initial=0.0))
    u = np.where(program.valid, share - program.penalty * program.rel_cost, -np.inf)
    u[:, 0] = 0.0  # option 0 is the reduced chain's own: it adds nothing
    constant = float(g0) - program.penalty * float(program.cost[:, 0].sum())
    return u, constant


def not_excluded(
    program: MomentProgram,
    u: Array,
    constant: float,
    threshold: float,
    *,
    cap: int = MAX_CHECKED,
    deadline: float | None = None,
) -> Choices | None:
    """Every plan within the budget whose bound reaches ``threshold`` (None past ``cap``).

    Branch and bound over the moments, all branches of one depth at once: a
    partial plan is dropped when its bound plus the most the moments left can
    add within the budget left falls short of the threshold, or when it is
    over the budget. The most the moments left can add is the Lagrangian bound
    of their multiple-choice knapsack, ``min_μ≥0 μ·room + Σ_m max_k (u_mk −
    μ·cost_mk)``, taken over a grid of ``μ`` (any ``μ`` gives a valid bound).
    """
    M, _ = u.shape
    finite_u = np.where(np.isfinite(u), u, 0.0)
    order = np.argsort(-finite_u.max(axis=1), kind="stable")
    cost = np.where(program.valid, program.rel_cost, 0.0)
    mus = _multipliers(u, cost) if program.budget is not None else np.zeros(1)
    # rest[d, j]: what moments order[d:] add at multiplier mus[j] (0 past the last)
    each = np.where(
        program.valid[:, :, None], u[:, :, None] - mus[None, None] * cost[:, :, None], -np.inf
    ).max(axis=1)  # (M, J)
    rest = np.zeros((M + 1, len(mus)))
    rest[:M] = np.cumsum(each[order][::-1], axis=0)[::-1]
    room = np.inf
    if program.budget is not None:
        room = program.budget - float(program.cost[:, 0].sum())
    tol = 1e-9 * (1.0 + abs(threshold)) if np.isfinite(threshold) else 0.0
    partial = np.zeros((1, 0), dtype=np.int64)
    bound = np.zeros(1)
    extra = np.zeros(1)
    for depth, m in enumerate(order):
        ks = np.flatnonzero(program.valid[m])
        new_bound = (bound[:, None] + u[m, ks][None]).ravel()
        new_extra = (extra[:, None] + cost[m, ks][None]).ravel()
        keep = within_budget(program, new_extra)
        keep &= constant + new_bound + _rest_bound(rest[depth + 1], mus, room - new_extra) >= (
            threshold - tol
        )
        parent = np.repeat(np.arange(len(partial)), len(ks))[keep]
        partial = np.concatenate([partial[parent], np.tile(ks, len(bound))[keep, None]], axis=1)
        bound, extra = new_bound[keep], new_extra[keep]
        if len(partial) > cap or (deadline is not None and time.perf_counter() > deadline):
            return None
    choices = np.empty_like(partial)
    choices[:, order] = partial
    return choices


def _multipliers(u: Array, cost: Array, n: int = 48) -> Array:
    """Multipliers worth trying: 0 and quantiles of where two options of a moment tie."""
    du = u[:, :, None] - u[:, None, :]
    dc = cost[:, :, None] - cost[:, None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        ties = du / dc
    ties = ties[np.isfinite(ties) & (ties > 0)]
    if len(ties) == 0:
        return np.zeros(1)
    return np.unique(np.concatenate([[0.0], np.quantile(ties, np.linspace(0, 1, n))]))


def _rest_bound(rest: Array, mus: Array, room: Array) -> Array:
    """min over the multipliers of μ·room + what the moments left add at μ, per node."""
    if not np.isfinite(room).all():
        return np.full(len(room), float(rest[0]))
    out = np.empty(len(room))
    for start in range(0, len(room), 16_384):
        r = np.maximum(room[start : start + 16_384], 0.0)
        out[start : start + len(r)] = (mus[None] * r[:, None] + rest[None]).min(axis=1)
    return out
