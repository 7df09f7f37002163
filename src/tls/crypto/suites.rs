//! The cipher suites a passive decoder can decrypt, as a static table keyed by the IANA id.
//!
//! Each entry names the record cipher, the record MAC (CBC suites only) and the hash of the
//! key schedule: the TLS 1.2 PRF (RFC 5246 §5; SHA-384 for the `_SHA384` suites, SHA-256 for
//! every other suite, including the `_SHA` CBC ones) or the TLS 1.3 HKDF hash (RFC 8446 §B.4).
//!
//! Not here, on purpose: CCM and CCM_8, RC4, 3DES, NULL and export suites. `suite` returns
//! `None` for them and the TLS layer counts the connection as "unsupported suite". TLS 1.0 and
//! 1.1 use another PRF (MD5 ⊕ SHA-1) and TLS 1.0 an implicit CBC IV: the table's TLS 1.2
//! suites are only right when the negotiated version is TLS 1.2 (the layer checks it).

/// A hash function of the key schedule or of a CBC suite's record MAC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hash {
    Sha1,
    Sha256,
    Sha384,
}

impl Hash {
    /// The digest length in bytes: also the length of a TLS 1.3 traffic secret and of a CBC
    /// suite's MAC key and tag.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(self) -> usize {
        match self {
            Hash::Sha1 => 20,
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// The record protection of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cipher {
    Aes128Gcm,
    Aes256Gcm,
    ChaCha20Poly1305,
    Aes128Cbc,
    Aes256Cbc,
}

impl Cipher {
    /// The key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm | Cipher::Aes128Cbc => 16,
            Cipher::Aes256Gcm | Cipher::ChaCha20Poly1305 | Cipher::Aes256Cbc => 32,
        }
    }

    /// Whether this is an AEAD (GCM, ChaCha20-Poly1305) rather than CBC with a MAC.
    pub fn is_aead(self) -> bool {
        !matches!(self, Cipher::Aes128Cbc | Cipher::Aes256Cbc)
    }

    /// The length of the TLS 1.2 key block's "IV" for this cipher (RFC 5246 §6.3): the 4-byte
    /// GCM salt (RFC 5288 §3), ChaCha20's 12-byte IV (RFC 7905 §2), the CBC block size (16,
    /// derived but unused since TLS 1.1 sends each record's IV).
    pub fn tls12_iv_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm | Cipher::Aes256Gcm => 4,
            Cipher::ChaCha20Poly1305 => 12,
            Cipher::Aes128Cbc | Cipher::Aes256Cbc => 16,
        }
    }
}

/// One supported cipher suite.
#[derive(Debug, PartialEq, Eq)]
pub struct Suite {
    /// The IANA cipher suite number (the `cipher_suite` of the ServerHello).
    pub id: u16,
    /// The IANA name, e.g. `TLS_AES_128_GCM_SHA256` (what `_tls.cipherSuite` shows).
    pub name: &'static str,
    /// A TLS 1.3 suite (only usable with TLS 1.3, and TLS 1.3 only uses these).
    pub tls13: bool,
    pub cipher: Cipher,
    /// The record MAC of a CBC suite; `None` for AEAD suites.
    pub mac: Option<Hash>,
    /// The hash of the TLS 1.2 PRF or of the TLS 1.3 HKDF key schedule.
    pub prf: Hash,
}

impl Suite {
    /// The length of this suite's TLS 1.3 traffic secrets (the HKDF hash length). A key log
    /// secret of another length cannot belong to a connection using this suite.
    pub fn secret_len(&self) -> usize {
        self.prf.len()
    }
}

const fn aead(id: u16, name: &'static str, tls13: bool, cipher: Cipher, prf: Hash) -> Suite {
    Suite {
        id,
        name,
        tls13,
        cipher,
        mac: None,
        prf,
    }
}

const fn cbc(id: u16, name: &'static str, cipher: Cipher, mac: Hash, prf: Hash) -> Suite {
    Suite {
        id,
        name,
        tls13: false,
        cipher,
        mac: Some(mac),
        prf,
    }
}

use Cipher::{Aes128Cbc, Aes128Gcm, Aes256Cbc, Aes256Gcm, ChaCha20Poly1305};
use Hash::{Sha1, Sha256, Sha384};

/// The supported suites, in id order within each group. Names and ids: the IANA TLS Cipher
/// Suites registry; the PRF hash of each TLS 1.2 suite is in its defining RFC (5288, 5289,
/// 5246, 7905).
#[rustfmt::skip]
static SUITES: [Suite; 30] = [
    // TLS 1.3, RFC 8446 §B.4.
    aead(0x1301, "TLS_AES_128_GCM_SHA256", true, Aes128Gcm, Sha256),
    aead(0x1302, "TLS_AES_256_GCM_SHA384", true, Aes256Gcm, Sha384),
    aead(0x1303, "TLS_CHACHA20_POLY1305_SHA256", true, ChaCha20Poly1305, Sha256),
    // TLS 1.2 AES-GCM, RFC 5288 (RSA, DHE) and RFC 5289 (ECDHE).
    aead(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", false, Aes128Gcm, Sha256),
    aead(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", false, Aes256Gcm, Sha384),
    aead(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", false, Aes128Gcm, Sha256),
    aead(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", false, Aes256Gcm, Sha384),
    aead(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", false, Aes128Gcm, Sha256),
    aead(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", false, Aes256Gcm, Sha384),
    aead(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false, Aes128Gcm, Sha256),
    aead(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", false, Aes256Gcm, Sha384),
    // TLS 1.2 ChaCha20-Poly1305, RFC 7905.
    aead(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false, ChaCha20Poly1305, Sha256),
    aead(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", false, ChaCha20Poly1305, Sha256),
    aead(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", false, ChaCha20Poly1305, Sha256),
    // TLS 1.2 AES-CBC with HMAC-SHA1 (RFC 5246, RFC 4492 / 8422): the PRF is SHA-256.
    cbc(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", Aes128Cbc, Sha1, Sha256),
    cbc(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", Aes128Cbc, Sha1, Sha256),
    cbc(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", Aes256Cbc, Sha1, Sha256),
    cbc(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", Aes256Cbc, Sha1, Sha256),
    cbc(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", Aes128Cbc, Sha1, Sha256),
    cbc(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", Aes256Cbc, Sha1, Sha256),
    cbc(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", Aes128Cbc, Sha1, Sha256),
    cbc(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", Aes256Cbc, Sha1, Sha256),
    // TLS 1.2 AES-CBC with HMAC-SHA256/384 (RFC 5246, RFC 5289).
    cbc(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", Aes128Cbc, Sha256, Sha256),
    cbc(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", Aes256Cbc, Sha256, Sha256),
    cbc(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", Aes128Cbc, Sha256, Sha256),
    cbc(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", Aes256Cbc, Sha256, Sha256),
    cbc(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", Aes128Cbc, Sha256, Sha256),
    cbc(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", Aes256Cbc, Sha384, Sha384),
    cbc(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", Aes128Cbc, Sha256, Sha256),
    cbc(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", Aes256Cbc, Sha384, Sha384),
];

/// The supported suite with this IANA id, or `None` (unknown or deliberately unsupported).
pub fn suite(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id)
}

/// Every supported suite (tests, trial decryption of 0-RTT data over the TLS 1.3 suites).
pub fn all() -> &'static [Suite] {
    &SUITES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_covers_the_brief_and_nothing_unsupported() {
        let wanted: [u16; 30] = [
            0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F, 0xC02C, 0xC030, 0x009E, 0x009F, 0x009C, 0x009D,
            0xCCA8, 0xCCA9, 0xCCAA, 0xC009, 0xC00A, 0xC013, 0xC014, 0x0033, 0x0039, 0x002F, 0x0035,
            0xC023, 0xC024, 0xC027, 0xC028, 0x0067, 0x006B, 0x003C, 0x003D,
        ];
        for id in wanted {
            assert_eq!(suite(id).map(|s| s.id), Some(id), "{id:04x}");
        }
        // CCM, CCM_8, RC4, 3DES, NULL, TLS 1.3 CCM: not supported.
        for id in [
            0xC0AC, 0xC0AE, 0x0005, 0x000A, 0xC012, 0x0000, 0x0001, 0x1304, 0x1305,
        ] {
            assert!(suite(id).is_none(), "{id:04x}");
        }
        let mut ids: Vec<u16> = all().iter().map(|s| s.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all().len(), "duplicate ids");
    }

    #[test]
    fn names_agree_with_the_fields() {
        for s in all() {
            let n = s.name;
            assert!(n.starts_with("TLS_"), "{n}");
            assert_eq!(s.tls13, !n.contains("_WITH_"), "{n}");
            let cipher = match s.cipher {
                Cipher::Aes128Gcm => "AES_128_GCM",
                Cipher::Aes256Gcm => "AES_256_GCM",
                Cipher::ChaCha20Poly1305 => "CHACHA20_POLY1305",
                Cipher::Aes128Cbc => "AES_128_CBC",
                Cipher::Aes256Cbc => "AES_256_CBC",
            };
            assert!(n.contains(cipher), "{n}");
            let suffix = match (s.mac, s.prf) {
                (Some(Hash::Sha1), Hash::Sha256) => "_SHA",
                (Some(Hash::Sha256), Hash::Sha256) | (None, Hash::Sha256) => "_SHA256",
                (Some(Hash::Sha384), Hash::Sha384) | (None, Hash::Sha384) => "_SHA384",
                other => panic!("{n}: unexpected hashes {other:?}"),
            };
            assert!(n.ends_with(suffix), "{n}");
            assert_eq!(s.mac.is_none(), s.cipher.is_aead(), "{n}");
        }
    }
}
