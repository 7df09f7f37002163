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
    Idle { now: Timestamp },
    /// No more packets (end of file). `warning` says what was cut when the file ended in a
    /// truncated or corrupt record.
    End { warning: Option<String> },
}
