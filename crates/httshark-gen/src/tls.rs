//! TLS 1.3 record protection for the generator's `--tls` mode: the three AEAD suites,
//! HKDF-Expand-Label (RFC 8446 section 7.1), traffic keys (section 7.3) and record sealing
//! (section 5.2), written here with RustCrypto primitives rather than taken from httshark,
//! so that a generated TLS capture checks httshark's decryption against an independent
//! implementation (tested against the RFC 8448 section 3 keys).
//!
//! What it does not do: a key exchange, a transcript hash, real Finished MACs or
//! signatures. The generator draws the traffic secrets at random and states them in a key
//! log, as a client with `SSLKEYLOGFILE` would; a passive decryptor never derives them
//! from the handshake, so the handshake messages only have to look right
//! (see [`crate::tls_conn`]).
//!
//! Secrets are test data, but the house rule holds: no `Debug` here shows key material.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use sha2::{Sha256, Sha384};

/// The largest TLSPlaintext fragment, and so the most content one record carries
/// (RFC 8446 section 5.1).
pub const MAX_FRAGMENT: usize = 16_384;

/// AEAD tag length of every TLS 1.3 suite (RFC 8446 section 5.2).
pub const TAG_LEN: usize = 16;

/// TLSPlaintext/TLSCiphertext content types (RFC 8446 section 5.1).
pub const CT_CHANGE_CIPHER_SPEC: u8 = 20;
pub const CT_ALERT: u8 = 21;
pub const CT_HANDSHAKE: u8 = 22;
pub const CT_APPLICATION_DATA: u8 = 23;

/// A TLS 1.3 cipher suite (RFC 8446 appendix B.4; the CCM suites are left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Suite {
    Aes128GcmSha256,
    Aes256GcmSha384,
    Chacha20Poly1305Sha256,
}

impl Suite {
    pub const ALL: [Suite; 3] = [
        Suite::Aes128GcmSha256,
        Suite::Aes256GcmSha384,
        Suite::Chacha20Poly1305Sha256,
    ];

    /// The suite's code point.
    pub fn id(self) -> u16 {
        match self {
            Suite::Aes128GcmSha256 => 0x1301,
            Suite::Aes256GcmSha384 => 0x1302,
            Suite::Chacha20Poly1305Sha256 => 0x1303,
        }
    }

    /// The IANA name.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Aes128GcmSha256 => "TLS_AES_128_GCM_SHA256",
            Suite::Aes256GcmSha384 => "TLS_AES_256_GCM_SHA384",
            Suite::Chacha20Poly1305Sha256 => "TLS_CHACHA20_POLY1305_SHA256",
        }
    }

    /// `aes128`, `aes256`, `chacha20`, the IANA name or the code point (`0x1301`).
    pub fn parse(s: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|x| {
            let short = match x {
                Suite::Aes128GcmSha256 => "aes128",
                Suite::Aes256GcmSha384 => "aes256",
                Suite::Chacha20Poly1305Sha256 => "chacha20",
            };
            s.eq_ignore_ascii_case(short)
                || s.eq_ignore_ascii_case(x.name())
                || s.eq_ignore_ascii_case(&format!("0x{:04x}", x.id()))
        })
    }

    /// Length of the suite's hash, and so of its traffic secrets.
    pub fn hash_len(self) -> usize {
        match self {
            Suite::Aes256GcmSha384 => 48,
            _ => 32,
        }
    }

    /// AEAD key length.
    pub fn key_len(self) -> usize {
        match self {
            Suite::Aes128GcmSha256 => 16,
            _ => 32,
        }
    }
}

/// HKDF-Expand-Label(secret, label, context, len) of RFC 8446 section 7.1, with the
/// suite's hash. `None` when `secret` is shorter than the hash or `len` is too large for
/// HKDF (neither happens with the generator's own secrets).
pub fn hkdf_expand_label(
    suite: Suite,
    secret: &[u8],
    label: &str,
    context: &[u8],
    len: usize,
) -> Option<Vec<u8>> {
    // struct { uint16 length; opaque label<7..255> = "tls13 " + Label;
    //          opaque context<0..255>; } HkdfLabel;
    let full_label_len = u8::try_from(6 + label.len()).ok()?;
    let ctx_len = u8::try_from(context.len()).ok()?;
    let mut info = Vec::with_capacity(4 + full_label_len as usize + context.len());
    info.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
    info.push(full_label_len);
    info.extend_from_slice(b"tls13 ");
    info.extend_from_slice(label.as_bytes());
    info.push(ctx_len);
    info.extend_from_slice(context);
    let mut out = vec![0u8; len];
    let ok = match suite {
        Suite::Aes256GcmSha384 => Hkdf::<Sha384>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .is_ok(),
        _ => Hkdf::<Sha256>::from_prk(secret)
            .ok()?
            .expand(&info, &mut out)
            .is_ok(),
    };
    ok.then_some(out)
}

/// The write key and IV of a traffic secret (RFC 8446 section 7.3).
pub fn traffic_key_iv(suite: Suite, secret: &[u8]) -> Option<(Vec<u8>, [u8; 12])> {
    let key = hkdf_expand_label(suite, secret, "key", b"", suite.key_len())?;
    let iv = hkdf_expand_label(suite, secret, "iv", b"", 12)?;
    Some((key, iv.try_into().ok()?))
}

enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

/// One direction's record protection under one traffic secret: the AEAD, the static IV
/// and the record sequence number (0 for the first record under the secret, section 5.3).
pub struct Sealer {
    aead: Aead,
    iv: [u8; 12],
    seq: u64,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // No key or IV: only where the sequence stands.
        f.debug_struct("Sealer").field("seq", &self.seq).finish()
    }
}

impl Sealer {
    /// Protection under `secret` (a traffic secret of the suite's hash length).
    pub fn new(suite: Suite, secret: &[u8]) -> Option<Sealer> {
        let (key, iv) = traffic_key_iv(suite, secret)?;
        let aead = match suite {
            Suite::Aes128GcmSha256 => Aead::Aes128(Box::new(Aes128Gcm::new_from_slice(&key).ok()?)),
            Suite::Aes256GcmSha384 => Aead::Aes256(Box::new(Aes256Gcm::new_from_slice(&key).ok()?)),
            Suite::Chacha20Poly1305Sha256 => {
                Aead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(&key).ok()?))
            }
        };
        Some(Sealer { aead, iv, seq: 0 })
    }

    /// Records sealed so far.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Moves the sequence number `n` records on, as if they had been sealed.
    pub fn skip(&mut self, n: u64) {
        self.seq = self.seq.saturating_add(n);
    }

    /// The per-record nonce: the IV XOR the sequence number, left-padded (section 5.3).
    fn nonce(&self) -> [u8; 12] {
        let mut n = self.iv;
        for (b, s) in n[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *b ^= s;
        }
        n
    }

    /// Appends one TLSCiphertext record to `out`: `content` (at most [`MAX_FRAGMENT`]
    /// bytes) of real type `inner_type`, followed by `padding` zero bytes (section 5.4),
    /// sealed with the record header as additional data. Returns false, appending
    /// nothing, when the content and padding do not fit one record.
    pub fn seal(
        &mut self,
        inner_type: u8,
        content: &[u8],
        padding: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        // TLSInnerPlaintext: content, type, zeros; at most 2^14 + 1 bytes (section 5.4).
        let inner_len = content.len() + 1 + padding;
        if inner_len > MAX_FRAGMENT + 1 {
            return false;
        }
        let Ok(len) = u16::try_from(inner_len + TAG_LEN) else {
            return false;
        };
        let header = [CT_APPLICATION_DATA, 3, 3, (len >> 8) as u8, len as u8];
        let mut body = Vec::with_capacity(inner_len + TAG_LEN);
        body.extend_from_slice(content);
        body.push(inner_type);
        body.resize(inner_len, 0);
        let nonce = self.nonce();
        let nonce = aes_gcm::Nonce::from_slice(&nonce);
        let tag = match &self.aead {
            Aead::Aes128(a) => a.encrypt_in_place_detached(nonce, &header, &mut body),
            Aead::Aes256(a) => a.encrypt_in_place_detached(nonce, &header, &mut body),
            Aead::ChaCha(a) => a.encrypt_in_place_detached(nonce, &header, &mut body),
        };
        let Ok(tag) = tag else {
            return false;
        };
        out.extend_from_slice(&header);
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        self.seq += 1;
        true
    }
}

/// Lower-case hex, as key logs write it.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8448 section 3 ("Simple 1-RTT Handshake"): the traffic secrets and the write
    /// keys and IVs the trace derives from them ("derive write traffic keys for ...").
    const RFC8448: &[(&str, &str, &str, &str)] = &[
        (
            "server handshake",
            "b6 7b 7d 69 0c c1 6c 4e 75 e5 42 13 cb 2d 37 b4 e9 c9 12 bc de d9 10 5d 42 be fd 59 d3 91 ad 38",
            "3f ce 51 60 09 c2 17 27 d0 f2 e4 e8 6e e4 03 bc",
            "5d 31 3e b2 67 12 76 ee 13 00 0b 30",
        ),
        (
            "client handshake",
            "b3 ed db 12 6e 06 7f 35 a7 80 b3 ab f4 5e 2d 8f 3b 1a 95 07 38 f5 2e 96 00 74 6a 0e 27 a5 5a 21",
            "db fa a6 93 d1 76 2c 5b 66 6a f5 d9 50 25 8d 01",
            "5b d3 c7 1b 83 6e 0b 76 bb 73 26 5f",
        ),
        (
            "client application",
            "9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52 87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5",
            "17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51",
            "5b 78 92 3d ee 08 57 90 33 e5 23 d9",
        ),
    ];

    #[test]
    fn rfc8448_traffic_keys_and_ivs() {
        for (what, secret, key, iv) in RFC8448 {
            let (k, i) = traffic_key_iv(Suite::Aes128GcmSha256, &unhex(secret)).unwrap();
            assert_eq!(hex(&k), hex(&unhex(key)), "{what} key");
            assert_eq!(hex(&i), hex(&unhex(iv)), "{what} iv");
        }
    }

    #[test]
    fn expand_label_refuses_short_secrets() {
        assert!(hkdf_expand_label(Suite::Aes128GcmSha256, &[0; 16], "key", b"", 16).is_none());
        assert!(hkdf_expand_label(Suite::Aes256GcmSha384, &[0; 32], "key", b"", 32).is_none());
        assert!(hkdf_expand_label(Suite::Aes256GcmSha384, &[0; 48], "key", b"", 32).is_some());
    }

    /// Opens a record with the RustCrypto AEAD directly (key and IV from the RFC-checked
    /// derivation), independently of `Sealer`'s nonce and framing code.
    fn open(suite: Suite, secret: &[u8], seq: u64, record: &[u8]) -> Option<(u8, Vec<u8>)> {
        use aes_gcm::aead::Aead as _;
        let (key, iv) = traffic_key_iv(suite, secret).unwrap();
        let mut nonce = iv;
        let s = seq.to_be_bytes();
        for k in 0..8 {
            nonce[4 + k] ^= s[k];
        }
        let (header, ct) = record.split_at(5);
        assert_eq!(header[..3], [23, 3, 3]);
        assert_eq!(
            u16::from_be_bytes([header[3], header[4]]) as usize,
            ct.len()
        );
        let payload = aes_gcm::aead::Payload {
            msg: ct,
            aad: header,
        };
        let n = aes_gcm::Nonce::from_slice(&nonce);
        let mut plain = match suite {
            Suite::Aes128GcmSha256 => Aes128Gcm::new_from_slice(&key).unwrap().decrypt(n, payload),
            Suite::Aes256GcmSha384 => Aes256Gcm::new_from_slice(&key).unwrap().decrypt(n, payload),
            Suite::Chacha20Poly1305Sha256 => ChaCha20Poly1305::new_from_slice(&key)
                .unwrap()
                .decrypt(n, payload),
        }
        .ok()?;
        // Strip the zero padding, then the real content type (section 5.4).
        while plain.last() == Some(&0) {
            plain.pop();
        }
        let ty = plain.pop()?;
        Some((ty, plain))
    }

    #[test]
    fn sealed_records_open_with_the_aead_for_every_suite() {
        for suite in Suite::ALL {
            let secret: Vec<u8> = (0..suite.hash_len() as u8)
                .map(|i| i.wrapping_mul(37))
                .collect();
            let mut s = Sealer::new(suite, &secret).unwrap();
            let msgs: [(&[u8], usize); 3] = [
                (b"GET / HTTP/1.1\r\n\r\n", 0),
                (b"x", 200),
                (&[7u8; MAX_FRAGMENT], 0),
            ];
            for (seq, (msg, pad)) in msgs.iter().enumerate() {
                let mut rec = Vec::new();
                assert!(s.seal(CT_APPLICATION_DATA, msg, *pad, &mut rec));
                assert_eq!(rec.len(), 5 + msg.len() + 1 + pad + TAG_LEN);
                let (ty, plain) = open(suite, &secret, seq as u64, &rec).expect("authentic");
                assert_eq!(
                    (ty, &plain[..]),
                    (CT_APPLICATION_DATA, *msg),
                    "{suite:?} #{seq}"
                );
            }
            assert_eq!(s.seq(), 3);
            // Too big for one record: refused, nothing appended, sequence unchanged.
            let mut rec = Vec::new();
            assert!(!s.seal(CT_APPLICATION_DATA, &[0; MAX_FRAGMENT], 1, &mut rec));
            assert!(rec.is_empty() && s.seq() == 3);
            // A wrong sequence number does not open: the nonce really depends on it.
            let mut rec = Vec::new();
            assert!(s.seal(CT_ALERT, &[1, 0], 0, &mut rec));
            assert!(
                open(suite, &secret, 2, &rec).is_none(),
                "{suite:?}: wrong sequence number"
            );
            assert_eq!(open(suite, &secret, 3, &rec), Some((CT_ALERT, vec![1, 0])));
        }
    }

    #[test]
    fn suites_parse_by_every_name() {
        for s in Suite::ALL {
            assert_eq!(Suite::parse(s.name()), Some(s));
            assert_eq!(Suite::parse(&format!("0x{:04x}", s.id())), Some(s));
        }
        assert_eq!(
            Suite::parse("chacha20"),
            Some(Suite::Chacha20Poly1305Sha256)
        );
        assert_eq!(Suite::parse("rc4"), None);
    }
}
