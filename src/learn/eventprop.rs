//! EventProp (Wunderlich & Pehle 2021, "Event-based backpropagation can compute exact gradients
//! for spiking neural networks"): exact gradients of a spiking network's loss, computed by an
//! adjoint pass that runs event by event in reverse time.
//!
//! Owns: layered feed-forward networks of current-based LIF neurons with exponential synaptic
//! currents (the dynamics of the core's `lif_exp`), their exact continuous-time forward pass,
//! the adjoint (backward) pass, the two losses, and training with Adam on mini-batches whose
//! samples run in parallel. Must not touch: the engine. The forward pass here keeps spike
//! times as `f64` milliseconds, not ticks, because gradients are checked against finite
//! differences to 1e-6 relative, far below the engine's 1 ns grid; a test in `tests/it`
//! checks that the engine's `lif_exp` network gives the same spikes (to the tick) and
//! [`EventPropNet::engine_network`] builds that network for users.
//!
//! # Model
//! Each neuron obeys `τ_m dV/dt = −V + I`, `τ_s dI/dt = −I`; a spike of presynaptic neuron
//! `j` adds `w_nj` to `I_n`; `V ≥ θ = 1` fires, and `V` is reset to 0 (no refractory period).
//! With `τ_m = 2 τ_s` (as in Göltz et al. 2021) the potential between events is a quadratic
//! in `x = exp(−t/τ_m)`, so threshold crossings are the roots of a quadratic: exact, no search.
//! Written as a spike-response model, the potential is
//!
//! ```text
//! V(t) = Σ_i w_i K(t − s_i) − θ Σ_r exp(−(t − t_r)/τ_m),   K(u) = e^{−u/τ_m} − e^{−u/τ_s}
//! ```
//!
//! (inputs `s_i`, own earlier spikes `t_r`; the reset subtracts θ because the potential at a
//! spike is exactly θ).
//!
//! # Adjoint pass
//! A spike time `t_k` of neuron `n` moves with a parameter `p` as
//! `dt_k/dp = −(∂V_n(t_k)/∂p) / V̇_n(t_k)`. Writing `g_k = dL/dt_k` and `c_k = g_k / V̇_k`,
//! every gradient is a sum over later spikes of `c_k` times a kernel, so each neuron keeps two
//! adjoint accumulators `A_τ(t) = Σ_{t_k > t} c_k e^{−(t_k − t)/τ}` for `τ = τ_s, τ_m`; they
//! decay in reverse time and jump by `c_k` at the neuron's spikes. These are EventProp's
//! `λ_I` and `λ_V` up to constant factors. Processing all spikes in descending time:
//!
//! - a presynaptic spike at `s` onto neuron `n` adds `A_s^n(s) − A_m^n(s)` to `dL/dw_nj`,
//!   and `w_nj (A_s^n(s)/τ_s − A_m^n(s)/τ_m)` to its own `g`;
//! - a spike's reset adds `θ A_m(t_r)/τ_m` of its own neuron's later spikes to its `g`;
//! - with the max-voltage loss, each output neuron's maximum `V(t*)` acts as a pseudo-spike
//!   with `c = −∂L/∂V*` (the envelope theorem: `t*` is where `V̇` vanishes, or the end of the
//!   trial); when the maximum sits on the kink made by an inhibitory input at `s`, that input's
//!   spike also gets `∂L/∂V* · V̇(s⁺)` because `t*` moves with it.
//!
//! The accumulators are stored rescaled by `e^{t/τ}` so reading one costs a multiply.

use super::optim::{Adam, AdamParams, GradientBuffers, batch_gradients};
use super::{Dataset, LearnError};
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Firing threshold (potentials are in units of it).
pub const THETA: f64 = 1.0;

/// The loss on the output layer.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Loss {
    /// Cross-entropy of a softmax over the output neurons' maximum potentials in the trial
    /// (output neurons do not fire). The class is the neuron with the highest maximum.
    MaxVoltage,
    /// Cross-entropy of a softmax over `−t_first/τ_0` of the output neurons' first spikes plus
    /// `α (e^{t_label/τ_1} − 1)`, which pushes the right neuron to fire early (Göltz et al.
    /// 2021). A silent output neuron counts as firing at the end of the trial, with no
    /// gradient. The class is the neuron that fires first.
    FirstSpike {
        /// Softmax temperature \[ms\].
        tau0_ms: f64,
        /// Weight of the early-firing term.
        alpha: f64,
        /// Time constant of the early-firing term \[ms\].
        tau1_ms: f64,
    },
}

/// Settings of an EventProp network and its training.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventPropParams {
    /// Synaptic time constant \[ms\]; the membrane's is twice this.
    pub tau_syn_ms: f64,
    /// End of a trial \[ms\]: spikes and maxima after it are not seen.
    pub t_end_ms: f64,
    /// The loss.
    pub loss: Loss,
    /// Initial weights of a layer are normal with mean `init_mean / fan_in` and standard
    /// deviation `init_std / √fan_in`.
    pub init_mean: f64,
    /// See `init_mean`.
    pub init_std: f64,
    /// Samples per mini-batch.
    pub batch: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Adam's settings.
    pub adam: AdamParams,
    /// The step size is multiplied by this after each epoch.
    pub lr_decay: f64,
    /// During training, each input spike is left out with this probability, anew for every
    /// sample and epoch (a regulariser, as dropout; 0 switches it off). Deterministic given
    /// the seed.
    pub input_dropout: f64,
    /// Seed of weight initialisation and shuffling.
    pub seed: u64,
}

impl Default for EventPropParams {
    fn default() -> Self {
        EventPropParams {
            tau_syn_ms: 5.0,
            t_end_ms: 40.0,
            loss: Loss::MaxVoltage,
            init_mean: 6.0,
            init_std: 4.0,
            batch: 32,
            epochs: 30,
            adam: AdamParams {
                learning_rate: 5e-3,
                ..AdamParams::default()
            },
            lr_decay: 0.95,
            input_dropout: 0.0,
            seed: 1,
        }
    }
}

impl EventPropParams {
    /// Membrane time constant \[ms\].
    pub fn tau_mem_ms(&self) -> f64 {
        2.0 * self.tau_syn_ms
    }

    /// Refuses settings the method cannot run with.
    pub fn validate(&self) -> Result<(), LearnError> {
        let bad = |what: &str| Err(LearnError::Config(format!("eventprop: {what}")));
        if !(self.tau_syn_ms > 0.0 && self.tau_syn_ms.is_finite()) {
            return bad("the synaptic time constant must be a positive number of ms");
        }
        if !(self.t_end_ms > 0.0 && self.t_end_ms.is_finite()) {
            return bad("the trial length must be a positive number of ms");
        }
        if self.batch == 0 {
            return bad("the batch size must be at least 1");
        }
        if !(0.0..1.0).contains(&self.input_dropout) {
            return bad("the input dropout must be in [0, 1)");
        }
        if !(self.adam.learning_rate > 0.0 && self.adam.learning_rate.is_finite()) {
            return bad("the learning rate must be positive");
        }
        if let Loss::FirstSpike {
            tau0_ms, tau1_ms, ..
        } = self.loss
            && !(tau0_ms > 0.0 && tau1_ms > 0.0)
        {
            return bad("the first-spike loss needs positive tau0 and tau1");
        }
        Ok(())
    }
}

/// How a network's inputs were coded, kept with the model so that evaluation codes the same.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum InputCoding {
    /// Latency coding of values in `[0, 1]` ([`latency_dataset`]).
    Latency {
        /// Latency of a value near zero \[ms\].
        t_max_ms: f64,
    },
    /// Yin-Yang spike times ([`yin_yang_dataset`]).
    YinYang(super::encode::YinYangTiming),
}

/// A spike of one sample: time \[ms\] and neuron index within its layer.
pub type SampleSpike = (f64, u32);

/// A layered feed-forward network of LIF neurons with exponential currents.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventPropNet {
    /// Neurons per layer, inputs first.
    pub sizes: Vec<usize>,
    /// The settings it was made (and is run) with.
    pub params: EventPropParams,
    /// How its inputs are coded (set by whoever trains it; latency over 20 ms by default).
    pub coding: InputCoding,
    /// All weights, layer after layer; layer `l`'s weight from `j` to `n` is at
    /// `offsets[l] + n · sizes[l] + j`.
    pub weights: Vec<f64>,
}

/// One spike of a forward pass, with what the backward pass needs.
#[derive(Clone, Copy, Debug, PartialEq)]
struct SpikeRec {
    t_ms: f64,
    neuron: u32,
    /// `dV/dt` just before the spike (positive: an upward crossing).
    v_dot: f64,
}

/// Where an output neuron's maximum potential was.
#[derive(Clone, Copy, Debug, PartialEq)]
enum MaxAt {
    /// At the start, `V = 0`, before any input: no gradient.
    Start,
    /// Between events, where `V̇ = 0`, or at the end of the trial: the envelope theorem.
    /// `place` tells the candidate apart (`2k`: in the interval before presynaptic spike `k`,
    /// `2k + 1`: on spike `k` without a kink, `2n + 2`: at the end).
    Smooth { t_ms: f64, place: usize },
    /// On the kink of the input with this index in the presynaptic spike list.
    Kink(usize),
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct MaxRec {
    v: f64,
    at: MaxAt,
    /// `V̇` just after the kink's input (for [`MaxAt::Kink`]).
    v_dot_after: f64,
}

/// A forward pass: spikes per layer (layer 0 is the input), and the output maxima for the
/// max-voltage loss.
#[derive(Clone, Debug, Default)]
struct Forward {
    spikes: Vec<Vec<SpikeRec>>,
    maxima: Vec<MaxRec>,
}

/// What one sample's forward (and backward) pass gave.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleOutcome {
    /// The loss of the sample.
    pub loss: f64,
    /// The predicted class (`None`: no output spike under the first-spike loss).
    pub predicted: Option<usize>,
    /// Spikes per layer, inputs first.
    pub spikes: Vec<u64>,
    /// Synaptic operations: every spike delivered to every neuron of the next layer.
    pub synaptic_ops: u64,
    /// Time of the decision \[ms\]: the first output spike, or the end of the trial.
    pub decision_ms: f64,
}

/// `exp(−u/τ_m)`, the quadratic's variable, for the time `u` since an event.
#[inline]
fn decay(u: f64, tau_m: f64) -> f64 {
    (-u / tau_m).exp()
}

/// The earliest `x ∈ (x_end, 1)` (largest root) with `I0 x² − (V0 + I0) x + θ = 0`, i.e. the
/// first upward threshold crossing after an event, given `V0 < θ`; `x_end` is the decay at the
/// next event (0 for none).
fn crossing_x(v0: f64, i0: f64, x_end: f64) -> Option<f64> {
    if i0 <= 0.0 {
        // V = (V0 + I0) x − I0 x² with V0 < θ: without excitatory current V cannot rise to θ
        // (for I0 < 0 it rises towards at most (V0 + I0)²/(4 I0) < 0 < θ ... or decays).
        return None;
    }
    let (a, b, c) = (i0, -(v0 + i0), THETA);
    let disc = b * b - 4.0 * a * c;
    if disc < 0.0 {
        return None;
    }
    // Numerically stable roots of a x² + b x + c.
    let q = -0.5 * (b + b.signum() * disc.sqrt());
    let r1 = q / a;
    let r2 = if q != 0.0 { c / q } else { f64::NAN };
    [r1, r2]
        .into_iter()
        .filter(|&x| x > x_end && x < 1.0)
        .fold(None, |best: Option<f64>, x| {
            Some(best.map_or(x, |b| b.max(x)))
        })
}

impl EventPropNet {
    /// A network with `sizes` (inputs first), weights drawn as `params` says.
    pub fn new(sizes: &[usize], params: EventPropParams) -> Result<EventPropNet, LearnError> {
        params.validate()?;
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(LearnError::Config(format!(
                "eventprop: a network needs at least an input and an output layer, none empty (got {sizes:?})"
            )));
        }
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.seed);
        let mut weights = Vec::new();
        for l in 0..sizes.len() - 1 {
            let fan_in = sizes[l] as f64;
            let normal = Normal::new(params.init_mean / fan_in, params.init_std / fan_in.sqrt())
                .map_err(|e| LearnError::Config(format!("eventprop: initial weights: {e}")))?;
            weights.extend((0..sizes[l] * sizes[l + 1]).map(|_| normal.sample(&mut rng)));
        }
        Ok(EventPropNet {
            sizes: sizes.to_vec(),
            params,
            coding: InputCoding::Latency { t_max_ms: 20.0 },
            weights,
        })
    }

    /// Start of each layer's weights in [`EventPropNet::weights`].
    fn offsets(&self) -> Vec<usize> {
        let mut off = vec![0];
        for l in 0..self.sizes.len() - 1 {
            off.push(off[l] + self.sizes[l] * self.sizes[l + 1]);
        }
        off
    }

    /// Checks the shapes (for loaded models).
    pub fn check(&self) -> Result<(), String> {
        if self.sizes.len() < 2 || self.sizes.contains(&0) {
            return Err(format!("bad layer sizes {:?}", self.sizes));
        }
        let n: usize = self.sizes.windows(2).map(|w| w[0] * w[1]).sum();
        if self.weights.len() != n {
            return Err(format!(
                "{} weights for layers {:?} (need {n})",
                self.weights.len(),
                self.sizes
            ));
        }
        if self.weights.iter().any(|w| !w.is_finite()) {
            return Err("a weight is not a finite number".into());
        }
        self.params.validate().map_err(|e| e.to_string())
    }

    /// The exact forward pass of one sample; `input` is sorted by time.
    fn forward(&self, input: &[SampleSpike]) -> Forward {
        let tau_m = self.params.tau_mem_ms();
        let t_end = self.params.t_end_ms;
        let off = self.offsets();
        let layers = self.sizes.len();
        let mut spikes: Vec<Vec<SpikeRec>> = Vec::with_capacity(layers);
        spikes.push(
            input
                .iter()
                .filter(|s| s.0 <= t_end)
                .map(|&(t_ms, neuron)| SpikeRec {
                    t_ms,
                    neuron,
                    v_dot: 0.0,
                })
                .collect(),
        );
        let mut maxima = Vec::new();
        for l in 1..layers {
            let pre = &spikes[l - 1];
            let n_in = self.sizes[l - 1];
            let w = &self.weights[off[l - 1]..off[l]];
            let output_without_spikes = l + 1 == layers && self.params.loss == Loss::MaxVoltage;
            let mut out: Vec<SpikeRec> = Vec::new();
            for n in 0..self.sizes[l] {
                let row = &w[n * n_in..(n + 1) * n_in];
                let (mut v, mut i, mut t) = (0.0f64, 0.0f64, 0.0f64);
                let mut best = MaxRec {
                    v: 0.0,
                    at: MaxAt::Start,
                    v_dot_after: 0.0,
                };
                // Events: each presynaptic spike, then the end of the trial.
                for k in 0..=pre.len() {
                    let t_next = pre.get(k).map_or(t_end, |s| s.t_ms);
                    if output_without_spikes {
                        // Interior maximum of V(x) = (V + I) x − I x² where dV/dx = 0.
                        let x_end = decay(t_next - t, tau_m);
                        if i > 0.0 {
                            let x_star = (v + i) / (2.0 * i);
                            if x_star > x_end && x_star < 1.0 {
                                let vm = (v + i) * x_star - i * x_star * x_star;
                                if vm > best.v {
                                    best = MaxRec {
                                        v: vm,
                                        at: MaxAt::Smooth {
                                            t_ms: t - tau_m * x_star.ln(),
                                            place: 2 * k,
                                        },
                                        v_dot_after: 0.0,
                                    };
                                }
                            }
                        }
                    } else {
                        // Fire as often as the interval allows.
                        loop {
                            let x_end = decay(t_next - t, tau_m);
                            let Some(x) = crossing_x(v, i, x_end) else {
                                break;
                            };
                            let t_spike = t - tau_m * x.ln();
                            let i_spike = i * x * x;
                            out.push(SpikeRec {
                                t_ms: t_spike,
                                neuron: n as u32,
                                v_dot: (i_spike - THETA) / tau_m,
                            });
                            (v, i, t) = (0.0, i_spike, t_spike);
                        }
                    }
                    // Advance to the event.
                    let x = decay(t_next - t, tau_m);
                    v = (v + i) * x - i * x * x;
                    i *= x * x;
                    t = t_next;
                    let Some(s) = pre.get(k) else { break };
                    let v_dot_before = (i - v) / tau_m;
                    i += row[s.neuron as usize];
                    if output_without_spikes && v > best.v {
                        let v_dot_after = (i - v) / tau_m;
                        best = if v_dot_before > 0.0 && v_dot_after < 0.0 {
                            MaxRec {
                                v,
                                at: MaxAt::Kink(k),
                                v_dot_after,
                            }
                        } else {
                            // A maximum on an event without a kink: V̇ is continuous there
                            // (measure zero); treat as smooth.
                            MaxRec {
                                v,
                                at: MaxAt::Smooth {
                                    t_ms: t,
                                    place: 2 * k + 1,
                                },
                                v_dot_after: 0.0,
                            }
                        };
                    }
                }
                if output_without_spikes {
                    // The end of the trial is a candidate too (t = t_end now).
                    if v > best.v {
                        best = MaxRec {
                            v,
                            at: MaxAt::Smooth {
                                t_ms: t_end,
                                place: 2 * pre.len() + 2,
                            },
                            v_dot_after: 0.0,
                        };
                    }
                    maxima.push(best);
                }
            }
            out.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms).then(a.neuron.cmp(&b.neuron)));
            spikes.push(out);
        }
        Forward { spikes, maxima }
    }

    /// Index (in the output layer's spike list) of each output neuron's first spike (`None`:
    /// silent).
    fn first_spike_indices(&self, f: &Forward) -> Vec<Option<usize>> {
        let mut first = vec![None; *self.sizes.last().expect("an output layer")];
        for (index, s) in f.spikes.last().expect("an output layer").iter().enumerate() {
            let slot = &mut first[s.neuron as usize];
            if slot.is_none() {
                *slot = Some(index);
            }
        }
        first
    }

    /// First spike time of each output neuron (`None`: silent).
    fn first_spikes(&self, f: &Forward) -> Vec<Option<f64>> {
        let outputs = f.spikes.last().expect("an output layer");
        self.first_spike_indices(f)
            .into_iter()
            .map(|i| i.map(|i| outputs[i].t_ms))
            .collect()
    }

    /// The loss of a forward pass for `label`, its derivative with respect to each output
    /// quantity (maximum potential or first spike time), and the predicted class.
    fn loss_of(&self, f: &Forward, label: usize) -> (f64, Vec<f64>, Option<usize>) {
        match self.params.loss {
            Loss::MaxVoltage => {
                let v: Vec<f64> = f.maxima.iter().map(|m| m.v).collect();
                let (loss, d) = softmax_cross_entropy(&v, label);
                let predicted = argmax(&v);
                (loss, d, predicted)
            }
            Loss::FirstSpike {
                tau0_ms,
                alpha,
                tau1_ms,
            } => {
                let first = self.first_spikes(f);
                let t_end = self.params.t_end_ms;
                let t: Vec<f64> = first.iter().map(|t| t.unwrap_or(t_end)).collect();
                let scores: Vec<f64> = t.iter().map(|t| -t / tau0_ms).collect();
                let (ce, d_scores) = softmax_cross_entropy(&scores, label);
                let mut d: Vec<f64> = d_scores
                    .iter()
                    .zip(&first)
                    .map(|(ds, t)| if t.is_some() { -ds / tau0_ms } else { 0.0 })
                    .collect();
                let early = alpha * ((t[label] / tau1_ms).exp() - 1.0);
                if first[label].is_some() {
                    d[label] += alpha * (t[label] / tau1_ms).exp() / tau1_ms;
                }
                let predicted = first
                    .iter()
                    .enumerate()
                    .filter_map(|(k, t)| t.map(|t| (k, t)))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(k, _)| k);
                (ce + early, d, predicted)
            }
        }
    }

    /// Adds the gradient of the sample's loss with respect to the weights into `grads`.
    fn backward(&self, f: &Forward, d_out: &[f64], grads: &mut [f64]) {
        let tau_m = self.params.tau_mem_ms();
        let tau_s = self.params.tau_syn_ms;
        let off = self.offsets();
        let layers = self.sizes.len();
        let last = layers - 1;
        // Events in descending time; at equal times pseudo-spikes (maxima) first, then higher
        // layers first (a spike cannot depend on an input arriving at its own time).
        #[derive(Clone, Copy)]
        enum Ev {
            Spike { layer: usize, index: usize },
            Max { neuron: usize, t_ms: f64 },
        }
        let mut events: Vec<(f64, u8, usize, Ev)> = Vec::new();
        for (layer, list) in f.spikes.iter().enumerate() {
            for (index, s) in list.iter().enumerate() {
                events.push((s.t_ms, 1, layer, Ev::Spike { layer, index }));
            }
        }
        // Per output neuron: the derivative of the loss with respect to its first spike (for
        // the first-spike loss) or its maximum.
        let mut first_index: Vec<Option<usize>> = vec![None; self.sizes[last]];
        if self.params.loss == Loss::MaxVoltage {
            for (neuron, m) in f.maxima.iter().enumerate() {
                match m.at {
                    MaxAt::Start => {}
                    MaxAt::Smooth { t_ms, .. } => {
                        events.push((t_ms, 2, layers, Ev::Max { neuron, t_ms }))
                    }
                    MaxAt::Kink(k) => {
                        let t_ms = f.spikes[last - 1][k].t_ms;
                        events.push((t_ms, 2, layers, Ev::Max { neuron, t_ms }))
                    }
                }
            }
        } else {
            first_index = self.first_spike_indices(f);
        }
        events.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)));
        // Kink terms: g of the input spike at which output maxima sit (several outputs can
        // peak on the same input).
        let mut kink_g = vec![0.0; f.spikes[last - 1].len()];
        for (neuron, m) in f.maxima.iter().enumerate() {
            if let MaxAt::Kink(k) = m.at {
                kink_g[k] += d_out[neuron] * m.v_dot_after;
            }
        }
        // Rescaled accumulators per layer ≥ 1 and neuron: B_τ = Σ c_k e^{−t_k/τ}, so that
        // A_τ(t) = e^{t/τ} B_τ counts the spikes already processed (the later ones).
        let mut b_s: Vec<Vec<f64>> = self.sizes.iter().map(|&n| vec![0.0; n]).collect();
        let mut b_m: Vec<Vec<f64>> = b_s.clone();
        for &(t, _, _, ev) in &events {
            let (es, em) = ((t / tau_s).exp(), (t / tau_m).exp());
            match ev {
                Ev::Max { neuron, t_ms } => {
                    let c = -d_out[neuron];
                    b_s[last][neuron] += c * (-t_ms / tau_s).exp();
                    b_m[last][neuron] += c * (-t_ms / tau_m).exp();
                }
                Ev::Spike { layer, index } => {
                    let s = f.spikes[layer][index];
                    let j = s.neuron as usize;
                    let mut g = 0.0;
                    if layer < last {
                        // Onto every neuron of the next layer: weight gradient and the spike's
                        // own adjoint.
                        let n_in = self.sizes[layer];
                        let w0 = off[layer];
                        for n in 0..self.sizes[layer + 1] {
                            let a_s = es * b_s[layer + 1][n];
                            let a_m = em * b_m[layer + 1][n];
                            let wi = w0 + n * n_in + j;
                            grads[wi] += a_s - a_m;
                            g += self.weights[wi] * (a_s / tau_s - a_m / tau_m);
                        }
                        if layer + 1 == last {
                            g += kink_g[index];
                        }
                    }
                    if layer == 0 {
                        continue;
                    }
                    if layer == last && first_index[j] == Some(index) {
                        g += d_out[j];
                    }
                    // Resets: the later spikes of the same neuron.
                    g += THETA / tau_m * em * b_m[layer][j];
                    let c = g / s.v_dot;
                    b_s[layer][j] += c / es;
                    b_m[layer][j] += c / em;
                }
            }
        }
    }

    /// Loss, gradient (added into `grads`) and outcome of one sample.
    pub fn sample_gradient(
        &self,
        input: &[SampleSpike],
        label: usize,
        grads: &mut [f64],
    ) -> SampleOutcome {
        let f = self.forward(input);
        let (loss, d_out, predicted) = self.loss_of(&f, label);
        self.backward(&f, &d_out, grads);
        self.outcome(&f, loss, predicted)
    }

    /// Loss and outcome of one sample, without gradients.
    pub fn run_sample(&self, input: &[SampleSpike], label: usize) -> SampleOutcome {
        let f = self.forward(input);
        let (loss, _, predicted) = self.loss_of(&f, label);
        self.outcome(&f, loss, predicted)
    }

    fn outcome(&self, f: &Forward, loss: f64, predicted: Option<usize>) -> SampleOutcome {
        let spikes: Vec<u64> = f.spikes.iter().map(|s| s.len() as u64).collect();
        let synaptic_ops = spikes
            .iter()
            .zip(&self.sizes[1..])
            .map(|(s, &n)| s * n as u64)
            .sum();
        let decision_ms = match self.params.loss {
            Loss::MaxVoltage => self.params.t_end_ms,
            Loss::FirstSpike { .. } => f
                .spikes
                .last()
                .and_then(|s| s.first())
                .map_or(self.params.t_end_ms, |s| s.t_ms),
        };
        SampleOutcome {
            loss,
            predicted,
            spikes,
            synaptic_ops,
            decision_ms,
        }
    }

    /// What the loss is differentiable within: the spike count of every neuron, the number of
    /// presynaptic spikes before each spike, and where each
    /// output maximum lies (-1: at the start, `−2 − place` for a smooth maximum, `k ≥ 0` on
    /// input `k`'s kink). The
    /// loss is a smooth function of the weights while this stays the same; a finite
    /// difference across a change of it measures a jump, not a gradient. (Two local maxima
    /// of equal height swapping which is the global one also change it.)
    pub fn differentiable_signature(&self, input: &[SampleSpike]) -> Vec<i64> {
        let f = self.forward(input);
        let mut sig = Vec::new();
        for (l, spikes) in f.spikes.iter().enumerate().skip(1) {
            let mut counts = vec![0i64; self.sizes[l]];
            for s in spikes {
                counts[s.neuron as usize] += 1;
            }
            sig.extend(counts);
            // Each spike's place among its inputs: a spike passing an input changes which
            // inputs it depends on.
            let pre = &f.spikes[l - 1];
            sig.extend(
                spikes
                    .iter()
                    .map(|s| pre.partition_point(|p| p.t_ms < s.t_ms) as i64),
            );
        }
        sig.extend(f.maxima.iter().map(|m| match m.at {
            MaxAt::Start => -1,
            MaxAt::Smooth { place, .. } => -2 - place as i64,
            MaxAt::Kink(k) => k as i64,
        }));
        sig
    }

    /// The same network on the engine: an input population of `spike_times` generators, then
    /// one `lif_exp` population per layer (`τ_m = 2 τ_s`, rest and reset 0 mV, threshold
    /// 1 mV, no refractory period), all-to-all with these weights (as `f32`) and a delay of
    /// one tick. Under the max-voltage loss the output layer's threshold is 10⁹ mV: it never
    /// fires. Set the inputs with [`crate::network::NeuronKind::SpikeTimes`] on population 0.
    pub fn engine_network(&self) -> Result<crate::network::Network, LearnError> {
        use crate::network::NeuronKind;
        use crate::neuron::LifParams;
        use crate::neuron::lif_exp::ExpSynParams;
        let syn = ExpSynParams {
            tau_syn_ex_ms: self.params.tau_syn_ms,
            tau_syn_in_ms: self.params.tau_syn_ms,
        };
        let last = self.sizes.len() - 1;
        let kinds: Vec<NeuronKind> = (1..=last)
            .map(|l| {
                let silent = l == last && self.params.loss == Loss::MaxVoltage;
                let p = LifParams {
                    tau_m_ms: self.params.tau_mem_ms(),
                    v_rest_mv: 0.0,
                    v_reset_mv: 0.0,
                    v_th_mv: if silent { 1e9 } else { THETA },
                    t_ref: crate::Tick::ZERO,
                };
                NeuronKind::LifExp(p, syn)
            })
            .collect();
        let off = self.offsets();
        let dense: Vec<super::ann::Dense> = (0..last)
            .map(|l| super::ann::Dense {
                inputs: self.sizes[l],
                outputs: self.sizes[l + 1],
                weights: self.weights[off[l]..off[l + 1]]
                    .iter()
                    .map(|&w| w as f32)
                    .collect(),
            })
            .collect();
        super::convert::layered_network(&dense, &kinds)
    }

    /// Spike times of every layer (inputs first) for one sample, for tests and plots.
    pub fn spike_times(&self, input: &[SampleSpike]) -> Vec<Vec<SampleSpike>> {
        self.forward(input)
            .spikes
            .iter()
            .map(|l| l.iter().map(|s| (s.t_ms, s.neuron)).collect())
            .collect()
    }
}

/// Cross-entropy of a softmax over `scores` for `label`, and its gradient.
fn softmax_cross_entropy(scores: &[f64], label: usize) -> (f64, Vec<f64>) {
    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    let loss = -(scores[label] - max - sum.ln());
    let grad = exps
        .iter()
        .enumerate()
        .map(|(k, e)| e / sum - if k == label { 1.0 } else { 0.0 })
        .collect();
    (loss, grad)
}

fn argmax(v: &[f64]) -> Option<usize> {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
        .map(|(k, _)| k)
}

/// Samples as input spike lists (sorted by time) with labels.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SpikeDataset {
    /// One sorted spike list per sample.
    pub inputs: Vec<Vec<SampleSpike>>,
    /// One label per sample.
    pub labels: Vec<u8>,
    /// Input neurons.
    pub n_inputs: usize,
}

impl SpikeDataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `n` samples (all if there are fewer).
    pub fn take(&self, n: usize) -> SpikeDataset {
        let n = n.min(self.len());
        SpikeDataset {
            inputs: self.inputs[..n].to_vec(),
            labels: self.labels[..n].to_vec(),
            n_inputs: self.n_inputs,
        }
    }
}

/// Latency coding in continuous time: value `x > 0` spikes once at `(1 − x) t_max_ms`; zeros
/// never spike (as [`super::encode::latency`], without rounding to ticks).
pub fn latency_dataset(data: &Dataset, t_max_ms: f64) -> SpikeDataset {
    let n_inputs = data.inputs.first().map_or(0, |x| x.len());
    let inputs = data
        .inputs
        .iter()
        .map(|x| {
            let mut s: Vec<SampleSpike> = x
                .iter()
                .enumerate()
                .filter(|(_, v)| **v > 0.0)
                .map(|(k, &v)| ((1.0 - v.min(1.0) as f64) * t_max_ms, k as u32))
                .collect();
            s.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            s
        })
        .collect();
    SpikeDataset {
        inputs,
        labels: data.labels.clone(),
        n_inputs,
    }
}

/// Yin-Yang samples as 5 input spikes each ([`super::encode::YinYangTiming`] layout, in
/// continuous time): the 4 coordinates at `t_early + x (t_late − t_early)`, then the bias.
pub fn yin_yang_dataset(
    set: &super::data::YinYang,
    timing: &super::encode::YinYangTiming,
) -> SpikeDataset {
    let span = timing.t_late_ms - timing.t_early_ms;
    let inputs = set
        .samples
        .iter()
        .map(|x| {
            let mut s: Vec<SampleSpike> = x
                .iter()
                .enumerate()
                .map(|(k, &v)| (timing.t_early_ms + v.clamp(0.0, 1.0) * span, k as u32))
                .collect();
            s.push((timing.t_bias_ms, 4));
            s.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            s
        })
        .collect();
    SpikeDataset {
        inputs,
        labels: set.labels.clone(),
        n_inputs: 5,
    }
}

/// The Yin-Yang timing used with EventProp: coordinates between 0 and 20 ms, bias at 10 ms
/// (the proportions of Göltz et al. 2021 stretched to `τ_s` = 5 ms).
pub fn default_yin_yang_timing() -> super::encode::YinYangTiming {
    super::encode::YinYangTiming {
        t_early_ms: 0.0,
        t_late_ms: 20.0,
        t_bias_ms: 10.0,
    }
}

/// Accuracy and costs of a network on a data set.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Samples evaluated.
    pub samples: usize,
    /// Classified right.
    pub correct: usize,
    /// Mean loss.
    pub mean_loss: f64,
    /// Mean spikes per layer per sample, inputs first.
    pub spikes_per_sample: Vec<f64>,
    /// Mean synaptic operations per sample.
    pub synaptic_ops_per_sample: f64,
    /// Mean neuron-state updates per sample: one per synaptic operation and one per spike
    /// of a non-input layer (its reset).
    pub neuron_updates_per_sample: f64,
    /// Mean time of decision \[ms\].
    pub decision_ms: f64,
    /// Wall time.
    pub wall: Duration,
}

impl Evaluation {
    /// Fraction classified right.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.samples.max(1) as f64
    }
}

fn check_data(net: &EventPropNet, data: &SpikeDataset) -> Result<(), LearnError> {
    if data.n_inputs != net.sizes[0] {
        return Err(LearnError::InputSize {
            network: net.sizes[0],
            data: data.n_inputs,
        });
    }
    let classes = *net.sizes.last().expect("an output layer");
    if let Some(&l) = data.labels.iter().find(|&&l| l as usize >= classes) {
        return Err(LearnError::Config(format!(
            "eventprop: label {l} but the network has {classes} outputs"
        )));
    }
    Ok(())
}

/// Evaluates `net` on `data` with `threads` threads.
pub fn evaluate(
    net: &EventPropNet,
    data: &SpikeDataset,
    threads: usize,
) -> Result<Evaluation, LearnError> {
    check_data(net, data)?;
    let start = Instant::now();
    let all: Vec<usize> = (0..data.len()).collect();
    let sum = batch_gradients(&all, 0, threads, &mut GradientBuffers::default(), |i, _| {
        net.run_sample(&data.inputs[i], data.labels[i] as usize)
    });
    Ok(summarise(
        net,
        &sum.samples,
        &data.labels,
        &all,
        start.elapsed(),
    ))
}

fn summarise(
    net: &EventPropNet,
    outcomes: &[SampleOutcome],
    labels: &[u8],
    order: &[usize],
    wall: Duration,
) -> Evaluation {
    let n = outcomes.len().max(1) as f64;
    let mut spikes = vec![0.0; net.sizes.len()];
    let (mut correct, mut loss, mut ops, mut hidden_spikes, mut decision) = (0, 0.0, 0.0, 0.0, 0.0);
    for (o, &i) in outcomes.iter().zip(order) {
        if o.predicted == Some(labels[i] as usize) {
            correct += 1;
        }
        loss += o.loss;
        ops += o.synaptic_ops as f64;
        decision += o.decision_ms;
        for (a, &b) in spikes.iter_mut().zip(&o.spikes) {
            *a += b as f64;
        }
        hidden_spikes += o.spikes[1..].iter().sum::<u64>() as f64;
    }
    Evaluation {
        samples: outcomes.len(),
        correct,
        mean_loss: loss / n,
        spikes_per_sample: spikes.iter().map(|s| s / n).collect(),
        synaptic_ops_per_sample: ops / n,
        neuron_updates_per_sample: (ops + hidden_spikes) / n,
        decision_ms: decision / n,
        wall,
    }
}

/// One epoch of training, as reported.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean training loss over the epoch (weights changing as it went).
    pub train_loss: f64,
    /// Training accuracy over the epoch (weights changing as it went).
    pub train_accuracy: f64,
    /// Test accuracy after the epoch (if a test set was given).
    pub test: Option<Evaluation>,
    /// Wall time of the epoch's training.
    pub wall: Duration,
}

/// Progress of training: after each mini-batch (`samples done, of total, running accuracy`).
pub type Progress<'a> = &'a (dyn Fn(usize, usize, f64) + Sync);

/// Trains `net` on `train` for `net.params.epochs` epochs with Adam on shuffled mini-batches
/// whose samples run on `threads` threads (the result does not depend on `threads`), testing
/// on `test` after each epoch. `epoch_done` sees each epoch's report.
pub fn train(
    net: &mut EventPropNet,
    train: &SpikeDataset,
    test: Option<&SpikeDataset>,
    threads: usize,
    progress: Progress,
    epoch_done: &mut dyn FnMut(&EpochReport),
) -> Result<Vec<EpochReport>, LearnError> {
    use rand::seq::SliceRandom;
    net.params.validate()?;
    check_data(net, train)?;
    if let Some(t) = test {
        check_data(net, t)?;
    }
    let mut adam = Adam::new(net.weights.len(), net.params.adam);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(net.params.seed ^ 0x5eed_e7e4);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut reports = Vec::new();
    let mut buffers = GradientBuffers::default();
    for epoch in 1..=net.params.epochs {
        let start = Instant::now();
        order.shuffle(&mut rng);
        let (mut loss, mut correct, mut done) = (0.0, 0usize, 0usize);
        for batch in order.chunks(net.params.batch) {
            let frozen: &EventPropNet = net;
            let dropout = frozen.params.input_dropout;
            let seed = frozen.params.seed;
            let sum = batch_gradients(
                batch,
                frozen.weights.len(),
                threads,
                &mut buffers,
                |i, g| {
                    let label = train.labels[i] as usize;
                    if dropout > 0.0 {
                        use rand::RngExt;
                        // One stream per (epoch, sample): the same on any thread count.
                        let mut rng = Xoshiro256PlusPlus::seed_from_u64(
                            seed ^ ((epoch as u64) << 40)
                                ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                        );
                        let kept: Vec<SampleSpike> = train.inputs[i]
                            .iter()
                            .filter(|_| rng.random::<f64>() >= dropout)
                            .copied()
                            .collect();
                        frozen.sample_gradient(&kept, label, g)
                    } else {
                        frozen.sample_gradient(&train.inputs[i], label, g)
                    }
                },
            );
            for (o, &i) in sum.samples.iter().zip(batch) {
                loss += o.loss;
                correct += (o.predicted == Some(train.labels[i] as usize)) as usize;
            }
            done += batch.len();
            let scale = 1.0 / batch.len() as f64;
            let grads: Vec<f64> = sum.grads.iter().map(|g| g * scale).collect();
            adam.step(&mut net.weights, &grads);
            progress(done, train.len(), correct as f64 / done as f64);
        }
        let wall = start.elapsed();
        let test_eval = match test {
            Some(t) => Some(evaluate(net, t, threads)?),
            None => None,
        };
        let report = EpochReport {
            epoch,
            train_loss: loss / train.len().max(1) as f64,
            train_accuracy: correct as f64 / train.len().max(1) as f64,
            test: test_eval,
            wall,
        };
        epoch_done(&report);
        reports.push(report);
        adam.set_learning_rate(adam.learning_rate() * net.params.lr_decay);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Brute force: the potential of one neuron at time `t` from its inputs and own spikes,
    /// by the spike-response formula.
    fn srm_potential(inputs: &[(f64, f64)], own: &[f64], t: f64, tau_s: f64) -> f64 {
        let tau_m = 2.0 * tau_s;
        let k = |u: f64| (-u / tau_m).exp() - (-u / tau_s).exp();
        inputs
            .iter()
            .filter(|(s, _)| *s < t)
            .map(|(s, w)| w * k(t - s))
            .sum::<f64>()
            - own
                .iter()
                .filter(|r| **r < t)
                .map(|r| THETA * (-(t - r) / tau_m).exp())
                .sum::<f64>()
    }

    #[test]
    fn spike_times_match_a_fine_time_grid() {
        use rand::RngExt;
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        let params = EventPropParams {
            loss: Loss::FirstSpike {
                tau0_ms: 1.0,
                alpha: 0.0,
                tau1_ms: 1.0,
            },
            t_end_ms: 30.0,
            ..EventPropParams::default()
        };
        let mut fired = 0;
        for _ in 0..40 {
            let mut net = EventPropNet::new(&[6, 1], params).unwrap();
            for w in &mut net.weights {
                *w = rng.random_range(-2.0..6.0);
            }
            let mut input: Vec<SampleSpike> = (0..6)
                .map(|k| (rng.random_range(0.0..20.0), k as u32))
                .collect();
            input.sort_by(|a, b| a.0.total_cmp(&b.0));
            let got: Vec<f64> = net.spike_times(&input)[1].iter().map(|s| s.0).collect();
            // Brute force from the spike-response formula: scan a 1 µs grid for the first point
            // with V ≥ θ, then bisect between it and the previous point.
            let weighted: Vec<(f64, f64)> = input
                .iter()
                .map(|&(t, k)| (t, net.weights[k as usize]))
                .collect();
            let mut own: Vec<f64> = Vec::new();
            let dt = 1e-3;
            let mut step = 1u64;
            loop {
                let t = step as f64 * dt;
                if t >= 30.0 {
                    break;
                }
                if srm_potential(&weighted, &own, t, 5.0) >= THETA {
                    let (mut lo, mut hi) = ((step - 1) as f64 * dt, t);
                    for _ in 0..60 {
                        let mid = 0.5 * (lo + hi);
                        if srm_potential(&weighted, &own, mid, 5.0) >= THETA {
                            hi = mid;
                        } else {
                            lo = mid;
                        }
                    }
                    own.push(hi);
                }
                step += 1;
            }
            assert_eq!(
                got.len(),
                own.len(),
                "spikes {got:?} vs brute force {own:?}"
            );
            for (a, b) in got.iter().zip(&own) {
                assert!((a - b).abs() < 1e-9, "{a} vs {b}");
            }
            fired += got.len();
        }
        assert!(fired > 20, "the random cases should fire ({fired} spikes)");
    }

    #[test]
    fn crossing_root_solves_the_threshold_equation() {
        // V0 = 0.2, I0 = 5: V(x) = 5.2 x − 5 x² reaches 1 at the larger root.
        let x = crossing_x(0.2, 5.0, 0.0).unwrap();
        assert!((5.2 * x - 5.0 * x * x - 1.0).abs() < 1e-12);
        assert!(
            x > 5.2 / 10.0,
            "the earliest crossing is on the rising side"
        );
        // I0 = 3 peaks at 3.2² / 12 < 1: no crossing.
        assert_eq!(crossing_x(0.2, 3.0, 0.0), None);
        // A crossing after the next event (x below x_end) is not this interval's.
        assert_eq!(crossing_x(0.2, 5.0, 0.99), None);
        assert_eq!(crossing_x(0.9, -1.0, 0.0), None);
    }

    #[test]
    fn softmax_gradient_matches_differences() {
        let s = [0.3, -1.2, 2.0];
        let (_, g) = softmax_cross_entropy(&s, 1);
        for k in 0..3 {
            let h = 1e-6;
            let mut p = s;
            p[k] += h;
            let mut m = s;
            m[k] -= h;
            let fd = (softmax_cross_entropy(&p, 1).0 - softmax_cross_entropy(&m, 1).0) / (2.0 * h);
            assert!((fd - g[k]).abs() < 1e-8, "{fd} vs {}", g[k]);
        }
    }
}
