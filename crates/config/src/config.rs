//! The whole `prometheus.yml`: loading, cross-section validation,
//! `scrape_config_files`, and printing back for `/api/v1/status/config`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::alerting::AlertingConfig;
use crate::global::GlobalConfig;
use crate::remote::{RemoteReadConfig, RemoteWriteConfig};
use crate::runtime::{OtlpConfig, RuntimeConfig, StorageConfig, TracingConfig};
use crate::scrape::ScrapeConfig;
use crate::yaml::{
    self, CONFIG_FILE_MAX_BYTES, Cx, Fields, Node, Out, Pos, Section, Value, pos, scalar_text,
};
use crate::{Error, Result, glob};

/// The configuration the server runs with when given none: scrape itself
/// every 15 seconds and evaluate rules as often, like the `prometheus.yml`
/// Prometheus ships.
pub const DEFAULT_CONFIG: &str = r#"# Beacon's built-in configuration.
global:
  scrape_interval: 15s     # how often targets are scraped (default 1m)
  evaluation_interval: 15s # how often rules are evaluated (default 1m)
  # scrape_timeout keeps its default of 10s.

# Rule files, as globs relative to this file.
rule_files: []

scrape_configs:
  # Beacon scrapes its own metrics; every series gets job="beacon".
  - job_name: "beacon"
    static_configs:
      - targets: ["localhost:9090"]
        labels:
          app: "beacon"
"#;

/// A loaded, validated `prometheus.yml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub global: GlobalConfig,
    pub runtime: RuntimeConfig,
    pub alerting: AlertingConfig,
    /// Globs, joined with the config file's directory.
    pub rule_files: Vec<String>,
    /// Globs, joined with the config file's directory.
    pub scrape_config_files: Vec<String>,
    /// The jobs written in this file.
    pub scrape_configs: Vec<ScrapeConfig>,
    pub storage: StorageConfig,
    /// `None` when the section is absent (no tracing).
    pub tracing: Option<TracingConfig>,
    pub remote_write: Vec<RemoteWriteConfig>,
    pub remote_read: Vec<RemoteReadConfig>,
    pub otlp: OtlpConfig,
    /// The jobs read from `scrape_config_files` by [`Config::load`], with
    /// their file. Not printed by `to_yaml`, which shows this file only.
    pub file_scrape_configs: Vec<(PathBuf, ScrapeConfig)>,
}

impl Default for Config {
    /// Prometheus's defaults for an empty file.
    fn default() -> Self {
        Config {
            global: GlobalConfig::default(),
            runtime: RuntimeConfig::default(),
            alerting: AlertingConfig::default(),
            rule_files: Vec::new(),
            scrape_config_files: Vec::new(),
            scrape_configs: Vec::new(),
            storage: StorageConfig::default(),
            tracing: None,
            remote_write: Vec::new(),
            remote_read: Vec::new(),
            otlp: OtlpConfig::default(),
            file_scrape_configs: Vec::new(),
        }
    }
}

impl Section for Config {
    const NAME: &'static str = "config";
    fn initial() -> Self {
        Config::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("global", &mut self.global)?;
        v.field("runtime", &mut self.runtime)?;
        v.field("alerting", &mut self.alerting)?;
        patterns::<false, V>(v, "rule_files", &mut self.rule_files)?;
        patterns::<true, V>(v, "scrape_config_files", &mut self.scrape_config_files)?;
        v.field("scrape_configs", &mut self.scrape_configs)?;
        v.field("storage", &mut self.storage)?;
        v.field("tracing", &mut self.tracing)?;
        v.field("remote_write", &mut self.remote_write)?;
        v.field("remote_read", &mut self.remote_read)?;
        v.field("otlp", &mut self.otlp)
    }
    fn validate(&mut self, cx: &Cx, _at: Pos) -> Result<()> {
        for p in self
            .rule_files
            .iter_mut()
            .chain(self.scrape_config_files.iter_mut())
        {
            *p = cx.join(p);
        }
        let mut jobs: HashMap<&str, ()> = HashMap::new();
        for sc in &mut self.scrape_configs {
            let at = sc.source.pos;
            sc.apply_global(&self.global).map_err(|m| cx.err(at, m))?;
            sc.check_relabel(cx)?;
            if jobs.insert(&sc.job_name, ()).is_some() {
                return Err(cx.err(
                    at,
                    format!(
                        "found multiple scrape configs with job name {:?}",
                        sc.job_name
                    ),
                ));
            }
        }
        self.check_relabel_schemes(cx)?;
        let mut names = HashMap::new();
        for rw in &self.remote_write {
            if !rw.name.is_empty() && names.insert(rw.name.as_str(), ()).is_some() {
                return Err(cx.err(
                    rw.source.pos,
                    format!(
                        "found multiple remote write configs with job name {:?}",
                        rw.name
                    ),
                ));
            }
        }
        names.clear();
        for rr in &self.remote_read {
            if !rr.name.is_empty() && names.insert(rr.name.as_str(), ()).is_some() {
                return Err(cx.err(
                    rr.source.pos,
                    format!(
                        "found multiple remote read configs with job name {:?}",
                        rr.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Prometheus allows `*` only in the last path element of rule and scrape
/// config file globs.
fn valid_glob_path(p: &str) -> bool {
    match p.find('*') {
        None => true,
        Some(i) => !p[i + 1..].contains(['*', '/']),
    }
}

/// A rule file (`SCRAPE` false) or scrape config file glob, checked where
/// it is written.
#[derive(Debug, Clone, Default)]
struct FilePattern<const SCRAPE: bool>(String);

impl<const SCRAPE: bool> Value for FilePattern<SCRAPE> {
    fn decode(n: &Node, cx: &Cx) -> Result<Self> {
        let p = scalar_text(n, cx)?;
        if !valid_glob_path(&p) {
            let what = if SCRAPE {
                "scrape config file"
            } else {
                "rule file"
            };
            return Err(cx.err(pos(n), format!("invalid {what} path {p:?}")));
        }
        Ok(FilePattern(p))
    }
    fn encode(&self) -> Out {
        Out::Str(self.0.clone())
    }
}

/// Reads or writes a list of globs through [`FilePattern`].
fn patterns<const SCRAPE: bool, V: Fields>(
    v: &mut V,
    name: &'static str,
    list: &mut Vec<String>,
) -> Result<()> {
    let mut wrapped: Vec<FilePattern<SCRAPE>> = list.drain(..).map(FilePattern).collect();
    v.field(name, &mut wrapped)?;
    *list = wrapped.into_iter().map(|p| p.0).collect();
    Ok(())
}

impl Config {
    /// Reads, parses and validates a config file, then loads the files
    /// `scrape_config_files` names. Relative paths in the config are
    /// joined with the file's directory, as Prometheus does.
    pub fn load(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = read_limited(path)?;
        let cx = Cx {
            origin: path.display().to_string(),
            dir: Some(path.parent().unwrap_or(Path::new("")).to_path_buf()),
        };
        let mut cfg = decode(&text, &cx)?;
        cfg.load_scrape_config_files(&cx)?;
        Ok(cfg)
    }

    /// Parses and validates a config held in memory. `origin` names it in
    /// errors. Paths stay as written and `scrape_config_files` is not read.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Config> {
        let cx = Cx {
            origin: origin.to_owned(),
            dir: None,
        };
        decode(text, &cx)
    }

    /// The config as YAML with every default filled in and every secret
    /// shown as `<secret>`, as `/api/v1/status/config` returns it.
    pub fn to_yaml(&self) -> String {
        yaml::to_string(&yaml::encode_section(self))
    }

    /// Every scrape job: this file's, then those from `scrape_config_files`.
    pub fn all_scrape_configs(&self) -> impl Iterator<Item = &ScrapeConfig> {
        self.scrape_configs
            .iter()
            .chain(self.file_scrape_configs.iter().map(|(_, sc)| sc))
    }

    /// The job called `name`, wherever it was defined.
    pub fn scrape_config(&self, name: &str) -> Option<&ScrapeConfig> {
        self.all_scrape_configs().find(|sc| sc.job_name == name)
    }

    /// Names of the jobs that differ between `self` and `new`: added,
    /// removed or changed in any setting. A reload restarts only these.
    pub fn changed_scrape_configs<'a>(&'a self, new: &'a Config) -> Vec<&'a str> {
        let mut changed: Vec<&str> = Vec::new();
        for sc in new.all_scrape_configs() {
            if self.scrape_config(&sc.job_name) != Some(sc) {
                changed.push(&sc.job_name);
            }
        }
        for sc in self.all_scrape_configs() {
            if new.scrape_config(&sc.job_name).is_none() {
                changed.push(&sc.job_name);
            }
        }
        changed
    }

    fn load_scrape_config_files(&mut self, cx: &Cx) -> Result<()> {
        let mut first_seen: HashMap<String, String> = self
            .scrape_configs
            .iter()
            .map(|sc| (sc.job_name.clone(), "main config file".to_owned()))
            .collect();
        for pattern in &self.scrape_config_files {
            let files = glob::glob(pattern).map_err(|reason| Error::Glob {
                origin: cx.origin.clone(),
                pattern: pattern.clone(),
                reason,
            })?;
            for file in files {
                let text = read_limited(&file)?;
                let fcx = Cx {
                    origin: file.display().to_string(),
                    dir: Some(file.parent().unwrap_or(Path::new("")).to_path_buf()),
                };
                let node = yaml::parse(&text, &fcx.origin)?;
                let list: ScrapeConfigFile = yaml::decode_section(&node, &fcx)?;
                for mut sc in list.scrape_configs {
                    let at = sc.source.pos;
                    sc.apply_global(&self.global).map_err(|m| fcx.err(at, m))?;
                    sc.check_relabel(&fcx)?;
                    if let Some(first) = first_seen.get(&sc.job_name) {
                        return Err(fcx.err(at, format!(
                            "found multiple scrape configs with job name {:?}, first found in {first}", sc.job_name)));
                    }
                    first_seen.insert(sc.job_name.clone(), format!("{:?}", fcx.origin));
                    self.file_scrape_configs.push((file.clone(), sc));
                }
            }
        }
        Ok(())
    }

    /// Relabel rules outside scrape jobs follow the global name scheme.
    fn check_relabel_schemes(&mut self, cx: &Cx) -> Result<()> {
        let scheme = self.global.metric_name_validation_scheme;
        let alerting = &mut self.alerting;
        let lists = alerting
            .alert_relabel_configs
            .iter_mut()
            .chain(alerting.alertmanagers.iter_mut().flat_map(|am| {
                am.relabel_configs
                    .iter_mut()
                    .chain(am.alert_relabel_configs.iter_mut())
            }))
            .chain(
                self.remote_write
                    .iter_mut()
                    .flat_map(|rw| rw.write_relabel_configs.iter_mut()),
            );
        for rc in lists {
            rc.check_in(scheme, cx)?;
        }
        Ok(())
    }
}

/// A file named by `scrape_config_files`.
#[derive(Debug, Clone, Default)]
struct ScrapeConfigFile {
    scrape_configs: Vec<ScrapeConfig>,
}

impl Section for ScrapeConfigFile {
    const NAME: &'static str = "scrape config file";
    fn initial() -> Self {
        ScrapeConfigFile::default()
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("scrape_configs", &mut self.scrape_configs)
    }
}

fn decode(text: &str, cx: &Cx) -> Result<Config> {
    let node = yaml::parse(text, &cx.origin)?;
    yaml::decode_section(&node, cx)
}

/// Reads a config file, refusing ones over [`CONFIG_FILE_MAX_BYTES`].
pub(crate) fn read_limited(path: &Path) -> Result<String> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > CONFIG_FILE_MAX_BYTES {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            size_bytes: size,
            limit_bytes: CONFIG_FILE_MAX_BYTES,
        });
    }
    std::fs::read_to_string(path).map_err(io)
}
