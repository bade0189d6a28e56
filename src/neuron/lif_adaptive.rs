//! Leaky integrate-and-fire neuron with delta synapses and an adaptive threshold, the
//! excitatory unit of STDP learning networks (Diehl & Cook 2015 use `theta`).
//!
//! `V` follows [`super::LifDelta`]'s dynamics; the threshold is `v_th + theta(t)`, where
//! `theta` jumps by `theta_plus` at each spike and decays with `tau_theta`. Because the
//! threshold moves between inputs, the crossing is predicted with [`super::crossing`]:
//! `V(s) - v_th - theta(s) = (v_inf - v_th) + (V - v_inf) e^{-s/tau_m} - theta e^{-s/tau_theta}`.

use super::crossing::ExpSum;
use super::{
    Crossing, LifParams, NeuronModel, ParamError, check_finite, check_positive_ms, ms_between,
};
use crate::time::Tick;

/// Threshold adaptation of [`LifAdaptive`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdaptationParams {
    /// Threshold increase per spike \[mV\].
    pub theta_plus_mv: f64,
    /// Decay time constant of the threshold increase \[ms\].
    pub tau_theta_ms: f64,
}

impl AdaptationParams {
    /// Checks a finite threshold step and a positive decay time.
    pub fn validate(&self) -> Result<(), ParamError> {
        check_finite("theta_plus", self.theta_plus_mv)?;
        check_positive_ms("tau_theta", self.tau_theta_ms)
    }
}

#[derive(Clone, Copy, Debug)]
struct State {
    v: f64,
    theta: f64,
    t_last: Tick,
}

/// A block of `lif_adaptive` neurons.
#[derive(Debug, Clone)]
pub struct LifAdaptive {
    p: LifParams,
    a: AdaptationParams,
    state: Vec<State>,
    bias: Vec<f64>,
    ref_end: Vec<Tick>,
}

impl LifAdaptive {
    /// A block with initial potentials and drives \[mV\], starting at `t0` with `theta = 0`.
    pub fn new(
        p: LifParams,
        a: AdaptationParams,
        v_init_mv: &[f64],
        bias_mv: &[f64],
        t0: Tick,
    ) -> Result<Self, ParamError> {
        p.validate()?;
        a.validate()?;
        Ok(LifAdaptive {
            p,
            a,
            state: v_init_mv
                .iter()
                .map(|&v| State {
                    v,
                    theta: 0.0,
                    t_last: t0,
                })
                .collect(),
            bias: bias_mv.to_vec(),
            ref_end: vec![Tick(i64::MIN); v_init_mv.len()],
        })
    }

    /// The adaptive part of neuron `i`'s threshold at `t` \[mV\].
    pub fn theta_mv(&self, i: u32, t: Tick) -> f64 {
        self.advanced(i as usize, t).theta
    }

    fn advanced(&self, i: usize, t: Tick) -> State {
        let mut s = self.state[i];
        if t <= s.t_last {
            return s;
        }
        s.theta *= (-ms_between(s.t_last, t) / self.a.tau_theta_ms).exp();
        let ref_end = self.ref_end[i];
        let from = if s.t_last < ref_end {
            s.v = self.p.v_reset_mv;
            if t <= ref_end {
                s.t_last = t;
                return s;
            }
            ref_end
        } else {
            s.t_last
        };
        let v_inf = self.p.v_rest_mv + self.bias[i];
        s.v = v_inf + (s.v - v_inf) * (-ms_between(from, t) / self.p.tau_m_ms).exp();
        s.t_last = t;
        s
    }

    fn predict(&self, i: usize, t: Tick) -> Crossing {
        let start = t.max(self.ref_end[i]);
        let s = self.advanced(i, start);
        let v_inf = self.p.v_rest_mv + self.bias[i];
        let f = ExpSum::constant(v_inf - self.p.v_th_mv)
            .term(s.v - v_inf, self.p.tau_m_ms)
            .term(-s.theta, self.a.tau_theta_ms);
        match f.first_crossing(if start == t { 1 } else { 0 }) {
            Some(k) => Crossing::At(start.saturating_add(Tick(k))),
            None => Crossing::Never,
        }
    }
}

impl NeuronModel for LifAdaptive {
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
            if t < self.ref_end[i] {
                continue;
            }
            self.state[i] = self.advanced(i, t);
            self.state[i].v += w as f64;
            touched.push(i as u32);
        }
    }

    fn check_threshold(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        self.state[i] = self.advanced(i, t);
        let s = self.state[i];
        if t >= self.ref_end[i] && s.v >= self.p.v_th_mv + s.theta {
            return Crossing::Now;
        }
        self.predict(i, t)
    }

    fn fire(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        let mut s = self.advanced(i, t);
        s.v = self.p.v_reset_mv;
        s.theta += self.a.theta_plus_mv;
        self.state[i] = s;
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

    #[test]
    fn threshold_rises_per_spike_and_slows_tonic_firing() {
        let p = LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: 0.0,
            v_reset_mv: 0.0,
            v_th_mv: 10.0,
            t_ref: Tick::ZERO,
        };
        let a = AdaptationParams {
            theta_plus_mv: 2.0,
            tau_theta_ms: 100.0,
        };
        let mut n = LifAdaptive::new(p, a, &[0.0], &[20.0], Tick::ZERO).unwrap();
        let mut t = Tick::ZERO;
        let mut isis = vec![];
        let mut fired = vec![];
        let Crossing::At(mut next) = n.check_threshold(0, t) else {
            panic!()
        };
        for _ in 0..5 {
            isis.push((next - t).as_ms());
            t = next;
            fired.push(t);
            assert_eq!(n.check_threshold(0, t), Crossing::Now);
            let Crossing::At(nx) = n.fire(0, t) else {
                panic!()
            };
            next = nx;
        }
        // First ISI: 10 ln 2 ms; afterwards each ISI is longer than the one before.
        assert!((isis[0] - 10.0 * 2f64.ln()).abs() < 1e-5);
        assert!(isis.windows(2).all(|w| w[1] > w[0]), "{isis:?}");
        // theta is the sum of the decayed jumps of all spikes so far.
        let expect: f64 = fired
            .iter()
            .map(|&tk| 2.0 * (-(t - tk).as_ms() / 100.0).exp())
            .sum();
        assert!(
            (n.theta_mv(0, t) - expect).abs() < 1e-9,
            "{} vs {expect}",
            n.theta_mv(0, t)
        );
    }
}
