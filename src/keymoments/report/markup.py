"""Text on its way to rich: names from data, the model or messages shown as typed.

rich reads ``[...]`` in any string it prints as markup, so an activity called
``[/unknown]`` used to stop the command line with a ``MarkupError``, and
``keymoments[spark]`` lost its ``[spark]``. Every such string goes through
:func:`escape` first. rich's own ``escape`` leaves a bracket alone when no tag
follows it, so ``\\[`` came out as ``[``; this one escapes every bracket.

Example:
    >>> from rich.text import Text
    >>> names = ["[/unknown]", "keymoments[spark]", "a\\\\[b", "[bold]x[/]", "\\\\\\\\["]
    >>> all(Text.from_markup(escape(n)).plain == n for n in names)
    True
"""

from __future__ import annotations

import re

__all__ = ["escape"]

# a bracket and the backslashes before it
_BRACKET = re.compile(r"(\\*)\[")
# what rich takes for a tag: [ then a letter, #, / or @, up to the next ] with no [ between
_TAG = re.compile(r"\[[a-z#/@][^[]*?\]")


def escape(text: str) -> str:
    """``text`` as rich markup that prints exactly ``text``.

    Before a bracket that would open a tag, rich halves the backslashes and an
    odd one left escapes the tag (so k become 2k + 1); elsewhere it drops the
    one backslash right before a bracket (so k become k + 1).

    Example:
        >>> escape("[/unknown] ok")
        '\\\\[/unknown] ok'
    """

    def protect(found: re.Match[str]) -> str:
        k = len(found.group(1))
        if _TAG.match(text, found.end() - 1):
            return "\\" * (2 * k + 1) + "["
        return "\\" * (k + 1 if k else 0) + "["

    return _BRACKET.sub(protect, text)
