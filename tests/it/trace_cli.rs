//! `spikeq trace info|convert|slice|plot` and `spikeq run --record x.spk`.

use crate::spikeq;
use spikeq::trace::read_all;
use spikeq::{Spike, Tick};
use std::path::PathBuf;
use std::process::Output;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(args: &[&str]) -> Output {
    let o = spikeq(args);
    assert!(o.status.success(), "{args:?} failed: {}", stderr(&o));
    o
}

fn failing(args: &[&str]) -> String {
    let o = spikeq(args);
    assert!(!o.status.success(), "{args:?} must fail");
    assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
    stderr(&o)
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("spikeq-it-tcli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

const BRUNEL: &str = "traces/brunel_200ms.spk";

#[test]
fn info_reports_counts_span_rates_and_metadata() {
    let out = stdout(&ok(&["trace", "info", BRUNEL]));
    for needle in [
        "format          .spk",
        "channels        12500 declared, 12500 active",
        "spikes          94763",
        "time span       9.858875 ms .. 199.997447 ms",
        "duration        200.000000 ms (recorded duration)",
        "spikes/s        473815.0",
        "mean rate       37.905 Hz per channel",
        "meta model            brunel_delta",
        "meta seed             1",
    ] {
        assert!(out.contains(needle), "`{needle}` missing in:\n{out}");
    }
    let out = stdout(&ok(&["trace", "info", "traces/nmnist_sample.spk"]));
    assert!(out.contains("2312 declared, 805 active"), "{out}");
    assert!(out.contains("spikes          4325"), "{out}");
}

#[test]
fn convert_round_trips_and_slice_keeps_the_window() {
    let dir = temp_dir("convert");
    let (_, original) = read_all(BRUNEL).unwrap();
    let (csv, gdf, back) = (dir.join("b.csv"), dir.join("b.gdf"), dir.join("b.spk"));
    ok(&["trace", "convert", BRUNEL, s(&csv)]);
    ok(&["trace", "convert", s(&csv), s(&gdf)]);
    ok(&["trace", "convert", s(&gdf), s(&back)]);
    let (_, again) = read_all(&back).unwrap();
    assert_eq!(again, original, "spk -> csv -> NEST -> spk is exact");
    // Explicit formats override extensions.
    let odd = dir.join("b.data");
    ok(&["trace", "convert", BRUNEL, s(&odd), "--to", "csv"]);
    let (_, from_odd) = spikeq::trace::read_all_with(
        &odd,
        &spikeq::trace::ReadOptions {
            format: Some(spikeq::trace::TraceFormat::Csv),
            geometry: None,
        },
    )
    .unwrap();
    assert_eq!(from_odd, original);

    let sliced = dir.join("slice.spk");
    ok(&[
        "trace",
        "slice",
        BRUNEL,
        s(&sliced),
        "--from",
        "50",
        "--to",
        "100 ms",
        "--channels",
        "100..300",
    ]);
    let (info, part) = read_all(&sliced).unwrap();
    let expected: Vec<Spike> = original
        .iter()
        .copied()
        .filter(|s| {
            s.tick >= Tick(50_000_000)
                && s.tick < Tick(100_000_000)
                && (100..300).contains(&s.neuron)
        })
        .collect();
    assert!(expected.len() > 50);
    assert_eq!(part, expected);
    assert_eq!(
        info.channel_count,
        Some(12500),
        "channel ids and count are kept"
    );
    assert_eq!(info.metadata["model"], "brunel_delta");
    assert_eq!(info.metadata["sliced_from_ms"], "50.000000");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn plot_writes_a_png_of_the_requested_size() {
    let dir = temp_dir("plot");
    let png = dir.join("raster.png");
    let o = ok(&["trace", "plot", BRUNEL, "-o", s(&png)]);
    assert!(
        stderr(&o).contains("94763 spikes (as density per pixel)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(png_size(&std::fs::read(&png).unwrap()), (1200, 800));
    let small = dir.join("zoom.png");
    let o = ok(&[
        "trace",
        "plot",
        BRUNEL,
        "-o",
        s(&small),
        "--from",
        "50",
        "--to",
        "60",
        "--channels",
        "0..1000",
        "--width",
        "640",
        "--height",
        "480",
    ]);
    assert!(stderr(&o).contains("one dot each"), "{}", stderr(&o));
    let bytes = std::fs::read(&small).unwrap();
    assert_eq!(png_size(&bytes), (640, 480));
    // Not blank: the image compresses to more than a white page would.
    assert!(bytes.len() > 5_000, "{} bytes", bytes.len());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_files_and_arguments_give_clear_errors() {
    let dir = temp_dir("errors");
    // A truncated .spk: the reader's byte offset comes through.
    let bytes = std::fs::read("traces/nmnist_sample.spk").unwrap();
    let cut = dir.join("cut.spk");
    std::fs::write(&cut, &bytes[..1000]).unwrap();
    let e = failing(&["trace", "info", s(&cut)]);
    assert!(
        e.contains("cut.spk") && e.contains("truncated at byte"),
        "{e}"
    );
    // A bad checksum.
    let mut damaged = bytes.clone();
    damaged[200] ^= 0x40;
    let bad = dir.join("bad.spk");
    std::fs::write(&bad, &damaged).unwrap();
    let e = failing(&["trace", "convert", s(&bad), s(&dir.join("out.csv"))]);
    assert!(e.contains("checksum mismatch in the chunk at byte"), "{e}");
    assert!(!dir.join("out.csv").exists() && !dir.join("out.csv.tmp").exists());
    // A CSV with a bad line: line and column.
    let csv = dir.join("bad.csv");
    std::fs::write(&csv, "neuron,time_ms\n1,2.5\n3,soon\n").unwrap();
    let e = failing(&["trace", "plot", s(&csv), "-o", s(&dir.join("x.png"))]);
    assert!(e.contains("line 3, column 2"), "{e}");
    // Unknown extension, unknown --to, non-PNG output, empty window.
    let e = failing(&["trace", "info", "Cargo.toml"]);
    assert!(e.contains("unknown trace file extension"), "{e}");
    let o = spikeq(&["trace", "convert", BRUNEL, "x.csv", "--to", "mp3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown format `mp3`"),
        "{}",
        stderr(&o)
    );
    let e = failing(&["trace", "plot", BRUNEL, "-o", s(&dir.join("x.jpg"))]);
    assert!(e.contains("use a .png file name"), "{e}");
    let e = failing(&[
        "trace", "slice", BRUNEL, "y.spk", "--from", "10", "--to", "5",
    ]);
    assert!(e.contains("--to must be after --from"), "{e}");
    let o = spikeq(&["trace", "slice", BRUNEL, "y.spk", "--channels", "9..3"]);
    assert!(
        stderr(&o).contains("expected a..b with a < b"),
        "{}",
        stderr(&o)
    );
    let e = failing(&["trace", "plot", BRUNEL, "-o", "z.png", "--width", "20"]);
    assert!(e.contains("image size 20x800"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_records_spk_with_metadata_identical_to_csv() {
    let dir = temp_dir("record");
    let (spk, csv) = (dir.join("r.spk"), dir.join("r.csv"));
    for out in [&spk, &csv] {
        let o = ok(&[
            "run",
            "models/replay_nmnist.toml",
            "--quiet",
            "--seed",
            "4",
            "--record",
            s(out),
        ]);
        assert!(stderr(&o).contains("recorded"), "{}", stderr(&o));
    }
    let (info, a) = read_all(&spk).unwrap();
    let (_, b) = read_all(&csv).unwrap();
    assert_eq!(a, b);
    assert!(a.len() > 8650);
    assert_eq!(info.channel_count, Some(2312 + 289));
    assert_eq!(info.metadata["model"], "replay_nmnist");
    assert_eq!(info.metadata["seed"], "4");
    assert_eq!(info.metadata["duration_ms"], "640.000000");
    assert_eq!(info.metadata["spikeq_version"], env!("CARGO_PKG_VERSION"));
    // Event-camera formats cannot record a network.
    let e = failing(&[
        "run",
        "models/replay_nmnist.toml",
        "--quiet",
        "--record",
        s(&dir.join("r.aedat")),
    ]);
    assert!(e.contains("cannot record a run as AEDAT 2.0"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
