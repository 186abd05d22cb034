"""The service-model form: blank rows ignored, errors in the form's words, saves that round-trip.

In process (the form's fields as a browser sends them) and in chromium (the
real form, its drop-downs' defaults and all).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.web import test_browser
from tests.web.conftest import service_yaml, upload

from keymoments import examples
from keymoments.errors import ModelError
from keymoments.model import parse_service
from keymoments.web.modelform import ROW_FIELDS, form_error, form_to_yaml, yaml_to_form


def browser_fields(text: str) -> dict[str, str]:
    """What the form sends when opened on ``text`` and saved unchanged.

    Every row, the blank ones too, sends every input; a drop-down sends its
    selected option, which for a blank row is the first one ("both", "provider").
    """
    form = yaml_to_form(text)
    fields: dict[str, str] = {"source": "form", "base_yaml": text, **form["fields"]}
    first_choice = {"perspectives": "both", "perspective": "provider"}
    for group, rows in form["rows"].items():
        for i, row in enumerate(rows):
            for f in ROW_FIELDS[group]:
                fields[f"{group}-{i}-{f}"] = row[f] or first_choice.get(f, "")
    return fields


def _same(a: str, b: str) -> None:
    left = parse_service(a).model_dump(exclude={"source"})
    right = parse_service(b).model_dump(exclude={"source"})
    assert left == right


@pytest.mark.parametrize("name", ["health-check", "car-purchase"])
def test_a_built_in_model_saved_unchanged_through_the_form_is_the_same_model(name: str) -> None:
    text = examples.service_path(name).read_text(encoding="utf-8")
    fields = browser_fields(text)
    # the blank rows are there, with their drop-downs' defaults
    assert fields["moment-" + str(len(parse_service(text).moments)) + "-perspectives"] == "both"
    _same(text, form_to_yaml(fields))


def test_settings_without_a_field_survive_a_save() -> None:
    text = """version: 1
name: Clinic
currency: GBP
memory: [visit]
moments:
  - id: visit
    reached: [attended, dna]
    broken: [dna]
  - id: results
    reached: [results_given]
    broken_if: {waited_over: 7d, since: [attended]}
outcomes:
  - {id: seen, perspective: provider, reached: [seen], value: 0.5, value_column: amount}
changes:
  - {id: sms, date: 2024-03-01, moments: [visit]}
"""
    saved = form_to_yaml(browser_fields(text))
    _same(text, saved)
    service = parse_service(saved)
    assert service.currency == "GBP"
    assert service.moments[1].broken_if is not None
    assert service.outcomes[0].value_column == "amount"


def test_blank_rows_with_their_drop_down_defaults_are_ignored() -> None:
    fields = {
        "name": "Clinic",
        "moment-0-id": "visit",
        "moment-0-reached": "attended",
        "moment-1-id": "",
        "moment-1-perspectives": "both",
        "moment-2-perspectives": "user",  # a choice alone does not make a row
        "outcome-0-id": "",
        "outcome-0-perspective": "provider",
    }
    service = parse_service(form_to_yaml(fields))
    assert [m.id for m in service.moments] == ["visit"]
    assert service.outcomes == []


@pytest.mark.parametrize(
    ("field", "expected", "invalid"),
    [
        ("moments[1].id", "Moments, row 2, id: bad", "moment-1-id"),
        ("moments[0].reached", "Moments, row 1, reached by: bad", "moment-0-reached"),
        ("outcomes[2].perspective", "Outcomes, row 3, for: bad", "outcome-2-perspective"),
        ("interventions[0].effect_range", "Interventions, row 1, range from / to: bad",
         "intervention-0-effect_lo"),
        ("barriers[0]", "Barriers, row 1: bad", None),
        ("columns.case_id", "Columns of the events file, Case id: bad", "columns-case_id"),
        ("volume", "Service, Cases a year: bad", "volume"),
        (None, "bad", None),
    ],
)  # fmt: skip
def test_errors_are_named_by_the_forms_labels(
    field: str | None, expected: str, invalid: str | None
) -> None:
    assert form_error(ModelError("bad", file="service.yaml", line=14, field=field)) == (
        expected,
        invalid,
    )


def test_a_form_mistake_names_the_row_and_column_not_a_yaml_line(client: TestClient) -> None:
    ws = client.post("/workspaces", json={"name": "Clinic"}).json()
    fields = {
        "source": "form",
        "name": "Clinic",
        "moment-0-id": "visit",
        "moment-0-reached": "attended",
        "moment-0-perspectives": "both",
        "moment-1-perspectives": "both",  # blank row: skipped
        "moment-2-name": "Pay the bill",  # a name but no id
        "moment-2-perspectives": "both",
    }
    page = client.post(f"/workspaces/{ws['id']}/model", data=fields)
    assert page.status_code == 422
    assert "Moments, row 2, id:" in page.text
    assert "line " not in page.text.split('id="model-error">')[1].split("</p>")[0]
    assert 'name="moment-1-id"' in page.text and 'aria-invalid="true"' in page.text
    as_json = client.post(
        f"/workspaces/{ws['id']}/model", data=fields, headers={"accept": "application/json"}
    )
    assert as_json.status_code == 422
    assert as_json.json()["error"]["message"].startswith("Moments, row 2, id:")


def test_the_form_offers_the_logs_activities(
    client: TestClient, demo_files: dict[str, Path]
) -> None:
    ws = client.post("/workspaces", json={"name": "Clinic"}).json()
    assert upload(client, ws["id"], "events", demo_files["events"]).status_code == 201
    page = client.get(f"/workspaces/{ws['id']}/model").text
    options = page.split('<datalist id="activities">')[1].split("</datalist>")[0]
    for activity in ("appointment_attended", "appointment_dna", "check_completed"):
        assert f'value="{activity}"' in options
    assert 'list="activities"' in page


# -- in chromium ---------------------------------------------------------------------------

# the browser tests' server and chromium, shared
server = test_browser.server
browser = test_browser.browser


def test_in_chromium_a_saved_model_reopens_and_saves_unchanged(
    server: str, browser: Any, demo_files: dict[str, Path]
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server + "/")
    page.fill("input[name=name]", "Form round trip")
    page.get_by_role("button", name="Create workspace").click()
    page.select_option("select[name=kind]", "events")
    page.set_input_files("input[name=file]", str(demo_files["events"]))
    page.click("#uploads button[type=submit]")
    expect(page.locator("#uploads table")).to_contain_text("events.csv")
    page.get_by_role("link", name="Define the service").click()
    text = service_yaml()
    page.fill("textarea[name=yaml]", text)
    page.get_by_role("button", name="Save the YAML").click()
    expect(page.locator(".ok-note")).to_have_text("The model loads.")

    # re-open the form and save it as it is: blank rows and all
    page.get_by_role("link", name="Edit the model").click()
    expect(page.locator("#log-activities")).to_contain_text("appointment_attended")
    page.click("#save-form")
    expect(page.locator(".ok-note")).to_have_text("The model loads.")
    saved = page.request.get(page.url.rstrip("/") + "/service.yaml").text()
    _same(text, saved)

    # a row with a name but no id: the message names the form's row and column
    page.get_by_role("link", name="Edit the model").click()
    n = len(parse_service(text).moments)
    page.fill(f"input[name=moment-{n}-name]", "Pay the bill")
    page.click("#save-form")
    expect(page.locator("#model-error")).to_contain_text(f"Moments, row {n + 1}, id:")
    expect(page.locator("#model-error")).not_to_contain_text("line")
    expect(page.locator(f"input[name=moment-{n}-id]")).to_have_attribute("aria-invalid", "true")
    assert not errors, errors
    page.close()
