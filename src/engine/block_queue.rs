//! A partition's queue of its blocks' next event times (a block's own events: predicted
//! crossings, drive events, bias steps): `priority_queue::PriorityQueue` keyed by local block
//! index with priority `Reverse((tick, block))`, so ties pop in block order.
//!
//! Block indices are small integers: the queue's index map hashes them by one multiplication
//! instead of SipHash. (The per-neuron crossing queues inside blocks are a dense indexed heap,
//! [`super::crossing_queue`]: on pacemaker networks every input moves a prediction, and the
//! hashed queue cost 2.15x the CPU time on SparseProp 100k there.)

use crate::time::Tick;
use priority_queue::PriorityQueue;
use std::cmp::Reverse;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes a `u32` id by one multiplication (Fibonacci hashing); other input is folded in
/// byte by byte (never used by this queue).
#[derive(Default, Clone, Copy, Debug)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.0 = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// Events `(tick, id)`, at most one per id, earliest first.
#[derive(Debug, Clone)]
pub(crate) struct BlockQueue {
    q: PriorityQueue<u32, Reverse<(Tick, u32)>, BuildHasherDefault<IdHasher>>,
}

impl BlockQueue {
    /// An empty queue for ids `0..n`.
    pub fn new(n: usize) -> Self {
        BlockQueue {
            q: PriorityQueue::with_capacity_and_default_hasher(n.min(1 << 16)),
        }
    }

    /// The earliest `(id, tick)`.
    #[inline]
    pub fn peek(&self) -> Option<(u32, Tick)> {
        self.q.peek().map(|(&i, &Reverse((t, _)))| (i, t))
    }

    /// The earliest tick (`Tick::MAX` when empty).
    #[inline]
    pub fn next_tick(&self) -> Tick {
        self.peek().map_or(Tick::MAX, |(_, t)| t)
    }

    /// Removes and returns the earliest `(id, tick)`.
    #[inline]
    pub fn pop(&mut self) -> Option<(u32, Tick)> {
        self.q.pop().map(|(i, Reverse((t, _)))| (i, t))
    }

    /// Sets (inserts or moves) `i`'s event to `t`.
    #[inline]
    pub fn set(&mut self, i: u32, t: Tick) {
        let p = Reverse((t, i));
        if self.q.change_priority(&i, p).is_none() {
            self.q.push(i, p);
        }
    }

    /// Removes `i`'s event, if any.
    #[inline]
    pub fn remove(&mut self, i: u32) {
        self.q.remove(&i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_pop_in_tick_then_id_order_and_move() {
        let mut q = BlockQueue::new(8);
        q.set(3, Tick(50));
        q.set(1, Tick(50));
        q.set(2, Tick(10));
        q.set(2, Tick(60));
        q.set(5, Tick(20));
        q.remove(5);
        assert_eq!(q.next_tick(), Tick(50));
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![(1, Tick(50)), (3, Tick(50)), (2, Tick(60))]);
        assert_eq!(q.peek(), None);
    }
}
