"""Small helpers shared by the benchmark scripts (run as ``python bench/NAME.py``,
so this folder is on ``sys.path``)."""

from __future__ import annotations

import math


def json_safe(x):
    """``x`` with every NaN replaced by None (JSON has no NaN), through dicts and lists."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, list):
        return [json_safe(v) for v in x]
    return x


def report(summary: dict, rows: list, json_path: str = "", *, key: str = "pages") -> int:
    """Print a bench's summary and, when ``json_path`` is given, write it there with
    the per-item rows (under ``key``); returns the exit code 0."""
    import json
    from pathlib import Path

    print(json.dumps(summary, indent=1))
    if json_path:
        Path(json_path).write_text(json.dumps({"summary": summary, key: rows}, indent=1, default=str))
    return 0


def failed_page(path: str, exc: Exception) -> dict:
    """The row of a page the program failed on: its reference notes all count as
    missed (a failure must lower the pooled accuracy, not drop out of it)."""
    from pathlib import Path

    from synth.oracle import load_record, reference_notes, reference_score

    try:
        record = load_record(path)
        n_ref = len(reference_notes(record, reference_score(record)))
    except Exception:  # the reference itself is unreadable: nothing to count
        n_ref = 0
    return {"page": Path(path).stem, "error": repr(exc), "n_ref": n_ref, "n_est": 0, "correct": 0}


def pooled_notes(rows: list[dict]) -> dict:
    """Note counts and accuracy pooled over the pages of a note-accuracy bench (each
    row: ``omr.eval.notes.evaluate`` of a page, plus ``seconds``; a failed page has
    ``error``, its reference count and no notes: see ``failed_page``)."""
    n_ref = sum(r["n_ref"] for r in rows)
    n_est = sum(r["n_est"] for r in rows)
    denom = max(n_ref, n_est, 1)
    secs = sorted(r.get("seconds", 0) for r in rows)
    return {"pages": len(rows), "n_ref": n_ref, "n_est": n_est, "correct": sum(r["correct"] for r in rows),
            "note_accuracy": sum(r["correct"] for r in rows) / denom,
            "note_accuracy_measures_aligned": sum(
                r.get("note_accuracy_aligned", 0) * max(r["n_ref"], r["n_est"]) for r in rows) / denom,
            "mean_page_accuracy": sum(r.get("note_accuracy", 0) for r in rows) / max(len(rows), 1),
            "errors": sum("error" in r for r in rows),
            "median_seconds": secs[len(secs) // 2] if secs else 0}


def sent_on(bgr, *, scale: float, quality: int):
    """A BGR photo as a messaging app sends it on: shrunk by ``scale`` (area
    averaging; 1 or more leaves the size) and compressed again as JPEG at ``quality``."""
    import cv2

    if scale < 1.0:
        bgr = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)
