//! The `.spk` binary trace format: constants of its layout, the header, and the event coding
//! shared by [`SpkWriter`] and [`SpkReader`]. The byte layout is specified in
//! `docs/trace-format.md`; keep the two in step.
//!
//! In short: a header (magic, version, tick unit, channel count, metadata), then chunks of
//! delta/varint-coded events, each length-prefixed and CRC-32 checked, then a chunk index and a
//! fixed-size footer pointing at it.

mod reader;
mod writer;

pub use reader::SpkReader;
pub use writer::SpkWriter;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{TraceFileError, TraceFormat};
use crate::{Spike, Tick};

/// First eight bytes of every `.spk` file. As in PNG, the non-ASCII first byte and the CR LF /
/// SUB / LF bytes detect files mangled by text-mode transfers, and no text file starts this way.
pub const SPK_MAGIC: [u8; 8] = *b"\x89SPK\r\n\x1a\n";
/// Last eight bytes of a finished `.spk` file. Its absence means the writer never finished.
pub const SPK_FOOTER_MAGIC: [u8; 8] = *b"SPKINDEX";
/// The format version this crate writes, and the only one it reads.
pub const SPK_FORMAT_VERSION: u16 = 1;
/// Events per chunk that [`SpkWriter::new`] uses: small enough for fine-grained seeking and a
/// small write buffer, large enough that per-chunk overhead (32 header bytes, one index entry)
/// is below 0.01 byte per event.
pub const DEFAULT_CHUNK_EVENTS: u32 = 4096;
/// Largest number of events a chunk may hold. Bounds the memory a reader needs per chunk.
pub const MAX_CHUNK_EVENTS: u32 = 1 << 16;
/// Largest encoded metadata, in bytes.
pub const MAX_METADATA_BYTES: u32 = 64 << 10;
/// Largest number of chunks in one file (so the index stays below [`MAX_INDEX_BYTES`]).
pub const MAX_CHUNKS: u64 = 1 << 21;

/// Header bytes that precede the metadata: magic, version, ns per tick, channel count,
/// metadata length.
pub(crate) const HEADER_FIXED_LEN: u64 = 8 + 2 + 4 + 4 + 4;
/// Chunk header: tag, event count, payload length, first tick, last tick, CRC.
pub(crate) const CHUNK_HEADER_LEN: usize = 4 + 4 + 4 + 8 + 8 + 4;
/// Index block header: tag, payload length, CRC.
pub(crate) const INDEX_HEADER_LEN: usize = 4 + 4 + 4;
/// Footer: index offset, total events, footer magic.
pub(crate) const FOOTER_LEN: usize = 8 + 8 + 8;
pub(crate) const CHUNK_TAG: [u8; 4] = *b"CHNK";
pub(crate) const INDEX_TAG: [u8; 4] = *b"INDX";
/// An event is two varints: a tick delta (at most 10 bytes) and a channel code (at most 5).
pub(crate) const MAX_EVENT_BYTES: u32 = 15;
/// An event takes at least two bytes (one per varint).
pub(crate) const MIN_EVENT_BYTES: u32 = 2;
/// Largest chunk payload, in bytes: the most a reader allocates for one chunk.
pub const MAX_CHUNK_PAYLOAD: u32 = MAX_CHUNK_EVENTS * MAX_EVENT_BYTES;
/// Largest encoded chunk index: a length prefix (at most 9 bytes) and [`MAX_CHUNKS`] entries
/// of at most 32 bytes each (three 9-byte varints and one 5-byte varint).
pub const MAX_INDEX_BYTES: u32 = 16 + (MAX_CHUNKS as u32) * 32;

/// What a `.spk` file says about itself, besides its events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpkHeader {
    /// Number of channels (neurons) the recording covers; every event's channel is below it.
    pub channel_count: u32,
    /// Free-form key/value strings, e.g. `model`, `seed`, `crate_version`. At most
    /// [`MAX_METADATA_BYTES`] once encoded.
    pub metadata: BTreeMap<String, String>,
}

impl SpkHeader {
    /// A header for `channel_count` channels with no metadata.
    pub fn new(channel_count: u32) -> Self {
        SpkHeader {
            channel_count,
            metadata: BTreeMap::new(),
        }
    }

    /// Adds (or replaces) one metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

/// One entry of the chunk index at the end of a `.spk` file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkIndexEntry {
    /// Byte offset of the chunk (its `CHNK` tag) from the start of the file.
    pub offset: u64,
    /// Tick of the chunk's first event.
    pub first_tick: Tick,
    /// Tick of the chunk's last event.
    pub last_tick: Tick,
    /// Number of events in the chunk.
    pub event_count: u32,
}

/// Appends `value` as an LEB128 varint (7 bits per byte, low bits first).
#[inline]
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads an LEB128 varint at `*pos`, advancing it. Fails if the bytes run out or the value
/// does not fit in 64 bits.
#[inline(always)]
fn get_varint(bytes: &[u8], pos: &mut usize) -> Result<u64, &'static str> {
    const ENDS: &str = "chunk payload ends inside an event";
    let first = *bytes.get(*pos).ok_or(ENDS)?;
    *pos += 1;
    if first < 0x80 {
        return Ok(u64::from(first));
    }
    let mut value = u64::from(first & 0x7f);
    let mut shift = 7;
    loop {
        let byte = *bytes.get(*pos).ok_or(ENDS)?;
        *pos += 1;
        // The tenth byte holds only bit 63.
        if shift == 63 && byte > 1 {
            return Err("varint longer than 64 bits");
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(value);
        }
        shift += 7;
    }
}

/// Delta coder for the events of one chunk. Writer and reader share the rule:
/// each event is `varint(tick - previous tick)` then, if that delta is 0,
/// `varint(channel - previous channel)`, else `varint(channel)`. The "previous" event of the
/// first one in a chunk is `(first_tick, channel 0)`, so chunks decode on their own.
///
/// Same-tick events differ in channel only, and are coded as channel steps so that
/// grid-aligned recordings (many spikes per tick) stay small; sortedness within a chunk is
/// then structural: no encoding can decode to an unsorted sequence.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DeltaState {
    tick: i64,
    channel: u32,
}

impl DeltaState {
    pub(crate) fn at_chunk_start(first_tick: Tick) -> Self {
        DeltaState {
            tick: first_tick.0,
            channel: 0,
        }
    }

    /// Encodes `spike`, which must not sort before the previous event of this chunk.
    #[inline]
    pub(crate) fn encode(&mut self, spike: Spike, out: &mut Vec<u8>) {
        debug_assert!(
            (spike.tick.0, spike.neuron) >= (self.tick, self.channel),
            "spk encoder given unsorted spike {spike:?} after tick {} channel {}",
            self.tick,
            self.channel
        );
        // Sorted input makes the difference non-negative; as u64 it cannot overflow even
        // between i64::MIN and i64::MAX.
        let delta = spike.tick.0.wrapping_sub(self.tick) as u64;
        put_varint(out, delta);
        let code = if delta == 0 {
            spike.neuron - self.channel
        } else {
            spike.neuron
        };
        put_varint(out, u64::from(code));
        self.tick = spike.tick.0;
        self.channel = spike.neuron;
    }
}

/// A chunk header as read from a file, before its payload is checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChunkHeader {
    pub(crate) event_count: u32,
    pub(crate) payload_len: u32,
    pub(crate) first_tick: Tick,
    pub(crate) last_tick: Tick,
    pub(crate) crc: u32,
}

impl ChunkHeader {
    /// Parses the 28 bytes after the `CHNK` tag and checks every field that can be checked
    /// before reading the payload. `offset` is the chunk's byte offset.
    pub(crate) fn parse(
        bytes: &[u8; CHUNK_HEADER_LEN - 4],
        offset: u64,
    ) -> Result<Self, TraceFileError> {
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap());
        let i64_at = |i: usize| i64::from_le_bytes(bytes[i..i + 8].try_into().unwrap());
        let header = ChunkHeader {
            event_count: u32_at(0),
            payload_len: u32_at(4),
            first_tick: Tick(i64_at(8)),
            last_tick: Tick(i64_at(16)),
            crc: u32_at(24),
        };
        if header.event_count == 0 {
            return Err(malformed(offset + 4, "chunk holds no events"));
        }
        if header.event_count > MAX_CHUNK_EVENTS {
            return Err(TraceFileError::LengthTooLarge {
                format: TraceFormat::Spk,
                offset: offset + 4,
                what: "chunk event count",
                claimed: header.event_count.into(),
                max: MAX_CHUNK_EVENTS.into(),
            });
        }
        // Both bounds follow from the event coding; checking them here caps the payload
        // allocation at MAX_CHUNK_PAYLOAD and ties the event count to bytes that exist.
        let max_payload = header.event_count * MAX_EVENT_BYTES;
        if header.payload_len > max_payload {
            return Err(TraceFileError::LengthTooLarge {
                format: TraceFormat::Spk,
                offset: offset + 8,
                what: "chunk payload length",
                claimed: header.payload_len.into(),
                max: max_payload.into(),
            });
        }
        if header.payload_len < header.event_count * MIN_EVENT_BYTES {
            return Err(malformed(
                offset + 8,
                "chunk payload is shorter than its event count allows",
            ));
        }
        if header.first_tick > header.last_tick {
            return Err(malformed(
                offset + 12,
                "chunk's first tick is after its last tick",
            ));
        }
        Ok(header)
    }
}

/// CRC-32 of a section's fixed fields followed by its variable part. Every section (header,
/// chunk, index) is checked this way, with the fields listed in `docs/trace-format.md`.
pub(crate) fn checksum(fields: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(fields);
    hasher.update(payload);
    hasher.finalize()
}

/// Decodes a chunk's payload (already checksum-verified) into `out`, appending.
///
/// Checks that the payload holds exactly `header.event_count` events, starting at
/// `header.first_tick` and ending at `header.last_tick`, with channels below `channel_count`.
/// `payload_offset` is the payload's byte offset in the file, for error messages.
pub(crate) fn decode_chunk_payload(
    payload: &[u8],
    header: &ChunkHeader,
    channel_count: u32,
    payload_offset: u64,
    out: &mut Vec<Spike>,
) -> Result<(), TraceFileError> {
    // event_count <= payload.len() / 2 was checked against bytes actually read, so this
    // reservation is bounded by the input size.
    out.reserve(header.event_count as usize);
    let start_len = out.len();
    let mut pos = 0usize;
    let mut tick = header.first_tick.0;
    let mut channel = 0u32;
    let mut remaining = header.event_count;
    while remaining > 0 {
        let event_start = pos;
        let at = |p: usize| payload_offset + p as u64;
        let delta =
            get_varint(payload, &mut pos).map_err(|what| malformed(at(event_start), what))?;
        let code =
            get_varint(payload, &mut pos).map_err(|what| malformed(at(event_start), what))?;
        let Ok(code) = u32::try_from(code) else {
            return Err(malformed(at(event_start), "channel code exceeds 32 bits"));
        };
        if delta == 0 {
            channel = channel
                .checked_add(code)
                .ok_or_else(|| malformed(at(event_start), "channel step overflows 32 bits"))?;
        } else {
            tick = tick
                .checked_add_unsigned(delta)
                .ok_or_else(|| malformed(at(event_start), "tick delta overflows 64 bits"))?;
            channel = code;
        }
        if channel >= channel_count {
            return Err(TraceFileError::ChannelOutOfRange {
                format: TraceFormat::Spk,
                offset: at(event_start),
                channel,
                channel_count,
            });
        }
        out.push(Spike {
            tick: Tick(tick),
            neuron: channel,
        });
        remaining -= 1;
    }
    if pos != payload.len() {
        return Err(malformed(
            payload_offset + pos as u64,
            "chunk payload has bytes after its last event",
        ));
    }
    if out[start_len].tick != header.first_tick {
        return Err(malformed(
            payload_offset,
            "chunk's first event is not at the chunk's first tick",
        ));
    }
    if Tick(tick) != header.last_tick {
        return Err(malformed(
            payload_offset,
            "chunk's last event is not at the chunk's last tick",
        ));
    }
    Ok(())
}

/// Recomputes the CRC of every section whose extent can be found, leaving all else as is.
///
/// For fuzzing: random mutations almost never keep a CRC-32 valid, so without this a fuzzer
/// only ever reaches the checksum rejections. Resealed input lets mutated counts, payloads and
/// indexes reach the decoder. Never panics, whatever the input.
pub(crate) fn reseal_checksums(data: &[u8]) -> Vec<u8> {
    let mut bytes = data.to_vec();
    let u32_at = |bytes: &[u8], at: usize| {
        let field = bytes.get(at..at.checked_add(4)?)?;
        Some(u32::from_le_bytes(field.try_into().ok()?) as usize)
    };
    let fixed = HEADER_FIXED_LEN as usize;
    let Some(metadata_len) = u32_at(&bytes, fixed - 4) else {
        return bytes;
    };
    let crc_at = fixed + metadata_len;
    if crc_at + 4 > bytes.len() {
        return bytes;
    }
    let crc = checksum(&bytes[SPK_MAGIC.len()..fixed], &bytes[fixed..crc_at]);
    bytes[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    let mut block = crc_at + 4;
    while let Some(tag) = bytes.get(block..block + 4) {
        let (fields_len, length_at) = match tag {
            t if t == CHUNK_TAG => (CHUNK_HEADER_LEN - 8, block + 8),
            t if t == INDEX_TAG => (INDEX_HEADER_LEN - 8, block + 4),
            _ => break,
        };
        let Some(payload_len) = u32_at(&bytes, length_at) else {
            break;
        };
        // The CRC field follows the fixed fields; the payload follows the CRC.
        let crc_at = block + 4 + fields_len;
        let payload_start = crc_at + 4;
        let payload_end = payload_start + payload_len;
        if payload_end > bytes.len() {
            break;
        }
        let crc = checksum(
            &bytes[block + 4..crc_at],
            &bytes[payload_start..payload_end],
        );
        bytes[crc_at..payload_start].copy_from_slice(&crc.to_le_bytes());
        block = payload_end;
    }
    bytes
}

pub(crate) fn malformed(offset: u64, what: &'static str) -> TraceFileError {
    TraceFileError::Malformed {
        format: TraceFormat::Spk,
        offset,
        what,
    }
}

pub(crate) fn truncated(offset: u64, what: &'static str) -> TraceFileError {
    TraceFileError::Truncated {
        format: TraceFormat::Spk,
        offset,
        what,
    }
}

#[cfg(test)]
mod tests;
