//! The per-block queue of predicted threshold crossings: an indexed binary min-heap.
//! (A partition's queue of block next times is the `priority-queue` crate's, in
//! [`super::block_queue`]; it is touched once per block per window, not per input.)
//!
//! Keys are `(tick, local neuron)`, unique per neuron. A neuron's heap position lives in a
//! plain array indexed by its local id, so moving a prediction (what every input to a
//! suprathreshold neuron does) is an array load and a sift, with no hashing. The previous
//! hash-indexed queue spent most of its time in hash-table probes and the cache misses of
//! its three separate arrays on pacemaker networks (SparseProp, Brette et al. benchmark 4):
//! with `priority_queue::PriorityQueue` (even with a one-multiply hash of the ids), SparseProp
//! 100k took 2.15x the CPU time of this heap (whole process, 300 ms simulated, median of 3
//! pairs).

use crate::prefetch::prefetch;
use crate::time::Tick;

/// Children per heap node. Four: half the depth of a binary heap, and the four children
/// (16 bytes each) share one or two cache lines, so a sift touches about half the lines.
const ARITY: usize = 4;

/// Marks a neuron without a queued crossing.
const ABSENT: u32 = u32::MAX;

/// Predicted crossings of one block's neurons, earliest `(tick, neuron)` first.
#[derive(Debug, Clone, Default)]
pub(crate) struct CrossingQueue {
    heap: Vec<(Tick, u32)>,
    /// Heap index of each local neuron, or `ABSENT`.
    pos: Vec<u32>,
}

impl CrossingQueue {
    /// An empty queue for neurons `0..n`.
    pub fn new(n: usize) -> Self {
        CrossingQueue {
            heap: Vec::with_capacity(n),
            pos: vec![ABSENT; n],
        }
    }

    /// The earliest crossing (neuron, tick).
    #[inline]
    pub fn peek(&self) -> Option<(u32, Tick)> {
        self.heap.first().map(|&(t, i)| (i, t))
    }

    /// The earliest tick, `Tick::MAX` when empty.
    #[inline]
    pub fn next_tick(&self) -> Tick {
        self.heap.first().map_or(Tick::MAX, |&(t, _)| t)
    }

    /// Removes the earliest crossing.
    pub fn pop(&mut self) -> Option<(u32, Tick)> {
        let &(t, i) = self.heap.first()?;
        self.remove_at(0);
        Some((i, t))
    }

    /// Sets neuron `i`'s crossing to `t` (inserting or moving it).
    #[inline]
    pub fn set(&mut self, i: u32, t: Tick) {
        let p = self.pos[i as usize];
        if p == ABSENT {
            self.heap.push((t, i));
            self.sift_up(self.heap.len() - 1);
        } else {
            let p = p as usize;
            let old = self.heap[p];
            self.heap[p].0 = t;
            if (t, i) < old {
                self.sift_up(p);
            } else {
                self.sift_down(p);
            }
        }
    }

    /// Prefetches the entries of `neurons` (their positions, then their heap slots and those
    /// of their children) before a run of moves, so that the cache misses of the moves
    /// overlap: in a block of 65,536 neurons (SparseProp 1M) each move began with two
    /// misses, one after the other. The block decides when it is worth it
    /// ([`super::block::Block::prefetches`]).
    pub fn prefetch(&self, neurons: &[u32]) {
        for &i in neurons {
            prefetch(self.pos.as_ptr().wrapping_add(i as usize));
        }
        for &i in neurons {
            self.prefetch_slot(i as usize);
        }
    }

    /// Prefetches the heap slots of the `local` neurons, whose positions were prefetched
    /// earlier ([`CrossingQueue::prefetch_positions`]): the second step, for a whole window's
    /// inputs at once, so that the slots are in cache by the threshold phase.
    pub fn prefetch_slots(&self, local: &[u16]) {
        for &i in local {
            self.prefetch_slot(i as usize);
        }
    }

    /// Prefetches neuron `i`'s heap slot and its children's (one or two cache lines), where
    /// a later crossing sifts down; reads `i`'s position.
    #[inline]
    fn prefetch_slot(&self, i: usize) {
        if let Some(&p) = self.pos.get(i).filter(|&&p| p != ABSENT) {
            let p = p as usize;
            prefetch(self.heap.as_ptr().wrapping_add(p));
            prefetch(self.heap.as_ptr().wrapping_add(ARITY * p + 1));
            prefetch(self.heap.as_ptr().wrapping_add(ARITY * p + ARITY));
        }
    }

    /// Prefetches the heap positions of the `local` neurons: a window's inputs are known
    /// before any is delivered, so their positions can be on their way before the threshold
    /// phase asks ([`CrossingQueue::prefetch`]).
    pub fn prefetch_positions(&self, local: &[u16]) {
        for &i in local {
            prefetch(self.pos.as_ptr().wrapping_add(i as usize));
        }
    }

    /// Removes neuron `i`'s crossing, if any.
    #[inline]
    pub fn remove(&mut self, i: u32) {
        let p = self.pos[i as usize];
        if p != ABSENT {
            self.remove_at(p as usize);
        }
    }

    fn remove_at(&mut self, p: usize) {
        let (_, i) = self.heap[p];
        self.pos[i as usize] = ABSENT;
        let last = self.heap.pop().expect("p is in the heap");
        if p < self.heap.len() {
            self.heap[p] = last;
            self.pos[last.1 as usize] = p as u32;
            if p > 0 && last < self.heap[(p - 1) / ARITY] {
                self.sift_up(p);
            } else {
                self.sift_down(p);
            }
        }
    }

    /// Moves the entry at `p` up to its place (a hole moves, the entry is written once).
    fn sift_up(&mut self, mut p: usize) {
        let e = self.heap[p];
        while p > 0 {
            let parent = (p - 1) / ARITY;
            let q = self.heap[parent];
            if q <= e {
                break;
            }
            self.heap[p] = q;
            self.pos[q.1 as usize] = p as u32;
            p = parent;
        }
        self.heap[p] = e;
        self.pos[e.1 as usize] = p as u32;
    }

    fn sift_down(&mut self, mut p: usize) {
        let e = self.heap[p];
        let n = self.heap.len();
        loop {
            let first = ARITY * p + 1;
            if first >= n {
                break;
            }
            // The smallest child; the first wins ties, as keys are unique anyway.
            let mut c = first;
            for k in first + 1..(first + ARITY).min(n) {
                if self.heap[k] < self.heap[c] {
                    c = k;
                }
            }
            let q = self.heap[c];
            if e <= q {
                break;
            }
            self.heap[p] = q;
            self.pos[q.1 as usize] = p as u32;
            p = c;
        }
        self.heap[p] = e;
        self.pos[e.1 as usize] = p as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use std::collections::BTreeSet;

    #[test]
    fn matches_an_ordered_set_under_random_operations() {
        let n = 64u32;
        let mut q = CrossingQueue::new(n as usize);
        let mut reference: BTreeSet<(Tick, u32)> = BTreeSet::new();
        let mut at: Vec<Option<Tick>> = vec![None; n as usize];
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        for _ in 0..20_000 {
            let i = rng.random_range(0..n);
            match rng.random_range(0..4u32) {
                0 | 1 => {
                    let t = Tick(rng.random_range(0..50i64));
                    if let Some(old) = at[i as usize].replace(t) {
                        reference.remove(&(old, i));
                    }
                    reference.insert((t, i));
                    q.set(i, t);
                }
                2 => {
                    if let Some(old) = at[i as usize].take() {
                        reference.remove(&(old, i));
                    }
                    q.remove(i);
                }
                _ => {
                    let want = reference.pop_first();
                    if let Some((_, j)) = want {
                        at[j as usize] = None;
                    }
                    assert_eq!(q.pop(), want.map(|(t, j)| (j, t)));
                }
            }
            assert_eq!(q.peek(), reference.first().map(|&(t, j)| (j, t)));
            assert_eq!(q.next_tick(), reference.first().map_or(Tick::MAX, |e| e.0));
        }
    }
}
