"""Detector average precision on a synth data set, per class and per graph role.

    python bench/detector_ap.py --data DIR [--data DIR ...] [--variant clean|camera|both]
        [--limit N] [--checkpoint PATH] [--iou 0.5] [--threads 2] [--json OUT]

DIR is a data set made by ``python -m synth build`` (``index.jsonl``, shards with
``<id>.png`` clean pages, ``<id>.jpg`` phone photos and ``<id>.json`` records). The
ground truth of an image is every symbol of its record whose class the detector
learns (``omr.vocab`` ``detected=True``; ``staff`` and ``system`` are skipped). Each
image goes through ``omr.detect.infer.detect`` (photo in, detections in the photo's
own pixels out) and is scored with :func:`omr.eval.detection.evaluate`.

Symbols of one class that the record gives twice at the same place are one glyph on
the page (verovio prints a whole rest per voice where both voices of a staff rest)
and count once (:func:`omr.eval.detection.merge_coincident`); the output says how
many were merged, and ``--keep-coincident`` scores every record symbol instead.

Prints, per variant, a markdown table of AP per class (grouped by graph role, in
``omr.vocab`` order), the mAP per role and overall, and the target check of the
detector issue: on camera pages the groups noteheads, rests, accidentals (on notes:
``accidental_*``; key signatures are their own role), clefs, barlines and the
augmentation dot must each reach AP >= 0.95. A group's AP is the mean AP of its
classes that occur in the data (``mAP/<role>``); the table also names the worst class
of each group, since a rare class can hide behind a good mean.

Several ``--data`` folders are scored as one set (``--limit`` applies to each): on one
60-page test build the rarest classes of the target groups have one to five
references, so one glyph moves a group's AP by a tenth.

Evaluate on a ``--split val`` or ``test`` build: pages of the training split
overstate accuracy (the bench says so when it sees them).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

# this checkout first, not the editable install (a worktree measures its own code and model)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_util import json_safe

from omr import vocab
from omr.detect.data import camera_staff_space
from omr.errors import OmrError
from omr.eval.detection import evaluate, merge_coincident, widen_thin

VARIANT_CHOICES = ("clean", "camera", "both")
#: Target of the detector issue: these groups need AP >= TARGET_AP on camera pages.
TARGET_AP = 0.95
TARGET_GROUPS = (  # (label, role of omr.vocab)
    ("noteheads", "notehead"),
    ("rests", "rest"),
    ("accidentals", "accidental"),
    ("clefs", "clef"),
    ("barlines", "barline"),
    ("augmentation_dot", "dot"),
)


def load_pages(data: Path, variants: tuple[str, ...], limit: int | None) -> list[dict]:
    """``[{"id", "split", "variant", "image", "reference"}]`` for the first ``limit``
    pages of the index (each page gives one item per requested variant it has)."""
    index = data / "index.jsonl"
    if not index.exists():
        sys.exit(f"{data} holds no synth data set (no index.jsonl); "
                 "make one with: python -m synth build --help")
    lines = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    if limit is not None:
        lines = lines[:limit]
    items = []
    for entry in lines:
        record_path = data / entry["record"]
        record = json.loads(record_path.read_text(encoding="utf-8"))
        for variant in variants:
            if variant not in record:
                continue
            v = record[variant]
            reference = [(s["cls"], tuple(s["box"])) for s in v["symbols"]
                         if s["cls"] in vocab.CLASSES and vocab.CLASSES[s["cls"]].detected]
            staff_space = (camera_staff_space(record) if variant == "camera"
                           else float(record["staff_space_px"]))
            items.append({"id": record["id"], "split": record.get("split", "?"),
                          "variant": variant, "image": str(record_path.parent / v["image"]),
                          "reference": reference, "staff_space": staff_space})
    return items


def oracle_detect(item: dict, model) -> list:
    """The network alone: the photo rescaled by the TRUE staff space (no page finding,
    no dewarp), as in training; boxes scaled back to the photo."""
    import cv2

    from omr.detect.data import rescale_to_norm
    from omr.detect.infer import detect_normalized

    image, (sx, sy) = rescale_to_norm(cv2.imread(item["image"], cv2.IMREAD_GRAYSCALE),
                                      item["staff_space"])
    return [(d.cls, (d.box[0] / sx, d.box[1] / sy, d.box[2] / sx, d.box[3] / sy), d.score)
            for d in detect_normalized(model, image)]


def run_detector(items: list[dict], model, detect, oracle: bool = False
                 ) -> tuple[list[list], list[dict], list[float]]:
    """Detections per item (an image the detector refuses gets none), failures, seconds."""
    estimated, failures, seconds = [], [], []
    for k, item in enumerate(items, 1):
        print(f"\r[{k}/{len(items)}] {item['variant']:6s} {item['id']}", end="",
              file=sys.stderr, flush=True)
        start = time.perf_counter()
        try:
            if oracle:
                estimated.append(oracle_detect(item, model))
            else:
                result = detect(item["image"], model=model)
                estimated.append([(d.cls, tuple(d.box), float(d.score))
                                  for d in result.detections])
        except OmrError as err:  # no staves found, unreadable photo: scored as no detections
            estimated.append([])
            failures.append({"id": item["id"], "variant": item["variant"],
                             "error": f"{type(err).__name__}: {err}"})
        seconds.append(time.perf_counter() - start)
    print(file=sys.stderr)
    return estimated, failures, seconds


def role_order(classes) -> list[str]:
    """Classes sorted by role (``omr.vocab.ROLES`` order), then vocabulary order."""
    roles = list(vocab.ROLES)
    return sorted(classes, key=lambda c: (roles.index(vocab.CLASSES[c].role), vocab.index(c)))


def target_check(scores: dict) -> list[dict]:
    rows = []
    for label, role in TARGET_GROUPS:
        classes = [c for c in vocab.names_with_role(role) if f"AP/{c}" in scores]
        group_ap = scores.get(f"mAP/{role}", float("nan"))
        worst = min(classes, key=lambda c: scores[f"AP/{c}"]) if classes else None
        rows.append({
            "group": label, "role": role, "classes": len(classes),
            "n_ref": sum(scores[f"n_ref/{c}"] for c in classes),
            "AP": group_ap,
            "worst_class": worst,
            "worst_AP": scores[f"AP/{worst}"] if worst else float("nan"),
            "worst_n_ref": scores[f"n_ref/{worst}"] if worst else 0,
            # No references of the group in the data: nothing measured, not a pass.
            "verdict": ("n/a" if not classes else "PASS" if group_ap >= TARGET_AP else "FAIL"),
        })
    return rows


def _f(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def print_variant(variant: str, scores: dict, checks: list[dict], n_images: int,
                  failures: list[dict], iou: float) -> None:
    classes = role_order(k[3:] for k in scores if k.startswith("AP/"))
    print(f"\n## {variant} ({n_images} images, IoU {iou}, precision/recall at score >= 0.5)\n")
    if failures:
        print(f"{len(failures)} images failed in the detector (scored as no detections), "
              f"e.g. {failures[0]['id']}: {failures[0]['error']}\n")
    print("| role | class | n_ref | AP | recall | precision |")
    print("|---|---|---:|---:|---:|---:|")
    for c in classes:
        print(f"| {vocab.CLASSES[c].role} | {c} | {scores[f'n_ref/{c}']} | {_f(scores[f'AP/{c}'])} "
              f"| {_f(scores[f'recall/{c}'])} | {_f(scores[f'precision/{c}'])} |")
    print("\n| role | mAP |")
    print("|---|---:|")
    for key, value in scores.items():
        if key.startswith("mAP/"):
            print(f"| {key[4:]} | {_f(value)} |")
    print(f"| **all classes** | **{_f(scores['mAP'])}** |")
    title = "target check" if variant == "camera" else "target check (the target is for camera pages)"
    print(f"\n{title}: AP >= {TARGET_AP}\n")
    print("| group | classes | n_ref | AP | worst class (AP, n_ref) | verdict |")
    print("|---|---:|---:|---:|---|---|")
    for r in checks:
        worst = f"{r['worst_class']} ({_f(r['worst_AP'])}, {r['worst_n_ref']})" if r["worst_class"] else "–"
        print(f"| {r['group']} | {r['classes']} | {r['n_ref']} | {_f(r['AP'])} | {worst} | {r['verdict']} |")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, action="append",
                        help="folder made by `python -m synth build`; given more than once, "
                             "the pages of every folder are scored together (rare classes "
                             "get enough references for a steadier AP)")
    parser.add_argument("--variant", choices=VARIANT_CHOICES, default="both")
    parser.add_argument("--limit", type=int, default=None, help="first N pages of the index")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="detector checkpoint (default: the one shipped in omr/models/)")
    parser.add_argument("--iou", type=float, default=0.5, help="IoU at which a detection matches")
    parser.add_argument("--page-analysis", choices=("full", "oracle"), default="full",
                        help="full: the whole pipeline (omr.detect.infer.detect); oracle: "
                             "rescale by the true staff space, to measure the network alone")
    parser.add_argument("--min-box-ss", type=float, default=0.0,
                        help="widen reference and detected boxes thinner than this many "
                             "staff spaces before matching (0: plain AP)")
    parser.add_argument("--keep-coincident", action="store_true",
                        help="score every record symbol, also a second copy drawn at the "
                             "same place (by default such copies count once)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)

    variants = ("clean", "camera") if args.variant == "both" else (args.variant,)
    items = [item for data in args.data for item in load_pages(data, variants, args.limit)]
    data_names = ", ".join(str(d) for d in args.data)
    if not items:
        sys.exit(f"no {' or '.join(variants)} images in {data_names}"
                 f"{f' (first {args.limit} pages)' if args.limit else ''}")

    merged: dict[str, dict[str, int]] = {v: {} for v in variants}
    if not args.keep_coincident:
        for item in items:
            (item["reference"],), dropped = merge_coincident([item["reference"]])
            for cls, n in dropped.items():
                merged[item["variant"]][cls] = merged[item["variant"]].get(cls, 0) + n

    import torch

    from omr.detect.infer import detect, load_model

    torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint) if args.checkpoint else load_model()
    estimated, failures, seconds = run_detector(items, model, detect,
                                                oracle=args.page_analysis == "oracle")
    if args.min_box_ss > 0:
        for item, est in zip(items, estimated):
            side = args.min_box_ss * item["staff_space"]
            item["reference"] = [(c, tuple(b)) for (c, _), b in zip(
                item["reference"], widen_thin([b for _, b in item["reference"]], side))]
            est[:] = [(c, tuple(b), s) for (c, _, s), b in zip(
                est, widen_thin([b for _, b, _ in est], side))]

    splits = sorted({item["split"] for item in items})
    print(f"# Detector AP on {data_names} (split {', '.join(splits)}; "
          f"checkpoint {args.checkpoint or 'shipped'}; page analysis {args.page_analysis}; "
          f"thin boxes widened to {args.min_box_ss} staff space; "
          f"median {statistics.median(seconds):.2f} s/image)")
    if "train" in splits:
        print("\n**Warning:** training pages; these scores overstate accuracy on unseen music.")

    data_out = str(args.data[0]) if len(args.data) == 1 else [str(d) for d in args.data]
    out = {"data": data_out, "splits": splits, "checkpoint": str(args.checkpoint or "shipped"),
           "iou_threshold": args.iou, "page_analysis": args.page_analysis,
           "min_box_ss": args.min_box_ss, "keep_coincident": args.keep_coincident,
           "median_seconds_per_image": statistics.median(seconds), "variants": {}}
    for variant in variants:
        picked = [i for i, item in enumerate(items) if item["variant"] == variant]
        if not picked:
            print(f"\n## {variant}: no images of this variant in the data set")
            continue
        scores = evaluate([items[i]["reference"] for i in picked],
                          [estimated[i] for i in picked], iou_threshold=args.iou)
        checks = target_check(scores)
        bad = [f for f in failures if f["variant"] == variant]
        print_variant(variant, scores, checks, len(picked), bad, args.iou)
        if merged[variant]:
            print(f"\nsecond copies at one place, counted once: "
                  f"{', '.join(f'{c} {n}' for c, n in sorted(merged[variant].items()))} "
                  "(`--keep-coincident` scores them)")
        out["variants"][variant] = {"images": len(picked), "failures": bad,
                                    "coincident_merged": merged[variant],
                                    "scores": dict(scores), "target_check": checks}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(json_safe(out), indent=2), encoding="utf-8")
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
