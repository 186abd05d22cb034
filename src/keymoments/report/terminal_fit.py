"""Tables that fit the terminal: numbers never split, optional columns dropped when narrow.

rich squeezes a table that is wider than the console by wrapping its cells, and
a squeezed number reads as two ("100…", "0.1/37"). Here figures (right-aligned
columns) never wrap; while the table cannot fit, the columns named as optional
are dropped, least needed first, and a caption says which.

Example:
    >>> from rich.console import Console
    >>> from rich.table import Table
    >>> t = Table("moment", "detail", "value")
    >>> t.columns[2].justify = "right"
    >>> t.add_row("Book the appointment", "a long explanation " * 3, "12,345.6")
    >>> fitted = fit_table(t, Console(width=30), drop=["detail"])
    >>> [str(c.header) for c in fitted.columns], fitted.caption
    (['moment', 'value'], 'not shown at this width: detail')
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

__all__ = ["TEXT_WIDTH", "fit_table", "fits"]

#: Text columns keep at least this width (or their longest cell, if shorter).
TEXT_WIDTH = 18


def _measure(table: Table, console: Console) -> Measurement:
    # measured without the console's limit, which would clamp the answer to it
    return Measurement.get(console, console.options.update_width(10_000), table)


def _minimum(table: Table, console: Console) -> int:
    return _measure(table, console).minimum


def fits(table: Table, console: Console) -> bool:
    """Whether ``table`` can be drawn within the console's width with its figures whole."""
    return _minimum(table, console) <= console.width


def fit_table(table: Table, console: Console, *, drop: Sequence[str] = ()) -> Table:
    """``table`` with its figures kept whole and, while it is wider than ``console``,
    the columns whose header is in ``drop`` removed in that order (all columns of a
    header at once). Text columns keep :data:`TEXT_WIDTH`. Changes and returns ``table``."""
    wide = console.options.update_width(10_000)
    natural: dict[int, int] = {}
    figures: set[int] = set()
    for column in table.columns:
        natural[id(column)] = max(
            (Measurement.get(console, wide, cell).maximum for cell in column.cells), default=0
        )
        header = Measurement.get(console, wide, column.header).minimum
        if column.justify == "right":
            # figures: as wide as the widest (rich would measure their longest word),
            # while the header may wrap at its words
            column.min_width = max(natural[id(column)], header, column.min_width or 0)
            figures.add(id(column))
            # spare room goes to the header first, so it reads on one line
            natural[id(column)] = max(
                column.min_width, Measurement.get(console, wide, column.header).maximum
            )
        elif not column.no_wrap and column.min_width is None:
            # text wraps at words, but a column of one word per line reads badly
            column.min_width = max(min(natural[id(column)], TEXT_WIDTH), header)
    if _measure(table, console).maximum <= console.width:
        return table
    table.pad_edge = False
    dropped: list[str] = []
    for name in drop:
        if _minimum(table, console) <= console.width:
            break
        kept = [c for c in table.columns if str(c.header) != name]
        if len(kept) < len(table.columns):
            table.columns = kept
            for i, column in enumerate(kept):
                column._index = i  # rich pads the first and last column by their index
            dropped.append(name.replace("\n", " "))
    if dropped:
        note = "not shown at this width: " + ", ".join(dict.fromkeys(dropped))
        table.caption = f"{table.caption}; {note}" if table.caption else note
    _set_widths(table, console, natural, figures)
    return table


def _set_widths(table: Table, console: Console, natural: dict[int, int], figures: set[int]) -> None:
    """Fixed widths that add up to the console's: rich's own squeezing would narrow a
    text column below its minimum, then widen it back, and overflow the line."""
    spare = console.width - _minimum(table, console)
    if spare < 0:
        return  # nothing more to drop: leave it to rich
    texts = [c for c in table.columns if not c.no_wrap]
    for column in table.columns:
        column.width = column.min_width
    while spare > 0:
        hungry = [c for c in texts if (c.width or 0) < natural[id(c)]]
        if not hungry:
            break
        for column in hungry:
            if spare == 0:
                break
            column.width = (column.width or 0) + 1
            spare -= 1
