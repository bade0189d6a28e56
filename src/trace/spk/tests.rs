//! Unit tests of the `.spk` format: one per kind of damage, plus writer contracts.

use std::io::Cursor;

use super::writer::{encode_header, encode_index_and_footer};
use super::*;

fn spike(ns: i64, neuron: u32) -> Spike {
    Spike {
        tick: Tick(ns),
        neuron,
    }
}

fn sample_spikes() -> Vec<Spike> {
    vec![
        spike(-5, 1),
        spike(0, 0),
        spike(0, 3),
        spike(0, 3),
        spike(10, 2),
        spike(1_000_000, 9),
        spike(1_000_000_000_000, 0),
    ]
}

fn write_file(spikes: &[Spike], channel_count: u32, chunk_capacity: u32) -> Vec<u8> {
    let header = SpkHeader::new(channel_count).with_metadata("model", "test");
    let mut writer = SpkWriter::with_chunk_capacity(Vec::new(), &header, chunk_capacity).unwrap();
    writer.push_slice(spikes).unwrap();
    writer.finish().unwrap()
}

fn read_stream(bytes: &[u8]) -> Result<Vec<Spike>, TraceFileError> {
    SpkReader::new(Cursor::new(bytes))?.collect()
}

/// A chunk with a valid checksum, whatever its contents (events must be sorted within it).
fn raw_chunk(spikes: &[Spike]) -> Vec<u8> {
    let mut payload = Vec::new();
    let mut delta = DeltaState::at_chunk_start(spikes[0].tick);
    for &s in spikes {
        delta.encode(s, &mut payload);
    }
    let mut fields = Vec::new();
    fields.extend_from_slice(&(spikes.len() as u32).to_le_bytes());
    fields.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    fields.extend_from_slice(&spikes[0].tick.0.to_le_bytes());
    fields.extend_from_slice(&spikes[spikes.len() - 1].tick.0.to_le_bytes());
    let crc = checksum(&fields, &payload);
    let mut chunk = CHUNK_TAG.to_vec();
    chunk.extend_from_slice(&fields);
    chunk.extend_from_slice(&crc.to_le_bytes());
    chunk.extend_from_slice(&payload);
    chunk
}

/// A complete file (header, chunks, matching index and footer) built from raw chunks, so
/// that damage the writer would refuse can be put inside an otherwise valid file.
fn assemble(channel_count: u32, chunks: &[&[Spike]]) -> Vec<u8> {
    let mut file = encode_header(&SpkHeader::new(channel_count)).unwrap();
    let mut index = Vec::new();
    let mut total = 0;
    for chunk in chunks {
        index.push(ChunkIndexEntry {
            offset: file.len() as u64,
            first_tick: chunk[0].tick,
            last_tick: chunk[chunk.len() - 1].tick,
            event_count: chunk.len() as u32,
        });
        total += chunk.len() as u64;
        file.extend_from_slice(&raw_chunk(chunk));
    }
    let index_offset = file.len() as u64;
    file.extend_from_slice(&encode_index_and_footer(&index, index_offset, total));
    file
}

fn header_len(bytes: &[u8]) -> usize {
    SpkReader::new(Cursor::new(bytes))
        .unwrap()
        .data_start_for_tests() as usize
}

#[test]
fn round_trip_keeps_header_and_exact_ticks() {
    let spikes = sample_spikes();
    for capacity in [1, 2, 3, 4096] {
        let bytes = write_file(&spikes, 10, capacity);
        let reader = SpkReader::new(Cursor::new(&bytes)).unwrap();
        assert_eq!(reader.header().channel_count, 10);
        assert_eq!(reader.header().metadata["model"], "test");
        assert_eq!(reader.read_to_end().unwrap(), spikes);
        assert_eq!(read_stream(&bytes).unwrap(), spikes);
    }
}

#[test]
fn empty_trace_round_trips() {
    let bytes = write_file(&[], 0, 16);
    assert_eq!(read_stream(&bytes).unwrap(), vec![]);
    let mut reader = SpkReader::new(Cursor::new(&bytes)).unwrap();
    assert!(reader.index().unwrap().is_empty());
    assert_eq!(
        reader.read_range(Tick(i64::MIN), Tick::MAX).unwrap(),
        vec![]
    );
}

#[test]
fn extreme_ticks_round_trip() {
    let spikes = vec![
        spike(i64::MIN, 0),
        spike(0, 0),
        spike(i64::MAX, u32::MAX - 1),
    ];
    let bytes = write_file(&spikes, u32::MAX, 2);
    assert_eq!(read_stream(&bytes).unwrap(), spikes);
}

#[test]
fn wrong_magic() {
    let mut bytes = write_file(&sample_spikes(), 10, 4);
    bytes[1] = b'Q';
    let error = read_stream(&bytes).unwrap_err();
    assert!(
        matches!(error, TraceFileError::BadMagic { format: TraceFormat::Spk, offset: 0, ref found } if found[1] == b'Q'),
        "{error}"
    );
    // A text file is not a truncated .spk file.
    assert!(matches!(
        read_stream(b"neuron,time_ms\n").unwrap_err(),
        TraceFileError::BadMagic { .. }
    ));
}

#[test]
fn unsupported_version_and_time_unit() {
    let mut bytes = write_file(&sample_spikes(), 10, 4);
    bytes[8] = 2;
    let error = read_stream(&bytes).unwrap_err();
    assert!(
        matches!(error, TraceFileError::UnsupportedVersion { offset: 8, ref found, .. } if found == "2"),
        "{error}"
    );
    let mut bytes = write_file(&sample_spikes(), 10, 4);
    bytes[10] = 10;
    let error = read_stream(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            TraceFileError::UnsupportedTimeUnit {
                offset: 10,
                ns_per_tick: 10
            }
        ),
        "{error}"
    );
}

#[test]
fn every_truncation_is_reported_as_truncated() {
    let bytes = write_file(&sample_spikes(), 10, 3);
    for len in 0..bytes.len() {
        let prefix = &bytes[..len];
        match read_stream(prefix) {
            Err(TraceFileError::Truncated { offset, .. }) => {
                assert!(offset <= len as u64, "offset {offset} beyond cut {len}")
            }
            other => panic!("prefix of {len} bytes: {other:?}"),
        }
        if let Ok(mut reader) = SpkReader::new(Cursor::new(prefix)) {
            let error = reader.index().unwrap_err();
            assert!(
                matches!(error, TraceFileError::Truncated { .. }),
                "index of a {len}-byte prefix: {error}"
            );
        }
    }
}

#[test]
fn unfinished_writer_keeps_complete_chunks() {
    let header = SpkHeader::new(10);
    let mut writer = SpkWriter::with_chunk_capacity(Vec::new(), &header, 2).unwrap();
    writer.push_slice(&sample_spikes()).unwrap();
    // Dropped without finish(): steal the bytes written so far.
    let bytes = writer.output_for_tests().clone();
    let mut reader = SpkReader::new(Cursor::new(&bytes)).unwrap();
    let mut good = Vec::new();
    let error = loop {
        match reader.next() {
            Some(Ok(s)) => good.push(s),
            Some(Err(e)) => break e,
            None => panic!("an unfinished file must not end cleanly"),
        }
    };
    assert_eq!(good, sample_spikes()[..6]);
    assert!(matches!(error, TraceFileError::Truncated { .. }), "{error}");
    // After its one error, the iterator ends.
    assert!(reader.next().is_none());
}

#[test]
fn huge_length_fields_are_refused_before_allocating() {
    let bytes = write_file(&sample_spikes(), 10, 4);
    let first_chunk = header_len(&bytes);

    let mut metadata_claims_4gib = bytes.clone();
    metadata_claims_4gib[18..22].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        read_stream(&metadata_claims_4gib).unwrap_err(),
        TraceFileError::LengthTooLarge { offset: 18, claimed, .. } if claimed == u64::from(u32::MAX)
    ));

    let mut count_claims_4g = bytes.clone();
    count_claims_4g[first_chunk + 4..first_chunk + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    let error = read_stream(&count_claims_4g).unwrap_err();
    assert!(
        matches!(error, TraceFileError::LengthTooLarge { offset, what: "chunk event count", .. } if offset == first_chunk as u64 + 4),
        "{error}"
    );

    let mut payload_claims_4gib = bytes.clone();
    payload_claims_4gib[first_chunk + 8..first_chunk + 12].copy_from_slice(&u32::MAX.to_le_bytes());
    let error = read_stream(&payload_claims_4gib).unwrap_err();
    assert!(
        matches!(
            error,
            TraceFileError::LengthTooLarge {
                what: "chunk payload length",
                ..
            }
        ),
        "{error}"
    );

    // The index length sits 24 + 12 bytes before the end... found through the footer.
    let footer = bytes.len() - FOOTER_LEN;
    let index_offset = u64::from_le_bytes(bytes[footer..footer + 8].try_into().unwrap()) as usize;
    let mut index_claims_4gib = bytes.clone();
    index_claims_4gib[index_offset + 4..index_offset + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    let error = read_stream(&index_claims_4gib).unwrap_err();
    assert!(
        matches!(
            error,
            TraceFileError::LengthTooLarge {
                what: "chunk index length",
                ..
            }
        ),
        "{error}"
    );
    let mut reader = SpkReader::new(Cursor::new(&index_claims_4gib)).unwrap();
    assert!(matches!(
        reader.index().unwrap_err(),
        TraceFileError::LengthTooLarge {
            what: "chunk index length",
            ..
        }
    ));
}

#[test]
fn bad_checksums() {
    let bytes = write_file(&sample_spikes(), 10, 4);
    let first_chunk = header_len(&bytes);

    let mut header_damaged = bytes.clone();
    header_damaged[14] ^= 0x01; // channel count
    assert!(matches!(
        read_stream(&header_damaged).unwrap_err(),
        TraceFileError::ChecksumMismatch {
            offset: 0,
            section: "header",
            ..
        }
    ));

    let mut payload_damaged = bytes.clone();
    payload_damaged[first_chunk + CHUNK_HEADER_LEN + 1] ^= 0x40;
    let error = read_stream(&payload_damaged).unwrap_err();
    assert!(
        matches!(error, TraceFileError::ChecksumMismatch { offset, section: "chunk", stored, computed } if offset == first_chunk as u64 && stored != computed),
        "{error}"
    );

    let mut first_tick_damaged = bytes.clone();
    first_tick_damaged[first_chunk + 12] ^= 0x01;
    assert!(matches!(
        read_stream(&first_tick_damaged).unwrap_err(),
        TraceFileError::ChecksumMismatch {
            section: "chunk",
            ..
        }
    ));

    let footer = bytes.len() - FOOTER_LEN;
    let mut index_damaged = bytes.clone();
    index_damaged[footer - 1] ^= 0x01;
    assert!(matches!(
        read_stream(&index_damaged).unwrap_err(),
        TraceFileError::ChecksumMismatch {
            section: "chunk index",
            ..
        }
    ));
    let mut reader = SpkReader::new(Cursor::new(&index_damaged)).unwrap();
    assert!(matches!(
        reader.index().unwrap_err(),
        TraceFileError::ChecksumMismatch {
            section: "chunk index",
            ..
        }
    ));
}

#[test]
fn unsorted_chunks() {
    let late = [spike(100, 1), spike(200, 2)];
    let early = [spike(50, 0), spike(150, 0)];
    let bytes = assemble(10, &[&late, &early]);
    let second_chunk = header_len(&bytes) + raw_chunk(&late).len();
    let error = read_stream(&bytes).unwrap_err();
    match error {
        TraceFileError::UnsortedTimes {
            offset,
            previous,
            found,
        } => {
            assert_eq!(offset, second_chunk as u64);
            assert_eq!((previous, found), (late[1], early[0]));
        }
        other => panic!("{other}"),
    }
    // The seeking reader refuses the index, whose chunks are out of time order.
    let mut reader = SpkReader::new(Cursor::new(&bytes)).unwrap();
    assert!(matches!(
        reader.index().unwrap_err(),
        TraceFileError::Malformed { .. }
    ));

    // Same tick, lower channel in the next chunk: only decoding can see it.
    let a = [spike(100, 5)];
    let b = [spike(100, 4)];
    let bytes = assemble(10, &[&a, &b]);
    assert!(matches!(
        read_stream(&bytes).unwrap_err(),
        TraceFileError::UnsortedTimes { .. }
    ));
    let mut reader = SpkReader::new(Cursor::new(&bytes)).unwrap();
    assert!(matches!(
        reader.read_range(Tick(0), Tick(1_000)).unwrap_err(),
        TraceFileError::UnsortedTimes { .. }
    ));
}

#[test]
fn channel_beyond_declared_count() {
    let bytes = assemble(5, &[&[spike(1, 2), spike(2, 9)]]);
    let error = read_stream(&bytes).unwrap_err();
    assert!(
        matches!(
            error,
            TraceFileError::ChannelOutOfRange {
                channel: 9,
                channel_count: 5,
                ..
            }
        ),
        "{error}"
    );
}

#[test]
fn trailing_bytes_and_foreign_blocks() {
    let mut bytes = write_file(&sample_spikes(), 10, 4);
    bytes.push(0);
    assert!(matches!(
        read_stream(&bytes).unwrap_err(),
        TraceFileError::Malformed {
            what: "bytes after the footer",
            ..
        }
    ));

    let mut bytes = write_file(&sample_spikes(), 10, 4);
    let first_chunk = header_len(&bytes);
    bytes[first_chunk..first_chunk + 4].copy_from_slice(b"JUNK");
    assert!(matches!(
        read_stream(&bytes).unwrap_err(),
        TraceFileError::Malformed { offset, .. } if offset == first_chunk as u64
    ));
}

#[test]
fn index_must_describe_the_chunks() {
    // A valid file whose index was replaced by one listing a different chunk layout.
    let spikes = sample_spikes();
    let mut bytes = write_file(&spikes, 10, 4);
    let footer = bytes.len() - FOOTER_LEN;
    let index_offset = u64::from_le_bytes(bytes[footer..footer + 8].try_into().unwrap());
    bytes.truncate(index_offset as usize);
    let wrong = [ChunkIndexEntry {
        offset: header_len(&bytes) as u64,
        first_tick: spikes[0].tick,
        last_tick: spikes[6].tick,
        event_count: 7,
    }];
    bytes.extend_from_slice(&encode_index_and_footer(&wrong, index_offset, 7));
    assert!(matches!(
        read_stream(&bytes).unwrap_err(),
        TraceFileError::Malformed {
            what: "chunk index does not list the chunks in the file",
            ..
        }
    ));
    // The seeking reader sees a plausible index, but the chunk it points at differs.
    let mut reader = SpkReader::new(Cursor::new(&bytes)).unwrap();
    assert!(matches!(
        reader.read_range(Tick(i64::MIN), Tick::MAX).unwrap_err(),
        TraceFileError::Malformed {
            what: "chunk differs from its index entry",
            ..
        }
    ));
}

#[test]
fn writer_refuses_unsorted_and_out_of_range_input_and_carries_on() {
    let header = SpkHeader::new(4);
    let mut writer = SpkWriter::new(Vec::new(), &header).unwrap();
    writer.push(spike(10, 2)).unwrap();
    match writer.push(spike(10, 1)).unwrap_err() {
        TraceFileError::UnsortedInput {
            index,
            previous,
            found,
        } => {
            assert_eq!(index, 1);
            assert_eq!(previous, spike(10, 2));
            assert_eq!(found, spike(10, 1));
        }
        other => panic!("{other}"),
    }
    assert!(matches!(
        writer.push(spike(9, 3)).unwrap_err(),
        TraceFileError::UnsortedInput { index: 1, .. }
    ));
    assert!(matches!(
        writer.push(spike(20, 4)).unwrap_err(),
        TraceFileError::ChannelOutOfRangeInput {
            index: 1,
            channel: 4,
            channel_count: 4
        }
    ));
    writer.push(spike(10, 2)).unwrap();
    writer.push(spike(11, 0)).unwrap();
    assert_eq!(writer.spikes_written(), 3);
    let bytes = writer.finish().unwrap();
    assert_eq!(
        read_stream(&bytes).unwrap(),
        vec![spike(10, 2), spike(10, 2), spike(11, 0)]
    );
}

#[test]
fn oversized_metadata_is_refused() {
    let header = SpkHeader::new(1).with_metadata("blob", "x".repeat(MAX_METADATA_BYTES as usize));
    assert!(matches!(
        SpkWriter::new(Vec::new(), &header).unwrap_err(),
        TraceFileError::MetadataTooLarge { .. }
    ));
}

#[test]
fn range_reads_touch_only_overlapping_chunks() {
    let spikes: Vec<Spike> = (0..100).map(|i| spike(i * 10, (i % 7) as u32)).collect();
    let bytes = write_file(&spikes, 7, 8);
    let mut reader = SpkReader::new(Cursor::new(&bytes)).unwrap();
    assert_eq!(reader.index().unwrap().len(), 13);
    for (t0, t1) in [
        (0, 1000),
        (15, 95),
        (80, 81),
        (80, 80),
        (990, 2000),
        (-50, 5),
        (500, 400),
    ] {
        let expected: Vec<Spike> = spikes
            .iter()
            .copied()
            .filter(|s| s.tick >= Tick(t0) && s.tick < Tick(t1))
            .collect();
        assert_eq!(
            reader.read_range(Tick(t0), Tick(t1)).unwrap(),
            expected,
            "[{t0}, {t1})"
        );
    }
    // Range reads do not disturb streaming.
    assert_eq!(reader.next().unwrap().unwrap(), spikes[0]);
    reader.read_range(Tick(500), Tick(600)).unwrap();
    let rest: Vec<Spike> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(rest, spikes[1..]);
}

#[test]
fn range_read_skips_damaged_chunks_it_does_not_need() {
    let spikes: Vec<Spike> = (0..40).map(|i| spike(i, 0)).collect();
    let mut bytes = write_file(&spikes, 1, 10);
    let first_chunk = header_len(&bytes);
    bytes[first_chunk + CHUNK_HEADER_LEN] ^= 0x7f;
    let mut reader = SpkReader::new(Cursor::new(&bytes)).unwrap();
    assert_eq!(
        reader.read_range(Tick(20), Tick(30)).unwrap(),
        spikes[20..30]
    );
    assert!(matches!(
        reader.read_range(Tick(5), Tick(6)).unwrap_err(),
        TraceFileError::ChecksumMismatch { .. }
    ));
}

#[test]
fn grid_aligned_spikes_cost_about_two_bytes() {
    // 1000 neurons all firing at each of 10 ticks: same-tick events are channel steps of 1.
    let spikes: Vec<Spike> = (0..10)
        .flat_map(|t| (0..1000).map(move |n| spike(t * 100_000, n)))
        .collect();
    let bytes = write_file(&spikes, 1000, DEFAULT_CHUNK_EVENTS);
    let per_spike = bytes.len() as f64 / spikes.len() as f64;
    assert!(per_spike < 2.1, "{per_spike} bytes per spike");
}

#[test]
fn varint_boundaries() {
    for value in [
        0,
        1,
        127,
        128,
        16_383,
        16_384,
        u64::from(u32::MAX),
        u64::MAX,
    ] {
        let mut bytes = Vec::new();
        put_varint(&mut bytes, value);
        let mut pos = 0;
        assert_eq!(get_varint(&bytes, &mut pos), Ok(value));
        assert_eq!(pos, bytes.len());
    }
    // Eleven bytes, or a tenth byte above 1: more than 64 bits.
    let mut pos = 0;
    assert!(get_varint(&[0xff; 10], &mut pos).is_err());
    let mut pos = 0;
    assert!(
        get_varint(
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02],
            &mut pos
        )
        .is_err()
    );
    let mut pos = 0;
    assert!(get_varint(&[0x80], &mut pos).is_err());
}

#[test]
fn resealing_fixes_every_checksum_and_nothing_else() {
    let bytes = write_file(&sample_spikes(), 10, 3);
    assert_eq!(reseal_checksums(&bytes), bytes);
    let first_chunk = header_len(&bytes);
    let footer = bytes.len() - FOOTER_LEN;
    let mut damaged = bytes.clone();
    damaged[14] = 9; // channel count, covered by the header CRC
    damaged[footer - 1] ^= 0x01; // inside the index entries
    for garbage in [&damaged[..], &damaged[..first_chunk + 10], &[0u8; 3][..]] {
        let resealed = reseal_checksums(garbage);
        assert_eq!(resealed.len(), garbage.len());
        if let Err(error) = read_stream(&resealed) {
            assert!(
                !matches!(error, TraceFileError::ChecksumMismatch { .. }),
                "{error}"
            );
        }
    }
    // With the checksums resealed, the decoder sees the new channel count.
    let error = read_stream(&reseal_checksums(&damaged)).unwrap_err();
    assert!(
        matches!(
            error,
            TraceFileError::ChannelOutOfRange {
                channel_count: 9,
                ..
            }
        ),
        "{error}"
    );
}

/// Accepts `room` bytes, then fails every write.
struct FullDisk {
    room: usize,
}

impl std::io::Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.room == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "disk full",
            ));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn writer_stops_after_an_output_error() {
    let header = SpkHeader::new(1);
    let mut writer = SpkWriter::with_chunk_capacity(FullDisk { room: 50 }, &header, 4).unwrap();
    let mut results = (0..20).map(|i| writer.push(spike(i, 0)));
    // The 27-byte header fits; the first chunk (32 + 8 bytes) does not, so its fourth push
    // fails, and so does every later one.
    assert!(results.by_ref().take(3).all(|r| r.is_ok()));
    assert!(results.all(|r| matches!(r, Err(TraceFileError::Io(_)))));
    assert_eq!(writer.spikes_written(), 4);
    assert!(matches!(writer.finish(), Err(TraceFileError::Io(_))));
}
