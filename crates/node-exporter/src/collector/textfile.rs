//! Metrics from `*.prom` files in `--collector.textfile.directory`. A file
//! that does not parse sets `node_textfile_scrape_error 1` and is skipped;
//! the other files and collectors are unaffected.

use std::path::Path;
use std::sync::Arc;

use crate::collector::{Collector, Config};
use crate::error::Result;
use crate::metric_set::MetricSet;

pub struct Textfile(pub Arc<Config>);

impl Collector for Textfile {
    fn name(&self) -> &'static str {
        "textfile"
    }
    fn update(&self, out: &mut MetricSet) -> Result<()> {
        let mut error = false;
        if let Some(dir) = &self.0.textfile_directory {
            error = !read_dir(dir, out);
        }
        out.gauge(
            "node_textfile_scrape_error",
            "1 if there was an error opening or reading a file, 0 otherwise",
            &[],
            if error { 1.0 } else { 0.0 },
        );
        Ok(())
    }
}

/// Adds every good file's families to `out`; false when any file failed.
fn read_dir(dir: &Path, out: &mut MetricSet) -> bool {
    let names = match crate::fsread::list_dir(dir) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!(error = %e, "failed to read textfile collector directory");
            return false;
        }
    };
    let mut ok = true;
    for name in names.iter().filter(|n| n.ends_with(".prom")) {
        let path = dir.join(name);
        match read_file(&path, out) {
            Ok(mtime) => out.gauge(
                "node_textfile_mtime_seconds",
                "Unixtime mtime of textfiles successfully read.",
                &[("file", &path.to_string_lossy())],
                mtime,
            ),
            Err(msg) => {
                tracing::error!(file = %path.display(), error = %msg, "failed to collect textfile data");
                ok = false;
            }
        }
    }
    ok
}

/// Parses one file into `out` and returns its mtime in Unix seconds.
fn read_file(path: &Path, out: &mut MetricSet) -> std::result::Result<f64, String> {
    let text = crate::fsread::read_string(path).map_err(|e| e.to_string())?;
    let fams = crate::textparse::parse(&text)
        .map_err(|e| format!("{}:{}: {}", path.display(), e.line, e.msg))?;
    // Check every family before adding any, so a bad file adds nothing.
    for (f, _) in &fams {
        if out.contains(&f.name) && !f.name.starts_with("node_textfile_") {
            let existing = out.family(&f.name, "", f.metric_type).metric_type;
            if existing != f.metric_type {
                return Err(format!(
                    "{}: type of {} differs from an earlier file",
                    path.display(),
                    f.name
                ));
            }
        }
    }
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as f64)
        .unwrap_or(0.0);
    let default_help = format!("Metric read from {}", path.display());
    for (f, has_help) in fams {
        let help = if has_help {
            f.help.as_str()
        } else {
            default_help.as_str()
        };
        let fam = out.family(&f.name, help, f.metric_type);
        fam.metrics.extend(f.metrics);
    }
    Ok(mtime)
}
