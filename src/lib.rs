//! spikeq: an exact, event-driven spiking neural network simulator.
//!
//! Spikes wait in a time-ordered queue; a neuron is touched only when an event reaches it,
//! its state is advanced in closed form to that moment, and threshold crossings between
//! events are predicted exactly. Cost follows spikes and synaptic events, not neurons × steps.
//!
//! ```
//! use spikeq::engine::Simulation;
//! use spikeq::network::{ConnectRule, Dist, DriveKind, NetworkBuilder, NeuronKind};
//! use spikeq::neuron::LifParams;
//! use spikeq::{Spike, Tick};
//!
//! let lif = LifParams { tau_m_ms: 20.0, v_rest_mv: 0.0, v_reset_mv: 10.0, v_th_mv: 20.0,
//!                       t_ref: Tick::from_ms(2.0).unwrap() };
//! let mut b = NetworkBuilder::new();
//! let e = b.population("E", 100, NeuronKind::LifDelta(lif));
//! b.drive(e, DriveKind::Poisson { rate_hz: 12_000.0, weight_mv: 0.2 }, Tick::ZERO, Tick::MAX);
//! b.connect(e, e, ConnectRule::FixedIndegree(10), Dist::Const(0.1), Dist::Const(1.5));
//! let mut sim = Simulation::new(b.build(42).unwrap(), 42).unwrap();
//! let mut spikes: Vec<Spike> = Vec::new();
//! sim.run_until(Tick::from_ms(100.0).unwrap(), &mut spikes).unwrap();
//! assert!(!spikes.is_empty());
//! assert!(spikes.windows(2).all(|w| w[0] < w[1])); // sorted by (tick, neuron)
//! ```
//!
//! # Time semantics
//! Time is [`Tick`], integer nanoseconds. `run_until(t)` simulates `[now, t)`, so runs
//! compose exactly. Every delay is at least one tick; the engine advances in windows of the
//! network's minimum delay, inside which blocks of neurons are independent.
//!
//! # Ordering guarantees
//! At one tick, all inputs are applied (DC steps, drive events, then synaptic spikes by source
//! neuron and delay group) before any threshold is tested, in neuron-id order; a neuron fires
//! at most once per tick; ties are broken by data, never by insertion order. The full contract
//! is `docs/semantics.md`.
//!
//! # Modules
//! [`spec`] (model files) → [`network`] (description, connection rules, CSR) → [`neuron`]
//! (models, crossing prediction) → [`engine`] (the loop) → [`record`] (sinks); [`trace`]
//! reads and writes spike files; [`run`] drives a model end to end for the CLI; [`parallel`]
//! runs many independent simulations (parameter sweeps) over threads; [`plasticity`] changes
//! weights at spike events; [`weights`] records and summarises them; [`learn`] loads data
//! sets, encodes them as spikes and trains and converts networks (a client of the rest, like
//! any user).
//!
//! # Threads
//! [`engine::Simulation::with_threads`] splits the network into partitions of whole blocks
//! that advance through the same windows on their own threads; the result is bit-identical
//! for any number of threads.
//!
//! # Feature flags
//! - `reference`: the clock-driven reference simulator (`spikeq::reference`), the oracle of the
//!   property tests.
//! - `testing`: proptest strategies and invariant checkers for users' own models
//!   (`spikeq::testing`); implies `reference`.
#![warn(missing_docs, missing_debug_implementations)]

pub mod bench;
pub mod engine;
pub mod learn;
pub mod network;
pub mod neuron;
pub mod parallel;
pub mod plasticity;
mod prefetch;
pub mod record;
#[cfg(feature = "reference")]
pub mod reference;
pub mod rng;
pub mod run;
pub mod spec;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod trace;
pub mod weights;

pub use time::Tick;

/// Index of a neuron in a network: populations occupy contiguous ranges of ids, in the order
/// they are declared.
pub type NeuronId = u32;

/// One recorded spike: which neuron fired, and when.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Spike {
    /// When the neuron fired. Field order makes `Ord` sort by time, then neuron: the
    /// canonical order of a trace.
    pub tick: Tick,
    /// Which neuron fired.
    pub neuron: NeuronId,
}
