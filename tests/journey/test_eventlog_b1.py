"""The process-mining running example (validation case b1) through the journey summaries.

Each activity is its own moment, so visits are events and the waits summary is
the directly-follows graph; the absorbing chain is built from it with the two
decisions absorbing, as the case prescribes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from keymoments.data.engine import connect
from keymoments.data.readers import read_events
from keymoments.journey.chain import AbsorbingChain
from keymoments.journey.fit import JourneyData, parse_signature
from keymoments.journey.summaries import summarise_journeys
from keymoments.model import Service

DATA = Path(__file__).parents[1] / "data"
ACTIVITIES = [
    "register request",
    "examine casually",
    "examine thoroughly",
    "check ticket",
    "decide",
    "reinitiate request",
    "pay compensation",
    "reject request",
]


@pytest.fixture(scope="module")
def case() -> dict:
    (path,) = (DATA / "validation").glob("b1_*.json")
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def summary():
    service = Service.model_validate(
        {
            "version": 1,
            "name": "running example",
            "moments": [{"id": a.replace(" ", "_"), "reached": [a]} for a in ACTIVITIES],
            "outcomes": [{"id": "paid", "perspective": "user", "reached": ["pay compensation"]}],
        }
    )
    engine = connect()
    log = read_events(DATA / "running-example.xes", columns=service.columns, engine=engine)
    return summarise_journeys(log.table, service, engine)


def _activity(code: int) -> str:
    return ACTIVITIES[code // 2]


def _moment_waits(summary):
    waits = summary.waits
    n_moment_states = 2 * len(ACTIVITIES)
    inner = waits[(waits.from_code < n_moment_states) & (waits.to_code < n_moment_states)]
    return inner[inner.to_code >= 0]


def test_counts(summary, case) -> None:
    expected = case["expected"]
    assert summary.n_cases == expected["n_cases"]
    assert summary.n_events == expected["n_events"]
    dfg = _moment_waits(summary)
    assert len(dfg) == expected["n_dfg_arcs"]
    assert int(dfg.n.sum()) == expected["total_directly_follows_pairs"]
    got = {(_activity(r.from_code), _activity(r.to_code)): int(r.n) for r in dfg.itertuples()}
    want = {(a["from"], a["to"]): a["count"] for a in expected["dfg"]}
    assert got == want


def test_start_end_and_variants(summary, case) -> None:
    expected = case["expected"]
    data = JourneyData.from_summary(summary)
    moment_paths = [
        [_activity(c) for c in codes if c < 2 * len(ACTIVITIES)] for codes in data.codes
    ]
    counts = Counter()
    for path, n in zip(moment_paths, data.n, strict=True):
        counts[tuple(path)] += int(n)
    want = Counter({tuple(v["variant"]): v["count"] for v in expected["variants"]})
    assert counts == want
    assert len(counts) == expected["n_variants"]
    starts = Counter()
    ends = Counter()
    for path, n in counts.items():
        starts[path[0]] += n
        ends[path[-1]] += n
    assert dict(starts) == expected["start_activities"]
    assert dict(ends) == expected["end_activities"]
    events = Counter()
    containing = Counter()
    for path, n in counts.items():
        for a in path:
            events[a] += n
        for a in set(path):
            containing[a] += n
    assert dict(events) == expected["events_per_activity"]
    assert dict(containing) == expected["cases_containing_activity"]


def test_mean_arc_durations(summary, case) -> None:
    expected = case["expected"]["mean_arc_duration_seconds"]
    tol = case["tolerance"]["durations"]
    dfg = _moment_waits(summary)
    got = {
        f"{_activity(r.from_code)} -> {_activity(r.to_code)}": float(r.mean_s)
        for r in dfg.itertuples()
    }
    assert set(got) == set(expected)
    for arc, want in expected.items():
        assert got[arc] == pytest.approx(want, rel=tol), arc


def test_absorbing_chain_from_the_dfg(summary, case) -> None:
    expected = case["expected"]["absorbing_chain"]
    tol = case["tolerance"]["probabilities"]
    dfg = _moment_waits(summary)
    n = len(ACTIVITIES)
    counts = np.zeros((n, n))
    for r in dfg.itertuples():
        counts[r.from_code // 2, r.to_code // 2] += r.n
    absorbing = [ACTIVITIES.index("pay compensation"), ACTIVITIES.index("reject request")]
    transient = [i for i in range(n) if i not in absorbing]
    P = np.zeros((n, n))
    rows = counts[transient].sum(axis=1)
    P[transient] = counts[transient] / rows[:, None]
    for a in absorbing:
        P[a, a] = 1.0
    chain = AbsorbingChain(P, transient, absorbing, ACTIVITIES)
    pay = chain.absorption()[:, 0]
    for state, want in expected["P_success_pay_compensation_from_each_state"].items():
        assert pay[chain.index(state)] == pytest.approx(want, abs=tol)
    start = np.zeros(len(transient))
    start[chain.index("register request")] = 1.0
    visits = chain.expected_visits(start)
    for state, want in expected["expected_visits_from_register_request"].items():
        assert visits[chain.index(state)] == pytest.approx(want, abs=tol)
    steps = chain.expected_steps()
    for state, want in expected["expected_transitions_to_absorption_from_state"].items():
        assert steps[chain.index(state)] == pytest.approx(want, abs=tol)


def test_signature_codes_round_trip() -> None:
    assert parse_signature("") == []
    assert parse_signature("0.13.2") == [0, 13, 2]
