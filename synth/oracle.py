"""Ground truth of a synth page as the parser's input and as reference notes.

The parser's oracle test feeds a page's ground-truth boxes (instead of the
detector's) through the staff graph and notation, and compares the notes that come
out with the notes of the source MusicXML printed on that page.

- :func:`page_symbols`: a page record's boxes as :class:`omr.graph.Symbol`, rescaled
  to the normalized frame (``STAFF_SPACE_NORM`` px per staff space), with the staves
  and systems as page analysis would give them; the notes of metronome marks left
  out, as the pipeline takes them out of the music (:mod:`omr.metronome`).
- :func:`page_measure_positions` (:func:`page_measures`): which measures of the
  source score a page prints, by position (by number).
- :func:`reference_notes`: the notated notes of those measures (music21), in the
  form :mod:`omr.eval.notes` compares, each staff numbered as printed
  (:func:`page_staff_slots`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from omr.graph import Symbol, straight_staff
from omr.page import STAFF_SPACE_NORM
from omr.staff import Staff
from synth.svg_boxes import metronome_note_labels

#: Classes that are ground truth for page analysis, not symbols.
_STRUCTURE_ONLY = ("staff", "system")


def load_record(path: str | Path) -> dict:
    """A page record (``shard-XXXX/<job>-p<page>.json``) with its folder attached."""
    path = Path(path)
    record = json.loads(path.read_text())
    record["_dir"] = str(path.parent)
    return record


def page_symbols(record: dict, variant: str = "clean") -> tuple[list[Symbol], list[Staff], list[list[int]]]:
    """Ground-truth symbols, staves and systems of a page, in the normalized frame.

    Only the ``clean`` variant has level staves that its staff boxes describe
    exactly; it is what the oracle test uses.
    """
    scale = STAFF_SPACE_NORM / float(record["staff_space_px"])
    symbols, staves = [], []
    staff_boxes = [s for s in record[variant]["symbols"] if s["cls"] == "staff"]
    staff_boxes.sort(key=lambda s: s["box"][1])
    for i, s in enumerate(staff_boxes):
        x0, y0, x1, y1 = (v * scale for v in s["box"])
        mid = 0.5 * (y0 + y1)
        staves.append(straight_staff(i, x0=x0, x1=x1, top=mid - 2 * STAFF_SPACE_NORM,
                                     staff_space=STAFF_SPACE_NORM, system=int(s.get("system", -1))))
    systems: dict[int, list[int]] = {}
    for st in staves:
        systems.setdefault(st.system, []).append(st.index)
    printed = set()
    given = record[variant]["symbols"]
    # a metronome mark's note is labelled as the note it looks like; it is no music
    # (the pipeline's omr.metronome takes it out by the page's ink)
    metronome = metronome_note_labels((s["cls"], s.get("id")) for s in given)
    for k, s in enumerate(given):
        if s["cls"] in _STRUCTURE_ONLY or k in metronome:
            continue
        box = tuple(float(v) * scale for v in s["box"])
        # a glyph drawn twice in one place (the rests of two voices that verovio
        # stacks) is one printed symbol, as the detector sees it
        key = (s["cls"], tuple(round(v, 1) for v in box))
        if key in printed:
            continue
        printed.add(key)
        symbols.append(Symbol(s["cls"], box, 1.0, s.get("text") or ""))
    return symbols, staves, [systems[k] for k in sorted(systems)]


def page_image(record: dict, variant: str = "clean") -> np.ndarray:
    """The page's grey image rescaled to the normalized frame."""
    import cv2

    img = cv2.imread(str(Path(record["_dir"]) / record[variant]["image"]), cv2.IMREAD_GRAYSCALE)
    scale = STAFF_SPACE_NORM / float(record["staff_space_px"])
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


def page_measure_positions(record: dict, score=None) -> list[int]:
    """Positions (0-based, in score order) of the source score's measures printed on
    the record's page: from the measure of the first note printed on this page up to
    the measure of the first note of the next page (rest-only measures included).

    Measures are told apart by position, not number: a score may number two
    measures alike (a measure split by a repeat barline, printed on two pages).
    The notes (in time order) show the pages each number is printed on: the k-th
    of those pages holds the k-th measure of that number, and where two such
    measures share a page, a later one stays on the page before it."""
    notes = json.loads((Path(record["_dir"]) / record["notes"]).read_text())
    runs: list[tuple[str, int]] = []
    for n in notes:
        if not n.get("repeat", 0):
            key = (str(n["measure"]), int(n["page"]))
            if key not in runs:
                runs.append(key)
    score = score if score is not None else reference_score(record)
    order = [m.measureNumberWithSuffix() for m in score.parts[0].getElementsByClass("Measure")]
    page = int(record["page"])
    out, on_page = [], page == 1
    for pos, m in enumerate(order):
        pages = [p for label, p in runs if label == m]
        if pages:
            p = pages[0]
            runs.remove((m, p))  # the next measure of this number is on a later page
            on_page = p == page
            if p > page:
                break
        if on_page:
            out.append(pos)
    return out


def page_measures(record: dict, score=None) -> list[str]:
    """Measure numbers (as encoded, e.g. ``"4a"``) printed on the record's page, in
    score order (see :func:`page_measure_positions`)."""
    score = score if score is not None else reference_score(record)
    order = [m.measureNumberWithSuffix() for m in score.parts[0].getElementsByClass("Measure")]
    return [order[i] for i in page_measure_positions(record, score)]


def reference_score(record: dict):
    """The source score (music21) of a page record."""
    import music21

    return music21.converter.parse(str(Path(record["_dir"]) / record["musicxml"]), format="musicxml")


def page_staff_slots(record: dict) -> dict[int, int]:
    """The place of each of the source score's staves in the page's fullest system,
    top to bottom, where that differs from its place in the score: ``{score staff:
    printed staff}``, empty when every staff is printed in score order.

    Verovio leaves out of a page's systems the staves of parts that rest there (an
    orchestral page without its choir): the page's reading numbers its staves as
    printed (see :func:`omr.score.staff_slots`), so the reference does too. Each
    staff's place is where the noteheads of its notes are drawn (the page's symbols
    name their notes)."""
    notes = json.loads((Path(record["_dir"]) / record["notes"]).read_text())
    score_staff = {n["id"]: int(n["staff"]) for n in notes}
    symbols = record["clean"]["symbols"]
    counts: dict[int, int] = {}  # system -> staves printed
    first: dict[int, int] = {}  # system -> its top staff's index on the page
    for s in symbols:
        if s["cls"] == "staff":
            k = int(s.get("system", -1))
            counts[k] = counts.get(k, 0) + 1
            first[k] = min(first.get(k, int(s["staff"])), int(s["staff"]))
    if not counts:
        return {}
    fullest = max(counts.values())
    places: dict[int, dict[int, int]] = {}  # score staff -> printed place -> noteheads
    for s in symbols:
        k = int(s.get("system", -1))
        if s["cls"].startswith("notehead") and s.get("id") in score_staff and counts.get(k) == fullest:
            votes = places.setdefault(score_staff[s["id"]], {})
            place = int(s["staff"]) - first[k]
            votes[place] = votes.get(place, 0) + 1
    slots = {staff: max(votes, key=votes.get) for staff, votes in places.items()}
    if len(set(slots.values())) < len(slots) or all(k == v for k, v in slots.items()):
        return {}  # two staves in one place (not a plain omission), or none moved
    return slots


def reference_notes(record: dict, score=None):
    """Notated notes of the page's measures (see
    :func:`omr.eval.notes.notes_from_score`), each staff numbered as printed
    (:func:`page_staff_slots`)."""
    from omr.eval.notes import notes_from_score

    score = score if score is not None else reference_score(record)
    notes = notes_from_score(score, positions=page_measure_positions(record, score))
    slots = page_staff_slots(record)
    return [(slots.get(n[0], n[0]), *n[1:]) for n in notes] if slots else notes
