"""The two built-in services, with generators of realistic data and planted truth.

``health-check`` (physical health checks for people with severe mental illness)
and ``car-purchase`` (a second-hand car from a dealer). Each ships a service
model YAML in this package and a generator of events and cases whose key
moments, conflicts and barrier effects are known, for demos, docs and
planted-truth tests.

Example:
    >>> from keymoments.examples import load_example, service_path
    >>> service_path("car-purchase").name
    'car_purchase.yaml'
    >>> ex = load_example("health-check", n_cases=500, seed=1)
    >>> ex.truth.quadrant["appointment"]
    'sweet_spot'
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from keymoments.examples._example import Example, Truth
from keymoments.examples._generate import ExampleSpec, generate
from keymoments.examples.car_purchase import SPEC as _CAR_PURCHASE
from keymoments.examples.car_purchase import load_car_purchase
from keymoments.examples.health_check import SPEC as _HEALTH_CHECK
from keymoments.examples.health_check import load_health_check

__all__ = [
    "EXAMPLES",
    "Example",
    "Truth",
    "load_car_purchase",
    "load_example",
    "load_health_check",
    "service_path",
    "write_example",
]

EXAMPLES: tuple[str, ...] = ("health-check", "car-purchase")
_SPECS: dict[str, ExampleSpec] = {
    "health-check": _HEALTH_CHECK,
    "car-purchase": _CAR_PURCHASE,
}


def _spec(name: str) -> ExampleSpec:
    try:
        return _SPECS[name]
    except KeyError:
        raise ValueError(
            f"unknown example {name!r}; the built-in examples are {', '.join(EXAMPLES)}"
        ) from None


def service_path(name: str) -> Path:
    """The service-model YAML of a built-in example, as shipped in the package.

    Example:
        >>> import keymoments
        >>> keymoments.load_service(service_path("health-check")).name
        'Physical health check (SMI)'
    """
    return _spec(name).service_path()


def load_example(name: str, n_cases: int | None = None, seed: int = 0) -> Example:
    """A built-in example by name (``health-check`` or ``car-purchase``).

    ``n_cases`` defaults to 20,000; the same seed gives the same tables.

    Example:
        >>> ex = load_example("car-purchase", n_cases=400)
        >>> ex.truth.quadrant["add_on_pitch"]
        'conflict'
    """
    return generate(_spec(name), n_cases=n_cases, seed=seed)


_DATA_LINE = re.compile(r"^data:.*\n", re.MULTILINE)
_NAME_LINE = re.compile(r"^name:.*\n", re.MULTILINE)


def write_example(
    name: str, out_dir: str | os.PathLike[str], n_cases: int | None = None, seed: int = 0
) -> dict[str, Path]:
    """Write an example's ``events.csv``, ``cases.csv`` and ``service.yaml`` into a folder.

    The written model's ``data:`` names the two CSV files (relative paths), so
    ``keymoments analyse DIR/service.yaml`` runs with no other argument.
    Returns the paths under the keys ``service``, ``events`` and ``cases``.

    Example:
        >>> import tempfile
        >>> paths = write_example("health-check", tempfile.mkdtemp(), n_cases=200)
        >>> sorted(paths)
        ['cases', 'events', 'service']
    """
    example = load_example(name, n_cases=n_cases, seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "service": out / "service.yaml",
        "events": out / "events.csv",
        "cases": out / "cases.csv",
    }
    example.events.to_csv(paths["events"], index=False)
    # %g writes whole-number ratings as "7", not "7.0"; missing answers stay empty.
    example.cases.to_csv(paths["cases"], index=False, float_format="%g")
    text = service_path(name).read_text(encoding="utf-8")
    text = _DATA_LINE.sub("", text)
    data = "data: {events: events.csv, cases: cases.csv}\n"
    match = _NAME_LINE.search(text)
    text = text[: match.end()] + data + text[match.end() :] if match else data + text
    paths["service"].write_text(text, encoding="utf-8")
    return paths
