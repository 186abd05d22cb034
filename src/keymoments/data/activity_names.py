"""Activities in the log that look like a misspelling of one the model names.

An activity the model does not name marks no moment: spelt ``atended`` in the
model (or ``"attended`` in a file with a stray quote), every attendance is
silently not an attendance. The analysis warns about such near misses.

Example:
    >>> import pandas as pd
    >>> from keymoments.model import Service
    >>> visit = {"id": "visit", "reached": ["atended", "dna"], "broken": ["dna"]}
    >>> svc = Service.model_validate({"version": 1, "name": "x", "moments": [visit]})
    >>> unmapped = pd.DataFrame({"activity": ["attended", "letter"], "n": [9, 4]})
    >>> print(near_misses(svc, unmapped)[0][:59])
    activity 'attended' (9 events) marks nothing, but the model
"""

from __future__ import annotations

import difflib
import re

import pandas as pd

from keymoments.model import Service

__all__ = ["near_misses"]

# How many unmapped activities are compared, and how many near misses are reported.
MAX_COMPARED = 500
MAX_REPORTED = 5
CLOSE = 0.85


def _folded(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.casefold())


def _owners(service: Service) -> dict[str, str]:
    owners: dict[str, str] = {}
    for m in service.moments:
        for activity in m.activities:
            owners.setdefault(activity, f"moment {m.id!r}")
    for o in service.outcomes:
        for activity in o.reached or []:
            owners.setdefault(activity, f"outcome {o.id!r}")
    return owners


def near_misses(service: Service, unmapped: pd.DataFrame) -> list[str]:
    """Messages for unmapped activities (``activity``, ``n``) close to a model activity.

    Close means equal once case, spaces and punctuation are ignored, or a
    spelling at least 85% similar (difflib's ratio).
    """
    owners = _owners(service)
    if not owners or unmapped.empty:
        return []
    folded = {_folded(a): a for a in owners}
    messages: list[str] = []
    for activity, n in zip(
        unmapped["activity"].head(MAX_COMPARED), unmapped["n"].head(MAX_COMPARED), strict=True
    ):
        text = str(activity)
        match = folded.get(_folded(text))
        if match is None:
            close = difflib.get_close_matches(text, list(owners), n=1, cutoff=CLOSE)
            match = close[0] if close else None
        if match is None:
            continue
        messages.append(
            f"activity {text!r} ({int(n):,} event{'s' if n != 1 else ''}) marks nothing, but the "
            f"model names {match!r} ({owners[match]}); if they are the same activity, "
            "make the spelling match"
        )
        if len(messages) == MAX_REPORTED:
            break
    return messages
