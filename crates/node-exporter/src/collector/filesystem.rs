//! `node_filesystem_*` for every mount that passes the exclude filters.
//!
//! `statfs` on a hung network mount blocks in the kernel, so it never runs
//! on the scrape's own thread: a long-lived helper thread makes the calls
//! and the collector waits at most `--collector.filesystem.mount-timeout`
//! for each. A mount that does not answer is reported with
//! `node_filesystem_device_error 1` and remembered as stuck; later scrapes
//! skip it until its `statfs` finally returns.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};

use crate::collector::{Collector, Config, read_existing};
use crate::error::{Error, Result};
use crate::metric_set::MetricSet;

/// The parts of `statfs(2)` the collector reports.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsStats {
    pub block_bytes: u64,
    pub blocks: u64,
    pub blocks_free: u64,
    pub blocks_avail: u64,
    pub files: u64,
    pub files_free: u64,
}

/// How the collector stats a mount point; tests replace it to simulate a
/// hung mount.
pub type StatFn = Arc<dyn Fn(&Path) -> std::io::Result<FsStats> + Send + Sync>;

/// The real `statfs(2)`.
pub fn statfs(path: &Path) -> std::io::Result<FsStats> {
    let s = rustix::fs::statfs(path)?;
    Ok(FsStats {
        block_bytes: s.f_bsize as u64,
        blocks: s.f_blocks,
        blocks_free: s.f_bfree,
        blocks_avail: s.f_bavail,
        files: s.f_files,
        files_free: s.f_ffree,
    })
}

pub struct Filesystem {
    cfg: Arc<Config>,
    stat: StatFn,
    /// Mount points whose `statfs` has not returned yet.
    stuck: Arc<Mutex<HashSet<PathBuf>>>,
    /// The long-lived thread that makes the `statfs` calls, if running.
    worker: Mutex<Option<(mpsc::Sender<StatJob>, Current)>>,
}

/// One mount that passed the filters.
struct Mount {
    device: String,
    mountpoint: String,
    fstype: String,
    readonly: bool,
    stat_path: PathBuf,
}

impl Filesystem {
    pub fn new(cfg: Arc<Config>) -> Filesystem {
        Filesystem::with_stat(cfg, Arc::new(statfs))
    }

    /// A collector that stats mounts with `stat` instead of `statfs(2)`.
    pub fn with_stat(cfg: Arc<Config>, stat: StatFn) -> Filesystem {
        Filesystem {
            cfg,
            stat,
            stuck: Arc::default(),
            worker: Mutex::new(None),
        }
    }

    fn mounts(&self) -> Result<Vec<Mount>> {
        // PID 1's view is the host's when the exporter runs in a container.
        let text = match read_existing(&self.cfg.proc("1/mounts")) {
            Err(e) if e.is_no_data() => read_existing(&self.cfg.proc("mounts"))?,
            r => r?,
        };
        let mut seen = HashSet::new();
        let mut mounts = Vec::new();
        for line in text.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 4 {
                continue;
            }
            let device = unescape(cols[0]);
            let host_mountpoint = unescape(cols[1]);
            let Some(mountpoint) = self.cfg.strip_rootfs(&host_mountpoint) else {
                continue;
            };
            let fstype = cols[2];
            if self.cfg.mount_points_exclude.is_match(mountpoint)
                || self.cfg.fs_types_exclude.is_match(fstype)
            {
                continue;
            }
            if !seen.insert((device.clone(), mountpoint.to_string(), fstype.to_string())) {
                continue;
            }
            mounts.push(Mount {
                stat_path: self.cfg.root(mountpoint),
                mountpoint: mountpoint.to_string(),
                readonly: cols[3].split(',').any(|o| o == "ro"),
                device,
                fstype: fstype.to_string(),
            });
        }
        Ok(mounts)
    }

    /// Stats every mount off this thread; `None` marks a stuck mount.
    fn stat_all(&self, mounts: &[Mount]) -> Result<Vec<Option<std::io::Result<FsStats>>>> {
        let mut results: Vec<Option<std::io::Result<FsStats>>> =
            (0..mounts.len()).map(|_| None).collect();
        let mut pending: Vec<(usize, PathBuf)> = {
            let stuck = self.stuck.lock().unwrap_or_else(|p| p.into_inner());
            mounts
                .iter()
                .enumerate()
                .filter(|(_, m)| !stuck.contains(&m.stat_path))
                .map(|(i, m)| (i, m.stat_path.clone()))
                .collect()
        };
        // Each round either finishes or drops at least one mount; the bound
        // only guards against a worker that keeps dying.
        let mut rounds = mounts.len() + 2;
        while !pending.is_empty() && rounds > 0 {
            rounds -= 1;
            let (tx, rx) = mpsc::channel();
            let current = self.submit(StatJob {
                work: pending.clone(),
                reply: tx,
            })?;
            let mut got = 0;
            loop {
                match rx.recv_timeout(self.cfg.mount_timeout) {
                    Ok((idx, r)) => {
                        results[idx] = Some(r);
                        got += 1;
                        if got == pending.len() {
                            pending.clear();
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        // Mark the mount the worker is blocked on (it may be
                        // another scrape's), never one it has not reached.
                        let blocked = current.lock().unwrap_or_else(|p| p.into_inner()).clone();
                        if let Some(path) = &blocked {
                            tracing::error!(mountpoint = %path.display(), "mount point is not responding; marked stuck");
                            self.stuck
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(path.clone());
                        }
                        self.forget_worker(&current);
                        pending.drain(..got);
                        pending.retain(|(_, p)| Some(p) != blocked.as_ref());
                        break;
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        pending.clear();
                        break;
                    }
                }
            }
        }
        Ok(results)
    }

    /// Hands `job` to the stat thread, starting one when there is none;
    /// returns the slot where that thread shows the mount it is statting.
    fn submit(&self, job: StatJob) -> Result<Current> {
        let mut worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        let job = match worker.as_ref() {
            Some((tx, current)) => match tx.send(job) {
                Ok(()) => return Ok(current.clone()),
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        let (tx, rx) = mpsc::channel::<StatJob>();
        let current = Current::default();
        let (stat, stuck, cur) = (self.stat.clone(), self.stuck.clone(), current.clone());
        std::thread::Builder::new()
            .name("statfs".into())
            .spawn(move || stat_worker(rx, stat, stuck, cur))
            .map_err(|source| Error::Sys {
                call: "spawn statfs thread",
                source,
            })?;
        // The receiver lives in the new thread, so this send cannot fail.
        let _ = tx.send(job);
        *worker = Some((tx, current.clone()));
        Ok(current)
    }

    /// Drops the stat thread behind `current` (it is blocked in the
    /// kernel) so the next job gets a fresh one; it exits once its statfs
    /// returns.
    fn forget_worker(&self, current: &Current) {
        let mut worker = self.worker.lock().unwrap_or_else(|p| p.into_inner());
        if worker
            .as_ref()
            .is_some_and(|(_, c)| Arc::ptr_eq(c, current))
        {
            *worker = None;
        }
    }
}

/// The mount a stat thread is waiting on, if any.
type Current = Arc<Mutex<Option<PathBuf>>>;

/// Mounts to stat and where to send each result.
struct StatJob {
    work: Vec<(usize, PathBuf)>,
    reply: mpsc::Sender<(usize, std::io::Result<FsStats>)>,
}

/// Runs stat jobs until its sender is dropped. A mount that answers is no
/// longer stuck; a job whose collector stopped listening is abandoned.
fn stat_worker(
    jobs: mpsc::Receiver<StatJob>,
    stat: StatFn,
    stuck: Arc<Mutex<HashSet<PathBuf>>>,
    current: Current,
) {
    for job in jobs {
        for (idx, path) in job.work {
            *current.lock().unwrap_or_else(|p| p.into_inner()) = Some(path.clone());
            let r = stat(&path);
            *current.lock().unwrap_or_else(|p| p.into_inner()) = None;
            stuck
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&path);
            if job.reply.send((idx, r)).is_err() {
                break;
            }
        }
    }
}

impl Collector for Filesystem {
    fn name(&self) -> &'static str {
        "filesystem"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let mounts = self.mounts()?;
        let results = self.stat_all(&mounts)?;
        for (m, r) in mounts.iter().zip(results) {
            let l = [
                ("device", m.device.as_str()),
                ("fstype", m.fstype.as_str()),
                ("mountpoint", m.mountpoint.as_str()),
            ];
            let st = match r {
                Some(Ok(st)) => Some(st),
                Some(Err(e)) => {
                    tracing::debug!(mountpoint = %m.mountpoint, error = %e, "statfs failed");
                    None
                }
                None => None,
            };
            out.gauge(
                "node_filesystem_device_error",
                "Whether an error occurred while getting statistics for the given device.",
                &l,
                if st.is_some() { 0.0 } else { 1.0 },
            );
            out.gauge(
                "node_filesystem_readonly",
                "Filesystem read-only status.",
                &l,
                if m.readonly { 1.0 } else { 0.0 },
            );
            let Some(st) = st else { continue };
            let bs = st.block_bytes as f64;
            out.gauge(
                "node_filesystem_size_bytes",
                "Filesystem size in bytes.",
                &l,
                st.blocks as f64 * bs,
            );
            out.gauge(
                "node_filesystem_free_bytes",
                "Filesystem free space in bytes.",
                &l,
                st.blocks_free as f64 * bs,
            );
            out.gauge(
                "node_filesystem_avail_bytes",
                "Filesystem space available to non-root users in bytes.",
                &l,
                st.blocks_avail as f64 * bs,
            );
            out.gauge(
                "node_filesystem_files",
                "Filesystem total file nodes.",
                &l,
                st.files as f64,
            );
            out.gauge(
                "node_filesystem_files_free",
                "Filesystem total free file nodes.",
                &l,
                st.files_free as f64,
            );
        }
        Ok(())
    }
}

/// Undoes the octal escapes (`\040` for space) the kernel writes in mounts.
fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = (b[i] == b'\\' && i + 3 < b.len())
            .then(|| &b[i + 1..i + 4])
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0')))
            .and_then(|v| u8::try_from(v).ok());
        if let Some(byte) = octal {
            out.push(byte);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn unescapes_octal() {
        assert_eq!(unescape(r"/mnt/a\040b"), "/mnt/a b");
        assert_eq!(unescape(r"/x\0"), r"/x\0");
        assert_eq!(unescape(r"/x\777"), r"/x\777");
        assert_eq!(unescape("/plain"), "/plain");
    }
}
