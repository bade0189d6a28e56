//! `spikeq::testing` used as a user would: proptests over a user's own model file, and the
//! checkers rejecting broken traces.

use proptest::prelude::*;
use spikeq::network::{ConnectRule, Dist, NetworkBuilder, NeuronKind};
use spikeq::neuron::LifParams;
use spikeq::reference::ReferenceOptions;
use spikeq::testing::{self, NetConfig};
use spikeq::{Spike, Tick};

/// A user's model: 4 input channels (replaced by generated trains), an excitatory
/// exponential-current layer and an inhibitory delta layer feeding back.
const MY_MODEL: &str = r#"
[[population]]
name = "input"
size = 4
model = "regular"
period = "10 ms"

[[population]]
name = "hidden"
size = 3
model = "lif_exp"
tau_m = "10 ms"
v_rest = "-65 mV"
v_reset = "-70 mV"
v_th = "-55 mV"
t_ref = "2 ms"
tau_syn_ex = "2 ms"
tau_syn_in = "5 ms"

[[population]]
name = "inhibit"
size = 2
model = "lif_delta"
tau_m = "20 ms"
v_rest = "0 mV"
v_reset = "0 mV"
v_th = "10 mV"
t_ref = "1 ms"

[[projection]]
from = "input"
to = "hidden"
rule = "all_to_all"
weight = "30 mV"
delay = "1 ms"

[[projection]]
from = "hidden"
to = "inhibit"
rule = "all_to_all"
weight = "6 mV"
delay = "0.5 ms"

[[projection]]
from = "inhibit"
to = "hidden"
rule = "all_to_all"
weight = "-20 mV"
delay = "0.5 ms"
"#;

fn ms(v: f64) -> Tick {
    Tick::from_ms(v).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The three-line property: any small network keeps the timing contract.
    #[test]
    fn any_small_lif_exp_network_keeps_the_timing_contract(
        def in testing::arb_network(NetConfig::lif_exp())
    ) {
        let run = testing::simulate(&def, 7, ms(30.0))?;
        testing::check_invariants(&run)?;
    }

    /// A user's model file under random input trains: invariants hold and the engine agrees
    /// with the clock-driven reference.
    #[test]
    fn my_model_file_under_random_inputs(
        trains in testing::arb_spike_trains(4, Tick(100_000), 300, 0..=12)
    ) {
        let model = spikeq::spec::parse_model(MY_MODEL, "my_model.toml").unwrap();
        let def = testing::with_spike_times(&model.network, "input", trains).unwrap();
        let run = testing::simulate(&def, 1, ms(40.0))?;
        testing::check_invariants(&run)?;
        testing::check_against_reference(&def, 1, &ReferenceOptions::with_step(Tick(10_000)), ms(40.0))?;
    }
}

fn two_neurons(t_ref_ms: f64) -> spikeq::network::Network {
    let mut b = NetworkBuilder::new();
    let g = b.population("g", 1, NeuronKind::SpikeTimes(vec![vec![ms(1.0)]]));
    let n = b.population(
        "n",
        1,
        NeuronKind::LifDelta(LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: 0.0,
            v_reset_mv: 0.0,
            v_th_mv: 10.0,
            t_ref: ms(t_ref_ms),
        }),
    );
    b.connect(
        g,
        n,
        ConnectRule::OneToOne,
        Dist::Const(20.0),
        Dist::Const(1.0),
    );
    b.build(1).unwrap()
}

fn spike(t_ms: f64, neuron: u32) -> Spike {
    Spike {
        tick: ms(t_ms),
        neuron,
    }
}

#[test]
fn the_checkers_reject_broken_traces() {
    let net = two_neurons(2.0);
    let good = vec![spike(1.0, 0), spike(2.0, 1)];
    assert_eq!(testing::check_sorted(&good), Ok(()));
    assert_eq!(testing::check_causality(&net, &good), Ok(()));
    assert_eq!(testing::check_refractory(&net, &good), Ok(()));
    // Out of order.
    let e = testing::check_sorted(&[spike(2.0, 1), spike(1.0, 0)]).unwrap_err();
    assert_eq!(e.rule, "recorded spikes are sorted");
    // A spike one tick late: no input arrives at its tick.
    let late = vec![
        spike(1.0, 0),
        Spike {
            tick: ms(2.0) + Tick::ONE,
            neuron: 1,
        },
    ];
    let e = testing::check_causality(&net, &late).unwrap_err();
    assert_eq!(
        e.rule,
        "every delivery happens exactly at emission tick plus delay"
    );
    // Twice within the refractory period.
    let e = testing::check_refractory(&net, &[spike(2.0, 1), spike(3.5, 1)]).unwrap_err();
    assert_eq!(
        e.rule,
        "no neuron spikes twice within its refractory period"
    );
    // A generator spike off its schedule.
    let e = testing::check_causality(&net, &[spike(1.5, 0)]).unwrap_err();
    assert_eq!(e.rule, "generators fire on their schedule");
    // Counters that miss a delivery.
    let run = testing::simulate(&net.def, 1, ms(5.0)).unwrap();
    let mut counters = run.counters.clone();
    counters[1].synaptic_events -= 1;
    let e = testing::check_conservation(&run.network, &run.spikes, &counters, ms(5.0)).unwrap_err();
    assert_eq!(e.rule, "every synaptic event is delivered once");
}
