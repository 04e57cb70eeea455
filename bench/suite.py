"""The benchmark suite: every accuracy and speed benchmark of the project in one go.

    python -m bench [--quick] [--only NAME[,NAME]] [--skip NAME[,NAME]] [--data DIR]
                    [--realdata DIR] [--results-dir DIR] [--timeout S] [--list]

Each benchmark is one of the scripts in ``bench/``, run as a subprocess (``sys.executable``,
from the repository root) with its ``--json`` (or ``--out``) pointed at
``bench/out/suite/NAME.json`` and its output in ``NAME.log`` beside it; the suite
times it, reads the JSON back and keeps its key numbers. Speed numbers are the
medians of repeated runs, taken inside the scripts, all on this machine in this run.
``batch_throughput`` (pages per second of ``omr batch`` with 1 and 2 local workers,
and the cost of starting a worker) is defined here: ``python -m bench.suite
batch_throughput --help``.

Writes ``bench/results.json`` (machine, date, per benchmark: command, seconds,
status, key metrics, where its JSON and log are) and ``bench/results.md`` (the table
the README shows). ``--quick`` runs every benchmark on a few pages, for a smoke test,
and writes to ``bench/out/quick/`` instead so it never replaces real results.
``--only`` runs some benchmarks and keeps the other entries of an existing
results.json.

Data: the synth test set (``--data``; default ``data/test`` in the repository, else
``/work/data/test``; when neither exists the suite builds one with ``python -m synth
build`` into ``bench/out/suite-data/``) and the real photos of ``../shared/realdata``
(``--realdata``; the benchmarks that need them are skipped with a note when absent).

:func:`run_suite` is the function behind the command; :func:`batch_throughput` the
batch measurement.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
#: The synth test set as the README builds it (``python -m synth build ...``).
TEST_SET_ARGS = ["--seed", "3", "--split", "test", "--generated", "0.3", "--difficulty", "0.6"]
TEST_SET_PAGES = {"full": 60, "quick": 8}
#: The real photos with ground truth, under ../shared/realdata.
REALDATA_SET = "ptromr_cc_photos"


@dataclass
class Context:
    """What the commands of a run depend on."""

    quick: bool
    data: Path | None
    realdata: Path | None
    out: Path                      # per-bench JSON and logs
    python: str = sys.executable
    data_note: str = ""


@dataclass
class Bench:
    """One benchmark: how to run it and which of its numbers to keep.

    ``command(ctx, json_path)`` → argv (after the Python executable), or a string:
    the reason it is skipped. ``metrics(data)`` → ``[(label, value, format)]`` from
    its JSON."""

    name: str
    kind: str                      # "accuracy" or "speed"
    what: str
    command: Callable[[Context, Path], list[str] | str]
    metrics: Callable[[dict], list[tuple]]
    needs: str | None = None       # "data" (the synth test set), "realdata" (../shared/realdata)


def _q(ctx: Context, quick, full):
    return quick if ctx.quick else full


def _n(value, fmt: str = ".3f") -> str:
    """A number for a joined cell ("n/a" when missing or NaN)."""
    return _fmt(value, fmt)


def _get(d, *path, default=None):
    for p in path:
        if isinstance(d, dict) and p in d or isinstance(d, list) and isinstance(p, int) and -len(d) <= p < len(d):
            d = d[p]
        else:
            return default
    return d


# ------------------------------------------------------------------ metrics

def _m_detector(variant_list):
    def metrics(d):
        out = []
        for v in variant_list:
            s = _get(d, "variants", v, "scores", default={})
            if not s:
                continue
            out += [(f"mAP@0.5 ({v})", s.get("mAP"), ".3f"),
                    (f"noteheads AP, black/half/whole ({v})",
                     "/".join(_n(s.get(f"AP/notehead_{k}")) for k in ("black", "half", "whole")), ""),
                    (f"clefs mAP, rests mAP, accidentals mAP ({v})",
                     "/".join(_n(s.get(k)) for k in ("mAP/clef", "mAP/rest", "mAP/accidental")), ""),
                    (f"barline AP ({v})", s.get("AP/barline_single"), ".3f")]
        out.append(("images", sum(_get(d, "variants", v, "images", default=0) for v in variant_list), "d"))
        out.append(("median s per image", d.get("median_seconds_per_image"), ".2f"))
        return out
    return metrics


def _m_realdata_noteheads(d):
    a = _get(d, "summary", "all", default={})
    out = [("notehead count recall, staff crops", a.get("count_recall"), ".3f"),
           ("over-count share", a.get("over_count_share"), ".3f"),
           ("staves / notes", f"{a.get('staves')} / {a.get('gt')}", "")]
    for r in d.get("rows", []):
        if r.get("level") != "staff":
            out.append((f"full page {r.get('id')}: noteheads found / notes", f"{r.get('det')} / {r.get('gt')}", ""))
    return out


def _m_detect_speed(d):
    st = d.get("stages_median_s", {})
    return [("12 MP photo to detections, median s", d.get("median_s"), ".2f"),
            ("stages: load / page / network, s",
             " / ".join(f"{st.get(k, float('nan')):.2f}" for k in ("load", "page", "network")), ""),
            ("load_model() s", d.get("load_model_s"), ".3f"),
            ("repeats, threads", f"{d.get('repeats')}, {d.get('threads')}", "")]


def _m_page_speed(d):
    return [("12 MP photo: load + page analysis, median s", d.get("total_s"), ".3f"),
            ("load / normalize, s", f"{d.get('load_s', float('nan')):.3f} / {d.get('normalize_s', float('nan')):.3f}", "")]


def _m_staff_count(d):
    s = d.get("summary", {})
    return [("pages with the right staff count", f"{s.get('right_count')}/{s.get('pages')}", ""),
            ("staves missing / extra", (f"{s.get('missing_staves')} / {s.get('extra_staves')} "
                                       f"(of {s.get('true_staves')})"), ""),
            ("staff-space error, median", s.get("ss_error_median"), ".3f")]


def _m_parser(d):
    s = d.get("summary", {})
    out = [("note accuracy", s.get("note_accuracy"), ".3f"),
           ("pages (errors)", f"{s.get('pages')} ({s.get('errors')})", "")]
    if "mean_page_accuracy" in s:
        out.append(("mean page accuracy", s.get("mean_page_accuracy"), ".3f"))
    if "note_accuracy_measures_aligned" in s:
        out.append(("note accuracy, measures aligned", s.get("note_accuracy_measures_aligned"), ".3f"))
    if "measures_not_adding_up" in s:
        out.append(("measures not adding up", s.get("measures_not_adding_up"), "d"))
    out.append(("median s per page", s.get("median_seconds"), ".2f"))
    return out


def _m_parser_speed(d):
    return [("graph + notation + export per page, median s", _get(d, "total", "median_s"), ".3f"),
            ("graph / notation / MusicXML / MIDI, median s",
             " / ".join(f"{_get(d, k, 'median_s', default=float('nan')):.3f}"
                        for k in ("graph", "notation", "musicxml", "midi")), ""),
            ("pages", d.get("pages"), "d")]


def _m_omr_ned(d):
    s = d.get("summary", {})
    return [("OMR-NED mean (lower is better)", s.get("omr_ned_mean"), ".3f"),
            ("OMR-NED median", s.get("omr_ned_median"), ".3f"), ("pages", s.get("pages"), "d")]


def _m_repeats(d):
    s = d.get("summary", {})
    return [("pieces unfolded exactly", f"{s.get('exact')}/{s.get('pieces')}", ""),
            ("... of those with repeats", f"{s.get('exact_with_repeats')}/{s.get('pieces_with_repeats')}", "")]


def _m_realdata_parser(d):
    s = d.get("summary", {})
    return [("note accuracy (pitch+duration, weighted)", s.get("note_accuracy_weighted"), ".3f"),
            ("pitch / rhythm accuracy", (f"{s.get('pitch_accuracy_weighted', float('nan')):.3f} / "
                                        f"{s.get('rhythm_accuracy_weighted', float('nan')):.3f}"), ""),
            ("crops (refused)", f"{s.get('crops')} ({s.get('refused')})", "")]


def _m_realdata_sweep(d):
    s = d.get("summary", {})
    return [("runs read / refused / crashed", f"{s.get('read')} / {s.get('refused')} / {s.get('crashed')}", "")]


def _m_align(d):
    out = []
    for cfg in ("clean", "noise", "second_part"):
        s = _get(d, "summary", cfg, default=None)
        if s:
            out.append((f"onsets within 100 ms, {cfg}", s.get("within_100ms"), ".3f"))
            out.append((f"median onset error ms, {cfg}", s.get("median_error_ms_median"), ".1f"))
    others = d.get("other_piece") or []
    if others:
        out.append(("confidence on the wrong piece, max", max(o.get("confidence", 0) for o in others), ".2f"))
    sp = d.get("speed")
    if sp:
        out.append((f"align {sp.get('recording_s', 0):.0f} s recording, warm s", sp.get("warm_s"), ".2f"))
    return out


def _m_separate(d):
    out = []
    for level in ("+0 dB", "-6 dB"):
        s = _get(d, "speech", "mean", level, default=None)
        if s:
            out.append((f"speech SDR dB, Spleeter, voice {level}: vocals / accomp.",
                        (f"{s.get('vocals_sdr_spleeter', float('nan')):.1f} / "
                        f"{s.get('accompaniment_sdr_spleeter', float('nan')):.1f}"), ""))
    for cfg, s in (_get(d, "refine", "mean", default={}) or {}).items():
        out.append((f"melody SDR dB, {cfg}: Spleeter / score-refined",
                    f"{s.get('melody_sdr_spleeter', float('nan')):.1f} / {s.get('melody_sdr_refined', float('nan')):.1f}", ""))
    for mode, r in (_get(d, "speed", "runs", default={}) or {}).items():
        out.append((f"separation speed ({mode}), x real time; peak MB",
                    f"{r.get('realtime_factor', float('nan')):.1f}; {r.get('peak_rss_mb', float('nan')):.0f}", ""))
    return out


def _m_ocr(d):
    a = _get(d, "accuracy", "pages", "ALL", default={})
    t = _get(d, "timing", "pages", default={})
    return [("text boxes read exactly", a.get("exact"), ".3f"),
            ("character error rate", a.get("cer"), ".3f"),
            ("crops / s (batched per page)", t.get("crops_per_s"), ".1f"),
            ("pages / crops", f"{d.get('pages')} / {d.get('crops')}", "")]


def _m_synth_speed(d):
    return [("clean pages / s, 1 core (median)", _get(d, "clean", "pages_per_s_median"), ".2f"),
            ("camera pages / s, 1 core (median)", _get(d, "camera", "pages_per_s_median"), ".2f")]


def _m_synth_checks(d):
    return [("generated scores invalid", f"{_get(d, 'schema', 'invalid')}/{_get(d, 'schema', 'scores')}", ""),
            ("corpus pieces failing to engrave", f"{_get(d, 'corpus', 'failures')}/{_get(d, 'corpus', 'pieces')}", ""),
            ("notes with a verovio id", f"{_get(d, 'corpus', 'notes_with_verovio_id')}/{_get(d, 'corpus', 'notes')}", "")]


def _m_batch(d):
    out = []
    for w in d.get("workers", []):
        out.append(((f"omr batch pages / s, {w['workers']} worker(s) (median of {len(w['runs'])}; "
                    "whole command incl. Python start)"),
                    f"{_fmt(w.get('pages_per_s_median'), '.3f')} ({_fmt(w.get('pages_per_s_command_median'), '.3f')})",
                    ""))
    if d.get("speedup") is not None:
        out.append(("speed-up, 2 workers over 1", d["speedup"], ".2f"))
    out.append(("worker start: imports / load_model() s (median)",
                f"{d.get('worker_import_s', float('nan')):.2f} / {d.get('model_load_s', float('nan')):.3f}", ""))
    out.append(("pages, OCR", f"{d.get('pages')}, {'on' if d.get('ocr') else 'off'}", ""))
    return out


# ------------------------------------------------------------------ the benches

def _script(name: str, *args) -> list[str]:
    return [f"bench/{name}.py", *map(str, args)]


def _lim(ctx, quick: int, full: int | None = None) -> list[str]:
    n = quick if ctx.quick else full
    return ["--limit", str(n)] if n else []


def _first_pages(ctx: Context, n: int) -> str:
    names = sorted(p.stem for p in ctx.data.glob("shard-*/*-p*.json"))
    return ",".join(names[:n])


BENCHES: list[Bench] = [
    Bench("detector_ap", "accuracy", "detector AP@0.5 on the synth test set, whole pipeline",
          (lambda c, o: _script("detector_ap", "--data", c.data, "--variant", "both",
                                           *_lim(c, 3), "--json", o)),
          _m_detector(["camera", "clean"]), needs="data"),
    Bench("detector_ap_wide", "accuracy", "detector AP, thin boxes widened to 0.5 staff space (camera)",
          (lambda c, o: _script("detector_ap", "--data", c.data, "--variant", "camera",
                                           "--min-box-ss", "0.5", *_lim(c, 3), "--json", o)),
          _m_detector(["camera"]), needs="data"),
    Bench("detector_ap_oracle", "accuracy", "the network alone: rescaled by the true staff space (camera)",
          (lambda c, o: _script("detector_ap", "--data", c.data, "--variant", "camera",
                                           "--page-analysis", "oracle", *_lim(c, 3), "--json", o)),
          _m_detector(["camera"]), needs="data"),
    Bench("realdata_noteheads", "accuracy", "notehead counts on real phone-photo staff crops",
          (lambda c, o: _script(
              "realdata_noteheads", "--dir", c.realdata / REALDATA_SET,
              *([] if c.quick else ["--page"]), "--json", o)),
          _m_realdata_noteheads, needs="realdata"),
    Bench("staff_count", "accuracy", "staves found by page analysis (camera photos)",
          (lambda c, o: _script("staff_count", "--data", c.data, "--variant", "camera",
                                           *(["--pages", _first_pages(c, 3)] if c.quick else []),
                                           "--json", o)),
          _m_staff_count, needs="data"),
    Bench("parser_oracle", "accuracy", "note accuracy from ground-truth boxes (graph + notation)",
          (lambda c, o: _script("parser_oracle", "--data", c.data, *_lim(c, 5), "--json", o)),
          _m_parser, needs="data"),
    Bench("parser_e2e_camera", "accuracy", "note accuracy, camera photo -> score (whole program)",
          (lambda c, o: _script("parser_e2e", "--data", c.data, "--variant", "camera",
                                           *_lim(c, 3), "--json", o)),
          _m_parser, needs="data"),
    Bench("parser_e2e_resent", "accuracy", "note accuracy, camera photo sent on by a messaging app "
          "(1600 px, JPEG 80) -> score, first 20 pages",
          (lambda c, o: _script("parser_e2e", "--data", c.data, "--variant", "camera",
                                           "--resend", "80:1600", *_lim(c, 3, 20), "--json", o)),
          _m_parser, needs="data"),
    Bench("parser_e2e_clean", "accuracy", "note accuracy, clean page -> score (whole program)",
          (lambda c, o: _script("parser_e2e", "--data", c.data, "--variant", "clean",
                                           *_lim(c, 3), "--json", o)),
          _m_parser, needs="data"),
    Bench("omr_ned_oracle", "accuracy", "OMR-NED (musicdiff 5.2) from ground-truth boxes",
          (lambda c, o: _script("omr_ned", "--data", c.data, "--mode", "oracle",
                                           *_lim(c, 3, 20), "--json", o)),
          _m_omr_ned, needs="data"),
    Bench("omr_ned_camera", "accuracy", "OMR-NED (musicdiff 5.2) of camera-photo transcriptions",
          (lambda c, o: _script("omr_ned", "--data", c.data, "--mode", "camera",
                                           *_lim(c, 3, 20), "--json", o)),
          _m_omr_ned, needs="data"),
    Bench("repeats_oracle", "accuracy", "repeats, endings, D.C./D.S. unfolded in the right order",
          (lambda c, o: _script("repeats_oracle", "--data", c.data, "--json", o)),
          _m_repeats, needs="data"),
    Bench("realdata_parser", "accuracy", "the whole program on real phone-photo staff crops",
          (lambda c, o: _script(
              "realdata_parser", "--dir", c.realdata / REALDATA_SET, *_lim(c, 5), "--json", o)),
          _m_realdata_parser, needs="realdata"),
    Bench("realdata_sweep", "accuracy", "every real image, as given and changed four ways: read, refused or crashed",
          (lambda c, o: _script("realdata_sweep", "--dir", c.realdata, *_lim(c, 4), "--json", o)),
          _m_realdata_sweep, needs="realdata"),
    Bench("ocr_clean", "accuracy", "OCR of text boxes (lyrics, tempo, words), clean pages",
          (lambda c, o: _script("ocr_bench", "--data", c.data, "--variant", "clean",
                                           "--pages", _q(c, 2, 20), "--single-crops", _q(c, 5, 120),
                                           "--out", o)),
          _m_ocr, needs="data"),
    Bench("ocr_camera", "accuracy", "OCR of text boxes, camera photos",
          (lambda c, o: _script("ocr_bench", "--data", c.data, "--variant", "camera",
                                           "--pages", _q(c, 2, 20), "--single-crops", _q(c, 5, 60),
                                           "--out", o)),
          _m_ocr, needs="data"),
    Bench("align", "accuracy", "score-to-recording alignment: onset error, confidence, speed",
          lambda c, o: _script("align_bench", *(["--quick"] if c.quick else []), "--json", o),
          _m_align),
    Bench("separate", "accuracy", "separation SDR (Spleeter port, score-informed refinement), speed",
          lambda c, o: _script("separate_bench", *(["--only", "speech", "--only", "speed", "--speed-seconds", "20"]
                                                   if c.quick else []), "--out", o),
          _m_separate),
    Bench("detect_speed", "speed", "12 MP photo -> detections, 2 threads",
          lambda c, o: _script("detect_speed", "--repeats", _q(c, 1, 5), "--threads", 2, "--json", o),
          _m_detect_speed),
    Bench("page_speed", "speed", "12 MP photo: load + page analysis",
          lambda c, o: _script("page_speed", "--repeats", _q(c, 2, 7), "--json", o),
          _m_page_speed),
    Bench("parser_speed", "speed", "graph + notation + export per page, 1 core",
          (lambda c, o: _script("parser_speed", "--data", c.data, "--limit", _q(c, 3, 30),
                                           "--repeats", _q(c, 1, 3), "--json", o)),
          _m_parser_speed, needs="data"),
    Bench("batch_throughput", "speed", "omr batch: pages / s with 1 and 2 local workers",
          lambda c, o: ["-m", "bench.suite", "batch_throughput", "--pages", str(_q(c, 3, 8)),
                        "--repeats", str(_q(c, 1, 3)), "--json", str(o)],
          _m_batch),
    Bench("synth_speed", "speed", "synthetic data: pages / s of synth build, 1 core",
          lambda c, o: _script("synth_speed", "--pages", _q(c, 3, 30), "--repeats", _q(c, 1, 3), "--json", o),
          _m_synth_speed),
    Bench("synth_checks", "accuracy", "synthetic data: generated scores validate, corpus engraves",
          lambda c, o: _script("synth_checks", "--generated", _q(c, 5, 300), "--corpus", _q(c, 2, 60),
                               "--json", o),
          _m_synth_checks),
]
NAMES = [b.name for b in BENCHES]


# ------------------------------------------------------------------ machine

def machine() -> dict:
    """CPU model, cores, memory, versions, date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 ** 2, 1)
    except OSError:
        pass
    from importlib import metadata

    versions = {}
    for pkg in ("torch", "numpy", "opencv-python-headless", "music21", "verovio", "ray"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": os.cpu_count(), "cores_usable": usable, "memory_gb": mem_gb,
            "python": platform.python_version(), "platform": platform.platform(),
            "versions": versions, "loadavg": [round(x, 2) for x in os.getloadavg()],
            "date": time.strftime("%Y-%m-%d %H:%M")}


# ------------------------------------------------------------------ data

DATA_CANDIDATES = (ROOT / "data" / "test", Path("/work/data/test"))


def find_data(given: Path | None, quick: bool, log, candidates=DATA_CANDIDATES) -> tuple[Path | None, str]:
    """The synth test set: ``given``, else the first of ``candidates`` that holds one,
    else one built now into ``bench/out/suite-data`` (``suite-data-quick``)."""
    if given is not None:
        if not list(Path(given).glob("shard-*/*-p*.json")):
            return None, f"--data {given} holds no synth build"
        return Path(given), f"{given}"
    for cand in candidates:
        if list(cand.glob("shard-*/*-p*.json")):
            return cand, str(cand)
    pages = TEST_SET_PAGES["quick" if quick else "full"]
    target = BENCH / "out" / ("suite-data-quick" if quick else "suite-data") / "test"
    cmd = [sys.executable, "-m", "synth", "build", "--out", str(target), "--pages", str(pages),
           *TEST_SET_ARGS, "--quiet"]
    log(f"no synth test set found: building one ({pages} pages) -> {target}")
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not list(target.glob("shard-*/*-p*.json")):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return None, f"building a test set failed: {tail[0]}"
    return target, f"{target} (built by the suite: {shlex.join(cmd[1:])}, {time.perf_counter() - t:.0f} s)"


def find_realdata(given: Path | None) -> Path | None:
    for cand in ([Path(given)] if given else [ROOT.parent / "shared" / "realdata"]):
        if cand.is_dir():
            return cand
    return None


# ------------------------------------------------------------------ running

def _fmt(value, fmt: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if fmt and isinstance(value, (int, float)):
        try:
            return format(value, fmt)
        except (ValueError, TypeError):
            return str(value)
    return str(value)


def run_one(bench: Bench, ctx: Context, *, timeout: float | None = None, log=print) -> dict:
    """Run one benchmark; its entry for results.json."""
    json_path = ctx.out / f"{bench.name}.json"
    log_path = ctx.out / f"{bench.name}.log"
    entry = {"what": bench.what, "kind": bench.kind, "status": "skipped", "seconds": 0.0,
             "command": "", "note": "", "metrics": {}, "shown": [],
             "json": _relative(json_path), "log": _relative(log_path),
             "date": time.strftime("%Y-%m-%d %H:%M"), "quick": ctx.quick}
    if bench.needs == "data" and ctx.data is None:
        argv = f"no synth test set ({ctx.data_note or 'pass --data'})"
    elif bench.needs == "realdata" and (ctx.realdata is None or not (ctx.realdata / REALDATA_SET).is_dir()):
        argv = (f"no real photos at {ctx.realdata or '../shared/realdata'}/{REALDATA_SET} "
                "(../shared is not part of a fresh clone)")
    else:
        argv = bench.command(ctx, json_path)
    if isinstance(argv, str):
        entry["note"] = argv
        log(f"[{bench.name}] skipped: {argv}")
        return entry
    argv = [str(a) for a in argv]
    entry["command"] = "python " + shlex.join(_relative_args(argv))
    json_path.unlink(missing_ok=True)  # never report an earlier run's numbers
    log(f"[{bench.name}] {entry['command']}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t = time.perf_counter()
    with open(log_path, "w") as logf:
        try:
            proc = subprocess.run([ctx.python, *argv], cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT,
                                  env=env, timeout=timeout, check=False)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            code = None
    entry["seconds"] = round(time.perf_counter() - t, 1)
    if code is None:
        entry.update(status="failed", note=f"timed out after {timeout:.0f} s")
    elif code != 0:
        entry.update(status="failed", note=f"exit code {code}: {_last_line(log_path)}")
    elif not json_path.is_file():
        entry.update(status="skipped", note=_last_line(log_path) or "the script wrote no results")
    else:
        entry["status"] = "ok"
        try:
            rows = bench.metrics(json.loads(json_path.read_text()))
            entry["metrics"] = {label: value for label, value, _ in rows}
            entry["shown"] = [[label, _fmt(value, fmt)] for label, value, fmt in rows]
        except Exception as err:  # a script's JSON changed shape: keep the run, say so
            entry["note"] = f"could not read its numbers: {type(err).__name__}: {err}"
    log(f"[{bench.name}] {entry['status']} in {entry['seconds']} s"
        + (f" ({entry['note']})" if entry["note"] else ""))
    return entry


def _relative(path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return str(path)


def _relative_args(argv: list[str]) -> list[str]:
    return [_relative(Path(a)) if a.startswith(str(ROOT)) else a for a in argv]


def _last_line(path: Path) -> str:
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").replace("\r", "\n").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def markdown(results: dict) -> str:
    """The results table (what the README shows)."""
    m = results.get("machine", {})
    lines = ["# Benchmark results", "",
             (f"Machine: {m.get('cpu')}, {m.get('cores_usable')} of {m.get('cores')} cores usable, "
             f"{m.get('memory_gb')} GB memory, Python {m.get('python')}, torch "
             f"{m.get('versions', {}).get('torch', '?')}; load average at start "
             f"{', '.join(map(str, m.get('loadavg', [])))}."),
             (f"Run: {results.get('date')}{' (quick: a smoke run on a few pages; not real results)' if results.get('quick') else ''}; "
             f"suite {results.get('suite_seconds', 0):.0f} s. Data: {results.get('data')}."),
             "Speed numbers are medians of repeated runs inside each benchmark, all on this machine.",
             ("Made by `python -m bench` (bench/suite.py); every benchmark's full JSON and log are in "
             f"`{results.get('out', 'bench/out/suite')}/`."), "",
             "| benchmark | measure | result | time (s) |", "|---|---|---|---:|"]
    for name, e in results.get("benches", {}).items():
        label = f"**{name}**"
        if e.get("date") and e["date"][:10] != str(results.get("date"))[:10]:
            label += f" ({e['date'][:10]})"
        if e.get("quick") and not results.get("quick"):
            label += " (quick)"
        if e.get("status") != "ok" or not e.get("shown"):
            note = f"{e.get('status')}: {e.get('note', '')}".replace("|", "/")
            lines.append(f"| {label} | {e.get('what', '')} | {note} | {e.get('seconds', 0):.0f} |")
            continue
        for i, (measure, value) in enumerate(e["shown"]):
            if i == 0:
                lines.append(f"| {label} | {measure} | {value} | {e.get('seconds', 0):.0f} |")
            else:
                lines.append(f"| | {measure} | {value} | |")
    lines += ["", "Commands (from the repository root, with `.venv/bin/python`):", ""]
    for name, e in results.get("benches", {}).items():
        if e.get("command"):
            lines.append(f"- {name}: `{e['command']}`")
    return "\n".join(lines) + "\n"


def run_suite(*, quick: bool = False, only: list[str] | None = None, skip: list[str] | None = None,
              data: Path | None = None, realdata: Path | None = None, results_dir: Path | None = None,
              timeout: float | None = None, log=print) -> dict:
    """Run the benchmarks (all, or ``only``) and write ``results.json`` and
    ``results.md`` into ``results_dir`` (default ``bench/``, or ``bench/out/quick``
    with ``quick``). Returns the results."""
    unknown = [n for n in (only or []) + (skip or []) if n not in NAMES]
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)} (see --list)")
    todo = [b for b in BENCHES if (not only or b.name in only) and b.name not in (skip or [])]
    results_dir = Path(results_dir) if results_dir else (BENCH / "out" / "quick" if quick else BENCH)
    out = BENCH / "out" / ("suite-quick" if quick else "suite")
    out.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    needs_data = any(b.needs == "data" for b in todo)
    data_dir, data_note = find_data(data, quick, log) if needs_data else (data, "")
    ctx = Context(quick=quick, data=data_dir, realdata=find_realdata(realdata), out=out, data_note=data_note)
    results_path = results_dir / "results.json"
    old = {}
    if only and results_path.is_file():
        try:
            old = json.loads(results_path.read_text()).get("benches", {})
        except (OSError, json.JSONDecodeError):
            old = {}
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M"), "quick": quick,
               "data": data_note or (str(data_dir) if data_dir else "none"),
               "realdata": str(ctx.realdata) if ctx.realdata else None, "out": _relative(out),
               "benches": {}}
    for b in BENCHES:  # suite order; benches not run this time keep their old entry
        if b in todo:
            continue
        if b.name in old:
            results["benches"][b.name] = old[b.name]

    def save():
        ordered = {n: results["benches"][n] for n in NAMES if n in results["benches"]}
        results["benches"] = ordered
        results["suite_seconds"] = round(time.perf_counter() - t0, 1)
        results_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
        (results_dir / "results.md").write_text(markdown(results))

    for b in todo:
        results["benches"][b.name] = run_one(b, ctx, timeout=timeout, log=log)
        save()  # after each, so a stopped suite keeps what it measured
    save()
    log(f"wrote {_relative(results_path)} and {_relative(results_dir / 'results.md')} "
        f"({time.perf_counter() - t0:.0f} s)")
    return results


# ------------------------------------------------------------------ batch throughput

def batch_throughput(*, pages: int = 8, repeats: int = 3, workers=(1, 2), seed: int = 5,
                     ocr: bool = True, keep: Path | None = None, log=print) -> dict:
    """Pages per second of :func:`omr.batch.run_batch` on ``pages`` synthetic camera
    photos (``python -m synth build --split test --variants camera``), with each
    worker count, ``repeats`` runs each, every run in a fresh process (``force``, so
    every page is transcribed); and what starting a worker costs (imports,
    ``load_model()``).

    ``pages_per_s`` is run_batch's: from the call to the last output written, worker
    start (imports, model) included; ``pages_per_s_command`` also counts the
    interpreter's start and the driver's imports, as the ``omr batch`` command does."""
    tmp = Path(tempfile.mkdtemp(prefix="omr-batchbench-")) if keep is None else Path(keep)
    try:
        data = tmp / "data"
        cmd = [sys.executable, "-m", "synth", "build", "--out", str(data), "--pages", str(pages),
               "--seed", str(seed), "--split", "test", "--variants", "camera", "--quiet"]
        log("making the photos: " + shlex.join(cmd[1:]))
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        src = tmp / "in"
        photos = sorted(data.glob("shard-*/*.jpg"))[:pages]
        for i, p in enumerate(photos):  # half of them in a sub-folder: a tree, as a library is
            dest = src / ("part2" if i % 2 else "part1") / p.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(p, dest)
        result = {"pages": len(photos), "repeats": repeats, "ocr": ocr, "seed": seed,
                  "photos": "synth build --split test --variants camera", "workers": [],
                  "machine": machine()}
        loads, imports = [], []
        for n in workers:
            runs, walls, commands, busy, failed = [], [], [], [], 0
            for r in range(repeats):
                # a fresh process per run, as `omr batch` runs: every run pays its imports
                out = tmp / f"out-w{n}-r{r}"
                t = time.perf_counter()
                proc = subprocess.run([sys.executable, "-m", "bench.suite", "batch_once", str(src), str(out),
                                       str(n), "1" if ocr else "0"], cwd=ROOT, capture_output=True,
                                      text=True, check=True)
                command_s = time.perf_counter() - t
                res = json.loads(proc.stdout.strip().splitlines()[-1])
                failed += res["failed"]
                runs.append(round(res["pages_per_s"], 4))
                walls.append(round(res["seconds"], 2))
                commands.append(round(command_s, 2))
                busy.append(res["piece_seconds"])
                loads += [w["model_load_s"] for w in res["workers"]]
                imports += [w["import_s"] for w in res["workers"]]
                log(f"{n} worker(s), run {r + 1}: {res['pages']} pages in {res['seconds']:.1f} s = "
                    f"{res['pages_per_s']:.3f} pages/s (the whole command {command_s:.1f} s)"
                    + (f" ({res['failed']} failed)" if res["failed"] else ""))
            result["workers"].append({
                "workers": n, "pages_per_s_median": statistics.median(runs), "runs": runs,
                "run_batch_s": walls, "command_s": commands,
                "pages_per_s_command_median": round(len(photos) / statistics.median(commands), 4),
                "seconds_per_page_in_worker": round(statistics.median(busy) / max(len(photos), 1), 3),
                "failed": failed})
        by = {w["workers"]: w["pages_per_s_median"] for w in result["workers"]}
        result["speedup"] = round(by[2] / by[1], 3) if by.get(1) and by.get(2) else None
        result["model_load_s"] = round(statistics.median(loads), 4) if loads else None
        result["worker_import_s"] = round(statistics.median(imports), 3) if imports else None
        return result
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


def batch_once(src: str, out: str, workers: str, ocr: str) -> int:
    """One run of :func:`omr.batch.run_batch` (``force``, one piece per photo); prints
    its numbers as one JSON line."""
    from omr.batch import run_batch

    res = run_batch(src, out, workers=int(workers), group_by="none", ocr=ocr == "1", force=True,
                    progress=False)
    print(json.dumps({"pages": res.pages_done, "seconds": res.seconds, "pages_per_s": res.pages_per_s,
                      "failed": res.count("failed"), "workers": res.workers,
                      "piece_seconds": sum(float(r["seconds"] or 0) for r in res.rows)}))
    return 0


def batch_throughput_main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.suite batch_throughput",
                                 description=batch_throughput.__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--no-ocr", action="store_true")
    ap.add_argument("--keep", type=Path, help="keep the photos and outputs in this folder")
    ap.add_argument("--json", type=Path, default=BENCH / "out" / "batch_throughput.json")
    args = ap.parse_args(argv)
    res = batch_throughput(pages=args.pages, repeats=args.repeats,
                           workers=tuple(int(w) for w in args.workers.split(",")), seed=args.seed,
                           ocr=not args.no_ocr, keep=args.keep)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(res, indent=1) + "\n")
    print(f"\n| workers | pages/s (median of {args.repeats}) | runs | whole command, pages/s |\n|---:|---:|---|---:|")
    for w in res["workers"]:
        print(f"| {w['workers']} | {w['pages_per_s_median']:.3f} | {', '.join(map(str, w['runs']))} | "
              f"{w['pages_per_s_command_median']:.3f} |")
    print(f"\nspeed-up {res['speedup']}; worker start: imports {res['worker_import_s']} s, "
          f"load_model() {res['model_load_s']} s; wrote {args.json}")
    return 0


# ------------------------------------------------------------------ command

def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "batch_throughput":
        return batch_throughput_main(argv[1:])
    if argv and argv[0] == "batch_once":  # used by batch_throughput
        return batch_once(*argv[1:5])
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few pages per benchmark (a smoke run)")
    ap.add_argument("--only", default="", help="comma-separated benchmark names (see --list)")
    ap.add_argument("--skip", default="", help="comma-separated benchmark names to leave out")
    ap.add_argument("--data", type=Path, default=None, help="synth test set (python -m synth build)")
    ap.add_argument("--realdata", type=Path, default=None, help="default: ../shared/realdata")
    ap.add_argument("--results-dir", type=Path, default=None,
                    help="where results.json and results.md go (default bench/, quick: bench/out/quick)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per benchmark")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = ap.parse_args(argv)
    if args.list:
        for b in BENCHES:
            print(f"{b.name:20s} {b.kind:8s} {b.what}")
        return 0
    split = lambda s: [x.strip() for x in s.split(",") if x.strip()]
    results = run_suite(quick=args.quick, only=split(args.only) or None, skip=split(args.skip) or None,
                        data=args.data, realdata=args.realdata, results_dir=args.results_dir,
                        timeout=args.timeout)
    failed = [n for n, e in results["benches"].items() if e["status"] == "failed"]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
