//! Trace files: recorded spikes on disk, and spike trains read from other tools' formats.
//!
//! **Owns**: the file formats, their readers and writers, and the one error type of file
//! handling, [`TraceFileError`]:
//! - [`spk`]: the native binary format, `.spk` (byte layout in `docs/trace-format.md`):
//!   streaming [`SpkWriter`] / [`SpkReader`], chunk index for time-range reads;
//! - [`csv`] (`neuron,time_ms`) and [`nest`] (NEST spike-recorder text), both exact to the
//!   nanosecond;
//! - event-camera recordings, read as spike trains: [`nmnist`] (N-MNIST binary), [`aedat`]
//!   (AEDAT 2.0, DVS128) and [`npy`] (structured event arrays as written by `tonic`);
//! - [`TraceFormat`] detection by file extension, and whole-file [`read_all`] / [`write()`]
//!   helpers for the command line;
//! - [`fuzz_check`]: the properties the fuzz targets (and the corpus tests) check.
//!
//! **Must not touch**: the engine. The engine never opens files; spikes reach this layer as
//! [`Spike`] values (through a recorder, a channel and a writer thread), and input trains leave
//! it as sorted `Vec<Spike>`.
//!
//! "Trace" here always means a *trace file*, a recording. The plasticity state variable that
//! SNN papers also call a trace lives elsewhere under another name.
//!
//! Every reader treats its input as hostile: lengths read off a file are capped before
//! anything is allocated, no input makes a reader panic, and each kind of damage is its own
//! [`TraceFileError`] variant carrying the byte offset (or line and column) and what was wrong.
//!
//! Channels: a trace stores one `u32` channel per event, which is the
//! [`NeuronId`](crate::NeuronId). Event-camera pixels map to channels through a
//! [`SensorGeometry`].

pub mod aedat;
pub(crate) mod codec;
pub mod csv;
mod decimal;
mod error;
pub mod fuzz_check;
pub mod inspect;
pub mod nest;
pub mod nmnist;
pub mod npy;
pub mod plot;
pub mod recording;
pub mod replay;
pub mod spk;
mod text;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

pub use error::TraceFileError;
pub use recording::{Recording, RecordingHeader, StreamingWriter, open_recording};
pub use replay::{LoadedReplay, ReplayError, ReplayOptions, load_replay};
pub use spk::{ChunkIndexEntry, SpkHeader, SpkReader, SpkWriter};

use crate::Spike;

/// The trace file formats this crate reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TraceFormat {
    /// Native binary `.spk` format.
    Spk,
    /// `neuron,time_ms` comma-separated text.
    Csv,
    /// NEST spike-recorder text: `sender time_ms`, whitespace-separated.
    NestText,
    /// N-MNIST binary: 5-byte events (x, y, polarity, 23-bit microsecond timestamp).
    NMnist,
    /// AEDAT 2.0 from a DVS128: text header, then big-endian (address, timestamp) pairs.
    Aedat2,
    /// NumPy `.npy` structured array with fields `x`, `y`, `t` (µs), `p`.
    Npy,
}

impl TraceFormat {
    /// Every format, in a fixed order.
    pub const ALL: [TraceFormat; 6] = [
        TraceFormat::Spk,
        TraceFormat::Csv,
        TraceFormat::NestText,
        TraceFormat::NMnist,
        TraceFormat::Aedat2,
        TraceFormat::Npy,
    ];

    /// The format a file name's extension names (case-insensitive): `.spk`, `.csv`,
    /// `.txt`/`.dat`/`.gdf` (NEST), `.bin` (N-MNIST), `.aedat`, `.npy`.
    pub fn from_path(path: &Path) -> Result<TraceFormat, TraceFileError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("spk") => Ok(TraceFormat::Spk),
            Some("csv") => Ok(TraceFormat::Csv),
            Some("txt" | "dat" | "gdf") => Ok(TraceFormat::NestText),
            Some("bin") => Ok(TraceFormat::NMnist),
            Some("aedat") => Ok(TraceFormat::Aedat2),
            Some("npy") => Ok(TraceFormat::Npy),
            _ => Err(TraceFileError::UnknownExtension {
                path: path.to_owned(),
            }),
        }
    }

    /// The format named on a command line: `spk`, `csv`, `nest`, `nmnist`, `aedat` or `npy`
    /// (case-insensitive; file extensions such as `gdf` or `bin` are accepted too).
    pub fn from_name(name: &str) -> Option<TraceFormat> {
        let name = name.trim().trim_start_matches('.').to_ascii_lowercase();
        match name.as_str() {
            "spk" => Some(TraceFormat::Spk),
            "csv" => Some(TraceFormat::Csv),
            "nest" | "txt" | "dat" | "gdf" => Some(TraceFormat::NestText),
            "nmnist" | "n-mnist" | "bin" => Some(TraceFormat::NMnist),
            "aedat" | "aedat2" => Some(TraceFormat::Aedat2),
            "npy" => Some(TraceFormat::Npy),
            _ => None,
        }
    }

    /// A short human name, as used in error messages.
    pub fn name(self) -> &'static str {
        match self {
            TraceFormat::Spk => ".spk",
            TraceFormat::Csv => "CSV",
            TraceFormat::NestText => "NEST text",
            TraceFormat::NMnist => "N-MNIST",
            TraceFormat::Aedat2 => "AEDAT 2.0",
            TraceFormat::Npy => ".npy",
        }
    }

    /// What a file of this format starts with, for [`TraceFileError::BadMagic`].
    fn magic_description(self) -> &'static str {
        match self {
            TraceFormat::Spk => {
                "89 53 50 4b 0d 0a 1a 0a (\"\\x89SPK\\r\\n\\x1a\\n\") or the footer \"SPKINDEX\""
            }
            TraceFormat::Aedat2 => "a first line \"#!AER-DAT2.0\"",
            TraceFormat::Npy => "93 4e 55 4d 50 59 (\"\\x93NUMPY\")",
            TraceFormat::Csv | TraceFormat::NestText | TraceFormat::NMnist => "(no magic)",
        }
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Size of an event-camera sensor, which fixes how pixels map to channels:
/// `channel = polarity * width * height + y * width + x` (polarity 1 = ON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SensorGeometry {
    width: u32,
    height: u32,
}

/// One event-camera pixel and polarity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pixel {
    /// Column, `0..width`.
    pub x: u32,
    /// Row, `0..height`.
    pub y: u32,
    /// Polarity: `true` for an ON (brightness increase) event.
    pub on: bool,
}

impl SensorGeometry {
    /// The N-MNIST sensor crop: 34 × 34 pixels.
    pub const NMNIST: SensorGeometry = SensorGeometry {
        width: 34,
        height: 34,
    };
    /// The DVS128 sensor: 128 × 128 pixels.
    pub const DVS128: SensorGeometry = SensorGeometry {
        width: 128,
        height: 128,
    };

    /// A `width` × `height` sensor; `None` if either is zero or the two polarities of all
    /// pixels would not fit in `u32` channel ids.
    pub fn new(width: u32, height: u32) -> Option<SensorGeometry> {
        let channels = 2 * u64::from(width) * u64::from(height);
        (width > 0 && height > 0 && channels <= u64::from(u32::MAX))
            .then_some(SensorGeometry { width, height })
    }

    /// Sensor width in pixels.
    pub fn width(self) -> u32 {
        self.width
    }

    /// Sensor height in pixels.
    pub fn height(self) -> u32 {
        self.height
    }

    /// Number of channels: two polarities per pixel.
    pub fn channel_count(self) -> u32 {
        2 * self.width * self.height
    }

    /// The channel of a pixel, or `None` if it lies outside the sensor.
    pub fn channel(self, pixel: Pixel) -> Option<u32> {
        (pixel.x < self.width && pixel.y < self.height).then(|| {
            u32::from(pixel.on) * self.width * self.height + pixel.y * self.width + pixel.x
        })
    }

    /// The pixel of a channel, or `None` if the channel is not below [`channel_count`](Self::channel_count).
    pub fn pixel(self, channel: u32) -> Option<Pixel> {
        let per_polarity = self.width * self.height;
        (channel < self.channel_count()).then(|| {
            let within = channel % per_polarity;
            Pixel {
                x: within % self.width,
                y: within / self.width,
                on: channel >= per_polarity,
            }
        })
    }
}

/// What a file says about its recording, besides the spikes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceInfo {
    /// The format the file was read as.
    pub format: TraceFormat,
    /// Number of channels, when the format declares it (`.spk`) or it follows from the sensor
    /// geometry (event-camera formats). `None` for text formats.
    pub channel_count: Option<u32>,
    /// Key/value metadata (`.spk` only; empty otherwise).
    pub metadata: BTreeMap<String, String>,
}

/// Options for [`read_all_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Read as this format instead of the one the extension names.
    pub format: Option<TraceFormat>,
    /// Sensor geometry for N-MNIST and `.npy`. Default: [`SensorGeometry::NMNIST`] (34 × 34,
    /// tonic's N-MNIST arrays). AEDAT 2.0 ignores it: its address layout is the DVS128's.
    pub geometry: Option<SensorGeometry>,
}

/// Options for [`write_with`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// `.spk` channel count. Default: one more than the largest neuron id (0 with no spikes).
    pub channel_count: Option<u32>,
    /// `.spk` metadata.
    pub metadata: BTreeMap<String, String>,
    /// Sensor geometry for N-MNIST and `.npy` (as in [`ReadOptions::geometry`]).
    pub geometry: Option<SensorGeometry>,
}

/// Reads a whole trace file, choosing the format by extension ([`TraceFormat::from_path`]).
///
/// Spikes come back sorted by (tick, neuron), whatever the order in the file: `.spk` files are
/// sorted by construction, and the other formats are sorted after reading (text recorders and
/// event cameras do not promise an order for simultaneous events), so the result can be
/// written to `.spk` or fed to the engine directly.
pub fn read_all(path: impl AsRef<Path>) -> Result<(TraceInfo, Vec<Spike>), TraceFileError> {
    read_all_with(path, &ReadOptions::default())
}

/// [`read_all`] with an explicit format or sensor geometry.
pub fn read_all_with(
    path: impl AsRef<Path>,
    options: &ReadOptions,
) -> Result<(TraceInfo, Vec<Spike>), TraceFileError> {
    let path = path.as_ref();
    let format = match options.format {
        Some(format) => format,
        None => TraceFormat::from_path(path)?,
    };
    let file = File::open(path).map_err(|source| TraceFileError::Open {
        path: path.to_owned(),
        source,
    })?;
    let input = BufReader::new(file);
    let geometry = options.geometry.unwrap_or(SensorGeometry::NMNIST);
    let mut info = TraceInfo {
        format,
        channel_count: None,
        metadata: BTreeMap::new(),
    };
    let mut spikes = match format {
        TraceFormat::Spk => {
            let reader = SpkReader::new(input)?;
            info.channel_count = Some(reader.header().channel_count);
            info.metadata = reader.header().metadata.clone();
            // Already sorted: the reader checked it.
            return Ok((info, reader.read_to_end()?));
        }
        TraceFormat::Csv => csv::read(input)?,
        TraceFormat::NestText => nest::read(input)?,
        TraceFormat::NMnist => nmnist::read(input, geometry)?,
        TraceFormat::Aedat2 => aedat::read(input)?,
        TraceFormat::Npy => npy::read(input, geometry)?,
    };
    info.channel_count = match format {
        TraceFormat::NMnist | TraceFormat::Npy => Some(geometry.channel_count()),
        TraceFormat::Aedat2 => Some(SensorGeometry::DVS128.channel_count()),
        _ => None,
    };
    spikes.sort_unstable();
    Ok((info, spikes))
}

/// Writes `spikes` to `path` in `format`, with default [`WriteOptions`].
pub fn write(
    path: impl AsRef<Path>,
    spikes: &[Spike],
    format: TraceFormat,
) -> Result<(), TraceFileError> {
    write_with(path, spikes, format, &WriteOptions::default())
}

/// Writes `spikes` to `path` in `format`.
///
/// The file is written beside `path` under a `.tmp` suffix and renamed into place once
/// complete, so a failed write never leaves a half-written file under the final name.
/// `.spk` requires sorted spikes; the other formats keep the given order.
pub fn write_with(
    path: impl AsRef<Path>,
    spikes: &[Spike],
    format: TraceFormat,
    options: &WriteOptions,
) -> Result<(), TraceFileError> {
    let path = path.as_ref();
    let mut temporary_name = path.as_os_str().to_owned();
    temporary_name.push(".tmp");
    let temporary = PathBuf::from(temporary_name);
    let open_error = |path: &Path| {
        let path = path.to_owned();
        move |source| TraceFileError::Open { path, source }
    };
    let file = File::create(&temporary).map_err(open_error(&temporary))?;
    let result = write_to(BufWriter::new(file), spikes, format, options);
    let result = result.and_then(|()| std::fs::rename(&temporary, path).map_err(open_error(path)));
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

fn write_to<W: Write>(
    mut output: W,
    spikes: &[Spike],
    format: TraceFormat,
    options: &WriteOptions,
) -> Result<(), TraceFileError> {
    let geometry = options.geometry.unwrap_or(SensorGeometry::NMNIST);
    match format {
        TraceFormat::Spk => {
            let channel_count = options.channel_count.unwrap_or_else(|| {
                spikes
                    .iter()
                    .map(|s| s.neuron.saturating_add(1))
                    .max()
                    .unwrap_or(0)
            });
            let header = SpkHeader {
                channel_count,
                metadata: options.metadata.clone(),
            };
            let mut writer = SpkWriter::new(output, &header)?;
            writer.push_slice(spikes)?;
            output = writer.finish()?;
        }
        TraceFormat::Csv => csv::write(&mut output, spikes)?,
        TraceFormat::NestText => nest::write(&mut output, spikes)?,
        TraceFormat::NMnist => nmnist::write(&mut output, spikes, geometry)?,
        TraceFormat::Aedat2 => aedat::write(&mut output, spikes)?,
        TraceFormat::Npy => npy::write(&mut output, spikes, geometry)?,
    }
    output.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tick;

    #[test]
    fn format_from_extension() {
        let cases = [
            ("run.spk", TraceFormat::Spk),
            ("RUN.SPK", TraceFormat::Spk),
            ("a/b.csv", TraceFormat::Csv),
            ("x.txt", TraceFormat::NestText),
            ("x.dat", TraceFormat::NestText),
            ("spikes-21-0.gdf", TraceFormat::NestText),
            ("00002.bin", TraceFormat::NMnist),
            ("rec.aedat", TraceFormat::Aedat2),
            ("events.npy", TraceFormat::Npy),
        ];
        for (name, format) in cases {
            assert_eq!(TraceFormat::from_path(Path::new(name)).unwrap(), format);
        }
        for bad in ["noext", "x.json", "x.spk.gz"] {
            let error = TraceFormat::from_path(Path::new(bad)).unwrap_err();
            assert!(
                matches!(error, TraceFileError::UnknownExtension { ref path } if path == Path::new(bad))
            );
        }
    }

    #[test]
    fn geometry_maps_pixels_to_channels_and_back() {
        let g = SensorGeometry::NMNIST;
        assert_eq!(g.channel_count(), 2312);
        let on = Pixel {
            x: 3,
            y: 2,
            on: true,
        };
        assert_eq!(g.channel(on), Some(34 * 34 + 2 * 34 + 3));
        assert_eq!(g.pixel(34 * 34 + 2 * 34 + 3), Some(on));
        assert_eq!(
            g.channel(Pixel {
                x: 34,
                y: 0,
                on: false
            }),
            None
        );
        assert_eq!(g.pixel(2312), None);
        for channel in 0..g.channel_count() {
            assert_eq!(g.channel(g.pixel(channel).unwrap()), Some(channel));
        }
        assert!(SensorGeometry::new(0, 5).is_none());
        assert!(SensorGeometry::new(65536, 65536).is_none());
        assert_eq!(SensorGeometry::new(128, 128), Some(SensorGeometry::DVS128));
    }

    #[test]
    fn write_then_read_all_in_every_format() {
        let dir = std::env::temp_dir().join(format!("spikeq-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Whole microseconds and in-sensor channels, so every format can hold them.
        let spikes = vec![
            Spike {
                tick: Tick(1_000),
                neuron: 5,
            },
            Spike {
                tick: Tick(1_000),
                neuron: 40,
            },
            Spike {
                tick: Tick(2_000_000),
                neuron: 2000,
            },
        ];
        let names = [
            ("t.spk", TraceFormat::Spk),
            ("t.csv", TraceFormat::Csv),
            ("t.gdf", TraceFormat::NestText),
            ("t.bin", TraceFormat::NMnist),
            ("t.aedat", TraceFormat::Aedat2),
            ("t.npy", TraceFormat::Npy),
        ];
        for (name, format) in names {
            let path = dir.join(name);
            write(&path, &spikes, format).unwrap();
            let (info, back) = read_all(&path).unwrap();
            assert_eq!(info.format, format);
            assert_eq!(back, spikes, "{format}");
            assert!(!dir.join(format!("{name}.tmp")).exists());
        }
        let (info, _) = read_all(dir.join("t.spk")).unwrap();
        assert_eq!(info.channel_count, Some(2001));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn failed_write_leaves_no_file() {
        let dir = std::env::temp_dir().join(format!("spikeq-trace-fail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.spk");
        let unsorted = [
            Spike {
                tick: Tick(5),
                neuron: 0,
            },
            Spike {
                tick: Tick(4),
                neuron: 0,
            },
        ];
        let error = write(&path, &unsorted, TraceFormat::Spk).unwrap_err();
        assert!(matches!(
            error,
            TraceFileError::UnsortedInput { index: 1, .. }
        ));
        assert!(!path.exists());
        assert!(!dir.join("bad.spk.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
