//! NEST spike-recorder text output (`record_to: "ascii"`, and the older `.gdf` files).
//!
//! Lines of `sender time_ms`, separated by tabs or spaces. Lines starting with `#` are
//! comments, and a column-header line `sender time_ms` is accepted before the data, as NEST 3
//! writes. NEST's `time_in_steps` output (`sender time_step offset`) is refused with an error
//! naming the extra column. Sender ids are taken as neuron ids unchanged (NEST counts from 1;
//! shift them yourself if your network counts from 0). Times are exact, as for CSV.

use std::io::{BufRead, Write};

use super::error::excerpt;
use super::text::{LineReader, is_column_name, parse_spike_fields, write_spike_lines};
use super::{TraceFileError, TraceFormat};
use crate::Spike;

/// Reads every spike, in file order.
pub fn read<R: BufRead>(input: R) -> Result<Vec<Spike>, TraceFileError> {
    let format = TraceFormat::NestText;
    let mut lines = LineReader::new(input, format);
    let mut spikes = Vec::new();
    let mut data_seen = false;
    while let Some((line_number, line)) = lines.next_line()? {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let text_error = |column, what, found: &str| TraceFileError::Text {
            format,
            line: line_number,
            column,
            what,
            found: excerpt(found),
        };
        let mut fields = line.split_ascii_whitespace();
        let sender = fields.next().unwrap_or_default();
        let Some(time_ms) = fields.next() else {
            return Err(text_error(2, "missing the time column", line));
        };
        if let Some(extra) = fields.next() {
            return Err(text_error(
                3,
                "expected 2 columns (sender time_ms); time-in-steps output is not supported",
                extra,
            ));
        }
        if !data_seen && is_column_name(sender) {
            if sender != "sender" {
                return Err(text_error(
                    1,
                    "unknown column name (expected sender)",
                    sender,
                ));
            }
            if time_ms != "time_ms" {
                return Err(text_error(
                    2,
                    "unknown column name (expected time_ms)",
                    time_ms,
                ));
            }
            data_seen = true;
            continue;
        }
        data_seen = true;
        spikes.push(parse_spike_fields(sender, time_ms, format, line_number)?);
    }
    Ok(spikes)
}

/// Writes a comment, the `sender\ttime_ms` header and one tab-separated line per spike, with
/// times to six decimals (exact nanoseconds).
pub fn write<W: Write>(output: W, spikes: &[Spike]) -> Result<(), TraceFileError> {
    let preamble = "# spike recorder output written by spikeq (times exact to 1 ns)\n\
                    sender\ttime_ms\n";
    write_spike_lines(output, preamble, spikes, '\t')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tick;

    #[test]
    fn reads_nest3_ascii_output() {
        let file = b"# NEST version: 3.6\n# RecordingBackendASCII version: 2\n\
# Recorder label: spike_recorder\nsender\ttime_ms\n12\t5.300\n3\t17.100\n";
        let spikes = read(&file[..]).unwrap();
        assert_eq!(
            spikes,
            vec![
                Spike {
                    tick: Tick(5_300_000),
                    neuron: 12
                },
                Spike {
                    tick: Tick(17_100_000),
                    neuron: 3
                },
            ]
        );
    }

    #[test]
    fn reads_gdf_without_header() {
        let spikes = read(&b"1   0.1  \n2\t0.2\n"[..]).unwrap();
        assert_eq!(spikes.len(), 2);
        assert_eq!(spikes[1].tick, Tick(200_000));
    }

    #[test]
    fn round_trips_exactly() {
        let spikes = vec![
            Spike {
                tick: Tick(-3),
                neuron: 0,
            },
            Spike {
                tick: Tick(123_456_789_123),
                neuron: u32::MAX,
            },
        ];
        let mut out = Vec::new();
        write(&mut out, &spikes).unwrap();
        assert_eq!(read(&out[..]).unwrap(), spikes);
    }

    #[test]
    fn refuses_time_in_steps_and_bad_fields() {
        let cases: [(&[u8], u64, u64); 4] = [
            (b"sender time_step offset\n", 1, 3),
            (b"1 10 0.5\n", 1, 3),
            (b"# c\n1 2\n1 x\n", 3, 2),
            (b"7\n", 1, 2),
        ];
        for (input, line, column) in cases {
            match read(input) {
                Err(TraceFileError::Text {
                    line: l, column: c, ..
                }) => assert_eq!((l, c), (line, column)),
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
            }
        }
    }
}
