"""omr.graph: hand-built small staff graphs, one rule per test.

Geometry is in the normalized frame (10 px per staff space) and copies what verovio
engraves (measured on synth pages and rescaled): a black notehead is 12.6 x 10.6 px,
a stem 0.8 px wide and 3.5 staff spaces long, starting 1.5 px from the notehead's
centre on its right (up) or left (down) edge; a beam line is 0.5 staff space thick
and beam lines are 0.75 staff space apart; a flat's bowl (where its note is) lies at
70 % of its box height.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from omr.graph import (
    BEAM_SAMPLE_OFFSET_SS,
    StaffGraph,
    Symbol,
    add_image_beams,
    add_image_stem_heads,
    build_graph,
    detach_hooks,
    draw_graph,
    measure_beam_levels,
    reach_beams_along_stems,
    stem_direction,
    stem_heads,
    straight_staff,
)
from omr.notation.rhythm import read_events

SS = 10.0
TOP = 40.0
HEAD_W, HEAD_H = 12.6, 10.6
STEM_W, STEM_LEN, STEM_GAP = 0.8, 35.0, 1.5
BEAM_T, BEAM_GAP = 5.0, 7.5


# ----------------------------------------------------------------------- helpers

def y_of(p: float, top: float = TOP) -> float:
    """y of staff position ``p`` (0 = bottom line, 8 = top line)."""
    return top + 4 * SS - p * SS / 2


def head(x: float, p: float, cls: str = "notehead_black", top: float = TOP) -> Symbol:
    w = 16.2 if cls == "notehead_whole" else HEAD_W
    y = y_of(p, top)
    return Symbol(cls, (x, y - HEAD_H / 2, x + w, y + HEAD_H / 2))


def cy(s: Symbol) -> float:
    return 0.5 * (s.box[1] + s.box[3])


def stem_up(*heads: Symbol, tip: float | None = None) -> Symbol:
    """A stem rising from the right edge of ``heads`` (one column) to ``tip``."""
    x1 = max(h.box[2] for h in heads)
    low = max(cy(h) for h in heads)
    high = min(cy(h) for h in heads)
    return Symbol("stem", (x1 - STEM_W, high - STEM_LEN if tip is None else tip, x1, low - STEM_GAP))


def stem_down(*heads: Symbol, tip: float | None = None) -> Symbol:
    x0 = min(h.box[0] for h in heads)
    low = max(cy(h) for h in heads)
    high = min(cy(h) for h in heads)
    return Symbol("stem", (x0, high + STEM_GAP, x0 + STEM_W, low + STEM_LEN if tip is None else tip))


def beam_between(a: Symbol, b: Symbol, level: int = 0) -> Symbol:
    """A beam from stem ``a`` to stem ``b`` along their tips (up stems), ``level``
    beam lines below the outermost."""
    ya, yb = a.box[1] + level * BEAM_GAP, b.box[1] + level * BEAM_GAP
    return Symbol("beam", (a.box[0], min(ya, yb), b.box[2], max(ya, yb) + BEAM_T))


def graph(symbols, n_staves: int = 1, gap: float = 100.0):
    staves = [straight_staff(i, x0=0, x1=400, top=TOP + i * gap, staff_space=SS) for i in range(n_staves)]
    return build_graph(list(symbols), staves)


def edges(g: StaffGraph, kind: str) -> set[tuple[int, int]]:
    return {(e.src, e.dst) for e in g.edges if e.kind == kind}


# ----------------------------------------------------------------- staff and position

def test_positions_and_staff_assignment():
    symbols = [head(40, 0), head(60, 4), head(80, 8), head(100, -2), head(120, 9),
               head(140, 3, top=TOP + 100)]
    g = graph(symbols, n_staves=2)
    assert [n.position for n in g.nodes] == [0, 4, 8, -2, 9, 3]
    assert [n.staff for n in g.nodes] == [0, 0, 0, 0, 0, 1]


def test_symbol_far_from_every_staff_has_no_staff():
    g = graph([head(40, 4), Symbol("text_other", (40, 400, 80, 412), text="far away")])
    assert g.nodes[0].staff == 0
    assert g.nodes[1].staff == -1


def test_notehead_in_the_margin_beside_a_staff_is_no_note():
    # a staff label ("T.") left of where the lines start, read as a whole note
    staff = straight_staff(0, x0=100, x1=400, top=TOP, staff_space=SS)
    label = Symbol("notehead_whole", (60, TOP + 1.5 * SS, 72, TOP + 2.5 * SS))
    first = Symbol("notehead_whole", (108, TOP + 1.5 * SS, 120, TOP + 2.5 * SS))
    past_end = Symbol("rest_whole", (440, TOP + SS, 452, TOP + 1.5 * SS))
    g = build_graph([label, first, past_end], [staff])
    assert [n.staff for n in g.nodes] == [-1, 0, -1]
    # a staff whose line tracking stopped short keeps its notes: its system's other
    # staff shows where the system starts
    short = straight_staff(0, x0=300, x1=400, top=TOP, staff_space=SS)
    below = straight_staff(1, x0=100, x1=400, top=TOP + 100, staff_space=SS)
    g = build_graph([label, first], [short, below], [[0, 1]])
    assert [n.staff for n in g.nodes] == [-1, 0]


def test_rest_far_beyond_its_staff_is_no_rest():
    # a glyph of the staff above, cut off by the photo's edge, read as an 8th rest 5
    # staff spaces over the top line; an upper voice's rest 3 over it is kept
    def rest(x, p):
        y = y_of(p)
        return Symbol("rest_8th", (x, y - 0.75 * SS, x + 0.8 * SS, y + 0.75 * SS))

    g = graph([rest(40, 18), rest(80, 14), rest(120, 4), rest(160, -6), rest(200, -10)])
    assert [n.staff for n in g.nodes] == [-1, 0, 0, 0, -1]
    assert [n.position for n in g.nodes][1:4] == [14, 4, -6]


def test_no_staves_gives_nodes_without_edges():
    g = build_graph([head(40, 4), stem_up(head(40, 4))], [])
    assert len(g.nodes) == 2 and g.edges == []


# ---------------------------------------------------------------------- stems

def test_chord_note_an_octave_below_joins_a_stem_that_stops_short_of_it():
    # the detector's stem ends half a staff space above the low note's box
    mid, upper, low = head(40, 4, "notehead_half"), head(40, 6, "notehead_half"), head(40, -3, "notehead_half")
    stem = stem_up(mid, upper)
    stem = Symbol("stem", (stem.box[0], stem.box[1], stem.box[2], low.box[1] - 0.5 * SS))
    g = graph([mid, upper, low, stem])
    assert sorted(stem_heads(g, 3)) == [0, 1, 2]
    # ... also when the chord's middle note was missed and the stem stops nearly a
    # staff space short (a real phone photo: F4 under a stem ending at A4)
    stem = Symbol("stem", (stem.box[0], stem.box[1], stem.box[2], low.box[1] - 0.9 * SS))
    g = graph([mid, upper, low, stem])
    assert sorted(stem_heads(g, 3)) == [0, 1, 2]
    # a head well below a stem's end keeps to itself
    far = head(40, -7, "notehead_half")
    g = graph([mid, upper, far, stem])
    assert sorted(stem_heads(g, 3)) == [0, 1]


def test_notehead_stem_up_and_down():
    a, b = head(40, 2), head(80, 6)
    sa, sb = stem_up(a), stem_down(b)
    g = graph([a, sa, b, sb])
    assert edges(g, "stem") == {(0, 1), (2, 3)}
    assert stem_direction(g, 1) == "up"
    assert stem_direction(g, 3) == "down"


def test_stem_between_two_notes_goes_to_its_own():
    # two quarter notes close together; each stem belongs to one notehead only
    a, b = head(40, 4), head(60, 4)
    sa, sb = stem_up(a), stem_up(b)
    g = graph([a, sa, b, sb])
    assert edges(g, "stem") == {(0, 1), (2, 3)}


def test_chord_three_noteheads_one_stem():
    heads = [head(50, 0), head(50, 2), head(50, 4)]
    g = graph([*heads, stem_up(*heads)])
    assert edges(g, "stem") == {(0, 3), (1, 3), (2, 3)}
    assert sorted(stem_heads(g, 3)) == [0, 1, 2]
    ev = read_events(g, 0, 0, 400)
    assert len(ev) == 1 and sorted(ev[0].heads) == [0, 1, 2]


def test_chord_with_down_stem():
    heads = [head(50, 3), head(50, 5), head(50, 7)]
    g = graph([*heads, stem_down(*heads)])
    assert edges(g, "stem") == {(0, 3), (1, 3), (2, 3)}
    assert stem_direction(g, 3) == "down"


def test_a_stack_of_heads_above_a_down_stem_that_starts_at_the_lowest_joins_its_chord():
    """A flagged chord G-C-E flat with a down stem: the detector's stem begins at the
    lowest notehead, the two above it a fourth and a sixth higher (000012-p1). They
    join the chord one after the other, from the stem outwards."""
    low, mid, top = head(50, 3), head(50, 6), head(50, 8)
    stem = stem_down(low)
    g = graph([low, top, mid, stem])  # the outer head comes first
    assert sorted(stem_heads(g, 3)) == [0, 1, 2]
    ev = read_events(g, 0, 0, 400)
    assert len(ev) == 1 and sorted(ev[0].heads) == [0, 1, 2]
    # a fifth above, in line with the chord: G4-D5
    fifth = head(50, 7)
    g = graph([low, fifth, stem])
    assert sorted(stem_heads(g, 2)) == [0, 1]
    # half notes too: an up stem from the middle head of F2-C3-F3 leaves the low F
    # a fifth below (000020-p1)
    mid_h, top_h, low_h = head(50, 6, "notehead_half"), head(50, 9, "notehead_half"), head(50, 2, "notehead_half")
    g = graph([mid_h, top_h, low_h, stem_up(mid_h, top_h)])
    assert sorted(stem_heads(g, 3)) == [0, 1, 2]
    # a head a fifth above, not in line with the chord (another voice's), keeps apart
    other = head(50 + 0.6 * SS, 7)
    g = graph([low, other, stem])
    assert sorted(stem_heads(g, 2)) == [0]


# ---------------------------------------------------------------------- beams

def _beamed(ps, xs, tips, levels=1, segments=False):
    """Noteheads, up stems to ``tips``, a primary beam over all, and secondary
    beams (one box, or one box per pair of stems when ``segments``)."""
    heads = [head(x, p) for x, p in zip(xs, ps)]
    stems = [stem_up(h, tip=t) for h, t in zip(heads, tips)]
    beams = [beam_between(stems[0], stems[-1])]
    for level in range(1, levels):
        if segments:
            beams += [beam_between(a, b, level) for a, b in itertools.pairwise(stems)]
        else:
            beams.append(beam_between(stems[0], stems[-1], level))
    return heads, stems, beams


def test_level_beam_joins_two_stems():
    heads, stems, beams = _beamed([4, 4], [40, 70], [5, 5])
    g = graph(heads + stems + beams)
    assert edges(g, "beam") == {(2, 4), (3, 4)}
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.5, 0.5]


def test_sloped_beam_joins_four_stems():
    ps = [0, 2, 4, 6]
    xs = [40, 70, 100, 130]
    tips = [y_of(p) - STEM_LEN for p in ps]          # rising to the right
    heads, stems, beams = _beamed(ps, xs, tips)
    g = graph(heads + stems + beams)
    assert edges(g, "beam") == {(4, 8), (5, 8), (6, 8), (7, 8)}
    assert all(e.base == 0.5 and e.beamed for e in read_events(g, 0, 0, 400))


def test_falling_beam_joins_four_stems():
    ps = [6, 4, 2, 0]
    tips = [y_of(p) - STEM_LEN for p in ps]
    heads, stems, beams = _beamed(ps, [40, 70, 100, 130], tips)
    g = graph(heads + stems + beams)
    assert {s for s, _ in edges(g, "beam")} == {4, 5, 6, 7}


def test_beam_leaves_the_unbeamed_neighbour_alone():
    heads, stems, beams = _beamed([4, 4], [40, 70], [5, 5])
    lone = head(110, 4)
    g = graph(heads + stems + beams + [lone, stem_up(lone)])
    assert {s for s, _ in edges(g, "beam")} == {2, 3}
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.5, 0.5, 1]


def test_beam_box_stopping_short_of_its_end_stems_still_joins_them():
    # the detector's box of a long beam often stops short of the group's first and
    # last stems (here by 0.8 staff spaces at each end); the next note stays unbeamed
    heads, stems, beams = _beamed([4, 4, 4, 4], [40, 70, 100, 130], [5] * 4)
    b = beams[0]
    short = Symbol("beam", (b.box[0] + 8, b.box[1], b.box[2] - 8, b.box[3]))
    lone = head(160, 4)
    g = graph(heads + stems + [short, lone, stem_up(lone)])
    assert {s for s, _ in edges(g, "beam")} == {4, 5, 6, 7}
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.5] * 4 + [1]


def test_a_stem_seen_ending_at_its_hook_still_joins_the_beam_beyond():
    """A real phone photo (ptromr_example_photo1): a dotted eighth and a 16th, the
    16th's stem seen only down to its hook (the inner beam line), 0.6 staff spaces
    short of the group's beam: the 16th was read as an eighth, apart from its dotted
    partner, and the measure held 17/4 in 4/4."""
    heads, stems, beams = _beamed([4, 4], [40, 70], [5, 5])
    dotted, sixteenth = heads
    x0, y0, x1, y1 = stems[1].box
    short = Symbol("stem", (x0, y0 + BEAM_GAP + 2.0, x1, y1))  # ends in the hook
    hook = Symbol("beam", (x1 - 1.5 * SS, y0 + BEAM_GAP, x1, y0 + BEAM_GAP + BEAM_T))
    g = graph([dotted, sixteenth, stems[0], short, beams[0], hook, _dot(dotted.box[2] + 3, cy(dotted) - 5)])
    assert edges(g, "beam") == {(2, 4), (3, 4), (3, 5)}
    ev = read_events(g, 0, 0, 400)
    assert [(e.base, e.dots) for e in ev] == [(0.5, 1), (0.25, 0)]
    assert ev[0].beam_group == ev[1].beam_group
    # a beam a stem's length beyond is not its own
    far = Symbol("beam", (beams[0].box[0], y0 - 2 * SS, beams[0].box[2], y0 - 2 * SS + BEAM_T))
    g = graph([dotted, sixteenth, stems[0], short, far, hook])
    assert (3, 4) not in edges(g, "beam") and (2, 4) not in edges(g, "beam")
    # nor a box just beyond a beam that no other stem holds (seed 3 000027-p2: the
    # "3" of a triplet read as a short beam too over its middle stem)
    a, b, c = (head(x, 4) for x in (40, 70, 100))
    triplet = [a, b, c] + [stem_up(h, tip=5) for h in (a, b, c)]
    beam = beam_between(triplet[3], triplet[5])
    three = Symbol("beam", (77.0, beam.box[1] - BEAM_GAP, 87.0, beam.box[1] - BEAM_GAP + BEAM_T))
    g = graph(triplet + [beam, three])
    assert edges(g, "beam") == {(3, 6), (4, 6), (5, 6)}


def test_a_stem_seen_short_of_its_groups_beam_still_joins_it():
    """Seed 3 000033-p1 (19 -> 26 notes right): a stem seen ending short of its
    group's beam, the beam's line 0.36 staff spaces beyond its end (more than
    BEAM_Y_TOLERANCE_SS), took no beam."""
    heads, stems, beams = _beamed([4, 4, 4], [40, 70, 100], [5, 5, 5])
    x0, y0, x1, y1 = stems[1].box
    short = Symbol("stem", (x0, y0 + 0.7 * SS, x1, y1))  # the line 0.45 ss beyond its end
    g = graph(heads + [stems[0], short, stems[2]] + beams)
    assert edges(g, "beam") == {(3, 6), (4, 6), (5, 6)}
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.5, 0.5, 0.5]
    # a stem ending more than a beam line's pitch short of it is no member
    shorter = Symbol("stem", (x0, y0 + 1.5 * SS, x1, y1))
    g = graph(heads + [stems[0], shorter, stems[2]] + beams)
    assert edges(g, "beam") == {(3, 6), (5, 6)}


def test_beam_lines_the_image_counts_beyond_the_boxes_leave_the_boxes_count_as_alternative():
    heads, stems, beams = _beamed([2, 4], [40, 70], [5, 5])
    g = graph(heads + stems + beams)
    for n in g.nodes:
        if n.cls == "stem":
            n.levels = 2  # the image shows two lines (one of them a slur's end)
    events = read_events(g, 0, 0, 400)
    assert [e.base for e in events] == [0.25, 0.25]
    assert [e.alternatives for e in events] == [(0.5,), (0.5,)]


def test_one_beam_line_detected_twice_is_one_level():
    # two overlapping boxes of the same beam line (the detector found it twice, one
    # a little longer): eighths, not sixteenths
    heads, stems, beams = _beamed([4, 4, 4, 4], [40, 70, 100, 130], [5] * 4)
    b = beams[0]
    again = Symbol("beam", (b.box[0] + 10, b.box[1] - 1, b.box[2] + 3, b.box[3] - 1), 0.4)
    g = graph(heads + stems + [b, again])
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.5] * 4


def test_sixteenths_secondary_beam_in_one_box():
    heads, stems, beams = _beamed([4, 4, 4, 4], [40, 70, 100, 130], [5] * 4, levels=2)
    g = graph(heads + stems + beams)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.25] * 4


def test_sixteenths_secondary_beam_as_segments_counted_once_per_level():
    # verovio draws a secondary beam as one segment per pair of stems: the middle
    # stems touch two segments of the same beam line
    heads, stems, beams = _beamed([4, 4, 4, 4], [40, 70, 100, 130], [5] * 4, levels=2, segments=True)
    g = graph(heads + stems + beams)
    middle = stems[1]
    middle_id = len(heads) + 1
    assert g.nodes[middle_id].box == middle.box
    assert len(g.targets(middle_id, "beam")) == 3          # primary + two segments
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.25] * 4


def test_sixteenths_secondary_beam_in_pieces_that_overrun_their_stems():
    # the detector's boxes of a secondary beam's pieces reach past the stem they
    # meet at (by 0.4 staff space, and stop half a staff space short of the next
    # piece): still one beam line at the middle stems
    heads, stems, beams = _beamed([4, 4, 4, 4], [40, 70, 100, 130], [5] * 4, levels=2, segments=True)
    over = 0.4 * SS
    pieces = [Symbol("beam", (b.box[0] - (over if i else 0), b.box[1], b.box[2] + (over if i < 2 else 0), b.box[3]))
              for i, b in enumerate(beams[1:])]
    pieces[2] = Symbol("beam", (pieces[2].box[0] + over + 0.45 * SS, *pieces[2].box[1:]))
    g = graph(heads + stems + beams[:1] + pieces)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.25] * 4


def test_a_64th_whose_fourth_beam_was_not_seen_may_be_read_as_its_neighbours():
    # four 64ths; the 4th beam line's piece at the first stem was lost in blur: the
    # first reads as a 32nd, with a 64th as the reading a measure may ask for
    heads, stems, beams = _beamed([4, 4, 4, 4], [40, 70, 100, 130], [5] * 4, levels=4, segments=True)
    fourth_first = 1 + 2 * 3  # primary, then three pieces per level: level 3's first
    g = graph(heads + stems + [b for i, b in enumerate(beams) if i != fourth_first])
    events = read_events(g, 0, 0, 400)
    assert [e.base for e in events] == [0.125, 0.0625, 0.0625, 0.0625]
    assert events[0].alternatives == (0.0625,)
    assert all(e.alternatives == () for e in events[1:])
    # a sixteenth between sixteenths that shows a third line (a speck by its stem)
    heads, stems, beams = _beamed([4, 4, 4, 4], [40, 70, 100, 130], [5] * 4, levels=2, segments=True)
    hook = beam_between(stems[1], stems[2], 2)
    hook = Symbol("beam", (hook.box[0], hook.box[1], hook.box[0] + 9, hook.box[3]))
    events = read_events(graph(heads + stems + beams + [hook]), 0, 0, 400)
    assert [e.base for e in events] == [0.25, 0.125, 0.25, 0.25]
    assert events[1].alternatives == (0.25,)  # (its neighbours may be doubted too)
    assert events[3].alternatives == ()  # no neighbour with more lines
    # sixteenths beside an eighth (two lines against one) are no such doubt
    heads, stems, beams = _beamed([4, 4, 4], [40, 70, 100], [5] * 3, levels=2, segments=True)
    g = graph(heads + stems + beams[:2])
    assert [(e.base, e.alternatives) for e in read_events(g, 0, 0, 400)] == [(0.25, ()), (0.25, ()), (0.5, ())]


def test_a_run_of_32nds_beside_a_64th_may_all_be_64ths():
    # four 64ths; blur took the fourth line from every stem but the third: the
    # 32nds in the run up to it may each be a 64th; a 16th group with one stem
    # showing a third line doubts only that stem's neighbours (above)
    heads, stems, beams = _beamed([4, 4, 4, 4], [40, 70, 100, 130], [5] * 4, levels=3, segments=True)
    hook = beam_between(stems[2], stems[3], 3)
    hook = Symbol("beam", (hook.box[0], hook.box[1], hook.box[0] + 9, hook.box[3]))
    events = read_events(graph(heads + stems + beams + [hook]), 0, 0, 400)
    assert [e.base for e in events] == [0.125, 0.125, 0.0625, 0.125]
    assert [e.alternatives[:1] for e in events] == [(0.0625,), (0.0625,), (0.125,), (0.0625,)]


def test_a_flag_also_read_as_another_flag_offers_that_length():
    # an eighth's flag the detector also read as a 16th's (0.52 and 0.35): an eighth,
    # with the 16th for a measure that asks for it; a flag read one way only offers none
    h, other = head(40, 4), head(100, 4)
    up, up2 = stem_up(h), stem_up(other)
    flag = Symbol("flag_8th", (up.box[0], up.box[1], up.box[0] + 10.5, up.box[1] + 32.7), 0.52,
                  alternatives=("flag_16th",))
    plain = Symbol("flag_8th", (up2.box[0], up2.box[1], up2.box[0] + 10.5, up2.box[1] + 32.7), 0.9)
    events = read_events(graph([h, up, flag, other, up2, plain]), 0, 0, 400)
    assert [(e.base, e.alternatives) for e in events] == [(0.5, (0.25,)), (0.5, ())]


def test_a_primary_beam_seen_as_two_boxes_makes_one_beam_group():
    # blur: the detector boxed the primary beam of four eighths as two overlapping
    # pieces; the stems share one or the other, and all are one group
    heads, stems, _ = _beamed([4, 4, 4, 4], [40, 70, 100, 130], [5] * 4)
    left = beam_between(stems[0], stems[2])
    right = beam_between(stems[1], stems[3])
    g = graph(heads + stems + [right, left])
    events = read_events(g, 0, 0, 400)
    assert [e.base for e in events] == [0.5] * 4
    assert len({e.beam_group for e in events}) == 1


def test_thirty_seconds_as_segments():
    heads, stems, beams = _beamed([4, 4, 4, 4], [40, 70, 100, 130], [5] * 4, levels=3, segments=True)
    g = graph(heads + stems + beams)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.125] * 4


def test_sloped_sixteenths_as_segments():
    ps = [0, 2, 4, 6]
    tips = [y_of(p) - STEM_LEN for p in ps]
    heads, stems, beams = _beamed(ps, [40, 70, 100, 130], tips, levels=2, segments=True)
    g = graph(heads + stems + beams)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.25] * 4


def _mixed_levels(slope: float):
    """32nd, 32nd, 16th, 8th beamed, stems up, close together as verovio spaces short
    notes; the beam falls ``slope`` px per px. verovio draws the primary beam as one
    box and the deeper lines as one segment per pair of stems."""
    xs = (40, 58, 76, 98)
    heads = [head(x, 4) for x in xs]
    stems = [stem_up(h, tip=5 + slope * (x - xs[0])) for h, x in zip(heads, xs)]
    beams = [beam_between(stems[0], stems[-1]),
             beam_between(stems[0], stems[1], 1), beam_between(stems[1], stems[2], 1),
             beam_between(stems[0], stems[1], 2)]
    return graph(heads + stems + beams)


@pytest.mark.parametrize("slope", [0.0, 0.1, -0.17])
def test_segments_of_different_levels_are_not_chained(slope):
    g = _mixed_levels(slope)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.125, 0.125, 0.25, 0.5]


@pytest.mark.parametrize("slope", [0.17, 0.25])
def test_segments_of_different_levels_on_a_falling_beam(slope):
    g = _mixed_levels(slope)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.125, 0.125, 0.25, 0.5]


# ------------------------------------------------------- beams seen in the image

def _ink(*segments, thick: float = BEAM_T) -> np.ndarray:
    """An ink mask (staff lines already removed) with straight thick lines from
    (x0, y0) to (x1, y1), their top edge on that line (a beam hangs from stem tips)."""
    mask = np.zeros((200, 400), bool)
    for x0, y0, x1, y1 in segments:
        for x in range(int(x0), int(x1) + 1):
            y = y0 + (y1 - y0) * (x - x0) / max(x1 - x0, 1)
            mask[int(round(y)):int(round(y + thick)), x] = True
    return mask


def _unbeamed(ps=(0, 2, 4), xs=(40, 100, 160), cls="notehead_black"):
    heads = [head(x, p, cls) for x, p in zip(xs, ps)]
    stems = [stem_up(h, tip=y_of(8) - 5) for h in heads]
    return heads, stems


def test_beam_the_detector_missed_is_found_between_stem_tips():
    heads, stems = _unbeamed()
    g = graph(heads + stems)
    tip = stems[0].box[1]
    new = add_image_beams(g, _ink((stems[0].box[0], tip, stems[-1].box[2], tip)))
    assert len(new) == 1
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.5, 0.5, 0.5]
    assert len({e.beam_group for e in read_events(g, 0, 0, 400)}) == 1


def test_no_ink_between_the_stems_is_no_beam():
    heads, stems = _unbeamed()
    g = graph(heads + stems)
    assert add_image_beams(g, _ink()) == []
    assert [e.base for e in read_events(g, 0, 0, 400)] == [1, 1, 1]


def test_a_slur_over_the_stem_tips_is_no_beam():
    heads, stems = _unbeamed(ps=(0, 2), xs=(100, 160))
    g = graph(heads + stems)
    tip = stems[0].box[1]
    # a flat arc running on beyond both stems, its lower edge at their tips
    slur = _ink((60, tip - 4, 220, tip - 4))
    assert add_image_beams(g, slur) == []


def test_half_notes_are_never_beamed():
    heads, stems = _unbeamed(cls="notehead_half")
    g = graph(heads + stems)
    tip = stems[0].box[1]
    assert add_image_beams(g, _ink((stems[0].box[0], tip, stems[-1].box[2], tip))) == []


def test_a_stem_joined_by_ink_to_a_detected_beam_joins_that_beam():
    heads, stems = _unbeamed()
    detected = beam_between(stems[1], stems[2])
    g = graph(heads + stems + [detected])
    tip = stems[0].box[1]
    assert add_image_beams(g, _ink((stems[0].box[0], tip, stems[-1].box[2], tip))) == []
    events = read_events(g, 0, 0, 400)
    assert [e.base for e in events] == [0.5, 0.5, 0.5]
    assert len({e.beam_group for e in events}) == 1


def test_a_stem_seen_short_of_a_beam_far_below_reaches_it_along_its_ink():
    """The example photo (bass, measures 4 and 16): a chord whose stem runs far
    below the staff to a beam it shares with an octave; the detector saw the
    chord's stem end two staff spaces short of the beam. The stem's line of ink
    runs on to the beam: the chord is an eighth, as its partner. Where the ink
    stops at the detected end, or no other stem holds the beam, nothing is linked."""
    chord = [head(100, 5), head(100, 7)]
    octave = [head(140, -2), head(140, 5)]
    beam_y = y_of(-5)     # the beam's lower edge, 1.5 staff spaces under the octave's low note
    seen_short = stem_down(*chord, tip=beam_y - 2.5 * SS)
    partner = stem_down(*octave, tip=beam_y)
    beam = Symbol("beam", (seen_short.box[0], beam_y - BEAM_T, partner.box[2], beam_y))
    symbols = chord + octave + [seen_short, partner, beam]
    ink = _ink((beam.box[0], beam.box[1], beam.box[2], beam.box[1]))
    full = _with_stems(ink.copy(), [Symbol("stem", seen_short.box[:3] + (beam_y,)), partner])
    g = graph(symbols)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [1, 0.5]
    assert reach_beams_along_stems(g, full) == [(4, 6)]
    assert g.nodes[4].box[3] >= beam_y - BEAM_T
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.5, 0.5]
    # the ink stops where the detector saw the stem end
    g = graph(symbols)
    assert reach_beams_along_stems(g, _with_stems(ink.copy(), [seen_short, partner])) == []
    # a beam no other stem holds
    g = graph(chord + [seen_short, beam])
    assert reach_beams_along_stems(g, full) == []


def _with_stems(ink: np.ndarray, stems) -> np.ndarray:
    """``ink`` with each stem's column inked, in place."""
    for s in stems:
        ink[int(s.box[1]):int(s.box[3]), int(s.box[0])] = True
    return ink


def _syncopated(gap: float):
    """A 16th, an eighth and a 16th spaced tightly (1.56 staff spaces), beamed: the
    outer notes' hooks point at the middle stem and stop ``gap`` px short of it.
    The graph, and its ink (stems, beam and hooks; staff lines removed)."""
    heads, stems = _unbeamed(ps=(4, 4, 4), xs=(40, 55.6, 71.2))
    tip = stems[0].box[1]
    low = tip + 7.5
    hooks = [Symbol("beam", (stems[0].box[0], low, stems[1].box[0] - gap, low + BEAM_T)),
             Symbol("beam", (stems[1].box[2] + gap, low, stems[2].box[2], low + BEAM_T))]
    g = graph(heads + stems + [beam_between(stems[0], stems[2])] + hooks)
    ink = _ink((stems[0].box[0], tip, stems[2].box[2], tip), *[(h.box[0], low, h.box[2], low) for h in hooks])
    return g, _with_stems(ink, stems)


def test_hooks_that_stop_short_of_the_middle_stem_are_not_its_beams():
    g, ink = _syncopated(gap=3.0)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.25, 0.125, 0.25]  # linked by tolerance
    dropped = detach_hooks(g, ink)
    assert len(dropped) == 2
    measure_beam_levels(g, ink, not_reaching=dropped)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.25, 0.5, 0.25]


def test_hooks_whose_ink_reaches_the_stem_stay():
    g, ink = _syncopated(gap=3.0)
    stems = [n for n in g.nodes if n.cls == "stem"]
    tip = stems[0].box[1]
    ink |= _ink((stems[0].box[0], tip + 7.5, stems[2].box[2], tip + 7.5))  # one line across: 16ths
    beams = len(g.targets(stems[1].id, "beam"))
    assert detach_hooks(g, ink) == []
    assert len(g.targets(stems[1].id, "beam")) == beams == 3


def test_a_hook_boxed_up_to_the_next_stem_hangs_on_the_stem_its_ink_leaves():
    """The example photo: a 16th, an eighth and a 16th, the first hook's box reaching
    the middle stem (its ink stops a staff space short of it): the eighth read as a
    16th. The ink decides: the hook hangs on the first stem only."""
    heads, stems = _unbeamed(ps=(4, 4, 4), xs=(40, 55.6, 71.2))
    tip = stems[0].box[1]
    low = tip + 7.5
    boxed = Symbol("beam", (stems[0].box[0], low, stems[1].box[0] - 0.5, low + BEAM_T))  # up to the middle stem
    hook2 = Symbol("beam", (stems[1].box[2] + 3.0, low, stems[2].box[2], low + BEAM_T))
    symbols = heads + stems + [beam_between(stems[0], stems[2]), boxed, hook2]
    ink = _with_stems(_ink((stems[0].box[0], tip, stems[2].box[2], tip), (stems[0].box[0], low, stems[0].box[0] + SS, low),
                           (hook2.box[0], low, hook2.box[2], low)), stems)
    g = graph(symbols)
    assert read_events(g, 0, 0, 400)[1].base < 0.5
    dropped = detach_hooks(g, ink)
    assert (4, 7) in dropped and 7 in g.targets(3, "beam")   # the middle stem lets the hook go
    measure_beam_levels(g, ink, not_reaching=dropped)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.25, 0.5, 0.25]
    # a short beam whose ink joins both stems stays on both
    g = graph(symbols)
    assert (4, 7) not in detach_hooks(g, ink | _ink((stems[0].box[0], low, stems[1].box[2], low)))


def _pairs(n_pairs: int, merged: int | None, sixteenths: tuple[int, ...] = ()):
    """``n_pairs`` beamed pairs of eighths, each one detected beam box; the pair
    ``merged`` (if any)'s two beam lines blur into one run of ink (0.5 + 0.25 + 0.5 staff
    spaces, fattened), the others show one line each, or two lines apart and two
    boxes (the pairs ``sixteenths``)."""
    xs = [30 + 36 * i + 16 * k for i in range(n_pairs) for k in range(2)]
    heads, stems = _unbeamed(ps=[4] * len(xs), xs=xs)
    pairs = [(stems[2 * i], stems[2 * i + 1]) for i in range(n_pairs)]
    g = graph(heads + stems + [beam_between(a, b) for a, b in pairs]
              + [beam_between(*pairs[i], 1) for i in sixteenths])
    tip = stems[0].box[1]
    ink = np.zeros((200, 400), bool)
    for i, (a, b) in enumerate(pairs):
        ink |= _ink((a.box[0], tip, b.box[2], tip), thick=1.5 * SS if i == merged else BEAM_T)
        if i in sixteenths:
            ink |= _ink((a.box[0], tip + BEAM_GAP, b.box[2], tip + BEAM_GAP))
    return g, _with_stems(ink, stems)


def test_beam_lines_blur_merged_count_by_the_pages_single_line():
    g, ink = _pairs(5, merged=2)
    measure_beam_levels(g, ink)
    events = read_events(g, 0, 0, 400)
    assert [e.base for e in events] == [0.5] * 4 + [0.25] * 2 + [0.5] * 4
    assert events[4].alternatives == (0.5,)  # the detector's box: the measure may choose it


def test_a_thick_run_counts_once_where_the_page_keeps_beam_lines_apart():
    g, ink = _pairs(5, merged=2, sixteenths=(0, 4))  # 4 of 10 stems show two lines apart
    measure_beam_levels(g, ink)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.25] * 2 + [0.5] * 6 + [0.25] * 2


def test_a_thick_run_counts_once_where_the_page_has_few_beamed_stems():
    g, ink = _pairs(2, merged=1)  # 4 stems: no page-wide measure of one line's run
    measure_beam_levels(g, ink)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.5] * 4


def test_specks_of_noise_under_a_beam_are_no_beam_lines():
    # a dark, grainy photo: specks of ink a pixel or two wide lie in the sampled
    # columns just below each eighth's beam, a beam's gap apart; a beam crosses
    # the columns, a speck does not
    g, ink = _pairs(5, merged=None)
    stems = sorted((n for n in g.nodes if n.cls == "stem"), key=lambda n: n.cx)
    tip = stems[0].box[1]
    for k, s in enumerate(stems):  # a pair's first stem is sampled on its right, the second on its left
        x = int(round(s.cx + (1 if k % 2 == 0 else -1) * BEAM_SAMPLE_OFFSET_SS * SS))
        ink[int(tip + BEAM_GAP):int(tip + BEAM_GAP + 0.4 * SS), x:x + 2] = True
    measure_beam_levels(g, ink)
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.5] * 10


# ---------------------------------------------------------------------- flags

def test_flags_on_up_and_down_stems():
    a, b, c = head(40, 2), head(80, 6), head(120, 3)
    sa, sb, sc = stem_up(a), stem_down(b), stem_up(c)
    fa = Symbol("flag_8th", (sa.box[0], sa.box[1], sa.box[0] + 10.5, sa.box[1] + 32.7))
    fb = Symbol("flag_16th", (sb.box[0], sb.box[3] - 32.7, sb.box[0] + 10.5, sb.box[3]))
    g = graph([a, sa, fa, b, sb, fb, c, sc])
    assert edges(g, "flag") == {(1, 2), (4, 5)}
    assert [e.base for e in read_events(g, 0, 0, 400)] == [0.5, 0.25, 1]


# ----------------------------------------------------------------- accidentals

def test_sharp_links_to_its_notehead():
    h = head(60, 3)
    sharp = Symbol("accidental_sharp", (h.box[0] - 2 - 7.8, cy(h) - 13.85, h.box[0] - 2, cy(h) + 13.85))
    other = head(90, 3)
    g = graph([sharp, h, other])
    assert edges(g, "accidental") == {(0, 1)}


def test_flat_taller_above_links_by_its_bowl():
    # a third (F4, A4) in one column; the flat belongs to the lower note. Its box
    # centre lies nearer the upper note, its bowl (70 % down) on the lower one.
    low, high = head(60, 1), head(60, 3)
    h = 25.8
    flat = Symbol("accidental_flat", (low.box[0] - 2 - 8, cy(low) - 0.7 * h, low.box[0] - 2, cy(low) + 0.3 * h))
    assert abs(cy(flat) - cy(high)) < abs(cy(flat) - cy(low))   # the trap is real
    g = graph([flat, low, high, stem_up(low, high)])
    assert edges(g, "accidental") == {(0, 1)}
    assert g.nodes[0].position == 1


def test_the_outer_note_of_a_chord_joins_a_stem_on_its_own_side():
    """The example photo: an octave on a falling stem the detector saw starting
    half a staff space below the upper note; the next chord's falling stem, just
    right of that note and nearer its bottom, took it, and the octave's upper note
    sounded a 16th late. The outer note of a falling stem lies right of it."""
    low, outer = head(100, 5), head(100, 12)
    own = Symbol("stem", (100.0, cy(outer) + HEAD_H / 2 + 5.7, 100.8, 90.0))   # seen 0.57 staff space short
    other_head = head(116, 9)
    other = Symbol("stem", (116.0, cy(outer) + HEAD_H / 2 + 2.2, 116.8, 90.0))
    g = graph([low, outer, own, other_head, other])
    assert edges(g, "stem") == {(0, 2), (1, 2), (3, 4)}


def test_a_barline_read_as_a_stem_right_of_a_chords_upper_note_does_not_take_it():
    """The example photo: an octave on a falling stem seen starting half a staff
    space below the upper note; the barline just right of the octave, read as a
    stem too (0.36), took the upper note in the looser pass. A stem below a note
    falls from its left edge, so the note joins its own stem."""
    inner, outer = head(100, 4), head(100, 8)
    own = Symbol("stem", (100.0, cy(outer) + HEAD_H / 2 + 5.0, 100.8, 100.0))   # to a beam far below
    barline_as_stem = Symbol("stem", (116.0, cy(outer) + HEAD_H / 2 + 4.0, 117.0, 100.0), 0.36)
    g = graph([inner, outer, own, barline_as_stem])
    assert edges(g, "stem") == {(0, 2), (1, 2)}


def test_a_sign_read_nearly_as_surely_as_another_is_the_one_its_notehead_fits():
    """The example photo: a flat under a slur's end, its box widened by the slur,
    read as a sharp 0.43 and as a flat 0.27. A sharp is centred on its note, a
    flat's bowl lies low in its box: the note lies where the flat's bowl would be,
    so the glyph is a flat. A true sharp read nearly as a flat stays a sharp."""
    h = head(60, 3)
    box_h = 25.8
    box = (h.box[0] - 2 - 12, cy(h) - 0.7 * box_h, h.box[0] - 2, cy(h) + 0.3 * box_h)
    seen_as_sharp = Symbol("accidental_sharp", box, 0.43, alternatives=("accidental_flat",))
    g = graph([seen_as_sharp, h])
    assert edges(g, "accidental") == {(0, 1)}
    assert g.nodes[0].cls == "accidental_flat"
    assert g.nodes[0].alternatives == ("accidental_sharp",)
    # without the other reading, the sharp stays
    assert graph([Symbol("accidental_sharp", box, 0.43), h]).nodes[0].cls == "accidental_sharp"
    # a sharp centred on its note, read nearly as a flat too
    sharp = Symbol("accidental_sharp", (h.box[0] - 2 - 7.8, cy(h) - 13.85, h.box[0] - 2, cy(h) + 13.85), 0.43,
                   alternatives=("accidental_flat",))
    g = graph([sharp, h])
    assert g.nodes[0].cls == "accidental_sharp" and edges(g, "accidental") == {(0, 1)}


def test_accidentals_of_a_second_go_to_their_own_heads():
    # A-flat and B-natural a second apart on an up stem: A left of the stem, B set
    # across it. The natural, in the column next to the chord, is level with the B;
    # the flat, a column further left, with the A. The A is nearer the natural
    # across, but a step off its height.
    low = head(60, 3)
    high = head(60 + HEAD_W - STEM_W, 4)
    h = 25.8
    natural = Symbol("accidental_natural", (low.box[0] - 2 - 6.3, cy(high) - 14, low.box[0] - 2, cy(high) + 14))
    flat = Symbol("accidental_flat", (low.box[0] - 12 - 8, cy(low) - 0.7 * h, low.box[0] - 12, cy(low) + 0.3 * h))
    g = graph([natural, flat, low, high, stem_up(low)])
    assert edges(g, "accidental") == {(0, 3), (1, 2)}


def test_accidental_too_far_left_is_not_linked():
    h = head(100, 3)
    sharp = Symbol("accidental_sharp", (40, cy(h) - 13.85, 47.8, cy(h) + 13.85))
    g = graph([sharp, h])
    assert edges(g, "accidental") == set()


def test_two_accidentals_one_note_keeps_the_nearer():
    h = head(80, 3)
    near = Symbol("accidental_natural", (h.box[0] - 8.3, cy(h) - 14, h.box[0] - 2, cy(h) + 14))
    far = Symbol("accidental_sharp", (h.box[0] - 30, cy(h) - 13.85, h.box[0] - 22.2, cy(h) + 13.85))
    g = graph([far, near, h])
    assert edges(g, "accidental") == {(1, 2)}


# ------------------------------------------------------------------------ dots

def _dot(x: float, y: float) -> Symbol:
    return Symbol("augmentation_dot", (x, y - 2, x + 4, y + 2))


def test_dot_to_notehead_and_to_rest():
    h = head(40, 3)                                   # in a space: dot level with it
    rest = Symbol("rest_quarter", (100, TOP + 5.6, 112.2, TOP + 36))
    g = graph([h, stem_up(h), _dot(h.box[2] + 3, cy(h)), rest, _dot(115, y_of(5))])
    assert edges(g, "dot") == {(2, 0), (4, 3)}
    ev = read_events(g, 0, 0, 400)
    assert [(e.base, e.dots, e.duration) for e in ev] == [(1, 1, 1.5), (1, 1, 1.5)]


def test_dot_of_a_note_on_a_line_sits_in_the_space_above():
    h = head(40, 4)
    g = graph([h, stem_up(h), _dot(h.box[2] + 3, y_of(5))])
    assert edges(g, "dot") == {(2, 0)}


def test_a_doubtful_dot_on_a_line_is_no_augmentation_dot():
    # a half note on the first ledger line below: a speck where the ledger line
    # passes its right side was read as a dot (a real dot would be in the space)
    h = head(40, -2, cls="notehead_half")
    speck = Symbol("augmentation_dot", (h.box[2] + 1, y_of(-2) - 2, h.box[2] + 5, y_of(-2) + 2), 0.43)
    g = graph([h, stem_up(h), speck])
    assert edges(g, "dot") == set()
    # a sure one is believed, and one in the space is a dot whatever its score
    sure = Symbol("augmentation_dot", speck.box, 0.9)
    assert edges(graph([h, stem_up(h), sure]), "dot") == {(2, 0)}
    spaced = Symbol("augmentation_dot", (h.box[2] + 3, y_of(-1) - 2, h.box[2] + 7, y_of(-1) + 2), 0.43)
    assert edges(graph([h, stem_up(h), spaced]), "dot") == {(2, 0)}


def test_double_dots():
    h = head(40, 3, cls="notehead_half")
    g = graph([h, stem_up(h), _dot(h.box[2] + 3, cy(h)), _dot(h.box[2] + 9, cy(h))])
    assert edges(g, "dot") == {(2, 0), (3, 0)}
    (ev,) = read_events(g, 0, 0, 400)
    assert ev.dots == 2 and ev.duration == 3.5


def test_dot_belongs_to_the_note_it_follows_not_the_next():
    a, b = head(40, 3), head(70, 3)
    g = graph([a, stem_up(a), b, stem_up(b), _dot(a.box[2] + 3, cy(a))])
    assert edges(g, "dot") == {(4, 0)}


def test_a_chords_dots_stacked_in_one_column_are_one_dot():
    # both heads on lines; the engraver set their dots in the spaces below, so the
    # lower head takes both: still a dotted chord, not a double-dotted one
    low, high = head(40, 4), head(40, 6)
    x = high.box[2] + 3
    g = graph([low, high, stem_up(low, high), _dot(x, y_of(5)), _dot(x, y_of(3))])
    assert [e.dots for e in read_events(g, 0, 0, 400)] == [1]
    # a double dot stands side by side
    g = graph([low, stem_up(low), _dot(x, y_of(5)), _dot(x + 6, y_of(5))])
    assert [e.dots for e in read_events(g, 0, 0, 400)] == [2]


# ------------------------------------------------------------------- ties, slurs

def test_tie_joins_equal_pitches():
    a = head(40, 3)
    b, c = head(90, 3), head(90, 1)                  # a chord on the right
    tie = Symbol("tie", (a.box[2] - 2, cy(a) + 5, b.box[0] + 2, cy(a) + 11))
    g = graph([a, stem_up(a), b, c, stem_up(b, c), tie])
    assert edges(g, "tie_from") == {(5, 0)}
    assert edges(g, "tie_to") == {(5, 2)}


def test_a_faint_tie_joins_its_notes_only_beside_a_read_tie_between_the_same_chords():
    """The example photo: treble chords of F-flat and A-flat tied over a barline:
    the upper tie read at 0.68, the lower, close under it, at 0.34 (doubtful). The
    lower is joined as the chords' second tie. Alone, or beside a tie between
    other chords, a faint tie joins nothing."""
    a_low, a_high = head(40, 1), head(40, 3)
    b_low, b_high = head(90, 1), head(90, 3)
    upper = Symbol("tie", (a_high.box[2] - 2, cy(a_high) - 11, b_high.box[0] + 2, cy(a_high) - 5))
    lower = Symbol("tie", (a_low.box[2] - 2, cy(a_low) + 5, b_low.box[0] + 2, cy(a_low) + 11), 0.34, doubtful=True)
    chords = [a_low, a_high, stem_up(a_low, a_high), b_low, b_high, stem_up(b_low, b_high)]
    g = graph(chords + [upper, lower])
    assert edges(g, "tie_from") == {(6, 1), (7, 0)}
    assert edges(g, "tie_to") == {(6, 4), (7, 3)}
    g = graph(chords + [lower])   # no tie read between the chords
    assert edges(g, "tie_from") == set() and edges(g, "tie_to") == set()
    # a read tie between the first chord and another, later chord
    c_high = head(140, 3)
    later = Symbol("tie", (b_high.box[2] - 2, cy(b_high) - 11, c_high.box[0] + 2, cy(b_high) - 5))
    g = graph(chords + [c_high, stem_up(c_high), later, lower])
    assert edges(g, "tie_from") == {(8, 4)}


def test_slur_joins_first_and_last_note():
    notes = [head(40 + 30 * i, p) for i, p in enumerate([2, 3, 4, 5])]
    slur = Symbol("slur", (notes[0].box[0] + 4, y_of(5) - 14, notes[-1].box[2] - 4, y_of(2) - 8))
    syms = []
    for h in notes:
        syms += [h, stem_down(h)]
    g = graph(syms + [slur])
    assert edges(g, "slur_from") == {(8, 0)}
    assert edges(g, "slur_to") == {(8, 6)}


# --------------------------------------------------------------- lyrics, braces

def test_lyric_goes_to_the_note_above_it():
    notes = [head(40 + 40 * i, 4) for i in range(3)]
    syl = Symbol("lyric_syllable", (notes[1].box[0] - 2, TOP + 53, notes[1].box[0] + 20, TOP + 70), text="sun")
    g = graph(notes + [syl])
    assert edges(g, "lyric") == {(3, 1)}
    assert g.nodes[3].staff == 0


def test_lyric_below_the_upper_staff_belongs_to_it():
    upper = head(80, 4)
    lower = head(80, 4, top=TOP + 120)
    syl = Symbol("lyric_syllable", (78, TOP + 55, 100, TOP + 70), text="la")
    g = graph([upper, lower, syl], n_staves=2, gap=120)
    assert g.nodes[2].staff == 0
    assert edges(g, "lyric") == {(2, 0)}


def test_fingering_goes_to_the_note_below_it_and_to_the_note_right_of_it():
    low, high, other = head(60, 0), head(60, 6), head(120, 4)
    over = Symbol("fingering", (63, TOP - 25, 70, TOP - 14), text="3")  # above the staff
    beside = Symbol("fingering", (106, y_of(4) - 6, 114, y_of(4) + 6), text="1")  # left of `other`
    far = Symbol("fingering", (200, TOP - 25, 207, TOP - 14), text="2")  # over no note
    g = graph([low, high, other, over, beside, far])
    assert edges(g, "fingering") == {(3, 1), (4, 2)}  # the chord's head nearest the digit


def test_arpeggio_rolls_the_chord_right_of_it_only():
    chord = [head(60, 2), head(60, 4), head(60, 6)]
    above = head(60, 10)            # beyond the wavy line's height: not rolled
    later = head(100, 4)            # the next column
    arpeggio = Symbol("arpeggio", (48, y_of(6) - 6, 54, y_of(2) + 6))
    g = graph(chord + [above, later, arpeggio])
    assert edges(g, "arpeggio") == {(5, 0), (5, 1), (5, 2)}
    # beside a single note (a guitar finger number read as an arpeggio): nothing rolled
    lone = Symbol("arpeggio", (88, y_of(4) - 6, 94, y_of(4) + 6))
    assert edges(graph([later, lone]), "arpeggio") == set()


def test_brace_joins_the_staves_it_spans():
    brace = Symbol("brace", (-14, TOP - 2, -3, TOP + 100 + 42))
    g = graph([brace, head(60, 4), head(60, 4, top=TOP + 100), head(60, 4, top=TOP + 200)],
              n_staves=3)
    assert edges(g, "brace") == {(0, 0), (0, 1)}


# ---------------------------------------------------------------------- tuplets

def test_tuplet_number_covers_its_beam_group_only():
    heads, stems, beams = _beamed([4, 4, 4], [40, 70, 100], [5] * 3)
    more_h, more_s, more_b = _beamed([4, 4, 4], [140, 170, 200], [5] * 3)
    number = Symbol("tuplet_number", (66, -12, 79, 2), text="3")
    g = graph(heads + stems + beams + more_h + more_s + more_b + [number])
    assert {d for _, d in edges(g, "tuplet")} == {0, 1, 2}


def test_a_bracket_box_no_wider_than_its_number_leaves_the_nearest_three_columns():
    """Flagged eighths under a bracketed "3": the detector often boxes the bracket
    where the number is. That box tells nothing of the group's extent; the three
    note columns nearest the number make the group, as with no bracket."""
    heads = [head(x, 4) for x in (40, 70, 100, 130, 160)]
    stems = [stem_up(h) for h in heads]
    number = Symbol("tuplet_number", (73, -12, 86, 2), text="3")
    small = Symbol("tuplet_bracket", (73, -12, 86, 2))
    g = graph(heads + stems + [number, small])
    assert {d for _, d in edges(g, "tuplet")} == {0, 1, 2}
    # a bracket box over the notes it spans (two here) still bounds the group
    wide = Symbol("tuplet_bracket", (38, -10, 85, 0))
    g = graph(heads + stems + [number, wide])
    assert {d for _, d in edges(g, "tuplet")} == {0, 1}


def test_a_tuplet_number_over_notes_spread_by_lyrics_covers_the_run_centred_under_it():
    """Quarter-note triplets in a song, spread 8 staff spaces apart by their
    syllables, with the bracket unseen: fewer than two notes lie within
    TUPLET_NEAR_SS of the number, so the run of columns centred under it is its
    group (the number is printed over its group's middle)."""
    heads = [head(x, 4) for x in (40, 120, 200, 280)]
    stems = [stem_up(h) for h in heads]
    over_middle = Symbol("tuplet_number", (114, -12, 127, 2), text="3")
    g = graph(heads + stems + [over_middle])
    assert {d for _, d in edges(g, "tuplet")} == {0, 1, 2}
    # two notes 14 staff spaces apart (a quarter and an eighth under "3"), the
    # number over their middle
    pair = [head(x, 4) for x in (40, 180)]
    between = Symbol("tuplet_number", (104, -12, 117, 2), text="3")
    assert {d for _, d in edges(graph(pair + [stem_up(h) for h in pair] + [between]), "tuplet")} == {0, 1}
    # one note near and no run centred under the number: it stands for nothing
    lone = Symbol("tuplet_number", (54, -12, 67, 2), text="3")
    assert edges(graph(heads[:1] + stems[:1] + [lone]), "tuplet") == set()


def test_a_tuplet_number_under_a_spread_run_takes_its_high_note_with_its_stem_down_too():
    """--extras 000021-p2: three flagged eighths under a "3" below the staff, the
    first an A5 whose stem, down, ends 3.9 staff spaces above the number, further
    than TUPLET_SIDE_SS beyond the others'; the run centred under the number is the
    group (TUPLET_FAR_SIDE_SS), where the nearest notes alone would not be."""
    heads = [head(40, 10), head(110, 3), head(165, 4)]
    stems = [stem_down(h) for h in heads]
    under = Symbol("tuplet_number", (95, y_of(-7), 108, y_of(-9)), text="3")
    assert {d for _, d in edges(graph(heads + stems + [under]), "tuplet")} == {0, 1, 2}


# ----------------------------------------------------------------- serialisation

def _rich_graph():
    heads, stems, beams = _beamed([2, 4], [40, 70], [5, 5])
    h = head(110, 3)
    sharp = Symbol("accidental_sharp", (h.box[0] - 10, cy(h) - 13.85, h.box[0] - 2, cy(h) + 13.85))
    syl = Symbol("lyric_syllable", (108, TOP + 53, 130, TOP + 70), text="dá")
    three = Symbol("time_3", (10, TOP, 25, TOP + 20), 0.4, alternatives=("time_4", "time_2"))
    up = stem_up(h)
    faint = Symbol("flag_8th", (up.box[0], up.box[1], up.box[0] + 10.5, up.box[1] + 32.7), 0.3, doubtful=True)
    return graph(heads + stems + beams + [sharp, h, up, faint, _dot(h.box[2] + 3, cy(h)), syl, three])


def test_json_round_trip():
    g = _rich_graph()
    g.width, g.height = 640.0, 480.0
    assert len(g.edges) >= 6
    d = json.loads(g.to_json())
    g2 = StaffGraph.from_dict(d)
    assert [(n.id, n.cls, n.staff, n.position, n.text, n.alternatives, n.doubtful) for n in g2.nodes] == \
        [(n.id, n.cls, n.staff, n.position, n.text, n.alternatives, n.doubtful) for n in g.nodes]
    assert any(n.alternatives == ("time_4", "time_2") for n in g2.nodes)
    assert [n.cls for n in g2.nodes if n.doubtful] == ["flag_8th"]
    for a, b in zip(g.nodes, g2.nodes):
        assert np.allclose(a.box, b.box, atol=0.01)
        assert b.score == pytest.approx(a.score)
    assert g2.edges == g.edges
    assert g2.systems == g.systems
    assert (g2.width, g2.height) == (640.0, 480.0)
    assert len(g2.staves) == len(g.staves)
    for s, s2 in zip(g.staves, g2.staves):
        assert np.allclose(s.lines, s2.lines) and s2.staff_space == s.staff_space
    # look-ups work on the loaded graph
    for e in g.edges:
        assert e.dst in g2.targets(e.src, e.kind)
        assert e.src in g2.sources(e.dst, e.kind)
    # and it is stable: a second round trip gives the same JSON
    assert StaffGraph.from_dict(json.loads(g2.to_json())).to_json() == g2.to_json()


def test_add_edge_rejects_unknown_kinds():
    g = _rich_graph()
    with pytest.raises(ValueError, match="unknown edge kind"):
        g.add_edge(0, 1, "friendship")


# ------------------------------------------------------------------------ drawing

def test_draw_graph_returns_an_rgb_image_of_the_right_shape():
    g = _rich_graph()
    grey = np.full((150, 300), 255, np.uint8)
    out = draw_graph(grey, g)
    assert out.shape == (150, 300, 3) and out.dtype == np.uint8
    assert (out != 255).any()                     # something was drawn
    assert (grey == 255).all()                    # the input is untouched
    rgb = np.full((150, 300, 3), 255, np.uint8)
    out2 = draw_graph(rgb, g)
    assert out2.shape == rgb.shape and (rgb == 255).all()
    # a mapping to a twice larger image puts the drawing there
    big = np.full((300, 600, 3), 255, np.uint8)
    out3 = draw_graph(big, g, to_image=lambda p: p * 2.0)
    assert out3.shape == big.shape
    ys, xs = np.nonzero((out3 != 255).any(axis=2))
    assert xs.max() > 200 and ys.max() > 100


# --------------------------------------------- stems seen running on to a head

def _chord_with_a_short_stem():
    """A down-stemmed chord E (position 1) + high B (position 11, over a ledger
    line): the detector's stem box starts 1.5 staff spaces below the upper head."""
    low, high = head(100, 1), head(100, 11)
    stem = stem_down(low)
    stem.box = (stem.box[0], high.box[3] + 1.5 * SS, stem.box[2], stem.box[3])
    ledger = Symbol("ledger_line", (97, y_of(10) - 0.5, 116, y_of(10) + 0.5))
    return low, high, stem, ledger


def test_a_head_past_the_end_of_a_stem_the_image_shows_running_on_joins_its_chord():
    low, high, stem, ledger = _chord_with_a_short_stem()
    g = graph([low, high, stem, ledger])
    assert sorted(stem_heads(g, 2)) == [0]  # the detector's box alone: the high head is left out
    ink = np.zeros((200, 400), bool)
    x = int(round(0.5 * (stem.box[0] + stem.box[2])))
    ink[int(high.box[1]):int(stem.box[3]), x] = True  # the stem's ink, up into the head
    assert add_image_stem_heads(g, ink) == [1]
    assert sorted(stem_heads(g, 2)) == [0, 1]
    assert g.nodes[2].box[1] <= cy(high)
    events = read_events(g, 0, 0, 400)
    assert len(events) == 1 and len(events[0].heads) == 2


def test_a_head_past_the_end_of_a_stem_with_paper_between_stays_alone():
    low, high, stem, ledger = _chord_with_a_short_stem()
    g = graph([low, high, stem, ledger])
    ink = np.zeros((200, 400), bool)
    x = int(round(0.5 * (stem.box[0] + stem.box[2])))
    ink[int(stem.box[1]):int(stem.box[3]), x] = True  # the stem ends where its box does
    assert add_image_stem_heads(g, ink) == []
    assert sorted(stem_heads(g, 2)) == [0]
