//! `exp` without a libm call, for the per-event factors of the delta-synapse models.
//!
//! Why: `lif_delta` needs `exp((t - epoch) / tau_m)` once per external drive event (each
//! drive event sits at its own tick), ~2.5e8 times per simulated second in the Brunel model;
//! libm's `exp` is an opaque call that cost a quarter of the run. This is the classic
//! table-driven scheme (Tang 1989, as in glibc): `x = (64 m + j) ln2/64 + r` with
//! `|r| ≤ ln2/128`, `e^x = 2^m · 2^{j/64} · e^r`, `e^r` by a degree-5 Taylor polynomial
//! (truncation error below 4e-17). Accuracy: within 2 ulp of the exact value in f64 (relative
//! error < 3e-16). The exact crossing search (`crossing`) uses it too: there every search
//! evaluates dozens of exponentials.
//! Pure arithmetic on f64 (no fused multiply-add), so it gives the same bits on every
//! platform and for every build.

/// `2^{j/64}`, j = 0..64, correctly rounded.
const TWO_POW_J64: [f64; 64] = [
    1.0,
    1.0108892860517005,
    1.0218971486541166,
    1.0330248790212284,
    1.0442737824274138,
    1.0556451783605572,
    1.0671404006768237,
    1.0787607977571199,
    1.0905077326652577,
    1.102382583307841,
    1.1143867425958924,
    1.1265216186082418,
    1.1387886347566916,
    1.1511892299529827,
    1.1637248587775775,
    1.1763969916502812,
    1.189207115002721,
    1.202156731452703,
    1.215247359980469,
    1.22848053610687,
    1.241857812073484,
    1.255380757024691,
    1.2690509571917332,
    1.2828700160787783,
    1.2968395546510096,
    1.3109612115247644,
    1.3252366431597413,
    1.339667524053303,
    1.3542555469368927,
    1.3690024229745905,
    1.383909881963832,
    1.3989796725383112,
    std::f64::consts::SQRT_2,
    1.42961333839197,
    1.4451808069770467,
    1.460917794180647,
    1.4768261459394993,
    1.4929077282912648,
    1.5091644275934228,
    1.5255981507445384,
    1.5422108254079407,
    1.559004400237837,
    1.5759808451078865,
    1.593142151342267,
    1.6104903319492543,
    1.6280274218573478,
    1.645755478153965,
    1.6636765803267364,
    1.681792830507429,
    1.7001063537185235,
    1.718619298122478,
    1.7373338352737062,
    1.7562521603732995,
    1.7753764925265212,
    1.7947090750031072,
    1.8142521755003989,
    1.8340080864093424,
    1.8539791250833855,
    1.8741676341103,
    1.8945759815869656,
    1.9152065613971474,
    1.9360617934922943,
    1.9571441241754002,
    1.978456026387951,
];

/// `e^x` to within 2 ulp for `|x| < 700`; other inputs (and NaN) go to libm.
#[inline]
pub fn exp(x: f64) -> f64 {
    if x.is_nan() || x.abs() >= 700.0 {
        return x.exp();
    }
    exp_in_range(x)
}

/// [`exp`] without the range check: the caller guarantees `|x| < 700` (debug-checked). Same
/// bits as [`exp`]. Branch-free integer and float arithmetic plus one table load, so a loop
/// of them over an array pipelines (and vectorises where the target allows): the models
/// compute the factors of a run of drive events this way.
#[inline(always)]
pub fn exp_in_range(x: f64) -> f64 {
    debug_assert!(x.abs() < 700.0, "exp_in_range({x})");
    const INV_LN2_64: f64 = 92.33248261689366; // 64 / ln 2
    // ln2/64 split so that `k · LN2_64_HI` is exact for |k| < 2^21.
    const LN2_64_HI: f64 = 0.01083042469326756; // 32 significant bits
    const LN2_64_LO: f64 = 2.9815858269852933e-12;
    // Round to nearest by adding and removing 1.5·2^52 (`round()` is a libm call on
    // baseline x86-64); |x · 64/ln2| < 2^16 here. The low bits of the shifted value are `k`
    // itself: read there, not by a float-to-int conversion (which baseline x86-64 has only
    // for scalars).
    const SHIFT: f64 = 6755399441055744.0;
    let shifted = x * INV_LN2_64 + SHIFT;
    let kf = shifted - SHIFT;
    let k = shifted.to_bits().wrapping_sub(SHIFT.to_bits()) as i64;
    let r = (x - kf * LN2_64_HI) - kf * LN2_64_LO;
    // e^r - 1, added to 1 last (as `t + t·p`) to keep the rounding error near half an ulp.
    let p = r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0)))));
    let t = TWO_POW_J64[(k & 63) as usize];
    // 2^(k div 64) as exponent bits: `(k & !63) << 46` is `(k >> 6) << 52` without an
    // arithmetic shift (none for 64-bit lanes before AVX-512).
    let scale = f64::from_bits(((k & !63) << 46).cast_unsigned().wrapping_add(1023 << 52));
    (t + t * p) * scale
}

#[cfg(test)]
mod tests {
    #[test]
    fn matches_libm_to_two_ulp() {
        let mut worst: f64 = 0.0;
        for i in -2_000_000..2_000_000 {
            // Irregular steps over [-700, 700], plus the model's usual range [0, 80].
            for x in [i as f64 * 3.4999e-4, i as f64 * 2.0000001e-5 + 40.0] {
                let (a, b) = (super::exp(x), x.exp());
                worst = worst.max(((a - b) / b).abs());
            }
        }
        assert!(worst < 3.0e-16, "relative error {worst:e}");
        assert_eq!(super::exp(0.0), 1.0);
        assert!(super::exp(f64::NAN).is_nan());
        assert_eq!(super::exp(800.0), f64::INFINITY);
    }
}
