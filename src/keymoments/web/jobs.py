"""Running analyses in the background, one worker process each, with live progress.

:class:`Jobs` queues runs on a small thread pool; each thread starts
``python -m keymoments.web.worker RUN_DIR``, reads its progress lines into the
database (what the status endpoint returns) and records how it ended. On
start-up, runs a previous server left queued or running are marked failed,
with a message saying to run them again. A queued or running analysis can be
cancelled (:meth:`Jobs.cancel`): its process is stopped, whatever it had
written is removed, and the run is marked ``cancelled``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from keymoments.web.store import Run, Store, Upload

__all__ = ["CANCELLED_MESSAGE", "STAGE_LABELS", "Jobs", "exit_message"]

log = logging.getLogger("keymoments.web")

CANCELLED_MESSAGE = "cancelled before it finished; nothing was kept. Run it again when ready"

STAGE_LABELS = {
    "": "Waiting for a free worker",
    "start": "Starting",
    "read": "Reading the data",
    "summarise": "Summarising journeys",
    "bootstrap": "Bootstrap: intervals",
    "barriers": "Barriers",
    "drivers": "Drivers of the experience",
    "comments": "Reading the comments",
    "write": "Writing the results and the report",
}


def exit_message(code: int, stderr: str) -> str:
    """What to tell the user when the analysis process ended without saying why.

    Example:
        >>> exit_message(-9, "")  # doctest: +ELLIPSIS
        'the analysis process was killed (SIGKILL) before it finished ...; run it again'
    """
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return (
            f"the analysis process was killed ({name}) before it finished (the machine may "
            "have run out of memory, or someone stopped it); run it again"
        )
    last = stderr.strip().splitlines()[-1] if stderr.strip() else ""
    return f"the analysis process stopped (exit status {code})" + (f": {last}" if last else "")


class Jobs:
    """The background runner of one app instance."""

    def __init__(self, store: Store, *, workers: int = 1) -> None:
        self.store = store
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="keymoments-run")
        self._procs: dict[str, subprocess.Popen[str]] = {}
        self._cancelled: set[str] = set()
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, run: Run, *, events: Upload, cases: Upload | None) -> None:
        """Queue a run over two of the workspace's uploads."""
        job = {
            "model_yaml": run.model_yaml,
            "events": str(self.store.upload_path(events)),
            "cases": str(self.store.upload_path(cases)) if cases else None,
            "bootstrap": run.bootstrap,
            # where and how a file is stored -> its name as uploaded, for messages and
            # the report (the server's folders are nobody's business; full paths first)
            "names": {
                str(self.store.upload_path(up)): up.original_name
                for up in (events, cases)
                if up is not None
            }
            | {up.stored_name: up.original_name for up in (events, cases) if up is not None},
        }
        self.store.write_json(self.store.run_dir(run) / "job.json", job)
        self._pool.submit(self._work, run)

    def cancel(self, run_id: str) -> bool:
        """Stop a queued or running analysis; False if it had already ended.

        A queued run never starts; a running one's process is terminated (it
        runs nothing that must finish: results are written only at its end, each
        atomically) and whatever it wrote is removed.
        """
        run = self.store.run(run_id)
        if run.status not in ("queued", "running"):
            return False
        with self._lock:
            self._cancelled.add(run.id)
            proc = self._procs.get(run.id)
        if proc is None:
            # queued, or not started yet: _work and _run look at the mark first
            self.store.update_run(run.id, status="cancelled", message=CANCELLED_MESSAGE)
        else:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        return True

    def _work(self, run: Run) -> None:
        if self._closed:
            return
        with self._lock:
            if run.id in self._cancelled:
                return
        try:
            self._run(run)
        except Exception as exc:  # a thread dying quietly would leave the run "running"
            log.error("run %s: the runner failed", run.id, exc_info=exc)
            with contextlib.suppress(Exception):
                self.store.update_run(
                    run.id,
                    status="failed",
                    message=f"the server could not run the analysis ({type(exc).__name__}: "
                    f"{exc}); run it again",
                )

    def _progress(self, run_id: str, **fields: int | str) -> None:
        try:
            self.store.update_run(run_id, **fields)
        except sqlite3.OperationalError as exc:  # e.g. a full disk: progress can wait
            log.warning("run %s: progress not saved (%s)", run_id, exc)

    def _run(self, run: Run) -> None:
        run_dir = self.store.run_dir(run)
        self.store.update_run(run.id, status="running", stage="start", done=0, total=0)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        # stderr to a file: a full pipe nobody reads would stall the worker
        with (run_dir / "worker.log").open("w", encoding="utf-8") as worker_log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "keymoments.web.worker", str(run_dir)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=worker_log,
                text=True,
                env=env,
            )
        with self._lock:
            self._procs[run.id] = proc
            stop = run.id in self._cancelled  # cancelled while it was starting
        if stop:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
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
                self._progress(
                    run.id, stage=msg["stage"], done=int(msg["done"]), total=int(msg["total"])
                )
        proc.stdout.close()
        code = proc.wait()
        try:
            stderr = (run_dir / "worker.log").read_text(encoding="utf-8", errors="replace")
        except OSError:
            stderr = ""
        with self._lock:
            self._procs.pop(run.id, None)
            cancelled = run.id in self._cancelled
        if self._closed:
            return  # the server is stopping; start-up will mark it interrupted
        if cancelled:
            _remove_outputs(run_dir)
            self.store.update_run(run.id, status="cancelled", message=CANCELLED_MESSAGE)
            return
        if ended.get("status") == "done" and code == 0:
            self.store.update_run(run.id, status="done", stage="done", message="")
        else:
            message = ended.get("message") or exit_message(code, stderr)
            self.store.update_run(run.id, status="failed", message=message)
        self.store.keep_reserve()  # again, if a full disk used it and space is back

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


def _remove_outputs(run_dir: Path) -> None:
    """What a cancelled run wrote (results, half-written temporary files): none is kept."""
    from keymoments.web.worker import OUTPUTS

    for path in run_dir.iterdir():
        if path.name in OUTPUTS or path.name.startswith(".tmp-"):
            with contextlib.suppress(OSError):
                path.unlink()
