"""The bad-input corpus on Spark: what DuckDB refuses Spark refuses, what it reads Spark reads.

Every events and cases file of ``tests/robustness/corpus`` is read by both
engines: a file DuckDB refuses, Spark must refuse with the same message (but for
the engine's own reason in brackets at its end); a file
DuckDB reads, Spark must read to the same rows, with the same rows set aside
for the same reasons. A whole ``keymoments analyse --engine spark`` (tens of
seconds each on a local Spark) runs on the files whose damage reaches past the
readers, with the figures DuckDB gives for the same file.

The service models (``model_*.yaml``) are left out: they are refused, or read,
before any engine starts. Two files are read differently, and marked so: Spark
reads CSV line by line, so a quoted field holding a line break
(``events_quoted_fields.csv``) is two malformed lines there, and it honours a
quote that DuckDB's sniffer, finding the file's quoting inconsistent, reads as
a character (``events_unclosed_quote.csv``: Spark sets the line aside, DuckDB
reads ``"attended`` as an activity that marks nothing). Both are counted on
both engines, never silently lost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.robustness.test_bad_input_corpus import (
    CASES,
    CORPUS,
    SERVICE,
    Analysed,
    Refused,
    _arguments,
    _figures,
    _strict,
)
from tests.spark.test_spark_analysis import assert_same
from typer.testing import CliRunner

from keymoments.cli import app
from keymoments.data.engine import Engine
from keymoments.data.readers import read_cases, read_events
from keymoments.errors import DataError
from keymoments.model import load_service

pytestmark = pytest.mark.xdist_group("spark")

runner = CliRunner()
DATA_CASES = [c for c in CASES if not c.file.startswith("model_")]
READ_APART = {
    "events_quoted_fields.csv": "Spark splits a quoted field's line break into two lines",
    "events_unclosed_quote.csv": "Spark honours a quote DuckDB's sniffer reads as text",
}
# damage that reaches past the readers: analysed whole on Spark too
ANALYSED = ("cases_non_finite.csv", "cases_not_numbers.csv", "events_bare_cr.csv.gz")


def _read(path: Path, engine: Engine) -> Any:
    columns = load_service(SERVICE).columns
    if path.name.startswith("cases_"):
        return read_cases(path, case_id="case_id", engine=engine)
    return read_events(path, columns=columns, engine=engine)


def _rows(engine: Engine, read: Any) -> list[tuple[Any, ...]]:
    frame = engine.to_pandas(read.table)
    key = "row" if "row" in frame.columns else "case_id"
    frame = frame.sort_values(key).reset_index(drop=True)
    keys = [c for c in ("case_id", "activity", "timestamp", "row") if c in frame.columns]
    return [tuple(r) for r in frame[keys].astype(str).itertuples(index=False)]


def _ours(message: str) -> str:
    """A refusal without the engine's reason, which ends it in brackets."""
    return message.split(" (", 1)[0]


def _params() -> list[Any]:
    out = []
    for case in DATA_CASES:
        marks = []
        if case.file in READ_APART:
            marks.append(pytest.mark.xfail(reason=READ_APART[case.file], strict=True))
        out.append(pytest.param(case, id=case.file, marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_corpus_file_reads_alike_on_spark(
    duck: Engine, spark: Engine, case: Refused | Analysed
) -> None:
    path = CORPUS / case.file
    try:
        expected = _read(path, duck)
    except DataError as refused:
        with pytest.raises(DataError) as also:
            _read(path, spark)
        # keymoments' words alike; the engine's own reason, in brackets, is its own
        assert _ours(str(also.value)) == _ours(str(refused))
        return
    got = _read(path, spark)
    a, b = expected.report, got.report
    assert (b.rows, b.used, b.set_aside) == (a.rows, a.used, a.set_aside)
    assert _rows(spark, got) == _rows(duck, expected)


@pytest.mark.parametrize("file", ANALYSED)
def test_corpus_file_analysed_alike_on_spark(spark: Engine, file: str, tmp_path: Path) -> None:
    (case,) = [c for c in CASES if c.file == file]
    assert isinstance(case, Analysed)
    args = _arguments(file, tmp_path)
    docs = []
    for engine in ("spark", "duckdb"):
        res = runner.invoke(app, [*args, "--engine", engine, "--json", str(tmp_path / engine)])
        if res.exception is not None and not isinstance(res.exception, SystemExit):
            raise res.exception
        assert res.exit_code == 0, res.output
        docs.append(_strict((tmp_path / engine).read_text()))
    spark_doc, duck_doc = docs
    (report,) = [f for f in spark_doc["data"]["files"] if f["file"] == file]
    assert report["set_aside"] == case.set_aside
    for word in case.warns:
        assert any(word in w for w in spark_doc["warnings"]), spark_doc["warnings"]
    assert_same(_figures(duck_doc), _figures(spark_doc), file)
    json.dumps(spark_doc, allow_nan=False)
