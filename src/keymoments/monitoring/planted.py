"""A service with a change on a known date, and logs with the change's effect planted.

A small clinic: the invitation, booking, the appointment and the results. A
text reminder goes live on ``change_date`` and lowers the share of
appointments missed from ``break_before`` to ``break_after`` for every
appointment *on or after* that date (a visit's date decides, whenever its case
began). A missed appointment is rebooked with probability ``rebook``, else the
case ends; an attended one has its results shared (90%), which completes the
check. Satisfaction (a cases column) is 6, plus 2 for a completed check, minus
1 per missed appointment, plus noise. The log ends ``weeks`` after its start,
so the last cases are cut short, as in a real export.

Everything the monitor should find is in :attr:`Rollout.truth`, worked out
from the process itself (not simulated): the change in the break rate, and
in each outcome per case between a journey wholly before and one wholly after
the change.

Example:
    >>> ex = simulate_rollout(weeks=20, cases_per_week=40, seed=3)
    >>> ex.truth["step"]
    -0.12
    >>> round(ex.truth["outcomes"]["check_completed"], 4)
    0.0694
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from keymoments.model import Service, parse_service

__all__ = ["Rollout", "rollout_truth", "simulate_rollout"]

_INVITE_BREAK = 0.05
_BOOKING_BREAK = 0.08
_RESULTS_BREAK = 0.10
_MAX_ATTEMPTS = 30
_DAY = 86400.0

_MODEL = """\
version: 1
name: Clinic reminders
volume: 50000
moments:
  - {{id: invitation, stage: Invite, reached: [invitation_sent, invitation_returned],
     broken: [invitation_returned]}}
  - {{id: booking, stage: Book, reached: [booking_made, booking_failed], broken: [booking_failed]}}
  - {{id: appointment, name: Attend the appointment, stage: Attend,
     reached: [appointment_attended, appointment_dna], broken: [appointment_dna]}}
  - {{id: results, stage: After, reached: [results_shared, results_not_shared],
     broken: [results_not_shared]}}
outcomes:
  - {{id: check_completed, perspective: provider, reached: [check_completed], value: 150}}
  - {{id: satisfaction, perspective: user, column: satisfaction}}
interventions:
  - {{id: sms_reminder, name: Text reminder, moment: appointment, effect: {effect},
     effect_range: [{effect_lo}, {effect_hi}], cost: 2000}}
changes:
  - {{id: sms_go_live, name: Text reminders go live, date: {date}, intervention: sms_reminder}}
"""


@dataclass
class Rollout:
    """A generated log with a planted change: the model, events, cases and the truth."""

    service: Service
    events: pd.DataFrame
    cases: pd.DataFrame
    truth: dict[str, Any] = field(default_factory=dict)


def _attend(p: float, rebook: float) -> float:
    """Probability that an appointment is eventually attended (rebooking after misses)."""
    return (1 - p) / (1 - p * rebook)


def rollout_truth(break_before: float, break_after: float, rebook: float) -> dict[str, Any]:
    """The planted process's figures: break rates, and each outcome before and after.

    >>> round(rollout_truth(0.3, 0.18, 0.4)["outcome_before"]["check_completed"], 4)
    0.6257
    """
    reach = (1 - _INVITE_BREAK) * (1 - _BOOKING_BREAK)

    def outcomes(p: float) -> dict[str, float]:
        completed = reach * _attend(p, rebook) * (1 - _RESULTS_BREAK)
        missed = reach * p / (1 - p * rebook)
        return {"check_completed": completed, "satisfaction": 6 + 2 * completed - missed}

    before, after = outcomes(break_before), outcomes(break_after)
    return {
        "break_before": break_before,
        "break_after": break_after,
        "step": round(break_after - break_before, 12),
        "outcome_before": before,
        "outcome_after": after,
        "outcomes": {k: after[k] - before[k] for k in before},
    }


def simulate_rollout(
    *,
    weeks: int = 52,
    cases_per_week: int = 1000,
    change_week: int | None = None,
    break_before: float = 0.30,
    break_after: float = 0.18,
    rebook: float = 0.4,
    start: str = "2024-01-01",
    seed: int = 0,
) -> Rollout:
    """Generate the clinic's log with the reminder going live ``change_week`` weeks in.

    ``change_week`` defaults to half way; ``start`` should be a Monday so that
    weeks line up with the log.
    """
    rng = np.random.default_rng(seed)
    origin = pd.Timestamp(start)
    change_week = weeks // 2 if change_week is None else change_week
    change_s = change_week * 7 * _DAY
    end_s = weeks * 7 * _DAY
    n = int(rng.poisson(cases_per_week * weeks))
    t0 = np.sort(rng.uniform(0, end_s, n))
    ids = np.array([f"c{i:07d}" for i in range(n)])
    rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def emit(who: np.ndarray, activity: str, at: np.ndarray) -> None:
        rows.append((who, np.full(len(who), activity, dtype=object), at))

    def day_time(at: np.ndarray) -> np.ndarray:
        # events in working hours: whole days plus 8:00 to 18:00
        return np.floor(at / _DAY) * _DAY + rng.uniform(8, 18, len(at)) * 3600

    idx = np.arange(n)
    returned = rng.random(n) < _INVITE_BREAK
    emit(idx[~returned], "invitation_sent", t0[~returned])
    emit(idx[returned], "invitation_returned", t0[returned])
    alive = idx[~returned]
    at = day_time(t0[alive] + rng.uniform(1, 4, len(alive)) * _DAY)
    failed = rng.random(len(alive)) < _BOOKING_BREAK
    emit(alive[failed], "booking_failed", at[failed])
    emit(alive[~failed], "booking_made", at[~failed])
    alive, at = alive[~failed], at[~failed]
    missed = np.zeros(n)
    at = day_time(at + rng.uniform(5, 12, len(alive)) * _DAY)
    attended_who: list[np.ndarray] = []
    attended_at: list[np.ndarray] = []
    for _ in range(_MAX_ATTEMPTS):
        if not len(alive):
            break
        p = np.where(at < change_s, break_before, break_after)
        dna = rng.random(len(alive)) < p
        emit(alive[dna], "appointment_dna", at[dna])
        emit(alive[~dna], "appointment_attended", at[~dna])
        attended_who.append(alive[~dna])
        attended_at.append(at[~dna])
        missed[alive[dna]] += 1
        again = dna & (rng.random(len(alive)) < rebook)
        alive = alive[again]
        at = day_time(at[again] + rng.uniform(3, 10, len(alive)) * _DAY)
    who = np.concatenate(attended_who) if attended_who else np.zeros(0, dtype=int)
    at = np.concatenate(attended_at) if attended_at else np.zeros(0)
    at = day_time(at + rng.uniform(1, 5, len(who)) * _DAY)
    lost = rng.random(len(who)) < _RESULTS_BREAK
    emit(who[lost], "results_not_shared", at[lost])
    emit(who[~lost], "results_shared", at[~lost])
    emit(who[~lost], "check_completed", at[~lost])
    completed = np.zeros(n)
    completed[who[~lost]] = 1.0

    case = np.concatenate([r[0] for r in rows])
    activity = np.concatenate([r[1] for r in rows])
    seconds = np.concatenate([r[2] for r in rows])
    keep = seconds < end_s  # the export is taken on the last day
    order = np.lexsort((seconds[keep], case[keep]))
    events = pd.DataFrame(
        {
            "case_id": ids[case[keep][order]],
            "activity": activity[keep][order],
            "timestamp": origin + pd.to_timedelta(np.round(seconds[keep][order]), unit="s"),
        }
    )
    satisfaction = 6 + 2 * completed - missed + rng.normal(0, 1, n)
    cases = pd.DataFrame({"case_id": ids, "satisfaction": np.round(satisfaction, 2)})
    date = (origin + pd.Timedelta(weeks=change_week)).date().isoformat()
    effect = break_after / break_before - 1
    service = parse_service(
        _MODEL.format(
            effect=round(effect, 6),
            effect_lo=round(min(effect * 1.5, -0.01), 6) if effect < 0 else round(effect / 2, 6),
            effect_hi=round(effect / 2, 6) if effect < 0 else round(effect * 1.5, 6),
            date=date,
        )
    )
    truth = rollout_truth(break_before, break_after, rebook)
    truth["change_date"] = date
    return Rollout(service=service, events=events, cases=cases, truth=truth)
