//! AEDAT 2.0 recordings from a DVS128 (jAER).
//!
//! The file starts with header lines that begin with `#`, the first being `#!AER-DAT2.0`, each
//! ending in `\r\n` (a bare `\n` is accepted). The header ends at the first byte that is not
//! `#`; events follow as pairs of big-endian 32-bit words: address, then timestamp in
//! microseconds (read as unsigned, as tonic does). DVS128 addresses: polarity = bit 0,
//! x = bits 1..8, y = bits 8..15; other bits (such as jAER's external-event flag, bit 15) are
//! ignored. Channel = polarity·128·128 + y·128 + x ([`SensorGeometry::DVS128`]).

use std::io::{Read, Write};

use super::error::excerpt;
use super::{Pixel, SensorGeometry, TraceFileError, TraceFormat};
use crate::{Spike, Tick};

/// Bytes per event: a 32-bit address and a 32-bit timestamp.
pub const EVENT_BYTES: usize = 8;
/// Largest header accepted, in bytes. jAER headers are a few KiB.
pub const MAX_HEADER_BYTES: usize = 1 << 20;
const VERSION_LINE_PREFIX: &[u8] = b"#!AER-DAT";
const NS_PER_US: i64 = 1_000;

/// Reads every event as a spike, in file order.
pub fn read<R: Read>(mut input: R) -> Result<Vec<Spike>, TraceFileError> {
    // The output takes 16 bytes per 8-byte event, so buffering the input adds little.
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    parse(&bytes)
}

/// Decodes a whole file's bytes.
pub fn parse(bytes: &[u8]) -> Result<Vec<Spike>, TraceFileError> {
    let data_start = header_len(bytes)?;
    let events = bytes[data_start..].chunks_exact(EVENT_BYTES);
    if !events.remainder().is_empty() {
        return Err(TraceFileError::Truncated {
            format: TraceFormat::Aedat2,
            offset: (bytes.len() - events.remainder().len()) as u64,
            what: "file ends inside an 8-byte event",
        });
    }
    let geometry = SensorGeometry::DVS128;
    let mut spikes = Vec::with_capacity(events.len());
    for event in events {
        let address = u32::from_be_bytes([event[0], event[1], event[2], event[3]]);
        let micros = u32::from_be_bytes([event[4], event[5], event[6], event[7]]);
        let pixel = Pixel {
            x: (address >> 1) & 0x7f,
            y: (address >> 8) & 0x7f,
            on: address & 1 == 1,
        };
        // The masks keep x and y below 128, so the pixel is always on the sensor.
        let channel = geometry.channel(pixel).unwrap_or_default();
        spikes.push(Spike {
            tick: Tick(i64::from(micros) * NS_PER_US),
            neuron: channel,
        });
    }
    Ok(spikes)
}

/// Checks the header and returns its length (the offset of the first event).
fn header_len(bytes: &[u8]) -> Result<usize, TraceFileError> {
    let line_end = |start: usize| {
        bytes[start..]
            .iter()
            .take((MAX_HEADER_BYTES + 1).saturating_sub(start))
            .position(|&b| b == b'\n')
            .map(|i| start + i + 1)
    };
    if !bytes.starts_with(VERSION_LINE_PREFIX) {
        let found = &bytes[..bytes.len().min(VERSION_LINE_PREFIX.len())];
        return Err(if VERSION_LINE_PREFIX.starts_with(found) {
            TraceFileError::Truncated {
                format: TraceFormat::Aedat2,
                offset: 0,
                what: "file ends inside the #!AER-DAT line",
            }
        } else {
            TraceFileError::BadMagic {
                format: TraceFormat::Aedat2,
                offset: 0,
                found: found.to_vec(),
            }
        });
    }
    let Some(first_end) = line_end(0) else {
        return Err(header_unterminated(bytes.len()));
    };
    let version = String::from_utf8_lossy(&bytes[VERSION_LINE_PREFIX.len()..first_end]);
    let version = version.trim_end();
    if version != "2.0" {
        return Err(TraceFileError::UnsupportedVersion {
            format: TraceFormat::Aedat2,
            offset: VERSION_LINE_PREFIX.len() as u64,
            found: excerpt(version),
            supported: "2.0",
        });
    }
    let mut position = first_end;
    while bytes.get(position) == Some(&b'#') {
        position = line_end(position).ok_or_else(|| header_unterminated(bytes.len()))?;
    }
    Ok(position)
}

/// The header runs past the cap or the end of the file without ending a line.
fn header_unterminated(file_len: usize) -> TraceFileError {
    if file_len > MAX_HEADER_BYTES {
        TraceFileError::LengthTooLarge {
            format: TraceFormat::Aedat2,
            offset: 0,
            what: "header",
            claimed: file_len as u64,
            max: MAX_HEADER_BYTES as u64,
        }
    } else {
        TraceFileError::Truncated {
            format: TraceFormat::Aedat2,
            offset: file_len as u64,
            what: "file ends inside a header line",
        }
    }
}

/// Writes a minimal AEDAT 2.0 header and one DVS128 event per spike, in the given order. Each
/// spike must be on a DVS128 channel, at a whole number of microseconds in `0..2^32`.
pub fn write<W: Write>(mut output: W, spikes: &[Spike]) -> Result<(), TraceFileError> {
    let mut bytes = Vec::with_capacity(spikes.len().min(1 << 13) * EVENT_BYTES + 128);
    bytes.extend_from_slice(b"#!AER-DAT2.0\r\n");
    bytes.extend_from_slice(b"# This is a raw AE data file - do not edit\r\n");
    bytes.extend_from_slice(b"# Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event\r\n");
    bytes.extend_from_slice(b"# Timestamps tick is 1 us\r\n");
    bytes.extend_from_slice(b"# created by spikeq (DVS128 addresses)\r\n");
    for (index, &spike) in spikes.iter().enumerate() {
        let refuse = |what| TraceFileError::NotRepresentable {
            format: TraceFormat::Aedat2,
            index: index as u64,
            spike,
            what,
        };
        let pixel = SensorGeometry::DVS128
            .pixel(spike.neuron)
            .ok_or_else(|| refuse("neuron id is not a DVS128 channel"))?;
        if spike.tick.0 % NS_PER_US != 0 {
            return Err(refuse("time is not a whole number of microseconds"));
        }
        let micros = u32::try_from(spike.tick.0 / NS_PER_US)
            .map_err(|_| refuse("time is outside 0..2^32 microseconds"))?;
        let address = (pixel.y << 8) | (pixel.x << 1) | u32::from(pixel.on);
        bytes.extend_from_slice(&address.to_be_bytes());
        bytes.extend_from_slice(&micros.to_be_bytes());
        if bytes.len() >= 64 << 10 {
            output.write_all(&bytes)?;
            bytes.clear();
        }
    }
    output.write_all(&bytes)?;
    output.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &[u8], events: &[(u32, u32)]) -> Vec<u8> {
        let mut bytes = header.to_vec();
        for &(address, micros) in events {
            bytes.extend_from_slice(&address.to_be_bytes());
            bytes.extend_from_slice(&micros.to_be_bytes());
        }
        bytes
    }

    #[test]
    fn decodes_dvs128_addresses() {
        // x = 5, y = 7, ON; then x = 127, y = 127, OFF with the external-event bit set.
        let address_a = (7 << 8) | (5 << 1) | 1;
        let address_b = (1 << 15) | (127 << 8) | (127 << 1);
        let bytes = file(
            b"#!AER-DAT2.0\r\n# comment\r\n",
            &[(address_a, 10), (address_b, 4_000_000_000)],
        );
        let spikes = parse(&bytes).unwrap();
        assert_eq!(
            spikes,
            vec![
                Spike {
                    tick: Tick(10_000),
                    neuron: 128 * 128 + 7 * 128 + 5
                },
                Spike {
                    tick: Tick(4_000_000_000_000),
                    neuron: 127 * 128 + 127
                },
            ]
        );
    }

    #[test]
    fn header_errors() {
        assert!(matches!(
            parse(b"#!AER-DAT3.1\r\n").unwrap_err(),
            TraceFileError::UnsupportedVersion { ref found, .. } if found == "3.1"
        ));
        assert!(matches!(
            parse(b"\x00\x01\x02\x03\x04\x05\x06\x07").unwrap_err(),
            TraceFileError::BadMagic { offset: 0, .. }
        ));
        assert!(matches!(
            parse(b"#!AER").unwrap_err(),
            TraceFileError::Truncated { offset: 0, .. }
        ));
        assert!(matches!(
            parse(b"#!AER-DAT2.0\r\n# no end").unwrap_err(),
            TraceFileError::Truncated { .. }
        ));
        let mut endless = b"#!AER-DAT2.0\r\n#".to_vec();
        endless.resize(MAX_HEADER_BYTES + 10, b'x');
        assert!(matches!(
            parse(&endless).unwrap_err(),
            TraceFileError::LengthTooLarge { .. }
        ));
    }

    #[test]
    fn truncated_event_names_its_offset() {
        let mut bytes = file(b"#!AER-DAT2.0\n", &[(0, 1)]);
        bytes.extend_from_slice(&[1, 2, 3]);
        assert!(matches!(
            parse(&bytes).unwrap_err(),
            TraceFileError::Truncated { offset: 21, .. }
        ));
    }

    #[test]
    fn write_read_round_trip() {
        let spikes = vec![
            Spike {
                tick: Tick(0),
                neuron: 0,
            },
            Spike {
                tick: Tick(u32::MAX as i64 * 1_000),
                neuron: 2 * 128 * 128 - 1,
            },
        ];
        let mut bytes = Vec::new();
        write(&mut bytes, &spikes).unwrap();
        assert_eq!(parse(&bytes).unwrap(), spikes);
        let error = write(
            Vec::new(),
            &[Spike {
                tick: Tick(1),
                neuron: 0,
            }],
        )
        .unwrap_err();
        assert!(matches!(error, TraceFileError::NotRepresentable { .. }));
    }
}
