"""Engrave MusicXML with verovio into page images, one ground-truth box per symbol.

``engrave(musicxml, options, pages=...)`` lays a score out with verovio, renders the
requested pages to SVG, rasterizes them with resvg and reads a box for every printed
symbol out of the SVG, each with a class of :mod:`omr.vocab`. ``.notes`` lists every
note of the piece in *unfolded* playing order (repeats, endings, D.C./D.S./Coda/Fine
taken) with onsets in quarter notes and in seconds at the score's tempo.

How the boxes are made
----------------------
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
  its ink although verovio gives it none.

Then the element a primitive belongs to decides the class: glyphs through
``vocab.class_for_glyph(element, glyph)``; the small tables below for barline forms,
hairpins, brace/bracket, dynamics and navigation words; the data verovio writes
into the SVG on request (``svgAdditionalAttribute``: ``barLine@form``,
``hairpin@form``, ``staff@n``, ``note@grace``, ``dir@staff`` ...). Barlines get one
box per staff (the connecting piece between staves is left out), staves one box
per staff across the system, ``system`` the union of its staves. Invisible things
(``visibility="hidden"``, placeholders, empty accidentals) get no box.

Text in a music font (the note of a metronome mark, dynamics inside words) is
embedded by verovio as a WOFF2 ``@font-face`` that resvg cannot read; the SMuFL
fonts are rebuilt once as OpenType files from verovio's own glyph data
(``fontTools``, which music21 brings through matplotlib), cached under
``~/.cache/omr`` (or ``$OMR_CACHE_DIR``), and handed to resvg.

How the notes are unfolded
--------------------------
Timing comes from the MusicXML itself (durations, ``<backup>``/``<forward>``, ties,
grace notes), the playing order from its repeat barlines (with ``times``), endings,
segno/coda/fine/D.C./D.S. (``<sound>`` attributes or the printed words), so it is
exact whatever verovio's importer does with the notes. Each MusicXML note is then
matched to its verovio id through verovio's MEI (same part and measure, same written
pitches per voice). See :func:`playing_order` for the conventions.

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

import functools
import html
import io
import logging
import math
import os
import re
import tempfile
import threading
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from omr import vocab

log = logging.getLogger(__name__)

#: Music fonts that ship with verovio.
FONTS = ("Leipzig", "Bravura", "Leland", "Petaluma", "Gootville")
#: Verovio's SVG user units per staff space at staff size 100 (MEI unit 9 x 2 x 10).
STAFF_SPACE_UNITS = 180.0
#: Tempo (quarter notes per minute) of a score that marks none; the project's MIDI
#: uses the same.
DEFAULT_QPM = 100.0

LIBERATION_DIRS = ("/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/liberation2",
                   "/usr/share/fonts/liberation")
_LIBERATION_STYLES = {("normal", "normal"): "Regular", ("bold", "normal"): "Bold",
                      ("normal", "italic"): "Italic", ("bold", "italic"): "BoldItalic"}


class EngraveError(ValueError):
    """verovio cannot load or lay out the given text as music."""


# ----------------------------------------------------------------- mapping tables
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
        raise ValueError(f"synth.engrave maps to classes missing from omr.vocab: {missing}")


_check_tables()


# ----------------------------------------------------------------------- options


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


# -------------------------------------------------------------------- results


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


@dataclass
class NoteEvent:
    """A sounding note in unfolded playing order. Tied notes sound once (the tie's
    first note, lengthened); grace notes have duration 0 at the onset of the note
    they lead to; cue notes are left out. ``id`` is the verovio note id: the
    ``Symbol.id`` of its notehead box on its page ("" in the rare case the MusicXML
    note could not be matched to verovio's). Seconds follow the score's tempo marks
    (``<sound tempo>`` or ``<metronome>``), :data:`DEFAULT_QPM` before the first."""

    id: str
    page: int  # 1-based page the note is printed on
    part: int  # 0-based part (MusicXML <score-part>) in score order
    part_name: str
    staff: int  # 0-based staff in the whole score (piano: right hand 0, left hand 1)
    measure: str  # the measure's number as printed/encoded
    pitch: int  # MIDI, sounding
    onset_qn: float
    duration_qn: float
    onset_sec: float
    duration_sec: float
    #: How many times this printed note has sounded before (0 first pass, 1 repeat, ...).
    repeat: int = 0
    grace: bool = False


# ------------------------------------------------------------------- verovio


def _verovio():
    import verovio

    if not getattr(_verovio, "_quiet", False):
        verovio.enableLog(verovio.LOG_OFF)
        _verovio._quiet = True
    return verovio


@functools.lru_cache(maxsize=None)
def verovio_data_dir() -> Path:
    """verovio's resource folder (music fonts and their glyph data)."""
    verovio = _verovio()
    path = Path(verovio.__file__).parent / "data"
    if not (path / "Leipzig.xml").exists():
        path = Path(verovio.toolkit().getResourcePath())
    return path


class Engraver:
    """One score laid out by verovio. Pages are rendered on demand
    (:meth:`render_page`); the unfolded notes are computed on first use."""

    def __init__(self, musicxml: str, options: EngraveOptions | None = None):
        if not isinstance(musicxml, str):
            raise TypeError("engrave() takes MusicXML text (str); read files with read_musicxml()")
        self.options = options or EngraveOptions()
        self.musicxml = musicxml
        verovio = _verovio()
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
            self._notes = _unfolded_notes(self)
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


#: The result of :func:`engrave` (an :class:`Engraver` with ``.pages`` filled in).
Engraving = Engraver


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


def read_musicxml(path) -> str:
    """MusicXML text of a .xml/.musicxml/.mxl file as UTF-8 (see synth.sources)."""
    from synth.sources import read_musicxml as _read

    return _read(path)


# ------------------------------------------------------------------- geometry

_NUM = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_LINE_PATH = re.compile(r"^\s*M\s*([-\d.]+)[ ,]+([-\d.]+)\s*L\s*([-\d.]+)[ ,]+([-\d.]+)\s*$")
_TRANSFORM = re.compile(r"(matrix|translate|scale|rotate)\s*\(([^)]*)\)")

Box = tuple  # (x0, y0, x1, y1)


def _union(boxes: Iterable[Box]) -> Box | None:
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


def _parse_transform(text: str | None):
    """SVG transform -> affine (a, b, c, d, e, f)."""
    m = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    if not text:
        return m
    for name, args in _TRANSFORM.findall(text):
        v = [float(x) for x in _NUM.findall(args)]
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
                t = _compose(_compose((1, 0, 0, 1, cx, cy), t), (1, 0, 0, 1, -cx, -cy))
        else:
            t = tuple(v[:6])
        m = _compose(m, t)
    return m


def _compose(m, t):
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = t
    return (a * a2 + c * b2, b * a2 + d * b2, a * c2 + c * d2, b * c2 + d * d2,
            a * e2 + c * f2 + e, b * e2 + d * f2 + f)


def _apply_box(m, box: Box) -> Box:
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


def _path_bounds(d: str) -> Box | None:
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
def _glyph_def_bounds(d: str) -> Box | None:
    """Bounds of a glyph definition path drawn with ``transform="scale(1,-1)"``,
    in the glyph's SVG space (y down)."""
    b = _path_bounds(d)
    if b is None:
        return None
    return (b[0], -b[3], b[2], -b[1])


def _line_box(x0, y0, x1, y1, w, cap="butt") -> Box:
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


def _general_path_box(d: str, stroke: float) -> Box | None:
    """Bounds of a general path (curves included), padded by half the stroke."""
    b = _path_bounds(d)
    if b is None:
        return None
    h = stroke / 2.0
    return (b[0] - h, b[1] - h, b[2] + h, b[3] + h)


# ------------------------------------------------------------------- text fonts


class _Face:
    """Metrics of one font face as resvg uses them: advances, outline bounds, kerning.
    ``key`` names the font file resvg needs for it (see :func:`font_files`)."""

    def __init__(self, key: str, upem: float, cmap: dict[int, str], adv: dict[str, float],
                 bounds: dict[str, Box | None], kern: dict[tuple[str, str], float]):
        self.key = key
        self.upem = upem
        self.cmap = cmap
        self.adv = adv
        self.bounds = bounds
        self.kern = kern


def _liberation_file(style: str) -> str | None:
    for d in LIBERATION_DIRS:
        p = Path(d) / f"LiberationSerif-{style}.ttf"
        if p.exists():
            return str(p)
    return None


@functools.lru_cache(maxsize=None)
def _liberation_face(weight: str, style: str) -> _Face | None:
    path = _liberation_file(_LIBERATION_STYLES[(weight, style)])
    if path is None:
        return None
    from fontTools.ttLib import TTFont

    font = TTFont(path, lazy=True)
    cmap = dict(font.getBestCmap())
    hmtx = font["hmtx"].metrics
    glyf = font["glyf"]
    adv = {g: float(hmtx[g][0]) for g in set(cmap.values())}
    bounds = {}
    for g in set(cmap.values()):
        gl = glyf[g]
        if getattr(gl, "numberOfContours", 0) == 0:
            bounds[g] = None
        else:
            if not hasattr(gl, "xMin"):
                gl.recalcBounds(glyf)
            bounds[g] = (float(gl.xMin), float(gl.yMin), float(gl.xMax), float(gl.yMax))
    key = "LiberationSerif-" + _LIBERATION_STYLES[(weight, style)]
    return _Face(key, float(font["head"].unitsPerEm), cmap, adv, bounds, _gpos_pair_kerning(font))


def _gpos_pair_kerning(font) -> dict[tuple[str, str], float]:
    """Horizontal pair kerning of the 'kern' feature (GPOS lookup type 2)."""
    kern: dict[tuple[str, str], float] = {}
    if "GPOS" not in font:
        return kern
    table = font["GPOS"].table
    lookups = set()
    for fr in table.FeatureList.FeatureRecord:
        if fr.FeatureTag == "kern":
            lookups.update(fr.Feature.LookupListIndex)
    for li in sorted(lookups):
        lookup = table.LookupList.Lookup[li]
        subtables = lookup.SubTable
        if lookup.LookupType == 9:
            subtables = [st.ExtSubTable for st in subtables]
        for st in subtables:
            if getattr(st, "LookupType", 2) != 2:
                continue
            firsts = st.Coverage.glyphs
            if st.Format == 1:
                for g1, ps in zip(firsts, st.PairSet):
                    for rec in ps.PairValueRecord:
                        v = getattr(rec.Value1, "XAdvance", 0) if rec.Value1 else 0
                        if v:
                            kern.setdefault((g1, rec.SecondGlyph), float(v))
            elif st.Format == 2:
                c1 = st.ClassDef1.classDefs
                c2 = st.ClassDef2.classDefs
                by_class2: dict[int, list[str]] = {}
                for g, c in c2.items():
                    by_class2.setdefault(c, []).append(g)
                for g1 in firsts:
                    rec1 = st.Class1Record[c1.get(g1, 0)]
                    for ci, rec2 in enumerate(rec1.Class2Record):
                        v = getattr(rec2.Value1, "XAdvance", 0) if rec2.Value1 else 0
                        if v and ci in by_class2:
                            for g2 in by_class2[ci]:
                                kern.setdefault((g1, g2), float(v))
    return kern


def _music_glyph_xml(font: str) -> dict[str, tuple[float, list[str]]]:
    """code -> (advance, [path d]) from verovio's glyph data of a music font."""
    data = verovio_data_dir()
    adv = {}
    meta = (data / f"{font}.xml").read_text(encoding="utf-8")
    for m in re.finditer(r'<g c="([0-9A-Fa-f]+)"([^>]*)>', meta):
        a = re.search(r'h-a-x="([-\d.]+)"', m.group(2))
        w = re.search(r'\bw="([-\d.]+)"', m.group(2))
        adv[m.group(1).upper()] = float(a.group(1)) if a else float(w.group(1)) if w else 0.0
    glyphs = {}
    for path in sorted((data / font).glob("*.xml")):
        code = path.stem.upper()
        text = path.read_text(encoding="utf-8")
        ds = re.findall(r'\sd="([^"]*)"', text)
        glyphs[code] = (adv.get(code, 0.0), ds)
    return glyphs


@functools.lru_cache(maxsize=None)
def _music_face(font: str) -> _Face | None:
    if not (verovio_data_dir() / font).is_dir():
        return None
    cmap, adv, bounds = {}, {}, {}
    for code, (a, ds) in _music_glyph_xml(font).items():
        name = "uni" + code
        cmap[int(code, 16)] = name
        adv[name] = a
        bs = [_path_bounds(d) for d in ds]
        bounds[name] = _union(b for b in bs if b)
    return _Face(font, 1000.0, cmap, adv, bounds, {})


_FONT_LOCK = threading.Lock()


def _cache_dir() -> Path:
    base = os.environ.get("OMR_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    base = Path(base) if base else Path.home() / ".cache"
    return base / "omr"


@functools.lru_cache(maxsize=None)
def music_font_file(font: str) -> str | None:
    """An OpenType file of a verovio music font (built once from verovio's glyph
    data, about a second, and cached), so resvg can draw SMuFL characters in text."""
    verovio = _verovio()
    version = re.sub(r"[^\w.-]", "_", verovio.toolkit().getVersion())
    if not (verovio_data_dir() / font).is_dir():
        return None
    name = f"{font}-{version}.otf"
    folders = [_cache_dir() / "smufl-fonts", Path(tempfile.gettempdir()) / "omr-smufl-fonts"]
    for folder in folders:
        if (folder / name).exists():
            return str(folder / name)
    with _FONT_LOCK:
        for folder in folders:
            target = folder / name
            if target.exists():
                return str(target)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                _build_music_font(font, target)
                return str(target)
            except OSError as err:  # a read-only cache: try the next folder
                log.warning("cannot write %s (%s)", target, err)
    return None


def _build_music_font(font: str, target: Path) -> None:
    from fontTools.fontBuilder import FontBuilder
    from fontTools.pens.t2CharStringPen import T2CharStringPen
    from fontTools.svgLib.path import parse_path

    glyphs = _music_glyph_xml(font)
    order = [".notdef"] + ["uni" + c for c in sorted(glyphs)]
    charstrings, metrics = {}, {}
    pen = T2CharStringPen(500, None)
    charstrings[".notdef"] = pen.getCharString()
    metrics[".notdef"] = (500, 0)
    for code in sorted(glyphs):
        adv, ds = glyphs[code]
        pen = T2CharStringPen(int(round(adv)), None)
        for d in ds:
            parse_path(d, pen)
        charstrings["uni" + code] = pen.getCharString()
        b = _union(x for x in (_path_bounds(d) for d in ds) if x)
        metrics["uni" + code] = (int(round(adv)), int(math.floor(b[0])) if b else 0)
    fb = FontBuilder(1000, isTTF=False)
    fb.setupGlyphOrder(order)
    fb.setupCharacterMap({int(c, 16): "uni" + c for c in glyphs})
    ps_name = re.sub(r"[^A-Za-z0-9]", "", font) + "-SMuFL"
    fb.setupCFF(ps_name, {"FullName": font}, charstrings, {})
    fb.setupHorizontalMetrics(metrics)
    fb.setupHorizontalHeader(ascent=1000, descent=-1000)
    fb.setupNameTable({"familyName": font, "styleName": "Regular", "fullName": font,
                       "psName": ps_name, "uniqueFontIdentifier": f"{ps_name}-omr",
                       "typographicFamily": font, "typographicSubfamily": "Regular"})
    fb.setupOS2(sTypoAscender=1000, sTypoDescender=-1000, usWinAscent=1000, usWinDescent=1000)
    fb.setupPost()
    tmp = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    fb.save(str(tmp))
    os.replace(tmp, target)


# --------------------------------------------------------------- text layout


@dataclass
class _TextStyle:
    size: float = 16.0
    family: str = "serif"
    weight: str = "normal"
    style: str = "normal"
    anchor: str = "start"


def _norm_weight(v: str) -> str:
    v = v.strip().lower()
    if v in ("bold", "bolder") or (v.isdigit() and int(v) >= 600):
        return "bold"
    return "normal"


def _norm_style(v: str) -> str:
    return "italic" if v.strip().lower() in ("italic", "oblique") else "normal"


def _face_for(style: _TextStyle) -> _Face | None:
    for f in style.family.split(","):
        f = f.strip().strip("'\"")
        if f in FONTS:
            face = _music_face(f)
            if face is not None:
                return face
    return _liberation_face(style.weight, style.style)


def _layout_text(segments, fallback: _Face | None, used: set[str]):
    """Lay out one <text> element the way resvg does. ``segments`` are
    ``(chars, style, x, y, dx, dy)``; x or y set where a tspan starts a new text
    chunk. Characters a face lacks come from ``fallback`` (the page's music font),
    as resvg falls back to any loaded font that has them. Adds the keys of the faces
    used to ``used``. Returns (ink box, text, [(chunk ink box, chunk text)])."""
    # SVG default whitespace: drop newlines, tabs -> space, collapse, strip ends.
    cleaned = []
    prev_space = True
    for chars, style, x, y, dx, dy in segments:
        if chars:
            chars = chars.replace("\n", "").replace("\r", "").replace("\t", " ")
            out = []
            for ch in chars:
                if ch == " ":
                    if prev_space:
                        continue
                    prev_space = True
                else:
                    prev_space = False
                out.append(ch)
            chars = "".join(out)
        cleaned.append([chars, style, x, y, dx, dy])
    for seg in reversed(cleaned):  # strip trailing spaces
        seg[0] = seg[0].rstrip(" ")
        if seg[0]:
            break
    chunks = []  # [x, y, anchor, pen, [ink boxes relative to the chunk start]]
    cur = None
    text_out = []
    base_y = 0.0
    for chars, style, x, y, dx, dy in cleaned:
        if x is not None or y is not None or cur is None:
            if cur is not None:
                nx = x if x is not None else cur[0] + cur[3]
            else:
                nx = x if x is not None else 0.0
            base_y = y if y is not None else base_y
            cur = [nx, base_y, style.anchor, 0.0, [], None, []]
            chunks.append(cur)
        cur[3] += dx
        base_y += dy
        if not chars:
            continue
        face = _face_for(style)
        if face is None:
            continue
        text_out.append(chars)
        cur[6].append(chars)
        size = style.size
        pen = cur[3]
        prev = cur[5]
        for ch in chars:
            f = face
            g = f.cmap.get(ord(ch))
            if g is None and fallback is not None:
                f = fallback
                g = f.cmap.get(ord(ch))
            if g is None:
                pen += 0.5 * size
                prev = None
                continue
            used.add(f.key)
            scale = size / f.upem
            if prev is not None and prev[0] is f and prev[2] == size:
                pen += f.kern.get((prev[1], g), 0.0) * scale
            b = f.bounds.get(g)
            if b is not None:
                cur[4].append((pen + b[0] * scale, base_y - b[3] * scale,
                               pen + b[2] * scale, base_y - b[1] * scale))
            pen += f.adv.get(g, 0.0) * scale
            prev = (f, g, size)
        cur[3] = pen
        cur[5] = prev
    boxes = []
    for cx, _, anchor, width, ink, _, texts in chunks:
        box = _union(ink)
        if box is None:
            continue
        shift = cx - (width / 2.0 if anchor == "middle" else width if anchor == "end" else 0.0)
        boxes.append(((box[0] + shift, box[1], box[2] + shift, box[3]), "".join(texts).strip()))
    return _union(b for b, _ in boxes), "".join(text_out), boxes


# ------------------------------------------------------------------- SVG parse

_OUTER_SVG = re.compile(r"<svg\b[^>]*>")
_VIEWBOX = re.compile(r'viewBox="([^"]*)"')
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
    __slots__ = ("kind", "box", "glyph", "scale", "seg", "text", "chunks")

    def __init__(self, kind, box, glyph=None, scale=1.0, seg=None, text=None, chunks=None):
        self.kind = kind
        self.box = box
        self.glyph = glyph
        self.scale = scale
        self.seg = seg
        self.text = text
        self.chunks = chunks


class _Staff:
    """One staff of a page: its lines gathered over the measures of its system."""

    def __init__(self, key, system, n):
        self.key = key
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
        outer = _OUTER_SVG.search(svg)
        vb = _VIEWBOX.search(svg)
        if outer is None or vb is None:
            raise EngraveError("not a verovio page SVG (no <svg viewBox>)")
        view = tuple(float(v) for v in _NUM.findall(vb.group(1)))
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
    fonts: set[str]  # font keys the text needs (see font_files)
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
    tstyle = _TextStyle()
    css_font: dict[str, dict[str, str]] = {}
    defs: dict[str, Box | None] = {}
    fonts_used: set[str] = set()
    fallback = _music_face(font or "Leipzig")
    view = None
    in_defs = 0
    def_id = None
    in_style = False
    in_label = 0  # inside <title>/<desc>: not drawn
    style_text = []
    text_segments = None
    text_pending = None  # (x, y) of a tspan that starts a chunk

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
                box, string, chunks = _layout_text(text_segments, fallback, fonts_used)
                if box is not None and not node.hidden:
                    node.prims.append(_Prim(
                        _TEXT, _apply_box(fstack_matrix, box), text=string,
                        chunks=[(_apply_box(fstack_matrix, c), t) for c, t in chunks]))
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
            new_matrix = (_compose(matrix, _parse_transform(a["transform"]))
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
                t = _parse_transform(a.get("transform"))
                full = _compose(matrix, t)
                if "x" in a or "y" in a:
                    full = _compose(full, (1, 0, 0, 1, float(a.get("x", 0)), float(a.get("y", 0))))
                node.prims.append(_Prim(_USE, _apply_box(full, b), glyph=ref.split("-")[0].upper(),
                                        scale=abs(t[3])))
            if not selfclose:
                stack.append(("use", None, matrix, tstyle))
        elif tag == "path":
            d = a.get("d", "")
            if in_defs:
                if def_id is not None:
                    flipped = "scale(1,-1)" in a.get("transform", "").replace(" ", "")
                    b = _glyph_def_bounds(d) if flipped else _path_bounds(d)
                    if b is not None:
                        old = defs.get(def_id)
                        defs[def_id] = _union([old, b]) if old else b
                if not selfclose:
                    stack.append(("path", None, matrix, tstyle))
                continue
            if not node.hidden and d:
                sw = float(a.get("stroke-width", 1.0))
                lm = _LINE_PATH.match(d)
                if lm:
                    x0, y0, x1, y1 = (float(v) for v in lm.groups())
                    box = _line_box(x0, y0, x1, y1, sw, a.get("stroke-linecap", "butt"))
                    seg = (x0, y0, x1, y1, sw) if matrix[1] == 0 == matrix[2] else None
                    if seg is not None:
                        ma, _, _, md, me, mf = matrix
                        seg = (ma * x0 + me, md * y0 + mf, ma * x1 + me, md * y1 + mf, sw * abs(ma))
                    node.prims.append(_Prim(_LINE, _apply_box(matrix, box), seg=seg))
                else:
                    box = _general_path_box(d, sw if a.get("stroke") != "none" else 0.0)
                    if box is not None:
                        node.prims.append(_Prim(_PATH, _apply_box(matrix, box)))
            if not selfclose:
                stack.append(("path", None, matrix, tstyle))
        elif tag in ("polygon", "polyline"):
            if not node.hidden:
                v = [float(x) for x in _NUM.findall(a.get("points", ""))]
                if len(v) >= 4:
                    xs, ys = v[0::2], v[1::2]
                    h = float(a.get("stroke-width", 1.0)) / 2.0
                    node.prims.append(_Prim(_POLY, _apply_box(
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
                    node.prims.append(_Prim(_RECT, _apply_box(matrix, box)))
            if not selfclose:
                stack.append(("rect", None, matrix, tstyle))
        elif tag in ("ellipse", "circle"):
            if not node.hidden and not in_defs:
                cx, cy = float(a.get("cx", 0)), float(a.get("cy", 0))
                rx = float(a.get("rx", a.get("r", 0)))
                ry = float(a.get("ry", a.get("r", 0)))
                box = (cx - rx, cy - ry, cx + rx, cy + ry)
                node.prims.append(_Prim(_ELLIPSE, _apply_box(matrix, box)))
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
                view = [float(v) for v in _NUM.findall(a["viewBox"])]
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


def _restyle(style: _TextStyle, a: dict, classes: tuple, css: dict) -> _TextStyle:
    changed = None
    for c in classes:
        rule = css.get(c)
        if rule:
            changed = changed or _TextStyle(**style.__dict__)
            if "font-weight" in rule:
                changed.weight = _norm_weight(rule["font-weight"])
            if "font-style" in rule:
                changed.style = _norm_style(rule["font-style"])
    for key in ("font-size", "font-family", "font-weight", "font-style", "text-anchor"):
        if key in a:
            changed = changed or _TextStyle(**style.__dict__)
            v = a[key]
            if key == "font-size":
                nums = _NUM.findall(v)
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


# --------------------------------------------------------------- classification


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
                    st = self.staves[key] = _Staff(key, system, n.data.get("n", ""))
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
                self.emit("system", _union(boxes), system.id, system=system.index)
        # pass 2: every element
        for n in self.root.walk():
            if n.hidden or not n.cls:
                continue
            handler = getattr(self, "h_" + n.cls, None)
            if handler is not None:
                handler(n)
        ink = _union(p.box for n in self.root.walk() if not n.hidden for p in n.prims)
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

    def emit_glyphs(self, n: _Node, element: str, prims=None, parent=None, each=True, cue=False):
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
            s, sy = self.staff_for(n, p.box)
            self.emit(cls, p.box, n.id, s, sy)

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
                s, sy = self.staff_for(n, p.box)
                self.emit("beam", p.box, n.id, s, sy)

    h_fTrem = h_beam

    def h_rest(self, n):
        self.emit_glyphs(n, "rest")
        for p in n.prims:
            if p.kind == _LINE:
                s, sy = self.staff_for(n, p.box)
                self.emit("ledger_line", p.box, n.id, s, sy, n.id)

    h_mRest = h_rest

    def h_multiRest(self, n):
        digits = [p for p in n.all_prims() if p.kind == _USE
                  and _glyph_class("multiRest", p.glyph) == "rest_multi_number"]
        rest = [p for p in n.all_prims() if p not in digits and p.kind != _TEXT]
        s, sy = self.staff_for(n)
        if digits:
            self.emit("rest_multi_number", _union(p.box for p in digits), n.id, s, sy)
        if rest:
            self.emit("rest_multi", _union(p.box for p in rest), n.id, s, sy)

    def h_accid(self, n):
        self.emit_glyphs(n, "accid", parent=self.parent_id(n, "note"))

    def h_dots(self, n):
        parent = self.parent_id(n, "note", "chord", "rest")
        for p in n.prims:
            if p.kind in (_USE, _ELLIPSE):
                s, sy = self.staff_for(n, p.box)
                self.emit("augmentation_dot", p.box, n.id, s, sy, parent)

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
            self.emit(cls, _union(p.box for p in prims), n.id)
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
                self.emit(cls, _union(mine), n.id, st.index, st.system.index)

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
        self.emit(cls, _union(p.box for p in prims), n.id, None, system.index if system else None)

    def h_ending(self, n):
        lines = [p for p in n.all_prims() if p.kind in (_LINE, _PATH, _POLY)]
        texts = [p for p in n.all_prims() if p.kind == _TEXT]
        s, sy = self.staff_for(n, _union(p.box for p in lines + texts))
        if lines:
            self.emit("volta_bracket", _union(p.box for p in lines), n.id, s, sy)
        for t in texts:
            self.emit("volta_number", t.box, n.id, s, sy, text=t.text)

    def h_repeatMark(self, n):
        for p in n.all_prims():
            if p.kind == _USE:
                cls = _glyph_class("repeatMark", p.glyph) or REPEATMARK_GLYPH_CLASS.get(p.glyph)
                if cls is None:
                    self.miss(f"repeatMark:{p.glyph}")
                    continue
                s, sy = self.staff_for(n, p.box)
                self.emit(cls, p.box, n.id, s, sy)
            elif p.kind == _TEXT:
                s, sy = self.staff_for(n, p.box)
                self.emit(_direction_class(p.text), p.box, n.id, s, sy, text=p.text)

    def _text_and_glyphs(self, n):
        prims = [p for p in n.all_prims() if p.kind in (_TEXT, _USE)]
        text = "".join(p.text if p.kind == _TEXT else chr(int(p.glyph, 16)) for p in prims)
        return prims, text

    def h_dir(self, n):
        prims, text = self._text_and_glyphs(n)
        if not prims:
            return
        box = _union(p.box for p in prims)
        s, sy = self.staff_for(n, box)
        self.emit(_direction_class(text), box, n.id, s, sy, text=text.strip())

    def h_dynam(self, n):
        prims, text = self._text_and_glyphs(n)
        if not prims:
            return
        text = _smufl_to_text(text).strip()
        box = _union(p.box for p in prims)
        s, sy = self.staff_for(n, box)
        self.emit(_dynamic_class(text), box, n.id, s, sy, text=text)

    def h_hairpin(self, n):
        cls = HAIRPIN_FORM_CLASS.get(n.data.get("form", ""))
        prims = [p for p in n.prims if p.kind in (_LINE, _PATH, _POLY)]
        if cls is None or not prims:
            return
        box = _union(p.box for p in prims)
        s, sy = self.staff_for(n, box)
        self.emit(cls, box, n.id, s, sy)

    def h_tupletNum(self, n):
        uses = [p for p in n.all_prims() if p.kind == _USE]
        if not uses:
            return
        cls = next((c for c in (_glyph_class("tupletNum", p.glyph) for p in uses) if c), None)
        if cls is None:
            self.miss("tupletNum:" + uses[0].glyph)
            return
        box = _union(p.box for p in uses)
        s, sy = self.staff_for(n, box)
        self.emit(cls, box, n.id, s, sy, self.parent_id(n, "tuplet"))

    def h_tupletBracket(self, n):
        prims = [p for p in n.all_prims() if p.kind in (_LINE, _PATH, _POLY, _RECT)]
        if prims:
            box = _union(p.box for p in prims)
            s, sy = self.staff_for(n, box)
            self.emit("tuplet_bracket", box, n.id, s, sy, self.parent_id(n, "tuplet"))

    def _curve(self, n, cls):
        for p in n.prims:
            if p.kind in (_PATH, _LINE):
                s, sy = self.staff_for(n, p.box)
                self.emit(cls, p.box, n.id, s, sy)

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
                s, sy = self.staff_for(n, p.box)
                self.emit(_glyph_class("trill", p.glyph), p.box, n.id, s, sy)

    def h_mordent(self, n):
        self.emit_glyphs(n, "mordent", prims=list(n.all_prims()))

    def h_turn(self, n):
        self.emit_glyphs(n, "turn", prims=list(n.all_prims()))

    def h_arpeg(self, n):
        prims = [p for p in n.all_prims() if p.kind != _TEXT]
        if prims:
            box = _union(p.box for p in prims)
            s, sy = self.staff_for(n, box)
            self.emit("arpeggio", box, n.id, s, sy)

    def h_pedal(self, n):
        for p in n.all_prims():
            if p.kind == _USE:
                cls = _glyph_class("pedal", p.glyph)
                if cls:
                    s, sy = self.staff_for(n, p.box)
                    self.emit(cls, p.box, n.id, s, sy)

    def h_octave(self, n):
        prims = list(n.all_prims())
        if prims:
            box = _union(p.box for p in prims)
            s, sy = self.staff_for(n, box)
            self.emit("octave_line", box, n.id, s, sy)

    def h_tempo(self, n):
        prims, text = self._text_and_glyphs(n)
        if prims:
            box = _union(p.box for p in prims)
            s, sy = self.staff_for(n, box)
            self.emit("tempo_text", box, n.id, s, sy, text=text.strip())

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
        box = _union(p.box for p in texts)
        s, sy = self.staff_for(n, box)
        self.emit(cls, box, n.id, s, sy, text="".join(p.text for p in texts).strip())
        if n.cls == "syl":
            for p in n.all_prims():
                if p.kind in (_RECT, _LINE, _PATH):
                    s2, sy2 = self.staff_for(n, p.box)
                    self.emit("lyric_hyphen", p.box, n.id, s2, sy2)

    h_syl = h_fing = h_mNum = h_label = h_labelAbbr = h_harm = h_reh = _text_element
    h_pgHead = h_pgFoot = _text_element


# ------------------------------------------------------------------ rasterize

_BBOX_GROUP = re.compile(r'<g id="bbox-[^"]*"[^>]*?(?:/>|>.*?</g>)', re.S)
_TITLE = re.compile(r"<title[^>]*>.*?</title>", re.S)
_FONT_FACE_STYLE = re.compile(r"<style[^>]*>\s*@font-face.*?</style>", re.S)
_GLYPH_DEF_PATH = '<path transform="scale(1,-1)"'


def _clean_for_raster(svg: str) -> str:
    if 'class="bounding-box' in svg or "bounding-box" in svg:
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
            path = _liberation_file(key.split("-", 1)[1])
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
    keys = {"LiberationSerif-" + v for v in _LIBERATION_STYLES.values()}
    for fam in re.findall(r'font-family="([^"]*)"', svg):
        names = (f.strip().strip("'\"") for f in fam.split(","))
        keys.update(f for f in names if f in FONTS)
    return keys


def rasterize(svg: str, *, width: int, antialias: bool = True,
              fonts: Iterable[str] | None = None, region: Box | None = None) -> np.ndarray:
    """A verovio SVG as a (H, W) uint8 gray image on white paper, ``width`` pixels
    wide. Text in "Times, serif" is drawn in Liberation Serif (Debian's
    fonts-liberation), SMuFL characters in text with the music font (see
    :func:`music_font_file`). ``fonts``: the font keys the page's text needs
    (:attr:`ParsedPage.fonts`; default: all that the SVG could use).
    ``region`` (SVG user units, e.g. :attr:`ParsedPage.ink_box`): only this part
    is drawn (with a margin), the rest of the page is left white; this saves the
    time resvg spends on empty margins."""
    import cv2
    import resvg_py

    clean = _clean_for_raster(svg)
    outer = _OUTER_SVG.search(clean)
    inner_vb = _VIEWBOX.search(clean)
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
    have_text_font = _liberation_file("Regular") is not None
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


# ------------------------------------------------------------ unfolded notes
#
# Timing and playing order come from the MusicXML itself (durations in divisions,
# <backup>/<forward>, ties, repeats, endings, segno/coda/D.C./D.S./Fine from <sound>
# attributes and direction words), so they are exact whatever verovio's importer
# makes of a score (it ignores, e.g., tuplets whose later groups print no number).
# Each MusicXML note is then matched to its verovio note id through verovio's MEI
# (same part, same measure, same written pitch sequence per voice/layer).

_NAVIGATION_WORDS = re.compile(
    r"^\W*(?:d\.\s*c\.|d\.\s*s\.|da\s*capo|dal\s*segno|fine\b|to\s*coda)", re.I)
_WORDS = re.compile(r"<words\b[^>]*>([^<]*)<")
_NAVIGATION_ATTRS = re.compile(r"\b(?:dacapo|dalsegno|tocoda|fine)\s*=")
_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_BEAT_UNIT_QN = {"long": 16.0, "breve": 8.0, "whole": 4.0, "half": 2.0, "quarter": 1.0,
                 "eighth": 0.5, "16th": 0.25, "32nd": 0.125, "64th": 0.0625}
_WORD_DACAPO = re.compile(r"^\W*(d\.\s*c\.|da\s*capo)", re.I)
_WORD_DALSEGNO = re.compile(r"^\W*(d\.\s*s\.|dal\s*segno)", re.I)
_WORD_FINE = re.compile(r"^\W*fine\W*$", re.I)
_WORD_TOCODA = re.compile(r"\bto\s*coda\b|\ba\s*la\s*coda\b", re.I)


def has_navigation(musicxml: str) -> bool:
    """Whether the score has D.C./D.S./segno/coda/fine."""
    if "<segno" in musicxml or "<coda" in musicxml or _NAVIGATION_ATTRS.search(musicxml):
        return True
    return any(_NAVIGATION_WORDS.search(html.unescape(w)) for w in _WORDS.findall(musicxml))


@dataclass
class _XmlNote:
    part: int
    staff: int  # global, 0-based
    voice: str
    measure: int  # measure index
    onset: float  # quarter notes from the measure start
    duration: float
    written: int  # written MIDI pitch (for matching verovio's MEI)
    pitch: int  # sounding MIDI pitch
    tie_start: bool
    tie_stop: bool
    grace: bool
    cue: bool
    id: str = ""


@dataclass
class _XmlMeasure:
    number: str
    length: float = 0.0
    repeat_start: bool = False
    repeat_end: bool = False
    times: int = 2
    endings: tuple = ()  # ending numbers of the ending this measure is in
    ending_first: bool = False
    ending_last: bool = False
    segno: bool = False
    coda: bool = False
    tocoda: bool = False
    fine: bool = False
    dacapo: bool = False
    dalsegno: bool = False
    tempos: list = field(default_factory=list)  # (offset qn, qpm)
    part_lengths: list = field(default_factory=list)
    nominal: float = 0.0  # the time signature's length


@dataclass
class _XmlScore:
    parts: list  # (id, name, staves)
    measures: list
    notes: list
    has_tempo: bool


def _ending_numbers(text: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", text or ""))


def _read_musicxml_score(musicxml: str) -> _XmlScore | None:
    """Notes (onsets in quarter notes within their measure) and measure marks of a
    partwise MusicXML score; None for timewise scores."""
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", musicxml)
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError:
        return None
    if root.tag != "score-partwise":
        return None
    names = {}
    for sp in root.iter("score-part"):
        names[sp.get("id")] = (sp.findtext("part-name") or "").strip()
    parts_el = root.findall("part")
    if not parts_el:
        return None
    n_measures = max(len(p.findall("measure")) for p in parts_el)
    measures = [_XmlMeasure(number="") for _ in range(n_measures)]
    notes: list[_XmlNote] = []
    parts = []
    staff_base = 0
    has_tempo = False
    open_endings: dict[str, tuple] = {}
    for pi, part in enumerate(parts_el):
        staves = 1
        for st in part.iter("staves"):
            staves = max(staves, int(st.text or 1))
            break
        parts.append((part.get("id"), names.get(part.get("id"), ""), staves))
        divisions = 1.0
        transpose = {}
        nominal = 0.0
        for mi, meas in enumerate(part.findall("measure")):
            mm = measures[mi]
            if not mm.number:
                mm.number = meas.get("number", str(mi + 1))
            cursor = 0.0
            end = 0.0
            last_onset = 0.0
            for el in meas:
                tag = el.tag
                if tag == "attributes":
                    d = el.findtext("divisions")
                    if d:
                        divisions = float(d)
                    tsig = el.find("time")
                    if tsig is not None:
                        try:
                            beats = sum(float(x) for x in
                                        re.findall(r"[\d.]+", tsig.findtext("beats") or ""))
                            nominal = beats * 4.0 / float(tsig.findtext("beat-type") or 4)
                        except (ValueError, ZeroDivisionError):
                            pass
                    for tr in el.findall("transpose"):
                        semi = int(float(tr.findtext("chromatic") or 0)) + 12 * int(
                            float(tr.findtext("octave-change") or 0))
                        num = tr.get("number")
                        if num:
                            transpose[int(num)] = semi
                        else:
                            transpose = {k: semi for k in range(1, staves + 1)}
                elif tag == "note":
                    is_chord = el.find("chord") is not None
                    grace = el.find("grace") is not None
                    dur = 0.0 if grace else float(el.findtext("duration") or 0) / divisions
                    onset = last_onset if is_chord else cursor
                    if not is_chord and not grace:
                        cursor += dur
                    last_onset = onset
                    end = max(end, cursor)
                    pitch_el = el.find("pitch")
                    if pitch_el is None:
                        pitch_el = el.find("unpitched")
                        step_tag, oct_tag = "display-step", "display-octave"
                    else:
                        step_tag, oct_tag = "step", "octave"
                    if pitch_el is None or el.find("rest") is not None:
                        continue
                    step = (pitch_el.findtext(step_tag) or "C").strip().upper()
                    written = (12 * (int(pitch_el.findtext(oct_tag) or 4) + 1) + _STEP.get(step, 0)
                               + int(round(float(pitch_el.findtext("alter") or 0))))
                    staff_no = int(el.findtext("staff") or 1)
                    ties = [t.get("type") for t in el.findall("tie")]
                    notes.append(_XmlNote(
                        part=pi, staff=staff_base + staff_no - 1, voice=el.findtext("voice") or "1",
                        measure=mi, onset=onset, duration=dur, written=written,
                        pitch=written + transpose.get(staff_no, 0), tie_start="start" in ties,
                        tie_stop="stop" in ties, grace=grace,
                        cue=el.find("cue") is not None))
                elif tag == "backup":
                    cursor -= float(el.findtext("duration") or 0) / divisions
                elif tag == "forward":
                    cursor += float(el.findtext("duration") or 0) / divisions
                    end = max(end, cursor)
                elif tag == "barline":
                    rep = el.find("repeat")
                    if rep is not None:
                        if rep.get("direction") == "forward":
                            mm.repeat_start = True
                        elif rep.get("direction") == "backward":
                            mm.repeat_end = True
                            if rep.get("times"):
                                mm.times = max(int(rep.get("times")), 1)
                    ending = el.find("ending")
                    if ending is not None:
                        nums = _ending_numbers(ending.get("number", ""))
                        kind = ending.get("type")
                        if kind == "start":
                            open_endings[ending.get("number", "")] = (mi, nums)
                        elif kind in ("stop", "discontinue"):
                            first, nums0 = open_endings.pop(ending.get("number", ""), (mi, nums))
                            for k in range(first, mi + 1):
                                measures[k].endings = nums0 or nums
                            measures[first].ending_first = True
                            measures[mi].ending_last = True
                    for snd in el.findall("sound"):
                        _sound_marks(snd, mm)
                    if el.find("segno") is not None:
                        mm.segno = True
                    if el.find("coda") is not None:
                        mm.coda = True
                elif tag in ("direction", "sound"):
                    sounds = [el] if tag == "sound" else el.findall("sound")
                    offset = cursor
                    if tag == "direction":
                        off = el.findtext("offset")
                        if off:
                            offset += float(off) / divisions
                    for snd in sounds:
                        _sound_marks(snd, mm)
                        if snd.get("tempo"):
                            try:
                                mm.tempos.append((max(offset, 0.0), float(snd.get("tempo"))))
                                has_tempo = True
                            except ValueError:
                                pass
                    if tag == "direction":
                        for dt in el.findall("direction-type"):
                            if dt.find("segno") is not None:
                                mm.segno = True
                            if dt.find("coda") is not None:
                                mm.coda = True
                            for w in dt.findall("words"):
                                _word_marks(w.text or "", mm)
                            met = dt.find("metronome")
                            if met is not None and not any(s.get("tempo") for s in sounds):
                                unit = _BEAT_UNIT_QN.get((met.findtext("beat-unit") or "").strip())
                                pm = met.findtext("per-minute")
                                try:
                                    if unit and pm:
                                        dotted = met.find("beat-unit-dot") is not None
                                        qpm = float(re.findall(r"[\d.]+", pm)[0]) * unit
                                        qpm *= 1.5 if dotted else 1.0
                                        mm.tempos.append((max(offset, 0.0), qpm))
                                        has_tempo = True
                                except (ValueError, IndexError):
                                    pass
            mm.part_lengths.append(max(end, cursor))
            if nominal and not mm.nominal:
                mm.nominal = nominal
        staff_base += staves
    for first, nums in open_endings.values():  # an ending never closed: one measure
        measures[first].endings = nums
        measures[first].ending_first = measures[first].ending_last = True
    for m in measures:
        # Parts that disagree (an overfull measure in one part): the time signature's
        # length if some part has it, else the longest.
        lengths = m.part_lengths or [0.0]
        if max(lengths) - min(lengths) < 1e-6:
            m.length = lengths[0]
        elif m.nominal and any(abs(x - m.nominal) < 1e-6 for x in lengths):
            m.length = m.nominal
        else:
            m.length = max(lengths)
    for m in measures:  # one tempo list per measure: the first part that marks it wins
        seen = {}
        for off, q in m.tempos:
            seen.setdefault(round(off, 6), q)
        m.tempos = sorted(seen.items())
    return _XmlScore(parts, measures, notes, has_tempo)


def _sound_marks(snd, mm: _XmlMeasure) -> None:
    if snd.get("segno"):
        mm.segno = True
    if snd.get("coda"):
        mm.coda = True
    if snd.get("tocoda"):
        mm.tocoda = True
    if snd.get("fine") is not None:
        mm.fine = True
    if (snd.get("dacapo") or "").lower() == "yes":
        mm.dacapo = True
    if snd.get("dalsegno"):
        mm.dalsegno = True


def _word_marks(text: str, mm: _XmlMeasure) -> None:
    t = html.unescape(text).strip()
    if _WORD_DACAPO.search(t):
        mm.dacapo = True
    elif _WORD_DALSEGNO.search(t):
        mm.dalsegno = True
    elif _WORD_FINE.search(t):
        mm.fine = True
    elif _WORD_TOCODA.search(t):
        mm.tocoda = True


def playing_order(measures: Sequence[_XmlMeasure]) -> list[int]:
    """Measure indices in playing order: repeats (with ``times``), first/second
    endings, D.C./D.S. (al Fine, al Coda). After a D.C./D.S. jump repeats are not
    taken again and only the last ending of each set is played (the usual
    convention)."""
    n = len(measures)
    segno = next((i for i, m in enumerate(measures) if m.segno), 0)
    coda_marks = [i for i, m in enumerate(measures) if m.coda]
    tocoda_marks = {i for i, m in enumerate(measures) if m.tocoda}
    coda_target = coda_marks[-1] if coda_marks else None
    if not tocoda_marks and len(coda_marks) >= 2:
        tocoda_marks = set(coda_marks[:-1])  # "⊕" at the jump and at the target
    # last ending of each set of endings (consecutive ending spans)
    spans = []
    i = 0
    while i < n:
        if measures[i].endings and measures[i].ending_first:
            j = i
            while j < n - 1 and not measures[j].ending_last:
                j += 1
            spans.append((i, j, measures[i].endings))
            i = j + 1
        else:
            i += 1
    span_at = {a: (a, b, nums) for a, b, nums in spans}
    last_of_set = set()
    for k, (a, b, nums) in enumerate(spans):
        nxt = spans[k + 1] if k + 1 < len(spans) else None
        if nxt is None or nxt[0] != b + 1:
            last_of_set.add(a)

    def section_start(j: int) -> int:
        k = j
        while k > 0:
            if measures[k].repeat_start:
                return k
            if k != j and measures[k].repeat_end:
                return k + 1
            k -= 1
        return 0

    order = []
    count: dict[int, int] = {}
    pass_no = 1
    jumped = False
    i = 0
    came_by_jump = False
    limit = 20 * n + 100
    while 0 <= i < n and len(order) < limit:
        m = measures[i]
        if m.repeat_start and not came_by_jump:
            pass_no = 1
        came_by_jump = False
        span = span_at.get(i)
        if span is not None:
            a, b, nums = span
            play = (a in last_of_set) if jumped else (pass_no in nums or not nums)
            if not play:
                i = b + 1
                continue
        order.append(i)
        if jumped and m.fine:
            break
        if m.repeat_end and not jumped:
            c = count.get(i, 0)
            if c < m.times - 1:
                count[i] = c + 1
                pass_no = c + 2
                i = section_start(i)
                came_by_jump = True
                continue
        if jumped and i in tocoda_marks and coda_target is not None and coda_target > i:
            i = coda_target
            came_by_jump = True
            continue
        if not jumped and (m.dacapo or m.dalsegno):
            jumped = True
            i = 0 if m.dacapo else segno
            pass_no = 1
            came_by_jump = True
            continue
        i += 1
    return order


@dataclass
class _MeiNote:
    id: str
    staff: int  # @n of the staff element it is encoded in
    layer: str
    measure: int
    written: int


@dataclass
class _MeiInfo:
    measures: list  # (xml:id, @n, page) in document order
    notes: list  # _MeiNote in document order
    staff_count: int


def _read_mei(mei: str) -> _MeiInfo:
    """What the notes need from verovio's page-based MEI (one parse)."""
    X = "{http://www.w3.org/XML/1998/namespace}id"
    measures, notes = [], []
    staff_ns = set()
    staff_n = 0
    layer_n = "1"
    page = 0
    note = None
    for event, el in ET.iterparse(io.BytesIO(mei.encode("utf-8")), events=("start", "end")):
        tag = el.tag.rsplit("}", 1)[-1]
        if event == "start":
            if tag == "note":
                alter = el.get("accid") or el.get("accid.ges")
                note = [el.get(X), el.get("pname"), el.get("oct"),
                        _ACCID_ALTER.get(alter, 0) if alter else None]
            elif tag == "accid" and note is not None and note[3] is None:
                a = el.get("accid") or el.get("accid.ges")
                if a:
                    note[3] = _ACCID_ALTER.get(a, 0)
            elif tag == "measure":
                measures.append((el.get(X, ""), el.get("n", str(len(measures) + 1)), page))
            elif tag == "staff":
                staff_n = int(el.get("n", "1") or 1)
            elif tag == "layer":
                layer_n = el.get("n", "1")
            elif tag == "page":
                page += 1
            elif tag == "staffDef":
                staff_ns.add(el.get("n"))
        else:
            if tag == "note" and note is not None:
                nid, pname, octave, alter = note
                if nid and pname in _PITCH_CLASS and octave is not None:
                    written = 12 * (int(octave) + 1) + _PITCH_CLASS[pname] + (alter or 0)
                    notes.append(_MeiNote(nid, staff_n, layer_n, len(measures) - 1, written))
                note = None
            elif tag in ("measure", "staff", "layer"):
                el.clear()
    return _MeiInfo(measures, notes, len(staff_ns))


_PITCH_CLASS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_ACCID_ALTER = {"s": 1, "f": -1, "ss": 2, "x": 2, "ff": -2, "xs": 3, "sx": 3, "ts": 3,
                "tf": -3, "n": 0, "nf": -1, "ns": 1, "su": 1, "sd": 1, "fu": -1, "fd": -1}


def _align_measures(score: _XmlScore, mei: _MeiInfo) -> list[int] | None:
    """MEI measure ordinal of each MusicXML measure (verovio folds a multi-measure
    rest into one measure, so counts can differ); None if they do not line up."""
    xml_n = [m.number for m in score.measures]
    mei_n = [m[1] for m in mei.measures]
    if len(xml_n) == len(mei_n):
        return list(range(len(xml_n)))
    out, j = [], 0
    for num in xml_n:
        if j < len(mei_n) and mei_n[j] == num:
            out.append(j)
            j += 1
        elif j > 0:
            out.append(j - 1)  # inside a folded multi-measure rest
        else:
            return None
    return out if j == len(mei_n) else None


def _match_ids(score: _XmlScore, mei: _MeiInfo, measure_map: list[int]) -> int:
    """Give each MusicXML note its verovio id; returns how many were matched."""
    import difflib

    staff_part = []
    for pi, (_, _, staves) in enumerate(score.parts):
        staff_part += [pi] * staves
    xml_groups: dict[tuple, list[_XmlNote]] = {}
    for n in score.notes:
        xml_groups.setdefault((n.part, measure_map[n.measure]), []).append(n)
    mei_groups: dict[tuple, list[_MeiNote]] = {}
    for n in mei.notes:
        part = staff_part[n.staff - 1] if 0 < n.staff <= len(staff_part) else -1
        mei_groups.setdefault((part, n.measure), []).append(n)
    matched = 0
    for key, xs in xml_groups.items():
        ms = mei_groups.get(key)
        if not ms:
            continue
        # exact voice <-> layer matches first
        by_voice: dict[str, list[_XmlNote]] = {}
        for n in xs:
            by_voice.setdefault(n.voice, []).append(n)
        by_layer: dict[tuple, list[_MeiNote]] = {}
        for n in ms:
            by_layer.setdefault((n.staff, n.layer), []).append(n)
        rest_x, used_layers = [], set()
        for v, vx in by_voice.items():
            seq = [n.written for n in vx]
            hit = next((k for k, lm in by_layer.items()
                        if k not in used_layers and [n.written for n in lm] == seq), None)
            if hit is None:
                rest_x += vx
                continue
            used_layers.add(hit)
            for a, b in zip(vx, by_layer[hit]):
                a.id = b.id
                matched += 1
        rest_m = [n for k, lm in by_layer.items() if k not in used_layers for n in lm]
        if rest_x and rest_m:
            rest_x.sort(key=lambda n: (n.onset, n.staff))
            sm = difflib.SequenceMatcher(a=[n.written for n in rest_x],
                                         b=[n.written for n in rest_m], autojunk=False)
            for op, a0, a1, b0, b1 in sm.get_opcodes():
                # equal runs, and same-length runs whose pitches disagree (a printed
                # accidental that the file's <alter> contradicts): pair in order
                if op == "equal" or (op == "replace" and a1 - a0 == b1 - b0):
                    for t in range(a1 - a0):
                        rest_x[a0 + t].id = rest_m[b0 + t].id
                        matched += 1
    return matched


def _unfolded_notes(eng: Engraver) -> list[NoteEvent]:
    mei = _read_mei(eng._tk.getMEI({"scoreBased": False}))
    score = _read_musicxml_score(eng.musicxml)
    measure_map = _align_measures(score, mei) if score is not None else None
    if measure_map is None:
        log.warning("cannot read the MusicXML measures in step with verovio; notes from "
                    "verovio's timemap (no D.C./D.S.)")
        eng.unfolding = "verovio"
        return _unfolded_notes_verovio(eng, mei)
    eng.unfolding = "musicxml"
    eng.matched_ids = _match_ids(score, mei, measure_map)
    order = playing_order(score.measures)
    by_measure: dict[int, list[_XmlNote]] = {}
    for n in score.notes:
        if not n.cue:
            by_measure.setdefault(n.measure, []).append(n)
    events = []  # [onset, duration, note, repeat]
    tempos = []
    open_ties: dict[tuple, list] = {}
    plays: dict[int, int] = {}
    t = 0.0
    for mi in order:
        m = score.measures[mi]
        for off, q in m.tempos:
            tempos.append((t + off, q))
        for n in sorted(by_measure.get(mi, ()), key=lambda n: (n.onset, n.grace is False)):
            onset = t + n.onset
            key = (n.part, n.pitch)
            prev = open_ties.get(key)
            if n.tie_stop and prev is not None and abs(prev[0] + prev[1] - onset) < 1e-6:
                prev[1] += n.duration  # a tied continuation sounds as part of its first note
                if not n.tie_start:
                    del open_ties[key]
                continue
            r = plays.get(id(n), 0)
            plays[id(n)] = r + 1
            ev = [onset, n.duration, n, r]
            events.append(ev)
            if n.tie_start:
                open_ties[key] = ev
            elif key in open_ties:
                del open_ties[key]
        t += m.length
    if not score.has_tempo or not tempos:
        tempos = [(0.0, DEFAULT_QPM)]
    elif tempos[0][0] > 1e-9:
        tempos.insert(0, (0.0, DEFAULT_QPM))
    seconds = _tempo_clock(sorted(tempos))
    notes = []
    events.sort(key=lambda e: (e[0], e[2].staff, e[2].pitch))
    for onset, dur, n, rep in events:
        measure = mei.measures[measure_map[n.measure]]
        s0, s1 = seconds(onset), seconds(onset + dur)
        part = score.parts[n.part]
        notes.append(NoteEvent(
            id=n.id, page=measure[2], part=n.part, part_name=part[1], staff=n.staff,
            measure=score.measures[n.measure].number, pitch=n.pitch,
            onset_qn=round(onset, 6), duration_qn=round(dur, 6),
            onset_sec=round(s0, 6), duration_sec=round(s1 - s0, 6), repeat=rep, grace=n.grace))
    return notes


def _score_parts(musicxml: str) -> list[tuple[str, str, int]]:
    """(part id, part name, number of staves) in score order."""
    names = {}
    for m in re.finditer(r'<score-part\s[^>]*id="([^"]+)"[^>]*>(.*?)</score-part>', musicxml, re.S):
        nm = re.search(r"<part-name[^>]*>(.*?)</part-name>", m.group(2), re.S)
        names[m.group(1)] = html.unescape(nm.group(1)).strip() if nm else ""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'<part\s[^>]*id="([^"]+)"', musicxml)]
    staves = {}
    for i, (pos, pid) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(musicxml)
        sm = re.search(r"<staves>\s*(\d+)\s*</staves>", musicxml[pos:end])
        staves[pid] = int(sm.group(1)) if sm else 1
    return [(pid, names[pid], staves.get(pid, 1)) for pid in names]


def _base_id(i: str) -> str:
    return re.sub(r"-rend\d+$", "", i)


def _unfolded_notes_verovio(eng: Engraver, mei: _MeiInfo) -> list[NoteEvent]:
    """Fallback: verovio's own expansion (repeats and voltas, not D.C./D.S.)."""
    tk = eng._tk
    info = {n.id: n for n in mei.notes}
    ordinal = {m[0]: i for i, m in enumerate(mei.measures)}
    tm = tk.renderToTimemap({"includeMeasures": True, "includeRests": False})
    off_q = {}
    for e in tm:
        for i in e.get("off", ()):
            off_q[i] = float(e["qstamp"])
    parts = _score_parts(eng.musicxml)
    staff_part, names = [], []
    for pi, (_, name, k) in enumerate(parts):
        staff_part += [pi] * k
        names.append(name)
    tempos = [(float(e["qstamp"]), float(e["tempo"])) for e in tm if "tempo" in e]
    if not re.search(r"<sound[^>]*\btempo=|<per-minute>", eng.musicxml) or not tempos:
        tempos = [(0.0, DEFAULT_QPM)]
    seconds = _tempo_clock(sorted(tempos))
    plays: dict[str, int] = {}
    notes = []
    for e in tm:
        for i in e.get("on", ()):
            base = _base_id(i)
            n = info.get(base)
            if n is None:
                continue
            q = float(e["qstamp"])
            dur = off_q.get(i, q) - q
            r = plays.get(base, 0)
            plays[base] = r + 1
            si = n.staff - 1
            part = staff_part[si] if 0 <= si < len(staff_part) else 0
            pitch = int(tk.getMIDIValuesForElement(base).get("pitch", n.written))
            s0, s1 = seconds(q), seconds(q + dur)
            notes.append(NoteEvent(
                id=base, page=mei.measures[n.measure][2], part=part,
                part_name=names[part] if part < len(names) else "", staff=si,
                measure=mei.measures[n.measure][1], pitch=pitch, onset_qn=round(q, 6),
                duration_qn=round(dur, 6), onset_sec=round(s0, 6), duration_sec=round(s1 - s0, 6),
                repeat=r))
    return notes


def _tempo_clock(tempos: list[tuple[float, float]]):
    """q -> seconds for a piecewise-constant tempo map [(q, qpm)] starting at q=0."""
    import bisect

    qs = [q for q, _ in tempos]
    bpm = [max(b, 1e-6) for _, b in tempos]
    acc = [0.0]
    for i in range(1, len(tempos)):
        acc.append(acc[-1] + (qs[i] - qs[i - 1]) * 60.0 / bpm[i - 1])

    def seconds(q: float) -> float:
        i = max(bisect.bisect_right(qs, q) - 1, 0)
        return acc[i] + (q - qs[i]) * 60.0 / bpm[i]

    return seconds


# ---------------------------------------------------------------- debugging

ROLE_COLORS = {
    "notehead": (0, 0, 255), "stem": (0, 160, 0), "beam": (255, 0, 0), "flag": (255, 0, 255),
    "rest": (0, 128, 255), "accidental": (128, 0, 128), "dot": (0, 0, 128), "key": (200, 0, 200),
    "clef": (0, 128, 128), "time": (128, 128, 0), "barline": (255, 128, 0), "volta": (0, 200, 200),
    "navigation": (0, 100, 255), "tuplet": (100, 50, 0), "curve": (200, 100, 0),
    "expression": (50, 150, 50), "dynamic": (150, 0, 50), "ledger": (0, 255, 128),
    "text": (80, 80, 200), "structure": (180, 180, 180),
}


def overlay(image: np.ndarray, symbols: Sequence[Symbol], *, scale: float = 1.0) -> np.ndarray:
    """A BGR picture of ``image`` with every symbol's box drawn (colour by role)."""
    import cv2

    bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()
    if scale != 1.0:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    for s in symbols:
        color = ROLE_COLORS.get(vocab.CLASSES[s.cls].role, (0, 0, 0))
        x0, y0, x1, y1 = (int(round(v * scale)) for v in s.box)
        cv2.rectangle(bgr, (x0, y0), (max(x1 - 1, x0), max(y1 - 1, y0)), color, 1)
    return bgr
