"""End to end on camera-simulated synth test pages: photo → detector → graph →
notation, note accuracy against the source score's notes on that page.

    python bench/parser_e2e.py --data /work/data/test [--variant camera] [--limit N] [--json OUT]
                               [--resend QUALITY:SIDE]

``--resend 80:1600`` sends each photo on as a messaging app does first: shrunk to
at most 1600 px on its longer side and compressed again as JPEG at quality 80.

Notes are compared by measure position, so the measures' numbers do not count in
the note accuracy. They are checked on their own: ``measure_numbers_right`` counts
the pages whose measures are numbered exactly as the source numbers the measures
printed on that page, and ``first_number_right`` those whose first measure is. The
program reads printed measure numbers only with ``--ocr``; without it, it counts
from 1 (0 for a pickup), which is right for a piece's first page only.
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_util import failed_page, pooled_notes, report, sent_on  # noqa: E402

from omr.detect.infer import load_model  # noqa: E402
from omr.eval.notes import evaluate, notes_from_score  # noqa: E402
from omr.pipeline import transcribe  # noqa: E402
from synth.oracle import load_record, page_measures, reference_notes, reference_score  # noqa: E402


def resent(path: str, quality: int, side: int):
    """The photo at ``path`` (RGB) shrunk to at most ``side`` px and JPEG-compressed
    again at ``quality``, as a messaging app sends a photo on."""
    import cv2

    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    bgr = sent_on(bgr, scale=side / max(bgr.shape[:2]), quality=quality)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def run_page(path: str, model, variant: str, ocr: bool, resend: tuple[int, int] | None = None) -> dict:
    record = load_record(path)
    image = str(Path(record["_dir"]) / record[variant]["image"])
    if resend:
        image = resent(image, *resend)
    t = time.perf_counter()
    result = transcribe([image], model=model, ocr=ocr)
    seconds = time.perf_counter() - t
    est = notes_from_score(result.score)
    source = reference_score(record)
    ref = reference_notes(record, source)
    m = evaluate(ref, est)
    numbers = [m21.measureNumberWithSuffix() for m21 in result.score.parts[0].getElementsByClass("Measure")] \
        if result.score.parts else []
    printed = page_measures(record, source)
    m.update(measure_numbers_right=numbers == printed,
             first_number_right=bool(numbers and printed and numbers[0] == printed[0]))
    m.update(page=record["id"], seconds=seconds, timings=result.timings,
             n_staves_ref=len({n[0] for n in ref}), n_staves_est=len(result.score.parts),
             n_measures_ref=len({n[1] for n in ref}),
             n_measures_est=len(result.score.parts[0].getElementsByClass("Measure")) if result.score.parts else 0)
    return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/data/test")
    ap.add_argument("--variant", default="camera", choices=["camera", "clean"])
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--page", default="")
    ap.add_argument("--ocr", action="store_true", help="read text with Tesseract (slower)")
    ap.add_argument("--json", default="")
    ap.add_argument("--resend", default="", metavar="QUALITY:SIDE",
                    help="shrink each photo to SIDE px and compress it again as JPEG at QUALITY first")
    args = ap.parse_args(argv)
    resend = tuple(int(v) for v in args.resend.split(":")) if args.resend else None
    paths = sorted(glob.glob(f"{args.data}/shard-*/*-p*.json"))
    if args.page:
        paths = [p for p in paths if args.page in p]
    if args.limit:
        paths = paths[: args.limit]
    model = load_model()
    rows = []
    for p in paths:
        try:
            m = run_page(p, model, args.variant, args.ocr, resend)
        except Exception as exc:  # a bench reports every page
            m = failed_page(p, exc)
        rows.append(m)
        print(f"{m['page']:12s} acc {m.get('note_accuracy', 0):.3f} aligned {m.get('note_accuracy_aligned', 0):.3f} pitch+onset {m.get('pitch_onset_accuracy', 0):.3f} "
              f"ref {int(m['n_ref'])} est {int(m['n_est'])} meas {m.get('n_measures_ref')}/{m.get('n_measures_est')} "
              f"staves {m.get('n_staves_ref')}/{m.get('n_staves_est')} {m.get('error', '')}", flush=True)
    return report({"variant": args.variant, "resend": args.resend, "ocr": args.ocr, **pooled_notes(rows),
                   "measure_numbers_right": sum(bool(r.get("measure_numbers_right")) for r in rows),
                   "first_number_right": sum(bool(r.get("first_number_right")) for r in rows)},
                  rows, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
