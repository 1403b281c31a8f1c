//! Loading `prometheus.yml`: from `--config.file`, or Beacon's embedded
//! default (which scrapes this server itself) when the default path is
//! absent and no `--config.file` was given.

use std::path::PathBuf;

use anyhow::Result;
use beacon_config::{Config, DEFAULT_CONFIG};

/// A configuration as loaded.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
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
    /// Reads and validates the configuration.
    pub fn load(&self) -> Result<LoadedConfig> {
        if !self.explicit && !self.path.exists() {
            let config = Config::from_yaml_str(DEFAULT_CONFIG, "embedded default configuration")?;
            return Ok(LoadedConfig { config, path: None });
        }
        let config = Config::load(&self.path)?;
        Ok(LoadedConfig {
            config,
            path: Some(self.path.clone()),
        })
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
        let d = implicit.load().unwrap();
        assert!(d.path.is_none());
        assert!(
            !d.config.scrape_configs.is_empty(),
            "the default scrapes itself"
        );
        let explicit = ConfigSource {
            path: path.clone(),
            explicit: true,
        };
        assert!(explicit.load().is_err());
        std::fs::write(&path, "scrape_configs:\n  - job_name: x\n    bogus: 1\n").unwrap();
        assert!(implicit.load().is_err());
        std::fs::write(&path, "scrape_configs:\n  - job_name: x\n").unwrap();
        assert_eq!(
            implicit.load().unwrap().config.scrape_configs[0].job_name,
            "x"
        );
    }
}
