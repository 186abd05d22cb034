"""Fuzzing the readers and the model loader with hypothesis.

Whatever the bytes, reading either works or raises the project's own error
(DataError for data, ModelError for the model), never another exception; data
written validly reads back as it was. The budget is fixed by the ``fuzz``
settings profile (examples per test, no per-example deadline since the
machine is shared); ``KEYMOMENTS_FUZZ_EXAMPLES=5000`` runs a longer campaign.
"""

from __future__ import annotations

import io
import json
import math
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


# -- non-finite numbers and markup names, through the whole analysis ----------------------

# Spellings of numbers no mean can use (the float parser reads every one), and of
# names a terminal library would take for its own markup.
NON_FINITE = ("inf", "-inf", "Infinity", " INF ", "nan", "NaN", "1e999", "-1e999")
MARKUP_NAMES = ("[/unknown]", "[bold]x[/bold]", "[link=file:///etc]y[/link]", "\\[", "[/]")

# Finite answers up to 10^9: far past any scale, short of the magnitudes (about
# 10^77) whose fourth powers overflow the drivers' sums (see docs/robustness.md).
_answer = st.one_of(
    st.integers(1, 5).map(str),
    st.sampled_from(NON_FINITE),
    st.one_of(st.floats(-1e9, 1e9), st.sampled_from([math.nan, math.inf, -math.inf])).map(repr),
    st.just(""),
)
_markup_name = st.one_of(
    st.sampled_from(MARKUP_NAMES),
    st.text(alphabet="[]/=#@abc ", min_size=1, max_size=12).filter(lambda t: t.strip() == t),
)


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@settings(FUZZ, max_examples=max(5, FUZZ.max_examples // 3))  # a whole analysis each
@given(
    st.lists(_answer, min_size=12, max_size=12),
    st.lists(_answer, min_size=12, max_size=12),
    st.lists(_markup_name, min_size=1, max_size=3, unique=True),
    _markup_name,
)
def test_non_finite_numbers_and_markup_names_through_the_analysis(
    engine: Engine, satisfaction: list[str], ratings: list[str], names: list[str], title: str
) -> None:
    """An outcome's mean uses its finite values only, counted in a warning; no numpy
    warning escapes; the JSON is strict; markup names print as typed."""
    import warnings

    from rich.console import Console

    import keymoments
    from keymoments.errors import KeymomentsWarning
    from keymoments.report.terminal import render_terminal

    events = pd.read_csv(CORPUS / "events.csv", dtype=str)
    extra = pd.DataFrame({"case_id": "c01", "activity": names, "timestamp": "2024-03-01T07:00:00Z"})
    cases = pd.read_csv(CORPUS / "cases.csv", dtype=str)
    cases["satisfaction"] = satisfaction
    cases["rating_visit"] = ratings
    model = CLEAN_MODEL.replace("name: Corpus clinic", f"name: {json.dumps(title)}")
    model = model.replace("\ndata: {events: events.csv, cases: cases.csv}", "")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pd.concat([events, extra]).to_csv(folder / "events.csv", index=False)
        cases.to_csv(folder / "cases.csv", index=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KeymomentsWarning)
            warnings.simplefilter("error", RuntimeWarning)  # numpy's NaN arithmetic
            result = keymoments.analyse(
                parse_service(model, file="fuzz.yaml"),
                events=folder / "events.csv",
                cases=folder / "cases.csv",
                engine=engine,
                bootstrap=0,
            )
            doc = json.loads(json.dumps(result.to_dict(), allow_nan=False))
            out = Console(file=io.StringIO(), width=400)
            render_terminal(result, out)
    finite = [v for v in map(_finite, satisfaction) if v is not None]
    mean = next(o["mean"] for o in doc["outcomes"] if o["id"] == "satisfaction")
    if finite:
        assert mean == pytest.approx(sum(finite) / len(finite), rel=1e-9, abs=1e-9)
    else:
        assert mean is None
    unusable = sum(1 for v in satisfaction if v.strip() and _finite(v) is None)
    said = [w for w in doc["warnings"] if "satisfaction': " in w and "not finite" in w]
    if unusable:
        assert said and said[0].startswith(f"outcome 'satisfaction': {unusable:,} values"), said
    else:
        assert not any(w.startswith("outcome 'satisfaction'") for w in said), said
    shown = out.file.getvalue()  # type: ignore[attr-defined]
    assert title in shown
    for name in names:
        assert name in shown, name


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
