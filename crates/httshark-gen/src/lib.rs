//! Deterministic capture generator for tests, fuzz seeds and benchmarks: HTTP/1.1
//! conversations over TCP, written as pcap or pcapng, with their ground truth, and seeded
//! loss, duplication, reordering and truncation.
//!
//! Not part of httshark: a workspace crate its tests, benches and scripts use, with no
//! dependency on `httshark` (its own [`Timestamp`] and [`Direction`]), so that the ground
//! truth it states is not derived from the code it checks.
//!
//! Layers, bottom up:
//! - [`time`]: [`Timestamp`], nanoseconds since the epoch;
//! - [`rng`]: SplitMix64 / xoshiro256** (no `rand`: the output is pinned by fixtures);
//! - [`pcap`]: classic pcap (µs or ns) and minimal pcapng writers;
//! - [`tcp`]: one TCP connection's frames (handshake or midstream, MSS segmentation, ACKs,
//!   FIN/RST, ISN wraparound) built with etherparse;
//! - [`http`]: per-connection HTTP scenario and its ground truth [`http::ExpectedTx`];
//! - [`tls`], [`tls_conn`]: TLS 1.3 record sealing and the handshake of `--tls` mode, with
//!   the NSS key log a decryptor needs;
//! - [`faults`]: fault injection with an account of which bytes were lost;
//! - [`stack`]: TCP stack behaviours (Fast Open, keep-alive and zero-window probes,
//!   simultaneous open, a SYN retried with a new ISN, overlapping copies that differ), one
//!   connection each with its ground truth;
//! - [`hostile`]: memory-exhaustion attacks (SYN flood, endless bodies, ...) interleaved
//!   with legitimate connections and their ground truth;
//! - [`scenario`]: connections interleaved in time, streamed with bounded memory, and
//!   [`scenario::write_capture`], which the `httshark-gen` binary and the fixture test share;
//! - [`cli`]: the `httshark-gen` command line, callable in-process by tests.
//!
//! Determinism: everything is a function of the seed and parameters. The same
//! [`scenario::GenConfig`] always produces the same bytes (checked against the committed
//! fixture by httshark's `tests/testgen_fixture.rs`).

pub mod cli;
pub mod faults;
pub mod hostile;
pub mod http;
pub mod pcap;
pub mod rng;
pub mod scenario;
pub mod stack;
pub mod tcp;
pub mod time;
pub mod tls;
pub mod tls_conn;

pub use faults::{FaultReport, FaultSpec};
pub use http::{ExpectedTx, Framing, HttpParams};
pub use pcap::{LinkKind, PcapWriter, PcapngWriter, TsResolution};
pub use scenario::{
    generate, parse_expected_tsv, write_capture, write_capture_with_keylog, Format, GenConfig,
    GenSummary,
};
pub use tcp::{Direction, Packet, PacketMeta, TcpConn, TcpParams};
pub use time::Timestamp;
pub use tls::Suite;
pub use tls_conn::TlsParams;
