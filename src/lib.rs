//! httshark: a passive HTTP sniffer.
//!
//! The pipeline, from packets to output files (docs/architecture.md draws it):
//!
//! ```text
//! capture (libpcap: live or file) -> pipeline (threads, channels)
//!     -> worker::Worker: wire::decode -> reassembly::ConnTable -> proto::ProtoConn
//!        (detection, layers, the HTTP/1 session http::HttpConn) -> transform
//!     -> model::Transaction -> processor::Processor (HAR files, statistics, ...)
//! ```
//!
//! Everything inside `worker::Worker` (`wire`, `reassembly`, `proto`, `http`, `transform`)
//! and `har` is pure and synchronous: bytes and a timestamp in, transactions out, no I/O
//! and no wall clock (clippy.toml forbids reading it). Only `capture` names libpcap, only
//! processors open output files (through `output`), and only `pipeline` (and `attrib`, the
//! process attribution thread of live captures) starts threads.

#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
pub mod allocator;
pub mod attrib;
pub mod cli;
#[cfg(feature = "capture")]
pub mod command;
pub mod config;
pub mod counters;
#[doc(hidden)]
pub mod fuzzing;
pub mod go_syntax;
pub mod h2;
pub mod har;
pub mod hosts;
pub mod http;
pub mod keylog;
pub mod log;
pub mod metrics;
pub mod model;
pub mod output;
#[cfg(feature = "capture")]
pub mod pipeline;
pub mod privileges;
pub mod processor;
pub mod proto;
pub mod reassembly;
pub mod sched;
pub mod signals;
pub mod time;
pub mod tls;
pub mod transform;
pub mod ui;
pub mod wire;
pub mod worker;

#[cfg(feature = "capture")]
pub mod capture;
