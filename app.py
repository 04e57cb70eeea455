"""The student's app: photograph printed music, check what was read, play it,
download it, and follow a recording of it.

    streamlit run app.py

Everything the page computes is in :mod:`omr.app_support` (testable without
Streamlit); this file lays out the page and keeps results in ``st.session_state``
so that nothing is recomputed on a click that does not change its input. The
detector and the separation network are loaded once per server
(``st.cache_resource``), and transcriptions and separated stems are shared by the
sessions of one server (a photo read once is not read again).

Bad input (not an image, no music, a huge photo, an unreadable or silent
recording, a recording of another piece) gets a message in the page; whatever the
student already has (the score, the downloads, an alignment) stays.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import streamlit as st

from omr import app_support as sup

log = logging.getLogger("omr.app")

#: Transcriptions and stems kept per server (least recently used dropped).
SHARED_TRANSCRIPTIONS = 8
SHARED_STEMS = 4
#: Largest heights (px) of the embedded score views (they scroll beyond), and the
#: widths (px) their heights are estimated for (half and all of a wide page).
SCORE_VIEW_HEIGHT = 900
FOLLOW_VIEW_HEIGHT = 760
SCORE_VIEW_WIDTH = 640
FOLLOW_VIEW_WIDTH = 1280


# ------------------------------------------------------------ loaded once


@st.cache_resource(show_spinner="Loading the symbol detector…")
def detector():
    from omr.detect.infer import load_model

    return load_model()


@st.cache_resource(show_spinner="Loading the voice/accompaniment separation network…")
def separator():
    from omr.audio.separate import load_model

    return load_model()


@st.cache_resource
def shared() -> dict:
    """Results shared by the sessions of this server, keyed by their input."""
    return {"transcriptions": OrderedDict(), "stems": OrderedDict()}


def _remember(store: OrderedDict, key, value, limit: int) -> None:
    store[key] = value
    store.move_to_end(key)
    while len(store) > limit:
        store.popitem(last=False)


# ---------------------------------------------------------------- helpers


def show_html(page: str, height: int) -> None:
    """An HTML/JS page in an iframe (``st.iframe`` where Streamlit has it, else
    ``st.components.v1.html``)."""
    if hasattr(st, "iframe"):
        st.iframe(page, height=height)
    else:  # Streamlit < 1.56
        import streamlit.components.v1 as components

        components.html(page, height=height, scrolling=True)


def init_state() -> None:
    ss = st.session_state
    ss.setdefault("page_order", [])
    ss.setdefault("kept_camera", [])
    ss.setdefault("camera_round", 0)
    ss.setdefault("score", None)
    ss.setdefault("score_error", {})
    ss.setdefault("playback", {})
    ss.setdefault("recordings", {})
    ss.setdefault("follow", None)
    ss.setdefault("follow_error", {})
    ss.setdefault("counts", {"transcriptions": 0, "alignments": 0, "separations": 0, "renders": 0})


def _move_page(key: str, delta: int) -> None:
    st.session_state.page_order = sup.move(st.session_state.page_order, key, delta)


def _keep_camera_photo() -> None:
    ss = st.session_state
    shot = ss.get(f"camera_{ss.camera_round}")
    if shot is not None:
        ss.kept_camera.append((f"camera page {len(ss.kept_camera) + 1}.jpg", shot.getvalue()))
        ss.camera_round += 1


# ------------------------------------------------------------------ pages


def page_inputs() -> list[sup.PageInput]:
    """The photos the student gave, in the student's order (with the controls)."""
    ss = st.session_state
    tab_files, tab_camera = st.tabs(["Upload photos", "Take a photo"])
    with tab_files:
        uploads = st.file_uploader(
            "Photos of the pages (several files are the pages of one piece)",
            accept_multiple_files=True, key="uploads",
            help="JPEG, PNG, HEIC, ... Pick all the pages at once; you can put them in order below.")
    with tab_camera:
        shot = st.camera_input("Photograph a page", key=f"camera_{ss.camera_round}")
        if shot is not None:
            st.button("Keep this page and photograph the next", on_click=_keep_camera_photo)
    files = [(f.name, f.getvalue()) for f in (uploads or [])]
    files += list(ss.kept_camera)
    if shot is not None:
        files.append((f"camera page {len(ss.kept_camera) + 1}.jpg", shot.getvalue()))
    pages = sup.make_pages(files)
    ss.page_order = sup.reconcile_order(ss.page_order, [p.key for p in pages])
    by_key = {p.key: p for p in pages}
    ordered = [by_key[k] for k in ss.page_order]
    if len(ordered) > 1:
        st.markdown("**Order of the pages**")
        for i, p in enumerate(ordered):
            c_name, c_up, c_down = st.columns([8, 1, 1])
            c_name.markdown(f"{i + 1}. {p.name}")
            c_up.button("↑", key=f"up_{p.key}", disabled=i == 0, on_click=_move_page,
                        args=(p.key, -1), help="Move this page earlier")
            c_down.button("↓", key=f"down_{p.key}", disabled=i == len(ordered) - 1,
                          on_click=_move_page, args=(p.key, 1), help="Move this page later")
    return ordered


def read_music(pages: list[sup.PageInput], fp: str) -> None:
    """Transcribe the pages (or take the server's earlier reading of them) and
    prepare everything shown: engraving, marks, downloads."""
    ss = st.session_state
    store = shared()["transcriptions"]
    with st.status("Reading the music…", expanded=True) as status:
        try:
            if fp in store:
                store.move_to_end(fp)
                transcription, previews = store[fp]
            else:
                bar = st.progress(0.0, text="Starting…")

                def progress(text: str, fraction: float) -> None:
                    bar.progress(min(max(float(fraction), 0.0), 1.0), text=text)

                model = detector()
                transcription, previews = sup.transcribe_pages(pages, model=model, progress=progress)
                ss.counts["transcriptions"] += 1
                _remember(store, fp, (transcription, previews), SHARED_TRANSCRIPTIONS)
            st.write("Writing MusicXML and MIDI…")
            xml, xml_note = sup.musicxml_bytes(transcription.score)
            midi = sup.midi_bytes(transcription.score)
            result = {"fp": fp, "names": [p.name for p in pages], "transcription": transcription,
                      "previews": previews, "xml": xml, "xml_note": xml_note, "midi": midi,
                      "qpm": sup.nominal_qpm(transcription.score),
                      "parts": sup.score_parts(midi),
                      "engraving": None, "html": "", "engrave_error": ""}
            st.write("Engraving the score…")
            try:
                engraving = sup.engrave(transcription.score, musicxml=xml)
                marks = sup.report_marks(transcription.report, engraving)
                result.update(engraving=engraving, marks=marks, html=sup.score_html(engraving, marks))
            except Exception as err:  # noqa: BLE001 - the downloads are still good
                result["engrave_error"] = sup.friendly_error(err, "engraving the score")
        except Exception as err:  # noqa: BLE001 - shown in the page, nothing lost
            ss.score_error = {"fp": fp, "message": sup.friendly_error(err, "reading the photos")}
            status.update(label="The photos could not be read", state="error", expanded=False)
            return
        ss.score = result
        ss.score_error = {}
        ss.playback = {}
        status.update(label="The music is read", state="complete", expanded=False)


# ----------------------------------------------------------- what was read


def show_photo(res: dict) -> None:
    t = res["transcription"]
    names = res["names"]
    index = 0
    if len(names) > 1:
        index = st.selectbox("Page", range(len(names)), format_func=lambda i: f"{i + 1}. {names[i]}",
                             key=f"photo_page_{res['fp']}")
    dets = sup.photo_detections(t, index)
    counts = sup.class_counts(dets)
    min_score = st.slider("Show symbols the detector is at least this sure of", 0.05, 0.95,
                          sup.DEFAULT_MIN_SCORE, 0.05, key="min_score")
    options = list(counts)
    chosen = st.multiselect("Symbols to show", options, default=options,
                            format_func=lambda c: f"{c} ({counts[c]})", key=f"classes_{res['fp']}")
    image = sup.overlay_image(res["previews"][index], dets, classes=chosen, min_score=min_score)
    st.image(image, caption=f"{names[index]}: {sum(counts.values())} symbols found; faint boxes: the "
                            "detector is unsure", width="stretch")
    st.markdown(sup.legend_html(chosen), unsafe_allow_html=True)


def show_score(res: dict) -> None:
    if res["engraving"] is not None:
        show_html(res["html"], sup.view_height(res["engraving"], SCORE_VIEW_WIDTH, limit=SCORE_VIEW_HEIGHT))
        st.caption("Orange notes: notation the program inferred (not printed). Framed measures: "
                   "red, the program is unsure; orange dashed, something was inferred there "
                   "(hover for the reason).")
    else:
        st.error(res["engrave_error"] or "The score could not be engraved.")
    inferred, warnings = sup.report_lines(res["transcription"].report)
    if inferred:
        st.markdown("**What the program inferred**\n" + "\n".join(f"- {x}" for x in inferred))
    if warnings:
        st.markdown("**What it is unsure of**\n" + "\n".join(f"- {x}" for x in warnings))
    if not inferred and not warnings:
        st.markdown("Every measure adds up; nothing had to be inferred.")


def show_playback(res: dict) -> None:
    ss = st.session_state
    nominal = res["qpm"]
    c_tempo, c_parts = st.columns(2)
    lo, hi = sup.TEMPO_RANGE
    qpm = c_tempo.slider("Tempo (quarter notes per minute)", lo, hi,
                         int(min(max(round(nominal), lo), hi)), key=f"tempo_{res['fp']}")
    names = res["parts"]
    mode = "all"
    if len(names) > 1:
        options = ["all"] + [f"only:{i}" for i in range(len(names))] + [f"without:{i}" for i in range(len(names))]

        def label(o: str) -> str:
            if o == "all":
                return "All parts"
            how, i = o.split(":")
            return f"{'Only' if how == 'only' else 'Without'} {names[int(i)]}"

        mode = c_parts.selectbox("Parts", options, format_func=label, key=f"parts_{res['fp']}")
    if mode == "all":
        keep = None
    elif mode.startswith("only:"):
        keep = [int(mode[5:])]
    else:
        keep = [i for i in range(len(names)) if i != int(mode[8:])]
    key = (res["fp"], qpm, mode)
    if key not in ss.playback:
        with st.spinner("Playing the score with FluidSynth…"):
            try:
                ss.playback[key] = sup.playback_wav(res["midi"], tempo_factor=qpm / nominal, parts=keep)
                ss.counts["renders"] += 1
            except Exception as err:  # noqa: BLE001
                ss.playback[key] = sup.friendly_error(err, "playing the score")
    wav = ss.playback[key]
    if isinstance(wav, bytes):
        st.audio(wav, format="audio/wav")
    else:
        st.error(wav)
    stem = Path(res["names"][0]).stem or "score"
    c1, c2 = st.columns(2)
    c1.download_button("Download MusicXML", res["xml"], file_name=f"{stem}.musicxml",
                       mime="application/vnd.recordare.musicxml+xml", on_click="ignore",
                       key="download_musicxml")
    c2.download_button("Download MIDI", res["midi"], file_name=f"{stem}.mid", mime="audio/midi",
                       on_click="ignore", key="download_midi")
    if res["xml_note"]:
        st.warning(res["xml_note"])


# -------------------------------------------------------------- recording


def follow_recording(res: dict) -> None:
    ss = st.session_state
    upload = st.file_uploader("A recording of this piece (WAV, FLAC, OGG or MP3)", key="recording")
    stem = st.radio("Follow", list(sup.STEM_LABELS), format_func=sup.STEM_LABELS.get,
                    horizontal=True, key="stem")
    engraving = res["engraving"]
    names = res["parts"]
    parts = list(range(len(names)))
    if len(names) > 1 and engraving is not None:
        default = sup.default_parts(stem, engraving, len(names))
        parts = st.multiselect("Parts of the score the recording plays", parts, default=default,
                               format_func=lambda i: names[i], key=f"follow_parts_{stem}_{res['fp']}")
    if upload is None:
        st.caption("Upload a recording to see where the performer is in the score, their tempo, "
                   "and the notes where they depart from it.")
    else:
        data = upload.getvalue()
        fp = sup.content_key(res["fp"], upload.name, data, stem, *map(str, parts))
        current = ss.follow is not None and ss.follow["fp"] == fp
        if not current and ss.follow_error.get("fp") != fp:
            run_follow(res, upload.name, data, stem, parts, fp)
        if ss.follow_error.get("fp") == fp:
            st.error(ss.follow_error["message"])
            if ss.follow is not None and ss.follow["score_fp"] == res["fp"]:
                st.info(f"Showing the earlier recording, {ss.follow['name']}.")
    if ss.follow is not None and ss.follow["score_fp"] == res["fp"]:
        show_follow(ss.follow)


def run_follow(res: dict, name: str, data: bytes, stem: str, parts: list[int], fp: str) -> None:
    ss = st.session_state
    with st.status(f"Following {name}…", expanded=True) as status:
        try:
            bar = st.progress(0.0, text="Reading the recording…")
            rkey = sup.content_key(name, data)
            rec = ss.recordings.get(rkey)
            if rec is None:
                rec = sup.load_recording(name, data)
                ss.recordings = {rkey: rec}  # one recording kept per session
            stem_wav = None
            if stem == "mix":
                y, sr = rec.audio.mean(axis=0), rec.sr
            else:
                stems = shared()["stems"]
                if (rec.key, stem) in stems:
                    y = stems[(rec.key, stem)]
                else:
                    bar.progress(0.15, text=f"Separating {sup.STEM_LABELS[stem]} "
                                            f"({rec.seconds:.0f} s of audio)…")
                    y = sup.separate_stem(rec, stem, model=separator())
                    ss.counts["separations"] += 1
                    _remember(stems, (rec.key, stem), y, SHARED_STEMS)
                sr = rec.sr
                stem_wav = sup.wav_bytes(y, sr)
            bar.progress(0.45, text="Aligning the score to the recording…")
            from omr.audio.align import SAMPLE_RATE
            from omr.audio.io import resample

            y_align = resample(y, sr, SAMPLE_RATE)
            alignment = sup.align_recording(res["transcription"].score, y_align, SAMPLE_RATE, parts=parts)
            ss.counts["alignments"] += 1
            bar.progress(0.8, text="Comparing the recording with the score…")
            comparison = sup.compare_recording(alignment)
            bar.progress(0.9, text="Preparing the score to follow…")
            follow = None
            if res["engraving"] is not None:
                follow = sup.score_html(res["engraving"], res.get("marks", []),
                                        follow=sup.follow_view(alignment, res["engraving"], y, sr))
            names = res["parts"]
            ss.follow = {
                "fp": fp, "score_fp": res["fp"], "name": name, "stem": stem, "stem_wav": stem_wav,
                "alignment": alignment, "comparison": comparison, "html": follow,
                "message": sup.confidence_message(alignment),
                "height": (sup.view_height(res["engraving"], FOLLOW_VIEW_WIDTH, follow=True,
                                           limit=FOLLOW_VIEW_HEIGHT) if follow else 0),
                "tempo": sup.tempo_table(alignment, res["qpm"]),
                "departures": sup.departures(comparison, names),
                "csv": sup.alignment_csv(alignment),
            }
            ss.follow_error = {}
            bar.progress(1.0, text="Done")
        except Exception as err:  # noqa: BLE001 - shown in the page, nothing lost
            ss.follow_error = {"fp": fp, "message": sup.friendly_error(err, "following the recording")}
            status.update(label=f"{name} could not be followed", state="error", expanded=False)
            return
        status.update(label=f"Followed {name}", state="complete", expanded=False)


def show_follow(f: dict) -> None:
    a = f["alignment"]
    if f["stem_wav"] is not None:
        st.markdown(f"**{sup.STEM_LABELS[f['stem']].capitalize()} of {f['name']}**, separated from the mix:")
        st.audio(f["stem_wav"], format="audio/wav")
    if f["message"]:
        st.warning(f["message"])
    else:
        st.success(f"{f['name']} follows the score (confidence {a.confidence:.0%}; "
                   f"{a.coverage:.0%} of the notes found in it"
                   + (f", {a.transposition:+d} semitones transposed" if a.transposition else "") + ").")
    if f["html"]:
        st.markdown("**Play the recording: the notes sounding are highlighted in the score**")
        show_html(f["html"], f["height"])
    st.markdown("**Tempo in the recording**")
    if len(f["tempo"]):
        st.line_chart(f["tempo"], x_label="time in the recording (s)",
                      y_label="quarter notes per minute")
    else:
        st.caption("The recording is too short for a tempo curve.")
    st.markdown("**Where the recording departs from the score**")
    if f["departures"]:
        st.dataframe(f["departures"], hide_index=True, width="stretch")
    else:
        st.caption("No note departs clearly from the score.")
    st.download_button("Download the alignment (CSV)", f["csv"], file_name="alignment.csv",
                       mime="text/csv", on_click="ignore", key="download_alignment")


# ------------------------------------------------------------------- page


def main() -> None:
    st.set_page_config(page_title="Sheet music reader", page_icon="🎼", layout="wide")
    init_state()
    ss = st.session_state
    st.title("Sheet music reader")
    st.caption("Photograph printed music: check what was read, listen to it, download it as "
               "MusicXML or MIDI, and follow a recording of it.")

    st.header("1. The music")
    pages = page_inputs()
    fp = sup.pages_fingerprint(pages)
    if pages and (ss.score is None or ss.score["fp"] != fp) and ss.score_error.get("fp") != fp:
        read_music(pages, fp)
    if pages and ss.score_error.get("fp") == fp:
        st.error(ss.score_error["message"])
        if ss.score is not None:
            st.info("The score read from your earlier photos is still below.")
    res = ss.score
    if res is None:
        if not (pages and ss.score_error.get("fp") == fp):
            st.info("Upload photos of the pages, or take a photo, to begin.")
        return

    st.header("2. What was read")
    left, right = st.columns(2)
    with left:
        st.subheader("The photo")
        show_photo(res)
    with right:
        st.subheader("The score")
        show_score(res)

    st.header("3. Listen and download")
    show_playback(res)

    st.header("4. Follow a recording")
    follow_recording(res)


main()
