//! A clock-driven reference simulator: the oracle the event-driven engine is tested against.
//!
//! Owns: nothing the engine uses. It is deliberately simple and slow: every neuron is stepped
//! on a fixed grid of `step` ticks, state is `f64`, each step applies *all* inputs of its time
//! point and only then tests every neuron's threshold, in neuron-id order, with the
//! refractoriness rules of `docs/semantics.md`. No queues per block, no windows, no predicted
//! crossings, no rescaled state.
//!
//! Time points are the grid points `k · step`, plus the arrival ticks of spikes, generator
//! spikes and DC steps that fall between them (so off-grid events are applied at their own
//! tick). A model that can cross threshold *between* time points (a drive, exponential
//! currents) is examined on each step: if its potential is at or above threshold at the end
//! of the step, or rises to a maximum inside it, the first tick at or above threshold is
//! located by bisection over ticks and becomes a time point of its own. This assumes at most
//! one extremum of `V` per step: use a step well below the model's time constants.
//!
//! At each time point `t`, in order: every neuron is advanced to `t` in closed form over the
//! step (held at `v_reset` while refractory); DC steps at `t` change the bias; every spike
//! arriving at `t` is applied in the canonical order (source id, delay, synapse): delta models
//! discard it while refractory, `lif_exp` adds it to its currents; then every neuron is tested, in id order: a generator fires if `t` is one of
//! its times, a neuron fires if it is not refractory and `V ≥ v_th`; a spike at `t` resets `V`
//! to `v_reset` and makes the neuron refractory in `[t, t + t_ref)`, and each of its synapses
//! schedules an arrival at `t + delay`.
//!
//! Ambiguity: the engine keeps rescaled state (`lif_delta`) and evaluates closed forms in a
//! different order and with a fast `exp`, so a decision taken with `V` within rounding distance of `v_th` may go either way.
//! The reference reports the first such decision (`|V - v_th| < ambiguity_mv`) so that a
//! comparison can stop there; outputs before it are unaffected.
//!
//! Supported: `lif_delta`, `lif_exp`, `iaf_nonleaky`, `spike_times` and `regular` populations,
//! DC drives. Random sources (Poisson drives and generators) and `lif_adaptive` are refused.

use crate::engine::Simulation;
use crate::network::{DriveKind, Network, NeuronKind};
use crate::neuron::LifParams;
use crate::neuron::iaf::{IafParams, IafReset};
use crate::neuron::lif_exp::ExpSynParams;
use crate::time::Tick;
use crate::{NeuronId, Spike};
use std::collections::BTreeMap;

/// How the reference steps and what it calls ambiguous.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReferenceOptions {
    /// Grid step (at least one tick).
    pub step: Tick,
    /// A threshold decision of a delta-synapse model (`lif_delta`, `iaf_nonleaky` with a
    /// bias) with `|V - v_th|` below this \[mV\] is reported as ambiguous (0 disables).
    /// Decisions of `iaf_nonleaky` without bias are exact sums and never ambiguous.
    pub ambiguity_delta_mv: f64,
    /// The same for `lif_exp` (whose engine state is `f64`: use a much smaller value).
    pub ambiguity_exp_mv: f64,
}

impl ReferenceOptions {
    /// A grid of `step` with the ambiguity distance the property tests use, 1e-9 mV for both
    /// families (the engine's state is `f64`; its rounding errors near a 20 mV threshold are
    /// ~1e-14 mV). Raise `ambiguity_delta_mv` to ~1e-4 mV for an engine with `f32` state.
    pub fn with_step(step: Tick) -> Self {
        ReferenceOptions {
            step,
            ambiguity_delta_mv: 1e-9,
            ambiguity_exp_mv: 1e-9,
        }
    }
}

/// A threshold decision too close to call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ambiguity {
    /// When.
    pub tick: Tick,
    /// Which neuron.
    pub neuron: NeuronId,
    /// `V - v_th` at the decision \[mV\].
    pub distance_mv: f64,
}

/// What the reference produced.
#[derive(Clone, Debug, PartialEq)]
pub struct ReferenceRun {
    /// Spikes sorted by (tick, neuron).
    pub spikes: Vec<Spike>,
    /// Synaptic events delivered before the end (including those discarded by refractory
    /// neurons), as the engine counts them.
    pub synaptic_events: u64,
    /// The first ambiguous decision, if any. Spikes before its tick are unaffected by it.
    pub ambiguity: Option<Ambiguity>,
    /// Time points visited (a cost figure).
    pub time_points: u64,
}

impl ReferenceRun {
    /// The tick up to which (exclusive) the spikes are certain: the first ambiguity, or `t_end`.
    pub fn certain_until(&self, t_end: Tick) -> Tick {
        self.ambiguity.map_or(t_end, |a| a.tick.min(t_end))
    }
}

/// Why the reference cannot simulate a network.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The network uses something the reference does not model.
    #[error("the reference simulator does not support {0}")]
    Unsupported(String),
    /// Bad arguments.
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Debug)]
enum Model {
    Delta(LifParams),
    Exp(LifParams, ExpSynParams),
    NonLeaky(IafParams),
    Generator,
}

#[derive(Clone, Copy, Debug)]
struct State {
    v: f64,
    i_ex: f64,
    i_in: f64,
}

#[derive(Clone, Debug)]
struct Neuron {
    pop: usize,
    s: State,
    bias: f64,
    ref_end: Tick,
    /// Generator spike times (sorted, deduplicated) and the next one.
    times: Vec<Tick>,
    next_time: usize,
}

/// The initial membrane potential of every neuron of a freshly created simulation (0 for
/// generators): the values the reference should start from, as the engine stores them.
pub fn initial_potentials(sim: &Simulation) -> Vec<f64> {
    (0..sim.network().num_neurons())
        .map(|n| sim.potential_mv(n))
        .collect()
}

/// Simulates `net` on `[0, t_end)` from the potentials `v_init` (one per neuron).
pub fn simulate(
    net: &Network,
    v_init: &[f64],
    opts: &ReferenceOptions,
    t_end: Tick,
) -> Result<ReferenceRun, ReferenceError> {
    if opts.step < Tick::ONE {
        return Err(ReferenceError::Invalid(
            "step must be at least one tick".into(),
        ));
    }
    let n = net.num_neurons() as usize;
    if v_init.len() != n {
        return Err(ReferenceError::Invalid(format!(
            "{} initial potentials for {n} neurons",
            v_init.len()
        )));
    }
    let mut models = Vec::new();
    let mut neurons = Vec::with_capacity(n);
    for (p, def) in net.def.populations.iter().enumerate() {
        let model = match &def.kind {
            NeuronKind::LifDelta(lp) => Model::Delta(*lp),
            NeuronKind::LifExp(lp, sp) => Model::Exp(*lp, *sp),
            NeuronKind::NonLeakyIaf(ip) if ip.reset == IafReset::ToValue => Model::NonLeaky(*ip),
            NeuronKind::SpikeTimes(_) | NeuronKind::Regular { .. } => Model::Generator,
            other => {
                return Err(ReferenceError::Unsupported(format!(
                    "population `{}` ({})",
                    def.name,
                    other.model_name()
                )));
            }
        };
        let bias = match def.bias {
            crate::network::Dist::Const(b) => b,
            _ if model_is_generator(&model) => 0.0,
            d => {
                return Err(ReferenceError::Unsupported(format!(
                    "a random bias ({d:?}) in population `{}`",
                    def.name
                )));
            }
        };
        for k in 0..def.size as usize {
            let times = match &def.kind {
                NeuronKind::SpikeTimes(lists) => {
                    let mut l: Vec<Tick> = lists
                        .get(k)
                        .map(|l| l.iter().copied().filter(|t| *t >= Tick::ZERO).collect())
                        .unwrap_or_default();
                    l.sort_unstable();
                    l.dedup();
                    l
                }
                &NeuronKind::Regular {
                    period,
                    start,
                    stop,
                } => {
                    let period = period.max(Tick::ONE);
                    let mut l = Vec::new();
                    let mut t = start;
                    while t < stop && t < t_end {
                        l.push(t);
                        t = t.saturating_add(period);
                    }
                    l
                }
                _ => Vec::new(),
            };
            let id = neurons.len();
            neurons.push(Neuron {
                pop: p,
                s: State {
                    v: if model_is_generator(&model) {
                        0.0
                    } else {
                        v_init[id]
                    },
                    i_ex: 0.0,
                    i_in: 0.0,
                },
                bias,
                ref_end: Tick(i64::MIN),
                times,
                next_time: 0,
            });
        }
        models.push(model);
    }
    // DC steps: (tick, population, change).
    let mut dc: Vec<(Tick, usize, f64)> = Vec::new();
    for d in &net.def.drives {
        match d.kind {
            DriveKind::Dc { amplitude } => {
                dc.push((d.start, d.target, amplitude));
                if d.stop != Tick::MAX {
                    dc.push((d.stop, d.target, -amplitude));
                }
            }
            DriveKind::Poisson { .. } => {
                return Err(ReferenceError::Unsupported("Poisson drives".into()));
            }
        }
    }
    dc.sort_by_key(|d| d.0);
    // Outgoing synapses per neuron: (target, weight, delay).
    let mut out: Vec<Vec<(u32, f64, Tick)>> = vec![Vec::new(); n];
    for (s, t, w, d) in net.connectivity.synapses() {
        out[s as usize].push((t, w as f64, d));
    }
    let mut r = Ref {
        models,
        neurons,
        eps_delta: opts.ambiguity_delta_mv,
        eps_exp: opts.ambiguity_exp_mv,
        ambiguity: None,
    };
    // Arrivals: tick -> (source, delay, target, weight). All are applied before the threshold;
    // they are summed in the documented canonical order (source, delay group, then the
    // synapse order of the row), which only matters for floating-point rounding.
    let mut arrivals: BTreeMap<Tick, Vec<(u32, Tick, u32, f64)>> = BTreeMap::new();
    let mut spikes = Vec::new();
    let mut synaptic_events = 0u64;
    let mut time_points = 0u64;
    let mut dc_next = 0;
    let mut t = Tick::ZERO;
    while t < t_end {
        time_points += 1;
        // 1. Advance every neuron to t (they all sit at the previous time point).
        // (Done at the end of the previous iteration; at t = 0 nothing to do.)
        // 2. DC steps at t.
        while let Some(&(td, p, a)) = dc.get(dc_next) {
            if td > t {
                break;
            }
            for nr in r.neurons.iter_mut().filter(|nr| nr.pop == p) {
                nr.bias += a;
            }
            dc_next += 1;
        }
        // 3. Every input arriving at t.
        if let Some(mut list) = arrivals.remove(&t) {
            list.sort_by_key(|&(source, delay, _, _)| (source, delay)); // stable
            for (_, _, target, w) in list {
                synaptic_events += 1;
                r.receive(target as usize, t, w);
            }
        }
        // 4. Threshold, in neuron-id order.
        for (i, out_i) in out.iter().enumerate() {
            if r.decide(i, t) {
                spikes.push(Spike {
                    tick: t,
                    neuron: i as NeuronId,
                });
                for &(target, w, d) in out_i {
                    let a = t.saturating_add(d);
                    if a < t_end {
                        arrivals
                            .entry(a)
                            .or_default()
                            .push((i as u32, d, target, w));
                    }
                }
            }
        }
        // Next time point: the next grid point, arrival, generator spike, DC step or
        // located threshold crossing, whichever is first.
        let step = opts.step.0;
        let mut next = Tick((t.0.div_euclid(step) + 1).saturating_mul(step));
        if let Some((&ta, _)) = arrivals.iter().next() {
            next = next.min(ta);
        }
        if let Some(&(td, _, _)) = dc.get(dc_next) {
            next = next.min(td);
        }
        for nr in &r.neurons {
            if let Some(&tg) = nr.times.get(nr.next_time) {
                next = next.min(tg);
            }
        }
        for i in 0..r.neurons.len() {
            if let Some(tc) = r.first_crossing(i, t, next) {
                next = next.min(tc);
            }
        }
        let next = next.min(t_end);
        for i in 0..r.neurons.len() {
            r.neurons[i].s = r.state_at(i, t, next);
        }
        t = next;
    }
    Ok(ReferenceRun {
        spikes,
        synaptic_events,
        ambiguity: r.ambiguity,
        time_points,
    })
}

fn model_is_generator(m: &Model) -> bool {
    matches!(m, Model::Generator)
}

struct Ref {
    models: Vec<Model>,
    neurons: Vec<Neuron>,
    eps_delta: f64,
    eps_exp: f64,
    ambiguity: Option<Ambiguity>,
}

impl Ref {
    fn model(&self, i: usize) -> &Model {
        &self.models[self.neurons[i].pop]
    }

    fn threshold(&self, i: usize) -> f64 {
        match self.model(i) {
            Model::Delta(p) | Model::Exp(p, _) => p.v_th_mv,
            Model::NonLeaky(p) => p.v_th_mv,
            Model::Generator => f64::INFINITY,
        }
    }

    fn reset_and_ref(&self, i: usize) -> (f64, Tick) {
        match self.model(i) {
            Model::Delta(p) | Model::Exp(p, _) => (p.v_reset_mv, p.t_ref),
            Model::NonLeaky(p) => (p.v_reset_mv, p.t_ref),
            Model::Generator => (0.0, Tick::ZERO),
        }
    }

    /// Notes a decision taken at distance `d = V - v_th` if it is too close to call.
    fn note(&mut self, i: usize, t: Tick, d: f64) {
        let eps = match self.model(i) {
            Model::NonLeaky(_) if self.neurons[i].bias == 0.0 => 0.0,
            Model::Exp(..) => self.eps_exp,
            _ => self.eps_delta,
        };
        if d.abs() < eps && self.ambiguity.is_none_or(|a| t < a.tick) {
            self.ambiguity = Some(Ambiguity {
                tick: t,
                neuron: i as NeuronId,
                distance_mv: d,
            });
        }
    }

    /// The state of neuron `i`, now at `from`, advanced in closed form to `to >= from`.
    fn state_at(&self, i: usize, from: Tick, to: Tick) -> State {
        let nr = &self.neurons[i];
        let mut s = nr.s;
        let mut from = from;
        if to <= from {
            return s;
        }
        let (v_reset, _) = self.reset_and_ref(i);
        let decay_currents = |s: &mut State, h_ms: f64, syn: &ExpSynParams| {
            s.i_ex *= (-h_ms / syn.tau_syn_ex_ms).exp();
            s.i_in *= (-h_ms / syn.tau_syn_in_ms).exp();
        };
        if from < nr.ref_end {
            // Refractory: V is held at v_reset; currents keep decaying.
            let until = to.min(nr.ref_end);
            if let Model::Exp(_, syn) = self.model(i) {
                decay_currents(&mut s, (until - from).as_ms(), syn);
            }
            s.v = v_reset;
            from = until;
            if to <= from {
                return s;
            }
        }
        let h = (to - from).as_ms();
        match self.model(i) {
            Model::Delta(p) => {
                let v_inf = p.v_rest_mv + nr.bias;
                s.v = v_inf + (s.v - v_inf) * (-h / p.tau_m_ms).exp();
            }
            Model::Exp(p, syn) => {
                let (tm, te, ti) = (p.tau_m_ms, syn.tau_syn_ex_ms, syn.tau_syn_in_ms);
                let v_inf = p.v_rest_mv + nr.bias;
                // Exact solution of the linear system over h (Rotter & Diesmann 1999).
                let pe = te / (te - tm) * ((-h / te).exp() - (-h / tm).exp());
                let pi = ti / (ti - tm) * ((-h / ti).exp() - (-h / tm).exp());
                s.v = v_inf + (s.v - v_inf) * (-h / tm).exp() + s.i_ex * pe + s.i_in * pi;
                decay_currents(&mut s, h, syn);
            }
            Model::NonLeaky(_) => s.v += nr.bias * h,
            Model::Generator => {}
        }
        s
    }

    /// `dV/dt` of neuron `i` in state `s` (not refractory) \[mV/ms\].
    fn slope(&self, i: usize, s: &State) -> f64 {
        let bias = self.neurons[i].bias;
        match self.model(i) {
            Model::Delta(p) => (p.v_rest_mv + bias - s.v) / p.tau_m_ms,
            Model::Exp(p, _) => (p.v_rest_mv + bias - s.v + s.i_ex + s.i_in) / p.tau_m_ms,
            Model::NonLeaky(_) => bias,
            Model::Generator => 0.0,
        }
    }

    fn receive(&mut self, i: usize, t: Tick, w: f64) {
        let nr = &mut self.neurons[i];
        match self.models[nr.pop] {
            Model::Exp(..) => {
                if w >= 0.0 {
                    nr.s.i_ex += w
                } else {
                    nr.s.i_in += w
                }
            }
            Model::Delta(_) | Model::NonLeaky(_) => {
                if t >= nr.ref_end {
                    nr.s.v += w;
                }
            }
            Model::Generator => {}
        }
    }

    /// The threshold test of neuron `i` at `t`; fires (reset, refractoriness) if it passes.
    fn decide(&mut self, i: usize, t: Tick) -> bool {
        if let Model::Generator = self.model(i) {
            let nr = &mut self.neurons[i];
            if nr.times.get(nr.next_time) == Some(&t) {
                nr.next_time += 1;
                return true;
            }
            return false;
        }
        if t < self.neurons[i].ref_end {
            return false;
        }
        let d = self.neurons[i].s.v - self.threshold(i);
        self.note(i, t, d);
        if d < 0.0 {
            return false;
        }
        let (v_reset, t_ref) = self.reset_and_ref(i);
        let nr = &mut self.neurons[i];
        nr.s.v = v_reset;
        nr.ref_end = t.saturating_add(t_ref);
        true
    }

    /// The first tick in `(t, next]` at which neuron `i` (now at `t`) reaches threshold without
    /// further input, assuming at most one extremum of `V` in the interval.
    fn first_crossing(&mut self, i: usize, t: Tick, next: Tick) -> Option<Tick> {
        if matches!(self.model(i), Model::Generator) {
            return None;
        }
        let th = self.threshold(i);
        let lo = (t + Tick::ONE).max(self.neurons[i].ref_end);
        if lo > next {
            return None;
        }
        let v = |r: &Ref, k: Tick| r.state_at(i, t, k).v;
        let above = |r: &Ref, k: Tick| v(r, k) >= th;
        // Where does V peak on [lo, next]? At an end, or at the tick where dV/dt turns
        // negative.
        let peak = if above(self, next) {
            next
        } else {
            let (s_lo, s_hi) = (self.state_at(i, t, lo), self.state_at(i, t, next));
            if self.slope(i, &s_lo) > 0.0 && self.slope(i, &s_hi) < 0.0 {
                // First tick with dV/dt <= 0: the peak is there or one tick before.
                let (mut a, mut b) = (lo, next);
                while a < b {
                    let m = Tick(a.0 + (b.0 - a.0) / 2);
                    if self.slope(i, &self.state_at(i, t, m)) <= 0.0 {
                        b = m;
                    } else {
                        a = m + Tick::ONE;
                    }
                }
                if a > lo && v(self, a - Tick::ONE) > v(self, a) {
                    a - Tick::ONE
                } else {
                    a
                }
            } else {
                lo
            }
        };
        let d_peak = v(self, peak) - th;
        if d_peak < 0.0 {
            self.note(i, peak, d_peak);
            return None;
        }
        // V < th before the first crossing and >= th from it to the peak: bisect.
        let (mut a, mut b) = (lo, peak);
        while a < b {
            let m = Tick(a.0 + (b.0 - a.0) / 2);
            if above(self, m) {
                b = m;
            } else {
                a = m + Tick::ONE;
            }
        }
        if a > lo {
            let before = v(self, a - Tick::ONE) - th;
            self.note(i, a - Tick::ONE, before);
        }
        Some(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{ConnectRule, Dist, NetworkBuilder};

    fn lif(t_ref_ms: f64) -> LifParams {
        LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: 0.0,
            v_reset_mv: 0.0,
            v_th_mv: 10.0,
            t_ref: Tick::from_ms(t_ref_ms).unwrap(),
        }
    }

    fn opts(step_ms: f64) -> ReferenceOptions {
        ReferenceOptions {
            step: Tick::from_ms(step_ms).unwrap(),
            ambiguity_delta_mv: 1e-9,
            ambiguity_exp_mv: 1e-9,
        }
    }

    #[test]
    fn delta_neuron_fires_at_input_and_discards_refractory_input() {
        let mut b = NetworkBuilder::new();
        let ms = |v: f64| Tick::from_ms(v).unwrap();
        let g = b.population(
            "g",
            1,
            NeuronKind::SpikeTimes(vec![vec![ms(1.0), ms(2.0), ms(3.0)]]),
        );
        let n = b.population("n", 1, NeuronKind::LifDelta(lif(1.5)));
        b.connect(
            g,
            n,
            ConnectRule::OneToOne,
            Dist::Const(12.0),
            Dist::Const(0.5),
        );
        let net = b.build(1).unwrap();
        let r = simulate(&net, &[0.0, 0.0], &opts(0.1), ms(10.0)).unwrap();
        let out: Vec<_> = r
            .spikes
            .iter()
            .filter(|s| s.neuron == 1)
            .map(|s| s.tick)
            .collect();
        // 1.5 fires; 2.5 is inside [1.5, 3.0) and discarded; 3.5 fires.
        assert_eq!(out, vec![ms(1.5), ms(3.5)]);
        assert_eq!(r.synaptic_events, 3);
        assert_eq!(r.ambiguity, None);
    }

    #[test]
    fn suprathreshold_bias_period_is_located_to_the_tick() {
        // V(t) = 30 (1 - e^{-t/10}) crosses 10 at 10 ln 1.5 ms; then every t_ref + that.
        let mut b = NetworkBuilder::new();
        let n = b.population("n", 1, NeuronKind::LifDelta(lif(0.0)));
        b.bias(n, Dist::Const(30.0));
        let net = b.build(1).unwrap();
        let r = simulate(&net, &[0.0], &opts(0.1), Tick::from_ms(10.0).unwrap()).unwrap();
        let period = Tick::ceil_from_ms(10.0 * 1.5f64.ln());
        assert_eq!(r.spikes.len(), 2);
        assert_eq!(r.spikes[0].tick, period);
        assert_eq!(r.spikes[1].tick, period + period);
    }
}
