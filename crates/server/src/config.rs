//! Loading `prometheus.yml`: from `--config.file`, or the embedded
//! default (scrape this server itself) when the default path is absent.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The configuration used when no `prometheus.yml` exists and no
/// `--config.file` was given: scrape this server every 15 s.
pub const DEFAULT_CONFIG: &str = "\
global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['localhost:9090']
";

/// A configuration as loaded.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The YAML text (shown by `/api/v1/status/config`).
    pub yaml: String,
    /// Where it came from; `None` for the embedded default.
    pub path: Option<PathBuf>,
}

/// Where to read the configuration.
#[derive(Debug, Clone)]
pub struct ConfigSource {
    pub path: PathBuf,
    /// True when `--config.file` was given on the command line: then a
    /// missing file is an error rather than a reason to use the default.
    pub explicit: bool,
}

impl ConfigSource {
    /// Reads and checks the configuration.
    pub fn load(&self) -> Result<LoadedConfig> {
        if !self.explicit && !self.path.exists() {
            return Ok(LoadedConfig {
                yaml: DEFAULT_CONFIG.to_owned(),
                path: None,
            });
        }
        load_file(&self.path)
    }
}

fn load_file(path: &Path) -> Result<LoadedConfig> {
    let yaml = std::fs::read_to_string(path)
        .with_context(|| format!("reading configuration file {}", path.display()))?;
    check(&yaml).with_context(|| format!("parsing configuration file {}", path.display()))?;
    Ok(LoadedConfig {
        yaml,
        path: Some(path.to_owned()),
    })
}

/// Checks that the text is a YAML mapping.
fn check(yaml: &str) -> Result<()> {
    let v: serde_json::Value = serde_saphyr::from_str(yaml).map_err(|e| anyhow::anyhow!("{e}"))?;
    match v {
        serde_json::Value::Object(_) | serde_json::Value::Null => Ok(()),
        _ => anyhow::bail!("the configuration must be a YAML mapping"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_when_absent_error_when_explicit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prometheus.yml");
        let implicit = ConfigSource {
            path: path.clone(),
            explicit: false,
        };
        assert!(implicit.load().unwrap().path.is_none());
        let explicit = ConfigSource {
            path: path.clone(),
            explicit: true,
        };
        assert!(explicit.load().is_err());
        std::fs::write(&path, "global: [unclosed").unwrap();
        assert!(implicit.load().is_err());
        std::fs::write(&path, DEFAULT_CONFIG).unwrap();
        assert_eq!(implicit.load().unwrap().yaml, DEFAULT_CONFIG);
    }
}
