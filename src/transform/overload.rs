//! Dropping body bytes when the outputs are behind (`-overload drop-bodies`, the default
//! on a live capture).
//!
//! A live capture cannot wait. When the processor thread falls behind the traffic (HAR
//! files written more slowly than the link brings bodies), the workers wait for it, the
//! capture thread waits for the workers, and the kernel drops packets once its buffer is
//! full: whole transactions lost, gaps in others, statistics short. Bodies are nearly all
//! of what the outputs write, so a worker whose batch of transactions would wait for room
//! in its in-flight share (`pipeline::InFlight`) drops body bytes instead, largest bodies
//! first, until the rest fits, and goes on.
//!
//! What it keeps: every transaction, with every size exact (`wire_len`, `len`, the decoded
//! length: the statistics CSVs are the same as without it), heads, timings and anomalies.
//! A dropped body is marked as the content-type policy marks one (`Body::dropped`: HAR
//! `_requestBodyDropped` / `_responseBodyDropped`), and its transaction is flagged
//! `Anomaly::OutputsBehind` (`body-dropped-outputs-behind`), counted by the worker
//! (`outputs_behind_bodies_dropped`).
//!
//! What it does not do: decide when (the caller asks with the room left, and only where
//! `-overload` allows: a replay waits, so its output does not depend on the machine's
//! speed), or touch the heads. Invariants: pure function of the transactions and `room`;
//! the same batch and room always drop the same bodies (largest first, ties in batch
//! order, request before response).

use crate::model::{Anomaly, Body, Decoded, Transaction};

use super::body_select::drop_bytes;

/// What `drop_to_fit` did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fitted {
    /// Memory the batch holds afterwards (`Transaction::mem_bytes`, summed).
    pub bytes: usize,
    /// Bodies whose bytes were dropped.
    pub bodies_dropped: u64,
}

/// Drops the bytes of the largest bodies of `txs` until the batch holds at most `room`
/// bytes, or no body holds any. Returns what the batch holds afterwards and how many
/// bodies lost their bytes.
pub fn drop_to_fit(txs: &mut [Transaction], room: usize) -> Fitted {
    let mut bytes: usize = txs.iter().map(Transaction::mem_bytes).sum();
    let mut fitted = Fitted {
        bytes,
        bodies_dropped: 0,
    };
    if bytes <= room {
        return fitted;
    }
    // (bytes held, transaction, response?) of each body that holds bytes.
    let mut bodies: Vec<(usize, usize, bool)> = Vec::new();
    for (i, tx) in txs.iter().enumerate() {
        if let Some(n) = held(&tx.request.body) {
            bodies.push((n, i, false));
        }
        if let Some(n) = tx.response.as_ref().and_then(|r| held(&r.body)) {
            bodies.push((n, i, true));
        }
    }
    // Largest first; the sort is stable, so ties keep batch order, request first.
    bodies.sort_by_key(|b| std::cmp::Reverse(b.0));
    for (_, i, response) in bodies {
        if bytes <= room {
            break;
        }
        let Some(tx) = txs.get_mut(i) else { continue };
        let before = tx.mem_bytes();
        let body = if response {
            match tx.response.as_mut() {
                Some(r) => &mut r.body,
                None => continue,
            }
        } else {
            &mut tx.request.body
        };
        drop_bytes(body);
        if !tx.anomalies.contains(&Anomaly::OutputsBehind) {
            tx.anomalies.push(Anomaly::OutputsBehind);
        }
        bytes = bytes - before + tx.mem_bytes();
        fitted.bodies_dropped += 1;
    }
    fitted.bytes = bytes;
    fitted
}

/// The body bytes `body` keeps (kept and decoded data), when it keeps any.
fn held(body: &Body) -> Option<usize> {
    let decoded = match &body.decoded {
        Decoded::Decoded { data, .. } => data.capacity(),
        _ => 0,
    };
    let n = body.data.capacity() + decoded;
    (body.len > 0 && !body.dropped && n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize) -> Body {
        Body {
            wire_len: n as u64 + 10,
            len: n as u64,
            data: vec![b'x'; n],
            ..Body::default()
        }
    }

    fn tx(req: usize, resp: usize) -> Transaction {
        let mut t = crate::har::tests::tx();
        t.request.body = body(req);
        if let Some(r) = t.response.as_mut() {
            r.body = body(resp);
        }
        t
    }

    fn total(txs: &[Transaction]) -> usize {
        txs.iter().map(Transaction::mem_bytes).sum()
    }

    #[test]
    fn a_batch_that_fits_is_left_alone() {
        let mut txs = vec![tx(100, 5000), tx(0, 300)];
        let before = txs.clone();
        let room = total(&txs);
        let f = drop_to_fit(&mut txs, room);
        assert_eq!(f.bodies_dropped, 0);
        assert_eq!(f.bytes, total(&before));
        assert_eq!(txs, before);
    }

    /// Largest bodies go first, only as many as needed; every size stays, the text goes,
    /// and only the transactions that lost a body are flagged (once).
    #[test]
    fn the_largest_bodies_go_first_until_the_rest_fits() {
        let mut txs = vec![tx(100, 5000), tx(4000, 300), tx(0, 7000)];
        let before = txs.clone();
        // Room for everything but most of the 7000-byte body (the flag takes a few bytes).
        let room = total(&txs) - 6000;
        let f = drop_to_fit(&mut txs, room);
        assert_eq!(f.bodies_dropped, 1);
        assert!(f.bytes <= room);
        assert_eq!(f.bytes, total(&txs));
        let r2 = &txs[2].response.as_ref().unwrap().body;
        assert!(r2.dropped && r2.data.is_empty());
        assert_eq!((r2.len, r2.wire_len), (7000, 7010), "sizes are kept");
        assert_eq!(txs[2].anomalies, vec![Anomaly::OutputsBehind]);
        assert_eq!(txs[0], before[0]);
        assert_eq!(txs[1], before[1]);

        // Room for the heads only: every body goes, largest first, each flagged once.
        let mut txs = before.clone();
        let f = drop_to_fit(&mut txs, 0);
        assert_eq!(f.bodies_dropped, 5, "all but the empty request body");
        for t in &txs {
            assert!(t.request.body.len == 0 || t.request.body.dropped);
            assert!(t.response.as_ref().unwrap().body.dropped);
            assert_eq!(t.anomalies, vec![Anomaly::OutputsBehind]);
        }
        assert_eq!(f.bytes, total(&txs));
        let wire = |ts: &[Transaction]| ts.iter().map(Transaction::wire_bytes).sum::<u64>();
        assert_eq!(wire(&txs), wire(&before), "wire sizes are the same");
    }

    /// Decoded bytes count and go with the body; a body already dropped (content-type
    /// policy, sizes only) is not dropped again nor counted.
    #[test]
    fn decoded_bytes_go_too_and_dropped_bodies_are_not_counted_again() {
        let mut t = tx(0, 2000);
        if let Some(r) = t.response.as_mut() {
            r.body.decoded = Decoded::Decoded {
                data: vec![b'y'; 9000],
                len: 9000,
                truncated: false,
            };
        }
        let mut already = tx(3000, 0);
        drop_bytes(&mut already.request.body);
        let mut txs = vec![already.clone(), t];
        let before = total(&txs);
        let f = drop_to_fit(&mut txs, 0);
        assert_eq!(f.bodies_dropped, 1);
        assert_eq!(txs[0], already, "nothing left to drop there");
        let r = &txs[1].response.as_ref().unwrap().body;
        assert!(matches!(&r.decoded, Decoded::Decoded { data, len: 9000, .. } if data.is_empty()));
        // 11,000 bytes of body, less the flag's few.
        assert!(f.bytes + 10_800 <= before, "{} of {before}", f.bytes);
    }

    /// The same batch and room drop the same bodies: ties go in batch order, the request
    /// before the response.
    #[test]
    fn ties_go_in_batch_order() {
        let make = || vec![tx(1000, 1000), tx(1000, 1000)];
        let mut txs = make();
        let room = total(&txs) - 1500;
        let f = drop_to_fit(&mut txs, room);
        assert_eq!(f.bodies_dropped, 2);
        assert!(txs[0].request.body.dropped);
        assert!(txs[0].response.as_ref().unwrap().body.dropped);
        assert!(!txs[1].request.body.dropped);
        let mut again = make();
        drop_to_fit(&mut again, room);
        assert_eq!(again, txs);
    }
}
