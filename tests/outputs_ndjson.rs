//! The `ndjson` processor: one entry per line, the same entry as the HAR files, arrival
//! order, buffering until a tick, append mode and 0600, and what happens when the output
//! fails (counted, reported once, no torn lines).

mod outputs_support;

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use httshark::har;
use httshark::model::Transaction;
use httshark::processor::har_file::HarFileProcessor;
use httshark::processor::ndjson::{NdjsonConfig, NdjsonProcessor, BUFFER_BYTES};
use httshark::processor::Processor;
use outputs_support::{at, body, h, tx};
use serde_json::Value;

/// A writer whose bytes the test can read, and which can be told to fail.
#[derive(Clone, Default)]
struct Shared {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// While true every write fails with EPIPE.
    broken: Arc<Mutex<bool>>,
    /// Accept at most this many bytes per `write` call (0 = no cap).
    max_per_write: usize,
    /// Fail every other write call (after accepting a partial one).
    flaky: Arc<Mutex<bool>>,
    calls: Arc<Mutex<u64>>,
}

impl Shared {
    fn text(&self) -> String {
        String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap()
    }
    fn set_broken(&self, b: bool) {
        *self.broken.lock().unwrap() = b;
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut calls = self.calls.lock().unwrap();
        *calls += 1;
        if *self.broken.lock().unwrap() || (*self.flaky.lock().unwrap() && *calls % 2 == 0) {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let n = if self.max_per_write == 0 {
            buf.len()
        } else {
            buf.len().min(self.max_per_write)
        };
        self.bytes.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        if *self.broken.lock().unwrap() {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        Ok(())
    }
}

fn processor(out: &Shared) -> NdjsonProcessor {
    NdjsonProcessor::with_writer(Box::new(out.clone()), "test output".into())
}

/// A transaction whose strings hold every kind of line break.
fn nasty(id: u64) -> Transaction {
    let mut t = tx(id, id as i64 * 100);
    t.request.method = "POST".into();
    t.request
        .headers
        .push(h("X-Note", "line1\nline2\r\nline3\u{2028}\u{2029}\u{85}"));
    t.request.headers.push(h("Content-Type", "text/plain"));
    t.request.body = body(b"a\nb\r\nc\x00d\x1b[31m\"quoted\"\\");
    let r = t.response.as_mut().unwrap();
    r.body = body(b"{\n  \"pretty\": true\n}\n\n");
    r.headers = vec![h("Content-Type", "application/json")];
    t
}

fn lines(text: &str) -> Vec<Value> {
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "last line unfinished"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn one_line_per_entry_in_arrival_order_flushed_at_tick() {
    let out = Shared::default();
    let mut p = processor(&out);
    // Arrival order is not start order: the stream keeps arrival order.
    let txs = [tx(3, 300), tx(1, 100), tx(2, 200)];
    for t in &txs {
        p.on_transaction(t).unwrap();
    }
    assert_eq!(out.text(), "", "buffered until a tick");
    p.on_tick(at(1000)).unwrap();
    let got = lines(&out.text());
    assert_eq!(got.len(), 3);
    for (line, t) in got.iter().zip(&txs) {
        let want = serde_json::to_value(har::reference::entry(t)).unwrap();
        assert_eq!(line, &want, "the entry the HAR files hold");
    }
    p.on_transaction(&tx(4, 400)).unwrap();
    p.finish(at(2000)).unwrap();
    assert_eq!(lines(&out.text()).len(), 4, "finish flushes");
    let c = p.counters();
    assert_eq!(
        (c.ndjson_lines_written, c.ndjson_write_errors),
        (4, 0),
        "{c:?}"
    );
    assert_eq!(c.ndjson_bytes_written, out.text().len() as u64);
}

#[test]
fn a_line_never_holds_a_raw_newline() {
    let out = Shared::default();
    let mut p = processor(&out);
    for id in 1..=5 {
        p.on_transaction(&nasty(id)).unwrap();
    }
    p.finish(at(10_000)).unwrap();
    let text = out.text();
    assert_eq!(text.matches('\n').count(), 5, "exactly one \\n per entry");
    assert!(!text.contains('\r'));
    let got = lines(&text);
    assert_eq!(got.len(), 5);
    assert_eq!(
        got[0]["request"]["postData"]["text"],
        "a\nb\r\nc\u{0}d\u{1b}[31m\"quoted\"\\"
    );
    assert_eq!(
        got[0]["response"]["content"]["text"],
        "{\n  \"pretty\": true\n}\n\n"
    );
}

#[test]
fn the_line_equals_the_entry_in_the_har_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = HarFileProcessor::new(dir.path().into(), false, Duration::from_secs(60)).unwrap();
    let out = Shared::default();
    let mut p = processor(&out);
    let t = nasty(7);
    f.on_transaction(&t).unwrap();
    f.finish(at(60_000)).unwrap();
    p.on_transaction(&t).unwrap();
    p.finish(at(60_000)).unwrap();
    let files = outputs_support::files(dir.path());
    let har: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    assert_eq!(lines(&out.text())[0], har["log"]["entries"][0]);
}

#[test]
fn a_line_longer_than_the_buffer_is_written_whole() {
    let out = Shared::default();
    let mut p = processor(&out);
    let mut big = tx(1, 0);
    big.response.as_mut().unwrap().body = body(&vec![b'x'; 3 * BUFFER_BYTES]);
    p.on_transaction(&tx(2, 0)).unwrap();
    p.on_transaction(&big).unwrap();
    // Buffer full: written without waiting for a tick.
    let got = lines(&out.text());
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[1]["response"]["content"]["text"].as_str().map(str::len),
        Some(3 * BUFFER_BYTES)
    );
    p.finish(at(1)).unwrap();
}

#[test]
fn many_small_lines_are_written_when_the_buffer_fills() {
    let out = Shared::default();
    let mut p = processor(&out);
    let mut n = 0;
    while out.text().is_empty() {
        p.on_transaction(&tx(n, 0)).unwrap();
        n += 1;
        assert!(n < 10_000, "never flushed");
    }
    let len = out.text().len();
    assert!(len >= BUFFER_BYTES, "written in one buffer, {len} bytes");
    assert_eq!(lines(&out.text()).len() as u64, n);
}

#[test]
fn a_failing_output_is_reported_once_and_lines_are_counted() {
    let out = Shared::default();
    let mut p = processor(&out);
    p.on_transaction(&tx(1, 0)).unwrap();
    p.on_tick(at(1)).unwrap();
    out.set_broken(true);
    p.on_transaction(&tx(2, 0)).unwrap();
    let e = p.on_tick(at(2)).unwrap_err();
    assert!(
        e.to_string().starts_with("ndjson: writing test output"),
        "{e}"
    );
    // Not reported again while it keeps failing; new lines are dropped and counted.
    for id in 3..=5 {
        p.on_transaction(&tx(id, 0)).unwrap();
    }
    p.on_tick(at(3)).unwrap();
    assert_eq!(p.counters().ndjson_lines_dropped, 3);
    // It recovers: the owed line 2 is written, then new ones.
    out.set_broken(false);
    p.on_tick(at(4)).unwrap();
    p.on_transaction(&tx(6, 0)).unwrap();
    p.finish(at(5)).unwrap();
    let ids: Vec<String> = lines(&out.text())
        .iter()
        .map(|v| v["connection"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["1", "2", "6"]);
    let c = p.counters();
    assert_eq!(
        (
            c.ndjson_lines_written,
            c.ndjson_lines_dropped,
            c.ndjson_write_errors
        ),
        (3, 3, 2)
    );
}

#[test]
fn still_failing_at_the_end_says_what_was_lost() {
    let out = Shared::default();
    let mut p = processor(&out);
    out.set_broken(true);
    p.on_transaction(&tx(1, 0)).unwrap();
    p.on_transaction(&tx(2, 0)).unwrap();
    let e = p.finish(at(1)).unwrap_err().to_string();
    assert!(e.contains("2 lines dropped in all"), "{e}");
    assert_eq!(p.counters().ndjson_lines_dropped, 2);
    assert_eq!(p.counters().ndjson_lines_written, 0);
}

/// Short writes and errors in the middle of a line never leave a torn line followed by
/// another one: the rest is written first when the output works again.
#[test]
fn partial_writes_never_tear_lines() {
    let out = Shared {
        max_per_write: 97,
        ..Shared::default()
    };
    *out.flaky.lock().unwrap() = true;
    let mut p = processor(&out);
    let mut sent = 0;
    for round in 0..200 {
        p.on_transaction(&nasty(round)).unwrap();
        sent += 1;
        // Every tick makes some progress (odd calls succeed) and reports at most once.
        let _ = p.on_tick(at(round as i64));
    }
    *out.flaky.lock().unwrap() = false;
    p.finish(at(1_000_000)).unwrap();
    let got = lines(&out.text());
    let c = p.counters();
    assert_eq!(got.len() as u64, c.ndjson_lines_written);
    assert_eq!(c.ndjson_lines_written + c.ndjson_lines_dropped, sent);
    assert!(
        c.ndjson_lines_written > 0 && c.ndjson_write_errors > 0,
        "{c:?}"
    );
}

#[test]
fn file_output_appends_and_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/entries.ndjson");
    for id in 1..=2 {
        let mut p = NdjsonProcessor::new(NdjsonConfig {
            path: Some(path.clone()),
        })
        .unwrap();
        p.on_transaction(&tx(id, 0)).unwrap();
        p.finish(at(1)).unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let ids: Vec<Value> = lines(&text)
        .iter()
        .map(|v| v["connection"].clone())
        .collect();
    assert_eq!(ids, ["1", "2"], "the second run appended");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn an_unwritable_path_fails_before_capture() {
    let dir = tempfile::tempdir().unwrap();
    // A directory.
    let e = NdjsonProcessor::new(NdjsonConfig {
        path: Some(dir.path().to_path_buf()),
    })
    .err()
    .expect("a directory is refused");
    assert!(e.to_string().contains("cannot open"), "{e}");
    // Under a regular file.
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    assert!(NdjsonProcessor::new(NdjsonConfig {
        path: Some(file.join("x.ndjson")),
    })
    .is_err());
}

#[test]
fn dash_is_standard_output() {
    assert_eq!(NdjsonConfig::from_flag("-"), NdjsonConfig { path: None });
    assert_eq!(NdjsonConfig::default(), NdjsonConfig { path: None });
    assert_eq!(
        NdjsonConfig::from_flag("./-").path.as_deref(),
        Some(std::path::Path::new("./-"))
    );
    let p = NdjsonProcessor::new(NdjsonConfig::from_flag("-")).unwrap();
    assert_eq!(p.name(), "ndjson");
}
