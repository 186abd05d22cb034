"""Faults, with real processes: `keymoments serve` killed mid-upload and mid-analysis, a full disk.

Each test starts the server as its own process (``python -m keymoments
serve``), breaks it the way production breaks (SIGKILL: no shutdown code
runs), starts it again over the same data folder and checks what a user would
find: a sound database, every listed upload readable, no half-written file,
the interrupted run failed with a message and retryable, new work accepted.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from tests.web.conftest import service_yaml
from tests.web.serving import Server, alive, serving

from keymoments import examples
from keymoments.web.store import DISK_FULL_FLAG, atomic_write

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads the server's children from /proc"
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return examples.write_example(
        "health-check", tmp_path_factory.mktemp("faults-demo"), n_cases=800, seed=5
    )


def send_file(server: Server, ws_id: str, kind: str, path: Path) -> httpx2.Response:
    with path.open("rb") as fh:
        return server.client.post(
            f"/workspaces/{ws_id}/uploads",
            data={"kind": kind},
            files={"file": (path.name, fh, "text/csv")},
        )


def ready_workspace(server: Server, files: dict[str, Path]) -> str:
    ws_id: str = server.client.post("/workspaces", json={"name": "faults"}).json()["id"]
    for kind in ("events", "cases"):
        assert send_file(server, ws_id, kind, files[kind]).status_code == 201
    reply = server.client.post(
        f"/workspaces/{ws_id}/model",
        content=service_yaml().encode(),
        headers={"content-type": "application/yaml"},
    )
    assert reply.status_code == 200, reply.text
    return ws_id


def wait_until(server: Server, run_id: str, accept: Any, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = server.client.get(f"/runs/{run_id}/status.json").json()
        if accept(status):
            return status
        time.sleep(0.1)
    raise AssertionError(f"run {run_id}: not there in {timeout} s (last: {status})")


def ended(status: dict[str, Any]) -> bool:
    return status["status"] in ("done", "failed")


def in_analysis(status: dict[str, Any]) -> bool:
    """Past the worker's start (imports, reading): summarising, bootstrap, or later."""
    return ended(status) or status["stage"] not in ("", "start", "read")


def check_workspace_sound(server: Server) -> dict[str, Any]:
    """Integrity of the database, every listed upload readable, no temp file left."""
    db = sqlite3.connect(server.data_dir / "keymoments.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {name for (name,) in db.execute("SELECT stored_name FROM uploads")}
    finally:
        db.close()
    leftovers = [
        p
        for p in (server.data_dir / "workspaces").rglob("*")
        if p.name.startswith((".upload-", ".tmp-"))
        or (p.parent.name == "uploads" and p.name not in stored)
    ]
    assert leftovers == []
    seen: dict[str, Any] = {}
    for ws in server.client.get("/.json").json()["workspaces"]:
        info = server.client.get(f"/workspaces/{ws['id']}.json").json()
        for up in info["uploads"]:
            assert up["columns"], up  # read back: its header parses
        seen[ws["id"]] = info
    return seen


def test_killed_mid_upload_leaves_no_partial_file(tmp_path: Path, files: dict[str, Path]) -> None:
    data = tmp_path / "data"
    server = Server(data)
    try:
        ws_id = ready_workspace(server, files)
        uploads = data / "workspaces" / ws_id / "uploads"
        # a large upload, sent by hand so it can be cut half-way
        boundary = "km-fault-boundary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nevents\r\n'
            f"--{boundary}\r\nContent-Disposition: form-data; "
            f'name="file"; filename="big.csv"\r\nContent-Type: text/csv\r\n\r\n'
            "case_id,activity,timestamp\r\n"
        ).encode()
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.putrequest("POST", f"/workspaces/{ws_id}/uploads")
        conn.putheader("content-type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("content-length", str(50 * 2**20))
        conn.endheaders()
        conn.send(head + b"c1,invited,2024-01-01\n" * 100_000)
        deadline = time.monotonic() + 30
        while not [p for p in uploads.glob(".upload-*") if p.stat().st_size > 0]:
            assert time.monotonic() < deadline, "the upload never reached the disk"
            time.sleep(0.05)
        server.kill()
        conn.close()
    finally:
        server.stop()
    assert list(uploads.glob(".upload-*")), "the kill should have left a partial file to clean"
    with serving(data) as again:
        seen = check_workspace_sound(again)
        assert [u["name"] for u in seen[ws_id]["uploads"]] == ["cases.csv", "events.csv"]
        for up in seen[ws_id]["uploads"]:
            assert up["size"] == files[up["kind"]].stat().st_size
        assert send_file(again, ws_id, "events", files["events"]).status_code == 201
        assert len(again.client.get(f"/workspaces/{ws_id}.json").json()["uploads"]) == 3


def test_killed_mid_analysis_the_run_fails_and_a_retry_succeeds(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    data = tmp_path / "data"
    server = Server(data)
    try:
        ws_id = ready_workspace(server, files)
        run = server.client.post(f"/workspaces/{ws_id}/runs", json={"bootstrap": 300}).json()
        # past the imports, inside the analysis itself
        inside = wait_until(server, run["id"], in_analysis)
        assert inside["status"] == "running", "the run ended before it could be cut"
        workers = server.children()
        assert workers, "the analysis runs in a process of its own"
        server.kill()
    finally:
        server.stop()
    # the orphaned worker notices its server is gone and stops too
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "the analysis process outlived its server"
        time.sleep(0.1)
    with serving(data) as again:
        check_workspace_sound(again)
        status = again.client.get(f"/runs/{run['id']}/status.json").json()
        assert status["status"] == "failed"
        assert "interrupted" in status["message"] and "run it again" in status["message"]
        assert again.client.get(f"/runs/{run['id']}/summary.csv").status_code == 422
        retry = again.client.post(f"/runs/{run['id']}/retry")
        assert retry.status_code == 201
        done = wait_until(again, retry.json()["id"], ended)
        assert done["status"] == "done", done["message"]
        result = again.client.get(f"/runs/{retry.json()['id']}/result.json").json()
        assert result["n_cases"] == 800


def test_a_killed_worker_fails_its_run_with_a_message(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    with serving(tmp_path / "data") as server:
        ws_id = ready_workspace(server, files)
        run = server.client.post(f"/workspaces/{ws_id}/runs", json={"bootstrap": 300}).json()
        inside = wait_until(server, run["id"], in_analysis)
        assert inside["status"] == "running", "the run ended before it could be cut"
        (worker,) = server.children()
        os.kill(worker, signal.SIGKILL)
        status = wait_until(server, run["id"], ended, timeout=30)
        assert status["status"] == "failed"
        assert "killed (SIGKILL)" in status["message"] and "run it again" in status["message"]
        # the server carries on (a retry to the end is the test above)
        retry = server.client.post(f"/runs/{run['id']}/retry")
        assert retry.status_code == 201
        check_workspace_sound(server)


# -- a full disk ------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(folder: Path, megabytes: int) -> Iterator[bool]:
    """A tmpfs of a few MB at ``folder`` when this process may mount one (root on Linux).

    Yields whether it is a real small filesystem; if not, the test fills the
    "disk" through the server's documented hook (:data:`DISK_FULL_FLAG`).
    """
    folder.mkdir(parents=True)
    mounted = False
    if os.geteuid() == 0:
        mounted = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(folder)],
                capture_output=True,
            ).returncode
            == 0
        )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """Fill the filesystem holding ``folder`` until ``leave`` bytes are free."""
    filler = folder / "filler.bin"
    stat = os.statvfs(folder)
    free = stat.f_bavail * stat.f_frsize
    with filler.open("ab") as fh, contextlib.suppress(OSError):
        fh.write(b"\0" * max(0, free - leave))
    return filler


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir()}


def test_a_full_disk_fails_the_run_clearly_and_keeps_the_previous_result(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    flag = tmp_path / "disk-is-full"
    with small_disk(tmp_path / "disk", 48) as real:
        data = tmp_path / "disk" / "data"
        with serving(data, env={DISK_FULL_FLAG: str(flag)}) as server:
            ws_id = ready_workspace(server, files)
            first = server.client.post(f"/workspaces/{ws_id}/runs", json={"bootstrap": 0}).json()
            assert wait_until(server, first["id"], ended)["status"] == "done"
            first_dir = data / "workspaces" / ws_id / "runs" / first["id"]
            before = digests(first_dir)
            # the disk fills up: a few KB left, less than the results need
            if real:
                filler = fill(tmp_path / "disk", 64 * 1024)
            else:
                filler = flag
                flag.touch()
            second = server.client.post(f"/runs/{first['id']}/retry").json()
            status = wait_until(server, second["id"], ended)
            assert status["status"] == "failed"
            assert status["message"].startswith("the disk is full"), status["message"]
            assert "earlier results are untouched" in status["message"]
            # the earlier run is as it was, and still served
            assert digests(first_dir) == before
            assert server.client.get(f"/runs/{first['id']}/result.json").status_code == 200
            assert server.client.get(f"/runs/{first['id']}.json").json()["status"] == "done"
            # an upload on a full disk: 507 with a message, nothing kept
            if real:
                fill(tmp_path / "disk", 64 * 1024)  # the server gave back its reserve
            refused = send_file(server, ws_id, "events", files["events"])
            assert refused.status_code == 507, refused.text
            assert "disk is full" in refused.json()["error"]["message"]
            check_workspace_sound(server)
            filler.unlink()
            flag.unlink(missing_ok=True)


def test_the_disk_full_hook_fails_atomic_writes_and_keeps_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "result.json"
    target.write_text("previous")
    flag = tmp_path / "full"
    flag.touch()
    monkeypatch.setenv(DISK_FULL_FLAG, str(flag))
    with pytest.raises(OSError) as caught, atomic_write(target) as tmp:
        tmp.write_text("new")
    assert caught.value.errno == errno.ENOSPC
    assert target.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "result.json"]
