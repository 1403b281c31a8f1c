//! [`ScrapePool`]: one job's targets and their loops.
//!
//! `sync` turns the job's discovered groups into targets, starts a loop for
//! each new target (first scrape at a hash-spread offset within the
//! interval, so a thousand targets do not all fire at once), keeps loops
//! of targets that are still there untouched, and stops the rest with
//! staleness markers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use beacon_discovery::TargetGroup;
use beacon_discovery::client::HttpClient;
use beacon_exposition::negotiate::accept_header;
use beacon_model::Labels;
use tokio::task::JoinHandle;

use crate::options::ScrapeOptions;
use crate::scrape_loop::{LoopConfig, LoopEnv, ScrapeLoop};
use crate::stats::ScrapeStats;
use crate::target::{Target, targets_from_groups};
use crate::{Error, Result};

/// A loop shared between its task and the pool.
type SharedLoop = Arc<tokio::sync::Mutex<ScrapeLoop>>;

struct LoopHandle {
    target: Arc<Target>,
    lp: SharedLoop,
    task: Option<JoinHandle<()>>,
}

/// One job's scrape pool.
pub struct ScrapePool {
    cfg: Arc<LoopConfig>,
    env: LoopEnv,
    run_loops: bool,
    loops: HashMap<u64, LoopHandle>,
    dropped: Vec<Labels>,
    last_groups: Vec<TargetGroup>,
    /// Seed mixed into offsets so two servers scraping the same targets
    /// spread differently.
    offset_seed: u64,
}

impl std::fmt::Debug for ScrapePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapePool")
            .field("job", &self.cfg.opts.job_name)
            .field("targets", &self.loops.len())
            .finish_non_exhaustive()
    }
}

/// Builds the loops' shared settings (client, `Accept` header).
pub fn loop_config(opts: &ScrapeOptions) -> Result<Arc<LoopConfig>> {
    let client = HttpClient::new(&opts.client, "Beacon/scrape").map_err(|e| Error::Config {
        job: opts.job_name.clone(),
        reason: e.to_string(),
    })?;
    Ok(Arc::new(LoopConfig {
        accept: accept_header(&opts.scrape_protocols, None),
        opts: opts.clone(),
        client,
    }))
}

impl ScrapePool {
    /// A pool; with `run_loops` false no tasks are spawned and scrapes
    /// happen only through [`ScrapePool::scrape_all`] (tests, tools).
    pub fn new(
        opts: &ScrapeOptions,
        env: LoopEnv,
        run_loops: bool,
        offset_seed: u64,
    ) -> Result<ScrapePool> {
        Ok(ScrapePool {
            cfg: loop_config(opts)?,
            env,
            run_loops,
            loops: HashMap::new(),
            dropped: Vec::new(),
            last_groups: Vec::new(),
            offset_seed,
        })
    }

    pub fn options(&self) -> &ScrapeOptions {
        &self.cfg.opts
    }

    /// Applies the job's current groups.
    pub async fn sync(&mut self, groups: &[TargetGroup]) {
        self.last_groups = groups.to_vec();
        let set = targets_from_groups(groups, &self.cfg.opts);
        for e in &set.errors {
            tracing::warn!(job = %self.cfg.opts.job_name, error = %e, "target dropped");
        }
        let keep = self.cfg.opts.limits.keep_dropped_targets;
        self.dropped = set.dropped;
        if keep > 0 {
            self.dropped.truncate(keep);
        }
        let limit = self.cfg.opts.limits.target_limit;
        let count = set.active.len();
        let forced = (limit > 0 && count > limit).then_some(Error::TargetLimit { count, limit });
        if forced.is_some() {
            ScrapeStats::inc(&self.env.stats.exceeded_target_limit);
        }
        let mut wanted: HashMap<u64, Target> = HashMap::new();
        for t in set.active {
            // Duplicate targets (same labels and URL) are scraped once.
            wanted.entry(t.hash).or_insert(t);
        }
        let gone: Vec<u64> = self
            .loops
            .keys()
            .filter(|h| !wanted.contains_key(h))
            .copied()
            .collect();
        for h in gone {
            if let Some(handle) = self.loops.remove(&h) {
                stop_loop(handle, &self.env, Stop::EndOfRun);
            }
        }
        for (h, t) in wanted {
            if let Some(handle) = self.loops.get(&h) {
                handle.lp.lock().await.forced_error = forced.clone();
                continue;
            }
            let target = Arc::new(t);
            let mut lp = ScrapeLoop::new(target.clone(), self.cfg.clone(), self.env.clone());
            lp.forced_error = forced.clone();
            let lp = Arc::new(tokio::sync::Mutex::new(lp));
            let task = self.spawn(&target, &lp);
            self.env.end_of_run.register(h);
            self.loops.insert(h, LoopHandle { target, lp, task });
        }
        self.env
            .stats
            .set_pool_targets(&self.cfg.opts.job_name, Some(self.loops.len()));
    }

    fn spawn(&self, target: &Target, lp: &SharedLoop) -> Option<JoinHandle<()>> {
        if !self.run_loops {
            return None;
        }
        let offset = spread_offset(
            target.hash ^ self.offset_seed,
            target.interval,
            (self.env.clock)(),
        );
        Some(tokio::spawn(run_loop(lp.clone(), target.interval, offset)))
    }

    /// Applies changed settings: loops keep their caches (so series that
    /// vanish across the reload still get staleness markers) and restart
    /// with the new settings; targets are recomputed from the last groups.
    pub async fn reload(&mut self, opts: &ScrapeOptions) -> Result<()> {
        let cfg = loop_config(opts)?;
        self.cfg = cfg.clone();
        let hashes: Vec<u64> = self.loops.keys().copied().collect();
        for h in hashes {
            let handle = self.loops.get_mut(&h).expect("key from the same map");
            if let Some(t) = handle.task.take() {
                t.abort();
            }
            handle.lp.lock().await.cfg = cfg.clone();
        }
        let groups = std::mem::take(&mut self.last_groups);
        self.sync(&groups).await;
        let missing: Vec<u64> = self
            .loops
            .iter()
            .filter(|(_, h)| h.task.is_none())
            .map(|(k, _)| *k)
            .collect();
        for h in missing {
            let handle = &self.loops[&h];
            let task = self.spawn(&handle.target, &handle.lp);
            self.loops.get_mut(&h).expect("key from the same map").task = task;
        }
        Ok(())
    }

    /// Stops every loop (the job left the configuration); their series
    /// go stale as for a vanished target.
    pub fn stop(&mut self) {
        self.stop_all(Stop::EndOfRun);
    }

    /// Stops every loop without staleness markers (server shutdown).
    pub fn shutdown(&mut self) {
        self.stop_all(Stop::Shutdown);
    }

    fn stop_all(&mut self, mode: Stop) {
        for (_, handle) in self.loops.drain() {
            stop_loop(handle, &self.env, mode);
        }
        self.env
            .stats
            .set_pool_targets(&self.cfg.opts.job_name, None);
    }

    /// Scrapes every target once, now, one after another.
    pub async fn scrape_all(&self) {
        for handle in self.loops.values() {
            let _ = handle.lp.lock().await.scrape_once().await;
        }
    }

    /// The active targets.
    pub fn active(&self) -> Vec<Arc<Target>> {
        let mut v: Vec<Arc<Target>> = self.loops.values().map(|h| h.target.clone()).collect();
        v.sort_by(|a, b| a.labels.cmp(&b.labels));
        v
    }

    /// Discovered label sets that relabelling dropped.
    pub fn dropped(&self) -> &[Labels] {
        &self.dropped
    }
}

/// Targets whose loops stopped but whose series may yet go stale:
/// Prometheus's end-of-run staleness. Shared by every pool of a manager, so
/// a target whose job was removed and added back by a later reload (a new
/// pool) counts as still there.
#[derive(Debug, Default)]
pub struct EndOfRun {
    /// Hashes of targets with a loop in some pool.
    live: parking_lot::Mutex<HashSet<u64>>,
    /// Waiting end-of-run tasks.
    pending: parking_lot::Mutex<Vec<JoinHandle<()>>>,
}

impl EndOfRun {
    fn register(&self, hash: u64) {
        self.live.lock().insert(hash);
    }

    fn unregister(&self, hash: u64) {
        self.live.lock().remove(&hash);
    }

    fn is_live(&self, hash: u64) -> bool {
        self.live.lock().contains(&hash)
    }

    fn track(&self, task: JoinHandle<()>) {
        let mut p = self.pending.lock();
        p.retain(|t| !t.is_finished());
        p.push(task);
    }

    /// End-of-run tasks still waiting.
    pub fn pending(&self) -> usize {
        let mut p = self.pending.lock();
        p.retain(|t| !t.is_finished());
        p.len()
    }

    /// Drops every waiting task: at shutdown Prometheus writes no
    /// markers, since the restarted server goes on with the same series.
    pub fn cancel_pending(&self) {
        for t in self.pending.lock().drain(..) {
            t.abort();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The target went away: markers after its next due scrape.
    EndOfRun,
    /// The server stops: no markers.
    Shutdown,
}

fn stop_loop(handle: LoopHandle, env: &LoopEnv, mode: Stop) {
    if let Some(t) = handle.task {
        t.abort();
    }
    let hash = handle.target.hash;
    env.end_of_run.unregister(hash);
    if mode == Stop::Shutdown {
        return;
    }
    let task = tokio::spawn(end_of_run_staleness(
        handle.lp,
        hash,
        handle.target.interval,
        env.end_of_run.clone(),
    ));
    env.end_of_run.track(task);
}

/// Waits until the stopped target's next scrape was due and one more
/// interval (plus 10% margin) has passed, so a re-created loop for the
/// same target has scraped by then; writes the markers at the due time
/// unless the target is live again.
async fn end_of_run_staleness(
    lp: SharedLoop,
    hash: u64,
    interval: Duration,
    end_of_run: Arc<EndOfRun>,
) {
    // A loop that never scraped wrote nothing to mark.
    let Some((last_t, last_start)) = lp.lock().await.last_scrape() else {
        return;
    };
    let (due_t, due) = next_due(last_t, last_start, interval, Instant::now());
    tokio::time::sleep_until((due + interval + interval / 10).into()).await;
    if end_of_run.is_live(hash) {
        return;
    }
    lp.lock().await.mark_stale_at(due_t);
}

/// The first scheduled scrape after `now` of a loop that last scraped at
/// `last_start` (sample time `last_t`): its sample time and instant.
pub fn next_due(
    last_t: i64,
    last_start: Instant,
    interval: Duration,
    now: Instant,
) -> (i64, Instant) {
    let iv = interval.max(Duration::from_millis(1));
    let behind = now.saturating_duration_since(last_start);
    let k = (behind.as_nanos() / iv.as_nanos()) as u32 + 1;
    (last_t + (iv * k).as_millis() as i64, last_start + iv * k)
}

/// Where in the interval a target's scrapes fall: a fixed phase derived
/// from its hash, so restarts keep the same spacing between samples.
pub fn spread_offset(hash: u64, interval: Duration, now_ms: i64) -> Duration {
    let iv = interval.as_millis().max(1) as u64;
    let phase = hash % iv;
    let now = now_ms.max(0) as u64 % iv;
    Duration::from_millis((phase + iv - now) % iv)
}

async fn run_loop(lp: SharedLoop, interval: Duration, offset: Duration) {
    tokio::time::sleep(offset).await;
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let _ = lp.lock().await.scrape_once().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_due_is_the_first_scheduled_scrape_after_now() {
        let iv = Duration::from_secs(10);
        let start = Instant::now();
        for (behind_ms, want_k) in [(0u64, 1i64), (3_000, 1), (10_000, 2), (25_000, 3)] {
            let now = start + Duration::from_millis(behind_ms);
            let (t, at) = next_due(1_000, start, iv, now);
            assert_eq!(t, 1_000 + want_k * 10_000, "{behind_ms}");
            assert_eq!(at, start + iv * want_k as u32);
            assert!(at > now);
        }
    }

    #[test]
    fn offsets_stay_within_the_interval_and_keep_phase() {
        let iv = Duration::from_secs(15);
        for h in [0u64, 1, 7_000, u64::MAX] {
            for now in [0i64, 1, 14_999, 1_700_000_000_123] {
                let o = spread_offset(h, iv, now);
                assert!(o < iv);
                // The first scrape lands on the target's phase.
                assert_eq!((now as u64 + o.as_millis() as u64) % 15_000, h % 15_000);
            }
        }
    }
}
