"""Property tests: whatever events are written, reading them back accounts for every row."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from keymoments.data.engine import Engine, connect
from keymoments.data.readers import read_events
from keymoments.errors import DataError
from keymoments.model import ColumnMap
from keymoments.testing import event_frames

ENGINE: Engine = connect()
PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _write(frame: pd.DataFrame, fmt: str, folder: Path) -> Path:
    frame = frame.copy()
    frame.attrs = {}  # the expected values are for the test, not the file
    if fmt == "csv":
        path = folder / "events.csv"
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        path = folder / "events.parquet"
        frame.astype("string").to_parquet(path, index=False)
    else:
        path = folder / "events.jsonl"
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    return path


def _check(frame: pd.DataFrame, fmt: str) -> None:
    expected = frame.attrs["expected"]
    good = [i for i, e in enumerate(expected) if e is not None]
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(frame, fmt, Path(tmp))
        if not good:
            with pytest.raises(DataError):
                read_events(path, columns=ColumnMap(), engine=ENGINE)
            return
        log = read_events(path, columns=ColumnMap(), engine=ENGINE)
    report = log.report
    assert report.rows == len(frame)
    assert report.used == len(good)
    assert report.rows == report.used + report.n_set_aside
    got = ENGINE.to_pandas(log.table.order_by("row"))
    assert got["row"].tolist() == [i + 1 for i in good]
    want_cases = [str(frame["case_id"].iloc[i]).strip() for i in good]
    assert got["case_id"].tolist() == want_cases
    assert got["timestamp"].tolist() == [pd.Timestamp(expected[i]) for i in good]
    aside = ENGINE.to_pandas(report.set_aside_rows)
    assert sorted(aside["row"]) == [i + 1 for i, e in enumerate(expected) if e is None]


@PROPERTY
@given(event_frames())
def test_csv_round_trip(frame: pd.DataFrame) -> None:
    _check(frame, "csv")


@PROPERTY
@given(event_frames())
def test_parquet_round_trip(frame: pd.DataFrame) -> None:
    _check(frame, "parquet")


@PROPERTY
@given(event_frames())
def test_jsonl_round_trip(frame: pd.DataFrame) -> None:
    _check(frame, "jsonl")
