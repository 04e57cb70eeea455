"""One box per printed symbol of a verovio page SVG, each with an :mod:`omr.vocab` class.

:func:`parse_svg` reads one page SVG into a :class:`ParsedPage`: its
:class:`Symbol` boxes in SVG user units (:meth:`ParsedPage.symbols_px` maps them
to raster pixels), the fonts its text needs and what was left without a box.

verovio's SVG is nested groups, one per MEI element (``<g class="note">``), holding
drawing primitives: SMuFL glyphs (``<use xlink:href="#E0A4-..">``), straight lines
(``<path d="M x y L x y" stroke-width>``), polygons (beams), bezier paths (ties,
slurs) and text. :func:`parse_svg` walks the SVG once with a regular expression and
computes the exact extent of every primitive:

- a glyph's outline from its ``<defs>`` path (exact bezier bounds), moved by its
  ``translate() scale()``: key-signature accidentals, time-signature digits, dots
  and repeat dots get one box each although verovio boxes only their group;
- lines from their end points, stroke width and caps; polygons (each beam line)
  from their points; ties and slurs from exact bezier bounds;
- text by laying it out the way resvg draws it, with the metrics of the fonts it
  draws it in (Liberation Serif for verovio's "Times, serif", GPOS kerning
  included; the music font for SMuFL characters), so a lyric syllable's box hugs
  its ink although verovio gives it none (:mod:`synth.text_fonts`).

Then the element a primitive belongs to decides the class: glyphs through
``vocab.class_for_glyph(element, glyph)``; the small tables here for barline forms,
hairpins, brace/bracket, dynamics and navigation words; the data verovio writes
into the SVG on request (``svgAdditionalAttribute``: ``barLine@form``,
``hairpin@form``, ``staff@n``, ``note@grace``, ``dir@staff`` ...). Barlines get one
box per staff (the connecting piece between staves is left out), staves one box
per staff across the system, ``system`` the union of its staves. Invisible things
(``visibility="hidden"``, placeholders, empty accidentals) get no box.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

import numpy as np

from omr import vocab
from synth.svg_geometry import (NUM, Box, apply_box, compose, general_path_box, glyph_def_bounds,
                                line_box, parse_transform, path_bounds, union)
from synth.text_fonts import TextStyle, layout_text, music_face

#: Verovio's SVG user units per staff space at staff size 100 (MEI unit 9 x 2 x 10).
STAFF_SPACE_UNITS = 180.0


# Defined here, where a page SVG can be refused; synth.engrave re-exports it.
class EngraveError(ValueError):
    """verovio cannot load or lay out the given text as music."""


@dataclass
class Symbol:
    """One printed symbol: class, box in raster pixels ``(x0, y0, x1, y1)``, the
    verovio id of the element it comes from (several boxes can share one: the beam
    lines of a beam, the per-staff parts of a barline, the dots of a note)."""

    cls: str
    box: tuple[float, float, float, float]
    id: str
    #: 0-based staff on the page, top to bottom (None: page-level, e.g. title).
    staff: int | None = None
    #: 0-based system on the page.
    system: int | None = None
    #: The note/chord/rest this stem, flag, accidental or dot belongs to.
    parent: str | None = None
    #: Printed text of text classes (lyrics, tempo, dynamics, words, numbers).
    text: str | None = None


# -------------------------------------------------------------------- SVG parse

OUTER_SVG = re.compile(r"<svg\b[^>]*>")
VIEWBOX = re.compile(r'viewBox="([^"]*)"')
_LINE_PATH = re.compile(r"^\s*M\s*([-\d.]+)[ ,]+([-\d.]+)\s*L\s*([-\d.]+)[ ,]+([-\d.]+)\s*$")
_TOKEN = re.compile(r"<(/?)([A-Za-z][\w:.-]*)([^>]*?)(/?)>|([^<]+)", re.S)
_ATTR = re.compile(r'([\w:.-]+)="([^"]*)"')
_CSS_RULE = re.compile(r"([^{}]+)\{([^}]*)\}")


class _Node:
    __slots__ = ("cls", "classes", "id", "data", "parent", "children", "prims", "hidden", "index")

    def __init__(self, cls, classes, id_, data, parent, hidden):
        self.cls = cls
        self.classes = classes
        self.id = id_
        self.data = data
        self.parent = parent
        self.children = []
        self.prims = []
        self.hidden = hidden
        self.index = -1

    def ancestor(self, *classes):
        n = self.parent
        while n is not None:
            if n.cls in classes:
                return n
            n = n.parent
        return None

    def walk(self):
        stack = [self]
        while stack:
            n = stack.pop()
            yield n
            stack.extend(reversed(n.children))

    def all_prims(self):
        for n in self.walk():
            yield from n.prims


# primitive kinds
_USE, _LINE, _PATH, _POLY, _RECT, _ELLIPSE, _TEXT = range(7)


class _Prim:
    __slots__ = ("kind", "box", "glyph", "scale", "seg", "text", "chunks", "notes")

    def __init__(self, kind, box, glyph=None, scale=1.0, seg=None, text=None, chunks=None, notes=None):
        self.kind = kind
        self.box = box
        self.glyph = glyph
        self.scale = scale
        self.seg = seg
        self.text = text
        self.chunks = chunks
        #: Of a text: the parts of the metronome marks' notes in it, (class, box).
        self.notes = notes or []


class _Staff:
    """One staff of a page: its lines gathered over the measures of its system."""

    def __init__(self, system, n):
        self.system = system
        self.n = n
        self.ids = []
        self.lines = []  # (y, x0, x1, width)
        self.index = -1
        self._ys = None

    def finish(self):
        self._ys = sorted({round(y, 1) for y, _, _, _ in self.lines})
        self._space = (float(np.median(np.diff(self._ys))) if len(self._ys) > 1
                       else STAFF_SPACE_UNITS)
        self._box = (min(l[1] for l in self.lines), min(l[0] - l[3] / 2 for l in self.lines),
                     max(l[2] for l in self.lines), max(l[0] + l[3] / 2 for l in self.lines))

    def space(self) -> float:
        return self._space

    def box(self) -> Box:
        return self._box

    def top(self):
        return self._ys[0]

    def bottom(self):
        return self._ys[-1]


@dataclass(frozen=True)
class PageGeometry:
    """How an SVG page maps to pixels: the outer ``<svg>`` size (px) and the inner
    viewBox (user units), placed with SVG's default ``xMidYMid meet`` (verovio's
    ``shrinkToFit`` enlarges the viewBox of a page whose system is too tall)."""

    width: float
    height: float
    view: tuple[float, float, float, float]

    @classmethod
    def of(cls, svg: str) -> "PageGeometry":
        outer = OUTER_SVG.search(svg)
        vb = VIEWBOX.search(svg)
        if outer is None or vb is None:
            raise EngraveError("not a verovio page SVG (no <svg viewBox>)")
        view = tuple(float(v) for v in NUM.findall(vb.group(1)))
        w = re.search(r'\bwidth="([\d.]+)', outer.group(0))
        h = re.search(r'\bheight="([\d.]+)', outer.group(0))
        width = float(w.group(1)) if w else view[2]
        height = float(h.group(1)) if h else view[3]
        return cls(width, height, view)

    def mapping(self, raster_width: int) -> tuple[float, float, float, int]:
        """(k, ox, oy, raster height): pixel = k * (user - view origin) + offset."""
        r = raster_width / self.width
        s = min(self.width / self.view[2], self.height / self.view[3])
        ox = r * (self.width - self.view[2] * s) / 2.0
        oy = r * (self.height - self.view[3] * s) / 2.0
        return r * s, ox, oy, int(round(self.height * r))


@dataclass
class ParsedPage:
    """Symbols of one verovio SVG page in SVG user units (see :meth:`symbols_px`)."""

    geometry: PageGeometry
    symbols: list[Symbol]
    staff_space_units: float
    fonts: set[str]  # font keys the text needs (see synth.engrave.font_files)
    unknown: dict[str, int]
    #: Union of everything drawn (SVG user units); None for a blank page.
    ink_box: Box | None = None

    def symbols_px(self, raster_width: int) -> list[Symbol]:
        """The symbols in pixels of a raster ``raster_width`` wide, clipped to it
        (boxes wholly outside the page are dropped)."""
        k, ox, oy, height = self.geometry.mapping(raster_width)
        vx, vy = self.geometry.view[0], self.geometry.view[1]
        width = float(raster_width)
        out = []
        for s in self.symbols:
            x0, y0, x1, y1 = s.box
            x0, x1 = max(0.0, (x0 - vx) * k + ox), min(width, (x1 - vx) * k + ox)
            y0, y1 = max(0.0, (y0 - vy) * k + oy), min(float(height), (y1 - vy) * k + oy)
            if x1 - x0 <= 0.0 or y1 - y0 <= 0.0:
                continue
            out.append(Symbol(s.cls, (round(x0, 2), round(y0, 2), round(x1, 2), round(y1, 2)),
                              s.id, s.staff, s.system, s.parent, s.text))
        return out


def parse_svg(svg: str, *, font: str | None = None) -> ParsedPage:
    """Read one verovio page SVG into symbols (SVG user units of the page).
    ``font`` is the page's music font (where text finds characters its face lacks)."""
    root = _Node("root", (), None, {}, None, False)
    node = root
    stack = []  # frames: (tag, node-or-None, matrix, textstyle)
    matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    tstyle = TextStyle()
    css_font: dict[str, dict[str, str]] = {}
    defs: dict[str, Box | None] = {}
    fonts_used: set[str] = set()
    fallback = music_face(font or "Leipzig")
    view = None
    in_defs = 0
    def_id = None
    in_style = False
    in_label = 0  # inside <title>/<desc>: not drawn
    style_text = []
    text_segments = None
    text_pending = None  # (x, y) of a tspan that starts a chunk
    fstack_matrix = matrix  # the matrix of the open <text> (set as it opens)

    for m in _TOKEN.finditer(svg):
        chars = m.group(5)
        if chars is not None:
            if in_style:
                style_text.append(chars)
            elif text_segments is not None and not in_label:
                x = y = None
                if text_pending is not None:
                    x, y = text_pending
                    text_pending = None
                text_segments.append((html.unescape(chars), tstyle, x, y, 0.0, 0.0))
            continue
        closing, tag, attrs, selfclose = m.group(1), m.group(2), m.group(3), m.group(4)
        if closing:
            if not stack:
                continue
            ftag, fnode, matrix, tstyle = stack.pop()
            if ftag == "g" and fnode is not None:
                node = fnode.parent if fnode.parent is not None else root
            elif ftag == "defs":
                in_defs -= 1
            elif ftag in ("title", "desc"):
                in_label -= 1
            elif ftag == "style":
                in_style = False
                _read_css("".join(style_text), css_font)
            elif ftag == "text" and text_segments is not None:
                box, string, chunks, notes = layout_text(text_segments, fallback, fonts_used)
                if box is not None and not node.hidden:
                    node.prims.append(_Prim(
                        _TEXT, apply_box(fstack_matrix, box), text=string,
                        chunks=[(apply_box(fstack_matrix, c), t) for c, t in chunks],
                        notes=[(c, apply_box(fstack_matrix, b)) for c, b in notes]))
                text_segments = None
            # restore the node for the enclosing frame
            continue
        a = dict(_ATTR.findall(attrs)) if attrs else {}
        if tag == "g":
            if in_defs:
                def_id = a.get("id")
                if not selfclose:
                    stack.append(("gdef", None, matrix, tstyle))
                continue
            classes = tuple(a.get("class", "").split())
            cls = classes[0] if classes else ""
            data = {k[5:]: v for k, v in a.items() if k.startswith("data-")}
            hidden = node.hidden or "placeholder" in classes or a.get("visibility") == "hidden"
            child = _Node(cls, classes, a.get("id"), data, node, hidden)
            node.children.append(child)
            new_matrix = (compose(matrix, parse_transform(a["transform"]))
                          if "transform" in a else matrix)
            new_style = _restyle(tstyle, a, classes, css_font)
            if selfclose:
                continue
            stack.append(("g", child, matrix, tstyle))
            node = child
            matrix = new_matrix
            tstyle = new_style
        elif tag == "use":
            href = a.get("xlink:href") or a.get("href") or ""
            ref = href.lstrip("#")
            b = defs.get(ref)
            if b is not None and not node.hidden:
                t = parse_transform(a.get("transform"))
                full = compose(matrix, t)
                if "x" in a or "y" in a:
                    full = compose(full, (1, 0, 0, 1, float(a.get("x", 0)), float(a.get("y", 0))))
                node.prims.append(_Prim(_USE, apply_box(full, b), glyph=ref.split("-")[0].upper(),
                                        scale=abs(t[3])))
            if not selfclose:
                stack.append(("use", None, matrix, tstyle))
        elif tag == "path":
            d = a.get("d", "")
            if in_defs:
                if def_id is not None:
                    flipped = "scale(1,-1)" in a.get("transform", "").replace(" ", "")
                    b = glyph_def_bounds(d) if flipped else path_bounds(d)
                    if b is not None:
                        old = defs.get(def_id)
                        defs[def_id] = union([old, b]) if old else b
                if not selfclose:
                    stack.append(("path", None, matrix, tstyle))
                continue
            if not node.hidden and d:
                sw = float(a.get("stroke-width", 1.0))
                lm = _LINE_PATH.match(d)
                if lm:
                    x0, y0, x1, y1 = (float(v) for v in lm.groups())
                    box = line_box(x0, y0, x1, y1, sw, a.get("stroke-linecap", "butt"))
                    seg = (x0, y0, x1, y1, sw) if matrix[1] == 0 == matrix[2] else None
                    if seg is not None:
                        ma, _, _, md, me, mf = matrix
                        seg = (ma * x0 + me, md * y0 + mf, ma * x1 + me, md * y1 + mf, sw * abs(ma))
                    node.prims.append(_Prim(_LINE, apply_box(matrix, box), seg=seg))
                else:
                    box = general_path_box(d, sw if a.get("stroke") != "none" else 0.0)
                    if box is not None:
                        node.prims.append(_Prim(_PATH, apply_box(matrix, box)))
            if not selfclose:
                stack.append(("path", None, matrix, tstyle))
        elif tag in ("polygon", "polyline"):
            if not node.hidden:
                v = [float(x) for x in NUM.findall(a.get("points", ""))]
                if len(v) >= 4:
                    xs, ys = v[0::2], v[1::2]
                    h = float(a.get("stroke-width", 1.0)) / 2.0
                    node.prims.append(_Prim(_POLY, apply_box(
                        matrix, (min(xs) - h, min(ys) - h, max(xs) + h, max(ys) + h))))
            if not selfclose:
                stack.append((tag, None, matrix, tstyle))
        elif tag == "rect":
            if not node.hidden and not in_defs and a.get("fill") != "transparent":
                x, y = float(a.get("x", 0)), float(a.get("y", 0))
                w, hgt = float(a.get("width", 0)), float(a.get("height", 0))
                if w > 0 and hgt > 0:
                    h = float(a.get("stroke-width", 1.0)) / 2.0
                    box = (x - h, y - h, x + w + h, y + hgt + h)
                    node.prims.append(_Prim(_RECT, apply_box(matrix, box)))
            if not selfclose:
                stack.append(("rect", None, matrix, tstyle))
        elif tag in ("ellipse", "circle"):
            if not node.hidden and not in_defs:
                cx, cy = float(a.get("cx", 0)), float(a.get("cy", 0))
                rx = float(a.get("rx", a.get("r", 0)))
                ry = float(a.get("ry", a.get("r", 0)))
                box = (cx - rx, cy - ry, cx + rx, cy + ry)
                node.prims.append(_Prim(_ELLIPSE, apply_box(matrix, box)))
            if not selfclose:
                stack.append((tag, None, matrix, tstyle))
        elif tag == "text":
            new_style = _restyle(tstyle, a, (), css_font)
            if selfclose:
                continue
            stack.append(("text", None, matrix, tstyle))
            fstack_matrix = matrix
            tstyle = new_style
            text_segments = []
            text_pending = (float(a.get("x", 0)), float(a.get("y", 0)))
        elif tag == "tspan":
            new_style = _restyle(tstyle, a, (), css_font)
            if "x" in a or "y" in a:
                px, py = (text_pending if text_pending is not None else (None, None))
                text_pending = (float(a["x"]) if "x" in a else px,
                                float(a["y"]) if "y" in a else py)
            if ("dx" in a or "dy" in a) and text_segments is not None:
                text_segments.append(("", new_style, None, None, float(a.get("dx", 0) or 0),
                                      float(a.get("dy", 0) or 0)))
            if selfclose:
                continue
            stack.append(("tspan", None, matrix, tstyle))
            tstyle = new_style
        elif tag == "svg":
            if "viewBox" in a and view is None:
                view = [float(v) for v in NUM.findall(a["viewBox"])]
            if not selfclose:
                stack.append(("svg", None, matrix, tstyle))
            if "font-family" in a:
                tstyle = _restyle(tstyle, a, (), css_font)
        elif tag == "defs":
            if not selfclose:
                in_defs += 1
                stack.append(("defs", None, matrix, tstyle))
        elif tag in ("title", "desc"):
            if not selfclose:
                in_label += 1
                stack.append((tag, None, matrix, tstyle))
        elif tag == "style":
            if not selfclose:
                in_style = True
                style_text = []
                stack.append(("style", None, matrix, tstyle))
        else:
            if not selfclose:
                stack.append((tag, None, matrix, tstyle))
    if view is None:
        raise EngraveError("not a verovio page SVG (no viewBox)")
    return _Classifier(root, PageGeometry.of(svg), fonts_used).run()


def _read_css(text: str, out: dict[str, dict[str, str]]) -> None:
    for selectors, body in _CSS_RULE.findall(text):
        props = {}
        for decl in body.split(";"):
            if ":" in decl:
                k, v = decl.split(":", 1)
                k = k.strip()
                if k in ("font-weight", "font-style"):
                    props[k] = v.strip()
        if not props:
            continue
        for sel in selectors.split(","):
            mm = re.search(r"g\.([\w-]+)\s*$", sel.strip())
            if mm:
                out.setdefault(mm.group(1), {}).update(props)


def _restyle(style: TextStyle, a: dict, classes: tuple, css: dict) -> TextStyle:
    changed = None
    for c in classes:
        rule = css.get(c)
        if rule:
            changed = changed or TextStyle(**style.__dict__)
            if "font-weight" in rule:
                changed.weight = _norm_weight(rule["font-weight"])
            if "font-style" in rule:
                changed.style = _norm_style(rule["font-style"])
    for key in ("font-size", "font-family", "font-weight", "font-style", "text-anchor"):
        if key in a:
            changed = changed or TextStyle(**style.__dict__)
            v = a[key]
            if key == "font-size":
                nums = NUM.findall(v)
                if nums:
                    changed.size = float(nums[0])
            elif key == "font-family":
                changed.family = v
            elif key == "font-weight":
                changed.weight = _norm_weight(v)
            elif key == "font-style":
                changed.style = _norm_style(v)
            else:
                changed.anchor = v.strip()
    return changed or style


def _norm_weight(v: str) -> str:
    v = v.strip().lower()
    if v in ("bold", "bolder") or (v.isdigit() and int(v) >= 600):
        return "bold"
    return "normal"


def _norm_style(v: str) -> str:
    return "italic" if v.strip().lower() in ("italic", "oblique") else "normal"


# --------------------------------------------------------------- classification
# Everything that is not "glyph inside element" (which omr.vocab answers itself).

#: barLine @form -> class (invisible barlines draw nothing and get no box).
BARLINE_FORM_CLASS = {
    "single": "barline_single", "dashed": "barline_single", "dotted": "barline_single",
    "heavy": "barline_single",
    "dbl": "barline_double", "dbldashed": "barline_double", "dbldotted": "barline_double",
    "dblheavy": "barline_double",
    "end": "barline_final",
    "rptstart": "barline_repeat_start", "rptend": "barline_repeat_end",
    "rptboth": "barline_repeat_both",
}
#: hairpin @form -> class.
HAIRPIN_FORM_CLASS = {"cres": "hairpin_crescendo", "dim": "hairpin_diminuendo"}
#: A black notehead's width, staff spaces (SMuFL fonts: 1.18 to 1.3), and the part of
#: it under which a metronome mark's note is labelled cue-sized (as a note whose
#: glyph is drawn under 0.85 of the staff's size is: see ``h_note``).
NOTEHEAD_WIDTH_SS = 1.18
METRONOME_CUE_WIDTH = 0.85


def metronome_note_labels(labels) -> set[int]:
    """The indices of the labels, ``(class, id)`` pairs, that are parts of a metronome
    mark's note (notehead, stem, flag, dot): they carry the id of their tempo text
    (``_Classifier._metronome_notes``).

    >>> sorted(metronome_note_labels([("tempo_text", "t"), ("notehead_black", "t"),
    ...                               ("stem", "t"), ("notehead_black", "n")]))
    [1, 2]
    """
    labels = list(labels)
    texts = {i for c, i in labels if c == "tempo_text" and i is not None}
    return {k for k, (c, i) in enumerate(labels) if c != "tempo_text" and i in texts}
#: grpSym @symbol -> class ("line" sub-brackets are not in the vocabulary).
GRPSYM_CLASS = {"brace": "brace", "bracket": "bracket", "bracketsq": "bracket"}
#: The printed text of a dynamic (letters, no spaces) -> class; others: dynamic_other.
DYNAMIC_TEXT_CLASS = {
    "ppp": "dynamic_ppp", "pp": "dynamic_pp", "p": "dynamic_p", "mp": "dynamic_mp",
    "mf": "dynamic_mf", "f": "dynamic_f", "ff": "dynamic_ff", "fff": "dynamic_fff",
    "sf": "dynamic_sf", "sfz": "dynamic_sf", "sffz": "dynamic_sf", "fz": "dynamic_sf",
    "rf": "dynamic_sf", "rfz": "dynamic_sf", "fp": "dynamic_fp",
}
#: SMuFL dynamics code points (verovio draws dynamics as these glyphs) -> letters.
SMUFL_DYNAMICS = {
    "E520": "p", "E521": "m", "E522": "f", "E523": "r", "E524": "s", "E525": "z", "E526": "n",
    "E527": "pppppp", "E528": "ppppp", "E529": "pppp", "E52A": "ppp", "E52B": "pp",
    "E52C": "mp", "E52D": "mf", "E52E": "pf", "E52F": "ff", "E530": "fff", "E531": "ffff",
    "E532": "fffff", "E533": "ffffff", "E534": "fp", "E535": "fz", "E536": "sf",
    "E537": "sfp", "E538": "sfpp", "E539": "sfz", "E53A": "sfzp", "E53B": "sffz",
    "E53C": "rf", "E53D": "rfz",
}
#: Navigation words in ``dir`` elements -> class, first match wins; other words: text_other.
NAVIGATION_TEXT_CLASS = (
    (re.compile(r"^\W*(d\.\s*c\.?|dc\b|da\s*capo)", re.I), "text_dacapo"),
    (re.compile(r"^\W*(d\.\s*s\.?|ds\b|dal\s*segno)", re.I), "text_dalsegno"),
    (re.compile(r"^\W*fine\W*$", re.I), "text_fine"),
    (re.compile(r"\bto\s*coda\b|\ba\s*la\s*coda\b", re.I), "text_tocoda"),
)
#: SMuFL navigation glyphs drawn as whole words (repeatMark @func) -> class.
REPEATMARK_GLYPH_CLASS = {"E045": "text_dalsegno", "E046": "text_dacapo"}
#: SMuFL characters that, as the whole text of a direction, are a sign.
SMUFL_SIGN_TEXT_CLASS = {"\ue047": "segno", "\ue048": "coda"}
#: Elements whose text is the symbol -> class.
TEXT_ELEMENT_CLASS = {
    "syl": "lyric_syllable", "tempo": "tempo_text", "fing": "fingering",
    "mNum": "measure_number", "label": "text_other", "labelAbbr": "text_other",
    "harm": "text_other", "reh": "text_other", "pgHead": "credit_text", "pgFoot": "credit_text",
}
#: verovio attributes written into the SVG as data-* (what the classes above need).
SVG_ATTRIBUTES = (
    "note@grace", "note@cue", "chord@grace", "chord@cue", "staff@n", "measure@n",
    "barLine@form", "hairpin@form", "grpSym@symbol",
    *(f"{e}@staff" for e in ("dir", "dynam", "tempo", "hairpin", "slur", "tie", "fermata",
                             "trill", "mordent", "turn", "arpeg", "pedal", "octave",
                             "repeatMark", "harm", "fing", "reh", "breath", "phrase")),
)


def _check_tables() -> None:
    names = set(vocab.NAMES)
    targets = [*BARLINE_FORM_CLASS.values(), *HAIRPIN_FORM_CLASS.values(), *GRPSYM_CLASS.values(),
               *DYNAMIC_TEXT_CLASS.values(), *(c for _, c in NAVIGATION_TEXT_CLASS),
               *REPEATMARK_GLYPH_CLASS.values(), *SMUFL_SIGN_TEXT_CLASS.values(),
               *TEXT_ELEMENT_CLASS.values(), "dynamic_other", "text_other", "grace_slash",
               "volta_bracket", "volta_number", "ledger_line", "stem", "beam", "tie", "slur",
               "tuplet_bracket", "arpeggio", "octave_line", "staff", "system",
               "rest_multi", "lyric_hyphen", "augmentation_dot"]
    missing = sorted(set(targets) - names)
    if missing:
        raise ValueError(f"synth.svg_boxes maps to classes missing from omr.vocab: {missing}")


_check_tables()


def _glyph_class(element: str, glyph: str, *, cue: bool = False) -> str | None:
    try:
        return vocab.class_for_glyph(element, glyph, cue=cue)
    except vocab.VocabError:
        return None


def _dynamic_class(text: str) -> str:
    letters = re.sub(r"[\s.]", "", text.lower())
    return DYNAMIC_TEXT_CLASS.get(letters, "dynamic_other")


def _smufl_to_text(text: str) -> str:
    out = []
    for ch in text:
        code = f"{ord(ch):04X}"
        out.append(SMUFL_DYNAMICS.get(code, ch))
    return "".join(out)


def _direction_class(text: str) -> str:
    t = text.strip()
    if t in SMUFL_SIGN_TEXT_CLASS:
        return SMUFL_SIGN_TEXT_CLASS[t]
    plain = re.sub(r"[\ue000-\uf8ff]", " ", t).strip()
    for pattern, cls in NAVIGATION_TEXT_CLASS:
        if pattern.search(plain):
            return cls
    if not plain and "\ue048" in t:
        return "coda"
    return "text_other"


class _Classifier:
    def __init__(self, root: _Node, geometry, fonts):
        self.root = root
        self.geometry = geometry
        self.fonts = fonts
        self.out: list[Symbol] = []
        self.unknown: dict[str, int] = {}
        self.staves: dict[tuple, _Staff] = {}
        self.staff_of_node: dict[int, _Staff] = {}
        self.systems: list[_Node] = []

    # -- helpers
    def emit(self, cls, box, node_id, staff=None, system=None, parent=None, text=None):
        if box is None or cls is None:
            return
        if box[2] - box[0] <= 0 or box[3] - box[1] <= 0:
            return
        self.out.append(Symbol(cls, box, node_id or "", staff, system, parent, text))

    def emit_on_staff(self, n, cls, box, parent=None, text=None):
        """Emit a symbol of node ``n`` on the staff (and system) its box lies on."""
        s, sy = self.staff_for(n, box)
        self.emit(cls, box, n.id, s, sy, parent, text=text)

    def miss(self, what):
        self.unknown[what] = self.unknown.get(what, 0) + 1

    def run(self) -> ParsedPage:
        # pass 1: systems and staves
        for n in self.root.walk():
            if n.cls == "system":
                n.index = len(self.systems)
                self.systems.append(n)
            elif n.cls == "staff" and not n.hidden:
                system = n.ancestor("system")
                key = (id(system), n.data.get("n", ""))
                st = self.staves.get(key)
                if st is None:
                    st = self.staves[key] = _Staff(system, n.data.get("n", ""))
                st.ids.append(n.id)
                for p in n.prims:
                    if p.kind == _LINE and p.seg is not None and abs(p.seg[1] - p.seg[3]) < 1e-6:
                        x0, y0, x1, _, w = p.seg
                        st.lines.append((y0, min(x0, x1), max(x0, x1), w))
                self.staff_of_node[id(n)] = st
        staves = [s for s in self.staves.values() if s.lines]
        for s in staves:
            s.finish()
        staves.sort(key=lambda s: (s.system.index if s.system is not None else -1, s.top()))
        for i, s in enumerate(staves):
            s.index = i
        self.page_staves = staves
        by_system: dict[int, list[_Staff]] = {}
        for s in staves:
            by_system.setdefault(id(s.system), []).append(s)
        self.by_system = by_system
        spaces = [s.space() for s in staves]
        space = float(np.median(spaces)) if spaces else STAFF_SPACE_UNITS
        self.space = space
        # staff and system boxes
        for s in staves:
            self.emit("staff", s.box(), s.ids[0], staff=s.index,
                      system=s.system.index if s.system else None)
        for system in self.systems:
            group = by_system.get(id(system), [])
            boxes = [s.box() for s in group]
            boxes += [p.box for p in system.prims if p.kind in (_LINE, _PATH, _RECT)]
            if group:
                self.emit("system", union(boxes), system.id, system=system.index)
        # pass 2: every element
        for n in self.root.walk():
            if n.hidden or not n.cls:
                continue
            handler = getattr(self, "h_" + n.cls, None)
            if handler is not None:
                handler(n)
        ink = union(p.box for n in self.root.walk() if not n.hidden for p in n.prims)
        return ParsedPage(self.geometry, self.out, space, self.fonts, self.unknown, ink)

    def staff_for(self, n: _Node, box: Box | None = None) -> tuple[int | None, int | None]:
        """(page staff, system) of an element: its staff group, else @staff, else nearest."""
        system = None
        p = n
        while p is not None:
            st = self.staff_of_node.get(id(p))
            if st is not None and st.index >= 0:
                if box is not None:
                    alt = self._cross_staff(st, box)
                    if alt is not None:
                        return alt.index, alt.system.index
                return st.index, st.system.index if st.system else None
            if p.cls == "system":
                system = p
                break
            p = p.parent
        group = self.by_system.get(id(system), []) if system is not None else self.page_staves
        if not group:
            return None, system.index if system is not None else None
        sn = None
        q = n
        while q is not None and q is not system:
            if "staff" in q.data:
                sn = q.data["staff"].split()[0]
                break
            q = q.parent
        if sn is not None:
            for st in group:
                if st.n == sn:
                    return st.index, system.index if system is not None else st.system.index
        if box is None:
            return None, system.index if system is not None else None
        cy = (box[1] + box[3]) / 2
        best = min(group, key=lambda st: 0 if st.top() <= cy <= st.bottom()
                   else min(abs(cy - st.top()), abs(cy - st.bottom())))
        return best.index, best.system.index if best.system is not None else None

    def _cross_staff(self, own: _Staff, box: Box) -> _Staff | None:
        cy = (box[1] + box[3]) / 2
        if own.top() - own.space() <= cy <= own.bottom() + own.space():
            return None
        for st in self.by_system.get(id(own.system), []):
            if st is not own and st.top() <= cy <= st.bottom():
                return st
        return None

    def parent_id(self, n: _Node, *classes) -> str | None:
        a = n.ancestor(*classes)
        return a.id if a is not None else None

    def emit_glyphs(self, n: _Node, element: str, prims=None, parent=None, cue=False):
        prims = n.prims if prims is None else prims
        for p in prims:
            if p.kind != _USE:
                continue
            cls = _glyph_class(element, p.glyph, cue=cue)
            if cls is None:
                self.miss(f"{n.cls}:{p.glyph}")
                continue
            st, sy = self.staff_for(n, p.box)
            self.emit(cls, p.box, n.id, st, sy, parent)

    # -- handlers (method name: h_<verovio class>)
    def h_note(self, n):
        head = next((c for c in n.children if c.cls == "notehead"), None)
        prims = head.prims if head is not None else n.prims
        uses = [p for p in prims if p.kind == _USE]
        if not uses:
            return
        chord = n.ancestor("chord")
        cue = any(x is not None and (x.data.get("grace") or x.data.get("cue") == "true")
                  for x in (n, chord))
        st = None
        p0 = n
        while p0 is not None and st is None:
            st = self.staff_of_node.get(id(p0))
            p0 = p0.parent
        space = st.space() if st is not None and st.index >= 0 else self.space
        normal = 4.0 * space / 1000.0  # SMuFL: an em is four staff spaces
        for p in uses:
            is_cue = cue or p.scale < 0.85 * normal
            cls = _glyph_class("note", p.glyph, cue=is_cue)
            if cls is None:
                self.miss(f"note:{p.glyph}")
                continue
            self.emit_on_staff(n, cls, p.box)

    def h_stem(self, n):
        parent = self.parent_id(n, "note", "chord")
        for p in n.prims:
            if p.kind != _LINE:
                continue
            s, sy = self.staff_for(n, p.box)
            if p.seg is not None and abs(p.seg[0] - p.seg[2]) > 0.5 * p.seg[4] + 1:
                self.emit("grace_slash", p.box, n.id, s, sy, parent)
            else:
                self.emit("stem", p.box, n.id, s, sy, parent)

    def h_flag(self, n):
        self.emit_glyphs(n, "flag", parent=self.parent_id(n, "note", "chord"))

    def h_beam(self, n):
        for p in n.prims:
            if p.kind == _POLY:
                self.emit_on_staff(n, "beam", p.box)

    h_fTrem = h_beam

    def h_rest(self, n):
        self.emit_glyphs(n, "rest")
        for p in n.prims:
            if p.kind == _LINE:
                self.emit_on_staff(n, "ledger_line", p.box, n.id)

    h_mRest = h_rest

    def h_multiRest(self, n):
        digits = [p for p in n.all_prims() if p.kind == _USE
                  and _glyph_class("multiRest", p.glyph) == "rest_multi_number"]
        rest = [p for p in n.all_prims() if p not in digits and p.kind != _TEXT]
        s, sy = self.staff_for(n)
        if digits:
            count = "".join(str(int(p.glyph, 16) - 0xE080) for p in sorted(digits, key=lambda p: p.box[0]))
            self.emit("rest_multi_number", union(p.box for p in digits), n.id, s, sy, text=count)
        if rest:
            self.emit("rest_multi", union(p.box for p in rest), n.id, s, sy)

    def h_accid(self, n):
        self.emit_glyphs(n, "accid", parent=self.parent_id(n, "note"))

    def h_dots(self, n):
        parent = self.parent_id(n, "note", "chord", "rest")
        for p in n.prims:
            if p.kind in (_USE, _ELLIPSE):
                self.emit_on_staff(n, "augmentation_dot", p.box, parent)

    def h_keyAccid(self, n):
        self.emit_glyphs(n, "keyAccid")

    def h_clef(self, n):
        self.emit_glyphs(n, "clef")

    def h_meterSig(self, n):
        self.emit_glyphs(n, "meterSig")

    def h_barLine(self, n):
        form = n.data.get("form", "single")
        cls = BARLINE_FORM_CLASS.get(form)
        if cls is None:
            return
        prims = [p for p in n.prims if p.kind in (_LINE, _USE, _RECT, _PATH, _ELLIPSE)]
        if not prims:
            return
        system = n.ancestor("system")
        group = self.by_system.get(id(system), []) if system is not None else []
        if not group:
            self.emit(cls, union(p.box for p in prims), n.id)
            return
        for st in group:
            top, bottom = st.top(), st.bottom()
            if bottom - top < 1:
                top, bottom = top - 2 * st.space(), bottom + 2 * st.space()
            mine = []
            for p in prims:
                b = p.box
                if p.kind == _LINE:
                    overlap = min(b[3], bottom) - max(b[1], top)
                    if overlap >= 0.5 * st.space():
                        mine.append(b)
                else:
                    cy = (b[1] + b[3]) / 2
                    if top <= cy <= bottom:
                        mine.append(b)
            if mine:
                self.emit(cls, union(mine), n.id, st.index, st.system.index)

    def h_ledgerLines(self, n):
        # ledger lines have no id of their own: they carry their staff's id
        staff = n.ancestor("staff")
        sid = n.id or (staff.id if staff is not None else "")
        s, sy = self.staff_for(n)
        for p in n.prims:
            if p.kind == _LINE:
                self.emit("ledger_line", p.box, sid, s, sy)

    def h_grpSym(self, n):
        cls = GRPSYM_CLASS.get(n.data.get("symbol", ""))
        if cls is None:
            return
        prims = [p for p in n.all_prims() if p.kind != _TEXT]
        system = n.ancestor("system")
        self.emit(cls, union(p.box for p in prims), n.id, None, system.index if system else None)

    def h_ending(self, n):
        lines = [p for p in n.all_prims() if p.kind in (_LINE, _PATH, _POLY)]
        texts = [p for p in n.all_prims() if p.kind == _TEXT]
        s, sy = self.staff_for(n, union(p.box for p in lines + texts))
        if lines:
            self.emit("volta_bracket", union(p.box for p in lines), n.id, s, sy)
        for t in texts:
            self.emit("volta_number", t.box, n.id, s, sy, text=t.text)

    def h_repeatMark(self, n):
        for p in n.all_prims():
            if p.kind == _USE:
                cls = _glyph_class("repeatMark", p.glyph) or REPEATMARK_GLYPH_CLASS.get(p.glyph)
                if cls is None:
                    self.miss(f"repeatMark:{p.glyph}")
                    continue
                self.emit_on_staff(n, cls, p.box)
            elif p.kind == _TEXT:
                self.emit_on_staff(n, _direction_class(p.text), p.box, text=p.text)

    def _text_and_glyphs(self, n):
        prims = [p for p in n.all_prims() if p.kind in (_TEXT, _USE)]
        text = "".join(p.text if p.kind == _TEXT else chr(int(p.glyph, 16)) for p in prims)
        return prims, text

    def h_dir(self, n):
        prims, text = self._text_and_glyphs(n)
        if not prims:
            return
        box = union(p.box for p in prims)
        self.emit_on_staff(n, _direction_class(text), box, text=text.strip())

    def h_dynam(self, n):
        prims, text = self._text_and_glyphs(n)
        if not prims:
            return
        text = _smufl_to_text(text).strip()
        box = union(p.box for p in prims)
        self.emit_on_staff(n, _dynamic_class(text), box, text=text)

    def h_hairpin(self, n):
        cls = HAIRPIN_FORM_CLASS.get(n.data.get("form", ""))
        prims = [p for p in n.prims if p.kind in (_LINE, _PATH, _POLY)]
        if cls is None or not prims:
            return
        box = union(p.box for p in prims)
        self.emit_on_staff(n, cls, box)

    def h_tupletNum(self, n):
        uses = [p for p in n.all_prims() if p.kind == _USE]
        if not uses:
            return
        cls = next((c for c in (_glyph_class("tupletNum", p.glyph) for p in uses) if c), None)
        if cls is None:
            self.miss("tupletNum:" + uses[0].glyph)
            return
        box = union(p.box for p in uses)
        self.emit_on_staff(n, cls, box, self.parent_id(n, "tuplet"))

    def h_tupletBracket(self, n):
        prims = [p for p in n.all_prims() if p.kind in (_LINE, _PATH, _POLY, _RECT)]
        if prims:
            box = union(p.box for p in prims)
            self.emit_on_staff(n, "tuplet_bracket", box, self.parent_id(n, "tuplet"))

    def _curve(self, n, cls):
        for p in n.prims:
            if p.kind in (_PATH, _LINE):
                self.emit_on_staff(n, cls, p.box)

    def h_tie(self, n):
        self._curve(n, "tie")

    def h_slur(self, n):
        self._curve(n, "slur")

    h_phrase = h_slur

    def h_fermata(self, n):
        self.emit_glyphs(n, "fermata", prims=list(n.all_prims()))

    def h_artic(self, n):
        self.emit_glyphs(n, "artic", prims=list(n.all_prims()),
                         parent=self.parent_id(n, "note", "chord"))

    def h_trill(self, n):
        for p in n.all_prims():
            if p.kind == _USE and _glyph_class("trill", p.glyph):
                self.emit_on_staff(n, _glyph_class("trill", p.glyph), p.box)

    def h_mordent(self, n):
        self.emit_glyphs(n, "mordent", prims=list(n.all_prims()))

    def h_turn(self, n):
        self.emit_glyphs(n, "turn", prims=list(n.all_prims()))

    def h_arpeg(self, n):
        prims = [p for p in n.all_prims() if p.kind != _TEXT]
        if prims:
            box = union(p.box for p in prims)
            self.emit_on_staff(n, "arpeggio", box)

    def h_pedal(self, n):
        for p in n.all_prims():
            if p.kind == _USE:
                cls = _glyph_class("pedal", p.glyph)
                if cls:
                    self.emit_on_staff(n, cls, p.box)

    def h_octave(self, n):
        prims = list(n.all_prims())
        if prims:
            box = union(p.box for p in prims)
            self.emit_on_staff(n, "octave_line", box)

    def h_tempo(self, n):
        prims, text = self._text_and_glyphs(n)
        if prims:
            box = union(p.box for p in prims)
            self.emit_on_staff(n, "tempo_text", box, text=text.strip())
            self._metronome_notes(n, [part for p in prims for part in p.notes])

    def _metronome_notes(self, n, parts):
        """The note of a metronome mark ("♩ = 100") printed in a text: its notehead,
        stem, flag and dot, labelled as a note's are (it looks like one), cue-sized
        where its head is under ``METRONOME_CUE_WIDTH`` of a notehead of the staff's
        size."""
        for cls, box in parts:
            if cls.startswith("notehead_"):
                st, _ = self.staff_for(n, box)
                space = self.page_staves[st].space() if st is not None else self.space
                if box[2] - box[0] < METRONOME_CUE_WIDTH * NOTEHEAD_WIDTH_SS * space:
                    cls += "_cue"
            self.emit_on_staff(n, cls, box, parent=n.id)  # the tempo text's id, as its id too

    def _text_element(self, n):
        cls = TEXT_ELEMENT_CLASS[n.cls]
        texts = [p for p in n.all_prims() if p.kind == _TEXT]
        if not texts:
            return
        if n.cls in ("pgHead", "pgFoot"):
            for t in texts:
                for c, line in t.chunks or [(t.box, t.text)]:
                    self.emit(cls, c, n.id, None, None, text=line)
            return
        box = union(p.box for p in texts)
        self.emit_on_staff(n, cls, box, text="".join(p.text for p in texts).strip())
        if n.cls == "syl":
            for p in n.all_prims():
                if p.kind in (_RECT, _LINE, _PATH):
                    s2, sy2 = self.staff_for(n, p.box)
                    self.emit("lyric_hyphen", p.box, n.id, s2, sy2)

    h_syl = h_fing = h_mNum = h_label = h_labelAbbr = h_harm = h_reh = _text_element
    h_pgHead = h_pgFoot = _text_element
