"""Accuracy and speed of score-to-audio alignment (``omr.audio.align``).

    python bench/align_bench.py [--quick] [--pieces P ...] [--speed-piece P]
        [--no-speed] [--workers 2] [--json bench/out/align_bench.json]

Recordings are made from music21 corpus pieces, so the true onset of every note is
known. The score's unfolded note list (``omr.audio.align.notes_from_music21``) is
played on a NON-LINEAR tempo curve (a random base tempo 0.75-1.4x the score's,
three slow random tempo waves of up to about +-25%, and a ritardando to 0.6x over
the last 10%), written to MIDI with ``omr.audio.synth.write_notes_midi`` and
rendered by FluidSynth (FluidR3 GM) with a General MIDI instrument that is NOT the
piano of the score's playback (harpsichord, nylon guitar, harp, vibraphone,
electric piano, steel guitar, marimba, celesta by turn: instruments whose notes
start at the note-on; slow attacks are measured apart, see below), after 0.5-2 s
of silence. Configurations:

- ``clean``: the whole score, one instrument;
- ``noise``: the same plus white noise at 15 dB SNR (re. the music's RMS);
- ``second_part``: the score is the first part only; the recording adds the last
  part on another instrument (the voice in the score, an accompaniment that is not);
- ``second_part+noise``: both.

Per configuration: median absolute onset error, the share of notes within 100 ms
(and 50 ms), and the confidence. (The main configurations use instruments with a
clear attack; the "attack study" renders one chorale with each of eleven
instruments, slow attacks included, and reports the error and its sign.)
``other piece``: each recording aligned to the next piece's score: its
confidence must be low. Speed: one recording of about 5 minutes
(``--speed-piece``, nylon guitar, the same kind of tempo curve), aligned twice in
the process ("cold" is the first of the two, but the accuracy runs before it have
already compiled numba's kernels: time a fresh process for a true cold start)
with the stages of ``Alignment.timings``, on the threads given by ``--workers``.

Writes ``--json`` and prints a markdown table. Not run in CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_util import json_safe  # noqa: E402

SAMPLE_RATE = 22050
#: General MIDI programs of the "recordings" (the score's playback is piano, 0).
PROGRAMS = (6, 24, 46, 11, 4, 25, 12, 8)
PROGRAM_NAMES = {6: "harpsichord", 24: "nylon guitar", 73: "flute", 40: "violin",
                 19: "church organ", 71: "clarinet", 46: "harp", 11: "vibraphone",
                 32: "acoustic bass", 42: "cello", 0: "piano", 4: "electric piano",
                 25: "steel guitar", 12: "marimba", 8: "celesta"}
#: Instrument of the added second part.
SECOND_PART_PROGRAMS = (42, 32)
NOISE_SNR_DB = 15.0

DEFAULT_PIECES = ("bach/bwv66.6", "bach/bwv103.6", "bach/bwv26.6", "bach/bwv1.6",
                  "bach/bwv846", "mozart/k80/movement1")
QUICK_PIECES = ("bach/bwv66.6", "bach/bwv103.6")
SPEED_PIECE = "mozart/k80/movement1"
SPEED_TARGET_S = 300.0  # length of the speed recording
SPEED_PROGRAM = 24  # nylon guitar


def tempo_warp(total: float, rng: np.random.Generator, base: float | None = None):
    """A random non-linear map score seconds -> performance seconds."""
    base = rng.uniform(0.75, 1.4) if base is None else base
    grid = np.linspace(0.0, total, max(int(total * 20), 200))
    log_r = np.zeros_like(grid)
    for _ in range(3):
        period = rng.uniform(0.15, 0.6) * total + 4.0
        log_r += rng.uniform(0.05, 0.12) * np.sin(2 * np.pi * grid / period + rng.uniform(0, 6.3))
    ritard = np.clip((grid - 0.9 * total) / (0.1 * total), 0, 1)
    ratio = base * np.exp(log_r) / (1 - 0.4 * ritard)  # seconds of audio per score second
    audio = np.concatenate([[0.0], np.cumsum(0.5 * (ratio[1:] + ratio[:-1]) * np.diff(grid))])

    def warp(t):
        t = np.asarray(t, dtype=float)
        inside = np.interp(t, grid, audio)
        return np.where(t > total, audio[-1] + (t - total) * ratio[-1], inside)

    return warp, float(base)


def make_recording(notes, rng, program, *, second=None, second_program=42, noise_db=None,
                   base=None, tmp: Path):
    """Render ``notes`` (and ``second``, another part) on a random tempo curve."""
    from omr.audio.synth import render, write_notes_midi

    alln = list(notes) + (list(second) if second else [])
    total = max(n.score_sec + n.duration_sec for n in alln)
    warp, base = tempo_warp(total, rng, base)
    lead = rng.uniform(0.5, 2.0)
    on = np.array([n.score_sec for n in alln])
    off = on + np.array([max(n.duration_sec, 0.05) for n in alln])
    parts = np.array([0] * len(notes) + [1] * (len(alln) - len(notes)))
    pitches = np.array([n.pitch for n in alln])
    mid = write_notes_midi(tmp / "rec.mid", warp(on) + lead, warp(off) + lead, pitches,
                           parts=parts, programs={0: program, 1: second_program})
    y = render(mid, sample_rate=SAMPLE_RATE)
    y = np.concatenate([y, np.zeros(SAMPLE_RATE)])
    if noise_db is not None:
        active = np.abs(y) > 1e-4
        rms = float(np.sqrt(np.mean(y[active] ** 2)))
        y = y + rng.standard_normal(y.size).astype(np.float32) * rms * 10 ** (-noise_db / 20)
    truth = warp(np.array([n.score_sec for n in notes])) + lead
    return y.astype(np.float32), truth, base


def errors(al, truth):
    err = np.abs(al.onset_sec - truth)
    missing = int(np.sum(~np.isfinite(err)))
    err = np.where(np.isfinite(err), err, np.inf)  # a note left out is an error
    return err, missing


def run_accuracy(pieces, workers, rng_seed=0):
    import music21

    from omr.audio.align import align, notes_from_music21

    rows, others = [], []
    scores = {}
    for p in pieces:
        scores[p] = notes_from_music21(music21.corpus.parse(p))
    with tempfile.TemporaryDirectory(prefix="align-bench-") as tmpd:
        tmp = Path(tmpd)
        for pi, p in enumerate(pieces):
            notes = scores[p]
            n_parts = max(n.part for n in notes) + 1
            program = PROGRAMS[pi % len(PROGRAMS)]
            configs = [("clean", None, False), ("noise", NOISE_SNR_DB, False)]
            if n_parts >= 2:
                configs += [("second_part", None, True),
                            ("second_part+noise", NOISE_SNR_DB, True)]
            for ci, (name, noise, second) in enumerate(configs):
                rng = np.random.default_rng([rng_seed, pi, ci])
                if second:
                    score = [n for n in notes if n.part == 0]
                    extra = [n for n in notes if n.part == n_parts - 1]
                else:
                    score, extra = notes, None
                y, truth, base = make_recording(
                    score, rng, program, second=extra,
                    second_program=SECOND_PART_PROGRAMS[pi % len(SECOND_PART_PROGRAMS)],
                    noise_db=noise, tmp=tmp)
                t0 = time.perf_counter()
                al = align(score, y, SAMPLE_RATE, workers=workers)
                secs = time.perf_counter() - t0
                err, missing = errors(al, truth)
                row = {
                    "piece": p, "config": name, "notes": len(score),
                    "instrument": PROGRAM_NAMES.get(program, str(program)),
                    "recording_s": round(y.size / SAMPLE_RATE, 1), "tempo_base": round(base, 2),
                    "median_error_ms": round(float(np.median(err)) * 1000, 1),
                    "within_100ms": round(float(np.mean(err <= 0.1)), 4),
                    "within_50ms": round(float(np.mean(err <= 0.05)), 4),
                    "notes_left_out": missing, "confidence": round(al.confidence, 3),
                    "cost_ratio": round(al.match_ratio, 3),
                    "roughness": round(al.roughness, 3),
                    "transposition": al.transposition, "align_s": round(secs, 2),
                }
                rows.append(row)
                print(f"{p:28s} {name:18s} median {row['median_error_ms']:6.1f} ms  "
                      f"<=100ms {100 * row['within_100ms']:5.1f}%  conf {row['confidence']:.2f}  "
                      f"({secs:.1f} s)", flush=True)
                if name == "clean" and len(pieces) > 1:
                    other = pieces[(pi + 1) % len(pieces)]
                    alo = align(scores[other], y, SAMPLE_RATE, workers=workers)
                    others.append({"recording": p, "score": other,
                                   "confidence": round(alo.confidence, 3),
                                   "cost_ratio": round(alo.match_ratio, 3),
                                   "roughness": round(alo.roughness, 3)})
                    print(f"{'  recording of ' + p + ' vs score of ' + other:48s} "
                          f"conf {alo.confidence:.2f}", flush=True)
    return rows, others


#: Instruments of the attack study: quick attacks, then slow ones (bowed, blown,
#: sung, organ).
ATTACK_PROGRAMS = (0, 6, 24, 46, 11, 73, 71, 40, 48, 19, 52)
ATTACK_NAMES = {**PROGRAM_NAMES, 48: "string ensemble", 52: "choir aahs"}
ATTACK_PIECE = "bach/bwv26.6"


def run_attacks(workers):
    """One chorale (clean) rendered with each of ATTACK_PROGRAMS: the onset error
    and its sign (late > 0) per instrument, and the attack correction applied."""
    import music21

    from omr.audio.align import align, notes_from_music21

    notes = notes_from_music21(music21.corpus.parse(ATTACK_PIECE))
    rows = []
    with tempfile.TemporaryDirectory(prefix="align-attack-") as tmpd:
        for prog in ATTACK_PROGRAMS:
            rng = np.random.default_rng(5)
            y, truth, _ = make_recording(notes, rng, prog, tmp=Path(tmpd))
            al = align(notes, y, SAMPLE_RATE, workers=workers)
            err, _ = errors(al, truth)
            signed = al.onset_sec - truth
            rows.append({"program": prog, "instrument": ATTACK_NAMES.get(prog, str(prog)),
                         "median_error_ms": round(float(np.median(err)) * 1000, 1),
                         "median_signed_ms": round(float(np.nanmedian(signed)) * 1000, 1),
                         "within_100ms": round(float(np.mean(err <= 0.1)), 4),
                         "attack_shift_ms": round(al.attack_shift * 1000, 1)})
            r = rows[-1]
            print(f"attack study {r['instrument']:16s} median {r['median_error_ms']:6.1f} ms "
                  f"signed {r['median_signed_ms']:6.1f} ms", flush=True)
    return rows


def run_speed(piece, workers, target_s):
    import music21

    from omr.audio.align import align, notes_from_music21

    t0 = time.perf_counter()
    notes = notes_from_music21(music21.corpus.parse(piece))
    parse_s = time.perf_counter() - t0
    total = max(n.score_sec + n.duration_sec for n in notes)
    rng = np.random.default_rng(123)
    with tempfile.TemporaryDirectory(prefix="align-speed-") as tmpd:
        y, truth, base = make_recording(notes, rng, SPEED_PROGRAM, base=target_s / total * 0.93,
                                        tmp=Path(tmpd))
    out = {"piece": piece, "notes": len(notes), "recording_s": round(y.size / SAMPLE_RATE, 1),
           "parse_unfold_s": round(parse_s, 2), "workers": workers}
    for run in ("cold", "warm"):
        t0 = time.perf_counter()
        al = align(notes, y, SAMPLE_RATE, workers=workers)
        out[f"{run}_s"] = round(time.perf_counter() - t0, 2)
        out[f"{run}_stages"] = {k: round(v, 2) for k, v in al.timings.items()}
    err, missing = errors(al, truth)
    out["median_error_ms"] = round(float(np.median(err)) * 1000, 1)
    out["within_100ms"] = round(float(np.mean(err <= 0.1)), 4)
    out["confidence"] = round(al.confidence, 3)
    return out


def summarize(rows):
    out = {}
    for name in sorted({r["config"] for r in rows}):
        sel = [r for r in rows if r["config"] == name]
        n = sum(r["notes"] for r in sel)
        out[name] = {
            "recordings": len(sel), "notes": n,
            # note-weighted over the recordings
            "median_error_ms_median": float(np.median([r["median_error_ms"] for r in sel])),
            "within_100ms": round(sum(r["within_100ms"] * r["notes"] for r in sel) / n, 4),
            "within_50ms": round(sum(r["within_50ms"] * r["notes"] for r in sel) / n, 4),
            "confidence_min": min(r["confidence"] for r in sel),
        }
    return out


def markdown(result) -> str:
    lines = [f"# Alignment benchmark ({result['machine']})", ""]
    lines += ["| piece | config | instrument | notes | rec. s | median error ms | <= 100 ms | "
              "<= 50 ms | confidence |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['piece']} | {r['config']} | {r['instrument']} | {r['notes']} | "
                     f"{r['recording_s']} | {r['median_error_ms']} | "
                     f"{100 * r['within_100ms']:.1f}% | {100 * r['within_50ms']:.1f}% | "
                     f"{r['confidence']:.2f} |")
    lines += ["", "| config | recordings | notes | median of median errors ms | <= 100 ms | "
              "<= 50 ms | lowest confidence |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, s in result["summary"].items():
        lines.append(f"| {name} | {s['recordings']} | {s['notes']} | "
                     f"{s['median_error_ms_median']:.1f} | {100 * s['within_100ms']:.1f}% | "
                     f"{100 * s['within_50ms']:.1f}% | {s['confidence_min']:.2f} |")
    if result["other_piece"]:
        lines += ["", "| recording | aligned to the score of | confidence | cost ratio |",
                  "|---|---|---:|---:|"]
        for o in result["other_piece"]:
            lines.append(f"| {o['recording']} | {o['score']} | {o['confidence']:.2f} | "
                         f"{o['cost_ratio']:.2f} |")
    if result.get("attacks"):
        lines += ["", f"Attack study ({ATTACK_PIECE}, clean, one instrument each):", "",
                  "| instrument | median error ms | median signed ms (late > 0) | <= 100 ms | "
                  "attack correction ms |", "|---|---:|---:|---:|---:|"]
        for r in result["attacks"]:
            lines.append(f"| {r['instrument']} | {r['median_error_ms']} | "
                         f"{r['median_signed_ms']} | {100 * r['within_100ms']:.1f}% | "
                         f"{r['attack_shift_ms']} |")
    sp = result.get("speed")
    if sp:
        lines += ["", f"Speed: {sp['piece']}, {sp['notes']} notes, recording "
                      f"{sp['recording_s']} s, {sp['workers']} filterbank threads: "
                      f"align() cold {sp['cold_s']} s, warm {sp['warm_s']} s "
                      f"(target <= 10 s); median error {sp['median_error_ms']} ms, "
                      f"{100 * sp['within_100ms']:.1f}% within 100 ms. Parsing and unfolding "
                      f"the MusicXML (not timed in align): {sp['parse_unfold_s']} s.",
                  "", "warm stages (s): " + ", ".join(f"{k} {v}" for k, v in
                                                       sp["warm_stages"].items())]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="two short chorales, no speed run")
    ap.add_argument("--pieces", nargs="+", help="music21 corpus paths")
    ap.add_argument("--speed-piece", default=SPEED_PIECE)
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", default="bench/out/align_bench.json")
    args = ap.parse_args(argv)
    pieces = args.pieces or (QUICK_PIECES if args.quick else DEFAULT_PIECES)
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
               f"load {os.getloadavg()[0]:.1f}, python {platform.python_version()}")
    rows, others = run_accuracy(pieces, args.workers)
    result = {"machine": machine, "rows": rows, "summary": summarize(rows),
              "other_piece": others}
    if not args.quick:
        result["attacks"] = run_attacks(args.workers)
    if not (args.quick or args.no_speed):
        print("speed run ...", flush=True)
        result["speed"] = run_speed(args.speed_piece, args.workers, SPEED_TARGET_S)
    md = markdown(result)
    print()
    print(md)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(json_safe(result), indent=1))
    out.with_suffix(".md").write_text(md + "\n")
    print(f"\nwrote {out} and {out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
