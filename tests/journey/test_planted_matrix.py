"""Planted truth, second style: journeys drawn from explicit per-segment transition
matrices over moment states, two binary outcomes and a costed numeric one.

The truth of fixing a moment is simulated: the same process, with every move into
the moment's broken state sent to its ok state instead (common random numbers,
300,000 cases), compared with the process as it is.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import keymoments
from keymoments.errors import DataWarning
from keymoments.model import Service

MOMENTS = ["referral", "triage", "scan", "consult"]
# states: 0 start, 1+2i moment i ok, 2+2i moment i broken, 9 outcome "treated",
# 10 outcome "reassured", 11 end
OK = {m: 1 + 2 * i for i, m in enumerate(MOMENTS)}
BAD = {m: 2 + 2 * i for i, m in enumerate(MOMENTS)}
TREATED, REASSURED, END = 9, 10, 11
N_STATES = 12


def _matrix(worse: float) -> np.ndarray:
    """One segment's transition matrix; `worse` scales its failures and drop-outs."""
    P = np.zeros((N_STATES, N_STATES))
    P[0, OK["referral"]], P[0, BAD["referral"]] = 0.95, 0.05
    P[OK["referral"], OK["triage"]], P[OK["referral"], BAD["triage"]] = 0.9, 0.1
    P[BAD["referral"], OK["referral"]], P[BAD["referral"], END] = 0.5, 0.5
    # triage fails often and sends people back to their GP: the key moment
    P[OK["triage"], OK["scan"]], P[OK["triage"], BAD["scan"]] = 0.85, 0.15
    P[BAD["triage"], OK["referral"]] = 0.3
    P[BAD["triage"], END] = 0.7
    # a missed scan is rebooked once in a while
    P[OK["scan"], OK["consult"]], P[OK["scan"], BAD["consult"]] = 0.9 - 0.1 * worse, 0.1
    P[OK["scan"], END] = 0.1 * worse
    P[BAD["scan"], OK["scan"]], P[BAD["scan"], END] = 0.6, 0.4
    P[OK["consult"], TREATED], P[OK["consult"], REASSURED] = 0.7, 0.2
    P[OK["consult"], END] = 0.1
    P[BAD["consult"], REASSURED], P[BAD["consult"], END] = 0.1, 0.9
    P[TREATED, REASSURED], P[TREATED, END] = 0.5, 0.5
    P[REASSURED, END] = 1.0
    P[END, END] = 1.0
    # the worse segment fails triage more
    P[OK["referral"], OK["triage"]] -= 0.15 * worse
    P[OK["referral"], BAD["triage"]] += 0.15 * worse
    assert np.allclose(P.sum(axis=1), 1.0)
    return P


SEGMENTS = {"urgent": (0.3, _matrix(1.0)), "routine": (0.7, _matrix(0.0))}
COST = {s: 0.0 for s in range(N_STATES)}
COST.update(
    {
        OK["scan"]: 300.0,
        BAD["scan"]: 80.0,
        OK["consult"]: 150.0,
        BAD["triage"]: 40.0,
        TREATED: 900.0,
    }
)


def _simulate(n: int, seed: int, fix: str | None = None, events: bool = False):
    rng = np.random.default_rng(seed)
    names = list(SEGMENTS)
    seg = rng.choice(len(names), size=n, p=[SEGMENTS[s][0] for s in names])
    mats = np.stack([SEGMENTS[s][1] for s in names])
    if fix is not None:
        mats = mats.copy()
        mats[:, :, OK[fix]] += mats[:, :, BAD[fix]]
        mats[:, :, BAD[fix]] = 0.0
    cum = np.cumsum(mats, axis=2)
    state = np.zeros(n, dtype=int)
    visits = np.zeros((n, N_STATES))
    log = []
    for step in range(60):
        alive = state != END
        if not alive.any():
            break
        idx = np.flatnonzero(alive)
        u = rng.random(len(idx))
        nxt = (u[:, None] >= cum[seg[idx], state[idx]]).sum(axis=1)
        state[idx] = nxt
        visits[idx, nxt] += 1
        if events:
            log += [(i, step, s) for i, s in zip(idx, nxt, strict=True) if s != END]
    cost = (visits * np.array([COST[s] for s in range(N_STATES)])).sum(axis=1)
    cases = pd.DataFrame(
        {
            "case_id": [f"p{i}" for i in range(n)],
            "urgency": np.array(names)[seg],
            "cost": cost + rng.normal(0, 50, n),
            "treated": visits[:, TREATED] > 0,
            "reassured": visits[:, REASSURED] > 0,
        }
    )
    if not events:
        return cases, None
    label = {
        **{OK[m]: f"{m}_done" for m in MOMENTS},
        **{BAD[m]: f"{m}_failed" for m in MOMENTS},
        TREATED: "treatment_started",
        REASSURED: "patient_reassured",
    }
    frame = pd.DataFrame(log, columns=["i", "step", "state"])
    frame["case_id"] = "p" + frame["i"].astype(str)
    frame["activity"] = frame["state"].map(label)
    frame["timestamp"] = (
        pd.Timestamp("2025-03-01") + pd.to_timedelta(frame["step"] * 5 + frame["i"] % 7, unit="D")
    ).dt.strftime("%Y-%m-%d")  # date only: ties are broken by file order
    return cases, frame[["case_id", "activity", "timestamp"]]


SERVICE = Service.model_validate(
    {
        "version": 1,
        "name": "Hospital referral (planted)",
        "volume": 5000,
        "moments": [
            {"id": m, "reached": [f"{m}_done", f"{m}_failed"], "broken": [f"{m}_failed"]}
            for m in MOMENTS
        ],
        "outcomes": [
            {
                "id": "treated",
                "perspective": "provider",
                "reached": ["treatment_started"],
                "value": 2000,
            },
            {"id": "cost", "perspective": "provider", "column": "cost", "value": -1},
            {"id": "reassured", "perspective": "user", "reached": ["patient_reassured"]},
        ],
        "segments": ["urgency"],
        "analysis": {"bootstrap": 100, "seed": 5},
    }
)


@pytest.fixture(scope="module")
def truth() -> dict[str, dict[str, float]]:
    base, _ = _simulate(300_000, seed=1)
    out = {}
    for m in MOMENTS:
        fixed, _ = _simulate(300_000, seed=1, fix=m)
        out[m] = {
            o: float(fixed[o].mean() - base[o].mean()) for o in ("treated", "cost", "reassured")
        }
    return out


@pytest.fixture(scope="module")
def result() -> keymoments.AnalysisResult:
    cases, events = _simulate(30_000, seed=2, events=True)
    # the log has dates only, which the analysis says (each case's days are distinct)
    with pytest.warns(DataWarning, match="dates only"):
        return keymoments.analyse(
            SERVICE, events=events, cases=cases[["case_id", "urgency", "cost"]]
        )


def test_recoverable_matches_the_simulated_fix(result, truth) -> None:
    for m in MOMENTS:
        for o in ("treated", "cost", "reassured"):
            want = truth[m][o]
            got = result.moment(m).impact[o]["recoverable"]
            scale = max(abs(truth[k][o]) for k in MOMENTS)
            assert got == pytest.approx(want, abs=0.08 * scale), (m, o, got, want)


def test_money_adds_values_and_keys_follow(result, truth) -> None:
    for m in MOMENTS:
        money = result.moment(m).deciding["provider"]
        assert money.measure == "money"
        impact = result.moment(m).impact
        want = 2000 * impact["treated"]["recoverable"] - impact["cost"]["recoverable"]
        assert money.recoverable == pytest.approx(want)
    # key flags agree with the truth wherever the truth is clearly on one side of
    # the threshold (gearing 1.5 ± 0.25)
    money = {m: 2000 * truth[m]["treated"] - truth[m]["cost"] for m in MOMENTS}
    checked = 0
    for perspective, values in (
        ("provider", money),
        ("user", {m: truth[m]["reassured"] for m in MOMENTS}),
    ):
        scale = np.mean([abs(v) for v in values.values()])
        for m, v in values.items():
            gearing = v / scale
            if abs(gearing - 1.5) > 0.25:
                assert result.moment(m).key[perspective] == (gearing > 1.5), (perspective, m)
                checked += 1
    assert checked >= 6
    # consult, by money (treatment is worth far more than its cost), is the provider's
    assert result.key_moments("provider") == ["consult"]


def test_date_only_timestamps_and_file_order(result) -> None:
    # every journey's states are on distinct days: reach is exact, nothing tied
    assert result.moment("referral").reach == pytest.approx(1.0)
    assert result.n_cases == 30_000
    assert result.order is not None and result.order.tied_transitions == 0
    assert len(result.order.date_only) == 10 and result.order.placed_events == 0
