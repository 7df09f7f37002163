//! The handshake messages a passive decoder reads, in either direction and whether they
//! came in plaintext or decrypted: the hellos (client random, SNI, version, suite, ALPN),
//! EncryptedExtensions (TLS 1.3 ALPN), EndOfEarlyData, Finished (the epoch switch and the
//! handshake's end time) and KeyUpdate.

use super::*;

impl TlsLayer {
    /// Reads the complete handshake messages `dir` has.
    pub(super) fn handshake_messages(
        halves: &mut PerDirection<Half>,
        hs: &mut Handshake,
        ctx: &mut ProtoCtx,
        dir: Direction,
        ts: Timestamp,
    ) -> Step {
        let mut step = Step::Done;
        loop {
            let (ty, body) = match halves[dir].hs.next() {
                Some(HandshakeEvent::Message { msg_type, body }) => (msg_type, body),
                Some(HandshakeEvent::Oversized { .. }) => {
                    ctx.tls.tls_handshake_errors += 1;
                    continue;
                }
                None => break,
            };
            match (dir, ty) {
                (Direction::ToServer, HS_CLIENT_HELLO) => {
                    if hs.finished.to_client.is_some() || hs.finished.to_server.is_some() {
                        ctx.tls.tls_renegotiations += 1;
                        continue;
                    }
                    match handshake::parse_client_hello(&body) {
                        Ok(ch) => {
                            if ch.ech {
                                ctx.tls.tls_ech_hellos += 1;
                            }
                            // A second ClientHello (after a HelloRetryRequest) keeps the
                            // random (RFC 8446 §4.1.2) and withdraws early data.
                            let again = hs.client_random.is_some();
                            hs.client_random = Some(ch.random);
                            hs.sni = ch.sni;
                            hs.offered_early_data = ch.early_data && !again;
                            hs.client_session_id = ch.session_id;
                            hs.hello_ts.get_or_insert(ts);
                        }
                        Err(_) => ctx.tls.tls_handshake_errors += 1,
                    }
                }
                (Direction::ToClient, HS_SERVER_HELLO) => {
                    match handshake::parse_server_hello(&body) {
                        Ok(sh) if sh.hello_retry => {}
                        Ok(sh) => {
                            let tls13 = sh.version == TLS13;
                            hs.server_random = Some(sh.random);
                            hs.version = Some(sh.version);
                            hs.suite_id = Some(sh.cipher_suite);
                            // TLS 1.0 and 1.1 use another PRF (MD5 and SHA-1): not decrypted.
                            hs.suite = crypto::suite(sh.cipher_suite)
                                .filter(|s| s.tls13 == tls13 && (tls13 || sh.version == 0x0303));
                            hs.encrypt_then_mac = sh.encrypt_then_mac;
                            hs.alpn = sh.alpn;
                            hs.resumed = if tls13 {
                                sh.pre_shared_key
                            } else {
                                !sh.session_id.is_empty() && sh.session_id == hs.client_session_id
                            };
                            if hs.suite.is_none() {
                                step = Step::GiveUp(GiveUp::UnsupportedSuite);
                            } else if tls13 {
                                halves[Direction::ToClient].set_epoch(Epoch::Handshake);
                            }
                        }
                        Err(_) => ctx.tls.tls_handshake_errors += 1,
                    }
                }
                (Direction::ToClient, HS_ENCRYPTED_EXTENSIONS) => {
                    match handshake::parse_encrypted_extensions(&body) {
                        Ok(ee) => hs.alpn = ee.alpn.or(hs.alpn.take()),
                        Err(_) => ctx.tls.tls_handshake_errors += 1,
                    }
                }
                (Direction::ToServer, HS_END_OF_EARLY_DATA) => {
                    halves[dir].set_epoch(Epoch::Handshake);
                }
                (_, HS_FINISHED) => {
                    hs.finished[dir].get_or_insert(ts);
                    if hs.version == Some(TLS13) {
                        halves[dir].set_epoch(Epoch::Application);
                    }
                }
                (_, HS_KEY_UPDATE) if hs.version == Some(TLS13) => {
                    if let Some(dec) = halves[dir].dec.as_mut() {
                        dec.key_update();
                        ctx.tls.tls_key_updates += 1;
                    }
                }
                (Direction::ToClient, HS_HELLO_REQUEST) if hs.finished.to_client.is_some() => {
                    ctx.tls.tls_renegotiations += 1;
                }
                _ => {}
            }
        }
        step
    }
}
