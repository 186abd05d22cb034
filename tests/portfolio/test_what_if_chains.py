"""What-if on hand-worked chains: the b5 service funnel (Search, Booking, Payment with
a retry loop) in closed form, and partial redirection through the loop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from keymoments.journey.fit import FittedChains
from keymoments.model import Service
from keymoments.portfolio.chain import ChainModel, scale_breaks

CASE = json.loads(
    (
        Path(__file__).parents[1]
        / "data"
        / "validation"
        / "b5_absorbing_chain_textbook_and_sensitivity.json"
    ).read_text()
)["expected"]["service_funnel"]
A, B, C, R = 0.8, 0.6, 0.7, 0.2  # b5: Search->Booking, Booking->Payment, success, retry


def _funnel() -> ChainModel:
    """Moments search, booking, payment (ok = moved on); 'lost' is a break then exit.

    Payment breaks with 0.3: of those, R/0.3 retry booking, the rest are lost.
    """
    service = Service.model_validate(
        {
            "version": 1,
            "name": "b5 funnel",
            "moments": [
                {"id": m, "reached": [f"{m}_ok"], "broken": [f"{m}_lost"]}
                for m in ("search", "booking", "payment")
            ],
            "outcomes": [{"id": "success", "perspective": "provider", "reached": ["paid"]}],
        }
    )
    S = 7  # search ok/broken, booking ok/broken, payment ok/broken, success marker
    P = np.zeros((1, 1 + S, S + 2))
    done, exit_ = S, S + 1
    P[0, 0, [0, 1]] = [A, 1 - A]
    P[0, 1 + 0, [2, 3]] = [B, 1 - B]  # search ok -> booking
    P[0, 1 + 1, exit_] = 1.0
    P[0, 1 + 2, [4, 5]] = [C, 1 - C]  # booking ok -> payment
    P[0, 1 + 3, exit_] = 1.0
    P[0, 1 + 4, 6] = 1.0  # payment ok -> success
    retry = R / (1 - C)
    P[0, 1 + 5, [2, 3]] = [retry * B, retry * (1 - B)]
    P[0, 1 + 5, exit_] = 1 - retry
    P[0, 1 + 6, done] = 1.0
    return ChainModel(service, FittedChains(P, np.ones(1), {}, {}))


def _p(factors: list[float]) -> float:
    return float(_funnel().outcomes(np.array([factors]))[0, 0])


def test_today_is_the_published_p_success() -> None:
    assert _p([1, 1, 1]) == pytest.approx(CASE["P_success_from"]["Search"], abs=1e-12)


def test_fixing_search_and_booking_as_published() -> None:
    published = CASE["zero_dropoff_P_success_from_Search"]
    assert _p([0, 1, 1]) == pytest.approx(published["Search (a=1)"], abs=1e-12)
    assert _p([1, 0, 1]) == pytest.approx(published["Booking (b=1)"], abs=1e-12)


@pytest.mark.parametrize("f", [0.25, 0.5, 0.9, 1.3])
def test_partial_redirection_in_closed_form(f: float) -> None:
    # booking's break probability times f, on first arrival and on every retry
    b = 1 - (1 - B) * f
    assert _p([1, f, 1]) == pytest.approx(A * b * C / (1 - b * R), abs=1e-12)
    # search and booking together: the interaction is the closed form's, not a sum
    a = 1 - (1 - A) * f
    assert _p([f, f, 1]) == pytest.approx(a * b * C / (1 - b * R), abs=1e-12)
    # payment: success c' and retry r' scale with its break probability
    c = 1 - (1 - C) * f
    r = (1 - C) * f * R / (1 - C)
    assert _p([1, 1, f]) == pytest.approx(A * B * c / (1 - B * r), abs=1e-12)


def test_small_change_gives_the_published_gradient() -> None:
    h = 1e-6
    # lowering booking's break probability (1 - b) by h raises b by h
    slope = (_p([1, 1 - h / (1 - B), 1]) - _p([1, 1, 1])) / h
    assert slope == pytest.approx(
        CASE["gradient_dP_success_from_Search"]["b_Booking_to_Payment"], rel=1e-5
    )


def test_factor_above_one_takes_no_more_than_the_ok_flow() -> None:
    chain = _funnel()
    probs = scale_breaks(chain.fitted.probs, chain.space, np.array([1.0, 5.0, 1.0]))
    assert np.allclose(probs.sum(axis=-1)[0, :7], 1.0)
    assert probs[0, 1 + 0, 3] == pytest.approx(B + (1 - B))  # all of search:ok's flow
    assert probs.min() >= 0


def test_break_share_target_is_met() -> None:
    chain = _funnel()
    f = chain.factor_for_break_share(1, 0.15)
    assert float(chain.break_share(np.array([[1, f, 1]]), 1)[0]) == pytest.approx(0.15, abs=1e-9)
    # no loop through booking's own arrivals: the share is (1 - b) f exactly
    assert f == pytest.approx(0.15 / (1 - B), rel=1e-9)
