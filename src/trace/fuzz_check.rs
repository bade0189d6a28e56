//! The properties each fuzz target checks, shared by `fuzz/` and `tests/fuzz_corpus.rs`.
//!
//! Each function feeds arbitrary bytes to one reader. Any input is allowed to fail with a
//! [`TraceFileError`](super::TraceFileError); none may make the reader panic, hang or allocate
//! without bound. Where a reader succeeds, the function checks what success promises (sorted
//! output, channels in range, write-then-read giving the same spikes) and **panics** if that
//! promise is broken: a panic here is a bug found, which is what a fuzzer looks for.
//!
//! Each returns whether the reader accepted the input, so corpus tests can also check that
//! valid seeds are accepted and hostile ones refused.

use std::io::Cursor;

use super::{SensorGeometry, SpkHeader, SpkReader, SpkWriter, aedat, csv, nest, nmnist, npy, spk};
use crate::{Spike, Tick};

/// `.spk`: streaming, bulk and seeking reads agree; a successful read is sorted, in channel
/// range, consistent with its index, and survives a write/read round trip.
///
/// Checked twice: on the input as given (whose result is returned), and on the input with
/// every section's checksum recomputed, so that mutated contents get past the CRC-32s and
/// reach the decoder. Both runs are deterministic, so corpus replays on stable see the same.
pub fn spk_decode(data: &[u8]) -> bool {
    let accepted = check_spk(data);
    let resealed = spk::reseal_checksums(data);
    if resealed != data {
        check_spk(&resealed);
    }
    accepted
}

fn check_spk(data: &[u8]) -> bool {
    let Ok(reader) = SpkReader::new(Cursor::new(data)) else {
        return false;
    };
    let header = reader.header().clone();
    let streamed: Result<Vec<Spike>, _> = reader.collect();
    let bulk = SpkReader::new(Cursor::new(data))
        .expect("header read once, must read again")
        .read_to_end();
    match (&streamed, &bulk) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "iterator and read_to_end disagree"),
        (Err(_), Err(_)) => {}
        _ => panic!("iterator and read_to_end disagree on success: {streamed:?} vs {bulk:?}"),
    }

    let mut seeking = SpkReader::new(Cursor::new(data)).expect("header read once");
    let middle = streamed
        .as_ref()
        .ok()
        .and_then(|s| s.get(s.len() / 2))
        .map_or(Tick::ZERO, |s| s.tick);
    let everything = seeking.read_range(Tick(i64::MIN), Tick::MAX);
    let upper_half = seeking.read_range(middle, Tick::MAX);

    let Ok(spikes) = streamed else {
        return false;
    };
    assert!(
        spikes.windows(2).all(|w| w[0] <= w[1]),
        "decoded spikes are not sorted"
    );
    assert!(
        spikes.iter().all(|s| s.neuron < header.channel_count),
        "decoded channel beyond the declared count"
    );
    // A file that streams cleanly has a verified index and footer, so seeking must work.
    let everything = everything.expect("streaming succeeded, so a full range read must");
    let without_max: Vec<Spike> = spikes
        .iter()
        .copied()
        .filter(|s| s.tick < Tick::MAX)
        .collect();
    assert_eq!(
        everything, without_max,
        "range read differs from the stream"
    );
    let upper_half = upper_half.expect("streaming succeeded, so a range read must");
    let expected: Vec<Spike> = without_max
        .iter()
        .copied()
        .filter(|s| s.tick >= middle)
        .collect();
    assert_eq!(upper_half, expected, "range read differs from filtering");

    let rewritten = rewrite_spk(&header, &spikes);
    let reread = SpkReader::new(Cursor::new(&rewritten))
        .and_then(SpkReader::read_to_end)
        .expect("re-encoded file must decode");
    assert_eq!(reread, spikes, "re-encoding changed the spikes");
    true
}

fn rewrite_spk(header: &SpkHeader, spikes: &[Spike]) -> Vec<u8> {
    let mut writer = SpkWriter::new(Vec::new(), header).expect("header was read, so it fits");
    writer
        .push_slice(spikes)
        .expect("decoded spikes are sorted and in range");
    writer.finish().expect("writing to memory cannot fail")
}

/// CSV: a successful read written back and read again gives the same spikes.
pub fn csv_read(data: &[u8]) -> bool {
    let Ok(spikes) = csv::read(data) else {
        return false;
    };
    let mut text = Vec::new();
    csv::write(&mut text, &spikes).expect("writing to memory cannot fail");
    let again = csv::read(&text[..]).expect("CSV written by csv::write must read back");
    assert_eq!(again, spikes, "CSV round trip changed the spikes");
    true
}

/// NEST text: a successful read written back and read again gives the same spikes.
pub fn nest_read(data: &[u8]) -> bool {
    let Ok(spikes) = nest::read(data) else {
        return false;
    };
    let mut text = Vec::new();
    nest::write(&mut text, &spikes).expect("writing to memory cannot fail");
    let again = nest::read(&text[..]).expect("NEST text written by nest::write must read back");
    assert_eq!(again, spikes, "NEST round trip changed the spikes");
    true
}

/// N-MNIST: one spike per 5 bytes, channels in range, and writing back gives the same bytes.
pub fn nmnist_read(data: &[u8]) -> bool {
    let geometry = SensorGeometry::NMNIST;
    let Ok(spikes) = nmnist::parse(data, geometry) else {
        return false;
    };
    assert_eq!(spikes.len() * nmnist::EVENT_BYTES, data.len());
    assert!(spikes.iter().all(|s| s.neuron < geometry.channel_count()));
    let mut bytes = Vec::new();
    nmnist::write(&mut bytes, &spikes, geometry).expect("decoded events must re-encode");
    assert_eq!(bytes, data, "N-MNIST round trip changed the bytes");
    true
}

/// AEDAT 2.0: channels in range, and writing back then reading gives the same spikes.
pub fn aedat_read(data: &[u8]) -> bool {
    let Ok(spikes) = aedat::parse(data) else {
        return false;
    };
    let channels = SensorGeometry::DVS128.channel_count();
    assert!(spikes.iter().all(|s| s.neuron < channels));
    let mut bytes = Vec::new();
    aedat::write(&mut bytes, &spikes).expect("decoded events must re-encode");
    let again = aedat::parse(&bytes).expect("AEDAT written by aedat::write must read back");
    assert_eq!(again, spikes, "AEDAT round trip changed the spikes");
    true
}

/// `.npy`: channels in range, and writing back then reading gives the same spikes.
pub fn npy_read(data: &[u8]) -> bool {
    let geometry = SensorGeometry::NMNIST;
    let Ok(spikes) = npy::parse(data, geometry) else {
        return false;
    };
    assert!(spikes.iter().all(|s| s.neuron < geometry.channel_count()));
    let mut bytes = Vec::new();
    npy::write(&mut bytes, &spikes, geometry).expect("decoded events must re-encode");
    let again = npy::parse(&bytes, geometry).expect("npy written by npy::write must read back");
    assert_eq!(again, spikes, "npy round trip changed the spikes");
    true
}

/// A fuzz check: feeds one input to a reader, panicking if a property fails.
pub type Check = fn(&[u8]) -> bool;

/// Every check, by target name, for drivers that iterate over corpora.
pub const TARGETS: [(&str, Check); 6] = [
    ("spk_decode", spk_decode),
    ("csv_read", csv_read),
    ("nest_read", nest_read),
    ("nmnist_read", nmnist_read),
    ("aedat_read", aedat_read),
    ("npy_read", npy_read),
];
