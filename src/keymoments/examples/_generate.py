"""Shared machinery of the built-in examples: a declarative spec and its generator.

A service module (``health_check``, ``car_purchase``) declares an
:class:`ExampleSpec`: the journey process, its outcomes, how visits become
events, how to draw a population (segments, barriers, noise) and the story
planted. :func:`generate` turns it into an :class:`~keymoments.examples.Example`;
:func:`true_recoverable` simulates the planted recoverables (cached per seed).

Example:
    >>> from keymoments.examples.health_check import SPEC
    >>> ex = generate(SPEC, n_cases=200, seed=1)
    >>> ex.cases["severity"].isin(["stable", "unwell"]).all()
    np.True_
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from keymoments.examples._barrier_truth import BarrierPatterns, true_attributable_fractions
from keymoments.examples._example import Example, Truth
from keymoments.examples._render import (
    EventSpec,
    case_ids,
    reach_and_breaks,
    render_events,
    render_ratings,
)
from keymoments.examples._simulate import (
    BinaryOutcome,
    Flow,
    NumericOutcome,
    PerSegment,
    Population,
    compute_outcomes,
    recoverable,
    simulate,
)
from keymoments.model import load_service

__all__ = [
    "TRUTH_CASES",
    "TRUTH_SEED",
    "ExampleSpec",
    "generate",
    "true_recoverable",
    "write_shipped_truth",
]

TRUTH_CASES = 200_000  # large enough that the Monte Carlo error is ~1% of the key effects
TRUTH_SEED = 20_240_601  # fixed: the truth is a property of the process, not of one sample
COMMENTS_STREAM = 21  # the random stream comments are written from (per seed)


@dataclass(frozen=True)
class ExampleSpec:
    """Everything that defines one built-in example."""

    name: str
    yaml: str
    prefix: str
    flow: Flow
    outcomes: tuple[BinaryOutcome | NumericOutcome, ...]
    events: EventSpec
    segment_column: str
    draw_population: Callable[[np.random.Generator, int], Population]
    ratings: Mapping[str, str]
    rating_base: PerSegment
    rating_penalty: Mapping[str, float]
    mood_outcome: str
    key: Mapping[str, Mapping[str, bool]]
    quadrant: Mapping[str, str]
    barrier_effects: Mapping[str, float]
    notes: str
    default_cases: int = 20_000
    # every (segment, barrier pattern) with its exact probability: gives the
    # planted attributable fractions exactly (see _barrier_truth)
    barrier_patterns: BarrierPatterns | None = None
    # free-text columns written from a population's columns (its worries), drawn
    # from a stream of their own so that every other column stays as it was
    comments: Callable[[Population, np.random.Generator], dict[str, np.ndarray]] | None = None

    def service_path(self) -> Path:
        """The service-model YAML shipped in the package."""
        resource = importlib.resources.files("keymoments.examples").joinpath(self.yaml)
        return Path(str(resource))


_TRUTH: dict[tuple[str, int, int], dict[str, dict[str, float]]] = {}
_SHIPPED = "truth.json"


def _shipped(spec: ExampleSpec, seed: int, n_cases: int) -> dict[str, dict[str, float]] | None:
    # The default truth ships precomputed so a demo loads in a fraction of a second;
    # a test checks it against a fresh simulation, so it cannot drift from the code.
    resource = importlib.resources.files("keymoments.examples").joinpath(_SHIPPED)
    try:
        shipped = json.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    if (shipped.get("seed"), shipped.get("n_cases")) != (seed, n_cases):
        return None
    found = shipped["recoverable"].get(spec.name)
    if found is None:
        return None
    # Back in the model's order: moments along the journey, outcomes as declared.
    outcomes = [o.id for o in spec.outcomes]
    return {m: {o: float(found[m][o]) for o in outcomes} for m in spec.flow.moments if m in found}


def true_recoverable(
    spec: ExampleSpec, *, seed: int = TRUTH_SEED, n_cases: int = TRUTH_CASES, cache: bool = True
) -> dict[str, dict[str, float]]:
    """The planted recoverables: moment id -> outcome id -> change in mean per case.

    Simulated (not computed from a chain): the process as is and with each
    moment never breaking, on one population with common random numbers. The
    default (seed, size) is read from the copy shipped in ``truth.json``; other
    results are cached per (example, seed, size). ``cache=False`` always simulates.
    """
    cache_key = (spec.name, seed, n_cases)
    if cache and cache_key not in _TRUTH:
        shipped = _shipped(spec, seed, n_cases)
        if shipped is not None:
            _TRUTH[cache_key] = shipped
    if not cache or cache_key not in _TRUTH:
        population = spec.draw_population(np.random.default_rng(seed), n_cases)
        _TRUTH[cache_key] = recoverable(spec.flow, spec.outcomes, population, seed=seed)
    return {m: dict(r) for m, r in _TRUTH[cache_key].items()}


def write_shipped_truth(specs: list[ExampleSpec], path: Path | None = None) -> Path:
    """Simulate the default truth of every example and write ``truth.json``.

    Run ``python -m keymoments.examples._regenerate`` after changing a generator.
    """
    target = path or Path(__file__).with_name(_SHIPPED)
    document = {
        "seed": TRUTH_SEED,
        "n_cases": TRUTH_CASES,
        "recoverable": {spec.name: true_recoverable(spec, cache=False) for spec in specs},
    }
    target.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return target


def generate(spec: ExampleSpec, n_cases: int | None = None, seed: int = 0) -> Example:
    """Generate an example's events, cases and truth.

    The same seed gives the same tables; the recoverables do not depend on it.
    """
    n = spec.default_cases if n_cases is None else int(n_cases)
    if n < 1:
        raise ValueError(f"n_cases must be at least 1, got {n}")
    service = load_service(spec.service_path())
    rng = np.random.default_rng(seed)
    population = spec.draw_population(rng, n)
    paths = simulate(spec.flow, population.segment, seed=seed, nudges=population.nudges)
    outcome_values = compute_outcomes(spec.flow, spec.outcomes, population, paths.counts)
    ids = case_ids(n, spec.prefix)
    events = render_events(spec.flow, paths, spec.events, ids, rng)

    cases: dict[str, object] = {
        "case_id": ids.astype(object),
        spec.segment_column: np.asarray(spec.flow.segments, dtype=object)[population.segment],
    }
    cases.update(
        render_ratings(
            spec.flow,
            paths.counts,
            population.segment,
            population.noise[spec.mood_outcome],
            spec.ratings,
            rng,
            base=spec.rating_base,
            penalty=spec.rating_penalty,
        )
    )
    for o in spec.outcomes:
        if isinstance(o, NumericOutcome):
            value = outcome_values[o.id]
            cases[o.column] = value.astype(np.int64) if o.decimals == 0 else value
    cases.update(population.columns)
    if spec.comments is not None:
        cases.update(spec.comments(population, np.random.default_rng([seed, COMMENTS_STREAM])))
    cases_df = pd.DataFrame(cases)

    reach, break_rate = reach_and_breaks(service, events, n)
    truth = Truth(
        reach=reach,
        break_rate=break_rate,
        recoverable=true_recoverable(spec),
        key={m: dict(k) for m, k in spec.key.items()},
        quadrant=dict(spec.quadrant),
        barrier_effects=dict(spec.barrier_effects),
        notes=spec.notes,
        attributable_fraction=true_attributable_fractions(spec),
    )
    return Example(name=spec.name, service=service, events=events, cases=cases_df, truth=truth)
