//! A synthetic network recording, shared by tests and benches (included with `#[path]`).

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use spikeq::{Spike, Tick};

/// `neurons` independent Poisson neurons firing at `rate_hz` for `duration_s` seconds, at
/// nanosecond resolution, sorted by (tick, neuron). Seeded, so every run gives the same list.
pub fn poisson_recording(neurons: u32, rate_hz: f64, duration_s: f64, seed: u64) -> Vec<Spike> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let end_ns = duration_s * 1e9;
    let mean_interval_ns = 1e9 / rate_hz;
    let mut spikes = Vec::with_capacity((f64::from(neurons) * rate_hz * duration_s * 1.1) as usize);
    for neuron in 0..neurons {
        let mut t_ns = 0.0;
        loop {
            // Inverse-CDF exponential interval; 1 - u avoids ln(0).
            let u: f64 = rng.random();
            t_ns += -(1.0 - u).ln() * mean_interval_ns;
            if t_ns >= end_ns {
                break;
            }
            spikes.push(Spike {
                tick: Tick(t_ns as i64),
                neuron,
            });
        }
    }
    spikes.sort_unstable();
    spikes
}
