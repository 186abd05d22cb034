"""The PDF report: A4 pages, the expected text, charts as vector drawings, escaped names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pypdf import PdfReader

from keymoments.errors import KeymomentsError
from keymoments.report.pdf import chart_svg, write_pdf
from keymoments.report.sections import build_sections
from keymoments.result import AnalysisResult

EVIL = "<script>alert(1)</script>"  # the hostile name the `evil` fixture gives a moment

A4 = (595.0, 842.0)  # points


@pytest.fixture(scope="module")
def reader(health: AnalysisResult, tmp_path_factory: pytest.TempPathFactory) -> PdfReader:
    path = write_pdf(health, tmp_path_factory.mktemp("pdf") / "report.pdf")
    return PdfReader(path)


def _text(reader: PdfReader) -> str:
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in reader.pages))


def test_pages_are_a4_one_section_per_page_at_least(reader: PdfReader) -> None:
    assert len(reader.pages) >= 7  # a page for each section the analysis has (absent ones share)
    landscape = []
    for page in reader.pages:
        width, height = round(float(page.mediabox.width)), round(float(page.mediabox.height))
        assert sorted((width, height)) in ([595, 842], [595, 841]), (width, height)
        landscape.append(width > height)
    # the wide journey map and gearing chart get landscape pages; the rest is portrait
    text = [page.extract_text() for page in reader.pages]
    journey = next(i for i, t in enumerate(text) if "The journey map" in t)
    assert landscape[journey] and not landscape[0]


def test_pdf_says_what_the_report_says(health: AnalysisResult, reader: PdfReader) -> None:
    text = _text(reader)
    for title in (
        "The headline",
        "The journey map",
        "Gearing, with intervals",
        "Where the two sides agree",
        "Data quality",
        "Method notes and assumptions",
    ):
        assert title in text, title  # fmt: skip
    assert "Key for the provider: Attend the check appointment." in text
    provider = health.moment("appointment").deciding["provider"]
    assert provider is not None and health.service.volume is not None
    assert f"{provider.recoverable * health.service.volume:,.0f}" in text
    # chart text is real text: the journey map's line labels and the alignment's quadrants
    assert "provider gearing" in text and "Sweet spot" in text


def test_charts_are_vector_svg(health: AnalysisResult) -> None:
    journey = next(s for s in build_sections(health) if s.id == "journey").figures[0]
    svg = chart_svg(journey.chart.to_dict())
    assert svg.lstrip().startswith("<svg") and "<text" in svg
    assert "Attend the check" in svg


def test_hostile_names_are_text_in_the_pdf(evil: AnalysisResult, tmp_path: Path) -> None:
    text = _text(PdfReader(write_pdf(evil, tmp_path / "evil.pdf")))
    assert EVIL in text  # shown as the characters it is made of


def test_a_folder_is_not_a_pdf(health: AnalysisResult, tmp_path: Path) -> None:
    with pytest.raises(KeymomentsError, match="it is a folder"):
        write_pdf(health, tmp_path)
