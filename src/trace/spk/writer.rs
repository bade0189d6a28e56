//! Streaming `.spk` writer.

use std::io::Write;

use super::{
    CHUNK_HEADER_LEN, CHUNK_TAG, ChunkIndexEntry, DEFAULT_CHUNK_EVENTS, DeltaState, INDEX_TAG,
    MAX_CHUNK_EVENTS, MAX_CHUNKS, MAX_METADATA_BYTES, SPK_FOOTER_MAGIC, SPK_FORMAT_VERSION,
    SPK_MAGIC, SpkHeader, checksum,
};
use crate::trace::{TraceFileError, codec};
use crate::{Spike, Tick};

/// Writes a `.spk` trace one spike (or slice of spikes) at a time.
///
/// Memory is bounded: one chunk of encoded events (at most [`MAX_CHUNK_EVENTS`], about
/// 4 bytes each) plus one 32-byte index entry per finished chunk. Spikes must arrive in
/// (tick, neuron) order — the order of [`Spike`]'s `Ord` — and with neuron ids below the
/// header's channel count; anything else is refused before it is written.
///
/// After an error from the output itself, every later call fails too: the file is
/// incomplete and should be discarded.
///
/// Call [`finish`](Self::finish) at the end: it writes the chunk index and footer. A file whose
/// writer was dropped without `finish` still holds every complete chunk, and readers report it
/// as truncated after the last one.
///
/// The writer issues one `write_all` per chunk; wrap a `File` in a `BufWriter` anyway so the
/// header and index are not written in small pieces.
///
/// ```
/// use spikeq::{Spike, Tick};
/// use spikeq::trace::{SpkHeader, SpkReader, SpkWriter};
///
/// let header = SpkHeader::new(10).with_metadata("model", "parrot_chain");
/// let mut writer = SpkWriter::new(Vec::new(), &header)?;
/// writer.push(Spike { tick: Tick(1_000), neuron: 3 })?;
/// writer.push_slice(&[Spike { tick: Tick(2_500), neuron: 1 }])?;
/// let bytes = writer.finish()?;
///
/// let reader = SpkReader::new(std::io::Cursor::new(bytes))?;
/// assert_eq!(reader.header().metadata["model"], "parrot_chain");
/// let spikes: Vec<Spike> = reader.collect::<Result<_, _>>()?;
/// assert_eq!(spikes.len(), 2);
/// # Ok::<(), spikeq::trace::TraceFileError>(())
/// ```
#[derive(Debug)]
pub struct SpkWriter<W: Write> {
    output: W,
    /// Bytes written to `output` so far: the offset of the next chunk.
    bytes_written: u64,
    channel_count: u32,
    chunk_capacity: u32,
    /// The chunk being filled: `CHUNK_HEADER_LEN` placeholder bytes, then the payload, so the
    /// whole chunk goes out in one `write_all`.
    chunk: Vec<u8>,
    chunk_events: u32,
    chunk_first_tick: Tick,
    delta: DeltaState,
    previous: Option<Spike>,
    spikes_accepted: u64,
    index: Vec<ChunkIndexEntry>,
    /// Set when writing to `output` failed: the file is then incomplete, and accepting more
    /// spikes would only grow the pending chunk without bound.
    output_failed: bool,
}

impl<W: Write> SpkWriter<W> {
    /// Writes the header and returns a writer using [`DEFAULT_CHUNK_EVENTS`] events per chunk.
    pub fn new(output: W, header: &SpkHeader) -> Result<Self, TraceFileError> {
        Self::with_chunk_capacity(output, header, DEFAULT_CHUNK_EVENTS)
    }

    /// Like [`new`](Self::new), with `chunk_capacity` events per chunk (clamped to
    /// `1..=MAX_CHUNK_EVENTS`). Smaller chunks make range reads finer and the index larger.
    pub fn with_chunk_capacity(
        mut output: W,
        header: &SpkHeader,
        chunk_capacity: u32,
    ) -> Result<Self, TraceFileError> {
        let bytes = encode_header(header)?;
        output.write_all(&bytes)?;

        let chunk_capacity = chunk_capacity.clamp(1, MAX_CHUNK_EVENTS);
        let mut chunk = Vec::with_capacity(CHUNK_HEADER_LEN + chunk_capacity as usize * 5);
        chunk.resize(CHUNK_HEADER_LEN, 0);
        Ok(SpkWriter {
            output,
            bytes_written: bytes.len() as u64,
            channel_count: header.channel_count,
            chunk_capacity,
            chunk,
            chunk_events: 0,
            chunk_first_tick: Tick::ZERO,
            delta: DeltaState::at_chunk_start(Tick::ZERO),
            previous: None,
            spikes_accepted: 0,
            index: Vec::new(),
            output_failed: false,
        })
    }

    /// Appends one spike. Refuses (without writing anything) a spike that sorts before the
    /// previous one or whose neuron id is not below the channel count.
    #[inline]
    pub fn push(&mut self, spike: Spike) -> Result<(), TraceFileError> {
        self.check_output()?;
        if spike.neuron >= self.channel_count {
            return Err(TraceFileError::ChannelOutOfRangeInput {
                index: self.spikes_accepted,
                channel: spike.neuron,
                channel_count: self.channel_count,
            });
        }
        if let Some(previous) = self.previous
            && spike < previous
        {
            return Err(TraceFileError::UnsortedInput {
                index: self.spikes_accepted,
                previous,
                found: spike,
            });
        }
        if self.chunk_events == 0 {
            if self.index.len() as u64 >= MAX_CHUNKS {
                return Err(TraceFileError::TooManyChunks {
                    chunks: self.index.len() as u64,
                    max: MAX_CHUNKS,
                });
            }
            self.chunk_first_tick = spike.tick;
            self.delta = DeltaState::at_chunk_start(spike.tick);
        }
        self.delta.encode(spike, &mut self.chunk);
        self.chunk_events += 1;
        self.previous = Some(spike);
        self.spikes_accepted += 1;
        if self.chunk_events >= self.chunk_capacity {
            self.flush_chunk()?;
        }
        Ok(())
    }

    /// Appends spikes in order; stops at the first refused spike (the ones before it are kept).
    pub fn push_slice(&mut self, spikes: &[Spike]) -> Result<(), TraceFileError> {
        spikes.iter().try_for_each(|&spike| self.push(spike))
    }

    #[cfg(test)]
    pub(crate) fn output_for_tests(&self) -> &W {
        &self.output
    }

    /// Number of spikes accepted so far.
    pub fn spikes_written(&self) -> u64 {
        self.spikes_accepted
    }

    /// Writes the pending chunk, the chunk index and the footer, flushes, and returns the
    /// output.
    pub fn finish(mut self) -> Result<W, TraceFileError> {
        self.check_output()?;
        self.flush_chunk()?;
        let block = encode_index_and_footer(&self.index, self.bytes_written, self.spikes_accepted);
        self.output.write_all(&block)?;
        self.output.flush()?;
        Ok(self.output)
    }

    /// Refuses to go on after a failed write.
    fn check_output(&self) -> Result<(), TraceFileError> {
        if self.output_failed {
            return Err(TraceFileError::Io(std::io::Error::other(
                "an earlier write to this .spk output failed; the file is incomplete",
            )));
        }
        Ok(())
    }

    /// Fills in the pending chunk's header and writes it out.
    fn flush_chunk(&mut self) -> Result<(), TraceFileError> {
        if self.chunk_events == 0 {
            return Ok(());
        }
        let last_tick = self.previous.map_or(self.chunk_first_tick, |s| s.tick);
        let payload_len = (self.chunk.len() - CHUNK_HEADER_LEN) as u32;
        let (header, payload) = self.chunk.split_at_mut(CHUNK_HEADER_LEN);
        header[0..4].copy_from_slice(&CHUNK_TAG);
        header[4..8].copy_from_slice(&self.chunk_events.to_le_bytes());
        header[8..12].copy_from_slice(&payload_len.to_le_bytes());
        header[12..20].copy_from_slice(&self.chunk_first_tick.0.to_le_bytes());
        header[20..28].copy_from_slice(&last_tick.0.to_le_bytes());
        let crc = checksum(&header[4..28], payload);
        header[28..32].copy_from_slice(&crc.to_le_bytes());
        // Cleared only once the chunk is out, so a failed write poisons the writer.
        self.output_failed = true;
        self.output.write_all(&self.chunk)?;
        self.output_failed = false;

        self.index.push(ChunkIndexEntry {
            offset: self.bytes_written,
            first_tick: self.chunk_first_tick,
            last_tick,
            event_count: self.chunk_events,
        });
        self.bytes_written += self.chunk.len() as u64;
        self.chunk.truncate(CHUNK_HEADER_LEN);
        self.chunk_events = 0;
        Ok(())
    }
}

/// The header bytes: magic, version, tick unit, channel count, metadata and checksum.
pub(crate) fn encode_header(header: &SpkHeader) -> Result<Vec<u8>, TraceFileError> {
    let metadata = codec::encode(&header.metadata);
    if metadata.len() > MAX_METADATA_BYTES as usize {
        return Err(TraceFileError::MetadataTooLarge {
            bytes: metadata.len() as u64,
            max: MAX_METADATA_BYTES.into(),
        });
    }
    let mut bytes = Vec::with_capacity(super::HEADER_FIXED_LEN as usize + metadata.len() + 4);
    bytes.extend_from_slice(&SPK_MAGIC);
    bytes.extend_from_slice(&SPK_FORMAT_VERSION.to_le_bytes());
    // Nanoseconds per tick: fixed at 1, stored so that a later version can change it.
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&header.channel_count.to_le_bytes());
    bytes.extend_from_slice(&(metadata.len() as u32).to_le_bytes());
    let crc = checksum(&bytes[SPK_MAGIC.len()..], &metadata);
    bytes.extend_from_slice(&metadata);
    bytes.extend_from_slice(&crc.to_le_bytes());
    Ok(bytes)
}

/// The index block (tag, length, checksum, encoded entries) followed by the footer.
pub(crate) fn encode_index_and_footer(
    index: &[ChunkIndexEntry],
    index_offset: u64,
    total_events: u64,
) -> Vec<u8> {
    let payload = codec::encode(&index);
    // MAX_CHUNKS entries of at most 32 bytes cannot exceed MAX_INDEX_BYTES.
    debug_assert!(payload.len() <= super::MAX_INDEX_BYTES as usize);
    let mut block = Vec::with_capacity(super::INDEX_HEADER_LEN + payload.len() + super::FOOTER_LEN);
    block.extend_from_slice(&INDEX_TAG);
    block.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let crc = checksum(&block[4..8], &payload);
    block.extend_from_slice(&crc.to_le_bytes());
    block.extend_from_slice(&payload);
    block.extend_from_slice(&index_offset.to_le_bytes());
    block.extend_from_slice(&total_events.to_le_bytes());
    block.extend_from_slice(&SPK_FOOTER_MAGIC);
    block
}
