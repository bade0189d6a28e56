//! Non-leaky integrate-and-fire neuron (perfect integrator) with delta synapses, the unit of
//! ANN-to-SNN conversion and of time-to-first-spike networks (S4NN).
//!
//! `dV/dt = drive` (a constant slope \[mV/ms\], per neuron); an input `w` \[mV\] makes `V` jump by
//! `w`; at `V ≥ v_th` the neuron fires, `V` is set to `v_reset` for `t_ref` (inputs then are
//! discarded) and integration resumes from `v_reset`. The crossing time under a positive drive
//! is `(v_th - V) / drive`, rounded up to the tick grid.

use super::{Crossing, NeuronModel, ParamError, ms_between};
use crate::time::{TICKS_PER_MS, Tick};

/// Parameters of [`NonLeakyIaf`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IafParams {
    /// Potential after a spike \[mV\].
    pub v_reset_mv: f64,
    /// Threshold \[mV\].
    pub v_th_mv: f64,
    /// Refractory period.
    pub t_ref: Tick,
}

impl IafParams {
    /// Checks finite potentials, reset below threshold and a non-negative refractory period.
    pub fn validate(&self) -> Result<(), ParamError> {
        super::check_reset_threshold_refractory(self.v_reset_mv, self.v_th_mv, self.t_ref)
    }
}

/// A block of non-leaky integrate-and-fire neurons.
#[derive(Debug, Clone)]
pub struct NonLeakyIaf {
    p: IafParams,
    v: Vec<f64>,
    t_last: Vec<Tick>,
    drive_mv_per_ms: Vec<f64>,
    ref_end: Vec<Tick>,
}

impl NonLeakyIaf {
    /// A block with initial potentials and drives (mV/ms), starting at `t0`.
    pub fn new(
        p: IafParams,
        v_init_mv: &[f64],
        drive_mv_per_ms: &[f64],
        t0: Tick,
    ) -> Result<Self, ParamError> {
        p.validate()?;
        Ok(NonLeakyIaf {
            p,
            v: v_init_mv.to_vec(),
            t_last: vec![t0; v_init_mv.len()],
            drive_mv_per_ms: drive_mv_per_ms.to_vec(),
            ref_end: vec![Tick(i64::MIN); v_init_mv.len()],
        })
    }

    fn potential(&self, i: usize, t: Tick) -> f64 {
        if t < self.ref_end[i] {
            return self.p.v_reset_mv;
        }
        let from = self.t_last[i].max(self.ref_end[i]);
        let v0 = if self.t_last[i] < self.ref_end[i] {
            self.p.v_reset_mv
        } else {
            self.v[i]
        };
        v0 + self.drive_mv_per_ms[i] * ms_between(from, t)
    }

    fn advance_to(&mut self, i: usize, t: Tick) {
        self.v[i] = self.potential(i, t);
        self.t_last[i] = t;
    }

    fn predict(&self, i: usize, t: Tick) -> Crossing {
        let start = t.max(self.ref_end[i]);
        let v = self.potential(i, start);
        let drive = self.drive_mv_per_ms[i];
        if drive <= 0.0 {
            return Crossing::Never;
        }
        let ticks = ((self.p.v_th_mv - v) / drive * TICKS_PER_MS as f64)
            .ceil()
            .max(if start == t { 1.0 } else { 0.0 });
        Crossing::At(if ticks >= 9.0e18 {
            Tick::MAX
        } else {
            start.saturating_add(Tick(ticks as i64))
        })
    }
}

impl NeuronModel for NonLeakyIaf {
    fn len(&self) -> usize {
        self.v.len()
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
            self.advance_to(i, t);
            self.v[i] += w as f64;
            touched.push(i as u32);
        }
    }

    fn check_threshold(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        if t >= self.ref_end[i] && self.potential(i, t) >= self.p.v_th_mv {
            return Crossing::Now;
        }
        match self.predict(i, t) {
            Crossing::At(tc) if tc <= t => Crossing::Now,
            c => c,
        }
    }

    fn fire(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        self.v[i] = self.p.v_reset_mv;
        self.t_last[i] = t;
        self.ref_end[i] = t.saturating_add(self.p.t_ref);
        self.predict(i, t)
    }

    fn add_bias(&mut self, t: Tick, delta: f64, touched: &mut Vec<u32>) {
        for i in 0..self.v.len() {
            self.advance_to(i, t);
            self.drive_mv_per_ms[i] += delta;
            touched.push(i as u32);
        }
    }

    fn potential_mv(&self, i: u32, t: Tick) -> f64 {
        self.potential(i as usize, t)
    }
}
