"""Do repeats unfold right? For every single-page synth test piece, the measures of
the parser's score (from ground-truth boxes) in the order omr.notation.repeats
plays them, against the order the source's notes file plays them (synth/unfold.py,
which agrees with verovio's timemap for repeat barlines and endings and adds
D.C./D.S./Coda/Fine).

    python bench/repeats_oracle.py --data /work/data/test [--json OUT]
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_util import report  # noqa: E402

from omr.graph import build_graph  # noqa: E402
from omr.notation.repeats import unfold_measures  # noqa: E402
from omr.score import score_from_graphs  # noqa: E402
from synth.oracle import load_record, page_measures, page_symbols, reference_score  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/data/test")
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    rows = []
    for p in sorted(glob.glob(f"{args.data}/shard-*/*-p*.json")):
        record = load_record(p)
        if record["page_count"] != 1:
            continue
        notes = json.loads((Path(record["_dir"]) / record["notes"]).read_text())
        printed = page_measures(record, reference_score(record))
        index = {m: i for i, m in enumerate(printed)}
        truth = []
        for n in notes:
            i = index.get(str(n["measure"]))
            if i is not None and (not truth or truth[-1] != i):
                truth.append(i)
        s, st, sy = page_symbols(record)
        score, _ = score_from_graphs([build_graph(s, st, sy)])
        # measures with notes only (a rest-only measure leaves no trace in the notes file)
        parts = [part.getElementsByClass("Measure") for part in score.parts]
        has_notes = [any(len(ms[i].recurse().notes) for ms in parts) for i in range(len(parts[0]))]
        got = []
        for i in unfold_measures(score):
            if has_notes[i] and (not got or got[-1] != i):
                got.append(i)
        truth = [i for i in truth if i < len(has_notes) and has_notes[i]]
        ok = got == truth
        repeats = len(truth) > len(set(truth))
        rows.append({"page": record["id"], "ok": ok, "has_repeats": repeats, "features": record.get("features", [])})
        print(f"{record['id']:12s} {'OK ' if ok else 'BAD'} repeats={repeats} {','.join(record.get('features', []))}")
    with_rep = [r for r in rows if r["has_repeats"]]
    summary = {"pieces": len(rows), "exact": sum(r["ok"] for r in rows),
               "pieces_with_repeats": len(with_rep), "exact_with_repeats": sum(r["ok"] for r in with_rep)}
    return report(summary, rows, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
