//! Encoding of the structured sections of `.spk` files (header metadata, chunk index).
//!
//! This is the only module that uses bincode, so that the serializer can be swapped (or
//! pinned differently) by changing one file; everything else calls [`encode`] and
//! [`decode_exact`]. The event payload of a chunk is *not* encoded here: it is hand-written
//! delta/varint coding in `spk`, because it is the hot path and its byte layout is part of the
//! documented format.
//!
//! The configuration is bincode 2's `config::standard()` (little-endian, variable-length
//! integers). Changing it changes the bytes on disk, so it requires a new `.spk` format version.

use bincode::config::{self, Config};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Upper bound on what one decode may claim to read. Callers already cap the slices they hand
/// in; this is a second fence so that a length prefix inside the encoded data can never make
/// bincode reserve more than this.
const DECODE_LIMIT_BYTES: usize = 64 << 20;

/// The one bincode configuration of the trace layer.
fn configuration() -> impl Config {
    config::standard().with_limit::<DECODE_LIMIT_BYTES>()
}

/// Why [`decode_exact`] failed; deliberately opaque so that no bincode type leaks out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodecError {
    /// The bytes are not a valid encoding of the requested type.
    Invalid,
    /// The value decoded, but bytes were left over after it.
    TrailingBytes,
}

/// Encodes `value` with the crate's bincode configuration.
///
/// Encoding plain serde data (strings, integers, vectors, maps) cannot fail; an error here
/// would mean a type with a failing `Serialize` impl was passed, which is a bug.
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    bincode::serde::encode_to_vec(value, configuration())
        .expect("trace codec: encoding plain serde data cannot fail")
}

/// Decodes a `T` that must occupy all of `bytes`.
pub(crate) fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, used) = bincode::serde::decode_from_slice::<T, _>(bytes, configuration())
        .map_err(|_| CodecError::Invalid)?;
    if used != bytes.len() {
        return Err(CodecError::TrailingBytes);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn round_trips_a_map() {
        let mut map = BTreeMap::new();
        map.insert("model".to_owned(), "brunel".to_owned());
        map.insert("seed".to_owned(), "42".to_owned());
        let bytes = encode(&map);
        let back: BTreeMap<String, String> = decode_exact(&bytes).unwrap();
        assert_eq!(back, map);
    }

    #[test]
    fn rejects_trailing_bytes_and_garbage() {
        let mut bytes = encode(&vec![1u32, 2, 3]);
        bytes.push(0);
        assert_eq!(
            decode_exact::<Vec<u32>>(&bytes),
            Err(CodecError::TrailingBytes)
        );
        // A vector claiming 2^60 elements in a 10-byte buffer must fail, not allocate.
        let huge_len = [0xFDu8, 0, 0, 0, 0, 0, 0, 0, 0x10];
        assert_eq!(
            decode_exact::<Vec<u64>>(&huge_len),
            Err(CodecError::Invalid)
        );
        // A string claiming more bytes than exist.
        assert_eq!(decode_exact::<String>(&[200]), Err(CodecError::Invalid));
    }
}
