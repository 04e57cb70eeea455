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
