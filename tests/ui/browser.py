#!/usr/bin/env python3
"""Drives httshark's live view in a real browser (Debian chromium + chromedriver, PyPI or
Debian selenium), for tests/ui_browser.rs.

usage: browser.py URL_WITH_TOKEN SCREENSHOT_DIR EXPORT_DIR

Checks, in order (each failure exits non-zero with a message):
  1. a request without the token is refused (401), a foreign Host is refused (421);
  2. the page loads from the tokenised URL, which is traded for a cookie (the token leaves
     the address bar);
  3. rows appear, and more arrive live while the page is open;
  4. a filter (status:404) shows only matching rows and lands in the page URL; a bad filter
     shows its error;
  5. a detail opens (Enter) with the request's URL; the response tab shows the body;
  6. pause freezes the list and counts "N new"; resume adds them;
  7. HAR export (the current filter) is a HAR 1.2 document, credentials masked; saved to
     EXPORT_DIR/view.har for the schema validator;
  8. nothing captured ran as script (the XSS canary traffic sets window.__pwned if it did).
Screenshots of the list and the detail go to SCREENSHOT_DIR.
"""
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request

os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never go online

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def fail(msg):
    print(f"browser.py: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def step(msg):
    print(f"browser.py: {msg}", file=sys.stderr, flush=True)


def status_of(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    url, shots, export_dir = sys.argv[1], sys.argv[2], sys.argv[3]
    base = url.split("/?")[0]
    os.makedirs(shots, exist_ok=True)

    # 1. Refusals, without a browser.
    s = status_of(base + "/api/v1/entries")
    if s != 401:
        fail(f"/api/v1/entries without the token answered {s}, not 401")
    if status_of(base + "/") != 401:
        fail("/ without the token was not refused")
    s = status_of(base + "/api/v1/entries", {"Host": "rebind.evil.example"})
    if s != 421:
        fail(f"a foreign Host answered {s}, not 421")
    step("requests without the token and with a foreign Host are refused")

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="httshark-ui-chromium-")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1500,900", f"--user-data-dir={profile}"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    d.set_script_timeout(30)
    wait = WebDriverWait(d, 20)
    try:
        run(d, wait, url, base, shots, export_dir)
    finally:
        d.quit()


def rows(d):
    return d.find_elements(By.CSS_SELECTOR, "#rows .row")


def statuses(d):
    # Read in one script: rows are re-rendered as entries arrive (stale elements).
    return d.execute_script(
        "return Array.from(document.querySelectorAll('#rows .row .c-status'), e => e.textContent)")


def max_seq(d):
    return d.execute_script("return state.lastSeq")


def run(d, wait, url, base, shots, export_dir):
    # 2. Load with the token: the server trades it for a cookie and redirects.
    d.get(url)
    wait.until(lambda d: d.find_elements(By.ID, "list"))
    if "token=" in d.current_url:
        fail(f"the token stayed in the address bar: {d.current_url}")
    step("page loaded; the token left the URL")

    # 3. Rows, then more rows live.
    wait.until(lambda d: len(rows(d)) >= 3)
    first = max_seq(d)
    wait.until(lambda d: max_seq(d) > first + 2)
    step(f"rows arrive live (seq {first} -> {max_seq(d)})")
    # Rates need two health samples (one a second): wait for a non-zero one.
    wait.until(lambda d: d.execute_script(
        "const t = document.getElementById('health').textContent;"
        "return /packets\\/s/.test(t) && !t.startsWith('0 packets/s')"))
    d.save_screenshot(os.path.join(shots, "ui-list.png"))

    # 4. Filter.
    box = d.find_element(By.ID, "filter")
    box.click()
    box.send_keys("status:404")
    wait.until(lambda d: "filter=status%3A404" in d.current_url)

    def only_404(d):
        st = statuses(d)
        return len(st) > 0 and all(s == "404" for s in st)

    wait.until(only_404)
    n404 = d.execute_script("return state.rows.length")
    step(f"filter status:404 shows {n404} rows, all 404; in the URL: {d.current_url.split('#')[1]}")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("status:9x")
    wait.until(lambda d: d.find_element(By.ID, "filter-error").is_displayed())
    err = d.find_element(By.ID, "filter-error").text
    if "status" not in err:
        fail(f"filter error does not say what: {err!r}")
    step(f"a bad filter shows: {err!r}")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACK_SPACE)
    wait.until(lambda d: not d.find_element(By.ID, "filter-error").is_displayed())
    wait.until(lambda d: "200" in statuses(d))
    box.send_keys(Keys.ESCAPE)

    # 5. Detail: select a /json row (it has a JSON body and a Set-Cookie), Enter.
    wait.until(lambda d: d.execute_script("return state.rows.some(r => r.path.startsWith('/json'))"))
    seq = d.execute_script("return state.rows.filter(r => r.path.startsWith('/json')).pop().seq")
    d.execute_script("state.follow = false; select(arguments[0], false);", seq)
    d.find_element(By.ID, "list").send_keys(Keys.ENTER)
    wait.until(lambda d: d.find_element(By.ID, "detail").is_displayed())
    wait.until(lambda d: "/json" in d.find_element(By.ID, "detail-body").text)
    step(f"detail of entry {seq} opened")
    d.find_element(By.CSS_SELECTOR, "#tabs button[data-tab=response]").click()
    wait.until(lambda d: '"hello": "world"' in d.find_element(By.ID, "detail-body").text)
    body_text = d.find_element(By.ID, "detail-body").text
    if "abc123" in body_text:
        fail("a Set-Cookie value is shown unmasked before a click")
    d.save_screenshot(os.path.join(shots, "ui-detail.png"))
    step("response tab shows the pretty JSON body; Set-Cookie masked")
    d.find_element(By.ID, "list").send_keys(Keys.ESCAPE)
    wait.until(lambda d: not d.find_element(By.ID, "detail").is_displayed())

    # 6. Pause / resume (Space).
    d.find_element(By.ID, "list").send_keys(" ")
    wait.until(lambda d: d.find_element(By.ID, "pause").text == "Resume")
    frozen = d.execute_script("return state.rows.length")
    wait.until(lambda d: d.execute_script("return state.pending.length") >= 3)
    if d.execute_script("return state.rows.length") != frozen:
        fail("rows changed while paused")
    new_text = d.find_element(By.ID, "new-count").text
    if not new_text.endswith(" new"):
        fail(f"no 'N new' while paused: {new_text!r}")
    step(f"paused: list frozen at {frozen} rows, {new_text}")
    d.find_element(By.ID, "list").send_keys(" ")
    wait.until(lambda d: d.find_element(By.ID, "pause").text == "Pause")
    wait.until(lambda d: d.execute_script("return state.rows.length") > frozen
               or d.execute_script("return state.rows.length") >= 10000)
    step("resumed: the buffered rows were added")

    # 7. Export HAR of the current (empty) filter, as the Export button's URL does.
    har_text = d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(exportUrl({filter: state.filter})).then(r => r.text()).then(done, e => done('ERR ' + e));")
    try:
        har = json.loads(har_text)
    except ValueError:
        fail(f"export is not JSON: {har_text[:200]!r}")
    log = har.get("log", {})
    entries = log.get("entries", [])
    if log.get("version") != "1.2" or not entries:
        fail(f"export is not a HAR 1.2 log with entries: {har_text[:200]!r}")
    for e in entries:
        for k in ("startedDateTime", "request", "response", "timings", "time"):
            if k not in e:
                fail(f"HAR entry without {k}")
    cookies = [h["value"] for e in entries for h in e["response"]["headers"]
               if h["name"].lower() == "set-cookie"]
    if not cookies or any(v != "[masked]" for v in cookies):
        fail(f"Set-Cookie values not masked in the export: {cookies[:3]}")
    os.makedirs(export_dir, exist_ok=True)
    with open(os.path.join(export_dir, "view.har"), "w") as f:
        f.write(har_text)
    step(f"HAR export: {len(entries)} entries, Set-Cookie masked")
    if not d.find_element(By.ID, "export-filter").is_enabled():
        fail("the Export button is disabled")

    # 8. The XSS canary: entries whose URL and bodies carry markup must not have run.
    if d.execute_script("return state.rows.some(r => r.path.includes('onerror'))") is not True:
        fail("the XSS canary request is not in the list")
    canary = d.execute_script("return state.rows.filter(r => r.path.includes('onerror')).pop().seq")
    d.execute_script("openDetail(arguments[0]); showTab('request');", canary)
    wait.until(lambda d: "onerror" in d.find_element(By.ID, "detail-body").text)
    time.sleep(0.5)
    if d.execute_script("return window.__pwned") is not None:
        fail("captured markup ran as script")
    step("the XSS canary stayed text")
    print("browser.py: OK", file=sys.stderr)


if __name__ == "__main__":
    main()
