"""Spark beyond local mode, started from the pyspark package for the tests.

Two set-ups, each a handful of JVM processes this module starts and stops
(never anything it did not start):

- a standalone cluster: a master and two workers (one core, 1 GB each),
  started with the package's ``bin/spark-class``;
- a Spark Connect server (``bin/spark-submit --class ...SparkConnectServer``)
  on a local master, reached through ``SPARK_REMOTE=sc://127.0.0.1:PORT``.

Ports are chosen free at start, so two runs on one machine do not collide.
When a process cannot start (no Java, no port, too little memory, too slow)
the caller gets :class:`CannotStart` with the reason and the end of the
process' log, and skips.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

__all__ = ["CannotStart", "ConnectServer", "StandaloneCluster", "spark_home"]

# a JVM start on 2 busy cores takes 5-20 s; a worker registering, a few more
START_TIMEOUT = 180.0


class CannotStart(RuntimeError):
    """The processes could not be started here (the reason is the message)."""


def spark_home() -> Path:
    """The pyspark package's own Spark (its ``bin/`` and ``jars/``)."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class _Processes:
    """Processes started here, each in its own process group, with a log file each."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise CannotStart("no Java (java on the PATH or JAVA_HOME) to run Spark")
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []
        home = spark_home()
        self.env = {
            **os.environ,
            "SPARK_HOME": str(home),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOG_DIR": str(folder),
            "SPARK_WORKER_DIR": str(folder / "work"),
            # executors that run Python run this interpreter
            "PYSPARK_PYTHON": sys.executable,
        }
        self.env.pop("SPARK_REMOTE", None)

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = self.folder / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.folder,
                start_new_session=True,
            )
        self.procs.append((proc, log))
        return proc

    def wait(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for proc, log in self.procs:
                if proc.poll() is not None:
                    self.stop()
                    raise CannotStart(
                        f"{what}: {log.name} exited ({proc.returncode}): {_tail(log)}"
                    )
            if ready():
                return
            time.sleep(0.5)
        logs = "; ".join(f"{log.name}: {_tail(log)}" for _, log in self.procs)
        self.stop()
        raise CannotStart(f"{what} not ready after {START_TIMEOUT:.0f} s ({logs})")

    def stop(self) -> None:
        """Stop every process started here: SIGTERM to its group, then SIGKILL."""
        for proc, _ in reversed(self.procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc, _ in reversed(self.procs):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        self.procs.clear()


def _tail(log: Path, lines: int = 5) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    return " | ".join(text.strip().splitlines()[-lines:]) or "(empty log)"


class StandaloneCluster(_Processes):
    """A standalone master and two one-core workers on this machine.

    ``url`` is the master's ``spark://127.0.0.1:PORT``; the fixture passes it
    as ``--spark-master``. ``client_env`` points a driver at this cluster's
    ``spark-defaults.conf``: a few shuffle partitions, as a cluster of two
    cores would be set up (Spark's default 200 makes every query 200 tasks).
    """

    def __init__(self, folder: Path, *, workers: int = 2) -> None:
        super().__init__(folder)
        conf = folder / "conf"
        conf.mkdir(exist_ok=True)
        (conf / "spark-defaults.conf").write_text(
            "spark.sql.shuffle.partitions 4\nspark.ui.enabled false\n"
        )
        self.client_env = {"SPARK_CONF_DIR": str(conf)}
        port, ui = _free_port(), _free_port()
        self.url = f"spark://127.0.0.1:{port}"
        self.ui = f"http://127.0.0.1:{ui}/json/"
        spark_class = str(spark_home() / "bin" / "spark-class")
        master = [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1"]
        self.start("master", [*master, "--port", str(port), "--webui-port", str(ui)])
        self.wait(lambda: _port_open(port), "the Spark master")
        for i in range(workers):
            worker = [spark_class, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1"]
            worker += ["--cores", "1", "--memory", "1g", "--webui-port", str(_free_port())]
            self.start(f"worker-{i + 1}", [*worker, "--work-dir", str(folder / "work"), self.url])
        self.wait(lambda: self.alive_workers() >= workers, f"{workers} Spark workers")

    def alive_workers(self) -> int:
        try:
            with urllib.request.urlopen(self.ui, timeout=2) as page:
                state = json.load(page)
        except OSError:
            return 0
        return sum(1 for w in state.get("workers", []) if w.get("state") == "ALIVE")


class ConnectServer(_Processes):
    """A Spark Connect server on a local master; ``remote`` is its ``sc://`` address."""

    def __init__(self, folder: Path, *, cores: int = 2) -> None:
        super().__init__(folder)
        port = _free_port()
        self.remote = f"sc://127.0.0.1:{port}"
        settings = {
            "spark.connect.grpc.binding.address": "127.0.0.1",
            "spark.connect.grpc.binding.port": str(port),
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.session.timeZone": "UTC",
            "spark.sql.shuffle.partitions": "4",
        }
        args = [str(spark_home() / "bin" / "spark-submit")]
        args += ["--class", "org.apache.spark.sql.connect.service.SparkConnectServer"]
        args += ["--master", f"local[{cores}]", "--driver-memory", "2g"]
        for key, value in settings.items():
            args += ["--conf", f"{key}={value}"]
        self.start("connect-server", args)
        self.wait(lambda: _port_open(port), "the Spark Connect server")
