"""Geometry of SVG drawing primitives: boxes, transforms, exact path bounds.

A box is a tuple ``(x0, y0, x1, y1)``. :func:`parse_transform` turns an SVG
``transform`` into an affine matrix ``(a, b, c, d, e, f)``, :func:`compose` chains
two, :func:`apply_box` moves a box through one (the box of the moved corners).
:func:`path_bounds` gives the exact bounds of a path outline (bezier extrema, by
fontTools), :func:`line_box` the ink of a stroked straight segment.

Shared by :mod:`synth.svg_boxes` (the boxes of a verovio page) and
:mod:`synth.text_fonts` (the outlines of the music fonts' glyphs).
"""

from __future__ import annotations

import functools
import math
import re
from typing import Iterable

#: A number in SVG attribute text.
NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_TRANSFORM = re.compile(r"(matrix|translate|scale|rotate)\s*\(([^)]*)\)")

Box = tuple  # (x0, y0, x1, y1)


def union(boxes: Iterable[Box]) -> Box | None:
    """The box around ``boxes`` (None when there are none)."""
    x0 = y0 = math.inf
    x1 = y1 = -math.inf
    for b in boxes:
        if b[0] < x0: x0 = b[0]  # noqa: E701
        if b[1] < y0: y0 = b[1]  # noqa: E701
        if b[2] > x1: x1 = b[2]  # noqa: E701
        if b[3] > y1: y1 = b[3]  # noqa: E701
    if x0 == math.inf:
        return None
    return (x0, y0, x1, y1)


def parse_transform(text: str | None):
    """SVG transform -> affine (a, b, c, d, e, f)."""
    m = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    if not text:
        return m
    for name, args in _TRANSFORM.findall(text):
        v = [float(x) for x in NUM.findall(args)]
        if name == "translate":
            t = (1.0, 0.0, 0.0, 1.0, v[0], v[1] if len(v) > 1 else 0.0)
        elif name == "scale":
            t = (v[0], 0.0, 0.0, v[1] if len(v) > 1 else v[0], 0.0, 0.0)
        elif name == "rotate":
            a = math.radians(v[0])
            ca, sa = math.cos(a), math.sin(a)
            t = (ca, sa, -sa, ca, 0.0, 0.0)
            if len(v) == 3:
                cx, cy = v[1], v[2]
                t = compose(compose((1, 0, 0, 1, cx, cy), t), (1, 0, 0, 1, -cx, -cy))
        else:
            t = tuple(v[:6])
        m = compose(m, t)
    return m


def compose(m, t):
    """The affine ``m . t``: ``t`` applied first, then ``m``."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = t
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2,
            a * e2 + c * f2 + e, b * e2 + d * f2 + f)


def apply_box(m, box: Box) -> Box:
    """The box around ``box`` moved by the affine ``m``."""
    a, b, c, d, e, f = m
    x0, y0, x1, y1 = box
    if b == 0.0 and c == 0.0:
        X0, X1 = a * x0 + e, a * x1 + e
        Y0, Y1 = d * y0 + f, d * y1 + f
        return (min(X0, X1), min(Y0, Y1), max(X0, X1), max(Y0, Y1))
    pts = [(a * x + c * y + e, b * x + d * y + f) for x in (x0, x1) for y in (y0, y1)]
    xs = [p[0] for p in pts]
    ys = [p[1] for p in pts]
    return (min(xs), min(ys), max(xs), max(ys))


def path_bounds(d: str) -> Box | None:
    """Exact bounds of an SVG path's outline (no stroke)."""
    from fontTools.pens.boundsPen import BoundsPen
    from fontTools.svgLib.path import parse_path

    pen = BoundsPen(None)
    try:
        parse_path(d, pen)
    except Exception:  # noqa: BLE001 - a path we cannot read adds nothing
        return None
    return pen.bounds


@functools.lru_cache(maxsize=8192)
def glyph_def_bounds(d: str) -> Box | None:
    """Bounds of a glyph definition path drawn with ``transform="scale(1,-1)"``,
    in the glyph's SVG space (y down)."""
    b = path_bounds(d)
    if b is None:
        return None
    return (b[0], -b[3], b[2], -b[1])


def line_box(x0, y0, x1, y1, w, cap="butt") -> Box:
    """Ink of a stroked straight segment."""
    dx, dy = x1 - x0, y1 - y0
    n = math.hypot(dx, dy)
    h = w / 2.0
    if n == 0:
        return (x0 - h, y0 - h, x0 + h, y0 + h) if cap != "butt" else (x0, y0, x0, y0)
    ux, uy = dx / n, dy / n
    px, py = -uy * h, ux * h
    ex, ey = (ux * h, uy * h) if cap == "square" else (0.0, 0.0)
    xs = (x0 - ex + px, x0 - ex - px, x1 + ex + px, x1 + ex - px)
    ys = (y0 - ey + py, y0 - ey - py, y1 + ey + py, y1 + ey - py)
    box = (min(xs), min(ys), max(xs), max(ys))
    if cap == "round":
        box = (min(box[0], x0 - h, x1 - h), min(box[1], y0 - h, y1 - h),
               max(box[2], x0 + h, x1 + h), max(box[3], y0 + h, y1 + h))
    return box


def general_path_box(d: str, stroke: float) -> Box | None:
    """Bounds of a general path (curves included), padded by half the stroke."""
    b = path_bounds(d)
    if b is None:
        return None
    h = stroke / 2.0
    return (b[0] - h, b[1] - h, b[2] + h, b[3] + h)
