"""Hypothesis strategies for keymoments' property tests (needs ``hypothesis``).

Example:
    >>> from hypothesis import given
    >>> @given(event_frames())
    ... def test_counts(frame):
    ...     assert set(frame.columns) == {"case_id", "activity", "timestamp"}
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import pandas as pd
from hypothesis import strategies as st

__all__ = [
    "BAD_TIMESTAMPS",
    "event_frames",
    "good_timestamps",
    "journeys",
    "model_documents",
    "mutated",
    "plan_contexts",
    "services",
]

# Values the readers must set aside as unparseable, never crash on.
BAD_TIMESTAMPS = ("not a date", "2020-13-45", "31/31/2020 99:99", "yesterday")

_START = _dt.datetime(2000, 1, 1)
_END = _dt.datetime(2035, 12, 31)


def good_timestamps() -> st.SearchStrategy[tuple[str, _dt.datetime]]:
    """ISO 8601 text (assorted spellings and zones) and the naive UTC instant it means."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, _dt.datetime]:
        moment = draw(st.datetimes(min_value=_START, max_value=_END)).replace(microsecond=0)
        millis = draw(st.sampled_from([0, 0, 123, 500]))
        moment = moment.replace(microsecond=millis * 1000)
        offset_minutes = draw(st.sampled_from([None, 0, 60, -300, 330]))
        sep = draw(st.sampled_from(["T", " "]))
        text = moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S")
        if millis:
            text += f".{millis:03d}"
        if offset_minutes is None:
            return text, moment
        if offset_minutes == 0:
            return text + draw(st.sampled_from(["Z", "+00:00"])), moment
        sign = "+" if offset_minutes > 0 else "-"
        hh, mm = divmod(abs(offset_minutes), 60)
        utc = moment - _dt.timedelta(minutes=offset_minutes)
        return f"{text}{sign}{hh:02d}:{mm:02d}", utc

    return build()


_case_ids = st.text(alphabet="abcXYZ019-_ éß", min_size=1, max_size=6).filter(
    lambda s: s.strip() != ""
)
_activities = st.sampled_from(
    ["register", "examine", "decide", "pay, compensation", 'say "hi"', "réjection"]
)


@st.composite
def event_frames(
    draw: st.DrawFn, *, min_rows: int = 1, max_rows: int = 25, bad: bool = True
) -> pd.DataFrame:
    """A small events DataFrame (``case_id``, ``activity``, ``timestamp`` as text).

    With ``bad=True`` some rows lack a case id or activity or carry an
    unparseable timestamp. ``frame.attrs["expected"]`` holds, per row, the
    naive UTC timestamp a reader should produce, or ``None`` when the row must
    be set aside.
    """
    n = draw(st.integers(min_value=min_rows, max_value=max_rows))
    rows: list[dict[str, str | None]] = []
    expected: list[_dt.datetime | None] = []
    for _ in range(n):
        case: str | None = draw(_case_ids)
        activity: str | None = draw(_activities)
        text, moment = draw(good_timestamps())
        ts: str | None = text
        usable: _dt.datetime | None = moment
        if bad:
            flaw = draw(st.sampled_from([None] * 6 + ["case", "activity", "ts", "no ts"]))
            if flaw == "case":
                case = draw(st.sampled_from([None, "", "  "]))
                usable = None
            elif flaw == "activity":
                activity = None
                usable = None
            elif flaw == "ts":
                ts = draw(st.sampled_from(BAD_TIMESTAMPS))
                usable = None
            elif flaw == "no ts":
                ts = None
                usable = None
        rows.append({"case_id": case, "activity": activity, "timestamp": ts})
        expected.append(usable)
    frame = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"], dtype=object)
    frame.attrs["expected"] = expected
    return frame


# -- service models and journeys that fit them -------------------------------------

_moment_ids = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)


@st.composite
def services(draw: st.DrawFn, *, max_moments: int = 5, segments: bool | None = None) -> Any:
    """A valid :class:`~keymoments.model.Service`: moments with ok and (often)
    broken activities, a binary outcome ``won`` (provider), a numeric outcome
    ``score`` (user), and maybe the segment column ``group``.
    """
    from keymoments.model import Service

    ids = draw(st.lists(_moment_ids, min_size=1, max_size=max_moments, unique=True))
    moments = []
    for mid in ids:
        n_ok = draw(st.integers(1, 2))
        n_broken = draw(st.integers(0, 2))
        moments.append(
            {
                "id": mid,
                "stage": draw(st.sampled_from(["", "Start", "Middle", "End"])),
                "reached": [f"{mid}_ok{k}" for k in range(n_ok)],
                "broken": [f"{mid}_bad{k}" for k in range(n_broken)],
                "perspectives": draw(
                    st.sampled_from([["user", "provider"], ["user"], ["provider"]])
                ),
            }
        )
    use_segments = draw(st.booleans()) if segments is None else segments
    return Service.model_validate(
        {
            "version": 1,
            "name": "generated",
            "moments": moments,
            "outcomes": [
                {"id": "won", "perspective": "provider", "reached": ["won"], "value": 10},
                {"id": "score", "perspective": "user", "column": "score"},
            ],
            "segments": ["group"] if use_segments else [],
            "analysis": {"bootstrap": 5, "seed": 1},
        }
    )


@st.composite
def journeys(
    draw: st.DrawFn, service: Any, *, max_cases: int = 30, missing_scores: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and cases for ``service`` (from :func:`services`): each case walks
    some moments in random order with repeats, may hit broken activities, admin
    events that mark nothing, and the ``won`` activity at most once.
    """
    n_cases = draw(st.integers(1, max_cases))
    start = _dt.datetime(2024, 1, 1)
    events: list[tuple[str, str, str]] = []
    cases: list[tuple[str, str, float | None]] = []
    for c in range(n_cases):
        case = f"c{c}"
        t = start + _dt.timedelta(days=c)
        steps = draw(st.lists(st.sampled_from(service.moments), max_size=6))
        for m in steps:
            activity = draw(st.sampled_from([*m.reached, *m.broken]))
            events.append((case, activity, t.isoformat()))
            t += _dt.timedelta(hours=draw(st.integers(0, 30)))
            if draw(st.integers(0, 4)) == 0:
                events.append((case, "admin_note", t.isoformat()))
        won = draw(st.booleans())
        if won:
            events.append((case, "won", t.isoformat()))
        if not (steps or won) or draw(st.integers(0, 5)) == 0:
            # every case has at least one event, if only an admin one
            events.append((case, "admin_note", t.isoformat()))
        score: float | None = draw(st.floats(0, 10, allow_nan=False))
        if missing_scores and draw(st.integers(0, 6)) == 0:
            score = None
        cases.append((case, draw(st.sampled_from(["a", "b", "c"])), score))
    return (
        pd.DataFrame(events, columns=["case_id", "activity", "timestamp"]),
        pd.DataFrame(cases, columns=["case_id", "group", "score"]),
    )


# -- fuzzing: damaged bytes and arbitrary model documents ---------------------------

# Bytes that mean something to one of the readers: delimiters, quotes, line ends,
# a byte-order mark, XML and YAML punctuation, an invalid UTF-8 lead byte, NUL.
_SPECIAL = [
    b",",
    b";",
    b"\t",
    b"|",
    b'"',
    b"'",
    b"\n",
    b"\r\n",
    b"\r",
    b"\xef\xbb\xbf",
    b"<",
    b">",
    b"</event>",
    b"&",
    b"&amp;",
    b"]]>",
    b":",
    b"- ",
    b"{",
    b"}",
    b"[",
    b"]",
    b"*a",
    b"&a ",
    b"!!",
    b"\x00",
    b"\xff",
    b"\xc3",
    b"\\",
    b"#",
    b"%",
]


@st.composite
def mutated(draw: st.DrawFn, data: bytes, *, max_edits: int = 4) -> bytes:
    """``data`` with a few edits: bytes replaced, inserted or deleted, a cut, a
    repeated span, or a special byte sequence (delimiter, quote, tag...) dropped in.

    Example:
        >>> from hypothesis import given
        >>> @given(mutated(b"case_id,activity\\n1,a\\n"))
        ... def test_reader(raw): ...
    """
    out = bytearray(data)
    for _ in range(draw(st.integers(1, max_edits))):
        at = draw(st.integers(0, len(out)))
        kind = draw(st.sampled_from(["flip", "insert", "delete", "cut", "repeat", "special"]))
        if kind == "flip" and at < len(out):
            out[at] = draw(st.integers(0, 255))
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del out[at : at + draw(st.integers(1, 16))]
        elif kind == "cut":
            del out[at:]
        elif kind == "repeat":
            span = bytes(out[at : at + draw(st.integers(1, 64))])
            out[at:at] = span * draw(st.integers(1, 3))
        else:
            out[at:at] = draw(st.sampled_from(_SPECIAL))
    return bytes(out)


_MODEL_KEYS = [
    "version",
    "name",
    "moments",
    "outcomes",
    "barriers",
    "interventions",
    "segments",
    "columns",
    "data",
    "analysis",
    "id",
    "reached",
    "broken",
    "rating",
    "perspective",
    "perspectives",
    "column",
    "value",
    "moment",
    "barrier",
    "effect",
    "effect_range",
    "cost",
    "bins",
    "volume",
    "budget",
    "bootstrap",
    "drivers",
    "stage",
    "filters",
]
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["user", "provider", "a", "b", "visit", "x y", "", "1", "1e999", ".nan"]),
    st.text(max_size=12),
)


def model_documents() -> st.SearchStrategy[Any]:
    """Nested mappings and lists shaped roughly like a service model, often wrong.

    Keys are mostly the model's own field names, values anything YAML can hold;
    some documents start from ``version: 1`` and a name so validation goes deep.
    """
    tree = st.recursive(
        _SCALARS,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(
                st.one_of(st.sampled_from(_MODEL_KEYS), st.text(max_size=6)),
                children,
                max_size=5,
            ),
        ),
        max_leaves=25,
    )
    moment = st.fixed_dictionaries(
        {"id": st.sampled_from(["a", "b", "a b", ""])},
        optional={k: tree for k in ("reached", "broken", "rating", "perspectives", "stage")},
    )
    rooted = st.fixed_dictionaries(
        {"version": st.just(1), "name": st.just("fuzz"), "moments": st.lists(moment, max_size=3)},
        optional={
            k: tree
            for k in (
                "outcomes",
                "barriers",
                "interventions",
                "segments",
                "columns",
                "analysis",
                "volume",
                "budget",
            )
        },
    )
    return st.one_of(tree, rooted)


@st.composite
def plan_contexts(
    draw: st.DrawFn,
    *,
    moments: tuple[int, int] = (15, 25),
    interventions: tuple[int, int] = (5, 40),
    max_plans: int = 3000,
) -> Any:
    """A random service ready to plan for (a :class:`~keymoments.portfolio.PlanContext`).

    Moments in one line, each with retries, going back and leaving; one to three
    segments; a binary outcome ``won`` that some winners reach again (they come
    back to the start) and a numeric money outcome ``revenue`` (one per unit,
    rewards per visit of either sign), each counted as money or not; interventions
    spread over the moments (several on one moment now and then, a few that
    raise the break rate); a budget that leaves at most ``max_plans`` affordable
    plans, so brute force stays cheap.
    """
    import numpy as np

    from keymoments.journey.fit import FittedChains
    from keymoments.model import Service
    from keymoments.portfolio.chain import ChainModel
    from keymoments.portfolio.context import PlanContext, Valuation
    from keymoments.portfolio.interventions import candidates

    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    M = draw(st.integers(*moments))
    n_iv = draw(st.integers(*interventions))
    money = draw(st.sampled_from(["both", "won", "revenue"]))
    G = draw(st.integers(1, 3))
    repeat = draw(st.booleans())
    ids = [f"m{i}" for i in range(M)]
    ivs: list[dict[str, Any]] = []
    for j in range(n_iv):
        raise_it = rng.random() < 0.1
        effect = float(rng.uniform(0.05, 0.5) if raise_it else -rng.uniform(0.1, 0.9))
        ivs.append(
            {
                "id": f"iv{j}",
                "moment": ids[int(rng.integers(0, M))],
                "effect": round(effect, 3),
                "cost": float(rng.integers(1, 20) * 1000),
            }
        )
    costs = sorted(float(iv["cost"]) for iv in ivs)
    budget = float(sum(costs[: max(1, n_iv // 3)]))
    while _affordable(costs, budget, max_plans + 1) > max_plans:
        budget *= 0.8
    service = Service.model_validate(
        {
            "version": 1,
            "name": f"random {seed}",
            "volume": 10_000,
            "budget": round(budget, 2),
            "moments": [{"id": m, "reached": [f"{m}_ok"], "broken": [f"{m}_bad"]} for m in ids],
            "outcomes": [
                {
                    "id": "won",
                    "perspective": "provider",
                    "reached": ["won"],
                    **({"value": 40} if money != "revenue" else {}),
                },
                {
                    "id": "revenue",
                    "perspective": "provider",
                    "column": "revenue",
                    **({"value": 1} if money != "won" else {}),
                },
            ],
            "interventions": ivs,
        }
    )
    S = 2 * M + 1
    won, done, exit_ = 2 * M, S, S + 1
    probs = np.zeros((G, 1 + S, S + 2))
    for g in range(G):
        brk = rng.uniform(0.02, 0.4, M)

        def arrive(k: int, brk: Any = brk) -> Any:
            out = np.zeros(S + 2)
            if k >= M:
                out[won], out[exit_] = 0.9, 0.1
            else:
                out[2 * k], out[2 * k + 1] = 1 - brk[k], brk[k]
            return out

        probs[g, 0] = arrive(0)
        for m in range(M):
            probs[g, 1 + 2 * m] = 0.97 * arrive(m + 1)
            probs[g, 1 + 2 * m, exit_] += 0.03
            retry = rng.uniform(0, 0.35)
            back = rng.uniform(0, 0.2) if m else 0.0
            leave = rng.uniform(0.05, 0.4)
            row = retry * arrive(m) + back * arrive(max(m - 2, 0))
            row += (1 - retry - back - leave) * arrive(m + 1)
            row[exit_] += leave
            probs[g, 2 + 2 * m] = row
        if repeat:
            probs[g, 1 + won] = 0.25 * arrive(0)
            probs[g, 1 + won, done] = 0.75
        else:
            probs[g, 1 + won, done] = 1.0
    rewards = np.zeros((G, S))
    rewards[:, 0 : 2 * M : 2] = rng.uniform(-2.0, 8.0, (G, M))
    rewards[:, 1 : 2 * M : 2] = rng.uniform(-12.0, 1.0, (G, M))
    weights = rng.dirichlet(np.ones(G) * 3)
    fitted = FittedChains(probs, weights, {"revenue": rewards}, {"revenue": rng.uniform(20, 60, G)})
    return PlanContext(
        service=service,
        chain=ChainModel(service, fitted),
        candidates=candidates(service, volume=10_000),
        valuation=Valuation.of(service, volume=10_000),
        barrier_models={},
        volume_from_data=False,
    )


def _affordable(costs: list[float], budget: float, stop: int) -> int:
    """How many subsets of ``costs`` (sorted) fit ``budget``, counting up to ``stop``."""
    count = 0

    def walk(start: int, left: float) -> None:
        nonlocal count
        count += 1
        for i in range(start, len(costs)):
            if costs[i] > left or count >= stop:
                return
            walk(i + 1, left - costs[i])

    walk(0, budget)
    return count
