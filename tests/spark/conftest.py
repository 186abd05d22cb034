"""One local Spark session for every Spark test (starting one takes 6–7 s).

The tests in this folder are marked ``xdist_group("spark")``, so pytest-xdist
runs them all on one worker, which starts the session once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
