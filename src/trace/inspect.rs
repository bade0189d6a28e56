//! What the `spikeq trace` commands do: summarize, convert and slice trace files.
//!
//! `.spk` input streams chunk by chunk (summaries and conversions to `.spk`, CSV and NEST text
//! run in bounded memory whatever the file's size) and slices seek through the chunk index.
//! Other formats are read whole.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::ops::Range;
use std::path::Path;

use super::{
    ReadOptions, SpkReader, StreamingWriter, TraceFileError, TraceFormat, WriteOptions,
    read_all_with, write_with,
};
use crate::{Spike, Tick};

/// Channels below this are counted in a vector, the rest in a map (so a hostile channel id
/// cannot make a summary allocate gigabytes).
const DENSE_CHANNELS: u32 = 1 << 22;

/// Spike counts per channel.
#[derive(Clone, Debug, Default)]
struct ChannelCounts {
    dense: Vec<u64>,
    sparse: BTreeMap<u32, u64>,
}

impl ChannelCounts {
    fn add(&mut self, channel: u32) {
        if channel < DENSE_CHANNELS {
            let i = channel as usize;
            if i >= self.dense.len() {
                self.dense.resize(i + 1, 0);
            }
            self.dense[i] += 1;
        } else {
            *self.sparse.entry(channel).or_default() += 1;
        }
    }

    /// (active channels, the busiest channel and its count).
    fn stats(&self) -> (u64, Option<(u32, u64)>) {
        let dense = self
            .dense
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(|(c, &n)| (c as u32, n));
        let all = dense.chain(self.sparse.iter().map(|(&c, &n)| (c, n)));
        let mut active = 0;
        let mut busiest: Option<(u32, u64)> = None;
        for (c, n) in all {
            active += 1;
            if busiest.is_none_or(|(_, m)| n > m) {
                busiest = Some((c, n));
            }
        }
        (active, busiest)
    }
}

/// What `spikeq trace info` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceSummary {
    /// The format the file was read as.
    pub format: TraceFormat,
    /// Channel count the file declares (`.spk`, event cameras), if any.
    pub declared_channels: Option<u32>,
    /// Channels with at least one spike.
    pub active_channels: u64,
    /// Highest channel with a spike.
    pub max_channel: Option<u32>,
    /// The channel with the most spikes, and its count.
    pub busiest: Option<(u32, u64)>,
    /// Number of spikes.
    pub spikes: u64,
    /// First and last spike time.
    pub span: Option<(Tick, Tick)>,
    /// Recorded duration from the `.spk` metadata (`duration_ms`), if present.
    pub recorded_duration: Option<Tick>,
    /// `.spk` metadata.
    pub metadata: BTreeMap<String, String>,
}

impl TraceSummary {
    /// Number of channels rates are averaged over: the declared count, else the highest
    /// channel + 1.
    pub fn channels(&self) -> u64 {
        match self.declared_channels {
            Some(n) => u64::from(n),
            None => self.max_channel.map_or(0, |c| u64::from(c) + 1),
        }
    }

    /// The duration rates are computed over: the recorded duration if the file states it,
    /// else from `min(0, first spike)` to the last spike.
    pub fn duration(&self) -> Tick {
        if let Some(d) = self.recorded_duration {
            return d;
        }
        match self.span {
            Some((first, last)) => Tick(last.0.saturating_sub(first.0.min(0))),
            None => Tick::ZERO,
        }
    }

    /// Spikes per second over [`duration`](Self::duration) (0 for an empty or instant trace).
    pub fn spikes_per_second(&self) -> f64 {
        let secs = self.duration().as_ms() / 1000.0;
        if secs > 0.0 {
            self.spikes as f64 / secs
        } else {
            0.0
        }
    }

    /// Mean rate per channel \[Hz\].
    pub fn mean_rate_hz(&self) -> f64 {
        match self.channels() {
            0 => 0.0,
            n => self.spikes_per_second() / n as f64,
        }
    }
}

impl fmt::Display for TraceSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "format          {}", self.format)?;
        match self.declared_channels {
            Some(n) => writeln!(
                f,
                "channels        {n} declared, {} active",
                self.active_channels
            )?,
            None => writeln!(
                f,
                "channels        {} active (highest {})",
                self.active_channels,
                self.max_channel
                    .map_or_else(|| "-".to_string(), |c| c.to_string())
            )?,
        }
        writeln!(f, "spikes          {}", self.spikes)?;
        match self.span {
            Some((a, b)) => writeln!(f, "time span       {a} .. {b}")?,
            None => writeln!(f, "time span       - (no spikes)")?,
        }
        let source = if self.recorded_duration.is_some() {
            "recorded duration"
        } else {
            "from 0 (or the first spike) to the last spike"
        };
        writeln!(f, "duration        {} ({source})", self.duration())?;
        writeln!(f, "spikes/s        {:.1}", self.spikes_per_second())?;
        writeln!(
            f,
            "mean rate       {:.3} Hz per channel (over {} channels)",
            self.mean_rate_hz(),
            self.channels()
        )?;
        if let Some((c, n)) = self.busiest {
            let secs = self.duration().as_ms() / 1000.0;
            let rate = if secs > 0.0 { n as f64 / secs } else { 0.0 };
            writeln!(f, "busiest channel {c}: {n} spikes ({rate:.3} Hz)")?;
        }
        for (key, value) in &self.metadata {
            writeln!(f, "meta {key:<16} {value}")?;
        }
        Ok(())
    }
}

/// Summarizes a trace file (format by `options.format` or the extension). `.spk` files are
/// streamed: memory does not grow with the number of spikes.
pub fn summarize(path: &Path, options: &ReadOptions) -> Result<TraceSummary, TraceFileError> {
    let format = match options.format {
        Some(f) => f,
        None => TraceFormat::from_path(path)?,
    };
    let mut counts = ChannelCounts::default();
    let mut summary = TraceSummary {
        format,
        declared_channels: None,
        active_channels: 0,
        max_channel: None,
        busiest: None,
        spikes: 0,
        span: None,
        recorded_duration: None,
        metadata: BTreeMap::new(),
    };
    let mut add = |s: &Spike, summary: &mut TraceSummary| {
        counts.add(s.neuron);
        summary.spikes += 1;
        summary.max_channel = Some(summary.max_channel.map_or(s.neuron, |m| m.max(s.neuron)));
        summary.span = Some(match summary.span {
            None => (s.tick, s.tick),
            Some((a, b)) => (a.min(s.tick), b.max(s.tick)),
        });
    };
    if format == TraceFormat::Spk {
        let mut reader = SpkReader::new(BufReader::new(open(path)?))?;
        summary.declared_channels = Some(reader.header().channel_count);
        summary.metadata = reader.header().metadata.clone();
        while let Some(chunk) = reader.next_chunk()? {
            for s in chunk {
                add(s, &mut summary);
            }
        }
        summary.recorded_duration = summary
            .metadata
            .get("duration_ms")
            .and_then(|d| super::decimal::parse_ms_exact(d).ok());
    } else {
        let (info, spikes) = read_all_with(path, options)?;
        summary.declared_channels = info.channel_count;
        for s in &spikes {
            add(s, &mut summary);
        }
    }
    (summary.active_channels, summary.busiest) = counts.stats();
    Ok(summary)
}

fn open(path: &Path) -> Result<File, TraceFileError> {
    File::open(path).map_err(|source| TraceFileError::Open {
        path: path.to_owned(),
        source,
    })
}

/// Which spikes a slice keeps: times in `[from, to)`, channels in a half-open range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SliceOptions {
    /// First time kept.
    pub from: Tick,
    /// First time no longer kept.
    pub to: Tick,
    /// Channels kept (all if `None`).
    pub channels: Option<Range<u32>>,
}

impl Default for SliceOptions {
    fn default() -> Self {
        SliceOptions {
            from: Tick(i64::MIN),
            to: Tick::MAX,
            channels: None,
        }
    }
}

impl SliceOptions {
    /// Whether the slice keeps `spike`.
    pub fn keeps(&self, spike: &Spike) -> bool {
        (self.from..self.to).contains(&spike.tick)
            && self
                .channels
                .as_ref()
                .is_none_or(|r| r.contains(&spike.neuron))
    }
}

/// Copies `input` to `output`, converting formats (each given explicitly or by extension)
/// and keeping only the spikes `slice` keeps. Spike times and channel ids are unchanged. A
/// `.spk` input keeps its channel count and metadata when the output is `.spk` too (plus
/// `sliced_from` and `sliced_to` when times were cut). Returns the number of spikes written.
///
/// `.spk` input is streamed (and, for a time slice, read through its chunk index) when the
/// output is `.spk`, CSV or NEST text; everything else goes through memory.
pub fn copy(
    input: &Path,
    input_options: &ReadOptions,
    output: &Path,
    output_format: Option<TraceFormat>,
    slice: &SliceOptions,
) -> Result<u64, TraceFileError> {
    let in_format = match input_options.format {
        Some(f) => f,
        None => TraceFormat::from_path(input)?,
    };
    let out_format = match output_format {
        Some(f) => f,
        None => TraceFormat::from_path(output)?,
    };
    let streamable = matches!(
        out_format,
        TraceFormat::Spk | TraceFormat::Csv | TraceFormat::NestText
    );
    if in_format == TraceFormat::Spk && streamable {
        let mut reader = SpkReader::new(BufReader::new(open(input)?))?;
        let mut metadata = reader.header().metadata.clone();
        let channel_count = reader.header().channel_count;
        let time_cut = slice.from.0 != i64::MIN || slice.to != Tick::MAX;
        if time_cut {
            let mut from = String::new();
            let mut to = String::new();
            let _ = slice.from.fmt_ms_exact(&mut from);
            let _ = slice.to.fmt_ms_exact(&mut to);
            metadata.insert("sliced_from_ms".into(), from);
            metadata.insert("sliced_to_ms".into(), to);
        }
        let mut writer = StreamingWriter::create(output, out_format, channel_count, &metadata)?;
        let mut written = 0u64;
        if time_cut {
            // Seeks: only the chunks overlapping the range are read (memory: the slice).
            let mut kept = reader.read_range(slice.from, slice.to)?;
            kept.retain(|s| slice.keeps(s));
            writer.write(&kept)?;
            written = kept.len() as u64;
        } else {
            let mut kept = Vec::new();
            while let Some(chunk) = reader.next_chunk()? {
                kept.clear();
                kept.extend(chunk.iter().filter(|s| slice.keeps(s)));
                writer.write(&kept)?;
                written += kept.len() as u64;
            }
        }
        writer.finish()?;
        return Ok(written);
    }
    let (info, mut spikes) = read_all_with(
        input,
        &ReadOptions {
            format: Some(in_format),
            geometry: input_options.geometry,
        },
    )?;
    spikes.retain(|s| slice.keeps(s));
    let options = WriteOptions {
        channel_count: if out_format == TraceFormat::Spk {
            info.channel_count
        } else {
            None
        },
        metadata: info.metadata,
        geometry: input_options.geometry,
    };
    write_with(output, &spikes, out_format, &options)?;
    Ok(spikes.len() as u64)
}
