//! Every model file in `models/` parses, builds and starts. Large networks are checked at a
//! reduced size (populations capped, degrees capped) so the test stays fast: the full sizes
//! are exercised by `spikeq check` and `spikeq bench`, not here.

use spikeq::engine::Simulation;
use spikeq::network::ConnectRule;
use spikeq::spec::load_model;

/// Above this many expected synapses a model is shrunk before building.
const FULL_BUILD_LIMIT: f64 = 400_000.0;
/// Population size cap when shrinking.
const SMALL_POP: u32 = 200;
/// In/out-degree cap when shrinking.
const SMALL_DEGREE: u32 = 20;

#[test]
fn every_model_file_parses_builds_and_starts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "models found: {paths:?}");
    for path in &paths {
        let mut m = load_model(path).unwrap_or_else(|e| panic!("{e}"));
        let shrink = m.network.estimated_synapses() > FULL_BUILD_LIMIT;
        if shrink {
            for p in &mut m.network.populations {
                p.size = p.size.min(SMALL_POP);
            }
            for pr in &mut m.network.projections {
                if let ConnectRule::FixedIndegree(k) | ConnectRule::FixedOutdegree(k) = &mut pr.rule
                {
                    *k = (*k).min(SMALL_DEGREE);
                }
            }
        }
        let net = m
            .build(m.seed)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Simulation::new(net, m.seed).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
