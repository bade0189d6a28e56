//! Synapse generation and the frozen connectivity.

use super::{ConnectRule, Dist, NetworkDef, NeuronKind, ProjectionDef};
use crate::neuron::ParamError;
use crate::rng::{StreamKind, stream};
use crate::time::Tick;
use rand::RngExt;
use rand_distr::{Distribution, Geometric};

/// Why a network description could not be built. Fatal: nothing was built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A projection or drive names a population index that does not exist.
    #[error("projection {projection}: no population with index {population}")]
    UnknownPopulation {
        /// Projection index.
        projection: usize,
        /// The missing population index.
        population: usize,
    },
    /// Neuron parameters are invalid.
    #[error("population `{population}`: {source}")]
    InvalidParameters {
        /// Population name.
        population: String,
        /// What is wrong.
        source: ParamError,
    },
    /// A distribution has non-finite or misordered parameters.
    #[error("{what}: distribution {dist:?} is malformed (non-finite value or low > high)")]
    MalformedDistribution {
        /// Which value.
        what: String,
        /// The distribution.
        dist: Dist,
    },
    /// A delay below one tick (1 ns), including zero and negative delays.
    #[error(
        "projection {projection}: delay {delay_ms} ms is below the minimum of one tick (1e-6 ms)"
    )]
    DelayTooShort {
        /// Projection index.
        projection: usize,
        /// The offending delay \[ms\].
        delay_ms: f64,
    },
    /// A delay that does not fit in 64-bit nanoseconds (about 292 years).
    #[error(
        "projection {projection}: delay {delay_ms} ms is out of range (at most about 9.2e12 ms)"
    )]
    DelayOutOfRange {
        /// Projection index.
        projection: usize,
        /// The offending delay \[ms\].
        delay_ms: f64,
    },
    /// A connection probability outside `[0, 1]`.
    #[error("projection {projection}: probability {p} is outside [0, 1]")]
    ProbabilityOutOfRange {
        /// Projection index.
        projection: usize,
        /// The value given.
        p: f64,
    },
    /// More synapses per neuron are asked for than distinct partners exist.
    #[error(
        "projection {projection}: degree {k} exceeds the {available} distinct partners available without multapses"
    )]
    DegreeTooLarge {
        /// Projection index.
        projection: usize,
        /// Requested degree.
        k: u32,
        /// Partners available.
        available: u32,
    },
    /// `one_to_one` between populations of different sizes.
    #[error("projection {projection}: one_to_one needs equal sizes, got {from} and {to}")]
    SizeMismatch {
        /// Projection index.
        projection: usize,
        /// Source size.
        from: u32,
        /// Target size.
        to: u32,
    },
    /// An explicit pair names a neuron outside its population.
    #[error(
        "projection {projection}: pair {index} ({source_index}, {target_index}) is out of range for sizes {from} and {to}"
    )]
    PairOutOfRange {
        /// Projection index.
        projection: usize,
        /// Position in the list.
        index: usize,
        /// Source index in the pair.
        source_index: u32,
        /// Target index in the pair.
        target_index: u32,
        /// Source population size.
        from: u32,
        /// Target population size.
        to: u32,
    },
    /// A projection or drive into a generator population.
    #[error("population `{population}` is a generator ({model}) and accepts no input")]
    InputToGenerator {
        /// Population name.
        population: String,
        /// Its model.
        model: &'static str,
    },
    /// Drive parameters are invalid.
    #[error("drive {drive}: {what}")]
    InvalidDrive {
        /// Drive index.
        drive: usize,
        /// What is wrong.
        what: String,
    },
    /// The network has more neurons or synapses than the engine's indices can address.
    #[error("network too large: {what}")]
    TooLarge {
        /// What overflowed.
        what: String,
    },
    /// Two populations share a name.
    #[error("two populations are named `{0}`")]
    DuplicateName(String),
}

/// The most neurons a network may have: 2^28, about 10 GiB of neuron state and bookkeeping.
/// A model file's `size` is a length read off a file; this bound keeps a typo from asking
/// for hundreds of gigabytes.
pub const MAX_NEURONS: u64 = 1 << 28;

/// Where a population's neurons sit in the global id space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PopulationInfo {
    /// Population name.
    pub name: String,
    /// Id of its first neuron.
    pub first: u32,
    /// Number of neurons.
    pub size: u32,
}

impl PopulationInfo {
    /// The global id range.
    pub fn ids(&self) -> std::ops::Range<u32> {
        self.first..self.first + self.size
    }
}

/// The synapses of one source neuron that share one delay: one spike-queue entry each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayGroup {
    /// The common delay (≥ 1 tick).
    pub delay: Tick,
    /// First synapse (index into `targets`/`weights`).
    pub start: usize,
    /// One past the last synapse.
    pub end: usize,
}

/// Frozen forward connectivity: per source neuron, synapses sorted by (delay, target),
/// grouped by delay. Synapse ids are positions in `targets`/`weights`.
#[derive(Clone, Debug, Default)]
pub struct Connectivity {
    /// Per neuron `n`, its delay groups are `groups[group_start[n]..group_start[n + 1]]`.
    pub group_start: Vec<u32>,
    /// Delay groups, row after row.
    pub groups: Vec<DelayGroup>,
    /// Target neuron of each synapse.
    pub targets: Vec<u32>,
    /// Weight of each synapse \[mV\].
    pub weights: Vec<f32>,
}

impl Connectivity {
    /// Number of synapses.
    pub fn num_synapses(&self) -> usize {
        self.targets.len()
    }

    /// The delay groups of neuron `n`.
    pub fn groups_of(&self, n: u32) -> &[DelayGroup] {
        let n = n as usize;
        &self.groups[self.group_start[n] as usize..self.group_start[n + 1] as usize]
    }

    /// Bytes of the frozen structure (all arrays), for the per-synapse memory figure.
    pub fn bytes(&self) -> usize {
        self.group_start.len() * 4
            + self.groups.len() * std::mem::size_of::<DelayGroup>()
            + self.targets.len() * 8
    }

    /// The smallest delay, or `None` without synapses.
    pub fn min_delay(&self) -> Option<Tick> {
        self.groups.iter().map(|g| g.delay).min()
    }

    /// Every synapse as (source, target, weight, delay), in CSR order (for tests and export).
    pub fn synapses(&self) -> impl Iterator<Item = (u32, u32, f32, Tick)> + '_ {
        (0..self.group_start.len().saturating_sub(1) as u32).flat_map(move |n| {
            self.groups_of(n).iter().flat_map(move |g| {
                (g.start..g.end).map(move |s| (n, self.targets[s], self.weights[s], g.delay))
            })
        })
    }
}

/// A built network: the description, where its populations sit, and its connectivity.
#[derive(Clone, Debug)]
pub struct Network {
    /// The description it was built from.
    pub def: NetworkDef,
    /// Population id ranges, in population order.
    pub populations: Vec<PopulationInfo>,
    /// Frozen synapses.
    pub connectivity: Connectivity,
    /// The seed that generated the synapses (and seeds the simulation by default).
    pub seed: u64,
}

impl Network {
    /// Total number of neurons.
    pub fn num_neurons(&self) -> u32 {
        self.populations.last().map_or(0, |p| p.first + p.size)
    }

    /// The population of a neuron id.
    pub fn population_of(&self, neuron: u32) -> usize {
        self.populations
            .partition_point(|p| p.first + p.size <= neuron)
    }

    /// Population index by name.
    pub fn population_named(&self, name: &str) -> Option<usize> {
        self.populations.iter().position(|p| p.name == name)
    }
}

struct Gen<'a> {
    k: usize,
    pr: &'a ProjectionDef,
    rng: rand_xoshiro::Xoshiro256PlusPlus,
    fs: u32,
    ft: u32,
    /// The weight and the converted delay when they are constants (as in most models): then
    /// nothing is drawn or converted per synapse. A constant draws nothing from the stream,
    /// so this changes no random number.
    const_weight: Option<f32>,
    const_delay: Option<Result<i64, BuildError>>,
}

impl Gen<'_> {
    /// The delay `d_ms` in ticks, or why projection `k` cannot have it.
    fn delay_ticks(k: usize, d_ms: f64) -> Result<i64, BuildError> {
        match Tick::from_ms(d_ms) {
            Ok(d) if d >= Tick::ONE => Ok(d.0),
            Ok(_) => Err(BuildError::DelayTooShort {
                projection: k,
                delay_ms: d_ms,
            }),
            Err(_) if d_ms > 0.0 => Err(BuildError::DelayOutOfRange {
                projection: k,
                delay_ms: d_ms,
            }),
            Err(_) => Err(BuildError::DelayTooShort {
                projection: k,
                delay_ms: d_ms,
            }),
        }
    }

    /// Makes synapse `s -> t` (population-local indices): draws its weight and delay and
    /// hands (source id, target id, weight, delay in ticks) to `sink`.
    #[inline]
    fn push(
        &mut self,
        sink: &mut impl FnMut(u32, u32, f32, i64),
        s: u32,
        t: u32,
    ) -> Result<(), BuildError> {
        let w = match self.const_weight {
            Some(w) => w,
            None => self.pr.weight_mv.sample(&mut self.rng) as f32,
        };
        let d = match &self.const_delay {
            Some(d) => d.clone()?,
            None => Self::delay_ticks(self.k, self.pr.delay_ms.sample(&mut self.rng))?,
        };
        sink(self.fs + s, self.ft + t, w, d);
        Ok(())
    }
}

/// One projection's synapses on their way into the rows, grouped by their source's row range.
///
/// Why: most rules make synapses target by target, from random sources, so writing each one
/// straight into its source's row missed the cache twice per synapse and was most of the
/// build. Appending to a bucket is a sequential write, and a bucket's rows span a cache-sized
/// stretch of the arrays, so scattering it bucket by bucket stays in cache. A projection at a
/// time, weights and delays only where they vary: at most 8 bytes per synapse of the largest
/// projection beside the final arrays (12 with drawn weights, 16 with drawn delays, 20 with both).
struct Buckets {
    /// Rows per bucket, as a shift.
    shift: u32,
    buckets: Vec<Bucket>,
    /// Whether this projection's weights / delays are kept per synapse.
    each_weight: bool,
    each_delay: bool,
}

#[derive(Default)]
struct Bucket {
    /// (source, target), in generation order.
    synapses: Vec<(u32, u32)>,
    weights: Vec<f32>,
    delays: Vec<i64>,
}

impl Buckets {
    /// Buckets of about 256 KiB of final targets and weights (a bucket's scatter stays in
    /// L2) for `synapses` (an estimate is enough) over `rows`, at most 512 of them: each
    /// append goes to the end of one of them, and with ~2000 (the cap was 4096) those ends
    /// were on more pages than the TLB holds. At 1e6 neurons and 1e8 synapses, 512 instead of
    /// ~2000 buckets took 0.94x the build's CPU time and 200 MB less peak memory (5 pairs);
    /// smaller networks have fewer buckets anyway.
    fn new(rows: usize, synapses: usize) -> Self {
        let per_row = synapses.div_ceil(rows.max(1)).max(1);
        let by_cache = ((256 << 10) / (8 * per_row)).max(1);
        let by_count = rows.div_ceil(512).max(1);
        let shift = by_cache.max(by_count).next_power_of_two().trailing_zeros();
        Buckets {
            shift,
            buckets: (0..rows.div_ceil(1 << shift))
                .map(|_| Bucket::default())
                .collect(),
            each_weight: false,
            each_delay: false,
        }
    }

    /// Allocates the buckets for a projection with `sizes[b]` synapses in bucket `b`.
    fn start(&mut self, sizes: &[usize], each_weight: bool, each_delay: bool) {
        (self.each_weight, self.each_delay) = (each_weight, each_delay);
        for (b, &size) in self.buckets.iter_mut().zip(sizes) {
            b.synapses.reserve_exact(size);
            b.weights.reserve_exact(if each_weight { size } else { 0 });
            b.delays.reserve_exact(if each_delay { size } else { 0 });
        }
    }

    #[inline]
    fn push(&mut self, s: u32, t: u32, w: f32, d: i64) {
        let b = &mut self.buckets[s as usize >> self.shift];
        b.synapses.push((s, t));
        if self.each_weight {
            b.weights.push(w);
        }
        if self.each_delay {
            b.delays.push(d);
        }
    }

    /// The buckets in row order, each emptied (its memory freed) once handed out.
    fn drain(&mut self) -> impl Iterator<Item = Bucket> + '_ {
        self.buckets.iter_mut().map(std::mem::take)
    }
}

/// Draws `k` distinct-or-not partners in `[0, n)`, skipping `exclude`, into `out`.
fn draw_partners(
    rng: &mut impl rand::Rng,
    n: u32,
    k: u32,
    exclude: Option<u32>,
    multapses: bool,
    mark: &mut [bool],
    out: &mut Vec<u32>,
) {
    out.clear();
    let avail = n - exclude.is_some() as u32;
    for _ in 0..k {
        loop {
            let mut x = rng.random_range(0..avail);
            if let Some(e) = exclude
                && x >= e
            {
                x += 1;
            }
            if multapses {
                out.push(x);
                break;
            }
            if !mark[x as usize] {
                mark[x as usize] = true;
                out.push(x);
                break;
            }
        }
    }
    if !multapses {
        for &x in out.iter() {
            mark[x as usize] = false;
        }
    }
}

impl NetworkDef {
    /// Checks the description and generates its synapses with `seed`.
    pub fn build(&self, seed: u64) -> Result<Network, BuildError> {
        // Refuse before allocating: a model file can ask for more synapses than any machine
        // holds, and synapse ids are u32.
        let estimate = self.estimated_synapses();
        if estimate > u32::MAX as f64 {
            return Err(BuildError::TooLarge {
                what: format!(
                    "about {estimate:.3e} synapses (at most {} are addressable)",
                    u32::MAX
                ),
            });
        }
        let mut populations = Vec::with_capacity(self.populations.len());
        let mut next: u64 = 0;
        for (i, p) in self.populations.iter().enumerate() {
            if self.populations[..i].iter().any(|q| q.name == p.name) {
                return Err(BuildError::DuplicateName(p.name.clone()));
            }
            validate_kind(&p.kind).map_err(|source| BuildError::InvalidParameters {
                population: p.name.clone(),
                source,
            })?;
            for (what, d) in [("v_init", &p.v_init_mv), ("bias", &p.bias)] {
                if !d.is_well_formed() {
                    return Err(BuildError::MalformedDistribution {
                        what: format!("population `{}` {what}", p.name),
                        dist: *d,
                    });
                }
            }
            populations.push(PopulationInfo {
                name: p.name.clone(),
                first: next as u32,
                size: p.size,
            });
            next += p.size as u64;
            if next > MAX_NEURONS {
                return Err(BuildError::TooLarge {
                    what: format!("more than {MAX_NEURONS} neurons"),
                });
            }
        }
        for (k, d) in self.drives.iter().enumerate() {
            let pop = self
                .populations
                .get(d.target)
                .ok_or(BuildError::UnknownPopulation {
                    projection: k,
                    population: d.target,
                })?;
            if pop.kind.is_generator() {
                return Err(BuildError::InputToGenerator {
                    population: pop.name.clone(),
                    model: pop.kind.model_name(),
                });
            }
            match d.kind {
                super::DriveKind::Poisson { rate_hz, weight_mv } => {
                    if !(rate_hz.is_finite() && rate_hz >= 0.0) {
                        return Err(BuildError::InvalidDrive {
                            drive: k,
                            what: format!("rate {rate_hz} Hz must be finite and non-negative"),
                        });
                    }
                    if !weight_mv.is_finite() {
                        return Err(BuildError::InvalidDrive {
                            drive: k,
                            what: format!("weight {weight_mv} mV must be finite"),
                        });
                    }
                }
                super::DriveKind::Dc { amplitude } => {
                    if !amplitude.is_finite() {
                        return Err(BuildError::InvalidDrive {
                            drive: k,
                            what: format!("amplitude {amplitude} must be finite"),
                        });
                    }
                }
            }
            if d.stop < d.start {
                return Err(BuildError::InvalidDrive {
                    drive: k,
                    what: "stop is before start".into(),
                });
            }
        }
        let n = next as usize;
        // Two passes over the same random streams, instead of a list of all synapses sorted
        // afterwards: the first counts the synapses of each source (and finds any error),
        // the second puts each synapse into its row (through buckets, below). Drawing twice is
        // cheap; a 20-byte-per-synapse list and its sort were most of the build time.
        let mut row_start = vec![0usize; n + 1];
        let mut buckets = Buckets::new(n, estimate as usize);
        // Synapses per (projection, bucket): each bucket is allocated once, at its size.
        let mut per_bucket = vec![vec![0usize; buckets.buckets.len()]; self.projections.len()];
        for (k, pr) in self.projections.iter().enumerate() {
            let (counts, shift) = (&mut per_bucket[k], buckets.shift);
            generate(k, pr, self, &populations, seed, &mut |s, _, _, _| {
                row_start[s as usize + 1] += 1;
                counts[s as usize >> shift] += 1;
            })?;
        }
        for i in 0..n {
            row_start[i + 1] += row_start[i];
        }
        let m = row_start[n];
        if m > u32::MAX as usize {
            return Err(BuildError::TooLarge {
                what: format!("{m} synapses"),
            });
        }
        // With one delay for every synapse (the common case), no per-synapse delay is
        // stored: 8 bytes per synapse less to scatter, and rows are sorted by target alone.
        let const_delays: Vec<Option<i64>> = (self.projections.iter().enumerate())
            .map(|(k, pr)| match pr.delay_ms {
                Dist::Const(d) => Gen::delay_ticks(k, d).ok(),
                _ => None,
            })
            .collect();
        let uniform_delay = match const_delays.first() {
            Some(&Some(d)) if const_delays.iter().all(|&x| x == Some(d)) => Some(d),
            _ => None,
        };
        let mut delays = vec![0; if uniform_delay.is_some() { 0 } else { m }];
        let (mut targets, mut weights) = (vec![0; m], vec![0.0; m]);
        let mut fill = row_start[..n].to_vec();
        for (k, pr) in self.projections.iter().enumerate() {
            let const_weight = match pr.weight_mv {
                Dist::Const(w) => Some(w as f32),
                _ => None,
            };
            buckets.start(
                &per_bucket[k],
                const_weight.is_none(),
                const_delays[k].is_none(),
            );
            generate(k, pr, self, &populations, seed, &mut |s, t, w, d| {
                buckets.push(s, t, w, d)
            })?;
            for b in buckets.drain() {
                for (j, &(s, t)) in b.synapses.iter().enumerate() {
                    let pos = &mut fill[s as usize];
                    targets[*pos] = t;
                    weights[*pos] = const_weight.unwrap_or_else(|| b.weights[j]);
                    if let Some(slot) = delays.get_mut(*pos) {
                        *slot = const_delays[k].unwrap_or_else(|| b.delays[j]);
                    }
                    *pos += 1;
                }
            }
        }
        drop(fill);
        let delays = match uniform_delay {
            Some(d) => Delays::Uniform(d),
            None => Delays::PerSynapse(delays),
        };
        let connectivity = freeze(&row_start, targets, weights, delays)?;
        Ok(Network {
            def: self.clone(),
            populations,
            connectivity,
            seed,
        })
    }
}

fn validate_kind(kind: &NeuronKind) -> Result<(), ParamError> {
    use crate::neuron::{check_finite, check_positive_ms};
    match kind {
        NeuronKind::LifDelta(p) => p.validate(),
        NeuronKind::LifExp(p, s) => p.validate().and_then(|_| s.validate(p.tau_m_ms)),
        NeuronKind::LifCond(p, c) => p.validate().and_then(|_| c.validate()),
        NeuronKind::LifAdaptive(p, a) => p.validate().and_then(|_| a.validate()),
        NeuronKind::NonLeakyIaf(p) => p.validate(),
        NeuronKind::Regular { period, .. } => check_positive_ms("period", period.as_ms()),
        NeuronKind::Poisson { rate_hz, .. } => check_finite("rate", *rate_hz),
        NeuronKind::SpikeTimes(_) | NeuronKind::Replay(_) => Ok(()),
    }
}

fn generate(
    k: usize,
    pr: &ProjectionDef,
    def: &NetworkDef,
    pops: &[PopulationInfo],
    seed: u64,
    sink: &mut impl FnMut(u32, u32, f32, i64),
) -> Result<(), BuildError> {
    let src = pops.get(pr.from).ok_or(BuildError::UnknownPopulation {
        projection: k,
        population: pr.from,
    })?;
    let tgt = pops.get(pr.to).ok_or(BuildError::UnknownPopulation {
        projection: k,
        population: pr.to,
    })?;
    let tkind = &def.populations[pr.to].kind;
    if tkind.is_generator() {
        return Err(BuildError::InputToGenerator {
            population: tgt.name.clone(),
            model: tkind.model_name(),
        });
    }
    for (what, d) in [("weight", &pr.weight_mv), ("delay", &pr.delay_ms)] {
        if !d.is_well_formed() {
            return Err(BuildError::MalformedDistribution {
                what: format!("projection {k} {what}"),
                dist: *d,
            });
        }
    }
    if Tick::from_ms(pr.delay_ms.lower_bound()).is_ok_and(|d| d < Tick::ONE) {
        return Err(BuildError::DelayTooShort {
            projection: k,
            delay_ms: pr.delay_ms.lower_bound(),
        });
    }
    let (ns, nt) = (src.size, tgt.size);
    let same = pr.from == pr.to;
    let mut g = Gen {
        k,
        pr,
        rng: stream(seed, StreamKind::Projection, k as u64, 0),
        fs: src.first,
        ft: tgt.first,
        const_weight: match pr.weight_mv {
            Dist::Const(w) => Some(w as f32),
            _ => None,
        },
        const_delay: match pr.delay_ms {
            Dist::Const(d) => Some(Gen::delay_ticks(k, d)),
            _ => None,
        },
    };
    // Autapses exist only within one population.
    let no_autapse = |s: u32, t: u32| same && !pr.allow_autapses && s == t;
    match &pr.rule {
        ConnectRule::AllToAll => {
            for s in 0..ns {
                for t in 0..nt {
                    if !no_autapse(s, t) {
                        g.push(sink, s, t)?;
                    }
                }
            }
        }
        ConnectRule::OneToOne => {
            if ns != nt {
                return Err(BuildError::SizeMismatch {
                    projection: k,
                    from: ns,
                    to: nt,
                });
            }
            for s in 0..ns {
                if !no_autapse(s, s) {
                    g.push(sink, s, s)?;
                }
            }
        }
        &ConnectRule::FixedProbability(p) => {
            if !(0.0..=1.0).contains(&p) {
                return Err(BuildError::ProbabilityOutOfRange { projection: k, p });
            }
            if p > 0.0 {
                // Geometric skips: cost per synapse made, not per pair considered.
                let geo = Geometric::new(p).expect("p in (0, 1]");
                for s in 0..ns {
                    let mut t: u64 = 0;
                    loop {
                        t += geo.sample(&mut g.rng);
                        if t >= nt as u64 {
                            break;
                        }
                        if !no_autapse(s, t as u32) {
                            g.push(sink, s, t as u32)?;
                        }
                        t += 1;
                    }
                }
            }
        }
        &ConnectRule::FixedIndegree(kd) | &ConnectRule::FixedOutdegree(kd) => {
            let indegree = matches!(pr.rule, ConnectRule::FixedIndegree(_));
            let (n_partners, n_owners) = if indegree { (ns, nt) } else { (nt, ns) };
            let excl = same && !pr.allow_autapses;
            let avail = n_partners.saturating_sub(excl as u32);
            if kd > 0 && (avail == 0 || (!pr.allow_multapses && kd > avail)) {
                return Err(BuildError::DegreeTooLarge {
                    projection: k,
                    k: kd,
                    available: avail,
                });
            }
            let mut mark = vec![false; n_partners as usize];
            let mut partners = Vec::with_capacity(kd as usize);
            for owner in 0..n_owners {
                let exclude = excl.then_some(owner);
                draw_partners(
                    &mut g.rng,
                    n_partners,
                    kd,
                    exclude,
                    pr.allow_multapses,
                    &mut mark,
                    &mut partners,
                );
                for &x in &partners {
                    let (s, t) = if indegree { (x, owner) } else { (owner, x) };
                    g.push(sink, s, t)?;
                }
            }
        }
        ConnectRule::List(pairs) => {
            for (index, &(s, t)) in pairs.iter().enumerate() {
                if s >= ns || t >= nt {
                    return Err(BuildError::PairOutOfRange {
                        projection: k,
                        index,
                        source_index: s,
                        target_index: t,
                        from: ns,
                        to: nt,
                    });
                }
                g.push(sink, s, t)?;
            }
        }
    }
    Ok(())
}

/// The delay of each synapse while rows are frozen \[ticks\].
enum Delays {
    /// Every synapse has this delay.
    Uniform(i64),
    /// Per synapse, in the same order as the targets.
    PerSynapse(Vec<i64>),
}

impl Delays {
    fn get(&self, p: usize) -> i64 {
        match self {
            Delays::Uniform(d) => *d,
            Delays::PerSynapse(v) => v[p],
        }
    }
}

/// Finishes rows that hold their synapses in generation order (row `i` is
/// `row_start[i]..row_start[i + 1]`): sorts each row by (delay, target, weight bits), and
/// groups it by delay. The weight breaks ties between multapses, so same-tick inputs are
/// summed in an order fixed by data, not by the order projections were declared in.
fn freeze(
    row_start: &[usize],
    mut targets: Vec<u32>,
    mut weights: Vec<f32>,
    mut delays: Delays,
) -> Result<Connectivity, BuildError> {
    let n = row_start.len() - 1;
    let mut groups: Vec<DelayGroup> = Vec::new();
    let mut group_start = Vec::with_capacity(n + 1);
    let too_many_groups = |_| BuildError::TooLarge {
        what: "delay groups".into(),
    };
    let mut scratch = Vec::new();
    for i in 0..n {
        group_start.push(u32::try_from(groups.len()).map_err(too_many_groups)?);
        let row = row_start[i]..row_start[i + 1];
        // Rows usually come out of generation already sorted (fixed in-degree rules make
        // synapses target by target); sort only the others, stably.
        let key = |p: usize| (delays.get(p), targets[p], weights[p].to_bits());
        if !(row.start + 1..row.end).all(|p| key(p - 1) <= key(p)) {
            scratch.clear();
            scratch.extend(row.clone().map(|p| (delays.get(p), targets[p], weights[p])));
            scratch.sort_by_key(|&(d, t, w)| (d, t, w.to_bits()));
            for (p, &(d, t, w)) in row.clone().zip(&scratch) {
                (targets[p], weights[p]) = (t, w);
                if let Delays::PerSynapse(v) = &mut delays {
                    v[p] = d;
                }
            }
        }
        for p in row.clone() {
            let d = Tick(delays.get(p));
            match groups.last_mut() {
                Some(g) if p > row.start && g.delay == d => g.end += 1,
                _ => groups.push(DelayGroup {
                    delay: d,
                    start: p,
                    end: p + 1,
                }),
            }
        }
    }
    group_start.push(u32::try_from(groups.len()).map_err(too_many_groups)?);
    Ok(Connectivity {
        group_start,
        groups,
        targets,
        weights,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::NetworkBuilder;
    use crate::neuron::LifParams;

    /// The rows (through buckets) hold exactly the generated synapses, each row sorted by
    /// (delay, target, weight): checked against every generated synapse collected in one list
    /// and sorted, for projections with constant and drawn weights and delays, several rules
    /// and several projections out of the same rows, over many buckets.
    #[test]
    fn rows_hold_the_generated_synapses_sorted() {
        let lif = NeuronKind::LifDelta(LifParams {
            tau_m_ms: 20.0,
            v_rest_mv: 0.0,
            v_reset_mv: 10.0,
            v_th_mv: 20.0,
            t_ref: Tick::from_ms(2.0).unwrap(),
        });
        let mut b = NetworkBuilder::new();
        let e = b.population("E", 20_000, lif.clone());
        let i = b.population("I", 5_000, lif);
        let uniform = |low, high| Dist::Uniform { low, high };
        b.connect(
            e,
            e,
            ConnectRule::FixedIndegree(40),
            Dist::Const(0.1),
            Dist::Const(1.5),
        );
        b.connect(
            e,
            i,
            ConnectRule::FixedProbability(0.002),
            uniform(0.1, 0.3),
            uniform(0.5, 3.0),
        );
        b.connect(
            i,
            e,
            ConnectRule::FixedOutdegree(30),
            Dist::Const(-0.5),
            uniform(0.5, 2.0),
        )
        .allow_multapses = false;
        b.connect(
            i,
            i,
            ConnectRule::FixedIndegree(10),
            uniform(-1.0, -0.2),
            Dist::Const(1.5),
        );
        let def = b.def().clone();
        let net = def.build(7).unwrap();
        assert!(
            Buckets::new(25_000, net.connectivity.num_synapses())
                .buckets
                .len()
                > 10
        );

        let mut reference = Vec::new();
        for (k, pr) in def.projections.iter().enumerate() {
            generate(k, pr, &def, &net.populations, 7, &mut |s, t, w, d| {
                reference.push((s, Tick(d), t, w));
            })
            .unwrap();
        }
        reference.sort_by_key(|&(s, d, t, w)| (s, d, t, w.to_bits()));
        let built: Vec<_> = (net.connectivity.synapses())
            .map(|(s, t, w, d)| (s, d, t, w))
            .collect();
        // The fixed in- and out-degree rules make 1,000,000; fixed probability adds about 200,000.
        assert!(
            (1_150_000..1_250_000).contains(&built.len()),
            "{}",
            built.len()
        );
        assert_eq!(built, reference);
        // Delay groups: one per distinct delay of a row, in order.
        for n in 0..net.num_neurons() {
            let groups = net.connectivity.groups_of(n);
            assert!(
                groups
                    .windows(2)
                    .all(|g| g[0].delay < g[1].delay && g[0].end == g[1].start)
            );
        }
    }
}
