"""Degenerate data through a model with every section (drivers, emotion,
barriers, portfolio): a warning naming the problem, a sensible result, and a
JSON document that strict parsers accept (no NaN, no Infinity) in every section.
"""

from __future__ import annotations

import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import keymoments
from keymoments.errors import MissingRatingsWarning
from keymoments.model import Service

SERVICE = Service.model_validate(
    {
        "version": 1,
        "name": "degenerate",
        "volume": 1000,
        "budget": 500,
        "moments": [
            {"id": "a", "reached": ["a_ok", "a_bad"], "broken": ["a_bad"], "rating": "ra"},
            {"id": "b", "reached": ["b_ok", "b_bad"], "broken": ["b_bad"], "rating": "rb"},
            {"id": "c", "reached": ["c_ok", "c_bad"], "broken": ["c_bad"]},
        ],
        "outcomes": [
            {"id": "won", "perspective": "provider", "reached": ["won"], "value": 10},
            {"id": "score", "perspective": "user", "column": "score"},
        ],
        "segments": ["g"],
        "barriers": [
            {"id": "worry", "moment": "a", "column": "w"},
            {"id": "nobody", "moment": "a", "column": "nh"},
        ],
        "interventions": [
            {
                "id": "fix_a",
                "moment": "a",
                "effect": -0.3,
                "effect_range": [-0.5, -0.1],
                "cost": 100,
            },
            {"id": "calm", "barrier": "worry", "effect": -0.5, "cost": 50},
        ],
        "analysis": {"bootstrap": 10, "seed": 3},
    }
)


def _data(n: int, *, seed: int = 0, identical: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Journeys through a and b (c is never reached, b never broken); 3 cases in 'tiny'."""
    rng = np.random.default_rng(seed)
    events, cases = [], []
    for i in range(n):
        worried = bool(rng.random() < 0.4) and not identical
        broke = (rng.random() < (0.6 if worried else 0.2)) if not identical else True
        events.append((f"k{i}", "a_bad" if broke else "a_ok", "2024-01-01T08:00:00"))
        if broke and not identical and rng.random() < 0.5:
            stays = False  # half of those who break a give up there
        else:
            stays = True
            events.append((f"k{i}", "b_ok", "2024-01-01T09:00:00"))
        won = stays and (rng.random() < 0.8 or identical)
        if won:
            events.append((f"k{i}", "won", "2024-01-01T10:00:00"))
        ra = 7.0 if identical else float(np.clip(round(8 - 3 * broke + rng.normal()), 1, 10))
        rb = 7.0 if identical else float(np.clip(round(7 + rng.normal()), 1, 10))
        score = 7.0 if identical else 0.5 * ra + 0.3 * rb + float(rng.normal())
        cases.append(
            (
                f"k{i}",
                "tiny" if i < 3 and not identical else "main",
                ra,
                rb,
                score,
                "yes" if worried else "no",
                "no",
            )
        )
    return (
        pd.DataFrame(events, columns=["case_id", "activity", "timestamp"]),
        pd.DataFrame(cases, columns=["case_id", "g", "ra", "rb", "score", "w", "nh"]),
    )


def _strict(path: Path) -> dict[str, Any]:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} in {path.name}")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)  # type: ignore[no-any-return]


def _finite_or_null(value: Any, where: str = "") -> None:
    if isinstance(value, float):
        assert math.isfinite(value), where
    elif isinstance(value, dict):
        for k, v in value.items():
            _finite_or_null(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite_or_null(v, f"{where}[{i}]")


def _run(tmp_path: Path, **data: Any) -> tuple[keymoments.AnalysisResult, dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", keymoments.KeymomentsWarning)
        result = keymoments.analyse(SERVICE, **data)
    doc = _strict(result.to_json(tmp_path / "result.json"))
    _finite_or_null(doc)
    assert doc["warnings"] == result.warnings
    return result, doc


def _said(doc: dict[str, Any], *words: str) -> None:
    text = " ".join(doc["warnings"])
    for word in words:
        assert word in text, doc["warnings"]


def test_unreached_unbroken_unheld_and_a_tiny_segment(tmp_path: Path) -> None:
    events, cases = _data(300)
    result, doc = _run(tmp_path, events=events, cases=cases)
    _said(
        doc,
        "moment 'c': none of its activities",
        "segment 'tiny' has only 3 cases",
        "barrier 'nobody' at moment 'a': none of the 300 cases that reached it holds it",
    )
    c, b = result.moment("c"), result.moment("b")
    assert c.reach == 0.0 and c.impact == {}
    assert b.break_rate == 0.0 and b.impact["won"]["recoverable"] == 0.0
    nobody = next(x for x in doc["barriers"] if x["id"] == "nobody")
    assert nobody["status"] == "not_held" and nobody["prevalence"] == 0.0
    assert doc["drivers"]["score"] and doc["emotion"]["curve"]
    assert doc["portfolio"]["chosen"]  # fewer breaks at a keep more cases going
    assert sum(d["importance"] for d in doc["drivers"]["score"]) == pytest.approx(
        doc["drivers_fit"]["score"]["r2"]
    )


def test_a_single_case(tmp_path: Path) -> None:
    events, cases = _data(1, seed=1)
    _, doc = _run(tmp_path, events=events, cases=cases)
    _said(doc, "only 1 case")
    assert doc["n_cases"] == 1
    assert doc["drivers"] == {}  # nothing to correlate, and not invented
    assert all(m["reach"] in (0.0, 1.0) for m in doc["moments"])


def test_all_cases_identical(tmp_path: Path) -> None:
    events, cases = _data(40, identical=True)
    result, doc = _run(tmp_path, events=events, cases=cases)
    _said(doc, "moment 'a': no case ever passed it without breaking it", "to measure drivers")
    assert [m["reach"] for m in doc["moments"]] == [1.0, 1.0, 0.0]
    assert result.key_moments("user") == [] and result.key_moments("provider") == []
    assert doc["drivers"] == {}
    worry = next(x for x in doc["barriers"] if x["id"] == "worry")
    assert worry["status"] == "no_model" and worry["prevalence"] == 0.0  # every case broke a


def test_an_outcome_with_no_variance(tmp_path: Path) -> None:
    events, cases = _data(200, seed=2)
    result, doc = _run(tmp_path, events=events, cases=cases.assign(score=5.0))
    _said(doc, "outcome 'score'")
    assert doc["outcomes"][1]["mean"] == 5.0
    assert result.moment("a").impact["score"]["recoverable"] == pytest.approx(0, abs=1e-9)
    assert "score" not in doc["drivers"]


def test_a_survey_with_one_respondent(tmp_path: Path) -> None:
    _, cases = _data(1, seed=4)
    _, doc = _run(tmp_path, cases=cases)
    _said(doc, "to measure drivers")
    assert doc["n_cases"] == 1 and doc["method"]["survey_only"] is True
    assert doc["drivers"] == {}
    assert [p["mean"] for p in doc["emotion"]["curve"]] == [cases["ra"][0], cases["rb"][0]]


def test_a_survey_with_identical_answers(tmp_path: Path) -> None:
    _, cases = _data(30, identical=True)
    _, doc = _run(tmp_path, cases=cases)
    _said(doc, "to measure drivers")
    assert doc["drivers"] == {}
    assert all(p["ci"] == [7.0, 7.0] for p in doc["emotion"]["curve"])


def test_missing_ratings_count_only_moments_reached() -> None:
    """The demo skips 20% of the ratings of moments a case reached, and no others."""
    ex = keymoments.examples.load_health_check(n_cases=1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MissingRatingsWarning)
        keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=0)
    (message,) = [str(w.message) for w in caught if w.category is MissingRatingsWarning]
    share = float(re.search(r"([\d.]+)% of the ratings are missing among", message)[1])  # type: ignore[index]
    assert 18.0 < share < 22.0, message
