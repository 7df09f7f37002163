//! Batches of frames on their way from the capture thread to the workers, and when they
//! leave.
//!
//! Every batch's frames lie in one chunk of bytes that the workers share (`Arc`): a chunk
//! the source read from a capture file (`capture/reader.rs`: the frames stay where the
//! kernel put them), or copies the capture thread makes of frames from libpcap (live
//! captures, pcapng, standard input). The batches of all workers leave together, so no
//! worker's frames wait for its batch to fill while the others move on in capture time
//! (connections are sharded unevenly; a worker ten batches behind the others made its
//! HAR entries reach the reorder buffer too late: `har_entries_spooled_late`).
//!
//! What it does not do: decide which worker a frame goes to (`capture_loop::shard`).

use std::sync::Arc;

use crossbeam_channel::Receiver;

use crate::time::Timestamp;
use crate::worker::Frame;

/// Frames per worker in a batch (amortises channel costs): the batches leave when the
/// workers' frames together reach this many per worker.
const BATCH_PACKETS: usize = 512;
/// Bytes of copied frames in a chunk (a source's own chunks are `capture::CHUNK_BYTES`).
const BATCH_BYTES: usize = 1 << 20;
/// Chunks taken from the workers' returns for the source each time the batches leave.
const RECYCLE_PER_CHUNK: usize = 2;

/// A worker's frames, in `data`.
pub(super) struct Batch {
    pub(super) data: Arc<Vec<u8>>,
    pub(super) frames: Vec<Frame>,
}

/// The frames read since the batches last left: one list per worker, all in one chunk.
pub(super) struct Batcher {
    frames: Vec<Vec<Frame>>,
    /// Frames in `frames`, all workers.
    count: usize,
    /// Copies of frames from a source without chunks.
    building: Vec<u8>,
    /// The source's chunk the frames lie in, when they are not copies.
    shared: Option<Arc<Vec<u8>>>,
    /// Chunks the workers are done with.
    spare: Receiver<Vec<u8>>,
}

impl Batcher {
    pub(super) fn new(workers: usize, spare: Receiver<Vec<u8>>) -> Batcher {
        Batcher {
            frames: (0..workers.max(1))
                .map(|_| Vec::with_capacity(BATCH_PACKETS))
                .collect(),
            count: 0,
            building: Vec::with_capacity(BATCH_BYTES),
            shared: None,
            spare,
        }
    }

    /// Whether a frame held in `chunk` (`None`: a frame to copy) can join the frames
    /// waiting: they must all lie in one chunk. If not, the batches leave first (`take`).
    pub(super) fn fits(&self, chunk: Option<&Arc<Vec<u8>>>) -> bool {
        if self.count == 0 {
            return true;
        }
        match (&self.shared, chunk) {
            (Some(held), Some(chunk)) => Arc::ptr_eq(held, chunk),
            (None, None) => true,
            _ => false,
        }
    }

    /// Adds the frame `data` for worker `w`; `chunk` is where the source holds it (it must
    /// lie inside), `None` to copy it. Call `fits` first.
    pub(super) fn push(
        &mut self,
        w: usize,
        index: u64,
        ts: Timestamp,
        data: &[u8],
        chunk: Option<&Arc<Vec<u8>>>,
    ) {
        let (start, end) = match chunk {
            Some(chunk) => {
                let held = self.shared.get_or_insert_with(|| Arc::clone(chunk));
                debug_assert!(Arc::ptr_eq(held, chunk), "`fits` was not asked");
                let start = (data.as_ptr() as usize).wrapping_sub(held.as_ptr() as usize);
                debug_assert!(
                    start
                        .checked_add(data.len())
                        .is_some_and(|end| end <= held.len()),
                    "a frame outside its chunk"
                );
                (start, start + data.len())
            }
            None => {
                let start = self.building.len();
                self.building.extend_from_slice(data);
                (start, self.building.len())
            }
        };
        self.frames[w].push(Frame {
            index,
            ts,
            start,
            end,
        });
        self.count += 1;
    }

    /// No frame waits.
    pub(super) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether the batches should leave now.
    pub(super) fn is_full(&self) -> bool {
        self.count >= BATCH_PACKETS * self.frames.len() || self.building.len() >= BATCH_BYTES
    }

    /// The waiting frames as a batch per worker that has any; the next frames start a new
    /// chunk.
    pub(super) fn take(&mut self) -> Vec<(usize, Batch)> {
        if self.count == 0 {
            return Vec::new();
        }
        self.count = 0;
        let data = match self.shared.take() {
            Some(chunk) => chunk,
            None => {
                let fresh = match self.spare.try_recv() {
                    Ok(mut v) => {
                        v.clear();
                        v
                    }
                    Err(_) => Vec::with_capacity(BATCH_BYTES),
                };
                Arc::new(std::mem::replace(&mut self.building, fresh))
            }
        };
        let mut out = Vec::with_capacity(self.frames.len());
        for (w, frames) in self.frames.iter_mut().enumerate() {
            if !frames.is_empty() {
                let frames = std::mem::replace(frames, Vec::with_capacity(BATCH_PACKETS));
                out.push((
                    w,
                    Batch {
                        data: Arc::clone(&data),
                        frames,
                    },
                ));
            }
        }
        out
    }

    /// Chunks the workers handed back, for the source to read into (a few at a time).
    pub(super) fn returned(&self) -> impl Iterator<Item = Vec<u8>> + '_ {
        self.spare.try_iter().take(RECYCLE_PER_CHUNK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batcher(workers: usize) -> Batcher {
        Batcher::new(workers, crossbeam_channel::never())
    }

    #[test]
    fn copies_lie_at_their_ranges_and_all_workers_leave_together() {
        let mut b = batcher(3);
        for i in 0..10u8 {
            b.push(
                usize::from(i % 3),
                u64::from(i),
                Timestamp::default(),
                &[i; 5],
                None,
            );
        }
        let out = b.take();
        assert_eq!(out.iter().map(|(w, _)| *w).collect::<Vec<_>>(), [0, 1, 2]);
        let data = &out[0].1.data;
        for (w, batch) in &out {
            assert!(Arc::ptr_eq(data, &batch.data), "one chunk for all workers");
            for f in &batch.frames {
                assert_eq!(f.index % 3, *w as u64);
                assert_eq!(&data[f.start..f.end], &[f.index as u8; 5]);
            }
        }
        assert!(b.take().is_empty(), "nothing waits after take");
    }

    #[test]
    fn frames_of_a_source_chunk_are_not_copied_and_another_chunk_does_not_fit() {
        let first = Arc::new((0..100u8).collect::<Vec<u8>>());
        let second = Arc::new(vec![7u8; 10]);
        let mut b = batcher(2);
        assert!(b.fits(Some(&first)));
        b.push(0, 0, Timestamp::default(), &first[10..20], Some(&first));
        b.push(1, 1, Timestamp::default(), &first[30..31], Some(&first));
        assert!(b.fits(Some(&first)));
        assert!(!b.fits(Some(&second)), "another chunk");
        assert!(!b.fits(None), "a copy");
        let out = b.take();
        assert!(
            Arc::ptr_eq(&out[0].1.data, &first),
            "the source's chunk itself"
        );
        assert_eq!((out[0].1.frames[0].start, out[0].1.frames[0].end), (10, 20));
        assert_eq!((out[1].1.frames[0].start, out[1].1.frames[0].end), (30, 31));
        assert!(
            b.fits(Some(&second)) && b.fits(None),
            "empty: anything fits"
        );
    }

    #[test]
    fn full_by_frames_per_worker_or_by_copied_bytes() {
        let mut b = batcher(2);
        let chunk = Arc::new(vec![0u8; 4]);
        for i in 0..(2 * BATCH_PACKETS as u64 - 1) {
            b.push(
                (i % 2) as usize,
                i,
                Timestamp::default(),
                &chunk[..1],
                Some(&chunk),
            );
            assert!(!b.is_full());
        }
        b.push(0, 0, Timestamp::default(), &chunk[..1], Some(&chunk));
        assert!(b.is_full());
        b.take();
        b.push(0, 0, Timestamp::default(), &vec![0; BATCH_BYTES], None);
        assert!(b.is_full(), "a chunk's worth of copies");
    }
}
