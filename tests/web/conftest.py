"""Shared fixtures of the web app tests: small demo data, an app, a finished run."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from keymoments import examples
from keymoments.web import create_app

N_CASES = 1500
BOOTSTRAP = 20


def service_yaml(name: str = "health-check") -> str:
    """The built-in model's text without its data line (data come from uploads)."""
    text = examples.service_path(name).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("data:")) + "\n"


@pytest.fixture(scope="session")
def demo_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The health-check example, small: events.csv, cases.csv, service.yaml."""
    return examples.write_example(
        "health-check", tmp_path_factory.mktemp("demo"), n_cases=N_CASES, seed=3
    )


def upload(client: TestClient, ws_id: str, kind: str, path: Path, name: str | None = None) -> Any:
    """Upload a file through the API; returns the response."""
    with path.open("rb") as fh:
        return client.post(
            f"/workspaces/{ws_id}/uploads",
            data={"kind": kind},
            files={"file": (name or path.name, fh, "application/octet-stream")},
            headers={"accept": "application/json"},
        )


def wait_for(client: TestClient, run_id: str, timeout: float = 180) -> dict[str, Any]:
    """Poll the status endpoint until the run ends; returns the last status."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(f"/runs/{run_id}/status.json").json()
        seen.append(status["stage"])
        if status["status"] in ("done", "failed", "cancelled"):
            status["stages_seen"] = seen
            return status
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s (stages {seen})")


def start_run(
    client: TestClient, files: dict[str, Path], model: str, bootstrap: int = BOOTSTRAP
) -> tuple[str, str]:
    """A workspace with the files and model; returns (workspace id, run id)."""
    ws = client.post("/workspaces", json={"name": "Health checks"}).json()
    assert upload(client, ws["id"], "events", files["events"]).status_code == 201
    if "cases" in files:
        assert upload(client, ws["id"], "cases", files["cases"]).status_code == 201
    reply = client.post(
        f"/workspaces/{ws['id']}/model",
        content=model.encode(),
        headers={"content-type": "application/yaml", "accept": "application/json"},
    )
    assert reply.status_code == 200, reply.text
    run = client.post(f"/workspaces/{ws['id']}/runs", json={"bootstrap": bootstrap})
    assert run.status_code == 201, run.text
    return ws["id"], run.json()["id"]


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """A fresh app over an empty data folder."""
    with TestClient(create_app(tmp_path / "data")) as c:
        yield c


@pytest.fixture(scope="module")
def finished(
    tmp_path_factory: pytest.TempPathFactory, demo_files: dict[str, Path]
) -> Iterator[tuple[TestClient, str, str, dict[str, Any]]]:
    """An app with one finished run of the demo data: (client, workspace, run, status)."""
    data_dir = tmp_path_factory.mktemp("app")
    with TestClient(create_app(data_dir)) as c:
        ws_id, run_id = start_run(c, demo_files, service_yaml())
        status = wait_for(c, run_id)
        assert status["status"] == "done", status["message"]
        c.app.state.data_dir_for_tests = data_dir  # type: ignore[attr-defined]
        yield c, ws_id, run_id, status
