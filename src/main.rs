//! The `spikeq` command line: parses arguments and calls the library. No simulation logic here.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use spikeq::Tick;
use spikeq::record::{NullSink, SpikeSink};
use spikeq::run::{DEFAULT_MODEL, Progress, run_network};
use spikeq::spec::quantity::{Quantity, TimeDim};
use spikeq::spec::{Model, load_model, parse_model};
use spikeq::trace::inspect::{SliceOptions, copy, summarize};
use spikeq::trace::plot::{PlotOptions, plot_file};
use spikeq::trace::{ReadOptions, RecordingHeader, SensorGeometry, TraceFormat, open_recording};
use std::io::{IsTerminal, Write};
use std::ops::Range;
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
        /// Write spikes to this file while running, in the format its extension names:
        /// `.spk` (with model, seed, duration and version metadata), `.csv` or NEST text
        /// (`.txt`, `.dat`, `.gdf`).
        #[arg(long)]
        record: Option<PathBuf>,
        /// No progress lines.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Inspect, convert, slice and plot spike trace files.
    Trace {
        #[command(subcommand)]
        command: TraceCommand,
    },
    /// Run the fixed, seeded benchmark suite (Brunel, Vogels-Abbott CUBA, low-rate 100k,
    /// Brette et al. benchmark 4, SparseProp 100k) or the given model files; one row per case, optionally as JSON lines.
    Bench {
        /// Model files to run instead of the built-in suite.
        models: Vec<PathBuf>,
        /// Simulated time per case, e.g. `1000` (ms) or `"1 s"`; default: each model's own.
        #[arg(long)]
        duration: Option<String>,
        /// Seed; default: each model's own.
        #[arg(long)]
        seed: Option<u64>,
        /// Append each row to this file as one JSON object per line.
        #[arg(long)]
        json: Option<PathBuf>,
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

/// Options shared by the trace commands that read a file.
#[derive(clap::Args, Debug)]
struct InputArgs {
    /// Read the input as this format instead of the one its extension names
    /// (spk, csv, nest, nmnist, aedat, npy).
    #[arg(long = "from-format", value_name = "FMT", value_parser = parse_format)]
    format: Option<TraceFormat>,
    /// Event-camera sensor size WxH for N-MNIST and .npy input (default 34x34).
    #[arg(long, value_name = "WxH", value_parser = parse_sensor)]
    sensor: Option<SensorGeometry>,
}

impl InputArgs {
    fn read_options(&self) -> ReadOptions {
        ReadOptions {
            format: self.format,
            geometry: self.sensor,
        }
    }
}

#[derive(Subcommand, Debug)]
enum TraceCommand {
    /// Summarize a trace: format, channels, spikes, time span, rates, metadata.
    Info {
        /// Trace file.
        file: PathBuf,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Convert a trace to another format (by extension, or --from-format / --to).
    Convert {
        /// Input trace.
        input_file: PathBuf,
        /// Output trace.
        output_file: PathBuf,
        #[command(flatten)]
        input: InputArgs,
        /// Write this format instead of the one the output's extension names.
        #[arg(long = "to", value_name = "FMT", value_parser = parse_format)]
        to: Option<TraceFormat>,
    },
    /// Keep the spikes in a time window (and a channel range); times and ids are unchanged.
    Slice {
        /// Input trace.
        input_file: PathBuf,
        /// Output trace (format by extension).
        output_file: PathBuf,
        /// Start of the window \[ms\] (or with a unit, "1 s"), included.
        #[arg(long, value_parser = parse_time)]
        from: Option<Tick>,
        /// End of the window \[ms\], excluded.
        #[arg(long, value_parser = parse_time)]
        to: Option<Tick>,
        /// Channels to keep, "a..b" (b excluded).
        #[arg(long, value_parser = parse_channels)]
        channels: Option<Range<u32>>,
        #[command(flatten)]
        input: InputArgs,
    },
    /// Draw a raster plot with the population rate underneath, as PNG.
    Plot {
        /// Trace file.
        file: PathBuf,
        /// Output image (.png).
        #[arg(short, long)]
        output: PathBuf,
        /// Start of the time axis \[ms\].
        #[arg(long, value_parser = parse_time)]
        from: Option<Tick>,
        /// End of the time axis \[ms\].
        #[arg(long, value_parser = parse_time)]
        to: Option<Tick>,
        /// Channels to show, "a..b" (b excluded).
        #[arg(long, value_parser = parse_channels)]
        channels: Option<Range<u32>>,
        /// Image width [px].
        #[arg(long, default_value_t = 1200)]
        width: u32,
        /// Image height [px].
        #[arg(long, default_value_t = 800)]
        height: u32,
        /// Title (default: the file name).
        #[arg(long, default_value = "")]
        title: String,
        #[command(flatten)]
        input: InputArgs,
    },
}

fn parse_format(s: &str) -> std::result::Result<TraceFormat, String> {
    TraceFormat::from_name(s)
        .ok_or_else(|| format!("unknown format `{s}` (use spk, csv, nest, nmnist, aedat or npy)"))
}

fn parse_sensor(s: &str) -> std::result::Result<SensorGeometry, String> {
    s.split_once(['x', 'X'])
        .and_then(|(w, h)| SensorGeometry::new(w.trim().parse().ok()?, h.trim().parse().ok()?))
        .ok_or_else(|| format!("sensor `{s}`: expected WIDTHxHEIGHT, e.g. 34x34"))
}

fn parse_channels(s: &str) -> std::result::Result<Range<u32>, String> {
    s.split_once("..")
        .and_then(|(a, b)| Some(a.trim().parse().ok()?..b.trim().parse().ok()?))
        .filter(|r: &Range<u32>| r.start < r.end)
        .ok_or_else(|| format!("channels `{s}`: expected a..b with a < b (b excluded)"))
}

fn parse_time(s: &str) -> std::result::Result<Tick, String> {
    let ms = match s.trim().parse::<f64>() {
        Ok(v) => v,
        Err(_) => Quantity::<TimeDim>::parse(s)?.value(),
    };
    Tick::from_ms(ms).map_err(|e| e.to_string())
}

fn trace_command(command: TraceCommand) -> Result<()> {
    match command {
        TraceCommand::Info { file, input } => {
            let summary = summarize(&file, &input.read_options())
                .with_context(|| format!("reading {}", file.display()))?;
            println!("{}", file.display());
            print!("{summary}");
        }
        TraceCommand::Convert {
            input_file,
            output_file,
            input,
            to,
        } => {
            let n = copy(
                &input_file,
                &input.read_options(),
                &output_file,
                to,
                &SliceOptions::default(),
            )
            .with_context(|| {
                format!(
                    "converting {} to {}",
                    input_file.display(),
                    output_file.display()
                )
            })?;
            eprintln!("wrote {n} spikes to {}", output_file.display());
        }
        TraceCommand::Slice {
            input_file,
            output_file,
            from,
            to,
            channels,
            input,
        } => {
            let slice = SliceOptions {
                from: from.unwrap_or(Tick(i64::MIN)),
                to: to.unwrap_or(Tick::MAX),
                channels,
            };
            if slice.to <= slice.from {
                bail!("--to must be after --from");
            }
            let n = copy(
                &input_file,
                &input.read_options(),
                &output_file,
                None,
                &slice,
            )
            .with_context(|| format!("slicing {}", input_file.display()))?;
            eprintln!("wrote {n} spikes to {}", output_file.display());
        }
        TraceCommand::Plot {
            file,
            output,
            from,
            to,
            channels,
            width,
            height,
            title,
            input,
        } => {
            let options = PlotOptions {
                width,
                height,
                from,
                to,
                channels,
                title,
                read: input.read_options(),
            };
            let plotted = plot_file(&file, &output, &options)
                .with_context(|| format!("plotting {}", file.display()))?;
            eprintln!(
                "plotted {} spikes ({}) to {}",
                plotted.spikes,
                if plotted.dots {
                    "one dot each"
                } else {
                    "as density per pixel"
                },
                output.display()
            );
        }
    }
    Ok(())
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
            let mut recording = match &record {
                Some(path) => Some(
                    open_recording(
                        path,
                        &RecordingHeader {
                            model: name.clone(),
                            seed,
                            duration,
                            channel_count: m.network.num_neurons(),
                        },
                    )
                    .with_context(|| format!("--record {}", path.display()))?,
                ),
                None => None,
            };
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
                let mut null = NullSink;
                let sink_ref: &mut dyn SpikeSink = match recording.as_mut() {
                    Some(r) => r,
                    None => &mut null,
                };
                run_network(
                    &name,
                    &m.network,
                    duration,
                    seed,
                    sink_ref,
                    Duration::from_secs(1),
                    &mut progress,
                )
                .map_err(|e| match e {
                    // Structural problems found while building point at their projection.
                    spikeq::run::RunModelError::Build(b) => anyhow::Error::new(m.place(&b)),
                    other => anyhow::Error::new(other),
                })?
            };
            if tty && !quiet {
                eprintln!();
            }
            if let Some(r) = recording {
                let path = r.path().to_owned();
                let n = r.finish()?;
                eprintln!("recorded {n} spikes to {}", path.display());
            }
            println!("{report}");
        }
        Command::Trace { command } => trace_command(command)?,
        Command::Bench {
            models,
            duration,
            seed,
            json,
        } => {
            use spikeq::bench::{BenchRow, SUITE, bench_model, suite_model};
            let duration = duration.as_deref().map(parse_duration).transpose()?;
            let mut cases = Vec::new();
            if models.is_empty() {
                for (name, text) in SUITE {
                    cases.push((name.to_string(), suite_model(name, text)?));
                }
            } else {
                for path in &models {
                    let m = load_model(path)?;
                    cases.push((
                        m.name.clone().unwrap_or_else(|| path.display().to_string()),
                        m,
                    ));
                }
            }
            let mut out = match &json {
                Some(p) => Some(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .with_context(|| format!("cannot open {}", p.display()))?,
                ),
                None => None,
            };
            println!("{}", BenchRow::table_header());
            for (name, m) in &cases {
                let row = bench_model(
                    name,
                    m,
                    duration.unwrap_or(m.duration),
                    seed.unwrap_or(m.seed),
                )
                .map_err(|e| match e {
                    spikeq::bench::BenchError::Run(spikeq::run::RunModelError::Build(b)) => {
                        anyhow::Error::new(m.place(&b))
                    }
                    other => anyhow::Error::new(other),
                })?;
                println!("{}", row.table_line());
                if let Some(f) = out.as_mut() {
                    writeln!(f, "{}", row.to_json()).with_context(|| {
                        format!("writing {}", json.as_ref().expect("set").display())
                    })?;
                }
            }
        }
        Command::Check { model, dot } => {
            let m = load_model(&model)?;
            if dot {
                print!("{}", m.network.to_dot());
                return Ok(());
            }
            let net = m.build(m.seed)?;
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
