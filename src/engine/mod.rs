//! The event loop.
//!
//! Owns: simulation state (blocks of neurons with their models, crossing queues and drive
//! streams), the spike queue, the clock and the counters. Must not touch: files, model-file
//! syntax, printing. Clients (the CLI, tests, learning code) drive it with
//! [`Simulation::run_until`] and receive spikes through a [`SpikeSink`].
//!
//! # The loop
//!
//! Time advances in *windows* `[t0, t0 + d_min)`, where `t0` is the earliest pending event and
//! `d_min` the network's smallest delay. No spike emitted inside a window can arrive inside it,
//! so within a window the blocks (runs of at most [`BLOCK_SIZE`] neurons of one population)
//! are independent, and each is processed alone, in time order:
//!
//! 1. every spike-queue entry (arrival tick, source neuron, delay group) due in the window is
//!    popped, in that key order, and cut into per-block *segments* of its sorted target row;
//! 2. each block with work in the window walks its ticks in order; at each tick `t`:
//!    **deliver** — bias steps, then drive events, then segments (source, group order);
//!    **threshold** — every neuron touched at `t` and every predicted crossing due at `t`, in
//!    neuron-id order, is checked; **fire** — a neuron at threshold emits `(t, id)`, is reset
//!    and refractory, and its next crossing is predicted;
//! 3. the window's spikes are sorted by (tick, neuron), handed to the sink, and each spike
//!    pushes one spike-queue entry per delay group of its row.
//!
//! Invariants: time never goes back; every spike-queue entry is at or after the window that
//! pops it (delays are ≥ 1 tick and ≥ d_min); ties are broken by data (tick, source, group,
//! neuron), never by insertion order, so the result does not depend on how work is ordered
//! or split. A window with no events is skipped: the next window starts at the next event.

mod block;
mod crossing_queue;
mod table;

use crate::Spike;
use crate::network::{DriveKind, Network, NeuronKind};
use crate::neuron::{
    LifAdaptive, LifDelta, LifExp, ModelBlock, NeuronModel, NonLeakyIaf, PoissonGenerator,
    RegularGenerator, ReplayGenerator,
};
use crate::record::SpikeSink;
use crate::rng::{StreamKind, stream};
use crate::time::Tick;
use block::{Block, DriveStream, Segment};
use crossing_queue::CrossingQueue;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use table::DeliveryTable;

/// Neurons per block: a block's state (a few arrays of 1024 entries) stays in L1/L2 cache
/// while its window's inputs are applied, and blocks are the unit of random streams.
pub const BLOCK_SIZE: u32 = 1024;

/// Why a run stopped early. The simulation state is consistent up to the last full window.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The spike sink refused a batch (e.g. a full disk); the run can be resumed with
    /// another sink.
    #[error("recording failed at {tick}: {message}")]
    Sink {
        /// Start of the window whose spikes were refused.
        tick: Tick,
        /// The sink's message.
        message: String,
    },
    /// A model could not be instantiated.
    #[error("population `{population}`: {message}")]
    Model {
        /// Population name.
        population: String,
        /// What is wrong.
        message: String,
    },
}

/// Work counted per population.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Spikes emitted.
    pub spikes: u64,
    /// Synaptic events delivered through recurrent or generator synapses (synaptic operations).
    pub synaptic_events: u64,
    /// External drive events delivered.
    pub drive_events: u64,
    /// Threshold-crossing predictions stored or moved in the crossing queue.
    pub predictions: u64,
}

impl std::ops::AddAssign for Counters {
    fn add_assign(&mut self, o: Counters) {
        self.spikes += o.spikes;
        self.synaptic_events += o.synaptic_events;
        self.drive_events += o.drive_events;
        self.predictions += o.predictions;
    }
}

/// A network being simulated.
#[derive(Debug)]
pub struct Simulation {
    net: Network,
    table: DeliveryTable,
    blocks: Vec<Block>,
    block_of: Vec<u32>,
    /// Each block's next event without recurrent input (blocks with none are absent).
    block_next: CrossingQueue,
    /// Blocks to process in the current window.
    due: Vec<u32>,
    /// (arrival tick, source neuron, global delay-group index).
    spike_queue: BinaryHeap<Reverse<(Tick, u32, u32)>>,
    segments: Vec<Vec<Segment>>,
    emitted: Vec<Spike>,
    now: Tick,
    window: Tick,
    windows: u64,
}

impl Simulation {
    /// Instantiates the network's neurons at time 0. `seed` drives initial values, drives and
    /// generators (the synapses were drawn by the network's own seed).
    pub fn new(net: Network, seed: u64) -> Result<Simulation, RunError> {
        let mut blocks = Vec::new();
        let mut block_of = Vec::with_capacity(net.num_neurons() as usize);
        let t0 = Tick::ZERO;
        for (p, (info, def)) in net.populations.iter().zip(&net.def.populations).enumerate() {
            if let NeuronKind::Replay(replay) = &def.kind {
                replay.validate().map_err(|e| RunError::Model {
                    population: info.name.clone(),
                    message: e.to_string(),
                })?;
            }
            let mut first = info.first;
            while first < info.first + info.size {
                let end = (first + BLOCK_SIZE).min(info.first + info.size);
                let n = (end - first) as usize;
                let bidx = blocks.len() as u64;
                let mut rng = stream(seed, StreamKind::NeuronInit, bidx, 0);
                let v0: Vec<f64> = (0..n).map(|_| def.v_init_mv.sample(&mut rng)).collect();
                let bias: Vec<f64> = (0..n).map(|_| def.bias.sample(&mut rng)).collect();
                let err = |e: crate::neuron::ParamError| RunError::Model {
                    population: info.name.clone(),
                    message: e.to_string(),
                };
                let model = match &def.kind {
                    NeuronKind::LifDelta(lp) => {
                        ModelBlock::LifDelta(LifDelta::new(*lp, &v0, &bias, t0).map_err(err)?)
                    }
                    NeuronKind::LifExp(lp, sp) => {
                        ModelBlock::LifExp(LifExp::new(*lp, *sp, &v0, &bias, t0).map_err(err)?)
                    }
                    NeuronKind::LifCond(lp, cp) => ModelBlock::LifCond(
                        crate::neuron::LifCond::new(*lp, *cp, &v0, &bias, t0).map_err(err)?,
                    ),
                    NeuronKind::LifAdaptive(lp, ap) => ModelBlock::LifAdaptive(
                        LifAdaptive::new(*lp, *ap, &v0, &bias, t0).map_err(err)?,
                    ),
                    NeuronKind::NonLeakyIaf(ip) => {
                        ModelBlock::NonLeakyIaf(NonLeakyIaf::new(*ip, &v0, &bias, t0).map_err(err)?)
                    }
                    NeuronKind::SpikeTimes(times) => {
                        let lo = (first - info.first) as usize;
                        let mine = (lo..lo + n)
                            .map(|k| times.get(k).cloned().unwrap_or_default())
                            .collect();
                        ModelBlock::Replay(ReplayGenerator::new(mine, Tick::ZERO, None, t0))
                    }
                    NeuronKind::Replay(replay) => {
                        let lo = (first - info.first) as usize;
                        let mine = (lo..lo + n)
                            .map(|k| replay.trains.get(k).cloned().unwrap_or_default())
                            .collect();
                        ModelBlock::Replay(ReplayGenerator::new(
                            mine,
                            replay.shift,
                            replay.period,
                            t0,
                        ))
                    }
                    &NeuronKind::Regular {
                        period,
                        start,
                        stop,
                    } => ModelBlock::Regular(RegularGenerator::new(n, period, start, stop)),
                    &NeuronKind::Poisson {
                        rate_hz,
                        start,
                        stop,
                    } => ModelBlock::Poisson(PoissonGenerator::new(
                        n,
                        rate_hz,
                        start,
                        stop,
                        crate::rng::stream_seed(seed, StreamKind::Generator, bidx, 0),
                    )),
                };
                let mut drives = Vec::new();
                let mut dc = Vec::new();
                for (k, d) in net
                    .def
                    .drives
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| d.target == p)
                {
                    match d.kind {
                        DriveKind::Poisson { rate_hz, weight_mv } => drives.push(DriveStream::new(
                            stream(seed, StreamKind::Drive, k as u64, bidx),
                            n as u32,
                            rate_hz,
                            weight_mv,
                            d.start,
                            d.stop,
                        )),
                        DriveKind::Dc { amplitude } => {
                            dc.push((d.start, amplitude));
                            if d.stop != Tick::MAX {
                                dc.push((d.stop, -amplitude));
                            }
                        }
                    }
                }
                dc.sort_by_key(|&(t, _)| t);
                let mut block = Block {
                    pop: p,
                    first,
                    model,
                    crossings: CrossingQueue::new(n),
                    drives,
                    dc,
                    dc_next: 0,
                    touched: Vec::new(),
                    counters: Counters::default(),
                };
                // Initial threshold check: a neuron starting at or above threshold fires at t0.
                for i in 0..n as u32 {
                    let c = block.model.check_threshold(i, t0);
                    let c = if c == crate::neuron::Crossing::Now {
                        crate::neuron::Crossing::At(t0)
                    } else {
                        c
                    };
                    block.set_crossing(i, c, t0);
                }
                block.counters.predictions = 0;
                block_of.extend(std::iter::repeat_n(blocks.len() as u32, n));
                blocks.push(block);
                first = end;
            }
        }
        let mut block_next = CrossingQueue::new(blocks.len());
        for (b, block) in blocks.iter().enumerate() {
            let t = block.next_time();
            if t < Tick::MAX {
                block_next.set(b as u32, t);
            }
        }
        let window = net.connectivity.min_delay().unwrap_or(Tick::MAX);
        let block_first: Vec<u32> = blocks.iter().map(|b| b.first).collect();
        let table = DeliveryTable::new(&net.connectivity, &block_of, &block_first);
        Ok(Simulation {
            table,
            segments: (0..blocks.len()).map(|_| Vec::new()).collect(),
            net,
            blocks,
            block_of,
            block_next,
            due: Vec::new(),
            spike_queue: BinaryHeap::new(),
            emitted: Vec::new(),
            now: t0,
            window,
            windows: 0,
        })
    }

    /// The current time: everything before it has been simulated.
    pub fn now(&self) -> Tick {
        self.now
    }

    /// The network being simulated.
    pub fn network(&self) -> &Network {
        &self.net
    }

    /// Bytes of the engine's delivery table (kept beside the network's connectivity).
    pub fn delivery_table_bytes(&self) -> usize {
        self.table.bytes()
    }

    /// Windows processed so far (windows without events are skipped and not counted).
    pub fn windows(&self) -> u64 {
        self.windows
    }

    /// The window length: the network's minimum delay (`Tick::MAX` without synapses).
    pub fn window(&self) -> Tick {
        self.window
    }

    /// Counters per population, in population order.
    pub fn counters(&self) -> Vec<Counters> {
        let mut c = vec![Counters::default(); self.net.populations.len()];
        for b in &self.blocks {
            c[b.pop] += b.counters;
        }
        c
    }

    /// The membrane potential of `neuron` at the current time \[mV\].
    pub fn potential_mv(&self, neuron: u32) -> f64 {
        let b = &self.blocks[self.block_of[neuron as usize] as usize];
        b.model.potential_mv(neuron - b.first, self.now)
    }

    fn next_event_time(&self) -> Tick {
        let q = self
            .spike_queue
            .peek()
            .map_or(Tick::MAX, |Reverse((t, _, _))| *t);
        q.min(self.block_next.next_tick())
    }

    /// Simulates `[now, t_end)`. Runs compose: `run_until(a)` then `run_until(b)` gives the
    /// same spikes as `run_until(b)`.
    pub fn run_until(&mut self, t_end: Tick, sink: &mut dyn SpikeSink) -> Result<(), RunError> {
        while self.now < t_end {
            let t0 = self.next_event_time().max(self.now);
            if t0 >= t_end {
                break;
            }
            let w_end = t0.saturating_add(self.window).min(t_end);
            self.process_window(w_end);
            self.windows += 1;
            sink.record(&self.emitted)
                .map_err(|message| RunError::Sink { tick: t0, message })?;
            self.schedule_emitted();
            self.now = w_end;
        }
        self.now = self.now.max(t_end);
        Ok(())
    }

    fn process_window(&mut self, w_end: Tick) {
        while let Some(&Reverse((t, _src, g))) = self.spike_queue.peek() {
            if t >= w_end {
                break;
            }
            self.spike_queue.pop();
            let weight = self.table.same_weight(g).unwrap_or(f32::NAN);
            for s in self.table.segments(g) {
                if self.segments[s.block as usize].is_empty() {
                    self.due.push(s.block);
                }
                self.segments[s.block as usize].push(Segment {
                    tick: t,
                    start: s.start,
                    end: s.end,
                    weight,
                });
            }
        }
        self.emitted.clear();
        // Only blocks with input or a due event are visited: with a tiny minimum delay most
        // windows hold one spike, and scanning every block per window dominated.
        while let Some((b, t)) = self.block_next.peek() {
            if t >= w_end {
                break;
            }
            self.block_next.pop();
            if self.segments[b as usize].is_empty() {
                self.due.push(b);
            }
        }
        self.due.sort_unstable();
        for &b in &self.due {
            let b = b as usize;
            let block = &mut self.blocks[b];
            block.process(
                &self.segments[b],
                &self.table.local,
                &self.net.connectivity.weights,
                w_end,
                &mut self.emitted,
            );
            let next = block.next_time();
            if next < Tick::MAX {
                self.block_next.set(b as u32, next);
            } else {
                self.block_next.remove(b as u32);
            }
            self.segments[b].clear();
        }
        self.due.clear();
        self.emitted.sort_unstable();
    }

    fn schedule_emitted(&mut self) {
        let conn = &self.net.connectivity;
        for s in &self.emitted {
            let g0 = conn.group_start[s.neuron as usize];
            for (k, grp) in conn.groups_of(s.neuron).iter().enumerate() {
                let arrival = s.tick.saturating_add(grp.delay);
                if arrival < Tick::MAX {
                    self.spike_queue
                        .push(Reverse((arrival, s.neuron, g0 + k as u32)));
                }
            }
        }
    }
}
