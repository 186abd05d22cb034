"""The analysis as a PDF for A4 paper: the HTML report's sections with charts as static SVG.

Each chart's Vega-Lite specification is turned into SVG by vl-convert (the
Vega-Lite compiler and Vega renderer in a self-contained wheel: no browser, no
Node.js), and the same template as the HTML report is laid out on A4 pages by
WeasyPrint (``@page`` rules, a page per section, wide sections landscape,
charts never split). Text stays text, so the PDF can be searched and copied.

Needs the ``pdf`` extra (``pip install 'keymoments[pdf]'``) and, for
WeasyPrint, the Pango library, which Debian installs with
``apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core``.

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=1500)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=10)
    >>> write_pdf(result, "report.pdf")  # doctest: +SKIP
    PosixPath('report.pdf')
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keymoments.errors import KeymomentsError

if TYPE_CHECKING:
    from keymoments.result import AnalysisResult

__all__ = ["chart_svg", "render_pdf", "write_pdf"]

_INSTALL = (
    "PDF output needs the pdf extra: pip install 'keymoments[pdf]'"
    " (on Debian also: apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core)"
)


def _vl_version() -> str | None:
    """The Vega-Lite version vl-convert should compile with: the one Altair writes for."""
    import altair as alt
    import vl_convert

    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return major_minor if major_minor in vl_convert.get_vegalite_versions() else None


def chart_svg(spec: dict[str, Any]) -> str:
    """One Vega-Lite specification as an SVG document (no network access allowed)."""
    try:
        import vl_convert
    except ImportError:
        raise KeymomentsError(_INSTALL) from None
    return str(vl_convert.vegalite_to_svg(spec, vl_version=_vl_version(), allowed_base_urls=[]))


def _weasyprint() -> Any:
    try:
        import weasyprint
    except ImportError:
        raise KeymomentsError(_INSTALL) from None
    except OSError as exc:  # WeasyPrint is installed but Pango is not
        raise KeymomentsError(f"{_INSTALL}; WeasyPrint could not load a library: {exc}") from None
    return weasyprint


def render_pdf(result: AnalysisResult) -> bytes:
    """The report as PDF bytes (A4, charts as vector SVG)."""
    from keymoments.report.html import render_page
    from keymoments.report.sections import build_sections

    weasyprint = _weasyprint()
    sections = build_sections(result)
    figures = {}
    for s in sections:
        for f in s.figures:
            svg = chart_svg(f.chart.to_dict())
            uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode()
            figures[f.id] = {"svg_uri": uri}
    page = render_page(result, sections, figures, "static")
    # no base_url and a fetcher allowed only data: URIs: nothing is fetched from anywhere
    fetcher = weasyprint.urls.URLFetcher(allowed_protocols=["data"], fail_on_errors=True)
    document = weasyprint.HTML(string=page, url_fetcher=fetcher)
    return bytes(document.write_pdf())


def write_pdf(result: AnalysisResult, path: str | Path) -> Path:
    """Write the report as a PDF to ``path``; returns the path.

    Raises:
        KeymomentsError: the path is a folder or cannot be written, or the PDF
            libraries are missing (the message says what to install).
    """
    from keymoments.report.html import check_writable, write_text_atomic

    target = check_writable(path)  # a bad path fails before the slow part
    data = render_pdf(result)
    return write_text_atomic(target, lambda handle: handle.write(data))
