//! `TlsLayer`: one TLS connection's decryption, as a `proto::Layer`.
//!
//! What it does: frames each direction's records (`record::Framer`), reads the plaintext
//! handshake (ClientHello: the client random the key log is keyed by, SNI, ALPN offer;
//! ServerHello: version and suite), finds the secrets in the worker's key store, and
//! decrypts each direction with the key of its epoch:
//!
//! - TLS 1.2: both randoms and the master secret (`CLIENT_RANDOM`) give the key block; a
//!   direction encrypts from its ChangeCipherSpec on, sequence number 0.
//! - TLS 1.3: the server encrypts from the ServerHello on with its handshake secret, the
//!   client (after any 0-RTT data, under the early secret) with its own; each switches to
//!   `*_TRAFFIC_SECRET_0` after its Finished and rekeys on KeyUpdate (RFC 8446 §7).
//!
//! Decrypted application data goes up as plaintext; decrypted handshake messages feed the
//! handshake reader (EncryptedExtensions: ALPN; Finished; KeyUpdate); alerts are dropped.
//!
//! Keys that are not there yet (a live capture, where clients write the key log while the
//! capture runs): the records are held, in order, with any gap and FIN after them, up to
//! `TLS_MAX_HELD_BYTES`, and retried when new secrets reach the worker; after
//! `-tls-keylog-wait` (packet time) the connection is given up (`tls_no_key`). In a file
//! replay every secret is loaded first, so a missing key is final at once.
//!
//! Gaps: a gap inside a record loses that record (a gap of its plaintext length goes up);
//! a gap that took record headers makes the framer scan for chaining headers and the
//! layer find the next record's sequence number by trial decryption within
//! `TLS_RESYNC_WINDOW`. The plaintext lost is estimated from the ciphertext lost and the
//! suite's per-record overhead (exact for AEAD suites without padding).
//!
//! What it does not do: follow a TLS 1.2 renegotiation (counted), resume TLS 1.2 sessions
//! from a session cache (OpenSSL and the browsers log `CLIENT_RANDOM` for resumed
//! connections too; a cache would make the result depend on how connections are spread
//! over workers), or decrypt a connection whose ClientHello was not captured.
//!
//! Invariants: a half's `held` is non-empty only while a record of it waits for something
//! (keys, the ServerHello); nothing of a direction goes up while it has held items, so
//! events leave in stream order. Once `dead` is set, no event goes up any more.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::keylog::Secrets;
use crate::model::{ConnInfo, Direction, PerDirection, TlsInfo};
use crate::proto::{Emitted, Layer, LayerEvent, ProtoCtx, Protocol};
use crate::time::Timestamp;

use super::crypto::{self, Cipher, RecordDecryptor, Suite};
use super::handshake::{self, HandshakeEvent, HandshakeReader};
use super::record::{self, Framer, GapEffect, HEADER_LEN};
use super::{
    TlsCounters, TLS_MAX_AUTH_FAILURES, TLS_MAX_HELD_BYTES, TLS_ORPHAN_MAX_RECORD,
    TLS_ORPHAN_MAX_TRIALS, TLS_RESYNC_WINDOW,
};

/// Handshake message types read (RFC 8446 §4, RFC 5246 §7.4).
const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_END_OF_EARLY_DATA: u8 = 5;
const HS_ENCRYPTED_EXTENSIONS: u8 = 8;
const HS_FINISHED: u8 = 20;
const HS_KEY_UPDATE: u8 = 24;
const HS_HELLO_REQUEST: u8 = 0;

const TLS13: u16 = 0x0304;
/// Encrypted handshake records one TLS 1.3 direction sends (the server's flight: a few
/// records even with a long certificate chain), for where the application key's sequence
/// number is searched after the held cap dropped records across the Finished.
const MAX_LOST_HANDSHAKE_RECORDS: u64 = 16;

/// Which secret protects a direction's next encrypted record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Epoch {
    /// Not encrypted yet.
    Plain,
    /// TLS 1.3 0-RTT data (`CLIENT_EARLY_TRAFFIC_SECRET`).
    Early,
    /// TLS 1.3 handshake (`*_HANDSHAKE_TRAFFIC_SECRET`).
    Handshake,
    /// Application data (TLS 1.3 `*_TRAFFIC_SECRET_0`, or TLS 1.2 after ChangeCipherSpec).
    Application,
}

/// Why a connection is given up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GiveUp {
    NoKey,
    UnsupportedSuite,
    NoClientHello,
    WrongKey,
}

/// What to do with a record.
enum Step {
    /// Handled (decrypted, or skipped).
    Done,
    /// Held: its secrets are not in the key store yet, or the ServerHello (suite,
    /// version) has not been read yet.
    Wait,
    GiveUp(GiveUp),
}

/// Something held while a record of the direction waits.
enum Held {
    Record {
        header: [u8; HEADER_LEN],
        fragment: Vec<u8>,
        ts: Timestamp,
        seq_unknown: bool,
    },
    Gap(GapEffect, Timestamp),
    Fin(Timestamp),
}

impl Held {
    fn bytes(&self) -> usize {
        match self {
            Held::Record { fragment, .. } => fragment.capacity() + HEADER_LEN,
            _ => 0,
        }
    }
}

/// One direction's decryption state (the framer lives apart, so a record borrowed from
/// it can be decrypted into this).
#[derive(Default)]
struct Half {
    epoch: Option<Epoch>,
    dec: Option<RecordDecryptor>,
    hs: HandshakeReader,
    held: VecDeque<Held>,
    held_bytes: usize,
    /// Records dropped unread (held past the cap, or failed after a loss): their
    /// sequence numbers are skipped and their plaintext estimated.
    records_lost: u64,
    /// The next record's sequence number is unknown (a gap took record headers).
    seq_unknown: bool,
    /// Records the held cap dropped whose sequence numbers the decryptor has not skipped
    /// yet (it may not exist while they are dropped).
    dropped_unapplied: u64,
    /// Records the held cap dropped since the last record decrypted: under TLS 1.3 some
    /// may have been the handshake epoch's last ones (`open`).
    dropped_recent: u64,
    /// Ciphertext bytes lost since the last decrypted record (for the gap estimate).
    lost_bytes: u64,
    /// Plaintext bytes lost, to go up as a gap before the next plaintext.
    pending_gap: u64,
    /// Records failing authentication in a row.
    auth_failures: u32,
    /// TLS 1.3 client without its early secret: records the handshake key does not open
    /// are 0-RTT data, skipped, until one opens.
    early_skip: bool,
    /// Reusable plaintext buffer.
    plain: Vec<u8>,
}

impl Half {
    fn epoch(&self) -> Epoch {
        self.epoch.unwrap_or(Epoch::Plain)
    }

    fn set_epoch(&mut self, epoch: Epoch) {
        self.epoch = Some(epoch);
        self.dec = None;
    }

    /// The lost ciphertext, as a plaintext gap to go up before the next plaintext. Bytes
    /// lost while no record of this key went missing (the sequence numbers say so) were
    /// not this key's records (another epoch's, a pickup's garbage): no plaintext is
    /// missing.
    fn settle_loss(&mut self, suite: &Suite) {
        if self.records_lost > 0 {
            self.pending_gap += estimate_plaintext(suite, self.lost_bytes, self.records_lost);
        }
        self.records_lost = 0;
        self.lost_bytes = 0;
    }
}

/// What the hellos and the handshake said.
#[derive(Default)]
struct Handshake {
    client_random: Option<[u8; 32]>,
    server_random: Option<[u8; 32]>,
    sni: Option<String>,
    offered_early_data: bool,
    client_session_id: Vec<u8>,
    /// Negotiated version (0x0303, 0x0304) and suite, from the ServerHello.
    version: Option<u16>,
    suite_id: Option<u16>,
    suite: Option<&'static Suite>,
    encrypt_then_mac: bool,
    resumed: bool,
    alpn: Option<Vec<u8>>,
    hello_ts: Option<Timestamp>,
    finished: PerDirection<Option<Timestamp>>,
    /// A record was decrypted.
    decrypted_any: bool,
    /// Trial decryptions spent looking for a picked-up connection's secret.
    orphan_trials: usize,
    /// Encrypted records came without a ClientHello.
    orphan_seen: bool,
}

/// Why a record could not be opened.
enum Unopened {
    /// Wait, give up, or (`Done`) the record is skipped.
    Step(Step),
    /// Authentication failed.
    Auth,
}

/// One TLS connection's decryption layer.
pub struct TlsLayer {
    framers: PerDirection<Framer>,
    halves: PerDirection<Half>,
    hs: Handshake,
    /// Given up: bytes are skipped, nothing goes up.
    dead: Option<GiveUp>,
    /// Since when records wait (packet time), and the key store generation last tried.
    waiting_since: Option<Timestamp>,
    keys_generation: u64,
    info: Option<Arc<TlsInfo>>,
}

mod hello;
mod secrets;

impl TlsLayer {
    pub fn new() -> TlsLayer {
        TlsLayer {
            framers: PerDirection::default(),
            halves: PerDirection::default(),
            hs: Handshake::default(),
            dead: None,
            waiting_since: None,
            keys_generation: 0,
            info: None,
        }
    }

    fn give_up(&mut self, why: GiveUp, c: &mut TlsCounters) {
        if self.dead.is_some() {
            return;
        }
        match why {
            GiveUp::NoKey => c.tls_no_key += 1,
            GiveUp::UnsupportedSuite => c.tls_unsupported_suite += 1,
            GiveUp::NoClientHello => c.tls_no_client_hello += 1,
            GiveUp::WrongKey => c.tls_wrong_key += 1,
        }
        self.dead = Some(why);
        for half in self.halves.iter_mut() {
            *half = Half::default();
        }
        self.framers = PerDirection::default();
        self.waiting_since = None;
    }

    /// Frames and handles what `dir` has buffered.
    fn pump(&mut self, ctx: &mut ProtoCtx, dir: Direction, out: &mut Vec<Emitted>, ts: Timestamp) {
        while self.dead.is_none() {
            let rec = match self.framers[dir].next_record() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(()) => {
                    ctx.tls.tls_framing_errors += 1;
                    continue;
                }
            };
            let (header, after_loss, scanned) = (rec.header, rec.after_loss, rec.skipped);
            let half = &mut self.halves[dir];
            if after_loss && half.epoch() != Epoch::Plain {
                half.seq_unknown = true;
                half.lost_bytes += scanned;
            }
            if !half.held.is_empty() {
                let item = Held::Record {
                    header,
                    fragment: rec.fragment.to_vec(),
                    ts,
                    seq_unknown: half.seq_unknown,
                };
                self.hold(ctx, dir, item);
                continue;
            }
            // The record borrows the framer; the state it changes is elsewhere.
            let step = Self::record(
                &mut self.halves,
                &mut self.hs,
                ctx,
                dir,
                &header,
                rec.fragment,
                ts,
                out,
            );
            match step {
                Step::Done => {}
                Step::Wait => {
                    let item = Held::Record {
                        header,
                        fragment: rec.fragment.to_vec(),
                        ts,
                        seq_unknown: self.halves[dir].seq_unknown,
                    };
                    self.hold(ctx, dir, item);
                    self.waiting_since.get_or_insert(ts);
                }
                Step::GiveUp(why) => self.give_up(why, &mut ctx.tls),
            }
            self.after_record(ctx, out);
        }
        ctx.tls.tls_resync_held_limit += self.framers[dir].take_held_limit_hits();
        self.framers[dir].compact();
    }

    /// The direction ended (FIN or close): the framer decides what its header scan
    /// waited for (a record ending at the last byte is taken), and what it yields is
    /// handled. Once per direction.
    fn end_direction(
        &mut self,
        ctx: &mut ProtoCtx,
        dir: Direction,
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    ) {
        if self.dead.is_some() || self.framers[dir].is_finished() {
            return;
        }
        self.framers[dir].finish();
        self.pump(ctx, dir, out, ts);
    }

    fn hold(&mut self, ctx: &mut ProtoCtx, dir: Direction, item: Held) {
        let half = &mut self.halves[dir];
        half.held_bytes += item.bytes();
        half.held.push_back(item);
        // Over the cap: the oldest records go (their sequence numbers are skipped, and a
        // gap of their plaintext goes up when decryption resumes).
        while half.held_bytes > TLS_MAX_HELD_BYTES {
            let Some(front) = half.held.pop_front() else {
                break;
            };
            half.held_bytes -= front.bytes();
            if let Held::Record { fragment, .. } = &front {
                ctx.tls.tls_held_limit += 1;
                half.records_lost += 1;
                half.dropped_unapplied += 1;
                half.dropped_recent += 1;
                half.lost_bytes += (fragment.len() + HEADER_LEN) as u64;
            }
        }
    }

    /// Retries what both directions hold, oldest first, until one waits again.
    fn retry_held(&mut self, ctx: &mut ProtoCtx, out: &mut Vec<Emitted>) {
        for dir in [Direction::ToServer, Direction::ToClient] {
            while self.dead.is_none() {
                let Some(front) = self.halves[dir].held.pop_front() else {
                    break;
                };
                let bytes = front.bytes();
                self.halves[dir].held_bytes -= bytes;
                match front {
                    Held::Record {
                        header,
                        fragment,
                        ts,
                        seq_unknown,
                    } => {
                        self.halves[dir].seq_unknown |= seq_unknown;
                        let step = Self::record(
                            &mut self.halves,
                            &mut self.hs,
                            ctx,
                            dir,
                            &header,
                            &fragment,
                            ts,
                            out,
                        );
                        match step {
                            Step::Done => {}
                            Step::Wait => {
                                let half = &mut self.halves[dir];
                                half.held_bytes += bytes;
                                half.held.push_front(Held::Record {
                                    header,
                                    fragment,
                                    ts,
                                    seq_unknown,
                                });
                                break;
                            }
                            Step::GiveUp(why) => self.give_up(why, &mut ctx.tls),
                        }
                        self.note_handshake();
                    }
                    Held::Gap(effect, ts) => self.gap_effect(ctx, dir, effect, ts, out),
                    Held::Fin(ts) => out.push(Emitted {
                        dir,
                        event: LayerEvent::Fin,
                        ts,
                    }),
                }
            }
        }
        if self.halves.iter().all(|h| h.held.is_empty()) {
            self.waiting_since = None;
        }
    }

    /// After a record: a ServerHello may let held records go.
    fn after_record(&mut self, ctx: &mut ProtoCtx, out: &mut Vec<Emitted>) {
        self.note_handshake();
        if self.hs.version.is_some() && self.halves.iter().any(|h| !h.held.is_empty()) {
            self.retry_held(ctx, out);
        }
    }

    /// Builds the connection's `TlsInfo` once the handshake told enough, and again when
    /// it tells more (ALPN in EncryptedExtensions, the Finished times).
    fn note_handshake(&mut self) {
        let hs = &self.hs;
        let (Some(version), Some(suite)) = (hs.version, hs.suite_id) else {
            return;
        };
        let handshake = match (hs.hello_ts, hs.finished.to_server, hs.finished.to_client) {
            (Some(a), Some(b), Some(c)) => Some((a, b.max(c))),
            _ => None,
        };
        let alpn = hs
            .alpn
            .as_ref()
            .map(|a| String::from_utf8_lossy(a).into_owned());
        let fresh = TlsInfo {
            version,
            cipher_suite: suite,
            sni: hs.sni.clone(),
            alpn,
            resumed: hs.resumed,
            handshake,
        };
        if self.info.as_deref() != Some(&fresh) {
            self.info = Some(Arc::new(fresh));
        }
    }

    /// One record of `dir`.
    #[allow(clippy::too_many_arguments)]
    fn record(
        halves: &mut PerDirection<Half>,
        hs: &mut Handshake,
        ctx: &mut ProtoCtx,
        dir: Direction,
        header: &[u8; HEADER_LEN],
        fragment: &[u8],
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    ) -> Step {
        let ty = header[0];
        let tls13 = hs.version == Some(TLS13);
        if ty == record::CHANGE_CIPHER_SPEC {
            // What it means depends on the version: a client's that comes before the
            // ServerHello was read (a capture order, or a test, that put the client's bytes
            // first) waits for it, and the client's records after it wait in line.
            // (Only the client's: a server's comes after its ServerHello, but for the one
            // of a HelloRetryRequest, which does not tell the version.)
            if hs.version.is_none() && hs.client_random.is_some() && dir == Direction::ToServer {
                return Step::Wait;
            }
            // TLS 1.3 keeps it only for middlebox compatibility (RFC 8446 §5); in TLS
            // 1.2 the sender's next records are encrypted.
            if !tls13 && hs.version.is_some() {
                halves[dir].set_epoch(Epoch::Application);
            }
            return Step::Done;
        }
        let half = &mut halves[dir];
        // TLS 1.3 protects every record as application data on the wire (RFC 8446 §5.2):
        // another type there is plaintext (a hello the capture order put late). Its client
        // records after the ClientHello are encrypted even before the ServerHello told the
        // version (0-RTT data).
        let encrypted = if tls13 {
            ty == record::APPLICATION_DATA
        } else {
            half.epoch() != Epoch::Plain
                || (ty == record::APPLICATION_DATA
                    && dir == Direction::ToServer
                    && hs.version.is_none())
        };
        if !encrypted {
            if ty == record::HANDSHAKE {
                half.hs.push(fragment);
                return Self::handshake_messages(halves, hs, ctx, dir, ts);
            }
            // Plaintext alerts, heartbeats, application data before any key: nothing
            // for the session.
            return Step::Done;
        }
        // The ServerHello was read but not the ClientHello: the capture order put it later
        // (it was sent first); the records wait for it. Without either it is a pickup.
        if hs.client_random.is_none() && hs.version.is_some() {
            return Step::Wait;
        }
        if hs.client_random.is_none() {
            match Self::orphan(halves, hs, ctx, dir, header, fragment) {
                // Found: the record is read below with the decryptor the trial set up.
                Step::Done if hs.client_random.is_some() => {}
                step => return step,
            }
        }
        let half = &mut halves[dir];
        if half.epoch() == Epoch::Plain {
            let epoch = if hs.offered_early_data {
                Epoch::Early
            } else {
                Epoch::Handshake
            };
            half.set_epoch(epoch);
        }
        let mut plain = std::mem::take(&mut halves[dir].plain);
        plain.clear();
        let opened = Self::open(halves, hs, ctx, dir, header, fragment, &mut plain);
        let half = &mut halves[dir];
        let inner = match opened {
            Ok(inner) => inner,
            Err(Unopened::Step(step)) => {
                half.plain = plain;
                return step;
            }
            Err(Unopened::Auth) => {
                half.plain = plain;
                return Self::auth_failed(half, ctx, fragment.len());
            }
        };
        if half.seq_unknown {
            half.seq_unknown = false;
            ctx.tls.tls_resyncs += 1;
        }
        half.auth_failures = 0;
        ctx.tls.tls_records_decrypted += 1;
        if !hs.decrypted_any {
            hs.decrypted_any = true;
            ctx.tls.tls_decrypted_connections += 1;
        }
        let step = match inner {
            record::APPLICATION_DATA => {
                if half.pending_gap > 0 {
                    out.push(Emitted {
                        dir,
                        event: LayerEvent::Gap(std::mem::take(&mut half.pending_gap)),
                        ts,
                    });
                }
                if !plain.is_empty() {
                    out.push(Emitted {
                        dir,
                        event: LayerEvent::Data(plain.clone()),
                        ts,
                    });
                }
                Step::Done
            }
            record::HANDSHAKE => {
                half.hs.push(&plain);
                Self::handshake_messages(halves, hs, ctx, dir, ts)
            }
            _ => Step::Done,
        };
        halves[dir].plain = plain;
        step
    }

    /// Decrypts an encrypted record of `dir` with the key of its epoch, building the
    /// decryptor first when the epoch is new.
    #[allow(clippy::too_many_arguments)]
    fn open(
        halves: &mut PerDirection<Half>,
        hs: &mut Handshake,
        ctx: &mut ProtoCtx,
        dir: Direction,
        header: &[u8; HEADER_LEN],
        fragment: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<u8, Unopened> {
        if halves[dir].dec.is_none() {
            let dec = Self::decryptor(halves, hs, ctx, dir, header, fragment)?;
            halves[dir].dec = Some(dec);
        }
        let half = &mut halves[dir];
        let Some(dec) = half.dec.as_mut() else {
            return Err(Unopened::Step(Step::Wait));
        };
        if half.dropped_unapplied > 0 {
            // The records the held cap dropped used their sequence numbers.
            dec.set_seq(
                dec.seq()
                    .wrapping_add(std::mem::take(&mut half.dropped_unapplied)),
            );
        }
        let opened = if half.seq_unknown {
            // The records between the expected and the found sequence number are lost.
            dec.decrypt_resync(TLS_RESYNC_WINDOW, header, fragment, plain)
                .map(|(ty, skipped)| {
                    half.records_lost += skipped;
                    ty
                })
        } else {
            dec.decrypt(header, fragment, plain)
        };
        match opened {
            Ok(inner) => {
                let suite = dec.suite();
                half.early_skip = false;
                half.dropped_recent = 0;
                half.settle_loss(suite);
                Ok(inner)
            }
            // Authenticated but malformed (an all-zero TLS 1.3 inner plaintext, bad
            // padding under encrypt-then-MAC): the record used its sequence number and is
            // dropped; the session gets a gap.
            Err(e) if e.authenticated() => {
                let suite = dec.suite();
                ctx.tls.tls_auth_failures += 1;
                half.pending_gap +=
                    estimate_plaintext(suite, (fragment.len() + HEADER_LEN) as u64, 1);
                Err(Unopened::Step(Step::Done))
            }
            // The early key stopped opening records: 0-RTT data ended (the client's
            // EndOfEarlyData is itself under the early key, but a rejected 0-RTT has
            // none): the handshake key takes over (RFC 8446 §4.2.10).
            Err(_) if half.epoch() == Epoch::Early => {
                half.set_epoch(Epoch::Handshake);
                plain.clear();
                Self::open(halves, hs, ctx, dir, header, fragment, plain)
            }
            // Without the early secret, records the handshake key does not open are
            // skipped as 0-RTT data and the sequence number stays (Wireshark's rule).
            Err(_) if half.early_skip => {
                ctx.tls.tls_early_data_skipped += 1;
                Err(Unopened::Step(Step::Done))
            }
            // TLS 1.3: records of this direction were lost in its handshake epoch (a gap,
            // or the held cap while its secrets were awaited) and the handshake key does
            // not open this one: the Finished may have been among them.
            Err(_)
                if half.epoch() == Epoch::Handshake
                    && hs.version == Some(TLS13)
                    && (half.seq_unknown || half.dropped_recent > 0) =>
            {
                Self::open_after_lost_finished(halves, hs, ctx, dir, header, fragment, plain)
            }
            Err(_) => Err(Unopened::Auth),
        }
    }

    /// A record failed authentication: dropped, the session gets a gap.
    fn auth_failed(half: &mut Half, ctx: &mut ProtoCtx, fragment_len: usize) -> Step {
        let lost = (fragment_len + HEADER_LEN) as u64;
        if half.seq_unknown {
            // Not found within the window: the next record tries again from the same
            // base (the sequence number it finds counts this record lost too).
            ctx.tls.tls_resync_failures += 1;
            half.lost_bytes += lost;
        } else {
            ctx.tls.tls_auth_failures += 1;
            half.auth_failures += 1;
            if let Some(dec) = half.dec.as_mut() {
                // The damaged record used its sequence number.
                dec.set_seq(dec.seq().wrapping_add(1));
                half.pending_gap += estimate_plaintext(dec.suite(), lost, 1);
            }
        }
        if half.auth_failures >= TLS_MAX_AUTH_FAILURES {
            return Step::GiveUp(GiveUp::WrongKey);
        }
        Step::Done
    }

    fn gap_effect(
        &mut self,
        ctx: &mut ProtoCtx,
        dir: Direction,
        effect: GapEffect,
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    ) {
        let half = &mut self.halves[dir];
        match effect {
            // The gap continued a record already counted lost.
            GapEffect::LostRecord { fragment_len: 0 } => return,
            GapEffect::LostRecord { fragment_len } => {
                ctx.tls.tls_records_lost += 1;
                let lost = (fragment_len + HEADER_LEN) as u64;
                let encrypted = half.epoch() != Epoch::Plain;
                match half.dec.as_mut() {
                    Some(dec) => {
                        dec.set_seq(dec.seq().wrapping_add(1));
                        half.pending_gap += estimate_plaintext(dec.suite(), lost, 1);
                    }
                    // Lost before its decryptor exists: the next record finds its
                    // sequence number by trial, which counts the lost one. A record
                    // lost before encryption began was handshake, not plaintext.
                    None if encrypted => {
                        half.seq_unknown = true;
                        half.lost_bytes += lost;
                    }
                    None => {}
                }
            }
            GapEffect::Unaligned { bytes } => {
                ctx.tls.tls_records_lost += 1;
                if half.epoch() != Epoch::Plain {
                    half.seq_unknown = true;
                    half.lost_bytes += bytes;
                }
                // A handshake message cut by the gap cannot be completed.
                half.hs = HandshakeReader::default();
            }
        }
        if half.pending_gap > 0 && half.held.is_empty() {
            out.push(Emitted {
                dir,
                event: LayerEvent::Gap(std::mem::take(&mut half.pending_gap)),
                ts,
            });
        }
    }

    /// Live: retries waiting records when new secrets reached the worker, and gives them
    /// up once `-tls-keylog-wait` has passed.
    fn check_wait(&mut self, ctx: &mut ProtoCtx, now: Timestamp, out: &mut Vec<Emitted>) {
        let Some(since) = self.waiting_since else {
            return;
        };
        if ctx.keys.generation() != self.keys_generation {
            self.keys_generation = ctx.keys.generation();
            self.retry_held(ctx, out);
            if self.waiting_since.is_none() {
                ctx.tls.tls_keys_late += 1;
                return;
            }
        }
        // Only a live capture waits for secrets; a replay's held records wait for the
        // ServerHello alone, which comes or not (the close then drops them).
        if !ctx.tls_settings.keys_final && now.since(since) >= ctx.tls_settings.keylog_wait {
            self.give_up(GiveUp::NoKey, &mut ctx.tls);
        }
    }
}

impl Default for TlsLayer {
    fn default() -> Self {
        TlsLayer::new()
    }
}

/// Plaintext bytes in `ciphertext` bytes of `records` lost records (headers included;
/// bytes of a record already counted add no overhead): exact for AEAD suites without
/// padding, a close estimate for CBC.
fn estimate_plaintext(suite: &Suite, ciphertext: u64, records: u64) -> u64 {
    let per_record = HEADER_LEN as u64
        + match (suite.tls13, suite.cipher) {
            (true, _) => 16 + 1,
            (false, Cipher::Aes128Gcm | Cipher::Aes256Gcm) => 8 + 16,
            (false, Cipher::ChaCha20Poly1305) => 16,
            // IV, MAC and on average half a block of padding.
            (false, Cipher::Aes128Cbc | Cipher::Aes256Cbc) => {
                16 + suite.mac.map_or(20, |m| m.len()) as u64 + 8
            }
        };
    ciphertext.saturating_sub(per_record.saturating_mul(records))
}

impl Layer for TlsLayer {
    fn on_data(
        &mut self,
        ctx: &mut ProtoCtx,
        _conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    ) {
        if self.dead.is_some() {
            return;
        }
        self.check_wait(ctx, ts, out);
        self.framers[dir].push(data);
        self.pump(ctx, dir, out, ts);
    }

    fn on_gap(
        &mut self,
        ctx: &mut ProtoCtx,
        _conn: &ConnInfo,
        dir: Direction,
        len: u64,
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    ) {
        if self.dead.is_some() {
            return;
        }
        let effect = self.framers[dir].gap(len);
        if self.halves[dir].held.is_empty() {
            self.gap_effect(ctx, dir, effect, ts, out);
        } else {
            self.hold(ctx, dir, Held::Gap(effect, ts));
        }
    }

    fn on_fin(
        &mut self,
        ctx: &mut ProtoCtx,
        _conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    ) {
        self.end_direction(ctx, dir, ts, out);
        if self.dead.is_some() {
            return;
        }
        if self.halves[dir].held.is_empty() {
            out.push(Emitted {
                dir,
                event: LayerEvent::Fin,
                ts,
            });
        } else {
            self.halves[dir].held.push_back(Held::Fin(ts));
        }
    }

    fn on_end(
        &mut self,
        ctx: &mut ProtoCtx,
        _conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    ) {
        self.end_direction(ctx, dir, ts, out);
    }

    fn on_tick(&mut self, ctx: &mut ProtoCtx, now: Timestamp, out: &mut Vec<Emitted>) {
        if self.dead.is_none() {
            self.check_wait(ctx, now, out);
        }
    }

    fn on_close(&mut self, ctx: &mut ProtoCtx) {
        // Records still waiting when the connection ends are lost: for keys, or for a
        // ClientHello that never came.
        if self.waiting_since.is_some() && self.dead.is_none() {
            let why = if self.hs.client_random.is_none() {
                GiveUp::NoClientHello
            } else {
                GiveUp::NoKey
            };
            self.give_up(why, &mut ctx.tls);
        }
        // A pickup whose secret no trial found.
        if self.hs.orphan_seen && self.hs.client_random.is_none() {
            self.give_up(GiveUp::NoClientHello, &mut ctx.tls);
        }
    }

    fn waiting(&self) -> bool {
        self.waiting_since.is_some() && self.dead.is_none()
    }

    fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.framers.iter().map(Framer::mem_bytes).sum::<usize>()
            + self
                .halves
                .iter()
                .map(|h| h.held_bytes + h.plain.capacity() + h.hs.buffered())
                .sum::<usize>()
    }

    fn carries(&self) -> Option<Protocol> {
        match self.hs.alpn.as_deref() {
            Some(b"h2") => Some(Protocol::Http2),
            Some(b"http/1.1" | b"http/1.0") => Some(Protocol::Http1),
            _ => None,
        }
    }

    fn tls_info(&self) -> Option<Arc<TlsInfo>> {
        self.info.clone()
    }
}
