//! `TlsLayer` driven by whole TLS conversations with known secrets (`tls::testing`).

use std::time::Duration;

use super::crypto::{self, RecordEncryptor};
use super::record::APPLICATION_DATA;
use super::testing::{conn, entry, exchange, tls12, tls13, REQUEST, RESPONSE};
use super::TlsLayer;
use crate::http::HttpLimits;
use crate::keylog::{Entry, Label};
use crate::model::{Direction, PerDirection};
use crate::proto::{Emitted, Layer, LayerEvent, ProtoConn, ProtoCtx};
use crate::reassembly::StreamHandler;
use crate::time::Timestamp;

use Direction::{ToClient, ToServer};

fn ts(ms: i64) -> Timestamp {
    Timestamp(ms * 1_000_000)
}

fn ctx_with(entries: &[Entry], keys_final: bool) -> ProtoCtx {
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    ctx.tls_settings.enabled = true;
    ctx.tls_settings.keys_final = keys_final;
    ctx.tls_settings.pickup_trial = true;
    ctx.keys.add(entries);
    ctx
}

/// Feeds `segs` to a bare layer, each cut into pieces of `step` bytes; returns the
/// plaintext (and gaps as `[GAP n]`) per direction.
fn run_layer(
    ctx: &mut ProtoCtx,
    segs: &[(Direction, Vec<u8>)],
    step: usize,
) -> PerDirection<Vec<u8>> {
    let mut layer = TlsLayer::new();
    let mut got = PerDirection::<Vec<u8>>::default();
    for (i, (dir, bytes)) in segs.iter().enumerate() {
        for piece in bytes.chunks(step.max(1)) {
            let mut out = Vec::new();
            layer.on_data(ctx, &conn(), *dir, piece, ts(i as i64), &mut out);
            collect(&mut got, out);
        }
    }
    got
}

fn collect(got: &mut PerDirection<Vec<u8>>, out: Vec<Emitted>) {
    for e in out {
        match e.event {
            LayerEvent::Data(d) => got[e.dir].extend_from_slice(&d),
            LayerEvent::Gap(n) => got[e.dir].extend_from_slice(format!("[GAP {n}]").as_bytes()),
            _ => {}
        }
    }
}

#[test]
fn tls13_every_suite_decrypts_at_any_segmentation() {
    for suite in [0x1301, 0x1302, 0x1303] {
        let conv = tls13(suite, None, false, &exchange());
        for step in [1, 7, 100, 100_000] {
            let mut ctx = ctx_with(&conv.entries, true);
            let got = run_layer(&mut ctx, &conv.segments, step);
            assert_eq!(got.to_server, REQUEST, "suite {suite:#06x} step {step}");
            assert_eq!(got.to_client, RESPONSE, "suite {suite:#06x} step {step}");
            assert_eq!(ctx.tls.tls_decrypted_connections, 1);
            assert_eq!(ctx.tls.tls_auth_failures, 0);
        }
    }
}

#[test]
fn tls13_key_update_is_followed() {
    let conv = tls13(0x1301, None, true, &exchange());
    let mut ctx = ctx_with(&conv.entries, true);
    let got = run_layer(&mut ctx, &conv.segments, 1000);
    assert_eq!(got.to_client, RESPONSE);
    assert_eq!(ctx.tls.tls_key_updates, 1);
}

#[test]
fn tls12_aead_and_cbc_suites_decrypt() {
    for suite in [0xc02f, 0xc030, 0xcca8, 0xc013, 0xc028, 0x003c] {
        let conv = tls12(suite, &exchange());
        let mut ctx = ctx_with(&conv.entries, true);
        let got = run_layer(&mut ctx, &conv.segments, 13);
        assert_eq!(got.to_server, REQUEST, "suite {suite:#06x}");
        assert_eq!(got.to_client, RESPONSE, "suite {suite:#06x}");
    }
}

#[test]
fn no_key_in_a_replay_gives_nothing_and_is_counted() {
    let conv = tls13(0x1301, None, false, &exchange());
    let mut ctx = ctx_with(&[], true);
    let got = run_layer(&mut ctx, &conv.segments, 1000);
    assert!(got.to_server.is_empty() && got.to_client.is_empty());
    assert_eq!(ctx.tls.tls_no_key, 1);
}

#[test]
fn a_wrong_key_is_given_up_on() {
    let mut conv = tls12(0xc02f, &exchange());
    for _ in 0..10 {
        let extra = conv.segments[6].clone();
        conv.segments.push(extra);
    }
    let wrong = entry(Label::ClientRandom, &[0x77; 48]);
    let mut ctx = ctx_with(&[wrong], true);
    let got = run_layer(&mut ctx, &conv.segments, 1000);
    assert!(!String::from_utf8_lossy(&got.to_server).contains("GET"));
    assert_eq!(ctx.tls.tls_wrong_key, 1);
}

#[test]
fn live_keys_that_come_late_still_decrypt_and_too_late_are_counted() {
    let conv = tls13(0x1302, None, false, &exchange());
    for (delay, decrypted) in [(2, true), (6, false)] {
        let mut ctx = ctx_with(&[], false);
        let mut layer = TlsLayer::new();
        let mut got = PerDirection::<Vec<u8>>::default();
        for (dir, bytes) in &conv.segments {
            let mut out = Vec::new();
            layer.on_data(&mut ctx, &conn(), *dir, bytes, ts(0), &mut out);
            collect(&mut got, out);
        }
        assert!(got.to_server.is_empty(), "nothing before the keys");
        // Ticks every second of packet time; the keys arrive after `delay` seconds.
        for sec in 1..=7 {
            if sec == delay {
                ctx.keys.add(&conv.entries);
            }
            let mut out = Vec::new();
            layer.on_tick(&mut ctx, ts(sec * 1000), &mut out);
            collect(&mut got, out);
        }
        assert_eq!(got.to_server == REQUEST, decrypted, "delay {delay}");
        assert_eq!(got.to_client == RESPONSE, decrypted, "delay {delay}");
        assert_eq!(ctx.tls.tls_keys_late, u64::from(decrypted));
        assert_eq!(ctx.tls.tls_no_key, u64::from(!decrypted));
        assert!(ctx.tls_settings.keylog_wait == Duration::from_secs(5));
    }
}

#[test]
fn a_gap_inside_a_record_loses_exactly_its_plaintext() {
    let suite = crypto::suite(0x1301).unwrap();
    let mut conv = tls13(0x1301, None, false, &exchange());
    let mut s_ap = RecordEncryptor::tls13(suite, &[4; 32]);
    let first = s_ap.encrypt(APPLICATION_DATA, &RESPONSE[..20]);
    let second = s_ap.encrypt(APPLICATION_DATA, &RESPONSE[20..]);
    conv.segments.pop();
    let mut ctx = ctx_with(&conv.entries, true);
    let mut layer = TlsLayer::new();
    let mut got = PerDirection::<Vec<u8>>::default();
    for (dir, bytes) in &conv.segments {
        let mut out = Vec::new();
        layer.on_data(&mut ctx, &conn(), *dir, bytes, ts(0), &mut out);
        collect(&mut got, out);
    }
    let mut out = Vec::new();
    layer.on_data(&mut ctx, &conn(), ToClient, &first[..10], ts(1), &mut out);
    layer.on_gap(&mut ctx, &conn(), ToClient, 5, ts(1), &mut out);
    layer.on_data(&mut ctx, &conn(), ToClient, &first[15..], ts(1), &mut out);
    layer.on_data(&mut ctx, &conn(), ToClient, &second, ts(1), &mut out);
    collect(&mut got, out);
    let expected = [b"[GAP 20]".as_slice(), &RESPONSE[20..]].concat();
    assert_eq!(got.to_client, expected);
    assert_eq!(ctx.tls.tls_records_lost, 1);
}

#[test]
fn a_gap_that_takes_record_headers_resyncs_by_trial_decryption() {
    let suite = crypto::suite(0x1303).unwrap();
    let mut conv = tls13(0x1303, None, false, &exchange());
    conv.segments.pop();
    let mut s_ap = RecordEncryptor::tls13(suite, &[4; 32]);
    let recs: Vec<Vec<u8>> = (0..5)
        .map(|i| s_ap.encrypt(APPLICATION_DATA, format!("part{i};").as_bytes()))
        .collect();
    let mut ctx = ctx_with(&conv.entries, true);
    let mut layer = TlsLayer::new();
    let mut got = PerDirection::<Vec<u8>>::default();
    for (dir, bytes) in &conv.segments {
        let mut out = Vec::new();
        layer.on_data(&mut ctx, &conn(), *dir, bytes, ts(0), &mut out);
        collect(&mut got, out);
    }
    let mut out = Vec::new();
    layer.on_data(&mut ctx, &conn(), ToClient, &recs[0], ts(1), &mut out);
    // Half of record 1, all of record 2 and the start of record 3 are lost.
    layer.on_data(&mut ctx, &conn(), ToClient, &recs[1][..4], ts(1), &mut out);
    let lost = (recs[1].len() - 4 + recs[2].len() + 3) as u64;
    layer.on_gap(&mut ctx, &conn(), ToClient, lost, ts(1), &mut out);
    layer.on_data(&mut ctx, &conn(), ToClient, &recs[3][3..], ts(1), &mut out);
    layer.on_data(&mut ctx, &conn(), ToClient, &recs[4], ts(1), &mut out);
    collect(&mut got, out);
    // Record 4 ends at the last byte so far: it waits for the header after it, or for
    // the direction's end.
    let text = String::from_utf8_lossy(&got.to_client).into_owned();
    assert!(text.ends_with("part0;"), "{text}");
    let mut out = Vec::new();
    layer.on_fin(&mut ctx, &conn(), ToClient, ts(2), &mut out);
    assert!(matches!(
        out.last().map(|e| &e.event),
        Some(LayerEvent::Fin)
    ));
    collect(&mut got, out);
    let text = String::from_utf8_lossy(&got.to_client).into_owned();
    assert!(text.starts_with("part0;"), "{text}");
    assert!(text.ends_with("part4;"), "{text}");
    assert_eq!(ctx.tls.tls_resyncs, 1, "{:?}", ctx.tls);
}

/// A connection that ends without a FIN (idle timeout, eviction, RST, the end of the
/// capture) ends its directions as a FIN would (`Layer::on_end`): after a loss, the last
/// record (ending at the last byte) is decrypted before the close, as with a FIN.
#[test]
fn a_close_without_fin_takes_the_last_record_after_a_loss_as_a_fin_does() {
    use crate::reassembly::CloseReason;
    let suite = crypto::suite(0x1303).unwrap();
    let mut conv = tls13(0x1303, None, false, &exchange());
    conv.segments.pop();
    let mut results = Vec::new();
    for reason in [
        CloseReason::Fin,
        CloseReason::Idle,
        CloseReason::Evicted,
        CloseReason::Reset,
        CloseReason::EndOfCapture,
    ] {
        let mut s_ap = RecordEncryptor::tls13(suite, &[4; 32]);
        let recs: Vec<Vec<u8>> = (0..3)
            .map(|i| s_ap.encrypt(APPLICATION_DATA, format!("part{i};").as_bytes()))
            .collect();
        let mut ctx = ctx_with(&conv.entries, true);
        let mut stack = ProtoConn::new(&conn());
        for (dir, bytes) in &conv.segments {
            stack.on_data(&mut ctx, &conn(), *dir, bytes, ts(0));
        }
        // Record 1's header is lost: the framer scans, record 2 ends at the last byte.
        stack.on_data(&mut ctx, &conn(), ToClient, &recs[0], ts(1));
        stack.on_gap(&mut ctx, &conn(), ToClient, 3, ts(1));
        stack.on_data(&mut ctx, &conn(), ToClient, &recs[1][3..], ts(1));
        stack.on_data(&mut ctx, &conn(), ToClient, &recs[2], ts(1));
        let before = ctx.tls.tls_records_decrypted;
        if reason == CloseReason::Fin {
            stack.on_fin(&mut ctx, &conn(), ToServer, ts(2));
            stack.on_fin(&mut ctx, &conn(), ToClient, ts(2));
        }
        stack.on_close(&mut ctx, &conn(), reason, ts(2));
        assert_eq!(ctx.tls.tls_records_decrypted, before + 1, "{reason:?}");
        results.push((ctx.tls.tls_records_decrypted, ctx.tls.tls_resyncs));
    }
    assert_eq!(results[0].1, 1, "{results:?}");
    assert!(results.iter().all(|r| *r == results[0]), "{results:?}");
}

#[test]
fn through_the_protocol_layer_an_https_exchange_is_one_transaction_with_its_tls() {
    let conv = tls13(0x1301, Some(b"http/1.1"), false, &exchange());
    let mut ctx = ctx_with(&conv.entries, true);
    let mut stack = ProtoConn::new(&conn());
    for (i, (dir, bytes)) in conv.segments.iter().enumerate() {
        stack.on_data(&mut ctx, &conn(), *dir, bytes, ts(i as i64));
    }
    stack.on_close(
        &mut ctx,
        &conn(),
        crate::reassembly::CloseReason::Fin,
        ts(100),
    );
    assert_eq!(ctx.http.out.len(), 1, "{:?}", ctx.tls);
    let tx = &ctx.http.out[0];
    assert_eq!(tx.request.target, "/a");
    assert_eq!(tx.response.as_ref().map(|r| r.status), Some(200));
    let tls = tx.tls.as_ref().expect("tls info");
    assert_eq!((tls.version, tls.cipher_suite), (0x0304, 0x1301));
    assert_eq!(tls.sni.as_deref(), Some("example.test"));
    assert_eq!(tls.alpn.as_deref(), Some("http/1.1"));
    assert!(tls.handshake.is_some());
}

#[test]
fn without_a_key_log_tls_is_only_counted() {
    let conv = tls13(0x1301, None, false, &exchange());
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    let mut stack = ProtoConn::new(&conn());
    for (dir, bytes) in &conv.segments {
        stack.on_data(&mut ctx, &conn(), *dir, bytes, ts(0));
    }
    assert!(ctx.http.out.is_empty());
    assert_eq!(ctx.counters.tls_connections, 1);
    assert_eq!(ctx.tls.tls_no_key, 0);
}

#[test]
fn a_tls13_connection_picked_up_after_its_handshake_is_found_by_trial() {
    let app: Vec<(Direction, Vec<u8>)> = (0..4)
        .flat_map(|i| {
            [
                (
                    ToServer,
                    format!("GET /{i} HTTP/1.1\r\nHost: h\r\n\r\n").into_bytes(),
                ),
                (
                    ToClient,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
                ),
            ]
        })
        .collect();
    for suite in [0x1301, 0x1302, 0x1303] {
        let conv = tls13(suite, None, false, &app);
        // The capture starts at the third exchange: the handshake (6 segments) and two
        // exchanges (4 application records) are not in it.
        let picked = &conv.segments[10..];
        let mut ctx = ctx_with(&conv.entries, true);
        let got = run_layer(&mut ctx, picked, 1000);
        let want = |d: Direction| -> Vec<u8> {
            app.iter()
                .filter(|(dir, _)| *dir == d)
                .skip(2)
                .flat_map(|(_, b)| b.clone())
                .collect()
        };
        assert_eq!(got.to_server, want(ToServer), "suite {suite:#06x}");
        assert_eq!(got.to_client, want(ToClient), "suite {suite:#06x}");
        assert_eq!(ctx.tls.tls_orphans_recovered, 1);
    }
    // Without the traffic secrets (a TLS 1.2 key log, say): nothing, counted.
    let conv = tls13(0x1301, None, false, &app);
    let mut ctx = ctx_with(&[], true);
    let got = run_layer(&mut ctx, &conv.segments[10..], 1000);
    assert!(got.to_server.is_empty() && got.to_client.is_empty());
    assert_eq!(ctx.tls.tls_no_client_hello, 1);
}

#[test]
fn a_connection_that_closes_before_its_live_secrets_arrive_lingers_until_they_do() {
    let conv = tls13(0x1301, Some(b"http/1.1"), false, &exchange());
    for (keys_after, exported) in [(2, true), (7, false)] {
        let mut ctx = ctx_with(&[], false);
        let mut stack = ProtoConn::new(&conn());
        for (i, (dir, bytes)) in conv.segments.iter().enumerate() {
            stack.on_data(&mut ctx, &conn(), *dir, bytes, ts(i as i64));
        }
        stack.on_close(
            &mut ctx,
            &conn(),
            crate::reassembly::CloseReason::Fin,
            ts(50),
        );
        assert!(ctx.http.out.is_empty());
        assert_eq!(
            ctx.lingering.len(),
            1,
            "the closed connection waits for its keys"
        );
        for sec in 1..=8 {
            if sec == keys_after {
                ctx.keys.add(&conv.entries);
            }
            crate::proto::linger_tick(&mut ctx, ts(sec * 1000), false);
        }
        assert!(ctx.lingering.is_empty());
        assert_eq!(
            ctx.http.out.len(),
            usize::from(exported),
            "keys after {keys_after} s"
        );
        if exported {
            let tx = &ctx.http.out[0];
            assert_eq!(tx.response.as_ref().map(|r| r.status), Some(200));
            assert!(tx.tls.is_some());
            assert_eq!(ctx.tls.tls_keys_late, 1);
        } else {
            assert_eq!(ctx.tls.tls_no_key, 1);
        }
    }
}

#[test]
fn a_client_stream_read_before_the_server_hello_still_decrypts() {
    // The fuzz target `tls` found it: the whole client stream (CCS, Finished, data) fed
    // before the ServerHello; the client's ChangeCipherSpec must wait for the version.
    for suite in [0x003c, 0xc02f, 0x1301] {
        let app = vec![(ToServer, vec![0x28]), (ToClient, b"ok".to_vec())];
        let conv = if suite == 0x1301 {
            tls13(suite, None, false, &app)
        } else {
            tls12(suite, &app)
        };
        let mut ctx = ctx_with(&conv.entries, true);
        let mut layer = TlsLayer::new();
        let mut got = PerDirection::<Vec<u8>>::default();
        for dir in [ToServer, ToClient] {
            for (d, bytes) in &conv.segments {
                if *d == dir {
                    let mut out = Vec::new();
                    layer.on_data(&mut ctx, &conn(), dir, bytes, ts(0), &mut out);
                    collect(&mut got, out);
                }
            }
        }
        assert_eq!(got.to_server, vec![0x28], "suite {suite:#06x}");
        assert_eq!(got.to_client, b"ok", "suite {suite:#06x}");
    }
}

#[test]
fn without_the_pickup_trial_a_picked_up_connection_is_only_counted() {
    let app = vec![
        (ToServer, REQUEST.to_vec()),
        (ToClient, RESPONSE.to_vec()),
        (ToServer, REQUEST.to_vec()),
        (ToClient, RESPONSE.to_vec()),
    ];
    let conv = tls13(0x1301, None, false, &app);
    let mut ctx = ctx_with(&conv.entries, true);
    ctx.tls_settings.pickup_trial = false;
    let got = run_layer(&mut ctx, &conv.segments[8..], 1000);
    assert!(got.to_server.is_empty() && got.to_client.is_empty());
    assert_eq!(ctx.tls.tls_no_client_hello, 1);
    assert_eq!(ctx.tls.tls_orphans_recovered, 0);
}

/// Live, while secrets are awaited: the held records are charged to the connection's
/// memory (`mem_bytes`, which the worker's `-memory-limit` share counts), capped at
/// `TLS_MAX_HELD_BYTES` with the oldest dropped and counted; when the secrets come, what
/// is left decrypts, the dropped records become a gap, and the charge is released. The
/// records dropped include the server's Finished: TLS 1.3 finds the application key.
#[test]
fn records_held_for_their_keys_are_charged_capped_and_released() {
    use super::TLS_MAX_HELD_BYTES;
    let chunk = vec![b'x'; 16_000];
    let mut app = vec![(ToServer, REQUEST.to_vec())];
    app.extend((0..24).map(|_| (ToClient, chunk.clone())));
    for conv in [tls13(0x1301, None, false, &app), tls12(0xc02f, &app)] {
        let mut ctx = ctx_with(&[], false);
        let mut layer = TlsLayer::new();
        let empty = layer.mem_bytes();
        let mut got = PerDirection::<Vec<u8>>::default();
        let mut peak = 0;
        for (dir, bytes) in &conv.segments {
            let mut out = Vec::new();
            layer.on_data(&mut ctx, &conn(), *dir, bytes, ts(0), &mut out);
            collect(&mut got, out);
            peak = peak.max(layer.mem_bytes());
        }
        assert!(got.to_server.is_empty() && got.to_client.is_empty());
        assert!(
            ctx.tls.tls_held_limit > 0,
            "384 KB held under a 256 KiB cap"
        );
        assert!(
            peak > empty + TLS_MAX_HELD_BYTES && peak <= super::testing::layer_mem_bound(),
            "peak {peak}"
        );
        let holding = layer.mem_bytes();
        assert!(holding > empty + TLS_MAX_HELD_BYTES - 20_000, "{holding}");
        ctx.keys.add(&conv.entries);
        let mut out = Vec::new();
        layer.on_tick(&mut ctx, ts(1000), &mut out);
        collect(&mut got, out);
        assert_eq!(got.to_server, REQUEST);
        assert_eq!(ctx.tls.tls_keys_late, 1);
        assert_eq!(ctx.tls.tls_no_key, 0);
        // What the cap dropped is one gap, then the records kept, intact.
        let text = String::from_utf8_lossy(&got.to_client).into_owned();
        let rest = text
            .strip_prefix("[GAP ")
            .unwrap_or_else(|| panic!("{}", &text[..40.min(text.len())]));
        let (n, xs) = rest.split_once(']').unwrap();
        assert!(xs.bytes().all(|b| b == b'x'), "intact after the gap");
        assert_eq!(xs.len() % chunk.len(), 0);
        assert!(
            xs.len() >= TLS_MAX_HELD_BYTES - 2 * chunk.len(),
            "{}",
            xs.len()
        );
        // The gap covers what was lost; the handshake records dropped with the application
        // data (the server's Finished among them) make it an overestimate by their size.
        let total = n.parse::<usize>().unwrap() + xs.len();
        assert!(
            (24 * chunk.len()..24 * chunk.len() + 1024).contains(&total),
            "{total}"
        );
        assert_eq!(ctx.tls.tls_auth_failures + ctx.tls.tls_wrong_key, 0);
        assert!(
            layer.mem_bytes() < empty + 64 * 1024,
            "released: {}",
            layer.mem_bytes()
        );
    }
}

/// A TCP gap takes the server's whole encrypted handshake flight (its Finished with it):
/// the handshake key opens nothing after it, so the application key is tried and the
/// response comes out whole (no application record was lost, so no gap).
#[test]
fn a_gap_that_takes_the_server_finished_still_reaches_the_application_data() {
    let conv = tls13(0x1302, None, false, &exchange());
    let mut ctx = ctx_with(&conv.entries, true);
    let mut layer = TlsLayer::new();
    let mut got = PerDirection::<Vec<u8>>::default();
    for (i, (dir, bytes)) in conv.segments.iter().enumerate() {
        let mut out = Vec::new();
        if i == 3 {
            assert_eq!(*dir, ToClient);
            layer.on_gap(
                &mut ctx,
                &conn(),
                ToClient,
                bytes.len() as u64,
                ts(0),
                &mut out,
            );
        } else {
            layer.on_data(&mut ctx, &conn(), *dir, bytes, ts(0), &mut out);
        }
        collect(&mut got, out);
    }
    let mut out = Vec::new();
    layer.on_fin(&mut ctx, &conn(), ToClient, ts(1), &mut out);
    collect(&mut got, out);
    assert_eq!(got.to_server, REQUEST);
    assert_eq!(got.to_client, RESPONSE);
    assert_eq!(ctx.tls.tls_wrong_key, 0);
}

/// A suite httshark does not decrypt (3DES, here), or TLS 1.2's suite under TLS 1.0's
/// version: counted as `tls_unsupported_suite` once, nothing reaches the session, even
/// with the right key in the store.
#[test]
fn an_unsupported_suite_is_counted_and_gives_nothing() {
    use super::testing::{record, server_hello};
    for (suite, version) in [(0x000a_u16, 0x0303_u16), (0xc02f, 0x0301)] {
        let mut conv = tls12(0xc02f, &exchange());
        let mut sh = record(super::record::HANDSHAKE, &server_hello(suite, false, None));
        // record() writes version 3,3; the ServerHello body starts with its own version.
        sh[9..11].copy_from_slice(&version.to_be_bytes());
        conv.segments[1] = (ToClient, sh);
        let mut ctx = ctx_with(&conv.entries, true);
        let got = run_layer(&mut ctx, &conv.segments, 1000);
        assert!(
            got.to_server.is_empty() && got.to_client.is_empty(),
            "{suite:#06x}"
        );
        assert_eq!(
            ctx.tls.tls_unsupported_suite, 1,
            "{suite:#06x} {version:#06x}"
        );
        assert_eq!(ctx.tls.tls_decrypted_connections, 0);
        assert_eq!(ctx.tls.tls_wrong_key + ctx.tls.tls_no_key, 0);
    }
}

/// The same loss live, with the application secrets logged after the records came: the
/// records wait for them (neither dropped nor taken for damage), then decrypt.
#[test]
fn after_a_lost_server_finished_records_wait_for_a_late_application_secret() {
    let conv = tls13(0x1301, None, false, &exchange());
    let (early, late): (Vec<Entry>, Vec<Entry>) = conv.entries.iter().cloned().partition(|e| {
        matches!(
            e.label,
            Label::ClientHandshakeTrafficSecret | Label::ServerHandshakeTrafficSecret
        )
    });
    assert_eq!(late.len(), 2);
    let mut ctx = ctx_with(&early, false);
    let mut layer = TlsLayer::new();
    let mut got = PerDirection::<Vec<u8>>::default();
    for (i, (dir, bytes)) in conv.segments.iter().enumerate() {
        let mut out = Vec::new();
        if i == 3 {
            layer.on_gap(
                &mut ctx,
                &conn(),
                ToClient,
                bytes.len() as u64,
                ts(0),
                &mut out,
            );
        } else {
            layer.on_data(&mut ctx, &conn(), *dir, bytes, ts(0), &mut out);
        }
        collect(&mut got, out);
    }
    // The response record ends at the last byte after the loss: the direction's end
    // decides it.
    let mut out = Vec::new();
    layer.on_fin(&mut ctx, &conn(), ToClient, ts(1), &mut out);
    collect(&mut got, out);
    assert!(got.to_client.is_empty() && got.to_server.is_empty());
    assert_eq!(ctx.tls.tls_auth_failures + ctx.tls.tls_resync_failures, 0);
    ctx.keys.add(&late);
    let mut out = Vec::new();
    layer.on_tick(&mut ctx, ts(1000), &mut out);
    collect(&mut got, out);
    assert_eq!(got.to_server, REQUEST);
    assert_eq!(got.to_client, RESPONSE);
    assert_eq!(ctx.tls.tls_no_key + ctx.tls.tls_wrong_key, 0);
}

/// HTTP/2 inside TLS 1.3 (ALPN `h2`): the frames cut into records at every byte, at
/// seeded random points and 16 KiB at a time, and each record's TCP segment cut again,
/// give the same transactions: a frame header, a header block or a DATA payload may
/// straddle records and segments anywhere.
#[test]
fn h2_frames_split_across_records_and_segments_anywhere_give_the_same_streams() {
    use crate::h2::testing::{data, fields, get, headers, preface, settings};
    let mut client = preface();
    client.extend(headers(1, &fields(&get("/one")), true));
    client.extend(headers(3, &fields(&get("/two")), false));
    client.extend(data(3, &[b'p'; 300], true));
    let mut server = settings(&[]);
    server.extend(headers(3, &[(":status", "201")], false));
    server.extend(data(3, b"made", true));
    server.extend(headers(1, &[(":status", "200")], false));
    server.extend(data(1, &[b'z'; 20_000], true));
    let cuts = |bytes: &[u8], how: usize| -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut rest = bytes;
        let mut seed = 0x9e37_79b9_u64 ^ how as u64;
        while !rest.is_empty() {
            let n = match how {
                0 => 1 << 14,
                1 => 1,
                _ => {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    1 + (seed % 50) as usize
                }
            }
            .min(rest.len());
            out.push(rest[..n].to_vec());
            rest = &rest[n..];
        }
        out
    };
    let mut runs = Vec::new();
    for how in [0, 1, 2, 3] {
        let mut app: Vec<(Direction, Vec<u8>)> = Vec::new();
        app.extend(cuts(&client, how).into_iter().map(|r| (ToServer, r)));
        app.extend(cuts(&server, how).into_iter().map(|r| (ToClient, r)));
        let conv = tls13(0x1303, Some(b"h2"), false, &app);
        let mut ctx = ctx_with(&conv.entries, true);
        let mut stack = ProtoConn::new(&conn());
        for (i, (dir, bytes)) in conv.segments.iter().enumerate() {
            // Each record's segment cut in two, off the record boundary.
            let (a, b) = bytes.split_at(bytes.len() / 3);
            stack.on_data(&mut ctx, &conn(), *dir, a, ts(i as i64));
            stack.on_data(&mut ctx, &conn(), *dir, b, ts(i as i64));
        }
        stack.on_close(
            &mut ctx,
            &conn(),
            crate::reassembly::CloseReason::Fin,
            ts(100_000),
        );
        let got: Vec<_> = ctx
            .http
            .out
            .iter()
            .map(|t| {
                let r = t.response.as_ref().unwrap();
                (
                    t.h2.as_ref().unwrap().stream_id,
                    t.request.target.clone(),
                    t.request.body.data.len(),
                    r.status,
                    r.body.data.clone(),
                    t.anomalies.clone(),
                )
            })
            .collect();
        assert_eq!(ctx.http.h2.h2_streams, 2, "split {how}: {:?}", ctx.tls);
        runs.push(got);
    }
    let first = &runs[0];
    assert_eq!(first.len(), 2);
    assert_eq!(first[0].1, "/two");
    assert_eq!((first[0].2, first[0].3), (300, 201));
    assert_eq!(first[1].1, "/one");
    assert_eq!(first[1].4, vec![b'z'; 20_000]);
    assert!(first.iter().all(|t| t.5.is_empty()), "{first:?}");
    for (how, r) in runs.iter().enumerate() {
        assert_eq!(r, first, "split {how} differs");
    }
}
