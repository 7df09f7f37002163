//! Known-answer tests of the key schedule: the TLS 1.2 PRF, the key block of a real capture,
//! RFC 8448's TLS 1.3 traffic keys, and HKDF against the `hkdf` crate.

use super::*;
use crate::tls::crypto::suites::suite;
use crate::tls::crypto::test_vectors::*;

/// The P_SHA256 vector circulated on the IETF TLS list (and used by many TLS stacks); the
/// expected output was re-derived here with Python's `hmac` before being written down.
#[test]
fn prf_sha256_known_answer() {
    let mut out = [0u8; 100];
    tls12_prf(
        Hash::Sha256,
        &hex("9bbe436ba940f017b17652849a71db35"),
        b"test label",
        &hex("a0ba9f936cda311827a6f796ffd5198c"),
        &mut out,
    );
    let want = hex(
        "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af
         0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff701
         87347b66",
    );
    assert_eq!(out.as_slice(), want.as_slice());
}

#[test]
fn prf_sha384_known_answer() {
    let mut out = [0u8; 148];
    tls12_prf(
        Hash::Sha384,
        &hex("b80b733d6ceefcdc71566ea48e5567df"),
        b"test label",
        &hex("cd665cf6a8447dd6ff8b27555edb7465"),
        &mut out,
    );
    let want = hex(
        "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0
         e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d918425
         9b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e099070
         3d73e56f",
    );
    assert_eq!(out.as_slice(), want.as_slice());
}

/// The PRF is a stream: a shorter output is a prefix of a longer one (block boundaries).
#[test]
fn prf_output_is_a_prefix_stream() {
    let mut long = [0u8; 200];
    tls12_prf(Hash::Sha384, b"s", b"l", b"seed", &mut long);
    for n in [0, 1, 47, 48, 49, 96, 150] {
        let mut short = vec![0u8; n];
        tls12_prf(Hash::Sha384, b"s", b"l", b"seed", &mut short);
        assert_eq!(short.as_slice(), &long[..n], "{n}");
    }
}

fn array32(s: &str) -> [u8; 32] {
    hex(s).try_into().unwrap()
}

/// The key block of Zeek's TLS 1.2 capture (0xC030: 32-byte keys, 4-byte salts, no MAC),
/// checked by decrypting the client's Finished (seq 0) and first request (seq 1), which
/// only authenticate with the right key and salt.
#[test]
fn tls12_key_block_of_a_real_capture() {
    let s = suite(0xC030).unwrap();
    let keys = tls12_keys(
        s,
        &hex(ZK_MASTER_SECRET),
        &array32(ZK_CLIENT_RANDOM),
        &array32(ZK_SERVER_RANDOM),
    );
    assert_eq!((keys.client.key().len(), keys.client.iv().len()), (32, 4));
    assert!(keys.client.mac_key().is_empty());
    assert_ne!(keys.client.key(), keys.server.key());
    let mut dec = crate::tls::crypto::RecordDecryptor::tls12(s, &keys.client, false);
    let mut out = Vec::new();
    let rec = hex(ZK_CLIENT_FINISHED_RECORD);
    let (h, frag) = split_record(&rec);
    assert_eq!(dec.decrypt(&h, frag, &mut out), Ok(22));
    // Finished: type 20, 12 bytes of verify_data (RFC 5246 §7.4.9).
    assert_eq!(&out[..4], &[20, 0, 0, 12]);
    assert_eq!(out.len(), 16);
    out.clear();
    let rec = hex(ZK_CLIENT_GET);
    let (h, frag) = split_record(&rec);
    assert_eq!(dec.decrypt(&h, frag, &mut out), Ok(23));
    assert!(
        out.starts_with(b"GET / HTTP/1.1\r\nHost: heise.de\r\n"),
        "{:?}",
        &out[..20]
    );
    assert!(out.ends_with(b"\r\n\r\n"));
    assert_eq!(dec.seq(), 2);
}

/// Swapping the randoms (the master-secret order instead of the key-expansion order) must
/// give other keys: the order is what RFC 5246 §6.3 specifies and the capture confirms.
#[test]
fn tls12_key_block_uses_server_random_first() {
    let s = suite(0xC030).unwrap();
    let ms = hex(ZK_MASTER_SECRET);
    let right = tls12_keys(
        s,
        &ms,
        &array32(ZK_CLIENT_RANDOM),
        &array32(ZK_SERVER_RANDOM),
    );
    let swapped = tls12_keys(
        s,
        &ms,
        &array32(ZK_SERVER_RANDOM),
        &array32(ZK_CLIENT_RANDOM),
    );
    assert_ne!(right.client.key(), swapped.client.key());
}

#[test]
fn tls12_key_block_sizes_per_suite() {
    for (id, mac, key, iv) in [
        (0xC013, 20, 16, 16),
        (0xC028, 48, 32, 16),
        (0x003C, 32, 16, 16),
        (0xCCA8, 0, 32, 12),
        (0x009C, 0, 16, 4),
    ] {
        let k = tls12_keys(suite(id).unwrap(), &[7; 48], &[1; 32], &[2; 32]);
        for d in [&k.client, &k.server] {
            assert_eq!(
                (d.mac_key().len(), d.key().len(), d.iv().len()),
                (mac, key, iv),
                "{id:04x}"
            );
        }
    }
}

/// RFC 8448 §3: the handshake and application traffic secrets give the RFC's keys and IVs.
#[test]
fn rfc8448_traffic_keys() {
    let s = suite(0x1301).unwrap();
    for (secret, key, iv) in [
        (
            RFC8448_SERVER_HS_SECRET,
            RFC8448_SERVER_HS_KEY,
            RFC8448_SERVER_HS_IV,
        ),
        (
            RFC8448_CLIENT_HS_SECRET,
            RFC8448_CLIENT_HS_KEY,
            RFC8448_CLIENT_HS_IV,
        ),
        (
            RFC8448_SERVER_AP_SECRET,
            RFC8448_SERVER_AP_KEY,
            RFC8448_SERVER_AP_IV,
        ),
        (
            RFC8448_CLIENT_AP_SECRET,
            RFC8448_CLIENT_AP_KEY,
            RFC8448_CLIENT_AP_IV,
        ),
    ] {
        let k = tls13_traffic_keys(s, &hex(secret));
        assert_eq!(k.key(), hex(key).as_slice(), "key of {secret}");
        assert_eq!(k.iv(), hex(iv).as_slice(), "iv of {secret}");
        // The public function gives the same bytes.
        let key2 = hkdf_expand_label(Hash::Sha256, &hex(secret), b"key", b"", 16);
        assert_eq!(key2.as_slice(), hex(key).as_slice());
    }
}

#[test]
fn key_update_secret_matches_an_independent_computation() {
    let s = suite(0x1301).unwrap();
    let next = tls13_next_secret(Hash::Sha256, &hex(RFC8448_SERVER_AP_SECRET));
    assert_eq!(next.as_slice(), hex(RFC8448_SERVER_AP_SECRET_1).as_slice());
    let k = tls13_traffic_keys(s, &next);
    assert_eq!(k.key(), hex(RFC8448_SERVER_AP_KEY_1).as_slice());
    assert_eq!(k.iv(), hex(RFC8448_SERVER_AP_IV_1).as_slice());
}

/// Our HKDF-Expand (written on HMAC so it takes any PRK) against the `hkdf` crate, for
/// each hash and output lengths across block boundaries.
#[test]
fn hkdf_expand_agrees_with_the_hkdf_crate() {
    use hkdf::Hkdf;
    let prk48 = [0x5au8; 48];
    for len in [1usize, 12, 16, 20, 32, 33, 48, 64, 97] {
        for (hash, prk) in [
            (Hash::Sha256, &prk48[..32]),
            (Hash::Sha384, &prk48[..]),
            (Hash::Sha1, &prk48[..20]),
        ] {
            let ours = hkdf_expand_label(hash, prk, b"some label", b"ctx", len);
            let mut info = Vec::new();
            info.extend_from_slice(&(len as u16).to_be_bytes());
            info.push(6 + 10);
            info.extend_from_slice(b"tls13 some label");
            info.push(3);
            info.extend_from_slice(b"ctx");
            let mut theirs = vec![0u8; len];
            match hash {
                Hash::Sha256 => Hkdf::<sha2::Sha256>::from_prk(prk)
                    .unwrap()
                    .expand(&info, &mut theirs),
                Hash::Sha384 => Hkdf::<sha2::Sha384>::from_prk(prk)
                    .unwrap()
                    .expand(&info, &mut theirs),
                Hash::Sha1 => Hkdf::<sha1::Sha1>::from_prk(prk)
                    .unwrap()
                    .expand(&info, &mut theirs),
            }
            .unwrap();
            assert_eq!(ours.as_slice(), theirs.as_slice(), "{hash:?} {len}");
        }
    }
}

/// A secret shorter than the hash (a key-log line for another suite) derives something
/// without panicking; long labels and contexts are cut, not a panic.
#[test]
fn odd_lengths_never_panic() {
    let s = suite(0x1302).unwrap();
    let k = tls13_traffic_keys(s, &[1; 32]);
    assert_eq!(k.key().len(), 32);
    let _ = tls13_traffic_keys(s, &[]);
    let long = [b'x'; 600];
    assert_eq!(
        hkdf_expand_label(Hash::Sha256, &[1; 32], &long, &long, 40).len(),
        40
    );
    assert!(DirectionKeys::new(&[0; 33], &[], &[]).is_none());
    assert!(DirectionKeys::new(&[0; 32], &[0; 16], &[0; 48]).is_some());
}

#[test]
fn debug_shows_no_key_bytes() {
    let k = DirectionKeys::new(&[0xAB; 16], &[0xCD; 4], &[0xEF; 20]).unwrap();
    let d = format!("{k:?}");
    assert!(d.contains("16 bytes"), "{d}");
    for needle in ["171", "ab", "AB", "205", "cd", "239", "ef"] {
        assert!(!d.contains(needle), "{d} shows {needle}");
    }
}
