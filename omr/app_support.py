"""What the Streamlit app (``app.py``) does, as plain functions testable without Streamlit.

The app only lays out widgets and keeps results in ``st.session_state``; every
computation it runs is here, so it can be tested (``tests/test_app.py``) and so
every use of the library's APIs by the app is in one place:

- **Pages.** :class:`PageInput` (a photo's name and bytes), :func:`page_inputs`
  (uploads in the student's order), :func:`load_page` (decoded photo, errors named
  after the file), :func:`transcribe_pages` (the pipeline with progress).
- **The photo.** :func:`overlay_image` (detected symbols drawn by role, faint when
  unsure, only the chosen classes, scaled down for the screen), :func:`legend_html`.
- **The engraved score.** :func:`engrave` (verovio SVG pages plus what the page
  needs to mark and follow notes: every unfolded note's verovio id, measure and
  staff ids, lyric syllables), :func:`report_marks` (inferred notation and measures
  that do not add up, placed on measures), :func:`score_html` (the SVG pages with
  the marks, and when following a recording, an audio player that highlights the
  sounding notes and lyric syllables).
- **Playback and downloads.** :func:`musicxml_bytes`, :func:`midi_bytes`,
  :func:`playback_wav` (FluidSynth, chosen tempo, a part muted or alone).
- **A recording.** :func:`load_recording`, :func:`separate_stem`,
  :func:`align_recording`, :func:`compare_recording`, :func:`follow_events`,
  :func:`tempo_table`, :func:`departures`, :func:`confidence_message`.
- **Errors.** :func:`friendly_error`: the message shown in the page for any
  failure (never a traceback).
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import logging
import re
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omr.errors import OmrError

log = logging.getLogger("omr.app")

# ----------------------------------------------------------------- constants

#: Longest side (px) of the photo shown in the page (the detections are scaled with it).
DISPLAY_MAX_SIDE_PX = 1400
#: Default lowest detection score drawn on the photo.
DEFAULT_MIN_SCORE = 0.3
#: verovio layout of the engraved score on screen (verovio units, percent).
SCREEN_PAGE_WIDTH = 2100
SCREEN_SCALE = 40
#: A recording longer than this (seconds) is refused: separation and alignment of
#: longer ones take minutes on a laptop.
MAX_RECORDING_SECONDS = 15 * 60
#: Sample rate (Hz) of the recording played in the follow view (MP3, mono).
FOLLOW_AUDIO_RATE = 22050
#: Sample rate (Hz) of the score's playback.
PLAYBACK_RATE = 22050
#: Below this alignment confidence the app says the recording may be of another piece.
LOW_CONFIDENCE = 0.5
#: Timing departures smaller than this (seconds) are not listed.
DEPARTURE_MIN_SEC = 0.1
#: Shortest time (seconds) a note stays highlighted.
MIN_HIGHLIGHT_SEC = 0.08
#: Tempo range (quarter notes per minute) offered for playback.
TEMPO_RANGE = (30, 240)
#: The stems a student can follow, and what the app calls them.
STEM_LABELS = {"mix": "the whole recording (mix)", "vocals": "the vocals",
               "accompaniment": "the accompaniment"}
#: Part names that mean a voice (lower case, whole word at the start).
VOICE_WORDS = ("voice", "vocal", "vox", "singer", "soprano", "mezzo", "alto", "contralto",
               "tenor", "baritone", "bass voice", "choir", "chorus", "canto", "melody", "s.", "a.",
               "t.", "b.")
#: Colours of the marks on the engraved score (CSS).
MARK_COLOURS = {"warning": "213, 0, 0", "inferred": "230, 115, 0"}
#: Colour of the notes that sound now, and of the lyric syllable sung now.
PLAYING_COLOUR = "#1565c0"
SYLLABLE_COLOUR = "#c62828"

_SVG_NS = "http://www.w3.org/2000/svg"
_XML_ID = "{http://www.w3.org/XML/1998/namespace}id"


# --------------------------------------------------------------------- errors


def friendly_error(err: BaseException, what: str = "") -> str:
    """The message shown in the page for ``err`` (never a traceback).

    An :class:`~omr.errors.OmrError` carries a message written for the user; for
    anything else (a bug) the page says what failed and the details go to the log.
    """
    if isinstance(err, OmrError):
        return str(err).strip() or type(err).__name__  # may start with a file name: kept as is
    if isinstance(err, MemoryError):
        return f"There was not enough memory{' for ' + what if what else ''}; try a smaller file."
    log.error("unexpected error%s", f" while {what}" if what else "", exc_info=err)
    detail = str(err).strip().splitlines()
    detail = detail[-1][:200] if detail else type(err).__name__
    return (f"Something went wrong{' while ' + what if what else ''} ({type(err).__name__}: "
            f"{detail}). This is a bug in the program, not a problem with your file.")


# ---------------------------------------------------------------------- pages


@dataclass(frozen=True)
class PageInput:
    """One photo the student gave: a stable ``key`` (from name and content), the
    file name and its bytes."""

    key: str
    name: str
    data: bytes = field(repr=False)


def content_key(*parts: bytes | str) -> str:
    """A short stable hash of bytes and strings."""
    h = hashlib.sha1()
    for p in parts:
        h.update(p.encode("utf-8") if isinstance(p, str) else bytes(p))
        h.update(b"\0")
    return h.hexdigest()[:16]


def make_pages(files: Sequence[tuple[str, bytes]]) -> list[PageInput]:
    """``(name, bytes)`` pairs → pages with unique keys (a file given twice is two pages)."""
    out, seen = [], {}
    for name, data in files:
        key = content_key(name, data)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = f"{key}-{seen[key]}"
        out.append(PageInput(key, name, data))
    return out


def reconcile_order(order: Sequence[str], keys: Sequence[str]) -> list[str]:
    """The student's page order after the set of pages changed: the pages still
    there keep their order, new ones go to the end in the order given."""
    present = set(keys)
    out = [k for k in order if k in present]
    out += [k for k in keys if k not in out]
    return out


def move(order: Sequence[str], key: str, delta: int) -> list[str]:
    """``order`` with ``key`` moved ``delta`` places (clipped to the ends)."""
    out = list(order)
    if key not in out:
        return out
    i = out.index(key)
    j = min(max(i + delta, 0), len(out) - 1)
    out.insert(j, out.pop(i))
    return out


def pages_fingerprint(pages: Sequence[PageInput]) -> str:
    """Identifies a transcription's input: the pages' contents in order (not their
    names: the same photo under another name is not read again)."""
    return content_key(*[content_key(p.data) for p in pages]) if pages else ""


def load_page(page: PageInput) -> np.ndarray:
    """The photo as RGB (EXIF orientation applied); an ``ImageError`` names the file."""
    from omr.errors import ImageError
    from omr.page import load_image

    try:
        return load_image(page.data)
    except ImageError as err:
        msg = str(err).replace("the image data", page.name)
        if page.name not in msg:
            msg = f"{page.name}: {msg}"
        raise ImageError(msg) from None


def transcribe_pages(pages: Sequence[PageInput], *, model=None, ocr: bool = True,
                     progress: Callable[[str, float], None] | None = None):
    """Photos → (:class:`omr.pipeline.Transcription`, one :class:`Preview` per photo).

    Raises :class:`~omr.errors.OmrError` (with the file's name) for a photo that is
    not an image, too large, or shows no music.
    """
    from omr.errors import NoMusicError
    from omr.pipeline import transcribe

    if not pages:
        from omr.errors import ParameterError

        raise ParameterError("there are no photos to read")
    images = []
    for i, p in enumerate(pages):
        if progress:
            progress(f"opening {p.name}", 0.05 * i / len(pages))
        images.append(load_page(p))
    current = [0]  # the page being read (from the pipeline's progress), 0-based

    def step(text: str, fraction: float) -> None:
        m = re.match(r"page (\d+) of", text)
        if m:
            current[0] = int(m.group(1)) - 1
            text = f"{pages[current[0]].name}: {text.split(':', 1)[-1].strip()}"
        if progress:
            progress(text, 0.05 + 0.95 * fraction)

    try:
        result = transcribe(images, model=model, ocr=ocr, progress=step)
    except NoMusicError as err:
        name = pages[min(current[0], len(pages) - 1)].name
        msg = re.sub(r"^page \d+:\s*", "", str(err))
        raise NoMusicError(f"{name}: no music found ({msg})") from None
    untitled(result.score)
    return result, [Preview.of(im) for im in images]


def untitled(score) -> None:
    """Give a score without a title an empty one (in place), so that MusicXML and
    the engraving do not call it "Music21 Fragment"."""
    from music21 import metadata

    md = score.metadata
    if md is None:
        score.metadata = metadata.Metadata(title="")
    elif not md.title:
        md.title = ""


# ------------------------------------------------------------------ the photo


@dataclass
class Preview:
    """A photo shrunk for the screen (``image``) and the factor from the photo's
    pixels to its pixels (``scale``): the full-size photo is not kept."""

    image: np.ndarray = field(repr=False)
    scale: float

    @classmethod
    def of(cls, rgb: np.ndarray, max_side: int = DISPLAY_MAX_SIDE_PX) -> Preview:
        small, f = scaled(rgb, max_side)
        return cls(np.ascontiguousarray(small), f)


def scaled(rgb: np.ndarray, max_side: int = DISPLAY_MAX_SIDE_PX) -> tuple[np.ndarray, float]:
    """``rgb`` shrunk so its longest side is at most ``max_side``, and the factor."""
    import cv2

    h, w = rgb.shape[:2]
    f = min(1.0, max_side / max(h, w))
    if f >= 1.0:
        return rgb, 1.0
    return cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))),
                      interpolation=cv2.INTER_AREA), f


def class_counts(detections, min_score: float = 0.0) -> dict[str, int]:
    """How many detections of each class (score ≥ ``min_score``), most frequent first."""
    counts: dict[str, int] = {}
    for d in detections:
        if d.score >= min_score:
            counts[d.cls] = counts.get(d.cls, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def role_of(cls: str) -> str:
    from omr import vocab

    row = vocab.CLASSES.get(cls)
    return row.role if row is not None else ""


def photo_detections(transcription, index: int) -> list:
    """The detections on photo ``index`` of a transcription (in its pixels): those
    of every page read from it (a photo of an open book holds two)."""
    return [d for k, result in zip(transcription.page_photos(), transcription.detections) if k == index
            for d in result.detections]


def overlay_image(photo, detections, *, classes=None, min_score: float = DEFAULT_MIN_SCORE,
                  max_side: int = DISPLAY_MAX_SIDE_PX) -> np.ndarray:
    """The photo (an RGB array, shrunk for the screen, or a :class:`Preview`) with
    the detections of ``classes`` (all when None) drawn by role, solid when sure
    and faint when not."""
    from omr.detect.overlay import draw_detections
    from omr.detect.types import Detection

    preview = photo if isinstance(photo, Preview) else Preview.of(photo, max_side)
    f = preview.scale
    keep = None if classes is None else set(classes)
    dets = [Detection(d.cls, tuple(float(v) * f for v in d.box), d.score) for d in detections
            if keep is None or d.cls in keep]
    return draw_detections(preview.image, dets, min_score=min_score, thickness=2)


def legend_html(classes: Sequence[str]) -> str:
    """Coloured chips naming the roles of ``classes`` (the overlay's colours)."""
    from omr.detect.overlay import role_colours

    colours = role_colours()
    roles = sorted({role_of(c) for c in classes} - {""})
    chips = []
    for r in roles:
        rgb = colours.get(r, (255, 0, 0))
        chips.append(f'<span style="display:inline-block;margin:0 .6em .2em 0">'
                     f'<span style="display:inline-block;width:.9em;height:.9em;border:2px solid '
                     f'rgb{rgb};vertical-align:-.1em;margin-right:.25em"></span>{html.escape(r)}</span>')
    return "".join(chips)


# -------------------------------------------------------------- engraved score


@dataclass
class Engraving:
    """The engraved score and what the page needs to mark and follow it.

    ``svgs``: one SVG document per page. ``notes``: the unfolded notes of the
    MusicXML (``synth.unfold.NoteEvent``: verovio ``id``, part, pitch, onset in
    quarter notes, repeat). ``measures``: per measure of the score (in order)
    ``(measure id, {staff n: staff id})``. ``syllables``: note id → its lyric
    syllables ``[(verse n, syl id, text, wordpos)]``. ``part_names``: per part.
    """

    svgs: list[str]
    notes: list = field(default_factory=list)
    measures: list = field(default_factory=list)
    syllables: dict = field(default_factory=dict)
    part_names: list = field(default_factory=list)

    @property
    def lyric_parts(self) -> set[int]:
        """Parts with lyrics."""
        return {n.part for n in self.notes if n.id in self.syllables}

    def match(self, notes) -> list:
        """The engraved note (``NoteEvent`` or None) of each note of an unfolded note
        list (``omr.audio.align.ScoreNote`` or ``omr.export.PlayedNote``: part,
        pitch, onset in quarter notes): same part and pitch at the same onset, else
        the nearest onset within a quarter note."""
        by_key: dict[tuple, list] = {}
        by_pitch: dict[tuple, list] = {}
        for e in self.notes:
            if not e.id:
                continue
            by_key.setdefault((e.part, e.pitch, round(e.onset_qn, 3)), []).append(e)
            by_pitch.setdefault((e.part, e.pitch), []).append(e)
        out = []
        for n in notes:
            qn = float(getattr(n, "score_qn", getattr(n, "onset_qn", 0.0)))
            cands = by_key.get((int(n.part), int(n.pitch), round(qn, 3)))
            if cands:
                out.append(cands.pop(0) if len(cands) > 1 else cands[0])
                continue
            near = by_pitch.get((int(n.part), int(n.pitch)), [])
            best = min(near, key=lambda e: abs(e.onset_qn - qn), default=None)
            out.append(best if best is not None and abs(best.onset_qn - qn) <= 1.0 else None)
        return out


def _toolkit(xml: str):
    from omr import export

    return export.engraving_toolkit(xml, page_width=SCREEN_PAGE_WIDTH, scale=SCREEN_SCALE,
                                    adjust_page_height=True)


def read_mei(mei: str) -> tuple[list, dict]:
    """From verovio's MEI: per measure ``(id, {staff n: staff id})`` in document
    order, and note id → ``[(verse n, syl id, text, wordpos)]``."""
    root = ET.fromstring(mei.encode("utf-8"))
    measures, syllables = [], {}
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "measure":
            staves = {}
            for st in el:
                if st.tag.rsplit("}", 1)[-1] == "staff":
                    try:
                        staves[int(st.get("n", "0"))] = st.get(_XML_ID, "")
                    except ValueError:
                        pass
            measures.append((el.get(_XML_ID, ""), staves))
        elif tag == "note":
            nid = el.get(_XML_ID, "")
            found = []
            for verse in el.iter():
                if verse.tag.rsplit("}", 1)[-1] != "verse":
                    continue
                try:
                    vn = int(verse.get("n", "1"))
                except ValueError:
                    vn = 1
                for syl in verse.iter():
                    if syl.tag.rsplit("}", 1)[-1] == "syl":
                        text = "".join(syl.itertext()).strip()
                        if text:
                            found.append((vn, syl.get(_XML_ID, ""), text, syl.get("wordpos", "")))
            if nid and found:
                syllables[nid] = sorted(found)
    return measures, syllables


def engrave(score, *, musicxml: bytes | None = None) -> Engraving:
    """Engrave ``score`` with verovio for the screen (see :class:`Engraving`).

    ``musicxml``: the score's MusicXML when already written (``to_musicxml``).
    Raises :class:`omr.export.ExportError` when the score cannot be engraved.
    """
    from omr import export

    xml = (musicxml if musicxml is not None else export.to_musicxml(score, validate=False)).decode("utf-8")
    tk = _toolkit(xml)
    svgs = [tk.renderToSVG(p) for p in range(1, int(tk.getPageCount()) + 1)]
    notes, part_names = [], []
    try:
        from synth.unfold import unfolded_notes

        notes = unfolded_notes(xml, tk).notes
    except Exception as err:  # noqa: BLE001 - following notes is optional; the score still shows
        log.warning("cannot match the score's notes to the engraving: %s", err)
    measures, syllables = [], {}
    try:
        measures, syllables = read_mei(tk.getMEI())
    except Exception as err:  # noqa: BLE001
        log.warning("cannot read verovio's MEI: %s", err)
    for n in notes:
        while len(part_names) <= n.part:
            part_names.append("")
        part_names[n.part] = part_names[n.part] or n.part_name
    return Engraving(svgs=svgs, notes=notes, measures=measures, syllables=syllables,
                     part_names=part_names)


@dataclass(frozen=True)
class Mark:
    """A frame drawn on the engraved score: ``target`` (a measure or staff id),
    ``kind`` ("warning" or "inferred"), ``text`` (the report's words)."""

    target: str
    kind: str
    text: str


def report_marks(report, engraving: Engraving) -> list[Mark]:
    """The report's entries that name a measure, as frames on that measure (on its
    staff when the entry names one). Entries on one target are joined."""
    by_target: dict[tuple[str, str], list[str]] = {}
    for kind, items in (("warning", report.warnings), ("inferred", report.inferred)):
        for i in items:
            if not i.measure or not 0 < i.measure <= len(engraving.measures):
                continue
            mid, staves = engraving.measures[i.measure - 1]
            target = staves.get(i.staff, "") if i.staff else ""
            target = target or mid
            if target:
                by_target.setdefault((target, kind), []).append(i.detail)
    marks = []
    for (target, kind), texts in by_target.items():
        if kind == "inferred" and (target, "warning") in by_target:
            continue  # a warning frame already marks it; its words are in the report
        marks.append(Mark(target, kind, "; ".join(dict.fromkeys(texts))))
    return marks


def report_lines(report) -> tuple[list[str], list[str]]:
    """The report in words: (what was inferred, what is doubtful), one line each."""
    def line(i) -> str:
        where = i.where()
        text = i.detail[0].upper() + i.detail[1:] if i.detail else i.kind
        return text + (f" ({where})" if where else "")

    return [line(i) for i in report.inferred], [line(w) for w in report.warnings]


_PAGE_CSS = """
body { margin: 0; font-family: "Source Sans Pro", "Liberation Sans", sans-serif; background: #fff; }
#omr-player { position: sticky; top: 0; z-index: 5; background: #fff; padding: 4px 0 6px 0;
  border-bottom: 1px solid #ddd; }
#omr-player audio { width: 100%; }
#omr-lyrics { font-size: 17px; line-height: 1.6; padding: 2px 4px; max-height: 3.4em; overflow: hidden; }
#omr-lyrics span { color: #888; }
#omr-lyrics span.past { color: #222; }
#omr-lyrics span.now { color: SYL; font-weight: bold; }
.omr-page { margin: 0 0 10px 0; border: 1px solid #e3e3e3; }
.omr-page > svg { width: 100%; height: auto; display: block; }
rect.omr-mark-warning { fill: rgba(WARN, 0.10); stroke: rgba(WARN, 0.85); stroke-width: 6px; }
rect.omr-mark-inferred { fill: rgba(INFER, 0.10); stroke: rgba(INFER, 0.85); stroke-width: 6px;
  stroke-dasharray: 18 10; }
g.omr-playing > :not(.verse), g.omr-playing > :not(.verse) * {
  fill: PLAY !important; stroke: PLAY !important; color: PLAY !important; }
g.omr-sylnow, g.omr-sylnow * { fill: SYL !important; font-weight: bold; }
""".replace("SYL", SYLLABLE_COLOUR).replace("WARN", MARK_COLOURS["warning"]).replace(
    "INFER", MARK_COLOURS["inferred"]).replace("PLAY", PLAYING_COLOUR)

_PAGE_JS = r"""
(function () {
  const NS = "http://www.w3.org/2000/svg";
  const MARKS = __MARKS__;
  const EVENTS = __EVENTS__;   // [on, off, note id, syllable id or "", lyric index or -1], by on
  const LYRICS = __LYRICS__;   // [[on, syllable index]] by on
  for (const m of MARKS) {
    const el = document.getElementById(m.target);
    if (!el || typeof el.getBBox !== "function") continue;
    let bb;
    try { bb = el.getBBox(); } catch (e) { continue; }
    if (!bb || bb.width <= 0) continue;
    const r = document.createElementNS(NS, "rect");
    const pad = 30;
    r.setAttribute("x", bb.x - pad); r.setAttribute("y", bb.y - pad);
    r.setAttribute("width", bb.width + 2 * pad); r.setAttribute("height", bb.height + 2 * pad);
    r.setAttribute("class", "omr-mark-" + m.kind);
    const t = document.createElementNS(NS, "title"); t.textContent = m.text; r.appendChild(t);
    el.insertBefore(r, el.firstChild);
  }
  document.body.setAttribute("data-marks", String(document.querySelectorAll("rect[class^=omr-mark]").length));
  const audio = document.getElementById("omr-audio");
  if (!audio) return;
  let lit = [];
  let litSyl = null;
  let lyricNow = -1;
  const maxDur = EVENTS.reduce((a, e) => Math.max(a, e[1] - e[0]), 0);
  function firstAfter(arr, t) {  // index of the first entry whose on > t
    let lo = 0, hi = arr.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (arr[mid][0] <= t) lo = mid + 1; else hi = mid; }
    return lo;
  }
  function update() {
    const t = audio.currentTime;
    const end = firstAfter(EVENTS, t);
    const now = [];
    for (let i = end - 1; i >= 0 && EVENTS[i][0] >= t - maxDur; i--) {
      if (EVENTS[i][1] > t) now.push(EVENTS[i][2]);
    }
    const key = now.join(" ");
    if (key !== lit.join(" ")) {
      for (const id of lit) { const el = document.getElementById(id); if (el) el.classList.remove("omr-playing"); }
      for (const id of now) { const el = document.getElementById(id); if (el) el.classList.add("omr-playing"); }
      if (now.length) {
        const el = document.getElementById(now[0]);
        if (el) {
          const r = el.getBoundingClientRect();
          const top = document.getElementById("omr-player").getBoundingClientRect().bottom;
          if (r.top < top || r.bottom > window.innerHeight) el.scrollIntoView({block: "center"});
        }
      }
      lit = now;
      document.body.setAttribute("data-playing", String(now.length));
    }
    const li = firstAfter(LYRICS, t) - 1;
    if (li !== lyricNow) {
      const spans = document.querySelectorAll("#omr-lyrics span");
      spans.forEach((s, k) => { s.className = k < (li >= 0 ? LYRICS[li][1] : 0) ? "past" : ""; });
      if (litSyl) { const el = document.getElementById(litSyl); if (el) el.classList.remove("omr-sylnow"); litSyl = null; }
      if (li >= 0) {
        const s = spans[LYRICS[li][1]];
        if (s) { s.className = "now"; s.scrollIntoView({block: "nearest", inline: "nearest"}); }
        const sid = s ? s.getAttribute("data-syl") : "";
        const el = sid ? document.getElementById(sid) : null;
        if (el) { el.classList.add("omr-sylnow"); litSyl = sid; }
      }
      lyricNow = li;
      document.body.setAttribute("data-syllable", String(li >= 0 ? LYRICS[li][1] : -1));
    }
  }
  let running = false;
  function loop() { update(); if (running) requestAnimationFrame(loop); }
  audio.addEventListener("play", () => { running = true; loop(); });
  audio.addEventListener("pause", () => { running = false; update(); });
  audio.addEventListener("ended", () => { running = false; update(); });
  audio.addEventListener("seeked", update);
  audio.addEventListener("timeupdate", update);
  window.omrFollow = { update: update, events: EVENTS.length, times: EVENTS.map(e => e[0]),
                       lit: () => lit.slice() };
})();
"""


def score_html(engraving: Engraving, marks: Sequence[Mark] = (), *, follow: dict | None = None) -> str:
    """A self-contained HTML page: the engraved pages with ``marks``, and with
    ``follow`` (``{"audio": data URL, "events": [...], "lyrics": [...]}`` from
    :func:`follow_view`) an audio player that highlights the notes sounding at its
    ``currentTime`` and lights the lyrics syllable by syllable."""
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><style>", _PAGE_CSS, "</style></head><body>"]
    events, lyric_on = [], []
    if follow:
        parts.append(f'<div id="omr-player"><audio id="omr-audio" controls preload="auto" '
                     f'src="{follow["audio"]}"></audio>')
        lyrics = follow.get("lyrics") or []
        if lyrics:
            spans = "".join(f'<span data-syl="{html.escape(s["syl"])}">{html.escape(s["text"])}</span>'
                            for s in lyrics)
            parts.append(f'<div id="omr-lyrics">{spans}</div>')
            lyric_on = [[round(s["on"], 3), k] for k, s in enumerate(lyrics)]
        parts.append("</div>")
        events = [[round(e[0], 3), round(e[1], 3), e[2]] for e in follow.get("events", [])]
    for k, svg in enumerate(engraving.svgs, start=1):
        parts.append(f'<div class="omr-page" id="omr-page-{k}">{_strip_xml_decl(svg)}</div>')
    js = (_PAGE_JS.replace("__MARKS__", json.dumps([m.__dict__ for m in marks]))
          .replace("__EVENTS__", json.dumps(events)).replace("__LYRICS__", json.dumps(lyric_on)))
    parts.append(f"<script>{js}</script></body></html>")
    return "".join(parts)


def view_height(engraving: Engraving, width_px: int, *, follow: bool = False, limit: int | None = None) -> int:
    """Height (px) of :func:`score_html` shown ``width_px`` wide (its SVG pages' aspect
    from their viewBox), at most ``limit``."""
    total = 0.0
    for svg in engraving.svgs:
        m = re.search(r'viewBox="\s*[-\d.]+[\s,]+[-\d.]+[\s,]+([\d.]+)[\s,]+([\d.]+)', svg[:2000])
        ratio = float(m.group(2)) / float(m.group(1)) if m and float(m.group(1)) > 0 else 297 / 210
        total += width_px * ratio + 12
    total += 110 if follow else 0
    total = int(total) + 20
    return min(total, limit) if limit else total


def _strip_xml_decl(svg: str) -> str:
    s = svg.lstrip()
    if s.startswith("<?xml"):
        s = s[s.index("?>") + 2:]
    return s


# ---------------------------------------------------- playback and downloads


def musicxml_bytes(score) -> tuple[bytes, str]:
    """The score's MusicXML, validated against the schema; when validation fails,
    the unvalidated file and a note saying so (the student still gets a file)."""
    from omr import export

    try:
        return export.to_musicxml(score), ""
    except export.ExportError as err:
        return export.to_musicxml(score, validate=False), (
            f"The MusicXML did not pass the schema check ({err}); some programs may complain.")


def midi_bytes(score) -> bytes:
    """The score as a Standard MIDI File (unfolded, the score's own tempo)."""
    from omr import export

    with tempfile.TemporaryDirectory(prefix="omr-app-") as tmp:
        path = Path(tmp) / "score.mid"
        export.write_midi(score, path)
        return path.read_bytes()


def nominal_qpm(score) -> float:
    """The score's first tempo (quarter notes per minute), or the default tempo."""
    from music21 import tempo

    from omr import export

    for mm in score.recurse().getElementsByClass(tempo.MetronomeMark):
        try:
            q = mm.getQuarterBPM()
        except Exception:  # noqa: BLE001 - music21 raises on incomplete marks
            q = None
        if q and q > 0:
            return float(q)
    return float(export.DEFAULT_QPM)


def score_parts(midi: bytes) -> list[str]:
    """Names of the parts of a score's MIDI file (:func:`midi_bytes`: one track per
    part after the conductor track, a piano's two staves one part)."""
    import mido

    mid = mido.MidiFile(file=io.BytesIO(midi))
    names = []
    for k, track in enumerate(mid.tracks[1:], start=1):
        name = next((m.name for m in track if m.type == "track_name"), "") or f"Part {k}"
        names.append(name)
    return names


def playback_midi(midi: bytes, *, tempo_factor: float = 1.0, parts: Sequence[int] | None = None) -> bytes:
    """The MIDI file played ``tempo_factor`` times as fast, with only ``parts``
    (0-based; None: all) sounding."""
    import mido

    if not tempo_factor > 0:
        from omr.errors import ParameterError

        raise ParameterError(f"the tempo factor must be positive, not {tempo_factor}")
    mid = mido.MidiFile(file=io.BytesIO(midi))
    keep = None if parts is None else set(parts)
    for ti, track in enumerate(mid.tracks):
        silent = keep is not None and ti >= 1 and (ti - 1) not in keep
        new, carry = [], 0
        for msg in track:
            if silent and msg.type in ("note_on", "note_off"):
                carry += msg.time
                continue
            if msg.type == "set_tempo":
                msg = msg.copy(tempo=max(1, min(16777215, round(msg.tempo / tempo_factor))))
            new.append(msg.copy(time=msg.time + carry))
            carry = 0
        track[:] = new
    out = io.BytesIO()
    mid.save(file=out)
    return out.getvalue()


def playback_wav(midi: bytes, *, tempo_factor: float = 1.0, parts: Sequence[int] | None = None,
                 sample_rate: int = PLAYBACK_RATE) -> bytes:
    """The score played by FluidSynth (General MIDI soundfont) as WAV bytes."""
    from omr.audio.synth import render_to_wav

    with tempfile.TemporaryDirectory(prefix="omr-app-") as tmp:
        mid = Path(tmp) / "play.mid"
        mid.write_bytes(playback_midi(midi, tempo_factor=tempo_factor, parts=parts))
        wav = render_to_wav(mid, Path(tmp) / "play.wav", sample_rate=sample_rate)
        return wav.read_bytes()


# ------------------------------------------------------------------ recording


@dataclass
class Recording:
    """A loaded recording: ``audio`` (channels, n) at its own rate ``sr`` (for
    separation), and its ``name``/``key``."""

    name: str
    key: str
    audio: np.ndarray = field(repr=False)
    sr: int

    @property
    def seconds(self) -> float:
        return self.audio.shape[-1] / float(self.sr)

    def mono(self, sr: int) -> np.ndarray:
        from omr.audio.io import resample

        return resample(self.audio.mean(axis=0), self.sr, sr)


def load_recording(name: str, data: bytes) -> Recording:
    """Decode an uploaded recording (WAV, FLAC, OGG, MP3).

    Raises :class:`omr.audio.io.AudioError` (naming the file) when it cannot be
    read, holds no sound, is silent or too long.
    """
    from omr.audio.io import AUDIO_SUFFIXES, AudioError
    from omr.audio.separate import load_audio_file

    if not data:
        raise AudioError(f"{name} is empty")
    suffix = Path(name).suffix.lower()
    with tempfile.TemporaryDirectory(prefix="omr-app-") as tmp:
        path = Path(tmp) / ("recording" + (suffix if suffix in AUDIO_SUFFIXES else ".bin"))
        path.write_bytes(data)
        try:
            audio, sr = load_audio_file(path)
        except AudioError as err:
            msg = str(err).replace(str(path), name)
            if "cannot be read" in msg:
                msg = (f"{name} cannot be read as a recording; use a WAV, FLAC, OGG or MP3 file "
                       f"({', '.join(AUDIO_SUFFIXES)})")
            raise AudioError(msg) from None
    rec = Recording(name=name, key=content_key(name, data), audio=np.asarray(audio, np.float32), sr=int(sr))
    if rec.seconds > MAX_RECORDING_SECONDS:
        raise AudioError(f"{name} is {rec.seconds / 60:.0f} minutes long; recordings up to "
                         f"{MAX_RECORDING_SECONDS // 60} minutes can be followed")
    if rec.seconds < 1.0:
        raise AudioError(f"{name} is only {rec.seconds:.1f} s long; too short to follow the score")
    return rec


def separate_stem(rec: Recording, stem: str, *, model=None) -> np.ndarray:
    """The mono ``stem`` ("vocals" or "accompaniment") of the recording, at its rate."""
    from omr.audio.io import AudioError
    from omr.audio.separate import separate

    stems = separate(rec.audio, rec.sr, model=model)
    y = np.asarray(stems[stem], np.float32)
    y = y.mean(axis=0) if y.ndim == 2 else y
    if not np.any(np.abs(y) > 10 ** (-60 / 20)):
        raise AudioError(f"the {stem} of {rec.name} are silent: the recording seems to have no "
                         f"{'singing' if stem == 'vocals' else 'accompaniment'}; follow the mix instead")
    return y


def default_parts(stem: str, engraving: Engraving, n_parts: int) -> list[int]:
    """The score parts a stem plays: the vocals the parts with lyrics or a voice's
    name, the accompaniment the others, the mix all (never none)."""
    everything = list(range(n_parts))
    if stem == "mix" or n_parts <= 1:
        return everything
    names = [(engraving.part_names[i] if i < len(engraving.part_names) else "").lower() for i in everything]
    vocal = {i for i in everything if i in engraving.lyric_parts
             or any(names[i] == w or names[i].startswith(w + " ") or names[i].startswith(w)
                    for w in VOICE_WORDS if len(w) > 2)}
    if not vocal:
        vocal = {0}
    chosen = sorted(vocal) if stem == "vocals" else [i for i in everything if i not in vocal]
    return chosen or everything


def align_recording(score, audio: np.ndarray, sr: int, *, parts: Sequence[int] | None = None):
    """Align the notes of ``parts`` (all when None) of the score to ``audio`` (mono)."""
    from omr.audio.align import AlignmentError, align, score_notes

    notes = score_notes(score)
    if parts is not None:
        keep = set(parts)
        notes = [n for n in notes if n.part in keep]
        if not notes:
            raise AlignmentError("the chosen parts of the score have no notes to follow")
    return align(notes, audio, sr)


def compare_recording(alignment):
    """Timing, missed and added notes (:func:`omr.audio.compare.compare`)."""
    from omr.audio.compare import compare

    return compare(alignment)


def confidence_message(alignment) -> str:
    """A warning when the recording does not seem to play this score ("" when it does)."""
    c = float(alignment.confidence)
    if c >= LOW_CONFIDENCE:
        return ""
    return (f"This recording does not seem to be of this piece (confidence {c:.0%}). "
            "The notes highlighted while it plays may be wrong. Is it the right recording, "
            "and the right part to follow?")


def _cut_repeats(alignment, s: np.ndarray) -> np.ndarray:
    """Score seconds → the warping path's score axis (repeats not taken removed)."""
    s = np.asarray(s, dtype=float)
    cut = np.zeros_like(s)
    for j in getattr(alignment, "repeats", []) or []:
        if getattr(j, "taken", None) is False:
            a, b = j.first_pass
            cut += np.where(s >= b - 1e-9, b - a, 0.0)
    return s - cut


def follow_events(alignment, engraving: Engraving) -> tuple[list, list]:
    """What the follow view lights when.

    Returns ``(events, lyrics)``: events ``[on, off, note id]`` (recording seconds,
    sorted by ``on``) for every aligned note found in the engraving, and lyrics
    ``[{"on", "syl", "text"}]``, the syllables in the order they are sung (the
    verse of the repeat being played, text with a hyphen inside a word).
    """
    notes = alignment.notes
    onset = np.asarray(alignment.onset_sec, dtype=float)
    s_on = np.array([n.score_sec for n in notes], dtype=float)
    s_off = s_on + np.array([max(n.duration_sec, 0.0) for n in notes], dtype=float)
    ps, pa = alignment.path_score_sec, alignment.path_audio_sec
    if ps is not None and len(ps) > 1:
        off = np.interp(_cut_repeats(alignment, s_off), ps, pa)
    else:
        off = onset + (s_off - s_on)
    off = np.maximum(off, onset + MIN_HIGHLIGHT_SEC)
    matched = engraving.match(notes)
    events, lyrics, sung = [], [], set()
    for i, e in enumerate(matched):
        if e is None or not np.isfinite(onset[i]):
            continue
        events.append([float(onset[i]), float(off[i]), e.id])
        verses = engraving.syllables.get(e.id)
        if verses and (e.id, e.repeat) not in sung:
            sung.add((e.id, e.repeat))
            v = verses[min(int(e.repeat), len(verses) - 1)]
            _, syl_id, text, wordpos = v
            text = text + ("-" if wordpos in ("i", "m") else " ")
            lyrics.append({"on": float(onset[i]), "syl": syl_id, "text": text})
    events.sort(key=lambda e: (e[0], e[2]))
    lyrics.sort(key=lambda s: s["on"])
    return events, lyrics


def audio_data_url(y: np.ndarray, sr: int) -> str:
    """A ``data:`` URL of mono audio (MP3 when libsndfile writes it, else WAV)."""
    import soundfile as sf

    y = np.clip(np.asarray(y, np.float32), -1.0, 1.0)
    buf = io.BytesIO()
    try:
        sf.write(buf, y, int(sr), format="MP3", subtype="MPEG_LAYER_III")
        mime = "audio/mpeg"
    except Exception:  # noqa: BLE001 - libsndfile without MP3 support
        buf = io.BytesIO()
        sf.write(buf, y, int(sr), format="WAV", subtype="PCM_16")
        mime = "audio/wav"
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def wav_bytes(y: np.ndarray, sr: int) -> bytes:
    """16-bit WAV bytes of mono or (channels, n) audio."""
    import soundfile as sf

    a = np.asarray(y, np.float32)
    a = a.T if a.ndim == 2 else a
    buf = io.BytesIO()
    sf.write(buf, np.clip(a, -1.0, 1.0), int(sr), format="WAV", subtype="PCM_16")
    return buf.getvalue()


def follow_view(alignment, engraving: Engraving, audio: np.ndarray, sr: int) -> dict:
    """The ``follow`` argument of :func:`score_html` for a recording (mono ``audio``)."""
    events, lyrics = follow_events(alignment, engraving)
    from omr.audio.io import resample

    y = resample(np.asarray(audio, np.float32), sr, FOLLOW_AUDIO_RATE)
    return {"audio": audio_data_url(y, FOLLOW_AUDIO_RATE), "events": events, "lyrics": lyrics}


def tempo_table(alignment, nominal: float | None = None):
    """The tempo curve as a table: recording seconds → quarter notes per minute
    (and the score's tempo when ``nominal`` is given)."""
    import pandas as pd

    tc = alignment.tempo
    x = np.asarray(getattr(tc, "audio_sec", []), dtype=float)
    y = np.asarray(getattr(tc, "qpm", []), dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    frame = pd.DataFrame({"recording (s)": np.round(x[ok], 3),
                          "tempo in the recording": np.round(y[ok], 1)})
    if nominal:
        frame["tempo in the score"] = round(float(nominal), 1)
    return frame.set_index("recording (s)")


def pitch_name(midi: int) -> str:
    """MIDI pitch → name with octave (C4 = 60)."""
    names = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
    return f"{names[int(midi) % 12]}{int(midi) // 12 - 1}"


def departures(comparison, part_names: Sequence[str] = (), *, min_sec: float = DEPARTURE_MIN_SEC) -> list[dict]:
    """Where the recording departs from the score, one row each, by time: notes
    played early or late against the recording's own tempo (by at least
    ``min_sec``), notes missed, notes added."""
    def part(i: int) -> str:
        return part_names[i] if 0 <= i < len(part_names) and part_names[i] else f"Part {i + 1}"

    rows = []
    for t in comparison.timings:
        if np.isfinite(t.deviation_sec) and abs(t.deviation_sec) >= min_sec:
            rows.append({"time (s)": round(t.onset_sec, 2), "measure": t.measure, "part": part(t.part),
                         "note": pitch_name(t.pitch),
                         "what": f"{'late' if t.deviation_sec > 0 else 'early'} by "
                                 f"{abs(t.deviation_sec):.2f} s"
                                 + (f" ({abs(t.deviation_qn):.2f} beats)" if np.isfinite(t.deviation_qn) else "")})
    for m in comparison.missed:
        rows.append({"time (s)": round(m.onset_sec, 2), "measure": m.measure, "part": part(m.part),
                     "note": pitch_name(m.pitch), "what": "not heard (missed?)"})
    for x in comparison.extra:
        rows.append({"time (s)": round(x.audio_sec, 2), "measure": x.measure, "part": "",
                     "note": pitch_name(x.pitch), "what": "heard, not in the score (added?)"})
    rows.sort(key=lambda r: r["time (s)"])
    return rows


def alignment_csv(alignment) -> bytes:
    """The project's alignment CSV (``omr align``'s columns) as bytes."""
    from omr.audio.align import write_csv

    with tempfile.TemporaryDirectory(prefix="omr-app-") as tmp:
        path = Path(tmp) / "alignment.csv"
        write_csv(path, alignment.rows())
        return path.read_bytes()
