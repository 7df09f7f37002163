//! The in-flight byte gate between a worker and the processor thread, and the hand-back of
//! transactions to the thread that allocated them.
//!
//! What it does not do: decide what is exported (waiting only delays) or touch packets.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::model::Transaction;

/// Bytes of transactions between the workers and the processor thread, bounded by the
/// in-flight share of `-memory-limit`: a worker waits before sending a batch that would go
/// over it (unless nothing is in flight, so one large batch always passes). Waiting only
/// delays: it never changes what is exported.
/// When workers drop bodies rather than wait (`-overload`), bodies may fill each
/// in-flight share but for `1 / HEADS_RESERVE` of it, kept for the rest of the
/// transactions (heads, sizes): otherwise a share full of bodies would make them wait
/// (measured live: 92 waits and 440,000 packets dropped by the kernel without it).
pub(super) const HEADS_RESERVE: usize = 4;

pub(super) struct InFlight {
    used: Mutex<usize>,
    freed: Condvar,
    cap: usize,
    /// The processor thread is gone (finished or panicked): nobody will release.
    closed: AtomicBool,
}

impl InFlight {
    pub(super) fn new(cap: usize) -> InFlight {
        InFlight {
            used: Mutex::new(0),
            freed: Condvar::new(),
            cap,
            closed: AtomicBool::new(false),
        }
    }

    /// Takes `n` bytes of the budget; returns whether it had to wait. While it waits it
    /// frees the transactions the processor thread hands back on `back` (their bytes are
    /// released only then: see `Returned`).
    pub(super) fn acquire(&self, n: usize, back: &Receiver<Returned>) -> bool {
        let mut waited = false;
        let fits = |used: usize| {
            used == 0 || used.saturating_add(n) <= self.cap || self.closed.load(Ordering::Relaxed)
        };
        self.wait_until(back, None, fits, n, &mut waited);
        waited
    }

    /// Bytes a batch that keeps its bodies may take (`-overload drop-bodies`): what is
    /// left under the cap less `HEADS_RESERVE` of it, so that a batch without bodies
    /// never waits for a batch with them. None when any batch may (nothing is in flight,
    /// or the processor thread is gone).
    pub(super) fn body_room(&self) -> Option<usize> {
        let used = *self.used.lock().unwrap_or_else(|e| e.into_inner());
        self.body_room_at(used)
    }

    fn body_room_at(&self, used: usize) -> Option<usize> {
        if used == 0 || self.closed.load(Ordering::Relaxed) {
            return None;
        }
        let reserve = self.cap / HEADS_RESERVE;
        Some(self.cap.saturating_sub(reserve).saturating_sub(used))
    }

    /// Waits at most `grace` for `body_room` to reach `n` bytes, freeing what comes back
    /// meanwhile; returns whether it did. Takes nothing.
    // Wall clock on purpose: how long a worker waits for the processor thread is a thread
    // boundary's matter (live only, `-overload`), never in the output.
    #[allow(clippy::disallowed_methods)]
    pub(super) fn wait_for_body_room(
        &self,
        n: usize,
        back: &Receiver<Returned>,
        grace: Duration,
    ) -> bool {
        let fits = |used: usize| self.body_room_at(used).is_none_or(|room| n <= room);
        self.wait_until(back, Some(Instant::now() + grace), fits, 0, &mut false)
    }

    /// Waits until `fits(used)`, then adds `take` to `used` and returns true; or returns
    /// false once `deadline` (if any) has passed. Meanwhile it frees what comes back on
    /// `back`; `waited` is set when it slept.
    #[allow(clippy::disallowed_methods)]
    fn wait_until(
        &self,
        back: &Receiver<Returned>,
        deadline: Option<Instant>,
        fits: impl Fn(usize) -> bool,
        take: usize,
        waited: &mut bool,
    ) -> bool {
        loop {
            {
                let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if fits(*used) {
                        *used += take;
                        return true;
                    }
                    if !back.is_empty() {
                        break;
                    }
                    // The processor thread hands back (then notifies) under this lock, so
                    // a hand-back after this check wakes the wait.
                    *waited = true;
                    used = match deadline {
                        None => self.freed.wait(used).unwrap_or_else(|e| e.into_inner()),
                        Some(d) => {
                            let Some(left) = d.checked_duration_since(Instant::now()) else {
                                return false;
                            };
                            match self.freed.wait_timeout(used, left) {
                                Ok((g, _)) => g,
                                Err(e) => e.into_inner().0,
                            }
                        }
                    };
                }
            }
            self.free_returned(back);
        }
    }

    /// Frees the transactions handed back on `back` and releases their bytes.
    pub(super) fn free_returned(&self, back: &Receiver<Returned>) {
        for Returned(txs, bytes) in back.try_iter() {
            drop(txs);
            self.release(bytes);
        }
    }

    /// Wakes a worker waiting in `acquire` (something was handed back).
    pub(super) fn notify(&self) {
        let _used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        self.freed.notify_all();
    }

    pub(super) fn release(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }
}

/// Transactions the processor thread is done with, handed back to the worker that made
/// them, with the bytes they were charged. The worker frees them: glibc malloc gives each
/// thread its own arena, and a free from another thread takes the owner's arena lock,
/// which the owner contends for on every allocation (that lock was a tenth of the run
/// time). The bytes stay charged to the in-flight budget until the memory is freed.
pub(super) struct Returned(pub(super) Vec<Transaction>, pub(super) usize);

/// Opens the in-flight gate for good when the processor thread ends, even by a panic, so
/// that no worker waits forever.
pub(super) struct CloseOnDrop<'a>(pub(super) &'a InFlight);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        let _used = self.0.used.lock().unwrap_or_else(|e| e.into_inner());
        self.0.closed.store(true, Ordering::Relaxed);
        self.0.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossbeam_channel::bounded;
    use std::sync::Arc;
    use std::thread;
    use std::time::Duration;

    #[test]
    fn a_waiting_worker_frees_what_is_handed_back_and_goes_on() {
        let gate = Arc::new(InFlight::new(100));
        let (back_tx, back_rx) = bounded::<Returned>(4);
        assert!(!gate.acquire(80, &back_rx));
        let g = Arc::clone(&gate);
        let waiter = thread::spawn(move || (g.acquire(50, &back_rx), back_rx));
        thread::sleep(Duration::from_millis(50));
        assert!(
            !waiter.is_finished(),
            "80 + 50 is over the cap: it must wait"
        );
        // The processor thread hands the first batch back: only then are its bytes free.
        back_tx.send(Returned(Vec::new(), 80)).unwrap();
        gate.notify();
        let (waited, back_rx) = waiter.join().unwrap();
        assert!(waited);
        assert!(
            back_rx.is_empty(),
            "the waiting worker freed what came back"
        );
        assert_eq!(*gate.used.lock().unwrap(), 50);
    }

    /// The room for bodies is what is left under the cap less the heads' reserve, and
    /// unbounded while nothing is in flight (one large batch always passes) or once the
    /// processor thread is gone; the heads still have the reserve.
    #[test]
    fn room_for_bodies_is_what_is_left_under_the_cap_less_the_reserve() {
        let gate = InFlight::new(100);
        let (_back_tx, back_rx) = bounded::<Returned>(4);
        assert_eq!(gate.body_room(), None);
        assert!(!gate.acquire(50, &back_rx));
        assert_eq!(gate.body_room(), Some(25));
        assert!(!gate.acquire(25, &back_rx));
        assert_eq!(gate.body_room(), Some(0));
        assert!(
            !gate.acquire(25, &back_rx),
            "the reserve is there for heads"
        );
        assert_eq!(gate.body_room(), Some(0));
        gate.release(100);
        assert_eq!(gate.body_room(), None);
        assert!(!gate.acquire(500, &back_rx), "alone, a large batch passes");
        assert_eq!(gate.body_room(), Some(0));
        drop(CloseOnDrop(&gate));
        assert_eq!(gate.body_room(), None);
    }

    /// Waiting for room for bodies ends when what comes back makes it, or at the grace,
    /// having taken nothing either way.
    #[test]
    #[allow(clippy::disallowed_methods)]
    fn waiting_for_body_room_ends_with_room_or_at_the_grace() {
        let gate = Arc::new(InFlight::new(100));
        let (back_tx, back_rx) = bounded::<Returned>(4);
        assert!(!gate.acquire(60, &back_rx));
        assert!(
            gate.wait_for_body_room(15, &back_rx, Duration::ZERO),
            "75 - 60 left"
        );
        let start = std::time::Instant::now();
        assert!(!gate.wait_for_body_room(16, &back_rx, Duration::from_millis(30)));
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert_eq!(*gate.used.lock().unwrap(), 60, "nothing taken");
        let g = Arc::clone(&gate);
        let waiter = thread::spawn(move || {
            let ok = g.wait_for_body_room(40, &back_rx, Duration::from_secs(30));
            (ok, back_rx)
        });
        thread::sleep(Duration::from_millis(20));
        back_tx.send(Returned(Vec::new(), 60)).unwrap();
        gate.notify();
        let (ok, back_rx) = waiter.join().unwrap();
        assert!(ok, "the hand-back made room");
        assert!(back_rx.is_empty());
        assert_eq!(*gate.used.lock().unwrap(), 0);
    }
}
