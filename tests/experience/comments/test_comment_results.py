"""What people say as a results object: its views, the sample it reads, and the report."""

from __future__ import annotations

import json

import altair as alt
import numpy as np
import pandas as pd
import pytest

import keymoments
from keymoments.experience.comments.build import representative


def _service(themes: bool = True) -> keymoments.Service:
    doc: dict[str, object] = {
        "version": 1,
        "name": "Clinic",
        "moments": [
            {"id": "booking", "reached": ["booked"], "rating": "rating_booking"},
            {"id": "visit", "reached": ["seen", "dna"], "broken": ["dna"]},
        ],
        "outcomes": [{"id": "ok", "perspective": "provider", "reached": ["seen"]}],
        "comments": [
            {"id": "said", "column": "text", "moment": "visit"},
            {"id": "booking_said", "column": "text2", "moment": "booking"},
        ],
    }
    if themes:
        doc["themes"] = [
            {"id": "bus", "name": "Getting there", "comments": "said", "patterns": ["bus"]},
            {"id": "rude", "comments": "said", "patterns": ["rude", "/unkind(ness)?/"]},
        ]
    return keymoments.Service.model_validate(doc)


def _cases(n: int) -> pd.DataFrame:
    texts = ["The bus was awful", "staff were rude", "bus and rude staff", "", "lovely, thanks"]
    return pd.DataFrame(
        {
            "case_id": [f"c{i:05d}" for i in range(n)],
            "text": [texts[i % 5] for i in range(n)],
            "text2": ["easy to book" if i % 2 else "could not get through" for i in range(n)],
        }
    )


def test_counts_are_exact_and_views_agree() -> None:
    said = keymoments.code_comments(_service(), cases=_cases(500))
    assert [s.id for s in said.sources] == ["said", "booking_said"]
    src = said.sources[0]
    assert (src.cases, src.blank, src.answered, src.uncoded, src.sampled) == (
        500,
        100,
        400,
        100,
        400,
    )
    bus, rude = said.theme("bus"), said.theme("rude")
    assert (bus.count, rude.count) == (200, 200)
    assert bus.share == pytest.approx(0.5)
    table = said.summary
    assert list(table.columns) == [
        "comments", "moment", "theme", "name", "count", "share", "sentiment",
        "sentiment_lo", "sentiment_hi", "negative",
    ]  # fmt: skip
    assert table["count"].tolist() == [200, 200]
    doc = json.loads(json.dumps(keymoments.result.json_safe(said.to_dict())))
    assert set(doc) == {"sources", "themes", "moments", "suggestions", "confidence"}
    assert [m["moment"] for m in doc["moments"]] == ["booking", "visit"]  # journey order
    assert "5 themes" not in repr(said) and "2 themes" in repr(said)
    assert "<table" in said._repr_html_()
    assert isinstance(said.plot(), alt.LayerChart) and isinstance(said.plot_themes(), alt.Chart)
    # VADER reads "awful" as negative, "lovely" as positive
    assert bus.sentiment.mean is not None and bus.sentiment.mean < 0
    assert said.sources[0].uncoded_examples[0].text == "lovely, thanks"


def test_more_comments_than_the_limit_are_read_evenly_spaced() -> None:
    full = keymoments.code_comments(_service(), cases=_cases(1000))
    part = keymoments.code_comments(_service(), cases=_cases(1000), limit=100)
    src, sample = full.sources[0], part.sources[0]
    assert src.sampled == 800 and sample.sampled == 100  # every 8th of the 800 answered
    # counts stay exact; the texts repeat every 5 cases, so every 8th keeps the mix
    assert part.theme("bus").count == full.theme("bus").count == 400
    again = keymoments.code_comments(_service(), cases=_cases(1000), limit=100)
    assert again.to_dict() == part.to_dict()


def test_no_codebook_still_gives_sentiment_and_examples() -> None:
    said = keymoments.code_comments(_service(themes=False), cases=_cases(100))
    assert said.themes == [] and said.sources[0].uncoded == 80
    assert len(said.sources[0].uncoded_examples) == 3
    with pytest.raises(keymoments.ModelError, match="declares no comments"):
        keymoments.code_comments(
            _service().model_copy(update={"comments": [], "themes": []}), cases=_cases(10)
        )
    with pytest.raises(keymoments.DataError, match="no cases table"):
        keymoments.code_comments(_service(), cases=None)


def test_representative_prefers_typical_single_theme_comments() -> None:
    texts = [
        "the bus was late again and the doctor was rude and I was ill",
        "the bus was late",
        "bus late",
        "The bus was late",
        "bus",
    ]
    others = np.array([2, 0, 0, 0, 0])
    picked = [texts[i] for i in representative(texts, np.arange(5), 2, others=others)]
    assert picked[0].lower() in ("bus late", "the bus was late")
    assert texts[0] not in picked
    assert len({p.lower() for p in picked}) == 2


def test_analysis_with_comments_report_and_terminal() -> None:
    from rich.console import Console

    from keymoments.report.comments_section import comments_section
    from keymoments.report.html import render_report
    from keymoments.report.terminal import render_terminal

    n = 400
    cases = _cases(n).assign(rating_booking=[(i % 9) + 1 for i in range(n)])
    cases.loc[3, "text"] = "the bus <script>alert(1)</script>"
    events = pd.DataFrame(
        {
            "case_id": [f"c{i:05d}" for i in range(n) for _ in range(2)],
            "activity": [a for i in range(n) for a in ("booked", "dna" if i % 3 == 0 else "seen")],
            "timestamp": [
                pd.Timestamp("2024-01-01 09:00") + pd.Timedelta(hours=h)
                for _ in range(n)
                for h in (0, 30)
            ],
        }
    )
    with pytest.warns(keymoments.DataWarning, match="79 blank comments 'said'"):
        result = keymoments.analyse(_service(), events=events, cases=cases, bootstrap=10)
    assert result.comments is not None
    section = comments_section(result)
    assert section.present and section.bullets
    lead, quotes = section.bullets[0]
    assert "visit · " in lead and "“" in quotes
    page = render_report(result)
    assert "What people say" in page
    assert "<script>alert(1)</script>" not in page  # a comment is text, never markup
    console = Console(width=180, record=True)
    render_terminal(result, console)
    text = console.export_text()
    assert "What people say" in text and "Getting there (said)" in text
