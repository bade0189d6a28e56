fn main() {
    let m = spikeq::spec::load_model(std::path::Path::new("models/brunel_delta.toml")).unwrap();
    let t = std::time::Instant::now();
    let net = m.network.build(m.seed).unwrap();
    eprintln!(
        "build {:?}, {} synapses, {:.2} B/syn",
        t.elapsed(),
        net.connectivity.num_synapses(),
        net.connectivity.bytes() as f64 / net.connectivity.num_synapses() as f64
    );
    let n = net.num_neurons();
    let pops = net.populations.clone();
    let mut sim = spikeq::engine::Simulation::new(net, m.seed).unwrap();
    let mut stats = spikeq::record::SpikeStats::new(n);
    let t = std::time::Instant::now();
    sim.run_until(m.duration, &mut stats).unwrap();
    eprintln!("run {:?}", t.elapsed());
    for p in &pops {
        eprintln!("{:?}", stats.summarize(&p.name, p.ids(), m.duration));
    }
    eprintln!("{:?}", sim.counters());
}
