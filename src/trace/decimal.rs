//! Exact parsing of decimal milliseconds into ticks, for the text formats.
//!
//! Going through `f64` would lose nanoseconds beyond 2^53 ns (about 104 days) and makes
//! `"0.1"` depend on binary rounding; parsing the digits keeps every value written by
//! [`Tick::fmt_ms_exact`] exact. Digits beyond the nanosecond are rounded to the nearest
//! nanosecond, ties away from zero: the same rule as [`Tick::from_ms`].
//!
//! Candidate to move into `time.rs` (as `Tick::parse_ms`) once that file is free to change, so
//! that all ms ↔ tick conversion lives in one place.

use crate::Tick;
use crate::time::TICKS_PER_MS;

/// Parses `[+-]digits[.digits][(e|E)[+-]digits]` milliseconds (at least one mantissa digit)
/// into ticks. The error says what is wrong with the text.
pub(crate) fn parse_ms_exact(text: &str) -> Result<Tick, &'static str> {
    let bytes = text.as_bytes();
    let mut pos = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            pos += 1;
            true
        }
        Some(b'+') => {
            pos += 1;
            false
        }
        _ => false,
    };
    let integer_start = pos;
    while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    let integer_digits = &bytes[integer_start..pos];
    let mut fraction_digits: &[u8] = &[];
    if bytes.get(pos) == Some(&b'.') {
        pos += 1;
        let fraction_start = pos;
        while bytes.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        fraction_digits = &bytes[fraction_start..pos];
    }
    if integer_digits.is_empty() && fraction_digits.is_empty() {
        return Err("expected a decimal number of milliseconds");
    }
    let mut exponent: i64 = 0;
    if matches!(bytes.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        let exponent_negative = match bytes.get(pos) {
            Some(b'-') => {
                pos += 1;
                true
            }
            Some(b'+') => {
                pos += 1;
                false
            }
            _ => false,
        };
        let exponent_start = pos;
        while let Some(digit) = bytes.get(pos).filter(|b| b.is_ascii_digit()) {
            // Saturate: any exponent this large already decides the result (overflow or 0).
            exponent = (exponent * 10 + i64::from(digit - b'0')).min(1_000_000);
            pos += 1;
        }
        if pos == exponent_start {
            return Err("exponent has no digits");
        }
        if exponent_negative {
            exponent = -exponent;
        }
    }
    if pos != bytes.len() {
        return Err("unexpected character in a decimal number of milliseconds");
    }

    // The value is (all mantissa digits read as one integer) × 10^scale nanoseconds.
    let significant = || {
        integer_digits
            .iter()
            .chain(fraction_digits)
            .skip_while(|&&d| d == b'0')
            .map(|d| d - b'0')
    };
    let significant_len = significant().count() as i64;
    let ms_exponent_digits = TICKS_PER_MS.ilog10() as i64;
    let scale = ms_exponent_digits + exponent - fraction_digits.len() as i64;
    // Digits that land at or above the nanosecond; the rest only round.
    let kept = significant_len + scale.min(0);
    const OUT_OF_RANGE: &str = "time out of range (at most about 9.2e12 ms)";
    // i64 has 19 digits; a longer integer cannot fit.
    if kept + scale.max(0) > 19 {
        return Err(OUT_OF_RANGE);
    }
    let kept = kept.max(0) as usize;
    let mut magnitude: i128 = 0;
    for digit in significant().take(kept) {
        magnitude = magnitude * 10 + i128::from(digit);
    }
    magnitude *= 10i128.pow(scale.max(0) as u32);
    // Round half away from zero on the first dropped digit. When every significant digit
    // lies below the first dropped position (scale pushed `kept` under zero), the first
    // dropped digit is a leading zero and nothing rounds up.
    if significant_len + scale.min(0) >= 0 && significant().nth(kept).is_some_and(|d| d >= 5) {
        magnitude += 1;
    }
    let signed = if negative { -magnitude } else { magnitude };
    i64::try_from(signed).map(Tick).map_err(|_| OUT_OF_RANGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exact_values() {
        let cases = [
            ("0", 0),
            ("1.5", 1_500_000),
            ("1.500000", 1_500_000),
            ("0.000001", 1),
            ("-0.000007", -7),
            ("+2", 2_000_000),
            (".25", 250_000),
            ("3.", 3_000_000),
            ("1e3", 1_000_000_000),
            ("1.5E-3", 1_500),
            ("12.3456789", 12_345_679),
            ("0.0000005", 1),
            ("-0.0000005", -1),
            ("0.00000049999", 0),
            ("1e-100000000", 0),
            ("000000000000000000000000001.0", 1_000_000),
            ("9223372036854.775807", i64::MAX),
            ("-9223372036854.775807", -i64::MAX),
            ("-9223372036854.775808", i64::MIN),
        ];
        for (text, ns) in cases {
            assert_eq!(parse_ms_exact(text), Ok(Tick(ns)), "{text}");
        }
    }

    #[test]
    fn agrees_with_from_ms_on_short_decimals() {
        for text in ["0.1", "20.0", "1000.125", "0.3", "7.777777"] {
            let expected = Tick::from_ms(text.parse().unwrap()).unwrap();
            assert_eq!(parse_ms_exact(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_garbage_and_overflow() {
        for text in [
            "", "-", ".", "abc", "1.2.3", "1e", "1e+", "nan", "inf", "1,5", " 1", "0x10",
        ] {
            assert!(parse_ms_exact(text).is_err(), "{text:?}");
        }
        for text in [
            "9223372036854.775808",
            "1e13",
            "1e1000000000",
            "99999999999999999999",
        ] {
            assert_eq!(
                parse_ms_exact(text),
                Err("time out of range (at most about 9.2e12 ms)"),
                "{text}"
            );
        }
    }

    #[test]
    fn inverts_fmt_ms_exact() {
        for ns in [
            0,
            1,
            -1,
            999_999,
            1_000_000,
            i64::MAX,
            i64::MIN,
            123_456_789_012,
        ] {
            let mut text = String::new();
            Tick(ns).fmt_ms_exact(&mut text).unwrap();
            assert_eq!(parse_ms_exact(&text), Ok(Tick(ns)), "{text}");
        }
    }
}
