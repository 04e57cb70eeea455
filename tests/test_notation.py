"""Notation rules, one small hand-engraved score each: Symbol lists → build_graph →
score_from_graphs → a music21 Score and a Report.

The symbols are made by the helpers below in the normalized frame (10 px per staff
space), with the sizes verovio gives them on synth pages (measured on
/work/data/test records and rescaled from ~16 px per staff space): a treble clef
spans 1.3 staff spaces above the staff to 1.7 below, key sharps are 0.8 x 2.8
staff spaces centred on their line or space and 1 staff space apart, time digits
fill half the staff each, a barline spans the staff, and so on.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction

import music21
import pytest
from music21 import bar, spanner

from omr import export
from omr.graph import Symbol, build_graph, straight_staff
from omr.notation.repeats import unfold_measures
from omr.score import INFERRED_COLOUR, score_from_graphs

SS = 10.0
TOP = 100.0
X0 = 20.0
HEAD_H = 10.6
HEAD_W = {"notehead_black": 12.6, "notehead_half": 12.5, "notehead_whole": 16.2}
STEM_W, STEM_LEN, STEM_GAP = 0.8, 35.0, 1.5
BEAM_T, BEAM_GAP = 5.0, 7.5

#: Staff positions of key signature accidentals on a treble staff (bass: 2 lower,
#: alto: 1 lower).
SHARP_POSITIONS = [8, 5, 9, 6, 3, 7, 4]
FLAT_POSITIONS = [4, 7, 3, 6, 2, 5, 1]
CLEF_SHIFT = {"clef_g": 0, "clef_f": -2, "clef_c": -1}
#: Accidental glyphs: width, height, where the note is (fraction of the height from the top).
ACCIDENTALS = {"sharp": ("accidental_sharp", 7.8, 27.7, 0.5), "flat": ("accidental_flat", 8.0, 25.8, 0.7),
               "natural": ("accidental_natural", 6.3, 28.0, 0.5),
               "double_sharp": ("accidental_double_sharp", 10.3, 9.6, 0.5)}
KINDS = {  # note kind → notehead, stemmed, flag, quarter notes (for spacing)
    "w": ("notehead_whole", False, None, 4), "h": ("notehead_half", True, None, 2),
    "q": ("notehead_black", True, None, 1), "8": ("notehead_black", True, "flag_8th", 0.5),
    "16": ("notehead_black", True, "flag_16th", 0.25),
}
RESTS = {  # rest class → box relative to (x, top), quarter notes
    "rest_breve": ((0, 9.8, 5.1, 20.6), 8), "rest_whole": ((0, 10.5, 13.2, 15.5), 4), "rest_half": ((0, 15.1, 13.0, 20.5), 2),
    "rest_quarter": ((0, 5.6, 12.2, 36.0), 1), "rest_8th": ((0, 11.0, 10.3, 28.0), 0.5),
}
BARLINES = {"barline_single": 1.3, "barline_double": 6.5, "barline_final": 10.6,
            "barline_repeat_start": 16.0, "barline_repeat_end": 16.0}


#: Stems point up unless a note asks otherwise: a one-voice melody whose stems go
#: both ways is misread in a short system (see test_one_voice_with_stems_both_ways).
DEFAULT_STEM = "up"


def spacing(quarters: float) -> float:
    """Horizontal room a note of this length takes (px), about like verovio."""
    return 14.0 + 20.0 * float(quarters) ** 0.6


@dataclass
class Note:
    heads: list[Symbol]
    stem: Symbol | None
    up: bool

    @property
    def head(self) -> Symbol:
        return self.heads[0]


class Staff:
    """The symbols of one staff of a system, written left to right with a cursor."""

    def __init__(self, top: float = TOP, clef: str | None = "clef_g", fifths: int = 0,
                 time: tuple[int, int] | None = (4, 4)):
        self.top = top
        self.symbols: list[Symbol] = []
        self.x = X0 + 4
        self.clef_cls = clef or "clef_g"
        if clef:
            self.clef(clef)
        if fifths:
            self.key(fifths)
        if time:
            self.time(*time)
        self.x += 10

    # -- geometry
    def y(self, p: float) -> float:
        return self.top + 4 * SS - p * SS / 2

    def add(self, cls: str, box, text: str = "") -> Symbol:
        s = Symbol(cls, tuple(float(v) for v in box), 1.0, text)
        self.symbols.append(s)
        return s

    # -- signatures
    def clef(self, cls: str) -> Symbol:
        t = self.top
        box = {"clef_g": (0, -12.8, 25.9, 56.7), "clef_f": (0, 1.8, 31.1, 30.3),
               "clef_c": (0, -0.1, 24.2, 40.1)}[cls]
        s = self.add(cls, (self.x + box[0], t + box[1], self.x + box[2], t + box[3]))
        self.clef_cls = cls
        self.x = s.box[2] + 8
        return s

    def key(self, fifths: int) -> None:
        positions = SHARP_POSITIONS if fifths > 0 else FLAT_POSITIONS
        shift = CLEF_SHIFT[self.clef_cls]
        for i in range(abs(fifths)):
            y = self.y(positions[i] + shift)
            if fifths > 0:
                self.add("key_sharp", (self.x, y - 13.85, self.x + 7.9, y + 13.85))
            else:
                self.add("key_flat", (self.x, y - 0.7 * 27.2, self.x + 8.3, y + 0.3 * 27.2))
            self.x += 9.9
        self.x += 6

    def time(self, num: int, den: int) -> None:
        t = self.top
        self.add(f"time_{num}", (self.x, t + 0.5, self.x + 15, t + 20.5))
        self.add(f"time_{den}", (self.x, t + 20.4, self.x + 15.5, t + 40.5))
        self.x += 24

    # -- barlines
    def barline(self, cls: str = "barline_single") -> Symbol:
        self.x += 4
        s = self.add(cls, (self.x, self.top + 0.5, self.x + BARLINES[cls], self.top + 40.5))
        self.x = s.box[2] + 12
        return s

    # -- notes and rests
    def note(self, p: float, kind: str = "q", *, stem: str | None = None, acc: str | None = None,
             dots: int = 0, chord: tuple = (), flag: bool = True, x: float | None = None,
             advance: bool = True) -> Note:
        cls, stemmed, flag_cls, quarters = KINDS[kind]
        if x is not None:
            self.x = x
        if acc:
            acc_cls, w, h, anchor = ACCIDENTALS[acc]
            y = self.y(p)
            self.add(acc_cls, (self.x, y - anchor * h, self.x + w, y + (1 - anchor) * h))
            self.x += w + 2.5
        ps = [p, *chord]
        heads = []
        for q in ps:
            y = self.y(q)
            heads.append(self.add(cls, (self.x, y - HEAD_H / 2, self.x + HEAD_W[cls], y + HEAD_H / 2)))
        up = (stem or DEFAULT_STEM) == "up"
        st = None
        if stemmed:
            hi, lo = self.y(max(ps)), self.y(min(ps))
            if up:
                x1 = heads[0].box[2]
                st = self.add("stem", (x1 - STEM_W, hi - STEM_LEN, x1, lo - STEM_GAP))
            else:
                x0 = heads[0].box[0]
                st = self.add("stem", (x0, hi + STEM_GAP, x0 + STEM_W, lo + STEM_LEN))
            if flag and flag_cls:
                if up:
                    self.add(flag_cls, (st.box[0], st.box[1], st.box[0] + 10.5, st.box[1] + 32.7))
                else:
                    self.add(flag_cls, (st.box[0], st.box[3] - 32.7, st.box[0] + 10.5, st.box[3]))
        for i in range(dots):
            y = self.y(p + 1 if p % 2 == 0 else p)       # a dot sits in a space
            dx = heads[0].box[2] + 3 + 6 * i
            self.add("augmentation_dot", (dx, y - 2, dx + 4, y + 2))
        n = Note(heads, st, up)
        if advance:
            self.x = heads[0].box[0] + spacing(quarters * (1.5 if dots else 1))
        return n

    def rest(self, cls: str, *, dots: int = 0, x: float | None = None) -> Symbol:
        if x is not None:
            self.x = x
        (a, b, c, d), quarters = RESTS[cls]
        s = self.add(cls, (self.x + a, self.top + b, self.x + c, self.top + d))
        for i in range(dots):
            dx = s.box[2] + 3 + 6 * i
            self.add("augmentation_dot", (dx, self.y(5) - 2, dx + 4, self.y(5) + 2))
        self.x = s.box[0] + spacing(quarters)
        return s

    def beamed(self, ps, kind: str = "8", *, up: bool = True, step: float = 26.0,
               tuplet: str | None = None, accs: dict | None = None) -> list[Note]:
        """A beamed group of equal notes (eighths or sixteenths), stems ``up`` or down,
        a level beam; ``tuplet`` prints a tuplet number over it."""
        notes = []
        for i, p in enumerate(ps):
            acc = (accs or {}).get(i)
            notes.append(self.note(p, kind, stem="up" if up else "down", flag=False, acc=acc, advance=False))
            self.x = notes[-1].head.box[0] + step
        self._beam(notes, levels=1 if kind == "8" else 2, up=up)
        if tuplet is not None:                    # "" : a number printed but not read
            self._tuplet(notes, tuplet, up)
        self.x += 6
        return notes

    def _beam(self, notes: list[Note], levels: int, up: bool) -> None:
        stems = [n.stem for n in notes]
        if up:
            tip = min(self.y(max(n_p)) for n_p in ([self._pos(h) for h in n.heads] for n in notes)) - STEM_LEN
            for n in notes:
                b = n.stem.box
                n.stem.box = (b[0], tip, b[2], b[3])
        else:
            tip = max(self.y(min(self._pos(h) for h in n.heads)) for n in notes) + STEM_LEN
            for n in notes:
                b = n.stem.box
                n.stem.box = (b[0], b[1], b[2], tip)
        for level in range(levels):
            if up:
                y0 = tip + level * BEAM_GAP
            else:
                y0 = tip - BEAM_T - level * BEAM_GAP
            self.add("beam", (stems[0].box[0], y0, stems[-1].box[2], y0 + BEAM_T))

    def _pos(self, head: Symbol) -> float:
        return (self.top + 4 * SS - 0.5 * (head.box[1] + head.box[3])) / (SS / 2)

    def _tuplet(self, notes: list[Note], text: str, up: bool) -> Symbol:
        mid = 0.5 * (notes[0].head.box[0] + notes[-1].head.box[2])
        if up:
            y1 = min(n.stem.box[1] for n in notes) - 3
            return self.add("tuplet_number", (mid - 6.5, y1 - 19.5, mid + 6.5, y1), text=text)
        y0 = max(n.stem.box[3] for n in notes) + 3
        return self.add("tuplet_number", (mid - 6.5, y0, mid + 6.5, y0 + 19.5), text=text)

    def dotted_eighth_sixteenth(self, p1: float, p2: float) -> list[Note]:
        """A dotted eighth beamed to a sixteenth (a secondary beam hook on the 16th)."""
        a = self.note(p1, "8", stem="up", flag=False, dots=1, advance=False)
        self.x = a.head.box[0] + 34
        b = self.note(p2, "16", stem="up", flag=False, advance=False)
        self._beam([a, b], levels=1, up=True)
        tip = a.stem.box[1]
        self.add("beam", (b.stem.box[0] - 10, tip + BEAM_GAP, b.stem.box[2], tip + BEAM_GAP + BEAM_T))
        self.x = b.head.box[0] + 26
        return [a, b]

    def tie(self, a: Note, b: Note) -> Symbol:
        ha, hb = a.head, b.head
        yc = 0.5 * (ha.box[1] + ha.box[3])
        y0, y1 = (yc + 5, yc + 11) if a.up else (yc - 11, yc - 5)
        return self.add("tie", (ha.box[2] - 2, y0, hb.box[0] + 2, y1))

    # -- over the staff
    def volta(self, x0: float, x1: float, text: str) -> None:
        t = self.top
        self.add("volta_bracket", (x0 + 2, t - 38.4, x1 - 2, t - 19.1))
        self.add("volta_number", (x0 + 8, t - 34.6, x0 + 16.5, t - 19.5), text=text)

    def word(self, cls: str, x_end: float, text: str, width: float = 80.0) -> Symbol:
        """Words that end at ``x_end`` (a measure's end) above the staff."""
        return self.add(cls, (x_end - width, self.top - 18.2, x_end - 2, self.top - 5.5), text=text)

    def sign(self, cls: str, x: float) -> Symbol:
        """A segno or coda sign at the start of the measure that begins at ``x``."""
        return self.add(cls, (x + 3, self.top - 24.5, x + 21.5, self.top - 3.0))


def transcribe(*staves: Staff, braced: bool = False, height: float = 0.0):
    """The Score, Report and graph of one system made of ``staves`` (``height``: of
    the page image they lie on, when known)."""
    x1 = max(max(s.box[2] for s in st.symbols) for st in staves) + 2
    lines = [straight_staff(i, x0=X0, x1=x1, top=st.top, staff_space=SS, system=0)
             for i, st in enumerate(staves)]
    symbols = [s for st in staves for s in st.symbols]
    if braced:
        symbols.append(Symbol("brace", (X0 - 14, staves[0].top - 1, X0 - 3, staves[-1].top + 41)))
    g = build_graph(symbols, lines, [list(range(len(staves)))], height=height)
    score, report = score_from_graphs([g])
    return score, report, g


def measures(score, part: int = 0):
    return list(score.parts[part].getElementsByClass("Measure"))


def names(score, part: int = 0) -> list[list[str]]:
    """Pitches per measure (chords as tuples), in time order."""
    out = []
    for m in measures(score, part):
        row = []
        for n in sorted(m.recurse().notes, key=lambda n: n.getOffsetInHierarchy(m)):
            row.append(tuple(p.nameWithOctave for p in n.pitches) if n.isChord else n.nameWithOctave)
        out.append(row)
    return out


def rhythm(score, part: int = 0) -> list[list[tuple[float, float]]]:
    """(onset, duration) of notes and rests per measure."""
    out = []
    for m in measures(score, part):
        out.append([(float(n.getOffsetInHierarchy(m)), float(n.quarterLength))
                    for n in sorted(m.recurse().notesAndRests, key=lambda n: n.getOffsetInHierarchy(m))])
    return out


def kinds(report) -> list[str]:
    return [i.kind for i in report.inferred]


def assert_valid(score) -> bytes:
    """The score exports as schema-valid MusicXML (raises ExportError otherwise)."""
    xml = export.to_musicxml(score)
    assert b"<score-partwise" in xml
    return xml


def time_signatures(score, part: int = 0) -> list:
    """The time signature in force in each measure."""
    out, ts = [], None
    for m in measures(score, part):
        ts = m.timeSignature or ts
        out.append(ts)
    return out


def full_bars(score, part: int = 0) -> None:
    """Every measure's every voice adds up to its time signature."""
    for m, ts in zip(measures(score, part), time_signatures(score, part)):
        bar_len = ts.barDuration.quarterLength
        voices = list(m.voices) or [m]
        for v in voices:
            assert sum(n.quarterLength for n in v.notesAndRests) == pytest.approx(bar_len), \
                f"measure {m.number} voice {getattr(v, 'id', 1)}"


# ------------------------------------------------------------------------- pitch

def test_treble_clef_pitches_and_ledger_lines():
    s = Staff()
    for p in (-2, 0, 4, 8):
        s.note(p)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert names(score) == [["C4", "E4", "B4", "F5"]]
    assert score.parts[0].recurse().getElementsByClass("Clef")[0].sign == "G"
    assert not report.warnings
    assert_valid(score)


def test_bass_clef_pitches():
    s = Staff(clef="clef_f")
    for p in (0, 4, 8, 10):
        s.note(p)
    s.barline("barline_final")
    score, _, _ = transcribe(s)
    assert names(score) == [["G2", "D3", "A3", "C4"]]
    c = score.parts[0].recurse().getElementsByClass("Clef")[0]
    assert (c.sign, c.line) == ("F", 4)


def test_alto_c_clef_pitches():
    s = Staff(clef="clef_c")
    for p in (4, 5, 0, 8):
        s.note(p)
    s.barline("barline_final")
    score, _, _ = transcribe(s)
    assert names(score) == [["C4", "D4", "F3", "G4"]]
    c = score.parts[0].recurse().getElementsByClass("Clef")[0]
    assert (c.sign, c.line) == ("C", 3)
    assert_valid(score)


def test_key_signature_and_accidentals_through_the_measure_only():
    # A major (3 sharps): F, C, G sharp in every octave
    s = Staff(fifths=3)
    s.note(8)                      # F5 -> F#5 (key)
    s.note(2)                      # G4 -> G#4 (key, another octave than the printed one)
    s.note(5, acc="natural")       # C5 natural
    s.note(5)                      # C5 again: the natural holds
    s.barline()
    s.note(5)                      # next measure: C#5 from the key again
    s.note(6, acc="sharp")         # D#5
    s.note(6)                      # D#5 (carried)
    s.note(-1)                     # D4: another octave, not altered
    s.barline("barline_final")
    score, _report, _ = transcribe(s)
    assert names(score) == [["F#5", "G#4", "C5", "C5"], ["C#5", "D#5", "D#5", "D4"]]
    ks = score.parts[0].recurse().getElementsByClass("KeySignature")[0]
    assert ks.sharps == 3
    # printed accidentals are shown, carried ones are not
    m1 = measures(score)[0]
    shown = [n.pitch.accidental.displayStatus if n.pitch.accidental else None for n in m1.notes]
    assert shown[2] is True and shown[3] is not True
    assert_valid(score)


def test_a_key_sharp_far_above_the_staff_is_not_part_of_its_key():
    # a staff crop that shows the foot of the staff above: that staff's key sharp,
    # whose lines were not found, is no second sharp of this one's key
    s = Staff(fifths=1)
    s.add("key_sharp", (s.symbols[1].box[0], s.y(21) - 13.85, s.symbols[1].box[2], s.y(21) + 13.85))
    s.note(-2)                     # C4: C, not C#
    s.note(8)                      # F5 -> F#5 (key)
    s.barline("barline_final")
    score, _report, _ = transcribe(s)
    assert names(score) == [["C4", "F#5"]]
    assert score.parts[0].recurse().getElementsByClass("KeySignature")[0].sharps == 1


def test_flat_key_and_a_double_sharp():
    s = Staff(fifths=-2)           # B flat major: B and E flat
    s.note(4)                      # B4 -> Bb4
    s.note(1)                      # F4
    s.note(3, acc="double_sharp")  # A4 double sharp
    s.note(7)                      # E5 -> Eb5
    s.barline("barline_final")
    score, _, _ = transcribe(s)
    assert names(score) == [["B-4", "F4", "A##4", "E-5"]]


def test_flat_accidental_box_taller_above_alters_its_note():
    s = Staff()
    s.note(3, acc="flat")          # Ab4 (the flat's box reaches up to the top line)
    s.note(3)                      # Ab4 carried
    s.note(4)                      # B4
    s.note(3, acc="natural")       # A4
    s.barline("barline_final")
    score, _, _ = transcribe(s)
    assert names(score) == [["A-4", "A-4", "B4", "A4"]]


def test_accidental_carried_across_a_tie_into_the_next_measure():
    s = Staff()
    s.note(0)
    s.note(2)
    a = s.note(1, kind="h", acc="sharp")          # F#4 on beats 3-4
    s.barline()
    b = s.note(1, kind="h")                       # tied over the barline: sounds F#4
    s.note(3)
    s.note(1)                                     # a new F4 later in the bar
    s.barline("barline_final")
    s.tie(a, b)
    score, _, _g = transcribe(s)
    got = names(score)
    assert got[0] == ["E4", "G4", "F#4"]
    assert got[1][:2] == ["F#4", "A4"]
    m1, m2 = measures(score)
    assert m1.notes[-1].tie is not None and m1.notes[-1].tie.type == "start"
    assert m2.notes[0].tie is not None and m2.notes[0].tie.type == "stop"
    assert_valid(score)


def test_tied_over_accidental_does_not_hold_for_later_notes():
    s = Staff()
    s.note(0)
    s.note(2)
    a = s.note(1, kind="h", acc="sharp")          # F#4
    s.barline()
    b = s.note(1, kind="h")                       # tied: F#4
    s.note(3)
    s.note(1)                                     # no accidental, not tied: F4
    s.barline("barline_final")
    s.tie(a, b)
    score, _, _ = transcribe(s)
    assert names(score)[1] == ["F#4", "A4", "F4"]


def _stems_both_ways(s: Staff, n_measures: int) -> None:
    """One-voice measures of quarters with the usual stem rule: up below the
    middle line, down on and above it."""
    for k in range(n_measures):
        for p in ((0, 2, 4, 6) if k % 2 == 0 else (6, 4, 2, 0)):
            s.note(p, stem="up" if p < 4 else "down")
        s.barline("barline_final" if k == n_measures - 1 else "barline_single")


def test_one_voice_with_stems_both_ways():
    s = Staff()
    _stems_both_ways(s, 2)
    score, report, _ = transcribe(s)
    assert [ts.ratioString for ts in time_signatures(score)] == ["4/4", "4/4"]
    assert not report.warnings
    assert [len(m.voices) for m in measures(score)] == [0, 0]
    assert names(score) == [["E4", "G4", "B4", "D5"], ["D5", "B4", "G4", "E4"]]


def test_time_from_content_on_a_page_without_a_time_signature():
    s = Staff(time=None)
    for _ in range(4):
        for p in (0, 2, 4, 6):
            s.note(p)
        s.barline()
    score, report, _ = transcribe(s)
    assert [ts.ratioString for ts in time_signatures(score)] == ["4/4"] * 4
    assert "time_from_content" in kinds(report)


def test_time_from_content_is_a_meter_in_common_use():
    # a continuation page in 3/4 where two measures hold a stray whole note (a
    # smudge read as one): 7/4 fits as many measures, but 3/4 is the meter
    s = Staff(time=None)
    for m in range(4):
        first = s.note(0)
        for p in (2, 4):
            s.note(p)
        if m % 2:
            end = s.x
            s.note(14, "w", x=first.head.box[2] + 4, advance=False)
            s.x = end
        s.barline()
    score, report, _ = transcribe(s)
    assert [time_signatures(score)[i].ratioString for i in (0, 2)] == ["3/4", "3/4"]
    assert "time_from_content" in kinds(report)


@pytest.mark.parametrize("lengths, meter", [((1, 1, 1, 3, 3), "3/4"), ((1, 1, 1), "1/4")])
def test_time_from_content_takes_one_quarter_only_where_nothing_else_fits(lengths, meter):
    # a page in 3/4 whose small photo lost the rests of three measures: each reads
    # as one quarter note; a page all of whose measures hold one quarter is in 1/4
    s = Staff(time=None)
    for quarters in lengths:
        for _ in range(quarters):
            s.note(4)
        s.barline()
    score, report, _ = transcribe(s)
    assert time_signatures(score)[0].ratioString == meter


def _one_staff_pages(*staves: Staff) -> list:
    """The staff graphs of pages of one staff each, in order."""
    return [build_graph(st.symbols, [straight_staff(0, x0=X0, x1=max(s.box[2] for s in st.symbols) + 2,
                                                    top=st.top, staff_space=SS, system=0)], [[0]])
            for st in staves]


def test_time_from_content_is_voted_over_every_system_before_a_time_signature():
    # a piece in 3/4 that prints no time signature, over two pages: a barline
    # missed on the first makes a measure of six quarters there, and 6/4 fits as
    # many of its measures as 3/4 does; the second page's measures settle it
    first, second = Staff(time=None), Staff(time=None)
    for staff, lengths in ((first, (6, 3)), (second, (3, 3, 3))):
        for quarters in lengths:
            for _ in range(quarters):
                staff.note(4)
            staff.barline()
    score, report = score_from_graphs(_one_staff_pages(first, second))
    assert time_signatures(score)[0].ratioString == "3/4"
    assert [i.detail.split("; ")[1][:3] for i in report.inferred if i.kind == "time_from_content"] == ["3/4"]
    assert "restored_rest" not in kinds(report)  # (the second page's measures are full)
    assert [len(m.notes) for m in measures(score)][-3:] == [3, 3, 3]


def test_time_from_content_takes_in_the_measures_before_the_first_time_signature_read():
    # a piece in 3/4 whose first system's time signature went unread and whose
    # measures read as single quarters (a small, blurred photo); the second system
    # prints a change to 4/4 after four measures of 3/4: those four vote too, so
    # the measures before the change are in 3/4, not the 1/4 of the first system
    first, second = Staff(time=None), Staff(time=None)
    for _ in range(3):
        first.note(4)
        first.barline()
    for _ in range(4):
        for _ in range(3):
            second.note(4)
        second.barline()
    second.time(4, 4)
    second.x += 40
    for _ in range(4):
        second.note(4)
    second.barline()
    score, report = score_from_graphs(_one_staff_pages(first, second))
    assert [ts.ratioString for ts in time_signatures(score)][:1] == ["3/4"]
    assert [i.detail.split("; ")[1][:3] for i in report.inferred if i.kind == "time_from_content"] == ["3/4"]
    assert [m.timeSignature.ratioString for m in measures(score) if m.timeSignature][-1:] == ["4/4"]
    assert not [w for w in report.inferred if w.kind == "irregular_measure" and w.measure > 3]


def test_a_first_staff_whose_clef_was_not_read_takes_the_clef_its_part_begins_with():
    # a cello part over two pages whose first photo cut off the clef at its edge:
    # the second page's systems begin with the bass clef, so the first one reads in it
    first, second = Staff(clef=None), Staff(clef="clef_f")
    for staff in (first, second):
        for p in (0, 2, 4, 6):
            staff.note(p)
        staff.barline()
    score, report = score_from_graphs(_one_staff_pages(first, second))
    assert names(score)[0] == ["G2", "B2", "D3", "F3"]
    assert "clef_from_part" in kinds(report)
    assert "default_clef" not in [w.kind for w in report.warnings]


@pytest.mark.parametrize("printed", [(4, 4), None])
def test_four_measures_with_stems_both_ways(printed):
    s = Staff(time=printed)
    _stems_both_ways(s, 4)
    score, report, _ = transcribe(s)
    assert [ts.ratioString for ts in time_signatures(score)] == ["4/4"] * 4
    assert [len(m.voices) for m in measures(score)] == [0] * 4
    assert "time_misread" not in [w.kind for w in report.warnings]


def test_chord_pitches():
    s = Staff()
    s.note(0, kind="h", chord=(2, 4))             # E4 G4 B4
    s.note(1, kind="h", chord=(3, 5), acc="sharp")  # F#4 A4 C5 (sharp on the lowest note)
    s.barline("barline_final")
    score, _, _ = transcribe(s)
    assert names(score) == [[("E4", "G4", "B4"), ("F#4", "A4", "C5")]]


def test_key_signatures_follow_the_clef():
    s = Staff(clef="clef_f", fifths=-2)            # Bb major in the bass: B2, E3 flat
    for p in (2, 5, 1, 4):
        s.note(p)
    s.barline("barline_final")
    score, _, g = transcribe(s)
    assert names(score) == [["B-2", "E-3", "A2", "D3"]]
    assert [n.position for n in g.nodes if n.cls == "key_flat"] == [2, 5]
    s = Staff(clef="clef_c", fifths=1)             # G major in the alto clef: F#3 and F#4
    for p in (0, 7, 1, 4):
        s.note(p)
    s.barline("barline_final")
    score, _, _ = transcribe(s)
    assert names(score) == [["F#3", "F#4", "G3", "C4"]]


def test_key_change_after_a_barline():
    s = Staff(fifths=1)
    for _ in range(4):
        s.note(1)                                  # F#4
    s.barline()
    s.key(-1)
    for _ in range(4):
        s.note(4)                                  # Bb4
    s.barline("barline_final")
    score, _, _ = transcribe(s)
    assert names(score) == [["F#4"] * 4, ["B-4"] * 4]
    assert [k.sharps for k in score.recurse().getElementsByClass("KeySignature")] == [1, -1]
    assert_valid(score)


def test_clef_change_inside_a_measure():
    s = Staff()
    s.note(0)
    s.note(2)
    s.clef("clef_f")
    s.note(4)
    s.note(6)
    s.barline("barline_final")
    score, _, _ = transcribe(s)
    assert names(score) == [["E4", "G4", "D3", "F3"]]
    clefs = [(c.sign, float(c.offset)) for c in measures(score)[0].getElementsByClass("Clef")]
    assert clefs == [("G", 0.0), ("F", 2.0)]
    assert_valid(score)


@pytest.mark.parametrize("cls, y0, y1, warning", [
    # a mark under the staff read (doubtfully) as a small C clef: a clef sits on its staff
    ("clef_c", 52, 70, None),
    # a mark on the lower lines read as a bass clef centred on the bottom line: a clef
    # change is printed on its own line
    ("clef_f", 28, 52, "moved_clef_change"),
])
def test_a_clef_read_off_its_place_mid_staff_is_no_clef_change(cls, y0, y1, warning):
    """The pitches after such a mark keep the treble clef."""
    s = Staff()
    s.note(0)
    s.note(2)
    s.add(cls, (s.x, s.top + y0, s.x + 14, s.top + y1))
    s.x += 22
    s.note(4)
    s.note(6)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert names(score) == [["E4", "G4", "B4", "D5"]]
    assert len(measures(score)[0].getElementsByClass("Clef")) == 1
    if warning:
        assert warning in {w.kind for w in report.warnings}
    assert_valid(score)


def test_the_8_of_an_octave_clef_moves_its_centre_not_its_line():
    """A treble clef with an 8 below is centred half a staff space lower than a
    plain one (the 8 hangs under it): read a space low in a photo, it is still on
    the second line, not a French violin clef; a plain treble clef there is."""
    from omr.notation.pitch import CLEFS, clef_for

    for position in (2, 3, 4):
        assert clef_for("clef_g_8vb", position) == CLEFS["clef_g_8vb"]
    for position in (4, 5, 6):
        assert clef_for("clef_g_8va", position) == CLEFS["clef_g_8va"]
    assert clef_for("clef_g", 2).line == 1
    assert clef_for("clef_g_8vb", 1).line == 1


def test_of_two_clefs_before_a_systems_first_note_the_surer_one_is_the_clef():
    """A system starts with one clef: a time signature read doubtfully as a bass
    clef after the treble clef changes nothing (it read the staff in the bass clef)."""
    s = Staff(time=None)
    s.add("clef_f", (s.x, s.top + 1.8, s.x + 20, s.top + 30.3)).score = 0.42
    s.x += 30
    s.note(0)
    s.note(2)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert names(score) == [["E4", "G4"]]
    assert "two_start_clefs" in {w.kind for w in report.warnings}
    # the surer one wins wherever it stands
    s = Staff(clef=None, time=None)
    s.add("clef_g", (s.x, s.top - 12.8, s.x + 25.9, s.top + 56.7)).score = 0.4
    s.x += 34
    s.add("clef_f", (s.x, s.top + 1.8, s.x + 31.1, s.top + 30.3)).score = 0.9
    s.x += 40
    s.note(0)
    s.barline("barline_final")
    assert names(transcribe(s)[0]) == [["G2"]]


# ------------------------------------------------------------------------ rhythm

def test_beams_and_dots_dotted_eighth_sixteenth():
    s = Staff()
    s.dotted_eighth_sixteenth(2, 4)
    s.dotted_eighth_sixteenth(3, 5)
    s.beamed([4, 3, 2, 1], kind="16")
    s.beamed([0, 2], kind="8")
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert rhythm(score) == [[(0.0, 0.75), (0.75, 0.25), (1.0, 0.75), (1.75, 0.25),
                              (2.0, 0.25), (2.25, 0.25), (2.5, 0.25), (2.75, 0.25),
                              (3.0, 0.5), (3.5, 0.5)]]
    assert names(score) == [["G4", "B4", "A4", "C5", "B4", "A4", "G4", "F4", "E4", "G4"]]
    assert not report.inferred and not report.warnings
    assert_valid(score)


def test_flags_dots_and_rests():
    s = Staff()
    s.note(4, "8", stem="down")       # eighth with a flag
    s.note(2, "16")                   # sixteenth with a flag
    s.note(3, "16")
    s.note(2, "q", dots=1)            # dotted quarter
    s.rest("rest_8th")
    s.rest("rest_quarter")
    s.barline()
    s.note(3, "h", dots=1)            # dotted half
    s.rest("rest_quarter")
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert rhythm(score) == [[(0.0, 0.5), (0.5, 0.25), (0.75, 0.25), (1.0, 1.5), (2.5, 0.5), (3.0, 1.0)],
                             [(0.0, 3.0), (3.0, 1.0)]]
    assert not [k for k in kinds(report) if k in ("restored_rest", "overfull")]
    full_bars(score)
    assert_valid(score)


def test_whole_rest_fills_a_three_four_measure():
    s = Staff(time=(3, 4))
    s.note(2, "h")
    s.note(4)
    s.barline()
    s.rest("rest_whole", x=s.x + 20)
    s.x += 30
    s.barline()
    s.note(2, "h", dots=1)
    s.barline("barline_final")
    score, _, _ = transcribe(s)
    assert [[d for _, d in m] for m in rhythm(score)] == [[2.0, 1.0], [3.0], [3.0]]
    assert [ts.ratioString for ts in time_signatures(score)] == ["3/4"] * 3
    assert_valid(score)


def test_breve_rest_alone_is_a_whole_measure_rest_in_four_four():
    # verovio (and engravers of early music) print a breve rest for a voice that
    # rests a whole 4/4 measure in a piece of long measures
    s = Staff()
    _four_quarters(s, 2)
    s.barline()
    s.rest("rest_breve", x=s.x + 30)
    s.x += 40
    s.barline()
    _four_quarters(s, 4)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert [[d for _, d in m] for m in rhythm(score)] == [[1.0] * 4, [4.0], [1.0] * 4]
    assert not report.warnings
    assert_valid(score)


def test_implied_triplets_first_group_printed():
    s = Staff()
    s.beamed([2, 3, 4], tuplet="3")               # printed 3
    s.beamed([5, 4, 3])                           # not printed
    s.beamed([2, 3, 4])
    s.beamed([5, 6, 7])
    s.barline()
    s.beamed([4, 3, 2])                           # a later measure: not printed either
    s.beamed([1, 2, 3])
    s.note(4, "h")
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    m1, m2 = measures(score)
    notes1 = list(m1.notes)
    assert len(notes1) == 12
    assert all(n.duration.tuplets and n.duration.tuplets[0].numberNotesActual == 3 for n in notes1)
    assert [float(n.getOffsetInHierarchy(m1)) for n in notes1][-1] == pytest.approx(11 / 3)
    assert [float(n.quarterLength) for n in m2.notes] == pytest.approx([1 / 3] * 6 + [2])
    assert "implied_tuplet" in kinds(report)
    implied = [i for i in report.inferred if i.kind == "implied_tuplet"]
    assert implied[0].measure == 1 and implied[0].staff == 1
    # inferred notes are marked so the user can see them
    assert notes1[3].style.color == INFERRED_COLOUR and notes1[0].style.color != INFERRED_COLOUR
    full_bars(score)
    assert_valid(score)


def test_implied_triplets_with_stems_both_ways_stay_one_voice():
    s = Staff()
    for p in (0, 2, 4, 2):
        s.note(p)
    s.barline()
    s.beamed([2, 3, 4], tuplet="3")               # printed, stems up
    s.beamed([7, 8, 7], up=False)                 # same shape, stems down, no number
    s.note(6, stem="down")
    s.beamed([3, 2, 1])                           # no number, stems up
    s.barline()
    for p in (0, 2, 4, 2):
        s.note(p)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    m2 = measures(score)[1]
    assert len(m2.voices) == 0
    assert names(score)[1] == ["G4", "A4", "B4", "E5", "F5", "E5", "D5", "A4", "G4", "F4"]
    assert [float(n.quarterLength) for n in m2.notes] == pytest.approx([1 / 3] * 6 + [1] + [1 / 3] * 3)
    assert "restored_rest" not in kinds(report)


def test_unread_tuplet_numbers_on_full_groups_are_triplets():
    # OCR does not read tuplet digits: a number with no text over three beamed eighths
    s = Staff(time=(2, 4))
    s.beamed([2, 3, 4], tuplet="")
    s.beamed([4, 3, 2], tuplet="")
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert [float(n.quarterLength) for n in measures(score)[0].notes] == pytest.approx([1 / 3] * 6)
    assert not report.inferred and not report.warnings


def _faint_triplet_measure(last: str) -> Staff:
    """2/4: a quarter and an eighth under a bracketed "3" the detector scored 0.3 (a
    doubtful number: under PARSE_THRESHOLD), then a note of kind ``last``."""
    s = Staff(time=(2, 4))
    group = [s.note(4, "q", stem="up"), s.note(5, "8", stem="up")]
    number = s._tuplet(group, "", True)
    s.symbols[s.symbols.index(number)] = dataclasses.replace(number, score=0.3, doubtful=True)
    s.add("tuplet_bracket", (group[0].head.box[0], number.box[1] + 6, group[1].stem.box[2] + 4, number.box[3]))
    s.note(4, last, stem="up")
    s.barline("barline_final")
    return s


def test_a_faint_tuplet_number_makes_its_group_a_tuplet_only_where_the_measure_overfills():
    # a quarter, an eighth and a quarter in 2/4: the faint "3" makes the first two a
    # triplet (one beat), and the measure fills
    score, report, _ = transcribe(_faint_triplet_measure("q"))
    assert [float(n.quarterLength) for n in measures(score)[0].notes] == pytest.approx([2 / 3, 1 / 3, 1])
    assert kinds(report) == ["implied_tuplet"]
    # a quarter and two eighths fill 2/4 as read: the faint number was grain
    score, report, _ = transcribe(_faint_triplet_measure("8"))
    assert [float(n.quarterLength) for n in measures(score)[0].notes] == pytest.approx([1, 0.5, 0.5])
    assert "implied_tuplet" not in kinds(report)


def test_a_triplet_whose_middle_note_took_a_beam_hook_is_read_evenly():
    # three beamed eighths under a number not read; a speck by the middle stem read
    # as a second beam's hook makes that note a sixteenth: 5 sixteenths, no triplet
    s = Staff(time=(2, 4))
    notes = s.beamed([2, 3, 4], tuplet="")
    st = notes[1].stem.box
    s.add("beam", (st[0], st[1] + BEAM_GAP, st[2] + 9, st[1] + BEAM_GAP + BEAM_T))
    s.beamed([4, 3, 2], tuplet="")
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert [float(n.quarterLength) for n in measures(score)[0].notes] == pytest.approx([1 / 3] * 6)
    assert kinds(report) == ["reread"]
    # two sixteenths and a quarter (six sixteenths' worth) are left as printed
    from omr.notation.rhythm import Event, _even_triplet

    group = [Event(x=float(i), heads=[i], base=b) for i, b in enumerate((Fraction(1, 4), Fraction(1, 4), Fraction(1)))]
    _even_triplet(group)
    assert [e.base for e in group] == [Fraction(1, 4), Fraction(1, 4), Fraction(1)]
    assert not any(e.inferred for e in group)
    # two eighths and a 32nd (a third beam line read at the last stem) are nine
    # 32nds' worth, but no three notes of one length: three eighths
    lengths = (Fraction(1, 2), Fraction(1, 2), Fraction(1, 8))
    group = [Event(x=float(i), heads=[i], base=b) for i, b in enumerate(lengths)]
    _even_triplet(group)
    assert [e.base for e in group] == [Fraction(1, 2)] * 3 and group[2].inferred == "even triplet"


def test_an_unread_number_over_two_eighths_with_no_third_is_no_duplet():
    # a segno above the staff read as a tuplet number too: no rest beside the two
    # beamed eighths to make a triplet with, and an unread "2" is unlikely
    s = Staff(time=(2, 4))
    s.beamed([2, 3], tuplet="")
    s.beamed([4, 3])
    s.barline()
    s.beamed([2, 3])
    s.beamed([4, 3])
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert [[float(n.quarterLength) for n in m.notes] for m in measures(score)] == [[0.5] * 4] * 2
    assert "implied_tuplet" not in kinds(report) and not report.warnings


def test_triplet_that_starts_with_a_rest():
    s = Staff(time=(2, 4))
    s.rest("rest_8th")
    s.x -= 12
    notes = s.beamed([7, 8], up=False)
    s._tuplet(notes, "", up=False)                 # verovio centres it over the beamed notes
    s.beamed([8, 7, 6], up=False, tuplet="")
    s.barline()
    for p in (6, 4):
        s.note(p, stem="down")
    s.barline("barline_final")
    score, _report, _ = transcribe(s)
    m1 = measures(score)[0]
    assert [(n.isRest, float(n.quarterLength)) for n in m1.notesAndRests] == \
        [(True, pytest.approx(1 / 3))] + [(False, pytest.approx(1 / 3))] * 5
    assert [ts.ratioString for ts in time_signatures(score)] == ["2/4", "2/4"]


def test_triplets_printed_on_every_group_infer_nothing():
    s = Staff(time=(2, 4))
    s.beamed([2, 3, 4], tuplet="3")
    s.beamed([5, 4, 3], tuplet="3")
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert [float(n.quarterLength) for n in measures(score)[0].notes] == pytest.approx([1 / 3] * 6)
    assert "implied_tuplet" not in kinds(report)


def test_omitted_rest_restored_before_a_half_note_at_the_end():
    s = Staff()
    for p in (0, 2, 4, 2):
        s.note(p)
    s.barline()
    start = s.x
    s.note(4, "h", x=start + 95)                 # where beats 3-4 stand; nothing before it
    s.barline()
    for p in (4, 2, 0, 2):
        s.note(p)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    m2 = measures(score)[1]
    items = sorted(m2.notesAndRests, key=lambda n: n.offset)
    assert [(n.isRest, float(n.offset), float(n.quarterLength)) for n in items] == \
        [(True, 0.0, 2.0), (False, 2.0, 2.0)]
    assert items[0].style.color == INFERRED_COLOUR
    restored = [i for i in report.inferred if i.kind == "restored_rest"]
    assert restored and restored[0].measure == 2
    full_bars(score)
    assert_valid(score)


def test_triplets_with_stems_down_and_the_number_below():
    s = Staff(time=(2, 4))
    s.beamed([6, 7, 8], up=False, tuplet="3")
    s.beamed([8, 7, 6], up=False)
    s.barline()
    s.beamed([6, 5], up=False)
    s.beamed([4, 5], up=False)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    m1, m2 = rhythm(score)
    assert [d for _, d in m1] == pytest.approx([1 / 3] * 6)
    assert [d for _, d in m2] == [0.5] * 4
    assert names(score) == [["D5", "E5", "F5", "F5", "E5", "D5"], ["D5", "C5", "B4", "C5"]]
    assert kinds(report).count("implied_tuplet") == 1


def test_omitted_rest_placed_by_the_other_staff():
    up, low = Staff(top=TOP), Staff(top=TOP + 100, clef="clef_f")
    xs = [up.note(p).head.box[0] for p in (0, 2, 4, 2)]
    low.note(4, "h", x=xs[2], advance=False)      # the left hand comes in on beat 3
    low.x = up.x
    for st in (up, low):
        st.barline()
    for p in (4, 2, 0, 2):
        up.note(p)
    low.note(2, "w", x=low.x + 10)
    low.x = up.x
    for st in (up, low):
        st.barline("barline_final")
    score, report, _ = transcribe(up, low, braced=True)
    assert rhythm(score, 1) == [[(0.0, 2.0), (2.0, 2.0)], [(0.0, 4.0)]]
    assert names(score, 1) == [["D3"], ["B2"]]
    first = min(measures(score, 1)[0].notesAndRests, key=lambda n: n.offset)
    assert first.isRest and first.style.color == INFERRED_COLOUR
    restored = [i for i in report.inferred if i.kind == "restored_rest"]
    assert [(i.measure, i.staff) for i in restored] == [(1, 2)]
    full_bars(score, 0)
    full_bars(score, 1)
    assert_valid(score)


def _read_also_as_half(st: Staff, note) -> None:
    """The detector also saw ``note``'s head as a half note's (a blurred hollow)."""
    k = st.symbols.index(note.head)
    st.symbols[k] = dataclasses.replace(note.head, alternatives=("notehead_half",))


@pytest.mark.parametrize("second_beat, lengths", [(2, [2.0, 1.0, 1.0]), (3, [1.0, 2.0, 1.0])])
def test_a_note_also_read_as_a_half_fills_the_beat_before_the_next_column(second_beat, lengths):
    # a blurred photo: the lower staff's first note reads as a black head that the
    # detector also saw as a half note's; it and a quarter stand under the upper
    # staff's quarters. Where the quarter stands two beats on, the first note fills
    # the beat after it as a half note, not a rest left out; where it stands three
    # beats on, a half does not fill the gap, and the rest is restored
    up, low = Staff(top=TOP), Staff(top=TOP + 100, clef="clef_f")
    xs = [up.note(p).head.box[0] for p in (0, 2, 4, 2)]
    _read_also_as_half(low, low.note(4, "q", x=xs[0], advance=False))
    low.note(2, "q", x=xs[second_beat], advance=False)
    low.x = up.x
    for st in (up, low):
        st.barline("barline_final")
    score, report, _ = transcribe(up, low, braced=True)
    assert [d for _, d in rhythm(score, 1)[0]] == lengths
    assert ("reread" in kinds(report)) == (second_beat == 2)
    assert_valid(score)


def test_two_voices_on_one_staff():
    s = Staff()
    x = s.x
    for i, p in enumerate((7, 6, 5, 6)):          # voice 1: quarters, stems up
        s.note(p, "q", stem="up", x=x + 30 * i, advance=False)
    for i, p in enumerate((0, 1)):                # voice 2: halves, stems down, same columns
        s.note(p, "h", stem="down", x=x + 60 * i, advance=False)
    s.x = x + 125
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    (m,) = measures(score)
    voices = list(m.voices)
    assert len(voices) == 2
    got = sorted(([n.nameWithOctave for n in v.notes], [float(n.offset) for n in v.notes]) for v in voices)
    assert got == [(["E4", "F4"], [0.0, 2.0]), (["E5", "D5", "C5", "D5"], [0.0, 1.0, 2.0, 3.0])]
    stems = {v.notes[0].stemDirection for v in voices}
    assert stems == {"up", "down"}
    assert not report.warnings
    assert_valid(score)


def test_a_voice_placed_past_the_bar_by_the_columns_is_cut_to_fit():
    # voice 2: a quarter under beat 1 and a half under beat 4 (a misread: the head
    # was a quarter). Placed by voice 1's columns it would end past the bar
    s = Staff()
    x = s.x
    for i, p in enumerate((7, 6, 5, 6)):          # voice 1: quarters, stems up
        s.note(p, "q", stem="up", x=x + 30 * i, advance=False)
    s.note(0, "q", stem="down", x=x, advance=False)
    s.note(1, "h", stem="down", x=x + 90, advance=False)
    s.x = x + 125
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    (m,) = measures(score)
    for v in m.voices:
        assert sum(n.quarterLength for n in v.notesAndRests) == 4
    assert "overfull" in [w.kind for w in report.warnings]
    assert_valid(score)


def test_pickup_measure():
    s = Staff(time=(3, 4))
    s.note(0)                                     # a one-beat upbeat
    s.barline()
    s.note(2, "h")
    s.note(4)
    s.barline()
    s.note(3, "h", dots=1)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    ms = measures(score)
    assert [m.number for m in ms] == [0, 1, 2]
    assert ms[0].duration.quarterLength == 1.0
    assert ms[0].paddingLeft == pytest.approx(2.0)
    assert "pickup" in kinds(report)
    assert "restored_rest" not in kinds(report)
    assert_valid(score)


def test_a_last_measure_that_completes_the_pickup_despite_a_staff_misread_long():
    """Three staves in 4/4 with a one-beat pickup; the last measure holds three beats,
    but the detector read the third staff's dotted half as a whole note and a
    quarter (five beats). Two staves holding what the pickup leaves of a bar make
    it the measure that completes the pickup: the notes start on its first beat
    and no rest is put before them."""
    staves = [Staff(top=TOP + 100 * i) for i in range(3)]
    def align():
        x = max(st.x for st in staves)
        for st in staves:
            st.x = x
    for st in staves:
        st.note(4)                                # the pickup
    align()
    for st in staves:
        st.barline()
        for _ in range(4):
            st.note(4)
        st.barline()
    for i, st in enumerate(staves):
        if i < 2:
            st.note(4, "h", dots=1)
        else:
            st.note(4, "w")
            st.note(4)
    align()
    for st in staves:
        st.barline("barline_final")
    score, report, _ = transcribe(*staves)
    assert "the last measure completes the pickup" in " ".join(report.lines())
    for part in range(2):
        assert rhythm(score, part)[-1] == [(0.0, 3.0)]
    assert measures(score, 2)[-1].duration.quarterLength == 3.0


def test_measure_every_staff_overfills_is_kept_whole_not_cut():
    # a score whose printed 4/4 is wrong for its first measure (music21's
    # demos/incorrect_time_signature): one staff holds 6 quarters, the others 5.
    # Cutting to the bar would drop printed notes; the measure is kept long.
    staves = [Staff(top=TOP + 100 * i) for i in range(3)]
    for i, st in enumerate(staves):
        for _ in range(6 if i == 0 else 5):
            st.note(2)
    for _ in range(2):
        x = max(st.x for st in staves)
        for st in staves:
            st.x = x
            st.barline()
            _four_quarters(st, 4)
    score, report, _ = transcribe(*staves)
    assert [len(row) for row in names(score, 0)] == [6, 4, 4]
    assert [len(row) for row in names(score, 1)] == [5, 4, 4]
    assert measures(score)[0].duration.quarterLength == 6.0
    assert "irregular_measure" in kinds(report)
    assert not [w for w in report.warnings if w.kind == "overfull"]
    assert_valid(score)


def ledger_lines(st: Staff, note: Note, positions) -> None:
    """Ledger lines through ``positions`` of staff ``st``, across ``note``'s head."""
    x0, x1 = note.head.box[0] - 3.5, note.head.box[2] + 3.5
    for q in positions:
        y = st.y(q)
        st.add("ledger_line", (x0, y - 0.8, x1, y + 0.8))


def test_note_between_staves_goes_where_its_ledger_lines_lead():
    # staves 4.5 staff spaces apart: an F4 over the bass staff (two ledger lines
    # below it) sits nearer the treble staff, where it would read A3 (with ledger
    # lines above it). Over a treble C4 on its ledger line, an E4 of the bass.
    up, low = _treble_and_bass()
    xs = [max(up.x, low.x) + 40 * i for i in range(4)]
    for x, p in zip(xs, (4, 4, 4, -2)):
        n = up.note(p, x=x, advance=False)
        if p == -2:
            ledger_lines(up, n, (-2,))
    for x, p in zip(xs, (1, 13, 1, 12)):
        n = low.note(p, stem="down", x=x, advance=False)
        if p > 8:
            ledger_lines(low, n, (10, 12))
    up.x = low.x = xs[-1] + 40
    low.x = up.x = max(up.x, low.x)
    for st in (up, low):
        st.barline("barline_final")
    score, _, _ = transcribe(up, low, braced=True)
    assert names(score, 0) == [["B4", "B4", "B4", "C4"]]
    assert names(score, 1) == [["A2", "F4", "A2", "E4"]]
    assert_valid(score)


def test_missed_barline_cut_only_where_the_measure_is_wide_enough():
    def page(narrow: bool):
        s = Staff()
        for m in range(4):
            if m == 1:
                # two bars of quarters with no barline between them; or, narrow, one
                # bar of eighths whose flags were not seen (eight quarters' worth)
                step = spacing(0.5) if narrow else spacing(1)
                for i in range(8):
                    s.note(2 + i % 3, x=s.x + (step if i else 0), advance=False)
                s.x += step + 4
            else:
                _four_quarters(s, 4)
            s.barline("barline_final" if m == 3 else "barline_single")
        return transcribe(s)

    score, report, _ = page(narrow=False)
    assert [len(r) for r in names(score)] == [4, 4, 4, 4, 4]
    assert any(w.kind == "missed_barline" for w in report.warnings)
    score, report, _ = page(narrow=True)
    assert len(measures(score)) == 4
    assert not any(w.kind == "missed_barline" for w in report.warnings)


def test_missed_barline_across_a_system_is_cut_however_narrow():
    # 2/4 on two staves; the barline between measures 2 and 3 is lost on both, and
    # those two measures hold a half note each: narrower than the cut asks of one
    # staff's measure, but every staff holding exactly two bars says a barline
    up, low = _treble_and_bass(time=(2, 4))
    for m in range(5):
        for st, p in ((up, 4), (low, 4)):
            if m in (1, 2):
                st.note(p + m, "h")
            else:
                st.note(p, "q")
                st.note(p + 1, "q")
            if m != 1:
                st.barline("barline_final" if m == 4 else "barline_single")
        up.x = low.x = max(up.x, low.x)
    score, report, _ = transcribe(up, low, braced=True)
    assert [len(r) for r in names(score)] == [2, 1, 1, 2, 2]
    assert [len(r) for r in names(score, 1)] == [2, 1, 1, 2, 2]
    assert any(w.kind == "missed_barline" for w in report.warnings)
    assert_valid(score)


def test_missed_barline_cut_though_one_staff_was_misread_long():
    # 2/4 on two staves; the barline between measures 2 and 3 is lost on both, and
    # the upper staff's first quarter there was read as a half note: the lower staff
    # holds exactly two bars, the upper a quarter more. The measure is cut where the
    # lower staff's bar starts, the upper staff halfway from the note before.
    up, low = _treble_and_bass(time=(2, 4))
    for m in range(7):
        for st, p in ((up, 4), (low, 4)):
            misread = st is up and m == 1
            st.note(p, "h" if misread else "q", x=st.x, advance=False)
            st.x += spacing(1)
            st.note(p + 1, "q")
            if m != 1:
                st.barline("barline_final" if m == 6 else "barline_single")
        up.x = low.x = max(up.x, low.x)
    score, report, _ = transcribe(up, low, braced=True)
    # (the upper staff's first bar there, a half and a quarter, is cut to fit)
    assert [len(r) for r in names(score)] == [2, 1, 2, 2, 2, 2, 2]
    assert names(score)[2] == names(score)[0]
    assert [len(r) for r in names(score, 1)] == [2] * 7
    assert any(w.kind == "missed_barline" for w in report.warnings)
    assert_valid(score)


def test_stem_taken_for_a_barline_before_the_final_one_makes_no_measure():
    s = Staff()
    _four_quarters(s, 4)
    s.barline()
    for _ in range(3):
        s.note(4)
    last = s.note(4, stem="down")
    st = last.stem.box   # the detector calls the last stem (at the head's left) a barline
    s.add("barline_single", (st[0] - 0.5, s.top + 0.5, st[0] + 0.8, s.top + 40.5))
    s.x = last.head.box[2] - 2
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert [len(r) for r in names(score)] == [4, 4]
    assert "restored_rest" not in kinds(report)


def test_doubtful_barlines_on_half_the_staves_of_a_choir_system_make_no_measure():
    """Four staves, two measures each; on the lower two a stem or a crease passes,
    doubtfully, for a barline inside the first measure: no measure starts there.
    Found surely on one of them, it stands."""
    def system(score_of_the_mark: float):
        staves = [Staff(top=TOP + 100 * i) for i in range(4)]
        for i, st in enumerate(staves):
            st.note(4)
            st.note(4)
            if i >= 2:
                st.add("barline_single", (st.x, st.top + 0.5, st.x + 1.3, st.top + 40.5)).score = score_of_the_mark
            st.x += 8
            st.note(4)
            st.note(4)
            st.barline()
            _four_quarters(st, 4)
            st.barline("barline_final")
        x = max(st.x for st in staves)
        for st in staves:
            st.x = x
        return transcribe(*staves)[0]

    assert [len(r) for r in names(system(0.45), part=3)] == [4, 4]
    assert [len(r) for r in names(system(0.9), part=3)] == [2, 2, 4]


def test_a_barline_found_on_three_of_four_staves_stands_beside_the_fourths_last_note():
    """Four staves, two measures each; the barline between them was found on the
    upper three only, and on the fourth the last note of the first measure touches
    its x (slanted staves lined up in a photo): it stands. A note whose head it
    would cross stops it (a stem or a crease taken for a barline), and so does one
    it touches where it was found on only half the staves."""
    def system(shift: float, n: int = 4):
        staves = [Staff(top=TOP + 100 * i) for i in range(n)]
        for i, st in enumerate(staves):
            _four_quarters(st, 4)
            bar = st.barline()
            if i == n - 1:
                st.symbols.remove(bar)
                last = next(h for h in reversed(st.symbols) if h.cls == "notehead_black")
                dx = bar.box[0] + shift - last.box[2]
                last.box = (last.box[0] + dx, last.box[1], last.box[2] + dx, last.box[3])
            _four_quarters(st, 4)
            st.barline("barline_final")
        return transcribe(*staves)[0]

    assert [len(r) for r in names(system(2.0), part=3)] == [4, 4]   # 1.35 px past its middle
    assert [len(r) for r in names(system(0.5 * HEAD_W["notehead_black"]), part=3)] == [8]
    assert [len(r) for r in names(system(2.0, n=2), part=1)] == [8]


def test_courtesy_time_signature_after_the_last_barline_is_no_measure():
    # a 6/8 at the end of the system, whose digits the detector took for whole notes
    s = Staff()
    _four_quarters(s, 4)
    s.barline()
    _four_quarters(s, 2)
    s.barline("barline_double")
    for p in (6, 2):
        s.note(p, "w", x=s.x - 6, advance=False)
    score, report, _ = transcribe(s)
    assert [len(r) for r in names(score)] == [4, 4]
    assert "restored_rest" not in kinds(report)


def test_a_barline_on_one_staff_where_the_other_has_a_note_is_none():
    # a crease through the lower staff, where the upper staff has its second note:
    # a barline cannot cross a note
    up, low = Staff(top=TOP), Staff(top=TOP + 100)
    for st in (up, low):
        st.x = max(up.x, low.x)
    heads = []
    for _ in range(2):
        for p in (0, 2, 4, 6):
            heads.append(up.note(p).head)
            low.note(p)
        for st in (up, low):
            st.barline()
    second = heads[1]
    cx = 0.5 * (second.box[0] + second.box[2])
    low.add("barline_single", (cx - 0.6, low.top + 0.5, cx + 0.6, low.top + 40.5))
    score, _, _ = transcribe(up, low)
    assert [len(r) for r in names(score, 0)] == [4, 4]
    assert [len(r) for r in names(score, 1)] == [4, 4]


def _halves_cut_by_a_barline(s: Staff, score: float) -> None:
    """4/4: a measure, one cut in halves by a plain barline scored ``score``, a
    measure and a final barline."""
    _four_quarters(s, 4)
    s.barline()
    s.note(2)
    s.note(2)
    cut = s.barline()
    s.symbols[s.symbols.index(cut)] = dataclasses.replace(cut, score=score)
    s.note(2)
    s.note(2)
    s.barline()
    _four_quarters(s, 0)
    s.barline("barline_final")


@pytest.mark.parametrize("score, lengths", [(0.6, [4, 4, 4]), (0.9, [4, 2, 2, 4])])
def test_a_doubtful_barline_that_cuts_a_measure_in_two_halves_is_none(score, lengths):
    # a crease read as a barline in the middle of the second measure: two short
    # measures that make one of 4/4 (a sure barline keeps them: short measures are
    # printed, and marked)
    s = Staff()
    _halves_cut_by_a_barline(s, score)
    score_, report, _ = transcribe(s)
    assert [len(r) for r in names(score_)] == lengths
    assert ("split_measure" in kinds(report)) == (len(lengths) == 3)
    assert_valid(score_)


def test_measures_after_a_time_change_in_the_system_are_weighed_in_its_meter():
    # 4/4, then 2/4 printed after the first measure: two measures of 2/4 whose
    # barline the detector doubted make one of 4/4 together, but are measures of
    # the meter in force there and stay apart
    s = Staff()
    _four_quarters(s, 4)
    s.barline()
    s.time(2, 4)
    s.x += 40
    s.note(2)
    s.note(2)
    cut = s.barline()
    s.symbols[s.symbols.index(cut)] = dataclasses.replace(cut, score=0.5)
    s.note(4)
    s.note(4)
    s.barline("barline_final")
    score_, report, _ = transcribe(s)
    assert [len(r) for r in names(score_)] == [4, 2, 2]
    assert "split_measure" not in kinds(report)
    assert_valid(score_)


@pytest.mark.parametrize("upper, lengths", [(0.4, [4, 4, 4]), (0.9, [4, 2, 2, 4])])
def test_a_barline_sure_on_one_staff_only_that_cuts_measures_in_halves_is_none(upper, lengths):
    # an arpeggio rolling a chord on both staves in mid-measure: read as a sure
    # barline on the lower staff and a doubtful one on the upper; the column is as
    # sure as its staves' median
    up, low = Staff(top=TOP), Staff(top=TOP + 100)
    _halves_cut_by_a_barline(up, upper)
    _halves_cut_by_a_barline(low, 0.9)
    score_, report, _ = transcribe(up, low)
    for part in (0, 1):
        assert [len(r) for r in names(score_, part)] == lengths
    assert ("split_measure" in kinds(report)) == (len(lengths) == 3)


@pytest.mark.parametrize("short_measures", [5, 3])
def test_a_run_of_equally_short_measures_is_a_time_change_not_seen(short_measures):
    # 3/4, then 2/4 whose time signature the detector missed: four or more measures
    # in a row of two quarters are kept as they are; fewer get their rests restored
    # (but the last, which may end a piece short)
    s = Staff(time=(3, 4))
    for _ in range(2):
        for p in (0, 2, 4):
            s.note(p)
        s.barline()
    for _ in range(short_measures):
        s.note(2)
        s.note(4)
        s.barline()
    score, report, _ = transcribe(s)
    short = rhythm(score)[2:]
    if short_measures >= 4:
        assert all(r == [(0.0, 1.0), (1.0, 1.0)] for r in short)
        assert "unseen_time_change" in kinds(report)
    else:
        assert all(sum(d for _, d in r) == 3.0 for r in short[:-1])  # (the last may end short)
        assert "unseen_time_change" not in kinds(report)
    assert_valid(score)


def _cut_at_the_right(width_past_end_ss: float, after_barline=None, run_ss: float = 2.0):
    """Two measures, a barline, and the staff running on ``run_ss`` staff spaces to
    its end; the page image ends ``width_past_end_ss`` after that."""
    s = Staff()
    _four_quarters(s, 4)
    s.barline()
    _four_quarters(s, 2)
    bar = s.barline()
    if after_barline:
        after_barline(s)
    end = bar.box[2] + run_ss * SS
    lines = [straight_staff(0, x0=X0, x1=end, top=s.top, staff_space=SS, system=0)]
    g = build_graph(s.symbols, lines, [[0]], width=end + width_past_end_ss * SS)
    return score_from_graphs([g])


def test_a_measure_the_photo_cut_off_at_the_right_is_kept_as_rests():
    # the lines run on past the last barline out of the photo: a measure lies beyond
    score, report = _cut_at_the_right(1.0)
    assert [len(r) for r in names(score)] == [4, 4, 0]
    assert rhythm(score)[-1] == [(0.0, 4.0)]
    assert "cut_measure" in kinds(report)
    assert_valid(score)
    # the same staff ending well inside the photo: its last barline ends the line
    score, report = _cut_at_the_right(10.0)
    assert [len(r) for r in names(score)] == [4, 4]
    assert "cut_measure" not in kinds(report)
    # a courtesy time signature after the barline ends the line too
    score, report = _cut_at_the_right(1.0, after_barline=lambda s: s.time(3, 4))
    assert [len(r) for r in names(score)] == [4, 4]
    # so does a long empty run: a cut measure's first note would show in it (the
    # lines drawn on past the system's last barline, as under a coda sign over it)
    score, report = _cut_at_the_right(1.0, run_ss=4.0)
    assert [len(r) for r in names(score)] == [4, 4]
    assert "cut_measure" not in kinds(report)


def test_grand_staff_is_one_part_with_two_staves():
    up, low = Staff(top=TOP, fifths=1), Staff(top=TOP + 100, clef="clef_f", fifths=1)
    for p in (0, 2, 4, 6):
        up.note(p)
    low.x = up.x = max(up.x, low.x)
    x = X0 + 90
    for i, p in enumerate((0, 4)):
        low.note(p, "h", x=x + 60 * i, advance=False)
    low.x = up.x
    for st in (up, low):
        st.barline("barline_final")
    score, _, _g = transcribe(up, low, braced=True)
    assert len(score.parts) == 2
    assert all(isinstance(p, music21.stream.PartStaff) for p in score.parts)
    groups = list(score.getElementsByClass("StaffGroup"))
    assert len(groups) == 1 and groups[0].symbol == "brace"
    assert names(score, 0) == [["E4", "G4", "B4", "D5"]]
    assert names(score, 1) == [["G2", "D3"]]
    assert_valid(score)


# ----------------------------------------------------------------------- repeats

def _treble_and_bass(time: tuple[int, int] | None = None) -> tuple[Staff, Staff]:
    """A treble staff and a bass staff 85 px below it, each starting with ``time``."""
    up, low = Staff(top=TOP), Staff(top=TOP + 85, clef="clef_f")
    if time:
        for st in (up, low):
            st.time(*time)
    return up, low


def _four_quarters(s: Staff, p: int) -> None:
    for _ in range(4):
        s.note(p)


def test_repeat_barlines_and_voltas():
    s = Staff()
    _four_quarters(s, 0)                          # m1
    s.barline("barline_repeat_start")
    _four_quarters(s, 2)                          # m2  |:
    s.barline()
    x_v1 = s.x - 12
    _four_quarters(s, 4)                          # m3  1.
    end1 = s.barline("barline_repeat_end")
    s.volta(x_v1, end1.box[2], "1.")
    x_v2 = s.x - 12
    _four_quarters(s, 6)                          # m4  2.
    end2 = s.barline()
    s.volta(x_v2, end2.box[0], "2.")
    _four_quarters(s, 8)                          # m5
    s.barline("barline_final")
    score, _report, _ = transcribe(s)
    ms = measures(score)
    assert len(ms) == 5
    assert isinstance(ms[1].leftBarline, bar.Repeat) and ms[1].leftBarline.direction == "start"
    assert isinstance(ms[2].rightBarline, bar.Repeat) and ms[2].rightBarline.direction == "end"
    brackets = list(score.recurse().getElementsByClass(spanner.RepeatBracket))
    spans = sorted((str(b.number), [m.number for m in b.getSpannedElements()]) for b in brackets)
    assert spans == [("1", [3]), ("2", [4])]
    assert unfold_measures(score) == [0, 1, 2, 1, 3, 4]
    xml = assert_valid(score)
    # it survives a MusicXML round trip with the same playing order
    again = music21.converter.parse(xml, format="musicxml")
    assert unfold_measures(again) == [0, 1, 2, 1, 3, 4]


def test_volta_bracket_without_a_readable_number_counts_on():
    s = Staff()
    s.barline("barline_repeat_start")
    _four_quarters(s, 2)
    s.barline()
    x_v1 = s.x - 12
    _four_quarters(s, 4)
    end1 = s.barline("barline_repeat_end")
    s.volta(x_v1, end1.box[2], "1.")
    x_v2 = s.x - 12
    _four_quarters(s, 6)
    end2 = s.barline("barline_final")
    s.volta(x_v2, end2.box[0], "")              # OCR read nothing: the next ending
    score, _, _ = transcribe(s)
    assert unfold_measures(score) == [0, 1, 0, 2]


def test_ds_al_coda():
    s = Staff()
    _four_quarters(s, 0)                          # m1
    s.barline()
    s.sign("segno", s.x - 12)
    _four_quarters(s, 2)                          # m2: segno
    s.barline()
    _four_quarters(s, 4)                          # m3: To Coda at its end
    b3 = s.barline()
    s.word("text_tocoda", b3.box[0], "To Coda", width=58)
    _four_quarters(s, 5)                          # m4: D.S. al Coda at its end
    b4 = s.barline("barline_double")
    s.word("text_dalsegno", b4.box[0], "D.S. al Coda", width=87)
    s.sign("coda", s.x - 12)
    _four_quarters(s, 6)                          # m5: the coda
    s.barline("barline_final")
    score, _report, _ = transcribe(s)
    ms = measures(score)
    assert len(ms) == 5
    from music21 import repeat
    assert ms[1].getElementsByClass(repeat.Segno)
    assert ms[3].getElementsByClass(repeat.DalSegnoAlCoda)
    assert ms[4].getElementsByClass(repeat.Coda)
    assert unfold_measures(score) == [0, 1, 2, 3, 1, 2, 4]
    xml = assert_valid(score)
    assert unfold_measures(music21.converter.parse(xml, format="musicxml")) == [0, 1, 2, 3, 1, 2, 4]


def test_dc_al_fine():
    s = Staff()
    _four_quarters(s, 0)
    s.barline()
    _four_quarters(s, 2)                          # m2: Fine
    b2 = s.barline("barline_double")
    s.word("text_fine", b2.box[0], "Fine", width=33)
    _four_quarters(s, 4)                          # m3: D.C. al Fine
    b3 = s.barline("barline_final")
    s.word("text_dacapo", b3.box[0], "D.C. al Fine", width=94)
    score, _, _ = transcribe(s)
    assert unfold_measures(score) == [0, 1, 2, 0, 1]
    assert_valid(score)


def test_midi_plays_the_unfolded_order(tmp_path):
    import mido

    s = Staff()
    s.barline("barline_repeat_start")
    for p in (0, 2, 4, 6):
        s.note(p)
    s.barline("barline_repeat_end")
    s.note(8, "w")
    s.x += 20
    s.barline("barline_final")
    score, _, _ = transcribe(s)
    out = tmp_path / "r.mid"
    played = export.write_midi(score, out)
    assert [n.pitch for n in played] == [64, 67, 71, 74] * 2 + [77]
    mid = mido.MidiFile(str(out))
    ons = [m.note for t in mid.tracks for m in t if m.type == "note_on" and m.velocity > 0]
    assert ons == [64, 67, 71, 74] * 2 + [77]


def test_time_signature_digits_and_fraction_helpers():
    s = Staff(time=(6, 8))
    s.beamed([2, 3, 4])
    s.beamed([5, 4, 3])
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert time_signatures(score)[0].ratioString == "6/8"
    assert [float(n.quarterLength) for n in measures(score)[0].notes] == [0.5] * 6
    assert "implied_tuplet" not in kinds(report)
    assert Fraction(3, 1) == sum(Fraction(n.quarterLength) for n in measures(score)[0].notes)


def test_a_time_digit_also_read_as_another_digit_is_read_once():
    # the detector saw the lower "4" as a "2" too (a weaker box, overlapping it by
    # half its height): one glyph, read as its surer reading
    s = Staff(time=(4, 4))
    lower = next(x for x in s.symbols if x.cls == "time_4" and x.box[1] > s.top + 15)
    s.symbols.append(Symbol("time_2", (lower.box[0], lower.box[1] + 8, lower.box[2] + 1, lower.box[3] + 6), 0.4))
    for _ in range(4):
        s.note(4)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert time_signatures(score)[0].ratioString == "4/4"
    assert "time_unread" not in [w.kind for w in report.warnings]
    assert "time_from_content" not in kinds(report)


def _time_read_as_four_four_or(alternative: str, quarters_per_measure: int):
    s = Staff(time=(4, 4))
    upper = next(x for x in s.symbols if x.cls == "time_4" and x.box[1] < s.top + 15)
    upper.alternatives = (alternative,)
    for _ in range(4):
        for _ in range(quarters_per_measure):
            s.note(4)
        s.barline()
    s.symbols[-1].cls = "barline_final"
    return transcribe(s)


def test_a_time_digit_the_detector_also_read_as_another_is_settled_by_the_measures():
    # the upper "3" of 3/4 read as a "4", and almost as a "3": the measures hold 3
    score, report, _ = _time_read_as_four_four_or("time_3", 3)
    assert time_signatures(score)[0].ratioString == "3/4"
    assert "time_reading" in kinds(report)
    assert rhythm(score)[1] == [(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)]


def test_a_time_reading_no_measure_fits_gives_way_to_one_some_fit():
    # a blurred page: 4/4 fits none of five measures, 3/4 one of them (under
    # TIME_ALTERNATIVE_MIN_FIT), and that is the reading to keep
    s = Staff(time=(4, 4))
    upper = next(x for x in s.symbols if x.cls == "time_4" and x.box[1] < s.top + 15)
    upper.alternatives = ("time_3",)
    for quarters in (3, 5, 5, 5, 5):
        for _ in range(quarters):
            s.note(4)
        s.barline()
    s.symbols[-1].cls = "barline_final"
    score, report, _ = transcribe(s)
    assert time_signatures(score)[0].ratioString == "3/4"
    assert "time_reading" in kinds(report)


@pytest.mark.parametrize("time, lost, notes, meter", [
    ((3, 4), "upper", "4 4 4", "3/4"),   # the "3" blurred away: the measures hold three quarters
    ((6, 8), "lower", "8 8 8 8 8 8", "6/8"),   # the "8" lost: six eighths
    ((3, 8), "lower", "8 8 8", "3/8"),   # ... three eighths
])
def test_a_time_signature_read_only_in_half_is_completed_by_the_measures(time, lost, notes, meter):
    s = Staff(time=time)
    glyphs = sorted((x for x in s.symbols if x.cls.startswith("time_")), key=lambda x: x.box[1])
    s.symbols.remove(glyphs[0] if lost == "upper" else glyphs[1])
    for _ in range(4):
        if notes.startswith("8"):
            for _ in range(notes.count("8") // 3):
                s.beamed([2, 3, 4])
        else:
            for _ in notes.split():
                s.note(4)
        s.barline()
    s.symbols[-1].cls = "barline_final"
    score, report, _ = transcribe(s)
    assert time_signatures(score)[0].ratioString == meter
    assert "time_half_read" in kinds(report)
    assert "time_from_content" not in kinds(report)
    assert "time_unread" not in [w.kind for w in report.warnings]


def test_a_lone_time_digit_no_measure_agrees_with_changes_no_meter():
    # a mark in a 4/4 piece taken for a "3" of a time signature at the start of the
    # third measure: 3/4, 3/8 and 3/2 fill none of the measures, 4/4 all of them
    s = Staff(time=(4, 4))
    for m in range(4):
        if m == 2:
            s.add("time_3", (s.x, s.top + 0.5, s.x + 15, s.top + 20.5))
            s.x += 24
        for _ in range(4):
            s.note(4)
        s.barline()
    s.symbols[-1].cls = "barline_final"
    score, report, _ = transcribe(s)
    assert {ts.ratioString for ts in time_signatures(score)} == {"4/4"}
    assert "time_half_read" not in kinds(report)
    assert "time_unread" in [w.kind for w in report.warnings]


def test_the_surer_time_reading_stays_when_the_measures_fit_it():
    score, report, _ = _time_read_as_four_four_or("time_3", 4)
    assert time_signatures(score)[0].ratioString == "4/4"
    assert "time_reading" not in kinds(report)


def _measure_with_a_doubtful_rest(read_as: str, also: str):
    # 4/4: a quarter, a dotted quarter, an eighth, and a rest the detector read as
    # ``read_as`` and almost as ``also``
    s = Staff(time=(4, 4))
    s.note(4)
    s.note(4, dots=1)
    s.note(4, "8")
    rest = s.rest(read_as)
    rest.alternatives = (also,)
    s.barline("barline_final")
    return transcribe(s)


def test_a_rest_read_two_ways_takes_the_reading_that_fills_the_measure():
    score, report, _ = _measure_with_a_doubtful_rest("rest_8th", "rest_quarter")
    assert rhythm(score)[0] == [(0.0, 1.0), (1.0, 1.5), (2.5, 0.5), (3.0, 1.0)]
    assert "reread" in kinds(report)
    assert "restored_rest" not in kinds(report)


def test_a_rest_that_fills_its_measure_keeps_its_reading():
    score, report, _ = _measure_with_a_doubtful_rest("rest_quarter", "rest_8th")
    assert rhythm(score)[0][-1] == (3.0, 1.0)
    assert "reread" not in kinds(report)


def test_a_half_note_read_as_black_takes_the_reading_that_fills_the_measure():
    # a blurred half note: the detector read it black, and almost half
    s = Staff(time=(4, 4))
    s.note(4)
    doubtful = s.note(5)
    doubtful.head.alternatives = ("notehead_half",)
    s.note(4)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert rhythm(score)[0] == [(0.0, 1.0), (1.0, 2.0), (3.0, 1.0)]
    assert "reread" in kinds(report)


def test_two_blurred_half_notes_read_as_black_take_the_readings_that_fill_the_measure():
    # a blurred photo: both half notes of a measure read black, and half too
    s = Staff(time=(4, 4))
    for p in (4, 5):
        s.note(p).head.alternatives = ("notehead_half",)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert rhythm(score)[0] == [(0.0, 2.0), (2.0, 2.0)]
    assert "reread" in kinds(report)
    assert "restored_rest" not in kinds(report)

@pytest.mark.parametrize("first, fills", [(1, True), (0, False)])
def test_a_faint_flag_is_read_where_the_measure_then_fills(first, fills):
    # a small photo: the first eighth's flag seen too faintly to read (a doubtful
    # flag); it is read where the measure needs it (dotted quarter, eighth, dotted
    # quarter, eighth), not where the measure is full without it (four quarters)
    s = Staff(time=(4, 4))
    s.note(5, dots=first)
    faint = s.note(4, "8")
    s.note(5, dots=first)
    s.note(4, "8" if first else "q")
    flag = next(sym for sym in s.symbols if sym.cls == "flag_8th")
    flag.doubtful = True
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert faint.stem is not None
    if fills:
        assert rhythm(score)[0] == [(0.0, 1.5), (1.5, 0.5), (2.0, 1.5), (3.5, 0.5)]
    else:
        assert rhythm(score)[0] == [(0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (3.0, 1.0)]
    assert ("reread" in kinds(report)) == fills
    assert "overfull" not in kinds(report)


@pytest.mark.parametrize("height", [156.0, 0.0])
def test_notes_whose_stems_run_out_of_the_photo_take_the_beams_that_fill_the_measure(height):
    """A staff at the photo's bottom edge (the page image 156 px tall): the stems of
    four eighths in 2/4 point down out of it, their beam lost with the rest of the
    photo, and the first one's stem is too short to see (a notehead alone on the
    bottom line). Read as quarters they hold twice the measure; as stems that may
    carry a beam, they fill it. Where the image's height is not known, nothing is
    assumed."""
    s = Staff(time=(2, 4))
    y = s.y(0)
    s.add("notehead_black", (s.x, y - HEAD_H / 2, s.x + HEAD_W["notehead_black"], y + HEAD_H / 2))
    s.x += spacing(0.5)
    for p in (2, 4, 1):
        s.note(p, "8", stem="down", flag=False)
    s.barline("barline_final")
    score, report, g = transcribe(s, height=height)
    if height:
        assert rhythm(score) == [[(0.0, 0.5), (0.5, 0.5), (1.0, 0.5), (1.5, 0.5)]]
        assert "reread" in kinds(report) and "overfull" not in kinds(report)
    else:
        assert [length for _, length in rhythm(score)[0]] == [1.0, 1.0, 1.0, 1.0]
        assert "reread" not in kinds(report)


@pytest.mark.parametrize("also, length", [(("notehead_whole",), 4.0), ((), 2.0)])
def test_a_whole_chord_read_as_half_takes_the_reading_that_fills_the_measure(also, length):
    # a blurred whole-note chord (no stem) read as half noteheads, and almost as
    # whole ones: the whole fills the measure; read only as half it stays half
    s = Staff(time=(4, 4))
    for _ in range(4):
        s.note(4)
    s.barline()
    chord = s.note(2, "w", chord=(4,))
    for head in chord.heads:
        head.cls = "notehead_half"
        head.alternatives = also
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert rhythm(score)[1][0] == (0.0, length)
    assert ("reread" in kinds(report)) == bool(also)
    assert ("irregular_measure" in kinds(report)) != bool(also)



def test_a_whole_note_held_under_four_quarters_is_a_voice_of_its_own():
    # piano music: D5 quarters, stems up, over an F#4 whole note in the first column
    s = Staff(time=(4, 4))
    x = s.x
    s.note(-1, "w", x=x + 1, advance=False)
    for _ in range(4):
        s.note(6, stem="up")
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    m = measures(score)[0]
    assert len(m.voices) == 2
    assert [[(n.nameWithOctave, n.quarterLength) for n in v.notes] for v in m.voices] == \
        [[("D5", 1.0)] * 4, [("D4", 4.0)]]
    assert "irregular_measure" not in kinds(report)


def test_a_held_whole_note_does_not_lengthen_the_meter_read_from_the_contents():
    # no time signature printed (a photo of a later line): the whole note is
    # held under the quarters, so the measures hold 4 quarter notes, not 8
    s = Staff(time=None)
    for _ in range(2):
        x = s.x
        s.note(-1, "w", x=x + 1, advance=False)
        for _ in range(4):
            s.note(6, stem="up")
        s.barline()
    s.symbols[-1].cls = "barline_final"
    score, report, _ = transcribe(s)
    assert time_signatures(score)[0].ratioString == "4/4"
    assert all(len(m.voices) == 2 for m in measures(score))


def test_a_beamed_group_whose_stems_turn_stays_in_one_voice():
    from omr.notation.rhythm import Event
    from omr.notation.voices import split_voices

    eighth = Fraction(1, 2)
    run = [Event(x=10 + 10 * i, heads=[i], direction=d, base=eighth, beamed=True, beam_group=7, y=50)
           for i, d in enumerate(["up", "up", "down", "up"])]  # an arpeggio crossing the middle line
    held = Event(x=10, heads=[9], direction="down", base=Fraction(2), y=80)  # the lower voice
    voices = split_voices(run + [held], bar=Fraction(2), staff_space=10, middle_y=60)
    assert voices[1] == run and voices[2] == [held]


def test_a_flat_amid_a_measures_notes_is_no_key_change():
    # an accidental the detector took for a key signature, between two notes
    s = Staff(fifths=0)
    s.note(4)
    s.add("key_flat", (s.x, s.y(4) - 0.7 * 27.2, s.x + 8.3, s.y(4) + 0.3 * 27.2))
    s.x += 30
    s.note(4)
    s.note(4)
    s.note(4)
    s.barline()
    for _ in range(4):
        s.note(4)                  # B4, still no flat
    s.barline("barline_final")
    score, _report, _ = transcribe(s)
    assert names(score)[1] == ["B4"] * 4
    assert all(k.sharps == 0 for k in score.parts[0].recurse().getElementsByClass("KeySignature"))


def test_a_flat_in_brackets_above_the_staff_after_a_barline_is_no_key_change():
    # an editor's flat printed above the staff at a measure's start, which the
    # detector also read as a key flat: a key change would begin on B4, not B5
    s = Staff(fifths=0)
    for _ in range(4):
        s.note(4)
    s.barline()
    s.add("key_flat", (s.x, s.y(11) - 0.7 * 27.2, s.x + 8.3, s.y(11) + 0.3 * 27.2))
    s.x += 30
    for _ in range(4):
        s.note(4)                  # B4, no flat
    s.barline("barline_final")
    score, _report, _ = transcribe(s)
    assert names(score) == [["B4"] * 4, ["B4"] * 4]
    assert all(k.sharps == 0 for k in score.parts[0].recurse().getElementsByClass("KeySignature"))


def test_a_beam_group_read_one_level_too_deep_takes_the_detectors_count():
    from omr.notation.implied import reread
    from omr.notation.rhythm import Event

    # a quarter, a half, and four sixteenths whose middle two the image counted as
    # 32nds (blur merged a slur into their beam): 3 7/8, not 4
    q, h = Event(x=0, heads=[0], base=Fraction(1)), Event(x=10, heads=[1], base=Fraction(2))
    group = [Event(x=20 + i, heads=[2 + i], base=Fraction(1, 4), beamed=True, beam_group=5) for i in range(4)]
    for e in group[1:3]:
        e.base, e.alternatives = Fraction(1, 8), (Fraction(1, 4),)
    events = [q, h, *group]
    assert reread(events, bar=Fraction(4))
    assert [e.base for e in group] == [Fraction(1, 4)] * 4
    assert sum((e.duration for e in events), Fraction(0)) == 4


def _flagged_measure(first_alt: bool):
    """A 4/4 measure as --extras 000021-p1 read it: a 16th (its flag also seen as an
    eighth's, when ``first_alt``), two eighths whose flags were also seen as 16ths',
    a 16th dotted by grain (doubtful), a dotted eighth, a 16th and a half: 4 5/8."""
    from omr.notation.rhythm import Event

    def note(i, base, **kw):
        return Event(x=float(i), heads=[i], base=base, **kw)

    sixteenth, eighth = Fraction(1, 4), Fraction(1, 2)
    events = [note(0, sixteenth, alternatives=(eighth,) if first_alt else ()),
              note(1, eighth, alternatives=(sixteenth,)), note(2, eighth, alternatives=(sixteenth,)),
              note(3, sixteenth, dots=1, doubtful_dot=True), note(4, eighth, dots=1),
              note(5, sixteenth), note(6, Fraction(2))]
    return events


def test_the_fewest_doubted_readings_that_fill_a_measure_are_taken_where_only_one_set_does():
    from omr.notation.implied import reread

    events = _flagged_measure(first_alt=True)
    assert sum((e.duration for e in events), Fraction(0)) == Fraction(37, 8)
    assert reread(events, bar=Fraction(4)) == [
        "3 notes and rests read as the detector's other readings of them, or without a doubtful dot: "
        "that fills the measure"]
    assert [e.duration for e in events] == [Fraction(1, 4)] * 4 + [Fraction(3, 4), Fraction(1, 4), Fraction(2)]
    assert [e.inferred for e in events] == ["", "reread", "reread", "reread", "", "", ""]
    # with an undotted eighth for the dotted one, its flag also seen as a 16th's, three
    # sets of two fill it just as well (any of the three eighths, with the dot): none
    events = _flagged_measure(first_alt=False)
    events[4].dots, events[4].alternatives = 0, (Fraction(1, 4),)
    assert sum((e.duration for e in events), Fraction(0)) == Fraction(35, 8)
    assert reread(events, bar=Fraction(4)) == []
    assert not any(e.inferred for e in events)


def test_the_32nds_of_a_64th_group_that_lost_a_line_at_most_stems_are_read_together():
    from omr.notation.implied import reread
    from omr.notation.rhythm import Event

    # a 4/4 measure: four 64ths, a 16th, an eighth, a quarter and a half. Blur left
    # the fourth beam line at one 64th only, so three read as 32nds (their
    # neighbours offer the 64th, rhythm._deep_beam_alternatives), and the 16th next
    # to a 32nd offers a 32nd: those of one length with a shorter reading go together
    lengths = [Fraction(1, 8), Fraction(1, 8), Fraction(1, 16), Fraction(1, 8), Fraction(1, 4)]
    group = [Event(x=i, heads=[i], base=b, beamed=True, beam_group=5) for i, b in enumerate(lengths)]
    for e in group[:2] + group[3:4]:
        e.alternatives = (Fraction(1, 16),)
    group[2].alternatives = (Fraction(1, 8),)       # more lines than both neighbours
    group[4].alternatives = (Fraction(1, 8),)       # fewer than a 32nd neighbour
    rest = [Event(x=10, heads=[10], base=Fraction(1, 2)), Event(x=11, heads=[11], base=Fraction(1)),
            Event(x=12, heads=[12], base=Fraction(2))]
    events = group + rest
    assert reread(events, bar=Fraction(4))
    assert [e.base for e in group] == [Fraction(1, 16)] * 4 + [Fraction(1, 4)]


def test_slanted_barlines_of_a_photo_left_in_perspective_line_up():
    # the page outline was not in the photo, so its perspective stayed: each barline
    # sits 30 px further left on the lower staff than on the upper one
    up, low = Staff(top=TOP), Staff(top=TOP + 100)
    for s in (up, low):
        for k in range(3):
            _four_quarters(s, 4 + k)
            s.barline("barline_final" if k == 2 else "barline_single")
    low.symbols = [Symbol(s.cls, (s.box[0] - 30, s.box[1], s.box[2] - 30, s.box[3]), s.score, s.text)
                   if s.cls != "clef_g" else s for s in low.symbols]
    score, report, g = transcribe(up, low)
    for part in (0, 1):
        assert [[d for _, d in m] for m in rhythm(score, part)] == [[1.0] * 4] * 3
    assert not report.warnings
    # the graph itself keeps the page's coordinates
    assert min(n.box[0] for n in g.nodes if n.staff == 1 and n.role == "barline") < \
        min(n.box[0] for n in g.nodes if n.staff == 0 and n.role == "barline") - 20


def test_measure_one_staff_overfills_while_the_other_fills_the_bar_is_no_irregular_measure():
    # a triplet not seen makes the upper staff read 5 quarters in a 4/4 measure; the
    # lower staff fills the bar exactly, so the measure is a normal one and the
    # lower staff's notes keep their beats
    up, low = Staff(top=TOP), Staff(top=TOP + 100)
    for st in (up, low):
        st.time(4, 4)
        st.x += 20
    for _ in range(5):
        up.note(4)
    low.note(4, "h")
    low.note(4, "h")
    for bar_cls in ("barline_single", "barline_final"):
        x = max(up.x, low.x)
        for st in (up, low):
            st.x = x
            st.barline(bar_cls)
            if bar_cls == "barline_single":
                _four_quarters(st, 4)
    score, report, _ = transcribe(up, low)
    assert "irregular_measure" not in kinds(report)
    assert [m.duration.quarterLength for m in measures(score, 1)] == [4.0, 4.0]
    assert rhythm(score, 1)[0] == [(0.0, 2.0), (2.0, 2.0)]
    assert_valid(score)



def test_measure_whose_noteheads_were_missed_is_still_a_measure():
    # the detector saw the stems of the middle measure but not its noteheads: the
    # measure is kept (filled with rest), so the measures after it keep their numbers
    s = Staff()
    _four_quarters(s, 4)
    s.barline()
    for _ in range(2):
        s.add("stem", (s.x + 12, s.top + 5, s.x + 13, s.top + 38))
        s.x += 30
    s.barline()
    _four_quarters(s, 6)
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert len(measures(score)) == 3
    assert names(score)[2] == ["D5"] * 4
    assert_valid(score)


def _graph(*staves: Staff, braced: bool = True):
    """The graph of one page holding one system made of ``staves``."""
    x1 = max(max(s.box[2] for s in st.symbols) for st in staves) + 2
    lines = [straight_staff(i, x0=X0, x1=x1, top=st.top, staff_space=SS, system=0)
             for i, st in enumerate(staves)]
    symbols = [s for st in staves for s in st.symbols]
    if braced and len(staves) > 1:
        symbols.append(Symbol("brace", (X0 - 14, staves[0].top - 1, X0 - 3, staves[-1].top + 41)))
    return build_graph(symbols, lines, [list(range(len(staves)))])


def test_a_system_short_of_a_staff_keeps_the_other_staves_in_their_parts():
    # page 1: a piano system whose treble staff was cut off by the photo's top edge;
    # page 2: the whole system
    low1 = Staff(top=TOP, clef="clef_f")
    for p in (4, 2, 0, 2):
        low1.note(p)
    low1.barline("barline_final")
    up2, low2 = Staff(top=TOP, time=None), Staff(top=TOP + 100, clef="clef_f", time=None)
    for p in (0, 2, 4, 2):
        up2.note(p)
        low2.note(p + 2)
    low2.x = up2.x = max(low2.x, up2.x)
    for st in (up2, low2):
        st.barline("barline_final")
    score, report = score_from_graphs([_graph(low1), _graph(up2, low2)])
    assert len(score.parts) == 2
    assert names(score, 1) == [["D3", "B2", "G2", "B2"], ["B2", "D3", "F3", "D3"]]
    assert names(score, 0)[1] == ["E4", "G4", "B4", "G4"]
    left_out = measures(score, 0)[0].notesAndRests
    assert all(n.isRest for n in left_out) and sum(n.quarterLength for n in left_out) == 4
    assert [(i.page, i.measure) for i in report.inferred if i.kind == "missing_staff"] == [(1, 1)]
    assert_valid(score)


def test_a_left_out_staff_is_matched_by_the_clefs():
    # a three-staff system (G, C, F) then one with the middle staff left out
    a, b, c = Staff(top=TOP), Staff(top=TOP + 100, clef="clef_c"), Staff(top=TOP + 200, clef="clef_f")
    for st, p in ((a, 6), (b, 2), (c, 4)):
        st.note(p, "w")
    for st in (a, b, c):
        st.barline("barline_final")
    d, e = Staff(top=TOP, time=None), Staff(top=TOP + 100, clef="clef_f", time=None)
    for st, p in ((d, 5), (e, 3)):
        st.note(p, "w")
    for st in (d, e):
        st.barline("barline_final")
    score, _ = score_from_graphs([_graph(a, b, c, braced=False), _graph(d, e, braced=False)])
    assert len(score.parts) == 3
    assert names(score, 0)[1] == ["C5"] and names(score, 2)[1] == ["C3"]
    assert all(n.isRest for n in measures(score, 1)[1].notesAndRests)


def test_a_piano_introduction_without_the_voice_stays_in_the_piano_part():
    # a song: a voice (G) over a braced piano (G, F), then a system of the piano
    # alone (its G and F staves braced). By clefs alone the G staff could be the
    # voice's or the piano's; the brace says the piano's.
    a, b, c = Staff(top=TOP), Staff(top=TOP + 100), Staff(top=TOP + 200, clef="clef_f")
    d, e = Staff(top=TOP + 350, time=None), Staff(top=TOP + 450, clef="clef_f", time=None)
    for st, p in ((a, 6), (b, 2), (c, 4), (d, 5), (e, 3)):
        st.note(p, "w")
        st.barline("barline_final")
    staves = (a, b, c, d, e)
    x1 = max(max(s.box[2] for s in st.symbols) for st in staves) + 2
    lines = [straight_staff(i, x0=X0, x1=x1, top=st.top, staff_space=SS, system=0 if i < 3 else 1)
             for i, st in enumerate(staves)]
    symbols = [s for st in staves for s in st.symbols]
    for top, bottom in ((b, c), (d, e)):
        symbols.append(Symbol("brace", (X0 - 14, top.top - 1, X0 - 3, bottom.top + 41)))
    score, report = score_from_graphs([build_graph(symbols, lines, [[0, 1, 2], [3, 4]])])
    assert len(score.parts) == 3  # the voice, and the piano's two staves
    assert all(n.isRest for n in measures(score, 0)[1].notesAndRests)
    assert names(score, 1)[1] == ["C5"] and names(score, 2)[1] == ["C3"]
    assert [i.detail for i in report.inferred if i.kind == "missing_staff"] == [
        "a system of 2 staves where the piece has 3: staff 1 taken as left out (rests)"]
    assert_valid(score)


def test_a_short_measure_most_staves_agree_on_is_kept_short():
    # 4/4 with a measure split at a phrase barline into 3 + 1 beats; the third staff
    # misread one of its quarters as a dotted quarter (3.5 beats)
    a, b, c = Staff(top=TOP), Staff(top=TOP + 100), Staff(top=TOP + 200, clef="clef_f")
    for st in (a, b, c):
        for p in (2, 4, 2, 0):
            st.note(p)
    a.x = b.x = c.x = max(a.x, b.x, c.x)
    for st in (a, b, c):
        st.barline()
    for st in (a, b):
        for p in (4, 3, 2):
            st.note(p)
    c.note(4, dots=1)
    c.note(3)
    c.note(2)
    a.x = b.x = c.x = max(a.x, b.x, c.x)
    for st in (a, b, c):
        st.barline("barline_double")
        st.note(1)
        st.barline("barline_final")
    score, report, _ = transcribe(a, b, c)
    assert rhythm(score, 0)[1] == [(0.0, 1.0), (1.0, 1.0), (2.0, 1.0)]
    assert rhythm(score, 0)[2] == [(0.0, 1.0)]
    assert kinds(report).count("restored_rest") == 0
    assert "overfull" in [w.kind for w in report.warnings]


def test_a_shortened_tuplet_note_keeps_the_length_its_measure_adds_up_with():
    from omr.notation.implied import trim_overfull
    from omr.notation.rhythm import Event
    from omr.score import _duration

    # a duplet eighth (2 in the time of 3) crossing the bar by a quarter is cut to an
    # eighth's length; no single note type with that tuplet spells it
    events = [Event(x=0.0, base=Fraction(7, 2)), Event(x=10.0, base=Fraction(3, 4), tuplet=(2, 3))]
    trim_overfull(events, bar=Fraction(4))
    assert events[-1].duration == Fraction(1, 2)
    assert _duration(events[-1]).quarterLength == 0.5


def test_a_duplet_printed_earlier_is_not_applied_to_an_overfull_measure():
    from omr.notation.implied import implied_tuplets
    from omr.notation.rhythm import Event

    # 2:3 lengthens its notes: it cannot make an overfull measure fit
    duplet = ((Fraction(1, 2), 0), (Fraction(1, 2), 0), (2, 3))
    events = [Event(x=10.0 * i, heads=[i], base=Fraction(1, 2), beamed=True, beam_group=i // 2) for i in range(6)]
    assert implied_tuplets(events, bar=Fraction(2), shapes=[duplet]) == []
    assert all(e.tuplet is None for e in events)
    # a triplet printed earlier still applies
    triplet = ((Fraction(1, 2), 0),) * 3 + ((3, 2),)
    events = [Event(x=10.0 * i, heads=[i], base=Fraction(1, 2), beamed=True, beam_group=i // 3) for i in range(6)]
    assert implied_tuplets(events, bar=Fraction(2), shapes=[triplet])
    assert all(e.tuplet == (3, 2) for e in events)


def test_a_bracketed_triplet_of_flagged_notes_applies_to_later_runs_on_its_beats():
    from omr.notation.implied import implied_tuplets
    from omr.notation.rhythm import Event

    # vocal music: two eighths, a bracketed triplet of flagged eighths, then two more
    # triplets printed without their bracket (an eighth rest in the last): 4/4
    triplet = ((Fraction(1, 2), 0),) * 3 + ((3, 2),)
    events = [Event(x=10.0 * i, heads=[i], base=Fraction(1, 2)) for i in range(11)]
    events[8] = Event(x=80.0, rest=8, base=Fraction(1, 2))
    for e in events[2:5]:
        e.tuplet, e.tuplet_printed = (3, 2), True
    assert implied_tuplets(events, bar=Fraction(4), shapes=[triplet]) == [
        "a 3:2 tuplet printed earlier applies to 2 more groups"]
    assert [e.tuplet for e in events] == [None, None] + [(3, 2)] * 9
    # a run must start on one of the tuplet's beats: three eighths after a dotted
    # quarter, then a half, are none (the measure stays overfull for later rules)
    events = [Event(x=10.0 * i, heads=[i], base=Fraction(1, 2)) for i in range(1, 4)]
    events = [Event(x=0.0, heads=[0], base=Fraction(1), dots=1)] + events + [Event(x=40.0, heads=[4], base=Fraction(2))]
    assert implied_tuplets(events, bar=Fraction(4), shapes=[triplet]) == []
    assert all(e.tuplet is None for e in events)
    # with no tuplet printed before, unbeamed eighths are never guessed triplets
    events = [Event(x=10.0 * i, heads=[i], base=Fraction(1, 2)) for i in range(9)]
    assert implied_tuplets(events, bar=Fraction(4), shapes=[]) == []


def test_a_hidden_time_signature_of_odd_length_is_made_and_exported():
    # an irregular measure of unfinished tuplets can last 119/40 quarters: music21
    # has no default beat partition for 119/160 and raised MeterException (a real
    # photo crashed the pipeline); it is now one beat, and the score still exports
    from music21 import note, stream

    from omr.score import _time_signature

    ts = _time_signature("119/160")
    assert ts.barDuration.quarterLength == Fraction(119, 40)
    assert _time_signature("3/4").beatCount == 3
    m = stream.Measure(number=1)
    m.insert(0, ts)
    m.append(note.Note("C4", quarterLength=Fraction(119, 40)))
    part = stream.Part([m])
    assert_valid(stream.Score([part]))


def test_a_printed_tuplet_over_two_beams_gives_its_first_beam_s_shape_whatever_its_id():
    """One printed "6" over two beamed triplets: the shape later groups are matched
    against is the first beam's three eighths, also when that beam is the graph's
    node 0 (an id that reads false)."""
    from omr.notation.rhythm import Event
    from omr.score import _printed_shapes

    for first_beam in (0, 7):
        events = [Event(x=10.0 * i, heads=[i], base=Fraction(1, 2), beamed=True,
                        beam_group=first_beam if i < 3 else 9, tuplet=(3, 2), tuplet_printed=True)
                  for i in range(6)]
        assert _printed_shapes(events) == [((Fraction(1, 2), 0),) * 3 + ((3, 2),)]


def _measure_with_a_dot(score_of_dot: float):
    # a quarter note dotted by a speck of grain beside it: 4 1/2 quarters in 4/4
    s = Staff(time=(4, 4))
    s.note(4)
    s.note(3, dots=1)
    dot = s.symbols[-1]
    assert dot.cls == "augmentation_dot"
    dot.score = score_of_dot
    s.note(4)
    s.note(5)
    s.barline("barline_final")
    return transcribe(s)


def test_a_doubtful_dot_that_overfills_its_measure_is_none():
    """--extras 000035-p1: grain beside the last note of a triplet read as a dot
    (0.35) made the group no triplet's shape and the measure overfull."""
    score, report, _ = _measure_with_a_dot(0.35)
    assert rhythm(score)[0] == [(0.0, 1.0), (1.0, 1.0), (2.0, 1.0), (3.0, 1.0)]
    assert "reread" in kinds(report)
    # a sure dot stays, however the measure adds up
    score, report, _ = _measure_with_a_dot(0.9)
    assert (1.0, 1.5) in rhythm(score)[0]
    assert "reread" not in kinds(report)


def test_a_doubtful_second_dot_beside_a_chords_sure_dots_that_overfills_is_none():
    """A real photo (oemer's `tabi`, bass, 6/8): a dotted half chord whose dots
    the detector saw surely, and the start of a tie just right of them read as a
    second dot (0.35): double-dotted, the chord overfilled its measure. The last
    column of dots is the doubtful one; without it the measure fills."""
    s = Staff(time=(3, 4))
    s.note(3, "h", dots=2, chord=(5,))
    dots = [d for d in s.symbols if d.cls == "augmentation_dot"]
    assert len(dots) == 2
    dots[0].score, dots[1].score = 0.9, 0.35
    s.barline("barline_final")
    score, report, _ = transcribe(s)
    assert [d for _, d in rhythm(score)[0]] == [3.0]
    assert "reread" in kinds(report)
    # both dots sure: a double-dotted chord, cut to fit
    dots[1].score = 0.9
    score, report, _ = transcribe(s)
    assert "reread" not in kinds(report)


def _eighths_and_quarters(*, dotted_last: bool = False, doubtful: bool = False):
    """Three beamed eighths (no number read over them) and two quarters: 7/2 in 3/4."""
    from omr.notation.rhythm import Event

    group = [Event(x=float(i), heads=[i], base=Fraction(1, 2), beamed=True, beam_group=1) for i in range(3)]
    if dotted_last:
        group[-1].dots, group[-1].doubtful_dot = 1, doubtful
    return group + [Event(x=float(i), heads=[i], base=Fraction(1)) for i in (3, 4)]


def test_three_beamed_eighths_that_overfill_are_a_triplet_though_another_shape_was_printed():
    """--extras 000035-p1: the piece's printed triplets were of quarter notes, so a
    group of three beamed eighths whose number the detector missed was tried as no
    tuplet at all, and its measure overfilled."""
    from omr.notation.implied import implied_tuplets

    quarters = [((Fraction(1), 0),) * 3 + ((3, 2),)]
    events = _eighths_and_quarters()
    assert implied_tuplets(events, bar=Fraction(3), shapes=quarters)
    assert [e.tuplet for e in events] == [(3, 2)] * 3 + [None] * 2
    # a doubtful dot on the group's last note (grain) is none; a sure one stays, and
    # the group is then no triplet
    events = _eighths_and_quarters(dotted_last=True, doubtful=True)
    assert implied_tuplets(events, bar=Fraction(3), shapes=quarters)
    assert sum((e.duration for e in events), Fraction(0)) == 3 and events[2].dots == 0
    events = _eighths_and_quarters(dotted_last=True)
    assert not implied_tuplets(events, bar=Fraction(3), shapes=quarters)
    assert events[2].dots == 1


def test_a_metronome_mark_over_tempo_words_is_one_tempo_the_numbers():
    """The example photo (Maple Leaf Rag): "♩ = 100" printed over "Tempo di marcia"
    (the metronome mark found by omr.metronome, its own tempo text): the measure's
    tempo is the words at the mark's speed, whichever OCR box comes first."""
    from music21 import tempo

    for order in (1, -1):
        s = Staff()
        _four_quarters(s, 0)
        b = s.barline()
        words = [("tempo_text", (b.box[0] - 80, s.top - 18.2, b.box[0] - 10, s.top - 5.5), "Tempo di marcia"),
                 ("tempo_text", (b.box[0] - 70, s.top - 36.0, b.box[0] - 30, s.top - 20.0), "J = 100")][::order]
        for cls, box, text in words:
            s.add(cls, box, text=text)
        score, _, _ = transcribe(s)
        marks = list(score.recurse().getElementsByClass(tempo.MetronomeMark))
        assert [(m.number, m.text) for m in marks] == [(100, "Tempo di marcia")], order


@pytest.mark.parametrize("faint_flag", [True, False])
def test_a_pickups_staves_last_alike_where_a_faint_flag_makes_them(faint_flag):
    """The example photo (Maple Leaf Rag, 2/4): the pickup is a treble eighth rest
    over a bass eighth chord whose flag the detector saw too faintly to read
    (0.34). Read as a quarter, the pickup was a quarter long and the treble had an
    eighth rest restored; the bass eighth makes both staves an eighth long."""
    up, low = Staff(time=(2, 4)), Staff(top=TOP + 100, clef="clef_f", time=(2, 4))
    up.rest("rest_8th")
    n = low.note(4, "8", stem="down")
    flag = next(s for s in low.symbols if s.cls == "flag_8th")
    if faint_flag:
        low.symbols[low.symbols.index(flag)] = dataclasses.replace(flag, score=0.3, doubtful=True)
    else:
        low.symbols.remove(flag)                 # no flag seen at all: a quarter, as read
    assert n.stem is not None
    for st in (up, low):
        st.x = max(up.x, low.x)
    for st in (up, low):
        st.barline()
        st.note(4)
        st.note(4)
        st.barline("barline_final")
    score, report, _ = transcribe(up, low, braced=True)
    if faint_flag:
        assert measures(score)[0].duration.quarterLength == 0.5
        assert rhythm(score, 1)[0] == [(0.0, 0.5)]
        assert "restored_rest" not in kinds(report) and "reread" in kinds(report)
    else:
        assert measures(score)[0].duration.quarterLength == 1.0
        assert rhythm(score, 1)[0] == [(0.0, 1.0)]
        assert "restored_rest" in kinds(report)
