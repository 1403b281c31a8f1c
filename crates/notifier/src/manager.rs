//! [`Notifier`]: the queue, the send loop, Alertmanager discovery per set,
//! reloads and shutdown.
//!
//! **Invariant:** the state lock is never held across an `.await`; a
//! batch works on a snapshot of the sets taken when it starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use beacon_config::{AlertmanagerConfig, Config, RelabelConfig, ScrapeConfig};
use beacon_discovery::DiscoveryManager;
use beacon_discovery::client::HttpClient;
use beacon_discovery::from_config::{http_settings, sd_configs};
use beacon_discovery::manager::JobGroups;
use beacon_exposition::family::MetricFamily;
use beacon_model::Labels;
use parking_lot::Mutex;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::metrics::{Gauges, Metrics};
use crate::queue::{DEFAULT_QUEUE_CAPACITY, MAX_BATCH_SIZE, Queue};
use crate::send::{SetSnapshot, send_all};
use crate::targets::{Discovered, alertmanagers};
use crate::{Alert, Error, Result};

/// How long [`Notifier::stop`] keeps sending queued alerts by default.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(5);

/// The `User-Agent` of requests to Alertmanager.
pub const USER_AGENT: &str = concat!("Beacon/", env!("CARGO_PKG_VERSION"));

/// Settings fixed for the notifier's lifetime (command-line flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// `--alertmanager.notification-queue-capacity`.
    pub queue_capacity: usize,
    /// `--alertmanager.drain-notification-queue-on-shutdown`.
    pub drain_on_shutdown: bool,
    /// How long draining may take before what is left is dropped.
    pub drain_deadline: Duration,
    /// Alerts per request; Prometheus's 64 unless a test says otherwise.
    pub max_batch_size: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            drain_on_shutdown: true,
            drain_deadline: DEFAULT_DRAIN_DEADLINE,
            max_batch_size: MAX_BATCH_SIZE,
        }
    }
}

/// One `alertmanagers` entry and what its discovery found.
struct AmSet {
    /// `config-<index>`: also its job name in the discovery manager.
    name: String,
    cfg: Arc<AlertmanagerConfig>,
    client: HttpClient,
    found: Discovered,
}

struct State {
    queue: Queue,
    external_labels: Labels,
    relabel: Arc<[RelabelConfig]>,
    sets: Vec<AmSet>,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the send loop; a stored permit means "the queue has items".
    more: Notify,
    metrics: Metrics,
    opts: Options,
    /// Alerts of the batch being sent, so a stop that has to cut it off
    /// can count them as dropped.
    in_flight: AtomicUsize,
}

/// Sends alerts to the Alertmanagers of the current configuration.
///
/// Create it inside a tokio runtime; call [`Notifier::apply_config`] to
/// give it Alertmanagers and [`Notifier::stop`] before shutting down.
pub struct Notifier {
    shared: Arc<Shared>,
    discovery: Mutex<DiscoveryManager>,
    groups: watch::Receiver<JobGroups>,
    /// Carries the drain deadline once stopping starts.
    stop_tx: watch::Sender<Option<Instant>>,
    sender: Mutex<Option<JoinHandle<()>>>,
    watcher: JoinHandle<()>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("opts", &self.shared.opts)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// A notifier with no Alertmanagers yet; starts its tasks.
    pub fn new(opts: Options) -> Notifier {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: Queue::new(opts.queue_capacity),
                external_labels: Labels::empty(),
                relabel: Arc::from(Vec::new()),
                sets: Vec::new(),
            }),
            more: Notify::new(),
            metrics: Metrics::default(),
            opts,
            in_flight: AtomicUsize::new(0),
        });
        let discovery = DiscoveryManager::new();
        let groups = discovery.subscribe();
        let (stop_tx, stop_rx) = watch::channel(None);
        let sender = tokio::spawn(send_loop(shared.clone(), stop_rx));
        let watcher = tokio::spawn(watch_groups(shared.clone(), groups.clone()));
        Notifier {
            shared,
            discovery: Mutex::new(discovery),
            groups,
            stop_tx,
            sender: Mutex::new(Some(sender)),
            watcher,
        }
    }

    /// Applies `alerting` and `global.external_labels` of a (re)loaded
    /// configuration. New sets replace the old ones; queued alerts stay.
    /// On error nothing changes.
    pub fn apply_config(&self, cfg: &Config) -> Result<()> {
        let mut sets = Vec::new();
        let mut jobs = std::collections::BTreeMap::new();
        for (i, am) in cfg.alerting.alertmanagers.iter().enumerate() {
            let name = format!("config-{i}");
            let set_err = |source| Error::Set {
                set: name.clone(),
                source,
            };
            let client = http_settings(&am.http)
                .and_then(|s| HttpClient::new(&s, USER_AGENT))
                .map_err(set_err)?;
            // Discovery settings are shared with scrape jobs; reuse their
            // conversion through a job holding only this set's discovery.
            let job = ScrapeConfig {
                service_discovery: am.service_discovery.clone(),
                ..ScrapeConfig::default()
            };
            jobs.insert(name.clone(), sd_configs(&job).map_err(set_err)?);
            sets.push(AmSet {
                name,
                cfg: Arc::new(am.clone()),
                client,
                found: Discovered::default(),
            });
        }
        let external = &cfg.global.external_labels.0;
        {
            let mut st = self.shared.state.lock();
            st.external_labels =
                Labels::from_pairs(external.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            st.relabel = Arc::from(cfg.alerting.alert_relabel_configs.clone());
            st.sets = sets;
        }
        self.discovery.lock().apply_config(jobs);
        // Providers whose settings did not change publish nothing new, so
        // the new sets start from what is published now.
        self.shared.sync(&self.groups);
        Ok(())
    }

    /// Adds external labels, applies `alert_relabel_configs` and queues
    /// what survives; the send loop picks the alerts up at once. After
    /// [`Notifier::stop`] nothing would send them, so they are counted as
    /// dropped.
    pub fn send(&self, alerts: Vec<Alert>) {
        if self.stop_tx.borrow().is_some() {
            self.shared.metrics.add_dropped(alerts.len());
            return;
        }
        let (external, relabel) = {
            let st = self.shared.state.lock();
            (st.external_labels.clone(), st.relabel.clone())
        };
        let alerts = crate::alert::relabel_alerts(&alerts, &external, &relabel);
        if alerts.is_empty() {
            return;
        }
        let dropped = self.shared.state.lock().queue.push(alerts);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "alert notification queue full; dropped the oldest alerts"
            );
            self.shared.metrics.add_dropped(dropped);
        }
        self.shared.more.notify_one();
    }

    /// URLs of the Alertmanagers alerts are sent to.
    pub fn active_alertmanagers(&self) -> Vec<String> {
        let st = self.shared.state.lock();
        st.sets
            .iter()
            .flat_map(|s| s.found.active.clone())
            .collect()
    }

    /// URLs of discovered Alertmanagers that `relabel_configs` dropped.
    pub fn dropped_alertmanagers(&self) -> Vec<String> {
        let st = self.shared.state.lock();
        st.sets
            .iter()
            .flat_map(|s| s.found.dropped.clone())
            .collect()
    }

    /// Alerts waiting in the queue.
    pub fn queue_len(&self) -> usize {
        self.shared.state.lock().queue.len()
    }

    /// `prometheus_notifications_dropped_total`.
    pub fn dropped_total(&self) -> u64 {
        self.shared.metrics.dropped()
    }

    /// `(sent, errors)` alert counts of one Alertmanager URL.
    pub fn alertmanager_counts(&self, url: &str) -> Option<(u64, u64)> {
        self.shared.metrics.stats(url).map(|s| (s.sent, s.errors))
    }

    /// Appends the `prometheus_notifications_*` families.
    pub fn collect(&self, out: &mut Vec<MetricFamily>) {
        let g = {
            let st = self.shared.state.lock();
            Gauges {
                queue_length: st.queue.len(),
                queue_capacity: st.queue.capacity(),
                discovered: st.sets.iter().map(|s| s.found.active.len()).sum(),
            }
        };
        self.shared.metrics.collect(g, out);
    }

    /// Stops discovery and the send loop. With `drain_on_shutdown`, queued
    /// alerts keep being sent until the queue is empty or the drain
    /// deadline passes; whatever is left then is counted as dropped.
    pub async fn stop(&self) {
        let deadline = Instant::now() + self.shared.opts.drain_deadline;
        self.stop_tx.send_replace(Some(deadline));
        self.watcher.abort();
        self.discovery.lock().stop();
        let handle = self.sender.lock().take();
        if let Some(mut h) = handle {
            // A batch in flight when stop was asked may outlive the
            // deadline by its own timeout; cut it off a little later.
            let cutoff = deadline + STOP_GRACE;
            if tokio::time::timeout_at(cutoff, &mut h).await.is_err() {
                h.abort();
                let cut = self.shared.in_flight.swap(0, Ordering::Relaxed);
                tracing::warn!(cut, "notifier stop deadline passed; cutting off a batch");
                self.shared.metrics.add_dropped(cut);
            }
        }
        // Whatever is still queued (after a cut-off, or sent concurrently
        // with stopping) will never be sent.
        let left = self.shared.state.lock().queue.clear();
        self.shared.metrics.add_dropped(left);
    }
}

/// Extra time [`Notifier::stop`] waits beyond the drain deadline.
const STOP_GRACE: Duration = Duration::from_millis(500);

impl Drop for Notifier {
    fn drop(&mut self) {
        self.watcher.abort();
        if let Some(h) = self.sender.lock().take() {
            h.abort();
        }
    }
}

impl Shared {
    /// Re-derives every set's Alertmanagers from the latest published
    /// groups. The groups are read under the state lock so a concurrent
    /// reload and discovery update cannot apply stale groups last.
    fn sync(&self, groups: &watch::Receiver<JobGroups>) {
        let mut st = self.state.lock();
        let groups = groups.borrow();
        for set in &mut st.sets {
            set.found = groups
                .get(&set.name)
                .map(|g| alertmanagers(g, &set.cfg))
                .unwrap_or_default();
        }
        drop(groups);
        let urls = st
            .sets
            .iter()
            .flat_map(|s| s.found.active.iter().map(String::as_str));
        self.metrics.retain_alertmanagers(urls);
    }

    fn snapshot(&self) -> Vec<SetSnapshot> {
        let st = self.state.lock();
        st.sets
            .iter()
            .map(|s| SetSnapshot {
                cfg: s.cfg.clone(),
                client: s.client.clone(),
                urls: s.found.active.clone(),
            })
            .collect()
    }

    fn next_batch(&self) -> Vec<Alert> {
        self.state.lock().queue.next_batch(self.opts.max_batch_size)
    }

    async fn send_batch(&self, batch: Vec<Alert>) {
        self.in_flight.store(batch.len(), Ordering::Relaxed);
        let delivered = send_all(self.snapshot(), &batch, &self.metrics).await;
        self.in_flight.store(0, Ordering::Relaxed);
        if !delivered {
            self.metrics.add_dropped(batch.len());
        }
    }

    /// Sends what is queued until empty or `deadline`; drops the rest.
    async fn drain(&self, deadline: Instant) {
        if !self.opts.drain_on_shutdown {
            let left = self.state.lock().queue.clear();
            if left > 0 {
                tracing::warn!(
                    left,
                    "draining on shutdown is disabled; dropping queued alerts"
                );
            }
            self.metrics.add_dropped(left);
            return;
        }
        loop {
            let batch = self.next_batch();
            if batch.is_empty() {
                return;
            }
            let n = batch.len();
            if tokio::time::timeout_at(deadline, self.send_batch(batch))
                .await
                .is_err()
            {
                self.in_flight.store(0, Ordering::Relaxed);
                let left = n + self.state.lock().queue.clear();
                tracing::warn!(left, "drain deadline passed; dropping queued alerts");
                self.metrics.add_dropped(left);
                return;
            }
        }
    }
}

/// Sends batches while the queue has items, until stopping starts; then
/// drains.
async fn send_loop(shared: Arc<Shared>, mut stop: watch::Receiver<Option<Instant>>) {
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(Option::is_some) => break,
            _ = shared.more.notified() => {}
        }
        while stop.borrow().is_none() {
            let batch = shared.next_batch();
            if batch.is_empty() {
                break;
            }
            shared.send_batch(batch).await;
        }
    }
    let deadline = stop.borrow().unwrap_or_else(Instant::now);
    shared.drain(deadline).await;
}

/// Follows discovery: every published change re-derives the sets.
async fn watch_groups(shared: Arc<Shared>, mut groups: watch::Receiver<JobGroups>) {
    while groups.changed().await.is_ok() {
        shared.sync(&groups);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}

    #[tokio::test]
    async fn shareable_across_tasks() {
        let n = Notifier::new(Options::default());
        send_sync(&n);
        // The server awaits these from spawned tasks.
        send(n.stop());
        send(send_loop(n.shared.clone(), n.stop_tx.subscribe()));
        n.stop().await;
    }
}
