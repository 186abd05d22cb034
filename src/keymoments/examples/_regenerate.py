"""Recompute the shipped ``truth.json`` after changing a generator.

Run ``python -m keymoments.examples._regenerate``; a test compares the shipped
file with a fresh simulation, so forgetting to do so fails the build.
"""

from __future__ import annotations

from keymoments.examples import car_purchase, health_check
from keymoments.examples._generate import write_shipped_truth

if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    print(write_shipped_truth([health_check.SPEC, car_purchase.SPEC]))
