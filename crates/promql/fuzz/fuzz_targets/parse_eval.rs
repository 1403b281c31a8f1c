//! Fuzz target: parse and evaluate arbitrary queries against a small fixed
//! dataset with tight limits (see `beacon_promql::fuzzing::parse_eval`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    beacon_promql::fuzzing::parse_eval(data);
});
