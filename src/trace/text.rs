//! Line reading shared by the text formats, with a cap on line length so that a file without
//! newlines cannot make a reader buffer all of it.

use std::fmt::Write as _;
use std::io::{BufRead, Read, Write};

use super::decimal::parse_ms_exact;
use super::error::excerpt;
use super::{TraceFileError, TraceFormat};
use crate::{NeuronId, Spike};

/// Longest accepted line, in bytes. A spike line needs at most ~40; the slack is for
/// comments and headers.
pub(crate) const MAX_LINE_BYTES: usize = 4096;

/// Reads lines one at a time into a reused buffer, counting them.
#[derive(Debug)]
pub(crate) struct LineReader<R> {
    input: R,
    format: TraceFormat,
    buffer: Vec<u8>,
    /// Number of the line last returned, starting at 1.
    line_number: u64,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(input: R, format: TraceFormat) -> Self {
        LineReader {
            input,
            format,
            buffer: Vec::with_capacity(128),
            line_number: 0,
        }
    }

    /// The next line, without its `\n` or `\r\n`, and its number (starting at 1); `None` at
    /// the end of the input.
    pub(crate) fn next_line(&mut self) -> Result<Option<(u64, &str)>, TraceFileError> {
        self.buffer.clear();
        let limit = MAX_LINE_BYTES as u64 + 1;
        let read = Read::take(&mut self.input, limit).read_until(b'\n', &mut self.buffer)?;
        if read == 0 {
            return Ok(None);
        }
        self.line_number += 1;
        if self.buffer.last() == Some(&b'\n') {
            self.buffer.pop();
            if self.buffer.last() == Some(&b'\r') {
                self.buffer.pop();
            }
        } else if self.buffer.len() > MAX_LINE_BYTES {
            return Err(TraceFileError::LineTooLong {
                format: self.format,
                line: self.line_number,
                max: MAX_LINE_BYTES as u64,
            });
        }
        let line_number = self.line_number;
        std::str::from_utf8(&self.buffer)
            .map(|line| Some((line_number, line)))
            .map_err(|_| TraceFileError::Text {
                format: self.format,
                line: self.line_number,
                column: 1,
                what: "line is not valid UTF-8",
                found: excerpt(&String::from_utf8_lossy(&self.buffer)),
            })
    }
}

/// Parses the two fields of a spike line: a neuron id and a time in decimal milliseconds.
pub(crate) fn parse_spike_fields(
    neuron: &str,
    time_ms: &str,
    format: TraceFormat,
    line: u64,
) -> Result<Spike, TraceFileError> {
    let text_error = |column, what, found: &str| TraceFileError::Text {
        format,
        line,
        column,
        what,
        found: excerpt(found),
    };
    // `u32::from_str` accepts a leading '+'; ids are plain digits.
    let neuron_id = if neuron.bytes().all(|b| b.is_ascii_digit()) {
        neuron.parse::<NeuronId>().ok()
    } else {
        None
    };
    let neuron_id = neuron_id
        .ok_or_else(|| text_error(1, "neuron id is not an unsigned 32-bit integer", neuron))?;
    let tick = parse_ms_exact(time_ms).map_err(|what| text_error(2, what, time_ms))?;
    Ok(Spike {
        tick,
        neuron: neuron_id,
    })
}

/// Whether a first field looks like a column name rather than data (`neuron`, `sender`).
pub(crate) fn is_column_name(field: &str) -> bool {
    field.starts_with(|c: char| c.is_ascii_alphabetic())
}

/// Writes `preamble`, then one `<neuron><separator><time_ms>` line per spike with the time
/// exact to the nanosecond (six decimals), in batches of about 64 KiB, then flushes.
pub(crate) fn write_spike_lines<W: Write>(
    mut output: W,
    preamble: &str,
    spikes: &[Spike],
    separator: char,
) -> Result<(), TraceFileError> {
    output.write_all(preamble.as_bytes())?;
    append_spike_lines(&mut output, spikes, separator)?;
    output.flush()?;
    Ok(())
}

/// Writes one `<neuron><separator><time_ms>` line per spike, in batches of about 64 KiB,
/// without flushing (for streaming writers).
pub(crate) fn append_spike_lines<W: Write>(
    mut output: W,
    spikes: &[Spike],
    separator: char,
) -> Result<(), TraceFileError> {
    const BATCH_BYTES: usize = 64 << 10;
    let mut text = String::with_capacity(BATCH_BYTES.min(spikes.len() * 24) + 64);
    for &spike in spikes {
        // Writing to a String cannot fail.
        let _ = write!(text, "{}{separator}", spike.neuron);
        let _ = spike.tick.fmt_ms_exact(&mut text);
        text.push('\n');
        if text.len() >= BATCH_BYTES {
            output.write_all(text.as_bytes())?;
            text.clear();
        }
    }
    output.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_strips_line_endings() {
        let mut reader = LineReader::new(&b"a\r\nb\n\nc"[..], TraceFormat::Csv);
        assert_eq!(reader.next_line().unwrap(), Some((1, "a")));
        assert_eq!(reader.next_line().unwrap(), Some((2, "b")));
        assert_eq!(reader.next_line().unwrap(), Some((3, "")));
        assert_eq!(reader.next_line().unwrap(), Some((4, "c")));
        assert_eq!(reader.next_line().unwrap(), None);
    }

    #[test]
    fn refuses_endless_lines_without_buffering_them() {
        let endless = vec![b'1'; 10 * MAX_LINE_BYTES];
        let mut reader = LineReader::new(&endless[..], TraceFormat::NestText);
        let error = reader.next_line().unwrap_err();
        assert!(matches!(
            error,
            TraceFileError::LineTooLong { line: 1, max, .. } if max == MAX_LINE_BYTES as u64
        ));
        assert!(reader.buffer.capacity() < 2 * MAX_LINE_BYTES + 256);
    }

    #[test]
    fn refuses_invalid_utf8() {
        let mut reader = LineReader::new(&b"1,2\n\xff\xfe\n"[..], TraceFormat::Csv);
        reader.next_line().unwrap();
        let error = reader.next_line().unwrap_err();
        assert!(
            matches!(error, TraceFileError::Text { line: 2, .. }),
            "{error}"
        );
    }
}
