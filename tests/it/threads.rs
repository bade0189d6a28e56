//! Partitioned simulation (issue 7): any number of threads gives the same run as one.
//!
//! Compared bit for bit between 1, 2, 3 and 7 partitions: every batch the sink receives (so
//! the spikes, their order and the window boundaries), the windows counted, the counters and
//! every neuron's final potential. Networks are random: many small populations (so that 7
//! partitions get blocks to split) of all delta and current models, populations larger than
//! one block, Poisson and DC drives, generators firing on a grid (same-tick spikes in
//! different partitions), delays on the grid and drawn continuously (many delay groups).

use crate::ms;
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use spikeq::engine::{MIN_BLOCK_SIZE, RunError, Simulation};
use spikeq::network::{
    ConnectRule, Dist, DriveKind, NetworkBuilder, NetworkDef, NeuronKind, ProjectionDef,
};
use spikeq::neuron::LifParams;
use spikeq::neuron::lif_exp::ExpSynParams;
use spikeq::record::SpikeSink;
use spikeq::testing::{self, BatchLog, NetConfig};
use spikeq::{Spike, Tick};

/// Everything observable about a run, for bitwise comparison.
#[derive(Debug, PartialEq)]
struct Outcome {
    batches: Vec<Vec<Spike>>,
    windows: u64,
    counters: Vec<spikeq::engine::Counters>,
    potentials: Vec<u64>,
}

fn outcome(def: &NetworkDef, threads: usize, chunks: &[Tick]) -> Result<Outcome, TestCaseError> {
    let fail = |e: String| TestCaseError::fail(e);
    let net = def.build(3).map_err(|e| fail(e.to_string()))?;
    let mut sim = Simulation::with_threads(net, 3, threads).map_err(|e| fail(e.to_string()))?;
    let mut log = BatchLog::default();
    for &t in chunks {
        sim.run_until(t, &mut log).map_err(|e| {
            // A runaway network (every neuron firing every tick) says nothing about
            // partitions and takes long: drawn again.
            let e = e.to_string();
            if e.contains("runaway") {
                TestCaseError::reject(e)
            } else {
                fail(e)
            }
        })?;
    }
    Ok(Outcome {
        batches: log.0,
        windows: sim.windows(),
        counters: sim.counters(),
        potentials: (0..sim.network().num_neurons())
            .map(|n| sim.potential_mv(n).to_bits())
            .collect(),
    })
}

/// Runs `test` over `cases` values of `strategy`; failures persist beside this file.
fn run_prop<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let mut c = Config::with_cases(cases);
    c.source_file = Some(file!());
    c.failure_persistence = Some(Box::new(FileFailurePersistence::SourceParallel(
        "proptest-regressions",
    )));
    if let Err(e) = TestRunner::new(c).run(&strategy, test) {
        panic!("{name}: {e}");
    }
}

fn lif(tau_m_ms: f64, t_ref_steps: i64) -> LifParams {
    LifParams {
        tau_m_ms,
        v_rest_mv: 0.0,
        v_reset_mv: 10.0,
        v_th_mv: 20.0,
        t_ref: Tick(100_000 * t_ref_steps),
    }
}

/// Neuron populations of up to three blocks with Poisson or DC drives, regular and Poisson
/// generators, fixed in-degree projections with grid or continuous delays. Refractory
/// periods of 1-3 ms and excitatory weights up to 4 mV keep activity bounded (at most one
/// spike per neuron and millisecond), so a case stays small.
pub(crate) fn arb_big_network() -> impl Strategy<Value = NetworkDef> {
    let pop = (
        0..4usize,
        prop_oneof![3 => 1..60u32, 1 => (MIN_BLOCK_SIZE - 30)..(2 * MIN_BLOCK_SIZE + 300)],
        0..3usize,
        10..=30i64,
        0..3usize,
    );
    let generator = (0..2usize, 1..300u32, 1..40i64);
    let projection = (
        any::<usize>(),
        any::<usize>(),
        1..30u32,
        -40..=16i32,
        prop_oneof![Just(None), (1..20i64).prop_map(Some)],
    );
    (
        prop::collection::vec(pop, 1..6),
        prop::collection::vec(generator, 0..3),
        prop::collection::vec(projection, 1..8),
    )
        .prop_map(|(pops, gens, projs)| {
            let mut b = NetworkBuilder::new();
            let mut neuron_pops = Vec::new();
            for (k, &(model, size, tau, t_ref, drive)) in pops.iter().enumerate() {
                let p = lif([5.0, 10.0, 20.0][tau], t_ref);
                let syn = ExpSynParams {
                    tau_syn_ex_ms: 0.5,
                    tau_syn_in_ms: 3.0,
                };
                let kind = match model {
                    0 | 1 => NeuronKind::LifDelta(p),
                    2 => NeuronKind::LifExp(p, syn),
                    _ => NeuronKind::LifAdaptive(
                        p,
                        spikeq::neuron::lif_adaptive::AdaptationParams {
                            theta_plus_mv: 1.0,
                            tau_theta_ms: 30.0,
                        },
                    ),
                };
                let id = b.population(&format!("n{k}"), size, kind);
                b.v_init(
                    id,
                    Dist::Uniform {
                        low: 0.0,
                        high: 20.0,
                    },
                );
                match drive {
                    0 => {
                        b.drive(
                            id,
                            DriveKind::Poisson {
                                rate_hz: 8000.0,
                                weight_mv: 0.5,
                            },
                            Tick::ZERO,
                            Tick::MAX,
                        );
                    }
                    1 => {
                        b.drive(id, DriveKind::Dc { amplitude: 21.0 }, ms(2.0), ms(30.0));
                    }
                    _ => {}
                }
                neuron_pops.push(id);
            }
            let mut sources = neuron_pops.clone();
            for (k, &(kind, size, period_steps)) in gens.iter().enumerate() {
                let kind = if kind == 0 {
                    NeuronKind::Regular {
                        period: Tick(100_000 * period_steps),
                        start: Tick(100_000 * (k as i64 + 1)),
                        stop: Tick::MAX,
                    }
                } else {
                    NeuronKind::Poisson {
                        rate_hz: 100.0,
                        start: Tick::ZERO,
                        stop: Tick::MAX,
                    }
                };
                sources.push(b.population(&format!("g{k}"), size, kind));
            }
            for (from, to, k, w, delay_steps) in projs {
                let (from, to) = (
                    sources[from % sources.len()],
                    neuron_pops[to % neuron_pops.len()],
                );
                let delay = match delay_steps {
                    Some(s) => Dist::Const(0.1 * s as f64),
                    None => Dist::Uniform {
                        low: 0.1,
                        high: 3.0,
                    },
                };
                let pr: &mut ProjectionDef = b.connect(
                    from,
                    to,
                    ConnectRule::FixedIndegree(k),
                    Dist::Const(0.25 * w as f64),
                    delay,
                );
                pr.allow_autapses = true;
            }
            b.def().clone()
        })
}

fn same_outcome_for_all_partition_counts(
    def: NetworkDef,
    t_end: Tick,
) -> Result<(), TestCaseError> {
    let one = outcome(&def, 1, &[t_end])?;
    for threads in [2, 3, 7] {
        let other = outcome(&def, threads, &[t_end])?;
        prop_assert!(one == other, "{threads} threads differ from one");
    }
    // Chunked runs compose on threads too (chunks cut windows, so compare spikes only).
    let third = Tick(t_end.0 / 3);
    let chunks = [third, third + Tick::ONE, Tick(t_end.0 / 2), t_end];
    let chunked = outcome(&def, 3, &chunks)?;
    prop_assert_eq!(one.batches.concat(), chunked.batches.concat());
    prop_assert_eq!(&one.potentials, &chunked.potentials);
    Ok(())
}

#[test]
fn spike_trace_is_identical_for_1_2_3_and_7_partitions() {
    run_prop(
        "multi-block networks with drives",
        8,
        arb_big_network(),
        |def| same_outcome_for_all_partition_counts(def, ms(40.0)),
    );
    // Many one-block populations on a 0.1 ms grid: same-tick spikes and ties everywhere.
    let cfg = NetConfig {
        generator_pops: 2..=5,
        neuron_pops: 3..=8,
        pop_size: 1..=6,
        projections: 4..=12,
        ..NetConfig::default()
    };
    run_prop(
        "one-block populations",
        16,
        testing::arb_network(cfg),
        |def| same_outcome_for_all_partition_counts(def, ms(25.0)),
    );
}

/// A builder with one `lif_delta` population "E" of `n` neurons, starting uniformly in
/// [0, 20) mV, under a Poisson drive.
fn driven_population(
    n: u32,
    rate_hz: f64,
    weight_mv: f64,
) -> (NetworkBuilder, spikeq::network::PopulationId) {
    let mut b = NetworkBuilder::new();
    let e = b.population("E", n, NeuronKind::LifDelta(lif(20.0, 2)));
    b.v_init(
        e,
        Dist::Uniform {
            low: 0.0,
            high: 20.0,
        },
    );
    b.drive(
        e,
        DriveKind::Poisson { rate_hz, weight_mv },
        Tick::ZERO,
        Tick::MAX,
    );
    (b, e)
}

/// The partition tests must be able to fail: the networks fire, split into several
/// partitions, and a changed seed changes the trace.
#[test]
fn partitioned_runs_are_meaningful() {
    let (mut b, e) = driven_population(3 * MIN_BLOCK_SIZE, 12000.0, 0.2);
    b.connect(
        e,
        e,
        ConnectRule::FixedIndegree(50),
        Dist::Const(0.2),
        Dist::Const(1.0),
    );
    let net = b.build(1).unwrap();
    let sim = Simulation::with_threads(net.clone(), 1, 7).unwrap();
    // Three blocks: at most three partitions, each with one block.
    assert_eq!(sim.threads(), 3);
    assert!(sim.thread_stats().iter().all(|t| t.blocks == 1));
    let a = outcome(b.def(), 2, &[ms(50.0)]).unwrap();
    assert!(a.batches.concat().len() > 500, "the network must fire");
    let mut other = b.def().clone();
    other.projections[0].weight_mv = Dist::Const(0.21);
    assert_ne!(a, outcome(&other, 2, &[ms(50.0)]).unwrap());
}

/// A network large enough for blocks bigger than the smallest (40,000 neurons: blocks of
/// 4096) gives the same spikes, batches and counters on 1, 2 and 3 threads, and has the
/// block count the size policy says.
#[test]
fn large_blocks_are_the_same_on_any_thread_count() {
    let n = 40_000;
    let bs = spikeq::engine::block_size_for(n);
    assert_eq!(bs, 4 * MIN_BLOCK_SIZE);
    let (mut b, e) = driven_population(n, 2000.0, 0.5);
    b.connect(
        e,
        e,
        ConnectRule::FixedIndegree(20),
        Dist::Const(0.4),
        Dist::Uniform {
            low: 0.5,
            high: 2.0,
        },
    );
    let sim = Simulation::with_threads(b.build(1).unwrap(), 1, 64).unwrap();
    assert_eq!(
        sim.threads(),
        n.div_ceil(bs) as usize,
        "one block per thread at most"
    );
    let one = outcome(b.def(), 1, &[ms(10.0), ms(20.0)]).unwrap();
    assert!(one.batches.concat().len() > 1000, "the network must fire");
    for threads in [2, 3] {
        assert_eq!(
            one,
            outcome(b.def(), threads, &[ms(10.0), ms(20.0)]).unwrap()
        );
    }
}

/// A network that is silent for most of a long run: cost must follow events, not
/// duration / d_min. A pacemaker fires every 100 ms into a population over 0.1 ms delays;
/// 10 s hold 100,000 windows of 0.1 ms, of which only those with events are processed.
#[test]
fn windows_without_events_cost_nothing() {
    let mut b = NetworkBuilder::new();
    let g = b.population(
        "pacemaker",
        1,
        NeuronKind::Regular {
            period: ms(100.0),
            start: ms(5.0),
            stop: Tick::MAX,
        },
    );
    let e = b.population("E", 2 * MIN_BLOCK_SIZE, NeuronKind::LifDelta(lif(20.0, 2)));
    b.connect(
        g,
        e,
        ConnectRule::AllToAll,
        Dist::Const(25.0),
        Dist::Const(0.1),
    );
    b.connect(
        e,
        e,
        ConnectRule::FixedIndegree(2),
        Dist::Const(0.5),
        Dist::Const(0.3),
    );
    let t_end = ms(10_000.0);
    let mut per_threads = Vec::new();
    for threads in [1, 2] {
        let mut sim = Simulation::with_threads(b.build(1).unwrap(), 1, threads).unwrap();
        let mut spikes: Vec<Spike> = Vec::new();
        sim.run_until(t_end, &mut spikes).unwrap();
        // 100 pacemaker spikes, each answered by the whole population 0.1 ms later, whose
        // spikes arrive 0.3 ms after that: three windows per pacemaker spike.
        assert_eq!(spikes.len(), 100 * (1 + 2 * MIN_BLOCK_SIZE as usize));
        assert_eq!(sim.windows(), 300, "{threads} threads");
        assert_eq!(sim.now(), t_end);
        per_threads.push(spikes);
    }
    assert_eq!(per_threads[0], per_threads[1]);
}

/// Refuses one batch, then accepts everything.
struct RefuseOnce {
    batches: usize,
    refuse_at: usize,
    spikes: Vec<Spike>,
}

impl SpikeSink for RefuseOnce {
    fn record(&mut self, spikes: &[Spike]) -> Result<(), String> {
        self.batches += 1;
        if self.batches == self.refuse_at {
            return Err("disk full".into());
        }
        self.spikes.extend_from_slice(spikes);
        Ok(())
    }
}

/// A refused batch stops the run but loses no state: resumed, the run records exactly the
/// uninterrupted run's spikes from where it stopped, on one thread as on several.
#[test]
fn a_refused_batch_stops_the_run_and_it_resumes_exactly() {
    let cfg = NetConfig {
        generator_pops: 3..=3,
        neuron_pops: 4..=4,
        pop_size: 4..=4,
        spikes_per_train: 8..=8,
        projections: 8..=8,
        ..NetConfig::default()
    };
    let def = proptest::strategy::ValueTree::current(
        &testing::arb_network(cfg)
            .new_tree(&mut proptest::test_runner::TestRunner::deterministic())
            .unwrap(),
    );
    let t_end = ms(20.0);
    let whole = outcome(&def, 1, &[t_end]).unwrap().batches.concat();
    assert!(whole.len() > 20, "{} spikes", whole.len());
    for threads in [1, 2, 7] {
        let mut sim = Simulation::with_threads(def.build(3).unwrap(), 3, threads).unwrap();
        let mut sink = RefuseOnce {
            batches: 0,
            refuse_at: 3,
            spikes: Vec::new(),
        };
        let err = sim.run_until(t_end, &mut sink).unwrap_err();
        assert!(matches!(err, RunError::Sink { .. }), "{err}");
        let (before, stopped_at) = (sink.spikes.len(), sim.now());
        assert!(stopped_at < t_end);
        sim.run_until(t_end, &mut sink).unwrap();
        let after: Vec<Spike> = whole
            .iter()
            .copied()
            .filter(|s| s.tick >= stopped_at)
            .collect();
        assert_eq!(&sink.spikes[before..], &after[..], "{threads} threads");
        assert_eq!(
            &sink.spikes[..before],
            &whole[..before],
            "{threads} threads"
        );
    }
}
