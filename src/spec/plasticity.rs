//! The `plasticity = { ... }` table of a projection.
//!
//! ```toml
//! plasticity = { rule = "stdp_pair", pairing = "all_to_all", tau_plus = "20 ms",
//!                tau_minus = "20 ms", a_plus = "0.0001 gL", a_minus = "0.000105 gL",
//!                w_min = "0 gL", w_max = "0.01 gL", weight_dependence = "additive" }
//! ```
//! Amplitudes and bounds are in the projection's weight unit (mV, or gL for `lif_cond`
//! targets). `rule = "stdp_triplet"` takes `tau_x`, `tau_y`, `a3_plus`, `a3_minus` too, or
//! `preset = "visual_cortex" | "hippocampal"` (Pfister & Gerstner 2006, amplitudes relative
//! to `w_max`). `weight_dependence` is `"additive"` (default), `"multiplicative"`,
//! `"van_rossum"` or `{ mu_plus = .., mu_minus = .. }` (Gütig et al. 2003).
//! `reward = { tau_c = "1 s" }` makes it reward-modulated; `normalize = { total = "78 mV",
//! every = "500 ms" }` adds synaptic normalisation.

use super::quantity::{ConductanceDim, Dimension, Quantity, VoltageDim};
use super::{Ctx, SpecError, Time, ms_to_tick};
use crate::plasticity::{NormalizeParams, Pairing, RewardParams, StdpParams, TripletParams};
use serde::Deserialize;
use toml::Spanned;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(super) struct PlasticitySpec {
    rule: Spanned<String>,
    pairing: Option<Spanned<String>>,
    preset: Option<Spanned<String>>,
    tau_plus: Option<Spanned<Time>>,
    tau_minus: Option<Spanned<Time>>,
    tau_x: Option<Spanned<Time>>,
    tau_y: Option<Spanned<Time>>,
    a_plus: Option<Spanned<toml::Value>>,
    a_minus: Option<Spanned<toml::Value>>,
    a3_plus: Option<Spanned<toml::Value>>,
    a3_minus: Option<Spanned<toml::Value>>,
    w_min: Option<Spanned<toml::Value>>,
    w_max: Option<Spanned<toml::Value>>,
    weight_dependence: Option<Spanned<toml::Value>>,
    reward: Option<RewardSpec>,
    normalize: Option<NormalizeSpec>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct RewardSpec {
    tau_c: Spanned<Time>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct NormalizeSpec {
    total: Spanned<toml::Value>,
    every: Spanned<Time>,
}

/// A weight-unit quantity (`conductance`: gL, else mV).
fn weight_value(
    ctx: &Ctx,
    v: &Spanned<toml::Value>,
    what: &str,
    conductance: bool,
) -> Result<f64, SpecError> {
    fn parse<D: Dimension>(s: &str) -> Result<f64, String> {
        Quantity::<D>::parse(s).map(|q| q.0)
    }
    let toml::Value::String(s) = v.get_ref() else {
        let unit = if conductance { "gL" } else { "mV" };
        return Err(ctx.err(
            v.span(),
            format!("{what}: expected a quantity string like \"0.01 {unit}\""),
        ));
    };
    let r = if conductance {
        parse::<ConductanceDim>(s)
    } else {
        parse::<VoltageDim>(s)
    };
    r.map_err(|e| ctx.err(v.span(), format!("{what}: {e}")))
}

fn required<'a, T>(
    ctx: &Ctx,
    rule: &Spanned<String>,
    v: &'a Option<Spanned<T>>,
    key: &str,
) -> Result<&'a Spanned<T>, SpecError> {
    v.as_ref().ok_or_else(|| {
        ctx.err(
            rule.span(),
            format!("plasticity rule `{}` needs `{key}`", rule.get_ref()),
        )
    })
}

pub(super) fn plasticity(
    ctx: &Ctx,
    p: &PlasticitySpec,
    conductance: bool,
) -> Result<StdpParams, SpecError> {
    let w = |v: &Option<Spanned<toml::Value>>, what, default: f64| {
        v.as_ref()
            .map_or(Ok(default), |v| weight_value(ctx, v, what, conductance))
    };
    let pairing = match p.pairing.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("all_to_all", _)) => Pairing::AllToAll,
        Some(("nearest", _)) => Pairing::Nearest,
        Some((other, span)) => {
            return Err(ctx.err(
                span,
                format!("unknown pairing `{other}` (use all_to_all or nearest)"),
            ));
        }
    };
    let w_min = w(&p.w_min, "w_min", 0.0)?;
    let w_max = w(&p.w_max, "w_max", f64::INFINITY)?;
    let time = |v: &Spanned<Time>| v.get_ref().0;
    let mut rule = match (p.rule.get_ref().as_str(), &p.preset) {
        ("stdp_triplet", Some(preset)) => {
            StdpParams::triplet_preset(preset.get_ref(), pairing, w_min, w_max).ok_or_else(
                || {
                    ctx.err(
                        preset.span(),
                        format!(
                            "unknown preset `{}` (use visual_cortex or hippocampal)",
                            preset.get_ref()
                        ),
                    )
                },
            )?
        }
        (name @ ("stdp_pair" | "stdp_triplet"), None) => {
            let need_t = |v, key| required(ctx, &p.rule, v, key).map(time);
            let need_w = |v: &Option<Spanned<toml::Value>>, key: &str| {
                required(ctx, &p.rule, v, key).and_then(|v| weight_value(ctx, v, key, conductance))
            };
            let triplet = if name == "stdp_triplet" {
                Some(TripletParams {
                    tau_x_ms: need_t(&p.tau_x, "tau_x")?,
                    tau_y_ms: need_t(&p.tau_y, "tau_y")?,
                    a3_plus: need_w(&p.a3_plus, "a3_plus")?,
                    a3_minus: need_w(&p.a3_minus, "a3_minus")?,
                })
            } else {
                for (v, key) in [(&p.a3_plus, "a3_plus"), (&p.a3_minus, "a3_minus")] {
                    if let Some(v) = v {
                        return Err(
                            ctx.err(v.span(), format!("`{key}` belongs to rule `stdp_triplet`"))
                        );
                    }
                }
                None
            };
            StdpParams {
                triplet,
                pairing,
                ..StdpParams::pair_additive(
                    need_t(&p.tau_plus, "tau_plus")?,
                    need_t(&p.tau_minus, "tau_minus")?,
                    need_w(&p.a_plus, "a_plus")?,
                    need_w(&p.a_minus, "a_minus")?,
                    w_min,
                    w_max,
                )
            }
        }
        ("stdp_pair", Some(preset)) => {
            return Err(ctx.err(preset.span(), "`preset` belongs to rule `stdp_triplet`"));
        }
        (other, _) => {
            return Err(ctx.err(
                p.rule.span(),
                format!("unknown plasticity rule `{other}` (use stdp_pair or stdp_triplet)"),
            ));
        }
    };
    if let Some(d) = &p.weight_dependence {
        (rule.mu_plus, rule.mu_minus) = match d.get_ref() {
            toml::Value::String(s) if s == "additive" => (0.0, 0.0),
            toml::Value::String(s) if s == "multiplicative" => (1.0, 1.0),
            toml::Value::String(s) if s == "van_rossum" => (0.0, 1.0),
            toml::Value::Table(t) => {
                let get = |k: &str| match t.get(k) {
                    Some(toml::Value::Float(x)) => Ok(*x),
                    Some(toml::Value::Integer(x)) => Ok(*x as f64),
                    _ => Err(ctx.err(d.span(), format!("weight_dependence needs a number `{k}`"))),
                };
                if let Some(k) = t.keys().find(|k| *k != "mu_plus" && *k != "mu_minus") {
                    return Err(ctx.err(d.span(), format!("weight_dependence: unknown key `{k}`")));
                }
                (get("mu_plus")?, get("mu_minus")?)
            }
            _ => {
                return Err(ctx.err(
                    d.span(),
                    "weight_dependence: use \"additive\", \"multiplicative\", \"van_rossum\" or { mu_plus = .., mu_minus = .. }",
                ));
            }
        };
    }
    if let Some(r) = &p.reward {
        rule.reward = Some(RewardParams {
            tau_c_ms: time(&r.tau_c),
        });
    }
    if let Some(n) = &p.normalize {
        rule.normalize = Some(NormalizeParams {
            total: weight_value(ctx, &n.total, "normalize.total", conductance)?,
            every: ms_to_tick(ctx, &n.every, "normalize.every")?,
        });
    }
    rule.validate()
        .map_err(|e| ctx.err(p.rule.span(), format!("plasticity: {e}")))?;
    Ok(rule)
}
