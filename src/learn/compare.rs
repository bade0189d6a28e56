//! The accuracy/cost comparison of the learning methods: every method trained and tested on
//! the same data set, one [`MethodRow`] each, written as a Markdown table, a CSV file and a
//! plot of accuracy against synaptic operations (`spikeq learn compare`).
//!
//! Owns: the comparison's budgets ([`CompareConfig`] with its [`CompareConfig::full`] and
//! [`CompareConfig::fast`] presets), the list of method runners ([`METHODS`]), the row of
//! results ([`MethodRow`]) with the cost definitions below, and the writers ([`markdown`],
//! [`csv`], [`parse_csv`], [`plot`], [`write_report`]). Must not touch: how any method learns
//! or classifies. Runners only call the methods' public APIs ([`super::ann`],
//! [`super::convert`], [`super::stdp`], [`super::rstdp`]) with the budgets given; a method's
//! defaults stay in its own module. It never prints: progress goes to a callback.
//!
//! # Adding a method
//! Write one function `fn(&Session) -> Result<Vec<MethodRow>, LearnError>` that trains the
//! method on [`Session::train`] and tests it on [`Session::test`] (one row per tested variant,
//! usually one), add its budget to [`CompareConfig`] and both presets, and add it to
//! [`METHODS`]. EventProp ([`super::eventprop`]) and the Mostafa (2018) network
//! ([`super::ttfs`]) compute their spikes in continuous time rather than on the engine; their
//! costs count the same way (every spike delivered to every neuron of the next layer).
//!
//! # Cost definitions (per test sample, after training)
//! - **Synaptic operations**: spikes delivered across one synapse each, the engine's
//!   `synaptic_events` counter summed over populations. Each is one accumulate (add a weight
//!   to a membrane potential). Not defined for the ANN (`None`).
//! - **Neuron updates**: the neuron-state updates the event-driven run performs: one per
//!   synaptic event (the target's state is advanced and the weight added) plus one per spike
//!   of a simulated neuron (threshold crossing and reset); spikes of input generators update
//!   no neuron and are not counted. For the ANN: its units (hidden plus output), each updated
//!   once per sample.
//! - **Equivalent ANN multiply-accumulates**: those of one dense forward pass through a
//!   network with the same feed-forward weights (lateral inhibition is not counted).
//! - **Energy estimate**: [`PJ_PER_ACCUMULATE`] (0.9 pJ) per synaptic operation for spiking
//!   networks, [`PJ_PER_MAC`] (4.6 pJ) per multiply-accumulate for the ANN: 32-bit float
//!   add and multiply-add in 45 nm (Horowitz 2014). An estimate of arithmetic only: it
//!   ignores memory access (which dominates on real hardware), neuron updates and spike
//!   routing.
//! - **Time to decision**: simulated time until the class is decided: the presentation time
//!   for readouts that count spikes over a presentation (including, on average, repeated
//!   presentations of quiet samples), the mean first output spike for first-spike readouts;
//!   `None` for the ANN.
//! - **Training wall time**: everything a method needs before testing, including what it
//!   shares with another row (the conversions include training their ANN; the R-STDP readout
//!   includes its Diehl & Cook layer), on the threads given, on whatever else the machine ran.

use super::ann::{Mlp, TrainConfig};
use super::convert::{self, SpikingClassifier};
use super::stdp::{self, DcParams, DcState, Responses};
use super::{Dataset, LearnError, data, encode, rstdp};
use crate::Tick;
use std::cell::OnceCell;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Energy per accumulate (32-bit float add, 45 nm; Horowitz 2014) \[pJ\].
pub const PJ_PER_ACCUMULATE: f64 = 0.9;
/// Energy per multiply-accumulate (32-bit float multiply 3.7 pJ plus add 0.9 pJ, 45 nm;
/// Horowitz 2014) \[pJ\].
pub const PJ_PER_MAC: f64 = 4.6;

/// Which budgets a configuration started from (named in the report's command line).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    /// [`CompareConfig::full`]: the committed report.
    Full,
    /// [`CompareConfig::fast`]: seconds, for CI.
    Fast,
}

/// The ReLU perceptron: trained once, tested as the ANN row and converted by the conversion
/// rows.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnBudget {
    /// Training samples (the first of the training part).
    pub train_samples: usize,
    /// Test samples of the ANN row (the first of the test part).
    pub test_samples: usize,
    /// Hidden layer sizes.
    pub hidden: Vec<usize>,
    /// Passes over the training samples (SGD otherwise as [`TrainConfig::default`]).
    pub epochs: usize,
    /// If above 0, one more row: the same network and epochs trained on the training
    /// samples with their copies shifted by up to this many pixels
    /// ([`data::LabeledImages::with_shifted_copies`]); not converted.
    pub augment_shift: u32,
}

/// ANN-to-SNN conversion of the [`AnnBudget`] network, rate and time-to-first-spike coded.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversionBudget {
    /// Test samples of the conversion rows.
    pub test_samples: usize,
    /// Simulated times at which the rate-coded network is read, increasing \[ms\]: one row
    /// each, all from one simulation per sample.
    pub rate_times_ms: Vec<f64>,
    /// Poisson input rate of a value of 1 \[Hz\].
    pub max_rate_hz: f64,
    /// Training samples the TTFS thresholds are tuned on.
    pub ttfs_tune_samples: usize,
    /// Latency-coding window: a value of 1 fires at 0, a value near 0 near the end \[ms\];
    /// the class is read 1 ms after it.
    pub ttfs_window_ms: f64,
}

/// Diehl & Cook unsupervised STDP ([`super::stdp`], the published protocol otherwise).
#[derive(Clone, Debug, PartialEq)]
pub struct DcBudget {
    /// Training samples (also labelled on).
    pub train_samples: usize,
    /// Test samples (also the R-STDP readout's).
    pub test_samples: usize,
    /// Excitatory neurons.
    pub neurons: usize,
    /// Passes over the training samples.
    pub epochs: usize,
    /// Lower end of the initial weights ([`DcParams::w_init_min`]; published: 0).
    pub w_init_min: f64,
    /// Learning rate factor per epoch ([`DcParams::nu_epoch_factor`]; published: 1).
    pub nu_epoch_factor: f64,
    /// Decay of the threshold adaptation \[ms\] (published: 1e7).
    pub tau_theta_ms: f64,
}

impl DcBudget {
    /// The README's 80.32% recipe on MNIST-10k: initial weights in [0.2, 0.3), two epochs,
    /// the second at a quarter of the learning rates, threshold adaptation decaying with 3e6 ms.
    fn recipe(train_samples: usize, test_samples: usize, neurons: usize, epochs: usize) -> Self {
        DcBudget {
            train_samples,
            test_samples,
            neurons,
            epochs,
            w_init_min: 0.2,
            nu_epoch_factor: 0.25,
            tau_theta_ms: 3e6,
        }
    }
}

/// The R-STDP readout ([`super::rstdp`]) on the Diehl & Cook layer's recorded spikes: trained
/// on its training responses, tested on its test responses.
#[derive(Clone, Debug, PartialEq)]
pub struct RstdpBudget {
    /// Passes over the training responses.
    pub epochs: usize,
    /// Decision neurons per class.
    pub per_class: usize,
}

/// EventProp ([`super::eventprop`]) on latency-coded images.
#[derive(Clone, Debug, PartialEq)]
pub struct EventPropBudget {
    /// Training samples.
    pub train_samples: usize,
    /// Test samples.
    pub test_samples: usize,
    /// Hidden layer sizes.
    pub hidden: Vec<usize>,
    /// The network's and training's settings (epochs, loss, step size, initialisation).
    pub params: super::eventprop::EventPropParams,
    /// Latency of a zero pixel \[ms\] (a pixel `x` spikes at `(1 − x)` times this).
    pub t_max_ms: f64,
}

impl EventPropBudget {
    /// The settings of the README's MNIST run, `hidden` units and `epochs` passes.
    fn mnist(train_samples: usize, test_samples: usize, hidden: usize, epochs: usize) -> Self {
        use super::eventprop::{EventPropParams, Loss};
        EventPropBudget {
            train_samples,
            test_samples,
            hidden: vec![hidden],
            params: EventPropParams {
                loss: Loss::MaxVoltage,
                init_mean: 30.0,
                init_std: 4.0,
                epochs,
                adam: super::optim::AdamParams {
                    learning_rate: 2e-3,
                    ..Default::default()
                },
                lr_decay: 0.9,
                ..EventPropParams::default()
            },
            t_max_ms: 20.0,
        }
    }
}

/// The Mostafa (2018) time-to-first-spike network ([`super::ttfs`]) on latency-coded images,
/// with the `learn ttfs` defaults otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct TtfsBudget {
    /// Training samples.
    pub train_samples: usize,
    /// Test samples.
    pub test_samples: usize,
    /// Hidden layer sizes.
    pub hidden: Vec<usize>,
    /// Passes over the training samples.
    pub epochs: usize,
    /// Synaptic time constant \[ms\].
    pub tau_syn_ms: f64,
    /// Latency of a zero pixel \[ms\].
    pub t_max_ms: f64,
    /// If above 0, one more row: the same network and epochs trained on the training
    /// samples with their copies shifted by up to this many pixels.
    pub augment_shift: u32,
}

/// What the comparison runs: the data and each method's budget.
#[derive(Clone, Debug, PartialEq)]
pub struct CompareConfig {
    /// IDX directory (as for `learn convert`).
    pub data: PathBuf,
    /// The preset these budgets started from.
    pub preset: Preset,
    /// Threads for evaluation (results do not depend on it).
    pub threads: usize,
    /// Seed of weights, sample order and input spike trains, for every method.
    pub seed: u64,
    /// The ReLU perceptron.
    pub ann: AnnBudget,
    /// ANN-to-SNN conversion.
    pub conversion: ConversionBudget,
    /// Diehl & Cook STDP.
    pub dc: DcBudget,
    /// The R-STDP readout.
    pub rstdp: RstdpBudget,
    /// EventProp.
    pub eventprop: EventPropBudget,
    /// The Mostafa time-to-first-spike network.
    pub ttfs: TtfsBudget,
}

impl CompareConfig {
    /// The committed report: every method at the size of its README run, on MNIST-10k's
    /// 5,000 training and 5,000 test images. Part 1 takes about 12 minutes on 2 idle cores
    /// (Diehl & Cook training about 6 of them, the rate-coded tests about 3.5), up to
    /// twice that on a busy machine.
    pub fn full(data: impl Into<PathBuf>, threads: usize) -> Self {
        CompareConfig {
            data: data.into(),
            preset: Preset::Full,
            threads,
            seed: 1,
            ann: AnnBudget {
                train_samples: 5000,
                test_samples: 5000,
                hidden: vec![300],
                epochs: 20,
                augment_shift: 1,
            },
            conversion: ConversionBudget {
                test_samples: 5000,
                rate_times_ms: vec![10.0, 25.0, 50.0],
                max_rate_hz: 1000.0,
                ttfs_tune_samples: 500,
                ttfs_window_ms: 10.0,
            },
            dc: DcBudget::recipe(5000, 5000, 400, 2),
            rstdp: RstdpBudget {
                epochs: 5,
                per_class: 1,
            },
            eventprop: EventPropBudget::mnist(5000, 5000, 350, 15),
            ttfs: TtfsBudget {
                train_samples: 5000,
                test_samples: 5000,
                hidden: vec![340],
                epochs: 20,
                tau_syn_ms: 1.0,
                t_max_ms: 1.0,
                augment_shift: 1,
            },
        }
    }

    /// For CI: a few hundred images, tiny networks; seconds in `cargo test`.
    pub fn fast(data: impl Into<PathBuf>, threads: usize) -> Self {
        CompareConfig {
            data: data.into(),
            preset: Preset::Fast,
            threads,
            seed: 1,
            ann: AnnBudget {
                train_samples: 400,
                test_samples: 200,
                hidden: vec![32],
                epochs: 5,
                augment_shift: 1,
            },
            conversion: ConversionBudget {
                test_samples: 200,
                rate_times_ms: vec![5.0, 10.0],
                max_rate_hz: 1000.0,
                ttfs_tune_samples: 100,
                ttfs_window_ms: 10.0,
            },
            dc: DcBudget::recipe(400, 200, 40, 2),
            rstdp: RstdpBudget {
                epochs: 20,
                per_class: 1,
            },
            eventprop: EventPropBudget::mnist(400, 200, 64, 10),
            ttfs: TtfsBudget {
                train_samples: 400,
                test_samples: 200,
                hidden: vec![32],
                epochs: 3,
                tau_syn_ms: 1.0,
                t_max_ms: 1.0,
                augment_shift: 1,
            },
        }
    }

    /// Checks the budgets that would otherwise fail deep inside a method.
    pub fn validate(&self) -> Result<(), LearnError> {
        let bad = |m: &str| Err(LearnError::Config(format!("comparison: {m}")));
        let sizes = [
            self.ann.train_samples,
            self.ann.test_samples,
            self.conversion.test_samples,
            self.conversion.ttfs_tune_samples,
            self.dc.train_samples,
            self.dc.test_samples,
        ];
        if sizes.contains(&0) {
            return bad("every train, test and tuning subset needs at least one sample");
        }
        if self.ann.hidden.contains(&0) || self.ann.epochs == 0 {
            return bad("hidden layers need units and the ANN at least one epoch");
        }
        let times = &self.conversion.rate_times_ms;
        if times.is_empty()
            || times.iter().any(|t| !(t.is_finite() && *t > 0.0))
            || times.windows(2).any(|w| w[0] >= w[1])
        {
            return bad("rate times must be positive and increasing");
        }
        if !(self.conversion.max_rate_hz > 0.0
            && self.conversion.max_rate_hz.is_finite()
            && self.conversion.ttfs_window_ms > 0.0
            && self.conversion.ttfs_window_ms.is_finite())
        {
            return bad("the input rate and the TTFS window must be positive");
        }
        if self.dc.neurons < 2 || self.dc.epochs == 0 {
            return bad("Diehl & Cook needs at least 2 neurons and one epoch");
        }
        if self.rstdp.epochs == 0 || self.rstdp.per_class == 0 {
            return bad("the R-STDP readout needs an epoch and a neuron per class");
        }
        let e = &self.eventprop;
        if e.train_samples == 0 || e.test_samples == 0 || e.hidden.contains(&0) {
            return bad("EventProp needs samples and non-empty hidden layers");
        }
        if !(e.t_max_ms > 0.0 && e.t_max_ms.is_finite()) {
            return bad("EventProp's latency window must be positive");
        }
        e.params.validate()?;
        let t = &self.ttfs;
        if t.train_samples == 0 || t.test_samples == 0 || t.hidden.contains(&0) || t.epochs == 0 {
            return bad("the TTFS network needs samples, an epoch and non-empty hidden layers");
        }
        if !(t.tau_syn_ms > 0.0
            && t.tau_syn_ms.is_finite()
            && t.t_max_ms > 0.0
            && t.t_max_ms.is_finite())
        {
            return bad("the TTFS network's time constant and latency window must be positive");
        }
        if self.ann.augment_shift > 3 || t.augment_shift > 3 {
            return bad("shifted copies: at most 3 pixels");
        }
        Ok(())
    }

    /// The command that runs this configuration (exact for unmodified presets).
    pub fn command(&self) -> String {
        let fast = match self.preset {
            Preset::Fast => " --fast",
            Preset::Full => "",
        };
        format!(
            "spikeq learn compare --data {}{fast} --threads {}",
            self.data.display(),
            self.threads
        )
    }
}

/// Whether a row is the ANN (cost in multiply-accumulates) or a spiking network (cost in
/// synaptic operations): the report's "type" column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetKind {
    /// A conventional network, run as dense arithmetic.
    Ann,
    /// A spiking network, run event by event on the engine.
    Snn,
}

impl NetKind {
    /// `ANN` or `SNN`.
    pub fn as_str(self) -> &'static str {
        match self {
            NetKind::Ann => "ANN",
            NetKind::Snn => "SNN",
        }
    }
}

/// One tested method (or variant, e.g. one simulated time): the report's row. Costs are per
/// test sample, as the module docs define them.
#[derive(Clone, Debug, PartialEq)]
pub struct MethodRow {
    /// What was trained and how it was read, e.g. `ANN→SNN rate conversion, 25 ms`.
    pub method: String,
    /// ANN or SNN.
    pub kind: NetKind,
    /// Layer sizes and neuron model, e.g. `784-300-10 IF`.
    pub network: String,
    /// How inputs become spikes (or values for the ANN).
    pub coding: String,
    /// Training samples (the first of the training part).
    pub train_samples: usize,
    /// Test samples (the first of the test part).
    pub test_samples: usize,
    /// Fraction of the test samples classified right (no decision counts as wrong).
    pub test_accuracy: f64,
    /// Synaptic operations (accumulates) per sample; `None` for the ANN.
    pub synaptic_ops_per_sample: Option<f64>,
    /// Neuron-state updates per sample.
    pub neuron_updates_per_sample: f64,
    /// Multiply-accumulates of the equivalent dense ANN pass.
    pub ann_macs_per_sample: u64,
    /// [`energy_estimate_nj`] of this row's costs \[nJ\].
    pub energy_estimate_nj: f64,
    /// Simulated time until the class is decided \[ms\]; `None` for the ANN.
    pub time_to_decision_ms: Option<f64>,
    /// Wall time of everything trained for this row \[s\].
    pub train_wall_s: f64,
    /// What else a reader needs to judge the row: settings, what the wall time includes,
    /// undecided samples.
    pub notes: String,
}

impl MethodRow {
    /// The x value of the plot: synaptic operations, or MACs for the ANN.
    pub fn ops_per_sample(&self) -> f64 {
        match self.kind {
            NetKind::Ann => self.ann_macs_per_sample as f64,
            NetKind::Snn => self.synaptic_ops_per_sample.unwrap_or(0.0),
        }
    }
}

/// The energy estimate per sample \[nJ\]: 0.9 pJ per synaptic operation for spiking networks,
/// 4.6 pJ per multiply-accumulate for the ANN (Horowitz 2014); ignores memory access and
/// neuron updates.
pub fn energy_estimate_nj(kind: NetKind, synaptic_ops: Option<f64>, ann_macs: u64) -> f64 {
    match kind {
        NetKind::Ann => PJ_PER_MAC * ann_macs as f64 / 1000.0,
        NetKind::Snn => PJ_PER_ACCUMULATE * synaptic_ops.unwrap_or(0.0) / 1000.0,
    }
}

/// What the comparison reports while it runs.
#[derive(Clone, Copy, Debug)]
pub enum CompareProgress<'a> {
    /// A method starts (`index` from 0 of `total`).
    Started {
        /// The method.
        method: &'a str,
        /// Its position in [`METHODS`].
        index: usize,
        /// Methods in all.
        total: usize,
    },
    /// Something a running method did (an epoch, a share of the test set).
    Step {
        /// The method.
        method: &'a str,
        /// What it did.
        message: &'a str,
    },
    /// A method is done.
    Finished {
        /// The method.
        method: &'a str,
        /// Its rows.
        rows: &'a [MethodRow],
        /// Its wall time (training of shared parts included if it trained them).
        wall: Duration,
    },
}

/// A method's progress reporter, for closures that run on several threads.
#[derive(Clone, Copy)]
pub struct Reporter<'a> {
    method: &'static str,
    progress: &'a (dyn Fn(CompareProgress<'_>) + Sync),
}

impl std::fmt::Debug for Reporter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reporter({})", self.method)
    }
}

impl Reporter<'_> {
    /// Reports a step of the current method.
    pub fn step(&self, message: &str) {
        (self.progress)(CompareProgress::Step {
            method: self.method,
            message,
        });
    }
}

/// The trained perceptron shared by the ANN and conversion rows.
#[derive(Clone, Debug)]
pub struct TrainedAnn {
    /// The network.
    pub mlp: Mlp,
    /// Activation scales for conversion (99.9th percentile on the training samples).
    pub scales: Vec<f32>,
    /// How it was trained.
    pub train: TrainConfig,
    /// Training samples.
    pub train_samples: usize,
    /// Training wall time.
    pub train_wall: Duration,
    /// Wall time of computing the scales.
    pub scales_wall: Duration,
}

/// The trained and labelled Diehl & Cook layer with its recorded responses, shared by its row
/// and the R-STDP readout.
#[derive(Clone, Debug)]
pub struct TrainedDc {
    /// Weights, thresholds and labels.
    pub state: DcState,
    /// Training cost.
    pub stats: stdp::TrainStats,
    /// The training samples.
    pub train: Dataset,
    /// Responses to them (labelling; the readout's training features).
    pub train_responses: Responses,
    /// The test samples.
    pub test: Dataset,
    /// Responses to them (the readout's test features).
    pub test_responses: Responses,
    /// Wall time of training and labelling.
    pub train_wall: Duration,
}

/// What runners see: the configuration, the data, and parts trained once and shared between
/// methods (trained by whichever method asks first).
pub struct Session<'a> {
    config: &'a CompareConfig,
    train_images: data::LabeledImages,
    train: Dataset,
    test: Dataset,
    method: std::cell::Cell<&'static str>,
    progress: &'a (dyn Fn(CompareProgress<'_>) + Sync),
    ann: OnceCell<TrainedAnn>,
    dc: OnceCell<TrainedDc>,
}

impl std::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("config", self.config)
            .field("method", &self.method.get())
            .field("ann_trained", &self.ann.get().is_some())
            .field("dc_trained", &self.dc.get().is_some())
            .finish_non_exhaustive()
    }
}

impl<'a> Session<'a> {
    /// The budgets.
    pub fn config(&self) -> &CompareConfig {
        self.config
    }

    /// The first `n` samples of the training part.
    pub fn train(&self, n: usize) -> Dataset {
        self.train.take(n)
    }

    /// The first `n` samples of the training part, then their copies shifted by up to
    /// `max_shift` pixels ([`data::LabeledImages::with_shifted_copies`]).
    pub fn train_with_shifted_copies(&self, n: usize, max_shift: u32) -> Dataset {
        Dataset::from(&self.train_images.take(n).with_shifted_copies(max_shift))
    }

    /// The first `n` samples of the test part.
    pub fn test(&self, n: usize) -> Dataset {
        self.test.take(n)
    }

    /// Classes of the data set (largest label of either part plus one).
    pub fn classes(&self) -> usize {
        stdp::classes(&self.train).max(stdp::classes(&self.test))
    }

    /// Threads for evaluation.
    pub fn threads(&self) -> usize {
        self.config.threads.max(1)
    }

    /// The progress reporter of the running method.
    pub fn reporter(&self) -> Reporter<'a> {
        Reporter {
            method: self.method.get(),
            progress: self.progress,
        }
    }

    /// The ReLU perceptron of [`AnnBudget`], trained on first use.
    pub fn ann(&self) -> Result<&TrainedAnn, LearnError> {
        if let Some(a) = self.ann.get() {
            return Ok(a);
        }
        let train = self.train(self.config.ann.train_samples);
        let (mlp, cfg, train_wall) = self.train_ann(&train);
        let start = Instant::now();
        let scales = convert::activation_scales(&mlp, &train, convert::DEFAULT_PERCENTILE);
        Ok(self.ann.get_or_init(|| TrainedAnn {
            mlp,
            scales,
            train: cfg,
            train_samples: train.len(),
            train_wall,
            scales_wall: start.elapsed(),
        }))
    }

    /// A ReLU perceptron of [`AnnBudget`]'s size and epochs trained on `train`, with its
    /// training settings and wall time.
    fn train_ann(&self, train: &Dataset) -> (Mlp, TrainConfig, Duration) {
        let b = &self.config.ann;
        let n_in = train.inputs.first().map_or(0, Vec::len);
        let mut sizes = vec![n_in];
        sizes.extend(&b.hidden);
        sizes.push(self.classes());
        let cfg = TrainConfig {
            epochs: b.epochs,
            seed: self.config.seed,
            ..TrainConfig::default()
        };
        let r = self.reporter();
        let start = Instant::now();
        let mut mlp = Mlp::new(&sizes, self.config.seed);
        mlp.train(train, &cfg, |e| {
            r.step(&format!(
                "ANN epoch {}/{} on {} samples: loss {:.4}, training accuracy {:.2}%",
                e.epoch,
                cfg.epochs,
                train.len(),
                e.loss,
                100.0 * e.train_accuracy
            ));
        });
        (mlp, cfg, start.elapsed())
    }

    /// The Diehl & Cook layer of [`DcBudget`], trained, labelled and recorded on first use.
    pub fn dc(&self) -> Result<&TrainedDc, LearnError> {
        if let Some(d) = self.dc.get() {
            return Ok(d);
        }
        let b = &self.config.dc;
        let p = DcParams {
            neurons: b.neurons,
            seed: self.config.seed,
            w_init_min: b.w_init_min,
            nu_epoch_factor: b.nu_epoch_factor,
            tau_theta_ms: b.tau_theta_ms,
            ..DcParams::default()
        };
        let train = self.train(b.train_samples);
        let test = self.test(b.test_samples);
        let r = self.reporter();
        let start = Instant::now();
        // Training as `learn stdp` does by default, without repeating quiet presentations
        // (repeating them did worse on MNIST-10k: see the README); testing repeats them.
        let no_repeats = DcParams { max_boosts: 0, ..p };
        let (mut state, stats) = stdp::train(&train, &no_repeats, b.epochs, &mut |t| {
            if t.done % 1000 == 0 || t.done == t.total {
                let acc = t
                    .running_accuracy
                    .map_or("-".into(), |a| format!("{:.1}%", 100.0 * a));
                r.step(&format!(
                    "Diehl & Cook training {}/{}: running accuracy {acc}, {} quiet",
                    t.done, t.total, t.quiet
                ));
            }
        })?;
        r.step("Diehl & Cook: labelling on the training samples");
        state.params.max_boosts = p.max_boosts;
        let train_responses = stdp::label(&mut state, &train, self.threads(), &|_| {})?;
        let train_wall = start.elapsed();
        r.step("Diehl & Cook: recording the test responses");
        let test_responses = stdp::responses(&state, &test, 2_000_002, self.threads(), &|_| {})?;
        Ok(self.dc.get_or_init(|| TrainedDc {
            state,
            stats,
            train,
            train_responses,
            test,
            test_responses,
            train_wall,
        }))
    }
}

/// One method of the comparison.
#[derive(Clone, Copy)]
pub struct Method {
    /// Name in progress reports.
    pub name: &'static str,
    /// Trains and tests it; one row per tested variant.
    pub run: fn(&Session<'_>) -> Result<Vec<MethodRow>, LearnError>,
}

impl std::fmt::Debug for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every method compared, in report order: part 1 (the ANN and what is built from it, then
/// STDP), then part 2.
pub const METHODS: &[Method] = &[
    Method {
        name: "ReLU ANN",
        run: ann_rows,
    },
    Method {
        name: "ANN→SNN rate conversion",
        run: rate_conversion_rows,
    },
    Method {
        name: "ANN→SNN TTFS conversion",
        run: ttfs_conversion_rows,
    },
    Method {
        name: "Diehl & Cook STDP",
        run: diehl_cook_rows,
    },
    Method {
        name: "R-STDP readout",
        run: rstdp_rows,
    },
    Method {
        name: "EventProp",
        run: eventprop_rows,
    },
    Method {
        name: "TTFS spike-time gradients (Mostafa 2018)",
        run: ttfs_gradient_rows,
    },
];

fn layer_sizes(sizes: &[usize]) -> String {
    sizes
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The ReLU ANN itself: cost in MACs. A second row for the one trained with shifted copies.
fn ann_rows(s: &Session<'_>) -> Result<Vec<MethodRow>, LearnError> {
    let a = s.ann()?;
    let b = &s.config().ann;
    let test = s.test(b.test_samples);
    let row = |mlp: &Mlp, cfg: &TrainConfig, train_samples, wall, augment: &str| {
        let sizes = mlp.sizes();
        let macs = mlp.macs();
        MethodRow {
            method: format!("ReLU ANN (SGD){augment}"),
            kind: NetKind::Ann,
            network: format!("{} ReLU", layer_sizes(&sizes)),
            coding: "pixel values in [0, 1]".into(),
            train_samples,
            test_samples: test.len(),
            test_accuracy: mlp.accuracy(&test),
            synaptic_ops_per_sample: None,
            neuron_updates_per_sample: sizes.iter().skip(1).sum::<usize>() as f64,
            ann_macs_per_sample: macs,
            energy_estimate_nj: energy_estimate_nj(NetKind::Ann, None, macs),
            time_to_decision_ms: None,
            train_wall_s: secs(wall),
            notes: format!(
                "{} epochs of SGD (batch {}, learning rate {}, momentum {}), no biases; \
                 neuron updates = units",
                cfg.epochs, cfg.batch_size, cfg.learning_rate, cfg.momentum
            ),
        }
    };
    let mut rows = vec![row(&a.mlp, &a.train, a.train_samples, a.train_wall, "")];
    if b.augment_shift > 0 {
        let train = s.train_with_shifted_copies(b.train_samples, b.augment_shift);
        let (mlp, cfg, wall) = s.train_ann(&train);
        let mut r = row(
            &mlp,
            &cfg,
            train.len(),
            wall,
            &shifted_copies_suffix(b.augment_shift),
        );
        r.notes += &shifted_copies_note(b.train_samples.min(s.train.len()), b.augment_shift);
        rows.push(r);
    }
    Ok(rows)
}

/// The method-name suffix of a row trained with shifted copies of the training images.
fn shifted_copies_suffix(max_shift: u32) -> String {
    format!(", shifted copies (up to {max_shift} px)")
}

/// The budget line's words for a second row trained with shifted copies.
fn shifted_copies_budget(max_shift: u32) -> String {
    if max_shift == 0 {
        return String::new();
    }
    let per = data::shifted_samples_per_image(max_shift);
    format!(
        "; and again, as a second row, on those training images with their copies moved by \
         every shift of up to {max_shift} pixel(s) ({per} samples per image; data \
         augmentation; the test images are not touched)"
    )
}

/// What a row trained with shifted copies trained on.
fn shifted_copies_note(images: usize, max_shift: u32) -> String {
    let per = data::shifted_samples_per_image(max_shift);
    format!(
        "; trained on {images} training images and their copies moved by every shift of up \
         to {max_shift} pixel(s) in x and y ({per} samples per image; same epochs)"
    )
}

/// The coding column of the rows whose pixels spike once, by latency, within `t_max_ms`.
fn latency_coding(t_max_ms: f64) -> String {
    format!("latency, one spike per non-zero pixel within {t_max_ms} ms")
}

fn ms_ticks(ms: f64) -> Result<Tick, LearnError> {
    Tick::from_ms(ms).map_err(|e| LearnError::Config(format!("{ms} ms: {e}")))
}

/// Reports every tenth of a test set.
fn test_progress<'a>(
    r: Reporter<'a>,
    what: &'a str,
    total: usize,
) -> impl Fn(usize, usize) + Sync + 'a {
    let every = total.div_ceil(10).max(1);
    move |done, right| {
        if done % every == 0 || done == total {
            r.step(&format!(
                "{what}: {done}/{total} test samples, running accuracy {:.2}%",
                100.0 * right as f64 / done.max(1) as f64
            ));
        }
    }
}

/// Rate-coded conversion, one row per simulated time.
fn rate_conversion_rows(s: &Session<'_>) -> Result<Vec<MethodRow>, LearnError> {
    let a = s.ann()?;
    let b = &s.config().conversion;
    let test = s.test(b.test_samples);
    let classifier = SpikingClassifier::rate(&a.mlp, &a.scales)?;
    let checkpoints: Vec<Tick> = b
        .rate_times_ms
        .iter()
        .map(|&t| ms_ticks(t))
        .collect::<Result<_, _>>()?;
    let duration = *checkpoints.last().unwrap_or(&Tick::ZERO);
    let (max_rate, seed) = (b.max_rate_hz, s.config().seed);
    // The same input trains as `learn convert` with Poisson coding.
    let enc = move |i: usize, x: &[f32]| {
        encode::poisson(
            x,
            max_rate,
            duration,
            seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        )
    };
    let progress = test_progress(s.reporter(), "rate SNN", test.len());
    let e = convert::evaluate(
        &classifier,
        &test,
        &enc,
        &checkpoints,
        s.threads(),
        &progress,
    )?;
    let accuracy = e.accuracy();
    let macs = a.mlp.macs();
    Ok((0..checkpoints.len())
        .map(|c| {
            let syn = e.synaptic_events_per_sample[c];
            let spikes: f64 = e.spikes_per_sample[c].iter().skip(1).sum();
            MethodRow {
                method: format!("ANN→SNN rate conversion, {} ms", b.rate_times_ms[c]),
                kind: NetKind::Snn,
                network: format!("{} IF", layer_sizes(classifier.sizes())),
                coding: format!(
                    "Poisson rate, up to {} Hz, {} ms",
                    b.max_rate_hz, b.rate_times_ms[c]
                ),
                train_samples: a.train_samples,
                test_samples: e.samples,
                test_accuracy: accuracy[c],
                synaptic_ops_per_sample: Some(syn),
                neuron_updates_per_sample: syn + spikes,
                ann_macs_per_sample: macs,
                energy_estimate_nj: energy_estimate_nj(NetKind::Snn, Some(syn), macs),
                time_to_decision_ms: Some(b.rate_times_ms[c]),
                train_wall_s: secs(a.train_wall + a.scales_wall),
                notes: format!(
                    "the ReLU ANN's weights normalised by the {}th percentile of each layer's \
                     activations; non-leaky IF, threshold 1 mV, reset by subtraction; class = \
                     most output spikes; training = the ANN's plus {:.1} s of scales",
                    convert::DEFAULT_PERCENTILE,
                    secs(a.scales_wall)
                ),
            }
        })
        .collect())
}

/// Time-to-first-spike conversion, thresholds tuned on training samples.
fn ttfs_conversion_rows(s: &Session<'_>) -> Result<Vec<MethodRow>, LearnError> {
    let a = s.ann()?;
    let b = &s.config().conversion;
    let test = s.test(b.test_samples);
    let tune = s.train(b.ttfs_tune_samples);
    let t_max = ms_ticks(b.ttfs_window_ms)?;
    let t_end = ms_ticks(b.ttfs_window_ms + 1.0)?;
    let grid = convert::default_ttfs_grid();
    let r = s.reporter();
    r.step(&format!(
        "TTFS: tuning {} threshold pairs on {} training samples",
        grid.len(),
        tune.len()
    ));
    let start = Instant::now();
    let ((h, o), tune_acc) =
        convert::tune_ttfs(&a.mlp, &a.scales, &tune, &grid, t_max, t_end, s.threads())?;
    let tune_wall = start.elapsed();
    let classifier = SpikingClassifier::ttfs(&a.mlp, &a.scales, h, o)?;
    let enc = |_: usize, x: &[f32]| encode::latency(x, t_max);
    let progress = test_progress(r, "TTFS SNN", test.len());
    let e = convert::evaluate(&classifier, &test, &enc, &[t_end], s.threads(), &progress)?;
    let syn = e.synaptic_events_per_sample[0];
    let spikes: f64 = e.spikes_per_sample[0].iter().skip(1).sum();
    let macs = a.mlp.macs();
    Ok(vec![MethodRow {
        method: "ANN→SNN TTFS conversion".into(),
        kind: NetKind::Snn,
        network: format!("{} IF", layer_sizes(classifier.sizes())),
        coding: format!("latency (time to first spike) over {} ms", b.ttfs_window_ms),
        train_samples: a.train_samples,
        test_samples: e.samples,
        test_accuracy: e.accuracy()[0],
        synaptic_ops_per_sample: Some(syn),
        neuron_updates_per_sample: syn + spikes,
        ann_macs_per_sample: macs,
        energy_estimate_nj: energy_estimate_nj(NetKind::Snn, Some(syn), macs),
        time_to_decision_ms: e.first_output_ms[0],
        train_wall_s: secs(a.train_wall + a.scales_wall + tune_wall),
        notes: format!(
            "the ReLU ANN converted; hidden neurons fire at most once; thresholds {h} mV hidden / \
             {o} mV output chosen from {} pairs on {} training samples ({:.2}% there, {:.1} s, \
             included in the training time); class = first output spike, read at {} ms; {} test \
             samples without an output spike counted wrong and left out of the time to decision",
            grid.len(),
            tune.len(),
            100.0 * tune_acc,
            secs(tune_wall),
            b.ttfs_window_ms + 1.0,
            e.undecided[0]
        ),
    }])
}

/// The mean simulated time until a Diehl & Cook presentation is decided: the presentation,
/// plus a whole period for each repetition of a quiet sample at a higher rate.
fn dc_decision_ms(d: &TrainedDc, extra_ms: f64) -> f64 {
    let p = &d.state.params;
    let n = d.test.len().max(1) as f64;
    p.present_ms + extra_ms + d.test_responses.boosts as f64 / n * p.period_ms()
}

fn dc_network(p: &DcParams) -> String {
    format!(
        "{}-{} LIF, adaptive thresholds, lateral inhibition",
        stdp::INPUTS,
        p.neurons
    )
}

fn dc_coding(p: &DcParams) -> String {
    format!(
        "Poisson rate, up to {} Hz, {} ms + {} ms rest",
        p.max_rate_hz, p.present_ms, p.rest_ms
    )
}

/// Diehl & Cook: unsupervised STDP, neurons labelled by their responses.
fn diehl_cook_rows(s: &Session<'_>) -> Result<Vec<MethodRow>, LearnError> {
    let d = s.dc()?;
    let p = &d.state.params;
    let r = &d.test_responses;
    let syn = r.synaptic_events_per_sample;
    let macs = (stdp::INPUTS * p.neurons) as u64;
    Ok(vec![MethodRow {
        method: "Diehl & Cook unsupervised STDP".into(),
        kind: NetKind::Snn,
        network: dc_network(p),
        coding: dc_coding(p),
        train_samples: d.train.len(),
        test_samples: d.test.len(),
        test_accuracy: stdp::accuracy(&d.state.labels, r, &d.test),
        synaptic_ops_per_sample: Some(syn),
        neuron_updates_per_sample: syn + r.spikes_per_sample[1],
        ann_macs_per_sample: macs,
        energy_estimate_nj: energy_estimate_nj(NetKind::Snn, Some(syn), macs),
        time_to_decision_ms: Some(dc_decision_ms(d, 0.0)),
        train_wall_s: secs(d.train_wall),
        notes: format!(
            "{} epoch(s), one plastic simulation ({} of {} presentations quiet{}); neurons \
             labelled by their mean response per class on the training samples (included in \
             the training time); class = the label whose neurons fired most; {} test \
             repetitions at +{} Hz (in the costs and the time to decision), {} samples still \
             quiet",
            d.state.epochs,
            d.stats.quiet_presentations,
            d.stats.presentations,
            if d.stats.repeats > 0 {
                format!(
                    ", repeated {} times at +{} Hz, {} still quiet",
                    d.stats.repeats, p.boost_rate_hz, d.stats.still_quiet
                )
            } else {
                String::new()
            },
            r.boosts,
            p.boost_rate_hz,
            r.quiet
        ),
    }])
}

/// The R-STDP readout on the Diehl & Cook layer.
fn rstdp_rows(s: &Session<'_>) -> Result<Vec<MethodRow>, LearnError> {
    let d = s.dc()?;
    let b = &s.config().rstdp;
    let features = d.state.params.neurons;
    let p = rstdp::RstdpParams {
        classes: s.classes(),
        per_class: b.per_class,
        epochs: b.epochs,
        present_ms: d.state.params.present_ms,
        seed: s.config().seed,
        ..rstdp::RstdpParams::default()
    };
    let rep = s.reporter();
    let (readout, train_stats) =
        rstdp::train(&p, features, &d.train_responses, &d.train, &mut |t| {
            if t.done == t.total {
                rep.step(&format!(
                    "R-STDP: {} presentations, running accuracy {:.1}%",
                    t.total,
                    100.0 * t.running_accuracy
                ));
            }
        })?;
    let (test_stats, _) = rstdp::evaluate(&readout, &d.test_responses, &d.test, s.threads())?;
    let n = test_stats.presentations.max(1) as f64;
    let fr = &d.test_responses;
    let syn = fr.synaptic_events_per_sample + test_stats.synaptic_events as f64 / n;
    let updates = fr.synaptic_events_per_sample
        + fr.spikes_per_sample[1]
        + (test_stats.synaptic_events + test_stats.decision_spikes) as f64 / n;
    let decision_neurons = p.classes * p.per_class;
    let macs = (stdp::INPUTS * features + features * decision_neurons) as u64;
    Ok(vec![MethodRow {
        method: "R-STDP readout on Diehl & Cook".into(),
        kind: NetKind::Snn,
        network: format!(
            "{}-{}-{} LIF, lateral inhibition in both layers",
            stdp::INPUTS,
            features,
            decision_neurons
        ),
        coding: dc_coding(&d.state.params),
        train_samples: d.train.len(),
        test_samples: test_stats.presentations,
        test_accuracy: test_stats.accuracy(),
        synaptic_ops_per_sample: Some(syn),
        neuron_updates_per_sample: updates,
        ann_macs_per_sample: macs,
        energy_estimate_nj: energy_estimate_nj(NetKind::Snn, Some(syn), macs),
        time_to_decision_ms: Some(dc_decision_ms(d, 1.0)),
        train_wall_s: secs(d.train_wall + train_stats.wall),
        notes: format!(
            "readout trained with rewards for {} epochs over the Diehl & Cook layer's recorded \
             training spikes ({:.1} s; the layer's training and labelling included in the \
             training time); class = most decision spikes, read 1 ms after the presentation; \
             {} test samples without a decision spike counted wrong",
            p.epochs,
            secs(train_stats.wall),
            test_stats.silent
        ),
    }])
}

/// EventProp: exact gradients, trained on latency-coded images; costs from its own exact
/// event-driven forward pass (synaptic ops = spikes × fan-out, neuron updates = synaptic ops
/// plus spikes of simulated neurons).
fn eventprop_rows(s: &Session<'_>) -> Result<Vec<MethodRow>, LearnError> {
    use super::eventprop::{self as ep, EventPropNet, Loss};
    let b = &s.config().eventprop;
    let train = ep::latency_dataset(&s.train(b.train_samples), b.t_max_ms);
    let test = ep::latency_dataset(&s.test(b.test_samples), b.t_max_ms);
    let mut sizes = vec![train.n_inputs];
    sizes.extend(&b.hidden);
    sizes.push(s.classes());
    let params = super::eventprop::EventPropParams {
        seed: s.config().seed,
        ..b.params
    };
    let mut net = EventPropNet::new(&sizes, params)?;
    net.coding = ep::InputCoding::Latency {
        t_max_ms: b.t_max_ms,
    };
    let rep = s.reporter();
    let start = std::time::Instant::now();
    ep::train(
        &mut net,
        &train,
        None,
        s.threads(),
        &|_, _, _| {},
        &mut |r| {
            rep.step(&format!(
                "EventProp: epoch {}/{}, training accuracy {:.1}%",
                r.epoch,
                params.epochs,
                100.0 * r.train_accuracy
            ))
        },
    )?;
    let train_wall = start.elapsed();
    let e = ep::evaluate(&net, &test, s.threads())?;
    let macs = sizes.windows(2).map(|w| (w[0] * w[1]) as u64).sum();
    let (loss, readout) = match params.loss {
        Loss::MaxVoltage => ("max-voltage", "class = highest maximum potential"),
        Loss::FirstSpike { .. } => ("first-spike", "class = first output spike"),
    };
    Ok(vec![MethodRow {
        method: "EventProp (exact gradients)".into(),
        kind: NetKind::Snn,
        network: format!(
            "{} LIF, exponential currents (tau_syn {} ms, tau_m {} ms)",
            layer_sizes(&sizes),
            params.tau_syn_ms,
            params.tau_mem_ms()
        ),
        coding: latency_coding(b.t_max_ms),
        train_samples: train.len(),
        test_samples: e.samples,
        test_accuracy: e.accuracy(),
        synaptic_ops_per_sample: Some(e.synaptic_ops_per_sample),
        neuron_updates_per_sample: e.neuron_updates_per_sample,
        ann_macs_per_sample: macs,
        energy_estimate_nj: energy_estimate_nj(NetKind::Snn, Some(e.synaptic_ops_per_sample), macs),
        time_to_decision_ms: Some(e.decision_ms),
        train_wall_s: secs(train_wall),
        notes: format!(
            "{} epochs of Adam (batch {}, step {} decaying x{} per epoch), {loss} loss; \
             {readout}; exact continuous-time simulation (not the engine's tick grid)",
            params.epochs, params.batch, params.adam.learning_rate, params.lr_decay
        ),
    }])
}

/// Mostafa's time-to-first-spike network: exact spike-time gradients in closed form; costs
/// from its own forward pass (every spike delivered to every neuron of the next layer).
fn ttfs_gradient_rows(s: &Session<'_>) -> Result<Vec<MethodRow>, LearnError> {
    let b = &s.config().ttfs;
    let mut rows = vec![ttfs_gradient_row(s, &s.train(b.train_samples), "")?];
    if b.augment_shift > 0 {
        let train = s.train_with_shifted_copies(b.train_samples, b.augment_shift);
        let mut r = ttfs_gradient_row(s, &train, &shifted_copies_suffix(b.augment_shift))?;
        r.notes += &shifted_copies_note(b.train_samples.min(s.train.len()), b.augment_shift);
        rows.push(r);
    }
    Ok(rows)
}

/// One Mostafa TTFS network of [`TtfsBudget`] trained on `train` and tested.
fn ttfs_gradient_row(
    s: &Session<'_>,
    train: &Dataset,
    augment: &str,
) -> Result<MethodRow, LearnError> {
    use super::ttfs::{self, InputCoding, LossParams, TtfsConfig};
    let b = &s.config().ttfs;
    let test = s.test(b.test_samples);
    let coding = InputCoding::Latency {
        t_max_ms: b.t_max_ms,
        bias_ms: None,
    };
    // The `learn ttfs` default: a silent correct output counts as firing 3 tau after the
    // last input.
    let cfg = TtfsConfig {
        epochs: b.epochs,
        loss: LossParams {
            t_silent_ms: coding.last_input_ms() + 3.0 * b.tau_syn_ms,
            ..LossParams::default()
        },
        seed: s.config().seed,
        ..TtfsConfig::default()
    };
    let mut net = ttfs::untrained(&b.hidden, s.classes(), b.tau_syn_ms, coding, &cfg, train)?;
    let rep = s.reporter();
    let report = ttfs::train(&mut net, train, None, &cfg, s.threads(), &mut |p| {
        if let ttfs::TtfsProgress::Epoch(e) = p {
            rep.step(&format!(
                "TTFS epoch {}/{} on {} samples: loss {:.4}, training accuracy {:.2}%",
                e.epoch,
                cfg.epochs,
                train.len(),
                e.train_loss,
                100.0 * e.train_accuracy
            ));
        }
    })?;
    let e = ttfs::evaluate(&net, &test, s.threads(), &|_, _| {})?;
    let spikes: f64 = e.spikes_per_sample.iter().skip(1).sum();
    Ok(MethodRow {
        method: format!("TTFS network, exact spike-time gradients (Mostafa 2018){augment}"),
        kind: NetKind::Snn,
        network: format!(
            "{} non-leaky IF, exponential currents (tau_syn {} ms), one spike per neuron",
            layer_sizes(&net.sizes),
            b.tau_syn_ms
        ),
        coding: latency_coding(b.t_max_ms),
        train_samples: train.len(),
        test_samples: e.samples,
        test_accuracy: e.accuracy(),
        synaptic_ops_per_sample: Some(e.synaptic_ops_per_sample),
        neuron_updates_per_sample: e.synaptic_ops_per_sample + spikes,
        ann_macs_per_sample: e.ann_macs,
        energy_estimate_nj: energy_estimate_nj(
            NetKind::Snn,
            Some(e.synaptic_ops_per_sample),
            e.ann_macs,
        ),
        time_to_decision_ms: Some(e.mean_decision_ms),
        train_wall_s: secs(report.wall),
        notes: format!(
            "{} epochs of Adam (batch {}, step {}), cross-entropy over -z of the outputs with the \
             weight-sum penalty; class = first output spike ({} test samples without one, \
             counted wrong); {:.0} synaptic ops per sample before the decision; exact \
             continuous-time computation (not the engine)",
            cfg.epochs,
            cfg.batch_size,
            cfg.adam.learning_rate,
            e.undecided,
            e.synaptic_ops_to_decision_per_sample
        ),
    })
}

// Further methods go here: train on `s.train(budget.train_samples)`, test on
// `s.test(budget.test_samples)`, fill one `MethodRow` each (synaptic ops and neuron updates
// from the engine's counters as defined in the module docs, time to decision = mean first
// output spike for a first-spike readout).

/// The machine a report was made on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    /// Cores available to the process.
    pub cores: usize,
    /// The processor's name, where the system tells it.
    pub cpu: Option<String>,
    /// Operating system and architecture.
    pub os: String,
}

impl Machine {
    /// This machine.
    pub fn current() -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        });
        Machine {
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        }
    }
}

/// The result of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// What was run.
    pub config: CompareConfig,
    /// Samples in the data set's training and test parts.
    pub available: (usize, usize),
    /// Values per sample.
    pub inputs: usize,
    /// Classes.
    pub classes: usize,
    /// One row per tested method or variant, in [`METHODS`] order.
    pub rows: Vec<MethodRow>,
    /// Where it ran.
    pub machine: Machine,
    /// Wall time of the whole comparison.
    pub wall: Duration,
}

/// Runs every method of [`METHODS`] on `config`'s data with its budget, reporting progress.
pub fn run(
    config: &CompareConfig,
    progress: &(dyn Fn(CompareProgress<'_>) + Sync),
) -> Result<Report, LearnError> {
    config.validate()?;
    let start = Instant::now();
    let set = data::load_idx_dir(&config.data)?;
    let available = (set.train.len(), set.test.len());
    let inputs = set.train.pixels_per_image();
    let session = Session {
        config,
        train: Dataset::from(&set.train),
        train_images: set.train,
        test: Dataset::from(&set.test),
        method: std::cell::Cell::new(""),
        progress,
        ann: OnceCell::new(),
        dc: OnceCell::new(),
    };
    if session.train.is_empty() || session.test.is_empty() {
        return Err(LearnError::Config(format!(
            "{}: the comparison needs training and test samples",
            config.data.display()
        )));
    }
    let mut rows = Vec::new();
    for (index, m) in METHODS.iter().enumerate() {
        session.method.set(m.name);
        progress(CompareProgress::Started {
            method: m.name,
            index,
            total: METHODS.len(),
        });
        let t0 = Instant::now();
        let new = (m.run)(&session)?;
        progress(CompareProgress::Finished {
            method: m.name,
            rows: &new,
            wall: t0.elapsed(),
        });
        rows.extend(new);
    }
    Ok(Report {
        config: config.clone(),
        available,
        inputs,
        classes: session.classes(),
        rows,
        machine: Machine::current(),
        wall: start.elapsed(),
    })
}

/// `1234567.8` as `1,234,568`.
fn grouped(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if v < 0.0 && digits != "0" {
        out.insert(0, '-');
    }
    out
}

/// `42.0 s` below two minutes, `12.3 min` above.
fn duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 120.0 {
        format!("{s:.1} s")
    } else {
        format!("{:.1} min", s / 60.0)
    }
}

/// Three significant digits, grouped above 1000.
fn sig3(v: f64) -> String {
    if v.abs() >= 100.0 {
        grouped(v)
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A table cell: `|` would end the cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The Markdown report: a header stating the data, command, machine and cost definitions,
/// the budgets, the table, each row's notes, and the plot (`comparison.png` beside it).
pub fn markdown(report: &Report) -> String {
    let c = &report.config;
    let m = &report.machine;
    let mut s = String::new();
    let _ = writeln!(s, "# Learning methods compared: accuracy and cost\n");
    let _ = writeln!(
        s,
        "Generated by `{}` (from a clean checkout: `cargo run --release -- learn compare \
         --data {}{}`), seed {}, {} wall in all.\n",
        c.command(),
        c.data.display(),
        if c.preset == Preset::Fast {
            " --fast"
        } else {
            ""
        },
        c.seed,
        duration(report.wall)
    );
    let _ = writeln!(
        s,
        "Machine: {} cores{}, {}; {} thread{} used for evaluation (training runs on one \
         thread except where a method says otherwise; wall times include whatever else the \
         machine ran).\n",
        m.cores,
        m.cpu.as_ref().map_or(String::new(), |c| format!(" ({c})")),
        m.os,
        c.threads,
        if c.threads == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        s,
        "Data: `{}`, {} training and {} test samples of {} values, {} classes. Each method \
         trains on the first samples of the training part and is tested on the first samples \
         of the test part, as many as its train / test column says.\n",
        c.data.display(),
        report.available.0,
        report.available.1,
        report.inputs,
        report.classes
    );
    s.push_str(
        "Costs are per test sample, after training:\n\
         - **synaptic ops**: spikes delivered across one synapse each (the engine's \
         `synaptic_events` counter); each is one accumulate. Not defined for the ANN.\n\
         - **neuron updates**: neuron-state updates of the event-driven run: one per synaptic \
         event plus one per spike of a simulated neuron (input generators' spikes are not \
         counted). For the ANN, its units (hidden plus output).\n\
         - **ANN MACs**: multiply-accumulates of one dense forward pass through the same \
         feed-forward weights (lateral inhibition not counted). The ANN is plotted at this \
         count.\n\
         - **energy**: an *estimate of arithmetic only*: 0.9 pJ per synaptic op for spiking \
         networks, 4.6 pJ per MAC for the ANN (32-bit float, 45 nm; Horowitz 2014). It \
         ignores memory access, which dominates on real hardware, and neuron updates.\n\
         - **time to decision**: simulated time until the class is decided: the presentation \
         time for spike-count readouts (plus, on average, repeated presentations of quiet \
         samples), the mean first output spike for first-spike readouts.\n\
         - **training wall time**: everything trained for the row, including parts it shares \
         with other rows (the conversions include their ANN, the R-STDP readout its Diehl & \
         Cook layer).\n\n",
    );
    s.push_str("Budgets:\n");
    let a = &c.ann;
    let _ = writeln!(
        s,
        "- ReLU ANN: hidden layers {:?}, {} epochs on {} training samples, tested on {}{}.",
        a.hidden,
        a.epochs,
        a.train_samples,
        a.test_samples,
        shifted_copies_budget(a.augment_shift)
    );
    let v = &c.conversion;
    let _ = writeln!(
        s,
        "- Conversion of that ANN: rate coding (Poisson, up to {} Hz) read at {} ms (one \
         simulation per sample), TTFS over {} ms with thresholds tuned on {} training samples; \
         tested on {}.",
        v.max_rate_hz,
        v.rate_times_ms
            .iter()
            .map(f64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        v.ttfs_window_ms,
        v.ttfs_tune_samples,
        v.test_samples
    );
    let d = &c.dc;
    let _ = writeln!(
        s,
        "- Diehl & Cook: {} excitatory neurons, {} epoch(s) over {} training samples (and \
         labelled on them), tested on {}; initial weights in [{}, 0.3), learning rates x {} \
         per epoch after the first, tau_theta {} ms; the published protocol otherwise.",
        d.neurons,
        d.epochs,
        d.train_samples,
        d.test_samples,
        d.w_init_min,
        d.nu_epoch_factor,
        d.tau_theta_ms
    );
    let _ = writeln!(
        s,
        "- R-STDP readout: {} decision neuron(s) per class, {} epochs over the Diehl & Cook \
         layer's training responses, tested on its test responses.",
        c.rstdp.per_class, c.rstdp.epochs
    );
    let e = &c.eventprop;
    let _ = writeln!(
        s,
        "- EventProp: hidden {:?}, {} epochs over {} training samples, tested on {}.",
        e.hidden, e.params.epochs, e.train_samples, e.test_samples
    );
    let t = &c.ttfs;
    let _ = writeln!(
        s,
        "- TTFS network (Mostafa 2018): hidden {:?}, {} epochs over {} training samples, tested \
         on {}; tau_syn {} ms, latency window {} ms{}.",
        t.hidden,
        t.epochs,
        t.train_samples,
        t.test_samples,
        t.tau_syn_ms,
        t.t_max_ms,
        shifted_copies_budget(t.augment_shift)
    );
    s.push('\n');
    s.push_str(
        "| # | method | type | network | coding | train / test | test accuracy | synaptic ops \
         / sample | neuron updates / sample | ANN MACs / sample | energy estimate / sample \
         [nJ] | time to decision [ms] | training wall time [s] |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (k, r) in report.rows.iter().enumerate() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} / {} | {:.2}% | {} | {} | {} | {} | {} | {} |",
            k + 1,
            cell(&r.method),
            r.kind.as_str(),
            cell(&r.network),
            cell(&r.coding),
            r.train_samples,
            r.test_samples,
            100.0 * r.test_accuracy,
            r.synaptic_ops_per_sample.map_or("n/a".into(), grouped),
            grouped(r.neuron_updates_per_sample),
            grouped(r.ann_macs_per_sample as f64),
            sig3(r.energy_estimate_nj),
            r.time_to_decision_ms.map_or("n/a".into(), sig3),
            sig3(r.train_wall_s)
        );
    }
    s.push_str("\nNotes:\n\n");
    for (k, r) in report.rows.iter().enumerate() {
        let _ = writeln!(s, "{}. {}: {}", k + 1, r.method, r.notes);
    }
    s.push_str(
        "\n![Test accuracy against synaptic operations per sample (log scale); the ANN at its \
         multiply-accumulates](comparison.png)\n\nThe same numbers at full precision: \
         [comparison.csv](comparison.csv).\n",
    );
    s
}

/// The CSV header, one column per [`MethodRow`] field.
pub const CSV_HEADER: &str = "method,type,network,coding,train_samples,test_samples,\
test_accuracy,synaptic_ops_per_sample,neuron_updates_per_sample,ann_macs_per_sample,\
energy_estimate_nj,time_to_decision_ms,train_wall_s,notes";

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The rows as CSV: [`CSV_HEADER`], then one line per row; numbers at full precision (they
/// parse back to the same values), `n/a` as an empty field.
pub fn csv(rows: &[MethodRow]) -> String {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let mut s = format!("{CSV_HEADER}\n");
    for r in rows {
        let fields = [
            csv_field(&r.method),
            r.kind.as_str().to_string(),
            csv_field(&r.network),
            csv_field(&r.coding),
            r.train_samples.to_string(),
            r.test_samples.to_string(),
            r.test_accuracy.to_string(),
            opt(r.synaptic_ops_per_sample),
            r.neuron_updates_per_sample.to_string(),
            r.ann_macs_per_sample.to_string(),
            r.energy_estimate_nj.to_string(),
            opt(r.time_to_decision_ms),
            r.train_wall_s.to_string(),
            csv_field(&r.notes),
        ];
        s.push_str(&fields.join(","));
        s.push('\n');
    }
    s
}

/// Splits CSV text into records of fields (RFC 4180 quoting), with each record's first line.
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, LearnError> {
    let mut records = Vec::new();
    let (mut field, mut fields) = (String::new(), Vec::new());
    let (mut line, mut start_line) = (1usize, 1usize);
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match (quoted, ch) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => {
                line += (c == '\n') as usize;
                field.push(c);
            }
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                fields.push(std::mem::take(&mut field));
                records.push((start_line, std::mem::take(&mut fields)));
                line += 1;
                start_line = line;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err(LearnError::BadReport {
            line: start_line,
            what: "unterminated quoted field".into(),
        });
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        records.push((start_line, fields));
    }
    Ok(records)
}

/// Reads rows written by [`csv`].
pub fn parse_csv(text: &str) -> Result<Vec<MethodRow>, LearnError> {
    let mut records = csv_records(text)?.into_iter();
    match records.next() {
        Some((_, h)) if h.join(",") == CSV_HEADER => {}
        _ => {
            return Err(LearnError::BadReport {
                line: 1,
                what: format!("expected the header `{CSV_HEADER}`"),
            });
        }
    }
    let columns = CSV_HEADER.split(',').count();
    records
        .filter(|(_, f)| !(f.len() == 1 && f[0].trim().is_empty()))
        .map(|(line, f)| {
            let bad = |what: String| LearnError::BadReport { line, what };
            if f.len() != columns {
                return Err(bad(format!("expected {columns} fields, found {}", f.len())));
            }
            let name = |k: usize| CSV_HEADER.split(',').nth(k).unwrap_or("?");
            let num = |k: usize| -> Result<f64, LearnError> {
                f[k].parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| bad(format!("{} `{}` is not a finite number", name(k), f[k])))
            };
            let opt = |k: usize| -> Result<Option<f64>, LearnError> {
                if f[k].is_empty() {
                    Ok(None)
                } else {
                    num(k).map(Some)
                }
            };
            let int = |k: usize| -> Result<u64, LearnError> {
                f[k].parse::<u64>()
                    .map_err(|_| bad(format!("{} `{}` is not a count", name(k), f[k])))
            };
            let kind = match f[1].as_str() {
                "ANN" => NetKind::Ann,
                "SNN" => NetKind::Snn,
                other => return Err(bad(format!("type `{other}` is neither ANN nor SNN"))),
            };
            Ok(MethodRow {
                method: f[0].clone(),
                kind,
                network: f[2].clone(),
                coding: f[3].clone(),
                train_samples: int(4)? as usize,
                test_samples: int(5)? as usize,
                test_accuracy: num(6)?,
                synaptic_ops_per_sample: opt(7)?,
                neuron_updates_per_sample: num(8)?,
                ann_macs_per_sample: int(9)?,
                energy_estimate_nj: num(10)?,
                time_to_decision_ms: opt(11)?,
                train_wall_s: num(12)?,
                notes: f[13].clone(),
            })
        })
        .collect()
}

/// Draws test accuracy against synaptic operations per sample (log scale) to a PNG: one
/// numbered point per row (the ANN, a triangle, at its multiply-accumulates), with a key
/// from numbers to methods beside the chart.
pub fn plot(rows: &[MethodRow], path: &Path) -> Result<(), LearnError> {
    use plotters::prelude::*;
    let err = |what: String| LearnError::Plot {
        path: path.to_owned(),
        what,
    };
    if path.extension().and_then(|e| e.to_str()) != Some("png") {
        return Err(err(
            "the plot is written as PNG: use a .png file name".into()
        ));
    }
    if rows.is_empty() {
        return Err(err("no rows to plot".into()));
    }
    let draw = |e: &dyn std::fmt::Display| err(e.to_string());
    // Zero operations (a network that never fired) cannot sit on a log axis: drawn at 1.
    let xs: Vec<f64> = rows
        .iter()
        .map(|r| r.ops_per_sample())
        .map(|x| if x.is_finite() && x >= 1.0 { x } else { 1.0 })
        .collect();
    let (lo, hi) = xs
        .iter()
        .fold((f64::INFINITY, 0f64), |(a, b), &x| (a.min(x), b.max(x)));
    let x_lo = 10f64.powf(lo.log10().floor());
    let x_hi = 10f64.powf(hi.log10().ceil()).max(x_lo * 10.0);
    plotters::style::register_font("sans-serif", FontStyle::Normal, crate::trace::plot::FONT)
        .map_err(|_| draw(&"the bundled font is unreadable"))?;
    let root = BitMapBackend::new(path, (1400, 680)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw(&e))?;
    let (left, right) = root.split_horizontally(800);
    let mut chart = ChartBuilder::on(&left)
        .caption("Test accuracy against cost per sample", ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), 0f64..100f64)
        .map_err(|e| draw(&e))?;
    chart
        .configure_mesh()
        .x_desc("synaptic operations per sample (ANN: multiply-accumulates), log scale")
        .y_desc("test accuracy [%]")
        .x_label_formatter(&|x| format!("{x:.0e}"))
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| draw(&e))?;
    let font = ("sans-serif", 15).into_font();
    for (k, (r, &x)) in rows.iter().zip(&xs).enumerate() {
        let p = (x, 100.0 * r.test_accuracy.clamp(0.0, 1.0));
        let label = Text::new(format!("{}", k + 1), (7, -18), font.clone());
        let drawn = match r.kind {
            NetKind::Ann => chart.draw_series(std::iter::once(
                EmptyElement::at(p) + TriangleMarker::new((0, 0), 7, RED.filled()) + label,
            )),
            NetKind::Snn => chart.draw_series(std::iter::once(
                EmptyElement::at(p) + Circle::new((0, 0), 5, BLUE.filled()) + label,
            )),
        };
        drawn.map_err(|e| draw(&e))?;
    }
    let key_font = ("sans-serif", 15).into_font();
    right
        .draw(&Text::new(
            "Methods (blue: SNN at synaptic ops; red: ANN at MACs)",
            (0, 50),
            key_font.clone(),
        ))
        .map_err(|e| draw(&e))?;
    let mut y = 80;
    for (k, r) in rows.iter().enumerate() {
        let entry = format!(
            "{} ({:.1}%)",
            r.method.replace('→', "->"),
            100.0 * r.test_accuracy
        );
        for (j, part) in wrap_at_commas(&entry, LEGEND_CHARS).iter().enumerate() {
            let line = if j == 0 {
                format!("{:>2}  {part}", k + 1)
            } else {
                format!("      {part}")
            };
            right
                .draw(&Text::new(line, (0, y), key_font.clone()))
                .map_err(|e| draw(&e))?;
            y += 22;
        }
        y += 2;
    }
    root.present().map_err(|e| draw(&e))
}

/// Characters per legend line that fit beside the chart.
const LEGEND_CHARS: usize = 66;

/// `text` in lines of at most `width` characters where it can be broken after a comma (a
/// part longer than `width` stays whole).
fn wrap_at_commas(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut current = String::new();
    for piece in text.split_inclusive(", ") {
        let fits = current.chars().count() + piece.trim_end().chars().count() <= width;
        if current.is_empty() || fits {
            current.push_str(piece);
        } else {
            lines.push(current.trim_end().to_string());
            current = piece.to_string();
        }
    }
    if !current.is_empty() {
        lines.push(current.trim_end().to_string());
    }
    lines
}

/// The files [`write_report`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportFiles {
    /// `comparison.md`.
    pub markdown: PathBuf,
    /// `comparison.csv`.
    pub csv: PathBuf,
    /// `comparison.png`.
    pub plot: PathBuf,
}

/// Writes `comparison.md`, `comparison.csv` and `comparison.png` into `dir` (created if
/// missing).
pub fn write_report(report: &Report, dir: &Path) -> Result<ReportFiles, LearnError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| LearnError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let files = ReportFiles {
        markdown: dir.join("comparison.md"),
        csv: dir.join("comparison.csv"),
        plot: dir.join("comparison.png"),
    };
    std::fs::write(&files.markdown, markdown(report)).map_err(io(&files.markdown))?;
    std::fs::write(&files.csv, csv(&report.rows)).map_err(io(&files.csv))?;
    plot(&report.rows, &files.plot)?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_lines_break_after_commas_and_lose_nothing() {
        let t = "TTFS network, exact spike-time gradients (Mostafa 2018), shifted copies (up to 1 px) (95.2%)";
        let lines = wrap_at_commas(t, 40);
        assert_eq!(
            lines,
            vec![
                "TTFS network,",
                "exact spike-time gradients (Mostafa 2018),",
                "shifted copies (up to 1 px) (95.2%)"
            ]
        );
        assert_eq!(lines.join(" "), t);
        assert_eq!(wrap_at_commas("short, text", 40), vec!["short, text"]);
        assert_eq!(wrap_at_commas("", 40), Vec::<String>::new());
    }

    fn row() -> MethodRow {
        MethodRow {
            method: "ANN→SNN rate conversion, 25 ms".into(),
            kind: NetKind::Snn,
            network: "784-300-10 IF".into(),
            coding: "Poisson rate, up to 1000 Hz, 25 ms".into(),
            train_samples: 5000,
            test_samples: 300,
            test_accuracy: 0.9233333333333333,
            synaptic_ops_per_sample: Some(792338.25),
            neuron_updates_per_sample: 792874.25,
            ann_macs_per_sample: 238200,
            energy_estimate_nj: energy_estimate_nj(NetKind::Snn, Some(792338.25), 238200),
            time_to_decision_ms: Some(25.0),
            train_wall_s: 10.7,
            notes: "a note with a comma, a \"quote\" | and a bar".into(),
        }
    }

    fn ann_row() -> MethodRow {
        MethodRow {
            method: "ReLU ANN (SGD)".into(),
            kind: NetKind::Ann,
            network: "784-300-10 ReLU".into(),
            coding: "pixel values in [0, 1]".into(),
            synaptic_ops_per_sample: None,
            neuron_updates_per_sample: 310.0,
            energy_estimate_nj: energy_estimate_nj(NetKind::Ann, None, 238200),
            time_to_decision_ms: None,
            test_accuracy: 0.9472,
            notes: "units".into(),
            ..row()
        }
    }

    fn report(rows: Vec<MethodRow>) -> Report {
        Report {
            config: CompareConfig::full("../shared/data/mnist-10k", 2),
            available: (5000, 5000),
            inputs: 784,
            classes: 10,
            rows,
            machine: Machine {
                cores: 2,
                cpu: Some("Test CPU".into()),
                os: "linux x86_64".into(),
            },
            wall: Duration::from_secs(90),
        }
    }

    #[test]
    fn energy_is_0_9_pj_per_synaptic_op_and_4_6_pj_per_mac() {
        assert!((energy_estimate_nj(NetKind::Snn, Some(1e6), 5) - 900.0).abs() < 1e-9);
        assert!((energy_estimate_nj(NetKind::Ann, Some(1e6), 238_200) - 1095.72).abs() < 1e-9);
        assert_eq!(energy_estimate_nj(NetKind::Snn, None, 10), 0.0);
    }

    #[test]
    fn csv_round_trips_every_field_exactly() {
        let rows = vec![row(), ann_row()];
        let text = csv(&rows);
        assert!(text.starts_with(&format!("{CSV_HEADER}\n")));
        assert_eq!(text.lines().count(), 3);
        assert_eq!(parse_csv(&text).unwrap(), rows);
        // Windows line ends and a trailing blank line read the same.
        let crlf = text.replace('\n', "\r\n") + "\r\n";
        assert_eq!(parse_csv(&crlf).unwrap(), rows);
    }

    #[test]
    fn csv_line_of_a_known_row() {
        let text = csv(&[ann_row()]);
        let line = text.lines().nth(1).unwrap();
        assert_eq!(
            line,
            "ReLU ANN (SGD),ANN,784-300-10 ReLU,\"pixel values in [0, 1]\",5000,300,0.9472,,\
             310,238200,1095.72,,10.7,units"
        );
    }

    #[test]
    fn bad_csv_is_refused_with_its_line() {
        let e = parse_csv("a,b\n").unwrap_err().to_string();
        assert!(
            e.contains("line 1") && e.contains("expected the header"),
            "{e}"
        );
        let text = csv(&[row()]).replace(",SNN,", ",XNN,");
        let e = parse_csv(&text).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("XNN"), "{e}");
        let text = csv(&[row()]).replace("0.9233333333333333", "NaN");
        let e = parse_csv(&text).unwrap_err().to_string();
        assert!(e.contains("test_accuracy `NaN`"), "{e}");
        let text = format!("{CSV_HEADER}\n\"open");
        assert!(
            parse_csv(&text)
                .unwrap_err()
                .to_string()
                .contains("unterminated")
        );
        let text = format!("{CSV_HEADER}\na,b\n");
        assert!(
            parse_csv(&text)
                .unwrap_err()
                .to_string()
                .contains("found 2")
        );
    }

    #[test]
    fn markdown_states_definitions_and_formats_a_known_row() {
        let md = markdown(&report(vec![ann_row(), row()]));
        for needle in [
            "`spikeq learn compare --data ../shared/data/mnist-10k --threads 2`",
            "2 cores (Test CPU), linux x86_64",
            "0.9 pJ per synaptic op",
            "4.6 pJ per MAC",
            "Horowitz 2014",
            "ignores memory access",
            "5000 training and 5000 test samples of 784 values, 10 classes",
            "400 excitatory neurons, 2 epoch(s) over 5000 training samples",
            "initial weights in [0.2, 0.3), learning rates x 0.25 per epoch after the first",
            "read at 10, 25, 50 ms",
            "![Test accuracy",
        ] {
            assert!(md.contains(needle), "missing {needle:?} in\n{md}");
        }
        assert!(md.contains(
            "| 1 | ReLU ANN (SGD) | ANN | 784-300-10 ReLU | pixel values in [0, 1] | 5000 / 300 \
             | 94.72% | n/a | 310 | 238,200 | 1,096 | n/a | 10.7 |"
        ));
        assert!(md.contains(
            "| 2 | ANN→SNN rate conversion, 25 ms | SNN | 784-300-10 IF | Poisson rate, up to \
             1000 Hz, 25 ms | 5000 / 300 | 92.33% | 792,338 | 792,874 | 238,200 | 713 | 25.0 \
             | 10.7 |"
        ));
        assert!(md.contains("2. ANN→SNN rate conversion, 25 ms: a note with a comma"));
        // Every table line has the header's number of cells.
        let cells = |l: &str| l.replace("\\|", "").matches('|').count();
        let table: Vec<&str> = md.lines().filter(|l| l.starts_with("| ")).collect();
        assert_eq!(table.len(), 3);
        assert!(table.iter().all(|l| cells(l) == cells(table[0])));
    }

    #[test]
    fn numbers_are_grouped_and_rounded() {
        assert_eq!(grouped(0.4), "0");
        assert_eq!(grouped(999.5), "1,000");
        assert_eq!(grouped(1234567.8), "1,234,568");
        assert_eq!(grouped(-1234.0), "-1,234");
        assert_eq!(sig3(4.216), "4.22");
        assert_eq!(sig3(41.26), "41.3");
        assert_eq!(sig3(1428.4), "1,428");
    }

    #[test]
    fn plot_is_a_png_and_refuses_other_names() {
        let dir = std::env::temp_dir().join(format!("spikeq-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let png = dir.join("c.png");
        plot(&[row(), ann_row()], &png).unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(matches!(
            plot(&[row()], &dir.join("c.svg")),
            Err(LearnError::Plot { .. })
        ));
        assert!(plot(&[], &png).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn presets_are_valid_and_bad_budgets_are_refused() {
        for c in [CompareConfig::full("d", 2), CompareConfig::fast("d", 1)] {
            c.validate().unwrap();
        }
        let mut c = CompareConfig::fast("d", 1);
        c.conversion.rate_times_ms = vec![10.0, 5.0];
        assert!(c.validate().is_err());
        let mut c = CompareConfig::fast("d", 1);
        c.dc.test_samples = 0;
        assert!(c.validate().is_err());
        assert_eq!(
            CompareConfig::fast("d", 1).command(),
            "spikeq learn compare --data d --fast --threads 1"
        );
    }
}
