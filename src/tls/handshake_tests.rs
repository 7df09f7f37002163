//! Handshake parsing on real hellos (two public captures and RFC 8448, checked against
//! what tshark and the RFC say they contain), truncation at every length, the HRR random,
//! and reassembly at every split point.

use super::*;
use crate::tls::crypto::test_vectors::hex;

/// Zeek `tls12-decryption.pcap`, frame 4 (Firefox 78 offering TLS 1.3 and 1.2).
const ZK_CLIENT_HELLO: &str = "\
    010001fc03034d98940fb40a244b48e42eac287144b1b7393057caa131f961a78e38b0e77c1e20a73fd3e296a0c40f57\
    3b69153daef2a35a93c31ae485b6af10b7457d2d1490ae0002c030010001b10000000d000b00000868656973652e6465\
    00170000ff01000100000a000e000c001d00170018001901000101000b00020100002300000010000e000c0268320868\
    7474702f312e310005000501000000000033006b0069001d002070e407d3ebfed3d642e65f0e919bcdb6a6f754fd8a3b\
    3b944d1bdda975a19a78001700410494ba74b43e8faadac80374b1002083f9b992a9cc666e788270f0eab219870415b6\
    b1a9d14e32e1d84003c86c9dcaf4bd3ae194cda00aabc14d9aa3bcae1df8e1002b00050403040303000d001800160403\
    0503060308040805080604010501060102030201002d00020101001c00024001001500bc000000000000000000000000\
    000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
    000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
    000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
    0000000000000000000000000000000000000000000000000000000000000000";
/// Frame 6: TLS 1.2, 0xC030, ALPN http/1.1.
const ZK_SERVER_HELLO: &str = "\
    0200005003031a53a25de65a4d2d7b2c4148ea48a74d103ad79d730ea6ce51960adc8d80d94300c030000028ff010001\
    0000000000000b000403000102002300000010000b000908687474702f312e3100170000";
/// `it13_tls13-capture.pcap` (illustrated TLS 1.3), frame 5.
const IT13_CLIENT_HELLO: &str = "\
    010000f40303000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20e0e1e2e3e4e5e6e7e8\
    e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000813021303130100ff010000a30000001800160000136578\
    616d706c652e756c666865696d2e6e6574000b000403000102000a00160014001d0017001e0019001801000101010201\
    030104002300000016000000170000000d001e001c040305030603080708080809080a080b0804080508060401050106\
    01002b0003020304002d00020101003300260024001d0020358072d6365880d1aeea329adf9121383851ed21a28e3b75\
    e965d0d2cd166254";
/// Frame 7: TLS 1.3, 0x1302.
const IT13_SERVER_HELLO: &str = "\
    020000760303707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f20e0e1e2e3e4e5e6e7e8\
    e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff130200002e002b0002030400330024001d00209fd7ad6dcff4\
    298dd3f96d5b1b2af910a0535b1488d7f8fabb349a982880b615";
/// RFC 8448 §3, {client} ClientHello and {server} ServerHello (TLS 1.3, 0x1301).
const RFC8448_CLIENT_HELLO: &str = "
    01 00 00 c0 03 03 cb 34 ec b1 e7 81 63 ba 1c 38 c6 da cb 19 6a 6d ff a2 1a 8d 99 12
    ec 18 a2 ef 62 83 02 4d ec e7 00 00 06 13 01 13 03 13 02 01 00 00 91 00 00 00 0b 00
    09 00 00 06 73 65 72 76 65 72 ff 01 00 01 00 00 0a 00 14 00 12 00 1d 00 17 00 18 00
    19 01 00 01 01 01 02 01 03 01 04 00 23 00 00 00 33 00 26 00 24 00 1d 00 20 99 38 1d
    e5 60 e4 bd 43 d2 3d 8e 43 5a 7d ba fe b3 c0 6e 51 c1 3c ae 4d 54 13 69 1e 52 9a af
    2c 00 2b 00 03 02 03 04 00 0d 00 20 00 1e 04 03 05 03 06 03 02 03 08 04 08 05 08 06
    04 01 05 01 06 01 02 01 04 02 05 02 06 02 02 02 00 2d 00 02 01 01 00 1c 00 02 40 01";
const RFC8448_SERVER_HELLO: &str = "
    02 00 00 56 03 03 a6 af 06 a4 12 18 60 dc 5e 6e 60 24 9c d3 4c 95 93 0c 8a c5 cb 14
    34 da c1 55 77 2e d3 e2 69 28 00 13 01 00 00 2e 00 33 00 24 00 1d 00 20 c9 82 88 76
    11 20 95 fe 66 76 2b db f7 c6 72 e1 56 d6 cc 25 3b 83 3d f1 dd 69 b1 b0 4e 75 1f 0f
    00 2b 00 02 03 04";
/// RFC 8448 §3, EncryptedExtensions (supported_groups, record_size_limit, server_name).
const RFC8448_ENCRYPTED_EXTENSIONS: &str = "08 00 00 24 00 22 00 0a 00 14 00 12 00 1d 00 17
    00 18 00 19 01 00 01 01 01 02 01 03 01 04 00 1c 00 02 40 01 00 00 00 00";

/// A whole handshake message (header + body) as bytes, checking its header.
fn message(s: &str, want_type: u8) -> Vec<u8> {
    let m = hex(s);
    assert_eq!(m[0], want_type);
    let len = usize::from(m[1]) << 16 | usize::from(m[2]) << 8 | usize::from(m[3]);
    assert_eq!(len + 4, m.len(), "vector length");
    m
}

fn body(s: &str, want_type: u8) -> Vec<u8> {
    message(s, want_type)[4..].to_vec()
}

/// Expected values from `tshark -T fields -e tls.handshake.extensions_server_name -e
/// tls.handshake.extensions_alpn_str -e tls.handshake.session_id -e
/// tls.handshake.ciphersuite -e tls.handshake.extensions.supported_version` on the capture.
#[test]
fn zeek_tls12_hellos() {
    let ch = parse_client_hello(&body(ZK_CLIENT_HELLO, msg::CLIENT_HELLO)).unwrap();
    assert_eq!(
        ch.random,
        <[u8; 32]>::try_from(hex(crate::tls::crypto::test_vectors::ZK_CLIENT_RANDOM)).unwrap()
    );
    assert_eq!(ch.sni.as_deref(), Some("heise.de"));
    assert_eq!(ch.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    assert_eq!(
        ch.session_id,
        hex("a73fd3e296a0c40f573b69153daef2a35a93c31ae485b6af10b7457d2d1490ae")
    );
    assert_eq!(ch.cipher_suites, vec![0xC030]);
    assert_eq!(ch.supported_versions, vec![0x0304, 0x0303]);
    // Extensions 0,23,65281,10,11,35,16,5,51,43,13,45,28,21: no PSK, early data, ECH or EtM;
    // an empty SessionTicket (support only).
    assert!(!ch.pre_shared_key && !ch.early_data && !ch.ech && !ch.encrypt_then_mac);
    assert_eq!(ch.session_ticket, None);

    let sh = parse_server_hello(&body(ZK_SERVER_HELLO, msg::SERVER_HELLO)).unwrap();
    assert_eq!(
        sh.random,
        <[u8; 32]>::try_from(hex(crate::tls::crypto::test_vectors::ZK_SERVER_RANDOM)).unwrap()
    );
    assert_eq!((sh.cipher_suite, sh.version), (0xC030, 0x0303));
    assert!(!sh.is_tls13() && !sh.hello_retry && !sh.encrypt_then_mac && !sh.pre_shared_key);
    assert_eq!(sh.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert!(sh.session_id.is_empty());
}

#[test]
fn illustrated_tls13_hellos() {
    let ch = parse_client_hello(&body(IT13_CLIENT_HELLO, msg::CLIENT_HELLO)).unwrap();
    let want_random: Vec<u8> = (0u8..32).collect();
    assert_eq!(ch.random.as_slice(), want_random.as_slice());
    assert_eq!(ch.sni.as_deref(), Some("example.ulfheim.net"));
    assert!(ch.alpn.is_empty());
    assert_eq!(ch.cipher_suites, vec![0x1302, 0x1303, 0x1301, 0x00FF]);
    assert_eq!(ch.supported_versions, vec![0x0304]);
    let want_sid: Vec<u8> = (0xE0u8..=0xFF).collect();
    assert_eq!(ch.session_id, want_sid);
    assert!(ch.encrypt_then_mac, "extension 22 is offered");
    assert!(!ch.pre_shared_key && !ch.early_data);

    let sh = parse_server_hello(&body(IT13_SERVER_HELLO, msg::SERVER_HELLO)).unwrap();
    let want_random: Vec<u8> = (0x70u8..0x90).collect();
    assert_eq!(sh.random.as_slice(), want_random.as_slice());
    assert_eq!((sh.cipher_suite, sh.version), (0x1302, 0x0304));
    assert!(sh.is_tls13() && !sh.hello_retry && sh.alpn.is_none());
    assert_eq!(
        sh.session_id, want_sid,
        "TLS 1.3 echoes the legacy session id"
    );
}

#[test]
fn rfc8448_hellos_and_encrypted_extensions() {
    let ch = parse_client_hello(&body(RFC8448_CLIENT_HELLO, msg::CLIENT_HELLO)).unwrap();
    assert_eq!(ch.sni.as_deref(), Some("server"));
    assert_eq!(ch.cipher_suites, vec![0x1301, 0x1303, 0x1302]);
    assert_eq!(ch.supported_versions, vec![0x0304]);
    assert!(ch.session_id.is_empty());
    assert_eq!(&ch.random[..4], &[0xcb, 0x34, 0xec, 0xb1]);
    let sh = parse_server_hello(&body(RFC8448_SERVER_HELLO, msg::SERVER_HELLO)).unwrap();
    assert_eq!((sh.cipher_suite, sh.version), (0x1301, 0x0304));
    let ee = parse_encrypted_extensions(&body(
        RFC8448_ENCRYPTED_EXTENSIONS,
        msg::ENCRYPTED_EXTENSIONS,
    ))
    .unwrap();
    assert_eq!(
        ee,
        EncryptedExtensions {
            alpn: None,
            early_data: false
        }
    );
}

/// Every strict prefix of every real message is an error, never a panic — except the one
/// place where a TLS 1.2 hello may legally end: right before its optional extensions.
#[test]
fn truncation_at_every_length_is_an_error() {
    let hellos: [(&str, u8); 6] = [
        (ZK_CLIENT_HELLO, 1),
        (ZK_SERVER_HELLO, 2),
        (IT13_CLIENT_HELLO, 1),
        (IT13_SERVER_HELLO, 2),
        (RFC8448_CLIENT_HELLO, 1),
        (RFC8448_SERVER_HELLO, 2),
    ];
    for (s, ty) in hellos {
        let b = body(s, ty);
        // Where the extensions start: after the session id, suites and compression.
        let sid_end = 2 + 32 + 1 + usize::from(b[34]);
        let ext_start = if ty == 1 {
            let suites_end =
                sid_end + 2 + usize::from(u16::from_be_bytes([b[sid_end], b[sid_end + 1]]));
            suites_end + 1 + usize::from(b[suites_end])
        } else {
            sid_end + 3
        };
        for n in 0..b.len() {
            let ok = if ty == 1 {
                parse_client_hello(&b[..n]).is_ok()
            } else {
                parse_server_hello(&b[..n]).is_ok()
            };
            assert_eq!(
                ok,
                n == ext_start,
                "type {ty} truncated to {n} of {}",
                b.len()
            );
        }
    }
    let ee = body(RFC8448_ENCRYPTED_EXTENSIONS, msg::ENCRYPTED_EXTENSIONS);
    for n in 0..ee.len() {
        assert!(parse_encrypted_extensions(&ee[..n]).is_err(), "{n}");
    }
    let nst = [0, 0, 0, 60, 0, 3, 1, 2, 3];
    assert_eq!(parse_new_session_ticket12(&nst), Ok(vec![1, 2, 3]));
    for n in 0..nst.len() {
        assert!(parse_new_session_ticket12(&nst[..n]).is_err(), "{n}");
    }
    assert!(
        parse_new_session_ticket12(&[0, 0, 0, 60, 0, 0, 9]).is_err(),
        "trailing byte"
    );
}

/// Bytes after the extensions block, or inconsistent inner lengths, are errors; a malformed
/// known extension is ignored.
#[test]
fn framing_errors_and_tolerated_extensions() {
    let mut b = body(IT13_SERVER_HELLO, msg::SERVER_HELLO);
    b.push(0);
    assert_eq!(
        parse_server_hello(&b),
        Err(HandshakeError::Invalid {
            what: "bytes after the extensions"
        })
    );
    // ClientHello: an odd suite list.
    let mut ch = vec![3, 3];
    ch.extend_from_slice(&[0; 32]);
    ch.extend_from_slice(&[0, 0, 3, 0x13, 1, 0, 1, 0]);
    assert!(matches!(
        parse_client_hello(&ch),
        Err(HandshakeError::Invalid { .. })
    ));
    // A minimal hello with a broken SNI and ALPN inside well-framed extensions.
    let mut ch = vec![3, 3];
    ch.extend_from_slice(&[7; 32]);
    ch.extend_from_slice(&[0, 0, 2, 0x13, 1, 1, 0]);
    let exts: &[u8] = &[
        0, 0, 0, 2, 0, 9, 0, 16, 0, 3, 0, 1, 5, 0xfe, 0x0d, 0, 0, 0, 22, 0, 0,
    ];
    ch.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    ch.extend_from_slice(exts);
    let h = parse_client_hello(&ch).unwrap();
    assert_eq!(
        (h.sni, h.alpn.len(), h.ech, h.encrypt_then_mac),
        (None, 0, true, true)
    );
    assert_eq!(h.cipher_suites, vec![0x1301]);
}

fn server_hello_with(random: [u8; 32], exts: &[u8]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&random);
    b.extend_from_slice(&[0, 0x13, 0x02, 0]);
    b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    b.extend_from_slice(exts);
    b
}

#[test]
fn hello_retry_request_random_is_recognised() {
    use sha2::Digest;
    let digest: [u8; 32] = sha2::Sha256::digest(b"HelloRetryRequest").into();
    assert_eq!(digest, HELLO_RETRY_REQUEST_RANDOM);
    let hrr = parse_server_hello(&server_hello_with(digest, &[0, 43, 0, 2, 3, 4])).unwrap();
    assert!(hrr.hello_retry && hrr.is_tls13());
    let mut other = digest;
    other[31] ^= 1;
    assert!(
        !parse_server_hello(&server_hello_with(other, &[]))
            .unwrap()
            .hello_retry
    );
}

#[test]
fn server_hello_alpn_etm_and_psk() {
    let exts = [
        0, 16, 0, 5, 0, 3, 2, b'h', b'2', 0, 22, 0, 0, 0, 41, 0, 2, 0, 0,
    ];
    let sh = parse_server_hello(&server_hello_with([1; 32], &exts)).unwrap();
    assert_eq!(sh.alpn.as_deref(), Some(&b"h2"[..]));
    assert!(sh.encrypt_then_mac && sh.pre_shared_key);
    assert_eq!(
        sh.version, 0x0303,
        "no supported_versions: the legacy field"
    );
    // A "selected" list of two names is not a valid selection.
    let exts = [0, 16, 0, 7, 0, 5, 1, b'a', 2, b'h', b'2'];
    assert_eq!(
        parse_server_hello(&server_hello_with([1; 32], &exts))
            .unwrap()
            .alpn,
        None
    );
}

#[test]
fn encrypted_extensions_alpn_and_early_data() {
    let ee = [0, 13, 0, 16, 0, 5, 0, 3, 2, b'h', b'2', 0, 42, 0, 0];
    let e = parse_encrypted_extensions(&ee).unwrap();
    assert_eq!(
        e,
        EncryptedExtensions {
            alpn: Some(b"h2".to_vec()),
            early_data: true
        }
    );
}

#[test]
fn key_update_body() {
    assert_eq!(parse_key_update(&[0]), Ok(false));
    assert_eq!(parse_key_update(&[1]), Ok(true));
    assert!(parse_key_update(&[]).is_err() && parse_key_update(&[2]).is_err());
}

fn drain(r: &mut HandshakeReader, into: &mut Vec<HandshakeEvent>) {
    while let Some(e) = r.next() {
        into.push(e);
    }
}

/// Several messages back to back, pushed in two pieces split at every byte, and one byte at
/// a time: always the same messages.
#[test]
fn reader_reassembles_at_every_split() {
    let msgs = [
        message(IT13_CLIENT_HELLO, 1),
        message(RFC8448_ENCRYPTED_EXTENSIONS, 8),
        vec![20, 0, 0, 0],
        message(ZK_SERVER_HELLO, 2),
    ];
    let stream: Vec<u8> = msgs.concat();
    let want: Vec<HandshakeEvent> = msgs
        .iter()
        .map(|m| HandshakeEvent::Message {
            msg_type: m[0],
            body: m[4..].to_vec(),
        })
        .collect();
    for split in 0..=stream.len() {
        let mut r = HandshakeReader::new();
        let mut got = Vec::new();
        r.push(&stream[..split]);
        drain(&mut r, &mut got);
        r.push(&stream[split..]);
        drain(&mut r, &mut got);
        assert_eq!(got, want, "split at {split}");
        assert_eq!(r.buffered(), 0);
    }
    let mut r = HandshakeReader::new();
    let mut got = Vec::new();
    for b in &stream {
        r.push(std::slice::from_ref(b));
        drain(&mut r, &mut got);
    }
    assert_eq!(got, want);
}

/// A message over the limit is reported once and dropped as it streams (never buffered);
/// the message after it comes through intact.
#[test]
fn reader_skips_an_oversized_message_without_buffering_it() {
    let len = MAX_HANDSHAKE_MESSAGE + 1;
    let mut stream = vec![11, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    stream.resize(4 + len, 0xAB);
    stream.extend_from_slice(&[20, 0, 0, 2, 9, 9]);
    for chunk in [1usize, 1000, 16 * 1024 + 5, stream.len()] {
        let mut r = HandshakeReader::new();
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            r.push(piece);
            drain(&mut r, &mut got);
            // At most one push plus the small message after it (6 bytes) still incomplete.
            assert!(
                r.buffered() <= chunk.max(6),
                "chunk {chunk}: holds {}",
                r.buffered()
            );
        }
        assert_eq!(
            got,
            vec![
                HandshakeEvent::Oversized { msg_type: 11, len },
                HandshakeEvent::Message {
                    msg_type: 20,
                    body: vec![9, 9]
                },
            ],
            "chunk {chunk}"
        );
        assert_eq!(r.oversized(), 1);
    }
    // Exactly the limit is still reassembled.
    let mut r = HandshakeReader::new();
    let max = MAX_HANDSHAKE_MESSAGE;
    let mut m = vec![11, (max >> 16) as u8, (max >> 8) as u8, max as u8];
    m.resize(4 + max, 1);
    r.push(&m);
    assert!(matches!(r.next(), Some(HandshakeEvent::Message { body, .. }) if body.len() == max));
}

#[test]
fn reader_clear_forgets_a_partial_message() {
    let mut r = HandshakeReader::new();
    r.push(&[1, 0, 0, 10, 1, 2]);
    assert_eq!(r.next(), None);
    r.clear();
    r.push(&[20, 0, 0, 1, 7]);
    assert_eq!(
        r.next(),
        Some(HandshakeEvent::Message {
            msg_type: 20,
            body: vec![7]
        })
    );
}

#[test]
fn errors_display_without_bytes() {
    let e = HandshakeError::Truncated { what: "random" };
    assert_eq!(e.to_string(), "handshake message truncated in random");
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Real hellos with bytes overwritten anywhere, and cut anywhere: never a panic, and
        /// whatever parses keeps the fixed-position fields where the wire has them.
        #[test]
        fn mutated_hellos_never_panic(
            which in 0usize..4,
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
            cut in any::<usize>(),
        ) {
            let (s, ty) = [(ZK_CLIENT_HELLO, 1), (ZK_SERVER_HELLO, 2), (IT13_CLIENT_HELLO, 1), (RFC8448_SERVER_HELLO, 2)][which];
            let mut b = body(s, ty);
            for (at, v) in edits {
                let i = at % b.len();
                b[i] = v;
            }
            b.truncate(cut % (b.len() + 1));
            if ty == 1 {
                if let Ok(h) = parse_client_hello(&b) {
                    prop_assert_eq!(&h.random[..], &b[2..34]);
                    prop_assert!(h.session_id.len() <= 32);
                }
            } else if let Ok(h) = parse_server_hello(&b) {
                prop_assert_eq!(&h.random[..], &b[2..34]);
                prop_assert_eq!(h.hello_retry, h.random == HELLO_RETRY_REQUEST_RANDOM);
            }
            let _ = parse_encrypted_extensions(&b);
            let _ = parse_new_session_ticket12(&b);
        }

        /// Arbitrary bytes in arbitrary pieces: the reader yields exactly the messages a
        /// one-shot walk of the same bytes finds (at most one oversized, skipped).
        #[test]
        fn reader_matches_a_one_shot_walk(
            bytes in proptest::collection::vec(any::<u8>(), 0..400),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let mut want = Vec::new();
            let mut at = 0;
            while bytes.len() >= at + 4 {
                let len = usize::from(bytes[at + 1]) << 16 | usize::from(bytes[at + 2]) << 8 | usize::from(bytes[at + 3]);
                if len > MAX_HANDSHAKE_MESSAGE {
                    want.push(HandshakeEvent::Oversized { msg_type: bytes[at], len });
                    break;
                }
                if bytes.len() < at + 4 + len {
                    break;
                }
                want.push(HandshakeEvent::Message { msg_type: bytes[at], body: bytes[at + 4..at + 4 + len].to_vec() });
                at += 4 + len;
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            points.sort_unstable();
            let mut r = HandshakeReader::new();
            let mut got = Vec::new();
            let mut from = 0;
            for p in points.into_iter().chain([bytes.len()]) {
                r.push(&bytes[from..p]);
                from = p;
                drain(&mut r, &mut got);
            }
            prop_assert_eq!(got, want);
        }
    }
}
