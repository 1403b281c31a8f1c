//! Runs PromQL test scripts from the command line and prints every failure
//! with its diff, then the pass counts:
//!
//! ```text
//! cargo run -p beacon-promqltest --example promql_test -- [--skip SKIPFILE] FILE.test...
//! ```
//!
//! Exits with status 1 when an eval failed or a file could not be run, 2
//! on bad usage.

use std::path::PathBuf;
use std::process::ExitCode;

use beacon_promqltest::{SkipList, print_summary, run_files};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut files = Vec::new();
    let mut skips = SkipList::empty();
    while let Some(a) = args.next() {
        if a == "--skip" {
            let Some(path) = args.next() else {
                eprintln!("--skip needs a file");
                return ExitCode::from(2);
            };
            match SkipList::load(&PathBuf::from(path)) {
                Ok(s) => skips = s,
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::from(2);
                }
            }
        } else {
            files.push(PathBuf::from(a));
        }
    }
    if files.is_empty() {
        eprintln!("usage: promql_test [--skip SKIPFILE] FILE.test...");
        return ExitCode::from(2);
    }
    let summary = run_files(&files, &skips);
    if let Err(e) = print_summary(&summary, &mut std::io::stdout().lock()) {
        eprintln!("cannot write the summary: {e}");
        return ExitCode::from(2);
    }
    if summary.all_passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
