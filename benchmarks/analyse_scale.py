"""How long `analyse` takes, stage by stage, and its peak memory, as the log grows.

Run from the repository root:

    python benchmarks/analyse_scale.py                 # 100k, 1M and 10M events
    python benchmarks/analyse_scale.py --sizes 1e5 1e6 --repeat 3

Each size is a generated health-check log (about 10 events a case, fixed seed),
written once as Parquet under --work, then analysed in a fresh process per run
(so peak memory is that run's own). Prints the median of the runs per stage.
The machine is noisy: compare medians, and sizes within one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, time
from keymoments.analysis import analyse

def peak_mb():
    # VmHWM is this program's own peak; ru_maxrss would carry the parent's over exec
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")

folder, n_boot = sys.argv[1], int(sys.argv[2])
t0 = time.perf_counter()
marks = {}
def progress(stage, done, total):
    if done == total:
        marks[stage] = time.perf_counter() - t0
result = analyse(f"{folder}/service.yaml", events=f"{folder}/events.parquet",
                 cases=f"{folder}/cases.parquet", bootstrap=n_boot, progress=progress)
total = time.perf_counter() - t0
print(json.dumps({
    "read": marks["read"], "summarise": marks["summarise"] - marks["read"],
    "bootstrap": total - marks["summarise"], "total": total,
    "peak_mb": peak_mb(),
    "cases": result.n_cases, "events": result.n_events,
}))
"""


def make_log(folder: Path, n_events: int) -> None:
    import shutil

    import keymoments

    if (folder / "events.parquet").exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    ex = keymoments.examples.load_example("health-check", n_cases=max(n_events // 10, 10), seed=1)
    ex.events.to_parquet(folder / "events.parquet", index=False)
    ex.cases.to_parquet(folder / "cases.parquet", index=False)
    shutil.copy(keymoments.examples.service_path("health-check"), folder / "service.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e5, 1e6, 1e7])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "km-bench")
    args = parser.parse_args()
    print(
        f"{'events':>12} {'cases':>10} {'read s':>8} {'summ. s':>8} {'boot s':>8} "
        f"{'total s':>8} {'peak MB':>8}"
    )
    for size in args.sizes:
        folder = args.work / f"hc-{int(size)}"
        make_log(folder, int(size))
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, str(folder), str(args.bootstrap)],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"{int(med['events']):>12,} {int(med['cases']):>10,} {med['read']:>8.2f} "
            f"{med['summarise']:>8.2f} {med['bootstrap']:>8.2f} {med['total']:>8.2f} "
            f"{med['peak_mb']:>8.0f}"
        )


if __name__ == "__main__":
    main()
