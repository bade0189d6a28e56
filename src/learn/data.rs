//! Data sets: IDX image files (MNIST, Fashion-MNIST, EMNIST), the Yin-Yang data set, N-MNIST
//! samples; validation splits and translated copies of images (data augmentation,
//! [`LabeledImages::with_shifted_copies`]) for training.
//!
//! IDX files are read whole (gzip or plain, told apart by their first two bytes), and every
//! length in a header is checked against the bytes actually present before anything is used:
//! nothing is allocated from a length read off a file.

use crate::Tick;
use crate::trace::TraceFileError;
use crate::trace::{ReadOptions, SensorGeometry, TraceFormat};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest IDX file accepted, after decompression: 1 GiB (all of EMNIST is below it).
/// It bounds what a gzip stream can expand to.
pub const MAX_IDX_BYTES: u64 = 1 << 30;

/// Why a data set could not be loaded. Fatal for that load; nothing is kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A gzip stream is corrupt or cut short.
    #[error("{}: gzip stream is corrupt or truncated: {source}", path.display())]
    Gzip {
        /// The file.
        path: PathBuf,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// The file (after decompression) is larger than [`MAX_IDX_BYTES`].
    #[error("{}: larger than {limit} bytes after decompression", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit \[bytes\].
        limit: u64,
    },
    /// No file in the directory has the expected name.
    #[error("{}: no file named `{name}` or `{name}.gz` (or ending in it)", dir.display())]
    Missing {
        /// The directory searched.
        dir: PathBuf,
        /// The standard name looked for.
        name: &'static str,
    },
    /// Several files end in the expected name.
    #[error("{}: several files end in `{name}`: {}", dir.display(), found.join(", "))]
    Ambiguous {
        /// The directory searched.
        dir: PathBuf,
        /// The standard name looked for.
        name: &'static str,
        /// The candidates.
        found: Vec<String>,
    },
    /// Fewer bytes than the 4-byte magic number and the dimensions it announces.
    #[error("{}: truncated header: {len} bytes", path.display())]
    TruncatedHeader {
        /// The file.
        path: PathBuf,
        /// Its length (after decompression) \[bytes\].
        len: u64,
    },
    /// The magic number is not `00 00 <dtype> <rank>`.
    #[error("{}: not an IDX file (magic bytes {magic:02x?}, expected 00 00 08 <rank>)", path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// The first four bytes.
        magic: [u8; 4],
    },
    /// An element type other than unsigned bytes (0x08).
    #[error("{}: element type 0x{code:02x} is not supported (only 0x08, unsigned byte)", path.display())]
    UnsupportedType {
        /// The file.
        path: PathBuf,
        /// The type code.
        code: u8,
    },
    /// A rank other than the one the file's role needs.
    #[error("{}: {found} dimensions, expected {expected}", path.display())]
    WrongRank {
        /// The file.
        path: PathBuf,
        /// What the role needs.
        expected: u8,
        /// What the header says.
        found: u8,
    },
    /// The dimensions do not match the length of the file.
    #[error("{}: dimensions {dims:?} need {expected} bytes after the header, the file has {actual}", path.display())]
    SizeMismatch {
        /// The file.
        path: PathBuf,
        /// Dimensions from the header.
        dims: Vec<u32>,
        /// Bytes the dimensions call for (saturated at `u64::MAX`).
        expected: u64,
        /// Bytes present after the header.
        actual: u64,
    },
    /// An images file and its labels file disagree on the number of items.
    #[error("{}: {images} images but {} has {labels} labels", images_path.display(), labels_path.display())]
    CountMismatch {
        /// The images file.
        images_path: PathBuf,
        /// Its item count.
        images: usize,
        /// The labels file.
        labels_path: PathBuf,
        /// Its item count.
        labels: usize,
    },
    /// A label outside `0..classes`.
    #[error("{}: label {label} at item {index} is out of range (at most {max})", path.display())]
    LabelOutOfRange {
        /// The labels file.
        path: PathBuf,
        /// Item index.
        index: usize,
        /// The label.
        label: u8,
        /// The largest label accepted.
        max: u8,
    },
    /// An event-camera recording could not be read.
    #[error(transparent)]
    Trace(#[from] TraceFileError),
}

/// An IDX array of unsigned bytes: its dimensions and its elements in row-major order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first.
    pub dims: Vec<u32>,
    /// `dims.product()` elements.
    pub data: Vec<u8>,
}

/// Reads a whole file (gzip-compressed if it starts with `1f 8b`), at most [`MAX_IDX_BYTES`]
/// after decompression.
fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut raw = Vec::new();
    file.take(MAX_IDX_BYTES + 1)
        .read_to_end(&mut raw)
        .map_err(io)?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .take(MAX_IDX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|source| DataError::Gzip {
                path: path.to_owned(),
                source,
            })?;
        out
    } else {
        raw
    };
    if bytes.len() as u64 > MAX_IDX_BYTES {
        return Err(DataError::TooLarge {
            path: path.to_owned(),
            limit: MAX_IDX_BYTES,
        });
    }
    Ok(bytes)
}

/// Parses IDX bytes read from `path` (named in errors only).
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray, DataError> {
    let p = || path.to_owned();
    if bytes.len() < 4 {
        return Err(DataError::TruncatedHeader {
            path: p(),
            len: bytes.len() as u64,
        });
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic[0] != 0 || magic[1] != 0 || magic[3] == 0 {
        return Err(DataError::BadMagic { path: p(), magic });
    }
    if magic[2] != 0x08 {
        return Err(DataError::UnsupportedType {
            path: p(),
            code: magic[2],
        });
    }
    let rank = magic[3] as usize;
    let header = 4 + 4 * rank;
    if bytes.len() < header {
        return Err(DataError::TruncatedHeader {
            path: p(),
            len: bytes.len() as u64,
        });
    }
    let dims: Vec<u32> = bytes[4..header]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let expected = dims
        .iter()
        .try_fold(1u64, |n, &d| n.checked_mul(d as u64))
        .unwrap_or(u64::MAX);
    let actual = (bytes.len() - header) as u64;
    if expected != actual {
        return Err(DataError::SizeMismatch {
            path: p(),
            dims,
            expected,
            actual,
        });
    }
    Ok(IdxArray {
        dims,
        data: bytes[header..].to_vec(),
    })
}

/// Reads an IDX file of unsigned bytes, gzip-compressed or plain.
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, DataError> {
    let path = path.as_ref();
    parse_idx(&read_maybe_gzip(path)?, path)
}

/// Images with their labels.
#[derive(Clone, Debug, PartialEq)]
pub struct LabeledImages {
    /// Pixel rows per image.
    pub rows: usize,
    /// Pixel columns per image.
    pub cols: usize,
    /// `len() * rows * cols` pixels, image after image, row-major.
    pub pixels: Vec<u8>,
    /// One label per image.
    pub labels: Vec<u8>,
}

impl LabeledImages {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image.
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.pixels_per_image();
        &self.pixels[i * n..(i + 1) * n]
    }

    /// Image `i` as intensities in `[0, 1]` (pixel / 255).
    pub fn intensities(&self, i: usize) -> Vec<f32> {
        self.image(i).iter().map(|&p| p as f32 / 255.0).collect()
    }

    /// The first `n` images (all if there are fewer).
    pub fn take(&self, n: usize) -> LabeledImages {
        let n = n.min(self.len());
        LabeledImages {
            rows: self.rows,
            cols: self.cols,
            pixels: self.pixels[..n * self.pixels_per_image()].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }

    /// Splits off the last `n` images (all if there are fewer): `(first, last)`. For a
    /// validation split that leaves the test part untouched.
    pub fn split_last(&self, n: usize) -> (LabeledImages, LabeledImages) {
        let keep = self.len() - n.min(self.len());
        let cut = keep * self.pixels_per_image();
        let part = |pixels: &[u8], labels: &[u8]| LabeledImages {
            rows: self.rows,
            cols: self.cols,
            pixels: pixels.to_vec(),
            labels: labels.to_vec(),
        };
        (
            part(&self.pixels[..cut], &self.labels[..keep]),
            part(&self.pixels[cut..], &self.labels[keep..]),
        )
    }

    /// Every image moved `dx` columns right and `dy` rows down (negative: left, up); what
    /// moves out of the frame is lost, what comes in is 0.
    pub fn shifted(&self, dx: i32, dy: i32) -> LabeledImages {
        let (rows, cols) = (self.rows as i64, self.cols as i64);
        let mut pixels = vec![0u8; self.pixels.len()];
        let n = self.pixels_per_image();
        for (src, dst) in self.pixels.chunks(n).zip(pixels.chunks_mut(n)) {
            for r in 0..rows {
                let to_r = r + dy as i64;
                if !(0..rows).contains(&to_r) {
                    continue;
                }
                for c in 0..cols {
                    let to_c = c + dx as i64;
                    if (0..cols).contains(&to_c) {
                        dst[(to_r * cols + to_c) as usize] = src[(r * cols + c) as usize];
                    }
                }
            }
        }
        LabeledImages {
            rows: self.rows,
            cols: self.cols,
            pixels,
            labels: self.labels.clone(),
        }
    }

    /// Data augmentation by translation: the images themselves, then their copies moved by
    /// every `(dx, dy)` with `|dx|, |dy| <= max_shift` other than `(0, 0)`, shift after shift
    /// (`(2·max_shift + 1)²` times as many images). Digits stay digits when moved a pixel or
    /// two, so the copies are new training samples for free.
    pub fn with_shifted_copies(&self, max_shift: u32) -> LabeledImages {
        let m = max_shift as i32;
        let mut out = self.clone();
        for dy in -m..=m {
            for dx in -m..=m {
                if (dx, dy) != (0, 0) {
                    let s = self.shifted(dx, dy);
                    out.pixels.extend_from_slice(&s.pixels);
                    out.labels.extend_from_slice(&s.labels);
                }
            }
        }
        out
    }

    /// Number of classes: one more than the largest label (0 when empty).
    pub fn num_classes(&self) -> usize {
        self.labels
            .iter()
            .map(|&l| l as usize + 1)
            .max()
            .unwrap_or(0)
    }
}

/// Samples per image after [`LabeledImages::with_shifted_copies`]: `(2·max_shift + 1)²`.
pub fn shifted_samples_per_image(max_shift: u32) -> usize {
    (2 * max_shift as usize + 1).pow(2)
}

/// A training and a test part.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxDataset {
    /// `train-images-idx3-ubyte` with `train-labels-idx1-ubyte`.
    pub train: LabeledImages,
    /// `t10k-images-idx3-ubyte` with `t10k-labels-idx1-ubyte`.
    pub test: LabeledImages,
}

/// The largest label accepted: EMNIST "byclass" has 62 classes.
pub const MAX_LABEL: u8 = 61;

/// Finds the file in `dir` named `name` or `name.gz`, or ending in either (EMNIST prefixes its
/// files, e.g. `emnist-digits-train-images-idx3-ubyte`).
fn find_file(dir: &Path, name: &'static str) -> Result<PathBuf, DataError> {
    for exact in [name.to_string(), format!("{name}.gz")] {
        let p = dir.join(&exact);
        if p.is_file() {
            return Ok(p);
        }
    }
    let entries = std::fs::read_dir(dir).map_err(|source| DataError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let gz = format!("{name}.gz");
    let mut found: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|f| f.ends_with(name) || f.ends_with(&gz))
        .collect();
    found.sort();
    match found.len() {
        0 => Err(DataError::Missing {
            dir: dir.to_owned(),
            name,
        }),
        1 => Ok(dir.join(&found[0])),
        _ => Err(DataError::Ambiguous {
            dir: dir.to_owned(),
            name,
            found,
        }),
    }
}

/// Loads one part from its images and labels files.
pub fn load_labeled(images: &Path, labels: &Path) -> Result<LabeledImages, DataError> {
    let im = read_idx(images)?;
    if im.dims.len() != 3 {
        return Err(DataError::WrongRank {
            path: images.to_owned(),
            expected: 3,
            found: im.dims.len() as u8,
        });
    }
    let lb = read_idx(labels)?;
    if lb.dims.len() != 1 {
        return Err(DataError::WrongRank {
            path: labels.to_owned(),
            expected: 1,
            found: lb.dims.len() as u8,
        });
    }
    if im.dims[0] != lb.dims[0] {
        return Err(DataError::CountMismatch {
            images_path: images.to_owned(),
            images: im.dims[0] as usize,
            labels_path: labels.to_owned(),
            labels: lb.dims[0] as usize,
        });
    }
    if let Some((index, &label)) = lb.data.iter().enumerate().find(|(_, l)| **l > MAX_LABEL) {
        return Err(DataError::LabelOutOfRange {
            path: labels.to_owned(),
            index,
            label,
            max: MAX_LABEL,
        });
    }
    Ok(LabeledImages {
        rows: im.dims[1] as usize,
        cols: im.dims[2] as usize,
        pixels: im.data,
        labels: lb.data,
    })
}

/// Loads an IDX directory with the standard file names (`train-images-idx3-ubyte`,
/// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each
/// optionally `.gz`, optionally with a prefix as in EMNIST). EMNIST images are stored
/// transposed; they are returned as stored.
pub fn load_idx_dir(dir: impl AsRef<Path>) -> Result<IdxDataset, DataError> {
    let dir = dir.as_ref();
    let part = |images, labels| -> Result<LabeledImages, DataError> {
        load_labeled(&find_file(dir, images)?, &find_file(dir, labels)?)
    };
    Ok(IdxDataset {
        train: part("train-images-idx3-ubyte", "train-labels-idx1-ubyte")?,
        test: part("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?,
    })
}

/// The Yin-Yang data set (Kriener, Göltz & Petrovici 2021): points `(x, y, 1 - x, 1 - y)` in
/// the unit square, three classes (two interlocked halves 0 and 1, and 2 for the dots; see
/// [`yin_yang_class`]).
#[derive(Clone, Debug, PartialEq)]
pub struct YinYang {
    /// One `[x, y, 1 - x, 1 - y]` per sample.
    pub samples: Vec<[f64; 4]>,
    /// One class per sample.
    pub labels: Vec<u8>,
}

/// Seeds of the published sets (train, validation, test) in the reference implementation.
pub const YIN_YANG_SEEDS: [u32; 3] = [42, 41, 40];
/// Sizes of the published sets (train, validation, test).
pub const YIN_YANG_SIZES: [usize; 3] = [5000, 1000, 1000];

/// numpy's legacy `RandomState`: MT19937 seeded with `init_genrand`, and its conversions.
struct NumpyLegacy(rand_mt::Mt);

impl NumpyLegacy {
    fn new(seed: u32) -> Self {
        NumpyLegacy(rand_mt::Mt::new(seed))
    }

    /// `random_sample()`: 53 random bits from two draws, in `[0, 1)`.
    fn uniform(&mut self) -> f64 {
        let a = (self.0.next_u32() >> 5) as f64;
        let b = (self.0.next_u32() >> 6) as f64;
        (a * 67108864.0 + b) / 9007199254740992.0
    }

    /// `randint(n)` for `n ≤ 2^32`: masked rejection sampling on 32-bit draws.
    fn below(&mut self, n: u32) -> u32 {
        let max = n - 1;
        let mask = u32::MAX >> max.leading_zeros().min(31);
        loop {
            let v = self.0.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }
}

/// The class of point `(x, y)` of a Yin-Yang sign with radii `r_small`, `r_big`, as the
/// published files label it: 2 inside either dot (closer than `r_small` to `(r_big/2, r_big)`
/// or `(3 r_big/2, r_big)`); else 1 if `d_right ≤ r_small`, or `r_small < d_left ≤ r_big/2`,
/// or (`y > r_big` and `d_right > r_big/2`); else 0. (The region labelled 1 is the one the
/// reference code calls "yin" while its class names list "yin" first: the files, not the
/// names, are the reference.)
pub fn yin_yang_class(x: f64, y: f64, r_small: f64, r_big: f64) -> u8 {
    let d_right = ((x - 1.5 * r_big).powi(2) + (y - r_big).powi(2)).sqrt();
    let d_left = ((x - 0.5 * r_big).powi(2) + (y - r_big).powi(2)).sqrt();
    if d_right < r_small || d_left < r_small {
        return 2;
    }
    let upper = d_right <= r_small
        || (d_left > r_small && d_left <= 0.5 * r_big)
        || (y > r_big && d_right > 0.5 * r_big);
    upper as u8
}

/// Generates `size` Yin-Yang samples with radii 0.1 and 0.5 exactly as the reference
/// implementation does with numpy's `RandomState(seed)`: the published sets are
/// `yin_yang(5000, 42)` (train), `yin_yang(1000, 41)` (validation), `yin_yang(1000, 40)`
/// (test), bit for bit.
pub fn yin_yang(size: usize, seed: u32) -> YinYang {
    yin_yang_with_radii(size, seed, 0.1, 0.5)
}

/// [`yin_yang`] with other radii. Per sample: a goal class uniformly from 3, then points
/// `(x, y)` (x drawn first) uniform in `[0, 2 r_big)²` until one lies in the big circle and
/// has the goal class.
pub fn yin_yang_with_radii(size: usize, seed: u32, r_small: f64, r_big: f64) -> YinYang {
    let mut rng = NumpyLegacy::new(seed);
    let mut samples = Vec::with_capacity(size);
    let mut labels = Vec::with_capacity(size);
    for _ in 0..size {
        let goal = rng.below(3) as u8;
        loop {
            let x = rng.uniform() * 2.0 * r_big;
            let y = rng.uniform() * 2.0 * r_big;
            if ((x - r_big).powi(2) + (y - r_big).powi(2)).sqrt() > r_big {
                continue;
            }
            if yin_yang_class(x, y, r_small, r_big) == goal {
                samples.push([x, y, 1.0 - x, 1.0 - y]);
                labels.push(goal);
                break;
            }
        }
    }
    YinYang { samples, labels }
}

/// Reads one N-MNIST recording (5-byte events, 34 × 34 sensor) as one spike train per
/// channel (2 × 34 × 34 = 2,312 channels: OFF pixels row by row, then ON pixels; see the
/// trace module), in ticks of 1 ns.
pub fn load_nmnist_sample(path: impl AsRef<Path>) -> Result<Vec<Vec<Tick>>, DataError> {
    let geometry = SensorGeometry::NMNIST;
    let options = ReadOptions {
        format: Some(TraceFormat::NMnist),
        geometry: Some(geometry),
    };
    let (_, spikes) = crate::trace::read_all_with(path, &options)?;
    let mut trains = vec![Vec::new(); geometry.channel_count() as usize];
    for s in spikes {
        if let Some(train) = trains.get_mut(s.neuron as usize) {
            // Spikes come sorted by (tick, neuron); one spike per channel and tick.
            if train.last() != Some(&s.tick) {
                train.push(s.tick);
            }
        }
    }
    Ok(trains)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = vec![0, 0, 8, dims.len() as u8];
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    fn two_images() -> LabeledImages {
        // 3 rows x 4 columns, pixel value = 10 * row + column + 1 (+100 for the second).
        let mut pixels = Vec::new();
        for k in 0..2u8 {
            for r in 0..3u8 {
                for c in 0..4u8 {
                    pixels.push(100 * k + 10 * r + c + 1);
                }
            }
        }
        LabeledImages {
            rows: 3,
            cols: 4,
            pixels,
            labels: vec![7, 2],
        }
    }

    #[test]
    fn a_shift_moves_each_pixel_and_fills_with_zero() {
        let im = two_images();
        for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -2), (2, -1), (-4, 0), (0, 3)] {
            let s = im.shifted(dx, dy);
            assert_eq!(s.labels, im.labels);
            for k in 0..2 {
                for r in 0..3i32 {
                    for c in 0..4i32 {
                        let (from_r, from_c) = (r - dy, c - dx);
                        let want = if (0..3).contains(&from_r) && (0..4).contains(&from_c) {
                            im.image(k)[(from_r * 4 + from_c) as usize]
                        } else {
                            0
                        };
                        assert_eq!(s.image(k)[(r * 4 + c) as usize], want, "{dx},{dy} {k}");
                    }
                }
            }
        }
        assert_eq!(im.shifted(0, 0), im);
    }

    #[test]
    fn shifted_copies_follow_the_originals() {
        let im = two_images();
        let a = im.with_shifted_copies(1);
        assert_eq!(a.len(), 9 * im.len());
        assert_eq!(shifted_samples_per_image(1), 9);
        assert_eq!(im.with_shifted_copies(2).len(), 25 * im.len());
        assert_eq!(shifted_samples_per_image(2), 25);
        assert_eq!(a.take(2), im);
        // The copies come shift after shift, dy outer, dx inner, (0, 0) left out.
        let third = LabeledImages {
            pixels: a.pixels[4 * 12..6 * 12].to_vec(),
            labels: a.labels[4..6].to_vec(),
            ..im.clone()
        };
        assert_eq!(third, im.shifted(0, -1));
        assert_eq!(im.with_shifted_copies(0), im);
    }

    #[test]
    fn split_last_keeps_every_image_once() {
        let im = two_images();
        let (first, last) = im.split_last(1);
        assert_eq!(first.labels, vec![7]);
        assert_eq!(last.labels, vec![2]);
        assert_eq!(first.image(0), im.image(0));
        assert_eq!(last.image(0), im.image(1));
        let (none, all) = im.split_last(5);
        assert!(none.is_empty());
        assert_eq!(all, im);
    }

    #[test]
    fn parses_a_small_array() {
        let a = parse_idx(&idx(&[2, 3], &[1, 2, 3, 4, 5, 6]), Path::new("a")).unwrap();
        assert_eq!(a.dims, vec![2, 3]);
        assert_eq!(a.data, vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn huge_dimensions_are_refused_without_allocating() {
        let e = parse_idx(
            &idx(&[u32::MAX, u32::MAX, u32::MAX], &[0; 8]),
            Path::new("h"),
        );
        match e {
            Err(DataError::SizeMismatch {
                expected, actual, ..
            }) => {
                assert_eq!(expected, u64::MAX);
                assert_eq!(actual, 8);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn numpy_randint_uses_the_smallest_mask() {
        // Draws below 3 are masked with 3 and redrawn at 3: every value in 0..3 occurs and
        // nothing else, and the stream stays in step with plain 32-bit draws.
        let mut a = NumpyLegacy::new(5);
        let mut b = rand_mt::Mt::new(5);
        for _ in 0..1000 {
            let v = a.below(3);
            let mut w = b.next_u32() & 3;
            while w > 2 {
                w = b.next_u32() & 3;
            }
            assert_eq!(v, w);
        }
    }

    #[test]
    fn a_shorter_yin_yang_set_is_the_start_of_the_longer_one() {
        let (short, long) = (yin_yang(10, 42), yin_yang(50, 42));
        assert_eq!(short.samples, long.samples[..10]);
        assert_eq!(short.labels, long.labels[..10]);
    }

    #[test]
    fn classes_of_landmarks() {
        // The centres of the two dots, the top (class 1) and the bottom (class 0) of the sign,
        // and points beside each dot, which belong to the other half.
        assert_eq!(yin_yang_class(0.75, 0.5, 0.1, 0.5), 2);
        assert_eq!(yin_yang_class(0.25, 0.5, 0.1, 0.5), 2);
        assert_eq!(yin_yang_class(0.5, 0.95, 0.1, 0.5), 1);
        assert_eq!(yin_yang_class(0.5, 0.05, 0.1, 0.5), 0);
        assert_eq!(yin_yang_class(0.25, 0.35, 0.1, 0.5), 1);
        assert_eq!(yin_yang_class(0.75, 0.65, 0.1, 0.5), 0);
    }
}
