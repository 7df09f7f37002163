//! Packet sources: live interfaces and pcap/pcapng files (or standard input) through
//! libpcap. The only module that names the `pcap` crate.

use crate::time::Timestamp;
use crate::wire::LinkType;

/// One captured frame, borrowed from the source until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    pub data: &'a [u8],
    /// Length on the wire (may exceed `data.len()` when the snaplen cut it).
    pub orig_len: u32,
}

/// What a source gave.
#[derive(Debug)]
pub enum Next<'a> {
    Packet(Packet<'a>),
    /// Live capture: no packet within the read timeout; `now` is the wall clock, so time
    /// still advances for timeouts and exports.
    Idle {
        now: Timestamp,
    },
    /// No more packets (end of file). `warning` says what was cut when the file ended in a
    /// truncated or corrupt record.
    End {
        warning: Option<String>,
    },
}

use std::fmt;

use crate::config::Config;

/// Why a capture could not be opened. Each prints as one clear line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureError {
    /// The interface does not exist.
    NoSuchDevice(String),
    /// Not allowed to capture: run as root or give the binary cap_net_raw,cap_net_admin.
    Permission(String),
    /// The capture file can't be opened or is not pcap/pcapng.
    File(String),
    /// The BPF filter does not compile.
    Filter(String),
    /// A link type httshark does not decode.
    UnsupportedLinkType(String),
    Other(String),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        todo!("capture")
    }
}

/// Kernel/libpcap counters of a live capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    pub received: u64,
    /// Dropped by the kernel because the buffer was full.
    pub dropped: u64,
    pub if_dropped: u64,
}

/// An open packet source with its filter applied.
pub struct PacketSource {}

impl PacketSource {
    /// Opens `config.source` with `config.bpf`, `config.snaplen` and `config.buffer_size`.
    pub fn open(config: &Config) -> Result<PacketSource, CaptureError> {
        let _ = config;
        todo!("capture")
    }

    pub fn link_type(&self) -> LinkType {
        todo!("capture")
    }

    /// The next packet, an idle tick (live), or the end.
    pub fn next(&mut self) -> Next<'_> {
        todo!("capture")
    }

    /// Live capture counters (None for files).
    pub fn stats(&mut self) -> Option<CaptureStats> {
        todo!("capture")
    }

    /// True for a live interface.
    pub fn is_live(&self) -> bool {
        todo!("capture")
    }
}
