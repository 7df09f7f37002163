//! The event stream (`GET /api/v1/stream?filter=&since=`, Server-Sent Events): new
//! entries matching the stream's filter, in batches, each batch's `id:` the last seq it
//! covered, so a browser that reconnects (it sends `Last-Event-ID` on its own) resumes
//! exactly where it stopped.
//!
//! Events: `hello` (the ring's state), unnamed (`data:` a JSON array of summaries),
//! `evicted` (`{"from","to","count"}`: entries the browser missed because they left the
//! ring, or because it fell more than [`MAX_CLIENT_LAG`] behind), `health` (once a
//! second), and a comment line as a heartbeat.
//!
//! Never slows the capture: this thread only reads the ring (a short lock, `Arc` clones)
//! and writes to its own socket. A browser that reads slowly lags behind in the ring; a
//! lag beyond [`MAX_CLIENT_LAG`] (this client's bounded queue) or beyond the ring's oldest
//! entry is skipped and counted (`ui_stream_dropped`); a browser that stops reading
//! blocks only this thread until the write timeout drops it (`ui_streams_stuck`).

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::api::{health, parse_filter};
use super::filter::Budget;
use super::http::{self, Request, Response};
use super::server::Ctx;
use super::{bump, MAX_STREAMS};

/// Most entries sent in one batch.
pub const MAX_BATCH: usize = 500;
/// How far (in entries) a stream may fall behind the newest before it skips ahead.
pub const MAX_CLIENT_LAG: u64 = 5_000;
/// How often the `health` event is sent, and the longest wait between two writes.
pub const HEALTH_EVERY: Duration = Duration::from_secs(1);
/// The browser's reconnection delay (`retry:`), milliseconds.
pub const RETRY_MS: u64 = 2000;

static STREAMS: AtomicUsize = AtomicUsize::new(0);

struct Slot;

impl Drop for Slot {
    fn drop(&mut self) {
        STREAMS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves one stream until the browser goes away or stops reading.
pub fn serve(mut stream: TcpStream, req: &Request, ctx: &Ctx) {
    let filter = match parse_filter(req) {
        Ok(f) => f,
        Err(r) => {
            let _ = http::write_response(&mut stream, &r, true);
            return;
        }
    };
    if STREAMS.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
        STREAMS.fetch_sub(1, Ordering::SeqCst);
        let r = Response::error(503, "too many open views (close a tab)");
        let _ = http::write_response(&mut stream, &r, true);
        return;
    }
    let _slot = Slot;
    let shared = &ctx.shared;
    bump(&shared.stats.streams, 1);
    let stats = shared.ring.stats();
    // Resume point: Last-Event-ID (a reconnect), else ?since=, else only new entries.
    let mut cursor = req
        .header("last-event-id")
        .or_else(|| req.param("since"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(stats.next.saturating_sub(1))
        .min(stats.next.saturating_sub(1));
    if stream.set_write_timeout(Some(http::WRITE_TIMEOUT)).is_err() {
        return;
    }
    let mut head = http::head(200, "text/event-stream", &[]);
    head.push_str("Connection: close\r\n\r\n");
    head.push_str(&format!(
        "retry: {RETRY_MS}\nevent: hello\ndata: {{\"oldest\":{},\"next\":{},\"cursor\":{cursor}}}\n\n",
        stats.oldest, stats.next
    ));
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let mut last_health = Clock::now();
    loop {
        shared.ring.wait_after(cursor, HEALTH_EVERY);
        let mut out = String::new();
        let next = shared.ring.stats().next;
        // The bounded per-client queue: a client further behind than MAX_CLIENT_LAG
        // skips ahead.
        if next.saturating_sub(cursor + 1) > MAX_CLIENT_LAG {
            let to = next - 1 - MAX_CLIENT_LAG;
            out.push_str(&evicted(cursor + 1, to));
            bump(&shared.stats.stream_dropped, to - cursor);
            cursor = to;
        }
        let (batch, oldest) = shared.ring.after(cursor, MAX_BATCH);
        if oldest > cursor + 1 {
            out.push_str(&evicted(cursor + 1, oldest - 1));
            bump(&shared.stats.stream_dropped, oldest - 1 - cursor);
            cursor = oldest - 1;
        }
        if let Some(last) = batch.last() {
            let mut budget = Budget::default();
            let rows: Vec<&str> = batch
                .iter()
                .filter(|e| filter.matches(&e.fields, &mut budget))
                .map(|e| e.summary.as_str())
                .collect();
            if budget.exhausted > 0 {
                bump(&shared.stats.body_search_exhausted, budget.exhausted);
            }
            cursor = last.seq;
            out.push_str(&format!("id: {cursor}\n"));
            if !rows.is_empty() {
                out.push_str("data: [");
                out.push_str(&rows.join(","));
                out.push_str("]\n");
            }
            out.push('\n');
        }
        if last_health.elapsed() >= HEALTH_EVERY {
            last_health = Clock::now();
            out.push_str(&format!("event: health\ndata: {}\n\n", health(shared)));
        }
        if out.is_empty() {
            out.push_str(": idle\n\n");
        }
        if let Err(e) = stream.write_all(out.as_bytes()) {
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) {
                bump(&shared.stats.streams_stuck, 1);
            }
            return;
        }
    }
}

fn evicted(from: u64, to: u64) -> String {
    format!(
        "event: evicted\ndata: {{\"from\":{from},\"to\":{to},\"count\":{}}}\n\n",
        to + 1 - from
    )
}

/// The stream's own pacing clock. The server is an I/O edge: this never reaches the
/// capture, whose time is packet time.
struct Clock(std::time::Instant);

impl Clock {
    #[allow(clippy::disallowed_methods)]
    fn now() -> Clock {
        Clock(std::time::Instant::now())
    }

    #[allow(clippy::disallowed_methods)]
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}
