//! The conductance-based neuron against a brute-force RK4 reference written here: spike
//! times within 1 µs, none missed or extra.

use crate::ms;
use rand::{RngExt, SeedableRng};
use spikeq::Tick;
use spikeq::engine::Simulation;
use spikeq::network::{ConnectRule, Dist, NetworkBuilder, NeuronKind};
use spikeq::neuron::LifParams;
use spikeq::neuron::lif_cond::CondParams;

/// Spike times [ticks] of the reference (`rk4`): conductances `g_ex` (a) and `g_in` (b).
fn reference(
    p: &LifParams,
    c: &CondParams,
    bias: f64,
    inputs: &[(i64, f64)],
    t_end: i64,
    step: i64,
) -> Vec<f64> {
    let dv = |v: f64, ge: f64, gi: f64| {
        (-(v - p.v_rest_mv) - ge * (v - c.e_ex_mv) - gi * (v - c.e_in_mv) + bias) / p.tau_m_ms
    };
    let input = |w: f64, ge: &mut f64, gi: &mut f64| if w >= 0.0 { *ge += w } else { *gi -= w };
    let n = crate::rk4::Neuron {
        v_start_mv: p.v_rest_mv,
        v_reset_mv: p.v_reset_mv,
        v_th_mv: p.v_th_mv,
        t_ref_ticks: p.t_ref.0,
        tau_a_ms: c.tau_syn_ex_ms,
        tau_b_ms: c.tau_syn_in_ms,
        dv: &dv,
        input: &input,
    };
    crate::rk4::spike_times(&n, inputs, t_end, step)
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
