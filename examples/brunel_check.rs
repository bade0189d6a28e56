//! This example demonstrates: timing and determinism checks for the Brunel model: prints build/run times, rates, CV of
//! ISI and a hash of the spike trace. `brunel_check N` runs in N uneven chunks (the hash must
//! not change); `brunel_check N ms` also shortens the run to `ms` milliseconds.
use spikeq::record::{SpikeSink, SpikeStats, Tee};
use spikeq::{Spike, Tick};

/// FNV-1a over (tick, neuron) of every spike, in recording order.
struct Hash(u64, u64);

impl SpikeSink for Hash {
    fn record(&mut self, spikes: &[Spike]) -> Result<(), String> {
        for s in spikes {
            for b in s
                .tick
                .0
                .to_le_bytes()
                .into_iter()
                .chain(s.neuron.to_le_bytes())
            {
                self.0 = (self.0 ^ b as u64).wrapping_mul(0x100000001b3);
            }
        }
        self.1 += spikes.len() as u64;
        Ok(())
    }
}

/// CPU time of this thread so far [s] (Linux schedstat; 0 elsewhere): less disturbed than
/// wall time when other processes share the cores.
fn cpu_s() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns * 1e-9)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let chunks: i64 = args.get(1).map_or(1, |a| a.parse().unwrap());
    let m = spikeq::spec::load_model(std::path::Path::new("models/brunel_delta.toml")).unwrap();
    let duration = args
        .get(2)
        .map_or(m.duration, |a| Tick::from_ms(a.parse().unwrap()).unwrap());
    let (t_all, c_all) = (std::time::Instant::now(), cpu_s());
    let net = m.network.build(m.seed).unwrap();
    let (t_build, c_build) = (t_all.elapsed(), cpu_s() - c_all);
    let n = net.num_neurons();
    let pops = net.populations.clone();
    let mut sim = spikeq::engine::Simulation::new(net, m.seed).unwrap();
    let mut sink = Tee(SpikeStats::new(n), Hash(0xcbf29ce484222325, 0));
    let (t_run, c_run) = (std::time::Instant::now(), cpu_s());
    // Uneven chunk ends: k² spacing, so chunk boundaries fall at odd ticks.
    for k in 1..=chunks {
        let end = Tick(duration.0 / (chunks * chunks) * k * k + (k < chunks) as i64 * 12_345);
        sim.run_until(if k == chunks { duration } else { end }, &mut sink)
            .unwrap();
    }
    let (t_run, c_run) = (t_run.elapsed(), cpu_s() - c_run);
    let (total, c_total) = (t_all.elapsed(), cpu_s() - c_all);
    for p in &pops {
        let s = sink.0.summarize(&p.name, p.ids(), duration);
        eprintln!("{} rate {:.4} Hz cv {:.4}", p.name, s.rate_hz, s.cv_isi);
    }
    eprintln!(
        "build {:.3} s run {:.3} s total {:.3} s (cpu: build {c_build:.3} run {c_run:.3} \
         total {c_total:.3}) spikes {} hash {:016x}",
        t_build.as_secs_f64(),
        t_run.as_secs_f64(),
        total.as_secs_f64(),
        sink.1.1,
        sink.1.0
    );
}
