//! Trace-file throughput: is `.spk` fast and small enough to record whole network runs?
//!
//! Input: a synthetic recording resembling a network, 10,000 Poisson neurons at 10 Hz for
//! 10 s (about 10^6 spikes, nanosecond times, sorted), seeded. Targets: reading at least 10^8
//! spikes/s and at most 5 bytes per spike. CSV is the baseline. Bytes per spike are printed
//! once at start-up, since criterion measures only time.
//!
//! `cargo bench --bench trace_io`

#[path = "../tests/support/poisson.rs"]
mod poisson;

use std::hint::black_box;
use std::io::Cursor;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use spikeq::trace::{self, SpkHeader, SpkReader, SpkWriter};
use spikeq::{Spike, Tick};

const NEURONS: u32 = 10_000;

fn write_spk(spikes: &[Spike]) -> Vec<u8> {
    let header = SpkHeader::new(NEURONS).with_metadata("model", "poisson_10hz");
    let mut writer = SpkWriter::new(Vec::with_capacity(spikes.len() * 5), &header).unwrap();
    writer.push_slice(spikes).unwrap();
    writer.finish().unwrap()
}

fn write_csv(spikes: &[Spike]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(spikes.len() * 16);
    trace::csv::write(&mut bytes, spikes).unwrap();
    bytes
}

fn trace_io(c: &mut Criterion) {
    let spikes = poisson::poisson_recording(NEURONS, 10.0, 10.0, 1);
    let spk = write_spk(&spikes);
    let csv = write_csv(&spikes);
    let n = spikes.len() as f64;
    eprintln!(
        "trace_io: {} spikes; .spk {} bytes = {:.3} bytes/spike; CSV {} bytes = {:.3} bytes/spike",
        spikes.len(),
        spk.len(),
        spk.len() as f64 / n,
        csv.len(),
        csv.len() as f64 / n
    );

    let mut write = c.benchmark_group("trace_io/write");
    write.throughput(Throughput::Elements(spikes.len() as u64));
    write.bench_function("spk", |b| {
        b.iter(|| black_box(write_spk(black_box(&spikes))))
    });
    write.bench_function("csv", |b| {
        b.iter(|| black_box(write_csv(black_box(&spikes))))
    });
    write.finish();

    let mut read = c.benchmark_group("trace_io/read");
    read.throughput(Throughput::Elements(spikes.len() as u64));
    read.bench_function("spk_iter", |b| {
        b.iter(|| {
            let reader = SpkReader::new(Cursor::new(black_box(&spk[..]))).unwrap();
            let mut checksum = 0u64;
            for spike in reader {
                let spike = spike.unwrap();
                checksum = checksum.wrapping_add(spike.tick.0 as u64 ^ u64::from(spike.neuron));
            }
            black_box(checksum)
        })
    });
    read.bench_function("spk_read_to_end", |b| {
        b.iter(|| {
            let reader = SpkReader::new(Cursor::new(black_box(&spk[..]))).unwrap();
            black_box(reader.read_to_end().unwrap())
        })
    });
    read.bench_function("csv", |b| {
        b.iter(|| black_box(trace::csv::read(black_box(&csv[..])).unwrap()))
    });
    read.finish();

    // A 100 ms window out of 10 s: the index should make this ~1% of a full read.
    let mut range = c.benchmark_group("trace_io/range");
    range.bench_function("spk_100ms_window", |b| {
        b.iter(|| {
            let mut reader = SpkReader::new(Cursor::new(black_box(&spk[..]))).unwrap();
            black_box(
                reader
                    .read_range(Tick(5_000_000_000), Tick(5_100_000_000))
                    .unwrap(),
            )
        })
    });
    range.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = trace_io
}
criterion_main!(benches);
