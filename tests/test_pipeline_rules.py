"""Rules of omr/pipeline.py that clean the detections before the graph is built,
on small hand-made pages (normalized frame, 10 px per staff space)."""

from __future__ import annotations

import numpy as np
import pytest

from omr.graph import Symbol, straight_staff
from omr.pipeline import (accidentals_seen_split, add_alternatives, cue_sized_heads, doubtful_flags, doubtful_tuplet_numbers, drop_creases, drop_pale_barlines, heads_at_bare_stems,
                          image_barlines,
                          parenthesised_keys_as_accidentals, read_f_clef_lines, read_octave_marks, read_rest_counts,
                          suppress_duplicates, time_digits_read_as_notes)

SS = 10.0


def page(crease: bool):
    """Two systems of two staves; a barline through each system at x = 300, and,
    with ``crease``, a fold line down the whole page at x = 200."""
    tops = [60, 160, 320, 420]
    staves = [straight_staff(i, x0=40, x1=560, top=t, staff_space=SS, system=i // 2)
              for i, t in enumerate(tops)]
    binary = np.zeros((560, 600), bool)
    for t in tops:
        for k in range(5):
            binary[t + int(k * SS), 40:560] = True
    for first, last in ((60, 200), (320, 460)):
        binary[first:last + 1, 300:302] = True
    if crease:
        binary[:, 199:202] = True
    bars = []
    for t in tops:
        bars.append(Symbol("barline_single", (299, t, 302, t + 40), 0.9))
        if crease:
            bars.append(Symbol("barline_single", (199, t, 202, t + 40), 0.6))
    return binary, staves, [[0, 1], [2, 3]], bars


def test_a_crease_through_the_page_is_no_barline():
    binary, staves, systems, bars = page(crease=True)
    head = Symbol("notehead_black", (100, 75, 113, 85), 0.9)
    kept = drop_creases(bars + [head], binary, staves, systems)
    assert head in kept
    assert sorted({round(s.box[0]) for s in kept if s.cls == "barline_single"}) == [299]
    assert len([s for s in kept if s.cls == "barline_single"]) == 4


def test_barlines_on_a_grainy_page_are_no_creases():
    """In low light the grain inks every column of the gaps between systems: a barline
    there is no crease, as the paper beside it is as inked as it is."""
    binary, staves, systems, bars = page(crease=False)
    grain = np.random.default_rng(0).random(binary.shape) < 0.15
    noisy = binary | grain
    gap = noisy[205:315, 296:306].any(axis=1).mean()
    assert gap >= 0.8  # the plain test would call it a crease
    assert drop_creases(bars, noisy, staves, systems) == bars
    # a real fold on the grainy page still stands out from the grain beside it
    binary, staves, systems, bars = page(crease=True)
    kept = drop_creases(bars, binary | (grain & (np.arange(600) > 260)), staves, systems)
    assert sorted({round(s.box[0]) for s in kept}) == [299]


def test_barlines_joining_two_systems_staff_analysis_split_are_no_creases():
    """In low light staff analysis may leave the two staves of a grand staff each in
    a system of its own: their barlines then run through the gap between the two
    "systems", and only there. A fold would run on above and below them too."""
    binary, staves, systems, bars = page(crease=False)
    binary[200:320, 300:302] = True  # the barlines run from the upper system to the lower
    assert drop_creases(bars, binary, staves, systems) == bars
    binary[:60, 300:302] = binary[460:, 300:302] = True  # ... and on through the page
    assert drop_creases(bars, binary, staves, systems) == []


def test_barlines_that_run_on_to_a_staff_the_photo_cut_off_are_no_creases():
    """The photo's top edge cut off the first system's top staff: its barlines run on
    from the first staff seen to the edge. A crease would show below the system too."""
    binary, staves, systems, bars = page(crease=False)
    binary[:60, 300:302] = True
    assert drop_creases(bars, binary, staves, systems) == bars
    # the same line on through the gap below the system is a crease
    crease = binary.copy()
    crease[200:320, 300:302] = True
    assert [s for s in drop_creases(bars, crease, staves, systems) if s.box[1] < 250] == []
    # ... also when the photo's edge lies a little beyond the reach searched
    shift = 30  # the rows searched above start 2.5 px below the edge
    lower = np.vstack([np.zeros((shift, binary.shape[1]), bool), binary])
    lower[:shift, 300:302] = True
    staves = [straight_staff(s.index, x0=40, x1=560, top=s.y_top(300) + shift, staff_space=SS, system=s.system)
              for s in staves]
    moved = [Symbol(b.cls, (b.box[0], b.box[1] + shift, b.box[2], b.box[3] + shift), b.score) for b in bars]
    assert drop_creases(moved, lower, staves, systems) == moved


def test_barlines_inside_their_systems_are_kept():
    binary, staves, systems, bars = page(crease=False)
    assert drop_creases(bars, binary, staves, systems) == bars


def grey_page(paper: float, ink: float, fold: float):
    """:func:`page`'s music in grey: lines and barlines at grey ``ink`` on ``paper``,
    and a fold's shaded edge at ``fold`` down the whole page at x = 199-201, all
    blurred a little along the rows."""
    import cv2

    binary, staves, systems, bars = page(crease=True)
    grey = np.where(binary, ink, paper).astype(np.float32)
    grey[:, 199:202] = fold
    grey = cv2.GaussianBlur(grey, (3, 1), 0)
    return np.clip(grey, 0, 255).astype(np.uint8), staves, bars


def test_a_barline_as_pale_as_a_folds_shading_is_no_barline():
    """Where a fold crosses a staff, its shaded edge can pass for a barline; it
    is a few grey levels dark on a page whose staff lines and barlines are dark."""
    grey, staves, bars = grey_page(paper=230, ink=40, fold=200)
    kept = drop_pale_barlines(bars, grey, staves)
    assert sorted({round(s.box[0]) for s in kept}) == [299]
    assert len(kept) == 4
    # a dim, grey photo: the lines are faint, and a barline as faint as they are stands
    grey, staves, bars = grey_page(paper=120, ink=95, fold=95)
    assert drop_pale_barlines(bars, grey, staves) == bars
    # a page shaken sideways as it was photographed: every barline as pale as the
    # fold (the lines keep their darkness), so none is one
    grey, staves, bars = grey_page(paper=230, ink=40, fold=200)
    grey[:, 300:302] = np.maximum(grey[:, 300:302], 200)
    assert drop_pale_barlines(bars, grey, staves) == bars
    # notes beside a barline leave it standing
    grey, staves, bars = grey_page(paper=230, ink=40, fold=230)
    grey[60:100, 290:296] = 40
    real = [b for b in bars if b.box[0] == 299]
    assert drop_pale_barlines(real, grey, staves) == real


def test_weak_barlines_need_a_line_in_the_image():
    from omr.pipeline import confirm_weak_barlines
    from omr.staff import find_barlines

    binary, staves, systems, _ = page(crease=False)
    lines = find_barlines(binary, staves)
    assert {round(x0) for i, x0, _ in lines if i == 0} == {300}
    confirmed = Symbol("barline_single", (299, 60, 302, 100), 0.4)   # a line is there
    unconfirmed = Symbol("barline_double", (150, 60, 156, 100), 0.4)  # nothing is
    strong = Symbol("barline_single", (250, 60, 252, 100), 0.8)       # sure enough alone
    head = Symbol("notehead_black", (100, 75, 113, 85), 0.4)
    kept = confirm_weak_barlines([confirmed, unconfirmed, strong, head], staves, lines)
    assert kept == [confirmed, strong, head]


def test_a_chords_stem_does_not_confirm_a_weak_barline_beside_it():
    """The double flag of a 16th chord, at the top of its stem, scored 0.4 as a
    start repeat: the stem is a line through the whole staff, but the chord's
    noteheads touch it, so it confirms no repeat sign (whose dots keep notes off
    it); a line clear of noteheads does. A plain barline can stand that close
    after a note in tightly spaced music: the line still confirms it."""
    from omr.pipeline import confirm_weak_barlines

    staves = [straight_staff(0, x0=40, x1=560, top=60, staff_space=SS, system=0)]
    flag = Symbol("barline_repeat_start", (268, 50, 281, 86), 0.4)
    heads = [Symbol("notehead_black", (255, 63, 267, 73), 0.9), Symbol("notehead_black", (255, 93, 267, 103), 0.9)]
    assert confirm_weak_barlines([flag, *heads], staves, [(0, 266, 268)]) == heads
    assert confirm_weak_barlines([flag], staves, [(0, 266, 268)]) == [flag]
    bar = Symbol("barline_single", (266, 60, 269, 100), 0.48)
    assert confirm_weak_barlines([bar, *heads], staves, [(0, 266, 268)]) == [bar, *heads]


def test_a_time_digit_read_as_a_whole_note_too_is_no_note():
    eight = Symbol("time_8", (202, 316, 219, 335), 0.84)
    whole = Symbol("notehead_whole", (201, 321, 219, 338), 0.37)
    three = Symbol("time_3", (203, 295, 219, 318), 0.76)
    other = Symbol("notehead_whole", (260, 321, 278, 338), 0.37)  # elsewhere: kept
    kept = suppress_duplicates([eight, whole, three, other])
    assert kept == [eight, three, other]
    # ... and no F clef: a time signature's "2" read as one too
    two = Symbol("time_2", (541, 327, 589, 386), 0.9)
    assert suppress_duplicates([two, Symbol("clef_f", (541, 327, 589, 386), 0.43)]) == [two]
    # a confident note is not dropped for a weak digit on it
    assert suppress_duplicates([Symbol("time_8", eight.box, 0.3), Symbol("notehead_whole", whole.box, 0.9)]) \
        == [Symbol("notehead_whole", whole.box, 0.9)]


def test_a_rest_read_as_a_key_sharp_too_is_no_key():
    """A blurred quarter rest right after a system's time signature, scored a key
    sharp too (0.4 against 0.76), made a second key there; a sure key accidental
    stays beside a note and beside the accidental reading of its own glyph."""
    rest = Symbol("rest_quarter", (334.0, 248.0, 346.0, 274.0), 0.76)
    key = Symbol("key_sharp", (334.0, 248.0, 346.0, 274.0), 0.4)
    assert suppress_duplicates([rest, key]) == [rest]
    flat = Symbol("key_flat", (276.0, 250.0, 284.0, 278.0), 0.9)
    head = Symbol("notehead_black", (286.0, 262.0, 298.0, 272.0), 0.9)
    same_glyph = Symbol("accidental_flat", flat.box, 0.5)
    assert suppress_duplicates([flat, head, same_glyph]) == [flat, head, same_glyph]


def test_a_short_tie_read_as_a_cue_note_too_is_no_note():
    """A tie between two half notes across a barline, blurred into a small filled
    oval, was also read as a cue notehead (0.43 against the tie's 0.59); its box
    over the barline kept the layout from taking that barline."""
    tie = Symbol("tie", (617.0, 1228.0, 633.0, 1237.0), 0.59)
    cue = Symbol("notehead_black_cue", tie.box, 0.43)
    head = Symbol("notehead_half", (637.0, 1221.0, 650.0, 1231.0), 0.7)  # beside it: kept
    assert suppress_duplicates([tie, cue, head]) == [tie, head]
    # a notehead surer than the tie at its place stays
    sure = Symbol("notehead_black", tie.box, 0.9)
    assert suppress_duplicates([tie, sure]) == [tie, sure]


def test_a_notehead_inside_a_surer_sharp_is_part_of_it():
    """Seed 3 000033-p1: a blurred sharp's middle was read as a small notehead too
    (0.35, wholly inside the sharp's box at 0.82), which became a quarter note a
    step above the sharpened eighth beside it."""
    sharp = Symbol("accidental_sharp", (618.0, 225.0, 634.0, 255.0), 0.82)
    inside = Symbol("notehead_black", (620.0, 227.0, 631.0, 244.0), 0.35)
    head = Symbol("notehead_black", (638.0, 233.0, 651.0, 245.0), 0.8)  # its note: kept
    assert suppress_duplicates([sharp, inside, head]) == [sharp, head]
    # a surer notehead, or one only partly over the sharp's box, stays
    sure = Symbol("notehead_black", inside.box, 0.9)
    assert suppress_duplicates([sharp, sure]) == [sharp, sure]
    half_over = Symbol("notehead_black", (628.0, 230.0, 642.0, 243.0), 0.35)
    assert suppress_duplicates([sharp, half_over]) == [sharp, half_over]


def test_a_key_sharp_at_a_surer_note_sharp_is_that_sharp():
    """--extras 000012-p1: the sharp before a tenor's first note, right after the
    one-sharp key, was read as a key sharp too (0.53 against 0.87): the staff was read
    in D major for a whole system. A faint 16th rest read at the same place goes with
    it (it had been hidden by the key sharp)."""
    key = Symbol("key_sharp", (178.0, 1039.0, 195.0, 1072.0), 0.82)  # the key: kept
    note_sharp = Symbol("accidental_sharp", (201.0, 1015.0, 217.0, 1046.0), 0.87)
    as_key = Symbol("key_sharp", note_sharp.box, 0.53)
    as_rest = Symbol("rest_16th", (202.0, 1019.0, 216.0, 1047.0), 0.36)
    rest = Symbol("rest_8th", (204.0, 1055.0, 216.0, 1075.0), 0.62)  # the printed rest below: kept
    assert suppress_duplicates([key, note_sharp, as_key, as_rest, rest]) == [key, note_sharp, rest]
    # a key sharp surer than the accidental read at its place stays the key's
    sure_key = Symbol("key_sharp", note_sharp.box, 0.9)
    assert sure_key in suppress_duplicates([key, note_sharp, sure_key])


def test_a_sharp_read_at_a_surer_rest_is_that_rest():
    """--extras 000036-p4: quarter rests read as sharps too (0.43 and 0.37 against
    0.91 and 0.87); each sharp went to the note after the rest."""
    rest = Symbol("rest_quarter", (829.0, 823.0, 840.0, 851.0), 0.91)
    sharp = Symbol("accidental_sharp", (829.0, 823.0, 840.0, 851.0), 0.43)
    head = Symbol("notehead_black", (850.0, 835.0, 863.0, 846.0), 0.9)
    assert suppress_duplicates([rest, sharp, head]) == [rest, head]
    surer = Symbol("accidental_sharp", sharp.box, 0.95)  # a surer sharp keeps its place
    assert surer in suppress_duplicates([rest, surer])


def test_a_short_beam_read_as_a_notehead_too_is_no_note():
    """A real photo (the Ernst etude, staff 6): a 16th's short beam read as a black
    notehead too (0.39 against 0.48) added a note to its measure."""
    beam = Symbol("beam", (868.0, 68.0, 882.0, 77.0), 0.48)
    head = Symbol("notehead_black", (868.0, 68.0, 882.0, 77.0), 0.39)
    stem = Symbol("stem", (880.0, 70.0, 882.0, 110.0), 0.9)
    assert suppress_duplicates([beam, head, stem]) == [beam, stem]
    sure = Symbol("notehead_black", head.box, 0.6)
    assert sure in suppress_duplicates([beam, sure])


def test_a_line_through_a_doubtful_rest_is_no_missed_barline():
    # a 32nd rest is a stroke through the staff: find_barlines reports a line there,
    # and the detector saw the rest, if with too low a score to read it
    binary, staves, systems, _ = page(crease=False)
    lines = [(0, 299, 302), (0, 449, 451)]
    rest = Symbol("rest_32nd", (444, 62, 458, 95), 0.3)
    found = image_barlines(binary, staves, [], lines=lines, doubtful=[rest])
    assert [round(0.5 * (b.box[0] + b.box[2])) for b in found] == [300]
    assert len(image_barlines(binary, staves, [], lines=lines)) == 2
    # ... nor through one sure enough to read
    sure = Symbol("rest_quarter", (444, 62, 458, 95), 0.9)
    found = image_barlines(binary, staves, [sure], lines=lines)
    assert [round(0.5 * (b.box[0] + b.box[2])) for b in found] == [300]


def test_a_lone_staff_needs_a_surer_barline_or_a_line_in_the_image():
    from omr.pipeline import confirm_weak_barlines

    lone = [straight_staff(0, x0=40, x1=560, top=60, staff_space=SS, system=0),
            straight_staff(1, x0=40, x1=560, top=200, staff_space=SS, system=1)]
    pair = [straight_staff(0, x0=40, x1=560, top=60, staff_space=SS, system=0),
            straight_staff(1, x0=40, x1=560, top=160, staff_space=SS, system=0)]
    doubtful = Symbol("barline_single", (299, 60, 302, 100), 0.65)
    sure = Symbol("barline_single", (449, 60, 452, 100), 0.9)
    assert confirm_weak_barlines([doubtful, sure], lone, []) == [sure]
    assert confirm_weak_barlines([doubtful, sure], lone, [(0, 299, 301)]) == [doubtful, sure]
    assert confirm_weak_barlines([doubtful, sure], pair, []) == [doubtful, sure]


def test_a_stem_through_the_staff_from_a_note_beyond_it_is_no_missed_barline():
    # staff 0 spans y 60..100; a note on a ledger line below it (y 108..118) has a
    # stem up through the whole staff at x = 450, and a beamed group above the
    # staff (beam at y 30..34) has one down through it at x = 500
    binary, staves, systems, _ = page(crease=False)
    binary[60:113, 449:451] = True      # the stems, on to their note and beam
    binary[32:101, 499:501] = True
    lines = [(0, 299, 302), (0, 449, 451), (0, 499, 501)]
    below = Symbol("notehead_black", (451, 108, 463, 118), 0.9)
    beam = Symbol("beam", (470, 30, 501, 34), 0.9)
    found = image_barlines(binary, staves, [below, beam], lines=lines)
    assert [round(0.5 * (b.box[0] + b.box[2])) for b in found] == [300]
    # a notehead far beyond the staff (another staff's) does not make a line a stem
    far = Symbol("notehead_black", (451, 190, 463, 200), 0.9)
    assert len(image_barlines(binary, staves, [far], lines=lines[:2])) == 2
    # nor one just below a barline that stops at the staff's bottom line
    binary[101:113, 449:451] = False
    assert len(image_barlines(binary, staves, [below], lines=lines[:2])) == 2


def test_a_weak_barline_through_a_clef_is_the_clef_s_stroke():
    from omr.pipeline import confirm_weak_barlines

    binary, staves, systems, _ = page(crease=False)
    lines = [(0, 299, 302), (0, 204, 206)]   # the G clef's upright stroke is a line too
    clef = Symbol("clef_g", (195, 50, 215, 110), 0.76)
    stroke = Symbol("barline_single", (204, 60, 207, 100), 0.36)
    bar = Symbol("barline_single", (299, 60, 302, 100), 0.36)
    assert confirm_weak_barlines([clef, stroke, bar], staves, lines) == [clef, bar]
    # a sure barline is kept even next to a doubtful clef
    sure = Symbol("barline_single", (204, 60, 207, 100), 0.9)
    assert confirm_weak_barlines([Symbol("clef_g", clef.box, 0.3), sure], staves, lines)[1] == sure


def test_a_weak_barline_must_run_through_its_staff():
    from omr.pipeline import confirm_weak_barlines

    binary, staves, systems, _ = page(crease=False)
    lines = [(0, 299, 302)]
    stub = Symbol("barline_repeat_both", (290, 80, 310, 100), 0.36)   # half the staff: a stroke
    whole = Symbol("barline_single", (299, 60, 302, 100), 0.36)
    assert confirm_weak_barlines([stub, whole], staves, lines) == [whole]


def test_a_stem_from_a_note_clear_of_the_staff_confirms_no_weak_barline():
    from omr.pipeline import is_stem

    binary, staves, systems, _ = page(crease=False)
    # staff 0 spans y 60..100; a note 2 staff spaces below it, its stem up through it
    binary[60:121, 449:451] = True
    low = Symbol("notehead_black", (451, 118, 463, 128), 0.9)
    assert is_stem(binary, staves[0], 449, 451, [low], beyond_only=True)
    # a note just under the bottom line, by a barline that stops at the staff, is no
    # reason to doubt that barline
    binary[101:121, 449:451] = False
    by = Symbol("notehead_black", (451, 100, 463, 110), 0.9)
    assert not is_stem(binary, staves[0], 449, 451, [by], beyond_only=True)
    assert is_stem(binary, staves[0], 449, 451, [by])        # but no missed barline is added there


def test_a_time_digit_keeps_the_other_digits_seen_at_its_place():
    four = Symbol("time_4", (288, 75, 306, 96), 0.44)
    lower = Symbol("time_4", (288, 95, 305, 110), 0.55)
    seen = [four, lower, Symbol("time_2", (288, 71, 305, 93), 0.33), Symbol("time_3", (288, 72, 305, 92), 0.31),
            Symbol("notehead_black", (288, 75, 300, 85), 0.3), Symbol("time_8", (600, 75, 618, 96), 0.5)]
    add_alternatives([four, lower], seen)
    assert four.alternatives == ("time_2", "time_3")  # surest first; not the "8" elsewhere
    assert lower.alternatives == ()


def test_a_rest_keeps_the_other_rests_seen_at_its_place():
    eighth = Symbol("rest_8th", (332, 93, 344, 116), 0.42)
    add_alternatives([eighth], [eighth, Symbol("rest_16th", (333, 90, 346, 113), 0.42),
                                Symbol("time_4", (332, 93, 344, 116), 0.3)])
    assert eighth.alternatives == ("rest_16th",)  # a rest's, not a time digit's


def test_a_blurred_half_note_keeps_its_half_reading_far_below_black():
    # blur filled the hollow: black 0.75, half 0.3 (a rest or digit seen so
    # faintly beside its reading keeps none)
    head = Symbol("notehead_black", (300, 90, 312, 100), 0.75)
    rest = Symbol("rest_quarter", (400, 85, 410, 115), 0.75)
    add_alternatives([head, rest], [head, rest, Symbol("notehead_half", (300, 90, 312, 100), 0.3),
                                    Symbol("rest_8th", (400, 85, 410, 115), 0.3)])
    assert head.alternatives == ("notehead_half",)
    assert rest.alternatives == ()


def test_weak_barlines_on_every_staff_of_a_system_confirm_one_another():
    # motion blur: the image shows no line, but each staff has a weak barline at
    # the same x (slanting a little from staff to staff, as in a photo)
    from omr.pipeline import confirm_weak_barlines

    _, staves, _, _ = page(crease=False)
    tops = [60, 160, 320, 420]
    together = [Symbol("barline_single", (400 + 4 * i, tops[i], 403 + 4 * i, tops[i] + 40), 0.4) for i in (0, 1)]
    alone = Symbol("barline_single", (250, tops[2], 253, tops[2] + 40), 0.4)  # its system's other staff has none
    kept = confirm_weak_barlines(together + [alone], staves, [])
    assert kept == together


def test_only_near_ties_are_kept_as_alternatives():
    two = Symbol("time_2", (199, 115, 214, 134), 0.77)
    add_alternatives([two], [two, Symbol("time_3", (199, 115, 214, 134), 0.33)])
    assert two.alternatives == ()  # a sure "2" seen faintly as a "3" too


def test_doubtful_barlines_in_a_column_with_a_weak_one_are_read():
    # motion blur: one staff's barline is weak, the other's too doubtful to read,
    # and no line shows in the image; together they are a barline of the system
    from omr.pipeline import confirm_weak_barlines

    _, staves, _, _ = page(crease=False)
    weak = Symbol("barline_single", (400, 60, 403, 100), 0.45)
    faint = Symbol("barline_single", (404, 160, 407, 200), 0.26)
    stemlike = Symbol("barline_single", (250, 160, 253, 200), 0.3)  # nothing on staff 0 there
    kept = confirm_weak_barlines([weak], staves, [], [faint, stemlike])
    assert kept == [weak, faint]
    # a notehead at its side makes the doubtful one a stem
    head = Symbol("notehead_black", (392, 185, 404, 195), 0.9)
    kept = confirm_weak_barlines([weak, head], staves, [], [faint])
    assert faint not in kept


def test_a_weak_barline_is_kept_where_another_staff_of_its_system_has_a_sure_one():
    """Motion blur leaves no line in the image and the detector unsure on two of
    three staves; one sure barline on another staff of the system backs a weak one,
    unless a notehead touches either or a beam ends at either (a stem)."""
    from omr.pipeline import confirm_weak_barlines

    trio = [straight_staff(i, x0=40, x1=560, top=t, staff_space=SS, system=0)
            for i, t in enumerate((60, 160, 260))]
    weak = Symbol("barline_single", (299, 160, 302, 200), 0.47)
    sure = Symbol("barline_single", (300, 60, 303, 100), 0.64)
    assert confirm_weak_barlines([weak, sure], trio, []) == [weak, sure]
    assert confirm_weak_barlines([weak], trio, []) == []  # nothing backs it
    head = Symbol("notehead_black", (303, 185, 315, 195), 0.9)  # a note at its side
    assert weak not in confirm_weak_barlines([weak, sure, head], trio, [])
    beam = Symbol("beam", (250, 52, 300, 57), 0.8)  # the "sure" one is a beamed stem
    assert weak not in confirm_weak_barlines([weak, sure, beam], trio, [])


def test_an_open_book_is_read_left_page_then_right_page():
    """A photo of two pages side by side (an open book) reads as those two pages in
    order: the same measures and notes as the two pages photographed one by one."""
    from omr.detect.infer import load_model
    from omr.pipeline import transcribe
    from synth.engrave import EngraveOptions, Engraver
    from synth.generate import generate_score

    def engraved(seed):
        image = Engraver(generate_score(seed, n_measures=8).musicxml,
                         EngraveOptions(staff_space_px=12.0)).render_page(1).image
        return image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)

    left, right = engraved(21), engraved(22)
    h = max(left.shape[0], right.shape[0])
    pad = [np.full((h - p.shape[0], p.shape[1], 3), 255, np.uint8) for p in (left, right)]
    fold = np.full((h, 40, 3), 235, np.uint8)
    book = np.hstack([np.vstack([left, pad[0]]), fold, np.vstack([right, pad[1]])])
    model = load_model()
    as_book = transcribe([book], model=model, ocr=False)
    one_by_one = transcribe([left, right], model=model, ocr=False)
    assert as_book.sources == [0, 0] and one_by_one.sources == [0, 1]
    assert any(i.kind == "columns" for i in as_book.report.inferred)
    assert not any(i.kind == "columns" for i in one_by_one.report.inferred)

    def measures(t):
        return [[tuple((float(n.offset), tuple(p.midi for p in n.pitches), float(n.quarterLength))
                       for n in m.notes) for m in part.getElementsByClass("Measure")] for part in t.score.parts]

    book_measures, page_measures = measures(as_book)[0], measures(one_by_one)[0]
    assert len(book_measures) == len(page_measures) >= 12
    # the two photos are scaled a little differently, so a measure or two may read differently
    same = sum(a == b for a, b in zip(book_measures, page_measures))
    assert same >= 0.8 * len(page_measures)
    assert book_measures[-3:] == page_measures[-3:]  # the right page comes last


def test_a_photo_whose_page_analysis_went_wrong_is_read_again_each_way_up(monkeypatch):
    """Where the page analysis is misled (grain spaced like staff lines, a quarter
    turn taken the wrong way, surely) no staves show; the photo is then read again
    with each quarter turn set, instead of failing."""
    import omr.page as page_mod
    from omr.detect.infer import load_model
    from omr.pipeline import transcribe
    from synth.camera import mild_page_photo
    from synth.generate import generate_score

    photo = mild_page_photo(generate_score(5, features=["dots"], n_measures=4).musicxml)
    model = load_model()
    right = transcribe([photo], model=model, ocr=False)
    real_normalize = page_mod.normalize
    asked = []

    def misled(image, *, turned=None, **kw):
        asked.append(turned)
        # the analysis left alone takes the staff lines to run down the page
        return real_normalize(image, turned=True if turned is None else turned, **kw)

    monkeypatch.setattr(page_mod, "normalize", misled)
    again = transcribe([photo], model=model, ocr=False)
    assert asked[0] is None and False in asked
    assert len(again.score.parts[0].getElementsByClass("Measure")) == \
        len(right.score.parts[0].getElementsByClass("Measure")) >= 4


def test_a_photo_with_small_staves_says_a_closer_one_reads_better():
    """Staff lines under SMALL_STAFF_SPACE_PX apart in the photo: the report says a
    closer photo, or one sent as a file, reads better; at a good size it says nothing."""
    import cv2

    from omr.detect.infer import load_model
    from omr.pipeline import SMALL_STAFF_SPACE_PX, transcribe
    from synth.camera import mild_page_photo
    from synth.generate import generate_score

    photo = mild_page_photo(generate_score(5, features=["dots"], n_measures=4).musicxml)
    model = load_model()
    big = transcribe([photo], model=model, ocr=False)
    assert big.detections[0].staff_space >= SMALL_STAFF_SPACE_PX
    assert not any(w.kind == "small_staves" for w in big.report.warnings)
    f = 0.8 * SMALL_STAFF_SPACE_PX / big.detections[0].staff_space
    small = cv2.resize(photo, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    read = transcribe([small], model=model, ocr=False)
    warned = [w for w in read.report.warnings if w.kind == "small_staves"]
    assert len(warned) == 1 and "closer" in warned[0].detail and warned[0].page == 1


def clef_page(mark: str = ""):
    """A staff (top line y = 100, 10 px per space) starting with a G clef drawn as a
    stroke from 1.4 spaces above the top line to 1.6 below the bottom line, box
    x 50..76, and ``mark``: "below"/"above" an 8 (a blob a space wide) under its
    tail or over its top right of its middle, "number" a measure number above its
    left end, "words" a line of text under it."""
    staff = straight_staff(0, x0=40, x1=560, top=100, staff_space=SS)
    binary = np.zeros((260, 600), bool)
    for k in range(5):
        binary[100 + int(k * SS), 40:560] = True
    binary[86:157, 60:66] = True                # the clef's stroke: y 86..156
    if mark == "below":
        binary[159:170, 57:67] = True           # 8: y 159..169 (1.9 to 2.9 spaces below)
    if mark == "above":
        binary[72:84, 64:73] = True             # 8: y 72..83, right of the middle (63)
    if mark == "number":
        binary[72:84, 42:60] = True             # "12" above the staff's start
    if mark == "words":
        binary[159:170, 30:140] = True          # a word under the clef
    return binary, staff, Symbol("clef_g", (50, 86, 76, 157), 0.8)


def test_an_8_under_a_g_clef_makes_it_a_treble_8_clef_whatever_the_detector_said():
    for mark, seen in (("below", "clef_g_8vb"), ("above", "clef_g_8va"), ("", "clef_g")):
        for said in ("clef_g", "clef_g_8vb", "clef_g_8va"):
            binary, staff, clef = clef_page(mark)
            clef.cls = said
            read_octave_marks([clef], binary, [staff])
            assert clef.cls == seen, (mark, said)
            assert clef.alternatives == (() if said == seen else (said,))


def test_a_measure_number_or_words_by_a_g_clef_are_no_octave_mark():
    # the side they are on cannot tell, so there the detector's reading stays; the
    # other side shows the plain clef's end
    for mark, unclear in (("number", "clef_g_8va"), ("words", "clef_g_8vb")):
        for said in ("clef_g", "clef_g_8vb", "clef_g_8va"):
            binary, staff, clef = clef_page(mark)
            clef.cls = said
            read_octave_marks([clef], binary, [staff])
            assert clef.cls == (said if said == unclear else "clef_g"), (mark, said)


def test_ink_in_the_half_of_the_gap_nearer_the_next_staff_tells_nothing():
    # an 8 above a clef whose staff has another 4 spaces above it: the ink comes
    # into that staff's half of the gap (its clef's tail may reach down there)
    for said in ("clef_g", "clef_g_8va"):
        binary, staff, clef = clef_page("above")
        for k in range(5):
            binary[20 + int(k * SS), 40:560] = True
        above = straight_staff(1, x0=40, x1=560, top=20, staff_space=SS)
        clef.cls = said
        read_octave_marks([clef], binary, [staff, above])
        assert clef.cls == said
        read_octave_marks([clef], binary, [staff])  # alone on its page, it is an 8
        assert clef.cls == "clef_g_8va"


def arpeggio_page():
    """The two-staff system of :func:`page` (barline at x = 300) with, on the upper
    staff, an arpeggio's wavy line at x = 400 from the second line to a space below
    the staff (the chord it rolls is read as a barline too), and on the lower staff
    a faint barline at x = 500 whose top half the binarization lost."""
    binary, staves, _, bars = page(crease=False)
    for y in range(70, 111):                    # zigzag: 2 px wide, swinging 3 px
        x = 399 + (y // 3) % 3
        binary[y, x:x + 2] = True
    binary[180:201, 500:502] = True             # the barline's lower half only
    arpeggio = Symbol("barline_single", (398, 70, 404, 110), 0.8)
    faint = [Symbol("barline_single", (499, 60, 502, 100), 0.6),    # upper staff: whole
             Symbol("barline_single", (499, 180, 502, 200), 0.6)]   # lower: half of it seen
    binary[60:101, 500:502] = True
    return binary, staves, bars[:2], arpeggio, faint


def test_a_barline_that_leaves_its_staff_open_is_an_arpeggio():
    from omr.pipeline import drop_open_barlines

    binary, staves, bars, arpeggio, _ = arpeggio_page()
    assert drop_open_barlines(bars + [arpeggio], binary, staves) == bars
    # drawn through the whole staff, the same box is a barline
    binary[60:70, 400:402] = True
    assert drop_open_barlines(bars + [arpeggio], binary, staves) == bars + [arpeggio]


def test_a_barline_left_open_is_kept_where_the_other_staff_has_one_at_its_x():
    from omr.pipeline import drop_open_barlines

    binary, staves, bars, _, faint = arpeggio_page()
    assert drop_open_barlines(bars + faint, binary, staves) == bars + faint
    assert drop_open_barlines(bars + faint[1:], binary, staves) == bars


@pytest.mark.parametrize("surer, weaker, elsewhere, sure", [
    # a sixteenth's short beam, read as a half rest too (both are filled bars)
    (Symbol("beam", (424, 358, 449, 372), 0.82), ("rest_half", 0.36),
     Symbol("rest_half", (500, 358, 525, 372), 0.36), ("rest_whole", 0.9)),
    # a slurred run of eighths with a staccato dot over each head: the detector
    # scored the dot over the third head as an augmentation dot of the second too
    (Symbol("artic_staccato", (443, 184, 447, 188), 0.85), ("augmentation_dot", 0.52),
     Symbol("augmentation_dot", (520, 190, 524, 194), 0.8), ("augmentation_dot", 0.9)),
], ids=["rest_on_beam", "dot_on_staccato"])
def test_a_symbol_at_the_place_of_a_surer_one_it_yields_to_is_that_one(surer, weaker, elsewhere, sure):
    at_its_place = Symbol(weaker[0], surer.box, weaker[1])
    assert suppress_duplicates([surer, at_its_place, elsewhere]) == [surer, elsewhere]
    # one surer than the symbol seen at its place stays
    surest = Symbol(sure[0], surer.box, sure[1])
    assert suppress_duplicates([surer, surest]) == [surer, surest]


def test_a_rest_boxed_whole_and_again_in_part_is_one_rest():
    # a blurred 64th rest (y 434..490) whose lower hooks the detector boxed again as
    # a 16th rest, more surely: one rest, the 16th with the 64th as its alternative
    whole = Symbol("rest_64th", (692.0, 434.0, 709.0, 490.0), 0.48)
    part = Symbol("rest_16th", (690.0, 455.0, 705.0, 488.0), 0.54)
    kept = suppress_duplicates([whole, part])
    assert kept == [part]
    add_alternatives(kept, [whole, part])
    assert part.alternatives == ("rest_64th",)
    # two rests one over the other (two voices) stay two
    upper = Symbol("rest_quarter", (700.0, 400.0, 710.0, 430.0), 0.9)
    lower = Symbol("rest_quarter", (700.0, 440.0, 710.0, 470.0), 0.9)
    assert suppress_duplicates([upper, lower]) == [upper, lower]


def test_a_dot_inside_an_accidental_is_a_part_of_it():
    """The example photo: the foot of a natural read as an augmentation dot, more
    surely (0.63) than the natural (0.59): the 16th before it read as dotted."""
    natural = Symbol("accidental_natural", (750.0, 752.0, 759.0, 774.0), 0.59)
    foot = Symbol("augmentation_dot", (752.0, 768.0, 757.0, 772.0), 0.63)
    assert suppress_duplicates([natural, foot]) == [natural]
    # a dot beside the sign stays (a dotted note before an accidental)
    beside = Symbol("augmentation_dot", (744.0, 760.0, 749.0, 764.0), 0.63)
    assert suppress_duplicates([natural, beside]) == [natural, beside]


def test_a_flag_keeps_the_other_flag_read_nearly_as_surely_at_its_place():
    eighth = Symbol("flag_8th", (712.0, 530.0, 724.0, 555.0), 0.52)
    sixteenth = Symbol("flag_16th", (711.0, 523.0, 724.0, 552.0), 0.35)
    thirty_second = Symbol("flag_32nd", (712.0, 530.0, 724.0, 555.0), 0.2)   # under 0.6 of 0.52
    add_alternatives([eighth], [eighth, sixteenth, thirty_second])
    assert eighth.alternatives == ("flag_16th",)


def test_faint_flags_are_offered_as_doubtful_unless_a_sure_flag_is_there():
    sure = Symbol("flag_8th", (300, 100, 310, 133), 0.8)
    faint = Symbol("flag_8th", (400, 100, 410, 133), 0.28)
    also = Symbol("flag_16th", (300, 101, 310, 134), 0.3)   # the sure flag seen as a 16th's
    head = Symbol("notehead_black", (500, 100, 511, 110), 0.3)
    offered = doubtful_flags([faint, also, head], [sure])
    assert [(s.cls, s.box, s.doubtful) for s in offered] == [("flag_8th", faint.box, True)]
    assert not faint.doubtful  # the detector's symbol is left as it was


def test_a_faint_tuplet_number_is_offered_as_doubtful_where_nothing_surer_was_seen_there():
    """A "3" over a Webern song's triplet, in a shadow: seen as a tuplet number at
    0.32 and as a fingering digit at 0.29, both under PARSE_THRESHOLD."""
    faint = Symbol("tuplet_number", (486.0, 366.0, 497.0, 379.0), 0.32)
    finger = Symbol("fingering", (486.0, 366.0, 497.0, 380.0), 0.29)
    offered = doubtful_tuplet_numbers([faint, finger], [])
    assert [(s.cls, s.box, s.doubtful) for s in offered] == [("tuplet_number", faint.box, True)]
    assert not faint.doubtful  # the detector's symbol is left as it was
    # a surer doubtful reading at its place, or a symbol read there: not offered
    assert doubtful_tuplet_numbers([faint, Symbol("fingering", finger.box, 0.34)], []) == []
    assert doubtful_tuplet_numbers([faint], [Symbol("dynamic_p", finger.box, 0.6)]) == []


def test_a_faint_accidental_whose_score_the_detector_split_over_accidental_classes_is_read():
    """The example photo: a natural beside a chord's lowest note (bass, measure 13),
    seen as a natural at 0.35 (just under PARSE_THRESHOLD), a key natural at 0.34, a
    key sharp at 0.18, a 16th rest at 0.23. Together the accidental readings vouch
    for a sign; the surest sign is read. Not where it alone is seen, not where a
    surer reading of something else is there, not on a symbol that was read, not
    where the glyph is too short for a sign (a fingering "0" read as a natural)."""
    box = (270.0, 1100.0, 277.0, 1125.0)   # normalized px, 10 px a staff space
    natural = Symbol("accidental_natural", box, 0.349)
    key_natural = Symbol("key_natural", box, 0.34)
    key_sharp = Symbol("key_sharp", box, 0.18)
    rest = Symbol("rest_16th", box, 0.23)
    head = Symbol("notehead_black", (285.0, 1108.0, 296.0, 1118.0), 0.89)
    assert accidentals_seen_split([natural, key_natural, key_sharp, rest], [head], staff_space=SS) == [natural]
    # the natural alone, or with only a rest seen there: too little
    assert accidentals_seen_split([natural, rest], [head], staff_space=SS) == []
    # a surer reading of another kind at its place
    fainter = Symbol("accidental_natural", box, 0.3)
    assert accidentals_seen_split([fainter, key_natural, Symbol("rest_16th", box, 0.29)], [head],
                                  staff_space=SS) == [fainter]
    assert accidentals_seen_split([fainter, key_natural, Symbol("rest_16th", box, 0.31)], [head],
                                  staff_space=SS) == []
    # a symbol read at its place
    assert accidentals_seen_split([natural, key_natural], [Symbol("accidental_sharp", box, 0.5)],
                                  staff_space=SS) == []
    # a fingering "0", 1.2 staff spaces tall, read as a natural and a double sharp
    zero = (270.0, 1100.0, 279.0, 1112.0)
    assert accidentals_seen_split([Symbol("accidental_natural", zero, 0.3), Symbol("accidental_double_sharp", zero, 0.3)],
                                  [head], staff_space=SS) == []


def test_a_faint_notehead_at_a_stem_no_read_notehead_touches_is_read():
    """A blurred half note on a photo a messaging app shrank: its head seen as black
    at 0.33 and as half at 0.31 (both under PARSE_THRESHOLD), its stem at 0.83. The
    stem vouches for the surer reading. A stem whose head was read lends nothing to
    a faint head beside it, nor does a stem to a faint head clear of its ends."""
    stem = Symbol("stem", (110.0, 105.0, 112.0, 140.0), 0.83)
    black = Symbol("notehead_black", (99.0, 100.0, 111.0, 110.0), 0.33)
    half = Symbol("notehead_half", (99.0, 100.0, 111.0, 110.0), 0.31)
    assert heads_at_bare_stems([stem], [half, black], staff_space=SS) == [black]
    # a read notehead at the stem's other end
    read = Symbol("notehead_black", (111.0, 135.0, 123.0, 145.0), 0.9)
    assert heads_at_bare_stems([stem, read], [half, black], staff_space=SS) == []
    # a faint head two staff spaces above the stem's top is no head of it
    high = Symbol("notehead_black", (99.0, 80.0, 111.0, 90.0), 0.33)
    assert heads_at_bare_stems([stem], [high], staff_space=SS) == []
    # nor one well beside it
    beside = Symbol("notehead_black", (125.0, 100.0, 137.0, 110.0), 0.33)
    assert heads_at_bare_stems([stem], [beside], staff_space=SS) == []


def test_a_dot_at_the_end_of_a_ledger_line_through_a_note_is_no_dot():
    # a note on the first ledger line below a staff (top line y = 100), the ledger
    # line running on 0.8 spaces right of the head, where the detector saw a dot;
    # and a dotted note in the space below it, whose dot the paper parts from the head
    from omr.pipeline import drop_ledger_stub_dots

    staff = straight_staff(0, x0=40, x1=560, top=100, staff_space=SS)
    ink = np.zeros((260, 600), bool)             # staff lines removed; ledgers stay
    ink[160, 196:222] = True                     # ledger line at y 160, x 196..221
    ink[156:165, 200:213] = True                 # the notehead on it
    on_line = Symbol("notehead_black", (200, 155, 213, 165), 0.9)
    stub = Symbol("augmentation_dot", (216, 158, 221, 163), 0.7)
    ink[161:170, 300:313] = True                 # a note in the space below it
    ink[164:167, 316:319] = True                 # and its dot
    in_space = Symbol("notehead_black", (300, 160, 313, 170), 0.9)
    dot = Symbol("augmentation_dot", (315, 163, 320, 168), 0.7)
    symbols = [on_line, stub, in_space, dot]
    assert drop_ledger_stub_dots(symbols, ink, [staff]) == [on_line, in_space, dot]
    # a dot on the line's place but parted from the head by paper stays
    ink[160, 214] = False
    assert drop_ledger_stub_dots(symbols, ink, [staff]) == symbols


def test_a_dot_that_a_detected_ledger_line_reaches_is_on_its_place():
    """oemer_wind2 (a real photo): a ledger line's end beside a chord's top note, read
    as a dot (0.42), sat 0.3 half spaces off the ledger line's place as the staff's
    lines have it (their spacing a little off, three lines out): it stayed and made
    the chord dotted. The detector's own ledger line reaches the dot."""
    from omr.pipeline import drop_ledger_stub_dots

    staff = straight_staff(0, x0=40, x1=560, top=100, staff_space=SS)
    ink = np.zeros((260, 600), bool)
    ink[157, 196:222] = True                     # the ledger line, 3 px off its place (y 160)
    ink[152:162, 200:213] = True                 # the notehead on it
    head = Symbol("notehead_black", (200, 152, 213, 162), 0.9)
    stub = Symbol("augmentation_dot", (216, 155, 221, 160), 0.42)
    assert drop_ledger_stub_dots([head, stub], ink, [staff]) == [head, stub]  # by the staff's lines alone
    ledger = Symbol("ledger_line", (196, 156, 222, 159), 0.8)
    assert drop_ledger_stub_dots([head, stub, ledger], ink, [staff]) == [head, ledger]
    # a dot in the space beside a ledger line is no line's end
    ink[166:170, 216:221] = True
    dot = Symbol("augmentation_dot", (216, 165, 221, 170), 0.7)
    assert dot in drop_ledger_stub_dots([head, dot, ledger], ink, [staff])


def test_a_ledger_line_end_between_two_staves_is_no_dot_on_either_staffs_lines():
    # a bass note on the second ledger line below its staff (y = 160), nearer the
    # middle of the staff below, whose lines' places fall elsewhere (its top line
    # at y = 175: the ledger line's place is a space of that staff's)
    from omr.pipeline import drop_ledger_stub_dots

    upper = straight_staff(0, x0=40, x1=560, top=100, staff_space=SS)
    lower = straight_staff(1, x0=40, x1=560, top=175, staff_space=SS)
    ink = np.zeros((260, 600), bool)
    ink[[150, 160], 190:222] = True              # two ledger lines, x 190..221
    ink[156:165, 200:213] = True                 # the notehead on the second
    head = Symbol("notehead_black", (200, 155, 213, 165), 0.9)
    stub = Symbol("augmentation_dot", (216, 158, 221, 163), 0.5)
    assert drop_ledger_stub_dots([head, stub], ink, [upper, lower]) == [head]
    # by the lower staff's lines alone, the ledger line's place is a space
    assert drop_ledger_stub_dots([head, stub], ink, [lower]) == [head, stub]
    # a dotted note in a space of the lower staff (the upper's line place), its dot
    # touching it: no line runs out left of the head, so the dot stays
    ink[156:165, 300:313] = True
    ink[158:163, 313:318] = True
    dotted = Symbol("notehead_black", (300, 155, 313, 165), 0.9)
    dot = Symbol("augmentation_dot", (313, 158, 318, 163), 0.7)
    assert drop_ledger_stub_dots([dotted, dot], ink, [upper, lower]) == [dotted, dot]
    # ... nor where a flat, blurred on to the head, stands left of it: taller than a line
    ink[144:166, 290:300] = True
    assert drop_ledger_stub_dots([dotted, dot], ink, [upper, lower]) == [dotted, dot]


def test_a_key_accidental_in_parentheses_is_a_courtesy_accidental():
    """A "(#)" right after a system's clef read as a key sharp is read as a sharp on
    its note (a key is never printed in parentheses); where the detector saw that
    sharp too, the surer reading stays, once. A key sharp with a parenthesis on one
    side only, or with parentheses too far off or at another height, stays a key."""
    ss = 10.0
    sharp = (40.0, 20.0, 50.0, 45.0)
    key = Symbol("key_sharp", sharp, 0.4)
    left = Symbol("accidental_paren", (35.0, 24.0, 39.0, 42.0), 0.6)
    right = Symbol("accidental_paren", (51.0, 24.0, 55.0, 42.0), 0.3)
    read = parenthesised_keys_as_accidentals([key, left], [left, right, key], staff_space=ss)
    assert read == [Symbol("accidental_sharp", sharp, 0.4), left]
    accidental = Symbol("accidental_sharp", sharp, 0.7)
    both = parenthesised_keys_as_accidentals([key, accidental], [left, right], staff_space=ss)
    assert suppress_duplicates(both) == [accidental]
    assert parenthesised_keys_as_accidentals([key], [left], staff_space=ss) == [key]
    far = Symbol("accidental_paren", (51.0 + 0.6 * ss, 24.0, 55.0 + 0.6 * ss, 42.0), 0.6)
    assert parenthesised_keys_as_accidentals([key], [left, far], staff_space=ss) == [key]
    lower = Symbol("accidental_paren", (51.0, 40.0, 55.0, 58.0), 0.6)
    assert parenthesised_keys_as_accidentals([key], [left, lower], staff_space=ss) == [key]


def test_a_time_digit_read_as_a_whole_note_is_the_digit_where_another_stands_under_it():
    """A blurred "2" over a "4" read as a whole note (the detector saw a "9" and a
    "2" there too, doubtfully): with a time digit right under it, it is the surer
    digit, the other kept as its alternative (the measures settle them). A whole
    note the detector also took for a "6" stays a note where no digit is stacked
    on it, and so does one with the digit beside it rather than under it."""
    ss = 10.0
    upper, lower = (100.0, 100.0, 116.0, 120.0), (100.0, 120.0, 116.0, 140.0)
    head = Symbol("notehead_whole", (100.0, 102.0, 116.0, 118.0), 0.45)
    nine = Symbol("time_9", upper, 0.30)
    two = Symbol("time_2", upper, 0.25)
    four = Symbol("time_4", lower, 0.27)
    read = time_digits_read_as_notes([head], [head, two, nine, four], staff_space=ss)
    assert read == [Symbol("time_9", upper, 0.45, alternatives=("time_2",))]
    assert time_digits_read_as_notes([head], [head, nine], staff_space=ss) == [head]
    beside = Symbol("time_4", (140.0, 100.0, 156.0, 120.0), 0.8)
    assert time_digits_read_as_notes([head], [head, nine, beside], staff_space=ss) == [head]


def f_clef_page(dots: tuple[int, int] | None):
    """A grey staff (top line y = 100, 10 px per space, so position p lies at
    y = 140 - 5p) with an F clef's body at x 50..68 and, at ``dots`` (two staff
    positions), its two dots at x 72; the clef's box y 92..125 has its centre at
    position 6.3, which the parser reads as a bass clef."""
    import cv2

    staff = straight_staff(0, x0=40, x1=560, top=100, staff_space=SS)
    grey = np.full((240, 600), 235, np.uint8)
    for k in range(5):
        grey[100 + int(k * SS), 40:560] = 30
    cv2.ellipse(grey, (58, 104), (9, 8), 0, 0, 360, 20, -1)   # the body's head
    grey[104:124, 60:66] = 20                                  # ... and its tail
    for p in dots or ():
        cv2.circle(grey, (72, 140 - 5 * p), 2, 20, -1)
    grey = cv2.GaussianBlur(grey, (3, 3), 0.8)
    return grey, staff, Symbol("clef_f", (48, 92, 76, 125), 0.8)


def test_an_f_clef_stands_on_the_line_its_dots_straddle():
    from omr.graph import build_graph
    from omr.notation.pitch import clef_for

    def line_read(dots):
        grey, staff, clef = f_clef_page(dots)
        read_f_clef_lines([clef], grey, [staff])
        g = build_graph([clef], [staff], [[0]])
        node = next(n for n in g.nodes if n.cls == "clef_f")
        return clef_for(node.cls, node.position).line, clef.box

    assert line_read((7, 9))[0] == 5    # a sub-bass clef: dots above and below the top line
    assert line_read((3, 5))[0] == 3    # a baritone clef
    line, box = line_read((5, 7))       # a bass clef: as the box said, the box unmoved
    assert line == 4 and box == (48, 92, 76, 125)
    line, box = line_read(None)         # no dots to be seen: the box decides
    assert line == 4 and box == (48, 92, 76, 125)


def test_a_notehead_and_a_ledger_line_on_a_rest_count_are_part_of_it():
    """--extras 000004-p1: the "4" over a rest of four measures was read as a notehead
    (0.45, half inside the count's box at 0.59) and a ledger line (0.56, the count's
    box): a quarter note in a measure that holds none."""
    count = Symbol("rest_multi_number", (1037.0, 138.0, 1055.0, 153.0), 0.59)
    head = Symbol("notehead_black", (1039.0, 134.0, 1051.0, 145.0), 0.45)
    ledger = Symbol("ledger_line", count.box, 0.56)
    bar = Symbol("rest_multi", (1042.0, 169.0, 1051.0, 188.0), 0.51)
    assert suppress_duplicates([count, head, ledger, bar]) == [count, bar]
    # a surer notehead, or one mostly outside the count, stays
    sure = Symbol("notehead_black", head.box, 0.7)
    assert sure in suppress_duplicates([count, sure])
    beside = Symbol("notehead_black", (1049.0, 134.0, 1061.0, 145.0), 0.45)
    assert beside in suppress_duplicates([count, beside])


def test_a_rest_count_is_read_from_the_time_digits_seen_in_its_box():
    """The count of a multi-measure rest is printed in time signature digits: without
    OCR (or where OCR read nothing) the detector's digits there give it, so the rest
    stands for that many measures, not one."""
    count = Symbol("rest_multi_number", (1037.0, 138.0, 1055.0, 153.0), 0.59)
    four = Symbol("time_4", count.box, 0.4)
    also_one = Symbol("time_1", count.box, 0.25)  # a weaker reading of the same digit
    elsewhere = Symbol("time_3", (900.0, 138.0, 915.0, 153.0), 0.9)  # a time signature
    read_rest_counts([count], [also_one, elsewhere, four])
    assert count.text == "4"
    twelve = Symbol("rest_multi_number", (100.0, 0.0, 130.0, 20.0), 0.8)
    read_rest_counts([twelve], [Symbol("time_2", (116.0, 1.0, 128.0, 19.0), 0.5),
                                Symbol("time_1", (102.0, 1.0, 114.0, 19.0), 0.6)])
    assert twelve.text == "12"
    # what OCR read stands; no digit seen leaves the count unread (one measure)
    ocr = Symbol("rest_multi_number", count.box, 0.59, text="6")
    read_rest_counts([ocr], [four])
    assert ocr.text == "6"
    bare = Symbol("rest_multi_number", count.box, 0.59)
    read_rest_counts([bare], [elsewhere])
    assert bare.text == ""


def test_a_head_much_smaller_than_its_staffs_others_is_read_as_a_cue_head():
    """A grace note's head is about 0.75 of a full-size one across and high; the
    network often scores it as a full-size black head, which then counts in the
    measure. Against the median black head of its staff it reads as a cue head (a
    grace note), the full-size reading kept as its first alternative."""
    staves = [straight_staff(0, x0=40, x1=560, top=60, staff_space=SS),
              straight_staff(1, x0=40, x1=560, top=200, staff_space=SS)]

    def head(x: float, y: float, w: float = 12.5, h: float = 10.5) -> Symbol:
        return Symbol("notehead_black", (x, y - h / 2, x + w, y + h / 2), 0.8)

    full = [head(60 + 40 * k, 80) for k in range(8)]
    grace = head(380, 85, w=9.5, h=8.0)
    tall = head(420, 85, w=9.5, h=11.0)        # narrow but full height: a head half hidden
    at_side = head(582, 90, w=9.5, h=8.0)      # within 1.5 staff spaces of the image's side
    few = [head(60 + 40 * k, 220) for k in range(3)] + [head(300, 225, w=9.5, h=8.0)]
    symbols = full + [grace, tall, at_side] + few
    cue_sized_heads(symbols, staves, 600)
    assert grace.cls == "notehead_black_cue" and grace.alternatives[0] == "notehead_black"
    assert all(s.cls == "notehead_black" for s in full + [tall, at_side] + few)  # few: no median to go by

