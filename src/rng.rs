//! Seeding of random streams.
//!
//! Owns: how independent random streams are derived from one master seed. Every stream
//! belongs to a fixed piece of the model (a projection, a block of neurons, a drive), never to
//! a thread or to processing order, so a network split across threads later draws the same
//! numbers. Must not touch: anything that consumes the streams.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// What a stream is for; part of its seed so streams of different kinds never coincide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum StreamKind {
    /// Synapse generation of one projection.
    Projection = 1,
    /// Per-neuron initial values of one block.
    NeuronInit = 2,
    /// A Poisson drive into one block.
    Drive = 3,
    /// A generator block.
    Generator = 4,
}

/// SplitMix64 finaliser: a bijective mix with good avalanche, used to combine seed parts.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^ (z >> 31)
}

/// The seed of stream (`kind`, `a`, `b`) under `master`.
pub fn stream_seed(master: u64, kind: StreamKind, a: u64, b: u64) -> u64 {
    let mut h = mix(master ^ 0x9e3779b97f4a7c15);
    h = mix(h ^ kind as u64);
    h = mix(h ^ a.wrapping_mul(0x9e3779b97f4a7c15));
    mix(h ^ b.wrapping_mul(0xd1b54a32d192ed03))
}

/// The generator of stream (`kind`, `a`, `b`) under `master`.
pub fn stream(master: u64, kind: StreamKind, a: u64, b: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(stream_seed(master, kind, a, b))
}
