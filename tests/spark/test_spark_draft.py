"""keymoments init on Spark: the same columns, activities and draft as on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from keymoments.data.engine import Engine
from keymoments.draft import draft_model

pytestmark = pytest.mark.xdist_group("spark")

SEPSIS = Path(__file__).resolve().parents[1] / "data" / "real" / "sepsis_cases_eventlog.csv.gz"


def test_the_sepsis_draft_is_the_same_on_both_engines(duck: Engine, spark: Engine) -> None:
    a = draft_model(SEPSIS, engine=duck)
    b = draft_model(SEPSIS, engine=spark)
    assert b.columns == a.columns
    assert (b.n_cases, b.n_events) == (a.n_cases, a.n_events)
    pd.testing.assert_frame_equal(b.activities, a.activities)
    assert b.to_yaml() == a.to_yaml()
