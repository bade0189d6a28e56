//! The `spikeq` command line: parses arguments and calls the library. No simulation logic here.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use spikeq::Tick;
use spikeq::record::{CsvSpikeWriter, NullSink, SpikeSink, ThreadedSink};
use spikeq::run::{DEFAULT_MODEL, Progress, run_network};
use spikeq::spec::quantity::{Quantity, TimeDim};
use spikeq::spec::{Model, load_model, parse_model};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// spikeq: exact event-driven simulation of spiking neural networks.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Simulate a model file (default: the embedded Brunel 2000 network) and print a summary.
    Run {
        /// Model file (TOML). Without it, the embedded Brunel network runs.
        model: Option<PathBuf>,
        /// Simulated time, e.g. `500` (ms) or `"2 s"`; default: the model's `duration`.
        #[arg(long)]
        duration: Option<String>,
        /// Seed for connectivity and simulation; default: the model's `seed`.
        #[arg(long)]
        seed: Option<u64>,
        /// Write spikes to this file as CSV (`neuron,time_ms`), streamed while running.
        #[arg(long)]
        record: Option<PathBuf>,
        /// No progress lines.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Validate a model file and describe the network it builds.
    Check {
        /// Model file (TOML).
        model: PathBuf,
        /// Print the population graph in Graphviz DOT instead.
        #[arg(long)]
        dot: bool,
    },
}

fn parse_duration(s: &str) -> Result<Tick> {
    let ms = match s.trim().parse::<f64>() {
        Ok(v) => v,
        Err(_) => Quantity::<TimeDim>::parse(s)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("--duration `{s}`"))?
            .value(),
    };
    if ms.is_nan() || ms <= 0.0 {
        bail!("--duration `{s}`: must be a positive time");
    }
    Tick::from_ms(ms).with_context(|| format!("--duration `{s}`"))
}

fn load(model: Option<&Path>) -> Result<Model> {
    Ok(match model {
        Some(p) => load_model(p)?,
        None => parse_model(DEFAULT_MODEL, "<embedded brunel_delta.toml>")?,
    })
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> Result<()> {
    match Cli::parse().command {
        Command::Run {
            model,
            duration,
            seed,
            record,
            quiet,
        } => {
            let m = load(model.as_deref())?;
            let duration = duration
                .as_deref()
                .map(parse_duration)
                .transpose()?
                .unwrap_or(m.duration);
            let seed = seed.unwrap_or(m.seed);
            let name = m.name.clone().unwrap_or_else(|| "model".into());
            let mut sink: Box<dyn SpikeSink> = Box::new(NullSink);
            let mut threaded = None;
            if let Some(path) = &record {
                let file = std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
                let mut w = Some(
                    CsvSpikeWriter::new(std::io::BufWriter::new(file))
                        .with_context(|| format!("writing {}", path.display()))?,
                );
                let shown = path.display().to_string();
                threaded = Some(ThreadedSink::spawn(64, move |batch| {
                    let r = match (&mut w, batch.is_empty()) {
                        (Some(wr), false) => wr.write(batch),
                        (_, true) => w.take().map_or(Ok(()), |wr| wr.finish().map(|_| ())),
                        (None, false) => Ok(()),
                    };
                    r.map_err(|e| format!("writing {shown}: {e}"))
                }));
            }
            let tty = std::io::stderr().is_terminal();
            let mut progress = |p: Progress| {
                if quiet {
                    return;
                }
                let line = format!(
                    "  {:>9.1} / {:.1} ms simulated  {:>6.1} s wall  {:.3e} events/s",
                    p.now.as_ms(),
                    p.end.as_ms(),
                    p.wall.as_secs_f64(),
                    p.events as f64 / p.wall.as_secs_f64().max(1e-9)
                );
                if tty {
                    eprint!("\r{line}");
                } else {
                    eprintln!("{line}");
                }
                let _ = std::io::stderr().flush();
            };
            let report = {
                let sink_ref: &mut dyn SpikeSink = match threaded.as_mut() {
                    Some(t) => t,
                    None => sink.as_mut(),
                };
                run_network(
                    &name,
                    &m.network,
                    duration,
                    seed,
                    sink_ref,
                    Duration::from_secs(1),
                    &mut progress,
                )?
            };
            if tty && !quiet {
                eprintln!();
            }
            if let Some(t) = threaded {
                let n = t.finish().map_err(anyhow::Error::msg)?;
                eprintln!(
                    "recorded {n} spikes to {}",
                    record.as_ref().expect("set").display()
                );
            }
            println!("{report}");
        }
        Command::Check { model, dot } => {
            let m = load_model(&model)?;
            if dot {
                print!("{}", m.network.to_dot());
                return Ok(());
            }
            let net = m
                .network
                .build(m.seed)
                .with_context(|| format!("{}: building the network", model.display()))?;
            println!("{}: ok", model.display());
            for p in &net.populations {
                let def =
                    &net.def.populations[net.population_named(&p.name).expect("own population")];
                println!(
                    "  population {:<12} {:>9} x {:<13} ids {}..{}",
                    p.name,
                    p.size,
                    def.kind.model_name(),
                    p.first,
                    p.first + p.size
                );
            }
            let c = &net.connectivity;
            println!(
                "  {} drives, {} projections, {} synapses, {} delay groups",
                net.def.drives.len(),
                net.def.projections.len(),
                c.num_synapses(),
                c.groups.len()
            );
            match c.min_delay() {
                Some(d) => println!("  minimum delay {d} (the engine's window)"),
                None => println!("  no synapses"),
            }
            if c.num_synapses() > 0 {
                println!(
                    "  {:.2} bytes per synapse",
                    c.bytes() as f64 / c.num_synapses() as f64
                );
            }
            println!("  default run: {} with seed {}", m.duration, m.seed);
        }
    }
    Ok(())
}
