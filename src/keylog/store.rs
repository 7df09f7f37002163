//! The secret store: client random -> the secrets of that TLS session.
//!
//! One per worker (workers share nothing; the pipeline sends every worker the same entries
//! in packet order, so each store holds the same content at the same packet). A later
//! entry for the same random and label replaces the earlier one, as Wireshark's
//! `g_hash_table_insert`. Bounded by [`MAX_KEYLOG_CLIENT_RANDOMS`]: past it the random
//! inserted first is evicted with all its secrets, and counted.
//!
//! What it does not do: expire by age, or charge itself to `-memory-limit` (the owner
//! reads [`KeyStore::mem_bytes`]). Labels decryption does not use (exporters, ECH,
//! `PMS_CLIENT_RANDOM`) are not stored.
//!
//! Invariant: `order` holds each key of `map` exactly once, oldest first.

use std::collections::{HashMap, VecDeque};
use std::mem::size_of;

use super::{Entry, Label, Secret};

/// Most client randoms a store keeps (1,048,576). A TLS 1.3 session costs about 400 bytes
/// (four 32-byte secrets, the slot, the order queue), so a full store is about 400 MiB
/// per worker: far beyond any key log of a real capture, and the point of the limit is
/// only that a runaway or hostile key log cannot grow a worker without bound. Past it the
/// oldest random is evicted (`KeyStore::evicted`).
pub const MAX_KEYLOG_CLIENT_RANDOMS: usize = 1 << 20;

/// The secrets of one TLS session (one client random), as far as the key log gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// TLS 1.2 and earlier: `CLIENT_RANDOM`.
    pub master_secret: Option<Secret>,
    /// TLS 1.3: `CLIENT_EARLY_TRAFFIC_SECRET` (0-RTT).
    pub client_early: Option<Secret>,
    pub client_handshake: Option<Secret>,
    pub server_handshake: Option<Secret>,
    pub client_traffic0: Option<Secret>,
    pub server_traffic0: Option<Secret>,
}

impl Secrets {
    /// The place of a label's secret; `None` for labels decryption does not use.
    fn slot(&mut self, label: Label) -> Option<&mut Option<Secret>> {
        Some(match label {
            Label::ClientRandom => &mut self.master_secret,
            Label::ClientEarlyTrafficSecret => &mut self.client_early,
            Label::ClientHandshakeTrafficSecret => &mut self.client_handshake,
            Label::ServerHandshakeTrafficSecret => &mut self.server_handshake,
            Label::ClientTrafficSecret0 => &mut self.client_traffic0,
            Label::ServerTrafficSecret0 => &mut self.server_traffic0,
            Label::EarlyExporterSecret
            | Label::ExporterSecret
            | Label::EchSecret
            | Label::EchConfig
            | Label::Rsa
            | Label::PmsClientRandom => return None,
        })
    }

    /// Heap bytes of the secrets held.
    pub fn heap_bytes(&self) -> usize {
        [
            &self.master_secret,
            &self.client_early,
            &self.client_handshake,
            &self.server_handshake,
            &self.client_traffic0,
            &self.server_traffic0,
        ]
        .iter()
        .filter_map(|s| s.as_ref())
        .map(Secret::heap_bytes)
        .sum()
    }
}

/// Client random -> [`Secrets`], bounded, oldest evicted first.
#[derive(Debug, Clone)]
pub struct KeyStore {
    map: HashMap<[u8; 32], Secrets>,
    /// Randoms in the order they were first inserted.
    order: VecDeque<[u8; 32]>,
    limit: usize,
    /// Heap bytes of every secret held.
    secret_bytes: usize,
    evicted: u64,
    replaced: u64,
    ignored: u64,
}

impl Default for KeyStore {
    fn default() -> Self {
        KeyStore::new()
    }
}

impl KeyStore {
    /// A store bounded by [`MAX_KEYLOG_CLIENT_RANDOMS`].
    pub fn new() -> Self {
        KeyStore::with_limit(MAX_KEYLOG_CLIENT_RANDOMS)
    }

    /// A store of at most `limit` client randoms (at least 1).
    pub fn with_limit(limit: usize) -> Self {
        KeyStore {
            map: HashMap::new(),
            order: VecDeque::new(),
            limit: limit.max(1),
            secret_bytes: 0,
            evicted: 0,
            replaced: 0,
            ignored: 0,
        }
    }

    /// Stores an entry's secret; a secret already there for the same random and label is
    /// replaced. Entries of labels decryption does not use are counted and dropped.
    pub fn insert(&mut self, e: Entry) {
        let Entry {
            label,
            client_random,
            secret,
        } = e;
        if !label.is_used() {
            self.ignored = self.ignored.saturating_add(1);
            return;
        }
        if !self.map.contains_key(&client_random) {
            while self.map.len() >= self.limit {
                let Some(old) = self.order.pop_front() else {
                    break;
                };
                if let Some(gone) = self.map.remove(&old) {
                    self.secret_bytes = self.secret_bytes.saturating_sub(gone.heap_bytes());
                    self.evicted = self.evicted.saturating_add(1);
                }
            }
            self.order.push_back(client_random);
        }
        let secrets = self.map.entry(client_random).or_default();
        if let Some(slot) = secrets.slot(label) {
            self.secret_bytes = self.secret_bytes.saturating_add(secret.heap_bytes());
            if let Some(old) = slot.replace(secret) {
                self.secret_bytes = self.secret_bytes.saturating_sub(old.heap_bytes());
                self.replaced = self.replaced.saturating_add(1);
            }
        }
        debug_assert_eq!(self.map.len(), self.order.len());
    }

    /// Inserts every entry, in order.
    pub fn extend<I: IntoIterator<Item = Entry>>(&mut self, entries: I) {
        for e in entries {
            self.insert(e);
        }
    }

    /// Inserts copies of shared entries (a batch every worker receives), copying only the
    /// secrets of labels that are stored.
    pub fn extend_from_slice(&mut self, entries: &[Entry]) {
        for e in entries {
            if e.label.is_used() {
                self.insert(e.clone());
            } else {
                self.ignored = self.ignored.saturating_add(1);
            }
        }
    }

    pub fn get(&self, client_random: &[u8; 32]) -> Option<&Secrets> {
        self.map.get(client_random)
    }

    /// Client randoms held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every client random with its secrets, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8; 32], &Secrets)> {
        self.order
            .iter()
            .filter_map(|r| self.map.get(r).map(|s| (r, s)))
    }

    /// Randoms evicted because the store was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Secrets replaced by a later entry for the same random and label.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Entries not stored because decryption does not use their label.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Memory held, for `-memory-limit` accounting: the map's and the queue's allocated
    /// slots (a hashbrown slot is the key and value plus one control byte) and every
    /// secret's heap bytes.
    pub fn mem_bytes(&self) -> usize {
        let slot = size_of::<[u8; 32]>() + size_of::<Secrets>() + 1;
        self.map
            .capacity()
            .saturating_mul(slot)
            .saturating_add(self.order.capacity().saturating_mul(size_of::<[u8; 32]>()))
            .saturating_add(self.secret_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(label: Label, random: u8, fill: u8, len: usize) -> Entry {
        Entry {
            label,
            client_random: [random; 32],
            secret: Secret::new(vec![fill; len]),
        }
    }

    #[test]
    fn each_used_label_fills_its_place() {
        let mut s = KeyStore::new();
        for (i, l) in Label::ALL.iter().enumerate() {
            if *l != Label::Rsa {
                s.insert(entry(*l, 1, i as u8, 48));
            }
        }
        assert_eq!(s.len(), 1);
        assert_eq!(s.ignored(), 5);
        let got = s.get(&[1; 32]).unwrap();
        let byte = |o: &Option<Secret>| o.as_ref().map(|s| s.as_bytes()[0]);
        assert_eq!(byte(&got.master_secret), Some(0));
        assert_eq!(byte(&got.client_early), Some(1));
        assert_eq!(byte(&got.client_handshake), Some(2));
        assert_eq!(byte(&got.server_handshake), Some(3));
        assert_eq!(byte(&got.client_traffic0), Some(4));
        assert_eq!(byte(&got.server_traffic0), Some(5));
        assert!(s.get(&[2; 32]).is_none());
    }

    #[test]
    fn shared_batches_give_every_store_the_same_content() {
        let batch: Vec<Entry> = (0..6u8)
            .map(|i| entry(Label::ALL[i as usize * 2], i / 2, i, 48))
            .collect();
        let (mut a, mut b) = (KeyStore::new(), KeyStore::new());
        a.extend_from_slice(&batch);
        b.extend(batch.iter().cloned());
        assert_eq!((a.len(), a.ignored()), (b.len(), b.ignored()));
        assert_eq!(a.ignored(), 3, "early exporter, ECH secret, RSA");
        for r in 0..3u8 {
            assert_eq!(a.get(&[r; 32]), b.get(&[r; 32]));
        }
        assert!(a.get(&[0; 32]).unwrap().master_secret.is_some());
        assert_eq!(a.len(), 2, "random 2 had only unused labels");
    }

    #[test]
    fn a_later_duplicate_replaces_the_earlier() {
        let mut s = KeyStore::new();
        s.insert(entry(Label::ClientRandom, 1, 0xAA, 48));
        s.insert(entry(Label::ClientTrafficSecret0, 1, 0xCC, 32));
        let before = s.mem_bytes();
        s.insert(entry(Label::ClientRandom, 1, 0xBB, 48));
        assert_eq!(s.replaced(), 1);
        assert_eq!(s.len(), 1);
        let got = s.get(&[1; 32]).unwrap();
        assert_eq!(
            got.master_secret.as_ref().unwrap().as_bytes(),
            &[0xBB; 48][..]
        );
        assert_eq!(
            got.client_traffic0.as_ref().unwrap().as_bytes(),
            &[0xCC; 32][..]
        );
        assert_eq!(
            s.mem_bytes(),
            before,
            "a replacement does not grow the store"
        );
    }

    #[test]
    fn the_oldest_random_is_evicted_at_the_limit() {
        let mut s = KeyStore::with_limit(3);
        for r in 1..=5u8 {
            s.insert(entry(Label::ClientRandom, r, r, 48));
            // A second secret for a held random adds no random.
            s.insert(entry(Label::ServerTrafficSecret0, r, r, 32));
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.evicted(), 2);
        assert!(s.get(&[1; 32]).is_none() && s.get(&[2; 32]).is_none());
        for r in 3..=5u8 {
            assert_eq!(s.get(&[r; 32]).unwrap().heap_bytes(), 80);
        }
        // Updating an old random does not make it young: 3 still goes first.
        s.insert(entry(Label::ClientRandom, 3, 9, 48));
        s.insert(entry(Label::ClientRandom, 6, 6, 48));
        assert!(s.get(&[3; 32]).is_none());
        assert_eq!(s.evicted(), 3);
    }

    #[test]
    fn mem_bytes_follows_what_is_held() {
        let mut s = KeyStore::with_limit(2);
        let empty = s.mem_bytes();
        s.insert(entry(Label::ClientRandom, 1, 1, 48));
        let one = s.mem_bytes();
        assert!(one >= empty + 48 + size_of::<Secrets>(), "{empty} {one}");
        for r in 2..100u8 {
            s.insert(entry(Label::ClientRandom, r, r, 48));
        }
        // Bounded: two randoms' worth of secrets, whatever was inserted.
        let full = s.mem_bytes();
        let secrets: usize = [98u8, 99]
            .iter()
            .map(|r| s.get(&[*r; 32]).unwrap().heap_bytes())
            .sum();
        assert_eq!(secrets, 96);
        assert!(full < one + 4096, "{one} {full}");
        let clone = s.clone();
        assert_eq!(clone.len(), 2);
        assert_eq!(
            format!("{:?}", clone.get(&[99; 32]).unwrap().master_secret),
            "Some(Secret(48 bytes))"
        );
    }
}
