//! A worker's side of `-overload drop-bodies`: when its transactions go without their
//! bodies (`transform::overload` does the dropping).
//!
//! A batch whose bodies do not fit into what the worker's in-flight share has left for
//! them (`InFlight::body_room`) waits up to `OVERLOAD_GRACE` for the outputs, once: a burst
//! on a quiet host (two large downloads at once) passes whole, the kernel ring holding the
//! packets meanwhile. If something is still in flight after that wait, the outputs count
//! as behind until they have written everything the worker sent: every batch that does
//! not fit drops its largest bodies at once, without waiting. A worker that waited on every batch, however
//! briefly, would hold the capture back, which is what dropping bodies is for (measured at
//! `--topspeed`, up to 20 ms per batch: 87,000-298,000 packets dropped by the kernel and no
//! body).
//!
//! What it does not do: wait for heads (the caller's `InFlight::acquire` does, for what
//! is left) or run on a file (`Overload::drops_bodies`).

use std::time::Duration;

use crossbeam_channel::Receiver;

use super::in_flight::{InFlight, Returned};
use crate::model::Transaction;
use crate::transform::overload::drop_to_fit;

/// How long a batch that does not fit waits for the outputs before it drops bodies, when
/// they were not behind already: a burst the outputs clear in that time keeps its bodies.
/// The kernel ring holds the packets meanwhile (64 MiB, the default `-buffer-size`, is
/// 260 ms of 2 Gbit/s).
pub(super) const OVERLOAD_GRACE: Duration = Duration::from_millis(20);

/// Batches per worker the queue to the processors holds when workers drop bodies rather
/// than wait: enough that the in-flight bytes, not the count, bound a worker that sends a
/// batch every few hundred packets while the outputs write a large one (each queued batch
/// is charged to the in-flight share by its bytes).
pub(super) const OVERLOAD_QUEUE: usize = 256;

/// Whether a worker's outputs are behind.
#[derive(Debug)]
pub(super) struct Shedder {
    grace: Duration,
    /// A batch had to wait for the outputs, and they have not written everything since.
    behind: bool,
}

impl Shedder {
    #[cfg(test)]
    fn is_behind(&self) -> bool {
        self.behind
    }
}

impl Shedder {
    pub(super) fn new(grace: Duration) -> Shedder {
        Shedder {
            grace,
            behind: false,
        }
    }

    /// Makes `txs` fit what the outputs can take (see the module docs); `encoded`: each
    /// transaction's HAR entry is charged as well, about as large as what it encodes.
    /// Returns how many bodies lost their bytes.
    pub(super) fn fit(
        &mut self,
        gate: &InFlight,
        back: &Receiver<Returned>,
        txs: &mut [Transaction],
        encoded: bool,
    ) -> u64 {
        gate.free_returned(back);
        let room = gate.body_room();
        if room.is_none() {
            // Nothing in flight: the outputs have caught up.
            self.behind = false;
        }
        let held: usize = txs.iter().map(Transaction::mem_bytes).sum();
        let charge = if encoded {
            held.saturating_mul(2)
        } else {
            held
        };
        if room.is_none_or(|r| charge <= r) {
            return 0;
        }
        if !self.behind {
            let room_came = gate.wait_for_body_room(charge, back, self.grace);
            // Had to wait: behind, unless the outputs have written everything meanwhile
            // (a burst on a quiet host).
            self.behind = gate.body_room().is_some();
            if room_came {
                return 0;
            }
        }
        let Some(room) = gate.body_room() else {
            return 0;
        };
        let room = if encoded { room / 2 } else { room };
        drop_to_fit(txs, room).bodies_dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::bounded;
    use std::time::Instant;

    fn batch(body: usize) -> Vec<Transaction> {
        let mut t = crate::har::tests::tx();
        if let Some(r) = t.response.as_mut() {
            r.body.data = vec![b'x'; body];
            r.body.len = body as u64;
        }
        vec![t]
    }

    /// Hands `bytes` back to `gate` after 30 ms, as the processor thread does.
    fn hand_back_later<'a>(
        s: &'a std::thread::Scope<'a, '_>,
        gate: &'a InFlight,
        back: &'a crossbeam_channel::Sender<Returned>,
        bytes: usize,
    ) {
        s.spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            back.send(Returned(Vec::new(), bytes)).unwrap();
            gate.notify();
        });
    }

    /// A burst on a quiet host: the batch that does not fit waits, the outputs write
    /// everything meanwhile, and it keeps its bodies; nothing is behind after.
    #[test]
    fn a_burst_the_outputs_clear_keeps_its_bodies() {
        let gate = InFlight::new(1 << 20);
        let (back_tx, back_rx) = bounded::<Returned>(4);
        let mut shed = Shedder::new(Duration::from_secs(30));
        assert_eq!(shed.fit(&gate, &back_rx, &mut batch(700_000), false), 0);
        gate.acquire(700_000, &back_rx);
        let mut second = batch(600_000);
        let dropped = std::thread::scope(|s| {
            hand_back_later(s, &gate, &back_tx, 700_000);
            shed.fit(&gate, &back_rx, &mut second, false)
        });
        assert_eq!(dropped, 0);
        assert!(!second[0].response.as_ref().unwrap().body.dropped);
        assert!(!shed.is_behind(), "everything was written");
    }

    /// Outputs still writing after the wait are behind: the next batch that does not fit
    /// drops at once; once they have written everything, a batch waits again.
    #[test]
    fn outputs_still_writing_after_the_wait_are_behind_until_they_caught_up() {
        let gate = InFlight::new(1 << 20);
        let (back_tx, back_rx) = bounded::<Returned>(4);
        let mut shed = Shedder::new(Duration::from_secs(30));
        gate.acquire(700_000, &back_rx);
        gate.acquire(100_000, &back_rx);
        let mut second = batch(600_000);
        let dropped = std::thread::scope(|s| {
            hand_back_later(s, &gate, &back_tx, 700_000);
            shed.fit(&gate, &back_rx, &mut second, false)
        });
        assert_eq!(dropped, 0, "room came in time");
        assert!(shed.is_behind(), "100,000 bytes still in flight");
        gate.acquire(600_000, &back_rx);
        // Well within the 30 s grace: it did not wait.
        let mut third = batch(600_000);
        assert_eq!(shed.fit(&gate, &back_rx, &mut third, false), 1);
        assert!(third[0].response.as_ref().unwrap().body.dropped);
        // Everything written: not behind, and a large batch passes alone.
        gate.release(700_000);
        assert_eq!(shed.fit(&gate, &back_rx, &mut batch(600_000), false), 0);
        assert!(!shed.is_behind());
    }

    /// Outputs that make no room within the grace: the batch drops its bodies at the end
    /// of it, and the outputs are behind.
    #[test]
    #[allow(clippy::disallowed_methods)]
    fn no_room_within_the_grace_drops_and_is_behind() {
        let grace = Duration::from_millis(40);
        let gate = InFlight::new(1 << 20);
        let (_back_tx, back_rx) = bounded::<Returned>(4);
        let mut shed = Shedder::new(grace);
        gate.acquire(700_000, &back_rx);
        let start = Instant::now();
        let mut second = batch(600_000);
        assert_eq!(shed.fit(&gate, &back_rx, &mut second, false), 1);
        assert!(start.elapsed() >= grace);
        assert!(second[0].response.as_ref().unwrap().body.dropped);
        assert!(shed.is_behind());
    }

    /// With the entries encoded on the worker, a batch is charged twice its transactions.
    #[test]
    fn encoded_batches_count_twice() {
        let gate = InFlight::new(1 << 20);
        let (_back_tx, back_rx) = bounded::<Returned>(4);
        gate.acquire(100_000, &back_rx);
        let mut shed = Shedder::new(Duration::ZERO);
        // 500 KB fits into the 686 KB left for bodies; charged twice it does not.
        assert_eq!(shed.fit(&gate, &back_rx, &mut batch(500_000), false), 0);
        assert_eq!(shed.fit(&gate, &back_rx, &mut batch(500_000), true), 1);
    }
}
