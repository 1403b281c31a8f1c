//! Fuzz target: the PromQL parser and printer round trip on arbitrary
//! input (see `beacon_promql::fuzzing::parse_roundtrip`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    beacon_promql::fuzzing::parse_roundtrip(data);
});
