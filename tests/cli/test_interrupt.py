"""Ctrl-C on the command line: exit 130 with one line, each output whole or absent.

DuckDB answers SIGINT during a query with ``RuntimeError("Query interrupted")``
rather than Python's ``KeyboardInterrupt``; it used to end ``analyse`` with a
traceback and exit status 1 whenever the signal landed in a query (4 tries in
10). The real command is run on a log large enough that its reading and
summarising take a few seconds, and interrupted at a spread of moments.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keymoments import examples

pytestmark = pytest.mark.slow

# seconds after the command says it has started reading
DELAYS = (0.0, 0.15, 0.3, 0.6, 1.0, 1.5, 2.5, 4.0)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("large")
    return examples.write_example("health-check", folder, n_cases=40_000, seed=1)


def _whole(path: Path) -> None:
    """The output parses to the end: written completely, or it would not be there."""
    if path.suffix == ".json":
        json.loads(path.read_text(encoding="utf-8"))
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows and all(len(r) == len(rows[0]) for r in rows), path


@pytest.mark.parametrize("delay", DELAYS)
def test_ctrl_c_exits_130_quietly_with_outputs_whole_or_absent(
    large: dict[str, Path], tmp_path: Path, delay: float
) -> None:
    out = tmp_path / "out"
    command = [sys.executable, "-m", "keymoments", "analyse", str(large["service"])]
    command += ["--json", str(out / "result.json"), "--csv", str(out / "summary.csv")]
    command += ["--bootstrap", "100"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()  # "Reading…": past Python's imports, into the work
    assert "Reading" in first, first
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=300)
    stderr = first + rest
    assert "Traceback" not in stderr, stderr
    if proc.returncode == 0:  # it finished before the signal: nothing to check
        return
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "interrupted", stderr
    if out.exists():
        for path in out.iterdir():
            assert not path.name.endswith(".part"), path
            _whole(path)
