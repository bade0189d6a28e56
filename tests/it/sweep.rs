//! Parameter sweeps (issue 7): runs spread over threads give the rows of the same runs done
//! one by one, in run order.

use spikeq::parallel::{Sweep, SweepParam, SweepRow, run_sweep};
use spikeq::record::NullSink;
use spikeq::run::{RunOptions, run_network};
use spikeq::spec::parse_model;
use std::process::Command;

const MODEL: &str = r#"
[simulation]
duration = "60 ms"

[[population]]
name = "E"
size = 300
model = "lif_delta"
tau_m = "20 ms"
v_rest = "0 mV"
v_reset = "10 mV"
v_th = "20 mV"
t_ref = "2 ms"
v_init = { uniform = ["0 mV", "20 mV"] }

[[drive]]
target = "E"
kind = "poisson"
rate = "15000 Hz"
weight = "0.1 mV"

[[projection]]
from = "E"
to = "E"
rule = "fixed_indegree"
indegree = 30
weight = "0.2 mV"
delay = "1 ms"
"#;

fn sweep() -> Sweep {
    Sweep {
        text: MODEL.into(),
        origin: "<sweep test>".into(),
        base_dir: ".".into(),
        params: vec![
            SweepParam::parse("population.E.tau_m=20 ms,30 ms").unwrap(),
            SweepParam::parse("projection.0.weight=\"0.1 mV\",0.3 mV").unwrap(),
        ],
        seeds: vec![1, 2],
        duration: None,
    }
}

/// What a row says about the simulation (wall time aside).
fn figures(r: &SweepRow) -> String {
    let rates: Vec<u64> = r.populations.iter().map(|p| p.rate_hz.to_bits()).collect();
    format!(
        "{} {:?} {} {} {} {rates:?}",
        r.run.index, r.run.params, r.run.seed, r.spikes, r.synaptic_events
    )
}

#[test]
fn sweep_rows_equal_the_runs_done_one_by_one_in_run_order() {
    let s = sweep();
    let mut seen = Vec::new();
    let rows = run_sweep(&s, 3, &mut |r| seen.push(r.run.index)).unwrap();
    assert_eq!(
        seen,
        (0..8).collect::<Vec<_>>(),
        "rows are handed over in run order"
    );
    let serial = run_sweep(&s, 1, &mut |_| {}).unwrap();
    let a: Vec<_> = rows.iter().map(figures).collect();
    assert_eq!(a, serial.iter().map(figures).collect::<Vec<_>>());
    // Run 5 is tau_m = 30 ms, weight 0.1 mV, seed 2: the same as that model run alone.
    let text = MODEL
        .replace("tau_m = \"20 ms\"", "tau_m = \"30 ms\"")
        .replace("\"0.2 mV\"", "\"0.1 mV\"");
    let m = parse_model(&text, "edited").unwrap();
    let alone = run_network(
        "x",
        &m.network,
        &RunOptions::new(m.duration, 2),
        &mut NullSink,
        &mut |_| {},
        None,
    )
    .unwrap();
    assert_eq!(rows[5].run.params[1].1, "\"0.1 mV\"");
    assert_eq!(
        (rows[5].run.seed, rows[5].spikes),
        (2, alone.total().spikes)
    );
    assert!(
        rows[5].spikes > 100,
        "the network fires: {}",
        rows[5].spikes
    );
    // The swept values matter: every combination differs.
    let mut spikes: Vec<u64> = rows.iter().step_by(2).map(|r| r.spikes).collect();
    spikes.dedup();
    assert_eq!(spikes.len(), 4, "{spikes:?}");
}

#[test]
fn sweep_errors_name_the_parameter_before_any_run() {
    let mut s = sweep();
    s.params
        .push(SweepParam::parse("population.I.tau_m=5 ms").unwrap());
    let e = run_sweep(&s, 2, &mut |_| panic!("no run starts")).unwrap_err();
    assert!(e.to_string().contains("no element `I` (there: E)"), "{e}");
    let mut s = sweep();
    s.params[0] = SweepParam::parse("population.E.tau_m=20 ms,ten").unwrap();
    let e = run_sweep(&s, 2, &mut |_| panic!("no run starts")).unwrap_err();
    assert!(e.to_string().contains("with population.E.tau_m=ten"), "{e}");
}

#[test]
fn sweep_command_prints_one_row_per_run() {
    let o = Command::new(env!("CARGO_BIN_EXE_spikeq"))
        .args([
            "sweep",
            "models/single_lif_dc.toml",
            "--param",
            "population.n.bias=25 mV,30 mV",
            "--seeds",
            "1..=3",
            "--duration",
            "100",
            "--threads",
            "2",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert!(
        lines[0].contains("n.bias") && lines[0].contains("n [Hz]"),
        "{out}"
    );
    // Period 23.97 ms at 25 mV: 4 spikes in 100 ms, 40 Hz; the stronger bias fires faster.
    assert!(
        lines[1].contains("25 mV") && lines[1].contains("40.000"),
        "{out}"
    );
    assert!(lines[6].contains("30 mV"), "{out}");
    assert!(err.contains("6 runs on 2 threads"), "{err}");
    let o = Command::new(env!("CARGO_BIN_EXE_spikeq"))
        .args([
            "sweep",
            "models/single_lif_dc.toml",
            "--param",
            "population.n.tau=1 ms",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("unknown field `tau`"),
        "{err}"
    );
}
