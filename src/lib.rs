//! spikeq: an exact, event-driven spiking neural network simulator.
#![warn(missing_docs, missing_debug_implementations)]

pub mod time;
pub mod trace;

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
pub mod engine;
pub mod network;
pub mod neuron;
pub mod record;
#[cfg(feature = "reference")]
pub mod reference;
pub mod rng;
pub mod run;
pub mod spec;
#[cfg(feature = "testing")]
pub mod testing;
