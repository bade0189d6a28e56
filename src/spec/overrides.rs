//! Overriding values of a model file by name: `population.E.tau_m=10 ms`.
//!
//! Why on the TOML table and not on the built [`crate::network::NetworkDef`]: a parameter
//! sweep names values the way the file does (with units, before validation), and the
//! overridden file then goes through the same parsing and validation as any model file.
//!
//! A name is a dotted path into the file: `simulation.duration`, `population.E.tau_m`,
//! `drive.0.rate`, `projection.E>I.weight`. An array of tables (`[[population]]`,
//! `[[drive]]`, `[[projection]]`) is indexed by position (from 0), by `name` (populations),
//! or by `FROM>TO` (projections; drives by their `target`) when that picks exactly one. A
//! value is read as TOML if it parses as TOML (`20`, `1.5`, `true`, `"10 ms"`,
//! `{ uniform = ["0 mV", "20 mV"] }`), else as a string (`10 ms`). The last key may be new
//! (an optional setting the file leaves out); unknown keys are then refused by validation.

use super::{Model, SpecError, parse_model_in};
use std::path::Path;
use toml::{Table, Value};

/// An override that does not fit the model file. Fatal for that run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("override `{name}={value}`: {message}")]
pub struct OverrideError {
    /// The dotted name.
    pub name: String,
    /// The value given.
    pub value: String,
    /// What is wrong.
    pub message: String,
}

/// Parses model `text` (as [`parse_model_in`]) with `overrides` (name, value) applied in
/// order. The file is first validated as it is, so an error in the file itself keeps its
/// line and column; an error that only the overrides cause names the overrides.
pub fn parse_model_with(
    text: &str,
    origin: &str,
    base_dir: &Path,
    overrides: &[(String, String)],
) -> Result<Model, OverridesError> {
    let base = parse_model_in(text, origin, base_dir)?;
    if overrides.is_empty() {
        return Ok(base);
    }
    let mut table: Table = toml::from_str(text).expect("the file parsed above");
    for (name, value) in overrides {
        set(&mut table, name, value).map_err(|message| OverrideError {
            name: name.clone(),
            value: value.clone(),
            message,
        })?;
    }
    let edited = toml::to_string(&table).expect("a table serialises");
    let list = overrides
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(", ");
    parse_model_in(&edited, origin, base_dir)
        .map(|m| Model {
            name: m.name.or(base.name),
            ..m
        })
        .map_err(|e| OverridesError::Invalid {
            overrides: list,
            message: e.message,
        })
}

/// Why [`parse_model_with`] failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum OverridesError {
    /// The model file itself is invalid.
    #[error(transparent)]
    File(#[from] SpecError),
    /// An override names nothing in the file.
    #[error(transparent)]
    Path(#[from] OverrideError),
    /// The overridden model is invalid (e.g. a value of the wrong unit).
    #[error("with {overrides}: {message}")]
    Invalid {
        /// The overrides applied, `name=value, ...`.
        overrides: String,
        /// What validation found.
        message: String,
    },
}

/// Reads `value` as TOML if it is one, else as a string.
fn value_of(text: &str) -> Value {
    toml::from_str::<Table>(&format!("v = {text}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| Value::String(text.trim().to_string()))
}

fn set(table: &mut Table, name: &str, value: &str) -> Result<(), String> {
    let keys: Vec<&str> = name.split('.').collect();
    let (last, path) = keys.split_last().expect("split gives one part");
    let mut here = table;
    let mut at = String::new();
    let mut keys = path.iter();
    while let Some(&key) = keys.next() {
        if !here.contains_key(key) {
            return Err(unknown(key, &at, here));
        }
        let child = here.get_mut(key).expect("checked");
        at = if at.is_empty() {
            key.to_string()
        } else {
            format!("{at}.{key}")
        };
        here = match child {
            Value::Table(t) => t,
            Value::Array(items) => {
                let Some(&sel) = keys.next() else {
                    return Err(format!("`{at}` is a list: name an element, e.g. `{at}.0`"));
                };
                let k = select(items, sel).map_err(|m| format!("`{at}`: {m}"))?;
                at = format!("{at}.{sel}");
                items[k]
                    .as_table_mut()
                    .ok_or_else(|| format!("`{at}` is not a table"))?
            }
            _ => return Err(format!("`{at}` is a value, not a table")),
        };
    }
    if last.is_empty() {
        return Err("empty name".into());
    }
    here.insert(last.to_string(), value_of(value));
    Ok(())
}

fn unknown(key: &str, at: &str, here: &Table) -> String {
    let keys: Vec<&str> = here.keys().map(String::as_str).collect();
    let place = if at.is_empty() {
        "the file".to_string()
    } else {
        format!("`{at}`")
    };
    format!(
        "no `{key}` in {place} (there: {})",
        if keys.is_empty() {
            "nothing".into()
        } else {
            keys.join(", ")
        }
    )
}

/// The element of an array of tables that `sel` picks: an index, a `name`, a drive's
/// `target`, or a projection's `FROM>TO`.
fn select(items: &[Value], sel: &str) -> Result<usize, String> {
    if let Ok(k) = sel.parse::<usize>() {
        return if k < items.len() {
            Ok(k)
        } else {
            Err(format!("no element {k} (it has {})", items.len()))
        };
    }
    let field = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_default()
    };
    let label = |v: &Value| match v.get("name") {
        Some(_) => field(v, "name"),
        None if v.get("from").is_some() => format!("{}>{}", field(v, "from"), field(v, "to")),
        None => field(v, "target"),
    };
    let hits: Vec<usize> = (0..items.len())
        .filter(|&k| label(&items[k]) == sel)
        .collect();
    match hits[..] {
        [k] => Ok(k),
        [] => Err(format!(
            "no element `{sel}` (there: {})",
            items.iter().map(label).collect::<Vec<_>>().join(", ")
        )),
        _ => Err(format!(
            "`{sel}` names {} elements (use an index: {})",
            hits.len(),
            hits.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = r#"
[simulation]
seed = 4

[[population]]
name = "E"
size = 10
model = "lif_delta"
tau_m = "20 ms"
v_rest = "0 mV"
v_reset = "10 mV"
v_th = "20 mV"

[[population]]
name = "I"
size = 5
model = "lif_delta"
tau_m = "20 ms"
v_rest = "0 mV"
v_reset = "10 mV"
v_th = "20 mV"

[[projection]]
from = "E"
to = "I"
rule = "fixed_indegree"
indegree = 2
weight = "0.1 mV"
delay = "1.5 ms"
"#;

    fn with(overrides: &[(&str, &str)]) -> Result<Model, OverridesError> {
        let o: Vec<(String, String)> = overrides
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        parse_model_with(MODEL, "m.toml", Path::new("."), &o)
    }

    #[test]
    fn overrides_change_the_named_values_only() {
        let base = with(&[]).unwrap();
        let m = with(&[
            ("population.I.tau_m", "10 ms"),
            ("projection.E>I.indegree", "3"),
            ("projection.0.delay", "\"2 ms\""),
            ("simulation.seed", "9"),
        ])
        .unwrap();
        let lif = |m: &Model, p: usize| match &m.network.populations[p].kind {
            crate::network::NeuronKind::LifDelta(l) => l.tau_m_ms,
            _ => unreachable!(),
        };
        assert_eq!((lif(&base, 1), lif(&m, 1), lif(&m, 0)), (20.0, 10.0, 20.0));
        let pr = &m.network.projections[0];
        assert_eq!(pr.rule, crate::network::ConnectRule::FixedIndegree(3));
        assert_eq!(pr.delay_ms, crate::network::Dist::Const(2.0));
        assert_eq!((base.seed, m.seed), (4, 9));
    }

    #[test]
    fn bad_overrides_say_what_is_there() {
        let e = with(&[("population.X.tau_m", "10 ms")]).unwrap_err();
        assert!(
            e.to_string().contains("no element `X` (there: E, I)"),
            "{e}"
        );
        let e = with(&[("populaton.E.tau_m", "10 ms")]).unwrap_err();
        assert!(e.to_string().contains("no `populaton` in the file"), "{e}");
        let e = with(&[("population.E", "1")]).unwrap_err();
        assert!(e.to_string().contains("is a list"), "{e}");
        let e = with(&[("population.E.tau_x", "10 ms")]).unwrap_err();
        assert!(matches!(e, OverridesError::Invalid { .. }), "{e}");
        assert!(e.to_string().contains("tau_x"), "{e}");
        let e = with(&[("population.E.tau_m", "10 mV")]).unwrap_err();
        assert!(
            e.to_string().starts_with("with population.E.tau_m=10 mV:"),
            "{e}"
        );
    }
}
