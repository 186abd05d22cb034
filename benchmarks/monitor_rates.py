"""The monitor's statistical rates, and its speed, as docs/monitor.md states them.

Run from the repository root:

    python benchmarks/monitor_rates.py                  # rates (about a minute)
    python benchmarks/monitor_rates.py --reps 20000     # the figures in the docs
    python benchmarks/monitor_rates.py --speed 100 1000 # monitor on logs of 100, 1000 cases a week

Rates, each from ``--reps`` simulated series (fixed seeds):

- false signals of Making Data Count's rules on stable p-charts (a year of weeks,
  500 visits a week, 30% breaking; limits from all 52 weeks, or the first 26);
- how soon a sustained step of 1.5, 2 and 3 standard errors of a week's rate
  is flagged (limits from the 26 weeks before it);
- the interrupted time series' 95% interval: how often it covers the planted
  step, with binomial noise only and with AR(1) process noise, a year of weeks
  and half a year, and monthly.

Speed: ``keymoments.monitor`` end to end on the generated clinic log (a year of
weeks; bootstrap 200 per quarter, the default), in a fresh process per size,
with its peak memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import numpy as np

from keymoments.monitoring.its import segmented_regression
from keymoments.monitoring.spc import p_chart

CHILD = r"""
import json, sys, time
from keymoments.monitoring import monitor, simulate_rollout

def peak_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")

ex = simulate_rollout(weeks=52, cases_per_week=int(sys.argv[1]), seed=0)
t0 = time.perf_counter()
result = monitor(ex.service, events=ex.events, cases=ex.cases)
print(json.dumps({"events": len(ex.events), "seconds": time.perf_counter() - t0,
                  "peak_mb": peak_mb(), "verdict": result.changes[0].verdict}))
"""


def false_signals(reps: int, baseline: int | None, rng: np.random.Generator) -> dict[str, float]:
    weeks, n, p = 52, 500, 0.30
    series = points = outside = 0
    for _ in range(reps):
        size = np.full(weeks, n)
        mask = None if baseline is None else np.arange(weeks) < baseline
        chart = p_chart(rng.binomial(size, p), size, baseline=mask)
        series += chart.n_signals > 0
        points += chart.n_signals
        outside += sum("outside_limits" in s for s in chart.signals)
    return {
        "series_with_a_signal": series / reps,
        "points_flagged": points / (reps * weeks),
        "points_outside_limits": outside / (reps * weeks),
    }


def detection(reps: int, k: float, rng: np.random.Generator) -> dict[str, float]:
    weeks, n, p = 52, 500, 0.30
    step = -k * np.sqrt(p * (1 - p) / n)
    delays = []
    for _ in range(reps):
        size = np.full(weeks, n)
        rates = np.where(np.arange(weeks) < 26, p, p + step)
        chart = p_chart(rng.binomial(size, rates), size, baseline=np.arange(weeks) < 26)
        types = chart.point_types()
        first = next((i - 26 + 1 for i in range(26, weeks) if types[i] == "improvement"), 99)
        delays.append(first)
    d = np.array(delays)
    return {f"within_{q}": float(np.mean(d <= q)) for q in (1, 3, 7)}


def coverage(
    reps: int,
    rng: np.random.Generator,
    *,
    before: int,
    after: int,
    n: int,
    rho: float = 0.0,
    sd: float = 0.05,
) -> dict[str, float]:
    t = np.arange(before + after) + 0.5
    planted = -0.12
    covered = within = 0
    for _ in range(reps):
        size = rng.poisson(n, len(t))
        p = np.where(t < before, 0.30, 0.18)
        if rho:
            noise = np.zeros(len(t))
            for i in range(1, len(t)):
                noise[i] = rho * noise[i - 1] + rng.normal(0, sd)
            p = 1 / (1 + np.exp(-(np.log(p / (1 - p)) + noise)))
        fit = segmented_regression(rng.binomial(size, p) / size, t, float(before), weights=size)
        covered += fit.covers(planted)
        within += abs(fit.change - planted) <= 0.15 * abs(planted)
    return {"covered": covered / reps, "within_15_percent": within / reps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2000)
    parser.add_argument("--speed", type=int, nargs="*", default=[], metavar="CASES_A_WEEK")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    out: dict[str, object] = {
        "false_signals_limits_from_all": false_signals(args.reps, None, rng),
        "false_signals_limits_from_26": false_signals(args.reps, 26, rng),
    }
    for k in (1.5, 2.0, 3.0):
        out[f"detection_step_{k}_se"] = detection(args.reps, k, rng)
    cases = {
        "weekly_26_26_binomial": {"before": 26, "after": 26, "n": 1000},
        "weekly_26_26_ar1_0.5": {"before": 26, "after": 26, "n": 1000, "rho": 0.5},
        "weekly_26_26_ar1_0.5_strong": {"before": 26, "after": 26, "n": 1000, "rho": 0.5,
                                        "sd": 0.1},
        "weekly_13_13_binomial": {"before": 13, "after": 13, "n": 1000},
        "monthly_12_12_binomial": {"before": 12, "after": 12, "n": 4000},
    }  # fmt: skip
    for name, kw in cases.items():
        out[f"its_{name}"] = coverage(args.reps, rng, **kw)  # type: ignore[arg-type]
    for size in args.speed:
        run = subprocess.run(
            [sys.executable, "-c", CHILD, str(size)], capture_output=True, text=True, check=True
        )
        out[f"speed_{size}_cases_a_week"] = json.loads(run.stdout.strip().splitlines()[-1])
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
