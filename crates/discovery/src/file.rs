//! `file_sd_configs`: target groups read from JSON or YAML files.
//!
//! Files are watched by polling their modification times every
//! [`FILE_POLL_INTERVAL`] (no inotify dependency, and it works on network
//! filesystems) and re-read in full every `refresh_interval` anyway. The
//! last path component may be a glob (`*`, `?`). A file that fails to
//! parse keeps its last good groups, so a half-written file never drops
//! targets; the error is logged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::{Error, Result, TargetGroup, parse_groups_json, parse_groups_yaml};

/// How often modification times are checked.
pub const FILE_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Files larger than this are refused rather than read into memory.
pub const FILE_SIZE_MAX_BYTES: u64 = 64 << 20;
/// The label holding the file a target came from.
pub const META_FILEPATH: &str = "__meta_filepath";

/// Settings of one `file_sd_configs` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSdConfig {
    /// Paths; the last component may contain `*` and `?`.
    pub files: Vec<String>,
    /// Re-read everything this often even when nothing seems changed.
    pub refresh_interval: Duration,
}

/// The state of one file SD provider.
#[derive(Debug)]
pub struct FileProvider {
    config: FileSdConfig,
    mtimes: BTreeMap<PathBuf, Option<SystemTime>>,
    last_good: BTreeMap<PathBuf, Vec<TargetGroup>>,
}

impl FileProvider {
    pub fn new(config: FileSdConfig) -> FileProvider {
        FileProvider {
            config,
            mtimes: BTreeMap::new(),
            last_good: BTreeMap::new(),
        }
    }

    pub fn config(&self) -> &FileSdConfig {
        &self.config
    }

    /// The files the patterns match now, sorted.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for pattern in &self.config.files {
            expand(Path::new(pattern), &mut out);
        }
        out.sort();
        out.dedup();
        out
    }

    fn current_mtimes(&self) -> BTreeMap<PathBuf, Option<SystemTime>> {
        self.files()
            .into_iter()
            .map(|p| {
                let m = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
                (p, m)
            })
            .collect()
    }

    /// True when a file appeared, vanished or was modified since the last
    /// [`refresh`](Self::refresh).
    pub fn changed(&self) -> bool {
        self.current_mtimes() != self.mtimes
    }

    /// Reads every matching file and returns all groups. A file that fails
    /// keeps its previous groups; vanished files lose theirs.
    pub fn refresh(&mut self) -> Vec<TargetGroup> {
        self.mtimes = self.current_mtimes();
        self.last_good.retain(|p, _| self.mtimes.contains_key(p));
        let paths: Vec<PathBuf> = self.mtimes.keys().cloned().collect();
        for path in paths {
            match read_file(&path) {
                Ok(groups) => {
                    self.last_good.insert(path, groups);
                }
                Err(e) => tracing::error!(error = %e, "file_sd: keeping last good target groups"),
            }
        }
        self.last_good.values().flatten().cloned().collect()
    }
}

/// Reads and parses one file, adding `__meta_filepath` to each group.
pub fn read_file(path: &Path) -> Result<Vec<TargetGroup>> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "json" | "yml" | "yaml") {
        return Err(Error::BadExtension {
            path: path.to_owned(),
        });
    }
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > FILE_SIZE_MAX_BYTES {
        return Err(Error::InvalidGroups {
            source_name: path.display().to_string(),
            reason: format!("file is {len} bytes, over the {FILE_SIZE_MAX_BYTES}-byte limit"),
        });
    }
    let body = std::fs::read(path).map_err(io)?;
    let name = path.display().to_string();
    let mut groups = if ext == "json" {
        parse_groups_json(&body, &name)?
    } else {
        parse_groups_yaml(&body, &name)?
    };
    for g in &mut groups {
        let mut b = g.labels.builder();
        b.set(META_FILEPATH, &name);
        g.labels = b.build();
    }
    Ok(groups)
}

/// Expands a glob in the last path component; a plain path is kept as is
/// if it exists.
fn expand(pattern: &Path, out: &mut Vec<PathBuf>) {
    let Some(name) = pattern.file_name().and_then(|n| n.to_str()) else {
        return;
    };
    if !name.contains(['*', '?']) {
        if pattern.exists() {
            out.push(pattern.to_owned());
        }
        return;
    }
    let dir = match pattern.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        if let Some(n) = entry.file_name().to_str()
            && glob_match(name.as_bytes(), n.as_bytes())
        {
            out.push(dir.join(n));
        }
    }
}

/// Shell-style match of `*` (any run) and `?` (one byte).
fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        for (p, n, want) in [
            ("*.json", "a.json", true),
            ("*.json", "a.yml", false),
            ("t?.yml", "t1.yml", true),
            ("t?.yml", "t12.yml", false),
            ("*", "", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ] {
            assert_eq!(glob_match(p.as_bytes(), n.as_bytes()), want, "{p} {n}");
        }
    }

    #[test]
    fn bad_file_keeps_last_good_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.json");
        std::fs::write(&path, r#"[{"targets":["a:1"]}]"#).unwrap();
        let mut p = FileProvider::new(FileSdConfig {
            files: vec![dir.path().join("*.json").display().to_string()],
            refresh_interval: Duration::from_secs(60),
        });
        assert!(p.changed());
        let g = p.refresh();
        assert_eq!(g.len(), 1);
        assert_eq!(g[0].labels.get(META_FILEPATH), Some(path.to_str().unwrap()));
        assert!(!p.changed());
        std::fs::write(&path, "[{").unwrap();
        let g = p.refresh();
        assert_eq!(g[0].targets[0].get("__address__"), Some("a:1"));
        std::fs::remove_file(&path).unwrap();
        assert!(p.changed());
        assert!(p.refresh().is_empty());
    }

    #[test]
    fn yaml_and_extension_check() {
        let dir = tempfile::tempdir().unwrap();
        let y = dir.path().join("t.yaml");
        std::fs::write(&y, "- targets: ['b:2']\n  labels: {team: x}\n").unwrap();
        let g = read_file(&y).unwrap();
        assert_eq!(g[0].labels.get("team"), Some("x"));
        let t = dir.path().join("t.txt");
        std::fs::write(&t, "").unwrap();
        assert!(matches!(read_file(&t), Err(Error::BadExtension { .. })));
    }
}
