//! The one error type of the trace-file layer.

use std::io;
use std::path::PathBuf;

use super::TraceFormat;
use crate::Spike;

/// Why reading or writing a trace file failed.
///
/// Every variant about malformed input says *where* (a byte offset into the file, or a line and
/// column for text formats) and *what* was wrong, so a user can open the file at that spot.
/// None of these errors is recoverable for the file at hand: a reader that returned one stops
/// (its iterator ends), and a writer that returned an I/O error has left an incomplete file.
/// Errors about the *input* of a writer ([`UnsortedInput`](Self::UnsortedInput),
/// [`ChannelOutOfRangeInput`](Self::ChannelOutOfRangeInput),
/// [`NotRepresentable`](Self::NotRepresentable)) are raised before anything is written for
/// that spike, so the caller may fix its data and carry on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TraceFileError {
    /// The underlying reader or writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),

    /// A file could not be opened, created or renamed into place.
    #[error("cannot access {}: {source}", path.display())]
    Open {
        /// The file in question.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },

    /// The file name has no extension that names a known trace format.
    #[error(
        "{}: unknown trace file extension (expected .spk, .csv, .txt, .dat, .gdf, .bin, .aedat or .npy)",
        path.display()
    )]
    UnknownExtension {
        /// The file in question.
        path: PathBuf,
    },

    /// The file does not start (or, for the `.spk` footer, end) with the bytes its format
    /// requires: it is not a file of this format at all.
    #[error("{format} file: bad magic at byte {offset}: found {found:02x?}, expected {}", format.magic_description())]
    BadMagic {
        /// The format the file was read as.
        format: TraceFormat,
        /// Byte offset of the magic.
        offset: u64,
        /// The bytes found there (at most as many as the magic has).
        found: Vec<u8>,
    },

    /// The file is of this format, but of a version this reader does not understand.
    #[error(
        "{format} file: unsupported format version {found:?} at byte {offset} (supported: {supported})"
    )]
    UnsupportedVersion {
        /// The format the file was read as.
        format: TraceFormat,
        /// Byte offset of the version field.
        offset: u64,
        /// The version as written in the file.
        found: String,
        /// The versions this reader supports.
        supported: &'static str,
    },

    /// A `.spk` header declares a tick length other than 1 ns.
    #[error(
        ".spk file: unsupported time unit at byte {offset}: {ns_per_tick} ns per tick (only 1 ns ticks are supported)"
    )]
    UnsupportedTimeUnit {
        /// Byte offset of the time-unit field.
        offset: u64,
        /// The tick length declared by the file.
        ns_per_tick: u32,
    },

    /// A section's stored CRC-32 does not match its contents: the file was damaged.
    #[error(
        ".spk file: checksum mismatch in the {section} at byte {offset}: stored {stored:#010x}, computed {computed:#010x}"
    )]
    ChecksumMismatch {
        /// Byte offset where the section starts.
        offset: u64,
        /// Which section: `"header"`, `"chunk"` or `"chunk index"`.
        section: &'static str,
        /// The checksum stored in the file.
        stored: u32,
        /// The checksum of the bytes actually read.
        computed: u32,
    },

    /// The file ends in the middle of something.
    #[error("{format} file truncated at byte {offset}: {what}")]
    Truncated {
        /// The format the file was read as.
        format: TraceFormat,
        /// Byte offset where the incomplete item starts (or where the file ends).
        offset: u64,
        /// What was being read.
        what: &'static str,
    },

    /// A length or count read off the file exceeds what this reader accepts. Checked before
    /// anything is allocated, so hostile files cannot make the reader allocate gigabytes.
    #[error("{format} file: {what} at byte {offset} is {claimed}, more than the limit of {max}")]
    LengthTooLarge {
        /// The format the file was read as.
        format: TraceFormat,
        /// Byte offset of the length field.
        offset: u64,
        /// Which length.
        what: &'static str,
        /// The value in the file.
        claimed: u64,
        /// The largest accepted value.
        max: u64,
    },

    /// A `.spk` file holds events out of (tick, channel) order.
    #[error(
        ".spk file: events out of order at byte {offset}: {} comes after {}",
        show(found),
        show(previous)
    )]
    UnsortedTimes {
        /// Byte offset of the chunk holding the out-of-order event.
        offset: u64,
        /// The event before it.
        previous: Spike,
        /// The out-of-order event.
        found: Spike,
    },

    /// An event names a channel at or beyond the channel count the file declares.
    #[error(
        "{format} file: channel {channel} at byte {offset} is not below the declared channel count {channel_count}"
    )]
    ChannelOutOfRange {
        /// The format the file was read as.
        format: TraceFormat,
        /// Byte offset of the event.
        offset: u64,
        /// The channel found.
        channel: u32,
        /// The number of channels the file declares.
        channel_count: u32,
    },

    /// An event-camera event lies outside the sensor geometry it is read with.
    #[error(
        "{format} file: event at byte {offset} has pixel x={x} y={y}, outside the {width}x{height} sensor"
    )]
    PixelOutOfRange {
        /// The format the file was read as.
        format: TraceFormat,
        /// Byte offset of the event.
        offset: u64,
        /// Column found.
        x: i128,
        /// Row found.
        y: i128,
        /// Sensor width the file is read with.
        width: u32,
        /// Sensor height the file is read with.
        height: u32,
    },

    /// Binary data that is structurally wrong in a way the other variants do not name.
    #[error("{format} file: malformed data at byte {offset}: {what}")]
    Malformed {
        /// The format the file was read as.
        format: TraceFormat,
        /// Byte offset of the offending item.
        offset: u64,
        /// What is wrong.
        what: &'static str,
    },

    /// A line of a text format could not be parsed.
    #[error("{format} file, line {line}, column {column}: {what} (found {found:?})")]
    Text {
        /// The format the file was read as.
        format: TraceFormat,
        /// Line number, starting at 1.
        line: u64,
        /// Column (field) number, starting at 1.
        column: u64,
        /// What is wrong.
        what: &'static str,
        /// The offending text, cut to a few dozen characters.
        found: String,
    },

    /// A line of a text format is longer than any valid line could be.
    #[error("{format} file, line {line}: longer than {max} bytes")]
    LineTooLong {
        /// The format the file was read as.
        format: TraceFormat,
        /// Line number, starting at 1.
        line: u64,
        /// The longest accepted line, in bytes.
        max: u64,
    },

    /// A `.npy` file is a valid array, but not one this reader can take events from.
    #[error(".npy file: unsupported array at byte {offset}: {what} (found {found:?})")]
    NpyUnsupported {
        /// Byte offset of the header item in question.
        offset: u64,
        /// What is not supported.
        what: &'static str,
        /// The offending header text.
        found: String,
    },

    /// A `.spk` writer was given a spike earlier than the previous one. Nothing was written for
    /// it; the writer can go on with a later spike.
    #[error(
        "spike #{index} ({}) is earlier than the spike before it ({}): .spk traces are written in (tick, neuron) order",
        show(found),
        show(previous)
    )]
    UnsortedInput {
        /// Position of the offending spike among the spikes given to the writer.
        index: u64,
        /// The previous spike.
        previous: Spike,
        /// The out-of-order spike.
        found: Spike,
    },

    /// A `.spk` writer was given a neuron id at or beyond the declared channel count. Nothing was
    /// written for it.
    #[error(
        "spike #{index}: neuron {channel} is not below the declared channel count {channel_count}"
    )]
    ChannelOutOfRangeInput {
        /// Position of the offending spike among the spikes given to the writer.
        index: u64,
        /// The neuron id given.
        channel: u32,
        /// The declared number of channels.
        channel_count: u32,
    },

    /// A spike cannot be expressed in the target format (for example a time that is not a
    /// whole number of microseconds in an event-camera format).
    #[error(
        "spike #{index} ({}) cannot be written as {format}: {what}",
        show(spike)
    )]
    NotRepresentable {
        /// The target format.
        format: TraceFormat,
        /// Position of the offending spike.
        index: u64,
        /// The spike.
        spike: Spike,
        /// Why not.
        what: &'static str,
    },

    /// The metadata given to a `.spk` writer is too large to store.
    #[error(".spk metadata is {bytes} bytes when encoded, more than the limit of {max}")]
    MetadataTooLarge {
        /// Encoded size.
        bytes: u64,
        /// Largest accepted size.
        max: u64,
    },

    /// A run cannot be recorded in this format (event-camera formats hold pixels, not
    /// neurons).
    #[error("cannot record a run as {format}: use .spk, .csv or NEST text (.txt, .dat, .gdf)")]
    CannotRecord {
        /// The format the file name asked for.
        format: TraceFormat,
    },

    /// A `.spk` writer reached the largest number of chunks its index may hold.
    #[error(
        ".spk trace too large: {chunks} chunks, the index holds at most {max} (use larger chunks)"
    )]
    TooManyChunks {
        /// Chunks written so far.
        chunks: u64,
        /// The limit.
        max: u64,
    },
}

/// Formats a spike for an error message: `neuron 3 at 1.500000 ms`.
fn show(spike: &Spike) -> String {
    format!("neuron {} at {}", spike.neuron, spike.tick)
}

/// Cuts offending text to a length fit for an error message.
pub(crate) fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 40;
    if text.chars().count() <= MAX_CHARS {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX_CHARS).collect();
        cut.push('…');
        cut
    }
}
