//! The live web view (`-ui ADDR`, issue 14): a Fiddler-like page that shows transactions
//! as they complete, filtered on the server, with details, HAR export, curl and a
//! capture-health strip. docs/ui.md is the user's guide, docs/security.md its threat model.
//!
//! The parts, one job each:
//! - `processor`: the `Processor` that turns each transaction into a [`entry::UiEntry`]
//!   and pushes it into the [`ring::Ring`] (processor thread; never waits on a browser);
//! - `ring`: the bounded buffer (count and bytes), evictions counted;
//! - `filter`: the filter language (pure);
//! - `auth`: the token, the cookie, Host and Origin checks;
//! - `http`: the HTTP/1.1 request reader and response writer (std only);
//! - `server`: the accept loop and routing; `api`: the JSON endpoints; `sse`: the stream;
//! - `assets`: the page, embedded in the binary.
//!
//! Why a hand-written server on std threads (as `metrics::server`), not hyper + tokio:
//! the research notes measured hyper + tokio at +12 crates and +492 KB, axum at +39 crates;
//! this API is a dozen GET routes and one server-push stream, served to one or a few
//! browsers on loopback, read-only, with every request head bounded (8 KiB), every read
//! and write timed out, and at most [`MAX_CONNECTIONS`] connections. No new dependency:
//! httparse (already used for HTTP parsing) reads the request heads.
//!
//! What it does not do: TLS, HTTP/2, keep-alive (every response closes its connection,
//! except the stream), anything that changes the capture (the API is read-only).

pub mod api;
pub mod assets;
pub mod auth;
pub mod entry;
pub mod filter;
pub mod http;
pub mod processor;
pub mod ring;
pub mod server;
pub mod sse;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Default `-ui-max-entries`.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// Default `-ui-memory`: the ring's byte cap.
pub const DEFAULT_MEMORY: usize = 64 << 20;
/// Most simultaneous connections to the UI server; more are answered 503 and closed.
pub const MAX_CONNECTIONS: usize = 32;
/// Most simultaneous event streams (browser tabs).
pub const MAX_STREAMS: usize = 8;

/// Settings of the view (`-ui`, `-ui-token-file`, `-ui-allowed-hosts`,
/// `-ui-max-entries`, `-ui-memory`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UiConfig {
    /// `-ui`: the address to listen on (`127.0.0.1:8484`, `[::1]:0`).
    pub listen: String,
    /// `-ui-token-file`: the access token (required to bind a non-loopback address).
    pub token_file: Option<PathBuf>,
    /// `-ui-allowed-hosts`: extra Host names accepted (a reverse proxy's name).
    pub allowed_hosts: Vec<String>,
    /// `-ui-max-entries`: entries the ring holds.
    pub max_entries: usize,
    /// `-ui-memory`: bytes the ring holds.
    pub max_bytes: usize,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            listen: String::new(),
            token_file: None,
            allowed_hosts: Vec::new(),
            max_entries: DEFAULT_MAX_ENTRIES,
            max_bytes: DEFAULT_MEMORY,
        }
    }
}

crate::counters! {
    /// The live web view's counters (`-ui`).
    pub struct UiCounters {
        /// Transactions added to the view's ring.
        ui_entries,
        /// Entries evicted from the ring (by `-ui-max-entries` or `-ui-memory`).
        ui_evicted,
        /// Of `ui_evicted`, entries evicted because of the byte cap (`-ui-memory`).
        ui_evicted_bytes,
        /// Requests refused for a missing or wrong token.
        ui_auth_refused,
        /// Requests refused by the Host or Origin check (DNS rebinding, cross-site).
        ui_origin_refused,
        /// Connections answered 503 because `MAX_CONNECTIONS` were open.
        ui_connections_refused,
        /// Event streams opened.
        ui_streams,
        /// Entries a stream skipped because its browser fell behind (evicted while it was
        /// away or more than `MAX_CLIENT_LAG` behind).
        ui_stream_dropped,
        /// Streams closed because their browser stopped reading (write timeout).
        ui_streams_stuck,
        /// Entries a `body:` filter could not search (`BODY_SCAN_BUDGET` spent).
        ui_body_search_exhausted,
    }
}

/// The server side's counters, shared by its threads (the ring counts its own).
#[derive(Debug, Default)]
pub struct UiStats {
    pub entries: AtomicU64,
    pub auth_refused: AtomicU64,
    pub origin_refused: AtomicU64,
    pub connections_refused: AtomicU64,
    pub streams: AtomicU64,
    pub stream_dropped: AtomicU64,
    pub streams_stuck: AtomicU64,
    pub body_search_exhausted: AtomicU64,
}

/// Adds `n` to a shared counter.
pub fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// Everything the server and the processor share.
pub struct Shared {
    pub ring: ring::Ring,
    pub stats: UiStats,
    /// The pipeline's counters and gauges, for the health strip.
    pub metrics: crate::metrics::SharedMetrics,
    /// `-memory-limit`, for "memory budget use".
    pub memory_limit: u64,
}

impl Shared {
    pub fn new(
        config: &UiConfig,
        metrics: crate::metrics::SharedMetrics,
        memory_limit: u64,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            ring: ring::Ring::new(ring::RingLimits {
                max_entries: config.max_entries,
                max_bytes: config.max_bytes,
            }),
            stats: UiStats::default(),
            metrics,
            memory_limit,
        })
    }

    /// The counters as the summary and `/metrics` report them.
    pub fn counters(&self) -> UiCounters {
        let r = self.ring.stats();
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let s = &self.stats;
        UiCounters {
            ui_entries: l(&s.entries),
            ui_evicted: r.evicted,
            ui_evicted_bytes: r.evicted_bytes,
            ui_auth_refused: l(&s.auth_refused),
            ui_origin_refused: l(&s.origin_refused),
            ui_connections_refused: l(&s.connections_refused),
            ui_streams: l(&s.streams),
            ui_stream_dropped: l(&s.stream_dropped),
            ui_streams_stuck: l(&s.streams_stuck),
            ui_body_search_exhausted: l(&s.body_search_exhausted),
        }
    }
}
#[cfg(test)]
mod tests;
