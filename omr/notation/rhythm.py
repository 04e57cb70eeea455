"""Rhythm: the events of one staff (notes, chords, rests) and their durations.

An :class:`Event` is what sounds (or is silent) at one moment in one voice: a single
note, a chord (noteheads sharing a stem, or stemless noteheads in one column), or a
rest. Its written duration comes from the graph: notehead kind, beams or flag on the
stem, augmentation dots, a tuplet mark; durations are exact fractions of a quarter
note.

Examples
--------
>>> base_duration("notehead_black", beams=2)      # a sixteenth
Fraction(1, 4)
>>> dotted(Fraction(1), 1)
Fraction(3, 2)
>>> tuplet_ratio(Fraction(3, 2), Fraction(1, 2))  # three eighths: a triplet
(3, 2)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from omr.graph import StaffGraph, beam_line_y, stem_direction, stem_tip

#: Written duration (quarter notes) of notehead kinds without beams or flags.
NOTEHEAD_QUARTERS = {
    "notehead_black": Fraction(1), "notehead_half": Fraction(2), "notehead_whole": Fraction(4),
    "notehead_breve": Fraction(8), "notehead_black_cue": Fraction(1),
    "notehead_half_cue": Fraction(2), "notehead_whole_cue": Fraction(4),
}
#: Written duration (quarter notes) of rest classes.
REST_QUARTERS = {
    "rest_breve": Fraction(8), "rest_whole": Fraction(4), "rest_half": Fraction(2),
    "rest_quarter": Fraction(1), "rest_8th": Fraction(1, 2), "rest_16th": Fraction(1, 4),
    "rest_32nd": Fraction(1, 8), "rest_64th": Fraction(1, 16),
}
#: Flag class → how many times it halves the duration.
FLAG_HALVINGS = {"flag_8th": 1, "flag_16th": 2, "flag_32nd": 3, "flag_64th": 4}
#: Noteheads within this many staff spaces of each other (and with no stem) are
#: one chord.
CHORD_COLUMN_SS = 0.6
#: The durations (quarter notes) a stemless notehead column may take instead of its
#: surest reading, when the detector also saw each head so: a whole note or a half
#: note whose stem was not found.
STEMLESS_ALTERNATIVES = (Fraction(4), Fraction(2))
#: Most beams/flags believed on one stem.
MAX_HALVINGS = 5
#: A stem whose far end comes within this many staff spaces of the page image's top
#: or bottom runs out of the photo, and its beams or flag may lie beyond: a black
#: note on it without either may be one of these many beam lines too (alternative
#: readings, which a measure that does not add up settles).
CUT_STEM_SS = 1.0
CUT_STEM_BEAMS = (1, 2)
#: ... and so may a black notehead with no stem found within a stem's length (this
#: many staff spaces) of the top or bottom: its stem ran out of the photo too soon
#: for the detector to see it.
STEM_LENGTH_SS = 3.5


@dataclass
class Event:
    """A note, chord or rest of one staff, in reading order.

    ``heads`` are notehead node ids (empty for a rest); ``rest`` the rest node id.
    ``duration`` is the sounding length in quarter notes (0 for grace notes):
    ``base`` dotted ``dots`` times, scaled by ``tuplet`` (actual, normal) if any.
    ``voice`` (1-based) and ``onset`` (quarter notes from the measure's start) are
    filled in by :mod:`omr.notation.voices`. ``inferred`` says what, if anything,
    was not printed but inferred (see :mod:`omr.notation.implied`).
    """

    x: float
    heads: list[int] = field(default_factory=list)
    rest: int | None = None
    stem: int | None = None
    direction: str | None = None  # "up", "down" or None (no stem)
    base: Fraction = Fraction(1)
    dots: int = 0
    tuplet: tuple[int, int] | None = None
    tuplet_printed: bool = False
    grace: bool = False
    beamed: bool = False
    beam_group: int | None = None  # id of the first beam of its group (or None)
    full_measure_rest: bool = False
    voice: int = 1
    onset: Fraction = Fraction(0)
    inferred: str = ""
    y: float = 0.0  # centre height (px), for voice assignment of rests
    #: For a rest (or an unbeamed, unflagged note of one notehead) the detector
    #: also read as another rest (notehead), or a beamed note whose beam lines the
    #: image counts differently from the detector: the ``base`` lengths the other
    #: readings give, surest first (see :func:`omr.notation.implied.reread`).
    alternatives: tuple[Fraction, ...] = ()
    #: Its last column of dots scored under ``DOUBTFUL_DOT_SCORE``: grain or a speck
    #: beside the note may have been read as a dot (see
    #: :func:`omr.notation.implied.reread`).
    doubtful_dot: bool = False
    #: A tuplet number the detector scored under ``PARSE_THRESHOLD`` stands over it
    #: (``Node.doubtful``): that number's node id and the ratio it gives. Its group
    #: is made a tuplet only where the voice overfills its measure without it (see
    #: :func:`omr.notation.implied.implied_tuplets`).
    doubtful_tuplet: tuple[int, tuple[int, int]] | None = None

    @property
    def is_rest(self) -> bool:
        return self.rest is not None

    @property
    def duration(self) -> Fraction:
        if self.grace:
            return Fraction(0)
        d = dotted(self.base, self.dots)
        if self.tuplet:
            d = d * Fraction(self.tuplet[1], self.tuplet[0])
        return d


def beam_values(lines: list[int]) -> list[list[str]]:
    """MusicXML beam values of a beamed group, note by note and level by level,
    from each note's number of beam lines: a line begins, continues or ends with its
    neighbours', or is a hook (forward from the first note, backward from the
    others). Used to write beams (``omr.score``) and to generate them (``synth``).

    >>> beam_values([1, 2, 1])     # eighth, sixteenth, eighth
    [['begin'], ['continue', 'backward hook'], ['end']]
    >>> beam_values([2, 2])
    [['begin', 'begin'], ['end', 'end']]
    """
    values = []
    for i, count in enumerate(lines):
        beams = []
        for level in range(1, count + 1):
            before = i > 0 and lines[i - 1] >= level
            after = i < len(lines) - 1 and lines[i + 1] >= level
            if before and after:
                beams.append("continue")
            elif before:
                beams.append("end")
            elif after:
                beams.append("begin")
            else:
                beams.append("backward hook" if i > 0 else "forward hook")
        values.append(beams)
    return values


def base_duration(notehead_cls: str, *, beams: int = 0, flags: int = 0) -> Fraction:
    """Written duration of a notehead with ``beams`` beams or ``flags`` flag halvings
    (black noteheads only are shortened)."""
    q = NOTEHEAD_QUARTERS[notehead_cls]
    if q == 1:
        q = q / (2 ** min(max(beams, flags), MAX_HALVINGS))
    return q


def dotted(base: Fraction, dots: int) -> Fraction:
    """``base`` lengthened by ``dots`` augmentation dots."""
    return base * (2 - Fraction(1, 2 ** dots))


def tuplet_ratio(total: Fraction, unit: Fraction, number: int | None = None) -> tuple[int, int]:
    """(actual, normal) of a tuplet group lasting ``total`` written quarter notes made
    of units of ``unit``; ``number`` is the printed number when it was read. Three
    units in the time of two, five or six or seven in the time of four, two or four in
    the time of three."""
    n = number or max(1, round(total / unit)) if unit else (number or 3)
    if n in (2, 4):
        return n, 3
    normal = 1
    while normal * 2 < n:
        normal *= 2
    return n, normal


#: Beam segments that meet at a stem (one ends within this many staff spaces of
#: where the next begins) are one beam line: verovio draws a secondary beam across
#: several notes as one segment per pair of stems.
BEAM_CHAIN_SS = 0.5
#: ... or overlaps it by up to this much (the detector's boxes of the pieces overrun
#: the stem they meet at) ...
BEAM_CHAIN_OVERLAP_SS = 1.0
#: ... and continue its line to within this (beam lines are 0.75 staff space apart).
BEAM_LEVEL_SS = 0.3
#: Thickness of a beam line, staff spaces.
BEAM_THICKNESS_SS = 0.5


def _beam_slope_sign(g: StaffGraph, beam) -> int:
    """+1 when a beam falls to the right (y grows), -1 when it rises, 0 when level
    or unknown: from the far ends of the stems it joins (a box has no direction)."""
    stems = [g.nodes[s] for s in g.sources(beam.id, "beam")]
    if len(stems) < 2:
        return 0
    stems.sort(key=lambda s: s.cx)
    ends = [stem_tip(g, s) for s in stems]
    dy = ends[-1] - ends[0]
    if abs(dy) < 0.5:
        return 0
    return 1 if dy > 0 else -1


#: Two beam boxes that overlap over at least this fraction of the shorter one and
#: whose lines there lie within ``BEAM_SAME_LINE_SS`` of each other are one beam
#: line detected twice (beam lines are 0.75 staff space apart).
BEAM_SAME_OVERLAP = 0.5
BEAM_SAME_LINE_SS = 0.3


def _line_y(beam, x: float, sign: int, ss: float) -> float:
    """y of a beam box's centre line at ``x`` (:func:`omr.graph.beam_line_y`: falling
    when ``sign`` > 0, rising when < 0; level through the middle when 0)."""
    if sign == 0:
        return 0.5 * (beam.box[1] + beam.box[3])
    return beam_line_y(beam, x, sign < 0, ss)


def _same_line(a, b, sign: int, ss: float) -> bool:
    overlap = min(a.box[2], b.box[2]) - max(a.box[0], b.box[0])
    if overlap < BEAM_SAME_OVERLAP * min(a.width, b.width) or overlap <= 0:
        return False
    xm = 0.5 * (min(a.box[2], b.box[2]) + max(a.box[0], b.box[0]))
    return abs(_line_y(a, xm, sign, ss) - _line_y(b, xm, sign, ss)) < BEAM_SAME_LINE_SS * ss


def _beam_boxes(g: StaffGraph, stem: int) -> int:
    """Beam lines at a stem by the detector: attached beam boxes, with segments
    chained end to start at this stem counted once."""
    beams = [g.nodes[b] for b in set(g.targets(stem, "beam"))]
    if len(beams) < 2:
        return len(beams)
    tol = BEAM_CHAIN_SS * g.staves[g.nodes[stem].staff].staff_space if g.nodes[stem].staff >= 0 else 3.0
    sx = g.nodes[stem].cx
    lines = _Components(len(beams))
    ss = tol / BEAM_CHAIN_SS
    sign = _beam_slope_sign(g, max(beams, key=lambda b: b.width))
    for i, a in enumerate(beams):
        for j, b in enumerate(beams):
            if i != j and _same_line(a, b, sign, ss):
                lines.join(i, j)  # one beam line detected twice
                continue
            gap = b.box[0] - a.box[2]  # negative: the boxes overlap
            if i == j or not -BEAM_CHAIN_OVERLAP_SS * ss < gap < tol or abs(a.box[2] - sx) >= 3 * tol:
                continue
            # b continues a's line: its centre lies where the group's slope leads
            dy = b.cy - a.cy
            slope = max(0.0, a.height - BEAM_THICKNESS_SS * ss) / max(a.width, 1e-6)
            expected = [sign * slope * (b.cx - a.cx)] if sign else [slope * (b.cx - a.cx), -slope * (b.cx - a.cx)]
            if min(abs(dy - e) for e in expected) < BEAM_LEVEL_SS * ss:
                lines.join(i, j)
    return len({lines.root(i) for i in range(len(beams))})


class _Components:
    """Disjoint sets of the indices ``0 .. n - 1`` (union-find): ``join(i, j)`` puts
    ``i`` and ``j`` in one set, ``root(i)`` names the set of ``i``.

    >>> c = _Components(4); c.join(0, 2); c.join(2, 3)
    >>> c.root(0) == c.root(3), c.root(1) == c.root(0)
    (True, False)
    """

    def __init__(self, n: int):
        self.parent = list(range(n))

    def root(self, i: int) -> int:
        while self.parent[i] != i:
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        self.parent[self.root(i)] = self.root(j)


def _flag_halvings(g: StaffGraph, stem: int, *, doubtful: bool = False) -> int:
    """How many times the flags of ``stem`` halve its note: its sure flags', or with
    ``doubtful``, its doubtful flags' (``Node.doubtful``)."""
    return max([FLAG_HALVINGS.get(g.nodes[f].cls, 0) for f in g.targets(stem, "flag")
                if g.nodes[f].doubtful == doubtful] or [0])


def _has_slash(g: StaffGraph, stem: int) -> bool:
    return any(g.nodes[f].cls == "grace_slash" for f in g.targets(stem, "flag"))


#: Dots of one notehead this close in x (staff spaces) stand one above the other:
#: one dot (a chord's dots, both taken by one notehead), not a double dot.
DOT_SAME_COLUMN_SS = 0.3


#: An augmentation dot the detector scored under this is doubtful: a measure that
#: fills exactly without it is read without it.
DOUBTFUL_DOT_SCORE = 0.6


def _dot_columns(g: StaffGraph, nodes: list[int]) -> list[list]:
    """The augmentation dots of the notehead(s) or rest ``nodes`` in columns, left
    to right: dots within ``DOT_SAME_COLUMN_SS`` of the one before in x stand in
    one column (a chord's dots stacked beside it)."""
    dots = sorted((g.nodes[d] for n in nodes for d in g.sources(n, "dot")), key=lambda d: d.cx)
    if not dots:
        return []
    first = g.nodes[nodes[0]]
    gap = DOT_SAME_COLUMN_SS * (g.staves[first.staff].staff_space if first.staff >= 0 else g.staff_space)
    columns = [[dots[0]]]
    for before, d in zip(dots, dots[1:]):
        if d.cx - before.cx > gap:
            columns.append([])
        columns[-1].append(d)
    return columns


def _doubtful_dot(g: StaffGraph, nodes: list[int]) -> bool:
    """Whether the notehead(s) or rest ``nodes`` have dots and the detector scored
    none of their last column of dots (the dots stacked beside a chord, or a double
    dot's second) ``DOUBTFUL_DOT_SCORE`` or more: a tie's start just right of a
    chord's sure dots, read as a second dot at 0.35, double-dotted the chord."""
    columns = _dot_columns(g, nodes)
    return bool(columns) and max(d.score for d in columns[-1]) < DOUBTFUL_DOT_SCORE


def _dots_of(g: StaffGraph, node: int) -> int:
    """Augmentation dots of a notehead or rest: its dots side by side (dots stacked
    in one column count once)."""
    return len(_dot_columns(g, [node]))


def _column_x(g: StaffGraph, stem: int, heads: list) -> float:
    """x of the column a stemmed chord stands in: the centre of its noteheads on the
    stem's usual side (a second's displaced notehead is on the other side)."""
    sx = g.nodes[stem].cx
    direction = stem_direction(g, stem)
    usual = [h for h in heads if (h.cx < sx if direction == "up" else h.cx > sx)] or heads
    return sum(h.cx for h in usual) / len(usual)


def read_events(g: StaffGraph, staff: int, x0: float, x1: float) -> list[Event]:
    """The notes, chords and rests of ``staff`` whose centres lie in ``[x0, x1)``,
    left to right, with their written durations (no voices or onsets yet)."""
    ss = g.staves[staff].staff_space
    heads = [n for n in g.nodes if n.role == "notehead" and n.staff == staff and x0 <= n.cx < x1]
    rests = [n for n in g.nodes if n.role == "rest" and n.cls in REST_QUARTERS and n.staff == staff
             and x0 <= n.cx < x1]
    events: list[Event] = []
    beamed: list[tuple[Event, int, str, int]] = []  # (event, beam lines, notehead, flags)
    by_stem: dict[int, list] = {}
    loose = []
    for h in heads:
        stems = g.targets(h.id, "stem")
        if stems:
            by_stem.setdefault(stems[0], []).append(h)
        else:
            loose.append(h)
    for stem, hs in by_stem.items():
        kinds = [h.cls for h in hs]
        kind = max(kinds, key=lambda k: NOTEHEAD_QUARTERS[k])
        # beam lines: the detector's boxes, or more where the image shows more lines
        # at the stem's end (Node.levels: lines drawn close come out as one box)
        boxes = _beam_boxes(g, stem)
        beams = max(boxes, g.nodes[stem].levels or 0) if boxes else 0
        cue = all(k.endswith("_cue") for k in kinds)
        flags = _flag_halvings(g, stem)
        base = base_duration(kind, beams=beams, flags=flags)
        alternatives = ()
        if not beams and not flags:
            # a flag seen too faintly to read (a small or blurred photo), and a
            # stemmed notehead read two ways: black or half (a whole has no stem)
            faint = _flag_halvings(g, stem, doubtful=True)
            flagged = (base_duration(kind, flags=faint),) if faint else ()
            heads = [NOTEHEAD_QUARTERS[c] for c in hs[0].alternatives
                     if NOTEHEAD_QUARTERS.get(c) in (Fraction(1), Fraction(2))] if len(hs) == 1 else []
            # a stem that runs out of the photo: its beams may lie beyond the edge
            cut = _cut_readings(kind) if _runs_out(g, stem) else ()
            alternatives = tuple(q for q in dict.fromkeys(flagged + tuple(heads) + cut) if q != base)
        elif beams != boxes:
            # the image showed more beam lines than the detector's boxes (blur can
            # merge a stem's end with a slur or a neighbour's beam): the boxes' count
            alternatives = (base_duration(kind, beams=boxes, flags=flags),)
        elif flags and not beams:
            # a flag the detector also read as another flag, nearly as surely (an
            # eighth's and a 16th's flags blur alike)
            alternatives = _flag_alternatives(g, stem, kind, base)
        ev = Event(x=_column_x(g, stem, hs), heads=[h.id for h in sorted(hs, key=lambda h: -h.cy)], stem=stem,
                   direction=stem_direction(g, stem), base=base, alternatives=alternatives,
                   dots=max(_dots_of(g, h.id) for h in hs), doubtful_dot=_doubtful_dot(g, [h.id for h in hs]),
                   grace=cue or _has_slash(g, stem),
                   beamed=beams > 0, y=sum(h.cy for h in hs) / len(hs))
        beam_ids = sorted(g.targets(stem, "beam"))
        ev.beam_group = beam_ids[0] if beam_ids else None
        events.append(ev)
        if beams:
            beamed.append((ev, beams, kind, flags))
    for (ev, *_ignored), group in zip(beamed, _beam_groups(g, [ev for ev, *_ignored in beamed])):
        ev.beam_group = group
    _deep_beam_alternatives(beamed)
    loose.sort(key=lambda h: h.cx)
    column: list = []
    for h in loose + [None]:
        if column and (h is None or h.cx - column[0].cx > CHORD_COLUMN_SS * ss):
            kind = max((c.cls for c in column), key=lambda k: NOTEHEAD_QUARTERS[k])
            base = NOTEHEAD_QUARTERS[kind]
            # a stemless column read two ways, whole or half (blur fills a whole
            # note's hollow unevenly): the other reading, where every head has it
            readable = [{NOTEHEAD_QUARTERS[k] for k in (c.cls, *c.alternatives) if k in NOTEHEAD_QUARTERS}
                        for c in column]
            alternatives = tuple(q for q in STEMLESS_ALTERNATIVES if q != base and all(q in r for r in readable))
            if base == 1 and _by_top_or_bottom(g, [c.cy for c in column], STEM_LENGTH_SS * ss):
                # a black head whose stem the photo's edge cut too short to be seen
                alternatives += _cut_readings(kind)
            events.append(Event(x=sum(c.cx for c in column) / len(column),
                                heads=[c.id for c in sorted(column, key=lambda c: -c.cy)],
                                base=base, alternatives=alternatives, dots=max(_dots_of(g, c.id) for c in column),
                                doubtful_dot=_doubtful_dot(g, [c.id for c in column]),
                                grace=all(c.cls.endswith("_cue") for c in column),
                                y=sum(c.cy for c in column) / len(column)))
            column = []
        if h is not None:
            column.append(h)
    for r in rests:
        base = REST_QUARTERS[r.cls]
        alternatives = tuple(dict.fromkeys(REST_QUARTERS[c] for c in r.alternatives
                                           if c in REST_QUARTERS and REST_QUARTERS[c] != base))
        events.append(Event(x=r.cx, rest=r.id, base=base, dots=_dots_of(g, r.id), y=r.cy,
                            doubtful_dot=_doubtful_dot(g, [r.id]),
                            alternatives=alternatives))
    for r in (n for n in g.nodes if n.cls == "rest_multi" and n.staff == staff and x0 <= n.cx < x1):
        # a multi-measure rest is a whole-measure rest here; the measure is repeated
        # (omr.score) as often as its number says
        events.append(Event(x=r.cx, rest=r.id, base=REST_QUARTERS["rest_whole"], y=r.cy))
    events.sort(key=lambda e: e.x)
    _apply_printed_tuplets(g, events)
    return events


def _beam_groups(g: StaffGraph, beamed: list[Event]) -> list[int]:
    """For each of the ``beamed`` events, its beam group: the smallest id of the beams
    its stem shares with others, directly or through other stems. A blurred primary
    beam is often seen as two or three overlapping boxes, one per few stems; the
    stems are still one group."""
    owner: dict[int, int] = {}  # beam node -> first event seen with it
    linked = _Components(len(beamed))
    for i, ev in enumerate(beamed):
        for b in g.targets(ev.stem, "beam"):
            if b in owner:
                linked.join(i, owner[b])
            else:
                owner[b] = i
    first: dict[int, int] = {}
    for b, i in owner.items():
        root = linked.root(i)
        first[root] = min(first.get(root, b), b)
    return [first[linked.root(i)] for i in range(len(beamed))]


def _flag_alternatives(g: StaffGraph, stem: int, kind: str, base: Fraction) -> tuple[Fraction, ...]:
    """The lengths a ``kind`` note on ``stem`` takes with its sure flag read as one
    of the other flag classes the detector saw at its place (``Node.alternatives``,
    see :data:`omr.pipeline.ALTERNATIVE_MIN_RATIO`), surest first."""
    read = [g.nodes[f] for f in g.targets(stem, "flag") if not g.nodes[f].doubtful]
    lengths = [base_duration(kind, flags=FLAG_HALVINGS[c]) for f in read for c in f.alternatives
               if c in FLAG_HALVINGS]
    return tuple(q for q in dict.fromkeys(lengths) if q != base)


def _cut_readings(kind: str) -> tuple[Fraction, ...]:
    """The durations of a ``kind`` notehead with ``CUT_STEM_BEAMS`` beam lines."""
    return tuple(base_duration(kind, beams=n) for n in CUT_STEM_BEAMS)


def _runs_out(g: StaffGraph, stem: int) -> bool:
    """Whether the stem's far end comes within ``CUT_STEM_SS`` of the page image's
    top or bottom."""
    node = g.nodes[stem]
    return node.staff >= 0 and _by_top_or_bottom(g, [stem_tip(g, node)],
                                                 CUT_STEM_SS * g.staves[node.staff].staff_space)


def _by_top_or_bottom(g: StaffGraph, ys: list[float], reach: float) -> bool:
    """Whether any of the rows ``ys`` lies within ``reach`` px of the page image's top
    or bottom (``StaffGraph.height``; never when it is not known)."""
    return bool(g.height) and (min(ys) <= reach or max(ys) >= g.height - 1 - reach)


#: Beam lines from which a stem's count is doubted when a neighbour in its group
#: has more: blur merges the lines of 32nd and 64th groups.
DEEP_BEAM_LINES = 3


def _deep_beam_alternatives(beamed: list[tuple[Event, int, str, int]]) -> None:
    """Beam lines a stem may have been misread with, as alternative readings of its
    note (``Event.alternatives``, first) for a measure that does not add up
    (:func:`omr.notation.implied.reread`): a stem with secondary beams beside one of
    its beam group (``Event.beam_group``: stems linked by shared beams) with ``DEEP_BEAM_LINES`` or more
    lines, more than it, may have as many; a stem inside the group with more lines
    than both its neighbours (a hook blur made of a speck) may have as many as the
    more of them. A hook at the group's end (a dotted rhythm's) is no doubt. A stem
    with ``DEEP_BEAM_LINES`` or more lines doubts them as far as a run of stems with
    as many reaches: blur can take a line from most stems of a 64th group, so three
    stems read as 32nds beside one read as a 64th are all doubted (the measure
    settles them together, :func:`omr.notation.implied.reread`)."""
    groups: dict[int, list[int]] = {}
    for i, (ev, *_ignored) in enumerate(beamed):
        groups.setdefault(ev.beam_group, []).append(i)
    for members in groups.values():
        members.sort(key=lambda i: beamed[i][0].x)
        lines = [beamed[i][1] for i in members]
        for k, i in enumerate(members):
            ev, have, kind, flags = beamed[i]
            near = [lines[j] for j in (k - 1, k + 1) if 0 <= j < len(lines)]
            more = max(near, default=0)
            alt = None
            if have >= 2 and more >= DEEP_BEAM_LINES and more > have:
                alt = base_duration(kind, beams=more, flags=flags)
            elif have >= DEEP_BEAM_LINES and (deeper := _deeper_along(lines, k)) > have:
                alt = base_duration(kind, beams=deeper, flags=flags)  # a 32nd in a run of them
            elif len(near) == 2 and have > more >= 1:
                alt = base_duration(kind, beams=more, flags=flags)  # a hook inside
            if alt is not None and alt != ev.base:
                ev.alternatives = (alt,) + tuple(a for a in ev.alternatives if a != alt)


def _deeper_along(lines: list[int], k: int) -> int:
    """The beam lines of the first stem with another count than stem ``k``'s, going
    left or right from it along ``lines`` (a group's stems, in order), the more of
    the two (0 where the run reaches the group's end)."""
    found = 0
    for step in (-1, 1):
        j = k + step
        while 0 <= j < len(lines) and lines[j] == lines[k]:
            j += step
        if 0 <= j < len(lines):
            found = max(found, lines[j])
    return found


def _even_triplet(group: list[Event]) -> None:
    """Three notes under a number that was not read, one of them of another length
    and together no three notes of one plain length (an eighth, a sixteenth and an
    eighth, or two eighths and a 32nd: a beam stub or flag misread), are a triplet
    of the length the other two share: the odd one is read so (``inferred = "even
    triplet"``, reported by :func:`omr.score.read_measures`)."""
    lengths = [dotted(e.base, e.dots) for e in group]
    common = max(set(lengths), key=lengths.count)
    if lengths.count(common) != 2 or any(e.is_rest for e in group):
        return
    odd = next(e for e, n in zip(group, lengths) if n != common)
    third = sum(lengths, Fraction(0)) / 3
    if third.numerator & (third.numerator - 1) == 0 and third.denominator & (third.denominator - 1) == 0:
        return  # two sixteenths and a quarter: three eighths' worth, as printed
    model = next(e for e, n in zip(group, lengths) if n == common)
    odd.base, odd.dots, odd.inferred = model.base, model.dots, "even triplet"


def _apply_printed_tuplets(g: StaffGraph, events: list[Event]) -> None:
    """Events under a printed tuplet number get its ratio (digit from the text when
    read, else from the group's length); under a doubtful one (``Node.doubtful``),
    the ratio as ``Event.doubtful_tuplet`` only."""
    by_node = {}
    for i, e in enumerate(events):
        for h in e.heads:
            by_node[h] = i
        if e.rest is not None:
            by_node[e.rest] = i
    for t in (n for n in g.nodes if n.cls == "tuplet_number"):
        members = sorted({by_node[m] for m in g.targets(t.id, "tuplet") if m in by_node})
        members = [i for i in members if not events[i].grace]
        if len(members) < 2:
            continue
        number = int(t.text) if t.text.strip().isdigit() else None
        unit = min(events[i].base for i in members)
        if number is None and sum((dotted(events[i].base, events[i].dots) for i in members), Fraction(0)) == 2 * unit:
            # two units under a number are rarely a duplet: a rest of one unit beside
            # them (not under the beam) is the tuplet's third
            for i in (members[0] - 1, members[-1] + 1):
                if 0 <= i < len(events) and events[i].is_rest and dotted(events[i].base, events[i].dots) == unit:
                    members = sorted(members + [i])
                    break
            else:
                continue  # no third: a mark read as a number (a segno, a fingering)
        group = [events[i] for i in members]
        if t.doubtful:
            if not any(e.tuplet or e.doubtful_tuplet for e in group):
                total = sum((dotted(e.base, e.dots) for e in group), Fraction(0))
                for e in group:
                    e.doubtful_tuplet = (t.id, tuplet_ratio(total, unit, number))
            continue
        if number is None and len(group) == 3:
            _even_triplet(group)
            unit = min(e.base for e in group)
        total = sum((dotted(e.base, e.dots) for e in group), Fraction(0))
        ratio = tuplet_ratio(total, unit, number)
        for e in group:
            e.tuplet = ratio
            e.tuplet_printed = True
