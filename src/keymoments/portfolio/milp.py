"""The chain itself as a mixed-integer linear program: exact portfolio choice by HiGHS.

Why this is exact, not an approximation. The expected visits ``v`` of an
absorbing chain solve the linear balance equations ``v = s + Qᵀv``. An
intervention changes only the split of the flow arriving at its moment
between ``m:ok`` and ``m:broken``: row ``r`` sends ``P[r, broken]·F`` (capped
at the row's flow into the moment) instead of ``P[r, broken]``. At each
moment with candidates, the plan picks exactly one *option* (a subset of that
moment's interventions, with its exact combined factor: binary ``λ_k``,
``Σ λ_k = 1``), so the flow into the broken state is
``Σ_r Σ_k b_rk · (λ_k v_r)``, a sum of products of a binary and a visit count.
Each product gets its own variable ``y_rk`` with ``Σ_k y_rk = v_r`` and
``0 ≤ y_rk ≤ U_r λ_k`` (``U_r`` a valid bound on ``v_r``): at every integer
``λ`` this forces ``y_rk = v_r`` for the chosen option and 0 for the others,
so the constraints are exactly the balance equations of the changed chain.
Binary outcomes are visits to their marker state in a copy of the chain where
the marker absorbs (so a visit is the probability of ever reaching it);
numeric outcomes are rewards per visit; segments are separate blocks sharing
``λ``, weighted by their shares. Every integer point of the program is a plan
and its objective there *is* the plan's exact value on the chain, so the
program's optimum, which HiGHS proves (relative gap 1e-9), is the best plan:
interactions between moments (fixing an early moment sends more people to a
later one) and between interventions on one moment are in the constraints,
not approximated.

``U_r`` comes from one linear program per block that maximises total visits
when every row may mix its options freely, a relaxation of every plan.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from keymoments.errors import EngineError
from keymoments.journey.kernel import solve_values
from keymoments.portfolio.chain import ChainModel
from keymoments.portfolio.interventions import Option

__all__ = ["ChainProgram", "Solution", "quiet_stdout"]

Array = NDArray[np.float64]
_FALLBACK_BOUND = 1e4
MIP_GAP = 1e-6


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence the solver's C-level prints (some HiGHS builds print a debug line)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 (embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(devnull)
        os.close(saved)


@dataclass
class Solution:
    """One plan found by the program: the option chosen at each moment, and its objective."""

    choice: dict[int, int]  # moment index -> option position
    objective: float


@dataclass
class _Block:
    offset: int  # first variable of the block (its visits)
    n_vars: int
    P: Array  # the block's transition probabilities (from, to)


class ChainProgram:
    """The portfolio program for one chain, valuation and list of options.

    Args:
        chain: the fitted chains.
        options: per moment index, its options (the empty one included).
        money: money per year per unit of each outcome per case (O,).
        net: subtract each option's cost from the objective.
        budget: the most the chosen options may cost together (``None``: no limit).
    """

    def __init__(
        self,
        chain: ChainModel,
        options: dict[int, list[Option]],
        money: Array,
        *,
        net: bool = False,
        budget: float | None = None,
    ) -> None:
        self.chain = chain
        self.options = {m: list(opts) for m, opts in sorted(options.items())}
        self.money = np.asarray(money, dtype=float)
        self.net = net
        self.budget = budget
        self._build()

    # -- assembly -----------------------------------------------------------------

    def _build(self) -> None:
        chain = self.chain
        space = chain.space
        S = chain.n_states
        self.lam_index: dict[tuple[int, int], int] = {}
        n = 0
        for m, opts in self.options.items():
            for k in range(len(opts)):
                self.lam_index[(m, k)] = n
                n += 1
        self.n_lam = n
        rows: list[NDArray[np.int64]] = []
        cols: list[NDArray[np.int64]] = []
        vals: list[Array] = []
        lo: list[float] = []
        hi: list[float] = []
        objective: list[tuple[int, float]] = []
        bounded: list[tuple[int, int, int, int]] = []  # (y var, lam var, block, row)
        blocks: list[_Block] = []
        row = 0

        def add(r: int, c: Sequence[int] | NDArray[np.int64], v: Sequence[float] | Array) -> None:
            c_arr = np.asarray(c, dtype=np.int64)
            rows.append(np.full(len(c_arr), r, dtype=np.int64))
            cols.append(c_arr)
            vals.append(np.asarray(v, dtype=float))

        # one block per chain and segment that carries money (ChainModel.blocks)
        for view, g, coef in chain.blocks(self.money):
            P = chain.views[view][g]
            block_start = n
            v = np.arange(block_start, block_start + S)
            n += S
            # standard balance: v_j - sum_r Q[r, j] v_r = start_j
            A = np.eye(S) - P[1:, :S].T
            rhs = P[0, :S].copy()
            ys: list[tuple[int, int, int, int]] = []  # (moment, row, option, var)
            for m, opts in self.options.items():
                for ok, broken in space.pairs(m):  # every history's copy
                    feeders = np.flatnonzero(P[:, broken] > 0)
                    for r in feeders.tolist():
                        pb, po = P[r, broken], P[r, ok]
                        new_b = [min(o.factor * pb, pb + po) for o in opts]
                        new_o = [pb + po - b for b in new_b]
                        if r == 0:
                            rhs[ok] -= po
                            rhs[broken] -= pb
                            lam = [self.lam_index[(m, k)] for k in range(len(opts))]
                            # the start row's flow into the moment: sum_k new * lam_k
                            add(row + ok, lam, [-x for x in new_o])
                            add(row + broken, lam, [-x for x in new_b])
                            continue
                        A[ok, r - 1] += po
                        A[broken, r - 1] += pb
                        for k in range(len(opts)):
                            ys.append((m, int(r), k, n))
                            add(row + ok, [n], [-new_o[k]])
                            add(row + broken, [n], [-new_b[k]])
                            n += 1
            nz = np.nonzero(A)
            add_rows = row + nz[0]
            rows.append(add_rows.astype(np.int64))
            cols.append((block_start + nz[1]).astype(np.int64))
            vals.append(A[nz])
            lo.extend(rhs.tolist())
            hi.extend(rhs.tolist())
            row += S
            # linking: sum_k y_mrk = v_r for each moment m and feeding row r
            groups: dict[tuple[int, int], list[int]] = {}
            for m, r, k, var in ys:
                groups.setdefault((m, r), []).append(var)
                bounded.append((var, self.lam_index[(m, k)], len(blocks), r))
            for (_m, r), vars_ in groups.items():
                add(row, [*vars_, block_start + r - 1], [1.0] * len(vars_) + [-1.0])
                lo.append(0.0)
                hi.append(0.0)
                row += 1
            objective.extend(zip(v.tolist(), coef.tolist(), strict=True))
            blocks.append(_Block(offset=block_start, n_vars=n - block_start, P=P))
        self.n_vars = n
        # one option per moment
        for m, opts in self.options.items():
            add(row, [self.lam_index[(m, k)] for k in range(len(opts))], [1.0] * len(opts))
            lo.append(1.0)
            hi.append(1.0)
            row += 1
        costs = np.zeros(n)
        for (m, k), var in self.lam_index.items():
            costs[var] = self.options[m][k].cost
        self.costs = costs
        if self.budget is not None:
            add(row, np.arange(self.n_lam), costs[: self.n_lam])
            lo.append(-np.inf)
            hi.append(float(self.budget))
            row += 1
        self._rows, self._cols, self._vals = rows, cols, vals
        self._lo, self._hi = lo, hi
        self._n_rows = row
        c = np.zeros(n)
        for var, coef_v in objective:
            c[var] += coef_v
        if self.net:
            c -= costs
        self.c = c
        self.blocks = blocks
        self._bounded = bounded
        self._add_bounds()

    def _matrix(self, n_rows: int) -> sp.csr_matrix:
        return sp.csr_matrix(
            (np.concatenate(self._vals), (np.concatenate(self._rows), np.concatenate(self._cols))),
            shape=(n_rows, self.n_vars),
        )

    def _add_bounds(self) -> None:
        """Visit bounds U per block and feeding state, then y <= U * lambda."""
        bounds = [self._visit_bounds(block.P) for block in self.blocks]
        self.visit_bound = bounds
        row = self._n_rows
        for var, lam, b, r in self._bounded:
            self._rows.append(np.array([row, row], dtype=np.int64))
            self._cols.append(np.array([var, lam], dtype=np.int64))
            self._vals.append(np.array([1.0, -bounds[b][r - 1]]))
            self._lo.append(-np.inf)
            self._hi.append(0.0)
            row += 1
        self._n_rows = row

    def _visit_bounds(self, P: Array) -> Array:
        """The most expected visits each state can get when every row picks its options freely.

        A relaxation of every plan (a plan uses one option per moment in all rows),
        so a valid bound. It is a Markov decision problem per target state, solved
        exactly by policy iteration: evaluate a policy by one linear solve, switch
        each row to its best option, stop when no row changes.
        """
        space = self.chain.space
        S = self.chain.n_states
        # per (row, moment): the option flows (b', o') into broken/ok
        choices: list[tuple[int, int, int, Array, Array]] = []
        base = P.copy()
        for m, opts in self.options.items():
            for ok, broken in space.pairs(m):  # every history's copy
                for r in np.flatnonzero(P[:, broken] > 0).tolist():
                    pb, po = P[r, broken], P[r, ok]
                    new_b = np.array([min(o.factor * pb, pb + po) for o in opts])
                    choices.append((r, ok, broken, new_b, pb + po - new_b))
                    base[r, ok] = base[r, broken] = 0.0
        bound = np.full(S, _FALLBACK_BOUND)
        eye = np.eye(S)
        for target in range(S):
            policy = [0] * len(choices)  # option 0: no intervention, the fitted chain
            W: Array | None = None
            for _ in range(50):
                Q = base[:, :S].copy()
                for (r, ok, broken, nb, no), k in zip(choices, policy, strict=True):
                    Q[r, broken] += nb[k]
                    Q[r, ok] += no[k]
                try:
                    W = solve_values(Q[1:], eye[:, target])
                except np.linalg.LinAlgError:
                    W = None
                if W is None or not np.all(np.isfinite(W)) or W.min() < -1e-9:
                    W = None  # a trapping mixture: keep the fallback bound
                    break
                changed = False
                for c, (_r, ok, broken, nb, no) in enumerate(choices):
                    gain = nb * W[broken] + no * W[ok]
                    best = int(np.argmax(gain))
                    if gain[best] > gain[policy[c]] + 1e-12 * max(1.0, abs(gain[best])):
                        policy[c] = best
                        changed = True
                if not changed:
                    break
            if W is None:
                continue
            # visits from the start row, its own options at their best
            start = base[0, :S] @ W
            for r, ok, broken, nb, no in choices:
                if r == 0:
                    start += float(np.max(nb * W[broken] + no * W[ok]))
            bound[target] = max(float(start), 0.0) * (1 + 1e-6) + 1e-9
        return bound

    # -- solving -----------------------------------------------------------------------

    def solve(self, *, avoid: Sequence[dict[int, int]] = ()) -> Solution | None:
        """The best plan, except those in ``avoid``; ``None`` if no plan is left."""
        rows, cols, vals = list(self._rows), list(self._cols), list(self._vals)
        lo, hi = list(self._lo), list(self._hi)
        row = self._n_rows
        n_moments = len(self.options)
        for plan in avoid:
            if not n_moments:
                return None
            chosen = [self.lam_index[(m, k)] for m, k in plan.items()]
            rows.append(np.full(len(chosen), row, dtype=np.int64))
            cols.append(np.asarray(chosen, dtype=np.int64))
            vals.append(np.ones(len(chosen)))
            lo.append(-np.inf)
            hi.append(n_moments - 1.0)
            row += 1
        if not n_moments:
            return Solution(choice={}, objective=0.0)
        A = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(row, self.n_vars),
        )
        integrality = np.zeros(self.n_vars)
        integrality[: self.n_lam] = 1
        upper = np.full(self.n_vars, np.inf)
        upper[: self.n_lam] = 1.0
        # imported here: scipy.optimize costs a sixth of a second at start-up
        from scipy.optimize import Bounds, LinearConstraint, milp

        with quiet_stdout():
            res = milp(
                -self.c,
                constraints=LinearConstraint(A, np.array(lo), np.array(hi)),
                integrality=integrality,
                bounds=Bounds(np.zeros(self.n_vars), upper),
                # HiGHS' presolve (scipy 1.17) was seen to return a worse plan as optimal
                # on the car example (and prints a debug line); the program is small
                options={"mip_rel_gap": MIP_GAP, "presolve": False},
            )
        if res.status == 2:  # infeasible: every plan left is over budget or excluded
            return None
        if res.x is None:
            raise EngineError(f"the portfolio program could not be solved: {res.message}")
        choice = {}
        for m, opts in self.options.items():
            ks = [res.x[self.lam_index[(m, k)]] for k in range(len(opts))]
            choice[m] = int(np.argmax(ks))
        return Solution(choice=choice, objective=-float(res.fun))
