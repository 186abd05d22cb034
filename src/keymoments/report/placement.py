"""Labels beside points that do not run into each other, the points, or the plot's edge.

Vega-Lite writes a text mark where it is told; it has no label placement. So
the charts with labelled points fix their scales' domains, and
:func:`place_labels` works in pixels: each label, most important first, takes
the first of eight spots round its point (right, left, above, below, then the
corners, then further out) whose box is free, or is left out (the tooltip and
the table beside the chart still have it). The spot comes back in data units,
with the text's alignment, for a text layer to draw.

Example:
    >>> spots = place_labels([(1.0, 1.0), (1.0, 1.0)], ["Arrange finance", "Agree the price"],
    ...                      x_domain=(0, 2), y_domain=(0, 2), width=400, height=300)
    >>> [(s.align, s.baseline) for s in spots if s is not None]
    [('left', 'top'), ('right', 'top')]
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Spot", "place_labels", "text_width"]

# DejaVu Sans at 11 px: about 0.6 em a character, a little more for capitals
_CHAR = 0.62
_GAP = 7.0  # pixels between a point and its label


@dataclass(frozen=True)
class Spot:
    """Where a label goes: data coordinates of its anchor and its alignment."""

    x: float
    y: float
    align: str  # left, right or center
    baseline: str  # always top: the anchor is the top of the label's first line
    text: str  # the label as drawn: wrapped onto lines ("\n") when it fits no other way


def text_width(text: str, font_size: float = 11.0) -> float:
    """An estimate of a label's width in pixels (generous, so boxes do not touch); the
    widest line of a label on several lines."""
    return max(
        (len(line) + 0.25 * sum(1 for c in line if c.isupper() or c in "mwMW")) * _CHAR * font_size
        + 2
        for line in text.split("\n")
    )


def place_labels(
    points: Sequence[tuple[float, float]],
    texts: Sequence[str],
    *,
    x_domain: tuple[float, float],
    y_domain: tuple[float, float],
    width: float,
    height: float,
    font_size: float = 11.0,
    point_radius: float = 6.0,
    avoid: Sequence[tuple[float, float, float, float]] = (),
) -> list[Spot | None]:
    """A spot for each label in the order given (put the most important first), or None.

    ``avoid``: more pixel boxes (left, top, right, bottom) to keep clear, such as
    a corner's caption.
    """
    (x0, x1), (y0, y1) = x_domain, y_domain
    sx = width / (x1 - x0) if x1 != x0 else 1.0
    sy = height / (y1 - y0) if y1 != y0 else 1.0

    def px(x: float, y: float) -> tuple[float, float]:
        return (x - x0) * sx, height - (y - y0) * sy

    def data(px_x: float, px_y: float) -> tuple[float, float]:
        return x0 + px_x / sx, y0 + (height - px_y) / sy

    taken: list[tuple[float, float, float, float]] = list(avoid)
    r = point_radius
    for x, y in points:
        cx, cy = px(x, y)
        taken.append((cx - r, cy - r, cx + r, cy + r))
    line = font_size * 1.25
    out: list[Spot | None] = []
    for (x, y), text in zip(points, texts, strict=True):
        cx, cy = px(x, y)
        found = None
        forms = [text]
        for lines in (2, 3):  # a long name may fit on two or three lines where it does not on one
            if len(text) > 12 * lines:
                forms.append("\n".join(textwrap.wrap(text, width=len(text) // lines + 4)))
        for form, far in ((f, d) for f in forms for d in (0.0, line, 2 * line)):
            w = text_width(form, font_size)
            h = line * (form.count("\n") + 1)
            # (box left, box top, anchor x, anchor y, align, baseline)
            spots = [
                (cx + _GAP + far, cy - h / 2, cx + _GAP + far, cy, "left", "middle"),
                (cx - _GAP - far - w, cy - h / 2, cx - _GAP - far, cy, "right", "middle"),
                (cx - w / 2, cy - _GAP - far - h, cx, cy - _GAP - far, "center", "bottom"),
                (cx - w / 2, cy + _GAP + far, cx, cy + _GAP + far, "center", "top"),
                (cx + _GAP / 2, cy - _GAP - far - h, cx + _GAP / 2, cy - _GAP - far, "left",
                 "bottom"),
                (cx - _GAP / 2 - w, cy - _GAP - far - h, cx - _GAP / 2, cy - _GAP - far,
                 "right", "bottom"),
                (cx + _GAP / 2, cy + _GAP + far, cx + _GAP / 2, cy + _GAP + far, "left", "top"),
                (cx - _GAP / 2 - w, cy + _GAP + far, cx - _GAP / 2, cy + _GAP + far, "right",
                 "top"),
            ]  # fmt: skip
            for left, top, ax, ay, align, baseline in spots:
                box = (left, top, left + w, top + h)
                inside = box[0] >= 0 and box[1] >= 0 and box[2] <= width and box[3] <= height
                if inside and not any(_clash(box, t) for t in taken):
                    found = (box, ax, ay, align, baseline, form)
                    break
            if found:
                break
        if found is None:
            out.append(None)
            continue
        box, ax, ay, align, baseline, form = found
        taken.append(box)
        # drawn from the box's top down: Vega stacks the lines of a label below its anchor
        dx, dy = data(ax, box[1])
        baseline = "top"
        out.append(Spot(dx, dy, align, baseline, form))
    return out


def _clash(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 0 and min(a[3], b[3]) - max(a[1], b[1]) > 0
