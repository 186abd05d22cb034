"""The physical health check for people with severe mental illness (NHS).

Nine moments from the invitation letter to the follow-up. The planted story:
the appointment is the key moment for both the patient and the practice (a
sweet spot); everything else is minor. Patients who are unwell miss the
appointment more *and* fare worse after attending, a confound that inflates the
appointment's effect when segments are pooled. Five worries drive
non-attendance through a logistic model; one of them (being seen at the
surgery) has no effect of its own but travels with one that has.

Example:
    >>> from keymoments.examples import load_health_check
    >>> ex = load_health_check(n_cases=1000, seed=3)
    >>> sorted(ex.truth.quadrant.values()).count("sweet_spot")
    1
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from keymoments.examples._comments import HEALTH_CHECK_WORRIES, write_comments
from keymoments.examples._example import Example
from keymoments.examples._generate import TRUTH_CASES, TRUTH_SEED, ExampleSpec, generate
from keymoments.examples._generate import true_recoverable as _true_recoverable
from keymoments.examples._render import EventSpec
from keymoments.examples._simulate import (
    BinaryOutcome,
    Nudge,
    NumericOutcome,
    Population,
    build_flow,
)

__all__ = ["BARRIER_EFFECTS", "SPEC", "dna_probability", "load_health_check", "true_recoverable"]

MOMENTS = (
    "invitation",
    "booking",
    "reminder",
    "getting_there",
    "waiting_room",
    "appointment",
    "tests",
    "results",
    "follow_up",
)
SEGMENTS = ("stable", "unwell")
UNWELL_SHARE = 0.35

# Log-odds of not attending (going from the reminder straight to a DNA) for a
# patient with no worries, per segment; a failed reminder adds NO_REMINDER.
DNA_LOGIT = (-2.1, -1.5)
NO_REMINDER = 0.7
# Share of attenders whose arrival and wait are not logged (they check in at the
# desk, not the kiosk): their log goes from the reminder straight to
# `appointment_attended`. Besides being true to real logs, it lets a visit-count
# model tell the appointment's own effect from the waiting room's.
DIRECT_SHARE = 0.4

# Planted log-odds effects of each worry on not attending. `seen` has none of
# its own but is held far more often by patients worried about a breakdown, so
# an unadjusted look blames it; `doctor` is ~0, so a named clinician buys little.
BARRIER_EFFECTS: dict[str, float] = {
    "transport": 1.1,
    "unwell": 0.9,
    "breakdown": 0.6,
    "doctor": 0.1,
    "seen": 0.0,
}
_COLUMN = {b: f"worry_{b}" for b in BARRIER_EFFECTS}


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def _reminder_split(p_dna: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """From the reminder: the chance of a logged appointment next, and of a DNA given one."""
    direct = p_dna + DIRECT_SHARE * (1 - p_dna)
    return direct, p_dna / direct


_DIRECT, _DNA_IF_DIRECT = _reminder_split(_sigmoid(np.array(DNA_LOGIT)))
_DIRECT_NR, _DNA_IF_DIRECT_NR = _reminder_split(_sigmoid(np.array(DNA_LOGIT) + NO_REMINDER))


def _pair(a: np.ndarray) -> tuple[float, float]:
    return float(a[0]), float(a[1])


FLOW = build_flow(
    moments=MOMENTS,
    segments=SEGMENTS,
    moves={
        "start": {"invitation": 1.0},
        "invitation:ok": {"booking": (0.85, 0.75)},
        "invitation:broken": {"booking": (0.45, 0.35)},  # they ring after a text instead
        "booking:ok": {"reminder": 1.0},
        "booking:broken": {"booking": (0.6, 0.5)},  # try again another day
        # A DNA is a move straight from the reminder to a broken appointment;
        # most attenders are logged arriving and waiting first, some are not.
        "reminder:ok": {"appointment": _pair(_DIRECT), "getting_there": _pair(1 - _DIRECT)},
        "reminder:broken": {
            "appointment": _pair(_DIRECT_NR),
            "getting_there": _pair(1 - _DIRECT_NR),
        },
        "getting_there:ok": {"waiting_room": 1.0},
        "getting_there:broken": {"waiting_room": (0.75, 0.65), "appointment": (0.2, 0.25)},
        "waiting_room:ok": {"appointment": 1.0},
        "waiting_room:broken": {"booking": (0.4, 0.3)},
        "appointment:ok": {"tests": 1.0},
        "appointment:broken": {"booking": (0.45, 0.35)},  # rebook after a DNA
        "tests:ok": {"results": 0.98},
        "tests:broken": {"results": 0.7},
        "results:ok": {"follow_up": (0.85, 0.9)},
        "results:broken": {"follow_up": 0.5},
    },
    breaks={
        "invitation": (0.04, 0.06),
        "booking": (0.05, 0.07),
        "reminder": (0.06, 0.09),
        "getting_there": (0.05, 0.08),
        "waiting_room": (0.03, 0.06),
        "tests": (0.02, 0.04),
        "results": (0.06, 0.09),
        "follow_up": (0.12, 0.20),
    },
    break_from={
        ("reminder:ok", "appointment"): _pair(_DNA_IF_DIRECT),
        ("reminder:broken", "appointment"): _pair(_DNA_IF_DIRECT_NR),
        ("getting_there:broken", "appointment"): 1.0,  # too late: turned away, a DNA
    },
)

OUTCOMES = (
    BinaryOutcome("check_completed", "tests:ok"),
    NumericOutcome(
        "experience",
        "experience_rating",
        constant=(5.9, 4.8),
        rewards={
            "invitation:broken": -0.3,
            "booking:broken": -0.5,
            "reminder:broken": -0.3,
            "getting_there:broken": -0.6,
            "waiting_room:broken": -0.8,
            "appointment:ok": 0.8,
            "appointment:broken": -0.8,
            "tests:ok": 0.5,
            "tests:broken": -0.4,
            "results:ok": 0.4,
            "results:broken": -0.7,
            "follow_up:ok": 0.3,
            "follow_up:broken": -0.5,
        },
        noise=1.0,
        low=0,
        high=10,
    ),
)


def dna_probability(cases: pd.DataFrame, *, reminded: bool = True) -> np.ndarray:
    """The planted chance that a case goes from its reminder to a DNA.

    Depends on the case's severity and worries (the cases table's columns);
    ``reminded=False`` gives the chance after a failed reminder.

    Example:
        >>> cases = pd.DataFrame({"severity": ["stable"], **{c: [0] for c in _COLUMN.values()}})
        >>> round(float(dna_probability(cases)[0]), 3)
        0.109
    """
    unwell = (cases["severity"] == "unwell").to_numpy()
    logit = np.where(unwell, DNA_LOGIT[1], DNA_LOGIT[0]) + (0 if reminded else NO_REMINDER)
    for barrier, beta in BARRIER_EFFECTS.items():
        logit = logit + beta * cases[_COLUMN[barrier]].to_numpy()
    return _sigmoid(logit)


def _population(
    unwell: np.ndarray, worries: dict[str, np.ndarray], noise: np.ndarray
) -> Population:
    """The per-case process of patients with these segments and worries."""
    offset = np.zeros(len(unwell))
    for b, beta in BARRIER_EFFECTS.items():
        offset += beta * worries[b]
    # Each case's own chance of a DNA sets both decisions out of the reminder.
    base = np.where(unwell, DNA_LOGIT[1], DNA_LOGIT[0]) + offset
    appointment = MOMENTS.index("appointment")
    nudges = []
    for source, extra in (("reminder:ok", 0.0), ("reminder:broken", NO_REMINDER)):
        direct, dna = _reminder_split(_sigmoid(base + extra))
        s = (FLOW.state(source),)
        nudges.append(Nudge(appointment, direct, kind="move", sources=s, mode="set"))
        nudges.append(Nudge(appointment, dna, kind="break", sources=s, mode="set"))
    return Population(
        segment=unwell.astype(np.int64),
        nudges=tuple(nudges),
        noise={"experience": noise},
        columns={_COLUMN[b]: worries[b].astype(np.int64) for b in sorted(BARRIER_EFFECTS)},
    )


def _draw_population(rng: np.random.Generator, n: int) -> Population:
    unwell = rng.random(n) < UNWELL_SHARE
    breakdown = rng.random(n) < np.where(unwell, 0.30, 0.15)
    worries = {
        "unwell": rng.random(n) < np.where(unwell, 0.50, 0.15),
        "transport": rng.random(n) < np.where(unwell, 0.30, 0.22),
        "breakdown": breakdown,
        # Stigma travels together: being seen and talking about a breakdown.
        "seen": rng.random(n) < np.where(breakdown, 0.60, 0.20),
        "doctor": rng.random(n) < 0.20,
    }
    return _population(unwell, worries, rng.standard_normal(n))


def _barrier_patterns() -> tuple[Population, np.ndarray]:
    """Every (severity, worries) combination with its exact probability, as drawn above."""
    rows = list(itertools.product((False, True), repeat=6))
    unwell, wu, tr, bd, seen, doc = (np.array(c) for c in zip(*rows, strict=True))

    def chance(held: np.ndarray, p: np.ndarray) -> np.ndarray:
        return np.where(held, p, 1 - p)

    prob = (
        chance(unwell, np.full(len(rows), UNWELL_SHARE))
        * chance(bd, np.where(unwell, 0.30, 0.15))
        * chance(wu, np.where(unwell, 0.50, 0.15))
        * chance(tr, np.where(unwell, 0.30, 0.22))
        * chance(seen, np.where(bd, 0.60, 0.20))
        * chance(doc, np.full(len(rows), 0.20))
    )
    worries = {"unwell": wu, "transport": tr, "breakdown": bd, "seen": seen, "doctor": doc}
    return _population(unwell, worries, np.zeros(len(rows))), prob


def _comments(population: Population, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``worries_text``: what each patient wrote when asked what worried them.

    Written from the same planted worries as the tick boxes (``worry_*``), in
    the patient's words; a quarter leave it blank.
    """
    held = {b: population.columns[_COLUMN[b]] == 1 for b in BARRIER_EFFECTS}
    return {"worries_text": write_comments(held, HEALTH_CHECK_WORRIES, rng, blank=0.25)}


def _channels() -> dict[str, tuple[tuple[str, ...], tuple[float, ...]]]:
    out: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {}
    for act in ("invitation_sent", "invitation_returned"):
        out[act] = (("letter",), (1.0,))
    for act in ("booking_made", "booking_failed"):
        out[act] = (("phone", "online", "reception"), (0.6, 0.25, 0.15))
    for act in ("reminder_sent", "reminder_failed"):
        out[act] = (("sms",), (1.0,))
    for act in (
        "arrived",
        "travel_problem",
        "waited",
        "left_waiting_room",
        "appointment_attended",
        "appointment_dna",
        "bloods_taken",
        "bp_measured",
        "bmi_recorded",
        "tests_incomplete",
    ):
        out[act] = (("clinic",), (1.0,))
    for act in ("results_shared", "results_not_shared"):
        out[act] = (("letter", "phone", "nhs_app"), (0.4, 0.35, 0.25))
    for act in ("follow_up_booked", "follow_up_missed"):
        out[act] = (("phone", "in_person"), (0.7, 0.3))
    return out


EVENTS = EventSpec(
    templates={
        "invitation:ok": ("invitation_sent",),
        "invitation:broken": ("invitation_sent", "invitation_returned"),
        "booking:ok": ("booking_made",),
        "booking:broken": ("booking_failed",),
        "reminder:ok": ("reminder_sent",),
        "reminder:broken": ("reminder_failed",),
        "getting_there:ok": ("arrived",),
        "getting_there:broken": ("travel_problem",),
        "waiting_room:ok": ("waited",),
        "waiting_room:broken": ("left_waiting_room",),
        "appointment:ok": ("appointment_attended",),
        "appointment:broken": ("appointment_dna",),
        # Several activities make one visit; the check is complete once all are done.
        "tests:ok": ("bloods_taken", "bp_measured", "bmi_recorded", "check_completed"),
        "tests:broken": ("bp_measured", "bmi_recorded", "tests_incomplete"),
        "results:ok": ("results_shared",),
        "results:broken": ("results_not_shared",),
        "follow_up:ok": ("follow_up_booked",),
        "follow_up:broken": ("follow_up_missed",),
    },
    gaps={
        "booking": ("days", 6.0),
        "reminder": ("days", 10.0),
        "getting_there": ("days", 2.5),
        "waiting_room": ("minutes", 6.0),
        "appointment": ("minutes", 12.0),
        "tests": ("minutes", 3.0),
        "results": ("days", 8.0),
        "follow_up": ("days", 14.0),
    },
    gap_from={
        ("booking", "booking"): ("days", 3.0),
        ("appointment", "booking"): ("days", 2.0),
        ("waiting_room", "booking"): ("days", 1.0),
        ("reminder", "appointment"): ("days", 2.5),
        ("getting_there", "appointment"): ("minutes", 5.0),
    },
    inner={"invitation": 5 * 24 * 60.0, "tests": 5.0},
    admin=(
        ("letter_printed", "invitation_sent", 0.9),
        ("record_updated", "appointment_attended", 0.6),
        ("record_updated", "bloods_taken", 0.3),
        ("ehr_sync", "booking_made", 0.3),
        ("letter_printed", "results_shared", 0.4),
    ),
    channels=_channels(),
)

NOTES = (
    "Physical health checks for people with severe mental illness. The appointment is "
    "the key moment for both the patient and the practice (a sweet spot): about a "
    "quarter of patients who are reminded do not attend, most of them never rebook, and "
    "attending both completes the check and lifts the overall experience. Every other "
    "moment is minor: it breaks rarely or costs little downstream. Patients who are "
    "unwell (severity = unwell, 35%) miss the appointment more and, after attending, "
    "complete the tests less and rate the service lower, so a pooled analysis "
    "overstates the appointment's effect; adjusting by severity removes the bias. "
    "Non-attendance follows a logistic model of five worries: transport (+1.1 log-odds) "
    "and feeling unwell (+0.9) are strong, having to talk about a breakdown moderate "
    "(+0.6), an unsympathetic doctor negligible (+0.1), and being seen at the surgery "
    "has no effect of its own (0.0) but is held far more often by those worried about a "
    "breakdown, so an unadjusted look wrongly blames it."
)

SPEC = ExampleSpec(
    name="health-check",
    yaml="health_check.yaml",
    prefix="HC",
    flow=FLOW,
    outcomes=OUTCOMES,
    events=EVENTS,
    segment_column="severity",
    draw_population=_draw_population,
    ratings={
        "booking": "rating_booking",
        "waiting_room": "rating_waiting_room",
        "appointment": "rating_appointment",
        "tests": "rating_tests",
        "results": "rating_results",
        "follow_up": "rating_follow_up",
    },
    rating_base=(7.4, 6.5),
    rating_penalty={"appointment": 3.0, "waiting_room": 2.5, "results": 2.5},
    mood_outcome="experience",
    key={m: {"user": m == "appointment", "provider": m == "appointment"} for m in MOMENTS},
    quadrant={m: "sweet_spot" if m == "appointment" else "minor" for m in MOMENTS},
    barrier_effects=BARRIER_EFFECTS,
    notes=NOTES,
    barrier_patterns=_barrier_patterns,
    comments=_comments,
)


def true_recoverable(
    *, seed: int = TRUTH_SEED, n_cases: int = TRUTH_CASES, cache: bool = True
) -> dict[str, dict[str, float]]:
    """The planted recoverables of the health check (see ``_generate.true_recoverable``).

    Example:
        >>> r = true_recoverable(n_cases=20_000)
        >>> r["appointment"]["check_completed"] > r["tests"]["check_completed"]
        True
    """
    return _true_recoverable(SPEC, seed=seed, n_cases=n_cases, cache=cache)


def load_health_check(n_cases: int = 20_000, seed: int = 0) -> Example:
    """The health-check example: its service model, generated events and cases, and truth.

    Example:
        >>> ex = load_health_check(n_cases=500)
        >>> ex.truth.key["appointment"]
        {'user': True, 'provider': True}
    """
    return generate(SPEC, n_cases=n_cases, seed=seed)
