//! The handshake messages a passive decoder reads, and their reassembly from records.
//!
//! `HandshakeReader` turns the bytes of one direction's handshake records (plaintext, or
//! decrypted TLS 1.3 / renegotiation records) into whole messages: a record can carry
//! several messages and a message can span records (RFC 8446 §5.1, RFC 5246 §6.2.1). A
//! message announcing more than `MAX_HANDSHAKE_MESSAGE` bytes is skipped as it streams past
//! and reported as `HandshakeEvent::Oversized`, never buffered.
//!
//! The parsers read only what decryption and the HAR need: the hello randoms, session id,
//! suites, version, SNI, ALPN, early data / PSK / ticket / ECH / encrypt-then-MAC signals,
//! and the TLS 1.2 session ticket. They are hand-rolled over a bounds-checked cursor and
//! never panic: framing that does not add up is a `HandshakeError`; the inside of an
//! extension this module reads but finds malformed is ignored (as if absent), since a
//! passive decoder gains nothing by refusing a hello the endpoints accepted.
//!
//! Not here: certificates, signatures, Finished verification, key shares (a key log makes
//! them unnecessary), and the state machine deciding which message is expected.

use std::fmt;

/// The largest handshake message reassembled: certificate chains run to tens of KiB; 256
/// KiB leaves room for big chains while bounding what a hostile peer can make us hold.
pub const MAX_HANDSHAKE_MESSAGE: usize = 256 * 1024;

/// Handshake message types (RFC 8446 §4, RFC 5246 §7.4, RFC 5077 §3.3).
pub mod msg {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const END_OF_EARLY_DATA: u8 = 5;
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
    pub const KEY_UPDATE: u8 = 24;
}

/// Extension types read here (IANA TLS ExtensionType registry).
mod ext {
    pub const SERVER_NAME: u16 = 0;
    pub const ALPN: u16 = 16;
    pub const ENCRYPT_THEN_MAC: u16 = 22;
    pub const SESSION_TICKET: u16 = 35;
    pub const PRE_SHARED_KEY: u16 = 41;
    pub const EARLY_DATA: u16 = 42;
    pub const SUPPORTED_VERSIONS: u16 = 43;
    pub const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
}

/// The ServerHello random that marks a HelloRetryRequest: SHA-256("HelloRetryRequest")
/// (RFC 8446 §4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// Why a handshake message could not be parsed. Carries no message bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandshakeError {
    /// The message ends before a field it announces: `what` names the field.
    Truncated { what: &'static str },
    /// A field has an impossible value (odd cipher suite list, bytes after the end, …).
    Invalid { what: &'static str },
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Truncated { what } => {
                write!(f, "handshake message truncated in {what}")
            }
            HandshakeError::Invalid { what } => write!(f, "invalid handshake field: {what}"),
        }
    }
}

impl std::error::Error for HandshakeError {}

type Result<T> = std::result::Result<T, HandshakeError>;

/// A bounds-checked reader over a message body: every read names the field it is for, so a
/// short message says where it ended.
struct Cursor<'a> {
    data: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(data: &'a [u8]) -> Self {
        Cursor { data }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if n > self.data.len() {
            return Err(HandshakeError::Truncated { what });
        }
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn array32(&mut self, what: &'static str) -> Result<[u8; 32]> {
        let mut a = [0u8; 32];
        a.copy_from_slice(self.bytes(32, what)?);
        Ok(a)
    }

    /// A vector with a 1-byte length prefix (`opaque x<0..2^8-1>`).
    fn vec8(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let n = self.u8(what)?;
        self.bytes(usize::from(n), what)
    }

    /// A vector with a 2-byte length prefix.
    fn vec16(&mut self, what: &'static str) -> Result<&'a [u8]> {
        let n = self.u16(what)?;
        self.bytes(usize::from(n), what)
    }

    fn end(&self, what: &'static str) -> Result<()> {
        if self.data.is_empty() {
            Ok(())
        } else {
            Err(HandshakeError::Invalid { what })
        }
    }
}

/// Walks an extensions block (`Extension extensions<0..2^16-1>`, RFC 8446 §4.2), calling
/// `f(type, data)` for each. The block is optional at the end of TLS 1.2 hellos (RFC 5246
/// §7.4.1.2): an empty cursor means no extensions.
fn extensions<'a>(c: &mut Cursor<'a>, mut f: impl FnMut(u16, &'a [u8])) -> Result<()> {
    if c.is_empty() {
        return Ok(());
    }
    let mut block = Cursor::new(c.vec16("extensions")?);
    c.end("bytes after the extensions")?;
    while !block.is_empty() {
        let ty = block.u16("extension type")?;
        let data = block.vec16("extension data")?;
        f(ty, data);
    }
    Ok(())
}

/// The first host_name of a server_name extension (RFC 6066 §3), if well formed UTF-8.
fn server_name(data: &[u8]) -> Option<String> {
    let mut c = Cursor::new(data);
    let mut list = Cursor::new(c.vec16("server name list").ok()?);
    while !list.is_empty() {
        let name_type = list.u8("name type").ok()?;
        let name = list.vec16("host name").ok()?;
        if name_type == 0 {
            return String::from_utf8(name.to_vec()).ok();
        }
    }
    None
}

/// The protocol names of an ALPN extension (RFC 7301 §3.1); `None` if malformed.
fn alpn_list(data: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut c = Cursor::new(data);
    let mut list = Cursor::new(c.vec16("protocol name list").ok()?);
    let mut out = Vec::new();
    while !list.is_empty() {
        out.push(list.vec8("protocol name").ok()?.to_vec());
    }
    Some(out)
}

/// The one protocol a server selects (RFC 7301 §3.1: a list of exactly one name).
fn alpn_selected(data: &[u8]) -> Option<Vec<u8>> {
    let mut list = alpn_list(data)?;
    if list.len() == 1 {
        list.pop()
    } else {
        None
    }
}

/// What a passive decoder needs of a ClientHello (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub legacy_version: u16,
    /// The key of every key-log secret.
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suites: Vec<u16>,
    /// The first host_name of server_name.
    pub sni: Option<String>,
    /// Offered ALPN protocols, in order.
    pub alpn: Vec<Vec<u8>>,
    /// supported_versions (empty when absent: TLS 1.2 or older).
    pub supported_versions: Vec<u16>,
    /// early_data offered: 0-RTT records may follow (TLS 1.3).
    pub early_data: bool,
    /// pre_shared_key offered (TLS 1.3 resumption).
    pub pre_shared_key: bool,
    /// A non-empty SessionTicket extension: a TLS 1.2 resumption attempt by ticket (RFC
    /// 5077 §3.2). `None` when absent or empty (empty only announces ticket support).
    pub session_ticket: Option<Vec<u8>>,
    /// encrypted_client_hello (0xfe0d): the TLS 1.3 secrets are keyed by the inner hello's
    /// random, which is not on the wire, so expect no key.
    pub ech: bool,
    pub encrypt_then_mac: bool,
}

/// Parses a ClientHello body (after the 4-byte handshake header).
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHello> {
    let mut c = Cursor::new(body);
    let mut h = ClientHello {
        legacy_version: c.u16("legacy_version")?,
        random: c.array32("random")?,
        ..ClientHello::default()
    };
    h.session_id = c.vec8("session_id")?.to_vec();
    if h.session_id.len() > 32 {
        return Err(HandshakeError::Invalid {
            what: "session_id longer than 32",
        });
    }
    let suites = c.vec16("cipher_suites")?;
    if suites.len() % 2 != 0 {
        return Err(HandshakeError::Invalid {
            what: "odd cipher_suites length",
        });
    }
    h.cipher_suites = suites
        .chunks_exact(2)
        .map(|p| u16::from_be_bytes([p[0], p[1]]))
        .collect();
    c.vec8("compression_methods")?;
    extensions(&mut c, |ty, data| match ty {
        ext::SERVER_NAME => h.sni = h.sni.take().or_else(|| server_name(data)),
        ext::ALPN => h.alpn = alpn_list(data).unwrap_or_default(),
        ext::SUPPORTED_VERSIONS => {
            let mut c = Cursor::new(data);
            if let Ok(list) = c.vec8("supported_versions") {
                h.supported_versions = list
                    .chunks_exact(2)
                    .map(|p| u16::from_be_bytes([p[0], p[1]]))
                    .collect();
            }
        }
        ext::EARLY_DATA => h.early_data = true,
        ext::PRE_SHARED_KEY => h.pre_shared_key = true,
        ext::SESSION_TICKET if !data.is_empty() => h.session_ticket = Some(data.to_vec()),
        ext::ENCRYPTED_CLIENT_HELLO => h.ech = true,
        ext::ENCRYPT_THEN_MAC => h.encrypt_then_mac = true,
        _ => {}
    })?;
    Ok(h)
}

/// What a passive decoder needs of a ServerHello or HelloRetryRequest (RFC 8446 §4.1.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub cipher_suite: u16,
    /// The negotiated version: supported_versions when present (TLS 1.3: 0x0304), else the
    /// legacy_version field.
    pub version: u16,
    /// The selected ALPN protocol (TLS 1.2; TLS 1.3 sends it in EncryptedExtensions).
    pub alpn: Option<Vec<u8>>,
    pub encrypt_then_mac: bool,
    /// This is a HelloRetryRequest: the real ServerHello comes later, keys do not change.
    pub hello_retry: bool,
    /// The server accepted a PSK (TLS 1.3 resumption).
    pub pre_shared_key: bool,
}

impl ServerHello {
    /// TLS 1.3 was negotiated.
    pub fn is_tls13(&self) -> bool {
        self.version == 0x0304
    }
}

/// Parses a ServerHello body (also a HelloRetryRequest, which shares its format).
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHello> {
    let mut c = Cursor::new(body);
    let legacy_version = c.u16("legacy_version")?;
    let mut h = ServerHello {
        version: legacy_version,
        random: c.array32("random")?,
        ..ServerHello::default()
    };
    h.hello_retry = h.random == HELLO_RETRY_REQUEST_RANDOM;
    h.session_id = c.vec8("session_id")?.to_vec();
    if h.session_id.len() > 32 {
        return Err(HandshakeError::Invalid {
            what: "session_id longer than 32",
        });
    }
    h.cipher_suite = c.u16("cipher_suite")?;
    c.u8("compression_method")?;
    extensions(&mut c, |ty, data| match ty {
        ext::SUPPORTED_VERSIONS => {
            if let [a, b] = data {
                h.version = u16::from_be_bytes([*a, *b]);
            }
        }
        ext::ALPN => h.alpn = alpn_selected(data),
        ext::ENCRYPT_THEN_MAC => h.encrypt_then_mac = true,
        ext::PRE_SHARED_KEY => h.pre_shared_key = true,
        _ => {}
    })?;
    Ok(h)
}

/// What a passive decoder needs of TLS 1.3 EncryptedExtensions (RFC 8446 §4.3.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EncryptedExtensions {
    /// The selected ALPN protocol.
    pub alpn: Option<Vec<u8>>,
    /// The server accepted 0-RTT data.
    pub early_data: bool,
}

pub fn parse_encrypted_extensions(body: &[u8]) -> Result<EncryptedExtensions> {
    let mut c = Cursor::new(body);
    let mut e = EncryptedExtensions::default();
    // Unlike the hellos' optional block, EncryptedExtensions always has its vector.
    let mut block = Cursor::new(c.vec16("extensions")?);
    c.end("bytes after the extensions")?;
    while !block.is_empty() {
        let ty = block.u16("extension type")?;
        let data = block.vec16("extension data")?;
        match ty {
            ext::ALPN => e.alpn = alpn_selected(data),
            ext::EARLY_DATA => e.early_data = true,
            _ => {}
        }
    }
    Ok(e)
}

/// The ticket of a TLS 1.2 NewSessionTicket (RFC 5077 §3.3: `u32 lifetime_hint, opaque
/// ticket<0..2^16-1>`), the key of the ticket → master secret cache.
pub fn parse_new_session_ticket12(body: &[u8]) -> Result<Vec<u8>> {
    let mut c = Cursor::new(body);
    c.u32("ticket_lifetime_hint")?;
    let ticket = c.vec16("ticket")?.to_vec();
    c.end("bytes after the ticket")?;
    Ok(ticket)
}

/// A TLS 1.3 KeyUpdate (RFC 8446 §4.6.3): whether the sender asks the peer to update too.
/// (The sender's own direction updates after this message either way.)
pub fn parse_key_update(body: &[u8]) -> Result<bool> {
    match body {
        [0] => Ok(false),
        [1] => Ok(true),
        [] => Err(HandshakeError::Truncated {
            what: "request_update",
        }),
        _ => Err(HandshakeError::Invalid {
            what: "request_update",
        }),
    }
}

/// What `HandshakeReader::next` yields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeEvent {
    /// A whole message: its type and body (without the 4-byte header).
    Message { msg_type: u8, body: Vec<u8> },
    /// A message announcing `len` > `MAX_HANDSHAKE_MESSAGE` bytes: its body is being
    /// dropped as it arrives (also counted in `oversized()`).
    Oversized { msg_type: u8, len: usize },
}

/// Reassembles one direction's handshake messages from record payloads.
///
/// Call `next` until it returns `None` after each `push`: then the buffer never holds more
/// than one incomplete message (at most `MAX_HANDSHAKE_MESSAGE` + 4 bytes) plus one push.
/// Invariant: while an oversized body is being skipped, the buffer is empty.
#[derive(Debug, Default)]
pub struct HandshakeReader {
    buf: Vec<u8>,
    /// Bytes of an oversized message still to drop.
    skipping: usize,
    oversized: u64,
}

impl HandshakeReader {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one record's handshake bytes.
    pub fn push(&mut self, mut bytes: &[u8]) {
        if self.skipping > 0 {
            let n = self.skipping.min(bytes.len());
            self.skipping -= n;
            bytes = &bytes[n..];
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message, or an oversized one being skipped; `None` until more bytes.
    #[allow(clippy::should_implement_trait)] // not an Iterator: `None` means "not yet", not "done"
    pub fn next(&mut self) -> Option<HandshakeEvent> {
        if self.skipping > 0 {
            return None;
        }
        let (msg_type, len) = match self.buf.as_slice() {
            [t, a, b, c, ..] => (
                *t,
                usize::from(*a) << 16 | usize::from(*b) << 8 | usize::from(*c),
            ),
            _ => return None,
        };
        if len > MAX_HANDSHAKE_MESSAGE {
            self.oversized += 1;
            let available = self.buf.len() - 4;
            let dropped = available.min(len);
            self.buf.drain(..4 + dropped);
            self.skipping = len - dropped;
            return Some(HandshakeEvent::Oversized { msg_type, len });
        }
        if self.buf.len() < 4 + len {
            return None;
        }
        let body = self.buf[4..4 + len].to_vec();
        self.buf.drain(..4 + len);
        Some(HandshakeEvent::Message { msg_type, body })
    }

    /// Bytes held (an incomplete message, or messages not yet taken).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Oversized messages seen so far.
    pub fn oversized(&self) -> u64 {
        self.oversized
    }

    /// Forgets any partial message (a gap in the stream, a new epoch's framing).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.skipping = 0;
    }
}

#[cfg(test)]
#[path = "handshake_tests.rs"]
mod tests;
