//! A picture of how a projection's weight distribution evolves: the histogram of every
//! snapshot in a weight CSV file (`spikeq run --weights`), one curve per snapshot, from light
//! (early) to dark (late).

use super::CSV_HEADER;
use plotters::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Histogram bins per snapshot.
pub const BINS: usize = 20;

/// Why a weight file could not be read or drawn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeightPlotError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not `time_ms,projection,source,target,weight`.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Nothing to draw.
    #[error("{path}: no weights of projection {projection}")]
    Empty {
        /// The file.
        path: PathBuf,
        /// The projection asked for.
        projection: usize,
    },
    /// Drawing failed.
    #[error("drawing {path}: {message}")]
    Draw {
        /// The image file.
        path: PathBuf,
        /// The cause.
        message: String,
    },
}

/// Snapshots of one projection: time \[ms\] -> weights.
pub type Snapshots = BTreeMap<u64, (f64, Vec<f64>)>;

/// Reads the snapshots of `projection` (or of the first projection in the file if `None`)
/// from a weight CSV file; returns the projection and its snapshots in time order.
pub fn read_snapshots(
    path: &Path,
    projection: Option<usize>,
) -> Result<(usize, Snapshots), WeightPlotError> {
    let text = std::fs::read_to_string(path).map_err(|source| WeightPlotError::Io {
        path: path.to_owned(),
        source,
    })?;
    let err = |line: usize, message: String| WeightPlotError::Parse {
        path: path.to_owned(),
        line,
        message,
    };
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == CSV_HEADER => {}
        _ => return Err(err(1, format!("expected the header `{CSV_HEADER}`"))),
    }
    let mut chosen = projection;
    let mut snaps = Snapshots::new();
    for (k, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 5 {
            return Err(err(k + 1, format!("expected 5 fields, found {}", f.len())));
        }
        let num = |i: usize, what: &str| -> Result<f64, WeightPlotError> {
            f[i].trim()
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| err(k + 1, format!("{what} `{}` is not a finite number", f[i])))
        };
        let t = num(0, "time")?;
        let p: usize = f[1]
            .trim()
            .parse()
            .map_err(|_| err(k + 1, format!("projection `{}` is not an index", f[1])))?;
        let w = num(4, "weight")?;
        let want = *chosen.get_or_insert(p);
        if p != want {
            continue;
        }
        snaps
            .entry(t.to_bits())
            .or_insert_with(|| (t, Vec::new()))
            .1
            .push(w);
    }
    // BTreeMap over f64 bits orders non-negative times correctly.
    let p = chosen.unwrap_or(0);
    if snaps.is_empty() {
        return Err(WeightPlotError::Empty {
            path: path.to_owned(),
            projection: p,
        });
    }
    Ok((p, snaps))
}

/// Draws the snapshots' histograms into a PNG of `width` x `height` pixels.
pub fn plot_snapshots(
    snaps: &Snapshots,
    title: &str,
    output: &Path,
    (width, height): (u32, u32),
) -> Result<(), WeightPlotError> {
    let draw_error = |e: &dyn std::fmt::Display| WeightPlotError::Draw {
        path: output.to_owned(),
        message: e.to_string(),
    };
    let all = snaps.values().flat_map(|(_, w)| w.iter().copied());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), w| {
        (a.min(w), b.max(w))
    });
    let (lo, hi) = if hi > lo {
        (lo, hi)
    } else {
        (lo - 0.5, lo + 0.5)
    };
    let width_bin = (hi - lo) / BINS as f64;
    let hists: Vec<(f64, Vec<f64>)> = snaps
        .values()
        .map(|(t, ws)| {
            let mut h = vec![0.0; BINS];
            for &w in ws {
                let b = (((w - lo) / width_bin) as usize).min(BINS - 1);
                h[b] += 1.0;
            }
            let n = ws.len().max(1) as f64;
            (*t, h.into_iter().map(|c| c / n).collect())
        })
        .collect();
    let peak = hists
        .iter()
        .flat_map(|(_, h)| h.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    plotters::style::register_font("sans-serif", FontStyle::Normal, crate::trace::plot::FONT)
        .map_err(|_| draw_error(&"the bundled font is unreadable"))?;
    let root = BitMapBackend::new(output, (width, height)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_error(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .margin_right(24)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(lo..hi, 0.0..peak * 1.05)
        .map_err(|e| draw_error(&e))?;
    chart
        .configure_mesh()
        .x_desc("weight")
        .y_desc("fraction of synapses")
        .draw()
        .map_err(|e| draw_error(&e))?;
    let n = hists.len().max(2) as f64 - 1.0;
    for (k, (t, h)) in hists.iter().enumerate() {
        // Light blue (early) to dark blue (late).
        let f = k as f64 / n;
        let c = RGBColor(
            (200.0 * (1.0 - f)) as u8,
            (220.0 * (1.0 - f)) as u8,
            (255.0 - 100.0 * f) as u8,
        );
        let points: Vec<(f64, f64)> = h
            .iter()
            .enumerate()
            .map(|(b, &y)| (lo + (b as f64 + 0.5) * width_bin, y))
            .collect();
        chart
            .draw_series(LineSeries::new(points, c.stroke_width(2)))
            .map_err(|e| draw_error(&e))?
            .label(format!("{:.0} ms", t))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperMiddle)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| draw_error(&e))?;
    root.present().map_err(|e| draw_error(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("spikeq-wplot-{}-{name}", std::process::id()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn snapshots_are_grouped_by_time_and_projection() {
        let p = write(
            "ok.csv",
            "time_ms,projection,source,target,weight\n0,2,0,5,0.1\n0,2,1,5,0.2\n0,3,0,6,9\n10,2,0,5,0.3\n",
        );
        let (proj, s) = read_snapshots(&p, None).unwrap();
        assert_eq!(proj, 2);
        let v: Vec<_> = s.values().cloned().collect();
        assert_eq!(v, vec![(0.0, vec![0.1, 0.2]), (10.0, vec![0.3])]);
        let (_, s3) = read_snapshots(&p, Some(3)).unwrap();
        assert_eq!(s3.len(), 1);
        let png = p.with_extension("png");
        plot_snapshots(&s, "t", &png, (400, 300)).unwrap();
        assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    }

    #[test]
    fn bad_lines_are_named() {
        let p = write(
            "bad.csv",
            "time_ms,projection,source,target,weight\n0,2,0,5\n",
        );
        let e = read_snapshots(&p, None).unwrap_err().to_string();
        assert!(e.ends_with(":2: expected 5 fields, found 4"), "{e}");
        let p = write(
            "bad2.csv",
            "time_ms,projection,source,target,weight\n0,2,0,5,NaN\n",
        );
        let e = read_snapshots(&p, None).unwrap_err().to_string();
        assert!(e.contains(":2: weight `NaN`"), "{e}");
        let p = write("bad3.csv", "t,w\n");
        assert!(
            read_snapshots(&p, None)
                .unwrap_err()
                .to_string()
                .contains(":1: expected the header")
        );
        let p = write("empty.csv", "time_ms,projection,source,target,weight\n");
        assert!(
            read_snapshots(&p, Some(1))
                .unwrap_err()
                .to_string()
                .contains("no weights")
        );
    }
}
