//! Learning with STDP: Diehl & Cook's unsupervised layer and the R-STDP readout learn on a
//! small MNIST-10k slice (accuracy far above chance and above the same network untrained).

use crate::{mnist_10k, spikeq};
use spikeq::learn::stdp::{self, DcParams, DcState, Responses};
use spikeq::learn::{Dataset, data, rstdp};
use std::sync::OnceLock;

/// Small settings: 50 neurons, otherwise the published protocol.
fn small() -> DcParams {
    DcParams {
        neurons: 50,
        ..DcParams::default()
    }
}

/// An untrained Diehl & Cook network with `p` saved as a model file in a fresh temporary
/// directory named after `name`: (directory, model path).
fn saved_untrained(name: &str, p: DcParams) -> (std::path::PathBuf, std::path::PathBuf) {
    use spikeq::learn::model::AnyModel;
    let dir = std::env::temp_dir().join(format!("spikeq-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dc.model");
    AnyModel::Stdp(stdp::untrained(&p).unwrap())
        .save(&path)
        .unwrap();
    (dir, path)
}

struct Fixture {
    train: Dataset,
    test: Dataset,
    trained: DcState,
    train_resp: Responses,
    test_resp: Responses,
}

/// Trains once (500 images), labels and records responses for both tests.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = mnist_10k();
        let set = data::load_idx_dir(&dir).expect("MNIST-10k beside the checkout");
        let train = Dataset::from(&set.train).take(500);
        let test = Dataset::from(&set.test).take(200);
        // Training as `learn stdp` does by default: quiet presentations are not repeated
        // (repeating them is tested in `learn::stdp`'s unit tests).
        let no_repeats = DcParams {
            max_boosts: 0,
            ..small()
        };
        let (mut trained, stats) = stdp::train(&train, &no_repeats, 1, &mut |_| {}).unwrap();
        trained.params.max_boosts = small().max_boosts;
        assert_eq!(stats.presentations, 500);
        assert!(stats.plastic_updates > 0 && stats.synaptic_events > 0);
        assert_eq!(stats.repeats, 0);
        assert_eq!(stats.still_quiet, stats.quiet_presentations);
        let train_resp = stdp::label(&mut trained, &train, 2, &|_| {}).unwrap();
        let test_resp = stdp::responses(&trained, &test, 7, 2, &|_| {}).unwrap();
        Fixture {
            train,
            test,
            trained,
            train_resp,
            test_resp,
        }
    })
}

#[test]
fn diehl_cook_learns_beyond_chance_and_beyond_its_untrained_self() {
    let f = fixture();
    let acc = stdp::accuracy(&f.trained.labels, &f.test_resp, &f.test);
    let mut raw = stdp::untrained(&small()).unwrap();
    stdp::label(&mut raw, &f.train, 2, &|_| {}).unwrap();
    let raw_resp = stdp::responses(&raw, &f.test, 7, 2, &|_| {}).unwrap();
    let raw_acc = stdp::accuracy(&raw.labels, &raw_resp, &f.test);
    eprintln!("trained {acc:.3}, untrained {raw_acc:.3}");
    // Measured: 0.51 trained, 0.23 untrained.
    assert!(acc >= 0.4, "trained accuracy {acc}");
    assert!(
        acc >= raw_acc + 0.15,
        "trained {acc} vs untrained {raw_acc}"
    );
}

#[test]
fn rstdp_readout_learns_beyond_chance_and_beyond_its_untrained_self() {
    let f = fixture();
    // Few images: many passes (a pass over 500 recorded feature patterns costs milliseconds).
    let p = rstdp::RstdpParams {
        epochs: 50,
        ..rstdp::RstdpParams::default()
    };
    let n = f.trained.params.neurons;
    let (readout, stats) = rstdp::train(&p, n, &f.train_resp, &f.train, &mut |_| {}).unwrap();
    assert!(stats.plastic_updates > 0);
    let (test, _) = rstdp::evaluate(&readout, &f.test_resp, &f.test, 2).unwrap();
    let raw = rstdp::untrained(&p, n).unwrap();
    let (raw_test, _) = rstdp::evaluate(&raw, &f.test_resp, &f.test, 2).unwrap();
    eprintln!(
        "readout trained {:.3}, untrained {:.3}",
        test.accuracy(),
        raw_test.accuracy()
    );
    // Measured with the CLI on the same slice: 0.195 trained, 0.11 untrained. The readout
    // learns, but far less than label assignment on the same features (0.51): see README.
    assert!(test.accuracy() >= 0.15, "{}", test.accuracy());
    assert!(test.accuracy() >= raw_test.accuracy() + 0.05);
}

#[test]
fn stdp_and_rstdp_models_round_trip_and_damage_is_refused() {
    use spikeq::learn::model::{AnyModel, RstdpModel};
    let f = fixture();
    let dir = std::env::temp_dir().join(format!("spikeq-stdp-model-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("dc.model");
    AnyModel::Stdp(f.trained.clone()).save(&path).unwrap();
    assert_eq!(
        AnyModel::load(&path).unwrap(),
        AnyModel::Stdp(f.trained.clone())
    );
    let p = rstdp::RstdpParams::default();
    let readout = rstdp::untrained(&p, f.trained.params.neurons).unwrap();
    let m = RstdpModel {
        features: f.trained.clone(),
        readout,
    };
    let rpath = dir.join("r.model");
    AnyModel::Rstdp(m.clone()).save(&rpath).unwrap();
    assert_eq!(AnyModel::load(&rpath).unwrap(), AnyModel::Rstdp(m));
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = AnyModel::load(&path).unwrap_err().to_string();
    assert!(e.contains("corrupt"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_rstdp_takes_a_validation_split() {
    let (dir, features) = saved_untrained(
        "rstdp-val",
        DcParams {
            neurons: 8,
            ..DcParams::default()
        },
    );
    let mnist = mnist_10k();
    let o = spikeq(&[
        "learn",
        "rstdp",
        "--data",
        mnist.to_str().unwrap(),
        "--features",
        features.to_str().unwrap(),
        "--train",
        "30",
        "--validation",
        "10",
        "--epochs",
        "1",
        "--threads",
        "2",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("training on the first 20 training images"),
        "{err}"
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("test: 10 images"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `spikeq learn stdp` on MNIST-10k with 4 neurons on one thread plus `extra`; checks that it
/// succeeded and returns (stderr, stdout).
fn cli_stdp_small(extra: &[&str]) -> (String, String) {
    let mnist = mnist_10k();
    let mut args = vec![
        "learn",
        "stdp",
        "--data",
        mnist.to_str().unwrap(),
        "--neurons",
        "4",
        "--threads",
        "1",
    ];
    args.extend_from_slice(extra);
    let o = spikeq(&args);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    (err, String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn cli_stdp_takes_a_validation_split() {
    let (err, out) = cli_stdp_small(&["--train", "12", "--validation", "4", "--epochs", "0"]);
    assert!(
        err.contains("training on the first 8 training images"),
        "{err}"
    );
    assert!(out.contains("labelling: 8 images"), "{out}");
    assert!(out.contains("test: 4 images"), "{out}");
}

/// An untrained 8-neuron model saved for a `learn eval` test named `name`: (directory, path).
fn saved_untrained_small(name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    saved_untrained(
        name,
        DcParams {
            neurons: 8,
            max_boosts: 0,
            ..DcParams::default()
        },
    )
}

/// `spikeq learn eval MODEL --data MNIST-10k --threads 1` plus `extra`.
fn cli_eval(model: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mnist = mnist_10k();
    let mut args = vec![
        "learn",
        "eval",
        model.to_str().unwrap(),
        "--data",
        mnist.to_str().unwrap(),
        "--threads",
        "1",
    ];
    args.extend_from_slice(extra);
    spikeq(&args)
}

#[test]
fn cli_eval_present_ms_lengthens_the_presentation_of_an_stdp_model() {
    let (dir, path) = saved_untrained_small("eval-present");
    let eval = |extra: &[&str]| cli_eval(&path, &[&["--test-limit", "20"], extra].concat());
    // Input spikes per image, from "per image: N synaptic ops, X input + ...".
    let input_spikes = |o: &std::process::Output| -> f64 {
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let after = out.split("synaptic ops, ").nth(1).expect("a cost line");
        after.split(' ').next().unwrap().parse().unwrap()
    };
    let default = input_spikes(&eval(&[]));
    let long = input_spikes(&eval(&["--present-ms", "1400"]));
    // Poisson inputs at the same rates for 4 times as long.
    let ratio = long / default;
    assert!((3.6..4.4).contains(&ratio), "{long} / {default} = {ratio}");
    for bad in ["0", "-5", "nan"] {
        let o = eval(&["--present-ms", bad]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("--present-ms"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_eval_takes_a_validation_split() {
    let (dir, path) = saved_untrained_small("eval-validation");
    let eval = |extra: &[&str]| cli_eval(&path, extra);
    // The last 7 training images are evaluated (the test part has 5,000).
    let o = eval(&["--validation", "7"]);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    assert!(err.contains("testing on the last 7"), "{err}");
    assert!(out.contains("test: 7 images"), "{out}");
    for bad in ["0", "5000"] {
        let o = eval(&["--validation", bad]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("--validation"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_stdp_trains_on_shifted_copies() {
    let (err, out) = cli_stdp_small(&[
        "--train",
        "4",
        "--test",
        "4",
        "--augment-shift",
        "1",
        "--present-ms",
        "50",
    ]);
    assert!(err.contains("augmented: 36 training images"), "{err}");
    assert!(out.contains("training: 36 images x 1 epochs"), "{out}");
    assert!(out.contains("labelling: 36 images"), "{out}");
    assert!(out.contains("test: 4 images"), "{out}");
}
