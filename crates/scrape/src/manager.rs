//! [`ScrapeManager`]: the scrape side of the server. It owns one
//! [`ScrapePool`] per job, applies configuration reloads, follows
//! discovery's published groups, and answers the targets and metadata
//! pages from snapshots without blocking scrapes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use beacon_discovery::manager::JobGroups;
use beacon_model::Labels;
use beacon_storage::Appendable;
use tokio::sync::watch;

use crate::cache::MetricMetadata;
use crate::options::ScrapeOptions;
use crate::pool::{EndOfRun, ScrapePool};
use crate::scrape_loop::{Clock, LoopEnv, system_clock};
use crate::stats::{ScrapeStats, ScrapeStatsSnapshot};
use crate::target::{Health, Target};
use crate::{Error, Result};

/// How the manager runs.
#[derive(Clone)]
pub struct ManagerOptions {
    /// Spawn a task per target (false: scrape only on
    /// [`ScrapeManager::scrape_all`], for tests and tools).
    pub run_loops: bool,
    /// Time source for sample timestamps.
    pub clock: Clock,
    /// Mixed into the scrape offsets (Prometheus uses the hostname and
    /// external labels).
    pub offset_seed: u64,
    /// Replaces loopback hosts in `globalUrl`.
    pub hostname: String,
}

impl std::fmt::Debug for ManagerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerOptions")
            .field("run_loops", &self.run_loops)
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

impl Default for ManagerOptions {
    fn default() -> Self {
        let hostname = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".to_owned());
        ManagerOptions {
            run_loops: true,
            clock: system_clock(),
            offset_seed: xxhash_rust::xxh3::xxh3_64(hostname.as_bytes()),
            hostname,
        }
    }
}

/// One active target as the targets API shows it.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    pub discovered_labels: Labels,
    pub labels: Labels,
    pub scrape_pool: String,
    pub scrape_url: String,
    pub global_url: String,
    pub last_error: String,
    pub last_scrape: Option<SystemTime>,
    pub last_scrape_duration: Duration,
    pub health: Health,
    pub scrape_interval: Duration,
    pub scrape_timeout: Duration,
}

/// A target relabelling dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTarget {
    pub discovered_labels: Labels,
    pub scrape_pool: String,
}

/// Everything `/api/v1/targets` needs.
#[derive(Debug, Clone, Default)]
pub struct TargetsSnapshot {
    pub active: Vec<ActiveTarget>,
    pub dropped: Vec<DroppedTarget>,
}

/// One metadata row of `/api/v1/targets/metadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetMetadata {
    pub target: Labels,
    pub metadata: MetricMetadata,
}

#[derive(Default, Clone)]
struct PoolView {
    active: Vec<Arc<Target>>,
    dropped: Vec<Labels>,
}

/// Runs every job's scrape pool.
pub struct ScrapeManager {
    env: LoopEnv,
    options: ManagerOptions,
    pools: tokio::sync::Mutex<BTreeMap<String, ScrapePool>>,
    view: parking_lot::RwLock<BTreeMap<String, PoolView>>,
    groups: parking_lot::Mutex<JobGroups>,
    stop_tx: watch::Sender<bool>,
}

impl std::fmt::Debug for ScrapeManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeManager")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl ScrapeManager {
    pub fn new(appendable: Arc<dyn Appendable>, options: ManagerOptions) -> ScrapeManager {
        let (stop_tx, _) = watch::channel(false);
        ScrapeManager {
            env: LoopEnv {
                appendable,
                stats: Arc::new(ScrapeStats::default()),
                clock: options.clock.clone(),
                end_of_run: Arc::new(EndOfRun::default()),
            },
            options,
            pools: tokio::sync::Mutex::new(BTreeMap::new()),
            view: parking_lot::RwLock::new(BTreeMap::new()),
            groups: parking_lot::Mutex::new(JobGroups::new()),
            stop_tx,
        }
    }

    /// Applies a new set of jobs. Unchanged jobs keep scraping untouched;
    /// changed ones reload in place (keeping caches); removed ones stop,
    /// their series going stale after the next due scrape (see
    /// [`crate::pool`]). The first error is returned after every
    /// other job was applied; the failing job keeps its old settings.
    pub async fn apply_options(&self, jobs: &[ScrapeOptions]) -> Result<()> {
        let mut pools = self.pools.lock().await;
        let wanted: BTreeMap<&str, &ScrapeOptions> =
            jobs.iter().map(|j| (j.job_name.as_str(), j)).collect();
        let removed: Vec<String> = pools
            .keys()
            .filter(|k| !wanted.contains_key(k.as_str()))
            .cloned()
            .collect();
        for name in removed {
            if let Some(mut p) = pools.remove(&name) {
                p.stop();
            }
        }
        let mut first_err: Option<Error> = None;
        for (name, opts) in wanted {
            let result = match pools.get_mut(name) {
                Some(p) if p.options() == opts => Ok(()),
                Some(p) => {
                    ScrapeStats::inc(&self.env.stats.pool_reloads);
                    p.reload(opts).await
                }
                None => match ScrapePool::new(
                    opts,
                    self.env.clone(),
                    self.options.run_loops,
                    self.options.offset_seed,
                ) {
                    Ok(mut p) => {
                        let groups = self.groups.lock().get(name).cloned().unwrap_or_default();
                        p.sync(&groups).await;
                        pools.insert(name.to_owned(), p);
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = result {
                ScrapeStats::inc(&self.env.stats.pool_reloads_failed);
                first_err.get_or_insert(e);
            }
        }
        self.refresh_view(&pools);
        first_err.map_or(Ok(()), Err)
    }

    /// Applies a loaded configuration (see [`ScrapeManager::apply_options`]).
    /// Jobs whose settings cannot be used (an unreadable password file, say)
    /// keep running with their old settings and the first error is
    /// returned.
    pub async fn apply_config(&self, cfg: &beacon_config::Config) -> Result<()> {
        let mut jobs = Vec::new();
        let mut first_err = None;
        for c in cfg.all_scrape_configs() {
            match crate::from_config::scrape_options(c) {
                Ok(o) => jobs.push(o),
                Err(e) => {
                    // Keep the job's previous settings rather than stopping it.
                    let pools = self.pools.lock().await;
                    if let Some(p) = pools.get(&c.job_name) {
                        jobs.push(p.options().clone());
                    }
                    first_err.get_or_insert(e);
                }
            }
        }
        let applied = self.apply_options(&jobs).await;
        first_err.map_or(applied, Err)
    }

    /// Applies discovered groups for every job at once.
    pub async fn sync(&self, groups: &JobGroups) {
        *self.groups.lock() = groups.clone();
        let mut pools = self.pools.lock().await;
        for (job, pool) in pools.iter_mut() {
            let g = groups.get(job).map(Vec::as_slice).unwrap_or(&[]);
            pool.sync(g).await;
        }
        self.refresh_view(&pools);
    }

    fn refresh_view(&self, pools: &BTreeMap<String, ScrapePool>) {
        let view = pools
            .iter()
            .map(|(job, p)| {
                (
                    job.clone(),
                    PoolView {
                        active: p.active(),
                        dropped: p.dropped().to_vec(),
                    },
                )
            })
            .collect();
        *self.view.write() = view;
    }

    /// Follows discovery until [`ScrapeManager::stop`].
    pub async fn run(&self, mut discovered: watch::Receiver<JobGroups>) {
        let mut stop = self.stop_tx.subscribe();
        loop {
            let groups = discovered.borrow_and_update().clone();
            self.sync(&groups).await;
            tokio::select! {
                changed = discovered.changed() => if changed.is_err() { break },
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    }

    /// Stops every pool for server shutdown. Like Prometheus, no
    /// staleness markers are written (pending end-of-run markers of
    /// earlier removed targets are dropped too): the restarted server goes
    /// on with the same series, and queries see the gap as the usual
    /// 5-minute lookback running out.
    pub async fn stop(&self) {
        self.stop_tx.send_replace(true);
        let mut pools = self.pools.lock().await;
        for (_, mut p) in std::mem::take(&mut *pools) {
            p.shutdown();
        }
        self.env.end_of_run.cancel_pending();
        self.refresh_view(&pools);
    }

    /// End-of-run staleness tasks still waiting (targets that went away
    /// less than about two intervals ago).
    pub fn pending_staleness(&self) -> usize {
        self.env.end_of_run.pending()
    }

    /// Scrapes every target of every job once, now.
    pub async fn scrape_all(&self) {
        let pools = self.pools.lock().await;
        for p in pools.values() {
            p.scrape_all().await;
        }
    }

    /// The targets page.
    pub fn targets(&self) -> TargetsSnapshot {
        let view = self.view.read();
        let mut snap = TargetsSnapshot::default();
        for (job, v) in view.iter() {
            for t in &v.active {
                snap.active.push(ActiveTarget {
                    discovered_labels: t.discovered_labels.clone(),
                    labels: t.labels.clone(),
                    scrape_pool: job.clone(),
                    scrape_url: t.url.clone(),
                    global_url: global_url(&t.url, &self.options.hostname),
                    last_error: t.last_error(),
                    last_scrape: t.last_scrape(),
                    last_scrape_duration: t.last_scrape_duration(),
                    health: t.health(),
                    scrape_interval: t.interval,
                    scrape_timeout: t.timeout,
                });
            }
            for d in &v.dropped {
                snap.dropped.push(DroppedTarget {
                    discovered_labels: d.clone(),
                    scrape_pool: job.clone(),
                });
            }
        }
        snap
    }

    /// Metadata of every active target.
    pub fn metadata(&self) -> Vec<TargetMetadata> {
        let view = self.view.read();
        let mut out = Vec::new();
        for v in view.values() {
            for t in &v.active {
                for m in t.metadata().iter() {
                    out.push(TargetMetadata {
                        target: t.labels.clone(),
                        metadata: m.clone(),
                    });
                }
            }
        }
        out
    }

    /// Self-monitoring counters.
    pub fn stats(&self) -> ScrapeStatsSnapshot {
        self.env.stats.snapshot()
    }
}

/// The scrape URL with a loopback host replaced by `hostname`, so links
/// work from other machines.
fn global_url(url: &str, hostname: &str) -> String {
    for host in ["localhost", "127.0.0.1", "[::1]"] {
        for scheme in ["http://", "https://"] {
            let prefix = format!("{scheme}{host}");
            if let Some(rest) = url.strip_prefix(&prefix)
                && (rest.is_empty() || rest.starts_with([':', '/']))
            {
                return format!("{scheme}{hostname}{rest}");
            }
        }
    }
    url.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_urls() {
        assert_eq!(
            global_url("http://localhost:9100/metrics", "h"),
            "http://h:9100/metrics"
        );
        assert_eq!(global_url("https://127.0.0.1/x", "h"), "https://h/x");
        assert_eq!(
            global_url("http://localhostx:1/", "h"),
            "http://localhostx:1/"
        );
        assert_eq!(global_url("http://10.0.0.1:1/", "h"), "http://10.0.0.1:1/");
    }
}
