"""Spark gives the same per-period summaries as DuckDB: visits per period and moment,
journeys per cohort, the log's span and its cases' 90th-percentile duration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keymoments.data.engine import Engine
from keymoments.data.readers import read_cases, read_events
from keymoments.model import parse_service
from keymoments.monitoring import simulate_rollout
from keymoments.monitoring.planted import _MODEL
from keymoments.monitoring.summaries import summarise_periods

pytestmark = pytest.mark.xdist_group("spark")

# the planted clinic, with a time rule on the results (late: over 4 days after the visit)
TIMED = _MODEL.format(effect=-0.4, effect_lo=-0.6, effect_hi=-0.2, date="2024-02-05").replace(
    "broken: [results_not_shared]}",
    "broken: [results_not_shared], broken_if: {waited_over: 4d, since: [appointment_attended]}}",
)


def test_same_period_summaries(duck: Engine, spark: Engine, tmp_path: Path) -> None:
    ex = simulate_rollout(weeks=12, cases_per_week=60, change_week=5, seed=11)
    service = parse_service(TIMED)
    events = ex.events.copy()
    # the results' activities as dates only (exports often drop the time of day)
    dated = events["activity"].isin(["results_shared", "results_not_shared"])
    events.loc[dated, "timestamp"] = events.loc[dated, "timestamp"].dt.normalize()
    events.to_parquet(tmp_path / "events.parquet")
    ex.cases.to_csv(tmp_path / "cases.csv", index=False)
    out = []
    for engine in (duck, spark):
        log = read_events(tmp_path / "events.parquet", columns=service.columns, engine=engine)
        cases = read_cases(tmp_path / "cases.csv", case_id="case_id", engine=engine)
        out.append(summarise_periods(log.table, service, engine, cases=cases.table))
    a, b = out
    assert a.visits["broken"].sum() > 0 and len(a.visits) >= 40
    pd.testing.assert_frame_equal(b.visits, a.visits, check_dtype=False)
    pd.testing.assert_frame_equal(b.cohorts.signatures, a.cohorts.signatures, check_dtype=False)
    assert (b.log_start, b.log_end, b.n_cases) == (a.log_start, a.log_end, a.n_cases)
    assert b.horizon_s == pytest.approx(a.horizon_s, rel=1e-9)
    assert a.cohorts.signatures["segment"].str.match(r"\d{4}-\d{2}-\d{2}").all()


def test_visits_per_period_against_plain_python(spark: Engine) -> None:
    """Visits cut by hand: a broken event closes its visit; another moment or an outcome
    between two events of one moment makes two visits; the visit's last event dates it."""
    service = parse_service(
        """
version: 1
name: tiny
moments:
  - {id: a, reached: [a_ok, a_bad], broken: [a_bad]}
  - {id: b, reached: [b_ok, b_bad], broken: [b_bad]}
outcomes: [{id: won, perspective: provider, reached: [won]}]
"""
    )
    rows = [
        # case 1: a_ok a_bad (one visit, broken, dated by a_bad in week 2), b_ok
        ("1", "a_ok", "2024-01-05 10:00"),
        ("1", "a_bad", "2024-01-08 10:00"),
        ("1", "b_ok", "2024-01-09 10:00"),
        # case 2: a_bad | a_ok (a broken event closes its visit), won, a_ok (a new visit)
        ("2", "a_bad", "2024-01-02 10:00"),
        ("2", "a_ok", "2024-01-03 10:00"),
        ("2", "won", "2024-01-03 11:00"),
        ("2", "a_ok", "2024-01-16 10:00"),
        # case 3: unmapped only
        ("3", "other", "2024-01-04 10:00"),
    ]
    frame = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    frame["row"] = np.arange(1, len(frame) + 1)
    expected = pd.DataFrame(
        {
            "period": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-08"]),
            "moment": ["a", "a", "a", "b"],
            "visits": [2, 1, 1, 1],
            "broken": [1, 1, 0, 0],
        }
    )
    by_month = pd.DataFrame(
        {
            "period": pd.to_datetime(["2024-01-01", "2024-01-01"]),
            "moment": ["a", "b"],
            "visits": [4, 1],
            "broken": [2, 0],
        }
    )
    for engine in (Engine("duckdb"), spark):
        table = engine.from_arrow(frame)
        got = summarise_periods(table, service, engine)
        pd.testing.assert_frame_equal(got.visits, expected, check_dtype=False)
        assert got.n_cases == 3
        cohorts = sorted(set(got.cohorts.signatures["segment"]))
        assert cohorts == ["2024-01-01"]
        months = summarise_periods(table, service, engine, every="month")
        pd.testing.assert_frame_equal(months.visits, by_month, check_dtype=False)
