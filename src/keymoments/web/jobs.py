"""Running analyses in the background, one worker process each, with live progress.

:class:`Jobs` queues runs on a small thread pool; each thread starts
``python -m keymoments.web.worker RUN_DIR``, reads its progress lines into the
database (what the status endpoint returns) and records how it ended. On
start-up, runs a previous server left queued or running are marked failed,
with a message saying to run them again.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from keymoments.web.store import Run, Store, Upload

__all__ = ["STAGE_LABELS", "Jobs"]

STAGE_LABELS = {
    "": "Waiting for a free worker",
    "start": "Starting",
    "read": "Reading the data",
    "summarise": "Summarising journeys",
    "bootstrap": "Bootstrap: intervals",
    "barriers": "Barriers",
    "drivers": "Drivers of the experience",
    "write": "Writing the results and the report",
}


class Jobs:
    """The background runner of one app instance."""

    def __init__(self, store: Store, *, workers: int = 1) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="keymoments-run")
        self._procs: dict[str, subprocess.Popen[str]] = {}
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, run: Run, *, events: Upload, cases: Upload | None) -> None:
        """Queue a run over two of the workspace's uploads."""
        job = {
            "model_yaml": run.model_yaml,
            "events": str(self.store.upload_path(events)),
            "cases": str(self.store.upload_path(cases)) if cases else None,
            "bootstrap": run.bootstrap,
            # stored name -> name as uploaded, for messages and the report
            "names": {up.stored_name: up.original_name for up in (events, cases) if up is not None},
        }
        self.store.write_json(self.store.run_dir(run) / "job.json", job)
        self._pool.submit(self._work, run)

    def _work(self, run: Run) -> None:
        if self._closed:
            return
        run_dir = self.store.run_dir(run)
        self.store.update_run(run.id, status="running", stage="start", done=0, total=0)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # stderr to a file: a full pipe nobody reads would stall the worker
        with (run_dir / "worker.log").open("w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "keymoments.web.worker", str(run_dir)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
            )
        with self._lock:
            self._procs[run.id] = proc
        ended: dict[str, str] = {}
        last = 0.0
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "status" in msg:
                ended = msg
                continue
            now = time.monotonic()
            # at most ~10 writes a second, but every stage change and stage end
            if now - last > 0.1 or msg["done"] in (0, msg["total"]):
                last = now
                self.store.update_run(
                    run.id, stage=msg["stage"], done=int(msg["done"]), total=int(msg["total"])
                )
        proc.stdout.close()
        code = proc.wait()
        stderr = (run_dir / "worker.log").read_text(encoding="utf-8", errors="replace")
        with self._lock:
            self._procs.pop(run.id, None)
        if self._closed:
            return  # the server is stopping; start-up will mark it interrupted
        if ended.get("status") == "done" and code == 0:
            self.store.update_run(run.id, status="done", stage="done", message="")
        else:
            message = ended.get("message") or (
                f"the analysis process stopped (exit status {code})"
                + (f": {stderr.strip().splitlines()[-1]}" if stderr.strip() else "")
            )
            self.store.update_run(run.id, status="failed", message=message)

    def close(self) -> None:
        """Stop running analyses (they are marked failed at next start-up)."""
        self._closed = True
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)
