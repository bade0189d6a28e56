//! Synaptic plasticity applied at events: the STDP family, reward modulation, normalisation.
//!
//! Owns: the rule parameters a projection carries ([`StdpParams`], plain data inside
//! [`crate::network::ProjectionDef`]), the [`PlasticityRule`] trait through which the engine
//! asks a rule for weight changes, and the per-block plastic state (`state`): the weights of a
//! block's incoming plastic synapses, presynaptic traces, postsynaptic traces, eligibility
//! traces and the incoming-synapse index. Must not touch: queues, neuron state, files,
//! model-file syntax.
//!
//! # When rules act
//! Only at events, never on a clock:
//! - **pre**: when a presynaptic spike *arrives* at its synapses (emission + delay), the
//!   synapses deliver their current weight, then are depressed from the target's post traces,
//!   then the presynaptic traces of that arrival are incremented;
//! - **post**: when the target fires, every incoming plastic synapse is potentiated from its
//!   presynaptic traces, then the target's post traces are incremented.
//!
//! The whole delay counts as axonal (as in Brian2): a pair's timing is `t_post - t_arrival`.
//! At one tick, arrivals are applied before thresholds are tested, so a pre arrival and a
//! post spike at the same tick count as pre-before-post (potentiation, `Δt = 0`), never as
//! depression. `docs/semantics.md` states this contract.
//!
//! # Traces without a clock
//! Traces decay exponentially between events and jump at events, so their value at any tick
//! is known in closed form. A presynaptic trace belongs to one *arrival stream*: the synapses
//! of one source neuron's delay group that land in one block, which all see the same arrival
//! times. A postsynaptic trace belongs to a neuron. Both are stored rescaled by
//! `exp((t - epoch) / tau)` per block (like [`crate::neuron::LifDelta`]'s potential), so
//! reading a trace at tick `t` is one multiplication by a factor computed once per tick; the
//! epoch moves forward (every stored value multiplied down) before the factors can overflow.

pub(crate) mod state;

use crate::time::Tick;

/// How spikes are paired ([Morrison, Diesmann & Gerstner 2008], section 4.1).
///
/// [Morrison, Diesmann & Gerstner 2008]: https://doi.org/10.1007/s00422-008-0233-1
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Pairing {
    /// Every pre spike pairs with every post spike: traces jump by 1 at each spike.
    AllToAll,
    /// Symmetric nearest-spike pairing: each spike pairs only with the nearest preceding spike
    /// of the other side: traces are reset to 1 at each spike.
    Nearest,
}

/// The triplet terms of Pfister & Gerstner (2006): a slow presynaptic trace `r2` (`tau_x`)
/// and a slow postsynaptic trace `o2` (`tau_y`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TripletParams {
    /// Time constant of the slow presynaptic trace `r2` \[ms\].
    pub tau_x_ms: f64,
    /// Time constant of the slow postsynaptic trace `o2` \[ms\].
    pub tau_y_ms: f64,
    /// `A3+`: potentiation per (pre trace `r1`) x (post trace `o2` before the post spike).
    pub a3_plus: f64,
    /// `A3-`: depression per (post trace `o1`) x (pre trace `r2` before the pre arrival).
    pub a3_minus: f64,
}

/// Reward modulation: STDP fills an eligibility trace per synapse instead of changing the
/// weight, and a reward `R` delivered at `t` changes every weight by `R · c(t)`
/// (Izhikevich 2007, Frémaux & Gerstner 2016, in the discrete-reward form used for
/// trial-based learning).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RewardParams {
    /// Decay time constant of the eligibility trace \[ms\].
    pub tau_c_ms: f64,
}

/// Synaptic normalisation (homeostasis, as in Diehl & Cook 2015): every `every`, starting at
/// time 0, each target neuron's incoming weights in the projection are scaled to sum to
/// `total` (neurons whose weights sum to zero are left alone).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NormalizeParams {
    /// Target sum of one neuron's incoming weights (weight unit).
    pub total: f64,
    /// Interval between normalisations.
    pub every: Tick,
}

/// Spike-timing-dependent plasticity of one projection: pair or triplet, all-to-all or
/// nearest-spike, with a power-law weight dependence, optionally reward-modulated and
/// normalised.
///
/// Weight changes (Pfister & Gerstner 2006, eqs. 3-4; the pair rule is `triplet: None`):
/// - at a pre arrival: `Δw = -F-(w) · o1 · (A2- + A3- · r2)`;
/// - at a post spike: `Δw = +F+(w) · r1 · (A2+ + A3+ · o2)`,
///
/// with `r2`, `o2` read just before the spike's own increment. The weight dependence is
/// Gütig et al. (2003): `F+(w) = (1 - ŵ)^mu_plus`, `F-(w) = ŵ^mu_minus` with
/// `ŵ = (w - w_min) / (w_max - w_min)`: `mu = 0` additive (with hard bounds), `mu = 1`
/// multiplicative; `mu_plus = 0, mu_minus = 1` is van Rossum et al. (2000). After each change
/// the weight is clipped to `[w_min, w_max]`.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StdpParams {
    /// Time constant of the presynaptic trace `r1` (potentiation window) \[ms\].
    pub tau_plus_ms: f64,
    /// Time constant of the postsynaptic trace `o1` (depression window) \[ms\].
    pub tau_minus_ms: f64,
    /// `A2+`: pair potentiation amplitude (weight unit).
    pub a_plus: f64,
    /// `A2-`: pair depression amplitude, a magnitude (weight unit).
    pub a_minus: f64,
    /// Triplet terms, `None` for the pair rule.
    pub triplet: Option<TripletParams>,
    /// Spike pairing scheme.
    pub pairing: Pairing,
    /// Exponent of the potentiation weight dependence (0: additive).
    pub mu_plus: f64,
    /// Exponent of the depression weight dependence (0: additive).
    pub mu_minus: f64,
    /// Lower weight bound (may be `-inf` for an additive rule).
    pub w_min: f64,
    /// Upper weight bound (may be `+inf` for an additive rule).
    pub w_max: f64,
    /// Reward modulation, if any.
    pub reward: Option<RewardParams>,
    /// Synaptic normalisation, if any.
    pub normalize: Option<NormalizeParams>,
}

/// Why plasticity parameters were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlasticityError {
    /// A time constant that must be positive and finite is not.
    #[error("{name} must be a positive time, got {value} ms")]
    NonPositiveTime {
        /// Parameter name as in model files.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// A parameter that must be finite is not.
    #[error("{name} must be finite, got {value}")]
    NotFinite {
        /// Parameter name as in model files.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// The bounds are out of order, or infinite under a weight-dependent rule.
    #[error("{0}")]
    Bounds(String),
    /// The projection's initial weights leave the bounds.
    #[error("initial weight {weight} is outside [w_min, w_max] = [{w_min}, {w_max}]")]
    InitialWeight {
        /// The offending weight.
        weight: f64,
        /// Lower bound.
        w_min: f64,
        /// Upper bound.
        w_max: f64,
    },
    /// Another projection joins the same two populations.
    #[error(
        "a plastic projection must be the only projection from `{from}` to `{to}`: merge the two or split a population"
    )]
    SharedPopulations {
        /// Source population.
        from: String,
        /// Target population.
        to: String,
    },
    /// The target population's model accepts no input.
    #[error("the target population `{0}` is a generator and has no synapses to learn")]
    GeneratorTarget(String),
    /// A reward projection that does not fit its plastic projection.
    #[error("reward projection: {0}")]
    Reward(String),
    /// A normalisation interval that is not positive.
    #[error("normalize.every must be positive")]
    NormalizeInterval,
}

impl StdpParams {
    /// The pair rule with additive weight dependence, all-to-all pairing, clipped to
    /// `[w_min, w_max]`.
    pub fn pair_additive(
        tau_plus_ms: f64,
        tau_minus_ms: f64,
        a_plus: f64,
        a_minus: f64,
        w_min: f64,
        w_max: f64,
    ) -> Self {
        StdpParams {
            tau_plus_ms,
            tau_minus_ms,
            a_plus,
            a_minus,
            triplet: None,
            pairing: Pairing::AllToAll,
            mu_plus: 0.0,
            mu_minus: 0.0,
            w_min,
            w_max,
            reward: None,
            normalize: None,
        }
    }

    /// A published triplet parameter set of Pfister & Gerstner (2006, Table 4, minimal
    /// models excluded), amplitudes scaled by `w_max` (the paper's weights are relative):
    /// `"visual_cortex"` (Sjöström et al. 2001 data) or `"hippocampal"` (Bi & Poo 1998,
    /// Wang et al. 2005 data), for the given pairing. `tau_plus` 16.8 ms, `tau_minus` 33.7 ms.
    pub fn triplet_preset(name: &str, pairing: Pairing, w_min: f64, w_max: f64) -> Option<Self> {
        // (tau_x, tau_y, A2+, A3+, A2-, A3-)
        let (tx, ty, a2p, a3p, a2m, a3m) = match (name, pairing) {
            ("visual_cortex", Pairing::AllToAll) => (101.0, 125.0, 5e-10, 6.2e-3, 7e-3, 2.3e-4),
            ("visual_cortex", Pairing::Nearest) => (714.0, 40.0, 8.8e-11, 5.3e-2, 6.6e-3, 3.1e-3),
            ("hippocampal", Pairing::AllToAll) => (946.0, 27.0, 6.1e-3, 6.7e-3, 1.6e-3, 1.4e-3),
            ("hippocampal", Pairing::Nearest) => (575.0, 47.0, 4.6e-3, 9.1e-3, 3e-3, 7.5e-9),
            _ => return None,
        };
        let scale = if w_max.is_finite() { w_max } else { 1.0 };
        Some(StdpParams {
            triplet: Some(TripletParams {
                tau_x_ms: tx,
                tau_y_ms: ty,
                a3_plus: a3p * scale,
                a3_minus: a3m * scale,
            }),
            pairing,
            ..StdpParams::pair_additive(16.8, 33.7, a2p * scale, a2m * scale, w_min, w_max)
        })
    }

    /// Checks time constants, finiteness and bounds.
    pub fn validate(&self) -> Result<(), PlasticityError> {
        let pos = |name, value: f64| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(PlasticityError::NonPositiveTime { name, value })
            }
        };
        let fin = |name, value: f64| {
            if value.is_finite() {
                Ok(())
            } else {
                Err(PlasticityError::NotFinite { name, value })
            }
        };
        pos("tau_plus", self.tau_plus_ms)?;
        pos("tau_minus", self.tau_minus_ms)?;
        fin("a_plus", self.a_plus)?;
        fin("a_minus", self.a_minus)?;
        fin("mu_plus", self.mu_plus)?;
        fin("mu_minus", self.mu_minus)?;
        if let Some(t) = &self.triplet {
            pos("tau_x", t.tau_x_ms)?;
            pos("tau_y", t.tau_y_ms)?;
            fin("a3_plus", t.a3_plus)?;
            fin("a3_minus", t.a3_minus)?;
        }
        if let Some(r) = &self.reward {
            pos("reward.tau_c", r.tau_c_ms)?;
        }
        if let Some(n) = &self.normalize {
            fin("normalize.total", n.total)?;
            if n.every <= Tick::ZERO {
                return Err(PlasticityError::NormalizeInterval);
            }
        }
        if self.w_min.is_nan() || self.w_max.is_nan() || self.w_min > self.w_max {
            return Err(PlasticityError::Bounds(format!(
                "w_min ({}) must not exceed w_max ({})",
                self.w_min, self.w_max
            )));
        }
        let dependent = self.mu_plus != 0.0 || self.mu_minus != 0.0;
        if dependent
            && !(self.w_min.is_finite() && self.w_max.is_finite() && self.w_max > self.w_min)
        {
            return Err(PlasticityError::Bounds(
                "a weight-dependent rule (mu_plus or mu_minus not 0) needs finite w_min < w_max"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// What the engine asks of a plasticity rule. Traces are handed over already decayed to the
/// event's tick; the rule returns the change of the weight (before clipping), so that reward
/// modulation can route it to the eligibility trace instead.
pub trait PlasticityRule: std::fmt::Debug + Send + Sync {
    /// Change at a pre arrival, from the weight, the target's fast post trace `o1` and the
    /// stream's slow pre trace `r2` read before this arrival's increment.
    fn on_pre(&self, w: f64, o1: f64, r2_before: f64) -> f64;
    /// Change at a post spike, from the weight, the stream's fast pre trace `r1` and the
    /// target's slow post trace `o2` read before this spike's increment.
    fn on_post(&self, w: f64, r1: f64, o2_before: f64) -> f64;
}

impl StdpParams {
    /// The same rule with every amplitude (`A2+`, `A2-`, `A3+`, `A3-`) multiplied by
    /// `factor`: a learning rate schedule changes the amplitudes, never the time constants.
    pub fn with_amplitudes_scaled(mut self, factor: f64) -> StdpParams {
        self.a_plus *= factor;
        self.a_minus *= factor;
        if let Some(t) = &mut self.triplet {
            t.a3_plus *= factor;
            t.a3_minus *= factor;
        }
        self
    }

    #[inline]
    fn w_hat(&self, w: f64) -> f64 {
        ((w - self.w_min) / (self.w_max - self.w_min)).clamp(0.0, 1.0)
    }
}

/// `x^mu` with the two common exponents without a `powf` (and `0^0 = 1`).
#[inline]
fn pow_mu(x: f64, mu: f64) -> f64 {
    if mu == 0.0 {
        1.0
    } else if mu == 1.0 {
        x
    } else {
        x.powf(mu)
    }
}

impl PlasticityRule for StdpParams {
    #[inline]
    fn on_pre(&self, w: f64, o1: f64, r2_before: f64) -> f64 {
        let a3 = self.triplet.map_or(0.0, |t| t.a3_minus);
        let f = if self.mu_minus == 0.0 {
            1.0
        } else {
            pow_mu(self.w_hat(w), self.mu_minus)
        };
        -f * o1 * (self.a_minus + a3 * r2_before)
    }

    #[inline]
    fn on_post(&self, w: f64, r1: f64, o2_before: f64) -> f64 {
        let a3 = self.triplet.map_or(0.0, |t| t.a3_plus);
        let f = if self.mu_plus == 0.0 {
            1.0
        } else {
            pow_mu(1.0 - self.w_hat(w), self.mu_plus)
        };
        f * r1 * (self.a_plus + a3 * o2_before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> StdpParams {
        StdpParams::pair_additive(20.0, 20.0, 0.01, 0.0105, 0.0, 1.0)
    }

    #[test]
    fn additive_changes_ignore_the_weight() {
        let p = base();
        assert_eq!(p.on_post(0.2, 0.5, 0.0), 0.005);
        assert_eq!(p.on_post(0.9, 0.5, 0.0), 0.005);
        assert_eq!(p.on_pre(0.9, 2.0, 0.0), -0.021);
    }

    #[test]
    fn multiplicative_changes_scale_with_the_distance_to_the_bound() {
        let p = StdpParams {
            mu_plus: 1.0,
            mu_minus: 1.0,
            ..base()
        };
        assert!((p.on_post(0.75, 1.0, 0.0) - 0.01 * 0.25).abs() < 1e-15);
        assert!((p.on_pre(0.75, 1.0, 0.0) + 0.0105 * 0.75).abs() < 1e-15);
        // Gütig's intermediate exponent.
        let g = StdpParams {
            mu_plus: 0.5,
            mu_minus: 0.5,
            ..base()
        };
        assert!((g.on_post(0.75, 1.0, 0.0) - 0.01 * 0.5).abs() < 1e-15);
    }

    #[test]
    fn triplet_terms_use_the_slow_traces() {
        let p = StdpParams::triplet_preset("visual_cortex", Pairing::AllToAll, 0.0, 1.0).unwrap();
        let t = p.triplet.unwrap();
        let dp = p.on_post(0.5, 0.8, 0.3);
        assert!((dp - 0.8 * (p.a_plus + t.a3_plus * 0.3)).abs() < 1e-15);
        let dm = p.on_pre(0.5, 0.4, 0.7);
        assert!((dm + 0.4 * (p.a_minus + t.a3_minus * 0.7)).abs() < 1e-15);
    }

    #[test]
    fn validation_names_the_problem() {
        let mut p = base();
        p.tau_plus_ms = 0.0;
        assert!(p.validate().unwrap_err().to_string().contains("tau_plus"));
        let mut p = base();
        p.mu_minus = 1.0;
        p.w_max = f64::INFINITY;
        assert!(p.validate().unwrap_err().to_string().contains("finite"));
        let mut p = base();
        p.w_min = 2.0;
        assert!(p.validate().is_err());
        assert!(base().validate().is_ok());
        assert!(StdpParams::triplet_preset("cortex", Pairing::Nearest, 0.0, 1.0).is_none());
    }
}
