"""Staff counts of page analysis on a synth test build, against the ground truth.

    python bench/staff_count.py [--data /work/data/test] [--variant camera|clean]
                                [--pages 000004-p1,000007-p1] [--jobs 1] [--json OUT]

For every page record (``shard-*/<job>-p<page>.json``) the chosen variant's image is
loaded, normalized (:func:`omr.page.normalize`) and analysed
(:func:`omr.staff.analyze`). The true staves are the clean page's ``staff`` boxes
(only those whose symbol is in the variant's list, i.e. visible), their five lines
moved into the photo with :func:`synth.camera.warp_points` and from there into the
normalized frame with the page's own homography. Found staves are matched one to one
to true staves (the true middle line within ``MATCH_SS`` staff spaces of the found
one, at an x both cover, nearest first).

Reported per page: true and found counts, extra (found, matched to nothing: a false
comb, or the second half of a split staff) and missing (true, matched to nothing),
the staff-space error: the true staff space in the normalized frame (median over
staves) divided by ``STAFF_SPACE_NORM``, minus one, and whether the systems are
grouped right (every staff matched, and the found systems hold the same staves as
the true ones). Summary: pages with the right count, with the systems right, pages /
staves extra and missing, the staff-space error (median, worst, pages off by more
than 5 %).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_util import json_safe

#: A found staff matches a true one when their middle lines are this close, staff spaces.
MATCH_SS = 1.5
#: Staff-space errors above this fraction are counted as bad.
SS_BAD = 0.05


def _apply(m, p):
    p = np.asarray(p, np.float64).reshape(-1, 2)
    q = p @ m[:2, :2].T + m[:2, 2]
    return q / (p @ m[2, :2] + m[2, 2])[:, None]


def true_lines(r: dict, variant: str, pg) -> list[dict]:
    """True staves in the normalized frame: [{'xs': (K,), 'lines': (5, K)}]."""
    from synth.camera import CameraParams, warp_points

    ss = float(r["staff_space_px"])  # the clean raster's; the box holds the lines' thickness
    visible = {s.get("id") for s in r[variant]["symbols"] if s["cls"] == "staff"}
    params = CameraParams.from_dict(r["camera"]["params"]) if variant == "camera" else None
    to_norm = np.linalg.inv(pg.to_original)
    out = []
    for s in r["clean"]["symbols"]:
        if s["cls"] != "staff" or s.get("id") not in visible:
            continue
        x0, y0, x1, y1 = s["box"]
        xs = np.linspace(x0, x1, 25)
        ys = 0.5 * (y0 + y1) + ss * np.arange(-2, 3)
        pts = np.array([[x, y] for y in ys for x in xs], np.float64)
        if params is not None:
            pts = warp_points(pts, params)
        n = _apply(to_norm, pts).reshape(5, len(xs), 2)
        order = np.argsort(n[2, :, 0])
        lines = n[:, order, 1]
        flipped = bool(np.median(lines[4] - lines[0]) < 0)  # the page came out upside down
        if flipped:
            lines = lines[::-1]
        out.append({"xs": n[2, order, 0], "lines": lines, "flipped": flipped,
                    "system": s.get("system", -1)})
    return out


def match(found, truth, ss_norm: float):
    """Greedy one-to-one matching; returns (pairs, extra found indices, missing true indices)."""
    cands = []
    for i, s in enumerate(found):
        for j, t in enumerate(truth):
            xs = t["xs"]
            lo, hi = max(s.x0, xs.min()), min(s.x1, xs.max())
            if hi <= lo:
                continue
            x = np.linspace(lo, hi, 9)
            ty = np.interp(x, xs, t["lines"][2])
            fy = s.line_y(2, x)
            d = float(np.median(np.abs(ty - fy))) / ss_norm
            if d <= MATCH_SS:
                cands.append((d, i, j))
    cands.sort()
    used_f, used_t, pairs = set(), set(), []
    for d, i, j in cands:
        if i in used_f or j in used_t:
            continue
        used_f.add(i)
        used_t.add(j)
        pairs.append((i, j))
    return pairs, sorted(set(range(len(found))) - used_f), sorted(set(range(len(truth))) - used_t)


def one_page(path: str, variant: str) -> dict:
    from omr import page as P
    from omr import staff as S

    with open(path) as fh:
        r = json.load(fh)
    d = os.path.dirname(path)
    name = os.path.basename(path)[: -len(".json")]
    n_true = sum(s["cls"] == "staff" for s in r[variant]["symbols"])
    t0 = time.perf_counter()
    try:
        pg = P.normalize(P.load_image(os.path.join(d, r[variant]["image"])))
        staves, systems = S.analyze(pg)
    except Exception as err:  # noqa: BLE001 - a bench reports every failure
        return {"page": name, "true": n_true, "found": 0, "extra": 0, "missing": n_true,
                "ss_error": None, "error": f"{type(err).__name__}: {err}", "seconds": time.perf_counter() - t0}
    secs = time.perf_counter() - t0
    truth = true_lines(r, variant, pg)
    pairs, extra, missing = match(staves, truth, pg.staff_space_norm)
    # the matched staves are grouped into systems as the page groups them
    by_found, by_true = {}, {}
    for i, j in pairs:
        by_found.setdefault(staves[i].system, set()).add(j)
        by_true.setdefault(truth[j]["system"], set()).add(j)
    systems_right = (not extra and not missing
                     and sorted(map(sorted, by_found.values())) == sorted(map(sorted, by_true.values())))
    upside_down = bool(truth) and bool(np.mean([t["flipped"] for t in truth]) > 0.5)
    tss = [float(np.median((t["lines"][4] - t["lines"][0]) / 4.0)) for t in truth]
    ss_err = float(np.median(tss)) / pg.staff_space_norm - 1.0 if tss else None
    return {"page": name, "true": n_true, "found": len(staves), "systems": len(systems),
            "systems_right": systems_right,
            "extra": len(extra), "missing": len(missing), "ss_error": ss_err,
            "upside_down": upside_down, "extra_y": [round(staves[i].center_y, 1) for i in extra],
            "missing_y": [round(float(np.median(truth[j]["lines"][2])), 1) for j in missing],
            "seconds": secs}


def summarize(rows: list[dict]) -> dict:
    errs = [abs(r["ss_error"]) for r in rows if r["ss_error"] is not None]
    return {
        "pages": len(rows),
        "right_count": sum(r["found"] == r["true"] for r in rows),
        "all_matched": sum(r["extra"] == 0 and r["missing"] == 0 and r.get("error") is None for r in rows),
        "right_systems": sum(bool(r.get("systems_right")) for r in rows),
        "pages_with_extra": sum(r["extra"] > 0 for r in rows),
        "pages_with_missing": sum(r["missing"] > 0 for r in rows),
        "extra_staves": sum(r["extra"] for r in rows),
        "missing_staves": sum(r["missing"] for r in rows),
        "true_staves": sum(r["true"] for r in rows),
        "errors": sum(r.get("error") is not None for r in rows),
        "upside_down": sum(bool(r.get("upside_down")) for r in rows),
        "ss_error_median": float(np.median(errs)) if errs else None,
        "ss_error_max": float(np.max(errs)) if errs else None,
        f"ss_error_over_{int(SS_BAD * 100)}pct": sum(e > SS_BAD for e in errs),
        "seconds_total": float(sum(r["seconds"] for r in rows)),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/work/data/test")
    ap.add_argument("--variant", choices=("camera", "clean"), default="camera")
    ap.add_argument("--pages", default="", help="comma-separated page names (e.g. 000004-p1); default all")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--json", default="")
    a = ap.parse_args(argv)
    files = sorted(glob.glob(os.path.join(a.data, "shard-*", "*-p*.json")))
    if a.pages:
        want = set(a.pages.split(","))
        files = [f for f in files if os.path.basename(f)[:-5] in want]
    if a.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(a.jobs) as ex:
            rows = list(ex.map(one_page, files, [a.variant] * len(files)))
    else:
        rows = [one_page(f, a.variant) for f in files]
    for r in rows:
        flag = "" if r["found"] == r["true"] and r["extra"] == 0 and r["missing"] == 0 else "  <--"
        sse = "   n/a" if r["ss_error"] is None else f"{100 * r['ss_error']:+6.1f}%"
        extra = f" extra@{r['extra_y']}" if r.get("extra_y") else ""
        miss = f" missing@{r['missing_y']}" if r.get("missing_y") else ""
        err = f" {r['error']}" if r.get("error") else ""
        err += " (upside down)" if r.get("upside_down") else ""
        err += "" if r.get("systems_right") or r.get("error") else " (systems grouped wrong)"
        print(f"{r['page']}: true {r['true']:2d} found {r['found']:2d} ss {sse}{extra}{miss}{err}{flag}")
    s = summarize(rows)
    print(f"\n{a.variant}: {s['right_count']}/{s['pages']} pages with the right count "
          f"({s['all_matched']} with every staff matched, {s['right_systems']} with the systems "
          f"grouped right); "
          f"extra staves {s['extra_staves']} on {s['pages_with_extra']} pages, "
          f"missing {s['missing_staves']}/{s['true_staves']} on {s['pages_with_missing']} pages, "
          f"errors {s['errors']}, upside down {s['upside_down']}; staff space error median {100 * (s['ss_error_median'] or 0):.1f}%, "
          f"max {100 * (s['ss_error_max'] or 0):.1f}%, {s[f'ss_error_over_{int(SS_BAD * 100)}pct']} pages over "
          f"{int(SS_BAD * 100)}%; {s['seconds_total']:.0f} s")
    if a.json:
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(json_safe({"variant": a.variant, "data": a.data, "summary": s, "pages": rows}), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
