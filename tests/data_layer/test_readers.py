"""Readers on small real files, through the real DuckDB engine."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import shutil
from pathlib import Path

import pandas as pd
import pytest

from keymoments.data.engine import Engine, connect
from keymoments.data.readers import read_cases, read_events, write_set_aside
from keymoments.errors import DataError
from keymoments.model import ColumnMap

DATA = Path(__file__).resolve().parents[1] / "data"
FIXTURES = DATA / "readers"
RUNNING = DATA / "running-example.xes"


@pytest.fixture(scope="module")
def engine() -> Engine:
    return connect()


def frame(engine: Engine, log) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return engine.to_pandas(log.table.order_by("row"))


def test_semicolon_crlf_aliases_and_slash_timestamps(engine: Engine) -> None:
    log = read_events(FIXTURES / "semicolon_crlf.csv", columns=ColumnMap(), engine=engine)
    df = frame(engine, log)
    assert list(df.columns) == ["case_id", "activity", "timestamp", "row", "cost"]
    assert df["activity"].tolist() == ["register", "decide; fast", "register"]
    assert df["timestamp"].iloc[0] == pd.Timestamp("2014-10-22 11:15:41")
    assert df["row"].tolist() == [1, 2, 3]
    notes = " ".join(log.report.notes)
    assert "semicolon" in notes and "'Case ID'" in notes and "'Complete Timestamp'" in notes
    assert log.report.columns["timestamp"] == "Complete Timestamp"


def test_bom_zone_and_date_only(engine: Engine) -> None:
    df = frame(engine, read_events(FIXTURES / "bom.csv", columns=ColumnMap(), engine=engine))
    assert df["case_id"].tolist() == ["1", "1"]
    assert df["timestamp"].tolist() == [
        pd.Timestamp("2020-01-01 08:00:00"),
        pd.Timestamp("2020-01-02 00:00:00"),
    ]


def test_tab_and_latin1(engine: Engine) -> None:
    tab = read_events(FIXTURES / "tab.tsv", columns=ColumnMap(), engine=engine)
    assert tab.report.used == 2 and any("tab" in n for n in tab.report.notes)
    latin = read_events(FIXTURES / "latin1.csv", columns=ColumnMap(), engine=engine)
    assert frame(engine, latin)["activity"].tolist() == ["café visit", "naïve"]
    assert any("Latin-1" in n for n in latin.report.notes)


def test_cp1252_and_utf16(engine: Engine, tmp_path: Path) -> None:
    text = "case_id,activity,timestamp\n1,price €5 – “quoted”,2020-01-01\n"
    (tmp_path / "w.csv").write_bytes(text.encode("cp1252"))
    (tmp_path / "u.csv").write_bytes(text.encode("utf-16"))
    for name in ("w.csv", "u.csv"):
        df = frame(engine, read_events(tmp_path / name, columns=ColumnMap(), engine=engine))
        assert df["activity"].tolist() == ["price €5 – “quoted”"], name


def test_messy_rows_are_set_aside_and_counted(engine: Engine, tmp_path: Path) -> None:
    log = read_events(FIXTURES / "messy.csv", columns=ColumnMap(), engine=engine)
    r = log.report
    assert r.set_aside == {
        "no case id": 1,
        "no activity": 1,
        "unparseable timestamp": 2,
        "no timestamp": 1,
        "malformed line": 1,
    }
    assert (r.rows, r.used) == (8, 2)
    assert r.rows == r.used + r.n_set_aside
    assert frame(engine, log)["row"].tolist() == [1, 8]
    aside = engine.to_pandas(r.set_aside_rows.order_by("row"))
    assert aside["row"].tolist() == [2, 3, 4, 5, 6, 7]
    assert aside["reason"].iloc[4] == "malformed line" and aside["record"].iloc[4] == "5,pay"
    assert '"timestamp":"not a date"' in aside["record"].iloc[2]

    out = tmp_path / "aside.csv"
    assert write_set_aside([r], out, engine) == 6
    with out.open(newline="", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert list(written[0]) == ["file", "row", "reason", "record"]
    assert written[0]["file"] == "messy.csv"
    assert [w["row"] for w in written] == ["2", "3", "4", "5", "6", "7"]
    assert written[5]["record"].startswith('{"case_id":"=cmd"')


def test_write_set_aside_neutralises_formulas(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "f.csv"
    src.write_text("case_id,activity,timestamp\n1,a,2020-01-01\n=1+2,@SUM(A1)\n")
    log = read_events(src, columns=ColumnMap(), engine=engine)
    out = tmp_path / "aside.csv"
    assert write_set_aside([log.report], out, engine) == 1
    with out.open(newline="", encoding="utf-8") as fh:
        (row,) = list(csv.DictReader(fh))
    assert row["record"] == "'=1+2,@SUM(A1)"
    assert row["reason"] == "malformed line"


def test_write_set_aside_nothing(engine: Engine, tmp_path: Path) -> None:
    log = read_events(RUNNING, columns=ColumnMap(), engine=engine)
    out = tmp_path / "aside.csv"
    assert write_set_aside([log.report], out, engine) == 0
    assert not out.exists()
    assert write_set_aside([], out, engine) == 0


def test_explicit_timestamp_format(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "e.csv"
    src.write_text("case,act,when\n1,a,03/04/2020 10:00\n1,b,13/04/2020 10:00\n")
    cols = ColumnMap(
        case_id="case", activity="act", timestamp="when", timestamp_format="%m/%d/%Y %H:%M"
    )
    log = read_events(src, columns=cols, engine=engine)
    assert log.report.set_aside == {"unparseable timestamp": 1}
    assert frame(engine, log)["timestamp"].tolist() == [pd.Timestamp("2020-03-04 10:00")]


def test_detected_day_first_format(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "e.csv"
    src.write_text("case_id,activity,timestamp\n1,a,03/04/2020 10:00:00\n1,b,05/04/2020 11:30:00\n")
    log = read_events(src, columns=ColumnMap(), engine=engine)
    assert frame(engine, log)["timestamp"].tolist() == [
        pd.Timestamp("2020-04-03 10:00"),
        pd.Timestamp("2020-04-05 11:30"),
    ]
    notes = " ".join(log.report.notes)
    assert "%d/%m/%Y %H:%M:%S" in notes and "day first" in notes


def test_month_first_when_day_first_cannot_parse(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "e.csv"
    src.write_text("case_id,activity,timestamp\n1,a,12/25/2020\n1,b,12/26/2020\n")
    log = read_events(src, columns=ColumnMap(), engine=engine)
    assert frame(engine, log)["timestamp"].iloc[0] == pd.Timestamp("2020-12-25")
    assert "day first" not in " ".join(log.report.notes)


def test_missing_column_suggests_closest(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "e.csv"
    src.write_text("Case Ident,activity,timestamp\n1,a,2020-01-01\n")
    with pytest.raises(DataError) as err:
        read_events(src, columns=ColumnMap(case_id="CaseIdnt"), engine=engine)
    message = str(err.value)
    assert "e.csv" in message and "'CaseIdnt'" in message
    assert "did you mean 'Case Ident'?" in message and "'timestamp'" in message


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"case_id,activity,timestamp\n", "no rows after the header"),
        (b"case_id,activity,timestamp\r\n\r\n", "no rows after the header"),
        (bytes(range(256)) * 4, "binary"),
        (b"case_id,activity,timestamp\n,,\n ,a,x\n", "none of the 2 rows could be used"),
    ],
)
def test_unusable_files(engine: Engine, tmp_path: Path, content: bytes, expected: str) -> None:
    src = tmp_path / "events.csv"
    src.write_bytes(content)
    with pytest.raises(DataError, match=expected) as err:
        read_events(src, columns=ColumnMap(), engine=engine)
    assert "events.csv" in str(err.value)


def test_missing_file_and_unknown_format(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_events(tmp_path / "nope.csv", columns=ColumnMap(), engine=engine)
    junk = tmp_path / "events.bin"
    junk.write_bytes(b"\x00\x01\x02\x03" * 100)
    with pytest.raises(DataError, match=r"events\.bin"):
        read_events(junk, columns=ColumnMap(), engine=engine)


def test_unknown_extension_is_sniffed(engine: Engine, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "tab.tsv", tmp_path / "events.dat")
    assert read_events(tmp_path / "events.dat", columns=ColumnMap(), engine=engine).report.used == 2
    shutil.copy(RUNNING, tmp_path / "log.data")
    assert read_events(tmp_path / "log.data", columns=ColumnMap(), engine=engine).report.used == 42


def test_csv_gz(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "e.csv.gz"
    src.write_bytes(gzip.compress((FIXTURES / "semicolon_crlf.csv").read_bytes()))
    assert read_events(src, columns=ColumnMap(), engine=engine).report.used == 3


def test_parquet_typed_timestamps(engine: Engine, tmp_path: Path) -> None:
    zoned = pd.DataFrame(
        {
            "case_id": [1, 2, None],
            "activity": ["a", "b", "c"],
            "timestamp": pd.to_datetime(
                ["2020-01-01 10:00", "2020-01-01 11:00", "2020-01-01 12:00"]
            ).tz_localize("Europe/Paris"),
            "value": [1.5, 2.5, 3.5],
        }
    )
    zoned.to_parquet(tmp_path / "e.parquet")
    log = read_events(tmp_path / "e.parquet", columns=ColumnMap(), engine=engine)
    df = frame(engine, log)
    assert df["case_id"].tolist() == ["1", "2"]
    assert df["timestamp"].iloc[0] == pd.Timestamp("2020-01-01 09:00")
    assert df["value"].tolist() == [1.5, 2.5]
    assert log.report.set_aside == {"no case id": 1}
    naive = zoned.assign(timestamp=pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]))
    naive.to_parquet(tmp_path / "n.pq")
    df = frame(engine, read_events(tmp_path / "n.pq", columns=ColumnMap(), engine=engine))
    assert df["timestamp"].iloc[1] == pd.Timestamp("2020-01-02")


def test_json_lines_and_json_array(engine: Engine, tmp_path: Path) -> None:
    lines = (
        '{"case_id": 7, "activity": "a", "timestamp": "2020-01-01T10:00:00+02:00"}\n'
        '{"case_id": "x", "activity": "b", "timestamp": "2020-01-01 10:00:00"}\n'
        '{"case_id": 8, "activity": "c", "timestamp": \n'
        '{"case_id": 9, "activity": "d", "timestamp": "later"}\n'
    )
    (tmp_path / "e.jsonl").write_text(lines)
    log = read_events(tmp_path / "e.jsonl", columns=ColumnMap(), engine=engine)
    df = frame(engine, log)
    assert df["case_id"].tolist() == ["7", "x"]
    assert df["timestamp"].iloc[0] == pd.Timestamp("2020-01-01 08:00")
    assert log.report.set_aside == {"malformed line": 1, "unparseable timestamp": 1}
    assert log.report.rows == 4
    (tmp_path / "a.json").write_text(
        '[{"case_id": "1", "activity": "a", "timestamp": "2020-01-01"}]'
    )
    assert read_events(tmp_path / "a.json", columns=ColumnMap(), engine=engine).report.used == 1


def test_xes_running_example(engine: Engine, tmp_path: Path) -> None:
    log = read_events(RUNNING, columns=ColumnMap(), engine=engine)
    df = frame(engine, log)
    assert (log.report.rows, log.report.used) == (42, 42)
    assert df["case_id"].nunique() == 6
    assert {"register request", "pay compensation", "reject request"} <= set(df["activity"])
    assert {"org:resource", "concept:name", "case:creator"} <= set(df.columns)
    # 2010-12-30T14:32:00.000+01:00 in the file
    assert df["timestamp"].iloc[0] == pd.Timestamp("2010-12-30 13:32:00")
    assert df["row"].tolist() == list(range(1, 43))

    gz = tmp_path / "running-example.xes.gz"
    gz.write_bytes(gzip.compress(RUNNING.read_bytes()))
    again = frame(engine, read_events(gz, columns=ColumnMap(), engine=engine))
    pd.testing.assert_frame_equal(again, df)


def test_xes_explicit_pm4py_columns(engine: Engine) -> None:
    cols = ColumnMap(
        case_id="case:concept:name", activity="concept:name", timestamp="time:timestamp"
    )
    log = read_events(RUNNING, columns=cols, engine=engine)
    assert log.report.notes == []
    assert "Activity" in log.table.columns


def test_xes_missing_values_and_namespaces(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "ns.xes"
    src.write_text(
        '<?xml version="1.0"?>\n<log xmlns="http://www.xes-standard.org/">\n'
        '<trace><string key="concept:name" value="c1"/>\n'
        '<event><string key="concept:name" value="a"/>'
        '<date key="time:timestamp" value="2020-01-01T10:00:00Z"/>'
        '<int key="amount" value="5"/><list key="l"><string key="x" value="y"/></list></event>\n'
        '<event><string key="concept:name" value="b"/></event>\n'
        "</trace>\n"
        '<trace><event><string key="concept:name" value="a"/>'
        '<date key="time:timestamp" value="2020-01-02T10:00:00Z"/></event></trace>\n'
        "</log>\n"
    )
    log = read_events(src, columns=ColumnMap(), engine=engine)
    assert log.report.set_aside == {"no timestamp": 1, "no case id": 1}
    df = frame(engine, log)
    assert df["amount"].tolist() == [5]
    assert "x" not in df.columns


def test_truncated_xes(engine: Engine, tmp_path: Path) -> None:
    text = RUNNING.read_text(encoding="utf-8")
    src = tmp_path / "cut.xes"
    src.write_text(text[: len(text) // 2])
    with pytest.raises(DataError, match=r"cut\.xes, line \d+"):
        read_events(src, columns=ColumnMap(), engine=engine)
    gz = tmp_path / "cut.xes.gz"
    packed = gzip.compress(RUNNING.read_bytes())
    gz.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(DataError, match=r"cut\.xes\.gz"):
        read_events(gz, columns=ColumnMap(), engine=engine)


def test_cases_duplicates_types_and_aliases(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    src.write_text(
        "id,score,income,mixed,flag,segment\n"
        "1,4,1.5,3,true,a\n2,5,2,x,false,b\n1,3,2.5,4,true,a\n,2,1,1,true,c\n3,,0.5,,,\n"
    )
    cases = read_cases(src, case_id="case_id", engine=engine)
    r = cases.report
    assert r.set_aside == {"duplicate case id": 1, "no case id": 1}
    assert (r.rows, r.used) == (5, 3)
    schema = cases.table.schema()
    assert schema["case_id"].is_string() and schema["score"].is_integer()
    assert schema["income"].is_floating() and schema["mixed"].is_string()
    assert schema["flag"].is_boolean()
    df = engine.to_pandas(cases.table.order_by("case_id"))
    assert df["case_id"].tolist() == ["1", "2", "3"]
    assert df["score"].iloc[0] == 4  # the first row of case 1 is kept
    assert any("'id'" in n for n in r.notes)
    aside = engine.to_pandas(r.set_aside_rows)
    assert aside["row"].tolist() == [3, 4]


def test_cases_missing_column(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "cases.csv"
    src.write_text("patient,score\n1,4\n")
    with pytest.raises(DataError, match=r"cases\.csv: no column 'patient_id'.*'patient'"):
        read_cases(src, case_id="patient_id", engine=engine)


def test_cases_xlsx(engine: Engine, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Case ID", "rating", "comment", "visited"])
    sheet.append([101, 4, "fine", dt.datetime(2020, 1, 1)])
    sheet.append([102, 2.5, None, dt.datetime(2020, 1, 2)])
    sheet.append([101, 5, "again", None])
    sheet.append([None, 1, "orphan", None])
    book.save(tmp_path / "cases.xlsx")
    cases = read_cases(tmp_path / "cases.xlsx", case_id="case_id", engine=engine)
    df = engine.to_pandas(cases.table.order_by("case_id"))
    assert df["case_id"].tolist() == ["101", "102"]
    assert df["rating"].tolist() == [4.0, 2.5]
    assert cases.report.set_aside == {"duplicate case id": 1, "no case id": 1}


def test_cases_parquet_and_jsonl(engine: Engine, tmp_path: Path) -> None:
    pd.DataFrame({"case_id": [1, 2, 2], "nps": [9, 3, 4]}).to_parquet(tmp_path / "c.parquet")
    cases = read_cases(tmp_path / "c.parquet", case_id="case_id", engine=engine)
    assert cases.report.used == 2 and cases.table.schema()["nps"].is_integer()
    (tmp_path / "c.jsonl").write_text('{"case_id": "a", "nps": 9}\n{"case_id": "b", "nps": 3}\n')
    assert read_cases(tmp_path / "c.jsonl", case_id="case_id", engine=engine).report.used == 2


def test_cases_reject_xes(engine: Engine) -> None:
    with pytest.raises(DataError, match="not a cases table"):
        read_cases(RUNNING, case_id="case_id", engine=engine)


def test_bad_xlsx(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "c.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(DataError, match=r"c\.xlsx"):
        read_cases(tmp_path / "c.xlsx", case_id="case_id", engine=engine)


def test_key_column_name_clash(engine: Engine, tmp_path: Path) -> None:
    src = tmp_path / "e.csv"
    src.write_text("Case ID,activity,timestamp,row\n1,a,2020-01-01,x\n")
    log = read_events(src, columns=ColumnMap(), engine=engine)
    assert "row_source" in log.table.columns
    assert frame(engine, log)["row"].tolist() == [1]


def test_parquet_cases_keep_only_their_own_columns(tmp_path) -> None:
    import pandas as pd

    from keymoments.data.engine import connect
    from keymoments.data.readers import read_cases

    path = tmp_path / "cases.parquet"
    pd.DataFrame({"case_id": ["a", "b", "b"], "x": [1, 2, 3]}).to_parquet(path)
    cases = read_cases(path, case_id="case_id", engine=connect())
    assert cases.table.columns == ("case_id", "x")
    assert cases.report.set_aside == {"duplicate case id": 1}


def test_line_ends_made_one_kind_across_block_boundaries(tmp_path: Path) -> None:
    from keymoments.data.sniff import transcode_to_utf8

    block = 1 << 20  # the copy's block, in characters
    text = "a" * (block - 1) + "\r\n" + "b" * (block - 1) + "\r" + "c\rd\r\ne\r"
    src = tmp_path / "in.csv"
    src.write_bytes(text.encode())
    out = tmp_path / "out.csv"
    turned = transcode_to_utf8(src, "utf-8", out, compressed=False, bare_cr=True)
    # the CRLF split between blocks stays one line end; the three lone CRs become LFs
    assert turned == 3
    assert out.read_bytes() == text.replace("\r\n", "\n").replace("\r", "\n").encode()


def test_a_bare_cr_past_duckdbs_sample_sets_its_line_aside(engine: Engine, tmp_path: Path) -> None:
    # DuckDB's parser used to refuse the whole file ("state machine reached an
    # invalid state") when a quoted field held a CR after the lines it sniffs
    rows = ["case_id,activity,timestamp"] + ["c1,note,2024-03-01T07:00:00Z"] * 30_000
    rows[25_000] = 'c1,"one\rtwo",2024-03-01T08:00:00Z'
    for end in ("\n", "\r\n"):
        path = tmp_path / "cr.csv"
        path.write_bytes(end.join(rows).encode() + end.encode())
        log = read_events(path, columns=ColumnMap(), engine=engine)
        assert (log.report.rows, log.report.used) == (30_001, 29_999)
        assert log.report.set_aside == {"malformed line": 2}
        assert any("1 bare carriage return" in n for n in log.report.notes)
