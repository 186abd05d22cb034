"""Files keymoments writes: whole or not at all, and CSV a spreadsheet cannot run.

Every output (the JSON result, the summary CSV, the set-aside rows) is written
to a temporary file beside its target and renamed over it only once complete
(:func:`atomic_path`), so an interrupted run (Ctrl-C, a full disk) leaves each
output either as it was or whole, never half written.

CSV written for people to open is neutralised: text that a spreadsheet would
run as a formula (``=``, ``+``, ``-``, ``@``, tab or CR first) gets a leading
``'``; numbers stay numbers (a negative number is not a formula), and rows
end in CRLF, so a CR inside a cell is quoted rather than starting a row.

Example:
    >>> import pandas as pd
    >>> safe_frame(pd.DataFrame({"moment": ["=cmd()", "ok"], "x": [-1.5, 2.0]}))["moment"].tolist()
    ["'=cmd()", 'ok']
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

__all__ = ["FORMULA_STARTS", "atomic_path", "csv_text", "neutralise_text", "safe_frame"]

# First characters that make a spreadsheet read a cell as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_text(value: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula.

    Example:
        >>> neutralise_text("=HYPERLINK()"), neutralise_text("ok")
        ("'=HYPERLINK()", 'ok')
    """
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells (and column names) cannot run as formulas."""
    out = frame.copy()
    out.columns = [neutralise_text(str(c)) for c in out.columns]
    for col in out.columns:
        if not (pd.api.types.is_numeric_dtype(out[col]) or pd.api.types.is_bool_dtype(out[col])):
            out[col] = out[col].map(lambda v: neutralise_text(v) if isinstance(v, str) else v)
    return out


def csv_text(frame: pd.DataFrame) -> str:
    """The neutralised frame as CSV text.

    Example:
        >>> csv_text(pd.DataFrame({"a": ["@SUM(A1)"], "b": [-2]}))
        "a,b\\r\\n'@SUM(A1),-2\\r\\n"
    """
    buf = io.StringIO()
    # CRLF ends a row (RFC 4180), so a CR inside a cell is quoted like a newline
    # (with "\n" alone a bare CR would start a new row in a spreadsheet)
    safe_frame(frame).to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue()


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed over it when the block ends without error.

    On any error, Ctrl-C included, the temporary file is removed and ``target``
    is left as it was (absent, or the previous complete file).

    Example:
        >>> out = Path(tempfile.mkdtemp()) / "result.json"
        >>> with atomic_path(out) as tmp:
        ...     _ = tmp.write_text("{}")
        >>> out.read_text(), sorted(p.name for p in out.parent.iterdir())
        ('{}', ['result.json'])
    """
    final = Path(target)
    fd, name = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for sharing
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
