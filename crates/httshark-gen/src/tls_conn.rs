//! One generated connection inside TLS 1.3: the handshake a passive observer sees and the
//! HTTP bytes of the scenario sealed into application-data records, on a [`TcpConn`].
//!
//! The handshake (RFC 8446 section 2, full 1-RTT): the client's ClientHello (plaintext;
//! SNI, supported_versions 1.3, ALPN `http/1.1`, an x25519 key share of random bytes); one
//! round trip later the server's ServerHello, its middlebox-compatibility ChangeCipherSpec
//! (appendix D.4) and one record under the server handshake secret holding
//! EncryptedExtensions (ALPN `http/1.1`), a Certificate (a fixed self-signed one), a
//! CertificateVerify and Finished (random bytes: nobody verifies them); then the client's
//! ChangeCipherSpec and Finished under the client handshake secret. Nothing derives the
//! secrets from this handshake (no key exchange, no transcript hash): they are drawn at
//! random, as only a key log reveals them anyway. The server's first application records
//! start with a NewSessionTicket (section 4.6.1), as servers send them; a side that closes
//! the connection in order first sends a `close_notify` alert (section 6.1).
//!
//! Every HTTP send of the scenario becomes records of at most 16384 bytes of content, in
//! one TCP send, so record boundaries follow the scenario's sends. A share of records
//! carries 1..=255 bytes of zero padding (section 5.4).
//!
//! The four traffic secrets and the client random are drawn from the connection's own
//! random stream (never the HTTP one, so the HTTP bytes are those of the plaintext
//! scenario) and stated in NSS key log lines. A connection the capture joins midstream has
//! no hellos and states no secrets: no passive decryptor can read it.
//!
//! [`TlsConn::stream_len`] counts plaintext (decrypted) bytes: the ground truth's stream
//! offsets stay those of the HTTP bytes.

use crate::rng::Rng;
use crate::tcp::{Direction, TcpConn};
use crate::tls::{
    hex, Sealer, Suite, CT_ALERT, CT_APPLICATION_DATA, CT_CHANGE_CIPHER_SPEC, CT_HANDSHAKE,
    MAX_FRAGMENT,
};

/// How connections use TLS in `--tls` mode.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsParams {
    pub suite: Suite,
    /// Share of application-data records with random padding.
    pub padding_share: f64,
    /// Also log the secrets of midstream connections (under a client random never sent),
    /// as a client's key log would have them: a decryptor can then only find them by
    /// trying them. Their records start at a random sequence number below 16.
    pub log_midstream: bool,
}

impl Default for TlsParams {
    fn default() -> TlsParams {
        TlsParams {
            suite: Suite::Aes128GcmSha256,
            padding_share: 0.05,
            log_midstream: false,
        }
    }
}

/// Handshake message types (RFC 8446 section 4).
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_NEW_SESSION_TICKET: u8 = 4;
const HS_ENCRYPTED_EXTENSIONS: u8 = 8;
const HS_CERTIFICATE: u8 = 11;
const HS_CERTIFICATE_VERIFY: u8 = 15;
const HS_FINISHED: u8 = 20;

/// Extension types (RFC 8446 section 4.2, RFC 6066, RFC 7301).
const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_KEY_SHARE: u16 = 51;
const X25519: u16 = 0x001d;

/// The 4 traffic secrets of a connection, by key log label, in the order a client logs
/// them.
const LABELS: [&str; 4] = [
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
    "SERVER_TRAFFIC_SECRET_0",
];

fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| (rng.next_u64() >> 56) as u8).collect()
}

/// `body` behind a big-endian length of `width` bytes (1, 2 or 3), as TLS vectors are
/// written (RFC 8446 section 3.4). The generator's own vectors always fit.
fn vec_n(width: usize, body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_be_bytes();
    let mut v = Vec::with_capacity(width + body.len());
    v.extend_from_slice(&len[4 - width..]);
    v.extend_from_slice(body);
    v
}

fn extension(ty: u16, body: &[u8]) -> Vec<u8> {
    let mut v = ty.to_be_bytes().to_vec();
    v.extend_from_slice(&vec_n(2, body));
    v
}

fn handshake(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![ty];
    v.extend_from_slice(&vec_n(3, body));
    v
}

/// A plaintext record (TLSPlaintext, section 5.1).
fn plain_record(ty: u8, version: u16, fragment: &[u8]) -> Vec<u8> {
    let mut v = vec![ty];
    v.extend_from_slice(&version.to_be_bytes());
    v.extend_from_slice(&vec_n(2, fragment));
    v
}

fn alpn_http11() -> Vec<u8> {
    vec_n(2, &vec_n(1, b"http/1.1"))
}

/// The ClientHello of section 4.1.2, offering all three suites (the configured one first).
fn client_hello(
    rng: &mut Rng,
    random: &[u8; 32],
    session_id: &[u8],
    sni: &str,
    suite: Suite,
) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(random);
    b.extend_from_slice(&vec_n(1, session_id));
    let mut suites = suite.id().to_be_bytes().to_vec();
    for s in Suite::ALL.into_iter().filter(|s| *s != suite) {
        suites.extend_from_slice(&s.id().to_be_bytes());
    }
    b.extend_from_slice(&vec_n(2, &suites));
    b.extend_from_slice(&[1, 0]); // legacy_compression_methods: null
    let mut ext = Vec::new();
    let mut name = vec![0u8]; // host_name
    name.extend_from_slice(&vec_n(2, sni.as_bytes()));
    ext.extend(extension(EXT_SERVER_NAME, &vec_n(2, &name)));
    ext.extend(extension(
        EXT_SUPPORTED_GROUPS,
        &vec_n(2, &[0x00, 0x1d, 0x00, 0x17]),
    ));
    ext.extend(extension(
        EXT_SIGNATURE_ALGORITHMS,
        &vec_n(2, &[0x04, 0x03, 0x08, 0x04, 0x04, 0x01]),
    ));
    ext.extend(extension(EXT_ALPN, &alpn_http11()));
    ext.extend(extension(EXT_SUPPORTED_VERSIONS, &vec_n(1, &[3, 4])));
    let mut share = X25519.to_be_bytes().to_vec();
    share.extend_from_slice(&vec_n(2, &random_bytes(rng, 32)));
    ext.extend(extension(EXT_KEY_SHARE, &vec_n(2, &share)));
    b.extend_from_slice(&vec_n(2, &ext));
    handshake(HS_CLIENT_HELLO, &b)
}

/// The ServerHello of section 4.1.3: TLS 1.3 in supported_versions, the legacy session id
/// echoed.
fn server_hello(rng: &mut Rng, session_id: &[u8], suite: Suite) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&random_bytes(rng, 32));
    b.extend_from_slice(&vec_n(1, session_id));
    b.extend_from_slice(&suite.id().to_be_bytes());
    b.push(0);
    let mut ext = extension(EXT_SUPPORTED_VERSIONS, &[3, 4]);
    let mut share = X25519.to_be_bytes().to_vec();
    share.extend_from_slice(&vec_n(2, &random_bytes(rng, 32)));
    ext.extend(extension(EXT_KEY_SHARE, &share));
    b.extend_from_slice(&vec_n(2, &ext));
    handshake(HS_SERVER_HELLO, &b)
}

/// EncryptedExtensions, Certificate, CertificateVerify and Finished (sections 4.3.1,
/// 4.4.2-4.4.4): a fixed certificate, random bytes where the signature and MAC would be.
fn server_flight(rng: &mut Rng, suite: Suite) -> Vec<u8> {
    let mut v = handshake(
        HS_ENCRYPTED_EXTENSIONS,
        &vec_n(2, &extension(EXT_ALPN, &alpn_http11())),
    );
    let mut entry = vec_n(3, CERT_DER);
    entry.extend_from_slice(&[0, 0]); // no per-certificate extensions
    let mut cert = vec![0]; // empty certificate_request_context
    cert.extend_from_slice(&vec_n(3, &entry));
    v.extend(handshake(HS_CERTIFICATE, &cert));
    let mut cv = vec![0x08, 0x07]; // ed25519, the certificate's key
    cv.extend_from_slice(&vec_n(2, &random_bytes(rng, 64)));
    v.extend(handshake(HS_CERTIFICATE_VERIFY, &cv));
    v.extend(handshake(HS_FINISHED, &random_bytes(rng, suite.hash_len())));
    v
}

/// A NewSessionTicket (section 4.6.1): lifetime, age_add, nonce, ticket, no extensions.
fn new_session_ticket(rng: &mut Rng) -> Vec<u8> {
    let mut b = 7200u32.to_be_bytes().to_vec();
    b.extend_from_slice(&rng.next_u32().to_be_bytes());
    b.extend_from_slice(&vec_n(1, &random_bytes(rng, 8)));
    b.extend_from_slice(&vec_n(2, &random_bytes(rng, 112)));
    b.extend_from_slice(&[0, 0]);
    handshake(HS_NEW_SESSION_TICKET, &b)
}

/// A self-signed Ed25519 certificate for `CN=example.test` (made once with `openssl req
/// -x509 -newkey ed25519`, DER): the Certificate message carries a real certificate so
/// that dissectors (tshark) read the server's flight without complaint. Nobody checks it.
const CERT_DER: &[u8] = &[
    0x30, 0x82, 0x01, 0x31, 0x30, 0x81, 0xe4, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01, 0x30,
    0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x30, 0x17, 0x31, 0x15, 0x30, 0x13, 0x06, 0x03, 0x55, 0x04,
    0x03, 0x0c, 0x0c, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x30,
    0x20, 0x17, 0x0d, 0x32, 0x36, 0x31, 0x32, 0x30, 0x34, 0x31, 0x38, 0x32, 0x35, 0x35, 0x38, 0x5a,
    0x18, 0x0f, 0x32, 0x31, 0x32, 0x36, 0x31, 0x31, 0x31, 0x30, 0x31, 0x38, 0x32, 0x35, 0x35, 0x38,
    0x5a, 0x30, 0x17, 0x31, 0x15, 0x30, 0x13, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x0c, 0x65, 0x78,
    0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
    0x2b, 0x65, 0x70, 0x03, 0x21, 0x00, 0x01, 0x1b, 0xa1, 0x6b, 0xe8, 0x77, 0x91, 0x35, 0xc9, 0x47,
    0x9b, 0x0a, 0xc7, 0xb2, 0x19, 0xcd, 0xa8, 0xee, 0x93, 0xdb, 0x12, 0x20, 0x22, 0x5e, 0xf9, 0x3e,
    0x05, 0x1e, 0xf3, 0x94, 0x87, 0xfd, 0xa3, 0x53, 0x30, 0x51, 0x30, 0x1d, 0x06, 0x03, 0x55, 0x1d,
    0x0e, 0x04, 0x16, 0x04, 0x14, 0xc8, 0x90, 0x10, 0xba, 0x0f, 0x64, 0xd4, 0x87, 0xce, 0x38, 0x62,
    0xa9, 0x53, 0x60, 0x15, 0xbe, 0x86, 0x40, 0xbb, 0x53, 0x30, 0x1f, 0x06, 0x03, 0x55, 0x1d, 0x23,
    0x04, 0x18, 0x30, 0x16, 0x80, 0x14, 0xc8, 0x90, 0x10, 0xba, 0x0f, 0x64, 0xd4, 0x87, 0xce, 0x38,
    0x62, 0xa9, 0x53, 0x60, 0x15, 0xbe, 0x86, 0x40, 0xbb, 0x53, 0x30, 0x0f, 0x06, 0x03, 0x55, 0x1d,
    0x13, 0x01, 0x01, 0xff, 0x04, 0x05, 0x30, 0x03, 0x01, 0x01, 0xff, 0x30, 0x05, 0x06, 0x03, 0x2b,
    0x65, 0x70, 0x03, 0x41, 0x00, 0xc6, 0xb7, 0xaa, 0x4c, 0xf8, 0x61, 0x3a, 0xd0, 0x1a, 0x66, 0x53,
    0xb0, 0x92, 0x4c, 0xf1, 0xcf, 0x09, 0x15, 0x68, 0x29, 0xfd, 0x29, 0x24, 0x09, 0x1f, 0xdc, 0xeb,
    0x7c, 0xdc, 0x23, 0xa7, 0x8a, 0x1d, 0xde, 0x58, 0x23, 0xeb, 0x49, 0x44, 0x69, 0xff, 0xea, 0xda,
    0x80, 0x08, 0x1d, 0xc5, 0xe5, 0x64, 0xe1, 0xa7, 0xe7, 0xcb, 0x9c, 0xa3, 0x30, 0x22, 0xf9, 0x5d,
    0x03, 0xe3, 0x8f, 0x5e, 0x0c,
];

const CCS: [u8; 6] = [CT_CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1];

/// One connection's TLS state on the generator's side.
pub struct TlsConn {
    suite: Suite,
    padding_share: f64,
    rng: Rng,
    client_random: [u8; 32],
    /// Client handshake, server handshake, client application, server application.
    secrets: [Vec<u8>; 4],
    /// Application-data protection per direction (`Direction::index`).
    app: [Sealer; 2],
    /// Plaintext bytes sent per direction.
    plain_sent: [u64; 2],
    /// The server has not sent its NewSessionTicket yet.
    ticket_pending: bool,
    /// The hellos were sent: the key log may state this connection.
    handshaken: bool,
    log_midstream: bool,
}

impl std::fmt::Debug for TlsConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConn")
            .field("suite", &self.suite)
            .field("plain_sent", &self.plain_sent)
            .finish_non_exhaustive()
    }
}

impl TlsConn {
    /// A connection's TLS, its randomness all from `rng` (the connection's own TLS stream).
    /// `None` only if the suite's key derivation fails, which it does not for secrets of
    /// the suite's hash length.
    pub fn new(p: &TlsParams, mut rng: Rng) -> Option<TlsConn> {
        let suite = p.suite;
        let client_random: [u8; 32] = random_bytes(&mut rng, 32).try_into().ok()?;
        let secrets: [Vec<u8>; 4] =
            std::array::from_fn(|_| random_bytes(&mut rng, suite.hash_len()));
        let app = [
            Sealer::new(suite, &secrets[2])?,
            Sealer::new(suite, &secrets[3])?,
        ];
        Some(TlsConn {
            suite,
            padding_share: p.padding_share,
            rng,
            client_random,
            secrets,
            app,
            plain_sent: [0, 0],
            ticket_pending: true,
            handshaken: false,
            log_midstream: p.log_midstream,
        })
    }

    /// The full handshake on `conn`, from its current time: ClientHello, one RTT, the
    /// server's flight, then the client's ChangeCipherSpec and Finished. `sni` is the
    /// server name (no port).
    pub fn handshake(&mut self, conn: &mut TcpConn, sni: &str) {
        let suite = self.suite;
        let session_id = random_bytes(&mut self.rng, 32);
        let ch = client_hello(&mut self.rng, &self.client_random, &session_id, sni, suite);
        // Clients write 0x0301 in the ClientHello's record for old middleboxes (section 5.1).
        conn.send(
            Direction::ToServer,
            &plain_record(CT_HANDSHAKE, 0x0301, &ch),
        );
        conn.wait(conn.params().rtt);

        let mut flight = plain_record(
            CT_HANDSHAKE,
            0x0303,
            &server_hello(&mut self.rng, &session_id, suite),
        );
        flight.extend_from_slice(&CCS);
        if let Some(mut hs) = Sealer::new(suite, &self.secrets[1]) {
            hs.seal(
                CT_HANDSHAKE,
                &server_flight(&mut self.rng, suite),
                0,
                &mut flight,
            );
        }
        conn.send(Direction::ToClient, &flight);
        conn.wait(conn.params().ack_delay);

        let mut fin = CCS.to_vec();
        if let Some(mut hs) = Sealer::new(suite, &self.secrets[0]) {
            let f = handshake(HS_FINISHED, &random_bytes(&mut self.rng, suite.hash_len()));
            hs.seal(CT_HANDSHAKE, &f, 0, &mut fin);
        }
        conn.send(Direction::ToServer, &fin);
        conn.wait(conn.params().gap);
        self.handshaken = true;
    }

    /// A connection the capture joins after its handshake and some records: both
    /// directions' sequence numbers start below 16 instead of 0.
    pub fn join_midstream(&mut self) {
        for a in &mut self.app {
            a.skip(self.rng.below(16));
        }
    }

    /// Plaintext bytes sent so far in `dir` (the HTTP stream's length).
    pub fn stream_len(&self, dir: Direction) -> u64 {
        self.plain_sent[dir.index()]
    }

    /// Sends `data` from `dir` as application-data records in one TCP send (nothing for
    /// empty data). The server's first send is preceded by its NewSessionTicket.
    pub fn send(&mut self, conn: &mut TcpConn, dir: Direction, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let mut wire = Vec::with_capacity(data.len() + data.len() / 1000 + 64);
        let i = dir.index();
        if dir == Direction::ToClient && self.ticket_pending && self.handshaken {
            self.ticket_pending = false;
            let nst = new_session_ticket(&mut self.rng);
            self.app[i].seal(CT_HANDSHAKE, &nst, 0, &mut wire);
        }
        for piece in data.chunks(MAX_FRAGMENT) {
            let room = MAX_FRAGMENT - piece.len();
            let padding = if room > 0 && self.rng.chance(self.padding_share) {
                self.rng.range(1, 255).min(room as u64) as usize
            } else {
                0
            };
            self.app[i].seal(CT_APPLICATION_DATA, piece, padding, &mut wire);
        }
        self.plain_sent[i] += data.len() as u64;
        conn.send(dir, &wire);
    }

    /// A `close_notify` alert from `dir` (section 6.1), sent before its FIN.
    pub fn close_notify(&mut self, conn: &mut TcpConn, dir: Direction) {
        let mut wire = Vec::new();
        self.app[dir.index()].seal(CT_ALERT, &[1, 0], 0, &mut wire);
        conn.send(dir, &wire);
    }

    /// The connection's NSS key log lines (empty when the handshake was not sent: a
    /// midstream connection).
    pub fn keylog(&self) -> String {
        if !self.handshaken && !self.log_midstream {
            return String::new();
        }
        let random = hex(&self.client_random);
        LABELS
            .iter()
            .zip(&self.secrets)
            .map(|(label, s)| format!("{label} {random} {}\n", hex(s)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::TcpParams;
    use crate::time::Timestamp;

    fn conn() -> TcpConn {
        TcpConn::new(
            0,
            "10.0.0.1:40000".parse().unwrap(),
            "192.0.2.1:443".parse().unwrap(),
            TcpParams::default(),
            Timestamp::from_secs_nanos(1_700_000_000, 0),
        )
        .unwrap()
    }

    /// The client's byte stream of a connection, and the server's.
    fn streams(c: TcpConn) -> [Vec<u8>; 2] {
        let mut out = [Vec::new(), Vec::new()];
        for p in c.finish() {
            let m = p.meta;
            let at = m.payload_at as usize;
            out[m.dir.index()].extend_from_slice(&p.data[at..at + m.payload_len as usize]);
        }
        out
    }

    /// Splits a byte stream into (content type, fragment) records.
    fn records(mut s: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut v = Vec::new();
        while s.len() >= 5 {
            let len = u16::from_be_bytes([s[3], s[4]]) as usize;
            v.push((s[0], s[5..5 + len].to_vec()));
            s = &s[5 + len..];
        }
        assert!(s.is_empty(), "stream ends inside a record");
        v
    }

    #[test]
    fn handshake_and_data_frame_as_records_and_keylog_names_the_client_random() {
        let p = TlsParams {
            padding_share: 1.0,
            ..TlsParams::default()
        };
        let mut t = TlsConn::new(&p, Rng::new(7)).unwrap();
        let mut c = conn();
        assert!(t.keylog().is_empty(), "no secrets before the hellos");
        t.handshake(&mut c, "www.example.com");
        let req = vec![b'a'; 40_000];
        t.send(&mut c, Direction::ToServer, &req);
        t.send(
            &mut c,
            Direction::ToClient,
            b"HTTP/1.1 204 No Content\r\n\r\n",
        );
        t.close_notify(&mut c, Direction::ToServer);
        assert_eq!(t.stream_len(Direction::ToServer), 40_000);
        let [cs, ss] = streams(c);
        let crec = records(&cs);
        let types: Vec<u8> = crec.iter().map(|r| r.0).collect();
        // ClientHello, CCS, Finished, 3 records of request (16384+16384+7232), close_notify.
        assert_eq!(types, [22, 20, 23, 23, 23, 23, 23]);
        assert!(
            crec[3].1.len() == 16_384 + 1 + 16 && crec[5].1.len() > 7232 + 1 + 16,
            "the last piece is padded"
        );
        let ch = &crec[0].1;
        assert_eq!(ch[0], HS_CLIENT_HELLO);
        assert!(ch.windows(15).any(|w| w == b"www.example.com"));
        let random = hex(&ch[6..38]);
        let log = t.keylog();
        assert_eq!(log.lines().count(), 4);
        for (line, label) in log.lines().zip(LABELS) {
            let f: Vec<&str> = line.split(' ').collect();
            assert_eq!((f[0], f[1], f[2].len()), (label, random.as_str(), 64));
        }
        let stypes: Vec<u8> = records(&ss).iter().map(|r| r.0).collect();
        // ServerHello, CCS, encrypted flight, NewSessionTicket, the response.
        assert_eq!(stypes, [22, 20, 23, 23, 23]);
    }

    #[test]
    fn same_rng_same_bytes() {
        let run = || {
            let mut t = TlsConn::new(&TlsParams::default(), Rng::new(3)).unwrap();
            let mut c = conn();
            t.handshake(&mut c, "a.example");
            t.send(&mut c, Direction::ToServer, b"GET / HTTP/1.1\r\n\r\n");
            (c.finish(), t.keylog())
        };
        assert_eq!(run(), run());
    }
}
