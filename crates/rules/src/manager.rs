//! The rule manager: runs every group on its own tokio task at its
//! interval (slotted by a hash of file and name, like Prometheus), applies
//! reloads while keeping state, restores `for` state at start-up, and hands
//! alerts to the notifier callback.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use beacon_model::Labels;
use beacon_promql::{Engine, EngineOptions};
use beacon_storage::{Appendable, Queryable};
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::alerting::AlertToSend;
use crate::error::Result;
use crate::group::Group;
use crate::rule::EvalEnv;
use crate::rulefmt::{GroupSpec, ParseOptions, load_files};

/// Receives alerts to send (the server adapts it to the notifier).
pub type NotifyFn = Arc<dyn Fn(Vec<AlertToSend>) + Send + Sync>;

/// Default `--rules.alert.resend-delay`.
pub const DEFAULT_RESEND_DELAY: Duration = Duration::from_secs(60);
/// Default `--rules.alert.for-grace-period`.
pub const DEFAULT_FOR_GRACE_PERIOD: Duration = Duration::from_secs(600);
/// Default `--rules.alert.for-outage-tolerance`.
pub const DEFAULT_OUTAGE_TOLERANCE: Duration = Duration::from_secs(3600);

/// What the manager evaluates against and how.
#[derive(Clone)]
pub struct ManagerOptions {
    pub queryable: Arc<dyn Queryable>,
    pub appendable: Arc<dyn Appendable>,
    /// The engine rule queries run on; share the server's to share its
    /// concurrency limit, or build one with `Engine::new(EngineOptions)`.
    pub engine: Engine,
    pub external_labels: Labels,
    pub external_url: String,
    pub notify: NotifyFn,
    pub resend_delay: Duration,
    pub for_grace_period: Duration,
    pub outage_tolerance: Duration,
    /// The global `rule_query_offset`, for groups without `query_offset`.
    pub default_query_offset: Duration,
    pub parse_options: ParseOptions,
}

impl std::fmt::Debug for ManagerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerOptions")
            .field("external_labels", &self.external_labels)
            .field("external_url", &self.external_url)
            .field("resend_delay", &self.resend_delay)
            .finish_non_exhaustive()
    }
}

impl ManagerOptions {
    /// Options with Prometheus's defaults and no external labels or URL.
    pub fn new(
        queryable: Arc<dyn Queryable>,
        appendable: Arc<dyn Appendable>,
        notify: NotifyFn,
    ) -> ManagerOptions {
        ManagerOptions {
            queryable,
            appendable,
            engine: Engine::new(EngineOptions::default()),
            external_labels: Labels::empty(),
            external_url: String::new(),
            notify,
            resend_delay: DEFAULT_RESEND_DELAY,
            for_grace_period: DEFAULT_FOR_GRACE_PERIOD,
            outage_tolerance: DEFAULT_OUTAGE_TOLERANCE,
            default_query_offset: Duration::ZERO,
            parse_options: ParseOptions::default(),
        }
    }
}

pub(crate) struct Shared {
    pub opts: ManagerOptions,
    pub engine: Engine,
    /// External labels and URL; a configuration reload may change them.
    external: parking_lot::RwLock<(Labels, String)>,
}

impl Shared {
    /// Runs `f` with an evaluation environment of the current settings.
    pub fn with_env<R>(&self, f: impl FnOnce(&EvalEnv<'_>) -> R) -> R {
        let (labels, url) = self.external.read().clone();
        f(&EvalEnv {
            queryable: &*self.opts.queryable,
            appendable: &*self.opts.appendable,
            engine: &self.engine,
            external_labels: &labels,
            external_url: &url,
            resend_delay_ms: self.opts.resend_delay.as_millis() as i64,
        })
    }
}

/// A group and the task evaluating it.
pub(crate) struct Running {
    pub group: Arc<Mutex<Group>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Runs rule groups; see the module docs.
pub struct Manager {
    shared: Arc<Shared>,
    pub(crate) groups: Mutex<Vec<Running>>,
    update_lock: tokio::sync::Mutex<()>,
    loaded: AtomicBool,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("groups", &self.groups.lock().len())
            .finish()
    }
}

fn now_ms() -> i64 {
    beacon_model::Timestamp::now().ms()
}

/// The group's slot within its interval, so groups spread over time.
fn slot_offset_ms(g: &Group) -> i64 {
    let key = format!("{};{}", g.spec.name, g.spec.file);
    (xxhash_rust::xxh3::xxh3_64(key.as_bytes()) % g.interval_ms as u64) as i64
}

/// The latest slotted evaluation time at or before `now`.
fn eval_timestamp(now: i64, interval: i64, offset: i64) -> i64 {
    let adj = now - offset;
    adj - adj.rem_euclid(interval) + offset
}

/// Sleeps until wall-clock `ts_ms`; false when asked to stop first.
async fn sleep_until(ts_ms: i64, stop: &mut watch::Receiver<bool>) -> bool {
    let wait = Duration::from_millis((ts_ms - now_ms()).max(0) as u64);
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(wait) => !*stop.borrow(),
        _ = stop.changed() => false,
    }
}

async fn run_group(
    group: Arc<Mutex<Group>>,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    restore: bool,
) {
    let (interval, offset) = {
        let g = group.lock();
        (g.interval_ms, slot_offset_ms(&g))
    };
    let mut ts = eval_timestamp(now_ms(), interval, offset) + interval;
    let mut iterations = 0u64;
    while sleep_until(ts, &mut stop).await {
        let (g, s) = (group.clone(), shared.clone());
        let do_restore = restore && iterations == 1;
        let res = tokio::task::spawn_blocking(move || {
            let o = &s.opts;
            s.with_env(|env| {
                let mut g = g.lock();
                let alerts = g.eval(env, ts);
                if do_restore {
                    let (grace, tolerance) = (
                        o.for_grace_period.as_millis(),
                        o.outage_tolerance.as_millis(),
                    );
                    g.restore_for_state(env, now_ms(), grace as i64, tolerance as i64);
                }
                alerts
            })
        })
        .await;
        match res {
            Ok(alerts) if !alerts.is_empty() => (shared.opts.notify)(alerts),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "rule group evaluation panicked"),
        }
        iterations += 1;
        let missed = (now_ms() - ts) / interval - 1;
        if missed > 0 {
            group.lock().metrics.iterations_missed += missed as u64;
        }
        ts += interval * (1 + missed.max(0));
    }
}

impl Manager {
    pub fn new(opts: ManagerOptions) -> Manager {
        let engine = opts.engine.clone();
        let external =
            parking_lot::RwLock::new((opts.external_labels.clone(), opts.external_url.clone()));
        Manager {
            shared: Arc::new(Shared {
                opts,
                engine,
                external,
            }),
            groups: Mutex::new(Vec::new()),
            update_lock: tokio::sync::Mutex::new(()),
            loaded: AtomicBool::new(false),
        }
    }

    fn start(&self, group: Group, restore: bool) -> Running {
        let group = Arc::new(Mutex::new(group));
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(run_group(group.clone(), self.shared.clone(), rx, restore));
        Running {
            group,
            stop: tx,
            task,
        }
    }

    async fn halt(r: Running) -> Arc<Mutex<Group>> {
        let _ = r.stop.send(true);
        if let Err(e) = r.task.await {
            tracing::error!(error = %e, "rule group task failed");
        }
        r.group
    }

    /// Loads `files` (globs) and makes the running groups match them.
    /// Unchanged groups keep running; changed ones restart with their
    /// state; removed ones stop and mark their series stale. On an error
    /// nothing changes.
    pub async fn update(&self, files: &[String], default_interval: Duration) -> Result<()> {
        let _serial = self.update_lock.lock().await;
        let specs = load_files(files, self.shared.opts.parse_options)?;
        self.apply(specs, default_interval).await;
        Ok(())
    }

    /// Like `update` with groups already loaded (tests, other sources).
    pub async fn apply(&self, specs: Vec<GroupSpec>, default_interval: Duration) {
        let first = !self.loaded.swap(true, Ordering::SeqCst);
        let interval_ms = default_interval.as_millis() as i64;
        let offset_ms = self.shared.opts.default_query_offset.as_millis() as i64;
        let mut old = std::mem::take(&mut *self.groups.lock());
        let mut next = Vec::with_capacity(specs.len());
        for spec in specs {
            let mut group = Group::new(spec, interval_ms, offset_ms);
            let pos = old.iter().position(|r| {
                let g = r.group.lock();
                g.spec.file == group.spec.file && g.spec.name == group.spec.name
            });
            if let Some(p) = pos {
                let same = {
                    let g = old[p].group.lock();
                    g.spec == group.spec
                        && g.interval_ms == group.interval_ms
                        && g.query_offset_ms == group.query_offset_ms
                };
                let o = old.remove(p);
                if same {
                    next.push(o);
                    continue;
                }
                let prev = Self::halt(o).await;
                group.copy_state(&prev.lock());
            } else if first {
                group.prepare_restore();
            }
            next.push(self.start(group, first));
        }
        for o in old {
            let g = Self::halt(o).await;
            let s = self.shared.clone();
            let _ = tokio::task::spawn_blocking(move || {
                s.with_env(|env| g.lock().mark_stale(env, now_ms()))
            })
            .await;
        }
        *self.groups.lock() = next;
    }

    /// Stops every group's task (without marking series stale, as on
    /// shutdown the database keeps them until their natural staleness).
    pub async fn stop(&self) {
        let all = std::mem::take(&mut *self.groups.lock());
        for r in all {
            Self::halt(r).await;
        }
    }

    /// Changes the external labels and URL templates and alerts see (a
    /// configuration reload); running groups pick them up at their next
    /// evaluation.
    pub fn set_external(&self, labels: Labels, url: String) {
        *self.shared.external.write() = (labels, url);
    }

    /// A snapshot of every group (cloned; evaluation goes on meanwhile).
    pub fn groups(&self) -> Vec<Group> {
        self.groups
            .lock()
            .iter()
            .map(|r| r.group.lock().clone())
            .collect()
    }
}
