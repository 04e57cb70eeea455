"""Score-to-audio alignment: every note of the unfolded score gets its onset in a recording.

The score is never synthesized. Its features come straight from the note list (a
piano roll folded into chroma, and the note onsets as pitch-onset peaks); the
recording's come from synctoolbox's multirate pitch filterbank (chroma from the
band energies, DLNCO onset features from the band onsets). Then:

1. **Tuning.** The recording's deviation from A440 (cents) is estimated with
   synctoolbox/libfmp (:func:`synctoolbox.feature.utils.estimate_tuning`) and the
   filterbank is shifted by it.
2. **Silence.** Leading and trailing frames far below the recording's level are
   left out (:func:`_active_range`); padding on both sides of the score's features
   absorbs what is left (noise, a breath).
3. **Key.** The score's chroma is tried in all 12 cyclic shifts against the
   recording (subsequence DTW on 2 Hz CENS features); the cheapest shift is the
   transposition.
4. **Repeats and coverage.** Each backward jump of the unfolded score (a repeat,
   D.C., D.S.) can be taken or not. Versions of the score timeline are matched to
   the recording with subsequence DTW on 5 Hz CENS features (the recording must be
   matched whole, the score only in part), which also finds the part of the score
   the recording covers. The cheapest version wins.
5. **Fine alignment.** synctoolbox's memory-restricted multiscale DTW (MrMsDTW)
   on 50 Hz chroma + DLNCO aligns the covered part of the score to the recording;
   every note's onset is read off the (strictly monotonic) warping path.
6. **Confidence.** The coarse matching cost is compared with the cost of matching
   the same recording to block-shuffled versions of the score (the cost of "some
   music in the same key"), and the warping path's local tempo is checked for
   lurches; a recording of a different piece costs about as much as the shuffled
   score and needs an erratic path, and gets a confidence near 0.

:func:`align` returns an :class:`Alignment`; :func:`write_csv` writes the
project's alignment CSV (``part, measure, score_qn, score_sec, pitch, onset_sec``).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omr.errors import OmrError, ParameterError

log = logging.getLogger(__name__)

# ------------------------------------------------------------------- constants

#: Sample rate (Hz) of the audio the features are computed from.
SAMPLE_RATE = 22050
#: Frame rate (Hz) of the fine chroma and DLNCO features (20 ms frames).
FEATURE_RATE = 50
#: Lowest and highest MIDI pitch of the pitch filterbank. synctoolbox's goes up to
#: 108 (C8), but its bands above 95 (B6, 1976 Hz) are filtered at the full sample
#: rate and cost half the filtering time; fundamentals that high are rare and
#: the chroma and onsets of the bands below carry the alignment (see docs/audio.md).
MIDI_MIN, MIDI_MAX = 21, 95
#: Frame rate (Hz) of the pitch-band energy envelopes kept for onset refinement.
ENVELOPE_RATE = 200
#: Tempo (quarter notes per minute) of a score that marks none: the project's MIDI
#: (and ``synth.unfold.DEFAULT_QPM``) use the same.
DEFAULT_QPM = 100.0

#: Coarse CENS features for the key search: smoothing window (frames at
#: :data:`FEATURE_RATE`) and downsampling factor -> 2 Hz.
KEY_CENS_WINDOW, KEY_CENS_DOWNSAMPLE = 101, 25
#: CENS features for the coverage / repeat search and the confidence -> 5 Hz.
REGION_CENS_WINDOW, REGION_CENS_DOWNSAMPLE = 41, 10
#: Subsequence-DTW steps (recording frames, score frames): local tempo between 1/3
#: and 3 times the score's nominal tempo.
SUBSEQ_STEPS = np.array([[1, 1], [1, 2], [2, 1], [1, 3], [3, 1]], dtype=np.int64)
#: Silent "pad" (seconds) before and after the score in the coarse search.
COARSE_PAD_S = 4.0
#: Silent pad before and after the score, and margin of recording kept around the
#: matched part, in the fine alignment (seconds).
FINE_PAD_S = 1.0
FINE_MARGIN_S = 1.0
#: The start of the matched part of the score is refined at the fine feature rate:
#: the first :data:`EDGE_QUERY_S` of the recording are matched (subsequence DTW on
#: chroma + DLNCO) to a start within :data:`EDGE_SEARCH_S` of the coarse estimate.
#: A start or end within :data:`EDGE_SNAP_S_FINE` of the score's own is the
#: score's; otherwise a start moves to a note onset within :data:`EDGE_SNAP_NOTE_S`.
EDGE_QUERY_S = 4.0
#: A coarse start within this many seconds of the score's start is the start (a
#: recording rarely begins in the first bar; the refinement can err by a beat).
EDGE_SNAP_S = 1.5
EDGE_SEARCH_S = 1.0
EDGE_SNAP_S_FINE = 0.3
EDGE_SNAP_NOTE_S = 0.25
#: The matched part ends where the notes that start this long (seconds) before the
#: coarse end stop sounding.
END_ONSET_MARGIN_S = 0.4

#: Leading/trailing recording frames quieter than this many dB below the loud frames
#: (98th percentile) are silence ...
SILENCE_RANGE_DB = 50.0
#: ... or within this many dB of the noise floor (2nd percentile) ...
SILENCE_FLOOR_MARGIN_DB = 10.0
#: ... but never frames louder than this many dB below the loud frames.
SILENCE_MAX_CUT_DB = 25.0

#: The recording is taken to play the whole score (repeat versions aside) unless
#: matching it to a part of the score costs this fraction less.
FULL_COVERAGE_TOLERANCE = 0.15
#: A version of the score that skips more repeats must beat the others' coarse cost
#: by this fraction; versions within it are ranked by how much score they leave
#: unmatched.
REPEAT_COST_TOLERANCE = 0.03
#: Largest number of repeats whose taken/not-taken combinations are all tried;
#: beyond it, they are decided one at a time (greedy).
MAX_EXHAUSTIVE_REPEATS = 4

#: MrMsDTW parameters: synctoolbox's step weights for audio-score sync; the largest
#: constraint rectangle (``threshold_rec``) is 1e6 cells (synctoolbox's setting for
#: accuracy) for up to 2 x 2 minutes of features, shrinking with the matrix
#: (:data:`MRMSDTW_REFERENCE_CELLS` / cells) to 1e5 for long recordings (1e6 took 6x
#: longer on a 5-minute piece for the same onsets).
MRMSDTW_STEP_WEIGHTS = np.array([1.5, 1.5, 2.0])
MRMSDTW_THRESHOLD_REC = (10 ** 5, 10 ** 6)
MRMSDTW_REFERENCE_CELLS = (120 * FEATURE_RATE) ** 2
#: Shortest excerpt (seconds) that gets the full 4-level MrMsDTW; shorter ones use
#: the two finest levels.
MRMSDTW_MIN_FULL_S = 8.0

#: Confidence combines two signs that a recording plays the score:
#:
#: - ``match``: the coarse DTW cost divided by the cost of matching the same recording
#:   to block-shuffled versions of the score (music in the same key, wrong order);
#: - ``roughness``: how erratic the warping path's local tempo is (median absolute
#:   deviation of the log slope over :data:`ROUGH_WINDOW_S` from its
#:   :data:`ROUGH_SMOOTH_S` average): a performance changes tempo smoothly, while a
#:   path forced through another piece lurches.
#:
#: ``evidence = (MATCH_ZERO - match) / MATCH_SCALE + (ROUGH_ZERO - roughness) /
#: ROUGH_SCALE``, each term clipped (:data:`MATCH_TERM_RANGE`,
#: :data:`ROUGH_TERM_RANGE`: a performance with wild but real tempo changes loses at
#: most 0.5); the confidence rises linearly from 0 at :data:`CONFIDENCE_LOW` to 1 at
#: :data:`CONFIDENCE_HIGH`. Calibrated on FluidSynth renderings of Bach
#: chorales on smooth random tempo curves, with noise and with an added part
#: (docs/audio.md): the right piece scored 1.74-3.0, a different piece at most 0.74.
MATCH_ZERO, MATCH_SCALE = 0.9, 0.3
ROUGH_ZERO, ROUGH_SCALE = 0.2, 0.1
MATCH_TERM_RANGE = (-1.0, 2.0)
ROUGH_TERM_RANGE = (-0.5, 2.0)
ROUGH_WINDOW_S = 1.0
ROUGH_SMOOTH_S = 8.0
CONFIDENCE_LOW = 0.75
CONFIDENCE_HIGH = 1.75
#: Length (seconds) of the blocks the score is shuffled in for the baseline, and how
#: many shuffles are averaged.
SHUFFLE_BLOCK_S = 2.0
SHUFFLE_COUNT = 2

#: Tempo curve: grid step and the width of the window the slope is measured over
#: (seconds of score time).
TEMPO_GRID_S = 0.25
TEMPO_SMOOTH_S = 3.0

#: Attack correction. The DTW puts an onset where the recording's chroma and onset
#: features change most, which for instruments with a slow attack (bowed strings,
#: organ, flute, voices) is well after the note starts. For each group of notes with
#: one onset, the summed energy envelope of their pitch bands is searched from
#: :data:`ATTACK_SEARCH_BEFORE_S` before to :data:`ATTACK_SEARCH_AFTER_S` after the
#: aligned onset (never past the neighbouring onsets): the onset is where the
#: envelope first rises :data:`ATTACK_THRESHOLD` of the way from its minimum to its
#: maximum (a rise of at least :data:`ATTACK_MIN_RISE` times in energy). The median
#: difference over all groups (at least :data:`ATTACK_MIN_GROUPS`) moves every onset
#: of the recording, when it is more than :data:`ATTACK_DEAD_ZONE_S` early (one
#: correction per recording: an instrument's attack is about constant, and a median
#: over many notes is robust where single notes are not). It brings bowed strings
#: and organ 30-70 ms closer to the note-on, not all the way (docs/audio.md).
ATTACK_SEARCH_BEFORE_S = 0.25
ATTACK_SEARCH_AFTER_S = 0.15
ATTACK_THRESHOLD = 0.1
ATTACK_MIN_RISE = 10.0
ATTACK_MIN_GROUPS = 8
ATTACK_DEAD_ZONE_S = 0.02
ATTACK_MAX_CORRECTION_S = 0.25

#: Threads for the filterbank (numpy/scipy release the GIL while filtering).
DEFAULT_WORKERS = 2

CSV_COLUMNS = ("part", "measure", "score_qn", "score_sec", "pitch", "onset_sec")


class AlignmentError(OmrError):
    """The score or the recording cannot be aligned (no notes, too short, ...)."""


# ------------------------------------------------------------------ note lists


@dataclass
class ScoreNote:
    """One sounding note of the unfolded score (repeats written out, in playing order).

    ``score_sec`` is the note's onset in the score's own timeline: a MIDI file's own
    seconds, or for a notated score the nominal tempo (tempo marks,
    :data:`DEFAULT_QPM` where none).
    """

    part: int  # 0-based part (MusicXML part, MIDI track with notes)
    measure: str  # the measure's number as printed ("" when unknown)
    score_qn: float  # onset, quarter notes from the start of the unfolded score
    score_sec: float  # onset, seconds in the score's timeline
    pitch: int  # MIDI, sounding
    duration_sec: float = 0.0
    duration_qn: float = 0.0
    velocity: int = 80
    #: Position of the measure in the printed score (0-based), when known: a smaller
    #: one than the previous note's marks a jump back (a repeat).
    measure_index: int | None = None


def score_notes(score) -> list[ScoreNote]:
    """The unfolded note list of a score, whatever form it comes in.

    Parameters
    ----------
    score : str or Path or music21.stream.Stream or sequence of ScoreNote
        A MIDI file (``.mid``/``.midi``: its own timeline), a MusicXML file
        (``.musicxml``/``.xml``/``.mxl``: parsed by music21, unfolded with
        :func:`notes_from_music21`), a music21 score, or a ready note list.

    Returns
    -------
    notes : list of ScoreNote
        Sorted by onset, then part, then pitch.

    Raises
    ------
    AlignmentError
        The file cannot be read, or holds no pitched notes.
    """
    if isinstance(score, (list, tuple)):
        notes = list(score)
        if notes and not all(hasattr(n, "score_sec") and hasattr(n, "pitch") for n in notes):
            raise ParameterError("a note list must hold ScoreNote-like objects")
    elif isinstance(score, (str, Path)):
        p = Path(score)
        if not p.is_file():
            raise AlignmentError(f"no such score file: {p}")
        suffix = p.suffix.lower()
        if suffix in (".mid", ".midi"):
            notes = notes_from_midi(p)
        elif suffix in (".musicxml", ".xml", ".mxl"):
            import music21

            try:
                parsed = music21.converter.parse(str(p))
            except Exception as err:  # music21 raises many kinds
                raise AlignmentError(f"{p}: cannot be read as MusicXML ({err})") from None
            notes = notes_from_music21(parsed)
        else:
            raise AlignmentError(f"{p}: a score must be MIDI (.mid) or MusicXML (.musicxml, "
                                 ".xml, .mxl)")
    elif hasattr(score, "recurse"):
        notes = notes_from_music21(score)
    else:
        raise ParameterError(f"cannot read a score from a {type(score).__name__}")
    notes = [n for n in notes if 0 <= int(n.pitch) <= 127]
    if not notes:
        raise AlignmentError("the score has no pitched notes to align")
    notes.sort(key=lambda n: (n.score_sec, n.part, n.pitch))
    return notes


def notes_from_midi(path) -> list[ScoreNote]:
    """Notes of a MIDI file in its own timeline (tempo map applied).

    Parts are the tracks that hold notes, in file order (a type-0 file: one part per
    channel). Percussion (channel 10) is left out. Measures are counted from the
    time signatures (4/4 where none), starting at 1.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    notes : list of ScoreNote
    """
    import mido

    try:
        mid = mido.MidiFile(str(path))
    except Exception as err:  # mido raises OSError, EOFError, ValueError...
        raise AlignmentError(f"{path}: cannot be read as MIDI ({err})") from None
    tpb = mid.ticks_per_beat or 480
    # absolute-tick events of every track
    tempo_events, sig_events = [], []
    tracks = []
    for track in mid.tracks:
        tick = 0
        events = []
        for msg in track:
            tick += msg.time
            if msg.type == "set_tempo":
                tempo_events.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                sig_events.append((tick, msg.numerator, msg.denominator))
            elif msg.type in ("note_on", "note_off"):
                events.append((tick, msg))
        tracks.append(events)
    tempo_events.sort()
    if not tempo_events or tempo_events[0][0] > 0:
        tempo_events.insert(0, (0, 500000))

    # tick -> seconds
    bounds_tick = np.array([t for t, _ in tempo_events], dtype=np.float64)
    bounds_sec = np.zeros(len(tempo_events))
    for k in range(1, len(tempo_events)):
        dt = tempo_events[k][0] - tempo_events[k - 1][0]
        bounds_sec[k] = bounds_sec[k - 1] + dt * tempo_events[k - 1][1] / 1e6 / tpb
    tempos = np.array([t for _, t in tempo_events], dtype=np.float64)

    def to_sec(tick: float) -> float:
        k = int(np.searchsorted(bounds_tick, tick, side="right") - 1)
        return float(bounds_sec[k] + (tick - bounds_tick[k]) * tempos[k] / 1e6 / tpb)

    sig_events.sort()
    if not sig_events or sig_events[0][0] > 0:
        sig_events.insert(0, (0, 4, 4))

    def measure_of(tick: float) -> str:
        number = 1
        for k, (t0, num, den) in enumerate(sig_events):
            t1 = sig_events[k + 1][0] if k + 1 < len(sig_events) else math.inf
            length = tpb * 4.0 * num / den
            if tick < t1:
                return str(number + int((tick - t0) // length))
            number += int(math.ceil((t1 - t0) / length - 1e-9))
        return str(number)

    notes: list[ScoreNote] = []
    part_of: dict = {}
    for ti, events in enumerate(tracks):
        open_notes: dict = {}
        for tick, msg in events:
            if msg.channel == 9:
                continue
            key = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                open_notes.setdefault(key, []).append((tick, msg.velocity))
            elif open_notes.get(key):
                start, vel = open_notes[key].pop(0)
                pkey = (ti, msg.channel) if mid.type == 0 else ti
                part = part_of.setdefault(pkey, len(part_of))
                s0, s1 = to_sec(start), to_sec(tick)
                notes.append(ScoreNote(part=part, measure=measure_of(start),
                                       score_qn=round(start / tpb, 6), score_sec=round(s0, 6),
                                       pitch=int(msg.note), duration_sec=round(s1 - s0, 6),
                                       duration_qn=round((tick - start) / tpb, 6),
                                       velocity=int(vel)))
    notes.sort(key=lambda n: (n.score_sec, n.part, n.pitch))
    return notes


def notes_from_music21(score) -> list[ScoreNote]:
    """The unfolded note list of a music21 score: the project's one unfolding,
    :func:`omr.export.unfolded_notes` (the notes ``omr transcribe --midi`` writes,
    so ``score_sec`` is that MIDI file's timeline).

    Parameters
    ----------
    score : music21.stream.Score or music21.stream.Part

    Returns
    -------
    notes : list of ScoreNote
    """
    from omr.export import unfolded_notes

    played = unfolded_notes(score, default_qpm=DEFAULT_QPM)
    notes = [ScoreNote(part=int(n.part), measure=str(n.measure),
                       score_qn=round(float(n.onset_qn), 6),
                       score_sec=round(float(n.onset_sec), 6), pitch=int(n.pitch),
                       duration_sec=round(float(n.duration_sec), 6),
                       duration_qn=round(float(n.duration_qn), 6),
                       velocity=int(getattr(n, "velocity", 80) or 80),
                       measure_index=getattr(n, "measure_index", None))
             for n in played]
    notes.sort(key=lambda n: (n.score_sec, n.part, n.pitch))
    return notes


# ------------------------------------------------------------------- features


@dataclass
class AudioFeatures:
    """synctoolbox features of a recording, at :data:`FEATURE_RATE`."""

    #: Short-time mean-square power of each MIDI pitch band, shape (128, n).
    pitch: np.ndarray
    #: Quantized chroma (synctoolbox ``quantize_chroma``), shape (12, n).
    chroma: np.ndarray
    #: DLNCO onset features, shape (12, n).
    dlnco: np.ndarray
    #: Onset peaks per MIDI pitch: ``{pitch: array([[ms ...], [height ...]])}``.
    peaks: dict
    #: Tuning deviation the filterbank was shifted by (cents).
    tuning_cents: float
    #: Energy envelope of each MIDI pitch band at :data:`ENVELOPE_RATE`, shape
    #: (128, m), float32 (for refining onsets).
    envelope: np.ndarray | None = field(default=None, repr=False)
    feature_rate: float = FEATURE_RATE

    @property
    def n_frames(self) -> int:
        return self.chroma.shape[1]

    def energy_db(self) -> np.ndarray:
        """Frame energy (sum of the pitch bands) in dB."""
        return 10.0 * np.log10(self.pitch.sum(axis=0) + 1e-12)


def audio_features(y: np.ndarray, sr: int = SAMPLE_RATE, *, tuning_cents=None,
                   workers: int = DEFAULT_WORKERS, midi_max: int = MIDI_MAX) -> AudioFeatures:
    """Pitch, chroma and DLNCO onset features of a recording.

    One pass of synctoolbox's multirate elliptic filterbank gives both the band
    energies (as in ``audio_to_pitch_features``) and the band onsets (as in
    ``audio_to_pitch_onset_features``: energy envelope, Chebyshev smoothing,
    half-wave rectified derivative, synctoolbox's peak picker), so each band is
    filtered once instead of twice; the bands are filtered in ``workers`` threads.

    Parameters
    ----------
    y : np.ndarray [shape=(n,)]
        Mono recording.
    sr : int
        Its sample rate; resampled to :data:`SAMPLE_RATE` if different.
    tuning_cents : float or None
        Deviation from A440 in cents; None: estimated
        (``synctoolbox.feature.utils.estimate_tuning``).
    workers : int >= 1
        Filtering threads.
    midi_max : int in [60, 108]
        Highest pitch band (:data:`MIDI_MAX`; 108 is synctoolbox's).

    Returns
    -------
    features : AudioFeatures
    """
    from scipy import signal
    from synctoolbox.feature import pitch_onset as _po
    from synctoolbox.feature.chroma import pitch_to_chroma
    from synctoolbox.feature.filterbank import FS_PITCH, generate_filterbank, get_fs_index
    from synctoolbox.feature.utils import estimate_tuning

    y = np.asarray(y, dtype=np.float64)
    if y.ndim != 1:
        raise ParameterError(f"expected a mono signal, got shape {y.shape}")
    if sr != SAMPLE_RATE:
        from omr.audio.io import resample

        y = resample(y, sr, SAMPLE_RATE).astype(np.float64)
    fs = SAMPLE_RATE
    if tuning_cents is None:
        tuning_cents = _estimate_tuning(y, fs, estimate_tuning)
    h = generate_filterbank(semitone_offset_cents=tuning_cents)
    if not 60 <= midi_max <= 108:
        raise ParameterError(f"midi_max must be in 60..108, got {midi_max}")
    # the signal at 22050, 4410 and 882 Hz (synctoolbox designs its 1001-tap MATLAB-like
    # anti-aliasing filter; scipy's default 101-tap Kaiser filter is 10x cheaper and
    # as good for band energies)
    wav_ds = [y, signal.resample_poly(y, 1, 5)]
    wav_ds.append(signal.resample_poly(wav_ds[1], 1, 5))

    # frames as in audio_to_pitch_features: 2/FEATURE_RATE windows, hop 1/FEATURE_RATE
    win = fs / FEATURE_RATE * 2
    step = int(win / 2)
    seg_start = np.concatenate([np.ones(1), np.arange(1, y.size + 1, step)]).astype(np.float64)
    seg_stop = np.minimum(seg_start + win, y.size)
    seg_stop[0] = min(np.round(win / 2), y.size)
    n_frames = seg_start.size

    find_peaks = getattr(_po, "__find_peaks")
    smoothers = {}
    for index in range(3):
        wp = _po.CUT_OFF[index]
        n, wn = signal.cheb2ord(wp=wp, ws=wp + 0.01, gpass=1, gstop=20)
        smoothers[index] = signal.cheby2(N=n, rs=20, Wn=wn, output="sos")

    def band(midi_pitch: int):
        index = get_fs_index(midi_pitch)
        x = wav_ds[index]
        filtered = signal.sosfiltfilt(h[midi_pitch], x)
        square = filtered ** 2
        # band energy per frame (short-time mean-square power)
        start = np.floor(seg_start / fs * FS_PITCH[index]).astype(int)
        stop = np.floor(seg_stop / fs * FS_PITCH[index]).astype(int)
        prefix = np.concatenate([[0.0], np.cumsum(square)])
        energy = (prefix[stop] - prefix[start]) * (fs / FS_PITCH[index])
        # onsets
        ws, ds = _po.WINDOW_SIZE[index], _po.DOWNSAMPLING_FACTORS[index]
        window = np.hanning(ws + 2)[1:-1]
        env = signal.upfirdn(h=window, x=square, up=1, down=ds)
        delay = int(np.floor((ws - 1) / (ds * 2)))
        length = int(np.floor(filtered.size / ds))
        env = env[delay: delay + length]
        # the band's energy envelope at ENVELOPE_RATE (env[k] is centred on k * ds samples)
        env_t = np.arange(env.size) * ds / FS_PITCH[index]
        envelope = np.interp(env_grid, env_t, env).astype(np.float32) * (fs / FS_PITCH[index])
        if env.size > 3 * smoothers[index].shape[0] * 2:
            env = signal.sosfiltfilt(smoothers[index], env)
        onset = np.diff(env)
        onset *= onset > 0
        # local threshold: 2/3 of the maximum of each block
        wl = int(_po.WINDOW_LENGTHS[index])
        nblk = -(-onset.size // wl)
        padded = np.zeros(nblk * wl)
        padded[:onset.size] = onset
        thresh = np.repeat(padded.reshape(nblk, wl).max(axis=1) * 2 / 3, wl)[:onset.size]
        peaks = find_peaks(W=onset, dir=1, abs_thresh=thresh) if onset.size > 2 else np.zeros(0)
        res = _po.RES_FAC[index]
        times = (peaks * res - np.ceil(res / 2)) * 1000 / fs - 25.0  # manual_offset
        vals = onset[peaks.astype(int)] if peaks.size else np.zeros(0)
        keep = times > 0
        return midi_pitch, energy, np.array([times[keep], vals[keep]]), envelope

    env_grid = np.arange(int(y.size / fs * ENVELOPE_RATE) + 1) / ENVELOPE_RATE
    envelope = np.zeros((128, env_grid.size), dtype=np.float32)
    pitch = np.zeros((128, n_frames))
    peaks = {}
    pitches = range(MIDI_MIN, int(midi_max) + 1)
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as ex:
            results = list(ex.map(band, pitches))
    else:
        results = [band(p) for p in pitches]
    for p, energy, pk, env in results:
        pitch[p] = energy
        peaks[p] = pk
        envelope[p] = env
    chroma = quantize_chroma(pitch_to_chroma(pitch))
    f_dlnco = dlnco(peaks, n_frames)
    return AudioFeatures(pitch=pitch, chroma=chroma, dlnco=f_dlnco, peaks=peaks,
                         tuning_cents=float(tuning_cents), envelope=envelope)


#: Longest stretch of the recording (seconds) the tuning is estimated from (its
#: loudest part): the estimate is a long-term average anyway.
TUNING_EXCERPT_S = 60.0


def _estimate_tuning(y: np.ndarray, fs: int, estimate_tuning) -> float:
    n = int(TUNING_EXCERPT_S * fs)
    if y.size > n:
        hop = fs
        usable = y.size // hop * hop
        frames = np.add.reduceat(y[:usable] ** 2, np.arange(0, usable, hop))
        k = int(n // hop)
        csum = np.concatenate([[0.0], np.cumsum(frames)])
        best = int(np.argmax(csum[k:] - csum[:-k])) if frames.size > k else 0
        y = y[best * hop: best * hop + n]
    if y.size < 4096:
        return 0.0
    try:
        return float(estimate_tuning(y, fs, N=min(16384, 2 ** int(np.log2(y.size // 2)))))
    except Exception:  # noqa: BLE001 - libfmp fails on very short signals
        return 0.0


def score_features(onsets_sec: np.ndarray, durations_sec: np.ndarray, pitches: np.ndarray,
                   n_frames: int, *, velocities=None) -> tuple[np.ndarray, np.ndarray]:
    """Chroma and DLNCO features of a note list, at :data:`FEATURE_RATE`.

    The piano roll (one row per MIDI pitch, 1 while a note sounds) is folded into
    chroma and quantized like the recording's; the onsets become pitch-onset peaks
    fed to synctoolbox's DLNCO.

    Parameters
    ----------
    onsets_sec, durations_sec, pitches : np.ndarray [shape=(k,)]
        The notes.
    n_frames : int
        Frames to compute (the timeline's length).
    velocities : np.ndarray or None
        MIDI velocities (onset peak heights); 80 when None.

    Returns
    -------
    chroma : np.ndarray [shape=(12, n_frames)]
    dlnco : np.ndarray [shape=(12, n_frames)]
    """
    chroma = score_chroma(onsets_sec, durations_sec, pitches, n_frames)
    rate = FEATURE_RATE
    f0 = np.clip(np.round(np.asarray(onsets_sec) * rate).astype(int), 0, max(n_frames - 1, 0))
    vel = np.full(len(f0), 80.0) if velocities is None else np.asarray(velocities, dtype=float)
    peaks = {}
    onsets_ms = np.asarray(onsets_sec, dtype=float) * 1000.0
    pitches = np.asarray(pitches, dtype=int)
    for p in np.unique(pitches):
        sel = pitches == p
        order = np.argsort(onsets_ms[sel])
        peaks[int(p)] = np.array([onsets_ms[sel][order], vel[sel][order] / 1e6])
    return chroma, dlnco(peaks, n_frames)


#: synctoolbox's chroma quantization (CENS): l1-normalized chroma entries above each
#: step add its weight; frames with no entry above the threshold are all zero.
QUANT_STEPS = np.array([0.4, 0.2, 0.1, 0.05])
QUANT_WEIGHTS = np.array([0.25, 0.25, 0.25, 0.25])
QUANT_NORM_THRESHOLD = 0.001


def quantize_chroma(chroma: np.ndarray) -> np.ndarray:
    """``synctoolbox.feature.chroma.quantize_chroma``, vectorized (same numbers, no
    Python loop over frames).

    Parameters
    ----------
    chroma : np.ndarray [shape=(12, n)]

    Returns
    -------
    quantized : np.ndarray [shape=(12, n)]
    """
    chroma = np.asarray(chroma, dtype=np.float64)
    active = np.any(chroma > QUANT_NORM_THRESHOLD, axis=0)
    total = chroma.sum(axis=0)
    distr = np.where(active, chroma / np.where(active, total, 1.0), 0.0)
    out = np.zeros_like(distr)
    for step, weight in zip(QUANT_STEPS, QUANT_WEIGHTS):
        out += (distr > step) * weight
    return out


#: synctoolbox's DLNCO parameters (``pitch_onset_features_to_DLNCO`` defaults).
DLNCO_LOG_GAMMA = 10000.0
DLNCO_LN_MAXFILTER_S = 0.8
DLNCO_LN_THRESHOLD = 0.1
DLNCO_DECAY = np.sqrt(1.0 / np.arange(1, 11))


def dlnco(peaks: dict, n_frames: int, feature_rate: float = FEATURE_RATE) -> np.ndarray:
    """``synctoolbox.feature.dlnco.pitch_onset_features_to_DLNCO``, vectorized.

    Decaying, locally adaptively normalized chroma onset features: onset peaks
    (log-compressed heights) summed per pitch class and frame, divided by the local
    maximum (over :data:`DLNCO_LN_MAXFILTER_S`) of the frames' norms, then held with
    a decaying envelope (:data:`DLNCO_DECAY`).

    Parameters
    ----------
    peaks : dict
        ``{midi_pitch: array([[time_ms, ...], [height, ...]])}``.
    n_frames : int
    feature_rate : float

    Returns
    -------
    f_dlnco : np.ndarray [shape=(12, n_frames)]
    """
    co = np.zeros((12, n_frames))
    for p, pk in peaks.items():
        if pk.size == 0:
            continue
        t = np.asarray(pk[0], dtype=float) / 1000.0 * feature_rate
        idx = np.floor(t + 0.5).astype(int)  # MATLAB round (t >= 0)
        ok = (idx >= 0) & (idx < n_frames)
        vals = np.log(np.asarray(pk[1], dtype=float) * DLNCO_LOG_GAMMA + 1.0)
        np.add.at(co[int(p) % 12], idx[ok], vals[ok])
    norm = np.linalg.norm(co, axis=0)
    length = int(DLNCO_LN_MAXFILTER_S * feature_rate)
    length -= length % 2
    shift = length // 2
    from scipy.ndimage import maximum_filter1d

    local = maximum_filter1d(norm, size=2 * shift + 1, mode="constant", cval=0.0)
    local = np.maximum(local, DLNCO_LN_THRESHOLD)
    lnco = co / local
    out = lnco * DLNCO_DECAY[0]
    for k in range(1, DLNCO_DECAY.size):
        out[:, k:] = np.maximum(out[:, k:], lnco[:, :-k] * DLNCO_DECAY[k])
    return out


def score_chroma(onsets_sec: np.ndarray, durations_sec: np.ndarray, pitches: np.ndarray,
                 n_frames: int) -> np.ndarray:
    """Quantized chroma of a note list (piano roll folded into pitch classes), shape
    (12, n_frames), at :data:`FEATURE_RATE`."""
    rate = FEATURE_RATE
    f0 = np.clip(np.round(np.asarray(onsets_sec) * rate).astype(int), 0, max(n_frames - 1, 0))
    f1 = np.round((np.asarray(onsets_sec) + np.maximum(durations_sec, 0)) * rate).astype(int)
    f1 = np.clip(np.maximum(f1, f0 + 1), 0, n_frames)
    roll = np.zeros((12, n_frames + 1))
    pc = np.asarray(pitches, dtype=int) % 12
    np.add.at(roll, (pc, f0), 1.0)
    np.add.at(roll, (pc, f1), -1.0)
    chroma = np.cumsum(roll, axis=1)[:, :n_frames]
    return quantize_chroma(np.maximum(chroma, 0.0))


#: The score's register, as far as the recording's features are concerned: from
#: :data:`REGISTER_MARGIN` semitones below its (transposed) lowest note to
#: :data:`REGISTER_ABOVE` above its highest (the second harmonic and more).
#: The filterbank is already tuned to the recording, so the margin is 0: a band or
#: two lower let an accompaniment's bass line in (a string quartet's first violin
#: against violin + cello: 95.7% of onsets within 100 ms at 0, 90.3% at 1, 87.2% at
#: 3, 58.5% at 7; docs/audio.md). Every key shift is tried on its own register.
REGISTER_MARGIN = 0
REGISTER_ABOVE = 19
#: A key shift of up to this many semitones is taken as a transposition up; larger
#: shifts as one down (``shift - 12``), which keeps more bands (the safe side of the
#: octave ambiguity of chroma).
REGISTER_SHIFT_UP_MAX = 3


def transposed_register(lowest: int, highest: int, shift: int) -> tuple[int, int]:
    """The score's register in the recording, given the key search's chroma shift.

    >>> transposed_register(55, 91, 0)
    (55, 91)
    >>> transposed_register(55, 91, 2)
    (57, 93)
    >>> transposed_register(55, 91, 10)   # two semitones down
    (53, 89)
    """
    shift = int(shift) % 12
    offset = shift if shift <= REGISTER_SHIFT_UP_MAX else shift - 12
    return lowest + offset, highest + offset


def register_features(features: AudioFeatures, lowest: int, highest: int, *,
                      below: int = REGISTER_MARGIN,
                      onsets: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The recording's quantized chroma and DLNCO from the pitch bands of a register.

    Parameters
    ----------
    features : AudioFeatures
    lowest, highest : int
        MIDI pitch range of the score; the bands from ``lowest - below`` to
        ``highest +`` :data:`REGISTER_ABOVE` are used. When that is (nearly) the
        whole filterbank, ``features.chroma``/``.dlnco`` are returned as they are.
    below : int >= 0
        Semitones kept below ``lowest``.
    onsets : bool
        False: the chroma only (``dlnco`` is None).

    Returns
    -------
    chroma, dlnco : np.ndarray [shape=(12, n)]
    """
    lo = max(lowest - below, MIDI_MIN)
    hi = min(highest + REGISTER_ABOVE, 127)
    if lo <= MIDI_MIN + 6 and hi >= MIDI_MAX:
        return features.chroma, features.dlnco
    from synctoolbox.feature.chroma import pitch_to_chroma

    chroma = quantize_chroma(pitch_to_chroma(features.pitch, midi_min=lo, midi_max=hi))
    if not onsets:
        return chroma, None
    peaks = {p: pk for p, pk in features.peaks.items() if lo <= p <= hi}
    return chroma, dlnco(peaks, features.n_frames)


def _cens(chroma: np.ndarray, window: int, downsample: int) -> np.ndarray:
    from synctoolbox.feature.chroma import quantized_chroma_to_CENS

    return quantized_chroma_to_CENS(chroma, window, downsample, FEATURE_RATE)[0]


def _active_range(energy_db: np.ndarray) -> tuple[int, int]:
    """First and one-past-last frame that is not leading/trailing silence."""
    if energy_db.size == 0:
        return 0, 0
    top = np.percentile(energy_db, 98)
    floor = max(np.percentile(energy_db, 2), top - 80.0)
    thr = max(top - SILENCE_RANGE_DB, floor + SILENCE_FLOOR_MARGIN_DB)
    thr = min(thr, top - SILENCE_MAX_CUT_DB)
    loud = np.flatnonzero(energy_db > thr)
    if loud.size == 0:
        return 0, energy_db.size
    return int(loud[0]), int(loud[-1]) + 1


# ------------------------------------------------------------------ subsequence DTW

_numba_kernel = None


def _subseq_kernel():
    """The numba-compiled subsequence-DTW kernel (compiled once, cached on disk)."""
    global _numba_kernel
    if _numba_kernel is None:
        from numba import njit

        @njit(cache=True)
        def kernel(C, steps, symmetric):
            n, m = C.shape
            D = np.full((n, m), np.inf)
            B = np.full((n, m), -1, np.int8)
            for j in range(m):
                D[0, j] = (2.0 if symmetric else 1.0) * C[0, j]
            for i in range(1, n):
                for j in range(m):
                    best = np.inf
                    arg = -1
                    for s in range(steps.shape[0]):
                        di = steps[s, 0]
                        dj = steps[s, 1]
                        if i - di >= 0 and j - dj >= 0:
                            w = di + dj if symmetric else di
                            v = D[i - di, j - dj] + C[i, j] * w
                            if v < best:
                                best = v
                                arg = s
                    D[i, j] = best
                    B[i, j] = arg
            return D, B

        _numba_kernel = kernel
    return _numba_kernel


@dataclass
class _Match:
    cost: float  # mean cost per recording frame
    start: int  # first score frame of the match
    end: int  # last score frame of the match


def _subsequence_match(query: np.ndarray, db: np.ndarray, *, start_max: int | None = None,
                       end_min: int | None = None) -> _Match:
    """Match all of ``query`` (recording, (12, n)) to a part of ``db`` (score, (12, m)).

    Both are unit-norm feature sequences; the cost of a pair is 1 - cosine. Steps are
    weighted by the frames they cover in both sequences (a diagonal step 2), so a
    path pays for the score it skips; the returned cost is per frame of both
    sequences covered, so versions of the score can be compared. ``start_max`` /
    ``end_min`` restrict where the match may start / end (score frames).
    """
    n, m = query.shape[1], db.shape[1]
    C = np.maximum(1.0 - query.T @ db, 0.0)
    if start_max is not None:
        C[0, start_max + 1:] = np.inf
    D, B = _subseq_kernel()(np.ascontiguousarray(C), SUBSEQ_STEPS, True)
    last = D[n - 1].copy()
    if end_min is not None:
        last[:max(end_min, 0)] = np.inf
    j = int(np.argmin(last))
    if not np.isfinite(last[j]):
        return _Match(math.inf, 0, m - 1)
    i = n - 1
    end = j
    while i > 0:
        step = B[i, j]
        if step < 0:
            break
        i -= SUBSEQ_STEPS[step, 0]
        j -= SUBSEQ_STEPS[step, 1]
    # symmetric step weights (di + dj): per frame of both sequences the path covers
    return _Match(float(last[end]) / (n + end - j + 1), j, end)


def _normalize(chroma: np.ndarray) -> np.ndarray:
    from synctoolbox.feature.utils import normalize_feature

    return normalize_feature(chroma, 2, 0.001)


def _refine_start(au_chroma, au_onset, sc_chroma, sc_onset, a0: int, a1: int,
                  guess: float) -> float:
    """The score time (seconds) where the recording starts, refined.

    The first :data:`EDGE_QUERY_S` of the recording's active part (frames from
    ``a0``) are matched with subsequence DTW to the score's fine features, starting
    within :data:`EDGE_SEARCH_S` of ``guess``. Features are (12, n) at
    :data:`FEATURE_RATE`, chroma unit-norm.
    """
    from synctoolbox.dtw.cost import compute_high_res_cost_matrix

    rate = FEATURE_RATE
    q_len = int(min(EDGE_QUERY_S * rate, (a1 - a0)))
    m = sc_chroma.shape[1]
    g = int(round(guess * rate))
    reach = int(EDGE_SEARCH_S * rate)
    if q_len < rate // 2 or m < 2:
        return guess
    lo, hi = max(g - reach, 0), min(g + reach, m - 1)  # where the match may start
    end = min(hi + 3 * q_len, m)
    C = compute_high_res_cost_matrix(
        np.ascontiguousarray(au_chroma[:, a0:a0 + q_len]),
        np.ascontiguousarray(sc_chroma[:, lo:end]),
        np.ascontiguousarray(au_onset[:, a0:a0 + q_len]),
        np.ascontiguousarray(sc_onset[:, lo:end]))
    C[0, hi - lo + 1:] = 1e9  # the match must begin near the coarse estimate
    # steps weighted by recording frames only: every path pays for each recording
    # frame once, so no start is favoured for making the path shorter
    D, B = _subseq_kernel()(np.ascontiguousarray(C), SUBSEQ_STEPS, False)
    j = int(np.argmin(D[-1]))
    if not D[-1, j] < 1e9:
        return guess
    i = D.shape[0] - 1
    while i > 0 and B[i, j] >= 0:
        step = B[i, j]
        i -= SUBSEQ_STEPS[step, 0]
        j -= SUBSEQ_STEPS[step, 1]
    return (lo + j) / rate


# --------------------------------------------------------------------- repeats


@dataclass
class RepeatJump:
    """A backward jump of the unfolded score (a repeat, D.C. or D.S.)."""

    #: Measure played just before the jump, and the one jumped back to.
    from_measure: str
    to_measure: str
    #: Onset (score seconds) of the first note after the jump.
    score_sec: float
    #: The first pass of the repeated passage: [start, end) in score seconds. A
    #: recording that does not take the repeat plays the score without it.
    first_pass: tuple[float, float]
    #: Whether the recording took it: True, False, or None when that part of the
    #: score is not in the recording.
    taken: bool | None = None


def find_repeat_jumps(notes: list[ScoreNote]) -> list[RepeatJump]:
    """Backward jumps in the unfolded score's measure sequence.

    Measures are ranked by their printed position (``measure_index``) when the notes
    carry it, else by their first appearance; a note whose measure ranks below the
    previous note's starts a jump back. The passage a recording leaves out when
    it does not take the repeat is the jump target's previous pass (for first/second
    endings: the first time through, first ending included).

    Parameters
    ----------
    notes : list of ScoreNote
        Sorted by onset.

    Returns
    -------
    jumps : list of RepeatJump
    """
    if not notes or not any(n.measure for n in notes):
        return []
    rank: dict[str, int] = {}
    groups = []  # (onset, rank, measure)
    indexed = all(getattr(n, "measure_index", None) is not None for n in notes)
    for n in notes:
        r = int(n.measure_index) if indexed else rank.setdefault(n.measure, len(rank))
        if groups and abs(groups[-1][0] - n.score_sec) < 1e-6:
            continue  # one group per onset: its first (lowest part) note's measure
        groups.append((n.score_sec, r, n.measure))
    jumps = []
    for k in range(1, len(groups)):
        t, r, label = groups[k]
        if r >= groups[k - 1][1]:
            continue
        # the previous pass: the last time the target measure was entered (or, when it
        # has no notes, the last time the music came to it from an earlier measure)
        start = None
        for q in range(k - 1, -1, -1):
            if groups[q][1] == r and (q == 0 or groups[q - 1][1] != r):
                start = groups[q][0]
                break
        if start is None:
            for q in range(k - 1, -1, -1):
                if groups[q][1] >= r and (q == 0 or groups[q - 1][1] < r):
                    start = groups[q][0]
                    break
        if start is None or start >= t:
            continue
        jumps.append(RepeatJump(from_measure=groups[k - 1][2], to_measure=label, score_sec=t,
                                first_pass=(start, t)))
    return jumps


@dataclass
class _Timeline:
    """A version of the score timeline with some repeats left out."""

    skipped: tuple  # indices of the jumps not taken
    cuts: list  # merged [start, end) intervals of score seconds left out
    keep: np.ndarray  # per note: still played
    t: np.ndarray  # per note: onset in this timeline (nan when left out)
    dur: np.ndarray  # per note: duration, clipped at a cut
    length: float

    def to_score(self, t: np.ndarray) -> np.ndarray:
        """Timeline seconds -> score seconds."""
        t = np.asarray(t, dtype=np.float64)
        out = t.copy()
        removed = 0.0
        for a, b in self.cuts:
            out = np.where(t + removed >= a, out + (b - a), out)
            removed += b - a
        return out


def _timeline(notes_sec: np.ndarray, notes_dur: np.ndarray, total: float, jumps,
              skipped) -> _Timeline:
    cuts = sorted(jumps[k].first_pass for k in skipped)
    merged: list = []
    for a, b in cuts:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    keep = np.ones(notes_sec.size, dtype=bool)
    shift = np.zeros(notes_sec.size)
    dur = notes_dur.copy()
    for a, b in merged:
        inside = (notes_sec >= a - 1e-9) & (notes_sec < b - 1e-9)
        keep &= ~inside
        shift += np.where(notes_sec >= b - 1e-9, b - a, 0.0)
        before = notes_sec < a - 1e-9
        dur = np.where(before, np.minimum(dur, a - notes_sec), dur)
    t = np.where(keep, notes_sec - shift, np.nan)
    length = total - sum(b - a for a, b in merged)
    return _Timeline(tuple(skipped), [tuple(c) for c in merged], keep, t, dur, length)


# ------------------------------------------------------------------ the result


@dataclass
class TempoCurve:
    """How fast the recording goes through the score.

    All arrays have one value per grid point (every :data:`TEMPO_GRID_S` seconds of
    the score's timeline, over the part the recording covers).
    """

    #: Grid, seconds in the score's timeline (repeats left out by the recording are
    #: jumped over).
    score_sec: np.ndarray
    #: Where each grid point is in the recording (seconds).
    audio_sec: np.ndarray
    #: Recording seconds per score second, smoothed over :data:`TEMPO_SMOOTH_S`
    #: (2.0: half the score's tempo).
    ratio: np.ndarray
    #: Quarter notes per minute in the recording (smoothed).
    qpm: np.ndarray


@dataclass
class Alignment:
    """What :func:`align` found."""

    #: The unfolded score, one entry per note (the CSV's rows).
    notes: list
    #: Onset of each note in the recording (seconds); nan for notes the recording
    #: does not play (a repeat not taken, outside the covered part).
    onset_sec: np.ndarray
    #: In [0, 1]: how sure the alignment is that this recording plays this score
    #: (about 0 for a recording of another piece).
    confidence: float
    #: Semitones the recording is transposed by relative to the score (-6..5).
    transposition: int
    #: Tuning of the recording relative to A440 (cents).
    tuning_cents: float
    tempo: TempoCurve
    #: The score's repeat jumps, each marked taken or not.
    repeats: list
    #: The part of the recording that plays the score, and the part of the score it
    #: plays (seconds).
    audio_range: tuple
    score_range: tuple
    #: Coarse matching cost (per recording frame) and the shuffled-score baseline.
    cost: float
    baseline_cost: float
    #: What the confidence is read from (see ``MATCH_ZERO`` in this module):
    #: cost / baseline_cost, the warping path's tempo roughness, and their sum.
    match_ratio: float = 1.0
    roughness: float = 0.0
    evidence: float = 0.0
    #: Seconds every onset was moved by for a slow attack (see :func:`attack_correction`).
    attack_shift: float = 0.0
    #: Warping path: score seconds (timeline with skipped repeats removed) and
    #: recording seconds, strictly increasing.
    path_score_sec: np.ndarray = field(repr=False, default=None)
    path_audio_sec: np.ndarray = field(repr=False, default=None)
    #: The recording's features (for :mod:`omr.audio.compare`).
    features: AudioFeatures | None = field(repr=False, default=None)
    #: Seconds spent per stage.
    timings: dict = field(default_factory=dict)

    def rows(self) -> list[dict]:
        """One dict per note with the CSV columns (``onset_sec`` None when not played)."""
        out = []
        for n, t in zip(self.notes, self.onset_sec):
            out.append({"part": n.part, "measure": n.measure, "score_qn": n.score_qn,
                        "score_sec": n.score_sec, "pitch": n.pitch,
                        "onset_sec": None if not np.isfinite(t) else float(t)})
        return out

    @property
    def coverage(self) -> float:
        """Fraction of the score's notes that the recording plays."""
        return float(np.mean(np.isfinite(self.onset_sec))) if len(self.onset_sec) else 0.0


# ------------------------------------------------------------------- align


def align(score, audio, sr: int | None = None, *, transposition: int | None = None,
          tuning_cents: float | None = None, try_repeats: bool = True,
          workers: int = DEFAULT_WORKERS, features: AudioFeatures | None = None) -> Alignment:
    """Align every note of a score to a recording.

    Parameters
    ----------
    score : list of ScoreNote or str or Path or music21.stream.Stream
        The unfolded note list, or anything :func:`score_notes` reads (MIDI file,
        MusicXML file, music21 score).
    audio : np.ndarray [shape=(n,)] or str or Path
        The recording (mono samples at ``sr``), or an audio file
        (:func:`omr.audio.io.load_audio`).
    sr : int or None
        Sample rate of ``audio`` when it is an array.
    transposition : int or None
        Semitones the recording is transposed by; None: found (all 12 tried).
    tuning_cents : float or None
        Tuning of the recording relative to A440; None: estimated.
    try_repeats : bool
        Try the versions of the score with repeats not taken.
    workers : int
        Threads for the filterbank.
    features : AudioFeatures or None
        Features of ``audio`` computed before (they are then not recomputed).

    Returns
    -------
    alignment : Alignment

    Raises
    ------
    AlignmentError
        No notes in the score, or a recording too short to align.
    omr.audio.io.AudioError
        The recording cannot be read or is silent.
    """
    from synctoolbox.dtw.mrmsdtw import sync_via_mrmsdtw
    from synctoolbox.dtw.utils import make_path_strictly_monotonic

    timings = {}
    t_start = time.perf_counter()
    notes = score_notes(score)
    if isinstance(audio, (str, Path)):
        from omr.audio.io import load_audio

        audio = load_audio(audio, sample_rate=SAMPLE_RATE)
        sr = SAMPLE_RATE
    if sr is None:
        raise ParameterError("sr (the sample rate of the audio array) is required")
    audio = np.asarray(audio)
    if audio.ndim == 2:
        audio = audio.mean(axis=0)
    if audio.size < sr * 0.5:
        raise AlignmentError(f"the recording is too short to align ({audio.size / sr:.2f} s)")
    if not np.any(np.abs(audio) > 10 ** (-60 / 20)):
        from omr.audio.io import AudioError

        raise AudioError("the recording is silent")
    timings["notes"] = time.perf_counter() - t_start

    t0 = time.perf_counter()
    if features is None:
        features = audio_features(audio, sr, tuning_cents=tuning_cents, workers=workers)
    timings["audio_features"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    rate = FEATURE_RATE
    onsets = np.array([n.score_sec for n in notes], dtype=np.float64)
    durs = np.array([max(n.duration_sec, 0.0) for n in notes], dtype=np.float64)
    pitches = np.array([n.pitch for n in notes], dtype=np.int64)
    vels = np.array([getattr(n, "velocity", 80) or 80 for n in notes], dtype=np.float64)
    total = float(np.max(onsets + np.maximum(durs, 1.0 / rate)))

    # the recording without its leading/trailing silence
    a0, a1 = _active_range(features.energy_db())
    if (a1 - a0) < rate * 0.5:
        raise AlignmentError("the recording holds less than half a second of sound")

    def timeline_features(tl: _Timeline):
        n_frames = int(math.ceil(tl.length * rate)) + 1
        sel = tl.keep
        return score_features(tl.t[sel], tl.dur[sel], pitches[sel], n_frames,
                              velocities=vels[sel])

    pad_key = int(round(COARSE_PAD_S * rate))

    def coarse(chroma: np.ndarray, window: int, downsample: int) -> np.ndarray:
        silence = np.zeros((12, pad_key))
        padded = np.concatenate([silence, chroma, silence], axis=1)
        return _cens(padded, window, downsample)

    # 1. key: all 12 shifts on the full unfolded score
    jumps = find_repeat_jumps(notes) if try_repeats else []
    full = _timeline(onsets, durs, total, jumps, ())
    chroma_full, dlnco_full = timeline_features(full)
    if transposition is None:
        # each shift is matched against the recording's chroma from the register the
        # part would sound in at that transposition, so that a line just below it (an
        # accompaniment) cannot pass for the part transposed down
        key_db = coarse(chroma_full, KEY_CENS_WINDOW, KEY_CENS_DOWNSAMPLE)
        costs = []
        for shift in range(12):
            lo, hi = transposed_register(int(pitches.min()), int(pitches.max()), shift)
            chroma, _ = register_features(features, lo, hi, below=REGISTER_MARGIN,
                                          onsets=False)
            audio_cens_key = _cens(chroma[:, a0:a1], KEY_CENS_WINDOW, KEY_CENS_DOWNSAMPLE)
            costs.append(_subsequence_match(audio_cens_key, np.roll(key_db, shift, axis=0)).cost)
        shift = int(np.argmin(costs))
    else:
        shift = int(transposition) % 12
    # the recording's chroma and onsets from the register of the (transposed) score
    # only: an extra part in the recording (the accompaniment of a melody) mostly
    # sounds elsewhere
    lowest, highest = transposed_register(int(pitches.min()), int(pitches.max()), shift)
    au_chroma_all, au_dlnco_all = register_features(features, lowest, highest,
                                                    below=REGISTER_MARGIN)
    audio_cens = _cens(au_chroma_all[:, a0:a1], REGION_CENS_WINDOW, REGION_CENS_DOWNSAMPLE)
    timings["key"] = time.perf_counter() - t0

    # 2. repeats and coverage: versions of the timeline at 5 Hz
    t0 = time.perf_counter()
    ds = REGION_CENS_DOWNSAMPLE
    pad_c = pad_key // ds
    cache: dict = {}

    def evaluate(skipped: tuple):
        skipped = tuple(sorted(skipped))
        if skipped not in cache:
            tl = full if not skipped else _timeline(onsets, durs, total, jumps, skipped)
            n_frames = int(math.ceil(tl.length * rate)) + 1
            ch = chroma_full if not skipped else score_chroma(
                tl.t[tl.keep], tl.dur[tl.keep], pitches[tl.keep], n_frames)
            db = np.roll(coarse(ch, REGION_CENS_WINDOW, ds), shift, axis=0)
            m = _subsequence_match(audio_cens, db)
            # the whole score, unless a part of it matches clearly better
            snap = int(EDGE_SNAP_S * rate / ds)
            whole = _subsequence_match(audio_cens, db, start_max=pad_c + snap,
                                       end_min=db.shape[1] - pad_c - snap)
            if whole.cost <= m.cost * (1 + FULL_COVERAGE_TOLERANCE):
                m = whole
            n_score = db.shape[1] - 2 * pad_c
            s_start = min(max(m.start - pad_c, 0), n_score)
            s_end = min(max(m.end - pad_c, 0), n_score)
            unmatched = (n_score - (s_end - s_start)) / max(n_score, 1)
            cache[skipped] = (m.cost, unmatched, tl, ch, db, m)
        return cache[skipped]

    best = ()
    if jumps:
        if len(jumps) <= MAX_EXHAUSTIVE_REPEATS:
            import itertools

            options = [c for r in range(len(jumps) + 1)
                       for c in itertools.combinations(range(len(jumps)), r)]
        else:
            options = [(), tuple(range(len(jumps)))]
        for o in options:
            evaluate(o)
        if len(jumps) > MAX_EXHAUSTIVE_REPEATS:  # greedy: flip one repeat at a time
            current = min(cache, key=lambda k: cache[k][0])
            improved = True
            while improved:
                improved = False
                for k in range(len(jumps)):
                    o = tuple(sorted(set(current) ^ {k}))
                    if evaluate(o)[0] < cache[current][0] * (1 - REPEAT_COST_TOLERANCE):
                        current, improved = o, True
        best_cost = min(v[0] for v in cache.values())
        near = [k for k, v in cache.items() if v[0] <= best_cost * (1 + REPEAT_COST_TOLERANCE)]
        best = min(near, key=lambda k: (round(cache[k][1], 2), len(k), cache[k][0]))
    cost, _, tl, chroma_tl, db_tl, match = evaluate(best)

    # confidence baseline: the same recording against block-shuffled scores
    rng = np.random.default_rng(0)
    block = max(int(SHUFFLE_BLOCK_S * rate / ds), 1)
    inner = db_tl[:, pad_c: db_tl.shape[1] - pad_c]
    base = []
    for _ in range(SHUFFLE_COUNT):
        nb = -(-inner.shape[1] // block)
        order = rng.permutation(nb)
        shuffled = np.concatenate([inner[:, b * block:(b + 1) * block] for b in order], axis=1)
        shuffled = np.concatenate([db_tl[:, :pad_c], shuffled, db_tl[:, -pad_c:]], axis=1)
        base.append(_subsequence_match(audio_cens, shuffled).cost)
    baseline = float(np.mean(base))
    timings["repeats_coverage"] = time.perf_counter() - t0

    # 3. the covered part of the score: the coarse match's ends, refined on the fine
    # features, snapped to the score's ends and to note onsets/ends
    t0 = time.perf_counter()
    if best:
        chroma_tl, dlnco_tl = timeline_features(tl)
    else:
        chroma_tl, dlnco_tl = chroma_full, dlnco_full
    coarse_rate = rate / ds
    if np.isfinite(cost):
        s_start = (match.start - pad_c) / coarse_rate
        s_end = (match.end - pad_c + 1) / coarse_rate
    else:
        s_start, s_end = 0.0, tl.length
    s_start = min(max(s_start, 0.0), tl.length)
    s_end = min(max(s_end, s_start), tl.length)
    sc_norm = np.roll(_normalize(chroma_tl), shift, axis=0)
    sc_on = np.roll(dlnco_tl, shift, axis=0)
    au_norm = _normalize(au_chroma_all)
    if s_start > EDGE_SNAP_S:
        s_start = _refine_start(au_norm, au_dlnco_all, sc_norm, sc_on, a0, a1, s_start)
    else:
        s_start = 0.0
    onsets_tl = np.sort(tl.t[tl.keep])
    if s_start <= EDGE_SNAP_S_FINE:
        s_start = 0.0
    else:
        near = onsets_tl[np.argmin(np.abs(onsets_tl - s_start))]
        s_start = float(near) if abs(near - s_start) <= EDGE_SNAP_NOTE_S else s_start
    # the recording plays every note that starts clearly before the matched end, to
    # its end (a last note's decay and a recording's tail blur the end in the features)
    started = tl.keep & (tl.t < s_end - END_ONSET_MARGIN_S)
    if started.any():
        s_end = max(s_end, float(np.max((tl.t + tl.dur)[started])))
    if s_end >= tl.length - EDGE_SNAP_S_FINE:
        s_end = tl.length
    if s_end - s_start < 0.5:
        s_start, s_end = 0.0, tl.length

    # 4. fine alignment with MrMsDTW on chroma + DLNCO
    f_s0, f_s1 = int(round(s_start * rate)), min(int(round(s_end * rate)) + 1, chroma_tl.shape[1])
    pad = int(round(FINE_PAD_S * rate))
    zeros = np.zeros((12, pad))
    sc_chroma = np.roll(np.concatenate([zeros, chroma_tl[:, f_s0:f_s1], zeros], axis=1), shift, 0)
    sc_dlnco = np.roll(np.concatenate([zeros, dlnco_tl[:, f_s0:f_s1], zeros], axis=1), shift, 0)
    margin = int(round(FINE_MARGIN_S * rate))
    au0, au1 = max(a0 - margin, 0), min(a1 + margin, features.n_frames)
    au_chroma = au_chroma_all[:, au0:au1]
    au_dlnco = au_dlnco_all[:, au0:au1]
    if min(au_chroma.shape[1], sc_chroma.shape[1]) / rate >= MRMSDTW_MIN_FULL_S:
        win, down = np.array([201, 101, 21, 1]), np.array([50, 25, 5, 1])
    else:
        win, down = np.array([21, 1]), np.array([5, 1])
    with contextlib.redirect_stdout(io.StringIO()):  # synctoolbox prints progress
        wp = sync_via_mrmsdtw(f_chroma1=au_chroma, f_onset1=au_dlnco, f_chroma2=sc_chroma,
                              f_onset2=sc_dlnco, input_feature_rate=rate,
                              step_weights=MRMSDTW_STEP_WEIGHTS,
                              threshold_rec=_threshold_rec(au_chroma.shape[1],
                                                           sc_chroma.shape[1]),
                              win_len_smooth=win,
                              downsamp_smooth=down)
    wp = make_path_strictly_monotonic(wp).astype(np.float64)
    path_audio = (wp[0] + au0) / rate
    path_score = (wp[1] - pad) / rate + s_start  # timeline seconds
    timings["fine"] = time.perf_counter() - t0

    # 5. onsets: notes inside the covered part, read off the path
    t_note = tl.t
    inside = tl.keep & (t_note >= s_start - 1e-6) & (t_note <= s_end + 1e-6)
    onset_sec = np.full(len(notes), np.nan)
    onset_sec[inside] = np.interp(t_note[inside], path_score, path_audio)
    attack = attack_correction(features, onset_sec, t_note, pitches + shift, tl.dur)
    onset_sec += attack
    path_audio = path_audio + attack
    active_lo, active_hi = a0 / rate - FINE_MARGIN_S / 2, a1 / rate + FINE_MARGIN_S / 2
    onset_sec[(onset_sec < active_lo) | (onset_sec > active_hi)] = np.nan

    # repeats: taken or not where the recording plays the jump, None elsewhere
    for k, j in enumerate(jumps):
        point = j.first_pass[1] if k in best else j.score_sec
        after = np.flatnonzero(tl.keep & (onsets >= point - 1e-6))
        t_point = tl.t[after[0]] if after.size else np.nan
        lo = s_start - 1e-6 if k in best else s_start + 1e-6  # a skip at the very start counts
        played = bool(np.isfinite(t_point) and lo <= t_point < s_end)
        j.taken = (k not in best) if played else None

    # confidence (see MATCH_ZERO)
    roughness = path_roughness(path_score, path_audio)
    if np.isfinite(cost) and baseline > 0 and np.isfinite(roughness):
        match_ratio = cost / baseline
        evidence = (np.clip((MATCH_ZERO - match_ratio) / MATCH_SCALE, *MATCH_TERM_RANGE)
                    + np.clip((ROUGH_ZERO - roughness) / ROUGH_SCALE, *ROUGH_TERM_RANGE))
        confidence = float(np.clip((evidence - CONFIDENCE_LOW)
                                   / (CONFIDENCE_HIGH - CONFIDENCE_LOW), 0.0, 1.0))
    else:
        match_ratio, evidence, confidence = math.inf, -math.inf, 0.0

    tempo = _tempo_curve(path_score, path_audio, s_start, s_end, tl, notes)
    timings["total"] = time.perf_counter() - t_start
    audio_range = (float(np.nanmin(onset_sec)) if np.any(np.isfinite(onset_sec)) else a0 / rate,
                   a1 / rate)
    score_range = tuple(float(x) for x in tl.to_score(np.array([s_start, s_end])))
    return Alignment(notes=notes, onset_sec=onset_sec, confidence=confidence,
                     transposition=((shift + 6) % 12) - 6, tuning_cents=features.tuning_cents,
                     tempo=tempo, repeats=jumps, audio_range=audio_range,
                     score_range=score_range, cost=float(cost), baseline_cost=baseline,
                     match_ratio=float(match_ratio), roughness=float(roughness),
                     evidence=float(evidence),
                     attack_shift=attack,
                     path_score_sec=path_score, path_audio_sec=path_audio, features=features,
                     timings=timings)


#: Note salience: frames after the aligned onset that are looked at (seconds).
SALIENCE_WINDOW_S = 0.1


def note_salience(features: AudioFeatures, onset_sec: np.ndarray,
                  pitches: np.ndarray) -> np.ndarray:
    """How strongly each note's pitch class sounds just after its aligned onset.

    The recording's band energies are folded into chroma; each frame is divided by
    its strongest pitch class. A note's salience is the largest such value of its
    pitch class within :data:`SALIENCE_WINDOW_S` after its onset.

    Parameters
    ----------
    features : AudioFeatures
    onset_sec : np.ndarray [shape=(k,)]
        Onsets in the recording (nan: not played -> salience nan).
    pitches : np.ndarray [shape=(k,)]
        MIDI pitches as they sound in the recording (transposition applied).

    Returns
    -------
    salience : np.ndarray [shape=(k,)], in [0, 1]
    """
    from synctoolbox.feature.chroma import pitch_to_chroma

    chroma = getattr(features, "_rel_chroma", None)
    if chroma is None:
        c = pitch_to_chroma(features.pitch)
        chroma = c / np.maximum(c.max(axis=0, keepdims=True), 1e-12)
        features._rel_chroma = chroma
    n = chroma.shape[1]
    onset_sec = np.asarray(onset_sec, dtype=float)
    out = np.full(onset_sec.shape, np.nan)
    ok = np.isfinite(onset_sec)
    f0 = np.clip(np.round(onset_sec[ok] * features.feature_rate).astype(int), 0, n - 1)
    width = max(int(round(SALIENCE_WINDOW_S * features.feature_rate)), 1)
    pc = np.asarray(pitches, dtype=int)[ok] % 12
    best = np.zeros(f0.size)
    for d in range(width):
        best = np.maximum(best, chroma[pc, np.minimum(f0 + d, n - 1)])
    out[ok] = best
    return out


def attack_correction(features: AudioFeatures, onset_sec: np.ndarray, group_key: np.ndarray,
                      pitches: np.ndarray, durations: np.ndarray) -> float:
    """The shift (seconds, <= 0) that moves aligned onsets to where the notes start.

    See :data:`ATTACK_THRESHOLD` for the method. Only pitches that do not already
    sound just before a group's onset (held or repeated in another voice) are
    looked at.

    Parameters
    ----------
    features : AudioFeatures
        With ``envelope``.
    onset_sec : np.ndarray [shape=(k,)]
        Aligned onsets (nan: not played).
    group_key : np.ndarray [shape=(k,)]
        Score onsets (seconds of the score timeline): notes with equal keys sound
        together.
    pitches : np.ndarray [shape=(k,)]
        MIDI pitches as they sound in the recording.
    durations : np.ndarray [shape=(k,)]
        Durations in the score timeline (seconds).

    Returns
    -------
    shift : float
        0 when the attack is quick or the evidence is thin or mixed.
    """
    env = features.envelope
    if env is None:
        return 0.0
    rate = ENVELOPE_RATE
    ok = np.isfinite(onset_sec) & np.isfinite(group_key)
    if not ok.any():
        return 0.0
    keys = np.round(group_key[ok], 4)
    on, pit, dur = onset_sec[ok], pitches[ok], durations[ok]
    uniq, inv = np.unique(keys, return_inverse=True)
    times = np.array([np.median(on[inv == g]) for g in range(uniq.size)])
    banded = np.flatnonzero(env.any(axis=1))
    if banded.size == 0:
        return 0.0
    lo_band, hi_band = banded.min(), banded.max()
    ends = keys + dur
    diffs = []
    for g in range(uniq.size):
        t, key = times[g], uniq[g]
        # pitches sounding just before (held, or played by another voice) are no use
        before = (keys < key - 1e-6) & (ends > key - ATTACK_SEARCH_BEFORE_S)
        ps = np.setdiff1d(np.unique(pit[inv == g]), pit[before])
        ps = ps[(ps >= lo_band) & (ps <= hi_band)]
        if ps.size == 0:
            continue
        lo, hi = t - ATTACK_SEARCH_BEFORE_S, t + ATTACK_SEARCH_AFTER_S
        if g > 0:
            lo = max(lo, 0.5 * (times[g - 1] + t))
        if g + 1 < uniq.size:
            hi = min(hi, 0.5 * (t + times[g + 1]))
        i0, i1 = max(int(lo * rate), 0), min(int(hi * rate) + 1, env.shape[1])
        if i1 - i0 < 5:
            continue
        e = env[ps, i0:i1].sum(axis=0).astype(np.float64)
        ipk = int(np.argmax(e))
        if (i0 + ipk) / rate < t - ATTACK_DEAD_ZONE_S:
            continue  # the loudest point is before the onset: not this note's attack
        imin = int(np.argmin(e[: ipk + 1]))
        if imin == 0 or e[ipk] < ATTACK_MIN_RISE * max(e[imin], 1e-12):
            continue  # no clear rise from a quiet point inside the window
        thr = e[imin] + ATTACK_THRESHOLD * (e[ipk] - e[imin])
        cross = imin + int(np.argmax(e[imin: ipk + 1] >= thr))
        diffs.append((i0 + cross) / rate - t)
    if len(diffs) < ATTACK_MIN_GROUPS:
        return 0.0
    shift = float(np.median(diffs))
    if shift > -ATTACK_DEAD_ZONE_S:
        return 0.0
    return max(shift, -ATTACK_MAX_CORRECTION_S)


def _threshold_rec(n: int, m: int) -> int:
    lo, hi = MRMSDTW_THRESHOLD_REC
    return int(np.clip(hi * MRMSDTW_REFERENCE_CELLS / max(n * m, 1), lo, hi))


def path_roughness(path_score: np.ndarray, path_audio: np.ndarray) -> float:
    """How erratic a warping path's local tempo is.

    The median absolute deviation of the log local slope (recording seconds per
    score second over :data:`ROUGH_WINDOW_S`, every 0.25 s) from its running mean
    over :data:`ROUGH_SMOOTH_S`. About 0.05-0.1 for a performance on a smooth tempo
    curve, 0.15-0.5 for a path forced through a different piece.

    Parameters
    ----------
    path_score, path_audio : np.ndarray [shape=(L,)]
        Strictly increasing warping path (seconds).

    Returns
    -------
    roughness : float
        nan for a path shorter than 2 s.
    """
    from scipy.ndimage import uniform_filter1d

    step = 0.25
    if len(path_score) < 2 or path_score[-1] - path_score[0] < 2.0:
        return float("nan")
    t = np.arange(path_score[0] + ROUGH_WINDOW_S / 2, path_score[-1] - ROUGH_WINDOW_S / 2, step)
    if t.size < 4:
        return float("nan")
    half = ROUGH_WINDOW_S / 2
    rise = np.interp(t + half, path_score, path_audio) - np.interp(t - half, path_score, path_audio)
    log_slope = np.log(np.maximum(rise, 1e-3) / ROUGH_WINDOW_S)
    smooth = uniform_filter1d(log_slope, max(int(ROUGH_SMOOTH_S / step), 1), mode="nearest")
    return float(np.median(np.abs(log_slope - smooth)))


def _tempo_curve(path_score, path_audio, s0, s1, tl: _Timeline, notes) -> TempoCurve:
    grid = np.arange(s0, max(s1, s0 + TEMPO_GRID_S), TEMPO_GRID_S)
    half = TEMPO_SMOOTH_S / 2
    lo = np.clip(grid - half, s0, s1)
    hi = np.clip(grid + half, s0, s1)
    a_grid = np.interp(grid, path_score, path_audio)
    width = np.maximum(hi - lo, 1e-9)
    ratio = (np.interp(hi, path_score, path_audio) - np.interp(lo, path_score, path_audio)) / width
    score_grid = tl.to_score(grid)
    # score seconds -> quarter notes, from the notes themselves
    sec = np.array([n.score_sec for n in notes])
    qn = np.array([n.score_qn for n in notes])
    order = np.argsort(sec, kind="stable")
    sec, qn = sec[order], qn[order]
    uniq, idx = np.unique(sec, return_index=True)
    qn_u = qn[idx]
    if uniq.size >= 2:
        dq = np.interp(tl.to_score(hi), uniq, qn_u) - np.interp(tl.to_score(lo), uniq, qn_u)
        da = ratio * width
        qpm = np.where(da > 1e-6, 60.0 * dq / np.maximum(da, 1e-6), np.nan)
    else:
        qpm = np.full(grid.shape, np.nan)
    return TempoCurve(score_sec=score_grid, audio_sec=a_grid, ratio=ratio, qpm=qpm)


# ---------------------------------------------------------------------- CSV


def write_csv(path, rows) -> Path:
    """Write the alignment CSV: ``part, measure, score_qn, score_sec, pitch, onset_sec``.

    Parameters
    ----------
    path : str or Path
    rows : Alignment or iterable of dict or of objects with those attributes
        One per note of the unfolded score; ``onset_sec`` None or nan for a note the
        recording does not play (written as an empty field).

    Returns
    -------
    path : Path
    """
    if isinstance(rows, Alignment):
        rows = rows.rows()
    path = Path(path)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for r in rows:
            get = r.get if isinstance(r, dict) else (lambda k, r=r: getattr(r, k, None))
            onset = get("onset_sec")
            onset = "" if onset is None or not np.isfinite(onset) else f"{float(onset):.4f}"
            w.writerow([int(get("part")), get("measure") or "", _num(get("score_qn")),
                        f"{float(get('score_sec')):.4f}", int(get("pitch")), onset])
    return path


def _num(x) -> str:
    x = float(x)
    return str(int(x)) if x == int(x) else f"{x:.6g}"
