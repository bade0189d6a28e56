//! First threshold crossing of a sum of decaying exponentials, on the tick grid.
//!
//! Owns: the one root finder of the crate. Between events, the distance to threshold of every
//! built-in leaky model is
//!
//! ```text
//! f(s) = c0 + Σ_j a_j · exp(-s · r_j)        (s = time since the last event, r_j > 0)
//! ```
//!
//! (membrane decay, synaptic currents, a decaying adaptive threshold). We want the first tick
//! `k ≥ 0` with `f(k) ≥ 0`, and we must never miss one (Brette 2007, "Exact simulation of
//! integrate-and-fire models with exponential currents", shows why naive Newton steps miss
//! spikes). Each term is monotone in `s`, so on any interval `[a, b]` the maximum of `f` is at
//! most `c0 + Σ_j max(a_j e^{-a r_j}, a_j e^{-b r_j})`. A depth-first branch-and-bound over
//! tick intervals, left first, discards intervals whose bound is below zero and returns the
//! leftmost tick where `f ≥ 0`: it cannot skip a crossing that lands on a tick.
//! (Excursions above threshold that begin and end between two consecutive nanosecond ticks
//! are not seen; the grid is the definition of time in spikeq.)
//!
//! Must not touch: neuron state; it sees only coefficients.

use super::fast_exp::exp;
use crate::time::TICKS_PER_MS;

/// At most this many exponential terms (membrane, two synaptic currents, threshold).
pub const MAX_TERMS: usize = 4;

/// `f(s) = c0 + Σ a_j exp(-s r_j)`, with `s` in ticks and `r_j` in 1/tick.
#[derive(Clone, Debug)]
pub struct ExpSum {
    c0: f64,
    coef: [f64; MAX_TERMS],
    rate_per_tick: [f64; MAX_TERMS],
    n: usize,
}

impl ExpSum {
    /// A constant function `c0`; add terms with [`ExpSum::term`].
    pub fn constant(c0: f64) -> ExpSum {
        ExpSum {
            c0,
            coef: [0.0; MAX_TERMS],
            rate_per_tick: [0.0; MAX_TERMS],
            n: 0,
        }
    }

    /// Adds the term `a · exp(-s / tau)`, with `tau` in milliseconds. Zero terms are skipped.
    pub fn term(mut self, a: f64, tau_ms: f64) -> ExpSum {
        if a != 0.0 {
            assert!(self.n < MAX_TERMS, "too many exponential terms");
            self.coef[self.n] = a;
            self.rate_per_tick[self.n] = 1.0 / (tau_ms * TICKS_PER_MS as f64);
            self.n += 1;
        }
        self
    }

    /// The value at `s` ticks.
    pub fn eval(&self, s: i64) -> f64 {
        let s = s as f64;
        let mut v = self.c0;
        for j in 0..self.n {
            v += self.coef[j] * exp(-s * self.rate_per_tick[j]);
        }
        v
    }

    /// `e^{-s r_j}` for every term.
    #[inline]
    fn decays(&self, s: i64) -> [f64; MAX_TERMS] {
        let mut e = [0.0; MAX_TERMS];
        for (e, r) in e.iter_mut().zip(&self.rate_per_tick[..self.n]) {
            *e = exp(-(s as f64) * r);
        }
        e
    }

    /// A tick beyond which `f` keeps the sign of `c0` (so no crossing if `c0 < 0`, surely above
    /// threshold if `c0 > 0`), or `None` if `c0 == 0` and terms remain.
    fn horizon(&self) -> Option<i64> {
        if self.n == 0 {
            return Some(0);
        }
        let r_min = self.rate_per_tick[..self.n]
            .iter()
            .cloned()
            .fold(f64::INFINITY, f64::min);
        // Terms that work against c0's sign: positive ones if c0 < 0, negative ones if c0 > 0.
        let against: f64 = self.coef[..self.n]
            .iter()
            .filter(|&&c| if self.c0 < 0.0 { c > 0.0 } else { c < 0.0 })
            .map(|c| c.abs())
            .sum();
        if against == 0.0 {
            return Some(0);
        }
        if self.c0 == 0.0 {
            return None;
        }
        // Σ|a_j| e^{-s r_j} <= against · e^{-s r_min} < |c0| once s > ln(against/|c0|)/r_min.
        let s = (against / self.c0.abs()).ln() / r_min;
        Some(if s <= 0.0 {
            0
        } else if s >= 4.0e18 {
            i64::MAX / 2
        } else {
            s.ceil() as i64 + 1
        })
    }

    /// The first tick `k` in `[from, ∞)` with `f(k) ≥ 0`, or `None` if there is none.
    pub fn first_crossing(&self, from: i64) -> Option<i64> {
        if self.eval(from) >= 0.0 {
            return Some(from);
        }
        let hi = match self.horizon() {
            Some(h) if self.c0 > 0.0 => h.max(from),
            Some(h) => {
                if h <= from {
                    return None;
                }
                h
            }
            // c0 == 0: f only approaches 0 from one side; search a long but finite span.
            None => from.saturating_add(1_000_000 * TICKS_PER_MS),
        };
        self.first_crossing_in(from, hi)
    }

    /// The first tick in `[lo, hi]` with `f ≥ 0`, by depth-first branch and bound.
    ///
    /// On each interval `[a, b]` every term is monotone, so its extremes (and those of its
    /// derivative) are at the ends: one pair of exponentials per term gives `f(a)`, an upper
    /// bound of `f` and bounds of `f'`. An interval is discarded when the bound of `f` is
    /// negative, or when `f` is provably non-increasing on it (it starts below zero). When `f`
    /// is provably increasing on an interval whose right end is at or above zero, the crossing
    /// in it is unique and is located by safeguarded regula falsi on integer ticks.
    pub fn first_crossing_in(&self, lo: i64, hi: i64) -> Option<i64> {
        let mut stack: Vec<(i64, i64)> = Vec::with_capacity(64);
        stack.push((lo, hi));
        while let Some((a, b)) = stack.pop() {
            let (ea, eb) = (self.decays(a), self.decays(b));
            let (mut fa, mut fb, mut upper) = (self.c0, self.c0, self.c0);
            let (mut d_lo, mut d_hi) = (0.0f64, 0.0f64);
            for j in 0..self.n {
                let c = self.coef[j];
                fa += c * ea[j];
                fb += c * eb[j];
                // A positive term is largest at the left end, a negative one at the right.
                upper += c * if c > 0.0 { ea[j] } else { eb[j] };
                let (da, db) = (
                    -c * self.rate_per_tick[j] * ea[j],
                    -c * self.rate_per_tick[j] * eb[j],
                );
                d_lo += da.min(db);
                d_hi += da.max(db);
            }
            if fa >= 0.0 {
                return Some(a);
            }
            if a == b || upper < 0.0 || d_hi <= 0.0 {
                continue;
            }
            if d_lo >= 0.0 {
                if fb < 0.0 {
                    continue;
                }
                return Some(self.monotone_root(a, fa, b, fb));
            }
            let mid = a + (b - a) / 2;
            // Right half first on the stack, so the left half is searched first.
            stack.push((mid + 1, b));
            if mid > a {
                stack.push((a + 1, mid));
            }
        }
        None
    }

    /// The smallest tick in `(lo, hi]` with `f ≥ 0`, given `f(lo) < 0 ≤ f(hi)` and `f`
    /// non-decreasing on the interval. Regula falsi guesses, with a bisection every other
    /// step so the number of evaluations is at most twice that of pure bisection.
    fn monotone_root(&self, mut lo: i64, mut f_lo: f64, mut hi: i64, mut f_hi: f64) -> i64 {
        let mut bisect = false;
        while hi - lo > 1 {
            let m = if bisect || f_hi.partial_cmp(&f_lo) != Some(std::cmp::Ordering::Greater) {
                lo + (hi - lo) / 2
            } else {
                let frac = -f_lo / (f_hi - f_lo);
                (lo + ((hi - lo) as f64 * frac).round() as i64).clamp(lo + 1, hi - 1)
            };
            bisect = !bisect;
            let fm = self.eval(m);
            if fm >= 0.0 {
                hi = m;
                f_hi = fm;
            } else {
                lo = m;
                f_lo = fm;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(f: &ExpSum, lo: i64, hi: i64) -> Option<i64> {
        (lo..=hi).find(|&k| f.eval(k) >= 0.0)
    }

    #[test]
    fn single_decay_towards_suprathreshold_level_crosses_at_closed_form_time() {
        // V(s) - θ = 1 - 2 e^{-s/τ} crosses at s = τ ln 2.
        let tau_ms = 10.0;
        let f = ExpSum::constant(1.0).term(-2.0, tau_ms);
        let k = f.first_crossing(0).unwrap();
        let exact = tau_ms * 2f64.ln() * TICKS_PER_MS as f64;
        assert!((k as f64 - exact).abs() <= 1.0, "{k} vs {exact}");
    }

    #[test]
    fn subthreshold_decay_never_crosses() {
        let f = ExpSum::constant(-1.0).term(0.5, 5.0);
        assert_eq!(f.first_crossing(0), None);
    }

    #[test]
    fn bump_that_touches_threshold_is_found() {
        // Difference of exponentials rising above 0 briefly: the first tick matches brute force.
        let f = ExpSum::constant(-1.0).term(5.0, 0.002).term(-3.0, 0.0005);
        let hi = 20_000;
        assert_eq!(f.first_crossing_in(0, hi), brute(&f, 0, hi));
        assert!(f.first_crossing(0).is_some());
    }

    #[test]
    fn matches_brute_force_on_random_sums() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
        for _ in 0..300 {
            let mut f = ExpSum::constant(rng.random_range(-2.0..0.5));
            for _ in 0..3 {
                f = f.term(rng.random_range(-3.0..3.0), rng.random_range(0.0005..0.005));
            }
            let hi = 30_000;
            assert_eq!(f.first_crossing_in(0, hi), brute(&f, 0, hi), "{f:?}");
        }
    }
}
