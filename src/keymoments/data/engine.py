"""The query engine: the one module that names DuckDB and Spark.

Everything that touches raw rows goes through an :class:`Engine`, which holds an
Ibis backend. Readers register files with it; the journey summaries are Ibis
expressions executed on it. Engine gaps are asked about with
:meth:`Engine.has_operation` or handled here, never by comparing backend names
elsewhere.

Two engines:

- ``"duckdb"`` (default): embedded, in this process, on every core.
- ``"spark"``: PySpark (``pip install 'keymoments[spark]'``). Local mode on
  this machine by default; a cluster through ``master=`` (``--spark-master``,
  e.g. ``spark://host:7077`` or ``yarn``) or Spark Connect through the
  ``SPARK_REMOTE`` environment variable (``sc://host:15002``, Databricks).
  CSV, Parquet and JSON Lines files are read by Spark itself, so the events
  never pass through this process.

Example:
    >>> from keymoments.data.engine import connect
    >>> eng = connect()
    >>> eng.name
    'duckdb'
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from keymoments.errors import DataError, EngineError

__all__ = ["ENGINES", "SPARK_INSTALL", "Engine", "connect", "is_interrupt"]

ENGINES = ("duckdb", "spark")
SPARK_INSTALL = "pip install 'keymoments[spark]'"
# DuckDB's memory limit unless memory_limit= or KEYMOMENTS_DUCKDB_MEMORY_LIMIT says otherwise
DUCKDB_MEMORY_LIMIT = "1.5GB"

# Name of the column the readers keep file positions in (see data.readers).
_ROW = "__km_row"
# The longest CSV line read (an enormous free-text field); longer ones fail the read.
MAX_LINE_BYTES = 32 * 1024 * 1024


def is_interrupt(exc: BaseException) -> bool:
    """Whether an error is the engine stopping a query for Ctrl-C.

    DuckDB answers SIGINT during a query by stopping it and raising
    ``RuntimeError("Query interrupted")`` (or its ``InterruptException``)
    instead of Python's ``KeyboardInterrupt``; both mean the user asked to stop.

    Example:
        >>> is_interrupt(RuntimeError("Query interrupted")), is_interrupt(ValueError("x"))
        (True, False)
    """
    if isinstance(exc, KeyboardInterrupt):
        return True
    if type(exc).__name__ == "InterruptException":
        return True
    return isinstance(exc, RuntimeError) and str(exc).strip() in (
        "Query interrupted",
        "INTERRUPT Error: Interrupted!",
    )


@ibis.udf.scalar.builtin(name="try_strptime", signature=((dt.string, dt.string), dt.Timestamp()))
def _duckdb_strptime(value, fmt):  # type: ignore[no-untyped-def]
    """DuckDB's ``try_strptime``: NULL where the text does not match."""


@ibis.udf.scalar.builtin(
    name="try_to_timestamp", signature=((dt.string, dt.string), dt.Timestamp())
)
def _spark_strptime(value, fmt):  # type: ignore[no-untyped-def]
    """Spark's ``try_to_timestamp``: NULL where the text does not match."""


# strftime directives and their Java DateTimeFormatter spelling (Spark's patterns)
_JAVA_PATTERN = {
    "%d": "dd",
    "%m": "MM",
    "%Y": "yyyy",
    "%y": "yy",
    "%H": "HH",
    "%I": "hh",
    "%M": "mm",
    "%S": "ss",
    "%f": "SSSSSS",
    "%p": "a",
    "%b": "MMM",
    "%B": "MMMM",
    "%z": "Z",
    "%Z": "z",
    "%%": "%",
}


def java_pattern(fmt: str) -> str:
    """A strftime format in Spark's (Java) datetime pattern letters.

    Example:
        >>> java_pattern("%d/%m/%Y %H:%M:%S.%f")
        'dd/MM/yyyy HH:mm:ss.SSSSSS'
    """
    out: list[str] = []
    i = 0
    while i < len(fmt):
        two = fmt[i : i + 2]
        if two in _JAVA_PATTERN:
            out.append(_JAVA_PATTERN[two])
            i += 2
            continue
        ch = fmt[i]
        # letters are pattern symbols in Java: quote literal text
        out.append(f"'{ch}'" if ch.isalpha() else ch)
        i += 1
    return "".join(out)


class Engine:
    """An Ibis connection plus the few backend-specific calls keymoments needs.

    Args:
        name: ``"duckdb"`` or ``"spark"``.
        threads: DuckDB threads, or Spark local cores (default: all).
        master: Spark master URL (``local[4]``, ``spark://host:7077``, ``yarn``);
            ignored by DuckDB. Without it, ``SPARK_REMOTE`` (Spark Connect) is
            used when set, else local mode.
        session: an existing ``SparkSession`` to use (Databricks notebooks).
        memory_limit: DuckDB's memory limit (default ``"1.5GB"``, or the
            ``KEYMOMENTS_DUCKDB_MEMORY_LIMIT`` environment variable); DuckDB
            spills sorts to disk beyond it.
    """

    def __init__(
        self,
        name: str = "duckdb",
        *,
        threads: int | None = None,
        master: str | None = None,
        session: Any = None,
        memory_limit: str | None = None,
    ) -> None:
        if name not in ENGINES:
            raise EngineError(f"unknown engine {name!r}; choose one of: {', '.join(ENGINES)}")
        self.name = name
        self._scratch: Path | None = None
        self._cached: list[Any] = []
        self._stored: set[str] = set()
        self.errors: tuple[type[BaseException], ...]
        if name == "duckdb":
            self._start_duckdb(threads, memory_limit)
        else:
            self._start_spark(threads, master, session)

    def _start_duckdb(self, threads: int | None, memory_limit: str | None) -> None:
        import duckdb

        try:
            self.con: Any = ibis.duckdb.connect()
        except Exception as exc:  # pragma: no cover - an install problem, not a user one
            raise EngineError(f"cannot start DuckDB: {exc}") from exc
        self.errors = (duckdb.Error,)
        # Timestamps are read as instants and kept in UTC, whatever the machine's zone.
        self.con.raw_sql("SET TimeZone = 'UTC'")
        # File order is the tie-breaker for events with equal timestamps.
        self.con.raw_sql("SET preserve_insertion_order = true")
        n = threads or os.cpu_count() or 1
        self.con.raw_sql(f"SET threads = {int(n)}")
        # DuckDB would take 80% of the machine's memory. With a limit, sorts spill to
        # disk beyond it: at 10M events 1.5 GB keeps the whole process near 1.6 GB
        # and spills nothing, where 1 GB spilled 150-470 MB and took 1.3 s longer.
        limit = memory_limit or os.environ.get(
            "KEYMOMENTS_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT
        )
        self.con.raw_sql(f"SET memory_limit = '{limit}'")
        # spilled files go under the system's temp folder (DuckDB's default is ./.tmp),
        # created only when needed and removed by DuckDB
        spill = Path(tempfile.gettempdir()) / f"keymoments-spill-{uuid.uuid4().hex[:8]}"
        self.con.raw_sql(f"SET temp_directory = '{spill}'")

    def _start_spark(self, threads: int | None, master: str | None, session: Any) -> None:
        try:
            from pyspark.errors import PySparkException
        except ImportError:
            raise EngineError(
                f"the Spark engine needs PySpark, which is not installed; run {SPARK_INSTALL}"
            ) from None
        errors: list[type[BaseException]] = [PySparkException]
        try:
            from py4j.protocol import Py4JJavaError

            errors.append(Py4JJavaError)
        except ImportError:  # pragma: no cover - Spark Connect clients come without py4j
            pass
        self.errors = tuple(errors)
        self.remote = bool(os.environ.get("SPARK_REMOTE")) and master is None and session is None
        if session is None:
            session = _spark_session(threads, master, self.remote)
        self.session = session
        _patch_spark_strip()
        self.con = ibis.pyspark.connect(session)

    # -- registering data ------------------------------------------------------

    def _name(self, prefix: str) -> str:
        return f"km_{prefix}_{uuid.uuid4().hex[:8]}"

    @property
    def scratch(self) -> Path:
        """A folder for intermediate files that lives as long as the engine."""
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="keymoments-engine-"))
        return self._scratch

    @property
    def reads_local_files(self) -> bool:
        """Whether the engine sees this machine's files (not a cluster or Spark Connect)."""
        if self.name == "duckdb":
            return True
        master = str(self.session.conf.get("spark.master", "local")) if not self.remote else ""
        return master.startswith("local")

    def read_csv_text(
        self,
        path: str | Path,
        *,
        delimiter: str,
        header: list[str],
        encoding: str = "utf-8",
        compressed: bool = False,
    ) -> tuple[ibis.Table, tuple[str, str] | None]:
        """A CSV file with every column as text, and the engine's record of bad lines.

        DuckDB keeps lines it cannot parse in a rejects table (the pair of
        names returned); Spark marks them in a column ``__km_malformed``
        (true for a line with the wrong number of fields) and returns ``None``.
        """
        if self.name == "duckdb":
            suffix = uuid.uuid4().hex[:8]
            rejects = (f"km_rejects_{suffix}", f"km_rejects_scan_{suffix}")
            options: dict[str, Any] = {
                "delim": delimiter,
                "header": True,
                "all_varchar": True,  # nothing silently coerced; types are decided later
                # DuckDB's default (2 MB) fails the whole file on one long free-text
                # field; the larger limit costs nothing on ordinary lines
                "max_line_size": MAX_LINE_BYTES,
                # the reading buffer must hold two such lines; within the memory limit
                "buffer_size": 2 * MAX_LINE_BYTES,
                "encoding": encoding,
                "store_rejects": True,
                "rejects_table": rejects[0],
                "rejects_scan": rejects[1],
            }
            if compressed:
                options["compression"] = "gzip"
            table = self.con.read_csv(str(path), table_name=self._name("csv"), **options)
            return table, rejects
        from pyspark.sql import functions as F
        from pyspark.sql.types import StringType, StructField, StructType

        corrupt = "__km_corrupt"
        names = _unique_headers(header)
        schema = StructType(
            [StructField(n, StringType(), True) for n in names]
            + [StructField(corrupt, StringType(), True)]
        )
        df = self.session.read.csv(
            str(path),
            schema=schema,
            sep=delimiter,
            header=True,
            encoding=_SPARK_CHARSETS.get(encoding.lower(), encoding),
            mode="PERMISSIVE",
            columnNameOfCorruptRecord=corrupt,
            # the names are ours (from the sniffed header, repeats made unique): Spark
            # checking them against the file failed on a header naming a column twice
            enforceSchema=True,
        )
        df = df.withColumn("__km_malformed", F.col(corrupt).isNotNull()).drop(corrupt)
        return self._register(_numbered(df)), None

    def reads_csv_in(self, encoding: str) -> bool:
        """Whether the engine's CSV reader decodes ``encoding`` (else the readers transcode).

        Spark splits a file into lines before decoding it, which two-byte
        encodings defeat: UTF-16 came out as one malformed line and rows of
        garbage.

        Example:
            >>> Engine("duckdb").reads_csv_in("utf-16")
            True
        """
        if self.name == "spark":
            return not encoding.lower().startswith(("utf-16", "utf-32"))
        return True

    def read_parquet(self, path: str | Path) -> ibis.Table:
        """A Parquet file (or glob) as a table, with its 1-based row numbers in ``__km_row``.

        Both engines' readers give the file position for free; numbering rows
        with a window over the whole table would cost more than the rest of
        reading (it runs on one thread).
        """
        if self.name == "spark":
            from pyspark.sql import functions as F

            if not self.reads_local_files and Path(path).is_file():
                # a file on this machine that the cluster cannot see: send it over
                import pyarrow.parquet as pq

                table = pq.read_table(path)
                if _ROW in table.column_names:
                    table = table.drop_columns([_ROW])
                numbers = pa.array(range(1, table.num_rows + 1), pa.int64())
                return self.from_arrow(table.append_column(_ROW, numbers))
            df = self.session.read.parquet(str(path))
            if _ROW in df.columns:
                return self._register(_numbered(df.drop(_ROW)))
            df = df.select("*", (F.col("_metadata.row_index") + 1).cast("long").alias(_ROW))
            return self._register(df)
        plain = self.con.read_parquet(str(path), table_name=self._name("parquet"))
        if _ROW in plain.columns or "file_row_number" in plain.columns:
            return plain.mutate(**{_ROW: (ibis.row_number() + 1).cast(dt.int64)})
        numbered = self.con.read_parquet(
            str(path), table_name=self._name("parquet"), file_row_number=True
        )
        return numbered.mutate(**{_ROW: (numbered["file_row_number"] + 1).cast(dt.int64)}).drop(
            "file_row_number"
        )

    def read_parquet_files(self, paths: list[Path]) -> ibis.Table:
        """Several Parquet files written here as one table, columns matched by name."""
        if self.name == "duckdb":
            return self.con.read_parquet(
                [str(f) for f in paths], table_name=self._name("parquet"), union_by_name=True
            )
        import pyarrow.parquet as pq

        # Written on this machine, so a cluster cannot see them: hand them over as Arrow.
        tables = [pq.read_table(p) for p in paths]
        return self.from_arrow(pa.concat_tables(tables, promote_options="default"))

    def read_json(self, path: str | Path, *, array: bool = False) -> ibis.Table:
        """A JSON Lines file (or, with ``array``, one JSON array of records) as a table.

        A line that is not JSON becomes a row of NULLs (both engines), which
        the readers count as a malformed line.
        """
        if self.name == "duckdb":
            layout = "array" if array else "newline_delimited"
            try:
                return self.con.read_json(
                    str(path),
                    table_name=self._name("json"),
                    format=layout,
                    records=True,
                    ignore_errors=True,
                )
            except self.errors as exc:  # DuckDB's binder refuses non-records
                if "non-record JSON" not in str(exc):
                    raise
            return self._json_records_only(path, layout)
        df = self.session.read.json(str(path), multiLine=array, mode="PERMISSIVE")
        if "_corrupt_record" in df.columns:
            df = df.drop("_corrupt_record")
        return self._register(_numbered(df))

    def _json_records_only(self, path: str | Path, layout: str) -> ibis.Table:
        """JSON values that are not records (``[1, 2]``, ``42``) among records.

        DuckDB would read such a file as one column of raw JSON; here the
        records become columns and every other value a row of NULLs, which the
        readers count as a malformed line.
        """
        quoted = str(path).replace("'", "''")
        raw = f"read_json('{quoted}', format='{layout}', records=false, ignore_errors=true)"
        found = self.con.raw_sql(
            f"SELECT json_group_structure(json) FROM {raw} WHERE json_type(json) = 'OBJECT'"
        ).fetchall()
        structure = found[0][0] if found and found[0][0] is not None else None
        if structure is None:
            raise DataError(
                f"{Path(path).name}: no line holds a JSON object; expected one record per "
                'line, such as {"case_id": "1", "activity": "booked", "timestamp": "2024-01-01"}'
            )
        shape = str(structure).replace("'", "''")
        # ibis' own sql() cannot describe this query on DuckDB 2.0, so it is run here
        name = self._name("json")
        self.con.raw_sql(
            f'CREATE TEMP TABLE "{name}" AS SELECT unnest(CASE WHEN json_type(json) = '
            f"'OBJECT' THEN json_transform(json, '{shape}') END) FROM {raw}"
        )
        records = self.con.table(name)
        return records

    def _register(self, df: Any) -> ibis.Table:
        name = self._name("spark")
        df.createOrReplaceTempView(name)
        return self.con.table(name)

    def from_arrow(self, data: pa.Table | pd.DataFrame, prefix: str = "mem") -> ibis.Table:
        """An in-memory Arrow table or DataFrame as an engine table."""
        if self.name == "duckdb":
            return self.con.create_table(self._name(prefix), data, temp=True)
        table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data)
        df = self.session.createDataFrame(_spark_friendly(table))
        return self._register(df)

    def materialise(self, expr: ibis.Table, prefix: str = "tmp") -> ibis.Table:
        """Compute ``expr`` once into a temporary table, so later queries reuse it."""
        if self.name == "duckdb":
            name = self._name(prefix)
            self._stored.add(name)
            return self.con.create_table(name, expr, temp=True)
        df = self.session.sql(self.con.compile(expr)).persist()
        self._cached.append(df)
        return self._register(df)

    def forget(self, table: ibis.Table) -> None:
        """Drop a view registered by one of the ``read_*`` methods (its data stays in use)."""
        if self.name == "duckdb":
            self.con.drop_view(table.get_name())
        else:
            self.session.catalog.dropTempView(table.get_name())

    def row_numbers(self, table: ibis.Table) -> ibis.Table:
        """``table`` with its rows numbered 1, 2, ... in their current order in ``__km_row``."""
        if self.name == "duckdb":
            if isinstance(table.op(), ops.PhysicalTable) and table.get_name() in self._stored:
                # a stored table numbers its rows for free; a window would run on one thread
                return table.mutate(**{_ROW: (table.rowid() + 1).cast(dt.int64)})
            return table.mutate(**{_ROW: (ibis.row_number() + 1).cast(dt.int64)})
        df = self.session.sql(self.con.compile(table))
        return self._register(_numbered(df))

    def iso_timestamp(self, text: ir.StringValue) -> ir.TimestampValue:
        """ISO 8601 text (``T`` or space, offset or none, date only, or ``2014/10/22 ...``)
        as naive UTC; NULL where it is not one."""
        if self.name == "spark":
            # Spark's cast reads ISO 8601 but not slashes between the date's parts
            text = text.re_replace(r"^\s*([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})", "$1-$2-$3")
        # Through a zoned timestamp so that offsets are honoured; the session zone is
        # UTC, so dropping the zone afterwards leaves UTC wall-clock time.
        return text.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.Timestamp())

    def try_strptime(self, text: ir.StringValue, fmt: str) -> ir.TimestampValue:
        """Text parsed with a strftime format; NULL where it does not match."""
        if self.name == "duckdb":
            return _duckdb_strptime(text, fmt)
        return _spark_strptime(text, java_pattern(fmt))

    # -- running ---------------------------------------------------------------

    def to_pandas(self, expr: ibis.Expr) -> Any:
        """Execute a (small) expression and return pandas objects."""
        return self.con.execute(expr)

    def to_arrow(self, expr: ibis.Table) -> pa.Table:
        """Execute a table expression into Arrow."""
        return self.con.to_pyarrow(expr)

    def write_csv(self, expr: ibis.Table, path: str | Path) -> None:
        """Write a table expression to a CSV file (header, comma separated)."""
        if self.name == "duckdb":
            self.con.to_csv(expr, str(path))
            return
        import pyarrow.csv as pacsv

        pacsv.write_csv(self.to_arrow(expr), str(path))

    def has_operation(self, operation: type) -> bool:
        """Whether the backend can run an Ibis operation (``ibis.expr.operations``)."""
        return bool(self.con.has_operation(operation))

    def close(self) -> None:
        """Release the connection (a Spark session is left running for others to share)."""
        if self.name == "duckdb":
            self.con.disconnect()
        for df in self._cached:
            df.unpersist()
        self._cached.clear()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __repr__(self) -> str:
        return f"Engine({self.name!r})"


# DuckDB's encoding names (what data.sniff reports) in Spark's spelling
_SPARK_CHARSETS = {"latin-1": "iso-8859-1", "utf-16": "utf-16"}


def _unique_headers(header: list[str]) -> list[str]:
    names: list[str] = []
    for i, h in enumerate(header):
        name = h or f"column{i}"
        while name in names:
            name = f"{name}_{i}"
        names.append(name)
    return names


def _numbered(df: Any) -> Any:
    """A Spark DataFrame with its rows numbered 1, 2, ... in file order (``__km_row``).

    ``monotonically_increasing_id`` puts the partition in the upper bits and
    the position within it in the lower 33; one small count per partition
    turns that into consecutive numbers without pulling any row to the driver.
    """
    from pyspark.sql import functions as F

    ids = df.withColumn("__km_id", F.monotonically_increasing_id())
    part = F.shiftright(F.col("__km_id"), 33)
    counts = sorted(
        (int(r["p"]), int(r["n"]))
        for r in ids.groupBy(part.alias("p")).agg(F.count(F.lit(1)).alias("n")).collect()
    )
    offsets: dict[int, int] = {}
    total = 0
    for p, n in counts:
        offsets[p] = total
        total += n
    offset = F.lit(0)
    for p, start in offsets.items():
        if start:
            offset = F.when(part == p, F.lit(start)).otherwise(offset)
    local = F.col("__km_id").bitwiseAND(F.lit((1 << 33) - 1))
    return ids.withColumn(_ROW, (local + offset + 1).cast("long")).drop("__km_id")


def _spark_friendly(table: pa.Table) -> pa.Table:
    """Arrow types Spark takes: large strings as strings, naive timestamps in microseconds."""
    fields = []
    for f in table.schema:
        t = f.type
        if pa.types.is_large_string(t) or pa.types.is_string_view(t):
            t = pa.string()
        elif pa.types.is_timestamp(t):
            t = pa.timestamp("us", tz=t.tz)
        fields.append(pa.field(f.name, t))
    return table.cast(pa.schema(fields))


def _patch_spark_strip() -> None:
    """Make Ibis' ``strip`` on Spark trim whitespace, and only whitespace.

    Ibis 12 compiles ``strip`` to ``trim(BOTH ' \\t\\n\\r\\v\\f' FROM x)``, and Spark
    SQL reads the escapes ``\\v`` and ``\\f`` as the letters ``v`` and ``f``: activity
    ``follow_up`` came back as ``ollow_up``. Java's ``\\s`` is the same six characters.
    """
    from ibis.backends.sql.compilers.pyspark import PySparkCompiler

    def strip(pattern: str) -> Any:
        def visit(self: Any, op: Any, *, arg: Any) -> Any:
            return self.f.regexp_replace(arg, pattern, "")

        return visit

    PySparkCompiler.visit_Strip = strip(r"^\s+|\s+$")  # type: ignore[method-assign]
    PySparkCompiler.visit_LStrip = strip(r"^\s+")  # type: ignore[method-assign]
    PySparkCompiler.visit_RStrip = strip(r"\s+$")  # type: ignore[method-assign]


def _spark_session(threads: int | None, master: str | None, remote: bool) -> Any:
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("keymoments")
    # Spark's console progress bars ([Stage 3:====>  (1 + 2) / 4]) would flood the
    # terminal under keymoments' own progress; Connect applies the session's SQL
    # settings and passes the rest to a server it starts itself (SPARK_REMOTE=local)
    settings = {
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.session.timeZone": "UTC",
    }
    if not remote:
        cores = threads or os.cpu_count() or 1
        builder = builder.master(master or f"local[{cores}]")
        local = (master or "local").startswith("local")
        settings |= {
            "spark.ui.enabled": "false",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
            "spark.driver.memory": os.environ.get("KEYMOMENTS_SPARK_DRIVER_MEMORY", "2g"),
        }
        if local:
            # a session on one machine: few shuffle partitions, merged by AQE anyway;
            # a cluster keeps its own (spark-defaults.conf, else Spark's 200)
            settings["spark.sql.shuffle.partitions"] = str(max(4, 2 * cores))
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(
            f"cannot start Spark ({first}); Spark needs Java 17 or 21 on the PATH or in "
            "JAVA_HOME, and for a cluster a reachable --spark-master or SPARK_REMOTE"
        ) from None


def connect(
    engine: str | Engine | None = None,
    *,
    master: str | None = None,
    threads: int | None = None,
) -> Engine:
    """An :class:`Engine` from a name (``"duckdb"``, ``"spark"``) or an engine already made.

    Example:
        >>> connect("duckdb").name
        'duckdb'
    """
    if isinstance(engine, Engine):
        return engine
    name = engine or "duckdb"
    if master is not None and name != "spark":
        raise EngineError(
            f"a Spark master ({master!r}) was given for engine {name!r}; add --engine spark"
        )
    return Engine(name, master=master, threads=threads)
