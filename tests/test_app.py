"""The Streamlit app (app.py) through streamlit.testing.v1.AppTest, and the helpers
it runs (omr.app_support).

Inputs are made here: a phone photo of a short generated piece (generate → engrave
→ camera, as in test_transcribe_cli.py), a "recording" of that piece rendered by
FluidSynth on a guitar with its own tempo curve, a recording of another piece, and
bad files. The app keeps transcriptions per server (``st.cache_resource``), which
AppTest shares within this process, so the photo is read once for the whole module.
"""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from pathlib import Path

import cv2
import mido
import numpy as np
import pytest

from omr import app_support as sup

APP = Path(__file__).resolve().parents[1] / "app.py"
#: Seconds one AppTest run may take (a run that reads a photo or aligns a
#: recording takes a few seconds on two cores).
RUN_TIMEOUT = 180

needs_fluidsynth = pytest.mark.skipif(shutil.which("fluidsynth") is None,
                                      reason="FluidSynth is not installed (apt-get install fluidsynth)")


# ------------------------------------------------------------------ inputs


def _photo_of(seed: int, n_measures: int = 4) -> tuple[bytes, str]:
    """JPEG bytes of a mild phone photo of page 1 of a generated piece, and its MusicXML."""
    from synth.camera import mild_page_photo
    from synth.generate import generate_score

    score = generate_score(seed, features=["dots"], n_measures=n_measures)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(mild_page_photo(score.musicxml), cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return data.tobytes(), score.musicxml


@pytest.fixture(scope="module")
def piece():
    """(photo JPEG bytes, MusicXML of the piece it shows)."""
    return _photo_of(5)


@pytest.fixture(scope="module")
def photo(piece) -> bytes:
    return piece[0]


@pytest.fixture(scope="module")
def other_photo() -> bytes:
    return _photo_of(6)[0]


def _wav(y: np.ndarray, sr: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def recording(piece, tmp_path_factory) -> bytes:
    """The piece played on a guitar (not the score's own playback), a little slower
    than written and speeding up and slowing down, after 0.6 s of silence."""
    import music21

    from omr.audio.align import score_notes
    from omr.audio.synth import render, write_notes_midi

    if shutil.which("fluidsynth") is None:
        pytest.skip("FluidSynth is not installed")
    notes = score_notes(music21.converter.parse(piece[1], format="musicxml"))
    on = np.array([n.score_sec for n in notes])
    off = on + np.array([n.duration_sec for n in notes])

    def warp(t):
        return 0.6 + 1.1 * t + 0.1 * np.sin(t)

    mid = write_notes_midi(tmp_path_factory.mktemp("rec") / "rec.mid", warp(on), warp(off),
                           [n.pitch for n in notes], parts=[n.part for n in notes], programs=24)
    y = render(mid, sample_rate=22050)
    return _wav(np.concatenate([y, np.zeros(11025, np.float32)]), 22050)


@pytest.fixture(scope="module")
def other_recording() -> bytes:
    """A recording of another piece (its own score, played on the piano)."""
    import music21

    from omr.audio.synth import render
    from synth.generate import generate_score

    if shutil.which("fluidsynth") is None:
        pytest.skip("FluidSynth is not installed")
    g = generate_score(13, features=["dots"], n_measures=6)
    y = render(music21.converter.parse(g.musicxml, format="musicxml"), sample_rate=22050)
    return _wav(y, 22050)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header says ``width`` x ``height`` (a huge photo is refused
    from its header, before any pixel is decoded)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()


# ------------------------------------------------------------------ AppTest


def _app():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT)
    at.run()
    _no_traceback(at)
    return at


def _no_traceback(at) -> None:
    assert not at.exception, [e.value for e in at.exception]
    texts = [e.value for e in at.error] + [m.value for m in at.markdown] + [w.value for w in at.warning]
    assert not any("Traceback" in str(t) for t in texts)


def _upload_photos(at, files) -> None:
    at.file_uploader(key="uploads").set_value(files)
    at.run()
    _no_traceback(at)


def _iframes(at) -> list[str]:
    return [e.proto.srcdoc for e in at.get("iframe")]


def _has_score(at) -> bool:
    return any(h.value == "2. What was read" for h in at.header)


def _errors(at) -> str:
    return " ".join(e.value for e in at.error)


@pytest.fixture
def app_with_score(photo):
    at = _app()
    _upload_photos(at, [("page.jpg", photo, "image/jpeg")])
    assert _has_score(at), _errors(at)
    return at


def test_start_page_asks_for_photos():
    at = _app()
    assert [h.value for h in at.header] == ["1. The music"]
    assert "Upload photos" in at.info[0].value
    assert at.file_uploader(key="uploads").accept_multiple_files
    assert len(at.camera_input) == 1


def test_photo_gives_the_score_the_report_playback_and_downloads(app_with_score):
    from omr import export

    at = app_with_score
    res = at.session_state["score"]
    # the photo with its detections, and the classes to toggle
    assert len(at.get("image")) == 1
    classes = at.multiselect[0]
    assert classes.value and len(classes.value) == len(classes.options)  # all shown at first
    assert "notehead_black" in classes.value
    assert "notehead" in " ".join(m.value for m in at.markdown)  # the role legend
    # the engraved score: verovio SVG with its notes, and the report's marks
    pages = [h for h in _iframes(at) if "<svg" in h]
    assert len(pages) == 1
    assert pages[0].count('class="note"') >= 5
    report = res["transcription"].report
    inferred, warnings = sup.report_lines(report)
    shown = " ".join(m.value for m in at.markdown)
    for line in inferred + warnings:
        assert line in shown
    if any(i.measure for i in report.inferred + report.warnings):
        assert res["marks"] and '"target"' in pages[0]
    # playback: FluidSynth WAV
    assert len(at.get("audio")) == 1
    assert at.session_state["counts"]["renders"] == 1
    wav = next(iter(at.session_state["playback"].values()))
    assert wav[:4] == b"RIFF" and len(wav) > 10_000
    # downloads: valid MusicXML and a MIDI file with notes
    assert [b.label for b in at.download_button] == ["Download MusicXML", "Download MIDI"]
    export.validate_musicxml(res["xml"])
    midi = mido.MidiFile(file=io.BytesIO(res["midi"]))
    assert any(m.type == "note_on" and m.velocity > 0 for t in midi.tracks for m in t)


def test_toggles_and_tempo_do_not_read_the_photo_again(app_with_score):
    at = app_with_score
    reads = at.session_state["counts"]["transcriptions"]
    at.multiselect[0].set_value(["notehead_black"])
    at.slider(key="min_score").set_value(0.6)
    at.run()
    _no_traceback(at)
    assert len(at.get("image")) == 1
    assert at.multiselect[0].value == ["notehead_black"]
    tempo = next(s for s in at.slider if s.key.startswith("tempo_"))
    tempo.set_value(150)
    at.run()
    _no_traceback(at)
    assert at.session_state["counts"]["renders"] == 2
    at.run()  # nothing changed: nothing recomputed
    assert at.session_state["counts"]["renders"] == 2
    assert at.session_state["counts"]["transcriptions"] == reads
    assert len(at.get("audio")) == 1


def test_a_second_session_does_not_read_the_same_photo_again(app_with_score, photo):
    # the fixture's session read it (or an earlier test's): this one finds it
    at = _app()
    _upload_photos(at, [("same photo, other name.jpg", photo, "image/jpeg")])
    assert _has_score(at)
    assert at.session_state["counts"]["transcriptions"] == 0


def test_camera_photo(photo):
    at = _app()
    at.camera_input[0].set_value(("shot.jpg", photo, "image/jpeg"))
    at.run()
    _no_traceback(at)
    assert _has_score(at), _errors(at)
    assert at.session_state["score"]["names"] == ["camera page 1.jpg"]
    # keep it and photograph the next page: the kept photo stays a page
    at.button[0].click()
    at.run()
    _no_traceback(at)
    assert len(at.session_state["kept_camera"]) == 1
    assert _has_score(at)


def test_pages_can_be_put_in_order(photo, other_photo):
    at = _app()
    _upload_photos(at, [("first.jpg", photo, "image/jpeg"), ("second.jpg", other_photo, "image/jpeg")])
    assert _has_score(at), _errors(at)
    res = at.session_state["score"]
    assert res["names"] == ["first.jpg", "second.jpg"]
    assert len(res["transcription"].detections) == 2
    order = [m.value for m in at.markdown if m.value[:3] in ("1. ", "2. ")]
    assert order == ["1. first.jpg", "2. second.jpg"]
    down = next(b for b in at.button if b.key and b.key.startswith("down_"))
    down.click()
    at.run()
    _no_traceback(at)
    assert at.session_state["score"]["names"] == ["second.jpg", "first.jpg"]
    order = [m.value for m in at.markdown if m.value[:3] in ("1. ", "2. ")]
    assert order == ["1. second.jpg", "2. first.jpg"]
    assert at.selectbox[0].label == "Page"  # the photo shown can be chosen


# ------------------------------------------------------------ bad photos


def test_not_an_image_keeps_what_the_student_has(app_with_score, photo):
    at = app_with_score
    before = at.session_state["score"]["fp"]
    _upload_photos(at, [("page.jpg", photo, "image/jpeg"),
                        ("shopping list.jpg", b"eggs, milk, bread" * 50, "image/jpeg")])
    text = _errors(at)
    assert "shopping list.jpg" in text and "not an image" in text
    # the score, the photo and the downloads are still there
    assert _has_score(at)
    assert at.session_state["score"]["fp"] == before
    assert [b.label for b in at.download_button] == ["Download MusicXML", "Download MIDI"]
    assert any("still below" in i.value for i in at.info)


def test_photo_without_music():
    at = _app()
    blank = np.full((1200, 900, 3), 255, np.uint8)
    _upload_photos(at, [("wall.png", _png(blank), "image/png")])
    text = _errors(at).lower()
    assert "wall.png" in text and "no music" in text
    assert not _has_score(at)


def test_huge_photo():
    at = _app()
    _upload_photos(at, [("panorama.png", _png_header_only(20000, 12000), "image/png")])
    text = _errors(at)
    assert "panorama.png" in text and "too large" in text and "240 megapixels" in text
    assert not _has_score(at)


# -------------------------------------------------------------- recordings


def _upload_recording(at, name: str, data: bytes) -> None:
    at.file_uploader(key="recording").set_value((name, data, "audio/wav"))
    at.run()
    _no_traceback(at)


@needs_fluidsynth
def test_recording_is_followed(app_with_score, recording):
    at = app_with_score
    _upload_recording(at, "take 1.wav", recording)
    assert not at.error, _errors(at)
    f = at.session_state["follow"]
    assert f["alignment"].confidence >= sup.LOW_CONFIDENCE
    assert any("follows the score" in s.value for s in at.success)
    # playback of the recording with the notes highlighted: an audio element and
    # the note timings in the page, every id a note of the engraving
    follow = [h for h in _iframes(at) if 'id="omr-audio"' in h]
    assert len(follow) == 1
    assert 'src="data:audio/' in follow[0]
    events, _ = sup.follow_events(f["alignment"], at.session_state["score"]["engraving"])
    assert len(events) >= 0.8 * len(f["alignment"].notes)
    assert all(f'id="{e[2]}"' in follow[0] for e in events)
    # the tempo curve (about the recording's 1/1.1 of the written tempo) and the departures
    assert len(at.get("vega_lite_chart")) == 1
    qpm = np.median(f["tempo"]["tempo in the recording"])
    assert 70 < qpm < 105
    assert isinstance(f["departures"], list)
    assert "Download the alignment (CSV)" in [b.label for b in at.download_button]
    assert f["csv"].decode().startswith("part,measure,score_qn,score_sec,pitch,onset_sec")
    # another click elsewhere does not align again
    alignments = at.session_state["counts"]["alignments"]
    at.slider(key="min_score").set_value(0.5)
    at.run()
    assert at.session_state["counts"]["alignments"] == alignments


@needs_fluidsynth
def test_follow_the_accompaniment_separates_it(app_with_score, recording):
    at = app_with_score
    at.radio(key="stem").set_value("accompaniment")
    _upload_recording(at, "take 1.wav", recording)
    assert not at.error, _errors(at)
    f = at.session_state["follow"]
    assert f["stem"] == "accompaniment"
    assert f["stem_wav"][:4] == b"RIFF"
    assert at.session_state["counts"]["separations"] == 1
    assert len(at.get("audio")) == 2  # the score's playback and the separated stem
    assert any("separated from the mix" in m.value for m in at.markdown)


@needs_fluidsynth
def test_silent_and_unreadable_recordings_keep_the_alignment(app_with_score, recording):
    at = app_with_score
    _upload_recording(at, "take 1.wav", recording)
    assert at.session_state["follow"] is not None
    _upload_recording(at, "silence.wav", _wav(np.zeros(22050 * 3, np.float32), 22050))
    assert "silent" in _errors(at)
    assert any("earlier recording" in i.value for i in at.info)
    assert any('id="omr-audio"' in h for h in _iframes(at))
    _upload_recording(at, "notes.wav", b"this is not audio" * 100)
    text = _errors(at)
    assert "notes.wav cannot be read" in text
    assert _has_score(at)
    assert at.session_state["follow"]["name"] == "take 1.wav"


@needs_fluidsynth
def test_recording_of_another_piece_gets_a_low_confidence_message(app_with_score, other_recording):
    at = app_with_score
    _upload_recording(at, "wrong piece.wav", other_recording)
    assert not at.error, _errors(at)
    assert at.session_state["follow"]["alignment"].confidence < sup.LOW_CONFIDENCE
    assert any("does not seem to be of this piece" in w.value for w in at.warning)


# ------------------------------------------------------------ app_support


def test_page_order_helpers():
    pages = sup.make_pages([("a.jpg", b"1"), ("b.jpg", b"2"), ("a.jpg", b"1")])
    keys = [p.key for p in pages]
    assert len(set(keys)) == 3  # the same file given twice is two pages
    assert sup.move(keys, keys[0], 1) == [keys[1], keys[0], keys[2]]
    assert sup.move(keys, keys[0], -1) == keys
    assert sup.move(keys, keys[2], -5) == [keys[2], keys[0], keys[1]]
    assert sup.reconcile_order([keys[2], "gone", keys[0]], keys) == [keys[2], keys[0], keys[1]]
    assert sup.pages_fingerprint(pages[:2]) != sup.pages_fingerprint(pages[1::-1])
    assert sup.pages_fingerprint(sup.make_pages([("x.jpg", b"1")])) == sup.pages_fingerprint(pages[:1])


def test_overlay_draws_only_the_chosen_classes():
    from omr.detect.types import Detection

    rgb = np.full((3000, 2000, 3), 255, np.uint8)
    dets = [Detection("notehead_black", (100, 100, 300, 250), 0.9),
            Detection("stem", (1000, 1000, 1040, 1600), 0.9),
            Detection("clef_g", (1500, 2000, 1700, 2500), 0.2)]
    everything = sup.overlay_image(rgb, dets, min_score=0.1)
    assert max(everything.shape[:2]) == sup.DISPLAY_MAX_SIDE_PX
    heads = sup.overlay_image(rgb, dets, classes=["notehead_black"], min_score=0.1)
    f = sup.DISPLAY_MAX_SIDE_PX / 3000
    stem_area = (slice(int(1000 * f), int(1600 * f)), slice(int(1000 * f) - 2, int(1040 * f) + 3))
    assert (everything[stem_area] != 255).any() and (heads[stem_area] == 255).all()
    # the unsure clef is drawn faint (blended), the sure notehead solid
    clef = everything[int(2000 * f) - 1:int(2500 * f) + 2, int(1500 * f) - 1:int(1700 * f) + 2]
    head = everything[int(100 * f) - 1:int(250 * f) + 2, int(100 * f) - 1:int(300 * f) + 2]
    assert clef.min() > head.min()
    assert "notehead" in sup.legend_html(["notehead_black", "stem"])


def test_engraving_marks_lyrics_and_follow_events():
    import music21

    from omr.audio.align import score_notes
    from omr.score import Inference, Report
    from synth.generate import generate_score

    g = generate_score(7, features=["lyrics", "repeat", "voice_piano"], n_measures=6)
    score = music21.converter.parse(g.musicxml, format="musicxml")
    e = sup.engrave(score)
    assert e.svgs and len(e.measures) >= 6
    assert e.syllables and e.lyric_parts == {0}
    assert sup.default_parts("vocals", e, 2) == [0]
    assert sup.default_parts("accompaniment", e, 2) == [1]
    assert sup.default_parts("mix", e, 2) == [0, 1]
    # report entries on measures become frames on that measure (or staff)
    report = Report(inferred=[Inference("restored_rest", "a rest restored", page=1, measure=2, staff=2)],
                    warnings=[Inference("overfull", "measure 3 overfull", page=1, measure=3)])
    marks = sup.report_marks(report, e)
    assert {m.kind for m in marks} == {"inferred", "warning"}
    assert next(m for m in marks if m.kind == "warning").target == e.measures[2][0]
    assert next(m for m in marks if m.kind == "inferred").target == e.measures[1][1][2]
    # a fake alignment: the recording plays the unfolded score 1.2 times slower
    notes = score_notes(score)

    class FakeAlignment:
        pass

    a = FakeAlignment()
    a.notes = notes
    a.onset_sec = np.array([0.5 + 1.2 * n.score_sec for n in notes])
    a.onset_sec[3] = np.nan  # a note the recording does not play
    a.path_score_sec = np.array([0.0, 1000.0])
    a.path_audio_sec = np.array([0.5, 1200.5])
    a.repeats = []
    events, lyrics = sup.follow_events(a, e)
    assert len(events) == len(notes) - 1
    assert all(on < off for on, off, _ in events)
    assert [ev[0] for ev in events] == sorted(ev[0] for ev in events)
    assert lyrics and all(s["syl"] for s in lyrics)
    assert any(s["text"].endswith("-") for s in lyrics)  # syllables inside a word
    page = sup.score_html(e, marks, follow={"audio": "data:audio/wav;base64,", "events": events,
                                            "lyrics": lyrics})
    assert all(f'id="{ev[2]}"' in page for ev in events)
    assert all(f'id="{s["syl"]}"' in page for s in lyrics)
    assert page.count('<span data-syl="') == len(lyrics)
    assert sup.view_height(e, 1000) > sup.view_height(e, 500)
    assert sup.view_height(e, 1000, limit=300) == 300


def test_playback_midi_tempo_and_parts():
    import music21

    score = music21.converter.parse("tinyNotation: 4/4 c4 d e f")
    two = music21.stream.Score([score.parts[0] if score.hasPartLikeStreams() else score,
                                music21.converter.parse("tinyNotation: 4/4 C2 D2")])
    midi = sup.midi_bytes(two)
    assert len(sup.score_parts(midi)) == 2
    assert sup.nominal_qpm(two) == 100.0

    def notes_per_track(data):
        m = mido.MidiFile(file=io.BytesIO(data))
        return [sum(1 for x in t if x.type == "note_on" and x.velocity) for t in m.tracks[1:]], m.length

    counts, length = notes_per_track(midi)
    assert counts == [4, 2]
    only_bass, _ = notes_per_track(sup.playback_midi(midi, parts=[1]))
    assert only_bass == [0, 2]
    fast, fast_length = notes_per_track(sup.playback_midi(midi, tempo_factor=2.0))
    assert fast == counts and abs(fast_length - length / 2) < 0.05


@needs_fluidsynth
def test_playback_wav_is_shorter_when_faster():
    import music21
    import soundfile as sf

    midi = sup.midi_bytes(music21.converter.parse("tinyNotation: 4/4 c4 d e f g1"))
    slow = sf.info(io.BytesIO(sup.playback_wav(midi))).duration
    fast = sf.info(io.BytesIO(sup.playback_wav(midi, tempo_factor=2.0))).duration
    assert fast < slow - 1.0


def test_recording_errors_are_friendly():
    from omr.audio.io import AudioError

    with pytest.raises(AudioError, match="empty"):
        sup.load_recording("a.wav", b"")
    with pytest.raises(AudioError, match="x.mp3 cannot be read"):
        sup.load_recording("x.mp3", b"ID3 but not really" * 10)
    with pytest.raises(AudioError, match="silent"):
        sup.load_recording("quiet.wav", _wav(np.zeros(44100, np.float32), 22050))
    with pytest.raises(AudioError, match="too short"):
        sup.load_recording("blip.wav", _wav(0.5 * np.ones(2205, np.float32), 22050))
    rec = sup.load_recording("tone.wav", _wav(0.3 * np.sin(np.arange(44100) * 0.05).astype(np.float32),
                                              22050))
    assert rec.sr == 22050 and rec.audio.shape == (1, 44100) and abs(rec.seconds - 2.0) < 1e-6


def test_departures_and_messages():
    from types import SimpleNamespace as NS

    comparison = NS(
        timings=[NS(onset_sec=1.0, deviation_sec=0.02, deviation_qn=0.03, part=0, measure="1", pitch=60),
                 NS(onset_sec=2.0, deviation_sec=0.25, deviation_qn=0.4, part=0, measure="2", pitch=62)],
        missed=[NS(onset_sec=1.5, part=1, measure="1", pitch=48)],
        extra=[NS(audio_sec=3.0, measure="3", pitch=61)])
    rows = sup.departures(comparison, ["Voice"])
    assert [r["time (s)"] for r in rows] == [1.5, 2.0, 3.0]
    assert rows[0]["part"] == "Part 2" and "missed" in rows[0]["what"]
    assert rows[1]["what"].startswith("late by 0.25 s") and rows[1]["note"] == "D4"
    assert "added" in rows[2]["what"] and rows[2]["note"] == "C#4"
    assert sup.confidence_message(NS(confidence=0.9)) == ""
    assert "does not seem" in sup.confidence_message(NS(confidence=0.1))
    # a bug is reported in words, never with a traceback
    msg = sup.friendly_error(KeyError("boom"), "doing something")
    assert "bug" in msg and "Traceback" not in msg
    from omr.errors import ImageError

    assert sup.friendly_error(ImageError("x.png is too large")) == "x.png is too large"


def test_inferred_notation_is_coloured_in_the_engraving():
    import music21

    from omr.score import INFERRED_COLOUR

    s = music21.converter.parse("tinyNotation: 4/4 c4 d e r")
    rest = list(s.recurse().notesAndRests)[-1]
    rest.style.color = INFERRED_COLOUR  # as omr.score colours a restored rest
    e = sup.engrave(s)
    assert f'class="rest" color="{INFERRED_COLOUR}"' in e.svgs[0]
    sup.untitled(s)  # what the app does to a transcription without a title
    assert "Music21 Fragment" not in sup.engrave(s).svgs[0]


def test_the_overlay_of_a_photo_shows_every_page_read_from_it():
    """A photo of an open book is read as two pages; its overlay shows both pages'
    symbols, and the next photo's only its own."""
    from omr.detect.types import Detection, DetectionResult
    from omr.pipeline import Transcription

    def result(*names):
        return DetectionResult(image_size=(100, 100), staff_space=10.0,
                               detections=[Detection(n, (0, 0, 5, 5), 0.9) for n in names])

    t = Transcription(score=None, detections=[result("clef_g"), result("clef_f"), result("rest_whole")],
                      sources=[0, 0, 1])
    assert [d.cls for d in sup.photo_detections(t, 0)] == ["clef_g", "clef_f"]
    assert [d.cls for d in sup.photo_detections(t, 1)] == ["rest_whole"]
    # a transcription without sources has one page per photo
    t.sources = []
    assert [d.cls for d in sup.photo_detections(t, 2)] == ["rest_whole"]
