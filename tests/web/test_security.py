"""Security: the token, headers, hostile names in data, paths, oversized and bomb uploads.

Hostile names (markup, quotes, formulas) are planted in the demo data's
activities, segment values, moment names, workspace and file names, then looked
for in every page, the report, the JSON embedded in HTML and every CSV export.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import N_CASES, service_yaml, upload, wait_for
from typer.testing import CliRunner

from keymoments.cli import app as cli
from keymoments.cli.serve import is_loopback
from keymoments.web import create_app
from keymoments.web.middleware import SESSION_COOKIE

TOKEN = "s3cret-token-9fQ2xv7L"


@pytest.fixture
def guarded(tmp_path: Path) -> TestClient:
    return TestClient(create_app(tmp_path / "data", token=TOKEN))


def test_without_the_token_nothing_is_served(guarded: TestClient) -> None:
    for url in ("/.json", "/openapi.json", "/static/app.css", "/runs/0123456789ab.json"):
        reply = guarded.get(url, headers={"accept": "application/json"})
        assert reply.status_code == 401, url
        assert "Authorization: Bearer" in reply.json()["error"]["message"]
    reply = guarded.post("/workspaces", json={"name": "x"})
    assert reply.status_code == 401
    page = guarded.get(
        "/workspaces/0123456789ab", headers={"accept": "text/html"}, follow_redirects=False
    )
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fworkspaces%2F0123456789ab"
    wrong = guarded.get("/.json", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_bearer_token_and_login_cookie(guarded: TestClient) -> None:
    ok = guarded.get("/.json", headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    bad = guarded.post("/login", data={"token": "guess", "next": "/"})
    assert bad.status_code == 401
    assert "That is not this server" in bad.text
    login = guarded.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False)
    assert login.status_code == 303
    cookie = login.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert TOKEN not in cookie  # the cookie holds a value derived from the token
    assert guarded.get("/.json").status_code == 200  # the client keeps the cookie


def test_login_only_redirects_within_the_server(guarded: TestClient) -> None:
    for target in ("https://evil.example/", "//evil.example/x"):
        reply = guarded.post(
            "/login", data={"token": TOKEN, "next": target}, follow_redirects=False
        )
        assert reply.headers["location"] == "/"


def test_cross_site_posts_are_refused(client: TestClient) -> None:
    reply = client.post(
        "/workspaces", data={"name": "x"}, headers={"origin": "https://evil.example"}
    )
    assert reply.status_code == 403
    same = client.post(
        "/workspaces",
        json={"name": "x"},
        headers={"origin": "http://testserver"},
    )
    assert same.status_code == 201


def test_pages_carry_a_content_security_policy(client: TestClient) -> None:
    policy = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in policy and "object-src 'none'" in policy


def test_serve_refuses_a_public_address_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KEYMOMENTS_TOKEN", raising=False)
    res = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--port", "0"])
    assert res.exit_code == 2
    assert "needs a token" in res.output
    assert is_loopback("::1") and is_loopback("127.0.0.2") and not is_loopback("192.168.1.4")


def test_without_a_token_only_loopback_host_names_are_answered(tmp_path: Path) -> None:
    from keymoments.cli.serve import LOOPBACK_NAMES

    app = create_app(tmp_path / "data", allowed_hosts=LOOPBACK_NAMES)
    local = TestClient(app, base_url="http://127.0.0.1:8000")
    assert local.get("/.json").status_code == 200
    assert TestClient(app, base_url="http://localhost:8000").get("/.json").status_code == 200
    # a name that resolves to 127.0.0.1 only through DNS rebinding
    rebound = TestClient(app, base_url="http://attacker.example:8000")
    assert rebound.get("/.json").status_code == 400


# -- the token, on every route ------------------------------------------------------------


def test_every_route_needs_the_token(tmp_path: Path) -> None:
    """Every path the API describes (so a route added later is covered too), and the rest."""
    app = create_app(tmp_path / "data", token=TOKEN)
    client = TestClient(app)
    open_app = TestClient(create_app(tmp_path / "open"))
    paths = open_app.get("/openapi.json").json()["paths"]
    routes = [(m.upper(), p) for p, item in paths.items() for m in item]
    routes += [("GET", "/static/app.css"), ("GET", "/openapi.json"), ("GET", "/api")]
    checked = 0
    for method, path in routes:
        if path == "/login":
            continue
        url = re.sub(r"\{[^}]+\}", "0123456789ab", path)
        reply = client.request(method, url, headers={"accept": "application/json"})
        assert reply.status_code == 401, (method, url, reply.status_code)
        checked += 1
    assert checked >= 20
    # and a token sent any other way than the header or the login cookie is not one
    for headers in ({"authorization": TOKEN}, {"authorization": f"Basic {TOKEN}"}):
        assert client.get("/.json", headers=headers).status_code == 401
    assert client.get(f"/.json?token={TOKEN}").status_code == 401


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.4", "example.org"])
def test_serve_off_loopback_needs_a_non_empty_token(
    host: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEYMOMENTS_TOKEN", raising=False)
    res = CliRunner().invoke(cli, ["serve", "--host", host, "--port", "0"])
    assert res.exit_code == 2 and "needs a token" in res.output
    monkeypatch.setenv("KEYMOMENTS_TOKEN", "")
    res = CliRunner().invoke(cli, ["serve", "--host", host, "--port", "0"])
    assert res.exit_code == 2 and "needs a token" in res.output


# -- headers ----------------------------------------------------------------------------------


def test_security_headers_on_every_kind_of_answer(tmp_path: Path) -> None:
    app = create_app(tmp_path / "data", token=TOKEN)
    client = TestClient(app)
    bearer = {"authorization": f"Bearer {TOKEN}"}
    answers = {
        "page": client.get("/", headers=bearer),
        "json": client.get("/.json", headers=bearer),
        "static": client.get("/static/app.css", headers=bearer),
        "not found": client.get("/runs/0123456789ab", headers=bearer),
        "refused by the token gate": client.get("/.json"),
        "cross-site post": client.post("/workspaces", headers={"origin": "https://evil.example"}),
    }
    for what, reply in answers.items():
        policy = reply.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, what
        assert "default-src 'self'" in policy and "object-src 'none'" in policy, what
        assert "base-uri 'none'" in policy, what
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0], what
        assert reply.headers["x-content-type-options"] == "nosniff", what
        assert reply.headers["x-frame-options"] == "DENY", what
        assert reply.headers["referrer-policy"] == "same-origin", what


# -- hostile names in the data: pages, report, JSON in HTML, CSV exports ------------------------

SCRIPT = "<script>alert('km')</script>"
CLOSER = '</script><script>alert("closer")</script>'
ATTRIBUTE = "\"'><img src=x onerror=alert(1)>"
# eight names for the model's eight other moments (CR: see the exports' own test below)
FORMULAS = ['=HYPERLINK("http://x")', "+SUM(1)", "-2+3", "@cmd", "\tTAB=1"]
RISKY = ("=", "+", "-", "@", "\t", "\r")
RAW = ("<script>alert", "<img src=x", "</script><script>", "onerror=alert(1)>")


def hostile_files(files: dict[str, Path], folder: Path) -> dict[str, Path]:
    """The demo data with markup and formulas in an activity, a segment and a case id."""
    events = pd.read_csv(files["events"], dtype=str)
    events.loc[events["activity"] == "letter_printed", "activity"] = SCRIPT + ATTRIBUTE
    # rows the reader sets aside (no timestamp), whose text looks like formulas
    bad = pd.DataFrame(
        [{"case_id": "=cmd|' /C calc'!A0", "activity": "@SUM(1)", "timestamp": ""}]
        # (not CR: a quoted CR stops DuckDB's CSV sniffer, a reader matter of its own)
        + [{"case_id": f"{c}x", "activity": f"{c}y", "timestamp": ""} for c in RISKY[:-1]]
    )
    events = pd.concat([events, bad], ignore_index=True)
    cases = pd.read_csv(files["cases"], dtype=str)
    cases.loc[cases["severity"] == "stable", "severity"] = ATTRIBUTE + CLOSER
    out = {"events": folder / "events.csv", "cases": folder / "cases.csv"}
    events.to_csv(out["events"], index=False)
    cases.to_csv(out["cases"], index=False)
    return out


def hostile_model() -> str:
    lines = service_yaml().splitlines()
    names = iter([CLOSER, ATTRIBUTE, SCRIPT, *FORMULAS])
    out = []
    for line in lines:
        if line.startswith("    name: ") and not line.startswith("    name: Attend"):
            replacement = next(names, None)
            if replacement is not None:
                line = "    name: " + json.dumps(replacement)
        out.append(line)
    # a model naming files on the server: ignored, the run reads the uploads only
    out.insert(1, "data: {events: ../../../../etc/passwd, cases: /etc/hostname}")
    return "\n".join(out) + "\n"


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, demo_files: dict[str, Path]
) -> Iterator[tuple[TestClient, str, str]]:
    """One finished run over hostile names: (client, workspace id, run id)."""
    folder = tmp_path_factory.mktemp("hostile")
    files = hostile_files(demo_files, folder)
    with TestClient(create_app(folder / "data")) as client:
        ws = client.post("/workspaces", json={"name": SCRIPT + ATTRIBUTE}).json()
        for kind in ("events", "cases"):
            reply = upload(client, ws["id"], kind, files[kind], name=f"{ATTRIBUTE}{kind}.csv")
            assert reply.status_code == 201, reply.text
        reply = client.post(
            f"/workspaces/{ws['id']}/model",
            content=hostile_model().encode(),
            headers={"content-type": "application/yaml", "accept": "application/json"},
        )
        assert reply.status_code == 200, reply.text
        run = client.post(f"/workspaces/{ws['id']}/runs", json={"bootstrap": 0}).json()
        status = wait_for(client, run["id"])
        assert status["status"] == "done", status["message"]
        yield client, ws["id"], run["id"]


def script_blocks(html: str) -> list[tuple[str, str]]:
    """(opening tag, content) of every script element."""
    return re.findall(r"(<script[^>]*>)(.*?)</script>", html, flags=re.S | re.I)


def test_names_from_data_are_text_in_pages_report_and_embedded_json(
    hostile: tuple[TestClient, str, str],
) -> None:
    client, ws_id, run_id = hostile
    result = client.get(f"/runs/{run_id}/result.json").json()
    # the data really carried the names through to the result
    names = {m["name"] for m in result["moments"]}
    assert {CLOSER, ATTRIBUTE, SCRIPT} <= names
    pages = {
        "home": client.get("/").text,
        "workspace": client.get(f"/workspaces/{ws_id}").text,
        "model form": client.get(f"/workspaces/{ws_id}/model").text,
        "run": client.get(f"/runs/{run_id}").text,
        "report": client.get(f"/runs/{run_id}/report.html").text,
    }
    assert "&lt;script&gt;alert(&#39;km&#39;)&lt;/script&gt;" in pages["run"]
    for what, html in pages.items():
        for raw in RAW:
            # markup from the data never appears as markup, only escaped
            outside = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S | re.I)
            assert raw not in outside, (what, raw)
        for kind, block in script_blocks(html):
            # inside a <script>, data cannot end the element or open a tag
            assert "</script" not in block.lower() and "<script" not in block.lower(), what
            assert "<img src=x" not in block, what
            if "json" in kind:
                assert "<" not in block, what  # every < is written \u003c
    # the embedded chart specs parse back to the very names
    blocks = re.findall(
        r'<script type="application/json"[^>]*>(.*?)</script>', pages["run"], flags=re.S
    )
    assert blocks
    assert any(CLOSER in strings(json.loads(b)) for b in blocks)


def strings(value: object) -> set[str]:
    """Every string held in a JSON value."""
    if isinstance(value, str):
        return {value}
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return set().union(*(strings(v) for v in items)) if items else set()


def test_exports_neutralise_formulas(hostile: tuple[TestClient, str, str]) -> None:
    client, _, run_id = hostile
    summary = client.get(f"/runs/{run_id}/summary.csv")
    rows = list(csv.DictReader(io.StringIO(summary.text)))
    names = [r["name"] for r in rows]
    for formula in FORMULAS:
        # the model loader strips white space around names: "\tTAB=1" is "TAB=1" there
        name = formula.strip()
        assert ("'" + name if name.startswith(RISKY) else name) in names, formula
    assert all(not n.startswith(RISKY) for n in names)
    # numbers stay numbers: a negative figure is not a formula, and is not quoted
    for row in rows:
        for value in row.values():
            if value.startswith("'"):
                with pytest.raises(ValueError):
                    float(value[1:])
    aside = client.get(f"/runs/{run_id}/set-aside.csv")
    assert aside.status_code == 200, aside.text
    for row in csv.DictReader(io.StringIO(aside.text)):
        for value in row.values():
            assert not value.startswith(RISKY), row
    # the file is named as it was uploaded (itself neutralised), not as stored
    files = {row["file"] for row in csv.DictReader(io.StringIO(aside.text))}
    assert files == {"%22'><img src=x onerror=alert(1)>events.csv"}
    sections = client.get(f"/runs/{run_id}.json").json()["sections"]
    for name in sections:
        text = client.get(f"/runs/{run_id}/sections/{name}.csv").text
        for row in csv.reader(io.StringIO(text)):
            for value in row:
                assert not value.startswith(("=", "+", "@", "\t", "\r")), (name, value)


def test_every_formula_start_is_neutralised_in_exports() -> None:
    from keymoments.web.exports import csv_text

    frame = pd.DataFrame({"text": [c + "1" for c in RISKY], "number": [-1.5] * len(RISKY)})
    rows = list(csv.DictReader(io.StringIO(csv_text(frame), newline="")))
    assert [r["text"] for r in rows] == ["'" + c + "1" for c in RISKY]
    assert {r["number"] for r in rows} == {"-1.5"}


# -- paths: every parameter and file name ---------------------------------------------------


def test_upload_names_never_become_paths(client: TestClient, tmp_path: Path) -> None:
    data_dir = client.app.state.store.root  # type: ignore[attr-defined]
    ws = client.post("/workspaces", json={"name": "paths"}).json()
    source = tmp_path / "e.csv"
    source.write_text("case_id,activity,timestamp\nc1,a,2024-01-01\n")
    names = [
        "../../x.csv",
        "/etc/passwd.csv",
        "..\\..\\windows.csv",
        "C:\\Users\\a\\evil.csv",
        "../" * 20 + "tmp/escape.csv",
        "%2e%2e%2fencoded.csv",
        ".hidden.csv",
    ]
    before = set(Path("/tmp").iterdir())
    for name in names:
        reply = upload(client, ws["id"], "events", source, name=name)
        assert reply.status_code == 201, (name, reply.text)
        shown = reply.json()["name"]
        assert "/" not in shown and "\\" not in shown
    stored = sorted(p.name for p in (data_dir / "workspaces" / ws["id"] / "uploads").iterdir())
    assert len(stored) == len(names)
    assert all(re.fullmatch(r"[0-9a-f]{12}\.csv", s) for s in stored)
    outside = [
        p
        for p in data_dir.rglob("*")
        if p.is_file()
        and "uploads" not in p.parts
        and p.name
        not in (
            "keymoments.sqlite3",
            "keymoments.sqlite3-wal",
            "keymoments.sqlite3-shm",
            ".reserve",
        )
    ]
    assert outside == []
    assert not (set(Path("/tmp").iterdir()) - before) & {Path("/tmp/escape.csv")}


@pytest.mark.parametrize(
    "url",
    [
        "/workspaces/..%2F..%2Fetc%2Fpasswd",
        "/workspaces/../../etc/passwd",
        "/workspaces/%2e%2e/model",
        "/runs/..%2Fkeymoments.sqlite3",
        "/runs/0123456789ab%2F..%2F..%2Fkeymoments.sqlite3/result.json",
        "/runs/0123456789ab/sections/..%2F..%2Fresult.csv",
        "/runs/0123456789ab/sections/%2e%2e.csv",
        "/static/..%2F..%2Fapp.py",
        "/static/%2e%2e%2fstore.py",
        "/static/....//....//etc/passwd",
        "/workspaces/0123456789ab/service.yaml/..%2F..%2F..%2Fkeymoments.sqlite3",
    ],
)
def test_path_parameters_cannot_leave_their_folder(client: TestClient, url: str) -> None:
    reply = client.get(url, headers={"accept": "application/json"})
    assert reply.status_code in (404, 422), (url, reply.status_code)
    assert "SQLite format" not in reply.text and "root:" not in reply.text
    assert "import " not in reply.text


def test_download_names_are_made_by_the_server(
    hostile: tuple[TestClient, str, str],
) -> None:
    client, ws_id, run_id = hostile
    for name in ("result.json", "summary.csv", "set-aside.csv", "report.html"):
        disposition = client.get(f"/runs/{run_id}/{name}").headers["content-disposition"]
        filename = disposition.split("filename=", 1)[1].strip('"')
        assert re.fullmatch(r"keymoments-[0-9a-f]{12}-[a-z-]+\.[a-z]+", filename), filename
    model = client.get(f"/workspaces/{ws_id}/service.yaml").headers["content-disposition"]
    assert model == 'attachment; filename="service.yaml"'
    # the model's data: lines named files on the server; the run read the uploads
    result = client.get(f"/runs/{run_id}/result.json").json()
    assert result["n_cases"] == N_CASES


# -- oversized and compressed uploads ------------------------------------------------------


def test_oversized_upload_is_413_before_and_while_it_arrives(tmp_path: Path) -> None:
    limited = TestClient(create_app(tmp_path / "data", max_upload_bytes=64 * 1024))
    ws = limited.post("/workspaces", json={"name": "limits"}).json()
    big = tmp_path / "big.csv"
    big.write_bytes(b"case_id,activity,timestamp\n" + b"c1,a,2024-01-01\n" * 10_000)
    reply = upload(limited, ws["id"], "events", big)
    assert reply.status_code == 413
    assert "64.0 KB" in reply.json()["error"]["message"]
    uploads = tmp_path / "data" / "workspaces" / ws["id"] / "uploads"
    assert list(uploads.iterdir()) == []
    # a model text over its own limit
    huge = limited.post(
        f"/workspaces/{ws['id']}/model",
        content=b"a" * 1_100_000,
        headers={"content-type": "application/yaml", "accept": "application/json"},
    )
    assert huge.status_code in (413, 422) and "1 MB" in huge.json()["error"]["message"]


def gzip_bomb(path: Path, unpacked: int) -> Path:
    """A gzip of a CSV header then zeros: tiny on disk, ``unpacked`` bytes inside."""
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b"case_id,activity,timestamp\n")
        block = b"0" * 2**20
        for _ in range(unpacked // len(block)):
            fh.write(block)
    return path


def test_zip_bombs_are_refused_with_a_clear_413(tmp_path: Path) -> None:
    app = create_app(tmp_path / "data", max_upload_bytes=2 * 2**20)
    limited = TestClient(app)
    ws = limited.post("/workspaces", json={"name": "bombs"}).json()
    uploads = tmp_path / "data" / "workspaces" / ws["id"] / "uploads"
    # 40 MB of zeros in ~40 KB: over 10x the 2 MB limit once unpacked
    bomb = gzip_bomb(tmp_path / "events.csv.gz", 40 * 2**20)
    assert bomb.stat().st_size < 2 * 2**20
    reply = upload(limited, ws["id"], "events", bomb)
    assert reply.status_code == 413, reply.text
    message = reply.json()["error"]["message"]
    assert message.startswith("events.csv.gz: unpacks to more than") and "zip bomb" in message
    # the same inside an .xlsx (a zip archive)
    xlsx = tmp_path / "cases.xlsx"
    with zipfile.ZipFile(xlsx, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (40 * 2**20))
    reply = upload(limited, ws["id"], "cases", xlsx)
    assert reply.status_code == 413 and "cases.xlsx" in reply.json()["error"]["message"]
    # a broken gzip: 422 naming the file
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(gzip.compress(b"case_id,activity,timestamp\nc1,a,2024-01-01\n")[:-12])
    reply = upload(limited, ws["id"], "events", broken)
    assert reply.status_code == 422 and "broken.csv.gz" in reply.json()["error"]["message"]
    # a .zip is not a format keymoments reads
    reply = upload(limited, ws["id"], "events", xlsx, name="events.zip")
    assert reply.status_code == 422 and "not a file type" in reply.json()["error"]["message"]
    assert list(uploads.iterdir()) == []
    # an honest compressed file is read, bounded or not
    fine = tmp_path / "fine.csv.gz"
    fine.write_bytes(gzip.compress(b"case_id,activity,timestamp\n" + b"c1,a,2024-01-01\n" * 500))
    reply = upload(limited, ws["id"], "events", fine)
    assert reply.status_code == 201, reply.text
    assert reply.json()["columns"] == ["case_id", "activity", "timestamp"]


def test_messages_never_show_the_servers_paths(client: TestClient, tmp_path: Path) -> None:
    data_dir = str(client.app.state.store.root)  # type: ignore[attr-defined]
    ws = client.post("/workspaces", json={"name": "messages"}).json()
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(bytes(range(256)) * 64)
    reply = upload(client, ws["id"], "events", garbage, name="my export.csv")
    assert reply.status_code == 422, reply.text
    message = reply.json()["error"]["message"]
    assert "my export.csv" in message
    assert data_dir not in message and "workspaces/" not in message
