//! Prometheus metrics: the run's counters, a few gauges, and per-site request counts and
//! latency histograms, rendered in the text exposition format 0.0.4 and served on
//! `GET /metrics` by a one-thread HTTP server (`-metrics-listen`).
//!
//! The parts and who fills them:
//! - `processor::metrics::MetricsProcessor` (owned by the processor thread) counts
//!   transactions per site and status class and observes their latency, and publishes a
//!   copy into [`SharedMetrics`] on every tick.
//! - The pipeline publishes its counters ([`SharedMetrics::set_counters`], the
//!   `pipeline::Summary::counters` pairs) and gauges ([`SharedMetrics::set_gauges`]).
//! - [`serve`] (`server`) renders the shared [`MetricsRegistry`] on each scrape.
//!
//! Metric names (docs/counters.md has the full list, generated from the code):
//! - `httshark_<counter>_total` for every counter of the summary, its HELP the counter's
//!   doc comment (`crate::counters::describe`);
//! - `httshark_open_connections`, `httshark_pending_requests`, `httshark_buffered_bytes`,
//!   `httshark_memory_bytes` gauges;
//! - `httshark_site_requests_total{site,status_class}`;
//! - `httshark_site_response_latency_seconds{site}` histogram;
//! - `httshark_metrics_site_overflow_total`, `httshark_metrics_site_labels_cut_total`.
//!
//! What it does not do: no push gateway, no OpenMetrics format, no TLS or authentication
//! on the listener (bind it to a management address), no keep-alive.
//!
//! Invariants:
//! - Every series is there from the first scrape: the registry is created with every
//!   counter of the run at 0 and the gauges at their start values
//!   ([`SharedMetrics::registered`]); a counter, once registered, is never dropped.
//! - Label cardinality is bounded: at most `max_sites` site labels (first seen first
//!   served), the rest counted under `site="other"`; a site label is at most
//!   [`MAX_SITE_LABEL_CHARS`] characters. Both caps are counted and exported.
//! - Label values are escaped per the format (`\\`, `\"`, `\n`), so a hostile Host header
//!   cannot break the exposition.
//! - The server reads at most [`MAX_REQUEST_BYTES`] per request and gives up on a client
//!   after [`READ_TIMEOUT`]; it serves one connection at a time.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Default `max_sites`: site labels before the rest go to `site="other"`.
pub const DEFAULT_MAX_SITES: usize = 100;
/// The site label of every site past `max_sites`.
pub const OTHER_SITE: &str = "other";
/// Longest site label, in characters (a DNS name is at most 253, plus `:port`); longer
/// Host values are cut and counted in `httshark_metrics_site_labels_cut_total`.
pub const MAX_SITE_LABEL_CHARS: usize = 260;
/// Latency histogram bucket bounds, seconds: Prometheus's defaults widened to 1 ms and 60 s.
pub const DEFAULT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Most bytes read of a scrape request (request line and header fields).
pub const MAX_REQUEST_BYTES: usize = 8192;
/// How long the server waits for a scrape request before dropping the client.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server waits for a client to take the response.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// The Content-Type of the text format 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const PREFIX: &str = "httshark_";

/// The series exported besides the counters: name (without the `httshark_` prefix), type
/// and HELP text. docs/counters.md lists them from here.
pub const OTHER_SERIES: [(&str, &str, &str); 8] = [
    ("open_connections", "gauge", "TCP connections tracked."),
    (
        "pending_requests",
        "gauge",
        "Requests waiting for their response.",
    ),
    (
        "buffered_bytes",
        "gauge",
        "Bytes held in reassembly and HTTP buffers.",
    ),
    (
        "memory_bytes",
        "gauge",
        "Resident memory of the process in bytes (Linux only).",
    ),
    (
        "site_requests_total",
        "counter",
        "Requests by site (Host header, else server address) and final status class \
         (none: unanswered); sites past the limit are counted as site=\"other\".",
    ),
    (
        "site_response_latency_seconds",
        "histogram",
        "Time from the last byte of the request to the first byte of the response \
         (HAR timings.wait), by site, in packet time.",
    ),
    (
        "metrics_site_overflow_total",
        "counter",
        "Transactions counted under site=\"other\" because the site limit was reached.",
    ),
    (
        "metrics_site_labels_cut_total",
        "counter",
        "Site labels cut to the maximum label length.",
    ),
];

/// The HELP text of one of [`OTHER_SERIES`].
fn help_of(name: &str) -> &'static str {
    OTHER_SERIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or("", |(_, _, help)| help)
}

/// Point-in-time values reported by the pipeline; `None` is not exported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gauges {
    /// TCP connections tracked.
    pub open_connections: Option<u64>,
    /// Requests waiting for their response.
    pub pending_requests: Option<u64>,
    /// Bytes held in reassembly and HTTP buffers.
    pub buffered_bytes: Option<u64>,
    /// Resident memory of the process ([`resident_memory_bytes`]).
    pub memory_bytes: Option<u64>,
}

/// The resident set size of this process, from `/proc/self/status` (Linux); `None` elsewhere.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kb.checked_mul(1024)
}

/// A histogram with fixed bucket bounds.
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    /// Observations per bucket (not cumulative); one more than `bounds` for `+Inf`.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub fn new(bounds: Arc<[f64]>) -> Histogram {
        let n = bounds.len() + 1;
        Histogram {
            bounds,
            counts: vec![0; n],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let value = if value.is_finite() {
            value.max(0.0)
        } else {
            0.0
        };
        let i = self.bounds.partition_point(|b| *b < value);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }
}

/// Status classes, the values of the `status_class` label (RFC 9110 §15), in render order.
const STATUS_CLASSES: [&str; 7] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other", "none"];

/// The `status_class` label of a final status, or `none` when unanswered.
pub fn status_class(status: Option<u16>) -> &'static str {
    STATUS_CLASSES[class_index(status)]
}

fn class_index(status: Option<u16>) -> usize {
    match status {
        Some(s @ 100..=599) => usize::from(s / 100) - 1,
        Some(_) => 5,
        None => 6,
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Site {
    requests: [u64; STATUS_CLASSES.len()],
    latency: Histogram,
}

impl Site {
    fn new(bounds: &Arc<[f64]>) -> Site {
        Site {
            requests: [0; STATUS_CLASSES.len()],
            latency: Histogram::new(bounds.clone()),
        }
    }
}

/// Per-site request counts and latency histograms with bounded cardinality.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteMetrics {
    max_sites: usize,
    bounds: Arc<[f64]>,
    sites: BTreeMap<String, Site>,
    other: Option<Site>,
    /// Transactions counted under `site="other"`.
    overflow: u64,
    /// Site labels cut at `MAX_SITE_LABEL_CHARS`.
    labels_cut: u64,
}

impl Default for SiteMetrics {
    fn default() -> Self {
        SiteMetrics::new(DEFAULT_MAX_SITES, DEFAULT_BUCKETS)
    }
}

impl SiteMetrics {
    /// `buckets` are sorted and de-duplicated; non-finite bounds are dropped (`+Inf` is
    /// always the last bucket).
    pub fn new(max_sites: usize, buckets: &[f64]) -> SiteMetrics {
        let mut b: Vec<f64> = buckets.iter().copied().filter(|x| x.is_finite()).collect();
        b.sort_by(f64::total_cmp);
        b.dedup();
        SiteMetrics {
            max_sites,
            bounds: b.into(),
            sites: BTreeMap::new(),
            other: None,
            overflow: 0,
            labels_cut: 0,
        }
    }

    /// Counts one request to `site` with its final status (`None`: unanswered) and, when
    /// answered, its latency.
    pub fn record(&mut self, site: &str, status: Option<u16>, latency: Option<Duration>) {
        let mut label = site.to_ascii_lowercase();
        if let Some((i, _)) = label.char_indices().nth(MAX_SITE_LABEL_CHARS) {
            label.truncate(i);
            self.labels_cut += 1;
        }
        let slot = if self.sites.contains_key(&label) || self.sites.len() < self.max_sites {
            self.sites
                .entry(label)
                .or_insert_with(|| Site::new(&self.bounds))
        } else {
            self.overflow += 1;
            self.other.get_or_insert_with(|| Site::new(&self.bounds))
        };
        slot.requests[class_index(status)] += 1;
        if let Some(d) = latency {
            slot.latency.observe(d.as_secs_f64());
        }
    }

    /// Distinct site labels in use (`other` excluded).
    pub fn sites(&self) -> usize {
        self.sites.len()
    }

    pub fn overflow(&self) -> u64 {
        self.overflow
    }

    fn each(&self) -> impl Iterator<Item = (&str, &Site)> {
        self.sites
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain(self.other.iter().map(|s| (OTHER_SITE, s)))
    }
}

/// Everything exported, rendered on each scrape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetricsRegistry {
    /// Counter name (without prefix or `_total`) and value, in a fixed order.
    pub counters: Vec<(String, u64)>,
    pub gauges: Gauges,
    pub sites: SiteMetrics,
}

impl MetricsRegistry {
    /// The text exposition format 0.0.4 (Prometheus `expfmt`): `# HELP`, `# TYPE`, then the
    /// samples of each family; every line ends with `\n`.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);

        // Counters: names made valid, duplicates (the same name from two stages) summed so
        // each family appears once, as the format requires.
        let mut seen: Vec<(String, &str, u64)> = Vec::with_capacity(self.counters.len());
        for (name, value) in &self.counters {
            let metric = counter_name(name);
            match seen.iter_mut().find(|(m, _, _)| *m == metric) {
                Some(entry) => entry.2 = entry.2.saturating_add(*value),
                None => seen.push((metric, name.as_str(), *value)),
            }
        }
        for (metric, name, value) in &seen {
            let help = match crate::counters::describe(name) {
                Some(doc) => format!("{doc} (docs/counters.md)"),
                None => format!("httshark counter {name} (docs/counters.md)."),
            };
            family(&mut out, metric, &help, "counter");
            let _ = writeln!(out, "{metric} {value}");
        }

        let g = &self.gauges;
        for (name, value) in [
            ("open_connections", g.open_connections),
            ("pending_requests", g.pending_requests),
            ("buffered_bytes", g.buffered_bytes),
            ("memory_bytes", g.memory_bytes),
        ] {
            if let Some(v) = value {
                let metric = format!("{PREFIX}{name}");
                family(&mut out, &metric, help_of(name), "gauge");
                let _ = writeln!(out, "{metric} {v}");
            }
        }

        let s = &self.sites;
        let requests = format!("{PREFIX}site_requests_total");
        if s.each().next().is_some() {
            family(
                &mut out,
                &requests,
                help_of("site_requests_total"),
                "counter",
            );
            for (site, data) in s.each() {
                for (class, n) in STATUS_CLASSES.iter().zip(data.requests) {
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "{requests}{{site=\"{}\",status_class=\"{class}\"}} {n}",
                            escape_label(site)
                        );
                    }
                }
            }
        }

        let latency = format!("{PREFIX}site_response_latency_seconds");
        if s.each().any(|(_, d)| d.latency.count > 0) {
            family(
                &mut out,
                &latency,
                help_of("site_response_latency_seconds"),
                "histogram",
            );
            for (site, data) in s.each() {
                let h = &data.latency;
                if h.count == 0 {
                    continue;
                }
                let site = escape_label(site);
                let mut cumulative = 0u64;
                for (i, n) in h.counts.iter().enumerate() {
                    cumulative += n;
                    let le = match h.bounds.get(i) {
                        Some(b) => format_float(*b),
                        None => "+Inf".to_string(),
                    };
                    let _ = writeln!(
                        out,
                        "{latency}_bucket{{site=\"{site}\",le=\"{le}\"}} {cumulative}"
                    );
                }
                let _ = writeln!(
                    out,
                    "{latency}_sum{{site=\"{site}\"}} {}",
                    format_float(h.sum)
                );
                let _ = writeln!(out, "{latency}_count{{site=\"{site}\"}} {}", h.count);
            }
        }

        for (name, value) in [
            ("metrics_site_overflow_total", s.overflow),
            ("metrics_site_labels_cut_total", s.labels_cut),
        ] {
            let metric = format!("{PREFIX}{name}");
            family(&mut out, &metric, help_of(name), "counter");
            let _ = writeln!(out, "{metric} {value}");
        }
        out
    }
}

fn family(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `httshark_<name>_total`, with characters outside `[a-zA-Z0-9_:]` replaced by `_`.
fn counter_name(name: &str) -> String {
    let mut m = String::with_capacity(PREFIX.len() + name.len() + 6);
    m.push_str(PREFIX);
    for c in name.chars() {
        m.push(if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            c
        } else {
            '_'
        });
    }
    if !m.ends_with("_total") {
        m.push_str("_total");
    }
    m
}

/// A label value: `\` -> `\\`, `"` -> `\"`, newline -> `\n` (exposition format 0.0.4).
pub fn escape_label(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// HELP text: `\` -> `\\`, newline -> `\n`.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A float as Go's `strconv.FormatFloat(f, 'g', -1, 64)` would accept it back: Rust's
/// shortest round-trip form, with the infinities spelled as the format wants.
fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

/// The registry shared by the processor thread, the pipeline and the server.
#[derive(Clone, Default)]
pub struct SharedMetrics(Arc<Mutex<MetricsRegistry>>);

impl SharedMetrics {
    pub fn new() -> SharedMetrics {
        SharedMetrics::default()
    }

    fn lock(&self) -> MutexGuard<'_, MetricsRegistry> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A registry with every counter of `names` at 0 (in that order) and the gauges at
    /// their start values, so the first scrape already has every series.
    pub fn registered(names: &[&str]) -> SharedMetrics {
        let registry = MetricsRegistry {
            counters: names.iter().map(|n| (n.to_string(), 0)).collect(),
            gauges: Gauges {
                open_connections: Some(0),
                pending_requests: Some(0),
                buffered_bytes: Some(0),
                memory_bytes: resident_memory_bytes(),
            },
            sites: SiteMetrics::default(),
        };
        SharedMetrics(Arc::new(Mutex::new(registry)))
    }

    /// Updates the counters (`pipeline::Summary::counters` pairs): a registered counter
    /// takes its new value in place, a new one is added at the end; none is removed.
    pub fn set_counters(&self, counters: &[(&str, u64)]) {
        let mut registry = self.lock();
        for (name, value) in counters {
            match registry.counters.iter_mut().find(|(n, _)| n == name) {
                Some(entry) => entry.1 = *value,
                None => registry.counters.push((name.to_string(), *value)),
            }
        }
    }

    pub fn set_gauges(&self, gauges: Gauges) {
        self.lock().gauges = gauges;
    }

    pub fn set_sites(&self, sites: SiteMetrics) {
        self.lock().sites = sites;
    }

    /// A copy of the registry as it is now.
    pub fn snapshot(&self) -> MetricsRegistry {
        self.lock().clone()
    }

    pub fn render(&self) -> String {
        self.lock().render()
    }
}

pub mod server;

pub use server::{bind, serve, serve_listener};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_escaping() {
        assert_eq!(escape_label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(escape_label("line\nbreak"), "line\\nbreak");
        assert_eq!(escape_label("plain.example:8080"), "plain.example:8080");
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    }

    #[test]
    fn counter_names_are_valid() {
        assert_eq!(counter_name("packets"), "httshark_packets_total");
        assert_eq!(counter_name("bytes-in.x"), "httshark_bytes_in_x_total");
        assert_eq!(counter_name("drops_total"), "httshark_drops_total");
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(Some(100)), "1xx");
        assert_eq!(status_class(Some(204)), "2xx");
        assert_eq!(status_class(Some(599)), "5xx");
        assert_eq!(status_class(Some(600)), "other");
        assert_eq!(status_class(Some(99)), "other");
        assert_eq!(status_class(None), "none");
    }

    #[test]
    fn histogram_buckets_are_upper_inclusive() {
        let mut h = Histogram::new(vec![0.1, 1.0].into());
        for v in [0.05, 0.1, 0.5, 1.0, 7.0, f64::NAN, -1.0] {
            h.observe(v);
        }
        // 0.05, 0.1, NaN->0, -1->0 in le=0.1; 0.5, 1.0 in le=1; 7 in +Inf.
        assert_eq!(h.counts, vec![4, 2, 1]);
        assert_eq!(h.count(), 7);
    }

    #[test]
    fn cardinality_is_bounded() {
        let mut s = SiteMetrics::new(3, DEFAULT_BUCKETS);
        for i in 0..1000 {
            s.record(&format!("host{i}.example"), Some(200), None);
        }
        // Known sites keep their label after the limit is reached.
        s.record("HOST1.example", Some(404), None);
        assert_eq!(s.sites(), 3);
        assert_eq!(s.overflow(), 997);
        let r = MetricsRegistry {
            sites: s,
            ..MetricsRegistry::default()
        };
        let text = r.render();
        let series = text
            .lines()
            .filter(|l| l.starts_with("httshark_site_requests_total{"))
            .count();
        assert_eq!(series, 5, "{text}");
        assert!(text
            .contains("httshark_site_requests_total{site=\"other\",status_class=\"2xx\"} 997\n"));
        assert!(text.contains(
            "httshark_site_requests_total{site=\"host1.example\",status_class=\"4xx\"} 1\n"
        ));
        assert!(text.contains("httshark_metrics_site_overflow_total 997\n"));
    }

    #[test]
    fn zero_max_sites_puts_everything_in_other() {
        let mut s = SiteMetrics::new(0, DEFAULT_BUCKETS);
        s.record("a", None, None);
        assert_eq!(s.sites(), 0);
        assert_eq!(s.overflow(), 1);
    }

    #[test]
    fn long_and_hostile_site_labels() {
        let mut s = SiteMetrics::new(10, &[1.0]);
        let long = "é".repeat(1000);
        s.record(&long, Some(200), Some(Duration::from_millis(3)));
        s.record("evil\"}\nx{a=\"b", Some(200), None);
        assert_eq!(s.labels_cut, 1);
        let text = MetricsRegistry {
            sites: s,
            ..MetricsRegistry::default()
        }
        .render();
        assert!(text.contains(&format!("{{site=\"{}\",", "é".repeat(MAX_SITE_LABEL_CHARS))));
        assert!(text.contains("{site=\"evil\\\"}\\nx{a=\\\"b\",status_class=\"2xx\"} 1\n"));
        // Every sample stays on its own line.
        assert!(text
            .lines()
            .all(|l| l.starts_with('#') || l.starts_with("httshark_")));
        assert!(text.contains("httshark_metrics_site_labels_cut_total 1\n"));
    }

    #[test]
    fn registered_counters_stay_and_update_in_place() {
        let shared = SharedMetrics::registered(&["packets", "gaps"]);
        let text = shared.render();
        assert!(text.contains("\nhttshark_packets_total 0\n"), "{text}");
        assert!(text.contains("\nhttshark_gaps_total 0\n"), "{text}");
        assert!(text.contains("\nhttshark_open_connections 0\n"), "{text}");
        assert!(text.contains("# HELP httshark_gaps_total Gaps delivered. (docs/counters.md)\n"));
        shared.set_counters(&[("gaps", 3), ("new_one", 1)]);
        let names: Vec<(String, u64)> = shared.snapshot().counters;
        assert_eq!(
            names,
            vec![
                ("packets".to_string(), 0),
                ("gaps".to_string(), 3),
                ("new_one".to_string(), 1)
            ]
        );
        assert!(shared.render().contains(
            "# HELP httshark_new_one_total httshark counter new_one (docs/counters.md).\n"
        ));
    }

    #[test]
    fn duplicate_counter_names_are_one_family() {
        let r = MetricsRegistry {
            counters: vec![("bytes".into(), 2), ("bytes".into(), 3), ("x".into(), 1)],
            ..MetricsRegistry::default()
        };
        let text = r.render();
        assert_eq!(
            text.matches("# TYPE httshark_bytes_total counter").count(),
            1
        );
        assert!(text.contains("httshark_bytes_total 5\n"));
    }
}
