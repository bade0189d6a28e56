//! Leaky integrate-and-fire neuron with delta (voltage-jump) synapses and an optional constant
//! drive; NEST's `iaf_psc_delta` dynamics.
//!
//! `tau_m dV/dt = -(V - v_rest) + bias`, an input of weight `w` \[mV\] makes `V` jump by `w`;
//! at `V ≥ v_th` the neuron fires, `V` is clamped to `v_reset` for `t_ref`, and inputs that
//! arrive while it is refractory are discarded (as in NEST).
//!
//! Representation (why it is fast): with `v_inf = v_rest + bias`, each neuron stores
//! `u = (V - v_inf) · exp((t - epoch) / tau_m)`, which is constant between inputs. A delivery
//! at `t` is one multiply-add `u += w · F(t)` with one `F(t) = exp((t - epoch)/tau_m)` per
//! batch of inputs, and a threshold test is one comparison `u ≥ (v_th - v_inf) · F(t)`.
//! `epoch` moves forward in steps of `RENORM_TAUS · tau_m`, every `u` being multiplied by the
//! same factor once per step, so the result does not depend on when the step is taken.
//! `u` is `f64`: with `f32` the rounding of `u` at each reset moved predicted crossings of
//! neurons under a suprathreshold drive by 1-2 ns, more than the one-tick contract allows.
//!
//! With `v_inf > v_th` (a suprathreshold drive) the crossing time is analytic:
//! `t = epoch + tau_m ln(u / (v_th - v_inf))`, rounded up to the tick grid.

use super::{Crossing, LifParams, NeuronModel, ParamError, Weights};
use crate::prefetch::prefetch;
use crate::time::Tick;

/// Epoch length in membrane time constants: `F` stays below e^10 (plus the refractory period).
const RENORM_TAUS: f64 = 10.0;

/// Drive events whose factors [`LifDelta::receive_run`] computes at a time (a stack array).
const RUN_CHUNK: usize = 32;

/// A per-neuron value, stored once when every neuron of the block has the same: `at(i)` reads
/// index `i & mask`, the mask being 0 or all ones, so that readers do not branch.
///
/// Why: in the SparseProp network (uniform drive, no refractory period) an input read three
/// arrays of 65,536 neurons per block, three cache misses; with the shared values it reads
/// one: the simulation of SparseProp 1M took 0.82x the time (30 ms, 4 pairs).
#[derive(Debug, Clone)]
struct PerNeuron<T> {
    values: Vec<T>,
    mask: usize,
}

impl<T: Copy + PartialEq> PerNeuron<T> {
    /// One value per neuron, stored once if they are all equal (and there is at least one).
    fn new(values: Vec<T>) -> Self {
        match values.first() {
            Some(&v) if values.iter().all(|&x| x == v) => Self::shared(v),
            _ => PerNeuron {
                values,
                mask: usize::MAX,
            },
        }
    }

    /// One value for every neuron.
    fn shared(v: T) -> Self {
        PerNeuron {
            values: vec![v],
            mask: 0,
        }
    }

    fn is_shared(&self) -> bool {
        self.mask == 0
    }

    #[inline(always)]
    fn at(&self, i: usize) -> T {
        self.values[i & self.mask]
    }

    /// Prefetches neuron `i`'s value unless it is shared (then it is in cache).
    #[inline(always)]
    fn prefetch(&self, i: usize) {
        if !self.is_shared() {
            prefetch(self.values.as_ptr().wrapping_add(i));
        }
    }
}

/// A per-neuron value as the hot loops read it: a slice of one value per neuron, or one
/// [`Same`] value. The loops are generic over it, so that each combination compiles to plain
/// loads (the `PerNeuron` mask cost Brunel 4%).
trait Lookup<T>: Copy {
    fn at(self, i: usize) -> T;
}

/// The value every neuron shares.
#[derive(Clone, Copy)]
struct Same<T>(T);

impl<T: Copy> Lookup<T> for Same<T> {
    #[inline(always)]
    fn at(self, _: usize) -> T {
        self.0
    }
}

impl<T: Copy + PartialEq> Lookup<T> for &PerNeuron<T> {
    #[inline(always)]
    fn at(self, i: usize) -> T {
        PerNeuron::at(self, i)
    }
}

impl<T: Copy> Lookup<T> for &[T] {
    #[inline(always)]
    fn at(self, i: usize) -> T {
        self[i]
    }
}

/// Runs `$body` with `$re` and `$vi` bound to the block's `ref_end` and `v_inf` as
/// [`Lookup`]s (slices cut to `$n`, the number of neurons, or [`Same`] values).
macro_rules! with_lookups {
    ($self:ident, $n:expr, |$re:ident, $vi:ident| $body:expr) => {{
        let n = $n;
        match ($self.ref_end.is_shared(), $self.v_inf.is_shared()) {
            (false, false) => {
                let ($re, $vi) = (&$self.ref_end.values[..n], &$self.v_inf.values[..n]);
                $body
            }
            (false, true) => {
                let ($re, $vi) = (&$self.ref_end.values[..n], Same($self.v_inf.values[0]));
                $body
            }
            (true, false) => {
                let ($re, $vi) = (Same($self.ref_end.values[0]), &$self.v_inf.values[..n]);
                $body
            }
            (true, true) => {
                let ($re, $vi) = (Same($self.ref_end.values[0]), Same($self.v_inf.values[0]));
                $body
            }
        }
    }};
}

/// What an input needs besides `u`: the block's refractory ends and drives (as
/// [`Lookup`]s) and the threshold.
#[derive(Clone, Copy)]
struct InputRule<R, V> {
    ref_end: R,
    v_inf: V,
    v_th: f64,
}

impl<R: Lookup<Tick>, V: Lookup<f64>> InputRule<R, V> {
    /// Adds `dw` (the weight times the factor `f` of tick `t`) to neuron `i`'s `u`, and says
    /// whether the neuron must be checked at `t`.
    #[inline(always)]
    fn apply(self, u: &mut [f64], i: usize, t: Tick, dw: f64, f: f64) -> bool {
        // Inputs during refractoriness are discarded. Multiplied by 0 or 1, not skipped
        // by a branch: ~8% of the inputs hit a refractory neuron, at random, and each
        // mispredicted branch also stops the loads of the next inputs (this loop waits
        // on memory). Adding ±0.0 leaves `u` unchanged; the compiler turns an `if` back
        // into a branch.
        let active = t >= self.ref_end.at(i);
        u[i] += dw * f64::from(u8::from(active));
        let gap = self.v_th - self.v_inf.at(i);
        // Below-threshold drive: only a neuron now above threshold can fire at t.
        // Suprathreshold drive: every input moves the predicted crossing.
        active & (gap <= 0.0 || u[i] >= gap * f)
    }
}

/// Applies each input (local neuron, weight) at `t`, of factor `f` (see
/// [`LifDelta::deliver`]).
#[inline(always)]
fn deliver_inputs(
    u: &mut [f64],
    rule: InputRule<impl Lookup<Tick>, impl Lookup<f64>>,
    t: Tick,
    f: f64,
    inputs: impl Iterator<Item = (usize, f32)>,
    touched: &mut Vec<u32>,
) {
    for (i, w) in inputs {
        if rule.apply(u, i, t, f64::from(w) * f, f) {
            touched.push(i as u32);
        }
    }
}

/// One chunk of [`LifDelta::receive_run`]: drive events of weight `w` at `ticks` (a run of
/// the caller's `all_ticks` starting at `start`) with factors `f`. Returns the index in
/// `all_ticks` after the tick at which a neuron was touched, if one was.
#[inline(always)]
fn deliver_run_chunk(
    u: &mut [f64],
    rule: InputRule<impl Lookup<Tick>, impl Lookup<f64>>,
    (ticks, targets, f): (&[Tick], &[u32], &[f64]),
    w: f64,
    (all_ticks, start): (&[Tick], usize),
    touched: &mut Vec<u32>,
) -> Option<usize> {
    for (k, ((&t, &i), &f)) in ticks.iter().zip(targets).zip(f).enumerate() {
        if rule.apply(u, i as usize, t, w * f, f) {
            touched.push(i);
        }
        // Rare (a neuron reached threshold): finish the tick, then hand it back.
        if !touched.is_empty() && all_ticks.get(start + k + 1) != Some(&t) {
            return Some(start + k + 1);
        }
    }
    None
}

/// A block of `lif_delta` neurons.
#[derive(Debug, Clone)]
pub struct LifDelta {
    p: LifParams,
    /// 1 / tau_m in 1/tick.
    inv_tau_ticks: f64,
    /// tau_m in ticks (an integer, exact in f64): predictions multiply by it, because a
    /// division by `inv_tau_ticks` kept each prediction waiting ~20 cycles.
    tau_ticks: f64,
    epoch: Tick,
    epoch_len: Tick,
    /// exp(-epoch_len / tau_m): the factor applied to every `u` once per epoch step.
    epoch_decay: f64,
    u: Vec<f64>,
    /// `v_rest + bias` \[mV\], stored once when all neurons share it.
    v_inf: PerNeuron<f64>,
    /// Whether [`NeuronModel::check_threshold`] may answer with a cheap earlier tick
    /// ([`LifDelta::with_early_predictions`]).
    early_predictions: bool,
    /// The end of each neuron's refractory period; one entry that never changes when
    /// `t_ref` is 0 (a spike at `t` would end refractoriness at `t`: nothing is discarded).
    ref_end: PerNeuron<Tick>,
    /// The last `(t, F(t))` computed by [`LifDelta::factor`]: every neuron touched at one tick
    /// of a block needs the same factor in its threshold check.
    last_factor: (Tick, f64),
}

impl LifDelta {
    /// A block with one neuron per entry of `v_init_mv` and `bias_mv` (same length), starting
    /// at tick `t0`.
    pub fn new(
        p: LifParams,
        v_init_mv: &[f64],
        bias_mv: &[f64],
        t0: Tick,
    ) -> Result<Self, ParamError> {
        p.validate()?;
        if p.t_ref.as_ms() > 60.0 * p.tau_m_ms {
            return Err(ParamError::RefractoryTooLong {
                t_ref: p.t_ref,
                tau_m_ms: p.tau_m_ms,
            });
        }
        assert_eq!(v_init_mv.len(), bias_mv.len());
        let tau_ticks = Tick::from_ms(p.tau_m_ms)
            .map(|t| t.0.max(1) as f64)
            .unwrap_or(f64::MAX);
        let inv_tau_ticks = 1.0 / tau_ticks;
        let epoch_len = Tick(((RENORM_TAUS / inv_tau_ticks) as i64).max(1));
        let v_inf: Vec<f64> = bias_mv.iter().map(|b| p.v_rest_mv + b).collect();
        let ref_end = if p.t_ref == Tick::ZERO {
            PerNeuron::shared(Tick(i64::MIN))
        } else {
            PerNeuron {
                values: vec![Tick(i64::MIN); bias_mv.len()],
                mask: usize::MAX,
            }
        };
        let u = v_init_mv
            .iter()
            .zip(&v_inf)
            .map(|(v, vi)| *v - vi)
            .collect();
        Ok(LifDelta {
            p,
            inv_tau_ticks,
            tau_ticks,
            epoch: t0,
            epoch_len,
            epoch_decay: (-(epoch_len.0 as f64) * inv_tau_ticks).exp(),
            u,
            v_inf: PerNeuron::new(v_inf),
            early_predictions: false,
            ref_end,
            last_factor: (Tick(i64::MIN), f64::NAN),
        })
    }

    /// `F(t) = exp((t - epoch)/tau_m)`, after moving the epoch forward if `t` is past it.
    #[inline]
    fn factor(&mut self, t: Tick) -> f64 {
        if t == self.last_factor.0 {
            return self.last_factor.1;
        }
        if t - self.epoch >= self.epoch_len {
            self.renormalize(t);
        }
        let f = super::fast_exp::exp((t - self.epoch).0 as f64 * self.inv_tau_ticks);
        self.last_factor = (t, f);
        f
    }

    /// Applies inputs (local neuron, weight) arriving at `t`.
    #[inline(always)]
    fn deliver(
        &mut self,
        t: Tick,
        inputs: impl Iterator<Item = (usize, f32)>,
        touched: &mut Vec<u32>,
    ) {
        let f = self.factor(t);
        let v_th = self.p.v_th_mv;
        // Equal lengths let the compiler check each index once, not once per array.
        let u = &mut self.u[..];
        with_lookups!(self, u.len(), |ref_end, v_inf| {
            let rule = InputRule {
                ref_end,
                v_inf,
                v_th,
            };
            deliver_inputs(u, rule, t, f, inputs, touched)
        })
    }

    #[cold]
    fn renormalize(&mut self, t: Tick) {
        self.last_factor = (Tick(i64::MIN), f64::NAN);
        while t - self.epoch >= self.epoch_len {
            let d = self.epoch_decay;
            self.u.iter_mut().for_each(|u| *u *= d);
            self.epoch += self.epoch_len;
        }
    }

    fn factor_at(&self, t: Tick) -> f64 {
        super::fast_exp::exp((t - self.epoch).0 as f64 * self.inv_tau_ticks)
    }

    /// Analytic crossing for a suprathreshold drive; `Never` otherwise.
    fn predict(&self, i: usize) -> Crossing {
        let gap = self.p.v_th_mv - self.v_inf.at(i);
        if gap >= 0.0 || self.u[i] >= 0.0 {
            return Crossing::Never;
        }
        // u e^{-s/τ} = gap  =>  s = τ ln(u / gap)
        let s_ticks = (self.u[i] / gap).ln() * self.tau_ticks;
        let t = self.epoch.0 as f64 + s_ticks;
        Crossing::At(if t >= i64::MAX as f64 {
            Tick::MAX
        } else {
            // `t.ceil()` is a libm call on baseline x86-64: ceil via truncation (which rounds
            // towards zero: up for a negative `t`, down, then corrected, for a positive one).
            let tr = t as i64;
            Tick(tr + i64::from((tr as f64) < t))
        })
    }
}

impl LifDelta {
    /// Lets [`NeuronModel::check_threshold`] answer a neuron under a suprathreshold drive with
    /// a cheap tick at or before its crossing (at most ~0.035 tau_m early) instead of the
    /// exact one; asked again at that tick, it gives the exact crossing. The spikes are the
    /// same either way.
    ///
    /// Why: such neurons (pacemakers: benchmark 4, SparseProp) have every input move their
    /// crossing, and the logarithm of the exact prediction was a large part of the cost of
    /// an input. It pays when the engine's windows (the minimum delay) are long enough for
    /// the extra check to share a window with other events; the engine turns it on then.
    pub fn with_early_predictions(mut self, on: bool) -> Self {
        self.early_predictions = on;
        self
    }

    /// Prefetches the state of the `local` neurons (`u`, and `v_inf`, `ref_end` unless
    /// shared): a window's inputs are known before any is delivered, and in the SparseProp
    /// network's blocks of 65,536 neurons every input was a cache miss of its own. The
    /// engine calls it only for blocks large enough to miss the caches.
    pub(crate) fn prefetch_inputs(&self, local: &[u16]) {
        for &i in local {
            let i = i as usize;
            prefetch(self.u.as_ptr().wrapping_add(i));
            self.v_inf.prefetch(i);
            self.ref_end.prefetch(i);
        }
    }

    /// A tick at or before the crossing that [`LifDelta::predict`] would give, without its
    /// logarithm; `None` if there is no crossing or no cheap bound.
    fn crossing_not_before(&self, i: usize) -> Option<Tick> {
        let (u, gap) = (self.u[i], self.p.v_th_mv - self.v_inf.at(i));
        if !(gap < 0.0 && u < 0.0) {
            return None;
        }
        // predict: s = tau ln(u / gap) = tau (ln(-u) - ln(-gap)), from below.
        let s_ticks = (ln_lower_bound(-u) - ln_upper_bound(-gap)) * self.tau_ticks;
        let t = self.epoch.0 as f64 + s_ticks;
        // A tick below the rounding of `predict` (which rounds up, and whose own rounding
        // differs from this sum's by far less than a tick at these magnitudes).
        (t.abs() < 1e15).then(|| Tick(t as i64 - 1))
    }
}

/// `(e, d)` with `x = 2^e (1 + d)`, `0 <= d < 1`, for a positive normal finite `x`.
#[inline]
fn exponent_and_fraction(x: f64) -> Option<(f64, f64)> {
    if !(f64::MIN_POSITIVE..f64::INFINITY).contains(&x) {
        return None;
    }
    let bits = x.to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let d = f64::from_bits((bits & ((1 << 52) - 1)) | (1023 << 52)) - 1.0;
    Some((e as f64, d))
}

/// A lower bound of `ln x`, at most 0.0152 below it (`-inf` where `x` is not positive,
/// normal and finite): `log2(1 + d) >= d + 0.27 d (1 - d)` on `[0, 1]`. Both sides agree at
/// the ends, where the slopes of `log2(1 + d) - d` (0.443 and -0.279) exceed the quadratic's
/// (±0.27); a test checks it on a fine grid. A margin covers the rounding.
#[inline]
fn ln_lower_bound(x: f64) -> f64 {
    let Some((e, d)) = exponent_and_fraction(x) else {
        return f64::NEG_INFINITY;
    };
    let log2 = e + d + 0.27 * d * (1.0 - d);
    log2 * std::f64::consts::LN_2 - 1e-12 * (1.0 + log2.abs())
}

/// An upper bound of `ln x`, at most 0.0197 above it (`+inf` where `x` is not positive,
/// normal and finite): `log2(1 + d) <= d + 0.4427 d (1 - d)`, 0.4427 being just above
/// `1/ln 2 - 1`, the slope of `log2(1 + d) - d` at 0 and the largest ratio of the two.
#[inline]
fn ln_upper_bound(x: f64) -> f64 {
    let Some((e, d)) = exponent_and_fraction(x) else {
        return f64::INFINITY;
    };
    let log2 = e + d + 0.4427 * d * (1.0 - d);
    log2 * std::f64::consts::LN_2 + 1e-12 * (1.0 + log2.abs())
}

impl NeuronModel for LifDelta {
    fn len(&self) -> usize {
        self.u.len()
    }

    #[inline]
    fn receive(
        &mut self,
        t: Tick,
        first: u32,
        targets: &[u32],
        weights: &[f32],
        touched: &mut Vec<u32>,
    ) {
        let inputs = targets.iter().zip(weights);
        self.deliver(t, inputs.map(|(&n, &w)| ((n - first) as usize, w)), touched);
    }

    #[inline]
    fn receive_local(
        &mut self,
        t: Tick,
        local: &[u16],
        weights: Weights<'_>,
        touched: &mut Vec<u32>,
    ) {
        match weights {
            Weights::Same(w) => self.deliver(t, local.iter().map(|&i| (i as usize, w)), touched),
            Weights::Each(ws) => {
                let inputs = local.iter().zip(ws).map(|(&i, &w)| (i as usize, w));
                self.deliver(t, inputs, touched)
            }
        }
    }

    // Always inlined: it is the whole per-event work of the engine's drive lane.
    #[inline(always)]
    fn receive_one(&mut self, t: Tick, i: u32, w: f32, touched: &mut Vec<u32>) {
        let f = self.factor(t);
        let rule = InputRule {
            ref_end: &self.ref_end,
            v_inf: &self.v_inf,
            v_th: self.p.v_th_mv,
        };
        if rule.apply(&mut self.u, i as usize, t, f64::from(w) * f, f) {
            touched.push(i);
        }
    }

    /// The drive's fast path: per chunk of up to `RUN_CHUNK` events, first every factor
    /// `F(t)` (independent exps: they pipeline, where one exp per event between the
    /// dependent loads and stores of a delivery did not), then the deliveries in order.
    fn receive_run(
        &mut self,
        ticks: &[Tick],
        targets: &[u32],
        w: f32,
        touched: &mut Vec<u32>,
    ) -> usize {
        debug_assert!(touched.is_empty());
        let w = f64::from(w);
        let v_th = self.p.v_th_mv;
        let mut done = 0;
        while done < ticks.len() {
            // Renormalise where `factor` would: at the first input past the epoch. The chunk
            // then ends before the next epoch step.
            if ticks[done] - self.epoch >= self.epoch_len {
                self.renormalize(ticks[done]);
            }
            let (epoch, epoch_len) = (self.epoch, self.epoch_len);
            let rest = &ticks[done..(done + RUN_CHUNK).min(ticks.len())];
            let n = rest.partition_point(|&t| t - epoch < epoch_len);
            let (ticks_c, targets_c) = (&rest[..n], &targets[done..done + n]);
            let mut f = [0.0; RUN_CHUNK];
            for (f, &t) in f.iter_mut().zip(ticks_c) {
                *f = super::fast_exp::exp_in_range((t - epoch).0 as f64 * self.inv_tau_ticks);
            }
            let u = &mut self.u[..];
            let chunk = (ticks_c, targets_c, &f[..n]);
            let hit = with_lookups!(self, u.len(), |ref_end, v_inf| {
                let rule = InputRule {
                    ref_end,
                    v_inf,
                    v_th,
                };
                deliver_run_chunk(u, rule, chunk, w, (ticks, done), touched)
            });
            if let Some(end) = hit {
                return end;
            }
            done += n;
        }
        done
    }

    fn check_threshold(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        if t < self.ref_end.at(i) {
            return self.predict(i);
        }
        let f = self.factor(t);
        let gap = self.p.v_th_mv - self.v_inf.at(i);
        if self.u[i] >= gap * f {
            return Crossing::Now;
        }
        if self.early_predictions
            && let Some(lower) = self.crossing_not_before(i).filter(|&lower| lower > t)
        {
            return Crossing::At(lower);
        }
        match self.predict(i) {
            // The analytic crossing is at or before t: rounding put V a hair below v_th.
            Crossing::At(tc) if tc <= t => Crossing::Now,
            c => c,
        }
    }

    fn fire(&mut self, i: u32, t: Tick) -> Crossing {
        let i = i as usize;
        let end = t.saturating_add(self.p.t_ref);
        if !self.ref_end.is_shared() {
            self.ref_end.values[i] = end;
        }
        self.factor(t);
        // Set u so that V(end) = v_reset; inputs before `end` are discarded.
        self.u[i] = (self.p.v_reset_mv - self.v_inf.at(i)) * self.factor_at(end);
        self.predict(i)
    }

    fn add_bias(&mut self, t: Tick, delta: f64, touched: &mut Vec<u32>) {
        let f = self.factor(t);
        for i in 0..self.u.len() {
            // A refractory neuron restarts from v_reset at ref_end: rescale u for that moment.
            let fac = if t < self.ref_end.at(i) {
                self.factor_at(self.ref_end.at(i))
            } else {
                f
            };
            let v = self.v_inf.at(i) + self.u[i] / fac;
            let v_inf = self.v_inf.at(i) + delta;
            self.u[i] = (v - v_inf) * fac;
            if !self.v_inf.is_shared() {
                self.v_inf.values[i] = v_inf;
            }
            touched.push(i as u32);
        }
        if self.v_inf.is_shared() {
            self.v_inf.values[0] += delta;
        }
    }

    fn potential_mv(&self, i: u32, t: Tick) -> f64 {
        let i = i as usize;
        if t < self.ref_end.at(i) {
            return self.p.v_reset_mv;
        }
        self.v_inf.at(i) + self.u[i] / self.factor_at(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> LifParams {
        LifParams {
            tau_m_ms: 20.0,
            v_rest_mv: 0.0,
            v_reset_mv: 10.0,
            v_th_mv: 20.0,
            t_ref: Tick::from_ms(2.0).unwrap(),
        }
    }

    #[test]
    fn decays_exponentially_between_inputs() {
        let mut n = LifDelta::new(params(), &[15.0], &[0.0], Tick::ZERO).unwrap();
        let t = Tick::from_ms(20.0).unwrap();
        let expect = 15.0 * (-1.0f64).exp();
        assert!((n.potential_mv(0, t) - expect).abs() < 1e-5);
        // Far beyond several renormalisations the value stays right.
        let t = Tick::from_ms(1000.0).unwrap();
        let mut touched = vec![];
        n.receive(t, 0, &[0], &[5.0], &mut touched);
        assert!((n.potential_mv(0, t) - (15.0 * (-50.0f64).exp() + 5.0)).abs() < 1e-5);
    }

    #[test]
    fn input_during_refractoriness_is_discarded() {
        let mut n = LifDelta::new(params(), &[0.0], &[0.0], Tick::ZERO).unwrap();
        let mut touched = vec![];
        n.receive(Tick(1000), 0, &[0], &[25.0], &mut touched);
        assert_eq!(touched, vec![0]);
        assert_eq!(n.check_threshold(0, Tick(1000)), Crossing::Now);
        assert_eq!(n.fire(0, Tick(1000)), Crossing::Never);
        touched.clear();
        n.receive(Tick(1000 + 1_000_000), 0, &[0], &[25.0], &mut touched);
        assert!(touched.is_empty());
        assert_eq!(n.potential_mv(0, Tick(1000 + 1_000_000)), 10.0);
        // At the end of refractoriness V starts from v_reset.
        let end = Tick(1000 + 2_000_000);
        assert!((n.potential_mv(0, end) - 10.0).abs() < 1e-5);
    }

    #[test]
    fn suprathreshold_bias_predicts_closed_form_period() {
        // bias 30 mV: V(t) = 30 - 30 e^{-t/τ} from 0, crosses 20 at τ ln 3.
        let mut n = LifDelta::new(params(), &[0.0], &[30.0], Tick::ZERO).unwrap();
        let mut touched = vec![];
        n.add_bias(Tick::ZERO, 0.0, &mut touched);
        let Crossing::At(t1) = n.check_threshold(0, Tick::ZERO) else {
            panic!()
        };
        let exact = 20.0 * 3f64.ln();
        assert!(
            (t1.as_ms() - exact).abs() <= 1e-6,
            "{} vs {exact}",
            t1.as_ms()
        );
    }

    #[test]
    fn the_ln_bounds_enclose_ln_closely() {
        let (mut below, mut above): (f64, f64) = (0.0, 0.0);
        // A fine grid of mantissas at several exponents, the ends of each binade included.
        for e in [-1000, -60, -1, 0, 1, 7, 300, 1000] {
            for k in 0..=100_000 {
                let x = (1.0 + k as f64 / 100_000.0) * 2f64.powi(e);
                let (lo, ln, hi) = (ln_lower_bound(x), x.ln(), ln_upper_bound(x));
                assert!(lo <= ln && ln <= hi, "ln({x:e}) = {ln} not in [{lo}, {hi}]");
                (below, above) = (below.max(ln - lo), above.max(hi - ln));
            }
        }
        // As documented, and the grid reaches the widest gaps.
        assert!(
            (0.015..0.0152).contains(&below),
            "lower bound {below} below ln"
        );
        assert!(
            (0.0195..0.0197).contains(&above),
            "upper bound {above} above ln"
        );
        for x in [0.0, -1.0, f64::MIN_POSITIVE / 2.0, f64::INFINITY, f64::NAN] {
            assert_eq!(ln_lower_bound(x), f64::NEG_INFINITY, "{x}");
            assert_eq!(ln_upper_bound(x), f64::INFINITY, "{x}");
        }
    }

    #[test]
    fn the_cheap_bound_never_passes_the_exact_crossing() {
        // Pacemakers with drives from just above threshold to far above, potentials from
        // reset to just below threshold, at epochs and times across several renormalisations.
        let mut rng = <rand_xoshiro::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(7);
        let (mut bounded, mut slack_ticks) = (0, 0i64);
        for _ in 0..20_000 {
            use rand::RngExt;
            let bias = 20.0 + 10f64.powf(rng.random_range(-6.0..2.0));
            let v0 = rng.random_range(0.0..20.0);
            let mut n = LifDelta::new(params(), &[v0], &[bias], Tick::ZERO)
                .unwrap()
                .with_early_predictions(true);
            let t = Tick(rng.random_range(0..2_000_000_000));
            let mut touched = vec![];
            n.receive(t, 0, &[0], &[rng.random_range(-5.0f32..0.0)], &mut touched);
            let Crossing::At(exact) = n.predict(0) else {
                panic!("a suprathreshold drive predicts a crossing")
            };
            if let Some(lower) = n.crossing_not_before(0) {
                assert!(
                    lower <= exact,
                    "bound {lower:?} after the crossing {exact:?}"
                );
                bounded += 1;
                slack_ticks = slack_ticks.max((exact - lower).0);
            }
        }
        assert_eq!(bounded, 20_000);
        // At most (0.0152 + 0.0197) tau_m (20 ms) early, plus the tick of margin and the
        // rounding up; and the grid of drives reaches most of that.
        assert!(slack_ticks <= 698_002, "bound {slack_ticks} ticks early");
        assert!(
            slack_ticks > 500_000,
            "bound at most {slack_ticks} ticks early"
        );
        // Asked again when the bound comes due, the model gives the exact crossing; with
        // early predictions off it gives that at once.
        let exact_model = LifDelta::new(params(), &[0.0], &[30.0], Tick::ZERO).unwrap();
        let mut n = exact_model.clone().with_early_predictions(true);
        let Crossing::At(lower) = n.check_threshold(0, Tick::ZERO) else {
            panic!()
        };
        let Crossing::At(exact) = n.predict(0) else {
            panic!()
        };
        assert!(lower < exact, "the first answer is the bound");
        assert_eq!(n.check_threshold(0, lower), Crossing::At(exact));
        assert_eq!(n.check_threshold(0, exact), Crossing::Now);
        assert_eq!(
            exact_model.clone().check_threshold(0, Tick::ZERO),
            Crossing::At(exact)
        );
    }

    /// The engine's protocol for one block, in miniature: inputs at their ticks, then a
    /// threshold phase for the touched neurons and the due crossings, a queue of predicted
    /// crossings. Returns the spikes and how many queued crossings came due without a spike.
    fn run_protocol(early: bool, seed: u64) -> (Vec<(Tick, u32)>, usize) {
        use rand::{RngExt, SeedableRng};
        use std::collections::BTreeSet;
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        let n = 40;
        // Pacemakers (bias above the 20 mV gap) and quiet neurons, excitatory and
        // inhibitory inputs at random ticks, some during refractoriness.
        let bias: Vec<f64> = (0..n).map(|_| rng.random_range(15.0..40.0)).collect();
        let v0: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..19.0)).collect();
        let mut inputs: Vec<(Tick, u32, f32)> = (0..3000)
            .map(|_| {
                let t = Tick(rng.random_range(0..500_000_000));
                (
                    t,
                    rng.random_range(0..n as u32),
                    rng.random_range(-4.0f32..3.0),
                )
            })
            .collect();
        inputs.sort_by_key(|&(t, i, _)| (t, i));
        let mut m = LifDelta::new(params(), &v0, &bias, Tick::ZERO)
            .unwrap()
            .with_early_predictions(early);
        let (mut queue, mut at) = (BTreeSet::new(), vec![None; n]);
        let (mut spikes, mut idle) = (vec![], 0);
        let mut came_due = vec![false; n];
        let mut touched: Vec<u32> = (0..n as u32).collect();
        let (mut t, mut k) = (Tick::ZERO, 0);
        loop {
            touched.sort_unstable();
            touched.dedup();
            for &i in &touched {
                let mut c = m.check_threshold(i, t);
                if c == Crossing::Now {
                    spikes.push((t, i));
                    c = match m.fire(i, t) {
                        Crossing::Now => Crossing::At(t + Tick::ONE),
                        c => c,
                    };
                } else if came_due[i as usize] {
                    idle += 1;
                }
                came_due[i as usize] = false;
                if let Some(old) = at[i as usize].take() {
                    queue.remove(&(old, i));
                }
                if let Crossing::At(tc) = c {
                    assert!(tc > t, "a prediction at or before now");
                    queue.insert((tc, i));
                    at[i as usize] = Some(tc);
                }
            }
            touched.clear();
            let next_input = inputs.get(k).map_or(Tick::MAX, |e| e.0);
            let next_due = queue.first().map_or(Tick::MAX, |e| e.0);
            t = next_input.min(next_due);
            if t >= Tick(600_000_000) {
                return (spikes, idle);
            }
            while let Some(&(tc, i)) = queue.first().filter(|e| e.0 == t) {
                queue.remove(&(tc, i));
                at[i as usize] = None;
                came_due[i as usize] = true;
                touched.push(i);
            }
            while let Some(&(_, i, w)) = inputs.get(k).filter(|e| e.0 == t) {
                m.receive(t, 0, &[i], &[w], &mut touched);
                k += 1;
            }
        }
    }

    #[test]
    fn early_predictions_give_the_same_spikes_as_exact_ones() {
        for seed in 1..=5 {
            let (exact, idle_exact) = run_protocol(false, seed);
            let (early, idle_early) = run_protocol(true, seed);
            assert!(
                exact.len() > 300,
                "seed {seed}: only {} spikes",
                exact.len()
            );
            assert_eq!(early, exact, "seed {seed}");
            // Exact predictions come due only as spikes; the bounds come due early.
            assert_eq!(idle_exact, 0, "seed {seed}");
            assert!(idle_early > 100, "seed {seed}: {idle_early} early checks");
        }
    }

    #[test]
    fn shared_values_behave_like_per_neuron_ones() {
        // Uniform drive, with and without a refractory period, inputs and DC steps: a block
        // that stores `v_inf` and `ref_end` once answers exactly as one storing them per
        // neuron (the representation before sharing).
        use rand::{RngExt, SeedableRng};
        for t_ref_ms in [0.0, 2.0] {
            let p = LifParams {
                t_ref: Tick::from_ms(t_ref_ms).unwrap(),
                ..params()
            };
            let shared = LifDelta::new(p, &[0.0, 5.0, 12.0, 19.0], &[21.0; 4], Tick::ZERO)
                .unwrap()
                .with_early_predictions(true);
            assert!(shared.v_inf.is_shared());
            assert_eq!(shared.ref_end.is_shared(), t_ref_ms == 0.0);
            let mut each = shared.clone();
            each.v_inf = PerNeuron {
                values: vec![shared.v_inf.at(0); 4],
                mask: usize::MAX,
            };
            each.ref_end = PerNeuron {
                values: vec![shared.ref_end.at(0); 4],
                mask: usize::MAX,
            };
            let mut models = [shared, each];
            let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
            let mut fired = 0;
            for step in 0..3000 {
                let t = Tick(step * 200_000 + rng.random_range(0..200_000));
                let (i, w) = (rng.random_range(0..4u32), rng.random_range(-2.0f32..4.0));
                let answers: Vec<Vec<(u32, Crossing, Crossing, u64)>> = models
                    .iter_mut()
                    .map(|m| {
                        let mut touched = vec![];
                        if step % 700 == 699 {
                            m.add_bias(t, -1.5, &mut touched);
                        } else {
                            m.receive(t, 0, &[i], &[w], &mut touched);
                        }
                        touched.sort_unstable();
                        touched.dedup();
                        let mut out = vec![];
                        for j in touched {
                            let c = m.check_threshold(j, t);
                            let after = if c == Crossing::Now { m.fire(j, t) } else { c };
                            out.push((j, c, after, m.potential_mv(j, t).to_bits()));
                        }
                        out
                    })
                    .collect();
                assert_eq!(answers[0], answers[1], "t_ref {t_ref_ms} ms, step {step}");
                fired += answers[0].iter().filter(|a| a.1 == Crossing::Now).count();
            }
            assert!(fired > 100, "t_ref {t_ref_ms} ms: only {fired} spikes");
        }
    }
}
