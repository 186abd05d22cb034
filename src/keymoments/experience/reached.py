"""Which rated moments each case reached, so a rating counts as missing only there.

A customer who never got to the visit has no rating of the visit, and that is
not a missing answer. With an event log beside the survey, the drivers'
missing-ratings warning counts only the ratings of moments a case reached.
Engine expressions only (group-by, casts, sums): the same on DuckDB and Spark.

Example:
    >>> import pandas as pd
    >>> from keymoments import Service
    >>> from keymoments.data.engine import connect
    >>> svc = Service.model_validate({"version": 1, "name": "s", "moments": [
    ...     {"id": "book", "reached": ["booked"], "rating": "r_book"},
    ...     {"id": "visit", "reached": ["visited"], "rating": "r_visit"}],
    ...     "outcomes": [{"id": "y", "perspective": "user", "column": "y"}]})
    >>> eng = connect()
    >>> events = eng.from_arrow(pd.DataFrame({"case_id": ["1", "1", "2"],
    ...     "activity": ["booked", "visited", "booked"]}))
    >>> cases = eng.from_arrow(pd.DataFrame({"case_id": ["1", "2"],
    ...     "r_book": [4.0, 5.0], "r_visit": [None, 3.0], "y": [7.0, 8.0]}))
    >>> found = missing_among_reached(cases, reached_by_case(events, svc), svc, eng)
    >>> found["y"].reached.tolist(), found["y"].unrated.tolist(), found["y"].complete
    ([2, 1], [0, 1], 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np

from keymoments.data.engine import Engine
from keymoments.journey.summaries import number_or_null
from keymoments.model import Service

__all__ = ["MissingAmongReached", "missing_among_reached", "reached_by_case"]


@dataclass
class MissingAmongReached:
    """For one numeric outcome, over the respondents who gave it.

    ``reached[j]``: respondents who reached rated moment j; ``unrated[j]``: of
    those, how many left its rating blank (or not a number); ``complete``:
    respondents who rated every rated moment they reached; ``n``: respondents.
    """

    n: int
    reached: np.ndarray
    unrated: np.ndarray
    complete: int


def _flag(j: int) -> str:
    return f"__km_reached{j}"


def reached_by_case(events: ibis.Table, service: Service) -> ibis.Table:
    """``case_id`` and one 0/1 column per rated moment: the case reached it at least once."""
    rated = [m for m in service.moments if m.rating]
    return events.group_by("case_id").aggregate(
        **{
            _flag(j): events.activity.isin(m.activities).cast(dt.int64).max()
            for j, m in enumerate(rated)
        }
    )


def as_number(col: ir.Value) -> ir.Value:
    """A column as a finite float: numbers as they are, true/false as 1/0, text read as
    a number; NULL where it is not one (``n/a``), and for NaN and infinities, which no
    mean or correlation can use (:func:`~keymoments.journey.summaries.number_or_null`).

    Example:
        >>> t = ibis.memtable({"v": ["4", " 5 ", "n/a", "inf", "NaN", "1e999"]})
        >>> ibis.duckdb.connect().execute(t.select(x=as_number(t.v))).x.tolist()
        [4.0, 5.0, nan, nan, nan, nan]
    """
    if col.type().is_boolean():
        return col.cast(dt.int64).cast(dt.float64)
    return number_or_null(col)[0]


def missing_among_reached(
    cases: ibis.Table, reached: ibis.Table, service: Service, engine: Engine
) -> dict[str, MissingAmongReached]:
    """Per numeric outcome, the ratings missing among the moments each respondent reached.

    Cases without events reached nothing. One aggregate over the joined table.
    """
    rated = [m for m in service.moments if m.rating]
    outcomes = [o for o in service.outcomes if o.kind == "numeric" and o.column]
    if not rated or not outcomes:
        return {}
    joined = cases.left_join(reached, "case_id")
    got = {j: joined[_flag(j)].fill_null(0) == 1 for j in range(len(rated))}
    rated_ok = {j: as_number(joined[m.rating]).notnull() for j, m in enumerate(rated) if m.rating}
    measures: dict[str, ir.Scalar] = {}
    for i, o in enumerate(outcomes):
        has_y = as_number(joined[o.column]).notnull()
        measures[f"n{i}"] = has_y.cast(dt.int64).sum()
        whole = ibis.literal(True)
        for j in range(len(rated)):
            measures[f"r{i}_{j}"] = (has_y & got[j]).cast(dt.int64).sum()
            measures[f"u{i}_{j}"] = (has_y & got[j] & ~rated_ok[j]).cast(dt.int64).sum()
            whole = whole & (~got[j] | rated_ok[j])
        measures[f"c{i}"] = (has_y & whole).cast(dt.int64).sum()
    row = engine.to_pandas(joined.aggregate(**measures)).iloc[0]

    def count(key: str) -> int:
        value = row[key]
        return 0 if value is None or value != value else int(value)

    return {
        o.id: MissingAmongReached(
            n=count(f"n{i}"),
            reached=np.array([count(f"r{i}_{j}") for j in range(len(rated))], dtype=np.int64),
            unrated=np.array([count(f"u{i}_{j}") for j in range(len(rated))], dtype=np.int64),
            complete=count(f"c{i}"),
        )
        for i, o in enumerate(outcomes)
    }


def missing_message(
    found: MissingAmongReached, moments: list[str], columns: list[int], pairwise: bool
) -> str:
    """The drivers' missing-ratings note, counting only moments the respondents reached.

    ``columns``: positions (in ``moments``) of the moments kept in the drivers.
    Empty when nothing is missing.
    """
    reached = found.reached[columns]
    unrated = found.unrated[columns]
    if not unrated.sum():
        return ""
    share = float(unrated.sum() / reached.sum())
    by_moment = np.divide(unrated, reached, out=np.zeros(len(columns)), where=reached > 0)
    worst = int(np.argmax(by_moment))
    head = (
        f"{share:.1%} of the ratings are missing among the moments respondents reached "
        f"(most: {moments[columns[worst]]!r}, unrated by {by_moment[worst]:.0%} of those "
        f"who reached it); {found.complete:,} of {found.n:,} respondents rated every moment "
        "they reached. "
    )
    if pairwise:
        return head + (
            "Correlations use everyone who answered both items (pairwise); set "
            "analysis.drivers.missing: listwise to use only the complete respondents"
        )
    return head + "Only respondents who rated every moment are used (listwise)"
