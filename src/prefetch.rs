//! A software prefetch hint, for loops whose addresses are known before their loads (random
//! accesses into arrays larger than the caches). Owns nothing; touches no state.

/// The smallest block (in neurons) whose state and crossing queue are prefetched: 8192
/// `lif_delta` neurons hold 192 KiB of state, and a network of several such blocks no
/// longer fits in L2. Smaller blocks stay in cache, where prefetching only costs
/// instructions (Brunel's blocks of 1024: 1.03x the time when their segments were walked).
pub(crate) const PREFETCH_MIN_NEURONS: usize = 8192;

/// Asks the CPU to bring `p`'s cache line closer; never dereferences `p`.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE is part of the x86_64 baseline, and a prefetch never dereferences `p`
        // (any address is allowed).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
