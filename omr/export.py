"""Export a music21 score: MusicXML (validated), MIDI (unfolded, with mido), SVG (verovio).

- :func:`to_musicxml`, :func:`write_musicxml`: music21's MusicXML exporter, then a
  check against the MusicXML 4.0 XSD (:func:`validate_musicxml`). The schema ships
  in the package (``omr/schemas/musicxml-4.0/``) and its imports are resolved from
  there, so validation needs no network. music21 10.5's output validated in every
  case tried (the scores of ``synth.generate``, 66 MusicXML test files of
  ``music21.musicxml.testPrimitive``/``testFiles``, corpus pieces, hand-made scores
  with repeats, voltas, tuplets, lyrics, ties, dynamics, tempo marks, grace notes,
  grand staves), so the exported XML is not altered, except that the random ids
  music21 makes up for parts and instruments become "P1", "P1-I1", ... (the same
  score then always gives the same bytes).
- :func:`unfolded_notes`, :func:`to_midi`, :func:`write_midi`: the score played in
  order (:func:`omr.notation.repeats.unfold_measures`: repeats, endings,
  D.C./D.S./Coda/Fine), one note list that the MIDI file is written from and that
  alignment uses (``part, measure, score_qn, score_sec, pitch``).
- :func:`render_svg`: the score engraved by verovio, one SVG per page.

Conventions of the played notes (:class:`PlayedNote`):

- pitches sound (transposing instruments and octave lines are resolved);
- a tie's notes sound once, as the first note lengthened; a tie that does not
  continue straight on (a first ending's tie into the repeat) starts a new note;
- grace notes sound :data:`GRACE_NOTE_QN` each, just before the beat of the note
  they lead to (which keeps its onset);
- tempo from the score's metronome marks (their sounding number if set), changes
  honoured, :data:`DEFAULT_QPM` before the first; marks with only words
  ("Allegro") do not set a tempo;
- loudness from dynamics marks (:data:`DYNAMIC_VELOCITY`; mf before the first),
  per part in playing order; sf/sfz/fz accent the notes at the mark only;
  hairpins are not played;
- unpitched (percussion) notes are left out.

Examples
--------
>>> import music21
>>> from omr import export
>>> score = music21.converter.parse("tinyNotation: 4/4 c4 d e f g1")
>>> xml = export.to_musicxml(score)          # validated MusicXML 4.0
>>> xml[:5]
b'<?xml'
>>> [(n.pitch, n.onset_qn, n.onset_sec) for n in export.unfolded_notes(score)][:2]
[(60, 0.0, 0.0), (62, 1.0, 0.6)]
"""

from __future__ import annotations

import bisect
import functools
import importlib.resources
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from omr.errors import OmrError, ParameterError
from omr.notation.repeats import unfold_measures

__all__ = [
    "DEFAULT_QPM",
    "DEFAULT_VELOCITY",
    "DYNAMIC_VELOCITY",
    "GRACE_NOTE_QN",
    "TICKS_PER_QUARTER",
    "ExportError",
    "PlayedNote",
    "gm_program",
    "render_svg",
    "to_midi",
    "to_musicxml",
    "unfolded_notes",
    "validate_musicxml",
    "write_midi",
    "write_musicxml",
]


class ExportError(OmrError):
    """The score cannot be written: music21 cannot export it, the MusicXML does not
    validate against the MusicXML 4.0 schema, or verovio cannot engrave it."""


# ----------------------------------------------------------------- constants

#: Tempo (quarter notes per minute) of a score that marks none (the project's
#: nominal tempo; ``synth.unfold`` uses the same).
DEFAULT_QPM = 100.0

#: MIDI resolution: ticks per quarter note.
TICKS_PER_QUARTER = 480

#: How long a grace note sounds, in quarter notes (a 32nd note).
GRACE_NOTE_QN = 0.125

#: MIDI note-on velocity of each dynamics mark that sets a level.
DYNAMIC_VELOCITY = {
    "pppppp": 8, "ppppp": 12, "pppp": 20, "ppp": 31, "pp": 42, "p": 53, "mp": 64,
    "mf": 80, "f": 96, "ff": 112, "fff": 122, "ffff": 127, "fffff": 127, "ffffff": 127,
    "n": 8,
}

#: Velocity before the first dynamics mark: mezzo-forte.
DEFAULT_VELOCITY = DYNAMIC_VELOCITY["mf"]

#: Accents (velocity) that hold for the notes at the mark only.
ACCENT_VELOCITY = {"sf": 112, "sfz": 112, "sffz": 124, "fz": 112, "rf": 104, "rfz": 104,
                   "sfp": 112, "sfpp": 112, "fp": 96, "pf": 53}

#: Level after an accent that changes it (fp: loud, then soft).
LEVEL_AFTER_ACCENT = {"sfp": "p", "sfpp": "pp", "fp": "p", "pf": "f"}

#: Highest MIDI data value (velocity, pitch).
MIDI_MAX = 127

#: MIDI channels, and the one General MIDI keeps for percussion (0-based).
MIDI_CHANNELS = 16
PERCUSSION_CHANNEL = 9

#: General MIDI programs (0-based) used when an instrument's own is not set.
GM_ACOUSTIC_GRAND_PIANO = 0
GM_CHOIR_AAHS = 52

#: Instrument or part names (lower case, matched at a word start) to General MIDI
#: programs (0-based), first match wins; voices come last, so "Bass clarinet" and
#: "Alto saxophone" are instruments and "Bass" alone is a singer.
GM_PROGRAM_BY_NAME: tuple[tuple[tuple[str, ...], int], ...] = (
    (("piano", "pianoforte", "klavier", "keyboard", "pno", "pf"), GM_ACOUSTIC_GRAND_PIANO),
    (("electric piano",), 4),
    (("harpsichord", "cembalo", "clavecin"), 6),
    (("celesta",), 8),
    (("glockenspiel",), 9),
    (("vibraphone",), 11),
    (("marimba",), 12),
    (("xylophone",), 13),
    (("organ", "orgel"), 19),
    (("accordion",), 21),
    (("harmonica",), 22),
    (("guitar", "gitarre"), 24),
    (("violin", "violino", "vln", "vl"), 40),
    (("viola", "vla"), 41),
    (("violoncello", "cello", "vc"), 42),
    (("contrabass", "double bass", "kontrabass", "string bass", "cb"), 43),
    (("harp", "harfe", "arpa"), 46),
    (("timpani",), 47),
    (("trumpet", "tromba", "tpt"), 56),
    (("trombone", "tbn"), 57),
    (("tuba",), 58),
    (("english horn", "cor anglais"), 69),
    (("horn", "corno"), 60),
    (("soprano sax", "soprano saxophone"), 64),
    (("alto sax", "alto saxophone"), 65),
    (("tenor sax", "tenor saxophone"), 66),
    (("baritone sax", "baritone saxophone"), 67),
    (("saxophone", "sax"), 65),
    (("oboe", "oboi"), 68),
    (("bassoon", "fagott", "fagotto"), 70),
    (("clarinet", "klarinette", "clarinetto", "cl"), 71),
    (("piccolo",), 72),
    (("flute", "flauto", "flöte", "fl"), 73),
    (("recorder", "blockflöte"), 74),
    (("soprano", "mezzo", "alto", "contralto", "tenor", "baritone", "bass", "voice", "vocal",
      "voix", "stimme", "choir", "chorus", "coro", "singer", "canto", "cantus", "melody"),
     GM_CHOIR_AAHS),
)

#: Part names that are voice abbreviations (S, A, T, B, SA, SATB, ...).
_VOICE_ABBREVIATION = re.compile(r"^(?:[satb]\.?\s*){1,4}$", re.IGNORECASE)

#: How many schema errors an :class:`ExportError` quotes.
MAX_REPORTED_SCHEMA_ERRORS = 3

#: verovio page shape (A4: height / width) and the size limits of its options.
PAGE_ASPECT = 297.0 / 210.0
VEROVIO_PAGE_WIDTH_RANGE = (100, 100_000)
VEROVIO_SCALE_RANGE = (1, 1000)

#: Offsets closer than this (quarter notes) are the same time.
_EPS_QN = 1e-6

_SCHEMA_PACKAGE = "omr"
_SCHEMA_DIR = "schemas/musicxml-4.0"
_SCHEMA_MAIN = "musicxml-local.xsd"
_SCHEMA_IMPORTS = ("xml.xsd", "xlink.xsd")


# ------------------------------------------------------------------ MusicXML


def _schema_text(name: str) -> bytes:
    return (importlib.resources.files(_SCHEMA_PACKAGE) / _SCHEMA_DIR / name).read_bytes()


@functools.lru_cache(maxsize=1)
def _schema():
    """The MusicXML 4.0 XSD, its imports read from the package (never the network)."""
    from lxml import etree

    class _PackageResolver(etree.Resolver):
        def resolve(self, url, public_id, context):
            name = (url or "").rsplit("/", 1)[-1]
            if name in _SCHEMA_IMPORTS or name == _SCHEMA_MAIN:
                return self.resolve_string(_schema_text(name), context)
            return None

    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_PackageResolver())
    doc = etree.fromstring(_schema_text(_SCHEMA_MAIN), parser,
                           base_url=f"omr-package:/{_SCHEMA_DIR}/{_SCHEMA_MAIN}")
    return etree.XMLSchema(doc)


def validate_musicxml(xml: bytes | str) -> None:
    """Check MusicXML against the MusicXML 4.0 schema (XSD).

    Parameters
    ----------
    xml : bytes or str
        A MusicXML document (``score-partwise`` or ``score-timewise``). Its DOCTYPE
        is not fetched.

    Raises
    ------
    ExportError
        The text is not well-formed XML, or the schema rejects it; the message
        quotes the first errors with their line numbers.

    Examples
    --------
    >>> validate_musicxml(b"<score-partwise><part-list/></score-partwise>")
    Traceback (most recent call last):
    ...
    omr.export.ExportError: the MusicXML does not follow the MusicXML 4.0 schema: line 1: ...
    """
    from lxml import etree

    data = xml.encode("utf-8") if isinstance(xml, str) else bytes(xml)
    if isinstance(xml, str):
        data = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", data)
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    try:
        doc = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as err:
        raise ExportError(f"the MusicXML is not well-formed XML: {err}") from None
    schema = _schema()
    if schema.validate(doc):
        return
    errors = [f"line {e.line}: {e.message}" for e in schema.error_log]
    more = len(errors) - MAX_REPORTED_SCHEMA_ERRORS
    raise ExportError("the MusicXML does not follow the MusicXML 4.0 schema: "
                      + "; ".join(errors[:MAX_REPORTED_SCHEMA_ERRORS])
                      + (f" (and {more} more)" if more > 0 else ""))


#: An id music21 makes up for a part or instrument that has none of its own.
_RANDOM_ID = re.compile(rb'\bid="([PI][0-9a-f]{32})"')
_SCORE_PART = re.compile(rb'<score-part\b[^>]*\bid="([^"]+)"(.*?)</score-part>', re.DOTALL)


def _stable_ids(data: bytes) -> bytes:
    """Replace the random ids music21 gives parts and instruments that have none
    ("P3c4a96...") by MusicXML's usual "P1", "P1-I1", ..., so the same score
    always gives the same bytes."""
    if not _RANDOM_ID.search(data):
        return data
    taken = set(re.findall(rb'\bid="([^"]+)"', data))
    mapping: dict[bytes, bytes] = {}
    for k, block in enumerate(_SCORE_PART.finditer(data), start=1):
        part_id = block.group(1)
        if _RANDOM_ID.fullmatch(b'id="' + part_id + b'"'):
            new = b"P%d" % k
            while new in taken:
                new += b"_"
            taken.add(new)
            mapping[part_id] = new
        part_id = mapping.get(part_id, part_id)
        instruments = re.findall(rb'<score-instrument\b[^>]*\bid="([^"]+)"', block.group(2))
        for j, inst in enumerate(instruments, start=1):
            if _RANDOM_ID.fullmatch(b'id="' + inst + b'"'):
                new = part_id + b"-I%d" % j
                while new in taken:
                    new += b"_"
                taken.add(new)
                mapping[inst] = new
    return _RANDOM_ID.sub(lambda m: b'id="' + mapping.get(m.group(1), m.group(1)) + b'"', data)


def to_musicxml(score, *, validate: bool = True) -> bytes:
    """The score as MusicXML 4.0, written by music21's exporter.

    Parts and instruments that have no id of their own get "P1", "P1-I1", ...
    (music21 makes up random ones), so the same score always gives the same bytes.

    Parameters
    ----------
    score : music21.stream.Score
        The score; it is not changed.
    validate : bool
        Check the result against the MusicXML 4.0 schema (:func:`validate_musicxml`).

    Returns
    -------
    bytes
        The MusicXML document, UTF-8, with its XML declaration.

    Raises
    ------
    ExportError
        music21 cannot export the score (a duration it cannot express, say), or
        the result does not validate.

    Examples
    --------
    >>> import music21
    >>> xml = to_musicxml(music21.converter.parse("tinyNotation: 3/4 c4 d e"))
    >>> b"<score-partwise" in xml
    True
    """
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    try:
        data = GeneralObjectExporter(score).parse()
    except Exception as err:  # music21 raises many kinds here
        raise ExportError(f"music21 cannot write the score as MusicXML: {err}") from err
    finally:
        for _ in score.recurse():  # the exporter leaves elements' activeSite elsewhere:
            pass                   # point each back at its own container
    data = _stable_ids(data)
    if validate:
        validate_musicxml(data)
    return data


def write_musicxml(score, path, *, validate: bool = True) -> Path:
    """Write the score as a MusicXML 4.0 file (uncompressed ``.musicxml``).

    Parameters
    ----------
    score : music21.stream.Score
    path : str or os.PathLike
        Where to write it.
    validate : bool
        Check against the MusicXML 4.0 schema first; nothing is written if it fails.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ExportError
        See :func:`to_musicxml`.

    Examples
    --------
    >>> import music21, tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "song.musicxml")
    >>> write_musicxml(music21.converter.parse("tinyNotation: 4/4 c1"), out).exists()
    True
    """
    data = to_musicxml(score, validate=validate)
    path = Path(path)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------- played notes


@dataclass(frozen=True)
class PlayedNote:
    """One sounding note of the unfolded score (see the module's conventions).

    Attributes
    ----------
    part : int
        0-based part in score order; a grand staff (music21 ``PartStaff`` s in a
        ``StaffGroup``) is one part, as in the exported MusicXML.
    part_name : str
    staff : int
        0-based staff in the whole score (piano after a voice: 1 right hand, 2 left).
    measure : str
        The measure's number as printed (with its suffix, "12a").
    measure_index : int
        0-based index of the measure in the notated score (first part's measures).
    pitch : int
        MIDI pitch, sounding.
    onset_qn, duration_qn : float
        In quarter notes, in the unfolded timeline.
    onset_sec, duration_sec : float
        In seconds at the score's tempo (the MIDI file's own seconds).
    velocity : int
        MIDI velocity from the dynamics.
    repeat : int
        How many times this printed note has sounded before (0, then 1, ...).
    grace : bool
        A grace note.
    """

    part: int
    part_name: str
    staff: int
    measure: str
    measure_index: int
    pitch: int
    onset_qn: float
    duration_qn: float
    onset_sec: float
    duration_sec: float
    velocity: int = DEFAULT_VELOCITY
    repeat: int = 0
    grace: bool = False


@dataclass
class _Part:
    name: str
    staves: list  # music21 Part / PartStaff objects
    program: int = GM_ACOUSTIC_GRAND_PIANO
    channel: int = 0


@dataclass
class _Performance:
    """What the MIDI file is written from."""

    notes: list[PlayedNote]
    parts: list[_Part]
    tempos: list[tuple[float, float]]  # (onset qn, qpm), the first at 0
    time_signatures: list[tuple[float, int, int]] = field(default_factory=list)
    title: str = ""


class _TempoMap:
    """Quarter notes -> seconds for a piecewise-constant tempo [(qn, qpm)] from 0."""

    def __init__(self, tempos: list[tuple[float, float]]):
        self.qn = [q for q, _ in tempos]
        self.qpm = [b for _, b in tempos]
        self.sec = [0.0]
        for i in range(1, len(tempos)):
            self.sec.append(self.sec[-1] + (self.qn[i] - self.qn[i - 1]) * 60.0 / self.qpm[i - 1])

    def seconds(self, q: float) -> float:
        i = max(bisect.bisect_right(self.qn, q + _EPS_QN) - 1, 0)
        return self.sec[i] + (q - self.qn[i]) * 60.0 / self.qpm[i]


def gm_program(part) -> int:
    """The General MIDI program (0-based) a part plays with.

    The part's instrument's ``midiProgram`` when music21 has one, else a lookup of
    the instrument's and the part's names in :data:`GM_PROGRAM_BY_NAME` (a voice:
    choir aahs, 52), else acoustic grand piano (0).

    Parameters
    ----------
    part : music21.stream.Part

    Returns
    -------
    int

    Examples
    --------
    >>> from music21 import stream
    >>> p = stream.Part(); p.partName = "Violin I"
    >>> gm_program(p)
    40
    >>> p.partName = "Alto"; gm_program(p)
    52
    """
    from music21 import instrument

    inst = part.getInstrument(returnDefault=False)
    if inst is None:
        inst = next(iter(part.recurse().getElementsByClass(instrument.Instrument)), None)
    if inst is not None and inst.midiProgram is not None and 0 <= inst.midiProgram <= MIDI_MAX:
        return int(inst.midiProgram)
    names = [getattr(inst, "instrumentName", None), getattr(inst, "partName", None),
             part.partName]
    for name in names:
        if not name:
            continue
        low = str(name).strip().lower()
        for keys, program in GM_PROGRAM_BY_NAME:
            if any(re.search(rf"(?<![a-zäöü]){re.escape(k)}(?![a-zäöü])", low) for k in keys):
                return program
        if _VOICE_ABBREVIATION.match(low):
            return GM_CHOIR_AAHS
    return GM_ACOUSTIC_GRAND_PIANO


def _part_groups(score) -> list[list]:
    """The score's parts as MusicXML parts: music21 ``PartStaff`` s that a
    ``StaffGroup`` brackets are one part (music21's exporter joins them alike)."""
    from music21 import layout, stream

    parts = list(score.parts)
    groups = []
    for sg in score.getElementsByClass(layout.StaffGroup):
        members = list(sg.getSpannedElements())
        if (len(members) > 1 and all(isinstance(p, stream.PartStaff) for p in members)
                and all(p in parts for p in members)
                and all(p.getElementsByClass(stream.Measure) for p in members)
                and not any(tuple(members) == tuple(g) for g in groups)):
            groups.append(members)
    flat = [id(p) for g in groups for p in g]
    if len(flat) != len(set(flat)):
        groups = []  # overlapping groups: music21 joins none
    group_of = {id(p): g for g in groups for p in g}
    out, seen = [], set()
    for p in parts:
        g = group_of.get(id(p), [p])
        if id(g[0]) not in seen:
            seen.add(id(g[0]))
            out.append(sorted(g, key=parts.index))
    return out


def _playable(score):
    """The score with measures in every part, at sounding pitch (a copy if needed)."""
    from music21 import spanner, stream

    if not isinstance(score, stream.Score) or not score.parts:
        part = score
        if not isinstance(part, stream.Part):
            part = stream.Part()
            for el in score.elements:
                part.coreInsert(score.elementOffset(el), el)
            part.coreElementsChanged()
        score = stream.Score()
        score.insert(0, part)
    if any(not p.getElementsByClass(stream.Measure) for p in score.parts):
        score = score.makeNotation(inPlace=False)
    transposing = any(
        (i.transposition is not None and i.transposition.semitones != 0)
        for p in score.parts for i in p.recurse().getElementsByClass("Instrument"))
    transposing = transposing or any(
        o.transposing for o in score.recurse().getElementsByClass(spanner.Ottava))
    if transposing and score.atSoundingPitch is not True:
        score = score.toSoundingPitch(inPlace=False)
    return score


def _quarter_bpm(mark) -> float | None:
    """A metronome mark's tempo in quarter notes per minute; None for words only."""
    try:
        if getattr(mark, "numberSounding", None):
            q = mark.getQuarterBPM(useNumberSounding=True)
        elif mark.number is not None and not mark.numberImplicit:
            q = mark.getQuarterBPM()
        else:
            return None
    except (AttributeError, TypeError, ZeroDivisionError):
        return None
    return float(q) if q and q > 0 and math.isfinite(q) else None


def _measure_length(staff_measures: list) -> float:
    """A measure's length in quarter notes when its staves disagree (an overfull
    staff): the time signature's if some staff has it, else the longest; an empty
    measure lasts its time signature."""
    from music21.exceptions21 import Music21Exception

    lengths = [float(m.highestTime) for m in staff_measures]
    if not lengths:
        return 0.0
    if max(lengths) - min(lengths) < _EPS_QN and lengths[0] > _EPS_QN:
        return lengths[0]
    try:
        nominal = float(staff_measures[0].barDuration.quarterLength)
    except Music21Exception:  # no time signature in reach
        nominal = 0.0
    if max(lengths) < _EPS_QN:
        return nominal
    if nominal and any(abs(x - nominal) < _EPS_QN for x in lengths):
        return nominal
    return max(lengths)


@dataclass
class _Sound:
    onset: float  # quarter notes from the measure start (graces moved before the beat)
    duration: float
    pitches: list  # (midi, tie_start, tie_stop)
    grace: bool
    key: int  # id of the music21 note/chord (counts repeats)


def _measure_sounds(measure) -> list[_Sound]:
    """The sounding notes of one measure of one staff, in time order."""
    from music21 import note

    sounds = []
    graces: dict[tuple, list[_Sound]] = {}
    for el in measure.recurse().notes:
        if isinstance(el, note.Unpitched) or not hasattr(el, "pitches"):
            continue
        off = float(el.getOffsetInHierarchy(measure))
        grace = bool(el.duration.isGrace)
        components = el.notes if hasattr(el, "notes") and el.isChord else [el]
        pitches = []
        for n in components:
            if isinstance(n, note.Unpitched):
                continue
            tie = n.tie if n.tie is not None else getattr(el, "tie", None)
            kind = tie.type if tie is not None else ""
            midi = min(max(int(n.pitch.midi), 0), MIDI_MAX)
            pitches.append((midi, kind in ("start", "continue"), kind in ("stop", "continue")))
        if not pitches:
            continue
        s = _Sound(off, GRACE_NOTE_QN if grace else float(el.duration.quarterLength),
                   pitches, grace, id(el))
        sounds.append(s)
        if grace:
            graces.setdefault((id(el.activeSite), round(off, 6)), []).append(s)
    for run in graces.values():  # graces just before the beat, in order
        for i, s in enumerate(run):
            s.onset -= (len(run) - i) * GRACE_NOTE_QN
    sounds.sort(key=lambda s: s.onset)
    return sounds


def _dynamics(measure) -> list[tuple[float, str]]:
    from music21 import dynamics

    return [(float(d.getOffsetInHierarchy(measure)), str(d.value))
            for d in measure.recurse().getElementsByClass(dynamics.Dynamic)]


def _velocities(onsets: list[float], marks: list[tuple[float, str]]) -> list[int]:
    """Velocity of each note onset (sorted) from dynamics marks (time, value) in
    playing order."""
    out = []
    level = DEFAULT_VELOCITY
    accents: dict[float, int] = {}
    marks = sorted(marks, key=lambda m: m[0])
    k = 0
    for t in onsets:
        while k < len(marks) and marks[k][0] <= t + _EPS_QN:
            when, value = marks[k]
            if value in ACCENT_VELOCITY:
                accents[round(when, 6)] = ACCENT_VELOCITY[value]
                after = LEVEL_AFTER_ACCENT.get(value)
                if after:
                    level = DYNAMIC_VELOCITY[after]
            elif value in DYNAMIC_VELOCITY:
                level = DYNAMIC_VELOCITY[value]
            k += 1
        out.append(accents.get(round(t, 6), level))
    return out


def _perform(score, default_qpm: float) -> _Performance:
    """Unfold the score into sounding notes, tempos and time signatures."""
    from music21 import stream

    if not (default_qpm > 0 and math.isfinite(default_qpm)):
        raise ParameterError(f"default_qpm must be a positive number, not {default_qpm!r}")
    score = _playable(score)
    groups = _part_groups(score)
    if not groups:
        return _Performance([], [], [(0.0, float(default_qpm))])
    first = list(score.parts[0].getElementsByClass(stream.Measure))
    n = len(first)
    staff_measures = [[list(s.getElementsByClass(stream.Measure))[:n] for s in g] for g in groups]
    all_staves = [ms for g in staff_measures for ms in g]
    lengths = [_measure_length([ms[i] for ms in all_staves if i < len(ms)]) for i in range(n)]
    order = unfold_measures(score)

    # tempo marks per measure: the first staff that marks an offset wins
    from music21 import tempo as m21tempo

    marks_at: list[dict[float, float]] = [{} for _ in range(n)]
    for ms in all_staves:
        for i, m in enumerate(ms):
            for mm in m.recurse().getElementsByClass(m21tempo.MetronomeMark):
                q = _quarter_bpm(mm)
                if q is not None:
                    marks_at[i].setdefault(round(float(mm.getOffsetInHierarchy(m)), 6), q)

    channels = [c for c in range(MIDI_CHANNELS) if c != PERCUSSION_CHANNEL]
    parts = [_Part(name=str(g[0].partName or ""), staves=g, program=gm_program(g[0]),
                   channel=channels[gi % len(channels)]) for gi, g in enumerate(groups)]
    staff_base = []
    base = 0
    for g in groups:
        staff_base.append(base)
        base += len(g)

    sounds_cache: dict[tuple, list[_Sound]] = {}
    tempos: list[tuple[float, float]] = []
    time_signatures: list[tuple[float, int, int]] = []
    raw: list[list[dict]] = [[] for _ in groups]  # per part: sounding notes
    dyn: list[list[tuple[float, str]]] = [[] for _ in groups]
    open_ties: dict[tuple, dict] = {}
    plays: dict[int, int] = {}
    last_ts = None
    t = 0.0
    for mi in order:
        for off, q in sorted(marks_at[mi].items()):
            tempos.append((t + off, q))
        ts = first[mi].timeSignature
        if ts is not None and (ts.numerator, ts.denominator) != last_ts:
            last_ts = (ts.numerator, ts.denominator)
            time_signatures.append((t, ts.numerator, ts.denominator))
        for gi, g in enumerate(staff_measures):
            events = []
            for si, ms in enumerate(g):
                if mi >= len(ms):
                    continue
                key = (gi, si, mi)
                if key not in sounds_cache:
                    sounds_cache[key] = _measure_sounds(ms[mi])
                events += [(s, si) for s in sounds_cache[key]]
                dyn[gi] += [(t + off, v) for off, v in _dynamics(ms[mi])]
            events.sort(key=lambda e: e[0].onset)
            for s, si in events:
                onset = t + s.onset
                r = plays.get(s.key, 0)
                plays[s.key] = r + 1
                for midi, tie_start, tie_stop in s.pitches:
                    tk = (gi, midi)
                    prev = open_ties.get(tk)
                    if (not s.grace and tie_stop and prev is not None
                            and abs(prev["onset"] + prev["duration"] - onset) < _EPS_QN):
                        prev["duration"] += s.duration  # a tie's continuation
                        if not tie_start:
                            del open_ties[tk]
                        continue
                    ev = {"onset": max(onset, 0.0), "duration": s.duration, "pitch": midi,
                          "staff": staff_base[gi] + si, "measure": mi, "repeat": r,
                          "grace": s.grace}
                    raw[gi].append(ev)
                    if tie_start and not s.grace:
                        open_ties[tk] = ev
                    elif tk in open_ties and not s.grace:
                        del open_ties[tk]
        t += lengths[mi]

    if not tempos or tempos[0][0] > _EPS_QN:
        tempos.insert(0, (0.0, float(default_qpm)))
    merged: dict[float, float] = {}
    for q, bpm in tempos:
        merged[round(q, 6)] = bpm  # the later mark at the same time wins
    tempos = sorted(merged.items())
    clock = _TempoMap(tempos)

    notes = []
    for gi, evs in enumerate(raw):
        evs.sort(key=lambda e: (e["onset"], e["staff"], e["pitch"]))
        vel = _velocities([e["onset"] for e in evs], dyn[gi])
        for e, v in zip(evs, vel):
            s0 = clock.seconds(e["onset"])
            s1 = clock.seconds(e["onset"] + e["duration"])
            m = first[e["measure"]]
            notes.append(PlayedNote(
                part=gi, part_name=parts[gi].name, staff=e["staff"],
                measure=str(m.measureNumberWithSuffix()), measure_index=e["measure"],
                pitch=e["pitch"], onset_qn=round(e["onset"], 6),
                duration_qn=round(e["duration"], 6), onset_sec=round(s0, 6),
                duration_sec=round(s1 - s0, 6), velocity=int(v), repeat=e["repeat"],
                grace=e["grace"]))
    notes.sort(key=lambda n: (n.onset_qn, n.part, n.staff, n.pitch))
    title = ""
    if score.metadata is not None:
        title = str(score.metadata.title or "")
    return _Performance(notes, parts, tempos, time_signatures, title)


def unfolded_notes(score, *, default_qpm: float = DEFAULT_QPM) -> list[PlayedNote]:
    """Every sounding note of the score in playing order: the notes the MIDI file
    of :func:`write_midi` plays, with their place in the score.

    Parameters
    ----------
    score : music21.stream.Score
        The score; it is not changed.
    default_qpm : float
        Tempo (quarter notes per minute) before the first metronome mark.

    Returns
    -------
    list of PlayedNote
        Sorted by onset (then part, staff, pitch). ``dataclasses.asdict`` gives
        the alignment's columns (``part``, ``measure``, ``onset_qn`` = score_qn,
        ``onset_sec`` = score_sec, ``pitch``).

    Examples
    --------
    >>> import music21
    >>> from music21 import bar
    >>> s = music21.converter.parse("tinyNotation: 4/4 c1 d1")
    >>> s.getElementsByClass("Measure")[0].rightBarline = bar.Repeat(direction="end")
    >>> [(n.measure, n.pitch, n.onset_qn, n.repeat) for n in unfolded_notes(s)]
    [('1', 60, 0.0, 0), ('1', 60, 4.0, 1), ('2', 62, 8.0, 0)]
    """
    return _perform(score, default_qpm).notes


def to_midi(score, *, default_qpm: float = DEFAULT_QPM):
    """The unfolded score as a MIDI file (type 1), built with mido.

    Track 0 is the conductor track (title, tempo and time signatures), then one
    track per part (its name, program change, notes), each part on its own
    channel (channel 9, General MIDI percussion, is skipped; more than 15 parts
    share channels).

    Parameters
    ----------
    score : music21.stream.Score
    default_qpm : float
        Tempo before the first metronome mark.

    Returns
    -------
    mido.MidiFile

    Examples
    --------
    >>> import music21
    >>> mid = to_midi(music21.converter.parse("tinyNotation: 4/4 c4 d e f"))
    >>> len(mid.tracks), round(mid.length, 3)
    (2, 2.4)
    """
    return _midi_file(_perform(score, default_qpm))


def _midi_file(perf: _Performance):
    """The MIDI file of a performance (see :func:`to_midi`)."""
    import mido

    midi = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_QUARTER)

    def tick(q: float) -> int:
        return round(q * TICKS_PER_QUARTER)

    conductor = [(0, 0, mido.MetaMessage("track_name", name=perf.title or "conductor"))]
    for q, bpm in perf.tempos:
        conductor.append((tick(q), 1, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))))
    for q, num, den in perf.time_signatures:
        if den > 0 and den & (den - 1) == 0 and 0 < num <= MIDI_MAX:
            conductor.append((tick(q), 1, mido.MetaMessage(
                "time_signature", numerator=num, denominator=den)))
    midi.tracks.append(_track(conductor))
    for pi, part in enumerate(perf.parts):
        events = [(0, 0, mido.MetaMessage("track_name", name=part.name)),
                  (0, 1, mido.Message("program_change", channel=part.channel,
                                      program=part.program))]
        for n in perf.notes:
            if n.part != pi:
                continue
            on = tick(n.onset_qn)
            off = max(tick(n.onset_qn + n.duration_qn), on + 1)
            events.append((on, 3, mido.Message("note_on", channel=part.channel, note=n.pitch,
                                               velocity=max(1, min(n.velocity, MIDI_MAX)))))
            events.append((off, 2, mido.Message("note_off", channel=part.channel,
                                                note=n.pitch, velocity=0)))
        midi.tracks.append(_track(events))
    return midi


def _track(events: list[tuple[int, int, object]]):
    """A mido track from (absolute tick, order at equal ticks, message)."""
    import mido

    track = mido.MidiTrack()
    now = 0
    for t, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
        track.append(msg.copy(time=t - now))
        now = t
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def write_midi(score, path, *, default_qpm: float = DEFAULT_QPM) -> list[PlayedNote]:
    """Write the score, unfolded in playing order, as a Standard MIDI File.

    See :func:`to_midi` for the file's layout and the module docstring for how
    notes are played.

    Parameters
    ----------
    score : music21.stream.Score
    path : str or os.PathLike
        Where to write the ``.mid`` file.
    default_qpm : float
        Tempo (quarter notes per minute) before the first metronome mark.

    Returns
    -------
    list of PlayedNote
        The notes written (:func:`unfolded_notes`), in the file's timeline.

    Examples
    --------
    >>> import music21, tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "song.mid")
    >>> notes = write_midi(music21.converter.parse("tinyNotation: 4/4 c4 d e f"), out)
    >>> len(notes), os.path.getsize(out) > 0
    (4, True)
    """
    perf = _perform(score, default_qpm)
    _midi_file(perf).save(str(path))
    return perf.notes


# ------------------------------------------------------------------------ SVG


def verovio_toolkit():
    """A quiet verovio toolkit that finds its fonts on any thread: verovio 6.4's
    default resource path is only right on the main thread (Streamlit runs a page's
    script on another), so it is set to the package's data folder."""
    import verovio

    verovio.enableLog(verovio.LOG_OFF)
    tk = verovio.toolkit(False)
    data = Path(verovio.__file__).resolve().parent / "data"
    if not (data.is_dir() and tk.setResourcePath(str(data))):
        tk = verovio.toolkit()
    return tk


def render_svg(score, *, page_width: int = 2100, scale: int = 40) -> list[str]:
    """Engrave the score with verovio, one SVG document per page.

    Text is set in Liberation Serif where verovio offers it (option
    ``fontTextLiberation``), the pages are A4-shaped and scale with their
    ``viewBox``.

    Parameters
    ----------
    score : music21.stream.Score
    page_width : int
        Page width in verovio units (tenths of a millimetre at scale 100).
    scale : int
        verovio's scale in percent: the size of the music on the page and of the SVG.

    Returns
    -------
    list of str
        One SVG document per page.

    Raises
    ------
    ExportError
        music21 cannot write the score, or verovio cannot read it.
    ParameterError
        ``page_width`` or ``scale`` is outside verovio's range.

    Examples
    --------
    >>> import music21
    >>> pages = render_svg(music21.converter.parse("tinyNotation: 4/4 c4 d e f"))
    >>> len(pages), pages[0].lstrip().startswith("<svg")
    (1, True)
    """
    lo, hi = VEROVIO_PAGE_WIDTH_RANGE
    if not lo <= page_width <= hi:
        raise ParameterError(f"page_width must be between {lo} and {hi}, not {page_width}")
    lo, hi = VEROVIO_SCALE_RANGE
    if not lo <= scale <= hi:
        raise ParameterError(f"scale must be between {lo} and {hi}, not {scale}")
    xml = to_musicxml(score, validate=False).decode("utf-8")
    tk = engraving_toolkit(xml, page_width=int(page_width), scale=int(scale), adjust_page_height=False)
    return [tk.renderToSVG(page) for page in range(1, int(tk.getPageCount()) + 1)]


def engraving_toolkit(xml: str, *, page_width: int, scale: int, adjust_page_height: bool):
    """A :func:`verovio_toolkit` with ``xml`` (MusicXML text) loaded for engraving:
    SVG with a view box, no footer, stable ids, text in Liberation Serif.

    Raises :class:`ExportError` when verovio cannot read the score.
    """
    tk = verovio_toolkit()
    options = {"pageWidth": page_width, "pageHeight": round(page_width * PAGE_ASPECT),
               "scale": scale, "svgViewBox": True, "adjustPageHeight": adjust_page_height,
               "footer": "none", "xmlIdSeed": 1}
    if "fontTextLiberation" in tk.getOptions():
        options["fontTextLiberation"] = True
    tk.setOptions(options)
    tk.setInputFrom("musicxml")
    try:
        ok = tk.loadData(xml)
    except Exception as err:  # noqa: BLE001 - verovio raises plain RuntimeErrors
        raise ExportError(f"verovio cannot read the score: {err}") from None
    if not ok:
        raise ExportError("verovio cannot read the score's MusicXML")
    return tk
