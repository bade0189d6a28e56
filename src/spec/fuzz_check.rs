//! The check behind the `spec_parse` fuzz target, shared with the stable corpus test.
//!
//! Property: any bytes give `Ok` or a [`super::SpecError`], never a panic; a model that parses
//! and is small builds to a network or a typed `BuildError`, and a built network runs 5 ms
//! without panicking.

use crate::engine::Simulation;
use crate::record::NullSink;
use crate::time::Tick;

/// Largest model the check builds and runs (neurons, synapses): keeps fuzzing fast and bounded.
const MAX_NEURONS: u32 = 5_000;
const MAX_SYNAPSES: f64 = 200_000.0;

/// Returns whether the input parsed as a valid model.
pub fn spec_parse(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let model = match super::parse_model(text, "fuzz.toml") {
        Ok(m) => m,
        Err(e) => {
            assert!(
                e.line >= 1 && !e.message.is_empty(),
                "an error must have a place and a message: {e:?}"
            );
            return false;
        }
    };
    let net = &model.network;
    if net.num_neurons() <= MAX_NEURONS
        && net.estimated_synapses() <= MAX_SYNAPSES
        && let Ok(built) = net.build(model.seed)
        && let Ok(mut sim) = Simulation::new(built, model.seed)
    {
        sim.run_until(Tick(5_000_000), &mut NullSink)
            .expect("a null sink never fails");
    }
    true
}
