"""Names on their way to rich print as typed, whatever brackets and backslashes they hold."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table
from rich.text import Text

from keymoments.report.markup import escape


@settings(max_examples=500, derandomize=True)
@given(
    st.one_of(
        st.text(alphabet="[]\\/=#@ab ", max_size=16),
        # control characters are rich's to drop, markup or not
        st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=40),
    )
)
def test_escaped_text_prints_as_typed(text: str) -> None:
    assert Text.from_markup(escape(text)).plain == text


def test_brackets_rich_itself_gets_wrong() -> None:
    # rich's escape leaves a bracket that opens no tag alone, and rich then drops
    # the backslash before it: "a\\[b" printed as "a[b"
    assert Text.from_markup(rich_escape("a\\[b")).plain == "a[b"
    assert Text.from_markup(escape("a\\[b")).plain == "a\\[b"


def test_in_a_table_cell() -> None:
    table = Table()
    table.add_column("moment")
    table.add_row(escape("[/unknown] [bold]x[/]"))
    console = Console(width=80, record=True)
    console.print(table)
    assert "[/unknown] [bold]x[/]" in console.export_text()
