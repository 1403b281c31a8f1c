//! Sending alerts to Alertmanager, as Prometheus's notifier does.
//!
//! The rules engine hands [`Alert`]s to [`Notifier::send`]. Each alert gets
//! the configuration's `external_labels` (its own labels win) and the
//! global `alerting.alert_relabel_configs`; what survives waits in a
//! bounded queue (the oldest alerts are dropped when it is full). A send
//! loop takes batches of up to [`MAX_BATCH_SIZE`] and posts each batch to
//! every Alertmanager of every `alertmanagers` set at once as
//! `POST <scheme>://<address><path_prefix>/api/v2/alerts`, after the set's
//! own `alert_relabel_configs`. A batch counts as delivered when every set
//! it was sent to had at least one Alertmanager accept it; otherwise it is
//! counted in `prometheus_notifications_dropped_total`.
//!
//! Alertmanagers are found per set through `beacon_discovery` (job name
//! `config-<index>`) and the set's `relabel_configs` over the labels
//! `__address__`, `__scheme__` and `__alerts_path__`.
//!
//! ```
//! use beacon_model::Labels;
//! use beacon_notifier::Alert;
//! use beacon_notifier::alert::encode_alerts;
//!
//! let alert = Alert {
//!     labels: Labels::from_pairs([("alertname", "DiskFull")]),
//!     annotations: Labels::empty(),
//!     starts_at: 1_700_000_000_000,
//!     ends_at: None,
//!     generator_url: String::new(),
//! };
//! let body = String::from_utf8(encode_alerts(&[alert]).unwrap()).unwrap();
//! assert_eq!(
//!     body,
//!     r#"[{"labels":{"alertname":"DiskFull"},"annotations":{},"startsAt":"2023-11-14T22:13:20.000Z","endsAt":"0001-01-01T00:00:00.000Z","generatorURL":""}]"#
//! );
//! ```
//!
//! Layout: `alert` (the type, relabelling, JSON body), `queue`, `targets`
//! (discovered groups to URLs), `send` (one batch to all sets), `metrics`,
//! `manager` (the [`Notifier`]).

pub mod alert;
mod error;
mod manager;
mod metrics;
mod queue;
mod send;
pub mod targets;

pub use alert::Alert;
pub use error::{Error, Result};
pub use manager::{DEFAULT_DRAIN_DEADLINE, Notifier, Options, USER_AGENT};
pub use metrics::ALERTMANAGER_LABEL;
pub use queue::{DEFAULT_QUEUE_CAPACITY, MAX_BATCH_SIZE};
pub use send::RESPONSE_BODY_MAX_BYTES;
