//! Distributions of per-neuron and per-synapse values (weights, delays, initial potentials).

use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};

/// A value that is constant or drawn per element, in the unit of the quantity it describes.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Dist {
    /// The same value everywhere.
    Const(f64),
    /// Uniform in `[low, high)`.
    Uniform {
        /// Lower bound (inclusive).
        low: f64,
        /// Upper bound (exclusive).
        high: f64,
    },
    /// Normal with `mean` and `std`, clipped to `[min, max]` (clipped, not redrawn, as NEST's
    /// `normal` with clipping bounds).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation (≥ 0).
        std: f64,
        /// Lower clipping bound.
        min: f64,
        /// Upper clipping bound.
        max: f64,
    },
}

impl Dist {
    /// Draws one value. A constant draws nothing from `rng`.
    #[inline]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match *self {
            Dist::Const(v) => v,
            Dist::Uniform { low, high } => {
                if high > low {
                    rng.random_range(low..high)
                } else {
                    low
                }
            }
            Dist::Normal {
                mean,
                std,
                min,
                max,
            } => {
                let z: f64 = StandardNormal.sample(rng);
                (mean + std * z).clamp(min, max)
            }
        }
    }

    /// The smallest value a draw can take.
    pub fn lower_bound(&self) -> f64 {
        match *self {
            Dist::Const(v) => v,
            Dist::Uniform { low, .. } => low,
            Dist::Normal { min, mean, std, .. } => {
                if std == 0.0 {
                    mean.clamp(min, f64::INFINITY)
                } else {
                    min
                }
            }
        }
    }

    /// Whether every parameter is finite (clipping bounds may be infinite) and ordered.
    pub fn is_well_formed(&self) -> bool {
        match *self {
            Dist::Const(v) => v.is_finite(),
            Dist::Uniform { low, high } => low.is_finite() && high.is_finite() && low <= high,
            Dist::Normal {
                mean,
                std,
                min,
                max,
            } => {
                mean.is_finite()
                    && std.is_finite()
                    && std >= 0.0
                    && min <= max
                    && !min.is_nan()
                    && !max.is_nan()
            }
        }
    }
}
