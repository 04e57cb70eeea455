"""Text in the regions the detector marks: lyrics, tempo, D.C./D.S./Fine, voltas.

Pure functions over a normalized page (``uint8`` grey, white paper, black ink, one
staff space = :data:`omr.page.STAFF_SPACE_NORM` = 10 px) and boxes ``[x0, y0, x1, y1]``
in its pixels. Reading is done by the Tesseract OCR engine (Debian ``tesseract-ocr``),
run as the ``tesseract`` program; nothing is downloaded at run time.

How a box is read
-----------------
1. The box is cropped with ``pad_px`` of margin, upscaled ``UPSCALE`` times
   (Tesseract reads text 10-20 px tall badly) and binarized with Otsu's threshold.
2. Clutter is removed: thin horizontal lines longer than ``LINE_MIN_LENGTH_SS``
   (staff lines, volta brackets, lyric extenders) except where a letter crosses them,
   thin vertical lines through the whole crop (barlines, stems), and pieces that
   reach in from outside the box (neighbouring notes, the next verse).
3. What remains is cut to its ink, framed with white, and read with the page
   segmentation mode and character whitelist of its ``kind`` (:data:`KIND_CONFIGS`).

:func:`read_many` reads many boxes with one Tesseract process per kind (each crop one
page of a multi-page input), because starting Tesseract costs more than reading a word.

The ``parse_*`` functions turn what was read into music: :func:`parse_tempo`,
:func:`parse_navigation`, :func:`parse_volta`, :func:`parse_lyric`. They expect OCR
errors (``"J = 120"`` for ``"♩ = 120"``, ``"D.G. al Fine"``) and are usable on their own.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from omr.errors import OmrError, ParameterError
from omr.page import STAFF_SPACE_NORM

# ---------------------------------------------------------------------------
# Constants
# ---------------------------------------------------------------------------

#: Staff space of the normalized page the boxes refer to, px.
STAFF_SPACE_PX = STAFF_SPACE_NORM
#: Default margin added around a box before cropping, normalized-page px.
PAD_PX = 4
#: Upscale factor of the normalized page before OCR: lyrics ~1.6 staff spaces tall
#: become ~50 px (Tesseract reads text 10-20 px tall badly).
UPSCALE = 3.0
#: The upscaled box height is kept within this range, px (tiny or huge text).
BOX_HEIGHT_RANGE_PX = (24.0, 160.0)
#: White frame put around the cleaned crop, px of the upscaled crop.
BORDER_PX = 12
#: A crop whose grey values span less than this (0-255) holds no ink.
MIN_CONTRAST = 48
#: Otsu's threshold is clipped to this range (0-255).
THRESHOLD_RANGE = (90, 200)
#: A horizontal run of ink at least this long, staff spaces, is a line, not a letter
#: (the bar of a "T" or an "=" is about one staff space).
LINE_MIN_LENGTH_SS = 2.2
#: Thickest line removed, staff spaces (staff lines are ~0.15, volta brackets ~0.2).
LINE_MAX_THICKNESS_SS = 0.4
#: A vertical run covering at least this fraction of the crop's height is a barline,
#: a stem or a bracket hook.
VLINE_MIN_FRACTION = 0.92
#: A piece of ink touching the crop's edge is kept only if at least this fraction of
#: it lies inside the (unpadded) box.
KEEP_INSIDE_FRACTION = 0.5
#: Pieces of ink smaller than this, square staff spaces, are noise (a dot is ~0.05).
MIN_SPECK_AREA_SS2 = 0.008
#: Seconds one Tesseract run may take before it is stopped.
TESSERACT_TIMEOUT_S = 120.0
#: Threads Tesseract may use (it is called from workers that already share cores).
TESSERACT_THREADS = 1


@dataclass(frozen=True)
class OcrConfig:
    """How one kind of text is read.

    Attributes
    ----------
    psm : int
        Tesseract page segmentation mode: 7 = one line, 8 = one word.
    whitelist : str or None
        Only these characters are produced; None allows all.
    lang : str
        Tesseract language(s), ``"eng+ita"`` style; those not installed are dropped.
    """

    psm: int
    whitelist: str | None = None
    lang: str = "eng"


#: Reading set-up per ``kind`` of box.
KIND_CONFIGS: dict[str, OcrConfig] = {
    "lyric": OcrConfig(psm=7, lang="eng+deu"),
    "tempo": OcrConfig(psm=7, lang="eng"),
    "words": OcrConfig(psm=7, lang="eng"),
    "navigation": OcrConfig(psm=7, lang="eng"),
    "volta": OcrConfig(psm=7, whitelist="0123456789.,-"),
    "number": OcrConfig(psm=7, whitelist="0123456789"),
    "finger": OcrConfig(psm=10, whitelist="12345"),  # one character
    "dynamic": OcrConfig(psm=8, whitelist="pmfszrn"),
}
KINDS = tuple(KIND_CONFIGS)

#: Detector classes (omr.vocab) to the ``kind`` they are read as; None = not text.
CLASS_KINDS: dict[str, str] = {
    "lyric_syllable": "lyric",
    "tempo_text": "tempo",
    "text_other": "words",
    "credit_text": "words",
    "text_dacapo": "navigation",
    "text_dalsegno": "navigation",
    "text_fine": "navigation",
    "text_tocoda": "navigation",
    "volta_number": "volta",
    "measure_number": "number",
    "rest_multi_number": "number",
    "fingering": "finger",
}


def kind_of_class(cls: str) -> str | None:
    """The ``kind`` a detector class is read as, or None for non-text classes.

    >>> kind_of_class("lyric_syllable"), kind_of_class("dynamic_mf"), kind_of_class("notehead_black")
    ('lyric', 'dynamic', None)
    """
    if cls in CLASS_KINDS:
        return CLASS_KINDS[cls]
    if cls.startswith("dynamic_"):
        return "dynamic"
    return None


class OcrUnavailableError(OmrError):
    """The ``tesseract`` program is not installed."""


@dataclass(frozen=True)
class TextReading:
    """What was read in one box.

    Attributes
    ----------
    text : str
        The words read, joined by single spaces ("" when nothing was read).
    confidence : float
        Tesseract's mean word confidence, 0-1 (0 when nothing was read).
    """

    text: str
    confidence: float


EMPTY = TextReading("", 0.0)


# ---------------------------------------------------------------------------
# Tesseract
# ---------------------------------------------------------------------------


def tesseract_available() -> bool:
    """Whether the ``tesseract`` program is on ``PATH``."""
    return shutil.which("tesseract") is not None


@functools.lru_cache(maxsize=1)
def installed_languages() -> frozenset[str]:
    """Languages whose trained data Tesseract has (``tesseract --list-langs``)."""
    out = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True,
                         timeout=TESSERACT_TIMEOUT_S, check=False)
    langs = {ln.strip() for ln in out.stdout.splitlines()[1:] if ln.strip()}
    return frozenset(langs)


def _lang(lang: str) -> str:
    have = installed_languages()
    keep = [x for x in lang.split("+") if x in have]
    if not keep:
        raise OcrUnavailableError(
            f"Tesseract has no trained data for {lang!r}: apt-get install tesseract-ocr-eng")
    return "+".join(keep)


def _run_tesseract(source: str | bytes, config: OcrConfig) -> str:
    """Tesseract's TSV output for an image file, a list file, or PNG bytes (stdin)."""
    if not tesseract_available():
        raise OcrUnavailableError(
            "the tesseract program is not installed: apt-get install tesseract-ocr tesseract-ocr-eng")
    stdin = source if isinstance(source, bytes) else None
    src = "stdin" if stdin is not None else str(source)
    cmd = ["tesseract", src, "stdout", "-l", _lang(config.lang), "--psm", str(config.psm)]
    if config.whitelist:
        cmd += ["-c", f"tessedit_char_whitelist={config.whitelist}"]
    cmd += ["tsv"]
    env = dict(os.environ, OMP_THREAD_LIMIT=str(TESSERACT_THREADS))
    out = subprocess.run(cmd, input=stdin, capture_output=True, timeout=TESSERACT_TIMEOUT_S,
                         env=env, check=False)
    if out.returncode != 0:
        raise OmrError(f"tesseract failed: {out.stderr.decode(errors='replace').strip()[-300:]}")
    return out.stdout.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class _Word:
    page: int
    line: tuple[int, int, int]
    left: int
    top: int
    width: int
    height: int
    conf: float
    text: str


def _parse_tsv(tsv: str) -> list[_Word]:
    words = []
    for row in tsv.splitlines()[1:]:
        f = row.split("\t")
        if len(f) < 12 or f[0] != "5":
            continue
        text = f[11].strip()
        conf = float(f[10])
        if not text or conf < 0:
            continue
        words.append(_Word(int(f[1]), (int(f[2]), int(f[3]), int(f[4])), int(f[6]), int(f[7]),
                           int(f[8]), int(f[9]), conf, text))
    return words


#: Typographic quotes Tesseract produces, to the plain ones engravers' text uses.
_TYPOGRAPHIC = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "„": '"'})


def _reading(words: list[_Word]) -> TextReading:
    """Words of one crop joined in reading order (line by line, left to right)."""
    if not words:
        return EMPTY
    lines: dict[tuple[int, int, int], list[_Word]] = {}
    for w in words:
        lines.setdefault(w.line, []).append(w)
    ordered = sorted(lines.values(), key=lambda ws: min(w.top for w in ws))
    text = " ".join(w.text for ws in ordered for w in sorted(ws, key=lambda w: w.left))
    text = text.translate(_TYPOGRAPHIC)
    conf = float(np.mean([w.conf for w in words])) / 100.0
    return TextReading(text, round(conf, 4))


# ---------------------------------------------------------------------------
# Preparing a crop
# ---------------------------------------------------------------------------


def _as_gray(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim == 3:
        a = cv2.cvtColor(a[..., :3].astype(np.uint8), cv2.COLOR_RGB2GRAY)
    if a.ndim != 2:
        raise ParameterError(f"image must be a 2-D grey array, got shape {a.shape}")
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    return a


def _shift_or(mask: np.ndarray, reach: int, down: bool) -> np.ndarray:
    """True where ``mask`` is True within ``reach`` px above (down=True) or below."""
    out = np.zeros_like(mask)
    for k in range(1, reach + 1):
        if down:
            out[k:] |= mask[:-k]
        else:
            out[:-k] |= mask[k:]
    return out


def _remove_lines(ink: np.ndarray, scale: float) -> np.ndarray:
    """``ink`` without long thin horizontal lines and full-height vertical lines.

    The crop is extended sideways by repeating its edge columns first, so a line
    that leaves the crop (a staff line, an extender cut by the box) is long there.
    """
    h, w = ink.shape
    length = max(3, round(LINE_MIN_LENGTH_SS * STAFF_SPACE_PX * scale))
    reach = max(2, round(LINE_MAX_THICKNESS_SS * STAFF_SPACE_PX * scale))
    wide = cv2.copyMakeBorder(ink.astype(np.uint8), 0, 0, length, length, cv2.BORDER_REPLICATE)
    hline = cv2.morphologyEx(wide, cv2.MORPH_OPEN,
                             cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))[:, length:length + w] > 0
    if hline.any():
        # Keep only the thin part: a run thicker than ``reach`` is a beam or bold ink.
        thick = cv2.morphologyEx(hline.astype(np.uint8), cv2.MORPH_OPEN,
                                 cv2.getStructuringElement(cv2.MORPH_RECT, (1, reach + 1))) > 0
        hline &= ~thick
        rest = ink & ~hline
        # A letter crossing the line keeps its stroke: ink on both sides of the line.
        crossed = _shift_or(rest, reach, down=True) & _shift_or(rest, reach, down=False)
        ink = ink & ~(hline & ~crossed)
    vlen = int(np.ceil(VLINE_MIN_FRACTION * h))
    if h >= 8:
        vline = cv2.morphologyEx(ink.astype(np.uint8), cv2.MORPH_OPEN,
                                 cv2.getStructuringElement(cv2.MORPH_RECT, (1, vlen))) > 0
        if vline.any():
            ink = ink & ~cv2.dilate(vline.astype(np.uint8), np.ones((1, 3), np.uint8)).astype(bool)
    return ink


def _drop_clutter(ink: np.ndarray, core: tuple[int, int, int, int], scale: float) -> np.ndarray:
    """Keep pieces of ink that belong to the box ``core`` (x0, y0, x1, y1 in ``ink``)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink.astype(np.uint8), connectivity=8)
    if n <= 1:
        return ink
    h, w = ink.shape
    cx0, cy0, cx1, cy1 = core
    inside = np.zeros(n, np.int64)
    sub = labels[cy0:cy1, cx0:cx1]
    if sub.size:
        inside = np.bincount(sub.ravel(), minlength=n)
    min_area = MIN_SPECK_AREA_SS2 * (STAFF_SPACE_PX * scale) ** 2
    keep = np.zeros(n, bool)
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        if area < min_area:
            continue
        frac = inside[i] / area
        touches = x == 0 or y == 0 or x + bw >= w or y + bh >= h
        keep[i] = frac >= KEEP_INSIDE_FRACTION or (frac > 0 and not touches)
    return keep[labels]


def _threshold(gray: np.ndarray) -> float:
    """Ink/paper threshold of a crop (grey levels 0-255): Otsu's, clipped to ``THRESHOLD_RANGE``.

    (Tried on camera pages: the midpoint of the 2nd and 90th percentiles reads no better.)
    """
    t, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return float(np.clip(t, *THRESHOLD_RANGE))


def _clean_ink(gray: np.ndarray, box: Sequence[float], pad_px: float, scale: float | None = None,
               span: tuple[float, float] | None = None) -> tuple[np.ndarray, float] | None:
    """Cleaned ink mask of ``box``, upscaled: (mask, scale), or None without ink.

    ``scale`` defaults to ``UPSCALE`` (kept within ``BOX_HEIGHT_RANGE_PX``); ``span``
    (y0, y1) widens the crop vertically (a lyric line: the pieces keep their heights).
    """
    H, W = gray.shape
    x0, y0, x1, y1 = (float(v) for v in box)
    if not (x1 > x0 and y1 > y0):
        return None
    sy0, sy1 = span if span is not None else (y0, y1)
    px0, py0 = int(max(0, np.floor(x0 - pad_px))), int(max(0, np.floor(min(y0, sy0) - pad_px)))
    px1, py1 = int(min(W, np.ceil(x1 + pad_px))), int(min(H, np.ceil(max(y1, sy1) + pad_px)))
    if px1 - px0 < 2 or py1 - py0 < 2:
        return None
    crop = gray[py0:py1, px0:px1]
    if int(crop.max()) - int(crop.min()) < MIN_CONTRAST:
        return None
    if scale is None:
        box_h = max(1.0, y1 - y0)
        scale = float(np.clip(UPSCALE * box_h, *BOX_HEIGHT_RANGE_PX)) / box_h
    big = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    ink = big < _threshold(big)
    ink = _remove_lines(ink, scale)
    core = (round((x0 - px0) * scale), round((y0 - py0) * scale),
            round((x1 - px0) * scale), round((y1 - py0) * scale))
    ink = _drop_clutter(ink, core, scale)
    if not ink.any():
        return None
    return ink, scale


def _framed(ink: np.ndarray) -> np.ndarray:
    """Ink mask to a black-on-white ``uint8`` image with a ``BORDER_PX`` white frame."""
    out = np.where(ink, 0, 255).astype(np.uint8)
    return cv2.copyMakeBorder(out, BORDER_PX, BORDER_PX, BORDER_PX, BORDER_PX, cv2.BORDER_CONSTANT, value=255)


def prepare_crop(image: np.ndarray, box: Sequence[float], *, pad_px: float = PAD_PX) -> np.ndarray | None:
    """The cleaned, upscaled, binarized crop of ``box`` that Tesseract reads.

    Parameters
    ----------
    image : np.ndarray
        Normalized page, ``uint8`` grey (white paper, black ink).
    box : sequence of 4 floats
        ``[x0, y0, x1, y1]`` in ``image`` pixels.
    pad_px : float
        Margin around the box, ``image`` pixels.

    Returns
    -------
    np.ndarray or None
        ``uint8`` image, 0 = ink, 255 = paper, cut to the ink and framed with
        ``BORDER_PX`` of white; None when the box holds no ink.
    """
    got = _clean_ink(_as_gray(image), box, pad_px)
    if got is None:
        return None
    ink = got[0]
    ys, xs = np.nonzero(ink)
    return _framed(ink[ys.min():ys.max() + 1, xs.min():xs.max() + 1])


def _config(kind: str) -> OcrConfig:
    try:
        return KIND_CONFIGS[kind]
    except KeyError:
        raise ParameterError(f"unknown text kind {kind!r}; one of {', '.join(KINDS)}") from None


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def read_text(image: np.ndarray, box: Sequence[float], *, kind: str = "words",
              pad_px: float = PAD_PX) -> TextReading:
    """Read the text inside one box of a normalized page.

    Parameters
    ----------
    image : np.ndarray
        Normalized page (``uint8`` grey, white paper, black ink, staff space 10 px).
    box : sequence of 4 floats
        ``[x0, y0, x1, y1]`` in ``image`` pixels.
    kind : str
        One of :data:`KINDS`: ``"lyric"``, ``"tempo"``, ``"words"``, ``"navigation"``,
        ``"volta"`` (digits, "." and ","), ``"number"`` (digits), ``"dynamic"``
        (letters of dynamics). Chooses the segmentation mode and whitelist.
    pad_px : float
        Margin around the box, ``image`` pixels.

    Returns
    -------
    TextReading
        The text (words joined by spaces) and Tesseract's confidence, 0-1.

    Raises
    ------
    OcrUnavailableError
        When the ``tesseract`` program is not installed.

    See Also
    --------
    read_many : many boxes with one Tesseract run per kind.
    """
    config = _config(kind)
    crop = prepare_crop(image, box, pad_px=pad_px)
    if crop is None:
        return EMPTY
    sheet = _Sheet(crop, [(0, 0.0, 0.0, float(crop.shape[1]), float(crop.shape[0]))])
    return _assign(sheet, _read_sheets([crop], config)[0])[0]


#: How :func:`read_many` batches: one Tesseract run per kind with one page per crop,
#: crops stacked into one image per kind, or one run per crop.
BATCH_MODES = ("pages", "stack", "single")
#: Kinds whose boxes :func:`read_many` joins into lines (one line per row of boxes,
#: the pieces at their heights on the page), so Tesseract sees the syllables' common
#: baseline and x-height ("o" is not read "O") and the words around them.
LINE_KINDS = ("lyric",)
#: Boxes are in one row when their vertical centres are this close, box heights.
ROW_TOLERANCE = 0.5
#: White gap between the pieces of a line, staff spaces (of the normalized page).
LINE_GAP_SS = 2.0
#: White gap between stacked crops, px of the upscaled crops.
STACK_GAP_PX = 24
#: Segmentation mode for a stack of crops (a block of lines).
STACK_PSM = 6


@dataclass
class _Sheet:
    """One image given to Tesseract and where each box's ink lies on it."""

    image: np.ndarray
    pieces: list[tuple[int, float, float, float, float]]  # (box index, x0, y0, x1, y1)


def read_many(image: np.ndarray, boxes: Sequence[Sequence[float]], kinds: str | Sequence[str] = "words", *,
              pad_px: float = PAD_PX, batch: str = "pages") -> list[TextReading]:
    """Read many boxes of one page, starting Tesseract once per kind.

    Parameters
    ----------
    image : np.ndarray
        Normalized page (``uint8`` grey, white paper, black ink, staff space 10 px).
    boxes : sequence of boxes
        ``[x0, y0, x1, y1]`` each, in ``image`` pixels.
    kinds : str or sequence of str
        The kind of each box (see :func:`read_text`), or one kind for all.
    pad_px : float
        Margin around each box, ``image`` pixels.
    batch : str
        ``"pages"`` (default): the crops of one kind are the pages of one multi-page
        input, each segmented on its own; boxes of :data:`LINE_KINDS` in one row are
        first joined into one line. ``"stack"``: the crops of one kind are stacked
        into one image, read as a block (``STACK_PSM``) and the words assigned back
        by their height. ``"single"``: one run per crop, as :func:`read_text`.

    Returns
    -------
    list of TextReading
        One per box, in order.
    """
    boxes = [list(map(float, b)) for b in boxes]
    kinds = [kinds] * len(boxes) if isinstance(kinds, str) else list(kinds)
    if len(kinds) != len(boxes):
        raise ParameterError(f"{len(boxes)} boxes but {len(kinds)} kinds")
    if batch not in BATCH_MODES:
        raise ParameterError(f"unknown batch mode {batch!r}; one of {', '.join(BATCH_MODES)}")
    for k in set(kinds):
        _config(k)
    if batch == "single":
        return [read_text(image, b, kind=k, pad_px=pad_px) for b, k in zip(boxes, kinds)]
    gray = _as_gray(image)
    results = [EMPTY] * len(boxes)
    by_kind: dict[str, list[int]] = {}
    for i, k in enumerate(kinds):
        by_kind.setdefault(k, []).append(i)
    for k, idx in by_kind.items():
        if batch == "pages" and k in LINE_KINDS:
            sheets = [s for row in _rows(boxes, idx) if (s := _line_sheet(gray, boxes, row, pad_px))]
        else:
            sheets = []
            for i in idx:
                crop = prepare_crop(gray, boxes[i], pad_px=pad_px)
                if crop is not None:
                    sheets.append(_Sheet(crop, [(i, 0.0, 0.0, float(crop.shape[1]), float(crop.shape[0]))]))
            if batch == "stack" and sheets:
                sheets = [_stack(sheets)]
        if not sheets:
            continue
        config = _config(k) if batch == "pages" else OcrConfig(STACK_PSM, _config(k).whitelist, _config(k).lang)
        for sheet, words in zip(sheets, _read_sheets([s.image for s in sheets], config)):
            for i, r in _assign(sheet, words).items():
                results[i] = r
    return results


def _rows(boxes: list[list[float]], idx: list[int]) -> list[list[int]]:
    """Boxes ``idx`` grouped into rows (close vertical centres), each left to right."""
    order = sorted(idx, key=lambda i: (boxes[i][1] + boxes[i][3]) / 2)
    rows: list[list[int]] = []
    centre = None
    for i in order:
        c = (boxes[i][1] + boxes[i][3]) / 2
        h = boxes[i][3] - boxes[i][1]
        if rows and abs(c - centre) <= ROW_TOLERANCE * h:
            rows[-1].append(i)
            centre = float(np.mean([(boxes[j][1] + boxes[j][3]) / 2 for j in rows[-1]]))
        else:
            rows.append([i])
            centre = c
    return [sorted(r, key=lambda i: boxes[i][0]) for r in rows]


def _line_sheet(gray: np.ndarray, boxes: list[list[float]], row: list[int], pad_px: float) -> _Sheet | None:
    """The boxes of one row as one line of text, each at its height on the page."""
    y0 = min(boxes[i][1] for i in row)
    y1 = max(boxes[i][3] for i in row)
    h = float(np.median([boxes[i][3] - boxes[i][1] for i in row]))
    scale = float(np.clip(UPSCALE * h, *BOX_HEIGHT_RANGE_PX)) / max(1.0, h)
    gap = round(LINE_GAP_SS * STAFF_SPACE_PX * scale)
    parts, pieces, x = [], [], 0
    for i in row:
        got = _clean_ink(gray, boxes[i], pad_px, scale, span=(y0, y1))
        if got is None:
            continue
        ink = got[0]
        cols = np.nonzero(ink.any(axis=0))[0]
        ink = ink[:, cols.min():cols.max() + 1]
        parts.append(ink)
        pieces.append((i, float(x), 0.0, float(x + ink.shape[1]), float(ink.shape[0])))
        x += ink.shape[1] + gap
    if not parts:
        return None
    height = max(p.shape[0] for p in parts)
    strip = np.zeros((height, x - gap), bool)
    for p, (_, px0, _, px1, _) in zip(parts, pieces):
        strip[:p.shape[0], int(px0):int(px1)] = p
    rows = np.nonzero(strip.any(axis=1))[0]
    strip = strip[rows.min():rows.max() + 1]
    pieces = [(i, a + BORDER_PX, 0.0, b + BORDER_PX, float(strip.shape[0] + 2 * BORDER_PX))
              for i, a, _, b, _ in pieces]
    return _Sheet(_framed(strip), pieces)


def _stack(sheets: list[_Sheet]) -> _Sheet:
    """Single-crop sheets stacked top to bottom into one."""
    width = max(s.image.shape[1] for s in sheets)
    rows, pieces, y = [], [], 0
    for s in sheets:
        h = s.image.shape[0]
        rows.append(np.pad(s.image, ((0, STACK_GAP_PX), (0, width - s.image.shape[1])), constant_values=255))
        pieces.append((s.pieces[0][0], 0.0, float(y), float(width), float(y + h + STACK_GAP_PX)))
        y += h + STACK_GAP_PX
    return _Sheet(np.vstack(rows), pieces)


def _assign(sheet: _Sheet, words: list[_Word]) -> dict[int, TextReading]:
    """Readings of the sheet's boxes from the words Tesseract found on it."""
    ink = sheet.image < 128
    # Tesseract's line recogniser sometimes puts a "_" or "'" in empty space.
    words = [w for w in words if ink[w.top:w.top + w.height, w.left:w.left + w.width].any()]
    if len(sheet.pieces) == 1:
        return {sheet.pieces[0][0]: _reading(words)}
    got: dict[int, list[_Word]] = {}
    for w in words:
        cx, cy = w.left + w.width / 2, w.top + w.height / 2
        best = min(sheet.pieces, key=lambda p, cx=cx, cy=cy: max(p[1] - cx, 0.0, cx - p[3]) + max(p[2] - cy, 0.0, cy - p[4]))
        got.setdefault(best[0], []).append(w)
    return {i: _reading(got.get(i, [])) for i, *_ in sheet.pieces}


def _read_sheets(images: list[np.ndarray], config: OcrConfig) -> list[list[_Word]]:
    """Words on each image, from one Tesseract run (a multi-page input)."""
    if len(images) == 1:
        _, png = cv2.imencode(".png", images[0])
        return [_parse_tsv(_run_tesseract(png.tobytes(), config))]
    with tempfile.TemporaryDirectory(prefix="omr-ocr-") as tmp:
        paths = []
        for i, im in enumerate(images):
            p = Path(tmp) / f"{i:05d}.png"
            cv2.imwrite(str(p), im)
            paths.append(str(p))
        listing = Path(tmp) / "list.txt"
        listing.write_text("\n".join(paths) + "\n")
        words = _parse_tsv(_run_tesseract(str(listing), config))
    per_page: dict[int, list[_Word]] = {}
    for w in words:
        per_page.setdefault(w.page, []).append(w)
    return [per_page.get(i + 1, []) for i in range(len(images))]


# ---------------------------------------------------------------------------
# Parsing: tempo
# ---------------------------------------------------------------------------

#: Default beats per minute of common tempo terms (the middle of the usual range).
TEMPO_TERMS_BPM: dict[str, float] = {
    "Grave": 40.0,
    "Largo": 50.0,
    "Lento": 55.0,
    "Larghetto": 63.0,
    "Adagio": 70.0,
    "Andante": 90.0,
    "Andantino": 95.0,
    "Moderato": 110.0,
    "Allegretto": 115.0,
    "Allegro": 130.0,
    "Vivace": 160.0,
    "Presto": 180.0,
    "Prestissimo": 200.0,
}
#: Similarity (difflib ratio) a word needs to count as a tempo term.
TERM_MIN_RATIO = 0.75
#: Metronome numbers outside this range, beats per minute, are misreadings.
BPM_RANGE = (20.0, 400.0)
#: Length of each beat unit in quarter notes.
BEAT_QUARTERS: dict[str, float] = {
    "eighth": 0.5,
    "quarter": 1.0,
    "dotted quarter": 1.5,
    "half": 2.0,
    "dotted half": 3.0,
    "whole": 4.0,
}
#: What OCR makes of a metronome note glyph, lower-cased, to the beat unit. A filled
#: quarter note comes out as "J", "j", "q" or (Tesseract 5 on engraved notes) "g";
#: "d" is a half note's stem on the right.
NOTE_GLYPHS: dict[str, str] = {
    "♩": "quarter", "𝅘𝅥": "quarter", "j": "quarter", "q": "quarter", "l": "quarter",
    "|": "quarter", "i": "quarter", "g": "quarter", "}": "quarter", "¢": "quarter",
    "d": "half", "𝅗𝅥": "half", "h": "half", "p": "half",
    "♪": "eighth", "e": "eighth", "j)": "eighth", "♫": "eighth", "d)": "eighth",
    "o": "whole", "w": "whole",
}


@dataclass(frozen=True)
class Tempo:
    """A tempo marking.

    Attributes
    ----------
    qpm : float or None
        Quarter notes per minute (from the metronome mark, else the term's default);
        None when neither was read.
    text : str
        The tempo words as printed (cleaned of the metronome mark), "" if none.
    beat : str
        The beat unit of the metronome mark, a key of :data:`BEAT_QUARTERS`.
    """

    qpm: float | None
    text: str
    beat: str = "quarter"


_METRONOME = re.compile(r"(?:(?<=\s)|^)(?P<glyph>[^\s=\d]{0,3}?\.?)\s*[=:≈~\-]{1,2}\s*(?P<num>\d{2,3}(?:[.,]\d)?)")


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).replace("\u00a0", " ")
    # SMuFL metronome notes (private use area) to plain note symbols.
    text = re.sub("[\ueca0-\uecbf\ue1d0-\ue1ef]", "♩", text)
    return re.sub(r"\s+", " ", text).strip()


def _beat_of(glyph: str) -> str:
    g = glyph.strip().lower()
    dotted = g.endswith(".") and len(g) > 1
    g = g.rstrip(".").strip()
    beat = NOTE_GLYPHS.get(g) or NOTE_GLYPHS.get(g[-1:] if g else "", "quarter")
    if dotted and beat in ("quarter", "half"):
        beat = f"dotted {beat}"
    return beat


def _match_term(word: str) -> str | None:
    w = re.sub(r"[^a-zà-ü]", "", word.lower())
    if len(w) < 4:
        return None
    names = {k.lower(): k for k in TEMPO_TERMS_BPM}
    best = difflib.get_close_matches(w, list(names), n=1, cutoff=TERM_MIN_RATIO)
    if best:
        return names[best[0]]
    # The note glyph stuck to the word ("Allegrod = 132"): try without its last letters.
    for cut in (1, 2):
        if len(w) - cut >= 4 and w[:-cut] in names:
            return names[w[:-cut]]
    return None


def _glued_glyph(word: str) -> bool:
    """Whether ``word`` is a tempo term with one more character (a note glyph) at its end."""
    terms = {k.lower() for k in TEMPO_TERMS_BPM}
    w = word.lower().rstrip(".")
    return len(w) > 4 and w not in terms and w[:-1] in terms


def parse_tempo(text: str) -> Tempo:
    """Tempo from the text of a tempo marking, robust to OCR errors.

    Understands a term (``"Allegro"``, with its default speed from
    :data:`TEMPO_TERMS_BPM`), a metronome mark (``"♩ = 120"``; OCR's ``"J = 120"``,
    ``"q = 96"``, ``"= 120"``; ``"d = 60"`` is a half note, a trailing ``"."`` dots the
    note) or both (``"Allegro ♩ = 132"``: the number wins).

    Parameters
    ----------
    text : str
        The text read.

    Returns
    -------
    Tempo
        ``qpm`` in quarter notes per minute (None when nothing was understood),
        the words, and the beat unit.

    Examples
    --------
    >>> parse_tempo("Allegro")
    Tempo(qpm=130.0, text='Allegro', beat='quarter')
    >>> parse_tempo("d = 60")
    Tempo(qpm=120.0, text='', beat='half')
    >>> parse_tempo("Andante J. = 60")
    Tempo(qpm=90.0, text='Andante', beat='dotted quarter')
    """
    t = _normalize(text)
    qpm, beat, words = None, "quarter", t
    m = None
    for m in _METRONOME.finditer(t):
        pass  # the last metronome mark wins (text before it is the term)
    if m is not None:
        bpm = float(m.group("num").replace(",", "."))
        glyph = m.group("glyph")
        words = t[:m.start()].strip()
        # A glyph glued to the last word: "Allegrod" -> "Allegro" + "d".
        if glyph == "" and words:
            tail = words.split(" ")[-1]
            if _glued_glyph(tail):
                glyph = tail[-1]
        beat = _beat_of(glyph) if glyph else "quarter"
        if BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
            qpm = bpm * BEAT_QUARTERS[beat]
        else:
            beat = "quarter"
    term = None
    kept = []
    for w in words.split(" "):
        found = _match_term(w) if term is None else None
        if found:
            term = found
            kept.append(found)
        elif re.search(r"[A-Za-zÀ-ü]{2,}", w):
            kept.append(w)
    if qpm is None and term is not None:
        qpm = TEMPO_TERMS_BPM[term]
    clean = " ".join(kept).strip(" .,=")
    return Tempo(qpm, clean, beat)


# ---------------------------------------------------------------------------
# Parsing: navigation, volta, lyric
# ---------------------------------------------------------------------------

#: Spellings of each navigation marking with spaces and punctuation removed, lower case.
NAVIGATION_FORMS: dict[str, tuple[str, ...]] = {
    "dacapo_al_fine": ("dcalfine", "dacapoalfine"),
    "dacapo_al_coda": ("dcalcoda", "dacapoalcoda"),
    "dalsegno_al_fine": ("dsalfine", "dalsegnoalfine"),
    "dalsegno_al_coda": ("dsalcoda", "dalsegnoalcoda"),
    "dacapo": ("dc", "dacapo"),
    "dalsegno": ("ds", "dalsegno"),
    "tocoda": ("tocoda",),
    "fine": ("fine",),
}
#: Similarity (difflib ratio) a squashed text needs to a spelling; short spellings
#: (3 letters or fewer) must match exactly.
NAVIGATION_MIN_RATIO = 0.72
#: Squashed texts that look like a marking but are not one ("Coda" heads the coda).
_NOT_NAVIGATION = frozenset({"coda", "segno"})
#: Characters OCR puts for letters of these markings.
_NAV_CONFUSIONS = str.maketrans({"0": "o", "5": "s", "8": "s", "$": "s", "§": "s", "1": "l",
                                 "|": "l", "!": "l", "í": "i", "ì": "i", "é": "e", "è": "e",
                                 "€": "c", "(": "c", "¢": "c"})


def _squash(text: str) -> str:
    s = _normalize(text).lower().translate(_NAV_CONFUSIONS)
    s = re.sub(r"[^a-z]", "", s)
    # "D.G." / "O.C." / "D.5.": the first two letters of D.C./D.S. misread.
    s = re.sub(r"^[do]([cgse])", lambda m: "d" + ("c" if m.group(1) in "cge" else "s"), s)
    return s


def parse_navigation(text: str) -> str | None:
    """Which jump or end marking a text is, robust to OCR errors.

    Parameters
    ----------
    text : str
        The text read ("D.C. al Fine", "D. S. al Coda", "Da Capo", "To Coda", "Fine").

    Returns
    -------
    str or None
        One of ``"dacapo"``, ``"dacapo_al_fine"``, ``"dacapo_al_coda"``, ``"dalsegno"``,
        ``"dalsegno_al_fine"``, ``"dalsegno_al_coda"``, ``"fine"``, ``"tocoda"``, or None.

    Examples
    --------
    >>> parse_navigation("D. C. al fine"), parse_navigation("D.G. al Fine"), parse_navigation("To Goda")
    ('dacapo_al_fine', 'dacapo_al_fine', 'tocoda')
    >>> parse_navigation("Allegro") is None
    True
    """
    s = _squash(text)
    if not s or s in _NOT_NAVIGATION:
        return None
    best, best_ratio = None, 0.0
    for name, forms in NAVIGATION_FORMS.items():
        for form in forms:
            if len(form) <= 3 or len(s) <= 3:
                r = 1.0 if s == form else 0.0
            else:
                r = difflib.SequenceMatcher(None, s, form).ratio()
            if r > best_ratio:
                best, best_ratio = name, r
    return best if best_ratio >= NAVIGATION_MIN_RATIO else None


#: Letters OCR reads for the digits of volta numbers.
_DIGIT_CONFUSIONS = str.maketrans({"l": "1", "I": "1", "|": "1", "!": "1", "i": "1", "]": "1",
                                   "Z": "2", "z": "2", "O": "0", "o": "0", "S": "5", "B": "8"})
#: Volta numbers above this are misreadings.
MAX_VOLTA_NUMBER = 9


def parse_volta(text: str) -> tuple[int, ...]:
    """The endings a volta bracket is for.

    Parameters
    ----------
    text : str
        The text read: ``"1."``, ``"2"``, ``"1, 2."``, ``"1.-3."``.

    Returns
    -------
    tuple of int
        Ending numbers, ascending, no repeats; () when none were read.

    Examples
    --------
    >>> parse_volta("1."), parse_volta("1, 2."), parse_volta("l."), parse_volta("1.-3.")
    ((1,), (1, 2), (1,), (1, 2, 3))
    """
    t = _normalize(text).translate(_DIGIT_CONFUSIONS)
    nums: set[int] = set()
    for m in re.finditer(r"(\d+)\s*\.?\s*(?:[-–—]\s*(\d+))?", t):
        a = int(m.group(1))
        b = int(m.group(2)) if m.group(2) else a
        if a > MAX_VOLTA_NUMBER and b == a and len(m.group(1)) > 1:
            # "12." read for "1, 2." without the comma: split into digits.
            nums.update(int(c) for c in m.group(1) if c != "0")
            continue
        if 1 <= a <= b <= MAX_VOLTA_NUMBER:
            nums.update(range(a, b + 1))
    return tuple(sorted(nums))


#: Characters that mark a syllable as continued (hyphens, dashes) or extended.
_HYPHENS = "-‐‑‒–—~¬"
_EXTENDERS = "_‿…"


def parse_lyric(text: str) -> tuple[str, bool]:
    """A lyric syllable without its hyphen or extender.

    Parameters
    ----------
    text : str
        The text read, e.g. ``"glo-"``, ``"ri"``, ``"a___"``.

    Returns
    -------
    syllable : str
        The syllable, stripped of hyphens, underscores and extenders.
    hyphen : bool
        True when a hyphen follows (the word goes on in the next syllable).

    Examples
    --------
    >>> parse_lyric("glo-"), parse_lyric("a__"), parse_lyric(" ri ")
    (('glo', True), ('a', False), ('ri', False))
    """
    t = _normalize(text)
    t = t.strip(_EXTENDERS + " ")
    hyphen = bool(t) and t[-1] in _HYPHENS
    t = t.strip(_HYPHENS + _EXTENDERS + " ")
    t = re.sub(r"\s*[" + re.escape(_HYPHENS) + r"]\s*$", "", t)
    return t, hyphen
