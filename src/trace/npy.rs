//! NumPy `.npy` structured event arrays, as the `tonic` library stores event-camera data.
//!
//! The array must be one-dimensional with a structured dtype holding at least the integer
//! fields `x`, `y`, `t` (microseconds) and `p` (polarity: 1 = ON; 0 or -1 = OFF); other fields
//! are skipped. Accepted field types: little-endian (or single-byte) signed or unsigned
//! integers of 1, 2, 4 or 8 bytes, and `bool` for `p`. The header (a Python dict literal) is
//! parsed here, not evaluated; what this reader cannot take (big-endian or floating-point
//! fields, sub-arrays, padded dtypes given as a dict, multi-dimensional shapes) is refused with
//! [`TraceFileError::NpyUnsupported`] naming the header text at fault.
//!
//! Pixels map to channels through a [`SensorGeometry`].

use std::io::{Read, Write};

use super::error::excerpt;
use super::{Pixel, SensorGeometry, TraceFileError, TraceFormat};
use crate::{Spike, Tick};

/// Largest header accepted, in bytes (NumPy's own default limit is 10,000).
pub const MAX_HEADER_BYTES: usize = 64 << 10;
/// Largest record (one array element) accepted, in bytes.
pub const MAX_ITEM_BYTES: usize = 1 << 16;
const MAGIC: &[u8] = b"\x93NUMPY";
const NS_PER_US: i128 = 1_000;
/// Deepest nesting of brackets accepted in the header.
const MAX_LITERAL_DEPTH: u32 = 16;

/// Reads every event as a spike, in file order.
pub fn read<R: Read>(mut input: R, geometry: SensorGeometry) -> Result<Vec<Spike>, TraceFileError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    parse(&bytes, geometry)
}

/// Decodes a whole file's bytes.
pub fn parse(bytes: &[u8], geometry: SensorGeometry) -> Result<Vec<Spike>, TraceFileError> {
    let layout = parse_header(bytes)?;
    let item = layout.item_size;
    let data = &bytes[layout.data_start..];
    let records = data.chunks_exact(item);
    let available = records.len() as u64;
    if available < layout.len {
        return Err(truncated(
            (layout.data_start + records.len() * item) as u64,
            "file ends before the last array element",
        ));
    }
    if available > layout.len || !records.remainder().is_empty() {
        return Err(malformed(
            layout.data_start as u64 + layout.len * item as u64,
            "bytes after the last array element",
        ));
    }
    let mut spikes = Vec::with_capacity(records.len());
    for (number, record) in records.enumerate() {
        let offset = (layout.data_start + number * item) as u64;
        let x = layout.x.read(record);
        let y = layout.y.read(record);
        let on = match layout.p.read(record) {
            1 => true,
            0 | -1 => false,
            _ => return Err(malformed(offset, "polarity p is not 0, 1 or -1")),
        };
        let pixel = match (u32::try_from(x), u32::try_from(y)) {
            (Ok(x), Ok(y)) => geometry.channel(Pixel { x, y, on }),
            _ => None,
        };
        let Some(channel) = pixel else {
            return Err(TraceFileError::PixelOutOfRange {
                format: TraceFormat::Npy,
                offset,
                x,
                y,
                width: geometry.width(),
                height: geometry.height(),
            });
        };
        let tick = i64::try_from(layout.t.read(record) * NS_PER_US)
            .map_err(|_| malformed(offset, "timestamp t does not fit in 64-bit nanoseconds"))?;
        spikes.push(Spike {
            tick: Tick(tick),
            neuron: channel,
        });
    }
    Ok(spikes)
}

/// Writes spikes as a tonic-style event array: fields `x`, `y`, `t` (µs), `p`, each a
/// little-endian `int64` (NumPy's `int` on Linux, the dtype tonic builds), in the given order.
/// Each spike must be on a channel of `geometry`, at a whole number of microseconds.
pub fn write<W: Write>(
    mut output: W,
    spikes: &[Spike],
    geometry: SensorGeometry,
) -> Result<(), TraceFileError> {
    let mut header = format!(
        "{{'descr': [('x', '<i8'), ('y', '<i8'), ('t', '<i8'), ('p', '<i8')], \
         'fortran_order': False, 'shape': ({},), }}",
        spikes.len()
    );
    // NumPy pads the header with spaces and a newline so the data starts 64-byte aligned.
    let preamble = MAGIC.len() + 2 + 2;
    while !(preamble + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = Vec::with_capacity(preamble + header.len() + spikes.len().min(1 << 11) * 32);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    // At most a few hundred bytes: fits the version-1.0 u16 length.
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for (index, &spike) in spikes.iter().enumerate() {
        let refuse = |what| TraceFileError::NotRepresentable {
            format: TraceFormat::Npy,
            index: index as u64,
            spike,
            what,
        };
        let pixel = geometry
            .pixel(spike.neuron)
            .ok_or_else(|| refuse("neuron id is not a channel of the sensor geometry"))?;
        if i128::from(spike.tick.0) % NS_PER_US != 0 {
            return Err(refuse("time is not a whole number of microseconds"));
        }
        let micros = spike.tick.0 / NS_PER_US as i64;
        for value in [
            i64::from(pixel.x),
            i64::from(pixel.y),
            micros,
            i64::from(pixel.on),
        ] {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        if bytes.len() >= 64 << 10 {
            output.write_all(&bytes)?;
            bytes.clear();
        }
    }
    output.write_all(&bytes)?;
    output.flush()?;
    Ok(())
}

/// Where the event fields sit in each record.
#[derive(Debug)]
struct Layout {
    data_start: usize,
    item_size: usize,
    len: u64,
    x: Field,
    y: Field,
    t: Field,
    p: Field,
}

/// An integer field: its offset in the record and its type.
#[derive(Debug, Clone, Copy)]
struct Field {
    offset: usize,
    kind: IntKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntKind {
    Bool,
    Signed(usize),
    Unsigned(usize),
}

impl IntKind {
    fn size(self) -> usize {
        match self {
            IntKind::Bool => 1,
            IntKind::Signed(size) | IntKind::Unsigned(size) => size,
        }
    }
}

impl Field {
    /// Reads the field from a record (whose length is the item size, which covers the field).
    fn read(self, record: &[u8]) -> i128 {
        let size = self.kind.size();
        let mut raw = [0u8; 8];
        raw[..size].copy_from_slice(&record[self.offset..self.offset + size]);
        let unsigned = u64::from_le_bytes(raw);
        match self.kind {
            IntKind::Bool => i128::from(unsigned != 0),
            IntKind::Unsigned(_) => i128::from(unsigned),
            IntKind::Signed(size) => {
                // Sign-extend from `size` bytes.
                let shift = 64 - 8 * size as u32;
                i128::from(((unsigned << shift) as i64) >> shift)
            }
        }
    }
}

fn malformed(offset: u64, what: &'static str) -> TraceFileError {
    TraceFileError::Malformed {
        format: TraceFormat::Npy,
        offset,
        what,
    }
}

fn truncated(offset: u64, what: &'static str) -> TraceFileError {
    TraceFileError::Truncated {
        format: TraceFormat::Npy,
        offset,
        what,
    }
}

fn unsupported(offset: u64, what: &'static str, found: &str) -> TraceFileError {
    TraceFileError::NpyUnsupported {
        offset,
        what,
        found: excerpt(found),
    }
}

fn parse_header(bytes: &[u8]) -> Result<Layout, TraceFileError> {
    let found = &bytes[..bytes.len().min(MAGIC.len())];
    if found != &MAGIC[..found.len()] {
        return Err(TraceFileError::BadMagic {
            format: TraceFormat::Npy,
            offset: 0,
            found: found.to_vec(),
        });
    }
    if bytes.len() < MAGIC.len() + 2 {
        return Err(truncated(0, "file ends inside the magic and version"));
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let length_bytes = match major {
        1 => 2,
        2 | 3 => 4,
        _ => {
            return Err(TraceFileError::UnsupportedVersion {
                format: TraceFormat::Npy,
                offset: 6,
                found: format!("{major}.{minor}"),
                supported: "1.x, 2.x, 3.x",
            });
        }
    };
    let header_start = 8 + length_bytes;
    let Some(length_field) = bytes.get(8..header_start) else {
        return Err(truncated(8, "file ends inside the header length"));
    };
    let mut raw = [0u8; 4];
    raw[..length_bytes].copy_from_slice(length_field);
    let header_len = u32::from_le_bytes(raw) as usize;
    if header_len > MAX_HEADER_BYTES {
        return Err(TraceFileError::LengthTooLarge {
            format: TraceFormat::Npy,
            offset: 8,
            what: "header length",
            claimed: header_len as u64,
            max: MAX_HEADER_BYTES as u64,
        });
    }
    let data_start = header_start + header_len;
    let Some(header) = bytes.get(header_start..data_start) else {
        return Err(truncated(
            header_start as u64,
            "file ends inside the header",
        ));
    };
    let mut parser = LiteralParser {
        text: header,
        pos: 0,
        depth: 0,
    };
    let at = |pos: usize| (header_start + pos) as u64;
    let dict = parser
        .value()
        .map_err(|(pos, what)| malformed(at(pos), what))?;
    parser.skip_space();
    if parser.pos != header.len() {
        return Err(malformed(at(parser.pos), "text after the header dict"));
    }
    let PyValue::Dict(entries) = dict else {
        return Err(malformed(at(0), "header is not a dict"));
    };
    let entry = |key: &str| {
        entries
            .iter()
            .find(|(k, _)| matches!(k, PyValue::Str(s) if s == key))
            .map(|(_, v)| v)
            .ok_or_else(|| {
                malformed(
                    at(0),
                    "header lacks one of 'descr', 'fortran_order', 'shape'",
                )
            })
    };
    let header_text = String::from_utf8_lossy(header);
    let header_text = header_text.trim_end();

    // fortran_order only matters for more than one dimension, which is refused below.
    if !matches!(entry("fortran_order")?, PyValue::Bool) {
        return Err(malformed(at(0), "'fortran_order' is not True or False"));
    }
    let len = match entry("shape")? {
        PyValue::Tuple(dims) => match dims.as_slice() {
            [PyValue::Int(n)] => u64::try_from(*n)
                .map_err(|_| malformed(at(0), "'shape' holds a negative length"))?,
            _ => {
                return Err(unsupported(
                    at(0),
                    "array is not one-dimensional",
                    header_text,
                ));
            }
        },
        _ => return Err(malformed(at(0), "'shape' is not a tuple")),
    };

    let PyValue::List(fields) = entry("descr")? else {
        return Err(unsupported(
            at(0),
            "dtype is not a list of fields (expected a structured array with x, y, t, p)",
            header_text,
        ));
    };
    let mut item_size = 0usize;
    let mut event_fields: [Option<Field>; 4] = [None; 4];
    for field in fields {
        let PyValue::Tuple(parts) = field else {
            return Err(malformed(at(0), "a 'descr' entry is not a tuple"));
        };
        let (name, typestr) = match parts.as_slice() {
            [PyValue::Str(name), PyValue::Str(typestr)] => (name, typestr),
            [PyValue::Str(_), PyValue::List(_)] => {
                return Err(unsupported(at(0), "nested structured fields", header_text));
            }
            [PyValue::Str(_), _, _] => {
                return Err(unsupported(at(0), "sub-array fields", header_text));
            }
            _ => return Err(unsupported(at(0), "field description", header_text)),
        };
        let size = typestr_size(typestr)
            .ok_or_else(|| unsupported(at(0), "field type this reader cannot size", typestr))?;
        let slot = ["x", "y", "t", "p"].iter().position(|&n| n == name);
        if let Some(slot) = slot {
            if event_fields[slot].is_some() {
                return Err(malformed(at(0), "duplicate field name"));
            }
            let kind =
                int_kind(typestr, name == "p").map_err(|what| unsupported(at(0), what, typestr))?;
            event_fields[slot] = Some(Field {
                offset: item_size,
                kind,
            });
        }
        item_size = item_size
            .checked_add(size)
            .filter(|&size| size <= MAX_ITEM_BYTES)
            .ok_or_else(|| unsupported(at(0), "record larger than 64 KiB", header_text))?;
    }
    let [Some(x), Some(y), Some(t), Some(p)] = event_fields else {
        return Err(unsupported(
            at(0),
            "dtype lacks one of the fields x, y, t, p",
            header_text,
        ));
    };
    Ok(Layout {
        data_start,
        item_size,
        len,
        x,
        y,
        t,
        p,
    })
}

/// The size in bytes of a NumPy type string such as `<i8`, `|b1`, `<U10` or `<M8\[us\]`.
fn typestr_size(typestr: &str) -> Option<usize> {
    let body = typestr
        .strip_prefix(['<', '>', '|', '='])
        .unwrap_or(typestr);
    let mut chars = body.chars();
    let kind = chars.next()?;
    let rest = chars.as_str();
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (digits, suffix) = rest.split_at(digits_end);
    let count: usize = digits.parse().ok()?;
    let unit_ok = suffix.is_empty() || (matches!(kind, 'M' | 'm') && suffix.starts_with('['));
    if !unit_ok {
        return None;
    }
    match kind {
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'V' | 'M' | 'm' => Some(count),
        'U' => count.checked_mul(4),
        _ => None,
    }
}

/// The integer type of an event field, or why it is not one this reader takes.
fn int_kind(typestr: &str, is_polarity: bool) -> Result<IntKind, &'static str> {
    let (order, body) = typestr.split_at(typestr.len().min(1));
    let kind = match body {
        "b1" if is_polarity => IntKind::Bool,
        "i1" => IntKind::Signed(1),
        "u1" => IntKind::Unsigned(1),
        "i2" => IntKind::Signed(2),
        "u2" => IntKind::Unsigned(2),
        "i4" => IntKind::Signed(4),
        "u4" => IntKind::Unsigned(4),
        "i8" => IntKind::Signed(8),
        "u8" => IntKind::Unsigned(8),
        _ => return Err("event field x, y, t or p is not an integer (or bool for p)"),
    };
    match (order, kind.size()) {
        ("<", _) | ("|", 1) => Ok(kind),
        (">", _) => Err("big-endian event field"),
        _ => Err("event field with an unknown byte-order mark"),
    }
}

/// The subset of Python literals a `.npy` header uses.
#[derive(Debug)]
enum PyValue {
    Str(String),
    Int(i128),
    /// `True` or `False`; which one is never needed (`fortran_order` is moot in one dimension).
    Bool,
    None,
    Tuple(Vec<PyValue>),
    List(Vec<PyValue>),
    Dict(Vec<(PyValue, PyValue)>),
}

/// A recursive-descent parser for [`PyValue`]s; errors carry the position in the header.
struct LiteralParser<'a> {
    text: &'a [u8],
    pos: usize,
    depth: u32,
}

type LiteralResult<T> = Result<T, (usize, &'static str)>;

impl LiteralParser<'_> {
    fn skip_space(&mut self) {
        while self.text.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn fail<T>(&self, what: &'static str) -> LiteralResult<T> {
        Err((self.pos, what))
    }

    fn value(&mut self) -> LiteralResult<PyValue> {
        self.skip_space();
        match self.text.get(self.pos) {
            Some(b'\'' | b'"') => self.string().map(PyValue::Str),
            Some(b'(') => self.sequence(b')').map(PyValue::Tuple),
            Some(b'[') => self.sequence(b']').map(PyValue::List),
            Some(b'{') => self.dict(),
            Some(b'-' | b'0'..=b'9') => self.integer(),
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .text
                    .get(self.pos)
                    .is_some_and(u8::is_ascii_alphanumeric)
                {
                    self.pos += 1;
                }
                match &self.text[start..self.pos] {
                    b"True" | b"False" => Ok(PyValue::Bool),
                    b"None" => Ok(PyValue::None),
                    // Python 2 byte strings (b'x') read like strings.
                    b"b" if matches!(self.text.get(self.pos), Some(b'\'' | b'"')) => {
                        self.string().map(PyValue::Str)
                    }
                    _ => Err((start, "unknown name in the header")),
                }
            }
            Some(_) => self.fail("unexpected character in the header"),
            None => self.fail("header ends where a value was expected"),
        }
    }

    fn enter(&mut self) -> LiteralResult<()> {
        self.depth += 1;
        if self.depth > MAX_LITERAL_DEPTH {
            return self.fail("header nests too deeply");
        }
        Ok(())
    }

    fn string(&mut self) -> LiteralResult<String> {
        let quote = self.text[self.pos];
        self.pos += 1;
        let mut value = Vec::new();
        loop {
            match self.text.get(self.pos) {
                None => return self.fail("header ends inside a string"),
                Some(&c) if c == quote => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => {
                    // Keep the escaped character itself: enough for quotes and backslashes,
                    // the only escapes a field name would plausibly need.
                    let Some(&escaped) = self.text.get(self.pos + 1) else {
                        return self.fail("header ends inside a string");
                    };
                    value.push(escaped);
                    self.pos += 2;
                }
                Some(&c) => {
                    value.push(c);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(value).or_else(|_| self.fail("string in the header is not UTF-8"))
    }

    fn integer(&mut self) -> LiteralResult<PyValue> {
        let start = self.pos;
        if self.text[self.pos] == b'-' {
            self.pos += 1;
        }
        let digits_start = self.pos;
        while self.text.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        let digits = &self.text[digits_start..self.pos];
        if digits.is_empty() || digits.len() > 30 {
            return Err((start, "integer in the header has no digits or too many"));
        }
        // Python 2 long suffix, as in `(10L,)`.
        if self.text.get(self.pos) == Some(&b'L') {
            self.pos += 1;
        }
        // ASCII digits only, at most 30 of them: parses.
        let text = std::str::from_utf8(&self.text[start..digits_start + digits.len()])
            .map_err(|_| (start, "integer in the header is not text"))?;
        text.parse()
            .map(PyValue::Int)
            .map_err(|_| (start, "integer in the header does not parse"))
    }

    /// Items up to `close`, separated by commas, with an optional trailing comma.
    fn sequence(&mut self, close: u8) -> LiteralResult<Vec<PyValue>> {
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.text.get(self.pos) == Some(&close) {
                self.pos += 1;
                break;
            }
            items.push(self.value()?);
            self.skip_space();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(&c) if c == close => {}
                _ => return self.fail("expected ',' or a closing bracket in the header"),
            }
        }
        self.depth -= 1;
        Ok(items)
    }

    fn dict(&mut self) -> LiteralResult<PyValue> {
        self.enter()?;
        self.pos += 1;
        let mut entries = Vec::new();
        loop {
            self.skip_space();
            if self.text.get(self.pos) == Some(&b'}') {
                self.pos += 1;
                break;
            }
            let key = self.value()?;
            self.skip_space();
            if self.text.get(self.pos) != Some(&b':') {
                return self.fail("expected ':' in the header dict");
            }
            self.pos += 1;
            let value = self.value()?;
            entries.push((key, value));
            self.skip_space();
            match self.text.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return self.fail("expected ',' or '}' in the header dict"),
            }
        }
        self.depth -= 1;
        Ok(PyValue::Dict(entries))
    }
}

#[cfg(test)]
mod tests;
