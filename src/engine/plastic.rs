//! Plastic projections inside the engine: attaching block-local plastic state at start, and
//! what clients ask of it (weights, rewards, normalisation).

use super::block::Block;
use super::table::DeliveryTable;
use super::{RunError, Simulation};
use crate::network::Network;
use crate::neuron::NeuronModel;
use crate::plasticity::state::PlasticBuilder;
use crate::plasticity::{PlasticityError, StdpParams};
use crate::time::Tick;

/// A scheduled normalisation: projection, interval, next tick.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NormalizeSchedule {
    pub proj: usize,
    pub every: Tick,
    pub next: Tick,
}

fn error(net: &Network, proj: usize, e: PlasticityError) -> RunError {
    let pr = &net.def.projections[proj];
    RunError::Plasticity {
        projection: format!(
            "{} -> {}",
            net.populations[pr.from].name, net.populations[pr.to].name
        ),
        message: e.to_string(),
    }
}

/// Gives every block that receives a plastic projection its plastic state, and marks the
/// delivery table's segments of those projections. Returns the normalisation schedule.
pub(crate) fn attach(
    net: &Network,
    table: &mut DeliveryTable,
    blocks: &mut [Block],
    t0: Tick,
) -> Result<Vec<NormalizeSchedule>, RunError> {
    let conn = &net.connectivity;
    let mut schedule = Vec::new();
    for (k, pr) in net.def.projections.iter().enumerate() {
        let Some(rule) = pr.plasticity else { continue };
        rule.validate().map_err(|e| error(net, k, e))?;
        let (from, to) = (pr.from, pr.to);
        if net.def.populations[to].kind.is_generator() {
            return Err(error(
                net,
                k,
                PlasticityError::GeneratorTarget(net.populations[to].name.clone()),
            ));
        }
        let shared = net
            .def
            .projections
            .iter()
            .enumerate()
            .any(|(j, q)| j != k && q.from == from && q.to == to);
        if shared {
            return Err(error(
                net,
                k,
                PlasticityError::SharedPopulations {
                    from: net.populations[from].name.clone(),
                    to: net.populations[to].name.clone(),
                },
            ));
        }
        let mine: Vec<usize> = (0..blocks.len()).filter(|&b| blocks[b].pop == to).collect();
        let Some(&b0) = mine.first() else { continue };
        let mut builders: Vec<PlasticBuilder> = mine
            .iter()
            .map(|&b| PlasticBuilder::new(k, rule, blocks[b].model.len(), t0))
            .collect();
        let plastic_k = blocks[b0].plastic.len() as u32;
        for s in net.populations[from].ids() {
            let g0 = conn.group_start[s as usize];
            for j in 0..conn.groups_of(s).len() as u32 {
                let g = g0 + j;
                for i in 0..table.segments(g).len() {
                    let seg = table.segments(g)[i];
                    if blocks[seg.block as usize].pop != to {
                        continue;
                    }
                    let (a, b) = (seg.start as usize, seg.end as usize);
                    check_bounds(&rule, &conn.weights[a..b]).map_err(|e| error(net, k, e))?;
                    let stream = builders[seg.block as usize - b0].add_stream(
                        s,
                        seg.start,
                        &table.local[a..b],
                        &conn.weights[a..b],
                    );
                    let seg = &mut table.segments_mut(g)[i];
                    (seg.plastic_k, seg.plastic_seg) = (plastic_k, stream);
                }
            }
        }
        for (builder, &b) in builders.into_iter().zip(&mine) {
            debug_assert_eq!(blocks[b].plastic.len() as u32, plastic_k);
            blocks[b].plastic.push(builder.finish());
        }
        if let Some(n) = rule.normalize {
            schedule.push(NormalizeSchedule {
                proj: k,
                every: n.every,
                next: t0,
            });
        }
    }
    for (j, pr) in net.def.projections.iter().enumerate() {
        let Some(k) = pr.reward_for else { continue };
        attach_reward(net, table, blocks, j, k)?;
    }
    Ok(schedule)
}

/// Marks reward projection `j`'s segments to deliver reward to plastic projection `k`.
fn attach_reward(
    net: &Network,
    table: &mut DeliveryTable,
    blocks: &[Block],
    j: usize,
    k: usize,
) -> Result<(), RunError> {
    let conn = &net.connectivity;
    let pr = &net.def.projections[j];
    let fail = |m: String| error(net, j, PlasticityError::Reward(m));
    let target = net.def.projections.get(k);
    if target.is_none_or(|t| t.plasticity.is_none_or(|p| p.reward.is_none())) {
        return Err(fail(format!(
            "projection {k} is not a reward-modulated plastic projection"
        )));
    }
    if target.is_some_and(|t| t.to != pr.to) {
        return Err(fail(format!(
            "projection {k} ends in another population than this reward projection"
        )));
    }
    if net
        .def
        .projections
        .iter()
        .enumerate()
        .any(|(i, q)| i != j && q.from == pr.from && q.to == pr.to)
    {
        return Err(fail(
            "a reward projection must be the only projection between its two populations".into(),
        ));
    }
    for s in net.populations[pr.from].ids() {
        let g0 = conn.group_start[s as usize];
        for g in g0..g0 + conn.groups_of(s).len() as u32 {
            for seg in table.segments_mut(g) {
                let block = &blocks[seg.block as usize];
                if block.pop != pr.to {
                    continue;
                }
                let state = block.plastic.iter().position(|p| p.proj == k);
                seg.plastic_k = state.expect("every block of the target population has it") as u32;
                seg.plastic_seg = super::table::REWARD;
            }
        }
    }
    Ok(())
}

fn check_bounds(rule: &StdpParams, weights: &[f32]) -> Result<(), PlasticityError> {
    match weights
        .iter()
        .map(|&w| w as f64)
        .find(|&w| !(rule.w_min..=rule.w_max).contains(&w))
    {
        Some(weight) => Err(PlasticityError::InitialWeight {
            weight,
            w_min: rule.w_min,
            w_max: rule.w_max,
        }),
        None => Ok(()),
    }
}

/// One plastic synapse as clients see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlasticSynapse {
    /// Presynaptic neuron.
    pub source: u32,
    /// Postsynaptic neuron.
    pub target: u32,
    /// Index of the synapse in the network's connectivity (CSR order).
    pub synapse: u32,
    /// Current weight (weight unit of the projection).
    pub weight: f64,
}

impl Simulation {
    /// Whether projection `projection` is plastic.
    pub fn is_plastic(&self, projection: usize) -> bool {
        self.net
            .def
            .projections
            .get(projection)
            .is_some_and(|p| p.plasticity.is_some())
    }

    /// The current weights of plastic projection `projection`, sorted by synapse index (the
    /// network's CSR order: by source, delay, target); `None` if it is not plastic.
    pub fn plastic_weights(&self, projection: usize) -> Option<Vec<PlasticSynapse>> {
        if !self.is_plastic(projection) {
            return None;
        }
        let local = &self.table.local;
        let mut out = Vec::new();
        for b in self.blocks() {
            for p in b.plastic.iter().filter(|p| p.proj == projection) {
                for s in 0..p.seg_src.len() {
                    let (a, e) = (p.seg_slot[s] as usize, p.seg_slot[s + 1] as usize);
                    for (k, slot) in (a..e).enumerate() {
                        let syn = p.seg_syn[s] + k as u32;
                        out.push(PlasticSynapse {
                            source: p.seg_src[s],
                            target: b.first + local[syn as usize] as u32,
                            synapse: syn,
                            weight: p.weights[slot],
                        });
                    }
                }
            }
        }
        out.sort_unstable_by_key(|s| s.synapse);
        Some(out)
    }

    /// Eligibility traces of a reward-modulated projection at the current time, in the order
    /// of [`Simulation::plastic_weights`] (zeros for a projection without reward modulation).
    pub fn eligibility(&mut self, projection: usize) -> Option<Vec<f64>> {
        if !self.is_plastic(projection) {
            return None;
        }
        let now = self.now;
        let mut out = Vec::new();
        for p in self.plastic_states_mut(projection) {
            let c = p.eligibility(now);
            for s in 0..p.seg_src.len() {
                let (a, e) = (p.seg_slot[s] as usize, p.seg_slot[s + 1] as usize);
                for (k, slot) in (a..e).enumerate() {
                    out.push((p.seg_syn[s] + k as u32, c[slot]));
                }
            }
        }
        out.sort_unstable_by_key(|&(syn, _)| syn);
        Some(out.into_iter().map(|(_, c)| c).collect())
    }

    /// Delivers a reward `amount` to plastic projection `projection` at the current time:
    /// each weight changes by `amount` times its eligibility (nothing happens without reward
    /// modulation). Returns whether the projection is plastic.
    pub fn deliver_reward(&mut self, projection: usize, amount: f64) -> bool {
        let now = self.now;
        for p in self.plastic_states_mut(projection) {
            p.reward(amount, now);
        }
        self.is_plastic(projection)
    }

    /// Delivers a reward `amount` at the current time to the incoming synapses of plastic
    /// projection `projection` onto `neuron` only: each of them changes by `amount` times its
    /// eligibility, then is clipped (Mozafari et al.'s credit assignment, where only the
    /// neuron whose spike made the decision learns from it). Returns whether the projection is
    /// plastic and `neuron` exists.
    pub fn deliver_reward_to(&mut self, projection: usize, neuron: u32, amount: f64) -> bool {
        if !self.is_plastic(projection) || neuron >= self.block_of.len() as u32 {
            return false;
        }
        let now = self.now;
        let block = self.block_mut(neuron);
        let local = [(neuron - block.first) as u16];
        for s in block.plastic.iter_mut().filter(|s| s.proj == projection) {
            s.reward_neurons(amount, now, &local);
        }
        true
    }

    /// Scales every target neuron's incoming weights of plastic projection `projection` to
    /// sum to `total` now. Returns whether the projection is plastic.
    pub fn normalize_weights(&mut self, projection: usize, total: f64) -> bool {
        for p in self.plastic_states_mut(projection) {
            p.normalize(total);
        }
        self.is_plastic(projection)
    }

    /// Multiplies the amplitudes of plastic projection `projection`'s rule by `factor` from
    /// now on (a learning rate schedule; weights, traces and time constants carry on).
    /// Returns whether the projection is plastic; a factor that is negative or not finite
    /// is refused. The network description keeps the rule it was built with.
    pub fn scale_learning_rate(
        &mut self,
        projection: usize,
        factor: f64,
    ) -> Result<bool, RunError> {
        if !(factor.is_finite() && factor >= 0.0) {
            return Err(RunError::Plasticity {
                projection: format!("projection {projection}"),
                message: format!("learning rate factor must be finite and >= 0, got {factor}"),
            });
        }
        for p in self.plastic_states_mut(projection) {
            p.scale_amplitudes(factor);
        }
        Ok(self.is_plastic(projection))
    }

    /// Plastic weight changes applied so far (one per synapse per pre arrival or post spike).
    pub fn plastic_updates(&self) -> u64 {
        self.blocks()
            .flat_map(|b| &b.plastic)
            .map(|p| p.updates)
            .sum()
    }

    /// Plastic weight changes applied so far in projection `projection`.
    pub fn plastic_updates_of(&self, projection: usize) -> u64 {
        self.blocks()
            .flat_map(|b| &b.plastic)
            .filter(|p| p.proj == projection)
            .map(|p| p.updates)
            .sum()
    }

    /// Every block's plastic state of projection `projection`.
    fn plastic_states_mut(
        &mut self,
        projection: usize,
    ) -> impl Iterator<Item = &mut crate::plasticity::state::PlasticIncoming> {
        self.parts
            .iter_mut()
            .flat_map(|p| &mut p.blocks)
            .flat_map(|b| &mut b.plastic)
            .filter(move |p| p.proj == projection)
    }

    /// Bytes of plastic state (weights, traces, incoming index).
    pub fn plastic_bytes(&self) -> usize {
        self.blocks()
            .flat_map(|b| &b.plastic)
            .map(|p| p.bytes())
            .sum()
    }

    /// The next scheduled normalisation (`Tick::MAX` if none).
    pub(crate) fn next_normalization(&self) -> Tick {
        self.normalize
            .iter()
            .map(|n| n.next)
            .min()
            .unwrap_or(Tick::MAX)
    }

    /// Applies the normalisations due at the current time and schedules their next ones.
    pub(crate) fn normalize_due(&mut self) {
        let now = self.now;
        for k in 0..self.normalize.len() {
            let n = self.normalize[k];
            if n.next > now {
                continue;
            }
            let total = self.net.def.projections[n.proj]
                .plasticity
                .and_then(|p| p.normalize)
                .map_or(0.0, |p| p.total);
            self.normalize_weights(n.proj, total);
            self.normalize[k].next = n.next.saturating_add(n.every);
        }
    }
}
