//! Single neurons under constant drive against their closed-form firing periods.

use crate::{ms, run_spikes};
use spikeq::network::{Dist, NetworkBuilder, NeuronKind};
use spikeq::neuron::LifParams;
use spikeq::neuron::iaf::{IafParams, IafReset};
use spikeq::neuron::lif_adaptive::AdaptationParams;
use spikeq::neuron::lif_exp::ExpSynParams;
use spikeq::{Spike, Tick};

fn isis(spikes: &[Spike]) -> Vec<i64> {
    spikes
        .windows(2)
        .map(|w| (w[1].tick - w[0].tick).0)
        .collect()
}

/// Every interval equals `period_ms` to within one tick, and there are at least `min` spikes.
fn assert_period(spikes: &[Spike], period_ms: f64, min: usize) {
    assert!(spikes.len() >= min, "only {} spikes", spikes.len());
    let exact = period_ms * 1e6;
    for isi in isis(spikes) {
        assert!(
            (isi as f64 - exact).abs() <= 1.0,
            "ISI {isi} ticks vs closed form {exact}"
        );
    }
}

fn lif(tau_m: f64, t_ref_ms: f64) -> LifParams {
    LifParams {
        tau_m_ms: tau_m,
        v_rest_mv: 0.0,
        v_reset_mv: 10.0,
        v_th_mv: 20.0,
        t_ref: ms(t_ref_ms),
    }
}

#[test]
fn lif_delta_constant_current_fires_with_closed_form_period() {
    for (tau_m, t_ref, ri) in [
        (20.0f64, 2.0f64, 25.0f64),
        (10.0, 0.0, 20.5),
        (5.0, 1.3, 80.0),
        (33.3, 4.0, 21.0),
    ] {
        let mut b = NetworkBuilder::new();
        let p = b.population("n", 1, NeuronKind::LifDelta(lif(tau_m, t_ref)));
        b.bias(p, Dist::Const(ri)).v_init(p, Dist::Const(10.0));
        let (_, spikes) = run_spikes(b.def(), 1, ms(2000.0));
        let period = t_ref + tau_m * ((ri - 10.0) / (ri - 20.0)).ln();
        assert_period(&spikes, period, 5);
        // The first spike, from V = v_reset at t = 0 (no refractoriness yet), rounds up.
        let first = tau_m * ((ri - 10.0) / (ri - 20.0)).ln();
        assert!((spikes[0].tick.0 as f64 - first * 1e6).abs() <= 1.0);
    }
}

#[test]
fn lif_exp_and_lif_adaptive_without_input_or_adaptation_match_the_same_formula() {
    let (tau_m, t_ref, ri): (f64, f64, f64) = (20.0, 2.0, 25.0);
    let period = t_ref + tau_m * ((ri - 10.0) / (ri - 20.0)).ln();
    let mut b = NetworkBuilder::new();
    let e = b.population(
        "exp",
        1,
        NeuronKind::LifExp(
            lif(tau_m, t_ref),
            ExpSynParams {
                tau_syn_ex_ms: 5.0,
                tau_syn_in_ms: 10.0,
            },
        ),
    );
    let a = b.population(
        "adaptive",
        1,
        NeuronKind::LifAdaptive(
            lif(tau_m, t_ref),
            AdaptationParams {
                theta_plus_mv: 0.0,
                tau_theta_ms: 100.0,
            },
        ),
    );
    for p in [e, a] {
        b.bias(p, Dist::Const(ri)).v_init(p, Dist::Const(10.0));
    }
    let (_, spikes) = run_spikes(b.def(), 1, ms(1000.0));
    for n in 0..2 {
        let mine: Vec<Spike> = spikes.iter().copied().filter(|s| s.neuron == n).collect();
        assert_period(&mine, period, 10);
    }
}

#[test]
fn nonleaky_iaf_period_is_distance_over_slope_plus_refractoriness() {
    let mut b = NetworkBuilder::new();
    let p = b.population(
        "iaf",
        1,
        NeuronKind::NonLeakyIaf(IafParams {
            v_reset_mv: 0.0,
            v_th_mv: 1.0,
            t_ref: ms(0.5),
            reset: IafReset::ToValue,
        }),
    );
    b.bias(p, Dist::Const(0.3)); // mV/ms
    let (_, spikes) = run_spikes(b.def(), 1, ms(100.0));
    assert_period(&spikes, 0.5 + 1.0 / 0.3, 10);
}

#[test]
fn subthreshold_drive_never_fires() {
    let mut b = NetworkBuilder::new();
    let p = b.population("n", 3, NeuronKind::LifDelta(lif(20.0, 2.0)));
    b.bias(p, Dist::Const(19.999));
    let (_, spikes) = run_spikes(b.def(), 1, ms(5000.0));
    assert!(spikes.is_empty());
    let _ = Tick::ZERO;
}

/// `reset = "subtract"` keeps the surplus above threshold: one input of 2.5 thresholds makes
/// two spikes (one tick apart) where the default reset makes one; an unknown reset is refused.
#[test]
fn nonleaky_iaf_reset_by_subtraction_from_a_model_file() {
    let model = |reset: &str| {
        format!(
            r#"
[[population]]
name = "in"
size = 1
model = "spike_times"
times = [["1 ms"]]

[[population]]
name = "iaf"
size = 1
model = "iaf_nonleaky"
v_reset = "0 mV"
v_th = "1 mV"
{reset}

[[projection]]
from = "in"
to = "iaf"
rule = "all_to_all"
weight = "2.5 mV"
delay = "1 ms"
"#
        )
    };
    let spikes_of = |reset: &str| {
        let m = spikeq::spec::parse_model(&model(reset), "iaf.toml").unwrap();
        let (net, spikes) = run_spikes(&m.network, 1, ms(10.0));
        let iaf = net.populations[1].first;
        spikes
            .iter()
            .filter(|s| s.neuron == iaf)
            .map(|s| s.tick)
            .collect::<Vec<_>>()
    };
    assert_eq!(spikes_of(""), vec![ms(2.0)]);
    assert_eq!(spikes_of(r#"reset = "to_value""#), vec![ms(2.0)]);
    assert_eq!(
        spikes_of(r#"reset = "subtract""#),
        vec![ms(2.0), ms(2.0) + Tick::ONE]
    );
    let e = spikeq::spec::parse_model(&model(r#"reset = "half""#), "iaf.toml").unwrap_err();
    assert!(e.to_string().contains("unknown reset `half`"), "{e}");
}
