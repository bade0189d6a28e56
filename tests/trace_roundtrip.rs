//! Round-trip properties of the trace formats: what is written reads back identically.

#[path = "support/poisson.rs"]
mod poisson;

use std::io::Cursor;

use proptest::prelude::*;
use spikeq::trace::{self, SensorGeometry, SpkHeader, SpkReader, SpkWriter, TraceFormat};
use spikeq::{Spike, Tick};

/// Sorted spike lists over `channels` channels. Ticks come either from a narrow window (so
/// many share a tick and deltas are small) or from the whole `i64` range (extreme deltas).
fn sorted_spikes(channels: u32, max_len: usize) -> impl Strategy<Value = Vec<Spike>> {
    let tick = prop_oneof![3 => -1_000i64..1_000_000, 1 => any::<i64>()];
    prop::collection::vec((tick, 0..channels), 0..max_len).prop_map(|pairs| {
        let mut spikes: Vec<Spike> = pairs
            .into_iter()
            .map(|(t, neuron)| Spike {
                tick: Tick(t),
                neuron,
            })
            .collect();
        spikes.sort_unstable();
        spikes
    })
}

fn write_spk(spikes: &[Spike], header: &SpkHeader, chunk_capacity: u32) -> Vec<u8> {
    let mut writer = SpkWriter::with_chunk_capacity(Vec::new(), header, chunk_capacity).unwrap();
    // Mix single pushes and slices, as a recorder would.
    let (first, rest) = spikes.split_at(spikes.len() / 3);
    for &spike in first {
        writer.push(spike).unwrap();
    }
    writer.push_slice(rest).unwrap();
    writer.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn spk_round_trip_is_exact(
        spikes in sorted_spikes(50, 400),
        chunk_capacity in 1u32..64,
        seed in any::<u64>(),
    ) {
        let header = SpkHeader::new(50)
            .with_metadata("model", "proptest")
            .with_metadata("seed", seed.to_string());
        let bytes = write_spk(&spikes, &header, chunk_capacity);
        let reader = SpkReader::new(Cursor::new(&bytes)).unwrap();
        prop_assert_eq!(reader.header(), &header);
        let streamed: Vec<Spike> = reader.collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(&streamed, &spikes);
        let bulk = SpkReader::new(Cursor::new(&bytes)).unwrap().read_to_end().unwrap();
        prop_assert_eq!(&bulk, &spikes);
    }

    #[test]
    fn spk_range_reads_equal_filtering(
        spikes in sorted_spikes(20, 300),
        chunk_capacity in 1u32..32,
        bounds in prop::collection::vec((any::<prop::sample::Index>(), -5i64..5, any::<prop::sample::Index>(), -5i64..5), 1..8),
    ) {
        let bytes = write_spk(&spikes, &SpkHeader::new(20), chunk_capacity);
        let mut reader = SpkReader::new(Cursor::new(&bytes)).unwrap();
        let index = reader.index().unwrap();
        prop_assert_eq!(index.iter().map(|e| u64::from(e.event_count)).sum::<u64>(), spikes.len() as u64);
        // Bounds near actual spike times, where off-by-one errors live.
        let near = |i: &prop::sample::Index, nudge: i64| {
            if spikes.is_empty() { Tick(nudge) } else { Tick(spikes[i.index(spikes.len())].tick.0.saturating_add(nudge)) }
        };
        for (i0, n0, i1, n1) in &bounds {
            let (t0, t1) = (near(i0, *n0), near(i1, *n1));
            let expected: Vec<Spike> = spikes.iter().copied().filter(|s| s.tick >= t0 && s.tick < t1).collect();
            prop_assert_eq!(reader.read_range(t0, t1).unwrap(), expected);
        }
    }

    #[test]
    fn text_formats_round_trip_exactly(spikes in sorted_spikes(u32::MAX, 200)) {
        let mut csv_bytes = Vec::new();
        trace::csv::write(&mut csv_bytes, &spikes).unwrap();
        prop_assert_eq!(trace::csv::read(&csv_bytes[..]).unwrap(), spikes.clone());
        let mut nest_bytes = Vec::new();
        trace::nest::write(&mut nest_bytes, &spikes).unwrap();
        prop_assert_eq!(trace::nest::read(&nest_bytes[..]).unwrap(), spikes);
    }

    #[test]
    fn event_camera_formats_round_trip(
        events in prop::collection::vec((0u32..(1 << 23), 0u32..2312), 0..200),
    ) {
        // Whole microseconds within every format's range, N-MNIST channels (which fit DVS128 too).
        let spikes: Vec<Spike> = events
            .iter()
            .map(|&(us, neuron)| Spike { tick: Tick(i64::from(us) * 1_000), neuron })
            .collect();
        let geometry = SensorGeometry::NMNIST;
        let mut bytes = Vec::new();
        trace::nmnist::write(&mut bytes, &spikes, geometry).unwrap();
        prop_assert_eq!(bytes.len(), 5 * spikes.len());
        prop_assert_eq!(trace::nmnist::parse(&bytes, geometry).unwrap(), spikes.clone());

        let mut bytes = Vec::new();
        trace::npy::write(&mut bytes, &spikes, geometry).unwrap();
        prop_assert_eq!(trace::npy::parse(&bytes, geometry).unwrap(), spikes.clone());

        let mut bytes = Vec::new();
        trace::aedat::write(&mut bytes, &spikes).unwrap();
        prop_assert_eq!(trace::aedat::parse(&bytes).unwrap(), spikes);
    }
}

/// The format's size target: a recording resembling a network (10,000 Poisson neurons at
/// 10 Hz, nanosecond times) costs at most 5 bytes per spike, everything included.
#[test]
fn network_recording_costs_at_most_five_bytes_per_spike() {
    let spikes = poisson::poisson_recording(10_000, 10.0, 1.0, 7);
    assert!(spikes.len() > 90_000, "{} spikes", spikes.len());
    let bytes = write_spk(
        &spikes,
        &SpkHeader::new(10_000).with_metadata("model", "poisson"),
        4096,
    );
    let per_spike = bytes.len() as f64 / spikes.len() as f64;
    assert!(per_spike <= 5.0, "{per_spike:.3} bytes per spike");
    assert_eq!(
        SpkReader::new(Cursor::new(&bytes))
            .unwrap()
            .read_to_end()
            .unwrap(),
        spikes
    );
}

/// The shared N-MNIST sample through the path-based helpers: detected by extension, read,
/// sorted, converted to `.spk` and read back unchanged.
#[test]
fn nmnist_sample_converts_to_spk() {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/samples/nmnist/sample_nmnist.bin");
    assert!(
        sample.exists(),
        "N-MNIST sample missing at {}: it is a required fixture from the shared data directory",
        sample.display()
    );
    let (info, spikes) = trace::read_all(&sample).unwrap();
    assert_eq!(info.format, TraceFormat::NMnist);
    assert_eq!(info.channel_count, Some(2312));
    assert_eq!(spikes.len(), 4325);
    assert!(spikes.windows(2).all(|w| w[0] <= w[1]));

    let out = std::env::temp_dir().join(format!("spikeq-nmnist-{}.spk", std::process::id()));
    let options = trace::WriteOptions {
        channel_count: info.channel_count,
        ..Default::default()
    };
    trace::write_with(&out, &spikes, TraceFormat::Spk, &options).unwrap();
    let (spk_info, back) = trace::read_all(&out).unwrap();
    std::fs::remove_file(&out).unwrap();
    assert_eq!(spk_info.channel_count, Some(2312));
    assert_eq!(back, spikes);
}
