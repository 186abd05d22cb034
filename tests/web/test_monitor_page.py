"""The web app's monitor page: a finished run over time, as a page and as JSON."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import start_run, wait_for

from keymoments.monitoring import simulate_rollout
from keymoments.monitoring.planted import _MODEL
from keymoments.web import create_app


@pytest.fixture(scope="module")
def rollout_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, str]:
    folder = tmp_path_factory.mktemp("rollout")
    ex = simulate_rollout(weeks=36, cases_per_week=250, seed=9)
    ex.events.to_csv(folder / "events.csv", index=False)
    ex.cases.to_csv(folder / "cases.csv", index=False)
    # a name that would be markup if it were not escaped
    model = _MODEL.format(
        effect=-0.4, effect_lo=-0.6, effect_hi=-0.2, date=ex.truth["change_date"]
    ).replace("name: Text reminders go live", "name: '<b>Texts</b> go live'")
    files = {"events": folder / "events.csv", "cases": folder / "cases.csv"}
    with TestClient(create_app(tmp_path_factory.mktemp("app"))) as client:
        _, run_id = start_run(client, files, model, bootstrap=0)
        status = wait_for(client, run_id)
        assert status["status"] == "done", status["message"]
        yield client, run_id


def test_the_monitor_page_and_its_json(rollout_run: tuple[TestClient, str]) -> None:
    client, run_id = rollout_run
    run_page = client.get(f"/runs/{run_id}")
    assert f'href="/runs/{run_id}/monitor"' in run_page.text
    page = client.get(f"/runs/{run_id}/monitor")
    assert page.status_code == 200, page.text
    assert "&lt;b&gt;Texts&lt;/b&gt; go live" in page.text and "<b>Texts</b>" not in page.text
    assert "delivered" in page.text
    assert 'data-chart="chart-monitor-moments"' in page.text
    doc = client.get(f"/runs/{run_id}/monitor.json").json()
    assert doc["monitor"]["every"] == "week"
    assert doc["monitor"]["changes"][0]["verdict"] == "delivered"
    assert doc["data"]["files"][0]["file"] == "events.csv"  # as uploaded, not as stored
    months = client.get(f"/runs/{run_id}/monitor.json?every=month").json()
    assert months["monitor"]["every"] == "month"


def test_bad_period_and_unfinished_runs_are_4xx(
    rollout_run: tuple[TestClient, str], tmp_path: Path
) -> None:
    client, run_id = rollout_run
    reply = client.get(f"/runs/{run_id}/monitor.json?every=day")
    assert reply.status_code == 422
    assert "use week or month" in reply.json()["error"]["message"]
    assert client.get("/runs/000000000000/monitor.json").status_code == 404
