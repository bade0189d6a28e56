//! The `spikeq` command line: parses arguments and calls the library. No simulation logic here.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use spikeq::Tick;
use spikeq::record::{NullSink, SpikeSink};
use spikeq::run::{DEFAULT_MODEL, Progress, RunOptions, available_threads, run_network};
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
        /// Write plastic weights to this CSV file (`time_ms,projection,source,target,weight`):
        /// at the start, at each projection's `record_weights` interval and at the end; without
        /// `record_weights` in the model, every plastic projection at the start and the end.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// No progress lines.
        #[arg(long, short)]
        quiet: bool,
        /// Threads to simulate on (the spikes do not depend on it); default: all cores.
        #[arg(long, value_parser = parse_threads)]
        threads: Option<usize>,
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
        /// Threads each case simulates on; default: all cores.
        #[arg(long, value_parser = parse_threads)]
        threads: Option<usize>,
    },
    /// Learning: train networks on data sets and run them as spiking networks.
    Learn {
        #[command(subcommand)]
        command: LearnCommand,
    },
    /// Pictures of plastic weights recorded with `spikeq run --weights`.
    Weights {
        #[command(subcommand)]
        command: WeightsCommand,
    },
    /// Run a model many times, over parameter values and seeds, several runs at a time (one
    /// thread each); one summary row per run, in run order.
    Sweep {
        /// Model file (TOML).
        model: PathBuf,
        /// A model-file value to vary: a dotted name and its values, e.g.
        /// `population.E.tau_m=10 ms,20 ms` or `projection.E>I.indegree=50,100`; repeat for
        /// a grid of every combination.
        #[arg(long = "param", value_name = "NAME=V1,V2,...", value_parser = spikeq::parallel::SweepParam::parse)]
        params: Vec<spikeq::parallel::SweepParam>,
        /// Seeds: `A..B` (B excluded), `A..=B` or `1,5,9`; default: the model's seed.
        #[arg(long)]
        seeds: Option<String>,
        /// Simulated time of each run, e.g. `500` (ms) or `"2 s"`; default: the model's own.
        #[arg(long)]
        duration: Option<String>,
        /// Runs at a time; default: all cores.
        #[arg(long, value_parser = parse_threads)]
        threads: Option<usize>,
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

/// Learning subcommands: one variant per method, plus evaluation and the comparison.
#[derive(Subcommand, Debug)]
enum LearnCommand {
    /// Train a ReLU perceptron on an IDX data set, convert it to integrate-and-fire neurons
    /// (rate coding and time-to-first-spike) and report accuracy against simulated time with
    /// the cost per image.
    Convert(ConvertArgs),
    /// Evaluate a saved model (from `learn convert --save`) on an IDX data set, as ANN and
    /// converted SNN.
    Eval(EvalArgs),
    /// Unsupervised STDP with winner-take-all (Diehl & Cook 2015): train the excitatory layer,
    /// label its neurons on the training set, classify the test set; reports accuracy and cost.
    Stdp(StdpArgs),
    /// Reward-modulated STDP readout on top of a saved `learn stdp` network: train a spiking
    /// decision layer with rewards, classify the test set with it; reports accuracy and cost.
    Rstdp(RstdpArgs),
    /// Supervised training with exact spike-time gradients (EventProp, Wunderlich & Pehle
    /// 2021) of LIF networks with exponential currents, on Yin-Yang or a latency-coded IDX
    /// data set; reports accuracy and cost per epoch.
    Eventprop(EventPropArgs),
    /// Time-to-first-spike network trained with exact spike-time gradients (Mostafa 2018):
    /// train on an IDX data set or Yin-Yang, report accuracy per epoch and the cost per sample.
    Ttfs(TtfsArgs),
    /// Run every learning method on the same data and write the accuracy/cost comparison:
    /// `comparison.md`, `comparison.csv` and `comparison.png` in the output directory.
    Compare(CompareArgs),
}

#[derive(clap::Args, Debug)]
struct CompareArgs {
    /// IDX directory (as for `learn convert`).
    #[arg(long, required_unless_present = "replot")]
    data: Option<PathBuf>,
    /// Run nothing: draw `comparison.png` in `--out` again from this `comparison.csv`.
    #[arg(long, conflicts_with_all = ["data", "fast"])]
    replot: Option<PathBuf>,
    /// The small budgets CI runs (seconds) instead of the full report's (about 12 minutes on
    /// 2 idle cores for part 1).
    #[arg(long)]
    fast: bool,
    /// Directory the report is written to.
    #[arg(long, default_value = "docs")]
    out: PathBuf,
    /// Threads for evaluation; default: all cores.
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
}

#[derive(clap::Args, Debug)]
struct TtfsArgs {
    /// IDX directory (as for `learn convert`); not needed with `--yin-yang`.
    #[arg(long, required_unless_present = "yin_yang")]
    data: Option<PathBuf>,
    /// Train on the Yin-Yang set instead (train: 5000 samples, seed 42; test: 1000, seed 40).
    #[arg(long, conflicts_with = "data")]
    yin_yang: bool,
    #[command(flatten)]
    images: ImageTrainingArgs,
    /// Hidden layer sizes, comma-separated, 0 to 3 layers (`none` for no hidden layer);
    /// default 340 (IDX) or 120 (Yin-Yang).
    #[arg(long, value_parser = parse_hidden)]
    hidden: Option<Hidden>,
    /// Passes over the training set (0: test the untrained network); default 20 (IDX) or 40
    /// (Yin-Yang), chosen on validation splits.
    #[arg(long)]
    epochs: Option<usize>,
    /// Samples per gradient step.
    #[arg(long, default_value_t = spikeq::learn::ttfs::TtfsConfig::default().batch_size)]
    batch: usize,
    /// Adam's initial step size.
    #[arg(long, default_value_t = spikeq::learn::ttfs::TtfsConfig::default().adam.learning_rate, allow_hyphen_values = true)]
    learning_rate: f64,
    /// The step size is multiplied by this after every epoch.
    #[arg(long, default_value_t = spikeq::learn::ttfs::TtfsConfig::default().lr_decay, allow_hyphen_values = true)]
    lr_decay: f64,
    /// Weight of the penalty on neurons whose arrived weights stay below threshold.
    #[arg(long, default_value_t = spikeq::learn::ttfs::LossParams::default().weight_sum_penalty, allow_hyphen_values = true)]
    penalty: f64,
    /// Largest norm of a layer's batch-mean gradient.
    #[arg(long, default_value_t = spikeq::learn::ttfs::TtfsConfig::default().max_grad_norm, allow_hyphen_values = true)]
    max_grad_norm: f64,
    /// What the penalty sums: all input weights of a neuron (`all`, Mostafa's term) or only
    /// those of the inputs that spiked in the sample (`arrived`).
    #[arg(long, default_value = "all", value_parser = ["all", "arrived"])]
    penalty_over: String,
    /// Synaptic time constant [ms].
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    tau_syn_ms: f64,
    /// Latency coding window of IDX images [ms] (pixel x spikes at (1 - x) t_max).
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    t_max_ms: f64,
    /// An extra input spiking at this time in every image [ms] (a learnable offset).
    #[arg(long, allow_hyphen_values = true)]
    bias_ms: Option<f64>,
    /// L2 weight decay.
    #[arg(long, default_value_t = spikeq::learn::ttfs::TtfsConfig::default().weight_decay, allow_hyphen_values = true)]
    weight_decay: f64,
    /// A correct output neuron that never fires counts as firing at this time in the loss
    /// [ms]; default: the last input time + 3 tau.
    #[arg(long, allow_hyphen_values = true)]
    t_silent_ms: Option<f64>,
    /// Use only the first N training samples.
    #[arg(long)]
    train: Option<usize>,
    /// Evaluate only the first N test samples.
    #[arg(long)]
    test: Option<usize>,
    /// Threads for gradients and testing (results do not depend on it); default: all cores.
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
    /// Seed of the initial weights and the sample order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Save the trained network to this file.
    #[arg(long)]
    save: Option<PathBuf>,
}

/// Training options for IDX images (`learn ttfs`, `learn eventprop`; not with `--yin-yang`).
#[derive(clap::Args, Debug)]
struct ImageTrainingArgs {
    /// Hold out the last N training images and test on them instead of the test part (which
    /// is then not read): a validation split for choosing settings.
    #[arg(long, conflicts_with = "yin_yang")]
    validation: Option<usize>,
    /// Add copies of every training image moved by up to this many pixels in x and y
    /// (`(2K+1)²` times the training images; the test images are not touched).
    #[arg(long, default_value_t = 0, conflicts_with = "yin_yang")]
    augment_shift: u32,
}

/// Hidden layer sizes from the command line.
#[derive(Clone, Debug)]
struct Hidden(Vec<usize>);

fn parse_hidden(s: &str) -> std::result::Result<Hidden, String> {
    let s = s.trim();
    if s.is_empty() || s == "none" {
        return Ok(Hidden(Vec::new()));
    }
    let sizes = s
        .split(',')
        .map(|p| match p.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!(
                "hidden sizes `{s}`: expected positive integers separated by commas, or `none`"
            )),
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    if sizes.len() > spikeq::learn::ttfs::MAX_HIDDEN_LAYERS {
        return Err(format!(
            "hidden sizes `{s}`: at most {} hidden layers",
            spikeq::learn::ttfs::MAX_HIDDEN_LAYERS
        ));
    }
    Ok(Hidden(sizes))
}

#[derive(clap::Args, Debug)]
struct RstdpArgs {
    /// IDX directory (as for `learn convert`).
    #[arg(long)]
    data: PathBuf,
    /// The feature layer: a model file written by `learn stdp --save`.
    #[arg(long)]
    features: PathBuf,
    /// Hold out the last N training images and test on them instead of the test part (which
    /// is then not read): a validation split for choosing settings.
    #[arg(long)]
    validation: Option<usize>,
    /// Decision neurons per class.
    #[arg(long, default_value_t = spikeq::learn::rstdp::RstdpParams::default().per_class)]
    per_class: usize,
    /// Passes over the training images.
    #[arg(long, default_value_t = spikeq::learn::rstdp::RstdpParams::default().epochs)]
    epochs: usize,
    /// Reward scale.
    #[arg(long, default_value_t = spikeq::learn::rstdp::RstdpParams::default().learning_rate)]
    learning_rate: f64,
    /// Decision neurons' threshold above rest [mV].
    #[arg(long, default_value_t = spikeq::learn::rstdp::RstdpParams::default().v_th_mv)]
    threshold_mv: f64,
    /// Decision neurons' membrane time constant [ms].
    #[arg(long, default_value_t = spikeq::learn::rstdp::RstdpParams::default().tau_m_ms)]
    tau_m_ms: f64,
    /// Inhibition between decision neurons per spike [mV] (negative).
    #[arg(long, default_value_t = spikeq::learn::rstdp::RstdpParams::default().inhibition_mv, allow_hyphen_values = true)]
    inhibition_mv: f64,
    /// Which decision neurons a reward reaches: `global` (all), `decided` (the decided
    /// class's neurons that fired) or `per-neuron` (each neuron that fired, by its own class).
    #[arg(long, default_value = "per-neuron")]
    credit: spikeq::learn::rstdp::Credit,
    /// Presentation per image [ms] of the feature layer, in training and test (default: the
    /// one it was trained with, 350).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_present_ms)]
    present_ms: Option<f64>,
    /// Reward and punishment: `adaptive` (Mozafari's: +miss rate if right, -hit rate if
    /// wrong) or fixed amounts `RIGHT,WRONG`.
    #[arg(long, default_value = "0.7,-0.3", allow_hyphen_values = true)]
    reward: spikeq::learn::rstdp::RewardScale,
    /// Use only the first N training images.
    #[arg(long)]
    train: Option<usize>,
    /// Evaluate only the first N test images.
    #[arg(long)]
    test: Option<usize>,
    /// Seed of the initial readout weights.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Threads for the feature layer and testing; default: all cores.
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
    /// Save the feature layer with the trained readout to this file.
    #[arg(long)]
    save: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct StdpArgs {
    /// IDX directory (as for `learn convert`).
    #[arg(long)]
    data: PathBuf,
    /// Excitatory neurons.
    #[arg(long, default_value_t = 400)]
    neurons: usize,
    /// Passes over the training images (0: label and test the untrained network).
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Use only the first N training images (training and labelling).
    #[arg(long)]
    train: Option<usize>,
    /// Hold out the last N training images and test on them instead of the test part (which
    /// is then not read): a validation split for choosing settings.
    #[arg(long)]
    validation: Option<usize>,
    /// Train on every training image and its copies moved by up to this many pixels in x and
    /// y (`(2K+1)²` presentations per image per epoch, the originals first, then one shift
    /// after another; labelling uses them all; the test images are not touched).
    #[arg(long, default_value_t = 0)]
    augment_shift: u32,
    /// Evaluate only the first N test images.
    #[arg(long)]
    test: Option<usize>,
    /// Input presentation per image [ms] (rest: 150 ms after it).
    #[arg(long, default_value_t = 350.0)]
    present_ms: f64,
    /// Silence after each presentation [ms].
    #[arg(long, default_value_t = 150.0)]
    rest_ms: f64,
    /// Lateral inhibition per excitatory spike [mV] (negative).
    #[arg(long, default_value_t = spikeq::learn::stdp::DcParams::default().inhibition_mv, allow_hyphen_values = true)]
    inhibition_mv: f64,
    /// Millivolts per Diehl & Cook weight unit.
    #[arg(long, default_value_t = spikeq::learn::stdp::DcParams::default().weight_scale_mv)]
    weight_scale_mv: f64,
    /// Depression per pre arrival, times the post trace (D&C weight units).
    #[arg(long, default_value_t = spikeq::learn::stdp::DcParams::default().nu_pre)]
    nu_pre: f64,
    /// Potentiation per post spike, times pre trace and slow post trace (D&C weight units).
    #[arg(long, default_value_t = spikeq::learn::stdp::DcParams::default().nu_post)]
    nu_post: f64,
    /// Learning rate schedule: nu_pre and nu_post are multiplied by this at the start of each
    /// epoch after the first (1: constant, as published).
    #[arg(long, default_value_t = 1.0)]
    nu_epoch_factor: f64,
    /// Initial input weights are uniform in [W, 0.3) (D&C weight units; D&C: 0).
    #[arg(long, default_value_t = 0.0)]
    w_init_min: f64,
    /// Input rate of a pixel at full intensity [Hz] (D&C: 63.75).
    #[arg(long, default_value_t = spikeq::learn::stdp::DcParams::default().max_rate_hz)]
    max_rate_hz: f64,
    /// Threshold increase per excitatory spike [mV].
    #[arg(long, default_value_t = spikeq::learn::stdp::DcParams::default().theta_plus_mv)]
    theta_plus_mv: f64,
    /// Decay of the threshold increase [ms] (D&C: 1e7).
    #[arg(long, default_value_t = spikeq::learn::stdp::DcParams::default().tau_theta_ms)]
    tau_theta_ms: f64,
    /// Seed of the initial weights and input spike trains.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Repetitions of a quiet training presentation at a higher rate, at most. 0 (default):
    /// none; Diehl & Cook's protocol repeats (8 here), which did worse on MNIST-10k (see the
    /// README). Evaluation always repeats up to 8 times.
    #[arg(long, default_value_t = 0)]
    train_repeats: u32,
    /// Threads for labelling and testing; default: all cores.
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
    /// Save the trained network (weights, thresholds, labels) to this file.
    #[arg(long)]
    save: Option<PathBuf>,
    /// Draw the learned receptive fields to this PNG.
    #[arg(long)]
    plot: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct EventPropArgs {
    /// IDX directory (as for `learn convert`), latency-coded; or use `--yin-yang`.
    #[arg(
        long,
        required_unless_present = "yin_yang",
        conflicts_with = "yin_yang"
    )]
    data: Option<PathBuf>,
    /// Train on the published Yin-Yang sets (5000 training samples, seed 42; 1000 test
    /// samples, seed 40), generated in Rust.
    #[arg(long)]
    yin_yang: bool,
    #[command(flatten)]
    images: ImageTrainingArgs,
    /// Hidden layer sizes, comma-separated (`--hidden ''`... use `--no-hidden` for none).
    #[arg(long, value_delimiter = ',', default_value = "200")]
    hidden: Vec<usize>,
    /// No hidden layer: inputs straight to the outputs (the baseline that shows what the hidden
    /// layer adds).
    #[arg(long, conflicts_with = "hidden")]
    no_hidden: bool,
    /// The loss: `max-voltage` (softmax over each output's maximum potential) or
    /// `first-spike` (softmax over first output spike times, Göltz et al. 2021).
    #[arg(long, default_value = "max-voltage")]
    loss: String,
    /// Passes over the training set.
    #[arg(long, default_value_t = spikeq::learn::eventprop::EventPropParams::default().epochs)]
    epochs: usize,
    /// Samples per Adam step.
    #[arg(long, default_value_t = spikeq::learn::eventprop::EventPropParams::default().batch)]
    batch: usize,
    /// Adam step size.
    #[arg(long, default_value_t = spikeq::learn::eventprop::EventPropParams::default().adam.learning_rate)]
    learning_rate: f64,
    /// Step size factor per epoch.
    #[arg(long, default_value_t = spikeq::learn::eventprop::EventPropParams::default().lr_decay)]
    lr_decay: f64,
    /// Synaptic time constant [ms] (the membrane's is twice it).
    #[arg(long, default_value_t = spikeq::learn::eventprop::EventPropParams::default().tau_syn_ms)]
    tau_syn_ms: f64,
    /// Trial length [ms].
    #[arg(long, default_value_t = spikeq::learn::eventprop::EventPropParams::default().t_end_ms)]
    t_end_ms: f64,
    /// Latency of a zero input [ms] for IDX data (a pixel x spikes at (1 - x) times this).
    #[arg(long, default_value_t = 20.0)]
    t_max_ms: f64,
    /// Mean of the initial weights times the fan-in.
    #[arg(long, default_value_t = spikeq::learn::eventprop::EventPropParams::default().init_mean, allow_hyphen_values = true)]
    init_mean: f64,
    /// Standard deviation of the initial weights times the square root of the fan-in.
    #[arg(long, default_value_t = spikeq::learn::eventprop::EventPropParams::default().init_std)]
    init_std: f64,
    /// Leave out each input spike with this probability during training (a regulariser).
    #[arg(long, default_value_t = 0.0)]
    input_dropout: f64,
    /// Use only the first N training samples.
    #[arg(long)]
    train: Option<usize>,
    /// Use only the first N test samples.
    #[arg(long)]
    test: Option<usize>,
    /// Seed of the initial weights and the shuffling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Threads per mini-batch; default: all cores.
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
    /// Save the trained network to this file.
    #[arg(long)]
    save: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct ConvertArgs {
    /// IDX directory: train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
    /// t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz].
    #[arg(long)]
    data: PathBuf,
    /// Hidden layer sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "300")]
    hidden: Vec<usize>,
    /// Training epochs.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// SGD step size.
    #[arg(long, default_value_t = 0.05)]
    learning_rate: f32,
    /// Samples per SGD step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Use only the first N training images.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Percentile of positive activations used as each layer's scale.
    #[arg(long, default_value_t = spikeq::learn::convert::DEFAULT_PERCENTILE)]
    percentile: f64,
    /// Save the trained network (with its scales) to this file.
    #[arg(long)]
    save: Option<PathBuf>,
    #[command(flatten)]
    snn: SnnArgs,
}

#[derive(clap::Args, Debug)]
struct EvalArgs {
    /// Model file written by `learn convert|stdp|rstdp|ttfs --save`.
    model: PathBuf,
    /// IDX directory (as for `learn convert`); the test part is evaluated, the training part
    /// tunes the TTFS thresholds of a converted model. Not needed for a Yin-Yang `learn ttfs`
    /// model (its test set is generated).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Presentation per image [ms] for a `learn stdp` or `learn rstdp` model (default: as
    /// trained, 350): longer presentations give more spikes to count, at more cost.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_present_ms)]
    present_ms: Option<f64>,
    /// For a `learn stdp` or `learn rstdp` model trained with `--validation N`: evaluate on
    /// the same held-out last N training images instead of the test part (which is then not
    /// read), so that evaluation settings such as `--present-ms` are chosen without the test
    /// set.
    #[arg(long)]
    validation: Option<usize>,
    #[command(flatten)]
    snn: SnnArgs,
}

/// How the converted network is run.
#[derive(clap::Args, Debug)]
struct SnnArgs {
    /// Simulated times [ms] at which each image is classified, comma-separated, increasing.
    #[arg(long, value_delimiter = ',', default_value = "10,25,50,100,200")]
    time_ms: Vec<f64>,
    /// Input rate of a pixel at full intensity [Hz].
    #[arg(long, default_value_t = 1000.0)]
    max_rate_hz: f64,
    /// Input rate coding: poisson or regular.
    #[arg(long, default_value = "poisson", value_parser = ["poisson", "regular"])]
    coding: String,
    /// Evaluate only the first N test images.
    #[arg(long)]
    test_limit: Option<usize>,
    /// Threads for evaluation (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Seed for training and Poisson inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Skip the time-to-first-spike conversion.
    #[arg(long)]
    no_ttfs: bool,
    /// Progress line every N evaluated images.
    #[arg(long, default_value_t = 500)]
    progress_every: usize,
}

#[derive(Subcommand, Debug)]
enum WeightsCommand {
    /// Draw the weight histogram of every snapshot in a weight CSV file, early to late.
    Plot {
        /// Weight CSV file written by `spikeq run --weights`.
        file: PathBuf,
        /// PNG file to write.
        #[arg(long = "out", short)]
        output: PathBuf,
        /// Projection index (default: the first in the file).
        #[arg(long)]
        projection: Option<usize>,
        /// Image width in pixels.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(200..=4096))]
        width: u32,
        /// Image height in pixels.
        #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u32).range(200..=4096))]
        height: u32,
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

/// A presentation length in milliseconds: finite and positive.
fn parse_present_ms(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(ms) if ms.is_finite() && ms > 0.0 => Ok(ms),
        _ => Err("must be a positive number of milliseconds".into()),
    }
}

fn parse_threads(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("threads `{s}`: expected a positive integer")),
    }
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

fn learn_command(command: LearnCommand) -> Result<()> {
    use spikeq::learn::ann::{Mlp, TrainConfig};
    use spikeq::learn::convert::activation_scales;
    use spikeq::learn::model::SavedModel;
    use spikeq::learn::{Dataset, data};
    match command {
        LearnCommand::Convert(a) => {
            let set = data::load_idx_dir(&a.data)?;
            let mut train = Dataset::from(&set.train);
            if let Some(n) = a.train_limit {
                train = train.take(n);
            }
            let test = Dataset::from(&set.test);
            let n_in = set.train.pixels_per_image();
            let classes = set.train.num_classes().max(set.test.num_classes());
            let mut sizes = vec![n_in];
            sizes.extend(&a.hidden);
            sizes.push(classes);
            if a.hidden.contains(&0) {
                bail!("--hidden: layer sizes must be positive");
            }
            let cfg = TrainConfig {
                epochs: a.epochs,
                batch_size: a.batch_size,
                learning_rate: a.learning_rate,
                seed: a.snn.seed,
                ..TrainConfig::default()
            };
            eprintln!(
                "training {sizes:?} on {} images for {} epochs",
                train.len(),
                cfg.epochs
            );
            let t0 = std::time::Instant::now();
            let mut mlp = Mlp::new(&sizes, a.snn.seed);
            mlp.train(&train, &cfg, |r| {
                eprintln!(
                    "epoch {:>3}  loss {:.4}  train accuracy {:.2}%  ({:.1} s)",
                    r.epoch,
                    r.loss,
                    100.0 * r.train_accuracy,
                    t0.elapsed().as_secs_f64()
                );
            });
            let train_wall = t0.elapsed();
            let scales = activation_scales(&mlp, &train, a.percentile);
            let model = SavedModel {
                mlp,
                scales,
                percentile: a.percentile,
                train: cfg,
                train_samples: train.len(),
            };
            if let Some(path) = &a.save {
                model.save(path)?;
                eprintln!("saved {}", path.display());
            }
            println!(
                "training: {} images, {} epochs, {:.1} s wall",
                train.len(),
                model.train.epochs,
                train_wall.as_secs_f64()
            );
            learn_report(&model, &train, &test, &a.snn)
        }
        LearnCommand::Stdp(a) => learn_stdp(&a),
        LearnCommand::Rstdp(a) => learn_rstdp(&a),
        LearnCommand::Compare(a) => learn_compare(&a),
        LearnCommand::Eventprop(a) => learn_eventprop(&a),
        LearnCommand::Ttfs(a) => learn_ttfs(&a),
        LearnCommand::Eval(a) => {
            use spikeq::learn::model::AnyModel;
            let model = AnyModel::load(&a.model)?;
            if let AnyModel::Ttfs(m) = &model {
                let test = ttfs_test_set(&m.net, a.data.as_deref(), a.snn.test_limit)?;
                println!(
                    "TTFS network {:?}, tau_syn {} ms, {:?}; trained on {} samples x {} epochs",
                    m.net.sizes, m.net.tau_syn_ms, m.net.coding, m.train_samples, m.config.epochs
                );
                return ttfs_report(&m.net, &test, eval_threads(a.snn.threads));
            }
            if let AnyModel::EventProp(net) = &model {
                use spikeq::learn::eventprop::InputCoding;
                let (data, t_max_ms) = match net.coding {
                    InputCoding::Latency { t_max_ms } => (
                        Some(a.data.as_deref().ok_or_else(|| {
                            anyhow::anyhow!("--data DIR is needed to evaluate this model")
                        })?),
                        t_max_ms,
                    ),
                    // The published Yin-Yang test set.
                    InputCoding::YinYang(_) => (None, 0.0),
                };
                let (_, test) = eventprop_data(data, t_max_ms, Some(0), a.snn.test_limit, None, 0)?;
                let e =
                    spikeq::learn::eventprop::evaluate(net, &test, eval_threads(a.snn.threads))?;
                println!("test {}", eventprop_eval_line(&e));
                return Ok(());
            }
            let Some(dir) = &a.data else {
                bail!("--data DIR is needed to evaluate this model");
            };
            let dc_model = matches!(model, AnyModel::Stdp(_) | AnyModel::Rstdp(_));
            if a.present_ms.is_some() && !dc_model {
                bail!("--present-ms applies to `learn stdp` and `learn rstdp` models only");
            }
            if a.validation.is_some() && !dc_model {
                bail!("--validation applies to `learn stdp` and `learn rstdp` models only");
            }
            // The evaluation set of a D&C-based model: the test part, or the validation split.
            let dc_eval_set = || -> Result<Dataset> {
                let set = data::load_idx_dir(dir)?;
                let (_, test) = validation_and_augmentation(set, None, a.validation, 0)?;
                Ok(match a.snn.test_limit {
                    Some(n) => test.take(n),
                    None => test,
                })
            };
            let model = match model {
                AnyModel::Ttfs(_) => unreachable!("handled above"),
                AnyModel::Converted(m) => m,
                AnyModel::Stdp(mut state) => {
                    if let Some(ms) = a.present_ms {
                        state.params.present_ms = ms;
                    }
                    return stdp_report(&state, &dc_eval_set()?, eval_threads(a.snn.threads));
                }
                AnyModel::Rstdp(mut m) => {
                    if let Some(ms) = a.present_ms {
                        m.features.params.present_ms = ms;
                        m.readout.params.present_ms = ms;
                    }
                    return rstdp_report(&m, &dc_eval_set()?, eval_threads(a.snn.threads));
                }
                AnyModel::EventProp(_) => unreachable!("handled above"),
            };
            let set = data::load_idx_dir(dir)?;
            learn_report(
                &model,
                &Dataset::from(&set.train),
                &Dataset::from(&set.test),
                &a.snn,
            )
        }
    }
}

/// The training and test sets of `learn eventprop` (or `eval` of its model) as spike lists.
fn eventprop_data(
    data: Option<&std::path::Path>,
    t_max_ms: f64,
    train_limit: Option<usize>,
    test_limit: Option<usize>,
    validation: Option<usize>,
    augment_shift: u32,
) -> Result<(
    spikeq::learn::eventprop::SpikeDataset,
    spikeq::learn::eventprop::SpikeDataset,
)> {
    use spikeq::learn::eventprop as ep;
    use spikeq::learn::{Dataset, data};
    // Limits apply before encoding: `learn eval` asks for no training samples at all.
    let limit = |d: Dataset, n: Option<usize>| match n {
        Some(n) => d.take(n),
        None => d,
    };
    let (train, test) = match data {
        Some(dir) => {
            let set = data::load_idx_dir(dir)?;
            let (train, test) =
                validation_and_augmentation(set, train_limit, validation, augment_shift)?;
            (
                ep::latency_dataset(&train, t_max_ms),
                ep::latency_dataset(&limit(test, test_limit), t_max_ms),
            )
        }
        None => {
            let timing = ep::default_yin_yang_timing();
            let [train_seed, _, test_seed] = data::YIN_YANG_SEEDS;
            let [train_n, _, test_n] = data::YIN_YANG_SIZES;
            // The generator draws sample by sample: the first k of a set are `yin_yang(k)`.
            let (train_n, test_n) = (
                train_limit.map_or(train_n, |k| k.min(train_n)),
                test_limit.map_or(test_n, |k| k.min(test_n)),
            );
            (
                ep::yin_yang_dataset(&data::yin_yang(train_n, train_seed), &timing),
                ep::yin_yang_dataset(&data::yin_yang(test_n, test_seed), &timing),
            )
        }
    };
    Ok((train, test))
}

fn eventprop_eval_line(e: &spikeq::learn::eventprop::Evaluation) -> String {
    format!(
        "{:.2}% of {} ({:.0} synaptic ops, {:.0} neuron updates, spikes per layer {:?}, decision at {:.1} ms per sample; {:.1} s)",
        100.0 * e.accuracy(),
        e.samples,
        e.synaptic_ops_per_sample,
        e.neuron_updates_per_sample,
        e.spikes_per_sample
            .iter()
            .map(|s| (s * 10.0).round() / 10.0)
            .collect::<Vec<_>>(),
        e.decision_ms,
        e.wall.as_secs_f64()
    )
}

/// `spikeq learn eventprop`: trains with exact gradients, reports each epoch, saves.
fn learn_eventprop(a: &EventPropArgs) -> Result<()> {
    use spikeq::learn::eventprop::{self as ep, EventPropNet, EventPropParams, Loss};
    let loss = match a.loss.as_str() {
        "max-voltage" => Loss::MaxVoltage,
        "first-spike" => Loss::FirstSpike {
            tau0_ms: 0.5,
            alpha: 0.01,
            tau1_ms: 10.0,
        },
        other => anyhow::bail!("--loss {other:?}: expected \"max-voltage\" or \"first-spike\""),
    };
    let (train, test) = eventprop_data(
        a.data.as_deref(),
        a.t_max_ms,
        a.train,
        a.test,
        a.images.validation,
        a.images.augment_shift,
    )?;
    let classes = train.labels.iter().max().map_or(0, |&l| l as usize + 1);
    let mut sizes = vec![train.n_inputs];
    if !a.no_hidden {
        sizes.extend(a.hidden.iter().copied());
    }
    sizes.push(if a.yin_yang { 3 } else { classes.max(2) });
    let params = EventPropParams {
        tau_syn_ms: a.tau_syn_ms,
        t_end_ms: a.t_end_ms,
        loss,
        init_mean: a.init_mean,
        init_std: a.init_std,
        batch: a.batch,
        epochs: a.epochs,
        adam: spikeq::learn::optim::AdamParams {
            learning_rate: a.learning_rate,
            ..Default::default()
        },
        lr_decay: a.lr_decay,
        input_dropout: a.input_dropout,
        seed: a.seed,
    };
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut net = EventPropNet::new(&sizes, params)?;
    net.coding = if a.yin_yang {
        ep::InputCoding::YinYang(ep::default_yin_yang_timing())
    } else {
        ep::InputCoding::Latency {
            t_max_ms: a.t_max_ms,
        }
    };
    eprintln!(
        "EventProp: network {sizes:?}, {} training / {} test samples, {} epochs, {threads} threads",
        train.len(),
        test.len(),
        a.epochs
    );
    let untrained = ep::evaluate(&net, &test, threads)?;
    println!("untrained: test {}", eventprop_eval_line(&untrained));
    let start = std::time::Instant::now();
    let last_report = std::sync::Mutex::new(std::time::Instant::now());
    let progress = |done: usize, total: usize, acc: f64| {
        let mut last = last_report.lock().expect("no poisoned lock");
        if last.elapsed().as_secs_f64() >= 5.0 || done == total {
            *last = std::time::Instant::now();
            eprintln!("  {done:>6}/{total}  running accuracy {:.1}%", 100.0 * acc);
        }
    };
    ep::train(
        &mut net,
        &train,
        Some(&test),
        threads,
        &progress,
        &mut |r| {
            let t = r.test.as_ref().expect("a test set was given");
            println!(
                "epoch {:>3}: train loss {:.4}, train accuracy {:.2}%, {:.1} s; test {}",
                r.epoch,
                r.train_loss,
                100.0 * r.train_accuracy,
                r.wall.as_secs_f64(),
                eventprop_eval_line(t)
            );
        },
    )?;
    println!(
        "trained in {:.1} s wall ({} epochs, network {sizes:?})",
        start.elapsed().as_secs_f64(),
        a.epochs
    );
    if let Some(path) = &a.save {
        spikeq::learn::model::AnyModel::EventProp(net).save(path)?;
        eprintln!("saved {}", path.display());
    }
    Ok(())
}

/// `spikeq learn stdp`: trains, labels, tests and reports (progress on stderr).
fn learn_stdp(a: &StdpArgs) -> Result<()> {
    use spikeq::learn::data;
    use spikeq::learn::stdp::{self, DcParams};
    let set = data::load_idx_dir(&a.data)?;
    let (train, mut test) =
        validation_and_augmentation(set, a.train, a.validation, a.augment_shift)?;
    if let Some(n) = a.test {
        test = test.take(n);
    }
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let p = DcParams {
        neurons: a.neurons,
        present_ms: a.present_ms,
        rest_ms: a.rest_ms,
        inhibition_mv: a.inhibition_mv,
        weight_scale_mv: a.weight_scale_mv,
        nu_pre: a.nu_pre,
        nu_post: a.nu_post,
        nu_epoch_factor: a.nu_epoch_factor,
        w_init_min: a.w_init_min,
        theta_plus_mv: a.theta_plus_mv,
        tau_theta_ms: a.tau_theta_ms,
        max_rate_hz: a.max_rate_hz,
        seed: a.seed,
        ..DcParams::default()
    };
    eprintln!(
        "training {} excitatory neurons on {} images for {} epochs",
        p.neurons,
        train.len(),
        a.epochs
    );
    // `--epochs 0`: the untrained network (normalised random weights), the baseline.
    let (mut state, ts) = if a.epochs == 0 {
        (stdp::untrained(&p)?, stdp::TrainStats::default())
    } else {
        let tp = DcParams {
            max_boosts: a.train_repeats,
            ..p
        };
        let (mut state, ts) = stdp::train(&train, &tp, a.epochs, &mut |r| {
            let acc = r
                .running_accuracy
                .map_or("-".to_string(), |x| format!("{:.1}%", 100.0 * x));
            eprintln!(
                "  {:>6}/{}  running accuracy {acc}  quiet {}  repeats {}",
                r.done, r.total, r.quiet, r.repeats
            );
        })?;
        // Evaluation repeats quiet images as published, whatever training did.
        state.params.max_boosts = p.max_boosts;
        (state, ts)
    };
    let per = ts.presentations.max(1) as f64;
    println!(
        "training: {} images x {} epochs, {:.1} s wall ({:.1} ms/image); per image: {:.0} synaptic ops, {:.0} input + {:.1} excitatory spikes, {:.0} plastic updates; {} of {} presentations quiet (< {} spikes), {} repetitions at higher rate, {} still quiet",
        train.len(),
        a.epochs,
        ts.wall.as_secs_f64(),
        1e3 * ts.wall.as_secs_f64() / per,
        ts.synaptic_events as f64 / per,
        ts.spikes[0] as f64 / per,
        ts.spikes[1] as f64 / per,
        ts.plastic_updates as f64 / per,
        ts.quiet_presentations,
        ts.presentations,
        p.min_spikes,
        ts.repeats,
        ts.still_quiet
    );
    let lr = stdp::label(&mut state, &train, threads, &|d| {
        if d % 1000 == 0 {
            eprintln!("  labelling {d}/{}", train.len())
        }
    })?;
    let labelled = state.labels.iter().filter(|l| l.is_some()).count();
    println!(
        "labelling: {} images, {:.1} s wall, {labelled} of {} neurons labelled, training-set accuracy {:.2}%",
        train.len(),
        lr.wall.as_secs_f64(),
        p.neurons,
        100.0 * stdp::accuracy(&state.labels, &lr, &train)
    );
    if let Some(path) = &a.save {
        spikeq::learn::model::AnyModel::Stdp(state.clone()).save(path)?;
        eprintln!("saved {}", path.display());
    }
    if let Some(path) = &a.plot {
        stdp::plot_fields(&state.weights_mv, 28, 28, path)?;
        eprintln!("plotted {}", path.display());
    }
    stdp_report(&state, &test, threads)
}

/// `spikeq learn compare`: runs every method (progress on stderr), writes the report.
fn learn_compare(a: &CompareArgs) -> Result<()> {
    use spikeq::learn::compare::{self, CompareConfig, CompareProgress};
    if let Some(csv) = &a.replot {
        let text =
            std::fs::read_to_string(csv).with_context(|| format!("reading {}", csv.display()))?;
        let rows = compare::parse_csv(&text).with_context(|| csv.display().to_string())?;
        std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
        let png = a.out.join("comparison.png");
        compare::plot(&rows, &png)?;
        println!("wrote {} ({} rows)", png.display(), rows.len());
        return Ok(());
    }
    let Some(data) = &a.data else {
        bail!("--data DIR is needed");
    };
    let threads = eval_threads(a.threads);
    let config = if a.fast {
        CompareConfig::fast(data, threads)
    } else {
        CompareConfig::full(data, threads)
    };
    let t0 = std::time::Instant::now();
    let progress = |p: CompareProgress<'_>| match p {
        CompareProgress::Started {
            method,
            index,
            total,
        } => eprintln!(
            "[{:>6.1} s] {}/{total} {method}",
            t0.elapsed().as_secs_f64(),
            index + 1
        ),
        CompareProgress::Step { message, .. } => {
            eprintln!("[{:>6.1} s]   {message}", t0.elapsed().as_secs_f64())
        }
        CompareProgress::Finished { method, rows, wall } => {
            for r in rows {
                eprintln!(
                    "[{:>6.1} s]   {}: test accuracy {:.2}%",
                    t0.elapsed().as_secs_f64(),
                    r.method,
                    100.0 * r.test_accuracy
                );
            }
            eprintln!(
                "[{:>6.1} s]   {method} done in {:.1} s",
                t0.elapsed().as_secs_f64(),
                wall.as_secs_f64()
            );
        }
    };
    let report = compare::run(&config, &progress)?;
    let files = compare::write_report(&report, &a.out)?;
    println!(
        "wrote {}, {} and {} ({} rows, {:.1} s)",
        files.markdown.display(),
        files.csv.display(),
        files.plot.display(),
        report.rows.len(),
        report.wall.as_secs_f64()
    );
    Ok(())
}

/// The Yin-Yang sets as data sets: (train = `yin_yang(5000, 42)`, test = `yin_yang(1000, 40)`).
fn yin_yang_sets() -> (spikeq::learn::Dataset, spikeq::learn::Dataset) {
    use spikeq::learn::{Dataset, data};
    let [train_seed, _, test_seed] = data::YIN_YANG_SEEDS;
    let [train_n, _, test_n] = data::YIN_YANG_SIZES;
    (
        Dataset::from(&data::yin_yang(train_n, train_seed)),
        Dataset::from(&data::yin_yang(test_n, test_seed)),
    )
}

/// The test set a TTFS model is evaluated on: the Yin-Yang test set for Yin-Yang coding, else
/// the test part of `data`; the first `limit` samples.
fn ttfs_test_set(
    net: &spikeq::learn::ttfs::TtfsNet,
    data: Option<&Path>,
    limit: Option<usize>,
) -> Result<spikeq::learn::Dataset> {
    use spikeq::learn::ttfs::InputCoding;
    let test = match (net.coding, data) {
        (InputCoding::YinYang(_), _) => yin_yang_sets().1,
        (InputCoding::Latency { .. }, Some(dir)) => {
            spikeq::learn::Dataset::from(&spikeq::learn::data::load_idx_dir(dir)?.test)
        }
        (InputCoding::Latency { .. }, None) => {
            bail!("--data DIR is needed to evaluate this model (it was trained on images)")
        }
    };
    Ok(match limit {
        Some(n) => test.take(n),
        None => test,
    })
}

/// `spikeq learn ttfs`: trains with exact spike-time gradients, tests after every epoch,
/// reports accuracy and cost (progress on stderr).
fn learn_ttfs(a: &TtfsArgs) -> Result<()> {
    use spikeq::learn::data;
    use spikeq::learn::encode::YinYangTiming;
    use spikeq::learn::model::AnyModel;
    use spikeq::learn::optim::AdamParams;
    use spikeq::learn::ttfs::{
        self, InputCoding, LossParams, PenaltyOver, TtfsConfig, TtfsModel, TtfsProgress,
    };
    let (train, mut test, coding, default_hidden, default_epochs) = match &a.data {
        Some(dir) if !a.yin_yang => {
            let set = data::load_idx_dir(dir)?;
            let coding = InputCoding::Latency {
                t_max_ms: a.t_max_ms,
                bias_ms: a.bias_ms,
            };
            let (train, test) = validation_and_augmentation(
                set,
                a.train,
                a.images.validation,
                a.images.augment_shift,
            )?;
            (train, test, coding, vec![340], TtfsConfig::default().epochs)
        }
        _ => {
            let (train, test) = yin_yang_sets();
            let coding = InputCoding::YinYang(YinYangTiming::default());
            let train = match a.train {
                Some(n) => train.take(n),
                None => train,
            };
            (train, test, coding, vec![120], 40)
        }
    };
    if let Some(n) = a.test {
        test = test.take(n);
    }
    let hidden = a.hidden.clone().map_or(default_hidden, |h| h.0);
    let threads = eval_threads(a.threads);
    let classes = spikeq::learn::stdp::classes(&train).max(spikeq::learn::stdp::classes(&test));
    let cfg = TtfsConfig {
        epochs: a.epochs.unwrap_or(default_epochs),
        batch_size: a.batch,
        adam: AdamParams {
            learning_rate: a.learning_rate,
            ..TtfsConfig::default().adam
        },
        lr_decay: a.lr_decay,
        max_grad_norm: a.max_grad_norm,
        weight_decay: a.weight_decay,
        loss: LossParams {
            t_silent_ms: a
                .t_silent_ms
                .unwrap_or(coding.last_input_ms() + 3.0 * a.tau_syn_ms),
            weight_sum_penalty: a.penalty,
            penalty_over: if a.penalty_over == "all" {
                PenaltyOver::AllInputs
            } else {
                PenaltyOver::ArrivedInputs
            },
        },
        seed: a.seed,
        ..TtfsConfig::default()
    };
    cfg.validate()?;
    let mut net = ttfs::untrained(&hidden, classes, a.tau_syn_ms, coding, &cfg, &train)?;
    let e0 = ttfs::evaluate(&net, &test, threads, &|_, _| {})?;
    eprintln!(
        "training {:?} on {} samples for {} epochs ({threads} threads); untrained test accuracy {:.2}%",
        net.sizes,
        train.len(),
        cfg.epochs,
        100.0 * e0.accuracy()
    );
    let every = (train.len() / 5).max(1);
    let mut next = every;
    let report = ttfs::train(
        &mut net,
        &train,
        Some(&test),
        &cfg,
        threads,
        &mut |p| match p {
            TtfsProgress::Batch {
                epoch,
                done,
                total,
                running_accuracy,
                running_loss,
            } => {
                if done >= next && done < total {
                    eprintln!(
                        "  epoch {epoch:>3}  {done:>6}/{total}  running accuracy {:.2}%  loss {running_loss:.4}",
                        100.0 * running_accuracy
                    );
                    next += every;
                }
                if done == total {
                    next = every;
                }
            }
            TtfsProgress::Epoch(r) => eprintln!(
                "epoch {:>3}  loss {:.4}  train accuracy {:.2}%  test accuracy {:.2}%  ({:.1} s + {:.1} s test)",
                r.epoch,
                r.train_loss,
                100.0 * r.train_accuracy,
                100.0 * r.test_accuracy.unwrap_or(f64::NAN),
                r.wall.as_secs_f64(),
                r.test_wall.as_secs_f64()
            ),
        },
    )?;
    println!(
        "training: {:?}, {} samples x {} epochs, {:.1} s wall ({threads} threads), untrained test accuracy {:.2}%",
        net.sizes,
        train.len(),
        cfg.epochs,
        report.wall.as_secs_f64(),
        100.0 * e0.accuracy()
    );
    println!("| epoch | train loss | train accuracy | test accuracy | wall [s] |");
    println!("|---|---|---|---|---|");
    for r in &report.epochs {
        println!(
            "| {} | {:.4} | {:.2}% | {:.2}% | {:.1} |",
            r.epoch,
            r.train_loss,
            100.0 * r.train_accuracy,
            100.0 * r.test_accuracy.unwrap_or(f64::NAN),
            r.wall.as_secs_f64()
        );
    }
    if let Some(path) = &a.save {
        AnyModel::Ttfs(TtfsModel {
            net: net.clone(),
            config: cfg,
            train_samples: train.len(),
        })
        .save(path)?;
        eprintln!("saved {}", path.display());
    }
    ttfs_report(&net, &test, threads)
}

/// The training and test parts of an IDX set as data sets: with `validation`, the last that
/// many training images become the test part (the real test part is dropped); with
/// `augment_shift` > 0, the training part gains shifted copies. `train_limit` cuts the
/// training images first (before the split and the copies).
fn validation_and_augmentation(
    mut set: spikeq::learn::data::IdxDataset,
    train_limit: Option<usize>,
    validation: Option<usize>,
    augment_shift: u32,
) -> Result<(spikeq::learn::Dataset, spikeq::learn::Dataset)> {
    use spikeq::learn::Dataset;
    if let Some(n) = train_limit {
        set.train = set.train.take(n);
    }
    let (train, test) = match validation {
        Some(n) => {
            if n == 0 || n >= set.train.len() {
                bail!(
                    "--validation {n}: must be between 1 and {} (the training images less one)",
                    set.train.len().saturating_sub(1)
                );
            }
            let (train, val) = set.train.split_last(n);
            eprintln!(
                "validation split: training on the first {} training images, testing on the last {n} (test part unused)",
                train.len()
            );
            (train, val)
        }
        None => (set.train, set.test),
    };
    if augment_shift > 3 {
        bail!("--augment-shift {augment_shift}: at most 3 pixels (49 samples per image)");
    }
    let train = if augment_shift > 0 {
        let t = train.with_shifted_copies(augment_shift);
        eprintln!(
            "augmented: {} training images with their copies moved by up to {augment_shift} pixel(s)",
            t.len()
        );
        t
    } else {
        train
    };
    Ok((Dataset::from(&train), Dataset::from(&test)))
}

/// Tests a TTFS network and prints accuracy and cost per sample.
fn ttfs_report(
    net: &spikeq::learn::ttfs::TtfsNet,
    test: &spikeq::learn::Dataset,
    threads: usize,
) -> Result<()> {
    let total = test.len();
    let e = spikeq::learn::ttfs::evaluate(net, test, threads, &|done, right| {
        if done % 1000 < 64 || done == total {
            eprintln!(
                "  testing {done}/{total}, running accuracy {:.2}%",
                100.0 * right as f64 / done.max(1) as f64
            );
        }
    })?;
    let spikes: Vec<String> = e
        .spikes_per_sample
        .iter()
        .map(|s| format!("{s:.1}"))
        .collect();
    println!(
        "test: {} samples, accuracy {:.2}% ({} without an output spike, counted wrong), {:.3} s wall on {threads} threads ({:.1} us per sample per thread); per sample: {:.0} synaptic ops ({:.0} before the decision; dense ANN {} MACs), spikes per layer {}, first output spike at {:.3} ms",
        e.samples,
        100.0 * e.accuracy(),
        e.undecided,
        e.wall.as_secs_f64(),
        1e6 * e.wall.as_secs_f64() * threads as f64 / e.samples.max(1) as f64,
        e.synaptic_ops_per_sample,
        e.synaptic_ops_to_decision_per_sample,
        e.ann_macs,
        spikes.join(", "),
        e.mean_decision_ms
    );
    Ok(())
}

/// `--threads`, or all cores.
fn eval_threads(threads: Option<usize>) -> usize {
    threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `spikeq learn rstdp`: records the feature layer's spikes, trains the readout with rewards,
/// tests it (progress on stderr).
fn learn_rstdp(a: &RstdpArgs) -> Result<()> {
    use spikeq::learn::model::{AnyModel, RstdpModel};
    use spikeq::learn::rstdp::{self, RstdpParams};
    use spikeq::learn::{data, stdp};
    let AnyModel::Stdp(mut features) = AnyModel::load(&a.features)? else {
        bail!(
            "{}: not a `learn stdp` model (the feature layer)",
            a.features.display()
        );
    };
    if let Some(ms) = a.present_ms {
        features.params.present_ms = ms;
    }
    let set = data::load_idx_dir(&a.data)?;
    let (train, mut test) = validation_and_augmentation(set, a.train, a.validation, 0)?;
    if let Some(n) = a.test {
        test = test.take(n);
    }
    let threads = eval_threads(a.threads);
    let classes = stdp::classes(&train);
    let p = RstdpParams {
        classes,
        per_class: a.per_class,
        epochs: a.epochs,
        learning_rate: a.learning_rate,
        v_th_mv: a.threshold_mv,
        tau_m_ms: a.tau_m_ms,
        inhibition_mv: a.inhibition_mv,
        present_ms: features.params.present_ms,
        seed: a.seed,
        credit: a.credit,
        reward: a.reward,
        ..RstdpParams::default()
    };
    eprintln!(
        "recording the feature layer's spikes on {} training images",
        train.len()
    );
    let fr = stdp::responses(&features, &train, 1_000_001, threads, &|_| {})?;
    println!(
        "features (training set): {:.1} s wall; per image {:.0} synaptic ops, {:.1} feature spikes",
        fr.wall.as_secs_f64(),
        fr.synaptic_events_per_sample,
        fr.spikes_per_sample[1]
    );
    let n = features.params.neurons;
    let (readout, ts) = rstdp::train(&p, n, &fr, &train, &mut |r| {
        eprintln!(
            "  {:>6}/{}  running accuracy {:.1}%",
            r.done,
            r.total,
            100.0 * r.running_accuracy
        );
    })?;
    let per = ts.presentations.max(1) as f64;
    println!(
        "readout training: {} images x {} epochs, {:.1} s wall, training accuracy {:.2}%; per image: {:.0} synaptic ops, {:.1} decision spikes, {:.0} plastic (eligibility) updates",
        train.len(),
        p.epochs,
        ts.wall.as_secs_f64(),
        100.0 * ts.accuracy(),
        ts.synaptic_events as f64 / per,
        ts.decision_spikes as f64 / per,
        ts.plastic_updates as f64 / per
    );
    let model = RstdpModel { features, readout };
    if let Some(path) = &a.save {
        AnyModel::Rstdp(model.clone()).save(path)?;
        eprintln!("saved {}", path.display());
    }
    rstdp_report(&model, &test, threads)
}

/// Tests an R-STDP readout with its feature layer and prints accuracy and cost per image.
fn rstdp_report(
    m: &spikeq::learn::model::RstdpModel,
    test: &spikeq::learn::Dataset,
    threads: usize,
) -> Result<()> {
    use spikeq::learn::{rstdp, stdp};
    let fr = stdp::responses(&m.features, test, 2_000_002, threads, &|_| {})?;
    let (r, _) = rstdp::evaluate(&m.readout, &fr, test, threads)?;
    let n = test.len().max(1) as f64;
    println!(
        "test: {} images, R-STDP readout accuracy {:.2}% ({} silent), label-assignment accuracy {:.2}%; {:.1} s wall on {threads} threads; per image: {:.0} synaptic ops ({:.0} feature layer + {:.0} readout), {:.0} input + {:.1} feature + {:.1} decision spikes",
        test.len(),
        100.0 * r.accuracy(),
        r.silent,
        100.0 * stdp::accuracy(&m.features.labels, &fr, test),
        (fr.wall + r.wall).as_secs_f64(),
        fr.synaptic_events_per_sample + r.synaptic_events as f64 / n,
        fr.synaptic_events_per_sample,
        r.synaptic_events as f64 / n,
        fr.spikes_per_sample[0],
        fr.spikes_per_sample[1],
        r.decision_spikes as f64 / n
    );
    Ok(())
}

/// Tests a labelled Diehl & Cook network and prints accuracy and cost per image.
fn stdp_report(
    state: &spikeq::learn::stdp::DcState,
    test: &spikeq::learn::Dataset,
    threads: usize,
) -> Result<()> {
    use spikeq::learn::stdp;
    let r = stdp::responses(state, test, 2_000_002, threads, &|d| {
        if d % 1000 == 0 {
            eprintln!("  testing {d}/{}", test.len())
        }
    })?;
    println!(
        "test: {} images, accuracy {:.2}%, {:.1} s wall on {threads} threads ({:.2} ms/image); per image: {:.0} synaptic ops, {:.0} input + {:.1} excitatory spikes; {} repetitions at higher rate, {} still quiet",
        test.len(),
        100.0 * stdp::accuracy(&state.labels, &r, test),
        r.wall.as_secs_f64(),
        1e3 * r.wall.as_secs_f64() / test.len().max(1) as f64,
        r.synaptic_events_per_sample,
        r.spikes_per_sample[0],
        r.spikes_per_sample[1],
        r.boosts,
        r.quiet
    );
    Ok(())
}

/// Prints the ANN's test accuracy, the rate-converted SNN's accuracy and cost per checkpoint,
/// and the TTFS conversion's (thresholds tuned on up to 500 training images).
fn learn_report(
    model: &spikeq::learn::model::SavedModel,
    train: &spikeq::learn::Dataset,
    test: &spikeq::learn::Dataset,
    snn: &SnnArgs,
) -> Result<()> {
    use spikeq::learn::convert::{SpikingClassifier, evaluate, tune_ttfs};
    use spikeq::learn::encode;
    let test = match snn.test_limit {
        Some(n) => test.take(n),
        None => test.clone(),
    };
    let n_in = model.mlp.layers[0].inputs;
    if let Some(x) = test.inputs.first().filter(|x| x.len() != n_in) {
        bail!("the model takes {n_in} inputs, the images have {}", x.len());
    }
    let threads = snn
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let checkpoints: Vec<Tick> = snn
        .time_ms
        .iter()
        .map(|&t| Tick::from_ms(t))
        .collect::<std::result::Result<_, _>>()
        .context("--time-ms")?;
    let t0 = std::time::Instant::now();
    let ann = model.mlp.accuracy(&test);
    let ann_wall = t0.elapsed();
    let macs = model.mlp.macs();
    println!(
        "ANN {:?}: test accuracy {:.2}% on {} images ({macs} MACs per image, {:.3} s wall)",
        model.mlp.sizes(),
        100.0 * ann,
        test.len(),
        ann_wall.as_secs_f64()
    );
    let total = test.len();
    let every = snn.progress_every.max(1);
    let progress = |done: usize, right: usize| {
        if done.is_multiple_of(every) || done == total {
            eprintln!(
                "  {done}/{total} images, running accuracy {:.2}%",
                100.0 * right as f64 / done as f64
            );
        }
    };
    let rate = SpikingClassifier::rate(&model.mlp, &model.scales)?;
    let duration = *checkpoints.last().context("--time-ms is empty")?;
    let (max_rate, seed, regular) = (snn.max_rate_hz, snn.seed, snn.coding == "regular");
    let enc = move |i: usize, x: &[f32]| {
        if regular {
            encode::regular(x, max_rate, duration)
        } else {
            encode::poisson(
                x,
                max_rate,
                duration,
                seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            )
        }
    };
    eprintln!(
        "rate SNN: {} coding at {} Hz, {threads} threads",
        snn.coding, snn.max_rate_hz
    );
    let e = evaluate(&rate, &test, &enc, &checkpoints, threads, &progress)?;
    println!(
        "rate-coded SNN ({} input, max {} Hz, IF reset by subtraction, scales = {}th percentile), {} test images, {:.1} s wall:",
        snn.coding,
        snn.max_rate_hz,
        model.percentile,
        e.samples,
        e.wall.as_secs_f64()
    );
    println!(
        "| time [ms] | accuracy | vs ANN [pp] | synaptic events / image | spikes / image (in, hidden.., out) |"
    );
    println!("|---|---|---|---|---|");
    for (c, acc) in e.accuracy().iter().enumerate() {
        let spikes: Vec<String> = e.spikes_per_sample[c]
            .iter()
            .map(|s| format!("{s:.0}"))
            .collect();
        println!(
            "| {} | {:.2}% | {:+.2} | {:.0} | {} |",
            e.checkpoints[c].as_ms(),
            100.0 * acc,
            100.0 * (acc - ann),
            e.synaptic_events_per_sample[c],
            spikes.join(", ")
        );
    }
    println!(
        "  (dense ANN: {macs} MACs per image; SNN wall {:.2} ms per image per thread)",
        e.wall.as_secs_f64() * 1e3 * threads as f64 / e.samples.max(1) as f64
    );
    if snn.no_ttfs {
        return Ok(());
    }
    let t_max = Tick::from_ms(10.0)?;
    let t_end = Tick::from_ms(11.0)?;
    let grid = spikeq::learn::convert::default_ttfs_grid();
    let tune = train.take(500);
    let t0 = std::time::Instant::now();
    let ((h, o), tune_acc) = tune_ttfs(
        &model.mlp,
        &model.scales,
        &tune,
        &grid,
        t_max,
        t_end,
        threads,
    )?;
    let tune_wall = t0.elapsed();
    let ttfs = SpikingClassifier::ttfs(&model.mlp, &model.scales, h, o)?;
    let enc = |_: usize, x: &[f32]| encode::latency(x, t_max);
    let e = evaluate(&ttfs, &test, &enc, &[t_end], threads, &progress)?;
    let spikes: Vec<String> = e.spikes_per_sample[0]
        .iter()
        .map(|s| format!("{s:.1}"))
        .collect();
    println!(
        "TTFS SNN (latency input over {} ms, thresholds hidden {h} / output {o} mV tuned on {} training images: {:.2}%, {:.1} s): test accuracy {:.2}% ({:+.2} pp vs ANN; {} images without an output spike, counted wrong), {:.0} synaptic events / image, spikes / image {}, {:.1} s wall",
        t_max.as_ms(),
        tune.len(),
        100.0 * tune_acc,
        tune_wall.as_secs_f64(),
        100.0 * e.accuracy()[0],
        100.0 * (e.accuracy()[0] - ann),
        e.undecided[0],
        e.synaptic_events_per_sample[0],
        spikes.join(", "),
        e.wall.as_secs_f64()
    );
    Ok(())
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
            weights,
            quiet,
            threads,
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
                let mut weights_file = weights
                    .as_ref()
                    .map(|p| {
                        std::fs::File::create(p)
                            .map(std::io::BufWriter::new)
                            .with_context(|| format!("creating {}", p.display()))
                    })
                    .transpose()?;
                let weight_recording = weights_file.as_mut().map(|out| {
                    let mut every = m.weight_records.clone();
                    if every.is_empty() {
                        every = (0..m.network.projections.len())
                            .filter(|&k| m.network.projections[k].plasticity.is_some())
                            .map(|k| (k, Tick::MAX))
                            .collect();
                    }
                    spikeq::run::WeightRecording { every, out }
                });
                let opts = RunOptions {
                    duration,
                    seed,
                    threads: threads.unwrap_or_else(available_threads),
                    progress_every: Duration::from_secs(1),
                };
                run_network(
                    &name,
                    &m.network,
                    &opts,
                    sink_ref,
                    &mut progress,
                    weight_recording,
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
            threads,
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
                    threads.unwrap_or_else(available_threads),
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
        Command::Learn { command } => learn_command(command)?,
        Command::Weights {
            command:
                WeightsCommand::Plot {
                    file,
                    output,
                    projection,
                    width,
                    height,
                },
        } => {
            let (proj, snaps) = spikeq::weights::plot::read_snapshots(&file, projection)?;
            let title = format!(
                "{}: projection {proj}, {} snapshots",
                file.file_name()
                    .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                snaps.len()
            );
            spikeq::weights::plot::plot_snapshots(&snaps, &title, &output, (width, height))?;
            eprintln!("wrote {}", output.display());
        }
        Command::Sweep {
            model,
            params,
            seeds,
            duration,
            threads,
        } => {
            use spikeq::parallel::{Sweep, run_sweep};
            let base = load_model(&model)?;
            let text = std::fs::read_to_string(&model)
                .with_context(|| format!("cannot read {}", model.display()))?;
            let sweep = Sweep {
                text,
                origin: model.display().to_string(),
                base_dir: model
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."))
                    .to_path_buf(),
                params,
                seeds: match seeds {
                    Some(s) => spikeq::parallel::parse_seeds(&s).map_err(anyhow::Error::msg)?,
                    None => vec![base.seed],
                },
                duration: duration.as_deref().map(parse_duration).transpose()?,
            };
            let threads = threads.unwrap_or_else(available_threads);
            let t = std::time::Instant::now();
            let mut first = true;
            let rows = run_sweep(&sweep, threads, &mut |row| {
                if first {
                    println!("{}", row.table_header());
                    first = false;
                }
                println!("{}", row.table_line());
            })?;
            let sum: f64 = rows.iter().map(|r| r.wall.as_secs_f64()).sum();
            let wall = t.elapsed().as_secs_f64();
            let used = threads.min(rows.len());
            eprintln!(
                "{} runs on {used} thread{}: {wall:.3} s wall, {sum:.3} s summed over runs ({:.2}x)",
                rows.len(),
                if used == 1 { "" } else { "s" },
                sum / wall
            );
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
