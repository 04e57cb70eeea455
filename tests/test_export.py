"""omr.export: MusicXML validated against the shipped MusicXML 4.0 schema, MIDI of the
unfolded score written with mido, SVG pages engraved by verovio.

The test score is built in music21 here: a soprano (lyrics, a triplet, a tie across
the barline, a chord, dynamics p and f, tempo 120 then 60, a repeat with first and
second endings) over a piano on two staves.
"""

from __future__ import annotations

import importlib.resources

import mido
import music21
import pytest
from music21 import (
    bar,
    chord,
    clef,
    dynamics,
    instrument,
    key,
    layout,
    meter,
    note,
    repeat,
    spanner,
    stream,
    tempo,
    tie,
)

from omr import export
from omr.errors import OmrError
from omr.export import ExportError

QPM_START, QPM_END = 120, 60
P_VELOCITY, F_VELOCITY = export.DYNAMIC_VELOCITY["p"], export.DYNAMIC_VELOCITY["f"]
PLAYED_MEASURES = ["1", "2", "3", "2", "4"]   # the repeat, first ending, second ending
SOPRANO_NOTES = 13      # 6 + 2 + 1 + 3 + 1: the tie sounds once on the first pass only
PIANO_NOTES = 5 * 4     # a 3-note chord and a bass note in each played measure
SECONDS = 16 * 60 / QPM_START + 4 * 60 / QPM_END


def _measure(number: int, *items, first: bool = False, the_clef=None) -> stream.Measure:
    m = stream.Measure(number=number)
    if first:
        m.append([meter.TimeSignature("4/4"), key.Key("G"), the_clef or clef.TrebleClef()])
    m.append(list(items))
    return m


def _song() -> stream.Score:
    score = stream.Score()
    score.metadata = music21.metadata.Metadata(title="Export test")
    voice = stream.Part()
    voice.partName = "Soprano"  # no instrument: the name gives the program
    lyric_notes = [note.Note("G4"), note.Note("A4")]
    for n, syllable in zip(lyric_notes, ("Hel", "lo")):
        n.lyric = syllable
    triplet = [note.Note(p, quarterLength=1 / 3) for p in ("B4", "C5", "D5")]
    tied = note.Note("D5")
    tied.tie = tie.Tie("start")
    m1 = _measure(1, *lyric_notes, *triplet, tied, first=True)
    m1.insert(0, tempo.MetronomeMark(number=QPM_START, referent=note.Note(type="quarter")))
    m1.insert(0, dynamics.Dynamic("p"))
    tied_end = note.Note("D5")
    tied_end.tie = tie.Tie("stop")
    m2 = _measure(2, tied_end, chord.Chord(["G4", "B4"]), note.Rest(quarterLength=2))
    m3 = _measure(3, note.Note("E5", quarterLength=4))
    m3.insert(0, dynamics.Dynamic("f"))
    m4 = _measure(4, note.Note("G4", quarterLength=4))
    m4.insert(0, tempo.MetronomeMark(number=QPM_END, referent=note.Note(type="quarter")))
    for m in (m1, m2, m3, m4):
        voice.append(m)
    voice.insert(0, spanner.RepeatBracket(m3, number=1))
    voice.insert(0, spanner.RepeatBracket(m4, number=2))

    staves = []
    for kind in ("right", "left"):
        staff = stream.PartStaff()
        staff.partName = "Piano"
        if kind == "right":
            staff.insert(0, instrument.Piano())
        for i in range(1, 5):
            sound = (chord.Chord(["G4", "B4", "D5"], quarterLength=4) if kind == "right"
                     else note.Note("G2", quarterLength=4))
            staff.append(_measure(i, sound, first=i == 1,
                                  the_clef=clef.BassClef() if kind == "left" else None))
        staves.append(staff)
        for s in (voice, staff):
            measures = s.getElementsByClass(stream.Measure)
            measures[1].leftBarline = bar.Repeat(direction="start")
            measures[2].rightBarline = bar.Repeat(direction="end")
        measures[3].rightBarline = bar.Barline("final")
    voice.getElementsByClass(stream.Measure)[3].rightBarline = bar.Barline("final")
    score.insert(0, voice)
    for staff in staves:
        score.insert(0, staff)
    score.insert(0, layout.StaffGroup(staves, name="Piano", symbol="brace"))
    return score


@pytest.fixture(scope="module")
def song() -> stream.Score:
    return _song()


@pytest.fixture(scope="module")
def midi(song, tmp_path_factory):
    path = tmp_path_factory.mktemp("midi") / "song.mid"
    notes = export.write_midi(song, path)
    return mido.MidiFile(path), notes


# ------------------------------------------------------------------ MusicXML


def test_musicxml_validates_and_keeps_the_notation(song, tmp_path):
    xml = export.to_musicxml(song)
    assert xml == export.to_musicxml(_song())  # the same bytes every time
    assert b'<score-part id="P1">' in xml and b'<score-part id="P2">' in xml
    export.validate_musicxml(xml)
    text = xml.decode("utf-8")
    for element in ("<tuplet", "<lyric", '<tie type="start"', "<p />", "<f />", "<metronome",
                    '<repeat direction="forward"', '<repeat direction="backward"',
                    '<ending number="1"', '<ending number="2"', "<staves>2</staves>", "<chord"):
        assert element in text, element
    path = export.write_musicxml(song, tmp_path / "song.musicxml")
    assert path.read_bytes() == xml
    back = music21.converter.parse(path)
    assert len(back.parts) == 3  # soprano, piano right hand, piano left hand


def test_exporting_does_not_change_the_score(song):
    before = [repr(e) for e in song.recurse()]
    export.to_musicxml(song)
    export.unfolded_notes(song)
    assert [repr(e) for e in song.recurse()] == before


def test_invalid_musicxml_raises_export_error(song):
    assert issubclass(ExportError, OmrError)
    xml = export.to_musicxml(song).decode("utf-8")
    bad = xml.replace("<pitch>", "<pitch><mood>happy</mood>", 1)
    with pytest.raises(ExportError, match="mood"):
        export.validate_musicxml(bad)
    with pytest.raises(ExportError, match="line"):
        export.validate_musicxml(b"<score-partwise><part-list/></score-partwise>")
    with pytest.raises(ExportError, match="well-formed"):
        export.validate_musicxml(b"<score-partwise><part-list>")


def test_unexportable_score_raises_export_error(tmp_path):
    m = stream.Measure(number=1)
    odd = note.Note("C4")
    odd.duration = music21.duration.Duration(0)  # no type: music21 cannot write it
    m.append([odd, note.Note("D4")])
    score = stream.Score([stream.Part([m])])
    with pytest.raises(ExportError, match="music21"):
        export.write_musicxml(score, tmp_path / "x.musicxml")
    assert not (tmp_path / "x.musicxml").exists()


def test_schema_ships_in_the_package():
    folder = importlib.resources.files("omr") / "schemas" / "musicxml-4.0"
    for name in ("musicxml-local.xsd", "xml.xsd", "xlink.xsd", "README.md"):
        assert (folder / name).is_file(), name


def test_navigation_marks_validate():
    score = stream.Score()
    part = stream.Part()
    for i, extra in enumerate([repeat.Segno(), repeat.Coda("To Coda"),
                               repeat.DalSegnoAlCoda(), repeat.Coda()], start=1):
        m = _measure(i, note.Note("C5", quarterLength=4), first=i == 1)
        m.insert(0, extra)
        part.append(m)
    score.insert(0, part)
    export.validate_musicxml(export.to_musicxml(score, validate=False))
    # D.S. back to the segno (measure 1), "To Coda" (measure 2) jumps to the coda
    assert [n.measure for n in export.unfolded_notes(score)] == ["1", "2", "3", "1", "2", "4"]


# ---------------------------------------------------------------------- MIDI


def test_midi_tracks_programs_and_tempo(midi):
    mid, _ = midi
    assert mid.type == 1 and len(mid.tracks) == 3  # conductor, soprano, piano
    tempos = [m.tempo for m in mid.tracks[0] if m.type == "set_tempo"]
    assert tempos == [mido.bpm2tempo(QPM_START), mido.bpm2tempo(QPM_END)]
    programs = [[(m.channel, m.program) for m in t if m.type == "program_change"]
                for t in mid.tracks[1:]]
    assert programs == [[(0, export.GM_CHOIR_AAHS)], [(1, export.GM_ACOUSTIC_GRAND_PIANO)]]
    assert mid.length == pytest.approx(SECONDS)


def test_midi_plays_the_unfolded_notes(midi):
    mid, notes = midi
    counts = [sum(1 for m in t if m.type == "note_on" and m.velocity > 0) for t in mid.tracks]
    assert counts == [0, SOPRANO_NOTES, PIANO_NOTES]
    assert len(notes) == SOPRANO_NOTES + PIANO_NOTES
    bass = [n for n in notes if n.staff == 2]
    assert [n.measure for n in bass] == PLAYED_MEASURES
    assert [n.measure_index for n in bass] == [0, 1, 2, 1, 3]
    assert [n.onset_qn for n in bass] == [0, 4, 8, 12, 16]
    assert [n.onset_sec for n in bass] == pytest.approx([0, 2, 4, 6, 8])
    assert [n.repeat for n in bass] == [0, 0, 0, 1, 0]
    assert {(n.part, n.part_name) for n in notes} == {(0, "Soprano"), (1, "Piano")}


def test_ties_sound_once_and_chords_split(midi):
    _, notes = midi
    d5 = [n for n in notes if n.part == 0 and n.pitch == 74]
    # the triplet's D5, the tied D5 (one note of two beats), the tie's end again after
    # the repeat (its start is not before it then)
    assert [(n.onset_qn, n.duration_qn) for n in d5] == [
        (pytest.approx(8 / 3), pytest.approx(1 / 3)), (3, 2), (12, 1)]
    chord_notes = [n.pitch for n in notes if n.part == 0 and n.onset_qn == 5]
    assert sorted(chord_notes) == [67, 71]


def test_velocities_follow_dynamics(midi):
    mid, notes = midi
    soprano = [n for n in notes if n.part == 0]
    assert {n.velocity for n in soprano if n.measure == "1"} == {P_VELOCITY}
    assert {n.velocity for n in soprano if n.measure == "3"} == {F_VELOCITY}
    assert P_VELOCITY < F_VELOCITY
    assert {n.velocity for n in notes if n.part == 1} == {export.DEFAULT_VELOCITY}
    on = [m.velocity for m in mid.tracks[1] if m.type == "note_on"]
    assert on[0] == P_VELOCITY and F_VELOCITY in on


def test_grace_notes_are_short_and_before_the_beat():
    m = _measure(1, note.Note("C5"), note.Note("D5", type="eighth").getGrace(),
                 note.Note("E5", quarterLength=3), first=True)
    score = stream.Score([stream.Part([m])])
    first, grace, main = export.unfolded_notes(score)
    assert grace.grace and not main.grace
    assert grace.duration_qn == export.GRACE_NOTE_QN
    assert grace.onset_qn == 1 - export.GRACE_NOTE_QN
    assert (first.onset_qn, main.onset_qn, main.duration_qn) == (0, 1, 3)


def test_default_tempo_and_programs_by_name():
    score = music21.converter.parse("tinyNotation: 4/4 c4 d e f")
    notes = export.unfolded_notes(score, default_qpm=60)
    assert [n.onset_sec for n in notes] == [0, 1, 2, 3]
    assert export.unfolded_notes(score)[1].onset_sec == pytest.approx(60 / export.DEFAULT_QPM)
    with pytest.raises(OmrError):
        export.unfolded_notes(score, default_qpm=0)
    for name, program in [("Violin I", 40), ("Flute", 73), ("Voice", 52), ("Alto", 52),
                          ("Bass", 52), ("Alto Saxophone", 65), ("Violoncello", 42),
                          ("Piano", 0), ("", 0), ("Theremin", 0)]:
        part = stream.Part()
        part.partName = name
        assert export.gm_program(part) == program, name


# ----------------------------------------------------------------------- SVG


def test_render_svg(song):
    pages = export.render_svg(song)
    assert pages and all(p.lstrip().startswith("<svg") for p in pages)
    assert "Liberation" in pages[0]
    with pytest.raises(OmrError):
        export.render_svg(song, scale=0)
