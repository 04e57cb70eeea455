"""omr.ocr: text read with Tesseract inside boxes, and the parsers of what was read.

Text is rendered with PIL in Liberation Serif at the normalized page's size (staff
space 10 px: lyric syllables 16-20 px tall, tempo words bold). The reading tests are
skipped when the ``tesseract`` program is not installed; the parser tests always run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from omr import ocr
from omr.errors import ParameterError

FONT_DIR = Path("/usr/share/fonts/truetype/liberation")
#: Font sizes, px, on a page with a staff space of 10 px.
LYRIC_SIZE_PX = 22  # ~16 px from cap top to baseline, ~20 px with descenders
WORDS_SIZE_PX = 22
TEMPO_SIZE_PX = 24
VOLTA_SIZE_PX = 18
FINGER_SIZE_PX = 16
STAFF_LINE_PX = 1.5  # staff line thickness (0.15 staff spaces)

needs_tesseract = pytest.mark.skipif(not ocr.tesseract_available(),
                                     reason="tesseract not installed (apt-get install tesseract-ocr tesseract-ocr-eng)")
needs_fonts = pytest.mark.skipif(not (FONT_DIR / "LiberationSerif-Regular.ttf").exists(),
                                 reason="Liberation fonts not installed (fonts-liberation)")


def font(style: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / f"LiberationSerif-{style}.ttf"), size)


def render(items, size=(400, 120)):
    """White page with ``items`` = [(text, style, px, (x, y))]; returns (image, ink boxes)."""
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    boxes = []
    for text, style, px, xy in items:
        layer = Image.new("L", size, 0)
        ImageDraw.Draw(layer).text(xy, text, fill=255, font=font(style, px))
        a = np.asarray(layer) > 64
        ys, xs = np.nonzero(a)
        boxes.append([float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)])
        draw.text(xy, text, fill=0, font=font(style, px))
    return np.asarray(img).copy(), boxes


def hline(img, y, x0=0, x1=None, width=STAFF_LINE_PX):
    x1 = img.shape[1] if x1 is None else x1
    img[round(y):round(y + width), x0:x1] = 0


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


@needs_tesseract
@needs_fonts
@pytest.mark.parametrize("text, style, px, kind", [
    ("Allegro", "BoldItalic", TEMPO_SIZE_PX, "tempo"),
    ("Andante", "Bold", TEMPO_SIZE_PX, "tempo"),
    ("Fine", "Italic", WORDS_SIZE_PX, "navigation"),
    ("D.C. al Fine", "Italic", WORDS_SIZE_PX, "navigation"),
    ("D.S. al Coda", "Italic", WORDS_SIZE_PX, "navigation"),
    ("To Coda", "Italic", WORDS_SIZE_PX, "navigation"),
    ("dolce", "Italic", WORDS_SIZE_PX, "words"),
    ("Soprano", "Regular", WORDS_SIZE_PX, "words"),
])
def test_read_text_exact(text, style, px, kind):
    img, (box,) = render([(text, style, px, (30, 40))])
    r = ocr.read_text(img, box, kind=kind)
    assert r.text == text
    assert 0.5 < r.confidence <= 1.0


@needs_tesseract
@needs_fonts
def test_read_text_with_staff_lines():
    """Staff lines through and beside the word, and one cut by the box, are removed."""
    img, (box,) = render([("Allegro", "BoldItalic", TEMPO_SIZE_PX, (60, 40))])
    x0, y0, _, y1 = box
    hline(img, y0 + 0.45 * (y1 - y0))  # through the letters
    hline(img, y1 + 3)  # just below, inside the padding
    hline(img, y0 - 4, 0, int(x0) + 8)  # a line ending just inside the box
    r = ocr.read_text(img, box, kind="tempo")
    assert r.text == "Allegro"
    assert ocr.parse_tempo(r.text).qpm == ocr.TEMPO_TERMS_BPM["Allegro"]


@needs_tesseract
@needs_fonts
def test_read_tempo_metronome():
    img, boxes = render([("Moderato", "Bold", TEMPO_SIZE_PX, (20, 40)), ("J = 96", "Bold", TEMPO_SIZE_PX, (150, 40))])
    box = [boxes[0][0], min(b[1] for b in boxes), boxes[1][2], max(b[3] for b in boxes)]
    t = ocr.parse_tempo(ocr.read_text(img, box, kind="tempo").text)
    assert (t.qpm, t.text, t.beat) == (96.0, "Moderato", "quarter")


@needs_tesseract
@needs_fonts
@pytest.mark.parametrize("text", ["1.", "2."])
def test_read_volta_with_bracket(text):
    """A volta number inside its bracket (line above, hook at the left)."""
    img, (box,) = render([(text, "Bold", VOLTA_SIZE_PX, (50, 40))])
    x0, y0, _, y1 = (int(v) for v in box)
    hline(img, y0 - 6, x0 - 5, 300)  # bracket line
    img[y0 - 6:y1 + 4, x0 - 5:x0 - 3] = 0  # hook
    r = ocr.read_text(img, box, kind="volta")
    assert r.text == text
    assert ocr.parse_volta(r.text) == (int(text[0]),)


@needs_tesseract
@needs_fonts
def test_read_number():
    img, (box,) = render([("12", "Italic", 16, (40, 40))])
    assert ocr.read_text(img, box, kind="number").text == "12"


@needs_tesseract
@needs_fonts
@pytest.mark.parametrize("digit", ["1", "2", "3", "4", "5"])
def test_read_finger_number(digit):
    """A lone small digit over a note (about 1.5 staff spaces tall) reads as itself."""
    img, (box,) = render([(digit, "Regular", FINGER_SIZE_PX, (40, 40))])
    assert ocr.read_text(img, box, kind="finger").text == digit


SYLLABLES = ["Glo-", "ri", "a", "in", "ex-", "cel-", "sis"]


def lyric_line(with_staff=True):
    items, x = [], 20
    for s in SYLLABLES:
        items.append((s, "Regular", LYRIC_SIZE_PX, (x, 60)))
        x += 22 + 13 * len(s)
    img, boxes = render(items, size=(x + 40, 110))
    if with_staff:  # the bottom staff line above the lyrics, and an extender after "a"
        hline(img, 40)
        a = boxes[2]
        hline(img, a[3] - 1, int(a[2]) + 2, int(boxes[3][0]) - 6, width=1.0)
    return img, boxes


@needs_tesseract
@needs_fonts
def test_read_lyric_syllables():
    img, boxes = lyric_line()
    for s, box in zip(SYLLABLES[:3], boxes[:3]):
        r = ocr.read_text(img, box, kind="lyric")
        assert r.text == s
    assert ocr.parse_lyric(ocr.read_text(img, boxes[0], kind="lyric").text) == ("Glo", True)


@needs_tesseract
@needs_fonts
@pytest.mark.parametrize("batch", ocr.BATCH_MODES)
def test_read_many_lyric_line(batch):
    img, boxes = lyric_line()
    got = ocr.read_many(img, boxes, "lyric", batch=batch)
    if batch == "stack":  # crops stacked lose their common baseline: "ex-" may read "eX-"
        assert [r.text.lower() for r in got] == [s.lower() for s in SYLLABLES]
        return
    assert [r.text for r in got] == SYLLABLES
    assert [ocr.parse_lyric(r.text) for r in got][:3] == [("Glo", True), ("ri", False), ("a", False)]


@needs_tesseract
@needs_fonts
def test_read_many_mixed_kinds_and_blank():
    img, boxes = render([("Fine", "Italic", WORDS_SIZE_PX, (20, 20)), ("2.", "Bold", VOLTA_SIZE_PX, (150, 20)),
                         ("Andante", "BoldItalic", TEMPO_SIZE_PX, (20, 70))], size=(300, 120))
    blank = [250.0, 80.0, 290.0, 110.0]
    got = ocr.read_many(img, boxes + [blank], ["navigation", "volta", "tempo", "words"])
    assert [r.text for r in got] == ["Fine", "2.", "Andante", ""]
    assert got[3] == ocr.EMPTY
    assert ocr.read_many(img, [], "words") == []


def test_bad_arguments():
    img = np.full((50, 50), 255, np.uint8)
    with pytest.raises(ParameterError):
        ocr.read_text(img, [0, 0, 10, 10], kind="poetry")
    with pytest.raises(ParameterError):
        ocr.read_many(img, [[0, 0, 10, 10]], ["words", "words"])
    with pytest.raises(ParameterError):
        ocr.read_many(img, [[0, 0, 10, 10]], "words", batch="sideways")
    assert ocr.read_text(img, [10, 10, 5, 5]) == ocr.EMPTY  # empty box
    assert ocr.read_text(img, [10, 10, 40, 30]) == ocr.EMPTY  # no ink: Tesseract not run


def test_missing_tesseract_is_a_clear_error(monkeypatch):
    img, box = np.full((60, 100), 255, np.uint8), [20, 20, 60, 40]
    img[25:35, 25:55] = 0
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    with pytest.raises(ocr.OcrUnavailableError, match="apt-get install tesseract-ocr"):
        ocr.read_text(img, box)


def test_kind_of_class():
    assert ocr.kind_of_class("lyric_syllable") == "lyric"
    assert ocr.kind_of_class("volta_number") == "volta"
    assert ocr.kind_of_class("text_dalsegno") == "navigation"
    assert ocr.kind_of_class("dynamic_sf") == "dynamic"
    assert ocr.kind_of_class("fingering") == "finger"
    assert ocr.kind_of_class("rest_multi_number") == "number"
    assert ocr.kind_of_class("clef_g") is None


def test_every_class_the_pipeline_reads_has_a_kind():
    from omr.pipeline import OCR_CLASSES

    assert all(ocr.kind_of_class(c) in ocr.KINDS for c in OCR_CLASSES)


# ---------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, qpm, words, beat", [
    ("Allegro", 130.0, "Allegro", "quarter"),
    ("Alegro", 130.0, "Allegro", "quarter"),  # OCR dropped a letter
    ("Largo", 50.0, "Largo", "quarter"),
    ("Adagio", 70.0, "Adagio", "quarter"),
    ("Andante", 90.0, "Andante", "quarter"),
    ("Moderato", 110.0, "Moderato", "quarter"),
    ("Allegretto", 115.0, "Allegretto", "quarter"),
    ("Vivace", 160.0, "Vivace", "quarter"),
    ("Presto", 180.0, "Presto", "quarter"),
    ("♩ = 120", 120.0, "", "quarter"),
    ("q = 96", 96.0, "", "quarter"),
    ("J = 120", 120.0, "", "quarter"),
    ("J=120", 120.0, "", "quarter"),
    ("= 120", 120.0, "", "quarter"),
    ("d = 60", 120.0, "", "half"),
    ("J. = 60", 90.0, "", "dotted quarter"),
    ("Allegro ♩ = 132", 132.0, "Allegro", "quarter"),
    ("Allegrog = 132", 132.0, "Allegro", "quarter"),  # Tesseract on an engraved note glyph
    ("Allegro\ueca5\xa0=\xa0132", 132.0, "Allegro", "quarter"),  # the synth ground truth
    ("Andante con moto", 90.0, "Andante con moto", "quarter"),
    ("", None, "", "quarter"),
    ("Tempo di marcia", None, "Tempo di marcia", "quarter"),
    ("J = 7", None, "", "quarter"),  # not a metronome number
])
def test_parse_tempo(text, qpm, words, beat):
    assert ocr.parse_tempo(text) == ocr.Tempo(qpm, words, beat)


@pytest.mark.parametrize("text, expected", [
    ("D.C. al Fine", "dacapo_al_fine"),
    ("D. C. al fine", "dacapo_al_fine"),
    ("D.G. al Fine", "dacapo_al_fine"),
    ("0.C. al Fine", "dacapo_al_fine"),
    ("D.C. al Fíne", "dacapo_al_fine"),
    ("Da Capo al Fine", "dacapo_al_fine"),
    ("D.C. al Coda", "dacapo_al_coda"),
    ("D.C. al Coda!", "dacapo_al_coda"),
    ("Da Capo", "dacapo"),
    ("D.C.", "dacapo"),
    ("D.S.", "dalsegno"),
    ("Dal Segno", "dalsegno"),
    ("DS al Coda", "dalsegno_al_coda"),
    ("D.8. al Coda", "dalsegno_al_coda"),
    ("D.S. al Fine", "dalsegno_al_fine"),
    ("Dal Segno al Fine", "dalsegno_al_fine"),
    ("To Coda", "tocoda"),
    ("To Goda", "tocoda"),
    ("Fine", "fine"),
    ("Fiue", "fine"),
    ("Coda", None),
    ("Allegro", None),
    ("cresc.", None),
    ("", None),
])
def test_parse_navigation(text, expected):
    assert ocr.parse_navigation(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("1.", (1,)), ("2.", (2,)), ("2", (2,)), ("1, 2.", (1, 2)), ("1.2.", (1, 2)),
    ("1.-3.", (1, 2, 3)), ("l.", (1,)), ("Z.", (2,)), ("12.", (1, 2)), ("", ()), (".", ()),
])
def test_parse_volta(text, expected):
    assert ocr.parse_volta(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("glo-", ("glo", True)), ("ri", ("ri", False)), ("a", ("a", False)), ("a___", ("a", False)),
    ("sis —", ("sis", True)), ("–men", ("men", False)), (" Herr ", ("Herr", False)),
    ("doch,", ("doch,", False)), ("", ("", False)), ("-", ("", True)),
])
def test_parse_lyric(text, expected):
    assert ocr.parse_lyric(text) == expected
