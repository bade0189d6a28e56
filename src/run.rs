//! Running a model end to end: build, simulate in chunks with progress reports, record, and
//! summarize. This is what `spikeq run` calls; library users can call it too.
//!
//! Owns: the run configuration, the chunked driver loop and the [`RunReport`]. Must not touch:
//! engine internals (it only calls `run_until`), argument parsing, printing (progress goes to a
//! callback, the report implements `Display`).

use crate::engine::{Counters, RunError, Simulation, ThreadStats};
use crate::network::{BuildError, NetworkDef};
use crate::record::{PopulationSummary, SpikeSink, SpikeStats, Tee};
use crate::time::Tick;
use std::fmt;
use std::time::{Duration, Instant};

/// The embedded default model (Brunel 2000, NEST's brunel_delta parameters).
pub const DEFAULT_MODEL: &str = include_str!("../models/brunel_delta.toml");

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunModelError {
    /// The network could not be built.
    #[error("building the network: {0}")]
    Build(#[from] BuildError),
    /// The simulation stopped.
    #[error("simulating: {0}")]
    Run(#[from] RunError),
    /// Writing weight snapshots failed.
    #[error("writing weights: {0}")]
    Weights(std::io::Error),
}

/// Progress of a running simulation, reported about once per `progress_every` of wall time.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Simulated time reached.
    pub now: Tick,
    /// Simulated time to reach.
    pub end: Tick,
    /// Wall time since the simulation (not the build) started.
    pub wall: Duration,
    /// Synaptic plus drive events so far.
    pub events: u64,
}

/// How to run a model.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Simulated time: `[0, duration)`.
    pub duration: Tick,
    /// Seed of the connectivity and of the simulation.
    pub seed: u64,
    /// Threads (partitions) to simulate on; results do not depend on it.
    pub threads: usize,
    /// Wall time between progress reports.
    pub progress_every: Duration,
}

impl RunOptions {
    /// `duration` and `seed` on one thread, without progress reports.
    pub fn new(duration: Tick, seed: u64) -> Self {
        RunOptions {
            duration,
            seed,
            threads: 1,
            progress_every: Duration::MAX,
        }
    }
}

/// The number of threads the machine can run at once (1 if unknown): the default of
/// `--threads`.
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Everything `spikeq run` prints at the end.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// Model name.
    pub name: String,
    /// Simulated duration.
    pub duration: Tick,
    /// Seed.
    pub seed: u64,
    /// Per population statistics.
    pub populations: Vec<PopulationSummary>,
    /// Per population counters.
    pub counters: Vec<Counters>,
    /// Number of neurons and synapses.
    pub neurons: u32,
    /// Number of synapses.
    pub synapses: usize,
    /// Bytes per synapse of the frozen connectivity plus the engine's delivery table.
    pub bytes_per_synapse: f64,
    /// Wall time of network construction.
    pub build_wall: Duration,
    /// Wall time of the simulation proper.
    pub run_wall: Duration,
    /// Final weights of each plastic projection.
    pub plastic: Vec<crate::weights::WeightSummary>,
    /// Bytes of plastic state (weights, traces, incoming index) per plastic synapse.
    pub bytes_per_plastic_synapse: f64,
    /// Windows processed (windows without events are skipped).
    pub windows: u64,
    /// The window length (the network's minimum delay).
    pub window: Tick,
    /// Per thread: its share of the network, busy and waiting time.
    pub threads: Vec<ThreadStats>,
    /// Sum over windows of the slowest thread's CPU time ([`Simulation::critical_cpu`]).
    pub critical_cpu: Duration,
}

/// Weight snapshots to take during a run: `(projection, interval)` pairs (see
/// [`crate::spec::Model::weight_records`]) and where the CSV rows go. Every listed projection
/// is also written at the end of the run.
pub struct WeightRecording<'a> {
    /// Projections and their snapshot intervals.
    pub every: Vec<(usize, Tick)>,
    /// CSV output ([`crate::weights::CSV_HEADER`] is written first).
    pub out: &'a mut dyn std::io::Write,
}

impl fmt::Debug for WeightRecording<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WeightRecording")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl WeightRecording<'_> {
    fn write(&mut self, sim: &Simulation, only_due: bool) -> std::io::Result<()> {
        let now = sim.now();
        for &(proj, every) in &self.every {
            if only_due && now.0 % every.0.max(1) != 0 {
                continue;
            }
            if let Some(ws) = sim.plastic_weights(proj) {
                crate::weights::write_snapshot(self.out, now, proj, &ws)?;
            }
        }
        Ok(())
    }

    /// The first snapshot tick after `now`.
    fn next_after(&self, now: Tick) -> Tick {
        self.every
            .iter()
            .map(|&(_, e)| Tick((now.0 / e.0 + 1).saturating_mul(e.0)))
            .min()
            .unwrap_or(Tick::MAX)
    }
}

impl RunReport {
    /// Counters summed over populations.
    pub fn total(&self) -> Counters {
        let mut c = Counters::default();
        for x in &self.counters {
            c += *x;
        }
        c
    }
}

/// Builds `net` with `opts.seed`, simulates `[0, opts.duration)` on `opts.threads` threads,
/// feeds spikes to `sink`, and reports progress to `progress` every `opts.progress_every` of
/// wall time.
pub fn run_network(
    name: &str,
    net: &NetworkDef,
    opts: &RunOptions,
    sink: &mut dyn SpikeSink,
    progress: &mut dyn FnMut(Progress),
    mut weights: Option<WeightRecording<'_>>,
) -> Result<RunReport, RunModelError> {
    let RunOptions {
        duration,
        seed,
        threads,
        progress_every,
    } = *opts;
    let t_build = Instant::now();
    let network = net.build(seed)?;
    let pops = network.populations.clone();
    let (neurons, synapses) = (network.num_neurons(), network.connectivity.num_synapses());
    let csr_bytes = network.connectivity.bytes();
    let mut sim = Simulation::with_threads(network, seed, threads)?;
    // Everything kept per synapse: the network's CSR and the engine's delivery table.
    let bytes_per_synapse = if synapses > 0 {
        (csr_bytes + sim.delivery_table_bytes()) as f64 / synapses as f64
    } else {
        0.0
    };
    let build_wall = t_build.elapsed();
    let mut stats = SpikeStats::new(neurons);
    let t_run = Instant::now();
    let mut last = t_run;
    // Chunks of simulated time: runs compose exactly, so chunking changes nothing but how
    // often progress is reported. A chunk that took little wall time doubles (each chunk
    // starts the threads anew, which should stay negligible).
    let mut chunk = Tick::from_ms(10.0).expect("constant");
    {
        let mut tee = Tee(&mut stats, sink);
        if let Some(w) = &mut weights {
            writeln!(w.out, "{}", crate::weights::CSV_HEADER).map_err(RunModelError::Weights)?;
            w.write(&sim, false).map_err(RunModelError::Weights)?;
        }
        while sim.now() < duration {
            let snap = weights
                .as_ref()
                .map_or(Tick::MAX, |w| w.next_after(sim.now()));
            let next = sim.now().saturating_add(chunk).min(duration).min(snap);
            let t_chunk = Instant::now();
            sim.run_until(next, &mut tee)?;
            if let Some(w) = &mut weights
                && sim.now() == snap
                && snap < duration
            {
                w.write(&sim, true).map_err(RunModelError::Weights)?;
            }
            if t_chunk.elapsed() < Duration::from_millis(20) {
                chunk = chunk.saturating_add(chunk);
            }
            if last.elapsed() >= progress_every {
                last = Instant::now();
                let events = sim
                    .counters()
                    .iter()
                    .map(|c| c.synaptic_events + c.drive_events)
                    .sum();
                progress(Progress {
                    now: sim.now(),
                    end: duration,
                    wall: t_run.elapsed(),
                    events,
                });
            }
        }
    }
    let run_wall = t_run.elapsed();
    if let Some(w) = &mut weights {
        w.write(&sim, false).map_err(RunModelError::Weights)?;
        w.out.flush().map_err(RunModelError::Weights)?;
    }
    let plastic: Vec<_> = (0..sim.network().def.projections.len())
        .filter_map(|k| crate::weights::summarize(&sim, k))
        .collect();
    let plastic_synapses: usize = plastic.iter().map(|p| p.synapses).sum();
    let bytes_per_plastic_synapse = if plastic_synapses > 0 {
        sim.plastic_bytes() as f64 / plastic_synapses as f64
    } else {
        0.0
    };
    Ok(RunReport {
        name: name.to_string(),
        duration,
        seed,
        populations: pops
            .iter()
            .map(|p| stats.summarize(&p.name, p.ids(), duration))
            .collect(),
        counters: sim.counters(),
        neurons,
        synapses,
        bytes_per_synapse,
        build_wall,
        run_wall,
        plastic,
        bytes_per_plastic_synapse,
        windows: sim.windows(),
        window: sim.window(),
        threads: sim.thread_stats(),
        critical_cpu: sim.critical_cpu(),
    })
}

impl fmt::Display for RunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "model {}  seed {}  simulated {:.1} ms  ({} neurons, {} synapses, {:.2} bytes/synapse)",
            self.name,
            self.seed,
            self.duration.as_ms(),
            self.neurons,
            self.synapses,
            self.bytes_per_synapse
        )?;
        writeln!(
            f,
            "{:<12} {:>9} {:>11} {:>10} {:>7} {:>15} {:>15}",
            "population", "neurons", "spikes", "rate [Hz]", "CV ISI", "syn. events", "drive events"
        )?;
        for (p, c) in self.populations.iter().zip(&self.counters) {
            let cv = if p.cv_isi.is_nan() {
                "-".to_string()
            } else {
                format!("{:.3}", p.cv_isi)
            };
            writeln!(
                f,
                "{:<12} {:>9} {:>11} {:>10.3} {:>7} {:>15} {:>15}",
                p.name, p.size, p.spikes, p.rate_hz, cv, c.synaptic_events, c.drive_events
            )?;
        }
        let t = self.total();
        let secs = self.run_wall.as_secs_f64();
        writeln!(
            f,
            "{:<12} {:>9} {:>11} {:>10} {:>7} {:>15} {:>15}",
            "total", self.neurons, t.spikes, "", "", t.synaptic_events, t.drive_events
        )?;
        for p in &self.plastic {
            write!(f, "{p}")?;
        }
        if !self.plastic.is_empty() {
            writeln!(
                f,
                "plastic state: {:.1} bytes per plastic synapse (weights, traces, incoming index) beside the connectivity",
                self.bytes_per_plastic_synapse
            )?;
        }
        writeln!(
            f,
            "wall: build {:.3} s, simulate {:.3} s ({:.3} s per simulated s); {:.3e} synaptic events/s, {:.3e} events/s incl. drive",
            self.build_wall.as_secs_f64(),
            secs,
            secs / (self.duration.as_ms() / 1000.0),
            t.synaptic_events as f64 / secs,
            (t.synaptic_events + t.drive_events) as f64 / secs
        )?;
        let window = if self.window == Tick::MAX {
            "unbounded (no synapses)".to_string()
        } else {
            self.window.to_string()
        };
        write!(
            f,
            "{} windows of at most {window}, on {} thread{}",
            self.windows,
            self.threads.len(),
            if self.threads.len() == 1 { "" } else { "s" }
        )?;
        for (k, th) in self.threads.iter().enumerate() {
            let (busy, wait) = (th.busy.as_secs_f64(), th.wait.as_secs_f64());
            write!(
                f,
                "\n  thread {k}: {:>4} blocks {:>9} neurons, busy {busy:.3} s, sync wait {wait:.3} s ({:.1}%)",
                th.blocks,
                th.neurons,
                100.0 * wait / (busy + wait).max(1e-12)
            )?;
        }
        let cpu: f64 = self.threads.iter().map(|t| t.cpu.as_secs_f64()).sum();
        let critical = self.critical_cpu.as_secs_f64();
        if self.threads.len() > 1 && critical > 0.0 {
            write!(
                f,
                "\n  CPU {cpu:.3} s over threads, {critical:.3} s on the slowest thread per window (the run's length on idle cores): load balance {:.3}",
                cpu / (self.threads.len() as f64 * critical)
            )?;
        }
        Ok(())
    }
}
