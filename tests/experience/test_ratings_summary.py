"""The ratings data layer against a plain pandas version of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from planted_survey import service_for

from keymoments.data.engine import connect
from keymoments.experience.correlation import weighted_correlation
from keymoments.experience.ratings import summarise_ratings


def test_patterns_and_counts_match_pandas() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "r0": rng.integers(1, 4, 500).astype(float),
            "r1": rng.integers(1, 3, 500).astype(float),
            "y": rng.integers(0, 2, 500).astype(float),
            "group": rng.choice(["x", "y"], 500),
        }
    )
    frame.loc[rng.random(500) < 0.2, "r1"] = np.nan
    eng = connect()
    s = summarise_ratings(eng.from_arrow(frame), service_for(2, segments=True), eng)
    expected = frame.groupby(["r0", "r1", "y", "group"], dropna=False).size()
    got = pd.Series(
        s.n, index=pd.MultiIndex.from_arrays([*s.values.T, s.segment], names=expected.index.names)
    )
    pd.testing.assert_series_equal(
        got.sort_index(), expected.sort_index(), check_names=False, check_dtype=False
    )
    assert s.n_respondents == 500


def test_text_answers_that_are_not_numbers_are_counted() -> None:
    frame = pd.DataFrame(
        {"r0": ["1", "2", "n/a", " 4 ", ""], "r1": ["1", "1", "2", "3", "3"], "y": [1, 2, 3, 4, 5]}
    )
    eng = connect()
    s = summarise_ratings(eng.from_arrow(frame), service_for(2), eng)
    assert s.non_numeric == {"r0": 1}
    assert sorted(v for v in s.values[:, 0] if not np.isnan(v)) == [1.0, 2.0, 4.0]


def test_weighted_pairwise_correlation_equals_pandas_on_expanded_rows() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=(40, 3))
    values[rng.random((40, 3)) < 0.2] = np.nan
    weights = rng.integers(1, 5, 40)
    expanded = pd.DataFrame(np.repeat(values, weights, axis=0))
    got = weighted_correlation(values, weights).matrix
    np.testing.assert_allclose(got, expanded.corr(min_periods=3).to_numpy(), atol=1e-12)
    listwise = weighted_correlation(values, weights, missing="listwise").matrix
    np.testing.assert_allclose(listwise, expanded.dropna().corr().to_numpy(), atol=1e-12)


def test_nan_and_infinities_are_not_ratings() -> None:
    # "inf", "NaN" and "1e999" parse as floats, but no mean or correlation can use
    # them: one of them used to turn a whole moment's correlations into NaN
    frame = pd.DataFrame(
        {
            "r0": ["1", "inf", "NaN", "1e999", "-inf", "2", "3"],
            "r1": [1.0, 2.0, np.inf, 3.0, np.nan, 2.0, 1.0],
            "y": ["1", "2", "3", "4", "5", "nan", "7"],
        }
    )
    eng = connect()
    s = summarise_ratings(eng.from_arrow(frame), service_for(2), eng)
    assert s.non_numeric == {"r0": 4, "r1": 1, "y": 1}
    assert np.isfinite(s.values[~np.isnan(s.values)]).all()
    assert sorted(v for v in s.values[:, 0] if not np.isnan(v)) == [1.0, 2.0, 3.0]
    assert s.n_respondents == 7
