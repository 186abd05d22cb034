"""The portfolio on both built-in examples: sensible plans, figures against planted truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import keymoments
from keymoments.examples import car_purchase, health_check
from keymoments.examples._simulate import Nudge, compute_outcomes, simulate
from keymoments.portfolio import optimise, what_if

pytestmark = pytest.mark.filterwarnings("ignore:plan .* widens the gap")


@dataclass(frozen=True)
class _Scale(Nudge):
    """Multiply a moment's final break probability (after the barrier nudges)."""

    def apply(self, p: np.ndarray, cases: np.ndarray) -> np.ndarray:
        return np.minimum(p * float(self.value[0]), 1.0)


def _planted_gain(spec, moment: str, factor: float, n: int = 60_000) -> dict[str, float]:
    """Simulate the generator as is and with a moment's break probability scaled."""
    population = spec.draw_population(np.random.default_rng(5), n)
    j = spec.flow.moments.index(moment)
    scale = _Scale(j, np.array([factor]))
    out = {}
    for name, nudges in (("base", population.nudges), ("after", (*population.nudges, scale))):
        paths = simulate(spec.flow, population.segment, seed=5, nudges=nudges, record=False)
        out[name] = compute_outcomes(spec.flow, spec.outcomes, population, paths.counts)
    return {
        o.id: float(out["after"][o.id].mean() - out["base"][o.id].mean()) for o in spec.outcomes
    }


def _lifted_nudges(population, share: float, barrier: str, n: int) -> tuple[Nudge, ...]:
    """The health check's per-case DNA nudges with ``barrier`` lifted from ``share`` of holders.

    Rebuilt as its generator builds them, from the population's worries.
    """
    rng = np.random.default_rng(9)
    unwell = population.segment == 1
    offset = np.zeros(n)
    for b, beta in health_check.BARRIER_EFFECTS.items():
        held = population.columns[f"worry_{b}"].astype(float)
        if b == barrier:
            held = held * (rng.random(n) >= share)
        offset += beta * held
    base = np.where(unwell, health_check.DNA_LOGIT[1], health_check.DNA_LOGIT[0]) + offset
    j = health_check.MOMENTS.index("appointment")
    out = []
    for source, extra in (("reminder:ok", 0.0), ("reminder:broken", health_check.NO_REMINDER)):
        direct, dna = health_check._reminder_split(health_check._sigmoid(base + extra))
        s = (health_check.FLOW.state(source),)
        out.append(Nudge(j, direct, kind="move", sources=s, mode="set"))
        out.append(Nudge(j, dna, kind="break", sources=s, mode="set"))
    return tuple(out)


@pytest.fixture(scope="module")
def health():
    ex = keymoments.examples.load_health_check(n_cases=20_000)
    return ex, keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=0)


@pytest.fixture(scope="module")
def car():
    ex = keymoments.examples.load_car_purchase(n_cases=20_000)
    return ex, keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=0)


def test_health_check_plan_is_sensible(health) -> None:
    ex, result = health
    plan = result.portfolio
    assert plan is not None and plan.budget == ex.service.budget
    assert plan.cost <= ex.service.budget
    # the cheap text reminder at the key moment always pays; the plan returns many times its cost
    assert "sms_reminder" in plan.chosen
    assert plan.plan.roi is not None and plan.plan.roi > 2
    assert plan.gain["check_completed"] > 0 and plan.gain["experience"] > 0
    assert plan.uncertainty is not None and plan.uncertainty["p_beats_nothing"] > 0.95
    doc = result.to_dict()["portfolio"]
    assert doc["chosen"] == plan.chosen and doc["budget"] == ex.service.budget
    assert doc["value"] == pytest.approx(12_000 * 150 * plan.gain["check_completed"], rel=1e-9)
    assert doc["proven_optimal"] is True and plan.proven
    # five interventions: analyse traces the frontier too, one sweet spot at the model's budget
    frontier = doc["frontier"]
    assert frontier and all(row["proven"] for row in frontier)
    spots = {row["plan"] for row in frontier if row["sweet_spot"]}
    assert len(spots) == 1
    assert {row["budget"] for row in frontier if row["sweet_spot"]} == {ex.service.budget}


def test_analyse_leaves_a_large_frontier_for_later(health, monkeypatch) -> None:
    import importlib

    module = importlib.import_module("keymoments.portfolio.optimise")
    _, result = health
    monkeypatch.setattr(module, "FRONTIER_IN_ANALYSE", 2)
    plan = module.plan_in_analysis(result)
    assert plan.to_dict()["frontier"] is None
    assert any("frontier is not traced" in note for note in plan.notes)


def test_text_reminder_against_the_planted_process(health) -> None:
    _, result = health
    w = what_if(result, interventions=["sms_reminder"])
    truth = _planted_gain(health_check.SPEC, "appointment", 0.75)
    assert w.gain["check_completed"] == pytest.approx(truth["check_completed"], rel=0.15)
    assert w.gain["experience"] == pytest.approx(truth["experience"], rel=0.15)


def test_transport_voucher_through_the_barrier_model(health) -> None:
    _, result = health
    assert "appointment" in result.barriers.models
    w = what_if(result, interventions=["transport_voucher"])
    assert 0.8 < w.factors["appointment"] < 1.0
    spec = health_check.SPEC
    n = 80_000
    population = spec.draw_population(np.random.default_rng(5), n)
    out = {}
    for name, share in (("base", 0.0), ("after", 0.5)):
        nudges = _lifted_nudges(population, share, "transport", n)
        paths = simulate(spec.flow, population.segment, seed=5, nudges=nudges, record=False)
        out[name] = compute_outcomes(spec.flow, spec.outcomes, population, paths.counts)
    for o in ("check_completed", "experience"):
        truth = float(out["after"][o].mean() - out["base"][o].mean())
        assert w.gain[o] == pytest.approx(truth, rel=0.15)
    # the doctor worry has almost no planted effect: a named clinician buys little
    clinician = what_if(result, interventions=["named_clinician"])
    assert clinician.gain["check_completed"] < 0.25 * w.gain["check_completed"]


def test_fixing_a_moment_is_the_engines_recoverable(health) -> None:
    _, result = health
    for m in result.moments:
        if m.impact:
            w = what_if(result, break_rates={m.id: 0.0})
            for o, imp in m.impact.items():
                assert w.gain[o] == pytest.approx(imp["recoverable"], abs=1e-9)


def test_softer_add_on_offer_is_a_priced_conflict(car) -> None:
    ex, result = car
    w = what_if(result, interventions=["softer_addon_offer"])
    truth = ex.truth.recoverable["add_on_pitch"]
    # no loop through the add-on: a 15% rise in declines is -0.15 of the full fix
    assert w.gain["margin"] == pytest.approx(-0.15 * truth["margin"], rel=0.15)
    assert w.gain["satisfaction"] == pytest.approx(-0.15 * truth["satisfaction"], rel=0.15)
    assert w.value["provider"] < 0 < w.gain["satisfaction"]
    # money alone never buys it; a high enough price on goodwill does
    assert "softer_addon_offer" not in result.portfolio.chosen
    weighted = optimise(result, weights={"satisfaction": 2000}, uncertainty=False)
    assert "softer_addon_offer" in weighted.chosen


def test_car_plan_funds_finance_first(car) -> None:
    _, result = car
    plan = result.portfolio
    assert "finance_preapproval" in plan.chosen
    net = optimise(result, objective="net", uncertainty=False)
    # value minus cost keeps only what pays for itself where it sits: dropping any chosen
    # intervention (always affordable) would lose more value than it saves in cost
    chosen = [r for r in net.interventions if r.chosen]
    assert chosen and all(r.value_in_plan is not None and r.value_in_plan >= r.cost for r in chosen)
    assert net.plan.net >= result.portfolio.plan.net - 1e-6
    fp = what_if(result, interventions=["finance_preapproval"])
    truth = _planted_gain(car_purchase.SPEC, "finance", 0.7)
    assert fp.gain["sale"] == pytest.approx(truth["sale"], rel=0.15)
    assert fp.gain["margin"] == pytest.approx(truth["margin"], rel=0.15)


def test_include_exclude_and_budget(health) -> None:
    _, result = health
    plan = optimise(result, budget=5_000, include=["quiet_waiting_room"], uncertainty=False)
    assert "quiet_waiting_room" in plan.chosen and plan.cost <= 5_000
    plan = optimise(result, exclude=["sms_reminder"], uncertainty=False)
    assert "sms_reminder" not in plan.chosen
    with pytest.raises(keymoments.ModelError, match="no plan fits"):
        optimise(result, budget=1_000, include=["home_visit"], uncertainty=False)
    with pytest.raises(keymoments.ModelError, match="unknown intervention"):
        optimise(result, include=["sms"], uncertainty=False)


def test_frontier_curves_and_charts(car) -> None:
    _, result = car
    plan = optimise(result, weights={"satisfaction": 300}, uncertainty=False)
    frame = plan.frontier()
    assert frame["sweet_spot"].sum() >= 1 and frame["on_frontier"].any()
    assert plan.plot_frontier().to_dict()["layer"][0]["mark"]["type"] == "point"
    curves = plan.curves()
    fin = curves[(curves["moment"] == "finance") & (curves["outcome"] == "sale")]
    # gain grows as the break rate falls, from nothing today to the full fix at zero
    assert fin["gain"].iloc[0] == pytest.approx(0.0, abs=1e-12)
    assert np.all(np.diff(fin["gain"].to_numpy()) >= -1e-12)
    assert fin["break_rate"].iloc[-1] == pytest.approx(0.0, abs=1e-12)
    assert fin["gain"].iloc[-1] == pytest.approx(
        result.moment("finance").impact["sale"]["recoverable"], abs=1e-9
    )
    assert plan.plot().to_dict()["layer"]
