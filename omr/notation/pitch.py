"""Pitch from staff position, clef, key signature and accidentals.

A staff position counts half staff spaces from the bottom line (0 = bottom line,
8 = top line; see :meth:`omr.staff.Staff.position`). A *diatonic number* counts
white keys: ``7 * octave + step`` with C = 0 ... B = 6, so middle C (C4) is 28.
A clef fixes the diatonic number of the bottom line; everything else is counting.

Examples
--------
>>> clef = CLEFS["clef_g"]
>>> spell(clef.bottom_line + 3)          # the second space of a treble staff
('A', 4)
>>> state = MeasureAccidentals(key_fifths=2)     # D major: F#, C#
>>> state.alter("F", 5)
1
>>> state.set("F", 5, 0)                          # a natural on the top line
>>> state.alter("F", 5), state.alter("F", 4)      # lasts for the measure, that octave
(0, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

STEPS = "CDEFGAB"
#: Order in which key signatures add sharps; flats go the other way.
SHARP_ORDER = "FCGDAEB"
FLAT_ORDER = "BEADGCF"


@dataclass(frozen=True)
class ClefInfo:
    """How a clef class reads: music21 clef sign, line, octave change, and the
    diatonic number of the staff's bottom line (sounding, as MusicXML encodes)."""

    sign: str
    line: int
    octave_change: int
    bottom_line: int


def _dn(step: str, octave: int) -> int:
    return 7 * octave + STEPS.index(step)


#: Clef class → reading. C clefs are alto here; :func:`clef_for` moves them to the
#: line they sit on.
CLEFS: dict[str, ClefInfo] = {
    "clef_g": ClefInfo("G", 2, 0, _dn("E", 4)),
    "clef_g_8vb": ClefInfo("G", 2, -1, _dn("E", 3)),
    "clef_g_8va": ClefInfo("G", 2, 1, _dn("E", 5)),
    "clef_f": ClefInfo("F", 4, 0, _dn("G", 2)),
    "clef_f_8vb": ClefInfo("F", 4, -1, _dn("G", 1)),
    "clef_f_8va": ClefInfo("F", 4, 1, _dn("G", 3)),
    "clef_c": ClefInfo("C", 3, 0, _dn("F", 3)),
    "clef_percussion": ClefInfo("percussion", 3, 0, _dn("F", 3)),
}


#: A G or F clef counts as moved to another line only when its centre is this many
#: half staff spaces or more from the usual one.
CLEF_MOVED_HALF_SPACES = 1.5


def clef_for(cls: str, position: int | None = None) -> ClefInfo:
    """The clef of class ``cls`` whose centre sits at staff ``position``. A clef can
    sit on other lines than usual: a C clef's centre marks its line (4 = alto, 6 =
    tenor, 2 = mezzo, 0 = soprano), an F clef's centre is a space below its line (5:
    bass, 3: baritone), a G clef's a space above (4: treble, 2: French violin); the 8
    of an octave clef moves its centre half a space (3: treble 8 below)."""
    info = CLEFS[cls]
    if position is None or info.sign not in "GFC" or len(info.sign) != 1:
        return info
    offset = {"C": 0, "F": 1, "G": -2}[info.sign]
    # the 8 of an octave clef, below or above, moves its centre half a staff space
    usual_centre = 2 * (info.line - 1) - offset + info.octave_change
    if info.sign != "C" and abs(position - usual_centre) < CLEF_MOVED_HALF_SPACES:
        return info  # a clef-change (small) glyph sits a little off its usual centre
    line = int(min(5, max(1, round((position + offset) / 2.0) + 1)))  # 1 = bottom line
    if line == info.line:
        return info
    # the clef's note sits on that line
    anchor = {"C": _dn("C", 4), "F": _dn("F", 3), "G": _dn("G", 4)}[info.sign] + 7 * info.octave_change
    return ClefInfo(info.sign, line, info.octave_change, anchor - 2 * (line - 1))


def spell(diatonic: int) -> tuple[str, int]:
    """(step, octave) of a diatonic number. ``spell(28) == ('C', 4)``."""
    return STEPS[diatonic % 7], diatonic // 7


def key_alterations(fifths: int) -> dict[str, int]:
    """Step → alteration of a key signature with ``fifths`` sharps (negative: flats)."""
    if fifths >= 0:
        return {s: 1 for s in SHARP_ORDER[:min(fifths, 7)]}
    return {s: -1 for s in FLAT_ORDER[:min(-fifths, 7)]}


#: Accidental class → alteration in semitones.
ACCIDENTAL_ALTER = {
    "accidental_sharp": 1, "accidental_flat": -1, "accidental_natural": 0,
    "accidental_double_sharp": 2, "accidental_double_flat": -2,
}


@dataclass
class MeasureAccidentals:
    """Alterations in force inside one measure of one staff: the key signature's,
    overridden per (step, octave) by accidentals printed earlier in the measure."""

    key_fifths: int = 0
    printed: dict[tuple[str, int], int] = field(default_factory=dict)

    def alter(self, step: str, octave: int) -> int:
        if (step, octave) in self.printed:
            return self.printed[(step, octave)]
        return key_alterations(self.key_fifths).get(step, 0)

    def set(self, step: str, octave: int, alter: int) -> None:
        self.printed[(step, octave)] = alter

    def new_measure(self) -> None:
        self.printed.clear()


def pitch_at(position: int, clef: ClefInfo, state: MeasureAccidentals,
             accidental: str | None = None) -> tuple[str, int, int]:
    """(step, octave, alter) of a notehead at staff ``position`` under ``clef``; a
    printed ``accidental`` (class name) sets the alteration for the rest of the
    measure."""
    step, octave = spell(clef.bottom_line + int(position))
    if accidental in ACCIDENTAL_ALTER:
        a = ACCIDENTAL_ALTER[accidental]
        state.set(step, octave, a)
        return step, octave, a
    return step, octave, state.alter(step, octave)


#: A key signature's first sharp (F) or flat (B) stands within the staff, between
#: these positions (half staff spaces, 0 = bottom line, 8 = top line; the F of a
#: treble key sits on the top line, that of a tenor key in the lowest space), to
#: ``KEY_POSITION_TOLERANCE`` (the detected box may sit a step off).
KEY_FIRST_RANGE = (0, 9)
KEY_POSITION_TOLERANCE = 1


def key_starts_right(classes: list[str], positions: list[int | None], clef: ClefInfo) -> bool:
    """Whether a group of key accidentals (left to right) begins where a key signature
    under ``clef`` begins: its first sharp on an F, its first flat on a B, inside the
    staff (``KEY_FIRST_RANGE``). An editor's flat in brackets above the staff, or a
    note's sharp on a C that the detector took for a key, begins no key change.

    >>> treble = CLEFS["clef_g"]
    >>> key_starts_right(["key_flat", "key_flat"], [4, 7], treble)   # B4, E5
    True
    >>> key_starts_right(["key_flat"], [11], treble)                   # B5, above the staff
    False
    >>> key_starts_right(["key_sharp"], [7], treble)                   # F5, read a step low
    True
    >>> key_starts_right(["key_sharp"], [5], treble)                   # C5: no key starts there
    False
    >>> key_starts_right(["key_natural"], [4], treble)                 # a cancellation: any
    True
    """
    for cls, p in zip(classes, positions):
        if cls not in ("key_sharp", "key_flat"):
            continue
        if p is None:
            return True
        first = SHARP_ORDER[0] if cls == "key_sharp" else FLAT_ORDER[0]
        lo, hi = KEY_FIRST_RANGE
        return any(lo <= q <= hi and spell(clef.bottom_line + q)[0] == first
                   for q in range(p - KEY_POSITION_TOLERANCE, p + KEY_POSITION_TOLERANCE + 1))
    return True


def fifths_from_key_symbols(classes: list[str]) -> int:
    """Key signature from the classes of its printed accidentals: sharps count up,
    flats down; naturals alone (a cancellation) mean no key accidentals."""
    sharps = sum(c == "key_sharp" for c in classes)
    flats = sum(c == "key_flat" for c in classes)
    if sharps >= flats:
        return min(sharps, 7)
    return -min(flats, 7)
