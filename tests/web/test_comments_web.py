"""What people say in the web app: the run page's quotes, the section's CSV, the model form."""

from __future__ import annotations

from pathlib import Path

import yaml
from fastapi.testclient import TestClient
from tests.web.conftest import service_yaml, start_run, wait_for

from keymoments.web import create_app
from keymoments.web.modelform import form_to_yaml, yaml_to_form

CODEBOOK = """themes:
  - {id: heard_transport, name: Getting there (heard), comments: worries,
     patterns: [bus, taxi, lift]}
  - {id: heard_unwell, name: Too unwell (heard), comments: worries,
     patterns: [unwell, ill, poorly]}
"""


def test_run_page_shows_the_key_moments_quotes(tmp_path: Path, demo_files: dict[str, Path]) -> None:
    with TestClient(create_app(tmp_path / "data")) as client:
        _, run_id = start_run(client, demo_files, service_yaml() + CODEBOOK)
        status = wait_for(client, run_id)
        assert status["status"] == "done", status["message"]
        doc = client.get(f"/runs/{run_id}/result.json").json()
        heard = [b for b in doc["barriers"] if b["source"] == "comments"]
        assert [b["id"] for b in heard] == ["heard_transport", "heard_unwell"]
        quote = doc["comments"]["themes"][0]["quotes"][0]["text"]
        page = client.get(f"/runs/{run_id}").text
        assert 'id="quotes"' in page and "Getting there (heard)" in page
        assert quote.replace("'", "&#39;") in page
        csv_reply = client.get(f"/runs/{run_id}/sections/comments.csv")
        assert csv_reply.status_code == 200 and "heard_transport" in csv_reply.text


def test_saving_the_form_keeps_the_comments_and_codebook() -> None:
    text = service_yaml() + CODEBOOK
    form = yaml_to_form(text)
    fields = dict(form["fields"])
    fields["base_yaml"] = text
    for group, rows in form["rows"].items():
        for i, row in enumerate(rows):
            for key, value in row.items():
                fields[f"{group}-{i}-{key}"] = value
    saved = yaml.safe_load(form_to_yaml(fields))
    original = yaml.safe_load(text)
    assert saved["comments"] == original["comments"]
    assert saved["themes"] == original["themes"]
