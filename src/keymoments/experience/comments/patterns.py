"""A codebook's patterns as regular expressions, for the engine and for Python.

A pattern is a word or a phrase, matched case-insensitively as whole words,
with plurals: ``doctor`` matches "Doctors" and "doctor's" but ``car`` does not
match "scared"; ``worry`` matches "worries"; the words of a phrase may be
separated by spaces or hyphens (``get there`` matches "get-there"). A pattern
between slashes is a regular expression, searched in the comment in lower case
and matched case-insensitively.

Comments are compared in lower case with curly apostrophes made straight
(:func:`normalise`). A comment with no letter or digit (empty, spaces, "-",
"?") is *blank*: missing, not "no theme".

Words and phrases compile to one expression per theme that DuckDB (RE2) and
Spark (Java) read alike, so they run in the engine. A regular expression that
uses what those two read differently (lookaround, back-references, ``\\b``,
``\\w``, ``\\d``, ``\\s``, or letters beyond ASCII) is *portable* no longer:
it is run here in Python, on the distinct comments.

Example:
    >>> rx = python_regex(["doctor", "get there"], [])
    >>> [bool(rx.search(normalise(t))) for t in ["The DOCTORS", "to get-there", "doctorate"]]
    [True, True, False]
    >>> is_blank("  - "), is_blank("no")
    (True, False)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ThemePatterns",
    "engine_regex",
    "is_blank",
    "normalise",
    "portable",
    "python_regex",
    "split_patterns",
    "word_regex",
]

# letters and digits in both engines' dialects (RE2 and Java read \p{L}, \p{N})
ENGINE_BOUNDARY_BEFORE = r"(?:^|[^\p{L}\p{N}_])"
ENGINE_BOUNDARY_AFTER = r"(?:$|[^\p{L}\p{N}_])"
ENGINE_LETTER = r"[\p{L}\p{N}]"
# Python's \w (Unicode) is letters, digits and '_': the same boundary
PYTHON_BOUNDARY_BEFORE = r"(?:^|\W)"
PYTHON_BOUNDARY_AFTER = r"(?:$|\W)"
# between the words of a phrase; spelled out so RE2, Java and Python agree
GAP = r"[ \t\n\r\f-]+"
_SPECIAL = set("\\.^$|?*+()[]{}-/&#~")
# regex constructs RE2 and Java read differently or not at all
# (lookaround, named groups, inline flags, back-references, \b \w \d \s, possessive
# quantifiers, POSIX classes, class intersection, and $ which RE2 reads before a final
# newline differently)
_NOT_PORTABLE = re.compile(
    r"\(\?[=!<>P#]|\(\?[a-zA-Z]+[:)]|\\[1-9gbBwWdDsSAZzGkpPQE]|[*+?}]\+|\[:|&&|(?<!\\)\$"
)


def normalise(text: str) -> str:
    """A comment as patterns see it: lower case, straight apostrophes."""
    return text.lower().replace("\u2019", "'").replace("\u2018", "'")


def is_blank(text: object) -> bool:
    """No letter or digit (or not text at all, such as a missing value): a missing comment."""
    return not isinstance(text, str) or not re.search(r"[^\W_]", text)


def _escape(word: str) -> str:
    return "".join("\\" + ch if ch in _SPECIAL else ch for ch in word)


def _plural(word: str) -> str:
    """The last word of a pattern with its plural (English, regular forms)."""
    w = _escape(word)
    if not word.isalpha():
        return w
    if len(word) > 2 and word.endswith("y") and word[-2] not in "aeiou":
        return _escape(word[:-1]) + "(?:y|ies)"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return w + "(?:es)?"
    return w + "(?:s|es)?"


def word_regex(pattern: str) -> str:
    """The body of a word or phrase pattern (no boundaries), in lower case.

    Example:
        >>> word_regex("Get there"), word_regex("worry"), word_regex("bus")
        ('get[ \\\\t\\\\n\\\\r\\\\f-]+there(?:s|es)?', 'worr(?:y|ies)', 'bus(?:es)?')
    """
    words = normalise(pattern).split()
    return GAP.join([*(_escape(w) for w in words[:-1]), _plural(words[-1])])


def split_patterns(patterns: Sequence[str]) -> tuple[list[str], list[str]]:
    """Words and phrases, and the bodies of the /regular expressions/."""
    words: list[str] = []
    regexes: list[str] = []
    for p in patterns:
        text = p.strip()
        if len(text) > 2 and text.startswith("/") and text.endswith("/"):
            regexes.append(text[1:-1])
        else:
            words.append(text)
    return words, regexes


def portable(regex: str) -> bool:
    """Whether RE2 (DuckDB) and Java (Spark) read this expression as Python does."""
    return regex.isascii() and not _NOT_PORTABLE.search(regex)


def engine_regex(words: Sequence[str], regexes: Sequence[str]) -> str | None:
    """One expression for the engine: the words as whole words, or the portable regexes."""
    parts = []
    if words:
        body = "|".join(word_regex(w) for w in words)
        parts.append(f"{ENGINE_BOUNDARY_BEFORE}(?:{body}){ENGINE_BOUNDARY_AFTER}")
    parts += [f"(?i:{r})" for r in regexes if portable(r)]
    return "|".join(parts) if parts else None


def python_regex(words: Sequence[str], regexes: Sequence[str]) -> re.Pattern[str]:
    """The same search in Python (for the comments the engine cannot code, and for tests)."""
    parts = []
    if words:
        body = "|".join(word_regex(w) for w in words)
        parts.append(f"{PYTHON_BOUNDARY_BEFORE}(?:{body}){PYTHON_BOUNDARY_AFTER}")
    # regexes in ASCII mode, as RE2 and Java read \w, \d and \b
    parts += [f"(?ai:{r})" for r in regexes]
    return re.compile("|".join(parts) if parts else r"(?!)")


@dataclass(frozen=True)
class ThemePatterns:
    """One theme's patterns: what the engine searches, what Python must.

    ``engine`` is ``None`` when every pattern is a non-portable regex;
    ``rest`` is ``None`` when the engine can do all.
    """

    theme: str
    engine: str | None
    rest: re.Pattern[str] | None
    everything: re.Pattern[str]

    @classmethod
    def of(cls, theme: str, patterns: Sequence[str]) -> ThemePatterns:
        """Split a theme's patterns between the engine and Python."""
        words, regexes = split_patterns(patterns)
        rest = [r for r in regexes if not portable(r)]
        return cls(
            theme=theme,
            engine=engine_regex(words, [r for r in regexes if portable(r)]),
            rest=python_regex([], rest) if rest else None,
            everything=python_regex(words, regexes),
        )

    def holds(self, text: object) -> bool | None:
        """Whether one comment holds the theme (``None`` when blank), as the engine codes it."""
        if not isinstance(text, str) or is_blank(text):
            return None
        return bool(self.everything.search(normalise(text)))
