"""Survey-heavy benchmark: the whole `analyse`, stage by stage, against pm4py, on a rich service.

Run from the repository root (one command; it writes its table into
docs/performance.md between the survey-benchmark markers):

    python benchmarks/survey_scale.py                  # 1M and 10M events, medians of 3 runs
    python benchmarks/survey_scale.py --quick          # 1M events, one run
    python benchmarks/survey_scale.py --sizes 1e6 --engines duckdb --no-pm4py --no-docs

The service: 20 moments in one line, each with a 0–10 rating in the cases
table, an overall 0–10 rating and a money column (net revenue, ``value: 1``),
a three-valued segment, 5 interventions and a budget; about 20 events a case
(so 500,000 cases at 10 million events); fixed seed; Parquet. The analysis is
the whole of ``analyse``: reading, journey summaries, the memory choice, the
200-draw bootstrap, the model check, the ratings and their drivers (exact LMG
at 20 moments, two outcomes), the emotion curve and the plan (with its Monte
Carlo and frontier).

Every run is a fresh process: wall time, peak resident memory of the process
tree (sampled every 50 ms) and the time of each stage, read off the progress
callback (a stage runs from its first report to its last; the gaps between
stages are named by what runs there). pm4py's ``format_dataframe``,
``discover_dfg`` and ``get_variants`` run on the same events file in their own
virtual environment (see ``benchmarks/scale.py``). Times are medians over
--repeat runs; the load average before and after is written with the table.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import (  # the sibling benchmark's measuring tools
    PM4PY_CHILD,
    load,
    pm4py_python,
    run_measured,
    write_docs,
)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- survey-benchmark:start -->", "<!-- survey-benchmark:end -->"
STAGES_START, STAGES_END = "<!-- survey-stages:start -->", "<!-- survey-stages:end -->"
N_MOMENTS = 20
EVENTS_PER_CASE = 20

# -- the generated service ---------------------------------------------------------

INTERVENTIONS = [
    # (id, moment, effect, low, high, cost)
    ("queue_staff", 3, -0.4, -0.55, -0.25, 1_200_000),
    ("status_texts", 7, -0.3, -0.45, -0.15, 600_000),
    ("self_service", 11, -0.5, -0.65, -0.35, 1_500_000),
    ("training", 14, -0.25, -0.4, -0.1, 900_000),
    ("callback", 18, -0.5, -0.65, -0.35, 700_000),
]


def service_yaml() -> str:
    lines = [
        "version: 1",
        "name: Survey-heavy benchmark service (20 rated moments)",
        "volume: 1000000",
        "budget: 3000000",
        "moments:",
    ]
    for i in range(N_MOMENTS):
        lines += [
            f"  - id: m{i:02d}",
            f"    stage: Stage {i // 4 + 1}",
            "    perspectives: [user, provider]",
            f"    reached: [m{i:02d}_done, m{i:02d}_failed]",
            f"    broken: [m{i:02d}_failed]",
            f"    rating: rating_m{i:02d}",
        ]
    lines += [
        "outcomes:",
        "  - {id: overall, perspective: user, column: overall}",
        "  - {id: revenue, perspective: provider, column: revenue, value: 1}",
        "segments: [region]",
        "interventions:",
    ]
    for iid, m, effect, lo, hi, cost in INTERVENTIONS:
        lines += [
            f"  - id: {iid}",
            f"    moment: m{m:02d}",
            f"    effect: {effect}",
            f"    effect_range: [{lo}, {hi}]",
            f"    cost: {cost}",
        ]
    lines += ["analysis: {bootstrap: 200}"]
    return "\n".join(lines) + "\n"


def make_log(folder: Path, n_events: int, seed: int = 11) -> None:
    """20 moments in order with breaks, retries and drop-outs; ratings of the moments reached."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    if (folder / "events.parquet").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_cases = max(n_events // EVENTS_PER_CASE, 20)
    p_break = np.linspace(0.03, 0.2, N_MOMENTS)
    rng.shuffle(p_break)
    region = rng.integers(0, 3, n_cases)
    case_ids: list[np.ndarray] = []
    acts: list[np.ndarray] = []
    times: list[np.ndarray] = []
    clock = rng.uniform(0, 365 * 86400, n_cases)
    moment = np.zeros(n_cases, dtype=np.int64)
    active = np.ones(n_cases, dtype=bool)
    completed = np.zeros(n_cases, dtype=bool)
    broke = np.zeros((n_cases, N_MOMENTS), dtype=bool)
    reached = np.zeros((n_cases, N_MOMENTS), dtype=bool)
    names = np.array(
        [f"m{i:02d}_done" for i in range(N_MOMENTS)]
        + [f"m{i:02d}_failed" for i in range(N_MOMENTS)]
        + ["note_added"]
    )
    while active.any():
        idx = np.flatnonzero(active)
        m = moment[idx]
        # region 2 breaks more often: a segment worth adjusting for
        p = np.minimum(p_break[m] * np.where(region[idx] == 2, 1.5, 1.0), 0.9)
        fail = rng.random(len(idx)) < p
        clock[idx] += rng.exponential(3600 * 12, len(idx))
        case_ids.append(idx)
        acts.append(np.where(fail, N_MOMENTS + m, m))
        times.append(clock[idx].copy())
        reached[idx, m] = True
        broke[idx[fail], m[fail]] = True
        noise = rng.random(len(idx)) < 0.05
        case_ids.append(idx[noise])
        acts.append(np.full(noise.sum(), 2 * N_MOMENTS))
        times.append(clock[idx[noise]] + 60)
        leave = fail & (rng.random(len(idx)) < 0.12)
        go_on = ~fail & (rng.random(len(idx)) < 0.995)
        stop_ok = ~fail & ~go_on
        moment[idx[go_on]] += 1
        finished = idx[go_on][moment[idx[go_on]] >= N_MOMENTS]
        active[idx[leave]] = False
        active[idx[stop_ok]] = False
        active[finished] = False
        completed[finished] = True
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
    # ratings 0–10 of the moments reached: a case's mood, lower where it broke
    mood = rng.normal(0, 1.0, n_cases)
    weight = rng.uniform(0.2, 1.0, N_MOMENTS)
    raw = 7.0 + mood[:, None] - 3.0 * broke + rng.normal(0, 1.3, (n_cases, N_MOMENTS))
    ratings = np.clip(raw.round(), 0, 10)
    answered = reached & (rng.random((n_cases, N_MOMENTS)) < 0.8)
    ratings = np.where(answered, ratings, np.nan)
    centred = np.where(answered, raw - 7.0, 0.0)
    overall = np.clip(
        (
            7.0 + (centred * weight).sum(axis=1) / weight.sum() * 2.0 + rng.normal(0, 1.0, n_cases)
        ).round(),
        0,
        10,
    )
    revenue = (
        120.0 + 80.0 * completed - 25.0 * broke.sum(axis=1) + rng.normal(0, 30.0, n_cases)
    ).round(2)
    cases = pd.DataFrame({"case_id": np.char.add("C", np.arange(n_cases).astype(str))})
    cases["region"] = np.array(["north", "south", "east"])[region]
    for i in range(N_MOMENTS):
        cases[f"rating_m{i:02d}"] = ratings[:, i]
    cases["overall"] = overall
    cases["revenue"] = revenue
    cases.to_parquet(folder / "cases.parquet", index=False)
    (folder / "service.yaml").write_text(service_yaml())


# -- one measured run ----------------------------------------------------------------

KEYMOMENTS_CHILD = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
warnings.simplefilter("ignore")
from keymoments.analysis import analyse
from keymoments.data.engine import Engine
folder, engine_name = sys.argv[1], sys.argv[2]
engine = Engine(engine_name, threads=2)
marks = []
def progress(stage, done, total):
    marks.append((stage, done, total, time.perf_counter()))
t1 = time.perf_counter()
result = analyse(f"{folder}/service.yaml", events=f"{folder}/events.parquet",
                 cases=f"{folder}/cases.parquet", engine=engine, progress=progress)
t2 = time.perf_counter()
def hwm():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
stages = {}
for stage, done, total, t in marks:
    first, last = stages.get(stage, (t, t))
    stages[stage] = (min(first, t), max(last, t))
plan = result.portfolio.chosen.members if result.portfolio and result.portfolio.chosen else None
print(json.dumps({"total": t2 - t0, "analyse": t2 - t1, "start": t1 - t0,
                  "stages": {k: [a - t1, b - t1] for k, (a, b) in stages.items()},
                  "events": result.n_events, "cases": result.n_cases,
                  "n_boot": result.n_boot, "python_peak_mb": hwm(),
                  "key": result.key_moments("provider"), "plan": plan}))
"""

# the survey half alone, each step timed on its own (fresh process; DuckDB, 2 threads)
SURVEY_CHILD = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
warnings.simplefilter("ignore")
from keymoments import load_service
from keymoments.data.engine import Engine
from keymoments.data.readers import read_cases, read_events
from keymoments.experience.survey import measure_experience
from keymoments.experience.ratings import summarise_ratings
from keymoments.experience.reached import missing_among_reached, reached_by_case
from keymoments.experience import survey
folder = sys.argv[1]
svc = load_service(f"{folder}/service.yaml")
eng = Engine("duckdb", threads=2)
times = {}
t = time.perf_counter()
cases = read_cases(f"{folder}/cases.parquet", case_id="case_id", engine=eng)
times["read_cases"] = time.perf_counter() - t
log = read_events(f"{folder}/events.parquet", columns=svc.columns, engine=eng)
# measure_experience's own steps, timed by wrapping the functions it calls
def timed(name, fn):
    def run(*args, **kwargs):
        t = time.perf_counter()
        out = fn(*args, **kwargs)
        times[name] = times.get(name, 0.0) + time.perf_counter() - t
        return out
    return run
survey.summarise_ratings = timed("patterns", summarise_ratings)
survey.missing_among_reached = timed("reached", missing_among_reached)
survey.measure_drivers = timed("drivers", survey.measure_drivers)
survey.measure_emotion = timed("emotion", survey.measure_emotion)
t = time.perf_counter()
exp = measure_experience(svc, cases.table, eng, reached=reached_by_case(log.table, svc))
times["experience"] = time.perf_counter() - t
def hwm():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
d = exp.drivers.outcomes["overall"]
top = d.moments[int(d.figures["importance"].argmax())]
print(json.dumps({"total": time.perf_counter() - t0, **times,
                  "cases": int(exp.summary.n_respondents), "n_patterns": int(len(exp.summary.n)),
                  "python_peak_mb": hwm(), "r2_overall": d.r2, "top_driver": top}))
"""

SURVEY_STEPS = [
    ("read_cases", "reading and checking the cases table"),
    ("patterns", "answer patterns (group-by, sort)"),
    ("reached", "ratings missing among the moments reached (a pass over the events)"),
    ("drivers", "drivers: two outcomes, 200 draws, exact LMG at 20 moments"),
    ("emotion", "emotion curve, 200 draws"),
]


def survey_stages(folder: Path, repeat: int) -> dict:
    """Medians of the survey steps over ``repeat`` fresh processes."""
    runs = []
    for _ in range(repeat):
        out, peak = run_measured([sys.executable, "-c", SURVEY_CHILD, str(folder)])
        out["peak_mb"] = peak
        print(f"  survey  {json.dumps(out)}", flush=True)
        runs.append(out)
    med = {
        k: statistics.median(r[k] for r in runs)
        for k, v in runs[0].items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    med["runs"] = [round(r["experience"], 2) for r in runs]
    return med


def survey_stage_table(rows: list[dict]) -> str:
    head = ["step", *[f"{r['cases']:,} respondents s" for r in rows]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label in SURVEY_STEPS:
        lines.append(f"| {label} | " + " | ".join(f"{r.get(key, 0.0):.2f}" for r in rows) + " |")
    lines.append(
        "| **survey half** (patterns to emotion) | "
        + " | ".join(f"**{r['experience']:.2f}**" for r in rows)
        + " |"
    )
    lines.append("| peak memory MB | " + " | ".join(f"{r['peak_mb']:,.0f}" for r in rows) + " |")
    return "\n".join(lines)


# what runs between two progress stages (named by the stage that follows)
STEPS = [
    ("read", "read", "reading the events and the cases table"),
    ("summarise", "summarise", "journey summaries"),
    ("memory", None, "memory choice (cross-validated)"),
    ("bootstrap", "bootstrap", "journey bootstrap (200 draws)"),
    ("check", "check", "model check"),
    ("ratings", None, "barrier summaries, answer patterns, missing among reached"),
    ("drivers", "drivers", "drivers (two outcomes, LMG at 20 moments)"),
    ("emotion", None, "emotion curve, assembling the result"),
    ("plan", "plan", "plan: search"),
    ("uncertainty", "uncertainty", "plan: Monte Carlo of the return"),
    ("frontier", "frontier", "plan: frontier"),
    ("rest", None, "after the plan"),
]


def stage_times(out: dict) -> dict[str, float]:
    """Seconds per step of ``STEPS``: a stage's span, and the gaps before it."""
    spans = out["stages"]
    times: dict[str, float] = {}
    cursor = 0.0
    for i, (key, stage, _) in enumerate(STEPS):
        if stage is None:
            # a gap: from the previous mark to the next stage's first mark
            nxt = next((s for _, s, _ in STEPS[i + 1 :] if s and s in spans), None)
            end = spans[nxt][0] if nxt else out["analyse"]
            times[key] = max(0.0, end - cursor)
            cursor = max(cursor, end)
        elif stage in spans:
            _, last = spans[stage]
            # time since the previous mark belongs to this stage's start-up
            times[key] = last - cursor
            cursor = last
        else:
            times[key] = 0.0
    return times


def measure(folder: Path, what: str, repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        if what == "pm4py":
            out, peak = run_measured(
                [str(pm4py_python()), "-c", PM4PY_CHILD, str(folder / "events.parquet")]
            )
        else:
            out, peak = run_measured([sys.executable, "-c", KEYMOMENTS_CHILD, str(folder), what])
            out.update({f"stage_{k}": v for k, v in stage_times(out).items()})
        out["peak_mb"] = peak
        runs.append(out)
    med: dict = {
        k: statistics.median(r[k] for r in runs)
        for k, v in runs[0].items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    med["runs"] = [round(r.get("total", r.get("three_steps", 0)), 2) for r in runs]
    for k in ("key", "plan"):
        if k in runs[0]:
            med[k] = runs[0][k]
    return med


# -- the report ----------------------------------------------------------------------


def table(rows: list[dict], engines: list[str], pm4py: bool) -> str:
    head = ["events", "cases"]
    if "duckdb" in engines:
        head += ["DuckDB s", "DuckDB MB"]
    if "spark" in engines:
        head += ["Spark s (analyse)", "Spark MB", "Spark ÷ DuckDB"]
    if pm4py:
        head += ["pm4py 3 steps s", "pm4py MB", "pm4py ÷ DuckDB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [f"{r['events']:,}", f"{r['cases']:,}"]
        d, s, p = r.get("duckdb"), r.get("spark"), r.get("pm4py")
        if "duckdb" in engines:
            cells += [f"{d['total']:.2f}", f"{d['peak_mb']:,.0f}"] if d else ["not run"] * 2
        if "spark" in engines:
            if s is None:
                cells += ["not run"] * 3
            else:
                ratio = f"{s['analyse'] / d['analyse']:.1f}×" if d else ""
                cells += [f"{s['analyse']:.1f}", f"{s['peak_mb']:,.0f}", ratio]
        if pm4py:
            if p is None:
                cells += ["not run"] * 3
            else:
                ratio = f"{p['three_steps'] / d['total']:.2g}×" if d else ""
                cells += [f"{p['three_steps']:.1f}", f"{p['peak_mb']:,.0f}", ratio]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def stage_table(rows: list[dict]) -> str:
    """Seconds per stage (DuckDB), one column per size."""
    sizes = [r for r in rows if r.get("duckdb")]
    head = ["stage", *[f"{r['events']:,} events s" for r in sizes]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines.append(
        "| Python start (imports) | "
        + " | ".join(f"{r['duckdb']['start']:.2f}" for r in sizes)
        + " |"
    )
    for key, _, label in STEPS:
        cells = [f"{r['duckdb'].get(f'stage_{key}', 0.0):.2f}" for r in sizes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append(
        "| **whole run** | " + " | ".join(f"**{r['duckdb']['total']:.2f}**" for r in sizes) + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        nargs="+",
        type=float,
        default=None,
        help="events per log (default 1e6 1e7; --quick: 1e6)",
    )
    parser.add_argument("--quick", action="store_true", help="1M events, one run")
    parser.add_argument("--repeat", type=int, default=None, help="runs per measure (default 3)")
    parser.add_argument("--engines", nargs="+", default=["duckdb"], choices=["duckdb", "spark"])
    parser.add_argument("--no-pm4py", action="store_true", help="skip pm4py")
    parser.add_argument("--work", type=Path, default=Path("/tmp/keymoments-survey-scale"))
    parser.add_argument("--no-docs", action="store_true", help="do not write docs/performance.md")
    parser.add_argument(
        "--survey-stages", action="store_true", help="time the survey half alone, step by step"
    )
    args = parser.parse_args()
    if args.survey_stages:
        main_stages(args)
        return
    sizes = args.sizes or ([1e6] if args.quick else [1e6, 1e7])
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
        # side by side: one run of each in turn, so a slow spell hits all of them
        for _ in range(repeat):
            for what in [*args.engines, *(["pm4py"] if pm4py else [])]:
                row.setdefault(f"_{what}", []).append(measure(folder, what, 1))
                print(f"  {what:7s} {json.dumps(row[f'_{what}'][-1])}", flush=True)
        for what in [*args.engines, *(["pm4py"] if pm4py else [])]:
            runs = row.pop(f"_{what}")
            med = {
                k: statistics.median(r[k] for r in runs)
                for k, v in runs[0].items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
            med["runs"] = [r["runs"][0] for r in runs]
            row[what] = med
        first = row.get("duckdb") or row.get("spark")
        row["events"] = int(first["events"]) if first else int(size)
        row["cases"] = int(first["cases"]) if first else 0
        rows.append(row)
    load_after = load()
    text = table(rows, args.engines, pm4py)
    stages = stage_table(rows) if "duckdb" in args.engines else ""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    note = (
        f"Measured {stamp} with `python benchmarks/survey_scale.py"
        f"{' --quick' if args.quick else ''}` (medians of {repeat} run(s), the engines and "
        f"pm4py run in turn; {os.cpu_count()} cores; load average {load_before} before, "
        f"{load_after} after)."
    )
    print(text)
    print(stages)
    print(note)
    if not args.no_docs:
        write_docs(f"{note}\n\n{text}\n\nStage by stage (DuckDB):\n\n{stages}", START, END)
        print(f"written into {DOCS.relative_to(ROOT)}")


def main_stages(args: argparse.Namespace) -> None:
    sizes = args.sizes or ([1e6] if args.quick else [1e6, 1e7])
    repeat = args.repeat or (1 if args.quick else 3)
    load_before = load()
    rows = []
    for size in sizes:
        folder = args.work / f"log-{int(size)}"
        make_log(folder, int(size))
        rows.append(survey_stages(folder, repeat))
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    sizes_arg = " ".join(f"{s:.0e}".replace("+0", "") for s in sizes)
    note = (
        f"Measured {stamp} with `python benchmarks/survey_scale.py --survey-stages --sizes "
        f"{sizes_arg} --repeat {repeat}` (medians; {os.cpu_count()} cores; load average "
        f"{load_before} before, {load()} after)."
    )
    text = f"{note}\n\n{survey_stage_table(rows)}"
    print(text)
    if not args.no_docs:
        write_docs(text, STAGES_START, STAGES_END)
        print(f"written into {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
