"""Coverage-guided fuzzing of the pure-Python parsers with atheris (libFuzzer).

Not part of the test suite (atheris is not a dependency). For a longer
campaign than the hypothesis tests' fixed budget:

    pip install atheris
    cd tests/robustness && mkdir -p fuzz-found
    python fuzz_atheris.py model -max_total_time=600 fuzz-found corpus
    python fuzz_atheris.py xes -max_total_time=600 fuzz-found corpus
    python fuzz_atheris.py numbers -max_total_time=600 fuzz-found corpus
    python fuzz_atheris.py markup -max_total_time=600 fuzz-found corpus

libFuzzer keeps the inputs it finds interesting in the first folder
(``fuzz-found``, create it first) and reads the corpus as seeds.
``model`` fuzzes the service-model loader (PyYAML and the checks around it),
``xes`` the XES streamer and the format sniffer, ``numbers`` how a column's
text is read as a number (NaN, infinities and text must come out unreadable,
never as a number), ``markup`` the escaping of names on their way to the
terminal (every name must print as typed). A finding is any exception
other than ModelError/DataError, or a slow input; libFuzzer writes it to
``crash-*`` or ``slow-unit-*``. Add what it finds to the corpus. The engine's
own CSV, Parquet and JSON readers are C++ and not instrumented here; the
hypothesis tests cover them.
"""

from __future__ import annotations

import contextlib
import math
import sys
import tempfile
from pathlib import Path

import atheris

# The heavy libraries are imported first so that only keymoments and the
# parsers are instrumented (instrumenting pandas takes minutes).
import ibis
import numpy  # noqa: F401
import pandas  # noqa: F401
import pyarrow  # noqa: F401
import pydantic  # noqa: F401

with atheris.instrument_imports(include=["keymoments", "yaml", "xml", "rich"]):
    from rich.text import Text

    from keymoments.data.engine import connect
    from keymoments.data.sniff import sniff
    from keymoments.data.xes import stream_xes
    from keymoments.errors import DataError, ModelError
    from keymoments.journey.summaries import number_or_null
    from keymoments.model import parse_service
    from keymoments.report.markup import escape

FOLDER = Path(tempfile.mkdtemp(prefix="keymoments-fuzz-"))


def model(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return  # load_service refuses it before parsing
    with contextlib.suppress(ModelError):
        parse_service(text, file="fuzz.yaml")


def xes(data: bytes) -> None:
    for name in ("fuzz.xes", "fuzz.csv"):
        path = FOLDER / name
        path.write_bytes(data)
        with contextlib.suppress(DataError):
            sniff(path)
            if name.endswith(".xes"):
                stream_xes(path, FOLDER)


ENGINE = None


def numbers(data: bytes) -> None:
    global ENGINE
    if ENGINE is None:
        ENGINE = connect()
    texts = data.decode("utf-8", "replace").split("\n")[:64]
    table = ibis.memtable({"v": texts})
    value, unreadable = number_or_null(table.v)
    got = ENGINE.to_pandas(table.select(x=value, bad=unreadable))
    for text, x, bad in zip(texts, got["x"], got["bad"], strict=True):
        if x == x:  # a number came out: it must be finite and the value not unreadable
            assert math.isfinite(x) and not bad, (text, x, bad)
        else:  # no number: counted as unreadable (every text here is present)
            assert bad, (text, bad)


def markup(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    assert Text.from_markup(escape(text)).plain == text, text


if __name__ == "__main__":
    target = {"model": model, "xes": xes, "numbers": numbers, "markup": markup}[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
