//! Simulation time as integer ticks.
//!
//! Owns: the [`Tick`] type (signed 64-bit nanoseconds), its arithmetic and the *only*
//! conversions between milliseconds and ticks. Must not touch: anything else. Every other
//! module speaks ticks; milliseconds appear only at the edges (model files, trace files, CLI),
//! and they are converted here under one rounding rule.
//!
//! Why integers: delay arithmetic is exact (`t + d` never rounds), ticks have a total order
//! (`Ord`, usable as a priority key), and two runs of the same model give bit-identical times.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// Ticks per millisecond: one tick is one nanosecond.
pub const TICKS_PER_MS: i64 = 1_000_000;

/// A point in simulated time, or a duration, in integer nanoseconds.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Tick(pub i64);

/// Why a millisecond value could not become a tick count.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum TimeError {
    /// The value is NaN or infinite.
    #[error("time {0} ms is not a finite number")]
    NotFinite(f64),
    /// The value does not fit in 64-bit nanoseconds (about ±292 years).
    #[error("time {0} ms is out of range (at most about 9.2e12 ms)")]
    OutOfRange(f64),
}

impl Tick {
    /// Time zero.
    pub const ZERO: Tick = Tick(0);
    /// The largest representable time; used as "never".
    pub const MAX: Tick = Tick(i64::MAX);
    /// One tick (1 ns): the smallest delay the engine allows.
    pub const ONE: Tick = Tick(1);

    /// Converts milliseconds to ticks, rounding to the nearest nanosecond (ties away from zero).
    ///
    /// This is the one rounding rule of the crate: model parameters such as `"1.5 ms"` are
    /// exact, and a value with sub-nanosecond digits is rounded, never truncated.
    pub fn from_ms(ms: f64) -> Result<Tick, TimeError> {
        if !ms.is_finite() {
            return Err(TimeError::NotFinite(ms));
        }
        let ns = (ms * TICKS_PER_MS as f64).round();
        // i64::MAX as f64 rounds up to 2^63, so compare strictly below it.
        if ns >= i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(TimeError::OutOfRange(ms));
        }
        Ok(Tick(ns as i64))
    }

    /// Converts a continuous time in milliseconds to the first tick at or after it.
    ///
    /// Used for predicted threshold crossings: the neuron fires at the first tick at which its
    /// membrane potential has reached threshold. Saturates at [`Tick::MAX`].
    pub fn ceil_from_ms(ms: f64) -> Tick {
        let ns = (ms * TICKS_PER_MS as f64).ceil();
        if ns.is_nan() || ns >= i64::MAX as f64 {
            Tick::MAX
        } else if ns < i64::MIN as f64 {
            Tick(i64::MIN)
        } else {
            Tick(ns as i64)
        }
    }

    /// This time in milliseconds (exact for times below 2^53 ns, about 104 days).
    pub fn as_ms(self) -> f64 {
        self.0 as f64 / TICKS_PER_MS as f64
    }

    /// Writes this time as an exact decimal number of milliseconds (`"1.500000"`), with no
    /// floating-point formatting involved, so text traces are byte-identical across platforms.
    pub fn fmt_ms_exact(self, out: &mut impl fmt::Write) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per = TICKS_PER_MS as u64;
        write!(out, "{sign}{}.{:06}", abs / per, abs % per)
    }

    /// Adds a delay, saturating at [`Tick::MAX`] instead of overflowing.
    pub fn saturating_add(self, d: Tick) -> Tick {
        Tick(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for Tick {
    /// Shows the time in milliseconds, exactly (`1.500000 ms`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_ms_exact(f)?;
        f.write_str(" ms")
    }
}

impl Add for Tick {
    type Output = Tick;
    fn add(self, rhs: Tick) -> Tick {
        Tick(self.0 + rhs.0)
    }
}

impl AddAssign for Tick {
    fn add_assign(&mut self, rhs: Tick) {
        self.0 += rhs.0;
    }
}

impl Sub for Tick {
    type Output = Tick;
    fn sub(self, rhs: Tick) -> Tick {
        Tick(self.0 - rhs.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_round_trip_is_exact_for_model_values() {
        for ms in [0.0, 0.1, 1.5, 2.0, 20.0, 1000.0, 0.000001] {
            let t = Tick::from_ms(ms).unwrap();
            assert_eq!(t.as_ms(), ms);
        }
        assert_eq!(Tick::from_ms(1.5).unwrap(), Tick(1_500_000));
        assert_eq!(Tick::from_ms(0.1).unwrap(), Tick(100_000));
    }

    #[test]
    fn rejects_non_finite_and_huge() {
        assert!(matches!(
            Tick::from_ms(f64::NAN),
            Err(TimeError::NotFinite(_))
        ));
        assert!(matches!(
            Tick::from_ms(1e300),
            Err(TimeError::OutOfRange(_))
        ));
    }

    #[test]
    fn ceil_rounds_up_to_the_grid() {
        assert_eq!(Tick::ceil_from_ms(1.0000001), Tick(1_000_001));
        assert_eq!(Tick::ceil_from_ms(1.0), Tick(1_000_000));
        assert_eq!(Tick::ceil_from_ms(f64::INFINITY), Tick::MAX);
    }

    #[test]
    fn exact_ms_text() {
        let mut s = String::new();
        Tick(1_500_000).fmt_ms_exact(&mut s).unwrap();
        assert_eq!(s, "1.500000");
        s.clear();
        Tick(-7).fmt_ms_exact(&mut s).unwrap();
        assert_eq!(s, "-0.000007");
    }
}
