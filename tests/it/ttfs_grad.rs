//! Exact spike-time gradients of `learn::ttfs` against central finite differences of the loss
//! (the exact forward pass re-run, `f64`), on random small networks with one or two hidden
//! layers.
//!
//! The loss is smooth only while the structure of the forward pass stays put: which spikes
//! arrive at each layer and in what order, every neuron's causal set (hence whether it fires),
//! and which neurons pay the weight-sum penalty.
//! A parameter whose perturbations change any of that is skipped (and counted): there the loss
//! has no derivative to compare with. Elsewhere the agreement must be
//! `|a − b| ≤ 1e-6·max(|a|, |b|) + 1e-9`.

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use spikeq::learn::ttfs::{
    Arrivals, Forward, InputCoding, LossParams, PenaltyOver, THRESHOLD, TtfsNet,
};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Clone, Debug)]
struct Case {
    net: TtfsNet,
    input_ms: Vec<f64>,
    label: usize,
    loss: LossParams,
}

/// Generated networks not used because an output fires after 4 τ.
static LATE: AtomicU64 = AtomicU64::new(0);

fn case() -> impl Strategy<Value = Case> {
    (
        2..7usize,
        prop::collection::vec(2..7usize, 1..=2),
        2..5usize,
        0.5..2.0f64,
    )
        .prop_flat_map(|(n_in, hidden, n_out, tau)| {
            let mut sizes = vec![n_in];
            sizes.extend(hidden);
            sizes.push(n_out);
            let params: usize = sizes.windows(2).map(|w| w[0] * w[1]).sum();
            (
                Just(sizes),
                Just(tau),
                // Weights on a lattice of 1/64: every W_C − θ of the unperturbed network is then
                // 0 or at least 1/64, so no neuron sits next to the pole of z = B/(W_C − θ)
                // where no finite difference converges.
                prop::collection::vec((-38..=90i32).prop_map(|k| k as f64 / 64.0), params),
                // One input in six never spikes.
                prop::collection::vec(
                    prop_oneof![5 => 0.0..2.0f64, 1 => Just(f64::INFINITY)],
                    n_in,
                ),
                0..n_out,
                // t_silent / τ.
                2.0..3.5f64,
                prop_oneof![Just(0.0), 0.1..1.0f64],
                prop_oneof![
                    Just(PenaltyOver::AllInputs),
                    Just(PenaltyOver::ArrivedInputs)
                ],
            )
        })
        .prop_map(
            |(sizes, tau, weights, input_ms, label, silent_taus, penalty, penalty_over)| Case {
                net: TtfsNet {
                    sizes,
                    tau_syn_ms: tau,
                    coding: InputCoding::Latency {
                        t_max_ms: 2.0,
                        bias_ms: None,
                    },
                    weights,
                },
                input_ms,
                label,
                loss: LossParams {
                    t_silent_ms: silent_taus * tau,
                    weight_sum_penalty: penalty,
                    penalty_over,
                },
            },
        )
        // The loss grows like the output z = exp(t/τ); f64 differences of a loss of size |L|
        // carry rounding of about 3.5·ε·|L|/h (see `step`), which the 1e-9 floor must bound.
        // Networks whose outputs fire later than 4 τ are therefore not generated (counted, a
        // minority).
        .prop_filter("an output fires after 4 tau", |c| {
            let input = Arrivals::from_times_ms(&c.input_ms, c.net.tau_syn_ms);
            let limit = 4f64.exp();
            let ok = c
                .net
                .forward(&input)
                .output_z()
                .iter()
                .all(|&z| z < limit || z.is_infinite());
            if !ok {
                LATE.fetch_add(1, Relaxed);
            }
            ok
        })
}

/// Everything whose change makes the loss non-differentiable.
#[derive(Debug, PartialEq)]
struct Structure {
    order: Vec<Vec<u32>>,
    causal: Vec<Vec<u32>>,
    penalised: Vec<Vec<bool>>,
}

fn structure(net: &TtfsNet, input: &Arrivals, p: &LossParams) -> Structure {
    let f = net.forward(input);
    Structure {
        order: f.layers.iter().map(|l| l.arrivals.order.clone()).collect(),
        causal: f.layers.iter().map(|l| l.causal.clone()).collect(),
        penalised: match p.penalty_over {
            PenaltyOver::ArrivedInputs => f
                .layers
                .iter()
                .map(|l| l.arrived_weight.iter().map(|&w| w < THRESHOLD).collect())
                .collect(),
            PenaltyOver::AllInputs => {
                let mut off = 0;
                net.sizes
                    .windows(2)
                    .map(|s| {
                        let rows = net.weights[off..off + s[0] * s[1]]
                            .chunks(s[0])
                            .map(|r| r.iter().sum::<f64>() < THRESHOLD)
                            .collect();
                        off += s[0] * s[1];
                        rows
                    })
                    .collect()
            }
        },
    }
}

/// The finite-difference step for weight `k` with exact gradient `g`: at most 1e-4; at most
/// 5% of its neuron's `W_C − θ` (the distance to the pole of its `z`, which bounds the radius
/// of convergence); at most `5e-2/s`, where `s` is the largest `|∂z_out/∂w_k|` over the output
/// neurons (the loss is a smooth function of the output `z` that bends over a unit of `z`;
/// `s` is estimated from differences at ±1e-9, enough for a scale); and at most `1e-3/|g|`.
/// The differences below are Richardson-extrapolated fourth-order central differences, with
/// a truncation error of order `(h/scale)^6 ≤ 2e-8` relative. Their rounding error is about
/// `3.5·ε·|L|/h`. That is below 2e-10 for `h` = 1e-4 and `|L| ≲ e^4` (see the filter in
/// `case`). For the smaller steps it stays under the relative tolerance unless the gradient
/// is tiny.
fn step(net: &TtfsNet, input: &Arrivals, f: &Forward, k: usize, g: f64) -> f64 {
    let mut off = 0;
    let mut h = 1e-4f64;
    for (l, w) in net.sizes.windows(2).enumerate() {
        if k < off + w[0] * w[1] {
            let excess = f.layers[l].excess[(k - off) / w[0]];
            if excess > 0.0 {
                h = h.min(5e-2 * excess);
            }
            break;
        }
        off += w[0] * w[1];
    }
    let output_z = |dw: f64| {
        let mut n = net.clone();
        n.weights[k] += dw;
        n.forward(input).output_z().to_vec()
    };
    let (up, down) = (output_z(1e-9), output_z(-1e-9));
    let s = up
        .iter()
        .zip(&down)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| ((a - b) / 2e-9).abs())
        .fold(0.0, f64::max);
    if s > 0.0 {
        h = h.min(5e-2 / s);
    }
    if g != 0.0 {
        h = h.min(1e-3 / g.abs());
    }
    h
}

#[derive(Default)]
struct Counts {
    cases: AtomicU64,
    checked: AtomicU64,
    skipped: AtomicU64,
    /// Checked first-layer weights with a non-zero gradient: these reach the loss only
    /// through hidden spike times, so they test the backward pass through `∂z_out/∂z_in`.
    first_layer_nonzero: AtomicU64,
    /// Checked cases where the penalty contributes.
    penalised: AtomicU64,
    /// Cases whose target never fires (it enters the loss at t_silent).
    silent_target: AtomicU64,
}

#[test]
fn exact_gradients_match_central_finite_differences() {
    let counts = Counts::default();
    let mut config = Config::with_cases(512);
    config.max_global_rejects = 1_000_000;
    config.source_file = Some(file!());
    config.failure_persistence = Some(Box::new(FileFailurePersistence::SourceParallel(
        "proptest-regressions",
    )));
    let result = TestRunner::new(config).run(&case(), |c| {
        let input = Arrivals::from_times_ms(&c.input_ms, c.net.tau_syn_ms);
        let base = structure(&c.net, &input, &c.loss);
        let mut grad = vec![0.0; c.net.weights.len()];
        c.net.sample_gradient(&input, c.label, &c.loss, &mut grad);
        counts.cases.fetch_add(1, Relaxed);
        if c.loss.weight_sum_penalty > 0.0 && base.penalised.iter().flatten().any(|&p| p) {
            counts.penalised.fetch_add(1, Relaxed);
        }
        if base.causal.last().is_some_and(|out| out[c.label] == 0) {
            counts.silent_target.fetch_add(1, Relaxed);
        }
        let f = c.net.forward(&input);
        let first_layer = c.net.sizes[0] * c.net.sizes[1];
        for (k, &a) in grad.iter().enumerate() {
            let h = step(&c.net, &input, &f, k, a);
            let mut same = true;
            let mut loss_at = |step: f64| {
                let mut net = c.net.clone();
                net.weights[k] += step;
                same &= structure(&net, &input, &c.loss) == base;
                net.loss(&input, c.label, &c.loss).loss
            };
            // Fourth-order central differences at h and h/2, Richardson-extrapolated to sixth
            // order: the truncation error stays far below 1e-6 relative even where the loss
            // curves steeply (large z, small W_C − θ), while rounding (≈ 3.5·ε·|L|/h) stays
            // below the 1e-9 floor.
            let mut fd4 = |h: f64| {
                let one = loss_at(h) - loss_at(-h);
                let two = loss_at(2.0 * h) - loss_at(-2.0 * h);
                (8.0 * one - two) / (12.0 * h)
            };
            let (coarse, fine) = (fd4(h), fd4(h / 2.0));
            let fd = (16.0 * fine - coarse) / 15.0;
            if !same {
                counts.skipped.fetch_add(1, Relaxed);
                continue;
            }
            prop_assert!(
                (a - fd).abs() <= 1e-6 * a.abs().max(fd.abs()) + 1e-9,
                "weight {k} of {:?}: exact {a}, finite differences {fd} (h {h})",
                c.net.sizes
            );
            counts.checked.fetch_add(1, Relaxed);
            if k < first_layer && a != 0.0 {
                counts.first_layer_nonzero.fetch_add(1, Relaxed);
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let get = |a: &AtomicU64| a.load(Relaxed);
    let (checked, skipped) = (get(&counts.checked), get(&counts.skipped));
    let late = get(&LATE);
    eprintln!(
        "{} cases ({late} networks with an output spike after 4 tau not used): {checked} weights checked, {skipped} skipped, {} first-layer gradients non-zero, {} cases penalised, {} with a silent target",
        get(&counts.cases),
        get(&counts.first_layer_nonzero),
        get(&counts.penalised),
        get(&counts.silent_target)
    );
    // The check must have had something to check.
    assert!(late < get(&counts.cases), "{late} late networks");
    assert!(
        skipped * 10 < checked,
        "{skipped} skipped of {}",
        checked + skipped
    );
    assert!(get(&counts.first_layer_nonzero) > 500);
    assert!(get(&counts.penalised) > 40);
    assert!(get(&counts.silent_target) > 5);
}

/// At a causal-set boundary the loss has a kink: the two one-sided slopes differ, so a
/// central difference there is meaningless, and [`structure`] tells the two sides apart.
#[test]
fn a_causal_set_change_is_a_kink_that_the_structure_check_detects() {
    // Hidden neuron: w0 = 2 at z = 1 alone would fire at z = 2·1/(2 − 1) = 2, exactly when
    // the second input (w1 = 0.5) arrives: w0 a bit larger fires on the first input alone,
    // a bit smaller needs both.
    let net = TtfsNet {
        sizes: vec![2, 1, 2],
        tau_syn_ms: 1.0,
        coding: InputCoding::Latency {
            t_max_ms: 1.0,
            bias_ms: None,
        },
        weights: vec![2.0, 0.5, 1.5, 2.0],
    };
    let input = Arrivals {
        order: vec![0, 1],
        z: vec![1.0, 2.0],
    };
    let p = LossParams {
        t_silent_ms: 5.0,
        weight_sum_penalty: 0.0,
        penalty_over: PenaltyOver::AllInputs,
    };
    let at = |w0: f64| {
        let mut n = net.clone();
        n.weights[0] = w0;
        n
    };
    let h = 1e-6;
    let (left, right) = (at(2.0 - h), at(2.0 + h));
    assert_ne!(structure(&left, &input, &p), structure(&right, &input, &p));
    assert_eq!(left.forward(&input).layers[0].causal, vec![2]);
    assert_eq!(right.forward(&input).layers[0].causal, vec![1]);
    let loss = |n: &TtfsNet| n.loss(&input, 0, &p).loss;
    let base = loss(&net);
    let slope_left = (base - loss(&left)) / h;
    let slope_right = (loss(&right) - base) / h;
    assert!(
        (slope_left - slope_right).abs() > 0.1 * slope_left.abs().max(slope_right.abs()),
        "one-sided slopes {slope_left} and {slope_right}"
    );
    // Each side's exact gradient is its own one-sided slope.
    for (n, slope) in [(left, slope_left), (right, slope_right)] {
        let mut g = vec![0.0; 4];
        n.sample_gradient(&input, 0, &p, &mut g);
        assert!(
            (g[0] - slope).abs() < 1e-4 * slope.abs(),
            "{} vs {slope}",
            g[0]
        );
    }
}
