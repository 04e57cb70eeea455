"""synth.unfold: every MusicXML note finds its verovio id (the notehead it is printed
as), however the MusicXML spreads its notes over voices, staves and <backup>s.

verovio's importer puts each run of notes between two <backup>s in one layer: the
voice of the run's first note, on the part's first staff for a measure's first run.
A chord's notes go with their chord whatever <voice> they carry (or lack), and so
does a voice that changes without a <backup>. The scores are small hand-written
MusicXML texts; each reproduces a corpus piece whose notes were left without id.
"""

from __future__ import annotations

import pytest

from synth import text_fonts, unfold

PIANO_CLEFS = ('<clef number="1"><sign>G</sign><line>2</line></clef>'
               '<clef number="2"><sign>F</sign><line>4</line></clef>')


def _score(*measures: str, staves: int = 2) -> str:
    clefs = PIANO_CLEFS if staves == 2 else "<clef><sign>G</sign><line>2</line></clef>"
    body = "".join(
        f'<measure number="{i}">'
        + (f"<attributes><divisions>1</divisions><key><fifths>0</fifths></key><time>"
           f"<beats>4</beats><beat-type>4</beat-type></time><staves>{staves}</staves>"
           f"{clefs}</attributes>" if i == 1 else "")
        + m + "</measure>" for i, m in enumerate(measures, 1))
    return ('<?xml version="1.0" encoding="UTF-8"?><score-partwise version="3.1"><part-list>'
            '<score-part id="P1"><part-name>Piano</part-name></score-part></part-list>'
            f'<part id="P1">{body}</part></score-partwise>')


def _note(pitch: str, dur: int = 4, *, voice: int | None = 1, staff: int | None = None,
          chord: bool = False, accidental: str | None = None) -> str:
    """A note, pitch like "C#4"; ``voice=None`` leaves <voice> out."""
    step, octave = pitch[0], pitch[-1]
    alter = {"#": 1, "b": -1}.get(pitch[1:-1], 0)
    typ = {1: "quarter", 2: "half", 4: "whole"}[dur]
    return ("<note>" + ("<chord/>" if chord else "")
            + f"<pitch><step>{step}</step>" + (f"<alter>{alter}</alter>" if alter else "")
            + f"<octave>{octave}</octave></pitch><duration>{dur}</duration>"
            + (f"<voice>{voice}</voice>" if voice is not None else "") + f"<type>{typ}</type>"
            + (f"<accidental>{accidental}</accidental>" if accidental is not None else "")
            + (f"<staff>{staff}</staff>" if staff else "") + "</note>")


def _backup(dur: int = 4) -> str:
    return f"<backup><duration>{dur}</duration></backup>"


def _unfold(xml: str):
    tk = text_fonts.load_verovio().toolkit()
    tk.setInputFrom("musicxml")
    assert tk.loadData(xml)
    unfolded = unfold.unfolded_notes(xml, tk)
    assert unfolded.method == "musicxml"
    tk.renderToMIDI()  # getMIDIValuesForElement needs it
    return unfolded, tk


def _assert_all_matched(unfolded, tk, *, pitch_exceptions=()):
    notes = unfolded.notes
    assert [n for n in notes if not n.id] == []
    assert unfolded.matched_ids == len(notes)
    assert len({n.id for n in notes}) == len(notes)  # one notehead each
    for n in notes:
        if n.id not in pitch_exceptions:
            assert tk.getMIDIValuesForElement(n.id)["pitch"] == n.pitch, n


def test_chord_notes_carry_another_voice_or_none():
    """schubert/Lindenbaum: the left hand's chord notes say <voice>1</voice> under a
    voice-5 chord; demos/voices_with_chords: chord notes without <voice> in voice 2."""
    m1 = (_note("G#4", 1, staff=1) + _note("E5", 1, staff=1) + _note("G#4", 1, staff=1)
          + _note("B4", 1, staff=1) + _backup()
          + _note("E2", voice=5, staff=2) + _note("B2", voice=1, staff=2, chord=True))
    m2 = (_note("C5", 1) + _note("D5", 1) + _note("E5", 1) + _note("F5", 1) + _backup()
          + _note("C5", 1, voice=2) + _note("G4", 1, voice=2)
          + _note("B4", 1, voice=None, chord=True) + _note("A4", 1, voice=2)
          + _note("E4", 1, voice=2) + _note("G4", 1, voice=None, chord=True))
    m2 += _backup() + _note("C3", voice=5, staff=2)
    unfolded, tk = _unfold(_score(m1, m2))
    _assert_all_matched(unfolded, tk)
    assert len(unfolded.notes) == 6 + 11


def test_runs_not_voices_make_layers():
    """A measure whose first run is on the lower staff, a voice that changes without a
    <backup>, and a cross-staff note inside a run."""
    m1 = (_note("C3", 2, voice=5, staff=2) + _note("D3", 2, voice=5, staff=2) + _backup()
          + _note("E5", 2, staff=1) + _note("F5", 2, voice=2, staff=1))
    m2 = (_note("C5", 1, staff=1) + _note("D3", 1, staff=2) + _note("E5", 1, staff=1)
          + _note("F3", 1, staff=2) + _backup() + _note("C3", voice=2, staff=2))
    unfolded, tk = _unfold(_score(m1, m2))
    _assert_all_matched(unfolded, tk)
    assert len(unfolded.notes) == 9


def test_note_whose_accidental_verovio_drops():
    """trecento/PMFC_13_07 (measure 74): an empty <accidental/> makes verovio read a C#
    as C, so no note sequence of its layer matches; the note still gets its id."""
    xml = _score(_note("C#4", 1, accidental="") + _note("C4", 1) + _note("C4", 2), staves=1)
    unfolded, tk = _unfold(xml)
    first = unfolded.notes[0]
    assert (first.pitch, first.onset_qn) == (61, 0)
    _assert_all_matched(unfolded, tk, pitch_exceptions={first.id})
    assert tk.getMIDIValuesForElement(first.id) == pytest.approx(
        {"pitch": 60, "time": 0, "duration": tk.getMIDIValuesForElement(first.id)["duration"]})


def test_notes_under_an_octave_line():
    """verovio's @oct is where the note is printed under 8va, @oct.ges where it sounds
    (MusicXML's <octave>)."""
    def octave_shift(kind):
        return (f'<direction><direction-type><octave-shift type="{kind}" size="8"/>'
                "</direction-type></direction>")
    shift, stop = octave_shift("down"), octave_shift("stop")
    xml = _score(shift + _note("C6", 1) + _note("D6", 1) + _note("E6", 2) + stop, staves=1)
    unfolded, tk = _unfold(xml)
    _assert_all_matched(unfolded, tk)
    assert [n.pitch for n in unfolded.notes] == [84, 86, 88]


def test_unpitched_notes():
    """demos/drum_sample: verovio gives an unpitched note no @pname/@oct, only @loc
    (staff steps from E4 whatever the clef: MusicXML's display-step/-octave)."""
    def hit(step, octave, chord=False):
        return ("<note>" + ("<chord/>" if chord else "") + f"<unpitched><display-step>{step}"
                f"</display-step><display-octave>{octave}</display-octave></unpitched>"
                "<duration>1</duration><voice>1</voice><type>quarter</type>"
                "<notehead>x</notehead></note>")
    xml = _score(hit("G", 5) + hit("C", 5) + hit("F", 4, chord=True) + hit("G", 5)
                 + hit("E", 4), staves=1).replace(
        '<clef><sign>G</sign><line>2</line></clef>', "<clef><sign>percussion</sign></clef>")
    unfolded, tk = _unfold(xml)
    assert [n.pitch for n in unfolded.notes] == [79, 65, 72, 79, 64]  # display pitches
    _assert_all_matched(unfolded, tk, pitch_exceptions={n.id for n in unfolded.notes})
    times = [tk.getMIDIValuesForElement(n.id)["time"] for n in unfolded.notes]
    assert times[1] == times[2] and times == sorted(times) and len(set(times)) == 4
