//! Non-leaky integrate-and-fire neuron (perfect integrator) with delta synapses, the unit of
//! ANN-to-SNN conversion and of time-to-first-spike networks (S4NN).
//!
//! `dV/dt = drive` (a constant slope \[mV/ms\], per neuron); an input `w` \[mV\] makes `V` jump by
//! `w`; at `V ≥ v_th` the neuron fires, `V` is set to `v_reset` for `t_ref` (inputs then are
//! discarded) and integration resumes from `v_reset`. The crossing time under a positive drive
//! is `(v_th - V) / drive`, rounded up to the tick grid.
//!
//! With [`IafReset::Subtract`] a spike lowers `V` by `v_th - v_reset` instead (reset by
//! subtraction, Rueckauer et al. 2017): the surplus above threshold is kept, so the spike count
//! over a run tracks the integrated input exactly. A neuron still at threshold after the
//! subtraction fires again one tick later (a neuron fires at most once per tick).

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
    /// What a spike does to `V` (default: set it to `v_reset`).
    #[serde(default)]
    pub reset: IafReset,
}

/// What a spike does to the membrane potential of a [`NonLeakyIaf`] neuron.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IafReset {
    /// `V` is set to `v_reset` (the surplus above threshold is lost).
    #[default]
    ToValue,
    /// `V` is lowered by `v_th - v_reset` (the surplus is kept).
    Subtract,
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

    /// The potential held during refractoriness: `v_reset`, or with reset by subtraction
    /// what the subtraction left.
    fn held(&self, i: usize) -> f64 {
        match self.p.reset {
            IafReset::ToValue => self.p.v_reset_mv,
            IafReset::Subtract => self.v[i],
        }
    }

    fn potential(&self, i: usize, t: Tick) -> f64 {
        if t < self.ref_end[i] {
            return self.held(i);
        }
        let from = self.t_last[i].max(self.ref_end[i]);
        let v0 = if self.t_last[i] < self.ref_end[i] {
            self.held(i)
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
        match self.p.reset {
            IafReset::ToValue => self.v[i] = self.p.v_reset_mv,
            IafReset::Subtract => {
                self.advance_to(i, t);
                self.v[i] -= self.p.v_th_mv - self.p.v_reset_mv;
            }
        }
        self.t_last[i] = t;
        self.ref_end[i] = t.saturating_add(self.p.t_ref);
        if self.p.reset == IafReset::Subtract && t >= self.ref_end[i] && self.v[i] >= self.p.v_th_mv
        {
            return Crossing::Now;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn block(reset: IafReset) -> NonLeakyIaf {
        let p = IafParams {
            v_reset_mv: 0.0,
            v_th_mv: 1.0,
            t_ref: Tick::ZERO,
            reset,
        };
        NonLeakyIaf::new(p, &[0.0], &[0.0], Tick::ZERO).unwrap()
    }

    /// Delivers `w` at `t` and fires while the model says so (as the engine does, one tick
    /// apart); returns the spike ticks.
    fn input(n: &mut NonLeakyIaf, t: Tick, w: f32) -> Vec<Tick> {
        let mut touched = Vec::new();
        n.receive(t, 0, &[0], &[w], &mut touched);
        let mut spikes = Vec::new();
        let mut now = t;
        while n.check_threshold(0, now) == Crossing::Now {
            spikes.push(now);
            n.fire(0, now);
            now += Tick::ONE;
        }
        spikes
    }

    #[test]
    fn subtract_keeps_the_surplus_and_to_value_drops_it() {
        let mut sub = block(IafReset::Subtract);
        let mut val = block(IafReset::ToValue);
        assert_eq!(input(&mut sub, Tick(10), 1.25), vec![Tick(10)]);
        assert_eq!(input(&mut val, Tick(10), 1.25), vec![Tick(10)]);
        assert_eq!(sub.potential_mv(0, Tick(11)), 0.25);
        assert_eq!(val.potential_mv(0, Tick(11)), 0.0);
        // 0.25 + 0.75 reaches threshold only with the surplus kept.
        assert_eq!(input(&mut sub, Tick(20), 0.75), vec![Tick(20)]);
        assert_eq!(input(&mut val, Tick(20), 0.75), vec![]);
    }

    #[test]
    fn subtract_fires_once_per_tick_until_below_threshold() {
        let mut sub = block(IafReset::Subtract);
        // 2.5 thresholds' worth of input: spikes at 5 and 6, 0.5 left.
        let mut touched = Vec::new();
        sub.receive(Tick(5), 0, &[0], &[2.5], &mut touched);
        assert_eq!(sub.check_threshold(0, Tick(5)), Crossing::Now);
        assert_eq!(sub.fire(0, Tick(5)), Crossing::Now);
        assert_eq!(sub.check_threshold(0, Tick(6)), Crossing::Now);
        assert_eq!(sub.fire(0, Tick(6)), Crossing::Never);
        assert_eq!(sub.potential_mv(0, Tick(7)), 0.5);
    }
}
