//! Learning: data sets, spike encoders, a small ANN trainer and ANN-to-SNN conversion.
//!
//! Owns: loading data sets ([`data`]: IDX directories such as MNIST, the Yin-Yang generator,
//! N-MNIST samples, validation splits and shifted copies for training), turning values into spike trains ([`encode`]), training a ReLU
//! perceptron ([`ann`]), converting it into non-leaky integrate-and-fire networks and
//! classifying with them on the engine, with the cost of each classification ([`convert`]),
//! training with exact spike-time gradients: EventProp for LIF networks ([`eventprop`]) and
//! time-to-first-spike networks ([`ttfs`]), both computed in continuous time rather than on
//! the engine's tick grid, with Adam and parallel mini-batches ([`optim`]), the model files of
//! trained networks ([`model`]), and the accuracy/cost comparison of every method on one data
//! set ([`compare`]).
//!
//! Must not touch: engine internals, queues or neuron state. This module is a client of the
//! library like any user: it describes networks with [`crate::network::NetworkBuilder`], sets
//! the weights of the built [`crate::network::Network`]'s public connectivity, runs them with
//! [`crate::engine::Simulation::run_until`], and reads spikes through a
//! [`crate::record::SpikeSink`], counters through [`crate::engine::Simulation::counters`] and
//! potentials through [`crate::engine::Simulation::potential_mv`]. It never prints: progress
//! goes to callbacks.

pub mod ann;
pub mod compare;
pub mod convert;
pub mod data;
pub mod encode;
pub mod eventprop;
pub mod model;
pub mod optim;
pub mod rstdp;
pub mod stdp;
pub mod ttfs;

use crate::record::SpikeSink;
use crate::{Spike, Tick};
use std::path::PathBuf;

/// Inputs with their class labels, inputs as values in `[0, 1]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    /// One input vector per sample.
    pub inputs: Vec<Vec<f32>>,
    /// One label per sample.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The first `n` samples (all if there are fewer).
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            inputs: self.inputs[..n].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }
}

impl From<&data::YinYang> for Dataset {
    /// The coordinates `[x, y, 1 - x, 1 - y]` as inputs.
    fn from(y: &data::YinYang) -> Dataset {
        Dataset {
            inputs: y
                .samples
                .iter()
                .map(|s| s.iter().map(|&v| v as f32).collect())
                .collect(),
            labels: y.labels.clone(),
        }
    }
}

impl From<&data::LabeledImages> for Dataset {
    /// Pixels scaled to `[0, 1]` (pixel / 255).
    fn from(images: &data::LabeledImages) -> Dataset {
        Dataset {
            inputs: (0..images.len()).map(|i| images.intensities(i)).collect(),
            labels: images.labels.clone(),
        }
    }
}

/// Why a learning task failed. Fatal for that task.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LearnError {
    /// A data set could not be loaded.
    #[error(transparent)]
    Data(#[from] data::DataError),
    /// A converted network could not be built.
    #[error("building the converted network: {0}")]
    Build(#[from] crate::network::BuildError),
    /// A converted network could not be simulated.
    #[error("simulating the converted network: {0}")]
    Run(#[from] crate::engine::RunError),
    /// A model file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The model file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A model file is not a spikeq model of a supported version, or is corrupt.
    #[error("{}: {what}", path.display())]
    BadModelFile {
        /// The model file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The data do not fit the network.
    #[error("the network takes {network} inputs, the data have {data}")]
    InputSize {
        /// Inputs of the network.
        network: usize,
        /// Values per sample in the data.
        data: usize,
    },
    /// A setting is out of range.
    #[error("{0}")]
    Config(String),
    /// A comparison CSV file is not one `learn compare` writes.
    #[error("comparison CSV line {line}: {what}")]
    BadReport {
        /// 1-based line where the record starts.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// A plot could not be drawn or written.
    #[error("{}: {what}", path.display())]
    Plot {
        /// The image file.
        path: PathBuf,
        /// What failed.
        what: String,
    },
}

/// Counts the spikes of an output population (neurons `first..first + n`) and notes each
/// output neuron's first spike: what spiking classifiers decide from.
#[derive(Clone, Debug)]
pub(crate) struct OutputCounts {
    first: u32,
    /// Spikes per output neuron.
    pub counts: Vec<u32>,
    /// First spike per output neuron (`Tick::MAX` if none).
    pub first_tick: Vec<Tick>,
}

impl OutputCounts {
    /// Counters for the `n` output neurons from `first` on.
    pub fn new(first: u32, n: usize) -> Self {
        OutputCounts {
            first,
            counts: vec![0; n],
            first_tick: vec![Tick::MAX; n],
        }
    }

    /// Forgets every spike (a new presentation).
    pub fn reset(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.first_tick.iter_mut().for_each(|t| *t = Tick::MAX);
    }
}

impl SpikeSink for OutputCounts {
    fn record(&mut self, spikes: &[Spike]) -> Result<(), String> {
        for s in spikes {
            if let Some(k) = s.neuron.checked_sub(self.first)
                && let Some(c) = self.counts.get_mut(k as usize)
            {
                if *c == 0 {
                    self.first_tick[k as usize] = s.tick;
                }
                *c += 1;
            }
        }
        Ok(())
    }
}

/// `[0, n)` cut into consecutive ranges of `size` (the last may be shorter), for
/// [`run_chunks`].
pub(crate) fn chunk_ranges(n: usize, size: usize) -> Vec<(usize, usize)> {
    let size = size.max(1);
    (0..n)
        .step_by(size)
        .map(|lo| (lo, (lo + size).min(n)))
        .collect()
}

/// Runs `work(lo, hi)` on every range of `chunks` on up to `threads` threads, each thread
/// taking the next range when it is done (so slow ranges do not hold the others back), and
/// returns the results in the order of `chunks`, or the first error (ranges not yet started
/// are then skipped). `done(&result, range)` is called as each range finishes, for progress.
pub(crate) fn run_chunks<R: Send>(
    chunks: &[(usize, usize)],
    threads: usize,
    work: &(dyn Fn(usize, usize) -> Result<R, LearnError> + Sync),
    done: &(dyn Fn(&R, (usize, usize)) + Sync),
) -> Result<Vec<R>, LearnError> {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, R)>> = Mutex::new(Vec::with_capacity(chunks.len()));
    let first_error: Mutex<Option<LearnError>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, chunks.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let c = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(lo, hi)) = chunks.get(c) else {
                        return;
                    };
                    if first_error.lock().expect("no poisoned lock").is_some() {
                        return;
                    }
                    match work(lo, hi) {
                        Ok(r) => {
                            done(&r, (lo, hi));
                            results.lock().expect("no poisoned lock").push((c, r));
                        }
                        Err(e) => {
                            first_error
                                .lock()
                                .expect("no poisoned lock")
                                .get_or_insert(e);
                            return;
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("no poisoned lock") {
        return Err(e);
    }
    let mut results = results.into_inner().expect("no poisoned lock");
    results.sort_by_key(|(c, _)| *c);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}
