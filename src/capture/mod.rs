//! Packet sources: live interfaces and pcap/pcapng files (or standard input) through
//! libpcap. The only module that names the `pcap` crate.
//!
//! What it does: opens the source with the BPF filter applied, checks that the link type
//! is one `wire` decodes, and hands out packets with exact timestamps. Live captures set
//! the filter in the kernel; files and standard input compile it and apply it here, per
//! record (what libpcap would do in user space anyway), so a record the filter rejects is
//! reported as [`Next::Filtered`]: the summary can then say how many packets were read
//! and how many matched (a filter that matches nothing must not end in silence). Live captures wake up every
//! [`LIVE_READ_TIMEOUT_MS`] with no traffic and report an idle tick carrying the wall clock,
//! so timeouts and exports still happen on a quiet interface. This is the one place that
//! reads the wall clock; the core only ever sees the `now` given to it.
//!
//! Idle ticks cannot rely on libpcap's read timeout: on Linux (TPACKET_V3) the timeout
//! only runs once a packet is in the ring, so with no traffic at all a blocking read
//! never returns (pcap(3PCAP), "read timeout"). Live captures are therefore put in
//! non-blocking mode and, once the ring is drained, `next` waits with `poll(2)` on
//! libpcap's selectable descriptor for at most the read timeout. Reading goes on without
//! a system call per packet while packets are waiting.
//!
//! What it does not do: decode frames (that is `wire`), or retry a failed source. Opening
//! failures are `CaptureError`s (fatal, one line each); a failure while reading ends the
//! capture with a warning, and everything read before it is kept.
//!
//! Damaged files (docs/robustness.md, "Faults"): libpcap bounds every record before
//! allocating (a classic record longer than the link type's maximum snaplen, a pcapng
//! block over 16 MiB, are refused), so a corrupt length never becomes a huge allocation.
//! A record libpcap refuses or finds cut short ends the capture with one warning naming
//! the source, the record (its index when no filter hides records) and the byte offset
//! where reading stopped. Records whose captured length exceeds their wire length are
//! used as captured (`orig_len` raised to the captured length, so `orig_len >=
//! data.len()` always holds) and reported once at the end.
//!
//! Standard input and signals: a read(2) of a pipe interrupted by SIGINT/SIGTERM (whose
//! handlers the pipeline installs without SA_RESTART) fails with EINTR; that is the
//! stop the operator asked for, so it ends the capture without a warning.
//!
//! Timestamps: nanosecond precision is requested from libpcap for files, standard input
//! and live captures. libpcap scales microsecond files up, so offline timestamps are
//! always exact. A live capture may not support nanoseconds on every platform, so the
//! precision libpcap actually granted is asked back rather than assumed.

mod tail;

use std::ffi::{c_int, c_void};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use pcap::{Activated, Active, BpfProgram, Capture, Linktype, Offline, PacketHeader, Precision};

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
        let (what, detail) = match self {
            CaptureError::NoSuchDevice(d) => ("no such network interface", d),
            CaptureError::Permission(d) => ("permission denied", d),
            CaptureError::File(d) => ("cannot read capture", d),
            CaptureError::Filter(d) => ("invalid capture filter", d),
            CaptureError::UnsupportedLinkType(d) => ("unsupported link type", d),
            CaptureError::Other(d) => ("capture error", d),
        };
        // One line, whatever libpcap put in its message.
        write!(f, "{what}: {}", one_line(detail))
    }
}

impl std::error::Error for CaptureError {}

/// Kernel/libpcap counters of a live capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    pub received: u64,
    /// Dropped by the kernel because the buffer was full.
    pub dropped: u64,
    pub if_dropped: u64,
}

/// How long a live read waits for packets before `next` returns `Idle`. Short enough that
/// idle ticks and shutdown are prompt, long enough that a busy capture reads whole kernel
/// blocks at a time rather than waking per packet.
pub const LIVE_READ_TIMEOUT_MS: i32 = 100;
/// The ring's block retire timeout of a live capture with process attribution: how long
/// a SYN may wait in the kernel before it is read and looked up.
pub const ATTRIB_BLOCK_TIMEOUT_MS: i32 = 2;

/// How long a stopped live capture goes on reading the packets the kernel received before
/// the stop: twice the read timeout, which is also the kernel's block retire timeout (a
/// packet may wait that long in a partly filled TPACKET_V3 block before libpcap sees it).
/// Reading stops earlier as soon as a packet stamped after the stop is read (everything
/// before it has been). Without this, the last ~100 ms of traffic before SIGINT/SIGTERM,
/// complete exchanges included, was thrown away with the ring.
pub const STOP_DRAIN: std::time::Duration =
    std::time::Duration::from_millis(2 * LIVE_READ_TIMEOUT_MS as u64);

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
    /// back from (`tail.rs`).
    path: Option<PathBuf>,
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
            record_start: None,
            next_record: None,
            classic_pcap: match &config.source {
                Source::File(path) => tail::is_classic_pcap(path),
                _ => false,
            },
            cut: None,
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
        Ok(source)
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
                self.ended = true;
                let message = pcap_message(&e);
                if !live && is_interrupted_read(&message, errno) {
                    // A blocked read of standard input (a pipe) interrupted by SIGINT or
                    // SIGTERM: the pipeline installs those handlers without SA_RESTART
                    // precisely so that read(2) returns EINTR here, and no other handler
                    // lacks it. The stop flag is set: an ordinary end, not damage.
                    return Next::End {
                        warning: caplen_warning(&self.name, self.caplen_over_len),
                    };
                }
                let place = Place {
                    name: &self.name,
                    live,
                    filtered: self.filtered,
                    packets: self.packets,
                    // SAFETY: `raw` is the handle, valid while `self.handle` lives.
                    offset: if live {
                        None
                    } else {
                        unsafe { file_offset(raw) }
                    },
                };
                let mut warning = place.damage_warning(&message);
                let cut = tail::read_back(
                    self.path.as_deref(),
                    self.record_start,
                    self.program.as_ref(),
                    &message,
                );
                if let Some(c) = &cut {
                    warning = format!(
                        "{warning}; its {} captured bytes (of {}) were processed as a \
                         snaplen-cut packet",
                        c.data.len(),
                        c.caplen
                    );
                }
                if let Some(extra) = caplen_warning(&self.name, self.caplen_over_len) {
                    warning = format!("{warning}; {extra}");
                }
                match cut {
                    Some(c) => {
                        self.packets += 1;
                        let cut = self.cut.insert((c, warning));
                        Next::Packet(Packet {
                            ts: cut.0.ts,
                            data: &cut.0.data,
                            orig_len: cut.0.orig_len,
                        })
                    }
                    None => Next::End {
                        warning: Some(warning),
                    },
                }
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

/// The interfaces libpcap can capture on, one line each in tcpdump -D's format:
/// `1.eth0 [Up, Running, Connected]`, `2.lo [Up, Running, Loopback]`, with libpcap's
/// description in parentheses when it has one.
pub fn list_interfaces() -> Result<Vec<String>, CaptureError> {
    let devices = pcap::Device::list().map_err(|e| CaptureError::Other(pcap_message(&e)))?;
    Ok(devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let f = &d.flags;
            let status = match f.connection_status {
                pcap::ConnectionStatus::Connected => Some("Connected"),
                pcap::ConnectionStatus::Disconnected => Some("Disconnected"),
                pcap::ConnectionStatus::Unknown | pcap::ConnectionStatus::NotApplicable => None,
            };
            let flags: Vec<&str> = [
                (f.is_up(), "Up"),
                (f.is_running(), "Running"),
                (f.is_wireless(), "Wireless"),
                (f.is_loopback(), "Loopback"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .chain(status)
            .collect();
            interface_line(i + 1, &d.name, d.desc.as_deref(), &flags)
        })
        .collect())
}

fn interface_line(n: usize, name: &str, desc: Option<&str>, flags: &[&str]) -> String {
    let mut line = format!("{n}.{name}");
    if let Some(desc) = desc.filter(|d| !d.is_empty()) {
        line.push_str(&format!(" ({})", one_line(desc)));
    }
    if !flags.is_empty() {
        line.push_str(&format!(" [{}]", flags.join(", ")));
    }
    line
}

/// Where a read failed, for its warning.
struct Place<'a> {
    name: &'a str,
    live: bool,
    filtered: bool,
    /// Packets returned before the failure.
    packets: u64,
    /// Byte offset where libpcap's reading stopped, when the stream can tell.
    offset: Option<u64>,
}

impl Place<'_> {
    /// The source, where (record index when every record is returned, byte offset when
    /// known), libpcap's reason, and that what came before was kept.
    fn damage_warning(&self, reason: &str) -> String {
        if self.live {
            return format!(
                "{}: capture stopped after {} packets: {reason}",
                self.name, self.packets
            );
        }
        let at = if self.filtered {
            format!("after {} packets matching the filter", self.packets)
        } else {
            format!(
                "in record {} (after {} packets)",
                self.packets + 1,
                self.packets
            )
        };
        let offset = match self.offset {
            Some(off) => format!(", reading stopped at byte offset {off}"),
            None => String::new(),
        };
        format!(
            "{}: damaged capture {at}{offset}: {reason}; the packets before it were \
             processed, the rest was not read",
            self.name
        )
    }
}

/// The end-of-capture note about records whose captured length exceeded their wire
/// length, if there were any.
fn caplen_warning(name: &str, count: u64) -> Option<String> {
    (count > 0).then(|| {
        format!(
            "{name}: {count} records have a captured length larger than their length on the \
             wire (a damaged file or a faulty writer); their captured bytes were used"
        )
    })
}

/// Where libpcap's reading of an offline capture stopped (`ftello` on its stream); None
/// for pipes and live captures.
///
/// # Safety
/// `p` must be a valid libpcap handle.
unsafe fn file_offset(p: *mut c_void) -> Option<u64> {
    let file = pcap_file(p);
    if file.is_null() {
        return None;
    }
    u64::try_from(libc::ftello(file)).ok()
}

/// Opens and activates a live capture; returns it with the descriptor to poll when it
/// could be made non-blocking (see the module docs for why).
fn open_live(
    device: &str,
    config: &Config,
) -> Result<(Capture<Active>, Option<c_int>), CaptureError> {
    let inactive =
        Capture::from_device(device).map_err(|e| live_open_error(device, &pcap_message(&e)))?;
    let cap = inactive
        .promisc(true)
        .snaplen(config.snaplen)
        .buffer_size(config.buffer_size)
        // Also the kernel's block retire timeout: how long a packet may wait in a
        // partly filled ring block before libpcap sees it.
        // Process attribution looks a connection up when its SYN is read: a packet must
        // not wait 100 ms in a partly filled ring block, or a short connection is over
        // before anyone asks (src/attrib). A 2 ms block retire timeout keeps the ring's
        // batching; immediate mode (-attribution-immediate: a wake-up per packet) finds
        // connections of a millisecond but costs about 10x the CPU per packet and kernel
        // drops on a fast replay (docs/benchmarks.md).
        .immediate_mode(config.attribution_immediate)
        .timeout(if config.attribution {
            ATTRIB_BLOCK_TIMEOUT_MS
        } else {
            LIVE_READ_TIMEOUT_MS
        })
        .precision(Precision::Nano)
        .open()
        .map_err(|e| live_open_error(device, &pcap_message(&e)))?;
    // SAFETY: the handle is valid while `cap` lives; the call only reads it.
    let fd = unsafe { pcap_get_selectable_fd(cap.as_ptr().cast()) };
    if fd < 0 {
        return Ok((cap, None));
    }
    let cap = cap.setnonblock().map_err(|e| {
        CaptureError::Other(format!(
            "{device}: cannot read without blocking: {}",
            pcap_message(&e)
        ))
    })?;
    Ok((cap, Some(fd)))
}

/// Waits until `fd` is readable (or in error: the read reports it) for at most
/// `timeout_ms`. `Ok(false)` when the time ran out.
fn wait_readable(fd: c_int, timeout_ms: i32) -> std::io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, and its count.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n > 0)
}

/// Classifies a failure to open a live capture. libpcap reports the cause only as text
/// (the status code is not passed through by the `pcap` crate), so the interface list is
/// checked as well: a name that is not listed is a missing interface whatever the text.
fn live_open_error(device: &str, message: &str) -> CaptureError {
    let listed = pcap::Device::list()
        .map(|list| list.into_iter().map(|d| d.name).collect::<Vec<_>>())
        .ok();
    classify_live_error(device, message, listed.as_deref())
}

fn classify_live_error(device: &str, message: &str, listed: Option<&[String]>) -> CaptureError {
    let lower = message.to_ascii_lowercase();
    if lower.contains("permission") || lower.contains("operation not permitted") {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "PATH".to_string());
        return CaptureError::Permission(format!(
            "{message}; run as root or give the binary cap_net_raw,cap_net_admin \
             (setcap cap_net_raw,cap_net_admin=eip {exe})"
        ));
    }
    let unlisted = listed.is_some_and(|names| !names.iter().any(|n| n == device));
    // "any" is libpcap's pseudo-interface (Linux); it is listed, but do not rely on it.
    if device != "any" && (unlisted || lower.contains("no such device")) {
        let available = match listed {
            Some(names) if !names.is_empty() => format!(" (available: {})", names.join(", ")),
            _ => String::new(),
        };
        return CaptureError::NoSuchDevice(format!("{device}{available}"));
    }
    CaptureError::Other(format!("cannot capture on {device}: {message}"))
}

fn open_file(path: &Path) -> Result<Capture<Offline>, CaptureError> {
    let shown = path.display();
    // Checked here first for a plain message; libpcap would say the same less clearly.
    match std::fs::metadata(path) {
        Err(e) => return Err(CaptureError::File(format!("{shown}: {e}"))),
        Ok(meta) if meta.is_dir() => {
            return Err(CaptureError::File(format!("{shown}: is a directory")))
        }
        Ok(_) => {}
    }
    if let Some(opened) = open_file_buffered(path) {
        return opened.map_err(|e| CaptureError::File(file_open_message(&shown.to_string(), &e)));
    }
    let opened = match path.to_str() {
        Some(utf8) => Capture::from_file_with_precision(utf8, Precision::Nano),
        // The pcap crate passes paths as UTF-8 strings; any other path goes in as a file
        // descriptor instead.
        None => {
            use std::os::unix::io::IntoRawFd;
            let file = std::fs::File::open(path)
                .map_err(|e| CaptureError::File(format!("{shown}: {e}")))?;
            // SAFETY: the descriptor is ours (just opened) and handed over to libpcap,
            // which owns and closes it from here on.
            unsafe { Capture::from_raw_fd_with_precision(file.into_raw_fd(), Precision::Nano) }
        }
    };
    opened.map_err(|e| CaptureError::File(file_open_message(&shown.to_string(), &e)))
}

/// The stdio buffer libpcap reads a capture file through (`FILE_READ_BUFFER`): glibc's
/// default is the file system block (4 KiB), a read(2) per 4 KiB of capture.
pub const FILE_READ_BUFFER: usize = 1 << 20;

/// A regular file opened for libpcap through a stream with a `FILE_READ_BUFFER` buffer
/// (what `pcap_open_offline` does, with a larger buffer set before the first read).
/// `None` when the file cannot be opened that way (not a regular file, not readable):
/// the caller then lets libpcap open it, for libpcap's own error message.
fn open_file_buffered(path: &Path) -> Option<Result<Capture<Offline>, pcap::Error>> {
    use std::os::unix::io::IntoRawFd;
    let file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let fd = file.into_raw_fd();
    // SAFETY: `fd` is ours (just opened) and goes to the stream, which closes it; the
    // stream goes to libpcap on success (pcap_close closes it) and is closed here on
    // failure, as pcap_open_offline does. setvbuf comes before any other operation on
    // the stream; errbuf has PCAP_ERRBUF_SIZE bytes and is NUL-terminated on failure.
    unsafe {
        let fp = libc::fdopen(fd, c"rb".as_ptr());
        if fp.is_null() {
            libc::close(fd);
            return None;
        }
        if libc::setvbuf(fp, std::ptr::null_mut(), libc::_IOFBF, FILE_READ_BUFFER) != 0 {
            libc::fclose(fp);
            return None;
        }
        let mut errbuf = [0 as std::ffi::c_char; PCAP_ERRBUF_SIZE];
        let p = pcap_fopen_offline_with_tstamp_precision(
            fp,
            PCAP_TSTAMP_PRECISION_NANO as std::ffi::c_uint,
            errbuf.as_mut_ptr(),
        );
        match std::ptr::NonNull::new(p.cast()) {
            Some(handle) => Some(Ok(Capture::from(handle))),
            None => {
                libc::fclose(fp);
                let message = std::ffi::CStr::from_ptr(errbuf.as_ptr());
                Some(Err(pcap::Error::PcapError(
                    message.to_string_lossy().into_owned(),
                )))
            }
        }
    }
}

/// `PCAP_ERRBUF_SIZE` from pcap/pcap.h.
const PCAP_ERRBUF_SIZE: usize = 256;

fn open_stdin() -> Result<Capture<Offline>, CaptureError> {
    const STDIN: c_int = 0;
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(STDIN) } == 1 {
        return Err(CaptureError::File(
            "standard input is a terminal; pipe a pcap or pcapng capture into it \
             (for example: tcpdump -w - | httshark -file -)"
                .to_string(),
        ));
    }
    // SAFETY: libpcap takes over descriptor 0 for the life of the process (it fdopen()s
    // it and fcloses it when the capture is dropped). Nothing else in httshark reads
    // standard input, and only one source is opened from it.
    unsafe { Capture::from_raw_fd_with_precision(STDIN, Precision::Nano) }
        .map_err(|e| CaptureError::File(file_open_message("standard input", &e)))
}

fn file_open_message(name: &str, e: &pcap::Error) -> String {
    let message = pcap_message(e);
    if message.contains("unknown file format") {
        format!("{name}: not a pcap or pcapng file ({message})")
    } else {
        format!("{name}: {message}")
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
    /// `pcap_get_selectable_fd(3PCAP)`: -1 where the capture cannot be polled. Declared
    /// here because the `pcap` crate's `as_raw_fd` asserts instead of returning -1.
    fn pcap_get_selectable_fd(p: *mut c_void) -> c_int;
    /// `pcap_file(3PCAP)`: the stream of an offline capture (NULL for live ones).
    fn pcap_file(p: *mut c_void) -> *mut libc::FILE;
    /// `pcap_fopen_offline_with_tstamp_precision(3PCAP)`: an offline capture read from
    /// `fp` (which the handle then owns); NULL with a message in `errbuf` on failure.
    fn pcap_fopen_offline_with_tstamp_precision(
        fp: *mut libc::FILE,
        precision: std::ffi::c_uint,
        errbuf: *mut std::ffi::c_char,
    ) -> *mut c_void;
    /// `pcap_snapshot(3PCAP)`: the snapshot length (a file's, from its header).
    fn pcap_snapshot(p: *mut c_void) -> c_int;
    /// `pcap_offline_filter(3PCAP)`. The `pcap` crate's `BpfProgram::filter` passes the
    /// captured length as the wire length too, which `len`/`greater` filters would see;
    /// this passes the record's own header.
    fn pcap_offline_filter(prog: *const c_void, h: *const PacketHeader, pkt: *const u8) -> c_int;
}

/// Whether the record matches the compiled filter, as libpcap decides for files.
fn offline_filter(program: &BpfProgram, header: &PacketHeader, data: &[u8]) -> bool {
    // SAFETY: `BpfProgram` is `repr(transparent)` over libpcap's `bpf_program`, valid
    // while `program` lives; `header` and `data` are the record libpcap just returned
    // (its caplen is `data.len()`), and the call only reads them.
    unsafe { pcap_offline_filter((program as *const BpfProgram).cast(), header, data.as_ptr()) > 0 }
}

/// True when a failed offline read was read(2) returning EINTR: libpcap reports it as
/// "error reading dump file: <strerror(EINTR)>", and errno is still EINTR unless something
/// after the read changed it, so either sign is taken.
fn is_interrupted_read(message: &str, errno: Option<i32>) -> bool {
    if errno == Some(libc::EINTR) && message.starts_with("error reading dump file") {
        return true;
    }
    // SAFETY: strerror returns a valid C string (static or thread-local storage).
    let text = unsafe { std::ffi::CStr::from_ptr(libc::strerror(libc::EINTR)) };
    message.ends_with(&*text.to_string_lossy())
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

/// The wall clock, for idle ticks of a live capture (the only clock read in httshark).
// The live capture is the I/O edge that turns "no packet for a while" into time the core
// can use; clippy.toml keeps the clock out of everywhere else.
#[allow(clippy::disallowed_methods)]
fn wall_clock() -> Timestamp {
    let nanos = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => Timestamp(nanos(since)),
        Err(before) => Timestamp(-nanos(before.duration())),
    }
}

/// libpcap's own text, without the `pcap` crate's "libpcap error: " prefix.
fn pcap_message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(message) => message.clone(),
        other => other.to_string(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Extends libpcap's wrapping 32-bit counters to 64 bits.
#[derive(Default)]
struct StatsWidener {
    last: [u32; 3],
    total: [u64; 3],
}

impl StatsWidener {
    fn update(&mut self, now: [u32; 3]) -> CaptureStats {
        for ((last, total), now) in self.last.iter_mut().zip(&mut self.total).zip(now) {
            *total += u64::from(now.wrapping_sub(*last));
            *last = now;
        }
        CaptureStats {
            received: self.total[0],
            dropped: self.total[1],
            if_dropped: self.total[2],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sources_can_move_to_a_capture_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<PacketSource>();
    }

    #[test]
    fn permission_errors_say_how_to_fix_them() {
        let msg = "eth0: You don't have permission to perform this capture on that device \
                   (socket: Operation not permitted)";
        let err = classify_live_error("eth0", msg, Some(&names(&["eth0", "lo"])));
        let CaptureError::Permission(detail) = &err else {
            panic!("{err:?}")
        };
        assert!(
            detail.contains("socket: Operation not permitted"),
            "{detail}"
        );
        assert!(
            detail.contains("setcap cap_net_raw,cap_net_admin=eip "),
            "{detail}"
        );
    }

    #[test]
    fn unknown_interfaces_list_the_available_ones() {
        let listed = names(&["eth0", "lo", "any"]);
        let err = classify_live_error("eht0", "eht0: some other text", Some(&listed));
        assert_eq!(
            err,
            CaptureError::NoSuchDevice("eht0 (available: eth0, lo, any)".into())
        );
        // libpcap's own words suffice when the list is not available.
        let msg = "nosuchdev0: No such device exists (SIOCGIFINDEX: No such device)";
        let err = classify_live_error("nosuchdev0", msg, None);
        assert_eq!(err, CaptureError::NoSuchDevice("nosuchdev0".into()));
        // A listed interface that fails for another reason is not "missing".
        let err = classify_live_error("eth0", "eth0: That device is not up", Some(&listed));
        assert!(matches!(err, CaptureError::Other(_)), "{err:?}");
        // Nor is "any", even if a platform does not list it.
        let err = classify_live_error("any", "any: boom", Some(&names(&["eth0"])));
        assert!(matches!(err, CaptureError::Other(_)), "{err:?}");
    }

    #[test]
    fn errors_display_as_one_line() {
        let errors = [
            CaptureError::NoSuchDevice("x (available: lo)".into()),
            CaptureError::Permission("a\nb".into()),
            CaptureError::File("f.pcap: not a pcap or pcapng file".into()),
            CaptureError::Filter("\"tcp port\": syntax error\n".into()),
            CaptureError::UnsupportedLinkType("DLT 127".into()),
            CaptureError::Other("  spaced   out  ".into()),
        ];
        for e in errors {
            let shown = e.to_string();
            assert!(!shown.contains('\n') && !shown.ends_with(' '), "{shown:?}");
            assert!(!shown.contains("CaptureError"), "{shown:?}");
        }
        assert_eq!(
            CaptureError::Other("  spaced   out  ".into()).to_string(),
            "capture error: spaced out"
        );
    }

    #[test]
    fn interface_lines_read_like_tcpdump() {
        assert_eq!(
            interface_line(2, "lo", None, &["Up", "Running", "Loopback"]),
            "2.lo [Up, Running, Loopback]"
        );
        assert_eq!(
            interface_line(1, "any", Some("Pseudo-device\nthat captures"), &[]),
            "1.any (Pseudo-device that captures)"
        );
    }

    #[test]
    fn stats_widen_across_u32_wraps() {
        let mut w = StatsWidener::default();
        assert_eq!(w.update([10, 1, 0]).received, 10);
        let s = w.update([u32::MAX, 2, 0]);
        assert_eq!((s.received, s.dropped), (u64::from(u32::MAX), 2));
        let s = w.update([5, 2, 1]);
        assert_eq!(s.received, u64::from(u32::MAX) + 6);
        assert_eq!((s.dropped, s.if_dropped), (2, 1));
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
}
