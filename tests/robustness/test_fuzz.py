"""Fuzzing the readers and the model loader with hypothesis.

Whatever the bytes, reading either works or raises the project's own error
(DataError for data, ModelError for the model), never another exception; data
written validly reads back as it was. The budget is fixed by the ``fuzz``
settings profile (examples per test, no per-example deadline since the
machine is shared); ``KEYMOMENTS_FUZZ_EXAMPLES=5000`` runs a longer campaign.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keymoments.data.engine import Engine, connect
from keymoments.data.readers import read_cases, read_events
from keymoments.errors import DataError, ModelError
from keymoments.model import ColumnMap, Service, parse_service
from keymoments.testing import event_frames, model_documents, mutated, services

settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("KEYMOMENTS_FUZZ_EXAMPLES", "30")),
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("fuzz")

CORPUS = Path(__file__).parent / "corpus"
CLEAN_CSV = (CORPUS / "events.csv").read_bytes()
CLEAN_CASES = (CORPUS / "cases.csv").read_bytes()
CLEAN_XES = (CORPUS / "events_missing_attributes.xes").read_bytes()
CLEAN_JSONL = (CORPUS / "events_bad_lines.jsonl").read_bytes()
CLEAN_MODEL = (CORPUS / "service.yaml").read_text()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return connect()


def _read(engine: Engine, name: str, raw: bytes, *, cases: bool = False) -> object | None:
    """Read ``raw`` as the file ``name``; None when it was refused with a DataError."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(raw)
        try:
            if cases:
                table = read_cases(path, case_id="case_id", engine=engine)
            else:
                table = read_events(path, columns=ColumnMap(), engine=engine)
        except DataError as exc:
            assert name in str(exc)  # the message names the file
            return None
        report = table.report
        assert report.rows == report.used + report.n_set_aside
        assert report.used > 0
        engine.to_pandas(table.table.limit(5))  # the table is really readable
        return table


# -- arbitrary and damaged files: read, or a DataError --------------------------------


@FUZZ
@given(st.binary(max_size=2048), st.sampled_from(["e.csv", "e.jsonl", "e.xes", "e.parquet"]))
def test_arbitrary_bytes(engine: Engine, raw: bytes, name: str) -> None:
    _read(engine, name, raw)


@FUZZ
@given(mutated(CLEAN_CSV))
def test_damaged_csv(engine: Engine, raw: bytes) -> None:
    _read(engine, "events.csv", raw)


@FUZZ
@given(mutated(CLEAN_CASES))
def test_damaged_cases_csv(engine: Engine, raw: bytes) -> None:
    _read(engine, "cases.csv", raw, cases=True)


@FUZZ
@given(mutated(CLEAN_XES))
def test_damaged_xes(engine: Engine, raw: bytes) -> None:
    _read(engine, "events.xes", raw)


@FUZZ
@given(mutated(CLEAN_JSONL))
def test_damaged_json_lines(engine: Engine, raw: bytes) -> None:
    _read(engine, "events.jsonl", raw)


def _parquet_bytes() -> bytes:
    frame = pd.read_csv(CORPUS / "events.csv", dtype=str)
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return bytes(sink.getvalue().to_pybytes())


@FUZZ
@given(mutated(_parquet_bytes(), max_edits=2))
def test_damaged_parquet(engine: Engine, raw: bytes) -> None:
    _read(engine, "events.parquet", raw)


# -- valid data round-trips -------------------------------------------------------------


def _xes(frame: pd.DataFrame) -> str:
    """The frame as XES: one trace per case id, events in row order."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<log xes.version="1.0">']
    for case, rows in frame.groupby("case_id", sort=False):
        out.append(f'<trace><string key="concept:name" value={quoteattr(str(case))}/>')
        for activity, ts in zip(rows["activity"], rows["timestamp"], strict=True):
            out.append(
                f'<event><string key="concept:name" value={quoteattr(activity)}/>'
                f'<date key="time:timestamp" value="{ts}"/></event>'
            )
        out.append("</trace>")
    out.append("</log>")
    return "\n".join(out)


@FUZZ
@given(event_frames(bad=False, max_rows=15))
def test_xes_round_trip(engine: Engine, frame: pd.DataFrame) -> None:
    expected = frame.attrs["expected"]
    table = _read(engine, "events.xes", _xes(frame).encode("utf-8"))
    assert table is not None
    got = engine.to_pandas(table.table.order_by("row"))  # type: ignore[attr-defined]
    order = [i for _, rows in frame.groupby("case_id", sort=False) for i in rows.index]
    # case ids are trimmed, as in every other format
    assert got["case_id"].tolist() == [str(frame["case_id"][i]).strip() for i in order]
    assert got["activity"].tolist() == [frame["activity"][i] for i in order]
    assert got["timestamp"].tolist() == [pd.Timestamp(expected[i]) for i in order]


# -- the model loader -------------------------------------------------------------------


def _load(text: str) -> Service | None:
    try:
        return parse_service(text, file="fuzz.yaml")
    except ModelError as exc:
        assert str(exc).startswith("fuzz.yaml")
        assert "\n" not in str(exc).strip()  # one line, no traceback or pydantic dump
        return None


@FUZZ
@given(model_documents())
def test_generated_yaml_documents(document: object) -> None:
    _load(yaml.safe_dump(document, allow_unicode=True))


@FUZZ
@given(mutated(CLEAN_MODEL.encode("utf-8")))
def test_damaged_model(raw: bytes) -> None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return  # load_service refuses non-UTF-8 before parsing (tested in the corpus)
    _load(text)


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_model(text: str) -> None:
    _load(text)


@FUZZ
@given(services())
def test_valid_model_round_trips(service: Service) -> None:
    text = yaml.safe_dump(service.model_dump(mode="json", exclude_none=True), sort_keys=False)
    again = parse_service(text, file="round-trip.yaml")
    again.source = service.source
    assert again == service


def test_profile_budget() -> None:
    """The budget CI runs with (a longer campaign raises it through the environment)."""
    assert FUZZ.max_examples >= 10
    assert FUZZ.deadline is None


def test_an_enormous_model_is_refused_at_once() -> None:
    with pytest.raises(ModelError, match="1,000,018 characters; a service model is a few"):
        parse_service("version: 1\nname: " + "a" * 1_000_000 + "\n", file="big.yaml")
