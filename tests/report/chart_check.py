"""Draw Vega-Lite specs in chromium and say what a reader would trip over.

:func:`check_specs` draws each spec with the Vega shipped in the package and
returns, per spec, every Vega or Vega-Lite warning, text marks that overlap
each other or a legend, axis labels that collide, and facet cells with no
marks. The report's chart tests use it; it can also be run by hand on a
report's specs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from keymoments.report.html import STATIC_FILES, static_path

# A pixel or two of touching is anti-aliasing, not overlap.
_TOLERANCE = 1.5

_CHECK_JS = """
async ([spec, tol]) => {
  const warnings = [];
  const sink = (kind) => (...args) => { warnings.push(kind + ": " + args.map(String).join(" ")); };
  let lvl = 2;
  const logger = {
    level(l) { if (l === undefined) return lvl; lvl = l; return logger; },
    error: (...a) => { sink("error")(...a); return logger; },
    warn: (...a) => { sink("warning")(...a); return logger; },
    info: () => logger, debug: () => logger,
  };
  const el = document.createElement("div");
  document.body.innerHTML = "";
  document.body.appendChild(el);
  try {
    await vegaEmbed(el, spec, {actions: false, renderer: "svg", logger: logger});
  } catch (err) {
    return {warnings: warnings.concat(["error: " + err.message]), overlaps: [], empty: 0};
  }
  const box = (n) => n.getBoundingClientRect();
  const clash = (a, b) =>
    Math.min(a.right, b.right) - Math.max(a.left, b.left) > tol &&
    Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > tol;
  const visible = (n) => n.textContent.trim() !== "" &&
    n.getAttribute("opacity") !== "0" && n.closest("[opacity='0']") === null;
  const overlaps = [];
  const guide = "g.role-legend, g.role-axis, g.role-title";
  const texts = Array.from(el.querySelectorAll("g.mark-text text"))
    .filter((n) => visible(n) && n.closest(guide) === null);
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) {
      if (clash(box(texts[i]), box(texts[j]))) {
        overlaps.push("text '" + texts[i].textContent + "' and '" + texts[j].textContent + "'");
      }
    }
  }
  const legends = Array.from(el.querySelectorAll("g.role-legend"));
  for (const t of texts) {
    for (const lg of legends) {
      if (clash(box(t), box(lg))) overlaps.push("text '" + t.textContent + "' and a legend");
    }
  }
  for (const axis of el.querySelectorAll("g.role-axis")) {
    const labels = Array.from(axis.querySelectorAll("g.role-axis-label text")).filter(visible);
    for (let i = 0; i + 1 < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) {
        if (clash(box(labels[i]), box(labels[j]))) {
          overlaps.push("axis labels '" + labels[i].textContent + "' and '" +
                        labels[j].textContent + "'");
        }
      }
    }
  }
  // a facet cell: a group item of a scope mark; empty when none of its own marks has an item
  let empty = 0;
  for (const cell of el.querySelectorAll("g.mark-group.role-scope > g")) {
    const marks = Array.from(cell.querySelectorAll("g[class*='role-mark']"))
      .filter((m) => m.closest(guide) === null);
    if (marks.length && !marks.some((m) => m.children.length > 0)) empty += 1;
  }
  return {warnings: warnings, overlaps: overlaps, empty: empty};
}
"""


@contextmanager
def chart_page(executable_path: str, args: list[str]) -> Iterator[Any]:
    """A chromium page with the shipped Vega scripts loaded (nothing fetched)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable_path, args=args, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_content("<!DOCTYPE html><html><body></body></html>")
            for name in STATIC_FILES:
                page.add_script_tag(content=static_path(name).read_text(encoding="utf-8"))
            yield page
        finally:
            browser.close()


def check_spec(page: Any, spec: dict[str, Any]) -> list[str]:
    """Every problem of one spec drawn in ``page``: warnings, overlaps, empty facets."""
    found = page.evaluate(_CHECK_JS, [spec, _TOLERANCE])
    problems = [str(w) for w in found["warnings"]]
    problems += [f"overlap: {o}" for o in found["overlaps"]]
    if found["empty"]:
        problems.append(f"{found['empty']} empty facet cell(s)")
    return problems


def check_specs(page: Any, specs: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Problems per named spec; specs without problems are left out."""
    out = {}
    for name, spec in specs.items():
        problems = check_spec(page, spec)
        if problems:
            out[name] = problems
    return out
