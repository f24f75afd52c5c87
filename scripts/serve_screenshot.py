"""Screenshot of the ``folkclip serve`` page for the README (headless Chromium, loopback).

    python scripts/serve_screenshot.py INDEX [--query "the humours of"]
        [--pane search|mine|map|identify] [--query-file q.wav]
        [--out docs/figures/serve.png] [--width 1280] [--height 900]

Serves INDEX on a free 127.0.0.1 port, opens the page in headless Chromium (which can
resolve no other host), types the query into the search box, waits for the notation,
and saves a PNG. With ``--pane mine`` the first search hit's ABC is pasted into "Your
tune" instead (or tune ``--tune-id``), to show suggestions; ``--pane map`` shows the map;
``--pane identify --query-file FILE`` opens a recording or MIDI file in "Play or hum" and
waits for the answer (the identified tune with its matched bars marked).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("index")
    p.add_argument("--query", default="the humours of")
    p.add_argument("--pane", choices=("search", "mine", "map", "identify"), default="search")
    p.add_argument("--query-file", help="with --pane identify: a recording or MIDI file")
    p.add_argument("--tune-id", type=int, default=None,
                   help="with --pane mine: paste this indexed tune (default: the first hit)")
    p.add_argument("--out", default="docs/figures/serve.png")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=900)
    args = p.parse_args(argv)

    import uvicorn
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from folkclip.index import TuneIndex
    from folkclip_cli.serve.app import create_app

    index = TuneIndex.load(args.index)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(index), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="folkclip-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--hide-scrollbars",
                 f"--window-size={args.width},{args.height}",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(
        executable_path=shutil.which("chromedriver")), options=opts)
    wait = WebDriverWait(driver, 60)
    try:
        driver.get(f"http://127.0.0.1:{port}/")
        wait.until(lambda d: d.execute_script("return !!(window.ABCJS && window.folkclip)"))
        if args.pane == "identify":
            driver.find_element(By.CSS_SELECTOR, "button[data-pane=identify]").click()
            driver.find_element(By.ID, "id-file").send_keys(str(Path(args.query_file).resolve()))
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#id-result .notation svg")
                       or d.find_elements(By.CSS_SELECTOR, "#id-result .suggestion"))
        elif args.pane == "map":
            driver.find_element(By.CSS_SELECTOR, "button[data-pane=map]").click()
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "svg.map circle"))
        elif args.pane == "mine":
            tid = args.tune_id if args.tune_id is not None else \
                index.search(args.query, k=1)[0]["tune_id"]
            abc = index.tune(tid)["abc"]
            driver.find_element(By.CSS_SELECTOR, "button[data-pane=mine]").click()
            driver.execute_script("document.getElementById('abc').value = arguments[0];", abc)
            driver.find_element(By.ID, "lookup").click()
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#mine-similar .card"))
        else:
            driver.find_element(By.ID, "q").send_keys(args.query)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results .card svg"))
        time.sleep(0.5)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(args.out)
    finally:
        driver.quit()
        server.should_exit = True
        shutil.rmtree(profile, ignore_errors=True)
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
