//! Time-to-first-spike networks trained with exact spike-time gradients (H. Mostafa,
//! "Supervised learning based on temporal coding in spiking neural networks", IEEE TNNLS 2018,
//! arXiv 1606.08165).
//!
//! Owns: the closed-form spike times of layered networks of non-leaky integrate-and-fire
//! neurons with exponentially decaying synaptic currents ([`first_spike`], [`TtfsNet::forward`]),
//! their exact gradients ([`TtfsNet::sample_gradient`]), mini-batch training with Adam
//! ([`train`]), classification with its cost ([`evaluate`]) and the trained network
//! ([`TtfsNet`], saved as [`TtfsModel`] through [`super::model`]). Must not touch: the engine
//! (these networks are computed in closed form, spike by spike in time order, not simulated:
//! the gradient needs exact, unrounded spike times, and the engine has no non-leaky
//! exponential-current neuron); printing (progress goes to callbacks).
//!
//! # The neuron
//! After input spikes at `t_i` with weights `w_i`, the potential is
//! `V(t) = Σ_{t_i < t} w_i (1 − exp(−(t − t_i)/τ))`, threshold `θ` = [`THRESHOLD`] = 1
//! (weights are in units of the threshold), and a neuron fires at most once, at its first
//! crossing. In `z = exp(t/τ)` the potential between two inputs is `W − B/z` with
//! `W = Σ w_i`, `B = Σ w_i z_i` over the inputs so far, so the crossing is
//! `z_out = B / (W − θ)`, valid when `W > θ` and `z_out` lies before the next input. The
//! inputs that count (the causal set `C`) are therefore the shortest time-ordered prefix for
//! which that holds; a neuron with no such prefix never fires (`z = ∞`).
//!
//! # Gradients
//! For `i ∈ C`, `∂z_out/∂w_i = (z_i − z_out)/(W_C − θ)` and `∂z_out/∂z_i = w_i/(W_C − θ)`,
//! zero otherwise. [`TtfsNet::sample_gradient`] propagates `∂L/∂z` from the output layer
//! back layer by layer (reverse mode, one sample at a time). The loss is piecewise smooth:
//! it has no derivative where a causal set, the order of a layer's spikes, or whether a neuron
//! fires changes; elsewhere these gradients are exact (checked against finite differences in
//! `tests/it/ttfs_grad.rs`).
//!
//! # Loss
//! Cross-entropy of the softmax over `−z` of the output layer (Mostafa's eq.), plus
//! `K · Σ_neurons max(0, θ − Σ_i w_i)` over each neuron's input weights, Mostafa's penalty
//! against neurons whose weights can no longer reach the threshold
//! ([`PenaltyOver::AllInputs`], the default). The option [`PenaltyOver::ArrivedInputs`] sums
//! only the weights of the inputs that spiked in the sample (the neuron's potential as
//! `t → ∞`; a neuron whose arrived weights exceed `θ` always fires), so a neuron pays on
//! every sample on which it cannot fire; it makes every hidden neuron fire on every image and
//! did worse on a validation split of MNIST-10k (784-340-10, 20 epochs: 89.9% against 92.1%
//! and 92.0% over two seeds).
//!
//! Output neurons that fire, however late, enter the softmax with their exact `z`; those
//! that never fire have probability 0 (`z = ∞`), except the correct one, whose loss would be
//! infinite: it enters as firing at [`LossParams::t_silent_ms`], a constant, with zero
//! gradient (the others are then pushed later, and the penalty pushes the silent one to fire
//! if its weights sum below `θ`). Two variants were tried first and dropped: clamping every
//! output later than `t_silent` to it with zero gradient left no gradient at all once every
//! output fired late (Yin-Yang with 30 hidden neurons stuck at chance); letting a silent
//! correct neuron stand in at the last output spike (so that it always counts as latest) gave
//! that last neuron the correct neuron's gradient, pushing a wrong class earlier (the same
//! small networks stayed near chance on 3 of 6 seeds; with the constant, all 6 learned). The
//! decision is the first output spike whenever it comes; no output spike is no decision.
//!
//! The batch-mean gradient is clipped per layer to Frobenius norm
//! [`TtfsConfig::max_grad_norm`] (Mostafa clips too: `1/(W_C − θ)` makes rare huge gradients
//! when a neuron barely reaches the threshold).
//!
//! # Initialisation
//! Weights of layer `l` are normal with mean `μ = m·θ/n` and standard deviation
//! `σ = s·θ/√n` ([`InitParams`]: `m` = 2, `s` = 1), where `n` is the number of inputs
//! expected to spike: the mean input spike count per training sample for the first layer
//! (about 150 of 784 MNIST pixels, all 5 Yin-Yang inputs), the previous layer's size for the
//! others. A neuron's arrived weight sum then starts near `N(2θ, θ²)`, so about 84% of
//! neurons fire, at moderate times, with weights of both signs. (Larger, more varied weights
//! for the layers fed by hidden neurons, `m` = 8, `s` = 4, did no better on validation
//! splits of MNIST-10k and Yin-Yang.)
//!
//! # Inputs and time scales
//! [`InputCoding::Latency`]: a value `x` spikes at `(1 − x)·t_max`, zero never spikes
//! (`encode::latency` in continuous time). [`InputCoding::YinYang`]: `encode::YinYangTiming`'s
//! four coordinate spikes and the bias spike, in continuous time. Only `t/τ` matters (the
//! network in `z` is the same for any common time unit); the defaults are `τ` = 1 ms with
//! `t_max` = 1 ms for MNIST (input `z` in `[1, e]`: spike-time differences of the order of `τ`,
//! so that a few early inputs decide and outputs fire within a few `τ`) and Göltz et al.'s
//! Yin-Yang timing, given in units of `τ`, with `τ` = 1 ms.
//!
//! # Cost
//! Per classified sample ([`Evaluation`]): every spike of a layer (input or hidden) is
//! delivered to every neuron of the next layer, one accumulate each, whether or not that
//! neuron has fired already (what an event-driven simulator does with fire-once neurons that
//! it does not remove): `Σ_l spikes_{l−1}·n_l` synaptic operations for the whole run; the
//! same count restricted to spikes before the first output spike (what a run stopped at the
//! decision costs); spikes per layer; the dense ANN's multiply-accumulates `Σ_l n_{l−1}·n_l`;
//! the time of the first output spike.

use super::encode::YinYangTiming;
use super::optim::{Adam, AdamParams, GradientBuffers, batch_gradients};
use super::{Dataset, LearnError};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Firing threshold; weights are in units of it.
pub const THRESHOLD: f64 = 1.0;

/// Most hidden layers a network may have.
pub const MAX_HIDDEN_LAYERS: usize = 3;

/// How a sample's values become input spike times.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum InputCoding {
    /// One input per value: `x` in `[0, 1]` spikes at `(1 − x)·t_max_ms`, zero never
    /// (values are clamped into `[0, 1]`, NaN counts as 0); with `bias_ms`, one more input
    /// that spikes at that time in every sample (a learnable offset, as Yin-Yang's bias spike).
    Latency {
        /// The time of a value of 0+ \[ms\].
        t_max_ms: f64,
        /// The time of the bias spike \[ms\], if any.
        bias_ms: Option<f64>,
    },
    /// Yin-Yang samples `[x, y, 1 − x, 1 − y]`: one spike per coordinate at
    /// `t_early + x·(t_late − t_early)`, then a fifth input with the bias spike.
    YinYang(YinYangTiming),
}

impl InputCoding {
    /// Input neurons for samples of `values` values, or why they do not fit.
    pub fn inputs(&self, values: usize) -> Result<usize, LearnError> {
        match self {
            InputCoding::Latency { bias_ms, .. } => Ok(values + bias_ms.is_some() as usize),
            InputCoding::YinYang(_) if values == 4 => Ok(5),
            InputCoding::YinYang(_) => Err(LearnError::InputSize {
                network: 4,
                data: values,
            }),
        }
    }

    /// The input spike times \[ms\] of one sample, `f64::INFINITY` for an input that does not
    /// spike.
    pub fn times_ms(&self, values: &[f32]) -> Vec<f64> {
        let clamp = |x: f32| {
            if x.is_nan() {
                0.0
            } else {
                x.clamp(0.0, 1.0) as f64
            }
        };
        match self {
            InputCoding::Latency { t_max_ms, bias_ms } => values
                .iter()
                .map(|&x| {
                    let x = clamp(x);
                    if x > 0.0 {
                        (1.0 - x) * t_max_ms
                    } else {
                        f64::INFINITY
                    }
                })
                .chain(*bias_ms)
                .collect(),
            InputCoding::YinYang(t) => {
                let span = t.t_late_ms - t.t_early_ms;
                let mut v: Vec<f64> = values
                    .iter()
                    .map(|&x| t.t_early_ms + clamp(x) * span)
                    .collect();
                v.push(t.t_bias_ms);
                v
            }
        }
    }

    /// The latest input spike time this coding produces \[ms\].
    pub fn last_input_ms(&self) -> f64 {
        match self {
            InputCoding::Latency { t_max_ms, bias_ms } => t_max_ms.max(bias_ms.unwrap_or(0.0)),
            InputCoding::YinYang(t) => t.t_early_ms.max(t.t_late_ms).max(t.t_bias_ms),
        }
    }

    fn check(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        match self {
            InputCoding::Latency { t_max_ms, .. } if !(ok(*t_max_ms) && *t_max_ms > 0.0) => {
                Err(format!("latency window {t_max_ms} ms must be positive"))
            }
            InputCoding::Latency {
                bias_ms: Some(b), ..
            } if !ok(*b) => Err(format!(
                "bias spike time {b} ms must be finite and non-negative"
            )),
            InputCoding::Latency { .. } => Ok(()),
            InputCoding::YinYang(t) if ok(t.t_early_ms) && ok(t.t_late_ms) && ok(t.t_bias_ms) => {
                Ok(())
            }
            InputCoding::YinYang(t) => Err(format!(
                "Yin-Yang times must be finite and non-negative: {t:?}"
            )),
        }
    }
}

/// The spikes arriving at a layer, earliest first.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Arrivals {
    /// Index of each spiking neuron of the layer before, earliest first (ties: lower index
    /// first).
    pub order: Vec<u32>,
    /// Their `z = exp(t/τ)`, ascending.
    pub z: Vec<f64>,
}

impl Arrivals {
    /// The finite `z` values of `z_all` (one per neuron; `∞` for none), sorted.
    pub fn from_z(z_all: &[f64]) -> Arrivals {
        let mut order: Vec<u32> = (0..z_all.len() as u32)
            .filter(|&i| z_all[i as usize].is_finite())
            .collect();
        order.sort_by(|&a, &b| z_all[a as usize].total_cmp(&z_all[b as usize]));
        let z = order.iter().map(|&i| z_all[i as usize]).collect();
        Arrivals { order, z }
    }

    /// Spike times \[ms\] (`∞` for none) as arrivals at a layer with time constant `tau_ms`.
    pub fn from_times_ms(times_ms: &[f64], tau_ms: f64) -> Arrivals {
        let z: Vec<f64> = times_ms.iter().map(|&t| (t / tau_ms).exp()).collect();
        Arrivals::from_z(&z)
    }

    /// Spikes arriving.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no spike arrives.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// The first threshold crossing of a neuron.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crossing {
    /// `z_out = exp(t_out/τ)`.
    pub z: f64,
    /// Size of the causal set: the first `causal` arrivals.
    pub causal: usize,
    /// `W_C − θ` (positive).
    pub excess: f64,
}

/// Scans arrivals `z` (ascending) with weights `w(k)` of arrival `k`: the first crossing, if
/// any, and the sum of all the weights.
///
/// Running sums `W`, `B` over the prefix; the prefix ending at arrival `k` is the causal set
/// when `W > θ` and `z_out = B/(W − θ) ≤ z_{k+1}` (`∞` after the last arrival).
/// `z_out ≥ z_k` then holds by construction: had the potential reached `θ` by `z_k`, a shorter
/// prefix would have been accepted (the potential is continuous and monotone between
/// arrivals). A candidate below `z_k` can therefore only be rounding, and is taken as `z_k`.
#[inline]
fn scan(z: &[f64], w: impl Fn(usize) -> f64) -> (Option<Crossing>, f64) {
    let (mut sum_w, mut sum_wz) = (0.0, 0.0);
    let mut found = None;
    let mut k = 0;
    while k < z.len() {
        let wk = w(k);
        sum_w += wk;
        sum_wz += wk * z[k];
        k += 1;
        if sum_w > THRESHOLD {
            let excess = sum_w - THRESHOLD;
            let candidate = sum_wz / excess;
            let next = z.get(k).copied().unwrap_or(f64::INFINITY);
            if candidate <= next {
                found = Some(Crossing {
                    z: candidate.max(z[k - 1]),
                    causal: k,
                    excess,
                });
                break;
            }
        }
    }
    while k < z.len() {
        sum_w += w(k);
        k += 1;
    }
    (found, sum_w)
}

/// The first spike of a neuron whose inputs arrive at `z` (ascending, finite;
/// `z = exp(t/τ)`) with weights `w` (same order), or `None` if it never fires.
pub fn first_spike(z: &[f64], w: &[f64]) -> Option<Crossing> {
    assert_eq!(z.len(), w.len(), "one weight per arrival");
    scan(z, |k| w[k]).0
}

/// One layer's response to its arrivals.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LayerTrace {
    /// The spikes arriving at the layer.
    pub arrivals: Arrivals,
    /// Per neuron: its `z` (`∞` if it never fires).
    pub z: Vec<f64>,
    /// Per neuron: its causal set is the first `causal` arrivals (0: never fires).
    pub causal: Vec<u32>,
    /// Per neuron: `W_C − θ` (0 if it never fires).
    pub excess: Vec<f64>,
    /// Per neuron: the summed weights of all arrivals (its potential as `t → ∞`).
    pub arrived_weight: Vec<f64>,
}

impl LayerTrace {
    /// Neurons that fire.
    pub fn spikes(&self) -> usize {
        self.causal.iter().filter(|&&c| c > 0).count()
    }
}

/// Every layer's response to one sample (hidden layers, then the output layer).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Forward {
    /// One trace per layer of neurons.
    pub layers: Vec<LayerTrace>,
}

impl Forward {
    /// The output layer's `z`.
    pub fn output_z(&self) -> &[f64] {
        self.layers.last().map_or(&[], |l| &l.z)
    }

    /// The class: the output neuron that fires first (ties: the lower index), `None` if none
    /// fires.
    pub fn decision(&self) -> Option<usize> {
        let z = self.output_z();
        (0..z.len())
            .filter(|&j| z[j].is_finite())
            .min_by(|&a, &b| z[a].total_cmp(&z[b]).then(a.cmp(&b)))
    }
}

/// Settings of the loss.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossParams {
    /// A correct output neuron that never fires enters the softmax as firing at this time
    /// \[ms\] (see the module docs).
    pub t_silent_ms: f64,
    /// `K` of the penalty `K · Σ_neurons max(0, θ − Σ w)`.
    pub weight_sum_penalty: f64,
    /// Which weights `Σ w` sums.
    pub penalty_over: PenaltyOver,
}

/// Which input weights of a neuron the weight-sum penalty adds up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PenaltyOver {
    /// All of them (Mostafa's term, the default): the same for every sample.
    AllInputs,
    /// Those of the inputs that spiked in the sample (the neuron's potential as `t → ∞`): a
    /// neuron pays whenever it cannot fire on a sample (see the module docs).
    ArrivedInputs,
}

impl Default for LossParams {
    fn default() -> Self {
        LossParams {
            t_silent_ms: 4.0,
            weight_sum_penalty: 1.0,
            penalty_over: PenaltyOver::AllInputs,
        }
    }
}

/// One sample's loss and decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleLoss {
    /// Cross-entropy plus penalty.
    pub loss: f64,
    /// The cross-entropy part.
    pub cross_entropy: f64,
    /// The first output spike's class.
    pub decision: Option<usize>,
}

/// Weight initialisation (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitParams {
    /// Mean of a neuron's summed weights over the inputs expected to spike, in units of `θ`.
    pub mean_sum: f64,
    /// Standard deviation of that sum, in units of `θ`.
    pub std_sum: f64,
}

impl Default for InitParams {
    fn default() -> Self {
        InitParams {
            mean_sum: 2.0,
            std_sum: 1.0,
        }
    }
}

impl InitParams {
    fn check(&self) -> Result<(), String> {
        if self.mean_sum.is_finite() && self.std_sum.is_finite() && self.std_sum >= 0.0 {
            Ok(())
        } else {
            Err(format!(
                "initialisation {self:?}: the mean must be finite, the deviation finite and non-negative"
            ))
        }
    }
}

/// A layered, fully connected time-to-first-spike network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TtfsNet {
    /// Neurons per layer, input neurons first, classes last (1 to 3 hidden layers or none).
    pub sizes: Vec<usize>,
    /// Synaptic time constant \[ms\].
    pub tau_syn_ms: f64,
    /// How samples become input spikes.
    pub coding: InputCoding,
    /// All weights, layer after layer; layer `l` (from `sizes[l]` to `sizes[l + 1]` neurons)
    /// row-major, the weights into neuron `j` contiguous.
    pub weights: Vec<f64>,
}

impl TtfsNet {
    /// A network with weights drawn as [`InitParams`] says; `first_layer_arrivals` is the
    /// mean number of input spikes per sample (see [`mean_input_spikes`]).
    pub fn new(
        sizes: &[usize],
        tau_syn_ms: f64,
        coding: InputCoding,
        init: &InitParams,
        first_layer_arrivals: f64,
        seed: u64,
    ) -> Result<TtfsNet, LearnError> {
        let mut net = TtfsNet {
            sizes: sizes.to_vec(),
            tau_syn_ms,
            coding,
            weights: Vec::new(),
        };
        net.check_shape().map_err(LearnError::Config)?;
        init.check().map_err(LearnError::Config)?;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for l in 0..sizes.len() - 1 {
            let n = if l == 0 {
                first_layer_arrivals
            } else {
                sizes[l] as f64
            }
            .max(1.0);
            let mean = init.mean_sum * THRESHOLD / n;
            let std = init.std_sum * THRESHOLD / n.sqrt();
            for _ in 0..sizes[l] * sizes[l + 1] {
                let g: f64 = StandardNormal.sample(&mut rng);
                net.weights.push(mean + std * g);
            }
        }
        Ok(net)
    }

    /// Checks sizes, constants and weights (for networks built by hand or read back).
    pub fn check(&self) -> Result<(), String> {
        self.check_shape()?;
        if self.weights.len() != self.params() {
            return Err(format!(
                "{} weights for layer sizes {:?} (which need {})",
                self.weights.len(),
                self.sizes,
                self.params()
            ));
        }
        if let Some(k) = self.weights.iter().position(|w| !w.is_finite()) {
            return Err(format!("weight {k} is not finite"));
        }
        Ok(())
    }

    fn check_shape(&self) -> Result<(), String> {
        let s = &self.sizes;
        if s.len() < 2 || s.len() > MAX_HIDDEN_LAYERS + 2 {
            return Err(format!(
                "layer sizes {s:?}: inputs, 0 to {MAX_HIDDEN_LAYERS} hidden layers, outputs"
            ));
        }
        if s.contains(&0) {
            return Err(format!("layer sizes {s:?}: every layer needs neurons"));
        }
        if s.len() > 2 && s.iter().any(|&n| n > u32::MAX as usize) {
            return Err(format!("layer sizes {s:?}: too large"));
        }
        if !(self.tau_syn_ms.is_finite() && self.tau_syn_ms > 0.0) {
            return Err(format!(
                "synaptic time constant {} ms must be positive",
                self.tau_syn_ms
            ));
        }
        self.coding.check()?;
        if let InputCoding::YinYang(_) = self.coding
            && s[0] != 5
        {
            return Err(format!(
                "Yin-Yang coding has 5 inputs, the network takes {}",
                s[0]
            ));
        }
        Ok(())
    }

    /// Number of weights.
    pub fn params(&self) -> usize {
        self.sizes.windows(2).map(|w| w[0] * w[1]).sum()
    }

    /// Multiply-accumulates of the equivalent dense ANN's forward pass.
    pub fn ann_macs(&self) -> u64 {
        self.sizes.windows(2).map(|w| (w[0] * w[1]) as u64).sum()
    }

    /// Where layer `l`'s weights start in [`TtfsNet::weights`].
    fn offset(&self, l: usize) -> usize {
        self.sizes[..l + 1]
            .windows(2)
            .map(|w| w[0] * w[1])
            .sum::<usize>()
    }

    /// The arrivals of one sample's values at the first layer (the values must fit the
    /// network: [`train`] and [`evaluate`] check whole data sets first).
    pub fn encode(&self, values: &[f32]) -> Arrivals {
        Arrivals::from_times_ms(&self.coding.times_ms(values), self.tau_syn_ms)
    }

    /// Every layer's spikes in response to `input` (see [`TtfsNet::encode`]).
    ///
    /// # Panics
    /// If an arrival names a neuron beyond the input layer.
    pub fn forward(&self, input: &Arrivals) -> Forward {
        let mut layers: Vec<LayerTrace> = Vec::with_capacity(self.sizes.len() - 1);
        let mut arrivals = input.clone();
        for l in 0..self.sizes.len() - 1 {
            let (n_in, n_out) = (self.sizes[l], self.sizes[l + 1]);
            let off = self.offset(l);
            let mut t = LayerTrace {
                z: vec![f64::INFINITY; n_out],
                causal: vec![0; n_out],
                excess: vec![0.0; n_out],
                arrived_weight: vec![0.0; n_out],
                arrivals: Arrivals::default(),
            };
            for j in 0..n_out {
                let row = &self.weights[off + j * n_in..off + (j + 1) * n_in];
                let (c, sum) = scan(&arrivals.z, |k| row[arrivals.order[k] as usize]);
                t.arrived_weight[j] = sum;
                if let Some(c) = c {
                    t.z[j] = c.z;
                    t.causal[j] = c.causal as u32;
                    t.excess[j] = c.excess;
                }
            }
            let next = Arrivals::from_z(&t.z);
            t.arrivals = std::mem::replace(&mut arrivals, next);
            layers.push(t);
        }
        Forward { layers }
    }

    /// The loss of one sample with label `label` (see the module docs).
    ///
    /// # Panics
    /// If `label` is not an output neuron, or as [`TtfsNet::forward`].
    pub fn loss(&self, input: &Arrivals, label: usize, p: &LossParams) -> SampleLoss {
        let f = self.forward(input);
        self.loss_of(&f, label, p, true).0
    }

    /// `K · Σ_neurons max(0, θ − Σ_i w_ji)` over all input weights (the sample-independent
    /// penalty), adding `scale` times its gradient into `grad` if given.
    fn all_inputs_penalty(&self, k: f64, scale: f64, mut grad: Option<&mut [f64]>) -> f64 {
        let mut total = 0.0;
        for l in 0..self.sizes.len() - 1 {
            let (n_in, off) = (self.sizes[l], self.offset(l));
            for j in 0..self.sizes[l + 1] {
                let row = off + j * n_in..off + (j + 1) * n_in;
                let sum: f64 = self.weights[row.clone()].iter().sum();
                if sum < THRESHOLD {
                    total += THRESHOLD - sum;
                    if let Some(g) = grad.as_deref_mut() {
                        g[row].iter_mut().for_each(|v| *v -= scale * k);
                    }
                }
            }
        }
        k * total
    }

    /// Loss and `∂L/∂z` of the output layer; the sample-independent penalty only if
    /// `with_fixed_penalty`.
    fn loss_of(
        &self,
        f: &Forward,
        label: usize,
        p: &LossParams,
        with_fixed_penalty: bool,
    ) -> (SampleLoss, Vec<f64>) {
        let z = f.output_z();
        // The target's logit: its own z if it fires, else z_silent (a constant).
        let z_target = if z[label].is_finite() {
            z[label]
        } else {
            (p.t_silent_ms / self.tau_syn_ms).exp()
        };
        let m = z.iter().copied().fold(z_target, f64::min);
        // exp(−(z − m)) for the others (0 for those that never fire), then the target's.
        let mut e: Vec<f64> = z.iter().map(|&v| (-(v - m)).exp()).collect();
        e[label] = (-(z_target - m)).exp();
        let s: f64 = e.iter().sum();
        let cross_entropy = (z_target - m) + s.ln();
        let grad: Vec<f64> = (0..z.len())
            .map(|j| match (z[j].is_finite(), j == label) {
                (false, _) => 0.0,
                (true, true) => 1.0 - e[j] / s,
                (true, false) => -e[j] / s,
            })
            .collect();
        let k = p.weight_sum_penalty;
        let penalty = match p.penalty_over {
            PenaltyOver::ArrivedInputs => {
                k * f
                    .layers
                    .iter()
                    .flat_map(|l| &l.arrived_weight)
                    .map(|&w| (THRESHOLD - w).max(0.0))
                    .sum::<f64>()
            }
            PenaltyOver::AllInputs if with_fixed_penalty => self.all_inputs_penalty(k, 0.0, None),
            PenaltyOver::AllInputs => 0.0,
        };
        (
            SampleLoss {
                loss: cross_entropy + penalty,
                cross_entropy,
                decision: f.decision(),
            },
            grad,
        )
    }

    /// Adds one sample's exact loss gradient into `grad` (laid out as
    /// [`TtfsNet::weights`]) and returns its loss and decision.
    ///
    /// # Panics
    /// If `grad` is not one value per weight, or as [`TtfsNet::loss`].
    pub fn sample_gradient(
        &self,
        input: &Arrivals,
        label: usize,
        p: &LossParams,
        grad: &mut [f64],
    ) -> SampleLoss {
        self.gradient(input, label, p, grad, true)
    }

    /// [`TtfsNet::sample_gradient`], with the sample-independent penalty only if
    /// `with_fixed_penalty` (training adds it once per batch).
    fn gradient(
        &self,
        input: &Arrivals,
        label: usize,
        p: &LossParams,
        grad: &mut [f64],
        with_fixed_penalty: bool,
    ) -> SampleLoss {
        assert_eq!(grad.len(), self.weights.len(), "one gradient per weight");
        let f = self.forward(input);
        let (loss, mut g) = self.loss_of(&f, label, p, with_fixed_penalty);
        if with_fixed_penalty && p.penalty_over == PenaltyOver::AllInputs {
            self.all_inputs_penalty(p.weight_sum_penalty, 1.0, Some(grad));
        }
        let per_sample_penalty = match p.penalty_over {
            PenaltyOver::ArrivedInputs => p.weight_sum_penalty,
            PenaltyOver::AllInputs => 0.0,
        };
        for l in (0..f.layers.len()).rev() {
            let t = &f.layers[l];
            let n_in = self.sizes[l];
            let off = self.offset(l);
            let mut g_in = vec![0.0; if l > 0 { n_in } else { 0 }];
            for (j, &gj) in g.iter().enumerate() {
                let row = off + j * n_in;
                let c = t.causal[j] as usize;
                if gj != 0.0 && c > 0 {
                    let scale = gj / t.excess[j];
                    for k in 0..c {
                        let i = t.arrivals.order[k] as usize;
                        grad[row + i] += scale * (t.arrivals.z[k] - t.z[j]);
                        if l > 0 {
                            g_in[i] += scale * self.weights[row + i];
                        }
                    }
                }
                if per_sample_penalty != 0.0 && t.arrived_weight[j] < THRESHOLD {
                    for &i in &t.arrivals.order {
                        grad[row + i as usize] -= per_sample_penalty;
                    }
                }
            }
            g = g_in;
        }
        loss
    }
}

/// Mean number of input spikes per sample of `data` under `coding` (1 if `data` is empty).
pub fn mean_input_spikes(coding: &InputCoding, data: &Dataset) -> f64 {
    if data.is_empty() {
        return 1.0;
    }
    let total: usize = data
        .inputs
        .iter()
        .map(|x| coding.times_ms(x).iter().filter(|t| t.is_finite()).count())
        .sum();
    total as f64 / data.len() as f64
}

/// Training settings.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TtfsConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per gradient step.
    pub batch_size: usize,
    /// Adam's settings (its step size is the initial learning rate).
    pub adam: AdamParams,
    /// The learning rate is multiplied by this after every epoch.
    pub lr_decay: f64,
    /// Largest Frobenius norm of a layer's batch-mean gradient; larger ones are scaled down
    /// to it.
    pub max_grad_norm: f64,
    /// L2 penalty `λ/2·Σ w²` per sample: `λ·w` is added to the (clipped) batch-mean gradient.
    pub weight_decay: f64,
    /// The loss.
    pub loss: LossParams,
    /// Initial weights.
    pub init: InitParams,
    /// Seed of the initial weights and of the order of samples.
    pub seed: u64,
}

impl Default for TtfsConfig {
    /// Chosen on MNIST-10k with a validation split (training on the first 4,000 training
    /// images, validating on the last 1,000; the test part unused): batches of 64, Adam step
    /// 2e-3 decaying by 0.9 per epoch, 20 epochs (validation accuracy levels off by then and
    /// declines slowly after about 22 epochs). Yin-Yang wants more epochs (40: see
    /// `learn ttfs --yin-yang`).
    fn default() -> Self {
        TtfsConfig {
            epochs: 20,
            batch_size: 64,
            adam: AdamParams {
                learning_rate: 2e-3,
                ..AdamParams::default()
            },
            lr_decay: 0.9,
            max_grad_norm: 10.0,
            weight_decay: 0.0,
            loss: LossParams::default(),
            init: InitParams::default(),
            seed: 1,
        }
    }
}

impl TtfsConfig {
    /// Checks that every setting is usable.
    pub fn validate(&self) -> Result<(), LearnError> {
        let bad = |what: String| Err(LearnError::Config(what));
        let a = &self.adam;
        if self.batch_size == 0 {
            return bad("batch size must be at least 1".into());
        }
        if !(a.learning_rate.is_finite() && a.learning_rate > 0.0) {
            return bad(format!(
                "learning rate {} must be positive",
                a.learning_rate
            ));
        }
        if !((0.0..1.0).contains(&a.beta1) && (0.0..1.0).contains(&a.beta2) && a.epsilon > 0.0) {
            return bad(format!("Adam settings {a:?} out of range"));
        }
        if !(self.lr_decay.is_finite() && self.lr_decay > 0.0) {
            return bad(format!(
                "learning-rate decay {} must be positive",
                self.lr_decay
            ));
        }
        if self.max_grad_norm.is_nan() || self.max_grad_norm <= 0.0 {
            return bad(format!(
                "gradient clipping norm {} must be positive",
                self.max_grad_norm
            ));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad(format!(
                "weight decay {} must be non-negative",
                self.weight_decay
            ));
        }
        self.init.check().map_err(LearnError::Config)?;
        let l = &self.loss;
        if !(l.t_silent_ms.is_finite() && l.t_silent_ms > 0.0) {
            return bad(format!("t_silent {} ms must be positive", l.t_silent_ms));
        }
        if !(l.weight_sum_penalty.is_finite() && l.weight_sum_penalty >= 0.0) {
            return bad(format!(
                "weight-sum penalty {} must be non-negative",
                l.weight_sum_penalty
            ));
        }
        Ok(())
    }
}

/// What one epoch did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean loss (cross-entropy plus penalty) over the epoch's samples, each before its step.
    pub train_loss: f64,
    /// Fraction of the epoch's samples classified right, each before its step.
    pub train_accuracy: f64,
    /// Test accuracy after the epoch (if a test set was given).
    pub test_accuracy: Option<f64>,
    /// Wall time of the epoch's training.
    pub wall: Duration,
    /// Wall time of the test after it.
    pub test_wall: Duration,
}

/// Training progress.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TtfsProgress {
    /// After each batch.
    Batch {
        /// Epoch, from 1.
        epoch: usize,
        /// Samples of the epoch done.
        done: usize,
        /// Samples per epoch.
        total: usize,
        /// Fraction right of the epoch's samples so far.
        running_accuracy: f64,
        /// Mean loss of the epoch's samples so far.
        running_loss: f64,
    },
    /// After each epoch (and its test).
    Epoch(EpochReport),
}

/// What training did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// One report per epoch.
    pub epochs: Vec<EpochReport>,
    /// Wall time of the training alone (without the tests after each epoch).
    pub wall: Duration,
}

/// Checks that `data` fits `net` (values per sample, labels).
fn check_data(net: &TtfsNet, data: &Dataset) -> Result<(), LearnError> {
    if data.inputs.len() != data.labels.len() {
        return Err(LearnError::Config(format!(
            "{} samples but {} labels",
            data.inputs.len(),
            data.labels.len()
        )));
    }
    for x in &data.inputs {
        let n = net.coding.inputs(x.len())?;
        if n != net.sizes[0] {
            return Err(LearnError::InputSize {
                network: net.sizes[0],
                data: n,
            });
        }
    }
    let classes = *net.sizes.last().expect("checked");
    if let Some(&l) = data.labels.iter().find(|&&l| l as usize >= classes) {
        return Err(LearnError::Config(format!(
            "label {l} but the network has {classes} output neurons"
        )));
    }
    Ok(())
}

/// The summed exact loss gradients of the samples `batch` (indices into `inputs` and
/// `labels`), with each sample's loss and decision: the per-sample parts on `threads` threads
/// (the sum does not depend on `threads`), the sample-independent penalty added once for all.
fn batch_sum(
    net: &TtfsNet,
    inputs: &[Arrivals],
    labels: &[u8],
    batch: &[usize],
    loss: &LossParams,
    threads: usize,
    buffers: &mut GradientBuffers,
) -> (Vec<f64>, Vec<SampleLoss>) {
    let sum = batch_gradients(batch, net.weights.len(), threads, buffers, |i, g| {
        net.gradient(&inputs[i], labels[i] as usize, loss, g, false)
    });
    let mut grads = sum.grads;
    // Every sample's loss holds the sample-independent penalty: batch-size times, added once.
    let fixed = match loss.penalty_over {
        PenaltyOver::AllInputs => net.all_inputs_penalty(
            loss.weight_sum_penalty,
            batch.len() as f64,
            Some(&mut grads),
        ),
        PenaltyOver::ArrivedInputs => 0.0,
    };
    let samples = sum
        .samples
        .into_iter()
        .map(|s| SampleLoss {
            loss: s.loss + fixed,
            ..s
        })
        .collect();
    (grads, samples)
}

/// Trains `net` on `train` with mini-batch Adam on exact gradients, samples in parallel on
/// `threads` threads (the result does not depend on `threads`), testing on `test` after each
/// epoch if given. Progress goes to `progress`.
pub fn train(
    net: &mut TtfsNet,
    train: &Dataset,
    test: Option<&Dataset>,
    cfg: &TtfsConfig,
    threads: usize,
    progress: &mut dyn FnMut(TtfsProgress),
) -> Result<TrainReport, LearnError> {
    cfg.validate()?;
    net.check().map_err(LearnError::Config)?;
    check_data(net, train)?;
    if let Some(t) = test {
        check_data(net, t)?;
    }
    let inputs: Vec<Arrivals> = train.inputs.iter().map(|x| net.encode(x)).collect();
    let mut adam = Adam::new(net.weights.len(), cfg.adam);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed ^ 0x7466_7473);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut epochs = Vec::with_capacity(cfg.epochs);
    let mut wall = Duration::ZERO;
    let offsets: Vec<usize> = (0..net.sizes.len()).map(|l| net.offset(l)).collect();
    let mut buffers = GradientBuffers::default();
    for epoch in 1..=cfg.epochs {
        let t0 = Instant::now();
        order.shuffle(&mut rng);
        let (mut loss_sum, mut right) = (0.0, 0usize);
        let mut done = 0;
        for batch in order.chunks(cfg.batch_size) {
            let (mut grads, samples) = batch_sum(
                net,
                &inputs,
                &train.labels,
                batch,
                &cfg.loss,
                threads,
                &mut buffers,
            );
            let n = batch.len() as f64;
            for (s, &i) in samples.iter().zip(batch) {
                loss_sum += s.loss;
                right += (s.decision == Some(train.labels[i] as usize)) as usize;
            }
            for w in offsets.windows(2) {
                let g = &mut grads[w[0]..w[1]];
                g.iter_mut().for_each(|v| *v /= n);
                let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > cfg.max_grad_norm {
                    let s = cfg.max_grad_norm / norm;
                    g.iter_mut().for_each(|v| *v *= s);
                }
            }
            if cfg.weight_decay > 0.0 {
                for (g, w) in grads.iter_mut().zip(&net.weights) {
                    *g += cfg.weight_decay * w;
                }
            }
            adam.step(&mut net.weights, &grads);
            done += batch.len();
            progress(TtfsProgress::Batch {
                epoch,
                done,
                total: train.len(),
                running_accuracy: right as f64 / done as f64,
                running_loss: loss_sum / done as f64,
            });
        }
        adam.set_learning_rate(adam.learning_rate() * cfg.lr_decay);
        let epoch_wall = t0.elapsed();
        wall += epoch_wall;
        let t1 = Instant::now();
        let test_accuracy = match test {
            Some(t) => Some(evaluate(net, t, threads, &|_, _| {})?.accuracy()),
            None => None,
        };
        let r = EpochReport {
            epoch,
            train_loss: loss_sum / train.len().max(1) as f64,
            train_accuracy: right as f64 / train.len().max(1) as f64,
            test_accuracy,
            wall: epoch_wall,
            test_wall: t1.elapsed(),
        };
        progress(TtfsProgress::Epoch(r));
        epochs.push(r);
    }
    Ok(TrainReport { epochs, wall })
}

/// One sample's classification and cost.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleCost {
    /// The first output spike's class, if any.
    pub decision: Option<usize>,
    /// Time of the first output spike \[ms\], if any.
    pub decision_ms: Option<f64>,
    /// Spikes per layer, the input layer first.
    pub spikes: Vec<u32>,
    /// Synaptic operations of the whole run: every spike delivered to every neuron of the
    /// next layer.
    pub synaptic_ops: u64,
    /// Synaptic operations of spikes before the first output spike (all if none).
    pub synaptic_ops_to_decision: u64,
}

impl TtfsNet {
    /// Classifies one sample and counts its cost (see the module docs).
    pub fn classify(&self, input: &Arrivals) -> SampleCost {
        let f = self.forward(input);
        let decision = f.decision();
        let z_dec = decision.map_or(f64::INFINITY, |j| f.output_z()[j]);
        let mut spikes = Vec::with_capacity(self.sizes.len());
        let (mut ops, mut ops_dec) = (0u64, 0u64);
        for (l, t) in f.layers.iter().enumerate() {
            let n_out = self.sizes[l + 1] as u64;
            spikes.push(t.arrivals.len() as u32);
            ops += t.arrivals.len() as u64 * n_out;
            let before = t.arrivals.z.partition_point(|&z| z < z_dec);
            ops_dec += before as u64 * n_out;
        }
        spikes.push(f.layers.last().map_or(0, |t| t.spikes() as u32));
        SampleCost {
            decision,
            decision_ms: decision.map(|_| self.tau_syn_ms * z_dec.ln()),
            spikes,
            synaptic_ops: ops,
            synaptic_ops_to_decision: ops_dec,
        }
    }
}

/// Results of classifying a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Samples classified.
    pub samples: usize,
    /// Samples classified right.
    pub correct: usize,
    /// Samples without any output spike (counted wrong).
    pub undecided: usize,
    /// Per sample: its decision.
    pub decisions: Vec<Option<usize>>,
    /// Synaptic operations per sample, averaged (whole run).
    pub synaptic_ops_per_sample: f64,
    /// Synaptic operations before the decision per sample, averaged.
    pub synaptic_ops_to_decision_per_sample: f64,
    /// Spikes per sample and layer (input layer first), averaged.
    pub spikes_per_sample: Vec<f64>,
    /// Mean time of the first output spike over decided samples \[ms\].
    pub mean_decision_ms: f64,
    /// Multiply-accumulates of the equivalent dense ANN per sample.
    pub ann_macs: u64,
    /// Wall time.
    pub wall: Duration,
    /// Threads used.
    pub threads: usize,
}

impl Evaluation {
    /// Fraction classified right.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.samples.max(1) as f64
    }
}

/// Samples per unit of work in [`evaluate`].
const EVAL_CHUNK: usize = 64;

/// Classifies every sample of `data` on `threads` threads (chunks of samples; the result does
/// not depend on the thread count). `progress(done, right)` is called as chunks finish.
pub fn evaluate(
    net: &TtfsNet,
    data: &Dataset,
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Evaluation, LearnError> {
    net.check().map_err(LearnError::Config)?;
    check_data(net, data)?;
    let start = Instant::now();
    let n = data.len();
    let chunks = super::chunk_ranges(n, EVAL_CHUNK);
    let done = AtomicUsize::new(0);
    let right = AtomicUsize::new(0);
    let results = super::run_chunks(
        &chunks,
        threads,
        &|lo, hi| {
            Ok((lo..hi)
                .map(|i| net.classify(&net.encode(&data.inputs[i])))
                .collect::<Vec<_>>())
        },
        &|r: &Vec<SampleCost>, (lo, _)| {
            let ok = r
                .iter()
                .enumerate()
                .filter(|(k, c)| c.decision == Some(data.labels[lo + k] as usize))
                .count();
            let d = done.fetch_add(r.len(), Ordering::Relaxed) + r.len();
            let g = right.fetch_add(ok, Ordering::Relaxed) + ok;
            progress(d, g);
        },
    )?;
    let layers = net.sizes.len();
    let mut e = Evaluation {
        samples: n,
        correct: 0,
        undecided: 0,
        decisions: Vec::with_capacity(n),
        synaptic_ops_per_sample: 0.0,
        synaptic_ops_to_decision_per_sample: 0.0,
        spikes_per_sample: vec![0.0; layers],
        mean_decision_ms: 0.0,
        ann_macs: net.ann_macs(),
        wall: Duration::ZERO,
        threads,
    };
    let (mut ops, mut ops_dec) = (0u64, 0u64);
    let mut spikes = vec![0u64; layers];
    let mut t_sum = 0.0;
    for (i, c) in results.iter().flatten().enumerate() {
        e.correct += (c.decision == Some(data.labels[i] as usize)) as usize;
        e.undecided += c.decision.is_none() as usize;
        e.decisions.push(c.decision);
        ops += c.synaptic_ops;
        ops_dec += c.synaptic_ops_to_decision;
        for (s, &k) in spikes.iter_mut().zip(&c.spikes) {
            *s += k as u64;
        }
        t_sum += c.decision_ms.unwrap_or(0.0);
    }
    let per = n.max(1) as f64;
    e.synaptic_ops_per_sample = ops as f64 / per;
    e.synaptic_ops_to_decision_per_sample = ops_dec as f64 / per;
    e.spikes_per_sample = spikes.iter().map(|&s| s as f64 / per).collect();
    e.mean_decision_ms = t_sum / (n - e.undecided).max(1) as f64;
    e.wall = start.elapsed();
    Ok(e)
}

/// A trained network with how it was trained: what `learn ttfs --save` writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TtfsModel {
    /// The network.
    pub net: TtfsNet,
    /// How it was trained.
    pub config: TtfsConfig,
    /// Training samples used.
    pub train_samples: usize,
}

impl TtfsModel {
    /// Checks the network and the settings (for files read back).
    pub fn check(&self) -> Result<(), String> {
        self.net.check()?;
        self.config.validate().map_err(|e| e.to_string())
    }
}

/// An untrained network for `data`: inputs from `coding`, then `hidden`, then `classes`
/// output neurons, initialised from `cfg.init` and `cfg.seed` (see the module docs).
pub fn untrained(
    hidden: &[usize],
    classes: usize,
    tau_syn_ms: f64,
    coding: InputCoding,
    cfg: &TtfsConfig,
    data: &Dataset,
) -> Result<TtfsNet, LearnError> {
    let Some(values) = data.inputs.first().map(Vec::len) else {
        return Err(LearnError::Config(
            "no samples to size the input layer and the initial weights by".into(),
        ));
    };
    let mut sizes = vec![coding.inputs(values)?];
    sizes.extend(hidden);
    sizes.push(classes);
    TtfsNet::new(
        &sizes,
        tau_syn_ms,
        coding,
        &cfg.init,
        mean_input_spikes(&coding, data),
        cfg.seed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    /// `V(t)` of a neuron with inputs `(t_i, w_i)`, `τ` = 1.
    fn potential(inputs: &[(f64, f64)], t: f64) -> f64 {
        inputs
            .iter()
            .filter(|(ti, _)| *ti < t)
            .map(|(ti, w)| w * (1.0 - (-(t - ti)).exp()))
            .sum()
    }

    /// The first crossing of `V(t) = θ` found by brute force: `V` on a grid of steps of
    /// 1e-3 τ from 0 to 60 τ after the last input, with the input times added to the grid
    /// (`V` is continuous and monotone between inputs, so a crossing cannot hide between two
    /// grid points that straddle no input), then bisection to 1e-14 on the first step where
    /// `V` reaches `θ`. Written independently of [`scan`].
    fn brute_force(inputs: &[(f64, f64)]) -> Option<f64> {
        let t_end = inputs.iter().map(|i| i.0).fold(0.0, f64::max) + 60.0;
        let mut grid: Vec<f64> = (0..=(t_end * 1000.0) as usize)
            .map(|k| k as f64 * 1e-3)
            .chain(inputs.iter().map(|i| i.0))
            .collect();
        grid.sort_by(f64::total_cmp);
        for w in grid.windows(2) {
            let (a, b) = (w[0], w[1]);
            if potential(inputs, b) >= THRESHOLD {
                if potential(inputs, a) >= THRESHOLD {
                    return Some(a);
                }
                let (mut lo, mut hi) = (a, b);
                while hi - lo > 1e-14 {
                    let mid = 0.5 * (lo + hi);
                    if potential(inputs, mid) >= THRESHOLD {
                        hi = mid;
                    } else {
                        lo = mid;
                    }
                }
                return Some(hi);
            }
        }
        None
    }

    fn closed_form(inputs: &[(f64, f64)]) -> Option<(f64, usize)> {
        let mut s = inputs.to_vec();
        s.sort_by(|a, b| a.0.total_cmp(&b.0));
        let z: Vec<f64> = s.iter().map(|i| i.0.exp()).collect();
        let w: Vec<f64> = s.iter().map(|i| i.1).collect();
        first_spike(&z, &w).map(|c| (c.z.ln(), c.causal))
    }

    fn agree(inputs: &[(f64, f64)]) -> Option<(f64, usize)> {
        let cf = closed_form(inputs);
        let bf = brute_force(inputs);
        match (cf, bf) {
            (Some((t, _)), Some(r)) => {
                assert!((t - r).abs() < 1e-9 * (1.0 + r), "{inputs:?}: {t} vs {r}")
            }
            (None, None) => {}
            _ => panic!("{inputs:?}: closed form {cf:?}, brute force {bf:?}"),
        }
        cf
    }

    #[test]
    fn a_later_input_that_would_be_too_late_is_not_in_the_causal_set() {
        // w = 2 at t = 0 fires at z = 2·1/(2 − 1) = 2, t = ln 2 ≈ 0.69, before the inhibitory
        // input at t = 1 (which would have prevented the spike).
        let (t, c) = agree(&[(0.0, 2.0), (1.0, -5.0)]).unwrap();
        assert!((t - 2f64.ln()).abs() < 1e-12);
        assert_eq!(c, 1);
        // The same inhibition arriving at t = 0.5 comes first and silences the neuron.
        assert_eq!(agree(&[(0.0, 2.0), (0.5, -5.0)]), None);
        // A prefix above threshold whose crossing would come after the next input: that input
        // joins the causal set (w = 1.2 alone would fire at z = 6, t ≈ 1.79 > 1).
        let (t, c) = agree(&[(0.0, 1.2), (1.0, 1.0)]).unwrap();
        assert_eq!(c, 2);
        assert!((t - ((1.2 + std::f64::consts::E) / 1.2).ln()).abs() < 1e-12);
        // Below threshold in total: never.
        assert_eq!(agree(&[(0.0, 0.5), (0.3, 0.4)]), None);
        // No inputs: never.
        assert_eq!(first_spike(&[], &[]), None);
    }

    #[test]
    fn closed_form_matches_brute_force_on_random_neurons() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let (mut fired, mut excluded, mut inhibited) = (0, 0, 0);
        for _ in 0..300 {
            let n = rng.random_range(1..7);
            let inputs: Vec<(f64, f64)> = (0..n)
                .map(|_| (rng.random_range(0.0..3.0), rng.random_range(-1.5..2.0)))
                .collect();
            if let Some((_, c)) = agree(&inputs) {
                fired += 1;
                excluded += (c < n) as usize;
                inhibited += inputs.iter().any(|i| i.1 < 0.0) as usize;
            }
        }
        // The cases exercise both outcomes and causal sets shorter than the inputs.
        assert!(fired > 60 && fired < 290, "{fired} of 300 fired");
        assert!(excluded > 20, "{excluded} with inputs after the spike");
        assert!(inhibited > 20, "{inhibited} firing despite inhibition");
    }

    #[test]
    fn forward_uses_each_layers_spikes_in_time_order() {
        // 2 inputs -> 2 hidden -> 1 output, by hand.
        let net = TtfsNet {
            sizes: vec![2, 2, 1],
            tau_syn_ms: 2.0,
            coding: InputCoding::Latency {
                t_max_ms: 2.0,
                bias_ms: None,
            },
            weights: vec![2.0, 0.0, 0.5, 0.8, 3.0, -1.0],
        };
        net.check().unwrap();
        // x = 1 at t = 0, x = 0.5 at t = 1 ms (z = e^0.5).
        let a = net.encode(&[1.0, 0.5]);
        assert_eq!(a.order, vec![0, 1]);
        let f = net.forward(&a);
        // Hidden 0: w = 2 at z = 1 -> z = 2. Hidden 1: 0.5 alone never fires; with 0.8 at
        // z1 = e^0.5: z = (0.5 + 0.8 z1)/0.3.
        let z1 = 0.5f64.exp();
        assert!((f.layers[0].z[0] - 2.0).abs() < 1e-12);
        let h1 = (0.5 + 0.8 * z1) / 0.3;
        assert!((f.layers[0].z[1] - h1).abs() < 1e-12);
        // Output: 3 at z = 2 would fire at z = 3 ≤ h1 (≈ 6.06): the inhibition is too late.
        assert_eq!(f.layers[1].arrivals.order, vec![0, 1]);
        assert!((f.output_z()[0] - 3.0).abs() < 1e-12);
        assert_eq!(f.layers[1].causal, vec![1]);
        let c = net.classify(&a);
        assert_eq!(c.decision, Some(0));
        assert_eq!(c.spikes, vec![2, 2, 1]);
        assert_eq!(c.synaptic_ops, 2 * 2 + 2);
        // Before the output spike at z = 3: both inputs, one hidden spike.
        assert_eq!(c.synaptic_ops_to_decision, 2 * 2 + 1);
        assert!((c.decision_ms.unwrap() - 2.0 * 3f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn batch_sums_are_the_sums_of_sample_gradients_with_either_penalty() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let mut net = TtfsNet {
            sizes: vec![4, 6, 3],
            tau_syn_ms: 1.0,
            coding: InputCoding::Latency {
                t_max_ms: 1.0,
                bias_ms: None,
            },
            weights: Vec::new(),
        };
        // Some rows sum below θ, so that both penalties have work.
        net.weights = (0..net.params())
            .map(|_| rng.random_range(-0.4..0.9))
            .collect();
        let inputs: Vec<Arrivals> = (0..20)
            .map(|_| {
                let t: Vec<f64> = (0..4).map(|_| rng.random_range(0.0..1.0)).collect();
                Arrivals::from_times_ms(&t, 1.0)
            })
            .collect();
        assert!(net.all_inputs_penalty(1.0, 0.0, None) > 0.0);
        let labels: Vec<u8> = (0..20).map(|i| (i % 3) as u8).collect();
        let batch: Vec<usize> = (0..20).rev().collect();
        for over in [PenaltyOver::AllInputs, PenaltyOver::ArrivedInputs] {
            let p = LossParams {
                t_silent_ms: 4.0,
                weight_sum_penalty: 0.5,
                penalty_over: over,
            };
            let mut buffers = GradientBuffers::default();
            let (fast, samples) = batch_sum(&net, &inputs, &labels, &batch, &p, 3, &mut buffers);
            let mut slow = vec![0.0; net.params()];
            for (s, &i) in samples.iter().zip(&batch) {
                let one = net.sample_gradient(&inputs[i], labels[i] as usize, &p, &mut slow);
                assert!((one.loss - s.loss).abs() < 1e-12 * one.loss.abs().max(1.0));
                assert_eq!(one.decision, s.decision);
            }
            for (a, b) in slow.iter().zip(&fast) {
                assert!(
                    (a - b).abs() <= 1e-9 * a.abs().max(1.0),
                    "{over:?}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn codings_give_continuous_times() {
        let lat = InputCoding::Latency {
            t_max_ms: 4.0,
            bias_ms: None,
        };
        let t = lat.times_ms(&[1.0, 0.3, 0.0, f32::NAN, 2.0]);
        assert_eq!(t[0], 0.0);
        assert!((t[1] - 0.7 * 4.0).abs() < 1e-6);
        assert!(t[2].is_infinite() && t[3].is_infinite());
        assert_eq!(t[4], 0.0);
        let yy = InputCoding::YinYang(YinYangTiming::default());
        assert_eq!(yy.inputs(4).unwrap(), 5);
        assert!(yy.inputs(3).is_err());
        let t = yy.times_ms(&[0.0, 1.0, 0.5, 0.25]);
        assert_eq!(t.len(), 5);
        assert!((t[2] - (0.15 + 0.5 * 1.85)).abs() < 1e-12);
        assert_eq!(t[4], 0.9);
    }
}
