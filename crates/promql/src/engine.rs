//! The query engine: options, limits, and the instant/range entry points.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use beacon_storage::Queryable;

use crate::error::{Error, Result};
use crate::eval::Evaluator;
use crate::value::QueryResult;

/// Default lookback for instant selectors: 5 minutes.
pub const DEFAULT_LOOKBACK_DELTA_MS: i64 = 300_000;
/// Default limit on samples held in memory by one query.
pub const DEFAULT_MAX_SAMPLES: usize = 50_000_000;
/// Default subquery resolution when none is given.
pub const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;
/// Default query timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Default number of queries run at once.
pub const DEFAULT_MAX_CONCURRENT: usize = 20;

/// Engine settings.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub lookback_delta_ms: i64,
    pub max_samples: usize,
    pub timeout: Duration,
    pub max_concurrent: usize,
    pub default_subquery_step_ms: i64,
    /// Accept experimental functions and syntax.
    pub enable_experimental: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta_ms: DEFAULT_LOOKBACK_DELTA_MS,
            max_samples: DEFAULT_MAX_SAMPLES,
            timeout: DEFAULT_TIMEOUT,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            default_subquery_step_ms: DEFAULT_SUBQUERY_STEP_MS,
            enable_experimental: true,
        }
    }
}

/// Cancels a running query from another thread.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Asks the query to stop at its next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Limits how many queries run at once; callers beyond the limit wait
/// for a slot (until their deadline), like Prometheus's query gate.
#[derive(Debug, Default)]
struct Gate {
    running: Mutex<usize>,
    freed: Condvar,
}

/// A held slot of the gate, released on drop.
struct Slot<'a>(&'a Gate);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut n = self.0.running.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

impl Gate {
    fn enter(&self, max: usize, deadline: Instant) -> Result<Slot<'_>> {
        let mut n = self.running.lock().unwrap_or_else(|e| e.into_inner());
        while max > 0 && *n >= max {
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout);
            }
            n = self
                .freed
                .wait_timeout(n, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *n += 1;
        Ok(Slot(self))
    }
}

/// Evaluates PromQL queries against a `Queryable`. Clones share the
/// concurrency limit.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
    gate: Arc<Gate>,
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Engine {
        Engine {
            opts,
            gate: Arc::new(Gate::default()),
        }
    }

    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `expr` at time `t_ms`.
    pub fn instant_query(&self, q: &dyn Queryable, expr: &str, t_ms: i64) -> Result<QueryResult> {
        self.run(q, expr, t_ms, t_ms, 0, true, &CancelToken::new())
    }

    /// Evaluates `expr` at every step from `start_ms` to `end_ms`.
    pub fn range_query(
        &self,
        q: &dyn Queryable,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult> {
        self.range_query_with_cancel(q, expr, start_ms, end_ms, step_ms, &CancelToken::new())
    }

    /// Like `range_query`, stoppable through `cancel`.
    pub fn range_query_with_cancel(
        &self,
        q: &dyn Queryable,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        cancel: &CancelToken,
    ) -> Result<QueryResult> {
        if step_ms <= 0 {
            return Err(Error::Eval(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(Error::Eval(
                "end timestamp must not be before start time".into(),
            ));
        }
        self.run(q, expr, start_ms, end_ms, step_ms, false, cancel)
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        q: &dyn Queryable,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
        instant: bool,
        cancel: &CancelToken,
    ) -> Result<QueryResult> {
        let ast = crate::parse(expr)?;
        let deadline = Instant::now() + self.opts.timeout;
        let _slot = self.gate.enter(self.opts.max_concurrent, deadline)?;
        let mut ev = Evaluator::new(
            q,
            &self.opts,
            expr,
            start,
            end,
            step,
            deadline,
            cancel.clone(),
        );
        ev.run(&ast, instant)
    }
}
