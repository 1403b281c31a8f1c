//! Running a parsed script: loading data into a `MemStorage`, evaluating
//! every eval and judging it, and collecting a per-eval report.
//!
//! A failing eval never stops the file. A load that fails does (later
//! evals would judge the wrong data); those evals are reported as failed
//! with the load's error. Each instant eval is also re-run as a range query
//! around its time and with its selectors pinned by `@` (see
//! [`RunOptions`]), as upstream does, because that catches real engine
//! bugs. Every query runs on a worker thread with a timeout; a file whose
//! queries keep timing out is given up after [`TIMEOUTS_PER_FILE_MAX`].

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use beacon_model::{Labels, SeriesRef};
use beacon_storage::{Appendable, Appender, MemStorage};
use regex::Regex;

use crate::compare::{
    Grid, Output, ResultValue, check_annotations, check_error, check_value, matrix_at,
};
use crate::error::Error;
use crate::exec::{ExecError, Query, execute};
use crate::hints::apply_storage_hints;
use crate::pinning::pinned_variants;
use crate::script::{Command, Eval, EvalKind, Load, count_eval_headers, parse_script};
use crate::series::Slot;

/// Default time one query may take before the eval is failed.
pub const EVAL_TIMEOUT_DEFAULT: Duration = Duration::from_secs(5);
/// After this many queries of one file time out, its remaining evals are
/// failed without running: each timed-out worker may keep a core busy.
pub const TIMEOUTS_PER_FILE_MAX: usize = 3;
/// Range-mode agreement runs from one minute before to one minute after
/// the instant eval's time, at a one-minute step.
const AGREEMENT_STEP_MS: i64 = 60_000;

/// Expressions whose value depends on the query range, which range-mode
/// agreement cannot check.
static QUERY_CONTEXT_FUNCS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(start|end|range|step)\(\)").expect("static regex"));

/// How evals are run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Per-query time limit; a query still running after it fails its eval.
    pub eval_timeout: Duration,
    /// Also run each eligible instant eval as a range query from T−1m to
    /// T+1m and judge the point at T (upstream does this for every file).
    pub range_agreement: bool,
    /// Also run each eligible instant eval with every selector pinned to
    /// its time by `@`, at other evaluation times (upstream does this too;
    /// see the `pinning` module).
    pub at_variants: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            eval_timeout: EVAL_TIMEOUT_DEFAULT,
            range_agreement: true,
            at_variants: true,
        }
    }
}

/// How one eval came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    /// Failed, with a readable account of expected versus got.
    Failed(String),
    /// Listed in the skip list. It still runs, so that a skip that has
    /// become unnecessary is reported.
    Skipped {
        reason: String,
        now_passes: bool,
    },
}

/// The result of one eval.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// 1-based line of the eval header.
    pub line: usize,
    /// The header, re-printed (`eval instant at 5m expr`).
    pub header: String,
    pub outcome: Outcome,
}

/// The results of one script.
#[derive(Debug, Clone)]
pub struct FileReport {
    /// The file name (`functions.test`), as skip lists key it.
    pub name: String,
    pub evals: Vec<EvalReport>,
    /// Why the file could not be read or parsed; then no eval ran and all
    /// `eval_headers` count as failed.
    pub error: Option<String>,
    /// Eval headers in the file (the denominator).
    pub eval_headers: usize,
}

impl FileReport {
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.evals.iter().filter(|e| f(&e.outcome)).count()
    }

    /// Evals that passed.
    pub fn passed(&self) -> usize {
        self.count(|o| *o == Outcome::Passed)
    }

    /// Evals that were skipped.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }

    /// Every eval: the denominator.
    pub fn total(&self) -> usize {
        self.eval_headers.max(self.evals.len())
    }

    /// Evals that failed (including those of a file that did not parse).
    pub fn failed(&self) -> usize {
        self.total() - self.passed() - self.skipped()
    }
}

/// Runs a script file with default options and no skips.
pub fn run_file(path: impl AsRef<Path>) -> FileReport {
    run_file_with(path.as_ref(), &RunOptions::default(), &BTreeMap::new())
}

/// The name a file is reported and skipped under: its file name.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Runs a script file; `skips` maps eval header lines to skip reasons.
pub fn run_file_with(
    path: &Path,
    opts: &RunOptions,
    skips: &BTreeMap<usize, String>,
) -> FileReport {
    let name = file_name(path);
    match std::fs::read_to_string(path) {
        Ok(input) => run_script(&name, &input, opts, skips),
        Err(source) => FileReport {
            name,
            evals: Vec::new(),
            error: Some(
                Error::Io {
                    path: path.to_owned(),
                    source,
                }
                .to_string(),
            ),
            eval_headers: 0,
        },
    }
}

/// Runs a script given as text.
pub fn run_script(
    name: &str,
    input: &str,
    opts: &RunOptions,
    skips: &BTreeMap<usize, String>,
) -> FileReport {
    let mut report = FileReport {
        name: name.to_owned(),
        evals: Vec::new(),
        error: None,
        eval_headers: count_eval_headers(input),
    };
    let script = match parse_script(input) {
        Ok(s) => s,
        Err(e) => {
            report.error = Some(format!("parse error: {e}"));
            return report;
        }
    };
    let mut session = Session {
        storage: MemStorage::new(),
        opts,
        timeouts: Cell::new(0),
    };
    let mut load_failure: Option<String> = None;
    for cmd in &script.commands {
        match cmd {
            // A fresh store rather than `clear()`: a timed-out worker may
            // still hold the old one.
            Command::Clear { .. } => session.storage = MemStorage::new(),
            Command::Load(load) => {
                if load_failure.is_none()
                    && let Err(e) = load_into(&session.storage, load)
                {
                    load_failure = Some(e.to_string());
                }
            }
            Command::Eval(eval) => {
                let outcome = match &load_failure {
                    Some(why) => Err(format!("not run: an earlier load failed: {why}")),
                    None if session.timeouts.get() >= TIMEOUTS_PER_FILE_MAX => Err(format!(
                        "not run: {TIMEOUTS_PER_FILE_MAX} queries of this file timed out already"
                    )),
                    None => judge_eval(&session, eval),
                };
                let outcome = match (skips.get(&eval.line), outcome) {
                    (Some(reason), o) => Outcome::Skipped {
                        reason: reason.clone(),
                        now_passes: o.is_ok(),
                    },
                    (None, Ok(())) => Outcome::Passed,
                    (None, Err(why)) => Outcome::Failed(why),
                };
                report.evals.push(EvalReport {
                    line: eval.line,
                    header: eval.header(),
                    outcome,
                });
            }
        }
    }
    report
}

/// Appends a load block's samples (and, for `load_with_nhcb`, the
/// converted histograms) in one batch.
pub fn load_into(storage: &MemStorage, load: &Load) -> Result<(), Error> {
    // A label set given twice: the later line replaces the earlier one.
    let mut by_labels: BTreeMap<&Labels, &crate::script::LoadSeries> = BTreeMap::new();
    for s in &load.series {
        by_labels.insert(&s.labels, s);
    }
    let mut app = storage.appender();
    let mut classic = Vec::new();
    for s in by_labels.values() {
        let mut slots = s.slots.clone();
        apply_storage_hints(&mut slots, load.step_ms);
        let fail = |t: i64, e: beacon_storage::Error| Error::Load {
            line: s.line,
            msg: format!("{} at t={t}: {e}", s.labels),
        };
        let mut floats = Vec::new();
        for (i, slot) in slots.iter().enumerate() {
            let t = (i as i64).saturating_mul(load.step_ms);
            match slot {
                Slot::Empty => {}
                Slot::Float(v) => {
                    app.append(SeriesRef::NONE, &s.labels, t, *v)
                        .map_err(|e| fail(t, e))?;
                    floats.push((t, *v));
                }
                Slot::Histogram(h) => {
                    app.append_histogram(SeriesRef::NONE, &s.labels, t, None, Some(&h.h))
                        .map_err(|e| fail(t, e))?;
                }
            }
        }
        classic.push((s.labels.clone(), floats));
    }
    if load.with_nhcb {
        append_nhcb(&mut *app, &classic, load)?;
    }
    app.commit().map_err(|e| Error::Load {
        line: load.line,
        msg: e.to_string(),
    })
}

fn append_nhcb(
    app: &mut dyn Appender,
    classic: &[(Labels, Vec<(i64, f64)>)],
    load: &Load,
) -> Result<(), Error> {
    let line = load.line;
    let converted = crate::nhcb::convert(classic).map_err(|msg| Error::Load { line, msg })?;
    for (labels, samples) in converted {
        // Back onto the step grid, so that the storage hint rules see the
        // same sample sequence as for literal histograms.
        let step = load.step_ms.max(1);
        let len = samples.last().map_or(0, |(t, _)| (t / step) as usize + 1);
        let mut slots = vec![Slot::Empty; len];
        for (t, h) in samples {
            slots[(t / step) as usize] = Slot::Histogram(Box::new(crate::series::HistogramValue {
                h,
                hint_set: false,
            }));
        }
        apply_storage_hints(&mut slots, step);
        for (i, slot) in slots.iter().enumerate() {
            let Slot::Histogram(h) = slot else {
                continue;
            };
            let t = i as i64 * step;
            app.append_histogram(SeriesRef::NONE, &labels, t, None, Some(&h.h))
                .map_err(|e| Error::Load {
                    line,
                    msg: format!("{labels} at t={t}: {e}"),
                })?;
        }
    }
    Ok(())
}

/// The state evals of one file run against.
struct Session<'a> {
    storage: MemStorage,
    opts: &'a RunOptions,
    /// Queries that timed out so far.
    timeouts: Cell<usize>,
}

impl Session<'_> {
    /// Runs one query, counting timeouts.
    fn query(&self, expr: &str, query: Query) -> Result<Output, ExecError> {
        let r = execute(&self.storage, expr, query, self.opts.eval_timeout);
        if matches!(r, Err(ExecError::Timeout(_))) {
            self.timeouts.set(self.timeouts.get() + 1);
        }
        r
    }
}

/// Runs one eval and judges it; `Err` holds the readable failure.
fn judge_eval(session: &Session<'_>, eval: &Eval) -> Result<(), String> {
    let opts = session.opts;
    let (query, grid) = match eval.kind {
        EvalKind::Range {
            start_ms,
            end_ms,
            step_ms,
        } => (
            Query::Range {
                start_ms,
                end_ms,
                step_ms,
            },
            Some(Grid {
                start_ms,
                end_ms,
                step_ms,
            }),
        ),
        EvalKind::Instant { at_ms } => (
            Query::Instant { at_ms },
            eval.range_vector.map(|(start_ms, end_ms, step_ms)| Grid {
                start_ms,
                end_ms,
                step_ms,
            }),
        ),
    };
    let result = session.query(&eval.expr, query);
    let out = judge_result(eval, result, grid)?;
    let EvalKind::Instant { at_ms } = eval.kind else {
        return Ok(());
    };
    if let Some(out) = out {
        check_range_agreement(session, eval, &eval.expr, &out, at_ms)?;
    }
    if !opts.at_variants {
        return Ok(());
    }
    let Some((pinned, times)) = pinned_variants(&eval.expr, at_ms) else {
        return Ok(());
    };
    for t in times {
        let result = session.query(&pinned, Query::Instant { at_ms: t });
        let context = |e: String| format!("with @ pinned, `{pinned}` evaluated at t={t}ms: {e}");
        if let Some(out) = judge_result(eval, result, grid).map_err(context)? {
            check_range_agreement(session, eval, &pinned, &out, t).map_err(context)?;
        }
    }
    Ok(())
}

/// Judges a query's outcome. Returns the output when there was one to
/// judge further (`None` when an expected failure happened).
fn judge_result(
    eval: &Eval,
    result: Result<Output, ExecError>,
    grid: Option<Grid>,
) -> Result<Option<Output>, String> {
    match result {
        Err(ExecError::Query(msg)) => check_error(eval, &msg).map(|()| None),
        Err(ExecError::Parse(msg)) => Err(format!("the expression does not parse: {msg}")),
        Err(ExecError::Panic(msg)) => Err(format!("engine panicked: {msg}")),
        Err(ExecError::Timeout(d)) => Err(format!("no answer within {d:?} (timed out)")),
        Ok(out) => {
            if let Some(p) = &eval.fail {
                return Err(format!(
                    "expected an error matching {p}, but the query succeeded"
                ));
            }
            // Both checks run, so that one report shows every problem.
            let problems: Vec<String> = [
                check_annotations(eval, &out),
                check_value(eval, &out.value, grid),
            ]
            .into_iter()
            .filter_map(Result::err)
            .collect();
            if problems.is_empty() {
                Ok(Some(out))
            } else {
                Err(problems.join("\n"))
            }
        }
    }
}

fn agreement_applies(eval: &Eval) -> bool {
    eval.fail.is_none()
        && !eval.ordered
        && eval.range_vector.is_none()
        && eval.expected_string.is_none()
        && !QUERY_CONTEXT_FUNCS.is_match(&eval.expr)
}

/// Runs `expr` as a range query around `at_ms` and judges its point at
/// `at_ms` like the instant result (when the check applies).
fn check_range_agreement(
    session: &Session<'_>,
    eval: &Eval,
    expr: &str,
    instant: &Output,
    at_ms: i64,
) -> Result<(), String> {
    if !session.opts.range_agreement || !agreement_applies(eval) {
        return Ok(());
    }
    let query = Query::Range {
        start_ms: at_ms - AGREEMENT_STEP_MS,
        end_ms: at_ms + AGREEMENT_STEP_MS,
        step_ms: AGREEMENT_STEP_MS,
    };
    let context = "in range mode (T-1m to T+1m, step 1m)";
    let matrix = match session.query(expr, query) {
        Ok(Output {
            value: ResultValue::Matrix(m),
            ..
        }) => m,
        Ok(other) => {
            return Err(format!(
                "{context}: expected a matrix, got {:?}",
                other.value
            ));
        }
        Err(ExecError::Query(e) | ExecError::Parse(e)) => {
            return Err(format!("{context}: unexpected error: {e}"));
        }
        Err(ExecError::Panic(e)) => return Err(format!("{context}: engine panicked: {e}")),
        Err(ExecError::Timeout(d)) => return Err(format!("{context}: no answer within {d:?}")),
    };
    if let Some(w) = matrix.windows(2).find(|w| w[0].labels > w[1].labels) {
        return Err(format!(
            "{context}: result is not sorted by labels: {} comes before {}",
            w[0].labels, w[1].labels
        ));
    }
    let at_t = matrix_at(&matrix, at_ms);
    let value = match instant.value {
        ResultValue::Scalar(_) => match at_t.first() {
            Some(s) => ResultValue::Scalar(s.f),
            None => return Err(format!("{context}: no point at T for a scalar expression")),
        },
        _ => ResultValue::Vector(at_t),
    };
    check_value(eval, &value, None).map_err(|e| format!("{context}: {e}"))
}
