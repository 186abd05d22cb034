"""The terminal output at 100 columns: no line longer, no figure split or cut."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from typer.testing import CliRunner

from keymoments.cli import app
from keymoments.report.terminal import render_terminal
from keymoments.result import AnalysisResult

runner = CliRunner()


def _render(result: AnalysisResult, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), force_terminal=True, color_system=None)
    render_terminal(result, console)
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("name", ["health", "cars"])
def test_both_demos_fit_100_columns_with_every_figure_whole(
    name: str, request: pytest.FixtureRequest
) -> None:
    result: AnalysisResult = request.getfixturevalue(name)
    text = _render(result, 100)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert "…" not in text  # nothing cut short
    # every moment's reach and every interval of the moments table, whole on one line
    for m in result.moments:
        assert f"{m.reach:.1%}" in text, m.id
        for o in result.service.outcomes:
            imp = m.impact.get(o.id)
            if imp:
                lo, hi = imp["ci"]
                assert re.search(rf"\[{lo:.3f}, {hi:.3f}\]|\[0, 0\]|\[[-\d.,]+, [-\d.,]+\]", text)
    # what could not fit is named, not silently lost
    assert "not shown at this width: stage" in " ".join(text.split())
    wide = _render(result, 200)
    assert "not shown at this width" not in wide


def test_every_interval_of_the_barriers_table_stays_whole(health: AnalysisResult) -> None:
    text = _render(health, 100)
    for e in health.barriers.estimates:  # type: ignore[union-attr]
        lo, hi = e.odds_ratio_ci
        assert f"{e.odds_ratio:.2f} [{lo:.2f}, {hi:.2f}]" in text, e.id


def test_help_has_no_bool_labels_and_keeps_the_extra_name() -> None:
    for command in ("analyse", "init", "monitor", "plan", "themes", "demo", "serve"):
        res = runner.invoke(app, [command, "--help"])
        assert res.exit_code == 0, res.output
        assert "<bool>" not in res.output, command
        assert max(len(line) for line in res.output.splitlines()) <= 100
    res = runner.invoke(app, ["analyse", "--help"])
    assert "'keymoments[spark]'" in res.output
    assert "--drivers-by-segment / --no-drivers-by-segment" in res.output
