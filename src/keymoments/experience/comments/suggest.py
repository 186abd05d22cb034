"""Candidate themes from comments when there is no codebook yet: TF-IDF and NMF.

A comment often names several worries, so comments are cut into clauses (at
punctuation and at "and", "but", "or"). The clauses are weighed by TF-IDF over
words and two-word phrases (English stop words left out by default, and words
in fewer than ``min_df`` clauses, mostly typos, or in more than half of them),
and the matrix of the *distinct* clauses is factorised by non-negative matrix
factorisation into ``k`` parts, seeded, so the same comments give the same
suggestions. Each suggestion has its most distinctive terms, the share of
comments with a clause it dominates that uses one of them, three typical
comments, and a
ready-to-paste codebook entry whose patterns are its top terms (plurals folded
into one pattern, since patterns match plurals).

Words used together make a part: paraphrases with no word in common ("the
bus", "a lift") can come out as parts of their own, so ask for more
suggestions than the themes you expect and merge them in the codebook.

Example:
    >>> texts = ["the bus is late", "no bus or taxi", "taxi costs a lot", "the bus again",
    ...          "needles scare me", "scared of needles", "blood test needles", "hate needles"]
    >>> found = suggest_themes(texts * 3, 2, comments="worries", min_df=2)
    >>> sorted(s.terms[0] for s in found)
    ['bus', 'needles']
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import yaml

from keymoments.errors import DataError, StatisticsWarning
from keymoments.experience.comments.patterns import is_blank

__all__ = ["Suggestion", "clauses", "suggest_themes"]

N_TERMS = 8
N_EXAMPLES = 3
N_PATTERNS = 5
# a word in fewer clauses than this share (mostly typos) is left out
MIN_SHARE = 0.002
_CLAUSE = re.compile(r"[.;,:!?\n]+|\s+(?:and|but|or|also|plus)\s+", re.IGNORECASE)


@dataclass
class Suggestion:
    """One candidate theme: its top terms, its share of comments, examples and a codebook entry."""

    terms: list[str]
    share: float
    examples: list[str]
    codebook: dict[str, Any]
    comments: int = 0  # comments with a clause it dominates (in the comments read)
    weights: list[float] = field(default_factory=list)

    @property
    def codebook_yaml(self) -> str:
        """The codebook entry as one line to paste under ``themes:``."""
        body = yaml.safe_dump(
            self.codebook, default_flow_style=True, sort_keys=False, width=10_000
        ).strip()
        return f"- {body}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe view (``codebook`` is the entry as a mapping, ``codebook_yaml`` as text)."""
        return {
            "terms": list(self.terms),
            "share": self.share,
            "examples": list(self.examples),
            "codebook": dict(self.codebook),
            "codebook_yaml": self.codebook_yaml,
            "comments": self.comments,
        }


def _singular(term: str) -> str:
    if term.endswith("ies") and len(term) > 4:
        return term[:-3] + "y"
    if term.endswith(("ses", "xes", "zes", "ches", "shes")):
        return term[:-2]
    if term.endswith("s") and not term.endswith("ss") and len(term) > 3:
        return term[:-1]
    return term


def _patterns(terms: Sequence[str]) -> list[str]:
    """Top terms as patterns: singular forms, no phrase with a word that is already one."""
    out: list[str] = []
    for term in terms:
        words = [_singular(w) for w in term.split()]
        # a phrase holding a word that is already a pattern matches nothing more
        if any(w in out for w in words):
            continue
        pattern = " ".join(words)
        if pattern not in out:
            out.append(pattern)
        if len(out) == N_PATTERNS:
            break
    return out


def _slug(term: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", term.lower()).strip("_") or "theme"
    slug, k = base, 2
    while slug in taken:
        slug, k = f"{base}_{k}", k + 1
    taken.add(slug)
    return slug


def clauses(text: str) -> list[str]:
    """A comment cut into clauses (at punctuation and at "and", "but", "or", "also").

    Example:
        >>> clauses("The bus, and the doctor. Nothing else!")
        ['The bus', 'the doctor', 'Nothing else']
    """
    return [c.strip() for c in _CLAUSE.split(text) if c and not is_blank(c)]


def suggest_themes(
    texts: Sequence[str],
    k: int,
    *,
    comments: str,
    seed: int = 0,
    stop_words: str | list[str] | None = "english",
    min_df: int | None = None,
    taken: Sequence[str] = (),
) -> list[Suggestion]:
    """``k`` candidate themes from comments (already masked), largest share first.

    ``comments`` is the id the codebook entries code; ``taken`` lists ids the
    entries must not reuse (the model's barriers and themes). ``min_df``
    defaults to 2 clauses, or :data:`MIN_SHARE` of them when there are more.
    """
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = [t for t in texts if isinstance(t, str) and not is_blank(t)]
    if k < 1:
        raise DataError(f"--suggest needs at least 1 theme, got {k}")
    if len(docs) < 2 * k:
        raise DataError(
            f"comments {comments!r}: {len(docs)} comments are too few to suggest {k} themes; "
            "ask for fewer, or gather more comments"
        )
    # a comment often names several worries: the parts are found among its clauses
    parts = [(i, c) for i, d in enumerate(docs) for c in clauses(d)]
    units = [c for _, c in parts]
    owner = np.array([i for i, _ in parts], dtype=np.int64)
    floor = min_df if min_df is not None else max(2, math.ceil(len(units) * MIN_SHARE))
    vectoriser = TfidfVectorizer(
        stop_words=stop_words,
        ngram_range=(1, 2),
        min_df=floor,
        max_df=0.5,
        sublinear_tf=True,
    )
    # the words and their weights come from every clause; the parts are fitted on the
    # distinct clauses, so a stock answer written a thousand times ("nothing really")
    # does not claim parts of its own
    distinct = list(dict.fromkeys(" ".join(u.lower().split()) for u in units))
    try:
        vectoriser.fit(units)
        X = vectoriser.transform(distinct)
    except ValueError:
        raise DataError(
            f"comments {comments!r}: no word is used in at least {floor} comments (once "
            "common words are left out), so there is nothing to group; gather more comments"
        ) from None
    k_fit = min(k, X.shape[1], X.shape[0])
    model = NMF(n_components=k_fit, init="nndsvda", random_state=seed, max_iter=1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        warnings.warn(
            f"comments {comments!r}: the factorisation did not settle in 1,000 steps; the "
            "suggestions are approximate",
            StatisticsWarning,
            stacklevel=2,
        )
    H = model.components_
    # terms that stand for one part: its weight there, times the share of the term's
    # weight that part holds (a word every part uses, such as "worried", ranks low)
    distinctive = H * (H / np.maximum(H.sum(axis=0, keepdims=True), 1e-12))
    U = vectoriser.transform(units)
    W = model.transform(U)
    vocab = np.asarray(vectoriser.get_feature_names_out())
    dominant = np.where(W.max(axis=1) > 0, W.argmax(axis=1), -1)
    purity = W.max(axis=1) / np.maximum(W.sum(axis=1), 1e-12)
    used: set[str] = set(taken)
    out: list[Suggestion] = []
    for j in range(k_fit):
        order = np.argsort(-distinctive[j], kind="stable")[:N_TERMS]
        terms = [str(vocab[i]) for i in order]
        # a clause is the part's when the part dominates it and it uses one of the terms
        uses = np.asarray((U[:, order] > 0).sum(axis=1)).ravel() > 0
        mine = np.flatnonzero((dominant == j) & uses)
        holders = np.unique(owner[mine])
        # the most typical comments: a clause of theirs most purely and most strongly this part
        ranked = mine[np.lexsort((-W[mine, j], -purity[mine]))]
        examples: list[str] = []
        for i in ranked:
            text = docs[int(owner[i])]
            if text not in examples:
                examples.append(text)
            if len(examples) == N_EXAMPLES:
                break
        patterns = _patterns(terms)
        entry = {
            "id": _slug(patterns[0] if patterns else terms[0], used),
            "name": ", ".join(patterns[:3]).capitalize(),
            "comments": comments,
            "patterns": patterns,
        }
        out.append(
            Suggestion(
                terms=terms,
                share=float(len(holders) / len(docs)),
                examples=examples,
                codebook=entry,
                comments=len(holders),
                weights=[float(H[j, i]) for i in order],
            )
        )
    out.sort(key=lambda s: -s.share)
    return out
