//! TLS conversations with known secrets, for tests and fuzzing: hand-written hellos, records
//! sealed by `crypto::RecordEncryptor`. Not used by the product.

use super::crypto::{self, RecordEncryptor};
use super::record::{APPLICATION_DATA, CHANGE_CIPHER_SPEC, HANDSHAKE};
use std::net::{Ipv4Addr, SocketAddr};

use super::record::{HEADER_LEN, MAX_FRAGMENT};
use super::TLS_MAX_HELD_BYTES;
use crate::keylog::{Entry, Label, Secret};
use crate::model::{ConnInfo, Direction, PerDirection};

use Direction::{ToClient, ToServer};

/// The client random of every conversation built here.
pub const CR: [u8; 32] = [0x11; 32];
/// The server random.
pub const SR: [u8; 32] = [0x22; 32];

/// The connection every conversation built here runs on (10.0.0.2:40000 to 10.0.0.1:443,
/// from its start): the TLS layer does not look at it, the `Layer` calls need one.
pub fn conn() -> ConnInfo {
    ConnInfo {
        id: 1,
        client: SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 40_000)),
        server: SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 443)),
        syn_ts: None,
        synack_ts: None,
        established_ts: None,
        midstream: false,
    }
}

/// What a `TlsLayer` may hold, for the oracles: `TLS_MAX_HELD_BYTES` of records waiting
/// for keys, a few records' worth of framing and plaintext buffers, its fixed parts.
pub fn layer_mem_bound() -> usize {
    TLS_MAX_HELD_BYTES + 8 * (HEADER_LEN + MAX_FRAGMENT) + 64 * 1024
}

pub fn record(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty, 3, 3];
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

pub fn hs_msg(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty];
    v.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    v.extend_from_slice(body);
    v
}

pub fn ext(ty: u16, body: &[u8]) -> Vec<u8> {
    let mut v = ty.to_be_bytes().to_vec();
    v.extend_from_slice(&(body.len() as u16).to_be_bytes());
    v.extend_from_slice(body);
    v
}

pub fn alpn_ext(protos: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for p in protos {
        list.push(p.len() as u8);
        list.extend_from_slice(p);
    }
    let mut body = (list.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(&list);
    ext(16, &body)
}

pub fn client_hello(tls13: bool, early_data: bool, alpn: &[&[u8]]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&CR);
    b.push(0); // session id
    b.extend_from_slice(&[0, 6, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f]);
    b.extend_from_slice(&[1, 0]);
    let mut exts = Vec::new();
    // SNI: list length, type 0, name length, name.
    let name = b"example.test";
    let mut sni = ((name.len() + 3) as u16).to_be_bytes().to_vec();
    sni.push(0);
    sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
    sni.extend_from_slice(name);
    exts.extend(ext(0, &sni));
    if !alpn.is_empty() {
        exts.extend(alpn_ext(alpn));
    }
    if tls13 {
        exts.extend(ext(43, &[4, 3, 4, 3, 3]));
    }
    if early_data {
        exts.extend(ext(42, &[]));
    }
    b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    b.extend_from_slice(&exts);
    hs_msg(1, &b)
}

pub fn server_hello(suite: u16, tls13: bool, alpn: Option<&[u8]>) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&SR);
    b.push(0);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(0);
    let mut exts = Vec::new();
    if tls13 {
        exts.extend(ext(43, &[3, 4]));
    }
    if let Some(a) = alpn {
        exts.extend(alpn_ext(&[a]));
    }
    b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    b.extend_from_slice(&exts);
    hs_msg(2, &b)
}

pub fn entry(label: Label, secret: &[u8]) -> Entry {
    Entry {
        label,
        client_random: CR,
        secret: Secret::new(secret.to_vec()),
    }
}

/// One conversation: what each direction carried, in order, with the secrets behind it.
pub struct Conversation {
    /// Whole records (or several), in the order they were sent.
    pub segments: Vec<(Direction, Vec<u8>)>,
    /// The key log lines that decrypt it.
    pub entries: Vec<Entry>,
    /// The application data each direction carried.
    pub plaintext: PerDirection<Vec<u8>>,
}

/// The suites the fuzz oracles pick from: TLS 1.3, and TLS 1.2 (AEAD first, CBC from
/// index 3).
pub const FUZZ_SUITES13: [u16; 3] = [0x1301, 0x1302, 0x1303];
pub const FUZZ_SUITES12: [u16; 5] = [0xc02f, 0xc030, 0xcca8, 0xc013, 0x003c];

/// The structured part of a TLS fuzz input, `[suite byte][payload length / 97][payload]
/// [rest]`: the suite byte, the conversation it picks and the rest. Bit 7 of the suite byte
/// clear is TLS 1.3 (bit 6: with a KeyUpdate), set TLS 1.2; the low 7 bits pick the suite.
/// The payload goes to the server and comes back reversed (an empty one sends nothing).
pub fn fuzz_conversation(input: &[u8]) -> (u8, Conversation, &[u8]) {
    let (&suite_byte, rest) = input.split_first().unwrap_or((&0, &[]));
    let (&len_byte, rest) = rest.split_first().unwrap_or((&0, &[]));
    let payload_len = (usize::from(len_byte) * 97).min(rest.len());
    let (payload, rest) = rest.split_at(payload_len);
    let app: Vec<_> = [
        (ToServer, payload.to_vec()),
        (ToClient, payload.iter().rev().copied().collect()),
    ]
    .into_iter()
    .filter(|(_, b)| !b.is_empty())
    .collect();
    let pick = usize::from(suite_byte & 0x7f);
    let conv = if suite_byte & 0x80 == 0 {
        let s = FUZZ_SUITES13[pick % FUZZ_SUITES13.len()];
        tls13(s, None, suite_byte & 0x40 != 0, &app)
    } else {
        tls12(FUZZ_SUITES12[pick % FUZZ_SUITES12.len()], &app)
    };
    (suite_byte, conv, rest)
}

/// A request and its response.
pub const REQUEST: &[u8] = b"GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n";
pub const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// The default application data: `REQUEST` in two records, `RESPONSE` in one.
pub fn exchange() -> Vec<(Direction, Vec<u8>)> {
    vec![
        (ToServer, REQUEST[..10].to_vec()),
        (ToServer, REQUEST[10..].to_vec()),
        (ToClient, RESPONSE.to_vec()),
    ]
}

fn plaintext_of(app: &[(Direction, Vec<u8>)]) -> PerDirection<Vec<u8>> {
    let mut p = PerDirection::<Vec<u8>>::default();
    for (dir, bytes) in app {
        p[*dir].extend_from_slice(bytes);
    }
    p
}

/// TLS 1.3 with `suite_id`: a full handshake, then `app`, one record each (after a
/// KeyUpdate of the server when `key_update`).
pub fn tls13(
    suite_id: u16,
    alpn: Option<&[u8]>,
    key_update: bool,
    app: &[(Direction, Vec<u8>)],
) -> Conversation {
    let suite = crypto::suite(suite_id).unwrap();
    let len = suite.prf.len();
    let (chs, shs, cap, sap) = (vec![1; len], vec![2; len], vec![3; len], vec![4; len]);
    let mut c_hs = RecordEncryptor::tls13(suite, &chs);
    let mut s_hs = RecordEncryptor::tls13(suite, &shs);
    let mut c_ap = RecordEncryptor::tls13(suite, &cap);
    let mut s_ap = RecordEncryptor::tls13(suite, &sap);
    let ee = alpn.map(|a| alpn_ext(&[a])).unwrap_or_default();
    let mut ee_body = (ee.len() as u16).to_be_bytes().to_vec();
    ee_body.extend_from_slice(&ee);
    let mut segments = vec![
        (
            ToServer,
            record(HANDSHAKE, &client_hello(true, false, &[b"h2", b"http/1.1"])),
        ),
        (
            ToClient,
            record(HANDSHAKE, &server_hello(suite_id, true, None)),
        ),
        (ToClient, record(CHANGE_CIPHER_SPEC, &[1])),
        (
            ToClient,
            s_hs.encrypt(
                HANDSHAKE,
                &[hs_msg(8, &ee_body), hs_msg(20, &[0xf0; 32])].concat(),
            ),
        ),
        (ToServer, record(CHANGE_CIPHER_SPEC, &[1])),
        (ToServer, c_hs.encrypt(HANDSHAKE, &hs_msg(20, &[0xf1; 32]))),
    ];
    if key_update {
        segments.push((ToClient, s_ap.encrypt(HANDSHAKE, &hs_msg(24, &[0]))));
        s_ap.key_update();
    }
    for (dir, bytes) in app {
        let sealer = match dir {
            ToServer => &mut c_ap,
            ToClient => &mut s_ap,
        };
        for piece in bytes.chunks(1 << 14) {
            segments.push((*dir, sealer.encrypt(APPLICATION_DATA, piece)));
        }
    }
    Conversation {
        plaintext: plaintext_of(app),
        segments,
        entries: vec![
            entry(Label::ClientHandshakeTrafficSecret, &chs),
            entry(Label::ServerHandshakeTrafficSecret, &shs),
            entry(Label::ClientTrafficSecret0, &cap),
            entry(Label::ServerTrafficSecret0, &sap),
        ],
    }
}

/// TLS 1.2 with `suite_id`: a full handshake, then `app`, one record each.
pub fn tls12(suite_id: u16, app: &[(Direction, Vec<u8>)]) -> Conversation {
    let suite = crypto::suite(suite_id).unwrap();
    let ms = [0x5a; 48];
    let keys = crypto::kdf::tls12_keys(suite, &ms, &CR, &SR);
    let mut c = RecordEncryptor::tls12(suite, &keys.client, false);
    let mut s = RecordEncryptor::tls12(suite, &keys.server, false);
    let segments = vec![
        (
            ToServer,
            record(HANDSHAKE, &client_hello(false, false, &[b"http/1.1"])),
        ),
        (
            ToClient,
            record(HANDSHAKE, &server_hello(suite_id, false, Some(b"http/1.1"))),
        ),
        (ToServer, record(CHANGE_CIPHER_SPEC, &[1])),
        (ToServer, c.encrypt(HANDSHAKE, &hs_msg(20, &[0xaa; 12]))),
        (ToClient, record(CHANGE_CIPHER_SPEC, &[1])),
        (ToClient, s.encrypt(HANDSHAKE, &hs_msg(20, &[0xbb; 12]))),
    ];
    let mut segments = segments;
    for (dir, bytes) in app {
        let sealer = match dir {
            ToServer => &mut c,
            ToClient => &mut s,
        };
        for piece in bytes.chunks(1 << 14) {
            segments.push((*dir, sealer.encrypt(APPLICATION_DATA, piece)));
        }
    }
    Conversation {
        plaintext: plaintext_of(app),
        segments,
        entries: vec![entry(Label::ClientRandom, &ms)],
    }
}
