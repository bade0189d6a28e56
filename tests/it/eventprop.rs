//! EventProp: gradients against central finite differences of the exact forward pass.

use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use spikeq::learn::eventprop::{EventPropNet, EventPropParams, Loss, SampleSpike};

/// A small random network and input: `hidden` layer sizes, weights scaled so that neurons fire.
fn random_case(seed: u64, loss: Loss, hidden: &[usize]) -> (EventPropNet, Vec<SampleSpike>, usize) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let n_in = rng.random_range(3..6usize);
    let n_out = rng.random_range(2..4usize);
    let mut sizes = vec![n_in];
    sizes.extend_from_slice(hidden);
    sizes.push(n_out);
    let params = EventPropParams {
        loss,
        t_end_ms: 40.0,
        ..EventPropParams::default()
    };
    let mut net = EventPropNet::new(&sizes, params).unwrap();
    // Mostly excitatory, some inhibitory, large enough to fire several times.
    for w in &mut net.weights {
        *w = rng.random_range(-2.0..7.0);
    }
    let mut input: Vec<SampleSpike> = (0..n_in)
        .flat_map(|k| {
            let spikes = rng.random_range(1..3usize);
            (0..spikes)
                .map(|_| (rng.random_range(0.0..20.0), k as u32))
                .collect::<Vec<_>>()
        })
        .collect();
    input.sort_by(|a, b| a.0.total_cmp(&b.0));
    let label = rng.random_range(0..n_out);
    (net, input, label)
}

fn loss_of(net: &EventPropNet, input: &[SampleSpike], label: usize) -> f64 {
    net.run_sample(input, label).loss
}

/// Checks every weight's gradient; returns the number of weights checked, of those with a
/// gradient of at least 1e-4, of those whose reference was known to 1e-6 relative, and of
/// weights skipped because a perturbation changes the spike pattern.
fn check_gradients(
    net: &EventPropNet,
    input: &[SampleSpike],
    label: usize,
) -> (usize, usize, usize, usize) {
    let mut grads = vec![0.0; net.weights.len()];
    net.sample_gradient(input, label, &mut grads);
    let sig = net.differentiable_signature(input);
    let (mut checked, mut large, mut tight, mut skipped) = (0, 0, 0, 0);
    for (k, &g) in grads.iter().enumerate() {
        let scale = net.weights[k].abs().max(1.0);
        let at = |d: f64| {
            let mut n = net.clone();
            n.weights[k] += d;
            n
        };
        // Richardson extrapolation of two central differences (truncation error O(h^4)) at
        // three step sizes; near a grazing spike the loss is strongly curved, so the reference
        // is the estimate of the step pair that agrees best (chosen without looking at the
        // EventProp gradient).
        let steps = [1e-4, 3e-5, 1e-5, 3e-6].map(|h| h * scale);
        if steps
            .iter()
            .flat_map(|&h| [h, -h, h / 2.0, -h / 2.0])
            .any(|d| at(d).differentiable_signature(input) != sig)
        {
            skipped += 1;
            continue;
        }
        let central =
            |d: f64| (loss_of(&at(d), input, label) - loss_of(&at(-d), input, label)) / (2.0 * d);
        let r: Vec<f64> = steps
            .iter()
            .map(|&h| (4.0 * central(h / 2.0) - central(h)) / 3.0)
            .collect();
        // The loss's rounding noise, measured: second differences over steps so small that
        // curvature cannot show (h² L'' below 1e-16) are pure rounding; at least a few ulps of
        // the quantities of order 1 the loss is computed from. A Richardson estimate at step h
        // carries up to 3 × noise / h of it.
        let l0 = loss_of(net, input, label);
        let noise = (1..=4)
            .map(|j| {
                let d = j as f64 * 1e-9 * scale;
                (loss_of(&at(d), input, label) - 2.0 * l0 + loss_of(&at(-d), input, label)).abs()
            })
            .fold(4.0 * f64::EPSILON * l0.abs().max(1.0), f64::max);
        // The reference is the estimate whose uncertainty (disagreement with the next larger
        // step, plus rounding) is least, chosen without looking at the EventProp gradient.
        let (fd, uncertainty) = (1..r.len())
            .map(|i| (r[i], (r[i - 1] - r[i]).abs() + 3.0 * noise / steps[i]))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("several steps");
        // 1e-6 relative, plus the reference's own uncertainty.
        assert!(
            (fd - g).abs() <= 1e-6 * fd.abs().max(g.abs()) + uncertainty,
            "weight {k}: EventProp {g:e}, finite difference {fd:e} (sizes {:?}, estimates {r:?})",
            net.sizes
        );
        checked += 1;
        if fd.abs() >= 1e-4 {
            large += 1;
            if uncertainty <= 1e-6 * fd.abs() {
                tight += 1;
            }
        }
    }
    (checked, large, tight, skipped)
}

const FIRST_SPIKE: Loss = Loss::FirstSpike {
    tau0_ms: 2.0,
    alpha: 0.01,
    tau1_ms: 20.0,
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn max_voltage_gradients_equal_finite_differences(seed in any::<u64>(), h in 2usize..6) {
        let (net, input, label) = random_case(seed, Loss::MaxVoltage, &[h]);
        check_gradients(&net, &input, label);
    }

    #[test]
    fn first_spike_gradients_equal_finite_differences(seed in any::<u64>(), h in 2usize..6) {
        let (net, input, label) = random_case(seed, FIRST_SPIKE, &[h]);
        check_gradients(&net, &input, label);
    }

    #[test]
    fn two_hidden_layer_gradients_equal_finite_differences(seed in any::<u64>(), h in 2usize..5) {
        let (net, input, label) = random_case(seed, Loss::MaxVoltage, &[h, h + 1]);
        check_gradients(&net, &input, label);
    }
}

/// The property tests above skip weights where a perturbation changes the spike pattern and
/// allow for the reference's own spread; this makes sure skips are rare, references of
/// gradients that matter (≥ 1e-4) mostly precise enough to resolve 1e-6 relative, and gradients non-trivial, so the property is not vacuous.
#[test]
fn gradient_checks_cover_most_weights_and_find_nonzero_gradients() {
    let (mut checked, mut large, mut tight, mut skipped, mut nonzero) = (0, 0, 0, 0, 0);
    for seed in 0..40u64 {
        for loss in [Loss::MaxVoltage, FIRST_SPIKE] {
            let (net, input, label) = random_case(seed, loss, &[4]);
            let (c, l, t, s) = check_gradients(&net, &input, label);
            checked += c;
            large += l;
            tight += t;
            skipped += s;
            let mut g = vec![0.0; net.weights.len()];
            net.sample_gradient(&input, label, &mut g);
            nonzero += g.iter().filter(|g| g.abs() > 1e-6).count();
        }
    }
    assert!(
        skipped * 20 < checked,
        "checked {checked}, skipped {skipped}"
    );
    assert!(
        tight * 10 > large * 9,
        "only {tight} of {large} references of gradients ≥ 1e-4 resolve 1e-6"
    );
    assert!(
        nonzero * 2 > checked,
        "only {nonzero} of {checked} gradients are non-zero"
    );
}

/// The continuous-time forward pass against the engine running the same network
/// (`EventPropNet::engine_network`, `lif_exp` neurons on the 1 ns grid, one-tick delays),
/// independent of the module's arithmetic: the engine integrates each neuron in closed form and
/// finds crossings by branch and bound on ticks. With inputs on ticks, every neuron's first
/// spike in the first layer must be the exact time plus the one-tick delay, rounded up to the
/// tick. Later spikes inherit the rounding of each earlier reset (up to a tick each, amplified
/// where the potential grazes the threshold), so for them the test asserts the same spike
/// counts per neuron and a median difference of a few ticks.
#[test]
fn forward_pass_matches_the_engine() {
    use spikeq::Tick;
    use spikeq::engine::Simulation;
    use spikeq::network::NeuronKind;
    let (mut first_spikes, mut diffs_ns) = (0, Vec::new());
    for seed in 0..30u64 {
        let (mut net, mut input, _) = random_case(seed, FIRST_SPIKE, &[4]);
        // The engine stores weights as f32 and times as ticks: give both the same.
        for w in &mut net.weights {
            *w = *w as f32 as f64;
        }
        for s in &mut input {
            s.0 = Tick::from_ms(s.0).unwrap().as_ms();
        }
        let exact = net.spike_times(&input);
        let mut engine_net = net.engine_network().unwrap();
        let mut trains = vec![Vec::new(); net.sizes[0]];
        for &(t, k) in &input {
            trains[k as usize].push(Tick::from_ms(t).unwrap());
        }
        engine_net.def.populations[0].kind = NeuronKind::SpikeTimes(trains);
        let pops: Vec<(u32, u32)> = engine_net
            .populations
            .iter()
            .map(|p| (p.first, p.size))
            .collect();
        let mut sim = Simulation::new(engine_net, 1).unwrap();
        let mut spikes: Vec<spikeq::Spike> = Vec::new();
        sim.run_until(Tick::from_ms(40.0).unwrap(), &mut spikes)
            .unwrap();
        for (l, layer) in exact.iter().enumerate().skip(1) {
            let (first, size) = pops[l];
            for n in 0..size {
                let got: Vec<f64> = spikes
                    .iter()
                    .filter(|s| s.neuron == first + n)
                    .map(|s| s.tick.as_ms())
                    .collect();
                let want: Vec<f64> = layer.iter().filter(|s| s.1 == n).map(|s| s.0).collect();
                assert_eq!(
                    got.len(),
                    want.len(),
                    "seed {seed} layer {l} neuron {n}: engine {got:?}, exact {want:?}"
                );
                if l == 1 && !want.is_empty() {
                    let expected = Tick::from_ms(want[0]).unwrap().0 + 1;
                    let got_tick = Tick::from_ms(got[0]).unwrap().0;
                    assert!(
                        (got_tick - expected).abs() <= 1,
                        "seed {seed} neuron {n}: engine {} ms, exact {} ms",
                        got[0],
                        want[0]
                    );
                    first_spikes += 1;
                }
                diffs_ns.extend(got.iter().zip(&want).map(|(a, b)| ((a - b) * 1e6).abs()));
            }
        }
    }
    diffs_ns.sort_by(f64::total_cmp);
    let median = diffs_ns[diffs_ns.len() / 2];
    assert!(
        first_spikes > 50,
        "only {first_spikes} first spikes compared"
    );
    assert!(
        diffs_ns.len() > 1000,
        "only {} spikes compared",
        diffs_ns.len()
    );
    assert!(median <= 20.0, "median difference {median} ns");
}

/// Fast CI variant of the Yin-Yang run: a small network learns, well above chance (1/3) and
/// the untrained network, and the model file reloads bit for bit.
#[test]
fn eventprop_learns_yin_yang_and_reloads() {
    use spikeq::learn::data::yin_yang;
    use spikeq::learn::eventprop::{self as ep, EventPropParams};
    let timing = ep::default_yin_yang_timing();
    let train = ep::yin_yang_dataset(&yin_yang(600, 42), &timing);
    let test = ep::yin_yang_dataset(&yin_yang(300, 40), &timing);
    let params = EventPropParams {
        epochs: 6,
        loss: FIRST_SPIKE_TRAINING,
        ..EventPropParams::default()
    };
    let mut net = EventPropNet::new(&[5, 30, 3], params).unwrap();
    let before = ep::evaluate(&net, &test, 2).unwrap().accuracy();
    let reports = ep::train(&mut net, &train, None, 2, &|_, _, _| {}, &mut |_| {}).unwrap();
    assert_eq!(reports.len(), 6);
    let after = ep::evaluate(&net, &test, 2).unwrap();
    assert!(
        after.accuracy() > 0.7 && after.accuracy() > before + 0.2,
        "untrained {before}, trained {}",
        after.accuracy()
    );
    // Training is independent of the thread count.
    let mut one = EventPropNet::new(&[5, 30, 3], params).unwrap();
    ep::train(&mut one, &train, None, 1, &|_, _, _| {}, &mut |_| {}).unwrap();
    assert_eq!(one, net);
    // Input dropout draws one random stream per sample and epoch: it changes training, and the
    // result still does not depend on the thread count.
    let dropped = |threads| {
        let p = EventPropParams {
            epochs: 1,
            input_dropout: 0.2,
            ..params
        };
        let mut n = EventPropNet::new(&[5, 30, 3], p).unwrap();
        ep::train(&mut n, &train, None, threads, &|_, _, _| {}, &mut |_| {}).unwrap();
        n
    };
    let (d1, d2) = (dropped(1), dropped(2));
    assert_eq!(d1, d2);
    let mut plain = EventPropNet::new(
        &[5, 30, 3],
        EventPropParams {
            epochs: 1,
            ..params
        },
    )
    .unwrap();
    ep::train(&mut plain, &train, None, 1, &|_, _, _| {}, &mut |_| {}).unwrap();
    assert_ne!(d1.weights, plain.weights);
    let dir = std::env::temp_dir().join(format!("spikeq-eventprop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("yy.model");
    spikeq::learn::model::AnyModel::EventProp(net.clone())
        .save(&path)
        .unwrap();
    match spikeq::learn::model::AnyModel::load(&path).unwrap() {
        spikeq::learn::model::AnyModel::EventProp(m) => assert_eq!(m, net),
        _ => panic!("not an EventProp model"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

const FIRST_SPIKE_TRAINING: Loss = Loss::FirstSpike {
    tau0_ms: 0.5,
    alpha: 0.01,
    tau1_ms: 10.0,
};

#[test]
fn cli_eventprop_takes_a_validation_split_and_shifted_copies() {
    let mnist = crate::mnist_10k();
    let o = crate::spikeq(&[
        "learn",
        "eventprop",
        "--data",
        mnist.to_str().unwrap(),
        "--train",
        "60",
        "--validation",
        "20",
        "--augment-shift",
        "1",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--threads",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("training on the first 40 training images"),
        "{stderr}"
    );
    assert!(
        stderr.contains("augmented: 360 training images"),
        "{stderr}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("of 20 "), "{out}");
}
