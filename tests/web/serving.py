"""`keymoments serve` in a real process, for the fault and load tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2


def free_port() -> int:
    """A loopback port nobody listens on (the OS's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One ``keymoments serve`` process over a data folder."""

    def __init__(
        self,
        data_dir: Path,
        *,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        log_dir: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = (log_dir or data_dir.parent) / f"serve-{self.port}.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "keymoments", "serve", "--port", str(self.port)),
                    *("--data-dir", str(data_dir), *args),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, **(env or {})),
            )
        self.client = httpx2.Client(
            base_url=self.base, timeout=60, headers={"accept": "application/json"}
        )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.log.read_text()}")
            try:
                self.client.get("/.json", timeout=1)
                return
            except httpx2.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def children(self) -> list[int]:
        """The server's child processes (its analysis workers), from /proc."""
        found: list[int] = []
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                found += [int(p) for p in task.read_text().split()]
        return found

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or the OOM killer."""
        self.client.close()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@contextlib.contextmanager
def serving(data_dir: Path, **kwargs: object) -> Iterator[Server]:
    """A server for the block, stopped at its end (whatever happened)."""
    server = Server(data_dir, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
