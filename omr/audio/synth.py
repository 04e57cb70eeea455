"""Playback: a score or a MIDI file rendered to audio with FluidSynth.

The FluidSynth command line (Debian package ``fluidsynth``) renders a MIDI file
offline with a General MIDI soundfont (``fluid-soundfont-gm``'s FluidR3_GM.sf2)::

    fluidsynth -ni -q -F out.wav -r SR [-g GAIN] [-R 0 -C 0] SOUNDFONT in.mid

A music21 score is first written to MIDI by :func:`score_to_midi` (the one place to
swap in the project's own MIDI writer, ``omr.export.write_midi``, which it uses as
soon as that function exists). ``program_override`` re-voices every melodic channel
with another General MIDI program, which the tests and benchmarks use to make a
"recording" that does not sound like the score's own playback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from omr.errors import OmrError, ParameterError

#: Where Debian's ``fluid-soundfont-gm`` (and ``musescore-general-soundfont``...) put
#: a General MIDI soundfont, most preferred first.
SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
    "/usr/share/soundfonts/default.sf2",
)

#: Environment variable naming another soundfont.
SOUNDFONT_ENV = "OMR_SOUNDFONT"

#: FluidSynth's output gain (its default, 0.2, leaves much headroom; 0.5 keeps a
#: four-part chorale below full scale).
DEFAULT_GAIN = 0.5

#: General MIDI channel 10 (0-based 9) is percussion: never re-voiced.
DRUM_CHANNEL = 9

#: Longest a rendering may take (seconds) before FluidSynth is stopped.
RENDER_TIMEOUT_S = 600.0


class SynthError(OmrError):
    """FluidSynth or the soundfont is missing, or rendering failed."""


def find_fluidsynth() -> str:
    """Path of the ``fluidsynth`` program.

    Raises
    ------
    SynthError
        It is not installed (Debian: ``apt-get install fluidsynth``).
    """
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise SynthError("the `fluidsynth` program is not installed (Debian: "
                         "`apt-get install fluidsynth`, or run ./setup.sh)")
    return exe


def find_soundfont(soundfont=None) -> Path:
    """The General MIDI soundfont to render with.

    Parameters
    ----------
    soundfont : str or Path or None
        An ``.sf2``/``.sf3`` file; None: ``$OMR_SOUNDFONT``, else the first of
        :data:`SOUNDFONT_CANDIDATES` that exists.

    Returns
    -------
    path : Path

    Raises
    ------
    SynthError
        The soundfont given does not exist, or none is installed.
    """
    if soundfont is not None:
        p = Path(soundfont)
        if not p.is_file():
            raise SynthError(f"soundfont not found: {p}")
        return p
    env = os.environ.get(SOUNDFONT_ENV)
    if env:
        return find_soundfont(env)
    for c in SOUNDFONT_CANDIDATES:
        if Path(c).is_file():
            return Path(c)
    raise SynthError("no General MIDI soundfont found (Debian: `apt-get install "
                     f"fluid-soundfont-gm`, or set ${SOUNDFONT_ENV} to an .sf2 file)")


def score_to_midi(score, path) -> Path:
    """Write a music21 stream to a MIDI file with :func:`omr.export.write_midi` (the
    project's MIDI: unfolded, at the score's tempo, 100 qpm where none is marked).

    Parameters
    ----------
    score : music21.stream.Stream
    path : str or Path
        The ``.mid`` file to write.

    Returns
    -------
    path : Path
    """
    from omr.export import write_midi

    path = Path(path)
    write_midi(score, path)
    return path


def _set_programs(midi_path: Path, out_path: Path, program_override) -> None:
    """Copy a MIDI file with every melodic channel's program replaced."""
    import mido

    mid = mido.MidiFile(str(midi_path))

    def program_for(track_index: int, channel: int) -> int | None:
        if channel == DRUM_CHANNEL:
            return None
        if isinstance(program_override, Mapping):
            return program_override.get(track_index)
        return int(program_override)

    for ti, track in enumerate(mid.tracks):
        channels = sorted({m.channel for m in track if hasattr(m, "channel")})
        new = []
        for msg in track:
            if msg.type == "program_change":
                prog = program_for(ti, msg.channel)
                if prog is not None:
                    msg = msg.copy(program=prog)
            new.append(msg)
        # a program change at the start of each channel the track plays on (delta 0, so
        # every later message keeps its absolute time)
        head = [mido.Message("program_change", channel=c, program=program_for(ti, c), time=0)
                for c in channels if program_for(ti, c) is not None]
        track[:] = head + new
    mid.save(str(out_path))


def _check_program(program_override) -> None:
    values = (program_override.values() if isinstance(program_override, Mapping)
              else [program_override])
    for v in values:
        if not isinstance(v, (int, np.integer)) or not 0 <= int(v) <= 127:
            raise ParameterError(f"a General MIDI program is 0..127, got {v!r}")


def render_to_wav(midi_or_score, path, *, sample_rate: int = 22050, soundfont=None,
                  program_override=None, gain: float = DEFAULT_GAIN,
                  effects: bool = True) -> Path:
    """Render a MIDI file or a music21 score to a WAV file with FluidSynth.

    Parameters
    ----------
    midi_or_score : str or Path or mido.MidiFile or music21.stream.Stream
        A MIDI file (path or mido object) or a music21 score.
    path : str or Path
        The WAV file to write (stereo, 16-bit, ``sample_rate``).
    sample_rate : int > 0
        Sample rate in Hz.
    soundfont : str or Path or None
        See :func:`find_soundfont`.
    program_override : int or Mapping[int, int] or None
        A General MIDI program (0-127) for every melodic channel, or a map from
        MIDI track index to program; None keeps the file's programs.
    gain : float > 0
        FluidSynth's master gain.
    effects : bool
        Keep FluidSynth's reverb and chorus (its default); False renders dry.

    Returns
    -------
    path : Path

    Raises
    ------
    SynthError
        FluidSynth or the soundfont is missing, or FluidSynth failed.
    ParameterError
        A bad ``sample_rate``, ``gain`` or program.
    """
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ParameterError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    if not gain > 0:
        raise ParameterError(f"gain must be positive, got {gain!r}")
    if program_override is not None:
        _check_program(program_override)
    exe = find_fluidsynth()
    sf2 = find_soundfont(soundfont)
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="omr-synth-") as tmp:
        midi = _as_midi_file(midi_or_score, Path(tmp))
        if program_override is not None:
            voiced = Path(tmp) / "voiced.mid"
            _set_programs(midi, voiced, program_override)
            midi = voiced
        cmd = [exe, "-ni", "-q", "-F", str(path), "-T", "wav", "-r", str(int(sample_rate)),
               "-g", f"{gain:g}"]
        if not effects:
            cmd += ["-R", "0", "-C", "0"]
        cmd += [str(sf2), str(midi)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RENDER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise SynthError(f"FluidSynth took longer than {RENDER_TIMEOUT_S:.0f} s") from None
        if proc.returncode != 0 or not path.is_file() or path.stat().st_size <= 44:
            msg = (proc.stderr or proc.stdout or "").strip().splitlines()
            raise SynthError("FluidSynth could not render the MIDI file"
                             + (f": {msg[-1]}" if msg else ""))
    return path


def render(midi_or_score, *, sample_rate: int = 22050, soundfont=None, program_override=None,
           gain: float = DEFAULT_GAIN, effects: bool = True, mono: bool = True) -> np.ndarray:
    """Render a MIDI file or a music21 score to samples with FluidSynth.

    Parameters
    ----------
    midi_or_score, sample_rate, soundfont, program_override, gain, effects
        As in :func:`render_to_wav`.
    mono : bool
        Average FluidSynth's two channels (default); otherwise return both.

    Returns
    -------
    y : np.ndarray [shape=(n,) or (2, n)], float32
        Samples in [-1, 1] at ``sample_rate``.
    """
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="omr-render-") as tmp:
        wav = render_to_wav(midi_or_score, Path(tmp) / "out.wav", sample_rate=sample_rate,
                            soundfont=soundfont, program_override=program_override, gain=gain,
                            effects=effects)
        data, _ = sf.read(str(wav), dtype="float32", always_2d=True)
    y = data.T
    if mono:
        y = y.mean(axis=0)
    return np.ascontiguousarray(y)


#: MIDI resolution of :func:`write_notes_midi`: ticks per quarter at 120 qpm, so one
#: tick is 1/1920 s.
NOTES_MIDI_TPB = 960
NOTES_MIDI_TEMPO = 500000  # microseconds per quarter (120 qpm)


def write_notes_midi(path, onsets_sec, offsets_sec, pitches, *, parts=None, programs=0,
                     velocities=None) -> Path:
    """Write notes given in seconds to a MIDI file (one track and channel per part).

    Used to make recordings with a known timing (tests, benchmarks): the notes'
    times can follow any tempo curve.

    Parameters
    ----------
    path : str or Path
    onsets_sec, offsets_sec, pitches : array-like [shape=(k,)]
        Note starts and ends (seconds) and MIDI pitches.
    parts : array-like [shape=(k,)] or None
        Part of each note (0-based); all 0 when None.
    programs : int or Mapping[int, int]
        General MIDI program of every part, or per part.
    velocities : array-like or None
        MIDI velocities (default 80).

    Returns
    -------
    path : Path
    """
    import mido

    onsets = np.asarray(onsets_sec, dtype=float)
    offsets = np.maximum(np.asarray(offsets_sec, dtype=float), onsets + 0.01)
    pitches = np.asarray(pitches, dtype=int)
    parts = np.zeros(len(onsets), dtype=int) if parts is None else np.asarray(parts, dtype=int)
    vel = np.full(len(onsets), 80) if velocities is None else np.asarray(velocities, dtype=int)
    ticks_per_sec = NOTES_MIDI_TPB * 1e6 / NOTES_MIDI_TEMPO
    mid = mido.MidiFile(type=1, ticks_per_beat=NOTES_MIDI_TPB)
    meta = mido.MidiTrack()
    meta.append(mido.MetaMessage("set_tempo", tempo=NOTES_MIDI_TEMPO, time=0))
    mid.tracks.append(meta)
    for k, part in enumerate(sorted(set(parts.tolist()))):
        channel = k if k < DRUM_CHANNEL else k + 1
        prog = programs.get(part, 0) if isinstance(programs, Mapping) else int(programs)
        sel = np.flatnonzero(parts == part)
        events = []
        for i in sel:
            events.append((int(round(offsets[i] * ticks_per_sec)), 0, int(pitches[i]), 0))
            events.append((int(round(onsets[i] * ticks_per_sec)), 1, int(pitches[i]),
                           int(vel[i])))
        events.sort()  # at equal ticks note-offs (0) before note-ons (1)
        track = mido.MidiTrack()
        track.append(mido.Message("program_change", channel=channel, program=prog, time=0))
        now = 0
        for tick, on, pitch, v in events:
            kind = "note_on" if on else "note_off"
            track.append(mido.Message(kind, channel=channel, note=pitch, velocity=v,
                                      time=tick - now))
            now = tick
        mid.tracks.append(track)
    path = Path(path)
    mid.save(str(path))
    return path


def _as_midi_file(midi_or_score, tmp: Path) -> Path:
    """A MIDI file on disk for any accepted input."""
    if isinstance(midi_or_score, (str, os.PathLike)):
        p = Path(midi_or_score)
        if not p.is_file():
            raise SynthError(f"no such MIDI file: {p}")
        return p
    try:
        import mido
    except ImportError:  # pragma: no cover - mido is a project dependency
        mido = None
    if mido is not None and isinstance(midi_or_score, mido.MidiFile):
        out = tmp / "in.mid"
        midi_or_score.save(str(out))
        return out
    if hasattr(midi_or_score, "write") and hasattr(midi_or_score, "recurse"):  # music21
        return score_to_midi(midi_or_score, tmp / "score.mid")
    raise ParameterError("expected a MIDI file path, a mido.MidiFile or a music21 stream, got "
                         f"{type(midi_or_score).__name__}")
