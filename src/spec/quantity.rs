//! Physical quantities written with units in model files (`"20 ms"`, `"0.1 mV"`, `"5 Hz"`).

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// A dimension and the units accepted for it, each with its factor to the canonical unit.
pub trait Dimension {
    /// Name for error messages.
    const NAME: &'static str;
    /// Accepted units and their factor to the canonical unit (the first entry).
    const UNITS: &'static [(&'static str, f64)];
}

macro_rules! dimension {
    ($(#[$m:meta])* $t:ident, $name:expr, [$(($u:expr, $f:expr)),+]) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub struct $t;
        impl Dimension for $t {
            const NAME: &'static str = $name;
            const UNITS: &'static [(&'static str, f64)] = &[$(($u, $f)),+];
        }
    };
}

dimension!(/// Time, canonical unit ms.
    TimeDim, "time", [("ms", 1.0), ("s", 1000.0), ("us", 1e-3), ("ns", 1e-6)]);
dimension!(/// Potential (and R·I currents), canonical unit mV.
    VoltageDim, "potential", [("mV", 1.0), ("V", 1000.0), ("uV", 1e-3)]);
dimension!(/// Rate, canonical unit Hz.
    RateDim, "rate", [("Hz", 1.0), ("kHz", 1000.0)]);
dimension!(/// Conductance in units of the neuron's leak conductance (`lif_cond` weights).
    ConductanceDim, "conductance", [("gL", 1.0)]);
dimension!(/// Potential per time, canonical unit mV/ms.
    SlopeDim, "slope", [("mV/ms", 1.0), ("V/s", 1.0)]);

/// A number in the canonical unit of dimension `D`, parsed from `"<number> <unit>"`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantity<D>(pub f64, PhantomData<D>);

impl<D: Dimension> Quantity<D> {
    /// The value in the canonical unit.
    pub fn value(self) -> f64 {
        self.0
    }

    /// Parses `"<number> <unit>"` (the space is optional).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        // The unit starts at the first letter that is not a number's exponent ("1e3 ms").
        let split = s.char_indices().find(|&(i, c)| {
            c.is_ascii_alphabetic()
                && !(matches!(c, 'e' | 'E')
                    && i > 0
                    && s[i + 1..].starts_with(|d: char| d.is_ascii_digit() || d == '-' || d == '+'))
        });
        let split = split.map(|(i, _)| i);
        let units = || {
            D::UNITS
                .iter()
                .map(|(u, _)| format!("\"{u}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let Some(split) = split.filter(|&i| i > 0) else {
            return Err(format!(
                "expected a {} with a unit, like \"1 {}\" (units: {})",
                D::NAME,
                D::UNITS[0].0,
                units()
            ));
        };
        let (num, unit) = (s[..split].trim(), s[split..].trim());
        let value: f64 = num
            .parse()
            .map_err(|_| format!("`{num}` is not a number"))?;
        if !value.is_finite() {
            return Err(format!("`{num}` is not a finite number"));
        }
        let factor = D::UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                format!(
                    "unknown unit `{unit}` for a {} (use one of {})",
                    D::NAME,
                    units()
                )
            })?;
        Ok(Quantity(value * factor, PhantomData))
    }
}

impl<'de, D: Dimension> Deserialize<'de> for Quantity<D> {
    fn deserialize<De: Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        struct V<D>(PhantomData<D>);
        impl<D: Dimension> Visitor<'_> for V<D> {
            type Value = Quantity<D>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a {} with a unit, like \"1 {}\"", D::NAME, D::UNITS[0].0)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Quantity::parse(s).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "write the unit: \"{v} {}\"",
                    D::UNITS[0].0
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "write the unit: \"{v} {}\"",
                    D::UNITS[0].0
                )))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A per-element value: `"0.1 mV"`, `{ uniform = ["0 mV", "20 mV"] }` or
/// `{ normal = { mean = "1 ms", std = "0.1 ms", min = "0.1 ms", max = "2 ms" } }` (min, max optional).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DistSpec<D> {
    /// A constant.
    Const(Quantity<D>),
    /// Uniform in `[low, high)`.
    Uniform(Quantity<D>, Quantity<D>),
    /// Clipped normal.
    Normal {
        /// Mean.
        mean: Quantity<D>,
        /// Standard deviation.
        std: Quantity<D>,
        /// Lower clip.
        min: Option<Quantity<D>>,
        /// Upper clip.
        max: Option<Quantity<D>>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[serde(bound = "D: Dimension")]
struct NormalSpec<D: Dimension> {
    mean: Quantity<D>,
    std: Quantity<D>,
    min: Option<Quantity<D>>,
    max: Option<Quantity<D>>,
}

impl<D: Dimension> DistSpec<D> {
    /// As a [`crate::network::Dist`] in the canonical unit.
    pub fn to_dist(&self) -> crate::network::Dist {
        use crate::network::Dist;
        match self {
            DistSpec::Const(q) => Dist::Const(q.0),
            DistSpec::Uniform(a, b) => Dist::Uniform {
                low: a.0,
                high: b.0,
            },
            DistSpec::Normal {
                mean,
                std,
                min,
                max,
            } => Dist::Normal {
                mean: mean.0,
                std: std.0,
                min: min.as_ref().map_or(f64::NEG_INFINITY, |q| q.0),
                max: max.as_ref().map_or(f64::INFINITY, |q| q.0),
            },
        }
    }
}

impl<'de, D: Dimension> Deserialize<'de> for DistSpec<D> {
    fn deserialize<De: Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        struct V<D>(PhantomData<D>);
        impl<'de, D: Dimension> Visitor<'de> for V<D> {
            type Value = DistSpec<D>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a {} like \"1 {}\", or {{ uniform = [low, high] }}, or {{ normal = {{ mean, std, min, max }} }}",
                    D::NAME,
                    D::UNITS[0].0
                )
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Quantity::parse(s).map(DistSpec::Const).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "write the unit: \"{v} {}\"",
                    D::UNITS[0].0
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "write the unit: \"{v} {}\"",
                    D::UNITS[0].0
                )))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let key: String = map
                    .next_key()?
                    .ok_or_else(|| de::Error::custom("empty table: use uniform or normal"))?;
                let out = match key.as_str() {
                    "uniform" => {
                        let [a, b]: [Quantity<D>; 2] = map.next_value()?;
                        DistSpec::Uniform(a, b)
                    }
                    "normal" => {
                        let n: NormalSpec<D> = map.next_value()?;
                        DistSpec::Normal {
                            mean: n.mean,
                            std: n.std,
                            min: n.min,
                            max: n.max,
                        }
                    }
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown distribution `{other}` (use uniform or normal)"
                        )));
                    }
                };
                if let Some(k) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "unexpected key `{k}`: one distribution per value"
                    )));
                }
                Ok(out)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_scales_to_canonical() {
        assert_eq!(Quantity::<TimeDim>::parse("20 ms").unwrap().0, 20.0);
        assert_eq!(Quantity::<TimeDim>::parse("1.5ms").unwrap().0, 1.5);
        assert_eq!(Quantity::<TimeDim>::parse("2 s").unwrap().0, 2000.0);
        assert_eq!(Quantity::<TimeDim>::parse("1e3 ms").unwrap().0, 1000.0);
        assert_eq!(Quantity::<VoltageDim>::parse("-0.5 mV").unwrap().0, -0.5);
        assert_eq!(Quantity::<RateDim>::parse("2 kHz").unwrap().0, 2000.0);
        assert_eq!(Quantity::<SlopeDim>::parse("0.5 mV/ms").unwrap().0, 0.5);
    }

    #[test]
    fn rejects_wrong_or_missing_units() {
        let e = Quantity::<TimeDim>::parse("20 mV").unwrap_err();
        assert!(e.contains("unknown unit `mV` for a time"), "{e}");
        let e = Quantity::<TimeDim>::parse("20").unwrap_err();
        assert!(e.contains("with a unit"), "{e}");
        assert!(Quantity::<TimeDim>::parse("abc ms").is_err());
    }
}
