"""The engine's own promises: a clear message when PySpark is missing, names, patterns."""

from __future__ import annotations

import sys

import pytest

from keymoments.data.engine import ENGINES, Engine, connect, java_pattern
from keymoments.errors import EngineError


def test_missing_pyspark_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "pyspark" or m.startswith("pyspark.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "pyspark", None)  # import pyspark -> ImportError
    with pytest.raises(EngineError, match=r"pip install 'keymoments\[spark\]'"):
        Engine("spark")


def test_unknown_engine() -> None:
    assert ENGINES == ("duckdb", "spark")
    with pytest.raises(EngineError, match="choose one of: duckdb, spark"):
        connect("polars")


def test_java_patterns_for_every_common_format() -> None:
    from keymoments.data.timestamps import COMMON_FORMATS

    assert java_pattern("%m/%d/%Y %I:%M %p") == "MM/dd/yyyy hh:mm a"
    assert java_pattern("%Y%m%d%H%M%S") == "yyyyMMddHHmmss"
    assert java_pattern("%d %b %Y") == "dd MMM yyyy"
    assert java_pattern("%Y-%m-%dT%H:%M") == "yyyy-MM-dd'T'HH:mm"
    for fmt in COMMON_FORMATS:
        assert "%" not in java_pattern(fmt), fmt
