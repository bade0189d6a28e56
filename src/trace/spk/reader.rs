//! Streaming and seeking `.spk` reader.

use std::io::{self, Read, Seek, SeekFrom};

use super::{
    CHUNK_HEADER_LEN, CHUNK_TAG, ChunkHeader, ChunkIndexEntry, FOOTER_LEN, HEADER_FIXED_LEN,
    INDEX_HEADER_LEN, INDEX_TAG, MAX_CHUNK_EVENTS, MAX_CHUNKS, MAX_INDEX_BYTES, MAX_METADATA_BYTES,
    SPK_FOOTER_MAGIC, SPK_FORMAT_VERSION, SPK_MAGIC, SpkHeader, checksum, decode_chunk_payload,
    malformed, truncated,
};
use crate::trace::{TraceFileError, TraceFormat, codec};
use crate::{Spike, Tick};

/// Reads a `.spk` trace: an iterator over its spikes, in file (= time) order.
///
/// Every chunk is checked before any of its spikes is handed out: checksum, event count,
/// channel range, and order relative to the previous chunk. After the last chunk, the
/// iterator reads the chunk index and footer and checks that they describe the chunks it
/// saw, so a fully consumed iterator that yielded no error has validated the whole file. The
/// iterator yields at most one error, then ends.
///
/// With `R: Seek`, [`index`](Self::index) and [`read_range`](Self::read_range) jump straight to
/// the chunks covering a time range. The `.spk` data must then start at position 0 of `R`.
///
/// Wrap a `File` in a `BufReader`: the reader issues small reads for block headers.
#[derive(Debug)]
pub struct SpkReader<R> {
    input: R,
    /// Byte offset of the next byte the stream will read.
    position: u64,
    header: SpkHeader,
    /// Byte offset of the first chunk (the header's length).
    data_start: u64,
    /// Reused buffer for chunk payloads.
    payload: Vec<u8>,
    /// The current chunk's spikes, handed out from `next_decoded` on.
    decoded: Vec<Spike>,
    next_decoded: usize,
    /// The last spike of the last chunk streamed, to check order across chunks.
    last_spike: Option<Spike>,
    /// The chunks read so far in streaming order, checked against the index at the end.
    chunks_seen: Vec<ChunkIndexEntry>,
    events_seen: u64,
    state: StreamState,
    /// The chunk index, once loaded by a seeking method.
    index: Option<Vec<ChunkIndexEntry>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamState {
    /// More chunks may follow.
    Events,
    /// Index and footer read and verified.
    Finished,
    /// An error was returned; nothing more will be read.
    Failed,
}

impl<R: Read> SpkReader<R> {
    /// Reads and checks the header (magic, version, tick unit, metadata, checksum).
    pub fn new(mut input: R) -> Result<Self, TraceFileError> {
        let mut fixed = [0u8; HEADER_FIXED_LEN as usize];
        let got = read_full(&mut input, &mut fixed[..SPK_MAGIC.len()])?;
        if fixed[..got] != SPK_MAGIC[..got] {
            return Err(TraceFileError::BadMagic {
                format: TraceFormat::Spk,
                offset: 0,
                found: fixed[..got].to_vec(),
            });
        }
        if got < SPK_MAGIC.len() {
            return Err(truncated(0, "file ends inside the magic"));
        }
        read_exact_or(
            &mut input,
            &mut fixed[8..],
            8,
            "file ends inside the header",
        )?;
        let u32_at = |i: usize| u32::from_le_bytes(fixed[i..i + 4].try_into().unwrap());
        let version = u16::from_le_bytes([fixed[8], fixed[9]]);
        if version != SPK_FORMAT_VERSION {
            return Err(TraceFileError::UnsupportedVersion {
                format: TraceFormat::Spk,
                offset: 8,
                found: version.to_string(),
                supported: "1",
            });
        }
        let ns_per_tick = u32_at(10);
        if ns_per_tick != 1 {
            return Err(TraceFileError::UnsupportedTimeUnit {
                offset: 10,
                ns_per_tick,
            });
        }
        let channel_count = u32_at(14);
        let metadata_len = u32_at(18);
        if metadata_len > MAX_METADATA_BYTES {
            return Err(TraceFileError::LengthTooLarge {
                format: TraceFormat::Spk,
                offset: 18,
                what: "metadata length",
                claimed: metadata_len.into(),
                max: MAX_METADATA_BYTES.into(),
            });
        }
        let mut metadata = Vec::new();
        read_exact_vec(
            &mut input,
            &mut metadata,
            metadata_len,
            HEADER_FIXED_LEN,
            "file ends inside the header metadata",
        )?;
        let crc_offset = HEADER_FIXED_LEN + u64::from(metadata_len);
        let mut stored = [0u8; 4];
        read_exact_or(
            &mut input,
            &mut stored,
            crc_offset,
            "file ends inside the header checksum",
        )?;
        let stored = u32::from_le_bytes(stored);
        let computed = checksum(&fixed[8..], &metadata);
        if stored != computed {
            return Err(TraceFileError::ChecksumMismatch {
                offset: 0,
                section: "header",
                stored,
                computed,
            });
        }
        let metadata = codec::decode_exact(&metadata).map_err(|_| {
            malformed(
                HEADER_FIXED_LEN,
                "header metadata is not an encoded map of strings",
            )
        })?;
        let data_start = crc_offset + 4;
        Ok(SpkReader {
            input,
            position: data_start,
            header: SpkHeader {
                channel_count,
                metadata,
            },
            data_start,
            payload: Vec::new(),
            decoded: Vec::new(),
            next_decoded: 0,
            last_spike: None,
            chunks_seen: Vec::new(),
            events_seen: 0,
            state: StreamState::Events,
            index: None,
        })
    }

    /// The file's header.
    pub fn header(&self) -> &SpkHeader {
        &self.header
    }

    /// The spikes not yet handed out, a chunk at a time: faster than the per-spike iterator.
    /// `Ok(None)` once the file has been read and verified to its end.
    pub fn next_chunk(&mut self) -> Result<Option<&[Spike]>, TraceFileError> {
        if self.next_decoded >= self.decoded.len() && !self.advance()? {
            return Ok(None);
        }
        let start = self.next_decoded;
        self.next_decoded = self.decoded.len();
        Ok(Some(&self.decoded[start..]))
    }

    #[cfg(test)]
    pub(crate) fn data_start_for_tests(&self) -> u64 {
        self.data_start
    }

    /// Reads every remaining spike, verifying the whole file.
    pub fn read_to_end(mut self) -> Result<Vec<Spike>, TraceFileError> {
        let mut spikes = self.decoded.split_off(self.next_decoded);
        // Chunks decode straight into the result: no per-chunk copy.
        while self.advance_into(&mut spikes)? {}
        Ok(spikes)
    }

    /// Replaces `decoded` with the next chunk. `Ok(false)` at the verified end of the file.
    fn advance(&mut self) -> Result<bool, TraceFileError> {
        let mut decoded = std::mem::take(&mut self.decoded);
        decoded.clear();
        let result = self.advance_into(&mut decoded);
        if result.is_err() {
            decoded.clear();
        }
        self.decoded = decoded;
        self.next_decoded = 0;
        result
    }

    /// Appends the next chunk's spikes to `out`. `Ok(false)` at the verified end of the file.
    fn advance_into(&mut self, out: &mut Vec<Spike>) -> Result<bool, TraceFileError> {
        if self.state != StreamState::Events {
            return Ok(false);
        }
        match self.read_next_block(out) {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.state = StreamState::Finished;
                Ok(false)
            }
            Err(error) => {
                self.state = StreamState::Failed;
                Err(error)
            }
        }
    }

    /// Reads the block at the stream position: a chunk, whose spikes are appended to `out`
    /// (`Ok(true)`), or the index and footer (`Ok(false)`).
    fn read_next_block(&mut self, out: &mut Vec<Spike>) -> Result<bool, TraceFileError> {
        let block_offset = self.position;
        let mut tag = [0u8; 4];
        match read_full(&mut self.input, &mut tag)? {
            0 => {
                return Err(truncated(
                    block_offset,
                    "file ends without a chunk index (cut short, or its writer never finished)",
                ));
            }
            4 => {}
            _ => return Err(truncated(block_offset, "file ends inside a block tag")),
        }
        self.position += 4;
        match tag {
            CHUNK_TAG => {
                if self.chunks_seen.len() as u64 >= MAX_CHUNKS {
                    return Err(TraceFileError::LengthTooLarge {
                        format: TraceFormat::Spk,
                        offset: block_offset,
                        what: "number of chunks",
                        claimed: self.chunks_seen.len() as u64 + 1,
                        max: MAX_CHUNKS,
                    });
                }
                let start = out.len();
                let header = read_chunk_after_tag(
                    &mut self.input,
                    block_offset,
                    self.header.channel_count,
                    &mut self.payload,
                    out,
                )?;
                self.position += (CHUNK_HEADER_LEN - 4) as u64 + u64::from(header.payload_len);
                check_order(self.last_spike, &out[start..], block_offset)?;
                self.last_spike = out.last().copied();
                self.chunks_seen.push(ChunkIndexEntry {
                    offset: block_offset,
                    first_tick: header.first_tick,
                    last_tick: header.last_tick,
                    event_count: header.event_count,
                });
                self.events_seen += u64::from(header.event_count);
                Ok(true)
            }
            INDEX_TAG => {
                self.verify_index_and_footer(block_offset)?;
                Ok(false)
            }
            _ => Err(malformed(
                block_offset,
                "expected a chunk (CHNK) or the chunk index (INDX)",
            )),
        }
    }

    /// After the last chunk: checks that the index lists exactly the chunks read, that the
    /// footer points at the index and counts the events read, and that nothing follows.
    fn verify_index_and_footer(&mut self, index_offset: u64) -> Result<(), TraceFileError> {
        let entries = read_index_after_tag(&mut self.input, index_offset, &mut self.payload, None)?;
        self.position += (INDEX_HEADER_LEN - 4) as u64 + self.payload.len() as u64;
        if entries != self.chunks_seen {
            return Err(malformed(
                index_offset,
                "chunk index does not list the chunks in the file",
            ));
        }
        let footer_offset = self.position;
        let mut footer = [0u8; FOOTER_LEN];
        read_exact_or(
            &mut self.input,
            &mut footer,
            footer_offset,
            "file ends inside the footer",
        )?;
        self.position += FOOTER_LEN as u64;
        let footer = Footer::parse(&footer, footer_offset)?;
        if footer.index_offset != index_offset {
            return Err(malformed(
                footer_offset,
                "footer does not point at the chunk index",
            ));
        }
        if footer.total_events != self.events_seen {
            return Err(malformed(
                footer_offset + 8,
                "footer's event count differs from the events in the file",
            ));
        }
        let mut extra = [0u8; 1];
        if read_full(&mut self.input, &mut extra)? != 0 {
            return Err(malformed(self.position, "bytes after the footer"));
        }
        Ok(())
    }
}

impl<R: Read + Seek> SpkReader<R> {
    /// The chunk index, read from the end of the file on first use and checked (checksum,
    /// offsets increasing and inside the file, chunks in time order, event total matching the
    /// footer). Leaves the streaming position where it was.
    pub fn index(&mut self) -> Result<&[ChunkIndexEntry], TraceFileError> {
        if self.index.is_none() {
            let resume = self.position;
            let loaded = self.load_index();
            self.input.seek(SeekFrom::Start(resume))?;
            self.index = Some(loaded?);
        }
        Ok(self.index.as_deref().unwrap_or_default())
    }

    /// Spikes with `t0 <= tick < t1`, in order, reading only the chunks whose time span meets
    /// that interval. Each chunk read is checked as in streaming, and against its index entry.
    /// Leaves the streaming position where it was.
    pub fn read_range(&mut self, t0: Tick, t1: Tick) -> Result<Vec<Spike>, TraceFileError> {
        if t0 >= t1 {
            return Ok(Vec::new());
        }
        self.index()?;
        let resume = self.position;
        let result = self.read_range_from_index(t0, t1);
        self.input.seek(SeekFrom::Start(resume))?;
        result
    }

    fn read_range_from_index(&mut self, t0: Tick, t1: Tick) -> Result<Vec<Spike>, TraceFileError> {
        let index = self.index.as_deref().unwrap_or_default();
        let first = index.partition_point(|entry| entry.last_tick < t0);
        let mut spikes = Vec::new();
        let mut chunk = Vec::new();
        let mut previous = None;
        for entry in index[first..]
            .iter()
            .take_while(|entry| entry.first_tick < t1)
        {
            self.input.seek(SeekFrom::Start(entry.offset))?;
            let mut tag = [0u8; 4];
            read_exact_or(
                &mut self.input,
                &mut tag,
                entry.offset,
                "file ends inside a chunk tag",
            )?;
            if tag != CHUNK_TAG {
                return Err(malformed(
                    entry.offset,
                    "chunk index entry does not point at a chunk",
                ));
            }
            chunk.clear();
            let header = read_chunk_after_tag(
                &mut self.input,
                entry.offset,
                self.header.channel_count,
                &mut self.payload,
                &mut chunk,
            )?;
            if header.event_count != entry.event_count
                || header.first_tick != entry.first_tick
                || header.last_tick != entry.last_tick
            {
                return Err(malformed(
                    entry.offset,
                    "chunk differs from its index entry",
                ));
            }
            check_order(previous, &chunk, entry.offset)?;
            previous = chunk.last().copied();
            spikes.extend(
                chunk
                    .iter()
                    .filter(|spike| spike.tick >= t0 && spike.tick < t1),
            );
        }
        Ok(spikes)
    }

    fn load_index(&mut self) -> Result<Vec<ChunkIndexEntry>, TraceFileError> {
        let file_len = self.input.seek(SeekFrom::End(0))?;
        let smallest = self.data_start + (INDEX_HEADER_LEN + FOOTER_LEN) as u64;
        if file_len < smallest {
            return Err(truncated(
                file_len,
                "file too short to hold a chunk index and footer (cut short, or its writer never finished)",
            ));
        }
        let footer_offset = file_len - FOOTER_LEN as u64;
        self.input.seek(SeekFrom::Start(footer_offset))?;
        let mut footer = [0u8; FOOTER_LEN];
        read_exact_or(
            &mut self.input,
            &mut footer,
            footer_offset,
            "file ends inside the footer",
        )?;
        if footer[16..] != SPK_FOOTER_MAGIC {
            return Err(truncated(
                footer_offset,
                "no footer at the end of the file (cut short, or its writer never finished)",
            ));
        }
        let footer = Footer::parse(&footer, footer_offset)?;
        let index_end = footer_offset - INDEX_HEADER_LEN as u64;
        if footer.index_offset < self.data_start || footer.index_offset > index_end {
            return Err(malformed(
                footer_offset,
                "footer points outside the file's chunk area",
            ));
        }
        self.input.seek(SeekFrom::Start(footer.index_offset))?;
        let mut tag = [0u8; 4];
        read_exact_or(
            &mut self.input,
            &mut tag,
            footer.index_offset,
            "file ends inside the index tag",
        )?;
        if tag != INDEX_TAG {
            return Err(malformed(
                footer.index_offset,
                "footer does not point at the chunk index",
            ));
        }
        let expected_payload = index_end - footer.index_offset;
        let entries = read_index_after_tag(
            &mut self.input,
            footer.index_offset,
            &mut self.payload,
            Some(expected_payload),
        )?;
        self.check_index(&entries, &footer)?;
        Ok(entries)
    }

    /// Checks an index read from the end of the file for internal consistency, without
    /// reading the chunks it lists.
    fn check_index(
        &self,
        entries: &[ChunkIndexEntry],
        footer: &Footer,
    ) -> Result<(), TraceFileError> {
        let at = footer.index_offset + INDEX_HEADER_LEN as u64;
        if entries.len() as u64 > MAX_CHUNKS {
            return Err(TraceFileError::LengthTooLarge {
                format: TraceFormat::Spk,
                offset: at,
                what: "number of chunks",
                claimed: entries.len() as u64,
                max: MAX_CHUNKS,
            });
        }
        let expected_first = entries.first().map_or(footer.index_offset, |e| e.offset);
        if expected_first != self.data_start {
            return Err(malformed(
                at,
                "chunk index does not start at the first chunk",
            ));
        }
        let mut total = 0u64;
        for (i, entry) in entries.iter().enumerate() {
            if entry.event_count == 0 || entry.event_count > MAX_CHUNK_EVENTS {
                return Err(malformed(
                    at,
                    "chunk index entry has an impossible event count",
                ));
            }
            if entry.first_tick > entry.last_tick {
                return Err(malformed(at, "chunk index entry ends before it starts"));
            }
            let next_offset = entries.get(i + 1).map_or(footer.index_offset, |e| e.offset);
            let smallest_chunk = CHUNK_HEADER_LEN as u64 + 2 * u64::from(entry.event_count);
            if entry
                .offset
                .checked_add(smallest_chunk)
                .is_none_or(|end| end > next_offset)
            {
                return Err(malformed(
                    at,
                    "chunk index offsets overlap or leave the chunk area",
                ));
            }
            if let Some(next) = entries.get(i + 1)
                && next.first_tick < entry.last_tick
            {
                return Err(malformed(at, "chunk index lists chunks out of time order"));
            }
            total += u64::from(entry.event_count);
        }
        if total != footer.total_events {
            return Err(malformed(
                footer.index_offset,
                "chunk index event total differs from the footer's",
            ));
        }
        Ok(())
    }
}

impl<R: Read> Iterator for SpkReader<R> {
    type Item = Result<Spike, TraceFileError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if let Some(&spike) = self.decoded.get(self.next_decoded) {
            self.next_decoded += 1;
            return Some(Ok(spike));
        }
        match self.advance() {
            Ok(true) => {
                // A chunk holds at least one event (checked when parsing its header).
                self.next_decoded = 1;
                self.decoded.first().copied().map(Ok)
            }
            Ok(false) => None,
            Err(error) => Some(Err(error)),
        }
    }
}

/// The fixed-size footer at the end of a finished file.
#[derive(Debug, Clone, Copy)]
struct Footer {
    index_offset: u64,
    total_events: u64,
}

impl Footer {
    fn parse(bytes: &[u8; FOOTER_LEN], offset: u64) -> Result<Footer, TraceFileError> {
        if bytes[16..] != SPK_FOOTER_MAGIC {
            return Err(TraceFileError::BadMagic {
                format: TraceFormat::Spk,
                offset: offset + 16,
                found: bytes[16..].to_vec(),
            });
        }
        Ok(Footer {
            index_offset: u64::from_le_bytes(bytes[0..8].try_into().unwrap()),
            total_events: u64::from_le_bytes(bytes[8..16].try_into().unwrap()),
        })
    }
}

/// Reads one chunk whose `CHNK` tag (at `chunk_offset`) was just consumed, verifies it, and
/// appends its spikes to `out`.
fn read_chunk_after_tag<R: Read>(
    input: &mut R,
    chunk_offset: u64,
    channel_count: u32,
    payload: &mut Vec<u8>,
    out: &mut Vec<Spike>,
) -> Result<ChunkHeader, TraceFileError> {
    let mut fields = [0u8; CHUNK_HEADER_LEN - 4];
    read_exact_or(
        input,
        &mut fields,
        chunk_offset + 4,
        "file ends inside a chunk header",
    )?;
    let header = ChunkHeader::parse(&fields, chunk_offset)?;
    let payload_offset = chunk_offset + CHUNK_HEADER_LEN as u64;
    read_exact_vec(
        input,
        payload,
        header.payload_len,
        payload_offset,
        "file ends inside a chunk",
    )?;
    let computed = checksum(&fields[..24], payload);
    if computed != header.crc {
        return Err(TraceFileError::ChecksumMismatch {
            offset: chunk_offset,
            section: "chunk",
            stored: header.crc,
            computed,
        });
    }
    decode_chunk_payload(payload, &header, channel_count, payload_offset, out)?;
    Ok(header)
}

/// Reads the chunk index whose `INDX` tag (at `index_offset`) was just consumed, into
/// `payload`, and decodes it. With `expected_len`, the stored length must equal it.
fn read_index_after_tag<R: Read>(
    input: &mut R,
    index_offset: u64,
    payload: &mut Vec<u8>,
    expected_len: Option<u64>,
) -> Result<Vec<ChunkIndexEntry>, TraceFileError> {
    let mut fields = [0u8; INDEX_HEADER_LEN - 4];
    read_exact_or(
        input,
        &mut fields,
        index_offset + 4,
        "file ends inside the chunk index header",
    )?;
    let payload_len = u32::from_le_bytes(fields[0..4].try_into().unwrap());
    let stored = u32::from_le_bytes(fields[4..8].try_into().unwrap());
    if payload_len > MAX_INDEX_BYTES {
        return Err(TraceFileError::LengthTooLarge {
            format: TraceFormat::Spk,
            offset: index_offset + 4,
            what: "chunk index length",
            claimed: payload_len.into(),
            max: MAX_INDEX_BYTES.into(),
        });
    }
    if expected_len.is_some_and(|len| len != u64::from(payload_len)) {
        return Err(malformed(
            index_offset + 4,
            "chunk index length disagrees with the footer position",
        ));
    }
    let payload_offset = index_offset + INDEX_HEADER_LEN as u64;
    read_exact_vec(
        input,
        payload,
        payload_len,
        payload_offset,
        "file ends inside the chunk index",
    )?;
    let computed = checksum(&fields[0..4], payload);
    if computed != stored {
        return Err(TraceFileError::ChecksumMismatch {
            offset: index_offset,
            section: "chunk index",
            stored,
            computed,
        });
    }
    codec::decode_exact(payload).map_err(|_| {
        malformed(
            payload_offset,
            "chunk index is not an encoded list of entries",
        )
    })
}

/// Checks that a chunk's first spike does not sort before the previous chunk's last one.
/// (Within a chunk, order is guaranteed by the event coding.)
fn check_order(
    previous: Option<Spike>,
    chunk: &[Spike],
    chunk_offset: u64,
) -> Result<(), TraceFileError> {
    if let (Some(previous), Some(&first)) = (previous, chunk.first())
        && first < previous
    {
        return Err(TraceFileError::UnsortedTimes {
            offset: chunk_offset,
            previous,
            found: first,
        });
    }
    Ok(())
}

/// Reads until `buf` is full or the input ends; returns the number of bytes read.
pub(crate) fn read_full<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// Fills `buf`, or fails with [`TraceFileError::Truncated`] at `offset`.
fn read_exact_or<R: Read>(
    input: &mut R,
    buf: &mut [u8],
    offset: u64,
    what: &'static str,
) -> Result<(), TraceFileError> {
    if read_full(input, buf)? < buf.len() {
        return Err(truncated(offset, what));
    }
    Ok(())
}

/// Replaces `buf`'s contents with exactly `len` bytes of input. The buffer grows only as data
/// actually arrives, so a length field claiming more than the file holds costs no more memory
/// than the file itself (callers cap `len` as well).
fn read_exact_vec<R: Read>(
    input: &mut R,
    buf: &mut Vec<u8>,
    len: u32,
    offset: u64,
    what: &'static str,
) -> Result<(), TraceFileError> {
    buf.clear();
    Read::take(&mut *input, u64::from(len)).read_to_end(buf)?;
    if buf.len() < len as usize {
        return Err(truncated(offset, what));
    }
    Ok(())
}
