"""The app in a real browser: ``streamlit run app.py`` on localhost, driven through
Debian's Chromium and chromedriver with selenium.

A student's session: upload a phone photo of a synthetic page, wait for the
engraved score, download the MIDI file (it must parse), upload a recording of the
piece, wait for the alignment (tempo plot), and check that seeking the recording
lights notes in the score. Screenshots are saved in the test's temporary folder
(their paths are printed; ``pytest -s`` shows them).

Skipped only where Chromium or chromedriver is not installed (Debian:
``apt-get install chromium chromium-driver``; ./setup.sh installs them).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                             shutil.which("google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)"),
    pytest.mark.skipif(CHROMEDRIVER is None,
                       reason="chromedriver is not installed (Debian: apt-get install chromium-driver)"),
    pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="FluidSynth is not installed"),
]

#: Chromium as root in a container (see the issue): no sandbox, no GPU, nothing
#: fetched from the network, a fresh profile.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1500,2200")
#: Longest wait (seconds) for the server to start, a photo to be read, a recording
#: to be followed.
SERVER_START_S = 90
STEP_S = 240


# ------------------------------------------------------------------ inputs


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A phone photo of a generated page, and a guitar recording of the piece."""
    import cv2
    import music21
    import soundfile as sf

    from omr.audio.align import score_notes
    from omr.audio.synth import render, write_notes_midi
    from synth.camera import mild_page_photo
    from synth.generate import generate_score

    folder = tmp_path_factory.mktemp("inputs")
    score = generate_score(5, features=["dots"], n_measures=4)
    photo = folder / "page.jpg"
    assert cv2.imwrite(str(photo), cv2.cvtColor(mild_page_photo(score.musicxml), cv2.COLOR_RGB2BGR),
                       [cv2.IMWRITE_JPEG_QUALITY, 90])
    notes = score_notes(music21.converter.parse(score.musicxml, format="musicxml"))
    on = np.array([n.score_sec for n in notes])
    off = on + np.array([n.duration_sec for n in notes])
    mid = write_notes_midi(folder / "rec.mid", 0.6 + 1.1 * on, 0.6 + 1.1 * off, [n.pitch for n in notes],
                           parts=[n.part for n in notes], programs=24)
    recording = folder / "take.wav"
    sf.write(str(recording), render(mid, sample_rate=22050), 22050, subtype="PCM_16")
    return {"photo": photo, "recording": recording}


# ------------------------------------------------------------------ server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``streamlit run app.py`` on a free localhost port; yields its URL."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    cmd = [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
           "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--server.runOnSave", "false"]
    env = dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        print(f"\nstreamlit log: {log}")


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.binary_location = CHROMIUM
    options.add_experimental_option("prefs", {
        "download.default_directory": str(downloads), "download.prompt_for_download": False,
        "download.directory_upgrade": True, "safebrowsing.enabled": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, log_output=str(tmp_path / "chromedriver.log")),
                              options=options)
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


# ------------------------------------------------------------------ helpers


def _wait(what: str, condition, timeout: float = STEP_S, driver=None, shots: Path | None = None):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            if driver is not None and shots is not None:
                driver.save_screenshot(str(shots / f"timeout-{what.replace(' ', '-')}.png"))
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}"
                        + (f"; page says: {_page_text(driver)[-1500:]}" if driver is not None else ""))
        time.sleep(0.5)


def _page_text(driver) -> str:
    from selenium.webdriver.common.by import By

    driver.switch_to.default_content()
    return driver.find_element(By.TAG_NAME, "body").text


def _in_frames(driver, script: str):
    """Run ``script`` in each iframe of the page; the first truthy result, or None."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    driver.switch_to.default_content()
    for frame in driver.find_elements(By.CSS_SELECTOR, "iframe"):
        try:
            driver.switch_to.frame(frame)
            value = driver.execute_script(script)
        except WebDriverException:
            value = None
        finally:
            driver.switch_to.default_content()
        if value:
            return value
    return None


def _no_error_in_page(driver) -> None:
    from selenium.webdriver.common.by import By

    driver.switch_to.default_content()
    assert not driver.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]')
    assert "Traceback" not in _page_text(driver)


def _file_inputs(driver):
    from selenium.webdriver.common.by import By

    driver.switch_to.default_content()
    return driver.find_elements(By.CSS_SELECTOR, 'input[type="file"]')


def _shot(driver, path: Path, element=None) -> Path:
    driver.switch_to.default_content()
    if element is not None:
        driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", element)
        time.sleep(0.5)
    driver.save_screenshot(str(path))
    print(f"screenshot: {path}")
    return path


# -------------------------------------------------------------------- test


def test_student_session_in_chromium(server, browser, inputs, tmp_path):
    import mido
    from selenium.webdriver.common.by import By

    d = browser
    d.get(server)
    _wait("the app", lambda: "Sheet music reader" in _page_text(d) and _file_inputs(d), driver=d, shots=tmp_path)
    _shot(d, tmp_path / "0-start.png")

    # 1. upload the photo; wait for the engraved score (verovio SVG notes in the iframe)
    _file_inputs(d)[0].send_keys(str(inputs["photo"]))
    notes = _wait("the engraved score",
                  lambda: _in_frames(d, "return document.querySelectorAll('svg g.note').length"),
                  driver=d, shots=tmp_path)
    assert notes >= 5
    assert d.find_elements(By.CSS_SELECTOR, '[data-testid="stImage"] img')  # the photo with its boxes
    _no_error_in_page(d)
    score_frame = d.find_elements(By.CSS_SELECTOR, "iframe")[0]
    _shot(d, tmp_path / "1-score.png", d.find_element(By.XPATH, "//h2[contains(., 'What was read')]"))
    assert score_frame.is_displayed()

    # 2. download the MIDI file; it must parse and hold notes
    button = _wait("the MIDI download button", lambda: [
        b for b in d.find_elements(By.CSS_SELECTOR, '[data-testid="stDownloadButton"] button')
        if "Download MIDI" in b.text], driver=d, shots=tmp_path)[0]
    d.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    midi_path = _wait("the MIDI file", lambda: [
        p for p in d.downloads.glob("*.mid") if p.stat().st_size > 0
        and not list(d.downloads.glob("*.crdownload"))], timeout=60)[0]
    midi = mido.MidiFile(str(midi_path))
    assert any(m.type == "note_on" and m.velocity > 0 for t in midi.tracks for m in t)
    assert d.find_elements(By.CSS_SELECTOR, '[data-testid="stAudio"], audio')  # the score's playback

    # 3. upload the recording; wait for the alignment's tempo plot
    uploaders = _wait("the recording uploader", lambda: len(_file_inputs(d)) >= 2 and _file_inputs(d),
                      driver=d, shots=tmp_path)
    uploaders[-1].send_keys(str(inputs["recording"]))
    chart = _wait("the tempo plot", lambda: d.find_elements(
        By.CSS_SELECTOR, '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'),
        driver=d, shots=tmp_path)[0]
    _no_error_in_page(d)
    assert "follows the score" in _page_text(d)
    _shot(d, tmp_path / "2-alignment.png", chart)

    # 4. seeking the recording lights its notes in the score
    _wait("the follow view", lambda: _in_frames(
        d, "return !!(window.omrFollow && document.getElementById('omr-audio').readyState >= 1)"),
        timeout=60, driver=d, shots=tmp_path)
    lit = _in_frames(d, """
        if (!window.omrFollow) return null;
        const a = document.getElementById('omr-audio');
        a.currentTime = window.omrFollow.times[Math.floor(window.omrFollow.times.length / 2)] + 0.02;
        return 'seeking';""")
    assert lit == "seeking"
    playing = _wait("a highlighted note", lambda: _in_frames(
        d, "return window.omrFollow ? document.querySelectorAll('g.note.omr-playing').length : 0"),
        timeout=30, driver=d, shots=tmp_path)
    assert playing >= 1
    follow_frame = [f for f in d.find_elements(By.CSS_SELECTOR, "iframe")][-1]
    _shot(d, tmp_path / "3-follow.png", follow_frame)
    _no_error_in_page(d)
