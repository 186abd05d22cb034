"""Spark gives the same summaries and the same results as DuckDB (to 1e-9).

On both built-in examples (small, to keep the suite fast) and on a real log
(Sepsis, read from its gzipped CSV by Spark itself), end to end: every figure
of the JSON result, the bootstrap intervals included (the bootstrap resamples
the summaries, so equal summaries and seeds give equal intervals).
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import keymoments
from keymoments.analysis import analyse
from keymoments.cli import app
from keymoments.data.engine import Engine
from keymoments.data.readers import read_cases, read_events
from keymoments.journey.summaries import summarise_journeys

pytestmark = pytest.mark.xdist_group("spark")

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "data" / "real"
BOOT = 30


def assert_same(a: Any, b: Any, where: str = "result", tol: float = 1e-9) -> None:
    """Equal structures; numbers equal to ``tol`` (relative or absolute)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}.{k}", tol)
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]", tol)
    elif isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            assert a is b, where
        elif math.isnan(a):
            assert math.isnan(b), where
        else:
            assert b == pytest.approx(a, rel=tol, abs=tol), where
    else:
        assert a == b, where


@pytest.mark.parametrize("example", ["health-check", "car-purchase"])
def test_examples_same_result(duck: Engine, spark: Engine, example: str) -> None:
    ex = keymoments.examples.load_example(example, n_cases=1200, seed=3)
    results = [
        analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=BOOT, engine=engine)
        for engine in (duck, spark)
    ]
    a, b = (r.to_dict() for r in results)
    assert a["n_cases"] == 1200
    assert_same(a, b)
    pd.testing.assert_frame_equal(results[1].summary, results[0].summary)


@pytest.mark.parametrize("example", ["health-check", "car-purchase"])
def test_examples_same_summaries(duck: Engine, spark: Engine, example: str, tmp_path: Path) -> None:
    ex = keymoments.examples.load_example(example, n_cases=800, seed=5)
    ex.events.to_parquet(tmp_path / "events.parquet")
    ex.cases.to_csv(tmp_path / "cases.csv", index=False)
    out = []
    for engine in (duck, spark):
        log = read_events(tmp_path / "events.parquet", columns=ex.service.columns, engine=engine)
        cases = read_cases(tmp_path / "cases.csv", case_id="case_id", engine=engine)
        out.append(summarise_journeys(log.table, ex.service, engine, cases=cases.table))
    a, b = out
    assert a.signatures["sig"].str.len().max() > 10  # real journeys, several moments long
    pd.testing.assert_frame_equal(b.signatures, a.signatures, check_dtype=False)
    pd.testing.assert_frame_equal(b.waits, a.waits, check_dtype=False, rtol=1e-9)
    pd.testing.assert_frame_equal(b.unmapped, a.unmapped, check_dtype=False)
    assert (b.n_events, b.n_events_mapped, b.n_cases) == (a.n_events, a.n_events_mapped, a.n_cases)
    assert b.segment_bins == a.segment_bins


def test_signatures_against_plain_python(spark: Engine, tmp_path: Path) -> None:
    """Journeys built by hand: ties broken by file order, repeated visits, empty journeys."""
    svc = keymoments.Service.model_validate(
        {
            "version": 1,
            "name": "tiny",
            "moments": [
                {"id": "a", "reached": ["a", "a_fail"], "broken": ["a_fail"]},
                {"id": "b", "reached": ["b"]},
            ],
            "outcomes": [{"id": "won", "perspective": "provider", "reached": ["won"]}],
        }
    )
    rows = [
        ("1", "a", "2020-01-01 10:00"),
        ("1", "a_fail", "2020-01-01 10:00"),  # same time: file order decides
        ("1", "a", "2020-01-01 11:00"),
        ("1", "b", "2020-01-01 12:00"),
        ("1", "won", "2020-01-01 12:00"),
        ("2", "b", "2020-01-02 09:00"),
        ("2", "a", "2020-01-01 09:00"),  # earlier in time, later in the file
        ("3", "other", "2020-01-01 09:00"),  # reaches nothing
    ]
    pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"]).to_csv(
        tmp_path / "e.csv", index=False
    )
    log = read_events(tmp_path / "e.csv", columns=svc.columns, engine=spark)
    sigs = summarise_journeys(log.table, svc, spark).signatures
    # codes: a:ok 0, a:broken 1, b:ok 2, b:broken 3, won 4
    assert dict(zip(sigs["sig"], sigs["n"], strict=True)) == {"1.0.2.4": 1, "0.2": 1, "": 1}


def test_real_log_same_result(duck: Engine, spark: Engine) -> None:
    svc = keymoments.load_service(ROOT / "examples" / "sepsis" / "service.yaml")
    events = REAL / "sepsis_cases_eventlog.csv.gz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", keymoments.DataWarning)  # 55 moves at one instant
        a, b = (
            analyse(svc, events=events, bootstrap=20, engine=engine).to_dict()
            for engine in (duck, spark)
        )
    assert a["n_cases"] == 1050
    assert a["data"]["order"]["tied_transitions"] == 55
    assert_same(a, b)


def test_a_log_recorded_as_real_logs_are_same_result(duck: Engine, spark: Engine) -> None:
    # journeys going on after the outcome, one activity for two outcomes, date-only
    # appointments with same-day bookings, ties in a shuffled file, a late-results rule
    # and money from a value column: every figure the same on both engines, and the
    # same twice on each
    sys.path.insert(0, str(ROOT / "tests" / "journey"))
    import realistic

    cases, events = realistic.simulate(8_000, seed=11, events=True)
    svc = keymoments.parse_service(realistic.SERVICE)
    docs = []
    for engine in (duck, spark, duck, spark):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", keymoments.DataWarning)
            result = analyse(svc, events=events, cases=cases, bootstrap=20, engine=engine)
        docs.append(result.to_dict())
    assert docs[0]["data"]["order"]["date_only_placed"] > 0
    assert docs[0]["data"]["time_breaks"][0]["events"] > 0
    assert_same(docs[0], docs[1])
    assert json.dumps(docs[0]) == json.dumps(docs[2])
    assert json.dumps(docs[1]) == json.dumps(docs[3])


def test_command_line_engine_spark(spark: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    keymoments.examples.write_example("car-purchase", folder, n_cases=600, seed=2)
    runner = CliRunner()
    docs = []
    for engine in ("duckdb", "spark"):
        out = tmp_path / f"{engine}.json"
        args = ["analyse", str(folder / "service.yaml"), "--engine", engine]
        args += ["--bootstrap", "10", "--json", str(out), "--quiet"]
        done = runner.invoke(app, args)
        assert done.exit_code == 0, done.output
        docs.append(json.loads(out.read_text()))
    assert_same(docs[0], docs[1])


def test_spark_master_needs_the_spark_engine(tmp_path: Path) -> None:
    done = CliRunner().invoke(
        app, ["analyse", "x.yaml", "--engine", "duckdb", "--spark-master", "local[2]"]
    )
    assert done.exit_code == 2
    assert "--engine spark" in done.output


def test_barrier_patterns_same_on_both_engines(duck: Engine, spark: Engine, tmp_path: Path) -> None:
    from keymoments.experience.barrier_summaries import summarise_barriers

    ex = keymoments.examples.load_example("health-check", n_cases=800, seed=6)
    assert ex.service.barriers
    ex.events.to_parquet(tmp_path / "events.parquet")
    ex.cases.to_csv(tmp_path / "cases.csv", index=False)
    out = []
    for engine in (duck, spark):
        log = read_events(tmp_path / "events.parquet", columns=ex.service.columns, engine=engine)
        cases = read_cases(tmp_path / "cases.csv", case_id="case_id", engine=engine)
        summary = summarise_barriers(log.table, ex.service, engine, cases=cases.table)
        assert summary is not None
        out.append(summary)
    a, b = out
    assert a.moments.keys() == b.moments.keys() and a.moments
    assert a.columns == b.columns
    for moment, left in a.moments.items():
        right = b.moments[moment]
        assert (right.n_cases, right.n_reached) == (left.n_cases, left.n_reached)
        keys = [*left.table.columns.drop("n")]
        pd.testing.assert_frame_equal(
            right.table.sort_values(keys).reset_index(drop=True),
            left.table.sort_values(keys).reset_index(drop=True),
            check_dtype=False,
        )


def test_rating_patterns_same_on_both_engines(duck: Engine, spark: Engine, tmp_path: Path) -> None:
    """The drivers' answer patterns: same rows, same order, same counts (draws depend on it)."""
    from keymoments.experience.ratings import summarise_ratings

    ex = keymoments.examples.load_example("car-purchase", n_cases=800, seed=6)
    ex.cases.to_csv(tmp_path / "cases.csv", index=False)
    out = []
    for engine in (duck, spark):
        cases = read_cases(tmp_path / "cases.csv", case_id="case_id", engine=engine)
        out.append(summarise_ratings(cases.table, ex.service, engine))
    a, b = out
    assert a.moments == b.moments and a.outcomes == b.outcomes and len(a.n) > 100
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.n, b.n)
    np.testing.assert_array_equal(a.segment, b.segment)
    assert a.non_numeric == b.non_numeric


def test_memory_and_the_model_check_same_on_both_engines(duck: Engine, spark: Engine) -> None:
    # a pathway that remembers a missed appointment: memory chosen and checked on the
    # journey summaries, so both engines choose, fit and check alike
    sys.path.insert(0, str(ROOT / "tests" / "journey"))
    import remembering

    cases, events = remembering.simulate(6_000, seed=2, events=True)
    svc = keymoments.parse_service(remembering.SERVICE)
    docs = [
        analyse(svc, events=events, cases=cases, bootstrap=20, engine=engine).to_dict()
        for engine in (duck, spark)
    ]
    assert docs[0]["method"]["memory"]["chosen"] == ["appointment"]
    assert_same(docs[0], docs[1])
