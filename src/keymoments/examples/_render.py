"""Turn simulated journeys into the tables a service really exports.

Each visit to a moment state becomes one or more events (a visit's template,
e.g. ``bloods_taken, bp_measured, bmi_recorded``) with realistic times: days
between an invitation and a booking, minutes within a clinic visit, office
hours for anything that waits days. Admin events that map to no moment are
sprinkled in, as real logs carry them. Ratings are survey answers: missing
when the moment was never reached or the question skipped.

Example:
    >>> from keymoments.examples._simulate import build_flow, simulate
    >>> flow = build_flow(moments=("a",), segments=("all",),
    ...                   moves={"start": {"a": 1.0}}, breaks={"a": 0.2})
    >>> paths = simulate(flow, np.zeros(3, dtype=np.int64), seed=0)
    >>> spec = EventSpec(templates={"a:ok": ("a_done",), "a:broken": ("a_failed",)},
    ...                  gaps={"a": ("days", 2.0)})
    >>> ev = render_events(flow, paths, spec, case_ids(3, "X"), np.random.default_rng(0))
    >>> list(ev.columns)
    ['case_id', 'activity', 'timestamp', 'channel']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from keymoments.examples._simulate import Flow, Paths, PerSegment, per_segment
from keymoments.model import Service

__all__ = ["EventSpec", "case_ids", "reach_and_breaks", "render_events", "render_ratings"]

GapUnit = Literal["days", "minutes"]
_DAY = 86_400
_YEAR_START = int(np.datetime64("2024-01-01T00:00:00", "s").astype(np.int64))
_OPEN = 8 * 3600 + 30 * 60  # 08:30: letters, calls and clinics happen in office hours
_OPEN_FOR = 9 * 3600  # until 17:30


@dataclass(frozen=True)
class EventSpec:
    """How visits become events.

    ``templates[state]``: the activities of one visit, in order. ``inner``:
    mean minutes between a visit's events, per moment (default 4).
    ``gaps[moment]``: (unit, mean) wait before a visit to that moment;
    ``gap_from[(from_moment, moment)]`` overrides it after one moment.
    ``admin``: (activity, after which activity, probability) for events that
    map to no moment. ``channels[activity]``: (choices, probabilities).
    """

    templates: Mapping[str, tuple[str, ...]]
    gaps: Mapping[str, tuple[GapUnit, float]]
    gap_from: Mapping[tuple[str, str], tuple[GapUnit, float]] = field(default_factory=dict)
    inner: Mapping[str, float] = field(default_factory=dict)
    admin: tuple[tuple[str, str, float], ...] = ()
    channels: Mapping[str, tuple[tuple[str, ...], tuple[float, ...]]] = field(default_factory=dict)
    extra_column: str = "channel"


def case_ids(n: int, prefix: str) -> np.ndarray:
    """Case ids such as ``HC000042``.

    Example:
        >>> case_ids(2, "HC").tolist()
        ['HC000001', 'HC000002']
    """
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), 6))


def _gap_tables(flow: Flow, spec: EventSpec) -> tuple[np.ndarray, np.ndarray]:
    # Rows: the moment left (last row: the journey's start); columns: the moment entered.
    n_m = len(flow.moments)
    is_days = np.zeros((n_m + 1, n_m), dtype=bool)
    mean = np.zeros((n_m + 1, n_m))
    for j, m in enumerate(flow.moments):
        unit, mu = spec.gaps.get(m, ("minutes", 5.0))
        is_days[:, j], mean[:, j] = unit == "days", mu
    for (src, dst), (unit, mu) in spec.gap_from.items():
        i = flow.moments.index(src) if src != "start" else n_m
        j = flow.moments.index(dst)
        is_days[i, j], mean[i, j] = unit == "days", mu
    return is_days, mean


def render_events(
    flow: Flow,
    paths: Paths,
    spec: EventSpec,
    ids: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The events table of simulated journeys: one row per event, ordered per case.

    Timestamps are ISO 8601 strings, strictly increasing within a case.
    """
    n_m = len(flow.moments)
    names = flow.state_names
    n_cases = len(ids)
    moment = (paths.state - 1) // 2
    first = np.r_[True, paths.case[1:] != paths.case[:-1]] if paths.case.size else paths.case
    prev_moment = np.where(first, n_m, np.r_[n_m, moment[:-1]])

    # The events of each visit, from its state's template.
    templates = [spec.templates.get(name, ()) for name in names]
    n_ev = np.array([len(t) for t in templates])[paths.state]
    if (n_ev == 0).any():
        missing = sorted({names[s] for s in paths.state[n_ev == 0]})
        raise ValueError(f"no event template for states {missing}")
    visit_of = np.repeat(np.arange(paths.state.size), n_ev)
    starts = np.cumsum(n_ev) - n_ev
    pos = np.arange(visit_of.size) - starts[visit_of]
    vocabulary = sorted({a for t in templates for a in t} | {a for a, _, _ in spec.admin})
    code_of = {a: i for i, a in enumerate(vocabulary)}
    width = int(n_ev.max()) if n_ev.size else 1
    table = np.full((len(names), width), -1, dtype=np.int64)
    for s, template in enumerate(templates):
        table[s, : len(template)] = [code_of[a] for a in template]
    activity = table[paths.state[visit_of], pos]

    # Minutes between a visit's own events (at least one, so times stay strictly ordered).
    inner_mean = np.array([spec.inner.get(m, 4.0) for m in flow.moments])[moment[visit_of]]
    inner = np.maximum(60, np.round(rng.gamma(3.0, inner_mean / 3.0) * 60)).astype(np.int64)
    inner[pos == 0] = 0
    cum = np.cumsum(inner)
    offset = cum - np.repeat(cum[starts], n_ev)  # inner[starts] is 0: offsets start at 0
    span = offset[starts + n_ev - 1]

    # The first event of each visit, step by step along every journey.
    is_days, gap_mean = _gap_tables(flow, spec)
    begin = np.zeros(paths.state.size, dtype=np.int64)
    last = np.zeros(n_cases, dtype=np.int64)
    for k in range(int(paths.step.max()) + 1 if paths.step.size else 0):
        v = np.flatnonzero(paths.step == k)
        c = paths.case[v]
        if k == 0:
            day = rng.integers(0, 366, v.size)
            t = _YEAR_START + day * _DAY + _OPEN + rng.integers(0, _OPEN_FOR, v.size)
        else:
            days = is_days[prev_moment[v], moment[v]]
            mu = gap_mean[prev_moment[v], moment[v]]
            wait = rng.gamma(2.0, mu / 2.0)
            t_min = last[c] + np.maximum(60, np.round(wait * 60)).astype(np.int64)
            # A wait of days lands in office hours on the day it ends (or the next one).
            t_day = last[c] + np.round(wait * _DAY).astype(np.int64)
            t_day = t_day // _DAY * _DAY + _OPEN + rng.integers(0, _OPEN_FOR, v.size)
            t_day = np.where(t_day <= last[c] + 120, t_day + _DAY, t_day)
            t = np.where(days, t_day, t_min)
        begin[v] = t
        last[c] = t + span[v]
    time = begin[visit_of] + offset
    case = paths.case[visit_of]

    # Admin events: a few tens of seconds after the event they follow.
    extra_case, extra_time, extra_act = [], [], []
    for admin, after, prob in spec.admin:
        hit = np.flatnonzero((activity == code_of[after]) & (rng.random(activity.size) < prob))
        extra_case.append(case[hit])
        extra_time.append(time[hit] + rng.integers(10, 45, hit.size))
        extra_act.append(np.full(hit.size, code_of[admin]))
    case = np.concatenate([case, *extra_case])
    time = np.concatenate([time, *extra_time])
    activity = np.concatenate([activity, *extra_act])
    order = np.lexsort((time, case))
    case, time, activity = case[order], time[order], activity[order]

    channel = np.full(activity.size, "system", dtype=object)
    for act, (choices, probs) in spec.channels.items():
        if act not in code_of:
            continue
        here = np.flatnonzero(activity == code_of[act])
        channel[here] = rng.choice(np.asarray(choices, dtype=object), size=here.size, p=probs)
    return pd.DataFrame(
        {
            "case_id": ids[case],
            "activity": np.asarray(vocabulary, dtype=object)[activity],
            "timestamp": np.datetime_as_string(time.astype("datetime64[s]"), unit="s"),
            spec.extra_column: channel,
        }
    )


def render_ratings(
    flow: Flow,
    counts: np.ndarray,
    segment: np.ndarray,
    latent: np.ndarray,
    ratings: Mapping[str, str],
    rng: np.random.Generator,
    *,
    base: PerSegment,
    penalty: Mapping[str, float],
    skip: float = 0.2,
) -> dict[str, np.ndarray]:
    """Survey ratings (1–10) per rated moment; NaN if not reached or skipped.

    A rating falls by ``penalty[moment]`` points when the case broke the
    moment, and shares the case's ``latent`` mood with the overall rating, so
    ratings drive the overall experience the way survey answers do.
    """
    n_g = len(flow.segments)
    out: dict[str, np.ndarray] = {}
    for m, column in ratings.items():
        ok = counts[:, flow.state(f"{m}:ok")]
        broken = counts[:, flow.state(f"{m}:broken")]
        value = (
            per_segment(base, n_g, "rating base")[segment]
            + 0.7 * latent
            - penalty.get(m, 2.5) * (broken > 0)
            + rng.normal(0.0, 1.1, segment.size)
        )
        value = np.clip(np.round(value), 1, 10)
        asked = ((ok + broken) > 0) & (rng.random(segment.size) >= skip)
        out[column] = np.where(asked, value, np.nan)
    return out


def reach_and_breaks(
    service: Service, events: pd.DataFrame, n_cases: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Share of cases reaching each moment, and share of those breaking it at least once.

    Computed straight from the events table (not from the simulation), so it
    describes the sample as any reader of the log would see it.

    Example:
        >>> from keymoments import Service
        >>> svc = Service.model_validate({"version": 1, "name": "s", "moments": [
        ...     {"id": "a", "reached": ["a_ok"], "broken": ["a_bad"]}]})
        >>> ev = pd.DataFrame({"case_id": ["1", "1", "2"], "activity": ["a_bad", "a_ok", "x"]})
        >>> reach_and_breaks(svc, ev, 2)
        ({'a': 0.5}, {'a': 1.0})
    """
    reach: dict[str, float] = {}
    breaks: dict[str, float] = {}
    for m in service.moments:
        reached = events.loc[events["activity"].isin(m.activities), "case_id"].nunique()
        broke = events.loc[events["activity"].isin(m.broken), "case_id"].nunique()
        reach[m.id] = reached / n_cases if n_cases else 0.0
        breaks[m.id] = broke / reached if reached else 0.0
    return reach, breaks
