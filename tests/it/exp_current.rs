//! The exponential-current neuron against a brute-force reference: RK4 with 0.25 µs steps,
//! written here independently of the engine's closed form.

use crate::ms;
use rand::{RngExt, SeedableRng};
use spikeq::Tick;
use spikeq::engine::Simulation;
use spikeq::network::{ConnectRule, Dist, NetworkBuilder, NeuronKind};
use spikeq::neuron::LifParams;
use spikeq::neuron::lif_exp::ExpSynParams;

struct Case {
    p: LifParams,
    syn: ExpSynParams,
    bias: f64,
    /// (arrival tick, weight), sorted.
    inputs: Vec<(i64, f64)>,
}

/// Spike times [ticks] of the reference (`rk4`): currents `I_ex` (a) and `I_in` (b).
fn reference(c: &Case, t_end: i64, step: i64) -> Vec<f64> {
    let v_inf = c.p.v_rest_mv + c.bias;
    let dv = |v: f64, ie: f64, ii: f64| (-(v - v_inf) + ie + ii) / c.p.tau_m_ms;
    let input = |w: f64, ie: &mut f64, ii: &mut f64| if w >= 0.0 { *ie += w } else { *ii += w };
    let n = crate::rk4::Neuron {
        v_start_mv: c.p.v_rest_mv,
        v_reset_mv: c.p.v_reset_mv,
        v_th_mv: c.p.v_th_mv,
        t_ref_ticks: c.p.t_ref.0,
        tau_a_ms: c.syn.tau_syn_ex_ms,
        tau_b_ms: c.syn.tau_syn_in_ms,
        dv: &dv,
        input: &input,
    };
    crate::rk4::spike_times(&n, &c.inputs, t_end, step)
}

fn engine(c: &Case, t_end: Tick) -> Vec<i64> {
    // One generator neuron per input spike, each with its own weight through a list projection.
    let mut b = NetworkBuilder::new();
    let times: Vec<Vec<Tick>> = c
        .inputs
        .iter()
        .map(|&(t, _)| vec![Tick(t - 1_000_000)])
        .collect();
    let n_in = times.len() as u32;
    let input = b.population("in", n_in, NeuronKind::SpikeTimes(times));
    let out = b.population("out", 1, NeuronKind::LifExp(c.p, c.syn));
    b.bias(out, Dist::Const(c.bias));
    for (k, &(_, w)) in c.inputs.iter().enumerate() {
        b.connect(
            input,
            out,
            ConnectRule::List(vec![(k as u32, 0)]),
            Dist::Const(w),
            Dist::Const(1.0),
        );
    }
    let net = b.build(1).unwrap();
    let mut sim = Simulation::new(net, 1).unwrap();
    let mut spikes = vec![];
    sim.run_until(t_end, &mut spikes).unwrap();
    spikes
        .iter()
        .filter(|s| s.neuron == n_in)
        .map(|s| s.tick.0)
        .collect()
}

#[test]
fn crossing_times_match_brute_force_within_one_microsecond() {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(2024);
    let step = 250; // ticks
    let t_end = ms(60.0);
    let mut total_spikes = 0;
    for case in 0..40 {
        let tau_m = rng.random_range(5.0..30.0);
        let c = Case {
            p: LifParams {
                tau_m_ms: tau_m,
                v_rest_mv: -65.0,
                v_reset_mv: -70.0,
                v_th_mv: -50.0,
                t_ref: ms(rng.random_range(0.0..3.0)),
            },
            syn: ExpSynParams {
                tau_syn_ex_ms: rng.random_range(0.5..8.0),
                tau_syn_in_ms: rng.random_range(1.0..12.0),
            },
            bias: rng.random_range(5.0..30.0),
            inputs: {
                // Inputs on the reference's step grid, from 1 ms on (the generator's delay).
                let n = rng.random_range(5..60);
                let mut v: Vec<(i64, f64)> = (0..n)
                    .map(|_| {
                        (
                            rng.random_range(4_000..240_000) * step,
                            rng.random_range(-15.0..25.0),
                        )
                    })
                    .collect();
                v.sort_by_key(|x| x.0);
                v.dedup_by_key(|x| x.0);
                v
            },
        };
        let got = engine(&c, t_end);
        let want = reference(&c, t_end.0, step);
        assert_eq!(
            got.len(),
            want.len(),
            "case {case}: engine {got:?} vs reference {want:?}"
        );
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (*g as f64 - w).abs() <= 1000.0,
                "case {case}: spike at {g} vs reference {w} ticks"
            );
        }
        total_spikes += got.len();
    }
    // The cases must exercise firing, not just silence.
    assert!(
        total_spikes > 100,
        "only {total_spikes} spikes over all cases"
    );
}
