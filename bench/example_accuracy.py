"""The bundled example photo read against its source: note accuracy of what
``./setup.sh example`` shows a new user.

    python bench/example_accuracy.py [--json OUT]

The photo (``examples/example_photo.jpg``, made by ``examples/make_example.py``) is
page 1 of the Maple Leaf Rag: the pickup and measures 1 to 17 of
``examples/example_photo.musicxml`` (``PAGE_MEASURES``). The transcription (no OCR,
as ``bench/parser_e2e.py``) is compared with those measures by
:func:`omr.eval.notes.evaluate` (pitch, duration and onset per staff and measure);
the report's overfull measures are counted too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_util import report  # noqa: E402

from omr.eval.notes import evaluate, notes_from_score  # noqa: E402
from omr.pipeline import transcribe  # noqa: E402

PHOTO = ROOT / "examples" / "example_photo.jpg"
SOURCE = ROOT / "examples" / "example_photo.musicxml"
#: Measures of the source on the photo's page: the pickup and measures 1-17.
PAGE_MEASURES = 18


def main(argv=None) -> int:
    import music21

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default="")
    args = ap.parse_args(argv)
    result = transcribe([str(PHOTO)], ocr=False)
    est = notes_from_score(result.score)
    ref = [n for n in notes_from_score(music21.converter.parse(str(SOURCE))) if n[1] < PAGE_MEASURES]
    m = evaluate(ref, est)
    measures = len(result.score.parts[0].getElementsByClass("Measure")) if result.score.parts else 0
    overfull = sum(w.kind == "overfull" for w in result.report.warnings)
    return report({"note_accuracy": m["note_accuracy"], "pitch_onset_accuracy": m["pitch_onset_accuracy"],
                   "n_ref": m["n_ref"], "n_est": m["n_est"], "correct": m["correct"],
                   "measures": measures, "overfull": overfull},
                  [], args.json)


if __name__ == "__main__":
    raise SystemExit(main())
