"""The run, plan and what-if pages say what the report says, in the report's words.

Names, not ids; money in the model's currency; the plan's return on investment,
payback, Monte Carlo spread and runner-up; after a break. One finished run of the
health-check demo (the web tests' ``finished`` fixture).
"""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

from fastapi.testclient import TestClient
from tests.web.conftest import service_yaml

from keymoments.model import parse_service

Finished = tuple[TestClient, str, str, dict[str, Any]]


def _text(page: str) -> str:
    """The words a reader sees: no scripts (chart specs), no tags."""
    page = re.sub(r"<script.*?</script>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html_lib.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_the_run_page_shows_the_reports_sections(finished: Finished) -> None:
    client, _, run_id, _ = finished
    page = client.get(f"/runs/{run_id}").text
    for section in ("headline", "journey", "gearing", "alignment", "portfolio", "data", "method"):
        assert f'id="report-{section}"' in page, section
    text = _text(page)
    assert "After a break at a key moment: what people do next" in text
    assert "Key for the user: Attend the check appointment." in text
    # money in the model's currency, ids and column names nowhere in the words
    assert parse_service(service_yaml()).currency == "GBP"
    assert re.search(r"£\d{1,3}(,\d{3})+ a year if it never broke", text)
    for raw in ("relative_weight", "or_lo", "p_value", "sweet_spot", "sms_reminder"):
        assert raw not in text, raw
    # each chart once, drawn by the page's own script from the report's spec
    assert page.count('data-vl-spec="spec-journey-map"') == 1


def test_the_plan_page_shows_the_plan_as_the_report_does(finished: Finished) -> None:
    client, _, run_id, _ = finished
    service = parse_service(service_yaml())
    reply = client.post(f"/runs/{run_id}/plan", data={"budget": "25000", "uncertainty": "on"})
    assert reply.status_code == 200, reply.text
    doc = client.post(
        f"/runs/{run_id}/plan",
        json={"budget": 25000},
        headers={"accept": "application/json"},
    ).json()["result"]
    text = _text(reply.text)
    names = {i.id: i.name for i in service.interventions}
    for chosen in doc["chosen"]:
        assert names[chosen] in text and f"Chosen: {chosen}" not in text
    assert "within a budget of £25,000" in text
    assert f"paying back in {doc['payback_months']:.1f} months" in text
    assert f"a return on investment of {doc['roi']:.1f} times the cost" in text
    assert "How sure: in " in text and "simulations drawing each effect from its range" in text
    assert "The runner-up: " in text
    for chart in ("portfolio-plot", "portfolio-plot-frontier", "portfolio-plot-uncertainty"):
        assert f'data-vl-spec="spec-{chart}"' in reply.text


def test_a_what_if_is_said_with_names(finished: Finished) -> None:
    client, _, run_id, _ = finished
    service = parse_service(service_yaml())
    first = service.interventions[0]
    reply = client.post(f"/runs/{run_id}/what-if", data={"intervention": [first.id]})
    assert reply.status_code == 200
    text = _text(reply.text)
    assert f"What if: {first.name}. It costs £" in text
    assert f"what if {first.id}" not in text.lower()


def test_the_favicon_is_served(client: TestClient) -> None:
    reply = client.get("/favicon.ico")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("image/svg+xml")
