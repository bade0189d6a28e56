//! Leaky integrate-and-fire neuron with exponentially decaying synaptic currents
//! (current-based); NEST's `iaf_psc_exp` dynamics, integrated exactly.
//!
//! ```text
//! tau_m dV/dt = -(V - v_rest) + bias + I_ex + I_in,   tau_ex dI_ex/dt = -I_ex,   tau_in dI_in/dt = -I_in
//! ```
//! Currents are written as the potential they would hold the membrane at (R·I, in mV), as
//! Brian2's CUBA example does. An input of weight `w > 0` adds `w` to `I_ex`, `w < 0` to
//! `I_in`. While refractory, `V` is clamped at `v_reset` and the currents keep decaying and
//! summing inputs (as in NEST). Between events the solution is closed-form (a sum of three
//! exponentials), and the next crossing is found by [`super::crossing`], which never misses one
//! on the tick grid.

use super::crossing::ExpSum;
use super::{Crossing, LifParams, NeuronModel, ParamError, check_positive_ms, ms_between};
use crate::time::Tick;

/// Synaptic time constants of [`LifExp`] \[ms\].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExpSynParams {
    /// Decay of excitatory (positive-weight) input \[ms\].
    pub tau_syn_ex_ms: f64,
    /// Decay of inhibitory (negative-weight) input \[ms\].
    pub tau_syn_in_ms: f64,
}

impl ExpSynParams {
    /// Checks both are positive and differ from `tau_m`.
    pub fn validate(&self, tau_m_ms: f64) -> Result<(), ParamError> {
        for (name, tau) in [
            ("tau_syn_ex", self.tau_syn_ex_ms),
            ("tau_syn_in", self.tau_syn_in_ms),
        ] {
            check_positive_ms(name, tau)?;
            if ((tau - tau_m_ms) / tau_m_ms).abs() < 1e-9 {
                return Err(ParamError::TauSynEqualsTauM {
                    name,
                    tau_syn_ms: tau,
                    tau_m_ms,
                });
            }
        }
        Ok(())
    }
}

/// One neuron's state at `t_last`.
#[derive(Clone, Copy, Debug)]
struct State {
    v: f64,
    i_ex: f64,
    i_in: f64,
    t_last: Tick,
}

/// A block of `lif_exp` neurons.
#[derive(Debug, Clone)]
pub struct LifExp {
    p: LifParams,
    syn: ExpSynParams,
    state: Vec<State>,
    bias: Vec<f64>,
    ref_end: Vec<Tick>,
}

impl LifExp {
    /// A block with one neuron per entry of `v_init_mv` and `bias_mv`, starting at `t0`.
    pub fn new(
        p: LifParams,
        syn: ExpSynParams,
        v_init_mv: &[f64],
        bias_mv: &[f64],
        t0: Tick,
    ) -> Result<Self, ParamError> {
        p.validate()?;
        syn.validate(p.tau_m_ms)?;
        assert_eq!(v_init_mv.len(), bias_mv.len());
        Ok(LifExp {
            p,
            syn,
            state: v_init_mv
                .iter()
                .map(|&v| State {
                    v,
                    i_ex: 0.0,
                    i_in: 0.0,
                    t_last: t0,
                })
                .collect(),
            bias: bias_mv.to_vec(),
            ref_end: vec![Tick(i64::MIN); v_init_mv.len()],
        })
    }

    /// `V(s) - v_th` for the free trajectory starting from `s`: a sum of exponentials in `s`.
    fn distance_to_threshold(&self, s: &State, bias: f64) -> ExpSum {
        let tm = self.p.tau_m_ms;
        let (te, ti) = (self.syn.tau_syn_ex_ms, self.syn.tau_syn_in_ms);
        let v_inf = self.p.v_rest_mv + bias;
        let ce = s.i_ex * te / (te - tm);
        let ci = s.i_in * ti / (ti - tm);
        ExpSum::constant(v_inf - self.p.v_th_mv)
            .term(s.v - v_inf - ce - ci, tm)
            .term(ce, te)
            .term(ci, ti)
    }

    /// The state advanced in closed form from `s.t_last` to `t`, honouring refractoriness.
    fn advanced(&self, i: usize, t: Tick) -> State {
        let mut s = self.state[i];
        if t <= s.t_last {
            return s;
        }
        let (te, ti) = (self.syn.tau_syn_ex_ms, self.syn.tau_syn_in_ms);
        let decay = |s: &mut State, to: Tick| {
            let dt = ms_between(s.t_last, to);
            s.i_ex *= (-dt / te).exp();
            s.i_in *= (-dt / ti).exp();
            s.t_last = to;
        };
        let ref_end = self.ref_end[i];
        if s.t_last < ref_end {
            decay(&mut s, t.min(ref_end));
            s.v = self.p.v_reset_mv;
            if t <= ref_end {
                return s;
            }
        }
        let dt = ms_between(s.t_last, t);
        let tm = self.p.tau_m_ms;
        let v_inf = self.p.v_rest_mv + self.bias[i];
        let ce = s.i_ex * te / (te - tm);
        let ci = s.i_in * ti / (ti - tm);
        let (em, ee, ei) = ((-dt / tm).exp(), (-dt / te).exp(), (-dt / ti).exp());
        s.v = v_inf + (s.v - v_inf - ce - ci) * em + ce * ee + ci * ei;
        s.i_ex *= ee;
        s.i_in *= ei;
        s.t_last = t;
        s
    }

    fn advance_to(&mut self, i: usize, t: Tick) {
        self.state[i] = self.advanced(i, t);
    }

    /// The first tick strictly after `t` (or at the end of refractoriness) with `V ≥ v_th`.
    fn predict_crossing(&self, i: usize, t: Tick) -> Crossing {
        let start = t.max(self.ref_end[i]);
        let s = self.advanced(i, start);
        let from = if start == t { 1 } else { 0 };
        match self
            .distance_to_threshold(&s, self.bias[i])
            .first_crossing(from)
        {
            Some(k) => Crossing::At(start.saturating_add(Tick(k))),
            None => Crossing::Never,
        }
    }
}

impl NeuronModel for LifExp {
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
            self.advance_to(i, t);
            let s = &mut self.state[i];
            if w >= 0.0 {
                s.i_ex += w as f64
            } else {
                s.i_in += w as f64
            }
            touched.push(i as u32);
        }
    }

    fn check_threshold(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        self.advance_to(i, t);
        if t >= self.ref_end[i] && self.state[i].v >= self.p.v_th_mv {
            return Crossing::Now;
        }
        self.predict_crossing(i, t)
    }

    fn fire(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        self.advance_to(i, t);
        self.state[i].v = self.p.v_reset_mv;
        self.ref_end[i] = t.saturating_add(self.p.t_ref);
        self.predict_crossing(i, t)
    }

    fn add_bias(&mut self, t: Tick, delta: f64, touched: &mut Vec<u32>) {
        for i in 0..self.state.len() {
            self.advance_to(i, t);
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
    fn closed_form_matches_fine_euler_integration() {
        let p = LifParams {
            tau_m_ms: 10.0,
            v_rest_mv: -65.0,
            v_reset_mv: -70.0,
            v_th_mv: 0.0,
            t_ref: Tick::ZERO,
        };
        let syn = ExpSynParams {
            tau_syn_ex_ms: 2.0,
            tau_syn_in_ms: 5.0,
        };
        let mut n = LifExp::new(p, syn, &[-65.0], &[3.0], Tick::ZERO).unwrap();
        let mut touched = vec![];
        n.receive(Tick::ZERO, 0, &[0], &[20.0], &mut touched);
        n.receive(Tick::ZERO, 0, &[0], &[-8.0], &mut touched);
        // Euler with 1e-5 ms steps to 7 ms.
        let (mut v, mut ie, mut ii, dt) = (-65.0f64, 20.0f64, -8.0f64, 1e-5);
        for _ in 0..700_000 {
            v += dt * (-(v + 65.0) + 3.0 + ie + ii) / 10.0;
            ie -= dt * ie / 2.0;
            ii -= dt * ii / 5.0;
        }
        let exact = n.potential_mv(0, Tick::from_ms(7.0).unwrap());
        assert!((exact - v).abs() < 1e-4, "{exact} vs {v}");
    }
}
