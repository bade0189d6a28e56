//! N-MNIST binary event files (Orchard et al. 2015).
//!
//! Each event is 5 bytes: byte 0 = x, byte 1 = y, bit 7 of byte 2 = polarity (1 = ON), and the
//! low 23 bits of bytes 2..5 read big-endian = timestamp in microseconds. There is no header.
//! Pixels map to channels through a [`SensorGeometry`] (N-MNIST: 34 × 34, so 2312 channels).

use std::io::{Read, Write};

use super::{Pixel, SensorGeometry, TraceFileError, TraceFormat};
use crate::{Spike, Tick};

/// Bytes per event.
pub const EVENT_BYTES: usize = 5;
/// Largest timestamp an event can hold, in microseconds (23 bits).
pub const MAX_TIMESTAMP_US: u32 = (1 << 23) - 1;
const NS_PER_US: i64 = 1_000;

/// Reads every event as a spike, in file order.
pub fn read<R: Read>(mut input: R, geometry: SensorGeometry) -> Result<Vec<Spike>, TraceFileError> {
    // The output takes 16 bytes per 5-byte event, so buffering the input adds little.
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    parse(&bytes, geometry)
}

/// Decodes events from a whole file's bytes.
pub fn parse(bytes: &[u8], geometry: SensorGeometry) -> Result<Vec<Spike>, TraceFileError> {
    let events = bytes.chunks_exact(EVENT_BYTES);
    if !events.remainder().is_empty() {
        return Err(TraceFileError::Truncated {
            format: TraceFormat::NMnist,
            offset: (bytes.len() - events.remainder().len()) as u64,
            what: "file ends inside a 5-byte event",
        });
    }
    let mut spikes = Vec::with_capacity(bytes.len() / EVENT_BYTES);
    for (number, event) in events.enumerate() {
        let pixel = Pixel {
            x: event[0].into(),
            y: event[1].into(),
            on: event[2] & 0x80 != 0,
        };
        let Some(channel) = geometry.channel(pixel) else {
            return Err(TraceFileError::PixelOutOfRange {
                format: TraceFormat::NMnist,
                offset: (number * EVENT_BYTES) as u64,
                x: pixel.x.into(),
                y: pixel.y.into(),
                width: geometry.width(),
                height: geometry.height(),
            });
        };
        let micros = u32::from_be_bytes([0, event[2] & 0x7f, event[3], event[4]]);
        spikes.push(Spike {
            tick: Tick(i64::from(micros) * NS_PER_US),
            neuron: channel,
        });
    }
    Ok(spikes)
}

/// Writes spikes as N-MNIST events, in the given order. Each spike must be on a channel of
/// `geometry` whose pixel fits a byte, at a whole number of microseconds in `0..2^23`.
pub fn write<W: Write>(
    mut output: W,
    spikes: &[Spike],
    geometry: SensorGeometry,
) -> Result<(), TraceFileError> {
    let mut bytes = Vec::with_capacity(spikes.len().min(1 << 16) * EVENT_BYTES);
    for (index, &spike) in spikes.iter().enumerate() {
        let refuse = |what| TraceFileError::NotRepresentable {
            format: TraceFormat::NMnist,
            index: index as u64,
            spike,
            what,
        };
        let pixel = geometry
            .pixel(spike.neuron)
            .ok_or_else(|| refuse("neuron id is not a channel of the sensor geometry"))?;
        let (Ok(x), Ok(y)) = (u8::try_from(pixel.x), u8::try_from(pixel.y)) else {
            return Err(refuse("pixel coordinate above 255"));
        };
        if spike.tick.0 % NS_PER_US != 0 {
            return Err(refuse("time is not a whole number of microseconds"));
        }
        let micros = u32::try_from(spike.tick.0 / NS_PER_US)
            .ok()
            .filter(|&us| us <= MAX_TIMESTAMP_US)
            .ok_or_else(|| refuse("time is outside 0..2^23 microseconds"))?;
        let [_, high, middle, low] = micros.to_be_bytes();
        bytes.extend_from_slice(&[x, y, (u8::from(pixel.on) << 7) | high, middle, low]);
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

    #[test]
    fn decodes_fields() {
        // x=3, y=2, ON, t = 0x01_0203 us.
        let spikes = parse(&[3, 2, 0x81, 0x02, 0x03], SensorGeometry::NMNIST).unwrap();
        assert_eq!(
            spikes,
            vec![Spike {
                tick: Tick(0x01_0203 * 1_000),
                neuron: 34 * 34 + 2 * 34 + 3
            }]
        );
        let off = parse(&[0, 0, 0x7f, 0xff, 0xff], SensorGeometry::NMNIST).unwrap();
        assert_eq!(off[0].neuron, 0);
        assert_eq!(off[0].tick, Tick(i64::from(MAX_TIMESTAMP_US) * 1_000));
    }

    #[test]
    fn truncated_event_names_its_offset() {
        let error = parse(&[1, 1, 0, 0, 1, 1, 1], SensorGeometry::NMNIST).unwrap_err();
        assert!(matches!(
            error,
            TraceFileError::Truncated {
                format: TraceFormat::NMnist,
                offset: 5,
                ..
            }
        ));
    }

    #[test]
    fn pixel_outside_sensor() {
        let error = parse(&[0, 0, 0, 0, 1, 34, 0, 0, 0, 1], SensorGeometry::NMNIST).unwrap_err();
        assert!(matches!(
            error,
            TraceFileError::PixelOutOfRange {
                offset: 5,
                x: 34,
                y: 0,
                ..
            }
        ));
    }

    #[test]
    fn write_refuses_what_it_cannot_store() {
        let at = |ns, neuron| Spike {
            tick: Tick(ns),
            neuron,
        };
        for spike in [at(1_500, 0), at(-1_000, 0), at(1 << 40, 0), at(0, 2312)] {
            let error = write(Vec::new(), &[spike], SensorGeometry::NMNIST).unwrap_err();
            assert!(matches!(
                error,
                TraceFileError::NotRepresentable { index: 0, .. }
            ));
        }
    }

    /// The real N-MNIST recording in `../shared/data/samples/nmnist` (see its README):
    /// 4325 events, timestamps 654..=311175 us, 2145 ON events. Byte-exact round trip.
    #[test]
    fn reads_the_shared_sample() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/samples/nmnist/sample_nmnist.bin");
        let bytes = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "N-MNIST sample missing at {} ({e}); it is a required test fixture from the \
                 shared data directory",
                path.display()
            )
        });
        let spikes = parse(&bytes, SensorGeometry::NMNIST).unwrap();
        assert_eq!(spikes.len(), 4325);
        let times: Vec<i64> = spikes.iter().map(|s| s.tick.0).collect();
        assert_eq!(times.iter().min(), Some(&654_000));
        assert_eq!(times.iter().max(), Some(&311_175_000));
        let on = spikes.iter().filter(|s| s.neuron >= 34 * 34).count();
        assert_eq!(on, 2145);
        let mut written = Vec::new();
        write(&mut written, &spikes, SensorGeometry::NMNIST).unwrap();
        assert_eq!(written, bytes);
    }
}
