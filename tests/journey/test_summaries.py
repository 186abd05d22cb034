"""Journey summaries against a plain-Python reading of their definition.

The engine finds visits, signatures and waits with ordered passes, packed
arrays and a bounded look-ahead for the next visit's state; here the same
figures are computed the slow, obvious way on random logs with ties in time,
activities that mark a moment and an outcome at once, and runs of one moment
longer than the look-ahead, so that every path of the query is taken.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keymoments
from keymoments.data.engine import Engine, connect
from keymoments.data.readers import read_cases, read_events
from keymoments.journey import summaries as summaries_module
from keymoments.journey.summaries import summarise_journeys

SERVICE = keymoments.Service.model_validate(
    {
        "version": 1,
        "name": "three moments",
        "moments": [
            {"id": "a", "reached": ["a", "a_more", "a_fail"], "broken": ["a_fail"]},
            {"id": "b", "reached": ["b", "b_fail", "won_b"], "broken": ["b_fail"]},
            {"id": "c", "reached": ["c"]},
        ],
        "outcomes": [
            {"id": "won", "perspective": "provider", "reached": ["won", "won_b"]},
            {"id": "kept", "perspective": "provider", "reached": ["kept"]},
        ],
    }
)
ACTIVITIES = ["a", "a_more", "a_fail", "b", "b_fail", "won_b", "c", "won", "kept", "other"]
START = dt.datetime(2024, 1, 1)


def _mapped_rows(activity: str) -> list[tuple[int, int, int]]:
    """(unit, broken, place) for each state an activity marks: moments first, then outcomes.

    ``place`` ranks a date-only event: its moment's, also for an outcome it marks.
    """
    out = []
    moment = None
    for i, m in enumerate(SERVICE.moments):
        if activity in m.activities:
            out.append((i, int(activity in m.broken), i))
            moment = i
    binary = [o for o in SERVICE.outcomes if o.kind == "binary"]
    for j, o in enumerate(binary):
        if activity in (o.reached or []):
            unit = len(SERVICE.moments) + j
            out.append((unit, 0, unit if moment is None else moment))
    return out


def reference(events: pd.DataFrame) -> tuple[dict[str, int], pd.DataFrame]:
    """Signature counts and waits, event by event, straight from the module docstring.

    Events at one instant are ordered by the model (the unit), then by file
    order; an activity with every timestamp at midnight is date-only, and on a
    day with timed events of its case it is placed at the latest of those that
    come before it in (place, file order, unit).
    """
    n_moments = len(SERVICE.moments)
    sigs: dict[str, int] = defaultdict(int)
    gaps: dict[tuple[int, int], list[float]] = defaultdict(list)
    stamps = pd.to_datetime(events["timestamp"])
    mapped = events[events["activity"].map(lambda a: bool(_mapped_rows(a)))]
    midnight = (stamps == stamps.dt.normalize()).groupby(events["activity"]).all()
    date_only = {a for a in mapped["activity"].unique() if midnight[a]}
    placing = bool(date_only) and len(date_only) < mapped["activity"].nunique()
    for _, case in events.groupby("case_id", sort=False):
        rows = []
        for row, (activity, ts) in enumerate(zip(case["activity"], case["timestamp"], strict=True)):
            for unit, broken, place in _mapped_rows(activity):
                rows.append([ts, int(case.index[row]), unit, broken, place, activity, ts])
        if placing:
            for r in rows:
                if r[5] in date_only:
                    earlier = [
                        q[0]
                        for q in rows
                        if q[5] not in date_only
                        and q[0].normalize() == r[0].normalize()
                        and (q[4], q[1], q[2]) <= (r[4], r[1], r[2])
                    ]
                    r[6] = max(earlier) if earlier else r[0]
        # (at, unit, file position) orders them; at is the time for gaps too
        rows = [(r[6], r[2], r[1], r[3]) for r in rows]
        rows.sort()
        rows = [(at, pos, None, unit, broken) for at, unit, pos, broken in rows]
        visits: list[tuple[int, pd.Timestamp, pd.Timestamp | None]] = []  # code, last, next first
        for k, r in enumerate(rows):
            nxt = rows[k + 1] if k + 1 < len(rows) else None
            if nxt is None or nxt[3] != r[3] or r[4] == 1:
                unit, broken = r[3], r[4]
                code = 2 * unit + broken if unit < n_moments else unit + n_moments
                visits.append((code, r[0], nxt[0] if nxt else None))
        sigs[".".join(str(v[0]) for v in visits)] += 1
        for k, (code, last, next_first) in enumerate(visits):
            to = visits[k + 1][0] if k + 1 < len(visits) else -1
            gap = (next_first - last).total_seconds() if next_first is not None else np.nan
            gaps[(code, to)].append(gap)
    waits = []
    for (f, t), values in sorted(gaps.items()):
        v = np.array(values, float)
        ok = v[~np.isnan(v)]
        waits.append(
            {
                "from_code": f,
                "to_code": t,
                "n": len(v),
                "mean_s": ok.mean() if len(ok) else np.nan,
                "median_s": np.quantile(ok, 0.5) if len(ok) else np.nan,
                "p90_s": np.quantile(ok, 0.9) if len(ok) else np.nan,
            }
        )
    return dict(sigs), pd.DataFrame(waits)


@st.composite
def logs(draw: st.DrawFn) -> pd.DataFrame:
    """Cases of runs of one activity (some longer than the look-ahead), ties in time."""
    rows = []
    for case in range(draw(st.integers(1, 12))):
        t = 0
        for _ in range(draw(st.integers(1, 6))):
            activity = draw(st.sampled_from(ACTIVITIES))
            repeat = draw(st.sampled_from([1, 1, 2, 3, 6, 9]))
            for _ in range(repeat):
                t += draw(st.sampled_from([0, 0, 30, 3600, 86400]))  # ties are common
                rows.append((f"c{case}", activity, START + dt.timedelta(seconds=t)))
    frame = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"])
    # file order is not time order across cases
    return frame.sample(frac=1.0, random_state=draw(st.integers(0, 9))).reset_index(drop=True)


def _summarise(frame: pd.DataFrame, folder: Path, engine: Engine):
    # the reference breaks ties by file position: keep it as the index
    frame.to_csv(folder / "events.csv", index=False)
    log = read_events(folder / "events.csv", columns=SERVICE.columns, engine=engine)
    return summarise_journeys(log.table, SERVICE, engine)


@pytest.fixture(scope="module")
def engine() -> Engine:
    return connect()


def _compare(frame: pd.DataFrame, summary) -> None:
    frame = frame.reset_index(drop=True)
    sigs, waits = reference(frame[frame.activity.isin(ACTIVITIES)])
    got = dict(zip(summary.signatures["sig"], summary.signatures["n"], strict=True))
    assert got == sigs
    assert summary.n_cases == frame.case_id.nunique()
    assert summary.n_events == len(frame)
    if len(waits):
        pd.testing.assert_frame_equal(
            summary.waits.reset_index(drop=True), waits, check_dtype=False, rtol=1e-9
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(logs())
def test_summaries_match_the_definition(frame: pd.DataFrame) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        summary = _summarise(frame, Path(tmp), connect())
    _compare(frame, summary)


def test_next_visit_longer_than_the_look_ahead(engine: Engine, tmp_path: Path) -> None:
    """A next visit of many events is resolved by the second pass, in its case only."""
    long = summaries_module._LOOK_AHEAD + 3
    rows = [("1", "a", START)]
    rows += [("1", "b", START + dt.timedelta(hours=1 + k)) for k in range(long)]
    rows += [("1", "b_fail", START + dt.timedelta(hours=1 + long))]
    rows += [("2", "a", START), ("2", "b", START + dt.timedelta(hours=2))]
    frame = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"])
    summary = _summarise(frame, tmp_path, engine)
    # codes: a:ok 0, b:ok 2, b:broken 3; case 1's b visit is broken by its last event
    got = {(int(r.from_code), int(r.to_code)): int(r.n) for r in summary.waits.itertuples()}
    assert got == {(0, 3): 1, (3, -1): 1, (0, 2): 1, (2, -1): 1}
    wait = summary.waits.set_index(["from_code", "to_code"]).loc[(0, 3), "mean_s"]
    assert wait == 3600.0
    _compare(frame, summary)


def test_cases_without_events_are_counted(engine: Engine, tmp_path: Path) -> None:
    """Cases in the cases table but not in the events: counted, and left out of the journeys."""
    service = keymoments.Service.model_validate(
        {**SERVICE.model_dump(mode="json", exclude_none=True), "segments": ["region"]}
    )
    events = pd.DataFrame(
        [("1", "a", START), ("2", "b", START), ("3", "other", START)],
        columns=["case_id", "activity", "timestamp"],
    )
    events.to_csv(tmp_path / "events.csv", index=False)
    cases = pd.DataFrame({"case_id": ["1", "2", "3", "9", "10", "11"], "region": list("nnsssn")})
    cases.to_csv(tmp_path / "cases.csv", index=False)
    log = read_events(tmp_path / "events.csv", columns=service.columns, engine=engine)
    table = read_cases(tmp_path / "cases.csv", case_id="case_id", engine=engine).table
    summary = summarise_journeys(log.table, service, engine, cases=table)
    assert summary.cases_without_events == 3
    assert summary.n_cases == 3
    got = {(r.segment, r.sig): r.n for r in summary.signatures.itertuples()}
    assert got == {("n", "0"): 1, ("n", "2"): 1, ("s", ""): 1}
    assert "__km_in_cases" not in summary.signatures.columns


def test_values_in_no_band_are_missing_not_the_top_band(engine: Engine) -> None:
    # a blank (NULL) compared with a cut point used to fall through to the last
    # band, and NaN or an infinity was placed as if it were a number
    from keymoments.journey.summaries import segment_key
    from keymoments.model import Segment

    spec = [Segment(column="age", bins=[50])]
    text = pd.DataFrame({"age": ["30", " 70 ", "", None, "abc", "inf", "NaN", "-inf", "1e999"]})
    numbers = pd.DataFrame({"age": [30.0, 70.0, None, np.inf, -np.inf]})
    for frame, missing in ((text, 7), (numbers, 3)):
        table = engine.from_arrow(frame)
        got = engine.to_pandas(table.select(s=segment_key(table, spec)))["s"].tolist()
        assert got == ["below 50", "50 and over"] + ["(missing)"] * missing
