"""Personal data masked out of comments before anything is stored, shown or written.

In this order: e-mail addresses (``[email]``); NHS numbers whose check digit
is right (``[NHS number]``, the modulus 11 check of the NHS Data Dictionary);
phone numbers, UK and international, as Google's libphonenumber finds them in
text, written with a country code or a leading 0 (``[phone]``); UK postcodes
(``[postcode]``); any other run of eight or more digits, such as a ten-digit
number whose check digit is wrong or a hospital number (``[number]``); and the
names of a list the user gives (``[name]``, whole words, any case).

Example:
    >>> mask_personal_data("Ring Sam on 07700 900123 or sam.k@example.org, NHS 943 476 5919",
    ...                    names=["Sam"])
    'Ring [name] on [phone] or [email], NHS [NHS number]'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from keymoments.errors import DataError

__all__ = ["Masker", "mask_personal_data", "nhs_number_valid", "read_names"]

EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?![\w-])")
NHS_NUMBER = re.compile(r"(?<![\d+])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![\d])")
# outward code (A9, A99, A9A, AA9, AA99, AA9A) and inward code (9AA without C I K M O V)
POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])(?:GIR ?0AA|[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][ABD-HJLNP-UW-Z]{2})"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)
LONG_NUMBER = re.compile(r"(?<!\d)\d(?:[ -]?\d){7,}(?!\d)")
# fewer digits than this is a time, an amount or a count, not a phone number
MIN_PHONE_DIGITS = 7


def nhs_number_valid(number: str) -> bool:
    """Whether ten digits form an NHS number: the modulus 11 check digit is right.

    Weights 10 down to 2 on the first nine digits; 11 minus the remainder of the
    sum by 11 is the check digit (11 counts as 0; 10 is never valid).

    Example:
        >>> nhs_number_valid("943 476 5919"), nhs_number_valid("943 476 5910")
        (True, False)
    """
    digits = [int(d) for d in number if d.isdigit()]
    if len(digits) != 10:
        return False
    check = 11 - sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    if check == 11:
        check = 0
    return check != 10 and check == digits[9]


def _phones(text: str) -> list[tuple[int, int]]:
    from phonenumbers import Leniency, PhoneNumberMatcher

    spans = []
    # POSSIBLE, not VALID: numbers in reserved ranges (Ofcom's drama numbers) are
    # still someone's idea of a phone number, and masking too much is the safe side
    for match in PhoneNumberMatcher(text, "GB", leniency=Leniency.POSSIBLE):
        raw = match.raw_string.lstrip("( ")
        # dialled as written: with a country code (+, 00) or a UK trunk 0; other long
        # numbers (hospital numbers, a mistyped NHS number) are masked as [number]
        if raw.startswith(("+", "0")) and sum(ch.isdigit() for ch in raw) >= MIN_PHONE_DIGITS:
            spans.append((match.start, match.end))
    return spans


@dataclass(frozen=True)
class Masker:
    """Masks personal data in text; ``names`` are whole words to mask in any case."""

    names: tuple[str, ...] = ()
    _names: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        wanted = sorted({n.strip() for n in self.names if n.strip()}, key=lambda n: (-len(n), n))
        if wanted:
            body = "|".join(r"\s+".join(re.escape(w) for w in n.split()) for n in wanted)
            rx = re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)
            object.__setattr__(self, "_names", rx)

    def __call__(self, text: str) -> str:
        """The text with its personal data masked."""
        text = EMAIL.sub("[email]", text)
        text = NHS_NUMBER.sub(
            lambda m: "[NHS number]" if nhs_number_valid(m.group(0)) else m.group(0), text
        )
        if any(ch.isdigit() for ch in text):
            for start, end in reversed(_phones(text)):
                text = text[:start] + "[phone]" + text[end:]
        text = POSTCODE.sub("[postcode]", text)
        text = LONG_NUMBER.sub("[number]", text)
        if self._names is not None:
            text = self._names.sub("[name]", text)
        return text


def mask_personal_data(text: str, names: Iterable[str] = ()) -> str:
    """``text`` with e-mails, NHS numbers, phones, postcodes, long numbers and names masked."""
    return Masker(tuple(names))(text)


def read_names(path: str | Path) -> list[str]:
    """Names to mask, one a line (blank lines and lines starting with # skipped)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise DataError(
            f"{p}: file not found (the names to mask, named by mask_names in the model); "
            "check the path, relative to the model file"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{p}: cannot read the names to mask ({exc}); give a UTF-8 text file, one name a line"
        ) from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
