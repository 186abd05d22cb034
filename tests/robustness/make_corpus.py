"""Write the bad-input corpus (``corpus/``) from one small clean service.

Run ``python tests/robustness/make_corpus.py`` to rebuild every file; the
files are committed, so the tests never run this. Each bad file is the clean
data with one kind of damage, and ``corpus/README.md`` says what each one is.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

HERE = Path(__file__).parent / "corpus"

SERVICE = """\
version: 1
name: Corpus clinic
data: {events: events.csv, cases: cases.csv}
moments:
  - id: booking
    name: Book the visit
    stage: Book
    reached: [booked, booking_failed]
    broken: [booking_failed]
    rating: rating_booking
  - id: visit
    name: Attend the visit
    stage: Visit
    reached: [attended, did_not_attend]
    broken: [did_not_attend]
    rating: rating_visit
outcomes:
  - {id: completed, perspective: provider, reached: [completed]}
  - {id: satisfaction, perspective: user, column: satisfaction}
barriers:
  - {id: transport, moment: visit, column: worry_transport}
analysis: {bootstrap: 0}
"""


def clean_events() -> list[tuple[str, str, str]]:
    """Twelve journeys: some fail to book first, some miss the visit and rebook."""
    rows: list[tuple[str, str, str]] = []
    for i in range(1, 13):
        case = f"c{i:02d}"
        day = f"2024-03-{i:02d}"
        t = 8
        if i % 4 == 0:
            rows.append((case, "booking_failed", f"{day}T{t:02d}:00:00Z"))
            t += 1
        rows.append((case, "booked", f"{day}T{t:02d}:00:00Z"))
        t += 1
        if i % 3 == 0:
            rows.append((case, "did_not_attend", f"{day}T{t:02d}:00:00Z"))
            t += 1
            if i % 2 == 0:
                rows.append((case, "booked", f"{day}T{t:02d}:00:00Z"))
                rows.append((case, "attended", f"{day}T{t + 1:02d}:00:00Z"))
                rows.append((case, "completed", f"{day}T{t + 2:02d}:00:00Z"))
        else:
            rows.append((case, "attended", f"{day}T{t:02d}:00:00Z"))
            if i != 7:
                rows.append((case, "completed", f"{day}T{t + 1:02d}:00:00Z"))
    return rows


def clean_cases() -> list[tuple[str, int, int, float, str]]:
    out = []
    for i in range(1, 13):
        out.append(
            (
                f"c{i:02d}",
                2 + i % 4,
                1 + (i * 7) % 5,
                round(3.0 + (i % 5) * 0.75, 2),
                "yes" if i % 3 == 0 else "no",
            )
        )
    return out


def csv_text(rows, header=("case_id", "activity", "timestamp"), sep=",", newline="\n") -> str:
    lines = [sep.join(header)] + [sep.join(str(v) for v in r) for r in rows]
    return newline.join(lines) + newline


def cases_text(rows) -> str:
    return csv_text(
        rows,
        header=("case_id", "rating_booking", "rating_visit", "satisfaction", "worry_transport"),
    )


def write(name: str, data: str | bytes) -> None:
    path = HERE / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)


def xes(traces: list[tuple[str | None, list[tuple[str | None, str | None]]]]) -> str:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', '<log xes.version="1.0">']
    for case, events in traces:
        out.append("  <trace>")
        if case is not None:
            out.append(f'    <string key="concept:name" value="{case}"/>')
        for activity, ts in events:
            out.append("    <event>")
            if activity is not None:
                out.append(f'      <string key="concept:name" value="{activity}"/>')
            if ts is not None:
                out.append(f'      <date key="time:timestamp" value="{ts}"/>')
            out.append("    </event>")
        out.append("  </trace>")
    out.append("</log>")
    return "\n".join(out) + "\n"


def main() -> None:
    HERE.mkdir(exist_ok=True)
    events = clean_events()
    cases = clean_cases()
    write("service.yaml", SERVICE)
    write("events.csv", csv_text(events))
    write("cases.csv", cases_text(cases))

    # -- events: analysed with the bad rows set aside (or nothing to set aside) ----------
    write("events_truncated.csv", csv_text(events).rstrip("\n") + "\nc13,atten")
    write("events_semicolon.csv", csv_text(events, sep=";", newline="\r\n"))
    write("events_bom.csv", "\ufeff" + csv_text(events))
    latin = [*events, ("c01", "rappel envoyé", "2024-03-01T07:00:00Z")]
    write("events_latin1.csv", csv_text(latin).encode("latin-1"))
    write("events_utf16.csv", csv_text(events).encode("utf-16"))
    missing = [
        *events,
        ("", "booked", "2024-03-20T08:00:00Z"),
        ("c20", "", "2024-03-20T08:00:00Z"),
        ("c21", "booked", ""),
        ("c22", "attended", "not a time"),
        ("c23", "attended", "2024-02-30T10:00:00Z"),
        ("c24", "attended", "2024-13-01T10:00:00Z"),
    ]
    write("events_missing_values.csv", csv_text(missing))
    ragged = csv_text(events) + "c30,booked\nc31,booked,2024-03-20T08:00:00Z,extra,fields\n"
    write("events_ragged_rows.csv", ragged)
    unclosed = csv_text(events).replace("c02,attended,", 'c02,"attended,', 1)
    write("events_unclosed_quote.csv", unclosed)
    other_dup = [(c, a, ts, "x", "y") for c, a, ts in events]
    write(
        "events_repeated_other_header.csv",
        csv_text(other_dup, header=("case_id", "activity", "timestamp", "note", "note")),
    )
    # Every instant of the clean log, written in assorted zones: read naively, the
    # order of c01's events would flip.
    zoned = []
    for k, (case, activity, ts) in enumerate(events):
        hour = int(ts[11:13])
        if k % 3 == 1:
            ts = f"{ts[:11]}{hour + 2:02d}{ts[13:19]}+02:00"
        elif k % 3 == 2:
            ts = f"{ts[:11]}{hour - 5 + 24 if hour < 5 else hour - 5:02d}{ts[13:19]}-05:00"
            if hour < 5:
                raise AssertionError("keep the clean hours above 05:00")
        else:
            ts = ts[:19] + "+00:00"
        zoned.append((case, activity, ts))
    write("events_mixed_zones.csv", csv_text(zoned))
    # ISO with and without 'T', and dates in another format for extra cases.
    mixed = [
        (c, a, ts.replace("T", " ").rstrip("Z") if k % 2 else ts)
        for k, (c, a, ts) in enumerate(events)
    ]
    mixed += [("c40", "booked", "20/03/2024 08:00"), ("c40", "attended", "20/03/2024 09:00")]
    write("events_mixed_formats.csv", csv_text(mixed))
    quoted = csv_text(
        [(c, a, ts) for c, a, ts in events], header=("case_id", "activity", "timestamp")
    )
    quoted = quoted.replace("c05,booked,", '"c05","booked",', 1)
    quoted += 'c01,"a note, with a comma\nand a line break",2024-03-01T07:30:00Z\n'
    write("events_quoted_fields.csv", quoted)
    huge = csv_text(events) + "c01,note," + "2024-03-01T07:00:00Z" + "\n"
    huge = huge.replace("case_id,activity,timestamp", "case_id,activity,timestamp", 1)
    big_rows = [(c, a, ts, "") for c, a, ts in events]
    big_rows[3] = (*big_rows[3][:3], "x" * 5_000_000)
    write(
        "events_enormous_field.csv.gz",
        gzip.compress(
            csv_text(big_rows, header=("case_id", "activity", "timestamp", "comment")).encode(),
            mtime=0,
        ),
    )
    dup = [(c, a, ts, a) for c, a, ts in events]
    write(
        "events_duplicate_headers.csv",
        csv_text(dup, header=("case_id", "activity", "timestamp", "activity")),
    )
    lines = [
        "{" + f'"case_id": "{c}", "activity": "{a}", "timestamp": "{ts}"' + "}"
        for c, a, ts in events
    ]
    lines.insert(5, "{not json at all")
    lines.insert(9, '["a", "list"]')
    write("events_bad_lines.jsonl", "\n".join(lines) + "\n")

    traces: dict[str, list[tuple[str | None, str | None]]] = {}
    for c, a, ts in events:
        traces.setdefault(c, []).append((a, ts))
    xes_traces: list[tuple[str | None, list[tuple[str | None, str | None]]]] = list(traces.items())
    xes_traces.append(("c50", [(None, "2024-03-20T08:00:00Z"), ("booked", None)]))
    xes_traces.append((None, [("booked", "2024-03-21T08:00:00Z")]))
    write("events_missing_attributes.xes", xes(xes_traces))

    # -- events: errors -----------------------------------------------------------------
    write("events_empty.csv", b"")
    write("events_header_only.csv", "case_id,activity,timestamp\n")
    write("events_no_header.csv", csv_text(events).split("\n", 1)[1])
    write("events_wrong_delimiter.csv", csv_text(events, sep=":"))
    rng = random.Random(7)
    write("events_binary.csv", bytes(rng.randrange(256) for _ in range(4096)))
    write("events_garbage.parquet", b"PAR1" + bytes(rng.randrange(256) for _ in range(2048)))
    good_xes = xes(list(traces.items()))
    write("events_broken.xes", good_xes.replace("</event>", "</evnt>", 1))
    write("events_cut_short.xes", good_xes[: len(good_xes) // 2])
    write("events_not_a_log.xes", '<?xml version="1.0"?>\n<html><body>hello</body></html>\n')
    write("events_unknown_encoding.xes", good_xes.replace('encoding="UTF-8"', 'encoding="UTF-9"'))
    write("events_empty_log.xes", '<?xml version="1.0"?>\n<log xes.version="1.0"></log>\n')
    write("events_cut_short.xes.gz", gzip.compress(good_xes.encode(), mtime=0)[:300])
    laughs = ['<?xml version="1.0"?>', "<!DOCTYPE log [", '  <!ENTITY l0 "ha">']
    for k in range(1, 10):
        laughs.append(f'  <!ENTITY l{k} "{("&l" + str(k - 1) + ";") * 10}">')
    laughs += [
        "]>",
        '<log><trace><string key="concept:name" value="&l9;"/>',
        '<event><string key="concept:name" value="booked"/>'
        '<date key="time:timestamp" value="2024-03-01T08:00:00Z"/></event>',
        "</trace></log>",
    ]
    write("events_entity_bomb.xes", "\n".join(laughs) + "\n")
    write("events_no_model_activity.csv", csv_text([(c, a.upper(), ts) for c, a, ts in events]))

    # -- cases ---------------------------------------------------------------------------
    dup_cases = [*cases, ("c03", 1, 1, 1.0, "yes"), ("", 5, 5, 5.0, "no")]
    write("cases_duplicate_ids.csv", cases_text(dup_cases))
    odd = [*cases]
    odd[1] = (odd[1][0], odd[1][1], odd[1][2], "n/a", odd[1][4])  # type: ignore[assignment]
    odd[4] = (odd[4][0], "five", odd[4][2], odd[4][3], "maybe")  # type: ignore[assignment]
    write("cases_not_numbers.csv", cases_text(odd))
    write(
        "cases_missing_column.csv",
        csv_text(
            [c[:3] + c[4:] for c in cases],
            header=("case_id", "rating_booking", "rating_visit", "worry_transport"),
        ),
    )
    write("cases_empty.csv", b"")
    write("cases_header_only.csv", cases_text([]))
    write("cases_binary.xlsx", b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(1024)))

    # -- service models -------------------------------------------------------------------
    write(
        "model_syntax_error.yaml",
        SERVICE.replace("reached: [booked, booking_failed]", "reached: [booked, booking_failed"),
    )
    write("model_tabs.yaml", SERVICE.replace("    stage: Visit", "\tstage: Visit"))
    write(
        "model_duplicate_keys.yaml",
        SERVICE.replace("    stage: Visit", "    stage: Visit\n    stage: Again"),
    )
    write(
        "model_unknown_field.yaml",
        SERVICE.replace("    stage: Visit", "    stage: Visit\n    perspectivs: [user]"),
    )
    write(
        "model_wrong_type.yaml",
        SERVICE.replace("analysis: {bootstrap: 0}", "analysis: {bootstrap: lots}"),
    )
    write(
        "model_string_for_list.yaml",
        SERVICE.replace("broken: [did_not_attend]", "broken: did_not_attend"),
    )
    write(
        "model_unknown_moment.yaml",
        SERVICE.replace("moment: visit, column", "moment: vist, column"),
    )
    write(
        "model_unknown_column.yaml", SERVICE.replace("column: satisfaction", "column: satisfation")
    )
    write(
        "model_unknown_rating.yaml", SERVICE.replace("rating: rating_visit", "rating: rating_vist")
    )
    write(
        "model_unknown_activity.yaml",
        SERVICE.replace("[attended, did_not_attend]", "[atended, did_not_attend]"),
    )
    write("model_empty.yaml", b"")
    write("model_a_list.yaml", "- version: 1\n- name: x\n")
    write("model_latin1.yaml", SERVICE.replace("Corpus clinic", "Clinique d'été").encode("latin-1"))
    write("model_binary.yaml", bytes(rng.randrange(256) for _ in range(512)))
    write("model_version_2.yaml", SERVICE.replace("version: 1", "version: 2"))
    write("model_no_moments.yaml", SERVICE.split("moments:")[0] + "moments: []\n")
    write(
        "model_missing_events_file.yaml",
        SERVICE.replace("events: events.csv", "events: nowhere.csv"),
    )
    write("model_deep_nesting.yaml", "version: 1\nname: " + "[" * 5000 + "]" * 5000 + "\n")
    write("model_deep_sequence.yaml", "version: 1\nname:\n  " + "- " * 5000 + "x\n")
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for k in range(1, 9):
        prev = chr(ord("a") + k - 1)
        cur = chr(ord("a") + k)
        bomb.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    write("model_alias_bomb.yaml", "\n".join(bomb) + "\nversion: 1\nname: *i\n")
    write(
        "model_huge_number.yaml",
        SERVICE.replace("name: Corpus clinic", "name: Corpus clinic\nvolume: 1e999"),
    )
    write(
        "model_python_tag.yaml",
        SERVICE.replace("name: Corpus clinic", "name: !!python/object/apply:os.system [ls]"),
    )

    second_round(events, cases)


# Names a terminal library could take for its own markup (rich's [style] tags).
MARKUP = ("[/unknown]", "[bold red]loud[/]", "[link=file:///etc/passwd]here[/link]")


def second_round(events: list[tuple[str, str, str]], cases: list) -> None:  # type: ignore[type-arg]
    """The inputs the second round of hardening added (docs/robustness.md)."""
    import io
    import zipfile

    # NaN and infinities in number columns: unreadable, like text
    odd = [*cases]
    odd[1] = (odd[1][0], "inf", odd[1][2], odd[1][3], odd[1][4])
    odd[2] = (odd[2][0], odd[2][1], "NaN", odd[2][3], odd[2][4])
    odd[3] = (odd[3][0], odd[3][1], odd[3][2], "1e999", odd[3][4])
    odd[5] = (odd[5][0], odd[5][1], odd[5][2], "-inf", odd[5][4])
    write("cases_non_finite.csv", cases_text(odd))

    # activity names that are rich markup, as extra events that mark no moment
    marked = [*events] + [("c01", name, "2024-03-01T07:00:00Z") for name in MARKUP]
    write("events_markup_names.csv", csv_text(marked).replace(MARKUP[1], f'"{MARKUP[1]}"'))
    named = SERVICE.replace("name: Corpus clinic", "name: '[bold]Corpus[/] clinic [/x]'")
    named = named.replace("name: Book the visit", "name: '[/booking] Book the visit'")
    named = named.replace("stage: Visit", "stage: '[red]Visit'")
    write("model_markup_names.yaml", named)

    # a bare CR (a Mac line end) inside a quoted field, past DuckDB's 20,480-line sample
    padding = [("c01", "note", "2024-03-01T07:00:00Z")] * 25_000
    text = csv_text([*events, *padding]) + 'c01,"a note\rwritten on a Mac",2024-03-01T07:00:00Z\n'
    write("events_bare_cr.csv.gz", gzip.compress(text.encode(), mtime=0))

    # an XLSX whose sheet declares XML entities (spreadsheets never write a DTD)
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>case_id</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>&b;</t></is></c></row></sheetData></worksheet>'
    )
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="application'
            '/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
            'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
            '" Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats'
            '.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" '
            'r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
            '" Target="worksheets/sheet1.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": sheet,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in parts.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), body)
    write("cases_entities.xlsx", buffer.getvalue())


if __name__ == "__main__":
    main()
