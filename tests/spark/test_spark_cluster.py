"""Beyond one process: a standalone cluster and Spark Connect give DuckDB's figures.

Each analysis runs the command line in a process of its own (one Python
process holds one Spark session, and these tests' local session is already
running): ``--spark-master spark://...`` against a master and two workers,
and ``SPARK_REMOTE=sc://...`` against a Connect server, both started by the
fixtures from the pyspark package. Every figure of the JSON result equals
DuckDB's to 1e-12, and Spark's console progress bars stay off the terminal.
One demo each (the cluster reads the health check's CSV files itself; the
car purchase, with its survey, goes through Connect): every Spark query is a
job scheduled across processes, so a run takes minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from spark_processes import StandaloneCluster
from tests.spark.test_spark_analysis import assert_same as assert_same_as_local
from typer.testing import CliRunner

import keymoments
from keymoments.cli import app

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.slow]

BOOT = 10


def assert_same(a: Any, b: Any) -> None:
    """The Spark analyses' check, held to 1e-12 here."""
    assert_same_as_local(a, b, tol=1e-12)


def _duckdb(folder: Path) -> dict[str, Any]:
    out = folder / "duckdb.json"
    args = ["analyse", str(folder / "service.yaml"), "--bootstrap", str(BOOT)]
    done = CliRunner().invoke(app, [*args, "--json", str(out), "--quiet"])
    assert done.exit_code == 0, done.output
    return dict(json.loads(out.read_text()))


def _spark(folder: Path, extra: list[str], env: dict[str, str]) -> tuple[dict[str, Any], str]:
    """The command line on Spark in its own process: the JSON result and what it printed."""
    out = folder / "spark.json"
    src = str(Path(keymoments.__file__).resolve().parents[1])
    env = {
        **os.environ,
        **env,
        "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")]),
    }
    args = [sys.executable, "-m", "keymoments", "analyse", str(folder / "service.yaml")]
    args += ["--engine", "spark", *extra, "--bootstrap", str(BOOT), "--json", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1800)
    printed = done.stdout + done.stderr
    assert done.returncode == 0, printed[-3000:]
    return dict(json.loads(out.read_text())), printed


def _example(name: str, folder: Path) -> Path:
    keymoments.examples.write_example(name, folder, n_cases=400, seed=2)
    return folder


def test_standalone_cluster_gives_duckdbs_figures(
    standalone_cluster: StandaloneCluster, tmp_path: Path
) -> None:
    folder = _example("health-check", tmp_path)
    master = ["--spark-master", standalone_cluster.url]
    doc, printed = _spark(folder, master, standalone_cluster.client_env)
    assert_same(_duckdb(folder), doc)
    assert "[Stage" not in printed, printed[-2000:]


def test_spark_connect_gives_duckdbs_figures(connect_remote: str, tmp_path: Path) -> None:
    folder = _example("car-purchase", tmp_path)
    doc, printed = _spark(folder, [], {"SPARK_REMOTE": connect_remote})
    assert_same(_duckdb(folder), doc)
    assert "[Stage" not in printed, printed[-2000:]
