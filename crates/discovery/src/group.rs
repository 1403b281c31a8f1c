//! [`TargetGroup`] and the JSON/YAML group list shared by file and HTTP
//! discovery (`[{"targets": [...], "labels": {...}}]`).

use std::collections::BTreeMap;

use beacon_model::{Labels, is_valid_utf8_name};
use serde::Deserialize;

use crate::{Error, Result};

/// The label that holds a target's `host:port`.
pub const ADDRESS_LABEL: &str = "__address__";

/// A set of targets from one source that share some labels.
///
/// **Invariant:** every target has an `__address__` label.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    /// Identifies the group within its provider (a file path and index, a
    /// URL and index, a DNS name, a region, ...).
    pub source: String,
    /// One label set per target.
    pub targets: Vec<Labels>,
    /// Labels common to every target of the group (targets' own win).
    pub labels: Labels,
}

impl TargetGroup {
    /// A group of plain `host:port` targets with common `labels`.
    pub fn from_addresses<'a>(
        source: impl Into<String>,
        addresses: impl IntoIterator<Item = &'a str>,
        labels: Labels,
    ) -> TargetGroup {
        TargetGroup {
            source: source.into(),
            targets: addresses
                .into_iter()
                .map(|a| Labels::from_pairs([(ADDRESS_LABEL, a)]))
                .collect(),
            labels,
        }
    }
}

/// One group as written in a file or HTTP body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

fn invalid(source_name: &str, reason: impl Into<String>) -> Error {
    Error::InvalidGroups {
        source_name: source_name.to_owned(),
        reason: reason.into(),
    }
}

fn convert(raw: Vec<RawGroup>, source_name: &str) -> Result<Vec<TargetGroup>> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, g) in raw.into_iter().enumerate() {
        for name in g.labels.keys() {
            if !is_valid_utf8_name(name) {
                return Err(invalid(
                    source_name,
                    format!("group {i}: invalid label name {name:?}"),
                ));
            }
        }
        for t in &g.targets {
            if t.is_empty() || t.contains('/') {
                return Err(invalid(
                    source_name,
                    format!("group {i}: invalid target {t:?}"),
                ));
            }
        }
        out.push(TargetGroup {
            source: format!("{source_name}:{i}"),
            targets: g
                .targets
                .iter()
                .map(|t| Labels::from_pairs([(ADDRESS_LABEL, t.as_str())]))
                .collect(),
            labels: Labels::from_pairs(g.labels.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        });
    }
    Ok(out)
}

/// Parses a JSON list of target groups; sources are `<source_name>:<index>`.
pub fn parse_groups_json(body: &[u8], source_name: &str) -> Result<Vec<TargetGroup>> {
    let raw: Vec<RawGroup> =
        serde_json::from_slice(body).map_err(|e| invalid(source_name, e.to_string()))?;
    convert(raw, source_name)
}

/// Parses a YAML list of target groups; sources are `<source_name>:<index>`.
pub fn parse_groups_yaml(body: &[u8], source_name: &str) -> Result<Vec<TargetGroup>> {
    let text = std::str::from_utf8(body).map_err(|e| invalid(source_name, e.to_string()))?;
    // An empty YAML document is an empty list, as in Prometheus.
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let raw: Vec<RawGroup> =
        serde_saphyr::from_str(text).map_err(|e| invalid(source_name, e.to_string()))?;
    convert(raw, source_name)
}

/// Replaces every character not allowed in a legacy label name with `_`,
/// as Prometheus does for tag and key names turned into `__meta_*` labels.
pub fn sanitize_label_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(body: &str, yaml: bool, expected: Result<&[(&str, &str)], &str>) {
        let got = if yaml {
            parse_groups_yaml(body.as_bytes(), "f")
        } else {
            parse_groups_json(body.as_bytes(), "f")
        };
        match (got, expected) {
            (Ok(groups), Ok(want)) => {
                let flat: Vec<(String, String)> = groups
                    .iter()
                    .flat_map(|g| {
                        g.targets.iter().map(|t| {
                            (
                                t.get(ADDRESS_LABEL).unwrap().to_owned(),
                                g.labels.to_string(),
                            )
                        })
                    })
                    .collect();
                let want: Vec<(String, String)> = want
                    .iter()
                    .map(|(a, l)| (a.to_string(), l.to_string()))
                    .collect();
                assert_eq!(flat, want, "{body}");
            }
            (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{e} !~ {want}"),
            (got, want) => panic!("{body}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn group_lists() {
        check(
            r#"[{"targets":["a:1","b:2"],"labels":{"env":"prod"}}]"#,
            false,
            Ok(&[("a:1", r#"{env="prod"}"#), ("b:2", r#"{env="prod"}"#)]),
        );
        check("- targets: [x:9]\n", true, Ok(&[("x:9", "{}")]));
        check("", true, Ok(&[]));
        check("[]", false, Ok(&[]));
        check("{", false, Err("invalid target groups"));
        check(r#"[{"targetz":[]}]"#, false, Err("unknown field"));
        check(r#"[{"targets":["a/b"]}]"#, false, Err("invalid target"));
        check(
            r#"[{"targets":[],"labels":{"":"x"}}]"#,
            false,
            Err("label name"),
        );
        check("- targets: 5\n", true, Err("invalid target groups"));
    }

    #[test]
    fn sanitizes_names() {
        assert_eq!(sanitize_label_name("Name-1.x"), "Name_1_x");
        assert_eq!(sanitize_label_name("ok_1"), "ok_1");
    }
}
