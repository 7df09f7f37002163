//! Capture files (pcap, pcapng) and standard input: opening them through libpcap with a
//! large stdio buffer ([`open_file`] is the one entry point for a file), the per-record
//! filter, and the warnings a damaged or cut-short file ends with (`tail.rs` reads a
//! cut-short last record back).
//!
//! Damaged files (docs/robustness.md, "Faults"): libpcap (or `reader.rs`, by the same
//! rule) bounds every record before allocating (a classic record longer than the link
//! type's maximum snaplen, a pcapng block over 16 MiB, are refused), so a corrupt length
//! never becomes a huge allocation.
//! A record libpcap refuses or finds cut short ends the capture with one warning naming
//! the source, the record (its index when no filter hides records) and the byte offset
//! where reading stopped. Records whose captured length exceeds their wire length are
//! used as captured (`orig_len` raised to the captured length, so `orig_len >=
//! data.len()` always holds) and reported once at the end.
//!
//! Standard input and signals: a read(2) of a pipe interrupted by SIGINT/SIGTERM (whose
//! handlers the pipeline installs without SA_RESTART) fails with EINTR; that is the
//! stop the operator asked for, so it ends the capture without a warning.

use std::ffi::{c_int, c_void};
use std::path::Path;

use pcap::{BpfProgram, Capture, Offline, PacketHeader, Precision};

use super::error::pcap_message;
use super::{CaptureError, PCAP_TSTAMP_PRECISION_NANO};

pub(super) fn open_file(path: &Path) -> Result<Capture<Offline>, CaptureError> {
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

/// The stdio buffer of a file whose records `reader.rs` reads: libpcap reads only the
/// file header through it, and a larger one would be filled (and kept) for nothing.
const HEAD_READ_BUFFER: usize = 4096;

/// A regular file opened for libpcap through a stream with a `FILE_READ_BUFFER` buffer
/// (what `pcap_open_offline` does, with a larger buffer set before the first read), or
/// `HEAD_READ_BUFFER` when `reader.rs` will read its records (`reader::takes` its header;
/// should the reader still decline it, libpcap reads it through the small buffer).
/// A FIFO or other stream (`/dev/stdin`, `<(...)`) is opened once, here, and read by
/// libpcap: opening it twice would lose what the first open read, or kill its writer with
/// SIGPIPE. `None` when the file cannot be opened that way (a folder, not readable): the
/// caller then lets libpcap open it, for libpcap's own error message.
fn open_file_buffered(path: &Path) -> Option<Result<Capture<Offline>, pcap::Error>> {
    use std::os::unix::fs::FileExt;
    use std::os::unix::io::IntoRawFd;
    let file = std::fs::File::open(path).ok()?;
    let meta = file.metadata().ok()?;
    if meta.is_dir() {
        return None;
    }
    let mut head = [0u8; super::reader::FILE_HEADER];
    // Records are read by `reader.rs` from regular files only (it reads by offset).
    let ours = meta.is_file()
        && file.read_exact_at(&mut head, 0).is_ok()
        && super::reader::takes(&head).is_some();
    let buffer = if ours {
        HEAD_READ_BUFFER
    } else {
        FILE_READ_BUFFER
    };
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
        if libc::setvbuf(fp, std::ptr::null_mut(), libc::_IOFBF, buffer) != 0 {
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

pub(super) fn open_stdin() -> Result<Capture<Offline>, CaptureError> {
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

/// Where a read failed, for its warning.
pub(super) struct Place<'a> {
    pub(super) name: &'a str,
    pub(super) live: bool,
    pub(super) filtered: bool,
    /// Packets returned before the failure.
    pub(super) packets: u64,
    /// Byte offset where libpcap's reading stopped, when the stream can tell.
    pub(super) offset: Option<u64>,
}

impl Place<'_> {
    /// The source, where (record index when every record is returned, byte offset when
    /// known), libpcap's reason, and that what came before was kept.
    pub(super) fn damage_warning(&self, reason: &str) -> String {
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
pub(super) fn caplen_warning(name: &str, count: u64) -> Option<String> {
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
pub(super) unsafe fn file_offset(p: *mut c_void) -> Option<u64> {
    let file = pcap_file(p);
    if file.is_null() {
        return None;
    }
    u64::try_from(libc::ftello(file)).ok()
}

/// The device and inode of the regular file an offline capture reads (`fstat` of its
/// stream); None for pipes and other special files, live captures and a failed `fstat`.
///
/// # Safety
/// `p` must be a valid libpcap handle.
pub(super) unsafe fn file_identity(p: *mut c_void) -> Option<(u64, u64)> {
    let file = pcap_file(p);
    if file.is_null() {
        return None;
    }
    let mut st: libc::stat = std::mem::zeroed();
    if libc::fstat(libc::fileno(file), &mut st) != 0 || st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    Some((st.st_dev, st.st_ino))
}

extern "C" {
    /// `pcap_file(3PCAP)`: the stream of an offline capture (NULL for live ones).
    fn pcap_file(p: *mut c_void) -> *mut libc::FILE;
    /// `pcap_fopen_offline_with_tstamp_precision(3PCAP)`: an offline capture read from
    /// `fp` (which the handle then owns); NULL with a message in `errbuf` on failure.
    fn pcap_fopen_offline_with_tstamp_precision(
        fp: *mut libc::FILE,
        precision: std::ffi::c_uint,
        errbuf: *mut std::ffi::c_char,
    ) -> *mut c_void;
    /// `pcap_offline_filter(3PCAP)`. The `pcap` crate's `BpfProgram::filter` passes the
    /// captured length as the wire length too, which `len`/`greater` filters would see;
    /// this passes the record's own header.
    fn pcap_offline_filter(prog: *const c_void, h: *const PacketHeader, pkt: *const u8) -> c_int;
}

/// Whether the record matches the compiled filter, as libpcap decides for files.
pub(super) fn offline_filter(program: &BpfProgram, header: &PacketHeader, data: &[u8]) -> bool {
    // SAFETY: `BpfProgram` is `repr(transparent)` over libpcap's `bpf_program`, valid
    // while `program` lives; `header` and `data` are the record libpcap just returned
    // (its caplen is `data.len()`), and the call only reads them.
    unsafe { pcap_offline_filter((program as *const BpfProgram).cast(), header, data.as_ptr()) > 0 }
}

/// True when a failed offline read was read(2) returning EINTR: libpcap reports it as
/// "error reading dump file: <strerror(EINTR)>", and errno is still EINTR unless something
/// after the read changed it, so either sign is taken.
pub(super) fn is_interrupted_read(message: &str, errno: Option<i32>) -> bool {
    if errno == Some(libc::EINTR) && message.starts_with("error reading dump file") {
        return true;
    }
    // SAFETY: strerror returns a valid C string (static or thread-local storage).
    let text = unsafe { std::ffi::CStr::from_ptr(libc::strerror(libc::EINTR)) };
    message.ends_with(&*text.to_string_lossy())
}
