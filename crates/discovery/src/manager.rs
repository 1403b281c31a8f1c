//! [`DiscoveryManager`]: runs every job's providers as tokio tasks and
//! publishes the latest target groups per job on a `watch` channel.
//!
//! **Invariant:** a job's published groups only ever come from providers of
//! its current configuration, except right after a reload: the old groups
//! stay published until every new provider has reported once, so a reload
//! never makes targets vanish for a moment (which would write staleness
//! markers and leave a gap).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::TargetGroup;
use crate::dns::{DnsProvider, DnsSdConfig};
use crate::ec2::{Ec2Provider, Ec2SdConfig};
use crate::file::{FILE_POLL_INTERVAL, FileProvider, FileSdConfig};
use crate::http::{HttpProvider, HttpSdConfig};

/// The latest groups of every job, keyed by job name.
pub type JobGroups = BTreeMap<String, Vec<TargetGroup>>;

/// One discovery mechanism of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdConfig {
    /// `static_configs`, already turned into groups.
    Static(Vec<TargetGroup>),
    File(FileSdConfig),
    Http(HttpSdConfig),
    Dns(DnsSdConfig),
    Ec2(Ec2SdConfig),
}

impl SdConfig {
    /// The mechanism's name as in Prometheus's `mechanism` label.
    pub fn mechanism(&self) -> &'static str {
        match self {
            SdConfig::Static(_) => "static",
            SdConfig::File(_) => "file",
            SdConfig::Http(_) => "http",
            SdConfig::Dns(_) => "dns",
            SdConfig::Ec2(_) => "ec2",
        }
    }
}

/// Self-monitoring counters (`prometheus_sd_*`).
#[derive(Debug, Default)]
pub struct DiscoveryStats {
    /// `prometheus_sd_refresh_failures_total`, all mechanisms together.
    pub refresh_failures_total: AtomicU64,
    /// Successful refreshes.
    pub refreshes_total: AtomicU64,
}

/// Per job: the generation of its providers and what each last reported.
struct JobState {
    generation: u64,
    reported: Vec<Option<Vec<TargetGroup>>>,
}

struct Shared {
    state: parking_lot::Mutex<BTreeMap<String, JobState>>,
    tx: watch::Sender<JobGroups>,
    stats: DiscoveryStats,
}

struct Job {
    configs: Vec<SdConfig>,
    tasks: Vec<JoinHandle<()>>,
}

/// Runs providers and publishes their groups.
pub struct DiscoveryManager {
    shared: Arc<Shared>,
    jobs: BTreeMap<String, Job>,
    generation: u64,
}

impl std::fmt::Debug for DiscoveryManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscoveryManager")
            .field("jobs", &self.jobs.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Default for DiscoveryManager {
    fn default() -> Self {
        DiscoveryManager::new()
    }
}

impl DiscoveryManager {
    pub fn new() -> DiscoveryManager {
        let (tx, _) = watch::channel(JobGroups::new());
        DiscoveryManager {
            shared: Arc::new(Shared {
                state: parking_lot::Mutex::new(BTreeMap::new()),
                tx,
                stats: DiscoveryStats::default(),
            }),
            jobs: BTreeMap::new(),
            generation: 0,
        }
    }

    /// A receiver of the latest groups per job.
    pub fn subscribe(&self) -> watch::Receiver<JobGroups> {
        self.shared.tx.subscribe()
    }

    pub fn stats(&self) -> &DiscoveryStats {
        &self.shared.stats
    }

    /// Applies a new configuration: jobs with unchanged discovery settings
    /// keep their providers; changed jobs get new ones; removed jobs are
    /// stopped and unpublished. Must be called inside a tokio runtime.
    pub fn apply_config(&mut self, jobs: BTreeMap<String, Vec<SdConfig>>) {
        let removed: Vec<String> = self
            .jobs
            .keys()
            .filter(|j| !jobs.contains_key(*j))
            .cloned()
            .collect();
        for name in removed {
            self.stop_job(&name);
            self.shared.state.lock().remove(&name);
            self.shared.tx.send_modify(|m| {
                m.remove(&name);
            });
        }
        for (name, configs) in jobs {
            if self.jobs.get(&name).is_some_and(|j| j.configs == configs) {
                continue;
            }
            self.stop_job(&name);
            self.generation += 1;
            let generation = self.generation;
            {
                let mut state = self.shared.state.lock();
                let entry = state.entry(name.clone()).or_insert(JobState {
                    generation,
                    reported: Vec::new(),
                });
                entry.generation = generation;
                entry.reported = vec![None; configs.len()];
            }
            let tasks = configs
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let publisher = Publisher {
                        shared: self.shared.clone(),
                        job: name.clone(),
                        generation,
                        index: i,
                    };
                    tokio::spawn(run_provider(c.clone(), publisher))
                })
                .collect();
            if configs.is_empty() {
                self.shared.tx.send_modify(|m| {
                    m.insert(name.clone(), Vec::new());
                });
            }
            self.jobs.insert(name, Job { configs, tasks });
        }
    }

    fn stop_job(&mut self, name: &str) {
        if let Some(job) = self.jobs.remove(name) {
            for t in job.tasks {
                t.abort();
            }
        }
    }

    /// Stops every provider.
    pub fn stop(&mut self) {
        let names: Vec<String> = self.jobs.keys().cloned().collect();
        for n in names {
            self.stop_job(&n);
        }
    }
}

impl Drop for DiscoveryManager {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where one provider task reports.
struct Publisher {
    shared: Arc<Shared>,
    job: String,
    generation: u64,
    index: usize,
}

impl Publisher {
    fn publish(&self, groups: Vec<TargetGroup>) {
        self.shared
            .stats
            .refreshes_total
            .fetch_add(1, Ordering::Relaxed);
        let combined = {
            let mut state = self.shared.state.lock();
            let Some(js) = state.get_mut(&self.job) else {
                return;
            };
            // A task of a replaced configuration may still be finishing.
            if js.generation != self.generation {
                return;
            }
            js.reported[self.index] = Some(groups);
            if js.reported.iter().any(Option::is_none) {
                return;
            }
            js.reported
                .iter()
                .flatten()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
        };
        self.shared.tx.send_if_modified(|m| {
            if m.get(&self.job) == Some(&combined) {
                return false;
            }
            m.insert(self.job.clone(), combined);
            true
        });
    }

    fn failed(&self, mechanism: &str, error: &dyn std::fmt::Display) {
        self.shared
            .stats
            .refresh_failures_total
            .fetch_add(1, Ordering::Relaxed);
        tracing::warn!(job = %self.job, mechanism, %error, "discovery refresh failed; keeping last good groups");
    }
}

/// Runs one provider until aborted.
async fn run_provider(config: SdConfig, p: Publisher) {
    let mechanism = config.mechanism();
    match config {
        SdConfig::Static(groups) => p.publish(groups),
        SdConfig::File(c) => run_file(FileProvider::new(c), &p).await,
        SdConfig::Http(c) => match HttpProvider::new(c) {
            Ok(h) => {
                let every = h.config().refresh_interval;
                poll(every, &p, mechanism, || h.refresh()).await
            }
            Err(e) => give_up(&p, mechanism, &e),
        },
        SdConfig::Dns(c) => match DnsProvider::new(c) {
            Ok(d) => {
                let every = d.config().refresh_interval;
                poll(every, &p, mechanism, || d.refresh()).await
            }
            Err(e) => give_up(&p, mechanism, &e),
        },
        SdConfig::Ec2(c) => match Ec2Provider::new(c) {
            Ok(e) => {
                let every = e.config().refresh_interval;
                poll(every, &p, mechanism, || e.refresh()).await
            }
            Err(e) => give_up(&p, mechanism, &e),
        },
    }
}

/// A provider that cannot even start reports no groups, so the rest of
/// the job still works.
fn give_up(p: &Publisher, mechanism: &str, e: &crate::Error) {
    p.failed(mechanism, e);
    p.publish(Vec::new());
}

/// Refreshes now and then every `every`; failures keep the last groups.
async fn poll<F, Fut>(every: Duration, p: &Publisher, mechanism: &str, refresh: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = crate::Result<Vec<TargetGroup>>>,
{
    // A zero interval would spin.
    let every = every.max(Duration::from_millis(100));
    loop {
        match refresh().await {
            Ok(g) => p.publish(g),
            Err(e) => p.failed(mechanism, &e),
        }
        tokio::time::sleep(every).await;
    }
}

async fn run_file(mut f: FileProvider, p: &Publisher) {
    let every = f.config().refresh_interval.max(Duration::from_millis(100));
    let tick = FILE_POLL_INTERVAL.min(every);
    p.publish(f.refresh());
    let mut last_full = Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        if f.changed() || last_full.elapsed() >= every {
            p.publish(f.refresh());
            last_full = Instant::now();
        }
    }
}
