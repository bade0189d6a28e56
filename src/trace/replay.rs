//! Loading a trace file for replay: the file becomes [`ReplayParams`] (spike trains, shift,
//! loop period) that a generator population plays. The network and engine never see the file.
//!
//! What a replay does to the recorded spikes, in order:
//! 1. **select**: with `channels`, only these channels are kept, and the `k`-th listed channel
//!    drives neuron `k`; without it, channel `c` drives neuron `c`;
//! 2. **scale**: each time `t` becomes `round(t · scale)` ticks (`scale = 2` plays twice as
//!    slowly); spikes that land on the same tick of one neuron merge (a neuron fires at most
//!    once per tick);
//! 3. **loop**: with a period `P`, the scaled times must lie in `[0, P)`, and they repeat at
//!    `t + k·P` for `k = 0, 1, 2, …`;
//! 4. **shift**: `shift` is added to every time. Spikes that land before 0 are skipped.
//!
//! Loading is bounded: at most [`MAX_REPLAY_SPIKES`] spikes are kept (they are counted while a
//! `.spk` file streams, so a larger file fails early without being held in memory), other
//! formats are read whole and must be at most [`MAX_REPLAY_FILE_BYTES`] on disk, and the
//! trains take one vector per neuron of the population, whose size the model file states.

use std::path::{Path, PathBuf};

use super::{ReadOptions, SensorGeometry, SpkReader, TraceFileError, TraceFormat, read_all_with};
use crate::neuron::ReplayParams;
use crate::{Spike, Tick};

/// Most spikes a replay keeps (2^24 = 16,777,216; 8 bytes each once loaded, about 128 MiB).
pub const MAX_REPLAY_SPIKES: u64 = 1 << 24;

/// Largest file of a format other than `.spk` that a replay reads (64 MiB): those formats are
/// read whole before selection, at up to 16 bytes of memory per event.
pub const MAX_REPLAY_FILE_BYTES: u64 = 64 << 20;

/// How to turn a trace file into replayed spike trains.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayOptions {
    /// Number of neurons of the replaying population.
    pub size: u32,
    /// Keep only these channels, in this order: channel `channels[k]` drives neuron `k`.
    /// `None`: channel `c` drives neuron `c`.
    pub channels: Option<Vec<u32>>,
    /// Time scale factor (finite, positive): times become `round(t · scale)`.
    pub scale: f64,
    /// Added to every time.
    pub shift: Tick,
    /// Loop period, if the trace repeats.
    pub period: Option<Tick>,
    /// Sensor geometry for N-MNIST and `.npy` files (default 34 × 34).
    pub geometry: Option<SensorGeometry>,
    /// Most spikes kept; [`MAX_REPLAY_SPIKES`] by default.
    pub max_spikes: u64,
}

impl ReplayOptions {
    /// Plays a trace as recorded into a population of `size` neurons.
    pub fn new(size: u32) -> ReplayOptions {
        ReplayOptions {
            size,
            channels: None,
            scale: 1.0,
            shift: Tick::ZERO,
            period: None,
            geometry: None,
            max_spikes: MAX_REPLAY_SPIKES,
        }
    }
}

/// Which replay option an error is about (so a model file can point at its key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayKey {
    /// The trace file itself.
    File,
    /// The population size.
    Size,
    /// The channel selection.
    Channels,
    /// The time scale.
    Scale,
    /// The loop period.
    Loop,
}

/// Why a trace could not be loaded for replay. Fatal for that population.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The file could not be read or is malformed (the error says where).
    #[error("trace file {}: {source}", path.display())]
    File {
        /// The trace file.
        path: PathBuf,
        /// What the trace layer found.
        #[source]
        source: TraceFileError,
    },
    /// A non-`.spk` file is larger than [`MAX_REPLAY_FILE_BYTES`].
    #[error(
        "trace file {}: {bytes} bytes, more than the {limit}-byte limit for replaying {format} files (convert it to .spk: `spikeq trace convert`)",
        path.display()
    )]
    FileTooLarge {
        /// The trace file.
        path: PathBuf,
        /// Its format.
        format: TraceFormat,
        /// Its size.
        bytes: u64,
        /// The limit.
        limit: u64,
    },
    /// More spikes would be kept than the limit allows.
    #[error(
        "trace file {}: more than {limit} spikes to replay (select fewer channels, or slice the trace with `spikeq trace slice`)",
        path.display()
    )]
    TooManySpikes {
        /// The trace file.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// The population is smaller than the channels it must play.
    #[error("size {size} does not cover the {needed} channels to replay ({why})")]
    SizeTooSmall {
        /// The population size.
        size: u32,
        /// Neurons needed.
        needed: u64,
        /// Where the number comes from.
        why: String,
    },
    /// A selected channel is listed twice.
    #[error("channel {channel} is selected twice")]
    DuplicateChannel {
        /// The channel.
        channel: u32,
    },
    /// A selected channel is not in the trace.
    #[error("channel {channel} is not in the trace (it has {channel_count} channels)")]
    NoSuchChannel {
        /// The channel.
        channel: u32,
        /// The trace's channel count.
        channel_count: u32,
    },
    /// The scale is not a finite positive number.
    #[error("scale must be a finite positive number, got {0}")]
    BadScale(f64),
    /// The loop period is below one tick.
    #[error("loop period must be at least one tick, got {0}")]
    BadPeriod(Tick),
    /// A scaled time does not fit in the tick range.
    #[error("spike of channel {} at {} times scale {scale} is out of the time range", spike.neuron, spike.tick)]
    TimeOutOfRange {
        /// The spike as recorded.
        spike: Spike,
        /// The scale.
        scale: f64,
    },
    /// With a loop, a scaled time outside `[0, period)`.
    #[error(
        "spike of channel {} at {} (scaled: {scaled}) lies outside the loop period [0, {period}): the loop must be longer than the trace",
        spike.neuron, spike.tick
    )]
    OutsideLoop {
        /// The spike as recorded.
        spike: Spike,
        /// Its scaled time.
        scaled: Tick,
        /// The loop period.
        period: Tick,
    },
}

impl ReplayError {
    /// The option the error is about.
    pub fn key(&self) -> ReplayKey {
        match self {
            ReplayError::File { .. }
            | ReplayError::FileTooLarge { .. }
            | ReplayError::TooManySpikes { .. } => ReplayKey::File,
            ReplayError::SizeTooSmall { .. } => ReplayKey::Size,
            ReplayError::DuplicateChannel { .. } | ReplayError::NoSuchChannel { .. } => {
                ReplayKey::Channels
            }
            ReplayError::BadScale(_) | ReplayError::TimeOutOfRange { .. } => ReplayKey::Scale,
            ReplayError::BadPeriod(_) | ReplayError::OutsideLoop { .. } => ReplayKey::Loop,
        }
    }
}

/// A loaded replay and what was found in the file.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedReplay {
    /// The trains to play: one per neuron, up to the last neuron with a spike (the rest of
    /// the population is silent).
    pub params: ReplayParams,
    /// The file's format.
    pub format: TraceFormat,
    /// Spikes kept (before merging same-tick duplicates).
    pub spikes: u64,
}

/// Reads `path` (format by extension) and turns it into trains for a population, as the
/// module documentation describes.
pub fn load_replay(path: &Path, options: &ReplayOptions) -> Result<LoadedReplay, ReplayError> {
    let file_error = |source| ReplayError::File {
        path: path.to_owned(),
        source,
    };
    if !(options.scale.is_finite() && options.scale > 0.0) {
        return Err(ReplayError::BadScale(options.scale));
    }
    if let Some(p) = options.period
        && p < Tick::ONE
    {
        return Err(ReplayError::BadPeriod(p));
    }
    let format = TraceFormat::from_path(path).map_err(file_error)?;
    // Channel -> neuron, sorted by channel for binary search.
    let selection: Option<Vec<(u32, u32)>> = match &options.channels {
        None => None,
        Some(list) => {
            if list.len() as u64 > u64::from(options.size) {
                return Err(ReplayError::SizeTooSmall {
                    size: options.size,
                    needed: list.len() as u64,
                    why: "the number of selected channels".into(),
                });
            }
            let mut map: Vec<(u32, u32)> = list
                .iter()
                .enumerate()
                .map(|(k, &c)| (c, k as u32))
                .collect();
            map.sort_unstable();
            if let Some(w) = map.windows(2).find(|w| w[0].0 == w[1].0) {
                return Err(ReplayError::DuplicateChannel { channel: w[0].0 });
            }
            Some(map)
        }
    };
    let mut loader = Loader {
        path,
        options,
        selection,
        trains: Vec::new(),
        kept: 0,
    };
    let check_declared = |declared: u32, loader: &Loader| -> Result<(), ReplayError> {
        match &loader.selection {
            None if declared > options.size => Err(ReplayError::SizeTooSmall {
                size: options.size,
                needed: u64::from(declared),
                why: format!("the trace declares {declared} channels"),
            }),
            Some(map) => match map.iter().find(|&&(c, _)| c >= declared) {
                Some(&(channel, _)) => Err(ReplayError::NoSuchChannel {
                    channel,
                    channel_count: declared,
                }),
                None => Ok(()),
            },
            None => Ok(()),
        }
    };
    if format == TraceFormat::Spk {
        let file = std::fs::File::open(path).map_err(|source| {
            file_error(TraceFileError::Open {
                path: path.to_owned(),
                source,
            })
        })?;
        let mut reader = SpkReader::new(std::io::BufReader::new(file)).map_err(file_error)?;
        check_declared(reader.header().channel_count, &loader)?;
        while let Some(chunk) = reader.next_chunk().map_err(file_error)? {
            loader.take(chunk)?;
        }
    } else {
        let bytes = std::fs::metadata(path)
            .map_err(|source| {
                file_error(TraceFileError::Open {
                    path: path.to_owned(),
                    source,
                })
            })?
            .len();
        if bytes > MAX_REPLAY_FILE_BYTES {
            return Err(ReplayError::FileTooLarge {
                path: path.to_owned(),
                format,
                bytes,
                limit: MAX_REPLAY_FILE_BYTES,
            });
        }
        let read = ReadOptions {
            format: Some(format),
            geometry: options.geometry,
        };
        let (info, spikes) = read_all_with(path, &read).map_err(file_error)?;
        if let Some(declared) = info.channel_count {
            check_declared(declared, &loader)?;
        }
        loader.take(&spikes)?;
    }
    let kept = loader.kept;
    Ok(LoadedReplay {
        params: ReplayParams {
            trains: loader.trains,
            shift: options.shift,
            period: options.period,
        },
        format,
        spikes: kept,
    })
}

struct Loader<'a> {
    path: &'a Path,
    options: &'a ReplayOptions,
    selection: Option<Vec<(u32, u32)>>,
    trains: Vec<Vec<Tick>>,
    kept: u64,
}

impl Loader<'_> {
    /// Adds a sorted batch of spikes.
    fn take(&mut self, spikes: &[Spike]) -> Result<(), ReplayError> {
        let scale = self.options.scale;
        for &spike in spikes {
            let neuron = match &self.selection {
                None => {
                    if spike.neuron >= self.options.size {
                        return Err(ReplayError::SizeTooSmall {
                            size: self.options.size,
                            needed: u64::from(spike.neuron) + 1,
                            why: format!("the trace has a spike on channel {}", spike.neuron),
                        });
                    }
                    spike.neuron
                }
                Some(map) => match map.binary_search_by_key(&spike.neuron, |&(c, _)| c) {
                    Ok(k) => map[k].1,
                    Err(_) => continue,
                },
            };
            if self.kept >= self.options.max_spikes {
                return Err(ReplayError::TooManySpikes {
                    path: self.path.to_owned(),
                    limit: self.options.max_spikes,
                });
            }
            let tick = if scale == 1.0 {
                spike.tick
            } else {
                let t = (spike.tick.0 as f64 * scale).round();
                if !(t > i64::MIN as f64 && t < i64::MAX as f64) {
                    return Err(ReplayError::TimeOutOfRange { spike, scale });
                }
                Tick(t as i64)
            };
            if let Some(period) = self.options.period
                && !(Tick::ZERO..period).contains(&tick)
            {
                return Err(ReplayError::OutsideLoop {
                    spike,
                    scaled: tick,
                    period,
                });
            }
            // Times arrive sorted, and scaling by a positive factor keeps them sorted.
            // Grown on demand (neuron < size): a small trace costs little in a big population.
            let neuron = neuron as usize;
            if neuron >= self.trains.len() {
                self.trains.resize_with(neuron + 1, Vec::new);
            }
            let train = &mut self.trains[neuron];
            if train.last() != Some(&tick) {
                train.push(tick);
            }
            self.kept += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spike(ms: f64, neuron: u32) -> Spike {
        Spike {
            tick: Tick::from_ms(ms).unwrap(),
            neuron,
        }
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("spikeq-replay-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn errors_name_the_option() {
        let d = dir("errors");
        let path = d.join("t.spk");
        let spikes = [spike(1.0, 0), spike(2.0, 3), spike(9.0, 1)];
        super::super::write(&path, &spikes, TraceFormat::Spk).unwrap();
        let small = load_replay(&path, &ReplayOptions::new(3)).unwrap_err();
        assert_eq!(small.key(), ReplayKey::Size);
        assert!(small.to_string().contains("declares 4 channels"), "{small}");
        let mut o = ReplayOptions::new(4);
        o.period = Some(Tick::from_ms(5.0).unwrap());
        let e = load_replay(&path, &o).unwrap_err();
        assert_eq!(e.key(), ReplayKey::Loop);
        assert!(e.to_string().contains("9.000000 ms"), "{e}");
        let mut o = ReplayOptions::new(4);
        o.channels = Some(vec![1, 7]);
        let e = load_replay(&path, &o).unwrap_err();
        assert!(
            matches!(
                e,
                ReplayError::NoSuchChannel {
                    channel: 7,
                    channel_count: 4
                }
            ),
            "{e}"
        );
        o.channels = Some(vec![1, 1]);
        assert!(matches!(
            load_replay(&path, &o).unwrap_err(),
            ReplayError::DuplicateChannel { channel: 1 }
        ));
        let mut o = ReplayOptions::new(4);
        o.max_spikes = 2;
        assert!(matches!(
            load_replay(&path, &o).unwrap_err(),
            ReplayError::TooManySpikes { limit: 2, .. }
        ));
        o.max_spikes = 3;
        assert_eq!(load_replay(&path, &o).unwrap().spikes, 3);
        o.scale = f64::NAN;
        assert_eq!(load_replay(&path, &o).unwrap_err().key(), ReplayKey::Scale);
        let e = load_replay(&d.join("missing.spk"), &ReplayOptions::new(4)).unwrap_err();
        assert!(e.to_string().contains("missing.spk"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn text_traces_are_checked_against_the_size() {
        let d = dir("text");
        let path = d.join("t.csv");
        std::fs::write(&path, "neuron,time_ms\n2,1.5\n0,0.25\n").unwrap();
        let e = load_replay(&path, &ReplayOptions::new(2)).unwrap_err();
        assert!(e.to_string().contains("spike on channel 2"), "{e}");
        let loaded = load_replay(&path, &ReplayOptions::new(3)).unwrap();
        assert_eq!(
            loaded.params.trains,
            vec![vec![Tick(250_000)], vec![], vec![Tick(1_500_000)]]
        );
        // Trains stop at the last neuron with a spike.
        assert_eq!(
            load_replay(&path, &ReplayOptions::new(1000))
                .unwrap()
                .params
                .trains
                .len(),
            3
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
