"""``code_comments``: what people say in a cases table, coded by the model's codebook.

The comments columns the model declares (``comments:``) are coded with its
themes (``themes:``) on the engine, then described: per theme how many
comments hold it, their sentiment and the most representative of them
(personal data masked); with ``suggest=K``, K candidate themes for a
codebook. No events are needed. :func:`keymoments.analyse` does the same
inside an analysis, where the themes also become barriers of their moments.

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=1000)
    >>> said = keymoments.code_comments(ex.service, cases=ex.cases, suggest=3)
    >>> said.sources[0].id, len(said.suggestions)
    ('worries', 3)
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

from keymoments.data.engine import Engine, connect
from keymoments.data.inputs import DataInput, read_case_input, resolve_input
from keymoments.errors import DataError, DataWarning, ModelError
from keymoments.experience.comments.build import SAMPLE_LIMIT, describe_comments
from keymoments.experience.comments.coding import code_themes
from keymoments.experience.comments.results import CommentResults
from keymoments.model import Service, load_service

__all__ = ["CommentResults", "code_comments"]


def code_comments(
    service: Service | str | Path,
    *,
    cases: DataInput = None,
    engine: str | Engine | None = None,
    suggest: int | None = None,
    seed: int | None = None,
    limit: int = SAMPLE_LIMIT,
    progress: Callable[[str, int, int], None] | None = None,
) -> CommentResults:
    """Code and describe the comments of a cases table (see the module doc).

    Args:
        service: a :class:`~keymoments.model.Service` or the path of its YAML file;
            it must declare ``comments:`` (a codebook under ``themes:`` is optional).
        cases: the cases table (path or DataFrame); defaults to the model's ``data.cases``.
        engine: ``"duckdb"`` (default), ``"spark"`` or an Engine.
        suggest: propose this many candidate themes per comments column.
        seed: seed of the suggestions (default: the model's ``analysis.seed``).
        limit: comments read per column for sentiment, quotes and suggestions.
        progress: called as ``progress("comments", done, total)``.

    Raises:
        ModelError: the model declares no comments. DataError: no cases table,
        or a comments column is not in it.
    """
    if not isinstance(service, Service):
        service = load_service(service)
    if not service.comments:
        raise ModelError(
            "the model declares no comments; add the free-text column under 'comments:', "
            "e.g. comments: [{id: worries, column: worries_text, moment: appointment}]",
            file=str(service.source) if service.source else None,
            field="comments",
        )
    cases_in = resolve_input(service, cases, "cases")
    if cases_in is None:
        raise DataError(
            f"service {service.name!r}: no cases table; give --cases FILE or name one under "
            "'data: {cases: ...}' in the model"
        )
    eng = connect(engine)
    notify = progress or (lambda stage, done, total: None)
    with tempfile.TemporaryDirectory(prefix="keymoments-") as tmp:
        notify("read", 0, 1)
        table = read_case_input(service, cases_in, Path(tmp), eng)
        notify("read", 1, 1)
        if table.report.n_set_aside:
            warnings.warn(
                f"{table.report.file}: {table.report.n_set_aside:,} rows set aside "
                f"({', '.join(f'{n:,} {why}' for why, n in table.report.set_aside.items())})",
                DataWarning,
                stacklevel=2,
            )
        try:
            coded = code_themes(service, table.table, eng, file=table.report.file)
            return describe_comments(
                coded,
                eng,
                suggest=suggest,
                seed=service.analysis.seed if seed is None else seed,
                confidence=service.analysis.confidence,
                limit=limit,
                progress=lambda done, total: notify("comments", done, total),
            )
        finally:
            if not isinstance(engine, Engine):
                eng.close()  # made here; the caller's own engine stays open
