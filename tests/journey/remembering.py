"""A diagnostic pathway that remembers: a missed appointment changes what happens later.

Patients are referred, attend an appointment (or miss it and rebook), are
diagnosed, come to a follow-up and start treatment (or decline it). A patient
who missed the appointment earlier (``memory=True``) is likelier to miss the
follow-up (+10 points) and to decline treatment (+30 points), long after the
appointment: a first-order chain, which knows only the moment just passed,
forgets it by then. With ``memory=False`` the same pathway has no such history
(every probability the same for all), the case a first-order chain is right for.

The truth of fixing a moment is the same process simulated with that moment's
break probability at zero, with common random numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MOMENTS = ["referral", "appointment", "diagnosis", "follow_up", "treatment"]
OK = ["referred", "attended", "diagnosed", "followed_up", "treatment_started"]
BROKEN = ["referral_rejected", "dna", "diagnosis_unclear", "follow_up_missed", "declined"]
BREAK = [0.08, 0.30, 0.12, 0.15, 0.20]
AFTER_DNA = {3: 0.10, 4: 0.30}  # extra break probability after a missed appointment
RETRY = [0.5, 0.6, 0.7, 0.5, 0.0]  # after a break: the same moment again, else leave
REWARD_OK = [0.0, 0.3, 0.2, 0.2, 0.8]
REWARD_BROKEN = [-0.2, -0.8, -0.3, -0.5, -1.0]

SERVICE = (
    """
version: 1
name: Diagnostic pathway (remembers)
moments:
"""
    + "".join(
        f"  - {{id: {m}, reached: [{ok}, {bad}], broken: [{bad}]}}\n"
        for m, ok, bad in zip(MOMENTS, OK, BROKEN, strict=True)
    )
    + """outcomes:
  - {id: treated, perspective: provider, reached: [treatment_started]}
  - {id: wellbeing, perspective: user, column: wellbeing}
"""
)


def simulate(
    n: int, seed: int, *, memory: bool = True, fix: int | None = None, events: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Cases (treated, wellbeing) and, optionally, their events (timed, in file order)."""
    rng = np.random.default_rng(seed)
    pos = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    missed = np.zeros(n, dtype=bool)  # broke the appointment earlier
    treated = np.zeros(n, dtype=bool)
    score = 5.0 + rng.normal(0.0, 1.0, n)
    t = rng.integers(0, 200, n).astype(float) + 0.4
    log: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    names = OK + BROKEN
    for _ in range(60):
        if not alive.any():
            break
        u = rng.random((n, 2))  # every case draws: common random numbers
        at = np.flatnonzero(alive)
        m = pos[at]
        p = np.array(BREAK)[m]
        if memory:
            for moment, extra in AFTER_DNA.items():
                p = np.where((m == moment) & missed[at], p + extra, p)
        if fix is not None:
            p = np.where(m == fix, 0.0, p)
        broke = u[at, 0] < p
        score[at] += np.where(broke, np.array(REWARD_BROKEN)[m], np.array(REWARD_OK)[m])
        if events:
            code = np.where(broke, len(OK) + m, m)
            log.append((at.copy(), t[at].copy(), code))
        t[at] += 1.0 + 5.0 * u[at, 1]
        missed[at[broke & (m == 1)]] = True
        again = broke & (u[at, 1] < np.array(RETRY)[m])
        alive[at[broke & ~again]] = False
        done = ~broke & (m == len(MOMENTS) - 1)
        treated[at[done]] = True
        alive[at[done]] = False
        pos[at[~broke & ~done]] += 1
    cases = pd.DataFrame(
        {
            "case_id": [f"p{i:07d}" for i in range(n)],
            "treated": treated.astype(int),
            "wellbeing": score,
        }
    )
    if not events:
        return cases, None
    who = np.concatenate([c for c, _, _ in log])
    when = np.concatenate([w for _, w, _ in log])
    what = np.concatenate([a for _, _, a in log])
    stamps = np.datetime64("2024-01-01T00:00:00") + np.round(when * 86400).astype("timedelta64[s]")
    frame = pd.DataFrame(
        {
            "case_id": np.asarray(cases["case_id"])[who],
            "activity": np.asarray(names)[what],
            "timestamp": pd.Series(stamps).dt.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )
    return cases, frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def truth(n: int = 1_000_000, seed: int = 5, *, memory: bool = True) -> dict[str, dict[str, float]]:
    """Planted recoverable of each moment (fixed minus as is), and the groups' rates."""
    base, _ = simulate(n, seed, memory=memory)
    out: dict[str, dict[str, float]] = {}
    for i, m in enumerate(MOMENTS):
        fixed, _ = simulate(n, seed, memory=memory, fix=i)
        out[m] = {
            "treated": float(fixed["treated"].mean() - base["treated"].mean()),
            "wellbeing": float(fixed["wellbeing"].mean() - base["wellbeing"].mean()),
        }
    return out
