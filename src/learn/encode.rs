//! Encoders: values in `[0, 1]` to spike trains, one sorted, duplicate-free list of [`Tick`]s
//! per input neuron, ready for [`crate::network::NeuronKind::SpikeTimes`].
//!
//! Values outside `[0, 1]` (and NaN) are clamped into it (NaN counts as 0).

use crate::Tick;
use crate::time::TICKS_PER_MS;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// One spike train per input neuron.
pub type SpikeTrains = Vec<Vec<Tick>>;

fn clamp01(x: f32) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(0.0, 1.0) as f64
    }
}

/// Milliseconds to ticks, rounded down (for spike times inside a window).
fn ticks_floor(ms: f64) -> Tick {
    Tick((ms * TICKS_PER_MS as f64).floor() as i64)
}

/// Poisson rate coding: input `i` fires as a Poisson process of rate `x_i · max_rate_hz` in
/// `[0, duration)`. Spike times are continuous draws rounded down to the tick; two draws on
/// one tick make one spike. Reproducible for a given `seed`.
pub fn poisson(values: &[f32], max_rate_hz: f64, duration: Tick, seed: u64) -> SpikeTrains {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let duration_ms = duration.as_ms();
    values
        .iter()
        .map(|&x| {
            let rate_per_ms = clamp01(x) * max_rate_hz / 1000.0;
            let mut train = Vec::new();
            if rate_per_ms <= 0.0 || !rate_per_ms.is_finite() {
                return train;
            }
            let mut t_ms = 0.0;
            loop {
                // Exponential interval by inversion; 1 - u lies in (0, 1].
                let u: f64 = rng.random();
                t_ms += -(1.0 - u).ln() / rate_per_ms;
                if t_ms >= duration_ms {
                    break;
                }
                let t = ticks_floor(t_ms);
                if train.last() != Some(&t) {
                    train.push(t);
                }
            }
            train
        })
        .collect()
}

/// Regular rate coding: input `i` fires every `1 / (x_i · max_rate_hz)`, at
/// `k / (x_i · max_rate_hz)` for `k = 1, 2, …` while below `duration` (rounded down to the
/// tick); zero never fires. The count in `[0, T)` is `⌈T · rate⌉ - 1`, i.e. `⌊T · rate⌋`
/// unless `T · rate` is an integer.
pub fn regular(values: &[f32], max_rate_hz: f64, duration: Tick) -> SpikeTrains {
    let duration_ms = duration.as_ms();
    values
        .iter()
        .map(|&x| {
            let rate_per_ms = clamp01(x) * max_rate_hz / 1000.0;
            let mut train = Vec::new();
            if rate_per_ms <= 0.0 || !rate_per_ms.is_finite() {
                return train;
            }
            let period_ms = 1.0 / rate_per_ms;
            let mut k = 1.0;
            while k * period_ms < duration_ms {
                let t = ticks_floor(k * period_ms);
                if train.last() != Some(&t) {
                    train.push(t);
                }
                k += 1.0;
            }
            train
        })
        .collect()
}

/// Time-to-first-spike (latency) coding: input `i` fires once, at `(1 - x_i) · t_max` (rounded
/// down to the tick), so the brightest inputs fire first and `x = 1` fires at 0; zero never
/// fires.
pub fn latency(values: &[f32], t_max: Tick) -> SpikeTrains {
    values
        .iter()
        .map(|&x| {
            let x = clamp01(x);
            if x <= 0.0 {
                Vec::new()
            } else {
                vec![ticks_floor((1.0 - x) * t_max.as_ms())]
            }
        })
        .collect()
}

/// Spike-time coding of Yin-Yang samples (Göltz et al. 2021).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct YinYangTiming {
    /// The time of a coordinate equal to 0 \[ms\].
    pub t_early_ms: f64,
    /// The time of a coordinate equal to 1 \[ms\].
    pub t_late_ms: f64,
    /// The time of the bias spike \[ms\].
    pub t_bias_ms: f64,
}

impl Default for YinYangTiming {
    /// Göltz et al. (2021): `t_early = 0.15`, `t_late = 2`, bias at `0.9`, in units of the
    /// synaptic time constant, read here as milliseconds.
    fn default() -> Self {
        YinYangTiming {
            t_early_ms: 0.15,
            t_late_ms: 2.0,
            t_bias_ms: 0.9,
        }
    }
}

/// One spike per coordinate at `t_early + x · (t_late - t_early)` (rounded down to the tick),
/// then a fifth input with the bias spike: 5 trains.
pub fn yin_yang_times(sample: &[f64; 4], timing: &YinYangTiming) -> SpikeTrains {
    let span = timing.t_late_ms - timing.t_early_ms;
    let mut trains: SpikeTrains = sample
        .iter()
        .map(|&x| {
            let x = if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) };
            vec![ticks_floor(timing.t_early_ms + x * span)]
        })
        .collect();
    trains.push(vec![ticks_floor(timing.t_bias_ms)]);
    trains
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: f64) -> Tick {
        Tick::from_ms(v).unwrap()
    }

    fn sorted_unique(t: &SpikeTrains) -> bool {
        t.iter().all(|tr| tr.windows(2).all(|w| w[0] < w[1]))
    }

    #[test]
    fn poisson_count_matches_rate_within_five_sigma() {
        // 2000 inputs at 0.5 × 200 Hz for 1 s: each count is Poisson(100), the total
        // Poisson(200,000) with standard deviation 447; 5 sigma is 2,236.
        let values = vec![0.5f32; 2000];
        let trains = poisson(&values, 200.0, ms(1000.0), 7);
        assert!(sorted_unique(&trains));
        let total: usize = trains.iter().map(Vec::len).sum();
        let expected = 2000.0 * 100.0;
        assert!(
            (total as f64 - expected).abs() < 5.0 * expected.sqrt(),
            "total {total}, expected {expected}"
        );
        // The variance of the counts is the mean's (Fano factor 1): the sample variance of
        // 2000 Poisson(100) counts has standard error ≈ 100·sqrt(2/1999) ≈ 3.2.
        let mean = total as f64 / 2000.0;
        let var = trains
            .iter()
            .map(|t| (t.len() as f64 - mean).powi(2))
            .sum::<f64>()
            / 1999.0;
        assert!((var - 100.0).abs() < 5.0 * 3.2, "variance {var}");
        assert!(trains.iter().flatten().all(|&t| t < ms(1000.0)));
        // Zero never fires; seeds reproduce and differ.
        assert!(poisson(&[0.0], 1e6, ms(100.0), 1)[0].is_empty());
        assert_eq!(trains, poisson(&values, 200.0, ms(1000.0), 7));
        assert_ne!(trains, poisson(&values, 200.0, ms(1000.0), 8));
    }

    #[test]
    fn regular_spikes_at_multiples_of_the_period() {
        let trains = regular(&[1.0, 0.25, 0.0], 1000.0, ms(10.0));
        assert_eq!(trains[0], (1..10).map(|k| ms(k as f64)).collect::<Vec<_>>());
        assert_eq!(trains[1], vec![ms(4.0), ms(8.0)]);
        assert!(trains[2].is_empty());
    }

    #[test]
    fn latency_brightest_first_at_exact_times() {
        let trains = latency(&[1.0, 0.5, 0.0, 0.25, 2.0], ms(8.0));
        assert_eq!(trains[0], vec![Tick::ZERO]);
        assert_eq!(trains[1], vec![ms(4.0)]);
        assert!(trains[2].is_empty());
        assert_eq!(trains[3], vec![ms(6.0)]);
        assert_eq!(trains[4], vec![Tick::ZERO], "clamped to 1");
    }

    #[test]
    fn yin_yang_maps_coordinates_linearly_and_adds_the_bias() {
        let timing = YinYangTiming {
            t_early_ms: 1.0,
            t_late_ms: 3.0,
            t_bias_ms: 1.5,
        };
        let trains = yin_yang_times(&[0.0, 1.0, 0.25, 0.75], &timing);
        assert_eq!(
            trains,
            vec![
                vec![ms(1.0)],
                vec![ms(3.0)],
                vec![ms(1.5)],
                vec![ms(2.5)],
                vec![ms(1.5)]
            ]
        );
    }
}
