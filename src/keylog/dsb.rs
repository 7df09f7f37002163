//! Key logs embedded in pcapng files: Decryption Secrets Blocks (pcapng draft
//! `draft-ietf-opsawg-pcapng` §4.7, written by `editcap --inject-secrets tls,KEYS`).
//!
//! File reading goes through libpcap, which does not hand DSBs to its caller, so a pcapng
//! file is walked once for them before the capture starts (research notes §2.3). The walk
//! reads block headers and skips every block but DSBs; each Section Header Block sets the
//! byte order of the blocks after it (its byte-order magic), so a file of several sections
//! in either order is read whole. Secrets of type `TLSK` (0x544c534b) are returned as key
//! log texts, for [`Parser`]; other types (WireGuard, ZigBee, ...) are counted.
//!
//! What it does not do: read stdin (it cannot be read twice), apply a DSB only to the
//! packets after it (every secret is known before the first packet), or parse options.
//!
//! Invariants: a file whose first four bytes are not an SHB's gives an empty scan; a block
//! whose length is impossible, whose trailing length differs, or which the file cuts short
//! ends the walk with `corrupt` set and what was found before it; memory is bounded by
//! [`MAX_DSB_SECRETS_BYTES`] in all (blocks of other kinds are skipped by streaming, never
//! held); no input panics.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use zeroize::Zeroizing;

use super::parse::{ParseReport, Parser};
use super::Entry;

/// Most secrets text kept from one file (64 MiB, some 300,000 TLS sessions). A DSB that
/// would pass it is skipped and counted in [`DsbScan::over_limit`].
pub const MAX_DSB_SECRETS_BYTES: usize = 64 << 20;

/// Secrets type of a TLS key log (`TLSK`).
pub const SECRETS_TYPE_TLS: u32 = 0x544c_534b;

const BLOCK_SHB: u32 = 0x0A0D_0D0A;
const BLOCK_DSB: u32 = 0x0000_000A;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

/// What the walk found.
#[derive(Default, Clone)]
pub struct DsbScan {
    /// The key log text of each TLS DSB, in file order (zeroized when dropped).
    pub texts: Vec<Zeroizing<Vec<u8>>>,
    /// The walk stopped at a broken or cut-short block.
    pub corrupt: bool,
    /// Section Header Blocks seen.
    pub sections: u64,
    /// Complete blocks walked.
    pub blocks: u64,
    /// DSBs of another secrets type, ignored.
    pub other_secrets: u64,
    /// TLS DSBs skipped because they would pass `MAX_DSB_SECRETS_BYTES`.
    pub over_limit: u64,
}

/// Counts and sizes only: the texts are secrets.
impl fmt::Debug for DsbScan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DsbScan")
            .field(
                "texts",
                &self.texts.iter().map(|t| t.len()).collect::<Vec<_>>(),
            )
            .field("corrupt", &self.corrupt)
            .field("sections", &self.sections)
            .field("blocks", &self.blocks)
            .field("other_secrets", &self.other_secrets)
            .field("over_limit", &self.over_limit)
            .finish()
    }
}

impl DsbScan {
    /// Parses every text (each on its own, a last line without newline included).
    pub fn parse(&self, out: &mut Vec<Entry>, report: &mut ParseReport) {
        for t in &self.texts {
            let mut p = Parser::new();
            p.push(t, out, report);
            p.finish(out, report);
        }
    }
}

/// The DSBs of the file at `path` (opened read-only). Errors are the file's I/O errors;
/// a file that is not pcapng, or is corrupt, is not an error.
pub fn read_pcapng_secrets(path: &Path) -> io::Result<DsbScan> {
    // Regular files only: a FIFO, `/dev/stdin` or `<(...)` can be read once, and that read
    // is the capture's (a pcapng stream would be read to its end here, then libpcap would
    // wait for a writer that is gone). Checked before opening: opening a FIFO blocks, and
    // closing it unread can kill its writer with SIGPIPE.
    if !std::fs::metadata(path)?.is_file() {
        return Ok(DsbScan::default());
    }
    scan_pcapng_secrets(BufReader::with_capacity(256 * 1024, File::open(path)?))
}

/// [`read_pcapng_secrets`] over any reader (tests, fuzzing).
pub fn scan_pcapng_secrets<R: Read>(r: R) -> io::Result<DsbScan> {
    scan_limited(r, MAX_DSB_SECRETS_BYTES)
}

fn scan_limited<R: Read>(mut r: R, limit: usize) -> io::Result<DsbScan> {
    let mut scan = DsbScan::default();
    let mut kept = 0usize;
    let mut le = true;
    let mut hdr = [0u8; 8];
    loop {
        let n = read_full(&mut r, &mut hdr)?;
        let first = scan.blocks == 0 && scan.sections == 0;
        if n == 0 {
            break;
        }
        let is_shb = hdr[..4] == BLOCK_SHB.to_le_bytes();
        if first && (!is_shb || n < 8) {
            // Not pcapng (a classic pcap, or too short to be anything).
            return Ok(scan);
        }
        if n < 8 {
            scan.corrupt = true;
            break;
        }
        // Bytes of the block consumed so far (type, length, and an SHB's magic).
        let mut consumed = 8u64;
        if is_shb {
            let mut magic = [0u8; 4];
            if read_full(&mut r, &mut magic)? < 4 {
                scan.corrupt = true;
                break;
            }
            le = if magic == BYTE_ORDER_MAGIC.to_le_bytes() {
                true
            } else if magic == BYTE_ORDER_MAGIC.to_be_bytes() {
                false
            } else {
                scan.corrupt = true;
                break;
            };
            scan.sections += 1;
            consumed = 12;
        }
        let kind = u32_of(&hdr[..4], le);
        let len = u64::from(u32_of(&hdr[4..8], le));
        // Type, length, body, trailing length: a multiple of 4 (§3.1).
        if len % 4 != 0 || len < consumed + 4 {
            scan.corrupt = true;
            break;
        }
        let body_len = len - consumed - 4;
        let body = if kind == BLOCK_DSB && !is_shb {
            read_dsb(&mut r, body_len, le, limit.saturating_sub(kept))?
        } else if skip(&mut r, body_len)? {
            Dsb::Skipped
        } else {
            Dsb::Broken
        };
        let mut trailer = [0u8; 4];
        if matches!(body, Dsb::Broken)
            || read_full(&mut r, &mut trailer)? < 4
            || u64::from(u32_of(&trailer, le)) != len
        {
            scan.corrupt = true;
            break;
        }
        match body {
            Dsb::Text(text) => {
                kept += text.len();
                scan.texts.push(text);
            }
            Dsb::OtherType => scan.other_secrets += 1,
            Dsb::OverLimit => scan.over_limit += 1,
            Dsb::Skipped | Dsb::Broken => {}
        }
        scan.blocks += 1;
    }
    Ok(scan)
}

/// What a block's body gave.
enum Dsb {
    /// The TLS key log text of a DSB.
    Text(Zeroizing<Vec<u8>>),
    OtherType,
    OverLimit,
    /// Not a DSB.
    Skipped,
    /// Cut short or inconsistent.
    Broken,
}

/// A DSB's body: `secrets_type`, `secrets_len`, the secrets padded to 4, options. Texts
/// longer than `room` are skipped.
fn read_dsb<R: Read>(r: &mut R, body_len: u64, le: bool, room: usize) -> io::Result<Dsb> {
    let mut head = [0u8; 8];
    if body_len < 8 || read_full(r, &mut head)? < 8 {
        return Ok(Dsb::Broken);
    }
    let rest = body_len - 8;
    let kind = u32_of(&head[..4], le);
    let secrets_len = u64::from(u32_of(&head[4..], le));
    if secrets_len > rest {
        return Ok(Dsb::Broken);
    }
    let fits = usize::try_from(secrets_len).ok().filter(|&n| n <= room);
    let found = match fits {
        _ if kind != SECRETS_TYPE_TLS => Dsb::OtherType,
        None => Dsb::OverLimit,
        Some(n) => {
            // Allocated once at its final size: growing would leave copies behind.
            let mut text = Zeroizing::new(vec![0u8; n]);
            if read_full(r, &mut text)? < n {
                return Ok(Dsb::Broken);
            }
            return Ok(if skip(r, rest - secrets_len)? {
                Dsb::Text(text)
            } else {
                Dsb::Broken
            });
        }
    };
    Ok(if skip(r, rest)? { found } else { Dsb::Broken })
}

fn u32_of(b: &[u8], le: bool) -> u32 {
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    if le {
        u32::from_le_bytes(a)
    } else {
        u32::from_be_bytes(a)
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..).filter(|b| !b.is_empty()) {
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Skips `n` bytes; false when the input ends first.
fn skip<R: Read>(r: &mut R, n: u64) -> io::Result<bool> {
    Ok(io::copy(&mut r.by_ref().take(n), &mut io::sink())? == n)
}

#[cfg(test)]
#[path = "dsb_tests.rs"]
mod tests;
