//! Spike generators: populations whose neurons emit spikes on a schedule instead of
//! integrating input (explicit spike times, regular trains, Poisson processes).
//!
//! They plug into the engine like neurons whose next threshold crossing is known in advance:
//! their next spike sits in the crossing queue, and firing schedules the one after. They
//! accept no synaptic input (a projection into a generator population is a build error).

use super::{Crossing, NeuronModel};
use crate::time::{TICKS_PER_MS, Tick};
use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};
use rand_xoshiro::Xoshiro256PlusPlus;

fn next_or_never(t: Option<Tick>) -> Crossing {
    t.map_or(Crossing::Never, Crossing::At)
}

/// Each neuron fires at its own list of times (sorted, duplicates removed at construction).
#[derive(Debug, Clone)]
pub struct SpikeTimesGenerator {
    times: Vec<Vec<Tick>>,
    cursor: Vec<usize>,
}

impl SpikeTimesGenerator {
    /// One list of spike times per neuron; times before `t0` are skipped.
    pub fn new(mut times: Vec<Vec<Tick>>, t0: Tick) -> Self {
        for list in &mut times {
            list.sort_unstable();
            list.dedup();
        }
        let cursor = times
            .iter()
            .map(|l| l.partition_point(|&t| t < t0))
            .collect();
        SpikeTimesGenerator { times, cursor }
    }

    fn next(&self, i: usize) -> Option<Tick> {
        self.times[i].get(self.cursor[i]).copied()
    }
}

impl NeuronModel for SpikeTimesGenerator {
    fn len(&self) -> usize {
        self.times.len()
    }
    fn accepts_input(&self) -> bool {
        false
    }
    fn receive(&mut self, _: Tick, _: u32, _: &[u32], _: &[f32], _: &mut Vec<u32>) {}
    fn check_threshold(&mut self, i: u32, t: Tick) -> Crossing {
        match self.next(i as usize) {
            Some(n) if n <= t => Crossing::Now,
            n => next_or_never(n),
        }
    }
    fn fire(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        while self.next(i).is_some_and(|n| n <= t) {
            self.cursor[i] += 1;
        }
        next_or_never(self.next(i))
    }
    fn add_bias(&mut self, _: Tick, _: f64, _: &mut Vec<u32>) {}
    fn potential_mv(&self, _: u32, _: Tick) -> f64 {
        0.0
    }
}

/// Every neuron fires periodically from `start` (inclusive) to `stop` (exclusive).
#[derive(Debug, Clone)]
pub struct RegularGenerator {
    n: usize,
    period: Tick,
    start: Tick,
    stop: Tick,
    next: Vec<Tick>,
}

impl RegularGenerator {
    /// `n` neurons firing every `period` (at least one tick) in `[start, stop)`.
    pub fn new(n: usize, period: Tick, start: Tick, stop: Tick) -> Self {
        let period = period.max(Tick::ONE);
        RegularGenerator {
            n,
            period,
            start,
            stop,
            next: vec![start; n],
        }
    }
    fn crossing(&self, i: usize) -> Crossing {
        if self.next[i] < self.stop {
            Crossing::At(self.next[i])
        } else {
            Crossing::Never
        }
    }
}

impl NeuronModel for RegularGenerator {
    fn len(&self) -> usize {
        self.n
    }
    fn accepts_input(&self) -> bool {
        false
    }
    fn receive(&mut self, _: Tick, _: u32, _: &[u32], _: &[f32], _: &mut Vec<u32>) {}
    fn check_threshold(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        if self.next[i] <= t && self.next[i] < self.stop && t >= self.start {
            Crossing::Now
        } else {
            self.crossing(i)
        }
    }
    fn fire(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        self.next[i] = t.saturating_add(self.period);
        self.crossing(i)
    }
    fn add_bias(&mut self, _: Tick, _: f64, _: &mut Vec<u32>) {}
    fn potential_mv(&self, _: u32, _: Tick) -> f64 {
        0.0
    }
}

/// Independent Poisson processes of one rate, active in `[start, stop)`.
///
/// Inter-spike intervals are drawn exactly (exponential, in continuous time) and each spike
/// lands on the first tick at or after its continuous time. The random stream belongs to the
/// block, and draws happen in the engine's deterministic processing order.
#[derive(Debug, Clone)]
pub struct PoissonGenerator {
    mean_isi_ticks: f64,
    stop: Tick,
    /// Continuous time of each neuron's next spike [ticks].
    next_exact: Vec<f64>,
    rng: Xoshiro256PlusPlus,
}

impl PoissonGenerator {
    /// `n` neurons at `rate_hz` in `[start, stop)`, with the block's seed.
    pub fn new(n: usize, rate_hz: f64, start: Tick, stop: Tick, seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let mean_isi_ticks = if rate_hz > 0.0 {
            1000.0 * TICKS_PER_MS as f64 / rate_hz
        } else {
            f64::INFINITY
        };
        let next_exact = (0..n)
            .map(|_| {
                start.0 as f64
                    + mean_isi_ticks * <Exp1 as Distribution<f64>>::sample(&Exp1, &mut rng)
            })
            .collect();
        PoissonGenerator {
            mean_isi_ticks,
            stop,
            next_exact,
            rng,
        }
    }
    fn next(&self, i: usize) -> Crossing {
        let t = self.next_exact[i].ceil();
        if t < self.stop.0 as f64 {
            Crossing::At(Tick(t as i64))
        } else {
            Crossing::Never
        }
    }
}

impl NeuronModel for PoissonGenerator {
    fn len(&self) -> usize {
        self.next_exact.len()
    }
    fn accepts_input(&self) -> bool {
        false
    }
    fn receive(&mut self, _: Tick, _: u32, _: &[u32], _: &[f32], _: &mut Vec<u32>) {}
    fn check_threshold(&mut self, i: u32, t: Tick) -> Crossing {
        match self.next(i as usize) {
            Crossing::At(n) if n <= t => Crossing::Now,
            c => c,
        }
    }
    fn fire(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        // Several draws may land on one tick: the neuron fires once per tick (a spike train
        // has at most one spike per neuron and tick).
        while self.next_exact[i].ceil() <= t.0 as f64 {
            self.next_exact[i] +=
                self.mean_isi_ticks * <Exp1 as Distribution<f64>>::sample(&Exp1, &mut self.rng);
        }
        self.next(i)
    }
    fn add_bias(&mut self, _: Tick, _: f64, _: &mut Vec<u32>) {}
    fn potential_mv(&self, _: u32, _: Tick) -> f64 {
        0.0
    }
}
