"""The numeric outcomes' regression sums, batched over draws, against sums made one by one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keymoments import load_service
from keymoments.data.engine import connect
from keymoments.data.readers import read_cases, read_events
from keymoments.examples import write_example
from keymoments.journey.fit import JourneyData, reward_sums
from keymoments.journey.summaries import summarise_journeys


def _dense_sums(data: JourneyData, ys: np.ndarray, yn: np.ndarray):
    """The plain way: every row's visits as a dense vector, every pair multiplied out."""
    visits = data.visits.toarray()
    out = []
    for b in range(len(yn)):
        per_seg = []
        for g in range(len(data.segments)):
            rows = data.seg_of_row == g
            v, wn, wy = visits[rows], yn[b, rows], ys[b, rows]
            per_seg.append((wn.sum(), wn @ v, np.einsum("r,ri,rj->ij", wn, v, v), wy.sum(), wy @ v))
        out.append(per_seg)
    return out


@pytest.mark.parametrize("name", ["health-check", "car-purchase"])
def test_reward_sums_equal_dense_sums(name: str, tmp_path: Path) -> None:
    write_example(name, tmp_path, n_cases=800, seed=3)
    service = load_service(tmp_path / "service.yaml")
    engine = connect()
    events = read_events(tmp_path / "events.csv", columns=service.columns, engine=engine)
    cases = read_cases(tmp_path / "cases.csv", case_id=service.columns.case_id, engine=engine)
    summary = summarise_journeys(events.table, service, engine, cases=cases.table)
    data = JourneyData.from_summary(summary)
    assert data.numeric, "the example has a numeric outcome"
    o = data.numeric[0]
    rng = np.random.default_rng(0)
    weights = rng.poisson(1.0, (4, len(data.n))).astype(float)
    ys, yn = data.sum_y[o] * weights, data.n_y[o] * weights
    got = reward_sums(data, ys, yn)
    want = _dense_sums(data, ys, yn)
    for b in range(len(weights)):
        for g in range(len(data.segments)):
            n, x, xx, y, xy = want[b][g]
            np.testing.assert_allclose(got[b].n[g], n, rtol=1e-12)
            np.testing.assert_allclose(got[b].x[g], x, rtol=1e-12)
            np.testing.assert_allclose(got[b].xx[g], xx, rtol=1e-12)
            np.testing.assert_allclose(got[b].y[g], y, rtol=1e-12)
            np.testing.assert_allclose(got[b].xy[g], xy, rtol=1e-12)
