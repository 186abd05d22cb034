"""The JSON result follows the JSON Schema shipped in the package (and copied in docs/)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema

import keymoments
from keymoments.result import AnalysisResult
from keymoments.schema import SCHEMA_VERSION, result_schema

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = jsonschema.Draft202012Validator


def _errors(doc: dict[str, Any]) -> list[str]:
    validator = VALIDATOR(result_schema())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


def _round_trip(result: AnalysisResult, tmp_path: Path) -> dict[str, Any]:
    """The document as ``--json`` writes it (strict JSON: no NaN)."""
    return json.loads(result.to_json(tmp_path / "result.json").read_text())  # type: ignore[no-any-return]


def test_the_schema_is_valid_and_the_docs_copy_is_the_same() -> None:
    VALIDATOR.check_schema(result_schema())
    assert json.loads((ROOT / "docs" / "result.schema.json").read_text()) == result_schema()


def test_both_demos_follow_the_schema(
    health: AnalysisResult, cars: AnalysisResult, tmp_path: Path
) -> None:
    for result in (health, cars):
        doc = _round_trip(result, tmp_path)
        assert doc["schema_version"] == SCHEMA_VERSION
        assert _errors(doc) == []
    # the sections the schema describes are filled, so the check is not vacuous
    doc = _round_trip(health, tmp_path)
    assert doc["model_check"] and doc["comments"]["sources"] and doc["barriers"]
    assert doc["portfolio"]["chosen"] and doc["drivers"]["experience"]


def test_a_run_without_memory_and_a_survey_alone_follow_the_schema(tmp_path: Path) -> None:
    ex = keymoments.examples.load_health_check(n_cases=2000, seed=3)
    service = ex.service.model_copy(update={"memory": "none", "interventions": []})
    result = keymoments.analyse(service, events=ex.events, cases=ex.cases, bootstrap=10)
    doc = _round_trip(result, tmp_path)
    assert doc["method"]["memory"]["chosen"] == [] and doc["portfolio"] == {}
    assert doc["model_check"] and doc["comments"]["sources"]
    assert _errors(doc) == []
    survey = keymoments.load_service(ROOT / "examples" / "customer-sat" / "service.yaml")
    alone = keymoments.analyse(
        survey, cases=ROOT / "tests" / "data" / "real" / "bayesm_customerSat.csv", bootstrap=10
    )
    doc = _round_trip(alone, tmp_path)
    assert doc["method"]["survey_only"] is True
    assert _errors(doc) == []


def test_the_schema_rejects_a_broken_contract(health: AnalysisResult, tmp_path: Path) -> None:
    good = _round_trip(health, tmp_path)
    cases: list[tuple[str, Any]] = [
        ("no schema_version", lambda d: d.pop("schema_version")),
        ("a moment without key", lambda d: d["moments"][0].pop("key")),
        ("an unknown quadrant", lambda d: d["alignment"][0].update(quadrant="hot")),
        ("an interval of three", lambda d: d["moments"][0].update(break_rate_ci=[0, 0.1, 0.2])),
        ("a reach above 1", lambda d: d["moments"][0].update(reach=1.5)),
        ("a text n_cases", lambda d: d.update(n_cases="3000")),
        ("a model check without ok", lambda d: d["model_check"][0].pop("ok")),
        ("a portfolio without cost", lambda d: d["portfolio"].pop("cost")),
        ("schema version 2", lambda d: d.update(schema_version="2.0")),
    ]
    for label, spoil in cases:
        doc = copy.deepcopy(good)
        spoil(doc)
        assert _errors(doc), label
