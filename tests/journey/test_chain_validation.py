"""Published absorbing-chain results (validation cases b3 and b5) reproduced exactly."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from keymoments.journey.chain import AbsorbingChain, redirect

DATA = Path(__file__).parents[1] / "data" / "validation"


def _case(prefix: str) -> dict:
    (path,) = DATA.glob(f"{prefix}_*.json")
    return json.loads(path.read_text())


# -- b3: Markov removal effects (Bryl 2016, Puzyrov 2019) --------------------------


def _attribution_chain(paths: list[dict]) -> tuple[np.ndarray, list[str]]:
    channels = sorted({c.strip() for p in paths for c in p["path"].split(">")})
    names = ["(start)", *channels, "(conversion)", "(null)"]
    idx = {n: i for i, n in enumerate(names)}
    counts = np.zeros((len(names), len(names)))
    for p in paths:
        steps = ["(start)", *(c.strip() for c in p["path"].split(">"))]
        weight = p["conv"] + p["null"]
        for a, b in itertools.pairwise(steps):
            counts[idx[a], idx[b]] += weight
        counts[idx[steps[-1]], idx["(conversion)"]] += p["conv"]
        counts[idx[steps[-1]], idx["(null)"]] += p["null"]
    P = np.zeros_like(counts)
    rows = counts.sum(axis=1)
    P[rows > 0] = counts[rows > 0] / rows[rows > 0, None]
    P[idx["(conversion)"], idx["(conversion)"]] = 1
    P[idx["(null)"], idx["(null)"]] = 1
    return P, names


def _p_conversion(P: np.ndarray, names: list[str]) -> float:
    transient = [i for i, n in enumerate(names) if n not in ("(conversion)", "(null)")]
    absorbing = [names.index("(conversion)"), names.index("(null)")]
    chain = AbsorbingChain(P, transient, absorbing, names)
    return float(chain.absorption()[chain.index("(start)"), 0])


@pytest.mark.parametrize("study", ["bryl2016", "puzyrov2019"])
def test_b3_removal_effects(study: str) -> None:
    case = _case("b3")
    expected = case["expected"][study]
    tol = case["tolerance"]["abs"]
    P, names = _attribution_chain(expected["paths"])
    base = _p_conversion(P, names)
    assert base == pytest.approx(expected["P_conversion"], abs=tol)
    effects = {}
    for channel, p_without in expected["P_conversion_without"].items():
        removed = redirect(P, names.index(channel), names.index("(null)"))
        got = _p_conversion(removed, names)
        assert got == pytest.approx(p_without, abs=tol)
        effects[channel] = 1 - got / base
        assert effects[channel] == pytest.approx(expected["removal_effect"][channel], abs=tol)
    total_conv = sum(p["conv"] for p in expected["paths"])
    norm = sum(effects.values())
    for channel, want in expected["attributed_conversions"].items():
        assert total_conv * effects[channel] / norm == pytest.approx(want, abs=tol)


def test_b3_value_attribution() -> None:
    case = _case("b3")
    paths = case["expected"]["bryl2016"]["paths"]
    P, names = _attribution_chain(paths)
    base = _p_conversion(P, names)
    effects = {
        c: 1 - _p_conversion(redirect(P, names.index(c), names.index("(null)")), names) / base
        for c in ("C1", "C2", "C3")
    }
    total_value = 1000.0  # the one converting path carries 1000
    for c, want in case["expected"]["bryl2016_value_attribution"].items():
        assert total_value * effects[c] / sum(effects.values()) == pytest.approx(want, abs=1e-9)


# -- b5: Grinstead & Snell drunkard's walk, and a service funnel's sensitivities ------


@pytest.mark.parametrize(
    ("p", "key"), [(0.5, "drunkards_walk_p_0.5_published"), (2 / 3, "drunkards_walk_p_2_3")]
)
def test_b5_drunkards_walk(p: float, key: str) -> None:
    case = _case("b5")
    expected = case["expected"][key]
    tol = case["tolerance"]["abs"]
    P = np.zeros((5, 5))
    P[0, 0] = P[4, 4] = 1
    for i in (1, 2, 3):
        P[i, i + 1] = p
        P[i, i - 1] = 1 - p
    chain = AbsorbingChain(P, transient=[1, 2, 3], absorbing=[0, 4])
    np.testing.assert_allclose(chain.fundamental, expected["N"], atol=tol)
    np.testing.assert_allclose(chain.expected_steps(), expected["t"], atol=tol)
    np.testing.assert_allclose(chain.absorption(), expected["B_cols_state0_state4"], atol=tol)


def _funnel(a: float = 0.8, b: float = 0.6, c: float = 0.7, r: float = 0.2) -> np.ndarray:
    # states: Search, Booking, Payment, Success, Lost
    P = np.zeros((5, 5))
    P[0, 1], P[0, 4] = a, 1 - a
    P[1, 2], P[1, 4] = b, 1 - b
    P[2, 3], P[2, 1], P[2, 4] = c, r, 1 - c - r
    P[3, 3] = P[4, 4] = 1
    return P


def _funnel_chain(P: np.ndarray) -> AbsorbingChain:
    return AbsorbingChain(P, [0, 1, 2], [3, 4], ["Search", "Booking", "Payment", "Success", "Lost"])


def test_b5_service_funnel() -> None:
    case = _case("b5")
    expected = case["expected"]["service_funnel"]
    tol = case["tolerance"]["abs"]
    chain = _funnel_chain(_funnel())
    np.testing.assert_allclose(chain.fundamental, expected["N"], atol=tol)
    success = chain.absorption()[:, 0]
    for state, want in expected["P_success_from"].items():
        assert success[chain.index(state)] == pytest.approx(want, abs=tol)
    steps = chain.expected_steps()
    for state, want in expected["expected_steps_to_absorption"].items():
        assert steps[chain.index(state)] == pytest.approx(want, abs=tol)
    # sensitivities: the moment's own Lost probability absorbs the change
    start = np.array([1.0, 0.0, 0.0])
    success_value = np.array([1.0, 0.0])  # ending in Success counts 1, Lost 0
    grads = {
        name: chain.sensitivity(start, i, j, 4, absorbing_value=success_value)
        for name, (i, j) in {
            "a_Search_to_Booking": (0, 1),
            "b_Booking_to_Payment": (1, 2),
            "c_Payment_to_Success": (2, 3),
            "r_Payment_retry_to_Booking": (2, 1),
        }.items()
    }
    base = success[0]
    values = {
        "a_Search_to_Booking": 0.8,
        "b_Booking_to_Payment": 0.6,
        "c_Payment_to_Success": 0.7,
        "r_Payment_retry_to_Booking": 0.2,
    }
    for name, want in expected["gradient_dP_success_from_Search"].items():
        assert grads[name] == pytest.approx(want, abs=tol)
        assert values[name] / base * grads[name] == pytest.approx(
            expected["elasticity"][name], abs=tol
        )
    ranking = sorted(grads, key=grads.get, reverse=True)
    assert ranking == expected["ranking_by_gradient"]


def test_b5_zero_dropoff_scenarios() -> None:
    case = _case("b5")
    expected = case["expected"]["service_funnel"]["zero_dropoff_P_success_from_Search"]
    tol = case["tolerance"]["abs"]
    scenarios = {
        "Search (a=1)": _funnel(a=1.0),
        "Booking (b=1)": _funnel(b=1.0),
        "Payment (drop 0.1 removed; c,r rescaled by 1/0.9)": _funnel(c=0.7 / 0.9, r=0.2 / 0.9),
    }
    for name, P in scenarios.items():
        got = _funnel_chain(P).absorption()[0, 0]
        assert got == pytest.approx(expected[name], abs=tol)


def test_fixing_by_redirect_equals_zero_dropoff_of_search() -> None:
    # "fixing" a moment moves flow from its failure to its success: for Search that is
    # exactly the published a=1 scenario
    P = _funnel()
    fixed = P.copy()
    fixed[0, 1] += fixed[0, 4]
    fixed[0, 4] = 0
    assert _funnel_chain(fixed).absorption()[0, 0] == pytest.approx(0.4772727272727273, abs=1e-12)
