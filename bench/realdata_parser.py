"""The whole program on real phone photos: staff crops of ../shared/realdata with
hand-made ground truth, compared as sequences (measure boundaries do not matter).

    python bench/realdata_parser.py [--dir ../shared/realdata/ptromr_cc_photos] [--limit N] [--json OUT]

Per crop, the ground truth's ``.musicxml`` and the transcription are both read
in written order (measure by measure; a measure of two voices voice 1 first, as
the ground truth's ``.semantic`` writes it) as sequences of

- pitches (MIDI) of the notes, chord members from low to high;
- rhythm: durations (quarter notes) of notes and rests (a chord counts once);
- notes: (pitch, duration) pairs;

and compared by edit distance: ``accuracy = max(0, 1 - distance / len(reference))``.
As a diagnostic, each transcription is also compared with every ground truth of
the same piece (``note_accuracy_best_of_piece``): for many crops another staff's
ground truth matches far better than their own, which looks like crops and
ground truths paired one staff apart.
The ground truth has no tuplets, slurs or dynamics, and chords flattened into one
voice (see ../shared/realdata/README.md), so the transcription is flattened the same
way. A crop the program refuses counts as accuracy 0 and is listed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_util import report  # noqa: E402

from omr.detect.infer import load_model  # noqa: E402
from omr.errors import OmrError  # noqa: E402
from omr.pipeline import transcribe  # noqa: E402

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "ptromr_cc_photos"


def _in_written_order(score):
    """Notes and rests part by part, measure by measure, and within a measure voice
    by voice (voice 1 whole, then voice 2): the order in which the ground truth's
    ``.semantic`` writes a measure of two voices, so a correct two-voice staff
    compares equal to it instead of being interleaved by onset."""
    for part in score.parts:
        measures = list(part.getElementsByClass("Measure"))
        if not measures:
            yield from part.flatten().notesAndRests
            continue
        for measure in measures:
            yield from measure.notesAndRests
            for voice in measure.voices:
                yield from voice.notesAndRests


def sequences(score) -> dict[str, list]:
    """Pitch, rhythm and note sequences of a score, in written order (see
    ``_in_written_order``)."""
    pitches, rhythm, notes = [], [], []
    for el in _in_written_order(score):
        if el.duration.isGrace:
            continue
        d = round(float(el.quarterLength), 4)
        rhythm.append(d)
        if el.isRest:
            continue
        for p in sorted(el.pitches, key=lambda p: p.midi):
            pitches.append(p.midi)
            notes.append((p.midi, d))
    return {"pitch": pitches, "rhythm": rhythm, "note": notes}


def edit_distance(a: list, b: list) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def accuracy(ref: list, est: list) -> float:
    return max(0.0, 1.0 - edit_distance(ref, est) / max(len(ref), 1))


def main(argv=None) -> int:
    import music21

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=str(DEFAULT_DIR))
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    crops = sorted(Path(args.dir, "staves").glob("*.jpg"))
    if args.limit:
        crops = crops[: args.limit]
    if not crops:
        print(f"no staff crops under {args.dir}/staves (../shared/realdata is not in a fresh clone)")
        return 0
    model = load_model()
    rows = []
    refs = {c.stem: sequences(music21.converter.parse(str(c.with_suffix(".musicxml"))))
            for c in sorted(Path(args.dir, "staves").glob("*.jpg"))}
    for crop in crops:
        ref = refs[crop.stem]
        t = time.perf_counter()
        try:
            result = transcribe([str(crop)], model=model, ocr=False)
            est = sequences(result.score)
            error = ""
        except OmrError as err:
            est, error = {"pitch": [], "rhythm": [], "note": []}, str(err)
        row = {"crop": crop.stem, "seconds": time.perf_counter() - t, "error": error,
               "n_notes": len(ref["note"]), "n_notes_est": len(est["note"])}
        for k in ("pitch", "rhythm", "note"):
            row[f"{k}_accuracy"] = accuracy(ref[k], est[k])
        # diagnostic: the best match among all ground truths of the same piece (some
        # crops' ground truth seems to belong to another staff of the page)
        piece = crop.stem.split("__")[0]
        best = max((k for k in refs if k.split("__")[0] == piece),
                   key=lambda k: accuracy(refs[k]["note"], est["note"]))
        row["best_of_piece"] = best
        row["note_accuracy_best_of_piece"] = accuracy(refs[best]["note"], est["note"])
        row["n_notes_best_of_piece"] = len(refs[best]["note"])
        rows.append(row)
        print(f"{crop.stem:45s} pitch {row['pitch_accuracy']:.3f} rhythm {row['rhythm_accuracy']:.3f} "
              f"note {row['note_accuracy']:.3f} ({row['n_notes']} notes, {row['n_notes_est']} found) {error}",
              flush=True)
    n = sum(r["n_notes"] for r in rows)
    summary = {"crops": len(rows), "notes": n, "refused": sum(bool(r["error"]) for r in rows)}
    for k in ("pitch", "rhythm", "note"):
        summary[f"{k}_accuracy_weighted"] = sum(r[f"{k}_accuracy"] * r["n_notes"] for r in rows) / max(n, 1)
        summary[f"{k}_accuracy_median"] = statistics.median(r[f"{k}_accuracy"] for r in rows)
    nb = sum(r["n_notes_best_of_piece"] for r in rows)
    summary["note_accuracy_best_of_piece_weighted"] = sum(
        r["note_accuracy_best_of_piece"] * r["n_notes_best_of_piece"] for r in rows) / max(nb, 1)
    summary["crops_whose_best_match_is_another_staff"] = sum(r["best_of_piece"] != r["crop"] for r in rows)
    return report(summary, rows, args.json, key="crops")


if __name__ == "__main__":
    raise SystemExit(main())
