"""``--html`` and ``--pdf`` on the command line, and the demo's report."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from keymoments import examples
from keymoments.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hc")
    return examples.write_example("health-check", folder, n_cases=2000, seed=2)["service"]


def test_analyse_writes_html_and_pdf(service: Path, tmp_path: Path) -> None:
    html, pdf = tmp_path / "out" / "report.html", tmp_path / "out" / "report.pdf"
    res = runner.invoke(
        app,
        [
            "analyse",
            str(service),
            "--bootstrap",
            "20",
            "-q",
            "--html",
            str(html),
            "--pdf",
            str(pdf),
        ],
    )
    assert res.exit_code == 0, res.output
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "Attend the check appointment" in html.read_text(encoding="utf-8")
    assert pdf.read_bytes().startswith(b"%PDF-")
    flat = res.output.replace("\n", "")
    assert str(html) in flat and str(pdf) in flat


@pytest.mark.parametrize("flag", ["--html", "--pdf"])
def test_report_to_a_folder_is_exit_2_before_the_analysis(
    service: Path, tmp_path: Path, flag: str
) -> None:
    res = runner.invoke(app, ["analyse", str(service), "--bootstrap", "5", flag, str(tmp_path)])
    assert res.exit_code == 2
    assert f"cannot write the report to {tmp_path}: it is a folder" in res.output.replace("\n", "")
    assert "Key for the user" not in res.output  # it stopped before analysing
    assert "Traceback" not in res.output


def test_report_under_a_file_is_exit_2(service: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "plain.txt"
    blocker.write_text("not a folder")
    target = blocker / "report.html"
    res = runner.invoke(app, ["analyse", str(service), "--bootstrap", "5", "--html", str(target)])
    assert res.exit_code == 2
    assert f"cannot write the report to {target}: cannot make folder" in res.output.replace(
        "\n", ""
    )


def test_demo_writes_the_report_and_prints_its_path(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    res = runner.invoke(app, ["demo", "--out", str(out), "--cases", "1500", "--bootstrap", "10"])
    assert res.exit_code == 0, res.output
    report = out / "report.html"
    assert "Attend the check appointment" in report.read_text(encoding="utf-8")
    assert str(report) in res.output.replace("\n", "")
