"""Tables written for download: CSV with formula-looking text neutralised.

A cell starting with ``=``, ``+``, ``-`` or ``@`` would run as a formula when
the file is opened in a spreadsheet; such text gets a leading ``'``, the rule
every CSV keymoments writes follows (:mod:`keymoments.data.writing`, which the
command line's ``--csv`` uses too). Numbers are left as numbers: a negative
number is not a formula.

Example:
    >>> import pandas as pd
    >>> safe_frame(pd.DataFrame({"moment": ["=cmd()", "ok"], "x": [-1.5, 2.0]}))["moment"].tolist()
    ["'=cmd()", 'ok']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from keymoments.data.writing import csv_text, safe_frame
from keymoments.result import json_safe
from keymoments.web.store import atomic_write

__all__ = ["csv_text", "frame_records", "safe_frame", "write_safe_csv"]


def write_safe_csv(frame: pd.DataFrame, path: Path) -> Path:
    """Write the neutralised frame as CSV, atomically."""
    with atomic_write(path) as tmp:
        tmp.write_text(csv_text(frame), encoding="utf-8", newline="")
    return path


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-safe dicts (NaN as None; lists and numpy values made plain)."""
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return json_safe([{str(k): _plain(v) for k, v in row.items()} for row in records])  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)
