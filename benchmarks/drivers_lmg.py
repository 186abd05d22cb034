"""Exact LMG (Shapley decomposition of R²) against the Python peers, side by side.

One command, from the repository root:

    .venv/bin/python benchmarks/drivers_lmg.py

For 12, 16, 20 and 24 rated moments on 10,000 generated respondents it times
keymoments' exact LMG (correlation matrix + all subsets) and, in the same run,
the PyPI packages ``relativeImp`` (Johnson's relative weights, which only
approximate LMG) and ``dominance-analysis`` (exact dominance analysis: general
dominance = LMG). ``dominance-analysis`` does not import with numpy 2 or
IPython 8, so the peers run in their own virtual environment,
``benchmarks/.venv-peers`` (``numpy<2``, ``ipython<8``), which this script
creates on first use (pip needs the package index then). Every measurement
runs in a fresh process with a per-size timeout (``--timeout``, default 120 s),
so a peer that cannot finish reports "did not finish in N s" instead of
hanging. Times are medians of ``--repeats`` runs after one warm-up run; peak
memory is the process's peak resident memory during the timed runs above what
it held after loading the data and warming up (Linux: the peak is reset
through ``/proc/self/clear_refs`` and read from ``VmHWM``). Keymoments' answers are checked
against dominance-analysis' where both finish.

Options: ``--sizes 12 16 20 24 --n 10000 --repeats 5 --timeout 120 --no-peers``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PEERS_VENV = HERE / ".venv-peers"
PEER_PACKAGES = ["dominance-analysis==1.1.9", "relativeImp==0.0.2", "numpy<2", "ipython<8"]


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def generate(k: int, n: int, seed: int = 0) -> np.ndarray:
    """Ratings 1-10 sharing a common mood, and an overall rating driven by some of them."""
    rng = np.random.default_rng(seed)
    mood = rng.normal(size=(n, 1))
    latent = 0.6 * mood + rng.normal(size=(n, k))
    ratings = np.clip(np.round(6 + 1.5 * latent), 1, 10)
    beta = rng.uniform(0, 0.5, size=k)
    overall = ratings @ beta + rng.normal(0, 2.0, size=n)
    return np.column_stack([ratings, overall])


# -- child processes: one tool, one size ------------------------------------------------


def _child(tool: str, path: str, repeats: int) -> None:
    data = np.load(path)
    k = data.shape[1] - 1
    if tool == "keymoments":
        from keymoments.experience.shapley import lmg

        def run() -> list[float]:
            corr = np.corrcoef(data, rowvar=False)
            return [float(v) for v in lmg(corr, exact_limit=30).shares]

    else:
        import pandas as pd

        names = [f"m{j}" for j in range(k)]
        frame = pd.DataFrame(data, columns=[*names, "y"])
        if tool == "relativeImp":
            from relativeImp import relativeImp

            def run() -> list[float]:
                out = relativeImp(frame, outcomeName="y", driverNames=names)
                return [float(v) for v in out["rawRelaImpt"]]

        else:
            import contextlib
            import io

            from dominance_analysis import Dominance

            def run() -> list[float]:
                with contextlib.redirect_stdout(io.StringIO()):
                    dom = Dominance(data=frame, target="y", top_k=k, objective=1)
                    incr = dom.incremental_rsquare()
                return [float(incr[m]) for m in names]

    shares = run()  # warm-up (keymoments: loads the compiled loop)
    # reset the peak (VmHWM) so that only the timed runs count, not imports or loading
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = _rss_mb()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        shares = run()
        times.append(time.perf_counter() - start)
    print(
        json.dumps(
            {
                "median_s": statistics.median(times),
                "peak_mb": max(0.0, _peak_mb() - base),
                "shares": shares,
            }
        )
    )


def _measure(python: str, tool: str, path: Path, repeats: int, timeout: float) -> dict | None:
    try:
        done = subprocess.run(
            [python, __file__, "--child", tool, str(path), str(repeats)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peers_python() -> str | None:
    python = PEERS_VENV / "bin" / "python"
    if python.exists():
        return str(python)
    print(f"creating {PEERS_VENV} for the peers ({', '.join(PEER_PACKAGES)}) ...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True, timeout=900
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        print(f"could not set up the peers' environment: {exc}", file=sys.stderr)
        return None
    return str(python)


def _cell(m: dict | None, timeout: float) -> str:
    if m is None:
        return f"did not finish in {timeout:.0f} s"
    if "error" in m:
        return f"error: {m['error'][:60]}"
    return f"{m['median_s']:.4g} s, {m['peak_mb']:.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[12, 16, 20, 24])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    print(
        f"load: {os.getloadavg()[0]:.1f} {os.getloadavg()[1]:.1f} (1 and 5 min), cores: "
        f"{os.cpu_count()}; n = {args.n:,}; median of {args.repeats} after a warm-up"
    )
    peers = None if args.no_peers else _peers_python()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in args.sizes:
            path = Path(tmp) / f"k{k}.npy"
            np.save(path, generate(k, args.n))
            km = _measure(sys.executable, "keymoments", path, args.repeats, args.timeout)
            rel = dom = None
            if peers:
                rel = _measure(peers, "relativeImp", path, args.repeats, args.timeout)
                dom = _measure(peers, "dominance", path, 1, args.timeout)
            check = ""
            if km and dom and "shares" in km and "shares" in dom:
                diff = np.abs(np.array(km["shares"]) - np.array(dom["shares"])).max()
                check = f"{diff:.1e}"
            ratio = (
                f"{dom['median_s'] / km['median_s']:,.0f}×"
                if km and dom and "median_s" in km and "median_s" in dom
                else ""
            )
            rows.append(
                (
                    k,
                    _cell(km, args.timeout),
                    _cell(rel, args.timeout) if peers else "not run",
                    _cell(dom, args.timeout) if peers else "not run",
                    ratio,
                    check,
                )
            )
            print(f"  {k} moments done", flush=True)
    print()
    print(
        "| rated moments | keymoments exact LMG | relativeImp (relative weights) "
        "| dominance-analysis (exact) | dominance-analysis / keymoments | max diff vs dominance |"
    )
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
