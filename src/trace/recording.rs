//! Recording a run to a trace file: a [`SpikeSink`] that streams spikes through a writer
//! thread ([`ThreadedSink`]) into `.spk`, CSV or NEST text, chosen by the file's extension.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{SpkHeader, SpkWriter, TraceFileError, TraceFormat, csv, text};
use crate::record::{SpikeSink, ThreadedSink};
use crate::{Spike, Tick};

/// What a recording says about the run it comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordingHeader {
    /// Model name.
    pub model: String,
    /// Seed of the run.
    pub seed: u64,
    /// Simulated duration.
    pub duration: Tick,
    /// Number of neurons of the network: the `.spk` channel count.
    pub channel_count: u32,
}

impl RecordingHeader {
    /// The metadata stored in the file: `model`, `seed`, `duration_ms` (exact decimal) and
    /// `spikeq_version`.
    pub fn metadata(&self) -> BTreeMap<String, String> {
        let mut duration = String::new();
        // Writing to a String cannot fail.
        let _ = self.duration.fmt_ms_exact(&mut duration);
        BTreeMap::from([
            ("model".to_string(), self.model.clone()),
            ("seed".to_string(), self.seed.to_string()),
            ("duration_ms".to_string(), duration),
            (
                "spikeq_version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        ])
    }
}

/// Spikes being written to a trace file by a writer thread. Feed it as a [`SpikeSink`], then
/// call [`finish`](Self::finish): the file is written under a `.tmp` name and renamed into
/// place only when complete.
#[derive(Debug)]
pub struct Recording {
    sink: ThreadedSink,
    path: PathBuf,
}

/// Batches of spikes waiting for the writer thread (each batch is one engine window).
const QUEUED_BATCHES: usize = 64;

enum Writer {
    Spk(SpkWriter<BufWriter<File>>),
    Text {
        output: BufWriter<File>,
        separator: char,
    },
}

/// A trace file written spike batch by spike batch (`.spk`, CSV or NEST text), under a
/// `.tmp` name until [`finish`](Self::finish) renames it into place. Dropping it unfinished
/// removes the temporary file.
pub struct StreamingWriter {
    writer: Option<Writer>,
    temporary: PathBuf,
    path: PathBuf,
}

impl std::fmt::Debug for StreamingWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingWriter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl StreamingWriter {
    /// Creates `path.tmp` and writes the start of a `format` file: the `.spk` header with
    /// `channel_count` and `metadata`, the CSV header line, or NEST's preamble (metadata as
    /// `#` comments). Other formats give [`TraceFileError::CannotRecord`].
    pub fn create(
        path: &Path,
        format: TraceFormat,
        channel_count: u32,
        metadata: &BTreeMap<String, String>,
    ) -> Result<StreamingWriter, TraceFileError> {
        if !matches!(
            format,
            TraceFormat::Spk | TraceFormat::Csv | TraceFormat::NestText
        ) {
            return Err(TraceFileError::CannotRecord { format });
        }
        let mut temporary = path.as_os_str().to_owned();
        temporary.push(".tmp");
        let temporary = PathBuf::from(temporary);
        let file = File::create(&temporary).map_err(|source| TraceFileError::Open {
            path: temporary.clone(),
            source,
        })?;
        // From here on, dropping `this` removes the temporary file.
        let mut this = StreamingWriter {
            writer: None,
            temporary,
            path: path.to_owned(),
        };
        let mut output = BufWriter::new(file);
        this.writer = Some(match format {
            TraceFormat::Spk => {
                let header = SpkHeader {
                    channel_count,
                    metadata: metadata.clone(),
                };
                Writer::Spk(SpkWriter::new(output, &header)?)
            }
            TraceFormat::Csv => {
                writeln!(output, "{}", csv::HEADER)?;
                Writer::Text {
                    output,
                    separator: ',',
                }
            }
            _ => {
                writeln!(output, "# spike recorder output written by spikeq")?;
                for (key, value) in metadata {
                    writeln!(output, "# {key}: {value}")?;
                }
                writeln!(output, "sender\ttime_ms")?;
                Writer::Text {
                    output,
                    separator: '\t',
                }
            }
        });
        Ok(this)
    }

    /// Appends spikes (`.spk`: sorted, with ids below the channel count).
    pub fn write(&mut self, spikes: &[Spike]) -> Result<(), TraceFileError> {
        match &mut self.writer {
            Some(Writer::Spk(w)) => w.push_slice(spikes),
            Some(Writer::Text { output, separator }) => {
                text::append_spike_lines(output, spikes, *separator)
            }
            None => Ok(()),
        }
    }

    /// Completes the file and renames it into place.
    pub fn finish(mut self) -> Result<(), TraceFileError> {
        match self.writer.take() {
            Some(Writer::Spk(w)) => drop(w.finish()?),
            Some(Writer::Text { mut output, .. }) => output.flush()?,
            None => {}
        }
        std::fs::rename(&self.temporary, &self.path).map_err(|source| TraceFileError::Open {
            path: self.path.clone(),
            source,
        })
    }
}

impl Drop for StreamingWriter {
    fn drop(&mut self) {
        // Unfinished (an error or a panic on the way): the partial file goes. Best effort.
        if self.temporary.exists() {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

/// Opens a recording at `path`, in the format its extension names: `.spk` (with the header's
/// metadata), `.csv` (`neuron,time_ms`) or NEST text (`.txt`, `.dat`, `.gdf`; the metadata
/// as `#` comment lines). Event-camera formats cannot record a network.
pub fn open_recording(path: &Path, header: &RecordingHeader) -> Result<Recording, TraceFileError> {
    let format = TraceFormat::from_path(path)?;
    let mut writer = Some(StreamingWriter::create(
        path,
        format,
        header.channel_count,
        &header.metadata(),
    )?);
    let shown = path.display().to_string();
    let sink = ThreadedSink::spawn(QUEUED_BATCHES, move |batch| {
        let result = match (&mut writer, batch.is_empty()) {
            (Some(w), false) => w.write(batch),
            (_, true) => writer.take().map_or(Ok(()), StreamingWriter::finish),
            (None, false) => Ok(()),
        };
        if result.is_err() {
            // Removes the temporary file.
            writer = None;
        }
        result.map_err(|e| format!("writing {shown}: {e}"))
    });
    Ok(Recording {
        sink,
        path: path.to_owned(),
    })
}

impl Recording {
    /// Waits for the writer, which completes the file and moves it into place; returns the
    /// number of spikes written. On error the incomplete file is removed.
    pub fn finish(self) -> Result<u64, TraceFileError> {
        self.sink
            .finish()
            .map_err(|message| TraceFileError::Io(std::io::Error::other(message)))
    }

    /// Where the finished file will be.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl SpikeSink for Recording {
    fn record(&mut self, spikes: &[Spike]) -> Result<(), String> {
        self.sink.record(spikes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_in_each_text_and_binary_format_with_metadata() {
        let dir = std::env::temp_dir().join(format!("spikeq-recording-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let header = RecordingHeader {
            model: "m".into(),
            seed: 7,
            duration: Tick(1_500_000),
            channel_count: 10,
        };
        let spikes = [
            Spike {
                tick: Tick(5),
                neuron: 9,
            },
            Spike {
                tick: Tick(1_000_001),
                neuron: 0,
            },
        ];
        for name in ["r.spk", "r.csv", "r.gdf"] {
            let path = dir.join(name);
            let mut rec = open_recording(&path, &header).unwrap();
            rec.record(&spikes[..1]).unwrap();
            rec.record(&spikes[1..]).unwrap();
            assert!(!path.exists(), "only the .tmp file exists while recording");
            assert_eq!(rec.finish().unwrap(), 2);
            let (info, back) = super::super::read_all(&path).unwrap();
            assert_eq!(back, spikes, "{name}");
            if name == "r.spk" {
                assert_eq!(info.channel_count, Some(10));
                assert_eq!(info.metadata["model"], "m");
                assert_eq!(info.metadata["seed"], "7");
                assert_eq!(info.metadata["duration_ms"], "1.500000");
                assert_eq!(info.metadata["spikeq_version"], env!("CARGO_PKG_VERSION"));
            }
        }
        let text = std::fs::read_to_string(dir.join("r.gdf")).unwrap();
        assert!(text.contains("# seed: 7\n"), "{text}");
        // A spike beyond the channel count stops the writer with an error naming the file.
        let path = dir.join("bad.spk");
        let mut rec = open_recording(&path, &header).unwrap();
        rec.record(&[Spike {
            tick: Tick(1),
            neuron: 10,
        }])
        .unwrap();
        let error = rec.finish().unwrap_err().to_string();
        assert!(
            error.contains("bad.spk") && error.contains("channel count 10"),
            "{error}"
        );
        assert!(!path.exists() && !dir.join("bad.spk.tmp").exists());
        let error = open_recording(&dir.join("x.bin"), &header).unwrap_err();
        assert!(error.to_string().contains("cannot record"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
