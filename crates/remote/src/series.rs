//! Turning a request's label pairs into a valid `Labels`, with
//! Prometheus's checks: a metric name is present and non-empty, no label
//! name is empty, and no name appears twice. Senders should sort labels,
//! but Prometheus sorts them itself rather than refusing, and so do we.

use std::fmt::Write as _;

use beacon_model::{Labels, METRIC_NAME};

/// Why a series' labels were refused; `Display` is the message a sender
/// sees in the 400 body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidLabels {
    /// No `__name__`, an empty one, or an empty label name.
    NameOrLabels(String),
    /// A label name appears more than once.
    Duplicate { labels: String, name: String },
}

impl std::fmt::Display for InvalidLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InvalidLabels::NameOrLabels(ls) => {
                write!(f, "invalid metric name or labels, got {ls}")
            }
            InvalidLabels::Duplicate { labels, name } => write!(
                f,
                "invalid labels for series, labels {labels}, duplicated label {name}"
            ),
        }
    }
}

/// Prints pairs as Prometheus prints a label set: `{a="1", b="2"}`.
fn format_pairs(pairs: &[(&str, &str)]) -> String {
    let mut s = String::from("{");
    for (i, (n, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{n}={v:?}");
    }
    s.push('}');
    s
}

/// Validates and builds a series' labels from name/value pairs in any
/// order. Pairs with empty values are dropped, as Beacon's `Labels` never
/// hold one (Prometheus treats an empty value as an absent label).
pub fn series_labels(mut pairs: Vec<(&str, &str)>) -> Result<Labels, InvalidLabels> {
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let has_name = pairs
        .iter()
        .any(|(n, v)| *n == METRIC_NAME && !v.is_empty());
    if !has_name || pairs.iter().any(|(n, _)| n.is_empty()) {
        return Err(InvalidLabels::NameOrLabels(format_pairs(&pairs)));
    }
    if let Some(w) = pairs.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(InvalidLabels::Duplicate {
            labels: format_pairs(&pairs),
            name: w[0].0.to_owned(),
        });
    }
    Ok(Labels::from_sorted(
        pairs.into_iter().filter(|(_, v)| !v.is_empty()),
    ))
}

/// Exemplar labels: any pairs, sorted, empty values dropped; later
/// duplicates win (Prometheus does not validate exemplar labels here; the
/// storage limits their length).
pub fn exemplar_labels(pairs: Vec<(&str, &str)>) -> Labels {
    Labels::from_pairs(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pairs: &[(&str, &str)], expected: Result<&str, &str>) {
        let got = series_labels(pairs.to_vec())
            .map(|l| l.to_string())
            .map_err(|e| e.to_string());
        let expected = expected.map(str::to_owned).map_err(str::to_owned);
        assert_eq!(got, expected, "{pairs:?}");
    }

    #[test]
    fn validation_follows_prometheus() {
        check(&[("__name__", "up"), ("job", "a")], Ok(r#"up{job="a"}"#));
        check(&[("job", "a"), ("__name__", "up")], Ok(r#"up{job="a"}"#));
        check(&[("__name__", "up"), ("x", "")], Ok("up"));
        check(
            &[("job", "a")],
            Err(r#"invalid metric name or labels, got {job="a"}"#),
        );
        check(
            &[("__name__", ""), ("job", "a")],
            Err(r#"invalid metric name or labels, got {__name__="", job="a"}"#),
        );
        check(
            &[("__name__", "up"), ("", "a")],
            Err(r#"invalid metric name or labels, got {="a", __name__="up"}"#),
        );
        check(
            &[("__name__", "up"), ("a", "1"), ("a", "2")],
            Err(
                r#"invalid labels for series, labels {__name__="up", a="1", a="2"}, duplicated label a"#,
            ),
        );
        check(&[], Err("invalid metric name or labels, got {}"));
    }
}
