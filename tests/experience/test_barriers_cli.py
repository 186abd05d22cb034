"""`keymoments analyse --barriers-by-segment`: per-segment barriers in the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from planted_barriers import generate, service
from typer.testing import CliRunner

from keymoments.cli import app


def test_barriers_by_segment_from_the_command_line(tmp_path: Path) -> None:
    events, cases = generate(4000, seed=8)
    events.to_csv(tmp_path / "events.csv", index=False)
    cases.to_csv(tmp_path / "cases.csv", index=False)
    model = service().model_dump(mode="json", exclude_none=True)
    (tmp_path / "service.yaml").write_text(yaml.safe_dump(model), encoding="utf-8")
    out = tmp_path / "out.json"
    args = [
        "analyse", str(tmp_path / "service.yaml"),
        "--events", str(tmp_path / "events.csv"), "--cases", str(tmp_path / "cases.csv"),
        "--bootstrap", "10", "--json", str(out),
    ]  # fmt: skip
    res = CliRunner().invoke(app, [*args, "--barriers-by-segment"])
    assert res.exit_code == 0, res.output
    assert "differs by segment" in res.output
    barriers = json.loads(out.read_text())["barriers"]
    assert {row["segment"] for row in barriers[0]["by_segment"]} == {"young", "old"}
    assert barriers[0]["segment_test"]["df"] == 1
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["barriers"][0]["segment_test"] is None
