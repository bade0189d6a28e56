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
    /// Continuous time of each neuron's next spike \[ticks\].
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

/// A replayed recording: one sorted train of spike times per neuron, shifted and optionally
/// repeated. Plain data (no file): the trace layer ([`crate::trace::replay`]) reads a trace
/// file into it, applying the channel selection and the time scale.
///
/// Neuron `i` fires at `shift + k·period + trains[i][j]` for every `j` and every cycle
/// `k ≥ 0` (only `k = 0` without a period). Spikes that land before time 0 are skipped.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReplayParams {
    /// Spike times of each neuron, relative to `shift`. With a period, every time lies in
    /// `[0, period)`. Neurons beyond the end of the list are silent.
    pub trains: Vec<Vec<Tick>>,
    /// Added to every spike time.
    pub shift: Tick,
    /// Repeat the trains with this period (at least one tick), or play them once.
    pub period: Option<Tick>,
}

/// Why a [`ReplayParams`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayParamsError {
    /// A loop period below one tick.
    #[error("loop period must be at least one tick, got {0}")]
    PeriodTooShort(Tick),
    /// With a loop period, a spike time outside `[0, period)`.
    #[error("neuron {neuron}: spike at {tick} lies outside the loop period [0, {period})")]
    OutsidePeriod {
        /// Neuron index in the population.
        neuron: u32,
        /// The spike time (relative to the shift).
        tick: Tick,
        /// The loop period.
        period: Tick,
    },
    /// Spikes were added to a looped replay (its trains are fixed cycles).
    #[error("spikes cannot be added to a looped replay")]
    AddToLoop,
}

impl ReplayParams {
    /// Checks the loop period and that every time fits in it.
    pub fn validate(&self) -> Result<(), ReplayParamsError> {
        let Some(period) = self.period else {
            return Ok(());
        };
        if period < Tick::ONE {
            return Err(ReplayParamsError::PeriodTooShort(period));
        }
        for (neuron, train) in self.trains.iter().enumerate() {
            if let Some(&tick) = train.iter().find(|&&t| t < Tick::ZERO || t >= period) {
                return Err(ReplayParamsError::OutsidePeriod {
                    neuron: neuron as u32,
                    tick,
                    period,
                });
            }
        }
        Ok(())
    }
}

/// Plays spike trains, one per neuron, optionally shifted and looped: the `spike_times`
/// generator (no shift, no loop) and trace replay ([`ReplayParams`]).
///
/// Memory is one train per neuron, whatever the number of loop cycles: the next spike is
/// computed as `shift + cycle·period + trains[i][cursor]`. A time that would overflow the tick
/// range ends the neuron's train.
#[derive(Debug, Clone)]
pub struct ReplayGenerator {
    trains: Vec<Vec<Tick>>,
    shift: Tick,
    period: Option<Tick>,
    cursor: Vec<usize>,
    cycle: Vec<i64>,
}

impl ReplayGenerator {
    /// One train per neuron (sorted and deduplicated here); spikes before `t0` are skipped.
    /// `period`, when given, must be at least one tick and every time must lie in
    /// `[0, period)` (see [`ReplayParams::validate`]).
    pub fn new(mut trains: Vec<Vec<Tick>>, shift: Tick, period: Option<Tick>, t0: Tick) -> Self {
        for train in &mut trains {
            train.sort_unstable();
            train.dedup();
        }
        let period = period.map(|p| p.max(Tick::ONE));
        let n = trains.len();
        let mut g = ReplayGenerator {
            trains,
            shift,
            period,
            cursor: vec![0; n],
            cycle: vec![0; n],
        };
        // Relative to the shift, the first spike due is the first at or after `rel`.
        let rel = i128::from(t0.0) - i128::from(shift.0);
        for i in 0..n {
            match g.period {
                // Spikes before `t0` are skipped (also negative times given to a builder).
                None => {
                    g.cursor[i] = g.trains[i].partition_point(|t| i128::from(t.0) < rel);
                }
                // Looped trains lie in [0, period): before the first cycle nothing is skipped.
                Some(_) if rel <= 0 => {}
                Some(p) => {
                    let p = i128::from(p.0);
                    let cycle = rel / p;
                    let within = rel - cycle * p;
                    let cursor = g.trains[i].partition_point(|t| i128::from(t.0) < within);
                    let (cycle, cursor) = if cursor == g.trains[i].len() {
                        (cycle + 1, 0)
                    } else {
                        (cycle, cursor)
                    };
                    g.cycle[i] = i64::try_from(cycle).unwrap_or(i64::MAX);
                    g.cursor[i] = cursor;
                }
            }
        }
        g
    }

    /// Adds spike times (relative to the shift, like the trains) to neuron `i`'s train, for a
    /// generator without a loop period ([`ReplayParamsError::AddToLoop`] otherwise). The
    /// spikes already played are dropped from memory, and the new times are merged with the
    /// ones still to come (sorted, duplicates removed). Times the neuron has already passed
    /// (at or before its last spike) are skipped when it next fires, so callers add only
    /// times at or after the current time; the caller re-examines the neuron's next spike
    /// ([`NeuronModel::check_threshold`]), which may have moved earlier.
    pub fn add_spikes(&mut self, i: u32, times: &[Tick]) -> Result<(), ReplayParamsError> {
        if self.period.is_some() {
            return Err(ReplayParamsError::AddToLoop);
        }
        let i = i as usize;
        let train = &mut self.trains[i];
        train.drain(..self.cursor[i]);
        self.cursor[i] = 0;
        train.extend_from_slice(times);
        train.sort_unstable();
        train.dedup();
        Ok(())
    }

    fn next(&self, i: usize) -> Option<Tick> {
        let base = self.trains[i].get(self.cursor[i])?;
        let offset = match self.period {
            None => 0,
            Some(p) => self.cycle[i].checked_mul(p.0)?,
        };
        self.shift
            .0
            .checked_add(offset)?
            .checked_add(base.0)
            .filter(|&t| t < i64::MAX)
            .map(Tick)
    }

    fn advance(&mut self, i: usize) {
        self.cursor[i] += 1;
        if self.period.is_some() && self.cursor[i] >= self.trains[i].len() {
            self.cursor[i] = 0;
            self.cycle[i] = self.cycle[i].saturating_add(1);
        }
    }
}

impl NeuronModel for ReplayGenerator {
    fn len(&self) -> usize {
        self.trains.len()
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
            self.advance(i);
        }
        next_or_never(self.next(i))
    }
    fn add_bias(&mut self, _: Tick, _: f64, _: &mut Vec<u32>) {}
    fn potential_mv(&self, _: u32, _: Tick) -> f64 {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> Tick {
        Tick::from_ms(v).unwrap()
    }

    /// All spikes of neuron `i` before `end`, by firing it whenever it is due.
    fn play(g: &mut ReplayGenerator, i: u32, end: Tick) -> Vec<Tick> {
        let mut out = Vec::new();
        let mut next = g.check_threshold(i, Tick(i64::MIN + 1));
        loop {
            let t = match next {
                Crossing::At(t) if t < end => t,
                _ => return out,
            };
            out.push(t);
            next = g.fire(i, t);
        }
    }

    #[test]
    fn replay_shifts_loops_and_skips_spikes_before_start() {
        let trains = vec![vec![ms(1.0), ms(3.0)], vec![], vec![ms(0.0), ms(0.0)]];
        let mut g = ReplayGenerator::new(trains.clone(), ms(5.0), Some(ms(4.0)), Tick::ZERO);
        assert_eq!(
            play(&mut g, 0, ms(20.0)),
            [6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0].map(ms)
        );
        assert_eq!(play(&mut g, 1, ms(20.0)), []);
        assert_eq!(play(&mut g, 2, ms(14.0)), [5.0, 9.0, 13.0].map(ms));
        // A negative shift: cycles before 0 are skipped, the rest keep their phase.
        let mut g = ReplayGenerator::new(trains.clone(), ms(-9.0), Some(ms(4.0)), Tick::ZERO);
        assert_eq!(play(&mut g, 0, ms(8.0)), [0.0, 2.0, 4.0, 6.0].map(ms));
        assert_eq!(play(&mut g, 2, ms(8.0)), [3.0, 7.0].map(ms));
        // No loop: played once, spikes before t0 dropped.
        let mut g = ReplayGenerator::new(trains, ms(-2.0), None, Tick::ZERO);
        assert_eq!(play(&mut g, 0, Tick::MAX), [ms(1.0)]);
        assert_eq!(play(&mut g, 2, Tick::MAX), []);
    }

    #[test]
    fn replay_ends_instead_of_overflowing() {
        let mut g = ReplayGenerator::new(
            vec![vec![Tick(0)]],
            Tick(i64::MAX - 10),
            Some(Tick(4)),
            Tick::ZERO,
        );
        assert_eq!(
            play(&mut g, 0, Tick::MAX),
            [Tick(i64::MAX - 10), Tick(i64::MAX - 6), Tick(i64::MAX - 2)]
        );
    }

    #[test]
    fn added_spikes_merge_with_those_still_to_come() {
        let mut g =
            ReplayGenerator::new(vec![vec![ms(1.0), ms(4.0)]], Tick::ZERO, None, Tick::ZERO);
        assert_eq!(g.check_threshold(0, Tick::ZERO), Crossing::At(ms(1.0)));
        assert_eq!(g.fire(0, ms(1.0)), Crossing::At(ms(4.0)));
        // Before, between and on the pending spike (the duplicate is played once).
        g.add_spikes(0, &[ms(5.0), ms(2.0), ms(4.0)]).unwrap();
        assert_eq!(
            g.trains[0],
            [2.0, 4.0, 5.0].map(ms),
            "the played spike is dropped"
        );
        assert_eq!(play(&mut g, 0, Tick::MAX), [2.0, 4.0, 5.0].map(ms));
        // After the train has ended.
        g.add_spikes(0, &[ms(9.0)]).unwrap();
        assert_eq!(play(&mut g, 0, Tick::MAX), [ms(9.0)]);
        let mut looped =
            ReplayGenerator::new(vec![vec![ms(1.0)]], Tick::ZERO, Some(ms(2.0)), Tick::ZERO);
        assert_eq!(
            looped.add_spikes(0, &[ms(3.0)]),
            Err(ReplayParamsError::AddToLoop)
        );
    }

    #[test]
    fn validate_checks_the_period() {
        let mut p = ReplayParams {
            trains: vec![vec![ms(1.0)], vec![ms(4.0)]],
            shift: Tick::ZERO,
            period: Some(ms(4.0)),
        };
        assert_eq!(
            p.validate(),
            Err(ReplayParamsError::OutsidePeriod {
                neuron: 1,
                tick: ms(4.0),
                period: ms(4.0)
            })
        );
        p.period = Some(Tick::ZERO);
        assert_eq!(
            p.validate(),
            Err(ReplayParamsError::PeriodTooShort(Tick::ZERO))
        );
        p.period = None;
        assert_eq!(p.validate(), Ok(()));
    }
}
