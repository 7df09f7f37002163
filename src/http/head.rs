//! Message heads: recognising a start line byte by byte (also used to resynchronise after a
//! gap), finding the end of a head incrementally, normalising what httparse rejects (bare
//! LF, obs-fold) and parsing with httparse, and reading the framing headers.
//!
//! Invariants: every function here is linear in its input; a head is parsed once, when
//! its end has been found; nothing here allocates more than the head it was given.

use compact_str::CompactString;

use crate::model::{Anomaly, Header, HttpVersion};
use crate::reassembly::Role;

/// Longest method token accepted by the start-line matcher (the longest registered method,
/// `UPDATEREDIRECTREF`, has 17 characters).
const MAX_METHOD_LEN: usize = 32;

/// What the start-line matcher decided after a byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Match {
    NeedMore,
    /// A start line (requests: the whole line; responses: `HTTP/1.x DDD` and one more byte).
    Accept,
    /// A request line without a version (`GET /path`): HTTP/0.9. Any method matches here;
    /// [`StartMatcher::is_get`] tells whether it was `GET`, the only HTTP/0.9 method.
    Accept09,
    Fail,
}

/// Recognises the start of a message one byte at a time, so that candidate starts can be
/// checked across segment boundaries without buffering or rescanning:
/// requests `token SP target SP HTTP/1.[01] CRLF`, responses `HTTP/1.[01] SP DDD`.
#[derive(Clone, Debug)]
pub(crate) struct StartMatcher {
    request: bool,
    state: u8,
    n: usize,
    /// The method is exactly `GET` (the only HTTP/0.9 method).
    get: bool,
}

const VERSION_PREFIX: &[u8] = b"HTTP/1.";

impl StartMatcher {
    pub fn new(request: bool) -> Self {
        StartMatcher {
            request,
            state: 0,
            n: 0,
            get: true,
        }
    }

    pub fn reset(&mut self) {
        *self = StartMatcher::new(self.request);
    }

    /// While `NeedMore`: the bytes fed so far are a start line's beginning long enough to
    /// tell which end sent it: a request's method and the space after it, a response's
    /// `HTTP/1.`.
    fn tells_role(&self) -> bool {
        // Both machines start in state 0: the method, or the `HTTP/1.` prefix.
        self.state != 0
    }

    /// After `Accept09`: the method was exactly `GET`.
    pub fn is_get(&self) -> bool {
        self.get
    }

    /// Feeds the next byte of the candidate.
    pub fn feed(&mut self, b: u8) -> Match {
        if self.request {
            self.feed_request(b)
        } else {
            self.feed_response(b)
        }
    }

    fn feed_request(&mut self, b: u8) -> Match {
        const METHOD: u8 = 0;
        const TARGET_FIRST: u8 = 1;
        const TARGET: u8 = 2;
        const VERSION: u8 = 3;
        const AFTER_VERSION: u8 = 4;
        const CR: u8 = 5;
        const CR09: u8 = 6;
        match self.state {
            METHOD => {
                if is_tchar(b) && self.n < MAX_METHOD_LEN {
                    self.get &= self.n < 3 && b"GET".get(self.n) == Some(&b);
                    self.n += 1;
                    Match::NeedMore
                } else if b == b' ' && self.n > 0 {
                    self.get &= self.n == 3;
                    self.state = TARGET_FIRST;
                    Match::NeedMore
                } else {
                    Match::Fail
                }
            }
            TARGET_FIRST => {
                if b > b' ' && b != 0x7f {
                    self.state = TARGET;
                    Match::NeedMore
                } else {
                    Match::Fail
                }
            }
            TARGET => match b {
                b' ' => {
                    self.state = VERSION;
                    self.n = 0;
                    Match::NeedMore
                }
                b'\r' => {
                    self.state = CR09;
                    Match::NeedMore
                }
                b'\n' => Match::Accept09,
                _ if b > b' ' && b != 0x7f => Match::NeedMore,
                _ => Match::Fail,
            },
            VERSION => {
                if self.n < VERSION_PREFIX.len() {
                    if VERSION_PREFIX.get(self.n) == Some(&b) {
                        self.n += 1;
                        Match::NeedMore
                    } else {
                        Match::Fail
                    }
                } else if b == b'0' || b == b'1' {
                    self.state = AFTER_VERSION;
                    Match::NeedMore
                } else {
                    Match::Fail
                }
            }
            AFTER_VERSION => match b {
                b'\r' => {
                    self.state = CR;
                    Match::NeedMore
                }
                b'\n' => Match::Accept,
                _ => Match::Fail,
            },
            CR => {
                if b == b'\n' {
                    Match::Accept
                } else {
                    Match::Fail
                }
            }
            CR09 => {
                if b == b'\n' {
                    Match::Accept09
                } else {
                    Match::Fail
                }
            }
            _ => Match::Fail,
        }
    }

    fn feed_response(&mut self, b: u8) -> Match {
        const PREFIX: u8 = 0;
        const MINOR: u8 = 1;
        const SPACE: u8 = 2;
        const STATUS: u8 = 3;
        const END: u8 = 4;
        match self.state {
            PREFIX => {
                if VERSION_PREFIX.get(self.n) == Some(&b) {
                    self.n += 1;
                    if self.n == VERSION_PREFIX.len() {
                        self.state = MINOR;
                    }
                    Match::NeedMore
                } else {
                    Match::Fail
                }
            }
            MINOR if b == b'0' || b == b'1' => {
                self.state = SPACE;
                self.n = 0;
                Match::NeedMore
            }
            // One or more spaces (lenient, RFC 9112 §4 allows recipients to).
            SPACE if b == b' ' => {
                self.n += 1;
                Match::NeedMore
            }
            SPACE if self.n > 0 && self.n <= 8 && b.is_ascii_digit() => {
                self.state = STATUS;
                self.n = 1;
                Match::NeedMore
            }
            STATUS if b.is_ascii_digit() => {
                self.n += 1;
                if self.n == 3 {
                    self.state = END;
                }
                Match::NeedMore
            }
            END if matches!(b, b' ' | b'\r' | b'\n' | b'\t') => Match::Accept,
            _ => Match::Fail,
        }
    }
}

/// Which end of a connection sent `payload`, the first payload captured of a connection
/// whose handshake was not seen, if it looks like HTTP/1.x (the contract of
/// `reassembly::HandlerFactory::probe_role`):
/// - `Some(Role::Client)`: it begins with a request line as [`StartMatcher`] accepts one
///   (`token SP target SP HTTP/1.[01] CRLF`, or HTTP/0.9's `token SP target CRLF`), or
///   with a beginning of one that goes at least past the method and its space (a segment
///   may end anywhere in the line);
/// - `Some(Role::Server)`: likewise a status line (`HTTP/1.[01] SP DDD`), at least its
///   `HTTP/1.`;
/// - `None`: anything else, including an empty payload and HTTP/2's preface (a protocol
///   detector recognises that one itself).
///
/// This is the one request-line rule: the parser resynchronises with the same matcher.
/// It reads up to the end of the start line, or of the payload if that comes first.
pub fn probe_role(payload: &[u8]) -> Option<Role> {
    if begins_message(true, payload) {
        Some(Role::Client)
    } else if begins_message(false, payload) {
        Some(Role::Server)
    } else {
        None
    }
}

/// `payload` begins with a request (or response) start line, or with enough of one to
/// tell (`StartMatcher::tells_role`).
fn begins_message(request: bool, payload: &[u8]) -> bool {
    let mut m = StartMatcher::new(request);
    for &b in payload {
        match m.feed(b) {
            Match::NeedMore => {}
            Match::Accept | Match::Accept09 => return true,
            Match::Fail => return false,
        }
    }
    m.tells_role()
}

/// RFC 9110 §5.6.2 token characters.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Finds the end of a head incrementally: the empty line (`CRLF CRLF` or bare `LF LF`).
/// Each byte is looked at once, however the head is split. On the way it notes the head's
/// shape (`shape`), so that parsing the complete head does not look for its lines again.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeadScanner {
    /// 0: at a line start; 1: the line so far is a lone CR; 2: inside a line.
    state: u8,
    /// The first byte of the line being read, when an earlier call saw it.
    first: u8,
    /// The last byte scanned was a CR.
    after_cr: bool,
    /// The shape of the lines ended so far.
    shape: HeadShape,
}

impl HeadScanner {
    /// Scans `data`, the bytes that follow those already scanned. Returns the number of
    /// bytes of `data` that complete the head, if its end is in `data`.
    pub fn scan(&mut self, data: &[u8]) -> Option<usize> {
        // From LF to LF with memchr: a byte-at-a-time state machine over every head byte
        // was 3.5% of a statistics-only worker's instructions.
        let mut start = 0;
        for lf in memchr::memchr_iter(b'\n', data) {
            // The line before this LF: `data[start..lf]`, after what `state` says of the
            // part in earlier calls (only the first line has one).
            let line = data.get(start..lf).unwrap_or_default();
            let empty = match line {
                [] => self.state != 2,
                [b'\r'] => self.state == 0,
                _ => false,
            };
            let cr_before = match lf.checked_sub(1) {
                Some(i) => data.get(i) == Some(&b'\r'),
                None => self.after_cr,
            };
            let first = if start == 0 && self.state != 0 {
                Some(self.first)
            } else {
                line.first().copied()
            };
            self.shape.line_ended(empty, cr_before, first);
            self.state = 0;
            if empty {
                return Some(lf + 1);
            }
            start = lf + 1;
        }
        let rest = data.get(start..).unwrap_or_default();
        if let (0, Some(&b)) = (self.state, rest.first()) {
            self.first = b;
        }
        self.state = match rest {
            [] => self.state,
            [b'\r'] if self.state == 0 => 1,
            _ => 2,
        };
        if let Some(&b) = data.last() {
            self.after_cr = b == b'\r';
        }
        None
    }

    /// The shape of the head scanned, when its end was found: `HeadShape::of` of the
    /// bytes given to `scan` since the scanner was made.
    pub(crate) fn shape(&self) -> HeadShape {
        self.shape
    }
}

/// A head parsed into owned values.
#[derive(Clone, Debug, Default)]
pub(crate) struct ParsedHead {
    pub method: String,
    pub target: String,
    pub status: u16,
    pub reason: String,
    pub version: Option<HttpVersion>,
    pub headers: Vec<Header>,
    pub anomalies: Vec<Anomaly>,
    /// More header fields than `max_headers`: only the first ones were parsed.
    pub too_many_headers: bool,
}

/// What one pass over a head's line ends finds (`HeadShape::of`, or `HeadScanner` on its
/// way to the head's end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeadShape {
    /// An LF not preceded by CR.
    bare_lf: bool,
    /// A field line continued (obs-fold: a line after the start line beginning with SP or
    /// HTAB, before the empty line).
    fold: bool,
    /// Field lines before the empty line (u32: a head is at most `max_head_bytes`, and
    /// the scanner is part of every connection's charged size).
    fields: u32,
    /// LFs in the whole head.
    lfs: u32,
    /// The empty line was seen: later lines are not field lines.
    ended: bool,
}

impl HeadShape {
    /// One memchr pass over the LFs (a byte-by-byte split for each question was 4% of a
    /// worker's time).
    fn of(raw: &[u8]) -> HeadShape {
        let mut shape = HeadShape::default();
        let mut start = 0;
        for i in memchr::memchr_iter(b'\n', raw) {
            let line = raw.get(start..i).unwrap_or_default();
            let cr_before = i > 0 && raw.get(i - 1) == Some(&b'\r');
            shape.line_ended(
                line.is_empty() || line == b"\r",
                cr_before,
                line.first().copied(),
            );
            start = i + 1;
        }
        // A last line without its LF (a head cut short) is a field line too.
        let rest = raw.get(start..).unwrap_or_default();
        if shape.lfs > 0 && !shape.ended && !rest.is_empty() && rest != b"\r" {
            shape.field_line(rest.first().copied());
        }
        shape
    }

    /// Takes a line ended by an LF: `empty` (nothing or a lone CR before the LF),
    /// `cr_before` (a CR just before the LF), `first` (its first byte).
    fn line_ended(&mut self, empty: bool, cr_before: bool, first: Option<u8>) {
        let start_line = self.lfs == 0;
        self.lfs = self.lfs.saturating_add(1);
        if !cr_before {
            self.bare_lf = true;
        }
        if start_line || self.ended {
            return;
        }
        if empty {
            self.ended = true;
        } else {
            self.field_line(first);
        }
    }

    /// Takes a non-empty line after the start line, before the empty one, by its first
    /// byte: an obs-fold continuation or a field line.
    fn field_line(&mut self, first: Option<u8>) {
        if matches!(first, Some(b' ' | b'\t')) {
            self.fold = true;
        } else {
            self.fields = self.fields.saturating_add(1);
        }
    }
}

/// Rewrites a head so httparse takes it: every line ends with CRLF (bare LF accepted,
/// RFC 9112 §2.2) and obs-fold continuation lines are joined to the previous line with a
/// space (RFC 9112 §5.2). Keeps at most `max_fields` field lines. `shape` is `raw`'s.
/// Returns None when the head needs no rewriting, and whether it has more field lines
/// than `max_fields`.
fn normalize(
    raw: &[u8],
    shape: HeadShape,
    max_fields: usize,
    anomalies: &mut Vec<Anomaly>,
) -> (Option<Vec<u8>>, bool) {
    let HeadShape {
        bare_lf,
        fold,
        fields,
        ..
    } = shape;
    if bare_lf {
        anomalies.push(Anomaly::BareLf);
    }
    if fold {
        anomalies.push(Anomaly::ObsFold);
    }
    let too_many = fields as usize > max_fields;
    if !bare_lf && !fold && !too_many {
        return (None, false);
    }
    let mut out: Vec<u8> = Vec::with_capacity(raw.len() + 16);
    let mut kept = 0usize;
    for (i, line) in raw.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if i == 0 {
            out.extend_from_slice(line);
            continue;
        }
        if line.is_empty() {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            // obs-fold: joined to the previous field line with one space; whitespace
            // between the start line and the first field is dropped (RFC 9112 §2.2).
            if kept > 0 && kept <= max_fields {
                while matches!(out.last(), Some(b' ' | b'\t')) {
                    out.pop();
                }
                out.push(b' ');
                out.extend_from_slice(trim_start(line));
            }
            continue;
        }
        kept += 1;
        if kept > max_fields {
            continue;
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b"\r\n\r\n");
    (Some(out), too_many)
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|&&c| c == b' ' || c == b'\t').count();
    b.get(n..).unwrap_or_default()
}

fn httparse_config() -> httparse::ParserConfig {
    let mut c = httparse::ParserConfig::default();
    c.allow_spaces_after_header_name_in_responses(true)
        .allow_multiple_spaces_in_request_line_delimiters(true)
        .allow_multiple_spaces_in_response_status_delimiters(true)
        .ignore_invalid_headers_in_requests(true)
        .ignore_invalid_headers_in_responses(true);
    c
}

fn version(v: Option<u8>) -> HttpVersion {
    match v {
        Some(0) => HttpVersion::Http10,
        _ => HttpVersion::Http11,
    }
}

/// Field slots `parse_head` keeps on the stack (more go on the heap).
const STACK_FIELDS: usize = 48;

/// The fields of `h`, parsed from `buf`, owned. `buf` is checked for UTF-8 once, not each
/// value on its own (a call per field was most of a field's cost): httparse cuts a value
/// next to ASCII bytes (the colon, whitespace, CR or LF), which are never inside a UTF-8
/// sequence, so a value of a valid head is valid text as it stands.
fn owned_headers(h: &[httparse::Header<'_>], buf: &[u8]) -> Vec<Header> {
    let text = std::str::from_utf8(buf).ok();
    // Sized at once: collecting through the filter grew the vector 4, 8, 16, ... fields.
    let mut out = Vec::with_capacity(h.iter().filter(|h| !h.name.is_empty()).count());
    out.extend(h.iter().filter(|h| !h.name.is_empty()).map(|h| Header {
        name: crate::model::header_name(h.name),
        value: value_text(text, buf, h.value),
    }));
    out
}

/// `value` (a part of `buf`) as text: its place in `text`, `buf` as a string when it is
/// valid UTF-8; else checked on its own, invalid UTF-8 replaced.
fn value_text(text: Option<&str>, buf: &[u8], value: &[u8]) -> CompactString {
    // Its offset in `buf`: a huge number (wrapped) when it does not start inside it, and
    // then `get` finds nothing; when it does, the same bytes (`text` is `buf`).
    let at = (value.as_ptr() as usize).wrapping_sub(buf.as_ptr() as usize);
    match text.and_then(|t| t.get(at..at.checked_add(value.len())?)) {
        Some(s) => {
            debug_assert_eq!(s.as_bytes(), value);
            CompactString::new(s)
        }
        None => lossy_string(value),
    }
}

/// `bytes` as text, invalid UTF-8 replaced: `from_utf8`'s word-at-a-time check first (a
/// field value is nearly always valid; `from_utf8_lossy` walks it in chunks).
fn lossy_string(bytes: &[u8]) -> CompactString {
    match std::str::from_utf8(bytes) {
        Ok(s) => CompactString::new(s),
        Err(_) => String::from_utf8_lossy(bytes).into(),
    }
}

/// Parses a complete head (ending with its empty line). None when httparse rejects it.
pub(crate) fn parse_head(raw: &[u8], request: bool, max_headers: usize) -> Option<ParsedHead> {
    parse_shaped_head(raw, HeadShape::of(raw), request, max_headers)
}

/// `parse_head` of the head `scanner` found the end of, `raw` being every byte it scanned:
/// its lines were looked at on the way (`HeadScanner::shape`).
pub(crate) fn parse_scanned_head(
    raw: &[u8],
    scanner: &HeadScanner,
    request: bool,
    max_headers: usize,
) -> Option<ParsedHead> {
    let shape = scanner.shape();
    debug_assert_eq!(shape, HeadShape::of(raw), "the scanner saw other bytes");
    parse_shaped_head(raw, shape, request, max_headers)
}

fn parse_shaped_head(
    raw: &[u8],
    shape: HeadShape,
    request: bool,
    max_headers: usize,
) -> Option<ParsedHead> {
    let mut anomalies = Vec::new();
    let max_headers = max_headers.max(1);
    let (norm, too_many) = normalize(raw, shape, max_headers, &mut anomalies);
    let buf: &[u8] = norm.as_deref().unwrap_or(raw);
    let lfs = match &norm {
        Some(n) => memchr::memchr_iter(b'\n', n).count(),
        None => shape.lfs as usize,
    };
    let fields = lfs.min(max_headers + 2);
    // Most heads have a few dozen fields at most: their slots on the stack.
    let mut on_stack = [httparse::EMPTY_HEADER; STACK_FIELDS];
    let mut on_heap = Vec::new();
    let storage: &mut [httparse::Header<'_>] = if fields <= STACK_FIELDS {
        on_stack.get_mut(..fields).unwrap_or_default()
    } else {
        on_heap.resize(fields, httparse::EMPTY_HEADER);
        &mut on_heap
    };
    let config = httparse_config();
    let mut p = ParsedHead {
        anomalies,
        too_many_headers: too_many,
        ..Default::default()
    };
    if request {
        let mut req = httparse::Request::new(storage);
        match config.parse_request(&mut req, buf) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return None,
        }
        p.method = req.method?.to_string();
        p.target = req.path?.to_string();
        p.version = Some(version(req.version));
        p.headers = owned_headers(req.headers, buf);
    } else {
        let mut resp = httparse::Response::new(storage);
        match config.parse_response(&mut resp, buf) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return None,
        }
        p.status = resp.code?;
        p.reason = resp.reason.unwrap_or("").to_string();
        p.version = Some(version(resp.version));
        p.headers = owned_headers(resp.headers, buf);
    }
    Some(p)
}

/// Parses what there is of an interrupted head: its complete lines, closed with an empty
/// line. A response status line may be cut inside the reason phrase.
pub(crate) fn parse_partial_head(
    raw: &[u8],
    request: bool,
    max_headers: usize,
) -> Option<ParsedHead> {
    let mut buf = match raw.iter().rposition(|&b| b == b'\n') {
        Some(p) => raw.get(..=p).unwrap_or_default().to_vec(),
        None if !request => raw.to_vec(),
        None => return None,
    };
    if buf.ends_with(b"\n") {
        // Make sure the closing empty line is not taken as an obs-fold.
        buf.extend_from_slice(b"\r\n");
    } else {
        buf.extend_from_slice(b"\r\n\r\n");
    }
    parse_head(&buf, request, max_headers)
}

/// A tolerant parse for heads httparse rejects (e.g. bytes it does not allow in a target
/// or a field name): start line split on spaces, fields split at the first colon, lines
/// without a colon skipped. The caller counts the head as a parse error all the same.
pub(crate) fn parse_head_lenient(
    raw: &[u8],
    request: bool,
    max_headers: usize,
) -> Option<ParsedHead> {
    let mut anomalies = Vec::new();
    let (norm, too_many) = normalize(raw, HeadShape::of(raw), max_headers.max(1), &mut anomalies);
    let buf: &[u8] = norm.as_deref().unwrap_or(raw);
    let mut lines = buf
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = String::from_utf8_lossy(lines.next()?).into_owned();
    let parts: Vec<&str> = first.split(' ').filter(|p| !p.is_empty()).collect();
    let mut p = ParsedHead {
        anomalies,
        too_many_headers: too_many,
        ..Default::default()
    };
    if request {
        let (method, rest) = parts.split_first()?;
        let (ver, target) = rest.split_last()?;
        if target.is_empty() || !method.bytes().all(is_tchar) {
            return None;
        }
        p.version = Some(match *ver {
            "HTTP/1.0" => HttpVersion::Http10,
            "HTTP/1.1" => HttpVersion::Http11,
            _ => return None,
        });
        p.method = method.to_string();
        p.target = target.join(" ");
    } else {
        let ver = parts.first()?;
        p.version = Some(match *ver {
            "HTTP/1.0" => HttpVersion::Http10,
            "HTTP/1.1" => HttpVersion::Http11,
            _ => return None,
        });
        let code = parts.get(1)?;
        if code.len() != 3 {
            return None;
        }
        p.status = code.parse().ok()?;
        p.reason = parts.get(2..).map(|r| r.join(" ")).unwrap_or_default();
    }
    for line in lines.take_while(|l| !l.is_empty()).take(max_headers) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        // Optional whitespace is SP and HTAB only (RFC 9110 §5.6.3): `str::trim` would
        // also take U+2028, NBSP and the like, which are part of the value.
        let ows = |c: char| c == ' ' || c == '\t';
        let name = String::from_utf8_lossy(line.get(..colon).unwrap_or_default())
            .trim_matches(ows)
            .to_string();
        if name.is_empty() || name.contains(' ') {
            continue;
        }
        let value = String::from_utf8_lossy(line.get(colon + 1..).unwrap_or_default())
            .trim_matches(ows)
            .into();
        p.headers.push(Header {
            name: crate::model::header_name_owned(name),
            value,
        });
    }
    Some(p)
}

/// Bytes a request head may hold when its request line is malformed: printable ASCII,
/// SP, HTAB, CR, LF and non-ASCII (UTF-8 and Latin-1 text). Any other control byte means
/// the stream is not text, so not a request at all (TLS, a binary protocol).
pub(crate) fn is_head_text(b: u8) -> bool {
    b >= 0x20 && b != 0x7f || matches!(b, b'\t' | b'\r' | b'\n')
}

/// True when every line of `lines` (up to the first empty one) could be a field line:
/// `name:` with a token name, or an obs-fold continuation. Tells a malformed request line
/// followed by its header fields from arbitrary text that only happens to end in an empty
/// line.
pub(crate) fn field_lines_plausible(lines: &[u8]) -> bool {
    for line in lines.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return true;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            continue;
        }
        match line.iter().position(|&b| b == b':') {
            Some(colon) if colon > 0 => {
                if !line
                    .get(..colon)
                    .unwrap_or_default()
                    .iter()
                    .all(|&b| is_tchar(b))
                {
                    return false;
                }
            }
            _ => return false,
        }
    }
    true
}

/// Parses field lines (up to their empty line) on their own, leniently: the method,
/// target and version of the result are placeholders.
pub(crate) fn parse_field_lines(lines: &[u8], max_headers: usize) -> Option<ParsedHead> {
    // A stand-in request line the lenient parser accepts, then the lines.
    let mut synthetic = b"X / HTTP/1.1\r\n".to_vec();
    synthetic.extend_from_slice(lines);
    parse_head_lenient(&synthetic, true, max_headers)
}

/// Parses a request head whose request line is malformed (see
/// `Anomaly::MalformedRequestLine`): the line is split on whitespace; the first word is
/// the method as seen; a last word starting with `HTTP/` is the version (`HTTP/1.0`, else
/// taken as 1.1); the words between are the target (empty when missing). The field lines
/// are parsed leniently. None when the head has no line end.
pub(crate) fn parse_malformed_request(raw: &[u8], max_headers: usize) -> Option<ParsedHead> {
    let lf = raw.iter().position(|&b| b == b'\n')?;
    let line = raw.get(..lf).unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = String::from_utf8_lossy(line);
    let words: Vec<&str> = line.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
    let (method, rest) = words.split_first().map_or(("", &[][..]), |(m, r)| (*m, r));
    let (version, target) = match rest.split_last() {
        Some((v, t)) if v.starts_with("HTTP/") => (
            if *v == "HTTP/1.0" {
                HttpVersion::Http10
            } else {
                HttpVersion::Http11
            },
            t.join(" "),
        ),
        _ => (HttpVersion::Http11, rest.join(" ")),
    };
    let mut p = parse_field_lines(raw.get(lf + 1..).unwrap_or_default(), max_headers)?;
    p.method = method.to_string();
    p.target = target;
    p.version = Some(version);
    p.anomalies.push(Anomaly::MalformedRequestLine);
    Some(p)
}

/// The codings of Content-Encoding fields, in the order they were applied, lowercased.
pub(crate) fn content_codings(headers: &[Header]) -> Vec<String> {
    headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-encoding"))
        .flat_map(|h| h.value.split(','))
        .map(|c| c.trim().to_ascii_lowercase())
        .filter(|c| !c.is_empty())
        .collect()
}

/// How a message body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Until the sender closes the connection.
    Close,
}

/// Framing from Transfer-Encoding and Content-Length, for a message that may have a body.
/// `request`: a request with neither has no body; a response is read until close.
pub(crate) fn body_framing(
    headers: &[Header],
    request: bool,
    anomalies: &mut Vec<Anomaly>,
) -> Framing {
    // What the fields say, read without a copy (a list per message was an allocation per
    // head): whether any transfer coding is named and whether the last is chunked; the
    // first and last Content-Length values and whether any differs from the first.
    let mut any_coding = false;
    let mut last_chunked = false;
    let mut first_length: Option<u64> = None;
    let mut last_length: Option<u64> = None;
    let mut conflicting = false;
    let mut invalid_length = false;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            for c in h.value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
                any_coding = true;
                last_chunked = c.eq_ignore_ascii_case("chunked");
            }
        } else if h.name.eq_ignore_ascii_case("content-length") {
            // RFC 9110 §8.6: a list of identical values is the same as one value.
            for v in h.value.split(',').map(str::trim) {
                match parse_length(v) {
                    Some(n) => {
                        conflicting |= first_length.is_some_and(|f| f != n);
                        first_length.get_or_insert(n);
                        last_length = Some(n);
                    }
                    None => invalid_length = true,
                }
            }
        }
    }
    if invalid_length {
        anomalies.push(Anomaly::InvalidContentLength);
    }
    if conflicting {
        anomalies.push(Anomaly::ConflictingContentLength);
    }
    if any_coding {
        if last_length.is_some() || invalid_length {
            anomalies.push(Anomaly::TransferEncodingAndContentLength);
        }
        // RFC 9112 §6.3 items 3 and 4: chunked last frames the body; any other final
        // coding means the body runs to the end of the connection.
        return if last_chunked {
            Framing::Chunked
        } else {
            anomalies.push(Anomaly::UnknownTransferEncoding);
            Framing::Close
        };
    }
    // Conflicting values (flagged above) make the framing invalid (RFC 9112 §6.3 item 5).
    // A response: the client must close the connection after it, so nothing that follows
    // is another response; its body is read until the close (all the bytes the server
    // sent, as Suricata reports). A request: the server must answer 400 and close, but the
    // client's bytes can still hold further requests; the last value frames the body, as
    // Zeek and Wireshark do.
    if conflicting && !request {
        return Framing::Close;
    }
    match last_length {
        Some(0) => Framing::None,
        Some(n) => Framing::Length(n),
        // Invalid length only: a request has no body we can delimit, a response runs to
        // the close (RFC 9112 §6.3 item 5 makes either an error; we keep what we can).
        None if request => Framing::None,
        None => Framing::Close,
    }
}

/// A Content-Length value: 1*DIGIT that fits in u64.
fn parse_length(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

#[cfg(test)]
#[path = "head_tests.rs"]
mod tests;
