"""The barrier data layer against plain pandas, and awkward barrier columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planted_barriers import generate, service

import keymoments
from keymoments.data.engine import Engine
from keymoments.errors import DataWarning, StatisticsWarning
from keymoments.experience.barrier_summaries import code_values, summarise_barriers
from keymoments.experience.barriers import fit_barrier_model


@pytest.fixture(scope="module")
def small():
    return generate(3000, seed=3)


def test_patterns_match_plain_pandas(small) -> None:
    events, cases = small
    engine = Engine("duckdb")
    summary = summarise_barriers(
        engine.from_arrow(events.assign(row=np.arange(len(events)))),
        service(),
        engine,
        cases=engine.from_arrow(cases.astype({"worry_b": "float64"})),
    )
    assert summary is not None
    got = summary.moments["visit"].table
    # by hand: per case, reached and broke the visit; barriers coded as documented
    visit = events[events["activity"].isin(["attended", "missed"])]
    broke = visit.groupby("case_id")["activity"].apply(lambda a: int((a == "missed").any()))
    want = cases.set_index("case_id").loc[broke.index].assign(broke=broke)
    coded = pd.DataFrame(
        {
            "segment": want["age_group"],
            "a": want["worry_a"],
            "b": want["worry_b"],
            "c": want["worry_c"],
            "d": (want["worry_d"] > 3).astype(int),
            "e": (want["worry_e"] == "Yes").astype(int),
            "broke": want["broke"],
        }
    )
    want_counts = coded.groupby(list(coded.columns), dropna=False).size()
    got_counts = got.set_index(["segment", *"abcde", "broke"])["n"]
    got_counts.index = got_counts.index.set_names(list(coded.columns))
    pd.testing.assert_series_equal(
        got_counts.sort_index().astype(int),
        want_counts.sort_index().astype(int),
        check_names=False,
        check_index_type=False,
    )
    assert summary.moments["visit"].n_reached == len(broke)
    assert summary.columns["d"].describe() == "scale 1 to 5, held when > 3"
    engine.close()


def test_reading_yes_no_and_scales() -> None:
    kind, codes = code_values(["Yes", "no", "TRUE", "false", "1", "0", "", None, "maybe"])
    assert kind == "binary"
    assert codes == [1, 0, 1, 0, 1, 0, None, None, -1]
    assert code_values([1, 2, 3, 4, 5]) == ("scale", [0, 0, 0, 1, 1])
    assert code_values([0, 10, 6, 5]) == ("scale", [0, 1, 1, 0])
    assert code_values([1, 2, 3, 4, 5], threshold=3) == ("scale", [0, 0, 1, 1, 1])
    assert code_values(["1", "0", " "]) == ("binary", [1, 0, None])
    assert code_values(["2", "4", "n/a"]) == ("scale", [0, 1, -1])
    # NaN and infinities are not answers: unreadable, and not the top of the scale
    assert code_values(["2", "4", "inf", "NaN", "1e999"]) == ("scale", [0, 1, -1, -1, -1])
    assert code_values(["yes", "no", "inf"]) == ("binary", [1, 0, -1])


def test_an_infinite_scale_value_is_unreadable_not_the_top(small) -> None:
    events, cases = small
    with pytest.warns(DataWarning):  # worry_b's blanks, as in every run of these data
        clean = keymoments.analyse(service(), events=events, cases=cases, bootstrap=0)
    reached = events.loc[events["activity"] != "booked", "case_id"]
    first = int(np.flatnonzero(cases["case_id"].isin(reached))[0])
    cases = cases.copy()
    cases["worry_d"] = cases["worry_d"].astype(float)
    cases.loc[first, "worry_d"] = np.inf  # used to become the scale's top: middle = inf
    with pytest.warns(DataWarning, match="1 unreadable values of 'd'"):
        result = keymoments.analyse(service(), events=events, cases=cases, bootstrap=0)
    got, was = result.barriers.estimate("d"), clean.barriers.estimate("d")
    assert got.unreadable == 1
    assert got.reading == was.reading == "scale 1 to 5, held when > 3"
    assert got.holders == pytest.approx(was.holders, abs=1)


def test_unreadable_values_are_counted_and_set_aside(small) -> None:
    events, cases = small
    cases = cases.copy()
    cases["worry_e"] = cases["worry_e"].astype(object)
    cases.loc[:9, "worry_e"] = "maybe"
    with pytest.warns(DataWarning, match="unreadable values of 'e'"):
        result = keymoments.analyse(service(), events=events, cases=cases, bootstrap=0)
    reached = set(events.loc[events["activity"] != "booked", "case_id"])
    bad = cases.loc[:9, "case_id"].isin(reached).sum()
    assert result.barriers.estimate("e").unreadable == bad
    assert result.barriers.moments[0].n_set_aside >= bad


def _table(rows: list[tuple[int, ...]], names: list[str]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[*names, "broke", "n"])
    frame.insert(0, "segment", "all")
    for b in names:
        frame[b] = frame[b].astype("Int64")
    return frame


def test_separation_gives_a_finite_shrunk_odds_ratio() -> None:
    table = _table([(0, 0, 300), (0, 1, 60), (1, 1, 25)], ["w"])
    with pytest.warns(StatisticsWarning, match="all of its 25 holders broke"):
        model = fit_barrier_model("visit", ["w"], table)
    assert np.isfinite(model.effect("w")) and model.effect("w") > 2
    # lifted, the 25 holders would break like the others (60 of 360), not all 25
    assert model.attributable_fraction("w") == pytest.approx(1 - (60 + 25 / 6) / 85, abs=0.01)


def test_barriers_nobody_or_everybody_holds_or_that_travel_together() -> None:
    table = _table(
        [(0, 1, 1, 0, 200), (0, 1, 1, 1, 50), (1, 1, 1, 0, 60), (1, 1, 1, 1, 40)],
        ["w", "v", "u"],
    )
    table.loc[:, "u"] = table["w"]  # u is w under another name
    table.loc[:, "v"] = 1  # everybody holds v
    table["x"] = pd.array([0] * len(table), dtype="Int64")  # nobody holds x
    table = table[["segment", "w", "v", "u", "x", "broke", "n"]]
    with pytest.warns(StatisticsWarning) as caught:
        model = fit_barrier_model("visit", ["w", "v", "u", "x"], table)
    messages = " ".join(str(w.message) for w in caught)
    assert "every case that reached it holds it" in messages
    assert "none of the 350 cases" in messages
    assert "travels exactly with 'w'" in messages
    assert model.fitted_ == ["w"]
    assert model.break_rate({"x": 1.0, "u": 1.0}) == pytest.approx(model.break_rate())


def test_a_moment_nobody_breaks_has_no_model(small) -> None:
    events, cases = small
    events = events.assign(activity=events["activity"].replace({"missed": "attended"}))
    with pytest.warns(StatisticsWarning, match="none of the .* broke it"):
        result = keymoments.analyse(
            service(), events=events, cases=cases.fillna({"worry_b": 0}), bootstrap=0
        )
    assert result.barriers.models == {}
    assert result.barriers.estimate("a").attributable_fraction is None
