"""Score-to-audio alignment (omr.audio.align) on short FluidSynth renderings with
known, non-linear tempo curves, and the `omr align` command."""

from __future__ import annotations

import argparse
import csv
import shutil
import types

import numpy as np
import pytest

from omr.audio.align import (CSV_COLUMNS, AlignmentError, ScoreNote, align, find_repeat_jumps,
                             notes_from_midi, score_notes, transposed_register, write_csv)
from omr.audio.synth import render, write_notes_midi

pytestmark = pytest.mark.skipif(
    shutil.which("fluidsynth") is None, reason="FluidSynth is not installed")

SR = 22050
QPM = 100.0
#: General MIDI program of the "recordings": not the piano of the score's playback.
GUITAR, HARPSICHORD, CELLO = 24, 6, 42
SCALE = (0, 2, 4, 5, 7, 9, 11)


def make_piece(seed: int, measures: int = 10, tonic: int = 62) -> list[ScoreNote]:
    """A two-part piece in 4/4 at QPM: a melody in eighths to halves, a bass in halves."""
    rng = np.random.default_rng(seed)
    spq = 60.0 / QPM
    notes = []
    for m in range(measures):
        t = 0.0
        while t < 4.0:
            d = min(float(rng.choice([0.5, 1.0, 1.0, 2.0])), 4.0 - t)
            deg = int(rng.integers(0, 10))
            pitch = tonic + 12 * (deg // 7) + SCALE[deg % 7]
            q = m * 4 + t
            notes.append(ScoreNote(part=0, measure=str(m + 1), score_qn=q, score_sec=q * spq,
                                   pitch=pitch, duration_sec=d * spq, duration_qn=d,
                                   measure_index=m))
            t += d
        for h in (0.0, 2.0):
            q = m * 4 + h
            pitch = tonic - 24 + SCALE[int(rng.integers(0, 7))]
            notes.append(ScoreNote(part=1, measure=str(m + 1), score_qn=q, score_sec=q * spq,
                                   pitch=pitch, duration_sec=2 * spq, duration_qn=2.0,
                                   measure_index=m))
    notes.sort(key=lambda n: (n.score_sec, n.part, n.pitch))
    return notes


#: The recordings' tempo curve: seconds of recording per score second
#: 1.1 + 0.35 cos(2 pi t / 14 s), i.e. between 0.75x and 1.45x the score's duration.
WARP_BASE, WARP_DEPTH, WARP_PERIOD = 1.1, 0.35, 14.0


def warp(t, lead: float = 0.8):
    """A non-linear tempo curve (recording seconds at score second ``t``)."""
    t = np.asarray(t, dtype=float)
    return (lead + WARP_BASE * t
            + WARP_DEPTH * WARP_PERIOD / (2 * np.pi) * np.sin(2 * np.pi * t / WARP_PERIOD))


def record(notes, tmp_path, *, program=GUITAR, transpose=0, lead=0.8, tail=1.0,
           name="rec.mid"):
    """Render ``notes`` on the tempo curve; returns (samples, true onsets)."""
    on = np.array([n.score_sec for n in notes])
    off = on + np.array([n.duration_sec for n in notes])
    truth = warp(on, lead)
    mid = write_notes_midi(tmp_path / name, truth, warp(off, lead),
                           [n.pitch + transpose for n in notes],
                           parts=[n.part for n in notes], programs=program)
    y = render(mid, sample_rate=SR)
    return np.concatenate([y, np.zeros(int(tail * SR), np.float32)]), truth


def errors(result, truth):
    err = np.abs(result.onset_sec - truth)
    return np.where(np.isfinite(err), err, np.inf)


@pytest.fixture(scope="module")
def piece():
    return make_piece(1)


@pytest.fixture(scope="module")
def recording(piece, tmp_path_factory):
    return record(piece, tmp_path_factory.mktemp("rec"))


@pytest.fixture(scope="module")
def result(piece, recording):
    return align(piece, recording[0], SR)


def test_nonlinear_tempo_onsets(result, recording):
    err = errors(result, recording[1])
    assert np.median(err) <= 0.025
    assert np.mean(err <= 0.1) >= 0.95
    assert result.transposition == 0
    assert result.confidence > 0.5
    assert result.coverage == 1.0


def test_tempo_curve_follows_the_warp(result):
    tc = result.tempo
    assert len(tc.score_sec) == len(tc.ratio) == len(tc.qpm) > 10
    # true local ratio: d warp / dt, averaged over the smoothing window
    true = WARP_BASE + WARP_DEPTH * np.cos(2 * np.pi * tc.score_sec / WARP_PERIOD)
    inner = (tc.score_sec > 2) & (tc.score_sec < tc.score_sec[-1] - 2)
    corr = np.corrcoef(tc.ratio[inner], true[inner])[0, 1]
    assert corr > 0.8
    assert np.all(np.diff(tc.audio_sec) > 0)
    assert np.nanmedian(tc.qpm) == pytest.approx(QPM / WARP_BASE, rel=0.25)


def test_transposed_recording(piece, tmp_path):
    y, truth = record(piece, tmp_path, program=HARPSICHORD, transpose=3)
    r = align(piece, y, SR)
    assert r.transposition == 3
    err = errors(r, truth)
    assert np.median(err) <= 0.025 and np.mean(err <= 0.1) >= 0.95


def test_leading_and_trailing_silence(piece, tmp_path):
    y, truth = record(piece, tmp_path, lead=4.0, tail=3.0)
    r = align(piece, y, SR)
    err = errors(r, truth)
    assert np.median(err) <= 0.025 and np.mean(err <= 0.1) >= 0.95
    assert r.audio_range[0] == pytest.approx(4.0, abs=0.15)


def test_other_piece_gets_low_confidence(piece, recording, result):
    other = make_piece(7, tonic=65)
    r_other = align(other, recording[0], SR)
    assert r_other.confidence < result.confidence
    assert r_other.confidence < 0.5


def test_transposed_register():
    assert transposed_register(55, 91, 0) == (55, 91)
    assert transposed_register(55, 91, 2) == (57, 93)      # up a tone
    assert transposed_register(55, 91, 10) == (53, 89)     # down a tone
    assert transposed_register(55, 91, 7) == (50, 86)      # a fifth: taken as down


def test_score_of_one_part_against_a_recording_of_two(tmp_path):
    # the score is the melody; the recording adds a line in half notes just below
    # it (within a fifth of the melody's lowest note) on a cello. Taken for the
    # part, that line made the melody look transposed down a minor third.
    melody = [n for n in make_piece(5) if n.part == 0]
    lowest = min(n.pitch for n in melody)
    rng = np.random.default_rng(11)
    spq = 60.0 / QPM
    end = max(n.score_sec + n.duration_sec for n in melody)
    inner = [ScoreNote(part=1, measure="", score_qn=q, score_sec=q * spq,
                       pitch=lowest - int(rng.integers(1, 7)), duration_sec=2 * spq,
                       duration_qn=2.0)
             for q in np.arange(0.0, end / spq, 2.0)]
    y, truth = record(melody + inner, tmp_path, program={0: GUITAR, 1: CELLO})
    r = align(melody, y, SR)
    assert r.transposition == 0
    err = errors(r, truth[:len(melody)])
    assert np.median(err) <= 0.025 and np.mean(err <= 0.1) >= 0.95


def test_recording_of_part_of_the_score(piece, tmp_path):
    part = [n for n in piece if 3 * 2.4 <= n.score_sec < 8 * 2.4]  # measures 4-8
    shifted = [ScoreNote(**{**n.__dict__, "score_sec": n.score_sec - 3 * 2.4}) for n in part]
    y, truth_part = record(shifted, tmp_path, lead=1.0)
    r = align(piece, y, SR)
    inside = np.array([3 * 2.4 <= n.score_sec < 8 * 2.4 for n in piece])
    truth = np.full(len(piece), np.nan)
    truth[inside] = truth_part
    err = errors(r, truth)[inside]
    assert np.median(err) <= 0.025 and np.mean(err <= 0.1) >= 0.9
    # notes outside are (nearly all) left out
    assert np.mean(np.isnan(r.onset_sec[~inside])) >= 0.9
    assert r.score_range[0] == pytest.approx(3 * 2.4, abs=0.7)


def repeat_piece():
    """Measures 1-4 twice (a repeat), then 5-8, unfolded; measure_index as printed."""
    base = make_piece(3, measures=8)
    spq = 60.0 / QPM
    first = [n for n in base if int(n.measure) <= 4]
    rest = [n for n in base if int(n.measure) > 4]
    notes = list(first)
    notes += [ScoreNote(**{**n.__dict__, "score_sec": n.score_sec + 16 * spq,
                           "score_qn": n.score_qn + 16}) for n in first]
    notes += [ScoreNote(**{**n.__dict__, "score_sec": n.score_sec + 16 * spq,
                           "score_qn": n.score_qn + 16}) for n in rest]
    notes.sort(key=lambda n: (n.score_sec, n.part, n.pitch))
    return notes


def test_repeat_jumps_found():
    notes = repeat_piece()
    jumps = find_repeat_jumps(notes)
    assert len(jumps) == 1
    j = jumps[0]
    assert (j.from_measure, j.to_measure) == ("4", "1")
    assert j.first_pass == pytest.approx((0.0, 16 * 0.6))


def test_recording_that_skips_the_repeat(tmp_path):
    notes = repeat_piece()
    cut = 16 * 0.6
    played = [n for n in notes if n.score_sec >= cut]
    shifted = [ScoreNote(**{**n.__dict__, "score_sec": n.score_sec - cut}) for n in played]
    y, truth_played = record(shifted, tmp_path)
    r = align(notes, y, SR)
    assert [j.taken for j in r.repeats] == [False]
    second = np.array([n.score_sec >= cut for n in notes])
    assert np.all(np.isnan(r.onset_sec[~second]))
    err = np.abs(r.onset_sec[second] - truth_played)
    assert np.median(err) <= 0.025 and np.mean(err <= 0.1) >= 0.95


def test_recording_that_takes_the_repeat(tmp_path):
    notes = repeat_piece()
    y, truth = record(notes, tmp_path)
    r = align(notes, y, SR)
    assert [j.taken for j in r.repeats] == [True]
    err = errors(r, truth)
    assert np.median(err) <= 0.025 and np.mean(err <= 0.1) >= 0.95


def test_write_csv_columns(result, tmp_path):
    out = write_csv(tmp_path / "a.csv", result)
    with out.open() as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == CSV_COLUMNS == ("part", "measure", "score_qn", "score_sec",
                                              "pitch", "onset_sec")
    assert len(rows) == len(result.notes) + 1
    first = rows[1]
    assert int(first[0]) == result.notes[0].part and first[1] == result.notes[0].measure
    assert float(first[5]) == pytest.approx(result.onset_sec[0], abs=1e-3)
    # a note not played has an empty onset
    r2 = list(result.rows())
    r2[0]["onset_sec"] = None
    write_csv(tmp_path / "b.csv", r2)
    with (tmp_path / "b.csv").open() as fh:
        assert list(csv.reader(fh))[1][5] == ""


def test_midi_score_round_trip(piece, tmp_path):
    on = np.array([n.score_sec for n in piece])
    path = write_notes_midi(tmp_path / "score.mid", on,
                            on + np.array([n.duration_sec for n in piece]),
                            [n.pitch for n in piece], parts=[n.part for n in piece])
    back = notes_from_midi(path)
    assert len(back) == len(piece)
    assert [n.pitch for n in back] == [n.pitch for n in piece]
    assert np.allclose([n.score_sec for n in back], on, atol=1e-3)
    assert {n.part for n in back} == {0, 1}
    # 120 qpm in the file: 2 s per 4/4 measure
    assert back[-1].measure == str(int(back[-1].score_sec // 2.0) + 1)


def test_musicxml_score_is_unfolded(tmp_path):
    import music21

    s = music21.converter.parse("tinyNotation: 4/4 c4 d e f g a b c' d'1 e'1")
    measures = list(s.getElementsByClass("Measure"))
    measures[1].rightBarline = music21.bar.Repeat(direction="end")
    path = tmp_path / "r.musicxml"
    s.write("musicxml", fp=str(path))
    notes = score_notes(path)
    assert [n.measure for n in notes][:8] == ["1"] * 4 + ["2"] * 4
    assert len(notes) == 8 * 2 + 2
    assert len(find_repeat_jumps(notes)) == 1


def test_errors(piece, tmp_path):
    from omr.audio.io import AudioError

    with pytest.raises(AudioError):
        align(piece, np.zeros(SR * 5, np.float32), SR)
    with pytest.raises(AlignmentError):
        align(piece, np.ones(100, np.float32) * 0.1, SR)
    with pytest.raises(AlignmentError):
        align([], np.ones(SR, np.float32) * 0.1, SR)
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    with pytest.raises(AlignmentError):
        score_notes(bad)


# ----------------------------------------------------------------- the command


def _parser():
    from omr.audio.cli import add_commands

    parser = argparse.ArgumentParser(prog="omr")
    add_commands(parser.add_subparsers(dest="command"))
    return parser


def test_cli_align(piece, recording, tmp_path, capsys):
    import soundfile as sf

    from omr.audio.cli import CommandError

    on = np.array([n.score_sec for n in piece])
    score = write_notes_midi(tmp_path / "score.mid", on,
                             on + np.array([n.duration_sec for n in piece]),
                             [n.pitch for n in piece], parts=[n.part for n in piece])
    wav = tmp_path / "rec.wav"
    sf.write(str(wav), recording[0], SR)
    out = tmp_path / "align.csv"
    args = _parser().parse_args(["align", str(score), str(wav), "-o", str(out)])
    assert args.func(args) == 0
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(piece)
    # the MIDI file's own timeline (120 qpm): score_sec as written
    assert float(rows[-1]["score_sec"]) == pytest.approx(on[-1], abs=1e-3)
    err = np.abs(np.array([float(r["onset_sec"]) for r in rows]) - recording[1])
    assert np.median(err) <= 0.025
    assert "confidence" in capsys.readouterr().out
    # no overwrite without --force
    with pytest.raises(CommandError, match="--force"):
        args.func(args)
    with pytest.raises(CommandError, match="csv"):
        a2 = _parser().parse_args(["align", str(score), str(wav), "-o", str(tmp_path / "x.txt")])
        a2.func(a2)


def test_cli_stem_uses_separation(piece, recording, tmp_path, monkeypatch):
    import sys

    import soundfile as sf

    calls = {}

    def fake_separate(audio, sr, **kwargs):
        calls["shape"], calls["sr"] = np.shape(audio), sr
        return {"vocals": np.asarray(audio), "accompaniment": np.zeros_like(audio)}

    monkeypatch.setitem(sys.modules, "omr.audio.separate",
                        types.SimpleNamespace(separate=fake_separate))
    on = np.array([n.score_sec for n in piece])
    score = write_notes_midi(tmp_path / "score.mid", on,
                             on + np.array([n.duration_sec for n in piece]),
                             [n.pitch for n in piece], parts=[n.part for n in piece])
    wav = tmp_path / "rec.flac"
    sf.write(str(wav), recording[0], SR)
    out = tmp_path / "v.csv"
    args = _parser().parse_args(["align", str(score), str(wav), "--stem", "vocals",
                                 "-o", str(out)])
    assert args.func(args) == 0
    assert calls["sr"] == 44100
    assert out.exists()
