"""`keymoments themes`: the codebook's themes, suggestions, JSON, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from planted_comments import generate, service
from typer.testing import CliRunner

from keymoments.cli import app


def _write(tmp_path: Path, codebook: bool) -> tuple[Path, Path]:
    _, cases = generate(3000, seed=2)
    cases.to_csv(tmp_path / "cases.csv", index=False)
    model = service(codebook=codebook).model_dump(mode="json", exclude_none=True)
    path = tmp_path / "service.yaml"
    path.write_text(yaml.safe_dump(model, sort_keys=False), encoding="utf-8")
    return path, tmp_path / "cases.csv"


def test_themes_with_a_codebook(tmp_path: Path) -> None:
    model, cases = _write(tmp_path, codebook=True)
    out = tmp_path / "themes.json"
    res = CliRunner().invoke(app, ["themes", str(model), "--cases", str(cases), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "What people say" in res.output and "Getting there" in res.output
    doc = json.loads(out.read_text())
    assert [t["id"] for t in doc["themes"]] == [
        "transport",
        "unwell",
        "seen",
        "doctor",
        "breakdown",
    ]
    assert doc["sources"][0]["blank"] > 0 and doc["suggestions"] == []


def test_themes_suggest_writes_pasteable_entries(tmp_path: Path) -> None:
    model, cases = _write(tmp_path, codebook=False)
    out = tmp_path / "themes.json"
    args = ["themes", str(model), "--cases", str(cases), "--suggest", "6", "--json", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "Suggested themes" in res.output
    suggestions = json.loads(out.read_text())["suggestions"]
    assert len(suggestions) == 6
    assert set(suggestions[0]) >= {"terms", "share", "examples", "codebook"}
    # the entries paste into the model as they are, and the model then codes them
    entries = "\n".join(s["codebook_yaml"] for s in suggestions)
    doc = yaml.safe_load(model.read_text())
    doc["themes"] = yaml.safe_load(entries)
    model.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    res = CliRunner().invoke(app, ["themes", str(model), "--cases", str(cases), "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert len(json.loads(out.read_text())["themes"]) == 6


def test_user_mistakes_exit_2_with_a_message(tmp_path: Path) -> None:
    model, cases = _write(tmp_path, codebook=True)
    res = CliRunner().invoke(app, ["themes", str(model)])
    assert res.exit_code == 2 and "no cases table" in res.output
    (tmp_path / "other.csv").write_text("case_id,text\na,bus\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["themes", str(model), "--cases", str(tmp_path / "other.csv")])
    assert res.exit_code == 2
    assert "no column 'worries_text'" in res.output and "Traceback" not in res.output
    doc = yaml.safe_load(model.read_text())
    doc.pop("themes")
    doc.pop("comments")
    model.write_text(yaml.safe_dump(doc), encoding="utf-8")
    res = CliRunner().invoke(app, ["themes", str(model), "--cases", str(cases)])
    assert res.exit_code == 2 and "declares no comments" in res.output
    res = CliRunner().invoke(app, ["themes", str(model), "--cases", str(cases), "--suggest", "0"])
    assert res.exit_code == 2
