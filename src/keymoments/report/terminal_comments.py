"""What people say, in the terminal: themes with counts, sentiment and quotes; suggestions.

Example:
    >>> import keymoments
    >>> from rich.console import Console
    >>> ex = keymoments.examples.load_health_check(n_cases=600)
    >>> said = keymoments.code_comments(ex.service, cases=ex.cases)
    >>> Console(width=100).print(comments_table(said))  # doctest: +ELLIPSIS
    What people say: themes of the comments ...
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from keymoments.report.markup import escape

if TYPE_CHECKING:
    from keymoments.experience.comments.results import CommentResults
    from keymoments.result import AnalysisResult

__all__ = ["comments_part", "comments_table", "render_comments", "suggestions_table"]

QUOTE_WIDTH = 90


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}" if abs(value) >= 0.095 else f"{value:.1%}"


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def _quote(text: str) -> str:
    return f"“{text if len(text) <= QUOTE_WIDTH else text[: QUOTE_WIDTH - 1] + '…'}”"


def comments_table(said: CommentResults, moments: list[str] | None = None) -> Table:
    """Per theme: comments holding it, share, sentiment [interval] and two quotes.

    ``moments``: only the themes of these moments (in this order); default all.
    """
    pct = int(said.confidence * 100)
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"What people say: themes of the comments (sentiment −1 to +1, {pct}% interval)",
        title_justify="left",
    )
    for col in ("moment", "theme", "comments", "share", "sentiment", "in their words"):
        table.add_column(col, justify="right" if col in ("comments", "share") else "left")
    names = {m.moment: m.name for m in said.moments}
    themes = said.themes
    if moments is not None:
        themes = [t for m in moments for t in said.at(m)]
    for t in themes:
        lo, hi = t.sentiment.ci
        interval = "" if lo is None or hi is None else f" [{_score(lo)}, {_score(hi)}]"
        table.add_row(
            escape(names.get(t.moment, t.moment)),
            escape(t.name),
            f"{t.count:,}",
            _pct(t.share),
            _score(t.sentiment.mean) + interval,
            escape("\n".join(_quote(q.text) for q in t.quotes[:2])),
        )
    notes = []
    for s in said.sources:
        note = (
            f"{s.name} ({s.column}): {s.answered:,} comments, {s.blank:,} blank (set aside); "
            f"sentiment {_score(s.sentiment.mean)}"
        )
        if any(t.comments == s.id for t in said.themes):
            note += f"; {_pct(s.uncoded / s.answered if s.answered else None)} in no theme"
            if s.uncoded_examples:
                note += f", such as {_quote(s.uncoded_examples[0].text)}"
        if s.sampled < s.answered:
            note += f" (sentiment and quotes from {s.sampled:,} of them, evenly spaced)"
        notes.append(note)
    table.caption = (
        escape("\n".join(notes)) + "\npersonal data (e-mails, phones, NHS numbers...) masked"
    )
    table.caption_justify = "left"
    return table


def suggestions_table(said: CommentResults) -> Table:
    """Suggested themes: share of comments, top terms, an example and the codebook entry."""
    table = Table(
        box=box.SIMPLE_HEAD,
        title="Suggested themes (TF-IDF and NMF): paste the entries you keep under 'themes:'",
        title_justify="left",
    )
    for col in ("share", "top terms", "for example", "codebook entry"):
        table.add_column(col, justify="right" if col == "share" else "left")
    for s in said.suggestions:
        table.add_row(
            _pct(s.share),
            escape(", ".join(s.terms[:6])),
            escape("\n".join(_quote(e) for e in s.examples[:2])),
            Text(s.codebook_yaml),
        )
    return table


def render_comments(said: CommentResults) -> RenderableType:
    """Everything ``keymoments themes`` prints."""
    parts: list[RenderableType] = []
    if said.themes or not said.suggestions:
        parts.append(comments_table(said))
    if said.suggestions:
        parts.append(suggestions_table(said))
    return Group(*parts)


def comments_part(result: AnalysisResult) -> RenderableType | None:
    """What ``keymoments analyse`` prints of the comments: the key moments' themes, with
    quotes, or (no codebook yet) a few representative comments and how to get themes."""
    said = result.comments
    if said is None:
        return None
    key = [m.id for m in result.moments if any(m.key.values())]
    if said.themes:
        heard = [m for m in key if said.at(m)] or list(dict.fromkeys(t.moment for t in said.themes))
        return comments_table(said, moments=heard)
    lines = Text()
    for s in said.sources:
        lo, hi = s.sentiment.ci
        interval = "" if lo is None or hi is None else f" [{_score(lo)}, {_score(hi)}]"
        lines.append(f"{s.name} ", style="bold")
        lines.append(
            f"({result.service.moment(s.moment).label}): {s.answered:,} comments, "
            f"{s.blank:,} blank; sentiment {_score(s.sentiment.mean)}{interval}\n"
        )
        for q in s.uncoded_examples:
            lines.append(f"  {_quote(q.text)}\n")
    lines.append(
        "No codebook yet: `keymoments themes MODEL --cases FILE --suggest 8` proposes themes; "
        "paste them under 'themes:' to measure each as a barrier of its moment.",
        style="dim",
    )
    return lines
