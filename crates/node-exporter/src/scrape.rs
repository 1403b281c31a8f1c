//! One scrape: the selected collectors run on a blocking thread, each
//! under its own timeout. A collector that overruns it (a hung NFS mount,
//! a wedged sysfs driver) reports `node_scrape_collector_success 0`, a
//! fresh thread runs the collectors after it, and the scrape returns on
//! time; the stuck collector is not started again while its earlier run
//! is still stuck, so stuck runs cannot pile up threads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    /// Set while a run of this collector that overran its timeout has not
    /// returned yet; such a collector is not started again.
    stuck: Arc<AtomicBool>,
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

/// A collector to run, with its stuck flag.
type Job = (Arc<dyn Collector>, Arc<AtomicBool>);

/// Collectors of one scrape, claimed in order by worker threads.
struct JobQueue {
    jobs: Mutex<Vec<Option<Job>>>,
    slots: Mutex<Vec<Slot>>,
    next: AtomicUsize,
    /// Signalled when a worker finds the queue empty.
    finished: tokio::sync::Notify,
}

/// What the scrape knows about one collector's run.
#[derive(Default)]
struct Slot {
    started: Option<Instant>,
    outcome: Option<Outcome>,
    /// The scrape gave up on it; a late result is dropped.
    abandoned: bool,
    /// The collector's stuck flag, set and cleared under the slots lock so
    /// a run that ends just as it times out cannot leave it set.
    stuck: Arc<AtomicBool>,
}

impl JobQueue {
    fn lock_slots(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts a blocking thread that runs queued collectors until none is left.
fn spawn_worker(queue: Arc<JobQueue>) {
    tokio::task::spawn_blocking(move || {
        loop {
            let i = queue.next.fetch_add(1, Ordering::AcqRel);
            let job = {
                let mut jobs = queue.jobs.lock().unwrap_or_else(|p| p.into_inner());
                match jobs.get_mut(i) {
                    Some(slot) => slot.take(),
                    None => {
                        queue.finished.notify_one();
                        return;
                    }
                }
            };
            let Some((collector, _)) = job else {
                continue;
            };
            let name = collector.name();
            let start = Instant::now();
            queue.lock_slots()[i].started = Some(start);
            let mut set = MetricSet::new();
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                collector.update(&mut set)
            }));
            let result = run.unwrap_or_else(|_| {
                Err(Error::Sys {
                    call: "collector",
                    source: std::io::Error::other("collector panicked"),
                })
            });
            let outcome = Outcome {
                name,
                set,
                result,
                elapsed: start.elapsed(),
            };
            let mut slots = queue.lock_slots();
            if slots[i].abandoned {
                slots[i].stuck.store(false, Ordering::Release);
            } else {
                slots[i].outcome = Some(outcome);
            }
        }
    });
}

fn failed(name: &'static str, e: Error, elapsed: Duration) -> Outcome {
    Outcome {
        name,
        set: MetricSet::new(),
        result: Err(e),
        elapsed,
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
                stuck: Arc::default(),
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
    ///
    /// Collectors run one after another on a single blocking thread
    /// (cheaper than a thread per collector: most take well under a
    /// millisecond). When one overruns its timeout it is reported failed
    /// and another thread takes over the collectors not yet started.
    pub async fn gather(&self, sel: &Selection) -> Vec<MetricFamily> {
        let mut outcomes = Vec::new();
        let mut jobs = Vec::new();
        for e in self
            .entries
            .iter()
            .filter(|e| sel.wants(e.collector.name()))
        {
            let name = e.collector.name();
            if e.stuck.load(Ordering::Acquire) {
                outcomes.push(failed(
                    name,
                    Error::StillRunning { collector: name },
                    Duration::ZERO,
                ));
                continue;
            }
            jobs.push((e.collector.clone(), e.stuck.clone()));
        }
        outcomes.extend(self.run_jobs(jobs).await);
        self.assemble(outcomes)
    }

    async fn run_jobs(&self, jobs: Vec<Job>) -> Vec<Outcome> {
        let names: Vec<&'static str> = jobs.iter().map(|(c, _)| c.name()).collect();
        let slots = jobs
            .iter()
            .map(|(_, stuck)| Slot {
                stuck: stuck.clone(),
                ..Slot::default()
            })
            .collect();
        let queue = Arc::new(JobQueue {
            jobs: Mutex::new(jobs.into_iter().map(Some).collect()),
            slots: Mutex::new(slots),
            next: AtomicUsize::new(0),
            finished: tokio::sync::Notify::new(),
        });
        spawn_worker(queue.clone());
        loop {
            // Workers report through the slots and wake this task only
            // when the queue is drained, not once per collector.
            let deadline = {
                let mut slots = queue.lock_slots();
                let now = Instant::now();
                for (i, slot) in slots.iter_mut().enumerate() {
                    let overdue = slot.started.is_some_and(|s| now >= s + self.timeout);
                    if slot.outcome.is_none() && overdue {
                        let timeout_ms = self.timeout.as_millis() as u64;
                        let e = Error::Timeout {
                            collector: names[i],
                            timeout_ms,
                        };
                        slot.outcome = Some(failed(names[i], e, self.timeout));
                        slot.abandoned = true;
                        slot.stuck.store(true, Ordering::Release);
                    }
                }
                if slots.iter().all(|s| s.outcome.is_some()) {
                    break;
                }
                slots
                    .iter()
                    .filter(|s| s.outcome.is_none())
                    .filter_map(|s| s.started)
                    .min()
                    .map_or(now + self.timeout, |s| s + self.timeout)
            };
            let deadline = tokio::time::Instant::from_std(deadline);
            tokio::select! {
                _ = queue.finished.notified() => {}
                _ = tokio::time::sleep_until(deadline) => {
                    // Whatever overran is marked at the top of the loop; a
                    // fresh thread takes the collectors not started yet.
                    spawn_worker(queue.clone());
                }
            }
        }
        let mut slots = queue.lock_slots();
        slots
            .iter_mut()
            .zip(names)
            .map(|(slot, name)| {
                slot.outcome.take().unwrap_or_else(|| {
                    let e = Error::Sys {
                        call: "collector thread",
                        source: std::io::Error::other("no outcome recorded"),
                    };
                    failed(name, e, Duration::ZERO)
                })
            })
            .collect()
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
