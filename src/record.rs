//! Recording: where the engine puts the spikes it emits, and the per-population summary.
//!
//! Owns: the [`SpikeSink`] trait and in-memory sinks (a vector, statistics, a tee). Must not
//! touch: files (the binary and the trace layer write files; the engine never does) or engine
//! internals. The engine hands spikes over once per window, sorted by (tick, neuron), so a
//! recording is canonical whatever order the work was done in.

use crate::{NeuronId, Spike, Tick};

/// Receives emitted spikes, window by window, in (tick, neuron) order.
pub trait SpikeSink {
    /// Takes a batch of spikes. An `Err` stops the run with [`crate::engine::RunError::Sink`].
    fn record(&mut self, spikes: &[Spike]) -> Result<(), String>;
}

/// Discards spikes.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl SpikeSink for NullSink {
    fn record(&mut self, _: &[Spike]) -> Result<(), String> {
        Ok(())
    }
}

impl SpikeSink for Vec<Spike> {
    fn record(&mut self, spikes: &[Spike]) -> Result<(), String> {
        self.extend_from_slice(spikes);
        Ok(())
    }
}

/// Feeds two sinks.
#[derive(Debug)]
pub struct Tee<A, B>(pub A, pub B);

impl<A: SpikeSink, B: SpikeSink> SpikeSink for Tee<A, B> {
    fn record(&mut self, spikes: &[Spike]) -> Result<(), String> {
        self.0.record(spikes)?;
        self.1.record(spikes)
    }
}

impl<S: SpikeSink + ?Sized> SpikeSink for &mut S {
    fn record(&mut self, spikes: &[Spike]) -> Result<(), String> {
        (**self).record(spikes)
    }
}

/// Spike statistics per neuron, kept in O(neurons) memory whatever the run length: counts and
/// the sums needed for each neuron's coefficient of variation of inter-spike intervals.
#[derive(Debug, Clone)]
pub struct SpikeStats {
    last: Vec<i64>,
    count: Vec<u32>,
    isi_sum_ms: Vec<f64>,
    isi_sq_sum_ms2: Vec<f64>,
}

/// Summary of one population over a recorded span.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationSummary {
    /// Population name.
    pub name: String,
    /// Neurons.
    pub size: u32,
    /// Spikes.
    pub spikes: u64,
    /// Mean rate per neuron \[Hz\].
    pub rate_hz: f64,
    /// Mean over neurons with at least 3 spikes of the ISI coefficient of variation; NaN if none.
    pub cv_isi: f64,
}

impl SpikeStats {
    /// Statistics for neurons `0..n`.
    pub fn new(n: u32) -> Self {
        let n = n as usize;
        SpikeStats {
            last: vec![i64::MIN; n],
            count: vec![0; n],
            isi_sum_ms: vec![0.0; n],
            isi_sq_sum_ms2: vec![0.0; n],
        }
    }

    /// Adds one spike.
    pub fn add(&mut self, s: Spike) {
        let i = s.neuron as usize;
        if self.last[i] != i64::MIN {
            let isi = Tick(s.tick.0 - self.last[i]).as_ms();
            self.isi_sum_ms[i] += isi;
            self.isi_sq_sum_ms2[i] += isi * isi;
        }
        self.last[i] = s.tick.0;
        self.count[i] += 1;
    }

    /// Spikes of one neuron.
    pub fn count(&self, n: NeuronId) -> u32 {
        self.count[n as usize]
    }

    /// Summary of the neurons `ids` over a recording of `duration`.
    pub fn summarize(
        &self,
        name: &str,
        ids: std::ops::Range<u32>,
        duration: Tick,
    ) -> PopulationSummary {
        let size = ids.len() as u32;
        let mut spikes = 0u64;
        let (mut cv_sum, mut cv_n) = (0.0, 0u32);
        for i in ids.map(|i| i as usize) {
            spikes += self.count[i] as u64;
            let k = self.count[i].saturating_sub(1) as f64;
            if k >= 2.0 {
                let mean = self.isi_sum_ms[i] / k;
                let var = (self.isi_sq_sum_ms2[i] / k - mean * mean).max(0.0);
                cv_sum += var.sqrt() / mean;
                cv_n += 1;
            }
        }
        let secs = duration.as_ms() / 1000.0;
        PopulationSummary {
            name: name.to_string(),
            size,
            spikes,
            rate_hz: if size > 0 && secs > 0.0 {
                spikes as f64 / size as f64 / secs
            } else {
                0.0
            },
            cv_isi: if cv_n > 0 {
                cv_sum / cv_n as f64
            } else {
                f64::NAN
            },
        }
    }
}

impl SpikeSink for SpikeStats {
    fn record(&mut self, spikes: &[Spike]) -> Result<(), String> {
        spikes.iter().for_each(|&s| self.add(s));
        Ok(())
    }
}

/// A sink that hands spike batches to a writer thread over a bounded crossbeam channel, so
/// file output overlaps simulation and memory stays bounded (at most `capacity` batches wait).
#[derive(Debug)]
pub struct ThreadedSink {
    tx: Option<crossbeam::channel::Sender<Vec<Spike>>>,
    handle: Option<std::thread::JoinHandle<Result<u64, String>>>,
}

impl ThreadedSink {
    /// Spawns the writer thread; `write` is called with each batch in order, and once more
    /// with an empty batch when the channel closes (the moment to flush).
    pub fn spawn<F>(capacity: usize, mut write: F) -> Self
    where
        F: FnMut(&[Spike]) -> Result<(), String> + Send + 'static,
    {
        let (tx, rx) = crossbeam::channel::bounded::<Vec<Spike>>(capacity);
        let handle = std::thread::spawn(move || {
            let mut n = 0u64;
            for batch in rx {
                write(&batch)?;
                n += batch.len() as u64;
            }
            write(&[])?;
            Ok(n)
        });
        ThreadedSink {
            tx: Some(tx),
            handle: Some(handle),
        }
    }

    /// Closes the channel, waits for the writer and returns the number of spikes written.
    pub fn finish(mut self) -> Result<u64, String> {
        drop(self.tx.take());
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err("the writer thread panicked".into()),
            None => Ok(0),
        }
    }
}

impl SpikeSink for ThreadedSink {
    fn record(&mut self, spikes: &[Spike]) -> Result<(), String> {
        if spikes.is_empty() {
            return Ok(());
        }
        let tx = self.tx.as_ref().ok_or("sink already finished")?;
        tx.send(spikes.to_vec())
            .map_err(|_| "the writer thread stopped (see its error)".to_string())
    }
}
