"""Metronome marks printed with a note glyph: "♩ = 100" over a staff.

The note of a metronome mark looks like any other note to the detector: a head
and a stem above the staff, sometimes a flag or a dot. Read as music it adds a
note to its measure, which then overfills and is cut. What tells it apart is
what is printed right of it: an equals sign (two short bars, one over the other,
closer together than ledger lines) and then the digits of the tempo.
:func:`metronome_marks` finds such notes in the page's ink, takes their head,
stem, flag and dot out of the music and gives back each mark as a
:class:`MetronomeMark`: the note's beat, read from its glyph, and the box of the
"= 100" after it, for OCR to read the number (OCR reads a note glyph as
letters: "oe = 100" would be a whole note's). :meth:`MetronomeMark.tempo_text`
joins the two into words that :func:`omr.ocr.parse_tempo` reads.

All sizes are in staff spaces of the staff nearest the note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from omr import vocab
from omr.graph import Symbol

#: The note's head lies outside its staff: at least this many half staff spaces
#: beyond the outer line (a metronome mark is never printed inside a staff).
OUTSIDE_HALF_SPACES = 0.5
#: The equals sign starts at most this far right of the head's right edge (room
#: for a flag or a dot between them).
EQUALS_REACH_SS = 2.5
#: ... with its middle at most this far above and below the head's middle (the
#: sign stands at the height of the digits, which start at the head's foot).
EQUALS_RISE_SS = (1.8, 0.6)
#: Each bar of the sign: its width, and at most this thick.
EQUALS_BAR_WIDTH_SS = (0.5, 1.8)
EQUALS_BAR_THICK_SS = 0.45
#: The two bars' middles lie this far apart, one over the other (ledger lines lie
#: a whole staff space apart), overlapping by this share of the narrower one.
EQUALS_BAR_GAP_SS = (0.25, 0.8)
EQUALS_BAR_OVERLAP = 0.6
#: A blurred sign is one piece of ink up to this tall. The grey image parts its
#: bars: down its middle columns (the middle ``1 - 2 * SPLIT_SIDE`` of its width)
#: a row lighter than the darkest row above it and the darkest below it by at
#: least ``SPLIT_MIN_DIP`` of the contrast (paper, a high percentile around the
#: piece, against its darkest row; at least ``SPLIT_MIN_CONTRAST`` grey levels),
#: whose ends are each no darker than its middle (by ``SPLIT_END_TOLERANCE`` of
#: the contrast: an "o" is dark at its sides, a "3" at one), in the middle third
#: of the piece's height (a "1"'s flag is no bar).
MERGED_EQUALS_MAX_SS = 1.2
SPLIT_SIDE = 0.2
SPLIT_MIN_DIP = 0.2
SPLIT_PAPER_PERCENTILE = 95
SPLIT_MIN_CONTRAST = 40.0
SPLIT_END_TOLERANCE = 0.15
SPLIT_ROW_RANGE = (1 / 3, 2 / 3)
#: ... and each part is a bar: in its darkest row, at least this share of the
#: piece's columns is darker than halfway from the ink to the paper (a slanted
#: stroke, an italic "1", darkens a few columns in each row).
SPLIT_BAR_ROW_INK = 0.6
#: The first digit (or the "c" of "c. 100") starts at most this far right of the
#: sign, is this tall, and reaches above and below the sign; the characters after
#: it follow within ``DIGIT_SPACING_SS``.
DIGIT_REACH_SS = 1.5
DIGIT_HEIGHT_SS = (0.6, 3.0)
DIGIT_SPACING_SS = 0.8
#: How far right of the head's right edge the ink is looked at: the sign's reach
#: and width, the first digit's reach, and room for three more characters.
SEARCH_REACH_SS = (EQUALS_REACH_SS + EQUALS_BAR_WIDTH_SS[1] + DIGIT_REACH_SS
                   + 4 * DIGIT_SPACING_SS + 3 * DIGIT_HEIGHT_SS[0])
#: The note's stem, flag and dot: within this far of the head (a stem is about
#: 3.5 staff spaces long) and not reaching into the staff by more than
#: ``STEM_INTO_STAFF_SS``.
GLYPH_REACH_SS = 4.5
STEM_INTO_STAFF_SS = 0.3
#: ... and whose middle lies at most this far left of the head's left edge.
GLYPH_LEFT_SS = 0.5
#: Roles of the symbols a metronome mark's note glyph is made of.
GLYPH_ROLES = ("notehead", "stem", "flag", "dot")
#: The beat of a mark's note by its head's class (``notehead_half``, or its cue
#: size; a flag makes it an eighth, a dot dotted), and the note symbol that
#: :func:`omr.ocr.parse_tempo` reads as that beat.
BEAT_OF_HEAD = {"black": "quarter", "half": "half", "whole": "whole"}
BEAT_SYMBOLS = {"quarter": "♩", "half": "𝅗𝅥", "whole": "o", "eighth": "♪"}


@dataclass
class MetronomeMark:
    """A metronome mark found on the page: the beat its note stands for
    (``"quarter"``, ``"dotted quarter"``, ``"half"``, ``"eighth"``...) and the box
    (normalized px) of what follows the note: the equals sign and the number."""

    beat: str
    box: tuple[float, float, float, float]

    def tempo_text(self, number_read: str) -> str:
        """The mark in words, from what OCR read in :attr:`box`.

        >>> MetronomeMark("dotted quarter", (0, 0, 1, 1)).tempo_text("= 60")
        '♩. = 60'
        """
        dotted = self.beat.startswith("dotted ")
        return BEAT_SYMBOLS[self.beat.removeprefix("dotted ")] + ("." if dotted else "") + " " + number_read


def _components(ink, x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int, int, int]]:
    """Boxes (x0, y0, x1, y1; page px, exclusive ends) of the connected pieces of
    ink in a window of the page, those cut by the window's edge left out."""
    import cv2

    h, w = ink.shape
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return []
    window = np.ascontiguousarray(ink[y0:y1, x0:x1], dtype=np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(window, connectivity=8)
    out = []
    for left, top, cw, ch, _ in stats[1:n]:
        if left == 0 or top == 0 or left + cw == window.shape[1] or top + ch == window.shape[0]:
            continue  # cut by the window: not a whole glyph
        out.append((x0 + int(left), y0 + int(top), x0 + int(left + cw), y0 + int(top + ch)))
    return out


def _split_bars(grey, piece, ss: float) -> list[tuple[int, int, int, int]]:
    """The two bars of an equals sign that blur joined into one piece of ink
    (``piece``: its box), parted by the grey image (see ``MERGED_EQUALS_MAX_SS``);
    none where it shows no two."""
    x0, y0, x1, y1 = piece
    side = max(1, int(round(SPLIT_SIDE * (x1 - x0))))
    box = np.asarray(grey[y0:y1, x0:x1], np.float64)
    if box.shape[0] < 3 or box.shape[1] < 2 * side + 1:
        return []
    margin = int(round(0.5 * ss))
    around = np.asarray(grey[max(0, y0 - margin):y1 + margin, max(0, x0 - margin):x1 + margin], np.float64)
    profile = box[:, side:-side].mean(axis=1)
    paper = np.percentile(around, SPLIT_PAPER_PERCENTILE)
    contrast = paper - profile.min()
    if contrast < SPLIT_MIN_CONTRAST:
        return []
    halfway = 0.5 * (paper + box.min())
    # how much lighter each row is than the darkest rows above and below it
    dips = np.array([profile[k] - max(profile[:k].min(), profile[k + 1:].min()) for k in range(1, len(profile) - 1)])
    lightest = np.flatnonzero(dips >= dips.max())
    k = 1 + int(lightest[len(lightest) // 2])  # the middle row of a gap several rows high
    deep = dips[k - 1] >= SPLIT_MIN_DIP * contrast
    open_ends = min(box[k, :side].mean(), box[k, -side:].mean()) >= profile[k] - SPLIT_END_TOLERANCE * contrast
    middle = SPLIT_ROW_RANGE[0] * (len(profile) - 1) <= k <= SPLIT_ROW_RANGE[1] * (len(profile) - 1)
    if not (deep and open_ends and middle):
        return []
    for part in (box[:k], box[k + 1:]):
        if (part[int(np.argmin(part.mean(axis=1)))] < halfway).mean() < SPLIT_BAR_ROW_INK:
            return []
    return [(x0, y0, x1, y0 + k), (x0, y0 + k + 1, x1, y1)]


def _equals_and_digits(ink, head: Symbol, ss: float, grey=None) -> tuple[float, float, float, float] | None:
    """The box of the "= 123" right of a head, or None where no equals sign with
    a digit after it is printed there (``grey``: the page, to part a blurred
    sign's bars)."""
    cy = 0.5 * (head.box[1] + head.box[3])
    right = head.box[2]
    pieces = _components(ink, int(right), int(cy - (EQUALS_RISE_SS[0] + DIGIT_HEIGHT_SS[1]) * ss),
                         int(right + SEARCH_REACH_SS * ss), int(cy + (EQUALS_RISE_SS[1] + DIGIT_HEIGHT_SS[1]) * ss))

    def bar(p, thickest: float = EQUALS_BAR_THICK_SS) -> bool:
        width, thick = (p[2] - p[0]) / ss, (p[3] - p[1]) / ss
        return (EQUALS_BAR_WIDTH_SS[0] <= width <= EQUALS_BAR_WIDTH_SS[1] and thick <= thickest
                and p[0] - right <= EQUALS_REACH_SS * ss)

    bars = [p for p in pieces if bar(p)]
    if grey is not None:
        for p in pieces:
            if not bar(p) and bar(p, MERGED_EQUALS_MAX_SS):
                bars += _split_bars(grey, p, ss)
    bars.sort(key=lambda p: p[1])
    for i, upper in enumerate(bars):
        for lower in bars[i + 1:]:
            gap = (0.5 * (lower[1] + lower[3]) - 0.5 * (upper[1] + upper[3])) / ss
            overlap = min(upper[2], lower[2]) - max(upper[0], lower[0])
            narrower = min(upper[2] - upper[0], lower[2] - lower[0])
            middle = 0.5 * (upper[1] + lower[3])
            if not (EQUALS_BAR_GAP_SS[0] <= gap <= EQUALS_BAR_GAP_SS[1]
                    and overlap >= EQUALS_BAR_OVERLAP * narrower
                    and -EQUALS_RISE_SS[0] * ss <= middle - cy <= EQUALS_RISE_SS[1] * ss):
                continue
            digits = _digits(pieces, (min(upper[0], lower[0]), upper[1], max(upper[2], lower[2]), lower[3]), ss)
            if digits:
                return (float(min(upper[0], lower[0])), float(min(p[1] for p in digits)),
                        float(max(p[2] for p in digits)), float(max(p[3] for p in digits)))
    return None


def _digits(pieces, sign, ss: float) -> list:
    """The boxes of the digits after an equals sign (``sign``: its box), left to
    right; none where no digit follows it."""

    def first_digit(p) -> bool:
        height = (p[3] - p[1]) / ss
        return (0 <= p[0] - sign[2] <= DIGIT_REACH_SS * ss and DIGIT_HEIGHT_SS[0] <= height <= DIGIT_HEIGHT_SS[1]
                and p[1] <= sign[1] and p[3] >= sign[3])

    first = [p for p in pieces if first_digit(p)]
    if not first:
        return []
    digits = [min(first, key=lambda p: p[0])]
    top, bottom = digits[0][1] - DIGIT_SPACING_SS * ss, digits[0][3] + DIGIT_SPACING_SS * ss

    def follows(p, end: int) -> bool:  # the next character on the line (a "." too)
        return 0 <= p[0] - (end - 1) <= DIGIT_SPACING_SS * ss and p[1] >= top and p[3] <= bottom

    while True:
        end = max(p[2] for p in digits)
        more = [p for p in pieces if p not in digits and follows(p, end)]
        if not more:
            return digits
        digits.append(min(more, key=lambda p: p[0]))


def _glyph_around(head: Symbol, symbols: Sequence[Symbol], staff, *, above: bool, sign_left: float) -> list[Symbol]:
    """The stem, flag and dot of a metronome mark's note (``head``), among
    ``symbols``: between the head and the equals sign (``sign_left``), within
    ``GLYPH_REACH_SS`` of the head, and out of the staff (``above`` it or below)."""
    ss = staff.staff_space
    x = 0.5 * (head.box[0] + head.box[2])
    edge = staff.y_top(x) + STEM_INTO_STAFF_SS * ss if above else staff.y_bottom(x) - STEM_INTO_STAFF_SS * ss

    def of_glyph(s: Symbol) -> bool:
        if s is head or vocab.CLASSES[s.cls].role not in GLYPH_ROLES:
            return False
        sx = 0.5 * (s.box[0] + s.box[2])
        outside = s.box[3] <= edge if above else s.box[1] >= edge
        beside = head.box[0] - GLYPH_LEFT_SS * ss <= sx <= sign_left
        near = s.box[1] <= head.box[3] + GLYPH_REACH_SS * ss and s.box[3] >= head.box[1] - GLYPH_REACH_SS * ss
        return outside and beside and near

    return [s for s in symbols if of_glyph(s)]


def _beat(glyph: Sequence[Symbol]) -> str:
    """The beat that a mark's note glyph (its head first) stands for."""
    kind = glyph[0].cls.removeprefix("notehead_").removesuffix("_cue")
    roles = {vocab.CLASSES[s.cls].role for s in glyph[1:]}
    beat = "eighth" if "flag" in roles else BEAT_OF_HEAD.get(kind, "quarter")
    return f"dotted {beat}" if "dot" in roles and beat in ("quarter", "half") else beat


def metronome_marks(symbols: list[Symbol], ink, staves, grey=None) -> tuple[list[Symbol], list[MetronomeMark]]:
    """Find the metronome marks whose note the detector read as music.

    Parameters
    ----------
    symbols : list of Symbol
        What the parser will read (normalized page px).
    ink : np.ndarray of bool
        The page's ink mask (:func:`omr.page.binarize`; the mask without staff
        lines has lost the equals sign's bars with the lines).
    staves : sequence of omr.staff.Staff
    grey : np.ndarray of uint8, optional
        The page image the mask was made from: where blur joined an equals
        sign's bars into one piece of ink, it parts them.

    Returns
    -------
    (symbols, marks)
        ``symbols`` without each such note's head, stem, flag and dot, and the
        :class:`MetronomeMark` of each.

    Examples
    --------
    >>> metronome_marks([], np.zeros((10, 10), bool), [])
    ([], [])
    """
    if not staves or not symbols:
        return symbols, []
    heads = [s for s in symbols if vocab.CLASSES[s.cls].role == "notehead"]
    if not heads:
        return symbols, []
    cx = np.array([0.5 * (h.box[0] + h.box[2]) for h in heads])
    cy = np.array([0.5 * (h.box[1] + h.box[3]) for h in heads])
    # each head's staff: the one whose middle line runs nearest it (all heads at once)
    nearest = np.abs(np.stack([s.line_y(2, cx) for s in staves]) - cy).argmin(axis=0)
    drop: set[int] = set()
    marks: list[MetronomeMark] = []
    for head, x, y, k in zip(heads, cx, cy, nearest):
        if id(head) in drop:
            continue
        staff = staves[int(k)]
        position = float(staff.position(x, y))
        above = position >= 8 + OUTSIDE_HALF_SPACES
        if not above and position > -OUTSIDE_HALF_SPACES:
            continue
        ss = staff.staff_space
        found = _equals_and_digits(ink, head, ss, grey)
        if found is None:
            continue
        glyph = [head] + _glyph_around(head, symbols, staff, above=above, sign_left=found[0])
        drop.update(id(s) for s in glyph)
        marks.append(MetronomeMark(_beat(glyph), found))
    return [s for s in symbols if id(s) not in drop], marks
