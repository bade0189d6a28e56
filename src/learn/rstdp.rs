//! Reward-modulated STDP readout (Mozafari et al. 2018/2019 style) on top of a Diehl & Cook
//! layer, run event by event on the engine.
//!
//! Owns: the decision layer ([`RstdpParams`], [`Readout`]), its training in one long
//! reward-modulated simulation ([`train`]) and its classification of recorded feature spikes
//! on several threads ([`evaluate`]). Must not touch: engine internals; printing.
//!
//! # The network
//! The features are the excitatory spikes of a frozen Diehl & Cook layer
//! ([`super::stdp::responses`]), recorded once per image and replayed by a `spike_times`
//! population (the layer is frozen, so replaying its spikes is the same as running it again
//! with the same input trains, and much cheaper). They project all-to-all and plastically onto
//! `classes x per_class` `lif_delta` decision neurons, which inhibit each other all-to-all, so
//! that the first to fire mostly keeps the others silent (Mozafari's winner-take-all).
//!
//! # Learning
//! The projection's [`StdpParams`] have `reward = {tau_c}`: pair STDP (multiplicative, soft
//! bounds as Mozafari's `w (1 - w)`) fills an eligibility trace per synapse instead of changing
//! weights. After each presentation the decision is the class whose neurons fired most (ties:
//! the earlier first spike). Each reward is [`RstdpParams::reward`] times
//! [`RstdpParams::learning_rate`]: fixed amounts (default `+0.7` for a right action, `-0.3` for
//! a wrong one) or Mozafari's adaptive scaling ([`RewardScale::Adaptive`]: `+miss_rate` if
//! right, `-hit_rate` if wrong, rates of the network's decisions over the last 100). Which
//! synapses a reward reaches is [`RstdpParams::credit`]:
//! - [`Credit::PerNeuron`] (default): every decision neuron that fired is an actor of its own
//!   and gets the reward of its own class (right if its class is the label), delivered to its
//!   incoming synapses only ([`Simulation::deliver_reward_to`]);
//! - [`Credit::Decided`]: only the decided class's neurons that fired, with the decision's
//!   reward (Mozafari: the neurons that made the decision learn from it);
//! - [`Credit::Global`]: one reward for every synapse of the layer (the first version).
//!
//! On the MNIST-10k validation split (README) with adaptive rewards, `Global` reached 50.8%,
//! `Decided` 63.1%, `PerNeuron` 69-72%; `PerNeuron` with fixed `+0.7/-0.3` 74.8% (inhibition -2 mV) and 77.0% (-1 mV, the default).
//!
//! A presentation without any decision spike delivers nothing. Presentations are followed by a
//! long silence (events cost nothing in between) so that a reward meets only its own
//! presentation's eligibility.

use super::stdp::Responses;
use super::{Dataset, LearnError, OutputCounts};
use crate::Tick;
use crate::engine::Simulation;
use crate::network::{ConnectRule, Dist, NetworkBuilder, NeuronKind};
use crate::neuron::LifParams;
use crate::plasticity::{Pairing, RewardParams, StdpParams};
use std::time::{Duration, Instant};

/// Which decision neurons a reward reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Credit {
    /// Every plastic synapse of the layer (one global reward signal).
    Global,
    /// Only the neurons of the decided class that fired (Mozafari et al.: the neurons whose
    /// spikes made the decision learn from its outcome).
    Decided,
    /// Every neuron that fired, each rewarded by whether its own class was right.
    PerNeuron,
}

impl std::str::FromStr for Credit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "global" => Ok(Credit::Global),
            "decided" => Ok(Credit::Decided),
            "per-neuron" => Ok(Credit::PerNeuron),
            _ => Err(format!(
                "unknown credit `{s}`: expected global, decided or per-neuron"
            )),
        }
    }
}

/// The reward for a right action and the punishment for a wrong one (before
/// [`RstdpParams::learning_rate`]).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum RewardScale {
    /// Mozafari et al.'s adaptive scaling: `+miss_rate` if right, `-hit_rate` if wrong, rates
    /// of the network's decisions over the last 100.
    Adaptive,
    /// Fixed amounts: `right` (positive) if right, `wrong` (negative) if wrong.
    Fixed {
        /// Reward of a right action.
        right: f64,
        /// Punishment of a wrong action (negative).
        wrong: f64,
    },
}

impl RewardScale {
    /// Fixed amounts must be finite, `right >= 0 >= wrong`.
    pub fn is_valid(&self) -> bool {
        match *self {
            RewardScale::Adaptive => true,
            RewardScale::Fixed { right, wrong } => {
                right >= 0.0 && wrong <= 0.0 && right.is_finite() && wrong.is_finite()
            }
        }
    }

    /// The amount for an action that was `right`, given the recent hit rate.
    pub fn amount(&self, right: bool, hit_rate: f64) -> f64 {
        match (*self, right) {
            (RewardScale::Adaptive, true) => 1.0 - hit_rate,
            (RewardScale::Adaptive, false) => -hit_rate,
            (RewardScale::Fixed { right, .. }, true) => right,
            (RewardScale::Fixed { wrong, .. }, false) => wrong,
        }
    }
}

impl std::str::FromStr for RewardScale {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "adaptive" {
            return Ok(RewardScale::Adaptive);
        }
        let bad = || {
            format!(
                "bad reward `{s}`: expected `adaptive` or `RIGHT,WRONG` with RIGHT >= 0 >= WRONG, e.g. `0.7,-0.3`"
            )
        };
        let (a, b) = s.split_once(',').ok_or_else(bad)?;
        let (right, wrong): (f64, f64) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        let r = RewardScale::Fixed { right, wrong };
        if !r.is_valid() {
            return Err(bad());
        }
        Ok(r)
    }
}

/// The decision layer and its training.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RstdpParams {
    /// Classes.
    pub classes: usize,
    /// Decision neurons per class.
    pub per_class: usize,
    /// Threshold above rest (rest and reset are 0 mV) \[mV\].
    pub v_th_mv: f64,
    /// Membrane time constant \[ms\].
    pub tau_m_ms: f64,
    /// Upper weight bound \[mV\].
    pub w_max_mv: f64,
    /// Initial weights uniform in `[w_init_low, w_init_high)` times `w_max` .
    pub w_init_low: f64,
    /// See `w_init_low`.
    pub w_init_high: f64,
    /// Inhibition per decision spike onto every other decision neuron \[mV\], negative.
    pub inhibition_mv: f64,
    /// Eligibility decay \[ms\].
    pub tau_c_ms: f64,
    /// Reward scale: weights change by this times reward times eligibility.
    pub learning_rate: f64,
    /// Length of a presentation (the feature layer's) \[ms\].
    pub present_ms: f64,
    /// Silence after each presentation in the readout simulation \[ms\].
    pub rest_ms: f64,
    /// Passes over the training features.
    pub epochs: usize,
    /// Seed of the initial weights.
    pub seed: u64,
    /// Which decision neurons a reward reaches.
    pub credit: Credit,
    /// Reward and punishment amounts.
    pub reward: RewardScale,
}

impl Default for RstdpParams {
    fn default() -> Self {
        RstdpParams {
            classes: 10,
            per_class: 1,
            v_th_mv: 1.0,
            tau_m_ms: 200.0,
            w_max_mv: 1.0,
            w_init_low: 0.2,
            w_init_high: 0.5,
            inhibition_mv: -1.0,
            tau_c_ms: 500.0,
            learning_rate: 30.0,
            present_ms: 350.0,
            rest_ms: 2000.0,
            epochs: 5,
            seed: 1,
            credit: Credit::PerNeuron,
            reward: RewardScale::Fixed {
                right: 0.7,
                wrong: -0.3,
            },
        }
    }
}

impl RstdpParams {
    fn neurons(&self) -> usize {
        self.classes * self.per_class
    }

    fn lif(&self) -> LifParams {
        LifParams {
            tau_m_ms: self.tau_m_ms,
            v_rest_mv: 0.0,
            v_reset_mv: 0.0,
            v_th_mv: self.v_th_mv,
            t_ref: Tick::ZERO,
        }
    }

    /// Pair STDP with Mozafari's soft bounds, reward-modulated.
    pub fn stdp(&self) -> StdpParams {
        StdpParams {
            tau_plus_ms: 20.0,
            tau_minus_ms: 20.0,
            a_plus: 0.004 * self.w_max_mv,
            a_minus: 0.001 * self.w_max_mv,
            triplet: None,
            pairing: Pairing::Nearest,
            mu_plus: 1.0,
            mu_minus: 1.0,
            w_min: 0.0,
            w_max: self.w_max_mv,
            reward: Some(RewardParams {
                tau_c_ms: self.tau_c_ms,
            }),
            normalize: None,
        }
    }

    /// Checks the values that would otherwise fail deep inside the engine.
    pub fn validate(&self) -> Result<(), LearnError> {
        if self.classes < 2 || self.per_class == 0 {
            return Err(LearnError::Config(
                "need at least 2 classes and 1 neuron per class".into(),
            ));
        }
        if !(self.v_th_mv > 0.0
            && self.w_max_mv > 0.0
            && self.inhibition_mv <= 0.0
            && self.w_init_low >= 0.0
            && self.w_init_high <= 1.0
            && self.w_init_low < self.w_init_high
            && self.learning_rate >= 0.0
            && self.reward.is_valid()
            && self.present_ms > 0.0
            && self.rest_ms >= 0.0)
        {
            return Err(LearnError::Config(format!(
                "bad readout parameters {self:?}"
            )));
        }
        self.stdp()
            .validate()
            .map_err(|e| LearnError::Config(e.to_string()))
    }
}

/// A trained readout: decision weights, feature-major (`weights_mv[f * neurons + d]`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Readout {
    /// The parameters trained with.
    pub params: RstdpParams,
    /// Feature neurons (the Diehl & Cook layer's size).
    pub features: usize,
    /// Weights \[mV\], `weights_mv[f * classes * per_class + d]`.
    pub weights_mv: Vec<f32>,
}

impl Readout {
    /// Checks shapes and values (for files read back).
    pub fn check(&self) -> Result<(), String> {
        if self.weights_mv.len() != self.features * self.params.neurons()
            || self.weights_mv.iter().any(|w| !w.is_finite())
        {
            return Err(format!(
                "{} readout weights for {} features x {} decision neurons",
                self.weights_mv.len(),
                self.features,
                self.params.neurons()
            ));
        }
        self.params.validate().map_err(|e| e.to_string())
    }
}

/// Work and time of training or evaluating a readout.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadoutStats {
    /// Presentations.
    pub presentations: usize,
    /// Decisions right.
    pub correct: usize,
    /// Presentations without any decision spike.
    pub silent: usize,
    /// Synaptic events delivered in the readout (feature-to-decision and inhibition).
    pub synaptic_events: u64,
    /// Decision spikes.
    pub decision_spikes: u64,
    /// Plastic weight changes applied (eligibility updates).
    pub plastic_updates: u64,
    /// Wall time.
    pub wall: Duration,
}

impl ReadoutStats {
    /// Fraction of presentations decided right.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.presentations.max(1) as f64
    }
}

/// Progress of readout training.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReadoutProgress {
    /// Presentations done.
    pub done: usize,
    /// Presentations in all.
    pub total: usize,
    /// Fraction right over the last 100 decisions.
    pub running_accuracy: f64,
}

/// The class with most decision spikes in `sink`; ties: earlier first spike, then lower
/// class.
fn decision(sink: &OutputCounts, p: &RstdpParams) -> Option<usize> {
    let mut best: Option<(usize, u32, Tick)> = None;
    for c in 0..p.classes {
        let r = c * p.per_class..(c + 1) * p.per_class;
        let n: u32 = sink.counts[r.clone()].iter().sum();
        let t = sink.first_tick[r]
            .iter()
            .copied()
            .min()
            .unwrap_or(Tick::MAX);
        if n > 0 && best.is_none_or(|(_, bn, bt)| n > bn || (n == bn && t < bt)) {
            best = Some((c, n, t));
        }
    }
    best.map(|(c, _, _)| c)
}

/// The feature spikes of `samples` laid end to end, presentation `k` at `k · period`.
fn replay(features: usize, spikes: &[&[(Tick, u32)]], period: Tick) -> Vec<Vec<Tick>> {
    let mut trains = vec![Vec::new(); features];
    for (k, s) in spikes.iter().enumerate() {
        let shift = Tick(period.0 * k as i64);
        for &(t, f) in s.iter() {
            if let Some(tr) = trains.get_mut(f as usize) {
                tr.push(t + shift);
            }
        }
    }
    for tr in &mut trains {
        tr.sort_unstable();
        tr.dedup();
    }
    trains
}

fn period(p: &RstdpParams) -> Result<(Tick, Tick), LearnError> {
    let t = |ms: f64| Tick::from_ms(ms).map_err(|e| LearnError::Config(e.to_string()));
    Ok((t(p.present_ms)?, t(p.present_ms + p.rest_ms)?))
}

/// Builds the readout network over `trains`; projection 0 is feature -> decision (plastic if
/// `plastic`), 1 is the decision layer's inhibition. With `weights`, they replace the initial
/// random ones.
fn build(
    p: &RstdpParams,
    features: usize,
    trains: Vec<Vec<Tick>>,
    weights: Option<&[f32]>,
    plastic: bool,
) -> Result<(Simulation, u32), LearnError> {
    let mut b = NetworkBuilder::new();
    let input = b.population("features", features as u32, NeuronKind::SpikeTimes(trains));
    let dec = b.population(
        "decision",
        p.neurons() as u32,
        NeuronKind::LifDelta(p.lif()),
    );
    b.connect(
        input,
        dec,
        ConnectRule::AllToAll,
        Dist::Uniform {
            low: p.w_init_low * p.w_max_mv,
            high: p.w_init_high * p.w_max_mv,
        },
        Dist::Const(1.0),
    )
    .plasticity = plastic.then(|| p.stdp());
    b.connect(
        dec,
        dec,
        ConnectRule::AllToAll,
        Dist::Const(p.inhibition_mv),
        Dist::Const(1.0),
    );
    let mut net = b.build(p.seed)?;
    let first = net.populations[dec].first;
    if let Some(w) = weights {
        let n = p.neurons();
        let conn = &mut net.connectivity;
        for f in 0..features as u32 {
            for g in conn.groups_of(f).to_vec() {
                for s in g.start..g.end {
                    conn.weights[s] = w[f as usize * n + (conn.targets[s] - first) as usize];
                }
            }
        }
    }
    Ok((Simulation::new(net, p.seed)?, first))
}

/// Trains a readout on the feature layer's `responses` to `data` (one long simulation over all
/// epochs). Returns it with the training cost and decisions.
pub fn train(
    p: &RstdpParams,
    features: usize,
    responses: &Responses,
    data: &Dataset,
    progress: &mut dyn FnMut(ReadoutProgress),
) -> Result<(Readout, ReadoutStats), LearnError> {
    p.validate()?;
    if responses.spikes.len() != data.len() {
        return Err(LearnError::Config(format!(
            "{} responses for {} samples",
            responses.spikes.len(),
            data.len()
        )));
    }
    let start = Instant::now();
    let (present, period) = period(p)?;
    let n = data.len();
    let total = n * p.epochs;
    let order: Vec<usize> = (0..p.epochs).flat_map(|_| 0..n).collect();
    let spikes: Vec<&[(Tick, u32)]> = order
        .iter()
        .map(|&i| responses.spikes[i].as_slice())
        .collect();
    let (mut sim, first) = build(p, features, replay(features, &spikes, period), None, true)?;
    let mut sink = OutputCounts::new(first, p.neurons());
    let mut stats = ReadoutStats {
        presentations: total,
        ..ReadoutStats::default()
    };
    let mut recent: std::collections::VecDeque<bool> = std::collections::VecDeque::new();
    for (j, &i) in order.iter().enumerate() {
        let t0 = Tick(period.0 * j as i64);
        sink.reset();
        sim.run_until(
            t0 + present + Tick::from_ms(1.0).unwrap_or(Tick::ONE),
            &mut sink,
        )?;
        let decision = decision(&sink, p);
        let right = decision == Some(data.labels[i] as usize);
        stats.correct += right as usize;
        if let Some(decided) = decision {
            let hits = recent.iter().filter(|&&r| r).count() as f64;
            let hit_rate = if recent.is_empty() {
                0.5
            } else {
                hits / recent.len() as f64
            };
            let r = |right: bool| p.learning_rate * p.reward.amount(right, hit_rate);
            let fired = |k: usize| sink.counts[k] > 0;
            match p.credit {
                Credit::Global => {
                    sim.deliver_reward(0, r(right));
                }
                Credit::Decided => {
                    let class = decided * p.per_class..(decided + 1) * p.per_class;
                    for k in class.filter(|&k| fired(k)) {
                        sim.deliver_reward_to(0, first + k as u32, r(right));
                    }
                }
                Credit::PerNeuron => {
                    for k in (0..p.neurons()).filter(|&k| fired(k)) {
                        let own = k / p.per_class == data.labels[i] as usize;
                        sim.deliver_reward_to(0, first + k as u32, r(own));
                    }
                }
            }
        } else {
            stats.silent += 1;
        }
        recent.push_back(right);
        if recent.len() > 100 {
            recent.pop_front();
        }
        sim.run_until(t0 + period, &mut sink)?;
        if (j + 1) % 500 == 0 || j + 1 == total {
            progress(ReadoutProgress {
                done: j + 1,
                total,
                running_accuracy: recent.iter().filter(|&&r| r).count() as f64
                    / recent.len().max(1) as f64,
            });
        }
    }
    let c = sim.counters();
    stats.synaptic_events = c.iter().map(|c| c.synaptic_events).sum();
    stats.decision_spikes = c[1].spikes;
    stats.plastic_updates = sim.plastic_updates();
    let nd = p.neurons();
    let mut weights_mv = vec![0f32; features * nd];
    for s in sim.plastic_weights(0).unwrap_or_default() {
        weights_mv[s.source as usize * nd + (s.target - first) as usize] = s.weight as f32;
    }
    stats.wall = start.elapsed();
    Ok((
        Readout {
            params: *p,
            features,
            weights_mv,
        },
        stats,
    ))
}

/// An untrained readout (the initial random weights), for comparison.
pub fn untrained(p: &RstdpParams, features: usize) -> Result<Readout, LearnError> {
    p.validate()?;
    let (sim, first) = build(p, features, vec![Vec::new(); features], None, true)?;
    let nd = p.neurons();
    let mut weights_mv = vec![0f32; features * nd];
    for s in sim.plastic_weights(0).unwrap_or_default() {
        weights_mv[s.source as usize * nd + (s.target - first) as usize] = s.weight as f32;
    }
    Ok(Readout {
        params: *p,
        features,
        weights_mv,
    })
}

/// Classifies the recorded feature `responses` to `data` with a frozen readout, on `threads`
/// threads (chunks of presentations, each its own simulation; the result does not depend on
/// the thread count). Also returns each sample's decision.
pub fn evaluate(
    readout: &Readout,
    responses: &Responses,
    data: &Dataset,
    threads: usize,
) -> Result<(ReadoutStats, Vec<Option<usize>>), LearnError> {
    readout.check().map_err(LearnError::Config)?;
    let start = Instant::now();
    let p = &readout.params;
    let (present, period) = period(p)?;
    let n = data.len().min(responses.spikes.len());
    let chunk = n.div_ceil(threads.max(1)).max(1);
    let run = |lo: usize, hi: usize| -> Result<(Vec<Option<usize>>, u64, u64), LearnError> {
        let spikes: Vec<&[(Tick, u32)]> =
            (lo..hi).map(|i| responses.spikes[i].as_slice()).collect();
        let trains = replay(readout.features, &spikes, period);
        let (mut sim, first) = build(
            p,
            readout.features,
            trains,
            Some(&readout.weights_mv),
            false,
        )?;
        let mut sink = OutputCounts::new(first, p.neurons());
        let mut out = Vec::with_capacity(hi - lo);
        for j in 0..hi - lo {
            let t0 = Tick(period.0 * j as i64);
            sink.reset();
            sim.run_until(
                t0 + present + Tick::from_ms(1.0).unwrap_or(Tick::ONE),
                &mut sink,
            )?;
            out.push(decision(&sink, p));
            sim.run_until(t0 + period, &mut sink)?;
        }
        let c = sim.counters();
        Ok((out, c.iter().map(|c| c.synaptic_events).sum(), c[1].spikes))
    };
    let chunks = super::chunk_ranges(n, chunk);
    let parts = super::run_chunks(&chunks, threads, &run, &|_, _| {})?;
    let mut stats = ReadoutStats {
        presentations: n,
        ..ReadoutStats::default()
    };
    let mut decisions = Vec::with_capacity(n);
    for (d, syn, sp) in parts {
        decisions.extend(d);
        stats.synaptic_events += syn;
        stats.decision_spikes += sp;
    }
    for (d, &l) in decisions.iter().zip(&data.labels) {
        stats.correct += (*d == Some(l as usize)) as usize;
        stats.silent += d.is_none() as usize;
    }
    stats.wall = start.elapsed();
    Ok((stats, decisions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reward_and_credit_parse_and_bad_values_are_named() {
        assert_eq!("adaptive".parse(), Ok(RewardScale::Adaptive));
        assert_eq!(
            " 0.7, -0.3".trim().parse(),
            Ok(RewardScale::Fixed {
                right: 0.7,
                wrong: -0.3
            })
        );
        for bad in ["2,1", "-1,-1", "0.7", "a,b", "inf,-1"] {
            let e = bad.parse::<RewardScale>().unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
        assert_eq!("per-neuron".parse(), Ok(Credit::PerNeuron));
        assert_eq!("decided".parse(), Ok(Credit::Decided));
        assert_eq!("global".parse(), Ok(Credit::Global));
        assert!("winner".parse::<Credit>().unwrap_err().contains("winner"));
    }

    #[test]
    fn rewards_scale_as_defined() {
        let a = RewardScale::Adaptive;
        assert_eq!(a.amount(true, 0.25), 0.75);
        assert_eq!(a.amount(false, 0.25), -0.25);
        let f = RewardScale::Fixed {
            right: 0.7,
            wrong: -0.3,
        };
        assert_eq!(f.amount(true, 0.9), 0.7);
        assert_eq!(f.amount(false, 0.9), -0.3);
        let p = RstdpParams {
            reward: RewardScale::Fixed {
                right: -1.0,
                wrong: -0.3,
            },
            ..RstdpParams::default()
        };
        assert!(
            p.validate().is_err(),
            "a negative reward for a right action"
        );
    }
}
