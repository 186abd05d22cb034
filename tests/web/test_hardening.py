"""The second round of hardening: what a full probe of the first round's defences found.

Every request body bounded; the sender's mistakes (JSON that does not parse, a
malformed or half-sent form, a budget of NaN or infinity) answered 4xx, never
500; nothing left on disk by a failed upload; heavy work off the event loop;
the workspace list paged; tokens of a documented strength, and repeated wrong
ones slowed down; a running analysis that can be cancelled.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import service_yaml, start_run, upload, wait_for
from tests.web.serving import serving
from typer.testing import CliRunner

from keymoments.cli import app as cli
from keymoments.errors import KeymomentsError
from keymoments.web import create_app
from keymoments.web.middleware import OTHER_BODY_LIMIT, SESSION_COOKIE, session_value

JSON = {"content-type": "application/json", "accept": "application/json"}
STRONG = "k3y-9fQ2-xv7L-mW4p-Zt8s"


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(tmp_path / "data", max_upload_bytes=10 * 2**20)) as c:
        yield c


def _uploads(tmp_path: Path, ws_id: str) -> list[str]:
    return sorted(p.name for p in (tmp_path / "data" / "workspaces" / ws_id / "uploads").iterdir())


def _form(parts: list[tuple[str, bytes, str | None]], *, close: bool = True) -> bytes:
    """A multipart body by hand (name, value, file name), with or without its last boundary."""
    body = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--XYZ\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return body + (b"--XYZ--\r\n" if close else b"")


FORM = {"content-type": "multipart/form-data; boundary=XYZ", "accept": "application/json"}


# -- every body bounded --------------------------------------------------------------


def test_every_body_is_bounded_declared_or_chunked(limited: TestClient) -> None:
    # an 800 MB JSON body to POST /workspaces used to be read whole (2.6 GB peak)
    over = OTHER_BODY_LIMIT + 1
    declared = limited.post("/workspaces", content=b"x" * over, headers=JSON)
    assert declared.status_code == 413
    assert "the request body is larger than this server's limit of 4.0 MB" in declared.text

    def chunks() -> Iterator[bytes]:
        for _ in range(6):
            yield b" " * 2**20

    chunked = limited.post("/workspaces", content=chunks(), headers=JSON)
    assert chunked.status_code == 413
    form = limited.post(
        "/workspaces",
        content=b"name=" + b"a" * over,
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "text/html"},
    )
    assert form.status_code == 413 and "<html" in form.text  # a page for a browser


def test_form_text_fields_headers_and_parts_are_bounded(
    limited: TestClient, tmp_path: Path
) -> None:
    # with --max-upload 10, one chunked request of text fields took the server to 2.1 GB
    ws = limited.post("/workspaces", json={"name": "fields"}).json()
    url = f"/workspaces/{ws['id']}/uploads"
    many = [(f"f{i}", b"y" * 50_000, None) for i in range(40)]
    reply = limited.post(url, content=_form(many), headers=FORM)
    assert reply.status_code == 422
    assert "text fields are over 1.0 MB together" in reply.json()["error"]["message"]
    header = b"--XYZ\r\nContent-Disposition: form-data; name=x\r\nX-Pad: " + b"p" * 20_000
    reply = limited.post(url, content=header + b"\r\n\r\nv\r\n--XYZ--\r\n", headers=FORM)
    assert reply.status_code in (413, 422)  # ours, or python-multipart's own bound
    assert "header" in reply.json()["error"]["message"]
    parts = [(f"p{i}", b"v", None) for i in range(150)]
    reply = limited.post(url, content=_form(parts), headers=FORM)
    assert reply.status_code == 422 and "more than 100 parts" in reply.json()["error"]["message"]
    assert _uploads(tmp_path, ws["id"]) == []


# -- the sender's mistakes are 4xx ---------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"{nope", b"[" * 100_000, b'{"name": NaN}', b"\xff\xfe{}", b'{"name": "x"'],
    ids=["not-json", "nested", "nan", "not-utf8", "cut-short"],
)
def test_invalid_json_is_422_not_500(limited: TestClient, body: bytes) -> None:
    reply = limited.post("/workspaces", content=body, headers=JSON)
    assert reply.status_code == 422, reply.text
    assert "the request body is not valid JSON" in reply.json()["error"]["message"]
    ws = limited.post("/workspaces", json={"name": "runs"}).json()
    reply = limited.post(f"/workspaces/{ws['id']}/runs", content=body, headers=JSON)
    assert reply.status_code == 422, reply.text


def test_malformed_and_half_sent_forms_are_refused_and_leave_nothing(
    limited: TestClient, tmp_path: Path
) -> None:
    ws = limited.post("/workspaces", json={"name": "forms"}).json()
    url = f"/workspaces/{ws['id']}/uploads"
    garbage = limited.post(url, content=b"no boundary here at all", headers=FORM)
    assert garbage.status_code == 422
    assert "not a well-formed form upload" in garbage.json()["error"]["message"]
    # no closing boundary: used to be stored as half a file, the newest events file
    data = b"case_id,activity,timestamp\nc1,booked,2024-01-01T08:00:00\n"
    half = _form([("kind", b"events", None), ("file", data, "events.csv")], close=False)
    reply = limited.post(url, content=half, headers=FORM)
    assert reply.status_code == 422
    assert "ended before the form's closing boundary" in reply.json()["error"]["message"]
    whole = limited.post(
        url, content=_form([("kind", b"events", None), ("file", data, "events.csv")]), headers=FORM
    )
    assert whole.status_code == 201, whole.text
    listed = limited.get(f"/workspaces/{ws['id']}.json").json()["uploads"]
    assert [u["size"] for u in listed] == [len(data)]
    assert len(_uploads(tmp_path, ws["id"])) == 1


def test_a_deeply_nested_json_lines_file_is_no_500(limited: TestClient, tmp_path: Path) -> None:
    # its first line made the upload preview recurse until RecursionError: a 500
    # that left the stored file on disk, listed nowhere
    ws = limited.post("/workspaces", json={"name": "nested"}).json()
    nested = tmp_path / "deep.jsonl"
    nested.write_bytes(b'{"case_id": ' + b"[" * 200_000 + b"]" * 200_000 + b"}\n")
    reply = upload(limited, ws["id"], "events", nested)
    assert reply.status_code < 500, reply.text
    listed = limited.get(f"/workspaces/{ws['id']}.json").json()["uploads"]
    assert len(_uploads(tmp_path, ws["id"])) == len(listed)


def test_a_500_during_an_upload_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from keymoments.web.routes import workspaces

    def broken(path: Path) -> list[str]:
        raise RuntimeError("a fault nobody foresaw")

    monkeypatch.setattr(workspaces, "file_columns", broken)
    with TestClient(create_app(tmp_path / "data"), raise_server_exceptions=False) as c:
        ws = c.post("/workspaces", json={"name": "fault"}).json()
        events = tmp_path / "e.csv"
        events.write_text("case_id,activity,timestamp\nc1,a,2024-01-01T08:00:00\n")
        assert upload(c, ws["id"], "events", events).status_code == 500
    assert _uploads(tmp_path, ws["id"]) == []


def test_an_xlsx_declaring_entities_is_refused_at_upload(limited: TestClient) -> None:
    corpus = Path(__file__).resolve().parents[1] / "robustness" / "corpus"
    ws = limited.post("/workspaces", json={"name": "xlsx"}).json()
    reply = upload(limited, ws["id"], "cases", corpus / "cases_entities.xlsx")
    assert reply.status_code == 422
    assert "declares XML entities" in reply.json()["error"]["message"]


def test_a_refused_request_leaves_the_connection_usable(tmp_path: Path) -> None:
    # a 500 closed the connection under the client, so its next request was reset
    with serving(tmp_path / "data", args=("--max-upload", "10")) as server:
        client = server.client
        ws = client.post("/workspaces", json={"name": "keep-alive"}).json()
        for body in (b"{nope", b'{"bootstrap": NaN}'):
            bad = client.post(f"/workspaces/{ws['id']}/runs", content=body, headers=JSON)
            assert bad.status_code == 422
            assert client.get("/.json").status_code == 200


def _peak_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_huge_bodies_do_not_grow_the_server(tmp_path: Path) -> None:
    with serving(tmp_path / "data", args=("--max-upload", "10")) as server:
        client = server.client
        ws = client.post("/workspaces", json={"name": "memory"}).json()
        before = _peak_kb(server.proc.pid)

        def stream(head: bytes, total: int) -> Iterator[bytes]:
            yield head
            block = b"x" * 2**20
            for _ in range(total // len(block)):
                yield block

        fields = b'--XYZ\r\nContent-Disposition: form-data; name="note"\r\n\r\n'
        for url, head, headers in (
            (f"/workspaces/{ws['id']}/uploads", fields, FORM),
            ("/workspaces", b'{"name": "', JSON),
        ):
            try:
                reply = client.post(url, content=stream(head, 200 * 2**20), headers=headers)
                assert 400 <= reply.status_code < 500, reply.text
            except httpx2.TransportError:
                pass  # the server may stop reading and close: refused all the same
        grown_mb = (_peak_kb(server.proc.pid) - before) / 1024
        assert grown_mb < 100, f"the server grew by {grown_mb:.0f} MB"
        assert client.get("/.json").status_code == 200


# -- the workspace list, paged ------------------------------------------------------------


def test_the_workspace_list_is_paged(limited: TestClient) -> None:
    # GET / took 4.3 s with 305 workspaces (97.6 s for 20 at once): every one was shown
    store = limited.app.state.store  # type: ignore[attr-defined]
    for i in range(120):
        store.create_workspace(f"service {i:03d}")
    first = limited.get("/.json").json()
    assert (first["page"], first["pages"], first["total"]) == (1, 3, 120)
    assert [w["name"] for w in first["workspaces"]][:2] == ["service 119", "service 118"]
    assert len(first["workspaces"]) == 50
    last = limited.get("/.json?page=3").json()
    assert len(last["workspaces"]) == 20 and last["workspaces"][-1]["name"] == "service 000"
    page = limited.get("/?page=2", headers={"accept": "text/html"}).text
    assert 'href="/?page=1"' in page and 'href="/?page=3"' in page
    assert limited.get("/.json?page=0").status_code == 422


# -- tokens ---------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["x", "s3cret-token", "aaaaaaaaaaaaaaaaaaaa", " " + STRONG])
def test_a_weak_token_is_refused(tmp_path: Path, token: str) -> None:
    with pytest.raises(KeymomentsError, match="the token is too weak"):
        create_app(tmp_path / "data", token=token)
    res = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--token", token])
    assert res.exit_code == 2 and "the token is too weak" in res.output
    assert not (tmp_path / "data").exists()


def test_repeated_wrong_tokens_are_slowed_down(tmp_path: Path) -> None:
    # 200 wrong tokens used to get 200 quick 401s
    with TestClient(create_app(tmp_path / "data", token=STRONG)) as c:
        codes = [
            c.get("/.json", headers={"authorization": f"Bearer guess{i}"}).status_code
            for i in range(8)
        ]
        assert codes[:4] == [401] * 4 and codes[4:] == [429] * 4
        locked = c.get("/.json", headers={"authorization": f"Bearer {STRONG}"})
        assert locked.status_code == 429  # not even compared while locked out
        assert int(locked.headers["retry-after"]) >= 1
        assert "too many wrong tokens" in locked.json()["error"]["message"]
        # a browser already logged in is not locked out with the guesser
        c.cookies.set(SESSION_COOKIE, session_value(STRONG))
        assert c.get("/.json").status_code == 200
        c.cookies.clear()
        login = c.post("/login", data={"token": STRONG, "next": "/"})
        assert login.status_code == 429 and "Too many wrong tokens" in login.text
        time.sleep(int(locked.headers["retry-after"]) * 4 + 0.5)  # 1, 2, 4, 8 s waited out
        ok = c.post("/login", data={"token": STRONG, "next": "/"}, follow_redirects=False)
        assert ok.status_code == 303
        assert c.get("/.json", headers={"authorization": f"Bearer {STRONG}"}).status_code == 200


def test_wrong_tokens_at_the_login_page_are_slowed_down(tmp_path: Path) -> None:
    with TestClient(create_app(tmp_path / "data", token=STRONG)) as c:
        codes = [c.post("/login", data={"token": f"no{i}"}).status_code for i in range(6)]
        assert codes == [401, 401, 401, 401, 429, 429]


# -- on a finished run: budgets, what-ifs off the loop, cancelling --------------------------


@pytest.mark.parametrize("budget", ["inf", "nan", "1e999", "-inf"])
def test_a_budget_that_is_not_finite_is_422(
    finished: tuple[TestClient, str, str, dict[str, Any]], budget: str
) -> None:
    client, _, run_id, _ = finished
    form = client.post(
        f"/runs/{run_id}/plan", data={"budget": budget}, headers={"accept": "application/json"}
    )
    assert form.status_code == 422 and "expected a finite number" in form.text
    as_json = client.post(f"/runs/{run_id}/plan", json={"budget": budget})
    assert as_json.status_code == 422


def test_a_what_if_that_reruns_the_analysis_leaves_the_event_loop_free(
    finished: tuple[TestClient, str, str, dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    # with its stored result gone, a what-if re-ran the analysis inside the async
    # handler: 3.75 s in which no other request (static files included) was answered
    from keymoments.web.routes import runs

    client, _, run_id, _ = finished
    app = client.app
    run = app.state.store.run(run_id)  # type: ignore[attr-defined]
    (app.state.store.run_dir(run) / "result.pickle").unlink(missing_ok=True)  # type: ignore[attr-defined]
    with runs._cache_lock:
        runs._cache.clear()

    async def what_if() -> int:
        transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
        async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as c:
            asyncio.get_running_loop().slow_callback_duration = 1.0
            reply = await c.post(f"/runs/{run_id}/what-if", json={"intervention": []})
            return reply.status_code

    caplog.set_level(logging.WARNING, logger="asyncio")
    assert asyncio.run(what_if(), debug=True) == 200
    stalls = [r.getMessage() for r in caplog.records if "took" in r.getMessage()]
    assert stalls == [], stalls


def test_a_running_analysis_can_be_cancelled(tmp_path: Path, demo_files: dict[str, Path]) -> None:
    with TestClient(create_app(tmp_path / "data")) as c:
        ws_id, run_id = start_run(c, demo_files, service_yaml(), bootstrap=5000)
        deadline = time.monotonic() + 120
        while c.get(f"/runs/{run_id}/status.json").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        jobs = c.app.state.jobs  # type: ignore[attr-defined]
        with jobs._lock:
            (proc,) = jobs._procs.values()
        reply = c.post(f"/runs/{run_id}/cancel", headers={"accept": "application/json"})
        assert reply.status_code == 200
        status = wait_for(c, run_id, timeout=60)
        assert status["status"] == "cancelled", status
        assert "cancelled before it finished" in status["message"]
        assert proc.poll() is not None  # the analysis process is gone
        run_dir = tmp_path / "data" / "workspaces" / ws_id / "runs" / run_id
        assert not [
            p.name
            for p in run_dir.iterdir()
            if p.name.endswith((".json", ".csv", ".html")) and p.name != "job.json"
        ]
        page = c.get(f"/runs/{run_id}", headers={"accept": "text/html"}).text
        assert "The run was cancelled" in page and "Run again" in page
        # an ended run is left as it is
        again = c.post(f"/runs/{run_id}/cancel", headers={"accept": "application/json"})
        assert again.json()["status"] == "cancelled"
        queued_ws, queued = start_run(c, demo_files, service_yaml(), bootstrap=5000)
        c.post(f"/runs/{queued}/cancel", headers={"accept": "application/json"})
        assert wait_for(c, queued, timeout=60)["status"] == "cancelled"
        del queued_ws


def test_a_parquet_that_decodes_to_far_more_than_it_weighs_is_refused(tmp_path: Path) -> None:
    # Parquet compresses inside: 9 MB of 100M dictionary-encoded rows took 1.85 GB to read
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 3_000_000
    zeros = pa.array(np.zeros(n, dtype=np.int64))
    table = pa.table(
        {
            "case_id": pa.array(["c1"]).take(zeros),
            "activity": pa.array(["booked"]).take(zeros),
            "timestamp": pa.array(["2024-01-01T08:00:00"]).take(zeros),
        }
    )
    bomb = tmp_path / "events.parquet"
    pq.write_table(table, bomb, compression="zstd")
    assert bomb.stat().st_size < 200_000
    fine = tmp_path / "small.parquet"
    pq.write_table(table.slice(0, 1000), fine)
    with TestClient(create_app(tmp_path / "data", max_upload_bytes=2**20)) as c:
        ws = c.post("/workspaces", json={"name": "parquet"}).json()
        reply = upload(c, ws["id"], "events", bomb)
        assert reply.status_code == 413, reply.text
        assert "unpacks to more than 10.0 MB" in reply.json()["error"]["message"]
        assert _uploads(tmp_path, ws["id"]) == []
        assert upload(c, ws["id"], "events", fine).status_code == 201
        garbage = tmp_path / "garbage.parquet"
        garbage.write_bytes(b"PAR1" + b"\x00" * 100 + b"PAR1")
        reply = upload(c, ws["id"], "events", garbage)
        assert reply.status_code == 422 and "not a readable Parquet file" in reply.text
