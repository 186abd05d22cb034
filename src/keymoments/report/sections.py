"""The report's content, apart from how it is drawn: sections of sentences, tables and charts.

:func:`build_sections` turns an :class:`~keymoments.result.AnalysisResult` into
a list of :class:`Section` objects holding plain strings (never markup: the
templates escape every one of them), :class:`Table` objects and Altair charts.
The HTML page draws the charts with the Vega JavaScript shipped in the
package; the PDF draws them as static SVG. Both read the same sections, so the
two documents always say the same thing.

Optional parts of an analysis (``result.drivers``, ``result.emotion``,
``result.barriers``, ``result.portfolio``) are rendered from what every such
results object has: ``.title``, ``.summary`` (a table), ``.plot()`` (and
``plot_frontier()`` for the plan). A part that is absent gets a short
"not part of this analysis" section, so a reader knows it was not forgotten.

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=1500)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=10)
    >>> [s.id for s in build_sections(result)][:3]
    ['headline', 'journey', 'gearing']
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from keymoments.report import charts

if TYPE_CHECKING:
    import altair as alt

    from keymoments.result import AnalysisResult, MomentResult

__all__ = ["Figure", "Section", "Table", "build_sections", "fmt_number"]


@dataclass
class Table:
    """A plain table: a caption, column names and rows of display strings."""

    caption: str
    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)


@dataclass
class Figure:
    """A chart with its text alternative: a short alt text and the data as a table."""

    id: str
    chart: alt.TopLevelMixin
    alt_text: str
    caption: str
    table: Table | None = None


@dataclass
class Section:
    """One section of the report: a title, paragraphs, figures, tables, notes."""

    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    bullets: list[str | tuple[str, str]] = field(default_factory=list)  # (bold lead, rest)
    figures: list[Figure] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    present: bool = True


# -- number formatting ------------------------------------------------------------


def fmt_number(value: Any, digits: int = 3) -> str:
    """A number for people: thousands separated, ``digits`` significant figures, no ``-0``.

    >>> fmt_number(255461.3), fmt_number(0.14219), fmt_number(-0.00001), fmt_number(None)
    ('255,461', '0.142', '0', '–')
    """
    if value is None or isinstance(value, bool):
        return "–" if value is None else str(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if v == 0 or abs(v) < 10 ** -(digits + 1):
        return "0"
    text = f"{v:.{digits}g}"
    if "e" in text:
        text = f"{v:.{digits + 2}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "0") else text


def _pct(value: float | None, digits: int = 1) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:.{digits}%}"


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _interval(lo: float, hi: float) -> str:
    return f"[{fmt_number(lo)} to {fmt_number(hi)}]"


# -- the sections ---------------------------------------------------------------


def build_sections(result: AnalysisResult) -> list[Section]:
    """Every section of the report, in reading order."""
    sections = [headline_section(result)]
    if getattr(result, "survey_only", False) or not any(m.impact for m in result.moments):
        # a survey without an event log: drivers and emotion, no journey figures
        s = Section("journey", "The journey map", present=False)
        s.paragraphs.append(
            "Not part of this analysis: no event log was given (or no moment can break), "
            "so there is no journey map, gearing or alignment."
        )
        sections.append(s)
    else:
        sections += [journey_section(result), gearing_section(result), alignment_section(result)]
    for attr, fallback in _OPTIONAL:
        sections.append(optional_section(result, attr, fallback))
        if attr == "barriers":
            # what people say, after the barriers it gives a voice to
            from keymoments.report.comments_section import comments_section

            sections.append(comments_section(result))
    sections.append(data_quality_section(result))
    sections.append(method_section(result))
    return sections


_OPTIONAL = (
    ("emotion", "The emotion curve"),
    ("drivers", "What drives the experience"),
    ("barriers", "Barriers at the moments"),
    ("portfolio", "The plan: what to fund first"),
)


def _signed(value: float, digits: int = 3) -> str:
    text = fmt_number(abs(value), digits)
    return text if text == "0" else ("+" if value > 0 else "−") + text


def _outcome_change(result: AnalysisResult, m: MomentResult) -> list[str]:
    """'Health check completed +13.8 per 100 cases [13.0 to 15.2]', one per affected outcome."""
    out = []
    for o in result.service.outcomes:
        imp = m.impact.get(o.id)
        if imp is None:
            continue
        rec, (lo, hi) = imp["recoverable"], imp["ci"]
        if rec == 0 and lo == 0 and hi == 0:  # the outcome is decided before this moment
            continue
        if o.kind == "binary":
            out.append(
                f"{o.label} {_signed(rec * 100)} per 100 cases "
                f"[{fmt_number(lo * 100)} to {fmt_number(hi * 100)}]"
            )
        else:
            out.append(f"{o.label} {_signed(rec)} per case {_interval(lo, hi)}")
    return out


def _why(result: AnalysisResult, m: MomentResult) -> tuple[str, str]:
    """A key moment's name and the sentences on why it is key."""
    pct = round(result.confidence * 100)
    keys = [p for p in ("user", "provider") if m.key.get(p)]
    quadrant = {
        "sweet_spot": ", a sweet spot: fixing it pays both sides",
        "conflict": ", a conflict: fixing it helps one side and hurts the other",
    }.get(m.quadrant, "")
    lead = f" ({m.stage}): key for the {' and the '.join(keys)}" if keys else f" ({m.stage})"
    parts = [f"{lead}{quadrant}."]
    broken = f" and {_pct(m.break_rate)} of them break it" if m.breakable else ""
    parts.append(f"{_pct(m.reach)} of cases reach it{broken}.")
    changes = _outcome_change(result, m)
    if changes:
        parts.append(f"If it never broke: {'; '.join(changes)} ({pct}% intervals).")
    worth = []
    for p in ("user", "provider"):
        d = m.deciding.get(p)
        if d is not None and p in m.perspectives:
            worth.append(f"{fmt_number(d.gearing, 2)} to the {p}")
    if worth:
        parts.append(f"Worth {' and '.join(worth)} in average moments (gearing).")
    barriers = _main_barriers(result, m.id)
    if barriers:
        parts.append(f"What stops people here: {barriers}.")
    return m.name, " ".join(parts)


def _main_barriers(result: AnalysisResult, moment_id: str) -> str:
    """'transport explains 21% [12% to 30%] of its breaks; ...' from the barriers part."""
    part = getattr(result, "barriers", None)
    clearly = getattr(part, "drivers", None)
    if not callable(clearly):
        return ""
    out = []
    for e in clearly(moment_id)[:3]:
        af, ci = getattr(e, "attributable_fraction", None), getattr(e, "ci", None)
        if not isinstance(af, int | float):
            continue
        name = str(getattr(e, "name", None) or getattr(e, "id", ""))
        interval = ""
        if isinstance(ci, list | tuple) and all(isinstance(x, int | float) for x in ci):
            interval = f" [{_pct(ci[0], 0)} to {_pct(ci[1], 0)}]"
        out.append(f"{name} explains {_pct(af, 0)}{interval} of its breaks")
    return "; ".join(out)


def money_at_stake(result: AnalysisResult) -> list[dict[str, Any]]:
    """Per key moment (or conflict) and side with money: a year's money if it never broke.

    A side's money is its outcomes' values added up, whichever measure decided
    that the moment is key for it.
    """
    volume = result.service.volume
    rows = []
    for m in result.moments:
        for p in ("user", "provider"):
            money = m.money(p)
            if money is None or not (m.key.get(p) or m.quadrant == "conflict"):
                continue
            rows.append(
                {
                    "moment": m.name,
                    "perspective": p,
                    "per_case": money.recoverable,
                    "ci": money.ci,
                    "per_year": None if not volume else money.recoverable * volume,
                    "per_year_ci": None
                    if not volume
                    else (money.ci[0] * volume, money.ci[1] * volume),
                }
            )
    return rows


def _without_money(result: AnalysisResult) -> list[str]:
    """Why a key moment has no money figure, one sentence per moment and side."""
    notes = []
    for m in result.moments:
        for p in ("user", "provider"):
            if not m.key.get(p) or m.money(p) is not None:
                continue
            judged = m.deciding.get(p)
            on = result.service.outcome(judged.measure).label if judged is not None else ""
            notes.append(
                f"{m.name} is key for the {p} on {on}, and none of the {p}'s outcomes "
                "carries a money value; give one a 'value' to see what it is worth"
            )
    return notes


def headline_section(result: AnalysisResult) -> Section:
    """The key moments, one sentence each on why, and the money at stake."""
    s = Section("headline", "The headline")
    n_key = [m for m in result.moments if any(m.key.values()) or m.quadrant == "conflict"]
    s.paragraphs.append(
        f"{result.service.name}: {result.n_cases:,} cases and {result.n_events:,} events "
        f"analysed; {len(result.moments)} moments, of which {len(n_key)} "
        f"{'is' if len(n_key) == 1 else 'are'} key for someone."
    )
    for side in ("user", "provider"):
        names = [result.moment(i).name for i in result.key_moments(side)]  # type: ignore[arg-type]
        s.paragraphs.append(f"Key for the {side}: {', '.join(names) if names else 'none'}.")
    if not n_key:
        ranked = sorted(
            (m for m in result.moments if m.deciding),
            key=lambda m: (
                max(abs(d.gearing) for d in m.deciding.values() if d is not None)
                if any(d is not None for d in m.deciding.values())
                else 0.0
            ),
            reverse=True,
        )
        if ranked:
            s.paragraphs.append(
                f"No moment stands out with confidence; the largest gearing is at {ranked[0].name}."
            )
    s.bullets = [_why(result, m) for m in n_key]
    stakes = money_at_stake(result)
    volume = result.service.volume
    if stakes:
        rows = []
        for r in stakes:
            lo, hi = r["ci"]
            year = "–"
            if r["per_year"] is not None:
                ylo, yhi = r["per_year_ci"]
                year = f"{_money(r['per_year'])} [{_money(ylo)} to {_money(yhi)}]"
            rows.append(
                [r["moment"], r["perspective"], f"{fmt_number(r['per_case'])} {_interval(lo, hi)}",
                 year]
            )  # fmt: skip
        columns = ["moment", "for", "per case", "a year"]
        if not volume:  # no cases a year in the model: per case only
            rows = [r[:3] for r in rows]
            columns = columns[:3]
        s.tables.append(
            Table(
                caption="Money at stake: the value recovered if the moment never broke"
                + (f", at {volume:,.0f} cases a year" if volume else ", per case"),
                columns=columns,
                rows=rows,
                numeric=[False, False, True, True][: len(columns)],
            )
        )
    if stakes and not volume:
        s.notes.append(
            "Money per case only: give the service a 'volume' (cases a year) to see a year's."
        )
    for note in _without_money(result):
        s.notes.append(f"No money figure: {note}.")
    for attr in ("drivers", "emotion"):
        headline = getattr(getattr(result, attr, None), "headline", None)
        if isinstance(headline, str) and headline:
            s.paragraphs.append(headline)
    plan = getattr(result, "portfolio", None)
    if plan is not None:
        headline = getattr(plan, "headline", None)
        s.paragraphs.append(
            headline if isinstance(headline, str) and headline else _plan_sentence(plan)
        )
    for message in result.warnings:
        s.notes.append(f"Warning: {message}")
    return s


def _plan_sentence(plan: Any) -> str:
    """The plan in a sentence: what to fund, its cost, what it returns a year, how sure."""
    doc = plan.to_dict() if hasattr(plan, "to_dict") else {}
    names = {str(i): str(i) for i in doc.get("chosen", [])}
    summary = getattr(plan, "summary", None)
    if isinstance(summary, pd.DataFrame) and {"id", "name"} <= set(summary.columns):
        names.update({str(i): str(n) for i, n in zip(summary["id"], summary["name"], strict=True)})
    chosen = ", ".join(names[str(c)] for c in doc.get("chosen", [])) or "nothing"
    text = f"The plan: fund {chosen}"
    if isinstance(doc.get("cost"), int | float):
        text += f" for {_money(float(doc['cost']))} a year"
    if isinstance(doc.get("budget"), int | float):
        text += f" (budget {_money(float(doc['budget']))})"
    if isinstance(doc.get("value"), int | float):
        text += f"; it returns {_money(float(doc['value']))} a year"
    spread = (doc.get("uncertainty") or {}).get("value") or {}
    if isinstance(spread.get("p5"), int | float) and isinstance(spread.get("p95"), int | float):
        text += f" (90% of simulations {_money(spread['p5'])} to {_money(spread['p95'])})"
    if isinstance(doc.get("payback_months"), int | float):
        text += f", paying back in {doc['payback_months']:.1f} months"
    return text + "."


def _gearing_table(result: AnalysisResult) -> Table:
    pct = round(result.confidence * 100)
    columns = ["stage", "moment", "reach", "breaks"]
    numeric = [False, False, True, True]
    for o in result.service.outcomes:
        unit = "share" if o.kind == "binary" else "mean"
        columns += [f"{o.label} ({o.perspective}, {unit}) [{pct}%]", "gearing"]
        numeric += [True, True]
    columns += ["key", "quadrant"]
    numeric += [False, False]
    rows = []
    for m in result.moments:
        row = [m.stage, m.name, _pct(m.reach), _pct(m.break_rate) if m.breakable else "–"]
        for o in result.service.outcomes:
            imp = m.impact.get(o.id)
            if imp is None:
                row += ["–", ""]
                continue
            row.append(f"{fmt_number(imp['recoverable'])}\n{_interval(*imp['ci'])}")
            row.append(fmt_number(imp["gearing"], 2))
        row.append(" ".join(p for p in ("user", "provider") if m.key.get(p)) or "")
        row.append(charts.QUADRANT_NAMES.get(m.quadrant, m.quadrant))
        rows.append(row)
    return Table(
        caption=f"Recoverable per case [{pct}% interval] and gearing (1 = an average moment)",
        columns=columns,
        rows=rows,
        numeric=numeric,
    )


def journey_section(result: AnalysisResult) -> Section:
    """Stages and moments, coloured by gearing, with broken share and key marks."""
    s = Section("journey", "The journey map")
    s.paragraphs.append(
        "Each column is a moment, grouped by stage in the order people meet them. "
        "The first two lines give its gearing for the user and for the provider "
        "(1 is an average moment; blue is worth fixing, vermillion would cost that side); "
        "a star and a black outline mark a key moment. The last line is the share of "
        "cases reaching the moment that break it."
    )
    rows = []
    for m in result.moments:
        cells = [m.stage, m.name, _pct(m.reach), _pct(m.break_rate) if m.breakable else "–"]
        for side in ("user", "provider"):
            d = m.deciding.get(side)
            g = "–" if d is None or side not in m.perspectives else fmt_number(d.gearing, 2)
            cells.append(g + (" (key)" if m.key.get(side) else ""))
        rows.append(cells)
    table = Table(
        caption="The journey map as a table",
        columns=["stage", "moment", "reach", "broken share", "user gearing", "provider gearing"],
        rows=rows,
        numeric=[False, False, True, True, True, True],
    )
    s.figures.append(
        Figure(
            id="journey-map",
            chart=charts.plot_journey_map(result),
            alt_text=charts._journey_description(result),
            caption="The journey: gearing for each side and broken share, by stage",
            table=table,
        )
    )
    return s


def gearing_section(result: AnalysisResult) -> Section:
    """Recoverable and gearing per moment and outcome, with intervals."""
    s = Section("gearing", "Gearing, with intervals")
    pct = round(result.confidence * 100)
    s.paragraphs.append(
        "The recoverable is how much an outcome would change, per case, if the moment "
        "never broke, with everything after it behaving as observed. Gearing divides it "
        "by the average over all moments, so 3 means worth three average moments. "
        f"Lines are {pct}% intervals from {result.n_boot} bootstrap resamples of cases."
    )
    s.tables.append(outcomes_table(result))
    if result.memory is not None:
        s.paragraphs.append(
            "The journey model is a chain of moments; it remembers a moment's break "
            "only where the data show that the break changes what happens later. "
            + result.memory.describe()[0].upper()
            + result.memory.describe()[1:]
            + "."
        )
    check = model_check_table(result)
    if check is not None:
        missed = sum(1 for r in result.model_check if not r.ok)
        s.paragraphs.append(
            "The model reproduces what happened in every group checked."
            if not missed
            else f"The model misses what happened in {missed} of the "
            f"{len(result.model_check)} groups checked; the warnings name them. Figures "
            "that rest on those histories are less sure than their intervals say."
        )
        s.tables.append(check)
    table = _gearing_table(result)
    frame = charts.gearing_frame(result)
    s.figures.append(
        Figure(
            id="gearing",
            chart=charts.plot_gearing_intervals(result),
            alt_text=charts._gearing_description(result, frame),
            caption="What fixing each moment recovers, per case, with intervals",
            table=table,
        )
    )
    after = _after_break_table(result)
    if after is not None:
        s.tables.append(after)
    return s


def model_check_table(result: AnalysisResult) -> Table | None:
    """The model against the data: every outcome, overall, per segment, per history."""
    if not result.model_check:
        return None
    pct = round(result.confidence * 100)
    rows = []
    for r in result.model_check:
        show = _pct if result.service.outcome(r.outcome).kind == "binary" else fmt_number
        rows.append(
            [
                result.service.outcome(r.outcome).label,
                r.group,
                f"{r.cases:,}",
                show(r.observed),
                f"{show(r.model)} [{show(r.ci[0])} to {show(r.ci[1])}]",
                "yes" if r.ok else "NO",
            ]
        )
    return Table(
        caption=f"Model check: observed against the journey model ({pct}% interval), "
        "overall, per segment and per history",
        columns=["outcome", "group", "cases", "observed", "journey model", "reproduced"],
        rows=rows,
        numeric=[False, False, True, True, True, False],
    )


def outcomes_table(result: AnalysisResult) -> Table:
    """Each outcome as observed and as the journey model gives it before any fix.

    The recoverables are differences on that model, so it should give back what
    was observed; a gap is also a warning of the analysis.
    """
    pct = round(result.confidence * 100)
    rows = []
    for k, o in enumerate(result.service.outcomes):
        mean = result.outcome_means[k]
        model = result.model_means[k] if k < len(result.model_means) else None
        show = _pct if o.kind == "binary" else fmt_number
        cell = "–" if model is None else show(model)
        if model is not None and k < len(result.model_mean_ci) and result.n_boot:
            lo, hi = result.model_mean_ci[k]
            cell += f" [{show(lo)} to {show(hi)}]"
        rows.append([o.label, o.perspective, "–" if mean is None else show(mean), cell])
    return Table(
        caption=f"Outcomes as observed and as the journey model gives them ({pct}% interval)",
        columns=["outcome", "for", "observed", "journey model"],
        rows=rows,
        numeric=[False, False, True, True],
    )


def _after_break_table(result: AnalysisResult) -> Table | None:
    rows = []
    for m in result.moments:
        if not (any(m.key.values()) or m.quadrant == "conflict"):
            continue
        ab = result.after_break.get(m.id)
        if ab is None or ab.breaks == 0:
            continue
        rows.append(
            [m.name, f"{ab.breaks:,}"] + [_pct(ab.shares[k]) for k in ("retry", "back", "forward",
                                                                      "exit")]
        )  # fmt: skip
    if not rows:
        return None
    return Table(
        caption="After a break at a key moment: what people do next",
        columns=["moment", "breaks", "retry", "go back", "go forward", "leave"],
        rows=rows,
        numeric=[False, True, True, True, True, True],
    )


def alignment_section(result: AnalysisResult) -> Section:
    """User gearing against provider gearing, quadrants named."""
    s = Section("alignment", "Where the two sides agree")
    frame = charts.alignment_frame(result)
    by_quadrant: dict[str, list[str]] = {}
    for m in result.moments:
        by_quadrant.setdefault(m.quadrant, []).append(m.name)
    for q, label in charts.QUADRANT_NAMES.items():
        if q != "minor" and by_quadrant.get(q):
            s.bullets.append(f"{label}: {', '.join(by_quadrant[q])}.")
    if not s.bullets:
        s.paragraphs.append("No moment is key for either side.")
    s.paragraphs.append(
        "Each moment is placed by its gearing for the user (across) and for the provider "
        f"(up); the dashed lines are the key threshold (gearing "
        f"{result.service.analysis.key_gearing:g}). A moment declared for one side only "
        "sits on the other side's zero line."
    )
    table = Table(
        caption="Alignment as a table",
        columns=["moment", "user gearing", "provider gearing", "declared for", "quadrant"],
        rows=[
            [r.moment, fmt_number(r.user, 2), fmt_number(r.provider, 2), r.declared, r.quadrant]
            for r in frame.itertuples()
        ],
        numeric=[False, True, True, False, False],
    )
    s.figures.append(
        Figure(
            id="alignment",
            chart=charts.plot_alignment_map(result),
            alt_text=charts._alignment_description(frame),
            caption="User gearing against provider gearing, quadrants named",
            table=table,
        )
    )
    return s


# -- optional parts, rendered generically --------------------------------------------


# lower and upper bound columns that one "[lo, hi]" column replaces, in a results table
_INTERVAL_PAIRS = (("lo", "hi"), ("or_lo", "or_hi"), ("af_lo", "af_hi"))
_INTERVAL_NAMES = {
    "lo": "interval",
    "or_lo": "odds ratio interval",
    "af_lo": "attributable fraction interval",
}


# a folded interval is a percentage when the estimate beside it is
_PCT_OF = (("lo", "mean"), ("af_lo", "attributable_fraction"))


def _fold_intervals(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for lo, hi in _INTERVAL_PAIRS:
        if lo in out.columns and hi in out.columns:
            pairs = [
                None if pd.isna(a) or pd.isna(b) else (float(a), float(b))
                for a, b in zip(out[lo], out[hi], strict=True)
            ]
            position = list(out.columns).index(lo)
            out = out.drop(columns=[lo, hi])
            name = _INTERVAL_NAMES.get(lo, "interval")
            out.insert(position, name, pd.Series(pairs, index=out.index, dtype=object))
    return out


def _cell(v: Any, percent: bool = False) -> str:
    if isinstance(v, list | tuple) and all(isinstance(x, int | float) for x in v):
        show = (lambda x: _pct(x, 1)) if percent else fmt_number
        return "[" + ", ".join(show(x) for x in v) + "]"
    if percent and isinstance(v, int | float) and not isinstance(v, bool):
        return _pct(float(v), 1)
    if hasattr(v, "item") and callable(v.item) and not isinstance(v, list | tuple):
        v = v.item()  # numpy scalars
    if isinstance(v, bool):
        return "yes" if v else ""
    if v is None:
        return "–"
    if isinstance(v, int | float):
        return fmt_number(v)
    return "–" if pd.isna(v) is True else str(v)


def frame_table(
    frame: pd.DataFrame,
    caption: str,
    *,
    columns: Sequence[str] | None = None,
    percent: Sequence[str] = (),
    moment_names: dict[str, str] | None = None,
    max_rows: int = 40,
) -> Table:
    """A DataFrame as display strings: numbers formatted, ``lo``/``hi`` folded to ``[lo, hi]``.

    ``columns``: the ones to show, in order, where present (all when ``None``);
    ``percent``: columns (and their folded intervals) shown as percentages;
    ``moment_names``: moment ids in a ``moment`` column are shown by their names.
    """
    if moment_names and "moment" in frame.columns:
        frame = frame.assign(moment=[moment_names.get(str(v), v) for v in frame["moment"]])
    if columns is not None:
        keep = [c for c in columns if c in frame.columns]
        if len(keep) >= 2:  # otherwise the object changed shape: show all it has
            frame = frame[keep]
    shown = _fold_intervals(frame.head(max_rows))
    numeric = [
        pd.api.types.is_numeric_dtype(shown[c]) or str(c).endswith("interval")
        for c in shown.columns
    ]
    as_pct = [
        str(c) in percent
        or any(str(c) == _INTERVAL_NAMES.get(lo) and hi_of in percent for lo, hi_of in _PCT_OF)
        for c in shown.columns
    ]
    rows = [
        [_cell(v, p) for v, p in zip(rec, as_pct, strict=True)]
        for rec in shown.itertuples(index=False)
    ]
    if len(frame) > max_rows:
        caption += f" (first {max_rows} of {len(frame)} rows)"
    return Table(
        caption=caption,
        columns=[str(c).replace("_", " ") for c in shown.columns],
        rows=rows,
        numeric=numeric,
    )


def _chart_text(chart: Any, fallback: str) -> str:
    description = getattr(chart, "description", None)
    return description if isinstance(description, str) and description else fallback


@dataclass(frozen=True)
class _PartView:
    """What the report shows of an optional part: table columns and charts, where present."""

    columns: tuple[str, ...] | None
    plots: tuple[str, ...]
    percent: tuple[str, ...] = ()


# Column names and plot methods of the results objects (INTERFACES.md); a name
# the object lacks is skipped, so a part that changes still renders.
_PART_VIEWS = {
    "emotion": _PartView(
        ("stage", "name", "mean", "lo", "hi", "answered", "dip"),
        ("plot",),
    ),
    "drivers": _PartView(
        ("outcome", "name", "importance", "lo", "hi", "share", "class", "performance",
         "quadrant"),
        ("plot", "plot_quadrants", "plot_penalty_reward"),
        ("share",),
    ),
    "barriers": _PartView(
        ("moment", "name", "prevalence", "odds_ratio", "or_lo", "or_hi",
         "attributable_fraction", "af_lo", "af_hi", "status", "source"),
        ("plot", "plot_odds_ratios"),
        ("prevalence", "attributable_fraction"),
    ),
    "portfolio": _PartView(
        ("name", "moment", "barrier", "effect", "cost", "chosen", "value_alone",
         "value_in_plan", "roi", "payback_months", "below_cost"),
        ("plot", "plot_frontier", "plot_uncertainty"),
    ),
}  # fmt: skip


def optional_section(result: AnalysisResult, attr: str, fallback_title: str) -> Section:
    """A part of the analysis that may be absent, drawn from its title, summary and plots."""
    part = getattr(result, attr, None)
    if part is None:
        s = Section(attr, fallback_title, present=False)
        s.paragraphs.append("Not part of this analysis.")
        s.notes.append(_ABSENT_HINT[attr])
        return s
    view = _PART_VIEWS.get(attr, _PartView(None, ("plot",)))
    title = str(getattr(part, "title", fallback_title) or fallback_title)
    s = Section(attr, title)
    headline = getattr(part, "headline", None)
    if isinstance(headline, str) and headline:
        s.paragraphs.append(headline)
    elif attr == "portfolio":
        s.paragraphs.append(_plan_sentence(part))
    summary = getattr(part, "summary", None)
    table = (
        frame_table(
            summary,
            f"{title}: the figures",
            columns=view.columns,
            percent=view.percent,
            moment_names={m.id: m.name for m in result.moments},
        )
        if isinstance(summary, pd.DataFrame) and len(summary)
        else None
    )
    for name in view.plots:
        method = getattr(part, name, None)
        if method is None:
            continue
        chart = charts.house_style(method())
        first = not s.figures
        s.figures.append(
            Figure(
                id=f"{attr}-{name.replace('_', '-')}",
                chart=chart,
                alt_text=_chart_text(chart, f"{title}: chart; the same figures are in the table."),
                caption=title
                if first
                else f"{title}: {name.removeprefix('plot_')}".replace("_", " "),
                table=table if first else None,
            )
        )
    if not s.figures and table is not None:
        s.tables.append(table)
    for note in getattr(part, "notes", None) or []:
        s.notes.append(str(note))
    for warning in getattr(part, "equity_warnings", None) or []:
        s.notes.append(f"Warning: {warning}")
    for caution in getattr(part, "cautions", None) or []:
        s.notes.append(f"Caution: {caution}")
    return s


_ABSENT_HINT = {
    "emotion": "The emotion curve needs moment ratings: give moments a 'rating' column.",
    "drivers": "Drivers need moment ratings ('rating') and a numeric outcome.",
    "barriers": "Barriers need 'barriers:' in the service model, each a cases column.",
    "portfolio": "The plan needs 'interventions:' (and a 'budget') in the service model.",
}


# -- data quality and method -----------------------------------------------------------


def data_quality_section(result: AnalysisResult) -> Section:
    """Rows read, used and set aside (with why), activities that mark no moment."""
    s = Section("data", "Data quality")
    set_aside = result.n_set_aside
    s.paragraphs.append(
        f"{sum(r.rows for r in result.reports):,} rows read from {len(result.reports)} "
        f"file{'s' if len(result.reports) != 1 else ''}; {set_aside:,} set aside "
        "(counted and written to a file with their reasons, never dropped silently)."
    )
    rows = []
    for r in result.reports:
        reasons = "; ".join(f"{n:,} {why}" for why, n in r.set_aside.items()) or "none"
        rows.append([r.file, r.kind, f"{r.rows:,}", f"{r.used:,}", f"{r.n_set_aside:,}", reasons])
    s.tables.append(
        Table(
            caption="What was read",
            columns=["file", "kind", "rows", "used", "set aside", "why"],
            rows=rows,
            numeric=[False, False, True, True, True, False],
        )
    )
    unmapped = result.unmapped
    n_unmapped = int(unmapped["n"].sum()) if len(unmapped) else 0
    s.paragraphs.append(
        f"{result.n_events_mapped:,} of {result.n_events:,} events mark a moment or an "
        f"outcome; {n_unmapped:,} mark none"
        + (
            f" and {result.n_events_filtered:,} were left out by the model's filters"
            if result.n_events_filtered
            else ""
        )
        + "."
    )
    if len(unmapped):
        head = unmapped.head(15)
        s.tables.append(
            Table(
                caption="Activities that mark no moment"
                + (f" (15 of {len(unmapped)})" if len(unmapped) > 15 else ""),
                columns=["activity", "events"],
                rows=[[str(a), f"{int(n):,}"] for a, n in zip(head["activity"], head["n"],
                                                               strict=True)],
                numeric=[False, True],
            )
        )  # fmt: skip
    if result.cases_without_events:
        s.paragraphs.append(
            f"{result.cases_without_events:,} cases in the cases table have no events."
        )
    for r in result.reports:
        for note in r.notes:
            s.notes.append(f"{r.file}: {note}")
    return s


def method_section(result: AnalysisResult) -> Section:
    """How the figures were made, and what they assume."""
    s = Section("method", "Method notes and assumptions")
    pct = round(result.confidence * 100)
    segments = list(result.service.segment_columns)
    s.bullets = [
        "Journeys are modelled as an absorbing Markov chain over moment states (each moment "
        "reached intact or broken), estimated from each case's events in time order. "
        "Assumes the next step depends only on the current state.",
        "Recoverable: the change in an outcome's mean per case if the moment never broke "
        "(the flow into its broken state sent to its intact state), with everything "
        "downstream behaving as observed. Exact linear algebra on the chain, no simulation.",
        "Gearing: a moment's recoverable over the mean absolute recoverable of all moments "
        f"for that outcome. A moment is key when its gearing is at least "
        f"{result.service.analysis.key_gearing:g} and its {pct}% interval lies above zero; "
        "outcomes with a money value are first added up per side.",
        "Alignment: a conflict is a moment whose fix helps one side and hurts the other, "
        "both significantly and each at least half an average moment.",
        f"Intervals: {pct}% bootstrap intervals from {result.n_boot} resamples of cases "
        f"(seed {result.service.analysis.seed}).",
        "Adjustment: " + (
            f"the chain is fitted per segment ({', '.join(segments)}) and combined by segment "
            "weights, so a segment that breaks more and fares worse does not inflate gearing."
            if segments
            else "no segments declared: differences between groups of cases are not adjusted for."
        ),
        "Correlation is not causation: a recoverable says what the data imply if breaks "
        "were prevented with nothing else changing; an intervention may do less.",
    ]  # fmt: skip
    for attr, _ in _OPTIONAL:
        part = getattr(result, attr, None)
        notes = getattr(part, "method_notes", None) if part is not None else None
        if isinstance(notes, list | tuple):
            s.bullets.extend(str(n) for n in notes)
    return s
