"""Scale benchmark: the whole `analyse` on DuckDB and Spark local, against pm4py, as logs grow.

Run from the repository root (one command; it writes its table into
docs/performance.md between the scale-benchmark markers):

    python benchmarks/scale.py                          # 100k, 1M and 10M events
    python benchmarks/scale.py --quick                  # 100k and 1M, one run each
    python benchmarks/scale.py --sizes 1e5 --engines duckdb --no-pm4py

For each size a log is generated once (fixed seed, about 10 events a case, 15
moments, one segment column, a binary and a numeric outcome; Parquet) under
--work. Then, each in its own fresh process so that peak memory is that run's
own:

- ``analyse`` on DuckDB (2 threads) and on Spark local (``local[2]``),
  bootstrap included (200 draws); wall time and peak resident memory of the
  whole process tree (the JVM included for Spark). Spark's time is given with
  and without starting its session.
- pm4py's ``format_dataframe`` + ``discover_dfg`` + ``get_variants`` on the
  same Parquet file, in a virtual environment of its own
  (benchmarks/.venv-pm4py, created on first use: pm4py is AGPL-3.0 and never
  a dependency of keymoments).

Times are medians over --repeat runs. The machine may be shared: the load
average before and after is printed and written with the table; compare
ratios measured in the same run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "performance.md"
PM4PY_VENV = ROOT / "benchmarks" / ".venv-pm4py"
PM4PY_REQUIREMENT = "pm4py>=2.7,<2.8"
START, END = "<!-- scale-benchmark:start -->", "<!-- scale-benchmark:end -->"
N_MOMENTS = 15

# -- the generated log -----------------------------------------------------------


def service_yaml() -> str:
    lines = [
        "version: 1",
        "name: Benchmark service (15 moments)",
        "volume: 100000",
        "moments:",
    ]
    for i in range(N_MOMENTS):
        lines += [
            f"  - id: m{i:02d}",
            f"    stage: Stage {i // 5 + 1}",
            f"    reached: [m{i:02d}_done, m{i:02d}_failed]",
            f"    broken: [m{i:02d}_failed]",
        ]
    lines += [
        "outcomes:",
        "  - {id: completed, perspective: provider, reached: [completed], value: 100}",
        "  - {id: satisfaction, perspective: user, column: satisfaction}",
        "segments: [region]",
        "analysis: {bootstrap: 200}",
    ]
    return "\n".join(lines) + "\n"


def make_log(folder: Path, n_events: int, seed: int = 7) -> None:
    """About 10 events a case: moments in order, breaks with retries or exits, some noise."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    if (folder / "events.parquet").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_cases = max(n_events // 10, 10)
    p_break = np.linspace(0.02, 0.2, N_MOMENTS)
    rng.shuffle(p_break)
    region = rng.integers(0, 3, n_cases)
    case_ids: list[np.ndarray] = []
    acts: list[np.ndarray] = []
    times: list[np.ndarray] = []
    clock = rng.uniform(0, 365 * 86400, n_cases)
    moment = np.zeros(n_cases, dtype=np.int64)
    active = np.ones(n_cases, dtype=bool)
    completed = np.zeros(n_cases, dtype=bool)
    broke = np.zeros(n_cases, dtype=np.int64)
    names = np.array(
        [f"m{i:02d}_done" for i in range(N_MOMENTS)]
        + [f"m{i:02d}_failed" for i in range(N_MOMENTS)]
        + ["completed", "note_added"]
    )
    ids = np.arange(n_cases)
    while active.any():
        idx = np.flatnonzero(active)
        m = moment[idx]
        # region 2 breaks more often: a segment worth adjusting for
        p = np.minimum(p_break[m] * np.where(region[idx] == 2, 1.6, 1.0), 0.9)
        fail = rng.random(len(idx)) < p
        clock[idx] += rng.exponential(3600 * 24, len(idx))
        case_ids.append(idx)
        acts.append(np.where(fail, N_MOMENTS + m, m))
        times.append(clock[idx].copy())
        noise = rng.random(len(idx)) < 0.1
        case_ids.append(idx[noise])
        acts.append(np.full(noise.sum(), 2 * N_MOMENTS + 1))
        times.append(clock[idx[noise]] + 60)
        broke[idx] += fail
        retry = fail & (rng.random(len(idx)) < 0.45)
        leave_after_fail = fail & ~retry
        # after a pass, most go on; a few drop out before the end
        go_on = ~fail & (rng.random(len(idx)) < 0.97)
        stop_ok = ~fail & ~go_on
        moment[idx[go_on]] += 1
        finished = idx[go_on][moment[idx[go_on]] >= N_MOMENTS]
        done = idx[stop_ok]
        active[idx[leave_after_fail]] = False
        active[done] = False
        active[finished] = False
        completed[finished] = True
        del retry
    won = ids[completed]
    case_ids.append(won)
    acts.append(np.full(len(won), 2 * N_MOMENTS))
    times.append(clock[won] + 3600)
    order_case = np.concatenate(case_ids)
    order_act = np.concatenate(acts)
    order_time = np.concatenate(times)
    start = np.datetime64("2024-01-01T00:00:00", "s")
    events = pa.table(
        {
            "case_id": pa.array(np.char.add("C", order_case.astype(str))),
            "activity": pa.DictionaryArray.from_arrays(
                pa.array(order_act.astype(np.int32)), pa.array(names)
            ).cast(pa.string()),
            "timestamp": pa.array(start + order_time.astype("timedelta64[s]")),
        }
    )
    pq.write_table(events, folder / "events.parquet", row_group_size=1_000_000)
    satisfaction = np.clip(
        rng.normal(8 - 0.8 * broke + 1.0 * completed, 1.5, n_cases).round(), 0, 10
    )
    cases = pd.DataFrame(
        {
            "case_id": np.char.add("C", ids.astype(str)),
            "region": np.array(["north", "south", "east"])[region],
            "satisfaction": satisfaction,
        }
    )
    cases.to_parquet(folder / "cases.parquet", index=False)
    (folder / "service.yaml").write_text(service_yaml())


# -- measuring a child process ----------------------------------------------------


def _tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ppid, pages = int(fields[1]), int(fields[21])
        except (OSError, IndexError, ValueError):
            continue
        p = int(entry.name)
        children.setdefault(ppid, []).append(p)
        rss[p] = pages * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, []))
    return total


def run_measured(cmd: list[str], env: dict[str, str] | None = None) -> tuple[dict, float]:
    """Run ``cmd``; its last stdout line is JSON. Returns it and the peak tree RSS in MB."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1]), peak / 2**20


KEYMOMENTS_CHILD = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
warnings.simplefilter("ignore")
from keymoments.analysis import analyse
from keymoments.data.engine import Engine
folder, engine_name = sys.argv[1], sys.argv[2]
engine = Engine(engine_name, threads=2)
if engine_name == "spark":
    engine.session.sparkContext.setLogLevel("ERROR")
marks = {}
def progress(stage, done, total):
    marks.setdefault((stage, done), time.perf_counter())
t1 = time.perf_counter()
result = analyse(f"{folder}/service.yaml", events=f"{folder}/events.parquet",
                 cases=f"{folder}/cases.parquet", engine=engine, progress=progress)
t2 = time.perf_counter()
# reading and the journey summaries: the work pm4py's three steps compare with
summaries = marks[("summarise", 1)] - t1
def hwm():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
print(json.dumps({"total": t2 - t0, "analyse": t2 - t1, "start": t1 - t0,
                  "read_summaries": summaries,
                  "events": result.n_events, "cases": result.n_cases,
                  "n_boot": result.n_boot, "python_peak_mb": hwm(),
                  "key": result.key_moments("provider")}))
"""

PM4PY_CHILD = r"""
import json, sys, time, warnings
warnings.simplefilter("ignore")
import pandas as pd
import pm4py
path = sys.argv[1]
t0 = time.perf_counter()
df = pd.read_parquet(path)
t1 = time.perf_counter()
log = pm4py.format_dataframe(df, case_id="case_id", activity_key="activity",
                             timestamp_key="timestamp")
t2 = time.perf_counter()
dfg, start, end = pm4py.discover_dfg(log)
t3 = time.perf_counter()
variants = pm4py.get_variants(log)
t4 = time.perf_counter()
print(json.dumps({"read": t1 - t0, "format": t2 - t1, "dfg": t3 - t2, "variants": t4 - t3,
                  "three_steps": t4 - t1, "n_variants": len(variants),
                  "version": pm4py.__version__}))
"""


def pm4py_python() -> Path:
    """The pm4py virtual environment's interpreter, created on first use."""
    python = PM4PY_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PM4PY_VENV.relative_to(ROOT)} with {PM4PY_REQUIREMENT} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PM4PY_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", PM4PY_REQUIREMENT, "pyarrow"],
            check=True,
        )
    return python


# -- the run ---------------------------------------------------------------------


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def measure(folder: Path, what: str, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        if what == "pm4py":
            out, peak = run_measured(
                [str(pm4py_python()), "-c", PM4PY_CHILD, str(folder / "events.parquet")]
            )
        else:
            out, peak = run_measured([sys.executable, "-c", KEYMOMENTS_CHILD, str(folder), what])
        out["peak_mb"] = peak
        runs.append(out)
    med = {
        k: statistics.median(r[k] for r in runs)
        for k, v in runs[0].items()
        if isinstance(v, int | float)
    }
    med["runs"] = [round(r.get("total", r.get("three_steps", 0)), 2) for r in runs]
    return med


def table(rows: list[dict], engines: list[str], pm4py: bool) -> str:
    """The results as a Markdown table; ratios are of runs made side by side."""
    head = ["events", "cases"]
    if "duckdb" in engines:
        head += ["DuckDB s", "of which analyse s", "read + summaries s", "DuckDB MB"]
    if "spark" in engines:
        head += ["Spark s (analyse)", "Spark s (with start)", "Spark MB", "Spark ÷ DuckDB"]
    if pm4py:
        head += ["pm4py 3 steps s", "pm4py MB", "pm4py ÷ DuckDB", "pm4py ÷ read + summaries"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"{r['events']:,}", f"{r['cases']:,}"]
        d, s, p = r.get("duckdb"), r.get("spark"), r.get("pm4py")
        if "duckdb" in engines:
            cells += [
                f"{d['total']:.2f}",
                f"{d['analyse']:.2f}",
                f"{d['read_summaries']:.2f}",
                f"{d['peak_mb']:,.0f}",
            ]
        if "spark" in engines and s is None:
            cells += ["not run"] * 4
        elif "spark" in engines:
            # both analyses alone: neither Python's imports nor Spark's session start
            ratio = f"{s['analyse'] / d['analyse']:.1f}×" if d else ""
            cells += [f"{s['analyse']:.1f}", f"{s['total']:.1f}", f"{s['peak_mb']:,.0f}", ratio]
        if pm4py:
            whole = f"{p['three_steps'] / d['total']:.2g}×" if d else ""
            part = f"{p['three_steps'] / d['read_summaries']:.2g}×" if d else ""
            cells += [f"{p['three_steps']:.1f}", f"{p['peak_mb']:,.0f}", whole, part]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_docs(text: str, start: str = START, end: str = END) -> None:
    """Put ``text`` between the markers ``start`` and ``end`` of docs/performance.md."""
    doc = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    block = f"{start}\n{text}\n{end}"
    if start in doc and end in doc:
        before, rest = doc.split(start, 1)
        after = rest.split(end, 1)[1]
        doc = before + block + after
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    DOCS.write_text(doc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=float,
        default=None,
        help="events per log (default 1e5 1e6 1e7; --quick: 1e5 1e6)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument("--repeat", type=int, default=None, help="runs per measure (default 3)")
    parser.add_argument(
        "--engines", nargs="+", default=["duckdb", "spark"], choices=["duckdb", "spark"]
    )
    parser.add_argument(
        "--spark-sizes",
        nargs="+",
        type=float,
        default=None,
        help="run Spark only at these sizes (default: every size)",
    )
    parser.add_argument("--no-pm4py", action="store_true", help="skip pm4py")
    parser.add_argument("--work", type=Path, default=Path("/tmp/keymoments-scale"))
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    args = parser.parse_args()
    sizes = args.sizes or ([1e5, 1e6] if args.quick else [1e5, 1e6, 1e7])
    repeat = args.repeat or (1 if args.quick else 3)
    pm4py = not args.no_pm4py
    load_before = load()
    print(f"load average before: {load_before}", flush=True)
    rows = []
    for size in sizes:
        folder = args.work / f"log-{int(size)}"
        t = time.perf_counter()
        make_log(folder, int(size))
        print(f"log of {int(size):,} events ready in {time.perf_counter() - t:.1f} s", flush=True)
        row: dict = {}
        for what in [*args.engines, *(["pm4py"] if pm4py else [])]:
            if what == "spark" and args.spark_sizes and size not in args.spark_sizes:
                continue
            row[what] = measure(folder, what, repeat)
            print(f"  {what:7s} {json.dumps(row[what])}", flush=True)
        first = row.get("duckdb") or row.get("spark")
        row["events"] = int(first["events"]) if first else int(size)
        row["cases"] = int(first["cases"]) if first else 0
        rows.append(row)
    load_after = load()
    text = table(rows, args.engines, pm4py)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = (
        f"Measured {stamp} with `python benchmarks/scale.py"
        f"{' --quick' if args.quick else ''}` (medians of {repeat} run(s); "
        f"{os.cpu_count()} cores; load average {load_before} before, {load_after} after)."
    )
    print(text)
    print(note)
    if not args.no_docs:
        write_docs(f"{note}\n\n{text}")
        print(f"written into {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
