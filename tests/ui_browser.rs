//! The live web view in a real browser (issue 14): httshark captures live traffic in a
//! pair of network namespaces with `-ui`, and tests/ui/browser.py drives Debian's chromium
//! through chromedriver (selenium) in the client namespace: rows appear live, a filter,
//! a detail, pause and resume, a HAR export (validated here against the HAR 1.2 schema),
//! a request without the token refused, captured markup never run; then every part of
//! the detail (4-tuple, timing bars, wire-order headers with a repeated field, query,
//! cookies, hex, image preview, download, lost ranges marked, anomalies, copy as curl),
//! the keys, clear, export of a selection with and without credentials, the health strip
//! (red on a loss), virtualised rows and a filter given in the page URL. It saves its
//! screenshots into the lab's folder, and into docs/img (the ones docs/ui.md shows) when
//! `HTTSHARK_UI_SCREENSHOTS=docs` asks: a test run leaves the worktree clean.
//!
//! Needs root (namespaces, capture), iproute2, curl, python3 with selenium, chromium and
//! chromium-driver; skipped with a loud message otherwise, and failing under CI (which
//! installs them all, .ci/run).
// Tests read the clock (deadlines); clippy.toml keeps it out of the library.
#![allow(clippy::disallowed_methods)]

mod common;
mod netns;

use std::process::Stdio;

use common::*;
use netns::*;

fn skip() -> bool {
    skip_lab(
        "live web view browser",
        &["ip", "curl", "python3", "chromium", "chromedriver"],
        &["selenium"],
    )
}

#[test]
fn the_live_view_works_in_a_real_browser() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("ui", 81);
    lab.start_server();
    // `-drop-content-type=`: keep image bodies (dropped by default) for the preview.
    let extra: Vec<String> = ["-ui", "127.0.0.1:0", "-drop-content-type="]
        .iter()
        .map(|s| s.to_string())
        .collect();
    lab.start_httshark_with("file", Stdio::null(), &extra);
    let stderr = lab.stderr.as_ref().unwrap().text();
    let url = stderr
        .lines()
        .find_map(|l| l.strip_prefix("httshark: ui: open "))
        .unwrap_or_else(|| panic!("no ui URL on stderr: {stderr}"))
        .trim()
        .to_string();
    // Traffic for the whole test, bounded: at most 1,200 rounds of five requests, 0.1 s
    // apart (about two minutes), killed with the lab. One round carries the XSS canary.
    let b = lab.base();
    let script = format!(
        "curl -s -o /dev/null -g '{b}/echo?x=<img/src=x/onerror=window.__pwned=1>' \
           -H 'Content-Type: text/html' --data '<script>window.__pwned=1</script>'; \
         for i in $(seq 1 1200); do \
           curl -s -o /dev/null '{b}/bytes/100' '{b}/missing' '{b}/json?i='$i '{b}/gzip' '{b}/image.png' \
             -H 'Cookie: session=s3cret'; \
           sleep 0.1; \
         done"
    );
    let mut c = Lab::in_ns(&lab.cli, "bash");
    c.args(["-c", &script]);
    lab.spawn_group(c);

    let shots = if std::env::var_os("HTTSHARK_UI_SCREENSHOTS").is_some_and(|v| v == "docs") {
        repo().join("docs/img")
    } else {
        let d = lab.path("shots");
        std::fs::create_dir_all(&d).unwrap();
        d
    };
    let export = lab.path("export");
    let o = Lab::in_ns(&lab.cli, "python3")
        .arg(repo().join("tests/ui/browser.py"))
        .arg(&url)
        .arg(&shots)
        .arg(&export)
        .env("HOME", lab.path(""))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    eprintln!("{log}");
    assert!(o.status.success(), "browser test failed:\n{log}");
    assert!(log.contains("browser.py: OK"));
    // The export validates against the HAR 1.2 schema, as the file processor's do.
    validate_har_dir(&export);
    // The view counted the refused requests.
    let h = lab.httshark.as_mut().unwrap();
    signal_pid(h.id(), libc::SIGINT);
    let status = h.wait().unwrap();
    let text = lab.stderr.take().unwrap().finish();
    assert!(status.success(), "httshark: {status}: {text}");
    assert!(
        text.contains("httshark: ui: ") && text.contains("entries shown at"),
        "{text}"
    );
}
