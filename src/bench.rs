//! A fixed, seeded benchmark suite: one row per case, as a table and as JSON lines.
//!
//! Owns: the suite (embedded model files), the row format and its derived figures. Must not
//! touch: engine internals (it runs models through [`crate::run::run_network`]) or printing.
//! Whole-process peak memory is read from the operating system (`VmHWM`, Linux); it is the
//! peak of the process so far, so for a case's own figure run one case per process.

use crate::record::NullSink;
use crate::run::{RunModelError, RunOptions, run_network};
use crate::spec::{Model, SpecError, parse_model};
use crate::time::Tick;

/// The suite: (case name, embedded model file).
pub const SUITE: [(&str, &str); 5] = [
    ("brunel_delta", include_str!("../models/brunel_delta.toml")),
    (
        "vogels_abbott_cuba",
        include_str!("../models/vogels_abbott_cuba.toml"),
    ),
    ("lowrate_100k", include_str!("../models/lowrate_100k.toml")),
    (
        "brette_bench4",
        include_str!("../models/brette_bench4.toml"),
    ),
    (
        "sparseprop_100k",
        include_str!("../models/sparseprop_100k.toml"),
    ),
];

/// One benchmark case's figures.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BenchRow {
    /// Case (model) name.
    pub case: String,
    /// Simulated time \[ms\].
    pub simulated_ms: f64,
    /// Seed.
    pub seed: u64,
    /// Threads the simulation ran on.
    pub threads: usize,
    /// Neurons.
    pub neurons: u32,
    /// Synapses.
    pub synapses: usize,
    /// Spikes emitted.
    pub spikes: u64,
    /// Synaptic events delivered (recurrent and generator synapses).
    pub synaptic_events: u64,
    /// External drive events delivered.
    pub drive_events: u64,
    /// Network construction wall time \[s\].
    pub build_s: f64,
    /// Simulation wall time \[s\].
    pub run_s: f64,
    /// Simulation time summed over threads, waiting excluded \[s\]: the CPU work (on a
    /// shared machine, a steadier figure than wall time).
    pub busy_s: f64,
    /// Time threads spent waiting for each other at window ends, summed \[s\].
    pub sync_wait_s: f64,
    /// CPU time of the simulation summed over threads \[s\] (0 where not reported).
    pub cpu_s: f64,
    /// Sum over windows of the slowest thread's CPU time \[s\]: the simulation's length on
    /// idle cores; `cpu_s / critical_cpu_s` bounds the speedup, undisturbed by other
    /// processes on the machine.
    pub critical_cpu_s: f64,
    /// Wall seconds per simulated second (simulation only).
    pub wall_per_simulated_s: f64,
    /// Synaptic events per wall second.
    pub synaptic_events_per_s: f64,
    /// Spikes per wall second.
    pub spikes_per_s: f64,
    /// Nanoseconds of simulation per event, synaptic and drive events together, all-in.
    pub ns_per_event: f64,
    /// Bytes per synapse (connectivity and delivery table).
    pub bytes_per_synapse: f64,
    /// Peak resident memory of the process so far \[MiB\], if the OS reports it.
    pub peak_rss_mib: Option<f64>,
}

/// The process's peak resident set size \[MiB\] (Linux `VmHWM`), if available.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Why a case could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The embedded or given model file is invalid.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The run failed.
    #[error(transparent)]
    Run(#[from] RunModelError),
}

/// Parses an embedded suite model.
pub fn suite_model(name: &str, text: &str) -> Result<Model, SpecError> {
    parse_model(text, &format!("<embedded {name}.toml>"))
}

/// Runs `model` for `duration` with `seed` on `threads` threads (no recording) and returns
/// its row.
pub fn bench_model(
    case: &str,
    model: &Model,
    duration: Tick,
    seed: u64,
    threads: usize,
) -> Result<BenchRow, BenchError> {
    let opts = RunOptions {
        threads,
        ..RunOptions::new(duration, seed)
    };
    let r = run_network(
        case,
        &model.network,
        &opts,
        &mut NullSink,
        &mut |_| {},
        None,
    )?;
    let t = r.total();
    let run_s = r.run_wall.as_secs_f64();
    let events = (t.synaptic_events + t.drive_events) as f64;
    Ok(BenchRow {
        case: case.to_string(),
        simulated_ms: duration.as_ms(),
        seed,
        threads: r.threads.len(),
        neurons: r.neurons,
        synapses: r.synapses,
        spikes: t.spikes,
        synaptic_events: t.synaptic_events,
        drive_events: t.drive_events,
        build_s: r.build_wall.as_secs_f64(),
        run_s,
        busy_s: r.threads.iter().map(|t| t.busy.as_secs_f64()).sum(),
        sync_wait_s: r.threads.iter().map(|t| t.wait.as_secs_f64()).sum(),
        cpu_s: r.threads.iter().map(|t| t.cpu.as_secs_f64()).sum(),
        critical_cpu_s: r.critical_cpu.as_secs_f64(),
        wall_per_simulated_s: run_s / (duration.as_ms() / 1000.0),
        synaptic_events_per_s: t.synaptic_events as f64 / run_s,
        spikes_per_s: t.spikes as f64 / run_s,
        ns_per_event: if events > 0.0 {
            run_s * 1e9 / events
        } else {
            f64::NAN
        },
        bytes_per_synapse: r.bytes_per_synapse,
        peak_rss_mib: peak_rss_mib(),
    })
}

impl BenchRow {
    /// The table header matching [`BenchRow::table_line`].
    pub fn table_header() -> String {
        format!(
            "{:<20} {:>9} {:>3} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9} {:>12} {:>12} {:>11} {:>9} {:>8} {:>9}",
            "case",
            "sim [ms]",
            "thr",
            "build [s]",
            "run [s]",
            "busy [s]",
            "wait [s]",
            "cpu [s]",
            "crit. cpu",
            "wall/sim s",
            "syn ev/s",
            "spikes/s",
            "ns/event",
            "B/syn",
            "peak MiB"
        )
    }

    /// One aligned table line.
    pub fn table_line(&self) -> String {
        format!(
            "{:<20} {:>9.1} {:>3} {:>10.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9.3} {:>12.3} {:>12.3e} {:>11.3e} {:>9.2} {:>8.2} {:>9}",
            self.case,
            self.simulated_ms,
            self.threads,
            self.build_s,
            self.run_s,
            self.busy_s,
            self.sync_wait_s,
            self.cpu_s,
            self.critical_cpu_s,
            self.wall_per_simulated_s,
            self.synaptic_events_per_s,
            self.spikes_per_s,
            self.ns_per_event,
            self.bytes_per_synapse,
            self.peak_rss_mib.map_or("-".into(), |m| format!("{m:.0}"))
        )
    }

    /// The row as one JSON object (a line of a JSON-lines file).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("plain numbers and strings serialise")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_models_parse_and_a_short_case_gives_consistent_figures() {
        for (name, text) in SUITE {
            suite_model(name, text).unwrap();
        }
        let m = suite_model("brunel_delta", SUITE[0].1).unwrap();
        let mut small = m.clone();
        for p in &mut small.network.populations {
            p.size /= 50;
        }
        for pr in &mut small.network.projections {
            if let crate::network::ConnectRule::FixedIndegree(k) = &mut pr.rule {
                *k /= 50;
            }
        }
        let row = bench_model("small", &small, Tick::from_ms(50.0).unwrap(), 1, 2).unwrap();
        assert_eq!(row.threads, 2);
        assert_eq!(row.neurons, 250);
        assert!(row.spikes > 0 && row.drive_events > 0);
        assert!((row.spikes_per_s - row.spikes as f64 / row.run_s).abs() < 1e-6 * row.spikes_per_s);
        let json: serde_json::Value = serde_json::from_str(&row.to_json()).unwrap();
        assert_eq!(json["case"], "small");
        assert_eq!(json["spikes"].as_u64(), Some(row.spikes));
    }
}
