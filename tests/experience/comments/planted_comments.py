"""Comments written from planted worries, with a planted effect of each on missing a visit.

Every case books and then attends its visit or misses it (a DNA). Five
worries are held independently, each with its own prevalence; the chance of
a DNA is logistic in them (``seen`` has no effect of its own). Each case writes
a comment from the worries it holds, in several paraphrases, with capitals,
typos and blanks (:func:`keymoments.examples._comments.write_comments`). Since
the worries are independent and the model exactly logistic, the true
attributable fractions are computed exactly over the 32 patterns.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy.special import expit

from keymoments.examples._comments import (
    HEALTH_CHECK_CODEBOOK,
    HEALTH_CHECK_WORRIES,
    write_comments,
)
from keymoments.model import Service

PREVALENCE = {"transport": 0.25, "unwell": 0.30, "seen": 0.20, "doctor": 0.15, "breakdown": 0.12}
EFFECT = {"transport": 1.1, "unwell": 0.9, "seen": 0.0, "doctor": 0.3, "breakdown": 0.6}
INTERCEPT = -2.0
BLANK = 0.15


def service(codebook: bool = True) -> Service:
    doc: dict[str, object] = {
        "version": 1,
        "name": "Planted comments",
        "moments": [
            {"id": "booking", "reached": ["booked"]},
            {"id": "visit", "reached": ["attended", "dna"], "broken": ["dna"]},
        ],
        "outcomes": [{"id": "seen_by_gp", "perspective": "provider", "reached": ["attended"]}],
        "comments": [{"id": "worries", "column": "worries_text", "moment": "visit"}],
        "analysis": {"bootstrap": 100, "seed": 1},
    }
    if codebook:
        doc["themes"] = [
            {"id": w, "name": name, "comments": "worries", "patterns": list(patterns)}
            for w, (name, patterns) in HEALTH_CHECK_CODEBOOK.items()
        ]
    return Service.model_validate(doc)


def generate(n: int = 20_000, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events (booked, then attended or dna) and cases (worries_text) of ``n`` cases."""
    rng = np.random.default_rng(seed)
    held = {w: rng.random(n) < p for w, p in PREVALENCE.items()}
    logit = INTERCEPT + sum(EFFECT[w] * held[w] for w in PREVALENCE)
    dna = rng.random(n) < expit(logit)
    ids = np.array([f"C{i:07d}" for i in range(n)], dtype=object)
    start = pd.Timestamp("2024-01-01")
    events = pd.DataFrame(
        {
            "case_id": np.repeat(ids, 2),
            "activity": np.column_stack(
                [np.full(n, "booked", dtype=object), np.where(dna, "dna", "attended")]
            ).ravel(),
            "timestamp": np.column_stack(
                [np.full(n, start), np.full(n, start + pd.Timedelta(days=7))]
            ).ravel(),
        }
    )
    text = write_comments(held, HEALTH_CHECK_WORRIES, rng, blank=BLANK, typo=0.05)
    cases = pd.DataFrame({"case_id": ids, "worries_text": text})
    return events, cases


def truth() -> dict[str, dict[str, float]]:
    """Per worry: its true prevalence and attributable fraction (exact)."""
    names = list(PREVALENCE)
    rows = np.array(list(itertools.product((0, 1), repeat=len(names))), dtype=np.float64)
    prob = np.prod(
        [np.where(rows[:, k] == 1, PREVALENCE[w], 1 - PREVALENCE[w]) for k, w in enumerate(names)],
        axis=0,
    )
    beta = np.array([EFFECT[w] for w in names])
    now = float((prob * expit(INTERCEPT + rows @ beta)).sum())
    out = {}
    for k, w in enumerate(names):
        lifted = rows.copy()
        lifted[:, k] = 0
        after = float((prob * expit(INTERCEPT + lifted @ beta)).sum())
        out[w] = {"prevalence": PREVALENCE[w], "attributable_fraction": 1 - after / now}
    return out
