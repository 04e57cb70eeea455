"""What the measures say is wrong on real photos that have no ground truth.

    python bench/realdata_repairs.py [--dir ../shared/realdata/photos_nogt] [--json OUT]

Each image of ``--dir`` (and the full cello page of ``ptromr_cc_photos`` beside it) is read
as one page, without OCR, and the transcription's report is counted: how many
measures came out overfull and were cut (``overfull``), kept irregular
(``irregular_measure``: a hidden time signature), had rests restored
(``restored_rest``) or an implied tuplet applied (``implied_tuplet``), and so on.
Printed music has none of the first two and few of the others, so these counts,
per photo and pooled, stand in for an accuracy where no ground truth exists: a
reading change that lowers them on these photos (and costs nothing on the synth
builds) reads real photos better. They are a proxy, not a score: a misread that
still fills its measure counts nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_util import report  # noqa: E402

from omr.detect.infer import load_model  # noqa: E402
from omr.errors import OmrError  # noqa: E402
from omr.pipeline import transcribe  # noqa: E402

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"
DEFAULT_DIR = REALDATA / "photos_nogt"
#: The full page photo of the crops with ground truth, beside ``--dir``.
CELLO_PAGE = Path("ptromr_cc_photos") / "pages" / "cello__cello-1-cam.jpg"
#: The report kinds pooled in the summary (the rest are listed per photo).
SUMMARY_KINDS = ("overfull", "irregular_measure", "restored_rest", "implied_tuplet", "reread")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=str(DEFAULT_DIR))
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    folder = Path(args.dir)
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")) \
        if folder.is_dir() else []
    cello = folder.parent / CELLO_PAGE
    if images and cello.exists():
        images.append(cello)
    if not images:
        print(f"no images under {args.dir} (../shared/realdata is not in a fresh clone)")
        return 0
    model = load_model()
    rows = []
    for path in images:
        row = {"image": path.name, "error": ""}
        try:
            t = transcribe([str(path)], model=model, ocr=False)
        except OmrError as err:
            row["error"] = str(err)
            rows.append(row)
            print(f"{path.name[:40]:40s} refused: {err}", flush=True)
            continue
        kinds = Counter(i.kind for i in t.report.inferred) + Counter(i.kind for i in t.report.warnings)
        row.update(measures=sum(len(p.getElementsByClass("Measure")) for p in t.score.parts),
                   notes=len(list(t.score.recurse().notes)), kinds=dict(kinds))
        rows.append(row)
        print(f"{path.name[:40]:40s} {row['measures']:4d} measures {row['notes']:5d} notes  "
              + " ".join(f"{k} {v}" for k, v in sorted(kinds.items())), flush=True)
    read = [r for r in rows if not r["error"]]
    summary = {"images": len(rows), "refused": len(rows) - len(read),
               "measures": sum(r["measures"] for r in read), "notes": sum(r["notes"] for r in read)}
    for k in SUMMARY_KINDS:
        summary[k] = sum(r["kinds"].get(k, 0) for r in read)
    return report(summary, rows, args.json, key="images")


if __name__ == "__main__":
    sys.exit(main())
