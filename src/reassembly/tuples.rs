//! The 4-tuples in the causal window (`window.rs`): for each, its connection number, its
//! held segments, its released segments still within reach and its in-order bounds
//! (`in_order.rs`), found by a small hash index instead of a scan of every segment.
//!
//! A 4-tuple is in the window while it has a held segment or a released one within
//! reach (`CausalWindow::push`: positions at most `reach` before the newest pushed), as
//! the window defines a connection's number: a 4-tuple found past that gets a new number,
//! exactly as if it had not been found.
//!
//! Bounded: entries out of the window are freed every `max(reach, 8)` segments pushed
//! (so at most that many more than are in the window are kept), and each entry keeps only
//! the released segments within reach (pruned once the list reaches `2 * reach + 8`).
//! The slab, the index and the lists are reused: a freed entry keeps its list's room, so
//! the whole is about `80 * reach^2` bytes at most (50 KB at the default window).

use std::net::SocketAddr;

use super::in_order::Bounds;
use super::window::Meta;

/// A symmetric key of the endpoints (equal keys do not mean equal pairs): the 4-tuple
/// index's hash.
fn pair_key(a: &SocketAddr, b: &SocketAddr) -> u32 {
    fn fold(e: &SocketAddr) -> u32 {
        let ip = match e.ip() {
            std::net::IpAddr::V4(v4) => u32::from(v4),
            std::net::IpAddr::V6(v6) => {
                let x = u128::from(v6);
                (x as u32) ^ ((x >> 32) as u32) ^ ((x >> 64) as u32) ^ ((x >> 96) as u32)
            }
        };
        (ip ^ u32::from(e.port()).rotate_left(16)).wrapping_mul(0x9E37_79B1)
    }
    fold(a) ^ fold(b)
}

/// One 4-tuple in the window.
pub(super) struct Tuple {
    /// Its first segment's source (`Meta::fwd` is `src` sending) and destination.
    pub(super) src: SocketAddr,
    dst: SocketAddr,
    /// `pair_key` of its endpoints: the index's key.
    pair: u32,
    /// In the window (else on the free list).
    live: bool,
    /// Its connection number (`Meta::conn`).
    pub(super) conn: u64,
    /// Its held segments.
    held: u32,
    /// Its held segments not proven in order (`Held::proven`).
    unproven_held: u32,
    /// The highest position of its segments.
    newest: u64,
    /// Its released segments and their positions; those out of reach are skipped by the
    /// reader and pruned here.
    released: Vec<(Meta, u64)>,
    pub(super) bounds: Bounds,
}

impl Tuple {
    fn is(&self, src: SocketAddr, dst: SocketAddr, pair: u32) -> bool {
        self.pair == pair
            && ((self.src == src && self.dst == dst) || (self.src == dst && self.dst == src))
    }

    /// In the window at position `latest` (the newest pushed).
    fn in_window(&self, latest: u64, reach: u64) -> bool {
        self.held > 0 || self.newest.saturating_add(reach) >= latest
    }

    /// Its released segments within `reach` of `latest`.
    pub(super) fn released(&self, latest: u64, reach: u64) -> impl Iterator<Item = &Meta> {
        self.released
            .iter()
            .filter(move |&&(_, at)| at.saturating_add(reach) >= latest)
            .map(|(m, _)| m)
    }

    /// A segment of it at position `at` is held, `proven` in order or not.
    pub(super) fn hold(&mut self, at: u64, proven: bool) {
        self.held += 1;
        self.unproven_held += u32::from(!proven);
        self.newest = self.newest.max(at);
    }

    /// Whether every held segment of it but one (`proven` or not) is proven.
    pub(super) fn others_proven(&self, proven: bool) -> bool {
        self.unproven_held == u32::from(!proven)
    }

    /// One of its held segments (`m` at `at`, `proven` or not) was released.
    pub(super) fn release(&mut self, m: Meta, at: u64, proven: bool, latest: u64, reach: u64) {
        self.held = self.held.saturating_sub(1);
        if !proven {
            self.unproven_held = self.unproven_held.saturating_sub(1);
        }
        let cap = usize::try_from(reach.saturating_mul(2).saturating_add(8)).unwrap_or(usize::MAX);
        if self.released.len() >= cap {
            self.released
                .retain(|&(_, at)| at.saturating_add(reach) >= latest);
        }
        self.released.push((m, at));
    }
}

/// The window's 4-tuples.
#[derive(Default)]
pub(super) struct Tuples {
    slab: Vec<Tuple>,
    free: Vec<u32>,
    /// Open addressing, linear probing: slot + 1 per bucket, 0 when empty; a power of two
    /// long, at least twice the slab.
    index: Vec<u32>,
    /// Pushes left before `expire` looks for 4-tuples out of the window.
    sweep_in: u64,
    /// The last connection number given (`Tuple::conn`).
    next_conn: u64,
}

impl Tuples {
    /// The bucket a key starts from: the product's high bits, which every bit of the key
    /// reaches (its low bits see only the key's low bits: the ports would not count, and
    /// every connection between two hosts would share one run).
    fn home(&self, pair: u32) -> usize {
        let bits = self.index.len().trailing_zeros();
        if bits == 0 {
            return 0;
        }
        (pair.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
    }

    /// The slot of the 4-tuple of `src` and `dst` at position `latest`, and whether it was
    /// in the window; if not, a new entry with the next connection number.
    pub(super) fn enter(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        latest: u64,
        reach: u64,
    ) -> (u32, bool) {
        let pair = pair_key(&src, &dst);
        if let Some(slot) = self.find(src, dst, pair, latest, reach) {
            return (slot, true);
        }
        self.next_conn += 1;
        (self.open(src, dst, pair, self.next_conn), false)
    }

    /// The slot of the 4-tuple (`pair` is `pair_key` of its endpoints) if it is in the
    /// window at `latest`; one that dropped out (not freed yet) is freed here, so the
    /// caller opens a new one.
    fn find(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        pair: u32,
        latest: u64,
        reach: u64,
    ) -> Option<u32> {
        if self.index.is_empty() {
            return None;
        }
        let mask = self.index.len() - 1;
        let mut b = self.home(pair);
        loop {
            let e = *self.index.get(b)?;
            if e == 0 {
                return None;
            }
            let slot = e - 1;
            let t = self.slab.get(slot as usize)?;
            if t.is(src, dst, pair) {
                if t.in_window(latest, reach) {
                    return Some(slot);
                }
                self.close(slot);
                return None;
            }
            b = (b + 1) & mask;
        }
    }

    /// A new 4-tuple, `src` sending first, with connection number `conn`: its slot.
    fn open(&mut self, src: SocketAddr, dst: SocketAddr, pair: u32, conn: u64) -> u32 {
        let fresh = |released: Vec<(Meta, u64)>| Tuple {
            src,
            dst,
            pair,
            live: true,
            conn,
            held: 0,
            unproven_held: 0,
            newest: 0,
            released,
            bounds: Bounds::default(),
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(t) = self.slab.get_mut(slot as usize) {
                    let mut list = std::mem::take(&mut t.released);
                    list.clear();
                    *t = fresh(list);
                }
                slot
            }
            None => {
                self.slab.push(fresh(Vec::new()));
                u32::try_from(self.slab.len() - 1).unwrap_or(u32::MAX)
            }
        };
        if self.index.len() < 2 * self.slab.len() {
            self.rebuild();
        } else {
            self.place(slot);
        }
        slot
    }

    pub(super) fn get(&self, slot: u32) -> Option<&Tuple> {
        self.slab.get(slot as usize)
    }

    pub(super) fn get_mut(&mut self, slot: u32) -> Option<&mut Tuple> {
        self.slab.get_mut(slot as usize)
    }

    /// Called once per segment pushed: every `reach` of them, frees the 4-tuples out of
    /// the window at position `latest` (at most `reach` 4-tuples join between two looks).
    pub(super) fn expire(&mut self, latest: u64, reach: u64) {
        if self.sweep_in > 0 {
            self.sweep_in -= 1;
            return;
        }
        self.sweep_in = reach.max(8);
        for slot in 0..self.slab.len() {
            if self.slab[slot].live && !self.slab[slot].in_window(latest, reach) {
                self.close(u32::try_from(slot).unwrap_or(u32::MAX));
            }
        }
    }

    /// Takes `slot` out of the index and onto the free list.
    fn close(&mut self, slot: u32) {
        let Some(t) = self.slab.get_mut(slot as usize) else {
            return;
        };
        if !t.live || self.index.is_empty() {
            return;
        }
        t.live = false;
        let pair = t.pair;
        self.free.push(slot);
        let mask = self.index.len() - 1;
        let mut i = self.home(pair);
        while self.index.get(i).is_some_and(|&e| e != 0 && e != slot + 1) {
            i = (i + 1) & mask;
        }
        if self.index.get(i) != Some(&(slot + 1)) {
            return;
        }
        // Backward-shift deletion: later entries of the run move up unless their home
        // lies after the hole (cyclically).
        let mut j = i;
        loop {
            j = (j + 1) & mask;
            let e = self.index[j];
            if e == 0 {
                break;
            }
            let home = self.home(self.slab[(e - 1) as usize].pair);
            let stays = if i <= j {
                i < home && home <= j
            } else {
                i < home || home <= j
            };
            if !stays {
                self.index[i] = e;
                i = j;
            }
        }
        self.index[i] = 0;
    }

    fn place(&mut self, slot: u32) {
        let Some(pair) = self.slab.get(slot as usize).map(|t| t.pair) else {
            return;
        };
        let mask = self.index.len() - 1;
        let mut b = self.home(pair);
        while self.index[b] != 0 {
            b = (b + 1) & mask;
        }
        self.index[b] = slot + 1;
    }

    /// A larger index holding every live slot.
    fn rebuild(&mut self) {
        let len = (4 * self.slab.len()).next_power_of_two().max(16);
        self.index.clear();
        self.index.resize(len, 0);
        for slot in 0..self.slab.len() {
            if self.slab[slot].live {
                self.place(u32::try_from(slot).unwrap_or(u32::MAX));
            }
        }
    }

    /// Entries in the window (not on the free list).
    #[cfg(test)]
    pub(super) fn live(&self) -> usize {
        self.slab.iter().filter(|t| t.live).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addr(k: u16) -> (SocketAddr, SocketAddr) {
        (
            SocketAddr::from(([10, 0, 0, 1], 40000 + k)),
            SocketAddr::from(([10, 0, 0, 2], 80)),
        )
    }

    #[test]
    fn connections_between_two_hosts_spread_over_the_index() {
        let mut t = Tuples::default();
        for k in 0..40 {
            let (a, b) = addr(k);
            t.open(a, b, pair_key(&a, &b), u64::from(k));
        }
        let homes: std::collections::BTreeSet<usize> = (0..40)
            .map(|k| {
                let (a, b) = addr(k);
                t.home(pair_key(&a, &b))
            })
            .collect();
        assert!(homes.len() > 20, "{} buckets for 40 ports", homes.len());
    }

    proptest! {
        /// Opens, finds and frees against a map, with keys forced to collide (one pair
        /// value for many 4-tuples, homes at the index's end so runs wrap round it).
        #[test]
        fn the_index_finds_what_a_map_holds(
            ops in proptest::collection::vec((0u16..24, 0u8..3, any::<bool>()), 1..300),
            pair_values in proptest::collection::vec(
                prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
                24,
            ),
        ) {
            let mut t = Tuples::default();
            let mut model: std::collections::HashMap<u16, u32> = Default::default();
            for (k, op, _) in ops {
                let (a, b) = addr(k);
                let pair = pair_values[usize::from(k)];
                match op {
                    // Open when absent.
                    0 => {
                        if let std::collections::hash_map::Entry::Vacant(e) = model.entry(k) {
                            e.insert(t.open(a, b, pair, u64::from(k)));
                        }
                    }
                    // Free.
                    1 => {
                        if let Some(slot) = model.remove(&k) {
                            t.close(slot);
                        }
                    }
                    // Find (either way round): the slot the map has, with its number.
                    _ => {
                        let found = t.find(b, a, pair, 0, u64::MAX);
                        prop_assert_eq!(found, model.get(&k).copied());
                        if let Some(slot) = found {
                            prop_assert_eq!(t.get(slot).map(|e| e.conn), Some(u64::from(k)));
                        }
                    }
                }
                prop_assert_eq!(t.live(), model.len());
                for (&k, &slot) in &model {
                    let (a, b) = addr(k);
                    prop_assert_eq!(t.find(a, b, pair_values[usize::from(k)], 0, u64::MAX), Some(slot));
                }
            }
        }
    }
}
