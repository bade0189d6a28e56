//! The timing contract of docs/semantics.md, rule by rule.

use crate::{ms, run_spikes};
use spikeq::engine::Simulation;
use spikeq::network::{ConnectRule, Dist, NetworkBuilder, NeuronKind, PopulationId};
use spikeq::neuron::LifParams;
use spikeq::{Spike, Tick};

fn lif() -> NeuronKind {
    NeuronKind::LifDelta(LifParams {
        tau_m_ms: 20.0,
        v_rest_mv: 0.0,
        v_reset_mv: 0.0,
        v_th_mv: 10.0,
        t_ref: ms(2.0),
    })
}

fn generator(b: &mut NetworkBuilder, name: &str, times_ms: &[f64]) -> PopulationId {
    b.population(
        name,
        1,
        NeuronKind::SpikeTimes(vec![times_ms.iter().map(|&t| ms(t)).collect()]),
    )
}

#[test]
fn delivery_happens_exactly_at_emission_plus_delay_along_a_chain() {
    let mut b = NetworkBuilder::new();
    let g = generator(&mut b, "g", &[1.0]);
    let chain: Vec<_> = (0..5)
        .map(|k| b.population(&format!("n{k}"), 1, lif()))
        .collect();
    b.connect(
        g,
        chain[0],
        ConnectRule::OneToOne,
        Dist::Const(11.0),
        Dist::Const(1.5),
    );
    for k in 0..4 {
        b.connect(
            chain[k],
            chain[k + 1],
            ConnectRule::OneToOne,
            Dist::Const(11.0),
            Dist::Const(0.000_001 * (k as f64 + 1.0)),
        );
    }
    let (_, spikes) = run_spikes(b.def(), 1, ms(10.0));
    let mut expect = vec![Spike {
        tick: ms(1.0),
        neuron: 0,
    }];
    let mut t = ms(2.5);
    for k in 0..5u32 {
        expect.push(Spike {
            tick: t,
            neuron: k + 1,
        });
        t += Tick(k as i64 + 1); // next delay: k + 1 ticks
    }
    assert_eq!(spikes, expect);
}

/// Excitation and inhibition arriving at the same tick are summed before the threshold test,
/// whichever source has the lower id.
#[test]
fn same_tick_inputs_are_all_applied_before_the_threshold_check() {
    for inhibitory_first in [true, false] {
        let mut b = NetworkBuilder::new();
        let (gi, ge) = if inhibitory_first {
            let gi = generator(&mut b, "inh", &[1.0]);
            (gi, generator(&mut b, "exc", &[1.0]))
        } else {
            let ge = generator(&mut b, "exc", &[1.0]);
            (generator(&mut b, "inh", &[1.0]), ge)
        };
        let n = b.population("n", 1, lif());
        b.connect(
            ge,
            n,
            ConnectRule::OneToOne,
            Dist::Const(15.0),
            Dist::Const(1.0),
        );
        b.connect(
            gi,
            n,
            ConnectRule::OneToOne,
            Dist::Const(-10.0),
            Dist::Const(1.0),
        );
        let (_, spikes) = run_spikes(b.def(), 1, ms(10.0));
        assert!(
            spikes.iter().all(|s| s.neuron != 2),
            "net input 5 mV must not fire: {spikes:?}"
        );
    }
}

#[test]
fn reaching_threshold_exactly_fires() {
    let mut b = NetworkBuilder::new();
    let g = generator(&mut b, "g", &[3.0]);
    let n = b.population("n", 1, lif());
    b.connect(
        g,
        n,
        ConnectRule::OneToOne,
        Dist::Const(10.0),
        Dist::Const(1.0),
    );
    let (_, spikes) = run_spikes(b.def(), 1, ms(10.0));
    assert_eq!(
        spikes.last(),
        Some(&Spike {
            tick: ms(4.0),
            neuron: 1
        })
    );
}

#[test]
fn input_during_refractoriness_is_discarded_and_counted_after() {
    // Spike at 2 ms (input at 2 ms); t_ref = 2 ms: a strong input at 3.999999 ms is lost,
    // one at exactly 4 ms (end of refractoriness) is applied and fires.
    let mut b = NetworkBuilder::new();
    let g = generator(&mut b, "g", &[1.0, 2.999_999, 3.0]);
    let n = b.population("n", 1, lif());
    b.connect(
        g,
        n,
        ConnectRule::OneToOne,
        Dist::Const(12.0),
        Dist::Const(1.0),
    );
    let (_, spikes) = run_spikes(b.def(), 1, ms(10.0));
    let out: Vec<Tick> = spikes
        .iter()
        .filter(|s| s.neuron == 1)
        .map(|s| s.tick)
        .collect();
    assert_eq!(out, vec![ms(2.0), ms(4.0)]);
}

#[test]
fn zero_and_negative_delays_are_build_errors() {
    for d in [0.0, -1.0, 0.000_000_4] {
        let mut b = NetworkBuilder::new();
        let g = generator(&mut b, "g", &[1.0]);
        let n = b.population("n", 1, lif());
        b.connect(
            g,
            n,
            ConnectRule::OneToOne,
            Dist::Const(1.0),
            Dist::Const(d),
        );
        let e = b.build(1).unwrap_err();
        assert!(
            e.to_string().contains("below the minimum of one tick"),
            "{e}"
        );
    }
}

fn small_random_network() -> NetworkBuilder {
    let mut b = NetworkBuilder::new();
    let e = b.population("E", 400, lif());
    let i = b.population("I", 100, lif());
    b.v_init(
        e,
        Dist::Uniform {
            low: 0.0,
            high: 10.0,
        },
    );
    b.drive(
        e,
        spikeq::network::DriveKind::Poisson {
            rate_hz: 9000.0,
            weight_mv: 0.1,
        },
        Tick::ZERO,
        Tick::MAX,
    );
    b.drive(
        i,
        spikeq::network::DriveKind::Poisson {
            rate_hz: 9000.0,
            weight_mv: 0.1,
        },
        Tick::ZERO,
        Tick::MAX,
    );
    for (from, w) in [(e, 0.2), (i, -1.0)] {
        for to in [e, i] {
            b.connect(
                from,
                to,
                ConnectRule::FixedProbability(0.1),
                Dist::Const(w),
                Dist::Uniform {
                    low: 0.5,
                    high: 3.0,
                },
            );
        }
    }
    b
}

#[test]
fn same_seed_gives_identical_spikes_and_runs_compose_in_chunks() {
    let b = small_random_network();
    let t_end = ms(300.0);
    let (_, once) = run_spikes(b.def(), 7, t_end);
    let (_, again) = run_spikes(b.def(), 7, t_end);
    assert!(
        once.len() > 1000,
        "the network must be active: {} spikes",
        once.len()
    );
    assert_eq!(once, again);
    // Irregular chunks, including ones shorter than the minimum delay.
    let mut sim = Simulation::new(b.build(7).unwrap(), 7).unwrap();
    let mut chunked = vec![];
    let mut t = Tick::ZERO;
    let mut k = 1;
    while t < t_end {
        t = (t + Tick(k * 77_777)).min(t_end);
        sim.run_until(t, &mut chunked).unwrap();
        k = k % 50 + 1;
    }
    assert_eq!(once, chunked);
    let (_, other_seed) = run_spikes(b.def(), 8, t_end);
    assert_ne!(once, other_seed);
}

#[test]
fn recorded_spikes_are_sorted_and_respect_refractoriness() {
    let (_, spikes) = run_spikes(small_random_network().def(), 3, ms(300.0));
    assert!(
        spikes.windows(2).all(|w| w[0] < w[1]),
        "trace must be strictly sorted by (tick, neuron)"
    );
    let mut last = vec![i64::MIN / 2; 500];
    for s in &spikes {
        let gap = s.tick.0 - last[s.neuron as usize];
        assert!(
            gap >= ms(2.0).0,
            "neuron {} fired {gap} ticks after its last spike",
            s.neuron
        );
        last[s.neuron as usize] = s.tick.0;
    }
}
