//! Runs every file of the fuzz seed corpora (`fuzz/corpus/<target>/`) through the same check
//! the fuzz target applies (`spikeq::trace::fuzz_check`), on stable Rust, as an ordinary test.
//! Inputs that once crashed a fuzzer are added to these directories and so stay fixed.
//!
//! Naming: `seed-*` files are valid and must be accepted, `hostile-*` files are damaged and
//! must be refused; any other file (e.g. a fuzzer's `crash-*` find) must merely not panic.
//!
//! `cargo test --test fuzz_corpus -- --ignored regenerate` rewrites the generated seeds
//! (files named `seed-*` and `hostile-*`); other files in the corpora are left alone.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use spikeq::trace::{self, SensorGeometry, SpkHeader, SpkWriter, fuzz_check};
use spikeq::{Spike, Tick};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

#[test]
fn every_corpus_file_passes_its_check() {
    let mut failures = Vec::new();
    for (target, check) in fuzz_check::TARGETS {
        let dir = corpus_dir(target);
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus directory {} is missing: {e}", dir.display()));
        let mut files = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            if !path.is_file() {
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            match catch_unwind(AssertUnwindSafe(|| check(&bytes))) {
                Err(_) => failures.push(format!("{}: check panicked", path.display())),
                Ok(false) if name.starts_with("seed-") => {
                    failures.push(format!("{}: valid seed refused", path.display()))
                }
                Ok(true) if name.starts_with("hostile-") => {
                    failures.push(format!("{}: hostile input accepted", path.display()))
                }
                Ok(_) => {}
            }
        }
        assert!(
            files >= 3,
            "corpus {} holds only {files} files",
            dir.display()
        );
    }
    assert!(failures.is_empty(), "checks failed on: {failures:#?}");
}

fn spike(ns: i64, neuron: u32) -> Spike {
    Spike {
        tick: Tick(ns),
        neuron,
    }
}

fn spk_bytes(spikes: &[Spike], channels: u32, chunk_capacity: u32) -> Vec<u8> {
    let header = SpkHeader::new(channels)
        .with_metadata("model", "seed")
        .with_metadata("seed", "1");
    let mut writer = SpkWriter::with_chunk_capacity(Vec::new(), &header, chunk_capacity).unwrap();
    writer.push_slice(spikes).unwrap();
    writer.finish().unwrap()
}

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Writes the generated seeds. Run by hand (see the module docs), then commit the files.
#[test]
#[ignore = "writes into fuzz/corpus; run by hand to regenerate seeds"]
fn regenerate_seed_corpus() {
    // .spk
    let spikes = vec![
        spike(-5, 1),
        spike(0, 0),
        spike(0, 3),
        spike(0, 3),
        spike(10, 2),
        spike(1_000_000, 9),
        spike(i64::MAX, 9),
    ];
    let valid = spk_bytes(&spikes, 10, 3);
    put("spk_decode", "seed-multi-chunk.spk", &valid);
    put("spk_decode", "seed-empty.spk", &spk_bytes(&[], 0, 16));
    put(
        "spk_decode",
        "seed-one-spike.spk",
        &spk_bytes(&[spike(42, 0)], 1, 16),
    );
    let header_end = 22 + u32::from_le_bytes(valid[18..22].try_into().unwrap()) as usize + 4;
    let mut hostile = valid.clone();
    hostile[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
    put("spk_decode", "hostile-metadata-4gib.spk", &hostile);
    let mut hostile = valid.clone();
    hostile[header_end + 8..header_end + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    put("spk_decode", "hostile-chunk-payload-4gib.spk", &hostile);
    let footer = valid.len() - 24;
    let index_offset = u64::from_le_bytes(valid[footer..footer + 8].try_into().unwrap()) as usize;
    let mut hostile = valid.clone();
    hostile[index_offset + 4..index_offset + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    put("spk_decode", "hostile-index-4gib.spk", &hostile);
    let mut hostile = valid.clone();
    hostile[footer..footer + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    put("spk_decode", "hostile-footer-points-nowhere.spk", &hostile);
    let mut hostile = valid.clone();
    hostile[header_end + 33] ^= 0x55;
    put("spk_decode", "hostile-bad-crc.spk", &hostile);
    put(
        "spk_decode",
        "hostile-truncated.spk",
        &valid[..valid.len() / 2],
    );

    // CSV
    put(
        "csv_read",
        "seed-header.csv",
        b"neuron,time_ms\n0,0.100000\n3,1.500000\n3,1.500001\n",
    );
    put(
        "csv_read",
        "seed-no-header-crlf.csv",
        b"1, 2.5\r\n0,1e-3\r\n\r\n7,-0.000001\r\n",
    );
    put("csv_read", "hostile-long-line.csv", &vec![b'9'; 10_000]);
    put("csv_read", "hostile-bad-utf8.csv", b"1,2\n\xff\xfe,3\n");
    put(
        "csv_read",
        "hostile-huge-exponent.csv",
        b"1,1e999999999999\n2,1e-99999999999\n",
    );

    // NEST
    put(
        "nest_read",
        "seed-nest3.dat",
        b"# NEST version: 3.6\n# RecordingBackendASCII version: 2\nsender\ttime_ms\n1\t0.100\n2\t0.250\n",
    );
    put("nest_read", "seed-plain.gdf", b"12   5.3\n3   17.1   \n");
    put(
        "nest_read",
        "hostile-time-in-steps.dat",
        b"sender\ttime_step\toffset\n1\t10\t0.5\n",
    );
    put("nest_read", "hostile-id-overflow.gdf", b"99999999999 1.0\n");

    // N-MNIST: synthetic events (the real sample stays in ../shared, under its licence).
    let nmnist_spikes: Vec<Spike> = (0..20)
        .map(|i| spike(i64::from(i) * 1_000 + 654_000, (i * 113) % 2312))
        .collect();
    let mut nmnist = Vec::new();
    trace::nmnist::write(&mut nmnist, &nmnist_spikes, SensorGeometry::NMNIST).unwrap();
    put("nmnist_read", "seed-synthetic.bin", &nmnist);
    put("nmnist_read", "seed-empty.bin", b"");
    put("nmnist_read", "hostile-partial-event.bin", &nmnist[..7]);
    put(
        "nmnist_read",
        "hostile-pixel-off-sensor.bin",
        &[200, 200, 0x80, 0, 1],
    );

    // AEDAT 2.0
    let mut aedat = Vec::new();
    trace::aedat::write(
        &mut aedat,
        &[spike(0, 0), spike(10_000, 20_000), spike(10_000, 3)],
    )
    .unwrap();
    put("aedat_read", "seed-dvs128.aedat", &aedat);
    put(
        "aedat_read",
        "hostile-version-3.aedat",
        b"#!AER-DAT3.1\r\n#\r\n\x00\x00\x00\x00",
    );
    put(
        "aedat_read",
        "hostile-unterminated-header.aedat",
        b"#!AER-DAT2.0\r\n# no end",
    );
    let mut partial = aedat.clone();
    partial.truncate(partial.len() - 3);
    put("aedat_read", "hostile-partial-event.aedat", &partial);

    // .npy
    let mut npy = Vec::new();
    trace::npy::write(&mut npy, &nmnist_spikes, SensorGeometry::NMNIST).unwrap();
    put("npy_read", "seed-tonic-int64.npy", &npy);
    put(
        "npy_read",
        "seed-mixed-widths.npy",
        &npy_file(
            "{'descr': [('p', '|b1'), ('t', '<u4'), ('y', '<u2'), ('x', '|i1')], 'fortran_order': False, 'shape': (1,), }\n",
            &[1, 0x10, 0, 0, 0, 5, 0, 3],
        ),
    );
    put(
        "npy_read",
        "hostile-shape-2-pow-60.npy",
        &npy_file(
            "{'descr': [('x', '<i8'), ('y', '<i8'), ('t', '<i8'), ('p', '<i8')], 'fortran_order': False, 'shape': (1152921504606846976,), }\n",
            &[],
        ),
    );
    put(
        "npy_read",
        "hostile-deep-nesting.npy",
        &npy_file(&"[".repeat(5000), &[]),
    );
    put(
        "npy_read",
        "hostile-header-4gib.npy",
        b"\x93NUMPY\x02\x00\xff\xff\xff\xff{'descr'",
    );
    put(
        "npy_read",
        "hostile-big-endian.npy",
        &npy_file(
            "{'descr': [('x', '>i8'), ('y', '<i8'), ('t', '<i8'), ('p', '<i8')], 'fortran_order': False, 'shape': (0,), }\n",
            &[],
        ),
    );
}

fn npy_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}
