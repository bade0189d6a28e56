use super::*;

/// An `.npy` file (version 1.0) with the given header dict and raw data.
fn npy_file(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = MAGIC.to_vec();
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(data);
    bytes
}

fn tonic_header(n: usize) -> String {
    format!(
        "{{'descr': [('x', '<i8'), ('y', '<i8'), ('t', '<i8'), ('p', '<i8')], 'fortran_order': False, 'shape': ({n},), }}\n"
    )
}

fn tonic_record(x: i64, y: i64, t: i64, p: i64) -> Vec<u8> {
    [x, y, t, p].iter().flat_map(|v| v.to_le_bytes()).collect()
}

#[test]
fn reads_tonic_int64_arrays() {
    let mut data = tonic_record(3, 2, 1_000, 1);
    data.extend(tonic_record(0, 33, 2_500, 0));
    let spikes = parse(&npy_file(&tonic_header(2), &data), SensorGeometry::NMNIST).unwrap();
    assert_eq!(
        spikes,
        vec![
            Spike {
                tick: Tick(1_000_000),
                neuron: 34 * 34 + 2 * 34 + 3
            },
            Spike {
                tick: Tick(2_500_000),
                neuron: 33 * 34
            },
        ]
    );
}

#[test]
fn reads_mixed_widths_extra_fields_and_any_field_order() {
    // p first as bool, a float field to skip, then t as u4, y as u2, x as i1.
    let header = "{'descr': [('p', '|b1'), ('w', '<f8'), ('t', '<u4'), ('y', '<u2'), ('x', '|i1')], \
                  'fortran_order': True, 'shape': (2L,)}";
    let mut data = Vec::new();
    for (p, t, y, x) in [(1u8, 4_000_000_000u32, 127u16, 5i8), (0, 7, 0, 0)] {
        data.push(p);
        data.extend_from_slice(&1.5f64.to_le_bytes());
        data.extend_from_slice(&t.to_le_bytes());
        data.extend_from_slice(&y.to_le_bytes());
        data.push(x as u8);
    }
    let spikes = parse(&npy_file(header, &data), SensorGeometry::DVS128).unwrap();
    assert_eq!(spikes[0].tick, Tick(4_000_000_000_000));
    assert_eq!(spikes[0].neuron, 128 * 128 + 127 * 128 + 5);
    assert_eq!(
        spikes[1],
        Spike {
            tick: Tick(7_000),
            neuron: 0
        }
    );
}

#[test]
fn negative_one_polarity_is_off_and_other_values_are_refused() {
    let ok = parse(
        &npy_file(&tonic_header(1), &tonic_record(1, 1, 0, -1)),
        SensorGeometry::NMNIST,
    )
    .unwrap();
    assert_eq!(ok[0].neuron, 35);
    let error = parse(
        &npy_file(&tonic_header(1), &tonic_record(1, 1, 0, 2)),
        SensorGeometry::NMNIST,
    )
    .unwrap_err();
    assert!(matches!(
        error,
        TraceFileError::Malformed {
            what: "polarity p is not 0, 1 or -1",
            ..
        }
    ));
}

#[test]
fn pixel_outside_sensor_and_time_overflow() {
    let file = npy_file(&tonic_header(1), &tonic_record(-1, 0, 0, 0));
    let error = parse(&file, SensorGeometry::NMNIST).unwrap_err();
    assert!(
        matches!(error, TraceFileError::PixelOutOfRange { x: -1, .. }),
        "{error}"
    );
    let file = npy_file(&tonic_header(1), &tonic_record(0, 0, i64::MAX, 0));
    assert!(matches!(
        parse(&file, SensorGeometry::NMNIST).unwrap_err(),
        TraceFileError::Malformed { .. }
    ));
}

#[test]
fn refuses_unsupported_arrays_with_clear_errors() {
    let cases = [
        (
            "{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }",
            "dtype is not a list",
        ),
        (
            "{'descr': [('x', '>i8'), ('y', '<i8'), ('t', '<i8'), ('p', '<i8')], 'fortran_order': False, 'shape': (0,), }",
            "big-endian",
        ),
        (
            "{'descr': [('x', '<i8'), ('y', '<i8'), ('t', '<f8'), ('p', '<i8')], 'fortran_order': False, 'shape': (0,), }",
            "not an integer",
        ),
        (
            "{'descr': [('x', '<i8'), ('y', '<i8'), ('t', '<i8')], 'fortran_order': False, 'shape': (0,), }",
            "lacks one of",
        ),
        (
            "{'descr': [('x', '<i8'), ('y', '<i8'), ('t', '<i8'), ('p', '<i8')], 'fortran_order': False, 'shape': (2, 3), }",
            "one-dimensional",
        ),
        (
            "{'descr': [('x', '<i8', (2,)), ('y', '<i8'), ('t', '<i8'), ('p', '<i8')], 'fortran_order': False, 'shape': (0,), }",
            "sub-array",
        ),
        (
            "{'descr': [('x', '<i8'), ('y', '<i8'), ('t', '<i8'), ('p', 'O')], 'fortran_order': False, 'shape': (0,), }",
            "cannot size",
        ),
    ];
    for (header, expected) in cases {
        match parse(&npy_file(header, &[]), SensorGeometry::NMNIST) {
            Err(TraceFileError::NpyUnsupported { what, .. }) => {
                assert!(what.contains(expected), "{header}: {what}")
            }
            other => panic!("{header}: {other:?}"),
        }
    }
}

#[test]
fn refuses_malformed_headers() {
    let cases = [
        "{'descr': [('x', '<i8')",
        "['descr']",
        "{'descr': [], 'shape': (0,)}",
        "{'descr': [], 'fortran_order': False, 'shape': (0,)} junk",
        "{'descr': [], 'fortran_order': maybe, 'shape': (0,)}",
        "{'shape': (-1,), 'descr': [], 'fortran_order': False}",
    ];
    for header in cases {
        let error = parse(&npy_file(header, &[]), SensorGeometry::NMNIST).unwrap_err();
        assert!(
            matches!(
                error,
                TraceFileError::Malformed {
                    format: TraceFormat::Npy,
                    ..
                }
            ),
            "{header}: {error}"
        );
    }
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let error = parse(&npy_file(&deep, &[]), SensorGeometry::NMNIST).unwrap_err();
    assert!(matches!(
        error,
        TraceFileError::Malformed {
            what: "header nests too deeply",
            ..
        }
    ));
}

#[test]
fn magic_version_lengths_and_data_size() {
    assert!(matches!(
        parse(b"PK\x03\x04zipfile", SensorGeometry::NMNIST).unwrap_err(),
        TraceFileError::BadMagic { .. }
    ));
    assert!(matches!(
        parse(b"\x93NUM", SensorGeometry::NMNIST).unwrap_err(),
        TraceFileError::Truncated { .. }
    ));
    assert!(matches!(
        parse(b"\x93NUMPY\x09\x00\x10\x00", SensorGeometry::NMNIST).unwrap_err(),
        TraceFileError::UnsupportedVersion { ref found, .. } if found == "9.0"
    ));
    // Version 2 allows a 4 GiB header length: refused before reading.
    let error = parse(
        b"\x93NUMPY\x02\x00\xff\xff\xff\xff{",
        SensorGeometry::NMNIST,
    )
    .unwrap_err();
    assert!(
        matches!(error, TraceFileError::LengthTooLarge { offset: 8, .. }),
        "{error}"
    );
    // A shape claiming 2^60 elements with no data behind it.
    let error = parse(
        &npy_file(&tonic_header(1 << 60), &[]),
        SensorGeometry::NMNIST,
    )
    .unwrap_err();
    assert!(matches!(error, TraceFileError::Truncated { .. }), "{error}");
    let mut data = tonic_record(0, 0, 0, 0);
    data.pop();
    assert!(matches!(
        parse(&npy_file(&tonic_header(1), &data), SensorGeometry::NMNIST).unwrap_err(),
        TraceFileError::Truncated { .. }
    ));
    let mut data = tonic_record(0, 0, 0, 0);
    data.push(0);
    assert!(matches!(
        parse(&npy_file(&tonic_header(1), &data), SensorGeometry::NMNIST).unwrap_err(),
        TraceFileError::Malformed {
            what: "bytes after the last array element",
            ..
        }
    ));
}

#[test]
fn writer_output_is_aligned_and_reads_back() {
    let spikes = vec![
        Spike {
            tick: Tick(-2_000),
            neuron: 0,
        },
        Spike {
            tick: Tick(5_000),
            neuron: 2311,
        },
    ];
    let mut bytes = Vec::new();
    write(&mut bytes, &spikes, SensorGeometry::NMNIST).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 64, 0);
    assert_eq!(bytes[10 + header_len - 1], b'\n');
    assert_eq!(bytes.len(), 10 + header_len + 2 * 32);
    assert_eq!(parse(&bytes, SensorGeometry::NMNIST).unwrap(), spikes);
}

/// Files written by NumPy itself (see `tests/data/npy/README.md`).
#[test]
fn reads_files_written_by_numpy() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/npy");
    let read = |name: &str| {
        let bytes = std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("fixture {name} missing from {}: {e}", dir.display()));
        parse(&bytes, SensorGeometry::NMNIST).unwrap()
    };
    let at = |us: i64, x: u32, y: u32, on: bool| Spike {
        tick: Tick(us * 1_000),
        neuron: SensorGeometry::NMNIST.channel(Pixel { x, y, on }).unwrap(),
    };
    assert_eq!(
        read("tonic_int.npy"),
        vec![
            at(10, 1, 2, true),
            at(20, 33, 0, false),
            at(30, 0, 33, true)
        ]
    );
    assert_eq!(
        read("narrow_bool.npy"),
        vec![at(100, 5, 7, true), at(200, 6, 8, false)]
    );
    assert_eq!(read("aligned.npy"), vec![at(0, 0, 0, false)]);
}
