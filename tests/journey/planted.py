"""A generator of journeys with planted truth, for services unlike the demos.

A service is a sequence of moments; a case walks through them in order. At a
moment it may skip it (optional branch), break it (one of several broken
activities, sometimes after an ok-looking event of the same visit), retry it,
go back to an earlier moment, leave, or carry on. Everything depends only on
the case's segment and its current moment state, so a per-segment chain is the
right model; the *truth* of what fixing a moment recovers is measured by
simulating the same process with that moment's break probability at zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class Planted:
    moments: list[str]
    segments: dict[str, float]  # segment -> share of cases
    break_p: dict[str, list[float]]  # per segment, per moment
    retry: list[float]  # after a break: share retrying the same moment
    back: list[float]  # share going back to `back_to`
    back_to: list[int]
    leave_after_break: dict[str, list[float]]
    leave_after_ok: dict[str, list[float]]
    skip: list[float]  # optional moments: probability of skipping
    win_p: dict[str, float]  # reaching the end, probability of the binary outcome
    reward_ok: list[float]
    reward_broken: list[float]
    intercept: dict[str, float]
    noise: float = 1.0
    ok_activities: dict[str, list[str]] = field(default_factory=dict)
    broken_activities: dict[str, list[str]] = field(default_factory=dict)

    def oks(self, m: str) -> list[str]:
        return self.ok_activities.get(m, [f"{m}_done"])

    def brokens(self, m: str) -> list[str]:
        return self.broken_activities.get(m, [f"{m}_failed"])


def simulate(
    p: Planted, n: int, seed: int, *, fix: int | None = None, events: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Cases (segment, won, score) and, optionally, their events."""
    rng = np.random.default_rng(seed)
    names = list(p.segments)
    seg = rng.choice(len(names), size=n, p=np.array(list(p.segments.values())))
    n_m = len(p.moments)
    brk = np.array([p.break_p[s] for s in names])[seg]
    lab = np.array([p.leave_after_break[s] for s in names])[seg]
    lao = np.array([p.leave_after_ok[s] for s in names])[seg]
    if fix is not None:
        brk[:, fix] = 0.0
    pos = np.zeros(n, dtype=int)
    alive = np.ones(n, dtype=bool)
    won = np.zeros(n, dtype=bool)
    score = np.array([p.intercept[s] for s in names])[seg] + rng.normal(0, p.noise, n)
    log: list[tuple[int, int, str]] = []  # (case, step, activity)
    step = 0
    while alive.any() and step < 60:
        idx = np.flatnonzero(alive)
        m = pos[idx]
        u = rng.random((len(idx), 5))
        done = m >= n_m
        if done.any():
            fin = idx[done]
            won[fin] = u[done, 0] < np.array([p.win_p[names[s]] for s in seg[fin]])
            alive[fin] = False
            if events:
                log += [(c, step, "outcome_won") for c in fin[won[fin]]]
        keep = ~done
        idx, m, u = idx[keep], m[keep], u[keep]
        skipped = u[:, 0] < np.array(p.skip)[m]
        pos[idx[skipped]] += 1
        idx, m, u = idx[~skipped], m[~skipped], u[~skipped]
        broken = u[:, 1] < brk[idx, m]
        reward = np.where(broken, np.array(p.reward_broken)[m], np.array(p.reward_ok)[m])
        score[idx] += reward
        if events:
            for c, mm, b, uu in zip(idx, m, broken, u[:, 4], strict=True):
                name = p.moments[mm]
                if b:
                    acts = p.brokens(name)
                    if uu < 0.3:  # an ok-looking event first, then the failure, one visit
                        log.append((c, step, p.oks(name)[0]))
                    log.append((c, step, acts[int(uu * 7) % len(acts)]))
                else:
                    acts = p.oks(name)
                    log += [(c, step, a) for a in acts[: 1 + int(uu * len(acts))]]
        r = u[:, 2]
        retry = np.array(p.retry)[m]
        back = np.array(p.back)[m]
        leave_b = lab[idx, m]
        b_idx, b_m = idx[broken], m[broken]
        rb = r[broken]
        go_retry = rb < retry[broken]
        go_back = (~go_retry) & (rb < retry[broken] + back[broken])
        go_leave = (~go_retry) & (~go_back) & (rb < retry[broken] + back[broken] + leave_b[broken])
        pos[b_idx[go_back]] = np.array(p.back_to)[b_m[go_back]]
        alive[b_idx[go_leave]] = False
        fwd = ~(go_retry | go_back | go_leave)
        pos[b_idx[fwd]] += 1
        o_idx, o_m = idx[~broken], m[~broken]
        leave_o = u[~broken, 3] < lao[o_idx, o_m]
        alive[o_idx[leave_o]] = False
        pos[o_idx[~leave_o]] += 1
        step += 1
    cases = pd.DataFrame(
        {
            "case": [f"k{i:06d}" for i in range(n)],
            "group": np.array(names)[seg],
            "won": won.astype(int),
            "score": score,
        }
    )
    if not events:
        return cases, None
    frame = pd.DataFrame(log, columns=["case_i", "step", "activity"])
    # admin noise that marks no moment
    admin_cases = rng.choice(n, size=n // 3)
    admin = pd.DataFrame(
        {
            "case_i": admin_cases,
            "step": rng.integers(0, 5, len(admin_cases)),
            "activity": "record_updated",
        }
    )
    frame = pd.concat([frame, admin], ignore_index=True)
    frame["order"] = np.arange(len(frame))
    frame = frame.sort_values(["case_i", "step", "order"], kind="stable")
    frame["seq"] = frame.groupby("case_i").cumcount()
    base = pd.Timestamp("2025-01-01T08:00:00")
    frame["When"] = (
        base
        + pd.to_timedelta(frame["case_i"] % 300, unit="D")
        + pd.to_timedelta(frame["seq"] * 3 + rng.integers(0, 2, len(frame)), unit="h")
    ).dt.strftime("%Y-%m-%dT%H:%M:%S")
    frame["Case"] = [f"k{i:06d}" for i in frame["case_i"]]
    out = frame[["Case", "activity", "When"]].rename(columns={"activity": "Step"})
    # the export is not sorted by case
    out = out.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return cases, out


def truth(p: Planted, n: int = 200_000, seed: int = 99) -> dict[str, dict[str, float]]:
    """Planted recoverable of each moment: won share and mean score, fixed minus as is."""
    base, _ = simulate(p, n, seed)
    out: dict[str, dict[str, float]] = {}
    for i, m in enumerate(p.moments):
        fixed, _ = simulate(p, n, seed, fix=i)
        out[m] = {
            "won": float(fixed["won"].mean() - base["won"].mean()),
            "score": float(fixed["score"].mean() - base["score"].mean()),
        }
    return out


def exact_truth(p: Planted) -> dict[str, dict[str, float]]:
    """The same truth computed from the planted parameters by value iteration.

    The expected future (won, score) from each position of the walk satisfies a
    fixed point (loops: retries and going back); iterating it from zero converges
    geometrically. No data and no fitted chain are involved.
    """

    def expected(fix: int | None) -> tuple[float, float]:
        won_total = score_total = 0.0
        for s, share in p.segments.items():
            n_m = len(p.moments)
            b = np.array(p.break_p[s], dtype=float)
            if fix is not None:
                b[fix] = 0.0
            won = np.zeros(n_m + 1)
            score = np.zeros(n_m + 1)
            won[n_m] = p.win_p[s]
            for _ in range(5000):
                new_w, new_s = won.copy(), score.copy()
                for m in range(n_m - 1, -1, -1):
                    nxt_w, nxt_s = new_w[m + 1], new_s[m + 1]
                    retry, back = p.retry[m], p.back[m]
                    leave_b, leave_o = p.leave_after_break[s][m], p.leave_after_ok[s][m]
                    fwd = 1 - retry - back - leave_b
                    k = p.back_to[m]
                    after_b_w = retry * won[m] + back * won[k] + fwd * nxt_w
                    after_b_s = retry * score[m] + back * score[k] + fwd * nxt_s
                    after_o_w = (1 - leave_o) * nxt_w
                    after_o_s = (1 - leave_o) * nxt_s
                    visit_w = b[m] * after_b_w + (1 - b[m]) * after_o_w
                    visit_s = b[m] * (p.reward_broken[m] + after_b_s) + (1 - b[m]) * (
                        p.reward_ok[m] + after_o_s
                    )
                    new_w[m] = p.skip[m] * nxt_w + (1 - p.skip[m]) * visit_w
                    new_s[m] = p.skip[m] * nxt_s + (1 - p.skip[m]) * visit_s
                done = np.abs(new_w - won).max() + np.abs(new_s - score).max() < 1e-13
                won, score = new_w, new_s
                if done:
                    break
            won_total += share * won[0]
            score_total += share * (p.intercept[s] + score[0])
        return won_total, score_total

    base_w, base_s = expected(None)
    out: dict[str, dict[str, float]] = {}
    for i, m in enumerate(p.moments):
        w, s = expected(i)
        out[m] = {"won": w - base_w, "score": s - base_s}
    return out
