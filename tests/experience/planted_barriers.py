"""A service with correlated barriers and planted effects, unlike the demos.

Cases are booked; some reach the visit (fewer among the old and among holders
of worry ``a``, so the cases that reach it are not a random sample); a visit is
missed with a logistic chance in the segment and five barriers:

- ``a``: a strong worry (yes/no as 1/0);
- ``b``: a moderate one, with some answers missing;
- ``c``: no effect of its own, but held mostly by holders of ``a``;
- ``d``: a 1-5 agreement scale, held at 4 or 5;
- ``e``: a weak one, written "Yes"/"No".

Because the planted model is exactly logistic and the barrier distribution is
known exactly, the true attributable fractions are computed exactly
(:func:`exact_truth`), not simulated.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from keymoments.model import Service

SEGMENTS = {"young": 0.6, "old": 0.4}
INTERCEPT = {"young": -2.0, "old": -1.4}
REACH = {"young": 0.8, "old": 0.6}
REACH_IF_A = 0.85  # holders of `a` reach the visit less often (times this)
P_A = {"young": 0.25, "old": 0.35}
P_B = 0.3
P_C_GIVEN_A = (0.10, 0.70)
P_D = 0.25
P_E = {"young": 0.3, "old": 0.2}
MISSING_B = 0.02


@dataclass
class Plant:
    effects: dict[str, float] = field(
        default_factory=lambda: {"a": 1.2, "b": 0.6, "c": 0.0, "d": 0.8, "e": 0.3}
    )
    # per-segment override of barrier a's effect (for the interaction test)
    a_by_segment: dict[str, float] | None = None

    def effect(self, barrier: str, segment: str) -> float:
        if barrier == "a" and self.a_by_segment is not None:
            return self.a_by_segment[segment]
        return self.effects[barrier]


def service(by_segment: bool = False) -> Service:
    return Service.model_validate(
        {
            "version": 1,
            "name": "Planted barriers",
            "moments": [
                {"id": "booking", "reached": ["booked"]},
                {"id": "visit", "reached": ["attended", "missed"], "broken": ["missed"]},
            ],
            "outcomes": [{"id": "seen", "perspective": "provider", "reached": ["attended"]}],
            "segments": ["age_group"],
            "barriers": [
                {"id": b, "moment": "visit", "column": f"worry_{b}", "name": f"Worry {b}"}
                for b in "abcde"
            ],
            "analysis": {"barriers_by_segment": by_segment},
        }
    )


def generate(n: int, seed: int, plant: Plant | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, cases) of ``n`` cases."""
    plant = plant or Plant()
    rng = np.random.default_rng(seed)
    old = rng.random(n) < SEGMENTS["old"]
    seg = np.where(old, "old", "young")
    a = rng.random(n) < np.where(old, P_A["old"], P_A["young"])
    b = rng.random(n) < P_B
    c = rng.random(n) < np.where(a, P_C_GIVEN_A[1], P_C_GIVEN_A[0])
    d = rng.random(n) < P_D
    e = rng.random(n) < np.where(old, P_E["old"], P_E["young"])
    logit = np.where(old, INTERCEPT["old"], INTERCEPT["young"])
    for name, held in zip("abcde", (a, b, c, d, e), strict=True):
        effect = np.array([plant.effect(name, s) for s in ("young", "old")])
        logit = logit + effect[old.astype(int)] * held
    reach = rng.random(n) < np.where(old, REACH["old"], REACH["young"]) * np.where(a, REACH_IF_A, 1)
    missed = rng.random(n) < expit(logit)
    ids = np.array([f"P{i:06d}" for i in range(n)], dtype=object)
    t0 = pd.Timestamp("2024-01-01T09:30")  # a time of day: the dates are not the point here
    events = [pd.DataFrame({"case_id": ids, "activity": "booked", "timestamp": t0})]
    visit = np.where(missed, "missed", "attended")[reach]
    events.append(
        pd.DataFrame(
            {"case_id": ids[reach], "activity": visit, "timestamp": t0 + pd.Timedelta(days=3)}
        )
    )
    scale = np.where(d, rng.integers(4, 6, n), rng.integers(1, 4, n))
    worry_b = pd.array(b.astype(int), dtype="Int64")
    worry_b[rng.random(n) < MISSING_B] = pd.NA
    cases = pd.DataFrame(
        {
            "case_id": ids,
            "age_group": seg,
            "worry_a": a.astype(int),
            "worry_b": worry_b,
            "worry_c": c.astype(int),
            "worry_d": scale,
            "worry_e": np.where(e, "Yes", "No"),
        }
    )
    return pd.concat(events, ignore_index=True), cases


def exact_truth(plant: Plant | None = None) -> dict[str, float]:
    """Barrier -> the exact attributable fraction among the cases reaching the visit."""
    plant = plant or Plant()
    weights, patterns = [], []
    for s, *held in itertools.product(SEGMENTS, *([(0, 1)] * 5)):
        a, b, c, d, e = held
        pa = P_A[s] if a else 1 - P_A[s]
        pc = P_C_GIVEN_A[a] if c else 1 - P_C_GIVEN_A[a]
        pi = (
            SEGMENTS[s]
            * pa
            * (P_B if b else 1 - P_B)
            * pc
            * (P_D if d else 1 - P_D)
            * (P_E[s] if e else 1 - P_E[s])
        )
        reach = REACH[s] * (REACH_IF_A if a else 1.0)
        weights.append(pi * reach)
        patterns.append((s, dict(zip("abcde", held, strict=True))))
    w = np.array(weights)

    def rate(lifted: str | None) -> float:
        out = []
        for s, held in patterns:
            lp = INTERCEPT[s] + sum(
                plant.effect(k, s) * (0 if k == lifted else v) for k, v in held.items()
            )
            out.append(expit(lp))
        return float((w * np.array(out)).sum() / w.sum())

    now = rate(None)
    return {k: 1 - rate(k) / now for k in "abcde"}
