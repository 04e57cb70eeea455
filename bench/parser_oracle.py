"""Oracle test of the parser: ground-truth boxes of synth pages → graph → notation →
music21, compared with the notes of the source MusicXML printed on each page.

    python bench/parser_oracle.py --data /work/data/test [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import glob
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_util import failed_page, pooled_notes, report  # noqa: E402

from omr.eval.notes import evaluate, notes_from_score  # noqa: E402
from omr.graph import build_graph  # noqa: E402
from omr.score import score_from_graphs  # noqa: E402
from synth.oracle import load_record, page_symbols, reference_notes  # noqa: E402


def run_page(path: str) -> dict:
    record = load_record(path)
    symbols, staves, systems = page_symbols(record)
    t = time.perf_counter()
    g = build_graph(symbols, staves, systems)
    score, report = score_from_graphs([g])
    seconds = time.perf_counter() - t
    est = notes_from_score(score)
    ref = reference_notes(record)
    m = evaluate(ref, est)
    m["seconds"] = seconds
    m["page"] = record["id"]
    m["features"] = record.get("features", [])
    m["n_staves_ref"] = len({n[0] for n in ref})
    m["n_staves_est"] = len(score.parts)
    m["n_measures_ref"] = len({n[1] for n in ref})
    m["n_measures_est"] = len(score.parts[0].getElementsByClass("Measure")) if score.parts else 0
    m["report"] = report.lines()
    m["measures_not_adding_up"] = measures_not_adding_up(score)
    return m


def measures_not_adding_up(score) -> int:
    """Measures in which a voice does not fill the time signature (a pickup's
    padding counted as filled)."""
    bad = 0
    for part in score.parts:
        for m in part.getElementsByClass("Measure"):
            bar = float(m.barDuration.quarterLength) - float(m.paddingLeft or 0) - float(m.paddingRight or 0)
            voices = list(m.voices) or [m]
            for v in voices:
                length = sum(float(n.quarterLength) for n in v.notesAndRests if not n.duration.isGrace)
                if abs(length - bar) > 1e-6:
                    bad += 1
                    break
    return bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="/work/data/test")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--page", default="")
    ap.add_argument("--json", default="")
    ap.add_argument("-v", action="store_true")
    args = ap.parse_args(argv)
    paths = sorted(glob.glob(f"{args.data}/shard-*/*-p*.json"))
    if args.page:
        paths = [p for p in paths if args.page in p]
    if args.limit:
        paths = paths[: args.limit]
    rows = []
    for p in paths:
        try:
            m = run_page(p)
        except Exception as exc:  # a bench reports every page
            import traceback

            traceback.print_exc()
            m = failed_page(p, exc)
        rows.append(m)
        print(f"{m['page']:12s} acc {m.get('note_accuracy', 0):.3f} ref {int(m['n_ref'])} est {int(m['n_est'])} "
              f"meas {m.get('n_measures_ref')}/{m.get('n_measures_est')} staves {m.get('n_staves_ref')}/"
              f"{m.get('n_staves_est')} {','.join(m.get('features', []))}", flush=True)
        if args.v:
            for line in m.get("report", []):
                print("   ", line)
    summary = pooled_notes(rows)
    summary["measures_not_adding_up"] = sum(r.get("measures_not_adding_up", 0) for r in rows)
    return report(summary, rows, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
