//! A ReLU multilayer perceptron without biases, trained with mini-batch SGD with momentum on
//! softmax cross-entropy: the network that [`super::convert`] turns into spiking neurons.
//!
//! Plain loops over `f32`; inputs are mostly zeros (MNIST), so the first layer skips them.
//! Reproducible for a given seed (initial weights and the order of samples per epoch).

use super::Dataset;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// A fully connected layer without bias: `out = W · in`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dense {
    /// Number of inputs.
    pub inputs: usize,
    /// Number of outputs.
    pub outputs: usize,
    /// Row-major `outputs × inputs`: the weights into output `o` are
    /// `weights[o * inputs..(o + 1) * inputs]`.
    pub weights: Vec<f32>,
}

impl Dense {
    /// The weights into output `o`.
    pub fn row(&self, o: usize) -> &[f32] {
        &self.weights[o * self.inputs..(o + 1) * self.inputs]
    }

    /// `W · x`, skipping zero inputs.
    pub fn apply(&self, x: &[f32], out: &mut Vec<f32>) {
        let nz = nonzero(x);
        out.clear();
        out.extend((0..self.outputs).map(|o| {
            let row = self.row(o);
            nz.iter().map(|&i| row[i] * x[i]).sum::<f32>()
        }));
    }
}

/// Indices of the non-zero entries of `x`.
fn nonzero(x: &[f32]) -> Vec<usize> {
    (0..x.len()).filter(|&i| x[i] != 0.0).collect()
}

/// A ReLU multilayer perceptron: ReLU after every layer but the last, whose outputs are the
/// class scores.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Mlp {
    /// Layers from input to output.
    pub layers: Vec<Dense>,
}

/// Training settings.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Samples per gradient step.
    pub batch_size: usize,
    /// Step size.
    pub learning_rate: f32,
    /// Momentum of the velocity (0: plain SGD).
    pub momentum: f32,
    /// L2 penalty on the weights.
    pub weight_decay: f32,
    /// Seed of the shuffling.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 20,
            batch_size: 32,
            learning_rate: 0.05,
            momentum: 0.9,
            weight_decay: 1e-4,
            seed: 1,
        }
    }
}

/// What one epoch did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Mean cross-entropy over the epoch's samples (before each step).
    pub loss: f64,
    /// Fraction of the epoch's samples classified right (before each step).
    pub train_accuracy: f64,
}

/// Index of the largest value; the first on ties (NaN never wins).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

impl Mlp {
    /// A network with layer sizes `sizes` (input first), He-initialised from `seed`.
    pub fn new(sizes: &[usize], seed: u64) -> Mlp {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let layers = sizes
            .windows(2)
            .map(|w| {
                let std = (2.0 / w[0] as f64).sqrt();
                let weights = (0..w[0] * w[1])
                    .map(|_| {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        (z * std) as f32
                    })
                    .collect();
                Dense {
                    inputs: w[0],
                    outputs: w[1],
                    weights,
                }
            })
            .collect();
        Mlp { layers }
    }

    /// Layer sizes, input first.
    pub fn sizes(&self) -> Vec<usize> {
        let mut s: Vec<usize> = self.layers.first().map(|l| l.inputs).into_iter().collect();
        s.extend(self.layers.iter().map(|l| l.outputs));
        s
    }

    /// Multiply-accumulates of one dense forward pass.
    pub fn macs(&self) -> u64 {
        self.layers
            .iter()
            .map(|l| (l.inputs * l.outputs) as u64)
            .sum()
    }

    /// Every layer's output for input `x`: ReLU activations of the hidden layers, then the
    /// class scores.
    pub fn activations(&self, x: &[f32]) -> Vec<Vec<f32>> {
        let mut acts: Vec<Vec<f32>> = Vec::with_capacity(self.layers.len());
        for (k, layer) in self.layers.iter().enumerate() {
            let input = if k == 0 { x } else { &acts[k - 1] };
            let mut out = Vec::new();
            layer.apply(input, &mut out);
            if k + 1 < self.layers.len() {
                out.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            acts.push(out);
        }
        acts
    }

    /// The class scores for `x`.
    pub fn scores(&self, x: &[f32]) -> Vec<f32> {
        self.activations(x).pop().unwrap_or_default()
    }

    /// The predicted class of `x`.
    pub fn predict(&self, x: &[f32]) -> usize {
        argmax(&self.scores(x))
    }

    /// Fraction of `data` classified right.
    pub fn accuracy(&self, data: &Dataset) -> f64 {
        if data.is_empty() {
            return 0.0;
        }
        let right = data
            .inputs
            .iter()
            .zip(&data.labels)
            .filter(|(x, l)| self.predict(x) == **l as usize)
            .count();
        right as f64 / data.len() as f64
    }

    /// Trains on `data` for `cfg.epochs` epochs, calling `on_epoch` after each.
    pub fn train(
        &mut self,
        data: &Dataset,
        cfg: &TrainConfig,
        mut on_epoch: impl FnMut(&EpochReport),
    ) {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
        let mut velocity: Vec<Vec<f32>> = self
            .layers
            .iter()
            .map(|l| vec![0.0; l.weights.len()])
            .collect();
        let mut grads = velocity.clone();
        let mut order: Vec<usize> = (0..data.len()).collect();
        let batch = cfg.batch_size.max(1);
        for epoch in 1..=cfg.epochs {
            order.shuffle(&mut rng);
            let (mut loss, mut right) = (0.0f64, 0usize);
            for chunk in order.chunks(batch) {
                grads.iter_mut().for_each(|g| g.fill(0.0));
                for &s in chunk {
                    let (l, ok) =
                        self.accumulate(&data.inputs[s], data.labels[s] as usize, &mut grads);
                    loss += l;
                    right += ok as usize;
                }
                let scale = 1.0 / chunk.len() as f32;
                for ((layer, v), g) in self.layers.iter_mut().zip(&mut velocity).zip(&grads) {
                    for ((w, v), g) in layer.weights.iter_mut().zip(v.iter_mut()).zip(g) {
                        *v = cfg.momentum * *v
                            - cfg.learning_rate * (g * scale + cfg.weight_decay * *w);
                        *w += *v;
                    }
                }
            }
            on_epoch(&EpochReport {
                epoch,
                loss: loss / data.len().max(1) as f64,
                train_accuracy: right as f64 / data.len().max(1) as f64,
            });
        }
    }

    /// Adds the cross-entropy gradient of one sample to `grads`; returns its loss and
    /// whether it was classified right.
    fn accumulate(&self, x: &[f32], label: usize, grads: &mut [Vec<f32>]) -> (f64, bool) {
        let acts = self.activations(x);
        let scores = acts.last().expect("at least one layer");
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
        let sum: f32 = exp.iter().sum();
        let loss = -((exp[label] / sum).max(1e-30) as f64).ln();
        let ok = argmax(scores) == label;
        // delta = softmax - one-hot, then back through the layers.
        let mut delta: Vec<f32> = exp.iter().map(|e| e / sum).collect();
        delta[label] -= 1.0;
        for k in (0..self.layers.len()).rev() {
            let layer = &self.layers[k];
            let input = if k == 0 { x } else { &acts[k - 1] };
            let nz = nonzero(input);
            for (o, &d) in delta.iter().enumerate() {
                if d == 0.0 {
                    continue;
                }
                let g = &mut grads[k][o * layer.inputs..(o + 1) * layer.inputs];
                for &i in &nz {
                    g[i] += d * input[i];
                }
            }
            if k > 0 {
                let mut back = vec![0.0f32; layer.inputs];
                for (o, &d) in delta.iter().enumerate() {
                    if d == 0.0 {
                        continue;
                    }
                    for (b, &w) in back.iter_mut().zip(layer.row(o)) {
                        *b += w * d;
                    }
                }
                // ReLU derivative of the layer below.
                for (b, &a) in back.iter_mut().zip(&acts[k - 1]) {
                    if a <= 0.0 {
                        *b = 0.0;
                    }
                }
                delta = back;
            }
        }
        (loss, ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn gradient_matches_finite_differences() {
        let mlp = Mlp::new(&[5, 4, 3], 3);
        let x = [0.3f32, 0.0, 0.9, 0.5, 0.1];
        let label = 2;
        let mut grads: Vec<Vec<f32>> = mlp
            .layers
            .iter()
            .map(|l| vec![0.0; l.weights.len()])
            .collect();
        mlp.accumulate(&x, label, &mut grads);
        let loss = |m: &Mlp| {
            let s = m.scores(&x);
            let max = s.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let sum: f64 = s.iter().map(|&v| (v as f64 - max).exp()).sum();
            -(s[label] as f64 - max - sum.ln())
        };
        for (k, layer_grads) in grads.iter().enumerate() {
            for (j, &analytic) in layer_grads.iter().enumerate() {
                let h = 1e-3;
                let mut a = mlp.clone();
                a.layers[k].weights[j] += h;
                let mut b = mlp.clone();
                b.layers[k].weights[j] -= h;
                let numeric = (loss(&a) - loss(&b)) / (2.0 * h as f64);
                let analytic = analytic as f64;
                assert!(
                    (numeric - analytic).abs() < 2e-3,
                    "layer {k} weight {j}: numeric {numeric}, analytic {analytic}"
                );
            }
        }
    }

    #[test]
    fn learns_a_linearly_separable_toy_problem() {
        // Class = which of two inputs is larger; an untrained net is near chance.
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
        let mut data = Dataset::default();
        for _ in 0..400 {
            let a: f32 = rng.random();
            let b: f32 = rng.random();
            data.inputs.push(vec![a, b, 1.0]);
            data.labels.push((b > a) as u8);
        }
        let mut mlp = Mlp::new(&[3, 16, 2], 1);
        let cfg = TrainConfig {
            epochs: 30,
            ..TrainConfig::default()
        };
        let mut last = None;
        mlp.train(&data, &cfg, |r| last = Some(*r));
        assert!(mlp.accuracy(&data) > 0.95, "{}", mlp.accuracy(&data));
        assert_eq!(last.map(|r| r.epoch), Some(30));
        assert_eq!(mlp.macs(), 3 * 16 + 16 * 2);
        assert_eq!(mlp.sizes(), vec![3, 16, 2]);
    }
}
