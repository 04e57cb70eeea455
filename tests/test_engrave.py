"""synth.engrave (with synth.svg_boxes, synth.text_fonts and synth.unfold, the modules
it is split into): boxes hug the printed ink, classes come from the vocabulary, the
unfolded note list follows repeats / endings / D.C. / D.S., errors are clear.

The scores are small MusicXML texts written here by hand, so every expected number
can be checked by reading the score.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from omr import vocab
from synth import engrave as E
from synth import svg_boxes, text_fonts, unfold

# ------------------------------------------------------------------ MusicXML helpers

DIV = 2  # divisions per quarter note: an eighth is 1
TYPES = {1: "eighth", 2: "quarter", 3: "quarter", 4: "half", 6: "half", 8: "whole"}


def note(pitch="C4", dur=2, *, alter=None, accidental=None, dot=None, chord=False,
         extra="", notations="", lyric=None, typ=None, beam=None, time_mod=None, tie=None,
         voice=1, staff=None):
    """One <note>; pitch like "F#5" or "R" for a rest."""
    if pitch == "R":
        body = "<rest/>"
    else:
        step, rest = pitch[0], pitch[1:]
        if rest.startswith(("#", "b")):
            alter = 1 if rest[0] == "#" else -1
            rest = rest[1:]
        alt = f"<alter>{alter}</alter>" if alter else ""
        body = f"<pitch><step>{step}</step>{alt}<octave>{rest}</octave></pitch>"
    dot = dur in (3, 6) if dot is None else dot
    ties = "".join(f'<tie type="{t}"/>' for t in (tie or ()))
    tied = "".join(f'<tied type="{t}"/>' for t in (tie or ()))
    xml = f"<note>{'<chord/>' if chord else ''}{body}<duration>{dur}</duration>{ties}"
    xml += f"<voice>{voice}</voice><type>{typ or TYPES.get(dur, 'quarter')}</type>"
    xml += "<dot/>" if dot else ""
    if accidental:
        xml += f"<accidental>{accidental}</accidental>"
    if time_mod:
        xml += (f"<time-modification><actual-notes>{time_mod[0]}</actual-notes>"
                f"<normal-notes>{time_mod[1]}</normal-notes></time-modification>")
    if staff:
        xml += f"<staff>{staff}</staff>"
    if beam:
        xml += f'<beam number="1">{beam}</beam>'
    if notations or tied:
        xml += f"<notations>{tied}{notations}</notations>"
    if lyric:
        syl, text = lyric
        xml += f'<lyric number="1"><syllabic>{syl}</syllabic><text>{text}</text></lyric>'
    return xml + extra + "</note>"


def measure(number, *content, attributes="", left="", right=""):
    return (f'<measure number="{number}">{left}'
            + (f"<attributes>{attributes}</attributes>" if attributes else "")
            + "".join(content) + right + "</measure>")


def attributes(fifths=0, beats=4, beat_type=4, clef=("G", 2), divisions=DIV):
    return (f"<divisions>{divisions}</divisions><key><fifths>{fifths}</fifths></key>"
            f"<time><beats>{beats}</beats><beat-type>{beat_type}</beat-type></time>"
            f"<clef><sign>{clef[0]}</sign><line>{clef[1]}</line></clef>")


def score(*measures_xml, title="Test", parts=None):
    parts = parts or [("P1", "Voice", measures_xml)]
    plist = "".join(f'<score-part id="{pid}"><part-name>{name}</part-name></score-part>'
                    for pid, name, _ in parts)
    body = "".join(f'<part id="{pid}">{"".join(ms)}</part>' for pid, _, ms in parts)
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<score-partwise version="4.0">'
            f"<work><work-title>{title}</work-title></work>"
            f"<part-list>{plist}</part-list>{body}</score-partwise>")


def direction(inner, sound="", placement="above"):
    return (f'<direction placement="{placement}"><direction-type>{inner}</direction-type>'
            f"{sound}</direction>")


def barline(location, style=None, repeat=None, ending=None):
    xml = f'<barline location="{location}">'
    if style:
        xml += f"<bar-style>{style}</bar-style>"
    if ending:
        number, kind = ending
        xml += f'<ending number="{number}" type="{kind}">{number}.</ending>' if kind == "start" \
            else f'<ending number="{number}" type="{kind}"/>'
    if repeat:
        xml += f'<repeat direction="{repeat}"/>'
    return xml + "</barline>"


def whole(pitch, number, **kw):
    return measure(number, note(pitch, 8), **kw)


# ------------------------------------------------------------------ the scores

RICH = score(
    measure(1,
            direction("<metronome><beat-unit>quarter</beat-unit>"
                      "<per-minute>120</per-minute></metronome>", '<sound tempo="120"/>'),
            direction("<dynamics><p/></dynamics>", placement="below"),
            note("F#5", 3, lyric=("begin", "Hel")),
            note("G5", 1, lyric=("end", "lo")),
            note("A5", 2, tie=("start",)),
            note("A5", 2, tie=("stop",)),
            attributes=attributes(fifths=2)),
    measure(2,
            note("C6", 1, alter=1, beam="begin", time_mod=(3, 2), typ="eighth",
                 notations='<tuplet type="start" bracket="no"/><slur type="start"/>'),
            note("B5", 1, beam="continue", time_mod=(3, 2), typ="eighth"),
            note("A5", 1, beam="end", time_mod=(3, 2), typ="eighth",
                 notations='<tuplet type="stop"/><slur type="stop"/>'),
            note("D5", 1, beam="begin"), note("E5", 1, beam="end"),
            note("G#4", 2, accidental="sharp"),
            note("R", 2)),
    measure(3, note("R", 4), note("R", 2), note("R", 1), note("B4", 1),
            right=barline("right", "light-heavy")),
)


def test_rich_score_classes_and_boxes():
    e = E.engrave(RICH, E.EngraveOptions(font="Leipzig", staff_space_px=24))
    assert e.page_count == 1 and len(e.pages) == 1
    page = e.pages[0]
    classes = {s.cls for s in page.symbols}
    assert classes <= set(vocab.NAMES)
    expected = {"notehead_black", "stem", "beam", "flag_8th", "augmentation_dot",
                "accidental_sharp", "key_sharp", "clef_g", "time_4", "tie", "slur",
                "tuplet_number", "lyric_syllable", "lyric_hyphen", "rest_quarter", "rest_half",
                "rest_8th", "barline_final", "staff", "system", "dynamic_p", "ledger_line",
                "tempo_text", "credit_text"}
    assert expected <= classes, expected - classes
    h, w = page.image.shape
    for s in page.symbols:
        x0, y0, x1, y1 = s.box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, s
    counts = {c: sum(s.cls == c for s in page.symbols) for c in classes}
    assert counts["key_sharp"] == 2  # one box per key-signature accidental
    assert counts["time_4"] == 2  # one box per time-signature digit
    assert counts["lyric_syllable"] == 2
    assert counts["augmentation_dot"] == 1
    # the metronome mark's note is a music-font character: it must be printed
    tempo = next(s for s in page.symbols if s.cls == "tempo_text")
    x0, y0, x1, y1 = (int(round(v)) for v in tempo.box)
    left = page.image[y0:y1, x0:x0 + (x1 - x0) // 4]
    assert (left < 128).sum() > 20, "the tempo's note glyph is not drawn"
    dyn = next(s for s in page.symbols if s.cls == "dynamic_p")
    assert dyn.text == "p"
    syllables = sorted((s.box[0], s.text) for s in page.symbols if s.cls == "lyric_syllable")
    assert [t for _, t in syllables] == ["Hel", "lo"]


def _ink_bbox(image, box, threshold=200):
    x0, y0, x1, y1 = box
    X0, Y0 = int(np.floor(x0)), int(np.floor(y0))
    X1, Y1 = int(np.ceil(x1)), int(np.ceil(y1))
    ys, xs = np.nonzero(image[Y0:Y1, X0:X1] < threshold)
    if len(xs) == 0:
        return None
    return (X0 + xs.min(), Y0 + ys.min(), X0 + xs.max() + 1, Y0 + ys.max() + 1)


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


GLYPH_CLASSES = ("notehead_black", "notehead_half", "notehead_whole", "rest_quarter",
                 "rest_half", "rest_8th", "rest_whole", "accidental_sharp",
                 "accidental_flat", "accidental_natural", "clef_g", "clef_f", "key_sharp",
                 "key_flat", "augmentation_dot", "time_4", "time_3", "flag_8th",
                 "barline_single", "barline_final", "lyric_syllable", "dynamic_f")

SMALL = score(
    measure(1, direction("<dynamics><f/></dynamics>", placement="below"),
            note("E5", 3, lyric=("single", "Ah")), note("D5", 1, lyric=("single", "my")),
            note("Bb4", 2, accidental="flat", lyric=("single", "dear")),
            note("B4", 2, accidental="natural", lyric=("single", "Tom")),
            attributes=attributes(fifths=-1, beats=3, beat_type=2)),
    measure(2, note("C#5", 4, accidental="sharp"), note("R", 2), note("R", 1), note("F5", 1),
            note("A4", 4)),
    measure(3, note("R", 8), note("R", 4)),
    measure(4, note("G4", 12, typ="whole", dot=True), right=barline("right", "light-heavy")),
)


@pytest.mark.parametrize("font", text_fonts.FONTS)
def test_glyph_boxes_hug_the_ink(font):
    """Every glyph box holds ink, and the ink inside it fills it (IoU of the ink's
    bounding box with the box); and no printed pixel is left outside all boxes."""
    e = E.engrave(SMALL, E.EngraveOptions(font=font, staff_space_px=30))
    page = e.pages[0]
    image = page.image
    seen = set()
    for s in page.symbols:
        if s.cls not in GLYPH_CLASSES:
            continue
        ink = _ink_bbox(image, s.box)
        assert ink is not None, f"{font}: empty box {s}"
        footprint = (np.floor(s.box[0]), np.floor(s.box[1]), np.ceil(s.box[2]), np.ceil(s.box[3]))
        assert _iou(ink, footprint) >= 0.8, f"{font}: {s.cls} box {s.box} vs ink {ink}"
        seen.add(s.cls)
    assert {"notehead_black", "notehead_half", "rest_quarter", "accidental_sharp",
            "accidental_flat", "accidental_natural", "clef_g", "key_flat",
            "augmentation_dot", "time_3", "barline_single", "lyric_syllable"} <= seen

    # Coverage: with the staff lines masked out, every dark pixel lies in some box.
    covered = np.zeros(image.shape, bool)
    for s in page.symbols:
        if s.cls in ("staff", "system"):
            continue
        x0, y0, x1, y1 = s.box
        ys = slice(max(int(y0) - 1, 0), int(np.ceil(y1)) + 1)
        covered[ys, max(int(x0) - 1, 0):int(np.ceil(x1)) + 1] = True
    for s in page.symbols:
        if s.cls == "staff":
            x0, y0, x1, y1 = (int(round(v)) for v in s.box)
            for k in range(5):  # the five lines
                y = y0 + (y1 - y0) * k / 4
                covered[int(y) - 2:int(y) + 3, x0 - 1:x1 + 1] = True
    stray = (image < 128) & ~covered
    assert stray.sum() < 20, f"{font}: {stray.sum()} printed pixels outside every box"


def test_staff_space_matches_the_raster():
    for ss in (16.0, 23.0):
        page = E.engrave(SMALL, E.EngraveOptions(staff_space_px=ss)).pages[0]
        assert abs(page.staff_space_px - ss) / ss < 0.01
        staff = next(s for s in page.symbols if s.cls == "staff")
        x0, y0, x1, y1 = (int(round(v)) for v in staff.box)
        # rows that are dark along most of the staff's width are staff lines
        band = page.image[y0:y1, x0:x1] < 160
        rows = np.nonzero(band.mean(axis=1) > 0.6)[0]
        groups = np.split(rows, np.nonzero(np.diff(rows) > 1)[0] + 1)
        centers = [g.mean() for g in groups]
        assert len(centers) == 5
        measured = float(np.mean(np.diff(centers)))
        assert abs(measured - page.staff_space_px) / page.staff_space_px < 0.05


def test_staff_indices_and_part_of_grand_staff():
    rh = [measure(1, note("E5", 8), attributes=attributes() ), measure(2, note("F5", 8))]
    lh = [measure(1, note("C3", 8), attributes=attributes(clef=("F", 4))),
          measure(2, note("D3", 8))]
    xml = score(parts=[("P1", "Flute", rh), ("P2", "Cello", lh)])
    e = E.engrave(xml)
    page = e.pages[0]
    heads = sorted((s.box[1], s.staff) for s in page.symbols if s.cls == "notehead_whole")
    assert [st for _, st in heads] == [0, 0, 1, 1]
    staves = sorted(s.staff for s in page.symbols if s.cls == "staff")
    assert staves == [0, 1]
    assert {s.cls for s in page.symbols if s.cls == "barline_single"}
    # per-staff barline boxes: one per staff for the barline between the measures
    bars = [s for s in page.symbols if s.cls in ("barline_single", "barline_final")]
    assert sorted(s.staff for s in bars) == [0, 0, 1, 1]
    notes = e.notes
    assert [(n.part, n.part_name, n.staff, n.pitch) for n in notes if n.onset_qn == 0] == [
        (0, "Flute", 0, 76), (1, "Cello", 1, 48)]
    ids = {s.id for s in page.symbols if s.cls == "notehead_whole"}
    assert {n.id for n in notes} == ids  # a note's id is its notehead's box id


# ------------------------------------------------------------------ unfolding

def _played(e):
    return [(n.pitch, n.onset_qn, n.measure) for n in e.notes]


def test_simple_repeat():
    xml = score(whole("C4", 1, attributes=attributes()),
                whole("D4", 2, left=barline("left", "heavy-light", repeat="forward")),
                whole("E4", 3, right=barline("right", "light-heavy", repeat="backward")),
                whole("F4", 4))
    e = E.Engraver(xml)
    assert [p for p, _, _ in _played(e)] == [60, 62, 64, 62, 64, 65]
    assert [q for _, q, _ in _played(e)] == [0, 4, 8, 12, 16, 20]
    # no tempo marked: 100 quarter notes a minute
    assert [n.onset_sec for n in e.notes] == pytest.approx([0, 2.4, 4.8, 7.2, 9.6, 12.0])
    assert [n.repeat for n in e.notes] == [0, 0, 0, 1, 1, 0]


def test_first_and_second_endings():
    xml = score(whole("C4", 1, attributes=attributes()),
                whole("D4", 2, left=barline("left", "heavy-light", repeat="forward")),
                whole("E4", 3, left=barline("left", ending=("1", "start")),
                      right=barline("right", "light-heavy", repeat="backward",
                                    ending=("1", "stop"))),
                whole("F4", 4, left=barline("left", ending=("2", "start")),
                      right=barline("right", ending=("2", "discontinue"))),
                whole("G4", 5))
    e = E.engrave(xml)
    assert [p for p, _, _ in _played(e)] == [60, 62, 64, 62, 65, 67]
    assert [m for _, _, m in _played(e)] == ["1", "2", "3", "2", "4", "5"]
    classes = {s.cls for s in e.pages[0].symbols}
    assert {"volta_bracket", "volta_number", "barline_repeat_start",
            "barline_repeat_end"} <= classes


def test_da_capo_al_fine():
    xml = score(whole("C4", 1, attributes=attributes()),
                measure(2, note("D4", 8), direction("<words>Fine</words>", '<sound fine="yes"/>'),
                        right=barline("right", "light-light")),
                whole("E4", 3),
                measure(4, note("F4", 8),
                        direction("<words>D.C. al Fine</words>", '<sound dacapo="yes"/>'),
                        right=barline("right", "light-heavy")))
    e = E.engrave(xml)
    assert [p for p, _, _ in _played(e)] == [60, 62, 64, 65, 60, 62]
    assert e.unfolding == "musicxml"
    classes = {s.cls for s in e.pages[0].symbols}
    assert {"text_fine", "text_dacapo", "barline_double", "barline_final"} <= classes


HALF_60 = "<metronome><beat-unit>half</beat-unit><per-minute>30</per-minute></metronome>"


@pytest.mark.parametrize("sounds", [True, False], ids=["sound-attributes", "words-only"])
def test_dal_segno_al_coda_with_tempo(sounds):
    def snd(attr):
        return f"<sound {attr}/>" if sounds else ""

    xml = score(measure(1, direction(HALF_60, snd('tempo="60"')), note("C4", 8),
                        attributes=attributes()),
                measure(2, direction("<segno/>", snd('segno="s"')), note("D4", 8)),
                measure(3, note("E4", 8), direction("<words>To Coda</words>", snd('tocoda="c"'))),
                measure(4, note("F4", 8),
                        direction("<words>D.S. al Coda</words>", snd('dalsegno="s"'))),
                measure(5, direction("<coda/>", snd('coda="c"')), note("G4", 8),
                        right=barline("right", "light-heavy")))
    e = E.engrave(xml)
    assert [p for p, _, _ in _played(e)] == [60, 62, 64, 65, 62, 64, 67]
    # 60 quarter notes a minute: one second per quarter
    assert [n.onset_sec for n in e.notes] == pytest.approx([0, 4, 8, 12, 16, 20, 24])
    assert all(n.duration_sec == pytest.approx(4.0) for n in e.notes)
    classes = {s.cls for s in e.pages[0].symbols}
    assert {"segno", "coda", "text_tocoda", "text_dalsegno"} <= classes


def test_ties_sound_once_and_chords_split():
    xml = score(measure(1, note("C4", 4), note("E4", 4, tie=("start",)), attributes=attributes()),
                measure(2, note("E4", 4, tie=("stop",)), note("G4", 4), note("B4", 4, chord=True)))
    notes = E.Engraver(xml).notes
    assert [(n.pitch, n.onset_qn, n.duration_qn) for n in notes] == [
        (60, 0, 2), (64, 2, 4), (67, 6, 2), (71, 6, 2)]


# ------------------------------------------------------------------ options and errors

@pytest.mark.parametrize("text", ["", "not xml at all", "<html><body>hi</body></html>",
                                  "<score-partwise><part-list>"])
def test_bad_musicxml_raises_engrave_error(text):
    with pytest.raises(E.EngraveError):
        E.engrave(text)
    assert issubclass(E.EngraveError, ValueError)


def test_sample_options_are_plausible_and_logged():
    rng = np.random.default_rng(3)
    seen_fonts = set()
    for _ in range(20):
        o = E.sample_options(rng)
        seen_fonts.add(o.font)
        assert o.font in text_fonts.FONTS
        assert 16 <= o.staff_space_px <= 24
        assert 1.25 < o.page_height / o.page_width < 1.45
        d = o.to_dict()
        assert E.EngraveOptions(**d) == o
    assert len(seen_fonts) >= 3
    with pytest.raises(ValueError):
        E.EngraveOptions(font="Comic Sans")


def test_pages_are_rendered_on_request():
    long = score(*[whole(p, i + 1, attributes=attributes() if i == 0 else "")
                   for i, p in enumerate(["C4", "D4", "E4", "F4", "G4", "A4"] * 30)])
    e = E.engrave(long, E.EngraveOptions(page_width=1000, page_height=1400), pages=[2])
    assert e.page_count >= 2
    assert [p.page_number for p in e.pages] == [2]
    on_page_2 = {n.id for n in e.notes if n.page == 2}
    heads = {s.id for s in e.pages[0].symbols if s.cls == "notehead_whole"}
    assert on_page_2 == heads


# ------------------------------------------------------------------ the modules

def test_unfolded_notes_entry_point():
    """synth.unfold works from MusicXML text and any verovio toolkit that loaded it."""
    xml = score(whole("C4", 1, attributes=attributes()),
                whole("D4", 2, left=barline("left", "heavy-light", repeat="forward")),
                whole("E4", 3, right=barline("right", "light-heavy", repeat="backward")),
                whole("F4", 4))
    tk = text_fonts.load_verovio().toolkit()
    tk.setInputFrom("musicxml")
    assert tk.loadData(xml)
    unfolded = unfold.unfolded_notes(xml, tk)
    assert unfolded.method == "musicxml"
    assert unfolded.matched_ids == 4
    assert [n.pitch for n in unfolded.notes] == [60, 62, 64, 62, 64, 65]
    assert all(n.id and n.page == 1 for n in unfolded.notes)
    e = E.Engraver(xml)
    assert [(n.pitch, n.onset_qn, n.repeat) for n in e.notes] == [
        (n.pitch, n.onset_qn, n.repeat) for n in unfolded.notes]
    assert (e.unfolding, e.matched_ids) == ("musicxml", 4)


def test_engrave_reexports_the_moved_names():
    assert E.Symbol is svg_boxes.Symbol
    assert E.EngraveError is svg_boxes.EngraveError
    assert E.STAFF_SPACE_UNITS == svg_boxes.STAFF_SPACE_UNITS
    assert E.FONTS is text_fonts.FONTS
    assert E.NoteEvent is unfold.NoteEvent
    assert E.DEFAULT_QPM == unfold.DEFAULT_QPM


@pytest.mark.parametrize("module", ["svg_geometry", "text_fonts", "svg_boxes", "unfold"])
def test_parts_import_without_engrave(module):
    """The parts depend on nothing above them (no circular imports)."""
    code = (f"import sys, synth.{module}; "
            "assert 'synth.engrave' not in sys.modules, sorted(m for m in sys.modules "
            "if m.startswith('synth'))")
    subprocess.run([sys.executable, "-c", code], check=True)



@pytest.mark.parametrize("font", text_fonts.FONTS)
def test_a_metronome_marks_note_is_labelled_as_a_note(font):
    """The "♩" of "♩ = 120" looks like a note and is labelled as one (a notehead and a
    stem), so a detector trained on the pages sees it as the parser's metronome rule
    expects: the head's box is mostly ink and holds the glyph's lowest ink, the stem
    reaches its highest, and both lie in the tempo text's box."""
    page = E.engrave(RICH, E.EngraveOptions(font=font, staff_space_px=24)).pages[0]
    tempo = next(s for s in page.symbols if s.cls == "tempo_text" and "=" in s.text)
    parts = {s.cls: s.box for s in page.symbols if s.id == tempo.id and s.cls != "tempo_text"}
    assert set(parts) == {"notehead_black", "stem"}, parts
    head, stem = parts["notehead_black"], parts["stem"]
    tx0, ty0, tx1, ty1 = tempo.box
    for x0, y0, x1, y1 in (head, stem):
        assert tx0 - 1 <= x0 < x1 <= tx1 + 1 and ty0 - 1 <= y0 < y1 <= ty1 + 1
    x0, y0, x1, y1 = (int(round(v)) for v in head)
    assert (page.image[y0:y1, x0:x1] < 128).mean() > 0.5, f"{font}: the head's box is not the head"
    note = _ink_bbox(page.image, (tx0, ty0, stem[2] + 1, ty1))
    assert abs(head[3] - note[3]) <= 2 and abs(stem[1] - note[1]) <= 2, (head, stem, note)
    assert head[2] - head[0] >= 0.85 * 1.18 * 24  # full-size: not a cue note


@pytest.mark.parametrize("font", text_fonts.FONTS)
def test_a_metronome_marks_note_is_printed_in_every_music_font(font):
    """Gootville has no metronome notes (U+ECA0 on): they come from Leipzig, as
    verovio's fontFallback draws the music, not as an empty box. The note: across
    the middle of its ink, one narrow run (the stem); a box has two, at its sides."""
    page = E.engrave(RICH, E.EngraveOptions(font=font, staff_space_px=24)).pages[0]
    tempo = next(s for s in page.symbols if s.cls == "tempo_text" and "=" in s.text)
    x0, y0, x1, y1 = (int(round(v)) for v in tempo.box)
    glyph = page.image[y0:y1, x0:x0 + (x1 - x0) // 4] < 128
    ys, xs = np.nonzero(glyph)
    assert len(xs) > 20, f"{font}: the note is not drawn"
    ink = glyph[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    row = ink[int(ink.shape[0] * 0.35)]                  # above the head, through the stem
    runs = np.flatnonzero(np.diff(np.r_[0, row.astype(int), 0]) == 1)
    assert len(runs) == 1 and row.sum() <= 0.4 * ink.shape[1], f"{font}: {row.astype(int)}"
