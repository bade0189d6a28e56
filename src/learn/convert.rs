//! ANN-to-SNN conversion (Diehl et al. 2015; Rueckauer et al. 2017) and time-to-first-spike
//! conversion, run event by event on the engine.
//!
//! **Rate conversion.** Each ReLU unit becomes a non-leaky integrate-and-fire neuron
//! (`iaf_nonleaky`, threshold 1 mV, reset by subtraction, no refractory period), each weight
//! a delta synapse of one tick delay. With data-based normalisation, layer `l`'s weights are
//! `W_l · λ_{l-1} / λ_l`, where `λ_l` is a high percentile (99.9th by default) of layer `l`'s
//! positive activations on training data and `λ_0 = 1` (inputs in `[0, 1]`). An input of
//! intensity `x` fires at `x · max_rate`; a neuron then fires at about `max_rate · a / λ`,
//! where `a` is its ANN activation, and reset by subtraction keeps the surplus, so its count
//! tracks the integrated input. In continuous (1 ns) time no rate saturates at one spike per
//! step, so normalisation sets the rate scale rather than preventing saturation.
//! The class is the output neuron with the most spikes; ties go to the higher membrane
//! potential (with reset by subtraction, count + potential is the integrated input), then to
//! the earlier first spike, then to the lower index.
//!
//! **Time-to-first-spike conversion.** Inputs are latency coded (bright pixels first, see
//! [`super::encode::latency`]); hidden neurons are the same integrators with one threshold per
//! layer and an infinite refractory period, so each fires at most once, when the weighted sum
//! of the inputs that have arrived first reaches its threshold. The class is the output neuron
//! that fires first (none: no class, counted as wrong). Output neurons reset by subtraction without refractoriness, so one that
//! is far above threshold fires again on the following ticks: ties at the first spike go to
//! the neuron with more spikes (the larger potential), then to the higher residual potential,
//! then to the lower index. Thresholds are chosen on training data ([`tune_ttfs`]).
//!
//! **Cost.** Per classified sample: synaptic events delivered (the engine's counters), spikes
//! per population, and the dense ANN's multiply-accumulates for comparison. Each synaptic
//! event updates one neuron's state; the engine does not count state updates separately.

use super::ann::{Dense, Mlp};
use super::encode::SpikeTrains;
use super::{Dataset, LearnError};
use crate::Tick;
use crate::engine::Simulation;
use crate::network::{ConnectRule, Dist, Network, NetworkBuilder, NeuronKind};
use crate::neuron::iaf::{IafParams, IafReset};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The default percentile of positive activations used as a layer's scale (Rueckauer 2017).
pub const DEFAULT_PERCENTILE: f64 = 99.9;

/// The `p`-th percentile (0–100, nearest rank) of `values`, which it sorts; `None` if empty.
pub fn percentile(values: &mut [f32], p: f64) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f32::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

/// Per layer, the `p`-th percentile of its positive activations over `data` (1 for a layer
/// that is never positive).
pub fn activation_scales(mlp: &Mlp, data: &Dataset, p: f64) -> Vec<f32> {
    let mut per_layer: Vec<Vec<f32>> = vec![Vec::new(); mlp.layers.len()];
    for x in &data.inputs {
        for (k, a) in mlp.activations(x).into_iter().enumerate() {
            per_layer[k].extend(a.into_iter().filter(|&v| v > 0.0));
        }
    }
    per_layer
        .iter_mut()
        .map(|v| percentile(v, p).unwrap_or(1.0))
        .collect()
}

/// The weights of `mlp` normalised with `scales`: layer `l` times `λ_{l-1} / λ_l`, `λ_0 = 1`.
pub fn normalize(mlp: &Mlp, scales: &[f32]) -> Vec<Dense> {
    mlp.layers
        .iter()
        .enumerate()
        .map(|(k, l)| {
            let prev = if k == 0 { 1.0 } else { scales[k - 1] };
            let f = prev / scales[k];
            Dense {
                weights: l.weights.iter().map(|w| w * f).collect(),
                ..l.clone()
            }
        })
        .collect()
}

/// How the output layer is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readout {
    /// Most spikes; ties: higher potential, earlier first spike, lower index.
    SpikeCount,
    /// Earliest first spike; ties: more spikes, higher potential, lower index; no class
    /// without an output spike.
    FirstSpike,
}

/// A converted network, ready to classify one sample per simulation.
#[derive(Clone, Debug)]
pub struct SpikingClassifier {
    template: Network,
    sizes: Vec<usize>,
    readout: Readout,
    macs: u64,
}

/// What one classification cost and decided at one checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The predicted class; `None` when a first-spike readout saw no output spike.
    pub predicted: Option<usize>,
    /// Synaptic events delivered since the start (synaptic operations).
    pub synaptic_events: u64,
    /// Spikes per population since the start: input, hidden layers, output.
    pub spikes: Vec<u64>,
    /// The earliest output spike since the start (`None` if the output has not fired): when
    /// a first-spike readout decided.
    pub first_output_spike: Option<Tick>,
}

impl SpikingClassifier {
    /// Builds the network: an input population of `spike_times` generators, then one
    /// `iaf_nonleaky` population per layer of `weights`, all-to-all with those weights and a
    /// delay of one tick. `params[k]` are layer `k`'s neuron parameters.
    fn build(
        weights: &[Dense],
        params: &[IafParams],
        readout: Readout,
    ) -> Result<Self, LearnError> {
        let n_in = weights.first().map_or(0, |l| l.inputs);
        let kinds: Vec<NeuronKind> = params.iter().map(|p| NeuronKind::NonLeakyIaf(*p)).collect();
        let net = layered_network(weights, &kinds)?;
        let mut sizes = vec![n_in];
        sizes.extend(weights.iter().map(|l| l.outputs));
        Ok(SpikingClassifier {
            template: net,
            sizes,
            readout,
            macs: weights.iter().map(|l| (l.inputs * l.outputs) as u64).sum(),
        })
    }

    /// Rate conversion of `mlp` with activation scales `scales` (see the module docs).
    pub fn rate(mlp: &Mlp, scales: &[f32]) -> Result<Self, LearnError> {
        check_scales(mlp, scales)?;
        let p = IafParams {
            v_reset_mv: 0.0,
            v_th_mv: 1.0,
            t_ref: Tick::ZERO,
            reset: IafReset::Subtract,
        };
        Self::build(
            &normalize(mlp, scales),
            &vec![p; mlp.layers.len()],
            Readout::SpikeCount,
        )
    }

    /// Time-to-first-spike conversion with threshold `hidden_th_mv` in the hidden layers and
    /// `output_th_mv` in the output layer, on weights normalised with `scales`.
    pub fn ttfs(
        mlp: &Mlp,
        scales: &[f32],
        hidden_th_mv: f64,
        output_th_mv: f64,
    ) -> Result<Self, LearnError> {
        check_scales(mlp, scales)?;
        if !(hidden_th_mv > 0.0 && output_th_mv > 0.0) {
            return Err(LearnError::Config(format!(
                "thresholds must be positive, got {hidden_th_mv} and {output_th_mv} mV"
            )));
        }
        let n = mlp.layers.len();
        let params: Vec<IafParams> = (0..n)
            .map(|k| {
                if k + 1 < n {
                    IafParams {
                        v_reset_mv: 0.0,
                        v_th_mv: hidden_th_mv,
                        t_ref: Tick::MAX,
                        reset: IafReset::ToValue,
                    }
                } else {
                    IafParams {
                        v_reset_mv: 0.0,
                        v_th_mv: output_th_mv,
                        t_ref: Tick::ZERO,
                        reset: IafReset::Subtract,
                    }
                }
            })
            .collect();
        Self::build(&normalize(mlp, scales), &params, Readout::FirstSpike)
    }

    /// Layer sizes, input first.
    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Multiply-accumulates of the equivalent dense ANN pass.
    pub fn ann_macs(&self) -> u64 {
        self.macs
    }

    /// The built network (input population without spikes).
    pub fn network(&self) -> &Network {
        &self.template
    }

    /// Simulates one sample given as input spike trains and classifies it at each of
    /// `checkpoints` (increasing).
    pub fn classify(
        &self,
        inputs: SpikeTrains,
        checkpoints: &[Tick],
    ) -> Result<Vec<Outcome>, LearnError> {
        if inputs.len() != self.sizes[0] {
            return Err(LearnError::InputSize {
                network: self.sizes[0],
                data: inputs.len(),
            });
        }
        let mut net = self.template.clone();
        net.def.populations[0].kind = NeuronKind::SpikeTimes(inputs);
        let out = net
            .populations
            .last()
            .expect("an output population")
            .clone();
        let mut sim = Simulation::new(net, 1)?;
        let mut sink = super::OutputCounts::new(out.first, out.size as usize);
        let mut outcomes = Vec::with_capacity(checkpoints.len());
        for &t in checkpoints {
            sim.run_until(t, &mut sink)?;
            let potential: Vec<f64> = out.ids().map(|n| sim.potential_mv(n)).collect();
            let better = |a: usize, b: usize| -> bool {
                // Whether output `a` beats output `b` (a > b in index).
                let (ca, cb) = (sink.counts[a], sink.counts[b]);
                let (pa, pb) = (potential[a], potential[b]);
                let (fa, fb) = (sink.first_tick[a], sink.first_tick[b]);
                match self.readout {
                    Readout::SpikeCount => {
                        (ca, pa, std::cmp::Reverse(fa)).partial_cmp(&(
                            cb,
                            pb,
                            std::cmp::Reverse(fb),
                        )) == Some(std::cmp::Ordering::Greater)
                    }
                    Readout::FirstSpike => {
                        (std::cmp::Reverse(fa), ca, pa).partial_cmp(&(
                            std::cmp::Reverse(fb),
                            cb,
                            pb,
                        )) == Some(std::cmp::Ordering::Greater)
                    }
                }
            };
            let mut best = 0;
            for k in 1..sink.counts.len() {
                if better(k, best) {
                    best = k;
                }
            }
            let silent = sink.counts.iter().all(|&c| c == 0);
            let predicted = (self.readout == Readout::SpikeCount || !silent).then_some(best);
            let counters = sim.counters();
            outcomes.push(Outcome {
                predicted,
                synaptic_events: counters.iter().map(|c| c.synaptic_events).sum(),
                spikes: counters.iter().map(|c| c.spikes).collect(),
                first_output_spike: sink
                    .first_tick
                    .iter()
                    .copied()
                    .min()
                    .filter(|&t| t != Tick::MAX),
            });
        }
        Ok(outcomes)
    }
}

fn check_scales(mlp: &Mlp, scales: &[f32]) -> Result<(), LearnError> {
    if scales.len() != mlp.layers.len() || scales.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(LearnError::Config(format!(
            "need one positive scale per layer ({}), got {scales:?}",
            mlp.layers.len()
        )));
    }
    Ok(())
}

/// Writes `weights[k]` into the synapses from population `k` to population `k + 1` of the
/// all-to-all network `net` (built with placeholder weights).
/// A feed-forward network on the engine: an input population of `spike_times` generators
/// (named `input`), then one population of `kinds[k]` per layer of `weights` (`hidden1`, ...,
/// `output`), all-to-all with those weights and a delay of one tick.
pub(crate) fn layered_network(
    weights: &[Dense],
    kinds: &[NeuronKind],
) -> Result<Network, LearnError> {
    let mut b = NetworkBuilder::new();
    let n_in = weights.first().map_or(0, |l| l.inputs);
    let mut pops = vec![b.population("input", n_in as u32, NeuronKind::SpikeTimes(Vec::new()))];
    for (k, (l, kind)) in weights.iter().zip(kinds).enumerate() {
        let name = if k + 1 == weights.len() {
            "output".to_string()
        } else {
            format!("hidden{}", k + 1)
        };
        let pop = b.population(&name, l.outputs as u32, kind.clone());
        // Weights are set below, synapse by synapse; the delay is one tick.
        b.connect(
            pops[k],
            pop,
            ConnectRule::AllToAll,
            Dist::Const(0.0),
            Dist::Const(1e-6),
        );
        pops.push(pop);
    }
    let mut net = b.build(1)?;
    set_weights(&mut net, weights)?;
    Ok(net)
}

fn set_weights(net: &mut Network, weights: &[Dense]) -> Result<(), LearnError> {
    let conn = &mut net.connectivity;
    for (k, layer) in weights.iter().enumerate() {
        let (from, to) = (&net.populations[k], &net.populations[k + 1]);
        let mut set = 0usize;
        for src in from.ids() {
            let i = (src - from.first) as usize;
            let groups = conn.groups_of(src).to_vec();
            for g in groups {
                for s in g.start..g.end {
                    let o = (conn.targets[s] - to.first) as usize;
                    conn.weights[s] = layer.weights[o * layer.inputs + i];
                    set += 1;
                }
            }
        }
        if set != layer.weights.len() || layer.weights.iter().any(|w| !w.is_finite()) {
            return Err(LearnError::Config(format!(
                "layer {k}: {set} synapses for {} finite weights",
                layer.weights.len()
            )));
        }
    }
    Ok(())
}

/// Results of classifying a data set, per checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Evaluation {
    /// Simulated times at which the samples were classified.
    pub checkpoints: Vec<Tick>,
    /// Samples classified.
    pub samples: usize,
    /// Per checkpoint: samples classified right.
    pub correct: Vec<usize>,
    /// Per checkpoint: samples without a class (first-spike readout, no output spike);
    /// counted as wrong.
    pub undecided: Vec<usize>,
    /// Per checkpoint: synaptic events per sample, averaged.
    pub synaptic_events_per_sample: Vec<f64>,
    /// Per checkpoint, per population: spikes per sample, averaged.
    pub spikes_per_sample: Vec<Vec<f64>>,
    /// Per checkpoint: the time of the first output spike \[ms\], averaged over the samples
    /// whose output fired by then (`None` if none did): a first-spike readout's time to
    /// decision.
    pub first_output_ms: Vec<Option<f64>>,
    /// Wall time of the whole evaluation.
    pub wall: Duration,
}

impl Evaluation {
    /// Per checkpoint: fraction classified right.
    pub fn accuracy(&self) -> Vec<f64> {
        self.correct
            .iter()
            .map(|&c| c as f64 / self.samples.max(1) as f64)
            .collect()
    }
}

/// Classifies every sample of `data` at each checkpoint, on `threads` threads (each sample its
/// own simulation; the result does not depend on the thread count). `encode(index, values)`
/// makes a sample's input trains (seed any randomness from the index). `progress(done,
/// correct)` is called after each sample, with the count right at the last checkpoint so far.
pub fn evaluate(
    classifier: &SpikingClassifier,
    data: &Dataset,
    encode: &(dyn Fn(usize, &[f32]) -> SpikeTrains + Sync),
    checkpoints: &[Tick],
    threads: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Evaluation, LearnError> {
    if checkpoints.is_empty() || checkpoints.windows(2).any(|w| w[0] >= w[1]) {
        return Err(LearnError::Config(
            "checkpoints must be a non-empty increasing list".into(),
        ));
    }
    let start = Instant::now();
    let n = data.len();
    let pops = classifier.sizes.len();
    // One sample per range: threads take the next sample when done.
    let samples: Vec<(usize, usize)> = (0..n).map(|i| (i, i + 1)).collect();
    let done = AtomicUsize::new(0);
    let right_last = AtomicUsize::new(0);
    let results = super::run_chunks(
        &samples,
        threads,
        &|i, _| classifier.classify(encode(i, &data.inputs[i]), checkpoints),
        &|o: &Vec<Outcome>, (i, _)| {
            let ok = o
                .last()
                .is_some_and(|o| o.predicted == Some(data.labels[i] as usize));
            let r = right_last.fetch_add(ok as usize, Ordering::Relaxed) + ok as usize;
            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(d, r);
        },
    )?;
    let k = checkpoints.len();
    let mut correct = vec![0usize; k];
    let mut silent = vec![0usize; k];
    let mut syn = vec![0f64; k];
    let mut spikes = vec![vec![0f64; pops]; k];
    let mut first_ms = vec![(0f64, 0usize); k];
    for (i, outcomes) in results.iter().enumerate() {
        for (c, o) in outcomes.iter().enumerate() {
            if let Some(t) = o.first_output_spike {
                first_ms[c].0 += t.as_ms();
                first_ms[c].1 += 1;
            }
            correct[c] += (o.predicted == Some(data.labels[i] as usize)) as usize;
            silent[c] += o.predicted.is_none() as usize;
            syn[c] += o.synaptic_events as f64;
            for (p, &s) in o.spikes.iter().enumerate() {
                spikes[c][p] += s as f64;
            }
        }
    }
    let per = |v: f64| v / n.max(1) as f64;
    Ok(Evaluation {
        checkpoints: checkpoints.to_vec(),
        samples: n,
        correct,
        undecided: silent,
        synaptic_events_per_sample: syn.into_iter().map(per).collect(),
        spikes_per_sample: spikes
            .into_iter()
            .map(|v| v.into_iter().map(per).collect())
            .collect(),
        first_output_ms: first_ms
            .into_iter()
            .map(|(sum, n)| (n > 0).then(|| sum / n as f64))
            .collect(),
        wall: start.elapsed(),
    })
}

/// The threshold grid (hidden, output) \[mV\] that `learn convert` and `learn compare` tune
/// TTFS conversion over: hidden 0.1–0.75, output 0.25–2 (on MNIST with 99.9th-percentile
/// scales the pair chosen, 0.3 / 0.5 mV, lies inside it).
pub fn default_ttfs_grid() -> Vec<(f64, f64)> {
    [0.1, 0.2, 0.3, 0.5, 0.75]
        .iter()
        .flat_map(|&h| [0.25, 0.5, 1.0, 2.0].map(|o| (h, o)))
        .collect()
}

/// The TTFS thresholds (hidden, output) \[mV\] from `grid` that classify `data` best, with
/// that accuracy; ties go to the earlier pair in the grid. Inputs are latency coded over
/// `t_max` and classified at `t_end`.
pub fn tune_ttfs(
    mlp: &Mlp,
    scales: &[f32],
    data: &Dataset,
    grid: &[(f64, f64)],
    t_max: Tick,
    t_end: Tick,
    threads: usize,
) -> Result<((f64, f64), f64), LearnError> {
    let mut best: Option<((f64, f64), f64)> = None;
    for &(h, o) in grid {
        let c = SpikingClassifier::ttfs(mlp, scales, h, o)?;
        let enc = |_: usize, x: &[f32]| super::encode::latency(x, t_max);
        let e = evaluate(&c, data, &enc, &[t_end], threads, &|_, _| {})?;
        let acc = e.accuracy()[0];
        if best.is_none_or(|(_, a)| acc > a) {
            best = Some(((h, o), acc));
        }
    }
    best.ok_or_else(|| LearnError::Config("empty threshold grid".into()))
}
