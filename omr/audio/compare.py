"""Score and recording side by side: timing, missed notes, added notes.

:func:`compare` takes an :class:`omr.audio.align.Alignment` and returns plain
dataclasses the app can show:

- **Timing.** Each played note's deviation from the recording's own tempo: the
  aligned onsets minus a smooth trend of them (a local quadratic fit over
  :data:`TREND_WINDOW_S` of score time), so a performance that is slower overall,
  or slows down gradually, shows no deviation, while a note played early or late
  against its neighbours does. In seconds and in quarter notes.
- **Missed notes.** A note whose pitch band (synctoolbox's filterbank) does not
  rise at its aligned onset, and whose pitch class hardly sounds there or whose
  band stays far below the loudest.
- **Added notes.** A clear onset in the recording's pitch bands (synctoolbox's
  onset peaks, well above the peaks the score's notes make) in a band that is the
  loudest of its register, away from every score onset (attacks and overtones put
  onsets in many bands at once) and from notes of its pitch class that sound.
  An extra note played together with score notes is not found.

The precision of the timing is that of the alignment (about 10-20 ms on clean
recordings of instruments with quick attacks); deviations below
:data:`DEVIATION_NOISE_S` are not meaningful.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from omr.errors import ParameterError

#: Width (seconds of score time) of the local quadratic fit that is the tempo trend.
TREND_WINDOW_S = 6.0
#: Deviations smaller than this (seconds) are within the alignment's precision.
DEVIATION_NOISE_S = 0.03

#: A note is missed when its pitch band does not rise by :data:`MISSED_RISE_DB`
#: across its aligned onset, and either its pitch class hardly sounds there
#: (salience below :data:`MISSED_SALIENCE`, :func:`omr.audio.align.note_salience`) or
#: its band is :data:`MISSED_LEVEL_DB` below the loudest band and its pitch class
#: below :data:`MISSED_SALIENCE_WEAK`.
MISSED_RISE_DB = 5.0
MISSED_SALIENCE = 0.2
MISSED_LEVEL_DB = -20.0
MISSED_SALIENCE_WEAK = 0.5
#: Energy is compared over this long before and after the onset (seconds).
RISE_WINDOW_S = 0.1
LEVEL_WINDOW_S = 0.1
#: A band's level is measured against the loudest band within this many semitones
#: (its register: a bass note is not compared with the melody).
LEVEL_REGISTER = 12

#: An audio onset peak counts as a note onset when its height is at least this
#: fraction of the median height of the peaks that score notes make ...
EXTRA_PEAK_FRACTION = 1.0
#: ... and its band is within this many dB of the loudest band right after it ...
EXTRA_LEVEL_DB = -10.0
#: ... and its band's energy rises by this much (dB) across it (vibrato and chorus
#: make smaller peaks in sounding notes' partials).
EXTRA_RISE_DB = 10.0
#: A score note explains an audio onset of its pitch class within this many seconds
#: of its onset or while it sounds ...
EXTRA_TOLERANCE_S = 0.12
#: ... and any score note starting within the tolerance explains every onset (its
#: attack and overtones start in many bands).
#: Onsets of one added note: peaks closer than this (seconds) at one pitch class
#: are merged.
EXTRA_MERGE_S = 0.08


@dataclass
class NoteTiming:
    """A played note's timing against the recording's tempo trend."""

    index: int  # into Alignment.notes
    part: int
    measure: str
    pitch: int
    score_sec: float
    onset_sec: float  # aligned onset in the recording
    expected_sec: float  # where the tempo trend puts it
    deviation_sec: float  # onset - expected (> 0: late)
    deviation_qn: float  # the same in quarter notes at the local tempo


@dataclass
class MissedNote:
    """A score note the recording seems not to play."""

    index: int
    part: int
    measure: str
    pitch: int
    score_sec: float
    onset_sec: float  # where it should sound in the recording
    level_db: float  # its pitch band against the loudest band there (dB)
    salience: float  # 0-1: how much its pitch class sounds there
    rise_db: float  # energy rise of its pitch band across the onset


@dataclass
class ExtraNote:
    """An onset in the recording that no score note explains."""

    audio_sec: float
    pitch: int  # MIDI pitch band in the recording (the score's key: transposition undone)
    strength: float  # peak height relative to the median score-note peak
    score_sec: float  # where that is in the score (warping path)
    measure: str  # measure of the nearest score note


@dataclass
class Comparison:
    """What :func:`compare` found."""

    timings: list = field(default_factory=list)
    missed: list = field(default_factory=list)
    extra: list = field(default_factory=list)
    #: Median absolute timing deviation (seconds) of the played notes.
    median_abs_deviation_sec: float = float("nan")
    #: Notes played, and notes of the score in the part the recording covers.
    notes_played: int = 0
    notes_expected: int = 0

    def to_dict(self) -> dict:
        """Plain JSON-able data (nan as None)."""

        def clean(x):
            if isinstance(x, float) and not np.isfinite(x):
                return None
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list):
                return [clean(v) for v in x]
            return x

        return clean(asdict(self))


def compare(alignment, audio=None, sr: int | None = None) -> Comparison:
    """Compare a recording with its score through their alignment.

    Parameters
    ----------
    alignment : omr.audio.align.Alignment
    audio : np.ndarray [shape=(n,)] or None
        The recording, needed only when ``alignment.features`` is None.
    sr : int or None
        Its sample rate.

    Returns
    -------
    comparison : Comparison
    """
    from omr.audio.align import audio_features, note_salience

    feats = alignment.features
    if feats is None:
        if audio is None or sr is None:
            raise ParameterError("the alignment carries no features: pass the audio and sr")
        feats = audio_features(np.asarray(audio, dtype=np.float64), sr,
                               tuning_cents=alignment.tuning_cents)
    notes = alignment.notes
    onset = np.asarray(alignment.onset_sec, dtype=float)
    played = np.isfinite(onset)
    out = Comparison(notes_expected=int(played.sum()))
    if not played.any():
        return out
    score_t = _timeline_sec(alignment, notes)
    pitches = np.array([n.pitch for n in notes]) + alignment.transposition

    # --- timing
    expected = _trend(score_t[played], onset[played], TREND_WINDOW_S)
    dev = onset[played] - expected
    sec_per_qn = _seconds_per_quarter(alignment, notes)
    idx = np.flatnonzero(played)
    for k, i in enumerate(idx):
        n = notes[i]
        spq = sec_per_qn(score_t[i])
        out.timings.append(NoteTiming(
            index=int(i), part=int(n.part), measure=str(n.measure), pitch=int(n.pitch),
            score_sec=float(n.score_sec), onset_sec=float(onset[i]),
            expected_sec=float(expected[k]), deviation_sec=float(dev[k]),
            deviation_qn=float(dev[k] / spq) if spq > 0 else float("nan")))
    out.median_abs_deviation_sec = float(np.median(np.abs(dev)))

    # --- missed notes
    level = band_level_db(feats, onset, pitches, register=None)
    rise = _band_rise_db(feats, onset, pitches)
    sal = note_salience(feats, onset, pitches)
    quiet = (sal < MISSED_SALIENCE) | ((level < MISSED_LEVEL_DB) & (sal < MISSED_SALIENCE_WEAK))
    missed = played & quiet & ~(rise >= MISSED_RISE_DB)
    for i in np.flatnonzero(missed):
        n = notes[i]
        out.missed.append(MissedNote(
            index=int(i), part=int(n.part), measure=str(n.measure), pitch=int(n.pitch),
            score_sec=float(n.score_sec), onset_sec=float(onset[i]), level_db=float(level[i]),
            salience=float(sal[i]), rise_db=float(rise[i])))
    out.notes_played = int(played.sum() - missed.sum())

    # --- added notes
    out.extra = _extra_notes(alignment, feats, notes, onset, pitches, score_t)
    return out


def _timeline_sec(alignment, notes) -> np.ndarray:
    """Each note's time on the warping path's score axis (repeats not taken removed)."""
    s = np.array([n.score_sec for n in notes], dtype=float)
    cut_total = np.zeros_like(s)
    for j in alignment.repeats:
        if j.taken is False:
            a, b = j.first_pass
            cut_total += np.where(s >= b - 1e-9, b - a, 0.0)
    return s - cut_total


def _trend(x: np.ndarray, y: np.ndarray, window: float) -> np.ndarray:
    """Local quadratic fit of y(x) at every x (tricube weights over ``window``), so a
    gradual tempo change is trend, not deviation."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    half = window / 2.0
    out = np.empty_like(xs)
    lo = hi = 0
    n = xs.size
    for k in range(n):
        while xs[lo] < xs[k] - half:
            lo += 1
        while hi < n and xs[hi] <= xs[k] + half:
            hi += 1
        xw, yw = xs[lo:hi] - xs[k], ys[lo:hi]
        w = (1 - (np.abs(xw) / half) ** 3) ** 3 + 1e-6
        deg = min(2, len(np.unique(np.round(xw, 6))) - 1)
        if deg < 1:
            out[k] = np.average(yw, weights=w)
            continue
        A = np.vander(xw, deg + 1)
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(A * sw[:, None], yw * sw, rcond=None)
        out[k] = coef[-1]  # the fit's value at xs[k] (xw = 0)
    res = np.empty_like(out)
    res[order] = out
    return res


def _seconds_per_quarter(alignment, notes):
    """Recording seconds per quarter note at a timeline position (tempo curve)."""
    tc = alignment.tempo
    if tc is None or len(tc.qpm) == 0:
        return lambda t: float("nan")
    grid = np.asarray(tc.score_sec, dtype=float)
    spq = 60.0 / np.where(np.isfinite(tc.qpm) & (tc.qpm > 0), tc.qpm, np.nan)
    ok = np.isfinite(spq)
    if not ok.any():
        return lambda t: float("nan")
    grid_tl = _timeline_from_score(alignment, grid)
    return lambda t: float(np.interp(t, grid_tl[ok], spq[ok]))


def _timeline_from_score(alignment, s: np.ndarray) -> np.ndarray:
    s = np.asarray(s, dtype=float)
    cut = np.zeros_like(s)
    for j in alignment.repeats:
        if j.taken is False:
            a, b = j.first_pass
            cut += np.where(s >= b - 1e-9, b - a, 0.0)
    return s - cut


def band_level_db(feats, times: np.ndarray, pitches: np.ndarray, *,
                  register: int | None = LEVEL_REGISTER) -> np.ndarray:
    """Each pitch band's energy just after a time, against the loudest band there
    (within ``register`` semitones; None: all bands), in dB.

    Parameters
    ----------
    feats : omr.audio.align.AudioFeatures
    times : np.ndarray [shape=(k,)]
        Seconds in the recording (nan -> nan).
    pitches : np.ndarray [shape=(k,)]
        MIDI pitch bands.

    Returns
    -------
    level_db : np.ndarray [shape=(k,)], <= 0
    """
    E = feats.pitch
    n = E.shape[1]
    w = max(int(round(LEVEL_WINDOW_S * feats.feature_rate)), 1)
    out = np.full(np.shape(times), np.nan)
    for i in np.flatnonzero(np.isfinite(times)):
        p = int(pitches[i])
        if not 0 <= p < E.shape[0]:
            continue
        k = min(max(int(round(times[i] * feats.feature_rate)), 0), n - 1)
        reach = E.shape[0] if register is None else register
        seg = E[max(p - reach, 0):p + reach + 1, k:min(k + w, n)]
        out[i] = 10 * np.log10((E[p, k:min(k + w, n)].max() + 1e-12) / (seg.max() + 1e-12))
    return out


def _band_rise_db(feats, onset: np.ndarray, pitches: np.ndarray) -> np.ndarray:
    """Energy change (dB) of each note's pitch band across its onset."""
    env = feats.envelope
    out = np.full(onset.shape, np.nan)
    if env is None:
        return out
    from omr.audio.align import ENVELOPE_RATE

    w = max(int(RISE_WINDOW_S * ENVELOPE_RATE), 1)
    n = env.shape[1]
    for i in np.flatnonzero(np.isfinite(onset)):
        p = int(pitches[i])
        if not 0 <= p < env.shape[0] or not env[p].any():
            continue
        k = int(round(onset[i] * ENVELOPE_RATE))
        before = env[p, max(k - w, 0):max(k, 1)].mean() if k > 0 else 0.0
        after = env[p, min(k, n - 1):min(k + w, n)].mean()
        out[i] = 10 * np.log10((after + 1e-12) / (before + 1e-12))
    return out


def _extra_notes(alignment, feats, notes, onset, pitches, score_t) -> list:
    played = np.isfinite(onset)
    if not played.any() or not feats.peaks:
        return []
    t_lo, t_hi = np.nanmin(onset) - 0.2, np.nanmax(onset) + 0.5
    durs = np.array([max(n.duration_sec, 0.05) for n in notes])
    # the recording seconds each note sounds until (score duration at the local tempo)
    path_s, path_a = alignment.path_score_sec, alignment.path_audio_sec
    if path_s is not None and len(path_s) > 1:
        end_a = np.interp(score_t + durs, path_s, path_a)
    else:
        end_a = onset + durs
    # peak heights that score notes make: the reference for "a clear onset"
    matched = []
    all_peaks = []
    for p, pk in feats.peaks.items():
        if pk.size == 0:
            continue
        times = pk[0] / 1000.0
        heights = pk[1]
        sel = (times >= t_lo) & (times <= t_hi)
        times, heights = times[sel], heights[sel]
        same = played & (pitches == p)
        if same.any() and times.size:
            d = np.abs(times[:, None] - onset[same][None, :]).min(axis=1)
            matched.extend(heights[d <= EXTRA_TOLERANCE_S].tolist())
        all_peaks.extend((t, p, h) for t, h in zip(times, heights))
    if not matched or not all_peaks:
        return []
    ref = float(np.median(matched))
    cand = [(t, p, h) for t, p, h in all_peaks if h >= EXTRA_PEAK_FRACTION * ref]
    if not cand:
        return []
    cand.sort()
    ct = np.array([c[0] for c in cand])
    cp = np.array([c[1] for c in cand])
    level = band_level_db(feats, ct, cp, register=None)
    rise = _band_rise_db(feats, ct, cp)
    found: list[ExtraNote] = []
    on_p = onset[played]
    end_p = end_a[played]
    pit_p = pitches[played]
    for (t, p, h), lv, rs in zip(cand, level, rise):
        if not (lv >= EXTRA_LEVEL_DB and rs >= EXTRA_RISE_DB):
            continue
        if np.any(np.abs(on_p - t) <= EXTRA_TOLERANCE_S):
            continue  # a score note starts here
        sounding = (on_p <= t) & (end_p >= t)
        if np.any((p - pit_p[sounding]) % 12 == 0):
            continue  # a score note of this pitch class sounds
        if found and t - found[-1].audio_sec < EXTRA_MERGE_S and \
                (found[-1].pitch - (p - alignment.transposition)) % 12 == 0:
            continue
        s_sec = float(np.interp(t, path_a, path_s)) if path_s is not None else float("nan")
        near = int(np.argmin(np.abs(np.where(played, onset, np.inf) - t)))
        found.append(ExtraNote(audio_sec=float(t), pitch=int(p - alignment.transposition),
                               strength=float(h / ref), score_sec=s_sec,
                               measure=str(notes[near].measure)))
    return found
