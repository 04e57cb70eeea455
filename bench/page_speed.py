"""Seconds to load and normalize a 12-megapixel phone photo (issue #3 target: <= 0.35 s).

    python bench/page_speed.py [--repeats 7] [--threads 2] [--json bench/out/page_speed.json]

Makes one synthetic photo (a generated grand-staff score engraved by verovio,
photographed by ``synth.camera``, resized to 3000x4000 px with a staff space of
about 20 px), saves it as JPEG, and times ``omr.page.load_image`` (JPEG decode and
EXIF) and ``omr.page.normalize`` separately and together. Reports the median of
``--repeats`` runs, because timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

# this checkout first, not the editable install (a worktree measures its own code and model)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2
import numpy as np

TARGET_S = 0.35
PHOTO_SIZE = (3000, 4000)  # (w, h), px: 12 megapixels


def make_photo() -> np.ndarray:
    from synth import engrave as E
    from synth.camera import photograph
    from synth.generate import generate_score

    score = generate_score(11, features=["grand_staff"], n_measures=16)
    page = E.Engraver(score.musicxml, E.EngraveOptions(staff_space_px=16.0)).render_page(1)
    boxes = np.array([s.box for s in page.symbols], np.float32)
    photo = photograph(page.image, boxes, np.random.default_rng(5), difficulty=0.3,
                       staff_space_px=page.staff_space_px).image
    return cv2.resize(photo, PHOTO_SIZE, interpolation=cv2.INTER_CUBIC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="OpenCV threads")
    parser.add_argument("--json", default="bench/out/page_speed.json")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)

    from omr.page import load_image, normalize

    photo = make_photo()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        cv2.imwrite(str(path), photo[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
        load_s, norm_s, total_s = [], [], []
        page = None
        normalize(load_image(path))  # warm-up
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            rgb = load_image(path)
            t1 = time.perf_counter()
            page = normalize(rgb)
            t2 = time.perf_counter()
            load_s.append(t1 - t0)
            norm_s.append(t2 - t1)
            total_s.append(t2 - t0)
    result = {
        "photo": list(PHOTO_SIZE),
        "staff_space_px": round(page.staff_space, 2),
        "normalized": [page.image.shape[1], page.image.shape[0]],
        "load_s": round(statistics.median(load_s), 4),
        "normalize_s": round(statistics.median(norm_s), 4),
        "total_s": round(statistics.median(total_s), 4),
        "target_s": TARGET_S,
        "repeats": args.repeats,
        "opencv_threads": args.threads,
        "machine": platform.processor() or platform.machine(),
    }
    print(json.dumps(result, indent=2))
    print(f"load + normalize: {result['total_s']:.3f} s (target {TARGET_S} s): "
          + ("OK" if result["total_s"] <= TARGET_S else "SLOWER THAN TARGET"))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
