"""One analysis run, in its own process: ``python -m keymoments.web.worker RUN_DIR``.

The server writes ``RUN_DIR/job.json`` (the model text and the server-made
paths of the uploads), starts this process and reads its standard output,
one JSON object a line: progress ``{"stage", "done", "total"}`` while it
works, then ``{"status": "done"}`` or ``{"status": "failed", "message"}``.
A process of its own keeps a long analysis from slowing the pages, keeps its
memory apart and lets the server stop it; when the server dies the pipe
closes and the next progress line ends this process too.

Everything the pages show later is written here, atomically, so results
survive a restart: ``result.json``, ``summary.csv``, ``charts.json``,
``sections.json``, ``report.html`` (when the report module is present),
``set-aside.csv`` and ``result.pickle`` (for what-ifs and the PDF, which is
made when first asked for).
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import json
import os
import pickle
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keymoments.data.readers import neutralise_text
from keymoments.errors import KeymomentsError, KeymomentsWarning
from keymoments.web.exports import frame_records, write_safe_csv
from keymoments.web.store import atomic_write, is_disk_full

__all__ = ["OUTPUTS", "SECTIONS", "main", "run_job"]

# Optional parts of a result (INTERFACES.md), in the order pages show them.
SECTIONS = ("drivers", "emotion", "barriers", "comments", "portfolio")
# Every file a run writes into its folder (besides job.json and worker.log).
OUTPUTS = (
    "result.json",
    "summary.csv",
    "charts.json",
    "sections.json",
    "set-aside.csv",
    "report.html",
    "report-body.html",
    "result.pickle",
    "report.pdf",
)


def _say(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def optional(module: str, name: str) -> Callable[..., Any] | None:
    """A function from a part of keymoments that may not be installed yet."""
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None


def _write_text(path: Path, text: str) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _charts_and_sections(result: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Vega-Lite specs and tables of everything the result can show."""
    charts: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    journey = optional("keymoments.report.charts", "plot_journey_map")
    gearing = optional("keymoments.report.charts", "plot_gearing_intervals")
    alignment = optional("keymoments.report.charts", "plot_alignment_map")
    # the report's charts when it is installed (the same pictures as the report)
    if journey is not None:
        charts["journey"] = {"title": "The journey", "spec": journey(result).to_dict()}
    charts["gearing"] = {
        "title": "What fixing each moment recovers",
        "spec": (gearing(result) if gearing else result.plot_gearing()).to_dict(),
    }
    charts["alignment"] = {
        "title": "Alignment: user gearing against provider gearing",
        "spec": (alignment(result) if alignment else result.plot_alignment()).to_dict(),
    }
    for name in SECTIONS:
        part = getattr(result, name, None)
        if part is None:
            continue
        summary = part.summary
        sections[name] = {
            "title": str(getattr(part, "title", name.title())),
            "columns": [str(c) for c in summary.columns],
            "rows": frame_records(summary),
        }
        if name == "comments":
            # the voice behind the numbers: key moments' themes first, with their quotes
            key = [m.id for m in result.moments if any(m.key.values())]
            heard = list(dict.fromkeys([*key, *(t.moment for t in part.themes)]))
            sections[name]["quotes"] = part.voices(heard)
        try:
            charts[name] = {"title": sections[name]["title"], "spec": part.plot().to_dict()}
        except Exception as exc:  # a section's chart failing must not lose the run
            sections[name]["chart_error"] = f"{type(exc).__name__}: {exc}"
    return charts, sections


def _renamed(text: str, names: dict[str, str]) -> str:
    for stored, shown in names.items():
        text = text.replace(stored, shown)
    return text


def _rename_files(path: Path, names: dict[str, str]) -> None:
    """The set-aside CSV's ``file`` column names the files as uploaded, not as stored."""
    if not names:
        return
    with path.open(newline="", encoding="utf-8") as src:
        rows = list(csv.reader(src))
    if not rows or "file" not in rows[0]:
        return
    col = rows[0].index("file")
    for row in rows[1:]:
        if len(row) > col and row[col] in names:
            row[col] = neutralise_text(names[row[col]])
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)


def run_job(run_dir: Path, progress: Callable[[str, int, int], None]) -> None:
    """Analyse as ``run_dir/job.json`` says and write every result file into ``run_dir``."""
    from keymoments.analysis import analyse
    from keymoments.model import DataFiles, parse_service

    job = json.loads((run_dir / "job.json").read_text(encoding="utf-8"))
    service = parse_service(job["model_yaml"], file="service.yaml")
    # Data come only from this workspace's uploads, never from paths in the model.
    service = service.model_copy(update={"data": DataFiles()})
    names: dict[str, str] = job.get("names", {})
    try:
        result = analyse(
            service,
            events=Path(job["events"]),
            cases=Path(job["cases"]) if job.get("cases") else None,
            bootstrap=job.get("bootstrap"),
            progress=progress,
        )
    except KeymomentsError as exc:
        # say the file's name as uploaded, not the name the server stored it under
        raise type(exc)(_renamed(str(exc), names)) from None
    for report in result.reports:
        report.file = names.get(report.file, report.file)
    # the PDF (seconds of layout) is made on its first download, from result.pickle
    outputs = 5
    progress("write", 0, outputs)
    doc = result.to_dict()
    _write_text(run_dir / "result.json", json.dumps(doc, indent=1, allow_nan=False))
    write_safe_csv(result.summary, run_dir / "summary.csv")
    progress("write", 1, outputs)
    charts, sections = _charts_and_sections(result)
    _write_text(run_dir / "charts.json", json.dumps(charts, allow_nan=False, default=str))
    _write_text(run_dir / "sections.json", json.dumps(sections, allow_nan=False))
    progress("write", 2, outputs)
    if result.n_set_aside:
        with atomic_write(run_dir / "set-aside.csv") as tmp:
            result.write_set_aside(tmp)
            _rename_files(tmp, names)
    progress("write", 3, outputs)
    write_html = optional("keymoments.report.html", "write_html")
    if write_html is not None:
        from keymoments.report.html import render_sections
        from keymoments.report.sections import build_sections

        # the report's sections, once: the HTML report, and the run's page shows them too
        shown = build_sections(result)
        with atomic_write(run_dir / "report.html") as tmp:
            write_html(result, tmp, shown)
        _write_text(run_dir / "report-body.html", render_sections(shown))
    progress("write", 4, outputs)
    # what-ifs need the fitted object: keep it without its engine connection
    result._engine = None
    result._set_aside = []
    for report in result.reports:
        report.set_aside_rows = None
    try:
        blob = pickle.dumps(result)
    except Exception:  # a section that cannot be pickled: what-ifs re-run the analysis
        blob = None
    if blob is not None:
        with atomic_write(run_dir / "result.pickle") as tmp:
            tmp.write_bytes(blob)
    progress("write", outputs, outputs)


def _exit_with_parent() -> None:
    """End this process when the server that started it dies (even by SIGKILL).

    Progress lines would find the pipe closed, but a long step writes none;
    without this an orphan could analyse on for minutes after a crash.
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(3)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _disk_full_message(run_dir: Path, exc: OSError) -> str:
    # what this run wrote is removed: half a set of results is no result, and
    # the space is what the disk lacks
    for name in OUTPUTS:
        with contextlib.suppress(OSError):
            (run_dir / name).unlink(missing_ok=True)
    return (
        f"the disk is full: the results could not be written ({exc.strerror}); "
        "earlier results are untouched. Free space in the server's data folder and "
        "run it again"
    )


def main(argv: list[str] | None = None) -> int:
    """Run one job; report progress and the outcome on stdout."""
    args = sys.argv[1:] if argv is None else argv
    run_dir = Path(args[0])
    _exit_with_parent()
    warnings.simplefilter("ignore", KeymomentsWarning)  # they are in result.json

    def progress(stage: str, done: int, total: int) -> None:
        _say({"stage": stage, "done": done, "total": total})

    try:
        run_job(run_dir, progress)
    except KeymomentsError as exc:
        _say({"status": "failed", "message": str(exc)})
        return 2
    except BrokenPipeError:
        return 1  # the server went away
    except OSError as exc:
        if not is_disk_full(exc):
            return _unexpected(run_dir, exc)
        _say({"status": "failed", "message": _disk_full_message(run_dir, exc)})
        return 2
    except Exception as exc:
        return _unexpected(run_dir, exc)
    _say({"status": "done"})
    return 0


def _unexpected(run_dir: Path, exc: Exception) -> int:
    with contextlib.suppress(OSError):
        (run_dir / "traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
    _say(
        {
            "status": "failed",
            "message": f"the analysis stopped on an unexpected error ({type(exc).__name__}: "
            f"{exc}); this is a bug in keymoments, please report it with the run's "
            "traceback.txt",
        }
    )
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
