"""OCR of text boxes on synth test pages: accuracy per class and speed.

Run as ``python bench/ocr_bench.py [--data /work/data/test] [--pages 20]``.

For each page record's ``clean`` variant the page image is rescaled so one staff
space is :data:`omr.ocr.STAFF_SPACE_PX` (10 px; the record's ``staff_space_px`` is the
clean page's), the ground-truth boxes of text classes are scaled the same way and read
with :func:`omr.ocr.read_many`. Reported per class:

- ``exact``: the text read equals the printed text (Unicode NFKC, spaces collapsed;
  a tempo mark's note glyph counts as "♩", which OCR never produces, so tempo is
  judged by ``parsed``);
- ``cer``: character error rate, edit distance / printed length, summed over boxes;
- ``parsed``: the ``parse_*`` function gives the same on the reading as on the printed
  text (tempo: qpm and words; navigation: the marking; volta: endings; lyric:
  syllable and hyphen; numbers: the number).

Speed: crops per second for ``read_many(batch="pages")`` (one Tesseract run per kind,
each crop one page), ``batch="stack"`` (crops stacked into one image per kind) and
``batch="single"`` (one run per crop, timed on the first ``--single-crops`` crops).
Pages are chosen in index order, those with tempo, navigation, volta or dynamics
first, so the rare classes are represented. Writes ``bench/out/ocr_bench.json``
and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_util import json_safe

from omr import ocr

#: Classes whose pages are taken first (they are rare).
RARE_CLASSES = ("tempo_text", "text_dacapo", "text_dalsegno", "text_fine", "text_tocoda", "volta_number")


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two strings."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def parsed(kind: str, text: str):
    """What the parser for ``kind`` makes of ``text`` (compared, not shown)."""
    if kind == "tempo":
        t = ocr.parse_tempo(text)
        return (t.qpm, t.text.split(" ")[0] if t.text else "")
    if kind == "navigation":
        return ocr.parse_navigation(text)
    if kind == "volta":
        return ocr.parse_volta(text)
    if kind == "lyric":
        return ocr.parse_lyric(text)
    if kind == "number":
        digits = "".join(c for c in text if c.isdigit())
        return int(digits) if digits else None
    return ocr._normalize(text)


def load_pages(data: Path, n_pages: int) -> list[tuple[dict, Path]]:
    recs = []
    for line in (data / "index.jsonl").read_text().splitlines():
        if line.strip():
            path = data / json.loads(line)["record"]
            recs.append((json.loads(path.read_text()), path.parent))
    rare = [r for r in recs if any(s["cls"] in RARE_CLASSES or s["cls"].startswith("dynamic_")
                                   for s in r[0]["clean"]["symbols"])]
    rest = [r for r in recs if r not in rare]
    return (rare + rest)[:n_pages]


def page_crops(rec: dict, folder: Path, variant: str = "clean"):
    """Normalized page image and its text boxes: (image, boxes, kinds, classes, texts).

    ``clean``: the page rescaled by its known staff space. ``camera``: the photo put
    through :func:`omr.page.normalize` and the boxes mapped into it (axis-aligned
    boxes of the mapped corners).
    """
    var = rec[variant]
    if variant == "clean":
        img = cv2.imread(str(folder / var["image"]), cv2.IMREAD_GRAYSCALE)
        s = ocr.STAFF_SPACE_PX / float(rec["staff_space_px"])
        img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)

        def to_norm(b):
            return [v * s for v in b]
    else:
        from omr.page import normalize

        rgb = cv2.cvtColor(cv2.imread(str(folder / var["image"])), cv2.COLOR_BGR2RGB)
        page = normalize(rgb)
        img = page.image
        inv = np.linalg.inv(page.to_original)

        def to_norm(b):
            x0, y0, x1, y1 = b
            p = np.array([[x0, y0, 1], [x1, y0, 1], [x1, y1, 1], [x0, y1, 1]], float) @ inv.T
            p = p[:, :2] / p[:, 2:]
            return [*p.min(axis=0).tolist(), *p.max(axis=0).tolist()]
    boxes, kinds, classes, texts = [], [], [], []
    for sym in var["symbols"]:
        kind = ocr.kind_of_class(sym["cls"])
        if kind is None or not sym.get("text"):
            continue
        boxes.append(to_norm(sym["box"]))
        kinds.append(kind)
        classes.append(sym["cls"])
        texts.append(sym["text"])
    return img, boxes, kinds, classes, texts


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path("/work/data/test"))
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--variant", choices=("clean", "camera"), default="clean")
    ap.add_argument("--single-crops", type=int, default=120, help="crops timed one Tesseract run each")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "ocr_bench.json")
    ap.add_argument("--examples", type=int, default=6, help="misreadings kept per class")
    args = ap.parse_args(argv)
    if not ocr.tesseract_available():
        sys.exit("tesseract is not installed: apt-get install tesseract-ocr tesseract-ocr-eng")

    pages = [page_crops(rec, folder, args.variant) for rec, folder in load_pages(args.data, args.pages)]
    n_crops = sum(len(p[1]) for p in pages)
    timing, readings = {}, {}
    for mode in ("pages", "stack"):
        t0 = time.perf_counter()
        readings[mode] = [ocr.read_many(img, boxes, kinds, batch=mode) for img, boxes, kinds, _, _ in pages]
        dt = time.perf_counter() - t0
        timing[mode] = {"crops": n_crops, "seconds": round(dt, 2), "crops_per_s": round(n_crops / dt, 1)}
    # One run per crop, on the first crops only (it is slow).
    todo, left = [], args.single_crops
    for img, boxes, kinds, _, _ in pages:
        take = min(left, len(boxes))
        if take:
            todo.append((img, boxes[:take], kinds[:take]))
        left -= take
    t0 = time.perf_counter()
    single = [ocr.read_many(img, b, k, batch="single") for img, b, k in todo]
    dt = time.perf_counter() - t0
    n_single = sum(len(b) for _, b, _ in todo)
    same = sum(a.text == b.text for got, (_, b_, _) , ref in zip(single, todo, readings["pages"])
               for a, b in zip(got, ref))
    timing["single"] = {"crops": n_single, "seconds": round(dt, 2), "crops_per_s": round(n_single / dt, 1),
                        "same_text_as_pages": same}

    results = {}
    for mode in ("pages", "stack"):
        acc = defaultdict(lambda: {"n": 0, "exact": 0, "parsed": 0, "edits": 0, "chars": 0, "misread": []})
        for (img, boxes, kinds, classes, texts), reads in zip(pages, readings[mode]):
            for kind, cls, truth, r in zip(kinds, classes, texts, reads):
                a = acc[cls]
                gt = ocr._normalize(truth)
                got = ocr._normalize(r.text)
                a["n"] += 1
                a["exact"] += got == gt
                a["parsed"] += parsed(kind, got) == parsed(kind, gt)
                gt_chars = gt.replace("♩", "")
                a["edits"] += edit_distance(got, gt_chars)
                a["chars"] += len(gt_chars)
                if got != gt and len(a["misread"]) < args.examples:
                    a["misread"].append([gt, got])
        table = {}
        for cls, a in sorted(acc.items(), key=lambda kv: -kv[1]["n"]):
            table[cls] = {"kind": ocr.kind_of_class(cls), "n": a["n"],
                          "exact": round(a["exact"] / a["n"], 3), "parsed": round(a["parsed"] / a["n"], 3),
                          "cer": round(a["edits"] / max(1, a["chars"]), 3), "misread": a["misread"]}
        tot = {k: sum(acc[c][k] for c in acc) for k in ("n", "exact", "parsed", "edits", "chars")}
        table["ALL"] = {"kind": "", "n": tot["n"], "exact": round(tot["exact"] / tot["n"], 3),
                        "parsed": round(tot["parsed"] / tot["n"], 3),
                        "cer": round(tot["edits"] / max(1, tot["chars"]), 3), "misread": []}
        results[mode] = table

    report = {"data": str(args.data), "variant": args.variant, "pages": len(pages), "crops": n_crops,
              "upscale": ocr.UPSCALE, "pad_px": ocr.PAD_PX,
              "timing": timing, "accuracy": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(json_safe(report), indent=1, ensure_ascii=False))

    print(f"OCR on {len(pages)} {args.variant} synth pages, {n_crops} text boxes (staff space 10 px)\n")
    for mode in ("pages", "stack"):
        print(f"### batch={mode}\n")
        print("| class | kind | n | exact | parsed | CER |\n|---|---|---:|---:|---:|---:|")
        for cls, row in results[mode].items():
            print(f"| {cls} | {row['kind']} | {row['n']} | {row['exact']:.3f} | {row['parsed']:.3f} | {row['cer']:.3f} |")
        print()
    print("| batch | crops | seconds | crops/s |\n|---|---:|---:|---:|")
    for mode, t in timing.items():
        print(f"| {mode} | {t['crops']} | {t['seconds']} | {t['crops_per_s']} |")
    print(f"\nsingle vs pages, same text: {timing['single']['same_text_as_pages']}/{timing['single']['crops']}")
    return report


if __name__ == "__main__":
    main()
