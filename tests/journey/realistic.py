"""Journeys as real logs record them, with planted truth.

A health-check pathway (invite, booking, appointment, test, results, follow-up)
walked by each case one state at a time, first-order in its moment states, so a
journey chain *can* be right; what makes it hard is how the log records it,
the way BPI 2012 and the no-show data do:

- **journeys go on after the outcome**: after the follow-up (the outcome
  ``treated``) a quarter of the patients come back for a second round, with
  its own missed appointments and failed bookings;
- **two outcomes on one activity**: ``attended`` is ``seen`` for the patient
  and ``slot_used`` for the practice;
- **date-only days**: appointments are recorded as dates (midnight); 30% are
  booked the same day, so in time order the appointment comes first;
- **ties**: online bookings are logged at the invite's very instant, and the
  file is shuffled, so file order says nothing;
- **a break about time**: results are *late* when given more than 7 days after
  the test (no activity marks it; the model's ``broken_if`` rule must).

Segments (``band``, the loan-like ``amount`` each case carries) break the
booking at different rates. The truth of what fixing a moment recovers comes
from simulating the same process with that moment's break probability at zero,
with common random numbers (each case draws the same numbers at each step).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MOMENTS = ["invite", "booking", "appointment", "test", "results", "follow_up"]
OK = ["invite_sent", "booked", "attended", "test_done", "results_given", "follow_up_done"]
BROKEN = ["invite_bounced", "booking_failed", "dna", "test_failed", None, "follow_up_missed"]
BANDS = {"small": 0.6, "large": 0.4}
VALUE = 0.01  # money per unit of amount for a treated case


@dataclass(frozen=True)
class Process:
    """The planted probabilities (break, and what follows a break) per moment."""

    break_p: tuple[float, ...] = (0.10, 0.15, 0.30, 0.15, 0.30, 0.20)
    booking_break_large: float = 0.35
    retry: tuple[float, ...] = (0.5, 0.5, 0.0, 0.6, 0.0, 0.5)
    back: tuple[float, ...] = (0.0, 0.0, 0.5, 0.0, 0.0, 0.0)  # dna: back to booking
    leave_after_late: float = 0.4
    leave_after_results: float = 0.05
    second_round: float = 0.25
    tie: float = 0.2  # online bookings, logged at the invite's instant
    same_day: float = 0.3
    reward_ok: tuple[float, ...] = (0.0, 0.2, 0.5, 0.1, 0.3, 0.4)
    reward_broken: tuple[float, ...] = (-0.2, -0.5, -1.0, -0.3, -1.2, -0.6)
    intercept: float = 5.0
    noise: float = 1.0


SERVICE = f"""
version: 1
name: Health check (realistic log)
moments:
  - {{id: invite, reached: [invite_sent, invite_bounced], broken: [invite_bounced]}}
  - {{id: booking, reached: [booked, booking_failed], broken: [booking_failed]}}
  - {{id: appointment, reached: [attended, dna], broken: [dna]}}
  - {{id: test, reached: [test_done, test_failed], broken: [test_failed]}}
  - id: results
    reached: [results_given]
    broken_if: {{waited_over: 7d, since: [test_done]}}
  - {{id: follow_up, reached: [follow_up_done, follow_up_missed], broken: [follow_up_missed]}}
outcomes:
  - {{id: seen, perspective: user, reached: [attended]}}
  - {{id: slot_used, perspective: provider, reached: [attended]}}
  - {{id: treated, perspective: provider, reached: [follow_up_done], value: {VALUE},
     value_column: amount}}
  - {{id: satisfaction, perspective: user, column: satisfaction}}
segments: [band]
analysis: {{bootstrap: 40}}
"""


def simulate(
    n: int, seed: int, *, fix: int | None = None, events: bool = False, p: Process = Process()
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Cases (band, amount, seen, treated, satisfaction) and, optionally, their events.

    ``fix``: a moment whose break probability is zero (lateness never happens
    for ``results``). Every case draws the same random numbers at every step
    whatever ``fix`` is, so differences are not noise.
    """
    rng = np.random.default_rng(seed)
    band = np.where(rng.random(n) < BANDS["small"], 0, 1)
    amount = np.where(band == 0, rng.uniform(5_000, 10_000, n), rng.uniform(20_000, 40_000, n))
    start = rng.integers(0, 300, n).astype(float) + 9 / 24 + rng.random(n) * 0.25
    brk = np.tile(np.array(p.break_p), (n, 1))
    brk[band == 1, 1] = p.booking_break_large
    if fix is not None:
        brk[:, fix] = 0.0
    pos = np.zeros(n, dtype=np.int64)
    alive = np.ones(n, dtype=bool)
    t = start.copy()
    day = np.zeros(n)  # the appointment's date (days)
    booked_at = np.zeros(n)
    seen = np.zeros(n, dtype=bool)
    treated = np.zeros(n, dtype=bool)
    score = p.intercept + rng.normal(0.0, p.noise, n)
    log: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (cases, times, activity codes)
    names = [*OK, *[b for b in BROKEN if b]]
    code = {a: i for i, a in enumerate(names)}

    def record(cases: np.ndarray, times: np.ndarray, activity: str) -> None:
        if events and len(cases):
            log.append((cases, times.copy(), np.full(len(cases), code[activity])))

    for _ in range(120):
        if not alive.any():
            break
        u = rng.random((n, 6))  # every case draws, alive or not: common random numbers
        here, live = pos.copy(), alive.copy()  # one move per case and step
        for m in range(6):
            at = np.flatnonzero(live & (here == m))
            if not len(at):
                continue
            broke = u[at, 0] < brk[at, m]
            score[at] += np.where(broke, p.reward_broken[m], p.reward_ok[m])
            ok_i, br_i = at[~broke], at[broke]
            if m == 2:  # the appointment: a date, not a time
                record(ok_i, day[ok_i], "attended")
                record(br_i, day[br_i], "dna")
                seen[ok_i] = True
            elif m == 4:
                # late (a break about time) or not, the same activity: only the wait since
                # the test tells, over 7 days or within 6.9
                t[at] += np.where(broke, 7.05 + 10 * u[at, 5], 0.5 + 6.4 * u[at, 5])
                record(at, t[at], "results_given")
            else:
                record(ok_i, t[ok_i], OK[m])
                record(br_i, t[br_i], str(BROKEN[m]))
            # after a break: retry, go back, or leave
            r = u[br_i, 1]
            retry = r < p.retry[m]
            back = (~retry) & (r < p.retry[m] + p.back[m])
            if m == 4:  # late results: some give up, the rest go on to the follow-up
                leave = r < p.leave_after_late
                retry = back = np.zeros(len(br_i), dtype=bool)
                on = ~leave
            else:
                leave = ~(retry | back)
                on = np.zeros(len(br_i), dtype=bool)
            alive[br_i[leave]] = False
            again = br_i[retry]
            t[again] += 0.5 + 1.5 * u[again, 2]
            rebook = br_i[back]  # a missed appointment: book again, a day or more later
            pos[rebook] = 1
            t[rebook] = day[rebook] + 1 + 4 * u[rebook, 2] + 9 / 24
            go = np.concatenate([br_i[on], ok_i]) if m == 4 else ok_i
            _move_on(m, go, u, p, pos, alive, t, day, booked_at, treated)
    cases = pd.DataFrame(
        {
            "case_id": [f"c{i:07d}" for i in range(n)],
            "band": np.where(band == 0, "small", "large"),
            "amount": amount.round(2),
            "seen": seen.astype(int),
            "treated": treated.astype(int),
            "satisfaction": score,
        }
    )
    if not events:
        return cases, None
    who = np.concatenate([c for c, _, _ in log])
    when = np.concatenate([w for _, w, _ in log])
    what = np.concatenate([a for _, _, a in log])
    base = np.datetime64("2024-01-01T00:00:00")
    stamps = base + np.round(when * 86400).astype("timedelta64[s]")
    frame = pd.DataFrame(
        {
            "case_id": np.asarray(cases["case_id"])[who],
            "activity": np.asarray(names)[what],
            "timestamp": pd.Series(stamps).dt.strftime("%Y-%m-%dT%H:%M:%S"),
        }
    )
    # the export is in no useful order: ties cannot be read from the file
    return cases, frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _move_on(
    m: int,
    go: np.ndarray,
    u: np.ndarray,
    p: Process,
    pos: np.ndarray,
    alive: np.ndarray,
    t: np.ndarray,
    day: np.ndarray,
    booked_at: np.ndarray,
    treated: np.ndarray,
) -> None:
    """Cases that passed (or went on from) moment ``m``: on to the next moment, with times."""
    if m == 0:  # invited: book online at once (a tie) or within three days
        online = u[go, 3] < p.tie
        t[go] += np.where(online, 0.0, 0.1 + 3 * u[go, 2])
    elif m == 1:  # booked: an appointment on the same day or up to two weeks on
        booked_at[go] = t[go]
        lead = np.where(u[go, 3] < p.same_day, 0, 1 + np.floor(14 * u[go, 4]))
        day[go] = np.floor(t[go]) + lead
        # the test follows the appointment on its day, after the booking
        t[go] = np.maximum(booked_at[go], day[go] + 8 / 24) + (1 + 2 * u[go, 2]) / 24
    elif m == 4:  # results given: some leave, the rest get a follow-up
        stay = u[go, 3] >= p.leave_after_results
        alive[go[~stay]] = False
        go = go[stay]
        t[go] += 1 + 9 * u[go, 2]
    elif m == 5:  # treated: a quarter come back for a second round months later
        treated[go] = True
        again = u[go, 3] < p.second_round
        alive[go[~again]] = False
        back = go[again]
        pos[back] = 1
        t[back] += 30 + 60 * u[back, 2]
        return
    pos[go] += 1


def truth(n: int = 1_000_000, seed: int = 99) -> dict[str, dict[str, float]]:
    """Planted recoverable of each moment per outcome: fixed minus as is, simulated."""
    base, _ = simulate(n, seed)

    def means(c: pd.DataFrame) -> dict[str, float]:
        return {
            "seen": float(c["seen"].mean()),
            "slot_used": float(c["seen"].mean()),
            "treated": float(c["treated"].mean()),
            "treated_money": float((VALUE * c["amount"] * c["treated"]).mean()),
            "satisfaction": float(c["satisfaction"].mean()),
        }

    now = means(base)
    out: dict[str, dict[str, float]] = {"observed": now}
    for i, m in enumerate(MOMENTS):
        fixed, _ = simulate(n, seed, fix=i)
        after = means(fixed)
        out[m] = {k: after[k] - now[k] for k in now}
    return out
