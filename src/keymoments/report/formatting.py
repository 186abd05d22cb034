"""Numbers, money and lists for people: the one place the report, the web app and charts
format them.

Example:
    >>> fmt_money(25000, "GBP"), fmt_money(-1234.5, "SEK"), fmt_money(99.5)
    ('£25,000', '−1,234 SEK', '100')
    >>> join_names(["Text reminder", "Offer the check at home"])
    'Text reminder and Offer the check at home'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = [
    "MINUS",
    "currency_symbol",
    "fmt_interval",
    "fmt_money",
    "fmt_number",
    "fmt_pct",
    "fmt_signed",
    "join_names",
    "money_label",
    "sentence",
    "words",
]

MINUS = "−"  # a real minus sign: a hyphen reads as a dash in running text

# codes written as a symbol before the figure; any other currency follows it
_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥", "INR": "₹"}


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def fmt_number(value: Any, digits: int = 3) -> str:
    """A number for people: thousands separated, ``digits`` significant figures, no ``-0``.

    >>> fmt_number(255461.3), fmt_number(0.14219), fmt_number(-0.00001), fmt_number(None)
    ('255,461', '0.142', '0', '–')
    """
    if value is None or isinstance(value, bool):
        return "–" if value is None else str(value)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(v):
        return "–"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if v == 0 or abs(v) < 10 ** -(digits + 1):
        return "0"
    text = f"{v:.{digits}g}"
    if "e" in text:
        text = f"{v:.{digits + 2}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "0") else text


def fmt_pct(value: Any, digits: int = 1) -> str:
    """A share as a percentage (``0.256`` is ``25.6%``); a dash when missing.

    >>> fmt_pct(0.2561), fmt_pct(0.2561, 0), fmt_pct(None)
    ('25.6%', '26%', '–')
    """
    v = _finite(value)
    return "–" if v is None else f"{v:.{digits}%}"


def fmt_signed(value: float, digits: int = 3) -> str:
    """A change with its sign: ``+13.8``, ``−0.121``, ``0``.

    >>> fmt_signed(13.81), fmt_signed(-0.1213), fmt_signed(0.0)
    ('+13.8', '−0.121', '0')
    """
    text = fmt_number(abs(value), digits)
    return text if text == "0" else ("+" if value > 0 else MINUS) + text


def fmt_interval(lo: Any, hi: Any, show: Any = fmt_number) -> str:
    """``[lo to hi]``, each figure shown by ``show``.

    >>> fmt_interval(-0.13, -0.111)
    '[−0.13 to −0.111]'
    """
    return f"[{_minus(show(lo))} to {_minus(show(hi))}]"


def _minus(text: str) -> str:
    return MINUS + text[1:] if text.startswith("-") else text


def currency_symbol(currency: str | None) -> tuple[str, str]:
    """What goes before and after a money figure: ``("£", "")`` or ``("", " SEK")``."""
    if not currency:
        return "", ""
    code = currency.strip()
    if code.upper() in _SYMBOLS:
        return _SYMBOLS[code.upper()], ""
    if len(code) == 1 and not code.isalnum():  # a symbol given as such: £, €, $
        return code, ""
    return "", f" {code}"


def fmt_money(value: Any, currency: str | None = None) -> str:
    """Money rounded to whole units, with the model's currency (none: the figure alone).

    >>> fmt_money(255461.3, "GBP"), fmt_money(-31333, "€"), fmt_money(None, "GBP")
    ('£255,461', '−€31,333', '–')
    """
    v = _finite(value)
    if v is None:
        return "–"
    before, after = currency_symbol(currency)
    sign = MINUS if round(v) < 0 else ""
    return f"{sign}{before}{abs(v):,.0f}{after}"


def money_label(currency: str | None) -> str:
    """How an axis or a column names its money: ``money (GBP)`` or ``money``."""
    return f"money ({currency.strip()})" if currency else "money"


def join_names(names: Sequence[str], conjunction: str = "and") -> str:
    """Names as a list in a sentence: ``A``, ``A and B``, ``A, B and C``.

    In a list of three or more, names holding a comma are kept apart with
    semicolons, so a name like "Fixed, published prices" does not read as two.

    >>> join_names(["A", "B", "C"])
    'A, B and C'
    >>> join_names(["Fixed, published prices", "Soft search", "Explain"])
    'Fixed, published prices; Soft search; and Explain'
    >>> join_names([])
    ''
    """
    names = [str(n) for n in names]
    if len(names) <= 1:
        return names[0] if names else ""
    sep = "; " if len(names) > 2 and any("," in n for n in names) else ", "
    glue = f"; {conjunction} " if sep == "; " else f" {conjunction} "
    return sep.join(names[:-1]) + glue + names[-1]


def words(name: str) -> str:
    """An identifier as words for a label: ``payback_months`` is ``payback months``."""
    return str(name).replace("_", " ")


def sentence(text: str) -> str:
    """The text with its first letter a capital (the rest as written).

    >>> sentence("experience: the ratings explain 84%")
    'Experience: the ratings explain 84%'
    """
    return text[:1].upper() + text[1:] if text else text
