//! Fuzz target: see `spikeq::spec::fuzz_check::spec_parse` for the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    spikeq::spec::fuzz_check::spec_parse(data);
});
