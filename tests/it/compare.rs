//! The comparison report: the fast preset runs every method on a MNIST-10k slice and writes a
//! table, a CSV that reads back to the same rows, and a PNG plot.

use spikeq::learn::compare::{self, CompareConfig, CompareProgress, METHODS, NetKind};
use std::sync::Mutex;

#[test]
fn fast_comparison_runs_every_method_and_writes_consistent_files() {
    let data = crate::mnist_10k();
    assert!(data.exists(), "{} is missing", data.display());
    let config = CompareConfig::fast(&data, 2);
    // Rows per method, from the progress reports.
    let finished: Mutex<Vec<(String, usize)>> = Mutex::new(Vec::new());
    let report = compare::run(&config, &|p| {
        if let CompareProgress::Finished { method, rows, .. } = p {
            finished
                .lock()
                .unwrap()
                .push((method.to_string(), rows.len()));
        }
    })
    .unwrap();
    eprintln!("fast comparison: {:.1} s", report.wall.as_secs_f64());
    let finished = finished.into_inner().unwrap();
    let names: Vec<&str> = METHODS.iter().map(|m| m.name).collect();
    assert_eq!(
        finished.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        names
    );
    assert!(finished.iter().all(|(_, n)| *n >= 1), "{finished:?}");
    assert_eq!(
        report.rows.len(),
        finished.iter().map(|(_, n)| n).sum::<usize>()
    );
    // One row per rate time, and one ANN row (two with shifted copies).
    let rate_rows = report
        .rows
        .iter()
        .filter(|r| r.method.contains("rate conversion"))
        .count();
    assert_eq!(rate_rows, config.conversion.rate_times_ms.len());
    assert_eq!(
        report
            .rows
            .iter()
            .filter(|r| r.kind == NetKind::Ann)
            .count(),
        1 + (config.ann.augment_shift > 0) as usize
    );
    // The rows trained with shifted copies trained on 9 samples per image.
    let shifted: Vec<_> = report
        .rows
        .iter()
        .filter(|r| r.method.contains("shifted copies"))
        .collect();
    assert_eq!(shifted.len(), 2, "{shifted:?}");
    for r in shifted {
        assert_eq!(r.train_samples, 9 * config.ttfs.train_samples, "{r:?}");
    }

    let chance = 1.0 / report.classes as f64;
    for r in &report.rows {
        let what = format!("{r:?}");
        assert!((0.0..=1.0).contains(&r.test_accuracy), "{what}");
        // Every method here trains: all must beat chance clearly. Measured with the fast
        // preset: ANN 0.795, rate 0.745 / 0.81, TTFS 0.735, Diehl & Cook 0.38, R-STDP 0.27.
        assert!(r.test_accuracy > chance + 0.1, "{what}");
        assert!(r.train_samples > 0 && r.test_samples > 0, "{what}");
        assert!(r.neuron_updates_per_sample > 0.0, "{what}");
        assert!(r.ann_macs_per_sample > 0, "{what}");
        assert!(r.energy_estimate_nj > 0.0, "{what}");
        assert!(r.train_wall_s > 0.0, "{what}");
        let expected =
            compare::energy_estimate_nj(r.kind, r.synaptic_ops_per_sample, r.ann_macs_per_sample);
        assert_eq!(r.energy_estimate_nj, expected, "{what}");
        match r.kind {
            NetKind::Ann => {
                assert_eq!(r.synaptic_ops_per_sample, None, "{what}");
                assert_eq!(r.time_to_decision_ms, None, "{what}");
            }
            NetKind::Snn => {
                let syn = r.synaptic_ops_per_sample.unwrap_or(0.0);
                assert!(syn > 0.0, "{what}");
                // Neuron updates are synaptic events plus spikes.
                assert!(r.neuron_updates_per_sample > syn, "{what}");
                assert!(r.time_to_decision_ms.is_some_and(|t| t > 0.0), "{what}");
            }
        }
    }
    // The first-spike readout decides before its read-out time; the rate rows at theirs.
    let ttfs = report
        .rows
        .iter()
        .find(|r| r.method.contains("TTFS conversion"))
        .unwrap();
    let t = ttfs.time_to_decision_ms.unwrap();
    assert!(t < config.conversion.ttfs_window_ms + 1.0, "{t}");

    let dir = std::env::temp_dir().join(format!("spikeq-compare-it-{}", std::process::id()));
    let files = compare::write_report(&report, &dir.join("out")).unwrap();
    let csv = std::fs::read_to_string(&files.csv).unwrap();
    assert_eq!(compare::parse_csv(&csv).unwrap(), report.rows);
    let png = std::fs::read(&files.plot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000, "{} bytes", png.len());
    let md = std::fs::read_to_string(&files.markdown).unwrap();
    assert!(md.contains("--fast"), "{md}");
    assert!(md.contains("Horowitz 2014"));
    for r in &report.rows {
        assert!(
            md.contains(&format!(" {} |", r.method)),
            "{} not in\n{md}",
            r.method
        );
    }

    // The command (what CI and the committed report run) on one thread gives the same
    // accuracies and costs: results depend on neither the thread count nor the front end.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikeq"))
        .args(["learn", "compare", "--fast", "--threads", "1", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(dir.join("cli"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    for m in METHODS {
        assert!(err.contains(m.name), "no progress of {} in\n{err}", m.name);
    }
    let cli = std::fs::read_to_string(dir.join("cli/comparison.csv")).unwrap();
    let cli = compare::parse_csv(&cli).unwrap();
    assert_eq!(cli.len(), report.rows.len());
    for (a, b) in cli.iter().zip(&report.rows) {
        assert_eq!(
            (&a.method, a.test_accuracy, a.synaptic_ops_per_sample),
            (&b.method, b.test_accuracy, b.synaptic_ops_per_sample)
        );
        assert_eq!(
            (a.neuron_updates_per_sample, a.time_to_decision_ms),
            (b.neuron_updates_per_sample, b.time_to_decision_ms)
        );
    }
    assert!(dir.join("cli/comparison.md").exists() && dir.join("cli/comparison.png").exists());

    // --replot draws the same picture again from the CSV alone.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikeq"))
        .args(["learn", "compare", "--replot"])
        .arg(dir.join("cli/comparison.csv"))
        .arg("--out")
        .arg(dir.join("replot"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read(dir.join("replot/comparison.png")).unwrap(),
        std::fs::read(dir.join("cli/comparison.png")).unwrap()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn replot_names_a_damaged_csv() {
    let dir = std::env::temp_dir().join(format!("spikeq-replot-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("broken.csv");
    std::fs::write(&csv, "method,type\nx,SNN\n").unwrap();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikeq"))
        .args(["learn", "compare", "--replot"])
        .arg(&csv)
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("broken.csv"), "{err}");
    assert!(!dir.join("comparison.png").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn compare_command_names_a_missing_data_directory() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_spikeq"))
        .args([
            "learn",
            "compare",
            "--data",
            "no/such/dir",
            "--fast",
            "--out",
        ])
        .arg(std::env::temp_dir().join("spikeq-compare-never-written"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no/such/dir"), "{err}");
}
