"""The staff graph: detected symbols linked by typed relations.

Nodes are the detected symbols (class, box, score, staff) plus the staves; edges say
which symbol belongs to which: a notehead to its stem, a stem to its beams and flag,
an accidental or a dot to its note, a tie or slur to the two noteheads it joins, a
tuplet number to its group, a lyric syllable to its note, every symbol to its staff.
Notation (:mod:`omr.notation`) reads the music from this graph only, so a wrong
reading can be traced to one node or one edge, and the app can draw both.

All geometry is in pixels of the normalized page (see :func:`omr.page.normalize`);
tolerances are named constants in staff spaces (``_SS``) and are multiplied by the
staff space of the staff concerned. The design follows the Music Notation Graph of
MUSCIMA++ (``mung``), written anew here.

Examples
--------
>>> from omr.graph import Symbol, build_graph, straight_staff
>>> staff = straight_staff(0, x0=0, x1=200, top=40, staff_space=10)
>>> head = Symbol("notehead_black", (50, 70, 62, 80))        # in the bottom space
>>> stem = Symbol("stem", (61, 40, 62, 75))                  # rising from its right
>>> g = build_graph([head, stem], [staff])
>>> [e.kind for e in g.edges if e.kind not in ("staff", "system")]
['stem']
>>> g.nodes[0].position                                     # half staff spaces
1
"""

from __future__ import annotations

import bisect
import json
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from omr import vocab
from omr.staff import Staff, off_line

# --- tolerances, staff spaces ------------------------------------------------------
#: A stem touches a notehead when its x is this close to the notehead's left or
#: right edge, and the notehead's centre lies within the stem's vertical span
#: extended by ``STEM_Y_TOLERANCE_SS``.
STEM_X_TOLERANCE_SS = 0.45
STEM_Y_TOLERANCE_SS = 0.6
#: A beam belongs to a stem whose x lies in the beam's x range (widened by this) and
#: whose vertical span reaches the beam's line there (widened by ``BEAM_Y_...``).
BEAM_X_TOLERANCE_SS = 0.4
#: ... and where no stem stands at an end of the beam's box, the nearest stem up to
#: this far beyond it (the detector's box of a long beam often stops short).
BEAM_END_REACH_SS = 1.0
#: ... for a beam at least this wide (staff spaces; a shorter one is a hook, with a
#: stem at one end only).
BEAM_EXTEND_MIN_SS = 2.0
BEAM_Y_TOLERANCE_SS = 0.35
#: Thickness of a beam line, used to place the line inside a sloped beam's box.
BEAM_THICKNESS_SS = 0.5
#: A flag starts within this of its stem's x and overlaps the stem's far end.
FLAG_X_TOLERANCE_SS = 0.6
#: An accidental lies left of its notehead with at most this gap.
ACCIDENTAL_MAX_GAP_SS = 3.5
ACCIDENTAL_MAX_OVERLAP_SS = 0.3
#: Where in an accidental's box its notehead's centre lies, as a fraction of the box
#: height from the top (a flat's bowl is low in its box).
ACCIDENTAL_ANCHOR = {"accidental_flat": 0.70, "accidental_double_flat": 0.70}
#: An accidental read as one sign and nearly as surely as another (a flat under a
#: slur's end, read as a sharp and a flat alike) is the one whose place in its box
#: (``ACCIDENTAL_ANCHOR``) lies nearer a notehead, by at least this much of the
#: distance :func:`_nearest_head` weighs (``ACCIDENTAL_DY_WEIGHT`` times 0.25 staff
#: space up or down).
ACCIDENTAL_ANCHOR_MARGIN = 1.0
ACCIDENTAL_MAX_DY_SS = 0.7
#: An accidental goes to the notehead nearest it, counting a staff space up or down
#: as this many staff spaces to the right (of a second in a chord, the head a step
#: off the accidental's height is the nearer one, the other sits across the stem).
ACCIDENTAL_DY_WEIGHT = 4.0
#: An augmentation dot lies right of its note or rest within this gap, and at most
#: this far above/below its centre.
DOT_MAX_GAP_SS = 2.2
DOT_MAX_DY_SS = 1.0
#: Augmentation dots are printed in spaces: a doubtful one (scoring under
#: DOT_ON_LINE_MAX_SCORE) centred within this many half staff spaces of a staff or
#: ledger line's place is a speck or a line's end, not a dot.
DOT_ON_LINE_HALF_SPACES = 0.4
DOT_ON_LINE_MAX_SCORE = 0.7
#: A tie/slur end is within this (horizontally) of the notehead it starts/ends on.
CURVE_END_X_SS = 2.0
CURVE_END_Y_SS = 2.5
#: Symbols whose box is farther than this from every staff belong to no staff.
STAFF_MAX_DISTANCE_SS = 12.0
#: A notehead or rest whose centre lies further than this (staff spaces) beyond
#: either end of its system's staff lines is no note: a staff label in the margin
#: ("T.", "B.") or a page number read as one. (The system's ends, not the staff's:
#: a staff's own line tracking can stop short where the photo is bad.)
STAFF_END_MARGIN_SS = 1.0
#: Key signature accidentals stand on and just around their staff, at these staff
#: positions at most (half staff spaces, 0 = bottom line, 8 = top line); one far
#: beyond belongs to a staff the photo cut off, whose lines were not found.
KEY_POSITIONS = (-3, 11)
#: Rests stand on and around their staff, at these staff positions at most (4 staff
#: spaces beyond the outer lines; an upper voice's rest stands at most 3 above in the
#: synthetic pages): one farther off is a glyph of a staff beyond, cut off by the photo.
REST_POSITIONS = (-8, 16)
#: A notehead at least this far (staff spaces) outside its nearest staff, between
#: two staves, may belong to the other staff (:func:`_ledger_sides`); a ledger line
#: is where one is needed when it is within this many staff spaces of the line
#: position.
LEDGER_OUTSIDE_SS = 0.9
LEDGER_SIDE_SS = 0.3
#: A notehead that needs this many ledger lines and shows none is not its staff's.
UNSUPPORTED_MIN_LEDGERS = 2
#: A lyric syllable belongs to the note whose centre is nearest, at most this far.
LYRIC_MAX_DX_SS = 4.0
#: A tuplet number covers notes within this horizontal distance of its group.
TUPLET_REACH_SS = 1.0
#: A tuplet number with neither beam nor bracket stands for the (up to three) note
#: columns nearest it within this many staff spaces ...
TUPLET_NEAR_SS = 6.0
#: ... or, where fewer than two lie that near (notes spread apart by lyrics), for the
#: run of two or three neighbouring columns within this many whose middle is nearest
#: the number, if that middle is within ``TUPLET_CENTRE_SS`` of it (the number is
#: printed over its group's middle).
TUPLET_FAR_SS = 10.0
TUPLET_CENTRE_SS = 1.0
#: A tuplet number stands for the notes nearest it up or down: those whose note
#: with its stem ends within this many staff spaces more than the nearest's, so a
#: voice on the staff's other side stays out; for a run centred under it (see
#: ``TUPLET_FAR_SS``), within ``TUPLET_FAR_SIDE_SS`` (a high note of the group
#: with its stem down ends far above the number under the staff).
TUPLET_SIDE_SS = 2.5
TUPLET_FAR_SIDE_SS = 4.0
#: A tuplet bracket box narrower than this (staff spaces) is the detector's box of
#: the number printed in the bracket's gap, not of the bracket (which spans at
#: least two notes): it tells nothing of the group's extent.
TUPLET_BRACKET_MIN_SS = 2.0
#: An expression (articulation, fermata) belongs to a note within this distance.
EXPRESSION_MAX_DIST_SS = 3.0

#: A fingering digit belongs to the notehead of its staff nearest in x, within this
#: many staff spaces of its centre, and within FINGERING_MAX_GAP_SS of it (digits
#: above the staff stand over low notes too).
FINGERING_MAX_DX_SS = 1.2
FINGERING_MAX_GAP_SS = 6.0
#: A digit just left of a notehead at its height (guitar and harp fingering) belongs
#: to it: centres within this many staff spaces up or down, this much paper between.
FINGERING_BESIDE_DY_SS = 0.6
FINGERING_BESIDE_GAP_SS = 1.0

#: An arpeggio's wavy line rolls the chord whose heads lie right of it, up to this
#: many staff spaces of paper away (accidentals may stand between), and within its
#: height and this much more above and below.
ARPEGGIO_MAX_GAP_SS = 3.0
ARPEGGIO_REACH_Y_SS = 0.5

#: Edge kinds and what they mean (source → target).
EDGE_KINDS = {
    "staff": "symbol → the staff it belongs to (target is the staff index, not a node id)",
    "system": "staff → its system (source is the staff index, target the system index)",
    "stem": "notehead → its stem",
    "beam": "stem → a beam joining it",
    "flag": "stem → its flag",
    "accidental": "accidental → the notehead it alters",
    "dot": "augmentation dot → its notehead or rest",
    "tie_from": "tie → the notehead it starts on",
    "tie_to": "tie → the notehead it ends on",
    "slur_from": "slur → the notehead it starts on",
    "slur_to": "slur → the notehead it ends on",
    "tuplet": "tuplet number → a notehead or rest of its group",
    "lyric": "lyric syllable → its notehead",
    "fingering": "fingering digit → its notehead",
    "arpeggio": "arpeggio → a notehead of the chord it rolls",
    "expression": "articulation/ornament/fermata → its notehead or rest",
    "brace": "brace or bracket → a staff it joins",
}


@dataclass
class Symbol:
    """A symbol given to :func:`build_graph`: class, box (normalized px), score, and
    text for text classes (what OCR read, or synth/'s ground truth)."""

    cls: str
    box: tuple[float, float, float, float]
    score: float = 1.0
    text: str = ""
    #: Other classes the detector gave this glyph, surest first (kept for time
    #: signature digits, rests, noteheads and flags: which fits the measures settles
    #: them; and accidental signs: where the note lies in the box settles them).
    alternatives: tuple[str, ...] = ()
    #: Seen by the detector too faintly to be read (a flag, a tuplet number): it
    #: only offers its note another reading, which the measure settles; a faint tie
    #: joins its notes only beside a tie read between the same two chords.
    doubtful: bool = False


@dataclass
class Node:
    """A node of the staff graph. ``staff`` is the index of the staff it belongs
    to (-1: none); ``position`` the staff position of noteheads, rests, clefs and
    key accidentals in half staff spaces (0 = bottom line, 8 = top line)."""

    id: int
    cls: str
    box: tuple[float, float, float, float]
    score: float = 1.0
    text: str = ""
    staff: int = -1
    position: int | None = None
    #: For stems: how many beam lines the image shows at the stem's end (see
    #: :func:`measure_beam_levels`); None when not measured.
    levels: int | None = None
    #: Other readings of the glyph, surest first (see ``Symbol.alternatives``).
    alternatives: tuple[str, ...] = ()
    #: Only another reading of what it is linked to (see ``Symbol.doubtful``).
    doubtful: bool = False

    def __post_init__(self):
        self.role = vocab.CLASSES[self.cls].role  # what the symbol is to the graph (omr.vocab.ROLES)

    @property
    def cx(self) -> float:
        return 0.5 * (self.box[0] + self.box[2])

    @property
    def cy(self) -> float:
        return 0.5 * (self.box[1] + self.box[3])

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


@dataclass(frozen=True)
class Edge:
    """A typed relation ``src → dst`` (node ids; see :data:`EDGE_KINDS`)."""

    src: int
    dst: int
    kind: str


@dataclass
class StaffGraph:
    """Nodes, edges, the page's staves and systems (lists of staff indices, top to
    bottom). Look-ups: :meth:`targets`, :meth:`sources`."""

    nodes: list[Node]
    edges: list[Edge]
    staves: list[Staff]
    systems: list[list[int]]
    #: width of the page image the graph's boxes lie on (px; 0 when not known): where
    #: the staves end at its right side, the photo cut them off
    width: float = 0.0
    #: ... and its height: where a stem runs out at its top or bottom, the photo cut
    #: off its beams or flag
    height: float = 0.0
    _out: dict = field(default_factory=dict, repr=False)
    _in: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        self._index()

    def _index(self) -> None:
        self._out, self._in = {}, {}
        for e in self.edges:
            self._out.setdefault((e.src, e.kind), []).append(e.dst)
            self._in.setdefault((e.dst, e.kind), []).append(e.src)

    def add_edge(self, src: int, dst: int, kind: str) -> None:
        if kind not in EDGE_KINDS:
            raise ValueError(f"unknown edge kind {kind!r}")
        self.edges.append(Edge(src, dst, kind))
        self._out.setdefault((src, kind), []).append(dst)
        self._in.setdefault((dst, kind), []).append(src)

    def remove_edge(self, src: int, dst: int, kind: str) -> None:
        """Drop the edge ``src`` → ``dst`` of ``kind`` (nothing when there is none)."""
        self.edges = [e for e in self.edges if (e.src, e.dst, e.kind) != (src, dst, kind)]
        self._index()

    def targets(self, node: int, kind: str) -> list[int]:
        """Ids that ``node`` points to with edges of ``kind``."""
        return self._out.get((node, kind), [])

    def sources(self, node: int, kind: str) -> list[int]:
        """Ids that point to ``node`` with edges of ``kind``."""
        return self._in.get((node, kind), [])

    def of_role(self, role: str, staff: int | None = None) -> list[Node]:
        return [n for n in self.nodes if n.role == role and (staff is None or n.staff == staff)]

    @property
    def staff_space(self) -> float:
        """Median staff space of the page (px)."""
        return float(np.median([s.staff_space for s in self.staves])) if self.staves else 10.0

    # --- serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict:
        """A JSON-ready dict: nodes, edges, staves (lines sampled), systems."""
        return {
            "nodes": [{"id": n.id, "cls": n.cls, "box": [round(float(v), 2) for v in n.box],
                       "score": round(float(n.score), 4), "staff": n.staff,
                       **({"position": n.position} if n.position is not None else {}),
                       **({"text": n.text} if n.text else {}),
                       **({"levels": n.levels} if n.levels is not None else {}),
                       **({"alternatives": list(n.alternatives)} if n.alternatives else {}),
                       **({"doubtful": True} if n.doubtful else {})} for n in self.nodes],
            "edges": [[e.src, e.dst, e.kind] for e in self.edges],
            "staves": [{"index": s.index, "system": s.system, "x0": round(float(s.x0), 2),
                        "x1": round(float(s.x1), 2), "staff_space": round(float(s.staff_space), 3),
                        "line_thickness": round(float(s.line_thickness), 3),
                        "xs": [round(float(v), 1) for v in s.xs],
                        "lines": [[round(float(v), 2) for v in row] for row in s.lines]}
                       for s in self.staves],
            "systems": self.systems,
            **({"width": round(float(self.width), 1)} if self.width else {}),
            **({"height": round(float(self.height), 1)} if self.height else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> StaffGraph:
        staves = [Staff(index=s["index"], xs=np.array(s["xs"], float), lines=np.array(s["lines"], float),
                        x0=s["x0"], x1=s["x1"], staff_space=s["staff_space"],
                        line_thickness=s["line_thickness"], system=s["system"]) for s in d["staves"]]
        nodes = [Node(id=n["id"], cls=n["cls"], box=tuple(n["box"]), score=n["score"],
                      text=n.get("text", ""), staff=n["staff"], position=n.get("position"),
                      levels=n.get("levels"), alternatives=tuple(n.get("alternatives", ())),
                      doubtful=bool(n.get("doubtful", False)))
                 for n in d["nodes"]]
        edges = [Edge(int(a), int(b), k) for a, b, k in d["edges"]]
        return cls(nodes=nodes, edges=edges, staves=staves, systems=[list(s) for s in d["systems"]],
                   width=float(d.get("width", 0.0)), height=float(d.get("height", 0.0)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict())


def straight_staff(index: int, *, x0: float, x1: float, top: float, staff_space: float,
                   system: int = -1, line_thickness: float = 1.0) -> Staff:
    """A level, unbent :class:`~omr.staff.Staff` (tests and synth ground truth)."""
    lines = np.array([[top + i * staff_space] * 2 for i in range(5)], float)
    return Staff(index=index, xs=np.array([x0, x1], float), lines=lines, x0=float(x0), x1=float(x1),
                 staff_space=float(staff_space), line_thickness=float(line_thickness), system=system)


# ---------------------------------------------------------------------------
# Building the graph
# ---------------------------------------------------------------------------


def build_graph(symbols: list[Symbol], staves: list[Staff],
                systems: list[list[int]] | None = None, *, width: float = 0.0,
                height: float = 0.0) -> StaffGraph:
    """Link ``symbols`` (normalized-page boxes) into a :class:`StaffGraph`.

    ``staves`` come from :func:`omr.staff.analyze` (or :func:`straight_staff`),
    ``systems`` are lists of staff indices (default: from each ``Staff.system``, a
    staff of its own when unset); ``width``, ``height``: the page image's size (px),
    when known.
    """
    staves = sorted(staves, key=lambda s: s.center_y)
    for i, s in enumerate(staves):
        s.index = i
    if systems is None:
        systems = _systems_from_staves(staves)
    ss = float(np.median([s.staff_space for s in staves])) if staves else 10.0
    symbols = merge_stem_pieces(symbols, ss)
    nodes = [Node(id=i, cls=s.cls, box=tuple(float(v) for v in s.box), score=float(s.score), text=s.text,
                  alternatives=tuple(s.alternatives), doubtful=s.doubtful) for i, s in enumerate(symbols)]
    g = StaffGraph(nodes=nodes, edges=[], staves=staves, systems=systems, width=float(width),
                   height=float(height))
    if not staves:
        return g
    _assign_staves(g)
    _ledger_sides(g)
    _drop_unsupported_heads(g)
    for n in g.nodes:
        if n.staff >= 0:
            g.add_edge(n.id, n.staff, "staff")
    for k, members in enumerate(g.systems):
        for i in members:
            g.add_edge(i, k, "system")
    _link_stems(g)
    _link_beams(g)
    _link_flags(g)
    _link_accidentals(g)
    _link_dots(g)
    _link_curves(g)
    _link_tuplets(g)
    _link_lyrics(g)
    _link_fingering(g)
    _link_arpeggios(g)
    _link_expressions(g)
    _link_braces(g)
    return g


#: Stem boxes this close in x (staff spaces) whose vertical extents overlap or
#: leave at most ``STEM_PIECE_GAP_SS`` between them are pieces of one stem: the
#: detector finds a long chord stem as several.
STEM_PIECE_X_SS = 0.3
STEM_PIECE_GAP_SS = 1.0


def merge_stem_pieces(symbols: list[Symbol], staff_space: float) -> list[Symbol]:
    """``symbols`` with collinear stem pieces joined into one stem (the union of
    their boxes, the best score), in the input order: the first piece of a stem
    takes its place, the others are dropped (no stem split: the same list)."""
    order = sorted((i for i, s in enumerate(symbols) if s.cls == "stem"),
                   key=lambda i: (0.5 * (symbols[i].box[0] + symbols[i].box[2]), symbols[i].box[1]))
    groups: list[list[int]] = []
    boxes: list[list[float]] = []
    for i in order:
        s = symbols[i]
        cx = 0.5 * (s.box[0] + s.box[2])
        for g, b in zip(reversed(groups[-8:]), reversed(boxes[-8:])):
            if abs(cx - 0.5 * (b[0] + b[2])) <= STEM_PIECE_X_SS * staff_space and \
                    s.box[1] - b[3] <= STEM_PIECE_GAP_SS * staff_space and \
                    b[1] - s.box[3] <= STEM_PIECE_GAP_SS * staff_space:
                g.append(i)
                b[:] = [min(b[0], s.box[0]), min(b[1], s.box[1]), max(b[2], s.box[2]), max(b[3], s.box[3])]
                break
        else:
            groups.append([i])
            boxes.append(list(s.box))
    if len(groups) == len(order):
        return list(symbols)
    keep = {}
    for g, b in zip(groups, boxes):
        first = min(g)
        keep[first] = Symbol("stem", tuple(b), max(symbols[i].score for i in g), symbols[first].text)
        for i in g:
            if i != first:
                keep[i] = None
    return [keep.get(i, s) for i, s in enumerate(symbols) if keep.get(i, s) is not None]


def _systems_from_staves(staves: list[Staff]) -> list[list[int]]:
    groups: dict[int, list[int]] = {}
    for s in staves:
        key = s.system if s.system >= 0 else 10_000 + s.index
        groups.setdefault(key, []).append(s.index)
    systems = [sorted(v) for _, v in sorted(groups.items(), key=lambda kv: min(kv[1]))]
    for k, members in enumerate(systems):
        for i in members:
            staves[i].system = k
    return systems


def _assign_staves(g: StaffGraph) -> None:
    # staves' vertical extents, to try only the two or three a symbol can belong to
    extents = np.array([[s.lines[0].min(), s.lines[4].max()] for s in g.staves])
    # where each staff's system starts and ends (x)
    ends = {s.index: (s.x0, s.x1) for s in g.staves}
    for members in g.systems:
        lo = min(g.staves[i].x0 for i in members)
        hi = max(g.staves[i].x1 for i in members)
        ends.update({i: (lo, hi) for i in members})
    for n in g.nodes:
        if n.role == "structure" and n.cls in ("brace", "bracket"):
            continue
        cx, cy = n.cx, n.cy
        best, best_d = -1, np.inf
        rough = np.maximum(0.0, np.maximum(extents[:, 0] - cy, cy - extents[:, 1]))
        order = np.argsort(rough)[:3]
        for s in (g.staves[i] for i in sorted(order)):
            top, bottom = s.y_top(cx), s.y_bottom(cx)
            if n.cls == "lyric_syllable" or n.cls == "lyric_hyphen":
                d = cy - bottom if cy > bottom else np.inf  # lyrics hang below their staff
            elif top <= cy <= bottom:
                d = 0.0
            else:
                d = min(abs(cy - top), abs(cy - bottom))
            if d < best_d:
                best, best_d = s.index, d
        if best >= 0 and best_d <= STAFF_MAX_DISTANCE_SS * g.staves[best].staff_space:
            s = g.staves[best]
            margin = STAFF_END_MARGIN_SS * s.staff_space
            lo, hi = ends[best]
            if n.role in ("notehead", "rest") and not lo - margin <= cx <= hi + margin:
                continue
            position = int(round(s.position(cx, _anchor_y(n))))
            if n.role == "key" and not KEY_POSITIONS[0] <= position <= KEY_POSITIONS[1]:
                continue
            if n.role == "rest" and not REST_POSITIONS[0] <= position <= REST_POSITIONS[1]:
                continue
            n.staff = best
            if n.role in ("notehead", "rest", "clef", "key", "accidental", "dot", "ledger"):
                n.position = position


def _ledger_sides(g: StaffGraph) -> None:
    """Move a notehead between two staves to the staff its ledger lines lead to.

    A note high above the lower staff (F#4 over a bass staff) can sit nearer the
    upper staff's bottom line. A note needs a ledger line on every line position
    between it and its staff; when that run of ledger lines is there from the other
    staff and not from the nearer one, the note is the other staff's.
    """
    ledgers = [n for n in g.nodes if n.role == "ledger"]
    if not ledgers:
        return
    index = _XIndex(ledgers)

    def complete(n: Node, staff: Staff, near: list[Node]) -> bool:
        """Every ledger line the head needs on ``staff`` is there."""
        p = staff.position(n.cx, n.cy)
        if p <= -LEDGER_OUTSIDE_SS * 2:
            needed = range(-2, int(math.floor(p + 0.5)) - 1, -2)
        elif p >= 8 + LEDGER_OUTSIDE_SS * 2:
            needed = range(10, int(math.ceil(p - 0.5)) + 1, 2)
        else:
            return False
        have = [staff.position(n.cx, ln.cy) for ln in near]
        return all(any(abs(h - q) <= 2 * LEDGER_SIDE_SS for h in have) for q in needed)

    for n in _by_role(g, "notehead"):
        if n.staff < 0:
            continue
        own = g.staves[n.staff]
        ss = own.staff_space
        if own.y_top(n.cx) - LEDGER_OUTSIDE_SS * ss <= n.cy <= own.y_bottom(n.cx) + LEDGER_OUTSIDE_SS * ss:
            continue
        k = n.staff - 1 if n.cy < own.y_top(n.cx) else n.staff + 1
        if not 0 <= k < len(g.staves) or g.staves[k].system != own.system:
            continue
        near = _ledgers_at(index, n, ss)
        if near and complete(n, g.staves[k], near) and not complete(n, own, near):
            n.staff = k
            n.position = int(round(g.staves[k].position(n.cx, _anchor_y(n))))


def _ledgers_at(index: "_XIndex", n: Node, ss: float) -> list[Node]:
    """The ledger lines (of ``index``) that run under or beside notehead ``n``."""
    return [ln for ln in index.between(n.cx - _REACH_SS * ss, n.cx + _REACH_SS * ss)
            if ln.box[0] - LEDGER_SIDE_SS * ss <= n.cx <= ln.box[2] + LEDGER_SIDE_SS * ss]


def _drop_unsupported_heads(g: StaffGraph) -> None:
    """A notehead that would need ``UNSUPPORTED_MIN_LEDGERS`` or more ledger lines
    on its staff, and has none at all, is no note of that staff: it belongs to a
    staff the page analysis did not find (one cut by the photo's edge)."""
    ledgers = _XIndex([n for n in g.nodes if n.role == "ledger"])
    for n in _by_role(g, "notehead"):
        if n.staff < 0:
            continue
        staff = g.staves[n.staff]
        ss = staff.staff_space
        p = staff.position(n.cx, n.cy)
        beyond = max(p - 8, -p) / 2      # staff spaces beyond the outer line
        if beyond + 0.5 < UNSUPPORTED_MIN_LEDGERS:
            continue
        top, bottom = (n.cy, staff.y_top(n.cx)) if p > 8 else (staff.y_bottom(n.cx), n.cy)
        if not any(top - ss <= ln.cy <= bottom + ss for ln in _ledgers_at(ledgers, n, ss)):
            n.staff = -1
            n.position = None


def _anchor_y(n: Node, cls: str | None = None) -> float:
    """The y that carries a symbol's staff position (a flat's bowl, not its box
    centre); ``cls``: read the symbol's box as that class's instead of its own."""
    cls = cls or n.cls
    if cls in ACCIDENTAL_ANCHOR:
        return n.box[1] + ACCIDENTAL_ANCHOR[cls] * n.height
    if cls in ("key_flat",):
        return n.box[1] + ACCIDENTAL_ANCHOR["accidental_flat"] * n.height
    return n.cy


class _XIndex:
    """Nodes sorted by centre x, for "which nodes lie between x0 and x1" in
    logarithmic time (pages hold a thousand symbols; pairs would be a million)."""

    def __init__(self, nodes: list[Node]):
        self.nodes = sorted(nodes, key=lambda n: n.cx)
        self.xs = [n.cx for n in self.nodes]

    def between(self, x0: float, x1: float) -> list[Node]:
        return self.nodes[bisect.bisect_left(self.xs, x0):bisect.bisect_right(self.xs, x1)]


#: Widest symbols whose centre is looked up by x (staff spaces): a notehead's half
#: width plus the widest tolerance.
_REACH_SS = 4.0


def _ss(g: StaffGraph, n: Node) -> float:
    return g.staves[n.staff].staff_space if n.staff >= 0 else g.staff_space


def _by_role(g: StaffGraph, *roles: str) -> list[Node]:
    return [n for n in g.nodes if n.role in roles]


def _link_stems(g: StaffGraph) -> None:
    heads = _by_role(g, "notehead")
    stems = [n for n in g.nodes if n.cls == "stem"]
    if not heads or not stems:
        return
    index = _XIndex(stems)
    # each notehead takes the nearest stem that touches it; then, in photos where
    # boxes are less exact, a black notehead still without one (it must have one)
    # looks a little further for a stem no other notehead took
    _attach_heads(g, heads, index, STEM_X_TOLERANCE_SS, STEM_Y_TOLERANCE_SS)
    lonely = [h for h in heads if not g.targets(h.id, "stem") and h.cls in ("notehead_black", "notehead_black_cue")]
    free = _XIndex([s for s in stems if not g.sources(s.id, "stem")])
    _attach_heads(g, lonely, free, STEM_X_LOOSE_SS, STEM_Y_LOOSE_SS, own_side=True)
    # a black or half notehead still without a stem joins the chord of a stem whose
    # notehead sits right next to it (the detector's stem stopped at the first
    # notehead of the chord); a head that joined is a neighbour for the next, so a
    # stack of heads joins from the stem outwards
    waiting = [h for h in heads if not g.targets(h.id, "stem") and h.cls in STEMMED_HEADS]
    while waiting:
        found = []
        for h in waiting:
            best, best_d = _chord_neighbour(g, h, index)
            if best is not None:
                found.append((best_d, h, best))
        if not found:
            break
        _, h, best = min(found, key=lambda t: t[0])
        g.add_edge(h.id, best.id, "stem")
        waiting.remove(h)
    # ... or is the outer note of a chord whose stem the detector stopped a little
    # short of it (a note an octave below the others, say): its box comes within
    # STEM_END_GAP_SS of the stem's end. The outer note stands on its stem's own
    # side (only an inner note of a second is set across it): left of a stem that
    # rises from it, right of one that falls from it
    for h in heads:
        if g.targets(h.id, "stem") or h.cls not in STEMMED_HEADS:
            continue
        ss = _ss(g, h)
        best, best_d = None, np.inf
        for s in index.between(h.box[0] - STEM_X_TOLERANCE_SS * ss, h.box[2] + STEM_X_TOLERANCE_SS * ss):
            dx = _own_side_dx(h, s)
            y0, y1 = _end_gap(h, s)
            gap = max(y1 - y0, 0.0)
            if dx > STEM_X_TOLERANCE_SS * ss or gap > STEM_END_GAP_SS * ss or not g.sources(s.id, "stem"):
                continue
            if dx + gap < best_d:
                best, best_d = s, dx + gap
        if best is not None:
            g.add_edge(h.id, best.id, "stem")


def stem_touch(head_box: Sequence[float], stem_box: Sequence[float], x_tol: float, y_tol: float) -> float | None:
    """How far (px) the stem's x lies from the nearer side of the notehead's box, where
    the stem touches the head: within ``x_tol`` px of a side, the head's centre within
    the stem's rows widened by ``y_tol`` px; None where it does not.

    >>> stem_touch((0, 10, 12, 20), (11, -20, 13, 16), 4.5, 6.0)
    0.0
    >>> stem_touch((0, 10, 12, 20), (30, -20, 32, 16), 4.5, 6.0) is None
    True
    """
    cx, cy = 0.5 * (stem_box[0] + stem_box[2]), 0.5 * (head_box[1] + head_box[3])
    if not stem_box[1] - y_tol <= cy <= stem_box[3] + y_tol:
        return None
    dx = min(abs(cx - head_box[0]), abs(cx - head_box[2]))
    return dx if dx <= x_tol else None


def _above_stem(h: Node, s: Node) -> bool:
    """Whether notehead ``h`` lies toward stem ``s``'s top end rather than its bottom."""
    return s.box[1] - h.box[3] >= h.box[1] - s.box[3]


def _own_side_dx(h: Node, s: Node) -> float:
    """How far stem ``s`` stands from the side of notehead ``h`` it belongs on: the
    head's left edge for a stem falling from it (the head above the stem), its right
    edge for one rising from it."""
    return abs(s.cx - (h.box[0] if _above_stem(h, s) else h.box[2]))


def _end_gap(h: Node, s: Node) -> tuple[float, float]:
    """The rows (y from, y to) between notehead ``h`` and the nearer end of stem
    ``s``: from the head's bottom to the stem's top when the head is above it, from
    the stem's bottom to the head's top when below; y to < y from where they overlap."""
    return (h.box[3], s.box[1]) if _above_stem(h, s) else (s.box[3], h.box[1])


#: Noteheads that have a stem (a half or black one without is a detection short of it).
STEMMED_HEADS = ("notehead_black", "notehead_half", "notehead_black_cue", "notehead_half_cue")
#: ... and the gap (staff spaces) that may be left between such a head's box and the
#: end of a chord's stem it belongs to.
STEM_END_GAP_SS = 1.0

#: The second, looser pass (black noteheads left without a stem, free stems only).
STEM_X_LOOSE_SS = 0.9
STEM_Y_LOOSE_SS = 1.6
#: A lonely notehead joins a chord whose notehead is at most this far above/below,
#: or ``CHORD_STACK_SS`` (a fifth) when their boxes' sides line up within
#: ``CHORD_IN_LINE_SS``.
CHORD_NEIGHBOUR_SS = 1.6
CHORD_STACK_SS = 2.1
CHORD_IN_LINE_SS = 0.3


def _chord_neighbour(g: StaffGraph, h: Node, index: _XIndex) -> tuple[Node | None, float]:
    """The stem whose chord has a notehead next to ``h`` (within ``CHORD_NEIGHBOUR_SS``
    above or below, or ``CHORD_STACK_SS`` for a head in line with it), and how far."""
    ss = _ss(g, h)
    best, best_d = None, np.inf
    for s in index.between(h.box[0] - STEM_X_LOOSE_SS * ss, h.box[2] + STEM_X_LOOSE_SS * ss):
        for m in (g.nodes[i] for i in g.sources(s.id, "stem")):
            dy, dx = abs(m.cy - h.cy), abs(m.cx - h.cx)
            in_line = abs(m.box[0] - h.box[0]) <= CHORD_IN_LINE_SS * ss and abs(m.box[2] - h.box[2]) <= CHORD_IN_LINE_SS * ss
            if dx <= 1.5 * ss and (dy <= CHORD_NEIGHBOUR_SS * ss or (in_line and dy <= CHORD_STACK_SS * ss)):
                if dy + dx < best_d:
                    best, best_d = s, dy + dx
    return best, best_d


def _attach_heads(g: StaffGraph, heads: list[Node], index: _XIndex, x_tol: float, y_tol: float, *,
                  own_side: bool = False) -> None:
    """Link each of ``heads`` to the nearest stem of ``index`` touching it (see
    :func:`stem_touch`). ``own_side``: a head beyond a stem's end takes it only on
    that stem's own side (a stem rising from the head at its right edge, one falling
    from it at its left edge): a barline just right of a chord's upper note, read as
    a stem too, took that note from its own falling stem, seen short of it."""
    for h in heads:
        ss = _ss(g, h)
        best, best_d = None, np.inf
        reach = x_tol * ss
        for s in index.between(h.box[0] - reach, h.box[2] + reach):
            dx = stem_touch(h.box, s.box, reach, y_tol * ss)
            if dx is None:
                continue
            if own_side and not s.box[1] <= h.cy <= s.box[3] and _own_side_dx(h, s) > reach:
                continue
            # a stem ends at its notes: distance of the head from the nearer stem end
            # counts, so a stem passing a neighbour's edge in mid-air loses
            dy_end = min(abs(h.cy - s.box[1]), abs(h.cy - s.box[3]))
            inside = s.box[1] < h.cy < s.box[3]
            d = dx + (0.0 if inside and dy_end < 1.5 * ss else 0.25 * dy_end)
            if d < best_d:
                best, best_d = s, d
        if best is not None:
            g.add_edge(h.id, best.id, "stem")


def stem_heads(g: StaffGraph, stem: int) -> list[int]:
    """Noteheads attached to ``stem``."""
    return g.sources(stem, "stem")


def stem_direction(g: StaffGraph, stem: int) -> str:
    """"up" when the stem rises from its noteheads, "down" otherwise."""
    s = g.nodes[stem]
    heads = [g.nodes[h] for h in stem_heads(g, stem)]
    if not heads:
        return "up"
    top = min(h.cy for h in heads)
    bottom = max(h.cy for h in heads)
    return "up" if (top - s.box[1]) >= (s.box[3] - bottom) else "down"


def stem_tip(g: StaffGraph, stem: Node) -> float:
    """y of a stem's far end: the end away from its noteheads."""
    return stem.box[1] if stem_direction(g, stem.id) == "up" else stem.box[3]


def beam_line_y(beam: Node, x: float, rising: bool, ss: float) -> float:
    """y of a beam's centre line at ``x``: the beam runs corner to corner of its box
    (``rising``: from bottom-left to top-right)."""
    x0, y0, x1, y1 = beam.box
    t = 0.5 * min(BEAM_THICKNESS_SS * ss, y1 - y0)  # half the line's thickness, px
    f = 0.0 if x1 <= x0 else float(np.clip((x - x0) / (x1 - x0), 0.0, 1.0))
    ya, yb = (y1 - t, y0 + t) if rising else (y0 + t, y1 - t)
    return ya + f * (yb - ya)


def _link_beams(g: StaffGraph) -> None:
    beams = [n for n in g.nodes if n.cls == "beam"]
    stems = [n for n in g.nodes if n.cls == "stem"]
    index = _XIndex(stems)
    for b in beams:
        ss = _ss(g, b)
        tol_x = BEAM_X_TOLERANCE_SS * ss
        reach = BEAM_END_REACH_SS * ss
        near = [s for s in index.between(b.box[0] - reach, b.box[2] + reach)
                if s.box[1] - ss <= b.box[3] and s.box[3] + ss >= b.box[1]]
        cands = [s for s in near if b.box[0] - tol_x <= s.cx <= b.box[2] + tol_x]
        # a detected beam can stop short of its group's end stems: where no stem
        # stands at an end of the box, the nearest one just beyond it is tried too
        for end, side in ((b.box[0], -1), (b.box[2], 1)):
            if b.width < BEAM_EXTEND_MIN_SS * ss or any(abs(s.cx - end) <= tol_x for s in cands):
                continue  # (a short beam is a hook: one end has no stem)
            beyond = [s for s in near if tol_x < side * (s.cx - end) <= reach]
            if beyond:
                cands.append(min(beyond, key=lambda s: abs(s.cx - end)))
        if not cands:
            continue
        best: list[Node] = []
        for rising in (False, True):
            hit = []
            for s in cands:
                y = beam_line_y(b, s.cx, rising, ss)
                if s.box[1] - BEAM_Y_TOLERANCE_SS * ss <= y <= s.box[3] + BEAM_Y_TOLERANCE_SS * ss:
                    hit.append(s)
            # a level beam's two orientations agree; prefer the one that touches the
            # stems' far ends
            if len(hit) > len(best):
                best = hit
        for s in best:
            g.add_edge(s.id, b.id, "beam")
    _link_next_beam_lines(g, beams, index)


def _link_next_beam_lines(g: StaffGraph, beams: list[Node], index: "_XIndex") -> None:
    """Beams that other stems hold, just beyond the end of a stem seen short: a stem
    holding no beam reaches one whose line lies up to ``BEAM_PITCH_SS`` beyond its
    end, and a stem holding one beam line reaches the next line of the stack beyond
    that one (``BEAM_PITCH_SS`` further out, within ``BEAM_Y_TOLERANCE_SS``): a stem
    the detector saw ending at a dotted rhythm's hook, or at a 16th pair's inner
    line, had lost the group's outer beam (and with it, a hook's partner, the dotted
    note). A stem holding two lines or more is left as it is: in the deep stacks of
    32nd and 64th groups, boxes that merge lines reach past a stem's end without
    being a line more. (A box no other stem holds is no group's beam: a triplet's
    "3" read as a short beam too.)"""
    by_id = {b.id: b for b in beams}
    for b in beams:
        ss = _ss(g, b)
        tol_x = BEAM_X_TOLERANCE_SS * ss
        if not g.sources(b.id, "beam"):
            continue
        for s in index.between(b.box[0] - tol_x, b.box[2] + tol_x):
            linked = [by_id[t] for t in g.targets(s.id, "beam") if t in by_id]
            if not linked and g.sources(s.id, "stem"):
                # a stem seen short of its group's beam altogether
                step = 1.0 if stem_direction(g, s.id) == "down" else -1.0
                end = stem_tip(g, s)
                for rising in (False, True):
                    beyond = step * (beam_line_y(b, s.cx, rising, ss) - end)
                    if 0 < beyond <= BEAM_PITCH_SS * ss:
                        g.add_edge(s.id, b.id, "beam")
                        break
                continue
            if len(linked) != 1 or b in linked:
                continue
            held = linked[0]
            down = held.cy > s.cy  # the beams hang below the stem's noteheads
            step = 1.0 if down else -1.0
            reach_y = (s.box[3] if down else s.box[1]) + step * BEAM_PITCH_SS * ss
            for rising in (False, True):
                y = beam_line_y(b, s.cx, rising, ss)
                beyond = step * (y - beam_line_y(held, s.cx, rising, ss))
                if 0 < beyond <= (BEAM_PITCH_SS + BEAM_Y_TOLERANCE_SS) * ss \
                        and abs(y - reach_y) <= BEAM_PITCH_SS * ss:
                    g.add_edge(s.id, b.id, "beam")
                    break


def _link_flags(g: StaffGraph) -> None:
    flags = [n for n in g.nodes if n.role == "flag" and n.cls != "grace_slash"]
    stems = [n for n in g.nodes if n.cls == "stem"]
    index = _XIndex(stems)
    for f in flags:
        ss = _ss(g, f)
        best, best_d = None, np.inf
        for s in index.between(f.box[0] - FLAG_X_TOLERANCE_SS * ss, f.box[0] + FLAG_X_TOLERANCE_SS * ss):
            dx = abs(f.box[0] - s.cx)
            if dx > FLAG_X_TOLERANCE_SS * ss:
                continue
            if f.box[1] > s.box[3] + 0.5 * ss or f.box[3] < s.box[1] - 0.5 * ss:
                continue
            # a flag hangs at the stem's far end: top for up stems, bottom for down
            d_end = min(abs(f.box[1] - s.box[1]), abs(f.box[3] - s.box[3]))
            d = dx + 0.5 * d_end
            if d < best_d:
                best, best_d = s, d
        if best is not None:
            g.add_edge(best.id, f.id, "flag")
    for sl in (n for n in g.nodes if n.cls == "grace_slash"):
        ss = _ss(g, sl)
        near = [s for s in stems if _box_distance(sl.box, s.box) < 0.5 * ss]
        if near:
            s = min(near, key=lambda s: abs(s.cx - sl.cx))
            g.add_edge(s.id, sl.id, "flag")


def _box_distance(a, b) -> float:
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return float(np.hypot(dx, dy))


def _nearest_head(a: Node, ay: float, head_index: _XIndex, ss: float) -> tuple[Node | None, float]:
    """The notehead an accidental with its staff position at ``ay`` alters, and its
    distance (staff spaces right, plus ``ACCIDENTAL_DY_WEIGHT`` per staff space up or
    down); ``(None, inf)`` where none is in reach."""
    best, best_d = None, np.inf
    for h in head_index.between(a.box[2] - _REACH_SS * ss, a.box[2] + (ACCIDENTAL_MAX_GAP_SS + _REACH_SS) * ss):
        gap = h.box[0] - a.box[2]
        if gap < -ACCIDENTAL_MAX_OVERLAP_SS * ss or gap > ACCIDENTAL_MAX_GAP_SS * ss:
            continue
        dy = abs(h.cy - ay)
        if dy > ACCIDENTAL_MAX_DY_SS * ss:
            continue
        d = max(gap, 0.0) / ss + ACCIDENTAL_DY_WEIGHT * dy / ss
        if d < best_d:
            best, best_d = h, d
    return best, best_d


def _link_accidentals(g: StaffGraph) -> None:
    head_index = _XIndex(_by_role(g, "notehead"))
    claimed: dict[int, tuple[float, int]] = {}
    for a in _by_role(g, "accidental"):
        if a.cls == "accidental_paren":
            continue
        ss = _ss(g, a)
        best, best_d = _nearest_head(a, _anchor_y(a), head_index, ss)
        for alt in (x for x in a.alternatives if x != "accidental_paren"):  # a near tie (see ACCIDENTAL_ANCHOR_MARGIN)
            head, d = _nearest_head(a, _anchor_y(a, alt), head_index, ss)
            if d < best_d - ACCIDENTAL_ANCHOR_MARGIN:
                a.alternatives = (a.cls,) + tuple(x for x in a.alternatives if x != alt)
                a.cls, best, best_d = alt, head, d
        if best is None:
            continue
        prev = claimed.get(best.id)
        if prev is None or best_d < prev[0]:
            claimed[best.id] = (best_d, a.id)
    for head, (_, acc) in claimed.items():
        g.add_edge(acc, head, "accidental")


def _link_dots(g: StaffGraph) -> None:
    target_index = _XIndex(_by_role(g, "notehead", "rest"))
    dots = sorted((n for n in g.nodes if n.cls == "augmentation_dot"), key=lambda n: n.cx)
    owner: dict[int, int] = {}
    for d in dots:
        ss = _ss(g, d)
        if d.score < DOT_ON_LINE_MAX_SCORE and d.staff >= 0:
            if off_line(float(g.staves[d.staff].position(d.cx, d.cy))) < DOT_ON_LINE_HALF_SPACES:
                continue  # dots sit in spaces: this is a speck on a (ledger) line
        best, best_d = None, np.inf
        for t in target_index.between(d.box[0] - (DOT_MAX_GAP_SS + _REACH_SS) * ss, d.box[2] + _REACH_SS * ss):
            gap = d.box[0] - t.box[2]
            if gap < -0.2 * ss or gap > DOT_MAX_GAP_SS * ss:
                continue
            dy = abs(d.cy - t.cy)
            if dy > DOT_MAX_DY_SS * ss:
                continue
            score = gap / ss + dy / ss
            if score < best_d:
                best, best_d = t, score
        # a second dot follows a first one
        for other, tid in owner.items():
            o = g.nodes[other]
            gap = d.box[0] - o.box[2]
            if 0 <= gap <= 1.0 * ss and abs(o.cy - d.cy) < 0.3 * ss:
                score = gap / ss + 0.1
                if score < best_d:
                    best, best_d = g.nodes[tid], score
        if best is not None:
            owner[d.id] = best.id
            g.add_edge(d.id, best.id, "dot")


def _chord(g: StaffGraph, head: Node) -> set[int]:
    """The ids of the noteheads on ``head``'s stems, ``head``'s own among them."""
    return {head.id} | {h for s in g.targets(head.id, "stem") for h in g.sources(s, "stem")}


def _link_curves(g: StaffGraph) -> None:
    heads = _by_role(g, "notehead")
    index = _XIndex(heads)
    curves = [n for n in g.nodes if n.cls in ("tie", "slur")]
    for c in (n for n in curves if not n.doubtful):
        ss = _ss(g, c)
        kind = c.cls
        left = _curve_end(index, c, ss, end="left")
        right = _curve_end(index, c, ss, end="right", exclude=left)
        if kind == "tie" and left is not None and right is not None \
                and left.position is not None and right.position is not None \
                and left.position != right.position:
            # a tie joins equal pitches: keep the end that agrees with the other
            alt = _curve_end([h for h in heads if h.position == left.position and h.staff == left.staff],
                             c, ss, end="right", exclude=left)
            right = alt
        if left is not None:
            g.add_edge(c.id, left.id, f"{kind}_from")
        if right is not None:
            g.add_edge(c.id, right.id, f"{kind}_to")
    # a faint tie (Node.doubtful) joins two equal pitches of chords that a read tie joins too
    joined = {(a, b) for c in curves if c.cls == "tie" and not c.doubtful
              for a in g.targets(c.id, "tie_from") for b in g.targets(c.id, "tie_to")}
    for c in (n for n in curves if n.doubtful):
        ss = _ss(g, c)
        left = _curve_end(index, c, ss, end="left")
        right = _curve_end(index, c, ss, end="right", exclude=left)
        if left is None or right is None or left.position is None or left.position != right.position \
                or left.staff != right.staff:
            continue
        before, after = _chord(g, left), _chord(g, right)
        if any(a in before and b in after for a, b in joined):
            g.add_edge(c.id, left.id, "tie_from")
            g.add_edge(c.id, right.id, "tie_to")


def _curve_end(heads, c: Node, ss: float, *, end: str, exclude: Node | None = None) -> Node | None:
    x = c.box[0] if end == "left" else c.box[2]
    best, best_d = None, np.inf
    if isinstance(heads, _XIndex):
        heads = heads.between(x - CURVE_END_X_SS * ss, x + CURVE_END_X_SS * ss)
    for h in heads:
        if h is exclude or h.staff != c.staff and c.staff >= 0 and h.staff >= 0 and abs(h.staff - c.staff) > 1:
            continue
        dx = abs(h.cx - x)
        if dx > CURVE_END_X_SS * ss:
            continue
        if end == "left" and h.cx > c.cx or end == "right" and h.cx < c.cx:
            continue
        dy = max(0.0, c.box[1] - h.cy, h.cy - c.box[3])
        if dy > CURVE_END_Y_SS * ss:
            continue
        d = dx + dy
        if d < best_d:
            best, best_d = h, d
    return best


def _link_tuplets(g: StaffGraph) -> None:
    brackets = [n for n in g.nodes if n.cls == "tuplet_bracket"]
    for t in (n for n in g.nodes if n.cls == "tuplet_number"):
        for m in _tuplet_members(g, t, brackets, _ss(g, t)):
            g.add_edge(t.id, m, "tuplet")


def _reach(g: StaffGraph, n: Node) -> tuple[float, float]:
    """Vertical extent of a notehead with its stem, or of a rest."""
    y0, y1 = n.box[1], n.box[3]
    for s in g.targets(n.id, "stem"):
        y0, y1 = min(y0, g.nodes[s].box[1]), max(y1, g.nodes[s].box[3])
    return y0, y1


def _tuplet_members(g: StaffGraph, t: Node, brackets: list[Node], ss: float) -> list[int]:
    """The noteheads and rests a tuplet number stands for: those of the beam group
    it sits at, else those under its bracket, else the nearest note columns
    (``TUPLET_NEAR_SS``) or the run of columns centred under it (``TUPLET_FAR_SS``),
    each on its side, so the other voice of the staff stays out."""
    beams = [n for n in g.nodes if n.cls == "beam" and n.box[0] - ss <= t.cx <= n.box[2] + ss
             and abs(n.cy - t.cy) < 4.0 * ss]
    if beams:
        b = min(beams, key=lambda n: abs(n.cy - t.cy))
        stems = set(g.sources(b.id, "beam"))
        heads = [h for s in stems for h in g.sources(s, "stem")]
        if heads:
            # the number stands over the group's middle: a group centred away from it
            # starts (or ends) with a rest on the other side
            xs = [g.nodes[h].cx for h in heads]
            lo, hi = min(xs), max(xs)
            off = t.cx - 0.5 * (lo + hi)
            rests = []
            if abs(off) > 0.5 * ss:
                far = 2 * t.cx - (hi if off < 0 else lo)
                a, z = (far - 0.7 * ss, lo) if off < 0 else (hi, far + 0.7 * ss)
                rests = [n.id for n in g.nodes if n.role == "rest" and n.staff == t.staff and a <= n.cx < z]
            return sorted(set(heads) | set(rests))
    span = None
    for b in brackets:
        if b.width < TUPLET_BRACKET_MIN_SS * ss:
            continue
        if b.box[0] - ss <= t.cx <= b.box[2] + ss and abs(b.cy - t.cy) < 2.0 * ss:
            span = (b.box[0] - TUPLET_REACH_SS * ss, b.box[2] + TUPLET_REACH_SS * ss)
    if span is not None:
        return sorted(n.id for n in _on_number_side(g, t, span, ss))
    cands = _on_number_side(g, t, (t.cx - TUPLET_NEAR_SS * ss, t.cx + TUPLET_NEAR_SS * ss), ss)
    xs = sorted({round(n.cx) for n in cands}, key=lambda x: abs(x - t.cx))[:3]
    if len(xs) < 2:
        cands = _on_number_side(g, t, (t.cx - TUPLET_FAR_SS * ss, t.cx + TUPLET_FAR_SS * ss), ss,
                                side_ss=TUPLET_FAR_SIDE_SS)
        cols = sorted({round(n.cx) for n in cands})
        runs = [cols[i:i + k] for k in (3, 2) for i in range(len(cols) - k + 1)]
        runs = [r for r in runs if abs(0.5 * (r[0] + r[-1]) - t.cx) <= TUPLET_CENTRE_SS * ss]
        if not runs:
            return []
        xs = min(runs, key=lambda r: abs(0.5 * (r[0] + r[-1]) - t.cx))
    lo, hi = min(xs) - 0.5 * ss, max(xs) + 0.5 * ss
    return sorted(n.id for n in cands if lo <= n.cx <= hi)


def _on_number_side(g: StaffGraph, t: Node, span: tuple[float, float], ss: float, *,
                    side_ss: float = TUPLET_SIDE_SS) -> list[Node]:
    """The noteheads and rests of tuplet number ``t``'s staff centred within ``span``
    (x, px) that lie nearest it up or down (within ``side_ss`` staff spaces of the
    nearest), so a voice on the staff's other side stays out."""
    cands = [n for n in g.nodes if n.role in ("notehead", "rest") and n.staff == t.staff
             and span[0] <= n.cx <= span[1]]
    if not cands:
        return []

    def gap(n):
        y0, y1 = _reach(g, n)
        return max(0.0, y0 - t.cy, t.cy - y1)

    nearest = min(gap(n) for n in cands)
    return [n for n in cands if gap(n) <= nearest + side_ss * ss]


def _link_lyrics(g: StaffGraph) -> None:
    index = _XIndex(_by_role(g, "notehead"))
    for syl in (n for n in g.nodes if n.cls == "lyric_syllable"):
        ss = _ss(g, syl)
        reach = (LYRIC_MAX_DX_SS + _REACH_SS) * ss
        cands = [h for h in index.between(syl.cx - reach, syl.cx + reach) if h.staff == syl.staff
                 and h.box[0] - LYRIC_MAX_DX_SS * ss <= syl.cx <= h.box[2] + LYRIC_MAX_DX_SS * ss]
        if not cands:
            continue
        # verovio and most engravers align a syllable's left part under the notehead
        h = min(cands, key=lambda h: abs(h.cx - (syl.box[0] + min(syl.width, 2.0 * ss) * 0.5)))
        g.add_edge(syl.id, h.id, "lyric")


def _starts_right_of(h: Node, mark: Node, max_gap: float) -> bool:
    """Notehead ``h`` begins right of ``mark`` with at most ``max_gap`` px of paper
    between (or overlapping it by up to a quarter of its width)."""
    return -0.25 * h.width <= h.box[0] - mark.box[2] <= max_gap


def _link_fingering(g: StaffGraph) -> None:
    """A finger number to its notehead: the head just right of it at its height
    (fingering beside the note), else the head of its staff nearest in x above or
    below (of a chord, the one nearest the digit)."""
    index = _XIndex(_by_role(g, "notehead"))
    for f in (n for n in g.nodes if n.cls == "fingering"):
        ss = _ss(g, f)
        reach = FINGERING_MAX_DX_SS * ss
        near = [h for h in index.between(f.cx - reach - _REACH_SS * ss, f.cx + reach + _REACH_SS * ss)
                if h.staff == f.staff]
        beside = [h for h in near if abs(h.cy - f.cy) <= FINGERING_BESIDE_DY_SS * ss
                  and _starts_right_of(h, f, FINGERING_BESIDE_GAP_SS * ss)]
        over = [h for h in near if abs(h.cx - f.cx) <= reach
                and _box_distance(h.box, f.box) <= FINGERING_MAX_GAP_SS * ss]
        if beside:
            h = min(beside, key=lambda h: h.box[0] - f.box[2])
        elif over:
            h = min(over, key=lambda h: (round(abs(h.cx - f.cx) / ss), _box_distance(h.box, f.box)))
        else:
            continue
        g.add_edge(f.id, h.id, "fingering")


def _link_arpeggios(g: StaffGraph) -> None:
    """An arpeggio to the heads of the nearest column right of it within its height
    (on one staff or across a grand staff), if that column is a chord."""
    index = _XIndex(_by_role(g, "notehead"))
    for a in (n for n in g.nodes if n.cls == "arpeggio"):
        ss = _ss(g, a)
        reach_y = ARPEGGIO_REACH_Y_SS * ss
        cands = [h for h in index.between(a.box[2] - ss, a.box[2] + (ARPEGGIO_MAX_GAP_SS + _REACH_SS) * ss)
                 if a.box[1] - reach_y <= h.cy <= a.box[3] + reach_y
                 and _starts_right_of(h, a, ARPEGGIO_MAX_GAP_SS * ss)]
        if not cands:
            continue
        nearest = min(h.box[0] for h in cands)
        column = [h for h in cands if h.box[0] - nearest <= 0.5 * ss]  # a second's heads stand apart
        if len(column) < 2:
            continue  # a chord is rolled; a mark beside one note is something else (a finger number)
        for h in column:
            g.add_edge(a.id, h.id, "arpeggio")


def _link_expressions(g: StaffGraph) -> None:
    index = _XIndex(_by_role(g, "notehead", "rest"))
    for e in (n for n in g.nodes if n.role == "expression" and n.cls != "arpeggio"):
        ss = _ss(g, e)
        cands = [t for t in index.between(e.cx - 1.5 * ss, e.cx + 1.5 * ss) if abs(t.cx - e.cx) < 1.5 * ss and _box_distance(t.box, e.box) <
                 EXPRESSION_MAX_DIST_SS * ss * (3 if e.cls == "fermata" else 1)]
        if cands:
            t = min(cands, key=lambda t: _box_distance(t.box, e.box) + abs(t.cx - e.cx))
            g.add_edge(e.id, t.id, "expression")


def _link_braces(g: StaffGraph) -> None:
    for b in (n for n in g.nodes if n.cls in ("brace", "bracket")):
        for s in g.staves:
            c = s.center_y
            if b.box[1] - 0.5 * s.staff_space <= c <= b.box[3] + 0.5 * s.staff_space \
                    and b.box[0] - 3 * s.staff_space <= s.x0 <= b.box[2] + 4 * s.staff_space:
                g.add_edge(b.id, s.index, "brace")


# ---------------------------------------------------------------------------
# Beams counted in the image
# ---------------------------------------------------------------------------

#: Beam lines are this thick and this far apart (centre to centre), staff spaces.
BEAM_LINE_SS = 0.5
BEAM_PITCH_SS = 0.75
#: Ink runs shorter than this along a stem are not beams (staff lines, noise).
BEAM_MIN_RUN_SS = 0.3
#: Beams of one stem follow each other with gaps at most this big.
BEAM_MAX_GAP_SS = 0.6
#: Columns sampled this far beside the stem, on the side its beams go ...
BEAM_SAMPLE_OFFSET_SS = 0.45
#: ... this many of them side by side, a row being ink where most of them are (a
#: beam crosses them all; a speck of noise a pixel or two wide is no beam line).
BEAM_SAMPLE_COLUMNS = 5


#: A beam the detector missed is looked for between the far ends of two stems of
#: black notes this far apart at most (staff spaces; eighths spread over a wide
#: measure stand 13 apart).
IMAGE_BEAM_MAX_GAP_SS = 16.0
#: ... where, at this fraction of the columns between the stems, the page shows ink
#: this thick (staff spaces; staff lines are removed from the mask first) ...
IMAGE_BEAM_COVERAGE = 0.9
IMAGE_BEAM_MIN_THICKNESS_SS = 0.4
IMAGE_BEAM_MAX_THICKNESS_SS = 2.4
#: ... touching, within this (staff spaces), the straight line from tip to tip,
IMAGE_BEAM_Y_TOLERANCE_SS = 0.4
#: ... and stopping at the outer stems: beyond them (this far out, staff spaces)
#: at most this fraction of the columns shows it (a slur runs on).
IMAGE_BEAM_BEYOND_SS = (0.4, 0.9)
IMAGE_BEAM_BEYOND_INK = 0.5
#: Score given to beams found in the image (the detector's are its own).
IMAGE_BEAM_SCORE = 0.5


def _ink_runs(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of ink down a boolean ``column``: (starts, ends), ends exclusive."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], column.astype(np.int8), [0]])))
    return edges[::2], edges[1::2]


def _beamable(g: StaffGraph, stem: Node) -> bool:
    """A stem of black noteheads with no flag (only those are beamed; a doubtful
    flag may be a beam's end)."""
    heads = stem_heads(g, stem.id)
    return bool(heads) and all(g.nodes[f].doubtful for f in g.targets(stem.id, "flag")) and stem.staff >= 0 \
        and all(g.nodes[h].cls in ("notehead_black", "notehead_black_cue") for h in heads)


def _beam_ink(binary: np.ndarray, x0: int, x1: int, line, staff: Staff) -> float:
    """Fraction of the columns ``x0..x1`` of ``binary`` (staff lines removed) with a
    run of ink of a beam's thickness touching ``line(x)`` (within
    ``IMAGE_BEAM_Y_TOLERANCE_SS``; ``staff`` gives the staff space). A staff line
    that blur left in the mask is thinner than ``IMAGE_BEAM_MIN_THICKNESS_SS``."""
    h, w = binary.shape
    ss = staff.staff_space
    x0, x1 = max(0, x0), min(w - 1, x1)
    if x1 < x0:
        return 0.0
    tol = IMAGE_BEAM_Y_TOLERANCE_SS * ss
    reach = int(np.ceil(tol + IMAGE_BEAM_MAX_THICKNESS_SS * ss))
    hits = 0
    for x in range(x0, x1 + 1):
        y = line(x)
        top, bottom = max(0, int(y - reach)), min(h, int(y + reach) + 1)
        starts, ends = _ink_runs(binary[top:bottom, x])
        for r0, r1 in zip(starts + top, ends + top):
            thick = r1 - r0
            if r0 - tol <= y <= r1 + tol and \
                    IMAGE_BEAM_MIN_THICKNESS_SS * ss <= thick <= IMAGE_BEAM_MAX_THICKNESS_SS * ss:
                hits += 1
                break
    return hits / (x1 - x0 + 1)


def _tip_line(g: StaffGraph, a: Node, b: Node):
    """The straight line through the far ends of stems ``a`` and ``b``: y as a
    function of x."""
    ya, yb = stem_tip(g, a), stem_tip(g, b)
    return lambda x: ya + (yb - ya) * (x - a.cx) / max(b.cx - a.cx, 1e-6)


def _runs_of_joined(joined: list[tuple[Node, Node]]) -> list[list[Node]]:
    """Chains of stems from pairs (left, right) in order: (a, b), (b, c) -> [a, b, c]."""
    runs: list[list[Node]] = []
    for a, b in joined:
        if runs and runs[-1][-1] is a:
            runs[-1].append(b)
        else:
            runs.append([a, b])
    return runs


#: A black or half notehead left without a stem joins one whose end is at most this
#: many staff spaces above or below its box (``STEM_X_TOLERANCE_SS`` beside it) when
#: the stem's column is inked over ``IMAGE_STEM_INK`` of the rows between: the
#: detector's box stopped short of a stem the image shows running on to the head.
IMAGE_STEM_GAP_SS = 2.0
IMAGE_STEM_INK = 0.9
#: Half the width, px, of the column searched for the stem's ink.
IMAGE_STEM_HALF_WIDTH_PX = 1


def add_image_stem_heads(g: StaffGraph, binary: np.ndarray) -> list[int]:
    """Attach noteheads still without a stem (see :func:`_link_stems`) to a stem the
    image shows reaching them (``IMAGE_STEM_GAP_SS``), and stretch the stem's box to
    the head's centre. Returns the heads attached."""
    stems = [n for n in g.nodes if n.cls == "stem"]
    if not stems:
        return []
    index = _XIndex(stems)
    h_px, w_px = binary.shape
    done = []
    for h in _by_role(g, "notehead"):
        if h.cls not in STEMMED_HEADS or g.targets(h.id, "stem"):
            continue
        ss = _ss(g, h)
        best, best_d = None, np.inf
        for s in index.between(h.box[0] - STEM_X_TOLERANCE_SS * ss, h.box[2] + STEM_X_TOLERANCE_SS * ss):
            dx = min(abs(s.cx - h.box[0]), abs(s.cx - h.box[2]))
            if dx > STEM_X_TOLERANCE_SS * ss:
                continue
            y0, y1 = _end_gap(h, s)
            if not 0 <= y1 - y0 <= IMAGE_STEM_GAP_SS * ss:
                continue  # the boxes overlap (the first passes judged that), or too far
            x = int(round(s.cx))
            rows = binary[max(0, int(np.floor(y0))):min(h_px, int(np.ceil(y1)) + 1),
                          max(0, x - IMAGE_STEM_HALF_WIDTH_PX):min(w_px, x + IMAGE_STEM_HALF_WIDTH_PX + 1)]
            if not rows.size or rows.any(axis=1).mean() < IMAGE_STEM_INK:
                continue
            if dx + (y1 - y0) < best_d:
                best, best_d = s, dx + (y1 - y0)
        if best is not None:
            g.add_edge(h.id, best.id, "stem")
            x0, y0, x1, y1 = best.box
            best.box = (x0, min(y0, h.cy), x1, max(y1, h.cy))
            done.append(h.id)
    return done


def add_image_beams(g: StaffGraph, binary: np.ndarray) -> list[int]:
    """Beams the detector missed, found in the page's ink mask (staff lines
    removed): neighbouring stems of black notes on one staff, stemmed the same way,
    without a flag, whose far ends a thick straight line of ink joins, where that
    ink stops at the outer stems (a slur over the stems' ends runs on beyond them).
    A chain of such stems gets one beam node (``IMAGE_BEAM_SCORE``), linked like a
    detected one; a chain with a stem that already has a beam joins that beam.
    Returns the new beam nodes' ids."""
    new: list[int] = []
    by_staff: dict[int, list[Node]] = {}
    for n in g.nodes:
        if n.cls == "stem" and _beamable(g, n):
            by_staff.setdefault(n.staff, []).append(n)
    for staff in sorted(by_staff):
        stems = sorted(by_staff[staff], key=lambda n: n.cx)
        st = g.staves[staff]
        ss = st.staff_space
        joined = []  # (left, right) stems whose tips one line of ink joins
        for a, b in zip(stems, stems[1:]):
            if b.cx - a.cx > IMAGE_BEAM_MAX_GAP_SS * ss or stem_direction(g, a.id) != stem_direction(g, b.id):
                continue
            if g.targets(a.id, "beam") and g.targets(b.id, "beam"):
                continue
            x0, x1 = int(np.ceil(a.box[2] + 1)), int(np.floor(b.box[0] - 1))
            if x1 - x0 >= 2 and _beam_ink(binary, x0, x1, _tip_line(g, a, b), st) >= IMAGE_BEAM_COVERAGE:
                joined.append((a, b))
        near, far = int(round(IMAGE_BEAM_BEYOND_SS[0] * ss)), int(round(IMAGE_BEAM_BEYOND_SS[1] * ss))
        for run in _runs_of_joined(joined):
            # an outer stem of its own (no detected beam) must end the ink
            first, last = run[0], run[-1]
            if not g.targets(first.id, "beam") and _beam_ink(
                    binary, int(first.box[0]) - far, int(first.box[0]) - near,
                    _tip_line(g, first, run[1]), st) >= IMAGE_BEAM_BEYOND_INK:
                run = run[1:]
            if len(run) > 1 and not g.targets(last.id, "beam") and _beam_ink(
                    binary, int(last.box[2]) + near, int(last.box[2]) + far,
                    _tip_line(g, run[-2], last), st) >= IMAGE_BEAM_BEYOND_INK:
                run = run[:-1]
            if len(run) < 2:
                continue
            have = sorted({bid for s in run for bid in g.targets(s.id, "beam")})
            if have:
                beam = have[0]
            else:
                tips = [stem_tip(g, s) for s in run]
                half = 0.5 * BEAM_LINE_SS * ss
                box = (run[0].box[0], min(tips) - half, run[-1].box[2], max(tips) + half)
                beam = len(g.nodes)
                g.nodes.append(Node(id=beam, cls="beam", box=box, score=IMAGE_BEAM_SCORE, staff=staff))
                g.add_edge(beam, staff, "staff")
                new.append(beam)
            for s in run:
                if beam not in g.targets(s.id, "beam"):
                    g.add_edge(s.id, beam, "beam")
    return new


#: A hook's box ending short of a neighbouring stem by at least this (staff
#: spaces) is checked for the paper between them.
HOOK_GAP_MIN_SS = 0.1
#: A hook's box that reaches both its stems hangs on one only where its line of ink
#: runs at least this far (staff spaces) from that stem and stops at a column of
#: paper within ``HOOK_GAP_MIN_SS`` of the other: on the example photo a 16th's hook
#: boxed up to the next stem made the eighth after it a 16th.
HOOK_MIN_LENGTH_SS = 0.5
#: ... in rows this far (staff spaces) either side of the hook's centre line (a
#: beam line is ``BEAM_LINE_SS`` thick; a staff line along its edge stays clear).
HOOK_BAND_SS = 0.1


def detach_hooks(g: StaffGraph, binary: np.ndarray) -> list[tuple[int, int]]:
    """Unlink short beams (hooks, under ``BEAM_EXTEND_MIN_SS``) from the stems they
    do not reach: a stem linked to a hook whose box ends short of it (by
    ``HOOK_GAP_MIN_SS`` up to ``BEAM_X_TOLERANCE_SS``) while ``binary`` (staff
    lines removed) shows a column of paper between them across the hook's line.

    Tight spacing brings a hook within ``BEAM_X_TOLERANCE_SS`` of its neighbour's
    stem: in a 16th, eighth, 16th group the two hooks both reached the middle stem,
    which read as a 32nd. A hook whose box reaches both its stems is unlinked from
    the one its ink stops short of (``HOOK_MIN_LENGTH_SS``). A hook keeps at least
    one stem. Returns the ``(stem, beam)`` links dropped."""
    h, w = binary.shape
    dropped = []
    for b in [n for n in g.nodes if n.cls == "beam"]:
        ss = _ss(g, b)
        stems = [g.nodes[s] for s in g.sources(b.id, "beam")]
        if b.width >= BEAM_EXTEND_MIN_SS * ss or len(stems) < 2:
            continue
        y0 = int(max(0, round(b.cy - HOOK_BAND_SS * ss)))
        y1 = int(min(h, round(b.cy + HOOK_BAND_SS * ss) + 1))
        if y1 <= y0:
            continue
        for s in stems:
            gap = max(s.box[0] - b.box[2], b.box[0] - s.box[2])
            if not HOOK_GAP_MIN_SS * ss <= gap <= BEAM_X_TOLERANCE_SS * ss:
                continue  # the hook reaches it, or an image beam's chain joined it (add_image_beams)
            if s.box[0] > b.box[2]:  # the stem right of the hook
                xa, xb = int(np.ceil(b.box[2])), int(np.floor(s.box[0]))
            else:  # ... left of it
                xa, xb = int(np.ceil(s.box[2])), int(np.floor(b.box[0]))
            xa, xb = max(0, xa), min(w, xb)
            if xb <= xa or len(g.sources(b.id, "beam")) < 2:  # (a hook keeps one stem)
                continue
            if not binary[y0:y1, xa:xb].any(axis=0).all():  # a column of paper
                g.remove_edge(s.id, b.id, "beam")
                dropped.append((s.id, b.id))
        stems = [g.nodes[s] for s in g.sources(b.id, "beam")]
        if len(stems) == 2:
            # a box reaching both stems, over ink that stops short of one of them
            left, right = sorted(stems, key=lambda n: n.cx)
            xa, xb = max(0, int(np.ceil(left.box[2]))), min(w, int(np.floor(right.box[0])))
            ink = binary[y0:y1, xa:xb].any(axis=0)
            if ink.size and not ink.all():
                paper = np.flatnonzero(~ink)
                from_left, from_right = paper[0], ink.size - 1 - paper[-1]  # ink runs from each stem
                if from_left >= HOOK_MIN_LENGTH_SS * ss and from_right <= HOOK_GAP_MIN_SS * ss:
                    g.remove_edge(right.id, b.id, "beam")
                    dropped.append((right.id, b.id))
                elif from_right >= HOOK_MIN_LENGTH_SS * ss and from_left <= HOOK_GAP_MIN_SS * ss:
                    g.remove_edge(left.id, b.id, "beam")
                    dropped.append((left.id, b.id))
    return dropped


#: How far beyond its detected end (staff spaces) a stem's line of ink is followed
#: to a beam (see :func:`reach_beams_along_stems`).
STEM_INK_REACH_SS = 3.0
#: Rows of paper (px) a stem's line of ink may have in it and go on (a JPEG's or
#: the warp's speck of light).
STEM_INK_GAP_PX = 1


def _ink_run_end(binary: np.ndarray, stem: Node, start: float, step: int, limit: float) -> float:
    """How far (y) the stem's column of ink runs on from ``start`` in direction
    ``step`` (+1 down, -1 up), at most to ``limit``: a row counts as ink where any of
    the stem's box columns (one pixel either side too) is ink."""
    h, w = binary.shape
    xa, xb = max(0, int(np.floor(stem.box[0])) - 1), min(w, int(np.ceil(stem.box[2])) + 1)
    y, last, gap = int(round(start)), start, 0
    while 0 <= y < h and step * (y - limit) <= 0 and xb > xa:
        if binary[y, xa:xb].any():
            last, gap = float(y), 0
        else:
            gap += 1
            if gap > STEM_INK_GAP_PX:
                break
        y += step
    return last


def reach_beams_along_stems(g: StaffGraph, binary: np.ndarray) -> list[tuple[int, int]]:
    """Link each stem of black notes holding no beam and no flag to a beam that
    other stems hold where the stem's line of ink in ``binary`` (the page's ink
    mask, staff lines kept) runs on from its detected end, up to
    ``STEM_INK_REACH_SS``, to that beam's line (within ``BEAM_Y_TOLERANCE_SS``); the
    stem's box is drawn out to the beam. The detector saw the long stem of a chord
    whose beam hangs far below the staff end two staff spaces short of it: the chord
    read as a quarter, and its beamed partner, overfilling, was cut. Returns the
    ``(stem, beam)`` pairs linked."""
    beams = [n for n in g.nodes if n.cls == "beam" and g.sources(n.id, "beam")]
    linked: list[tuple[int, int]] = []
    if not beams:
        return linked
    for s in (n for n in g.nodes if n.cls == "stem" and _beamable(g, n)
              and not g.targets(n.id, "beam") and not g.targets(n.id, "flag")):
        ss = _ss(g, s)
        step = 1 if stem_direction(g, s.id) == "down" else -1
        tip = stem_tip(g, s)
        end = _ink_run_end(binary, s, tip, step, tip + step * STEM_INK_REACH_SS * ss)
        tol_x = BEAM_X_TOLERANCE_SS * ss
        best, best_y = None, None
        for b in beams:
            if not b.box[0] - tol_x <= s.cx <= b.box[2] + tol_x or b.staff != s.staff:
                continue
            for rising in (False, True):
                y = beam_line_y(b, s.cx, rising, ss)
                if 0 < step * (y - tip) and step * (y - end) <= BEAM_Y_TOLERANCE_SS * ss \
                        and (best_y is None or step * (y - best_y) < 0):
                    best, best_y = b, y
        if best is not None:
            half = 0.5 * BEAM_THICKNESS_SS * ss
            y0, y1 = (s.box[1], max(s.box[3], best_y + half)) if step > 0 else (min(s.box[1], best_y - half), s.box[3])
            s.box = (s.box[0], y0, s.box[2], y1)
            g.add_edge(s.id, best.id, "beam")
            linked.append((s.id, best.id))
    return linked


def measure_beam_levels(g: StaffGraph, binary: np.ndarray, *,
                        not_reaching: Sequence[tuple[int, int]] = ()) -> None:
    """Count the beam lines at the far end of every beamed stem in the page's ink
    mask (sets ``Node.levels``). The detector says *that* a stem is beamed; the
    image says how often: several beam lines, drawn close, often come out of the
    detector as one box; where blur merged them into one run of ink, the run's
    length against the page's one-line run tells how many (``BEAM_MERGED_*``;
    the detector's box count stays the reading's alternative, see
    :func:`omr.notation.rhythm.read_events`).

    The ``(stem, beam)`` pairs of ``not_reaching`` (hooks :func:`detach_hooks`
    found stopping short of the stem) are left out of that stem's count where
    they reach the sampled columns."""
    runs: dict[int, tuple[list[int], float]] = {}
    short_of: dict[int, list[Node]] = {}
    for stem, beam in not_reaching:
        short_of.setdefault(stem, []).append(g.nodes[beam])
    for s in (n for n in g.nodes if n.cls == "stem"):
        profile = _stem_end_profile(g, s, binary, short_of.get(s.id, ()))
        if profile is not None:
            column, ss, lines = profile
            runs[s.id] = (_beam_runs(column, ss, lines), ss)
    # where blur merges beam lines (few stems show two runs apart), a beam line's
    # run of ink is as thick as this page's blur makes it: the short end of the
    # page's first runs (BEAM_SINGLE_PERCENTILE); a run longer by most of a beam
    # pitch is lines blur merged, one more per pitch
    firsts = [r[0] for r, _ in runs.values() if r]
    apart = sum(len(r) > 1 for r, _ in runs.values())
    single = float(np.percentile(firsts, BEAM_SINGLE_PERCENTILE)) \
        if len(firsts) >= BEAM_MERGED_MIN_STEMS and apart < BEAM_APART_MAX_FRACTION * len(firsts) else None
    for sid, (r, ss) in runs.items():
        g.nodes[sid].levels = sum(_merged_lines(length, single, ss) for length in r)


def _stem_end_profile(g: StaffGraph, s: Node, binary: np.ndarray, not_its_own: Sequence[Node] = ()
                      ) -> tuple[np.ndarray, float, list[float]] | None:
    """The ink down the columns beside beamed stem ``s`` (``BEAM_SAMPLE_OFFSET_SS``
    out, on the side its beams go) from its far end toward its notes, for
    :func:`_beam_runs`: ``(column, staff space, staff line rows in the profile)``;
    None for a stem with no beam or sampled off the image. The rows of the hooks
    ``not_its_own`` are left out where they reach those columns."""
    h, w = binary.shape
    beams = [g.nodes[b] for b in g.targets(s.id, "beam")]
    if not beams:
        return None
    ss = _ss(g, s)
    up = stem_direction(g, s.id) == "up"
    right = sum(b.cx for b in beams) / len(beams) > s.cx
    x = int(round(s.cx + (1 if right else -1) * BEAM_SAMPLE_OFFSET_SS * ss))
    if not 0 <= x < w:
        return None
    reach = int(round((BEAM_PITCH_SS * 5 + 1.0) * ss))
    lines = [] if s.staff < 0 else [g.staves[s.staff].line_y(i, x) for i in range(5)]
    if up:  # rows ya..yb from the stem's end toward its notes
        ya = int(max(0, s.box[1] - 0.5 * ss))
        yb = min(h, ya + reach)
    else:
        yb = int(min(h, s.box[3] + 0.5 * ss))
        ya = max(0, yb - reach)
    half = BEAM_SAMPLE_COLUMNS // 2
    window = binary[ya:yb, max(0, x - half):x + half + 1]
    column = 2 * np.count_nonzero(window, axis=1) > window.shape[1]
    for b in not_its_own:
        if b.box[0] <= x <= b.box[2]:
            column[max(0, int(round(b.box[1])) - ya):max(0, int(round(b.box[3])) - ya)] = False
    if up:
        return column, ss, [y - ya for y in lines]
    return column[::-1], ss, [yb - y for y in lines]


#: A thin run of ink this close to a staff line is the line, not a beam.
BEAM_LINE_CLEARANCE_SS = 0.3
BEAM_THIN_RUN_SS = 0.55
#: Merged beam lines are told by their length only on a page with this many
#: beamed stems or more, under this fraction of them showing two runs of ink apart
#: (a sharp page keeps its lines apart: a long run there is something else) ...
BEAM_MERGED_MIN_STEMS = 8
BEAM_APART_MAX_FRACTION = 0.2
#: ... against this percentile of their first runs (one line's run: most pages
#: beam eighths more than 16ths) ...
BEAM_SINGLE_PERCENTILE = 20
#: ... a run this much of a beam pitch longer or more being two lines.
BEAM_MERGED_PITCH_FRACTION = 0.75


def _merged_lines(length: int, single: float | None, ss: float) -> int:
    """Beam lines in one run of ``length`` px where one line's run is ``single``
    px (None: unknown, one line)."""
    if single is None or length <= single:
        return 1
    return 1 + int((length - single) / (BEAM_PITCH_SS * ss) + (1 - BEAM_MERGED_PITCH_FRACTION))


def _beam_runs(column: np.ndarray, ss: float, lines=()) -> list[int]:
    """The runs of beam ink in a profile that starts at the stem's end and runs
    toward its notes, their lengths (px): the first at the stem's end, each
    following within ``BEAM_MAX_GAP_SS``; thin runs on a staff line (at
    ``lines``, profile coordinates) are the line."""
    out, last_end = [], None
    for a, b in zip(*_ink_runs(column)):
        length = b - a
        if length < BEAM_MIN_RUN_SS * ss:
            continue
        if length < BEAM_THIN_RUN_SS * ss and any(abs(0.5 * (a + b) - y) <= BEAM_LINE_CLEARANCE_SS * ss
                                                 for y in lines) and out:
            continue  # a staff line below a beam
        if last_end is None and a > 1.0 * ss:
            break  # the first beam must sit at the stem's end
        if last_end is not None and a - last_end > BEAM_MAX_GAP_SS * ss:
            break
        out.append(int(length))
        last_end = b
    return out


# ---------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------

#: Colours of edge kinds when drawn (RGB).
EDGE_COLOURS = {
    "stem": (0, 114, 178), "beam": (0, 158, 115), "flag": (0, 158, 115),
    "accidental": (213, 94, 0), "dot": (204, 121, 167), "tie_from": (230, 159, 0),
    "tie_to": (230, 159, 0), "slur_from": (240, 228, 66), "slur_to": (240, 228, 66),
    "tuplet": (86, 180, 233), "lyric": (120, 120, 120), "expression": (150, 80, 200),
}


def draw_graph(image: np.ndarray, g: StaffGraph, *, to_image=None) -> np.ndarray:
    """An RGB copy of ``image`` with the graph's boxes and edges drawn.

    ``to_image`` maps ``(N, 2)`` normalized-page points in box coordinates to
    ``image`` pixels (e.g. ``NormalizedPage.box_points_to_original``); identity when
    None.
    """
    import cv2

    from omr.detect.overlay import draw_detections
    from omr.detect.types import Detection

    out = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    tf = to_image or (lambda p: p)
    dets = []
    for n in g.nodes:
        if n.cls not in vocab.CLASSES:
            continue
        p = tf(np.array([[n.box[0], n.box[1]], [n.box[2], n.box[3]]], float))
        dets.append(Detection(n.cls, (p[0, 0], p[0, 1], p[1, 0], p[1, 1]), n.score))
    out = draw_detections(out, dets)
    width = max(1, int(round(out.shape[1] / 1500)))
    for e in g.edges:
        colour = EDGE_COLOURS.get(e.kind)
        if colour is None:
            continue
        a, b = g.nodes[e.src], g.nodes[e.dst]
        p = tf(np.array([[a.cx, a.cy], [b.cx, b.cy]], float))
        cv2.line(out, tuple(int(v) for v in p[0]), tuple(int(v) for v in p[1]), colour, width, cv2.LINE_AA)
    return out
