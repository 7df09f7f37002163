//! Passive TLS decryption from a key log: a `proto::Layer` that turns each direction's
//! ciphertext records (and TCP gaps) into plaintext bytes (and gaps) for the session above.
//!
//! ```text
//!  ciphertext bytes/gaps ─▶ record::Framer ─▶ layer::TlsLayer ─▶ plaintext bytes/gaps
//!                            (per direction)   handshake (hellos, EE, Finished, KeyUpdate)
//!                                              keys: ProtoCtx::keys (the key log) + crypto
//! ```
//!
//! - `crypto`: cipher suites, the TLS 1.2 PRF and TLS 1.3 key schedule, record decryptors.
//! - `handshake`: the few handshake messages a passive decoder reads (hellos, encrypted
//!   extensions, tickets, key updates, finished).
//! - `record`: record framing of one direction, resynchronisation after gaps.
//! - `layer`: the per-connection state machine (which key decrypts which record).
//!
//! What it does not do: look up keys anywhere but the worker's `keylog::KeyStore`, decrypt
//! RSA key exchanges from a server's private key, or read QUIC. A connection it cannot
//! decrypt yields no entry and is counted by cause (`TlsCounters`).

pub mod crypto;
pub mod handshake;
mod layer;
#[doc(hidden)]
pub mod oracle;
pub mod record;
#[doc(hidden)]
pub mod testing;

pub use layer::TlsLayer;

use std::sync::Arc;
use std::time::Duration;

use crate::keylog::{Entry, KeyStore, Label, Secrets};

crate::counters! {
    /// TLS layer counters: what happened to connections that opened with a TLS record.
    pub struct TlsCounters {
        /// TLS connections whose application data was decrypted (at least one record).
        tls_decrypted_connections,
        /// Records decrypted and authenticated.
        tls_records_decrypted,
        /// TLS connections given up because the key log has no secret for their client
        /// random (after `-tls-keylog-wait` in a live capture): no entry, bytes skipped.
        tls_no_key,
        /// TLS connections whose secrets reached the worker after their first encrypted
        /// record (held, then decrypted).
        tls_keys_late,
        /// TLS connections with a cipher suite httshark does not decrypt (CCM, RC4, 3DES,
        /// NULL, export): bytes skipped.
        tls_unsupported_suite,
        /// TLS connections picked up without their ClientHello (the capture began after
        /// it), not recovered (TLS 1.3 with `-tls-pickup-trial`: no trial found its secret;
        /// TLS 1.2 cannot be: its keys need both hello randoms): bytes skipped.
        tls_no_client_hello,
        /// TLS 1.3 connections picked up without their ClientHello whose traffic secrets
        /// were found by trial decryption (`-tls-pickup-trial`, `TLS_ORPHAN_MAX_TRIALS`):
        /// decrypted, entries flagged `midstream-pickup`.
        tls_orphans_recovered,
        /// Records of picked-up connections dropped while their secret was not found yet
        /// (too long to try, `TLS_ORPHAN_MAX_RECORD`, or tried in vain).
        tls_orphan_records_skipped,
        /// Records that failed authentication (a key was found but does not fit, or the
        /// bytes were damaged): dropped, a gap given to the session.
        tls_auth_failures,
        /// TLS connections given up after `TLS_MAX_AUTH_FAILURES` records in a row failed
        /// authentication (the key log's secret is not this connection's).
        tls_wrong_key,
        /// Records lost to TCP gaps (a gap inside them, or records skipped over while
        /// resynchronising).
        tls_records_lost,
        /// Times the record framing was found again after a gap took record headers.
        tls_resyncs,
        /// Records whose sequence number could not be found within `TLS_RESYNC_WINDOW`
        /// after a gap: dropped.
        tls_resync_failures,
        /// Times the record header scan after a gap held more than
        /// `record::RESYNC_MAX_HELD` bytes (a candidate record and the header after it,
        /// all the scan ever needs: 0 unless the framer has a bug; the bytes before the
        /// last `RESYNC_MAX_HELD` are dropped).
        tls_resync_held_limit,
        /// TLS 1.3 early-data (0-RTT) records skipped: their secret is not in the key log.
        tls_early_data_skipped,
        /// TLS 1.3 KeyUpdate messages followed.
        tls_key_updates,
        /// ClientHellos with Encrypted Client Hello (the logged secrets belong to the
        /// hidden inner hello: such connections are usually `tls_no_key`).
        tls_ech_hellos,
        /// Malformed or oversized handshake messages (ignored).
        tls_handshake_errors,
        /// Bytes that were not TLS records where records were expected (scanned past).
        tls_framing_errors,
        /// Records held while waiting for keys that were dropped because the connection's
        /// held bytes passed `TLS_MAX_HELD_BYTES` (a gap given to the session).
        tls_held_limit,
        /// TLS 1.2 renegotiations (a new handshake inside the session): not followed.
        tls_renegotiations,
        /// Client randoms a worker's store of followed secrets dropped, oldest first, to
        /// stay within `MAX_KEYLOG_CLIENT_RANDOMS`.
        tls_keylog_evictions,
    }
}

/// Records failing authentication in a row after which a connection is given up
/// (`tls_wrong_key`): a wrong secret fails every record, damage fails one.
pub const TLS_MAX_AUTH_FAILURES: u32 = 8;

/// Records tried after a gap that took record headers, to find the next record's sequence
/// number by trial decryption.
pub const TLS_RESYNC_WINDOW: u64 = 64;

/// With `-tls-pickup-trial`: trial decryptions one connection picked up without its
/// ClientHello may spend looking
/// for its TLS 1.3 traffic secret among the key log's (each secret x the suites of its
/// length x sequence numbers 0..`TLS_RESYNC_WINDOW`); then it is `tls_no_client_hello`.
pub const TLS_ORPHAN_MAX_TRIALS: usize = 1024;

/// Only records this short (ciphertext bytes) are used for those trials: a trial costs a
/// whole record's AEAD, so a picked-up connection costs at most
/// `TLS_ORPHAN_MAX_TRIALS` x this (2 MiB, a few milliseconds); longer records before the
/// secret is found are dropped (counted in `tls_orphan_records_skipped`).
pub const TLS_ORPHAN_MAX_RECORD: usize = 2048;

/// Ciphertext bytes one connection may hold while its keys are awaited (live capture);
/// past it the oldest held records are dropped (`tls_held_limit`). Charged to the memory
/// budget like any connection state.
pub const TLS_MAX_HELD_BYTES: usize = 256 * 1024;

/// Default of `-tls-keylog-wait`: how long (packet time) a live connection's records wait
/// for their keys to appear in the key log.
pub const DEFAULT_KEYLOG_WAIT: Duration = Duration::from_secs(5);

/// A worker's secrets: the store every worker shares (read-only: what was known at start)
/// and what a followed key log added since, which each worker keeps for itself. No copy of
/// a large key log per worker, and no lock.
#[derive(Clone, Debug)]
pub struct TlsKeys {
    base: Arc<KeyStore>,
    added: KeyStore,
    /// Bumped by every `add`, so layers waiting for keys know to look again.
    generation: u64,
}

impl Default for TlsKeys {
    fn default() -> Self {
        TlsKeys::new(Arc::default())
    }
}

impl TlsKeys {
    pub fn new(base: Arc<KeyStore>) -> TlsKeys {
        TlsKeys {
            base,
            added: KeyStore::with_limit(LIVE_KEYLOG_CLIENT_RANDOMS),
            generation: 0,
        }
    }

    /// The secrets of a client random: the newest line wins, as in one key log.
    pub fn get(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.added
            .get(client_random)
            .or_else(|| self.base.get(client_random))
    }

    /// How many times secrets were added: a layer that waited compares it with the value
    /// it last saw.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Every client random known, with its secrets (what followed key logs added first).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8; 32], &Secrets)> {
        self.added.iter().chain(
            self.base
                .iter()
                .filter(|(r, _)| self.added.get(r).is_none()),
        )
    }

    /// Secrets a followed key log gained. Returns how many client randoms the bounded
    /// store evicted to take them (`MAX_KEYLOG_CLIENT_RANDOMS`).
    pub fn add(&mut self, entries: &[Entry]) -> u64 {
        self.generation += 1;
        let before = self.added.evicted();
        for e in entries {
            // A random known at start keeps its other secrets: the new ones join them.
            if self.added.get(&e.client_random).is_none() {
                if let Some(known) = self.base.get(&e.client_random) {
                    for (label, secret) in [
                        (Label::ClientRandom, &known.master_secret),
                        (Label::ClientEarlyTrafficSecret, &known.client_early),
                        (Label::ClientHandshakeTrafficSecret, &known.client_handshake),
                        (Label::ServerHandshakeTrafficSecret, &known.server_handshake),
                        (Label::ClientTrafficSecret0, &known.client_traffic0),
                        (Label::ServerTrafficSecret0, &known.server_traffic0),
                    ] {
                        if let Some(secret) = secret {
                            self.added.insert(Entry {
                                label,
                                client_random: e.client_random,
                                secret: secret.clone(),
                            });
                        }
                    }
                }
            }
            self.added.insert(e.clone());
        }
        self.added.evicted() - before
    }
}

/// Client randoms each worker keeps of the secrets followed key logs add during a live
/// capture, oldest evicted first (`tls_keylog_evictions`): about 450 bytes each, so at
/// most ~28 MiB per worker. The store read at start is shared by every worker and bounded
/// by `keylog::MAX_KEYLOG_CLIENT_RANDOMS`.
pub const LIVE_KEYLOG_CLIENT_RANDOMS: usize = 1 << 16;

/// How the TLS layer treats missing keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// Whether TLS is decrypted at all (a key log was given): without it TLS connections
    /// are only counted and skipped.
    pub enabled: bool,
    /// The key store holds every secret there will be (a file replay): a missing key is
    /// final at once.
    pub keys_final: bool,
    /// How long records wait for their keys when `keys_final` is false.
    pub keylog_wait: Duration,
    /// `-tls-pickup-trial`: a TLS 1.3 connection picked up without its ClientHello looks
    /// for its secret by trial decryption (off by default: it costs CPU for every such
    /// connection, useful or not).
    pub pickup_trial: bool,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            enabled: false,
            keys_final: true,
            keylog_wait: DEFAULT_KEYLOG_WAIT,
            pickup_trial: false,
        }
    }
}
#[cfg(test)]
mod layer_tests;
