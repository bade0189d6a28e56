//! Model files: a trained perceptron with its conversion scales, written with the crate's one
//! serde codec (bincode, behind [`crate::trace`]'s codec module) after a magic line and a
//! version, so a file from another program or another version is refused by name.

use super::LearnError;
use super::ann::{Mlp, TrainConfig};
use crate::trace::codec;
use std::path::Path;

/// First bytes of a model file.
pub const MAGIC: &[u8; 12] = b"spikeq-mlp\n\0";
/// Version of the encoding after the magic bytes.
pub const VERSION: u32 = 1;
/// Version of Diehl & Cook-based files (`learn stdp` and `learn rstdp` models): 2 since their
/// parameters hold the learning rate schedule and the lower end of the initial weights
/// (`nu_epoch_factor`, `w_init_min`); version 1 files are refused by version, not misread.
pub const DC_VERSION: u32 = 2;

/// The version written after `magic` and required when reading.
fn version_of(magic: &[u8; 12]) -> u32 {
    if magic == MAGIC_STDP || magic == MAGIC_RSTDP {
        DC_VERSION
    } else {
        VERSION
    }
}
/// Largest model file read \[bytes\].
pub const MAX_MODEL_BYTES: u64 = 64 << 20;

/// What a model file holds.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedModel {
    /// The trained perceptron.
    pub mlp: Mlp,
    /// Activation scale of each layer (the percentile of its positive activations on the
    /// training data), for weight normalisation.
    pub scales: Vec<f32>,
    /// The percentile the scales are.
    pub percentile: f64,
    /// How the perceptron was trained.
    pub train: TrainConfig,
    /// Training samples used.
    pub train_samples: usize,
}

impl SavedModel {
    /// Writes the model to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), LearnError> {
        let path = path.as_ref();
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&codec::encode(self));
        std::fs::write(path, bytes).map_err(|source| LearnError::Io {
            path: path.to_owned(),
            source,
        })
    }

    /// Reads a model written by [`SavedModel::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<SavedModel, LearnError> {
        let path = path.as_ref();
        let bad = |what: String| LearnError::BadModelFile {
            path: path.to_owned(),
            what,
        };
        let bytes = read_capped(path)?;
        let body = check_head(&bytes, MAGIC).map_err(bad)?;
        let model: SavedModel =
            codec::decode_exact(body).map_err(|e| bad(format!("corrupt model data ({e:?})")))?;
        model.check().map_err(bad)?;
        Ok(model)
    }

    /// Checks that the layer shapes chain and the weights and scales are usable.
    fn check(&self) -> Result<(), String> {
        let layers = &self.mlp.layers;
        if layers.is_empty() {
            return Err("the network has no layers".into());
        }
        for (k, l) in layers.iter().enumerate() {
            if l.inputs.checked_mul(l.outputs) != Some(l.weights.len()) {
                return Err(format!(
                    "layer {k}: {} weights for {} x {}",
                    l.weights.len(),
                    l.outputs,
                    l.inputs
                ));
            }
            if k > 0 && layers[k - 1].outputs != l.inputs {
                return Err(format!(
                    "layer {k} takes {} inputs, the layer before gives {}",
                    l.inputs,
                    layers[k - 1].outputs
                ));
            }
            if l.weights.iter().any(|w| !w.is_finite()) {
                return Err(format!("layer {k}: non-finite weight"));
            }
        }
        if self.scales.len() != layers.len()
            || self.scales.iter().any(|s| !(s.is_finite() && *s > 0.0))
        {
            return Err("scales must be one positive number per layer".into());
        }
        Ok(())
    }
}

/// First bytes of a Diehl & Cook (unsupervised STDP) model file.
pub const MAGIC_STDP: &[u8; 12] = b"spikeq-dc\n\0\0";

/// First bytes of an R-STDP readout model file (with its Diehl & Cook feature layer).
pub const MAGIC_RSTDP: &[u8; 12] = b"spikeq-rstdp";

/// Magic bytes of an EventProp network file.
pub const MAGIC_EVENTPROP: &[u8; 12] = b"spikeq-evprp";
/// First bytes of a time-to-first-spike model file (`learn ttfs --save`).
pub const MAGIC_TTFS: &[u8; 12] = b"spikeq-ttfs1";

/// An R-STDP readout with the feature layer it reads.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RstdpModel {
    /// The labelled Diehl & Cook layer.
    pub features: super::stdp::DcState,
    /// The decision layer.
    pub readout: super::rstdp::Readout,
}

/// Any model file `spikeq learn` writes, told apart by its magic bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum AnyModel {
    /// A perceptron for conversion (`learn convert --save`).
    Converted(SavedModel),
    /// A labelled Diehl & Cook network (`learn stdp --save`).
    Stdp(super::stdp::DcState),
    /// An R-STDP readout over a Diehl & Cook layer (`learn rstdp --save`).
    Rstdp(RstdpModel),
    /// A network trained with EventProp (`learn eventprop --save`).
    EventProp(super::eventprop::EventPropNet),
    /// A time-to-first-spike network trained with exact gradients (`learn ttfs --save`).
    Ttfs(super::ttfs::TtfsModel),
}

fn write_with_magic<T: serde::Serialize>(
    path: &Path,
    magic: &[u8; 12],
    value: &T,
) -> Result<(), LearnError> {
    let mut bytes = magic.to_vec();
    bytes.extend_from_slice(&version_of(magic).to_le_bytes());
    bytes.extend_from_slice(&codec::encode(value));
    std::fs::write(path, bytes).map_err(|source| LearnError::Io {
        path: path.to_owned(),
        source,
    })
}

impl AnyModel {
    /// Writes the model to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), LearnError> {
        match self {
            AnyModel::Converted(m) => m.save(path),
            AnyModel::Stdp(m) => write_with_magic(path.as_ref(), MAGIC_STDP, m),
            AnyModel::Rstdp(m) => write_with_magic(path.as_ref(), MAGIC_RSTDP, m),
            AnyModel::EventProp(m) => write_with_magic(path.as_ref(), MAGIC_EVENTPROP, m),
            AnyModel::Ttfs(m) => write_with_magic(path.as_ref(), MAGIC_TTFS, m),
        }
    }

    /// Reads any model file, checking its magic bytes, version and contents.
    pub fn load(path: impl AsRef<Path>) -> Result<AnyModel, LearnError> {
        use std::io::Read;
        let path = path.as_ref();
        let mut head = [0u8; 12];
        let n = std::fs::File::open(path)
            .and_then(|f| f.take(12).read(&mut head))
            .map_err(|source| LearnError::Io {
                path: path.to_owned(),
                source,
            })?;
        let bad = |what: String| LearnError::BadModelFile {
            path: path.to_owned(),
            what,
        };
        // The body of a file whose first 12 bytes are `magic`: size cap, version, codec.
        fn body<T: serde::de::DeserializeOwned>(
            path: &Path,
            magic: &[u8; 12],
            bad: &dyn Fn(String) -> LearnError,
        ) -> Result<T, LearnError> {
            let bytes = read_capped(path)?;
            let body = check_head(&bytes, magic).map_err(bad)?;
            codec::decode_exact(body).map_err(|e| bad(format!("corrupt model data ({e:?})")))
        }
        if n != 12 {
            return SavedModel::load(path).map(AnyModel::Converted);
        }
        if &head == MAGIC_STDP {
            let m: super::stdp::DcState = body(path, MAGIC_STDP, &bad)?;
            m.check().map_err(bad)?;
            return Ok(AnyModel::Stdp(m));
        }
        if &head == MAGIC_RSTDP {
            let m: RstdpModel = body(path, MAGIC_RSTDP, &bad)?;
            m.features.check().map_err(bad)?;
            m.readout.check().map_err(bad)?;
            if m.readout.features != m.features.params.neurons {
                return Err(bad("the readout does not fit its feature layer".into()));
            }
            return Ok(AnyModel::Rstdp(m));
        }
        if &head == MAGIC_EVENTPROP {
            let m: super::eventprop::EventPropNet = body(path, MAGIC_EVENTPROP, &bad)?;
            m.check().map_err(bad)?;
            return Ok(AnyModel::EventProp(m));
        }
        if &head == MAGIC_TTFS {
            let m: super::ttfs::TtfsModel = body(path, MAGIC_TTFS, &bad)?;
            m.check().map_err(bad)?;
            return Ok(AnyModel::Ttfs(m));
        }
        SavedModel::load(path).map(AnyModel::Converted)
    }
}

/// The bytes of `path`, refused above [`MAX_MODEL_BYTES`].
fn read_capped(path: &Path) -> Result<Vec<u8>, LearnError> {
    use std::io::Read;
    let io = |source| LearnError::Io {
        path: path.to_owned(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_MODEL_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(LearnError::BadModelFile {
            path: path.to_owned(),
            what: format!("larger than {MAX_MODEL_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

/// The encoded body after `magic` and a supported version.
fn check_head<'a>(bytes: &'a [u8], magic: &[u8; 12]) -> Result<&'a [u8], String> {
    let head = magic.len() + 4;
    if bytes.len() < head || &bytes[..magic.len()] != magic {
        return Err("not a spikeq model file (magic bytes differ)".into());
    }
    let version = u32::from_le_bytes(bytes[magic.len()..head].try_into().expect("4 bytes"));
    let expected = version_of(magic);
    if version != expected {
        return Err(format!(
            "model file version {version}, this spikeq reads version {expected}"
        ));
    }
    Ok(&bytes[head..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> SavedModel {
        SavedModel {
            mlp: Mlp::new(&[4, 3, 2], 5),
            scales: vec![1.5, 2.0],
            percentile: 99.9,
            train: TrainConfig::default(),
            train_samples: 10,
        }
    }

    #[test]
    fn round_trips_bit_for_bit_and_refuses_foreign_or_damaged_files() {
        let dir = std::env::temp_dir().join(format!("spikeq-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.mlp");
        let m = model();
        m.save(&path).unwrap();
        assert_eq!(SavedModel::load(&path).unwrap(), m);

        let bytes = std::fs::read(&path).unwrap();
        let damaged = dir.join("d.mlp");
        std::fs::write(&damaged, &bytes[..bytes.len() - 3]).unwrap();
        let e = SavedModel::load(&damaged).unwrap_err().to_string();
        assert!(e.contains("d.mlp") && e.contains("corrupt"), "{e}");

        let mut v2 = bytes.clone();
        v2[MAGIC.len()] = 2;
        std::fs::write(&damaged, &v2).unwrap();
        let e = SavedModel::load(&damaged).unwrap_err().to_string();
        assert!(e.contains("version 2"), "{e}");

        std::fs::write(&damaged, b"hello").unwrap();
        let e = SavedModel::load(&damaged).unwrap_err().to_string();
        assert!(e.contains("not a spikeq model file"), "{e}");

        let mut bad = m.clone();
        bad.scales = vec![1.0];
        bad.save(&damaged).unwrap();
        let e = SavedModel::load(&damaged).unwrap_err().to_string();
        assert!(e.contains("scales"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
