"""The whole program on every real image of ../shared/realdata, as given and
changed the ways students' photos differ: does anything crash?

    python bench/realdata_sweep.py [--dir ../shared/realdata] [--limit N] [--json OUT]

Each image (the 70 staff crops, the cello page photo, and the 20 photos and scans
without ground truth) is read as it is and as

- ``small``: shrunk to 0.6 of its size and compressed again as JPEG at quality 60
  (a photo sent on by a messaging app);
- ``turned``: turned a quarter turn clockwise (a phone held sideways, no EXIF flag);
- ``cropped``: with a fifth cut off the top, a seventh off the bottom, a ninth off
  the left and a sixth off the right (a photo that misses the page's edges).

Each run goes from the image to MusicXML (schema-checked) and MIDI. It counts as

- ``read``: a score came out;
- ``refused``: the program gave its documented error (``OmrError``: no staves, too
  small, ...), which the command line turns into a one-line message;
- ``crashed``: any other exception, a bug; listed with its type and message.

There is no ground truth here: the notes' accuracy is measured by
``realdata_parser.py``. What this bench guards is that real input of any kind
gets a score or a clear message, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_util import report, sent_on  # noqa: E402

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "realdata"
SUFFIXES = (".jpg", ".jpeg", ".png")


def variants(bgr):
    """(name, image) pairs: the image as given and changed (see the module doc)."""
    import cv2

    h, w = bgr.shape[:2]
    yield "as given", bgr
    yield "small", sent_on(bgr, scale=0.6, quality=60)
    yield "turned", cv2.rotate(bgr, cv2.ROTATE_90_CLOCKWISE)
    yield "cropped", bgr[h // 5: h - h // 7, w // 9: w - w // 6]


def main(argv=None) -> int:
    import cv2

    from omr import export
    from omr.detect.infer import load_model
    from omr.errors import OmrError
    from omr.pipeline import transcribe

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=str(DEFAULT_DIR))
    ap.add_argument("--limit", type=int, default=0, help="only the first N images")
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    root = Path(args.dir)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)
    files = files[:args.limit] if args.limit else files
    if not files:
        print(f"no images under {root}", file=sys.stderr)
        return 2
    model = load_model(threads=2)
    counts = {"read": 0, "refused": 0, "crashed": 0}
    rows = []
    start = time.perf_counter()
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        for name, image in variants(bgr):
            try:
                result = transcribe([cv2.cvtColor(image, cv2.COLOR_BGR2RGB)], model=model, ocr=False)
                export.to_musicxml(result.score)
                export.to_midi(result.score)
                counts["read"] += 1
            except OmrError as err:
                counts["refused"] += 1
                rows.append({"image": path.name, "variant": name, "outcome": "refused",
                             "message": str(err)})
            except Exception as err:  # noqa: BLE001 - what this bench looks for
                counts["crashed"] += 1
                rows.append({"image": path.name, "variant": name, "outcome": "crashed",
                             "message": f"{type(err).__name__}: {err}"})
                print(f"CRASH {path.name} ({name}): {type(err).__name__}: {err}", flush=True)
    for row in rows:
        print(f"{row['outcome']:8s} {row['image']} ({row['variant']}): {row['message']}")
    summary = {"images": len(files), "runs": sum(counts.values()), **counts,
               "seconds": round(time.perf_counter() - start, 1)}
    report(summary, rows, args.json, key="not_read")
    return 1 if counts["crashed"] else 0


if __name__ == "__main__":
    sys.exit(main())
