//! Integration tests: one binary, one module per concern.

mod add_spikes;
mod brunel;
mod cli;
mod closed_form;
mod compare;
mod conductance;
mod connectivity;
mod eventprop;
mod exp_current;
mod learn;
mod learn_stdp;
mod learn_ttfs;
mod model_errors;
mod models;
mod plasticity;
mod props;
mod replay;
mod rk4;
mod semantics;
mod simultaneity;
mod sweep;
mod threads;
mod trace_cli;
mod ttfs_grad;
mod user_api;

use spikeq::engine::Simulation;
use spikeq::network::{Network, NetworkDef};
use spikeq::{Spike, Tick};

/// Builds `def` with `seed`, runs it to `t_end` and returns all spikes.
pub fn run_spikes(def: &NetworkDef, seed: u64, t_end: Tick) -> (Network, Vec<Spike>) {
    let net = def.build(seed).expect("network builds");
    let mut sim = Simulation::new(net.clone(), seed).expect("simulation starts");
    let mut spikes = Vec::new();
    sim.run_until(t_end, &mut spikes).expect("run succeeds");
    (net, spikes)
}

/// Runs the `spikeq` binary with `args`, from the repository root.
pub fn spikeq(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_spikeq"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// The MNIST-10k subset beside the checkout (`../shared/data/mnist-10k`).
pub fn mnist_10k() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist-10k")
}

/// Milliseconds to ticks for test literals.
pub fn ms(v: f64) -> Tick {
    Tick::from_ms(v).unwrap()
}
