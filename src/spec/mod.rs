//! Model files: the TOML description of a network, with units written out.
//!
//! Owns: the file schema (serde types), unit parsing ([`quantity`]) and validation with
//! positions: every error names the file, the line and the column, and what is wrong. Output
//! is a plain [`crate::network::NetworkDef`] plus run settings. Must not touch: connectivity
//! generation, simulation. The schema is documented in the README's model-file reference.

pub mod fuzz_check;
pub mod overrides;
mod plasticity;
pub mod quantity;

use crate::network::{
    ConnectRule, Dist, DriveDef, DriveKind, NetworkDef, NeuronKind, PopulationDef, ProjectionDef,
};
use crate::neuron::LifParams;
use crate::neuron::ReplayParams;
use crate::neuron::iaf::{IafParams, IafReset};
use crate::neuron::lif_adaptive::AdaptationParams;
use crate::neuron::lif_exp::ExpSynParams;
use crate::time::Tick;
use crate::trace::SensorGeometry;
use crate::trace::replay::{ReplayKey, ReplayOptions, load_replay};
use quantity::{DistSpec, Quantity, RateDim, SlopeDim, TimeDim, VoltageDim};
use serde::Deserialize;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

type Time = Quantity<TimeDim>;
type Voltage = Quantity<VoltageDim>;

/// A model-file error with its position. Fatal for that file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}:{line}:{column}: {message}")]
pub struct SpecError {
    /// The file name (or `<string>`).
    pub origin: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// A parsed, validated model file.
#[derive(Debug, Clone)]
pub struct Model {
    /// The network description.
    pub network: NetworkDef,
    /// Default simulated duration.
    pub duration: Tick,
    /// Default seed.
    pub seed: u64,
    /// Free-form name (defaults to the file name).
    pub name: Option<String>,
    /// Where each projection starts in the file (its `from` key), for build-time errors.
    pub projection_places: Vec<SpecError>,
    /// Plastic projections whose weights are recorded, with the snapshot interval.
    pub weight_records: Vec<(usize, Tick)>,
}

impl Model {
    /// Builds the network with `seed`; a build error about a projection (a degree larger than
    /// its populations allow, a list pair out of range, ...) is placed at that projection's
    /// line in the file.
    pub fn build(&self, seed: u64) -> Result<crate::network::Network, SpecError> {
        self.network.build(seed).map_err(|e| self.place(&e))
    }

    /// A build error of this model, placed at the line of the projection it is about (or
    /// at the file, line 0, when it is about no projection).
    pub fn place(&self, e: &crate::network::BuildError) -> SpecError {
        use crate::network::BuildError as B;
        {
            let projection = match e {
                B::DegreeTooLarge { projection, .. }
                | B::SizeMismatch { projection, .. }
                | B::PairOutOfRange { projection, .. }
                | B::DelayTooShort { projection, .. }
                | B::DelayOutOfRange { projection, .. }
                | B::ProbabilityOutOfRange { projection, .. }
                | B::UnknownPopulation { projection, .. } => Some(*projection),
                _ => None,
            };
            match projection.and_then(|k| self.projection_places.get(k)) {
                Some(place) => SpecError {
                    message: e.to_string(),
                    ..place.clone()
                },
                None => SpecError {
                    origin: self
                        .projection_places
                        .first()
                        .map_or_else(|| "<model>".into(), |p| p.origin.clone()),
                    line: 0,
                    column: 0,
                    message: e.to_string(),
                },
            }
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    simulation: Option<SimulationSpec>,
    #[serde(default)]
    population: Vec<PopulationSpec>,
    #[serde(default)]
    drive: Vec<DriveSpec>,
    #[serde(default)]
    projection: Vec<ProjectionSpec>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct SimulationSpec {
    name: Option<String>,
    duration: Option<Spanned<Time>>,
    seed: Option<u64>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PopulationSpec {
    name: Spanned<String>,
    size: Spanned<u32>,
    model: Spanned<String>,
    tau_m: Option<Spanned<Time>>,
    v_rest: Option<Spanned<Voltage>>,
    v_reset: Option<Spanned<Voltage>>,
    v_th: Option<Spanned<Voltage>>,
    t_ref: Option<Spanned<Time>>,
    v_init: Option<Spanned<DistSpec<VoltageDim>>>,
    bias: Option<Spanned<toml::Value>>,
    tau_syn_ex: Option<Spanned<Time>>,
    tau_syn_in: Option<Spanned<Time>>,
    theta_plus: Option<Spanned<Voltage>>,
    e_ex: Option<Spanned<Voltage>>,
    e_in: Option<Spanned<Voltage>>,
    tau_theta: Option<Spanned<Time>>,
    rate: Option<Spanned<Quantity<RateDim>>>,
    period: Option<Spanned<Time>>,
    start: Option<Spanned<Time>>,
    stop: Option<Spanned<Time>>,
    times: Option<Spanned<Vec<Vec<Time>>>>,
    file: Option<Spanned<String>>,
    shift: Option<Spanned<Time>>,
    scale: Option<Spanned<f64>>,
    channels: Option<Spanned<Vec<ChannelSpec>>>,
    #[serde(rename = "loop")]
    loop_period: Option<Spanned<Time>>,
    sensor: Option<Spanned<(u32, u32)>>,
    reset: Option<Spanned<String>>,
}

/// One entry of a replay's `channels`: a channel, or a half-open range `"a..b"`.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum ChannelSpec {
    One(u32),
    Range(String),
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct DriveSpec {
    target: Spanned<String>,
    kind: Spanned<String>,
    rate: Option<Spanned<Quantity<RateDim>>>,
    weight: Option<Spanned<Voltage>>,
    amplitude: Option<Spanned<toml::Value>>,
    start: Option<Spanned<Time>>,
    stop: Option<Spanned<Time>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ProjectionSpec {
    from: Spanned<String>,
    to: Spanned<String>,
    rule: Spanned<String>,
    p: Option<Spanned<f64>>,
    indegree: Option<Spanned<u32>>,
    outdegree: Option<Spanned<u32>>,
    pairs: Option<Spanned<Vec<(u32, u32)>>>,
    weight: Spanned<toml::Value>,
    delay: Spanned<DistSpec<TimeDim>>,
    autapses: Option<bool>,
    multapses: Option<bool>,
    plasticity: Option<plasticity::PlasticitySpec>,
    /// Interval of weight snapshots (plastic projections only).
    record_weights: Option<Spanned<Time>>,
    /// Makes this a reward projection for the plastic projection from this population.
    reward_for: Option<Spanned<String>>,
}

/// Where spans become line:column, and where relative file names start.
struct Ctx<'a> {
    origin: &'a str,
    text: &'a str,
    base_dir: &'a Path,
}

impl Ctx<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>) -> SpecError {
        let at = span.start.min(self.text.len());
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        SpecError {
            origin: self.origin.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

fn ms_to_tick(ctx: &Ctx, q: &Spanned<Time>, what: &str) -> Result<Tick, SpecError> {
    Tick::from_ms(q.get_ref().0).map_err(|e| ctx.err(q.span(), format!("{what}: {e}")))
}

/// Parses and validates a model file's text. `origin` names it in errors; relative trace
/// file names are resolved against the current directory.
pub fn parse_model(text: &str, origin: &str) -> Result<Model, SpecError> {
    parse_model_in(text, origin, Path::new("."))
}

/// [`parse_model`], resolving relative trace file names (`file = "..."`) against `base_dir`
/// (the model file's directory).
pub fn parse_model_in(text: &str, origin: &str, base_dir: &Path) -> Result<Model, SpecError> {
    let ctx = Ctx {
        origin,
        text,
        base_dir,
    };
    let file: FileSpec = toml::from_str(text)
        .map_err(|e| ctx.err(e.span().unwrap_or(0..0), e.message().to_string()))?;
    let mut net = NetworkDef::default();
    let names: Vec<&str> = file
        .population
        .iter()
        .map(|p| p.name.get_ref().as_str())
        .collect();
    for (i, p) in file.population.iter().enumerate() {
        if names[..i].contains(&p.name.get_ref().as_str()) {
            return Err(ctx.err(
                p.name.span(),
                format!("a population named `{}` already exists", p.name.get_ref()),
            ));
        }
        net.populations.push(population(&ctx, p)?);
    }
    let lookup = |n: &Spanned<String>| {
        names.iter().position(|x| x == n.get_ref()).ok_or_else(|| {
            ctx.err(
                n.span(),
                format!(
                    "unknown population `{}` (populations: {})",
                    n.get_ref(),
                    names.join(", ")
                ),
            )
        })
    };
    for d in &file.drive {
        let target = lookup(&d.target)?;
        let start = d
            .start
            .as_ref()
            .map(|s| ms_to_tick(&ctx, s, "start"))
            .transpose()?
            .unwrap_or(Tick::ZERO);
        let stop = d
            .stop
            .as_ref()
            .map(|s| ms_to_tick(&ctx, s, "stop"))
            .transpose()?
            .unwrap_or(Tick::MAX);
        if stop < start {
            return Err(ctx.err(
                d.stop.as_ref().map_or(d.kind.span(), |s| s.span()),
                "stop is before start",
            ));
        }
        let kind = match d.kind.get_ref().as_str() {
            "poisson" => {
                let rate = d
                    .rate
                    .as_ref()
                    .ok_or_else(|| ctx.err(d.kind.span(), "a poisson drive needs `rate`"))?;
                if rate.get_ref().0 < 0.0 {
                    return Err(ctx.err(rate.span(), "rate must not be negative"));
                }
                let weight = d
                    .weight
                    .as_ref()
                    .ok_or_else(|| ctx.err(d.kind.span(), "a poisson drive needs `weight`"))?;
                if d.amplitude.is_some() {
                    return Err(ctx.err(d.kind.span(), "`amplitude` belongs to dc drives"));
                }
                DriveKind::Poisson {
                    rate_hz: rate.get_ref().0,
                    weight_mv: weight.get_ref().0,
                }
            }
            "dc" => {
                let a = d
                    .amplitude
                    .as_ref()
                    .ok_or_else(|| ctx.err(d.kind.span(), "a dc drive needs `amplitude`"))?;
                if d.rate.is_some() || d.weight.is_some() {
                    return Err(ctx.err(
                        d.kind.span(),
                        "`rate` and `weight` belong to poisson drives",
                    ));
                }
                let model = &net.populations[target].kind;
                DriveKind::Dc {
                    amplitude: bias_value(&ctx, a, model)?,
                }
            }
            other => {
                return Err(ctx.err(
                    d.kind.span(),
                    format!("unknown drive kind `{other}` (use poisson or dc)"),
                ));
            }
        };
        if net.populations[target].kind.is_generator() {
            return Err(ctx.err(
                d.target.span(),
                format!(
                    "population `{}` is a generator and accepts no input",
                    d.target.get_ref()
                ),
            ));
        }
        net.drives.push(DriveDef {
            target,
            kind,
            start,
            stop,
        });
    }
    let mut projection_places = Vec::with_capacity(file.projection.len());
    let mut weight_records = Vec::new();
    let mut rewards: Vec<(usize, Spanned<String>)> = Vec::new();
    for pr in &file.projection {
        projection_places.push(ctx.err(pr.from.span(), String::new()));
        let from = lookup(&pr.from)?;
        let to = lookup(&pr.to)?;
        if net.populations[to].kind.is_generator() {
            return Err(ctx.err(
                pr.to.span(),
                format!(
                    "population `{}` is a generator and accepts no input",
                    pr.to.get_ref()
                ),
            ));
        }
        let rule_keys = [
            ("p", pr.p.as_ref().map(|s| s.span())),
            ("indegree", pr.indegree.as_ref().map(|s| s.span())),
            ("outdegree", pr.outdegree.as_ref().map(|s| s.span())),
            ("pairs", pr.pairs.as_ref().map(|s| s.span())),
        ];
        let needs = match pr.rule.get_ref().as_str() {
            "all_to_all" | "one_to_one" => None,
            "fixed_probability" => Some("p"),
            "fixed_indegree" => Some("indegree"),
            "fixed_outdegree" => Some("outdegree"),
            "list" => Some("pairs"),
            other => {
                return Err(ctx.err(pr.rule.span(), format!("unknown rule `{other}` (use all_to_all, one_to_one, fixed_probability, fixed_indegree, fixed_outdegree or list)")));
            }
        };
        // Stray keys first: a misspelt rule name otherwise reads as a missing parameter.
        for (key, span) in &rule_keys {
            if let Some(s) = span
                && Some(*key) != needs
            {
                return Err(ctx.err(
                    s.clone(),
                    format!("`{key}` does not apply to rule `{}`", pr.rule.get_ref()),
                ));
            }
        }
        if let Some(key) = needs
            && rule_keys
                .iter()
                .any(|(k, span)| *k == key && span.is_none())
        {
            return Err(ctx.err(
                pr.rule.span(),
                format!("rule `{}` needs `{key}`", pr.rule.get_ref()),
            ));
        }
        let rule = match pr.rule.get_ref().as_str() {
            "all_to_all" => ConnectRule::AllToAll,
            "one_to_one" => ConnectRule::OneToOne,
            "fixed_probability" => {
                let p = pr.p.as_ref().expect("checked");
                if !(0.0..=1.0).contains(p.get_ref()) {
                    return Err(ctx.err(
                        p.span(),
                        format!("probability {} is outside [0, 1]", p.get_ref()),
                    ));
                }
                ConnectRule::FixedProbability(*p.get_ref())
            }
            "fixed_indegree" => {
                ConnectRule::FixedIndegree(*pr.indegree.as_ref().expect("checked").get_ref())
            }
            "fixed_outdegree" => {
                ConnectRule::FixedOutdegree(*pr.outdegree.as_ref().expect("checked").get_ref())
            }
            _ => ConnectRule::List(pr.pairs.as_ref().expect("checked").get_ref().clone()),
        };
        let delay = pr.delay.get_ref().to_dist();
        let min_delay = delay.lower_bound();
        if Tick::from_ms(min_delay).map_or(true, |t| t < Tick::ONE) {
            return Err(ctx.err(pr.delay.span(), format!("delay must be at least one tick (1 ns); this one can be {min_delay} ms (give a normal distribution a `min`)")));
        }
        // Conductance-based targets take weights in leak-conductance units ("0.01 gL").
        if let (Some(r), Some(_)) = (&pr.reward_for, &pr.plasticity) {
            return Err(ctx.err(
                r.span(),
                "a reward projection carries reward, not input: it cannot be plastic itself",
            ));
        }
        let weight = if let Some(r) = &pr.reward_for {
            // A reward projection's weight is the reward per spike: a plain number.
            let amount = match pr.weight.get_ref() {
                toml::Value::Float(x) => *x,
                toml::Value::Integer(x) => *x as f64,
                _ => {
                    return Err(ctx.err(
                        pr.weight.span(),
                        "the weight of a reward projection is the reward per spike, a plain number",
                    ));
                }
            };
            rewards.push((net.projections.len(), r.clone()));
            Dist::Const(amount)
        } else if matches!(net.populations[to].kind, NeuronKind::LifCond(..)) {
            weight_dist::<quantity::ConductanceDim>(&ctx, &pr.weight)?
        } else {
            weight_dist::<VoltageDim>(&ctx, &pr.weight)?
        };
        let plasticity = pr
            .plasticity
            .as_ref()
            .map(|p| {
                plasticity::plasticity(
                    &ctx,
                    p,
                    matches!(net.populations[to].kind, NeuronKind::LifCond(..)),
                )
            })
            .transpose()?;
        if let Some(r) = &pr.record_weights {
            if plasticity.is_none() {
                return Err(ctx.err(
                    r.span(),
                    "record_weights: only plastic projections change their weights",
                ));
            }
            let every = ms_to_tick(&ctx, r, "record_weights")?;
            if every <= Tick::ZERO {
                return Err(ctx.err(r.span(), "record_weights must be positive"));
            }
            weight_records.push((net.projections.len(), every));
        }
        for (d, span, what) in [
            (&weight, pr.weight.span(), "weight"),
            (&delay, pr.delay.span(), "delay"),
        ] {
            if !d.is_well_formed() {
                return Err(ctx.err(
                    span,
                    format!("{what}: bounds out of order or a negative std"),
                ));
            }
        }
        net.projections.push(ProjectionDef {
            from,
            to,
            rule,
            weight_mv: weight,
            delay_ms: delay,
            allow_autapses: pr.autapses.unwrap_or(false),
            allow_multapses: pr.multapses.unwrap_or(true),
            plasticity,
            reward_for: None,
        });
    }
    // Reward projections name the source population of a plastic projection into their own
    // target population, which may come later in the file.
    for (j, name) in rewards {
        let to = net.projections[j].to;
        let k = net
            .projections
            .iter()
            .position(|q| {
                q.to == to
                    && q.plasticity.is_some()
                    && net.populations[q.from].name == *name.get_ref()
            })
            .ok_or_else(|| {
                ctx.err(
                    name.span(),
                    format!(
                        "reward_for: no plastic projection from `{}` to `{}`",
                        name.get_ref(),
                        net.populations[to].name
                    ),
                )
            })?;
        if net.projections[k]
            .plasticity
            .and_then(|p| p.reward)
            .is_none()
        {
            return Err(ctx.err(
                name.span(),
                format!(
                    "reward_for: the projection from `{}` has no `reward` in its plasticity",
                    name.get_ref()
                ),
            ));
        }
        net.projections[j].reward_for = Some(k);
    }
    // Structural checks that need sizes (degrees, list ranges) run at build time: map them
    // back to their projection's line.
    let sim = file.simulation.as_ref();
    let duration = match sim.and_then(|s| s.duration.as_ref()) {
        Some(d) => {
            let t = ms_to_tick(&ctx, d, "duration")?;
            if t <= Tick::ZERO {
                return Err(ctx.err(d.span(), "duration must be positive"));
            }
            t
        }
        None => Tick::from_ms(1000.0).expect("constant"),
    };
    Ok(Model {
        network: net,
        duration,
        seed: sim.and_then(|s| s.seed).unwrap_or(1),
        name: sim.and_then(|s| s.name.clone()),
        projection_places,
        weight_records,
    })
}

/// A projection weight: a quantity string or a distribution table of dimension `D`.
fn weight_dist<D: quantity::Dimension>(
    ctx: &Ctx,
    v: &Spanned<toml::Value>,
) -> Result<Dist, SpecError> {
    v.get_ref()
        .clone()
        .try_into::<DistSpec<D>>()
        .map(|d| d.to_dist())
        .map_err(|e| ctx.err(v.span(), format!("weight: {}", e.message())))
}

/// The bias of a population or the amplitude of a dc drive: a potential \[mV\] for leaky
/// models, a slope \[mV/ms\] for `iaf_nonleaky`.
fn bias_value(ctx: &Ctx, v: &Spanned<toml::Value>, kind: &NeuronKind) -> Result<f64, SpecError> {
    let toml::Value::String(s) = v.get_ref() else {
        return Err(ctx.err(v.span(), "expected a quantity string like \"1 mV\""));
    };
    let r = if matches!(kind, NeuronKind::NonLeakyIaf(_)) {
        Quantity::<SlopeDim>::parse(s).map(|q| q.0)
    } else {
        Quantity::<VoltageDim>::parse(s).map(|q| q.0)
    };
    r.map_err(|e| ctx.err(v.span(), e))
}

fn bias_dist(ctx: &Ctx, v: &Spanned<toml::Value>, kind: &NeuronKind) -> Result<Dist, SpecError> {
    if let toml::Value::String(_) = v.get_ref() {
        return Ok(Dist::Const(bias_value(ctx, v, kind)?));
    }
    let d = if matches!(kind, NeuronKind::NonLeakyIaf(_)) {
        v.get_ref()
            .clone()
            .try_into::<DistSpec<SlopeDim>>()
            .map(|d| d.to_dist())
    } else {
        v.get_ref()
            .clone()
            .try_into::<DistSpec<VoltageDim>>()
            .map(|d| d.to_dist())
    };
    d.map_err(|e| ctx.err(v.span(), e.message().to_string()))
}

fn population(ctx: &Ctx, p: &PopulationSpec) -> Result<PopulationDef, SpecError> {
    let model = p.model.get_ref().as_str();
    // Which optional keys each model takes.
    let lif = [
        "tau_m", "v_rest", "v_reset", "v_th", "t_ref", "v_init", "bias",
    ];
    let allowed: Vec<&str> = match model {
        "lif_delta" => lif.to_vec(),
        "lif_exp" => [&lif[..], &["tau_syn_ex", "tau_syn_in"]].concat(),
        "lif_cond" => [&lif[..], &["e_ex", "e_in", "tau_syn_ex", "tau_syn_in"]].concat(),
        "lif_adaptive" => [&lif[..], &["theta_plus", "tau_theta"]].concat(),
        "iaf_nonleaky" => vec!["v_reset", "v_th", "t_ref", "v_init", "bias", "reset"],
        "poisson" => vec!["rate", "start", "stop"],
        "regular" => vec!["period", "start", "stop"],
        "spike_times" => vec!["times"],
        "trace" => vec!["file", "shift", "scale", "channels", "loop", "sensor"],
        other => {
            return Err(ctx.err(p.model.span(), format!("unknown model `{other}` (use lif_delta, lif_exp, lif_cond, lif_adaptive, iaf_nonleaky, poisson, regular, spike_times or trace)")));
        }
    };
    let present: [(&str, Option<Range<usize>>); 25] = [
        ("e_ex", p.e_ex.as_ref().map(|s| s.span())),
        ("e_in", p.e_in.as_ref().map(|s| s.span())),
        ("tau_m", p.tau_m.as_ref().map(|s| s.span())),
        ("v_rest", p.v_rest.as_ref().map(|s| s.span())),
        ("v_reset", p.v_reset.as_ref().map(|s| s.span())),
        ("v_th", p.v_th.as_ref().map(|s| s.span())),
        ("t_ref", p.t_ref.as_ref().map(|s| s.span())),
        ("v_init", p.v_init.as_ref().map(|s| s.span())),
        ("bias", p.bias.as_ref().map(|s| s.span())),
        ("tau_syn_ex", p.tau_syn_ex.as_ref().map(|s| s.span())),
        ("tau_syn_in", p.tau_syn_in.as_ref().map(|s| s.span())),
        ("theta_plus", p.theta_plus.as_ref().map(|s| s.span())),
        ("tau_theta", p.tau_theta.as_ref().map(|s| s.span())),
        ("rate", p.rate.as_ref().map(|s| s.span())),
        ("period", p.period.as_ref().map(|s| s.span())),
        ("start", p.start.as_ref().map(|s| s.span())),
        ("stop", p.stop.as_ref().map(|s| s.span())),
        ("times", p.times.as_ref().map(|s| s.span())),
        ("file", p.file.as_ref().map(|s| s.span())),
        ("shift", p.shift.as_ref().map(|s| s.span())),
        ("scale", p.scale.as_ref().map(|s| s.span())),
        ("channels", p.channels.as_ref().map(|s| s.span())),
        ("loop", p.loop_period.as_ref().map(|s| s.span())),
        ("sensor", p.sensor.as_ref().map(|s| s.span())),
        ("reset", p.reset.as_ref().map(|s| s.span())),
    ];
    for (key, span) in &present {
        if let Some(span) = span
            && !allowed.contains(key)
        {
            return Err(ctx.err(
                span.clone(),
                format!(
                    "`{key}` is not a parameter of model `{model}` (it takes: {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    let need = |v: &Option<Spanned<Voltage>>, key: &str| -> Result<f64, SpecError> {
        v.as_ref()
            .map(|s| s.get_ref().0)
            .ok_or_else(|| ctx.err(p.model.span(), format!("model `{model}` needs `{key}`")))
    };
    let need_time = |v: &Option<Spanned<Time>>, key: &str| -> Result<f64, SpecError> {
        let s = v
            .as_ref()
            .ok_or_else(|| ctx.err(p.model.span(), format!("model `{model}` needs `{key}`")))?;
        if s.get_ref().0 <= 0.0 {
            return Err(ctx.err(s.span(), format!("{key} must be positive")));
        }
        Ok(s.get_ref().0)
    };
    let t_ref = match &p.t_ref {
        Some(t) => {
            if t.get_ref().0 < 0.0 {
                return Err(ctx.err(t.span(), "t_ref must not be negative"));
            }
            ms_to_tick(ctx, t, "t_ref")?
        }
        None => Tick::ZERO,
    };
    let start = p
        .start
        .as_ref()
        .map(|s| ms_to_tick(ctx, s, "start"))
        .transpose()?
        .unwrap_or(Tick::ZERO);
    let stop = p
        .stop
        .as_ref()
        .map(|s| ms_to_tick(ctx, s, "stop"))
        .transpose()?
        .unwrap_or(Tick::MAX);
    let lif_params = || -> Result<LifParams, SpecError> {
        let lp = LifParams {
            tau_m_ms: need_time(&p.tau_m, "tau_m")?,
            v_rest_mv: need(&p.v_rest, "v_rest")?,
            v_reset_mv: need(&p.v_reset, "v_reset")?,
            v_th_mv: need(&p.v_th, "v_th")?,
            t_ref,
        };
        lp.validate()
            .map_err(|e| ctx.err(p.model.span(), e.to_string()))?;
        Ok(lp)
    };
    let kind = match model {
        "lif_delta" => NeuronKind::LifDelta(lif_params()?),
        "lif_exp" => {
            let lp = lif_params()?;
            let syn = ExpSynParams {
                tau_syn_ex_ms: need_time(&p.tau_syn_ex, "tau_syn_ex")?,
                tau_syn_in_ms: need_time(&p.tau_syn_in, "tau_syn_in")?,
            };
            syn.validate(lp.tau_m_ms)
                .map_err(|e| ctx.err(p.model.span(), e.to_string()))?;
            NeuronKind::LifExp(lp, syn)
        }
        "lif_cond" => {
            let lp = lif_params()?;
            let c = crate::neuron::lif_cond::CondParams {
                e_ex_mv: need(&p.e_ex, "e_ex")?,
                e_in_mv: need(&p.e_in, "e_in")?,
                tau_syn_ex_ms: need_time(&p.tau_syn_ex, "tau_syn_ex")?,
                tau_syn_in_ms: need_time(&p.tau_syn_in, "tau_syn_in")?,
            };
            NeuronKind::LifCond(lp, c)
        }
        "lif_adaptive" => NeuronKind::LifAdaptive(
            lif_params()?,
            AdaptationParams {
                theta_plus_mv: need(&p.theta_plus, "theta_plus")?,
                tau_theta_ms: need_time(&p.tau_theta, "tau_theta")?,
            },
        ),
        "iaf_nonleaky" => {
            let reset = match &p.reset {
                None => IafReset::ToValue,
                Some(r) => match r.get_ref().as_str() {
                    "to_value" => IafReset::ToValue,
                    "subtract" => IafReset::Subtract,
                    other => {
                        return Err(ctx.err(
                            r.span(),
                            format!("unknown reset `{other}` (use to_value or subtract)"),
                        ));
                    }
                },
            };
            let ip = IafParams {
                v_reset_mv: need(&p.v_reset, "v_reset")?,
                v_th_mv: need(&p.v_th, "v_th")?,
                t_ref,
                reset,
            };
            ip.validate()
                .map_err(|e| ctx.err(p.model.span(), e.to_string()))?;
            NeuronKind::NonLeakyIaf(ip)
        }
        "poisson" => {
            let r = p
                .rate
                .as_ref()
                .ok_or_else(|| ctx.err(p.model.span(), "model `poisson` needs `rate`"))?;
            if r.get_ref().0 < 0.0 {
                return Err(ctx.err(r.span(), "rate must not be negative"));
            }
            NeuronKind::Poisson {
                rate_hz: r.get_ref().0,
                start,
                stop,
            }
        }
        "regular" => {
            let period = p
                .period
                .as_ref()
                .ok_or_else(|| ctx.err(p.model.span(), "model `regular` needs `period`"))?;
            let period_t = ms_to_tick(ctx, period, "period")?;
            if period_t < Tick::ONE {
                return Err(ctx.err(period.span(), "period must be at least one tick"));
            }
            NeuronKind::Regular {
                period: period_t,
                start,
                stop,
            }
        }
        "trace" => NeuronKind::Replay(replay(ctx, p)?),
        _ => {
            let times = p.times.as_ref().ok_or_else(|| {
                ctx.err(
                    p.model.span(),
                    "model `spike_times` needs `times` (one list per neuron)",
                )
            })?;
            if times.get_ref().len() > *p.size.get_ref() as usize {
                return Err(ctx.err(
                    times.span(),
                    format!(
                        "{} lists of times for {} neurons",
                        times.get_ref().len(),
                        p.size.get_ref()
                    ),
                ));
            }
            let mut lists = Vec::new();
            for list in times.get_ref() {
                let mut ticks = Vec::with_capacity(list.len());
                for q in list {
                    let t = Tick::from_ms(q.0).map_err(|e| ctx.err(times.span(), e.to_string()))?;
                    if t < Tick::ZERO {
                        return Err(ctx.err(times.span(), "spike times must not be negative"));
                    }
                    ticks.push(t);
                }
                lists.push(ticks);
            }
            NeuronKind::SpikeTimes(lists)
        }
    };
    let v_init = match &p.v_init {
        Some(v) => {
            let d = v.get_ref().to_dist();
            if !d.is_well_formed() {
                return Err(ctx.err(v.span(), "v_init: bounds out of order or a negative std"));
            }
            d
        }
        None => Dist::Const(match &kind {
            NeuronKind::LifDelta(lp)
            | NeuronKind::LifExp(lp, _)
            | NeuronKind::LifAdaptive(lp, _)
            | NeuronKind::LifCond(lp, _) => lp.v_rest_mv,
            NeuronKind::NonLeakyIaf(ip) => ip.v_reset_mv,
            _ => 0.0,
        }),
    };
    let bias = match &p.bias {
        Some(b) => {
            let d = bias_dist(ctx, b, &kind)?;
            if !d.is_well_formed() {
                return Err(ctx.err(b.span(), "bias: bounds out of order or a negative std"));
            }
            d
        }
        None => Dist::Const(0.0),
    };
    Ok(PopulationDef {
        name: p.name.get_ref().clone(),
        size: *p.size.get_ref(),
        kind,
        v_init_mv: v_init,
        bias,
    })
}

/// A `model = "trace"` population: reads its trace file through the trace layer.
fn replay(ctx: &Ctx, p: &PopulationSpec) -> Result<ReplayParams, SpecError> {
    let file = p.file.as_ref().ok_or_else(|| {
        ctx.err(
            p.model.span(),
            "model `trace` needs `file` (a trace file: .spk, .csv, .txt/.dat/.gdf, .bin, .aedat or .npy)",
        )
    })?;
    let mut options = ReplayOptions::new(*p.size.get_ref());
    if let Some(shift) = &p.shift {
        options.shift = ms_to_tick(ctx, shift, "shift")?;
    }
    if let Some(scale) = &p.scale {
        options.scale = *scale.get_ref();
    }
    if let Some(period) = &p.loop_period {
        let t = ms_to_tick(ctx, period, "loop")?;
        if t < Tick::ONE {
            return Err(ctx.err(period.span(), "loop period must be at least one tick"));
        }
        options.period = Some(t);
    }
    if let Some(sensor) = &p.sensor {
        let (w, h) = *sensor.get_ref();
        options.geometry = Some(SensorGeometry::new(w, h).ok_or_else(|| {
            ctx.err(
                sensor.span(),
                format!(
                    "sensor [{w}, {h}]: width and height must be positive and 2*w*h fit in 32 bits"
                ),
            )
        })?);
    }
    if let Some(channels) = &p.channels {
        let mut list = Vec::new();
        for entry in channels.get_ref() {
            match entry {
                ChannelSpec::One(c) => list.push(*c),
                ChannelSpec::Range(text) => {
                    let range = parse_channel_range(text).ok_or_else(|| {
                        ctx.err(
                            channels.span(),
                            format!(
                                "channel range `{text}`: expected \"a..b\" with a < b (b excluded)"
                            ),
                        )
                    })?;
                    if (list.len() + range.len()) as u64 > u64::from(*p.size.get_ref()) {
                        return Err(ctx.err(
                            p.size.span(),
                            format!(
                                "size {} does not cover the {} selected channels",
                                p.size.get_ref(),
                                list.len() + range.len()
                            ),
                        ));
                    }
                    list.extend(range);
                }
            }
        }
        options.channels = Some(list);
    }
    let path = ctx.base_dir.join(file.get_ref());
    let loaded = load_replay(&path, &options).map_err(|e| {
        let span = match e.key() {
            ReplayKey::Size => p.size.span(),
            ReplayKey::Channels => p.channels.as_ref().map_or(file.span(), |s| s.span()),
            ReplayKey::Scale => p.scale.as_ref().map_or(file.span(), |s| s.span()),
            ReplayKey::Loop => p.loop_period.as_ref().map_or(file.span(), |s| s.span()),
            _ => file.span(),
        };
        ctx.err(span, e.to_string())
    })?;
    Ok(loaded.params)
}

/// `"a..b"` (b excluded, a < b) as a range.
fn parse_channel_range(text: &str) -> Option<Range<u32>> {
    let (a, b) = text.split_once("..")?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a < b).then_some(a..b)
}

/// Reads and parses a model file.
pub fn load_model(path: &std::path::Path) -> Result<Model, SpecError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| SpecError {
        origin: origin.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    })?;
    let base_dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut m = parse_model_in(&text, &origin, base_dir)?;
    if m.name.is_none() {
        m.name = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    }
    Ok(m)
}
