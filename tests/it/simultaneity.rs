//! Deterministic simultaneity: many spikes on one tick (synchronous volleys, identical delays,
//! zero-jitter periodic inputs), against the clock-driven reference.

use crate::ms;
use crate::props::{CASES, engine_and_reference, run_prop};
use proptest::prelude::*;
use spikeq::network::{ConnectRule, Dist, NetworkBuilder, NeuronKind, PopulationId};
use spikeq::neuron::LifParams;
use spikeq::neuron::lif_exp::ExpSynParams;
use spikeq::testing::{self, ModelChoice, NetConfig};
use spikeq::{Spike, Tick};

fn lif(v_th: f64, t_ref_ms: f64) -> LifParams {
    LifParams {
        tau_m_ms: 10.0,
        v_rest_mv: 0.0,
        v_reset_mv: 0.0,
        v_th_mv: v_th,
        t_ref: ms(t_ref_ms),
    }
}

fn volley(b: &mut NetworkBuilder, name: &str, n: u32, times: &[f64]) -> PopulationId {
    let t: Vec<Tick> = times.iter().map(|&x| ms(x)).collect();
    b.population(name, n, NeuronKind::SpikeTimes(vec![t; n as usize]))
}

/// Engine and reference agree exactly, with no ambiguous decision, and every layer fires.
fn assert_matches_reference(b: &NetworkBuilder, t_end: Tick, step: Tick) -> Vec<Spike> {
    let (e, r, run, events) = engine_and_reference(b.def(), step, t_end).unwrap();
    assert_eq!(run.ambiguity, None, "a decision within rounding distance");
    assert_eq!(events, run.synaptic_events, "synaptic events");
    assert_eq!(e, r, "engine vs reference");
    e
}

/// Volley sizes per population.
fn counts(b: &NetworkBuilder, spikes: &[Spike]) -> Vec<usize> {
    let net = b.build(1).unwrap();
    let mut c = vec![0; net.populations.len()];
    for s in spikes {
        c[net.population_of(s.neuron)] += 1;
    }
    c
}

/// 300 generators fire on the same tick; excitation and inhibition reach a layer through
/// identical delays; layers relay the volley with identical delays. Initial potentials differ
/// per neuron, so each layer fires partially.
#[test]
fn a_synchronous_volley_crosses_three_layers_as_the_reference_says() {
    let mut b = NetworkBuilder::new();
    let e = volley(&mut b, "E", 200, &[1.0, 6.0]);
    let i = volley(&mut b, "I", 100, &[1.0, 6.0]);
    let layers: Vec<_> = (0..3)
        .map(|k| b.population(&format!("L{k}"), 40, NeuronKind::LifDelta(lif(10.0, 2.0))))
        .collect();
    for &l in &layers {
        b.v_init(
            l,
            Dist::Uniform {
                low: 0.0,
                high: 8.0,
            },
        );
    }
    b.connect(
        e,
        layers[0],
        ConnectRule::AllToAll,
        Dist::Const(0.1),
        Dist::Const(1.0),
    );
    b.connect(
        i,
        layers[0],
        ConnectRule::AllToAll,
        Dist::Const(-0.15),
        Dist::Const(1.0),
    );
    for k in 0..2 {
        b.connect(
            layers[k],
            layers[k + 1],
            ConnectRule::AllToAll,
            Dist::Const(0.6),
            Dist::Const(0.5),
        );
    }
    let spikes = assert_matches_reference(&b, ms(12.0), Tick(100_000));
    let c = counts(&b, &spikes);
    assert_eq!(&c[..2], &[400, 200]);
    assert!(
        c[2..].iter().all(|&k| k > 0 && k < 80),
        "partial volleys: {c:?}"
    );
}

/// Fifty +0.25 mV and fifty -0.25 mV inputs on one tick cancel whichever ids come first; fifty
/// +0.25 mV alone fire the neuron.
#[test]
fn a_hundred_same_tick_inputs_are_summed_before_the_threshold() {
    for inhibition_first in [false, true] {
        let mut b = NetworkBuilder::new();
        let (e, i) = if inhibition_first {
            let i = volley(&mut b, "I", 50, &[1.0]);
            (volley(&mut b, "E", 50, &[1.0, 3.0]), i)
        } else {
            let e = volley(&mut b, "E", 50, &[1.0, 3.0]);
            (e, volley(&mut b, "I", 50, &[1.0]))
        };
        let n = b.population("n", 1, NeuronKind::LifDelta(lif(10.0, 0.0)));
        b.connect(
            e,
            n,
            ConnectRule::AllToAll,
            Dist::Const(0.25),
            Dist::Const(0.5),
        );
        b.connect(
            i,
            n,
            ConnectRule::AllToAll,
            Dist::Const(-0.25),
            Dist::Const(0.5),
        );
        let spikes = assert_matches_reference(&b, ms(5.0), Tick(100_000));
        let out: Vec<Tick> = spikes
            .iter()
            .filter(|s| s.neuron == 100)
            .map(|s| s.tick)
            .collect();
        assert_eq!(out, vec![ms(3.5)]);
    }
}

/// Zero-jitter periodic inputs with commensurate periods coincide on many ticks for 200 ms;
/// a recurrent layer with identical delays relays them.
#[test]
fn zero_jitter_periodic_inputs_coincide_and_match_the_reference() {
    let mut b = NetworkBuilder::new();
    let mut gens = Vec::new();
    for (k, period) in [2.0, 3.0, 4.0, 6.0].iter().enumerate() {
        gens.push(b.population(
            &format!("r{k}"),
            5,
            NeuronKind::Regular {
                period: ms(*period),
                start: ms(1.0),
                stop: Tick::MAX,
            },
        ));
    }
    let layer = b.population("L", 12, NeuronKind::LifDelta(lif(10.0, 1.0)));
    let exp = b.population(
        "X",
        6,
        NeuronKind::LifExp(
            lif(10.0, 1.0),
            ExpSynParams {
                tau_syn_ex_ms: 2.0,
                tau_syn_in_ms: 3.0,
            },
        ),
    );
    for (k, &g) in gens.iter().enumerate() {
        let w = [1.5, 1.0, -0.5, 2.0][k];
        b.connect(
            g,
            layer,
            ConnectRule::AllToAll,
            Dist::Const(w),
            Dist::Const(1.0),
        );
    }
    b.connect(
        layer,
        layer,
        ConnectRule::List((0..12).map(|k| (k, (k + 1) % 12)).collect()),
        Dist::Const(4.0),
        Dist::Const(1.0),
    );
    b.connect(
        layer,
        exp,
        ConnectRule::AllToAll,
        Dist::Const(1.5),
        Dist::Const(1.0),
    );
    // lif_exp spikes land off the grid: compare with a 10 µs reference.
    let spikes = assert_matches_reference(&b, ms(200.0), Tick(10_000));
    let c = counts(&b, &spikes);
    assert!(c[4] > 100 && c[5] > 10, "the layers must fire: {c:?}");
}

/// Property `volleys`: random networks whose inputs all fall on one to three ticks, with few
/// distinct delays, so that most deliveries coincide.
#[test]
fn volleys_random_coincident_inputs_match_the_reference() {
    let s = (0..2usize, any::<bool>()).prop_flat_map(|(g, exp)| {
        let cfg = NetConfig {
            grid: Tick(if exp { 100_000 } else { [1, 100_000][g] }),
            span_steps: 3,
            spikes_per_train: 1..=3,
            pop_size: 1..=8,
            generator_pops: 2..=4,
            pairs: 4..=40,
            delay_steps: 1..=2,
            models: if exp {
                vec![ModelChoice::LifExp]
            } else {
                vec![ModelChoice::LifDelta, ModelChoice::NonLeaky]
            },
            weight_step_mv: if exp { 1.0 } else { 0.5 },
            ..NetConfig::default()
        };
        let grid = cfg.grid;
        testing::arb_network(cfg).prop_map(move |d| (d, grid, exp))
    });
    run_prop("volleys", CASES, s, |(def, grid, exp)| {
        let step = if exp { Tick(10_000) } else { grid };
        let t_end = Tick(grid.0 * 30);
        let (e, r, _, _) = engine_and_reference(&def, step, t_end)?;
        testing::check_same_spikes("volley equals reference", &r, &e)?;
        Ok(())
    });
}

/// `iaf_nonleaky` sums inputs in `f64` exactly as written, so with weights of ±2^60 and 1 the
/// order of same-tick inputs decides whether the 1 survives: the documented canonical order
/// (source id, then delay group) is observable, and the reference follows it.
const CANCELLING_WEIGHTS: [f64; 6] = [
    1.152_921_504_606_847e18,
    -1.152_921_504_606_847e18,
    1.0,
    0.5,
    -0.5,
    4.0,
];

fn iaf(v_th: f64) -> NeuronKind {
    NeuronKind::NonLeakyIaf(spikeq::neuron::iaf::IafParams {
        v_reset_mv: 0.0,
        v_th_mv: v_th,
        t_ref: Tick::ZERO,
        reset: spikeq::neuron::iaf::IafReset::ToValue,
    })
}

#[test]
fn same_tick_inputs_are_summed_in_canonical_source_order() {
    assert_eq!(CANCELLING_WEIGHTS[0], 2f64.powi(60));
    // Sources 0 (+2^60) and 1 (-2^60) fire at 1 ms through 1 ms; source 2 (+1) fires earlier,
    // at 0.5 ms through 1.5 ms, so its spike is scheduled first. All arrive at 2 ms.
    // Canonical order: (2^60 - 2^60) + 1 = 1 >= 0.5, the neuron fires. Any other order loses
    // the 1 (2^60 + 1 rounds to 2^60) and it does not.
    let mut b = NetworkBuilder::new();
    let a = volley(&mut b, "a", 1, &[1.0]);
    let m = volley(&mut b, "m", 1, &[1.0]);
    let c = volley(&mut b, "c", 1, &[0.5]);
    let n = b.population("n", 1, iaf(0.5));
    b.v_init(n, Dist::Const(0.0));
    for (g, w, d) in [
        (a, CANCELLING_WEIGHTS[0], 1.0),
        (m, CANCELLING_WEIGHTS[1], 1.0),
        (c, 1.0, 1.5),
    ] {
        b.connect(g, n, ConnectRule::OneToOne, Dist::Const(w), Dist::Const(d));
    }
    let spikes = assert_matches_reference(&b, ms(5.0), Tick(100_000));
    assert!(
        spikes.contains(&Spike {
            tick: ms(2.0),
            neuron: 3
        }),
        "{spikes:?}"
    );
}

/// Property `canonical_order`: volleys into `iaf_nonleaky` neurons with cancelling weights
/// (±2^60, small values): the engine sums same-tick inputs in the reference's canonical order.
#[test]
fn canonical_order_same_tick_sums_follow_source_and_delay_order() {
    let cfg = NetConfig {
        grid: Tick(100_000),
        span_steps: 3,
        spikes_per_train: 1..=2,
        pop_size: 1..=4,
        generator_pops: 2..=4,
        pairs: 2..=12,
        delay_steps: 1..=3,
        models: vec![ModelChoice::NonLeaky],
        ..NetConfig::default()
    };
    let s = testing::arb_network(cfg).prop_map(|mut def| {
        for (k, pr) in def.projections.iter_mut().enumerate() {
            pr.weight_mv = Dist::Const(CANCELLING_WEIGHTS[k % CANCELLING_WEIGHTS.len()]);
        }
        def
    });
    run_prop("canonical_order", CASES, s, |def| {
        let (e, r, _, _) = engine_and_reference(&def, Tick(100_000), ms(2.0))?;
        testing::check_same_spikes("same-tick sums in canonical order", &r, &e)?;
        Ok(())
    });
}
