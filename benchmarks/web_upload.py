"""Uploading a large export to `keymoments serve`: throughput and the server's peak memory.

Run from the repository root:

    python benchmarks/web_upload.py                  # 50 MB and 300 MB, 3 uploads each
    python benchmarks/web_upload.py --sizes 100 --repeat 5

Starts `keymoments serve` on a free loopback port in its own process, writes a
CSV event log of each size (generated lines, fixed content) and uploads it
with httpx, which streams the file from disk. Reports the median time, the
throughput and the server process's peak resident memory (VmHWM) after all
uploads of a size, against its memory before the first. If the server held
uploads in memory, its peak would grow with the file; streamed to disk, it
stays flat. The machine is shared and noisy: compare within one run.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_log(path: Path, mb: int) -> None:
    line = "case_{:07d},appointment_attended,2024-03-0{} 10:{:02d}:00,sms\n"
    block = "".join(line.format(i, 1 + i % 9, i % 60) for i in range(20_000)).encode()
    with path.open("wb") as fh:
        fh.write(b"case_id,activity,timestamp,channel\n")
        written = 0
        while written < mb * 2**20:
            fh.write(block)
            written += len(block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 300], help="MB")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="km-upload-") as tmp:
        work = Path(tmp)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "keymoments",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(work / "data"),
                "--max-upload",
                str(max(args.sizes) * 2),
            ],
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(base + "/.json", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            client = httpx.Client(base_url=base, timeout=600)
            ws = client.post("/workspaces", json={"name": "upload benchmark"}).json()
            start_mb = peak_mb(server.pid)
            print(f"server peak before uploads: {start_mb:.0f} MB")
            print(f"{'size':>8} {'median s':>9} {'MB/s':>7} {'server peak MB':>15}")
            for size in args.sizes:
                path = work / f"events-{size}.csv"
                write_log(path, size)
                actual = path.stat().st_size / 2**20
                times = []
                for _ in range(args.repeat):
                    t0 = time.perf_counter()
                    with path.open("rb") as fh:
                        reply = client.post(
                            f"/workspaces/{ws['id']}/uploads",
                            data={"kind": "events"},
                            files={"file": (path.name, fh, "text/csv")},
                            headers={"accept": "application/json"},
                        )
                    times.append(time.perf_counter() - t0)
                    reply.raise_for_status()
                med = statistics.median(times)
                peak = peak_mb(server.pid)
                print(f"{actual:>6.0f}MB {med:>9.2f} {actual / med:>7.0f} {peak:>15.0f}")
                path.unlink()
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"load: {os.getloadavg()[0]:.1f} (1-minute average, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
