"""A finished run over time: SPC charts, changes checked against their promise, key moments.

``GET /runs/{run_id}/monitor?every=week|month`` runs :func:`keymoments.monitor`
on the run's own uploads and model (seconds, in a worker thread), keeps the
answer beside the run's results and shows it; with ``.json`` it answers the
JSON document ``keymoments monitor --json`` writes.
"""

from __future__ import annotations

import json
import threading
import warnings
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import Response
from starlette.requests import Request

from keymoments.errors import DataError, KeymomentsError, KeymomentsWarning, ModelError
from keymoments.model import DataFiles, parse_service
from keymoments.web.render import page
from keymoments.web.store import ID_PATTERN, NotFound, Run, Store, atomic_write

__all__ = ["router"]

router = APIRouter(tags=["runs"])
RunId = Annotated[str, PathParam(pattern=ID_PATTERN, description="A run id.")]
_lock = threading.Lock()
# the charts a monitor page shows: (name, title, method and its argument)
_CHARTS = (
    ("changes", "Each change, before and after", "plot_changes", None),
    ("moments", "Break rates per period (p-charts)", "plot_series", "moment"),
    ("outcomes", "Outcomes by the period cases began", "plot_series", "outcome"),
    ("key", "Key moments per window", "plot_key_windows", None),
)


def _store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def _compute(store: Store, run: Run, every: str) -> dict[str, Any]:
    """Monitor the run's data; the JSON document and the charts' specs."""
    from keymoments.monitoring import monitor

    service = parse_service(run.model_yaml, file="service.yaml")
    service = service.model_copy(update={"data": DataFiles()})
    try:
        events = store.upload(run.events_upload or "")
        cases = store.upload(run.cases_upload) if run.cases_upload else None
    except NotFound:
        raise DataError(
            f"a file run {run.id} read has been deleted since; upload it again and start a "
            "new run from the workspace"
        ) from None
    names: dict[str, str] = {}
    for u in (events, cases):
        if u is not None:
            path = store.upload_path(u)
            names[str(path)] = names[path.name] = u.original_name
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", KeymomentsWarning)  # they are in the result
            result = monitor(
                service,
                events=store.upload_path(events),
                cases=store.upload_path(cases) if cases else None,
                every=every,
                bootstrap=run.bootstrap,
            )
    except KeymomentsError as exc:
        message = str(exc)
        for stored, shown in names.items():
            message = message.replace(stored, shown)
        raise type(exc)(message) from None
    charts: dict[str, Any] = {}
    for name, title, method, arg in _CHARTS:
        if name == "changes" and not any(c.fit is not None for c in result.changes):
            continue
        if name == "key" and not result.windows:
            continue
        try:
            plot = getattr(result, method)
            charts[name] = {"title": title, "spec": (plot(arg) if arg else plot()).to_dict()}
        except Exception:  # a picture failing must not lose the figures
            continue
    doc = result.to_dict()
    for report in doc["data"]["files"]:
        report["file"] = names.get(report.get("file", ""), report.get("file"))
    return {"result": doc, "charts": charts}


@router.get("/runs/{run_id}/monitor", responses={200: {"content": {"text/html": {}}}})
def monitor_page(
    request: Request,
    run_id: RunId,
    every: Annotated[str, Query(description="The charts' period: week or month.")] = "week",
) -> Response:
    """The run over time: break rates and outcomes per period, changes, key moments."""
    if every not in ("week", "month"):
        raise ModelError(f"every={every!r}: use week or month")
    store = _store(request)
    run = store.run(run_id)
    if run.status != "done":
        raise DataError(f"run {run.id} is {run.status}; monitoring is available once it is done")
    cached = store.run_dir(run) / f"monitor-{every}.json"
    with _lock:  # one computation per run and period at a time; later requests read it
        if cached.exists():
            found = json.loads(cached.read_text(encoding="utf-8"))
        else:
            found = _compute(store, run, every)
            with atomic_write(cached) as tmp:
                tmp.write_text(json.dumps(found, allow_nan=False), encoding="utf-8")
    return page(
        request,
        "monitor.html",
        found["result"],
        charts=found["charts"],
        run=run,
        workspace=store.workspace(run.workspace_id),
        every=every,
    )
