//! Raster plots of trace files: one dot per spike (time × channel), with the population rate
//! underneath, drawn with `plotters` into a PNG.
//!
//! Large traces are binned rather than held in memory: the raster is a grid of at most one
//! cell per pixel, and while a trace has at most [`MAX_DOTS`] spikes in view each is drawn as
//! its own dot; beyond that each grid cell is shaded by how many spikes fell into it (darker
//! is more). `.spk` files stream through the grid (axes come from the header and chunk index),
//! so a plot of a billion-spike recording needs no more memory than the image.
//!
//! Text is set in a subset of DejaVu Sans shipped with the crate
//! (`assets/fonts/DejaVuSans-subset.ttf`, Bitstream Vera license), so plots need no system
//! fonts.

use std::io::BufReader;
use std::ops::Range;
use std::path::Path;

use plotters::prelude::*;

use super::{ReadOptions, SpkReader, TraceFileError, TraceFormat, read_all_with};
use crate::{Spike, Tick};

/// Above this many spikes in view, the raster shows spike density per pixel instead of dots.
pub const MAX_DOTS: usize = 100_000;

/// Largest accepted image side, in pixels.
pub const MAX_SIDE: u32 = 4096;

pub(crate) const FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-subset.ttf");

/// What to plot and how big.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlotOptions {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Start of the time axis (default: the first spike, or 0 if earlier spikes are absent).
    pub from: Option<Tick>,
    /// End of the time axis, excluded (default: just after the last spike).
    pub to: Option<Tick>,
    /// Channels shown (default: all the file declares, or up to the highest with a spike).
    pub channels: Option<Range<u32>>,
    /// Title; the file name is used if empty.
    pub title: String,
    /// How to read the file.
    pub read: ReadOptions,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            width: 1200,
            height: 800,
            from: None,
            to: None,
            channels: None,
            title: String::new(),
            read: ReadOptions::default(),
        }
    }
}

/// Why a plot failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The trace could not be read.
    #[error(transparent)]
    File(#[from] TraceFileError),
    /// Image size out of range.
    #[error("image size {width}x{height}: each side must be between 200 and {MAX_SIDE} pixels")]
    BadSize {
        /// Requested width.
        width: u32,
        /// Requested height.
        height: u32,
    },
    /// An empty or reversed time or channel range.
    #[error("empty range: {0}")]
    EmptyRange(String),
    /// The output is not a `.png` file.
    #[error("{}: the plot is written as PNG: use a .png file name", .0.display())]
    NotPng(std::path::PathBuf),
    /// Drawing or writing the image failed.
    #[error("drawing {}: {message}", path.display())]
    Draw {
        /// The image file.
        path: std::path::PathBuf,
        /// What plotters said.
        message: String,
    },
}

/// What a plot shows.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotSummary {
    /// Spikes in view.
    pub spikes: u64,
    /// Whether spikes were drawn as dots (else as density per pixel).
    pub dots: bool,
    /// Time axis.
    pub time: Range<Tick>,
    /// Channel axis.
    pub channels: Range<u32>,
    /// Width of one rate-histogram bin.
    pub bin: Tick,
}

/// Spikes of the view, binned for drawing.
struct Binned {
    t0: i64,
    t1: i64,
    c0: u32,
    c1: u32,
    cols: usize,
    rows: usize,
    grid: Vec<u32>,
    bins: Vec<u64>,
    bin_ticks: f64,
    max_dots: usize,
    dots: Option<Vec<Spike>>,
    spikes: u64,
}

impl Binned {
    fn new(
        time: &Range<Tick>,
        channels: &Range<u32>,
        (cols, rows): (usize, usize),
        (bins, bin_ticks): (usize, f64),
    ) -> Self {
        Binned {
            t0: time.start.0,
            t1: time.end.0,
            c0: channels.start,
            c1: channels.end,
            cols,
            rows,
            grid: vec![0; cols * rows],
            bins: vec![0; bins],
            bin_ticks,
            // Beyond about one dot per ten pixels, dots merge into a blot: show density.
            max_dots: MAX_DOTS.min(cols * rows / 10).max(1000),
            dots: Some(Vec::new()),
            spikes: 0,
        }
    }

    fn add(&mut self, s: &Spike) {
        if s.tick.0 < self.t0 || s.tick.0 >= self.t1 || s.neuron < self.c0 || s.neuron >= self.c1 {
            return;
        }
        self.spikes += 1;
        let ft = (s.tick.0 - self.t0) as f64 / (self.t1 - self.t0) as f64;
        let fc = f64::from(s.neuron - self.c0) / f64::from(self.c1 - self.c0);
        let col = ((ft * self.cols as f64) as usize).min(self.cols - 1);
        let row = ((fc * self.rows as f64) as usize).min(self.rows - 1);
        self.grid[row * self.cols + col] = self.grid[row * self.cols + col].saturating_add(1);
        let bin =
            (((s.tick.0 - self.t0) as f64 / self.bin_ticks) as usize).min(self.bins.len() - 1);
        self.bins[bin] += 1;
        if let Some(dots) = &mut self.dots {
            if dots.len() < self.max_dots {
                dots.push(*s);
            } else {
                self.dots = None;
            }
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Draws a raster plot of `input` into the PNG `output`.
pub fn plot_file(
    input: &Path,
    output: &Path,
    options: &PlotOptions,
) -> Result<PlotSummary, PlotError> {
    let (width, height) = (options.width, options.height);
    if !(200..=MAX_SIDE).contains(&width) || !(200..=MAX_SIDE).contains(&height) {
        return Err(PlotError::BadSize { width, height });
    }
    if !output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        return Err(PlotError::NotPng(output.to_owned()));
    }
    let format = match options.read.format {
        Some(f) => f,
        None => TraceFormat::from_path(input)?,
    };
    let open = || {
        std::fs::File::open(input).map_err(|source| TraceFileError::Open {
            path: input.to_owned(),
            source,
        })
    };
    // Axes: from the options, else from the file.
    let mut spk = None;
    let mut in_memory = None;
    let mut recorded_end = None;
    let (declared, first, last) = if format == TraceFormat::Spk {
        let mut reader = SpkReader::new(BufReader::new(open()?))?;
        let declared = Some(reader.header().channel_count);
        recorded_end = reader
            .header()
            .metadata
            .get("duration_ms")
            .and_then(|d| super::decimal::parse_ms_exact(d).ok());
        let index = reader.index()?;
        let first = index.first().map(|e| e.first_tick);
        let last = index.last().map(|e| e.last_tick);
        // Reopen for streaming from the first chunk.
        spk = Some(SpkReader::new(BufReader::new(open()?))?);
        (declared, first, last)
    } else {
        let (info, spikes) = read_all_with(
            input,
            &ReadOptions {
                format: Some(format),
                geometry: options.read.geometry,
            },
        )?;
        let first = spikes.first().map(|s| s.tick);
        let last = spikes.last().map(|s| s.tick);
        let declared = info
            .channel_count
            .or_else(|| spikes.iter().map(|s| s.neuron.saturating_add(1)).max());
        in_memory = Some(spikes);
        (declared, first, last)
    };
    let t0 = options
        .from
        .unwrap_or_else(|| first.map_or(Tick::ZERO, |f| f.min(Tick::ZERO)));
    let t1 = options.to.unwrap_or_else(|| {
        // A recording's stated duration, else just after the last spike.
        let end = last.map_or(Tick::ZERO, |l| l.saturating_add(Tick::ONE));
        end.max(recorded_end.unwrap_or(Tick::ZERO))
            .max(t0.saturating_add(Tick::ONE))
    });
    if t1 <= t0 {
        return Err(PlotError::EmptyRange(format!("time {t0} .. {t1}")));
    }
    let channels = options
        .channels
        .clone()
        .unwrap_or(0..declared.unwrap_or(1).max(1));
    if channels.is_empty() {
        return Err(PlotError::EmptyRange(format!(
            "channels {}..{}",
            channels.start, channels.end
        )));
    }
    let draw_error = |e: &dyn std::fmt::Display| PlotError::Draw {
        path: output.to_owned(),
        message: e.to_string(),
    };
    // Registering twice is harmless; the font is valid (a unit test checks it).
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| draw_error(&"the bundled font is unreadable"))?;

    let root = BitMapBackend::new(output, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_error(&e))?;
    let (upper, lower) = root.split_vertically(height * 7 / 10);
    let (ms0, ms1) = (t0.as_ms(), t1.as_ms());
    let (cf0, cf1) = (f64::from(channels.start), f64::from(channels.end));
    let title = if options.title.is_empty() {
        file_name(input)
    } else {
        options.title.clone()
    };
    let layout = ChartBuilder::on(&upper)
        .caption(&title, ("sans-serif", 22))
        .margin(12)
        .margin_right(24)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(ms0..ms1, cf0..cf1)
        .map_err(|e| draw_error(&e))?;
    let (pw, ph) = layout.plotting_area().dim_in_pixel();
    drop(layout);
    let cols = (pw as usize).max(1);
    let rows = (ph as usize).clamp(1, channels.len());
    let bin_ms = nice_bin_ms((t1.as_ms() - t0.as_ms()) / 250.0);
    let bin_count = (((t1.as_ms() - t0.as_ms()) / bin_ms).ceil() as usize).clamp(1, 1000);
    let mut binned = Binned::new(
        &(t0..t1),
        &channels,
        (cols, rows),
        (bin_count, bin_ms * crate::time::TICKS_PER_MS as f64),
    );
    if let Some(mut reader) = spk {
        while let Some(chunk) = reader.next_chunk()? {
            for s in chunk {
                binned.add(s);
            }
        }
    } else {
        for s in in_memory.as_deref().unwrap_or_default() {
            binned.add(s);
        }
    }
    let channel_count = channels.len();
    let full_title = format!(
        "{title} \u{2014} {} spikes, {} channels, {}\u{2013}{} ms",
        binned.spikes,
        channel_count,
        trim_ms(ms0),
        trim_ms(ms1)
    );
    // Redraw the caption with the counts now known.
    upper.fill(&WHITE).map_err(|e| draw_error(&e))?;
    let mut raster = ChartBuilder::on(&upper)
        .caption(&full_title, ("sans-serif", 22))
        .margin(12)
        .margin_right(24)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(ms0..ms1, cf0..cf1)
        .map_err(|e| draw_error(&e))?;
    raster
        .configure_mesh()
        .disable_mesh()
        .x_desc("time [ms]")
        .y_desc("channel")
        .x_label_formatter(&|v| trim_ms(*v))
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(|e| draw_error(&e))?;
    let dx = (ms1 - ms0) / cols as f64;
    let dy = (cf1 - cf0) / rows as f64;
    let dots = binned.dots.is_some();
    if let Some(dots) = &binned.dots {
        // One dot per spike: 3 px (2 px when crowded) wide, a channel (at least as many
        // px) high.
        let px = if dots.len() * 200 < cols * rows {
            3.0
        } else {
            2.0
        };
        let (w, h) = (px * dx, dy.max(px * (cf1 - cf0) / ph.max(1) as f64));
        let color = RGBColor(20, 40, 120);
        raster
            .draw_series(dots.iter().map(|s| {
                let (x, y) = (s.tick.as_ms(), f64::from(s.neuron));
                Rectangle::new([(x, y), (x + w, y + h)], color.filled())
            }))
            .map_err(|e| draw_error(&e))?;
    } else {
        // Density: shade each pixel cell by its count, relative to the busiest cell.
        let max = binned.grid.iter().copied().max().unwrap_or(1).max(1);
        let scale = (f64::from(max) + 1.0).ln();
        let cells = binned.grid.iter().enumerate().filter(|(_, n)| **n > 0);
        raster
            .draw_series(cells.map(|(k, &n)| {
                let (row, col) = (k / cols, k % cols);
                let level = (f64::from(n) + 1.0).ln() / scale;
                let shade = (200.0 * (1.0 - level)) as u8;
                let x = ms0 + col as f64 * dx;
                let y = cf0 + row as f64 * dy;
                Rectangle::new(
                    [(x, y), (x + dx, y + dy)],
                    RGBColor(shade / 2, shade / 2 + 20, shade / 2 + 100).filled(),
                )
            }))
            .map_err(|e| draw_error(&e))?;
    }

    // Population rate: spikes per bin / (bin width · channels).
    let rates: Vec<f64> = binned
        .bins
        .iter()
        .map(|&n| n as f64 / (bin_ms / 1000.0) / channel_count as f64)
        .collect();
    let top = rates.iter().copied().fold(0.0, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let mut rate = ChartBuilder::on(&lower)
        .margin(12)
        .margin_right(24)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(ms0..ms1, 0.0..top)
        .map_err(|e| draw_error(&e))?;
    rate.configure_mesh()
        .disable_x_mesh()
        .y_labels(5)
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(225, 225, 225))
        .x_label_formatter(&|v| trim_ms(*v))
        .y_label_formatter(&|v| trim_ms(*v))
        .x_desc(format!("time [ms]   ({} ms bins)", trim_ms(bin_ms)))
        .y_desc("rate per channel [Hz]")
        .axis_desc_style(("sans-serif", 16))
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| draw_error(&e))?;
    rate.draw_series(rates.iter().enumerate().map(|(k, &r)| {
        let x = ms0 + k as f64 * bin_ms;
        Rectangle::new([(x, 0.0), (x + bin_ms, r)], RGBColor(200, 80, 40).filled())
    }))
    .map_err(|e| draw_error(&e))?;
    root.present().map_err(|e| draw_error(&e))?;
    Ok(PlotSummary {
        spikes: binned.spikes,
        dots,
        time: t0..t1,
        channels,
        bin: Tick::from_ms(bin_ms).unwrap_or(Tick::ZERO),
    })
}

/// The 1-2-5 step at or above `target` \[ms\] (at least 1 µs).
fn nice_bin_ms(target: f64) -> f64 {
    let target = target.max(0.001);
    let decade = 10f64.powf(target.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * decade)
        .find(|&b| b >= target * 0.999)
        .unwrap_or(10.0 * decade)
}

/// A millisecond value with at most three decimals and no trailing zeros.
fn trim_ms(ms: f64) -> String {
    let s = format!("{ms:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_font_is_valid() {
        assert!(plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok());
        assert_eq!(trim_ms(200.0), "200");
        assert_eq!(trim_ms(1.25), "1.25");
        assert_eq!(nice_bin_ms(1.33), 2.0);
        assert_eq!(nice_bin_ms(0.07), 0.1);
        assert_eq!(nice_bin_ms(3.0), 5.0);
        assert_eq!(nice_bin_ms(1.0), 1.0);
    }
}
