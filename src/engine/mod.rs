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
//! so within a window the blocks (runs of neurons of one population, as many as
//! [`block_size_for`] gives for the network's size) are independent, and each is processed
//! alone, in time order:
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
//!
//! # Threads
//!
//! [`Simulation::with_threads`] splits the blocks into *partitions* (contiguous runs of whole
//! blocks), each with its own spike queue holding the delay groups that reach its blocks.
//! Every partition runs steps 1-2 for the same window on its own thread; step 3 becomes an
//! exchange at one barrier per window (see `partition.rs`): each partition queues every
//! partition's spikes that reach it, all agree on the next window start from the same data,
//! and the calling thread merges the spikes by (tick, neuron) for the sink. One partition
//! runs the same steps on the calling thread, with no thread, lock or exchange.

mod block;
mod block_queue;
mod crossing_queue;
mod partition;
mod plastic;
mod table;

pub use plastic::PlasticSynapse;

use crate::network::{DriveKind, Network, NeuronKind};
use crate::neuron::{
    LifAdaptive, LifDelta, LifExp, ModelBlock, NeuronModel, NonLeakyIaf, PoissonGenerator,
    RegularGenerator, ReplayGenerator,
};
use crate::record::SpikeSink;
use crate::rng::{StreamKind, stream};
use crate::time::Tick;
use block::{Block, DriveStream};
use crossing_queue::CrossingQueue;
use partition::Partition;
use table::DeliveryTable;

/// The fewest neurons per block (of a population large enough): the block size of every
/// network of up to `16 · MIN_BLOCK_SIZE` neurons.
pub const MIN_BLOCK_SIZE: u32 = 1024;

/// The most neurons per block: targets inside a block are stored as `u16`.
pub const MAX_BLOCK_SIZE: u32 = 1 << 16;

/// The shortest window (minimum delay) at which `lif_delta` blocks answer with cheap early
/// predictions ([`LifDelta::with_early_predictions`]). An early prediction costs one extra
/// check when it comes due; in long windows that check shares its window with other events,
/// but at SparseProp's 1 ns every check is a window of its own: there it gave 54% more
/// windows and 15% more time, where benchmark 4 (1 ms) took 7% less (benches/README.md).
const EARLY_PREDICTIONS_MIN_WINDOW: Tick = Tick(100_000); // 0.1 ms

/// Neurons per block in a network of `num_neurons`: about a sixteenth of the network, a power
/// of two in [`MIN_BLOCK_SIZE`, `MAX_BLOCK_SIZE`].
///
/// Why it grows with the network: a spike costs work per block its row reaches (a segment,
/// a visit with its tick and threshold phase), so in a large sparse network, where a row of
/// 100 synapses reaches ~100 blocks of 1024, nearly every synapse was a segment of its own.
/// At 100,000 neurons, blocks of 8192 instead of 1024 cut the simulation time of the low-rate
/// network by half and of the SparseProp network by 40% (benches/README.md). Why a sixteenth: enough blocks to
/// balance threads. Why it depends on the network only, never on the thread count: blocks are
/// the unit of random streams (initial values, drives), so the same model and seed give the
/// same spikes on any number of threads.
pub fn block_size_for(num_neurons: u32) -> u32 {
    (num_neurons / 16)
        .max(1)
        .checked_next_power_of_two()
        .unwrap_or(MAX_BLOCK_SIZE)
        .clamp(MIN_BLOCK_SIZE, MAX_BLOCK_SIZE)
}

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
    /// A plastic projection could not be set up.
    #[error("plastic projection {projection}: {message}")]
    Plasticity {
        /// `source -> target` population names.
        projection: String,
        /// What is wrong.
        message: String,
    },
    /// [`Simulation::add_spike_times`] named a population that does not exist. The
    /// simulation is unchanged and can continue.
    #[error("no population {0}")]
    NoSuchPopulation(usize),
    /// [`Simulation::add_spike_times`] was given a population that is not a `spike_times`
    /// generator. The simulation is unchanged and can continue.
    #[error("population `{0}` is not a spike_times generator: spikes can only be added to one")]
    NotSpikeTimes(String),
    /// [`Simulation::add_spike_times`] was given more trains than the population has
    /// neurons. The simulation is unchanged and can continue.
    #[error("{trains} spike trains for population `{population}` of {size} neurons")]
    TooManyTrains {
        /// Population name.
        population: String,
        /// Trains given.
        trains: usize,
        /// Neurons in the population.
        size: u32,
    },
    /// [`Simulation::add_spike_times`] was given a spike before the current time (already
    /// simulated). The simulation is unchanged and can continue.
    #[error("spike of neuron {neuron} at {tick} lies before the current time {now}")]
    SpikeInPast {
        /// Global neuron id.
        neuron: u32,
        /// The spike's time.
        tick: Tick,
        /// The simulation's current time.
        now: Tick,
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

/// What one thread (one partition) holds and how its time went, summed over runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ThreadStats {
    /// Blocks in the partition.
    pub blocks: usize,
    /// Neurons in the partition.
    pub neurons: u32,
    /// Wall time spent working: processing windows, scheduling spikes and (on the calling
    /// thread) recording them.
    pub busy: std::time::Duration,
    /// Wall time spent waiting for the other threads at window ends: the synchronisation
    /// overhead (load imbalance plus the barrier itself). Zero on one thread.
    pub wait: std::time::Duration,
    /// CPU time of the thread while busy (zero where the OS does not report it). On a shared
    /// machine busy wall time includes time the core ran other processes; this does not.
    pub cpu: std::time::Duration,
}

/// A network being simulated.
#[derive(Debug)]
pub struct Simulation {
    net: Network,
    table: DeliveryTable,
    /// Contiguous runs of whole blocks, one per thread, in block (and neuron) order.
    parts: Vec<Partition>,
    block_of: Vec<u32>,
    now: Tick,
    window: Tick,
    windows: u64,
    /// Synaptic normalisations of plastic projections, applied between windows.
    normalize: Vec<plastic::NormalizeSchedule>,
    /// Sum over windows of the slowest thread's CPU time (see [`Simulation::critical_cpu`]).
    critical_cpu: std::time::Duration,
}

impl Simulation {
    /// Instantiates the network's neurons at time 0, to run on the calling thread. `seed`
    /// drives initial values, drives and generators (the synapses were drawn by the
    /// network's own seed).
    pub fn new(net: Network, seed: u64) -> Result<Simulation, RunError> {
        Simulation::with_threads(net, seed, 1)
    }

    /// [`Simulation::new`], split into `threads` partitions (at most one per block; 0 counts
    /// as 1) that [`Simulation::run_until`] advances on as many threads. The spikes, their
    /// batches and every counter are identical for any number of threads.
    ///
    /// Partitions are contiguous runs of whole blocks balanced by incoming synapses plus
    /// neurons per block (a proxy for the work a block gets).
    pub fn with_threads(net: Network, seed: u64, threads: usize) -> Result<Simulation, RunError> {
        let mut blocks = Vec::new();
        let mut block_of = Vec::with_capacity(net.num_neurons() as usize);
        let t0 = Tick::ZERO;
        let block_size = block_size_for(net.num_neurons());
        let window = net.connectivity.min_delay().unwrap_or(Tick::MAX);
        for (p, (info, def)) in net.populations.iter().zip(&net.def.populations).enumerate() {
            if let NeuronKind::Replay(replay) = &def.kind {
                replay.validate().map_err(|e| RunError::Model {
                    population: info.name.clone(),
                    message: e.to_string(),
                })?;
            }
            let mut first = info.first;
            while first < info.first + info.size {
                let end = (first + block_size).min(info.first + info.size);
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
                    NeuronKind::LifDelta(lp) => ModelBlock::LifDelta(
                        LifDelta::new(*lp, &v0, &bias, t0)
                            .map_err(err)?
                            .with_early_predictions(window >= EARLY_PREDICTIONS_MIN_WINDOW),
                    ),
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
                    plastic: Vec::new(),
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
        let block_first: Vec<u32> = blocks.iter().map(|b| b.first).collect();
        let mut table = DeliveryTable::new(&net.connectivity, &block_of, &block_first);
        let normalize = plastic::attach(&net, &mut table, &mut blocks, t0)?;
        let mut weight = table.synapses_per_block(blocks.len());
        for (w, b) in weight.iter_mut().zip(&blocks) {
            *w += b.model.len() as u64;
        }
        let bounds = partition::balance(&weight, threads);
        let whole = bounds.len() <= 2;
        let mut parts = Vec::with_capacity(bounds.len() - 1);
        let mut rest = blocks.into_iter();
        for w in bounds.windows(2) {
            let mine = rest.by_ref().take(w[1] - w[0]).collect();
            parts.push(Partition::new(w[0] as u32, mine, &table, whole));
        }
        if parts.is_empty() {
            parts.push(Partition::new(0, Vec::new(), &table, true));
        }
        Ok(Simulation {
            table,
            net,
            parts,
            block_of,
            now: t0,
            window,
            windows: 0,
            normalize,
            critical_cpu: std::time::Duration::ZERO,
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

    /// The number of partitions, each run on its own thread (1: the calling thread only).
    pub fn threads(&self) -> usize {
        self.parts.len()
    }

    /// Per thread (partition), in neuron order: its share of the network and its busy and
    /// waiting time over all runs so far.
    pub fn thread_stats(&self) -> Vec<ThreadStats> {
        self.parts.iter().map(Partition::stats).collect()
    }

    /// The sum over windows of the CPU time of the thread that took longest on it: how long
    /// the runs so far would take on cores free of other work (barrier latency aside). With
    /// the threads' total CPU time it gives the load balance, `total / (threads × critical)`,
    /// a figure that other processes on the machine do not disturb. On one thread: its CPU
    /// time.
    pub fn critical_cpu(&self) -> std::time::Duration {
        self.critical_cpu
    }

    fn blocks(&self) -> impl Iterator<Item = &Block> {
        self.parts.iter().flat_map(|p| &p.blocks)
    }

    /// Counters per population, in population order.
    pub fn counters(&self) -> Vec<Counters> {
        let mut c = vec![Counters::default(); self.net.populations.len()];
        for b in self.blocks() {
            c[b.pop] += b.counters;
        }
        c
    }

    /// The membrane potential of `neuron` at the current time \[mV\].
    pub fn potential_mv(&self, neuron: u32) -> f64 {
        let (p, b) = self.locate(neuron);
        let b = &self.parts[p].blocks[b];
        b.model.potential_mv(neuron - b.first, self.now)
    }

    /// The partition and the block within it that hold `neuron` (which must exist).
    fn locate(&self, neuron: u32) -> (usize, usize) {
        let b = self.block_of[neuron as usize];
        let p = self
            .parts
            .partition_point(|p| p.first_block + p.blocks.len() as u32 <= b);
        (p, (b - self.parts[p].first_block) as usize)
    }

    /// The block that holds `neuron` (which must exist).
    fn block_mut(&mut self, neuron: u32) -> &mut Block {
        let (p, b) = self.locate(neuron);
        &mut self.parts[p].blocks[b]
    }

    /// Adds input spikes to `spike_times` population `population` (its index in the network)
    /// of a simulation that may already have run: `trains[k]` holds absolute times for the
    /// population's neuron `k` (fewer trains than neurons leave the rest unchanged), each at
    /// or after [`Simulation::now`]. They are merged with the spikes still to come (a spike
    /// at a tick the neuron already fires at is played once) and played exactly as if they
    /// had been given when the network was built: a simulation fed its input piece by piece
    /// between [`Simulation::run_until`] calls gives bit-identical spikes, weights and
    /// counters to one given all of it at the start, for any number of threads. Memory of
    /// spikes already played is released. The network definition ([`Simulation::network`])
    /// keeps the trains it was built with.
    ///
    /// This is how a client repeats or extends a stimulus depending on the response so far
    /// (e.g. presenting an image again at a higher rate when it evoked too few spikes)
    /// without rebuilding the simulation, so that every state (potentials, thresholds,
    /// plastic weights and traces, spikes in flight) carries on exactly.
    ///
    /// Errors (the simulation is then unchanged): [`RunError::NoSuchPopulation`],
    /// [`RunError::NotSpikeTimes`], [`RunError::TooManyTrains`], [`RunError::SpikeInPast`].
    pub fn add_spike_times(
        &mut self,
        population: usize,
        trains: &[Vec<Tick>],
    ) -> Result<(), RunError> {
        let info = self
            .net
            .populations
            .get(population)
            .ok_or(RunError::NoSuchPopulation(population))?;
        if !matches!(
            self.net.def.populations[population].kind,
            NeuronKind::SpikeTimes(_)
        ) {
            return Err(RunError::NotSpikeTimes(info.name.clone()));
        }
        if trains.len() > info.size as usize {
            return Err(RunError::TooManyTrains {
                population: info.name.clone(),
                trains: trains.len(),
                size: info.size,
            });
        }
        let now = self.now;
        for (k, train) in trains.iter().enumerate() {
            if let Some(&tick) = train.iter().find(|&&t| t < now) {
                return Err(RunError::SpikeInPast {
                    neuron: info.first + k as u32,
                    tick,
                    now,
                });
            }
        }
        let first = info.first;
        for (k, train) in trains.iter().enumerate() {
            if train.is_empty() {
                continue;
            }
            let neuron = first + k as u32;
            let (p, local_block) = self.locate(neuron);
            let part = &mut self.parts[p];
            let block = &mut part.blocks[local_block];
            let i = neuron - block.first;
            let ModelBlock::Replay(g) = &mut block.model else {
                unreachable!("a spike_times population is made of replay blocks");
            };
            g.add_spikes(i, train)
                .expect("a spike_times population does not loop");
            // As at the start: a spike due now fires now (`set_crossing` would move `Now`
            // to the next tick, the rule for a neuron still above threshold after firing).
            let c = match block.model.check_threshold(i, now) {
                crate::neuron::Crossing::Now => crate::neuron::Crossing::At(now),
                c => c,
            };
            block.set_crossing(i, c, now);
            part.refresh_block(local_block as u32);
        }
        Ok(())
    }

    /// Simulates `[now, t_end)`. Runs compose: `run_until(a)` then `run_until(b)` gives the
    /// same spikes as `run_until(b)`, and so does any number of threads.
    ///
    /// On a sink error the run stops after the window whose spikes were refused (with
    /// threads, after the window processed meanwhile too, whose spikes are not recorded
    /// either); every spike emitted is still delivered, so the simulation can continue with
    /// another sink exactly as if nothing had happened, minus the unrecorded spikes.
    pub fn run_until(&mut self, t_end: Tick, sink: &mut dyn SpikeSink) -> Result<(), RunError> {
        loop {
            // Normalisations happen at their tick before any event of that tick: runs stop
            // at them.
            let t_norm = self.next_normalization();
            if t_norm <= self.now {
                self.normalize_due();
                continue;
            }
            if self.now >= t_end {
                return Ok(());
            }
            let stop = t_end.min(t_norm);
            self.run_events_until(stop, sink)?;
        }
    }

    /// [`Simulation::run_until`] without normalisations.
    fn run_events_until(&mut self, t_end: Tick, sink: &mut dyn SpikeSink) -> Result<(), RunError> {
        if self.parts.len() > 1 {
            let end = partition::run_threads(
                &mut self.parts,
                &self.net.connectivity,
                &self.table,
                self.window,
                self.now,
                t_end,
                sink,
            );
            self.windows += end.windows;
            self.now = end.now;
            self.critical_cpu += end.critical_cpu;
            return end.error.map_or(Ok(()), Err);
        }
        // One partition: the same steps on the calling thread, without an exchange.
        let start = std::time::Instant::now();
        let cpu_start = partition::thread_cpu_time();
        let part = &mut self.parts[0];
        let conn = &self.net.connectivity;
        let mut result = Ok(());
        while self.now < t_end {
            let t0 = part.next_event_time().max(self.now);
            if t0 >= t_end {
                break;
            }
            let w_end = t0.saturating_add(self.window).min(t_end);
            part.process_window(&self.table, &conn.weights, w_end);
            self.windows += 1;
            result = sink
                .record(&part.emitted)
                .map_err(|message| RunError::Sink { tick: t0, message });
            let emitted = std::mem::take(&mut part.emitted);
            part.schedule(conn, &emitted);
            part.emitted = emitted;
            self.now = w_end;
            if result.is_err() {
                break;
            }
        }
        if result.is_ok() {
            self.now = self.now.max(t_end);
        }
        let cpu = partition::thread_cpu_time().saturating_sub(cpu_start);
        part.add_busy(start.elapsed(), cpu);
        self.critical_cpu += cpu;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_size_is_a_sixteenth_of_the_network_in_powers_of_two_within_bounds() {
        for (n, bs) in [
            (0, MIN_BLOCK_SIZE),
            (1, MIN_BLOCK_SIZE),
            (12_500, MIN_BLOCK_SIZE),
            (16 * 1024, 1024),
            (16 * 1024 + 16, 2048),
            (40_000, 4096),
            (100_000, 8192),
            (1_000_000, 65_536),
            (u32::MAX, MAX_BLOCK_SIZE),
        ] {
            assert_eq!(block_size_for(n), bs, "{n} neurons");
        }
    }
}
