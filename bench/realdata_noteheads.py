"""Notehead count recall of the detector on real phone photos of printed music.

    python bench/realdata_noteheads.py [--dir ../shared/realdata/ptromr_cc_photos]
        [--score 0.5] [--page] [--checkpoint PATH] [--threads 2] [--json OUT]

The folder (see ``../shared/realdata/README.md``) holds 70 dewarped staff crops
(1280x128) of phone photos of printed MuseScore pages, each with a hand-made
``.semantic`` ground truth (Polyphonic-TrOMR format: ``+`` between symbols, ``|``
between the notes of a chord). There are no boxes, so this bench compares counts:

- ground truth per staff: every ``note-...`` token (each chord member counts, as
  each is a printed notehead; ``gracenote-...`` tokens count too, as cue-size
  noteheads); rests, clefs, barlines, ties and the rest are not notes;
- detected: detections whose class has the ``notehead`` role of ``omr.vocab``
  (cue sizes included) with score >= ``--score``.

Reports per crop and per piece the counts and their ratio, and in total the
*count recall* ``sum(min(det, gt)) / sum(gt)`` (a detector can only be right about
as many notes as it found), the *over-count* ``sum(max(det - gt, 0))`` (also as a
share of the ground truth), and the median per-staff ratio ``det / gt``. Counts do
not check positions: a found note may stand for a missed one elsewhere on the
staff, so count recall is an upper bound on real recall. A crop the detector
refuses (no staff found) counts as zero detections and is listed.

``--page`` also runs the one full page photo (``pages/cello__cello-1-cam.jpg``,
stored sideways with an EXIF flag) against the notes of all its staves' semantic
files; it is reported on its own line, outside the crop totals.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

# this checkout first, not the editable install (a worktree measures its own code and model)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_util import json_safe

from omr import vocab
from omr.errors import OmrError

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "ptromr_cc_photos"
NOTEHEAD_CLASSES = frozenset(vocab.names_with_role("notehead"))
#: Token prefixes of printed noteheads in the semantic format.
NOTE_PREFIXES = ("note-", "gracenote-")


def count_semantic_notes(text: str) -> int:
    """Noteheads in one semantic string: note tokens, chord members separately.

    >>> count_semantic_notes("clef-G2+note-G4_eighth|note-B4_eighth+rest-eighth+note-A4_quarter.+barline")
    3
    >>> count_semantic_notes("gracenote-C5_eighth+note-B4_quarter+tie+note-B4_quarter")
    3
    """
    tokens = [t.strip() for symbol in text.split("+") for t in symbol.split("|")]
    return sum(1 for t in tokens if t.startswith(NOTE_PREFIXES))


def load_entries(folder: Path, with_page: bool) -> list[dict]:
    """``[{"id", "piece", "level", "image", "gt"}]`` from the folder's manifest (or,
    without one, every ``staves/*.semantic`` next to a ``.jpg``)."""
    manifest = folder / "manifest.json"
    entries = []
    if manifest.exists():
        for e in json.loads(manifest.read_text(encoding="utf-8"))["entries"]:
            if e.get("level") == "page" and not with_page:
                continue
            gt_files = e.get("gt_original")
            if not gt_files:
                continue
            gt_files = [gt_files] if isinstance(gt_files, str) else gt_files
            gt_paths = [folder / p for p in gt_files]
            if not (folder / e["image"]).exists() or not all(p.exists() for p in gt_paths):
                continue
            gt = sum(count_semantic_notes(p.read_text(encoding="utf-8")) for p in gt_paths)
            entries.append({"id": e["id"], "piece": e.get("piece", "?"), "level": e.get("level", "staff"),
                            "image": str(folder / e["image"]), "gt": gt})
    else:
        for sem in sorted((folder / "staves").glob("*.semantic")):
            image = sem.with_suffix(".jpg")
            if image.exists():
                entries.append({"id": sem.stem, "piece": sem.stem.split("__")[0], "level": "staff",
                                "image": str(image),
                                "gt": count_semantic_notes(sem.read_text(encoding="utf-8"))})
    return entries


def summarize(rows: list[dict]) -> dict:
    gt = sum(r["gt"] for r in rows)
    hit = sum(min(r["det"], r["gt"]) for r in rows)
    over = sum(max(r["det"] - r["gt"], 0) for r in rows)
    ratios = [r["det"] / r["gt"] for r in rows if r["gt"]]
    return {"staves": len(rows), "gt": gt, "det": sum(r["det"] for r in rows),
            "count_recall": hit / gt if gt else float("nan"),
            "over_count": over, "over_count_share": over / gt if gt else float("nan"),
            "median_ratio": statistics.median(ratios) if ratios else float("nan"),
            "failed": sum(1 for r in rows if r["error"])}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR,
                        help="the ptromr_cc_photos folder (default: ../shared/realdata/ptromr_cc_photos "
                             "next to the repository)")
    parser.add_argument("--score", type=float, default=0.5, help="count detections scoring at least this")
    parser.add_argument("--page", action="store_true", help="also run the full page photo")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    if not args.dir.is_dir():
        print(f"no real-data folder at {args.dir}; nothing to measure (it lives in ../shared, "
              "next to the repository, and is not part of a fresh clone)")
        return 0
    entries = load_entries(args.dir, args.page)
    if not entries:
        print(f"{args.dir} holds no staff crops with .semantic ground truth; nothing to measure")
        return 0

    import torch

    from omr.detect.infer import detect, load_model

    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint) if args.checkpoint else load_model()
    rows = []
    start = time.perf_counter()
    for k, e in enumerate(entries, 1):
        print(f"\r[{k}/{len(entries)}] {e['id']}", end="", file=sys.stderr, flush=True)
        error = ""
        try:
            result = detect(e["image"], model=model)
            det = sum(1 for d in result.detections
                      if d.cls in NOTEHEAD_CLASSES and d.score >= args.score)
        except OmrError as err:
            det, error = 0, f"{type(err).__name__}: {err}"
        rows.append({**e, "det": det, "ratio": det / e["gt"] if e["gt"] else float("nan"),
                     "error": error})
    print(file=sys.stderr)
    seconds = time.perf_counter() - start

    crops = [r for r in rows if r["level"] == "staff"]
    pages = [r for r in rows if r["level"] != "staff"]
    print(f"# Notehead counts on real photos ({args.dir.name}, score >= {args.score}, "
          f"checkpoint {args.checkpoint or 'shipped'}, {seconds:.0f} s)\n")
    print("| crop | gt notes | detected | det/gt | note |")
    print("|---|---:|---:|---:|---|")
    for r in crops:
        print(f"| {r['id']} | {r['gt']} | {r['det']} | {r['ratio']:.2f} | {r['error']} |")

    pieces = sorted({r["piece"] for r in crops})
    summary = {"all": summarize(crops), **{p: summarize([r for r in crops if r["piece"] == p])
                                           for p in pieces}}
    print("\n| staves of | staves | gt notes | detected | count recall | over-count | "
          "median det/gt | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in [*((p, summary[p]) for p in pieces), ("**all**", summary["all"])]:
        print(f"| {name} | {s['staves']} | {s['gt']} | {s['det']} | {s['count_recall']:.3f} | "
              f"{s['over_count']} ({s['over_count_share']:.1%}) | {s['median_ratio']:.2f} | {s['failed']} |")
    for r in pages:
        print(f"\nfull page {r['id']}: {r['gt']} gt notes, {r['det']} detected "
              f"(count recall {min(r['det'], r['gt']) / r['gt']:.3f}){'; ' + r['error'] if r['error'] else ''}")

    if args.json:
        out = {"dir": str(args.dir), "score_threshold": args.score,
               "checkpoint": str(args.checkpoint or "shipped"), "seconds": seconds,
               "summary": summary, "rows": rows}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(json_safe(out), indent=2), encoding="utf-8")
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
