//! Rules and alerts: the rules manager evaluating `rule_files` over the
//! database, and the notifier sending what fires to the Alertmanagers of
//! the `alerting` section. Both follow configuration reloads.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use beacon_config::Config;
use beacon_exposition::family::MetricFamily;
use beacon_model::Labels;
use beacon_notifier::{Alert, Notifier};
use beacon_promql::{Engine, EngineOptions};
use beacon_rules::{AlertToSend, Manager, ManagerOptions, RuleTypeFilter, RulesFilter};
use beacon_storage::{Appendable, Queryable};
use beacon_web::backend::RulesQuery;

/// The rules manager and the notifier it feeds.
pub struct Alerting {
    pub rules: Manager,
    pub notifier: Arc<Notifier>,
    /// `--web.external-url` (or the default built from the listen
    /// address): the base of alerts' generator URLs.
    external_url: String,
}

/// Settings from flags that reloads do not change.
#[derive(Debug, Clone)]
pub struct AlertingOptions {
    pub engine: EngineOptions,
    pub external_url: String,
    pub resend_delay: Duration,
    pub for_grace_period: Duration,
    pub outage_tolerance: Duration,
    pub notifier: beacon_notifier::Options,
}

fn external_labels(config: &Config) -> Labels {
    Labels::from_pairs(
        config
            .global
            .external_labels
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    )
}

/// What the notifier receives for one alert from the rules engine.
fn to_notifier(a: AlertToSend) -> Alert {
    Alert {
        labels: a.labels,
        annotations: Labels::from_pairs(
            a.annotations.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        ),
        starts_at: a.starts_at_ms,
        ends_at: (a.ends_at_ms != 0).then_some(a.ends_at_ms),
        generator_url: a.generator_url,
    }
}

impl Alerting {
    /// Starts the notifier and loads the rule files of `config`. A bad
    /// rule file or Alertmanager set stops start-up, as in Prometheus.
    pub async fn start(
        queryable: Arc<dyn Queryable>,
        appendable: Arc<dyn Appendable>,
        config: &Config,
        opts: AlertingOptions,
    ) -> Result<Alerting> {
        let notifier = Arc::new(Notifier::new(opts.notifier.clone()));
        let sink = Arc::clone(&notifier);
        let notify: beacon_rules::NotifyFn =
            Arc::new(move |alerts| sink.send(alerts.into_iter().map(to_notifier).collect()));
        let mut mo = ManagerOptions::new(queryable, appendable, notify);
        mo.engine = Engine::new(opts.engine);
        mo.external_url = opts.external_url.clone();
        mo.resend_delay = opts.resend_delay;
        mo.for_grace_period = opts.for_grace_period;
        mo.outage_tolerance = opts.outage_tolerance;
        let a = Alerting {
            rules: Manager::new(mo),
            notifier,
            external_url: opts.external_url,
        };
        a.apply(config).await?;
        Ok(a)
    }

    /// Checks that every rule file of `config` loads, without applying it.
    pub fn check(config: &Config) -> Result<()> {
        beacon_rules::load_files(&config.rule_files, beacon_rules::ParseOptions::default())
            .map(|_| ())
            .context("loading rule files")
    }

    /// Applies a (re)loaded configuration: Alertmanager sets, external
    /// labels, rule files and the evaluation interval. A bad rule file
    /// leaves the running groups alone and fails the reload.
    pub async fn apply(&self, config: &Config) -> Result<()> {
        self.notifier
            .apply_config(config)
            .context("applying the alerting configuration")?;
        self.rules
            .set_external(external_labels(config), self.external_url.clone());
        let interval = Duration::from_millis(config.global.evaluation_interval.0.max(1) as u64);
        self.rules
            .update(&config.rule_files, interval)
            .await
            .context("loading rule files")
    }

    /// Stops rule evaluation, then drains the notification queue.
    pub async fn stop(&self) {
        self.rules.stop().await;
        self.notifier.stop().await;
    }

    /// `/api/v1/rules` data.
    pub fn rules_json(&self, q: &RulesQuery) -> serde_json::Value {
        let filter = RulesFilter {
            rule_type: match q.alerting_only {
                None => RuleTypeFilter::All,
                Some(true) => RuleTypeFilter::Alert,
                Some(false) => RuleTypeFilter::Record,
            },
            rule_names: q.rule_names.clone(),
            rule_groups: q.rule_groups.clone(),
            files: q.files.clone(),
            exclude_alerts: q.exclude_alerts,
            matchers: q.matchers.clone(),
        };
        serde_json::to_value(self.rules.rules_api(&filter)).unwrap_or_default()
    }

    /// `/api/v1/alerts` data.
    pub fn alerts_json(&self) -> serde_json::Value {
        serde_json::to_value(self.rules.alerts_api()).unwrap_or_default()
    }

    pub fn collect(&self, out: &mut Vec<MetricFamily>) {
        self.rules.collect(out);
        self.notifier.collect(out);
    }
}
