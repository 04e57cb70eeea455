"""Playback with FluidSynth (omr.audio.synth) and reading recordings (omr.audio.io)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from omr.audio.io import AudioError, load_audio, resample
from omr.audio.synth import SynthError, find_soundfont, render, render_to_wav, write_notes_midi
from omr.errors import OmrError

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None, reason="FluidSynth is not installed")

SR = 22050


def _score():
    import music21

    return music21.converter.parse("tinyNotation: 4/4 c4 e g c' g1")


def _onset_times(y: np.ndarray, sr: int) -> np.ndarray:
    """Rough onsets: frames (10 ms) where the energy jumps by 6 dB."""
    hop = sr // 100
    e = np.add.reduceat(y[: y.size // hop * hop] ** 2, np.arange(0, y.size // hop * hop, hop))
    db = 10 * np.log10(e + 1e-10)
    jumps = np.flatnonzero((db[1:] - db[:-1] > 6) & (db[1:] > db.max() - 40)) + 1
    return jumps * hop / sr


@needs_fluidsynth
def test_render_score():
    y = render(_score(), sample_rate=SR)
    assert y.dtype == np.float32 and y.ndim == 1
    # 2 measures of 4/4: 4.8 s at 100 qpm (omr.export's MIDI) or 4 s at 120 (music21's)
    assert 3.5 * SR < y.size < 7.5 * SR
    assert 0.01 < np.abs(y).max() <= 1.0
    stereo = render(_score(), sample_rate=SR, mono=False)
    assert stereo.shape[0] == 2


@needs_fluidsynth
def test_render_midi_timing_and_program(tmp_path):
    onsets = np.array([0.5, 1.0, 1.5, 2.0])
    mid = write_notes_midi(tmp_path / "n.mid", onsets, onsets + 0.3, [60, 64, 67, 72])
    piano = render(mid, sample_rate=SR, effects=False)
    found = _onset_times(piano, SR)
    for t in onsets:
        assert np.min(np.abs(found - t)) < 0.03
    organ = render(mid, sample_rate=SR, program_override=19, effects=False)
    n = min(piano.size, organ.size)
    assert not np.allclose(piano[:n], organ[:n], atol=1e-3)  # another instrument
    wav = render_to_wav(mid, tmp_path / "n.wav", sample_rate=16000)
    assert load_audio(wav, sample_rate=16000).size == pytest.approx(piano.size * 16000 / SR,
                                                                    rel=0.05)


def test_missing_soundfont_and_fluidsynth(tmp_path, monkeypatch):
    with pytest.raises(SynthError, match="soundfont"):
        find_soundfont(tmp_path / "none.sf2")
    with pytest.raises(SynthError):
        render_to_wav(_score(), tmp_path / "x.wav", soundfont=tmp_path / "none.sf2")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SynthError, match="fluidsynth"):
        render_to_wav(_score(), tmp_path / "x.wav")
    assert issubclass(SynthError, OmrError)


def test_bad_program(tmp_path):
    from omr.errors import ParameterError

    with pytest.raises(ParameterError):
        render_to_wav(_score(), tmp_path / "x.wav", program_override=200)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_load_audio_formats(tmp_path, suffix):
    import soundfile as sf

    sr = 44100
    t = np.arange(int(1.5 * sr)) / sr
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = np.stack([left, 0.25 * np.sin(2 * np.pi * 660 * t)], axis=1).astype(np.float32)
    path = tmp_path / f"tone{suffix}"
    sf.write(str(path), stereo, sr)
    y = load_audio(path, sample_rate=SR)
    assert y.ndim == 1 and y.dtype == np.float32
    # MP3 adds encoder padding; the others keep the length
    assert y.size == pytest.approx(1.5 * SR, rel=0.1 if suffix == ".mp3" else 0.001)
    spec = np.abs(np.fft.rfft(y[SR // 4: SR // 4 + SR]))
    peak_hz = np.argmax(spec) * SR / SR
    assert peak_hz == pytest.approx(440, abs=3)
    both = load_audio(path, sample_rate=SR, mono=False)
    assert both.shape[0] == 2


def test_load_audio_errors(tmp_path):
    import soundfile as sf

    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF1234WAVEnot really audio")
    with pytest.raises(AudioError, match="cannot be read"):
        load_audio(junk)
    text = tmp_path / "notes.mp3"
    text.write_text("hello")
    with pytest.raises(AudioError):
        load_audio(text)
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(SR, np.float32), SR)
    with pytest.raises(AudioError, match="silent"):
        load_audio(silent)
    empty = tmp_path / "empty.wav"
    sf.write(str(empty), np.zeros(0, np.float32), SR)
    with pytest.raises(AudioError):
        load_audio(empty)
    assert issubclass(AudioError, OmrError)


def test_resample_rates():
    x = np.sin(2 * np.pi * 100 * np.arange(48000) / 48000)
    y = resample(x, 48000, SR)
    assert y.size == pytest.approx(SR, abs=2)
    assert resample(x, 48000, 48000).size == x.size
