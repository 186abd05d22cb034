"""Workspaces: create one, upload its data, define its service model, start runs."""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from keymoments import __version__
from keymoments.errors import DataError, ModelError
from keymoments.model import parse_service
from keymoments.web.inflate import check_unpacked
from keymoments.web.jobs import STAGE_LABELS
from keymoments.web.modelform import form_to_yaml, yaml_to_form
from keymoments.web.preview import file_columns
from keymoments.web.render import page, wants_json
from keymoments.web.schemas import IndexOut, ModelOut, RunOut, UploadOut, WorkspaceOut
from keymoments.web.store import ID_PATTERN, NotFound, Run, Store, Upload, Workspace, new_id
from keymoments.web.uploads import json_body, receive_form, stored_suffix

__all__ = ["router", "run_out", "workspace_out"]

router = APIRouter(tags=["workspaces"])
WorkspaceId = Annotated[str, PathParam(pattern=ID_PATTERN, description="A workspace id.")]
_HTML: dict[str, Any] = {"content": {"text/html": {}}}
_MODEL_TEXT_LIMIT = 1_000_000
# Workspaces on one page of the list: the page stays quick with hundreds of them.
PAGE_SIZE = 50


def _store(request: Request) -> Store:
    return request.app.state.store  # type: ignore[no-any-return]


def _done(request: Request, location: str, data: Any, status_code: int = 201) -> Response:
    """After a form post: JSON for programs, a redirect (303) for browsers."""
    if wants_json(request):
        return page(request, "", data, status_code=status_code)
    return RedirectResponse(location, status_code=303)


def upload_out(store: Store, up: Upload) -> UploadOut:
    """An upload as the API shows it, with its columns."""
    try:
        columns = file_columns(store.upload_path(up))
    except (DataError, OSError):
        columns = []
    return UploadOut(
        id=up.id,
        kind=up.kind,
        name=up.original_name,
        size=up.size,
        created=up.created,
        columns=columns,
    )


def run_out(run: Run) -> RunOut:
    """A run as the API shows it (without its results)."""
    links = {}
    if run.status == "done":
        base = f"/runs/{run.id}"
        links = {
            "page": base,
            "json": f"{base}/result.json",
            "csv": f"{base}/summary.csv",
            "html": f"{base}/report.html",
            "pdf": f"{base}/report.pdf",
            "set_aside": f"{base}/set-aside.csv",
        }
    return RunOut(
        id=run.id,
        workspace_id=run.workspace_id,
        status=run.status,
        stage=run.stage,
        stage_label=STAGE_LABELS.get(run.stage, run.stage.title()),
        done=run.done,
        total=run.total,
        message=run.message,
        created=run.created,
        finished=run.finished,
        links=links,
    )


def model_error(ws: Workspace) -> str | None:
    """The model loader's message for the saved model, or None when it loads."""
    if not ws.model_yaml:
        return None
    return _model_error(ws.model_yaml)


@functools.lru_cache(maxsize=512)
def _model_error(text: str) -> str | None:
    # the same text always gives the same answer; validating it takes milliseconds,
    # which a list of hundreds of workspaces would pay on every view
    try:
        parse_service(text, file="service.yaml")
    except ModelError as exc:
        return str(exc)
    return None


def workspace_out(store: Store, ws: Workspace, *, detail: bool = True) -> WorkspaceOut:
    """A workspace as the API shows it."""
    uploads = store.uploads(ws.id)
    error = model_error(ws)
    missing = []
    if not ws.model_yaml:
        missing.append("a service model (fill in the form or upload the YAML)")
    elif error:
        missing.append("a valid service model")
    if not any(u.kind == "events" for u in uploads):
        missing.append("an events file")
    return WorkspaceOut(
        id=ws.id,
        name=ws.name,
        created=ws.created,
        model_yaml=ws.model_yaml,
        model_error=error,
        uploads=[upload_out(store, u) for u in uploads] if detail else [],
        runs=[run_out(r) for r in store.runs(ws.id)],
        ready=not missing,
        missing=missing,
    )


@router.get("/", response_model=IndexOut, responses={200: _HTML})
def index(request: Request, page_number: Annotated[int, Query(alias="page", ge=1)] = 1) -> Response:
    """The workspaces, newest first, 50 a page (``?page=2`` for the next), and a form."""
    store = _store(request)
    total = store.count_workspaces()
    pages = max(1, -(-total // PAGE_SIZE))
    shown = store.workspaces(limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE)
    data = IndexOut(
        version=__version__,
        workspaces=[workspace_out(store, ws, detail=False) for ws in shown],
        page=page_number,
        pages=pages,
        total=total,
    )
    return page(request, "index.html", data)


@router.post("/workspaces", response_model=WorkspaceOut, status_code=201)
async def create_workspace(request: Request) -> Response:
    """Make a workspace (form or JSON field ``name``)."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await json_body(request)
        name = str(body.get("name", "")) if isinstance(body, dict) else ""
    else:
        form = await request.form()
        name = str(form.get("name", ""))
    name = name.strip()[:200] or "Untitled service"
    store = _store(request)
    ws = store.create_workspace(name)
    return _done(request, f"/workspaces/{ws.id}", workspace_out(store, ws))


@router.post("/workspaces/demo", response_model=WorkspaceOut, status_code=201)
def create_demo(request: Request, cases: int = 3000) -> Response:
    """A workspace holding a built-in example (health check) ready to run."""
    from keymoments import examples

    if not 100 <= cases <= 200_000:
        raise DataError(f"cases={cases}: choose between 100 and 200,000 generated cases")
    store = _store(request)
    ws = store.create_workspace("Health check (demo data)")
    folder = store.workspace_dir(ws.id) / "uploads"
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        files = examples.write_example("health-check", tmp, n_cases=cases)
        for kind in ("events", "cases"):
            target = folder / f"{new_id()}.csv"
            os.replace(files[kind], target)
            store.add_upload(ws.id, kind, f"{kind}.csv", target, target.stat().st_size)
        text = files["service"].read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("data:")) + "\n"
    store.set_model(ws.id, text)
    ws = store.workspace(ws.id)
    return _done(request, f"/workspaces/{ws.id}", workspace_out(store, ws))


@router.get("/workspaces/{workspace_id}", response_model=WorkspaceOut, responses={200: _HTML})
def workspace(request: Request, workspace_id: WorkspaceId) -> Response:
    """A workspace: its uploads, model and runs."""
    store = _store(request)
    data = workspace_out(store, store.workspace(workspace_id))
    return page(request, "workspace.html", data, settings=request.app.state.settings)


@router.post(
    "/workspaces/{workspace_id}/uploads",
    response_model=UploadOut,
    status_code=201,
    responses={413: {"description": "Over the upload limit."}},
)
async def upload(request: Request, workspace_id: WorkspaceId) -> Response:
    """Upload an events or cases file (multipart: ``kind`` = events|cases, then ``file``).

    The file streams to disk; the workspace's newest file of each kind is the one runs use.
    """
    store = _store(request)
    ws = store.workspace(workspace_id)
    folder = store.workspace_dir(ws.id) / "uploads"
    form = await receive_form(request, folder, limit=request.app.state.settings.max_upload_bytes)
    try:
        kind = form.fields.get("kind", "events")
        if kind not in ("events", "cases"):
            raise DataError(f"kind {kind!r}: say whether the file holds 'events' or 'cases'")
        if form.file_path is None or not form.file_name:
            raise DataError("no file in the upload; choose a file to send")
        if form.size == 0:
            raise DataError(f"{form.file_name}: the file is empty")
        suffix = stored_suffix(form.file_name)
        # a .gz or .xlsx that unpacks to far more than was sent is refused here,
        # before any reader opens it (seconds for a large file: off the event loop)
        await run_in_threadpool(
            check_unpacked,
            form.file_path,
            suffix,
            limit=request.app.state.settings.max_upload_bytes,
            name=form.file_name,
        )
        target = folder / f"{new_id()}{suffix}"
        os.replace(form.file_path, target)
    except BaseException:
        form.discard()
        raise
    try:
        await run_in_threadpool(file_columns, target)  # a file read: off the event loop
    except DataError as exc:
        target.unlink()
        # the name as uploaded, never the server's path or stored name
        shown = str(exc).replace(str(target), form.file_name).replace(target.name, form.file_name)
        raise DataError(shown) from None
    except BaseException:
        target.unlink(missing_ok=True)  # a file nobody lists would stay until a restart
        raise
    try:
        up = store.add_upload(ws.id, kind, form.file_name, target, form.size)
    except BaseException:
        target.unlink(missing_ok=True)  # never keep a file the database does not list
        raise
    out = await run_in_threadpool(upload_out, store, up)
    return _done(request, f"/workspaces/{ws.id}", out)


def _columns(store: Store, ws: Workspace) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind in ("events", "cases"):
        up = store.latest_upload(ws.id, kind)
        if up is not None:
            out[kind] = upload_out(store, up).columns
    return out


def _model_page(
    request: Request,
    store: Store,
    ws: Workspace,
    text: str | None,
    error: str | None,
    status_code: int = 200,
) -> Response:
    data = ModelOut(workspace_id=ws.id, model_yaml=text, error=error, columns=_columns(store, ws))
    form = yaml_to_form(text)
    return page(
        request,
        "model.html",
        data,
        status_code=status_code,
        workspace=ws,
        form=form,
    )


@router.get("/workspaces/{workspace_id}/model", response_model=ModelOut, responses={200: _HTML})
def model_form(request: Request, workspace_id: WorkspaceId) -> Response:
    """The service-model form (and the YAML it writes)."""
    store = _store(request)
    ws = store.workspace(workspace_id)
    return _model_page(request, store, ws, ws.model_yaml, model_error(ws))


@router.post(
    "/workspaces/{workspace_id}/model",
    response_model=ModelOut,
    responses={422: {"description": "The model loader's message."}},
)
async def save_model(request: Request, workspace_id: WorkspaceId) -> Response:
    """Save the model from the form's fields, the YAML box (``yaml``) or an uploaded file.

    The text is validated by the model loader; its message (file, line, field)
    comes back with status 422 and nothing is saved.
    """
    store = _store(request)
    ws = store.workspace(workspace_id)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        with tempfile.TemporaryDirectory(dir=store.workspace_dir(ws.id)) as tmp:
            received = await receive_form(request, Path(tmp), limit=_MODEL_TEXT_LIMIT)
            fields = received.fields
            uploaded = (
                received.file_path.read_bytes()
                if received.file_path is not None and received.size
                else None
            )
    elif ctype.startswith(("application/yaml", "text/")):
        body = await request.body()
        if len(body) > _MODEL_TEXT_LIMIT:
            raise DataError("the model file is over 1 MB; is it the right file?")
        fields, uploaded = {"source": "yaml"}, body
    else:
        form = await request.form()
        fields = {k: str(v) for k, v in form.items()}
        uploaded = None
    if uploaded is not None:
        try:
            text = uploaded.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ModelError(
                f"not UTF-8 text (at byte {exc.start}); save the model as UTF-8",
                file="service.yaml",
            ) from None
    elif fields.get("source") == "yaml":
        text = fields.get("yaml", "")
    else:
        text = form_to_yaml(fields)
    text = text.replace("\r\n", "\n")
    # the model loader (YAML and validation): off the event loop
    return await run_in_threadpool(_save_model, request, store, ws, text)


def _save_model(request: Request, store: Store, ws: Workspace, text: str) -> Response:
    try:
        parse_service(text, file="service.yaml")
    except ModelError as exc:
        if wants_json(request):
            raise
        return _model_page(request, store, ws, text, str(exc), status_code=422)
    store.set_model(ws.id, text)
    if wants_json(request):
        return page(request, "", ModelOut(workspace_id=ws.id, model_yaml=text))
    return RedirectResponse(f"/workspaces/{ws.id}", status_code=303)


@router.get(
    "/workspaces/{workspace_id}/service.yaml",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/yaml": {}}}},
)
def download_model(request: Request, workspace_id: WorkspaceId) -> Response:
    """The workspace's service model, to keep or to run with ``keymoments analyse``."""
    ws = _store(request).workspace(workspace_id)
    if not ws.model_yaml:
        raise ModelError("this workspace has no service model yet; fill in the form first")
    return PlainTextResponse(
        ws.model_yaml,
        media_type="application/yaml",
        headers={"content-disposition": 'attachment; filename="service.yaml"'},
    )


@router.post("/workspaces/{workspace_id}/runs", response_model=RunOut, status_code=201)
async def start_run(request: Request, workspace_id: WorkspaceId) -> Response:
    """Start an analysis of the model with the newest uploads (optional ``bootstrap``)."""
    store = _store(request)
    ws = store.workspace(workspace_id)
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await json_body(request)
        fields = {k: str(v) for k, v in body.items()} if isinstance(body, dict) else {}
    else:
        fields = {k: str(v) for k, v in (await request.form()).items()}
    # the model check and the job file: blocking work, off the event loop
    return await run_in_threadpool(_start_run, request, store, ws, fields)


def _start_run(request: Request, store: Store, ws: Workspace, fields: dict[str, str]) -> Response:
    info = workspace_out(store, ws, detail=False)
    if not info.ready:
        raise DataError(f"workspace {ws.name!r} needs {' and '.join(info.missing)} before a run")
    if info.model_error:
        raise ModelError(info.model_error)
    bootstrap = None
    raw = fields.get("bootstrap", "").strip()
    if raw:
        if not raw.isdigit() or not 0 <= int(raw) <= 100_000:
            raise DataError(f"bootstrap {raw!r}: give a whole number of draws, 0 to 100,000")
        bootstrap = int(raw)
    events = store.latest_upload(ws.id, "events")
    cases = store.latest_upload(ws.id, "cases")
    assert events is not None and ws.model_yaml is not None
    run = store.create_run(
        ws.id,
        model_yaml=ws.model_yaml,
        events_upload=events.id,
        cases_upload=cases.id if cases else None,
        bootstrap=bootstrap,
    )
    request.app.state.jobs.submit(
        run,
        events=events,
        cases=cases,
    )
    return _done(request, f"/runs/{run.id}", run_out(run))


# -- deleting (DELETE for programs; POST .../delete for the pages' buttons) -------------

UploadId = Annotated[str, PathParam(pattern=ID_PATTERN, description="An upload id.")]


def _deleted(request: Request, location: str, what: str, item_id: str) -> Response:
    if wants_json(request):
        return JSONResponse({"deleted": {"kind": what, "id": item_id}})
    return RedirectResponse(location, status_code=303)


@router.delete("/workspaces/{workspace_id}", responses={409: {"description": "A run is going."}})
@router.post("/workspaces/{workspace_id}/delete", include_in_schema=False)
def delete_workspace(request: Request, workspace_id: WorkspaceId) -> Response:
    """Delete a workspace with its uploads, runs and results (409 while a run is going)."""
    ws = _store(request).delete_workspace(workspace_id)
    return _deleted(request, "/", "workspace", ws.id)


@router.delete(
    "/workspaces/{workspace_id}/uploads/{upload_id}",
    responses={409: {"description": "A run is using the file."}},
)
@router.post("/workspaces/{workspace_id}/uploads/{upload_id}/delete", include_in_schema=False)
def delete_upload(request: Request, workspace_id: WorkspaceId, upload_id: UploadId) -> Response:
    """Delete an uploaded file; finished runs keep their results (409 while a run uses it)."""
    store = _store(request)
    up = store.upload(upload_id)
    if up.workspace_id != workspace_id:
        raise NotFound(upload_id)
    store.delete_upload(up.id)
    return _deleted(request, f"/workspaces/{workspace_id}", "upload", up.id)
