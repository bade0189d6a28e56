//! Gradient-based training helpers shared by the spike-time gradient methods: the Adam
//! optimiser and mini-batch gradients whose samples run in parallel.
//!
//! Owns: parameter updates from gradients and the summation of per-sample gradients over a
//! mini-batch. Must not touch: networks, losses or data; callers hand in flat `f64` parameter
//! and gradient slices and a per-sample closure.
//!
//! Why `f64`: the exact-gradient methods are checked against central finite differences to
//! 1e-6 relative, which single precision cannot resolve.

use serde::{Deserialize, Serialize};

/// Settings of [`Adam`] (Kingma & Ba 2015, "Adam: a method for stochastic optimization").
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamParams {
    /// Step size.
    pub learning_rate: f64,
    /// Decay of the first-moment estimate.
    pub beta1: f64,
    /// Decay of the second-moment estimate.
    pub beta2: f64,
    /// Added to the root of the second moment, against division by zero.
    pub epsilon: f64,
}

impl Default for AdamParams {
    /// The paper's defaults with a step of 1e-3.
    fn default() -> Self {
        AdamParams {
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        }
    }
}

/// The Adam optimiser's state for one flat parameter vector.
#[derive(Clone, Debug)]
pub struct Adam {
    p: AdamParams,
    m: Vec<f64>,
    v: Vec<f64>,
    steps: i32,
}

impl Adam {
    /// Fresh moments for `n` parameters.
    pub fn new(n: usize, p: AdamParams) -> Adam {
        Adam {
            p,
            m: vec![0.0; n],
            v: vec![0.0; n],
            steps: 0,
        }
    }

    /// The current step size (changed by schedules between epochs).
    pub fn learning_rate(&self) -> f64 {
        self.p.learning_rate
    }

    /// Sets the step size, keeping the moments.
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.p.learning_rate = lr;
    }

    /// One descent step: `params -= lr · m̂ / (√v̂ + ε)` with bias-corrected moments.
    pub fn step(&mut self, params: &mut [f64], grads: &[f64]) {
        assert_eq!(params.len(), self.m.len(), "parameter count changed");
        assert_eq!(grads.len(), self.m.len(), "gradient count differs");
        self.steps = self.steps.saturating_add(1);
        let AdamParams {
            learning_rate,
            beta1,
            beta2,
            epsilon,
        } = self.p;
        let c1 = 1.0 - beta1.powi(self.steps);
        let c2 = 1.0 - beta2.powi(self.steps);
        for (((w, &g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(&mut self.m)
            .zip(&mut self.v)
        {
            *m = beta1 * *m + (1.0 - beta1) * g;
            *v = beta2 * *v + (1.0 - beta2) * g * g;
            *w -= learning_rate * (*m / c1) / ((*v / c2).sqrt() + epsilon);
        }
    }
}

/// The batch is cut into this many fixed parts, whatever the thread count, so that sums (and
/// therefore training runs) are bit-identical on any number of threads.
const BATCH_PARTS: usize = 8;

/// What a mini-batch's samples add up to.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchSum<S> {
    /// Sum of the per-sample gradients.
    pub grads: Vec<f64>,
    /// Per-sample results (loss, correctness, costs), in the batch's order.
    pub samples: Vec<S>,
}

/// Reusable per-part gradient buffers for [`batch_gradients`], kept by a training loop from
/// batch to batch: a network's buffers are megabytes, and fresh ones per batch cost a page
/// fault per 4 KiB (measured: over a third of a TTFS training run's CPU time was the kernel
/// zeroing pages).
#[derive(Debug, Default)]
pub struct GradientBuffers {
    parts: Vec<Vec<f64>>,
}

/// Sums `per_sample(sample, grads)` over `batch` with up to `threads` crossbeam threads.
///
/// `per_sample` adds its sample's gradient into the slice it is given (of length `n_params`)
/// and returns what the caller wants to know of the sample. The batch is split into
/// `BATCH_PARTS` (8) contiguous parts; each part accumulates in sample order (in a zeroed
/// buffer of `buffers`) and the parts are added in order, so the result does not depend on
/// `threads`.
pub fn batch_gradients<S, F>(
    batch: &[usize],
    n_params: usize,
    threads: usize,
    buffers: &mut GradientBuffers,
    per_sample: F,
) -> BatchSum<S>
where
    S: Send,
    F: Fn(usize, &mut [f64]) -> S + Sync,
{
    let parts = BATCH_PARTS.min(batch.len()).max(1);
    if buffers.parts.len() < parts {
        buffers.parts.resize_with(parts, Vec::new);
    }
    let run_part = |k: usize, g: &mut Vec<f64>| {
        g.clear();
        g.resize(n_params, 0.0);
        let (lo, hi) = (k * batch.len() / parts, (k + 1) * batch.len() / parts);
        batch[lo..hi]
            .iter()
            .map(|&i| per_sample(i, g))
            .collect::<Vec<S>>()
    };
    let mut results: Vec<Option<Vec<S>>> = (0..parts).map(|_| None).collect();
    if threads <= 1 || parts == 1 {
        for (k, g) in buffers.parts.iter_mut().take(parts).enumerate() {
            results[k] = Some(run_part(k, g));
        }
    } else {
        // Parts are handed out in order; which thread takes which does not matter.
        let queue = std::sync::Mutex::new(buffers.parts.iter_mut().take(parts).enumerate());
        let done = std::sync::Mutex::new(&mut results);
        crossbeam::scope(|scope| {
            for _ in 0..threads.min(parts) {
                scope.spawn(|_| {
                    loop {
                        let next = queue.lock().expect("no poisoned lock").next();
                        let Some((k, g)) = next else { return };
                        let r = run_part(k, g);
                        done.lock().expect("no poisoned lock")[k] = Some(r);
                    }
                });
            }
        })
        .expect("a gradient thread panicked");
    }
    let mut grads = vec![0.0; n_params];
    let mut samples = Vec::with_capacity(batch.len());
    for (r, g) in results.into_iter().zip(&buffers.parts) {
        for (a, b) in grads.iter_mut().zip(g) {
            *a += b;
        }
        samples.extend(r.expect("every part ran"));
    }
    BatchSum { grads, samples }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_minimises_a_quadratic() {
        // f(w) = Σ (w_i - c_i)^2 / 2, gradient w - c.
        let c = [3.0, -1.5, 0.25];
        let mut w = vec![0.0; 3];
        let mut adam = Adam::new(
            3,
            AdamParams {
                learning_rate: 0.05,
                ..AdamParams::default()
            },
        );
        for _ in 0..2000 {
            let g: Vec<f64> = w.iter().zip(&c).map(|(w, c)| w - c).collect();
            adam.step(&mut w, &g);
        }
        for (w, c) in w.iter().zip(&c) {
            assert!((w - c).abs() < 1e-3, "{w} vs {c}");
        }
    }

    #[test]
    fn adam_first_step_moves_each_parameter_by_the_learning_rate() {
        // With bias correction, m̂ = g and v̂ = g², so the first step is lr · sign(g).
        let mut w = vec![1.0, 1.0];
        let mut adam = Adam::new(2, AdamParams::default());
        adam.step(&mut w, &[0.3, -20.0]);
        assert!((w[0] - (1.0 - 1e-3)).abs() < 1e-9);
        assert!((w[1] - (1.0 + 1e-3)).abs() < 1e-9);
    }

    #[test]
    fn batch_sums_match_a_serial_loop_and_do_not_depend_on_threads() {
        let batch: Vec<usize> = (0..37).collect();
        let f = |i: usize, g: &mut [f64]| {
            g[i % 3] += (i as f64).sqrt();
            g[2] += 0.1 * i as f64;
            i * 2
        };
        let mut buffers = GradientBuffers::default();
        let one = batch_gradients(&batch, 3, 1, &mut buffers, f);
        let two = batch_gradients(&batch, 3, 2, &mut buffers, f);
        let five = batch_gradients(&batch, 3, 5, &mut GradientBuffers::default(), f);
        assert_eq!(one, two);
        assert_eq!(one, five);
        // Buffers used by a larger batch carry nothing into a smaller one.
        let small = [4, 9, 30];
        let reused = batch_gradients(&small, 3, 2, &mut buffers, f);
        let fresh = batch_gradients(&small, 3, 2, &mut GradientBuffers::default(), f);
        assert_eq!(reused, fresh);
        assert_eq!(reused.samples, vec![8, 18, 60]);
        assert_eq!(one.samples, batch.iter().map(|i| i * 2).collect::<Vec<_>>());
        let mut serial = [0.0; 3];
        for &i in &batch {
            f(i, &mut serial);
        }
        for (a, b) in one.grads.iter().zip(&serial) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
    }
}
