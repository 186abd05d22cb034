"""The monitor page in a real browser (Debian's chromium): its charts drawn, no script errors."""

from __future__ import annotations

import time
from pathlib import Path

from tests.web.test_browser import _shots, browser, server  # noqa: F401 (fixtures)

from keymoments.monitoring import simulate_rollout
from keymoments.monitoring.planted import _MODEL


def test_the_monitor_page_draws_its_charts(
    server: str,  # noqa: F811
    browser: object,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    ex = simulate_rollout(weeks=36, cases_per_week=250, seed=9)
    ex.events.to_csv(tmp_path / "events.csv", index=False)
    ex.cases.to_csv(tmp_path / "cases.csv", index=False)
    model = _MODEL.format(effect=-0.4, effect_lo=-0.6, effect_hi=-0.2, date=ex.truth["change_date"])
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    api = context.request
    json = {"accept": "application/json"}
    ws = api.post(f"{server}/workspaces", data={"name": "Clinic"}, headers=json).json()
    for kind in ("events", "cases"):
        upload = api.post(
            f"{server}/workspaces/{ws['id']}/uploads",
            multipart={
                "kind": kind,
                "file": {
                    "name": f"{kind}.csv",
                    "mimeType": "text/csv",
                    "buffer": (tmp_path / f"{kind}.csv").read_bytes(),
                },
            },
            headers=json,
        )
        assert upload.status == 201, upload.text()
    saved = api.post(
        f"{server}/workspaces/{ws['id']}/model",
        data=model,
        headers={"content-type": "application/yaml", **json},
    )
    assert saved.ok, saved.text()
    run_id = api.post(
        f"{server}/workspaces/{ws['id']}/runs", data={"bootstrap": 0}, headers=json
    ).json()["id"]
    deadline = time.monotonic() + 240
    while api.get(f"{server}/runs/{run_id}/status.json").json()["status"] != "done":
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.5)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/runs/{run_id}")
    page.click("#monitor-link")
    expect(page.locator("#monitor-headline .verdict")).to_contain_text("delivered", timeout=120_000)
    for name in ("changes", "moments", "outcomes", "key"):
        chart = page.locator(f'figure[data-chart="chart-monitor-{name}"]')
        expect(chart.locator("svg").first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(_shots(tmp_path) / "web-monitor.png"), full_page=True)
    assert not errors, errors
    context.close()
