"""Every reader gives the same table and the same account on Spark as on DuckDB.

CSV, Parquet and JSON Lines are read by Spark itself; XES and XLSX are parsed
in Python and handed over as Arrow (see docs/spark.md).
"""

from __future__ import annotations

import datetime as dt
import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest

from keymoments.data.engine import Engine
from keymoments.data.readers import read_cases, read_events
from keymoments.errors import DataError
from keymoments.model import ColumnMap

pytestmark = pytest.mark.xdist_group("spark")

DATA = Path(__file__).resolve().parents[1] / "data"
READERS = DATA / "readers"


def _frame(engine: Engine, table) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    df = engine.to_pandas(table)
    key = "row" if "row" in df.columns else "case_id"
    return df.sort_values(key).reset_index(drop=True)


def _same_events(duck: Engine, spark: Engine, path: Path, columns: ColumnMap) -> None:
    a = read_events(path, columns=columns, engine=duck)
    b = read_events(path, columns=columns, engine=spark)
    assert (b.report.rows, b.report.used, b.report.set_aside) == (
        a.report.rows,
        a.report.used,
        a.report.set_aside,
    )
    assert b.report.columns == a.report.columns
    left, right = _frame(duck, a.table), _frame(spark, b.table)
    assert list(right.columns) == list(left.columns)
    for key in ("case_id", "activity", "timestamp", "row"):
        assert right[key].tolist() == left[key].tolist(), key


@pytest.mark.parametrize(
    "name", ["semicolon_crlf.csv", "bom.csv", "tab.tsv", "latin1.csv", "messy.csv"]
)
def test_csv_files(duck: Engine, spark: Engine, name: str) -> None:
    _same_events(duck, spark, READERS / name, ColumnMap())


def test_gzipped_csv_of_a_real_log(duck: Engine, spark: Engine) -> None:
    _same_events(
        duck,
        spark,
        DATA / "real" / "sepsis_cases_eventlog.csv.gz",
        ColumnMap(case_id="Case ID", activity="Activity", timestamp="Complete Timestamp"),
    )


def test_csv_with_a_malformed_line(duck: Engine, spark: Engine, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "case_id,activity,timestamp\n"
        "1,a,2020-01-01 10:00\n"
        "1,b,2020-01-01 11:00,extra,fields\n"
        ",c,2020-01-01 12:00\n"
        "2,d,not a time\n"
        "2,e,2020-01-02\n"
    )
    _same_events(duck, spark, path, ColumnMap())
    log = read_events(path, columns=ColumnMap(), engine=spark)
    assert log.report.set_aside == {
        "malformed line": 1,
        "no case id": 1,
        "unparseable timestamp": 1,
    }
    assert _frame(spark, log.table)["row"].tolist() == [1, 5]


def test_parquet_and_json_lines(duck: Engine, spark: Engine, tmp_path: Path) -> None:
    events = pd.DataFrame(
        {
            "case_id": [2, 1, 1, None],
            "activity": ["x", "a", "b", "c"],
            "timestamp": pd.to_datetime(
                ["2020-01-02", "2020-01-01 10:00", "2020-01-01 10:00", "2020-01-03"],
                format="ISO8601",
            ),
            "cost": [1.5, 2.0, None, 4.0],
        }
    )
    events.to_parquet(tmp_path / "e.parquet")
    _same_events(duck, spark, tmp_path / "e.parquet", ColumnMap())
    (tmp_path / "e.jsonl").write_text(
        '{"case_id": 7, "activity": "a", "timestamp": "2020-01-01T10:00:00+02:00"}\n'
        '{"case_id": "x", "activity": "b", "timestamp": "2020-01-01 10:00:00"}\n'
        '{"case_id": 8, "activity": "c", "timestamp": \n'
        '{"case_id": 9, "activity": "d", "timestamp": "later"}\n'
    )
    _same_events(duck, spark, tmp_path / "e.jsonl", ColumnMap())


def test_xes(duck: Engine, spark: Engine, tmp_path: Path) -> None:
    _same_events(duck, spark, DATA / "running-example.xes", ColumnMap())
    with (
        (DATA / "running-example.xes").open("rb") as src,
        gzip.open(tmp_path / "log.xes.gz", "wb") as dst,
    ):
        shutil.copyfileobj(src, dst)
    _same_events(duck, spark, tmp_path / "log.xes.gz", ColumnMap())


def test_day_first_timestamps(duck: Engine, spark: Engine, tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "case,act,when\n1,a,13/01/2020 10:00:05\n1,b,14/01/2020 09:30:00\n2,a,31/12/2019 23:59:59\n"
    )
    _same_events(duck, spark, path, ColumnMap(case_id="case", activity="act", timestamp="when"))
    log = read_events(
        path, columns=ColumnMap(case_id="case", activity="act", timestamp="when"), engine=spark
    )
    assert _frame(spark, log.table)["timestamp"].iloc[0] == pd.Timestamp("2020-01-13 10:00:05")


def test_cases_csv_xlsx_and_duplicates(duck: Engine, spark: Engine, tmp_path: Path) -> None:
    import openpyxl

    (tmp_path / "cases.csv").write_text("Case ID,score,segment\n1,4,a\n2,5.5,b\n1,3,a\n,2,c\n")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Case ID", "rating", "comment", "visited"])
    sheet.append([101, 4, "fine", dt.datetime(2020, 1, 1)])
    sheet.append([102, 2.5, None, dt.datetime(2020, 1, 2)])
    sheet.append([101, 5, "again", None])
    book.save(tmp_path / "cases.xlsx")
    for name in ("cases.csv", "cases.xlsx"):
        a = read_cases(tmp_path / name, case_id="case_id", engine=duck)
        b = read_cases(tmp_path / name, case_id="case_id", engine=spark)
        assert (b.report.rows, b.report.used, b.report.set_aside) == (
            a.report.rows,
            a.report.used,
            a.report.set_aside,
        )
        left, right = _frame(duck, a.table), _frame(spark, b.table)
        pd.testing.assert_frame_equal(right, left, check_dtype=False)


def test_unreadable_file_is_a_data_error(spark: Engine, tmp_path: Path) -> None:
    (tmp_path / "e.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match=r"e\.parquet"):
        read_events(tmp_path / "e.parquet", columns=ColumnMap(), engine=spark)
