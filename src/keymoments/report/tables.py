"""Tables for the report: display strings from results' frames, numbers formatted once.

Example:
    >>> import pandas as pd
    >>> frame_table(pd.DataFrame({"name": ["A"], "lo": [0.1], "hi": [0.2]}), "T").rows
    [['A', '[0.1, 0.2]']]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from keymoments.report.formatting import fmt_number, fmt_pct

__all__ = ["Table", "frame_table"]


def _pct(value: float | None, digits: int = 1) -> str:
    return fmt_pct(value, digits)


@dataclass
class Table:
    """A plain table: a caption, column names and rows of display strings."""

    caption: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)


# lower and upper bound columns that one "[lo, hi]" column replaces, in a results table
_INTERVAL_PAIRS = (("lo", "hi"), ("or_lo", "or_hi"), ("af_lo", "af_hi"))
_INTERVAL_NAMES = {
    "lo": "interval",
    "or_lo": "odds ratio interval",
    "af_lo": "attributable fraction interval",
}


# a folded interval is a percentage when the estimate beside it is
_PCT_OF = (("lo", "mean"), ("af_lo", "attributable_fraction"))


def _fold_intervals(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for lo, hi in _INTERVAL_PAIRS:
        if lo in out.columns and hi in out.columns:
            pairs = [
                None if pd.isna(a) or pd.isna(b) else (float(a), float(b))
                for a, b in zip(out[lo], out[hi], strict=True)
            ]
            position = list(out.columns).index(lo)
            out = out.drop(columns=[lo, hi])
            name = _INTERVAL_NAMES.get(lo, "interval")
            out.insert(position, name, pd.Series(pairs, index=out.index, dtype=object))
    return out


def _cell(v: Any, percent: bool = False) -> str:
    if isinstance(v, list | tuple) and all(isinstance(x, int | float) for x in v):
        show = (lambda x: _pct(x, 1)) if percent else fmt_number
        return "[" + ", ".join(show(x) for x in v) + "]"
    if percent and isinstance(v, int | float) and not isinstance(v, bool):
        return _pct(float(v), 1)
    if hasattr(v, "item") and callable(v.item) and not isinstance(v, list | tuple):
        v = v.item()  # numpy scalars
    if isinstance(v, bool):
        return "yes" if v else ""
    if v is None:
        return "–"
    if isinstance(v, int | float):
        return fmt_number(v)
    return "–" if pd.isna(v) is True else str(v)


def frame_table(
    frame: pd.DataFrame,
    caption: str,
    *,
    columns: Sequence[str] | None = None,
    percent: Sequence[str] = (),
    moment_names: dict[str, str] | None = None,
    max_rows: int = 40,
    names: dict[str, dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Table:
    """A DataFrame as display strings: numbers formatted, ``lo``/``hi`` folded to ``[lo, hi]``.

    ``columns``: the ones to show, in order, where present (all when ``None``);
    ``percent``: columns (and their folded intervals) shown as percentages;
    ``moment_names``: moment ids in a ``moment`` column are shown by their names;
    ``names``: the same for other columns (column to id-to-name); ``headers``: column
    headings for people (otherwise the column's name, its underscores as spaces).
    """
    if moment_names and "moment" in frame.columns:
        frame = frame.assign(moment=[moment_names.get(str(v), v) for v in frame["moment"]])
    for column, mapping in (names or {}).items():
        if column in frame.columns and mapping:
            frame = frame.assign(
                **{column: [mapping.get(str(v), v) if v is not None else v for v in frame[column]]}
            )
    if columns is not None:
        keep = [c for c in columns if c in frame.columns]
        if len(keep) >= 2:  # otherwise the object changed shape: show all it has
            frame = frame[keep]
    shown = _fold_intervals(frame.head(max_rows))
    numeric = [
        pd.api.types.is_numeric_dtype(shown[c]) or str(c).endswith("interval")
        for c in shown.columns
    ]
    as_pct = [
        str(c) in percent
        or any(str(c) == _INTERVAL_NAMES.get(lo) and hi_of in percent for lo, hi_of in _PCT_OF)
        for c in shown.columns
    ]
    rows = [
        [_cell(v, p) for v, p in zip(rec, as_pct, strict=True)]
        for rec in shown.itertuples(index=False)
    ]
    if len(frame) > max_rows:
        caption += f" (first {max_rows} of {len(frame)} rows)"
    return Table(
        caption=caption,
        columns=[(headers or {}).get(str(c), str(c).replace("_", " ")) for c in shown.columns],
        rows=rows,
        numeric=numeric,
    )
