//! The `console` processor: one short block per transaction on a terminal, in httptap's
//! format, printed as each transaction arrives.
//!
//! ```text
//! ---> GET http://example.com/index.html
//! <--- 200 http://example.com/index.html (5796 bytes)
//! ---> POST http://api.example.com/v1/items
//! <--- (no response: timeout) http://api.example.com/v1/items
//! ```
//!
//! With `head`, request header fields follow the `--->` line prefixed `> ` and response
//! header fields follow the `<---` line prefixed `< ` (httptap's `--head`). With `body`,
//! decoded bodies follow their head, as text indented by four spaces, or as a one-line note
//! for binary content (`[binary, 5796 bytes, image/png]`); bodies cut by the keep limit,
//! by `max_body_chars` or by capture loss say so. Anomalies end the `<---` line in a short
//! bracket note (`[midstream, response interrupted]`).
//!
//! On a live capture with process attribution the `--->` line ends with the connection's
//! process, `[curl 4242]` (command name and pid), or `[? closed]` with why none was found
//! (docs/processors.md); offline there is no such bracket.
//!
//! What it does not do: it does not print transactions in request order across connections
//! (transactions arrive when they complete), and it does not wrap or page long lines.
//!
//! Invariants:
//! - Everything that came off the wire (target, Host, header fields, bodies) is made safe
//!   for a terminal before it is printed: control characters, including ESC, are shown as
//!   `\xNN` escapes, so a captured body cannot move the cursor or recolour the terminal.
//! - A transaction's block is built in memory and written with one `write_all`, then
//!   flushed, so blocks never interleave and a live console shows each one at once. The
//!   block is bounded: heads by the HTTP head limit, bodies by `max_body_chars`.
//! - Colour (ANSI SGR sequences) is written only when enabled; with `ColorChoice::Never`
//!   the output is plain text.

use std::fmt::Write as _;
use std::io::{self, IsTerminal, Write};

use crate::log::safe_text;
use crate::model::{header, Anomaly, Body, Decoded, Header, Transaction, Unanswered};
use crate::processor::{Processor, ProcessorError};
use crate::time::Timestamp;

/// When to colour the output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// Only when the output is a terminal (and `NO_COLOR` is unset, and `TERM` is not
    /// `dumb`). A writer given to [`ConsoleProcessor::new`] is not known to be a terminal,
    /// so `Auto` means no colour there; [`ConsoleProcessor::stdout`] checks standard output.
    #[default]
    Auto,
    Always,
    Never,
}

/// The name in `-har-processors`.
pub const NAME: &str = "console";

/// Default for [`ConsoleConfig::max_body_chars`].
pub const DEFAULT_MAX_BODY_CHARS: usize = 4096;

/// What the console shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleConfig {
    /// Print header fields (`-head`).
    pub head: bool,
    /// Print decoded bodies (`-body`).
    pub body: bool,
    pub color: ColorChoice,
    /// Characters of a text body printed before it is cut with a note; 0 prints all that
    /// was kept (still bounded by the HTTP body keep limit). Default 4096.
    pub max_body_chars: usize,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            head: false,
            body: false,
            color: ColorChoice::Auto,
            max_body_chars: DEFAULT_MAX_BODY_CHARS,
        }
    }
}

crate::counters! {
    /// Console processor counters.
    pub struct ConsoleCounters {
        /// Transactions printed.
        console_transactions,
        /// Bodies printed only in part because they exceeded `max_body_chars`.
        console_bodies_cut,
        /// Bodies shown as a binary note instead of text.
        console_bodies_binary,
    }
}

/// The console processor (`-har-processors console`).
pub struct ConsoleProcessor {
    cfg: ConsoleConfig,
    color: bool,
    out: Box<dyn Write + Send>,
    counters: ConsoleCounters,
}

// ANSI SGR sequences (ECMA-48 §8.3.117).
const RESET: &str = "\x1b[0m";
const BOLD_GREEN: &str = "\x1b[1;32m";
const BOLD_CYAN: &str = "\x1b[1;36m";
const BOLD_BLUE: &str = "\x1b[1;34m";
const BOLD_YELLOW: &str = "\x1b[1;33m";
const BOLD_RED: &str = "\x1b[1;31m";
const BOLD_MAGENTA: &str = "\x1b[1;35m";
const DIM: &str = "\x1b[2m";
const YELLOW: &str = "\x1b[33m";

impl ConsoleProcessor {
    /// A console writing to `out`. `ColorChoice::Auto` means no colour here, since a boxed
    /// writer cannot be asked whether it is a terminal.
    pub fn new(cfg: ConsoleConfig, out: Box<dyn Write + Send>) -> ConsoleProcessor {
        let color = cfg.color == ColorChoice::Always;
        ConsoleProcessor {
            cfg,
            color,
            out,
            counters: ConsoleCounters::default(),
        }
    }

    /// A console on standard output; `ColorChoice::Auto` colours only when standard output
    /// is a terminal, `NO_COLOR` is unset or empty (no-color.org) and `TERM` is not `dumb`.
    pub fn stdout(cfg: ConsoleConfig) -> ConsoleProcessor {
        let color = match cfg.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        };
        ConsoleProcessor {
            cfg,
            color,
            out: Box::new(io::stdout()),
            counters: ConsoleCounters::default(),
        }
    }

    /// Whether colour is being written.
    pub fn color(&self) -> bool {
        self.color
    }

    pub fn counters(&self) -> &ConsoleCounters {
        &self.counters
    }

    /// The block printed for `tx` (what `on_transaction` writes).
    pub fn render(&mut self, tx: &Transaction) -> String {
        let mut s = String::with_capacity(256);
        let url = url(tx);

        // Request line.
        let method = safe_text(&tx.request.method);
        let _ = write!(
            s,
            "---> {} {}",
            self.paint(method_color(&tx.request.method), &method),
            url
        );
        // Live captures with attribution: the process, always on this line (issue 15).
        if let Some(owner) = tx.process.as_deref() {
            let _ = write!(s, " [{}]", safe_text(&owner.label()));
        }
        s.push('\n');
        if self.cfg.head {
            self.headers(&mut s, "> ", &tx.request.headers);
        }
        if self.cfg.body {
            self.body(&mut s, &tx.request.body, &tx.request.headers);
        }

        // Response line, or why there is none.
        let notes = anomaly_notes(&tx.anomalies);
        match &tx.response {
            Some(resp) => {
                let status = resp.status.to_string();
                let _ = write!(
                    s,
                    "<--- {} {} ({} bytes, {})",
                    self.paint(status_color(resp.status), &status),
                    url,
                    resp.body.content_len(),
                    duration_text(resp.last_ts.since(tx.request.first_ts))
                );
                self.notes(&mut s, &notes);
                if self.cfg.head {
                    for i in &resp.interim {
                        let _ = writeln!(
                            s,
                            "< {} {} {}",
                            i.version.as_str(),
                            i.status,
                            safe_text(&i.reason)
                        );
                        self.headers(&mut s, "< ", &i.headers);
                    }
                    self.headers(&mut s, "< ", &resp.headers);
                }
                if self.cfg.body {
                    self.body(&mut s, &resp.body, &resp.headers);
                }
            }
            None => {
                let why = match unanswered(&tx.anomalies) {
                    Some(Unanswered::Timeout) => "no response: timeout",
                    Some(Unanswered::ConnectionClosed) => "no response: connection closed",
                    Some(Unanswered::EndOfCapture) => "no response: end of capture",
                    Some(Unanswered::PendingLimit) => "no response: too many pending requests",
                    Some(Unanswered::Evicted) => "no response: connection evicted",
                    Some(Unanswered::StreamReset) => "no response: stream reset",
                    None => "no response",
                };
                let why = format!("({why})");
                let _ = write!(s, "<--- {} {}", self.paint(BOLD_RED, &why), url);
                self.notes(&mut s, &notes);
            }
        }
        self.counters.console_transactions += 1;
        s
    }

    fn paint(&self, color: &str, text: &str) -> String {
        if self.color {
            format!("{color}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    /// Ends the current line, after the anomaly note when there is one.
    fn notes(&self, s: &mut String, notes: &[&str]) {
        if !notes.is_empty() {
            let note = format!("[{}]", notes.join(", "));
            s.push(' ');
            s.push_str(&self.paint(YELLOW, &note));
        }
        s.push('\n');
    }

    fn headers(&self, s: &mut String, prefix: &str, headers: &[Header]) {
        for h in headers {
            let line = format!("{prefix}{}: {}", safe_text(&h.name), safe_text(&h.value));
            s.push_str(&self.paint(DIM, &line));
            s.push('\n');
        }
    }

    fn note_line(&self, s: &mut String, note: &str) {
        s.push_str("    ");
        s.push_str(&self.paint(YELLOW, note));
        s.push('\n');
    }

    fn body(&mut self, s: &mut String, body: &Body, headers: &[Header]) {
        let content_len = body.content_len();
        if content_len == 0 && body.len == 0 {
            return;
        }
        let content_type = header(headers, "content-type")
            .map(|v| safe_text(v.split(';').next().unwrap_or("").trim()))
            .filter(|v| !v.is_empty());

        // The content bytes we have, and whether they are less than the whole content.
        let (data, partial): (&[u8], bool) = match &body.decoded {
            Decoded::Identity => (&body.data, body.truncated || body.missing > 0),
            Decoded::Decoded {
                data, truncated, ..
            } => (data, *truncated),
            Decoded::Failed { reason } => {
                let note = format!(
                    "[body not decoded ({}): {} bytes {}]",
                    safe_text(reason),
                    body.len,
                    body.content_encoding.join(", ")
                );
                self.note_line(s, &note);
                return;
            }
            // The console reads bodies, so its runs decode them: not reached.
            Decoded::Skipped => return,
        };
        if body.missing > 0 {
            let note = format!("[{} of {} bytes lost in capture]", body.missing, body.len);
            self.note_line(s, &note);
            if body.missing >= body.len {
                return;
            }
        }
        if !is_text(data, partial, content_type.as_deref()) {
            self.counters.console_bodies_binary += 1;
            let note = match content_type {
                Some(ct) => format!("[binary, {content_len} bytes, {ct}]"),
                None => format!("[binary, {content_len} bytes]"),
            };
            self.note_line(s, &note);
            return;
        }

        let text = String::from_utf8_lossy(data);
        let limit = if self.cfg.max_body_chars == 0 {
            usize::MAX
        } else {
            self.cfg.max_body_chars
        };
        // Cut on a character boundary, at most `limit` characters.
        let cut = text.char_indices().nth(limit).map(|(i, _)| i);
        let shown = cut.map_or(&text[..], |i| &text[..i]);
        for line in shown.lines() {
            s.push_str("    ");
            s.push_str(&safe_text(line));
            s.push('\n');
        }
        if cut.is_some() {
            self.counters.console_bodies_cut += 1;
        }
        if cut.is_some() || partial {
            let shown_bytes = if cut.is_some() {
                shown.len()
            } else {
                data.len()
            };
            let note = format!("[truncated: {shown_bytes} of {content_len} bytes shown]");
            self.note_line(s, &note);
        }
    }
}

impl Processor for ConsoleProcessor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError> {
        let block = self.render(tx);
        self.out
            .write_all(block.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| ProcessorError {
                processor: "console",
                message: format!("writing to the console: {e}"),
            })
    }

    fn on_tick(&mut self, _now: Timestamp) -> Result<(), ProcessorError> {
        Ok(())
    }

    fn finish(&mut self, _now: Timestamp) -> Result<(), ProcessorError> {
        self.out.flush().map_err(|e| ProcessorError {
            processor: "console",
            message: format!("writing to the console: {e}"),
        })
    }
}

/// The URL shown for a transaction: `http://` + Host (else the server address, IPv6 in
/// brackets) + the target for origin-form targets (RFC 9112 §3.2.1); absolute-form targets
/// (§3.2.2, sent to proxies) as they are; authority-form (CONNECT, §3.2.3) and asterisk-form
/// (`OPTIONS *`, §3.2.4) targets as they are, since they name no resource on the host.
fn url(tx: &Transaction) -> String {
    let target = tx.request.target.as_str();
    let text = if is_absolute_form(target) || !target.starts_with('/') {
        target.to_string()
    } else {
        // `Transaction::host` already falls back to the server address, whose `Display`
        // brackets IPv6 (`[2001:db8::1]:80`).
        // A decrypted exchange is https (the HAR view says so the same way).
        let scheme = if tx.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}{}", tx.host(), target)
    };
    safe_text(&text)
}

/// `scheme "://"` at the start (RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )).
fn is_absolute_form(target: &str) -> bool {
    let Some(colon) = target.find("://") else {
        return false;
    };
    let scheme = &target[..colon];
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// A transaction's duration, request first byte to response last byte: `0.4 ms`,
/// `12.3 ms`, `1.25 s`.
fn duration_text(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

fn unanswered(anomalies: &[Anomaly]) -> Option<Unanswered> {
    anomalies.iter().find_map(|a| match a {
        Anomaly::Unanswered(u) => Some(*u),
        _ => None,
    })
}

/// Short names for the anomaly note; `Unanswered` is said on the line itself.
fn anomaly_notes(anomalies: &[Anomaly]) -> Vec<&'static str> {
    anomalies
        .iter()
        .filter_map(|a| {
            Some(match a {
                Anomaly::MidStreamPickup => "midstream",
                Anomaly::RequestInterrupted => "request interrupted",
                Anomaly::ResponseInterrupted => "response interrupted",
                Anomaly::BodyGap => "bytes missing in body",
                Anomaly::Unanswered(_) => return None,
                Anomaly::ConflictingContentLength => "conflicting content-length",
                Anomaly::InvalidContentLength => "invalid content-length",
                Anomaly::TransferEncodingAndContentLength => "transfer-encoding and content-length",
                Anomaly::UnknownTransferEncoding => "unknown transfer-encoding",
                Anomaly::BareLf => "bare LF",
                Anomaly::ObsFold => "obs-fold",
                Anomaly::InvalidChunk => "invalid chunk",
                Anomaly::DecodeFailed(_) => "decode failed",
                Anomaly::HeadTooLarge => "head too large",
                Anomaly::BodyTruncated => "body truncated",
                Anomaly::MemoryLimit => "body dropped: memory limit",
                Anomaly::OutputsBehind => "body dropped: outputs behind",
                Anomaly::Tunnel => "tunnel",
                Anomaly::LateResponse => "late response",
                Anomaly::MalformedRequestLine => "malformed request line",
                Anomaly::RequestLost => "request lost",
                Anomaly::PairingUncertain => "pairing uncertain",
                Anomaly::StreamReset => "stream reset",
                Anomaly::HpackDesync => "HPACK desync",
                Anomaly::FramesLost => "frames lost",
                Anomaly::NoStatusLine => "no status line",
                Anomaly::OverlapConflict => "retransmission differed",
            })
        })
        .collect()
}

/// Safe methods (RFC 9110 §9.2.1) in blue, the others in magenta.
fn method_color(method: &str) -> &'static str {
    match method {
        "GET" | "HEAD" | "OPTIONS" | "TRACE" => BOLD_BLUE,
        _ => BOLD_MAGENTA,
    }
}

/// By status class (RFC 9110 §15).
fn status_color(status: u16) -> &'static str {
    match status / 100 {
        1 => BOLD_CYAN,
        2 => BOLD_GREEN,
        3 => BOLD_CYAN,
        4 => BOLD_YELLOW,
        _ => BOLD_RED,
    }
}

/// Whether a body is shown as text: a textual media type, or bytes that are UTF-8 without
/// NUL and with few control characters. A body cut inside a multi-byte character (a keep
/// limit) may end with an incomplete sequence.
fn is_text(data: &[u8], partial: bool, content_type: Option<&str>) -> bool {
    let valid = match std::str::from_utf8(data) {
        Ok(_) => true,
        Err(e) => partial && e.error_len().is_none() && data.len() - e.valid_up_to() < 4,
    };
    if let Some(ct) = content_type {
        let ct = ct.to_ascii_lowercase();
        let textual = ct.starts_with("text/")
            || [
                "json",
                "xml",
                "javascript",
                "x-www-form-urlencoded",
                "yaml",
                "csv",
            ]
            .iter()
            .any(|t| ct.contains(t));
        let binary = [
            "image/",
            "audio/",
            "video/",
            "font/",
            "application/octet-stream",
        ]
        .iter()
        .any(|t| ct.starts_with(t))
            || ct.contains("zip")
            || ct.contains("protobuf");
        if binary {
            return false;
        }
        if textual {
            // Declared text that is not UTF-8 (Latin-1 pages) is still shown, lossily.
            return !data.contains(&0);
        }
    }
    if !valid || data.contains(&0) {
        return false;
    }
    let controls = data
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        .count();
    // A few stray control bytes in text are shown escaped; many mean a binary format.
    controls * 20 <= data.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_form_detection() {
        assert!(is_absolute_form("http://a/b"));
        assert!(is_absolute_form("svn+ssh://x"));
        assert!(!is_absolute_form("/a?u=http://b"));
        assert!(!is_absolute_form("://x"));
        assert!(!is_absolute_form("1http://x"));
    }

    #[test]
    fn text_detection() {
        assert!(is_text(b"hello\nworld", false, None));
        assert!(!is_text(b"\x89PNG\r\n\x1a\n\0\0", false, None));
        assert!(!is_text(b"GIF89a", false, Some("image/gif")));
        assert!(is_text(
            b"caf\xe9",
            false,
            Some("text/html; charset=latin1")
        ));
        assert!(!is_text(b"caf\xe9", false, None));
        // Cut inside the two bytes of 'é' by a keep limit.
        assert!(is_text(b"caf\xc3", true, None));
        assert!(!is_text(b"caf\xc3", false, None));
    }
}
