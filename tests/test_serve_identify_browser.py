"""The "Play or hum" pane in headless Chromium with a fake microphone that plays a melody
rendered here from an indexed tune: record, stop, and the tune is named with its bars
marked; typed bars too; bars of no known tune get suggested titles and the index's title
model's labelled names. Only the local server is ever contacted."""

# ruff: noqa: F811  (index and server are fixtures imported from test_serve_browser)
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("selenium", reason="selenium not installed (pip install selenium)")
pytest.importorskip("multipart", reason="python-multipart reads the uploads")
pytest.importorskip("librosa")

from melody_audio import synth_notes  # tests/melody_audio.py
from selenium import webdriver
from selenium.webdriver.common.by import By
from test_identify_names import NAMELESS  # tests/test_identify_names.py: no known tune
from test_serve_browser import (  # tests/test_serve_browser.py: the same browser and server
    CHROMIUM,
    DRIVER,
    WAIT_S,
    _only_local_requests,
    _open,
    _wait,
    index,  # noqa: F401  (fixture: the tiny index with a title model)
    server,  # noqa: F401  (fixture: that index served by uvicorn in a thread)
)

from folkclip.identify import read_abc_query

pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="no headless browser: install Debian's chromium and chromium-driver")
TUNE_ID = 3
CAPTURE_SR_HZ = 48_000


@pytest.fixture(scope="module")
def melody_wav(index, tmp_path_factory) -> str:
    """The tune's first 24 notes as a 16-bit WAV, then a second of silence (the fake
    microphone plays it in a loop)."""
    import soundfile as sf

    notes = read_abc_query(index.tune(TUNE_ID)["abc"], "tune.abc")
    ioi = np.append(np.diff(notes.onset_s), notes.duration_s[-1])[:24] * 0.6
    y = synth_notes(notes.midi_pitch[:24] - 3, np.maximum(ioi, 0.08), sr_hz=CAPTURE_SR_HZ)
    y = np.concatenate([y, np.zeros(CAPTURE_SR_HZ, np.float32)])
    path = tmp_path_factory.mktemp("mic") / "melody.wav"
    sf.write(path, y, CAPTURE_SR_HZ, subtype="PCM_16")
    return str(path)


@pytest.fixture(scope="module")
def browser(tmp_path_factory, melody_wav):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1280,1000",
                 "--autoplay-policy=no-user-gesture-required",
                 "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                 f"--use-file-for-fake-audio-capture={melody_wav}",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER),
                              options=opts)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


def _pane(browser, server) -> None:
    _open(browser, server)
    browser.find_element(By.CSS_SELECTOR, "button[data-pane=identify]").click()


def test_recording_from_the_microphone_names_the_tune(browser, server, index, tmp_path):
    _pane(browser, server)
    rec = browser.find_element(By.ID, "rec")
    rec.click()
    _wait(browser, lambda d: rec.get_attribute("data-state") == "recording", "recording")
    status = browser.find_element(By.ID, "rec-status")
    _wait(browser, lambda d: status.text.startswith("recording… ") and
          int(status.text.split()[1]) >= 9, "nine seconds recorded")
    rec.click()
    found = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#id-result .identified")
                  or d.find_element(By.ID, "id-problems").text, "an identification")
    assert isinstance(found, list), browser.find_element(By.ID, "id-problems").text
    best = found[0]
    assert int(best.get_attribute("data-id")) == TUNE_ID
    assert best.find_element(By.CSS_SELECTOR, "h2").text == index.tune(TUNE_ID)["title"]
    assert "confidence" in best.find_element(By.CSS_SELECTOR, ".meta").text
    _wait(browser, lambda d: best.find_elements(By.CSS_SELECTOR, ".notation svg .matched"),
          "the matched bars marked in the notation")
    browser.save_screenshot(str(tmp_path / "identify.png"))
    assert " s recorded" in status.text
    _only_local_requests(browser, server)


def test_typed_bars_and_an_unreadable_file(browser, server, index, tmp_path):
    _pane(browser, server)
    abc = index.tune(TUNE_ID)["abc"]
    key = next(line for line in abc.splitlines() if line.startswith("K:"))
    typed = key + "\n" + "|".join(abc.split(key, 1)[1].split("|")[:5])
    browser.find_element(By.ID, "id-abc").send_keys(typed)
    browser.find_element(By.ID, "id-go").click()
    best = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#id-result .identified"),
                 "typed bars identified")[0]
    assert int(best.get_attribute("data-id")) == TUNE_ID
    junk = tmp_path / "notes.wav"
    junk.write_bytes(b"this is not audio" * 10)
    browser.find_element(By.ID, "id-file").send_keys(str(junk))
    _wait(browser, lambda d: "not a readable audio file" in d.find_element(
        By.ID, "id-problems").text, "the reader's reason shown")
    assert not browser.find_elements(By.CSS_SELECTOR, "#id-result .identified")


def test_no_known_tune_shows_suggestions_and_generated_names(browser, server, index, tmp_path):
    _pane(browser, server)
    area = browser.find_element(By.ID, "id-abc")
    area.clear()
    area.send_keys(NAMELESS)
    browser.find_element(By.ID, "id-go").click()
    names = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#id-result ol.generated li"),
                  "generated names beside the suggestions")
    box = browser.find_element(By.ID, "id-result")
    assert "No known tune matches" in box.text and "not identifications" in box.text
    assert box.find_elements(By.CSS_SELECTOR, "li.suggestion")
    assert not box.find_elements(By.CSS_SELECTOR, "li.suggestion .gen-label")
    want = index.names(NAMELESS, 5)  # the page asks for k=5; seed 0 as the server uses
    assert [n.find_element(By.CSS_SELECTOR, ".name").text for n in names] == [
        " ".join(g.title.split()) for g in want]
    assert [n.find_element(By.CSS_SELECTOR, ".gen-label").text for n in names] == [
        "generated name — " + ("novel" if g.novel else "an existing title") for g in want]
    browser.save_screenshot(str(tmp_path / "names.png"))
