"""The real-crop benchmark reads a score in the ground truth's written order."""
import sys
from pathlib import Path

import music21

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from realdata_parser import accuracy, sequences  # noqa: E402


def _two_voice_measure():
    m = music21.stream.Measure(number=1)
    upper, lower = music21.stream.Voice(id="1"), music21.stream.Voice(id="2")
    upper.append(music21.note.Note("D5", quarterLength=2))
    upper.append(music21.note.Note("E5", quarterLength=2))
    for p in ("F#4", "A4", "C5", "A4"):
        lower.append(music21.note.Note(p, quarterLength=1))
    m.insert(0, upper)
    m.insert(0, lower)
    part = music21.stream.Part([m])
    return music21.stream.Score([part])


def test_two_voices_are_read_voice_by_voice_not_by_onset():
    seq = sequences(_two_voice_measure())
    assert seq["pitch"] == [74, 76, 66, 69, 72, 69]
    assert seq["rhythm"] == [2.0, 2.0, 1.0, 1.0, 1.0, 1.0]
    # the ground truth writes the same measure voice after voice
    reference = [(74, 2.0), (76, 2.0), (66, 1.0), (69, 1.0), (72, 1.0), (69, 1.0)]
    assert accuracy(reference, seq["note"]) == 1.0


def test_chord_members_are_read_low_to_high():
    m = music21.stream.Measure([music21.chord.Chord(["E5", "C4"], quarterLength=4)])
    seq = sequences(music21.stream.Score([music21.stream.Part([m])]))
    assert seq["pitch"] == [60, 76]
    assert seq["rhythm"] == [4.0]
