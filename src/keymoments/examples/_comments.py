"""Free-text comments written from planted worries, as people write them.

Each case that holds worries says each in one of several paraphrases, in a
random order and framing; a case with none says so ("Nothing really");
some leave the box blank (empty, spaces, a dash). Capitals vary (some shout,
some start with one) and a few comments have a typo (two letters swapped in
one word). Used by the health-check example and by the tests and benchmarks
that plant worries in comments.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> held = {"transport": np.array([True, False, True])}
    >>> text = write_comments(held, {"transport": ["the bus"]}, rng, blank=0.0, typo=0.0)
    >>> ["bus" in t.lower() for t in text]
    [True, False, True]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

__all__ = ["BLANKS", "HEALTH_CHECK_CODEBOOK", "HEALTH_CHECK_WORRIES", "NOTHING", "write_comments"]

# what the worries of the health check sound like in patients' words
HEALTH_CHECK_WORRIES: dict[str, tuple[str, ...]] = {
    "transport": (
        "getting there on the bus",
        "the bus into town",
        "no bus or taxi to get there",
        "the taxi there costs too much",
        "getting a lift there",
        "the bus never comes on time",
    ),
    "unwell": (
        "feeling too unwell to go",
        "feeling ill on the day",
        "being too unwell and poorly",
        "feeling unwell with my new tablets",
        "being ill that week",
    ),
    "seen": (
        "being seen at the surgery by people I know",
        "people seeing me at the surgery",
        "being seen by neighbours in the waiting room",
        "someone I know might see me",
    ),
    "doctor": (
        "the doctor might be unsympathetic",
        "an unsympathetic GP who never listens",
        "doctors who are rude to me",
        "the doctor not taking me seriously",
    ),
    "breakdown": (
        "having to talk about my breakdown",
        "talking about my mental health and my breakdown",
        "being asked about my breakdown again",
        "explaining my mental health to a stranger",
    ),
}

# a codebook for them, as a service designer would write it after reading a few
HEALTH_CHECK_CODEBOOK: dict[str, tuple[str, tuple[str, ...]]] = {
    "transport": ("Getting there", ("bus", "taxi", "lift", "get there", "getting there")),
    "unwell": ("Feeling too unwell", ("unwell", "ill", "poorly", "sick")),
    "seen": ("Being seen at the surgery", ("seen", "seeing", "see me", "neighbour")),
    "doctor": ("An unsympathetic doctor", ("doctor", "gp", "nurse", "unsympathetic")),
    "breakdown": ("Talking about a breakdown", ("breakdown", "mental health", "psychosis")),
}

NOTHING = (
    "Nothing really",
    "no worries",
    "I was fine about it",
    "Not worried at all",
    "nothing, it was ok",
)
BLANKS: tuple[str | None, ...] = ("", "  ", None, "-", ".")
_FRAMES = (
    "I was worried about {}",
    "{}",
    "Worried about {}",
    "Mainly {}",
    "Honestly, {}",
)


def _typo(text: str, rng: np.random.Generator) -> str:
    words = text.split(" ")
    long = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long:
        return text
    i = long[int(rng.integers(len(long)))]
    w = words[i]
    j = int(rng.integers(len(w) - 1))
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def write_comments(
    held: Mapping[str, NDArray[np.bool_]],
    phrases: Mapping[str, Sequence[str]],
    rng: np.random.Generator,
    *,
    blank: float = 0.15,
    typo: float = 0.05,
    shout: float = 0.05,
) -> NDArray[np.object_]:
    """One comment per case from the worries each holds (see the module doc)."""
    names = list(held)
    n = len(next(iter(held.values()))) if held else 0
    matrix = np.column_stack([np.asarray(held[w], dtype=bool) for w in names])
    blanks = rng.random(n) < blank
    out = np.empty(n, dtype=object)
    for i in range(n):
        if blanks[i]:
            out[i] = BLANKS[int(rng.integers(len(BLANKS)))]
            continue
        mine = [names[j] for j in np.flatnonzero(matrix[i])]
        if not mine:
            text = NOTHING[int(rng.integers(len(NOTHING)))]
        else:
            said = [phrases[w][int(rng.integers(len(phrases[w])))] for w in mine]
            said = [said[k] for k in rng.permutation(len(said))]
            body = said[0] if len(said) == 1 else ", ".join(said[:-1]) + " and " + said[-1]
            text = _FRAMES[int(rng.integers(len(_FRAMES)))].format(body)
        style = rng.random()
        if style < shout:
            text = text.upper()
        elif style < 0.5:
            text = text[:1].upper() + text[1:]
        if rng.random() < typo:
            text = _typo(text, rng)
        out[i] = text
    return out
