//! Adding input spikes to a running simulation (`Simulation::add_spike_times`): input fed
//! piece by piece between runs gives bit-identical spikes, plastic weights and counters to
//! input given at build time, for any thread count; a spike added at the current time fires
//! then; bad requests are refused and leave the simulation unchanged.

use crate::ms;
use spikeq::engine::{RunError, Simulation};
use spikeq::learn::encode;
use spikeq::network::{ConnectRule, Dist, NetworkBuilder, NeuronKind};
use spikeq::neuron::LifParams;
use spikeq::neuron::lif_adaptive::AdaptationParams;
use spikeq::plasticity::{NormalizeParams, Pairing, StdpParams, TripletParams};
use spikeq::{Spike, Tick};

/// Inputs: more than one block (1024 neurons), so that threads split the input population.
const INPUTS: usize = 1100;
const PIECES: usize = 8;

fn piece_len() -> Tick {
    ms(60.0)
}

/// Piece `k`'s input trains, in absolute time: random rate-coded trains over the first 40 ms
/// of the piece, plus a spike of input 0 exactly at the piece's start.
fn piece(k: usize) -> Vec<Vec<Tick>> {
    let x: Vec<f32> = (0..INPUTS)
        .map(|i| ((i * 37 + k * 11) % 100) as f32 / 100.0)
        .collect();
    let t0 = Tick(piece_len().0 * k as i64);
    let mut trains = encode::poisson(&x, 80.0, ms(40.0), 1000 + k as u64);
    for t in &mut trains {
        for s in t.iter_mut() {
            *s += t0;
        }
    }
    trains[0].insert(0, t0);
    trains[0].dedup();
    trains
}

/// Spike-times input onto adaptive neurons through a plastic, normalised triplet projection
/// (Diehl & Cook's form), with lateral inhibition.
fn network(input: Vec<Vec<Tick>>) -> spikeq::network::Network {
    let mut b = NetworkBuilder::new();
    let inp = b.population("input", INPUTS as u32, NeuronKind::SpikeTimes(input));
    let lif = LifParams {
        tau_m_ms: 100.0,
        v_rest_mv: -65.0,
        v_reset_mv: -65.0,
        v_th_mv: -52.0,
        t_ref: ms(5.0),
    };
    let ad = AdaptationParams {
        theta_plus_mv: 0.5,
        tau_theta_ms: 1000.0,
    };
    let exc = b.population("exc", 12, NeuronKind::LifAdaptive(lif, ad));
    b.connect(
        inp,
        exc,
        ConnectRule::AllToAll,
        Dist::Uniform {
            low: 0.0,
            high: 0.05,
        },
        Dist::Const(1.0),
    )
    .plasticity = Some(StdpParams {
        tau_plus_ms: 20.0,
        tau_minus_ms: 20.0,
        a_plus: 0.0,
        a_minus: 1e-3,
        triplet: Some(TripletParams {
            tau_x_ms: 20.0,
            tau_y_ms: 40.0,
            a3_plus: 1e-2,
            a3_minus: 0.0,
        }),
        pairing: Pairing::Nearest,
        mu_plus: 0.0,
        mu_minus: 0.0,
        w_min: 0.0,
        w_max: 0.2,
        reward: None,
        normalize: Some(NormalizeParams {
            total: 25.0,
            every: piece_len(),
        }),
    });
    b.connect(
        exc,
        exc,
        ConnectRule::AllToAll,
        Dist::Const(-3.0),
        Dist::Const(1.0),
    );
    b.build(7).unwrap()
}

/// How the input reaches the simulation.
#[derive(Clone, Copy, Debug)]
enum Feed {
    /// All of it in the network definition.
    AtBuild,
    /// Piece `k` added at its start.
    JustInTime,
    /// Half of each train (every other spike) of piece `k + 1` added at piece `k`'s start,
    /// the rest at its own start: added spikes merge with spikes still to come.
    Interleaved,
}

struct Outcome {
    spikes: Vec<Spike>,
    weights: Vec<f64>,
    counts: Vec<(u64, u64)>,
}

fn run(feed: Feed, threads: usize) -> Outcome {
    let all: Vec<Vec<Vec<Tick>>> = (0..PIECES).map(piece).collect();
    let at_build = match feed {
        Feed::AtBuild => (0..INPUTS)
            .map(|i| all.iter().flat_map(|p| p[i].iter().copied()).collect())
            .collect(),
        _ => Vec::new(),
    };
    let net = network(at_build);
    let mut sim = Simulation::with_threads(net, 3, threads).unwrap();
    let half = |p: &Vec<Vec<Tick>>, odd: bool| -> Vec<Vec<Tick>> {
        p.iter()
            .map(|t| {
                t.iter()
                    .enumerate()
                    .filter(|(j, _)| (j % 2 == 1) == odd)
                    .map(|(_, &s)| s)
                    .collect()
            })
            .collect()
    };
    let mut spikes = Vec::new();
    for k in 0..PIECES {
        match feed {
            Feed::AtBuild => {}
            Feed::JustInTime => sim.add_spike_times(0, &all[k]).unwrap(),
            Feed::Interleaved => {
                if k == 0 {
                    sim.add_spike_times(0, &half(&all[0], true)).unwrap();
                }
                sim.add_spike_times(0, &half(&all[k], false)).unwrap();
                if k + 1 < PIECES {
                    sim.add_spike_times(0, &half(&all[k + 1], true)).unwrap();
                }
            }
        }
        let t_end = Tick(piece_len().0 * (k as i64 + 1));
        sim.run_until(t_end, &mut spikes).unwrap();
    }
    Outcome {
        spikes,
        weights: sim
            .plastic_weights(0)
            .unwrap()
            .iter()
            .map(|s| s.weight)
            .collect(),
        // Predictions are not compared: adding spikes re-predicts the neurons they go to.
        counts: sim
            .counters()
            .iter()
            .map(|c| (c.spikes, c.synaptic_events))
            .collect(),
    }
}

#[test]
fn input_added_between_runs_equals_input_given_at_build() {
    let reference = run(Feed::AtBuild, 1);
    let exc_spikes = reference
        .spikes
        .iter()
        .filter(|s| s.neuron >= INPUTS as u32)
        .count();
    assert!(
        exc_spikes > 50,
        "the test needs output spikes: {exc_spikes}"
    );
    let initial_max = 0.05;
    assert!(
        reference.weights.iter().any(|&w| w > initial_max),
        "the test needs plasticity at work"
    );
    for feed in [Feed::AtBuild, Feed::JustInTime, Feed::Interleaved] {
        for threads in [1, 3] {
            let o = run(feed, threads);
            assert!(
                o.spikes == reference.spikes,
                "{feed:?} on {threads} threads: spikes differ"
            );
            assert!(
                o.weights == reference.weights,
                "{feed:?} on {threads} threads: weights differ"
            );
            assert_eq!(o.counts, reference.counts, "{feed:?} on {threads} threads");
        }
    }
    // Input 0 fires at the start of every piece: a spike added at the current time fires then.
    let starts: Vec<Tick> = reference
        .spikes
        .iter()
        .filter(|s| s.neuron == 0)
        .map(|s| s.tick)
        .filter(|t| t.0 % piece_len().0 == 0)
        .collect();
    assert_eq!(starts.len(), PIECES);
}

#[test]
fn bad_additions_are_refused_and_change_nothing() {
    let build = || {
        let mut b = NetworkBuilder::new();
        let inp = b.population("in", 2, NeuronKind::SpikeTimes(vec![vec![ms(1.0)]]));
        let out = b.population(
            "out",
            1,
            NeuronKind::LifDelta(LifParams {
                tau_m_ms: 10.0,
                v_rest_mv: 0.0,
                v_reset_mv: 0.0,
                v_th_mv: 1.0,
                t_ref: Tick::ZERO,
            }),
        );
        b.connect(
            inp,
            out,
            ConnectRule::AllToAll,
            Dist::Const(2.0),
            Dist::Const(1.0),
        );
        Simulation::new(b.build(1).unwrap(), 1).unwrap()
    };
    let mut sim = build();
    let mut spikes = Vec::new();
    sim.run_until(ms(5.0), &mut spikes).unwrap();
    assert_eq!(
        sim.add_spike_times(0, &[vec![ms(6.0), ms(4.0)]]),
        Err(RunError::SpikeInPast {
            neuron: 0,
            tick: ms(4.0),
            now: ms(5.0)
        })
    );
    assert_eq!(
        sim.add_spike_times(1, &[vec![ms(6.0)]]),
        Err(RunError::NotSpikeTimes("out".into()))
    );
    assert_eq!(
        sim.add_spike_times(2, &[]),
        Err(RunError::NoSuchPopulation(2))
    );
    assert!(matches!(
        sim.add_spike_times(0, &[vec![], vec![], vec![ms(6.0)]]),
        Err(RunError::TooManyTrains {
            trains: 3,
            size: 2,
            ..
        })
    ));
    // Nothing was added: the rest of the run is that of a simulation never asked.
    sim.run_until(ms(20.0), &mut spikes).unwrap();
    let mut fresh = build();
    let mut expect = Vec::new();
    fresh.run_until(ms(20.0), &mut expect).unwrap();
    assert_eq!(spikes, expect);
    // A valid addition (neuron 1, at the current time) plays, and drives the output.
    sim.add_spike_times(0, &[vec![], vec![ms(20.0)]]).unwrap();
    let mut more = Vec::new();
    sim.run_until(ms(30.0), &mut more).unwrap();
    assert_eq!(
        more,
        [
            Spike {
                tick: ms(20.0),
                neuron: 1
            },
            Spike {
                tick: ms(21.0),
                neuron: 2
            }
        ]
    );
}
