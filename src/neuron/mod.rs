//! Neuron models: parameters, per-neuron state, closed-form advance and threshold prediction.
//!
//! Owns: the [`NeuronModel`] trait, the built-in models (one file each) and the root finder in
//! [`crossing`]. A model holds the state of one *block* of consecutive neurons of one
//! population as arrays (struct of arrays), so that a block can later move to another thread
//! as a unit. Must not touch: queues, connectivity, recording, files. A model never sees a
//! global clock: every call passes the tick it is about, and state is advanced lazily to it.
//!
//! Same-tick contract (see `docs/semantics.md`): the engine first calls [`NeuronModel::receive`]
//! for every input arriving at tick `t` (in canonical order), and only then
//! [`NeuronModel::check_threshold`] for each neuron the model reported as touched, in neuron
//! order.

pub mod crossing;
pub mod fast_exp;
pub mod generator;
pub mod iaf;
pub mod lif_adaptive;
pub mod lif_cond;
pub mod lif_delta;
pub mod lif_exp;

use crate::time::Tick;

pub use generator::{PoissonGenerator, RegularGenerator, ReplayGenerator, ReplayParams};
pub use iaf::NonLeakyIaf;
pub use lif_adaptive::LifAdaptive;
pub use lif_cond::LifCond;
pub use lif_delta::LifDelta;
pub use lif_exp::LifExp;

/// What a neuron will do next if no further input arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Crossing {
    /// It is at or above threshold now: it fires at this tick.
    Now,
    /// It does not reach threshold before this tick (strictly later than now), and the
    /// engine asks again then ([`NeuronModel::check_threshold`]). A model gives the exact tick
    /// of the crossing, or an earlier tick when that is much cheaper (`lif_delta` does, for a
    /// bound without a logarithm): asked again at that tick, it answers `Now` or a later `At`.
    At(Tick),
    /// It will not reach threshold without further input.
    Never,
}

/// Parameters shared by the leaky integrate-and-fire models. Potentials in mV, times in ms
/// or ticks as the name says.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LifParams {
    /// Membrane time constant \[ms\].
    pub tau_m_ms: f64,
    /// Resting potential \[mV\].
    pub v_rest_mv: f64,
    /// Potential after a spike \[mV\].
    pub v_reset_mv: f64,
    /// Firing threshold \[mV\].
    pub v_th_mv: f64,
    /// Absolute refractory period.
    pub t_ref: Tick,
}

/// Why a set of neuron parameters was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParamError {
    /// A time constant that must be positive is not.
    #[error("{name} must be a positive time, got {value} ms")]
    NonPositiveTime {
        /// Parameter name as in model files.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A parameter is NaN or infinite.
    #[error("{name} must be finite, got {value}")]
    NotFinite {
        /// Parameter name as in model files.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The reset potential is not below the threshold.
    #[error("v_reset ({v_reset_mv} mV) must be below v_th ({v_th_mv} mV)")]
    ResetNotBelowThreshold {
        /// Reset potential \[mV\].
        v_reset_mv: f64,
        /// Threshold \[mV\].
        v_th_mv: f64,
    },
    /// A negative refractory period.
    #[error("t_ref must not be negative, got {0}")]
    NegativeRefractory(Tick),
    /// A refractory period so long relative to tau_m that the rescaled state would overflow.
    #[error("t_ref ({t_ref}) longer than 60 tau_m ({tau_m_ms} ms) is not supported")]
    RefractoryTooLong {
        /// The refractory period.
        t_ref: Tick,
        /// The membrane time constant \[ms\].
        tau_m_ms: f64,
    },
    /// A synaptic time constant equal to the membrane time constant (the closed form used
    /// here divides by their difference).
    #[error("{name} ({tau_syn_ms} ms) must differ from tau_m ({tau_m_ms} ms)")]
    TauSynEqualsTauM {
        /// Parameter name as in model files.
        name: &'static str,
        /// The synaptic time constant \[ms\].
        tau_syn_ms: f64,
        /// The membrane time constant \[ms\].
        tau_m_ms: f64,
    },
}

/// `Ok` if `value` is finite, else [`ParamError::NotFinite`] naming the parameter.
pub fn check_finite(name: &'static str, value: f64) -> Result<(), ParamError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(ParamError::NotFinite { name, value })
    }
}

/// `Ok` if `value` is a finite positive time \[ms\], else an error naming the parameter.
pub fn check_positive_ms(name: &'static str, value: f64) -> Result<(), ParamError> {
    check_finite(name, value)?;
    if value > 0.0 {
        Ok(())
    } else {
        Err(ParamError::NonPositiveTime { name, value })
    }
}

impl LifParams {
    /// Checks the parameters: positive tau_m, finite potentials, reset below threshold,
    /// non-negative refractory period.
    pub fn validate(&self) -> Result<(), ParamError> {
        check_positive_ms("tau_m", self.tau_m_ms)?;
        check_finite("v_rest", self.v_rest_mv)?;
        check_reset_threshold_refractory(self.v_reset_mv, self.v_th_mv, self.t_ref)
    }
}

/// The checks every integrate-and-fire model shares: finite reset and threshold, reset below
/// threshold, non-negative refractory period.
pub fn check_reset_threshold_refractory(
    v_reset_mv: f64,
    v_th_mv: f64,
    t_ref: Tick,
) -> Result<(), ParamError> {
    check_finite("v_reset", v_reset_mv)?;
    check_finite("v_th", v_th_mv)?;
    if v_reset_mv >= v_th_mv {
        return Err(ParamError::ResetNotBelowThreshold {
            v_reset_mv,
            v_th_mv,
        });
    }
    if t_ref < Tick::ZERO {
        return Err(ParamError::NegativeRefractory(t_ref));
    }
    Ok(())
}

/// The weights of a run of inputs: one shared by all, or one each.
#[derive(Clone, Copy, Debug)]
pub enum Weights<'a> {
    /// Every input has this weight.
    Same(f32),
    /// Input `k` has weight `[k]` (as many as inputs).
    Each(&'a [f32]),
}

/// The operations the engine needs from a block of neurons of one model.
///
/// Indices `i` are local to the block (`0..len()`). Every method receives the tick it is
/// about; calls arrive with non-decreasing ticks.
pub trait NeuronModel: Send + std::fmt::Debug {
    /// Number of neurons in the block.
    fn len(&self) -> usize;

    /// True if the block holds no neurons.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether synapses may target this model (generators accept no input).
    fn accepts_input(&self) -> bool {
        true
    }

    /// Applies inputs arriving at tick `t`: `weights[k]` to neuron `targets[k] - first`.
    /// Pushes onto `touched` every neuron whose threshold or prediction must be re-examined at
    /// `t` (duplicates allowed). Inputs during refractoriness follow the model's rule.
    fn receive(
        &mut self,
        t: Tick,
        first: u32,
        targets: &[u32],
        weights: &[f32],
        touched: &mut Vec<u32>,
    );

    /// [`receive`] in the engine's compact form: input `k` goes to local neuron `local[k]`
    /// with its weight from `weights`. Models override it to read less memory (it carries
    /// all recurrent input); the default converts chunks of inputs and calls [`receive`].
    ///
    /// [`receive`]: NeuronModel::receive
    fn receive_local(
        &mut self,
        t: Tick,
        local: &[u16],
        weights: Weights<'_>,
        touched: &mut Vec<u32>,
    ) {
        const CHUNK: usize = 64;
        let (mut targets, mut same) = ([0u32; CHUNK], [0f32; CHUNK]);
        for (c, part) in local.chunks(CHUNK).enumerate() {
            let n = part.len();
            for (d, &s) in targets.iter_mut().zip(part) {
                *d = u32::from(s);
            }
            let w = match weights {
                Weights::Same(w) => {
                    same[..n].fill(w);
                    &same[..n]
                }
                Weights::Each(ws) => &ws[c * CHUNK..c * CHUNK + n],
            };
            self.receive(t, 0, &targets[..n], w, touched);
        }
    }

    /// One input of `weight` to local neuron `i` at tick `t`: the same as [`receive`] with
    /// one-element slices and `first = 0`. Models override it when a single input can be
    /// applied more cheaply (it is called once per external drive event).
    ///
    /// [`receive`]: NeuronModel::receive
    #[inline]
    fn receive_one(&mut self, t: Tick, i: u32, weight: f32, touched: &mut Vec<u32>) {
        self.receive(t, 0, &[i], &[weight], touched);
    }

    /// A run of single inputs of equal `weight` in time order (`ticks` non-decreasing,
    /// not empty): `targets[k]` receives one at `ticks[k]`, as by [`receive_one`]. Stops
    /// after the first tick at which a neuron was pushed onto `touched` (empty on entry), so
    /// that the caller can run that tick's threshold phase, and returns how many inputs it
    /// applied (all of them if none touched). Models override it to compute the per-input
    /// work of a whole run at once (it carries the external drive).
    ///
    /// [`receive_one`]: NeuronModel::receive_one
    #[inline]
    fn receive_run(
        &mut self,
        ticks: &[Tick],
        targets: &[u32],
        weight: f32,
        touched: &mut Vec<u32>,
    ) -> usize {
        let mut k = 0;
        while k < ticks.len() {
            let t = ticks[k];
            while k < ticks.len() && ticks[k] == t {
                self.receive_one(t, targets[k], weight, touched);
                k += 1;
            }
            if !touched.is_empty() {
                break;
            }
        }
        k
    }

    /// Threshold phase at `t` for neuron `i`, after all of `t`'s inputs: fire now, or when.
    fn check_threshold(&mut self, i: u32, t: Tick) -> Crossing;

    /// Neuron `i` fires at `t`: reset, refractoriness, adaptation. Returns its next crossing.
    fn fire(&mut self, i: u32, t: Tick) -> Crossing;

    /// Adds `delta` to the constant drive of every neuron in the block from tick `t` on
    /// (a step of a DC source), pushing every neuron onto `touched`.
    fn add_bias(&mut self, t: Tick, delta: f64, touched: &mut Vec<u32>);

    /// The membrane potential of neuron `i` at tick `t` \[mV\], without changing state (for
    /// probes and tests). Generators report 0.
    fn potential_mv(&self, i: u32, t: Tick) -> f64;
}

/// The built-in models behind one enum, so the hot loop dispatches once per batch of inputs,
/// plus a boxed slot for users' own models.
#[derive(Debug)]
#[non_exhaustive]
pub enum ModelBlock {
    /// See [`LifDelta`].
    LifDelta(LifDelta),
    /// See [`LifExp`].
    LifExp(LifExp),
    /// See [`NonLeakyIaf`].
    NonLeakyIaf(NonLeakyIaf),
    /// See [`LifAdaptive`].
    LifAdaptive(LifAdaptive),
    /// See [`LifCond`].
    LifCond(LifCond),
    /// See [`RegularGenerator`].
    Regular(RegularGenerator),
    /// See [`PoissonGenerator`].
    Poisson(PoissonGenerator),
    /// See [`ReplayGenerator`].
    Replay(ReplayGenerator),
    /// A user-supplied model.
    Custom(Box<dyn NeuronModel>),
}

macro_rules! dispatch {
    ($self:expr, $m:ident => $body:expr) => {
        match $self {
            ModelBlock::LifDelta($m) => $body,
            ModelBlock::LifExp($m) => $body,
            ModelBlock::NonLeakyIaf($m) => $body,
            ModelBlock::LifAdaptive($m) => $body,
            ModelBlock::LifCond($m) => $body,
            ModelBlock::Regular($m) => $body,
            ModelBlock::Poisson($m) => $body,
            ModelBlock::Replay($m) => $body,
            ModelBlock::Custom($m) => $body,
        }
    };
}

impl ModelBlock {
    /// Prefetches the state that inputs to the `local` neurons will touch (`lif_delta` only;
    /// other models ignore it).
    #[inline]
    pub(crate) fn prefetch_inputs(&self, local: &[u16]) {
        if let ModelBlock::LifDelta(m) = self {
            m.prefetch_inputs(local);
        }
    }
}

impl NeuronModel for ModelBlock {
    fn len(&self) -> usize {
        dispatch!(self, m => m.len())
    }
    fn accepts_input(&self) -> bool {
        dispatch!(self, m => m.accepts_input())
    }
    #[inline]
    fn receive(
        &mut self,
        t: Tick,
        first: u32,
        targets: &[u32],
        weights: &[f32],
        touched: &mut Vec<u32>,
    ) {
        dispatch!(self, m => m.receive(t, first, targets, weights, touched))
    }
    #[inline]
    fn receive_local(
        &mut self,
        t: Tick,
        local: &[u16],
        weights: Weights<'_>,
        touched: &mut Vec<u32>,
    ) {
        dispatch!(self, m => m.receive_local(t, local, weights, touched))
    }
    #[inline]
    fn receive_one(&mut self, t: Tick, i: u32, weight: f32, touched: &mut Vec<u32>) {
        dispatch!(self, m => m.receive_one(t, i, weight, touched))
    }
    #[inline]
    fn receive_run(
        &mut self,
        ticks: &[Tick],
        targets: &[u32],
        weight: f32,
        touched: &mut Vec<u32>,
    ) -> usize {
        dispatch!(self, m => m.receive_run(ticks, targets, weight, touched))
    }
    fn check_threshold(&mut self, i: u32, t: Tick) -> Crossing {
        dispatch!(self, m => m.check_threshold(i, t))
    }
    fn fire(&mut self, i: u32, t: Tick) -> Crossing {
        dispatch!(self, m => m.fire(i, t))
    }
    fn add_bias(&mut self, t: Tick, delta: f64, touched: &mut Vec<u32>) {
        dispatch!(self, m => m.add_bias(t, delta, touched))
    }
    fn potential_mv(&self, i: u32, t: Tick) -> f64 {
        dispatch!(self, m => m.potential_mv(i, t))
    }
}

/// Milliseconds between two ticks, as f64.
#[inline]
pub(crate) fn ms_between(from: Tick, to: Tick) -> f64 {
    (to - from).as_ms()
}
