//! Learning: data loaders against published files, loader errors, and that conversion learns.

use spikeq::Tick;
use spikeq::learn::ann::{Mlp, TrainConfig};
use spikeq::learn::convert::{DEFAULT_PERCENTILE, SpikingClassifier, activation_scales, evaluate};
use spikeq::learn::data::{self, DataError, YIN_YANG_SEEDS, YIN_YANG_SIZES};
use spikeq::learn::{Dataset, encode};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `../shared/data/...` beside the checkout (present for developers and CI).
fn shared(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    assert!(
        p.exists(),
        "{} is missing: the learning tests need the shared data directory beside the checkout",
        p.display()
    );
    p
}

/// The data of a little-endian 8-byte `.npy` array (`<f8` or `<i8`), checked against `descr`
/// and `shape`.
fn npy_words(path: &Path, descr: &str, shape: &str) -> Vec<[u8; 8]> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY", "{}", path.display());
    assert_eq!(bytes[6], 1, "format version 1");
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(header.contains(&format!("'descr': '{descr}'")), "{header}");
    assert!(header.contains("'fortran_order': False"), "{header}");
    assert!(header.contains(&format!("'shape': {shape}")), "{header}");
    bytes[10 + len..]
        .chunks_exact(8)
        .map(|c| c.try_into().unwrap())
        .collect()
}

#[test]
fn yin_yang_generator_reproduces_the_published_sets_bit_for_bit() {
    let dir = shared("samples/yin_yang");
    for ((name, seed), size) in ["train", "validation", "test"]
        .into_iter()
        .zip(YIN_YANG_SEEDS)
        .zip(YIN_YANG_SIZES)
    {
        let samples = npy_words(
            &dir.join(format!("{name}_samples.npy")),
            "<f8",
            &format!("({size}, 4)"),
        );
        let labels = npy_words(
            &dir.join(format!("{name}_labels.npy")),
            "<i8",
            &format!("({size},)"),
        );
        let ours = data::yin_yang(size, seed);
        assert_eq!(ours.samples.len(), size);
        let flat: Vec<u64> = ours.samples.iter().flatten().map(|v| v.to_bits()).collect();
        let published: Vec<u64> = samples.iter().map(|w| u64::from_le_bytes(*w)).collect();
        assert_eq!(flat.len(), published.len());
        if let Some(k) = (0..flat.len()).find(|&k| flat[k] != published[k]) {
            panic!(
                "{name}: value {k} (sample {}) differs: ours {}, published {}",
                k / 4,
                f64::from_bits(flat[k]),
                f64::from_bits(published[k])
            );
        }
        let published: Vec<i64> = labels.iter().map(|w| i64::from_le_bytes(*w)).collect();
        let ours: Vec<i64> = ours.labels.iter().map(|&l| l as i64).collect();
        assert_eq!(ours, published, "{name} labels");
    }
}

#[test]
fn mnist_10k_loads_with_its_documented_shape() {
    let set = data::load_idx_dir(shared("mnist-10k")).unwrap();
    for part in [&set.train, &set.test] {
        assert_eq!((part.len(), part.rows, part.cols), (5000, 28, 28));
        assert_eq!(part.pixels.len(), 5000 * 784);
        assert_eq!(part.num_classes(), 10);
    }
    let mut counts = [0usize; 10];
    set.train
        .labels
        .iter()
        .for_each(|&l| counts[l as usize] += 1);
    assert_eq!(counts, [500; 10], "the README: exactly 500 per class");
    set.test
        .labels
        .iter()
        .for_each(|&l| counts[l as usize] += 1);
    let test: Vec<usize> = counts.iter().map(|c| c - 500).collect();
    assert_eq!(test, [501, 627, 491, 532, 480, 363, 514, 570, 444, 478]);
}

#[test]
fn nmnist_sample_loads_as_per_channel_trains() {
    let trains = data::load_nmnist_sample(shared("samples/nmnist/sample_nmnist.bin")).unwrap();
    assert_eq!(trains.len(), 2 * 34 * 34);
    assert!(trains.iter().all(|t| t.windows(2).all(|w| w[0] < w[1])));
    assert!(trains.iter().map(Vec::len).sum::<usize>() > 0);
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("spikeq-learn-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        b.extend_from_slice(&d.to_be_bytes());
    }
    b.extend_from_slice(data);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn read_error(dir: &TempDir, name: &str, bytes: &[u8]) -> (DataError, String) {
    let path = dir.0.join(name);
    std::fs::write(&path, bytes).unwrap();
    let e = data::read_idx(&path).expect_err("must be refused");
    let shown = e.to_string();
    assert!(shown.contains(name), "the error names the file: {shown}");
    (e, shown)
}

#[test]
fn idx_errors_name_the_file_and_the_problem() {
    let dir = TempDir::new("idx");
    let good = idx_bytes(&[2, 2, 2], &[1, 2, 3, 4, 5, 6, 7, 8]);
    // Plain and gzip files of the same array read the same.
    std::fs::write(dir.0.join("a"), &good).unwrap();
    std::fs::write(dir.0.join("a.gz"), gzip(&good)).unwrap();
    assert_eq!(
        data::read_idx(dir.0.join("a")).unwrap(),
        data::read_idx(dir.0.join("a.gz")).unwrap()
    );

    let mut bad = good.clone();
    bad[0] = 0x50;
    let (e, shown) = read_error(&dir, "magic.idx", &bad);
    assert!(matches!(e, DataError::BadMagic { .. }), "{shown}");

    let mut float = good.clone();
    float[2] = 0x0D;
    let (e, _) = read_error(&dir, "float.idx", &float);
    assert!(matches!(e, DataError::UnsupportedType { code: 0x0D, .. }));

    let (e, shown) = read_error(&dir, "short.idx", &good[..good.len() - 1]);
    assert!(
        matches!(
            e,
            DataError::SizeMismatch {
                expected: 8,
                actual: 7,
                ..
            }
        ),
        "{shown}"
    );
    assert!(
        shown.contains("need 8 bytes") && shown.contains("has 7"),
        "{shown}"
    );

    let (e, _) = read_error(&dir, "long.idx", &[&good[..], &[0]].concat());
    assert!(matches!(
        e,
        DataError::SizeMismatch {
            expected: 8,
            actual: 9,
            ..
        }
    ));

    let (e, _) = read_error(&dir, "header.idx", &good[..9]);
    assert!(matches!(e, DataError::TruncatedHeader { len: 9, .. }));

    // A gzip stream cut in the middle.
    let gz = gzip(&idx_bytes(&[1000], &[7; 1000]));
    let (e, shown) = read_error(&dir, "cut.idx.gz", &gz[..gz.len() / 2]);
    assert!(matches!(e, DataError::Gzip { .. }), "{shown}");

    // Dimensions that would need exabytes are refused, not allocated.
    let (e, _) = read_error(&dir, "huge.idx", &idx_bytes(&[u32::MAX; 3], &[0; 16]));
    assert!(matches!(
        e,
        DataError::SizeMismatch {
            expected: u64::MAX,
            ..
        }
    ));
}

#[test]
fn idx_directory_errors_name_the_missing_or_mismatched_file() {
    let dir = TempDir::new("dir");
    let images = idx_bytes(&[3, 2, 2], &[0; 12]);
    std::fs::write(dir.0.join("train-images-idx3-ubyte"), &images).unwrap();
    std::fs::write(
        dir.0.join("train-labels-idx1-ubyte.gz"),
        gzip(&idx_bytes(&[2], &[0, 1])),
    )
    .unwrap();
    std::fs::write(dir.0.join("t10k-images-idx3-ubyte"), &images).unwrap();
    let e = data::load_idx_dir(&dir.0).unwrap_err().to_string();
    assert!(
        e.contains("train-images-idx3-ubyte") && e.contains("3 images") && e.contains("2 labels"),
        "{e}"
    );
    std::fs::write(
        dir.0.join("train-labels-idx1-ubyte.gz"),
        gzip(&idx_bytes(&[3], &[0, 1, 2])),
    )
    .unwrap();
    let e = data::load_idx_dir(&dir.0).unwrap_err().to_string();
    assert!(e.contains("t10k-labels-idx1-ubyte"), "{e}");
    std::fs::write(
        dir.0.join("t10k-labels-idx1-ubyte"),
        idx_bytes(&[3], &[2, 1, 0]),
    )
    .unwrap();
    let set = data::load_idx_dir(&dir.0).unwrap();
    assert_eq!(set.test.labels, vec![2, 1, 0]);
    // Images given where labels belong: wrong rank.
    std::fs::write(dir.0.join("t10k-labels-idx1-ubyte"), &images).unwrap();
    let e = data::load_idx_dir(&dir.0).unwrap_err().to_string();
    assert!(e.contains("3 dimensions, expected 1"), "{e}");
}

/// Trains on the first `n_train` MNIST-10k training images for `epochs` epochs (0: untrained)
/// and returns the network with its activation scales.
fn trained(train: &Dataset, epochs: usize) -> (Mlp, Vec<f32>) {
    let mut mlp = Mlp::new(&[784, 100, 10], 3);
    let cfg = TrainConfig {
        epochs,
        ..TrainConfig::default()
    };
    mlp.train(train, &cfg, |_| {});
    let scales = activation_scales(&mlp, train, DEFAULT_PERCENTILE);
    (mlp, scales)
}

/// Fast variant of the documented full run: 500 training images, 2 epochs, 100 test images,
/// 10 ms of simulated time. Learning must happen: the converted network beats chance (10%)
/// and the same pipeline without training by wide margins, and stays close to its own ANN.
#[test]
fn converted_network_learns_mnist() {
    let set = data::load_idx_dir(shared("mnist-10k")).unwrap();
    let train = Dataset::from(&set.train).take(500);
    let test = Dataset::from(&set.test).take(100);
    let t_end = Tick::from_ms(10.0).unwrap();
    let enc = |i: usize, x: &[f32]| encode::poisson(x, 1000.0, t_end, i as u64);
    let run = |mlp: &Mlp, scales: &[f32], threads| {
        let snn = SpikingClassifier::rate(mlp, scales).unwrap();
        evaluate(&snn, &test, &enc, &[t_end], threads, &|_, _| {}).unwrap()
    };

    let (mlp, scales) = trained(&train, 2);
    let ann = mlp.accuracy(&test);
    let snn = run(&mlp, &scales, 2);
    let (untrained, u_scales) = trained(&train, 0);
    let before = run(&untrained, &u_scales, 2).accuracy()[0];
    let after = snn.accuracy()[0];
    assert!(after >= 0.6, "trained SNN accuracy {after}");
    assert!(after >= before + 0.3, "trained {after}, untrained {before}");
    // 100 images: one image is one point; conversion loses at most a few.
    assert!(after >= ann - 0.05, "SNN {after} vs its ANN {ann}");
    // Cost: every input spike reaches all 100 hidden neurons, every hidden spike 10 outputs.
    let spikes = &snn.spikes_per_sample[0];
    let expected = spikes[0] * 100.0 + spikes[1] * 10.0;
    assert!((snn.synaptic_events_per_sample[0] - expected).abs() < 1e-6 * expected);

    // Thread count changes nothing but the wall time.
    let one = run(&mlp, &scales, 1);
    assert_eq!(
        (
            one.correct,
            one.synaptic_events_per_sample,
            one.spikes_per_sample
        ),
        (
            snn.correct.clone(),
            snn.synaptic_events_per_sample.clone(),
            snn.spikes_per_sample.clone()
        )
    );

    // Time to first spike with fixed thresholds: above chance, and every input spikes once.
    let ttfs = SpikingClassifier::ttfs(&mlp, &scales, 0.2, 0.5).unwrap();
    let t_max = Tick::from_ms(10.0).unwrap();
    let lat = |_: usize, x: &[f32]| encode::latency(x, t_max);
    let e = evaluate(
        &ttfs,
        &test,
        &lat,
        &[Tick::from_ms(11.0).unwrap()],
        2,
        &|_, _| {},
    )
    .unwrap();
    let nonzero: f64 = test
        .inputs
        .iter()
        .map(|x| x.iter().filter(|&&v| v > 0.0).count() as f64)
        .sum::<f64>()
        / test.len() as f64;
    assert!((e.spikes_per_sample[0][0] - nonzero).abs() < 1e-9);
    assert!(
        e.spikes_per_sample[0][1] <= 100.0,
        "at most one spike per hidden neuron"
    );
    assert!(e.accuracy()[0] >= 0.5, "TTFS accuracy {}", e.accuracy()[0]);
}

/// The CLI trains, saves, and evaluates the saved model to the same ANN accuracy.
#[test]
fn cli_convert_saves_a_model_that_eval_reloads() {
    let dir = TempDir::new("cli");
    let model = dir.0.join("m.mlp");
    let data = shared("mnist-10k");
    let run = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikeq"))
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let common = [
        "--test-limit",
        "20",
        "--time-ms",
        "2,5",
        "--no-ttfs",
        "--threads",
        "1",
    ];
    let mut a = vec!["learn", "convert", "--data", data.to_str().unwrap()];
    a.extend(["--hidden", "20", "--epochs", "1", "--train-limit", "200"]);
    a.extend(["--save", model.to_str().unwrap()]);
    a.extend(common);
    let trained = run(&a);
    let mut b = vec![
        "learn",
        "eval",
        model.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ];
    b.extend(common);
    let evaluated = run(&b);
    let table = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with("ANN") || l.starts_with("| 2 |") || l.starts_with("| 5 |"))
            .map(|l| l.split(" MACs").next().unwrap().to_string())
            .collect()
    };
    assert_eq!(table(&trained).len(), 3, "{trained}");
    assert_eq!(table(&trained), table(&evaluated));
    // A damaged model file is refused with its name.
    std::fs::write(&model, b"spikeq-mlp\n\0junk").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikeq"))
        .args(&b)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("m.mlp"));
}
