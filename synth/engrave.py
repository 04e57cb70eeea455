"""Engrave MusicXML with verovio into page images, one ground-truth box per symbol.

``engrave(musicxml, options, pages=...)`` lays a score out with verovio, renders the
requested pages to SVG, rasterizes them with resvg and reads a box for every printed
symbol out of the SVG, each with a class of :mod:`omr.vocab`. ``.notes`` lists every
note of the piece in *unfolded* playing order (repeats, endings, D.C./D.S./Coda/Fine
taken) with onsets in quarter notes and in seconds at the score's tempo.

The work is split by concern:

- :mod:`synth.svg_boxes`: reads a verovio page SVG into one box per printed
  symbol and gives each its :mod:`omr.vocab` class (:func:`~synth.svg_boxes.parse_svg`;
  how the boxes are made is told there);
- :mod:`synth.svg_geometry`: the geometry under it (SVG transforms, exact path
  bounds, stroked lines);
- :mod:`synth.text_fonts`: the fonts resvg draws text with (Liberation Serif, the
  music fonts rebuilt as OpenType files) and text laid out in them, so text gets
  boxes too;
- :mod:`synth.unfold`: the notes in unfolded playing order, read from the MusicXML
  and matched to verovio's ids (:func:`~synth.unfold.unfolded_notes`).

This module holds what ties them together: the layout options
(:class:`EngraveOptions`, :func:`sample_options`), the :class:`Engraver` (verovio
toolkit, pages on demand, notes), :func:`rasterize` (resvg, with the fonts the page's
text needs) and the results. :class:`Symbol` (from :mod:`synth.svg_boxes`),
:class:`NoteEvent` and :data:`DEFAULT_QPM` (from :mod:`synth.unfold`),
:exc:`EngraveError`, :data:`FONTS` and :data:`STAFF_SPACE_UNITS` are importable
from here too.

Examples
--------
>>> from synth import engrave, sources
>>> text = sources.read_musicxml(sources.corpus_root() / "bach" / "bwv66.6.mxl")
>>> e = engrave.engrave(text, engrave.EngraveOptions(font="Bravura"), pages=[1])
>>> page = e.pages[0]
>>> page.image.shape, round(page.staff_space_px)
((2829, 2000), 20)
>>> page.symbols[0].cls, page.symbols[0].staff
('staff', 0)
>>> n = e.notes[0]
>>> n.part_name, n.pitch, n.onset_qn, n.onset_sec
('Soprano', 73, 0.0, 0.0)
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

import numpy as np

from synth.svg_boxes import (OUTER_SVG, STAFF_SPACE_UNITS, SVG_ATTRIBUTES, VIEWBOX, EngraveError,
                             PageGeometry, Symbol, parse_svg)
from synth.svg_geometry import Box
from synth.text_fonts import (FONTS, LIBERATION_STYLES, liberation_file, load_verovio,
                              music_font_file)
from synth.unfold import DEFAULT_QPM, NoteEvent, unfolded_notes

__all__ = [
    "FONTS", "STAFF_SPACE_UNITS", "DEFAULT_QPM", "EngraveError", "EngraveOptions", "sample_options",
    "Symbol", "EngravedPage", "NoteEvent", "Engraver", "engrave", "rasterize",
    "font_files",
]

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- options


@dataclass(frozen=True)
class EngraveOptions:
    """Every layout choice of one engraving. Sizes are verovio page units: a staff
    space is 18 of them, so ``page_width / 18`` staff spaces fit across the page."""

    font: str = "Leipzig"
    page_width: int = 1800  # 100 staff spaces: 2000 px wide at 20 px per staff space
    page_height: int = 2546  # A4
    margin_top: int = 100
    margin_bottom: int = 100
    margin_left: int = 100
    margin_right: int = 100
    #: Rasterization resolution: pixels per staff space.
    staff_space_px: float = 20.0
    #: Minimal space between staves / systems (MEI units, a staff space is 2).
    spacing_staff: int = 12
    spacing_system: int = 12
    spacing_linear: float = 0.25
    spacing_non_linear: float = 0.6
    justify_vertically: bool = False
    #: verovio ``breaks``: "auto" (fill systems), "line" (the file's system breaks),
    #: "smart" (the file's where they fit), "encoded" (the file's system and page
    #: breaks; a file without page breaks then falls back to "line", since verovio
    #: would put the whole piece on one overflowing page).
    breaks: str = "auto"
    #: At most this many systems per page (0: as many as fit).
    system_max_per_page: int = 0
    #: Title and composer on the first page.
    header: bool = True
    #: Measure number every n measures (0: at each system start).
    measure_number_interval: int = 0
    #: Draw braces with the music font's glyph (else verovio's own curve).
    brace_glyph: bool = False
    staff_line_width: float = 0.15
    stem_width: float = 0.2
    bar_line_width: float = 0.3
    ledger_line_thickness: float = 0.25
    lyric_size: float = 4.5
    #: Anti-aliased raster (off: a little faster, jagged edges).
    antialias: bool = True

    def __post_init__(self):
        if self.font not in FONTS:
            raise ValueError(f"unknown music font {self.font!r}; choose from {FONTS}")
        if self.breaks not in ("auto", "encoded", "smart", "line", "none"):
            raise ValueError(f"unknown breaks {self.breaks!r}")
        if self.page_width < 500 or self.page_height < 500:
            raise ValueError("page_width and page_height must be at least 500 units")
        if not 2.0 <= self.staff_space_px <= 200.0:
            raise ValueError("staff_space_px must lie in [2, 200]")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def raster_width(self) -> int:
        """Width in pixels of a rasterized page."""
        return int(round(self.page_width * 10 * self.staff_space_px / STAFF_SPACE_UNITS))

    def verovio_options(self) -> dict:
        return {
            "font": self.font,
            "pageWidth": self.page_width, "pageHeight": self.page_height,
            "pageMarginTop": self.margin_top, "pageMarginBottom": self.margin_bottom,
            "pageMarginLeft": self.margin_left, "pageMarginRight": self.margin_right,
            "scale": 100, "adjustPageHeight": False, "adjustPageWidth": False,
            "spacingStaff": self.spacing_staff, "spacingSystem": self.spacing_system,
            "spacingLinear": self.spacing_linear, "spacingNonLinear": self.spacing_non_linear,
            "justifyVertically": self.justify_vertically, "breaks": self.breaks,
            "systemMaxPerPage": self.system_max_per_page,
            "header": "auto" if self.header else "none", "footer": "none",
            "mnumInterval": self.measure_number_interval, "useBraceGlyph": self.brace_glyph,
            "staffLineWidth": self.staff_line_width, "stemWidth": self.stem_width,
            "barLineWidth": self.bar_line_width, "ledgerLineThickness": self.ledger_line_thickness,
            "lyricSize": self.lyric_size,
            "shrinkToFit": True,
            "svgFormatRaw": True, "svgBoundingBoxes": False, "svgViewBox": False,
            "svgAdditionalAttribute": list(SVG_ATTRIBUTES),
            "xmlIdSeed": 1,
        }


def sample_options(rng: np.random.Generator) -> EngraveOptions:
    """A random plausible layout: font, page size and shape, margins, spacing,
    justification, line widths, resolution (16-24 px per staff space)."""
    width = int(rng.integers(1750, 2300))
    ratio = float(rng.choice([1.414, 1.294, 1.33]))  # A4, US letter, 3:4
    side = int(rng.integers(60, 200))
    return EngraveOptions(
        font=str(rng.choice(FONTS)),
        page_width=width,
        page_height=int(width * ratio),
        margin_top=int(rng.integers(50, 200)),
        margin_bottom=int(rng.integers(50, 200)),
        margin_left=side,
        margin_right=side + int(rng.integers(-20, 21)),
        staff_space_px=float(np.round(rng.uniform(16.0, 24.0), 2)),
        spacing_staff=int(rng.integers(8, 19)),
        spacing_system=int(rng.integers(4, 21)),
        spacing_linear=float(np.round(rng.uniform(0.15, 0.35), 3)),
        spacing_non_linear=float(np.round(rng.uniform(0.5, 0.7), 3)),
        justify_vertically=bool(rng.random() < 0.5),
        breaks=str(rng.choice(["auto", "auto", "auto", "line", "smart"])),
        system_max_per_page=int(rng.choice([0, 0, 0, 3, 4, 5, 6, 8])),
        header=bool(rng.random() < 0.8),
        measure_number_interval=int(rng.choice([0, 0, 0, 1, 5, 10])),
        brace_glyph=bool(rng.random() < 0.5),
        staff_line_width=float(np.round(rng.uniform(0.1, 0.22), 3)),
        stem_width=float(np.round(rng.uniform(0.15, 0.3), 3)),
        bar_line_width=float(np.round(rng.uniform(0.2, 0.4), 3)),
        ledger_line_thickness=float(np.round(rng.uniform(0.18, 0.3), 3)),
        lyric_size=float(np.round(rng.uniform(3.5, 5.5), 2)),
    )


# ---------------------------------------------------------------------- results
# One box is a Symbol (synth.svg_boxes), one note a NoteEvent (synth.unfold).


@dataclass
class EngravedPage:
    image: np.ndarray  # (H, W) uint8, white paper
    symbols: list[Symbol]
    staff_space_px: float
    page_number: int  # 1-based
    svg: str = ""
    #: Printed things left without a box, "element:glyph" -> count (glyphs that no
    #: vocabulary class claims, e.g. x-noteheads, breve rests, quarter-tone accidentals).
    skipped: dict = field(default_factory=dict)


# -------------------------------------------------------------------- engraving


class Engraver:
    """One score laid out by verovio. Pages are rendered on demand
    (:meth:`render_page`); the unfolded notes are computed on first use."""

    def __init__(self, musicxml: str, options: EngraveOptions | None = None):
        if not isinstance(musicxml, str):
            raise TypeError("engrave() takes MusicXML text (str); read files with synth.sources.read_musicxml()")
        self.options = options or EngraveOptions()
        self.musicxml = musicxml
        verovio = load_verovio()
        self._tk = verovio.toolkit()
        vopts = self.options.verovio_options()
        if vopts["breaks"] == "encoded" and 'new-page="yes"' not in musicxml:
            vopts["breaks"] = "line"
        self._tk.setOptions(vopts)
        head = musicxml.lstrip()[:2000]
        if "<score-partwise" not in musicxml and "<score-timewise" not in musicxml:
            raise EngraveError("not MusicXML: no <score-partwise> or <score-timewise> element"
                               + (f" (starts {head[:60]!r})" if head else " (empty text)"))
        _check_well_formed(musicxml)
        self._tk.setInputFrom("musicxml")
        try:
            ok = self._tk.loadData(musicxml)
        except Exception as err:  # noqa: BLE001 - verovio raises plain RuntimeErrors
            raise EngraveError(f"verovio cannot load the MusicXML: {err}") from None
        if not ok:
            raise EngraveError("verovio cannot load the MusicXML (malformed XML or not a score)")
        self.page_count = int(self._tk.getPageCount())
        if self.page_count < 1:
            raise EngraveError("verovio laid the MusicXML out on no page")
        #: Pages rendered by :func:`engrave`.
        self.pages: list[EngravedPage] = []
        self._notes: list[NoteEvent] | None = None
        #: How the notes were unfolded: "musicxml" (exact) or "verovio" (fallback).
        self.unfolding = ""
        #: How many MusicXML notes found their verovio id.
        self.matched_ids = 0

    def render_svg(self, page: int) -> str:
        if not 1 <= page <= self.page_count:
            raise ValueError(f"page {page} out of 1..{self.page_count}")
        return self._tk.renderToSVG(page)

    def render_page(self, page: int, *, keep_svg: bool = False) -> EngravedPage:
        """Rasterize page ``page`` (1-based) and box its symbols."""
        svg = self.render_svg(page)
        parsed = parse_svg(svg, font=self.options.font)
        width = self.options.raster_width
        image = rasterize(svg, width=width, antialias=self.options.antialias,
                          fonts=parsed.fonts, region=parsed.ink_box)
        k = parsed.geometry.mapping(width)[0]
        return EngravedPage(image=image, symbols=parsed.symbols_px(width),
                            staff_space_px=parsed.staff_space_units * k,
                            page_number=page, svg=svg if keep_svg else "",
                            skipped=dict(parsed.unknown))

    @property
    def notes(self) -> list[NoteEvent]:
        """Every sounding note of the piece in unfolded playing order."""
        if self._notes is None:
            unfolded = unfolded_notes(self.musicxml, self._tk)
            self.unfolding = unfolded.method
            self.matched_ids = unfolded.matched_ids
            self._notes = unfolded.notes
        return self._notes


def _check_well_formed(musicxml: str) -> None:
    """verovio lays out truncated or broken XML without a word; refuse it here."""
    import xml.parsers.expat

    parser = xml.parsers.expat.ParserCreate()
    parts = []
    def start(name, attrs):
        if name == "part" and not parts:
            parts.append(1)

    parser.StartElementHandler = start
    try:
        parser.Parse(re.sub(r"^\s*<\?xml[^>]*\?>", "", musicxml).encode("utf-8"), True)
    except xml.parsers.expat.ExpatError as err:
        raise EngraveError(f"malformed MusicXML: {err}") from None
    if not parts:
        raise EngraveError("MusicXML without any <part>")


def engrave(musicxml: str, options: EngraveOptions | None = None, *,
            pages: Sequence[int] | None = None, keep_svg: bool = False) -> Engraver:
    """Lay out ``musicxml`` and render ``pages`` (1-based; default all).

    Returns the :class:`Engraver` with ``.pages`` (list of :class:`EngravedPage`),
    ``.page_count`` and ``.notes`` (unfolded, whole piece). Raises
    :class:`EngraveError` (a ValueError) when verovio cannot load the text.
    """
    engraver = Engraver(musicxml, options)
    wanted = range(1, engraver.page_count + 1) if pages is None else pages
    engraver.pages = [engraver.render_page(int(p), keep_svg=keep_svg) for p in wanted]
    return engraver


# -------------------------------------------------------------------- rasterize

_BBOX_GROUP = re.compile(r'<g id="bbox-[^"]*"[^>]*?(?:/>|>.*?</g>)', re.S)
_TITLE = re.compile(r"<title[^>]*>.*?</title>", re.S)
_FONT_FACE_STYLE = re.compile(r"<style[^>]*>\s*@font-face.*?</style>", re.S)
_GLYPH_DEF_PATH = '<path transform="scale(1,-1)"'


def _clean_for_raster(svg: str) -> str:
    if "bounding-box" in svg:
        svg = _BBOX_GROUP.sub("", svg)
    if "<title" in svg:
        svg = _TITLE.sub("", svg)
    if "@font-face" in svg:
        svg = _FONT_FACE_STYLE.sub("", svg)
    # Glyph outlines are filled; verovio's CSS also strokes every path 1 unit wide,
    # which costs resvg time and adds nothing visible.
    i = svg.find("</defs>")
    if i > 0:
        unstroked = '<path style="stroke:none" transform="scale(1,-1)"'
        svg = svg[:i].replace(_GLYPH_DEF_PATH, unstroked) + svg[i:]
    return svg


def font_files(keys: Iterable[str]) -> list[str]:
    """Font files for font keys: "LiberationSerif-Regular" (-Bold, -Italic,
    -BoldItalic) or a music font name (built by :func:`music_font_file`)."""
    files = []
    for key in sorted(set(keys)):
        if key.startswith("LiberationSerif-"):
            path = liberation_file(key.split("-", 1)[1])
        elif key in FONTS:
            path = music_font_file(key)
        else:
            path = None
        if path:
            files.append(path)
    return files


def _fonts_in_svg(svg: str) -> set[str]:
    if "<text" not in svg:
        return set()
    keys = {"LiberationSerif-" + v for v in LIBERATION_STYLES.values()}
    for fam in re.findall(r'font-family="([^"]*)"', svg):
        names = (f.strip().strip("'\"") for f in fam.split(","))
        keys.update(f for f in names if f in FONTS)
    return keys


def rasterize(svg: str, *, width: int, antialias: bool = True,
              fonts: Iterable[str] | None = None, region: Box | None = None) -> np.ndarray:
    """A verovio SVG as a (H, W) uint8 gray image on white paper, ``width`` pixels
    wide. Text in "Times, serif" is drawn in Liberation Serif (Debian's
    fonts-liberation), SMuFL characters in text with the music font (see
    :func:`~synth.text_fonts.music_font_file`). ``fonts``: the font keys the page's
    text needs (:attr:`synth.svg_boxes.ParsedPage.fonts`; default: all that the SVG
    could use). ``region`` (SVG user units, e.g.
    :attr:`synth.svg_boxes.ParsedPage.ink_box`): only this part is drawn (with a
    margin), the rest of the page is left white; this saves the time resvg spends on
    empty margins."""
    import cv2
    import resvg_py

    clean = _clean_for_raster(svg)
    outer = OUTER_SVG.search(clean)
    inner_vb = VIEWBOX.search(clean)
    geometry = PageGeometry.of(clean)
    vb = geometry.view
    k, ox, oy, height = geometry.mapping(width)
    crop = None
    if region is not None:
        margin = 4
        X0 = max(int(math.floor((region[0] - vb[0]) * k + ox)) - margin, 0)
        Y0 = max(int(math.floor((region[1] - vb[1]) * k + oy)) - margin, 0)
        X1 = min(int(math.ceil((region[2] - vb[0]) * k + ox)) + margin, width)
        Y1 = min(int(math.ceil((region[3] - vb[1]) * k + oy)) + margin, height)
        if X1 - X0 < 1 or Y1 - Y0 < 1:
            return np.full((height, width), 255, np.uint8)
        crop = (X0, Y0, X1, Y1)
        # The outer <svg> becomes the crop's size in pixels and the inner viewBox the
        # crop's rectangle: same scale on both axes, so the mapping stays exact.
        new_outer = re.sub(r'\b(width|height)="[^"]*"', "", outer.group(0))
        new_outer = new_outer.replace("<svg", f'<svg width="{X1 - X0}px" height="{Y1 - Y0}px"', 1)
        vx, vy = vb[0] + (X0 - ox) / k, vb[1] + (Y0 - oy) / k
        new_vb = f'viewBox="{vx:.6f} {vy:.6f} {(X1 - X0) / k:.6f} {(Y1 - Y0) / k:.6f}"'
        clean = (clean[:outer.start()] + new_outer + clean[outer.end():inner_vb.start()]
                 + new_vb + clean[inner_vb.end():])
        width_px = X1 - X0
    else:
        width_px = width
    files = font_files(_fonts_in_svg(svg) if fonts is None else fonts)
    have_text_font = liberation_file("Regular") is not None
    if not have_text_font and "<text" in svg:
        log.warning("Liberation Serif not found (Debian: fonts-liberation); text uses system fonts")
    png = resvg_py.svg_to_bytes(
        svg_string=clean, width=int(width_px), background="white",
        skip_system_fonts=have_text_font, font_files=files,
        serif_family="Liberation Serif", font_family="Liberation Serif",
        shape_rendering="geometric_precision" if antialias else "crisp_edges",
        text_rendering="geometric_precision" if antialias else "optimize_speed",
    )
    image = cv2.imdecode(np.frombuffer(bytes(png), np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise EngraveError("resvg returned no image")
    if crop is None:
        return image
    page = np.full((height, width), 255, np.uint8)
    X0, Y0, X1, Y1 = crop
    h = min(image.shape[0], Y1 - Y0)
    w = min(image.shape[1], X1 - X0)
    page[Y0:Y0 + h, X0:X0 + w] = image[:h, :w]
    return page
