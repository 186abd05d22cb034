"""End to end in a real browser: Debian's chromium driven by Playwright.

The server runs on a free loopback port in a thread; the browser uploads the
health-check demo data, saves the model, runs the analysis, sees the
appointment named as a key moment and downloads the report.

Chromium is Debian's (``apt-get install chromium``; the README's test command
installs it); Playwright's own browser downloads are never used. Without it
these tests fail under CI (``CI`` set) and are skipped, with the reason,
elsewhere. Set ``KEYMOMENTS_SCREENSHOTS=DIR`` to keep the screenshots
(``docs/images`` holds the ones in the docs).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from tests.web.conftest import BOOTSTRAP, service_yaml

from keymoments.web import create_app

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    """Debian's chromium, or fail (in CI) / skip (elsewhere) saying how to get it."""
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        reason = (
            "Debian's chromium is not installed (apt-get install -y chromium); "
            "the browser tests need it"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread."""
    app = create_app(tmp_path_factory.mktemp("served"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise AssertionError("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=15)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _shots(tmp_path: Path) -> Path:
    target = os.environ.get("KEYMOMENTS_SCREENSHOTS")
    folder = Path(target) if target else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_upload_run_see_the_key_moment_download_the_report(
    server: str, browser: object, demo_files: dict[str, Path], tmp_path: Path
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    shots = _shots(tmp_path)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(server + "/")
    page.screenshot(path=str(shots / "web-home.png"), full_page=True)
    page.fill("input[name=name]", "Health checks, north locality")
    page.get_by_role("button", name="Create workspace").click()
    expect(page.locator("h1")).to_have_text("Health checks, north locality")

    for kind in ("events", "cases"):
        page.select_option("select[name=kind]", kind)
        page.set_input_files("input[name=file]", str(demo_files[kind]))
        page.click("#uploads button[type=submit]")
        expect(page.locator("#uploads table")).to_contain_text(f"{kind}.csv")

    page.get_by_role("link", name="Define the service").click()
    page.fill("textarea[name=yaml]", service_yaml())
    page.get_by_role("button", name="Save the YAML").click()
    expect(page.locator(".ok-note")).to_have_text("The model loads.")
    page.get_by_role("link", name="Edit the model").click()
    expect(page.locator("input[name=moment-5-id]")).to_have_value("appointment")
    page.screenshot(path=str(shots / "web-model-form.png"), full_page=True)
    page.go_back()
    page.screenshot(path=str(shots / "web-workspace.png"), full_page=True)

    page.fill("input[name=bootstrap]", str(BOOTSTRAP))
    page.click("#run-button")
    expect(page.locator("#headline")).to_be_visible(timeout=240_000)
    keys = page.locator("#headline .key-line")
    expect(keys.nth(0)).to_contain_text("Key for the user")
    expect(keys.nth(0).locator(".key-moment")).to_have_text(["Attend the check appointment"])
    expect(keys.nth(1).locator(".key-moment")).to_have_text(["Attend the check appointment"])
    # the charts are drawn by the Vega shipped in the package (no CDN)
    expect(page.locator("figure.chart.drawn svg").first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(shots / "web-results.png"), full_page=True)

    with page.expect_download() as pdf:
        page.click("#pdf-link")
    pdf_path = tmp_path / "report.pdf"
    pdf.value.save_as(pdf_path)
    assert pdf_path.read_bytes().startswith(b"%PDF")
    html_url = page.get_by_role("link", name="HTML report").get_attribute("href")
    report = context.request.get(server + str(html_url))
    assert report.ok
    assert "Attend the check appointment" in report.text()

    if page.locator("#what-if").count():
        page.locator("#what-if input[name=intervention]").first.check()
        page.get_by_role("button", name="Show what it buys").click()
        expect(page.locator("main table")).to_be_visible()
        page.screenshot(path=str(shots / "web-what-if.png"), full_page=True)

    assert not dialogs
    assert not errors, errors
    context.close()


def test_a_script_in_a_name_stays_text(server: str, browser: object, tmp_path: Path) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(server + "/")
    name = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    page.fill("input[name=name]", name)
    page.get_by_role("button", name="Create workspace").click()
    expect(page.locator("h1")).to_have_text(name)
    # a wrong file is refused in the page, with the reader's message
    bad = tmp_path / "minutes.docx"
    bad.write_bytes(b"PK\x03\x04 not a table")
    page.set_input_files("input[name=file]", str(bad))
    page.click("#uploads button[type=submit]")
    expect(page.locator(".upload-note")).to_contain_text(
        "minutes.docx: not a file type keymoments reads"
    )
    page.goto(server + "/")
    expect(page.locator("table.list")).to_contain_text(name)
    assert dialogs == []
    page.close()


def test_the_api_page_draws_under_the_apps_own_policy(server: str, browser: object) -> None:
    # /api loaded Swagger UI from a CDN, which the app's policy blocks: a blank page
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
    elsewhere: list[str] = []
    page.on(
        "request",
        lambda r: (
            elsewhere.append(r.url) if not r.url.startswith((server, "data:", "blob:")) else None
        ),
    )
    page.goto(server + "/api")
    expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
    assert page.locator(".opblock").count() >= 10
    expect(page.locator("#swagger-ui")).to_contain_text("/workspaces/{workspace_id}/uploads")
    assert refused == [] and elsewhere == []
    page.close()


def test_go_back_on_an_error_page_is_a_link_that_works(server: str, browser: object) -> None:
    # a javascript: link, which the page's own policy blocks
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_page()
    page.goto(server + "/")
    page.goto(server + "/runs/0123456789ab", referer=server + "/?page=1")
    expect(page.locator("h1")).to_have_text("Not found")
    assert "javascript:" not in page.content()
    page.get_by_role("link", name="Go back").click()
    expect(page).to_have_url(server + "/?page=1")
    page.close()


def test_a_run_is_cancelled_from_its_page(
    server: str, browser: object, demo_files: dict[str, Path]
) -> None:
    import httpx2
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    with httpx2.Client(base_url=server, headers={"accept": "application/json"}) as api:
        ws = api.post("/workspaces", json={"name": "To cancel"}).json()
        for kind in ("events", "cases"):
            with demo_files[kind].open("rb") as fh:
                sent = api.post(
                    f"/workspaces/{ws['id']}/uploads",
                    data={"kind": kind},
                    files={"file": (f"{kind}.csv", fh, "text/csv")},
                )
            assert sent.status_code == 201, sent.text
        saved = api.post(
            f"/workspaces/{ws['id']}/model",
            content=service_yaml().encode(),
            headers={"content-type": "application/yaml"},
        )
        assert saved.status_code == 200, saved.text
        run = api.post(f"/workspaces/{ws['id']}/runs", json={"bootstrap": 20_000}).json()
    page = browser.new_page()
    page.on("dialog", lambda d: d.accept())
    page.goto(f"{server}/runs/{run['id']}")
    page.get_by_role("button", name="Cancel the run").click()
    expect(page.locator("h1")).to_have_text("The run was cancelled", timeout=60_000)
    expect(page.get_by_role("button", name="Run again")).to_be_visible()
    page.close()
