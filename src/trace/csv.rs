//! `neuron,time_ms` comma-separated text.
//!
//! One spike per line: a neuron id (unsigned integer) and a time in decimal milliseconds.
//! Written with six decimals (exact nanoseconds, via [`Tick::fmt_ms_exact`](crate::Tick::fmt_ms_exact))
//! under a `neuron,time_ms` header. Read exactly: times are parsed digit by digit, not through
//! `f64`, so a written file reads back to identical ticks. When reading, the header is
//! optional (recognised names: `neuron`/`sender`/`id`/`neuron_id`, then `time_ms`/`t_ms`/`time`),
//! blank lines are skipped, spaces around fields are ignored, and `\r\n` line ends are
//! accepted. Errors name the line and the column (1 = neuron, 2 = time).

use std::io::{BufRead, Write};

use super::error::excerpt;
use super::text::{LineReader, is_column_name, parse_spike_fields, write_spike_lines};
use super::{TraceFileError, TraceFormat};
use crate::Spike;

/// The header line [`write()`] puts first.
pub const HEADER: &str = "neuron,time_ms";

/// Reads every spike, in file order.
pub fn read<R: BufRead>(input: R) -> Result<Vec<Spike>, TraceFileError> {
    let format = TraceFormat::Csv;
    let mut lines = LineReader::new(input, format);
    let mut spikes = Vec::new();
    let mut first_line_seen = false;
    while let Some((line_number, line)) = lines.next_line()? {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let text_error = |column, what, found: &str| TraceFileError::Text {
            format,
            line: line_number,
            column,
            what,
            found: excerpt(found),
        };
        let mut fields = line.splitn(3, ',').map(str::trim);
        let neuron = fields.next().unwrap_or_default();
        let time_ms = fields.next();
        if fields.next().is_some() {
            return Err(text_error(3, "expected 2 columns (neuron,time_ms)", line));
        }
        let Some(time_ms) = time_ms else {
            return Err(text_error(2, "missing the time_ms column", line));
        };
        let is_header = !first_line_seen && is_column_name(neuron);
        first_line_seen = true;
        if is_header {
            if !matches!(neuron, "neuron" | "sender" | "id" | "neuron_id") {
                return Err(text_error(
                    1,
                    "unknown column name (expected neuron)",
                    neuron,
                ));
            }
            if !matches!(time_ms, "time_ms" | "t_ms" | "time") {
                return Err(text_error(
                    2,
                    "unknown column name (expected time_ms)",
                    time_ms,
                ));
            }
            continue;
        }
        spikes.push(parse_spike_fields(neuron, time_ms, format, line_number)?);
    }
    Ok(spikes)
}

/// Writes the header and one `neuron,time_ms` line per spike, in the given order.
pub fn write<W: Write>(output: W, spikes: &[Spike]) -> Result<(), TraceFileError> {
    write_spike_lines(output, &format!("{HEADER}\n"), spikes, ',')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tick;

    fn spike(neuron: u32, ns: i64) -> Spike {
        Spike {
            tick: Tick(ns),
            neuron,
        }
    }

    #[test]
    fn writes_exact_milliseconds() {
        let mut out = Vec::new();
        write(&mut out, &[spike(3, 1_500_000), spike(0, 7)]).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "neuron,time_ms\n3,1.500000\n0,0.000007\n"
        );
    }

    #[test]
    fn reads_with_or_without_header() {
        let with = read(&b"neuron,time_ms\r\n3, 1.5\n\n 0,0.000007\n"[..]).unwrap();
        let without = read(&b"3,1.5\n0,7e-6"[..]).unwrap();
        assert_eq!(with, vec![spike(3, 1_500_000), spike(0, 7)]);
        assert_eq!(without, with);
        assert_eq!(read(&b""[..]).unwrap(), vec![]);
    }

    #[test]
    fn errors_name_line_and_column() {
        let cases: [(&[u8], u64, u64); 7] = [
            (b"neuron,time_ms\n1,2\nx,3\n", 3, 1),
            (b"1,2\n2,abc\n", 2, 2),
            (b"1\n", 1, 2),
            (b"1,2,3\n", 1, 3),
            (b"-1,2\n", 1, 1),
            (b"4294967296,2\n", 1, 1),
            (b"time_ms,neuron\n", 1, 1),
        ];
        for (input, line, column) in cases {
            match read(input) {
                Err(TraceFileError::Text {
                    line: l, column: c, ..
                }) => assert_eq!(
                    (l, c),
                    (line, column),
                    "{:?}",
                    String::from_utf8_lossy(input)
                ),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
            }
        }
    }

    #[test]
    fn header_only_on_the_first_line() {
        let error = read(&b"1,2\nneuron,time_ms\n"[..]).unwrap_err();
        assert!(
            matches!(
                error,
                TraceFileError::Text {
                    line: 2,
                    column: 1,
                    ..
                }
            ),
            "{error}"
        );
    }
}
