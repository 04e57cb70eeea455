"""Reading recordings: WAV, FLAC, OGG/Vorbis and MP3 at any sample rate.

:func:`load_audio` decodes with libsndfile (through ``soundfile``; the wheel's
libsndfile 1.2 reads MP3 too, so no ffmpeg is needed), mixes down to mono and
resamples with a polyphase filter (:func:`resample`, ``scipy.signal.resample_poly``).
Every problem a user can cause (no such file, not audio, empty, silent) is an
:class:`AudioError` with a message for that user.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from omr.errors import OmrError, ParameterError

#: The sample rate (Hz) the audio stages work at (synctoolbox's filterbank is built
#: for it).
DEFAULT_SAMPLE_RATE = 22050

#: File name endings :func:`load_audio` accepts.
AUDIO_SUFFIXES = (".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3")

#: A recording whose peak is below this level (dB relative to full scale) is silent.
SILENCE_PEAK_DBFS = -60.0

#: Largest denominator of the rational resampling ratio (keeps polyphase filters small;
#: the rate error is below 1e-4 for any common rate).
MAX_RESAMPLE_DENOMINATOR = 1000


class AudioError(OmrError):
    """A recording cannot be read, is empty, or is silent."""


def resample(y: np.ndarray, orig_sr: float, target_sr: float) -> np.ndarray:
    """Resample along the last axis with a polyphase anti-aliasing filter.

    Parameters
    ----------
    y : np.ndarray [shape=(..., n)]
        Audio signal(s).
    orig_sr : float > 0
        Sample rate of ``y`` in Hz.
    target_sr : float > 0
        Wanted sample rate in Hz.

    Returns
    -------
    y_hat : np.ndarray [shape=(..., m)], float32
        ``y`` at ``target_sr``; ``m ≈ n * target_sr / orig_sr``. The ratio is
        approximated by a fraction with denominator at most
        :data:`MAX_RESAMPLE_DENOMINATOR`.
    """
    if orig_sr <= 0 or target_sr <= 0:
        raise ParameterError(f"sample rates must be positive, got {orig_sr} and {target_sr}")
    ratio = Fraction(float(target_sr) / float(orig_sr)).limit_denominator(MAX_RESAMPLE_DENOMINATOR)
    if ratio == 1:
        return np.asarray(y, dtype=np.float32)
    from scipy.signal import resample_poly

    out = resample_poly(np.asarray(y, dtype=np.float32), ratio.numerator, ratio.denominator,
                        axis=-1)
    return out.astype(np.float32, copy=False)


def load_audio(path, *, sample_rate: int = DEFAULT_SAMPLE_RATE, mono: bool = True) -> np.ndarray:
    """Read a recording, mixed down to mono and resampled.

    Parameters
    ----------
    path : str or Path
        A WAV, FLAC, OGG/Vorbis or MP3 file, any sample rate and channel count.
    sample_rate : int > 0
        Sample rate (Hz) of the returned signal.
    mono : bool
        Average the channels into one (default); otherwise keep them.

    Returns
    -------
    y : np.ndarray [shape=(n,) or (channels, n)], float32
        Samples in [-1, 1] at ``sample_rate``: 1-D when ``mono``, one row per
        channel otherwise (librosa's convention).

    Raises
    ------
    AudioError
        The file does not exist, cannot be decoded, holds no samples, or is
        silent (peak below :data:`SILENCE_PEAK_DBFS`).
    ParameterError
        ``sample_rate`` is not positive.
    """
    if not isinstance(sample_rate, (int, np.integer)) or sample_rate <= 0:
        raise ParameterError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    p = Path(path)
    if not p.exists():
        raise AudioError(f"no such file: {p}")
    if not p.is_file():
        raise AudioError(f"not a file: {p}")
    import soundfile as sf

    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError, EOFError) as err:  # LibsndfileError
        raise AudioError(
            f"{p}: cannot be read as audio ({_short(err)}); expected one of "
            f"{', '.join(AUDIO_SUFFIXES)}") from None
    if data.size == 0 or data.shape[0] == 0:
        raise AudioError(f"{p}: the file holds no audio samples")
    y = data.T  # (channels, n)
    if not np.all(np.isfinite(y)):
        raise AudioError(f"{p}: the audio holds invalid (NaN or infinite) samples")
    peak = float(np.max(np.abs(y)))
    if peak <= 10.0 ** (SILENCE_PEAK_DBFS / 20.0):
        level = "-inf" if peak == 0 else f"{20 * np.log10(peak):.0f}"
        raise AudioError(f"{p}: the recording is silent (peak level {level} dBFS)")
    if mono:
        y = y.mean(axis=0)
    y = resample(y, sr, sample_rate)
    return np.ascontiguousarray(y, dtype=np.float32)


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[-1] if text else type(err).__name__
