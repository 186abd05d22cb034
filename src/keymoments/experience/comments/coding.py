"""Coding comments into themes on the engine: one 0/1 column per theme, blank as missing.

:func:`code_themes` adds to the cases table one column per theme of the
model's codebook: 1 when the comment uses one of the theme's patterns, 0 when
it uses none, missing when the comment is blank (no letter or digit). Words,
phrases and portable regular expressions are engine expressions (RE2 on
DuckDB, Java on Spark; see :mod:`.patterns`); the other regular expressions
are searched in Python on the *distinct* comments and joined back, never row
by row. The coded table is computed once (materialised) and counted in one
query.

:func:`with_themes` gives the service as analysed: its themes appended to its
barriers (a coded theme is a barrier of its comments' moment), each reading
its coded column, so the barrier machinery measures them like survey
barriers and interventions may target them.

Example:
    >>> import pandas as pd
    >>> from keymoments import Service
    >>> from keymoments.data.engine import connect
    >>> svc = Service.model_validate({
    ...     "version": 1, "name": "Clinic",
    ...     "moments": [{"id": "visit", "reached": ["seen", "dna"], "broken": ["dna"]}],
    ...     "comments": [{"id": "worries", "column": "text", "moment": "visit"}],
    ...     "themes": [{"id": "transport", "comments": "worries", "patterns": ["bus"]}]})
    >>> eng = connect()
    >>> cases = eng.from_arrow(pd.DataFrame({"case_id": ["a", "b", "c"],
    ...                                      "text": ["The BUSES!", "nothing", " "]}))
    >>> coded = code_themes(svc, cases, eng)
    >>> coded.counts["worries"].themes, coded.counts["worries"].blank
    ({'transport': 1}, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
import pandas as pd

from keymoments.data.engine import Engine
from keymoments.errors import DataError
from keymoments.experience.comments.patterns import ENGINE_LETTER, ThemePatterns, normalise
from keymoments.model import Barrier, Service

__all__ = ["CodedComments", "SourceCounts", "code_themes", "theme_column", "with_themes"]

_TEXT = "_km_text_{}"


def theme_column(service: Service, theme_id: str) -> str:
    """The cases-table column a theme is coded into (``_km_theme_<position>``)."""
    ids = [t.id for t in service.themes]
    return f"_km_theme_{ids.index(theme_id)}"


def with_themes(service: Service) -> Service:
    """The service with each theme of its codebook also a barrier of its comments' moment.

    Example:
        >>> from keymoments import Service
        >>> svc = Service.model_validate({"version": 1, "name": "x",
        ...     "moments": [{"id": "visit", "reached": ["seen"]}],
        ...     "comments": [{"id": "said", "column": "text", "moment": "visit"}],
        ...     "themes": [{"id": "bus", "name": "Getting there", "comments": "said",
        ...                 "patterns": ["bus"]}]})
        >>> [(b.id, b.moment, b.column) for b in with_themes(svc).barriers]
        [('bus', 'visit', '_km_theme_0')]
    """
    if not service.themes:
        return service
    added = [
        Barrier(
            id=t.id,
            moment=service.comment(t.comments).moment,
            column=theme_column(service, t.id),
            name=t.label,
        )
        for t in service.themes
    ]
    return service.model_copy(update={"barriers": [*service.barriers, *added]})


@dataclass
class SourceCounts:
    """One comments column counted: cases, blank comments, comments holding each theme."""

    comments: str
    column: str
    moment: str
    cases: int
    blank: int
    themes: dict[str, int] = field(default_factory=dict)
    uncoded: int = 0  # comments holding none of the themes

    @property
    def answered(self) -> int:
        """Comments with something in them (not blank)."""
        return self.cases - self.blank


@dataclass
class CodedComments:
    """The cases table with its themes coded, and the counts per comments column."""

    service: Service  # themes as barriers (see with_themes)
    cases: ibis.Table  # the cases table plus _km_text_<i> and _km_theme_<k> columns
    counts: dict[str, SourceCounts]
    python_coded: list[str]  # themes with expressions searched in Python

    def text_column(self, comments: str) -> str:
        """The column holding a comments source's normalised text (null when blank)."""
        ids = [c.id for c in self.service.comments]
        return _TEXT.format(ids.index(comments))


def _normalised(col: ir.Value) -> ir.StringValue:
    text = col.cast("string").lower().replace("\u2019", "'").replace("\u2018", "'")
    # a comment with no letter or digit is blank: missing, not "no theme"
    return ibis.ifelse(text.re_search(ENGINE_LETTER), text, ibis.null("string"))


def _check(service: Service, cases: ibis.Table | None, file: str | None) -> ibis.Table:
    if cases is None:
        raise DataError(
            "the model declares comments ("
            + ", ".join(f"{c.id!r}: column {c.column!r}" for c in service.comments)
            + ") but no cases table was given; give one with --cases FILE"
        )
    for c in service.comments:
        if c.column not in cases.columns:
            names = sorted(x for x in cases.columns if not x.startswith("__"))
            raise DataError(
                f"{file or 'the cases table'}: no column {c.column!r} (the free text of "
                f"comments {c.id!r}); columns are: {', '.join(names)}"
            )
    return cases


def code_themes(
    service: Service,
    cases: ibis.Table | None,
    engine: Engine,
    *,
    file: str | None = None,
) -> CodedComments:
    """Code every comments column of the model with its themes, on the engine.

    ``file`` names the cases table in messages. Raises :class:`DataError` when
    a comments column is not in the cases table.
    """
    table = _check(service, cases, file)
    texts = {_TEXT.format(i): _normalised(table[c.column]) for i, c in enumerate(service.comments)}
    table = table.mutate(**texts)
    patterns = {t.id: ThemePatterns.of(t.id, t.patterns) for t in service.themes}
    by_python = [t for t in service.themes if patterns[t.id].rest is not None]
    if by_python:
        table = _join_python_codes(service, table, patterns, engine)
    codes: dict[str, ir.Value] = {}
    for t in service.themes:
        text = table[_TEXT.format([c.id for c in service.comments].index(t.comments))]
        p = patterns[t.id]
        hit: ir.BooleanValue = text.re_search(p.engine) if p.engine else ibis.literal(False)
        if p.rest is not None:
            hit = hit | (table[f"_km_py_{t.id}"] == 1).fill_null(False)
        codes[theme_column(service, t.id)] = ibis.ifelse(
            text.isnull(), ibis.null("int64"), hit.cast("int64")
        )
    table = table.mutate(**codes)
    if by_python:
        table = table.drop(*[f"_km_py_{t.id}" for t in by_python])
    table = engine.materialise(table, prefix="coded_comments")
    return CodedComments(
        service=with_themes(service),
        cases=table,
        counts=_count(service, table, engine),
        python_coded=[t.id for t in by_python],
    )


def _join_python_codes(
    service: Service, table: ibis.Table, patterns: dict[str, ThemePatterns], engine: Engine
) -> ibis.Table:
    """Search the non-portable expressions in Python, once per distinct comment."""
    for i, c in enumerate(service.comments):
        themes = [t for t in service.themes if t.comments == c.id and patterns[t.id].rest]
        if not themes:
            continue
        column = _TEXT.format(i)
        distinct = engine.to_pandas(
            table.select(text=table[column]).filter(ibis._.text.notnull()).distinct()
        )
        found = pd.DataFrame({"_km_key": distinct["text"].astype(str)})
        for t in themes:
            rx = patterns[t.id].rest
            assert rx is not None
            found[f"_km_py_{t.id}"] = [int(bool(rx.search(normalise(s)))) for s in found["_km_key"]]
        codes = engine.from_arrow(found, prefix="python_codes")
        table = table.left_join(codes, table[column] == codes["_km_key"]).drop("_km_key")
    return table


def _int(value: object) -> int:
    return 0 if value is None or pd.isna(value) else int(value)  # type: ignore[call-overload]


def _count(service: Service, table: ibis.Table, engine: Engine) -> dict[str, SourceCounts]:
    ids = [c.id for c in service.comments]
    aggs: dict[str, ir.Value] = {"n": table.count()}
    for i, _ in enumerate(service.comments):
        aggs[f"blank_{i}"] = table[_TEXT.format(i)].isnull().cast("int64").sum()
        mine = [t for t in service.themes if t.comments == ids[i]]
        if mine:
            anything = ibis.literal(False)
            for t in mine:
                anything = anything | (table[theme_column(service, t.id)] == 1)
            aggs[f"uncoded_{i}"] = (
                (table[_TEXT.format(i)].notnull() & ~anything).cast("int64").sum()
            )
    for k, t in enumerate(service.themes):
        aggs[f"theme_{k}"] = table[theme_column(service, t.id)].sum()
    row = engine.to_pandas(table.aggregate(**aggs)).iloc[0]
    out: dict[str, SourceCounts] = {}
    position = {t.id: k for k, t in enumerate(service.themes)}
    for i, c in enumerate(service.comments):
        said = [t.id for t in service.themes if t.comments == c.id]
        blank = _int(row[f"blank_{i}"])
        n = _int(row["n"])
        out[c.id] = SourceCounts(
            comments=c.id,
            column=c.column,
            moment=c.moment,
            cases=n,
            blank=blank,
            themes={t: _int(row[f"theme_{position[t]}"]) for t in said},
            uncoded=_int(row[f"uncoded_{i}"]) if said else n - blank,
        )
    return out
