"""The notes of a MusicXML score in unfolded playing order, matched to verovio's ids.

:func:`unfolded_notes` lists every sounding note of a score as a :class:`NoteEvent`
in playing order (repeats, endings, D.C./D.S./Coda/Fine taken), with onsets in
quarter notes and in seconds at the score's tempo.

Timing comes from the MusicXML itself (durations in divisions, ``<backup>``/
``<forward>``, ties, grace notes), the playing order from its repeat barlines (with
``times``), endings, segno/coda/fine/D.C./D.S. (``<sound>`` attributes or the
printed direction words), so it is exact whatever verovio's importer does with the
notes (it ignores, e.g., tuplets whose later groups print no number). Each
MusicXML note is then matched to its verovio id through verovio's MEI (same part
and measure; each run of notes between two ``<backup>`` s found, by its written
pitches, in the layer verovio put it in; see :func:`_match_ids`). The playing
order is :func:`omr.notation.repeats.playing_order` (one implementation for synth and
the OMR program; see it for the conventions), over the marks read here.
"""

from __future__ import annotations

import html
import io
import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from omr.notation.repeats import MeasureMarks, playing_order, read_words

log = logging.getLogger(__name__)

#: Tempo (quarter notes per minute) of a score that marks none; the project's MIDI
#: uses the same.
DEFAULT_QPM = 100.0


@dataclass
class NoteEvent:
    """A sounding note in unfolded playing order. Tied notes sound once (the tie's
    first note, lengthened); grace notes have duration 0 at the onset of the note
    they lead to; cue notes are left out. ``id`` is the verovio note id: the
    ``Symbol.id`` of its notehead box on its page ("" in the rare case the MusicXML
    note could not be matched to verovio's). Seconds follow the score's tempo marks
    (``<sound tempo>`` or ``<metronome>``), :data:`DEFAULT_QPM` before the first."""

    id: str
    page: int  # 1-based page the note is printed on
    part: int  # 0-based part (MusicXML <score-part>) in score order
    part_name: str
    staff: int  # 0-based staff in the whole score (piano: right hand 0, left hand 1)
    measure: str  # the measure's number as printed/encoded
    pitch: int  # MIDI, sounding
    onset_qn: float
    duration_qn: float
    onset_sec: float
    duration_sec: float
    #: How many times this printed note has sounded before (0 first pass, 1 repeat, ...).
    repeat: int = 0
    grace: bool = False


@dataclass
class UnfoldedNotes:
    """What :func:`unfolded_notes` returns."""

    #: Every sounding note in unfolded playing order.
    notes: list[NoteEvent]
    #: How the notes were unfolded: "musicxml" (exact) or "verovio" (fallback).
    method: str
    #: How many MusicXML notes found their verovio id (0 for "verovio").
    matched_ids: int = 0


def unfolded_notes(musicxml: str, toolkit) -> UnfoldedNotes:
    """Every sounding note of ``musicxml`` in unfolded playing order.

    ``toolkit`` is the ``verovio.toolkit()`` that has loaded ``musicxml``, with the
    layout the notes are to refer to: its MEI gives each note its verovio id (the
    ``Symbol.id`` of its notehead box) and the page it is printed on. Timing and
    playing order come from the MusicXML itself (see :func:`playing_order`);
    seconds follow the score's tempo marks, :data:`DEFAULT_QPM` before the first.
    When the MusicXML measures cannot be put in step with verovio's (timewise
    MusicXML, say), the notes come from verovio's timemap instead (repeats and
    endings, no D.C./D.S.) and ``.method`` says "verovio".
    """
    mei = _read_mei(toolkit.getMEI({"scoreBased": False}))
    score = _read_musicxml_score(musicxml)
    measure_map = _align_measures(score, mei) if score is not None else None
    if measure_map is None:
        log.warning("cannot read the MusicXML measures in step with verovio; notes from "
                    "verovio's timemap (no D.C./D.S.)")
        return UnfoldedNotes(_unfolded_notes_verovio(musicxml, toolkit, mei), "verovio")
    matched_ids = _match_ids(score, mei, measure_map)
    order = playing_order(score.measures)
    by_measure: dict[int, list[_XmlNote]] = {}
    for n in score.notes:
        if not n.cue:
            by_measure.setdefault(n.measure, []).append(n)
    events = []  # [onset, duration, note, repeat]
    tempos = []
    open_ties: dict[tuple, list] = {}
    plays: dict[int, int] = {}
    t = 0.0
    for mi in order:
        m = score.measures[mi]
        for off, q in m.tempos:
            tempos.append((t + off, q))
        for n in sorted(by_measure.get(mi, ()), key=lambda n: (n.onset, n.grace is False)):
            onset = t + n.onset
            key = (n.part, n.pitch)
            prev = open_ties.get(key)
            if n.tie_stop and prev is not None and abs(prev[0] + prev[1] - onset) < 1e-6:
                prev[1] += n.duration  # a tied continuation sounds as part of its first note
                if not n.tie_start:
                    del open_ties[key]
                continue
            r = plays.get(id(n), 0)
            plays[id(n)] = r + 1
            ev = [onset, n.duration, n, r]
            events.append(ev)
            if n.tie_start:
                open_ties[key] = ev
            elif key in open_ties:
                del open_ties[key]
        t += m.length
    if not score.has_tempo or not tempos:
        tempos = [(0.0, DEFAULT_QPM)]
    elif tempos[0][0] > 1e-9:
        tempos.insert(0, (0.0, DEFAULT_QPM))
    seconds = _tempo_clock(sorted(tempos))
    notes = []
    events.sort(key=lambda e: (e[0], e[2].staff, e[2].pitch))
    for onset, dur, n, rep in events:
        measure = mei.measures[measure_map[n.measure]]
        s0, s1 = seconds(onset), seconds(onset + dur)
        part = score.parts[n.part]
        notes.append(NoteEvent(
            id=n.id, page=measure[2], part=n.part, part_name=part[1], staff=n.staff,
            measure=score.measures[n.measure].number, pitch=n.pitch,
            onset_qn=round(onset, 6), duration_qn=round(dur, 6),
            onset_sec=round(s0, 6), duration_sec=round(s1 - s0, 6), repeat=rep, grace=n.grace))
    return UnfoldedNotes(notes, "musicxml", matched_ids)


# --------------------------------------------------------------------- MusicXML

_NAVIGATION_WORDS = re.compile(
    r"^\W*(?:d\.\s*c\.|d\.\s*s\.|da\s*capo|dal\s*segno|fine\b|to\s*coda)", re.I)
_WORDS = re.compile(r"<words\b[^>]*>([^<]*)<")
_NAVIGATION_ATTRS = re.compile(r"\b(?:dacapo|dalsegno|tocoda|fine)\s*=")
_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_BEAT_UNIT_QN = {"long": 16.0, "breve": 8.0, "whole": 4.0, "half": 2.0, "quarter": 1.0,
                 "eighth": 0.5, "16th": 0.25, "32nd": 0.125, "64th": 0.0625}


def has_navigation(musicxml: str) -> bool:
    """Whether the score has D.C./D.S./segno/coda/fine."""
    if "<segno" in musicxml or "<coda" in musicxml or _NAVIGATION_ATTRS.search(musicxml):
        return True
    return any(_NAVIGATION_WORDS.search(html.unescape(w)) for w in _WORDS.findall(musicxml))


@dataclass
class _XmlNote:
    part: int
    staff: int  # global, 0-based
    voice: str
    measure: int  # measure index
    onset: float  # quarter notes from the measure start
    duration: float
    written: int  # written MIDI pitch (for matching verovio's MEI)
    pitch: int  # sounding MIDI pitch
    tie_start: bool
    tie_stop: bool
    grace: bool
    cue: bool
    id: str = ""
    #: Where verovio's importer puts the note, for matching: the run of notes between
    #: two ``<backup>`` s of its part and measure (one verovio layer takes a whole run),
    #: the layer verovio chooses for the run (global staff, layer @n), and the chord
    #: (index of its first note in ``_XmlScore.notes``).
    run: int = 0
    layer: tuple = ()
    chord: int = -1


@dataclass
class _XmlMeasure(MeasureMarks):
    """A measure's navigation marks (:class:`MeasureMarks`: repeats, endings,
    segno/coda/Fine/D.C./D.S.) and its timing."""

    number: str = ""
    length: float = 0.0
    tempos: list = field(default_factory=list)  # (offset qn, qpm)
    part_lengths: list = field(default_factory=list)
    nominal: float = 0.0  # the time signature's length


@dataclass
class _XmlScore:
    parts: list  # (id, name, staves)
    measures: list
    notes: list
    has_tempo: bool


def _ending_numbers(text: str) -> tuple:
    return tuple(int(x) for x in re.findall(r"\d+", text or ""))


def _read_musicxml_score(musicxml: str) -> _XmlScore | None:
    """Notes (onsets in quarter notes within their measure) and measure marks of a
    partwise MusicXML score; None for timewise scores."""
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", musicxml)
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError:
        return None
    if root.tag != "score-partwise":
        return None
    names = {}
    for sp in root.iter("score-part"):
        names[sp.get("id")] = (sp.findtext("part-name") or "").strip()
    parts_el = root.findall("part")
    if not parts_el:
        return None
    n_measures = max(len(p.findall("measure")) for p in parts_el)
    measures = [_XmlMeasure(number="") for _ in range(n_measures)]
    notes: list[_XmlNote] = []
    parts = []
    staff_base = 0
    has_tempo = False
    open_endings: dict[str, tuple] = {}
    for pi, part in enumerate(parts_el):
        staves = 1
        for st in part.iter("staves"):
            staves = max(staves, int(st.text or 1))
            break
        parts.append((part.get("id"), names.get(part.get("id"), ""), staves))
        divisions = 1.0
        transpose = {}
        nominal = 0.0
        for mi, meas in enumerate(part.findall("measure")):
            mm = measures[mi]
            if not mm.number:
                mm.number = meas.get("number", str(mi + 1))
            cursor = 0.0
            end = 0.0
            last_onset = 0.0
            # verovio's importer puts a run of notes (up to the next <backup>) in one
            # layer: the voice of the run's first note (or voiced direction) on that
            # note's staff, on the part's first staff for the measure's first run
            run, run_layer, measure_started = 0, None, False
            head = None  # the last non-chord note (a chord's first note)
            for el in meas:
                tag = el.tag
                if run_layer is None and (tag == "note" or (
                        tag == "direction" and el.find("voice") is not None)):
                    v = (el.findtext("voice") or "1").strip()
                    run_layer = (staff_base + (int(el.findtext("staff") or 1) - 1
                                               if measure_started else 0),
                                 str(int(v)) if v.isdigit() else v)
                    measure_started = True
                if tag == "attributes":
                    d = el.findtext("divisions")
                    if d:
                        divisions = float(d)
                    tsig = el.find("time")
                    if tsig is not None:
                        try:
                            beats = sum(float(x) for x in
                                        re.findall(r"[\d.]+", tsig.findtext("beats") or ""))
                            nominal = beats * 4.0 / float(tsig.findtext("beat-type") or 4)
                        except (ValueError, ZeroDivisionError):
                            pass
                    for tr in el.findall("transpose"):
                        semi = int(float(tr.findtext("chromatic") or 0)) + 12 * int(
                            float(tr.findtext("octave-change") or 0))
                        num = tr.get("number")
                        if num:
                            transpose[int(num)] = semi
                        else:
                            transpose = {k: semi for k in range(1, staves + 1)}
                elif tag == "note":
                    is_chord = el.find("chord") is not None
                    grace = el.find("grace") is not None
                    if not is_chord:
                        head = el
                    dur = 0.0 if grace else float(el.findtext("duration") or 0) / divisions
                    onset = last_onset if is_chord else cursor
                    if not is_chord and not grace:
                        cursor += dur
                    last_onset = onset
                    end = max(end, cursor)
                    pitch_el = el.find("pitch")
                    if pitch_el is None:
                        pitch_el = el.find("unpitched")
                        step_tag, oct_tag = "display-step", "display-octave"
                    else:
                        step_tag, oct_tag = "step", "octave"
                    if pitch_el is None or el.find("rest") is not None:
                        continue
                    step = (pitch_el.findtext(step_tag) or "C").strip().upper()
                    written = (12 * (int(pitch_el.findtext(oct_tag) or 4) + 1) + _STEP.get(step, 0)
                               + int(round(float(pitch_el.findtext("alter") or 0))))
                    staff_no = int(el.findtext("staff") or 1)
                    ties = [t.get("type") for t in el.findall("tie")]
                    # a chord's notes are in its first note's voice, whatever they say
                    voice = ((head if is_chord and head is not None else el).findtext("voice")
                             or "1").strip()
                    if is_chord and notes and notes[-1].part == pi and notes[-1].measure == mi \
                            and notes[-1].run == run:
                        chord = notes[-1].chord
                    else:
                        chord = len(notes)
                    notes.append(_XmlNote(
                        part=pi, staff=staff_base + staff_no - 1, voice=voice,
                        measure=mi, onset=onset, duration=dur, written=written,
                        pitch=written + transpose.get(staff_no, 0), tie_start="start" in ties,
                        tie_stop="stop" in ties, grace=grace,
                        cue=el.find("cue") is not None, run=run, layer=run_layer, chord=chord))
                elif tag == "backup":
                    cursor -= float(el.findtext("duration") or 0) / divisions
                    run += 1
                    run_layer = None
                elif tag == "forward":
                    cursor += float(el.findtext("duration") or 0) / divisions
                    end = max(end, cursor)
                elif tag == "barline":
                    rep = el.find("repeat")
                    if rep is not None:
                        if rep.get("direction") == "forward":
                            mm.repeat_start = True
                        elif rep.get("direction") == "backward":
                            mm.repeat_end = True
                            if rep.get("times"):
                                mm.times = max(int(rep.get("times")), 1)
                    ending = el.find("ending")
                    if ending is not None:
                        nums = _ending_numbers(ending.get("number", ""))
                        kind = ending.get("type")
                        if kind == "start":
                            open_endings[ending.get("number", "")] = (mi, nums)
                        elif kind in ("stop", "discontinue"):
                            first, nums0 = open_endings.pop(ending.get("number", ""), (mi, nums))
                            for k in range(first, mi + 1):
                                measures[k].endings = nums0 or nums
                            measures[first].ending_first = True
                            measures[mi].ending_last = True
                    for snd in el.findall("sound"):
                        _sound_marks(snd, mm)
                    if el.find("segno") is not None:
                        mm.segno = True
                    if el.find("coda") is not None:
                        mm.coda = True
                elif tag in ("direction", "sound"):
                    sounds = [el] if tag == "sound" else el.findall("sound")
                    offset = cursor
                    if tag == "direction":
                        off = el.findtext("offset")
                        if off:
                            offset += float(off) / divisions
                    for snd in sounds:
                        _sound_marks(snd, mm)
                        if snd.get("tempo"):
                            try:
                                mm.tempos.append((max(offset, 0.0), float(snd.get("tempo"))))
                                has_tempo = True
                            except ValueError:
                                pass
                    if tag == "direction":
                        for dt in el.findall("direction-type"):
                            if dt.find("segno") is not None:
                                mm.segno = True
                            if dt.find("coda") is not None:
                                mm.coda = True
                            for w in dt.findall("words"):
                                _word_marks(w.text or "", mm)
                            met = dt.find("metronome")
                            if met is not None and not any(s.get("tempo") for s in sounds):
                                unit = _BEAT_UNIT_QN.get((met.findtext("beat-unit") or "").strip())
                                pm = met.findtext("per-minute")
                                try:
                                    if unit and pm:
                                        dotted = met.find("beat-unit-dot") is not None
                                        qpm = float(re.findall(r"[\d.]+", pm)[0]) * unit
                                        qpm *= 1.5 if dotted else 1.0
                                        mm.tempos.append((max(offset, 0.0), qpm))
                                        has_tempo = True
                                except (ValueError, IndexError):
                                    pass
            mm.part_lengths.append(max(end, cursor))
            if nominal and not mm.nominal:
                mm.nominal = nominal
        staff_base += staves
    for first, nums in open_endings.values():  # an ending never closed: one measure
        measures[first].endings = nums
        measures[first].ending_first = measures[first].ending_last = True
    for m in measures:
        # Parts that disagree (an overfull measure in one part): the time signature's
        # length if some part has it, else the longest.
        lengths = m.part_lengths or [0.0]
        if max(lengths) - min(lengths) < 1e-6:
            m.length = lengths[0]
        elif m.nominal and any(abs(x - m.nominal) < 1e-6 for x in lengths):
            m.length = m.nominal
        else:
            m.length = max(lengths)
    for m in measures:  # one tempo list per measure: the first part that marks it wins
        seen = {}
        for off, q in m.tempos:
            seen.setdefault(round(off, 6), q)
        m.tempos = sorted(seen.items())
    return _XmlScore(parts, measures, notes, has_tempo)


def _sound_marks(snd, mm: _XmlMeasure) -> None:
    if snd.get("segno"):
        mm.segno = True
    if snd.get("coda"):
        mm.coda = True
    if snd.get("tocoda"):
        mm.tocoda = True
    if snd.get("fine") is not None:
        mm.fine = True
    if (snd.get("dacapo") or "").lower() == "yes":
        mm.dacapo = True
    if snd.get("dalsegno"):
        mm.dalsegno = True


def _word_marks(text: str, mm: _XmlMeasure) -> None:
    read_words(html.unescape(text), mm)


# -------------------------------------------------- verovio ids through the MEI


@dataclass
class _MeiNote:
    id: str
    staff: int  # @n of the staff element it is encoded in
    layer: str
    measure: int
    written: int
    chord: str = ""  # xml:id of the <chord> it is in


@dataclass
class _MeiInfo:
    measures: list  # (xml:id, @n, page) in document order
    notes: list  # _MeiNote in document order


def _read_mei(mei: str) -> _MeiInfo:
    """What the notes need from verovio's page-based MEI (one parse)."""
    X = "{http://www.w3.org/XML/1998/namespace}id"
    measures, notes = [], []
    staff_n = 0
    layer_n = "1"
    page = 0
    note = None
    chord = ""
    for event, el in ET.iterparse(io.BytesIO(mei.encode("utf-8")), events=("start", "end")):
        tag = el.tag.rsplit("}", 1)[-1]
        if event == "start":
            if tag == "note":
                alter = el.get("accid") or el.get("accid.ges")
                # @oct.ges: the octave sounding under an 8va line (MusicXML's)
                note = [el.get(X), el.get("pname"), el.get("oct.ges") or el.get("oct"),
                        _ACCID_ALTER.get(alter, 0) if alter else None]
                loc = el.get("loc")
                if note[1] is None and loc and loc.lstrip("-").isdigit():
                    # unpitched: @loc counts staff steps from E4 (whatever the clef),
                    # like MusicXML's display-step/-octave
                    step = 30 + int(loc)  # E4 = 4 * 7 + 2
                    note[1], note[2] = "cdefgab"[step % 7], str(step // 7)
            elif tag == "chord":
                chord = el.get(X) or f"chord{len(notes)}"
            elif tag == "accid" and note is not None and note[3] is None:
                a = el.get("accid") or el.get("accid.ges")
                if a:
                    note[3] = _ACCID_ALTER.get(a, 0)
            elif tag == "measure":
                measures.append((el.get(X, ""), el.get("n", str(len(measures) + 1)), page))
            elif tag == "staff":
                staff_n = int(el.get("n", "1") or 1)
            elif tag == "layer":
                layer_n = el.get("n", "1")
            elif tag == "page":
                page += 1
        else:
            if tag == "note" and note is not None:
                nid, pname, octave, alter = note
                if nid and pname in _PITCH_CLASS and octave is not None:
                    written = 12 * (int(octave) + 1) + _PITCH_CLASS[pname] + (alter or 0)
                    notes.append(_MeiNote(nid, staff_n, layer_n, len(measures) - 1, written,
                                          chord))
                note = None
            elif tag == "chord":
                chord = ""
            elif tag in ("measure", "staff", "layer"):
                el.clear()
    return _MeiInfo(measures, notes)


_PITCH_CLASS = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_ACCID_ALTER = {"s": 1, "f": -1, "ss": 2, "x": 2, "ff": -2, "xs": 3, "sx": 3, "ts": 3,
                "tf": -3, "n": 0, "nf": -1, "ns": 1, "su": 1, "sd": 1, "fu": -1, "fd": -1}


def _align_measures(score: _XmlScore, mei: _MeiInfo) -> list[int] | None:
    """MEI measure ordinal of each MusicXML measure (verovio folds a multi-measure
    rest into one measure, so counts can differ); None if they do not line up."""
    xml_n = [m.number for m in score.measures]
    mei_n = [m[1] for m in mei.measures]
    if len(xml_n) == len(mei_n):
        return list(range(len(xml_n)))
    out, j = [], 0
    for num in xml_n:
        if j < len(mei_n) and mei_n[j] == num:
            out.append(j)
            j += 1
        elif j > 0:
            out.append(j - 1)  # inside a folded multi-measure rest
        else:
            return None
    return out if j == len(mei_n) else None


def _match_ids(score: _XmlScore, mei: _MeiInfo, measure_map: list[int]) -> int:
    """Give each MusicXML note its verovio id; returns how many were matched.

    Notes are matched per part and (verovio) measure. verovio's MusicXML importer
    puts each run of notes between two ``<backup>`` s in one layer, whatever the
    notes' ``<voice>`` (a chord's notes, a voice that changes without a
    ``<backup>``, cross-staff notes all stay in the run's layer), appending the
    runs that share a layer in document order. So each run is first found as a
    stretch of a layer with the same written pitches (chord notes compared in
    pitch order), preferring the stretch right after the layer's last matched run,
    then the layer verovio's rule picks (``_XmlNote.layer``); runs that are not
    found whole (a pitch verovio reads differently, a note it drops) are then
    aligned (:func:`_align`) to the layer that fits them best, in place rather
    than shifted. Notes verovio does not print (a measure repeat's) stay
    unmatched."""
    staff_part = []
    for pi, (_, _, staves) in enumerate(score.parts):
        staff_part += [pi] * staves
    xml_groups: dict[tuple, list[_XmlNote]] = {}
    for n in score.notes:
        xml_groups.setdefault((n.part, measure_map[n.measure]), []).append(n)
    mei_groups: dict[tuple, list[_MeiNote]] = {}
    for n in mei.notes:
        part = staff_part[n.staff - 1] if 0 < n.staff <= len(staff_part) else -1
        mei_groups.setdefault((part, n.measure), []).append(n)
    matched = 0
    for key, xs in xml_groups.items():
        ms = mei_groups.get(key)
        if ms:
            matched += _match_measure(xs, ms)
    return matched


def _chord_order(notes: list, chord) -> list:
    """``notes`` with the notes of each chord (consecutive, same ``chord(n)``, not
    empty) in ascending written pitch."""
    out, i = [], 0
    while i < len(notes):
        c = chord(notes[i])
        j = i + 1
        if c not in ("", None, -1):
            while j < len(notes) and chord(notes[j]) == c:
                j += 1
        out += sorted(notes[i:j], key=lambda n: n.written)
        i = j
    return out


def _match_measure(xs: list[_XmlNote], ms: list[_MeiNote]) -> int:
    """Match the MusicXML notes ``xs`` of one part and measure to verovio's ``ms``."""
    runs: dict[tuple, list[_XmlNote]] = {}
    for n in xs:
        runs.setdefault((n.measure, n.run), []).append(n)
    layers: dict[tuple, list[_MeiNote]] = {}
    for n in ms:
        layers.setdefault((n.staff, n.layer), []).append(n)
    layers = {k: _chord_order(v, lambda n: n.chord) for k, v in layers.items()}
    used: set[int] = set()  # id() of the MEI notes taken
    nxt = dict.fromkeys(layers, 0)  # where the next run of each layer should start
    matched = 0

    def take(run, notes):
        nonlocal matched
        for a, b in zip(run, notes):
            a.id = b.id
            used.add(id(b))
            matched += 1

    leftovers = []
    for rk, run in runs.items():
        run = _chord_order(run, lambda n: n.chord)
        seq = [n.written for n in run]
        hint = (run[0].layer[0] + 1, run[0].layer[1]) if run[0].layer else None
        best = None  # (rank, layer, start)
        for lk, lm in layers.items():
            for start in range(len(lm) - len(seq) + 1):
                part = lm[start:start + len(seq)]
                if [m.written for m in part] != seq or any(id(m) in used for m in part):
                    continue
                rank = (start != nxt[lk], lk != hint, start)
                if best is None or rank < best[0]:
                    best = (rank, lk, start)
                if start == nxt[lk]:
                    break
        if best is None:
            leftovers.append(run)
            continue
        _, lk, start = best
        take(run, layers[lk][start:start + len(seq)])
        nxt[lk] = start + len(seq)
    # runs not found whole: aligned to the layer whose free notes fit them best
    for run in leftovers:
        hint = (run[0].layer[0] + 1, run[0].layer[1]) if run[0].layer else None
        best = None
        for lk, lm in layers.items():
            free = [m for m in lm if id(m) not in used]
            if not free:
                continue
            pairs = _align([n.written for n in run], [m.written for m in free])
            same = sum(1 for i, j in pairs if run[i].written == free[j].written)
            rank = (same, lk == hint)
            if same and (best is None or rank > best[0]):
                best = (rank, pairs, free)
        if best is not None:
            matched += _take_pairs(run, best[2], best[1], used)
    # whatever is left: one alignment over the whole measure
    rest_x = [n for run in runs.values() for n in _chord_order(run, lambda n: n.chord)
              if not n.id]
    rest_m = [m for lm in layers.values() for m in lm if id(m) not in used]
    if rest_x and rest_m:
        pairs = _align([n.written for n in rest_x], [m.written for m in rest_m])
        matched += _take_pairs(rest_x, rest_m, pairs, used)
    return matched


def _plausible(d: int) -> bool:
    """A written-pitch difference that a misread accidental or octave explains."""
    return abs(d) <= 2 or d % 12 == 0


def _take_pairs(xs: list[_XmlNote], ms: list[_MeiNote], pairs: list, used: set) -> int:
    """Give ``xs[i]`` the id of ``ms[j]`` for aligned pairs: equal pitches, and
    unequal ones where the alignment is mostly equal or the difference is
    plausible (an accidental verovio reads differently)."""
    same = sum(1 for i, j in pairs if xs[i].written == ms[j].written)
    n = 0
    for i, j in pairs:
        a, b = xs[i], ms[j]
        if a.id or id(b) in used:
            continue
        d = a.written - b.written
        if d == 0 or _plausible(d) or same >= len(pairs) - same:
            a.id = b.id
            used.add(id(b))
            n += 1
    return n


_GAP, _SUB, _SUB_FAR = 1.0, 1.5, 1.9


def _align(a: list[int], b: list[int]) -> list[tuple[int, int]]:
    """Index pairs of a least-cost alignment of two pitch sequences (a note left
    out costs 1, a pitch changed less than 2: in place beats shifted)."""
    import difflib

    n, m = len(a), len(b)
    if not n or not m:
        return []
    if n * m > 250_000:  # too big for the table: difflib's runs
        pairs = []
        sm = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
        for op, a0, a1, b0, b1 in sm.get_opcodes():
            if op == "equal" or (op == "replace" and a1 - a0 == b1 - b0):
                pairs += [(a0 + t, b0 + t) for t in range(a1 - a0)]
        return pairs
    cost = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i * _GAP
    for j in range(1, m + 1):
        cost[0][j] = j * _GAP
    for i in range(1, n + 1):
        row, prev, ai = cost[i], cost[i - 1], a[i - 1]
        for j in range(1, m + 1):
            d = ai - b[j - 1]
            sub = 0.0 if d == 0 else (_SUB if _plausible(d) else _SUB_FAR)
            row[j] = min(prev[j - 1] + sub, prev[j] + _GAP, row[j - 1] + _GAP)
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        d = a[i - 1] - b[j - 1]
        sub = 0.0 if d == 0 else (_SUB if _plausible(d) else _SUB_FAR)
        if abs(cost[i][j] - (cost[i - 1][j - 1] + sub)) < 1e-9:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif abs(cost[i][j] - (cost[i - 1][j] + _GAP)) < 1e-9:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


# -------------------------------------------------- fallback: verovio's timemap


def _score_parts(musicxml: str) -> list[tuple[str, str, int]]:
    """(part id, part name, number of staves) in score order."""
    names = {}
    for m in re.finditer(r'<score-part\s[^>]*id="([^"]+)"[^>]*>(.*?)</score-part>', musicxml, re.S):
        nm = re.search(r"<part-name[^>]*>(.*?)</part-name>", m.group(2), re.S)
        names[m.group(1)] = html.unescape(nm.group(1)).strip() if nm else ""
    starts = [(m.start(), m.group(1)) for m in re.finditer(r'<part\s[^>]*id="([^"]+)"', musicxml)]
    staves = {}
    for i, (pos, pid) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(musicxml)
        sm = re.search(r"<staves>\s*(\d+)\s*</staves>", musicxml[pos:end])
        staves[pid] = int(sm.group(1)) if sm else 1
    return [(pid, names[pid], staves.get(pid, 1)) for pid in names]


def _base_id(i: str) -> str:
    return re.sub(r"-rend\d+$", "", i)


def _unfolded_notes_verovio(musicxml: str, tk, mei: _MeiInfo) -> list[NoteEvent]:
    """Fallback: verovio's own expansion (repeats and voltas, not D.C./D.S.)."""
    info = {n.id: n for n in mei.notes}
    tm = tk.renderToTimemap({"includeMeasures": True, "includeRests": False})
    off_q = {}
    for e in tm:
        for i in e.get("off", ()):
            off_q[i] = float(e["qstamp"])
    parts = _score_parts(musicxml)
    staff_part, names = [], []
    for pi, (_, name, k) in enumerate(parts):
        staff_part += [pi] * k
        names.append(name)
    tempos = [(float(e["qstamp"]), float(e["tempo"])) for e in tm if "tempo" in e]
    if not re.search(r"<sound[^>]*\btempo=|<per-minute>", musicxml) or not tempos:
        tempos = [(0.0, DEFAULT_QPM)]
    seconds = _tempo_clock(sorted(tempos))
    plays: dict[str, int] = {}
    notes = []
    for e in tm:
        for i in e.get("on", ()):
            base = _base_id(i)
            n = info.get(base)
            if n is None:
                continue
            q = float(e["qstamp"])
            dur = off_q.get(i, q) - q
            r = plays.get(base, 0)
            plays[base] = r + 1
            si = n.staff - 1
            part = staff_part[si] if 0 <= si < len(staff_part) else 0
            pitch = int(tk.getMIDIValuesForElement(base).get("pitch", n.written))
            s0, s1 = seconds(q), seconds(q + dur)
            notes.append(NoteEvent(
                id=base, page=mei.measures[n.measure][2], part=part,
                part_name=names[part] if part < len(names) else "", staff=si,
                measure=mei.measures[n.measure][1], pitch=pitch, onset_qn=round(q, 6),
                duration_qn=round(dur, 6), onset_sec=round(s0, 6), duration_sec=round(s1 - s0, 6),
                repeat=r))
    return notes


# ------------------------------------------------------------------------ tempo


def _tempo_clock(tempos: list[tuple[float, float]]):
    """q -> seconds for a piecewise-constant tempo map [(q, qpm)] starting at q=0."""
    import bisect

    qs = [q for q, _ in tempos]
    bpm = [max(b, 1e-6) for _, b in tempos]
    acc = [0.0]
    for i in range(1, len(tempos)):
        acc.append(acc[-1] + (qs[i] - qs[i - 1]) * 60.0 / bpm[i - 1])

    def seconds(q: float) -> float:
        i = max(bisect.bisect_right(qs, q) - 1, 0)
        return acc[i] + (q - qs[i]) * 60.0 / bpm[i]

    return seconds
