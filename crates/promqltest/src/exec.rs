//! Running one query against the engine in a worker thread, so that a
//! panic becomes a failed eval (caught with `catch_unwind`) and a query
//! that never returns is abandoned after a timeout instead of hanging the
//! suite. The engine's result is converted to the runner's own types.
//!
//! A worker that times out is told to cancel and then left behind: Rust
//! cannot stop a thread, and the storage it reads is an `Arc` clone, so
//! the runner carries on safely (a `clear` replaces the storage rather
//! than emptying the shared one).

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Once, mpsc};
use std::thread;
use std::time::Duration;

use beacon_promql::{CancelToken, Engine, EngineOptions, QueryResult, Value};
use beacon_storage::MemStorage;

use crate::compare::{MatrixSeries, Output, ResultValue, VectorSample};

/// Name of worker threads; the panic hook stays quiet for them.
const WORKER_NAME: &str = "promqltest-eval";
/// Worker stack size: deep expressions recurse, and a stack overflow
/// would abort the whole run rather than fail one eval.
const WORKER_STACK_BYTES: usize = 64 << 20;
/// Lookback delta the scripts assume (upstream's default).
pub const LOOKBACK_DELTA_MS: i64 = 5 * 60_000;
/// Samples one query may hold, as in upstream's test engine.
pub const MAX_SAMPLES: usize = 10_000;
/// Resolution of subqueries written without a step (`[5m:]`).
pub const SUBQUERY_STEP_MS: i64 = 60_000;

/// How a query is evaluated.
#[derive(Debug, Clone, Copy)]
pub enum Query {
    Instant {
        at_ms: i64,
    },
    Range {
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    },
}

/// Why a query produced no result.
#[derive(Debug, Clone)]
pub enum ExecError {
    /// The engine's parser rejected the expression. Upstream parses every
    /// expression of a script before running it, so a script's expected
    /// failures are never syntax errors: this is always a failure.
    Parse(String),
    /// The engine returned an error, with Prometheus's text.
    Query(String),
    /// The engine panicked; message and location.
    Panic(String),
    /// No answer within the per-eval timeout.
    Timeout(Duration),
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once per process) a panic hook that records a worker's panic
/// message and location instead of printing it; other threads' panics go
/// to the previous hook unchanged.
fn install_quiet_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if thread::current().name() != Some(WORKER_NAME) {
                previous(info);
                return;
            }
            let msg = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".into());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            LAST_PANIC.with(|p| *p.borrow_mut() = Some(format!("{msg}{at}")));
        }));
    });
}

/// The engine settings the test format assumes.
pub fn engine_options(timeout: Duration) -> EngineOptions {
    EngineOptions {
        lookback_delta_ms: LOOKBACK_DELTA_MS,
        max_samples: MAX_SAMPLES,
        timeout,
        default_subquery_step_ms: SUBQUERY_STEP_MS,
        enable_experimental: true,
        ..EngineOptions::default()
    }
}

/// Runs `expr` on a worker thread and waits at most `timeout` for it.
pub fn execute(
    storage: &MemStorage,
    expr: &str,
    query: Query,
    timeout: Duration,
) -> Result<Output, ExecError> {
    let storage = storage.clone();
    let expr = expr.to_owned();
    let cancel = CancelToken::new();
    let worker_cancel = cancel.clone();
    let job = move || {
        let engine = Engine::new(engine_options(timeout));
        match query {
            Query::Instant { at_ms } => engine.instant_query(&storage, &expr, at_ms),
            Query::Range {
                start_ms,
                end_ms,
                step_ms,
            } => engine.range_query_with_cancel(
                &storage,
                &expr,
                start_ms,
                end_ms,
                step_ms,
                &worker_cancel,
            ),
        }
    };
    match run_guarded(job, timeout, move || cancel.cancel())? {
        Ok(r) => Ok(convert(r)),
        Err(e @ beacon_promql::Error::Parse(_)) => Err(ExecError::Parse(e.to_string())),
        Err(e) => Err(ExecError::Query(e.to_string())),
    }
}

/// Runs `job` on a fresh worker thread. A panic becomes
/// [`ExecError::Panic`] with its message and location; no answer within
/// `timeout` calls `on_timeout` (to ask the job to stop) and becomes
/// [`ExecError::Timeout`], leaving the worker behind.
pub fn run_guarded<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
    timeout: Duration,
    on_timeout: impl FnOnce(),
) -> Result<T, ExecError> {
    install_quiet_hook();
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name(WORKER_NAME.into())
        .stack_size(WORKER_STACK_BYTES)
        .spawn(move || {
            let outcome = catch_unwind(AssertUnwindSafe(job)).map_err(|_| {
                ExecError::Panic(
                    LAST_PANIC
                        .with(|p| p.borrow_mut().take())
                        .unwrap_or_else(|| "panic without a message".into()),
                )
            });
            let _ = tx.send(outcome);
        });
    if let Err(e) = spawned {
        return Err(ExecError::Panic(format!(
            "cannot start a worker thread: {e}"
        )));
    }
    match rx.recv_timeout(timeout) {
        Ok(outcome) => outcome,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            on_timeout();
            Err(ExecError::Timeout(timeout))
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(ExecError::Panic(
            "the worker ended without an answer".into(),
        )),
    }
}

fn convert(r: QueryResult) -> Output {
    let value = match r.value {
        Value::Scalar { v, .. } => ResultValue::Scalar(v),
        Value::String { v, .. } => ResultValue::String(v),
        Value::Vector(v) => ResultValue::Vector(
            v.into_iter()
                .map(|s| VectorSample {
                    labels: s.labels,
                    f: s.f,
                    h: s.h.map(|h| *h),
                })
                .collect(),
        ),
        Value::Matrix(m) => ResultValue::Matrix(
            m.into_iter()
                .map(|s| MatrixSeries {
                    labels: s.labels,
                    floats: s.floats,
                    histograms: s.histograms,
                })
                .collect(),
        ),
    };
    Output {
        value,
        warnings: r.warnings,
        infos: r.infos,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(outcome: Result<u32, ExecError>, expected: &str) {
        let got = match outcome {
            Ok(v) => format!("ok {v}"),
            Err(ExecError::Query(m)) => format!("query error {m}"),
            Err(ExecError::Parse(m)) => format!("parse error {m}"),
            Err(ExecError::Panic(m)) => format!("panic {m}"),
            Err(ExecError::Timeout(d)) => format!("timeout {d:?}"),
        };
        assert!(
            got.starts_with(expected),
            "got {got:?}, expected {expected:?}"
        );
    }

    #[test]
    fn answers_panics_and_timeouts() {
        let long = Duration::from_secs(10);
        check(run_guarded(|| 7, long, || {}), "ok 7");
        let panicked = run_guarded(|| -> u32 { panic!("engine bug {}", 42) }, long, || {});
        check(panicked.clone(), "panic engine bug 42 at ");
        let Err(ExecError::Panic(m)) = panicked else {
            unreachable!()
        };
        assert!(m.contains("exec.rs:"), "panic location missing: {m}");
        let mut told = false;
        let slow = run_guarded(
            || {
                thread::sleep(Duration::from_millis(300));
                1
            },
            Duration::from_millis(20),
            || told = true,
        );
        check(slow, "timeout 20ms");
        assert!(told, "on_timeout was not called");
    }
}
