"""Checks of the network's detections against the page's own ink.

The network reads a glyph from its look; a few glyphs differ only in where they
sit on the staff, which engraving fixes exactly. These checks settle such glyphs
from the normalized page image (uint8 grey, paper white, one staff space
``staff_space`` px), after the network and before anything reads the detections.

- :func:`stroke_axis` and :func:`stroke_box_to_original`: a single barline is a
  stroke two or three px wide; where the page was turned or sheared to level it,
  it leans in the normalized image, and the box of its box's four corners mapped
  back to the photo is two or three times as wide as the stroke there. The stroke's
  own axis, read from its ink, is mapped instead.
- :func:`settle_whole_half_rests`: a whole rest hangs from a staff line (or a
  ledger line), a half rest sits on one. Both are the same filled bar, half a
  staff space high; under blur the network often scores both at one place, or
  the wrong one alone (on a real orchestral part it called 19 of 30 half rests
  whole).

>>> import numpy as np
>>> from omr.detect.types import Detection
>>> page = np.full((60, 80), 255, np.uint8)
>>> page[[10, 20, 30, 40, 50], :] = 0             # five staff lines, 10 px apart
>>> page[20:25, 35:46] = 0                         # a bar hanging from the second
>>> settle_whole_half_rests([Detection("rest_half", (35.0, 20.0, 46.0, 25.0), 0.6)], page)
[Detection(cls='rest_whole', box=(35.0, 20.0, 46.0, 25.0), score=0.6)]
"""

from __future__ import annotations

import dataclasses

import numpy as np

from omr.detect.types import Detection
from omr.page import STAFF_SPACE_NORM

#: The line a whole or half rest touches is looked for in strips beside the bar
#: (where nothing but the line is drawn): from this far beyond each side of the
#: box ...
REST_SIDE_GAP_SS = 0.15
#: ... this wide (staff spaces).
REST_SIDE_WIDTH_SS = 0.45
#: A line touches an edge of the bar when its row lies within this many staff
#: spaces of the box's edge (the bar is half a staff space high, so the line on
#: the other side of the space lies half a staff space beyond the other edge).
REST_EDGE_REACH_SS = 0.2
#: One edge's line must be darker than the other's by this fraction of the darker
#: one, and by at least REST_LINE_MIN_CONTRAST grey levels; otherwise (no line
#: beside the bar, or both edges alike) the network's class stands.
REST_LINE_CONTRAST = 0.25
REST_LINE_MIN_CONTRAST = 5.0
#: Two rests of one class overlapping by more than this are one glyph: the
#: stronger is kept.
REST_DUPLICATE_IOU = 0.5

_WHOLE_HALF = ("rest_whole", "rest_half")


def rest_edge_ink(gray: np.ndarray, box: tuple[float, float, float, float], *,
                  staff_space: float = STAFF_SPACE_NORM) -> tuple[float, float] | None:
    """``(top, bottom)``: how dark (0 white … 255 black) a line is at the top and at
    the bottom edge of the bar in ``box``, seen beside it; ``None`` where the strips
    beside it leave the page. Each row's darkness is its median over the strips'
    columns, so a stem or barline crossing one column does not count."""
    x0, y0, x1, y1 = box
    gap, width = REST_SIDE_GAP_SS * staff_space, REST_SIDE_WIDTH_SS * staff_space
    reach = REST_EDGE_REACH_SS * staff_space
    h, w = gray.shape
    cols = np.r_[np.arange(int(np.floor(x0 - gap - width)), int(np.floor(x0 - gap)) + 1),
                 np.arange(int(np.ceil(x1 + gap)), int(np.ceil(x1 + gap + width)) + 1)]
    cols = cols[(cols >= 0) & (cols < w)]
    top_rows = np.arange(int(np.floor(y0 - reach)), int(np.ceil(y0 + reach)) + 1)
    bottom_rows = np.arange(int(np.floor(y1 - reach)), int(np.ceil(y1 + reach)) + 1)
    if not len(cols) or top_rows[0] < 0 or bottom_rows[-1] >= h:
        return None
    def darkest(rows: np.ndarray) -> float:  # of the rows, by their median over the strips
        return float(np.median(255.0 - gray[np.ix_(rows, cols)].astype(np.float64), axis=1).max())

    return darkest(top_rows), darkest(bottom_rows)


def whole_or_half(top: float, bottom: float) -> str | None:
    """The rest whose bar has a line this dark at its ``top`` and ``bottom`` edges:
    ``"rest_whole"`` (hanging), ``"rest_half"`` (sitting), or ``None`` if unclear.

    >>> whole_or_half(180.0, 10.0), whole_or_half(12.0, 150.0), whole_or_half(30.0, 25.0)
    ('rest_whole', 'rest_half', None)
    """
    margin = max(REST_LINE_MIN_CONTRAST, REST_LINE_CONTRAST * max(top, bottom))
    if top - bottom > margin:
        return "rest_whole"
    if bottom - top > margin:
        return "rest_half"
    return None


def settle_whole_half_rests(detections: list[Detection], gray: np.ndarray, *,
                            staff_space: float = STAFF_SPACE_NORM) -> list[Detection]:
    """``detections`` (in ``gray``'s pixels) with each whole or half rest classed by
    the line it touches (:func:`whole_or_half`), and of two rests of one class at
    one place (a glyph the network scored both ways) only the stronger; the rest
    keep their order. A rest whose line is unclear keeps the network's class."""
    from omr.eval.detection import iou_matrix

    settled = list(detections)
    rests = [i for i, d in enumerate(settled) if d.cls in _WHOLE_HALF]
    for i in rests:
        ink = rest_edge_ink(gray, settled[i].box, staff_space=staff_space)
        cls = whole_or_half(*ink) if ink is not None else None
        if cls is not None and cls != settled[i].cls:
            settled[i] = dataclasses.replace(settled[i], cls=cls)
    if len(rests) < 2:
        return settled
    iou = iou_matrix(np.array([settled[i].box for i in rests], float),
                     np.array([settled[i].box for i in rests], float))
    dropped = set()
    for a, i in enumerate(rests):
        for b, j in enumerate(rests):
            if b != a and settled[i].cls == settled[j].cls and iou[a, b] > REST_DUPLICATE_IOU \
                    and (settled[j].score, -b) > (settled[i].score, -a):
                dropped.add(i)
                break
    return [d for k, d in enumerate(settled) if k not in dropped]


#: Classes whose box holds one thin vertical stroke and nothing else (a stem's box
#: holds its notehead's ink too): mapped to the photo along the stroke's axis.
THIN_STROKE_CLASSES = ("barline_single",)
#: The axis is drawn through the ink's centre in the top and bottom this fraction
#: of the box's rows ...
STROKE_END_FRACTION = 0.25
#: ... over the box's columns and this many px beside it on each side.
STROKE_SIDE_PX = 2


def stroke_axis(gray: np.ndarray, box: tuple[float, float, float, float]
                ) -> tuple[float, float, float] | None:
    """The axis of the thin vertical stroke in ``box`` of the page image ``gray``
    (uint8, paper white): the x of its centre at the box's top and bottom edges and
    its width (px, at least 1), or None where the box holds too few rows or no ink.

    The centre at each end is the ink-weighted mean column (ink: darkness over the
    box's median) of the top and bottom ``STROKE_END_FRACTION`` of the rows, carried
    on to the edge; the width is the box's less the lean's run across it.

    >>> page = np.full((40, 20), 255, np.uint8)
    >>> for y in range(5, 35):
    ...     page[y, 8 + (y - 5) // 10] = 0          # leans 2 px over 30 rows
    >>> top, bottom, width = stroke_axis(page, (8.0, 5.0, 11.0, 35.0))
    >>> abs(top - 8.5) < 0.4, abs(bottom - 10.5) < 0.4, width   # pixel 8's centre is 8.5
    (True, True, 1.0)
    """
    x0, y0, x1, y1 = box
    h, w = gray.shape[:2]
    xa, xb = int(max(0, np.floor(x0) - STROKE_SIDE_PX)), int(min(w, np.ceil(x1) + STROKE_SIDE_PX))
    ya, yb = int(max(0, np.floor(y0))), int(min(h, np.ceil(y1)))
    n = (yb - ya) * STROKE_END_FRACTION
    if xb <= xa or n < 2:
        return None
    n = int(n)
    ink = 255.0 - gray[ya:yb, xa:xb].astype(np.float64)
    ink = np.clip(ink - np.median(ink), 0.0, None)

    def centre(rows: np.ndarray) -> float | None:  # box coordinates: pixel i spans [i, i + 1)
        weight = rows.sum(axis=0)
        total = weight.sum()
        return None if total <= 0 else xa + 0.5 + float((weight * np.arange(len(weight))).sum() / total)

    top, bottom = centre(ink[:n]), centre(ink[-n:])
    if top is None or bottom is None:
        return None
    y_top, y_bottom = ya + n / 2, yb - n / 2
    slope = (bottom - top) / max(y_bottom - y_top, 1.0)
    at_top, at_bottom = top + slope * (y0 - y_top), top + slope * (y1 - y_top)
    return at_top, at_bottom, max(1.0, (x1 - x0) - abs(at_bottom - at_top))


def stroke_box_to_original(page, gray: np.ndarray, box: tuple[float, float, float, float]
                           ) -> tuple[float, float, float, float] | None:
    """The photo box (``page``'s original pixels) of the thin stroke in the
    normalized ``box``: its axis (:func:`stroke_axis`) mapped to the photo, widened
    by its width there; None where no axis is found."""
    axis = stroke_axis(gray, box)
    if axis is None:
        return None
    top, bottom, width = axis
    ends = page.box_points_to_original(np.array([[top, box[1]], [bottom, box[3]], [top + width, box[1]]]))
    half = 0.5 * float(np.hypot(*(ends[2] - ends[0])))
    return (float(min(ends[0, 0], ends[1, 0]) - half), float(min(ends[0, 1], ends[1, 1])),
            float(max(ends[0, 0], ends[1, 0]) + half), float(max(ends[0, 1], ends[1, 1])))
