"""Staff graphs → music: measures, voices, pitches, implied notation, a music21 Score.

Reading goes in two passes over the pages of one piece, in order:

1. :func:`read_measures` walks every system's measures (see
   :func:`omr.notation.layout.system_measures`) staff by staff: clef, key and time
   changes by x, the events of each staff (:mod:`omr.notation.rhythm`), pitches
   (:mod:`omr.notation.pitch`: clef, key, accidentals carried through the measure
   and across ties), voices and onsets (:mod:`omr.notation.voices`), and what is
   written over the measures (voltas, segno/coda, D.C./D.S./Fine, tempo).
2. :func:`resolve_measures` makes every voice add up to its measure
   (:mod:`omr.notation.implied`: implied tuplets, rests placed by the other voices'
   columns, restored rests, a pickup at the start) and records each inference in
   the :class:`Report`.

:func:`to_music21` then builds the Score (parts from the staves of the first system,
staves joined by a brace are one part), with repeat barlines, endings and
navigation as music21 repeat objects. Inferred notes and rests are coloured
``INFERRED_COLOUR`` so the user can see them.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction

import numpy as np

from omr.graph import StaffGraph
from omr.notation import implied
from omr.notation.layout import (REPEAT_END, REPEAT_START, MeasureSpan, half_read_time, level_barlines,
                                 signature_groups, system_measures, time_readings)
from omr.notation.pitch import (CLEFS, ClefInfo, MeasureAccidentals, clef_for, fifths_from_key_symbols, key_starts_right,
                                pitch_at)
from omr.notation.rhythm import Event, beam_values, dotted, read_events
from omr.notation.voices import columns_conflict, set_onsets, split_voices, total, voice_lengths

#: Colour of inferred notes and rests in the output (MusicXML ``color``).
INFERRED_COLOUR = "#D55E00"
#: Clef, key and time assumed when a staff shows none (reported).
DEFAULT_CLEF = "clef_g"
DEFAULT_TIME = (4, 4)


@dataclass
class Inference:
    """One thing the program inferred or doubts: ``kind`` (e.g. "implied_tuplet",
    "restored_rest", "pickup", "overfull", "default_clef"), where (1-based page,
    measure, staff), and what, in words. ``measure`` counts the piece's measures
    from 1; ``number`` is that measure's number in the score (as printed, see
    :func:`measure_numbers`), once the measures are numbered."""

    kind: str
    detail: str
    page: int = 0
    measure: int = 0
    staff: int = 0
    number: str = ""

    def where(self) -> str:
        """"page 1, measure 14, staff 2": the measure by its number in the score
        where it has one.

        >>> Inference("overfull", "", page=2, measure=5, staff=1, number="14").where()
        'page 2, measure 14, staff 1'
        """
        measure = self.number or self.measure
        return ", ".join(f"{k} {v}" for k, v in (("page", self.page), ("measure", measure),
                                                  ("staff", self.staff)) if v)


@dataclass
class Report:
    """What a transcription inferred (``inferred``) and what it doubts (``warnings``)."""

    inferred: list[Inference] = field(default_factory=list)
    warnings: list[Inference] = field(default_factory=list)

    def infer(self, kind: str, detail: str, **where) -> None:
        self.inferred.append(Inference(kind, detail, **where))

    def warn(self, kind: str, detail: str, **where) -> None:
        self.warnings.append(Inference(kind, detail, **where))

    def to_dict(self) -> dict:
        return {"inferred": [asdict(i) for i in self.inferred], "warnings": [asdict(w) for w in self.warnings]}

    def lines(self) -> list[str]:
        """The report in words, one line per entry."""
        out = []
        for label, items in (("inferred", self.inferred), ("warning", self.warnings)):
            for i in items:
                where = i.where()
                out.append(f"{label}: {i.detail}" + (f" ({where})" if where else ""))
        return out


@dataclass
class StaffMeasure:
    """One staff's share of a measure."""

    events: list[Event]
    voices: dict[int, list[Event]] = field(default_factory=dict)
    clef: ClefInfo | None = None          # clef in force at the measure's start
    clef_changes: list[tuple[float, ClefInfo]] = field(default_factory=list)  # (x, clef) inside
    key: int | None = None                # key change at the measure's start
    pitches: dict[int, tuple[str, int, int, bool]] = field(default_factory=dict)
    ties: dict[int, set] = field(default_factory=dict)
    staff_space: float = 10.0


@dataclass
class ReadMeasure:
    """A measure of the piece as read: where it is, its staves, what is over it."""

    page: int
    system: int
    span: MeasureSpan
    graph: StaffGraph
    staff_ids: list[int]                  # page staff index of each staff slot
    staves: list[StaffMeasure]
    time: tuple[int, int] = DEFAULT_TIME
    length: Fraction = Fraction(4)
    pickup: bool = False
    irregular: bool = False               # longer than its time signature, on every staff
    completes_pickup: bool = False        # the last measure, as short as the pickup leaves it
    volta: tuple[int, ...] = ()
    volta_first: bool = False
    volta_last: bool = False
    marks: set = field(default_factory=set)   # segno, coda, fine, tocoda, dacapo..., dalsegno...
    tempo: tuple[str, float | None] | None = None

    @property
    def bar(self) -> Fraction:
        return Fraction(4 * self.time[0], self.time[1])


# ---------------------------------------------------------------------------
# Pass 1: reading
# ---------------------------------------------------------------------------


def read_measures(graphs: list[StaffGraph], report: Report) -> list[ReadMeasure]:
    """Every measure of the pages ``graphs`` (in order), read but not yet resolved."""
    measures: list[ReadMeasure] = []
    clefs: dict[int, ClefInfo] = {}
    keys: dict[int, int] = {}
    time = None
    # Until a time signature is read, the meter is the one the measures' contents
    # suggest, voted over every system read so far (a first system read badly does
    # not decide it alone); ``unprinted`` holds each such system's lengths.
    unprinted: list[tuple[list[set], list[Fraction]]] | None = []
    unprinted_note: Inference | None = None
    n_slots, slot_maps = staff_slots(graphs)
    votes = _clef_votes(graphs, slot_maps)
    part_clefs = {slot: _part_clef(vote) for slot, vote in votes.items()}
    for page_no, g in enumerate(graphs, start=1):
        g = level_barlines(g)  # a photo whose perspective was left: slanted barlines
        for sys_no, present in enumerate(g.systems):
            spans = system_measures(g, present)
            if not spans:
                continue
            slots = slot_maps[(page_no - 1, sys_no)]
            if len(slots) < n_slots:
                missing = [i + 1 for i in range(n_slots) if i not in slots]
                report.infer("missing_staff", f"a system of {len(present)} staves where the piece has "
                             f"{n_slots}: staff {', '.join(map(str, missing))} taken as left out (rests)",
                             page=page_no, measure=len(measures) + 1)
            first_x = _first_music_x(g, present)
            for slot, s in zip(slots, present):
                _vote_start_clef(g, s, first_x, votes.get(slot, {}), report, page_no)
            # every slot of the piece; a staff left out of this system reads as empty
            # (its nearest present staff stands in for its geometry)
            staves = [present[_nearest(slots, i)] for i in range(n_slots)]
            read = Report()  # (kept once the measures are settled)
            per_staff, time_changes = _read_system(g, staves, slots, spans, clefs, part_clefs, keys, first_x, read,
                                                   page_no, len(measures))
            joined, where = _join_split_measures(spans, per_staff, time_changes, time)
            if where:
                spans, read = joined, Report()
                per_staff, time_changes = _read_system(g, staves, slots, spans, clefs, part_clefs, keys, first_x, read,
                                                       page_no, len(measures))
                for k in where:
                    report.infer("split_measure", "a doubtful barline cut a measure into two short ones that "
                                 "make one whole measure: read as one measure (a crease, a stem or an arpeggio)",
                                 page=page_no, measure=len(measures) + k + 1)
            report.inferred.extend(read.inferred)
            report.warnings.extend(read.warnings)
            for slot in slots:
                last = per_staff[slot][-1]
                clefs[slot] = last.clef_changes[-1][1] if last.clef_changes else last.clef
                keys[slot] = next((m.key for m in reversed(per_staff[slot]) if m.key is not None),
                                  keys.get(slot, 0))
            lengths = _system_lengths(per_staff, spans)
            content_time = _time_from_lengths([lengths])
            time_changes = _settle_half_read(time_changes, per_staff, spans, time or content_time, report,
                                             page_no, len(measures))
            voted = None  # the meter voted for this system's measures before its first time signature
            if time_changes and unprinted is not None:
                # a time signature is read: the measures before it keep the meter
                # voted, which takes in this system's measures before it too
                first = min(time_changes)
                if first > 0:
                    voted = _time_from_lengths(unprinted + [(lengths[0][:first], lengths[1][:first])])
                    if time is not None:
                        time = voted
                        _set_time(measures, time, unprinted_note)
                unprinted = None
            for k, span in enumerate(spans):
                if k in time_changes:
                    time = _choose_time(time_changes[k], per_staff, spans, report, page_no, len(measures) + k + 1)
                    if len(spans) >= TIME_CHECK_MIN_MEASURES \
                            and _fit(time, per_staff, spans) <= TIME_MISFIT_FRACTION \
                            and _fit(content_time, per_staff, spans) >= TIME_FIT_FRACTION:
                        report.warn("time_misread", f"the time signature read as {time[0]}/{time[1]} does not "
                                    f"fit the measures; {content_time[0]}/{content_time[1]} used",
                                    page=page_no, measure=len(measures) + k + 1)
                        time = content_time
                if time is None:
                    time = voted or content_time
                    unprinted_note = Inference("time_from_content", _unprinted_detail(time), page=page_no)
                    report.inferred.append(unprinted_note)
                m = ReadMeasure(page=page_no, system=sys_no, span=span, graph=g, staff_ids=list(staves),
                                staves=[per_staff[i][k] for i in range(len(staves))], time=time)
                m.length = m.bar
                measures.append(m)
                if span.cut:
                    report.infer("cut_measure", "the photo cuts the staves off at the right: a measure beyond "
                                 "its edge is kept as rests, so the measures after it keep their places",
                                 page=page_no, measure=len(measures))
                count = _multi_rest_count(g, staves, span)
                if count > 1:
                    report.infer("multi_rest", f"a rest of {count} measures, written out", page=page_no,
                                 measure=len(measures))
                    right = m.span.right
                    m.span = MeasureSpan(m.span.x0, m.span.x1, left=m.span.left, right=None)
                    for _ in range(count - 1):
                        measures.append(_rest_copy(m))
                    measures[-1].span.right = right
            _read_over_measures(g, present, measures[-len(spans):])
            if unprinted is not None:
                unprinted.append(lengths)
                time = _time_from_lengths(unprinted)
                _set_time(measures, time, unprinted_note)  # (all so far: no time signature was read)
    return measures


def _set_time(measures: list[ReadMeasure], time: tuple[int, int], note: Inference | None) -> None:
    """Give every measure in ``measures`` the meter ``time`` voted from their
    contents, and say so in the report's ``note`` of it."""
    for m in measures:
        m.time = time
        m.length = m.bar
    if note is not None:
        note.detail = _unprinted_detail(time)


def _unprinted_detail(time: tuple[int, int]) -> str:
    return (f"no time signature printed before the first measure; {time[0]}/{time[1]} inferred from "
            f"the measures' contents")


def _nearest(slots: list[int], i: int) -> int:
    """Index in ``slots`` of the slot nearest to ``i``."""
    return min(range(len(slots)), key=lambda k: abs(slots[k] - i))


def staff_slots(graphs: list[StaffGraph]) -> tuple[int, dict[tuple[int, int], list[int]]]:
    """The piece's staff slots: how many (the staves of its fullest system), and per
    ``(page index, system index)`` the slot of each of that system's staves, top to
    bottom.

    A system with fewer staves (a staff cut off by the photo's edge, or left out of
    the engraving when it rests) is matched to the full one by its staves' clefs
    (G, F or C, in order) and its braces: staves braced together (a piano's) go to
    staves braced together in the full system, so a song's piano introduction, printed
    without the voice's staff, stays in the piano's part. Among equally good matches
    the staves left out are taken at the page's top edge for the page's first system,
    and at the bottom otherwise.
    """
    fullest = fullest_system(graphs)
    if fullest is None:
        return 0, {}
    p0, k0 = fullest
    full = graphs[p0].systems[k0]
    ref = _clef_families(graphs[p0], full)
    ref_braces = _brace_of(graphs[p0], full)
    out: dict[tuple[int, int], list[int]] = {}
    for p, g in enumerate(graphs):
        for k, staves in enumerate(g.systems):
            if len(staves) == len(full):
                out[(p, k)] = list(range(len(full)))
                continue
            braces = _brace_of(g, staves)
            joined = [a is not None and a == b for a, b in zip(braces, braces[1:])]
            out[(p, k)] = _align_slots(_clef_families(g, staves), ref, missing_at_top=(k == 0),
                                       joined=joined, ref_braces=ref_braces)
    return len(full), out


def fullest_system(graphs: list[StaffGraph]) -> tuple[int, int] | None:
    """(page index, system index) of the first system with the most staves: the one
    that shows every staff of the piece."""
    systems = [(p, k) for p, g in enumerate(graphs) for k in range(len(g.systems))]
    return max(systems, key=lambda t: len(graphs[t[0]].systems[t[1]]), default=None)


def _clef_families(g: StaffGraph, staves: list[int]) -> list[str]:
    first_x = _first_music_x(g, staves)
    out = []
    for s in staves:
        n = _start_clef(g, s, first_x)
        out.append(_clef_family(n.cls) if n is not None else "")
    return out


def _brace_of(g: StaffGraph, staves: list[int]) -> list[int | None]:
    """For each of a system's ``staves``, the node id of the brace that joins it to
    another staff of the system (None: no brace joins it)."""
    out: list[int | None] = [None] * len(staves)
    at = {s: i for i, s in enumerate(staves)}
    for n in g.nodes:
        if n.cls == "brace":
            joined = [at[s] for s in g.targets(n.id, "brace") if s in at]
            if len(joined) >= 2:
                for i in joined:
                    out[i] = n.id
    return out


def _align_slots(fams: list[str], ref: list[str], *, missing_at_top: bool,
                 joined: Sequence[bool] = (), ref_braces: Sequence[int | None] = ()) -> list[int]:
    """Increasing slots of ``ref`` for the staves of clef families ``fams`` (fewer),
    matching as many clefs and braces as can be (dynamic programming: O(len(fams) *
    len(ref)²)); among equally good matches the slots left out are the top ones when
    ``missing_at_top``, else the bottom ones.

    ``joined[i]``: staves ``i`` and ``i + 1`` are braced together; each such pair
    placed on two slots of one brace (``ref_braces``: each slot's brace, or None)
    counts as one match more.

    >>> _align_slots(["G", "F"], ["G", "C", "F"], missing_at_top=True)
    [0, 2]
    >>> _align_slots(["F"], ["G", "F"], missing_at_top=False), _align_slots(["G"], ["G", "G"], missing_at_top=True)
    ([1], [1])

    A piano's braced G and F staves, where the piece's fullest system is a voice over
    the piano (brace 7):

    >>> _align_slots(["G", "F"], ["G", "G", "F"], missing_at_top=False)
    [0, 2]
    >>> _align_slots(["G", "F"], ["G", "G", "F"], missing_at_top=False, joined=[True],
    ...              ref_braces=[None, 7, 7])
    [1, 2]
    """
    n, k = len(ref), len(fams)
    if k == 0:
        return []

    def clef_match(i: int, j: int) -> int:
        return int(bool(fams[i]) and fams[i] == ref[j])

    def brace_match(i: int, j_prev: int, j: int) -> int:
        # staves i - 1 and i braced together, on slots of one brace
        return int(i - 1 < len(joined) and joined[i - 1] and j < len(ref_braces)
                   and ref_braces[j] is not None and ref_braces[j] == ref_braces[j_prev])

    def order(j: int) -> int:
        return j if missing_at_top else -j

    # best[i][j]: (matches, tie-break) of the first i + 1 staves with staff i on slot j
    best: list[list[tuple[int, int] | None]] = [[None] * n for _ in range(k)]
    back = [[-1] * n for _ in range(k)]
    for j in range(n - k + 1):
        best[0][j] = (clef_match(0, j), order(j))
    for i in range(1, k):
        for j in range(i, n - k + i + 1):
            for jp in range(i - 1, j):
                prev = best[i - 1][jp]
                if prev is None:
                    continue
                put = (prev[0] + clef_match(i, j) + brace_match(i, jp, j), prev[1] + order(j))
                if best[i][j] is None or put > best[i][j]:
                    best[i][j], back[i][j] = put, jp
    j = max((j for j in range(n) if best[k - 1][j] is not None), key=lambda j: best[k - 1][j])
    slots = [j]
    for i in range(k - 1, 0, -1):
        j = back[i][j]
        slots.append(j)
    return slots[::-1]


def _measure_lengths(per_staff: list[list[StaffMeasure]], spans: list[MeasureSpan]) -> list[Fraction]:
    """Per measure, the length its fullest staff suggests (stems split two voices)."""
    out = []
    for k in range(len(spans)):
        longest = Fraction(0)
        for sm in per_staff:
            events = [e for e in sm[k].events if not e.grace]
            if len(events) == 1 and events[0].is_rest and events[0].base == 4:
                continue  # a whole-measure rest fills any meter
            longest = max(longest, *voice_lengths(events, sm[k].staff_space))
        out.append(longest)
    return out


#: A time signature read from the page is replaced by the one the measures' contents
#: suggest only when it fits fewer than this fraction of the system's measures and
#: the other fits at least ``TIME_FIT_FRACTION`` (a misread digit, not rests left out).
TIME_MISFIT_FRACTION = 0.0
TIME_FIT_FRACTION = 0.6
#: ... and only in a system of at least this many measures.
TIME_CHECK_MIN_MEASURES = 4


#: A key signature after a measure's notes stands at most this far before its
#: barline (staff spaces): it is the next measure's; one farther in, amid the notes,
#: is accidentals taken for a key.
KEY_BEFORE_BARLINE_SS = 3.0


#: A glyph of a time signature that the detector also read as another digit is
#: read as that other digit when the time signature it makes fills more of the
#: system's measures, and at least this fraction of them (or any, when the surest
#: reading fills none: a blurred digit no measure agrees with).
TIME_ALTERNATIVE_MIN_FIT = 0.25


def _choose_time(readings: list[tuple[int, int]], per_staff, spans, report: Report, page: int,
                 measure: int) -> tuple[int, int]:
    """The reading of a printed time signature (``readings``: surest first; see
    :func:`omr.notation.layout.time_readings`) that the measures' contents fit
    best (see ``TIME_ALTERNATIVE_MIN_FIT``)."""
    best = readings[0]
    fits = {t: _fit(t, per_staff, spans) for t in readings}
    for t in readings[1:]:
        if fits[t] > fits[best] and (fits[t] >= TIME_ALTERNATIVE_MIN_FIT or fits[readings[0]] == 0):
            best = t
    if best != readings[0]:
        report.infer("time_reading", f"the time signature reads as {readings[0][0]}/{readings[0][1]} or "
                     f"{best[0]}/{best[1]}; {best[0]}/{best[1]} fills more measures", page=page, measure=measure)
    return best


#: What a time signature of which one number was read (see
#: :func:`omr.notation.layout.half_read_time` and :func:`_settle_half_read`) is completed to: the upper numbers
#: over a known lower one, the lower numbers under a known upper one, each in
#: order of preference where the measures fit several equally.
COMMON_UPPER_NUMBERS = (4, 3, 2, 6, 12, 9, 5)
COMMON_LOWER_NUMBERS = (4, 8, 2)


def _settle_half_read(time_changes: dict, per_staff, spans, in_force: tuple[int, int], report: Report,
                      page: int, before: int) -> dict:
    """``time_changes`` with each time signature read in half (``[(upper, None)]`` or
    ``[(None, lower)]``) completed: to the meter with that number that fills the most
    of the system's measures (see ``COMMON_UPPER_NUMBERS``), when it fills some and
    as many as the meter in force (``in_force``: the one read before, or the one the
    contents suggest); otherwise the lone digit is dropped as unread (a stray mark
    the detector took for a time digit, or a blur no measure settles)."""
    out = {}
    for k, readings in time_changes.items():
        if not _is_half_read(readings):
            out[k] = readings
            continue
        upper, lower = readings[0]
        if lower is None:
            candidates = [(upper, d) for d in COMMON_LOWER_NUMBERS]
            read = f"only the upper number of the time signature ({upper}) was read"
        else:
            candidates = [(u, lower) for u in COMMON_UPPER_NUMBERS]
            read = f"only the lower number of the time signature ({lower}) was read"
        fits = {t: _fit(t, per_staff, spans) for t in candidates}
        time = max(candidates, key=fits.get)  # (the first of equals)
        if fits[time] > 0 and fits[time] >= _fit(in_force, per_staff, spans):
            out[k] = [time]
            report.infer("time_half_read", f"{read}; {time[0]}/{time[1]} fills the most measures",
                         page=page, measure=before + k + 1)
        else:
            report.warn("time_unread", f"a time signature could not be read ({read}, and no meter with it "
                        f"fits the measures)", page=page, measure=before + k + 1)
    return out


def _is_half_read(readings: list[tuple]) -> bool:
    """Whether a time signature's readings are one read in half: ``[(upper, None)]``
    or ``[(None, lower)]`` (see :func:`omr.notation.layout.half_read_time`)."""
    return None in readings[0]


def _read_system(g: StaffGraph, staves: list[int], slots, spans: list[MeasureSpan], clefs: dict, part_clefs: dict,
                 keys: dict, first_x: float, report: Report, page: int, before: int):
    """Every staff of one system read measure by measure: ``(per_staff, time_changes)``.
    ``staves``: the page staff standing for each slot of the piece (``slots``: those
    present in this system; the others read as empty), ``clefs``/``keys``: in force
    per slot before the system, ``part_clefs``: the clef each slot's systems most
    often begin with (:func:`_part_clef`); ``before``: how many measures came before it."""
    per_staff: list[list[StaffMeasure]] = []
    time_changes: dict[int, list[tuple[int, int]]] = {}  # readings, surest first (or one half-read)
    for slot, s in enumerate(staves):
        if slot not in slots:
            per_staff.append([StaffMeasure(events=[], clef=clefs.get(slot),
                                           staff_space=g.staves[s].staff_space) for _ in spans])
            continue
        sm, tc = _read_staff(g, s, spans, clefs.get(slot), part_clefs.get(slot), keys.get(slot, 0), first_x,
                             report, page)
        per_staff.append(sm)
        for k, staff_measure in enumerate(sm):
            if any(e.inferred == "even triplet" for e in staff_measure.events):
                report.infer("reread", "a note of a triplet read shorter than the other two (a beam "
                             "or flag misread) is read as long as they are", page=page,
                             measure=before + k + 1, staff=slot + 1)
        for k, t in tc.items():  # (a staff that read both numbers outvotes one that read one)
            if k not in time_changes or _is_half_read(time_changes[k]) and not _is_half_read(t):
                time_changes[k] = t
    return per_staff, time_changes


#: Two measures of a system are one whose barline between them is a plain one the
#: detector scored below this (its staves' median), when on every staff with
#: music each is short and together they make one measure of the time in force (a
#: crease, a stem or an arpeggio taken for a barline; two short measures of a real
#: bar line meet at repeats and section ends, whose barlines are not plain).
SPLIT_BARLINE_SCORE = 0.7


def _join_split_measures(spans: list[MeasureSpan], per_staff: list[list[StaffMeasure]],
                         time_changes: dict, time: tuple[int, int] | None) -> tuple[list[MeasureSpan], list[int]]:
    """``spans`` with the measures cut in two by a doubtful barline joined (see
    ``SPLIT_BARLINE_SCORE``), and the indices of the joined measures among them.
    Each measure is weighed against the meter in force there: ``time`` or the last
    of ``time_changes`` (their surest readings) at or before it."""
    bars: list[Fraction | None] = []
    in_force = time
    for k in range(len(spans)):
        readings = [t for t in time_changes.get(k, []) if t and None not in t]
        in_force = readings[0] if readings else in_force
        bars.append(Fraction(4 * in_force[0], in_force[1]) if in_force is not None else None)

    def halves(k: int) -> bool:
        bar = bars[k]
        if bar is None:
            return False
        seen = False
        for sm in per_staff:
            a = [e for e in sm[k].events if not e.grace]
            b = [e for e in sm[k + 1].events if not e.grace]
            if not a and not b:
                continue
            if not a or not b:
                return False
            la = max(voice_lengths(a, sm[k].staff_space))
            lb = max(voice_lengths(b, sm[k + 1].staff_space))
            if not (0 < la < bar and 0 < lb < bar and la + lb == bar):
                return False
            seen = True
        return seen

    out: list[MeasureSpan] = []
    where: list[int] = []
    k = 0
    while k < len(spans):
        sp = spans[k]
        if (k + 1 < len(spans) and sp.right == "barline_single" and sp.right_score < SPLIT_BARLINE_SCORE
                and k + 1 not in time_changes and not spans[k + 1].cut and halves(k)):
            where.append(len(out))
            out.append(replace(spans[k + 1], x0=sp.x0, left=sp.left))
            k += 2
        else:
            out.append(sp)
            k += 1
    return out, where


def _fit(time: tuple[int, int], per_staff, spans) -> float:
    """Fraction of a system's measures whose content fills ``time``."""
    bar = Fraction(4 * time[0], time[1])
    lengths = [x for x in _measure_lengths(per_staff, spans) if x > 0]
    return sum(x == bar for x in lengths) / len(lengths) if lengths else 1.0


def _multi_rest_count(g: StaffGraph, staves: list[int], span: MeasureSpan) -> int:
    """How many measures a multi-measure rest in this measure stands for (its
    printed number, read by OCR or given by synth/), 1 when there is none."""
    rests = [n for n in g.nodes if n.cls == "rest_multi" and n.staff in staves and span.x0 <= n.cx < span.x1]
    if not rests:
        return 1
    numbers = [n for n in g.nodes if n.cls == "rest_multi_number" and n.staff in staves
               and span.x0 <= n.cx < span.x1 and n.text.strip().isdigit()]
    return max([int(n.text.strip()) for n in numbers] or [1])


def _rest_copy(m: ReadMeasure) -> ReadMeasure:
    """One more measure of a multi-measure rest: the same measure, its rests only,
    no signatures or marks of its own."""
    staves = []
    for sm in m.staves:
        events = [copy.copy(e) for e in sm.events if e.is_rest]
        staves.append(StaffMeasure(events=events, clef=sm.clef, staff_space=sm.staff_space))
    return ReadMeasure(page=m.page, system=m.system, span=MeasureSpan(m.span.x0, m.span.x1), graph=m.graph,
                       staff_ids=m.staff_ids,
                       staves=staves, time=m.time, length=m.bar)


def _clef_family(cls: str) -> str:
    return cls.split("_")[1] if cls.startswith("clef_") else cls


def _start_clef(g: StaffGraph, s: int, first_x: float):
    """The clef staff ``s`` starts its system with (before ``first_x``, the system's
    first note or rest): one is printed there, so of several read there (a key or
    time signature, or a brace, taken for one) the surest, then the leftmost."""
    clefs = [n for n in g.nodes if n.role == "clef" and n.staff == s and n.cls in CLEFS and n.cx < first_x]
    return min(clefs, key=_surest_first) if clefs else None


def _surest_first(n) -> tuple[float, float]:
    """Sort key of nodes: the most confident first, then the leftmost."""
    return -n.score, n.cx


def _clef_votes(graphs: list[StaffGraph], slot_maps: dict[tuple[int, int], list[int]]
                ) -> dict[int, dict[str, str]]:
    """Per staff slot (``slot_maps``: :func:`staff_slots`) and clef family (G, F, C),
    the clef class most systems start with: a small "8" under a G clef is easily
    missed or imagined in a photo, and a part keeps its clef from system to system."""
    from collections import Counter

    counts: dict[int, Counter] = {}
    positions: dict[tuple[int, str], Counter] = {}
    for p, g in enumerate(graphs):
        for k, staves in enumerate(g.systems):
            first_x = _first_music_x(g, staves)
            for slot, s in zip(slot_maps[(p, k)], staves):
                n = _start_clef(g, s, first_x)
                if n is not None:
                    counts.setdefault(slot, Counter())[n.cls] += 1
                    # a C clef's centre is on its line (clear when even); G and F clefs
                    # have their own centres
                    if n.position is not None and (n.cls != "clef_c" or n.position % 2 == 0):
                        positions.setdefault((slot, n.cls), Counter())[n.position] += 1
    votes: dict[int, dict[str, str]] = {}
    for slot, c in counts.items():
        for cls, _ in c.most_common():
            votes.setdefault(slot, {}).setdefault(_clef_family(cls), cls)
        for cls in c:
            if (slot, cls) in positions:
                votes[slot][f"{cls}@"] = positions[(slot, cls)].most_common(1)[0][0]
    return votes


def _vote_start_clef(g: StaffGraph, s: int, first_x: float, vote: dict[str, str], report: Report,
                     page: int) -> None:
    n = _start_clef(g, s, first_x)
    if n is None:
        return
    best = vote.get(_clef_family(n.cls))
    if best and best != n.cls:
        report.warn("clef_vote", f"a clef read as {n.cls} where the part's other systems have {best}; "
                    f"{best} used", page=page, staff=s + 1)
        n.cls = best
    usual = vote.get(f"{n.cls}@")
    if usual is not None and n.position is not None and n.position != usual \
            and abs(n.position - usual) <= CLEF_VOTE_MAX_SHIFT \
            and (n.cls != "clef_c" or n.position % 2):  # alto <-> tenor is a real change
        n.position = usual  # a clef read a little off sits where the part's other systems have it


def _part_clef(vote: dict[str, str]) -> ClefInfo | None:
    """The clef a part's systems most often begin with (``vote``: its entry of
    :func:`_clef_votes`), on the line they have it on; None when none was read."""
    cls = next((v for k, v in vote.items() if not k.endswith("@")), None)
    return None if cls is None else clef_for(cls, vote.get(f"{cls}@"))


#: A system-start clef read at most this many half staff spaces from where the
#: part's other systems have it is taken to sit there.
CLEF_VOTE_MAX_SHIFT = 2


#: Meters a page without a printed time signature is given, as quarter notes per
#: measure: the ones in common use (3 quarters is 3/4; 3/8, 9/8 from their eighths).
PLAUSIBLE_MEASURE_QUARTERS = (Fraction(2), Fraction(3), Fraction(4), Fraction(3, 2), Fraction(9, 2),
                              Fraction(6), Fraction(5), Fraction(1), Fraction(8))
#: ... of which these are taken only where no other fits a measure: a measure read
#: as one quarter note is more often one whose rests were lost (a small photo) than
#: a measure of 1/4.
RARE_MEASURE_QUARTERS = (Fraction(1),)


def _system_lengths(per_staff: list[list[StaffMeasure]], spans: list[MeasureSpan]
                    ) -> tuple[list[set], list[Fraction]]:
    """What a system's measures suggest of the meter: per measure, the lengths its
    staves fill (:func:`_staff_lengths`) and its fullest staff's length
    (:func:`_measure_lengths`)."""
    return _staff_lengths(per_staff, spans), _measure_lengths(per_staff, spans)


def _time_from_lengths(systems: list[tuple[list[set], list[Fraction]]]) -> tuple[int, int]:
    """The time signature most measures of ``systems`` (each as from
    :func:`_system_lengths`) fill, for a continuation page or a staff that prints
    none: of the meters in common use (:data:`PLAUSIBLE_MEASURE_QUARTERS`; the
    :data:`RARE_MEASURE_QUARTERS` only where no other fits), the one that most
    measures have a staff filling exactly; ties go to the longer (rests
    left out make measures short, never long). Nothing fits: the commonest
    longest-voice length, in quarters or eighths, when it is a plausible meter."""
    from collections import Counter

    fits = Counter(q for per_measure, _ in systems for lengths in per_measure
                   for q in PLAUSIBLE_MEASURE_QUARTERS if q in lengths)
    fits = Counter({q: n for q, n in fits.items() if q not in RARE_MEASURE_QUARTERS}) or fits
    if fits:
        length = max(fits, key=lambda q: (fits[q], q))
    else:
        lengths = Counter(x for _, longest in systems for x in longest if x > 0)
        if not lengths:
            return DEFAULT_TIME
        repeated = [n for n, c in lengths.items() if c >= 2]
        length = max(repeated) if repeated else lengths.most_common(1)[0][0]
        if length not in PLAUSIBLE_MEASURE_QUARTERS:
            return DEFAULT_TIME
    if length.denominator == 1 and length <= 12:
        return int(length), 4
    return int(length * 2), 8


def _staff_lengths(per_staff: list[list[StaffMeasure]], spans: list[MeasureSpan]) -> list[set]:
    """Per measure, the lengths its staves' contents suggest (as for
    :func:`_measure_lengths`, one per staff; whole-measure rests left out)."""
    out = []
    for k in range(len(spans)):
        found = set()
        for sm in per_staff:
            events = [e for e in sm[k].events if not e.grace]
            if not events or len(events) == 1 and events[0].is_rest and events[0].base == 4:
                continue
            found.update(voice_lengths(events, sm[k].staff_space))
        out.append(found)
    return out


def _first_music_x(g: StaffGraph, staves: list[int]) -> float:
    xs = [n.box[0] for n in g.nodes if n.staff in staves and n.role in ("notehead", "rest")]
    return min(xs) if xs else float("inf")


def _span_index(spans: list[MeasureSpan], x: float) -> int:
    for k, sp in enumerate(spans):
        if x < sp.x1:
            return k
    return len(spans) - 1


def _read_staff(g: StaffGraph, s: int, spans: list[MeasureSpan], clef: ClefInfo | None,
                part_clef: ClefInfo | None, key: int, first_x: float, report: Report, page: int):
    staff = g.staves[s]
    # (a clef sits on its staff: one centred beyond the outer lines is something else)
    clef_nodes = sorted((n for n in g.nodes if n.role == "clef" and n.staff == s and n.cls in CLEFS
                         and (n.position is None or 0 <= n.position <= 8)),
                        key=lambda n: n.cx)
    # a clef change is printed on its usual line: a G or F clef read off it mid-staff
    # (a mark on the lines, doubtfully) is no change of clef
    moved = [n for n in clef_nodes if n.cx >= first_x and n.position is not None and CLEFS[n.cls].sign in ("G", "F")
             and clef_for(n.cls, n.position).line != CLEFS[n.cls].line]
    if moved:
        report.warn("moved_clef_change", f"{len(moved)} clef change(s) read off the clef's line; not used",
                    page=page, staff=s + 1)
        clef_nodes = [n for n in clef_nodes if n not in moved]
    before = [n for n in clef_nodes if n.cx < first_x]
    if len(before) > 1:  # one clef starts a system (see _start_clef)
        start = min(before, key=_surest_first)
        report.warn("two_start_clefs", f"{len(before)} clefs read before the first note; the surest, "
                    f"{start.cls}, used", page=page, staff=s + 1)
        clef_nodes = [n for n in clef_nodes if n.cx >= first_x or n is start]
    # key signatures: the group at the system's start, and groups after barlines
    key_at: dict[int, int] = {}
    for group in signature_groups(g, s, "key"):
        x = group[0].box[0]
        k = _span_index(spans, x)
        start = spans[k].x0
        if k == 0:  # (nothing left of the system's clef is music)
            start = max([start] + [c.box[2] for c in clef_nodes if c.box[2] <= x])
        events_before = [n for n in g.nodes if n.staff == s and n.role in ("notehead", "rest")
                         and start <= n.cx < x]
        if events_before and k == len(spans) - 1:
            continue  # a courtesy key at the system's end
        if events_before and spans[k].x1 - group[-1].box[2] > KEY_BEFORE_BARLINE_SS * staff.staff_space:
            continue  # amid a measure's notes: accidentals taken for a key
        if (k > 0 or events_before) and not key_starts_right(
                [n.cls for n in group], [n.position for n in group], _clef_at(clef_nodes, x, clef)):
            continue  # a key change begins on F or B: an editor's accidental, a misread one
        if events_before:
            k += 1
            if k >= len(spans):
                continue
        key_at[k] = fifths_from_key_symbols([n.cls for n in group])
    time_at: dict[int, list[tuple[int, int]]] = {}  # the readings, surest first, or [(upper, None)] or [(None, lower)]
    for group in signature_groups(g, s, "time"):
        t = [reading for reading in time_readings(g, group) if reading is not None]
        if not t:
            half = half_read_time(g, group)
            if half is None:
                report.warn("time_unread", "a time signature could not be read", page=page)
                continue
            t = [half]  # (the measures settle the other number: _settle_half_read)
        x = group[0].box[0]
        k = _span_index(spans, x)
        if any(spans[k].x0 <= n.cx < x for n in g.nodes if n.staff == s and n.role in ("notehead", "rest")):
            k += 1
        if k < len(spans):
            time_at[k] = t
    out: list[StaffMeasure] = []
    ci = 0
    if clef is None and not (clef_nodes and clef_nodes[0].cx < first_x):
        # no clef in force and none read on the staff (cut off at the photo's edge,
        # blurred): the one the part's other systems begin with, else treble
        if part_clef is not None:
            clef = part_clef
            report.infer("clef_from_part", "no clef read at the start of the staff; the clef its part's "
                         "other systems begin with is used", page=page, staff=s + 1)
        else:
            clef = CLEFS[DEFAULT_CLEF]
            report.warn("default_clef", "no clef at the start of a staff; treble clef assumed", page=page,
                        staff=s + 1)
    tie_pitch: dict[int, tuple[str, int, int, bool]] = {}
    for k, span in enumerate(spans):
        x_lo = -float("inf") if k == 0 else span.x0
        # clefs before the first note of this measure set its starting clef
        events = read_events(g, s, x_lo, span.x1)
        first = events[0].x if events else span.x1
        while ci < len(clef_nodes) and clef_nodes[ci].cx < first and clef_nodes[ci].cx < span.x1:
            clef = clef_for(clef_nodes[ci].cls, clef_nodes[ci].position)
            ci += 1
        sm = StaffMeasure(events=events, clef=clef, key=key_at.get(k), staff_space=staff.staff_space)
        while ci < len(clef_nodes) and clef_nodes[ci].cx < span.x1:
            sm.clef_changes.append((clef_nodes[ci].cx, clef_for(clef_nodes[ci].cls, clef_nodes[ci].position)))
            ci += 1
        if sm.clef_changes:
            clef = sm.clef_changes[-1][1]
        if sm.key is not None:
            key = sm.key
        _read_pitches(g, sm, key, tie_pitch)
        out.append(sm)
    return out, time_at


def _clef_at(clef_nodes: list, x: float, clef: ClefInfo | None) -> ClefInfo:
    """The clef in force at ``x`` on a staff: the last of ``clef_nodes`` (sorted by x)
    before it, else ``clef`` (the one carried from before), else the default."""
    before = [c for c in clef_nodes if c.cx < x]
    if before:
        return clef_for(before[-1].cls, before[-1].position)
    return clef if clef is not None else CLEFS[DEFAULT_CLEF]


def _read_pitches(g: StaffGraph, sm: StaffMeasure, key: int, tie_pitch: dict) -> None:
    state = MeasureAccidentals(key_fifths=key)
    clef = sm.clef
    changes = list(sm.clef_changes)
    for e in sorted(sm.events, key=lambda e: e.x):
        while changes and changes[0][0] < e.x:
            clef = changes.pop(0)[1]
        for h in e.heads:
            node = g.nodes[h]
            ties_in = [t for t in g.sources(h, "tie_to")]
            ties_out = [t for t in g.sources(h, "tie_from")]
            tie = set()
            if ties_in:
                tie.add("stop")
            if ties_out:
                tie.add("start")
            if tie:
                sm.ties[h] = tie
            acc = [g.nodes[a].cls for a in g.sources(h, "accidental")]
            came_from = [g.targets(t, "tie_from") for t in ties_in]
            prev = next((tie_pitch[f[0]] for f in came_from if f and f[0] in tie_pitch), None)
            if prev is not None and not acc:
                step, octave, alter, _ = prev
                sm.pitches[h] = (step, octave, alter, False)  # the tie carries it to this note only
            else:
                position = node.position if node.position is not None else 0
                step, octave, alter = pitch_at(position, clef or CLEFS[DEFAULT_CLEF], state,
                                               acc[0] if acc else None)
                sm.pitches[h] = (step, octave, alter, bool(acc))
            tie_pitch[h] = sm.pitches[h]


def _read_over_measures(g: StaffGraph, staves: list[int], measures: list[ReadMeasure]) -> None:
    """Voltas, navigation and tempo marks of one system, put on its measures."""
    if not measures:
        return
    spans = [m.span for m in measures]
    ss = g.staves[staves[0]].staff_space
    near = [n for n in g.nodes if n.staff in staves or n.staff < 0]
    brackets = sorted((n for n in near if n.cls == "volta_bracket"), key=lambda n: n.box[0])
    numbers = [n for n in near if n.cls == "volta_number"]
    for i, b in enumerate(brackets):
        covered = [k for k, sp in enumerate(spans)
                   if min(b.box[2], sp.x1) - max(b.box[0], sp.x0) > 0.5 * (sp.x1 - sp.x0)]
        if not covered:
            continue
        label = [n for n in numbers if b.box[0] - ss <= n.cx <= b.box[2] and abs(n.cy - b.cy) < 3 * ss]
        digits = tuple(int(c) for c in "".join(n.text for n in label) if c.isdigit())
        if not digits:
            prev = measures[covered[0] - 1].volta if covered[0] > 0 else ()
            digits = (prev[-1] + 1,) if prev else (1,)
        for k in covered:
            measures[k].volta = digits
        measures[covered[0]].volta_first = True
        measures[covered[-1]].volta_last = True
    for n in near:
        kind = {"segno": "segno", "coda": "coda", "text_fine": "fine", "text_tocoda": "tocoda",
                "text_dacapo": "dacapo", "text_dalsegno": "dalsegno"}.get(n.cls)
        if kind is None:
            continue
        # signs stand at a measure's start, words at its end
        x = n.box[0] + 0.5 * ss if kind in ("segno", "coda") else n.box[2] - 0.5 * ss
        k = _span_index(spans, x)
        if kind in ("dacapo", "dalsegno"):
            text = n.text.lower()
            if "fine" in text:
                kind += "_al_fine"
            elif "coda" in text:
                kind += "_al_coda"
        measures[k].marks.add(kind)
    # a measure's tempo texts read as one, a metronome mark's last: "Tempo di
    # marcia" and a "♩ = 100" over it (see omr.metronome) are one tempo, the number's
    from omr.ocr import parse_tempo

    texts: dict[int, list[str]] = {}
    for n in sorted((n for n in near if n.cls == "tempo_text" and n.text), key=lambda n: (n.box[1], n.box[0])):
        texts.setdefault(_span_index(spans, n.box[0]), []).append(n.text)
    for k, said in texts.items():
        t = parse_tempo(" ".join(sorted(said, key=lambda text: "=" in text)))
        measures[k].tempo = (t.text, t.qpm)


# ---------------------------------------------------------------------------
# Pass 2: every voice adds up
# ---------------------------------------------------------------------------


#: At least this many measures in a row that hold the same length, shorter than
#: their time signature's and itself a meter in common use, on every staff: the
#: score changed time where the detector saw no time signature (their voices are
#: kept short, not filled with rests).
SHORT_RUN_MEASURES = 4


def _short_runs(measures: list[ReadMeasure]) -> dict[int, Fraction]:
    """``id()`` of each measure in a run of ``SHORT_RUN_MEASURES`` or more that hold
    the same length, shorter than their bar (see the constant) → that length. (By
    identity: pass 2 may cut a measure in two, moving the later ones' indices.)"""
    lengths = [_content_length(m) for m in measures]
    out: dict[int, Fraction] = {}
    start = 0
    for i in range(1, len(measures) + 1):
        if i < len(measures) and lengths[i] == lengths[start] and measures[i].bar == measures[start].bar:
            continue
        length = lengths[start]
        if (i - start >= SHORT_RUN_MEASURES and 0 < length < measures[start].bar
                and length in PLAUSIBLE_MEASURE_QUARTERS):
            out.update({id(measures[k]): length for k in range(start, i)})
        start = i
    return out


def _pickup_staves_agree(m: ReadMeasure) -> list[tuple[int, str]]:
    """A first measure whose staves, one voice each, all fall short of the bar by
    different amounts: a pickup, whose staves last alike. Where one length is
    what every staff holds, as read or with one of :func:`implied.reread`'s
    rereadings (a flag seen too faintly: a bass eighth read as a quarter under a
    treble eighth rest), read them so; where several lengths are, the one that
    rereads the fewest staves, the longest of those. (slot, what was reread) of
    each staff reread."""
    voices = {slot: v for slot, sm in enumerate(m.staves) if len(sm.voices) == 1
              for v in sm.voices.values() if total(v) > 0}
    lengths = {slot: total(v) for slot, v in voices.items()}
    if len(set(lengths.values())) < 2 or max(lengths.values()) >= m.bar:
        return []
    best: tuple[int, Fraction] | None = None
    for length in sorted(set(lengths.values()), reverse=True):
        changed = [slot for slot, have in lengths.items() if have != length]
        fits = True
        for slot in changed:
            trial = [copy.copy(e) for e in voices[slot]]
            implied.reread(trial, bar=length)
            fits = fits and total(trial) == length
        if fits and (best is None or len(changed) < best[0]):
            best = (len(changed), length)
    if best is None:
        return []
    out = []
    for slot, have in lengths.items():
        if have != best[1]:
            out += [(slot, line) for line in implied.reread(voices[slot], bar=best[1])]
            set_onsets(voices[slot])
    return out


def resolve_measures(measures: list[ReadMeasure], report: Report) -> None:
    """Voices, onsets and implied notation for every measure (see module doc)."""
    shapes: dict[int, list[tuple]] = {}
    # cutting a long measure at its bars is right when measures normally fill their
    # bar (a barline was missed), wrong in music whose measures are all longer
    fills = [_content_length(m) == m.bar for m in measures]
    may_cut = sum(fills) >= CUT_MIN_FILLING * max(len(fills), 1)
    # ... and only a measure as wide as the bars it would hold: misread durations
    # (beams not seen) can make a measure add up to two bars just as well
    typical_width = float(np.median([m.span.x1 - m.span.x0 for m in measures])) if measures else 0.0
    # a run of measures all short by the same amount: a time change not seen
    unseen_time = _short_runs(measures)
    index = -1
    while index + 1 < len(measures):
        index += 1
        m = measures[index]
        bar = m.bar
        where = {"page": m.page, "measure": index + 1}
        # every staff of the system holds the same whole number of bars, as read: a
        # barline missed on all of them, however narrow the measure (two half notes)
        bars_held = _bars_held_by_all(m)
        for slot, sm in enumerate(m.staves):
            staff = m.graph.staves[m.staff_ids[slot]]
            middle = staff.line_y(2, 0.5 * (m.span.x0 + m.span.x1))
            if total(sm.events) != bar and len(voice_lengths(sm.events, staff.staff_space)) == 1 \
                    and not bars_held:
                # one voice that a rest or note read two ways makes fill its measure
                for line in implied.reread(sm.events, bar=bar):
                    report.infer("reread", line, staff=slot + 1, **where)
            if total(sm.events) > bar and not columns_conflict(sm.events, staff.staff_space):
                # one voice whose unprinted tuplets overfill it: try them before two voices
                trial = [copy.copy(e) for e in sm.events]
                set_onsets(trial)
                if implied.implied_tuplets(trial, bar=bar, shapes=shapes.get(slot, [])) and total(trial) <= bar:
                    for line in implied.implied_tuplets(sm.events, bar=bar, shapes=shapes.get(slot, [])):
                        report.infer("implied_tuplet", line, staff=slot + 1, **where)
            sm.voices = split_voices(sm.events, bar=bar, staff_space=staff.staff_space, middle_y=middle)
            for v in sm.voices.values():
                _full_measure_rests(v, bar)
                shapes.setdefault(slot, []).extend(_printed_shapes(v))
                set_onsets(v)
                for line in implied.implied_tuplets(v, bar=bar, shapes=shapes[slot]):
                    report.infer("implied_tuplet", line, staff=slot + 1, **where)
                set_onsets(v)
        if index == 0:
            for slot, line in _pickup_staves_agree(m):
                report.infer("reread", line, staff=slot + 1, **where)
        # a pickup: the piece's first measure, every voice short
        longest = max((total(v) for sm in m.staves for v in sm.voices.values()), default=bar)
        if index == 0 and longest < bar and longest > 0:
            m.pickup = True
            m.length = longest
            report.infer("pickup", f"the first measure is a pickup of {longest} quarter note(s)", **where)
        held = _whole_bars(longest, bar)
        misread_long = False
        if held < 2 and (k := _bars_held_but_one_long(m)):
            held, misread_long = k, True  # a barline missed, a staff misread long
        wide = m.span.x1 - m.span.x0 >= CUT_MIN_WIDTH * typical_width * held / 2
        if may_cut and (wide or bars_held) and held >= 2:
            parts = _split_at_bars(m, bar, held, cut_long=misread_long)
            if parts:
                # a barline the detector missed: the measure is cut where every
                # voice has a note starting on the bar
                measures[index:index + 1] = parts
                report.warn("missed_barline", f"a measure held {held} bars; cut into "
                            f"{len(parts)} at the bar lines (a barline was not seen)", **where)
                index -= 1
                continue
        if longest > bar:
            # every staff agrees on a longer measure: the score's own irregular
            # measure (a cadenza, unmetered music), kept whole, not cut
            agree = sum(any(total(v) == longest for v in sm.voices.values()) for sm in m.staves)
            # (or every staff overfills it, whatever each one's length: cutting would
            # drop notes that are printed)
            overfull = all(any(total(v) > bar for v in sm.voices.values()) for sm in m.staves)
            # (but a staff whose notes fill exactly one bar says the measure is a
            # normal one, and the longer staff was misread: a tuplet not seen, say)
            filled = any(total(v) == bar and not any(e.full_measure_rest for e in v)
                         for sm in m.staves for v in sm.voices.values())
            if (agree * 2 >= len(m.staves) and not filled or overfull) and agree >= 1 and len(m.staves) > 0:
                m.length = longest
                m.irregular = True
                report.infer("irregular_measure", f"the measure holds {longest} quarter notes, not {bar}: "
                             "kept as an irregular measure (hidden time signature)", **where)
        is_last = index == len(measures) - 1
        if is_last and measures[0].pickup and longest >= bar:
            # half the staves or more (two at least) hold what the pickup leaves of a
            # bar, and none a whole bar: a staff misread long does not make the last
            # measure a full one
            rest_of_bar = bar - measures[0].length
            holding = _longest_voices(m)
            if holding.count(rest_of_bar) >= max(2, len(holding) / 2) and bar not in holding:
                longest = rest_of_bar
        if 0 < longest < bar and not m.pickup:
            agree = sum(any(total(v) == longest for v in sm.voices.values()) for sm in m.staves)
            shorter = _majority_length(m) if not is_last else None
            if agree < 2 and shorter is not None and shorter < longest:
                # one staff misread a little long: the others agreeing on a shorter
                # measure still make it the score's own short one
                longest, agree = shorter, len(m.staves)
            if is_last and measures[0].pickup:
                m.length = longest
                m.completes_pickup = True
                report.infer("pickup", "the last measure completes the pickup", **where)
            elif agree >= 2 and agree * 2 >= len(m.staves) or is_last and agree == len(m.staves):
                # several staves agree on a shorter measure: the score's own short
                # measure (at a fermata, or the last one), not missing rests
                m.length = longest
                m.irregular = True
                report.infer("irregular_measure", f"the measure holds {longest} quarter notes, not {bar}: "
                             "kept as a short measure (hidden time signature)", **where)
            elif unseen_time.get(id(m)) == longest and agree == len(m.staves):
                m.length = longest
                m.irregular = True
                report.infer("unseen_time_change", f"the measure holds {longest} quarter notes, not {bar}, as "
                             f"do the {SHORT_RUN_MEASURES - 1} or more next to it: a change of time not "
                             "seen; kept as it is (hidden time signature)", **where)
        columns = _columns(m)
        for slot, sm in enumerate(m.staves):
            staff = m.graph.staves[m.staff_ids[slot]]
            for voice, v in list(sm.voices.items()):
                length = m.length
                if total(v) > length:
                    for line in implied.trim_overfull(v, bar=length):
                        report.warn("overfull", line, staff=slot + 1, **where)
                if total(v) < length:
                    placed = implied.place_by_columns(v, columns, staff.staff_space) if len(v) else False
                    if not placed:
                        if m.pickup:
                            set_onsets(v, length - total(v))
                        else:
                            implied.place_by_spacing(v, length=length, x0=_music_start(m, slot),
                                                     x1=m.span.x1, staff_space=staff.staff_space)
                    if not m.pickup:
                        for line in implied.reread_before_gaps(v, length=length):
                            report.infer("reread", line, staff=slot + 1, **where)
                    filled, lines = implied.fill_with_rests(v, bar=length)
                    for e in filled:
                        e.voice = voice
                    if total(filled) > length:
                        # placed by the other voices' columns past the measure's end
                        for line in implied.trim_overfull(filled, bar=length):
                            report.warn("overfull", line, staff=slot + 1, **where)
                    sm.voices[voice] = filled
                    for line in lines:
                        if not (m.pickup and not placed and voice > 1 and not v):
                            report.infer("restored_rest", line, staff=slot + 1, **where)


def _bars_held_by_all(m: ReadMeasure) -> bool:
    """Whether two or more staves each hold the same whole number (2 or more) of
    bars: a barline the detector missed on every staff (each staff misreading its
    notes to the same length is far less likely than one barline lost)."""
    lengths = {total(sm.events) for sm in m.staves}
    return len(m.staves) >= 2 and len(lengths) == 1 and _whole_bars(lengths.pop(), m.bar) >= 2


def _whole_bars(length: Fraction, bar: Fraction) -> int:
    """How many bars ``length`` (quarter notes) fills exactly; 0 when it is no whole
    number of them."""
    bars = Fraction(length) / bar
    return int(bars) if bars.denominator == 1 else 0


def _longest_voices(m: ReadMeasure) -> list[Fraction]:
    """The length (quarter notes) of each of ``m``'s staves: its longest voice's."""
    return [max((total(v) for v in sm.voices.values()), default=Fraction(0)) for sm in m.staves]


def _majority_length(m: ReadMeasure) -> Fraction | None:
    """The length (quarter notes) that more than half of ``m``'s staves (at least two)
    fill with their longest voice, if any."""
    from collections import Counter

    lengths = Counter(_longest_voices(m))
    length, count = max(lengths.items(), key=lambda kv: kv[1], default=(None, 0))
    return length if count >= 2 and count * 2 > len(m.staves) and length else None


#: A measure holding several bars is cut only when at least this fraction of the
#: piece's measures fill exactly one bar.
CUT_MIN_FILLING = 0.5
#: ... and when it is at least this many times as wide as the piece's typical
#: measure (median), for two bars (more bars: in proportion).
CUT_MIN_WIDTH = 1.4


def _content_length(m: ReadMeasure) -> Fraction:
    """The length a measure's fullest staff suggests (see :func:`_measure_lengths`)."""
    return _measure_lengths([[sm] for sm in m.staves], [m.span])[0]


def _bars_held_but_one_long(m: ReadMeasure) -> int:
    """How many bars (2 or more) a measure holds whose staves that hold more than a
    bar all hold that whole number of bars but one, which holds less than a bar more
    (a note or rest of it misread long; a barline missed on every staff); 0 when
    they do not. Staves of a bar or less (a whole-measure rest) do not count."""
    bar = m.bar
    long = sorted(length for length in _longest_voices(m) if length > bar)
    if len(long) < 2 or long[-1] == long[0]:
        return 0
    k = _whole_bars(long[0], bar)
    if k < 2 or any(length != long[0] for length in long[:-1]) or long[-1] >= (k + 1) * bar:
        return 0
    return k


def _split_at_bars(m: ReadMeasure, bar: Fraction, k: int, *, cut_long: bool = False) -> list[ReadMeasure] | None:
    """``m`` cut into ``k`` measures of ``bar`` when every voice that fills the
    whole length has an event starting at each multiple of ``bar``; None otherwise.
    With ``cut_long``, a staff that holds more (misread long, see
    :func:`_bars_held_but_one_long`) is cut where the others are, by x."""
    length = k * bar
    for sm in m.staves:
        for v in sm.voices.values():
            if total(v) == length:
                onsets = {e.onset for e in v if not e.grace}
                if any(j * bar not in onsets for j in range(1, k)):
                    return None
            elif total(v) > length and not cut_long:
                return None
    # where each cut is on the page: just before the events that start on it, or
    # with a staff misread long, halfway from the last event before it (by the
    # voices that fill the length: the long staff's onsets are wrong)
    cuts = []
    exact = [v for sm in m.staves for v in sm.voices.values() if total(v) == length]
    for j in range(1, k):
        if cut_long:
            first = [e.x for v in exact for e in v if e.onset == j * bar]
            before = [e.x for v in exact for e in v if e.onset < j * bar]
            cuts.append(0.5 * (max(before) + min(first)) if first and before else None)
        else:
            xs = [e.x for sm in m.staves for v in sm.voices.values() for e in v if e.onset == j * bar]
            cuts.append(min(xs) - 1.0 if xs else None)
    if any(c is None for c in cuts):
        return None
    edges = [m.span.x0] + cuts + [m.span.x1]
    out = []
    for j in range(k):
        staves = []
        for sm in m.staves:
            everything = [e for v in sm.voices.values() for e in v]
            in_bar = [e for e in everything
                      if j * bar <= e.onset < (j + 1) * bar or (j == k - 1 and e.onset >= length)]
            if any(total(v) > length for v in sm.voices.values()):  # misread long: its onsets are off
                events = [e for e in everything if edges[j] <= e.x < edges[j + 1]]
            elif total(everything) < length:  # a staff that holds less: its bar by x too
                events = [e for e in in_bar if edges[j] <= e.x < edges[j + 1]]
            else:
                events = in_bar
            staves.append(StaffMeasure(
                events=sorted(events, key=lambda e: e.x), clef=sm.clef if j == 0 else None,
                clef_changes=[c for c in sm.clef_changes if edges[j] <= c[0] < edges[j + 1]],
                key=sm.key if j == 0 else None,
                pitches=sm.pitches, ties=sm.ties, staff_space=sm.staff_space))
        span = MeasureSpan(edges[j], edges[j + 1], left=m.span.left if j == 0 else None,
                           right=m.span.right if j == k - 1 else "barline_single")
        part = ReadMeasure(page=m.page, system=m.system, span=span, graph=m.graph, staff_ids=m.staff_ids,
                           staves=staves, time=m.time, length=bar)
        if j == 0:
            part.volta, part.volta_first, part.marks, part.tempo = m.volta, m.volta_first, set(m.marks), m.tempo
        if j == k - 1:
            part.volta_last = m.volta_last
            part.marks |= {x for x in m.marks if x not in ("segno", "coda")}
        out.append(part)
    return out


def _music_start(m: ReadMeasure, slot: int) -> float:
    """Where a measure's music may start on a staff: after its barline, or after the
    clef, key and time signature that open a system."""
    g = m.graph
    s = m.staff_ids[slot]
    first = min((e.x for e in m.staves[slot].events), default=m.span.x1)
    header = [n.box[2] for n in g.nodes if n.staff == s and n.role in ("clef", "key", "time")
              and m.span.x0 - 1 <= n.cx < first]
    return max([m.span.x0] + header)


def _full_measure_rests(v: list[Event], bar: Fraction) -> None:
    """A whole rest alone in its voice fills the measure, whatever the meter; so does
    a breve rest in a measure shorter than a breve (engravers and verovio print it
    for a whole-measure rest in long measures)."""
    if len(v) == 1 and v[0].is_rest and v[0].dots == 0 and (
            v[0].base == 4 or v[0].base == 8 and bar <= 8):
        v[0].base = bar
        v[0].full_measure_rest = True


def _printed_shapes(v: list[Event]) -> list[tuple]:
    out, group = [], []
    for e in v + [None]:
        if e is not None and e.tuplet_printed and (not group or group[-1].tuplet == e.tuplet):
            group.append(e)
            continue
        if len(group) >= 2:
            # one printed group may hold several beam groups: keep the first beam's
            first = [x for x in group if x.beam_group == group[0].beam_group] if group[0].beam_group is not None else group
            if total(first) > 0:
                out.append(implied.tuplet_shape(first))
        group = [e] if e is not None and e.tuplet_printed else []
    return out


def _columns(m: ReadMeasure) -> dict[float, Fraction]:
    """x → onset from the voices that add up exactly (none inferred)."""
    cols: dict[float, Fraction] = {}
    for sm in m.staves:
        for v in sm.voices.values():
            if total(v) != m.length or any(e.inferred for e in v):
                continue
            for e in v:
                if not e.grace:
                    cols.setdefault(round(e.x, 1), e.onset)
    return cols


# ---------------------------------------------------------------------------
# music21
# ---------------------------------------------------------------------------


def staff_layout(g: StaffGraph, system: int = 0) -> list[list[int]]:
    """Staff slots of a system (the first, or the one with every staff) grouped into
    parts: slots joined by a brace are one part (a piano's two staves)."""
    if not g.systems:
        return []
    braces = _brace_of(g, g.systems[system])
    parts: list[list[int]] = []
    for i, brace in enumerate(braces):
        if parts and brace is not None and braces[parts[-1][-1]] == brace:
            parts[-1].append(i)
        else:
            parts.append([i])
    return parts


def part_names(g: StaffGraph, parts: list[list[int]], system: int = 0) -> list[str]:
    """Names printed left of a system's staves (GT text or OCR)."""
    if not g.systems:
        return []
    first = g.systems[system]
    names = []
    for slots in parts:
        staves = [g.staves[first[i]] for i in slots]
        top = min(s.y_top(s.x0) for s in staves) - 2 * staves[0].staff_space
        bottom = max(s.y_bottom(s.x0) for s in staves) + 2 * staves[0].staff_space
        cands = [n for n in g.nodes if n.cls == "text_other" and n.text and n.box[2] <= staves[0].x0 + 1
                 and top <= n.cy <= bottom]
        names.append(" ".join(n.text for n in sorted(cands, key=lambda n: n.cy)))
    return names


#: A printed measure number stands over the system's top staff, centred on the
#: measure's left barline (or on the system's start): it is the number of the
#: measure whose left edge is nearest its centre, within this many staff spaces.
MEASURE_NUMBER_REACH_SS = 1.5
#: A page's measures are renumbered by the shift that at least this many of its
#: printed numbers agree on. One number alone does not renumber a page: a small
#: "13" is read "33" (a real page 1, over its fifth system), and a page number over
#: the first staff's start looks like that system's measure number (a real
#: orchestral page 6).
MEASURE_NUMBER_MIN_AGREEING = 2


def counted_numbers(measures: list[ReadMeasure]) -> list[int]:
    """Measure numbers counted from 1 over the whole piece (0 for a pickup first).

    >>> from types import SimpleNamespace as M
    >>> counted_numbers([M(pickup=True), M(pickup=False), M(pickup=False)])
    [0, 1, 2]
    """
    numbers, number = [], 0
    for index, m in enumerate(measures):
        number = 0 if m.pickup and index == 0 else number + 1
        numbers.append(number)
    return numbers


def printed_number_anchors(measures: list[ReadMeasure]) -> list[tuple[int, int]]:
    """``(index into measures, number)`` for each measure number printed over a
    system's top staff and read (digits only; see ``MEASURE_NUMBER_REACH_SS``)."""
    by_system: dict[tuple[int, int], list[int]] = {}
    for i, m in enumerate(measures):
        by_system.setdefault((id(m.graph), m.system), []).append(i)
    read: dict[int, list] = {}  # id(graph) -> its measure numbers read as digits
    for m in measures:
        if id(m.graph) not in read:
            read[id(m.graph)] = [n for n in m.graph.nodes if n.cls == "measure_number" and n.text.strip().isdigit()]
    anchors = []
    for indices in by_system.values():
        g, system = measures[indices[0]].graph, measures[indices[0]].system
        staves = g.systems[system] if 0 <= system < len(g.systems) else []
        if not staves:
            continue
        top = min((g.staves[s] for s in staves), key=lambda st: st.center_y)
        reach = MEASURE_NUMBER_REACH_SS * top.staff_space
        for n in read[id(g)]:
            if n.staff not in staves or n.cy >= top.y_top(n.cx):
                continue
            i = min(indices, key=lambda k: abs(measures[k].span.x0 - n.cx))
            if abs(measures[i].span.x0 - n.cx) <= reach:
                anchors.append((i, int(n.text.strip())))
    return anchors


def measure_numbers(measures: list[ReadMeasure], report: Report) -> list[int]:
    """Each measure's number: as printed where the page shows measure numbers, else
    counted (:func:`counted_numbers`).

    A photo of a later page, or of a page cut off at the top, starts at the number
    printed over its systems, not at 1. Per page, the shift from the counted numbers
    that most printed numbers agree on is taken when at least
    ``MEASURE_NUMBER_MIN_AGREEING`` agree (one misread number, or a page number
    taken for a measure number, does not renumber a page); a page showing none
    keeps the shift of the page before it. A shift that would number a measure
    below 0 is not taken. Each shift is reported.
    """
    numbers = counted_numbers(measures)
    votes: dict[int, Counter] = {}
    for i, printed in printed_number_anchors(measures):
        votes.setdefault(measures[i].page, Counter())[printed - numbers[i]] += 1
    shift, shifts = 0, {}
    for page in sorted({m.page for m in measures}):
        if page in votes:
            (best, count), = votes[page].most_common(1)
            if count >= MEASURE_NUMBER_MIN_AGREEING:
                shift = best
        shifts[page] = shift
    out = [n + shifts[m.page] for n, m in zip(numbers, measures)]
    if any(n < 0 for n in out):
        return numbers
    first_on_page: dict[int, int] = {}
    for n, m in zip(out, measures):
        first_on_page.setdefault(m.page, n)
    before = 0
    for page, shift in shifts.items():  # each page where a shift starts or changes
        if shift and shift != before:
            report.infer("measure_numbers", f"measures numbered as printed: the first measure of the page "
                         f"is measure {first_on_page[page]}", page=page)
        before = shift
    return out


def to_music21(measures: list[ReadMeasure], parts: list[list[int]], names: list[str] | None = None,
               *, title: str | None = None, numbers: list[int] | None = None):
    """Build the music21 Score of resolved measures; ``numbers``: each measure's
    number (default: :func:`counted_numbers`)."""
    from music21 import layout, metadata, stream

    score = stream.Score()
    if title:
        score.metadata = metadata.Metadata(title=title)
    n_slots = max((len(m.staves) for m in measures), default=0)
    slot_streams = {}
    for p_index, slots in enumerate(parts):
        name = (names[p_index] if names and p_index < len(names) else "") or f"Part {p_index + 1}"
        group = []
        for slot in slots:
            ps = stream.PartStaff() if len(slots) > 1 else stream.Part()
            ps.id = f"P{p_index + 1}-S{slot + 1}" if len(slots) > 1 else f"P{p_index + 1}"
            ps.partName = name
            _set_instrument(ps, name)
            slot_streams[slot] = ps
            group.append(ps)
        for ps in group:
            score.insert(0, ps)
        if len(group) > 1:
            score.insert(0, layout.StaffGroup(group, name=name, symbol="brace"))
    for slot in range(n_slots):
        if slot not in slot_streams:
            ps = stream.Part()
            ps.id = f"X{slot + 1}"
            slot_streams[slot] = ps
            score.insert(0, ps)
    made: dict[tuple, object] = {}  # (id(graph), notehead node id) -> music21 note or chord
    lyrics = {id(m.graph): lyric_info(m.graph) for m in {id(m.graph): m for m in measures}.values()}
    state: dict[int, dict] = {slot: {"made": made, "lyrics": lyrics} for slot in range(n_slots)}
    numbers = numbers or counted_numbers(measures)
    for index, (m, number) in enumerate(zip(measures, numbers)):
        for slot in range(n_slots):
            sm = m.staves[slot] if slot < len(m.staves) else None
            mm = _measure(m, sm, number, state[slot], slot == 0)
            if index == 0 and m.pickup:
                # a pickup does not count in the numbering: MusicXML implicit="yes"
                mm.showNumber = stream.enums.ShowNumber.NEVER
            slot_streams[slot].append(mm)
    for ps in slot_streams.values():
        ps.streamStatus.beams = True  # beamed as printed (set_printed_beams): not by the meter
    _attach_spanners(score, measures, slot_streams)
    _attach_slurs(measures, slot_streams, made)
    return score


def _set_instrument(part, name: str) -> None:
    from music21 import instrument

    inst = None
    if name:
        try:
            inst = instrument.fromString(name)
        except Exception:  # music21 raises its own errors for unknown names
            inst = None
    if inst is None:
        inst = instrument.Piano() if not name else instrument.Instrument(name)
    inst.partName = name or None
    part.insert(0, inst)


def _m21_clef(info: ClefInfo):
    from music21 import clef

    if info.sign == "percussion":
        return clef.PercussionClef()
    return clef.clefFromString(f"{info.sign}{info.line}", octaveShift=info.octave_change)


def _measure(m: ReadMeasure, sm: StaffMeasure | None, number: int, state: dict, top: bool):
    from music21 import bar, key, note, stream, tempo

    mm = stream.Measure(number=number)
    if m.pickup:
        mm.paddingLeft = float(m.bar - m.length)
    if m.completes_pickup:
        mm.paddingRight = float(m.bar - m.length)
    if sm is None:
        mm.append(note.Rest(quarterLength=float(m.length)))
        return mm
    if sm.clef is not None and state.get("clef") != sm.clef:
        mm.insert(0, _m21_clef(sm.clef))
        state["clef"] = sm.clef
    if sm.key is not None and state.get("key") != sm.key or "key" not in state:
        fifths = sm.key if sm.key is not None else state.get("key", 0)
        mm.insert(0, key.KeySignature(fifths))
        state["key"] = fifths
    if m.irregular:
        units = m.length * m.time[1] / 4
        den = m.time[1] if units.denominator == 1 else m.time[1] * units.denominator
        ts = _time_signature(f"{int(m.length * den / 4)}/{den}")
        ts.style.hideObjectOnPrint = True
        mm.insert(0, ts)
        state["time"] = None
    elif state.get("time") != m.time:
        ts = _time_signature(f"{m.time[0]}/{m.time[1]}")
        if state.get("time", "start") is None and state.get("printed_time") == m.time:
            ts.style.hideObjectOnPrint = True  # back from an irregular measure
        mm.insert(0, ts)
        state["time"] = state["printed_time"] = m.time
    if top and m.tempo is not None:
        text, qpm = m.tempo
        mm.insert(0, tempo.MetronomeMark(text=text or None, number=qpm, referent=1.0) if qpm
                  else tempo.TempoText(text))
    if m.span.left in REPEAT_START:
        mm.leftBarline = bar.Repeat(direction="start")
    if m.span.right in REPEAT_END:
        mm.rightBarline = bar.Repeat(direction="end")
    elif m.span.right == "barline_final":
        mm.rightBarline = bar.Barline("final")
    elif m.span.right == "barline_double":
        mm.rightBarline = bar.Barline("double")
    if top:
        _navigation(mm, m)
    voices = sm.voices or {1: sm.events}
    clef_offsets = _clef_change_offsets(sm)
    g = m.graph
    for v, events in voices.items():
        container = mm if len(voices) == 1 else stream.Voice(id=str(v))
        elements = []
        for e in events:
            el = _element(g, sm, e, state["made"], state["lyrics"])
            container.insert(float(e.onset), el)
            elements.append((e, el))
        set_printed_beams(g, elements)
        if container is not mm:
            mm.insert(0, container)
    for off, info in clef_offsets:
        mm.insert(float(off), _m21_clef(info))
        state["clef"] = info
    _dynamics(mm, m, sm)
    return mm


#: music21 dynamic marks of the dynamic classes.
DYNAMIC_MARKS = {"dynamic_ppp": "ppp", "dynamic_pp": "pp", "dynamic_p": "p", "dynamic_mp": "mp",
                 "dynamic_mf": "mf", "dynamic_f": "f", "dynamic_ff": "ff", "dynamic_fff": "fff",
                 "dynamic_sf": "sf", "dynamic_fp": "fp"}


def _dynamics(mm, m: ReadMeasure, sm: StaffMeasure) -> None:
    """Dynamic marks under (or over) a staff, at the onset of the note nearest in x."""
    from music21 import dynamics

    g = m.graph
    staff = m.staff_ids[m.staves.index(sm)]
    events = [e for v in (sm.voices or {1: sm.events}).values() for e in v if e.rest != -1]
    if not events:
        return
    for n in g.nodes:
        if n.staff != staff or n.cls not in DYNAMIC_MARKS or not (m.span.x0 <= n.cx < m.span.x1):
            continue
        e = min(events, key=lambda e: abs(e.x - n.box[0] - 0.5 * n.width))
        mm.insert(float(e.onset), dynamics.Dynamic(DYNAMIC_MARKS[n.cls]))


def lyric_info(g: StaffGraph) -> dict[int, tuple[int, str]]:
    """Syllable node → (verse number, syllabic): verses are the rows of syllables
    under a staff (top row = verse 1); a hyphen between two syllables of a row makes
    them begin/middle/end of one word."""
    info: dict[int, tuple[int, str]] = {}
    syllables = [n for n in g.nodes if n.cls == "lyric_syllable"]
    hyphens = [n for n in g.nodes if n.cls == "lyric_hyphen"]
    by_staff: dict[tuple[int, int], list] = {}
    for n in syllables:
        sys_no = g.staves[n.staff].system if n.staff >= 0 else -1
        by_staff.setdefault((n.staff, sys_no), []).append(n)
    for (staff, _), nodes in by_staff.items():
        ss = g.staves[staff].staff_space if staff >= 0 else g.staff_space
        rows: list[list] = []
        for n in sorted(nodes, key=lambda n: n.cy):
            if rows and n.cy - rows[-1][-1].cy < LYRIC_ROW_SS * ss:
                rows[-1].append(n)
            else:
                rows.append([n])
        for verse, row in enumerate(rows, start=1):
            row.sort(key=lambda n: n.cx)
            joined = [any(a.box[2] - ss <= h.cx <= b.box[0] + ss and abs(h.cy - 0.5 * (a.cy + b.cy)) < ss
                          for h in hyphens) for a, b in zip(row, row[1:])]
            for i, n in enumerate(row):
                before = i > 0 and joined[i - 1]
                after = i < len(joined) and joined[i]
                syllabic = {(False, False): "single", (False, True): "begin", (True, True): "middle",
                            (True, False): "end"}[(before, after)]
                info[n.id] = (verse, syllabic)
    return info


#: Syllables whose centres are within this many staff spaces vertically are one row.
LYRIC_ROW_SS = 1.2


_TIME_SIGNATURES: dict = {}


def _time_signature(text: str):
    """A fresh music21 TimeSignature (copied from a cached one: making one with a
    large numerator takes music21 most of a tenth of a second).

    The hidden signature of an irregular measure can be as odd as 119/160 (a
    measure of unfinished tuplets), for which music21 finds no default beat
    partition; it is then made as one beat.

    >>> _time_signature("119/160").barDuration.quarterLength
    Fraction(119, 40)
    """
    import copy

    from music21 import meter
    from music21.exceptions21 import MeterException

    if text not in _TIME_SIGNATURES:
        try:
            ts = meter.TimeSignature(text)
        except MeterException:
            ts = meter.TimeSignature()
            ts.load(text, divisions=1)
        _TIME_SIGNATURES[text] = ts
    return copy.deepcopy(_TIME_SIGNATURES[text])


def _clef_change_offsets(sm: StaffMeasure) -> list[tuple[Fraction, ClefInfo]]:
    out = []
    events = sorted((e for v in (sm.voices or {1: sm.events}).values() for e in v), key=lambda e: e.x)
    for x, info in sm.clef_changes:
        after = [e for e in events if e.x > x]
        end = max((e.onset + e.duration for e in events), default=Fraction(0))
        out.append((after[0].onset if after else end, info))
    return out


def _navigation(mm, m: ReadMeasure) -> None:
    from music21 import expressions, repeat

    makers = {"segno": repeat.Segno, "coda": repeat.Coda, "fine": repeat.Fine,
              "dacapo": repeat.DaCapo, "dacapo_al_fine": repeat.DaCapoAlFine,
              "dacapo_al_coda": repeat.DaCapoAlCoda, "dalsegno": repeat.DalSegno,
              "dalsegno_al_fine": repeat.DalSegnoAlFine, "dalsegno_al_coda": repeat.DalSegnoAlCoda}
    for mark in sorted(m.marks):
        if mark == "tocoda":
            mm.insert(0, expressions.TextExpression("To Coda"))
        elif mark in makers:
            obj = makers[mark]()
            at = 0.0 if mark in ("segno", "coda") else float(m.length)
            mm.insert(at, obj)


def _duration(e: Event):
    from music21 import duration

    base = float(e.base)
    try:
        typ = duration.convertQuarterLengthToType(base)
        d = duration.Duration(type=typ, dots=e.dots)
    except Exception:  # not a single note value: let music21 split it
        d = duration.Duration(float(dotted(e.base, e.dots)))
    if e.tuplet and not e.grace:
        try:
            t = duration.Tuplet(e.tuplet[0], e.tuplet[1], durationNormal=duration.convertQuarterLengthToType(base))
        except Exception:
            t = duration.Tuplet(e.tuplet[0], e.tuplet[1])
        d.appendTuplet(t)
    if not e.grace and Fraction(d.quarterLength).limit_denominator(1 << 12) != e.duration:
        # a value no note type and tuplet spells as read (a tuplet note shortened to
        # fit its measure): the sounding length is what the measure adds up with
        d = duration.Duration(e.duration)
    return d


def _element(g: StaffGraph, sm: StaffMeasure, e: Event, made: dict, lyrics: dict):
    from music21 import articulations, chord, expressions, note, pitch, tie

    if e.is_rest:
        r = note.Rest()
        if e.full_measure_rest:
            r.quarterLength = float(e.base)
            r.fullMeasure = True
        else:
            r.duration = _duration(e)
        if e.inferred:
            r.style.color = INFERRED_COLOUR
        return r
    notes = []
    for h in e.heads:
        step, octave, alter, shown = sm.pitches.get(h, ("C", 4, 0, False))
        p = pitch.Pitch(step=step, octave=octave)
        if alter or shown:
            p.accidental = pitch.Accidental(alter)
            p.accidental.displayStatus = shown
        n = note.Note(p)
        ties = sm.ties.get(h)
        if ties:
            n.tie = tie.Tie("continue" if len(ties) == 2 else next(iter(ties)))
        for syl in sorted((g.nodes[s] for s in g.sources(h, "lyric")), key=lambda s: s.cy):
            text = syl.text.strip("-_ ")
            if text:
                verse, syllabic = lyrics[id(g)].get(syl.id, (1, "single"))
                lyric = note.Lyric(text=text, number=verse, syllabic=syllabic)
                n.lyrics.append(lyric)
        notes.append(n)
    if len(notes) == 1:
        el = notes[0]
    else:
        el = chord.Chord(notes)
    el.duration = _duration(e)
    if e.grace:
        el = el.getGrace()
    if e.direction:
        el.stemDirection = e.direction
    if e.inferred:
        el.style.color = INFERRED_COLOUR
    for digit in _fingering(g, e.heads):
        el.articulations.append(articulations.Fingering(digit))
    if any(g.sources(h, "arpeggio") for h in e.heads):
        el.expressions.append(expressions.ArpeggioMark())
    for h in e.heads:
        made[(id(g), h)] = el
    return el


def _fingering(g: StaffGraph, heads: list[int]) -> list[int]:
    """The finger numbers (1-5) read over or under these noteheads, top to bottom."""
    digits = [g.nodes[f] for h in heads for f in g.sources(h, "fingering")]
    return [int(f.text.strip()) for f in sorted(digits, key=lambda f: f.cy)
            if f.text.strip() in ("1", "2", "3", "4", "5")]


#: Beam lines of the note types that take them.
BEAM_LINES = {"eighth": 1, "16th": 2, "32nd": 3, "64th": 4, "128th": 5}


def set_printed_beams(g: StaffGraph, elements: list[tuple[Event, object]]) -> None:
    """Beam the notes of one voice as the page does; leave the others flagged.

    Notes in a row whose stems share a beam in the graph are one beamed group; each
    gets as many beam lines as its note type has (an eighth one, a 16th two), each
    line starting, continuing or stopping with its neighbours', or a hook toward
    the group where no neighbour has it (forward from the first note, backward
    from the others). Eighths and shorter on no beam keep their flags: music21
    would otherwise beam them by the time signature when it writes MusicXML (see
    ``streamStatus.beams`` in :func:`to_music21`).
    """
    group: list[object] = []        # music21 notes and chords of the group so far
    group_beams: set[int] = set()   # beam nodes of the group's last stem
    for e, el in [*elements, (None, None)]:
        beams = (set(g.targets(e.stem, "beam")) if e is not None and e.stem is not None
                 and not e.is_rest and not e.grace else set())
        beamable = bool(beams) and el.duration.type in BEAM_LINES
        if beamable and group and beams & group_beams:
            group.append(el)
        else:
            if len(group) > 1:
                _beam_group(group)
            group = [el] if beamable else []
        group_beams = beams


#: MusicXML beam values (:func:`omr.notation.rhythm.beam_values`) as music21
#: ``Beams.append`` arguments.
MUSIC21_BEAMS = {"begin": ("start",), "continue": ("continue",), "end": ("stop",),
                 "forward hook": ("partial", "right"), "backward hook": ("partial", "left")}


def _beam_group(notes: list) -> None:
    for n, values in zip(notes, beam_values([BEAM_LINES[n.duration.type] for n in notes])):
        for value in values:
            n.beams.append(*MUSIC21_BEAMS[value])


def _attach_slurs(measures: list[ReadMeasure], slot_streams: dict, made: dict) -> None:
    """Slurs between the notes their ends were linked to."""
    from music21 import spanner

    graphs = {id(m.graph): m.graph for m in measures}
    for gid, g in graphs.items():
        for n in g.nodes:
            if n.cls != "slur":
                continue
            a, b = g.targets(n.id, "slur_from"), g.targets(n.id, "slur_to")
            if not a or not b:
                continue
            na, nb = made.get((gid, a[0])), made.get((gid, b[0]))
            if na is None or nb is None or na is nb:
                continue
            part = na.getContextByClass("Part") or na.getContextByClass("PartStaff")
            if part is not None:
                part.insert(0, spanner.Slur(na, nb))


def _attach_spanners(score, measures: list[ReadMeasure], slot_streams: dict) -> None:
    """Endings (RepeatBracket over measures)."""
    from music21 import spanner

    top = slot_streams.get(0)
    if top is None:
        return
    mlist = list(top.getElementsByClass("Measure"))
    i = 0
    while i < len(measures):
        m = measures[i]
        if m.volta:
            j = i
            while j + 1 < len(measures) and measures[j + 1].volta == m.volta and not measures[j + 1].volta_first:
                j += 1
            rb = spanner.RepeatBracket(mlist[i:j + 1], number=",".join(str(n) for n in m.volta))
            top.insert(0, rb)
            i = j + 1
        else:
            i += 1


def score_from_graphs(graphs: list[StaffGraph], *, title: str | None = None):
    """Pages' staff graphs (one piece, in order) → (music21 Score, :class:`Report`)."""
    report = Report()
    measures = read_measures(graphs, report)
    resolve_measures(measures, report)
    fullest = fullest_system(graphs)
    g, k = (graphs[fullest[0]], fullest[1]) if fullest is not None else (None, 0)
    parts = staff_layout(g, k) if g is not None else []
    names = part_names(g, parts, k) if g is not None else []
    numbers = measure_numbers(measures, report)
    for i in report.inferred + report.warnings:  # the report names measures as the score does
        if 0 < i.measure <= len(numbers):
            i.number = str(numbers[i.measure - 1])
    score = to_music21(measures, parts, names, title=title, numbers=numbers)
    return score, report
