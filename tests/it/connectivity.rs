//! Connection rules, distributions, and the two doors (model file, builder) to one network.

use crate::{ms, run_spikes};
use spikeq::Tick;
use spikeq::network::{ConnectRule, Dist, DriveKind, NetworkBuilder, NeuronKind};
use spikeq::neuron::LifParams;

fn lif() -> NeuronKind {
    NeuronKind::LifDelta(LifParams {
        tau_m_ms: 20.0,
        v_rest_mv: 0.0,
        v_reset_mv: 10.0,
        v_th_mv: 20.0,
        t_ref: ms(2.0),
    })
}

/// (source, target) pairs of the network, as population-local indices.
fn pairs(b: &NetworkBuilder, seed: u64) -> Vec<(u32, u32, f32, Tick)> {
    b.build(seed).unwrap().connectivity.synapses().collect()
}

#[test]
fn fixed_degrees_are_exact_and_respect_autapse_and_multapse_switches() {
    let mut b = NetworkBuilder::new();
    let a = b.population("A", 50, lif());
    let p = b.connect(
        a,
        a,
        ConnectRule::FixedIndegree(49),
        Dist::Const(0.1),
        Dist::Const(1.0),
    );
    p.allow_multapses = false;
    let syn = pairs(&b, 3);
    for t in 0..50 {
        let mut sources: Vec<u32> = syn.iter().filter(|s| s.1 == t).map(|s| s.0).collect();
        assert_eq!(sources.len(), 49);
        assert!(!sources.contains(&t), "autapse on {t}");
        sources.sort();
        sources.dedup();
        assert_eq!(sources.len(), 49, "multapse on {t}");
    }
    // 50 distinct partners without autapses do not exist.
    let mut b = NetworkBuilder::new();
    let a = b.population("A", 50, lif());
    b.connect(
        a,
        a,
        ConnectRule::FixedOutdegree(50),
        Dist::Const(0.1),
        Dist::Const(1.0),
    )
    .allow_multapses = false;
    assert!(
        b.build(1)
            .unwrap_err()
            .to_string()
            .contains("exceeds the 49 distinct partners")
    );
    // Fixed out-degree with autapses allowed.
    let mut b = NetworkBuilder::new();
    let a = b.population("A", 30, lif());
    let c = b.population("B", 70, lif());
    b.connect(
        a,
        c,
        ConnectRule::FixedOutdegree(7),
        Dist::Const(0.1),
        Dist::Const(1.0),
    );
    let syn = pairs(&b, 2);
    for s in 0..30 {
        assert_eq!(syn.iter().filter(|x| x.0 == s).count(), 7);
    }
    assert!(syn.iter().all(|x| (30..100).contains(&x.1)));
}

#[test]
fn fixed_probability_has_the_binomial_mean_and_spread() {
    let mut b = NetworkBuilder::new();
    let a = b.population("A", 400, lif());
    let p = 0.05;
    b.connect(
        a,
        a,
        ConnectRule::FixedProbability(p),
        Dist::Const(0.1),
        Dist::Const(1.0),
    );
    let n = pairs(&b, 11).len() as f64;
    let pairs_possible = 400.0 * 399.0;
    let mean = p * pairs_possible;
    let sd = (pairs_possible * p * (1.0 - p)).sqrt();
    assert!(
        (n - mean).abs() < 4.0 * sd,
        "{n} synapses, expected {mean} ± {sd}"
    );
}

#[test]
fn all_to_all_one_to_one_and_lists_make_exactly_the_pairs_asked_for() {
    let mut b = NetworkBuilder::new();
    let a = b.population("A", 4, lif());
    let c = b.population("B", 4, lif());
    b.connect(
        a,
        c,
        ConnectRule::AllToAll,
        Dist::Const(1.0),
        Dist::Const(1.0),
    );
    b.connect(
        c,
        a,
        ConnectRule::OneToOne,
        Dist::Const(2.0),
        Dist::Const(2.0),
    );
    b.connect(
        a,
        a,
        ConnectRule::List(vec![(3, 1), (0, 2), (3, 1)]),
        Dist::Const(3.0),
        Dist::Const(3.0),
    );
    let syn = pairs(&b, 1);
    assert_eq!(syn.iter().filter(|s| s.2 == 1.0).count(), 16);
    let one: Vec<_> = syn
        .iter()
        .filter(|s| s.2 == 2.0)
        .map(|s| (s.0, s.1))
        .collect();
    assert_eq!(one, vec![(4, 0), (5, 1), (6, 2), (7, 3)]);
    let mut list: Vec<_> = syn
        .iter()
        .filter(|s| s.2 == 3.0)
        .map(|s| (s.0, s.1))
        .collect();
    list.sort();
    assert_eq!(
        list,
        vec![(0, 2), (3, 1), (3, 1)],
        "a list keeps its multapse"
    );
}

#[test]
fn weight_and_delay_distributions_stay_in_their_bounds_and_rows_are_sorted() {
    let mut b = NetworkBuilder::new();
    let a = b.population("A", 200, lif());
    b.connect(
        a,
        a,
        ConnectRule::FixedIndegree(20),
        Dist::Normal {
            mean: 0.5,
            std: 0.3,
            min: 0.0,
            max: 1.0,
        },
        Dist::Uniform {
            low: 0.5,
            high: 2.5,
        },
    );
    let net = b.build(5).unwrap();
    let syn: Vec<_> = net.connectivity.synapses().collect();
    assert!(syn.iter().all(|s| (0.0..=1.0).contains(&s.2)));
    assert!(
        syn.iter().any(|s| s.2 == 0.0) && syn.iter().any(|s| s.2 == 1.0),
        "clipping must occur at both ends"
    );
    assert!(syn.iter().all(|s| s.3 >= ms(0.5) && s.3 < ms(2.5)));
    let mean_w = syn.iter().map(|s| s.2 as f64).sum::<f64>() / syn.len() as f64;
    assert!((mean_w - 0.5).abs() < 0.02, "mean weight {mean_w}");
    // Rows sorted by (delay, target), groups of one delay each.
    for n in 0..200 {
        let groups = net.connectivity.groups_of(n);
        assert!(
            groups
                .windows(2)
                .all(|g| g[0].delay < g[1].delay && g[0].end == g[1].start)
        );
    }
}

#[test]
fn model_file_and_builder_are_two_doors_to_the_same_network() {
    let text = r#"
[[population]]
name = "E"
size = 300
model = "lif_delta"
tau_m = "20 ms"
v_rest = "0 mV"
v_reset = "10 mV"
v_th = "20 mV"
t_ref = "2 ms"

[[drive]]
target = "E"
kind = "poisson"
rate = "8000 Hz"
weight = "0.2 mV"

[[projection]]
from = "E"
to = "E"
rule = "fixed_indegree"
indegree = 30
weight = { uniform = ["0.1 mV", "0.3 mV"] }
delay = "1.5 ms"
"#;
    let m = spikeq::spec::parse_model(text, "doors.toml").unwrap();
    let mut b = NetworkBuilder::new();
    let e = b.population("E", 300, lif());
    b.drive(
        e,
        DriveKind::Poisson {
            rate_hz: 8000.0,
            weight_mv: 0.2,
        },
        Tick::ZERO,
        Tick::MAX,
    );
    b.connect(
        e,
        e,
        ConnectRule::FixedIndegree(30),
        Dist::Uniform {
            low: 0.1,
            high: 0.3,
        },
        Dist::Const(1.5),
    );
    assert_eq!(&m.network, b.def());
    let (_, from_file) = run_spikes(&m.network, 4, ms(200.0));
    let (_, from_builder) = run_spikes(b.def(), 4, ms(200.0));
    assert!(!from_file.is_empty());
    assert_eq!(from_file, from_builder);
}

#[test]
fn dc_step_drives_firing_only_while_it_is_on() {
    let mut b = NetworkBuilder::new();
    let n = b.population("n", 1, lif());
    b.v_init(n, Dist::Const(10.0));
    b.drive(n, DriveKind::Dc { amplitude: 25.0 }, ms(100.0), ms(300.0));
    let (_, spikes) = run_spikes(b.def(), 1, ms(500.0));
    assert!(
        spikes
            .iter()
            .all(|s| s.tick > ms(100.0) && s.tick < ms(300.0)),
        "{spikes:?}"
    );
    // V decays from 10 mV towards 0 before the step, then rises towards 25 mV.
    let v0 = 10.0 * (-100.0f64 / 20.0).exp();
    let first = 100.0 + 20.0 * ((25.0 - v0) / 5.0).ln();
    assert!(
        (spikes[0].tick.as_ms() - first).abs() < 2e-6,
        "{} vs {first}",
        spikes[0].tick.as_ms()
    );
    let period = 2.0 + 20.0 * (15.0f64 / 5.0).ln();
    for w in spikes.windows(2) {
        assert!(((w[1].tick - w[0].tick).as_ms() - period).abs() < 2e-6);
    }
    assert_eq!(spikes.len(), 1 + ((300.0 - first) / period) as usize);
}
