//! Network description, connectivity generation and the frozen connectivity (CSR).
//!
//! Owns: what a network *is*: populations (contiguous ranges of neuron ids, one model each),
//! external drives attached to populations, projections with their connection rules, and the
//! immutable [`Connectivity`] that the engine reads. Must not touch: simulation state, queues,
//! files. Two doors lead here: model files (through `spec`) and the Rust
//! [`NetworkBuilder`]; both produce the same [`NetworkDef`].
//!
//! The description is a petgraph graph whose nodes are populations and whose edges are
//! projections (see [`NetworkDef::graph`]). Synapses are not stored as graph edges: a
//! 12.5-million-synapse network would need ~40 bytes per edge in a general graph, so
//! [`NetworkDef::build`] generates them straight into the compact CSR (8 bytes per synapse:
//! a `u32` target and an `f32` weight, rows sorted by delay and then target, with one delay
//! group per distinct delay of a row).

mod build;
pub mod dist;

pub use build::{BuildError, Connectivity, DelayGroup, Network, PopulationInfo};
pub use dist::Dist;

use crate::neuron::LifParams;
use crate::neuron::generator::ReplayParams;
use crate::neuron::iaf::IafParams;
use crate::neuron::lif_adaptive::AdaptationParams;
use crate::neuron::lif_cond::CondParams;
use crate::neuron::lif_exp::ExpSynParams;
use crate::time::Tick;
use petgraph::graph::DiGraph;

/// Index of a population in declaration order.
pub type PopulationId = usize;

/// The neuron model of a population and its parameters.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum NeuronKind {
    /// Leaky integrate-and-fire, delta synapses ([`crate::neuron::LifDelta`]).
    LifDelta(LifParams),
    /// Leaky integrate-and-fire, exponential currents ([`crate::neuron::LifExp`]).
    LifExp(LifParams, ExpSynParams),
    /// Leaky integrate-and-fire, delta synapses, adaptive threshold ([`crate::neuron::LifAdaptive`]).
    LifAdaptive(LifParams, AdaptationParams),
    /// Leaky integrate-and-fire, exponential conductances ([`crate::neuron::LifCond`]).
    LifCond(LifParams, CondParams),
    /// Non-leaky integrate-and-fire ([`crate::neuron::NonLeakyIaf`]); its bias is a slope \[mV/ms\].
    NonLeakyIaf(IafParams),
    /// Explicit spike times, one list per neuron.
    SpikeTimes(Vec<Vec<Tick>>),
    /// A replayed recording: spike trains with a shift and an optional loop period
    /// ([`crate::neuron::ReplayGenerator`]). Model files fill it from a trace file
    /// (`model = "trace"`); this layer never reads files.
    Replay(ReplayParams),
    /// Regular spike trains.
    Regular {
        /// Interval between spikes.
        period: Tick,
        /// First spike.
        start: Tick,
        /// No spikes at or after this tick.
        stop: Tick,
    },
    /// Independent Poisson spike trains.
    Poisson {
        /// Rate of each neuron \[Hz\].
        rate_hz: f64,
        /// First possible spike.
        start: Tick,
        /// No spikes at or after this tick.
        stop: Tick,
    },
}

impl NeuronKind {
    /// The name used in model files.
    pub fn model_name(&self) -> &'static str {
        match self {
            NeuronKind::LifDelta(_) => "lif_delta",
            NeuronKind::LifExp(..) => "lif_exp",
            NeuronKind::LifAdaptive(..) => "lif_adaptive",
            NeuronKind::LifCond(..) => "lif_cond",
            NeuronKind::NonLeakyIaf(_) => "iaf_nonleaky",
            NeuronKind::SpikeTimes(_) => "spike_times",
            NeuronKind::Replay(_) => "trace",
            NeuronKind::Regular { .. } => "regular",
            NeuronKind::Poisson { .. } => "poisson",
        }
    }

    /// Whether the model is a generator (accepts no input).
    pub fn is_generator(&self) -> bool {
        matches!(
            self,
            NeuronKind::SpikeTimes(_)
                | NeuronKind::Replay(_)
                | NeuronKind::Regular { .. }
                | NeuronKind::Poisson { .. }
        )
    }
}

/// A population: `size` neurons of one model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PopulationDef {
    /// Unique name.
    pub name: String,
    /// Number of neurons.
    pub size: u32,
    /// Model and parameters.
    pub kind: NeuronKind,
    /// Initial membrane potential \[mV\], drawn per neuron.
    pub v_init_mv: Dist,
    /// Constant drive, drawn per neuron: \[mV\] (R·I) for leaky models, \[mV/ms\] for `iaf_nonleaky`.
    pub bias: Dist,
}

/// An external input attached directly to every neuron of a population.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum DriveKind {
    /// An independent Poisson spike train into each neuron, each spike a jump of `weight_mv`.
    /// Implemented as one merged stream per block of neurons with uniformly drawn targets:
    /// statistically identical to independent trains, and one random draw per event.
    Poisson {
        /// Rate per target neuron \[Hz\].
        rate_hz: f64,
        /// Weight of each input spike \[mV\].
        weight_mv: f64,
    },
    /// A current step: the bias of every target neuron rises by `amplitude` at `start` and
    /// falls back at `stop`.
    Dc {
        /// Step height, in the bias unit of the target model.
        amplitude: f64,
    },
}

/// A drive and the population it feeds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DriveDef {
    /// Target population.
    pub target: PopulationId,
    /// What the drive is.
    pub kind: DriveKind,
    /// Active from this tick (inclusive).
    pub start: Tick,
    /// Active until this tick (exclusive); `Tick::MAX` for never.
    pub stop: Tick,
}

/// How a projection chooses its (source, target) pairs.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ConnectRule {
    /// Every source to every target.
    AllToAll,
    /// Source `k` to target `k` (equal sizes).
    OneToOne,
    /// Each pair independently with probability `p`.
    FixedProbability(f64),
    /// Each target receives exactly `k` synapses from sources drawn uniformly.
    FixedIndegree(u32),
    /// Each source sends exactly `k` synapses to targets drawn uniformly.
    FixedOutdegree(u32),
    /// Explicit (source index, target index) pairs, local to the two populations.
    List(Vec<(u32, u32)>),
}

/// A projection from one population to another.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProjectionDef {
    /// Source population.
    pub from: PopulationId,
    /// Target population.
    pub to: PopulationId,
    /// Connection rule.
    pub rule: ConnectRule,
    /// Weight per synapse \[mV\] (a jump for delta models, a current jump R·I for `lif_exp`).
    pub weight_mv: Dist,
    /// Delay per synapse \[ms\]; every drawn delay must be at least one tick.
    pub delay_ms: Dist,
    /// Whether a neuron may connect to itself (only within one population).
    pub allow_autapses: bool,
    /// Whether a pair may be connected more than once.
    pub allow_multapses: bool,
    /// Spike-timing-dependent plasticity of the projection's weights; `None` for static.
    #[serde(default)]
    pub plasticity: Option<crate::plasticity::StdpParams>,
    /// A reward projection: its spikes carry no input. A spike arriving through one of its
    /// synapses delivers a reward, the synapse's weight, to the incoming synapses of its
    /// target neuron in reward-modulated projection `k` (index into the projections), which
    /// must end in the same population: `w += reward * eligibility` for each.
    #[serde(default)]
    pub reward_for: Option<usize>,
}

/// A whole network description: plain data, not yet built.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NetworkDef {
    /// Populations in id order.
    pub populations: Vec<PopulationDef>,
    /// External drives.
    pub drives: Vec<DriveDef>,
    /// Projections.
    pub projections: Vec<ProjectionDef>,
}

impl NetworkDef {
    /// Number of neurons over all populations (saturating at `u32::MAX`).
    pub fn num_neurons(&self) -> u32 {
        self.populations
            .iter()
            .fold(0u32, |n, p| n.saturating_add(p.size))
    }

    /// The description as a graph: one node per population (weight: its id), one edge per
    /// projection (weight: its index).
    pub fn graph(&self) -> DiGraph<PopulationId, usize> {
        let mut g = DiGraph::new();
        let nodes: Vec<_> = (0..self.populations.len()).map(|p| g.add_node(p)).collect();
        for (k, pr) in self.projections.iter().enumerate() {
            if pr.from < nodes.len() && pr.to < nodes.len() {
                g.add_edge(nodes[pr.from], nodes[pr.to], k);
            }
        }
        g
    }

    /// The number of synapses the projections will create (expected value for
    /// `fixed_probability`), computed from sizes alone, before anything is allocated.
    pub fn estimated_synapses(&self) -> f64 {
        let size = |p: PopulationId| self.populations.get(p).map_or(0.0, |q| q.size as f64);
        self.projections
            .iter()
            .map(|pr| match &pr.rule {
                ConnectRule::AllToAll => size(pr.from) * size(pr.to),
                ConnectRule::OneToOne => size(pr.from),
                ConnectRule::FixedProbability(p) => p * size(pr.from) * size(pr.to),
                ConnectRule::FixedIndegree(k) => *k as f64 * size(pr.to),
                ConnectRule::FixedOutdegree(k) => *k as f64 * size(pr.from),
                ConnectRule::List(l) => l.len() as f64,
            })
            .sum()
    }

    /// The description graph in Graphviz DOT, populations labelled with name, size and model.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph network {\n  rankdir=LR;\n");
        for (i, p) in self.populations.iter().enumerate() {
            s += &format!(
                "  p{i} [label=\"{}\\n{} x {}\"];\n",
                p.name,
                p.size,
                p.kind.model_name()
            );
        }
        for pr in &self.projections {
            let rule = match &pr.rule {
                ConnectRule::AllToAll => "all_to_all".to_string(),
                ConnectRule::OneToOne => "one_to_one".to_string(),
                ConnectRule::FixedProbability(p) => format!("p={p}"),
                ConnectRule::FixedIndegree(k) => format!("indegree={k}"),
                ConnectRule::FixedOutdegree(k) => format!("outdegree={k}"),
                ConnectRule::List(l) => format!("{} pairs", l.len()),
            };
            s += &format!("  p{} -> p{} [label=\"{rule}\"];\n", pr.from, pr.to);
        }
        s + "}\n"
    }
}

/// The Rust door to a [`NetworkDef`]: populations by name, then projections between them.
///
/// ```
/// use spikeq::network::{NetworkBuilder, NeuronKind, ConnectRule, Dist};
/// use spikeq::neuron::LifParams;
/// use spikeq::Tick;
/// let lif = LifParams { tau_m_ms: 20.0, v_rest_mv: 0.0, v_reset_mv: 10.0, v_th_mv: 20.0,
///                       t_ref: Tick::from_ms(2.0).unwrap() };
/// let mut b = NetworkBuilder::new();
/// let e = b.population("E", 100, NeuronKind::LifDelta(lif));
/// b.connect(e, e, ConnectRule::FixedIndegree(10), Dist::Const(0.1), Dist::Const(1.5));
/// let net = b.build(42).unwrap();
/// assert_eq!(net.connectivity.num_synapses(), 1000);
/// ```
#[derive(Debug, Default, Clone)]
pub struct NetworkBuilder {
    def: NetworkDef,
}

impl NetworkBuilder {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// Continues building from a description (e.g. one read from a model file).
    pub fn from_def(def: NetworkDef) -> Self {
        NetworkBuilder { def }
    }

    /// Adds a population (initial potential `v_rest` or 0, no bias); returns its id.
    pub fn population(&mut self, name: &str, size: u32, kind: NeuronKind) -> PopulationId {
        let v0 = match &kind {
            NeuronKind::LifDelta(p)
            | NeuronKind::LifExp(p, _)
            | NeuronKind::LifAdaptive(p, _)
            | NeuronKind::LifCond(p, _) => p.v_rest_mv,
            NeuronKind::NonLeakyIaf(p) => p.v_reset_mv,
            _ => 0.0,
        };
        self.def.populations.push(PopulationDef {
            name: name.to_string(),
            size,
            kind,
            v_init_mv: Dist::Const(v0),
            bias: Dist::Const(0.0),
        });
        self.def.populations.len() - 1
    }

    /// Sets the initial potential distribution of a population \[mV\].
    pub fn v_init(&mut self, pop: PopulationId, v: Dist) -> &mut Self {
        self.def.populations[pop].v_init_mv = v;
        self
    }

    /// Sets the per-neuron bias distribution of a population.
    pub fn bias(&mut self, pop: PopulationId, b: Dist) -> &mut Self {
        self.def.populations[pop].bias = b;
        self
    }

    /// Attaches a drive to a population, active in `[start, stop)`.
    pub fn drive(
        &mut self,
        target: PopulationId,
        kind: DriveKind,
        start: Tick,
        stop: Tick,
    ) -> &mut Self {
        self.def.drives.push(DriveDef {
            target,
            kind,
            start,
            stop,
        });
        self
    }

    /// Adds a projection without autapses, with multapses allowed (NEST's defaults for
    /// fixed in-degree).
    pub fn connect(
        &mut self,
        from: PopulationId,
        to: PopulationId,
        rule: ConnectRule,
        weight_mv: Dist,
        delay_ms: Dist,
    ) -> &mut ProjectionDef {
        self.def.projections.push(ProjectionDef {
            from,
            to,
            rule,
            weight_mv,
            delay_ms,
            allow_autapses: false,
            allow_multapses: true,
            plasticity: None,
            reward_for: None,
        });
        self.def.projections.last_mut().expect("just pushed")
    }

    /// Adds a reward projection from `from` onto the target population of reward-modulated
    /// projection `plastic`: each spike of a source neuron delivers `amount` of reward,
    /// `delay_ms` later, to the plastic synapses of every target neuron (see
    /// [`ProjectionDef::reward_for`]).
    pub fn reward(
        &mut self,
        from: PopulationId,
        plastic: usize,
        amount: f64,
        delay_ms: f64,
    ) -> &mut ProjectionDef {
        let to = self
            .def
            .projections
            .get(plastic)
            .map_or(usize::MAX, |p| p.to);
        let pr = self.connect(
            from,
            to,
            ConnectRule::AllToAll,
            Dist::Const(amount),
            Dist::Const(delay_ms),
        );
        pr.reward_for = Some(plastic);
        pr
    }

    /// The description built so far.
    pub fn def(&self) -> &NetworkDef {
        &self.def
    }

    /// Generates the synapses with `seed` and freezes the connectivity.
    pub fn build(&self, seed: u64) -> Result<Network, BuildError> {
        self.def.build(seed)
    }
}

impl From<NetworkDef> for NetworkBuilder {
    fn from(def: NetworkDef) -> Self {
        NetworkBuilder { def }
    }
}
