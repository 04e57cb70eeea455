"""Oracle round trips: a synth page is made here (synth.generate → verovio via
synth.engrave), its ground-truth boxes go through synth.oracle.page_symbols →
build_graph → score_from_graphs, and the notes that come out are compared with the
source MusicXML's (omr.eval.notes, as bench/parser_oracle.py does on the test split).

Each page is a short generated piece (6 measures, one page) with a few features and
its own fixed seed; layout options are drawn from the same seed as synth.build does.
The page record is written as synth.build writes it (MusicXML, notes JSON, page JSON)
and read back with synth.oracle.load_record.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import music21
import numpy as np
import pytest

from omr import export
from omr.eval.notes import evaluate, notes_from_score
from omr.graph import StaffGraph, build_graph
from omr.page import STAFF_SPACE_NORM
from omr.notation.repeats import unfold_measures
from omr.score import score_from_graphs
from synth import engrave
from synth.build import OPTIONAL_SYMBOL_FIELDS
from synth.generate import generate_score
from synth.oracle import load_record, page_measures, page_symbols, reference_notes

MEASURES = 6
MIN_NOTE_ACCURACY = 0.95

#: name → (seed, features); every page is one page long.
PAGES = {
    "dots-ties-accidentals": (11, ["dots", "ties", "accidentals"]),
    "ds_al_coda-two_voices": (13, ["ds_al_coda", "two_voices"]),
    "grand_staff-omitted_rests": (14, ["grand_staff", "omitted_rests"]),
    "volta-courtesy_accidentals": (126, ["volta", "courtesy_accidentals"]),
    "flags-arpeggios-fingering": (15, ["flags", "arpeggios", "fingering"]),
    "flags-short_values": (7, ["flags", "short_values"]),
}
#: Pages the parser gets wrong today (see the reasons); they pass when fixed.
#: Pages that once failed (each names the bug it found); they pass now.
KNOWN_BAD = {
    "volta-tuplets_first_only": (12, ["volta", "tuplets_first_only"],
                                 ("unprinted triplets with stems the other way are split into a second "
                                 "voice before implied tuplets are tried (test_notation::"
                                 "test_implied_triplets_with_stems_both_ways_stay_one_voice)")),
    "ties-tuplets_all": (109, ["ties", "tuplets_all"],
                         ("a triplet that starts with a rest (r8 + two beamed eighths) is read as a "
                         "duplet of the two notes (test_notation::test_triplet_that_starts_with_a_rest)")),
    "dots-rests": (100, ["dots", "rests"],
                   ("on a falling beam a 32nd's 3rd beam segment is chained to the next 2nd-level "
                   "segment and counted once (test_graph::test_segments_of_different_levels_on_a_"
                   "falling_beam)")),
    "accidentals-multi_rest": (104, ["accidentals", "multi_rest"],
                               ("multi-measure rests (rest_multi, rest_multi_number) are not expanded: a "
                               "4-bar rest is read as one measure")),
}


def record_symbols(page) -> list[dict]:
    """An engraved page's symbols as synth.build writes them into a page record."""
    symbols = []
    for s in page.symbols:
        d = {"cls": s.cls, "box": [round(float(v), 2) for v in s.box], "id": s.id}
        for name in OPTIONAL_SYMBOL_FIELDS:
            if getattr(s, name) is not None:
                d[name] = getattr(s, name)
        symbols.append(d)
    return symbols


def make_page(folder, seed: int, features: list[str]) -> dict:
    """Engrave page 1 of a generated score and write it as synth.build does; the
    loaded page record."""
    score = generate_score(seed, features=features, n_measures=MEASURES)
    options = engrave.sample_options(np.random.default_rng(seed))
    engraver = engrave.Engraver(score.musicxml, options)
    assert engraver.page_count == 1, "the test pieces fit on one page"
    page = engraver.render_page(1)
    stem = f"{seed:06d}"
    (folder / f"{stem}.musicxml").write_text(score.musicxml, encoding="utf-8")
    (folder / f"{stem}.notes.json").write_text(json.dumps([asdict(n) for n in engraver.notes]))
    symbols = record_symbols(page)
    h, w = page.image.shape[:2]
    record = {"id": f"{stem}-p1", "musicxml": f"{stem}.musicxml", "notes": f"{stem}.notes.json",
              "source": f"generated:test:{seed}", "split": "test", "job": seed, "page": 1, "page_count": 1,
              "engrave": options.to_dict(), "staff_space_px": page.staff_space_px,
              "features": sorted(score.features), "title": score.title,
              "clean": {"size": [w, h], "symbols": symbols, "image": f"{stem}-p1.png"}}
    path = folder / f"{stem}-p1.json"
    path.write_text(json.dumps(record))
    return load_record(path)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("oracle")
    cache = {}

    def get(seed, features):
        if seed not in cache:
            record = make_page(folder, seed, features)
            symbols, staves, systems = page_symbols(record)
            g = build_graph(symbols, staves, systems)
            score, report = score_from_graphs([g])
            cache[seed] = (record, g, score, report)
        return cache[seed]

    return get


def _accuracy(record, score) -> dict:
    return evaluate(reference_notes(record), notes_from_score(score))


@pytest.mark.parametrize("name", list(PAGES))
def test_oracle_note_accuracy(pages, name):
    seed, features = PAGES[name]
    record, _g, score, report = pages(seed, features)
    assert set(features) <= set(record["features"])
    m = _accuracy(record, score)
    assert m["n_ref"] >= 10
    assert m["note_accuracy"] >= MIN_NOTE_ACCURACY, (m, report.lines())
    # the same staves and measures as the source page
    ref_score = music21.converter.parse(str(Path(record["_dir"]) / record["musicxml"]), format="musicxml")
    assert len(score.parts) == len(ref_score.parts)
    assert len(score.parts[0].getElementsByClass("Measure")) == len(page_measures(record, ref_score))


def _parts_of(xml: bytes | str):
    import xml.etree.ElementTree as ET

    return ET.fromstring(xml.encode("utf-8") if isinstance(xml, str) else xml).iter("part")


def _beams_by_part(xml: bytes | str) -> list[list[tuple[str, str]]]:
    """Per part, each note's type and beam lines (``-``: flagged or no beam), chords
    and grace notes left out."""
    return [[(n.findtext("type"), " ".join(b.text for b in n.findall("beam")) or "-")
             for n in part.iter("note")
             if n.find("rest") is None and n.find("chord") is None and n.find("grace") is None]
            for part in _parts_of(xml)]


def _marked_notes(xml: bytes | str, mark: str) -> list[tuple[str, str, str]]:
    """(step, octave, text) of every note carrying ``mark`` (a path under <note>), in order."""
    return [(n.findtext("pitch/step"), n.findtext("pitch/octave"), (m.text or "").strip())
            for part in _parts_of(xml) for n in part.iter("note") for m in n.findall(mark)]


def _source_and_output(pages, name: str) -> tuple[str, bytes]:
    """The source MusicXML of an oracle page and the MusicXML read from its boxes."""
    seed, features = PAGES[name]
    record, _, score, _ = pages(seed, features)
    return (Path(record["_dir"]) / record["musicxml"]).read_text(encoding="utf-8"), export.to_musicxml(score)


@pytest.mark.parametrize("name", list(PAGES))
def test_oracle_beams_and_flags_as_printed(pages, name):
    """The MusicXML beams notes as the page does and leaves flagged notes flagged
    (music21 would beam them by the meter)."""
    source, output = _source_and_output(pages, name)
    assert _beams_by_part(output) == _beams_by_part(source)


@pytest.mark.parametrize("mark", ["notations/technical/fingering", "notations/arpeggiate"])
def test_oracle_fingering_and_arpeggios_reach_the_musicxml(pages, mark):
    """Finger numbers and rolled chords end up on their notes, as in the source."""
    source, output = _source_and_output(pages, "flags-arpeggios-fingering")
    expected = _marked_notes(source, mark)
    assert len(expected) >= 2
    assert sorted(_marked_notes(output, mark)) == sorted(expected)


@pytest.mark.parametrize("name", list(PAGES))
def test_oracle_musicxml_validates_and_reads_back(pages, name):
    seed, features = PAGES[name]
    _record, _, score, _ = pages(seed, features)
    xml = export.to_musicxml(score)               # raises ExportError when invalid
    again = music21.converter.parse(xml, format="musicxml")
    assert evaluate(notes_from_score(score), notes_from_score(again))["note_accuracy"] == 1.0


@pytest.mark.parametrize("name", list(PAGES))
def test_oracle_playing_order_matches_verovio(pages, name):
    """The unfolded order of the transcription's measures is the order verovio plays
    the source in (measures without notes left out on both sides)."""
    seed, features = PAGES[name]
    record, _, score, _ = pages(seed, features)
    numbers = page_measures(record)
    index = {m: i for i, m in enumerate(numbers)}
    played = json.loads((Path(record["_dir"]) / record["notes"]).read_text())
    expected = []
    last = None
    for n in sorted(played, key=lambda n: n["onset_qn"]):
        key = (index[str(n["measure"])], n["repeat"])
        if key != last:
            expected.append(key[0])
            last = key
    measures = [p.getElementsByClass("Measure") for p in score.parts]
    has_notes = [any(len(ms[i].recurse().notes) for ms in measures) for i in range(len(measures[0]))]
    got = [i for i in unfold_measures(score) if has_notes[i]]
    assert got == expected


def test_oracle_graph_json_round_trip_gives_the_same_score(pages):
    seed, features = PAGES["grand_staff-omitted_rests"]
    _record, g, score, _ = pages(seed, features)
    g2 = StaffGraph.from_dict(json.loads(g.to_json()))
    score2, _ = score_from_graphs([g2])
    assert evaluate(notes_from_score(score), notes_from_score(score2))["note_accuracy"] == 1.0


@pytest.mark.parametrize("name", [
    pytest.param(name) for name in KNOWN_BAD])
def test_oracle_pages_that_once_failed(pages, name):
    seed, features, _ = KNOWN_BAD[name]
    record, _, score, report = pages(seed, features)
    m = _accuracy(record, score)
    assert m["note_accuracy"] >= MIN_NOTE_ACCURACY, (m, report.lines())


def test_page_symbols_keep_a_glyph_drawn_twice_once():
    # two voices resting in one place: verovio draws the rest twice, the page shows one
    staff = {"cls": "staff", "box": [10.0, 100.0, 500.0, 180.0], "system": 0}
    rest = {"cls": "rest_whole", "box": [200.0, 120.0, 226.0, 130.0]}
    head = {"cls": "notehead_black", "box": [100.0, 135.0, 125.0, 155.0]}
    record = {"staff_space_px": 20.0,
              "clean": {"symbols": [staff, rest, dict(rest), head, dict(head, box=[140.0, 135.0, 165.0, 155.0])]}}
    symbols, staves, systems = page_symbols(record)
    assert sorted(s.cls for s in symbols) == ["notehead_black", "notehead_black", "rest_whole"]
    assert len(staves) == 1 and systems == [[0]]


def test_a_page_the_bench_fails_on_counts_its_notes_as_missed(pages):
    # bench/parser_e2e and parser_oracle pool notes over pages: a page that raised
    # once counted zero reference notes, so a failure raised the pooled accuracy
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from bench_util import failed_page, pooled_notes

    seed, features = PAGES["dots-ties-accidentals"]
    record, _, score, _ = pages(seed, features)
    path = str(Path(record["_dir"]) / f"{record['id']}.json")
    row = failed_page(path, RuntimeError("no staves"))
    assert row["n_ref"] == len(reference_notes(record)) > 0
    good = {**_accuracy(record, score), "page": record["id"]}
    pooled = pooled_notes([good, row])
    assert pooled["errors"] == 1
    assert pooled["note_accuracy"] <= good["correct"] / (2 * row["n_ref"]) + 1e-9


def test_measures_numbered_alike_are_told_apart_by_position(tmp_path):
    """A measure split by a repeat barline is numbered twice (``14``, ``14``); when
    the page turns between the halves, each page's reference has its own half."""
    from synth.oracle import page_measure_positions

    part = music21.stream.Part()
    for number, pitch in [(13, "C4"), (14, "D4"), (14, "E4"), (15, "F4")]:
        m = music21.stream.Measure(number=number)
        m.append(music21.note.Note(pitch, quarterLength=4))
        part.append(m)
    score = music21.stream.Score([part])
    notes = [{"measure": str(n), "page": p, "repeat": 0} for n, p in [(13, 1), (14, 1), (14, 2), (15, 2)]]
    (tmp_path / "x.notes.json").write_text(json.dumps(notes))
    record = {"_dir": str(tmp_path), "notes": "x.notes.json", "page": 1}
    assert page_measure_positions(record, score) == [0, 1]
    assert page_measure_positions({**record, "page": 2}, score) == [2, 3]
    assert page_measures({**record, "page": 2}, score) == ["14", "15"]
    # numbers alone would give page 2 the first half's D4
    kept = notes_from_score(score, positions=page_measure_positions({**record, "page": 2}, score))
    assert [(m, p) for _, m, _, p, _ in kept] == [(0, 64), (1, 65)]


def _numbered_page(folder, seed: int = 21, measures: int = 14):
    """A one-page generated piece engraved with every measure's number printed: the
    record, and the printed number of each system's first measure."""
    from dataclasses import replace

    score = generate_score(seed, features=[], n_measures=measures)
    options = replace(engrave.sample_options(np.random.default_rng(seed)), measure_number_interval=1,
                      system_max_per_page=0)
    engraver = engrave.Engraver(score.musicxml, options)
    assert engraver.page_count == 1
    page = engraver.render_page(1)
    symbols = record_symbols(page)
    record = {"id": "n-p1", "page": 1, "staff_space_px": page.staff_space_px,
              "clean": {"size": list(page.image.shape[1::-1]), "symbols": symbols}}
    numbers = [s for s in symbols if s["cls"] == "measure_number"]
    firsts = {k: min(int(s["text"]) for s in numbers if s.get("system") == k) for k in {s.get("system") for s in numbers}}
    return record, firsts


def _numbers_read(record, keep=lambda s: True) -> tuple[list[int], list[str]]:
    kept = {**record, "clean": {**record["clean"], "symbols": [s for s in record["clean"]["symbols"] if keep(s)]}}
    symbols, staves, systems = page_symbols(kept)
    score, report = score_from_graphs([build_graph(symbols, staves, systems)])
    return [m.number for m in score.parts[0].getElementsByClass("Measure")], report.lines()


def test_a_photo_without_the_first_system_numbers_its_measures_as_printed(tmp_path):
    record, firsts = _numbered_page(tmp_path)
    assert len(firsts) >= 2 and firsts[0] == 1
    # the whole page: numbered 1, 2, ... as printed (and as counted)
    numbers, _ = _numbers_read(record)
    assert numbers == list(range(1, len(numbers) + 1))
    # the photo cut the first system off: its first measure is the one printed there,
    # not measure 1
    numbers, lines = _numbers_read(record, lambda s: s.get("system", -1) != 0)
    assert numbers == list(range(firsts[1], firsts[1] + len(numbers)))
    assert any("numbered as printed" in line for line in lines)
    # one number misread among many that agree changes nothing
    misread = {**record, "clean": {**record["clean"], "symbols": [
        {**s, "text": "99"} if s["cls"] == "measure_number" and s.get("text") == str(firsts[1] + 1) else s
        for s in record["clean"]["symbols"]]}}
    assert _numbers_read(misread, lambda s: s.get("system", -1) != 0)[0] == numbers
    # one number alone changes nothing: moving the count by one (a "1" read "2") ...
    first = {"cls": "measure_number"}
    for s in record["clean"]["symbols"]:
        if s["cls"] == "measure_number" and s.get("system") == 1 and int(s["text"]) == firsts[1]:
            first = s
    lone = {**record, "clean": {**record["clean"], "symbols": [
        {**s, "text": str(firsts[1] + 1)} if s is first else s for s in record["clean"]["symbols"]
        if s["cls"] != "measure_number" or s is first]}}
    assert _numbers_read(lone)[0] == list(range(1, len(_numbers_read(record)[0]) + 1))
    # ... or far, over a later system (a "13" read "33") or over the first measure
    # of a photo that cut the first system off (a page number looks like that)
    far = {**lone, "clean": {**lone["clean"], "symbols": [
        {**s, "text": str(firsts[1] + 20)} if s is first else s for s in record["clean"]["symbols"]
        if s["cls"] != "measure_number" or s is first]}}
    assert _numbers_read(far)[0][0] == 1
    assert _numbers_read(far, lambda s: s.get("system", -1) != 0)[0][0] == 1
    # no number read: counted from 1
    numbers, lines = _numbers_read(record, lambda s: s.get("system", -1) != 0 and s["cls"] != "measure_number")
    assert numbers[0] == 1 and not any("numbered as printed" in line for line in lines)


def test_a_pickup_is_an_implicit_measure_in_the_musicxml(tmp_path):
    import xml.etree.ElementTree as ET

    record = make_page(tmp_path, 31, ["pickup"])
    assert "pickup" in record["features"]
    symbols, staves, systems = page_symbols(record)
    score, report = score_from_graphs([build_graph(symbols, staves, systems)])
    measures = next(ET.fromstring(export.to_musicxml(score)).iter("part")).findall("measure")
    assert (measures[0].get("number"), measures[0].get("implicit")) == ("0", "yes")
    assert all(m.get("implicit") in (None, "no") for m in measures[1:])
    # the report names the pickup as the score numbers it
    pickup = next(i for i in report.inferred if i.kind == "pickup")
    assert (pickup.measure, pickup.where()) == (1, "page 1, measure 0")


def test_reference_staves_are_numbered_as_printed(tmp_path):
    """A page that leaves out the staves of parts resting there (an orchestral page
    without its choir) is read with its staves numbered as printed: the reference's
    staff 3, drawn as the page's second staff, is compared as staff 1. A page that
    prints every staff keeps the score's numbers."""
    from synth.oracle import page_staff_slots

    notes = [{"id": f"n{k}", "staff": staff} for k, staff in enumerate([0, 0, 3])]
    (tmp_path / "notes.json").write_text(json.dumps(notes))

    def record(head_staves):
        staves = [{"cls": "staff", "staff": i, "system": 0} for i in range(2)]
        heads = [{"cls": "notehead_black", "id": f"n{k}", "staff": s, "system": 0}
                 for k, s in enumerate(head_staves)]
        return {"_dir": str(tmp_path), "notes": "notes.json", "clean": {"symbols": staves + heads}}

    assert page_staff_slots(record([0, 0, 1])) == {0: 0, 3: 1}
    notes_printed_in_order = [{"id": f"n{k}", "staff": staff} for k, staff in enumerate([0, 0, 1])]
    (tmp_path / "notes.json").write_text(json.dumps(notes_printed_in_order))
    assert page_staff_slots(record([0, 0, 1])) == {}


def test_page_symbols_leave_a_metronome_marks_note_out_of_the_music(tmp_path):
    """The note of "♩ = 132" is labelled as a notehead and a stem (it looks like
    one); the oracle's input leaves it out, as the pipeline's omr.metronome takes it
    out of the music, so it does not become a note of the music."""
    record = make_page(tmp_path, 21, ["tempo"])
    given = record["clean"]["symbols"]
    texts = {s["id"] for s in given if s["cls"] == "tempo_text"}
    mark = [s for s in given if s["id"] in texts and s["cls"] != "tempo_text"]
    assert {s["cls"] for s in mark} == {"notehead_black", "stem"}
    symbols, _, _ = page_symbols(record)
    heads = [s for s in symbols if s.cls.startswith("notehead")]
    assert len(heads) == sum(s["cls"].startswith("notehead") for s in given) - 1
    scale = STAFF_SPACE_NORM / record["staff_space_px"]
    head = next(s["box"] for s in mark if s["cls"] == "notehead_black")
    assert all(max(abs(a - b * scale) for a, b in zip(h.box, head)) > 1.0 for h in heads)
