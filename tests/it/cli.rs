//! The binary: arguments, errors, recording.

use crate::spikeq;

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn bad_arguments_give_clear_errors() {
    let o = spikeq(&["run", "--duration", "soon"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--duration `soon`"), "{}", stderr(&o));
    let o = spikeq(&["run", "--duration=-5"]);
    assert!(
        stderr(&o).contains("must be a positive time"),
        "{}",
        stderr(&o)
    );
    let o = spikeq(&["run", "no/such/model.toml"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no/such/model.toml") && stderr(&o).contains("cannot read"),
        "{}",
        stderr(&o)
    );
    let o = spikeq(&["run", "--seed", "x"]);
    assert_eq!(o.status.code(), Some(2), "clap usage error");
    assert!(stderr(&o).contains("--seed"));
}

#[test]
fn check_reports_the_network_and_model_errors() {
    let o = spikeq(&["check", "models/brunel_delta.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("15625000 synapses"), "{out}");
    let dir = std::env::temp_dir().join(format!("spikeq-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[[population]]\nname = \"A\"\nsize = -3\n").unwrap();
    let o = spikeq(&["check", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("bad.toml:3:"), "{}", stderr(&o));
}

#[test]
fn recorded_traces_are_byte_identical_across_runs_and_thread_counts() {
    let dir = std::env::temp_dir().join(format!("spikeq-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
    // One thread, then two: the same bytes.
    for (p, threads) in [(&a, "1"), (&b, "2")] {
        let o = spikeq(&[
            "run",
            "--duration",
            "30",
            "--quiet",
            "--threads",
            threads,
            "--record",
            p.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(String::from_utf8_lossy(&o.stdout).contains("rate [Hz]"));
    }
    let (ta, tb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert!(ta.len() > 1000, "the run must record spikes");
    assert_eq!(ta, tb);
    assert!(ta.starts_with(b"neuron,time_ms\n"));
}

#[test]
fn bench_prints_a_row_per_case_and_appends_json_lines() {
    let dir = std::env::temp_dir().join(format!("spikeq-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("rows.jsonl");
    let _ = std::fs::remove_file(&json);
    for _ in 0..2 {
        let o = spikeq(&[
            "bench",
            "models/single_lif_dc.toml",
            "models/exp_synapse_pair.toml",
            "--duration",
            "100",
            "--json",
            json.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.lines().next().unwrap().starts_with("case"), "{out}");
        assert!(
            out.contains("single_lif_dc") && out.contains("exp_synapse_pair"),
            "{out}"
        );
    }
    let text = std::fs::read_to_string(&json).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 4, "two runs of two cases append four rows");
    // The single neuron fires 4 times in 100 ms (period 23.97 ms, first spike at 21.97 ms).
    assert!(
        rows[0].contains("\"case\":\"single_lif_dc\"") && rows[0].contains("\"spikes\":4,"),
        "{}",
        rows[0]
    );
    let o = spikeq(&["bench", "no/such.toml"]);
    assert!(!o.status.success() && stderr(&o).contains("no/such.toml"));
}
