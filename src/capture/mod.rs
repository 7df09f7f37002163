//! Packet sources: live interfaces and pcap/pcapng files (or standard input) through
//! libpcap, and the records of classic pcap files read without it (`reader.rs`: libpcap
//! opens the file, checks its header and compiles the filter; the reader reads the records
//! in chunks that travel to the workers whole). The only module that names the `pcap`
//! crate.
//!
//! What it does: opens the source with the BPF filter applied, checks that the link type
//! is one `wire` decodes, and hands out packets with exact timestamps. Live captures set
//! the filter in the kernel; files and standard input compile it and apply it here, per
//! record (what libpcap would do in user space anyway), so a record the filter rejects is
//! reported as [`Next::Filtered`]: the summary can then say how many packets were read
//! and how many matched (a filter that matches nothing must not end in silence). Live
//! captures wake up every [`LIVE_READ_TIMEOUT_MS`] with no traffic and report an idle tick
//! carrying the wall clock, so timeouts and exports still happen on a quiet interface.
//! This is the one place that reads the wall clock; the core only ever sees the `now`
//! given to it.
//!
//! What it does not do: decode frames (that is `wire`), or retry a failed source. Opening
//! failures are `CaptureError`s (fatal, one line each); a failure while reading ends the
//! capture with a warning, and everything read before it is kept.
//!
//! Timestamps: nanosecond precision is requested from libpcap for files, standard input
//! and live captures. libpcap scales microsecond files up, so offline timestamps are
//! always exact. A live capture may not support nanoseconds on every platform, so the
//! precision libpcap actually granted is asked back rather than assumed.
//!
//! Files: this one is [`PacketSource`], the one type the pipeline reads from, and what
//! live and file sources share (link type, snapshot length, timestamps). `live.rs` opens
//! interfaces and waits on them; `file.rs` opens capture files and standard input and
//! words the warnings of a damaged one; `reader.rs` reads the records of a classic pcap
//! file in chunks; `tail.rs` reads back a cut-short last record;
//! `error.rs` holds [`CaptureError`].

mod error;
mod file;
mod live;
mod reader;
mod tail;

use std::ffi::{c_int, c_void};
use std::path::PathBuf;
use std::sync::Arc;

use pcap::{Activated, Active, BpfProgram, Capture, Linktype, Offline, PacketHeader};

pub use error::CaptureError;
pub use file::FILE_READ_BUFFER;
pub use live::{
    list_interfaces, CaptureStats, ATTRIB_BLOCK_TIMEOUT_MS, LIVE_READ_TIMEOUT_MS, STOP_DRAIN,
};
pub use reader::CHUNK_BYTES;

use error::pcap_message;
use file::{
    caplen_warning, file_identity, file_offset, is_interrupted_read, offline_filter, open_file,
    open_stdin, Place,
};
use live::{is_would_block, open_live, wait_readable, wall_clock, StatsWidener};

use crate::config::{Config, Source};
use crate::time::Timestamp;
use crate::wire::LinkType;

/// One captured frame, borrowed from the source until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    pub ts: Timestamp,
    pub data: &'a [u8],
    /// Length on the wire (may exceed `data.len()` when the snaplen cut it).
    pub orig_len: u32,
    /// The chunk of the file `data` lies in, when the source reads whole chunks
    /// (`reader.rs`): the capture thread passes it on instead of copying the frame.
    pub chunk: Option<&'a Arc<Vec<u8>>>,
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
    /// Files and standard input: a record the capture filter rejected (counted, so the
    /// summary can tell packets read from packets matched).
    Filtered,
    /// No more packets (end of file). `warning` says what was cut when the file ended in a
    /// truncated or corrupt record.
    End {
        warning: Option<String>,
    },
}

/// An open packet source with its filter applied.
pub struct PacketSource {
    handle: Handle,
    link: LinkType,
    /// The fraction field of packet timestamps is in nanoseconds (else microseconds).
    nanos: bool,
    /// What to call the source in warnings: the interface name or file path.
    name: String,
    /// Packets returned so far, for the end-of-capture warning.
    packets: u64,
    /// `End` was returned once; later calls return `End` without repeating the warning.
    ended: bool,
    /// A BPF filter is set: packets returned are not records read, so a damaged record
    /// cannot be named by its index.
    filtered: bool,
    /// Files: the compiled filter, applied to each record in `next`.
    program: Option<BpfProgram>,
    /// libpcap's name and description of the link type (`EN10MB (Ethernet)`).
    link_name: String,
    /// The snapshot length: asked for (live) or written in the file's header.
    snapshot: i32,
    /// Records whose captured length exceeded their length on the wire (a damaged file or
    /// a buggy writer); reported once at the end.
    caplen_over_len: u64,
    /// Live, non-blocking: the descriptor to wait on when the ring is empty. `None` for
    /// files, and for live captures on platforms without a selectable descriptor (they
    /// block in libpcap with its read timeout instead).
    poll_fd: Option<c_int>,
    /// The last live read found the ring empty: wait on `poll_fd` before reading again.
    drained: bool,
    stats: StatsWidener,
    /// A capture file (not standard input): where a cut-short last record can be read
    /// back from (`tail.rs`), and the device and inode of the file libpcap opened (a file
    /// renamed over the path since is not read back).
    path: Option<PathBuf>,
    opened: Option<(u64, u64)>,
    /// Byte offset of the record about to be read (files only).
    record_start: Option<u64>,
    /// Where the next record starts when the last one's length says so (classic pcap,
    /// a record libpcap did not shorten): saves an `ftello` (an `lseek` system call,
    /// a tenth of the capture thread's time) per packet. `None`: ask libpcap's stream.
    next_record: Option<u64>,
    /// The file is a classic pcap file (`tail.rs` reads back only those; pcapng's
    /// records are blocks whose length is not the packet's).
    classic_pcap: bool,
    /// A cut-short last record read back: returned as a packet, then `End` with the
    /// warning it keeps.
    cut: Option<(tail::CutRecord, String)>,
    /// A classic pcap file's records, read in chunks without libpcap (`reader.rs`); the
    /// libpcap handle then only opened the file and compiles the filter.
    reader: Option<reader::RecordReader<std::fs::File>>,
}

enum Handle {
    Live(Capture<Active>),
    Offline(Capture<Offline>),
}

impl PacketSource {
    /// Opens `config.source` with `config.bpf`, `config.snaplen` and `config.buffer_size`.
    pub fn open(config: &Config) -> Result<PacketSource, CaptureError> {
        let (handle, name, poll_fd) = match &config.source {
            Source::Device(device) => {
                let (cap, poll_fd) = open_live(device, config)?;
                (Handle::Live(cap), device.clone(), poll_fd)
            }
            Source::File(path) => (
                Handle::Offline(open_file(path)?),
                path.display().to_string(),
                None,
            ),
            Source::Stdin => (
                Handle::Offline(open_stdin()?),
                "standard input".to_string(),
                None,
            ),
        };
        let mut source = PacketSource {
            link: LinkType::Ethernet,
            nanos: false,
            handle,
            name,
            packets: 0,
            ended: false,
            filtered: false,
            program: None,
            link_name: String::new(),
            snapshot: 0,
            caplen_over_len: 0,
            poll_fd,
            drained: false,
            stats: StatsWidener::default(),
            path: match &config.source {
                Source::File(path) => Some(path.clone()),
                _ => None,
            },
            opened: None,
            record_start: None,
            next_record: None,
            classic_pcap: match &config.source {
                Source::File(path) => tail::is_classic_pcap(path),
                _ => false,
            },
            cut: None,
            reader: None,
        };
        source.link = match &mut source.handle {
            Handle::Live(cap) => choose_link_type(cap, &source.name, true)?,
            Handle::Offline(cap) => choose_link_type(cap, &source.name, false)?,
        };
        let built = config.bpf == config.servers.bpf();
        let bpf = if built && source.link == LinkType::Ethernet && !config.bpf.is_empty() {
            // The filter built from -hosts also matches VLAN-tagged frames (the decoder
            // reads up to two tags); a raw -bpf is used exactly as given.
            config.servers.bpf_ethernet()
        } else {
            config.bpf.trim().to_string()
        };
        if !bpf.is_empty() {
            let filter_error =
                |e: pcap::Error| CaptureError::Filter(format!("{bpf:?}: {}", pcap_message(&e)));
            match &mut source.handle {
                Handle::Live(cap) => cap.filter(&bpf, true).map_err(filter_error)?,
                Handle::Offline(cap) => {
                    source.program = Some(cap.compile(&bpf, true).map_err(filter_error)?);
                }
            }
            source.filtered = true;
        }
        let (dlt, raw) = match &source.handle {
            Handle::Live(cap) => (cap.get_datalink(), cap.as_ptr().cast::<c_void>()),
            Handle::Offline(cap) => (cap.get_datalink(), cap.as_ptr().cast::<c_void>()),
        };
        source.link_name = match (dlt.get_name(), dlt.get_description()) {
            (Ok(name), Ok(description)) => format!("{name} ({description})"),
            (Ok(name), Err(_)) => name,
            _ => format!("DLT {}", dlt.0),
        };
        // SAFETY: the handle is valid while `source.handle` lives; the call only reads it.
        source.snapshot = unsafe { pcap_snapshot(raw) };
        source.nanos = match &source.handle {
            Handle::Live(cap) => granted_nanos(cap),
            Handle::Offline(cap) => granted_nanos(cap),
        };
        if let (Source::File(path), Handle::Offline(_)) = (&config.source, &source.handle) {
            // SAFETY: the handle is valid while `source.handle` lives; fstat only reads.
            source.opened = unsafe { file_identity(raw) };
            if source.nanos {
                source.reader = source
                    .opened
                    .and_then(|id| reader_for(path, id, source.snapshot));
            }
        }
        Ok(source)
    }

    /// A chunk the workers are done with (`Packet::chunk`), for the reader to fill again.
    pub fn recycle(&mut self, chunk: Vec<u8>) {
        if let Some(reader) = self.reader.as_mut() {
            reader.recycle(chunk);
        }
    }

    /// The startup line's description of the source, in tcpdump's words:
    /// `listening on lo, link-type EN10MB (Ethernet), snapshot length 262144 bytes` or
    /// `reading from file x.pcap, link-type ...`.
    pub fn describe(&self) -> String {
        let what = match self.handle {
            Handle::Live(_) => "listening on",
            Handle::Offline(_) if self.name == "standard input" => "reading from",
            Handle::Offline(_) => "reading from file",
        };
        format!(
            "{what} {}, link-type {}, snapshot length {} bytes",
            self.name, self.link_name, self.snapshot
        )
    }

    pub fn link_type(&self) -> LinkType {
        self.link
    }

    /// Live captures: the wall clock now (when the stop was asked for), after which
    /// [`STOP_DRAIN`] more may be read so that no packet already received is lost. `None`
    /// for files and standard input: they stop where they are.
    pub fn live_stop_time(&self) -> Option<Timestamp> {
        match self.handle {
            Handle::Live(_) => Some(wall_clock()),
            Handle::Offline(_) => None,
        }
    }

    /// The next packet, an idle tick (live), or the end.
    ///
    /// Not an `Iterator`: each packet borrows the source's buffer until the next call.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Next<'_> {
        if self.ended {
            if let Some((_, warning)) = self.cut.take() {
                return Next::End {
                    warning: Some(warning),
                };
            }
            return Next::End { warning: None };
        }
        if let (true, Some(fd)) = (self.drained, self.poll_fd) {
            match wait_readable(fd, LIVE_READ_TIMEOUT_MS) {
                Ok(true) => {}
                // Nothing within the timeout, or a signal (let the caller check for
                // shutdown): time still moves.
                Ok(false) => return Next::Idle { now: wall_clock() },
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    return Next::Idle { now: wall_clock() }
                }
                Err(e) => {
                    self.ended = true;
                    return Next::End {
                        warning: Some(format!(
                            "{}: capture stopped after {} packets: poll: {e}",
                            self.name, self.packets
                        )),
                    };
                }
            }
        }
        if self.reader.is_some() {
            return self.next_from_reader();
        }
        // Taken before the read: its result borrows the handle until this call returns,
        // and the error path needs to ask libpcap where reading stopped.
        let (live, raw) = match &self.handle {
            Handle::Live(cap) => (true, cap.as_ptr().cast::<c_void>()),
            Handle::Offline(cap) => (false, cap.as_ptr().cast::<c_void>()),
        };
        // Only a classic pcap file's cut last record can be read back (`tail.rs`).
        if self.classic_pcap {
            self.record_start = match self.next_record.take() {
                Some(at) => Some(at),
                // SAFETY: `raw` is the handle, valid while `self.handle` lives.
                None => unsafe { file_offset(raw) },
            };
        }
        let read = match &mut self.handle {
            Handle::Live(cap) => cap.next_packet(),
            Handle::Offline(cap) => cap.next_packet(),
        };
        match read {
            Ok(packet) => {
                // libpcap shortens a record longer than the snapshot length to it and
                // skips the rest: only a shorter one's length places the next record.
                let caplen = packet.header.caplen;
                if self.classic_pcap && i64::from(caplen) < i64::from(self.snapshot) {
                    self.next_record = self
                        .record_start
                        .map(|at| at + tail::RECORD_HEADER as u64 + u64::from(caplen));
                }
                if let Some(program) = &self.program {
                    if !offline_filter(program, packet.header, packet.data) {
                        return Next::Filtered;
                    }
                }
                self.packets += 1;
                self.drained = false;
                let data = packet.data;
                // libpcap returns such records as they are; the rest of httshark may rely
                // on `orig_len >= data.len()`.
                let mut orig_len = packet.header.len;
                if (orig_len as usize) < data.len() {
                    self.caplen_over_len += 1;
                    orig_len = u32::try_from(data.len()).unwrap_or(u32::MAX);
                }
                Next::Packet(Packet {
                    ts: packet_time(packet.header, self.nanos),
                    data,
                    orig_len,
                    chunk: None,
                })
            }
            // Live: the ring is empty (non-blocking), or the read timeout expired
            // (blocking). Either way an idle tick; the next call waits before reading.
            Err(pcap::Error::TimeoutExpired) => {
                self.drained = true;
                Next::Idle { now: wall_clock() }
            }
            // End of file, or a live capture stopped by pcap_breakloop.
            Err(pcap::Error::NoMorePackets) => {
                self.ended = true;
                Next::End {
                    warning: caplen_warning(&self.name, self.caplen_over_len),
                }
            }
            Err(e) => {
                let errno = std::io::Error::last_os_error().raw_os_error();
                let message = pcap_message(&e);
                if live && is_would_block(&message, errno) {
                    // Some libpcap modules (netfilter's `nflog`, libpcap 1.10) report an
                    // empty non-blocking read as an error instead of a timeout: an idle
                    // tick too, not the end of the capture.
                    self.drained = true;
                    return Next::Idle { now: wall_clock() };
                }
                self.ended = true;
                if !live && is_interrupted_read(&message, errno) {
                    // A blocked read of standard input (a pipe) interrupted by SIGINT or
                    // SIGTERM: the pipeline installs those handlers without SA_RESTART
                    // precisely so that read(2) returns EINTR here, and no other handler
                    // lacks it. The stop flag is set: an ordinary end, not damage.
                    return Next::End {
                        warning: caplen_warning(&self.name, self.caplen_over_len),
                    };
                }
                // SAFETY: `raw` is the handle, valid while `self.handle` lives.
                let offset = if live {
                    None
                } else {
                    unsafe { file_offset(raw) }
                };
                damage!(self, live).end(&message, offset)
            }
        }
    }

    /// `next` for a file the reader reads (`reader.rs`): libpcap's rules, its words.
    fn next_from_reader(&mut self) -> Next<'_> {
        let Some(reader) = self.reader.as_mut() else {
            return Next::End { warning: None };
        };
        self.record_start = Some(reader.record_start());
        match reader.next() {
            reader::Step::Record(r) => {
                if let Some(program) = &self.program {
                    let header = PacketHeader {
                        ts: libc::timeval {
                            tv_sec: r.secs as libc::time_t,
                            tv_usec: r.nanos as libc::suseconds_t,
                        },
                        caplen: r.data.len() as u32,
                        len: r.len,
                    };
                    if !offline_filter(program, &header, r.data) {
                        return Next::Filtered;
                    }
                }
                self.packets += 1;
                let mut orig_len = r.len;
                if (orig_len as usize) < r.data.len() {
                    self.caplen_over_len += 1;
                    orig_len = u32::try_from(r.data.len()).unwrap_or(u32::MAX);
                }
                Next::Packet(Packet {
                    // As `packet_time` does with libpcap's header (nanoseconds).
                    ts: Timestamp(r.secs.saturating_mul(1_000_000_000).saturating_add(r.nanos)),
                    data: r.data,
                    orig_len,
                    chunk: Some(r.chunk),
                })
            }
            reader::Step::End => {
                self.ended = true;
                Next::End {
                    warning: caplen_warning(&self.name, self.caplen_over_len),
                }
            }
            reader::Step::Failed { message, offset } => {
                self.ended = true;
                damage!(self, false).end(&message, Some(offset))
            }
        }
    }

    /// Live capture counters (None for files, or when libpcap cannot report them).
    ///
    /// libpcap's counters are 32-bit and wrap after about 4 billion packets; they are
    /// widened to 64 bits here, which stays right as long as this is called at least once
    /// per wrap (the pipeline calls it every stats interval).
    pub fn stats(&mut self) -> Option<CaptureStats> {
        match &mut self.handle {
            Handle::Live(cap) => {
                let s = cap.stats().ok()?;
                Some(self.stats.update([s.received, s.dropped, s.if_dropped]))
            }
            Handle::Offline(_) => None,
        }
    }

    /// True for a live interface.
    pub fn is_live(&self) -> bool {
        matches!(self.handle, Handle::Live(_))
    }
}

/// What a failed read needs of its source, borrowed field by field: a read's result
/// still borrows the handle (or the reader) where it is used.
struct Damage<'a> {
    name: &'a str,
    live: bool,
    filtered: bool,
    packets: &'a mut u64,
    path: Option<&'a std::path::Path>,
    opened: Option<(u64, u64)>,
    record_start: Option<u64>,
    program: Option<&'a BpfProgram>,
    caplen_over_len: u64,
    cut: &'a mut Option<(tail::CutRecord, String)>,
}

/// `Damage` of a `PacketSource`.
macro_rules! damage {
    ($source:ident, $live:expr) => {
        Damage {
            name: &$source.name,
            live: $live,
            filtered: $source.filtered,
            packets: &mut $source.packets,
            path: $source.path.as_deref(),
            opened: $source.opened,
            record_start: $source.record_start,
            program: $source.program.as_ref(),
            caplen_over_len: $source.caplen_over_len,
            cut: &mut $source.cut,
        }
    };
}
use damage;

impl<'a> Damage<'a> {
    /// The end of a source that failed with libpcap's `message`, reading having stopped
    /// at byte `offset`: the warning, and a classic pcap file's cut-short last record read
    /// back (`tail.rs`) as a last packet.
    fn end(self, message: &str, offset: Option<u64>) -> Next<'a> {
        let place = Place {
            name: self.name,
            live: self.live,
            filtered: self.filtered,
            packets: *self.packets,
            offset,
        };
        let mut warning = place.damage_warning(message);
        let file = self.path.zip(self.opened);
        let cut = tail::read_back(file, self.record_start, self.program, message);
        if let Some(c) = &cut {
            warning = format!(
                "{warning}; its {} captured bytes (of {}) were processed as a \
                 snaplen-cut packet",
                c.data.len(),
                c.caplen
            );
        }
        if let Some(extra) = caplen_warning(self.name, self.caplen_over_len) {
            warning = format!("{warning}; {extra}");
        }
        match cut {
            Some(c) => {
                *self.packets += 1;
                let cut = self.cut.insert((c, warning));
                Next::Packet(Packet {
                    ts: cut.0.ts,
                    data: &cut.0.data,
                    orig_len: cut.0.orig_len,
                    chunk: None,
                })
            }
            None => Next::End {
                warning: Some(warning),
            },
        }
    }
}

/// The capture's link type, if `wire` decodes it. A live interface that offers several
/// (for example Ethernet and DOCSIS) is switched to the first one we decode.
fn choose_link_type<T: Activated + ?Sized>(
    cap: &mut Capture<T>,
    name: &str,
    live: bool,
) -> Result<LinkType, CaptureError> {
    let current = cap.get_datalink();
    if let Some(link) = LinkType::from_dlt(current.0) {
        return Ok(link);
    }
    if live {
        let offered = cap.list_datalinks().unwrap_or_default();
        for dlt in offered {
            if let Some(link) = LinkType::from_dlt(dlt.0) {
                if cap.set_datalink(dlt).is_ok() {
                    return Ok(link);
                }
            }
        }
    }
    Err(CaptureError::UnsupportedLinkType(format!(
        "{name} has {}; httshark decodes Ethernet, Linux cooked (SLL, SLL2), \
         BSD loopback (NULL, LOOP) and raw IP",
        describe_dlt(current)
    )))
}

/// The record reader for a classic pcap file it takes (`reader::takes`), positioned at
/// its first record; `None` leaves the file to libpcap. `opened` is the device and inode
/// of the file libpcap opened: the path is opened again, and if it names another file by
/// now (renamed over, a link switched), libpcap, whose header was read, reads on.
fn reader_for(
    path: &std::path::Path,
    opened: (u64, u64),
    snapshot: i32,
) -> Option<reader::RecordReader<std::fs::File>> {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    // Non-blocking: a FIFO put under the name since would block the open (and regular
    // files ignore the flag).
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    if !meta.is_file() || (meta.dev(), meta.ino()) != opened {
        return None;
    }
    let mut head = [0u8; reader::FILE_HEADER];
    file.read_exact(&mut head).ok()?;
    let nanos = reader::takes(&head)?;
    let snapshot = u32::try_from(snapshot).ok().filter(|&s| s > 0)?;
    file.seek(SeekFrom::Start(reader::FILE_HEADER as u64))
        .ok()?;
    Some(reader::RecordReader::new(file, nanos, snapshot))
}

fn describe_dlt(dlt: Linktype) -> String {
    match (dlt.get_name(), dlt.get_description()) {
        (Ok(name), Ok(description)) => format!("DLT {} ({name}, {description})", dlt.0),
        (Ok(name), Err(_)) => format!("DLT {} ({name})", dlt.0),
        _ => format!("DLT {} (unknown to libpcap)", dlt.0),
    }
}

extern "C" {
    /// libpcap ≥ 1.5 (`pcap_get_tstamp_precision(3PCAP)`); the `pcap` crate does not wrap
    /// it. Linked through the `pcap` crate's libpcap.
    fn pcap_get_tstamp_precision(p: *mut c_void) -> c_int;
    /// `pcap_snapshot(3PCAP)`: the snapshot length (a file's, from its header).
    fn pcap_snapshot(p: *mut c_void) -> c_int;
}

/// `PCAP_TSTAMP_PRECISION_NANO` from pcap/pcap.h.
const PCAP_TSTAMP_PRECISION_NANO: c_int = 1;

/// Whether libpcap granted the nanosecond precision asked for.
fn granted_nanos<T: Activated + ?Sized>(cap: &Capture<T>) -> bool {
    // SAFETY: the handle is valid for as long as `cap` lives; the call only reads it.
    unsafe { pcap_get_tstamp_precision(cap.as_ptr().cast()) == PCAP_TSTAMP_PRECISION_NANO }
}

// `i64::from`: time_t and suseconds_t are 32-bit on some platforms, i64 on Linux x86-64.
#[allow(clippy::useless_conversion)]
fn packet_time(header: &PacketHeader, nanos: bool) -> Timestamp {
    let secs = i64::from(header.ts.tv_sec);
    let frac = i64::from(header.ts.tv_usec);
    let frac_nanos = if nanos {
        frac
    } else {
        frac.saturating_mul(1000)
    };
    // Saturating: a corrupt record must not overflow (no panic, no wrap to 1901).
    Timestamp(
        secs.saturating_mul(1_000_000_000)
            .saturating_add(frac_nanos),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_can_move_to_a_capture_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<PacketSource>();
    }

    #[test]
    fn packet_time_scales_and_saturates() {
        let mut h = PacketHeader {
            ts: libc::timeval {
                tv_sec: 1_700_000_000,
                tv_usec: 123_456,
            },
            caplen: 0,
            len: 0,
        };
        assert_eq!(
            packet_time(&h, false),
            Timestamp::from_secs_nanos(1_700_000_000, 123_456_000)
        );
        assert_eq!(
            packet_time(&h, true),
            Timestamp::from_secs_nanos(1_700_000_000, 123_456)
        );
        h.ts.tv_sec = i64::MAX;
        assert_eq!(packet_time(&h, true), Timestamp(i64::MAX));
    }

    #[test]
    fn the_reader_reads_only_the_file_libpcap_opened_and_takes() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pcap");
        let head = reader::tests::file_header(false, 65535);
        std::fs::write(&path, &head).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let id = (meta.dev(), meta.ino());
        assert!(reader_for(&path, id, 65535).is_some());
        // Opened as a source, the file is read by the reader (libpcap's stream names it).
        let config = Config {
            source: Source::File(path.clone()),
            bpf: String::new(),
            ..Config::default()
        };
        let source = PacketSource::open(&config).expect("opens");
        assert!(source.reader.is_some());
        // Another file under the name by now: libpcap reads on.
        assert!(reader_for(&path, (id.0, id.1 ^ 1), 65535).is_none());
        // No snapshot length to shorten to, or a byte-swapped file: libpcap's.
        assert!(reader_for(&path, id, 0).is_none());
        let mut swapped = head.clone();
        swapped[..4].copy_from_slice(&0xa1b2_c3d4u32.swap_bytes().to_ne_bytes());
        std::fs::write(&path, &swapped).unwrap();
        assert!(reader_for(&path, id, 65535).is_none());
        // Not a regular file.
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let meta = std::fs::metadata(&fifo).unwrap();
        assert!(reader_for(&fifo, (meta.dev(), meta.ino()), 65535).is_none());
    }
}
