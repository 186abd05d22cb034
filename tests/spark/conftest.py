"""One local Spark session for every Spark test (starting one takes 6–7 s).

The tests in this folder are marked ``xdist_group("spark")``, so pytest-xdist
runs them all on one worker, which starts the session once. Beyond local
mode, a standalone cluster and a Spark Connect server are started for the
module that uses them (``spark_processes``) and stopped after it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from spark_processes import CannotStart, ConnectServer, StandaloneCluster

from keymoments.data.engine import Engine


@pytest.fixture(scope="session")
def spark() -> Iterator[Engine]:
    engine = Engine("spark", threads=2)
    engine.session.sparkContext.setLogLevel("ERROR")
    yield engine
    engine.close()
    engine.session.stop()


@pytest.fixture(scope="session")
def duck() -> Engine:
    return Engine("duckdb")


@pytest.fixture(scope="module")
def standalone_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    """A standalone master and two workers, started here and stopped after the module."""
    try:
        cluster = StandaloneCluster(tmp_path_factory.mktemp("spark-standalone"))
    except CannotStart as exc:
        pytest.skip(f"cannot start a standalone Spark cluster here: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def connect_remote(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server on a local master; its ``sc://`` address for ``SPARK_REMOTE``."""
    try:
        server = ConnectServer(tmp_path_factory.mktemp("spark-connect"))
    except CannotStart as exc:
        pytest.skip(f"cannot start a Spark Connect server here: {exc}")
    yield server.remote
    server.stop()
