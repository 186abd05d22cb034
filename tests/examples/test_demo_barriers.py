"""The demos' barriers against the exact attributable fractions their generators plant."""

from __future__ import annotations

import pytest

import keymoments
from keymoments import examples


@pytest.fixture(scope="module", params=examples.EXAMPLES)
def analysed(request: pytest.FixtureRequest):
    ex = examples.load_example(request.param, n_cases=20_000, seed=4)
    result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=50)
    return ex, result


def test_attributable_fractions_within_005_of_the_planted_truth(analysed) -> None:
    ex, result = analysed
    assert ex.truth.attributable_fraction, "the generator plants barrier effects"
    for moment, truth in ex.truth.attributable_fraction.items():
        for barrier, want in truth.items():
            est = result.barriers.estimate(barrier)
            assert est.moment == moment
            assert est.attributable_fraction == pytest.approx(want, abs=0.05), barrier


def test_the_planted_drivers_are_named(analysed) -> None:
    ex, result = analysed
    for moment, truth in ex.truth.attributable_fraction.items():
        named = [e.id for e in result.barriers.drivers(moment)]
        strong = sorted((b for b, af in truth.items() if af > 0.05), key=lambda b: -truth[b])
        assert named[: len(strong)] == strong
        assert not {b for b, af in truth.items() if af < 0.005} & set(named)


def test_health_check_truth_is_exact() -> None:
    truth = examples.load_health_check(n_cases=100).truth.attributable_fraction["appointment"]
    # `seen` has no effect of its own: exactly zero, however it travels
    assert truth["seen"] == 0.0
    assert truth["transport"] > truth["unwell"] > truth["breakdown"] > truth["doctor"] > 0
