"""Many people at once on `keymoments serve`: throughput, latency, memory, nothing lost.

Run from the repository root:

    python benchmarks/web_load.py                        # 20 users, 2 minutes
    python benchmarks/web_load.py --users 5 --duration 30

Starts `keymoments serve` on a free loopback port in its own process (with
``--workers 2``, one analysis per core) and lets simulated users loose on it,
each an asyncio task with its own httpx client: make a workspace, save the
health-check model, then over and over upload an events file and a cases file
(the demo data at one of four sizes, 300 to 2,400 cases, so uploads differ),
start an analysis, poll its progress twice a second, and once it is done fetch
the run's page, the JSON result, the CSV and the HTML report.

It stops by itself: users start no new analysis in the last quarter of
``--duration`` (at most 30 s), so the ones queued can finish, and start no
request after ``--duration`` (one under way may take 20 s more, then counts
as an error). At the end every upload a user was told about (201)
must be listed in its workspace with the same size (no lost upload) and no
request may have failed (any 4xx/5xx or connection error): otherwise the exit
status is 1. Reported: requests/s, analyses/min, p50/p95/p99 latency per kind
of request, the server process's peak memory (VmHWM) and the peak of server
plus analysis workers (sampled), and the load average, the machine being
shared and noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2 as httpx
import numpy as np

SIZES = (300, 600, 1200, 2400)
MAX_DURATION = 120.0
# a request started before the stop may take this long past it, then it is an error
GRACE = 20.0


@dataclass
class Tally:
    """What the users saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    uploads: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: defaultdict(list))
    runs_started: int = 0
    runs_done: int = 0
    runs_failed: list[str] = field(default_factory=list)
    # where the runs still going at the stop were (queued, reading, bootstrap...)
    unfinished: list[str] = field(default_factory=list)
    # no request may outlast this (monotonic clock): the benchmark is bounded
    hard_stop: float = float("inf")

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())


def _rss_mb(pid: int, key: str = "VmRSS:") -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            continue
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _model_text() -> str:
    from keymoments import examples

    text = examples.service_path("health-check").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.startswith("data:")) + "\n"


async def _call(
    tally: Tally, kind: str, client: httpx.AsyncClient, method: str, url: str, **kw: Any
) -> httpx.Response | None:
    t0 = time.perf_counter()
    kw.setdefault("timeout", max(5.0, tally.hard_stop - time.monotonic()))
    try:
        reply = await client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        tally.errors.append(f"{kind} {url}: {type(exc).__name__}: {exc}")
        return None
    tally.latencies[kind].append(time.perf_counter() - t0)
    if reply.status_code >= 400:
        tally.errors.append(f"{kind} {url}: {reply.status_code} {reply.text[:200]}")
        return None
    return reply


async def _user(
    n: int,
    base: str,
    files: dict[int, dict[str, Path]],
    model: str,
    tally: Tally,
    stop_runs: float,
    stop: float,
    bootstrap: int,
) -> None:
    async with httpx.AsyncClient(
        base_url=base, timeout=120, headers={"accept": "application/json"}
    ) as client:
        reply = await _call(tally, "create workspace", client, "POST", "/workspaces",
                            json={"name": f"user {n}"})  # fmt: skip
        if reply is None:
            return
        ws = reply.json()["id"]
        reply = await _call(tally, "save model", client, "POST", f"/workspaces/{ws}/model",
                            content=model.encode(),
                            headers={"content-type": "application/yaml"})  # fmt: skip
        if reply is None:
            return
        round_ = 0
        while time.monotonic() < stop_runs:
            size = SIZES[(n + round_) % len(SIZES)]
            round_ += 1
            for kind in ("events", "cases"):
                path = files[size][kind]
                body = path.read_bytes()
                reply = await _call(
                    tally,
                    "upload",
                    client,
                    "POST",
                    f"/workspaces/{ws}/uploads",
                    data={"kind": kind},
                    files={"file": (f"{kind}-{size}.csv", body, "text/csv")},
                )
                if reply is None:
                    return
                tally.uploads[ws].append((reply.json()["id"], len(body)))
            reply = await _call(tally, "start run", client, "POST", f"/workspaces/{ws}/runs",
                                json={"bootstrap": bootstrap})  # fmt: skip
            if reply is None:
                return
            run = reply.json()["id"]
            tally.runs_started += 1
            status: dict[str, Any] = {}
            while time.monotonic() < stop:
                await asyncio.sleep(0.5)
                reply = await _call(tally, "poll status", client, "GET", f"/runs/{run}/status")
                if reply is None:
                    return
                status = reply.json()
                if status["status"] in ("done", "failed"):
                    break
            if status.get("status") == "failed":
                tally.runs_failed.append(f"run {run}: {status['message']}")
                continue
            if status.get("status") != "done":
                # stopped while it was queued or running: not an error
                tally.unfinished.append(f"{status.get('status')} {status.get('stage_label')}")
                return
            tally.runs_done += 1
            for kind, url, headers in (
                ("run page (HTML)", f"/runs/{run}", {"accept": "text/html"}),
                ("result.json", f"/runs/{run}/result.json", {}),
                ("summary.csv", f"/runs/{run}/summary.csv", {}),
                ("report.html", f"/runs/{run}/report.html", {}),
                ("workspace (JSON)", f"/workspaces/{ws}", {}),
            ):
                if await _call(tally, kind, client, "GET", url, headers=headers) is None:
                    return


async def _lost_uploads(base: str, tally: Tally) -> list[str]:
    lost: list[str] = []
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for ws, sent in tally.uploads.items():
            listed = (await client.get(f"/workspaces/{ws}.json")).json()["uploads"]
            sizes = {u["id"]: u["size"] for u in listed}
            for upload_id, size in sent:
                if sizes.get(upload_id) != size:
                    lost.append(f"workspace {ws}: upload {upload_id} ({size} bytes) not listed")
            if len(listed) != len(sent):
                lost.append(f"workspace {ws}: {len(listed)} listed, {len(sent)} sent")
    return lost


def run_load(
    *, users: int = 20, duration: float = MAX_DURATION, workers: int = 2, bootstrap: int = 20
) -> dict[str, Any]:
    """Serve, load, check, measure; returns the figures (``errors`` and ``lost`` lists)."""
    from keymoments import examples

    duration = min(duration, MAX_DURATION)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="km-load-") as tmp:
        work = Path(tmp)
        files = {
            n: examples.write_example("health-check", work / f"demo-{n}", n_cases=n, seed=n)
            for n in SIZES
        }
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                *(sys.executable, "-m", "keymoments", "serve", "--port", str(port)),
                *("--data-dir", str(work / "data"), "--workers", str(workers)),
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    httpx.get(base + "/.json", timeout=1)
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise
                    time.sleep(0.1)
            tally = Tally()
            peak_total = 0.0

            async def main() -> tuple[float, list[str]]:
                nonlocal peak_total
                start = time.monotonic()
                stop = start + duration
                tally.hard_stop = stop + GRACE
                stop_runs = stop - min(30.0, duration / 4)
                model = _model_text()
                tasks = [
                    asyncio.create_task(
                        _user(i, base, files, model, tally, stop_runs, stop, bootstrap)
                    )
                    for i in range(users)
                ]
                while not all(t.done() for t in tasks):
                    procs = [server.pid, *_children(server.pid)]
                    peak_total = max(peak_total, sum(_rss_mb(p) for p in procs))
                    await asyncio.sleep(0.5)
                for task in tasks:
                    task.result()
                elapsed = time.monotonic() - start
                return elapsed, await _lost_uploads(base, tally)

            elapsed, lost = asyncio.run(main())
            peak_server = _rss_mb(server.pid, "VmHWM:")
        finally:
            server.terminate()
            server.wait(timeout=30)
    latency = {
        kind: {
            "n": len(values),
            "p50_ms": float(np.percentile(values, 50) * 1000),
            "p95_ms": float(np.percentile(values, 95) * 1000),
            "p99_ms": float(np.percentile(values, 99) * 1000),
        }
        for kind, values in sorted(tally.latencies.items())
    }
    return {
        "users": users,
        "duration_s": round(elapsed, 1),
        "requests": tally.requests,
        "requests_per_s": tally.requests / elapsed,
        "uploads": sum(len(v) for v in tally.uploads.values()),
        "analyses_started": tally.runs_started,
        "analyses_done": tally.runs_done,
        "analyses_per_min": tally.runs_done / elapsed * 60,
        "latency": latency,
        "server_peak_mb": peak_server,
        "server_and_workers_peak_mb": peak_total,
        "unfinished": sorted(tally.unfinished),
        "errors": tally.errors + tally.runs_failed,
        "lost": lost,
        "load_before": load_before,
        "load_after": os.getloadavg(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{_mem_total_gb():.0f} GB, Python {platform.python_version()}",
    }


def _mem_total_gb() -> float:
    try:
        with open("/proc/meminfo") as info:
            return int(info.readline().split()[1]) / 2**20
    except OSError:
        return float("nan")


def print_report(res: dict[str, Any]) -> None:
    print(f"machine: {res['machine']}")
    lb, la = res["load_before"], res["load_after"]
    print(f"load average before: {lb[0]:.1f} {lb[1]:.1f} {lb[2]:.1f}; "
          f"after: {la[0]:.1f} {la[1]:.1f} {la[2]:.1f}")  # fmt: skip
    print(
        f"{res['users']} users, {res['duration_s']} s: {res['requests']} requests "
        f"({res['requests_per_s']:.1f}/s), {res['uploads']} uploads, "
        f"{res['analyses_done']} of {res['analyses_started']} analyses done "
        f"({res['analyses_per_min']:.1f}/min)"
    )
    if res["unfinished"]:
        print(f"still going at the stop: {', '.join(res['unfinished'])}")
    print(
        f"server peak memory: {res['server_peak_mb']:.0f} MB (process); "
        f"{res['server_and_workers_peak_mb']:.0f} MB with its analysis workers (sampled)"
    )
    print()
    print("| request | n | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|")
    for kind, s in res["latency"].items():
        print(f"| {kind} | {s['n']} | {s['p50_ms']:.0f} | {s['p95_ms']:.0f} | {s['p99_ms']:.0f} |")
    print()
    print(f"errors: {len(res['errors'])}; lost uploads: {len(res['lost'])}")
    for line in (res["errors"] + res["lost"])[:20]:
        print("  " + line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument(
        "--duration", type=float, default=MAX_DURATION, help="seconds in all (at most 120)"
    )
    parser.add_argument("--workers", type=int, default=2, help="analyses the server runs at once")
    parser.add_argument("--bootstrap", type=int, default=20, help="bootstrap draws per analysis")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    res = run_load(
        users=args.users, duration=args.duration, workers=args.workers, bootstrap=args.bootstrap
    )
    print_report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    return 1 if res["errors"] or res["lost"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
