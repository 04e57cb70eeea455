"""Speed of graph + notation + export per page, one core: ground-truth boxes of
synth test pages (so the detector's time is not counted), median over pages and
repeats.

    python bench/parser_speed.py --data /work/data/test [--limit 30] [--repeats 3]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from omr import export  # noqa: E402
from omr.graph import build_graph  # noqa: E402
from omr.score import score_from_graphs  # noqa: E402
from synth.oracle import load_record, page_symbols  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/data/test")
    ap.add_argument("--limit", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    paths = sorted(glob.glob(f"{args.data}/shard-*/*-p*.json"))[: args.limit]
    # warm up imports (music21 takes a second to import, once per process)
    r = load_record(paths[0])
    s, st, sy = page_symbols(r)
    export.to_musicxml(score_from_graphs([build_graph(s, st, sy)])[0])
    rows = {"graph": [], "notation": [], "musicxml": [], "midi": [], "total": []}
    tmp = Path(tempfile.mkdtemp())
    for p in paths:
        r = load_record(p)
        s, st, sy = page_symbols(r)
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            g = build_graph(s, st, sy)
            t1 = time.perf_counter()
            score, _ = score_from_graphs([g])
            t2 = time.perf_counter()
            export.to_musicxml(score)
            t3 = time.perf_counter()
            export.write_midi(score, tmp / "x.mid")
            t4 = time.perf_counter()
            for k, v in zip(rows, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                rows[k].append(v)
    summary = {k: {"median_s": round(statistics.median(v), 4), "p90_s": round(sorted(v)[int(0.9 * len(v))], 4)}
               for k, v in rows.items()}
    summary["pages"] = len(paths)
    print(json.dumps(summary, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
