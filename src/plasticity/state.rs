//! The plastic state one block keeps for one plastic projection into it.
//!
//! Everything here is block-local: the weights of the block's incoming synapses of the
//! projection (by *slot*), one presynaptic trace pair per arrival stream (a source neuron's
//! delay group cut to this block: the synapses of one *stream* share slots
//! `seg_slot[s]..seg_slot[s + 1]`), one postsynaptic trace pair per neuron, and the
//! incoming index (per neuron: its slots and their streams). A block never reads another
//! block's plastic state, so blocks stay independent inside a window and partitions of whole
//! blocks give the same weights as one thread.

use super::{Pairing, PlasticityRule, StdpParams};
use crate::prefetch::prefetch;
use crate::time::Tick;

/// Move the epoch when a trace factor would exceed `e^RENORM_AT` (well inside f64's range
/// even for products of two factors).
const RENORM_AT: f64 = 200.0;

/// How many incoming synapses ahead [`PlasticIncoming::on_post`] prefetches weights.
const PREFETCH_AHEAD: usize = 32;

/// A trace's jump at a spike, in rescaled units (`one` is 1 at the spike's tick): by 1 under
/// all-to-all pairing, to 1 under nearest-spike pairing.
#[inline]
fn jump(pairing: Pairing, trace: &mut f64, one: f64) {
    match pairing {
        Pairing::AllToAll => *trace += one,
        Pairing::Nearest => *trace = one,
    }
}

/// Exponential growth factors `exp((t - epoch) / tau)` of one tick.
#[derive(Clone, Copy, Debug, Default)]
struct Factors {
    r1: f64,
    r2: f64,
    o1: f64,
    o2: f64,
    c: f64,
}

/// The plastic state of one projection in one block.
#[derive(Debug)]
pub(crate) struct PlasticIncoming {
    /// Index of the projection in the network description.
    pub proj: usize,
    rule: StdpParams,
    /// Weights by slot.
    pub weights: Vec<f64>,
    /// Rescaled eligibility by slot (reward modulation only).
    elig: Vec<f64>,
    /// Rescaled pre traces by stream.
    r1: Vec<f64>,
    r2: Vec<f64>,
    /// Rescaled post traces by local neuron.
    o1: Vec<f64>,
    o2: Vec<f64>,
    /// Slots of stream `s`: `seg_slot[s]..seg_slot[s + 1]`.
    pub seg_slot: Vec<u32>,
    /// Source neuron of each stream.
    pub seg_src: Vec<u32>,
    /// First synapse (index into the network's CSR) of each stream.
    pub seg_syn: Vec<u32>,
    /// Incoming index: neuron `i`'s slots are `in_slot[in_start[i]..in_start[i + 1]]`, their
    /// streams `in_seg[...]` alike.
    in_start: Vec<u32>,
    in_slot: Vec<u32>,
    in_seg: Vec<u32>,
    /// Per time constant, `1 / tau` in 1/ticks (r1, r2, o1, o2, c).
    inv_tau: [f64; 5],
    epoch: Tick,
    /// The tick `up` holds the factors of (`Tick(i64::MIN)`: none yet).
    factors_at: Tick,
    up: Factors,
    /// Old weights of the stream being delivered, as the models take them.
    pub scratch: Vec<f32>,
    /// Weight changes applied so far (STDP events x synapses).
    pub updates: u64,
}

/// Builds a block's [`PlasticIncoming`]: streams are added in delivery order, then
/// [`PlasticBuilder::finish`] builds the incoming index.
#[derive(Debug)]
pub(crate) struct PlasticBuilder {
    inner: PlasticIncoming,
    /// Local target of each slot.
    slot_target: Vec<u16>,
    neurons: usize,
}

impl PlasticBuilder {
    pub fn new(proj: usize, rule: StdpParams, neurons: usize, t0: Tick) -> Self {
        let ms = 1e6; // ticks per ms
        let inv = |tau_ms: f64| 1.0 / (tau_ms * ms);
        let (tx, ty) = rule
            .triplet
            .map_or((f64::INFINITY, f64::INFINITY), |t| (t.tau_x_ms, t.tau_y_ms));
        let tc = rule.reward.map_or(f64::INFINITY, |r| r.tau_c_ms);
        PlasticBuilder {
            inner: PlasticIncoming {
                proj,
                rule,
                weights: Vec::new(),
                elig: Vec::new(),
                r1: Vec::new(),
                r2: Vec::new(),
                o1: vec![0.0; neurons],
                o2: if rule.triplet.is_some() {
                    vec![0.0; neurons]
                } else {
                    Vec::new()
                },
                seg_slot: vec![0],
                seg_src: Vec::new(),
                seg_syn: Vec::new(),
                in_start: Vec::new(),
                in_slot: Vec::new(),
                in_seg: Vec::new(),
                inv_tau: [
                    inv(rule.tau_plus_ms),
                    inv(tx),
                    inv(rule.tau_minus_ms),
                    inv(ty),
                    inv(tc),
                ],
                epoch: t0,
                factors_at: Tick(i64::MIN),
                up: Factors::default(),
                scratch: Vec::new(),
                updates: 0,
            },
            slot_target: Vec::new(),
            neurons,
        }
    }

    /// Adds a stream: `src`'s synapses `syn0..` with these local targets and weights; returns
    /// its stream id.
    pub fn add_stream(&mut self, src: u32, syn0: u32, local: &[u16], weights: &[f32]) -> u32 {
        let p = &mut self.inner;
        let id = p.seg_src.len() as u32;
        p.seg_src.push(src);
        p.seg_syn.push(syn0);
        p.weights.extend(weights.iter().map(|&w| w as f64));
        p.seg_slot.push(p.weights.len() as u32);
        p.r1.push(0.0);
        if p.rule.triplet.is_some() {
            p.r2.push(0.0);
        }
        self.slot_target.extend_from_slice(local);
        id
    }

    pub fn finish(mut self) -> PlasticIncoming {
        let p = &mut self.inner;
        let mut count = vec![0u32; self.neurons + 1];
        for &t in &self.slot_target {
            count[t as usize + 1] += 1;
        }
        for i in 0..self.neurons {
            count[i + 1] += count[i];
        }
        let mut next = count.clone();
        p.in_slot = vec![0; self.slot_target.len()];
        p.in_seg = vec![0; self.slot_target.len()];
        for s in 0..p.seg_src.len() {
            for slot in p.seg_slot[s]..p.seg_slot[s + 1] {
                let t = self.slot_target[slot as usize] as usize;
                let k = next[t] as usize;
                p.in_slot[k] = slot;
                p.in_seg[k] = s as u32;
                next[t] += 1;
            }
        }
        p.in_start = count;
        if p.rule.reward.is_some() {
            p.elig = vec![0.0; p.weights.len()];
        }
        self.inner
    }
}

impl PlasticIncoming {
    /// Brings the per-tick factors to `t`, moving the epoch first if they would grow too large.
    #[inline]
    fn factors(&mut self, t: Tick) -> Factors {
        if t != self.factors_at {
            let dt = (t.0 - self.epoch.0) as f64;
            let fastest = self.inv_tau.iter().fold(0.0f64, |a, &b| a.max(b));
            if dt * fastest > RENORM_AT {
                self.move_epoch(t);
            }
            let dt = (t.0 - self.epoch.0) as f64;
            let f = |k: usize| (dt * self.inv_tau[k]).exp();
            self.up = Factors {
                r1: f(0),
                r2: f(1),
                o1: f(2),
                o2: f(3),
                c: f(4),
            };
            self.factors_at = t;
        }
        self.up
    }

    /// Re-expresses every stored trace relative to epoch `t`.
    fn move_epoch(&mut self, t: Tick) {
        let dt = (t.0 - self.epoch.0) as f64;
        let down = |k: usize| (-dt * self.inv_tau[k]).exp();
        let scale = |v: &mut Vec<f64>, d: f64| v.iter_mut().for_each(|x| *x *= d);
        let d = [down(0), down(1), down(2), down(3), down(4)];
        scale(&mut self.r1, d[0]);
        scale(&mut self.r2, d[1]);
        scale(&mut self.o1, d[2]);
        scale(&mut self.o2, d[3]);
        scale(&mut self.elig, d[4]);
        self.epoch = t;
        self.factors_at = Tick(i64::MIN);
    }

    /// A spike of stream `seg` arrives at `t` at the synapses whose local targets are
    /// `local`: fills [`Self::scratch`] with the weights to deliver (those before this
    /// arrival's update), depresses each synapse from its target's post trace, then
    /// increments the stream's pre traces.
    pub fn on_pre(&mut self, seg: u32, t: Tick, local: &[u16]) {
        let up = self.factors(t);
        let s = seg as usize;
        let first = self.seg_slot[s] as usize;
        debug_assert_eq!(self.seg_slot[s + 1] as usize - first, local.len());
        let triplet = self.rule.triplet.is_some();
        let r2_before = if triplet { self.r2[s] / up.r2 } else { 0.0 };
        let inv_o1 = 1.0 / up.o1;
        let n = local.len();
        let ws = &mut self.weights[first..first + n];
        // The weights delivered are those before this arrival's update.
        self.scratch.clear();
        self.scratch.extend(ws.iter().map(|&w| w as f32));
        // Hot loop on local slices: nothing in it reloads through `self`.
        let (rule, o1s) = (&self.rule, &self.o1[..]);
        if self.elig.is_empty() {
            let (lo, hi) = (rule.w_min, rule.w_max);
            for (w, &tgt) in ws.iter_mut().zip(local) {
                let o1 = o1s[tgt as usize] * inv_o1;
                if o1 != 0.0 {
                    *w = (*w + rule.on_pre(*w, o1, r2_before)).clamp(lo, hi);
                }
            }
        } else {
            let es = &mut self.elig[first..first + n];
            for ((w, e), &tgt) in ws.iter().zip(es.iter_mut()).zip(local) {
                let o1 = o1s[tgt as usize] * inv_o1;
                if o1 != 0.0 {
                    *e += rule.on_pre(*w, o1, r2_before) * up.c;
                }
            }
        }
        self.updates += local.len() as u64;
        let pairing = self.rule.pairing;
        jump(pairing, &mut self.r1[s], up.r1);
        if triplet {
            jump(pairing, &mut self.r2[s], up.r2);
        }
    }

    /// Local neuron `i` fires at `t`: potentiates its incoming synapses from their streams'
    /// pre traces, then increments its post traces.
    pub fn on_post(&mut self, i: u32, t: Tick) {
        let up = self.factors(t);
        let i = i as usize;
        let triplet = self.rule.triplet.is_some();
        let o2_before = if triplet { self.o2[i] / up.o2 } else { 0.0 };
        let inv_r1 = 1.0 / up.r1;
        let (a, b) = (self.in_start[i] as usize, self.in_start[i + 1] as usize);
        let (slots, segs) = (&self.in_slot[a..b], &self.in_seg[a..b]);
        let (rule, r1s) = (&self.rule, &self.r1[..]);
        let weights = &mut self.weights[..];
        let (lo, hi) = (rule.w_min, rule.w_max);
        let reward = !self.elig.is_empty();
        for (k, (&slot, &seg)) in slots.iter().zip(segs).enumerate() {
            // A neuron's incoming synapses are scattered over the block's weights (which are
            // laid out by presynaptic stream, for delivery): fetch a few ahead.
            if let Some(&ahead) = slots.get(k + PREFETCH_AHEAD) {
                prefetch(weights.as_ptr().wrapping_add(ahead as usize));
            }
            let (slot, seg) = (slot as usize, seg as usize);
            let r1 = r1s[seg] * inv_r1;
            if r1 != 0.0 {
                let dw = rule.on_post(weights[slot], r1, o2_before);
                if reward {
                    self.elig[slot] += dw * up.c;
                } else {
                    weights[slot] = (weights[slot] + dw).clamp(lo, hi);
                }
            }
        }
        self.updates += (b - a) as u64;
        let pairing = self.rule.pairing;
        jump(pairing, &mut self.o1[i], up.o1);
        if triplet {
            jump(pairing, &mut self.o2[i], up.o2);
        }
    }

    /// A reward `amount` at `t`: every weight changes by `amount · c(t)`, then is clipped.
    /// Without reward modulation, nothing happens.
    pub fn reward(&mut self, amount: f64, t: Tick) {
        if self.elig.is_empty() || amount == 0.0 {
            return;
        }
        let inv_c = 1.0 / self.factors(t).c;
        let (lo, hi) = (self.rule.w_min, self.rule.w_max);
        for (w, c) in self.weights.iter_mut().zip(&self.elig) {
            *w = (*w + amount * c * inv_c).clamp(lo, hi);
        }
    }

    /// A reward `amount` at `t` for the incoming synapses of local neurons `targets` only:
    /// each of their weights changes by `amount · c(t)`, then is clipped.
    pub fn reward_neurons(&mut self, amount: f64, t: Tick, targets: &[u16]) {
        if self.elig.is_empty() || amount == 0.0 {
            return;
        }
        let inv_c = 1.0 / self.factors(t).c;
        let (lo, hi) = (self.rule.w_min, self.rule.w_max);
        for &i in targets {
            let (a, b) = (
                self.in_start[i as usize] as usize,
                self.in_start[i as usize + 1] as usize,
            );
            for &slot in &self.in_slot[a..b] {
                let w = &mut self.weights[slot as usize];
                *w = (*w + amount * self.elig[slot as usize] * inv_c).clamp(lo, hi);
            }
        }
    }

    /// Eligibility of every slot at `t` (zeros without reward modulation).
    pub fn eligibility(&mut self, t: Tick) -> Vec<f64> {
        if self.elig.is_empty() {
            return vec![0.0; self.weights.len()];
        }
        let inv_c = 1.0 / self.factors(t).c;
        self.elig.iter().map(|c| c * inv_c).collect()
    }

    /// Multiplies the rule's amplitudes by `factor` from now on (traces and weights carry on).
    pub fn scale_amplitudes(&mut self, factor: f64) {
        self.rule = self.rule.with_amplitudes_scaled(factor);
    }

    /// Scales each neuron's incoming weights to sum to `total` (neurons with zero sum are
    /// left alone).
    pub fn normalize(&mut self, total: f64) {
        for i in 0..self.in_start.len().saturating_sub(1) {
            let (a, b) = (self.in_start[i] as usize, self.in_start[i + 1] as usize);
            let sum: f64 = self.in_slot[a..b]
                .iter()
                .map(|&s| self.weights[s as usize])
                .sum();
            if sum != 0.0 && sum.is_finite() {
                let f = total / sum;
                for &s in &self.in_slot[a..b] {
                    self.weights[s as usize] *= f;
                }
            }
        }
    }

    /// Bytes held per slot and per stream/neuron, for the memory report.
    pub fn bytes(&self) -> usize {
        8 * (self.weights.len()
            + self.elig.len()
            + self.r1.len()
            + self.r2.len()
            + self.o1.len()
            + self.o2.len())
            + 4 * (self.seg_slot.len()
                + self.seg_src.len()
                + self.seg_syn.len()
                + self.in_start.len()
                + self.in_slot.len()
                + self.in_seg.len())
    }
}
