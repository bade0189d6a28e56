//! Weights of plastic projections as users see them: snapshots written as CSV while a run
//! goes on, and the summary (histogram, fractions near the bounds) printed at its end.
//!
//! Owns: the CSV layout of weight snapshots and the weight summary. Must not touch: the
//! engine's internals (it reads weights through [`Simulation::plastic_weights`]), opening
//! files (callers hand in a writer).

use crate::engine::{PlasticSynapse, Simulation};
use crate::time::Tick;
use std::fmt;
use std::io::{self, Write};

/// Bins of the summary histogram.
pub const HISTOGRAM_BINS: usize = 10;

/// The state of one plastic projection's weights.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightSummary {
    /// `source -> target` population names.
    pub projection: String,
    /// Number of plastic synapses.
    pub synapses: usize,
    /// Mean weight.
    pub mean: f64,
    /// The bounds the rule clips to.
    pub w_min: f64,
    /// Upper bound.
    pub w_max: f64,
    /// Counts in [`HISTOGRAM_BINS`] equal bins over `[w_min, w_max]` (over the observed
    /// range if a bound is infinite).
    pub histogram: Vec<u64>,
    /// Histogram range.
    pub range: (f64, f64),
    /// Fraction of weights below `w_min + 0.1 (w_max - w_min)`.
    pub frac_low: f64,
    /// Fraction of weights above `w_min + 0.9 (w_max - w_min)`.
    pub frac_high: f64,
    /// Plastic weight updates applied (synapse x event).
    pub updates: u64,
}

/// Summarises plastic projection `proj` (`None` if it is not plastic).
pub fn summarize(sim: &Simulation, proj: usize) -> Option<WeightSummary> {
    let ws = sim.plastic_weights(proj)?;
    let net = sim.network();
    let pr = &net.def.projections[proj];
    let rule = pr.plasticity?;
    let name = format!(
        "{} -> {}",
        net.populations[pr.from].name, net.populations[pr.to].name
    );
    Some(summarize_weights(
        name,
        ws.iter().map(|s| s.weight),
        rule.w_min,
        rule.w_max,
        sim.plastic_updates_of(proj),
    ))
}

/// The summary of a set of weights under bounds `[w_min, w_max]`.
pub fn summarize_weights(
    projection: String,
    weights: impl Iterator<Item = f64> + Clone,
    w_min: f64,
    w_max: f64,
    updates: u64,
) -> WeightSummary {
    let (mut n, mut sum, mut lo, mut hi) = (0usize, 0.0, f64::INFINITY, f64::NEG_INFINITY);
    for w in weights.clone() {
        n += 1;
        sum += w;
        lo = lo.min(w);
        hi = hi.max(w);
    }
    let range = if w_min.is_finite() && w_max.is_finite() && w_max > w_min {
        (w_min, w_max)
    } else if n > 0 && hi > lo {
        (lo, hi)
    } else {
        (lo.min(0.0), lo.max(0.0) + 1.0)
    };
    let width = range.1 - range.0;
    let mut histogram = vec![0u64; HISTOGRAM_BINS];
    let (mut low, mut high) = (0usize, 0usize);
    for w in weights {
        let x = (w - range.0) / width;
        let bin = ((x * HISTOGRAM_BINS as f64) as usize).min(HISTOGRAM_BINS - 1);
        histogram[bin] += 1;
        low += (x < 0.1) as usize;
        high += (x > 0.9) as usize;
    }
    let frac = |k: usize| if n > 0 { k as f64 / n as f64 } else { 0.0 };
    WeightSummary {
        projection,
        synapses: n,
        mean: if n > 0 { sum / n as f64 } else { f64::NAN },
        w_min,
        w_max,
        histogram,
        range,
        frac_low: frac(low),
        frac_high: frac(high),
        updates,
    }
}

impl fmt::Display for WeightSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "weights {}: {} plastic synapses, mean {:.6}, {:.1}% below 10% of the range, {:.1}% above 90%, {} updates",
            self.projection,
            self.synapses,
            self.mean,
            100.0 * self.frac_low,
            100.0 * self.frac_high,
            self.updates
        )?;
        let peak = self.histogram.iter().copied().max().unwrap_or(0).max(1);
        let width = (self.range.1 - self.range.0) / HISTOGRAM_BINS as f64;
        for (k, &c) in self.histogram.iter().enumerate() {
            let a = self.range.0 + k as f64 * width;
            let bar = "#".repeat((40 * c).div_ceil(peak) as usize);
            writeln!(f, "  [{:>10.4e}, {:>10.4e}) {:>9} {bar}", a, a + width, c)?;
        }
        Ok(())
    }
}

/// The header line of weight snapshot CSV files.
pub const CSV_HEADER: &str = "time_ms,projection,source,target,weight";

/// Appends one snapshot of a projection's weights: one CSV row per synapse.
pub fn write_snapshot(
    out: &mut dyn Write,
    t: Tick,
    projection: usize,
    synapses: &[PlasticSynapse],
) -> io::Result<()> {
    let mut ts = String::new();
    t.fmt_ms_exact(&mut ts).expect("writing to a String");
    let t = ts;
    for s in synapses {
        writeln!(
            out,
            "{t},{projection},{},{},{}",
            s.source, s.target, s.weight
        )?;
    }
    Ok(())
}

pub mod plot;
