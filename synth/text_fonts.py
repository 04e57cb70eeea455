"""The fonts resvg draws a verovio page's text with, and text laid out in them.

verovio gives text no box, so the box of a text (lyric syllable, tempo mark, words,
title) is made by laying it out the way resvg draws it, with the metrics of the
fonts it draws it in: Liberation Serif for verovio's "Times, serif" (Debian's
fonts-liberation; GPOS pair kerning included) and the page's music font for SMuFL
characters, so a lyric syllable's box hugs its ink. :func:`layout_text` lays out
one ``<text>`` element; :func:`music_face` and the Liberation faces give it the
advances, outline bounds and kerning.

Text in a music font (the note of a metronome mark, dynamics inside words) is
embedded by verovio as a WOFF2 ``@font-face`` that resvg cannot read; the SMuFL
fonts are rebuilt once as OpenType files from verovio's own glyph data
(``fontTools``, which music21 brings through matplotlib), cached under
``~/.cache/omr`` (or ``$OMR_CACHE_DIR``), and handed to resvg
(:func:`music_font_file`).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from synth.svg_geometry import Box, path_bounds, union

log = logging.getLogger(__name__)

#: Music fonts that ship with verovio.
FONTS = ("Leipzig", "Bravura", "Leland", "Petaluma", "Gootville")
#: Where a music font lacks a character, text takes it from this one, as verovio
#: draws the music itself (its ``fontFallback`` option, Leipzig by default).
FALLBACK_FONT = "Leipzig"
#: Bumped when what a built music font file holds changes (the cached files are
#: named by it): 2, with the fallback font's characters.
MUSIC_FONT_FILE_REVISION = 2
#: Where Debian's fonts-liberation puts Liberation Serif.
LIBERATION_DIRS = ("/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/liberation2",
                   "/usr/share/fonts/liberation")
#: (font-weight, font-style) -> the Liberation Serif file's style.
LIBERATION_STYLES = {("normal", "normal"): "Regular", ("bold", "normal"): "Bold",
                     ("normal", "italic"): "Italic", ("bold", "italic"): "BoldItalic"}


# ---------------------------------------------------------------------- verovio


def load_verovio():
    """The verovio module, its logging switched off (once)."""
    import verovio

    if not getattr(load_verovio, "_quiet", False):
        verovio.enableLog(verovio.LOG_OFF)
        load_verovio._quiet = True
    return verovio


@functools.lru_cache(maxsize=None)
def verovio_data_dir() -> Path:
    """verovio's resource folder (music fonts and their glyph data)."""
    verovio = load_verovio()
    path = Path(verovio.__file__).parent / "data"
    if not (path / "Leipzig.xml").exists():
        path = Path(verovio.toolkit().getResourcePath())
    return path


# ------------------------------------------------------------------- text fonts


class _Face:
    """Metrics of one font face as resvg uses them: advances, outline bounds, kerning.
    ``key`` names the font file resvg needs for it (see :func:`synth.engrave.font_files`)."""

    def __init__(self, key: str, upem: float, cmap: dict[int, str], adv: dict[str, float],
                 bounds: dict[str, Box | None], kern: dict[tuple[str, str], float]):
        self.key = key
        self.upem = upem
        self.cmap = cmap
        self.adv = adv
        self.bounds = bounds
        self.kern = kern


def liberation_file(style: str) -> str | None:
    """The Liberation Serif file of ``style`` ("Regular", "Bold", "Italic",
    "BoldItalic"); None when fonts-liberation is not installed."""
    for d in LIBERATION_DIRS:
        p = Path(d) / f"LiberationSerif-{style}.ttf"
        if p.exists():
            return str(p)
    return None


@functools.lru_cache(maxsize=None)
def _liberation_face(weight: str, style: str) -> _Face | None:
    path = liberation_file(LIBERATION_STYLES[(weight, style)])
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
    key = "LiberationSerif-" + LIBERATION_STYLES[(weight, style)]
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
    """code -> (advance, [path d]) from verovio's glyph data of a music font, with
    :data:`FALLBACK_FONT`'s for the characters it lacks (Gootville has no
    metronome notes, U+ECA0 on: resvg drew a metronome mark's note as an empty
    box)."""
    glyphs = _font_glyph_xml(font)
    if font != FALLBACK_FONT:
        for code, glyph in _font_glyph_xml(FALLBACK_FONT).items():
            glyphs.setdefault(code, glyph)
    return glyphs


def _font_glyph_xml(font: str) -> dict[str, tuple[float, list[str]]]:
    """code -> (advance, [path d]) of the characters verovio has glyph data for in
    a music font."""
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
def music_face(font: str) -> _Face | None:
    """Metrics of a verovio music font, from its glyph data (None if verovio has
    no such font)."""
    if not (verovio_data_dir() / font).is_dir():
        return None
    cmap, adv, bounds = {}, {}, {}
    for code, (a, ds) in _music_glyph_xml(font).items():
        name = "uni" + code
        cmap[int(code, 16)] = name
        adv[name] = a
        bs = [path_bounds(d) for d in ds]
        bounds[name] = union(b for b in bs if b)
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
    verovio = load_verovio()
    version = re.sub(r"[^\w.-]", "_", verovio.toolkit().getVersion())
    if not (verovio_data_dir() / font).is_dir():
        return None
    name = f"{font}-{version}-r{MUSIC_FONT_FILE_REVISION}.otf"
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
        b = union(x for x in (path_bounds(d) for d in ds) if x)
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


# ------------------------------------------------------------------ text layout


@dataclass
class TextStyle:
    """The font and anchor in force for SVG text (from attributes and CSS)."""

    size: float = 16.0
    family: str = "serif"
    weight: str = "normal"
    style: str = "normal"
    anchor: str = "start"


def _face_for(style: TextStyle) -> _Face | None:
    for f in style.family.split(","):
        f = f.strip().strip("'\"")
        if f in FONTS:
            face = music_face(f)
            if face is not None:
                return face
    return _liberation_face(style.weight, style.style)


#: The notes of metronome marks (SMuFL's "Metronome marks" range), stem up: code ->
#: (notehead class, flags). A metronome mark's note is music printed inside text;
#: its parts are labelled as a note's (:func:`metronome_note_parts`).
METRONOME_NOTES = {0xECA2: ("notehead_whole", 0), 0xECA3: ("notehead_half", 0),
                   0xECA5: ("notehead_black", 0), 0xECA7: ("notehead_black", 1),
                   0xECA9: ("notehead_black", 2), 0xECAB: ("notehead_black", 3)}
#: The augmentation dot of a metronome mark's note.
METRONOME_DOT = 0xECB7
#: Flag classes by number of flags.
FLAG_CLASSES = {1: "flag_8th", 2: "flag_16th", 3: "flag_32nd"}
#: A stem's width, font units (an em is 1000, four staff spaces: 0.12 staff spaces).
STEM_WIDTH_UNITS = 30.0
#: How far down the stem a metronome note's flag reaches, as a part of the stem above
#: the head.
FLAG_REACH = 0.75


def metronome_note_parts(face: _Face, code: int) -> list[tuple[str, Box]]:
    """The parts of a metronome mark's note (``code`` in ``METRONOME_NOTES``, or
    ``METRONOME_DOT``) as ``(class, box)`` in ``face``'s font units relative to the
    glyph's origin, y up: the notehead, and for a stemmed note its stem and flag.
    The head is as wide as the quarter note's glyph (its stem stands at the head's
    right edge) and as high as that width makes it with the proportions of the
    font's own black notehead; the stem runs from the head's middle to the glyph's
    top, a flag down it from there. [] for a character the face does not have.

    >>> face = music_face("Bravura")
    >>> [c for c, _ in metronome_note_parts(face, 0xECA7)]
    ['notehead_black', 'stem', 'flag_8th']
    """
    g = face.bounds.get(face.cmap.get(code, ""))
    if g is None:
        return []
    if code == METRONOME_DOT:
        return [("augmentation_dot", g)]
    head_cls, flags = METRONOME_NOTES[code]
    if head_cls == "notehead_whole":
        return [(head_cls, g)]
    quarter = face.bounds.get(face.cmap.get(0xECA5, "")) or g
    black = face.bounds.get(face.cmap.get(0xE0A4, "")) or quarter
    width = quarter[2] - quarter[0]
    height = width * (black[3] - black[1]) / max(black[2] - black[0], 1e-6)
    head = (g[0], g[1], g[0] + width, g[1] + height)
    stem = (head[2] - STEM_WIDTH_UNITS, g[1] + height / 2.0, head[2], g[3])
    parts = [(head_cls, head), ("stem", stem)]
    if flags:
        reach = FLAG_REACH * (g[3] - head[3])
        parts.append((FLAG_CLASSES[flags], (stem[0], g[3] - reach, g[2], g[3])))
    return parts


def layout_text(segments, fallback: _Face | None, used: set[str]):
    """Lay out one <text> element the way resvg does. ``segments`` are
    ``(chars, style, x, y, dx, dy)``; x or y set where a tspan starts a new text
    chunk. Characters a face lacks come from ``fallback`` (the page's music font),
    as resvg falls back to any loaded font that has them. Adds the keys of the faces
    used to ``used``. Returns (ink box, text, [(chunk ink box, chunk text)], [(class,
    box) of the parts of metronome marks' notes (:func:`metronome_note_parts`)])."""
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
            cur = [nx, base_y, style.anchor, 0.0, [], None, [], []]
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
            if ord(ch) in METRONOME_NOTES or ord(ch) == METRONOME_DOT:
                cur[7].extend((c, (pen + p[0] * scale, base_y - p[3] * scale,
                                   pen + p[2] * scale, base_y - p[1] * scale))
                              for c, p in metronome_note_parts(f, ord(ch)))
            pen += f.adv.get(g, 0.0) * scale
            prev = (f, g, size)
        cur[3] = pen
        cur[5] = prev
    boxes, parts = [], []
    for cx, _, anchor, width, ink, _, texts, notes in chunks:
        box = union(ink)
        if box is None:
            continue
        shift = cx - (width / 2.0 if anchor == "middle" else width if anchor == "end" else 0.0)
        boxes.append(((box[0] + shift, box[1], box[2] + shift, box[3]), "".join(texts).strip()))
        parts += [(c, (b[0] + shift, b[1], b[2] + shift, b[3])) for c, b in notes]
    return union(b for b, _ in boxes), "".join(text_out), boxes, parts
