//! Record decryption for one direction of a TLS 1.2 or 1.3 connection: `RecordDecryptor`
//! holds an epoch's cipher objects (built once from the keys) and the record sequence
//! number, and turns one protected record (header + fragment) into its plaintext and
//! content type.
//!
//! Record formats (RFC 5246 §6.2.3, RFC 5288 §3, RFC 7905 §2, RFC 7366 §3, RFC 8446 §5.2):
//!
//! | mode | fragment | authenticated data |
//! |---|---|---|
//! | TLS 1.2 GCM | `explicit(8) ‖ ct ‖ tag(16)` | `seq ‖ type ‖ version ‖ len(pt)` |
//! | TLS 1.2 ChaCha20 | `ct ‖ tag(16)` | same |
//! | TLS 1.2 CBC, MAC-then-encrypt | `IV(16) ‖ CBC(pt ‖ MAC ‖ padding ‖ pad_len)` | MAC over `seq ‖ type ‖ version ‖ len(pt) ‖ pt` |
//! | TLS 1.2 CBC, encrypt-then-MAC | `IV(16) ‖ CBC(pt ‖ padding ‖ pad_len) ‖ MAC` | MAC over `seq ‖ type ‖ version ‖ len(IV ‖ ct) ‖ IV ‖ ct` |
//! | TLS 1.3 | `ct ‖ tag(16)`, inner `content ‖ type ‖ zeros` | the 5-byte wire header |
//!
//! The sequence number advances only after a record authenticates (as Wireshark does), so a
//! record that fails (not this epoch's, early data without its secret, garbage after a gap)
//! does not push the decryptor out of step. `decrypt_at` tries a record at another sequence
//! number without changing anything: the resync trial after a TCP gap.
//!
//! Not here: record framing (the caller hands whole records), the choice of epoch or key,
//! TLS 1.0's implicit CBC IV, SSLv3, compression. A passive decoder is no padding oracle,
//! so the CBC checks are plain, not constant-time.

use std::fmt;

use super::engine::{tls12_pseudo_header, Engine, Epoch, NonceMode, BLOCK, TAG};
use super::kdf::DirectionKeys;
use super::mac::same;
use super::suites::Suite;

#[doc(hidden)]
pub use super::seal::RecordEncryptor;

/// The largest TLS 1.2 record fragment: 2^14 plaintext + 2048 of expansion (RFC 5246 §6.2.3).
pub const MAX_FRAGMENT_TLS12: usize = (1 << 14) + 2048;
/// The largest TLS 1.3 record fragment: 2^14 + 256 (RFC 8446 §5.2).
pub const MAX_FRAGMENT_TLS13: usize = (1 << 14) + 256;

/// Why a record did not decrypt. No variant carries record or key bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecryptError {
    /// Shorter than the suite's fixed overhead (nonce, tag, IV, MAC, one block).
    TooShort,
    /// Longer than the version's largest fragment: the record framing is off.
    TooLong,
    /// The AEAD tag or the CBC MAC does not verify: wrong key, wrong sequence number, or not
    /// a record of this epoch.
    BadAuth,
    /// CBC, MAC-then-encrypt: the decrypted padding is malformed or the ciphertext is not
    /// whole blocks, so the MAC cannot even be located (as good as `BadAuth`).
    BadPadding,
    /// The record authenticated but its content is malformed: a TLS 1.3 inner plaintext
    /// that is all zeros (no content type, RFC 8446 §5.4), or encrypt-then-MAC padding that
    /// is wrong under a valid MAC. The sequence number has advanced (the peer did send
    /// that record); nothing was appended.
    Malformed,
}

impl DecryptError {
    /// Whether the record authenticated (and so consumed a sequence number) despite the error.
    pub fn authenticated(self) -> bool {
        self == DecryptError::Malformed
    }
}

impl fmt::Display for DecryptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecryptError::TooShort => "record too short for its cipher suite",
            DecryptError::TooLong => "record longer than the protocol allows",
            DecryptError::BadAuth => "record failed authentication",
            DecryptError::BadPadding => "record has bad CBC padding",
            DecryptError::Malformed => "authenticated record with malformed content",
        })
    }
}

impl std::error::Error for DecryptError {}

/// One direction's decryption state for one epoch (TLS 1.3: one traffic secret and its key
/// updates). Build it once per epoch; `decrypt` allocates nothing beyond `out`'s growth.
pub struct RecordDecryptor {
    epoch: Epoch,
    seq: u64,
}

impl fmt::Debug for RecordDecryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordDecryptor")
            .field("suite", &self.epoch.suite.name)
            .field("tls13", &self.epoch.is_tls13())
            .field("seq", &self.seq)
            .field("encrypt_then_mac", &self.epoch.etm)
            .finish_non_exhaustive()
    }
}

impl RecordDecryptor {
    /// A TLS 1.2 decryptor from one direction's key-block keys (`tls12_keys`), at seq 0 (the
    /// first record after that side's ChangeCipherSpec). `encrypt_then_mac`: both hellos
    /// carried the extension (RFC 7366 §2); ignored for AEAD suites.
    pub fn tls12(suite: &'static Suite, keys: &DirectionKeys, encrypt_then_mac: bool) -> Self {
        RecordDecryptor {
            epoch: Epoch::tls12(suite, keys, encrypt_then_mac),
            seq: 0,
        }
    }

    /// A TLS 1.3 decryptor from a traffic secret (handshake, application or early), at seq
    /// 0. The secret is kept (zeroized on drop) for `key_update`.
    pub fn tls13(suite: &'static Suite, traffic_secret: &[u8]) -> Self {
        RecordDecryptor {
            epoch: Epoch::tls13(suite, traffic_secret),
            seq: 0,
        }
    }

    /// TLS 1.3 KeyUpdate (RFC 8446 §4.6.3, §7.2): the next traffic secret, new key and IV,
    /// seq 0. Call it after the record carrying the sender's KeyUpdate. No-op for TLS 1.2.
    pub fn key_update(&mut self) {
        if self.epoch.key_update() {
            self.seq = 0;
        }
    }

    /// The sequence number of the next record.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }

    pub fn suite(&self) -> &'static Suite {
        self.epoch.suite
    }

    /// Whether this decrypts TLS 1.3 records.
    pub fn is_tls13(&self) -> bool {
        self.epoch.is_tls13()
    }

    /// Decrypts one record at the current sequence number. `header` is the record's 5 wire
    /// bytes (type, version, length = `fragment.len()`), `fragment` its body. On success
    /// appends the plaintext to `out`, returns the content type (TLS 1.3: the inner type,
    /// padding stripped) and advances seq. On failure `out` is as it was and seq too, except
    /// for `Malformed` (authenticated: seq advanced).
    pub fn decrypt(
        &mut self,
        header: &[u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, DecryptError> {
        let r = self.decrypt_at(self.seq, header, fragment, out);
        match r {
            Ok(_) => self.seq = self.seq.wrapping_add(1),
            Err(e) if e.authenticated() => self.seq = self.seq.wrapping_add(1),
            Err(_) => {}
        }
        r
    }

    /// Resynchronises after lost records (a TCP gap): tries this record at seq, seq + 1, …,
    /// up to `window` numbers, and continues from the first that authenticates. Returns the
    /// content type and how many sequence numbers were skipped (records lost). One
    /// decryption for the hit, none repeated; on failure nothing changes and the error is
    /// the last trial's (`BadAuth` when all failed, or a length error found at once).
    pub fn decrypt_resync(
        &mut self,
        window: u64,
        header: &[u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(u8, u64), DecryptError> {
        let base = self.seq;
        let mut last = DecryptError::BadAuth;
        for skipped in 0..window {
            let seq = base.wrapping_add(skipped);
            match self.decrypt_at(seq, header, fragment, out) {
                Ok(ty) => {
                    self.seq = seq.wrapping_add(1);
                    return Ok((ty, skipped));
                }
                Err(e) if e.authenticated() => {
                    self.seq = seq.wrapping_add(1);
                    return Err(e);
                }
                // The record's shape is wrong whatever the sequence number.
                Err(e @ (DecryptError::TooShort | DecryptError::TooLong)) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// `decrypt` at an explicit sequence number, changing no state (resync trials).
    pub fn decrypt_at(
        &self,
        seq: u64,
        header: &[u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<u8, DecryptError> {
        let max = if self.is_tls13() {
            MAX_FRAGMENT_TLS13
        } else {
            MAX_FRAGMENT_TLS12
        };
        if fragment.len() > max {
            return Err(DecryptError::TooLong);
        }
        let start = out.len();
        let r = if self.is_tls13() {
            self.open_tls13(seq, header, fragment, out, start)
        } else if self.epoch.engine.is_cbc() {
            if self.epoch.etm {
                self.open_cbc_etm(seq, header, fragment, out, start)
            } else {
                self.open_cbc_mte(seq, header, fragment, out, start)
            }
        } else {
            self.open_tls12_aead(seq, header, fragment, out, start)
        };
        if r.is_err() {
            out.truncate(start);
        }
        r
    }

    fn open_tls13(
        &self,
        seq: u64,
        header: &[u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<u8, DecryptError> {
        // At least the inner content type and the tag.
        let Some(ct_len) = fragment.len().checked_sub(TAG).filter(|&n| n >= 1) else {
            return Err(DecryptError::TooShort);
        };
        let (ct, tag) = fragment.split_at(ct_len);
        let tag: &[u8; TAG] = tag.try_into().map_err(|_| DecryptError::TooShort)?;
        let nonce = self.epoch.engine.nonce(seq, &[0; 8]);
        out.extend_from_slice(ct);
        // RFC 8446 §5.2: the additional data is the record header as sent.
        if !self
            .epoch
            .engine
            .open(&nonce, header, &mut out[start..], tag)
        {
            return Err(DecryptError::BadAuth);
        }
        // TLSInnerPlaintext = content ‖ type ‖ zeros: the last non-zero byte is the type.
        match out[start..].iter().rposition(|&b| b != 0) {
            Some(pos) => {
                let content_type = out[start + pos];
                out.truncate(start + pos);
                Ok(content_type)
            }
            None => Err(DecryptError::Malformed),
        }
    }

    fn open_tls12_aead(
        &self,
        seq: u64,
        header: &[u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<u8, DecryptError> {
        let explicit_len = if self.epoch.engine.nonce == NonceMode::SaltExplicit {
            8
        } else {
            0
        };
        let Some(ct_len) = fragment.len().checked_sub(explicit_len + TAG) else {
            return Err(DecryptError::TooShort);
        };
        let (explicit, rest) = fragment.split_at(explicit_len);
        let (ct, tag) = rest.split_at(ct_len);
        let tag: &[u8; TAG] = tag.try_into().map_err(|_| DecryptError::TooShort)?;
        let mut exp = [0u8; 8];
        exp[..explicit.len()].copy_from_slice(explicit);
        let nonce = self.epoch.engine.nonce(seq, &exp);
        let aad = tls12_pseudo_header(seq, header, ct_len);
        out.extend_from_slice(ct);
        if self.epoch.engine.open(&nonce, &aad, &mut out[start..], tag) {
            Ok(header[0])
        } else {
            Err(DecryptError::BadAuth)
        }
    }

    fn open_cbc_mte(
        &self,
        seq: u64,
        header: &[u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<u8, DecryptError> {
        let mac_len = self.epoch.engine.mac_len();
        // IV, then at least MAC + pad_len byte, rounded up to whole blocks.
        let min_body = (mac_len + 1).div_ceil(BLOCK) * BLOCK;
        if fragment.len() < BLOCK + min_body {
            return Err(DecryptError::TooShort);
        }
        let (iv, body) = fragment.split_at(BLOCK);
        let iv: &[u8; BLOCK] = iv.try_into().map_err(|_| DecryptError::TooShort)?;
        // Not whole blocks, or bad padding: the MAC cannot be located.
        let Some(pt_len) = cbc_open(&self.epoch.engine, iv, body, mac_len, out, start) else {
            return Err(DecryptError::BadPadding);
        };
        let (pt, rest) = out[start..].split_at(pt_len);
        let (want, n) = self.epoch.engine.mac(seq, header, &[pt]);
        if !same(&want[..n], &rest[..n.min(rest.len())]) {
            return Err(DecryptError::BadAuth);
        }
        out.truncate(start + pt_len);
        Ok(header[0])
    }

    fn open_cbc_etm(
        &self,
        seq: u64,
        header: &[u8; 5],
        fragment: &[u8],
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<u8, DecryptError> {
        let mac_len = self.epoch.engine.mac_len();
        // RFC 7366 §3: IV ‖ at least one block ‖ MAC.
        if fragment.len() < BLOCK + BLOCK + mac_len {
            return Err(DecryptError::TooShort);
        }
        let (iv_ct, tag) = fragment.split_at(fragment.len() - mac_len);
        let (want, n) = self.epoch.engine.mac(seq, header, &[iv_ct]);
        if !same(&want[..n], tag) {
            return Err(DecryptError::BadAuth);
        }
        // Authenticated from here on: errors are `Malformed` (the sequence number is used).
        let (iv, ct) = iv_ct.split_at(BLOCK);
        let iv: &[u8; BLOCK] = iv.try_into().map_err(|_| DecryptError::Malformed)?;
        let Some(pt_len) = cbc_open(&self.epoch.engine, iv, ct, 0, out, start) else {
            return Err(DecryptError::Malformed);
        };
        out.truncate(start + pt_len);
        Ok(header[0])
    }
}

/// CBC-decrypts `ct` (whole blocks) into `out` after `start` and checks the padding, which
/// `reserve` bytes (the MtE MAC) precede; returns the plaintext length. `None`: not whole
/// blocks or bad padding (`out` then holds junk after `start`; the caller truncates).
fn cbc_open(
    engine: &Engine,
    iv: &[u8; BLOCK],
    ct: &[u8],
    reserve: usize,
    out: &mut Vec<u8>,
    start: usize,
) -> Option<usize> {
    out.extend_from_slice(ct);
    let buf = &mut out[start..];
    if !engine.cbc_decrypt(iv, buf) {
        return None;
    }
    unpad(buf, reserve)
}

/// TLS CBC padding (RFC 5246 §6.2.3.2): the last byte `p`, and `p` bytes before it, all
/// equal to `p`; `reserve` more bytes (the MAC) precede the padding. Returns the plaintext
/// length, or `None` when the padding is malformed or leaves no room for `reserve`.
fn unpad(buf: &[u8], reserve: usize) -> Option<usize> {
    let p = usize::from(*buf.last()?);
    let pt_len = buf.len().checked_sub(p + 1)?.checked_sub(reserve)?;
    let pad = &buf[pt_len + reserve..buf.len() - 1];
    pad.iter().all(|&b| usize::from(b) == p).then_some(pt_len)
}

#[cfg(test)]
#[path = "cipher_tests.rs"]
mod tests;
