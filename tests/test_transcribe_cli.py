"""`omr transcribe` (omr.cli.main): clear one-line errors with exit code 2 for bad
input, no traceback, nothing overwritten without --force, and one real run on a
small phone photo of a synth page made here (generate → engrave → camera) that
writes MusicXML, MIDI and JSON.

Loading the detector costs a few seconds, so only the blank page and the real run
get that far; every other case is refused before it.
"""

from __future__ import annotations

import json

import cv2
import mido
import music21
import numpy as np
import pytest

from omr import export
from omr.cli import EXIT_BAD_INPUT, EXIT_INTERNAL, EXIT_OK, main

THREADS = "2"


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _no_traceback(err: str) -> None:
    assert "Traceback" not in err
    assert "Error:" not in err.replace("omr transcribe:", "")


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A phone photo of page 1 of a short generated piece (mild camera)."""
    from synth.camera import mild_page_photo
    from synth.generate import generate_score

    folder = tmp_path_factory.mktemp("photo")
    rgb = mild_page_photo(generate_score(5, features=["dots"], n_measures=4).musicxml)
    path = folder / "page.jpg"
    assert cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


@pytest.fixture
def image(tmp_path):
    """A small valid image that is refused for other reasons before any work."""
    path = tmp_path / "small.png"
    cv2.imwrite(str(path), np.full((40, 40, 3), 255, np.uint8))
    return path


# --------------------------------------------------------------------- bad input

def test_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope.jpg"
    code, _out, err = _run(["transcribe", str(missing), "-o", str(tmp_path / "o.musicxml")], capsys)
    assert code == EXIT_BAD_INPUT == 2
    assert "no such file" in err and "nope.jpg" in err
    assert err.startswith("omr transcribe:") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o.musicxml").exists()
    _no_traceback(err)


def test_folder_instead_of_a_file(tmp_path, capsys):
    code, _, err = _run(["transcribe", str(tmp_path), "-o", str(tmp_path / "o.musicxml")], capsys)
    assert code == 2 and "not a file" in err


def test_not_an_image_by_suffix(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("do re mi")
    code, _, err = _run(["transcribe", str(text), "-o", str(tmp_path / "o.musicxml")], capsys)
    assert code == 2
    assert "not an image" in err
    _no_traceback(err)


def test_not_an_image_by_content(tmp_path, capsys):
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(b"this is not a jpeg at all" * 20)
    code, _, err = _run(["transcribe", str(fake), "-o", str(tmp_path / "o.musicxml")], capsys)
    assert code == 2
    assert "cannot be decoded" in err
    _no_traceback(err)


@pytest.mark.parametrize("option, name, expected", [
    ("-o", "out.txt", ".musicxml"),
    ("--midi", "out.wav", ".mid"),
    ("--json", "out.yaml", ".json"),
])
def test_output_with_a_wrong_suffix(tmp_path, image, capsys, option, name, expected):
    argv = ["transcribe", str(image), "-o", str(tmp_path / "o.musicxml")]
    if option == "-o":
        argv[-1] = str(tmp_path / name)
    else:
        argv += [option, str(tmp_path / name)]
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert name in err and expected in err
    assert not (tmp_path / name).exists()


def test_output_folder_missing(tmp_path, image, capsys):
    code, _, err = _run(["transcribe", str(image), "-o", str(tmp_path / "no" / "o.musicxml")], capsys)
    assert code == 2 and "does not exist" in err


@pytest.mark.parametrize("which", ["-o", "--midi", "--json"])
def test_refuses_to_overwrite_without_force(tmp_path, image, capsys, which):
    names = {"-o": "o.musicxml", "--midi": "o.mid", "--json": "o.json"}
    existing = tmp_path / names[which]
    existing.write_text("precious")
    argv = ["transcribe", str(image), "-o", str(tmp_path / names["-o"])]
    if which != "-o":
        argv += [which, str(existing)]
    code, _, err = _run(argv, capsys)
    assert code == 2
    assert "already exists" in err and "--force" in err
    assert existing.read_text() == "precious"
    _no_traceback(err)


def test_output_option_is_required(image, capsys):
    with pytest.raises(SystemExit) as info:
        main(["transcribe", str(image)])
    assert info.value.code == 2
    assert "-o/--output" in capsys.readouterr().err


def test_a_bug_is_one_line_and_a_saved_traceback(tmp_path, photo, capsys, monkeypatch):
    # an exception no check foresaw (a real photo once raised music21's
    # MeterException from deep in the score) is named as a bug in one line, with
    # the traceback kept in a file for the report
    import omr.pipeline

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(omr.pipeline, "transcribe", broken)
    code, _, err = _run(["transcribe", str(photo), "-o", str(tmp_path / "o.musicxml"),
                         "--threads", THREADS], capsys)
    assert code == EXIT_INTERNAL
    assert "Traceback" not in err and "internal error (ZeroDivisionError: a bug)" in err
    saved = err.rsplit("details are in ", 1)[1].strip()
    assert "Traceback" in open(saved).read() and "ZeroDivisionError" in open(saved).read()
    assert not (tmp_path / "o.musicxml").exists()


def test_blank_white_page_says_no_music(tmp_path, capsys):
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((1200, 900, 3), 255, np.uint8))
    out = tmp_path / "o.musicxml"
    code, _, err = _run(["transcribe", str(blank), "-o", str(out), "--threads", THREADS], capsys)
    assert code == 2
    assert "no staves" in err.lower() or "no music" in err.lower()
    _no_traceback(err)
    assert not out.exists()


# ---------------------------------------------------------------------- real run

def test_transcribe_a_photo(tmp_path, photo, capsys):
    xml, mid, js = tmp_path / "song.musicxml", tmp_path / "song.mid", tmp_path / "song.json"
    xml.write_text("old")                         # overwritten because of --force
    code, out, err = _run(["transcribe", str(photo), "-o", str(xml), "--midi", str(mid), "--json", str(js),
                           "--force", "--no-ocr", "--threads", THREADS], capsys)
    assert code == EXIT_OK, err
    _no_traceback(err)
    assert "1 page(s)" in out and str(xml) in out and str(mid) in out and str(js) in out
    # MusicXML: valid against the schema, parses, has parts with measures and notes
    data = xml.read_bytes()
    assert data != b"old"
    export.validate_musicxml(data)
    score = music21.converter.parse(str(xml), format="musicxml")
    assert len(score.parts) >= 1
    assert len(score.parts[0].getElementsByClass("Measure")) >= 1
    assert len(score.recurse().notes) >= 1
    # MIDI: parses with mido, has notes
    midi = mido.MidiFile(str(mid))
    assert len(midi.tracks) >= 2                  # a tempo track and a track per part
    assert any(m.type == "note_on" and m.velocity > 0 for t in midi.tracks for m in t)
    # JSON: per page the detections and the graph, and the report
    d = json.loads(js.read_text())
    page = d["pages"][0]
    assert len(d["pages"]) == 1
    assert page["photo"] == 0                     # the photo the page is on
    assert page["detections"]["detections"]
    assert {"nodes", "edges", "staves", "systems"} <= set(page["graph"])
    assert page["graph"]["nodes"] and page["graph"]["staves"]
    assert {"inferred", "warnings"} <= set(d["report"])
    assert isinstance(d["report_text"], list)
