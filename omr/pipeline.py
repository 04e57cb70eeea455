"""Photos → :class:`Transcription`: the whole program in one function.

For each photo: :func:`omr.detect.infer.detect` (page analysis and the symbol
detector); :func:`split_columns` (a photo of an open book holds two pages, read left
then right); for each page :func:`omr.staff.analyze` (staves and systems on the
normalized page),
OCR of the text the detector marks (:mod:`omr.ocr`, when Tesseract is installed),
:func:`omr.graph.build_graph`; then the pages together through
:func:`omr.score.score_from_graphs`.

Examples
--------
>>> from omr import transcribe                           # doctest: +SKIP
>>> t = transcribe(["page1.jpg", "page2.jpg"])           # doctest: +SKIP
>>> t.score.write("musicxml", "out.musicxml")            # doctest: +SKIP
>>> print("\\n".join(t.report.lines()))                   # doctest: +SKIP
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, field
from typing import Callable, Sequence

from omr import vocab
from omr.errors import NoMusicError, ParameterError
from omr.graph import (StaffGraph, Symbol, add_image_beams, add_image_stem_heads, build_graph, detach_hooks,
                       measure_beam_levels, reach_beams_along_stems)
from omr.metronome import metronome_marks
from omr.score import Report, score_from_graphs

#: Detections below this score are not given to the parser (the detector's own
#: decoding threshold is lower, for recall in ``omr detect``).
PARSE_THRESHOLD = 0.35
#: Text classes read by OCR, each as the kind of text :func:`omr.ocr.kind_of_class`
#: gives it (credits are not read: the score has no use for them; measure numbers
#: number the measures as printed, see :func:`omr.score.measure_numbers`).
OCR_CLASSES = ("lyric_syllable", "tempo_text", "text_other", "volta_number", "text_dacapo",
               "text_dalsegno", "text_fine", "text_tocoda", "rest_multi_number", "fingering", "measure_number")


@dataclass
class Transcription:
    """What :func:`transcribe` returns.

    ``score``: the music21 Score; ``detections``: one
    :class:`~omr.detect.types.DetectionResult` per page (boxes in the photo's
    pixels); ``graph``: one :class:`~omr.graph.StaffGraph` per page (normalized-page
    pixels); ``report``: what was inferred and what is uncertain; ``sources``: for
    each page, the index of the photo it is on (a photo of an open book holds two).
    """

    score: object
    detections: list = field(default_factory=list)
    graph: list[StaffGraph] = field(default_factory=list)
    report: Report = field(default_factory=Report)
    timings: dict = field(default_factory=dict)
    sources: list[int] = field(default_factory=list)

    def page_photos(self) -> list[int]:
        """For each page, the index of its photo (``sources``; a page per photo when
        that was not recorded)."""
        return self.sources or list(range(len(self.detections)))

    def to_dict(self) -> dict:
        """The ``omr transcribe --json`` content: per page the detections (DESIGN.md
        format) and the staff graph, plus the report."""
        return {
            "pages": [{"photo": k, "detections": d.to_dict(), "graph": g.to_dict()}
                      for k, d, g in zip(self.page_photos(), self.detections, self.graph)],
            "report": self.report.to_dict(),
            "report_text": self.report.lines(),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


def read_text(page_image, symbols: list[Symbol], report: Report, page_no: int) -> None:
    """Fill ``Symbol.text`` of text classes by OCR (in place); a warning in the
    report when Tesseract is not installed."""
    from omr import ocr

    todo = [s for s in symbols if s.cls in OCR_CLASSES and not s.text]
    if not todo:
        return
    if not ocr.tesseract_available():
        report.warn("no_ocr", "Tesseract is not installed: lyrics, tempo and other words are not read",
                    page=page_no)
        return
    readings = ocr.read_many(page_image, [s.box for s in todo], [ocr.kind_of_class(s.cls) for s in todo])
    for s, r in zip(todo, readings):
        s.text = r.text


def read_rest_counts(symbols: list[Symbol], seen: Sequence[Symbol]) -> None:
    """Give each multi-measure rest count of ``symbols`` that has no text yet (no
    OCR, or OCR read nothing) the digits the detector saw there (``seen``: time
    signature digits, scoring at least ``VETO_SCORE``, centred in its box; of
    overlapping ones the surest, :func:`suppress_duplicates`), left to right, in
    place: the count is printed in the time signature's digits, which the detector
    knows.

    >>> count = Symbol("rest_multi_number", (10, 0, 30, 20), 0.6)
    >>> read_rest_counts([count], [Symbol("time_1", (10, 1, 19, 19), 0.5),
    ...                            Symbol("time_2", (20, 1, 29, 19), 0.4),
    ...                            Symbol("time_7", (20, 1, 29, 19), 0.3)])
    >>> count.text
    '12'
    """
    for count in (s for s in symbols if s.cls == "rest_multi_number" and not s.text.strip()):
        x0, y0, x1, y1 = count.box
        digits = [d for d in seen if d.cls in vocab.TIME_DIGITS
                  and x0 <= 0.5 * (d.box[0] + d.box[2]) <= x1 and y0 <= 0.5 * (d.box[1] + d.box[3]) <= y1]
        kept = suppress_duplicates(digits)
        count.text = "".join(vocab.TIME_DIGITS[d.cls] for d in sorted(kept, key=lambda d: d.box[0]))


def page_graph(result, *, ocr: bool = True, report: Report | None = None, page_no: int = 1,
               binary=None) -> StaffGraph:
    """The staff graph of one detected page (a ``DetectionResult`` with its page);
    ``binary``: the page image's ink mask, when the caller has it."""
    from omr import staff as staff_mod
    from omr.page import binarize

    page = result.page
    report = report if report is not None else Report()
    if binary is None:
        binary = binarize(page.image, page.staff_space_norm)  # once: staves, barlines, beams
    staves, systems = staff_mod.analyze(page, binary=binary)
    if not staves:
        raise NoMusicError(f"page {page_no}: no five-line staves were found, so no music can be read "
                           "(is the whole staff in the photo, and in focus?)")
    # what the detector saw: the symbols to read, and those too doubtful to read
    # that still veto, confirm or offer another reading
    seen = [Symbol(d.cls, d.box, d.score) for d in result.normalized
            if d.score >= VETO_SCORE and d.cls in vocab.CLASSES]
    symbols = suppress_duplicates(time_digits_read_as_notes(parenthesised_keys_as_accidentals(
        [s for s in seen if s.score >= PARSE_THRESHOLD], seen, staff_space=page.staff_space_norm),
        seen, staff_space=page.staff_space_norm))
    doubtful = [s for s in seen if s.score < PARSE_THRESHOLD]
    # faint noteheads and accidental signs the rest of the page vouches for are read
    symbols += heads_at_bare_stems(symbols, doubtful, staff_space=page.staff_space_norm)
    symbols += accidentals_seen_split(doubtful, symbols, staff_space=page.staff_space_norm)
    read = {id(s) for s in symbols}
    doubtful = [s for s in doubtful if id(s) not in read]
    # lines through a staff; a stem is none (it confirms no weak barline)
    stem_ends = Columns([s for s in symbols if vocab.CLASSES[s.cls].role in STEM_END_ROLES])
    lines = [(i, x0, x1) for i, x0, x1 in staff_mod.find_barlines(binary, staves)
             if not is_stem(binary, staves[i], x0, x1, stem_ends, beyond_only=True)]
    symbols = drop_open_barlines(symbols, binary, staves)
    line_free = binary & (staff_mod.staff_line_mask(binary, page.staff_space_norm) == 0)
    symbols = drop_ledger_stub_dots(symbols, line_free, staves)
    symbols, marks = metronome_marks(symbols, binary, staves, page.image)
    numbers = [Symbol("tempo_text", m.box, 1.0) for m in marks]  # for OCR: the "= 100" after each
    symbols += numbers
    for m in marks:
        report.infer("metronome_mark", f'a {m.beat} note with "= (number)" printed right of it is a metronome '
                     "mark, not music", page=page_no)
    symbols = confirm_weak_barlines(symbols, staves, lines, doubtful)
    add_alternatives(symbols, seen)
    read_octave_marks(symbols, binary, staves)
    read_f_clef_lines(symbols, page.image, staves)
    cue_sized_heads(symbols, staves, binary.shape[1])
    symbols += image_barlines(binary, staves, symbols, lines=lines, doubtful=doubtful)
    symbols = drop_creases(symbols, binary, staves, [s.staves for s in systems])
    symbols = drop_pale_barlines(symbols, page.image, staves)
    if ocr:
        read_text(page.image, symbols, report, page_no)
        for m, number in zip(marks, numbers):  # the number read, with the note's beat
            if number.text:
                number.text = m.tempo_text(number.text)
    read_rest_counts(symbols, seen)
    faint = doubtful_flags(doubtful, symbols) + doubtful_tuplet_numbers(doubtful, symbols) \
        + doubtful_ties(doubtful, symbols)
    g = build_graph(symbols + faint, staves, [s.staves for s in systems],
                    width=binary.shape[1], height=binary.shape[0])
    add_image_stem_heads(g, binary)
    add_image_beams(g, line_free)
    reach_beams_along_stems(g, binary)
    measure_beam_levels(g, line_free, not_reaching=detach_hooks(g, line_free))
    return g


#: Symbols of the music itself: the gutter between two pages side by side holds
#: none of them (see :func:`omr.staff.find_columns`).
MUSIC_ROLES = ("notehead", "rest", "stem", "beam", "accidental", "flag")


def split_columns(result, binary=None) -> list[tuple[object, object]]:
    """A detected photo → ``[(DetectionResult, binary), ...]``, one per page (or
    column of music) side by side on it, left to right (see
    :func:`omr.staff.find_columns`); the photo alone on nearly every photo.

    Each part's page image is its column of the normalized page (its
    ``to_original`` still maps to the photo), its detections those centred in the
    column; ``binary`` (the normalized page's ink mask, made here when None) is cut
    the same way.
    """
    import dataclasses

    import numpy as np

    from omr import staff as staff_mod
    from omr.detect.types import Detection, DetectionResult
    from omr.page import binarize

    page = result.page
    if binary is None:
        binary = binarize(page.image, page.staff_space_norm)
    occupied = [0.5 * (d.box[0] + d.box[2]) for d in result.normalized
                if d.score >= PARSE_THRESHOLD and d.cls in vocab.CLASSES
                and vocab.CLASSES[d.cls].role in MUSIC_ROLES]
    columns = staff_mod.find_columns(binary, page.staff_space_norm, occupied=occupied)
    if len(columns) == 1:
        return [(result, binary)]
    centres = np.array([0.5 * (d.box[0] + d.box[2]) for d in result.normalized]).reshape(-1)
    parts = []
    for k, (x0, x1) in enumerate(columns):
        inside = np.flatnonzero((centres >= x0) & (centres < x1))
        shift = np.array([[1.0, 0.0, x0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
        part_page = dataclasses.replace(page, image=np.ascontiguousarray(page.image[:, x0:x1]),
                                        to_original=page.to_original @ shift)
        normalized = [Detection(d.cls, (d.box[0] - x0, d.box[1], d.box[2] - x0, d.box[3]), d.score)
                      for d in (result.normalized[i] for i in inside)]
        parts.append((DetectionResult(image_size=result.image_size, staff_space=result.staff_space,
                                      detections=[result.detections[i] for i in inside],
                                      normalized=normalized, page=part_page,
                                      timings=result.timings if k == 0 else {}),
                      np.ascontiguousarray(binary[:, x0:x1])))
    return parts


#: Two boxes of one role overlapping this much (intersection over union) are one
#: symbol seen twice (e.g. a black and a half notehead at one place): the less
#: confident goes.
DUPLICATE_IOU = 0.5
#: ... and two rests, where the smaller box lies this much inside the larger one
#: (:func:`omr.eval.detection.overlap_of_smaller`): the detector boxes a blurred
#: 64th rest whole, and its lower hooks again as a 16th rest.
NESTED_REST_OVERLAP = 0.8
#: Roles in which one symbol cannot sit on another of the same role.
EXCLUSIVE_ROLES = ("notehead", "rest", "accidental", "clef", "key", "time", "flag", "dot")
#: Roles that cannot sit on one another either: a time signature's digit is no
#: note, rest or clef (an "8" read as a whole note too, a "2" as an F clef), and a
#: key accidental none of them (a blurred quarter rest read as a key sharp too,
#: right after a system's time signature, made a second key there).
SHARED_PLACE_ROLES = ("notehead", "rest", "time", "clef", "key")
#: The accidentals that are signs (a parenthesis is not).
ACCIDENTAL_SIGNS = tuple(c for c in vocab.names_with_role("accidental") if c != "accidental_paren")
#: Symbols of a role at the place of a surer symbol of one of these classes are
#: that symbol: a rest on a beam (a sixteenth's short beam read as a half rest too:
#: both are filled bars), an augmentation dot on a staccato dot (the same round
#: dot; a staccato dot beside the next note's head, as in a slurred run of
#: eighths, would otherwise lengthen the note before it), a notehead on a tie (a
#: short tie blurred into a small filled oval, read as a cue note too: its box over
#: a barline hid that barline from the layout), a key accidental on a note's
#: accidental (a sharp right after a system's key signature, before its note, read
#: as a key sharp too: that staff's system was read in the wrong key; of the 86
#: key accidentals seen at an accidental's place on the camera pages of seeds 3 and
#: 5, ``--extras`` and the rest-rich build, the 70 less sure than the accidental
#: were all printed accidentals), an accidental on a rest (a quarter rest read as
#: a sharp too, less surely: the sharp went to the next note), and a notehead on a
#: beam (a 16th's short beam read as a notehead too: an extra note), and a ledger
#: line on a multi-measure rest's count (the digit's bars).
YIELDS_PLACE_TO = {"rest": ("beam",), "dot": ("artic_staccato",), "notehead": ("tie", "beam"),
                   "key": ACCIDENTAL_SIGNS, "accidental": tuple(vocab.names_with_role("rest")),
                   "ledger": ("rest_multi_number",)}
#: A notehead lying this much (of its own box) inside a surer accidental's box is a
#: part of that accidental: a blurred sharp's middle, read as a small notehead too,
#: became a note a step above the sharpened one.
HEAD_IN_ACCIDENTAL = 0.8
#: An augmentation dot lying this much inside an accidental sign's box is a part of
#: that sign, however surely each was seen: on the example photo the foot of a
#: natural, read as a dot (0.63, the natural 0.59), dotted the 16th before it.
DOT_IN_ACCIDENTAL = 0.8
#: ... and half inside a surer multi-measure rest's count, a part of that count: the
#: bowl of a "4" over a rest of four measures, read as a notehead too, became a note
#: in a measure that holds none.
HEAD_IN_REST_COUNT = 0.5


#: Roles whose glyphs keep the other classes the detector saw at their place
#: (``Symbol.alternatives``): the measures settle which reading is right. Each keeps
#: those scoring at least this fraction of the glyph's own score: a near tie for a
#: time digit, a rest or a flag (a sure "2" seen faintly as a "3" too stays a "2",
#: whatever the measures hold; an eighth's flag and a 16th's blur alike); a quarter
#: for a notehead, as blur fills a half note's hollow and the detector then scores it
#: black, and half at a third to a half of that (a black notehead it scores half at
#: under a tenth: of 3,552 on the validation pages, one above a quarter); for an
#: accidental sign the place of its note in its box settles it (see
#: :data:`omr.graph.ACCIDENTAL_ANCHOR_MARGIN`).
ALTERNATIVE_MIN_RATIO = {"time": 0.6, "rest": 0.6, "notehead": 0.25, "flag": 0.6, "accidental": 0.6}


def add_alternatives(symbols: list[Symbol], seen: list[Symbol]) -> None:
    """Give each time signature glyph, rest, notehead, flag and accidental of
    ``symbols`` the other classes of its role the detector saw at its place
    (``seen``: every detection scoring at least ``VETO_SCORE`` and its role's
    ``ALTERNATIVE_MIN_RATIO`` of the glyph's score; boxes overlapping by
    ``DUPLICATE_IOU``, rests also one inside the other, :func:`_same_place`), surest
    first, in place. A digit read as a "4" and almost as a "3", a rest read as an
    eighth and almost as a sixteenth, a blurred half note read as black, are settled
    by the measures; a sign read as a sharp and almost as a flat by where its note
    lies in its box."""
    kept = {id(s) for s in symbols}  # (no kept glyph overlaps another of its role)
    for role, ratio in ALTERNATIVE_MIN_RATIO.items():
        mine = [s for s in symbols if vocab.CLASSES[s.cls].role == role]
        others = sorted((s for s in seen if vocab.CLASSES[s.cls].role == role and id(s) not in kept),
                        key=lambda s: -s.score)
        if not mine or not others:
            continue
        same = _same_place([s.box for s in mine], [s.box for s in others], rests=role == "rest")
        for i, s in enumerate(mine):
            alts = []
            for j, o in enumerate(others):
                if same[i, j] and o.cls != s.cls and o.cls not in alts and o.score >= ratio * s.score:
                    alts.append(o.cls)
            s.alternatives = tuple(alts)


def heads_at_bare_stems(symbols: Sequence[Symbol], doubtful: Sequence[Symbol], *,
                        staff_space: float) -> list[Symbol]:
    """The noteheads among ``doubtful`` (seen, too faintly to read) to read after
    all: at each stem of ``symbols`` that no notehead of ``symbols`` touches, the
    surest doubtful notehead touching it, where no notehead of ``symbols`` overlaps
    it. Every stem stands on a notehead, so the stem vouches for a head the detector
    scored under ``PARSE_THRESHOLD`` (on a photo shrunk by a messaging app, a blurred
    half note was seen as black at 0.33 and as half at 0.31, its stem at 0.83).

    "Touching" is the graph's test (:func:`omr.graph.stem_touch`) with its first
    pass's tolerances (``STEM_X_TOLERANCE_SS``, ``STEM_Y_TOLERANCE_SS``); "no
    notehead touches" uses its looser second pass's (``STEM_X_LOOSE_SS``,
    ``STEM_Y_LOOSE_SS``), so a stem whose head the graph may yet find keeps it. The
    head read keeps the other classes seen at its place (:func:`add_alternatives`)."""
    from omr.eval.detection import iou_matrix
    from omr.graph import STEM_X_LOOSE_SS, STEM_X_TOLERANCE_SS, STEM_Y_LOOSE_SS, STEM_Y_TOLERANCE_SS, stem_touch

    def touches(head: Symbol, stem: Symbol, x_tol: float, y_tol: float) -> bool:
        return stem_touch(head.box, stem.box, x_tol * staff_space, y_tol * staff_space) is not None

    heads = [s for s in symbols if vocab.CLASSES[s.cls].role == "notehead"]
    faint = [s for s in doubtful if vocab.CLASSES[s.cls].role == "notehead"]
    if not faint:
        return []
    faint = _clear_of(faint, heads)  # a faint reading of a head that was read is no other head
    found: list[Symbol] = []
    for stem in (s for s in symbols if s.cls == "stem"):
        if not faint or any(touches(h, stem, STEM_X_LOOSE_SS, STEM_Y_LOOSE_SS) for h in heads + found):
            continue
        near = [h for h in faint if touches(h, stem, STEM_X_TOLERANCE_SS, STEM_Y_TOLERANCE_SS)]
        if near:
            best = max(near, key=lambda h: h.score)
            found.append(best)
            faint = [h for h, v in zip(faint, iou_matrix([h.box for h in faint], [best.box])[:, 0])
                     if v <= DUPLICATE_IOU]
    return found


def _same_place(a, b, rests):
    """Whether each box of ``a`` (N, 4) and each of ``b`` (M, 4) are one symbol seen
    twice: overlapping by ``DUPLICATE_IOU``, or, where ``rests`` (a bool, or an
    (N, M) bool array: both are rests), one inside the other by
    ``NESTED_REST_OVERLAP``. An (N, M) bool array."""
    import numpy as np

    from omr.eval.detection import iou_matrix, overlap_of_smaller

    a, b = np.asarray(a, float).reshape(-1, 4), np.asarray(b, float).reshape(-1, 4)
    return (iou_matrix(a, b) > DUPLICATE_IOU) | ((overlap_of_smaller(a, b) >= NESTED_REST_OVERLAP) & rests)


def _clear_of(faint: list[Symbol], others: Sequence[Symbol]) -> list[Symbol]:
    """Those of ``faint`` that overlap none of ``others`` by ``DUPLICATE_IOU``."""
    from omr.eval.detection import iou_matrix

    if not faint or not others:
        return list(faint)
    iou = iou_matrix([s.box for s in faint], [o.box for o in others])
    return [s for s, row in zip(faint, iou) if not (row > DUPLICATE_IOU).any()]


#: Roles whose classes the detector confuses at an accidental's place: its score for
#: one faint accidental is split over the signs and the key accidentals.
ACCIDENTAL_LIKE_ROLES = ("accidental", "key")
#: A sharp, flat, natural or double flat stands at least this tall; a faint one
#: shorter is something else (a fingering "0" over a guitar part, read as a natural
#: and a double sharp at 0.3). A double sharp is a small cross: not read faintly.
FAINT_ACCIDENTAL_MIN_HEIGHT_SS = 1.8


def accidentals_seen_split(doubtful: Sequence[Symbol], symbols: Sequence[Symbol], *,
                           staff_space: float) -> list[Symbol]:
    """The accidental signs among ``doubtful`` (seen, too faintly to read) to read
    after all: where the detector's scores at one place for accidental signs and key
    accidentals (``ACCIDENTAL_LIKE_ROLES``; boxes overlapping by ``DUPLICATE_IOU``)
    add up to ``PARSE_THRESHOLD``, the sign it scored highest there, when nothing
    else ``doubtful`` holds at its place (a rest, a notehead) scored higher and it
    overlaps no symbol of ``symbols``. Only a sign at least
    ``FAINT_ACCIDENTAL_MIN_HEIGHT_SS`` tall is read so. On a photo the detector
    split a natural beside a chord's lowest note over four readings (natural 0.35
    just under, key natural 0.34, sharp 0.17, key sharp 0.18): the note lost its
    natural, though nothing else was seen there.

    >>> faint = [Symbol("accidental_natural", (10, 0, 20, 30), 0.3),
    ...          Symbol("key_natural", (10, 1, 20, 30), 0.25), Symbol("rest_16th", (10, 0, 20, 31), 0.22)]
    >>> [s.cls for s in accidentals_seen_split(faint, [], staff_space=10)]
    ['accidental_natural']
    >>> accidentals_seen_split(faint[:1] + faint[2:], [], staff_space=10)  # a natural at 0.3 alone
    []
    """
    from omr.eval.detection import iou_matrix

    like = [s for s in doubtful if vocab.CLASSES[s.cls].role in ACCIDENTAL_LIKE_ROLES]
    other = [s for s in doubtful if vocab.CLASSES[s.cls].role not in ACCIDENTAL_LIKE_ROLES]
    signs = sorted((s for s in like if s.cls in ACCIDENTAL_SIGNS and s.cls != "accidental_double_sharp"
                    and s.box[3] - s.box[1] >= FAINT_ACCIDENTAL_MIN_HEIGHT_SS * staff_space), key=lambda s: -s.score)
    if not signs:
        return []
    near_like = iou_matrix([s.box for s in signs], [s.box for s in like]) > DUPLICATE_IOU
    found: list[Symbol] = []
    for i, sign in enumerate(signs):
        total = sum(o.score for o, near in zip(like, near_like[i]) if near)
        if total >= PARSE_THRESHOLD and _clear_of([sign], [o for o in other if o.score > sign.score]) \
                and _clear_of([sign], list(symbols) + found):
            found.append(sign)
    return found


def _surest_here(doubtful: Sequence[Symbol], cls: str) -> list[Symbol]:
    """The symbols of class ``cls`` among ``doubtful`` that no surer reading of
    another class overlaps (by ``DUPLICATE_IOU``)."""
    return [s for s in doubtful if s.cls == cls
            and _clear_of([s], [o for o in doubtful if o.cls != cls and o.score > s.score])]


def doubtful_flags(doubtful: Sequence[Symbol], symbols: Sequence[Symbol]) -> list[Symbol]:
    """The flags among ``doubtful`` (seen, too faintly to read) that overlap no
    flag of ``symbols`` (by ``DUPLICATE_IOU``), marked ``doubtful``: a stem they
    hang from may be read as flagged where the measure then fills (on a small or
    blurred photo an eighth's flag is often scored under ``PARSE_THRESHOLD``)."""
    import dataclasses

    faint = [s for s in doubtful if vocab.CLASSES[s.cls].role == "flag" and s.cls != "grace_slash"]
    faint = _clear_of(faint, [s for s in symbols if vocab.CLASSES[s.cls].role == "flag"])
    return [dataclasses.replace(s, doubtful=True) for s in faint]


def doubtful_tuplet_numbers(doubtful: Sequence[Symbol], symbols: Sequence[Symbol]) -> list[Symbol]:
    """The tuplet numbers among ``doubtful`` (seen, too faintly to read) that are
    the surest reading of ``doubtful`` at their place and overlap no symbol of
    ``symbols`` (by ``DUPLICATE_IOU``), marked ``doubtful``: the group under one is
    made a tuplet only where its voice overfills without it (a small "3" in grain
    or shadow is often scored under ``PARSE_THRESHOLD``; see
    :func:`omr.notation.implied.implied_tuplets`).

    >>> faint = Symbol("tuplet_number", (100, 0, 110, 14), 0.32)
    >>> [s.doubtful for s in doubtful_tuplet_numbers([faint, Symbol("fingering", (100, 0, 110, 14), 0.29)], [])]
    [True]
    >>> doubtful_tuplet_numbers([faint], [Symbol("fingering", (100, 0, 110, 14), 0.8)])
    []
    """
    import dataclasses

    return [dataclasses.replace(s, doubtful=True) for s in _clear_of(_surest_here(doubtful, "tuplet_number"), symbols)]


def doubtful_ties(doubtful: Sequence[Symbol], symbols: Sequence[Symbol]) -> list[Symbol]:
    """The ties among ``doubtful`` (seen, too faintly to read) that are the surest
    reading of ``doubtful`` at their place and overlap no tie or slur of
    ``symbols`` (by ``DUPLICATE_IOU``), marked ``doubtful``: the graph joins such a
    tie's notes only beside a tie it read between the same two chords (see
    :func:`omr.graph.build_graph`). Of two ties between chords, the lower, printed
    close under the other, is often scored just under ``PARSE_THRESHOLD`` (0.34 on
    the example photo, where the upper scored 0.68): its note, flattened in the
    measure before, lost the flat across the barline.

    >>> faint = Symbol("tie", (100, 50, 130, 56), 0.34)
    >>> [s.doubtful for s in doubtful_ties([faint, Symbol("rest_whole", (101, 50, 130, 57), 0.15)], [])]
    [True]
    >>> doubtful_ties([faint], [Symbol("slur", (100, 50, 131, 56), 0.5)])
    []
    """
    import dataclasses

    faint = _clear_of(_surest_here(doubtful, "tie"), [s for s in symbols if s.cls in ("tie", "slur")])
    return [dataclasses.replace(s, doubtful=True) for s in faint]


def suppress_duplicates(symbols: list[Symbol]) -> list[Symbol]:
    """Drop the weaker of two overlapping symbols of one role, or of two roles of
    ``SHARED_PLACE_ROLES``, and a symbol at the place of a surer one it yields to
    (``YIELDS_PLACE_TO``: a rest on a beam, an augmentation dot on a staccato dot,
    a notehead on a tie or a beam, a key accidental on a note's accidental, an
    accidental on a rest, a ledger line on a multi-measure rest's count; see
    ``EXCLUSIVE_ROLES``, ``DUPLICATE_IOU``), a notehead inside a surer accidental
    (``HEAD_IN_ACCIDENTAL``) or half inside a surer multi-measure rest's count
    (``HEAD_IN_REST_COUNT``), and an augmentation dot inside an accidental sign
    (``DOT_IN_ACCIDENTAL``). The symbols of one role go first, so a symbol that
    yields its place takes its weaker duplicates with it."""
    import numpy as np

    from omr.eval.detection import covered_part, iou_matrix

    def role(s: Symbol) -> str:
        return vocab.CLASSES[s.cls].role

    def yields(weaker_role: str, is_surer: Callable[[Symbol], bool], at_place, *, by_score: bool = True) -> None:
        """Drop each symbol of ``weaker_role`` that ``at_place(its boxes, the surer
        ones' boxes)`` (a bool matrix) puts at the place of a surer symbol (of any
        score where not ``by_score``)."""
        weaker = [i for i, s in enumerate(symbols) if role(s) == weaker_role]
        surer = [s for s in symbols if is_surer(s)]
        if not weaker or not surer:
            return
        here = at_place([symbols[i].box for i in weaker], [s.box for s in surer])
        for row, i in enumerate(weaker):
            if any(here[row, j] and (b.score > symbols[i].score or not by_score) for j, b in enumerate(surer)):
                keep[i] = False

    keep = [True] * len(symbols)
    by_role: dict[str, list[int]] = {}
    for i, s in enumerate(symbols):
        if role(s) in EXCLUSIVE_ROLES:
            group = "+".join(SHARED_PLACE_ROLES) if role(s) in SHARED_PLACE_ROLES else role(s)
            by_role.setdefault(group, []).append(i)
    for idx in by_role.values():
        if len(idx) < 2:
            continue
        boxes = [symbols[i].box for i in idx]
        rests = np.array([role(symbols[i]) == "rest" for i in idx])
        same = _same_place(boxes, boxes, rests=rests[:, None] & rests[None, :])
        order = sorted(range(len(idx)), key=lambda k: -symbols[idx[k]].score)
        for a_pos, a in enumerate(order):
            if not keep[idx[a]]:
                continue
            for b in order[a_pos + 1:]:
                if keep[idx[b]] and same[a, b]:
                    keep[idx[b]] = False
    # After the duplicates of one role: a symbol that yields its place takes its own
    # weaker duplicates with it (a key sharp that is a note's sharp had hidden a
    # faint 16th rest read at its place too).
    for weaker_role, classes in YIELDS_PLACE_TO.items():
        yields(weaker_role, lambda s, classes=classes: s.cls in classes,
               lambda a, b: iou_matrix(a, b) > DUPLICATE_IOU)
    yields("notehead", lambda s: role(s) == "accidental", lambda a, b: covered_part(a, b) >= HEAD_IN_ACCIDENTAL)
    yields("notehead", lambda s: s.cls == "rest_multi_number", lambda a, b: covered_part(a, b) >= HEAD_IN_REST_COUNT)
    yields("dot", lambda s: s.cls in ACCIDENTAL_SIGNS, lambda a, b: covered_part(a, b) >= DOT_IN_ACCIDENTAL,
           by_score=False)
    return [s for s, k in zip(symbols, keep) if k]


#: A barline found in the image is new when no detected barline is this close
#: (staff spaces), and is not a stem when no notehead edge is this close.
BARLINE_DUPLICATE_SS = 1.0
BARLINE_STEM_SS = 0.5
#: A stem through a whole staff belongs to a notehead (or beam, or flag) beyond it:
#: those are looked for up to this far above or below the staff (staff spaces).
STEM_REACH_SS = 6.0
#: Score given to barlines found in the image (the detector's are its own).
IMAGE_BARLINE_SCORE = 0.5
#: A line found in the image is no barline inside the box of a detection of these
#: roles scoring at least ``VETO_SCORE`` (below ``PARSE_THRESHOLD``: too doubtful
#: to read as music, enough to doubt a line there).
VETO_ROLES = ("rest", "accidental", "notehead", "clef", "time", "flag")
VETO_SCORE = 0.2


def image_barlines(binary, staves, symbols: list[Symbol], *, lines=None,
                   doubtful: Sequence[Symbol] = ()) -> list[Symbol]:
    """Barlines the detector missed, found as thin lines through a whole staff
    (:func:`omr.staff.find_barlines`, or ``lines`` it gave), that are neither a
    detected barline nor a stem next to a notehead, nor inside the box of a symbol
    the detector saw there, even one too doubtful to read (``doubtful``: a 32nd
    rest is a stroke through the staff)."""
    from omr.staff import find_barlines

    if not staves:
        return []
    found = []
    columns = Columns(symbols)
    stem_ends = Columns([d for d in symbols if vocab.CLASSES[d.cls].role in STEM_END_ROLES])
    for index, x0, x1 in (lines if lines is not None else find_barlines(binary, staves)):
        s = staves[index]
        ss = s.staff_space
        cx = 0.5 * (x0 + x1)
        top, bottom = s.y_top(cx), s.y_bottom(cx)
        near = [d for d in columns.around(cx, BARLINE_DUPLICATE_SS * ss)
                if abs(0.5 * (d.box[0] + d.box[2]) - cx) < BARLINE_DUPLICATE_SS * ss
                and d.box[1] < bottom and d.box[3] > top]
        if any(vocab.CLASSES[d.cls].role == "barline" for d in near):
            continue
        if any(_touches(d, cx, BARLINE_STEM_SS * ss) for d in near
               if vocab.CLASSES[d.cls].role in ("clef", "time", "key")):
            continue
        if is_stem(binary, s, x0, x1, stem_ends):
            continue
        if any(vocab.CLASSES[d.cls].role in VETO_ROLES and _crosses(d, cx, top, bottom)
               for d in itertools.chain(columns.around(cx, 0.0), doubtful)):
            continue  # a quarter rest's stroke, a sharp's upright
        found.append(Symbol("barline_single", (x0, top, x1, bottom), IMAGE_BARLINE_SCORE))
    return found


class Columns:
    """Symbols indexed by their boxes' x extent, to find those near a column fast
    (a page can hold thousands; a line through a staff is checked against them).

    >>> c = Columns([Symbol("stem", (10, 0, 12, 50)), Symbol("beam", (40, 0, 90, 5))])
    >>> [d.cls for d in c.around(60, 2)], [d.cls for d in c.around(20, 2)]
    (['beam'], [])
    """

    def __init__(self, symbols: Sequence[Symbol]):
        import numpy as np

        self.symbols = list(symbols)
        self._x = np.array([(d.box[0], d.box[2]) for d in self.symbols], float).reshape(-1, 2)

    def around(self, x: float, gap: float) -> list[Symbol]:
        """The symbols whose box, widened by ``gap`` px (and a pixel) each way, the
        column at ``x`` crosses: every symbol within ``gap`` of ``x``, and a few more."""
        import numpy as np

        reach = gap + 1.0
        hit = np.flatnonzero((self._x[:, 0] - reach < x) & (x < self._x[:, 1] + reach))
        return [self.symbols[i] for i in hit]


#: Roles of the symbols at a stem's end (see :func:`is_stem`).
STEM_END_ROLES = ("notehead", "beam", "flag")
#: A line through the staff runs on to a symbol beyond it when this fraction of
#: the rows between them is inked.
STEM_INK = 0.8
#: ... and, to keep it from confirming a weak barline, that symbol is this far clear
#: of the staff (staff spaces).
STEM_CLEAR_SS = 1.0


def is_stem(binary, staff, x0: float, x1: float, symbols: Sequence[Symbol] | Columns, *,
            beyond_only: bool = False) -> bool:
    """Whether the line ``x0..x1`` px through the whole of ``staff`` is a stem: it
    touches a notehead, beam or flag (``STEM_END_ROLES``), on the staff or up to
    ``STEM_REACH_SS`` beyond it, and runs on, inked, to one beyond it. ``beyond_only``:
    only a symbol at least ``STEM_CLEAR_SS`` clear of the staff counts (a note just by
    a barline is not taken for the owner of that barline). ``symbols`` may come as
    :class:`Columns`, built once for many lines."""
    if not isinstance(symbols, Columns):
        symbols = Columns(symbols)
    ss = staff.staff_space
    cx = 0.5 * (x0 + x1)
    top, bottom = staff.y_top(cx), staff.y_bottom(cx)
    clear = STEM_CLEAR_SS * ss

    def near(d: Symbol) -> bool:
        if not (d.box[1] < bottom + STEM_REACH_SS * ss and d.box[3] > top - STEM_REACH_SS * ss):
            return False
        return not beyond_only or d.box[1] > bottom + clear or d.box[3] < top - clear

    return any(_touches(d, cx, BARLINE_STEM_SS * ss) and _inked_between(binary, x0, x1, d, top, bottom)
               for d in symbols.around(cx, BARLINE_STEM_SS * ss)
               if vocab.CLASSES[d.cls].role in STEM_END_ROLES and near(d))


def _inked_between(binary, x0: float, x1: float, d: Symbol, top: float, bottom: float) -> bool:
    """Whether the line at ``x0..x1`` that crosses the staff (``top``..``bottom``)
    runs on, inked, to ``d`` beyond the staff (True when ``d`` is on the staff)."""
    if d.box[1] < bottom and d.box[3] > top:
        return True
    y0, y1 = (int(d.box[3]), int(top)) if d.box[3] <= top else (int(bottom) + 1, int(d.box[1]) + 1)
    a, b = max(0, int(x0) - 1), min(binary.shape[1], int(x1) + 2)
    rows = binary[max(0, y0):max(0, y1), a:b]
    return rows.shape[0] == 0 or float(rows.any(axis=1).mean()) >= STEM_INK


def _crosses(d: Symbol, x: float, top: float, bottom: float) -> bool:
    """Whether the vertical line at ``x`` from row ``top`` to ``bottom`` runs through
    ``d``'s box."""
    return d.box[0] < x < d.box[2] and d.box[1] < bottom and d.box[3] > top


def _touches(d: Symbol, x: float, gap: float) -> bool:
    """Whether the vertical line at ``x`` runs through ``d``'s box or passes an edge of
    it within ``gap`` px."""
    return d.box[0] < x < d.box[2] or min(abs(d.box[0] - x), abs(d.box[2] - x)) < gap


def _staves_by_distance(staves) -> Callable[[Symbol], list[int]]:
    """A function giving the indices of the staves by how near their middles lie to
    a symbol's middle, up or down, the nearest first (of equally near ones, the first)."""
    import numpy as np

    centres = np.array([s.center_y for s in staves])
    return lambda sym: np.argsort(np.abs(centres - 0.5 * (sym.box[1] + sym.box[3])), kind="stable").tolist()


def _nearest_staff(staves) -> Callable[[Symbol], int]:
    """A function giving the index of the staff whose middle lies nearest a
    symbol's middle, up or down."""
    by_distance = _staves_by_distance(staves)
    return lambda sym: by_distance(sym)[0]


def _rows_off_lines(staff, x: float, rows: range) -> list[int]:
    """The ``rows`` (px) at ``x`` clear of ``staff``'s lines: more than half a line's
    thickness and a px from each."""
    import numpy as np

    lines = np.array([staff.line_y(i, x) for i in range(5)], float)
    clear = 0.5 * staff.line_thickness + 1
    return [y for y in rows if np.min(np.abs(lines - y)) > clear]


#: A barline crosses its whole staff. A detected one whose box leaves more than
#: ``BARLINE_OPEN_SS`` staff spaces of its staff open at an end, where the staff's
#: column at the box holds ink in under ``BARLINE_OPEN_INK`` of the rows between the
#: lines there, is the wavy line of an arpeggio beside a chord (the detector has
#: hardly seen one: synth/'s scores have almost none), unless another staff of its
#: system has a barline at about its x (a faint barline the binarization broke).
BARLINE_OPEN_SS = 0.5
BARLINE_OPEN_INK = 0.25


def drop_open_barlines(symbols: list[Symbol], binary, staves) -> list[Symbol]:
    """``symbols`` without the barlines that leave part of their staff open
    (:data:`BARLINE_OPEN_SS`, :data:`BARLINE_OPEN_INK`): an arpeggio's wavy line
    read as a barline splits its measure in two and turns the piece's time."""
    import numpy as np

    if not staves:
        return symbols
    h, w = binary.shape
    staff_of = _nearest_staff(staves)
    # each barline's staff and x, once
    bars = {id(s): (staff_of(s), 0.5 * (s.box[0] + s.box[2]))
            for s in symbols if vocab.CLASSES[s.cls].role == "barline"}

    def open_end(sym: Symbol, s) -> bool:
        x0, y0, x1, y1 = sym.box
        x = 0.5 * (x0 + x1)
        top, bottom = float(s.y_top(x)), float(s.y_bottom(x))
        cols = slice(max(0, int(np.floor(x0)) - 1), min(w, int(np.ceil(x1)) + 2))
        for lo, hi in ((top, y0), (y1, bottom)):
            if hi - lo <= BARLINE_OPEN_SS * s.staff_space or lo < 0 or hi >= h:
                continue
            rows = _rows_off_lines(s, x, range(int(round(lo)), int(round(hi)) + 1))
            if rows and binary[rows, cols].any(axis=1).mean() < BARLINE_OPEN_INK:
                return True
        return False

    def backed(k: int, x: float) -> bool:
        """Another staff of ``k``'s system has a barline at about ``x``."""
        system = staves[k].system
        return system >= 0 and any(j != k and staves[j].system == system
                                   and abs(bx - x) <= BARLINE_DUPLICATE_SS * staves[k].staff_space
                                   for j, bx in bars.values())

    def dropped(sym: Symbol) -> bool:
        k, x = bars[id(sym)]
        return open_end(sym, staves[k]) and not backed(k, x)

    return [s for s in symbols if id(s) not in bars or not dropped(s)]


#: An augmentation dot sits in a space, never on a line. One the detector reports
#: within ``LEDGER_STUB_LINE_SS`` staff spaces of a staff or ledger line's place,
#: joined by unbroken ink along its middle rows to a notehead at most
#: ``LEDGER_STUB_REACH_SS`` to its left (centres within ``LEDGER_STUB_DY_SS`` of one
#: another's height), is the end of the ledger line through that notehead (a note
#: on a ledger line read as dotted). Between two staves, the line's place may be
#: the farther staff's (their lines' places need not agree) where the ledger line
#: also shows left of the head, as far out as the dot, as a line: in the outer half
#: of those columns the ink is at most ``LEDGER_STUB_THICK_SS`` high (a dot in a
#: space of the nearer staff has no line beside the head's other side; an
#: accidental there is taller). A dot that a detected ledger line's box reaches (the
#: box holds the dot's middle row and touches the dot's box) is on that line's place
#: whatever the staff's lines say: where a staff's spacing is a little off, a
#: ledger line's place three lines out is off by more than ``LEDGER_STUB_LINE_SS``.
LEDGER_STUB_LINE_SS = 0.15
LEDGER_STUB_REACH_SS = 1.5
LEDGER_STUB_DY_SS = 0.75
LEDGER_STUB_THICK_SS = 0.5


def _ink_run_height(column, y: int) -> int:
    """Rows of the run of ink in ``column`` through row ``y`` or a row next to it (0: none)."""
    hits = [r for r in (y, y - 1, y + 1) if 0 <= r < len(column) and column[r]]
    if not hits:
        return 0
    top = bottom = hits[0]
    while top > 0 and column[top - 1]:
        top -= 1
    while bottom < len(column) - 1 and column[bottom + 1]:
        bottom += 1
    return bottom - top + 1


def drop_ledger_stub_dots(symbols: list[Symbol], ink, staves) -> list[Symbol]:
    """``symbols`` without the augmentation dots that are a ledger line's end (see
    :data:`LEDGER_STUB_LINE_SS`); ``ink``: the page's ink mask without its staff
    lines (ledger lines stay)."""
    from omr.staff import off_line

    if not staves:
        return symbols
    by_distance = _staves_by_distance(staves)
    heads = [s for s in symbols if vocab.CLASSES[s.cls].role == "notehead"]
    ledgers = [s for s in symbols if s.cls == "ledger_line"]

    def stub(dot: Symbol) -> bool:
        cx, cy = 0.5 * (dot.box[0] + dot.box[2]), 0.5 * (dot.box[1] + dot.box[3])
        near = [staves[i] for i in by_distance(dot)[:2]]  # the nearer staff first
        on_line = [off_line(float(s.position(cx, cy))) < 2 * LEDGER_STUB_LINE_SS for s in near]
        if any(ln.box[1] <= cy <= ln.box[3] and ln.box[0] <= dot.box[2] and dot.box[0] <= ln.box[2]
               for ln in ledgers):
            on_line[0] = True  # a detected ledger line reaches it
        if not any(on_line):
            return False  # (as graph._link_dots' DOT_ON_LINE rule, which needs no image)
        ss = near[0].staff_space
        left = [h for h in heads if h.box[2] <= dot.box[0] + 2  # (px: boxes may touch)
                and dot.box[0] - h.box[2] < LEDGER_STUB_REACH_SS * ss
                and abs(0.5 * (h.box[1] + h.box[3]) - cy) < LEDGER_STUB_DY_SS * ss]
        if not left:
            return False
        head = max(left, key=lambda h: h.box[2])
        a = int(round(head.box[2])) - 1
        b = int(round(dot.box[0])) + 1
        y = int(round(cy))

        def inked(x0: int, x1: int) -> bool:  # every column of x0..x1 inked along the middle rows
            rows = ink[max(0, y - 1):y + 2, max(0, x0):max(x0 + 1, x1)]
            return bool(rows.size) and bool(rows.any(axis=0).all())

        if not inked(a, b):
            return False
        if on_line[0]:
            return True
        # on the farther staff's line place only: the ledger line also left of the head
        reach = int(round(dot.box[2] - head.box[2]))
        x0, x1 = int(round(head.box[0])) - reach, int(round(head.box[0])) + 1
        if x0 < 0 or not inked(x0, x1):
            return False
        return all(_ink_run_height(ink[:, x], y) <= LEDGER_STUB_THICK_SS * ss
                   for x in range(x0, x0 + (x1 - x0 + 1) // 2))

    return [s for s in symbols if not (s.cls == "augmentation_dot" and stub(s))]


#: A key signature is never printed in parentheses: a key accidental with a
#: parenthesis on each side, each within this many staff spaces of it, is a
#: courtesy accidental ("(#)") that the detector read as a key accidental. One
#: right after a system's clef would otherwise be taken for the key and carried on
#: to the systems after it.
PAREN_REACH_SS = 0.5


def parenthesised_keys_as_accidentals(symbols: list[Symbol], parens: Sequence[Symbol], *,
                                      staff_space: float) -> list[Symbol]:
    """``symbols`` with each key accidental that stands between two of ``parens``
    (``accidental_paren`` symbols, doubtful ones too; see :data:`PAREN_REACH_SS`)
    read as the accidental of its sign (``key_sharp`` as ``accidental_sharp``); where
    the detector also saw that accidental there, :func:`suppress_duplicates` then
    keeps the surer of the two."""
    import dataclasses

    parens = [p for p in parens if p.cls == "accidental_paren"]
    reach = PAREN_REACH_SS * staff_space

    def beside(key: Symbol, p: Symbol) -> bool:  # level with the key (by half its height)
        overlap = min(key.box[3], p.box[3]) - max(key.box[1], p.box[1])
        return overlap > 0.5 * min(key.box[3] - key.box[1], p.box[3] - p.box[1])

    def enclosed(key: Symbol) -> bool:
        cx = 0.5 * (key.box[0] + key.box[2])
        left = any(beside(key, p) and p.box[2] < cx and key.box[0] - p.box[2] < reach for p in parens)
        right = any(beside(key, p) and p.box[0] > cx and p.box[0] - key.box[2] < reach for p in parens)
        return left and right

    return [dataclasses.replace(s, cls=s.cls.replace("key_", "accidental_", 1))
            if vocab.CLASSES[s.cls].role == "key" and enclosed(s) else s for s in symbols]


#: A time signature's two digits stand one over the other, their centres this far
#: apart (staff spaces: each digit is two spaces tall) ...
STACKED_DIGITS_SS = (1.4, 2.6)
#: ... and overlapping by this fraction of the narrower one's width at least.
STACKED_DIGITS_OVERLAP = 0.5


def time_digits_read_as_notes(symbols: list[Symbol], seen: Sequence[Symbol], *,
                              staff_space: float) -> list[Symbol]:
    """``symbols`` with each notehead that the detector also saw as a time digit
    (in ``seen``, doubtful ones too; boxes overlapping by ``DUPLICATE_IOU``) read as
    that digit where another time digit it saw stands right over or under it (see
    ``STACKED_DIGITS_SS``): a blurred "2", "6" or "8" of a time signature read as a
    whole note. A notehead with no digit stacked on it stays a note, as a whole
    note the detector also took for a "6" does."""
    import dataclasses

    import numpy as np

    from omr.eval.detection import iou_matrix

    heads = [i for i, s in enumerate(symbols) if vocab.CLASSES[s.cls].role == "notehead"]
    digits = [d for d in seen if d.cls in vocab.TIME_DIGITS]
    if not heads or not digits:
        return symbols
    iou = iou_matrix(np.array([symbols[i].box for i in heads], float), np.array([d.box for d in digits], float))
    lo, hi = STACKED_DIGITS_SS[0] * staff_space, STACKED_DIGITS_SS[1] * staff_space

    def stacked(a: Symbol, b: Symbol) -> bool:
        width = min(a.box[2] - a.box[0], b.box[2] - b.box[0])
        overlap = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
        dy = abs(0.5 * (a.box[1] + a.box[3]) - 0.5 * (b.box[1] + b.box[3]))
        return overlap >= STACKED_DIGITS_OVERLAP * width and lo <= dy <= hi

    out = list(symbols)
    for row, i in enumerate(heads):
        here = sorted((d for d, v in zip(digits, iou[row]) if v > DUPLICATE_IOU), key=lambda d: -d.score)
        if here and any(stacked(here[0], d) for d, v in zip(digits, iou[row]) if v <= DUPLICATE_IOU):
            out[i] = dataclasses.replace(symbols[i], cls=here[0].cls, box=here[0].box,
                                         alternatives=tuple(d.cls for d in here[1:]))
    return out


#: A detected barline less confident than this is kept only where the image shows
#: a thin line through its staff (:func:`omr.staff.find_barlines`) within
#: ``BARLINE_DUPLICATE_SS``: alone on a one-staff system, nothing else confirms it.
WEAK_BARLINE_SCORE = 0.5
#: ... or where every other staff of its system has a detected barline at about its
#: x (within ``BARLINE_DUPLICATE_SS``, plus this much per staff between them: the
#: barlines of a photo left in perspective slant), as motion blur leaves no line.
BARLINE_SLANT_SS = 0.6
#: ... and on a staff that is a system of its own, one less confident than this
#: (no other staff's barline backs it; a pencil circle's arc passes for one).
LONE_STAFF_BARLINE_SCORE = 0.8
#: Barlines with repeat dots (see :func:`confirm_weak_barlines`).
REPEAT_BARLINES = ("barline_repeat_start", "barline_repeat_end", "barline_repeat_both")


#: A weak barline through the box of a more confident symbol of these roles is
#: that symbol's upright stroke (a G clef's, a "1" or "4" of a time signature).
STROKE_ROLES = ("clef", "time", "key")
#: A weak barline's box spans at least this fraction of its staff's height.
WEAK_BARLINE_MIN_HEIGHT = 0.6


def confirm_weak_barlines(symbols: list[Symbol], staves, lines, doubtful: Sequence[Symbol] = ()) -> list[Symbol]:
    """``symbols`` without the weak barlines (:data:`WEAK_BARLINE_SCORE`, or
    :data:`LONE_STAFF_BARLINE_SCORE` on a one-staff system) that neither a line in the
    image (``lines``: ``(staff, x0, x1)``; for a repeat sign, whose dots keep notes
    off it, not a stem, which a notehead touches: a chord's double flag passes for
    one) nor barlines on every other staff of their
    system (``BARLINE_SLANT_SS``; ``doubtful`` ones, too doubtful to read, count)
    confirm, or that run through a more confident clef, key or time signature
    (:data:`STROKE_ROLES`); with the ``doubtful`` barlines that such a full column
    of barlines, one of them kept, confirms, unless a notehead touches them (a
    stem)."""
    if not staves:
        return symbols
    staff_of = _nearest_staff(staves)

    def cx(sym: Symbol) -> float:
        return 0.5 * (sym.box[0] + sym.box[2])

    def role(sym: Symbol) -> str:
        return vocab.CLASSES[sym.cls].role

    by_staff: dict[int, list[float]] = {}  # staff -> x of the lines through it
    for index, x0, x1 in lines:
        by_staff.setdefault(index, []).append(0.5 * (x0 + x1))
    # the other staves of each staff's system (none: the staff is a system alone)
    peers = {k: [j for j, t in enumerate(staves) if j != k and t.system == s.system] if s.system >= 0 else []
             for k, s in enumerate(staves)}
    doubtful_bars = [d for d in doubtful if role(d) == "barline"]
    barlines: dict[int, list[float]] = {}  # staff -> x of the detected barlines on it
    for sym in [s for s in symbols if role(s) == "barline"] + doubtful_bars:
        barlines.setdefault(staff_of(sym), []).append(cx(sym))
    strokes = [o for o in symbols if role(o) in STROKE_ROLES]

    def near(k: int, j: int, x: float, bx: float) -> bool:
        return abs(x - bx) <= (BARLINE_DUPLICATE_SS + BARLINE_SLANT_SS * abs(j - k)) * staves[k].staff_space

    def whole_system(k: int, x: float) -> bool:
        """Every other staff of ``k``'s system has a barline at about ``x``."""
        return bool(peers[k]) and all(any(near(k, j, x, bx) for bx in barlines.get(j, [])) for j in peers[k])

    sure: dict[int, list[float]] = {}  # staff -> x of its barlines sure on their own
    for sym in symbols:
        if role(sym) == "barline" and sym.score >= WEAK_BARLINE_SCORE:
            sure.setdefault(staff_of(sym), []).append(cx(sym))

    @functools.cache
    def placed() -> dict[tuple[str, int], list[Symbol]]:
        """The noteheads and beams by (role, staff): found once, when first needed."""
        out: dict[tuple[str, int], list[Symbol]] = {}
        for o in symbols:
            if role(o) in ("notehead", "beam"):
                out.setdefault((role(o), staff_of(o)), []).append(o)
        return out

    def stem(k: int, x: float, *, beam_ends: bool = False) -> bool:
        """A notehead of staff ``k`` touches the line at ``x`` (it is a stem), or,
        with ``beam_ends``, a beam ends at it."""
        gap = BARLINE_STEM_SS * staves[k].staff_space
        if any(_touches(o, x, gap) for o in placed().get(("notehead", k), [])):
            return True
        return beam_ends and any(min(abs(o.box[0] - x), abs(o.box[2] - x)) < gap
                                 for o in placed().get(("beam", k), []))

    def backed(k: int, x: float) -> bool:
        """Another staff of ``k``'s system has a sure barline at about ``x``, and no
        notehead touches either line nor a beam ends at it (a stem)."""
        return not stem(k, x, beam_ends=True) and any(near(k, j, x, bx) and not stem(j, bx, beam_ends=True)
                                                      for j in peers[k] for bx in sure.get(j, []))

    def stroke_or_short(sym: Symbol, k: int, x: float) -> bool:
        """``sym`` is the upright stroke of a surer clef or time signature, or too
        short for a barline (a stem's or a hairpin's stroke)."""
        if any(o.score > sym.score and _crosses(o, x, sym.box[1], sym.box[3]) for o in strokes):
            return True
        return sym.box[3] - sym.box[1] < WEAK_BARLINE_MIN_HEIGHT * 4 * staves[k].staff_space

    out = []
    for sym in symbols:
        if role(sym) != "barline":
            out.append(sym)
            continue
        x, k = cx(sym), staff_of(sym)
        if sym.score < (WEAK_BARLINE_SCORE if peers[k] else LONE_STAFF_BARLINE_SCORE):
            if stroke_or_short(sym, k, x):
                continue
            reach = BARLINE_DUPLICATE_SS * staves[k].staff_space + 0.5 * (sym.box[2] - sym.box[0])
            lines_here = [lx for lx in by_staff.get(k, []) if abs(x - lx) <= reach]
            if sym.cls in REPEAT_BARLINES:  # a repeat's dots keep the notes off it
                lines_here = [lx for lx in lines_here if not stem(k, lx)]
            if not lines_here and not whole_system(k, x) and not backed(k, x):
                continue
        out.append(sym)
    # doubtful barlines in a full column that holds a kept barline are read too
    kept = [(staff_of(b), cx(b)) for b in out if role(b) == "barline"]
    for d in doubtful_bars:
        x, k = cx(d), staff_of(d)
        if not whole_system(k, x) or stroke_or_short(d, k, x):
            continue
        if not any(j in peers[k] and near(k, j, x, bx) for j, bx in kept):
            continue
        if stem(k, x):
            continue  # a notehead at its side
        out.append(d)
    return out


#: The small "8" of an octave clef, read from the image: the detector often takes a
#: tenor's treble-8 clef for a treble clef or the other way round, and hardly ever
#: sees an 8 above one. Along the middle ``1 - 2 * OCTAVE_BAND_MARGIN`` of a G clef's
#: box, its ink runs on past the staff's outer line (gaps of at most
#: ``OCTAVE_GAP_SS``): a plain clef's tail or top loop ends within
#: ``OCTAVE_MARK_FROM_SS`` staff spaces of the line (and reaches at least
#: ``CLEF_TAIL_MIN_SS`` below it), the 8 below or above ends within
#: ``OCTAVE_MARK_TO_SS`` (further: a neighbour's note, text).
OCTAVE_BAND_MARGIN = 0.2
OCTAVE_GAP_SS = 0.35
OCTAVE_MARK_FROM_SS = 1.9
OCTAVE_MARK_TO_SS = 2.9
CLEF_TAIL_MIN_SS = 0.8
#: The mark's rows (those from ``OCTAVE_MARK_ROWS_SS`` beyond the line, below or above)
#: hold one glyph this wide, staff spaces, within ``OCTAVE_MARK_SEARCH_SS`` of the
#: box: a digit, not a word or a line.
OCTAVE_MARK_ROWS_SS = {"below": 1.85, "above": 1.6}
OCTAVE_MARK_WIDTH_SS = (0.5, 1.4)
OCTAVE_MARK_SEARCH_SS = 1.5
#: An 8 above sits over the clef's upper loop, right of the box's middle by at least
#: this fraction of its width (a measure number above the staff's start sits left).
OCTAVE_ABOVE_MIN_RIGHT = 0.1
#: Clefs whose box is shorter than this (staff spaces) are clef changes, printed
#: smaller: not measured.
FULL_CLEF_MIN_SS = 4.5
#: ... and those within this many staff spaces of the image's side may be cut by it.
OCTAVE_EDGE_SS = 1.0
G_CLEFS = {"below": "clef_g_8vb", "above": "clef_g_8va", None: "clef_g"}


def _ink_reach(binary, staff, box, side: str, room: float) -> tuple[float, float, float]:
    """How far (staff spaces) the ink along the middle of the clef ``box`` runs on
    past the staff's bottom (``side`` "below") or top ("above") line, up to ``room``
    staff spaces, and the width (staff spaces) and centre (fraction of the box width
    right of its middle) of the glyph in the rows of a possible octave mark (0, 0
    when there is none)."""
    import numpy as np

    ss = staff.staff_space
    x0, _, x1, _ = box
    w = x1 - x0
    cx = 0.5 * (x0 + x1)
    h, wid = binary.shape
    a = int(np.clip(round(x0 + OCTAVE_BAND_MARGIN * w), 0, wid - 1))
    b = int(np.clip(round(x1 - OCTAVE_BAND_MARGIN * w), a + 1, wid))
    if side == "below":
        rows = np.arange(int(round(staff.y_bottom(cx))) + 1, min(h, int(staff.y_bottom(cx) + room * ss)))
    else:
        rows = np.arange(int(round(staff.y_top(cx))) - 1, max(-1, int(staff.y_top(cx) - room * ss)), -1)
    last, miss = 0, 0
    for i, inked in enumerate(binary[rows, a:b].any(axis=1)):  # outward from the line
        if inked:
            last, miss = i, 0
        else:
            miss += 1
            if miss > OCTAVE_GAP_SS * ss:
                break
    reach = last / ss
    mark_rows = rows[int(OCTAVE_MARK_ROWS_SS[side] * ss): last + 1]
    if not len(mark_rows):
        return reach, 0.0, 0.0
    wa = int(max(0, x0 - OCTAVE_MARK_SEARCH_SS * ss))
    wb = int(min(wid, x1 + OCTAVE_MARK_SEARCH_SS * ss))
    inked = binary[mark_rows, wa:wb].any(axis=0)
    inside = np.nonzero(inked[a - wa:b - wa])[0]
    if not len(inside):
        return reach, 0.0, 0.0
    left = right = int(inside[0]) + a - wa
    while left > 0 and inked[left - 1]:
        left -= 1
    while right + 1 < len(inked) and inked[right + 1]:
        right += 1
    return reach, (right - left + 1) / ss, (0.5 * (left + right) + wa - cx) / w


def _octave_mark_seen(binary, staff, box, side: str, room: float) -> bool | None:
    """Whether the image shows an 8 ``side`` ("below" or "above") the G clef in
    ``box``: True, False (the plain clef's tail or top ends there), or None (it
    cannot tell: other ink runs on, or on into the half of the ``room`` staff spaces
    to the next staff that is that staff's, or the clef's own is not seen)."""
    room = min(0.5 * room, 2 * OCTAVE_MARK_TO_SS)
    reach, width, right = _ink_reach(binary, staff, box, side, room)
    if reach >= room - OCTAVE_GAP_SS:
        return None
    lo, hi = OCTAVE_MARK_WIDTH_SS
    if OCTAVE_MARK_FROM_SS < reach <= OCTAVE_MARK_TO_SS and lo <= width <= hi \
            and (side == "below" or right >= OCTAVE_ABOVE_MIN_RIGHT):
        return True
    if reach <= OCTAVE_MARK_FROM_SS and (side == "above" or reach >= CLEF_TAIL_MIN_SS):
        return False
    return None


def octave_mark(binary, staff, box, said: str = "clef_g", *, room_below: float = float("inf"),
                room_above: float = float("inf")) -> str:
    """Which G clef the ink around ``box`` (normalized px) on ``staff`` shows:
    ``"clef_g"``, ``"clef_g_8vb"`` (an 8 below) or ``"clef_g_8va"`` (an 8 above).
    ``said``, the detector's reading, stays where the image cannot tell (see
    ``OCTAVE_MARK_FROM_SS``). ``room_below``, ``room_above``: staff spaces from the
    staff's outer line to the next staff's (a clef there reaches towards this one)."""
    room = {"below": room_below, "above": room_above}
    seen = {side: _octave_mark_seen(binary, staff, box, side, room[side]) for side in ("below", "above")}
    eights = [side for side, eight in seen.items() if eight]
    if len(eights) == 1:
        return G_CLEFS[eights[0]]
    if eights or any(said == G_CLEFS[side] and eight is None for side, eight in seen.items()):
        return said
    return G_CLEFS[None]


#: A black notehead narrower than ``CUE_WIDTH_RATIO`` of the median black notehead
#: of its staff, and lower than ``CUE_HEIGHT_RATIO`` of its median height, is
#: cue-sized: a grace or cue note, which the network often scores as a full-size
#: head. On the five test builds (the pages that print cue notes) the 30 cue heads
#: measured 0.70-0.82 of their staff's median width and 0.72-0.86 of its height, the
#: 1,387 full-size heads 0.89 and 0.85 and more (the 0.5th percentiles).
CUE_WIDTH_RATIO = 0.85
CUE_HEIGHT_RATIO = 0.9
#: ... judged on staves with at least this many black noteheads (a median of a few
#: says little), and not within this many staff spaces of the image's side, where
#: the photo's edge may cut a head.
CUE_MIN_HEADS = 6
CUE_EDGE_SS = 1.5


def cue_sized_heads(symbols: list[Symbol], staves, width: int) -> None:
    """Read each black notehead much smaller than its staff's others as a cue-sized
    head (``notehead_black_cue``: a grace note unless the measure says otherwise),
    keeping the full-size reading as its first alternative. ``width``: the page
    image's, px."""
    import numpy as np

    if not staves:
        return
    nearest = _nearest_staff(staves)
    by_staff: dict[int, list[Symbol]] = {}
    for s in symbols:
        if s.cls == "notehead_black":
            by_staff.setdefault(nearest(s), []).append(s)
    for k, heads in by_staff.items():
        if len(heads) < CUE_MIN_HEADS:
            continue
        edge = CUE_EDGE_SS * staves[k].staff_space
        typical_w = float(np.median([h.box[2] - h.box[0] for h in heads]))
        typical_h = float(np.median([h.box[3] - h.box[1] for h in heads]))
        for h in heads:
            if h.box[2] - h.box[0] < CUE_WIDTH_RATIO * typical_w \
                    and h.box[3] - h.box[1] < CUE_HEIGHT_RATIO * typical_h \
                    and edge <= h.box[0] and h.box[2] <= width - edge:
                h.alternatives = ("notehead_black",) + tuple(c for c in h.alternatives if c != "notehead_black_cue")
                h.cls = "notehead_black_cue"


def read_octave_marks(symbols: list[Symbol], binary, staves) -> None:
    """Set each full-size G clef's class (plain, 8 below, 8 above) by the ink around
    it where the image tells (:func:`octave_mark`); the detector's reading stays
    where it does not."""
    for d in symbols:
        if d.cls not in G_CLEFS.values():
            continue
        cx, cy = 0.5 * (d.box[0] + d.box[2]), 0.5 * (d.box[1] + d.box[3])
        on = [s for s in staves if s.y_top(cx) <= cy <= s.y_bottom(cx)]
        if not on:
            continue
        s, ss = on[0], on[0].staff_space
        if d.box[3] - d.box[1] < FULL_CLEF_MIN_SS * ss \
                or min(d.box[0], binary.shape[1] - d.box[2]) < OCTAVE_EDGE_SS * ss:
            continue  # a clef change, or a clef the photo's edge may cut
        beside = [t for t in staves if t.x0 - OCTAVE_EDGE_SS * ss <= cx <= t.x1]
        above = [s.y_top(cx) - t.y_bottom(cx) for t in beside if t.y_bottom(cx) < s.y_top(cx)]
        below = [t.y_top(cx) - s.y_bottom(cx) for t in beside if t.y_top(cx) > s.y_bottom(cx)]
        seen = octave_mark(binary, s, d.box, d.cls, room_below=min(below, default=float("inf")) / ss,
                           room_above=min(above, default=float("inf")) / ss)
        if seen != d.cls:
            d.alternatives = tuple(c for c in (d.cls,) + d.alternatives if c != seen)
            d.cls = seen


#: An F clef's two dots straddle its line (the bass clef's the fourth, a baritone's
#: the third, a sub-bass clef's the top one) in the spaces beside it, where the box
#: alone, a glyph about three staff spaces tall, can leave the line in doubt. They
#: stand in the columns from ``F_CLEF_DOT_COLUMNS_SS`` staff spaces of the box's right
#: edge (inwards, outwards). Each space's darkness there is the mean over the middle
#: ``F_CLEF_DOT_ROWS_SS`` of it, in its darkest column; the two spaces of the dots are
#: darker than every other space beside the clef by ``F_CLEF_DOT_CONTRAST`` grey levels,
#: and twice as dark, or the image does not tell.
F_CLEF_DOT_COLUMNS_SS = (0.6, 0.2)
F_CLEF_DOT_ROWS_SS = 0.3
F_CLEF_DOT_CONTRAST = 50.0
#: The spaces (staff positions) an F clef's dots may stand in: the lowest space below
#: the staff up to the space above it.
F_CLEF_DOT_SPACES = (-1, 1, 3, 5, 7, 9)


def f_clef_line(grey, staff, box) -> int | None:
    """The staff line (1 = bottom, 5 = top) that the two dots of the F clef in
    ``box`` (normalized px) on ``staff`` straddle, or None where the image does not
    tell. ``grey``: the normalized page image (dark ink on light paper)."""
    import numpy as np

    ss = staff.staff_space
    h, w = grey.shape[:2]
    inner, outer = F_CLEF_DOT_COLUMNS_SS
    columns = range(max(0, int(box[2] - inner * ss)), min(w, int(box[2] + outer * ss) + 1))
    if not len(columns):
        return None
    half_rows = 0.5 * F_CLEF_DOT_ROWS_SS * ss
    darkness = {}
    for p in F_CLEF_DOT_SPACES:
        best = 0.0
        for c in columns:
            y = staff.position_y(c, p)
            a, b = int(round(y - half_rows)), int(round(y + half_rows)) + 1
            if 0 <= a and b <= h:
                best = max(best, 255.0 - float(np.mean(grey[a:b, c])))
        darkness[p] = best
    low = max(F_CLEF_DOT_SPACES[:-1], key=lambda p: min(darkness[p], darkness[p + 2]))
    dots = min(darkness[low], darkness[low + 2])
    rest = max(v for p, v in darkness.items() if p not in (low, low + 2))
    if dots - rest < F_CLEF_DOT_CONTRAST or dots < 2 * rest:
        return None
    return (low + 1) // 2 + 1


def read_f_clef_lines(symbols: list[Symbol], grey, staves) -> None:
    """Move each F clef's box (in place) so its centre stands half a staff space
    below the line its dots straddle (:func:`f_clef_line`) where the box's centre
    says another line: the parser reads a clef's line from its centre
    (``omr.notation.pitch.clef_for``). A clef whose dots the image does not show
    stays as the detector boxed it. ``grey``: the normalized page image."""
    from omr.notation.pitch import clef_for

    for d in symbols:
        if d.cls != "clef_f":
            continue
        cx, cy = 0.5 * (d.box[0] + d.box[2]), 0.5 * (d.box[1] + d.box[3])
        on = [s for s in staves if s.x0 - s.staff_space <= cx <= s.x1
              and s.y_top(cx) - 2 * s.staff_space <= cy <= s.y_bottom(cx) + 2 * s.staff_space]
        if not on:
            continue
        s = min(on, key=lambda t: abs(t.center_y - cy))
        line = f_clef_line(grey, s, d.box)
        if line is None or clef_for(d.cls, int(round(s.position(cx, cy)))).line == line:
            continue
        dy = s.line_y(5 - line, cx) + 0.5 * s.staff_space - cy
        d.box = (d.box[0], d.box[1] + dy, d.box[2], d.box[3] + dy)


#: A barline is a crease (a fold in the paper, a line through the whole page) when
#: the gaps beyond its system (above and below, where at least ``CREASE_MIN_GAP_SS``
#: staff spaces of one lie in the photo, up to ``CREASE_REACH_SS``, leaving
#: ``CREASE_MARGIN_SS`` by each staff) are inked at its x over this fraction of the rows.
CREASE_MIN_INK = 0.8
CREASE_MIN_GAP_SS = 3.0
CREASE_REACH_SS = 8.0
CREASE_MARGIN_SS = 0.75
#: Half the width of the column searched for the crease's ink, staff spaces.
CREASE_HALF_WIDTH_SS = 0.4
#: ... and the column must stand out from the paper beside it: the columns
#: ``CREASE_SIDE_SS`` to its left and right, the less inked of them, are inked over at
#: least ``CREASE_CONTRAST`` fewer of the rows (grain in low light inks every column).
CREASE_SIDE_SS = 1.5
CREASE_CONTRAST = 0.2


def drop_creases(symbols: list[Symbol], binary, staves, systems: list[list[int]]) -> list[Symbol]:
    """``symbols`` without the barlines that continue beyond their system: a barline
    ends at its system's outer staves, a crease in the paper runs on (its column
    inked more than the paper beside it) through the gaps on both sides of the
    system. A line through one gap only joins the system to a staff beyond it (one
    that staff analysis lost or put in a system of its own, or one the photo's edge
    cut off): it is kept. A gap too short to judge, or cut off by the photo, says neither."""
    import numpy as np

    if not staves or not systems:
        return symbols
    h, w = binary.shape
    ss = float(np.median([s.staff_space for s in staves]))
    centres = np.array([s.center_y for s in staves])
    system_of = {i: k for k, members in enumerate(systems) for i in members}

    def ink_rows(x: float, r0: int, r1: int) -> float:
        half = CREASE_HALF_WIDTH_SS * ss  # a crease runs a little askew
        c0, c1 = int(max(0, round(x - half))), int(min(w, round(x + half) + 1))
        return float(binary[r0:r1, c0:c1].any(axis=1).mean()) if c1 > c0 else 0.0

    def inked(x: float, y0: float, y1: float) -> bool | None:
        r0, r1 = int(max(0, np.ceil(y0))), int(min(h, np.floor(y1)))
        if r1 - r0 < CREASE_MIN_GAP_SS * ss:
            return None
        here = ink_rows(x, r0, r1)
        if here < CREASE_MIN_INK:
            return False
        beside = min(ink_rows(x - CREASE_SIDE_SS * ss, r0, r1), ink_rows(x + CREASE_SIDE_SS * ss, r0, r1))
        return here - beside >= CREASE_CONTRAST

    out = []
    for sym in symbols:
        if vocab.CLASSES[sym.cls].role != "barline":
            out.append(sym)
            continue
        x, y = 0.5 * (sym.box[0] + sym.box[2]), 0.5 * (sym.box[1] + sym.box[3])
        k = system_of.get(int(np.argmin(np.abs(centres - y))))
        if k is None:
            out.append(sym)
            continue
        first, last = staves[systems[k][0]], staves[systems[k][-1]]
        top, bottom = first.y_top(x) - CREASE_MARGIN_SS * ss, last.y_bottom(x) + CREASE_MARGIN_SS * ss
        above = staves[systems[k - 1][-1]].y_bottom(x) + CREASE_MARGIN_SS * ss if k > 0 else top - CREASE_REACH_SS * ss
        below = staves[systems[k + 1][0]].y_top(x) - CREASE_MARGIN_SS * ss if k + 1 < len(systems) else bottom + CREASE_REACH_SS * ss
        y_above, y_below = max(above, top - CREASE_REACH_SS * ss), min(below, bottom + CREASE_REACH_SS * ss)
        # a fold runs on through the gaps on both sides of the system; a gap too
        # short to judge (or cut off by the photo's edge) says nothing (None)
        judged = [s for s in (inked(x, y_above, top), inked(x, bottom, y_below)) if s is not None]
        if judged and all(judged):
            continue
        out.append(sym)
    return out


#: A barline is printed as dark as the staff lines, and as the page's other
#: barlines. Its darkness: that of its darkest column in its box, between the lines,
#: below the paper beside it (0.4 to 1 staff space to each side, the
#: ``PALE_BARLINE_PAPER_PERCENTILE`` of those rows), over that of the staff lines (the
#: median over the five, in the same columns beside it). One under
#: ``PALE_BARLINE_RATIO`` of it, and under that fraction of the median of the page's
#: barlines, is the shading of a fold in the paper (a crease through a staff
#: measures about 0.3, printed barlines 0.8 and more). On a page shaken sideways as it
#: was photographed, every barline is as pale (about 0.25; the lines keep their
#: darkness): none of them is a fold.
PALE_BARLINE_RATIO = 0.5
PALE_BARLINE_PAPER_PERCENTILE = 75
PALE_BARLINE_SIDE_SS = (0.4, 1.0)


def barline_darkness(sym: Symbol, grey, staff) -> float | None:
    """How dark the barline ``sym`` is against the paper, over how dark ``staff``'s
    lines are beside it (see :data:`PALE_BARLINE_RATIO`); None where it cannot be
    measured (off the page, or on a page with no dark lines)."""
    import numpy as np

    h, w = grey.shape
    x0, _, x1, _ = sym.box
    x = 0.5 * (x0 + x1)
    lines = np.array([staff.line_y(i, x) for i in range(5)], float)
    half = 0.5 * staff.line_thickness + 1
    rows = _rows_off_lines(staff, x, range(max(0, int(np.ceil(lines[0]))), min(h, int(np.floor(lines[4])) + 1)))
    c0, c1 = max(0, int(np.floor(x0)) - 1), min(w, int(np.ceil(x1)) + 2)
    if not rows or c1 <= c0:
        return None
    between = grey[rows].astype(np.float32)
    col = c0 + int(np.argmin(between[:, c0:c1].mean(axis=0)))  # the barline's column
    near, far = (v * staff.staff_space for v in PALE_BARLINE_SIDE_SS)
    side = [c for c in (*range(int(col - far), int(col - near) + 1), *range(int(col + near), int(col + far) + 1))
            if 0 <= c < w]
    if not side:
        return None
    paper = float(np.percentile(between[:, side], PALE_BARLINE_PAPER_PERCENTILE))
    line = []
    for y in lines:
        r0, r1 = max(0, int(round(y - half))), min(h, int(round(y + half)) + 1)
        if r1 > r0:
            line.append(paper - float(np.median(grey[r0:r1][:, side].min(axis=0))))
    lines_dark = float(np.median(line)) if line else 0.0
    if not lines_dark > 0:
        return None
    return (paper - float(np.median(between[:, col]))) / lines_dark


def drop_pale_barlines(symbols: list[Symbol], grey, staves) -> list[Symbol]:
    """``symbols`` without the barlines too pale to be printed (see
    :data:`PALE_BARLINE_RATIO`): the shaded edge of a fold in the paper, which the
    detector can take for a barline where it crosses a staff. ``grey``: the
    normalized page image."""
    import numpy as np

    if not staves:
        return symbols
    staff_of = _nearest_staff(staves)
    dark = {id(s): barline_darkness(s, grey, staves[staff_of(s)])
            for s in symbols if vocab.CLASSES[s.cls].role == "barline"}
    known = [v for v in dark.values() if v is not None]
    if not known:
        return symbols
    limit = PALE_BARLINE_RATIO * min(1.0, float(np.median(known)))
    return [s for s in symbols if dark.get(id(s)) is None or dark[id(s)] >= limit]


#: A photo whose staff lines lie fewer than this many pixels apart reads less well:
#: its lines are a pixel thin or less, and a second JPEG compression (a messaging
#: app's) fades them (on 20 test pages shrunk to 1600 px and compressed again, about
#: 9 px per staff space: 79% of the notes against 95% as photographed). The report
#: says so, with what helps.
SMALL_STAFF_SPACE_PX = 10.0


def _read_photo(image, photo_no: int, first_page: int, *, model, ocr: bool, timings: dict,
                turned: bool | None = None) -> tuple[list, Report]:
    """``([(DetectionResult, StaffGraph), ...], report)`` of one photo: detected
    (``turned``: see :func:`omr.detect.infer.detect`), split into the pages side by
    side on it, each page's staff graph built; pages numbered from ``first_page``.
    Raises :class:`~omr.errors.NoMusicError` where a page shows no staves."""
    import time

    from omr.detect.infer import detect

    report = Report()
    t = time.perf_counter()
    result = detect(image, model=model, turned=turned)
    timings["detect"] += time.perf_counter() - t
    if result.staff_space < SMALL_STAFF_SPACE_PX:
        report.warn("small_staves", f"the staff lines are only {result.staff_space:.1f} px apart in photo "
                                    f"{photo_no}: a photo taken closer, or sent as a file rather than "
                                    "through a messaging app, reads better", page=first_page)
    t = time.perf_counter()
    parts = split_columns(result)
    if len(parts) > 1:
        report.infer("columns", f"photo {photo_no} holds {len(parts)} pages (or columns of music) side by "
                                "side: read from left to right", page=first_page)
    read = [(part, page_graph(part, ocr=ocr, report=report, page_no=first_page + k, binary=binary))
            for k, (part, binary) in enumerate(parts)]
    timings["graph"] += time.perf_counter() - t
    return read, report


def transcribe(images: Sequence, *, model=None, ocr: bool = True, title: str | None = None,
               progress: Callable[[str, float], None] | None = None) -> Transcription:
    """Photos of the pages of one piece (paths, bytes or RGB arrays, in order) →
    :class:`Transcription`.

    ``model``: a loaded detector (:func:`omr.detect.infer.load_model`), loaded once
    here when None. ``progress(step, fraction)`` is called as pages are done.
    Raises :class:`omr.errors.ImageError` / :class:`omr.errors.NoMusicError` for a
    page that cannot be read.
    """
    import time

    from omr.detect.infer import load_model

    if isinstance(images, (str, bytes)) or not len(images):
        raise ParameterError("transcribe() takes a list of page images (at least one)")
    model = model or load_model()
    report = Report()
    results, graphs, sources = [], [], []
    timings = {"detect": 0.0, "graph": 0.0, "notation": 0.0}
    for i, image in enumerate(images, start=1):
        if progress:
            progress(f"page {i} of {len(images)}: detecting symbols", (i - 1) / len(images))
        first = len(graphs) + 1
        # where no staves are found the page analysis may have been misled (grain
        # spaced like staff lines, a wrong quarter turn): the photo is read again with
        # each quarter turn set, and refused with the first reading's reason
        refusal = None
        for turned in (None, False, True):
            try:
                read, photo_report = _read_photo(image, i, first, model=model, ocr=ocr,
                                                 timings=timings, turned=turned)
                break
            except NoMusicError as err:
                refusal = refusal or err
        else:
            raise refusal
        report.inferred.extend(photo_report.inferred)
        report.warnings.extend(photo_report.warnings)
        for part, graph in read:
            results.append(part)
            graphs.append(graph)
            sources.append(i - 1)
        if progress:
            progress(f"page {i} of {len(images)}: read", i / len(images))
    t = time.perf_counter()
    score, notation_report = score_from_graphs(graphs, title=title)
    timings["notation"] = time.perf_counter() - t
    report.inferred.extend(notation_report.inferred)
    report.warnings.extend(notation_report.warnings)
    if progress:
        progress("done", 1.0)
    return Transcription(score=score, detections=results, graph=graphs, report=report, timings=timings,
                         sources=sources)
