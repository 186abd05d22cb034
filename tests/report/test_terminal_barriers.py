"""The terminal names the worries that drive the key moment's breaks, with a table."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import keymoments
from keymoments.report.terminal import render_terminal
from keymoments.report.terminal_barriers import barrier_headline


@pytest.fixture(scope="module")
def health():
    ex = keymoments.examples.load_health_check(n_cases=8000, seed=1)
    return keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=40)


def test_headline_names_the_planted_drivers_largest_first(health) -> None:
    (line,) = barrier_headline(health)
    assert line.startswith(
        "What stops 'Attend the check appointment': Worried about getting there ("
    )
    order = [line.index(name) for name in ("getting there", "too unwell", "a breakdown")]
    assert order == sorted(order)
    assert "being seen" not in line  # travels with `breakdown`, explains nothing itself
    assert "these together" in line


def test_terminal_shows_the_barriers_table(health) -> None:
    out = io.StringIO()
    render_terminal(health, Console(file=out, width=200))
    text = out.getvalue()
    assert "Barriers: share of each moment's breaks they explain [95% interval]" in text
    table = text.split("Barriers: share of each moment's breaks")[1]
    row = next(line for line in table.splitlines() if "Worried about getting there" in line)
    transport = health.barriers.estimate("transport")
    assert f"{transport.prevalence:.0%}" in row
    assert f"{transport.odds_ratio:.2f}" in row
