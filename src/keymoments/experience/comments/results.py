"""What people say, as a results object: themes with counts, sentiment and quotes.

:class:`CommentResults` holds, per comments column, how many cases answered,
how many comments were blank and how many no theme codes; per theme, how many
comments hold it (exact, counted by the engine), its share of the answered
comments, the sentiment of its comments and its most representative comments
(quotes, masked); per moment, the sentiment of its comments; and, when asked,
suggested themes. The views: ``.summary``, ``.to_dict()``, ``.plot()``.

Summary columns: ``comments``, ``moment``, ``theme``, ``name``, ``count``,
``share``, ``sentiment``, ``sentiment_lo``, ``sentiment_hi``, ``negative``.

The counts are over the whole cases table; sentiment and quotes over the
comments read (every answered comment up to :data:`~.build.SAMPLE_LIMIT` per
column, else an evenly spaced sample of them in case-id order, said in
``sampled``).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from keymoments.experience.comments.sentiment import Sentiment
from keymoments.experience.comments.suggest import Suggestion

if TYPE_CHECKING:
    import altair as alt

__all__ = ["CommentResults", "MomentSentiment", "Quote", "SourceResult", "ThemeResult"]


@dataclass(frozen=True)
class Quote:
    """A representative comment (personal data masked) and its sentiment score."""

    text: str
    sentiment: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {"text": self.text, "sentiment": self.sentiment}


@dataclass
class ThemeResult:
    """One theme of the codebook: how many comments hold it, how they feel, what they say."""

    id: str
    name: str
    comments: str
    moment: str
    patterns: list[str]
    count: int
    share: float | None  # of the answered (not blank) comments
    sentiment: Sentiment
    quotes: list[Quote] = field(default_factory=list)
    python_coded: bool = False  # some of its expressions were searched outside the engine

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "id": self.id,
            "name": self.name,
            "comments": self.comments,
            "moment": self.moment,
            "patterns": list(self.patterns),
            "count": self.count,
            "share": self.share,
            "sentiment": self.sentiment.to_dict(),
            "quotes": [q.to_dict() for q in self.quotes],
        }


@dataclass
class SourceResult:
    """One comments column: answered, blank, coded by no theme, and its overall sentiment."""

    id: str
    name: str
    column: str
    moment: str
    cases: int
    blank: int
    uncoded: int
    sampled: int  # comments read for sentiment and quotes
    sentiment: Sentiment
    uncoded_examples: list[Quote] = field(default_factory=list)

    @property
    def answered(self) -> int:
        """Comments with a letter or digit in them."""
        return self.cases - self.blank

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {
            "id": self.id,
            "name": self.name,
            "column": self.column,
            "moment": self.moment,
            "cases": self.cases,
            "answered": self.answered,
            "blank": self.blank,
            "uncoded": self.uncoded,
            "uncoded_share": self.uncoded / self.answered if self.answered else None,
            "sampled": self.sampled,
            "sentiment": self.sentiment.to_dict(),
            "uncoded_examples": [q.to_dict() for q in self.uncoded_examples],
        }


@dataclass
class MomentSentiment:
    """The sentiment of every comment heard at a moment (all its comments columns)."""

    moment: str
    name: str
    sentiment: Sentiment

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view."""
        return {"moment": self.moment, "name": self.name, **self.sentiment.to_dict()}


@dataclass
class CommentResults:
    """Comments of every column, coded into themes; see the module doc for the table."""

    sources: list[SourceResult]
    themes: list[ThemeResult]
    moments: list[MomentSentiment]
    suggestions: list[Suggestion] = field(default_factory=list)
    confidence: float = 0.95
    title: str = "What people say"

    @property
    def summary(self) -> pd.DataFrame:
        """One row per theme; columns in the module docstring."""
        columns = [
            "comments",
            "moment",
            "theme",
            "name",
            "count",
            "share",
            "sentiment",
            "sentiment_lo",
            "sentiment_hi",
            "negative",
        ]
        rows = [
            {
                "comments": t.comments,
                "moment": t.moment,
                "theme": t.id,
                "name": t.name,
                "count": t.count,
                "share": t.share,
                "sentiment": t.sentiment.mean,
                "sentiment_lo": t.sentiment.ci[0],
                "sentiment_hi": t.sentiment.ci[1],
                "negative": t.sentiment.negative,
            }
            for t in self.themes
        ]
        return pd.DataFrame(rows, columns=columns)

    def theme(self, theme_id: str) -> ThemeResult:
        """One theme's result, by id."""
        for t in self.themes:
            if t.id == theme_id:
                return t
        raise KeyError(theme_id)

    def at(self, moment: str) -> list[ThemeResult]:
        """The themes heard at a moment, most comments first."""
        return sorted((t for t in self.themes if t.moment == moment), key=lambda t: -t.count)

    def voices(self, moments: list[str] | None = None) -> list[dict[str, Any]]:
        """Per theme of these moments (default all), in their order: its counts, sentiment and
        quotes as plain values (the web app's "in their words")."""
        names = {m.moment: m.name for m in self.moments}
        chosen = (
            moments if moments is not None else list(dict.fromkeys(t.moment for t in self.themes))
        )
        return [
            {
                "moment": names.get(t.moment, t.moment),
                "theme": t.name,
                "count": t.count,
                "share": t.share,
                "sentiment": t.sentiment.mean,
                "quotes": [q.text for q in t.quotes],
            }
            for m in chosen
            for t in self.at(m)
        ]

    def to_dict(self) -> dict[str, Any]:
        """The ``comments`` part of the JSON result (and of ``keymoments themes --json``)."""
        return {
            "sources": [s.to_dict() for s in self.sources],
            "themes": [t.to_dict() for t in self.themes],
            "moments": [m.to_dict() for m in self.moments],
            "suggestions": [s.to_dict() for s in self.suggestions],
            "confidence": self.confidence,
        }

    def to_json(self, path: str | Path) -> Path:
        """Write :meth:`to_dict` as one JSON document (NaN written as null)."""
        from keymoments.result import json_safe

        p = Path(path)
        p.write_text(json.dumps(json_safe(self.to_dict()), indent=2, allow_nan=False), "utf-8")
        return p

    # -- charts -----------------------------------------------------------------

    def sentiment_frame(self) -> pd.DataFrame:
        """Per moment: mean sentiment and its interval (for charts)."""
        return pd.DataFrame(
            [
                {
                    "moment": m.name,
                    "sentiment": m.sentiment.mean,
                    "lo": m.sentiment.ci[0],
                    "hi": m.sentiment.ci[1],
                    "comments": m.sentiment.n,
                }
                for m in self.moments
                if m.sentiment.mean is not None
            ],
            columns=["moment", "sentiment", "lo", "hi", "comments"],
        )

    def plot(self) -> alt.LayerChart:
        """Mean sentiment of the comments at each moment, with intervals."""
        return self.plot_sentiment()

    def plot_sentiment(self, order: list[str] | None = None) -> alt.LayerChart:
        """Mean VADER score per moment (−1 to +1) with its interval; ``order``: moment names."""
        from keymoments.report.part_charts import plot_comment_sentiment

        return plot_comment_sentiment(self, order)

    def plot_themes(self) -> alt.Chart:
        """Share of answered comments holding each theme, coloured by their mean sentiment."""
        import altair as alt

        frame = self.summary
        return (
            alt.Chart(frame)
            .mark_bar()
            .encode(
                x=alt.X("share:Q", axis=alt.Axis(format="%"), title="share of comments"),
                y=alt.Y("name:N", sort="-x", title=None),
                color=alt.Color(
                    "sentiment:Q",
                    scale=alt.Scale(scheme="redblue", domain=[-1, 1]),
                    title="sentiment",
                ),
                tooltip=["moment", "name", "count", "share", "sentiment"],
            )
            .properties(title=self.title)
        )

    # -- notebooks ----------------------------------------------------------------

    def __repr__(self) -> str:
        answered = sum(s.answered for s in self.sources)
        return (
            f"<CommentResults: {answered:,} comments in {len(self.sources)} "
            f"column{'s' if len(self.sources) != 1 else ''}, {len(self.themes)} themes"
            + (f", {len(self.suggestions)} suggestions>" if self.suggestions else ">")
        )

    def _repr_html_(self) -> str:
        table = self.summary.to_html(index=False, float_format=lambda v: f"{v:.3g}", na_rep="")
        return f"<div><h4>{html.escape(self.title)}</h4>{table}</div>"
