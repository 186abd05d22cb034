"""Personal data masked out of comments: a table of real-format examples, and controls.

NHS numbers carry a modulus 11 check digit (NHS Data Dictionary): weights 10
down to 2 on the first nine digits, check = 11 - (sum mod 11), 11 read as 0,
10 never valid. For 943 476 5919: 9·10 + 4·9 + 3·8 + 4·7 + 7·6 + 6·5 + 5·4 +
9·3 + 1·2 = 299; 299 mod 11 = 2; 11 - 2 = 9, the last digit.
"""

from __future__ import annotations

import pandas as pd
import pytest

from keymoments.errors import DataError
from keymoments.experience.comments.mask import (
    Masker,
    mask_personal_data,
    nhs_number_valid,
    read_names,
)

VALID_NHS = ["943 476 5919", "9434765919", "943-476-5919", "900 000 0009", "401 023 2137"]
INVALID_NHS = ["943 476 5910", "123 456 7890", "401 023 2130"]  # 1234567890: check digit 10


@pytest.mark.parametrize("number", VALID_NHS)
def test_valid_nhs_numbers(number: str) -> None:
    assert nhs_number_valid(number)
    assert mask_personal_data(f"my NHS number is {number}.") == "my NHS number is [NHS number]."


@pytest.mark.parametrize("number", INVALID_NHS)
def test_invalid_nhs_numbers_are_not_called_nhs_numbers_but_still_masked(number: str) -> None:
    assert not nhs_number_valid(number)
    masked = mask_personal_data(f"number {number} on the letter")
    assert "[NHS number]" not in masked and number not in masked
    assert masked == "number [number] on the letter"


def test_nhs_check_digit_rules() -> None:
    assert not nhs_number_valid("943476591")  # nine digits
    assert not nhs_number_valid("94347659190")  # eleven
    assert nhs_number_valid("1000000001")  # 10·1 = 10; 11 - 10 = 1


PHONES = [
    # UK: mobile (Ofcom's drama range too), London, Manchester, Leeds, freephone
    "07700 900123", "07700900123", "+44 7700 900123", "+44 (0)20 7946 0958",
    "020 7946 0958", "(020) 7946 0958", "0161 496 0000", "0113 496 0000", "0800 123 4567",
    "01632 960001", "07912 345678",
    # international
    "+1 202-555-0143", "+1 (415) 555-2671", "+33 1 42 68 53 00", "+49 30 901820",
    "+91 98765 43210", "+61 2 9876 5432", "+353 1 234 5678",
]  # fmt: skip


@pytest.mark.parametrize("phone", PHONES)
def test_phone_numbers(phone: str) -> None:
    assert mask_personal_data(f"call me on {phone} please") == "call me on [phone] please"


@pytest.mark.parametrize(
    "email", ["jane.doe@nhs.net", "j_smith+clinic@example.co.uk", "A.B@Example.ORG"]
)
def test_email_addresses(email: str) -> None:
    assert mask_personal_data(f"write to {email}.") == "write to [email]."


@pytest.mark.parametrize(
    "postcode",
    [
        "SW1A 1AA",
        "M1 1AE",
        "B33 8TH",
        "CR2 6XH",
        "DN55 1PT",
        "EC1A 1BB",
        "W1A 0AX",
        "ls1 4ap",
        "GIR 0AA",
    ],
)
def test_uk_postcodes(postcode: str) -> None:
    assert mask_personal_data(f"I live at {postcode}, far away") == "I live at [postcode], far away"


def test_names_from_the_users_list() -> None:
    mask = Masker(("Sam", "Priya Patel", "O'Brien"))
    assert mask("Sam said Samuel was there") == "[name] said Samuel was there"
    assert mask("PRIYA  PATEL's clinic") == "[name]'s clinic"
    assert mask("Dr O'Brien and dr o'brien") == "Dr [name] and dr [name]"
    assert mask("Priya was kind") == "Priya was kind"  # only the names given


@pytest.mark.parametrize(
    "text",
    [
        "I waited 45 minutes", "at 10:30 on 12/03/2024", "in 2023 it was worse",
        "about £15 for a taxi", "I have 3 kids", "room 101 on the 2nd floor",
        "the SW1A area", "my BMI is 31.5", "took 2 buses and 1 train",
    ],
)  # fmt: skip
def test_ordinary_numbers_stay(text: str) -> None:
    assert mask_personal_data(text) == text


def test_everything_at_once() -> None:
    text = (
        "Sam (sam.k@example.org, 07700 900123) lives at M1 1AE; NHS 943 476 5919, "
        "hospital number 12345678, +33 1 42 68 53 00"
    )
    assert mask_personal_data(text, names=["Sam"]) == (
        "[name] ([email], [phone]) lives at [postcode]; NHS [NHS number], "
        "hospital number [number], [phone]"
    )


def test_names_file(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "names.txt"  # type: ignore[operator]
    path.write_text("# staff\nSam\n\n  Priya Patel \n", encoding="utf-8")
    assert read_names(path) == ["Sam", "Priya Patel"]
    with pytest.raises(DataError, match=r"file not found .*mask_names"):
        read_names(tmp_path / "missing.txt")  # type: ignore[operator]


def test_quotes_in_a_result_are_masked() -> None:
    import keymoments

    svc = keymoments.Service.model_validate(
        {
            "version": 1,
            "name": "x",
            "moments": [{"id": "visit", "reached": ["seen"]}],
            "comments": [{"id": "said", "column": "text", "moment": "visit"}],
            "themes": [{"id": "bus", "comments": "said", "patterns": ["bus"]}],
        }
    )
    cases = pd.DataFrame(
        {
            "case_id": ["a", "b", "c"],
            "text": ["the bus, ring 07700 900123", "bus late, jo@x.org", "no bus near SW1A 1AA"],
        }
    )
    said = keymoments.code_comments(svc, cases=cases)
    quotes = " ".join(q.text for q in said.theme("bus").quotes)
    assert "[phone]" in quotes and "[email]" in quotes and "[postcode]" in quotes
    assert "07700" not in str(said.to_dict()) and "jo@x.org" not in str(said.to_dict())
