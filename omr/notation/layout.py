"""Measures of a system, and the clef, key and time signature symbols of a staff.

A system's measures are cut at its barlines. Barlines are collected from all its
staves and clustered by x, so a barline the detector missed on one staff is still
found from the others; a cluster is kept when at least half the staves show it. A
stretch of staff with no note or rest (the clef, key and time at the start of a
system, say) is not a measure; a repeat sign at its end opens the next measure.

In a photo whose perspective was not undone (the page outline was not in the
picture) a system's barlines slant, so one barline sits at a different x on each
staff; :func:`level_barlines` first shifts each such staff (with its symbols) so
that its barlines line up with those of the staff above.

Examples
--------
>>> fraction_of_time(["time_3"], ["time_4"])
(3, 4)
>>> fraction_of_time(["time_common"], [])
(4, 4)
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass

from omr import vocab
from omr.graph import Node, StaffGraph

#: Barlines within this many staff spaces on different staves are one barline.
BARLINE_CLUSTER_SS = 1.5
#: A barline stands when it is found on at least half of a system's staves; in a
#: system of four staves or more, on no more than half of them only when one of
#: them scores at least this (a stem or a crease passes for a barline on a staff or
#: two, doubtfully). One found on only some staves does not stand where a notehead
#: or a rest of another staff covers its x (see :func:`_blocked`); found on most of
#: the staves, only where it would cross that notehead or rest at least this far
#: (staff spaces) inside its box.
HALF_BARLINE_SCORE = 0.8
BLOCK_INSET_SS = 0.25
#: A measure is at least this wide (staff spaces): a narrower one is a stem or a
#: bracket taken for a barline, and joins the measure before it.
MIN_MEASURE_SS = 2.5
#: What follows a system's last barline is a measure whose closing barline was not
#: seen only when the staff runs on at least this far (staff spaces); less is a
#: courtesy clef, key or time signature (whose digits can pass for whole notes).
COURTESY_MAX_SS = 3.8
#: Key signature accidentals (and time signature digits) further apart than this
#: (staff spaces) belong to different signatures.
SIGNATURE_GAP_SS = 1.6
#: Staves that end within this many staff spaces of the page image's right side run
#: on out of the photo; when they run on at least ``CUT_MIN_RUN_SS`` past their
#: system's last barline (which is no final barline), a measure lies beyond the
#: photo's edge: it is kept as an empty measure (``MeasureSpan.cut``), so that the
#: measures after it keep their places. Not where a clef, key or time signature
#: follows the barline (courtesy signatures: the line ends there), nor where the
#: lines run on ``CUT_EMPTY_MAX_SS`` or more with no note, rest or stem on them: a
#: measure's first note stands nearer its barline, so that is the staff's own end,
#: drawn on past its last barline (as under a sign over it).
CUT_EDGE_SS = 3.0
CUT_MIN_RUN_SS = 1.0
CUT_EMPTY_MAX_SS = 3.0

#: Slanted barlines (see :func:`level_barlines`): the offset from one staff to the
#: next is searched up to this slant (x per y, about 19 degrees) ...
MAX_BARLINE_SLANT = 0.35
#: ... as the shift that puts most of the lower staff's barlines within
#: ``SLANT_MATCH_SS`` staff spaces of the upper one's, when at least
#: ``MIN_SLANT_MATCHES`` barlines match.
SLANT_MATCH_SS = 0.75
MIN_SLANT_MATCHES = 2

#: Which barline classes open and close measures for repeats.
REPEAT_START = {"barline_repeat_start", "barline_repeat_both"}
REPEAT_END = {"barline_repeat_end", "barline_repeat_both"}
#: When barlines of different classes are clustered, the most telling wins.
_KIND_PRIORITY = ["barline_repeat_both", "barline_repeat_end", "barline_repeat_start",
                  "barline_final", "barline_double", "barline_single"]


@dataclass
class MeasureSpan:
    """One measure of a system: x range (px) and the barline classes at its left
    and right (None: none printed / start or end of the system); ``right_score``: the
    detector's score of the right barline (the median over its staves, each staff by
    its surest box); ``cut``: a measure the photo's edge cut off (nothing of it is
    read)."""

    x0: float
    x1: float
    left: str | None = None
    right: str | None = None
    right_score: float = 1.0
    cut: bool = False


def _staves_spanned(g: StaffGraph, b: Node, staves: list[int]) -> list[int]:
    out = []
    for s in staves:
        st = g.staves[s]
        top, bottom = st.y_top(b.cx), st.y_bottom(b.cx)
        tol = 0.5 * st.staff_space
        if b.box[1] <= top + tol and b.box[3] >= bottom - tol:
            out.append(s)
    if not out and b.staff in staves:
        out = [b.staff]
    return out


def staff_offsets(g: StaffGraph, staves: list[int]) -> dict[int, float]:
    """x offset (px) of each staff of a system against its first staff, from the
    barlines each staff shows (0 for a staff whose barlines do not match)."""
    ss = min(g.staves[s].staff_space for s in staves)
    bars = {s: sorted(n.cx for n in g.nodes if n.role == "barline" and n.staff == s) for s in staves}
    offsets = {staves[0]: 0.0}
    for a, b in zip(staves, staves[1:]):
        reach = MAX_BARLINE_SLANT * abs(g.staves[b].center_y - g.staves[a].center_y)
        best, shift = (0, 0.0), 0.0
        for d in {xb - xa for xa in bars[a] for xb in bars[b] if abs(xb - xa) <= reach}:
            diffs = [min(bars[b], key=lambda xb: abs(xa + d - xb)) - xa for xa in bars[a]]
            matched = [x for x in diffs if abs(x - d) <= SLANT_MATCH_SS * ss]
            key = (len(matched), -abs(d))
            if key > best:
                best, shift = key, sorted(matched)[len(matched) // 2]
        offsets[b] = offsets[a] + (shift if best[0] >= MIN_SLANT_MATCHES else 0.0)
    return offsets


def level_barlines(g: StaffGraph) -> StaffGraph:
    """``g`` with the staves of each system whose barlines slant shifted in x (with
    their symbols) so the barlines line up (see the module doc); ``g`` itself when
    none slants by more than ``BARLINE_CLUSTER_SS``. The copy is for reading the
    measures; ``g`` keeps the page's coordinates."""
    shift: dict[int, float] = {}
    for staves in g.systems:
        if len(staves) < 2:
            continue
        offsets = staff_offsets(g, staves)
        ss = min(g.staves[s].staff_space for s in staves)
        if max(abs(v) for v in offsets.values()) > BARLINE_CLUSTER_SS * ss:
            shift.update(offsets)
    if not shift:
        return g

    def moved(box, d):
        return (box[0] - d, box[1], box[2] - d, box[3])

    nodes = [dataclasses.replace(n, box=moved(n.box, shift.get(n.staff, 0.0))) for n in g.nodes]
    staves = [dataclasses.replace(st, xs=st.xs - shift.get(i, 0.0), x0=st.x0 - shift.get(i, 0.0),
                                  x1=st.x1 - shift.get(i, 0.0)) for i, st in enumerate(g.staves)]
    return StaffGraph(nodes=nodes, edges=list(g.edges), staves=staves,
                      systems=[list(s) for s in g.systems], width=g.width, height=g.height)


def _blocked(g: StaffGraph, staves: set[int], x: float, *, inset_ss: float = 0.0) -> bool:
    """Whether a notehead or a rest on one of ``staves`` covers ``x`` (a barline found
    on other staves of their system), at least ``inset_ss`` staff spaces inside its
    box."""
    def inset(n: Node) -> float:
        return inset_ss * g.staves[n.staff].staff_space

    return any(n.staff in staves and n.role in ("notehead", "rest") and n.box[0] + inset(n) < x < n.box[2] - inset(n)
               for n in g.nodes)


def _cut_after(g: StaffGraph, staves: list[int], spans: list[MeasureSpan], staff_end: float, ss: float) -> bool:
    """Whether the photo's edge cut off a measure after a system's last measure in
    ``spans`` (see ``CUT_EDGE_SS``): its staves end at the page image's right side,
    ``staff_end``, and run on past a last barline that is no final one, with no
    courtesy clef, key or time signature after it, and with music after it where
    they run on far (``CUT_EMPTY_MAX_SS``)."""
    if not spans or not g.width or spans[-1].right in (None, "barline_final"):
        return False
    last = spans[-1].x1
    if staff_end < g.width - CUT_EDGE_SS * ss or staff_end - last < CUT_MIN_RUN_SS * ss:
        return False
    after = [n for n in g.nodes if n.staff in staves and n.cx > last]
    if staff_end - last >= CUT_EMPTY_MAX_SS * ss and not any(n.role in ("notehead", "rest", "stem") for n in after):
        return False
    return not any(n.role in ("clef", "key", "time") for n in after)


def system_measures(g: StaffGraph, staves: list[int]) -> list[MeasureSpan]:
    """The measures of the system made of ``staves`` (page staff indices)."""
    if not staves:
        return []
    ss = min(g.staves[s].staff_space for s in staves)
    items = []  # (x, kind, staves)
    for n in g.nodes:
        if n.role != "barline":
            continue
        spanned = _staves_spanned(g, n, staves)
        if spanned:
            items.append((n.cx, n.cls, set(spanned), n.score))
    items.sort(key=lambda t: t[0])
    clusters: list[list] = []
    for it in items:
        if clusters and it[0] - clusters[-1][-1][0] <= BARLINE_CLUSTER_SS * ss:
            clusters[-1].append(it)
        else:
            clusters.append([it])
    need = max(1, (len(staves) + 1) // 2)
    barlines = []
    for c in clusters:
        covered = set().union(*(it[2] for it in c))
        if len(covered) < need:
            continue
        if len(staves) >= 4 and 2 * len(covered) <= len(staves) and max(it[3] for it in c) < HALF_BARLINE_SCORE:
            continue  # half the staves, none of them sure: stems or a crease taken for barlines
        # the median: a stem read as a barline beside the real one does not move it
        xs = sorted(it[0] for it in c)
        x = 0.5 * (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2])
        # (found on most staves, a barline is not stopped by a note whose edge it
        # touches: the last note before it, once slanted staves are lined up)
        inset = BLOCK_INSET_SS if 2 * len(covered) > len(staves) else 0.0
        if len(covered) < len(staves) and _blocked(g, set(staves) - covered, x, inset_ss=inset):
            continue  # a note stands where the barline would cross another staff: a crease or a stem
        kinds = [it[1] for it in c]
        kind = min(kinds, key=lambda k: _KIND_PRIORITY.index(k) if k in _KIND_PRIORITY else 99)
        if kind == "barline_single" and kinds.count("barline_single") < len(kinds) / 2:
            kind = max(set(kinds), key=kinds.count)
        # the column is as sure as its staves' median (each staff by its surest box):
        # an arpeggio's wavy line beside a chord rolled on both staves looks like a
        # barline on one of them only
        barlines.append((x, kind, statistics.median(max(it[3] for it in c if k in it[2]) for k in covered)))
    x_start = min(g.staves[s].x0 for s in staves)
    staff_end = max(g.staves[s].x1 for s in staves)
    x_end = staff_end + ss
    # (a stem alone counts: a measure whose noteheads the detector missed is a measure)
    musical = sorted(n.cx for n in g.nodes if n.staff in staves and n.role in ("notehead", "rest", "stem"))

    def has_music(a: float, b: float) -> bool:
        return any(a <= x < b for x in musical)

    spans: list[MeasureSpan] = []
    carry_left: str | None = None
    prev_x, prev_kind = x_start, None
    for x, kind, score in barlines + [(x_end, None, 1.0)]:
        if kind is None and prev_kind is not None and x - ss - prev_x < COURTESY_MAX_SS * ss:
            break  # after the system's last barline: courtesy signatures, no measure
        if has_music(prev_x, x):
            left = carry_left or (prev_kind if prev_kind in REPEAT_START else None)
            spans.append(MeasureSpan(prev_x, x, left=left, right=kind, right_score=score))
            carry_left = None
        elif kind is not None and kind in REPEAT_START:
            carry_left = kind
        elif kind is not None and spans and kind != "barline_single" and spans[-1].right == "barline_single":
            spans[-1].right = kind  # a double/final bar drawn as two boxes
        prev_x, prev_kind = x, kind
    # a measure narrower than any real one (a stem taken for a barline just before
    # the system's end) belongs to the measure before it
    merged: list[MeasureSpan] = []
    for sp in spans:
        if merged and sp.x1 - sp.x0 < MIN_MEASURE_SS * ss and sp.left is None:
            merged[-1].x1, merged[-1].right, merged[-1].right_score = sp.x1, sp.right, sp.right_score
        else:
            merged.append(sp)
    spans = merged
    if _cut_after(g, staves, spans, staff_end, ss):
        left = spans[-1].right if spans[-1].right in REPEAT_START else None
        spans.append(MeasureSpan(spans[-1].x1, staff_end, left=left, cut=True))
    for s in spans:  # a repeat-both opens the next measure only as a start
        if s.left == "barline_repeat_both":
            s.left = "barline_repeat_start"
    return spans


def signature_groups(g: StaffGraph, staff: int, role: str) -> list[list[Node]]:
    """Nodes of ``role`` ("key" or "time") on ``staff`` grouped into signatures,
    left to right."""
    ss = g.staves[staff].staff_space
    nodes = sorted((n for n in g.nodes if n.role == role and n.staff == staff), key=lambda n: n.box[0])
    groups: list[list[Node]] = []
    for n in nodes:
        if groups and n.box[0] - max(m.box[2] for m in groups[-1]) <= SIGNATURE_GAP_SS * ss:
            groups[-1].append(n)
        else:
            groups.append([n])
    return groups


#: The lower numbers a time signature can have.
TIME_DENOMINATORS = (1, 2, 4, 8, 16, 32, 64)


def fraction_of_time(upper: list[str], lower: list[str]) -> tuple[int, int] | None:
    """Time signature from the classes of its upper and lower glyphs (left to
    right); None when they do not make one."""
    if "time_common" in upper + lower:
        return 4, 4
    if "time_cut" in upper + lower:
        return 2, 2
    digits_u = "".join(vocab.TIME_DIGITS.get(c, "") for c in upper)
    digits_l = "".join(vocab.TIME_DIGITS.get(c, "") for c in lower)
    if not digits_u or not digits_l:
        return None
    num, den = int(digits_u), int(digits_l)
    if num <= 0 or den not in TIME_DENOMINATORS:
        return None
    return num, den


#: Two time glyphs in one half of a staff that share this fraction of the narrower
#: one's width are two readings of one glyph (digits of "12" stand side by side).
TIME_GLYPH_OVERLAP = 0.5


def _one_reading_per_glyph(half: list[Node]) -> list[Node]:
    """``half``'s glyphs, surest first, without those that overlap a surer one in x
    by ``TIME_GLYPH_OVERLAP`` (a "4" also seen as a "2"); left to right."""
    kept: list[Node] = []
    for n in sorted(half, key=lambda n: -n.score):
        if all(min(n.box[2], k.box[2]) - max(n.box[0], k.box[0]) < TIME_GLYPH_OVERLAP * min(n.width, k.width)
               for k in kept):
            kept.append(n)
    return sorted(kept, key=lambda n: n.cx)


def _time_halves(g: StaffGraph, group: list[Node]) -> tuple[list[Node], list[Node]]:
    """A group of time glyphs split into its upper and lower numbers (a common or
    cut time sign counts as upper), one reading per glyph, each left to right."""
    staff = g.staves[group[0].staff]
    upper, lower = [], []
    for n in group:
        if n.cls in ("time_common", "time_cut"):
            upper.append(n)
        elif n.cy < staff.line_y(2, n.cx):
            upper.append(n)
        else:
            lower.append(n)
    return _one_reading_per_glyph(upper), _one_reading_per_glyph(lower)


def time_readings(g: StaffGraph, group: list[Node]) -> list[tuple[int, int] | None]:
    """The time signatures a group of time glyphs can be: first the detector's
    surest reading of each glyph (None when those make none), then, for each
    glyph in turn, each other class the detector gave it (``Node.alternatives``)
    that makes a time signature; no repeats."""
    upper, lower = _time_halves(g, group)
    classes = [n.cls for n in upper + lower]
    cut = len(upper)
    options: list[tuple[int, int] | None] = [fraction_of_time(classes[:cut], classes[cut:])]
    for i, n in enumerate(upper + lower):
        for alt in n.alternatives:
            trial = classes[:i] + [alt] + classes[i + 1:]
            t = fraction_of_time(trial[:cut], trial[cut:])
            if t is not None and t not in options:
                options.append(t)
    return options


def half_read_time(g: StaffGraph, group: list[Node]) -> tuple[int | None, int | None] | None:
    """The one number of a time signature whose other number was not read (a
    blurred digit the detector missed): ``(upper, None)`` or ``(None, lower)``;
    None when both numbers or neither are digits. The measures' contents settle
    the missing number (:func:`omr.score._settle_half_read`)."""
    upper, lower = _time_halves(g, group)
    if any(n.cls in ("time_common", "time_cut") for n in upper):
        return None
    digits_u = "".join(vocab.TIME_DIGITS.get(n.cls, "") for n in upper)
    digits_l = "".join(vocab.TIME_DIGITS.get(n.cls, "") for n in lower)
    if digits_u and not digits_l and int(digits_u) > 0:
        return int(digits_u), None
    if digits_l and not digits_u and int(digits_l) in TIME_DENOMINATORS:
        return None, int(digits_l)
    return None
