"""Runs: progress, results, downloads, and what-ifs and plans on a finished run."""

from __future__ import annotations

import math
import pickle
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from keymoments.errors import DataError, KeymomentsError
from keymoments.model import DataFiles, parse_service
from keymoments.web.exports import csv_text, frame_records
from keymoments.web.render import page, wants_json
from keymoments.web.routes.workspaces import run_out
from keymoments.web.schemas import PlanOut, RunOut
from keymoments.web.store import ID_PATTERN, NotFound, Run, Store, atomic_write
from keymoments.web.uploads import json_body
from keymoments.web.worker import SECTIONS, optional

__all__ = ["router"]

router = APIRouter(tags=["runs"])
RunId = Annotated[str, PathParam(pattern=ID_PATTERN, description="A run id.")]
_HTML: dict[str, Any] = {"content": {"text/html": {}}}

# Downloads: URL name -> (file in the run folder, media type). A fixed table,
# so a request names a download, never a file.
DOWNLOADS: dict[str, tuple[str, str]] = {
    "result": ("result.json", "application/json"),
    "summary.csv": ("summary.csv", "text/csv; charset=utf-8"),
    "set-aside.csv": ("set-aside.csv", "text/csv; charset=utf-8"),
    "report.html": ("report.html", "text/html; charset=utf-8"),
    "report.pdf": ("report.pdf", "application/pdf"),
}
_CACHE_SIZE = 4


def _store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def _finished(store: Store, run_id: str) -> tuple[Run, Path]:
    run = store.run(run_id)
    if run.status != "done":
        raise DataError(
            f"run {run.id} is {run.status}"
            + (f" ({run.message})" if run.message else "")
            + "; results are available once it is done"
        )
    return run, store.run_dir(run)


def _run_detail(store: Store, run: Run) -> RunOut:
    out = run_out(run)
    if run.status == "done":
        folder = store.run_dir(run)
        out.result = store.read_json(folder / "result.json")
        sections = folder / "sections.json"
        out.sections = store.read_json(sections) if sections.exists() else {}
        out.portfolio_available = optional("keymoments.portfolio", "what_if") is not None
    return out


@router.get("/runs/{run_id}", response_model=RunOut, responses={200: _HTML})
def run_page(request: Request, run_id: RunId) -> Response:
    """A run: live progress while it works, then its results."""
    store = _store(request)
    run = store.run(run_id)
    data = _run_detail(store, run)
    charts: dict[str, Any] = {}
    if run.status == "done" and not wants_json(request):
        path = store.run_dir(run) / "charts.json"
        charts = store.read_json(path) if path.exists() else {}
    ws = store.workspace(run.workspace_id)
    service = None
    if run.status == "done":
        service = parse_service(run.model_yaml, file="service.yaml")
    return page(
        request,
        "run.html",
        data,
        charts=charts,
        workspace=ws,
        service=service,
        available={
            name: (store.run_dir(run) / file).exists() for name, (file, _) in DOWNLOADS.items()
        }
        | {"report.pdf": optional("keymoments.report.pdf", "write_pdf") is not None},
    )


@router.get("/runs/{run_id}/status", response_model=RunOut)
def run_status(request: Request, run_id: RunId) -> RunOut:
    """A run's status and progress only (light enough to poll twice a second)."""
    return run_out(_store(request).run(run_id))


@router.post("/runs/{run_id}/retry", response_model=RunOut, status_code=201)
def retry(request: Request, run_id: RunId) -> Response:
    """Run a failed (or any) run again with the same model and uploads."""
    store = _store(request)
    old = store.run(run_id)
    if old.events_upload is None:
        raise DataError(f"run {old.id} has no events file to run again")
    try:
        events = store.upload(old.events_upload)
        cases = store.upload(old.cases_upload) if old.cases_upload else None
    except NotFound:
        raise DataError(
            f"a file run {old.id} read has been deleted since; upload it again and start "
            "a new run from the workspace"
        ) from None
    run = store.create_run(
        old.workspace_id,
        model_yaml=old.model_yaml,
        events_upload=events.id,
        cases_upload=cases.id if cases else None,
        bootstrap=old.bootstrap,
    )
    request.app.state.jobs.submit(
        run,
        events=events,
        cases=cases,
    )
    if wants_json(request):
        return page(request, "", run_out(run), status_code=201)
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.post("/runs/{run_id}/cancel", response_model=RunOut)
def cancel(request: Request, run_id: RunId) -> Response:
    """Stop a queued or running analysis (nothing it wrote is kept); a run that has
    already ended is left as it is."""
    store = _store(request)
    run = store.run(run_id)
    request.app.state.jobs.cancel(run.id)
    if wants_json(request):
        return page(request, "", run_out(store.run(run.id)))
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


@router.delete("/runs/{run_id}", responses={409: {"description": "The run is going."}})
@router.post("/runs/{run_id}/delete", include_in_schema=False)
def delete_run(request: Request, run_id: RunId) -> Response:
    """Delete a finished or failed run and its results (409 while it is going)."""
    run = _store(request).delete_run(run_id)
    with _cache_lock:
        _cache.pop(run.id, None)
    if wants_json(request):
        return JSONResponse({"deleted": {"kind": "run", "id": run.id}})
    return RedirectResponse(f"/workspaces/{run.workspace_id}", status_code=303)


def _make_pdf(store: Store, run: Run, path: Path) -> None:
    """Lay out the PDF report of a finished run (seconds; once, then it is kept)."""
    write_pdf = optional("keymoments.report.pdf", "write_pdf")
    if write_pdf is None:
        return
    result = _result(store, run)
    try:
        with atomic_write(path) as tmp:
            write_pdf(result, tmp)
    except KeymomentsError as exc:
        # e.g. the PDF libraries are missing: say so on every later try, quickly
        (path.parent / (path.name + ".error")).write_text(str(exc), encoding="utf-8")


def _download(request: Request, run_id: str, name: str) -> Response:
    file, media = DOWNLOADS[name]
    store = _store(request)
    run, folder = _finished(store, run_id)
    path = folder / file
    if name == "report.pdf" and not path.exists() and not (folder / (file + ".error")).exists():
        _make_pdf(store, run, path)
    if not path.exists():
        if name == "set-aside.csv":
            raise NotFound("set-aside.csv (no row was set aside in this run)")
        error = folder / (file + ".error")
        if error.exists():
            raise KeymomentsError(error.read_text(encoding="utf-8"))
        raise NotFound(f"{file} (this version of keymoments does not make it)")
    slug = "".join(c if c.isalnum() else "-" for c in file.rsplit(".", 1)[0])
    download = f"keymoments-{run.id}-{slug}.{file.rsplit('.', 1)[1]}"
    disposition = "inline" if name == "report.html" else "attachment"
    return FileResponse(
        path,
        media_type=media,
        headers={"content-disposition": f'{disposition}; filename="{download}"'},
    )


@router.get(
    "/runs/{run_id}/result",
    responses={200: {"content": {"application/json": {}}}},
    summary="The JSON result (also at /runs/{run_id}/result.json)",
)
def download_json(request: Request, run_id: RunId) -> Response:
    """The whole JSON result, as ``keymoments analyse --json`` writes it."""
    return _download(request, run_id, "result")


@router.get("/runs/{run_id}/summary.csv", responses={200: {"content": {"text/csv": {}}}})
def download_csv(request: Request, run_id: RunId) -> Response:
    """The moments table as CSV (text that could run as a formula is neutralised)."""
    return _download(request, run_id, "summary.csv")


@router.get("/runs/{run_id}/set-aside.csv", responses={200: {"content": {"text/csv": {}}}})
def download_set_aside(request: Request, run_id: RunId) -> Response:
    """Rows that could not be used, with the reason for each."""
    return _download(request, run_id, "set-aside.csv")


@router.get("/runs/{run_id}/report.html", responses={200: _HTML})
def download_html(request: Request, run_id: RunId) -> Response:
    """The self-contained HTML report."""
    return _download(request, run_id, "report.html")


@router.get("/runs/{run_id}/report.pdf", responses={200: {"content": {"application/pdf": {}}}})
def download_pdf(request: Request, run_id: RunId) -> Response:
    """The PDF report (laid out on the first request, then kept)."""
    return _download(request, run_id, "report.pdf")


@router.get("/runs/{run_id}/sections/{section}.csv", responses={200: {"content": {"text/csv": {}}}})
def download_section(request: Request, run_id: RunId, section: str) -> Response:
    """One section's table (drivers, emotion, barriers, portfolio) as CSV."""
    if section not in SECTIONS:
        raise NotFound(section)
    store = _store(request)
    _, folder = _finished(store, run_id)
    path = folder / "sections.json"
    sections = store.read_json(path) if path.exists() else {}
    if section not in sections:
        raise NotFound(f"{section} (this run has no {section} section)")
    import pandas as pd

    part = sections[section]
    frame = pd.DataFrame(part["rows"], columns=part["columns"])
    return Response(
        csv_text(frame),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="keymoments-{run_id}-{section}.csv"'
        },
    )


# -- what-ifs and plans ---------------------------------------------------------------

_cache: OrderedDict[str, Any] = OrderedDict()
_cache_lock = threading.Lock()


def _result(store: Store, run: Run) -> Any:
    """The fitted result of a finished run: kept in memory, from its pickle, or re-run."""
    with _cache_lock:
        if run.id in _cache:
            _cache.move_to_end(run.id)
            return _cache[run.id]
    folder = store.run_dir(run)
    blob = folder / "result.pickle"
    result: Any = None
    if blob.exists():
        try:
            # written by our own worker into a server-made folder, never uploaded
            result = pickle.loads(blob.read_bytes())
        except Exception:
            result = None
    if result is None:
        from keymoments.analysis import analyse

        service = parse_service(run.model_yaml, file="service.yaml")
        service = service.model_copy(update={"data": DataFiles()})
        events = store.upload_path(store.upload(run.events_upload or ""))
        cases = store.upload_path(store.upload(run.cases_upload)) if run.cases_upload else None
        result = analyse(service, events=events, cases=cases, bootstrap=run.bootstrap)
    with _cache_lock:
        _cache[run.id] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _portfolio(name: str) -> Any:
    fn = optional("keymoments.portfolio", name)
    if fn is None:
        raise KeymomentsError(
            "what-ifs and plans need keymoments' portfolio module, which this version "
            "does not have; upgrade keymoments"
        )
    return fn


def _number(fields: dict[str, str], key: str, what: str) -> float | None:
    raw = fields.get(key, "").replace(",", "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise DataError(f"{what} {raw!r}: expected a number") from None
    if not math.isfinite(value):  # nan, inf and 1e999 all parse as floats
        raise DataError(f"{what} {raw!r}: expected a finite number")
    return value


async def _fields(request: Request) -> tuple[dict[str, str], dict[str, list[str]]]:
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await json_body(request)
        if not isinstance(body, dict):
            raise DataError("expected a JSON object")
        single = {k: str(v) for k, v in body.items() if not isinstance(v, list | dict)}
        lists = {k: [str(x) for x in v] for k, v in body.items() if isinstance(v, list)}
        for k, v in body.items():
            if isinstance(v, dict):
                for kk, vv in v.items():
                    single[f"{k}-{kk}"] = str(vv)
        return single, lists
    form = await request.form()
    single = {k: str(v) for k, v in form.items()}
    lists = {k: [str(x) for x in form.getlist(k)] for k in form}
    return single, lists


def _plan_out(run: Run, kind: str, obj: Any) -> PlanOut:
    summary = obj.summary
    return PlanOut(
        run_id=run.id,
        kind=kind,
        title=str(getattr(obj, "title", "What if")),
        result=obj.to_dict(),
        columns=[str(c) for c in summary.columns],
        rows=frame_records(summary),
    )


def _plan_page(
    request: Request, run: Run, data: PlanOut, charts: dict[str, Any] | None = None
) -> Response:
    store = _store(request)
    return page(
        request,
        "plan.html",
        data,
        workspace=store.workspace(run.workspace_id),
        run=run,
        charts=charts or {},
    )


@router.post("/runs/{run_id}/what-if", response_model=PlanOut, responses={200: _HTML})
async def what_if(request: Request, run_id: RunId) -> Response:
    """What the chosen interventions (``intervention``, repeated) and break rates would buy.

    Fields: ``intervention`` (ids, repeated), ``break_rate-MOMENT`` (new break rate
    in percent). JSON: ``{"intervention": [...], "break_rate": {"MOMENT": 12.5}}``.
    """
    store = _store(request)
    run, _ = await run_in_threadpool(_finished, store, run_id)
    fn = _portfolio("what_if")
    single, lists = await _fields(request)
    # everything below may take seconds (re-running the analysis when its stored
    # result is gone): off the event loop, so other pages keep answering
    return await run_in_threadpool(_what_if, request, store, run, fn, single, lists)


def _what_if(
    request: Request,
    store: Store,
    run: Run,
    fn: Any,
    single: dict[str, str],
    lists: dict[str, list[str]],
) -> Response:
    service = parse_service(run.model_yaml, file="service.yaml")
    known = [i.id for i in service.interventions]
    chosen = lists.get("intervention", [])
    for iid in chosen:
        if iid not in known:
            raise DataError(
                f"intervention {iid!r} is not in the model; known: {', '.join(known) or 'none'}"
            )
    rates: dict[str, float] = {}
    for m in service.moments:
        value = _number(single, f"break_rate-{m.id}", f"break rate of {m.id!r}")
        if value is not None:
            if not 0 <= value <= 100:
                raise DataError(f"break rate of {m.id!r} {value}: give a percentage, 0 to 100")
            rates[m.id] = value / 100
    result = _result(store, run)
    outcome = fn(result, interventions=tuple(chosen), break_rates=rates or None)
    return _plan_page(request, run, _plan_out(run, "what_if", outcome), _plots(outcome, ("plot",)))


@router.post("/runs/{run_id}/plan", response_model=PlanOut, responses={200: _HTML})
async def plan(request: Request, run_id: RunId) -> Response:
    """The best set of interventions within a budget.

    Fields: ``budget`` (default: the model's), ``objective`` (``net``, the default, or ``value``),
    ``include`` / ``exclude`` (ids, repeated), ``uncertainty`` (``on``/``off``,
    the Monte Carlo spread; default on).
    """
    store = _store(request)
    run, _ = await run_in_threadpool(_finished, store, run_id)
    fn = _portfolio("optimise")
    single, lists = await _fields(request)
    budget = _number(single, "budget", "budget")
    objective = single.get("objective", "net") or "net"
    uncertainty = single.get("uncertainty", "on").lower() not in ("off", "false", "0", "no")

    def work() -> Response:  # seconds of work: off the event loop
        result = _result(store, run)
        outcome = fn(
            result,
            budget=budget,
            objective=objective,
            include=tuple(lists.get("include", [])),
            exclude=tuple(lists.get("exclude", [])),
            uncertainty=uncertainty,
        )
        charts = _plots(outcome, ("plot", "plot_frontier"))
        return _plan_page(request, run, _plan_out(run, "plan", outcome), charts)

    return await run_in_threadpool(work)


def _plots(obj: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The object's charts as Vega-Lite specs (a chart that fails is left out)."""
    out: dict[str, Any] = {}
    for name in names:
        method = getattr(obj, name, None)
        if method is None:
            continue
        try:
            out[name] = method().to_dict()
        except Exception:  # a picture failing must not lose the figures
            continue
    return out
