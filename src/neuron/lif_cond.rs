//! Conductance-based leaky integrate-and-fire neuron with exponentially decaying excitatory
//! and inhibitory conductances (Song, Miller & Abbott 2000; Diehl & Cook 2015).
//!
//! ```text
//! tau_m dV/dt = -(V - v_rest) - g_ex (V - e_ex) - g_in (V - e_in) + bias
//! g_ex(t) = g_ex(t0) e^{-(t - t0)/tau_syn_ex},   g_in likewise
//! ```
//! Conductances are in units of the leak conductance (dimensionless); an input of weight
//! `w > 0` adds `w` to `g_ex`, `w < 0` adds `|w|` to `g_in`. While refractory, `V` is held at
//! `v_reset` and the conductances keep decaying and summing inputs.
//!
//! Integration: the conductances are exact; `V` has no elementary closed form when the two
//! synaptic time constants differ, so it is integrated by classical Runge-Kutta with step
//! doubling, each step accepted only when the two estimates differ by less than
//! [`STEP_TOLERANCE_MV`] (local error of the accepted, Richardson-corrected step is far below
//! that). Crossings are bracketed, never missed: with
//! `V_eff = (v_rest + bias + g_ex e_ex + g_in e_in) / (1 + g_ex + g_in)`, the membrane relaxes
//! towards `V_eff`, so on an interval `V ≤ max(V(start), sup V_eff)`; `V_eff` is monotone in
//! each conductance, so its supremum over an interval is at a corner of the box spanned by the
//! conductances at its ends. A step whose end is below threshold and whose bound is below
//! threshold cannot contain a crossing; otherwise it is split until it is one tick long.

use super::{
    Crossing, LifParams, NeuronModel, ParamError, check_finite, check_positive_ms, ms_between,
};
use crate::time::Tick;

/// Step-doubling acceptance threshold for one integration step \[mV\].
pub const STEP_TOLERANCE_MV: f64 = 1e-9;

/// Conductance parameters of [`LifCond`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CondParams {
    /// Excitatory reversal potential \[mV\].
    pub e_ex_mv: f64,
    /// Inhibitory reversal potential \[mV\].
    pub e_in_mv: f64,
    /// Decay of the excitatory conductance \[ms\].
    pub tau_syn_ex_ms: f64,
    /// Decay of the inhibitory conductance \[ms\].
    pub tau_syn_in_ms: f64,
}

impl CondParams {
    /// Checks finiteness and positive time constants.
    pub fn validate(&self) -> Result<(), ParamError> {
        check_finite("e_ex", self.e_ex_mv)?;
        check_finite("e_in", self.e_in_mv)?;
        check_positive_ms("tau_syn_ex", self.tau_syn_ex_ms)?;
        check_positive_ms("tau_syn_in", self.tau_syn_in_ms)
    }
}

#[derive(Clone, Copy, Debug)]
struct State {
    v: f64,
    g_ex: f64,
    g_in: f64,
    t: Tick,
}

/// A block of `lif_cond` neurons.
#[derive(Debug, Clone)]
pub struct LifCond {
    p: LifParams,
    c: CondParams,
    state: Vec<State>,
    bias: Vec<f64>,
    ref_end: Vec<Tick>,
}

impl LifCond {
    /// A block with initial potentials and drives \[mV\], starting at `t0` without conductance.
    pub fn new(
        p: LifParams,
        c: CondParams,
        v_init_mv: &[f64],
        bias_mv: &[f64],
        t0: Tick,
    ) -> Result<Self, ParamError> {
        p.validate()?;
        c.validate()?;
        Ok(LifCond {
            p,
            c,
            state: v_init_mv
                .iter()
                .map(|&v| State {
                    v,
                    g_ex: 0.0,
                    g_in: 0.0,
                    t: t0,
                })
                .collect(),
            bias: bias_mv.to_vec(),
            ref_end: vec![Tick(i64::MIN); v_init_mv.len()],
        })
    }

    fn dv(&self, bias: f64, v: f64, g_ex: f64, g_in: f64) -> f64 {
        (-(v - self.p.v_rest_mv) - g_ex * (v - self.c.e_ex_mv) - g_in * (v - self.c.e_in_mv) + bias)
            / self.p.tau_m_ms
    }

    fn decay(&self, s: &mut State, to: Tick) {
        let dt = ms_between(s.t, to);
        s.g_ex *= (-dt / self.c.tau_syn_ex_ms).exp();
        s.g_in *= (-dt / self.c.tau_syn_in_ms).exp();
        s.t = to;
    }

    /// One classical RK4 step of `h_ms` for `V` (conductances exact inside the stages).
    fn rk4(&self, bias: f64, s: &State, h_ms: f64) -> f64 {
        let (te, ti) = (self.c.tau_syn_ex_ms, self.c.tau_syn_in_ms);
        let g = |x: f64| (s.g_ex * (-x / te).exp(), s.g_in * (-x / ti).exp());
        let (ge0, gi0) = (s.g_ex, s.g_in);
        let (ge1, gi1) = g(h_ms / 2.0);
        let (ge2, gi2) = g(h_ms);
        let k1 = self.dv(bias, s.v, ge0, gi0);
        let k2 = self.dv(bias, s.v + h_ms / 2.0 * k1, ge1, gi1);
        let k3 = self.dv(bias, s.v + h_ms / 2.0 * k2, ge1, gi1);
        let k4 = self.dv(bias, s.v + h_ms * k3, ge2, gi2);
        s.v + h_ms / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    }

    /// `V` after `to - s.t` of free evolution (no refractoriness), by accepted RK4 steps.
    fn integrate(&self, bias: f64, s: &State, to: Tick) -> State {
        let mut cur = *s;
        let mut h = Tick(((self.min_tau_ms() / 4.0) * 1e6) as i64).max(Tick::ONE);
        while cur.t < to {
            let step = h.min(to - cur.t);
            let h_ms = step.as_ms();
            let full = self.rk4(bias, &cur, h_ms);
            let mut half = cur;
            half.v = self.rk4(bias, &cur, h_ms / 2.0);
            self.decay(&mut half, cur.t + Tick(step.0 / 2));
            let half_ms = (step - Tick(step.0 / 2)).as_ms();
            let two_halves = self.rk4(bias, &half, half_ms);
            if (two_halves - full).abs() > STEP_TOLERANCE_MV && step.0 > 1 {
                h = Tick((step.0 / 2).max(1));
                continue;
            }
            // Richardson extrapolation of the two estimates (RK4: error ratio 16).
            let v = two_halves + (two_halves - full) / 15.0;
            let to = cur.t + step;
            self.decay(&mut cur, to);
            cur.v = v;
            if (two_halves - full).abs() < STEP_TOLERANCE_MV / 64.0 {
                h = Tick(step.0.saturating_mul(2));
            }
        }
        cur
    }

    fn min_tau_ms(&self) -> f64 {
        self.p
            .tau_m_ms
            .min(self.c.tau_syn_ex_ms)
            .min(self.c.tau_syn_in_ms)
    }

    /// Upper bound of `V_eff` over an interval whose conductances lie in `[lo, hi]` boxes.
    fn v_eff_bound(&self, bias: f64, ge: (f64, f64), gi: (f64, f64)) -> f64 {
        let mut m = f64::NEG_INFINITY;
        for e in [ge.0, ge.1] {
            for i in [gi.0, gi.1] {
                let v = (self.p.v_rest_mv + bias + e * self.c.e_ex_mv + i * self.c.e_in_mv)
                    / (1.0 + e + i);
                m = m.max(v);
            }
        }
        m
    }

    /// The state of neuron `i` at `t`, honouring refractoriness.
    fn advanced(&self, i: usize, t: Tick) -> State {
        let mut s = self.state[i];
        if t <= s.t {
            return s;
        }
        let ref_end = self.ref_end[i];
        if s.t < ref_end {
            self.decay(&mut s, t.min(ref_end));
            s.v = self.p.v_reset_mv;
            if t <= ref_end {
                return s;
            }
        }
        self.integrate(self.bias[i], &s, t)
    }

    /// The first tick after `t` (or at the end of refractoriness) with `V ≥ v_th`.
    ///
    /// Steps forward from the current state, accepting a step only when it provably holds no
    /// crossing: on `[s, s + h]`, with `M` the supremum of `V_eff` and `G` that of
    /// `g_ex + g_in`, `V` stays below the trajectory `M - (M - V_s) e^{-(1+G) x / tau_m}`, which
    /// reaches `v_th` only after `x* = tau_m/(1+G) ln((M - V_s)/(M - v_th))`. Steps are cut to
    /// `x*`; a one-tick step ending at or above threshold is the crossing.
    fn predict(&self, i: usize, t: Tick) -> Crossing {
        let bias = self.bias[i];
        let start = t.max(self.ref_end[i]);
        let mut s = self.advanced(i, start);
        let th = self.p.v_th_mv;
        if start > t && s.v >= th {
            return Crossing::At(start);
        }
        let max_step = Tick(((self.min_tau_ms() * 4.0) * 1e6) as i64).max(Tick::ONE);
        let mut h = Tick(((self.min_tau_ms() / 2.0) * 1e6) as i64).max(Tick::ONE);
        loop {
            // No crossing ever: V below threshold and below every V_eff still to come.
            if s.v < th && self.v_eff_bound(bias, (0.0, s.g_ex), (0.0, s.g_in)) < th {
                return Crossing::Never;
            }
            if s.t.saturating_add(h) == Tick::MAX {
                return Crossing::Never;
            }
            let e = self.integrate(bias, &s, s.t + h);
            if e.v >= th {
                if h == Tick::ONE {
                    return Crossing::At(e.t);
                }
                h = Tick(h.0 / 2);
                continue;
            }
            let m = self.v_eff_bound(bias, (e.g_ex, s.g_ex), (e.g_in, s.g_in));
            let safe_ticks = if m <= th {
                i64::MAX
            } else {
                let g_max = s.g_ex + s.g_in;
                let x_ms = self.p.tau_m_ms / (1.0 + g_max) * ((m - s.v) / (m - th)).ln();
                (x_ms * 1e6).floor().min(i64::MAX as f64 / 2.0) as i64
            };
            if safe_ticks >= h.0 || h == Tick::ONE {
                s = e;
                h = Tick(h.0.saturating_mul(2)).min(max_step);
            } else if safe_ticks >= 1 {
                // The bound holds on the shorter step too: take exactly the safe part.
                h = Tick(safe_ticks);
                s = self.integrate(bias, &s, s.t + h);
                // The bound allows V to touch v_th exactly at its end.
                if s.v >= th {
                    return Crossing::At(s.t);
                }
            } else {
                h = Tick::ONE;
            }
        }
    }
}

impl NeuronModel for LifCond {
    fn len(&self) -> usize {
        self.state.len()
    }

    fn receive(
        &mut self,
        t: Tick,
        first: u32,
        targets: &[u32],
        weights: &[f32],
        touched: &mut Vec<u32>,
    ) {
        for (&target, &w) in targets.iter().zip(weights) {
            let i = (target - first) as usize;
            self.state[i] = self.advanced(i, t);
            let s = &mut self.state[i];
            if w >= 0.0 {
                s.g_ex += w as f64
            } else {
                s.g_in -= w as f64
            }
            touched.push(i as u32);
        }
    }

    fn check_threshold(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        self.state[i] = self.advanced(i, t);
        if t >= self.ref_end[i] && self.state[i].v >= self.p.v_th_mv {
            return Crossing::Now;
        }
        self.predict(i, t)
    }

    fn fire(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        self.state[i] = self.advanced(i, t);
        self.state[i].v = self.p.v_reset_mv;
        self.ref_end[i] = t.saturating_add(self.p.t_ref);
        self.predict(i, t)
    }

    fn add_bias(&mut self, t: Tick, delta: f64, touched: &mut Vec<u32>) {
        for i in 0..self.state.len() {
            self.state[i] = self.advanced(i, t);
            self.bias[i] += delta;
            touched.push(i as u32);
        }
    }

    fn potential_mv(&self, i: u32, t: Tick) -> f64 {
        self.advanced(i as usize, t).v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> (LifParams, CondParams) {
        (
            LifParams {
                tau_m_ms: 10.0,
                v_rest_mv: -74.0,
                v_reset_mv: -60.0,
                v_th_mv: -54.0,
                t_ref: Tick::ZERO,
            },
            CondParams {
                e_ex_mv: 0.0,
                e_in_mv: -80.0,
                tau_syn_ex_ms: 5.0,
                tau_syn_in_ms: 10.0,
            },
        )
    }

    #[test]
    fn matches_fine_euler_integration() {
        let (p, c) = params();
        let mut n = LifCond::new(p, c, &[-70.0], &[0.0], Tick::ZERO).unwrap();
        let mut touched = vec![];
        n.receive(Tick::ZERO, 0, &[0], &[0.3], &mut touched);
        n.receive(Tick::ZERO, 0, &[0], &[-0.2], &mut touched);
        let (mut v, mut ge, mut gi, dt) = (-70.0f64, 0.3f64, 0.2f64, 1e-5);
        for _ in 0..800_000 {
            v += dt * (-(v + 74.0) - ge * v - gi * (v + 80.0)) / 10.0;
            ge -= dt * ge / 5.0;
            gi -= dt * gi / 10.0;
        }
        let got = n.potential_mv(0, Tick::from_ms(8.0).unwrap());
        assert!((got - v).abs() < 1e-4, "{got} vs {v}");
    }

    #[test]
    fn a_strong_input_crosses_and_a_weak_one_never_does() {
        let (p, c) = params();
        let mut n = LifCond::new(p, c, &[-74.0, -74.0], &[0.0, 0.0], Tick::ZERO).unwrap();
        let mut touched = vec![];
        // g_ex = 2 from rest peaks near -46.7 mV and crosses -54 mV at 2.2275 ms (Euler,
        // 0.1 µs steps); g_ex = 1 peaks at -58.2 mV and never crosses.
        n.receive(Tick::ZERO, 0, &[0, 1], &[2.0, 1.0], &mut touched);
        let Crossing::At(t) = n.check_threshold(0, Tick::ZERO) else {
            panic!("strong input must cross")
        };
        assert!((t.as_ms() - 2.2275).abs() < 2e-4, "crossing at {t}");
        // At the predicted tick V is at threshold, one tick before it is not.
        assert!(n.potential_mv(0, t) >= -54.0 - 1e-7);
        assert!(n.potential_mv(0, t - Tick::ONE) < -54.0 + 1e-6);
        assert_eq!(n.check_threshold(1, Tick::ZERO), Crossing::Never);
    }
}
