//! Where a direction's decryptor comes from: the key store for the connection's client
//! random and its epoch (TLS 1.2 key block, TLS 1.3 traffic secrets, 0-RTT's suite by
//! trial), or, for a connection picked up without its ClientHello, a bounded trial of the
//! key log's TLS 1.3 secrets (`-tls-pickup-trial`); and, after a loss that may have taken
//! a TLS 1.3 direction's Finished, its application key in place of the handshake key.

use super::*;

/// Sequence numbers tried with one secret before the next secret is (each decryptor is
/// built once per step, not once per trial).
const ORPHAN_SEQ_STEP: usize = 4;

impl TlsLayer {
    /// A connection picked up without its ClientHello: its TLS 1.3 traffic secret may be
    /// in the key log all the same (the secrets do not depend on anything on the wire).
    /// Each secret of this direction is tried with the suites of its length at sequence
    /// numbers 0..`TLS_RESYNC_WINDOW`, within `TLS_ORPHAN_MAX_TRIALS` for the connection;
    /// the AEAD tag makes a false match negligible. Found: the connection continues as if
    /// its handshake had been seen (both directions in the application epoch, the other
    /// one's sequence number found by trial). TLS 1.2 cannot be recovered this way.
    pub(super) fn orphan(
        halves: &mut PerDirection<Half>,
        hs: &mut Handshake,
        ctx: &mut ProtoCtx,
        dir: Direction,
        header: &[u8; HEADER_LEN],
        fragment: &[u8],
    ) -> Step {
        if header[0] != record::APPLICATION_DATA {
            // Alerts, handshake fragments of a pickup: nothing to read.
            return Step::Done;
        }
        if !ctx.tls_settings.pickup_trial || hs.orphan_trials >= TLS_ORPHAN_MAX_TRIALS {
            return Step::GiveUp(GiveUp::NoClientHello);
        }
        if fragment.len() > TLS_ORPHAN_MAX_RECORD {
            // Too costly to try: a shorter record (a request, an ACK-sized response
            // part) will come.
            ctx.tls.tls_orphan_records_skipped += 1;
            return Step::Done;
        }
        hs.orphan_seen = true;
        let mut scratch = Vec::new();
        let mut found = None;
        let mut candidates = 0usize;
        // Every (secret, suite) of this direction at the first `ORPHAN_SEQ_STEP` sequence
        // numbers, then every one at the next ones: the budget reaches every logged secret
        // at the first sequence numbers before any at later ones (a key log of hundreds of
        // sessions would otherwise be tried only in its first few).
        // At most as many as the budget left can try (each at least once).
        let room = TLS_ORPHAN_MAX_TRIALS - hs.orphan_trials;
        let mut decs = Vec::new();
        for (random, secrets) in ctx.keys.iter() {
            let secret = match dir {
                Direction::ToServer => &secrets.client_traffic0,
                Direction::ToClient => &secrets.server_traffic0,
            };
            let Some(secret) = secret else { continue };
            candidates += 1;
            for suite in [0x1301u16, 0x1302, 0x1303]
                .into_iter()
                .filter_map(crypto::suite)
                .filter(|s| s.prf.len() == secret.len())
            {
                if decs.len() < room {
                    decs.push((random, suite, secret));
                }
            }
        }
        'search: for first in (0..TLS_RESYNC_WINDOW).step_by(ORPHAN_SEQ_STEP) {
            for &(random, suite, secret) in &decs {
                let dec = RecordDecryptor::tls13(suite, secret.as_bytes());
                for seq in first..first + ORPHAN_SEQ_STEP as u64 {
                    if hs.orphan_trials >= TLS_ORPHAN_MAX_TRIALS {
                        break 'search;
                    }
                    hs.orphan_trials += 1;
                    scratch.clear();
                    if dec.decrypt_at(seq, header, fragment, &mut scratch).is_ok() {
                        found = Some((*random, suite, dec, seq));
                        break 'search;
                    }
                }
            }
        }
        let Some((random, suite, mut dec, seq)) = found else {
            if hs.orphan_trials >= TLS_ORPHAN_MAX_TRIALS
                || (candidates == 0 && ctx.tls_settings.keys_final)
            {
                return Step::GiveUp(GiveUp::NoClientHello);
            }
            // No secret opens this record: it is dropped, and the next short one is tried
            // (within the budget; live, a secret may yet arrive).
            ctx.tls.tls_orphan_records_skipped += 1;
            return Step::Done;
        };
        ctx.tls.tls_orphans_recovered += 1;
        hs.client_random = Some(random);
        hs.version = Some(TLS13);
        hs.suite_id = Some(suite.id);
        hs.suite = Some(suite);
        for (d, half) in [Direction::ToServer, Direction::ToClient]
            .into_iter()
            .zip(halves.iter_mut())
        {
            half.set_epoch(Epoch::Application);
            half.seq_unknown = d != dir;
        }
        dec.set_seq(seq);
        halves[dir].dec = Some(dec);
        Step::Done
    }

    /// The application key is tried on a record the handshake key did not open after a
    /// loss, its sequence number searched within `TLS_RESYNC_WINDOW` from where the
    /// records lost leave it (all but `MAX_LOST_HANDSHAKE_RECORDS` of those dropped by the
    /// held cap being the application epoch's). Opened: the direction stays in the
    /// application epoch. Not: everything is as before, and the record failed.
    pub(super) fn open_after_lost_finished(
        halves: &mut PerDirection<Half>,
        hs: &mut Handshake,
        ctx: &mut ProtoCtx,
        dir: Direction,
        header: &[u8; HEADER_LEN],
        fragment: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<u8, Unopened> {
        let half = &mut halves[dir];
        let saved = (
            half.dec.take(),
            half.seq_unknown,
            half.dropped_recent,
            half.records_lost,
            half.early_skip,
        );
        // A record the application key does not open is not skipped as 0-RTT data here.
        half.early_skip = false;
        half.set_epoch(Epoch::Application);
        half.seq_unknown = true;
        half.dropped_unapplied = half
            .dropped_recent
            .saturating_sub(MAX_LOST_HANDSHAKE_RECORDS);
        half.dropped_recent = 0;
        // The search counts the application records lost; the bytes lost stay, so the
        // gap estimate also covers the handshake records lost (an overestimate by them).
        half.records_lost = 0;
        plain.clear();
        let opened = Self::open(halves, hs, ctx, dir, header, fragment, plain);
        match opened {
            // Opened (or authenticated and malformed: the key is right all the same).
            Ok(_) | Err(Unopened::Step(Step::Done)) => return opened,
            _ => {}
        }
        let half = &mut halves[dir];
        half.epoch = Some(Epoch::Handshake);
        (
            half.dec,
            half.seq_unknown,
            half.dropped_recent,
            half.records_lost,
            half.early_skip,
        ) = saved;
        half.dropped_unapplied = 0;
        match opened {
            // Live, the application secret is not logged yet: the record waits and is
            // tried again (both keys) when secrets come.
            Err(Unopened::Step(Step::Wait)) => opened,
            _ => Err(Unopened::Auth),
        }
    }

    /// The decryptor of `dir`'s current epoch, from the key store.
    pub(super) fn decryptor(
        halves: &mut PerDirection<Half>,
        hs: &Handshake,
        ctx: &ProtoCtx,
        dir: Direction,
        header: &[u8; HEADER_LEN],
        fragment: &[u8],
    ) -> Result<RecordDecryptor, Unopened> {
        let Some(random) = hs.client_random else {
            return Err(Unopened::Step(Step::GiveUp(GiveUp::NoClientHello)));
        };
        let missing = || {
            Unopened::Step(if ctx.tls_settings.keys_final {
                Step::GiveUp(GiveUp::NoKey)
            } else {
                Step::Wait
            })
        };
        let Some(secrets) = ctx.keys.get(&random) else {
            return Err(missing());
        };
        let half = &mut halves[dir];
        if half.epoch() == Epoch::Early {
            if let Some(dec) = secrets
                .client_early
                .as_ref()
                .and_then(|s| early_decryptor(s.as_bytes(), header, fragment))
            {
                return Ok(dec);
            }
            // No early secret, or no suite opens the record with it: the handshake key
            // is tried, and what it does not open is skipped as 0-RTT data.
            half.set_epoch(Epoch::Handshake);
            half.early_skip = secrets.client_early.is_none();
        }
        let (Some(version), Some(_)) = (hs.version, hs.suite_id) else {
            return Err(Unopened::Step(Step::Wait));
        };
        let Some(suite) = hs.suite else {
            return Err(Unopened::Step(Step::GiveUp(GiveUp::UnsupportedSuite)));
        };
        if version == TLS13 {
            return match tls13_secret(secrets, dir, half.epoch()) {
                Some(s) => Ok(RecordDecryptor::tls13(suite, s.as_bytes())),
                None => Err(missing()),
            };
        }
        let (Some(ms), Some(server_random)) = (&secrets.master_secret, hs.server_random) else {
            return Err(missing());
        };
        let keys = crypto::kdf::tls12_keys(suite, ms.as_bytes(), &random, &server_random);
        let keys = match dir {
            Direction::ToServer => &keys.client,
            Direction::ToClient => &keys.server,
        };
        Ok(RecordDecryptor::tls12(suite, keys, hs.encrypt_then_mac))
    }
}

/// The secret of a TLS 1.3 direction and epoch.
fn tls13_secret(s: &Secrets, dir: Direction, epoch: Epoch) -> Option<&crate::keylog::Secret> {
    match (dir, epoch) {
        (Direction::ToServer, Epoch::Early) => s.client_early.as_ref(),
        (Direction::ToServer, Epoch::Handshake) => s.client_handshake.as_ref(),
        (Direction::ToClient, Epoch::Handshake) => s.server_handshake.as_ref(),
        (Direction::ToServer, _) => s.client_traffic0.as_ref(),
        (Direction::ToClient, _) => s.server_traffic0.as_ref(),
    }
}

/// 0-RTT records use the resumed session's suite, which the ClientHello does not name:
/// the suites of the secret's hash are tried (Wireshark's `decrypt_tls13_early_data`).
fn early_decryptor(
    secret: &[u8],
    header: &[u8; HEADER_LEN],
    fragment: &[u8],
) -> Option<RecordDecryptor> {
    let mut scratch = Vec::new();
    [0x1301u16, 0x1302, 0x1303]
        .into_iter()
        .filter_map(crypto::suite)
        .filter(|s| s.prf.len() == secret.len())
        .map(|s| RecordDecryptor::tls13(s, secret))
        .find(|d| {
            scratch.clear();
            d.decrypt_at(0, header, fragment, &mut scratch).is_ok()
        })
}
