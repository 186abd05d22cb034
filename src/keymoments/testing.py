"""Hypothesis strategies for keymoments' property tests (needs ``hypothesis``).

Example:
    >>> from hypothesis import given
    >>> @given(event_frames())
    ... def test_counts(frame):
    ...     assert set(frame.columns) == {"case_id", "activity", "timestamp"}
"""

from __future__ import annotations

import datetime as _dt

import pandas as pd
from hypothesis import strategies as st

__all__ = ["BAD_TIMESTAMPS", "event_frames", "good_timestamps"]

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
