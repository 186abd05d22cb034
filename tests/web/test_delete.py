"""Deleting workspaces, uploads and runs: from the API and the pages' buttons, never mid-run."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from tests.web.conftest import upload

from keymoments.web import create_app

JSON = {"accept": "application/json"}


def test_delete_uploads_runs_and_workspaces(client: TestClient, tmp_path: Path) -> None:
    store = client.app.state.store  # type: ignore[attr-defined]
    source = tmp_path / "events.csv"
    source.write_text("case_id,activity,timestamp\nc1,a,2024-01-01\n")
    ws = client.post("/workspaces", json={"name": "to delete"}).json()
    first = upload(client, ws["id"], "events", source).json()
    second = upload(client, ws["id"], "events", source, name="second.csv").json()
    done = store.create_run(ws["id"], model_yaml="x", events_upload=first["id"],
                            cases_upload=None, bootstrap=0)  # fmt: skip
    store.update_run(done.id, status="done")
    (store.run_dir(done) / "result.json").write_text("{}")
    going = store.create_run(ws["id"], model_yaml="x", events_upload=first["id"],
                             cases_upload=None, bootstrap=0)  # fmt: skip
    store.update_run(going.id, status="running", stage="bootstrap")

    # nothing a run is using can go: 409 saying why
    for url in (
        f"/workspaces/{ws['id']}/uploads/{first['id']}",
        f"/runs/{going.id}",
        f"/workspaces/{ws['id']}",
    ):
        reply = client.delete(url, headers=JSON)
        assert reply.status_code == 409, url
        assert "once" in reply.json()["error"]["message"]
    assert (
        "events.csv is being analysed"
        in client.delete(f"/workspaces/{ws['id']}/uploads/{first['id']}").json()["error"]["message"]
    )

    store.update_run(going.id, status="failed", message="stopped")
    # a run: its row and its folder
    assert client.delete(f"/runs/{going.id}").json() == {"deleted": {"kind": "run", "id": going.id}}
    assert not store.run_dir(going).exists()
    assert client.get(f"/runs/{going.id}.json").status_code == 404
    # an upload: its row and its file; the run that read it keeps its results,
    # and running it again says what is missing
    path = store.upload_path(store.upload(first["id"]))
    assert client.delete(f"/workspaces/{ws['id']}/uploads/{first['id']}").status_code == 200
    assert not path.exists()
    assert (store.run_dir(done) / "result.json").exists()
    retry = client.post(f"/runs/{done.id}/retry", headers=JSON)
    assert retry.status_code == 422 and "deleted since" in retry.json()["error"]["message"]
    # an upload id from another workspace is not found there
    other = client.post("/workspaces", json={"name": "other"}).json()
    assert client.delete(f"/workspaces/{other['id']}/uploads/{second['id']}").status_code == 404

    # the page's buttons: a POST, then back to the workspace; a confirmation first
    page = client.get(f"/workspaces/{ws['id']}").text
    assert f'action="/workspaces/{ws["id"]}/delete"' in page and "data-confirm" in page
    reply = client.post(
        f"/workspaces/{ws['id']}/uploads/{second['id']}/delete", follow_redirects=False
    )
    assert reply.status_code == 303 and reply.headers["location"] == f"/workspaces/{ws['id']}"
    assert client.get(f"/workspaces/{ws['id']}.json").json()["uploads"] == []

    # a page elsewhere cannot delete
    evil = client.post(f"/workspaces/{ws['id']}/delete", headers={"origin": "https://evil.example"})
    assert evil.status_code == 403
    # the workspace: rows, folder, and it is gone from the list
    folder = store.workspace_dir(ws["id"])
    reply = client.post(f"/workspaces/{ws['id']}/delete", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/"
    assert not folder.exists()
    assert client.get(f"/workspaces/{ws['id']}.json").status_code == 404
    assert [w["id"] for w in client.get("/.json").json()["workspaces"]] == [other["id"]]
    assert store.runs(ws["id"]) == [] and store.uploads(ws["id"]) == []


def test_a_restart_sweeps_folders_the_database_does_not_know(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with TestClient(create_app(data)) as client:
        ws = client.post("/workspaces", json={"name": "kept"}).json()
    kept = data / "workspaces" / ws["id"]
    stray_ws = data / "workspaces" / "0123456789ab"
    stray_run = kept / "runs" / "ba9876543210"
    for folder in (stray_ws / "uploads", stray_run):
        folder.mkdir(parents=True)
        (folder / "x.json").write_text("{}")
    (kept / "uploads" / ".upload-abc.part").write_text("half")
    with TestClient(create_app(data)) as client:
        assert client.get(f"/workspaces/{ws['id']}.json").status_code == 200
    assert kept.is_dir() and not stray_ws.exists() and not stray_run.exists()
    assert list((kept / "uploads").iterdir()) == []
