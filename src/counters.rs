//! Named counters. Every stage owns a plain struct of `u64` counters (no atomics on the hot
//! path); the pipeline sums them for the exit summary, the stats line and the metrics.
//!
//! A counter's name is its documentation key. Each field's `///` doc comment is kept as
//! data ([`CounterSet::describe`]); [`stages`] lists every stage's counters in the order
//! the summary prints them, and `docs/counters.md` is rendered from it
//! ([`render_markdown`]; `tests/counters_doc.rs` fails when the two drift).
//!
//! Invariant: every counter has a doc comment (the macro does not accept a field without
//! one), and no two counters of the catalogue share a name (`tests::names_are_unique`).

/// A set of named counters that can be visited and summed.
pub trait CounterSet {
    /// Calls `f(name, value)` for every counter, in a fixed order.
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64));
    /// Adds every counter of `other` into `self`.
    fn merge(&mut self, other: &Self);
    /// Every counter's name and doc comment (raw `///` lines joined by `\n`), in `visit`
    /// order.
    fn describe() -> &'static [(&'static str, &'static str)]
    where
        Self: Sized;
}

/// Declares a counter struct: its fields, their docs, `visit`, `merge` and `describe`.
/// Every field needs a `///` doc comment: it is the counter's documentation.
#[macro_export]
macro_rules! counters {
    ($(#[$meta:meta])* $vis:vis struct $name:ident {
        $($(#[doc = $fdoc:literal])+ $field:ident),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        $vis struct $name { $($(#[doc = $fdoc])+ pub $field: u64),* }

        impl $crate::counters::CounterSet for $name {
            fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
                $(f(stringify!($field), self.$field);)*
            }
            fn merge(&mut self, other: &Self) {
                $(self.$field += other.$field;)*
            }
            fn describe() -> &'static [(&'static str, &'static str)] {
                &[$((stringify!($field), concat!($($fdoc, "\n"),+))),*]
            }
        }
    };
}

/// One stage's counters, as docs/counters.md and the summary show them.
#[derive(Clone, Copy, Debug)]
pub struct Stage {
    /// The stage's name (a processor's is its `-har-processors` name).
    pub name: &'static str,
    /// What the stage is, one sentence for the docs.
    pub about: &'static str,
    /// True for a processor: its counters exist only when it runs.
    pub processor: bool,
    /// Name and raw doc of every counter, in `visit` order.
    pub counters: &'static [(&'static str, &'static str)],
}

/// Every stage whose counters the binary prints and exports, in the summary's order: the
/// pipeline's stages, then the processors (in the summary, in `-har-processors` order).
pub fn stages() -> Vec<Stage> {
    use crate::processor::{har_file, har_one, ndjson, sampled, sites_stats, sizes_stats};
    let core = |name, about, counters| Stage {
        name,
        about,
        processor: false,
        counters,
    };
    let processor = |name, about, counters| Stage {
        name,
        about,
        processor: true,
        counters,
    };
    vec![
        // The pipeline (threads, libpcap) is built with the `capture` feature only.
        #[cfg(feature = "capture")]
        core(
            "capture",
            "The capture thread: frames read from the file or interface.",
            crate::pipeline::CaptureCounters::describe(),
        ),
        core(
            "decode",
            "Link, IP and TCP decoding of every frame (workers).",
            crate::wire::DecodeCounters::describe(),
        ),
        core(
            "reassembly",
            "TCP reassembly: connections, ordering, retransmissions, gaps (workers).",
            crate::reassembly::ReassemblyCounters::describe(),
        ),
        core(
            "http",
            "The HTTP/1.x parser and request/response pairing (workers).",
            crate::http::HttpCounters::describe(),
        ),
        core(
            "h2",
            "The HTTP/2 sessions: frames, HPACK, streams (workers).",
            crate::h2::H2Counters::describe(),
        ),
        core(
            "protocol",
            "Protocol detection: what each connection was taken for (workers).",
            crate::proto::ProtoCounters::describe(),
        ),
        core(
            "tls",
            "TLS decryption from the key logs (workers).",
            crate::tls::TlsCounters::describe(),
        ),
        #[cfg(feature = "capture")]
        core(
            "flow",
            "Transactions on their way from the workers to the processors.",
            crate::pipeline::FlowCounters::describe(),
        ),
        core(
            "attribution",
            "Process attribution of live captures: which process owned each connection.",
            crate::attrib::AttribCounters::describe(),
        ),
        core(
            "log",
            "The logger: messages printed, folded into repeats or cut, snapshot files.",
            crate::log::LogCounters::describe(),
        ),
        processor(
            har_file::NAME,
            "HAR files (`-har-processors file`).",
            har_file::HarFileCounters::describe(),
        ),
        processor(
            sampled::NAME,
            "Sampled transactions (`-har-processors sampled-transactions`).",
            sampled::SampledCounters::describe(),
        ),
        processor(
            sites_stats::NAME,
            "Per-site statistics CSV (`-har-processors sites-stats`).",
            sites_stats::SitesStatsCounters::describe(),
        ),
        processor(
            sizes_stats::NAME,
            "Request and response size CSVs (`-har-processors transactions-sizes`).",
            sizes_stats::SizesStatsCounters::describe(),
        ),
        processor(
            ndjson::NAME,
            "NDJSON entries (`-har-processors ndjson`).",
            ndjson::NdjsonCounters::describe(),
        ),
        processor(
            har_one::NAME,
            "The one HAR file of the run (`-har FILE`).",
            har_one::HarOneCounters::describe(),
        ),
        processor(
            crate::ui::processor::NAME,
            "The live web view (`-ui`).",
            crate::ui::UiCounters::describe(),
        ),
    ]
}

/// Every counter a run with `processors` reports (the summary's and the metrics'), in the
/// summary's order: the pipeline's stages, then each processor's counters.
pub fn run_names(processors: &[Box<dyn crate::processor::Processor>]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = stages()
        .iter()
        .filter(|s| !s.processor)
        .flat_map(|s| s.counters.iter().map(|(name, _)| *name))
        .collect();
    for p in processors {
        p.visit_counters(&mut |name, _| names.push(name));
    }
    names
}

/// The doc of `name` as one line (see [`doc_text`]), when it is a catalogued counter.
pub fn describe(name: &str) -> Option<String> {
    stages()
        .iter()
        .flat_map(|s| s.counters.iter())
        .find(|(n, _)| *n == name)
        .map(|(_, doc)| doc_text(doc))
}

/// A raw doc comment (`///` lines, each with its leading space) as one line of text.
pub fn doc_text(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// docs/counters.md: one table per stage, from [`stages`] and the metrics' own series
/// (`crate::metrics::OTHER_SERIES`). `tests/counters_doc.rs` compares it with the file.
pub fn render_markdown() -> String {
    let mut out = String::from(
        "# Counters\n\
         \n\
         <!-- Generated from the counters' doc comments in the code (`crate::counters!`) by\n\
         \x20    src/counters.rs `render_markdown`. Do not edit: change the doc comment, then run\n\
         \x20    `scripts/counters-doc.sh` (tests/counters_doc.rs fails while this file differs). -->\n\
         \n\
         Every stage of the pipeline counts what it did, including everything it dropped, cut\n\
         or skipped. The end-of-run summary prints the counters in the order below (the\n\
         processors' in `-har-processors` order, only for the processors that ran); with\n\
         `-metrics-listen` each is exported as the Prometheus counter `httshark_<name>_total`,\n\
         at 0 from the first scrape, updated every second of packet time.\n\
         \n\
         Workers' counters are summed over the workers. Limits named here are in\n\
         docs/limits.md; anomalies and flags in docs/har.md.\n",
    );
    for stage in stages() {
        out.push_str(&format!("\n## {}\n\n{}", stage.name, stage.about));
        if stage.processor {
            out.push_str(" Only when the processor runs.");
        }
        out.push_str("\n\n| Counter | Meaning |\n|---|---|\n");
        for (name, doc) in stage.counters {
            out.push_str(&format!("| `{name}` | {} |\n", cell(&doc_text(doc))));
        }
    }
    out.push_str(
        "\n## Other metrics\n\n\
         Series that `-metrics-listen` exports besides the counters above.\n\n\
         | Metric | Type | Meaning |\n|---|---|---|\n",
    );
    for (name, kind, help) in crate::metrics::OTHER_SERIES {
        out.push_str(&format!(
            "| `httshark_{name}` | {kind} | {} |\n",
            cell(help)
        ));
    }
    out
}

/// A markdown table cell: `|` escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;

    counters! {
        struct Demo {
            /// First.
            a,
            /// Second, on
            /// two lines.
            b
        }
    }

    #[test]
    fn visit_and_merge() {
        let mut x = Demo { a: 1, b: 2 };
        x.merge(&Demo { a: 10, b: 20 });
        let mut seen = Vec::new();
        x.visit(&mut |n, v| seen.push((n, v)));
        assert_eq!(seen, vec![("a", 11), ("b", 22)]);
    }

    #[test]
    fn describe_keeps_the_docs() {
        assert_eq!(
            Demo::describe(),
            &[("a", " First.\n"), ("b", " Second, on\n two lines.\n")]
        );
        assert_eq!(doc_text(Demo::describe()[1].1), "Second, on two lines.");
    }

    #[test]
    fn names_are_unique_and_documented() {
        let mut seen = std::collections::HashSet::new();
        for stage in stages() {
            for (name, doc) in stage.counters {
                assert!(seen.insert(*name), "{name} is declared twice");
                assert!(!doc_text(doc).is_empty(), "{name} has no doc");
            }
        }
        // The capture's counters exist with the capture feature only.
        #[cfg(feature = "capture")]
        assert_eq!(
            describe("packets").as_deref(),
            Some("Frames read from the source (that matched the capture filter).")
        );
        assert_eq!(describe("no_such_counter"), None);
    }

    #[test]
    fn markdown_has_a_row_per_counter() {
        let md = render_markdown();
        for stage in stages() {
            for (name, _) in stage.counters {
                assert!(md.contains(&format!("| `{name}` | ")), "{name}");
            }
        }
        assert_eq!(cell("a|b"), "a\\|b");
    }
}
