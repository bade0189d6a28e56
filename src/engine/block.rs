//! One block of neurons and its local event streams: the unit of work inside a window.

use super::Counters;
use super::crossing_queue::CrossingQueue;
use crate::Spike;
use crate::neuron::{Crossing, ModelBlock, NeuronModel, Weights};
use crate::plasticity::state::PlasticIncoming;
use crate::prefetch::PREFETCH_MIN_NEURONS;
use crate::time::Tick;
use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Spikes of one delay group that land in one block: synapses `start..end`, all at `tick`,
/// all of `weight` unless it is NaN (then each has its own).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    pub tick: Tick,
    pub start: u32,
    pub end: u32,
    pub weight: f32,
    /// Plastic state and stream (see [`super::table::TableSegment`]).
    pub plastic_k: u32,
    pub plastic_seg: u32,
}

/// Events a drive stream generates at a time. Drawing them in a loop of their own, apart
/// from delivery, lets both loops pipeline (the random draws form one dependency chain, the
/// deliveries another).
const DRIVE_BATCH: usize = 128;

/// A merged Poisson stream into the neurons of one block (see [`crate::network::DriveKind`]).
#[derive(Debug)]
pub(crate) struct DriveStream {
    rng: Xoshiro256PlusPlus,
    /// Mean gap between events of the merged stream \[ticks\] = 1 / (block size · rate).
    mean_gap_ticks: f64,
    /// Continuous time of the last generated event \[ticks\]; an event lands on the first tick
    /// at or after its continuous time.
    next_exact: f64,
    pub weight: f32,
    n: u32,
    stop: Tick,
    /// Generated events (tick, local target) in time order, `ticks[pos]` the next one, `len`
    /// of them valid. After the stream's last event comes `(Tick::MAX, 0)`.
    ticks: [Tick; DRIVE_BATCH],
    targets: [u32; DRIVE_BATCH],
    pos: usize,
    len: usize,
}

impl DriveStream {
    pub fn new(
        rng: Xoshiro256PlusPlus,
        n: u32,
        rate_hz: f64,
        weight_mv: f64,
        start: Tick,
        stop: Tick,
    ) -> Self {
        let total_per_tick = n as f64 * rate_hz / 1e9;
        let mut d = DriveStream {
            rng,
            mean_gap_ticks: if total_per_tick > 0.0 {
                1.0 / total_per_tick
            } else {
                f64::INFINITY
            },
            next_exact: start.0 as f64,
            weight: weight_mv as f32,
            n,
            stop,
            ticks: [Tick::MAX; DRIVE_BATCH],
            targets: [0; DRIVE_BATCH],
            pos: 0,
            len: 0,
        };
        d.refill();
        d
    }

    /// The tick of the next event (`Tick::MAX` when the stream has ended).
    #[inline]
    pub fn next(&self) -> Tick {
        self.ticks[self.pos]
    }

    /// The local target of the next event.
    #[inline]
    pub fn target(&self) -> u32 {
        self.targets[self.pos]
    }

    /// Moves past the next event.
    #[inline]
    pub fn advance(&mut self) {
        self.skip(1);
    }

    /// The buffered events (ticks, local targets) before `bound`, in time order; at least
    /// one unless the next event is at or after `bound`.
    #[inline]
    pub fn pending_before(&self, bound: Tick) -> (&[Tick], &[u32]) {
        let ticks = &self.ticks[self.pos..self.len];
        let n = ticks.partition_point(|&t| t < bound);
        (&ticks[..n], &self.targets[self.pos..self.pos + n])
    }

    /// Moves past the next `k` events (`k` at most the number buffered).
    #[inline]
    pub fn skip(&mut self, k: usize) {
        self.pos += k;
        debug_assert!(self.pos <= self.len);
        if self.pos == self.len {
            self.refill();
        }
    }

    /// Generates the next batch of events: per event an exponential gap, then a target.
    fn refill(&mut self) {
        // Working on local copies keeps the generator state in registers (stores into
        // `self` inside the loop would go to memory at every event).
        let (mut rng, mut x) = (self.rng.clone(), self.next_exact);
        let (gap, n, stop) = (self.mean_gap_ticks, self.n, self.stop.0);
        let mut len = 0;
        while len < DRIVE_BATCH {
            let e: f64 = Exp1.sample(&mut rng);
            x += gap * e;
            // `x.ceil()` is a libm call on baseline x86-64 (no SSE4.1): ceil via truncation.
            // `x < stop` (also false for NaN) keeps `x` in i64 range for the cast.
            let t = if x < stop as f64 && n > 0 {
                let tr = x as i64;
                tr + ((tr as f64) < x) as i64
            } else {
                i64::MAX
            };
            if t >= stop {
                // Ended: the sentinel stays, `next()` is `Tick::MAX` from now on.
                x = f64::INFINITY;
                (self.ticks[len], self.targets[len]) = (Tick::MAX, 0);
                len += 1;
                break;
            }
            (self.ticks[len], self.targets[len]) = (Tick(t), rng.random_range(0..n));
            len += 1;
        }
        (self.rng, self.next_exact, self.pos, self.len) = (rng, x, 0, len);
    }
}

/// Delivers the events of drive stream `d` tick by tick, as long as they come before
/// `bound` (so no other input or crossing shares their tick). Stops after the first tick that
/// touched a neuron and returns it: the caller then runs that tick's threshold phase.
///
/// Why a separate lane: a block sees ~40 drive events for each tick with recurrent input,
/// so nearly all ticks hold a single drive event; this loop hands the model whole runs of
/// them ([`NeuronModel::receive_run`]) without the per-tick merge of segments, crossings
/// and bias steps, and it is generic so that the model's code is inlined.
#[inline]
fn drive_lane<M: NeuronModel>(
    m: &mut M,
    d: &mut DriveStream,
    bound: Tick,
    touched: &mut Vec<u32>,
    events: &mut u64,
) -> Option<Tick> {
    loop {
        let (ticks, targets) = d.pending_before(bound);
        let &last = ticks.last()?;
        let k = m.receive_run(ticks, targets, d.weight, touched);
        let t = ticks[k - 1];
        *events += k as u64;
        d.skip(k);
        if touched.is_empty() {
            debug_assert_eq!(t, last);
            continue;
        }
        // The run may have ended with the buffer, not with the tick: the rest of `t`'s
        // events come before its threshold phase.
        while d.next() == t {
            m.receive_one(t, d.target(), d.weight, touched);
            *events += 1;
            d.advance();
        }
        return Some(t);
    }
}

/// A block: consecutive neurons of one population, with everything that happens to them
/// except recurrent spikes (which arrive as segments).
#[derive(Debug)]
pub(crate) struct Block {
    pub pop: usize,
    pub first: u32,
    pub model: ModelBlock,
    /// Predicted threshold crossings (and generators' next spikes), keyed (tick, neuron).
    pub crossings: CrossingQueue,
    pub drives: Vec<DriveStream>,
    /// Bias steps (tick, change), in time order.
    pub dc: Vec<(Tick, f64)>,
    pub dc_next: usize,
    pub touched: Vec<u32>,
    pub counters: Counters,
    /// One plastic state per plastic projection into this block's population.
    pub plastic: Vec<PlasticIncoming>,
}

impl Block {
    /// The next tick at which something happens here without recurrent input.
    pub fn next_time(&self) -> Tick {
        let mut t = self.crossings.next_tick();
        for d in &self.drives {
            t = t.min(d.next());
        }
        if let Some(&(td, _)) = self.dc.get(self.dc_next) {
            t = t.min(td);
        }
        t
    }

    /// Records neuron `i`'s next crossing as seen at tick `now`.
    pub fn set_crossing(&mut self, i: u32, c: Crossing, now: Tick) {
        let c = match c {
            // A model that is still above threshold right after firing fires again one tick
            // later: a neuron fires at most once per tick.
            Crossing::Now => Crossing::At(now + Tick::ONE),
            c => c,
        };
        match c {
            Crossing::At(t) => {
                self.counters.predictions += 1;
                self.crossings.set(i, t);
            }
            Crossing::Now | Crossing::Never => {
                self.crossings.remove(i);
            }
        }
    }

    /// The next tick of a predicted crossing, a bias step or a drive stream other than the
    /// first: what bounds the first drive stream's fast lane.
    fn next_time_except_lane(&self) -> Tick {
        let mut t = self.crossings.next_tick();
        for d in self.drives.iter().skip(1) {
            t = t.min(d.next());
        }
        if let Some(&(td, _)) = self.dc.get(self.dc_next) {
            t = t.min(td);
        }
        t
    }

    /// Processes everything in this block before `w_end`, tick by tick: deliver (bias steps,
    /// drive events, then recurrent segments in (source, group) order), then threshold
    /// (touched neurons and due crossings, in neuron order), then fire.
    pub fn process(
        &mut self,
        segs: &[Segment],
        local: &[u16],
        weights: &[f32],
        w_end: Tick,
        emitted: &mut Vec<Spike>,
    ) {
        let mut si = 0;
        loop {
            let t_seg = segs.get(si).map_or(Tick::MAX, |s| s.tick);
            // Fast lane: ticks at which only the first drive stream has events.
            let bound = t_seg.min(w_end).min(self.next_time_except_lane());
            if let Some(d) = self.drives.first_mut() {
                self.touched.clear();
                let lane = match &mut self.model {
                    ModelBlock::LifDelta(m) => drive_lane(
                        m,
                        d,
                        bound,
                        &mut self.touched,
                        &mut self.counters.drive_events,
                    ),
                    m => drive_lane(
                        m,
                        d,
                        bound,
                        &mut self.touched,
                        &mut self.counters.drive_events,
                    ),
                };
                if let Some(t) = lane {
                    self.threshold(t, emitted);
                    continue;
                }
            }
            // General tick: bias steps, drive events, segments and crossings merged.
            let t = t_seg.min(self.next_time());
            if t >= w_end {
                break;
            }
            self.touched.clear();
            while let Some(&(td, amp)) = self.dc.get(self.dc_next) {
                if td != t {
                    break;
                }
                self.model.add_bias(t, amp, &mut self.touched);
                self.dc_next += 1;
            }
            for d in &mut self.drives {
                while d.next() == t {
                    self.model
                        .receive_one(t, d.target(), d.weight, &mut self.touched);
                    self.counters.drive_events += 1;
                    d.advance();
                }
            }
            while let Some(s) = segs.get(si) {
                if s.tick != t {
                    break;
                }
                let (a, b) = (s.start as usize, s.end as usize);
                if s.plastic_seg == super::table::REWARD {
                    // Reward, not input: the weight is the reward per spike.
                    self.plastic[s.plastic_k as usize].reward_neurons(
                        weights[a] as f64,
                        t,
                        &local[a..b],
                    );
                    si += 1;
                    continue;
                }
                if s.plastic_k != super::table::STATIC {
                    // Deliver the weights as they were before this arrival's depression.
                    let p = &mut self.plastic[s.plastic_k as usize];
                    p.on_pre(s.plastic_seg, t, &local[a..b]);
                    self.model.receive_local(
                        t,
                        &local[a..b],
                        Weights::Each(&p.scratch),
                        &mut self.touched,
                    );
                } else {
                    let w = if s.weight.is_nan() {
                        Weights::Each(&weights[a..b])
                    } else {
                        Weights::Same(s.weight)
                    };
                    self.model
                        .receive_local(t, &local[a..b], w, &mut self.touched);
                }
                self.counters.synaptic_events += (s.end - s.start) as u64;
                si += 1;
            }
            while let Some((i, tc)) = self.crossings.peek() {
                if tc != t {
                    debug_assert!(tc > t, "a predicted crossing was skipped");
                    break;
                }
                self.crossings.pop();
                self.touched.push(i);
            }
            self.threshold(t, emitted);
        }
    }

    /// Whether this block prefetches what its inputs and threshold phase will touch: only
    /// blocks of at least [`PREFETCH_MIN_NEURONS`] neurons, whose state misses the caches.
    /// The one place that decides, for the model's state and the crossing queue alike.
    pub fn prefetches(&self) -> bool {
        self.model.len() >= PREFETCH_MIN_NEURONS
    }

    /// Prefetches what the inputs of `segs` will touch, if the block [prefetches](Self::prefetches):
    /// the targets' state and crossing-queue positions, or, with `slots`, their heap slots
    /// (which need the positions).
    pub fn prefetch_inputs(&self, segs: &[Segment], local: &[u16], slots: bool) {
        if !self.prefetches() {
            return;
        }
        for s in segs {
            let local = &local[s.start as usize..s.end as usize];
            if slots {
                self.crossings.prefetch_slots(local);
            } else {
                self.model.prefetch_inputs(local);
                self.crossings.prefetch_positions(local);
            }
        }
    }

    /// Threshold phase at `t`: every touched neuron, in neuron order, fires or gets its next
    /// crossing predicted.
    fn threshold(&mut self, t: Tick, emitted: &mut Vec<Spike>) {
        if self.touched.is_empty() {
            return;
        }
        let mut touched = std::mem::take(&mut self.touched);
        // Often sorted already: one segment's targets come in neuron order.
        if !touched.is_sorted() {
            touched.sort_unstable();
        }
        touched.dedup();
        if self.prefetches() {
            self.crossings.prefetch(&touched);
        }
        for &i in &touched {
            let c = match self.model.check_threshold(i, t) {
                Crossing::Now => {
                    emitted.push(Spike {
                        tick: t,
                        neuron: self.first + i,
                    });
                    self.counters.spikes += 1;
                    for p in &mut self.plastic {
                        p.on_post(i, t);
                    }
                    self.model.fire(i, t)
                }
                c => c,
            };
            self.set_crossing(i, c, t);
        }
        self.touched = touched;
    }
}
