"""Security: the token on every request, the login cookie, same-origin posts, the host rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from keymoments.cli import app as cli
from keymoments.cli.serve import is_loopback
from keymoments.web import create_app
from keymoments.web.middleware import SESSION_COOKIE

TOKEN = "s3cret-token"


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
