//! Fuzz target: see `spikeq::trace::fuzz_check::csv_read` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    spikeq::trace::fuzz_check::csv_read(data);
});
