//! The delivery table: the connectivity re-cut, once, into what delivery reads.
//!
//! Why: recurrent delivery is bound by memory traffic. The network's CSR rows hold a `u32`
//! target and an `f32` weight per synapse (8 bytes), and each window cut every popped row
//! into per-block segments by searching its targets. Here every delay group's segments are
//! cut in advance, targets are stored relative to their block (`u16`, a block holds at most
//! [`MAX_BLOCK_SIZE`] neurons) and a group whose synapses all have the same weight (every
//! projection with a constant weight) keeps that weight once: 2 bytes read per synapse
//! instead of 8, and no search. Cost: 2 bytes per synapse and 8 per (group, block) pair
//! beside the network's own arrays (which tests and exports read).

use super::MAX_BLOCK_SIZE;
use crate::network::Connectivity;

const _: () = assert!(MAX_BLOCK_SIZE <= 1 << 16, "local targets are u16");

/// A delay group's synapses that land in one block.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableSegment {
    pub block: u32,
    pub start: u32,
    pub end: u32,
    /// For a plastic projection: which of the block's plastic states
    /// (`Block::plastic[plastic_k]`) and which of its streams; [`STATIC`] otherwise.
    pub plastic_k: u32,
    pub plastic_seg: u32,
}

/// `TableSegment::plastic_k` of a segment whose weights never change.
pub(crate) const STATIC: u32 = u32::MAX;

/// `TableSegment::plastic_seg` of a reward projection's segment: its spikes deliver reward
/// to the plastic state `plastic_k` of its targets instead of input.
pub(crate) const REWARD: u32 = u32::MAX;

#[derive(Debug, Default)]
pub(crate) struct DeliveryTable {
    /// Segments of global delay group `g`: `segs[seg_start[g]..seg_start[g + 1]]`.
    seg_start: Vec<u32>,
    segs: Vec<TableSegment>,
    /// Each synapse's target minus its block's first neuron, parallel to `conn.targets`.
    pub local: Vec<u16>,
    /// Per group: the weight all its synapses share, or NaN if they differ.
    same_weight: Vec<f32>,
}

impl DeliveryTable {
    /// `block_of[n]` is neuron `n`'s block, `block_first[b]` block `b`'s first neuron.
    pub fn new(conn: &Connectivity, block_of: &[u32], block_first: &[u32]) -> Self {
        let mut t = DeliveryTable {
            seg_start: Vec::with_capacity(conn.groups.len() + 1),
            segs: Vec::new(),
            local: Vec::with_capacity(conn.targets.len()),
            same_weight: Vec::with_capacity(conn.groups.len()),
        };
        for g in &conn.groups {
            t.seg_start.push(t.segs.len() as u32);
            let targets = &conn.targets[g.start..g.end];
            let mut k = 0;
            while k < targets.len() {
                // Rows are sorted by target within a group: a block's synapses are a run.
                let b = block_of[targets[k] as usize];
                let first = block_first[b as usize];
                let start = k;
                while k < targets.len() && block_of[targets[k] as usize] == b {
                    t.local.push((targets[k] - first) as u16);
                    k += 1;
                }
                t.segs.push(TableSegment {
                    block: b,
                    start: (g.start + start) as u32,
                    end: (g.start + k) as u32,
                    plastic_k: STATIC,
                    plastic_seg: 0,
                });
            }
            let w = &conn.weights[g.start..g.end];
            let same = w
                .first()
                .is_some_and(|w0| w.iter().all(|x| x.to_bits() == w0.to_bits()) && !w0.is_nan());
            t.same_weight.push(if same { w[0] } else { f32::NAN });
        }
        t.seg_start.push(t.segs.len() as u32);
        t
    }

    /// The per-block segments of global delay group `g`, in block order.
    #[inline]
    pub fn segments(&self, g: u32) -> &[TableSegment] {
        let g = g as usize;
        &self.segs[self.seg_start[g] as usize..self.seg_start[g + 1] as usize]
    }

    /// The per-block segments of global delay group `g`, to be marked plastic.
    pub fn segments_mut(&mut self, g: u32) -> &mut [TableSegment] {
        let g = g as usize;
        &mut self.segs[self.seg_start[g] as usize..self.seg_start[g + 1] as usize]
    }

    /// Per delay group: the index range (into the table's segments) of its segments that
    /// land in `blocks`. Segments are in block order, so that is one contiguous run.
    pub fn segment_ranges(&self, blocks: std::ops::Range<u32>) -> Vec<(u32, u32)> {
        self.seg_start
            .windows(2)
            .map(|w| {
                let segs = &self.segs[w[0] as usize..w[1] as usize];
                let a = segs.partition_point(|s| s.block < blocks.start);
                let b = segs.partition_point(|s| s.block < blocks.end);
                (w[0] + a as u32, w[0] + b as u32)
            })
            .collect()
    }

    /// The segments at `range`, one of [`DeliveryTable::segment_ranges`]'s entries.
    #[inline]
    pub fn segments_in(&self, range: (u32, u32)) -> &[TableSegment] {
        &self.segs[range.0 as usize..range.1 as usize]
    }

    /// Incoming synapses per block, for `blocks` blocks: what partitions are balanced by.
    pub fn synapses_per_block(&self, blocks: usize) -> Vec<u64> {
        let mut n = vec![0; blocks];
        for s in &self.segs {
            n[s.block as usize] += (s.end - s.start) as u64;
        }
        n
    }

    /// The weight shared by every synapse of group `g`, if any.
    #[inline]
    pub fn same_weight(&self, g: u32) -> Option<f32> {
        let w = self.same_weight[g as usize];
        (!w.is_nan()).then_some(w)
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.seg_start.len() * 4
            + self.segs.len() * std::mem::size_of::<TableSegment>()
            + self.local.len() * 2
            + self.same_weight.len() * 4
    }
}
