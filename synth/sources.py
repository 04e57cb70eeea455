"""Where the music comes from: the music21 corpus and the score generator.

Every source piece has a stable *key* (``"corpus:bach/bwv66.6.mxl"`` or
``"generated:train:17"``). Its split (train, val or test) is a pure function of that
key, so pieces never cross splits, whatever seed or machine builds the data set.

Examples
--------
>>> split_of("corpus:bach/bwv66.6.mxl") in SPLITS
True
>>> [p.split for p in corpus_pieces()][:1] != []
True
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "val", "test")
#: Percent of corpus pieces in each split, in :data:`SPLITS` order.
SPLIT_PERCENT = (80, 10, 10)
#: File name endings of MusicXML in the music21 corpus.
MUSICXML_EXTENSIONS = ("xml", "mxl", "musicxml")


class SourceError(ValueError):
    """A source piece that cannot be read."""


@dataclass(frozen=True)
class CorpusPiece:
    """A MusicXML file that ships inside the music21 wheel."""

    key: str  # "corpus:" + path relative to the corpus root
    path: Path
    split: str


def split_of(key: str) -> str:
    """The split a source key belongs to: a hash of the key, not of any seed.

    >>> split_of("corpus:bach/bwv66.6.mxl") == split_of("corpus:bach/bwv66.6.mxl")
    True
    """
    bucket = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) % 100
    bound = 0
    for split, percent in zip(SPLITS, SPLIT_PERCENT):
        bound += percent
        if bucket < bound:
            return split
    raise AssertionError("SPLIT_PERCENT must add up to 100")


def corpus_root() -> Path:
    """The folder of the music21 corpus inside the installed wheel."""
    from music21 import corpus

    return Path(corpus.__file__).parent


def corpus_pieces(split: str | None = None) -> list[CorpusPiece]:
    """All MusicXML pieces of the music21 corpus, sorted by key, optionally one split.

    >>> all(p.split == "test" for p in corpus_pieces("test"))
    True
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    root = corpus_root()
    pieces = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lstrip(".").lower() not in MUSICXML_EXTENSIONS:
            continue
        key = "corpus:" + path.relative_to(root).as_posix()
        piece = CorpusPiece(key=key, path=path, split=split_of(key))
        if split is None or piece.split == split:
            pieces.append(piece)
    return pieces


def generated_key(split: str, number: int) -> str:
    """The key of the ``number``-th generated score of a split.

    Generated scores are assigned to splits by construction (the split is part of
    the key and of the generator's seed), so they are disjoint too.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {SPLITS}")
    return f"generated:{split}:{number}"


def generated_seed(key: str) -> int:
    """The generator seed of a generated key: a hash, so splits never share seeds."""
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16)


def read_musicxml(path: str | Path) -> str:
    """MusicXML text of a ``.xml``/``.musicxml`` or compressed ``.mxl`` file, as UTF-8.

    Some corpus ``.mxl`` files hold UTF-16 XML; verovio needs UTF-8, so the text is
    decoded by its byte-order mark and its XML declaration rewritten.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".mxl":
            raw = _read_mxl(path)
        else:
            raw = path.read_bytes()
    except (OSError, zipfile.BadZipFile, KeyError) as err:
        raise SourceError(f"cannot read MusicXML {path}: {err}") from None
    return _decode_xml(raw, path)


def _read_mxl(path: Path) -> bytes:
    """The root score file of a compressed MusicXML archive (META-INF/container.xml)."""
    import xml.etree.ElementTree as ET

    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        root_name = None
        if "META-INF/container.xml" in names:
            container = ET.fromstring(archive.read("META-INF/container.xml"))
            for element in container.iter():
                if element.tag.endswith("rootfile") and element.get("full-path"):
                    root_name = element.get("full-path")
                    break
        if root_name is None:
            candidates = [n for n in names if not n.startswith("META-INF/")
                          and n.lower().endswith((".xml", ".musicxml"))]
            if not candidates:
                raise SourceError(f"{path}: no MusicXML file inside the archive")
            root_name = candidates[0]
        return archive.read(root_name)


def _decode_xml(raw: bytes, path: Path) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = raw.decode("utf-16")
    else:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    head, sep, rest = text.partition("?>")
    if text.lstrip().startswith("<?xml") and sep:
        # The declaration may name another encoding; the text is UTF-8 now.
        text = '<?xml version="1.0" encoding="UTF-8"?>' + rest
    if "<score-partwise" not in text and "<score-timewise" not in text:
        raise SourceError(f"{path}: not a MusicXML score")
    return text


# --- accidentals a corpus file leaves to the reader -----------------------------

#: ``<accidental>`` texts some files use besides those of ``generate.ACCIDENTAL_NAMES``,
#: with their alteration.
_OTHER_ACCIDENTAL_TEXTS = {"sharp-sharp": 2, "double-flat": -2}
#: Elements that follow ``<accidental>`` in a ``<note>`` (MusicXML's order).
_AFTER_ACCIDENTAL = ("time-modification", "stem", "notehead", "notehead-text", "staff", "beam",
                     "notations", "lyric", "play", "listen")


def show_accidentals(musicxml: str) -> tuple[str, int]:
    """``musicxml`` with an ``<accidental>`` on every note whose alteration neither
    the key nor an earlier accidental of its measure implies, and how many were
    added.

    Some corpus files spell a pitch (``<alter>``) but leave its accidental to the
    program that opens them, and verovio prints only the accidentals a file gives:
    the page then shows a B where the source, and so the ground truth, has a B flat.
    What is implied is what the parser reads
    (:class:`omr.notation.pitch.MeasureAccidentals`): an accidental holds for its
    line and octave on its staff to the end of the measure, and a key signature until
    the next; a tie carries the alteration to the tied note only. Files that need
    nothing come back unchanged; so do ``score-timewise`` files and unreadable XML.

    >>> xml = ('<score-partwise><part id="P1"><measure number="1"><attributes>'
    ...        '<key><fifths>0</fifths></key></attributes>'
    ...        '<note><pitch><step>B</step><alter>-1</alter><octave>4</octave></pitch>'
    ...        '<duration>1</duration><type>quarter</type></note>'
    ...        '<note><pitch><step>B</step><alter>-1</alter><octave>4</octave></pitch>'
    ...        '<duration>1</duration></note></measure></part></score-partwise>')
    >>> text, added = show_accidentals(xml)
    >>> added, text.count("<accidental>flat</accidental>")
    (1, 1)
    """
    import xml.etree.ElementTree as ET

    from omr.notation.pitch import MeasureAccidentals
    from synth.generate import ACCIDENTAL_NAMES

    text_alter = {**{text: alter for alter, text in ACCIDENTAL_NAMES.items()}, **_OTHER_ACCIDENTAL_TEXTS}
    if "<score-partwise" not in musicxml:
        return musicxml, 0
    try:
        root = ET.fromstring(musicxml.encode("utf-8"))
    except ET.ParseError:
        return musicxml, 0
    added = 0
    for part in root.iter("part"):
        fifths: dict[str, int] = {}  # staff number ("" for all) -> key
        for measure in part.iter("measure"):
            timed, cursor, last_onset = [], 0, 0
            for order, child in enumerate(measure):
                if child.tag == "attributes":
                    for key in child.iter("key"):
                        text = key.findtext("fifths")
                        if text is not None and text.strip().lstrip("-").isdigit():
                            if key.get("number") is None:  # (one key for every staff)
                                fifths.clear()
                            fifths[key.get("number", "")] = int(text)
                elif child.tag in ("backup", "forward"):
                    step = int(float(child.findtext("duration", "0") or 0))
                    cursor += -step if child.tag == "backup" else step
                elif child.tag == "note":
                    onset = last_onset if child.find("chord") is not None else cursor
                    if child.find("chord") is None and child.find("grace") is None:
                        cursor += int(float(child.findtext("duration", "0") or 0))
                    last_onset = onset
                    timed.append((onset, order, child))
            staves: dict[str, MeasureAccidentals] = {}  # what is in force, per staff
            for _, _, note in sorted(timed, key=lambda t: t[:2]):
                pitch = note.find("pitch")
                if pitch is None or not pitch.findtext("octave", "").strip().isdigit():
                    continue
                step, octave = pitch.findtext("step", ""), int(pitch.findtext("octave"))
                alter_text = pitch.findtext("alter")
                alter = int(round(float(alter_text))) if alter_text else 0
                staff = note.findtext("staff", "1")
                state = staves.setdefault(staff, MeasureAccidentals(fifths.get(staff, fifths.get("", 0))))
                shown = note.find("accidental")
                if shown is not None and shown.text in text_alter:
                    state.set(step, octave, text_alter[shown.text])
                    continue
                if any(t.get("type") == "stop" for t in note.findall("tie")):
                    continue  # (the tie carries it; a later note of the line states it again)
                if alter == state.alter(step, octave) or alter not in ACCIDENTAL_NAMES:
                    continue
                if shown is None:  # (an empty one, as some files give, is filled in)
                    shown = ET.Element("accidental")
                    note.insert(next((i for i, c in enumerate(note) if c.tag in _AFTER_ACCIDENTAL),
                                     len(note)), shown)
                shown.text = ACCIDENTAL_NAMES[alter]
                state.set(step, octave, alter)
                added += 1
    if not added:
        return musicxml, 0
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode"), added
