//! The record protection of one epoch (one direction, one set of keys): the cipher objects,
//! built once from the keys, and the per-record primitives both `RecordDecryptor` and the
//! test-side `RecordEncryptor` use — AEAD open/seal in place with the right nonce, CBC
//! decrypt/encrypt in place, and the TLS 1.2 record MAC.
//!
//! Nonces (RFC 5288 §3, RFC 7905 §2, RFC 8446 §5.3): TLS 1.2 GCM is `salt(4) ‖ explicit(8)`
//! with the explicit part carried in the record; TLS 1.2 ChaCha20 and every TLS 1.3 record
//! use `iv(12) XOR (0⁴ ‖ seq_be64)`.
//!
//! No allocation after construction: everything works in the caller's buffer. The AES key
//! schedules and GHASH keys are wiped on drop (`aes`/`aes-gcm` `zeroize` features), the
//! ChaCha20-Poly1305 key by its own `Drop`, the IV here by ours.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit};
use aes_gcm::aead::consts::{U12, U16};
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use chacha20poly1305::ChaCha20Poly1305;
use zeroize::{Zeroize, Zeroizing};

use super::kdf::{tls13_next_secret, tls13_traffic_keys, DirectionKeys};
use super::mac::{HmacAny, MAX_DIGEST};
use super::suites::{Cipher, Suite};

/// AEAD tag length of every supported AEAD.
pub(super) const TAG: usize = 16;
/// AES block size: the CBC IV length and the padding unit.
pub(super) const BLOCK: usize = 16;

enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

enum Aes {
    Aes128(Box<aes::Aes128>),
    Aes256(Box<aes::Aes256>),
}

enum Kind {
    Aead(Aead),
    Cbc {
        aes: Aes,
        // Boxed: a keyed HMAC is 300-odd bytes, the AEAD variant one pointer.
        mac: Box<HmacAny>,
        mac_len: usize,
    },
}

/// How a record's nonce is made.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum NonceMode {
    /// TLS 1.2 GCM: `salt ‖ explicit` (the first 4 IV bytes are the salt).
    SaltExplicit,
    /// TLS 1.2 ChaCha20, TLS 1.3: `iv XOR seq`.
    XorSeq,
    /// CBC: no nonce.
    None,
}

pub(super) struct Engine {
    kind: Kind,
    iv: [u8; 12],
    pub(super) nonce: NonceMode,
}

/// Copies `src` into a zeroed `N`-byte array (shorter input leaves zeros, longer is cut):
/// keys of the wrong length then fail to authenticate instead of panicking.
fn fit<const N: usize>(src: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    let n = src.len().min(N);
    a[..n].copy_from_slice(&src[..n]);
    a
}

fn aead_open<A>(a: &A, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8; TAG]) -> bool
where
    A: AeadInPlace<NonceSize = U12, TagSize = U16>,
{
    let nonce = GenericArray::from_slice(nonce);
    let tag = GenericArray::from_slice(tag);
    a.decrypt_in_place_detached(nonce, aad, buf, tag).is_ok()
}

fn aead_seal<A>(a: &A, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; TAG]
where
    A: AeadInPlace<NonceSize = U12, TagSize = U16>,
{
    let nonce = GenericArray::from_slice(nonce);
    match a.encrypt_in_place_detached(nonce, aad, buf) {
        Ok(tag) => tag.into(),
        // Only for a buffer over the AEAD's maximum (GCM: 64 GiB): not a TLS record.
        Err(_) => [0; TAG],
    }
}

impl Engine {
    /// The engine for `suite` with these keys; `tls13` selects the TLS 1.3 nonce (always
    /// `iv XOR seq`).
    pub(super) fn new(suite: &Suite, keys: &DirectionKeys, tls13: bool) -> Engine {
        let key = keys.key();
        let (kind, nonce) = match suite.cipher {
            Cipher::Aes128Gcm => {
                let mut k = fit::<16>(key);
                let a = Aes128Gcm::new(&k.into());
                k.zeroize();
                (
                    Kind::Aead(Aead::Aes128(Box::new(a))),
                    NonceMode::SaltExplicit,
                )
            }
            Cipher::Aes256Gcm => {
                let mut k = fit::<32>(key);
                let a = Aes256Gcm::new(&k.into());
                k.zeroize();
                (
                    Kind::Aead(Aead::Aes256(Box::new(a))),
                    NonceMode::SaltExplicit,
                )
            }
            Cipher::ChaCha20Poly1305 => {
                let mut k = fit::<32>(key);
                let a = ChaCha20Poly1305::new(&k.into());
                k.zeroize();
                (Kind::Aead(Aead::ChaCha(Box::new(a))), NonceMode::XorSeq)
            }
            Cipher::Aes128Cbc | Cipher::Aes256Cbc => {
                let aes = if suite.cipher == Cipher::Aes128Cbc {
                    let mut k = fit::<16>(key);
                    let a = <aes::Aes128 as KeyInit>::new(&k.into());
                    k.zeroize();
                    Aes::Aes128(Box::new(a))
                } else {
                    let mut k = fit::<32>(key);
                    let a = <aes::Aes256 as KeyInit>::new(&k.into());
                    k.zeroize();
                    Aes::Aes256(Box::new(a))
                };
                let mac_hash = suite.mac.unwrap_or(suite.prf);
                let mac = Box::new(HmacAny::new(mac_hash, keys.mac_key()));
                (
                    Kind::Cbc {
                        aes,
                        mac,
                        mac_len: mac_hash.len(),
                    },
                    NonceMode::None,
                )
            }
        };
        let nonce = if tls13 && nonce == NonceMode::SaltExplicit {
            NonceMode::XorSeq
        } else {
            nonce
        };
        Engine {
            kind,
            iv: fit::<12>(keys.iv()),
            nonce,
        }
    }

    pub(super) fn is_cbc(&self) -> bool {
        matches!(self.kind, Kind::Cbc { .. })
    }

    /// The MAC length of a CBC engine (0 for AEAD).
    pub(super) fn mac_len(&self) -> usize {
        match &self.kind {
            Kind::Cbc { mac_len, .. } => *mac_len,
            Kind::Aead(_) => 0,
        }
    }

    /// The nonce of a record: `explicit` is the 8 bytes carried by a TLS 1.2 GCM record.
    pub(super) fn nonce(&self, seq: u64, explicit: &[u8; 8]) -> [u8; 12] {
        let mut n = self.iv;
        match self.nonce {
            NonceMode::SaltExplicit => n[4..].copy_from_slice(explicit),
            NonceMode::XorSeq => {
                for (b, s) in n[4..].iter_mut().zip(seq.to_be_bytes()) {
                    *b ^= s;
                }
            }
            NonceMode::None => {}
        }
        n
    }

    /// AEAD-decrypts `buf` in place; false if the tag does not verify (then `buf` is
    /// unspecified) or this is a CBC engine.
    pub(super) fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG],
    ) -> bool {
        match &self.kind {
            Kind::Aead(Aead::Aes128(a)) => aead_open(a.as_ref(), nonce, aad, buf, tag),
            Kind::Aead(Aead::Aes256(a)) => aead_open(a.as_ref(), nonce, aad, buf, tag),
            Kind::Aead(Aead::ChaCha(a)) => aead_open(a.as_ref(), nonce, aad, buf, tag),
            Kind::Cbc { .. } => false,
        }
    }

    /// AEAD-encrypts `buf` in place and returns the tag (zeros for a CBC engine).
    pub(super) fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; TAG] {
        match &self.kind {
            Kind::Aead(Aead::Aes128(a)) => aead_seal(a.as_ref(), nonce, aad, buf),
            Kind::Aead(Aead::Aes256(a)) => aead_seal(a.as_ref(), nonce, aad, buf),
            Kind::Aead(Aead::ChaCha(a)) => aead_seal(a.as_ref(), nonce, aad, buf),
            Kind::Cbc { .. } => [0; TAG],
        }
    }

    /// CBC-decrypts `buf` (a whole number of blocks) in place; false if it is not whole
    /// blocks or this is an AEAD engine.
    pub(super) fn cbc_decrypt(&self, iv: &[u8; BLOCK], buf: &mut [u8]) -> bool {
        let iv = GenericArray::from_slice(iv);
        match &self.kind {
            Kind::Cbc {
                aes: Aes::Aes128(a),
                ..
            } => {
                let d = cbc::Decryptor::<aes::Aes128>::inner_iv_init(a.as_ref().clone(), iv);
                d.decrypt_padded_mut::<NoPadding>(buf).is_ok()
            }
            Kind::Cbc {
                aes: Aes::Aes256(a),
                ..
            } => {
                let d = cbc::Decryptor::<aes::Aes256>::inner_iv_init(a.as_ref().clone(), iv);
                d.decrypt_padded_mut::<NoPadding>(buf).is_ok()
            }
            Kind::Aead(_) => false,
        }
    }

    /// CBC-encrypts `buf` (whole blocks) in place; false as `cbc_decrypt`.
    pub(super) fn cbc_encrypt(&self, iv: &[u8; BLOCK], buf: &mut [u8]) -> bool {
        let iv = GenericArray::from_slice(iv);
        let len = buf.len();
        match &self.kind {
            Kind::Cbc {
                aes: Aes::Aes128(a),
                ..
            } => {
                let e = cbc::Encryptor::<aes::Aes128>::inner_iv_init(a.as_ref().clone(), iv);
                e.encrypt_padded_mut::<NoPadding>(buf, len).is_ok()
            }
            Kind::Cbc {
                aes: Aes::Aes256(a),
                ..
            } => {
                let e = cbc::Encryptor::<aes::Aes256>::inner_iv_init(a.as_ref().clone(), iv);
                e.encrypt_padded_mut::<NoPadding>(buf, len).is_ok()
            }
            Kind::Aead(_) => false,
        }
    }

    /// The TLS 1.2 record MAC (RFC 5246 §6.2.3.1): `HMAC(mac_key, seq ‖ type ‖ version ‖
    /// length ‖ data…)` where `length` is the total of `data`. Returns the tag and its length
    /// (0 for an AEAD engine).
    pub(super) fn mac(
        &self,
        seq: u64,
        header: &[u8; 5],
        data: &[&[u8]],
    ) -> ([u8; MAX_DIGEST], usize) {
        let mut out = [0u8; MAX_DIGEST];
        let Kind::Cbc { mac, .. } = &self.kind else {
            return (out, 0);
        };
        let len: usize = data.iter().map(|d| d.len()).sum();
        let mut m = mac.as_ref().clone();
        m.update(&tls12_pseudo_header(seq, header, len));
        for d in data {
            m.update(d);
        }
        let n = m.finalize_into(&mut out);
        (out, n)
    }
}

/// One epoch of one direction: the suite, its engine, and what a key update needs. Shared
/// by `RecordDecryptor` and `RecordEncryptor` (each adds its sequence number).
pub(super) struct Epoch {
    pub(super) suite: &'static Suite,
    pub(super) engine: Engine,
    /// TLS 1.2 encrypt-then-MAC (RFC 7366); meaningless for AEAD suites and TLS 1.3.
    pub(super) etm: bool,
    /// TLS 1.3: the current traffic secret, kept for key updates; `None` for TLS 1.2.
    secret: Option<Zeroizing<Vec<u8>>>,
}

impl Epoch {
    pub(super) fn tls12(suite: &'static Suite, keys: &DirectionKeys, etm: bool) -> Self {
        Epoch {
            suite,
            engine: Engine::new(suite, keys, false),
            etm,
            secret: None,
        }
    }

    pub(super) fn tls13(suite: &'static Suite, traffic_secret: &[u8]) -> Self {
        let keys = tls13_traffic_keys(suite, traffic_secret);
        Epoch {
            suite,
            engine: Engine::new(suite, &keys, true),
            etm: false,
            secret: Some(Zeroizing::new(traffic_secret.to_vec())),
        }
    }

    pub(super) fn is_tls13(&self) -> bool {
        self.secret.is_some()
    }

    /// RFC 8446 §7.2: moves to the next traffic secret and its key and IV. False (nothing
    /// done) for TLS 1.2, which has no key update.
    pub(super) fn key_update(&mut self) -> bool {
        let Some(secret) = &self.secret else {
            return false;
        };
        let next = tls13_next_secret(self.suite.prf, secret);
        let keys = tls13_traffic_keys(self.suite, &next);
        self.engine = Engine::new(self.suite, &keys, true);
        self.secret = Some(next);
        true
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        self.iv.zeroize();
    }
}

/// `seq ‖ type ‖ version ‖ length` (13 bytes): the TLS 1.2 AEAD additional data (RFC 5246
/// §6.2.3.3) and the head of the CBC MAC input; type and version come from the record header.
pub(super) fn tls12_pseudo_header(seq: u64, header: &[u8; 5], len: usize) -> [u8; 13] {
    let mut a = [0u8; 13];
    a[..8].copy_from_slice(&seq.to_be_bytes());
    a[8..11].copy_from_slice(&header[..3]);
    a[11..].copy_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes());
    a
}
