"""omr/metronome.py: the note of a "♩ = 120" read as music is a metronome mark's,
on small hand-made pages (normalized frame, 10 px per staff space)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from omr import ocr
from omr.graph import Symbol, straight_staff
from omr import metronome
from omr.metronome import metronome_marks

SS = 10.0
TOP = 100  # the staff's top line (y px); its lines at 100, 110, ..., 140


def page(text: str = "= 120"):
    """A staff, and above it a quarter note (head at y 83..91, 1.3 staff spaces
    over the top line, its stem up) with ``text`` printed right of it; under it,
    in the staff, a real note whose stem runs up past the mark's note."""
    staff = straight_staff(0, x0=40, x1=560, top=TOP, staff_space=SS)
    ink = np.zeros((200, 600), np.uint8)
    for k in range(5):
        ink[TOP + int(k * SS), 40:560] = 1
    cv2.ellipse(ink, (206, 87), (6, 4), -20, 0, 360, 1, -1)   # the mark's head
    ink[55:87, 210:212] = 1                                    # its stem
    if text:
        cv2.putText(ink, text, (218, 90), cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1, 1, cv2.LINE_8)
    cv2.ellipse(ink, (306, 125), (6, 4), -20, 0, 360, 1, -1)  # a note in the staff
    ink[70:125, 310:312] = 1                                   # its stem up, past the staff's top
    symbols = [Symbol("notehead_black", (200, 83, 212, 91), 0.8), Symbol("stem", (209, 55, 213, 88), 0.7),
               Symbol("notehead_black", (300, 121, 312, 129), 0.9), Symbol("stem", (309, 70, 313, 126), 0.9)]
    return ink.astype(bool), staff, symbols


@pytest.mark.parametrize("text, end", [("= 120", 260), ("= c. 96", 268)])
def test_a_note_with_an_equals_sign_and_digits_right_of_it_is_a_metronome_mark(text, end):
    """The example photo (Maple Leaf Rag): the two "♩ = 100" over its first staff
    were read as notes, which overfilled the pickup and the first measure."""
    ink, staff, symbols = page(text)
    kept, marks = metronome_marks(symbols, ink, [staff])
    assert kept == symbols[2:]            # the mark's head and stem are gone, the real note stays
    assert [m.beat for m in marks] == ["quarter"]
    x0, y0, x1, y1 = marks[0].box         # the "= 120" after the note, for OCR
    assert 217 <= x0 <= 220 and y0 <= 79 and end - 2 <= x1 <= end + 2 and y1 >= 90
    assert ocr.parse_tempo(marks[0].tempo_text("= 120")).qpm == 120


@pytest.mark.parametrize("more, beat, qpm", [
    ([Symbol("augmentation_dot", (214, 85, 217, 88), 0.6)], "dotted quarter", 90),
    ([Symbol("flag_8th", (211, 55, 217, 70), 0.6)], "eighth", 30),
    ([Symbol("flag_8th", (211, 55, 217, 70), 0.6), Symbol("augmentation_dot", (214, 85, 217, 88), 0.6)],
     "eighth", 30),
])
def test_a_metronome_marks_beat_is_read_from_its_note(more, beat, qpm):
    ink, staff, symbols = page()
    kept, marks = metronome_marks(symbols + more, ink, [staff])
    assert kept == symbols[2:] and [m.beat for m in marks] == [beat]
    assert ocr.parse_tempo(marks[0].tempo_text("= 60")).qpm == qpm
    half = [Symbol("notehead_half", symbols[0].box, 0.8)] + symbols[1:]
    assert [m.beat for m in metronome_marks(half, ink, [staff])[1]] == ["half"]


def test_a_note_outside_the_staff_without_an_equals_sign_stays_music():
    for text in ("", "120", "= ", "-- 120"):
        ink, staff, symbols = page(text)
        assert metronome_marks(symbols, ink, [staff]) == (symbols, []), text


def test_ledger_lines_right_of_a_high_note_are_no_equals_sign():
    # two ledger lines a staff space apart right of the head, a note's head on
    # the upper one: a high note followed by a higher one, not "= 1"
    ink, staff, symbols = page("")
    ink[[80, 90], 216:232] = True
    ink[76:85, 219:229] = True
    ink[60:80, 228:230] = True
    assert metronome_marks(symbols, ink, [staff]) == (symbols, [])


def test_a_metronome_mark_under_the_staff_is_found_too():
    ink, staff, symbols = page("")
    flipped = np.zeros_like(ink)
    flipped[::-1][:] = ink                                    # upside down: the mark under a staff
    flip = lambda b: (b[0], 199 - b[3], b[2], 199 - b[1])    # noqa: E731
    staff = straight_staff(0, x0=40, x1=560, top=199 - 140, staff_space=SS)
    text = np.zeros((200, 600), np.uint8)
    cv2.putText(text, "= 60", (218, 199 - 83 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.55, 1, 1, cv2.LINE_8)
    flipped |= text.astype(bool)
    down = [Symbol(s.cls, flip(s.box), s.score) for s in symbols]
    kept, marks = metronome_marks(down, flipped, [staff])
    assert kept == down[2:] and len(marks) == 1


def test_an_equals_sign_that_blur_joined_into_one_piece_is_parted_by_the_grey_page():
    """A blurred photo (a synthetic page, seed 6, 000028-p1): the ink mask joins
    the sign's two bars into one piece, 1.2 by 0.8 staff spaces; the grey page
    still shows the lighter row between them."""
    ink, staff, symbols = page()
    grey = cv2.GaussianBlur(np.where(ink, 0, 255).astype(np.uint8), (0, 0), 1.0)
    blurred = grey < 235                           # a mask that keeps faint ink
    sign = [p for p in metronome._components(blurred, 215, 75, 232, 95)]
    assert len(sign) == 1, "the mask keeps the sign's bars apart: no test"
    assert metronome_marks(symbols, blurred, [staff]) == (symbols, [])
    kept, marks = metronome_marks(symbols, blurred, [staff], grey)
    assert kept == symbols[2:] and [m.beat for m in marks] == ["quarter"]


def test_a_hollow_glyph_is_no_equals_sign():
    # a whole note's head: dark above and below its hollow, as an equals sign, but
    # dark at its sides too
    grey = np.full((40, 60), 255, np.uint8)
    cv2.ellipse(grey, (30, 20), (9, 5), 0, 0, 360, 0, 3)
    grey = cv2.GaussianBlur(grey, (0, 0), 0.8)
    ys, xs = np.nonzero(grey < 200)
    piece = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    assert metronome._split_bars(grey, piece, SS) == []
    bars = np.full((40, 60), 255, np.uint8)       # the same size as an equals sign
    bars[piece[1]:piece[1] + 3, piece[0]:piece[2]] = 0
    bars[piece[3] - 3:piece[3], piece[0]:piece[2]] = 0
    assert len(metronome._split_bars(cv2.GaussianBlur(bars, (0, 0), 0.8), piece, SS)) == 2
    # a "3": dark at its right end between its strokes
    three = bars.copy()
    three[piece[1]:piece[3], piece[2] - 4:piece[2]] = 0
    assert metronome._split_bars(cv2.GaussianBlur(three, (0, 0), 0.8), piece, SS) == []
    # a light row near the top only (a seed-3 photo: a measure number's italic "1",
    # its flag over its stem): no bar is that thin beside one that thick
    one = np.full((40, 60), 255, np.uint8)
    one[12:14, 20:30] = 0
    one[15:25, 20:30] = 0
    assert metronome._split_bars(cv2.GaussianBlur(one, (0, 0), 0.6), (20, 12, 30, 25), SS) == []
    # a slanted stroke (the resent seed-3 photo: that "1" 0.6 by 1.2 staff spaces,
    # its foot a little darker): a few columns dark in each row, no bar
    slant = np.full((40, 60), 255, np.uint8)
    for r in range(12):
        slant[10 + r, 24 - r // 3:26 - r // 3] = 0 if not 4 <= r <= 6 else 120
    assert metronome._split_bars(cv2.GaussianBlur(slant, (0, 0), 0.6), (20, 10, 27, 22), SS) == []
    one[15:20, 20:30] = 255                       # ... which in the middle parts two bars
    one[20:22, 20:30] = 255
    assert len(metronome._split_bars(cv2.GaussianBlur(one, (0, 0), 0.6), (20, 12, 30, 25), SS)) == 2
