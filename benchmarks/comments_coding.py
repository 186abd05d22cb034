"""Coding a million comments into themes: keymoments on its engines against plain Python.

One command, from the repository root (it writes its table into docs/comments.md
between the comments-benchmark markers):

    python benchmarks/comments_coding.py                 # 1M comments, DuckDB and the peers
    python benchmarks/comments_coding.py --n 100000 --engines duckdb spark

A cases table of ``--n`` comments is written once (Parquet, under --work) from
the health check's five planted worries (paraphrases, capitals, typos, a
quarter blank), with its codebook of five themes (21 patterns). Then, each in
a fresh process so that its peak memory is its own:

- ``keymoments (engine)``: every theme coded (the engine expressions, one
  materialised table) and counted, after the cases file is read by the engine's
  reader (timed apart: it checks case ids and numbers rows for any cases table);
- ``keymoments themes (engine)``: the whole ``code_comments``: reading, coding,
  counting, and the sentiment, masking and quotes of the comments read (up to
  20,000);
- ``Python re``: the same expressions, one comment at a time in a Python loop
  (what one would write by hand);
- ``pandas str.contains``: one vectorised search per theme on a Series.

Both engines run with 2 threads. Times are medians of --repeat runs; peak
memory is the Python process's peak resident set (Spark's JVM not counted).
Every run's theme counts are checked equal to the Python loop's.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # this checkout's keymoments, here and in the children
DOCS = ROOT / "docs" / "comments.md"
START, END = "<!-- comments-benchmark:start -->", "<!-- comments-benchmark:end -->"
TOOLS = ("python-re", "pandas", "keymoments", "themes")


def _peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _service():  # type: ignore[no-untyped-def]
    from keymoments.examples._comments import HEALTH_CHECK_CODEBOOK
    from keymoments.model import Service

    return Service.model_validate(
        {
            "version": 1,
            "name": "Comments benchmark",
            "moments": [{"id": "appointment", "reached": ["attended", "dna"], "broken": ["dna"]}],
            "comments": [{"id": "worries", "column": "worries_text", "moment": "appointment"}],
            "themes": [
                {"id": w, "name": name, "comments": "worries", "patterns": list(patterns)}
                for w, (name, patterns) in HEALTH_CHECK_CODEBOOK.items()
            ],
        }
    )


def write_data(n: int, work: Path) -> Path:
    """The benchmark's cases table (cached per size)."""
    import numpy as np
    import pandas as pd

    from keymoments.examples._comments import HEALTH_CHECK_WORRIES, write_comments

    path = work / f"comments-{n}.parquet"
    if path.exists():
        return path
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(21)
    prevalence = {"transport": 0.25, "unwell": 0.3, "seen": 0.2, "doctor": 0.15, "breakdown": 0.12}
    held = {w: rng.random(n) < p for w, p in prevalence.items()}
    text = write_comments(held, HEALTH_CHECK_WORRIES, rng, blank=0.25)
    frame = pd.DataFrame({"case_id": [f"P{i:08d}" for i in range(n)], "worries_text": text})
    frame.to_parquet(path, index=False)
    return path


# -- one tool in a fresh process -----------------------------------------------------------


def _child(tool: str, engine_name: str, path: str) -> None:
    svc = _service()
    counts: dict[str, int] = {}
    start = time.perf_counter()
    read = 0.0
    if tool in ("python-re", "pandas"):
        import pandas as pd

        from keymoments.experience.comments.patterns import ThemePatterns, normalise

        frame = pd.read_parquet(path)
        rules = {t.id: ThemePatterns.of(t.id, t.patterns) for t in svc.themes}
        read = time.perf_counter() - start
        start = time.perf_counter()
        if tool == "python-re":
            for t, rule in rules.items():
                counts[t] = sum(1 for x in frame["worries_text"] if rule.holds(x))
        else:
            text = frame["worries_text"].astype("string").map(normalise, na_action="ignore")
            for t, rule in rules.items():
                counts[t] = int(text.str.contains(rule.everything, na=False).sum())
    else:
        from keymoments.data.engine import Engine

        engine = Engine(engine_name, threads=2)
        if engine_name == "spark":
            engine.session.sparkContext.setLogLevel("ERROR")
        start = time.perf_counter()
        if tool == "keymoments":
            from keymoments.data.readers import read_cases
            from keymoments.experience.comments.coding import code_themes

            cases = read_cases(path, case_id="case_id", engine=engine)
            read = time.perf_counter() - start
            start = time.perf_counter()
            coded = code_themes(svc, cases.table, engine)
            counts = dict(coded.counts["worries"].themes)
        else:
            from keymoments.themes import code_comments

            said = code_comments(svc, cases=path, engine=engine)
            counts = {t.id: t.count for t in said.themes}
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "read": read, "peak_mb": _peak_mb(), "counts": counts}))


def _run(tool: str, engine: str, path: Path) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", tool, "--engine-name", engine, "--path", str(path)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", nargs="+", default=["duckdb"], choices=["duckdb", "spark"])
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / ".work")
    parser.add_argument("--no-docs", action="store_true", help="Do not write docs/comments.md.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--engine-name", default="duckdb", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.engine_name, args.path)
        return
    path = write_data(args.n, args.work)
    load = os.getloadavg()[0]
    runs: list[tuple[str, str]] = [("python-re", "-"), ("pandas", "-")]
    runs += [(tool, e) for e in args.engines for tool in ("keymoments", "themes")]
    rows = []
    reference: dict[str, int] | None = None
    for tool, engine in runs:
        results = [_run(tool, engine, path) for _ in range(args.repeat)]
        counts = results[0]["counts"]
        if reference is None:
            reference = counts  # type: ignore[assignment]
        assert counts == reference, f"{tool} {engine}: counts {counts} != {reference}"
        seconds = statistics.median(float(r["seconds"]) for r in results)  # type: ignore[arg-type]
        read = statistics.median(float(r["read"]) for r in results)  # type: ignore[arg-type]
        peak = max(float(r["peak_mb"]) for r in results)  # type: ignore[arg-type]
        label = {
            "python-re": "Python `re`, a loop over the comments",
            "pandas": "pandas `str.contains`, one search per theme",
            "keymoments": f"keymoments on {engine}: code and count",
            "themes": f"keymoments `code_comments` on {engine}: read, code, count, "
            "sentiment, masking, quotes",
        }[tool]
        rows.append((label, seconds, read, peak))
        print(f"{label}: {seconds:.2f} s (+ {read:.2f} s reading), peak {peak:,.0f} MB", flush=True)
    base = rows[0][1]
    lines = [
        f"{args.n:,} comments, 5 themes (21 patterns), {os.cpu_count()} cores; load average "
        f"{load:.1f} before, {os.getloadavg()[0]:.1f} after; {_dt.date.today()}; median of "
        f"{args.repeat} runs, each in a fresh process.",
        "",
        "| how | time | vs the Python loop | reading the file first | peak memory |",
        "|---|---|---|---|---|",
        *[
            f"| {label} | {s:.2f} s | {base / s:.1f}× | {f'{r:.2f} s' if r else '(included)'} "
            f"| {p:,.0f} MB |"
            for label, s, r, p in rows
        ],
        "",
        "Command: `python benchmarks/comments_coding.py"
        + (f" --n {args.n}" if args.n != 1_000_000 else "")
        + (f" --engines {' '.join(args.engines)}" if args.engines != ["duckdb"] else "")
        + "`",
    ]
    table = "\n".join(lines)
    print(table)
    if not args.no_docs and DOCS.exists():
        text = DOCS.read_text(encoding="utf-8")
        if START in text and END in text:
            head, rest = text.split(START, 1)
            _, tail = rest.split(END, 1)
            DOCS.write_text(f"{head}{START}\n{table}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
