"""The analysis as one self-contained HTML page: sections, charts and tables, offline.

Charts are Vega-Lite specifications drawn in the browser by the Vega
JavaScript shipped in ``keymoments/report/static`` and inlined in the page:
nothing is fetched when the page opens, so it works on a closed network and
can be mailed as one file. Every name that comes from data is escaped by the
template (Jinja2 autoescape); chart specifications sit in
``<script type="application/json">`` blocks with ``<``, ``>`` and ``&``
written as JSON escapes, so no data can close the script element.

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=1500)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=10)
    >>> page = render_report(result)
    >>> page.startswith("<!DOCTYPE html>"), "Attend the check appointment" in page
    (True, True)
"""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from keymoments.errors import KeymomentsError

if TYPE_CHECKING:
    import jinja2

    from keymoments.report.sections import Section
    from keymoments.result import AnalysisResult

__all__ = [
    "STATIC_FILES",
    "check_writable",
    "render_document",
    "render_report",
    "render_sections",
    "script_json",
    "static_path",
    "write_html",
]

#: the JavaScript the page inlines (and the web app serves), in load order
STATIC_FILES = ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js")


def static_path(name: str = "") -> Path:
    """Where the shipped static files live (``report/static``), or one of them."""
    base = Path(str(resources.files("keymoments.report") / "static"))
    return base / name if name else base


@cache
def _scripts() -> tuple[str, ...]:
    out = []
    for name in STATIC_FILES:
        text = static_path(name).read_text(encoding="utf-8")
        # an inline script ends at the first "</script": the shipped builds must not hold one
        if "</script" in text.lower():
            raise RuntimeError(f"{name} contains '</script' and cannot be inlined")
        out.append(text)
    return tuple(out)


def script_json(value: Any) -> str:
    """JSON that is safe inside an HTML ``<script>`` element.

    ``<``, ``>`` and ``&`` (and the line separators JavaScript treats as line
    ends) become ``\\uXXXX`` escapes, which JSON reads back as the same
    characters, so a name like ``</script><script>alert(1)`` cannot end the element.

    >>> script_json({"name": "</script>"})
    '{"name": "\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False)
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


@cache
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the report's templates (autoescape on)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("keymoments.report", "templates"),
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "j2"), default_for_string=True, default=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def _meta(result: AnalysisResult) -> str:
    pct = round(result.confidence * 100)
    volume = result.service.volume
    return (
        f"{result.n_cases:,} cases, {result.n_events:,} events"
        + (f"; {volume:,.0f} cases a year" if volume else "")
        + f"; {pct}% intervals from {result.n_boot} bootstrap resamples"
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("keymoments")
    except PackageNotFoundError:  # running from a source tree without installing
        return "dev"


def render_page(
    result: AnalysisResult,
    sections: list[Section],
    figures: dict[str, dict[str, str]],
    mode: Literal["live", "static"],
) -> str:
    """Render the report template; ``figures`` maps figure id to its spec or SVG."""
    return render_document(result.service.name, _meta(result), sections, figures, mode)


def render_document(
    title: str,
    meta: str,
    sections: list[Section],
    figures: dict[str, dict[str, str]],
    mode: Literal["live", "static"] = "live",
) -> str:
    """Render sections into the report's page under a title and a line of metadata
    (the monitor's report uses it too); ``figures`` maps figure id to its spec or SVG."""
    from markupsafe import Markup

    views = _views(sections, figures)
    env = environment()
    css = (resources.files("keymoments.report") / "templates" / "report.css").read_text("utf-8")
    return env.get_template("report.html.j2").render(
        title=title,
        meta=meta,
        version=_version(),
        sections=views,
        mode=mode,
        css=Markup(css),
        scripts=[Markup(s) for s in _scripts()] if mode == "live" else [],
    )


def _views(sections: list[Section], figures: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """The sections as the templates read them; chart specs already safe for a script."""
    from markupsafe import Markup

    views = []
    for s in sections:
        views.append(
            {
                "id": s.id,
                "title": s.title,
                "present": s.present,
                "paragraphs": s.paragraphs,
                "bullets": s.bullets,
                "tables": s.tables,
                "notes": s.notes,
                "figures": [
                    {
                        "id": f.id,
                        "alt_text": f.alt_text,
                        "caption": f.caption,
                        "table": f.table,
                        # already made safe for a <script> element by script_json
                        "spec_json": Markup(figures[f.id].get("spec_json", "")),
                        "svg_uri": figures[f.id].get("svg_uri", ""),
                    }
                    for f in s.figures
                ],
            }
        )
    return views


def render_sections(sections: list[Section], prefix: str = "report-") -> str:
    """The sections alone as HTML (no page, styles or scripts), charts as Vega-Lite specs
    in ``<script type="application/json">`` blocks beside ``[data-vl-spec]`` elements.

    The web app shows a run's results and plans with it, so its pages say what the
    report says; ``prefix`` goes before every id, to keep them apart from the page's.

    >>> from keymoments.report.sections import Section
    >>> body = render_sections([Section("plan", "The plan", paragraphs=["Fund <b>it</b>."])])
    >>> 'id="report-plan"' in body, "Fund &lt;b&gt;it&lt;/b&gt;." in body
    (True, True)
    """
    figures = {
        f.id: {"spec_json": script_json(f.chart.to_dict())} for s in sections for f in s.figures
    }
    return (
        environment()
        .get_template("_report_body.html.j2")
        .render(sections=_views(sections, figures), mode="live", prefix=prefix)
    )


def render_report(result: AnalysisResult, sections: list[Section] | None = None) -> str:
    """The whole report as one HTML page that opens offline (all JavaScript inlined).

    Sections: the headline, the journey map, gearing with intervals, alignment,
    the emotion curve, drivers, barriers, the plan, data quality and method
    notes (see :mod:`keymoments.report.sections`).
    """
    from keymoments.report.sections import build_sections

    sections = build_sections(result) if sections is None else sections
    figures = {
        f.id: {"spec_json": script_json(f.chart.to_dict())} for s in sections for f in s.figures
    }
    return render_page(result, sections, figures, "live")


def check_writable(path: str | Path) -> Path:
    """Fail early, with a clear message, when a report cannot be written at ``path``.

    Missing folders are created (as for ``--json``); a path that is a folder,
    or whose folder cannot be made or written, is a :class:`KeymomentsError`.
    """
    target = Path(path)
    if target.is_dir():
        raise KeymomentsError(
            f"cannot write the report to {target}: it is a folder; give a file name"
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeymomentsError(
            f"cannot write the report to {target}: cannot make folder {target.parent} "
            f"({exc.strerror or exc})"
        ) from None
    if not os.access(target.parent, os.W_OK):
        raise KeymomentsError(
            f"cannot write the report to {target}: folder {target.parent} is not writable"
        )
    return target


def write_text_atomic(path: str | Path, write: Any) -> Path:
    """Write through a temporary file in the same folder, then rename (no half files)."""
    target = check_writable(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise KeymomentsError(f"cannot write the report to {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is for sharing
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_html(
    result: AnalysisResult, path: str | Path, sections: list[Section] | None = None
) -> Path:
    """Write :func:`render_report` to ``path`` (UTF-8); returns the path.

    ``sections``: the report's sections when already built (the web app's worker
    also shows them on the run's page).

    Raises:
        KeymomentsError: the path is a folder, or its folder cannot be made or written.
    """
    page = render_report(result, sections).encode("utf-8")
    return write_text_atomic(path, lambda handle: handle.write(page))
