"""Sentences for a reader: names, not ids; lists joined; money in the model's currency.

The headline and the sections of the report, and the web app's results and
plan pages, say what the analysis found in these sentences, so the same
figure reads the same wherever it is shown.

Example:
    >>> from keymoments.model import parse_service
    >>> service = parse_service('''
    ... version: 1
    ... name: Clinic
    ... currency: GBP
    ... moments: [{id: visit, reached: [seen, dna], broken: [dna]}]
    ... interventions:
    ...   - {id: sms, name: Text reminder, moment: visit, effect: -0.2, cost: 500}
    ...   - {id: taxi, name: A taxi there, moment: visit, effect: -0.1, cost: 900}
    ... ''')
    >>> doc = {"chosen": ["sms", "taxi"], "cost": 1400, "value": 5000, "budget": 2000}
    >>> print(plan_sentences(doc, service)[0])  # doctest: +NORMALIZE_WHITESPACE
    Fund Text reminder and A taxi there within a budget of £2,000: they cost £1,400 a year
    and return £5,000 a year in money.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from keymoments.report.formatting import fmt_money, fmt_pct, join_names, sentence

if TYPE_CHECKING:
    from keymoments.model import Service
    from keymoments.result import AnalysisResult

__all__ = [
    "drivers_sentences",
    "emotion_sentences",
    "intervention_names",
    "outcome_names",
    "plan_sentences",
    "what_if_sentences",
]


def outcome_names(service: Service) -> dict[str, str]:
    """Outcome id to the name people see."""
    return {o.id: o.label for o in service.outcomes}


def intervention_names(service: Service) -> dict[str, str]:
    """Intervention id to the name people see."""
    return {i.id: i.name or i.id for i in service.interventions}


def drivers_sentences(result: AnalysisResult) -> list[str]:
    """Per outcome: how much of it the ratings explain, and its two strongest drivers."""
    by_outcome = getattr(getattr(result, "drivers", None), "outcomes", None)
    if not isinstance(by_outcome, dict):
        return []
    names = outcome_names(result.service)
    out = []
    for oid, d in by_outcome.items():
        if not d.r2 > 0 or not len(d.names):
            continue
        order = np.argsort(-d.figures["importance"])[:2]
        top = join_names([f"{d.names[j]} ({d.figures['importance'][j] / d.r2:.0%})" for j in order])
        out.append(
            sentence(
                f"{names.get(oid, oid)}: the moments' ratings explain {d.r2:.0%} of its "
                f"variation (R²), most of it from {top}."
            )
        )
    return out


_VERDICTS = {
    "peak_end": "follows the worst and the last moment more than the average of them all",
    "average": "follows the average of the moments more than the worst and the last",
    "undecided": "follows the worst and the last moment neither more nor less than the average",
}


def emotion_sentences(result: AnalysisResult) -> list[str]:
    """The dips of the emotion curve and, per outcome, the peak–end verdict."""
    emotion = getattr(result, "emotion", None)
    if emotion is None or not hasattr(emotion, "peak_end"):
        return []
    dips = [n for n, d in zip(emotion.names, emotion.dips, strict=True) if d]
    out = [
        f"Rated below both neighbours: {join_names(dips)}."
        if dips
        else "No moment is rated clearly below both its neighbours."
    ]
    names = outcome_names(result.service)
    for oid, p in emotion.peak_end.items():
        out.append(sentence(f"{names.get(oid, oid)} {_VERDICTS.get(p.verdict, p.verdict)}."))
    return out


def _chosen(ids: list[str], names: Mapping[str, str]) -> str:
    return join_names([names.get(i, i) for i in ids]) or "nothing"


def plan_sentences(
    doc: Mapping[str, Any], service: Service, names: Mapping[str, str] | None = None
) -> list[str]:
    """The plan (the ``portfolio`` document of the JSON) in a few sentences.

    What to fund and within what budget, its cost and return a year, net,
    return on investment and payback; how sure (the Monte Carlo spread) and
    the runner-up. ``names``: intervention names besides the model's.
    """
    names = {**intervention_names(service), **(names or {})}
    cur = service.currency
    chosen = [str(c) for c in doc.get("chosen") or []]
    how_many = len(chosen)
    budget = doc.get("budget")
    lead = f"Fund {_chosen(chosen, names)}" if chosen else "Fund nothing"
    if isinstance(budget, int | float):
        lead += f" within a budget of {fmt_money(budget, cur)}"
    cost, value = doc.get("cost"), doc.get("value")
    parts = [lead]
    if chosen and isinstance(cost, int | float) and isinstance(value, int | float):
        they, returns = ("it costs", "returns") if how_many == 1 else ("they cost", "return")
        parts = [
            f"{lead}: {they} {fmt_money(cost, cur)} a year and {returns} "
            f"{fmt_money(value, cur)} a year in money"
        ]
    extra = []
    if isinstance(doc.get("net"), int | float) and chosen:
        extra.append(f"net {fmt_money(doc['net'], cur)}")
    if isinstance(doc.get("roi"), int | float) and chosen:
        extra.append(f"a return on investment of {doc['roi']:.1f} times the cost")
    if isinstance(doc.get("payback_months"), int | float) and chosen:
        extra.append(f"paying back in {doc['payback_months']:.1f} months")
    text = parts[0] + (f" ({', '.join(extra)})" if extra else "") + "."
    if doc.get("proven_optimal") is False:
        text += " It is the best plan found in the time allowed, not proven the best."
    out = [text]
    mc = doc.get("uncertainty") or {}
    ret = mc.get("return") or {}
    if isinstance(ret.get("p5"), int | float) and isinstance(ret.get("p95"), int | float):
        draws = mc.get("draws")
        line = (
            f"How sure: in {draws:,} simulations drawing each effect from its range, "
            if isinstance(draws, int)
            else "How sure: "
        ) + (
            f"the return a year (value − cost) lies between {fmt_money(ret['p5'], cur)} and "
            f"{fmt_money(ret['p95'], cur)} in 90% of them"
        )
        if isinstance(mc.get("p_beats_nothing"), int | float):
            line += f"; the plan pays for itself in {fmt_pct(mc['p_beats_nothing'], 0)}"
            if isinstance(mc.get("p_beats_runner_up"), int | float):
                line += f" and beats the runner-up in {fmt_pct(mc['p_beats_runner_up'], 0)}"
        out.append(line + ".")
    runner = doc.get("runner_up")
    if isinstance(runner, Mapping) and runner.get("chosen") is not None:
        r_ids = [str(c) for c in runner.get("chosen") or []]
        line = f"The runner-up: {_chosen(r_ids, names)}"
        if isinstance(runner.get("cost"), int | float) and isinstance(
            runner.get("value"), int | float
        ):
            line += (
                f", costing {fmt_money(runner['cost'], cur)} a year for "
                f"{fmt_money(runner['value'], cur)} a year in money"
            )
        if isinstance(runner.get("roi"), int | float):
            line += f" (return on investment {runner['roi']:.1f} times the cost)"
        out.append(line + ".")
    return out


def what_if_sentences(doc: Mapping[str, Any], service: Service) -> list[str]:
    """A what-if (its JSON document) in a sentence: what changes, its cost and money a year."""
    names = intervention_names(service)
    cur = service.currency
    chosen = [str(i) for i in doc.get("interventions") or []]
    moments = {m.id: m.label for m in service.moments}
    factors = doc.get("factors") or {}
    if chosen:
        what = join_names([names.get(i, i) for i in chosen])
    else:
        what = join_names(
            [f"{moments.get(m, m)} breaking {fmt_pct(1 - f, 0)} less often" for m, f in
             factors.items() if isinstance(f, int | float)]
        ) or "nothing changed"  # fmt: skip
    value = doc.get("value") or {}
    total = value.get("total") if isinstance(value, Mapping) else value
    text = f"What if: {what}"
    if isinstance(doc.get("cost"), int | float) and chosen:
        text += f". It costs {fmt_money(doc['cost'], cur)} a year"
        if isinstance(total, int | float):
            text += f" and returns {fmt_money(total, cur)} a year in money"
    elif isinstance(total, int | float):
        text += f": {fmt_money(total, cur)} a year in money"
    return [text + "."]
