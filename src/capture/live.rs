//! Live capture: opening an interface (promiscuous, snaplen, buffer, read timeout) and
//! explaining why it failed, waiting for packets without blocking forever, the wall clock
//! for idle ticks, the kernel's drop counters, and the interface list (`-D`).
//!
//! Idle ticks cannot rely on libpcap's read timeout: on Linux (TPACKET_V3) the timeout
//! only runs once a packet is in the ring, so with no traffic at all a blocking read
//! never returns (pcap(3PCAP), "read timeout"). Live captures are therefore put in
//! non-blocking mode and, once the ring is drained, `next` waits with `poll(2)` on
//! libpcap's selectable descriptor for at most the read timeout. Reading goes on without
//! a system call per packet while packets are waiting.

use std::ffi::{c_int, c_void};
use std::time::{SystemTime, UNIX_EPOCH};

use pcap::{Active, Capture, Precision};

use super::error::{one_line, pcap_message};
use super::CaptureError;
use crate::config::Config;
use crate::time::Timestamp;

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

/// Opens and activates a live capture; returns it with the descriptor to poll when it
/// could be made non-blocking (see the module docs for why).
pub(super) fn open_live(
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

/// Whether a live read failed only because nothing was there yet (EAGAIN: libpcap's
/// netfilter module reports an empty non-blocking read so). Read from the message, which
/// ends with the reason; errno may have been reset since.
pub(super) fn is_would_block(message: &str, errno: Option<i32>) -> bool {
    // SAFETY: strerror returns a valid C string (static or thread-local storage).
    let text = unsafe { std::ffi::CStr::from_ptr(libc::strerror(libc::EAGAIN)) };
    message.ends_with(&*text.to_string_lossy())
        || (errno == Some(libc::EAGAIN) && message.starts_with("Can't receive packet"))
}

/// Waits until `fd` is readable (or in error: the read reports it) for at most
/// `timeout_ms`. `Ok(false)` when the time ran out.
pub(super) fn wait_readable(fd: c_int, timeout_ms: i32) -> std::io::Result<bool> {
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
        // A name with spaces or control characters is quoted: the message is made one
        // line (`one_line`), and `'lo '` would read as `lo`, which is listed.
        let name = if device.chars().any(|c| c.is_whitespace() || c.is_control()) {
            format!("{device:?}")
        } else {
            device.to_string()
        };
        return CaptureError::NoSuchDevice(format!("{name}{available}"));
    }
    CaptureError::Other(format!("cannot capture on {device}: {message}"))
}

extern "C" {
    /// `pcap_get_selectable_fd(3PCAP)`: -1 where the capture cannot be polled. Declared
    /// here because the `pcap` crate's `as_raw_fd` asserts instead of returning -1.
    fn pcap_get_selectable_fd(p: *mut c_void) -> c_int;
}

/// The wall clock, for idle ticks of a live capture (the only clock read in httshark).
// The live capture is the I/O edge that turns "no packet for a while" into time the core
// can use; clippy.toml keeps the clock out of everywhere else.
#[allow(clippy::disallowed_methods)]
pub(super) fn wall_clock() -> Timestamp {
    let nanos = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => Timestamp(nanos(since)),
        Err(before) => Timestamp(-nanos(before.duration())),
    }
}

/// Extends libpcap's wrapping 32-bit counters to 64 bits.
#[derive(Default)]
pub(super) struct StatsWidener {
    last: [u32; 3],
    total: [u64; 3],
}

impl StatsWidener {
    pub(super) fn update(&mut self, now: [u32; 3]) -> CaptureStats {
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
        // A name with a space is quoted: it is not the listed `lo`.
        let err = classify_live_error("lo ", "lo : No such device", Some(&names(&["lo"])));
        assert_eq!(
            err.to_string(),
            "no such network interface: \"lo \" (available: lo)"
        );
        // A listed interface that fails for another reason is not "missing".
        let err = classify_live_error("eth0", "eth0: That device is not up", Some(&listed));
        assert!(matches!(err, CaptureError::Other(_)), "{err:?}");
        // Nor is "any", even if a platform does not list it.
        let err = classify_live_error("any", "any: boom", Some(&names(&["eth0"])));
        assert!(matches!(err, CaptureError::Other(_)), "{err:?}");
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
    fn an_empty_nonblocking_read_is_told_from_a_failure() {
        assert!(is_would_block(
            "Can't receive packet: Resource temporarily unavailable",
            None
        ));
        assert!(is_would_block(
            "Can't receive packet: anything",
            Some(libc::EAGAIN)
        ));
        assert!(!is_would_block(
            "The interface went down",
            Some(libc::ENETDOWN)
        ));
        assert!(!is_would_block(
            "Can't receive packet: No buffer space available",
            None
        ));
    }
}
