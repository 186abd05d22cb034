"""The built-in examples: their models load, their data look real, their truth holds.

The checks of reach and break rates recompute them from the events with a
separate, deliberately plain pandas computation; the planted story is checked
against the simulated recoverables, never against an estimator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import keymoments
import keymoments.examples as examples
from keymoments.examples import (
    EXAMPLES,
    Example,
    car_purchase,
    health_check,
    load_car_purchase,
    load_example,
    load_health_check,
    service_path,
    write_example,
)

ADMIN = {
    "health-check": {"letter_printed", "record_updated", "ehr_sync"},
    "car-purchase": {"crm_sync", "record_updated", "email_logged"},
}
QUADRANTS = {"sweet_spot", "user_only", "provider_only", "conflict", "minor"}


@pytest.fixture(scope="module")
def loaded() -> dict[str, Example]:
    return {"health-check": load_health_check(), "car-purchase": load_car_purchase()}


@pytest.fixture(params=EXAMPLES)
def example(request: pytest.FixtureRequest, loaded: dict[str, Example]) -> Example:
    return loaded[request.param]


def _first_after(events: pd.DataFrame, anchor: set[str], outcomes: set[str]) -> pd.Series:
    """Per case: the first of ``outcomes`` after the case's first ``anchor`` activity."""
    ev = events.assign(t=pd.to_datetime(events["timestamp"]))
    start = ev[ev["activity"].isin(anchor)].groupby("case_id")["t"].min().rename("t0")
    ev = ev[ev["activity"].isin(outcomes)].join(start, on="case_id", how="inner")
    ev = ev[ev["t"] > ev["t0"]].sort_values(["case_id", "t"])
    return ev.groupby("case_id")["activity"].first()


# -- the public API and the model files ---------------------------------------------


def test_public_api_is_exact() -> None:
    assert sorted(examples.__all__) == examples.__all__
    assert set(examples.__all__) == {
        "EXAMPLES",
        "Example",
        "Truth",
        "load_car_purchase",
        "load_example",
        "load_health_check",
        "service_path",
        "write_example",
    }
    assert EXAMPLES == ("health-check", "car-purchase")


@pytest.mark.parametrize("name", EXAMPLES)
def test_service_model_validates(name: str) -> None:
    service = keymoments.load_service(service_path(name))
    assert service_path(name).is_file()
    assert service.volume and service.budget
    assert service.segments and service.barriers and service.interventions
    assert {o.perspective for o in service.outcomes} == {"user", "provider"}


def test_unknown_example_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="health-check"):
        load_example("bus-ride")


def test_every_model_activity_is_in_the_events_and_back(example: Example) -> None:
    in_model = {a for m in example.service.moments for a in m.activities}
    in_model |= {a for o in example.service.outcomes for a in o.reached or []}
    in_events = set(example.events["activity"].unique())
    assert in_model <= in_events, in_model - in_events
    assert in_events - in_model == ADMIN[example.name]


# -- the shape of the data --------------------------------------------------------


def test_one_cases_row_per_case(example: Example) -> None:
    cases, events = example.cases, example.events
    assert len(cases) == 20_000
    assert cases["case_id"].is_unique
    assert set(cases["case_id"]) == set(events["case_id"])
    service = example.service
    for column in service.case_columns:
        assert column in cases.columns, column
    for o in service.outcomes:
        if o.column:
            assert cases[o.column].notna().all()
            assert pd.api.types.is_numeric_dtype(cases[o.column])
    for b in service.barriers:
        assert set(cases[b.column].unique()) == {0, 1}
        assert 0.10 <= cases[b.column].mean() <= 0.45, b.column


def test_events_are_strictly_ordered_in_time(example: Example) -> None:
    events = example.events
    assert list(events.columns[:3]) == ["case_id", "activity", "timestamp"]
    t = pd.to_datetime(events["timestamp"], format="ISO8601")
    step = t.groupby(events["case_id"]).diff().dropna()
    assert (step > pd.Timedelta(0)).all()
    # Realistic waits: days between appointments or visits, minutes within one.
    assert step.max() > pd.Timedelta(days=5)
    assert step.min() < pd.Timedelta(minutes=5)


def test_admin_events_and_missing_ratings_present(example: Example) -> None:
    events, cases = example.events, example.cases
    admin = events["activity"].isin(ADMIN[example.name])
    assert admin.sum() > 0.02 * len(events)
    for m in example.service.moments:
        if not m.rating:
            continue
        rating = cases[m.rating]
        reached = cases["case_id"].isin(
            events.loc[events["activity"].isin(m.activities), "case_id"]
        )
        assert rating[~reached].isna().all(), "a case that never reached a moment cannot rate it"
        skipped = rating[reached].isna().mean()
        assert 0.1 < skipped < 0.3, m.rating
        answered = rating.dropna()
        assert answered.between(1, 10).all() and (answered == answered.round()).all()


def test_numeric_outcomes_rarely_clipped(loaded: dict[str, Example]) -> None:
    # Clipping breaks the linear reward model; it must stay rare.
    experience = loaded["health-check"].cases["experience_rating"]
    assert experience.isin([0, 10]).mean() < 0.03
    satisfaction = loaded["car-purchase"].cases["buyer_satisfaction"]
    assert satisfaction.isin([0, 10]).mean() < 0.03


def test_margin_is_zero_without_a_sale(loaded: dict[str, Example]) -> None:
    ex = loaded["car-purchase"]
    sold = ex.cases["case_id"].isin(
        ex.events.loc[ex.events["activity"] == "sale_completed", "case_id"]
    )
    assert (ex.cases.loc[~sold, "margin_gbp"] == 0).all()
    assert (ex.cases.loc[sold, "margin_gbp"] > 0).all()


def test_same_seed_same_data() -> None:
    a, b = load_example("car-purchase", 300, seed=4), load_example("car-purchase", 300, seed=4)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.cases, b.cases)
    c = load_example("car-purchase", 300, seed=5)
    assert not a.events.equals(c.events)


# -- reach and break rates, recomputed plainly --------------------------------------


def test_reach_and_break_rate_match_the_events(example: Example) -> None:
    events, n = example.events, len(example.cases)
    for m in example.service.moments:
        reached = set(events.loc[events["activity"].isin(m.activities), "case_id"])
        broke = set(events.loc[events["activity"].isin(m.broken), "case_id"])
        assert broke <= reached
        assert example.truth.reach[m.id] == pytest.approx(len(reached) / n, abs=1e-12)
        assert example.truth.break_rate[m.id] == pytest.approx(len(broke) / len(reached), abs=1e-12)


def test_dna_rate_near_planted(loaded: dict[str, Example]) -> None:
    ex = loaded["health-check"]
    first_reminder = _first_after(
        ex.events, {"booking_made"}, {"reminder_sent", "reminder_failed"}
    ).rename("reminder")
    decision = _first_after(
        ex.events,
        {"reminder_sent", "reminder_failed"},
        {"appointment_dna", "appointment_attended", "arrived", "travel_problem"},
    ).rename("decision")
    cases = ex.cases.set_index("case_id").join(first_reminder, how="inner").join(decision)
    cases = cases[cases["decision"].notna()]
    reminded = (cases["reminder"] == "reminder_sent").to_numpy()
    planted = np.where(
        reminded,
        health_check.dna_probability(cases),
        health_check.dna_probability(cases, reminded=False),
    )
    dna = (cases["decision"] == "appointment_dna").to_numpy()
    se = np.sqrt(planted.mean() * (1 - planted.mean()) / len(planted))
    assert 0.15 < planted.mean() < 0.35
    assert dna.mean() == pytest.approx(planted.mean(), abs=4 * se)
    # The confound: unwell patients miss far more appointments ...
    unwell = (cases["severity"] == "unwell").to_numpy()
    assert dna[unwell].mean() - dna[~unwell].mean() > 0.1
    for group in (unwell, ~unwell):
        assert dna[group].mean() == pytest.approx(planted[group].mean(), abs=0.025)
    # ... and the 'seen' worry looks harmful though its own effect is zero (a trap).
    seen = cases["worry_seen"].to_numpy() == 1
    assert health_check.BARRIER_EFFECTS["seen"] == 0.0
    assert dna[seen].mean() - dna[~seen].mean() > 0.02


def test_unwell_fare_worse_after_attending(loaded: dict[str, Example]) -> None:
    ex = loaded["health-check"]
    attended = set(ex.events.loc[ex.events["activity"] == "appointment_attended", "case_id"])
    completed = set(ex.events.loc[ex.events["activity"] == "check_completed", "case_id"])
    after = ex.cases[ex.cases["case_id"].isin(attended)]
    done = after["case_id"].isin(completed)
    unwell = after["severity"] == "unwell"
    assert done[~unwell].mean() > done[unwell].mean()
    assert (
        after.loc[~unwell, "experience_rating"].mean()
        > after.loc[unwell, "experience_rating"].mean() + 0.8
    )


def test_finance_declines_near_planted(loaded: dict[str, Example]) -> None:
    ex = loaded["car-purchase"]
    applied = set(ex.events.loc[ex.events["activity"] == "finance_applied", "case_id"])
    declined = set(ex.events.loc[ex.events["activity"] == "finance_declined", "case_id"])
    cases = ex.cases[ex.cases["case_id"].isin(applied)]
    planted = car_purchase.finance_decline_probability(cases)
    observed = cases["case_id"].isin(declined).to_numpy()
    se = np.sqrt(planted.mean() * (1 - planted.mean()) / len(planted))
    assert observed.mean() == pytest.approx(planted.mean(), abs=4 * se)
    first = (cases["buyer_type"] == "first_time").to_numpy()
    assert observed[first].mean() - observed[~first].mean() > 0.08


# -- the planted story --------------------------------------------------------------


def _story_ratios(example: Example) -> dict[str, dict[str, float]]:
    """Each moment's recoverable over the mean |recoverable| of breakable moments."""
    truth = example.truth.recoverable
    breakable = [m.id for m in example.service.moments if m.breakable]
    assert sorted(truth) == sorted(breakable)
    ratios: dict[str, dict[str, float]] = {m: {} for m in breakable}
    for o in example.service.outcomes:
        scale = np.mean([abs(truth[m][o.id]) for m in breakable])
        assert scale > 0
        for m in breakable:
            ratios[m][o.id] = truth[m][o.id] / scale
    return ratios


def test_truth_supports_the_planted_story(example: Example) -> None:
    truth, service = example.truth, example.service
    ratios = _story_ratios(example)
    by_perspective = {
        p: [o.id for o in service.outcomes if o.perspective == p] for p in ("user", "provider")
    }
    assert set(truth.quadrant) == set(truth.key) == {m.id for m in service.moments}
    assert set(truth.quadrant.values()) <= QUADRANTS
    for m, r in ratios.items():
        for p, outcomes in by_perspective.items():
            if truth.key[m][p]:
                assert max(r[o] for o in outcomes) >= 2.0, (m, p, r)
            else:
                assert all(r[o] <= 1.0 for o in outcomes), (m, p, r)
        quadrant = truth.quadrant[m]
        if quadrant == "minor":
            assert all(abs(v) <= 1.0 for v in r.values()), (m, r)
        if quadrant == "conflict":
            user = [r[o] for o in by_perspective["user"]]
            provider = [r[o] for o in by_perspective["provider"]]
            assert min(user) <= -0.5 and max(provider) >= 0.5, (m, r)
        key = truth.key[m]
        expected = {
            (True, True): "sweet_spot",
            (True, False): "user_only",
            (False, True): "conflict" if quadrant == "conflict" else "provider_only",
            (False, False): "minor",
        }[(key["user"], key["provider"])]
        assert quadrant == expected, m


def test_health_check_story() -> None:
    ex = load_health_check(n_cases=200)
    ratios = _story_ratios(ex)
    # The appointment stands out several times over, for both outcomes.
    assert ratios["appointment"]["check_completed"] > 4
    assert ratios["appointment"]["experience"] > 4
    assert [m for m, q in ex.truth.quadrant.items() if q != "minor"] == ["appointment"]
    assert set(ex.truth.barrier_effects) == {b.id for b in ex.service.barriers}


def test_car_purchase_story() -> None:
    ex = load_car_purchase(n_cases=200)
    r = ex.truth.recoverable
    assert ex.truth.quadrant["finance"] == "sweet_spot"
    assert ex.truth.quadrant["price_negotiation"] == "user_only"
    assert ex.truth.quadrant["add_on_pitch"] == "conflict"
    assert r["add_on_pitch"]["sale"] == 0.0  # everyone reaching the pitch buys either way
    assert r["add_on_pitch"]["margin"] > 0 > r["add_on_pitch"]["satisfaction"]
    assert all(v > 0 for v in r["finance"].values())
    assert set(ex.truth.barrier_effects) == {b.id for b in ex.service.barriers}


def test_truth_is_deterministic_under_a_seed() -> None:
    a = health_check.true_recoverable(seed=11, n_cases=20_000, cache=False)
    b = health_check.true_recoverable(seed=11, n_cases=20_000, cache=False)
    assert a == b
    c = car_purchase.true_recoverable(seed=11, n_cases=20_000, cache=False)
    d = car_purchase.true_recoverable(seed=11, n_cases=20_000, cache=False)
    assert c == d
    # A smaller simulation tells the same story as the full one.
    full = car_purchase.true_recoverable()
    assert c["finance"]["sale"] == pytest.approx(full["finance"]["sale"], rel=0.15)


@pytest.mark.parametrize("module", [health_check, car_purchase], ids=EXAMPLES)
def test_shipped_truth_matches_a_fresh_simulation(module, loaded: dict[str, Example]) -> None:
    # truth.json saves every load ~3 s; it must be exactly what the code simulates
    # (else run `python -m keymoments.examples._regenerate`).
    fresh = module.true_recoverable(cache=False)
    shipped = loaded[module.SPEC.name].truth.recoverable
    assert list(shipped) == list(fresh)
    for m, by_outcome in fresh.items():
        assert list(shipped[m]) == list(by_outcome)
        for o, value in by_outcome.items():
            assert shipped[m][o] == pytest.approx(value, rel=1e-9, abs=1e-12), (m, o)


def test_truth_does_not_depend_on_the_sample(loaded: dict[str, Example]) -> None:
    other = load_health_check(n_cases=100, seed=9)
    assert other.truth.recoverable == loaded["health-check"].truth.recoverable
    assert other.truth.notes and len(other.truth.notes) > 200


# -- writing an example to disk -----------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_write_example(name: str, tmp_path) -> None:
    paths = write_example(name, tmp_path / "out", n_cases=300, seed=2)
    assert set(paths) == {"service", "events", "cases"}
    service = keymoments.load_service(paths["service"])
    assert service.resolve(service.data.events) == paths["events"].resolve()
    assert service.resolve(service.data.cases) == paths["cases"].resolve()
    assert paths["events"].is_file() and paths["cases"].is_file()
    events = pd.read_csv(paths["events"])
    cases = pd.read_csv(paths["cases"])
    assert len(cases) == 300
    assert set(events["case_id"]) == set(cases["case_id"])
    rated = [m.rating for m in service.moments if m.rating]
    assert cases[rated].isna().any().any()
    assert "7.0" not in paths["cases"].read_text()  # whole-number ratings written as such
