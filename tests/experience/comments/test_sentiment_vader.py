"""Sentiment: VADER's published examples, and the summary's figures worked by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keymoments.experience.comments.sentiment import compound_scores, summarise_sentiment

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "comments" / "vader_readme_examples.tsv"


def test_compound_scores_match_vaders_published_examples() -> None:
    table = pd.read_csv(EXAMPLES, sep="\t")
    assert len(table) == 15
    scores = compound_scores(table["sentence"].tolist())
    assert scores.round(4).tolist() == table["compound"].tolist()


def test_summary_by_hand() -> None:
    s = summarise_sentiment(np.array([0.6, -0.4, 0.0, 0.2]))
    assert s.n == 4 and s.mean == pytest.approx(0.1)
    # sample sd: sqrt(((.5)^2 + (.5)^2 + (.1)^2 + (.1)^2) / 3) = sqrt(0.52 / 3); t(3) = 3.1824
    half = 3.182446 * np.sqrt(0.52 / 3) / 2
    assert s.ci[0] == pytest.approx(0.1 - half, rel=1e-5)
    assert s.ci[1] == pytest.approx(0.1 + half, rel=1e-5)
    # VADER's thresholds: negative at or below -0.05, positive at or above 0.05
    assert (s.negative, s.neutral, s.positive) == (0.25, 0.25, 0.5)


def test_weighted_summary_counts_each_sampled_comment_as_many() -> None:
    s = summarise_sentiment(np.array([1.0, -1.0]), np.array([3.0, 1.0]))
    assert s.mean == pytest.approx(0.5) and s.positive == pytest.approx(0.75)


def test_empty_and_single() -> None:
    empty = summarise_sentiment(np.array([]))
    assert (empty.n, empty.mean, empty.ci) == (0, None, (None, None))
    one = summarise_sentiment(np.array([0.3]))
    assert one.mean == pytest.approx(0.3) and one.ci == (None, None)
