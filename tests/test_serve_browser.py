"""``folkclip serve`` in headless Chromium (Selenium + Debian's chromium-driver), on a real
tiny index carrying a tiny title model: search with rendered notation, playback, a pasted
tune (with its suggested titles and the labelled generated names), junk, the map.

The browser can resolve no host name but 127.0.0.1, so the page must work offline.
Screenshots are kept in each test's temporary folder (the CI artefacts).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("selenium", reason="selenium not installed (pip install selenium)")

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from folkclip_cli.serve.app import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER),
    reason="no headless browser: install Debian's chromium and chromium-driver")
WAIT_S = 60  # two shared CPU cores: generous, the page itself answers in milliseconds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def index(tiny_named_index):
    from folkclip.index import TuneIndex

    return TuneIndex.load(tiny_named_index)


@pytest.fixture(scope="module")
def server(index):
    """The app served by uvicorn on a free loopback port, in a thread."""
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(index), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1280,1000",
                 "--autoplay-policy=no-user-gesture-required",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=DRIVER),
                              options=opts)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


def _wait(driver, cond, what: str):
    return WebDriverWait(driver, WAIT_S).until(lambda d: cond(d), message=what)


def _open(browser, server) -> None:
    browser.get(server + "/")
    _wait(browser, lambda d: d.execute_script("return !!(window.ABCJS && window.folkclip)"),
          "abcjs and the page script loaded")


def _only_local_requests(browser, server) -> None:
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert urls and all(u.startswith(server) for u in urls), urls


def test_search_shows_tunes_with_notation_and_plays(browser, server, index, tmp_path):
    _open(browser, server)
    box = browser.find_element(By.ID, "q")
    box.send_keys("the enchanted valley")
    cards = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#results .card"),
                  "search results")
    want = [h["title"] for h in index.search("the enchanted valley", k=10)]
    assert [c.find_element(By.CSS_SELECTOR, "h3").text for c in cards] == want
    first = cards[0]
    assert first.find_elements(By.CSS_SELECTOR, ".notation svg"), "notation rendered as SVG"
    assert "score" in first.find_element(By.CSS_SELECTOR, ".meta").text
    button = first.find_element(By.CSS_SELECTOR, "button.play")
    button.click()
    _wait(browser, lambda d: button.get_attribute("data-state") == "playing",
          "the synth loaded its note samples and started")
    button.click()  # stop
    assert button.text == "▶ play"
    browser.save_screenshot(str(tmp_path / "search.png"))
    assert (tmp_path / "search.png").stat().st_size > 10_000
    _only_local_requests(browser, server)


def test_pasted_tune_gets_suggestions_and_similar_tunes(browser, server, index, tmp_path):
    _open(browser, server)
    browser.find_element(By.CSS_SELECTOR, "button[data-pane=mine]").click()
    tune = index.tune(3)
    area = browser.find_element(By.ID, "abc")
    area.send_keys(tune["abc"])
    browser.find_element(By.ID, "lookup").click()
    items = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#suggestions li"),
                  "suggested titles")
    want = index.suggest(tune["abc"], k=10)
    assert [i.find_element(By.CSS_SELECTOR, "a").text for i in items] == [
        w["title"] for w in want]
    assert items[0].find_elements(By.CSS_SELECTOR, ".dup"), "near-duplicate flag shown"
    names = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#generated-names li"),
                  "generated names")
    want_names = index.names(tune["abc"], 10)
    assert [n.find_element(By.CSS_SELECTOR, ".name").text for n in names] == [
        " ".join(g.title.split()) for g in want_names]  # HTML shows runs of spaces as one
    assert [n.find_element(By.CSS_SELECTOR, ".gen-label").text for n in names] == [
        "generated name — " + ("novel" if g.novel else "an existing title")
        for g in want_names]
    box = browser.find_element(By.ID, "generated")
    assert box.is_displayed() and "not identifications" in box.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#suggestions .gen-label")
    assert browser.find_elements(By.CSS_SELECTOR, "#mine-notation svg")
    similar = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#mine-similar .card"),
                    "similar tunes")
    assert len(similar) == len(index.similar(abc=tune["abc"], k=10))
    browser.save_screenshot(str(tmp_path / "suggest.png"))
    items[0].find_element(By.CSS_SELECTOR, "a").click()  # the near-duplicate: the tune itself
    title = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#tune-view h2").text,
                  "the tune opened")
    assert title == index.tune(want[0]["tune_id"])["title"]
    assert browser.find_elements(By.CSS_SELECTOR, "#tune-view svg")
    _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tune-similar .card"),
          "similar tunes of the opened tune")


def test_junk_shows_the_readers_problems(browser, server, tmp_path):
    _open(browser, server)
    browser.find_element(By.CSS_SELECTOR, "button[data-pane=mine]").click()
    browser.find_element(By.ID, "abc").send_keys("this is not a tune at all")
    browser.find_element(By.ID, "lookup").click()
    problems = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#problems li"),
                     "the reader's problems")
    assert "cannot be read" in browser.find_element(By.ID, "problems").text
    assert "no tunes found" in problems[0].text
    assert not browser.find_elements(By.CSS_SELECTOR, "#suggestions li")
    browser.save_screenshot(str(tmp_path / "junk.png"))


def test_map_hover_and_click(browser, server, index, tmp_path):
    _open(browser, server)
    browser.find_element(By.CSS_SELECTOR, "button[data-pane=map]").click()
    dots = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "svg.map circle"),
                 "map points")
    assert len(dots) == len(index)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#map-legend li")) >= 1
    dot = dots[-1]
    webdriver.ActionChains(browser).move_to_element(dot).perform()
    tip = browser.find_element(By.ID, "tip")
    tune_id = int(dot.get_attribute("data-id"))
    title = index.tune(tune_id)["title"]
    _wait(browser, lambda d: tip.is_displayed() and title in tip.text, "hover shows the title")
    browser.save_screenshot(str(tmp_path / "map.png"))
    dot.click()
    _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#tune-view h2").text == title,
          "click opens the tune")


def test_api_docs_render_offline(browser, server, tmp_path):
    browser.get(server + "/docs")
    ops = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"),
                "swagger-ui lists the API's operations")
    spans = [o.find_element(By.CSS_SELECTOR, ".opblock-summary-path") for o in ops]
    paths = {e.get_attribute("data-path") or e.text.replace("\u200b", "") for e in spans}
    assert {"/api/search", "/api/suggest", "/api/similar", "/api/map"} <= paths
    browser.save_screenshot(str(tmp_path / "docs.png"))
    _only_local_requests(browser, server)
