//! httshark: a passive HTTP/1.x sniffer.
//!
//! The pipeline, from packets to output files:
//!
//! ```text
//! capture (libpcap: live or file) -> wire::decode -> reassembly::ConnTable
//!     -> http::HttpConn (both directions, request/response pairing, timeouts)
//!     -> model::Transaction -> processor::Processor (HAR files, statistics, ...)
//! ```
//!
//! Everything from `wire` to `har` is pure and synchronous: bytes and a timestamp in,
//! transactions out, no I/O and no wall clock. Only `capture` names libpcap, only
//! processors open output files, and only `pipeline` starts threads.

pub mod cli;
pub mod config;
pub mod counters;
pub mod go_syntax;
pub mod har;
pub mod hosts;
pub mod http;
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
pub mod signals;
pub mod time;
pub mod transform;
pub mod wire;
pub mod worker;

#[cfg(feature = "capture")]
pub mod capture;
