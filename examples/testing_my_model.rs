//! This example demonstrates: property-testing your own model with `spikeq::testing`.
//!
//! A model file (here inline) is driven by randomly generated input spike trains; for each
//! case the run is checked against the timing contract (sorted output, refractoriness,
//! causality, every synaptic event delivered once) and against the clock-driven reference
//! simulator. In a test file the same body sits in a `proptest!` block (see the README);
//! here a `TestRunner` runs it so the example can print what it saw.
//!
//! Run with `cargo run --example testing_my_model` (the `testing` feature is on for
//! examples; in your own crate: `spikeq = { version = "...", features = ["testing"] }`).

use proptest::test_runner::{Config, TestRunner};
use spikeq::Tick;
use spikeq::reference::ReferenceOptions;
use spikeq::testing;
use std::cell::Cell;

const MY_MODEL: &str = r#"
[[population]]
name = "input"
size = 8
model = "regular"
period = "10 ms"

[[population]]
name = "out"
size = 4
model = "lif_exp"
tau_m = "10 ms"
v_rest = "-65 mV"
v_reset = "-70 mV"
v_th = "-55 mV"
t_ref = "2 ms"
tau_syn_ex = "2 ms"
tau_syn_in = "5 ms"

[[projection]]
from = "input"
to = "out"
rule = "all_to_all"
weight = "12 mV"
delay = "1 ms"
"#;

fn main() {
    let model = spikeq::spec::parse_model(MY_MODEL, "my_model.toml").expect("model parses");
    let t_end = Tick::from_ms(50.0).unwrap();
    // 8 input trains of up to 20 spikes on a 0.1 ms grid in [0, 40 ms).
    let inputs = testing::arb_spike_trains(8, Tick(100_000), 400, 0..=20);
    let (cases, out_spikes) = (Cell::new(0u32), Cell::new(0usize));
    let mut config = Config::with_cases(128);
    config.failure_persistence = None; // an example keeps no regression file
    let mut runner = TestRunner::new(config);
    let result = runner.run(&inputs, |trains| {
        let def = testing::with_spike_times(&model.network, "input", trains).expect("input");
        let run = testing::simulate(&def, 1, t_end)?;
        testing::check_invariants(&run)?;
        let opts = ReferenceOptions::with_step(Tick(10_000)); // 10 µs grid
        testing::check_against_reference(&def, 1, &opts, t_end)?;
        cases.set(cases.get() + 1);
        out_spikes.set(out_spikes.get() + run.spikes.iter().filter(|s| s.neuron >= 8).count());
        Ok(())
    });
    match result {
        Ok(()) => println!(
            "{} cases passed: timing contract and reference agree ({} output spikes in all)",
            cases.get(),
            out_spikes.get()
        ),
        Err(e) => {
            eprintln!("property failed: {e}");
            std::process::exit(1);
        }
    }
}
