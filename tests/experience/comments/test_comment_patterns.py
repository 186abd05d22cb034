"""Codebook patterns: whole words and plurals, blanks, and the engine agreeing with Python."""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keymoments import Service, parse_service
from keymoments.data.engine import Engine, connect
from keymoments.errors import DataError, ModelError
from keymoments.experience.comments.coding import code_themes, theme_column, with_themes
from keymoments.experience.comments.patterns import (
    ThemePatterns,
    is_blank,
    portable,
    word_regex,
)


def holds(patterns: list[str], text: str) -> bool | None:
    return ThemePatterns.of("t", patterns).holds(text)


@pytest.mark.parametrize(
    ("patterns", "text", "expected"),
    [
        (["doctor"], "The DOCTORS were kind", True),
        (["doctor"], "the doctor's manner", True),
        (["doctor"], "a doctorate", False),
        (["car"], "I was scared", False),
        (["car"], "my cars broke down", True),
        (["bus"], "the buses are late", True),
        (["bus"], "a busy day", False),
        (["worry"], "my worries", True),
        (["day"], "two days", True),  # a vowel before the y: days, not daies
        (["get there"], "how to get there", True),
        (["get there"], "how to GET-THERE?", True),
        (["get there"], "get\n  there", True),
        (["get there"], "getting there", False),
        (["a&e"], "went to A&E twice", True),
        (["can't"], "I can’t go", True),  # a curly apostrophe is read as a straight one
        (["café"], "the CAFÉ was shut", True),
        (["taxi", "lift"], "nobody could give me a lift", True),
        (["/appoint?ments?/"], "my appointement", False),
        (["/appoint?ments?/"], "two APPOINTMENTS", True),
        (["/\\bgp\\b/"], "my GP", True),  # not portable: searched in Python
        (["/\\bgp\\b/"], "gps", False),
        (["bus"], "   ", None),
        (["bus"], "-", None),
        (["bus"], "", None),
        (["bus"], None, None),
    ],
)
def test_whole_words_plurals_and_blanks(
    patterns: list[str], text: str | None, expected: bool | None
) -> None:
    assert holds(patterns, text) is expected


def test_plural_forms() -> None:
    assert word_regex("doctor") == "doctor(?:s|es)?"
    assert word_regex("worry") == "worr(?:y|ies)"
    assert word_regex("day") == "day(?:s|es)?"
    assert word_regex("bus") == "bus(?:es)?"
    assert word_regex("church") == "church(?:es)?"
    assert word_regex("2nd") == "2nd"  # not a word: no plural


def test_blank_is_no_letter_or_digit() -> None:
    assert [is_blank(t) for t in ["", " ", "-", "...", "?!", None, 3.0]] == [True] * 7
    assert [is_blank(t) for t in ["no", "0", "é", "n/a"]] == [False] * 4


def test_portable_regexes() -> None:
    assert portable("appoint?ments?") and portable("(?:a|b)c{2,3}") and portable("[a-z]+ing")
    for not_portable in (r"\bgp", "(?=x)y", "(?<!x)y", r"(a)\1", "x$", "a++", "[[:alpha:]]",
                         "(?i)x", "caf[eé]", r"\d+", r"\s", r"\w"):  # fmt: skip
        assert not portable(not_portable), not_portable


# -- the model file ---------------------------------------------------------------------

BASE = """
version: 1
name: Clinic
moments:
  - {id: visit, reached: [seen, dna], broken: [dna]}
barriers:
  - {id: cost, moment: visit, column: worry_cost}
comments:
  - {id: worries, column: worries_text, moment: visit}
"""


def test_model_reads_comments_and_themes() -> None:
    svc = parse_service(
        BASE
        + """themes:
  - {id: transport, name: Getting there, comments: worries, patterns: [bus, "get there"]}
interventions:
  - {id: voucher, barrier: transport, effect: -0.5}
"""
    )
    assert svc.themes[0].label == "Getting there"
    assert svc.comment("worries").moment == "visit"
    assert "worries_text" in svc.case_columns
    # a coded theme is a barrier of its moment, after the survey's
    analysed = with_themes(svc)
    assert [(b.id, b.moment) for b in analysed.barriers] == [
        ("cost", "visit"),
        ("transport", "visit"),
    ]
    assert analysed.barriers[1].column == theme_column(svc, "transport")
    assert svc.barriers == analysed.barriers[:1]  # the model itself is left as it was


@pytest.mark.parametrize(
    ("extra", "message", "line"),
    [
        ("themes:\n  - {id: t, comments: worrys, patterns: [bus]}\n", "did you mean 'worries'", 11),
        (
            "themes:\n  - {id: t, comments: worries, patterns: ['/(bus/']}\n",
            "not a valid regular",
            11,
        ),
        ("themes:\n  - {id: t, comments: worries, patterns: ['--']}\n", "no letter or digit", 11),
        ("themes:\n  - {id: t, comments: worries, patterns: []}\n", "at least one entry", 11),
        ("themes:\n  - {id: cost, comments: worries, patterns: [bus]}\n", "id of a barrier", 11),
        (
            "themes:\n  - {id: t, comments: worries, paterns: [bus]}\n",
            "missing required field 'patterns'",
            11,
        ),
        ("interventions:\n  - {id: v, barrier: transprt, effect: -0.5}\n", "unknown barrier", 11),
    ],
)
def test_model_errors_name_the_line_and_what_to_do(extra: str, message: str, line: int) -> None:
    with pytest.raises(ModelError, match=re.escape(message)) as caught:
        parse_service(BASE + extra)
    assert caught.value.line == line


def test_comments_at_an_unknown_moment() -> None:
    with pytest.raises(ModelError, match="unknown moment 'vist'; did you mean 'visit'"):
        parse_service(
            BASE.replace("moment: visit}\n", "moment: vist}\n").replace(
                "column: worry_cost", "column: x"
            )
        )


def test_themes_without_comments_say_how_to_declare_them() -> None:
    doc = BASE.split("comments:")[0] + "themes:\n  - {id: t, comments: worries, patterns: [bus]}\n"
    with pytest.raises(ModelError, match="add them under 'comments:'"):
        parse_service(doc)


# -- the engine codes as Python does ----------------------------------------------------

CODEBOOK = {
    "transport": ["bus", "taxi", "get there", "/lifts?/"],
    "doctor": ["doctor", "gp", "/\\bnurs(e|ing)\\b/"],
    "worry": ["worry", "café"],
}


def _service(codebook: dict[str, list[str]] = CODEBOOK) -> Service:
    return Service.model_validate(
        {
            "version": 1,
            "name": "x",
            "moments": [{"id": "visit", "reached": ["seen"]}],
            "comments": [{"id": "said", "column": "text", "moment": "visit"}],
            "themes": [{"id": t, "comments": "said", "patterns": p} for t, p in codebook.items()],
        }
    )


@pytest.fixture(scope="module")
def duck() -> Engine:
    return connect("duckdb")


def _engine_codes(engine: Engine, texts: list[str | None]) -> pd.DataFrame:
    svc = _service()
    frame = pa.table(
        {
            "case_id": pa.array([f"c{i:05d}" for i in range(len(texts))], pa.string()),
            "text": pa.array(texts, pa.string()),
        }
    )
    coded = code_themes(svc, engine.from_arrow(frame), engine)
    cols = {theme_column(svc, t): t for t in CODEBOOK}
    out = engine.to_pandas(coded.cases.select("case_id", *cols)).rename(columns=cols)
    return out.sort_values("case_id").reset_index(drop=True)


TRICKY = [
    "The BUS!", "buses", "busy", "a Taxi?", "get there", "Get-There", "getting there",
    "my GP", "gps", "the nurse", "Nursing home", "nurses", "worries", "Worry", "CAFÉ",
    "cafés", "the lift", "lifts", "uplifting", "", "   ", "-", None, "doctor’s",
    "éBus", "bus_stop", "bus2", "2 buses", "ça va", "ünd doctor",
]  # fmt: skip


def _python_codes(texts: list[str | None]) -> pd.DataFrame:
    out = {}
    for t, patterns in CODEBOOK.items():
        rule = ThemePatterns.of(t, patterns)
        out[t] = [rule.holds(x) for x in texts]
    return pd.DataFrame(out)


def _as_python(frame: pd.DataFrame) -> list[list[bool | None]]:
    return [
        [None if pd.isna(v) else bool(v) for v in row]
        for row in frame[list(CODEBOOK)].itertuples(index=False)
    ]


def test_engine_codes_like_python_on_tricky_comments(duck: Engine) -> None:
    engine = _engine_codes(duck, TRICKY)
    assert _as_python(engine) == _as_python(_python_codes(TRICKY))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.lists(
                st.sampled_from(
                    [
                        "bus",
                        "BUSES",
                        "taxi",
                        "get",
                        "there",
                        "gp",
                        "nurse",
                        "nursing",
                        "lift",
                        "worry",
                        "worries",
                        "café",
                        "ça",
                        "-",
                        ",",
                        "'",
                        "’",
                        "_",
                        "2",
                        "é",
                        "x",
                        "doctor",
                        "up",
                    ]
                ),
                max_size=6,
            ).map(lambda ws: "".join(w if i % 2 else w + " " for i, w in enumerate(ws))),
        ),
        min_size=1,
        max_size=25,
    )
)
def test_engine_codes_like_python_on_any_comment(duck: Engine, texts: list[str | None]) -> None:
    assert _as_python(_engine_codes(duck, texts)) == _as_python(_python_codes(texts))


def test_counts_blank_and_uncoded(duck: Engine) -> None:
    svc = _service()
    frame = pd.DataFrame(
        {"case_id": list("abcdef"), "text": ["bus", "gp and bus", "", None, "fine", "-"]}
    )
    coded = code_themes(svc, duck.from_arrow(frame), duck)
    counts = coded.counts["said"]
    assert (counts.cases, counts.blank, counts.answered, counts.uncoded) == (6, 3, 3, 1)
    assert counts.themes == {"transport": 2, "doctor": 1, "worry": 0}
    assert coded.python_coded == ["doctor"]  # its \b expression ran in Python


def test_comments_column_missing_from_the_cases_table(duck: Engine) -> None:
    frame = pd.DataFrame({"case_id": ["a"], "txt": ["bus"]})
    with pytest.raises(
        DataError, match=r"no column 'text' .*comments 'said'.*columns are: case_id, txt"
    ):
        code_themes(_service(), duck.from_arrow(frame), duck, file="cases.csv")
    with pytest.raises(DataError, match="no cases table was given; give one with --cases FILE"):
        code_themes(_service(), None, duck)
