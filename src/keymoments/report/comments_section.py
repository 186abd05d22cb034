"""The report's "What people say" section: the voice behind the numbers.

For each key moment first (then every other moment with comments), each
theme's count, share and sentiment with its most representative comments;
without a codebook, a few representative comments and how to get themes. The
sentiment of each moment's comments is drawn beside the ratings' emotion
curve when the analysis has both. Every quote was masked when it was read
(:mod:`keymoments.experience.comments.mask`).

Example:
    >>> import keymoments
    >>> ex = keymoments.examples.load_health_check(n_cases=1500)
    >>> result = keymoments.analyse(ex.service, events=ex.events, cases=ex.cases, bootstrap=10)
    >>> s = comments_section(result)
    >>> s.id, s.present
    ('comments', True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keymoments.report import charts
from keymoments.report.sections import Figure, Section, fmt_number, frame_table

if TYPE_CHECKING:
    from keymoments.result import AnalysisResult

__all__ = ["comments_section"]

TITLE = "What people say"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _score(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def _sentiment(s: Any) -> str:
    lo, hi = s.ci
    interval = "" if lo is None or hi is None else f" [{_score(lo)} to {_score(hi)}]"
    return f"sentiment {_score(s.mean)}{interval}"


def _chart(result: AnalysisResult) -> Any:
    """Sentiment per moment, beside the emotion curve when there is one."""
    import altair as alt

    said = result.comments
    assert said is not None
    order = [m.name for m in result.moments]
    sentiment = said.plot_sentiment(order=order)
    emotion = getattr(result, "emotion", None)
    if emotion is None:
        return sentiment
    return alt.hconcat(emotion.plot(), sentiment).properties(
        title="Ratings (left) and what people wrote (right), moment by moment"
    )


def comments_section(result: AnalysisResult) -> Section:
    """The section; absent (and said so) when the model declares no comments."""
    said = getattr(result, "comments", None)
    if said is None:
        s = Section("comments", TITLE, present=False)
        s.paragraphs.append("Not part of this analysis.")
        s.notes.append(
            "Comments need 'comments:' in the service model (a free-text column of the cases "
            "table at a moment) and, to measure themes as barriers, a codebook under 'themes:'."
        )
        return s
    s = Section("comments", TITLE)
    names = {m.id: m.name for m in result.moments}
    for src in said.sources:
        s.paragraphs.append(
            f"{src.name} ({names.get(src.moment, src.moment)}): {src.answered:,} comments, "
            f"{src.blank:,} blank and set aside; {_sentiment(src.sentiment)}, "
            f"{_pct(src.sentiment.negative)} negative."
        )
    key = [m.id for m in result.moments if any(m.key.values())]
    heard = list(dict.fromkeys([*key, *(t.moment for t in said.themes)]))
    for moment in heard:
        for t in said.at(moment):
            lead = (
                f"{names.get(moment, moment)} · {t.name}: {t.count:,} comments "
                f"({_pct(t.share)}), {_sentiment(t.sentiment)}. "
            )
            s.bullets.append((lead, " ".join(f"“{q.text}”" for q in t.quotes)))
    if not said.themes:
        for src in said.sources:
            for q in src.uncoded_examples:
                s.bullets.append((f"{src.name}: ", f"“{q.text}”"))
        s.notes.append(
            "No codebook yet: `keymoments themes MODEL --cases FILE --suggest 8` proposes "
            "themes; pasted under 'themes:', each is measured as a barrier of its moment."
        )
    table = (
        frame_table(
            said.summary,
            f"{TITLE}: the themes",
            columns=("moment", "name", "count", "share", "sentiment", "sentiment_lo",
                     "sentiment_hi", "negative"),
            percent=("share", "negative"),
            moment_names=names,
        )
        if len(said.summary)
        else None
    )  # fmt: skip
    if len(said.sentiment_frame()):
        chart = charts.house_style(_chart(result))
        s.figures.append(
            Figure(
                id="comments-sentiment",
                chart=chart,
                alt_text="Mean sentiment of the comments at each moment, from −1 to +1, with "
                "intervals; the same figures are in the table.",
                caption=f"{TITLE}: sentiment by moment",
                table=table,
            )
        )
    elif table is not None:
        s.tables.append(table)
    s.notes.append(
        "Sentiment: VADER's compound score (−1 to +1) of each comment; quotes are the "
        "comments nearest each theme's typical wording, with e-mail addresses, phone and "
        "NHS numbers, postcodes and listed names masked. Blank comments are missing, not "
        f"'no theme'. Counts over all {sum(x.cases for x in said.sources):,} rows; "
        + fmt_number(sum(x.sampled for x in said.sources))
        + " comments read for sentiment and quotes."
    )
    return s
