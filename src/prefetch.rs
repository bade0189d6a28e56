//! A software prefetch hint, for loops whose addresses are known before their loads (random
//! accesses into arrays larger than the caches). Owns nothing; touches no state.

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
