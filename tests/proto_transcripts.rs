//! The protocol layer is transparent to HTTP/1: every transcript in fixtures/http/,
//! replayed whole, byte by byte and at seeded random split points through `ProtoConn`
//! (detection, then the HTTP/1 session), gives exactly the transactions and HTTP counters
//! of the HTTP/1 parser fed directly. Byte by byte is the hard case: the detector holds
//! first bytes that could be the HTTP/2 preface (`P`, `PR`, `PRI`...) and replays them.

mod http_support;

use std::path::Path;

use http_support::{conn_info, limits, parse, replay_through, replay_with, Split};
use httshark::proto::{ProtoConn, ProtoCtx};

#[test]
fn every_transcript_gives_the_same_transactions_through_the_protocol_layer() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/http");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        let t = parse(&std::fs::read_to_string(&path).unwrap());
        for split in [
            Split::Whole,
            Split::Bytes,
            Split::Random(1),
            Split::Random(7),
        ] {
            let (direct, direct_ctx) = replay_with(&t, split, limits());
            let conn = conn_info(t.midstream);
            let mut ctx = ProtoCtx::new(limits());
            let mut p = ProtoConn::new(&conn);
            replay_through(&t, split, &conn, &mut p, &mut ctx);
            assert_eq!(
                ctx.http.out,
                direct,
                "{}: {split:?}: transactions differ",
                path.display()
            );
            assert_eq!(
                ctx.http.counters,
                direct_ctx.counters,
                "{}: {split:?}: HTTP counters differ",
                path.display()
            );
            let seen = ctx.counters.http1_connections
                + ctx.counters.h2_connections
                + ctx.counters.tls_connections
                + ctx.counters.unknown_protocol_connections;
            assert!(seen <= 1, "{}: one protocol per connection", path.display());
        }
        n += 1;
    }
    assert!(n >= 20, "expected the fixture set, found {n}");
}
