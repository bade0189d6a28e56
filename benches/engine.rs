//! Engine benchmarks: whole networks (build + simulate) and the crossing solver.
//! `cargo bench --bench engine`; see benches/README.md for what each answers.

use criterion::{Criterion, criterion_group, criterion_main};
use spikeq::Tick;
use spikeq::engine::Simulation;
use spikeq::neuron::crossing::ExpSum;
use spikeq::record::NullSink;
use std::hint::black_box;
use std::time::Duration;

fn model(name: &str) -> spikeq::spec::Model {
    let path = format!("{}/models/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    spikeq::spec::load_model(std::path::Path::new(&path)).unwrap()
}

fn whole_run(c: &mut Criterion, name: &str, ms: f64) {
    let m = model(name);
    let mut g = c.benchmark_group("network");
    g.sample_size(10)
        .measurement_time(Duration::from_secs(30))
        .warm_up_time(Duration::from_secs(1));
    g.bench_function(format!("{name}_{ms}ms_build_and_run"), |b| {
        b.iter(|| {
            let net = m.network.build(m.seed).unwrap();
            let mut sim = Simulation::new(net, m.seed).unwrap();
            sim.run_until(Tick::from_ms(ms).unwrap(), &mut NullSink)
                .unwrap();
            black_box(sim.counters())
        })
    });
    g.finish();
}

fn networks(c: &mut Criterion) {
    whole_run(c, "brunel_delta", 200.0);
    whole_run(c, "lowrate_100k", 200.0);
    whole_run(c, "vogels_abbott_cuba", 200.0);
}

fn crossing(c: &mut Criterion) {
    // A lif_exp-like trajectory: suprathreshold drive, excitatory and inhibitory currents.
    let f = ExpSum::constant(1.0)
        .term(-11.0, 20.0)
        .term(8.0, 5.0)
        .term(-3.0, 10.0);
    c.bench_function("crossing/exp_sum_3_terms", |b| {
        b.iter(|| black_box(&f).first_crossing(0))
    });
}

criterion_group!(benches, networks, crossing);
criterion_main!(benches);
