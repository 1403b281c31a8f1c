//! Fuzz target: the openmetrics parser on arbitrary bytes (see `beacon_exposition::fuzzing`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    beacon_exposition::fuzzing::openmetrics(data);
});
