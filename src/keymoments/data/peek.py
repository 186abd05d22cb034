"""The first rows of a file as they are, before its key columns are known.

``keymoments init`` looks at them to guess which columns hold the case id, the
activity and the timestamp; the whole file is then read by ``read_events``.

Example:
    >>> from keymoments.data.engine import connect
    >>> peek("tests/data/running-example.xes", engine=connect(), rows=2).shape[0]
    2
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from keymoments.data.engine import Engine
from keymoments.data.sniff import sniff
from keymoments.data.tables import read_xlsx, xes_table
from keymoments.errors import DataError

__all__ = ["peek"]


def peek(path: str | Path, *, engine: Engine, rows: int = 2000) -> pd.DataFrame:
    """The first ``rows`` rows of ``path`` (any format ``read_events`` reads), every
    source column, CSV values as text. Raises :class:`DataError` when it cannot be read."""
    p = Path(path)
    sniffed = sniff(p)
    try:
        if sniffed.format == "csv":
            # a sample: Python's reader copes with every encoding sniff() names
            return pd.read_csv(
                p,
                sep=sniffed.delimiter,
                encoding=sniffed.python_encoding,
                compression="gzip" if sniffed.compressed else None,
                nrows=rows,
                dtype=str,
                keep_default_na=False,
                on_bad_lines="skip",
            )
        with tempfile.TemporaryDirectory(prefix="keymoments-") as tmp:
            if sniffed.format == "parquet":
                table = engine.read_parquet(p)
            elif sniffed.format == "jsonl":
                table = engine.read_json(p, array=sniffed.json_array)
            elif sniffed.format == "xes":
                table = xes_table(p, engine, Path(tmp))
            else:
                table = read_xlsx(p, engine)
            keep = [c for c in table.columns if not c.startswith("__km_")]
            return engine.to_pandas(table.select(*keep).limit(rows))  # type: ignore[no-any-return]
    except DataError:
        raise
    except Exception as exc:  # any reader failure is the file's problem here
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{p.name}: cannot read it ({first})") from None
