//! A batch of frames on its way from the capture thread to one worker, and when a batch
//! leaves before it is full.
//!
//! What it does not do: decide which worker a frame goes to (`capture_loop::shard`).

use crate::time::Timestamp;

/// Packets per batch sent to a worker (amortises channel costs).
const BATCH_PACKETS: usize = 512;
/// Bytes per batch sent to a worker.
const BATCH_BYTES: usize = 1 << 20;
/// With several workers, a batch whose first packet is this many capture positions older
/// than the newest packet leaves with the next full batch of any worker, even half empty.
/// Connections are sharded unevenly (a few long keep-alive connections can put a tenth of
/// the packets on one worker), and a batch that fills ten times slower holds its worker ten
/// batches behind the others in capture time: its transactions then reach the HAR reorder
/// buffer after entries that started later were released, and the export merges their
/// file (`har_entries_spooled_late`). This bounds every worker's lag to about one batch.
const BATCH_MAX_AGE_PACKETS: u64 = BATCH_PACKETS as u64;

/// A batch of captured frames, stored back to back.
pub(super) struct Batch {
    pub(super) data: Vec<u8>,
    /// (capture index, packet time, end offset in `data`)
    pub(super) packets: Vec<(u64, Timestamp, usize)>,
}

impl Batch {
    pub(crate) fn new() -> Batch {
        Batch {
            data: Vec::with_capacity(BATCH_BYTES),
            packets: Vec::with_capacity(BATCH_PACKETS),
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.packets.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }

    /// Whether the batch's first packet lies `BATCH_MAX_AGE_PACKETS` or more positions
    /// before `newest` (see there).
    fn is_stale(&self, newest: u64) -> bool {
        self.packets
            .first()
            .is_some_and(|&(first, _, _)| newest.saturating_sub(first) >= BATCH_MAX_AGE_PACKETS)
    }
}

/// The workers other than `full` (whose batch just left) with a stale batch at capture
/// position `newest`: they leave now too (`BATCH_MAX_AGE_PACKETS`).
pub(super) fn stale_others(batches: &[Batch], full: usize, newest: u64) -> Vec<usize> {
    (0..batches.len())
        .filter(|&w| w != full && batches[w].is_stale(newest))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Routes `n` packets over two workers, one in `every` to worker 1, as the capture loop
    /// does; returns, for each batch sent, (worker, first index, index when sent).
    fn route(n: u64, every: u64) -> Vec<(usize, u64, u64)> {
        let mut batches = vec![Batch::new(), Batch::new()];
        let mut sent = Vec::new();
        let send = |w: usize, b: &mut Batch, at: u64, sent: &mut Vec<_>| {
            if let Some(&(first, _, _)) = b.packets.first() {
                sent.push((w, first, at));
            }
            b.packets.clear();
            b.data.clear();
        };
        for index in 0..n {
            let w = usize::from(index % every == 0);
            let b = &mut batches[w];
            b.data.extend_from_slice(&[0; 60]);
            b.packets.push((index, Timestamp::default(), b.data.len()));
            if b.is_full() {
                send(w, b, index, &mut sent);
                for other in stale_others(&batches, w, index) {
                    send(other, &mut batches[other], index, &mut sent);
                }
            }
        }
        sent
    }

    #[test]
    fn a_worker_with_a_tenth_of_the_packets_lags_at_most_about_one_batch() {
        let sent = route(100_000, 10);
        let lag = |w| {
            sent.iter()
                .filter(|s| s.0 == w)
                .map(|&(_, first, at)| at - first)
                .max()
                .unwrap()
        };
        // Full batches of worker 0 take 512 * 10 / 9 positions; worker 1's are sent stale.
        assert!(lag(0) < 2 * BATCH_PACKETS as u64, "worker 0 lag {}", lag(0));
        assert!(
            lag(1) < 2 * BATCH_MAX_AGE_PACKETS,
            "worker 1 lag {}",
            lag(1)
        );
        assert!(sent.iter().filter(|s| s.0 == 1).count() > 100);
    }

    #[test]
    fn even_shards_send_nearly_full_batches() {
        // Alternating workers: when one batch fills, the other holds one packet less.
        let sent = route(10_240, 2);
        assert!(
            sent.len() <= 21,
            "{} batches for 10,240 packets",
            sent.len()
        );
    }
}
