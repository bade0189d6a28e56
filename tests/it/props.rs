//! Engine properties over random small networks (docs/semantics.md, "Property tests").
//!
//! Each property runs at least 256 generated cases. Networks come from
//! `spikeq::testing::arb_network`: explicit spike-time generators and explicit pair lists,
//! weights on a coarse lattice, delays and spike times on a grid. Comparisons with the
//! clock-driven reference stop at the reference's first ambiguous decision (`V` within
//! rounding distance of `v_th`); such cases are counted and must stay rare.

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestRunner};
use spikeq::engine::Simulation;
use spikeq::network::{Network, NetworkDef};
use spikeq::reference::{self, ReferenceOptions, ReferenceRun};
use spikeq::testing::{self, ModelChoice, NetConfig};
use spikeq::{Spike, Tick};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Cases per property.
pub(crate) const CASES: u32 = 256;
/// Ambiguity distance for `lif_delta` (rescaled `f64` state `(V - v_inf) e^{(t - epoch)/tau}`
/// with factors up to e^10 and a 2-ulp `exp`: errors ~1e-14 mV; 1e5x margin).
pub(crate) const EPS_DELTA_MV: f64 = 1e-9;
/// Ambiguity distance for `lif_exp` (f64 closed forms evaluated in different orders).
pub(crate) const EPS_EXP_MV: f64 = 1e-9;

fn runner(cases: u32) -> TestRunner {
    let mut c = Config::with_cases(cases);
    c.source_file = Some(file!());
    c.failure_persistence = Some(Box::new(FileFailurePersistence::SourceParallel(
        "proptest-regressions",
    )));
    TestRunner::new(c)
}

pub(crate) fn run_prop<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    if let Err(e) = runner(cases).run(&strategy, test) {
        panic!("{name}: {e}");
    }
}

/// Case statistics of one property.
#[derive(Default)]
struct Stats {
    cases: AtomicU64,
    ambiguous: AtomicU64,
    active: AtomicU64,
    neuron_spikes: AtomicU64,
}

impl Stats {
    /// Ambiguous cases must be rare and the networks must do something.
    fn assert_meaningful(&self, name: &str, max_ambiguous_percent: u64, min_active_percent: u64) {
        let (n, a, act) = (
            self.cases.load(Relaxed),
            self.ambiguous.load(Relaxed),
            self.active.load(Relaxed),
        );
        eprintln!(
            "{name}: {n} cases, {a} with an ambiguous decision, {act} with neuron spikes, {} neuron spikes",
            self.neuron_spikes.load(Relaxed)
        );
        assert!(n >= CASES as u64, "{name}: only {n} cases ran");
        assert!(
            a * 100 <= max_ambiguous_percent * n,
            "{name}: {a} of {n} cases ambiguous"
        );
        assert!(
            act * 100 >= min_active_percent * n,
            "{name}: only {act} of {n} cases had a neuron (not a generator) fire"
        );
    }
}

fn is_generator(net: &Network, n: u32) -> bool {
    net.def.populations[net.population_of(n)]
        .kind
        .is_generator()
}

/// Runs the engine and the reference; returns both spike lists cut at the reference's first
/// ambiguity, and the reference run.
#[allow(clippy::type_complexity)]
pub(crate) fn engine_and_reference(
    def: &NetworkDef,
    step: Tick,
    t_end: Tick,
) -> Result<(Vec<Spike>, Vec<Spike>, ReferenceRun, u64), TestCaseError> {
    let net = def
        .build(1)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut sim =
        Simulation::new(net.clone(), 1).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let v0 = reference::initial_potentials(&sim);
    let spikes =
        testing::run_limited(&mut sim, t_end).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let opts = ReferenceOptions {
        step,
        ambiguity_delta_mv: EPS_DELTA_MV,
        ambiguity_exp_mv: EPS_EXP_MV,
    };
    let r = reference::simulate(&net, &v0, &opts, t_end)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let until = r.certain_until(t_end);
    let cut = |v: &[Spike]| {
        v.iter()
            .copied()
            .filter(|s| s.tick < until)
            .collect::<Vec<_>>()
    };
    let events = sim.counters().iter().map(|c| c.synaptic_events).sum();
    Ok((cut(&spikes), cut(&r.spikes), r, events))
}

fn note_case(stats: &Stats, net_def: &NetworkDef, r: &ReferenceRun, spikes: &[Spike]) {
    stats.cases.fetch_add(1, Relaxed);
    if r.ambiguity.is_some() {
        stats.ambiguous.fetch_add(1, Relaxed);
    }
    let net = net_def.build(1).expect("builds");
    let k = spikes
        .iter()
        .filter(|s| !is_generator(&net, s.neuron))
        .count() as u64;
    if k > 0 {
        stats.active.fetch_add(1, Relaxed);
    }
    stats.neuron_spikes.fetch_add(k, Relaxed);
}

/// Delta-synapse networks on one of three grids: 1 tick (many same-tick events, negligible
/// leak), 1 µs, 0.1 ms (strong leak).
fn delta_config(grid: usize) -> NetConfig {
    NetConfig {
        grid: Tick([1, 1_000, 100_000][grid]),
        ..NetConfig::default()
    }
}

fn arb_delta_network() -> impl Strategy<Value = (NetworkDef, Tick)> {
    (0..3usize).prop_flat_map(|g| {
        let cfg = delta_config(g);
        let grid = cfg.grid;
        testing::arb_network(cfg).prop_map(move |d| (d, grid))
    })
}

fn t_end_for(grid: Tick, cfg: &NetConfig) -> Tick {
    Tick(grid.0 * (cfg.span_steps as i64 + 3 * *cfg.delay_steps.end() as i64))
}

/// Property `equivalence_delta`: `lif_delta` and `iaf_nonleaky` networks with tick-aligned
/// inputs give exactly the reference's spikes (clock-driven, step = the input grid).
#[test]
fn equivalence_delta_networks_match_the_reference_exactly() {
    let stats = Stats::default();
    run_prop(
        "equivalence_delta",
        CASES,
        arb_delta_network(),
        |(def, grid)| {
            let t_end = t_end_for(grid, &NetConfig::default());
            let (e, r, run, events) = engine_and_reference(&def, grid, t_end)?;
            note_case(&stats, &def, &run, &run.spikes);
            testing::check_same_spikes("engine equals reference", &r, &e)?;
            if run.ambiguity.is_none() {
                prop_assert_eq!(events, run.synaptic_events, "synaptic events");
            }
            Ok(())
        },
    );
    stats.assert_meaningful("equivalence_delta", 3, 30);
}

/// `lif_exp` networks with a constant bias (some suprathreshold): 20 ms of inputs on a
/// 0.1 ms grid.
fn exp_config() -> NetConfig {
    NetConfig {
        bias_steps: -2..=12,
        ..NetConfig::lif_exp()
    }
}

/// Property `equivalence_lif_exp`: every spike of an exponential-current network matches the
/// reference's (10 µs grid, crossings located to the tick inside a step): none missed, none
/// extra, each at the same tick (in particular within one reference step).
#[test]
fn equivalence_lif_exp_networks_match_the_reference_within_its_step() {
    let stats = Stats::default();
    let step = Tick(10_000);
    let cfg = exp_config();
    let t_end = t_end_for(cfg.grid, &cfg);
    run_prop(
        "equivalence_lif_exp",
        CASES,
        testing::arb_network(cfg),
        |def| {
            let (e, r, run, _) = engine_and_reference(&def, step, t_end)?;
            note_case(&stats, &def, &run, &run.spikes);
            prop_assert_eq!(
                e.len(),
                r.len(),
                "spike counts: engine {:?}\nreference {:?}",
                e,
                r
            );
            for (a, b) in e.iter().zip(&r) {
                prop_assert_eq!(a.neuron, b.neuron);
                prop_assert!((a.tick - b.tick).0.abs() < step.0, "{:?} vs {:?}", a, b);
            }
            testing::check_same_spikes("engine equals reference to the tick", &r, &e)?;
            Ok(())
        },
    );
    stats.assert_meaningful("equivalence_lif_exp", 3, 30);
}

/// Property `causality`: every spike of an input-driven neuron falls on an arrival tick
/// (emission + delay) of a recorded presynaptic spike; `lif_exp` spikes follow an excitatory
/// arrival; generators fire on schedule.
#[test]
fn causality_every_spike_has_a_cause_at_emission_plus_delay() {
    let cfg = NetConfig {
        models: vec![
            ModelChoice::LifDelta,
            ModelChoice::NonLeaky,
            ModelChoice::LifExp,
        ],
        ..NetConfig::default()
    };
    let t_end = t_end_for(cfg.grid, &cfg);
    run_prop("causality", CASES, testing::arb_network(cfg), |def| {
        let run = testing::simulate(&def, 1, t_end)?;
        testing::check_causality(&run.network, &run.spikes)?;
        testing::check_generators_complete(&run.network, &run.spikes, t_end)?;
        Ok(())
    });
}

/// Property `monotone_time`: spikes reach the sink in time order, batch after batch, however
/// the run is chunked.
#[test]
fn monotone_time_recorded_spikes_never_go_back() {
    let cfg = NetConfig {
        models: vec![ModelChoice::LifDelta, ModelChoice::LifExp],
        ..NetConfig::default()
    };
    let t_end = t_end_for(cfg.grid, &cfg);
    let s = (testing::arb_network(cfg), testing::arb_chunks(t_end, 0..=6));
    run_prop("monotone_time", CASES, s, |(def, chunks)| {
        let run = testing::simulate_chunked(&def, 1, &chunks)?;
        testing::check_batches_monotone(&run.batches)?;
        testing::check_sorted(&run.spikes)?;
        testing::check_range(&run.network, &run.spikes, t_end)?;
        Ok(())
    });
}

/// Property `order_independence`: the same network given in another order (projections,
/// pairs, spike times, DC drives) gives bit-identical spikes, counters and final potentials.
#[test]
fn order_independence_declaration_order_changes_nothing() {
    let cfg = NetConfig {
        models: vec![
            ModelChoice::LifDelta,
            ModelChoice::LifExp,
            ModelChoice::NonLeaky,
        ],
        weight_step_mv: 0.37,
        ..NetConfig::default()
    };
    let t_end = t_end_for(cfg.grid, &cfg);
    let s = (testing::arb_network(cfg), any::<u64>());
    run_prop("order_independence", CASES, s, |(def, seed)| {
        let a = testing::simulate(&def, 1, t_end)?;
        let b = testing::simulate(&testing::shuffled(&def, seed), 1, t_end)?;
        testing::check_same_spikes("order independence", &a.spikes, &b.spikes)?;
        prop_assert_eq!(&a.counters, &b.counters);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&a.final_potentials), bits(&b.final_potentials));
        Ok(())
    });
}

/// Property `time_shift`: moving every input D ticks later moves every output D ticks later
/// (neurons start at rest).
#[test]
fn time_shift_invariance_outputs_move_with_the_inputs() {
    let stats = Stats::default();
    let s = (arb_delta_network(), 0..20_000_000i64).prop_map(|((mut d, g), shift)| {
        // Neurons start at rest (0 mV): initial potentials are not inputs.
        for p in &mut d.populations {
            p.v_init_mv = spikeq::network::Dist::Const(0.0);
        }
        (d, g, Tick(shift))
    });
    run_prop("time_shift", CASES, s, |(def, grid, d)| {
        let t_end = t_end_for(grid, &NetConfig::default());
        let (_, _, run, _) = engine_and_reference(&def, grid, t_end)?;
        note_case(&stats, &def, &run, &run.spikes);
        let until = run.certain_until(t_end);
        let a = testing::simulate(&def, 1, t_end)?;
        let b = testing::simulate(&testing::shift_inputs(&def, d), 1, t_end + d)?;
        let expect: Vec<Spike> = a
            .spikes
            .iter()
            .filter(|s| s.tick < until)
            .map(|s| Spike {
                tick: s.tick + d,
                neuron: s.neuron,
            })
            .collect();
        let got: Vec<Spike> = b
            .spikes
            .iter()
            .copied()
            .filter(|s| s.tick < until + d)
            .collect();
        testing::check_same_spikes("time-shift invariance", &expect, &got)?;
        Ok(())
    });
    stats.assert_meaningful("time_shift", 3, 30);
}

/// Property `relabelling`: renumbering neurons (population order and order within each
/// population) renumbers the output and changes nothing else.
#[test]
fn relabelling_invariance_permuting_ids_permutes_spikes() {
    let stats = Stats::default();
    let s = arb_delta_network().prop_flat_map(|(def, grid)| {
        let r = testing::arb_relabelling(&def);
        (Just(def), Just(grid), r)
    });
    run_prop("relabelling", CASES, s, |(def, grid, (order, within))| {
        let t_end = t_end_for(grid, &NetConfig::default());
        let (_, _, run, _) = engine_and_reference(&def, grid, t_end)?;
        note_case(&stats, &def, &run, &run.spikes);
        let until = run.certain_until(t_end);
        let (def2, map) = testing::relabel(&def, &order, &within).expect("explicit lists");
        let a = testing::simulate(&def, 1, t_end)?;
        let b = testing::simulate(&def2, 1, t_end)?;
        let cut = |v: Vec<Spike>| v.into_iter().filter(|s| s.tick < until).collect::<Vec<_>>();
        testing::check_same_spikes(
            "relabelling invariance",
            &cut(testing::map_spikes(&a.spikes, &map)),
            &cut(b.spikes),
        )?;
        Ok(())
    });
    stats.assert_meaningful("relabelling", 3, 30);
}

/// Property `refractoriness`: under strong excitation, no neuron spikes twice within its
/// refractory period, and (delta models) input during it is discarded: the reference, which
/// discards it, agrees.
#[test]
fn refractoriness_no_neuron_fires_twice_within_its_refractory_period() {
    let hits = AtomicU64::new(0);
    let cfg = NetConfig {
        models: vec![
            ModelChoice::LifDelta,
            ModelChoice::NonLeaky,
            ModelChoice::LifExp,
        ],
        weight_steps: 10..=40,
        t_ref_steps: 1..=6,
        spikes_per_train: 4..=16,
        span_steps: 60,
        ..NetConfig::default()
    };
    let t_end = t_end_for(cfg.grid, &cfg);
    run_prop("refractoriness", CASES, testing::arb_network(cfg), |def| {
        let run = testing::simulate(&def, 1, t_end)?;
        testing::check_refractory(&run.network, &run.spikes)?;
        // Did some input arrive inside a refractory period (so the rule was exercised)?
        let arr = testing::arrivals(&run.network, &run.spikes);
        let mut last = std::collections::HashMap::new();
        for s in run
            .spikes
            .iter()
            .filter(|s| !is_generator(&run.network, s.neuron))
        {
            last.insert(s.neuron, s.tick);
        }
        if run.spikes.iter().any(|s| {
            testing::refractory_period(&run.network, s.neuron).is_some_and(|r| {
                arr.keys()
                    .any(|&(t, n)| n == s.neuron && t > s.tick && t < s.tick + r)
            })
        }) {
            hits.fetch_add(1, Relaxed);
        }
        Ok(())
    });
    let h = hits.load(Relaxed);
    eprintln!("refractoriness: {h} cases with input during a refractory period");
    assert!(
        h >= CASES as u64 / 4,
        "refractoriness exercised in only {h} cases"
    );
}

/// Property `conservation`: every synaptic event is delivered once (engine counters equal
/// the recorded spikes' out-degrees, per target population), every spike is counted once,
/// and the recorded spikes survive a round trip through a `.spk` trace.
#[test]
fn conservation_every_event_delivered_once_and_every_spike_traced() {
    let cfg = NetConfig {
        models: vec![
            ModelChoice::LifDelta,
            ModelChoice::NonLeaky,
            ModelChoice::LifExp,
        ],
        ..NetConfig::default()
    };
    let t_end = t_end_for(cfg.grid, &cfg);
    let s = (testing::arb_network(cfg), 0..t_end.0);
    run_prop("conservation", CASES, s, |(def, cut)| {
        // Ends at an arbitrary tick: arrivals at or after it are not counted.
        let t_end = Tick(cut.max(1));
        let run = testing::simulate(&def, 1, t_end)?;
        testing::check_conservation(&run.network, &run.spikes, &run.counters, t_end)?;
        let header = spikeq::trace::spk::SpkHeader::new(run.network.num_neurons().max(1));
        let mut w = spikeq::trace::spk::SpkWriter::new(Vec::new(), &header)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        w.push_slice(&run.spikes)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let bytes = w.finish().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = spikeq::trace::spk::SpkReader::new(&bytes[..])
            .and_then(|r| r.read_to_end())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        testing::check_same_spikes("trace round trip", &run.spikes, &back)?;
        Ok(())
    });
}

/// Property `chunking`: `run_until` in random chunks gives bit-identical spikes, counters and
/// final potentials.
#[test]
fn chunking_invariance_runs_compose() {
    let cfg = NetConfig {
        models: vec![
            ModelChoice::LifDelta,
            ModelChoice::NonLeaky,
            ModelChoice::LifExp,
        ],
        bias_steps: -2..=20,
        ..NetConfig::default()
    };
    let t_end = t_end_for(cfg.grid, &cfg);
    let s = (
        testing::arb_network(cfg),
        testing::arb_chunks(t_end, 1..=12),
    );
    run_prop("chunking", CASES, s, |(def, chunks)| {
        let one = testing::simulate(&def, 1, t_end)?;
        let many = testing::simulate_chunked(&def, 1, &chunks)?;
        testing::check_same_spikes("chunking invariance", &one.spikes, &many.spikes)?;
        prop_assert_eq!(&one.counters, &many.counters);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&one.final_potentials), bits(&many.final_potentials));
        testing::check_invariants(&many)?;
        Ok(())
    });
}
