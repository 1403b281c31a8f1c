//! Recording and alerting rules, as Prometheus evaluates them.
//!
//! Rule files load through [`rulefmt`] (strict YAML, promtool's
//! validation messages); alert labels and annotations are Go templates
//! ([`template`]); a [`Group`] evaluates its rules at a timestamp over the
//! storage traits; the [`Manager`] runs groups on tokio tasks, keeps their
//! state across reloads, sends alerts through a callback, and answers the
//! `/api/v1/rules` and `/api/v1/alerts` data.
//!
//! Layout: `rulefmt` (files and validation, over the positioned YAML tree
//! in `yaml`), `template` (lexer, parser, executor and functions of the Go
//! template subset) with `gofmt` (Go's number and time formatting), `rule`
//! (shared evaluation plumbing and recording rules), `alerting` (the alert
//! state machine), `group`, `manager`, `api` and `metrics`.
//!
//! ```
//! use beacon_model::Labels;
//! use beacon_rules::{EvalEnv, Group, ParseOptions, parse_str};
//! use beacon_storage::{Appendable, MemStorage};
//!
//! let db = MemStorage::new();
//! let mut app = db.appender();
//! app.append(Default::default(), &Labels::from_pairs([("__name__", "up"), ("job", "node")]), 0, 0.0).unwrap();
//! app.commit().unwrap();
//!
//! let yaml = "groups:\n  - name: example\n    rules:\n      - alert: NodeDown\n        expr: up == 0\n        annotations:\n          summary: '{{ $labels.job }} is down'\n";
//! let spec = parse_str(yaml, "rules.yml", ParseOptions::default()).unwrap().remove(0);
//! let mut group = Group::new(spec, 60_000, 0);
//! let engine = beacon_promql::Engine::default();
//! let env = EvalEnv {
//!     queryable: &db,
//!     appendable: &db,
//!     engine: &engine,
//!     external_labels: &Labels::empty(),
//!     external_url: "",
//!     resend_delay_ms: 60_000,
//! };
//! // `for` is 0, so the alert fires (and is due for sending) at once.
//! let sent = group.eval(&env, 1_000);
//! assert_eq!(sent[0].annotations.get("summary").map(String::as_str), Some("node is down"));
//! ```

mod alerting;
mod api;
mod error;
pub mod gofmt;
mod group;
mod manager;
mod metrics;
mod rule;
pub mod rulefmt;
pub mod template;
mod yaml;

pub use alerting::{
    ALERT_FOR_STATE_METRIC_NAME, ALERT_METRIC_NAME, Alert, AlertState, AlertToSend, AlertingRule,
    RESOLVED_RETENTION_MS,
};
pub use api::{
    AlertJson, AlertingRuleJson, AlertsResponse, RecordingRuleJson, RuleGroupJson, RuleJson,
    RuleTypeFilter, RulesFilter, RulesResponse, alert_json, alerts_response, rules_response,
};
pub use group::{Group, GroupMetrics, Rule};
pub use manager::{
    DEFAULT_FOR_GRACE_PERIOD, DEFAULT_OUTAGE_TOLERANCE, DEFAULT_RESEND_DELAY, Manager,
    ManagerOptions, NotifyFn,
};
pub use metrics::families as metric_families;
pub use rule::{EvalEnv, Health, RecordingRule, RuleStatus};

pub use error::{Error, Result};
pub use rulefmt::{
    CheckSummary, GroupSpec, ParseOptions, RULE_FILE_MAX_BYTES, RuleKind, RuleSpec, check_files,
    load_files, parse_file, parse_str,
};
pub use template::Template;
