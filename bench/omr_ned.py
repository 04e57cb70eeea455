"""OMR-NED (normalized edit distance of musicdiff, pinned 5.2) of transcriptions of
synth test pages against the source score's measures printed on each page; lower
is better, 0 = identical.

    python bench/omr_ned.py --data /work/data/test [--mode oracle|camera] [--limit N] [--json OUT]

``oracle`` feeds the page's ground-truth boxes through graph and notation;
``camera`` runs the whole program on the camera-simulated photo.
"""

from __future__ import annotations

import argparse
import glob
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_util import report  # noqa: E402

from omr import export  # noqa: E402
from synth.oracle import load_record, page_measure_positions, page_symbols, reference_score  # noqa: E402


def page_excerpt(record: dict):
    """The source score cut to the measures printed on the record's page."""
    score = reference_score(record)
    keep = set(page_measure_positions(record, score))  # by position: numbers can repeat
    for part in score.parts:
        for pos, m in enumerate(list(part.getElementsByClass("Measure"))):
            if pos not in keep:
                part.remove(m)
    return score


def omr_ned(pred: Path, gt: Path) -> float | None:
    import musicdiff
    from musicdiff import DetailLevel

    metrics = musicdiff._diff_omr_ned_metrics(pred, gt, DetailLevel.AllObjects)  # the OMR-NED entry point
    return None if metrics is None else float(metrics.omr_ned)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/data/test")
    ap.add_argument("--mode", default="oracle", choices=["oracle", "camera"])
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    paths = sorted(glob.glob(f"{args.data}/shard-*/*-p*.json"))[: args.limit]
    tmp = Path(tempfile.mkdtemp())
    model = None
    rows = []
    for p in paths:
        record = load_record(p)
        if args.mode == "oracle":
            from omr.graph import build_graph
            from omr.score import score_from_graphs

            s, st, sy = page_symbols(record)
            score, _ = score_from_graphs([build_graph(s, st, sy)])
        else:
            from omr.detect.infer import load_model
            from omr.pipeline import transcribe

            model = model or load_model()
            score = transcribe([str(Path(record["_dir"]) / record["camera"]["image"])], model=model,
                               ocr=False).score
        est_path, gt_path = tmp / f"{record['id']}-est.musicxml", tmp / f"{record['id']}-gt.musicxml"
        export.write_musicxml(score, est_path, validate=False)
        page_excerpt(record).write("musicxml", fp=str(gt_path))
        ned = omr_ned(est_path, gt_path)
        rows.append({"page": record["id"], "omr_ned": ned})
        print(f"{record['id']:12s} OMR-NED {ned if ned is None else round(ned, 4)}", flush=True)
    values = [r["omr_ned"] for r in rows if r["omr_ned"] is not None]
    summary = {"mode": args.mode, "pages": len(rows), "musicdiff": "5.2",
               "omr_ned_mean": statistics.mean(values) if values else None,
               "omr_ned_median": statistics.median(values) if values else None}
    return report(summary, rows, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
