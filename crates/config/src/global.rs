//! The `global` section: defaults for every scrape job and rule group, and
//! the external labels this server attaches when talking to the outside.

use beacon_model::{NameValidation, PromDuration};

use crate::Result;
use crate::discovery::LabelSet;
use crate::scrape::{ByteSize, ScrapeProtocol, check_escaping, check_protocols};
use crate::yaml::{Cx, Fields, Pos, Section};

/// Prometheus's default `scrape_interval`.
pub const DEFAULT_SCRAPE_INTERVAL: PromDuration = PromDuration(60_000);
/// Prometheus's default `scrape_timeout`.
pub const DEFAULT_SCRAPE_TIMEOUT: PromDuration = PromDuration(10_000);
/// Prometheus's default `evaluation_interval`.
pub const DEFAULT_EVALUATION_INTERVAL: PromDuration = PromDuration(60_000);

/// `global`.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalConfig {
    /// Default 1m.
    pub scrape_interval: PromDuration,
    /// Default 10s, or the interval when that is shorter.
    pub scrape_timeout: PromDuration,
    /// `None`: each job picks by whether it scrapes native histograms.
    pub scrape_protocols: Option<Vec<ScrapeProtocol>>,
    /// Default 1m.
    pub evaluation_interval: PromDuration,
    pub rule_query_offset: PromDuration,
    pub query_log_file: String,
    pub scrape_failure_log_file: String,
    /// After `$VAR` expansion from the environment.
    pub external_labels: LabelSet,
    pub body_size_limit: ByteSize,
    pub sample_limit: u64,
    pub target_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
    pub keep_dropped_targets: u64,
    /// Default UTF-8.
    pub metric_name_validation_scheme: NameValidation,
    pub metric_name_escaping_scheme: String,
    pub scrape_native_histograms: bool,
    pub convert_classic_histograms_to_nhcb: bool,
    pub always_scrape_classic_histograms: bool,
    pub extra_scrape_metrics: bool,
}

impl Default for GlobalConfig {
    /// Prometheus's defaults, as when the section is absent.
    fn default() -> Self {
        GlobalConfig {
            scrape_interval: DEFAULT_SCRAPE_INTERVAL,
            scrape_timeout: DEFAULT_SCRAPE_TIMEOUT,
            evaluation_interval: DEFAULT_EVALUATION_INTERVAL,
            ..GlobalConfig::initial()
        }
    }
}

impl Section for GlobalConfig {
    const NAME: &'static str = "global config";
    /// Zero values: the defaults are filled in by `validate`, because an
    /// explicit short interval lowers the default timeout.
    fn initial() -> Self {
        GlobalConfig {
            scrape_interval: PromDuration(0),
            scrape_timeout: PromDuration(0),
            scrape_protocols: None,
            evaluation_interval: PromDuration(0),
            rule_query_offset: PromDuration(0),
            query_log_file: String::new(),
            scrape_failure_log_file: String::new(),
            external_labels: LabelSet::default(),
            body_size_limit: ByteSize(0),
            sample_limit: 0,
            target_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            keep_dropped_targets: 0,
            metric_name_validation_scheme: NameValidation::Utf8,
            metric_name_escaping_scheme: String::new(),
            scrape_native_histograms: false,
            convert_classic_histograms_to_nhcb: false,
            always_scrape_classic_histograms: false,
            extra_scrape_metrics: false,
        }
    }
    fn fields<V: Fields>(&mut self, v: &mut V) -> Result<()> {
        v.field("scrape_interval", &mut self.scrape_interval)?;
        v.field("scrape_timeout", &mut self.scrape_timeout)?;
        v.field("scrape_protocols", &mut self.scrape_protocols)?;
        v.field("evaluation_interval", &mut self.evaluation_interval)?;
        v.field("rule_query_offset", &mut self.rule_query_offset)?;
        v.field("query_log_file", &mut self.query_log_file)?;
        v.field("scrape_failure_log_file", &mut self.scrape_failure_log_file)?;
        v.field("external_labels", &mut self.external_labels)?;
        v.field("body_size_limit", &mut self.body_size_limit)?;
        v.field("sample_limit", &mut self.sample_limit)?;
        v.field("target_limit", &mut self.target_limit)?;
        v.field("label_limit", &mut self.label_limit)?;
        v.field("label_name_length_limit", &mut self.label_name_length_limit)?;
        v.field(
            "label_value_length_limit",
            &mut self.label_value_length_limit,
        )?;
        v.field("keep_dropped_targets", &mut self.keep_dropped_targets)?;
        v.field(
            "metric_name_validation_scheme",
            &mut self.metric_name_validation_scheme,
        )?;
        v.field(
            "metric_name_escaping_scheme",
            &mut self.metric_name_escaping_scheme,
        )?;
        v.field(
            "scrape_native_histograms",
            &mut self.scrape_native_histograms,
        )?;
        v.field(
            "convert_classic_histograms_to_nhcb",
            &mut self.convert_classic_histograms_to_nhcb,
        )?;
        v.field(
            "always_scrape_classic_histograms",
            &mut self.always_scrape_classic_histograms,
        )?;
        v.field("extra_scrape_metrics", &mut self.extra_scrape_metrics)
    }
    fn validate(&mut self, cx: &Cx, at: Pos) -> Result<()> {
        let scheme = self.metric_name_validation_scheme;
        for (name, value) in &mut self.external_labels.0 {
            if !scheme.label_name(name) {
                return Err(cx.err(at, format!("{name:?} is not a valid label name")));
            }
            *value = expand_env(value);
        }
        self.external_labels.0.retain(|_, v| !v.is_empty());
        if self.scrape_interval.0 == 0 {
            self.scrape_interval = DEFAULT_SCRAPE_INTERVAL;
        }
        if self.scrape_timeout > self.scrape_interval {
            return Err(cx.err(at, "global scrape timeout greater than scrape interval"));
        }
        if self.scrape_timeout.0 == 0 {
            self.scrape_timeout = DEFAULT_SCRAPE_TIMEOUT.min(self.scrape_interval);
        }
        if self.evaluation_interval.0 == 0 {
            self.evaluation_interval = DEFAULT_EVALUATION_INTERVAL;
        }
        if let Some(p) = &self.scrape_protocols {
            check_protocols(p).map_err(|e| cx.err(at, format!("{e} for global config")))?;
        }
        check_escaping(&self.metric_name_escaping_scheme, "global").map_err(|e| cx.err(at, e))?;
        self.query_log_file = cx.join(&self.query_log_file);
        self.scrape_failure_log_file = cx.join(&self.scrape_failure_log_file);
        Ok(())
    }
}

/// Expands `$VAR` and `${VAR}` from the environment, as Prometheus does
/// for external label values (Go's `os.Expand`; `$$` is a literal `$`).
pub fn expand_env(s: &str) -> String {
    expand_env_with(s, |name| std::env::var(name).unwrap_or_default())
}

pub(crate) fn expand_env_with(s: &str, lookup: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        let (name, after) = if let Some(braced) = rest.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], &braced[end + 1..]),
                // Go eats a malformed `${` and keeps what follows.
                None => ("", braced),
            }
        } else if rest.starts_with(|c: char| "*#$@!?-0123456789".contains(c)) {
            // Go's special shell variables are one character long.
            (&rest[..1], &rest[1..])
        } else {
            let n = rest
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if n == 0 {
                out.push('$');
                continue;
            }
            (&rest[..n], &rest[n..])
        };
        if name == "$" {
            out.push('$');
        } else if !name.is_empty() {
            out.push_str(&lookup(name));
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion_is_gos() {
        let env = |n: &str| match n {
            "HOST" => "h1".to_owned(),
            _ => String::new(),
        };
        for (input, want) in [
            ("$HOST", "h1"),
            ("${HOST}-x", "h1-x"),
            ("a$$b", "a$b"),
            ("$UNSET", ""),
            ("cost$", "cost$"),
            ("$-", ""),
            ("$ x", "$ x"),
            ("plain", "plain"),
            ("${HOST", "HOST"),
            ("${}x", "x"),
        ] {
            assert_eq!(expand_env_with(input, env), want, "{input}");
        }
    }
}
