//! Batch parallelism: many independent runs of one model (seeds × parameter values) spread
//! over threads, one summary row per run.
//!
//! Owns: the sweep description ([`Sweep`]), its expansion into runs (every combination of
//! parameter values, each with every seed), the work queue that hands runs to worker threads,
//! and the rows. Must not touch: engine internals (each run goes through
//! [`crate::run::run_network`] on one thread: independent runs need no exchange, so a run per
//! thread scales better than threads per run), files and printing (the model text comes in,
//! rows go out through a callback), argument syntax.
//!
//! Rows come out in run order whatever the threads' speed, and a run's figures do not depend
//! on which thread ran it (only its wall time does).

use crate::record::{NullSink, PopulationSummary};
use crate::run::{RunModelError, RunOptions, run_network};
use crate::spec::Model;
use crate::spec::overrides::{OverridesError, parse_model_with};
use crate::time::Tick;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One swept parameter: a dotted model-file name (see [`crate::spec::overrides`]) and the
/// values it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepParam {
    /// Dotted name, e.g. `population.E.tau_m`.
    pub name: String,
    /// Values, as written in a model file or bare (`10 ms`).
    pub values: Vec<String>,
}

/// A sweep: a model file's text, parameters to vary, seeds.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The model file's text.
    pub text: String,
    /// Its name in errors.
    pub origin: String,
    /// Where relative file names in it are resolved.
    pub base_dir: PathBuf,
    /// Parameters, varied as a grid (every combination).
    pub params: Vec<SweepParam>,
    /// Seeds; every combination runs with each.
    pub seeds: Vec<u64>,
    /// Simulated time of each run; `None`: the model's own.
    pub duration: Option<Tick>,
}

/// One run of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRun {
    /// Position in the sweep (rows come out in this order).
    pub index: usize,
    /// (name, value) of each swept parameter.
    pub params: Vec<(String, String)>,
    /// Seed of the connectivity and the simulation.
    pub seed: u64,
}

/// One run's summary.
#[derive(Debug, Clone)]
pub struct SweepRow {
    /// Which run.
    pub run: SweepRun,
    /// Simulated time.
    pub duration: Tick,
    /// Per population: spikes, rate, CV.
    pub populations: Vec<PopulationSummary>,
    /// Spikes over all populations.
    pub spikes: u64,
    /// Synaptic events delivered.
    pub synaptic_events: u64,
    /// Build plus simulation wall time.
    pub wall: Duration,
}

/// Why a sweep failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SweepError {
    /// A parameter combination does not give a valid model.
    #[error(transparent)]
    Model(#[from] OverridesError),
    /// A sweep needs at least one seed, and each parameter at least one value.
    #[error("{0}")]
    Empty(String),
    /// A run failed (building or simulating).
    #[error("run {index} ({params}seed {seed}): {error}")]
    Run {
        /// The run's index.
        index: usize,
        /// Its parameters, `name=value ` each.
        params: String,
        /// Its seed.
        seed: u64,
        /// What failed (its message is part of this one's).
        error: RunModelError,
    },
}

impl SweepParam {
    /// Parses `NAME=v1,v2,...`. Commas inside quotes, brackets or braces do not split
    /// (`bias={ uniform = ["10 mV", "20 mV"] },"15 mV"` has two values).
    pub fn parse(arg: &str) -> Result<SweepParam, String> {
        let (name, values) = arg
            .split_once('=')
            .ok_or_else(|| format!("`{arg}`: expected NAME=VALUE[,VALUE...]"))?;
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("`{arg}`: empty name"));
        }
        let (mut out, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, false, 0);
        for (k, c) in values.char_indices() {
            match c {
                '"' => quoted = !quoted,
                '[' | '{' if !quoted => depth += 1,
                ']' | '}' if !quoted => depth -= 1,
                ',' if !quoted && depth == 0 => {
                    out.push(values[start..k].trim().to_string());
                    start = k + 1;
                }
                _ => {}
            }
        }
        out.push(values[start..].trim().to_string());
        if out.iter().any(String::is_empty) {
            return Err(format!("`{arg}`: empty value"));
        }
        Ok(SweepParam {
            name: name.to_string(),
            values: out,
        })
    }
}

/// Parses seeds: `A..B` (B excluded), `A..=B`, or a comma-separated list `1,5,9`.
pub fn parse_seeds(arg: &str) -> Result<Vec<u64>, String> {
    let num = |s: &str| {
        s.trim().parse::<u64>().map_err(|_| {
            format!(
                "seeds `{arg}`: `{}` is not a seed (0 to 2^64 - 1)",
                s.trim()
            )
        })
    };
    let seeds: Vec<u64> = if let Some((a, b)) = arg.split_once("..=") {
        (num(a)?..=num(b)?).collect()
    } else if let Some((a, b)) = arg.split_once("..") {
        (num(a)?..num(b)?).collect()
    } else {
        arg.split(',').map(num).collect::<Result<_, _>>()?
    };
    if seeds.is_empty() {
        return Err(format!("seeds `{arg}`: empty range (A..B excludes B)"));
    }
    Ok(seeds)
}

impl Sweep {
    /// Every run, in order: parameter combinations in grid order (the last parameter
    /// varying fastest), each with every seed.
    pub fn runs(&self) -> Vec<SweepRun> {
        let mut combos: Vec<Vec<(String, String)>> = vec![Vec::new()];
        for p in &self.params {
            combos = combos
                .into_iter()
                .flat_map(|c| {
                    p.values.iter().map(move |v| {
                        let mut c = c.clone();
                        c.push((p.name.clone(), v.clone()));
                        c
                    })
                })
                .collect();
        }
        combos
            .into_iter()
            .flat_map(|params| self.seeds.iter().map(move |&seed| (params.clone(), seed)))
            .enumerate()
            .map(|(index, (params, seed))| SweepRun {
                index,
                params,
                seed,
            })
            .collect()
    }

    fn model(&self, params: &[(String, String)]) -> Result<Model, OverridesError> {
        parse_model_with(&self.text, &self.origin, &self.base_dir, params)
    }
}

/// Runs every run of `sweep`, `threads` at a time (each run on one thread), and hands each
/// row to `on_row` in run order as soon as it and all before it are done. Every parameter
/// combination is validated before any run starts. The first failing run stops the sweep
/// (runs already started finish) and is returned.
pub fn run_sweep(
    sweep: &Sweep,
    threads: usize,
    on_row: &mut dyn FnMut(&SweepRow),
) -> Result<Vec<SweepRow>, SweepError> {
    if sweep.seeds.is_empty() {
        return Err(SweepError::Empty("no seeds".into()));
    }
    if let Some(p) = sweep.params.iter().find(|p| p.values.is_empty()) {
        return Err(SweepError::Empty(format!("no values for `{}`", p.name)));
    }
    let runs = sweep.runs();
    // Parse each combination once (runs with the same parameters differ only in seed).
    let per_combo = sweep.seeds.len();
    let models = runs
        .iter()
        .step_by(per_combo)
        .map(|r| sweep.model(&r.params))
        .collect::<Result<Vec<_>, _>>()?;
    let (job_tx, job_rx) = crossbeam::channel::unbounded();
    for r in &runs {
        job_tx.send(r).expect("receiver alive");
    }
    drop(job_tx);
    let (row_tx, row_rx) = crossbeam::channel::unbounded();
    let cancel = AtomicBool::new(false);
    let workers = threads.clamp(1, runs.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            let (job_rx, row_tx, models, cancel) =
                (job_rx.clone(), row_tx.clone(), &models, &cancel);
            s.spawn(move || {
                for run in job_rx.iter() {
                    if cancel.load(Ordering::Relaxed) {
                        break;
                    }
                    let row = one_run(sweep, &models[run.index / per_combo], run);
                    cancel.fetch_or(row.is_err(), Ordering::Relaxed);
                    if row_tx.send((run.index, row)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(row_tx);
        // Rows in run order: hold early finishers until those before them are in.
        let mut pending: Vec<Option<SweepRow>> = vec![None; runs.len()];
        let mut next = 0;
        let mut rows = Vec::with_capacity(runs.len());
        for (index, row) in row_rx.iter() {
            pending[index] = Some(row?);
            while let Some(row) = pending.get_mut(next).and_then(Option::take) {
                on_row(&row);
                rows.push(row);
                next += 1;
            }
        }
        Ok(rows)
    })
}

fn one_run(sweep: &Sweep, model: &Model, run: &SweepRun) -> Result<SweepRow, SweepError> {
    let t = Instant::now();
    let duration = sweep.duration.unwrap_or(model.duration);
    let name = model.name.clone().unwrap_or_else(|| "model".into());
    let r = run_network(
        &name,
        &model.network,
        &RunOptions::new(duration, run.seed),
        &mut NullSink,
        &mut |_| {},
        None,
    )
    .map_err(|error| SweepError::Run {
        index: run.index,
        params: run
            .params
            .iter()
            .map(|(n, v)| format!("{n}={v} "))
            .collect(),
        seed: run.seed,
        error,
    })?;
    let total = r.total();
    Ok(SweepRow {
        run: run.clone(),
        duration,
        populations: r.populations,
        spikes: total.spikes,
        synaptic_events: total.synaptic_events,
        wall: t.elapsed(),
    })
}

impl SweepRow {
    /// A header for [`SweepRow::table_line`]: run, each parameter, seed, each population's
    /// rate, spikes, synaptic events, wall time.
    pub fn table_header(&self) -> String {
        let mut s = format!("{:>4}", "run");
        for (name, _) in &self.run.params {
            s += &format!(" {:>14}", short(name));
        }
        s += &format!(" {:>6}", "seed");
        for p in &self.populations {
            s += &format!(" {:>10}", format!("{} [Hz]", p.name));
        }
        s + &format!(" {:>10} {:>12} {:>9}", "spikes", "syn events", "wall [s]")
    }

    /// The row, aligned under [`SweepRow::table_header`].
    pub fn table_line(&self) -> String {
        let mut s = format!("{:>4}", self.run.index);
        for (_, value) in &self.run.params {
            s += &format!(" {value:>14}");
        }
        s += &format!(" {:>6}", self.run.seed);
        for p in &self.populations {
            s += &format!(" {:>10.3}", p.rate_hz);
        }
        s + &format!(
            " {:>10} {:>12} {:>9.3}",
            self.spikes,
            self.synaptic_events,
            self.wall.as_secs_f64()
        )
    }
}

/// The last two parts of a dotted name (`E.tau_m`), to keep columns narrow.
fn short(name: &str) -> &str {
    match name.rmatch_indices('.').nth(1) {
        Some((k, _)) => &name[k + 1..],
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_form_a_grid_with_every_seed_and_short_names_keep_two_parts() {
        let sweep = Sweep {
            text: String::new(),
            origin: "m".into(),
            base_dir: ".".into(),
            params: vec![
                SweepParam {
                    name: "a.x".into(),
                    values: vec!["1".into(), "2".into()],
                },
                SweepParam {
                    name: "b".into(),
                    values: vec!["u".into(), "v".into(), "w".into()],
                },
            ],
            seeds: vec![7, 8],
            duration: None,
        };
        let runs = sweep.runs();
        assert_eq!(runs.len(), 12);
        assert_eq!(
            runs[3].params,
            vec![("a.x".into(), "1".into()), ("b".into(), "v".into())]
        );
        assert_eq!((runs[3].seed, runs[3].index), (8, 3));
        assert_eq!(runs[11].params[0].1, "2");
        assert_eq!(short("population.E.tau_m"), "E.tau_m");
        assert_eq!(short("seed"), "seed");
    }

    #[test]
    fn params_and_seeds_parse_with_clear_errors() {
        let p = SweepParam::parse(r#"population.E.bias={ uniform = ["10 mV", "20 mV"] }, "15 mV""#)
            .unwrap();
        assert_eq!(p.name, "population.E.bias");
        assert_eq!(
            p.values,
            vec![r#"{ uniform = ["10 mV", "20 mV"] }"#, r#""15 mV""#]
        );
        let p = SweepParam::parse("population.E.tau_m=10 ms,20 ms").unwrap();
        assert_eq!(p.values, vec!["10 ms", "20 ms"]);
        assert!(
            SweepParam::parse("tau_m")
                .unwrap_err()
                .contains("NAME=VALUE")
        );
        assert!(
            SweepParam::parse("x=1,,2")
                .unwrap_err()
                .contains("empty value")
        );
        assert_eq!(parse_seeds("1..4").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_seeds("1..=3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_seeds("5, 9").unwrap(), vec![5, 9]);
        assert!(parse_seeds("3..3").unwrap_err().contains("empty range"));
        assert!(
            parse_seeds("1..x")
                .unwrap_err()
                .contains("`x` is not a seed")
        );
    }
}
