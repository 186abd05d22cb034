"""The JSON shapes the API answers with (response models, described at /openapi.json)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

__all__ = [
    "ErrorOut",
    "IndexOut",
    "ModelOut",
    "PlanOut",
    "RunOut",
    "UploadOut",
    "WorkspaceOut",
]


class UploadOut(BaseModel):
    """An uploaded file; ``name`` is the file's name as uploaded (for display)."""

    id: str
    kind: str
    name: str
    size: int
    created: str
    columns: list[str] = []


class RunOut(BaseModel):
    """A run and its progress; ``links`` name its downloads once it is done."""

    id: str
    workspace_id: str
    status: str
    stage: str
    stage_label: str
    done: int
    total: int
    message: str
    created: str
    finished: str | None
    links: dict[str, str] = {}
    result: dict[str, Any] | None = None
    sections: dict[str, Any] = {}
    portfolio_available: bool = False


class WorkspaceOut(BaseModel):
    """A workspace with its uploads, model and runs."""

    id: str
    name: str
    created: str
    model_yaml: str | None
    model_error: str | None = None
    uploads: list[UploadOut] = []
    runs: list[RunOut] = []
    ready: bool = False
    missing: list[str] = []


class IndexOut(BaseModel):
    """Every workspace."""

    version: str
    workspaces: list[WorkspaceOut]
    page: int = 1  # this page of the list (50 workspaces a page, newest first)
    pages: int = 1
    total: int = 0  # workspaces in all


class ModelOut(BaseModel):
    """The workspace's service model as YAML, or the loader's error."""

    workspace_id: str
    model_yaml: str | None
    error: str | None = None
    columns: dict[str, list[str]] = {}


class PlanOut(BaseModel):
    """A what-if or a plan from the portfolio (its ``to_dict()``) and its table."""

    run_id: str
    kind: str
    title: str
    result: dict[str, Any]
    columns: list[str]
    rows: list[dict[str, Any]]


class ErrorOut(BaseModel):
    """Every error: ``{"error": {"status", "type", "message"}}``."""

    error: dict[str, Any]
