"""Themes coded from comments against the truth planted in them (see planted_comments.py).

Comments are written from five worries held independently, in paraphrases,
with capitals, typos and blanks; the chance of missing the visit is logistic in
the worries, so each worry's prevalence and attributable fraction are known
exactly. With a codebook, every theme is a barrier of the visit.
"""

from __future__ import annotations

import json
import warnings

import pytest
from planted_comments import BLANK, EFFECT, PREVALENCE, generate, service, truth

import keymoments
from keymoments.errors import DataWarning
from keymoments.examples._comments import HEALTH_CHECK_CODEBOOK
from keymoments.experience.comments.patterns import ThemePatterns
from keymoments.model import Intervention
from keymoments.result import AnalysisResult

N = 20_000


@pytest.fixture(scope="module")
def data() -> tuple[object, object]:
    return generate(N, seed=0)


@pytest.fixture(scope="module")
def result(data: tuple[object, object]) -> AnalysisResult:
    events, cases = data
    svc = service()
    svc = svc.model_copy(
        update={
            "outcomes": [svc.outcomes[0].model_copy(update={"value": 100.0})],
            "interventions": [
                Intervention(id="voucher", barrier="transport", effect=-0.5, cost=10.0)
            ],
            "budget": 1_000_000.0,
            "volume": 10_000.0,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # date-only timestamps, blanks set aside
        return keymoments.analyse(svc, events=events, cases=cases, bootstrap=200, seed=1)


def test_each_theme_recovers_its_worry(result: AnalysisResult) -> None:
    assert result.barriers is not None
    planted = truth()
    for worry in PREVALENCE:
        e = result.barriers.estimate(worry)
        assert e.source == "comments" and e.moment == "visit" and e.status == "fitted"
        assert e.prevalence == pytest.approx(planted[worry]["prevalence"], abs=0.03), worry
        af = planted[worry]["attributable_fraction"]
        assert e.attributable_fraction == pytest.approx(af, abs=0.05), worry
    # the worry with no effect: its interval covers 0; the strong ones exclude it
    seen = result.barriers.estimate("seen")
    assert seen.ci[0] is not None and seen.ci[1] is not None
    assert seen.ci[0] <= 0 <= seen.ci[1]
    for worry in ("transport", "unwell", "breakdown"):
        assert result.barriers.estimate(worry).ci[0] > 0, worry
    assert EFFECT["seen"] == 0.0


def test_blank_comments_are_missing_and_counted(result: AnalysisResult) -> None:
    assert result.barriers is not None and result.comments is not None
    source = result.comments.sources[0]
    moment = result.barriers.moments[0]
    assert source.blank == moment.n_set_aside
    assert source.blank / N == pytest.approx(BLANK, abs=0.01)
    assert any("blank comments 'worries'" in w for w in result.warnings)
    # counts over every case; a theme's share is of the answered comments
    theme = result.comments.theme("transport")
    assert theme.count == result.barriers.estimate("transport").holders
    assert theme.share == pytest.approx(theme.count / source.answered)


def test_themes_in_the_json_barriers_list(result: AnalysisResult) -> None:
    doc = json.loads(json.dumps(result.to_dict()))
    ids = [b["id"] for b in doc["barriers"] if b["source"] == "comments"]
    assert ids == list(HEALTH_CHECK_CODEBOOK)
    first = doc["barriers"][0]
    assert {"id", "moment", "prevalence", "odds_ratio", "attributable_fraction", "ci"} <= set(first)
    assert first["column"] == "worries_text" and first["reading"] == "theme of comments 'worries'"
    said = doc["comments"]
    assert [t["id"] for t in said["themes"]] == list(HEALTH_CHECK_CODEBOOK)
    assert all(len(t["quotes"]) == 3 for t in said["themes"])
    assert said["suggestions"] == []


def test_an_intervention_may_target_a_theme(result: AnalysisResult) -> None:
    assert result.barriers is not None
    model = result.barriers.models["visit"]
    # lifting transport from half its holders: the visit's break rate, by the barrier model
    before, after = model.break_rate(), model.break_rate({"transport": 0.5})
    change = keymoments.what_if(result, interventions=["voucher"])
    assert change.factors == {"visit": pytest.approx(after / before)}
    # every case reaches the visit once, so attending rises by what breaking falls: the
    # visit's break rate (over every case) times the barrier model's relative fall
    rate = result.moment("visit").break_rate
    assert change.gain["seen_by_gp"] == pytest.approx(rate * (1 - after / before), rel=1e-6)
    assert change.gain["seen_by_gp"] > 0.02
    assert result.portfolio is not None and "voucher" in result.portfolio.chosen


def test_quotes_are_about_their_theme(result: AnalysisResult) -> None:
    assert result.comments is not None
    for t in result.comments.themes:
        rule = ThemePatterns.of(t.id, t.patterns)
        assert all(rule.holds(q.text) for q in t.quotes), t.id
        assert len({q.text.lower() for q in t.quotes}) == len(t.quotes)


def test_suggestions_recover_every_planted_worry(data: tuple[object, object]) -> None:
    _, cases = data
    said = keymoments.code_comments(service(codebook=False), cases=cases, suggest=8)
    assert len(said.suggestions) == 8
    vocabulary = {
        w: {x for p in patterns for x in p.split()} | {w}
        for w, (_, patterns) in HEALTH_CHECK_CODEBOOK.items()
    }
    vocabulary["breakdown"] |= {"mental", "health", "talk", "talking"}
    vocabulary["seen"] |= {"people", "know", "neighbours", "surgery"}

    def about(terms: list[str]) -> str | None:
        """The worry whose words lead a suggestion's top five terms (first term weighs most)."""
        score = {w: 0.0 for w in vocabulary}
        for rank, term in enumerate(terms[:5]):
            for word in term.split():
                for w, words in vocabulary.items():
                    if word in words:
                        score[w] += 1.0 / (1 + rank)
        best = max(score, key=lambda w: score[w])
        return best if score[best] > 0 else None

    found = {about(s.terms) for s in said.suggestions}
    assert set(PREVALENCE) <= found, found
    for s in said.suggestions:
        theme = keymoments.model.Theme.model_validate(s.codebook)  # pastes as it is
        assert theme.comments == "worries" and theme.patterns
        assert s.codebook_yaml.startswith("- {id: ")
        assert 0 < s.share <= 1 and 1 <= len(s.examples) <= 3
    # the same comments and seed give the same suggestions
    again = keymoments.code_comments(service(codebook=False), cases=cases, suggest=8)
    assert [s.to_dict() for s in again.suggestions] == [s.to_dict() for s in said.suggestions]
