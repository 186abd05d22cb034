"""The web API in process: workspaces, uploads, the model form, runs, results, downloads."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import service_yaml, start_run, upload, wait_for

import keymoments
from keymoments.errors import DataError, ModelError
from keymoments.model import parse_service
from keymoments.web.app import error_status
from keymoments.web.store import NotFound
from keymoments.web.uploads import TooLarge

CONTRACT_KEYS = {"service", "n_cases", "outcomes", "moments", "alignment", "drivers", "barriers"}


def test_every_page_answers_json_by_suffix_and_by_accept(client: TestClient) -> None:
    ws = client.post("/workspaces", json={"name": "Clinic"}).json()
    page = client.get(f"/workspaces/{ws['id']}")
    assert page.headers["content-type"].startswith("text/html")
    assert "Clinic" in page.text
    by_suffix = client.get(f"/workspaces/{ws['id']}.json").json()
    by_accept = client.get(f"/workspaces/{ws['id']}", headers={"accept": "application/json"}).json()
    assert by_suffix == by_accept
    assert by_suffix["name"] == "Clinic"
    assert by_suffix["ready"] is False
    assert any("events file" in m for m in by_suffix["missing"])
    index = client.get("/.json")
    assert index.status_code == 200
    assert [w["id"] for w in index.json()["workspaces"]] == [ws["id"]]


def test_openapi_describes_the_api(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for path in (
        "/workspaces",
        "/workspaces/{workspace_id}",
        "/workspaces/{workspace_id}/uploads",
        "/workspaces/{workspace_id}/model",
        "/workspaces/{workspace_id}/runs",
        "/runs/{run_id}",
        "/runs/{run_id}/status",
        "/runs/{run_id}/what-if",
        "/runs/{run_id}/plan",
        "/runs/{run_id}/summary.csv",
    ):
        assert path in paths, path
    schema = paths["/runs/{run_id}"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/html"} <= set(schema)


def test_unknown_ids_are_404_with_one_error_shape(client: TestClient) -> None:
    for url in ("/workspaces/0123456789ab.json", "/runs/0123456789ab.json"):
        reply = client.get(url)
        assert reply.status_code == 404
        assert reply.json()["error"]["status"] == 404
        assert "0123456789ab" in reply.json()["error"]["message"]
    # an id that is not one of ours never reaches the store, let alone the disk
    reply = client.get("/workspaces/..%2F..%2Fetc.json")
    assert reply.status_code in (404, 422)
    assert set(reply.json()) == {"error"}
    html = client.get("/runs/0123456789ab", headers={"accept": "text/html"})
    assert html.status_code == 404
    assert "Not found" in html.text


def test_error_statuses_are_mapped_in_one_table() -> None:
    assert error_status(ModelError("x")) == 422
    assert error_status(DataError("x")) == 422
    assert error_status(keymoments.KeymomentsError("x")) == 400
    assert error_status(NotFound("x")) == 404
    assert error_status(TooLarge(10)) == 413
    assert error_status(RuntimeError("x")) == 500


def test_upload_streams_to_a_server_named_file(
    client: TestClient, demo_files: dict[str, Path]
) -> None:
    ws = client.post("/workspaces", json={"name": "Clinic"}).json()
    reply = upload(client, ws["id"], "events", demo_files["events"], name="../../../etc/passwd.csv")
    assert reply.status_code == 201, reply.text
    up = reply.json()
    assert up["name"] == "passwd.csv"  # only the last part is kept, and only for display
    assert up["size"] == demo_files["events"].stat().st_size
    assert up["columns"][:3] == ["case_id", "activity", "timestamp"]
    data_dir = Path(client.app.state.store.root)  # type: ignore[attr-defined]
    stored = list((data_dir / "workspaces" / ws["id"] / "uploads").iterdir())
    assert [p.name for p in stored] == [f"{up['id']}.csv"]
    assert stored[0].read_bytes() == demo_files["events"].read_bytes()
    assert not (data_dir.parent / "etc").exists()


def test_upload_of_an_unknown_type_is_refused(client: TestClient, tmp_path: Path) -> None:
    ws = client.post("/workspaces", json={"name": "Clinic"}).json()
    path = tmp_path / "notes.docx"
    path.write_bytes(b"PK\x03\x04 not really")
    reply = upload(client, ws["id"], "events", path)
    assert reply.status_code == 422
    assert "notes.docx: not a file type keymoments reads" in reply.json()["error"]["message"]
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert "empty" in upload(client, ws["id"], "events", empty).json()["error"]["message"]
    uploads = Path(client.app.state.store.root) / "workspaces" / ws["id"] / "uploads"  # type: ignore[attr-defined]
    assert list(uploads.iterdir()) == []  # nothing half-written left behind


def test_parquet_and_xlsx_uploads_show_their_columns(client: TestClient, tmp_path: Path) -> None:
    ws = client.post("/workspaces", json={"name": "Clinic"}).json()
    frame = pd.DataFrame({"patient": ["a", "b"], "worry_transport": [1, 0]})
    frame.to_parquet(tmp_path / "cases.parquet")
    frame.to_excel(tmp_path / "cases.xlsx", index=False)
    for name in ("cases.parquet", "cases.xlsx"):
        reply = upload(client, ws["id"], "cases", tmp_path / name)
        assert reply.status_code == 201, reply.text
        assert reply.json()["columns"] == ["patient", "worry_transport"]


def test_too_large_upload_is_413_with_a_clear_message(tmp_path: Path) -> None:
    from keymoments.web import create_app

    with TestClient(create_app(tmp_path / "d", max_upload_bytes=1000)) as small:
        ws = small.post("/workspaces", json={"name": "Clinic"}).json()
        big = tmp_path / "events.csv"
        big.write_text("case_id,activity,timestamp\n" + "1,a,2020-01-01\n" * 200)
        reply = upload(small, ws["id"], "events", big)
        assert reply.status_code == 413
        message = reply.json()["error"]["message"]
        assert "larger than this server's limit of 1,000 bytes" in message
        assert "--max-upload" in message

        # streamed without a declared length: stopped as the bytes cross the limit
        boundary = "xyz123"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nevents\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="events.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()

        def body() -> Any:
            yield head
            for _ in range(50):
                yield b"1,a,2020-01-01\n" * 10

        reply = small.post(
            f"/workspaces/{ws['id']}/uploads",
            content=body(),
            headers={
                "content-type": f"multipart/form-data; boundary={boundary}",
                "accept": "application/json",
            },
        )
        assert reply.status_code == 413
        uploads = Path(small.app.state.store.root) / "workspaces" / ws["id"] / "uploads"  # type: ignore[attr-defined]
        assert list(uploads.iterdir()) == []


def test_model_form_writes_yaml_the_loader_accepts(client: TestClient) -> None:
    ws = client.post("/workspaces", json={"name": "Clinic"}).json()
    fields = {
        "source": "form",
        "name": "Clinic",
        "volume": "12,000",
        "columns-case_id": "patient",
        "moment-0-id": "visit",
        "moment-0-name": "The visit",
        "moment-0-perspectives": "both",
        "moment-0-reached": "attended, dna",
        "moment-0-broken": "dna",
        "moment-1-id": "",  # a blank row is ignored
        "outcome-0-id": "seen",
        "outcome-0-perspective": "provider",
        "outcome-0-reached": "seen",
        "outcome-0-value": "150",
        "intervention-0-id": "sms",
        "intervention-0-moment": "visit",
        "intervention-0-effect": "-0.25",
        "intervention-0-effect_lo": "-0.35",
        "intervention-0-effect_hi": "-0.1",
        "intervention-0-cost": "2000",
    }
    reply = client.post(f"/workspaces/{ws['id']}/model", data=fields, follow_redirects=False)
    assert reply.status_code == 303
    text = client.get(f"/workspaces/{ws['id']}/service.yaml").text
    service = parse_service(text)
    assert service.volume == 12000
    assert service.columns.case_id == "patient"
    assert service.moments[0].reached == ["attended", "dna"]
    assert service.interventions[0].effect_range == (-0.35, -0.1)
    assert service.outcomes[0].value == 150
    # the form shows the saved model again
    form = client.get(f"/workspaces/{ws['id']}/model").text
    assert 'value="attended, dna"' in form
    # what the form has no field for survives a save through the form
    base = text + "filters: {lifecycle: [complete]}\nsegments: [{column: age, bins: [40, 65]}]\n"
    again = client.post(
        f"/workspaces/{ws['id']}/model",
        data={**fields, "segments": "age", "base_yaml": base},
        headers={"accept": "application/json"},
    )
    kept = parse_service(again.json()["model_yaml"])
    assert kept.filters == {"lifecycle": ["complete"]}
    assert kept.segments[0].bins == [40, 65]


def test_model_mistakes_give_the_loaders_message(client: TestClient) -> None:
    ws = client.post("/workspaces", json={"name": "Clinic"}).json()
    bad = service_yaml().replace("perspective: provider", "perspective: board", 1)
    with pytest.raises(ModelError) as cli_error:
        parse_service(bad, file="service.yaml")
    as_json = client.post(
        f"/workspaces/{ws['id']}/model",
        content=bad.encode(),
        headers={"content-type": "application/yaml", "accept": "application/json"},
    )
    assert as_json.status_code == 422
    assert as_json.json()["error"]["message"] == str(cli_error.value)
    assert "line" in str(cli_error.value)
    # the form page shows the same message, keeps the text, and saves nothing
    page = client.post(f"/workspaces/{ws['id']}/model", data={"source": "yaml", "yaml": bad})
    assert page.status_code == 422
    assert "perspective: board" in page.text
    assert str(cli_error.value).replace("'", "&#39;") in page.text
    assert client.get(f"/workspaces/{ws['id']}.json").json()["model_yaml"] is None


def test_model_upload_as_a_file(client: TestClient, tmp_path: Path) -> None:
    ws = client.post("/workspaces", json={"name": "Clinic"}).json()
    path = tmp_path / "service.yaml"
    path.write_text(service_yaml(), encoding="utf-8")
    with path.open("rb") as fh:
        reply = client.post(
            f"/workspaces/{ws['id']}/model",
            data={"source": "file"},
            files={"file": ("service.yaml", fh, "application/yaml")},
            follow_redirects=False,
        )
    assert reply.status_code == 303
    assert client.get(f"/workspaces/{ws['id']}/service.yaml").text == service_yaml()


def test_a_run_finds_the_appointment_and_reports_progress(
    finished: tuple[TestClient, str, str, dict[str, Any]], demo_files: dict[str, Path]
) -> None:
    client, _, run_id, status = finished
    # Polled every 0.2 s, so a stage shorter than that can pass unseen (the journey
    # summaries of this small demo take less); what is seen must come in order.
    seen = list(dict.fromkeys(status["stages_seen"]))
    order = ["start", "read", "summarise", "bootstrap", "drivers", "barriers", "write", "done"]
    known = [s for s in seen if s in order]
    assert known == sorted(known, key=order.index), seen
    assert seen[-1] == "done" and set(seen) - {"start", "done"}, seen
    doc = client.get(f"/runs/{run_id}/result.json").json()
    assert set(doc) >= CONTRACT_KEYS
    key = {m["id"] for m in doc["moments"] if m["key"]["user"] and m["key"]["provider"]}
    assert key == {"appointment"}
    # the same figures as the library gives for the same data and settings
    direct = keymoments.analyse(
        demo_files["service"],
        events=demo_files["events"],
        cases=demo_files["cases"],
        bootstrap=20,
    ).to_dict()
    ours = {m["id"]: m["impact"] for m in doc["moments"]}
    theirs = {m["id"]: m["impact"] for m in direct["moments"]}
    assert ours == theirs
    # the files are named as uploaded, not as stored
    assert [f["file"] for f in doc["data"]["files"]] == ["events.csv", "cases.csv"]
    page = client.get(f"/runs/{run_id}").text
    assert "Attend the check appointment" in page
    assert 'id="headline"' in page
    run = client.get(f"/runs/{run_id}.json").json()
    assert run["result"]["service"] == doc["service"]


@pytest.mark.filterwarnings("ignore::keymoments.errors.KeymomentsWarning")
def test_downloads(finished: tuple[TestClient, str, str, dict[str, Any]]) -> None:
    client, _, run_id, _ = finished
    csv_reply = client.get(f"/runs/{run_id}/summary.csv")
    assert csv_reply.status_code == 200
    assert csv_reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_reply.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(csv_reply.text)))
    assert [r["moment"] for r in rows][:2] == ["invitation", "booking"]
    json_reply = client.get(f"/runs/{run_id}/result.json")
    assert json.loads(json_reply.content)["n_cases"] == 1500
    html = client.get(f"/runs/{run_id}/report.html")
    pdf = client.get(f"/runs/{run_id}/report.pdf")
    missing = client.get(f"/runs/{run_id}/report.html", headers={"accept": "application/json"})
    if importlib.util.find_spec("keymoments.report.html") is not None:
        assert html.status_code == 200
        assert "Attend the check appointment" in html.text
        # the report runs its own scripts, sandboxed away from the app's cookies
        assert "sandbox" in html.headers["content-security-policy"]
    else:
        assert html.status_code == 404
        assert "does not make it" in missing.json()["error"]["message"]
    # the PDF is laid out on its first download, then kept
    assert pdf.status_code == 200, pdf.text
    assert pdf.content.startswith(b"%PDF")
    again = client.get(f"/runs/{run_id}/report.pdf")
    assert again.content == pdf.content


def test_results_survive_a_restart_and_interrupted_runs_fail_retryably(
    finished: tuple[TestClient, str, str, dict[str, Any]],
) -> None:
    from keymoments.web import create_app

    client, ws_id, run_id, _ = finished
    store = client.app.state.store  # type: ignore[attr-defined]
    data_dir = store.root
    # a run caught mid-way by a stop
    run = store.run(run_id)
    stuck = store.create_run(
        ws_id,
        model_yaml=run.model_yaml,
        events_upload=run.events_upload,
        cases_upload=run.cases_upload,
        bootstrap=0,
    )
    store.update_run(stuck.id, status="running", stage="bootstrap", done=3, total=20)
    with TestClient(create_app(data_dir)) as again:
        assert again.get(f"/runs/{run_id}.json").json()["status"] == "done"
        assert again.get(f"/runs/{run_id}/summary.csv").status_code == 200
        failed = again.get(f"/runs/{stuck.id}.json").json()
        assert failed["status"] == "failed"
        assert "interrupted" in failed["message"]
        assert "run it again" in failed["message"]
        retried = again.post(f"/runs/{stuck.id}/retry", headers={"accept": "application/json"})
        assert retried.status_code == 201
        assert wait_for(again, retried.json()["id"])["status"] == "done"


def test_a_failed_run_shows_the_clis_message(
    client: TestClient, demo_files: dict[str, Path]
) -> None:
    model = service_yaml().replace(
        "reached: [appointment_attended", "reached: [appointment_kept", 1
    )
    model = model.replace("column: experience_rating", "column: experience_score", 1)
    _, run_id = start_run(client, demo_files, model, bootstrap=0)
    status = wait_for(client, run_id)
    assert status["status"] == "failed"
    with pytest.raises(DataError) as cli_error:
        keymoments.analyse(
            parse_service(model, file="service.yaml"),
            events=demo_files["events"],
            cases=demo_files["cases"],
            bootstrap=0,
        )
    assert status["message"] == str(cli_error.value)
    assert "experience_score" in status["message"]
    page = client.get(f"/runs/{run_id}").text
    assert "The run failed" in page and "Run again" in page
    assert client.get(f"/runs/{run_id}/summary.csv").status_code == 422


def test_names_from_data_are_escaped_and_csv_cells_neutralised(
    client: TestClient, demo_files: dict[str, Path]
) -> None:
    script = "<script>alert('x')</script>"
    model = service_yaml().replace("name: Attend the check appointment", f'name: "{script}"', 1)
    model = model.replace("name: Invitation letter", 'name: "=HYPERLINK(1)"', 1)
    ws_id, run_id = start_run(client, demo_files, model, bootstrap=0)
    assert wait_for(client, run_id)["status"] == "done"
    page = client.get(f"/runs/{run_id}").text
    assert script not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    ws_page = client.get(f"/workspaces/{ws_id}").text
    assert script not in ws_page
    rows = list(csv.DictReader(io.StringIO(client.get(f"/runs/{run_id}/summary.csv").text)))
    names = {r["moment"]: r["name"] for r in rows}
    assert names["invitation"] == "'=HYPERLINK(1)"
    assert names["appointment"] == script  # not a formula: kept as it is in a CSV
    # a workspace name is data too
    evil = client.post("/workspaces", json={"name": script}).json()
    assert script not in client.get(f"/workspaces/{evil['id']}").text
    assert script not in client.get("/").text


@pytest.mark.filterwarnings("ignore::keymoments.errors.KeymomentsWarning")
def test_what_if_and_plan(finished: tuple[TestClient, str, str, dict[str, Any]]) -> None:
    client, _, run_id, _ = finished
    try:
        from keymoments.portfolio import optimise, what_if
    except ImportError:
        reply = client.post(f"/runs/{run_id}/what-if", json={"intervention": []})
        assert reply.status_code == 400
        assert "portfolio" in reply.json()["error"]["message"]
        assert 'id="what-if"' not in client.get(f"/runs/{run_id}").text
        return
    ids = [i.id for i in parse_service(service_yaml()).interventions]
    reply = client.post(f"/runs/{run_id}/what-if", json={"intervention": ids[:1]})
    assert reply.status_code == 200, reply.text
    result = client.app.state.store  # type: ignore[attr-defined]
    from keymoments.web.routes.runs import _result

    fitted = _result(result, result.run(run_id))
    assert reply.json()["result"] == json.loads(
        json.dumps(what_if(fitted, interventions=tuple(ids[:1])).to_dict())
    )
    plan = client.post(f"/runs/{run_id}/plan", json={"budget": 25000, "uncertainty": False})
    assert plan.status_code == 200, plan.text
    direct = optimise(fitted, budget=25000, uncertainty=False).to_dict()
    assert plan.json()["result"]["chosen"] == direct["chosen"]
    assert plan.json()["result"]["cost"] <= 25000
    html = client.post(f"/runs/{run_id}/what-if", data={"intervention": ids[:1]})
    assert html.status_code == 200 and "<table" in html.text
    bad = client.post(f"/runs/{run_id}/what-if", json={"intervention": ["teleport"]})
    assert bad.status_code == 422
    assert "teleport" in bad.json()["error"]["message"]


def test_every_stage_is_reported_to_the_progress_callback(demo_files: dict[str, Path]) -> None:
    """What the worker relays: every stage, started and ended, in order (none skipped)."""
    calls: list[tuple[str, int, int]] = []
    keymoments.analyse(
        keymoments.load_service(demo_files["service"]),
        events=demo_files["events"],
        cases=demo_files["cases"],
        bootstrap=20,
        progress=lambda stage, done, total: calls.append((stage, done, total)),
    )
    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages[:3] == ["read", "summarise", "bootstrap"]
    for stage in stages:
        mine = [(done, total) for s, done, total in calls if s == stage]
        assert mine[0][0] == 0 and mine[-1][0] == mine[-1][1] > 0, (stage, mine)
