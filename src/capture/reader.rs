//! Classic pcap files read without libpcap's per-record work: the file is read with
//! read(2) straight into large chunks, and each record's frame is handed out where it lies
//! in its chunk. The capture thread passes the chunk on to the workers whole (shared), so
//! a frame's bytes are copied once, by the kernel, on their way from the page cache to
//! the worker. libpcap read each record into its own buffer through a stdio buffer, and
//! the capture thread copied it again into a batch: two user-space copies and a call per
//! record, most of the capture thread's time (docs/speed-rounds.md, round 5).
//!
//! What it reads: the records of a classic pcap file in the machine's byte order, format
//! version 2.4, with libpcap's rules for every record, so that what comes out is what
//! libpcap gives for the same bytes (`tests::the_same_as_libpcap_*`):
//! - the timestamp's seconds and fraction are signed 32-bit fields (libpcap's
//!   `bpf_int32`), a microsecond fraction scaled to nanoseconds without a bound check;
//! - a captured length over [`MAX_CAPLEN`] ends the file with libpcap's "invalid packet
//!   capture length" message; one over the file's snapshot length (but within the
//!   maximum) is shortened to the snapshot length and the rest of it skipped;
//! - a file that ends inside a record ends with libpcap's "truncated dump file" message,
//!   and the offset libpcap's stream would be at.
//!
//! What it does not read: pcapng, byte-swapped files (libpcap rewrites some link-layer
//! headers of those), other versions, and anything that is not a regular file. The file
//! header is parsed by libpcap (`PacketSource::open` opens every file with libpcap first,
//! for its checks, link type and snapshot length) and [`takes`] decides whether this
//! reader reads the records.

use std::io::Read;
use std::sync::Arc;

use super::tail::RECORD_HEADER;

/// Bytes read into a chunk at a time (a record longer than this gets a larger chunk).
pub const CHUNK_BYTES: usize = 1 << 20;

/// libpcap's largest accepted captured length for the link types httshark decodes
/// (`max_snaplen_for_dlt`: `MAXIMUM_SNAPLEN`, 262,144).
pub(super) const MAX_CAPLEN: u32 = 262_144;

/// Global header length of a classic pcap file.
pub(super) const FILE_HEADER: usize = 24;

/// Chunks kept for reuse (handed back by the capture thread once the workers are done).
const SPARE_CHUNKS: usize = 4;

/// Whether this reader reads the records of a file that begins with `head`: the machine's
/// byte order, version 2.4. `Some(nanos)` when it does (nanosecond timestamps or not).
pub(super) fn takes(head: &[u8]) -> Option<bool> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(head.get(at..at + 4)?.try_into().ok()?))
    };
    let half = |at: usize| -> Option<u16> {
        Some(u16::from_ne_bytes(head.get(at..at + 2)?.try_into().ok()?))
    };
    let nanos = match word(0)? {
        0xa1b2_c3d4 => false,
        0xa1b2_3c4d => true,
        _ => return None,
    };
    (half(4)? == 2 && half(6)? == 4).then_some(nanos)
}

/// One record as libpcap would return it.
#[derive(Debug)]
pub(super) struct Record<'a> {
    /// Seconds (signed, as libpcap's `bpf_int32`).
    pub(super) secs: i64,
    /// The fraction in nanoseconds (a microsecond file's scaled by 1,000, unchecked).
    pub(super) nanos: i64,
    /// Length on the wire, as written.
    pub(super) len: u32,
    /// The captured bytes (shortened to the snapshot length).
    pub(super) data: &'a [u8],
    /// The chunk `data` lies in.
    pub(super) chunk: &'a Arc<Vec<u8>>,
}

/// What the next read gave.
#[derive(Debug)]
pub(super) enum Step<'a> {
    Record(Record<'a>),
    /// The file ended between records.
    End,
    /// The file is damaged or cut short here: libpcap's message, and the byte offset its
    /// stream would be at.
    Failed {
        message: String,
        offset: u64,
    },
}

/// Reads the records of a classic pcap file (see the module docs).
pub(super) struct RecordReader<R> {
    src: R,
    nanos: bool,
    /// libpcap's snapshot length for the file (`pcap_snapshot`).
    snapshot: u32,
    /// The chunk being read: file bytes from `base` on, in its first `filled` bytes (the
    /// rest is room for the next read, left from an earlier use of the chunk).
    chunk: Arc<Vec<u8>>,
    filled: usize,
    /// Where the next record starts in `chunk`.
    pos: usize,
    /// File offset of `chunk[0]`.
    base: u64,
    /// The source returned end of file (or failed: `failed`).
    eof: bool,
    failed: Option<String>,
    spare: Vec<Vec<u8>>,
    /// [`CHUNK_BYTES`] (smaller in tests, to cross chunk boundaries often).
    chunk_bytes: usize,
}

impl<R: Read> RecordReader<R> {
    /// A reader of the records from `src`, positioned right after the 24-byte file header.
    pub(super) fn new(src: R, nanos: bool, snapshot: u32) -> Self {
        RecordReader {
            src,
            nanos,
            snapshot,
            chunk: Arc::new(Vec::new()),
            filled: 0,
            pos: 0,
            base: FILE_HEADER as u64,
            eof: false,
            failed: None,
            spare: Vec::new(),
            chunk_bytes: CHUNK_BYTES,
        }
    }

    /// A chunk the workers are done with, for a later read (none once the file has
    /// ended). Its bytes stay as they are: the next read overwrites them, and an
    /// initialised chunk is not zeroed again.
    pub(super) fn recycle(&mut self, chunk: Vec<u8>) {
        if !self.eof && self.spare.len() < SPARE_CHUNKS && chunk.capacity() >= self.chunk_bytes {
            self.spare.push(chunk);
        }
    }

    /// File offset of the next record.
    pub(super) fn record_start(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// The next record. Inlined into `PacketSource::next`, its one caller per packet: left
    /// to the codegen-unit split, it was a call of its own in some builds (1 M more
    /// instructions of the capture thread per 29,000 records).
    #[inline]
    pub(super) fn next(&mut self) -> Step<'_> {
        loop {
            let avail = self.filled - self.pos;
            let mut need = RECORD_HEADER;
            if avail >= RECORD_HEADER {
                let word = |at: usize| {
                    let at = self.pos + at;
                    u32::from_ne_bytes([
                        self.chunk[at],
                        self.chunk[at + 1],
                        self.chunk[at + 2],
                        self.chunk[at + 3],
                    ])
                };
                let caplen = word(8);
                if caplen > MAX_CAPLEN {
                    let message = if caplen > self.snapshot {
                        format!(
                            "invalid packet capture length {caplen}, bigger than snaplen of {}",
                            self.snapshot
                        )
                    } else {
                        format!(
                            "invalid packet capture length {caplen}, bigger than maximum of \
                             {MAX_CAPLEN}"
                        )
                    };
                    let offset = self.record_start() + RECORD_HEADER as u64;
                    self.eof = true;
                    self.chunk = Arc::new(Vec::new());
                    self.filled = 0;
                    self.pos = 0;
                    return Step::Failed { message, offset };
                }
                need = RECORD_HEADER + caplen as usize;
                if avail >= need {
                    // The seconds and fraction are signed 32-bit fields in libpcap.
                    let secs = i64::from(word(0) as i32);
                    let frac = i64::from(word(4) as i32);
                    let len = word(12);
                    let start = self.pos + RECORD_HEADER;
                    let kept = caplen.min(self.snapshot) as usize;
                    self.pos += need;
                    return Step::Record(Record {
                        secs,
                        nanos: if self.nanos {
                            frac
                        } else {
                            frac.wrapping_mul(1000)
                        },
                        len,
                        data: &self.chunk[start..start + kept],
                        chunk: &self.chunk,
                    });
                }
            }
            if !self.eof {
                self.refill(need);
                continue;
            }
            return self.ended(avail);
        }
    }

    /// The end of the file (or a read error) with `avail` bytes of an incomplete record.
    fn ended(&mut self, avail: usize) -> Step<'_> {
        let offset = self.base + self.filled as u64;
        if let Some(message) = self.failed.take() {
            self.release();
            return Step::Failed { message, offset };
        }
        if avail == 0 {
            self.release();
            return Step::End;
        }
        let message = if avail < RECORD_HEADER {
            format!(
                "truncated dump file; tried to read {RECORD_HEADER} header bytes, only got \
                 {avail}"
            )
        } else {
            let at = self.pos + 8;
            let caplen = u32::from_ne_bytes([
                self.chunk[at],
                self.chunk[at + 1],
                self.chunk[at + 2],
                self.chunk[at + 3],
            ]);
            let got = avail - RECORD_HEADER;
            // libpcap reads a record longer than the snapshot length in two steps, and
            // names the length of the step that came up short.
            let tried = if caplen > self.snapshot && got < self.snapshot as usize {
                self.snapshot
            } else {
                caplen
            };
            format!("truncated dump file; tried to read {tried} captured bytes, only got {got}")
        };
        self.release();
        Step::Failed { message, offset }
    }

    /// Nothing more comes from this file: its chunks go (the batches that hold the last
    /// one keep it until they are done).
    fn release(&mut self) {
        self.spare = Vec::new();
        self.chunk = Arc::new(Vec::new());
        self.filled = 0;
        self.pos = 0;
    }

    /// Reads more of the file into a new chunk that begins with the incomplete record at
    /// `pos` (of which `need` bytes are wanted whole): read(2) until the chunk is full or
    /// the file ends (a file that grows later is not read again, as with libpcap).
    fn refill(&mut self, need: usize) {
        let size = self.chunk_bytes.max(need);
        let mut next = match self.spare.pop() {
            Some(v) if v.capacity() >= size => v,
            // Zeroed by the allocator (fresh pages), once: reads need initialised bytes.
            _ => vec![0; size],
        };
        if next.len() < size {
            next.resize(size, 0);
        }
        let rest = self.filled - self.pos;
        next[..rest].copy_from_slice(&self.chunk[self.pos..self.filled]);
        self.base += self.pos as u64;
        let mut filled = rest;
        while filled < next.len() {
            match self.src.read(&mut next[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled = (filled + n).min(next.len()),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.eof = true;
                    self.failed = Some(read_error_message(&e));
                    break;
                }
            }
        }
        let old = std::mem::replace(&mut self.chunk, Arc::new(next));
        self.filled = filled;
        self.pos = 0;
        // A chunk no batch took is reused at once.
        if let Some(v) = Arc::into_inner(old) {
            self.recycle(v);
        }
    }
}

/// libpcap's words for a failed read ("error reading dump file: " and strerror).
fn read_error_message(e: &std::io::Error) -> String {
    let reason = match e.raw_os_error() {
        // SAFETY: strerror returns a valid C string (static or thread-local storage).
        Some(code) => unsafe { std::ffi::CStr::from_ptr(libc::strerror(code)) }
            .to_string_lossy()
            .into_owned(),
        None => e.to_string(),
    };
    format!("error reading dump file: {reason}")
}

#[cfg(test)]
pub(super) mod tests;
