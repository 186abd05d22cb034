"""Small and degenerate data: a sensible result with a warning, or one clear error."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import keymoments
from keymoments import DataError
from keymoments.errors import DataWarning
from keymoments.model import Service

SERVICE = Service.model_validate(
    {
        "version": 1,
        "name": "edge",
        "moments": [
            {"id": "a", "reached": ["a_ok", "a_bad"], "broken": ["a_bad"]},
            {"id": "b", "reached": ["b_ok", "b_bad"], "broken": ["b_bad"]},
            {"id": "c", "reached": ["c_ok", "c_bad"], "broken": ["c_bad"]},
        ],
        "outcomes": [
            {"id": "won", "perspective": "provider", "reached": ["won"]},
            {"id": "score", "perspective": "user", "column": "score"},
        ],
        "segments": ["g"],
    }
)


def _events(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"])


@pytest.fixture(scope="module")
def journeys() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    rows, cases = [], []
    for i in range(300):
        a = "a_bad" if rng.random() < 0.3 else "a_ok"
        rows += [(str(i), a, "2024-01-01"), (str(i), "b_ok", "2024-01-02")]
        if rng.random() < 0.7:
            rows.append((str(i), "won", "2024-01-03"))
        cases.append((str(i), "x" if i > 2 else "tiny", float(rng.normal(5, 1))))
    return _events(rows), pd.DataFrame(cases, columns=["case_id", "g", "score"])


def _analyse(**kwargs) -> tuple[keymoments.AnalysisResult, str]:
    """Run the analysis, keeping keymoments' warnings (the result holds them too)."""
    return _analyse_service(SERVICE, **kwargs)


def _analyse_service(service: Service, **kwargs) -> tuple[keymoments.AnalysisResult, str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", keymoments.KeymomentsWarning)
        result = keymoments.analyse(service, **kwargs)
    ours = [w for w in caught if issubclass(w.category, keymoments.KeymomentsWarning)]
    assert [str(w.message) for w in ours] == result.warnings
    return result, " ".join(result.warnings)


def _strict_json(result: keymoments.AnalysisResult) -> dict:
    return json.loads(json.dumps(result.to_dict(), allow_nan=False))


def test_a_single_case() -> None:
    events = _events(
        [("1", "a_ok", "2024-01-01"), ("1", "b_bad", "2024-01-02"), ("1", "won", "2024-01-03")]
    )
    cases = pd.DataFrame({"case_id": ["1"], "g": ["x"], "score": [5.0]})
    result, messages = _analyse(events=events, cases=cases, bootstrap=10)
    assert "only 1 case;" in messages
    assert "moment 'b': no case ever passed it without breaking it" in messages
    doc = _strict_json(result)
    assert doc["n_cases"] == 1
    assert result.moment("b").impact == {}  # left empty, not invented
    assert result.moment("a").break_rate == 0.0


def test_unreached_unbroken_moments_and_a_tiny_segment(journeys) -> None:
    events, cases = journeys
    result, messages = _analyse(events=events, cases=cases, bootstrap=20)
    assert "moment 'c': none of its activities" in messages
    assert "segment 'tiny' has only 3 cases" in messages
    c = result.moment("c")
    assert c.reach == 0.0 and c.impact == {} and c.quadrant == "minor"
    b = result.moment("b")
    assert b.break_rate == 0.0
    assert b.impact["won"]["recoverable"] == 0.0
    _strict_json(result)


def test_an_outcome_without_variance(journeys) -> None:
    events, cases = journeys
    result, _ = _analyse(events=events, cases=cases.assign(score=3.0), bootstrap=20)
    for m in result.moments:
        for imp in m.impact.values():
            assert np.isfinite(imp["recoverable"])
    assert result.moment("a").impact["score"]["recoverable"] == pytest.approx(0, abs=1e-9)
    assert result.outcome_means[1] == 3.0
    _strict_json(result)


def test_an_outcome_with_no_values(journeys) -> None:
    events, cases = journeys
    result, _ = _analyse(events=events, cases=cases.assign(score=np.nan), bootstrap=10)
    doc = _strict_json(result)
    assert doc["outcomes"][1]["mean"] is None


def test_non_numbers_in_a_numeric_outcome_are_counted(journeys) -> None:
    events, cases = journeys
    cases = cases.assign(score=["n/a"] * 10 + [str(v) for v in cases["score"][10:]])
    _, messages = _analyse(events=events, cases=cases, bootstrap=5)
    assert "outcome 'score': 10 values are not finite numbers" in messages


def test_no_usable_events_is_an_error(journeys) -> None:
    _, cases = journeys
    with pytest.raises(DataError, match="<events DataFrame>: no rows"):
        keymoments.analyse(SERVICE, events=_events([]), cases=cases)


def test_all_cases_identical() -> None:
    rows = []
    for i in range(40):
        rows += [
            (str(i), "a_ok", "2024-01-01"),
            (str(i), "b_ok", "2024-01-02"),
            (str(i), "c_bad", "2024-01-03"),
        ]
    cases = pd.DataFrame({"case_id": [str(i) for i in range(40)], "g": "x", "score": 1.0})
    result, messages = _analyse(events=_events(rows), cases=cases, bootstrap=10)
    assert "moment 'c': no case ever passed it without breaking it" in messages
    assert [m.reach for m in result.moments] == [1.0, 1.0, 1.0]
    assert result.key_moments("user") == [] and result.key_moments("provider") == []
    _strict_json(result)


def test_numeric_segments_are_banded(journeys) -> None:
    events, cases = journeys
    ages = np.random.default_rng(1).integers(18, 90, len(cases))
    service = Service.model_validate(
        {**SERVICE.model_dump(exclude={"source"}), "segments": ["age"]}
    )
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        auto = keymoments.analyse(service, events=events, cases=cases.assign(age=ages), bootstrap=0)
    assert any("segment 'age' is a number" in w and "quartiles" in w for w in auto.warnings)
    q = np.quantile(ages, [0.25, 0.5, 0.75])
    assert f"below {q[0]:g}" in " ".join(auto.warnings)
    chosen = Service.model_validate(
        {
            **SERVICE.model_dump(exclude={"source"}),
            "segments": [{"column": "age", "bins": [40, 65]}],
        }
    )
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        banded = keymoments.analyse(
            chosen, events=events, cases=cases.assign(age=ages), bootstrap=0
        )
    assert not any("is a number" in w for w in banded.warnings)
    assert banded.to_dict()["method"]["segments"] == ["age"]


def test_banded_segment_values_that_are_not_numbers_are_counted(journeys) -> None:
    events, cases = journeys
    ages = np.random.default_rng(1).integers(18, 90, len(cases)).astype(float)
    ages[:5] = [np.inf, -np.inf, np.inf, 1e300 * 1e10, np.nan]  # NaN: missing, not counted
    chosen = Service.model_validate(
        {**SERVICE.model_dump(exclude={"source"}), "segments": [{"column": "age", "bins": [40]}]}
    )
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        result = keymoments.analyse(
            chosen, events=events, cases=cases.assign(age=ages), bootstrap=0
        )
    said = [w for w in result.warnings if w.startswith("segment 'age': ")]
    assert said == [
        "segment 'age': 4 values are not finite numbers (text, NaN or infinity); those "
        "cases fall in no band and are counted as '(missing)'"
    ]


def test_bins_must_increase() -> None:
    with pytest.raises(keymoments.ModelError, match="bins must increase"):
        from keymoments.model import parse_service

        parse_service(
            "version: 1\nname: x\nmoments: [{id: a}]\nsegments: [{column: age, bins: [3, 2]}]\n"
        )


def test_an_outcome_marked_by_a_moments_own_activity() -> None:
    # the sale is the handover itself: the activity marks the moment and the outcome
    service = Service.model_validate(
        {
            "version": 1,
            "name": "shared activity",
            "moments": [
                {
                    "id": "offer",
                    "reached": ["offer_ok", "offer_refused"],
                    "broken": ["offer_refused"],
                },
                {"id": "handover", "reached": ["handed_over"]},
            ],
            "outcomes": [{"id": "sold", "perspective": "provider", "reached": ["handed_over"]}],
        }
    )
    rows = []
    for i in range(200):
        refused = i % 4 == 0
        rows.append((str(i), "offer_refused" if refused else "offer_ok", "2024-01-01"))
        if not refused or i % 8 == 0:
            rows.append((str(i), "handed_over", "2024-01-02"))
    with pytest.warns(DataWarning, match="dates only"):
        result = keymoments.analyse(service, events=_events(rows), bootstrap=20)
    sold = sum(1 for i in range(200) if i % 4 != 0 or i % 8 == 0) / 200
    assert result.outcome_means[0] == pytest.approx(sold)
    assert result.moment("handover").reach == pytest.approx(sold)
    assert result.n_events_mapped == len(rows)  # each event counted once
    # refused offers end in a sale half the time, accepted ones always: fixing recovers
    # the other half of the refused quarter
    assert result.moment("offer").impact["sold"]["recoverable"] == pytest.approx(0.125)


def test_filters_keep_only_the_events_named() -> None:
    service = Service.model_validate(
        {
            **SERVICE.model_dump(exclude={"source"}),
            "segments": [],
            "outcomes": [{"id": "won", "perspective": "provider", "reached": ["won"]}],
            "filters": {"lifecycle": ["complete"]},
        }
    )
    rows = []
    for i in range(60):
        rows += [
            (str(i), "a_ok", "2024-01-01T08:00", "start"),
            (str(i), "a_ok", "2024-01-01T09:00", "COMPLETE"),
            (str(i), "b_bad" if i % 3 else "b_ok", "2024-01-02T09:00", "complete"),
            (str(i), "b_ok", "2024-01-03T09:00", "schedule"),  # only scheduled, never done
        ]
        if i % 3 == 0:
            rows.append((str(i), "won", "2024-01-04", "complete"))
    events = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp", "lifecycle"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", keymoments.KeymomentsWarning)
        result = keymoments.analyse(service, events=events, bootstrap=10)
    assert result.n_events_filtered == 120
    assert result.to_dict()["data"]["n_events_filtered_out"] == 120
    assert result.moment("b").break_rate == pytest.approx(40 / 60)
    wrong = Service.model_validate(
        {**service.model_dump(exclude={"source"}), "filters": {"stage": ["x"]}}
    )
    with pytest.raises(DataError, match="no column 'stage' to filter on"):
        keymoments.analyse(wrong, events=events)


def test_cases_keep_their_own_case_id_name(journeys) -> None:
    # the events' columns are renamed in the model; the survey still says case_id
    events, cases = journeys
    renamed = events.rename(columns={"case_id": "Case", "activity": "Step", "timestamp": "At"})
    service = Service.model_validate(
        {
            **SERVICE.model_dump(exclude={"source"}),
            "columns": {"case_id": "Case", "activity": "Step", "timestamp": "At"},
        }
    )
    result, _ = _analyse_service(service, events=renamed, cases=cases, bootstrap=0)
    assert result.n_cases == events["case_id"].nunique()
    assert result.outcome_means[1] == pytest.approx(cases["score"].mean())
