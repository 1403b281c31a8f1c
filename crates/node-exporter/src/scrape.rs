//! One scrape: every selected collector runs concurrently on the blocking
//! pool, each with the same deadline. A collector that misses it (a hung
//! NFS mount, a wedged sysfs driver) reports
//! `node_scrape_collector_success 0` and the scrape returns on time; it is
//! not started again while its earlier run is still stuck, so stuck runs
//! cannot pile up threads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use beacon_exposition::family::MetricFamily;

use crate::collector::Collector;
use crate::error::Error;
use crate::metric_set::MetricSet;

/// The default for `--collector.timeout`: below Prometheus's default
/// 10 s scrape timeout, so a stuck collector costs its own metrics only.
pub const DEFAULT_COLLECTOR_TIMEOUT: Duration = Duration::from_secs(8);

struct Entry {
    collector: Arc<dyn Collector>,
    /// Set while an `update` of this collector is in flight.
    running: Arc<AtomicBool>,
}

/// The enabled collectors and how long each may take.
pub struct Registry {
    entries: Vec<Entry>,
    timeout: Duration,
    exporter_metrics: bool,
}

/// Which collectors one request asks for (`collect[]` / `exclude[]`).
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl Selection {
    fn wants(&self, name: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|n| n == name))
            && !self.exclude.iter().any(|n| n == name)
    }
}

/// Clears the running flag however the update ends, panics included.
struct RunningGuard(Arc<AtomicBool>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// What one collector's run produced.
struct Outcome {
    name: &'static str,
    set: MetricSet,
    result: Result<(), Error>,
    elapsed: Duration,
}

impl Registry {
    /// A registry over `collectors`, each given `timeout` per scrape.
    pub fn new(collectors: Vec<Arc<dyn Collector>>, timeout: Duration) -> Registry {
        let entries = collectors
            .into_iter()
            .map(|collector| Entry {
                collector,
                running: Arc::default(),
            })
            .collect();
        Registry {
            entries,
            timeout,
            exporter_metrics: true,
        }
    }

    /// Leaves out the exporter's own `process_*` metrics
    /// (`--web.disable-exporter-metrics`).
    pub fn set_exporter_metrics(&mut self, on: bool) {
        self.exporter_metrics = on;
    }

    /// Names of the enabled collectors, in registration order.
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.collector.name()).collect()
    }

    /// Runs the selected collectors and returns all families, sorted.
    pub async fn gather(&self, sel: &Selection) -> Vec<MetricFamily> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut pending = Vec::new();
        let mut outcomes = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| sel.wants(e.collector.name()))
        {
            let name = e.collector.name();
            if e.running.swap(true, Ordering::AcqRel) {
                outcomes.push(Outcome {
                    name,
                    set: MetricSet::new(),
                    result: Err(Error::StillRunning { collector: name }),
                    elapsed: Duration::ZERO,
                });
                continue;
            }
            let (c, guard) = (e.collector.clone(), RunningGuard(e.running.clone()));
            let handle = tokio::task::spawn_blocking(move || {
                let _guard = guard;
                let start = Instant::now();
                let mut set = MetricSet::new();
                let result = c.update(&mut set);
                (set, result, start.elapsed())
            });
            pending.push((name, handle));
        }
        for (name, handle) in pending {
            outcomes.push(match tokio::time::timeout_at(deadline, handle).await {
                Ok(Ok((set, result, elapsed))) => Outcome {
                    name,
                    set,
                    result,
                    elapsed,
                },
                Ok(Err(join)) => Outcome {
                    name,
                    set: MetricSet::new(),
                    result: Err(Error::Sys {
                        call: "collector thread",
                        source: std::io::Error::other(join.to_string()),
                    }),
                    elapsed: Duration::ZERO,
                },
                Err(_) => Outcome {
                    name,
                    set: MetricSet::new(),
                    result: Err(Error::Timeout {
                        collector: name,
                        timeout_ms: self.timeout.as_millis() as u64,
                    }),
                    elapsed: self.timeout,
                },
            });
        }
        self.assemble(outcomes)
    }

    fn assemble(&self, outcomes: Vec<Outcome>) -> Vec<MetricFamily> {
        let mut all = MetricSet::new();
        for o in outcomes {
            let ok = match &o.result {
                Ok(()) => true,
                Err(e) if e.is_no_data() => {
                    tracing::debug!(collector = o.name, error = %e, "collector returned no data");
                    false
                }
                Err(e) => {
                    tracing::error!(collector = o.name, error = %e, "collector failed");
                    false
                }
            };
            let l = [("collector", o.name)];
            all.gauge(
                "node_scrape_collector_duration_seconds",
                "node_exporter: Duration of a collector scrape.",
                &l,
                o.elapsed.as_secs_f64(),
            );
            all.gauge(
                "node_scrape_collector_success",
                "node_exporter: Whether a collector succeeded.",
                &l,
                if ok { 1.0 } else { 0.0 },
            );
            all.merge(o.set);
        }
        crate::selfmetrics::build_info(&mut all);
        if self.exporter_metrics {
            crate::selfmetrics::process(&mut all);
        }
        all.into_sorted()
    }
}
