#!/usr/bin/env python3
"""Keeps the live view open in headless chromium for scripts/ui-load.sh and reports the
rows the page holds every 10 s. usage: ui-load-browser.py URL_WITH_TOKEN SECONDS"""
import os
import sys
import tempfile
import time

os.environ["SE_OFFLINE"] = "true"
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

url, seconds = sys.argv[1], float(sys.argv[2])
o = webdriver.ChromeOptions()
o.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          f"--user-data-dir={tempfile.mkdtemp(prefix='httshark-ui-load-')}"):
    o.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=o)
try:
    d.get(url)
    end = time.time() + seconds
    while time.time() < end:
        time.sleep(10)
        rows, last, missed = d.execute_script("return [state.rows.length, state.lastSeq, state.missed]")
        print(f"browser: {rows} rows in the page, last seq {last}, missed {missed}", flush=True)
finally:
    d.quit()
