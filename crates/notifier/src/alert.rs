//! [`Alert`] as the rules engine hands it over, the relabelling applied
//! before queueing and per Alertmanager set, and the JSON body of
//! Alertmanager's `POST /api/v2/alerts`.

use beacon_config::RelabelConfig;
use beacon_config::relabel::process;
use beacon_model::Labels;
use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

use crate::Result;

/// Go's zero `time.Time` as Alertmanager's OpenAPI types print it: what
/// Prometheus sends for an unset `endsAt`, which Alertmanager reads as
/// "not set" (it then applies its `resolve_timeout`).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00.000Z";

/// One alert notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// Identity of the alert; should include `alertname`.
    pub labels: Labels,
    /// Extra information that does not identify the alert.
    pub annotations: Labels,
    /// When the alert started firing, milliseconds since the epoch.
    pub starts_at: i64,
    /// When it resolved or stops being valid, milliseconds since the epoch.
    pub ends_at: Option<i64>,
    /// Link back to the expression that produced the alert.
    pub generator_url: String,
}

/// Formats milliseconds since the epoch as RFC 3339 with milliseconds in
/// UTC, the format Alertmanager's API uses. Instants before year 0001 or
/// past jiff's last instant (9999-12-30T22:00Z) are clamped, so the body
/// always stays parseable.
pub fn format_rfc3339(ms: i64) -> String {
    // Four-digit years only: RFC 3339 cannot express year 0 or below.
    const MIN_MS: i64 = -62_135_596_800_000; // 0001-01-01T00:00:00Z
    // jiff's own bound for whole milliseconds.
    const MAX_MS: i64 = 253_402_207_200_000; // 9999-12-30T22:00:00Z
    let ms = ms.clamp(MIN_MS, MAX_MS);
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        // Unreachable after the clamp; the zero time is the safe answer.
        Err(_) => ZERO_TIME.to_owned(),
    }
}

/// Adds `external` labels the alert does not already have (the alert's
/// own labels win), then applies `configs`. `None` when relabelling drops
/// the alert.
pub fn relabel_alert(alert: &Alert, external: &Labels, configs: &[RelabelConfig]) -> Option<Alert> {
    let mut labels = alert.labels.clone();
    if !external.is_empty() {
        let mut b = labels.builder();
        for l in external.iter() {
            if !alert.labels.has(l.name) {
                b.set(l.name, l.value);
            }
        }
        labels = b.build();
    }
    if !configs.is_empty() {
        labels = process(&labels, configs)?;
    }
    Some(Alert {
        labels,
        ..alert.clone()
    })
}

/// [`relabel_alert`] over a batch, keeping the alerts that survive.
pub fn relabel_alerts(
    alerts: &[Alert],
    external: &Labels,
    configs: &[RelabelConfig],
) -> Vec<Alert> {
    alerts
        .iter()
        .filter_map(|a| relabel_alert(a, external, configs))
        .collect()
}

/// The JSON body Alertmanager's API v2 accepts for `alerts`.
pub fn encode_alerts(alerts: &[Alert]) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&Postable(alerts))?)
}

struct Postable<'a>(&'a [Alert]);
struct LabelMap<'a>(&'a Labels);

impl Serialize for Postable<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl Serialize for LabelMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for l in self.0.iter() {
            m.serialize_entry(l.name, l.value)?;
        }
        m.end()
    }
}

impl Serialize for Alert {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("PostableAlert", 5)?;
        st.serialize_field("labels", &LabelMap(&self.labels))?;
        st.serialize_field("annotations", &LabelMap(&self.annotations))?;
        st.serialize_field("startsAt", &format_rfc3339(self.starts_at))?;
        let ends = self
            .ends_at
            .map_or_else(|| ZERO_TIME.to_owned(), format_rfc3339);
        st.serialize_field("endsAt", &ends)?;
        st.serialize_field("generatorURL", &self.generator_url)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    fn alert(labels: &[(&str, &str)]) -> Alert {
        Alert {
            labels: l(labels),
            annotations: l(&[("summary", "it broke")]),
            starts_at: 1_700_000_000_123,
            ends_at: None,
            generator_url: "http://prom/graph".into(),
        }
    }

    #[test]
    fn rfc3339() {
        let check = |ms: i64, want: &str| assert_eq!(format_rfc3339(ms), want, "{ms}");
        check(0, "1970-01-01T00:00:00.000Z");
        check(1_700_000_000_123, "2023-11-14T22:13:20.123Z");
        check(-1, "1969-12-31T23:59:59.999Z");
        check(i64::MIN, ZERO_TIME);
        check(i64::MAX, "9999-12-30T22:00:00.000Z");
    }

    #[test]
    fn json_shape() {
        let mut a = alert(&[("alertname", "Down"), ("job", "node")]);
        a.ends_at = Some(1_700_000_060_000);
        let body = encode_alerts(&[a, alert(&[("alertname", "Up")])]).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            concat!(
                r#"[{"labels":{"alertname":"Down","job":"node"},"annotations":{"summary":"it broke"},"#,
                r#""startsAt":"2023-11-14T22:13:20.123Z","endsAt":"2023-11-14T22:14:20.000Z","generatorURL":"http://prom/graph"},"#,
                r#"{"labels":{"alertname":"Up"},"annotations":{"summary":"it broke"},"#,
                r#""startsAt":"2023-11-14T22:13:20.123Z","endsAt":"0001-01-01T00:00:00.000Z","generatorURL":"http://prom/graph"}]"#
            )
        );
        assert_eq!(encode_alerts(&[]).unwrap(), b"[]");
    }

    fn relabel_cfg(yaml: &str) -> Vec<RelabelConfig> {
        let text = format!("alerting:\n  alert_relabel_configs:\n{yaml}");
        beacon_config::Config::from_yaml_str(&text, "t.yml")
            .unwrap()
            .alerting
            .alert_relabel_configs
    }

    #[test]
    fn external_labels_and_relabelling() {
        let ext = l(&[("dc", "eu"), ("job", "ext")]);
        let a = alert(&[("alertname", "Down"), ("job", "node")]);
        let out = relabel_alert(&a, &ext, &[]).unwrap();
        assert_eq!(
            out.labels,
            l(&[("alertname", "Down"), ("dc", "eu"), ("job", "node")])
        );
        assert_eq!(out.annotations, a.annotations);

        let drop = relabel_cfg("    - source_labels: [dc]\n      regex: eu\n      action: drop\n");
        assert!(relabel_alert(&a, &ext, &drop).is_none());
        assert!(relabel_alert(&a, &Labels::empty(), &drop).is_some());

        let kept = relabel_alerts(
            &[a.clone(), alert(&[("alertname", "Other"), ("dc", "us")])],
            &ext,
            &drop,
        );
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].labels.get("dc"), Some("us"));
    }
}
