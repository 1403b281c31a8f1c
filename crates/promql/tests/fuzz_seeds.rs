//! Replays every committed fuzz seed (`fuzz/seeds/<target>/*`) through the
//! same entry points the cargo-fuzz targets use, on stable Rust, so CI
//! catches a regression without a fuzzer.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::{Duration, Instant};

use beacon_promql::fuzzing;

const SEEDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds");
/// Fewest seeds a target may have, so a lost directory is noticed.
const MIN_SEEDS: usize = 15;
/// A generous bound on one evaluation seed: the engine's own timeout is
/// `FUZZ_TIMEOUT` per query, and a seed runs two queries.
const SEED_WALL_CLOCK: Duration = Duration::from_secs(5);

fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(SEEDS).join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("dir entry").path();
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&p).expect("read seed"))
        })
        .collect();
    out.sort();
    out
}

/// A fuzz entry point.
type Target = fn(&[u8]);

fn replay(target: &str, run: Target) {
    let all = seeds(target);
    assert!(all.len() >= MIN_SEEDS, "{target}: only {} seeds", all.len());
    for (name, data) in &all {
        let started = Instant::now();
        let r = catch_unwind(AssertUnwindSafe(|| run(data)));
        assert!(r.is_ok(), "{target}/{name} panicked");
        let took = started.elapsed();
        assert!(took < SEED_WALL_CLOCK, "{target}/{name} took {took:?}");
    }
}

#[test]
fn parse_seeds_replay() {
    replay("parse", fuzzing::parse_roundtrip);
}

#[test]
fn parse_eval_seeds_replay() {
    replay("parse_eval", fuzzing::parse_eval);
}

#[test]
fn most_seeds_parse() {
    // The seeds are meant to reach the evaluator, not die in the parser.
    for target in ["parse", "parse_eval"] {
        let all = seeds(target);
        let ok = all
            .iter()
            .filter(|(_, d)| std::str::from_utf8(d).is_ok_and(|s| beacon_promql::parse(s).is_ok()))
            .count();
        assert!(
            ok * 2 > all.len(),
            "{target}: only {ok}/{} seeds parse",
            all.len()
        );
    }
}
