//! Record decryption: RFC 8448 and two real captures (known answers), every suite
//! round-tripped through `RecordEncryptor`, tampering, sequence handling, key update, CBC
//! padding with and without encrypt-then-MAC, and a throughput measurement.

use super::*;
use crate::tls::crypto::engine::Engine;
use crate::tls::crypto::kdf::tls12_keys;
use crate::tls::crypto::suites::{all, suite, Cipher};
use crate::tls::crypto::test_vectors::*;

fn decrypt_hex(dec: &mut RecordDecryptor, record: &str) -> (Result<u8, DecryptError>, Vec<u8>) {
    let rec = hex(record);
    let (h, frag) = split_record(&rec);
    let mut out = Vec::new();
    let r = dec.decrypt(&h, frag, &mut out);
    (r, out)
}

#[test]
fn rfc8448_server_handshake_flight() {
    let s = suite(0x1301).unwrap();
    let mut dec = RecordDecryptor::tls13(s, &hex(RFC8448_SERVER_HS_SECRET));
    let (r, out) = decrypt_hex(&mut dec, RFC8448_SERVER_HS_RECORD);
    assert_eq!(r, Ok(22), "inner type handshake");
    // RFC 8448: "payload (657 octets)": EE, Certificate, CertificateVerify, Finished.
    assert_eq!(out.len(), 657);
    assert!(out.starts_with(&hex(RFC8448_ENCRYPTED_EXTENSIONS)));
    assert!(out.ends_with(&hex(RFC8448_SERVER_FINISHED)));
    assert_eq!(dec.seq(), 1);
}

#[test]
fn rfc8448_client_finished_and_application_data() {
    let s = suite(0x1301).unwrap();
    let mut dec = RecordDecryptor::tls13(s, &hex(RFC8448_CLIENT_HS_SECRET));
    let (r, out) = decrypt_hex(&mut dec, RFC8448_CLIENT_FINISHED_RECORD);
    assert_eq!(r, Ok(22));
    assert_eq!(&out[..4], &[20, 0, 0, 32]);
    assert_eq!(out.len(), 36);

    let payload: Vec<u8> = (0u8..50).collect();
    let mut dec = RecordDecryptor::tls13(s, &hex(RFC8448_CLIENT_AP_SECRET));
    let (r, out) = decrypt_hex(&mut dec, RFC8448_CLIENT_APP_RECORD);
    assert_eq!((r, out), (Ok(23), payload.clone()));

    // The server's data record is its second application record (after NewSessionTicket).
    let dec = RecordDecryptor::tls13(s, &hex(RFC8448_SERVER_AP_SECRET));
    let rec = hex(RFC8448_SERVER_APP_RECORD);
    let (h, frag) = split_record(&rec);
    let mut out = Vec::new();
    assert_eq!(
        dec.decrypt_at(0, &h, frag, &mut out),
        Err(DecryptError::BadAuth)
    );
    assert_eq!(dec.decrypt_at(1, &h, frag, &mut out), Ok(23));
    assert_eq!(out, payload);
}

/// The illustrated TLS 1.3 capture: AES-256-GCM with 48-byte SHA-384 secrets.
#[test]
fn it13_capture_records() {
    let s = suite(0x1302).unwrap();
    let mut dec = RecordDecryptor::tls13(s, &hex(IT13_SERVER_HS_SECRET));
    let (r, out) = decrypt_hex(&mut dec, IT13_SERVER_EE_RECORD);
    assert_eq!(r, Ok(22));
    assert_eq!(out.first(), Some(&8), "EncryptedExtensions");

    let mut dec = RecordDecryptor::tls13(s, &hex(IT13_CLIENT_HS_SECRET));
    let (r, out) = decrypt_hex(&mut dec, IT13_CLIENT_FINISHED_RECORD);
    assert_eq!(r, Ok(22));
    assert_eq!(
        &out[..4],
        &[20, 0, 0, 48],
        "Finished with SHA-384 verify_data"
    );

    let mut dec = RecordDecryptor::tls13(s, &hex(IT13_CLIENT_AP_SECRET));
    assert_eq!(
        decrypt_hex(&mut dec, IT13_CLIENT_PING_RECORD),
        (Ok(23), b"ping".to_vec())
    );

    let mut dec = RecordDecryptor::tls13(s, &hex(IT13_SERVER_AP_SECRET));
    dec.set_seq(2);
    assert_eq!(
        decrypt_hex(&mut dec, IT13_SERVER_PONG_RECORD),
        (Ok(23), b"pong".to_vec())
    );
    assert_eq!(dec.seq(), 3);
}

/// A matched encryptor/decryptor pair for `suite` (TLS 1.2 keys from a fixed master secret).
fn pair(s: &'static Suite, etm: bool) -> (RecordEncryptor, RecordDecryptor) {
    if s.tls13 {
        let secret: Vec<u8> = (0..s.secret_len() as u8).collect();
        (
            RecordEncryptor::tls13(s, &secret),
            RecordDecryptor::tls13(s, &secret),
        )
    } else {
        let k = tls12_keys(s, &[0x42; 48], &[1; 32], &[2; 32]);
        (
            RecordEncryptor::tls12(s, &k.server, etm),
            RecordDecryptor::tls12(s, &k.server, etm),
        )
    }
}

fn variants() -> impl Iterator<Item = (&'static Suite, bool)> {
    all().iter().flat_map(|s| {
        let etms: &[bool] = if s.cipher.is_aead() {
            &[false]
        } else {
            &[false, true]
        };
        etms.iter().map(move |&e| (s, e))
    })
}

const SIZES: [usize; 9] = [0, 1, 15, 16, 17, 31, 1000, 4096, 1 << 14];

#[test]
fn every_suite_round_trips() {
    for (s, etm) in variants() {
        let (mut enc, mut dec) = pair(s, etm);
        for (i, &n) in SIZES.iter().enumerate() {
            let pt: Vec<u8> = (0..n).map(|j| (j * 7 + i) as u8).collect();
            let ty = [23u8, 22, 21][i % 3];
            let rec = enc.encrypt(ty, &pt);
            let (h, frag) = split_record(&rec);
            assert_eq!(usize::from(u16::from_be_bytes([h[3], h[4]])), frag.len());
            let mut out = b"kept".to_vec();
            assert_eq!(
                dec.decrypt(&h, frag, &mut out),
                Ok(ty),
                "{} etm={etm} n={n}",
                s.name
            );
            assert_eq!(&out[..4], b"kept");
            assert_eq!(&out[4..], pt.as_slice(), "{} n={n}", s.name);
        }
        assert_eq!(dec.seq(), SIZES.len() as u64);
    }
}

/// A flipped bit anywhere in the fragment (or, for AEAD, the header) fails, leaving `out`
/// and seq as they were; the untouched record then still decrypts.
#[test]
fn tampering_fails_and_changes_nothing() {
    for (s, etm) in variants() {
        let (mut enc, mut dec) = pair(s, etm);
        let rec = enc.encrypt(23, &[0x33; 100]);
        let first = if s.cipher.is_aead() || s.tls13 { 0 } else { 5 };
        for pos in (first..rec.len()).step_by(7).chain([rec.len() - 1]) {
            if (3..5).contains(&pos) {
                continue; // the length: changing it changes the framing, not the record
            }
            let mut bad = rec.clone();
            bad[pos] ^= 0x04;
            let (h, frag) = split_record(&bad);
            let mut out = b"x".to_vec();
            let r = dec.decrypt(&h, frag, &mut out);
            assert!(
                matches!(r, Err(DecryptError::BadAuth | DecryptError::BadPadding)),
                "{} etm={etm} pos={pos}: {r:?}",
                s.name
            );
            assert_eq!(
                (out.as_slice(), dec.seq()),
                (&b"x"[..], 0),
                "{} pos={pos}",
                s.name
            );
        }
        let (h, frag) = split_record(&rec);
        assert_eq!(dec.decrypt(&h, frag, &mut Vec::new()), Ok(23), "{}", s.name);
    }
}

#[test]
fn decrypt_at_a_later_seq_changes_no_state() {
    for (s, etm) in variants() {
        let (mut enc, mut dec) = pair(s, etm);
        let recs: Vec<Vec<u8>> = (0..6u8).map(|i| enc.encrypt(23, &[i; 40])).collect();
        // Records 0..3 are lost (a TCP gap): trial decryption finds record 4 at seq 4.
        let (h, frag) = split_record(&recs[4]);
        let mut out = Vec::new();
        for seq in 0..4 {
            assert!(
                dec.decrypt_at(seq, &h, frag, &mut out).is_err(),
                "{} seq {seq}",
                s.name
            );
        }
        assert_eq!(dec.decrypt_at(4, &h, frag, &mut out), Ok(23), "{}", s.name);
        assert_eq!((out.as_slice(), dec.seq()), (&[4u8; 40][..], 0));
        dec.set_seq(5);
        let (h, frag) = split_record(&recs[5]);
        assert_eq!(dec.decrypt(&h, frag, &mut out), Ok(23));
        assert_eq!(dec.seq(), 6);
    }
}

#[test]
fn key_update_keeps_both_sides_in_step() {
    for s in all().iter().filter(|s| s.tls13) {
        let (mut enc, mut dec) = pair(s, false);
        let mut lagging = pair(s, false).1;
        for round in 0..3u8 {
            for i in 0..3u8 {
                let rec = enc.encrypt(23, &[round, i]);
                let (h, frag) = split_record(&rec);
                let mut out = Vec::new();
                assert_eq!(
                    dec.decrypt(&h, frag, &mut out),
                    Ok(23),
                    "{} {round}/{i}",
                    s.name
                );
                assert_eq!(out, [round, i]);
                let r = lagging.decrypt(&h, frag, &mut Vec::new());
                assert_eq!(
                    r.is_ok(),
                    round == 0,
                    "a decryptor without the update fails"
                );
            }
            enc.key_update();
            dec.key_update();
            assert_eq!((enc.seq(), dec.seq()), (0, 0));
        }
    }
}

#[test]
fn key_update_is_a_no_op_for_tls12() {
    let (mut enc, mut dec) = pair(suite(0xC02F).unwrap(), false);
    let rec = enc.encrypt(23, b"abc");
    dec.key_update();
    let (h, frag) = split_record(&rec);
    assert_eq!(dec.decrypt(&h, frag, &mut Vec::new()), Ok(23));
}

#[test]
fn tls13_padding_is_stripped_and_an_all_zero_inner_plaintext_is_malformed() {
    let (mut enc, mut dec) = pair(suite(0x1303).unwrap(), false);
    let rec = enc.encrypt_padded(23, b"data\0\0", 200);
    let (h, frag) = split_record(&rec);
    let mut out = Vec::new();
    assert_eq!(dec.decrypt(&h, frag, &mut out), Ok(23));
    assert_eq!(out, b"data\0\0", "zeros of the content itself are kept");
    // Content type 0 and nothing else: no non-zero byte. It authenticated, so seq moves on.
    let rec = enc.encrypt_padded(0, b"", 10);
    let (h, frag) = split_record(&rec);
    let mut out = b"p".to_vec();
    assert_eq!(
        dec.decrypt(&h, frag, &mut out),
        Err(DecryptError::Malformed)
    );
    assert_eq!((out.as_slice(), dec.seq()), (&b"p"[..], 2));
    let rec = enc.encrypt(23, b"next");
    let (h, frag) = split_record(&rec);
    assert_eq!(dec.decrypt(&h, frag, &mut out), Ok(23));
}

#[test]
fn cbc_extra_padding_blocks_are_accepted() {
    for etm in [false, true] {
        let (mut enc, mut dec) = pair(suite(0xC014).unwrap(), etm);
        let rec = enc.encrypt_padded(23, b"hello", 15);
        let (h, frag) = split_record(&rec);
        let mut out = Vec::new();
        assert_eq!(dec.decrypt(&h, frag, &mut out), Ok(23));
        assert_eq!(out, b"hello");
    }
}

/// A CBC record whose padding bytes disagree with the padding length, built by hand from
/// the suite's engine: `BadPadding` under MAC-then-encrypt (seq kept), `Malformed` under
/// encrypt-then-MAC (the MAC is valid, so seq advances).
#[test]
fn cbc_bad_padding() {
    let s = suite(0xC027).unwrap(); // AES-128-CBC, HMAC-SHA256
    let k = tls12_keys(s, &[9; 48], &[1; 32], &[2; 32]);
    let engine = Engine::new(s, &k.client, false);
    let header = |len: usize| [23u8, 3, 3, (len >> 8) as u8, len as u8];
    let iv = [0x11u8; 16];
    let pt = b"0123456789";

    // MtE: pt(10) ‖ mac(32) ‖ padding: 6 bytes, the last says 5 but one byte says 4.
    let mut data = pt.to_vec();
    let (mac, n) = engine.mac(0, &header(0), &[pt]);
    data.extend_from_slice(&mac[..n]);
    data.extend_from_slice(&[5, 5, 4, 5, 5, 5]);
    assert_eq!(data.len() % 16, 0);
    assert!(engine.cbc_encrypt(&iv, &mut data));
    let mut frag = iv.to_vec();
    frag.extend_from_slice(&data);
    let mut dec = RecordDecryptor::tls12(s, &k.client, false);
    let mut out = Vec::new();
    assert_eq!(
        dec.decrypt(&header(frag.len()), &frag, &mut out),
        Err(DecryptError::BadPadding)
    );
    assert_eq!((out.len(), dec.seq()), (0, 0));
    // A padding length pointing before the start of the record.
    let mut data = vec![0xFFu8; 48];
    assert!(engine.cbc_encrypt(&iv, &mut data));
    let mut frag = iv.to_vec();
    frag.extend_from_slice(&data);
    assert_eq!(
        dec.decrypt(&header(frag.len()), &frag, &mut out),
        Err(DecryptError::BadPadding)
    );

    // EtM: pt(10) ‖ padding(6) with a wrong byte, then a valid MAC over IV ‖ ct.
    let mut data = pt.to_vec();
    data.extend_from_slice(&[5, 5, 5, 5, 3, 5]);
    assert!(engine.cbc_encrypt(&iv, &mut data));
    let mut frag = iv.to_vec();
    frag.extend_from_slice(&data);
    let len = frag.len() + 32;
    let (mac, n) = engine.mac(0, &header(len), &[&frag]);
    frag.extend_from_slice(&mac[..n]);
    let mut dec = RecordDecryptor::tls12(s, &k.client, true);
    assert_eq!(
        dec.decrypt(&header(len), &frag, &mut out),
        Err(DecryptError::Malformed)
    );
    assert_eq!((out.len(), dec.seq()), (0, 1));
}

#[test]
fn too_short_and_too_long() {
    for (s, etm) in variants() {
        let (_, mut dec) = pair(s, etm);
        for n in 0..(16 + 16 + 16) {
            let frag = vec![0u8; n];
            let h = [23, 3, 3, 0, n as u8];
            let r = dec.decrypt(&h, &frag, &mut Vec::new());
            assert!(r.is_err(), "{} n={n}", s.name);
        }
        let (_, mut dec2) = pair(s, etm);
        assert_eq!(
            dec2.decrypt(&[23, 3, 3, 0, 0], &[], &mut Vec::new()),
            Err(DecryptError::TooShort)
        );
        let max = if s.tls13 {
            MAX_FRAGMENT_TLS13
        } else {
            MAX_FRAGMENT_TLS12
        };
        let frag = vec![0u8; max + 1];
        assert_eq!(
            dec.decrypt(&[23, 3, 3, 0, 0], &frag, &mut Vec::new()),
            Err(DecryptError::TooLong)
        );
        assert_eq!(dec.seq(), 0);
    }
}

#[test]
fn a_record_of_another_suite_or_direction_fails() {
    let s = suite(0xC02F).unwrap();
    let k = tls12_keys(s, &[3; 48], &[1; 32], &[2; 32]);
    let mut enc = RecordEncryptor::tls12(s, &k.client, false);
    let mut dec = RecordDecryptor::tls12(s, &k.server, false);
    let rec = enc.encrypt(23, b"client data");
    let (h, frag) = split_record(&rec);
    assert_eq!(
        dec.decrypt(&h, frag, &mut Vec::new()),
        Err(DecryptError::BadAuth)
    );
    // Same secret, other TLS 1.3 suite (the 0-RTT suite trial).
    let secret = [5u8; 32];
    let rec = RecordEncryptor::tls13(suite(0x1303).unwrap(), &secret).encrypt(23, b"early");
    let (h, frag) = split_record(&rec);
    let wrong = RecordDecryptor::tls13(suite(0x1301).unwrap(), &secret);
    assert_eq!(
        wrong.decrypt_at(0, &h, frag, &mut Vec::new()),
        Err(DecryptError::BadAuth)
    );
    let right = RecordDecryptor::tls13(suite(0x1303).unwrap(), &secret);
    assert_eq!(right.decrypt_at(0, &h, frag, &mut Vec::new()), Ok(23));
}

#[test]
fn debug_and_display_show_no_secrets() {
    let secret = [0xA7u8; 32];
    let dec = RecordDecryptor::tls13(suite(0x1301).unwrap(), &secret);
    let d = format!("{dec:?}");
    assert!(
        d.contains("TLS_AES_128_GCM_SHA256") && !d.contains("a7") && !d.contains("167"),
        "{d}"
    );
    assert_eq!(
        DecryptError::BadAuth.to_string(),
        "record failed authentication"
    );
    assert_eq!(Cipher::Aes128Gcm.key_len(), 16);
}

/// Throughput of the decrypt path on 16 KiB records. Ignored by default (it is only
/// meaningful optimised): `cargo test --release --lib tls::crypto::cipher::tests::throughput
/// -- --ignored --nocapture`.
#[test]
#[ignore]
#[allow(clippy::disallowed_methods)] // a measurement reads the clock by definition
fn throughput() {
    for id in [0xC02F, 0x1301, 0xCCA8, 0x1303, 0xC013] {
        let s = suite(id).unwrap();
        let (mut enc, dec) = pair(s, false);
        let pt = vec![0x61u8; 1 << 14];
        let rec = enc.encrypt(23, &pt);
        let (h, frag) = split_record(&rec);
        let mut out = Vec::with_capacity(1 << 15);
        let rounds = 4000;
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            out.clear();
            assert_eq!(dec.decrypt_at(0, &h, frag, &mut out), Ok(23));
        }
        let secs = t.elapsed().as_secs_f64();
        let mbps = (rounds * pt.len()) as f64 / secs / 1e6;
        println!("{:<45} {:>8.0} MB/s", s.name, mbps);
        assert_eq!(out, pt);
        assert!(mbps > 20.0, "{} too slow: {mbps} MB/s", s.name);
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Random fragments under every suite: an error (a forged tag passes with
        /// probability 2^-128), `out` and seq unchanged, never a panic.
        #[test]
        fn random_records_are_rejected(
            which in any::<usize>(),
            ty in any::<u8>(),
            frag in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let (s, etm) = variants().nth(which % variants().count()).unwrap();
            let (_, mut dec) = pair(s, etm);
            let h = [ty, 3, 3, (frag.len() >> 8) as u8, frag.len() as u8];
            let mut out = b"keep".to_vec();
            let r = dec.decrypt(&h, &frag, &mut out);
            prop_assert!(r.is_err());
            prop_assert_eq!(out, b"keep".to_vec());
            prop_assert_eq!(dec.seq(), 0);
        }
    }
}

#[test]
fn decrypt_resync_finds_the_record_after_a_gap() {
    for (s, etm) in variants() {
        let (mut enc, mut dec) = pair(s, etm);
        let recs: Vec<Vec<u8>> = (0..8u8).map(|i| enc.encrypt(23, &[i; 33])).collect();
        let mut out = b"a".to_vec();
        let (h, frag) = split_record(&recs[0]);
        assert_eq!(
            dec.decrypt_resync(4, &h, frag, &mut out),
            Ok((23, 0)),
            "{}",
            s.name
        );
        // Records 1..=3 lost: record 4 is 3 numbers on.
        let (h, frag) = split_record(&recs[4]);
        assert_eq!(
            dec.decrypt_resync(4, &h, frag, &mut out),
            Ok((23, 3)),
            "{}",
            s.name
        );
        assert_eq!(dec.seq(), 5);
        // Record 7 is 2 on from 5, outside a window of 2: nothing changes.
        let (h, frag) = split_record(&recs[7]);
        let before = out.clone();
        assert!(
            dec.decrypt_resync(2, &h, frag, &mut out).is_err(),
            "{}",
            s.name
        );
        assert_eq!((&out, dec.seq()), (&before, 5));
        assert_eq!(dec.decrypt_resync(3, &h, frag, &mut out), Ok((23, 2)));
        let mut want = b"a".to_vec();
        for i in [0u8, 4, 7] {
            want.extend_from_slice(&[i; 33]);
        }
        assert_eq!(out, want, "{}", s.name);
        assert_eq!(
            dec.decrypt_resync(5, &h, &[], &mut out),
            Err(DecryptError::TooShort)
        );
    }
}
