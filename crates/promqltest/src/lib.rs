//! A runner for Prometheus's PromQL test-script format (`*.test` files).
//!
//! A script loads series into a fresh in-memory store (`load 5m` followed by
//! lines such as `http_requests{job="api"} 0+10x10`), evaluates PromQL
//! expressions at chosen times (`eval instant at 50m rate(http_requests[5m])`
//! or `eval range from 0 to 10m step 1m …`) and lists the expected result
//! series, errors and annotations. This crate parses those scripts, runs
//! them against `beacon-promql` over a `beacon_storage::MemStorage`, and
//! reports every eval as passed, failed (with a diff of expected versus got)
//! or skipped (only through an explicit skip list with reasons).
//!
//! The layers, bottom up: [`series`] (the series notation and histogram
//! literals), [`script`] (blocks and expectations), [`compare`] (judging
//! one result), [`runner`] (loading and evaluating a file, with panics
//! caught and a per-query timeout) and [`report`] (skip lists, many files,
//! the printed summary).
//!
//! Judging follows upstream's harness, including its two extra checks on
//! instant evals: the expression must give the same answer as a range
//! query around the eval time, and with every selector pinned by `@` to the
//! eval time it must give the same answer at other times. Loading follows
//! upstream's storage where it shows through: histogram counter-reset hints
//! read back the way Prometheus's TSDB derives them. Start timestamps
//! (`@st` lines) are parsed but not stored, because the storage traits
//! have no place for them.
//!
//! A skip list has one entry per line, `<file>:<line> <reason>`, where the
//! line is the eval header's; `#` starts a comment.
//!
//! ```
//! use beacon_promqltest::{RunOptions, run_script};
//!
//! let script = "load 1m\n  up{job=\"a\"} 0+1x10\n\neval instant at 5m up\n  up{job=\"a\"} 5\n";
//! let report = run_script("example.test", script, &RunOptions::default(), &Default::default());
//! assert_eq!((report.passed(), report.total()), (1, 1));
//! ```

pub mod compare;
mod error;
mod exec;
mod hints;
pub mod histogram;
mod nhcb;
mod pinning;
pub mod report;
pub mod runner;
pub mod script;
pub mod series;

pub use error::{Error, Result};
pub use exec::{LOOKBACK_DELTA_MS, MAX_SAMPLES, SUBQUERY_STEP_MS, engine_options};
pub use report::{
    SkipList, Summary, print_counts, print_failures, print_summary, run_files, run_files_with,
};
pub use runner::{
    EvalReport, FileReport, Outcome, RunOptions, run_file, run_file_with, run_script,
};
pub use script::{Script, parse_script};
