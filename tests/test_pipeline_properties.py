"""Properties of the whole analysis on random services and journeys (hypothesis).

Whatever the structure: no crash, strict JSON, reach and break rates exactly as
counted by hand, and the observed chain reproduces the observed outcomes
(maximum-likelihood chains conserve flow; least squares with an intercept
reproduces the mean).
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keymoments
from keymoments.data.engine import connect
from keymoments.data.readers import read_cases, read_events
from keymoments.journey.fit import JourneyData, evaluate
from keymoments.journey.summaries import summarise_journeys
from keymoments.testing import journeys, services


@st.composite
def service_and_data(draw: st.DrawFn, missing_scores: bool = True):
    service = draw(services())
    events, cases = draw(journeys(service, missing_scores=missing_scores))
    return service, events, cases


def _run(service, events, cases) -> keymoments.AnalysisResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", keymoments.KeymomentsWarning)
        return keymoments.analyse(service, events=events, cases=cases)


def _has_mapped(service, events) -> bool:
    known = {a for m in service.moments for a in m.activities} | {"won"}
    return bool(events["activity"].isin(known).any())


SETTINGS = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(service_and_data())
def test_counts_and_json(data) -> None:
    service, events, cases = data
    if not _has_mapped(service, events):
        with pytest.raises(keymoments.DataError, match="none of the"):
            _run(service, events, cases)
        return
    result = _run(service, events, cases)
    json.dumps(result.to_dict(), allow_nan=False)
    n_cases = events["case_id"].nunique()
    assert result.n_cases == n_cases
    for m in service.moments:
        got = result.moment(m.id)
        reached = set(events.loc[events["activity"].isin(m.activities), "case_id"])
        broke = set(events.loc[events["activity"].isin(m.broken), "case_id"])
        assert got.reach == pytest.approx(len(reached) / n_cases)
        if m.breakable and reached:
            assert got.break_rate == pytest.approx(len(broke) / len(reached))
        assert 0 <= got.reach <= 1 and 0 <= got.break_rate <= 1
        for imp in got.impact.values():
            assert np.isfinite(imp["recoverable"])
            if not broke:  # a moment that never broke has nothing to recover
                assert imp["recoverable"] == pytest.approx(0, abs=1e-9)
    won = events.loc[events["activity"] == "won", "case_id"].nunique() / n_cases
    assert result.outcome_means[0] == pytest.approx(won)


@SETTINGS
@given(service_and_data(missing_scores=False))
def test_observed_chain_reproduces_the_observed_outcomes(data) -> None:
    service, events, cases = data
    if not _has_mapped(service, events):
        return
    engine = connect()

    with tempfile.TemporaryDirectory() as folder:
        e_path, c_path = Path(folder) / "e.csv", Path(folder) / "c.csv"
        events.to_csv(e_path, index=False)
        cases.to_csv(c_path, index=False)
        log = read_events(e_path, columns=service.columns, engine=engine)
        case_table = read_cases(c_path, case_id="case_id", engine=engine)
        summary = summarise_journeys(log.table, service, engine, cases=case_table.table)
    data_ = JourneyData.from_summary(summary)
    point = evaluate(data_, service, data_.n)
    n_cases = events["case_id"].nunique()
    won = events.loc[events["activity"] == "won", "case_id"].nunique() / n_cases
    assert point.outcome_mean[0] == pytest.approx(won, abs=1e-9)
    assert point.outcome_mean[1] == pytest.approx(cases["score"].mean(), abs=1e-6)
