"""From coded comments to :class:`~.results.CommentResults`: counts, sentiment, quotes.

The counts come from the engine (every case). For sentiment, quotes and
suggestions the comments themselves are read into Python: every answered
comment of a column when there are at most :data:`SAMPLE_LIMIT`, else every
k-th in case-id order (the same on every engine and every run). Personal
data is masked the moment a comment is read (:mod:`.mask`), before it is
scored, quoted, stored or written.

A theme's **quotes** are its most representative comments: those nearest
(cosine similarity of TF-IDF vectors) to the mean of the theme's comments,
distinct texts, ties to the shorter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from keymoments.data.engine import Engine
from keymoments.experience.comments.coding import CodedComments, theme_column
from keymoments.experience.comments.mask import Masker, read_names
from keymoments.experience.comments.results import (
    CommentResults,
    MomentSentiment,
    Quote,
    SourceResult,
    ThemeResult,
)
from keymoments.experience.comments.sentiment import compound_scores, summarise_sentiment
from keymoments.experience.comments.suggest import suggest_themes
from keymoments.model import Comment, Service

__all__ = ["SAMPLE_LIMIT", "describe_comments", "representative"]

SAMPLE_LIMIT = 20_000  # comments read per column for sentiment, quotes and suggestions
N_QUOTES = 3
MAX_QUOTE = 400  # characters kept of a quote
TYPICAL_LENGTH = 1.5  # a quote is at most this many times the median comment's length


def _masker(service: Service, comment: Comment) -> Masker:
    if not comment.mask_names:
        return Masker()
    path = service.resolve(comment.mask_names)
    assert path is not None
    return Masker(tuple(read_names(Path(path))))


def _read(
    coded: CodedComments, comment: Comment, answered: int, engine: Engine, limit: int
) -> pd.DataFrame:
    """The answered comments of one column (or an evenly spaced sample), in case-id order."""
    service = coded.service
    table = coded.cases
    text = coded.text_column(comment.id)
    mine = [t.id for t in service.themes if t.comments == comment.id]
    rows = table.filter(table[text].notnull())
    step = max(1, math.ceil(answered / limit))
    if step > 1:
        rank = ibis.row_number().over(order_by=rows["case_id"])
        rows = rows.mutate(_km_rank=rank).filter(ibis._["_km_rank"] % step == 0)
    picked = rows.select(
        "case_id",
        text=rows[comment.column].cast("string"),
        **{f"t_{k}": rows[theme_column(service, t)] for k, t in enumerate(mine)},
    )
    frame = engine.to_pandas(picked)
    frame = frame.sort_values("case_id", kind="stable").reset_index(drop=True)
    frame.columns = ["case_id", "text", *mine]
    return frame


def representative(
    texts: list[str],
    members: np.ndarray,
    n: int = N_QUOTES,
    *,
    others: np.ndarray | None = None,
) -> list[int]:
    """Positions of the ``n`` most representative members: distinct texts of typical length
    (at most 1.5 times the median), about as little else as possible (``others``: how many other
    themes each member holds), nearest the members' mean TF-IDF vector, shorter and not
    in capitals first.

    Example:
        >>> texts = ["the bus was late", "bus late again", "bus", "the bus was late again "
        ...          "and the doctor was rude and the waiting room was full", "I like cake"]
        >>> [texts[i] for i in representative(texts, np.array([0, 1, 2, 3]), n=2)]
        ['the bus was late', 'bus late again']
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    members = np.asarray(members, dtype=np.int64)
    if members.size == 0:
        return []
    chosen = [texts[i] for i in members]
    try:
        X = TfidfVectorizer(sublinear_tf=True).fit_transform(chosen)
        centre = np.asarray(X.mean(axis=0)).ravel()
        norm = float(np.linalg.norm(centre))
        score = (X @ centre) / norm if norm > 0 else np.zeros(len(chosen))
    except ValueError:  # no words at all (numbers, punctuation)
        score = np.zeros(len(chosen))
    extra = np.zeros(len(chosen)) if others is None else np.asarray(others)[members]
    lengths = np.array([len(t) for t in chosen])
    # a long comment that names everything is near any mean: quote one of typical length
    typical = lengths <= TYPICAL_LENGTH * np.median(lengths)
    keys = sorted(
        np.flatnonzero(typical).tolist() + np.flatnonzero(~typical).tolist(),
        key=lambda i: (
            not typical[i],
            extra[i],
            -round(float(score[i]), 9),
            len(chosen[i]),
            chosen[i].isupper(),
            chosen[i],
        ),
    )
    out: list[int] = []
    seen: set[str] = set()
    for i in keys:
        key = chosen[i].strip().lower()
        if key in seen:
            continue
        seen.add(key)
        out.append(int(members[i]))
        if len(out) == n:
            break
    return out


def _quotes(
    frame: pd.DataFrame, scores: np.ndarray, members: np.ndarray, held: np.ndarray
) -> list[Quote]:
    """Quotes of some members: ``held`` counts the themes each comment holds."""
    texts = frame["text"].tolist()
    picked = representative(texts, members, N_QUOTES, others=held)
    return [Quote(_clip(texts[i]), float(scores[i])) for i in picked]


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1].rstrip() + "…"


def describe_comments(
    coded: CodedComments,
    engine: Engine,
    *,
    suggest: int | None = None,
    seed: int = 0,
    confidence: float = 0.95,
    limit: int = SAMPLE_LIMIT,
    progress: Callable[[int, int], None] | None = None,
) -> CommentResults:
    """Counts, sentiment, quotes (and suggestions) for every comments column of the model."""
    service = coded.service
    notify = progress or (lambda done, total: None)
    total = len(service.comments)
    notify(0, total)
    sources: list[SourceResult] = []
    themes: list[ThemeResult] = []
    suggestions = []
    pooled: dict[str, list[tuple[np.ndarray, float]]] = {}
    taken = [b.id for b in service.barriers]
    for done, c in enumerate(service.comments, start=1):
        counts = coded.counts[c.id]
        frame = _read(coded, c, counts.answered, engine, limit)
        mask = _masker(service, c)
        masked = {t: mask(t) for t in frame["text"].drop_duplicates()}
        frame["text"] = frame["text"].map(masked)
        unique = frame["text"].drop_duplicates()
        by_text = dict(zip(unique, compound_scores(unique.tolist()), strict=True))
        scores = frame["text"].map(by_text).to_numpy(dtype=np.float64)
        weight = counts.answered / len(frame) if len(frame) else 0.0
        pooled.setdefault(c.moment, []).append((scores, weight))
        mine = [t for t in service.themes if t.comments == c.id]
        anything = np.zeros(len(frame), dtype=bool)
        n_held = sum(
            (frame[t.id].to_numpy(dtype=np.float64) == 1).astype(np.int64) for t in mine
        ) + np.zeros(len(frame), dtype=np.int64)
        for t in mine:
            held = frame[t.id].to_numpy(dtype=np.float64) == 1
            anything |= held
            count = counts.themes[t.id]
            themes.append(
                ThemeResult(
                    id=t.id,
                    name=t.label,
                    comments=c.id,
                    moment=c.moment,
                    patterns=list(t.patterns),
                    count=count,
                    share=count / counts.answered if counts.answered else None,
                    sentiment=summarise_sentiment(scores[held], confidence=confidence),
                    quotes=_quotes(frame, scores, np.flatnonzero(held), n_held),
                    python_coded=t.id in coded.python_coded,
                )
            )
        sources.append(
            SourceResult(
                id=c.id,
                name=c.name or c.id,
                column=c.column,
                moment=c.moment,
                cases=counts.cases,
                blank=counts.blank,
                uncoded=counts.uncoded,
                sampled=len(frame),
                sentiment=summarise_sentiment(scores, confidence=confidence),
                uncoded_examples=_quotes(frame, scores, np.flatnonzero(~anything), n_held),
            )
        )
        if suggest:
            suggestions += suggest_themes(
                frame["text"].tolist(), suggest, comments=c.id, seed=seed, taken=taken
            )
            taken += [s.codebook["id"] for s in suggestions]
        notify(done, total)
    moments = []
    for m in service.moments:
        if m.id in pooled:
            parts = pooled[m.id]
            scores = np.concatenate([s for s, _ in parts])
            weights = np.concatenate([np.full(len(s), w) for s, w in parts])
            moments.append(
                MomentSentiment(
                    m.id,
                    m.label,
                    summarise_sentiment(
                        scores, weights if weights.sum() > 0 else None, confidence=confidence
                    ),
                )
            )
    return CommentResults(
        sources=sources,
        themes=themes,
        moments=moments,
        suggestions=suggestions,
        confidence=confidence,
    )
