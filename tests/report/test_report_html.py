"""The HTML report: right sections and numbers, self-contained, escaped, drawn by a browser."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import pytest

from keymoments.report.html import STATIC_FILES, render_report, script_json, static_path, write_html
from keymoments.report.sections import build_sections, fmt_number
from keymoments.result import AnalysisResult

EVIL = "<script>alert(1)</script>"  # the hostile name the `evil` fixture gives a moment


class _Page(HTMLParser):
    """Collects what a self-containment and structure check needs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict[str, Any]] = []
        self.refs: list[tuple[str, str, str]] = []
        self.sections: list[str] = []
        self.charts: list[str] = []
        self.alt_texts: list[str] = []
        self._script: dict[str, Any] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for name in ("src", "href", "data", "poster", "srcset", "action"):
            if name in a:
                self.refs.append((tag, name, a[name]))
        if tag == "script":
            self._script = {"attrs": a, "body": ""}
        if tag == "section":
            self.sections.append(a.get("id", ""))
        if "data-vl-spec" in a:
            self.charts.append(a["data-vl-spec"])
            self.alt_texts.append(a.get("aria-label", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.scripts.append(self._script)
            self._script = None

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script["body"] += data
        else:
            self.text.append(data)


def parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    return p


@pytest.fixture(scope="module")
def page(health: AnalysisResult) -> str:
    return render_report(health)


# the journey map, gearing, alignment, the emotion curve, the drivers (importance,
# quadrants, penalty-reward), the barriers' attributable fractions and odds ratios,
# the sentiment of the comments beside the emotion curve, and the plan's value
# against cost, frontier and spread of its return
N_CHARTS = 13


def test_the_charts_counted_here_are_the_sections_figures(health: AnalysisResult) -> None:
    ids = [f.id for s in build_sections(health) for f in s.figures]
    assert ids == [
        "journey-map", "gearing", "alignment", "emotion-plot", "drivers-plot",
        "drivers-plot-quadrants", "drivers-plot-penalty-reward", "barriers-plot",
        "barriers-plot-odds-ratios", "comments-sentiment", "portfolio-plot",
        "portfolio-plot-frontier", "portfolio-plot-uncertainty",
    ]  # fmt: skip
    assert len(ids) == N_CHARTS


def _specs(parsed: _Page) -> dict[str, Any]:
    return {
        s["attrs"]["id"]: json.loads(s["body"])
        for s in parsed.scripts
        if s["attrs"].get("type") == "application/json"
    }


_OPTIONAL_PARTS = ("emotion", "drivers", "barriers", "comments", "portfolio")


def _present(result: AnalysisResult) -> int:
    """Optional parts this result has (each adds one chart; absent ones are said so)."""
    return sum(getattr(result, a, None) is not None for a in _OPTIONAL_PARTS)


def test_sections_in_order_with_absent_parts_said_so(health: AnalysisResult, page: str) -> None:
    parsed = parse(page)
    assert parsed.sections == [
        "headline", "journey", "gearing", "alignment", "emotion", "drivers", "barriers",
        "comments", "portfolio", "data", "method",
    ]  # fmt: skip
    text = " ".join(parsed.text)
    # the optional parts this result lacks: the reader is told
    absent = len(_OPTIONAL_PARTS) - _present(health)
    assert text.count("Not part of this analysis.") == absent


def test_headline_names_the_key_moment_and_money(health: AnalysisResult, page: str) -> None:
    text = re.sub(r"\s+", " ", " ".join(parse(page).text))
    assert "Key for the user: Attend the check appointment." in text
    assert "Key for the provider: Attend the check appointment." in text
    appointment = health.moment("appointment")
    provider = appointment.deciding["provider"]
    assert provider is not None and provider.measure == "money"
    volume = health.service.volume
    assert volume == 12000
    per_year = f"{provider.recoverable * volume:,.0f}"
    lo, hi = (f"{v * volume:,.0f}" for v in provider.ci)
    assert f"£{per_year} [£{lo} to £{hi}]" in text  # the model's currency: GBP
    # the why: break rate and the completed checks recovered per 100 cases
    assert f"{appointment.break_rate:.1%} of them break it" in text
    rec = appointment.impact["check_completed"]["recoverable"]
    assert (
        f"If it never broke: Health check completed +{fmt_number(rec * 100)} per 100 cases" in text
    )
    assert "a sweet spot" in text


def test_gearing_table_holds_every_moment_with_its_interval(health: AnalysisResult) -> None:
    gearing = next(s for s in build_sections(health) if s.id == "gearing")
    table = gearing.figures[0].table
    assert table is not None
    assert [row[1] for row in table.rows] == [m.name for m in health.moments]
    row = table.rows[[m.id for m in health.moments].index("appointment")]
    imp = health.moment("appointment").impact["experience"]
    lo, hi = (fmt_number(v) for v in imp["ci"])
    assert f"{fmt_number(imp['recoverable'])}\n[{lo} to {hi}]" in row
    assert row[-2] == "user provider" and row[-1].startswith("Sweet spot")


def test_data_quality_counts_rows(health: AnalysisResult, page: str) -> None:
    text = " ".join(parse(page).text)
    rows = sum(r.rows for r in health.reports)
    assert f"{rows:,} rows read from 2 files; 0 set aside" in text
    top = health.unmapped.iloc[0]
    assert str(top["activity"]) in text and f"{int(top['n']):,}" in text


def test_page_is_self_contained(page: str) -> None:
    parsed = parse(page)
    external = [
        r for r in parsed.refs if r[1] != "href" or not r[2].startswith("#")
    ]  # only in-page anchors are allowed
    assert external == []
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "@import" not in page and "url(" not in page.split("<script", 1)[0]
    inline = [s for s in parsed.scripts if not s["attrs"]]
    assert len(inline) == len(STATIC_FILES) + 1  # the three Vega builds and the embedding call
    for name, script in zip(STATIC_FILES, inline, strict=False):
        assert script["body"] == static_path(name).read_text(encoding="utf-8")
    assert "sourceMappingURL" not in page
    # and the browser is told to fetch nothing (the Chromium test draws the charts under it)
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert csp is not None and csp.group(1).startswith("default-src 'none';")
    assert "connect-src" not in csp.group(1)  # falls back to 'none': no fetch, no XHR


def test_every_chart_has_its_spec_alt_text_and_inline_data(page: str) -> None:
    parsed = parse(page)
    specs = _specs(parsed)
    assert len(parsed.charts) == N_CHARTS and set(parsed.charts) == set(specs)
    assert all(len(t) > 40 for t in parsed.alt_texts)

    def urls(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["url"]] if isinstance(node.get("url"), str) else []
            return found + [u for v in node.values() for u in urls(v)]
        if isinstance(node, list):
            return [u for v in node for u in urls(v)]
        return []

    for spec in specs.values():
        assert spec["$schema"].endswith(f"/{alt.SCHEMA_VERSION}.json")
        assert urls(spec) == []  # data inline, nothing to load
        assert spec.get("datasets")


def test_shipped_vega_lite_matches_altair_schema() -> None:
    text = static_path("vega-lite.min.js").read_text(encoding="utf-8")
    assert f'var n="{alt.SCHEMA_VERSION.lstrip("v")}"' in text
    for name in STATIC_FILES:
        assert static_path(name.replace(".min.js", ".LICENSE")).read_text().startswith("Copyright")


def test_names_from_data_are_escaped(evil: AnalysisResult) -> None:
    page = render_report(evil)
    assert EVIL not in page
    assert "<b>stage</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Evil &amp; &lt;Co&gt;" in page
    parsed = parse(page)
    # every script element is one of ours: data never closed one or opened another
    assert len(parsed.scripts) == len(STATIC_FILES) + 1 + N_CHARTS
    assert page.lower().count("<script") == len(parsed.scripts)
    # ... and the chart specs carry the names intact, as JSON escapes
    journey = _specs(parsed)["spec-journey-map"]
    names = {row["name"] for rows in journey["datasets"].values() for row in rows}
    assert EVIL in names
    assert "\\u003c/script\\u003e" in page


def test_script_json_round_trips() -> None:
    value = {"a": "</script><!-- \u2028 & >", "n": 1.5}
    text = script_json(value)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == value


class _Part:
    """A results object as INTERFACES.md describes them (title, summary, to_dict, plot)."""

    title = "What drives <the> experience"

    def __init__(self) -> None:
        self.summary = pd.DataFrame(
            {
                "outcome": ["experience", "experience"],
                "moment": ["appointment", "evil"],
                "name": ["Attend the check appointment", EVIL],
                "importance": [0.31, 0.02],
                "lo": [0.2, 0.0],
                "hi": [0.4, 0.05],
                "relative_weight": [0.3, 0.01],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {"o": self.summary.to_dict(orient="records")}

    def plot(self) -> alt.Chart:
        return alt.Chart(self.summary).mark_bar().encode(x="importance:Q", y="name:N")


def test_a_present_part_is_drawn_from_its_title_summary_and_plot(health: AnalysisResult) -> None:
    import copy

    result = copy.deepcopy(health)
    result.drivers = _Part()  # type: ignore[assignment]
    page = render_report(result)
    parsed = parse(page)
    assert "spec-drivers-plot" in _specs(parsed)
    assert "What drives &lt;the&gt; experience" in page
    assert EVIL not in page
    text = " ".join(parsed.text)
    assert "0.31" in text and "[0.2, 0.4]" in text  # lo and hi folded into one interval
    assert "relative weight" not in text  # the report picks the drivers' main columns
    assert text.count("Not part of this analysis.") == len(_OPTIONAL_PARTS) - _present(result)


def test_write_html_writes_the_page(health: AnalysisResult, tmp_path: Path) -> None:
    out = write_html(health, tmp_path / "new" / "report.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert oct(out.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temporary left


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_charts_draw_offline_in_chromium(evil: AnalysisResult, tmp_path: Path) -> None:
    out = write_html(evil, tmp_path / "report.html")
    profile = tmp_path / "profile"
    dom = subprocess.run(
        [
            str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=15000",
            "--dump-dom", out.as_uri(),
        ],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    charts = re.findall(r'<div class="chart[^"]*"[^>]*data-vl-spec="[^"]+"[^>]*>', dom)
    assert len(charts) == N_CHARTS
    assert all('data-rendered="true"' in c for c in charts), charts
    assert dom.count("<svg") >= N_CHARTS
    # the hostile name is drawn as text inside the chart, not run
    assert "alert(1)" in dom and "<script>alert(1)" not in dom


def test_barriers_section_shows_the_barriers_figures(health: AnalysisResult) -> None:
    barriers = health.barriers
    assert barriers is not None
    section = next(s for s in build_sections(health) if s.id == "barriers")
    assert section.present and section.title == barriers.title
    table = section.figures[0].table
    assert table is not None
    assert table.columns[:4] == ["moment", "barrier", "held by", "adjusted odds ratio"]
    summary = barriers.summary
    for row, est in zip(table.rows, summary.itertuples(), strict=True):
        assert row[0] == health.moment(est.moment).name  # ids shown by their names
        assert row[1] == est.name
        assert row[2] == f"{est.prevalence:.1%}"
        assert row[5] == f"{est.attributable_fraction:.1%}"
        assert row[6] == f"[{est.af_lo:.1%}, {est.af_hi:.1%}]"


def test_a_key_moments_why_names_its_main_barriers(health: AnalysisResult, page: str) -> None:
    barriers = health.barriers
    assert barriers is not None
    top = barriers.drivers("appointment")[0]
    af, (lo, hi) = top.attributable_fraction, top.ci
    assert af is not None and lo is not None and hi is not None
    text = re.sub(r"\s+", " ", " ".join(parse(page).text))
    assert f"What stops people here: {top.name} explains {af:.0%} [{lo:.0%} to {hi:.0%}]" in text


class _Plan:
    """A plan as INTERFACES.md describes the portfolio (no headline of its own)."""

    title = "The plan"

    def __init__(self) -> None:
        self.summary = pd.DataFrame(
            {"id": ["sms", "taxi"], "name": ["Text reminder", EVIL], "chosen": [True, False]}
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": 25000,
            "chosen": ["sms"],
            "cost": 2480.0,
            "gain": {"check_completed": 0.01},
            "value": 68085.4,
            "uncertainty": {"value": {"p5": 60000.2, "p95": 75000.9}},
            "payback_months": 0.437,
        }

    def plot(self) -> alt.Chart:
        return alt.Chart(self.summary).mark_point().encode(x="id:N", y="name:N")


def test_a_plan_without_a_headline_is_said_in_a_sentence(health: AnalysisResult) -> None:
    import copy

    result = copy.deepcopy(health)
    result.portfolio = _Plan()  # type: ignore[assignment]
    sections = {s.id: s for s in build_sections(result)}
    sentence = (
        "Fund Text reminder within a budget of £25,000: it costs £2,480 a year and returns "
        "£68,085 a year in money (paying back in 0.4 months)."
    )
    assert sentence in sections["headline"].paragraphs
    assert sections["portfolio"].paragraphs == [sentence]
    assert EVIL not in render_report(result)
