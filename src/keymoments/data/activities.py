"""The activities of an event log: how often each happens and where it comes in a journey.

One pass of Ibis expressions over the events table gives, per activity, the
cases that have it, its events, its typical step (the mean position of its
first event in a case, 1 = first) and how many cases end with it. The result
is one row per activity, small whatever the size of the log.

Example:
    >>> from keymoments.data.engine import connect
    >>> from keymoments.data.readers import read_events
    >>> from keymoments.model import ColumnMap
    >>> eng = connect()
    >>> log = read_events("tests/data/running-example.xes", columns=ColumnMap(), engine=eng)
    >>> acts = profile_activities(log.table, engine=eng)
    >>> acts.loc[:2, ["activity", "cases", "events", "ends"]].values.tolist()
    [['register request', 6, 6, 0], ['examine casually', 4, 6, 0], ['check ticket', 6, 9, 0]]
"""

from __future__ import annotations

import ibis
import pandas as pd

from keymoments.data.engine import Engine

__all__ = ["ACTIVITY_COLUMNS", "profile_activities"]

#: The columns of :func:`profile_activities`' table, in order.
ACTIVITY_COLUMNS = ("activity", "cases", "share", "events", "step", "ends")


def profile_activities(events: ibis.Table, *, engine: Engine) -> pd.DataFrame:
    """One row per activity of ``events`` (the table of a read event log), in typical order.

    Columns: ``activity``; ``cases``, the cases with it at least once; ``share``,
    that as a share of all cases; ``events``, its events; ``step``, the mean over
    those cases of the position of its first event (1 = the case's first event);
    ``ends``, the cases whose last event it is. Events of a case are ordered by
    time, then file order. Rows are sorted by ``step``, then by name.
    """
    t = events.select("case_id", "activity", "timestamp", "row")
    forward = ibis.window(group_by=t.case_id, order_by=[t.timestamp, t.row])
    backward = ibis.window(group_by=t.case_id, order_by=[t.timestamp.desc(), t.row.desc()])
    ranked = t.mutate(
        position=ibis.row_number().over(forward) + 1,
        last=(ibis.row_number().over(backward) == 0).cast("int64"),
    )
    per_case = ranked.group_by(["case_id", "activity"]).aggregate(
        first=ranked.position.min(), n=ranked.count(), last=ranked["last"].max()
    )
    per_activity = per_case.group_by("activity").aggregate(
        cases=per_case.count(),
        events=per_case.n.sum(),
        step=per_case["first"].mean(),
        ends=per_case["last"].sum(),
    )
    n_cases = int(engine.to_pandas(t.case_id.nunique()))
    out = engine.to_pandas(per_activity)
    out["cases"] = out["cases"].astype("int64")
    out["events"] = out["events"].astype("int64")
    out["ends"] = out["ends"].astype("int64")
    out["step"] = out["step"].astype(float)
    out["share"] = out["cases"] / n_cases if n_cases else 0.0
    out["activity"] = out["activity"].astype(str)
    out = out.sort_values(["step", "activity"], kind="stable").reset_index(drop=True)
    return out.loc[:, list(ACTIVITY_COLUMNS)]
