"""The query engine: the one module that names DuckDB (and, later, Spark).

Everything that touches raw rows goes through an :class:`Engine`, which holds an
Ibis backend. Readers register files with it; the journey summaries are Ibis
expressions executed on it. Engine gaps are asked about with
:meth:`Engine.has_operation`, never by comparing backend names elsewhere.

Example:
    >>> from keymoments.data.engine import connect
    >>> eng = connect()
    >>> eng.name
    'duckdb'
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from keymoments.errors import EngineError

__all__ = ["ENGINES", "Engine", "connect"]

ENGINES = ("duckdb",)


class Engine:
    """An Ibis connection plus the few backend-specific calls keymoments needs."""

    def __init__(self, name: str = "duckdb", *, threads: int | None = None) -> None:
        if name not in ENGINES:
            raise EngineError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
        self.name = name
        try:
            self.con: Any = ibis.duckdb.connect()
        except Exception as exc:  # pragma: no cover - an install problem, not a user one
            raise EngineError(f"cannot start DuckDB: {exc}") from exc
        # Timestamps are read as instants and kept in UTC, whatever the machine's zone.
        self.con.raw_sql("SET TimeZone = 'UTC'")
        # File order is the tie-breaker for events with equal timestamps.
        self.con.raw_sql("SET preserve_insertion_order = true")
        n = threads or os.cpu_count() or 1
        self.con.raw_sql(f"SET threads = {int(n)}")

    # -- registering data ------------------------------------------------------

    def _name(self, prefix: str) -> str:
        return f"km_{prefix}_{uuid.uuid4().hex[:8]}"

    def read_csv(self, path: str | Path, **options: Any) -> ibis.Table:
        """A CSV file as a table; ``options`` go to DuckDB's ``read_csv``."""
        return self.con.read_csv(str(path), table_name=self._name("csv"), **options)

    def read_parquet(self, path: str | Path, **options: Any) -> ibis.Table:
        """A Parquet file (or glob) as a table; ``options`` go to DuckDB's ``read_parquet``."""
        return self.con.read_parquet(str(path), table_name=self._name("parquet"), **options)

    def read_json_lines(self, path: str | Path, **options: Any) -> ibis.Table:
        """A JSON Lines file as a table; ``options`` go to DuckDB's ``read_json``."""
        return self.con.read_json(
            str(path), table_name=self._name("json"), format="newline_delimited", **options
        )

    def from_arrow(self, data: pa.Table | pd.DataFrame, prefix: str = "mem") -> ibis.Table:
        """An in-memory Arrow table or DataFrame as an engine table."""
        return self.con.create_table(self._name(prefix), data, temp=True)

    def materialise(self, expr: ibis.Table, prefix: str = "tmp") -> ibis.Table:
        """Compute ``expr`` once into a temporary table, so later queries reuse it."""
        return self.con.create_table(self._name(prefix), expr, temp=True)

    # -- running ---------------------------------------------------------------

    def to_pandas(self, expr: ibis.Expr) -> Any:
        """Execute a (small) expression and return pandas objects."""
        return self.con.execute(expr)

    def to_arrow(self, expr: ibis.Table) -> pa.Table:
        """Execute a table expression into Arrow."""
        return self.con.to_pyarrow(expr)

    def write_csv(self, expr: ibis.Table, path: str | Path) -> None:
        """Stream a table expression to a CSV file (header, comma separated)."""
        self.con.to_csv(expr, str(path))

    def has_operation(self, operation: type) -> bool:
        """Whether the backend can run an Ibis operation (``ibis.expr.operations``)."""
        return bool(self.con.has_operation(operation))

    def close(self) -> None:
        """Release the connection."""
        self.con.disconnect()

    def __repr__(self) -> str:
        return f"Engine({self.name!r})"


def connect(engine: str | Engine | None = None) -> Engine:
    """An :class:`Engine` from a name (``"duckdb"``) or an engine already made."""
    if isinstance(engine, Engine):
        return engine
    return Engine(engine or "duckdb")
