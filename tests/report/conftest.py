"""Shared fixtures of the report tests: real analyses of the built-in examples (small n)."""

from __future__ import annotations

import copy

import pytest

import keymoments
from keymoments.result import AnalysisResult

EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="session")
def health() -> AnalysisResult:
    ex = keymoments.examples.load_health_check(n_cases=3000)
    return keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=30)


@pytest.fixture(scope="session")
def cars() -> AnalysisResult:
    ex = keymoments.examples.load_car_purchase(n_cases=3000)
    return keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=30)


@pytest.fixture(scope="session")
def evil(health: AnalysisResult) -> AnalysisResult:
    """The health check with a hostile moment name, stage and service name."""
    result = copy.deepcopy(health)
    appointment = result.moment("appointment")
    appointment.name = EVIL
    appointment.stage = "</script><b>stage</b>"
    result.service = result.service.model_copy(update={"name": "Evil & <Co> </SCRIPT >"})
    return result
