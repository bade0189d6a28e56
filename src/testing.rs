//! Property testing for spikeq networks (feature `testing`): proptest strategies that generate
//! small networks, spike trains and model parameters, runners, transformations (shift,
//! relabel, shuffle) and checkers that verify the timing contract of `docs/semantics.md` on
//! any simulation result.
//!
//! A property for your own model takes three lines:
//!
//! ```
//! use proptest::prelude::*;
//! use spikeq::testing::{self, NetConfig};
//! use spikeq::Tick;
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(16))]
//!     // In a test file, put `#[test]` here.
//!     fn my_networks_keep_the_timing_contract(def in testing::arb_network(NetConfig::default())) {
//!         let run = testing::simulate(&def, 1, Tick::from_ms(30.0).unwrap())?;
//!         testing::check_invariants(&run)?;
//!     }
//! }
//! my_networks_keep_the_timing_contract();
//! ```
//!
//! Checkers return [`Violation`], an error that `?` turns into a proptest failure (and that
//! names the rule broken and the first offending spike).
//!
//! Owns: test-support code only; the engine never calls it.

use crate::engine::{Counters, RunError, Simulation};
use crate::network::{
    BuildError, ConnectRule, Dist, DriveKind, Network, NetworkDef, NeuronKind, PopulationDef,
    ProjectionDef,
};
use crate::neuron::LifParams;
use crate::neuron::iaf::{IafParams, IafReset};
use crate::neuron::lif_exp::ExpSynParams;
use crate::record::SpikeSink;
use crate::time::Tick;
use crate::{NeuronId, Spike};
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};
use std::ops::RangeInclusive;

pub use crate::reference;

// ---------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------

/// Why a network could not be simulated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The description does not build.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The run failed.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Everything a checker needs from one run.
#[derive(Debug, Clone)]
pub struct SimResult {
    /// The built network (description, id ranges, synapses).
    pub network: Network,
    /// Recorded spikes, in the order the sink received them.
    pub spikes: Vec<Spike>,
    /// Batches as handed to the sink (one per processed window).
    pub batches: Vec<Vec<Spike>>,
    /// Per-population counters at the end.
    pub counters: Vec<Counters>,
    /// Membrane potential of every neuron at the end \[mV\] (0 for generators).
    pub final_potentials: Vec<f64>,
    /// The end of the run (exclusive).
    pub t_end: Tick,
}

/// The most spikes one test run may record: a run that exceeds it stops with a sink error
/// (so a runaway network, e.g. under a broken engine, fails fast instead of exhausting memory).
pub const SPIKE_LIMIT: usize = 1_000_000;

/// A sink that keeps every batch it receives, refusing more than [`SPIKE_LIMIT`] spikes.
#[derive(Debug, Default, Clone)]
pub struct BatchLog(pub Vec<Vec<Spike>>);

impl SpikeSink for BatchLog {
    fn record(&mut self, spikes: &[Spike]) -> Result<(), String> {
        let n: usize = self.0.iter().map(Vec::len).sum::<usize>() + spikes.len();
        if n > SPIKE_LIMIT {
            return Err(format!("runaway activity: more than {SPIKE_LIMIT} spikes"));
        }
        self.0.push(spikes.to_vec());
        Ok(())
    }
}

/// Runs a simulation to `t_end`, collecting at most [`SPIKE_LIMIT`] spikes.
pub fn run_limited(sim: &mut Simulation, t_end: Tick) -> Result<Vec<Spike>, RunError> {
    let mut log = BatchLog::default();
    sim.run_until(t_end, &mut log)?;
    Ok(log.0.concat())
}

/// Builds `def` with `seed` and simulates `[0, t_end)` in one `run_until`.
pub fn simulate(def: &NetworkDef, seed: u64, t_end: Tick) -> Result<SimResult, SimError> {
    simulate_chunked(def, seed, &[t_end])
}

/// Builds `def` with `seed` and simulates with one `run_until` per entry of `ends`
/// (non-decreasing); the run ends at the last entry.
pub fn simulate_chunked(def: &NetworkDef, seed: u64, ends: &[Tick]) -> Result<SimResult, SimError> {
    let network = def.build(seed)?;
    let mut sim = Simulation::new(network.clone(), seed)?;
    let mut log = BatchLog::default();
    for &t in ends {
        sim.run_until(t, &mut log)?;
    }
    let t_end = ends.last().copied().unwrap_or(Tick::ZERO);
    Ok(SimResult {
        spikes: log.0.iter().flatten().copied().collect(),
        batches: log.0,
        counters: sim.counters(),
        final_potentials: (0..network.num_neurons())
            .map(|n| sim.potential_mv(n))
            .collect(),
        network,
        t_end,
    })
}

// ---------------------------------------------------------------------------------------
// Checkers
// ---------------------------------------------------------------------------------------

/// A broken invariant: which rule, and the evidence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {detail}")]
pub struct Violation {
    /// The rule, as named in `docs/semantics.md`.
    pub rule: &'static str,
    /// What was seen.
    pub detail: String,
}

fn fail(rule: &'static str, detail: String) -> Result<(), Violation> {
    Err(Violation { rule, detail })
}

/// Spikes strictly increase in (tick, neuron): time never goes back and a neuron fires at most
/// once per tick.
pub fn check_sorted(spikes: &[Spike]) -> Result<(), Violation> {
    match spikes.windows(2).find(|w| w[0] >= w[1]) {
        Some(w) => fail(
            "recorded spikes are sorted",
            format!("{:?} is followed by {:?}", w[0], w[1]),
        ),
        None => Ok(()),
    }
}

/// Batches reach the sink in time order: each batch is sorted and starts no earlier than the
/// previous one ended.
pub fn check_batches_monotone(batches: &[Vec<Spike>]) -> Result<(), Violation> {
    let mut last: Option<Spike> = None;
    for (k, b) in batches.iter().enumerate() {
        check_sorted(b)?;
        if let (Some(l), Some(f)) = (last, b.first())
            && f.tick < l.tick
        {
            return fail(
                "processed event times never decrease",
                format!("batch {k} starts with {f:?} after {l:?}"),
            );
        }
        last = b.last().copied().or(last);
    }
    Ok(())
}

/// Every spike lies in `[0, t_end)` and names an existing neuron.
pub fn check_range(net: &Network, spikes: &[Spike], t_end: Tick) -> Result<(), Violation> {
    match spikes
        .iter()
        .find(|s| s.tick < Tick::ZERO || s.tick >= t_end || s.neuron >= net.num_neurons())
    {
        Some(s) => fail(
            "spikes lie in the simulated interval",
            format!(
                "{s:?} outside [0, {t_end}) or beyond {} neurons",
                net.num_neurons()
            ),
        ),
        None => Ok(()),
    }
}

/// The refractory period of a neuron's model (`None` for generators).
pub fn refractory_period(net: &Network, neuron: NeuronId) -> Option<Tick> {
    match &net.def.populations[net.population_of(neuron)].kind {
        NeuronKind::LifDelta(p)
        | NeuronKind::LifExp(p, _)
        | NeuronKind::LifAdaptive(p, _)
        | NeuronKind::LifCond(p, _) => Some(p.t_ref),
        NeuronKind::NonLeakyIaf(p) => Some(p.t_ref),
        _ => None,
    }
}

/// No neuron spikes twice within its refractory period (nor twice in one tick).
pub fn check_refractory(net: &Network, spikes: &[Spike]) -> Result<(), Violation> {
    let mut last: HashMap<NeuronId, Tick> = HashMap::new();
    for s in spikes {
        let gap = refractory_period(net, s.neuron)
            .unwrap_or(Tick::ONE)
            .max(Tick::ONE);
        if let Some(&l) = last.get(&s.neuron)
            && s.tick - l < gap
        {
            return fail(
                "no neuron spikes twice within its refractory period",
                format!(
                    "neuron {} fired at {} and {} (refractory period {gap})",
                    s.neuron, l, s.tick
                ),
            );
        }
        last.insert(s.neuron, s.tick);
    }
    Ok(())
}

/// Arrivals `(tick, target) -> summed weight` of every recorded spike through every synapse.
pub fn arrivals(net: &Network, spikes: &[Spike]) -> HashMap<(Tick, NeuronId), f64> {
    let conn = &net.connectivity;
    let mut out = HashMap::new();
    for s in spikes {
        for g in conn.groups_of(s.neuron) {
            for k in g.start..g.end {
                *out.entry((s.tick.saturating_add(g.delay), conn.targets[k]))
                    .or_insert(0.0) += conn.weights[k] as f64;
            }
        }
    }
    out
}

/// Whether a population's neurons can only move towards threshold through synaptic input:
/// no bias, no drive.
fn input_driven(net: &Network, pop: usize) -> bool {
    let def = &net.def.populations[pop];
    def.bias == Dist::Const(0.0) && !net.def.drives.iter().any(|d| d.target == pop)
}

/// Causality, checked from the outside: a spike needs a cause.
///
/// - A `lif_delta` or `iaf_nonleaky` neuron without bias or drive only moves towards threshold
///   when an input arrives, so each of its spikes after tick 0 must fall exactly on the
///   arrival tick (emission + delay) of some recorded presynaptic spike.
/// - A `lif_exp` neuron without bias or drive needs an excitatory arrival strictly before its
///   spike (currents move `V` continuously).
/// - A `spike_times` or `regular` generator fires exactly on its schedule.
pub fn check_causality(net: &Network, spikes: &[Spike]) -> Result<(), Violation> {
    let arr = arrivals(net, spikes);
    let mut first_exc: HashMap<NeuronId, Tick> = HashMap::new();
    for (&(t, n), &w) in &arr {
        if w > 0.0 {
            let e = first_exc.entry(n).or_insert(t);
            *e = (*e).min(t);
        }
    }
    for s in spikes {
        let pop = net.population_of(s.neuron);
        let local = (s.neuron - net.populations[pop].first) as usize;
        let driven = input_driven(net, pop) && s.tick > Tick::ZERO;
        let problem = match &net.def.populations[pop].kind {
            NeuronKind::LifDelta(_) | NeuronKind::NonLeakyIaf(_)
                if driven && !arr.contains_key(&(s.tick, s.neuron)) =>
            {
                Some((
                    "every delivery happens exactly at emission tick plus delay",
                    "has no input arriving at its tick",
                ))
            }
            NeuronKind::LifExp(..)
                if driven && first_exc.get(&s.neuron).is_none_or(|&t| t >= s.tick) =>
            {
                Some((
                    "no event is processed before an event it depends on",
                    "has no excitatory input before it",
                ))
            }
            NeuronKind::SpikeTimes(lists)
                if !lists.get(local).is_some_and(|l| l.contains(&s.tick)) =>
            {
                Some((
                    "generators fire on their schedule",
                    "is not in its spike_times list",
                ))
            }
            &NeuronKind::Regular {
                period,
                start,
                stop,
            } if s.tick < start
                || s.tick >= stop
                || (s.tick - start).0 % period.max(Tick::ONE).0 != 0 =>
            {
                Some((
                    "generators fire on their schedule",
                    "is not on its regular schedule",
                ))
            }
            _ => None,
        };
        if let Some((rule, what)) = problem {
            return fail(rule, format!("{s:?} {what}"));
        }
    }
    Ok(())
}

/// Every scheduled `spike_times` spike in `[0, t_end)` was emitted.
pub fn check_generators_complete(
    net: &Network,
    spikes: &[Spike],
    t_end: Tick,
) -> Result<(), Violation> {
    let got: HashSet<Spike> = spikes.iter().copied().collect();
    for (pop, def) in net.def.populations.iter().enumerate() {
        if let NeuronKind::SpikeTimes(lists) = &def.kind {
            for (k, l) in lists.iter().enumerate().take(def.size as usize) {
                let neuron = net.populations[pop].first + k as u32;
                for &tick in l.iter().filter(|t| **t >= Tick::ZERO && **t < t_end) {
                    if !got.contains(&Spike { tick, neuron }) {
                        return fail(
                            "generators fire on their schedule",
                            format!("neuron {neuron} did not fire at {tick}"),
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// Synaptic events expected per target population: for every recorded spike, each synapse
/// whose arrival (emission + delay) is before `t_end`.
pub fn expected_synaptic_events(net: &Network, spikes: &[Spike], t_end: Tick) -> Vec<u64> {
    let conn = &net.connectivity;
    let mut per_pop = vec![0u64; net.populations.len()];
    for s in spikes {
        for g in conn.groups_of(s.neuron) {
            if s.tick.saturating_add(g.delay) < t_end {
                for k in g.start..g.end {
                    per_pop[net.population_of(conn.targets[k])] += 1;
                }
            }
        }
    }
    per_pop
}

/// Every synaptic event is delivered once: the engine's per-population counts of synaptic
/// events equal those implied by the recorded spikes and the connectivity.
pub fn check_conservation(
    net: &Network,
    spikes: &[Spike],
    counters: &[Counters],
    t_end: Tick,
) -> Result<(), Violation> {
    let expect = expected_synaptic_events(net, spikes, t_end);
    let got: Vec<u64> = counters.iter().map(|c| c.synaptic_events).collect();
    if expect != got {
        return fail(
            "every synaptic event is delivered once",
            format!(
                "synaptic events per population: engine {got:?}, spikes x out-degree {expect:?}"
            ),
        );
    }
    let spikes_per_pop = spikes
        .iter()
        .fold(vec![0u64; net.populations.len()], |mut v, s| {
            v[net.population_of(s.neuron)] += 1;
            v
        });
    let counted: Vec<u64> = counters.iter().map(|c| c.spikes).collect();
    if spikes_per_pop != counted {
        return fail(
            "every spike emitted is recorded once",
            format!("spikes per population: counted {counted:?}, recorded {spikes_per_pop:?}"),
        );
    }
    Ok(())
}

/// All the checks above that apply to any run.
pub fn check_invariants(run: &SimResult) -> Result<(), Violation> {
    let (net, s) = (&run.network, &run.spikes);
    check_sorted(s)?;
    check_batches_monotone(&run.batches)?;
    check_range(net, s, run.t_end)?;
    check_refractory(net, s)?;
    check_causality(net, s)?;
    check_generators_complete(net, s, run.t_end)?;
    check_conservation(net, s, &run.counters, run.t_end)
}

/// What [`check_against_reference`] compared.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceComparison {
    /// Spikes compared (engine and reference agree on all of them).
    pub spikes: usize,
    /// The reference's first ambiguous decision: the comparison stopped at its tick.
    pub ambiguity: Option<reference::Ambiguity>,
}

/// Runs `def` (built and seeded with `seed`) in the engine and in the clock-driven
/// [`reference`](mod@crate::reference) simulator, and checks that both give the same spikes up to `t_end` or the
/// reference's first ambiguous decision. For exact agreement, give inputs and delays on the
/// reference's grid for delta-synapse models; `lif_exp` crossings are located to the tick.
pub fn check_against_reference(
    def: &NetworkDef,
    seed: u64,
    opts: &reference::ReferenceOptions,
    t_end: Tick,
) -> Result<ReferenceComparison, Violation> {
    let err = |detail: String| Violation {
        rule: "the engine agrees with the clock-driven reference",
        detail,
    };
    let net = def.build(seed).map_err(|e| err(e.to_string()))?;
    let mut sim = Simulation::new(net.clone(), seed).map_err(|e| err(e.to_string()))?;
    let v0 = reference::initial_potentials(&sim);
    let spikes = run_limited(&mut sim, t_end).map_err(|e| err(e.to_string()))?;
    let r = reference::simulate(&net, &v0, opts, t_end).map_err(|e| err(e.to_string()))?;
    let until = r.certain_until(t_end);
    let cut = |v: &[Spike]| {
        v.iter()
            .copied()
            .filter(|s| s.tick < until)
            .collect::<Vec<_>>()
    };
    let (e, expect) = (cut(&spikes), cut(&r.spikes));
    check_same_spikes(
        "the engine agrees with the clock-driven reference",
        &expect,
        &e,
    )?;
    Ok(ReferenceComparison {
        spikes: e.len(),
        ambiguity: r.ambiguity,
    })
}

/// Two spike trains are identical; otherwise names the first difference.
pub fn check_same_spikes(
    rule: &'static str,
    expected: &[Spike],
    got: &[Spike],
) -> Result<(), Violation> {
    if expected == got {
        return Ok(());
    }
    let k = expected
        .iter()
        .zip(got)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(got.len()));
    fail(
        rule,
        format!(
            "first difference at index {k}: expected {:?}, got {:?} ({} vs {} spikes)",
            expected.get(k),
            got.get(k),
            expected.len(),
            got.len()
        ),
    )
}

// ---------------------------------------------------------------------------------------
// Transformations
// ---------------------------------------------------------------------------------------

/// The same network with every input moved `d` later: spike times, regular and Poisson
/// generator windows, drive windows. (Initial potentials are not inputs: shift invariance
/// holds for neurons starting at rest.)
pub fn shift_inputs(def: &NetworkDef, d: Tick) -> NetworkDef {
    let sh = |t: Tick| {
        if t == Tick::MAX {
            t
        } else {
            t.saturating_add(d)
        }
    };
    let mut out = def.clone();
    for p in &mut out.populations {
        match &mut p.kind {
            NeuronKind::SpikeTimes(lists) => {
                lists.iter_mut().flatten().for_each(|t| *t = sh(*t));
            }
            NeuronKind::Regular { start, stop, .. } | NeuronKind::Poisson { start, stop, .. } => {
                *start = sh(*start);
                *stop = sh(*stop);
            }
            _ => {}
        }
    }
    for dr in &mut out.drives {
        dr.start = sh(dr.start);
        dr.stop = sh(dr.stop);
    }
    out
}

/// The same network with population `name` replaced by a `spike_times` generator of the same
/// size firing `trains` (one list per neuron; missing lists are empty). `None` if there is no
/// such population or it receives projections or drives (generators accept no input).
pub fn with_spike_times(
    def: &NetworkDef,
    name: &str,
    trains: Vec<Vec<Tick>>,
) -> Option<NetworkDef> {
    let p = def.populations.iter().position(|q| q.name == name)?;
    if def.projections.iter().any(|pr| pr.to == p) || def.drives.iter().any(|d| d.target == p) {
        return None;
    }
    let mut out = def.clone();
    let mut trains = trains;
    trains.resize(out.populations[p].size as usize, Vec::new());
    out.populations[p].kind = NeuronKind::SpikeTimes(trains);
    out.populations[p].v_init_mv = Dist::Const(0.0);
    out.populations[p].bias = Dist::Const(0.0);
    Some(out)
}

/// Explicit (source, target) pairs of a deterministic rule; `None` for random rules.
pub fn explicit_pairs(def: &NetworkDef, pr: &ProjectionDef) -> Option<Vec<(u32, u32)>> {
    let (ns, nt) = (def.populations[pr.from].size, def.populations[pr.to].size);
    let skip = |s: u32, t: u32| pr.from == pr.to && !pr.allow_autapses && s == t;
    match &pr.rule {
        ConnectRule::List(l) => Some(l.clone()),
        ConnectRule::AllToAll => Some(
            (0..ns)
                .flat_map(|s| (0..nt).map(move |t| (s, t)))
                .filter(|&(s, t)| !skip(s, t))
                .collect(),
        ),
        ConnectRule::OneToOne => Some(
            (0..ns)
                .map(|s| (s, s))
                .filter(|&(s, t)| !skip(s, t))
                .collect(),
        ),
        _ => None,
    }
}

/// Renumbers the neurons: populations are declared in the order `pop_order` (a permutation of
/// population indices) and neuron `k` of population `p` becomes local index `within[p][k]`.
/// Returns the new description and the map old id → new id. Deterministic rules become
/// explicit lists; `v_init` and `bias` must be constant per population for the result to be
/// the same network. `None` if a projection uses a random rule.
pub fn relabel(
    def: &NetworkDef,
    pop_order: &[usize],
    within: &[Vec<u32>],
) -> Option<(NetworkDef, Vec<NeuronId>)> {
    let np = def.populations.len();
    let mut new_index = vec![0; np];
    for (new, &old) in pop_order.iter().enumerate() {
        new_index[old] = new;
    }
    let mut out = NetworkDef {
        populations: pop_order
            .iter()
            .map(|&p| {
                let mut pd: PopulationDef = def.populations[p].clone();
                if let NeuronKind::SpikeTimes(lists) = &mut pd.kind {
                    let mut l2 = vec![Vec::new(); pd.size as usize];
                    for (k, l) in lists.iter().enumerate().take(pd.size as usize) {
                        l2[within[p][k] as usize] = l.clone();
                    }
                    *lists = l2;
                }
                pd
            })
            .collect(),
        drives: def.drives.clone(),
        projections: Vec::new(),
    };
    for d in &mut out.drives {
        d.target = new_index[d.target];
    }
    for pr in &def.projections {
        let pairs = explicit_pairs(def, pr)?;
        let mut p2 = pr.clone();
        p2.from = new_index[pr.from];
        p2.to = new_index[pr.to];
        p2.rule = ConnectRule::List(
            pairs
                .iter()
                .map(|&(s, t)| (within[pr.from][s as usize], within[pr.to][t as usize]))
                .collect(),
        );
        p2.allow_autapses = true;
        out.projections.push(p2);
    }
    // Old id -> new id.
    let mut first_new = vec![0u32; np];
    let mut acc = 0;
    for &p in pop_order {
        first_new[p] = acc;
        acc += def.populations[p].size;
    }
    let mut map = Vec::with_capacity(acc as usize);
    for p in 0..np {
        for k in 0..def.populations[p].size {
            map.push(first_new[p] + within[p][k as usize]);
        }
    }
    Some((out, map))
}

/// Maps spikes through an id map and re-sorts them.
pub fn map_spikes(spikes: &[Spike], map: &[NeuronId]) -> Vec<Spike> {
    let mut v: Vec<Spike> = spikes
        .iter()
        .map(|s| Spike {
            tick: s.tick,
            neuron: map[s.neuron as usize],
        })
        .collect();
    v.sort_unstable();
    v
}

/// The same network given in another order, chosen by `seed`: projections, the pairs of each
/// explicit list, each neuron's spike times, DC drives. (Random connection rules and Poisson
/// drives draw their randomness per projection / drive index, so reordering them changes the
/// network: use explicit lists and spike times to test order independence.)
pub fn shuffled(def: &NetworkDef, seed: u64) -> NetworkDef {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut out = def.clone();
    out.projections.shuffle(&mut rng);
    for pr in &mut out.projections {
        if let ConnectRule::List(l) = &mut pr.rule {
            l.shuffle(&mut rng);
        }
    }
    for p in &mut out.populations {
        if let NeuronKind::SpikeTimes(lists) = &mut p.kind {
            lists.iter_mut().for_each(|l| l.shuffle(&mut rng));
        }
    }
    if out
        .drives
        .iter()
        .all(|d| matches!(d.kind, DriveKind::Dc { .. }))
    {
        out.drives.shuffle(&mut rng);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

/// A neuron model a generated population may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelChoice {
    /// `lif_delta`.
    LifDelta,
    /// `lif_exp`.
    LifExp,
    /// `iaf_nonleaky`.
    NonLeaky,
}

/// The shape of generated networks: generator populations with explicit spike times on a
/// grid, neuron populations, and projections given as explicit pair lists (so that
/// reordering and relabelling are exact). Values sit on coarse lattices (weights multiples of
/// `weight_step_mv`, leaky thresholds half a step off the lattice, delays, spike times and
/// refractory periods multiples of `grid`), which keeps decisions away from rounding
/// distance of the threshold.
#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Number of generator (`spike_times`) populations.
    pub generator_pops: RangeInclusive<usize>,
    /// Number of neuron populations.
    pub neuron_pops: RangeInclusive<usize>,
    /// Size of each population.
    pub pop_size: RangeInclusive<u32>,
    /// Models to draw neuron populations from.
    pub models: Vec<ModelChoice>,
    /// Time grid of spike times, delays and refractory periods.
    pub grid: Tick,
    /// Spike times lie in `[0, span_steps · grid)`.
    pub span_steps: u32,
    /// Spikes per generator neuron.
    pub spikes_per_train: RangeInclusive<usize>,
    /// Number of projections.
    pub projections: RangeInclusive<usize>,
    /// Pairs per projection.
    pub pairs: RangeInclusive<usize>,
    /// Delays are `k · grid`, `k` in this range (k ≥ 1).
    pub delay_steps: RangeInclusive<u32>,
    /// Refractory periods are `k · grid`.
    pub t_ref_steps: RangeInclusive<u32>,
    /// Weight lattice \[mV\].
    pub weight_step_mv: f64,
    /// Weights are `k · weight_step_mv`.
    pub weight_steps: RangeInclusive<i32>,
    /// Neurons start at rest (otherwise at a lattice value drawn per population).
    pub v_init_at_rest: bool,
    /// Constant bias per population, `k · weight_step_mv` (leaky models only).
    pub bias_steps: RangeInclusive<i32>,
}

impl Default for NetConfig {
    /// Delta-synapse networks on a 0.1 ms grid, up to 3 + 3 populations of up to 4 neurons.
    fn default() -> Self {
        NetConfig {
            generator_pops: 1..=3,
            neuron_pops: 1..=3,
            pop_size: 1..=4,
            models: vec![ModelChoice::LifDelta, ModelChoice::NonLeaky],
            grid: Tick(100_000),
            span_steps: 200,
            spikes_per_train: 0..=8,
            projections: 1..=6,
            pairs: 1..=8,
            delay_steps: 1..=6,
            t_ref_steps: 0..=5,
            weight_step_mv: 0.5,
            weight_steps: -12..=24,
            v_init_at_rest: false,
            bias_steps: 0..=0,
        }
    }
}

impl NetConfig {
    /// `lif_exp` networks: larger current weights, spike times and delays on a 0.1 ms grid.
    /// (`lif_exp` populations always get a refractory period of at least one grid step.)
    pub fn lif_exp() -> Self {
        NetConfig {
            models: vec![ModelChoice::LifExp],
            weight_step_mv: 1.0,
            weight_steps: -12..=40,
            ..NetConfig::default()
        }
    }

    /// The end of the input span.
    pub fn span(&self) -> Tick {
        Tick(self.grid.0 * self.span_steps as i64)
    }
}

/// `lif` parameters on a lattice: `tau_m` in {4, 10, 20} ms, rest 0 mV, reset in
/// {-2, 0, 4} mV, threshold in [8.125, 15.875] mV (half a quarter-millivolt off the lattice),
/// refractory period `k · grid`.
pub fn arb_lif_params(
    grid: Tick,
    t_ref_steps: RangeInclusive<u32>,
) -> impl Strategy<Value = LifParams> {
    (0..3usize, 0..3usize, 0..32i32, t_ref_steps).prop_map(move |(tau, reset, th, r)| LifParams {
        tau_m_ms: [4.0, 10.0, 20.0][tau],
        v_rest_mv: 0.0,
        v_reset_mv: [-2.0, 0.0, 4.0][reset],
        v_th_mv: 8.125 + 0.25 * th as f64,
        t_ref: Tick(grid.0 * r as i64),
    })
}

/// Synaptic time constants in {0.5, 2} ms (excitatory) and {1, 3} ms (inhibitory): never equal
/// to the `tau_m` values of [`arb_lif_params`].
pub fn arb_exp_syn_params() -> impl Strategy<Value = ExpSynParams> {
    (0..2usize, 0..2usize).prop_map(|(e, i)| ExpSynParams {
        tau_syn_ex_ms: [0.5, 2.0][e],
        tau_syn_in_ms: [1.0, 3.0][i],
    })
}

/// `iaf_nonleaky` parameters: reset in {-2, 0, 4} mV, threshold *on* the lattice in
/// [8, 15.75] mV (its arithmetic is exact, so reaching threshold exactly is tested),
/// refractory period `k · grid`.
pub fn arb_iaf_params(
    grid: Tick,
    t_ref_steps: RangeInclusive<u32>,
) -> impl Strategy<Value = IafParams> {
    (0..3usize, 0..32i32, t_ref_steps).prop_map(move |(reset, th, r)| IafParams {
        v_reset_mv: [-2.0, 0.0, 4.0][reset],
        v_th_mv: 8.0 + 0.25 * th as f64,
        t_ref: Tick(grid.0 * r as i64),
        reset: IafReset::ToValue,
    })
}

/// A spike train: `count` distinct-or-not times `k · grid`, `k < span_steps`, unsorted.
pub fn arb_spike_train(
    grid: Tick,
    span_steps: u32,
    count: RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<Tick>> {
    prop::collection::vec(0..span_steps.max(1), count)
        .prop_map(move |v| v.into_iter().map(|k| Tick(grid.0 * k as i64)).collect())
}

/// Spike trains for `n` neurons.
pub fn arb_spike_trains(
    n: usize,
    grid: Tick,
    span_steps: u32,
    count: RangeInclusive<usize>,
) -> impl Strategy<Value = Vec<Vec<Tick>>> {
    prop::collection::vec(arb_spike_train(grid, span_steps, count), n)
}

#[derive(Clone, Debug)]
struct RawNeuronPop {
    size: u32,
    model: usize,
    lif: LifParams,
    syn: ExpSynParams,
    iaf: IafParams,
    v_init_steps: i32,
    bias_steps: i32,
}

#[derive(Clone, Debug)]
struct RawProjection {
    from: usize,
    to: usize,
    pairs: Vec<(u32, u32)>,
    weight_steps: i32,
    delay_steps: u32,
}

/// Small networks as described by `cfg`: generators first (ids from 0), then neuron
/// populations; every projection ends in a neuron population.
pub fn arb_network(cfg: NetConfig) -> impl Strategy<Value = NetworkDef> {
    let max_size = *cfg.pop_size.end() as usize;
    let gen_pop = (
        cfg.pop_size.clone(),
        arb_spike_trains(
            max_size,
            cfg.grid,
            cfg.span_steps,
            cfg.spikes_per_train.clone(),
        ),
    );
    let neuron_pop = (
        cfg.pop_size.clone(),
        0..cfg.models.len().max(1),
        arb_lif_params(cfg.grid, cfg.t_ref_steps.clone()),
        arb_exp_syn_params(),
        arb_iaf_params(cfg.grid, cfg.t_ref_steps.clone()),
        -8..=30i32,
        cfg.bias_steps.clone(),
    )
        .prop_map(
            |(size, model, lif, syn, iaf, v_init_steps, bias_steps)| RawNeuronPop {
                size,
                model,
                lif,
                syn,
                iaf,
                v_init_steps,
                bias_steps,
            },
        );
    let projection = (
        any::<usize>(),
        any::<usize>(),
        prop::collection::vec((any::<u32>(), any::<u32>()), cfg.pairs.clone()),
        cfg.weight_steps.clone(),
        cfg.delay_steps.clone(),
    )
        .prop_map(
            |(from, to, pairs, weight_steps, delay_steps)| RawProjection {
                from,
                to,
                pairs,
                weight_steps,
                delay_steps,
            },
        );
    (
        prop::collection::vec(gen_pop, cfg.generator_pops.clone()),
        prop::collection::vec(neuron_pop, cfg.neuron_pops.clone()),
        prop::collection::vec(projection, cfg.projections.clone()),
    )
        .prop_map(move |(gens, neurons, projs)| assemble(&cfg, gens, neurons, projs))
}

fn assemble(
    cfg: &NetConfig,
    gens: Vec<(u32, Vec<Vec<Tick>>)>,
    neurons: Vec<RawNeuronPop>,
    projs: Vec<RawProjection>,
) -> NetworkDef {
    let mut def = NetworkDef::default();
    for (k, (size, mut trains)) in gens.into_iter().enumerate() {
        trains.truncate(size as usize);
        def.populations.push(PopulationDef {
            name: format!("g{k}"),
            size,
            kind: NeuronKind::SpikeTimes(trains),
            v_init_mv: Dist::Const(0.0),
            bias: Dist::Const(0.0),
        });
    }
    let n_gen = def.populations.len();
    let ws = cfg.weight_step_mv;
    for (k, r) in neurons.iter().enumerate() {
        let model = cfg
            .models
            .get(r.model)
            .copied()
            .unwrap_or(ModelChoice::LifDelta);
        let (kind, rest, bias) = match model {
            ModelChoice::LifDelta => (NeuronKind::LifDelta(r.lif), r.lif.v_rest_mv, r.bias_steps),
            ModelChoice::LifExp => {
                // Currents keep integrating through a spike: without a refractory period a
                // self-exciting neuron fires on ever closer ticks without bound.
                let mut lif = r.lif;
                lif.t_ref = lif.t_ref.max(cfg.grid);
                (NeuronKind::LifExp(lif, r.syn), lif.v_rest_mv, r.bias_steps)
            }
            ModelChoice::NonLeaky => (NeuronKind::NonLeakyIaf(r.iaf), 0.0, 0),
        };
        let v_init = if cfg.v_init_at_rest {
            rest
        } else {
            0.25 * r.v_init_steps as f64
        };
        def.populations.push(PopulationDef {
            name: format!("n{k}"),
            size: r.size,
            kind,
            v_init_mv: Dist::Const(v_init),
            bias: Dist::Const(bias as f64 * ws),
        });
    }
    let n_pops = def.populations.len();
    let n_neuron_pops = n_pops - n_gen;
    if n_neuron_pops == 0 {
        return def;
    }
    for r in projs {
        let from = r.from % n_pops;
        let to = n_gen + r.to % n_neuron_pops;
        let (ns, nt) = (def.populations[from].size, def.populations[to].size);
        def.projections.push(ProjectionDef {
            from,
            to,
            rule: ConnectRule::List(r.pairs.iter().map(|&(s, t)| (s % ns, t % nt)).collect()),
            weight_mv: Dist::Const(r.weight_steps as f64 * ws),
            delay_ms: Dist::Const(Tick(cfg.grid.0 * r.delay_steps.max(1) as i64).as_ms()),
            allow_autapses: true,
            allow_multapses: true,
            plasticity: None,
            reward_for: None,
        });
    }
    def
}

/// Chunk boundaries: `k` increasing ticks in `(0, t_end)` followed by `t_end`.
pub fn arb_chunks(t_end: Tick, k: RangeInclusive<usize>) -> impl Strategy<Value = Vec<Tick>> {
    prop::collection::vec(1..t_end.0.max(2), k).prop_map(move |mut v| {
        v.sort_unstable();
        v.into_iter().map(Tick).chain([t_end]).collect()
    })
}

/// A permutation of `0..n`.
pub fn arb_permutation(n: usize) -> impl Strategy<Value = Vec<usize>> {
    Just((0..n).collect::<Vec<_>>()).prop_shuffle()
}

/// A population order and a permutation of each population's neurons, for [`relabel`].
pub fn arb_relabelling(
    def: &NetworkDef,
) -> impl Strategy<Value = (Vec<usize>, Vec<Vec<u32>>)> + use<> {
    let sizes: Vec<u32> = def.populations.iter().map(|p| p.size).collect();
    let within = sizes
        .iter()
        .map(|&s| Just((0..s).collect::<Vec<u32>>()).prop_shuffle())
        .collect::<Vec<_>>();
    (arb_permutation(sizes.len()), within)
}
