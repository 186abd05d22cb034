"""Comments on Spark: the same coding, counts, quotes and themes-as-barriers as DuckDB."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from test_spark_analysis import assert_same

import keymoments
from keymoments.data.engine import Engine
from keymoments.errors import DataWarning
from keymoments.experience.comments.build import describe_comments
from keymoments.experience.comments.coding import code_themes, theme_column

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "experience" / "comments"))
from planted_comments import generate, service

pytestmark = pytest.mark.xdist_group("spark")


def _service() -> keymoments.Service:
    svc = service()
    # one theme whose expression only Python reads (\b): coded on the distinct comments
    extra = keymoments.model.Theme(
        id="gp_only", comments="worries", patterns=["/\\bgp\\b/", "nurse"]
    )
    return svc.model_copy(update={"themes": [*svc.themes, extra]})


def _codes(engine: Engine, cases: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, object]]:
    svc = _service()
    coded = code_themes(svc, engine.from_arrow(cases), engine)
    cols = [theme_column(svc, t.id) for t in svc.themes]
    frame = engine.to_pandas(coded.cases.select("case_id", *cols))
    frame = frame.sort_values("case_id").reset_index(drop=True)
    said = describe_comments(coded, engine, suggest=4, limit=500)
    return frame, said.to_dict()


def test_same_codes_counts_quotes_and_suggestions(duck: Engine, spark: Engine) -> None:
    _, cases = generate(2000, seed=6)
    cases = cases.astype({"worries_text": "string"})
    a, said_a = _codes(duck, cases)
    b, said_b = _codes(spark, cases)
    pd.testing.assert_frame_equal(
        a.astype("Int64", errors="ignore"), b.astype("Int64", errors="ignore"), check_dtype=False
    )
    assert a.iloc[:, 1:].notna().all(axis=1).sum() < len(a)  # some blanks
    assert_same(said_a, said_b, "comments")


def test_same_analysis_with_themes_as_barriers(duck: Engine, spark: Engine) -> None:
    events, cases = generate(1500, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        a = keymoments.analyse(_service(), events=events, cases=cases, engine=duck, bootstrap=20)
        b = keymoments.analyse(_service(), events=events, cases=cases, engine=spark, bootstrap=20)
    assert_same(a.to_dict(), b.to_dict())
    assert {e["source"] for e in a.to_dict()["barriers"]} == {"comments"}
