//! Alertmanagers from discovered target groups: Prometheus's
//! `__scheme__`, `__alerts_path__` and `__address__` labels, the set's
//! `relabel_configs`, and the URL each surviving target is sent to.

use beacon_config::AlertmanagerConfig;
use beacon_config::relabel::process;
use beacon_discovery::{ADDRESS_LABEL, TargetGroup};
use beacon_model::Labels;

/// The label holding the scheme (`http` or `https`).
pub const SCHEME_LABEL: &str = "__scheme__";
/// The label holding the path alerts are posted to.
pub const ALERTS_PATH_LABEL: &str = "__alerts_path__";

/// `path_prefix` joined with the API v2 alerts endpoint, cleaned like Go's
/// `path.Join("/", prefix, "/api/v2/alerts")`.
pub fn alerts_path(prefix: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in prefix.split('/').chain(["api", "v2", "alerts"]) {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The URL of an Alertmanager described by its labels.
pub fn url_of(labels: &Labels) -> String {
    format!(
        "{}://{}{}",
        labels.get(SCHEME_LABEL).unwrap_or_default(),
        labels.get(ADDRESS_LABEL).unwrap_or_default(),
        labels.get(ALERTS_PATH_LABEL).unwrap_or_default()
    )
}

/// Active and dropped Alertmanager URLs of one set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovered {
    /// Deduplicated, in discovery order.
    pub active: Vec<String>,
    /// Targets `relabel_configs` dropped, by their labels before relabelling.
    pub dropped: Vec<String>,
}

/// Turns a set's target groups into Alertmanager URLs. A target whose
/// address after relabelling is empty or holds a `/` is skipped with a
/// warning (it could never form a valid URL).
pub fn alertmanagers(groups: &[TargetGroup], cfg: &AlertmanagerConfig) -> Discovered {
    let path = alerts_path(&cfg.path_prefix);
    let mut out = Discovered::default();
    for group in groups {
        for target in &group.targets {
            let mut b = target.builder();
            b.set(SCHEME_LABEL, &cfg.scheme);
            b.set(ALERTS_PATH_LABEL, &path);
            for l in group.labels.iter() {
                if !target.has(l.name) {
                    b.set(l.name, l.value);
                }
            }
            let pre = b.build();
            let Some(post) = process(&pre, &cfg.relabel_configs) else {
                out.dropped.push(url_of(&pre));
                continue;
            };
            let addr = post.get(ADDRESS_LABEL).unwrap_or_default();
            if addr.is_empty() || addr.contains('/') {
                tracing::warn!(source = %group.source, address = addr, "invalid Alertmanager address; skipping target");
                continue;
            }
            let url = url_of(&post);
            if !out.active.contains(&url) {
                out.active.push(url);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let check = |prefix: &str, want: &str| assert_eq!(alerts_path(prefix), want, "{prefix:?}");
        check("", "/api/v2/alerts");
        check("/", "/api/v2/alerts");
        check("/am", "/am/api/v2/alerts");
        check("am/", "/am/api/v2/alerts");
        check("/a//b/./c/../", "/a/b/api/v2/alerts");
    }

    fn config(yaml: &str) -> AlertmanagerConfig {
        let text = format!("alerting:\n  alertmanagers:\n  - {yaml}");
        beacon_config::Config::from_yaml_str(&text, "t.yml")
            .unwrap()
            .alerting
            .alertmanagers
            .remove(0)
    }

    fn group(addrs: &[&str], labels: &[(&str, &str)]) -> TargetGroup {
        TargetGroup {
            source: "0".into(),
            targets: addrs
                .iter()
                .map(|a| Labels::from_pairs([(ADDRESS_LABEL, *a)]))
                .collect(),
            labels: Labels::from_pairs(labels.iter().copied()),
        }
    }

    #[test]
    fn from_groups() {
        let cfg = config(concat!(
            "scheme: https\n    path_prefix: /prefix\n    relabel_configs:\n",
            "    - source_labels: [dc]\n      regex: us\n      action: drop\n",
            "    - source_labels: [__address__]\n      regex: 'move:(.*)'\n      target_label: __address__\n",
            "    - source_labels: [alt_path]\n      regex: '(.+)'\n      target_label: __alerts_path__\n",
        ));
        let groups = [
            group(&["a:9093", "a:9093", "move:b:9093"], &[("dc", "eu")]),
            group(&["c:9093"], &[("dc", "us")]),
            group(&["bad/addr"], &[]),
            TargetGroup {
                source: "1".into(),
                targets: vec![Labels::from_pairs([
                    (ADDRESS_LABEL, "d:1"),
                    ("alt_path", "/x"),
                ])],
                labels: Labels::empty(),
            },
        ];
        let d = alertmanagers(&groups, &cfg);
        assert_eq!(
            d.active,
            [
                "https://a:9093/prefix/api/v2/alerts",
                "https://b:9093/prefix/api/v2/alerts",
                "https://d:1/x",
            ]
        );
        assert_eq!(d.dropped, ["https://c:9093/prefix/api/v2/alerts"]);
    }
}
