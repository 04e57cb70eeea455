"""Source pieces: deterministic, disjoint splits; corpus files decode to UTF-8."""

import zipfile

import pytest

from synth import sources


def test_splits_are_disjoint_and_cover_the_corpus():
    pieces = sources.corpus_pieces()
    assert len(pieces) > 500  # about 650 MusicXML files ship in the music21 wheel
    by_split = {s: {p.key for p in sources.corpus_pieces(s)} for s in sources.SPLITS}
    assert set.union(*by_split.values()) == {p.key for p in pieces}
    assert not by_split["train"] & by_split["val"]
    assert not by_split["train"] & by_split["test"]
    assert not by_split["val"] & by_split["test"]
    # roughly the configured proportions
    assert len(by_split["train"]) > 4 * len(by_split["test"])
    assert len(by_split["test"]) > 20


def test_split_depends_on_the_key_only():
    key = "corpus:bach/bwv66.6.mxl"
    assert sources.split_of(key) == sources.split_of(key)
    assert sources.split_of(sources.generated_key("test", 3)) in sources.SPLITS
    assert sources.generated_seed("generated:train:1") != sources.generated_seed("generated:test:1")


def test_utf16_mxl_is_reencoded(tmp_path):
    xml = ('<?xml version="1.0" encoding="UTF-16"?>\n<score-partwise version="4.0">'
           '<part-list/></score-partwise>')
    path = tmp_path / "piece.mxl"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("META-INF/container.xml",
                         '<container><rootfiles><rootfile full-path="score.xml"/>'
                         "</rootfiles></container>")
        archive.writestr("score.xml", xml.encode("utf-16"))
    text = sources.read_musicxml(path)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert "<score-partwise" in text


def test_every_corpus_piece_decodes():
    for piece in sources.corpus_pieces():
        text = sources.read_musicxml(piece.path)
        assert "UTF-16" not in text[:100]


def test_bad_files_raise_source_error(tmp_path):
    with pytest.raises(sources.SourceError):
        sources.read_musicxml(tmp_path / "missing.musicxml")
    bad = tmp_path / "bad.mxl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(sources.SourceError):
        sources.read_musicxml(bad)
    txt = tmp_path / "notes.xml"
    txt.write_text("<html/>")
    with pytest.raises(sources.SourceError, match="not a MusicXML"):
        sources.read_musicxml(txt)
    with pytest.raises(ValueError, match="unknown split"):
        sources.corpus_pieces("training")


def _score(measures: list[str], *, fifths: int = 0, staves: int = 1) -> str:
    """A one-part MusicXML score; ``measures``: each measure's notes as XML."""
    attributes = (f"<attributes><divisions>1</divisions><key><fifths>{fifths}</fifths></key>"
                  f"<time><beats>4</beats><beat-type>4</beat-type></time>"
                  + (f"<staves>{staves}</staves>" if staves > 1 else "")
                  + "".join(f'<clef number="{n}"><sign>G</sign><line>2</line></clef>' if staves > 1
                            else "<clef><sign>G</sign><line>2</line></clef>" for n in range(1, staves + 1))
                  + "</attributes>")
    body = "".join(f'<measure number="{i + 1}">{attributes if i == 0 else ""}{m}</measure>'
                   for i, m in enumerate(measures))
    return ('<?xml version="1.0" encoding="UTF-8"?><score-partwise version="4.0"><part-list>'
            '<score-part id="P1"><part-name>P</part-name></score-part></part-list>'
            f'<part id="P1">{body}</part></score-partwise>')


def _note(step: str, alter: int = 0, *, octave: int = 4, extra: str = "", staff: int = 0,
          voice: int = 1) -> str:
    alter_xml = f"<alter>{alter}</alter>" if alter else ""
    staff_xml = f"<staff>{staff}</staff>" if staff else ""
    return (f"<note>{extra if extra == '<chord/>' else ''}<pitch><step>{step}</step>{alter_xml}"
            f"<octave>{octave}</octave></pitch><duration>1</duration>"
            f"{extra if extra != '<chord/>' else ''}<voice>{voice}</voice><type>quarter</type>"
            f"{staff_xml}</note>")


def _accidentals(xml: str) -> list[str | None]:
    import xml.etree.ElementTree as ET

    return [n.findtext("accidental") for n in ET.fromstring(xml.encode()).iter("note")]


def test_accidentals_a_corpus_file_leaves_out_are_shown():
    """B flat spelled without its accidental: shown once per measure; a tie carries it
    to the tied note only; a key that implies it needs none; F major's B natural gets
    a natural; a chord's notes and another staff's notes count apart."""
    tie_start, tie_stop = '<tie type="start"/>', '<tie type="stop"/>'
    xml = _score([_note("B", -1) + _note("B", -1) + _note("C") + _note("B", -1, extra=tie_start),
                  _note("B", -1, extra=tie_stop) + _note("B", -1) + _note("C") + _note("D")])
    text, added = sources.show_accidentals(xml)
    assert added == 2
    assert _accidentals(text) == ["flat", None, None, None, None, "flat", None, None]
    f_major = _score([_note("B", -1) + _note("B") + _note("B", octave=5) + _note("C")], fifths=-1)
    text, added = sources.show_accidentals(f_major)
    assert _accidentals(text) == [None, "natural", "natural", None] and added == 2
    chord = _score([_note("D") + _note("F", 1, extra="<chord/>") + _note("F", 1, staff=2)
                    + _note("F", staff=1)], staves=2)
    assert _accidentals(sources.show_accidentals(chord)[0]) == [None, "sharp", "sharp", "natural"]
    plain = _score([_note("C") + _note("D") + _note("E") + _note("F")])
    assert sources.show_accidentals(plain) == (plain, 0)


def test_an_empty_accidental_is_filled_in_not_doubled():
    """Some corpus files give an empty <accidental/>: it gets the sign, a note keeps
    one accidental, and a second pass adds nothing."""
    empty = _note("B", -1).replace("<type>quarter</type>", "<type>quarter</type><accidental/>")
    text, added = sources.show_accidentals(_score([empty + _note("C") + _note("D") + _note("E")]))
    assert added == 1 and _accidentals(text) == ["flat", None, None, None]
    assert text.count("<accidental") == 1
    assert sources.show_accidentals(text)[1] == 0


def test_the_accidental_shown_first_in_time_is_the_one_printed():
    """Two voices: the second (written after a backup) plays its B flat first."""
    backup = "<backup><duration>4</duration></backup>"
    late, early = _note("C") + _note("C") + _note("B", -1) + _note("C"), _note("B", -1, voice=2)
    xml = _score([late + backup + early + "<forward><duration>3</duration></forward>"])
    assert _accidentals(sources.show_accidentals(xml)[0]) == [None, None, None, None, "flat"]


def test_verovio_prints_the_accidental_once_it_is_shown():
    from synth import engrave

    xml = _score([_note("B", -1) + _note("C") + _note("D") + _note("E")])

    def flats(text: str) -> int:
        page = engrave.Engraver(text, engrave.EngraveOptions()).render_page(1)
        return sum(s.cls == "accidental_flat" for s in page.symbols)

    assert flats(xml) == 0
    assert flats(sources.show_accidentals(xml)[0]) == 1
