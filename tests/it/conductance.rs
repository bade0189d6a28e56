//! The conductance-based neuron against a brute-force RK4 reference written here: spike
//! times within 1 µs, none missed or extra.

use crate::ms;
use rand::{RngExt, SeedableRng};
use spikeq::Tick;
use spikeq::engine::Simulation;
use spikeq::network::{ConnectRule, Dist, NetworkBuilder, NeuronKind};
use spikeq::neuron::LifParams;
use spikeq::neuron::lif_cond::CondParams;

/// Spike times [ticks] by RK4 with steps of at most `step` ticks, ending exactly at inputs
/// and at the end of refractoriness; crossings located by linear interpolation in a step.
fn reference(
    p: &LifParams,
    c: &CondParams,
    bias: f64,
    inputs: &[(i64, f64)],
    t_end: i64,
    step: i64,
) -> Vec<f64> {
    let mut out = vec![];
    let (mut v, mut ge, mut gi) = (p.v_rest_mv, 0.0f64, 0.0f64);
    let mut ref_end = i64::MIN;
    let (mut k, mut t) = (0, 0i64);
    while t < t_end {
        while k < inputs.len() && inputs[k].0 <= t {
            let w = inputs[k].1;
            if w >= 0.0 {
                ge += w
            } else {
                gi -= w
            }
            k += 1;
        }
        let mut next = (t + step).min(t_end);
        if let Some(&(tn, _)) = inputs.get(k) {
            next = next.min(tn);
        }
        if ref_end > t {
            next = next.min(ref_end);
        }
        let h = (next - t) as f64 * 1e-6;
        let refractory = t < ref_end;
        let f = |v: f64, ge: f64, gi: f64| {
            let dv = if refractory {
                0.0
            } else {
                (-(v - p.v_rest_mv) - ge * (v - c.e_ex_mv) - gi * (v - c.e_in_mv) + bias)
                    / p.tau_m_ms
            };
            (dv, -ge / c.tau_syn_ex_ms, -gi / c.tau_syn_in_ms)
        };
        let v0 = v;
        let k1 = f(v, ge, gi);
        let k2 = f(v + h / 2.0 * k1.0, ge + h / 2.0 * k1.1, gi + h / 2.0 * k1.2);
        let k3 = f(v + h / 2.0 * k2.0, ge + h / 2.0 * k2.1, gi + h / 2.0 * k2.2);
        let k4 = f(v + h * k3.0, ge + h * k3.1, gi + h * k3.2);
        v += h / 6.0 * (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0);
        ge += h / 6.0 * (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1);
        gi += h / 6.0 * (k1.2 + 2.0 * k2.2 + 2.0 * k3.2 + k4.2);
        if !refractory && v >= p.v_th_mv {
            let frac = if v0 < p.v_th_mv {
                (p.v_th_mv - v0) / (v - v0)
            } else {
                0.0
            };
            let tc = t as f64 + frac * (next - t) as f64;
            out.push(tc);
            v = p.v_reset_mv;
            ref_end = tc.ceil() as i64 + p.t_ref.0;
        }
        t = next;
    }
    out
}

#[test]
fn conductance_neuron_crossings_match_brute_force_within_one_microsecond() {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(77);
    let step = 250;
    let t_end = ms(60.0);
    let mut total = 0;
    for case in 0..30 {
        let p = LifParams {
            tau_m_ms: rng.random_range(5.0..20.0),
            v_rest_mv: -74.0,
            v_reset_mv: -60.0,
            v_th_mv: -54.0,
            t_ref: ms(rng.random_range(0.0..3.0)),
        };
        let c = CondParams {
            e_ex_mv: 0.0,
            e_in_mv: -80.0,
            tau_syn_ex_ms: rng.random_range(1.0..8.0),
            tau_syn_in_ms: rng.random_range(2.0..12.0),
        };
        let bias = rng.random_range(0.0..25.0);
        let n = rng.random_range(5..50);
        let mut inputs: Vec<(i64, f64)> = (0..n)
            .map(|_| {
                (
                    rng.random_range(4_000..240_000) * step,
                    rng.random_range(-1.0..3.0),
                )
            })
            .collect();
        inputs.sort_by_key(|x| x.0);
        inputs.dedup_by_key(|x| x.0);
        let mut b = NetworkBuilder::new();
        let times: Vec<Vec<Tick>> = inputs
            .iter()
            .map(|&(t, _)| vec![Tick(t - 1_000_000)])
            .collect();
        let n_in = times.len() as u32;
        let input = b.population("in", n_in, NeuronKind::SpikeTimes(times));
        let out = b.population("out", 1, NeuronKind::LifCond(p, c));
        b.bias(out, Dist::Const(bias));
        for (k, &(_, w)) in inputs.iter().enumerate() {
            b.connect(
                input,
                out,
                ConnectRule::List(vec![(k as u32, 0)]),
                Dist::Const(w),
                Dist::Const(1.0),
            );
        }
        let mut sim = Simulation::new(b.build(1).unwrap(), 1).unwrap();
        let mut spikes = vec![];
        sim.run_until(t_end, &mut spikes).unwrap();
        let got: Vec<i64> = spikes
            .iter()
            .filter(|s| s.neuron == n_in)
            .map(|s| s.tick.0)
            .collect();
        let want = reference(&p, &c, bias, &inputs, t_end.0, step);
        assert_eq!(got.len(), want.len(), "case {case}: {got:?} vs {want:?}");
        for (g, w) in got.iter().zip(&want) {
            assert!((*g as f64 - w).abs() <= 1000.0, "case {case}: {g} vs {w}");
        }
        total += got.len();
    }
    assert!(total > 100, "only {total} spikes");
}

#[test]
fn conductance_weights_are_written_in_leak_conductance_units() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/song2000_static.toml"
    ))
    .unwrap();
    let m = spikeq::spec::parse_model(&text, "song.toml").unwrap();
    assert_eq!(
        m.network.projections[0].weight_mv,
        Dist::Uniform {
            low: 0.0,
            high: 0.01
        }
    );
    let bad = text.replace("\"0.01 gL\"", "\"0.01 mV\"");
    let e = spikeq::spec::parse_model(&bad, "song.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("song.toml:35:") && e.contains("unknown unit `mV` for a conductance"),
        "{e}"
    );
}
