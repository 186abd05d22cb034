"""-q prints the files written and nothing else: no progress, no tables."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from keymoments import examples
from keymoments.cli import app

runner = CliRunner()


def test_quiet_analyse_prints_only_the_files_written(tmp_path: Path) -> None:
    files = examples.write_example("health-check", tmp_path, n_cases=1500, seed=2)
    out = tmp_path / "r.json"
    res = runner.invoke(
        app, ["analyse", str(files["service"]), "--bootstrap", "5", "--json", str(out), "-q"]
    )
    assert res.exit_code == 0, res.output
    assert " ".join(res.output.split()) == f"wrote JSON result: {out}"
    loud = runner.invoke(app, ["analyse", str(files["service"]), "--bootstrap", "5"])
    assert "Reading…" in loud.output and "Bootstrap…" in loud.output  # what -q removes
