"""Separation benchmark: SDR on synthetic mixtures, score-informed refinement, speed.

Run from the repository root, after the set-up step (converted Spleeter weights)::

    .venv/bin/python bench/separate_bench.py            # everything
    .venv/bin/python bench/separate_bench.py --only speed --speed-seconds 300

Needs FluidSynth with FluidR3_GM (Debian ``fluidsynth``, ``fluid-soundfont-gm``) and
espeak-ng (Debian ``espeak-ng``). Writes ``bench/out/separate_bench.json`` and prints
markdown tables.

1. **Speech over accompaniment** (the issue's benchmark): espeak-ng speech (four
   voices and texts) over a FluidSynth accompaniment (piano, bass, strings or organ,
   some with drums; random chord progressions), 20 s each, voice at 0 dB and -6 dB
   against the accompaniment. SDR of vocals and accompaniment for Spleeter's
   output, against the mixture as the estimate of either stem (the baseline).
2. **Score-informed refinement**: a melody stem (General MIDI "Voice Oohs" or
   "Clarinet") over a FluidSynth accompaniment, both from MIDI written with mido.
   SDR of the melody (as the "vocals" stem) and of the accompaniment for the
   mixture, Spleeter, and Spleeter + :func:`omr.audio.separate.refine_mask` with
   the true notes and with notes whose onsets and offsets are jittered (an
   imperfect alignment).
3. **Speed and memory**: a long mixture separated in a subprocess with 2 torch
   threads: seconds of audio per second of wall time, and peak resident memory
   for chunked and whole-signal processing.

SDR is the global signal-to-distortion ratio of SiSEC 2018 / MDX (``10 log10
(sum s^2 / sum (s - s_hat)^2)`` over all samples and channels), so the numbers are
not comparable to BSS-eval's per-window median. Spleeter's masks are zero above
11 kHz (``mask_extension: zeros``); the tables also show ``average`` extension.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_util import json_safe

from omr.audio import separate as sep
from omr.audio.io import resample

OUT = ROOT / "bench" / "out" / "separate_bench.json"
SR = sep.SAMPLE_RATE
#: length of each synthetic mixture, seconds
MIX_SECONDS = 20.0
#: voice-to-accompaniment ratios of the speech mixtures, dB
SPEECH_SNRS_DB = (0.0, -6.0)
#: General MIDI programs (0-based) of the melody in the refinement benchmark
MELODY_PROGRAMS = {"voice oohs": 53, "clarinet": 71}
#: standard deviation of the onset/offset jitter of "aligned" notes, seconds
NOTE_JITTER_S = 0.05
#: torch threads for the speed test (the issue's 2 CPU cores)
SPEED_THREADS = 2
SPEECH = [
    ("en-us", ("The quick brown fox jumps over the lazy dog, and then it runs back across the field "
              "to find the farmer, who is reading a newspaper under the old oak tree.")),
    ("en-gb+f3", ("A student photographs a page of printed music, and the program reads every note, "
                 "every rest and every repeat sign, and then plays the piece back to her.")),
    ("en-us+m3", ("Tomorrow morning we will rehearse the second movement again, slowly at first, "
                 "and then at the tempo written in the score, with the whole orchestra.")),
    ("de", ("Die Musik beginnt leise, dann wird sie lauter, und am Ende singt der ganze Chor "
           "gemeinsam das letzte Lied des Abends.")),
]  # fmt: skip


# --- synthetic material -------------------------------------------------------------


def sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Global SDR in dB (SiSEC 2018 / MDX 'new' SDR), over all samples and channels."""
    num = float(np.sum(reference.astype(np.float64) ** 2))
    den = float(np.sum((reference.astype(np.float64) - estimate) ** 2))
    return 10.0 * np.log10((num + 1e-12) / (den + 1e-12))


def _write_midi(path: Path, parts, bpm: float) -> None:
    """``parts``: (channel, program, [(start_beat, end_beat, pitch, velocity)])."""
    import mido

    tpb = 480
    mid = mido.MidiFile(ticks_per_beat=tpb)
    for i, (channel, program, notes) in enumerate(parts):
        tr = mido.MidiTrack()
        mid.tracks.append(tr)
        if i == 0:
            tr.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm)))
        if channel != 9:
            tr.append(mido.Message("program_change", program=program, channel=channel))
        events = []
        for start, end, pitch, vel in notes:
            events.append((round(start * tpb), 1, "note_on", pitch, vel))
            events.append((round(end * tpb), 0, "note_off", pitch, 0))
        now = 0
        for tick, _, kind, pitch, vel in sorted(events):
            tr.append(mido.Message(kind, note=pitch, velocity=vel, channel=channel, time=tick - now))
            now = tick
    mid.save(str(path))


MAJOR = (0, 2, 4, 5, 7, 9, 11)


def accompaniment_parts(rng: np.random.Generator, beats: int, *, drums: bool, pad_program: int):
    """Random diatonic chord progression: piano comping, bass, a sustained pad, drums."""
    key = int(rng.integers(-5, 7))
    degrees = [0, 5, 3, 4, 0, 3, 1, 4]
    rng.shuffle(degrees[1:-1])
    piano, bass, pad, kit = [], [], [], []
    for bar in range(beats // 4 + 1):
        d = degrees[bar % len(degrees)]
        triad = [48 + key + MAJOR[(d + k) % 7] + 12 * ((d + k) // 7) for k in (0, 2, 4)]
        b0 = bar * 4
        pattern = (0, 1, 1.5, 2, 3, 3.5) if bar % 2 else (0, 1, 2, 2.5, 3)
        for t in pattern:
            piano += [(b0 + t, b0 + t + 0.45, p + 12, int(rng.integers(55, 80))) for p in triad]
        bass += [(b0, b0 + 1.8, triad[0] - 12, 90), (b0 + 2, b0 + 3.8, triad[0] - 12 + 7, 85)]
        pad += [(b0, b0 + 4, p, 50) for p in triad]
        if drums:
            for t in range(4):
                kit.append((b0 + t, b0 + t + 0.2, 36 if t % 2 == 0 else 38, 90))
                kit += [(b0 + t + h, b0 + t + h + 0.1, 42, 60) for h in (0, 0.5)]
    parts = [(0, 0, piano), (1, 33, bass), (2, pad_program, pad)]
    if drums:
        parts.append((9, 0, kit))
    return parts


def melody_notes(rng: np.random.Generator, beats: int, key: int) -> list[tuple[float, float, int, int]]:
    """A singable random melody: stepwise diatonic motion, notes of 1/2 to 2 beats, some rests."""
    notes, t, degree = [], 0.0, 7
    while t < beats - 1:
        dur = float(rng.choice([0.5, 1.0, 1.0, 1.5, 2.0]))
        if rng.random() < 0.12:
            t += dur  # rest
            continue
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3]), 3, 12))
        pitch = 57 + key + MAJOR[degree % 7] + 12 * (degree // 7)
        notes.append((t, t + dur * 0.95, pitch, 85))
        t += dur
    return notes


def render_midi(parts, bpm: float, seconds: float, tmp: Path, name: str) -> np.ndarray:
    from omr.audio.synth import render

    path = tmp / f"{name}.mid"
    _write_midi(path, parts, bpm)
    y = render(path, sample_rate=SR, mono=False)
    n = int(seconds * SR)
    return np.pad(y, ((0, 0), (0, max(0, n - y.shape[1]))))[:, :n].astype(np.float32)


def speak(voice: str, text: str, seconds: float, tmp: Path, offset_s: float = 0.5) -> np.ndarray:
    import soundfile

    path = tmp / "speech.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(path), text], check=True, capture_output=True)
    v, vsr = soundfile.read(str(path), dtype="float32")
    v = resample(v, vsr, SR)
    n = int(seconds * SR)
    v = np.pad(v, (int(offset_s * SR), 0))[:n]
    v = np.pad(v, (0, n - v.size))
    return np.stack([v, v]).astype(np.float32)  # centred, as lead vocals usually are


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


def mix_at(voice: np.ndarray, acc: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale the voice to ``snr_db`` against the accompaniment; the mix peaks at 0.9."""
    v = voice * (_rms(acc) / max(_rms(voice), 1e-9) * 10 ** (snr_db / 20))
    m = v + acc
    g = 0.9 / max(float(np.abs(m).max()), 1e-9)
    return (v * g).astype(np.float32), (acc * g).astype(np.float32), (m * g).astype(np.float32)


# --- benchmarks ------------------------------------------------------------------------


def bench_speech(model, tmp: Path, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    rows = []
    for i, (voice_name, text) in enumerate(SPEECH):
        bpm = float(rng.integers(80, 130))
        beats = int(MIX_SECONDS * bpm / 60) + 4
        parts = accompaniment_parts(rng, beats, drums=i % 2 == 1, pad_program=(48, 19, 89, 52)[i % 4])
        acc = render_midi(parts, bpm, MIX_SECONDS, tmp, f"acc{i}")
        voice = speak(voice_name, text, MIX_SECONDS, tmp)
        for snr in SPEECH_SNRS_DB:
            v, a, m = mix_at(voice, acc, snr)
            out = sep.separate(m, SR, model=model)
            out_avg = sep.separate(m, SR, model=model, mask_extension="average")
            rows.append({
                "mix": f"{voice_name} / {bpm:.0f} bpm{' + drums' if i % 2 else ''}",
                "voice_db": snr,
                "vocals_sdr_mixture": sdr(v, m),
                "vocals_sdr_spleeter": sdr(v, out["vocals"]),
                "vocals_sdr_spleeter_avg_ext": sdr(v, out_avg["vocals"]),
                "accompaniment_sdr_mixture": sdr(a, m),
                "accompaniment_sdr_spleeter": sdr(a, out["accompaniment"]),
                "accompaniment_sdr_spleeter_avg_ext": sdr(a, out_avg["accompaniment"]),
            })  # fmt: skip
            print(f"  speech {rows[-1]['mix']} at {snr:+.0f} dB: vocals {rows[-1]['vocals_sdr_spleeter']:.1f} dB, "
                  f"accompaniment {rows[-1]['accompaniment_sdr_spleeter']:.1f} dB", flush=True)  # fmt: skip
    return {"rows": rows, "mean": _means(rows)}


def _means(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if k.endswith(("_mixture", "_spleeter", "_avg_ext", "_refined", "_jittered", "_comb_only"))]
    out = {}
    for snr in sorted({r["voice_db"] for r in rows}, reverse=True):
        sel = [r for r in rows if r["voice_db"] == snr]
        out[f"{snr:+.0f} dB"] = {k: float(np.mean([r[k] for r in sel])) for k in keys}
    return out


def bench_refine(model, tmp: Path, seed: int = 1, n_pieces: int = 3, refine_kwargs=None) -> dict:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_pieces):
        bpm = float(rng.integers(72, 120))
        beats = int(MIX_SECONDS * bpm / 60) + 4
        parts = accompaniment_parts(rng, beats, drums=i % 2 == 1, pad_program=(48, 19, 89)[i % 3])
        acc = render_midi(parts, bpm, MIX_SECONDS, tmp, f"racc{i}")
        mel = melody_notes(rng, beats, key=int(rng.integers(-3, 4)))
        spb = 60.0 / bpm
        notes = [(p, s * spb, e * spb) for s, e, p, _ in mel]
        jit = [
            (p, on + rng.normal(0, NOTE_JITTER_S), max(on + 0.05, off + rng.normal(0, NOTE_JITTER_S)))
            for p, on, off in notes
        ]
        for prog_name, program in MELODY_PROGRAMS.items():
            melody = render_midi([(0, program, mel)], bpm, MIX_SECONDS, tmp, f"mel{i}{program}")
            for snr in (0.0, -6.0):
                v, a, m = mix_at(melody, acc, snr)
                plain = sep.separate(m, SR, model=model)
                ref = sep.separate(m, SR, model=model, notes=notes, refine_kwargs=refine_kwargs)
                rj = sep.separate(m, SR, model=model, notes=jit, refine_kwargs=refine_kwargs)
                comb = sep.separate(m, SR, model=model, notes=notes, refine_kwargs={**(refine_kwargs or {}), "blend": 1.0})
                rows.append({
                    "mix": f"{prog_name}, piece {i}",
                    "voice_db": snr,
                    "melody_sdr_mixture": sdr(v, m),
                    "melody_sdr_spleeter": sdr(v, plain["vocals"]),
                    "melody_sdr_refined": sdr(v, ref["vocals"]),
                    "melody_sdr_jittered": sdr(v, rj["vocals"]),
                    "melody_sdr_comb_only": sdr(v, comb["vocals"]),
                    "accompaniment_sdr_mixture": sdr(a, m),
                    "accompaniment_sdr_spleeter": sdr(a, plain["accompaniment"]),
                    "accompaniment_sdr_refined": sdr(a, ref["accompaniment"]),
                    "accompaniment_sdr_jittered": sdr(a, rj["accompaniment"]),
                })  # fmt: skip
                r = rows[-1]
                print(f"  refine {r['mix']} at {snr:+.0f} dB: melody {r['melody_sdr_spleeter']:.1f} -> "
                      f"{r['melody_sdr_refined']:.1f} (jittered {r['melody_sdr_jittered']:.1f}) dB", flush=True)  # fmt: skip
    means = {}
    for prog_name in MELODY_PROGRAMS:
        sub = [r for r in rows if r["mix"].startswith(prog_name)]
        for k, v in _means(sub).items():
            means[f"{prog_name}, {k}"] = v
    return {"rows": rows, "mean": means, "note_jitter_s": NOTE_JITTER_S}


SPEED_CHILD = r"""
import json, resource, sys, time
import numpy as np, torch
sys.path.insert(0, sys.argv[1])
torch.set_num_threads(int(sys.argv[2]))
from omr.audio import separate as sep
x = np.load(sys.argv[3], mmap_mode="r")
chunk = None if sys.argv[4] == "none" else float(sys.argv[4])
model = sep.load_model()
x = np.array(x)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
out = sep.separate(x, sep.SAMPLE_RATE, model=model, chunk_seconds=chunk)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": dt, "peak_rss_mb": peak / 1024, "rss_before_mb": base / 1024}))
"""


def bench_speed(tmp: Path, seconds: float, threads: int = SPEED_THREADS) -> dict:
    rng = np.random.default_rng(5)
    bpm = 100.0
    beats = int(seconds * bpm / 60) + 4
    acc = render_midi(accompaniment_parts(rng, beats, drums=True, pad_program=48), bpm, seconds, tmp, "speed")
    voice = speak(SPEECH[0][0], SPEECH[0][1], 12.0, tmp)
    voice = np.tile(voice, (1, int(np.ceil(seconds / 12.0))))[:, : acc.shape[1]]
    _, _, m = mix_at(voice, acc, 0.0)
    path = tmp / "speed.npy"
    np.save(path, m)
    runs = {}
    for chunk in ("60", "none"):
        proc = subprocess.run(
            [sys.executable, "-c", SPEED_CHILD, str(ROOT), str(threads), str(path), chunk],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        r["realtime_factor"] = seconds / r["seconds"]
        runs["chunk_60s" if chunk == "60" else "whole"] = r
        print(f"  speed ({'60 s chunks' if chunk == '60' else 'whole signal'}): {seconds:.0f} s of audio in "
              f"{r['seconds']:.1f} s = {r['realtime_factor']:.1f}x real time, peak RSS {r['peak_rss_mb']:.0f} MB",
              flush=True)  # fmt: skip
    return {"audio_seconds": seconds, "torch_threads": threads, "runs": runs}


# --- report -------------------------------------------------------------------------------


def markdown(res: dict) -> str:
    lines = []
    if "speech" in res:
        lines += [
            "### Speech (espeak-ng) over FluidSynth accompaniment: mean global SDR, dB",
            "",
            "| voice level | vocals: mixture | vocals: Spleeter | (avg. ext.) | accomp.: mixture | accomp.: Spleeter | (avg. ext.) |",
            "|---|---|---|---|---|---|---|",
        ]  # fmt: skip
        for k, v in res["speech"]["mean"].items():
            lines.append(
                f"| {k} | {v['vocals_sdr_mixture']:.1f} | {v['vocals_sdr_spleeter']:.1f} | "
                f"{v['vocals_sdr_spleeter_avg_ext']:.1f} | {v['accompaniment_sdr_mixture']:.1f} | "
                f"{v['accompaniment_sdr_spleeter']:.1f} | {v['accompaniment_sdr_spleeter_avg_ext']:.1f} |"
            )
        lines.append("")
    if "refine" in res:
        lines += [
            (f"### Score-informed refinement (melody from MIDI, notes exact / jittered by {NOTE_JITTER_S * 1000:.0f} ms): "
            "mean global SDR, dB"),
            "",
            "| melody, level | melody: mixture | Spleeter | + refine | + refine (jittered) | comb only | accomp.: mixture | Spleeter | + refine | + refine (jittered) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]  # fmt: skip
        for k, v in res["refine"]["mean"].items():
            lines.append(
                f"| {k} | {v['melody_sdr_mixture']:.1f} | {v['melody_sdr_spleeter']:.1f} | "
                f"{v['melody_sdr_refined']:.1f} | {v['melody_sdr_jittered']:.1f} | {v['melody_sdr_comb_only']:.1f} | "
                f"{v['accompaniment_sdr_mixture']:.1f} | {v['accompaniment_sdr_spleeter']:.1f} | "
                f"{v['accompaniment_sdr_refined']:.1f} | {v['accompaniment_sdr_jittered']:.1f} |"
            )
        lines.append("")
    if "speed" in res:
        s = res["speed"]
        lines += [
            f"### Speed: {s['audio_seconds']:.0f} s stereo 44.1 kHz, {s['torch_threads']} torch threads",
            "",
            "| mode | wall time, s | x real time | peak RSS, MB |",
            "|---|---|---|---|",
        ]
        for k, r in s["runs"].items():
            lines.append(f"| {k} | {r['seconds']:.1f} | {r['realtime_factor']:.1f} | {r['peak_rss_mb']:.0f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=("speech", "refine", "speed"), action="append")
    ap.add_argument("--speed-seconds", type=float, default=300.0)
    ap.add_argument("--refine-pieces", type=int, default=3)
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    todo = args.only or ["speech", "refine", "speed"]
    res = {
        "python": platform.python_version(),
        "torch": __import__("torch").__version__,
        "cpu_count": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "mix_seconds": MIX_SECONDS,
    }
    model = sep.load_model() if {"speech", "refine"} & set(todo) else None
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="omr-sepbench-") as tmp:
        tmp = Path(tmp)
        if "speech" in todo:
            res["speech"] = bench_speech(model, tmp)
        if "refine" in todo:
            res["refine"] = bench_refine(model, tmp, n_pieces=args.refine_pieces)
        if "speed" in todo:
            res["speed"] = bench_speed(tmp, args.speed_seconds)
    res["bench_seconds"] = time.perf_counter() - t0
    res["loadavg_at_end"] = os.getloadavg()
    res["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_file():  # keep sections of an earlier run that this run did not redo
        old = json.loads(out.read_text())
        for k in ("speech", "refine", "speed"):
            if k not in res and k in old:
                res[k] = old[k]
    out.write_text(json.dumps(json_safe(res), indent=2) + "\n")
    print()
    print(markdown(res))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
