//! The key log line parser: bytes in, [`Entry`]s and a [`ParseReport`] out.
//!
//! Streaming: [`Parser::push`] takes bytes in any chunking and parses only complete lines
//! (a live key log may be caught half-written; Wireshark's `fgets` loses such a line, we
//! keep it until its `\n` arrives). [`Parser::finish`] parses a last line without a newline,
//! which is right for a file read whole (fluxzy.core PR #337: a missing final newline made
//! Wireshark drop the last TLS 1.3 secret) and wrong while following a growing file.
//!
//! Accepted, as Wireshark (`tls_keylog_process_lines`) and RFC 9850 §3: a UTF-8 BOM at the
//! start, `\n` or `\r\n` line ends, `#` comments, blank lines, fields separated by runs of
//! spaces or tabs, hex in either case. The input is bytes, never assumed UTF-8 (scapy #3936:
//! a non-UTF-8 secrets block crashed its loader). A UTF-16 file (Windows shell
//! redirection) is detected from its first two bytes and reported once as
//! [`LineProblem::Utf16`]; its lines are then ignored rather than counted as garbage.
//!
//! What it does not do: decide what an entry is for (the store and the TLS layer do), or
//! accept Zeek's 28-byte randoms (they lack the first 4 bytes of the ClientHello random;
//! reported as their own problem so the user knows to convert them).
//!
//! Invariants: never fails, never panics; a line costs at most [`MAX_KEYLOG_LINE`] bytes of
//! buffer; an unusable line is counted by kind with the number of the first such line,
//! never with its text (it may hold a secret); buffered text is zeroized before release.
//! The entries and the report do not depend on how the input was chunked.

use std::fmt;
use std::io::{self, Read};

use zeroize::{Zeroize, Zeroizing};

use super::{Entry, Label, Secret};

/// Longest line kept, newline excluded (8 KiB). The longest real line is about 240 bytes
/// (`CLIENT_HANDSHAKE_TRAFFIC_SECRET`, a 64-hex random and a 96-hex secret); an
/// `ECH_CONFIG` line carries an ECHConfig of a few hundred bytes. Longer: `line-too-long`.
pub const MAX_KEYLOG_LINE: usize = 8192;

/// Largest secret of a label whose length the format does not fix (`ECH_CONFIG`,
/// `PMS_CLIENT_RANDOM`: a finite-field DH premaster is up to 1024 bytes, RFC 7919).
pub const MAX_KEYLOG_SECRET_BYTES: usize = 2048;

/// Why a line was not used. Each has a stable kebab-case [`name`](LineProblem::name) for
/// logs and counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LineProblem {
    /// The first field is no label of RFC 9850 (nor `RSA`/`PMS_CLIENT_RANDOM`); includes
    /// QUIC draft labels and lower-case labels.
    UnknownLabel,
    /// Fewer than three fields.
    MissingField,
    /// More than three fields.
    ExtraField,
    /// A random or secret with an odd number of digits or a non-hex character.
    BadHex,
    /// A 28-byte random: Zeek's `ssl.log` form (the random without its first 4 bytes,
    /// `gmt_unix_time`). Convert it to the full 32-byte ClientHello random.
    ZeekRandom,
    /// A random of neither 32 nor 28 bytes.
    BadRandomLength,
    /// A secret of a length its label cannot have ([`Label::secret_len_ok`]).
    BadSecretLength,
    /// A line longer than [`MAX_KEYLOG_LINE`].
    LineTooLong,
    /// The file is UTF-16 (it starts with `FF FE` or `FE FF`, or with an ASCII character
    /// and a zero byte): counted once, the rest of the file ignored. Re-save it as UTF-8
    /// or ASCII.
    Utf16,
}

impl LineProblem {
    pub const COUNT: usize = 9;

    pub const ALL: [LineProblem; LineProblem::COUNT] = [
        LineProblem::UnknownLabel,
        LineProblem::MissingField,
        LineProblem::ExtraField,
        LineProblem::BadHex,
        LineProblem::ZeekRandom,
        LineProblem::BadRandomLength,
        LineProblem::BadSecretLength,
        LineProblem::LineTooLong,
        LineProblem::Utf16,
    ];

    /// Stable name, for logs and counters.
    pub fn name(self) -> &'static str {
        match self {
            LineProblem::UnknownLabel => "unknown-label",
            LineProblem::MissingField => "missing-field",
            LineProblem::ExtraField => "extra-field",
            LineProblem::BadHex => "bad-hex",
            LineProblem::ZeekRandom => "zeek-28-byte-random",
            LineProblem::BadRandomLength => "bad-random-length",
            LineProblem::BadSecretLength => "bad-secret-length",
            LineProblem::LineTooLong => "line-too-long",
            LineProblem::Utf16 => "utf-16",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a parser saw: counts only, and line numbers (1-based, per source; restarted when a
/// followed file is reopened). Never any line text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParseReport {
    /// Lines ended (blank lines and comments included).
    pub lines: u64,
    /// Entries emitted (every label keyed by a client random, used or not).
    pub entries: u64,
    /// Well-formed lines whose label decryption does not use (exporter, ECH, `RSA`,
    /// `PMS_CLIENT_RANDOM`); `RSA` lines among them are not emitted as entries.
    pub unused_labels: u64,
    /// Well-formed lines per label, indexed by [`Label::index`].
    pub per_label: [u64; Label::COUNT],
    problems: [u64; LineProblem::COUNT],
    first_line: [u64; LineProblem::COUNT],
}

impl ParseReport {
    /// Lines with this problem.
    pub fn count(&self, p: LineProblem) -> u64 {
        self.problems[p.index()]
    }

    /// The number of the first line with this problem.
    pub fn first_line(&self, p: LineProblem) -> Option<u64> {
        Some(self.first_line[p.index()]).filter(|&n| n != 0)
    }

    /// All unusable lines.
    pub fn total_problems(&self) -> u64 {
        self.problems.iter().sum()
    }

    /// Each problem seen: (problem, count, first line).
    pub fn problems(&self) -> impl Iterator<Item = (LineProblem, u64, u64)> + '_ {
        LineProblem::ALL
            .iter()
            .map(|&p| (p, self.count(p), self.first_line[p.index()]))
            .filter(|&(_, n, _)| n > 0)
    }

    fn note(&mut self, p: LineProblem, line: u64) {
        let i = p.index();
        self.problems[i] = self.problems[i].saturating_add(1);
        if self.first_line[i] == 0 {
            self.first_line[i] = line;
        }
    }
}

/// One line for the log: `5 entries (CLIENT_RANDOM 5), 1 unused; problems: bad-hex 2
/// (first at line 4)`.
impl fmt::Display for ParseReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} entries", self.entries)?;
        let mut sep = " (";
        for l in Label::ALL {
            let n = self.per_label[l.index()];
            if n > 0 {
                write!(f, "{sep}{l} {n}")?;
                sep = ", ";
            }
        }
        if sep == ", " {
            f.write_str(")")?;
        }
        write!(f, ", {} unused", self.unused_labels)?;
        let mut sep = "; problems: ";
        for (p, n, first) in self.problems() {
            write!(f, "{sep}{p} {n} (first at line {first})")?;
            sep = ", ";
        }
        Ok(())
    }
}

/// The streaming parser of one source (a file, a followed file since its last reopen, or
/// one Decryption Secrets Block).
#[derive(Default)]
pub struct Parser {
    /// The incomplete line so far (at most `MAX_KEYLOG_LINE` bytes).
    buf: Zeroizing<Vec<u8>>,
    /// Lines ended so far.
    line_no: u64,
    /// The first two bytes of the source, for the UTF-16 check.
    head: [u8; 2],
    head_len: usize,
    /// UTF-16 detected: everything else is ignored.
    utf16: bool,
    /// The current line passed `MAX_KEYLOG_LINE`: its bytes are dropped until `\n`.
    overlong: bool,
}

impl Parser {
    pub fn new() -> Self {
        Parser::default()
    }

    /// Starts a new source (a reopened file): the partial line is dropped, line numbers
    /// and the encoding check start over.
    pub fn reset(&mut self) {
        self.buf.zeroize();
        *self = Parser {
            buf: std::mem::take(&mut self.buf),
            ..Parser::default()
        };
    }

    /// Bytes of an incomplete line held.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Parses every line `bytes` completes; keeps the rest for the next call.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<Entry>, report: &mut ParseReport) {
        if self.utf16 {
            return;
        }
        if self.head_len < 2 {
            let take = bytes.len().min(2 - self.head_len);
            self.head[self.head_len..self.head_len + take].copy_from_slice(&bytes[..take]);
            self.head_len += take;
            if self.head_len == 2 && is_utf16(self.head) {
                self.utf16 = true;
                self.buf.zeroize();
                report.note(LineProblem::Utf16, 1);
                return;
            }
        }
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            let (piece, rest) = bytes.split_at(i);
            bytes = rest.get(1..).unwrap_or_default();
            if self.buf.is_empty() && !self.overlong {
                self.line(piece, out, report);
            } else {
                self.append(piece);
                let line = std::mem::take(&mut self.buf);
                self.line(&line, out, report);
                self.buf = line;
                self.buf.zeroize();
            }
        }
        self.append(bytes);
    }

    /// End of the source: parses a last line that has no newline.
    pub fn finish(&mut self, out: &mut Vec<Entry>, report: &mut ParseReport) {
        if self.utf16 || (self.buf.is_empty() && !self.overlong) {
            return;
        }
        let line = std::mem::take(&mut self.buf);
        self.line(&line, out, report);
        self.buf = line;
        self.buf.zeroize();
    }

    /// Reads `r` to its end, then [`finish`](Parser::finish)es.
    pub fn read_all<R: Read>(
        &mut self,
        mut r: R,
        out: &mut Vec<Entry>,
        report: &mut ParseReport,
    ) -> io::Result<()> {
        let mut chunk = Zeroizing::new(vec![0u8; 64 * 1024]);
        loop {
            let n = match r.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            self.push(chunk.get(..n).unwrap_or_default(), out, report);
        }
        self.finish(out, report);
        Ok(())
    }

    fn append(&mut self, piece: &[u8]) {
        if self.overlong || piece.is_empty() {
            return;
        }
        if self.buf.len().saturating_add(piece.len()) > MAX_KEYLOG_LINE {
            self.overlong = true;
            self.buf.zeroize();
        } else {
            self.buf.extend_from_slice(piece);
        }
    }

    /// One complete line (without its `\n`).
    fn line(&mut self, raw: &[u8], out: &mut Vec<Entry>, report: &mut ParseReport) {
        self.line_no = self.line_no.saturating_add(1);
        report.lines = report.lines.saturating_add(1);
        if std::mem::take(&mut self.overlong) || raw.len() > MAX_KEYLOG_LINE {
            report.note(LineProblem::LineTooLong, self.line_no);
            return;
        }
        let mut l = raw;
        if self.line_no == 1 {
            l = l.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(l);
        }
        let l = l.trim_ascii();
        if l.is_empty() || l.first() == Some(&b'#') {
            return;
        }
        match parse_line(l) {
            Ok(parsed) => {
                let label = match &parsed {
                    Parsed::Entry(e) => e.label,
                    Parsed::Rsa => Label::Rsa,
                };
                let n = &mut report.per_label[label.index()];
                *n = n.saturating_add(1);
                if !label.is_used() {
                    report.unused_labels = report.unused_labels.saturating_add(1);
                }
                if let Parsed::Entry(e) = parsed {
                    report.entries = report.entries.saturating_add(1);
                    out.push(e);
                }
            }
            Err(p) => report.note(p, self.line_no),
        }
    }
}

/// `FF FE`/`FE FF` (the UTF-16 byte order marks), or a zero byte next to a printable
/// ASCII one (UTF-16 without a mark; a key log starts with a letter).
fn is_utf16(head: [u8; 2]) -> bool {
    matches!(head, [0xFF, 0xFE] | [0xFE, 0xFF])
        || (head[0] == 0 && head[1].is_ascii_graphic())
        || (head[1] == 0 && head[0].is_ascii_graphic())
}

enum Parsed {
    Entry(Entry),
    /// An `RSA` line: keyed by the encrypted premaster or a session id, not stored.
    Rsa,
}

/// A trimmed, non-comment line: `LABEL random secret`.
fn parse_line(l: &[u8]) -> Result<Parsed, LineProblem> {
    let mut fields = l
        .split(|&b| b == b' ' || b == b'\t')
        .filter(|f| !f.is_empty());
    let label = fields.next().ok_or(LineProblem::MissingField)?;
    let label = Label::from_name(label).ok_or(LineProblem::UnknownLabel)?;
    let random = fields.next().ok_or(LineProblem::MissingField)?;
    let secret = fields.next().ok_or(LineProblem::MissingField)?;
    if fields.next().is_some() {
        return Err(LineProblem::ExtraField);
    }
    if label == Label::Rsa {
        return Ok(Parsed::Rsa);
    }
    if !is_hex(random) || !is_hex(secret) {
        return Err(LineProblem::BadHex);
    }
    let client_random: [u8; 32] = match random.len() / 2 {
        32 => {
            let mut r = [0u8; 32];
            decode_hex(random, &mut r);
            r
        }
        28 => return Err(LineProblem::ZeekRandom),
        _ => return Err(LineProblem::BadRandomLength),
    };
    let len = secret.len() / 2;
    if !label.secret_len_ok(len) {
        return Err(LineProblem::BadSecretLength);
    }
    let mut bytes = vec![0u8; len];
    decode_hex(secret, &mut bytes);
    Ok(Parsed::Entry(Entry {
        label,
        client_random,
        secret: Secret::new(bytes),
    }))
}

/// Non-empty, even length, hex digits only.
fn is_hex(s: &[u8]) -> bool {
    !s.is_empty() && s.len() % 2 == 0 && s.iter().all(u8::is_ascii_hexdigit)
}

/// Decodes checked hex (`is_hex`) into `out` (`s.len() / 2` bytes).
fn decode_hex(s: &[u8], out: &mut [u8]) {
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = (nibble(pair[0]) << 4) | nibble(pair[1]);
    }
}

fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
