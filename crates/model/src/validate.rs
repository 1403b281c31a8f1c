//! Name validation: Prometheus's legacy character set and the UTF-8 names
//! that Prometheus 3 accepts.

/// Which names a component accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameValidation {
    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` for metric names, no colon for label names.
    Legacy,
    /// Any non-empty valid UTF-8 string (Prometheus 3's default).
    #[default]
    Utf8,
}

impl NameValidation {
    /// Is `name` a valid metric name under this scheme?
    pub fn metric_name(self, name: &str) -> bool {
        match self {
            NameValidation::Legacy => is_valid_legacy_metric_name(name),
            NameValidation::Utf8 => is_valid_utf8_name(name),
        }
    }

    /// Is `name` a valid label name under this scheme?
    pub fn label_name(self, name: &str) -> bool {
        match self {
            NameValidation::Legacy => is_valid_legacy_label_name(name),
            NameValidation::Utf8 => is_valid_utf8_name(name),
        }
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`
pub fn is_valid_legacy_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.iter().enumerate().all(|(i, &c)| {
            c.is_ascii_alphabetic() || c == b'_' || c == b':' || (i > 0 && c.is_ascii_digit())
        })
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`
pub fn is_valid_legacy_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.iter()
            .enumerate()
            .all(|(i, &c)| c.is_ascii_alphabetic() || c == b'_' || (i > 0 && c.is_ascii_digit()))
}

/// Prometheus 3 accepts any non-empty UTF-8 string as a name; `&str` is
/// already valid UTF-8, so only emptiness is left to check.
pub fn is_valid_utf8_name(name: &str) -> bool {
    !name.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_names() {
        for ok in ["a", "_", "a1", "a:b", "node_cpu_seconds_total", ":x"] {
            assert!(is_valid_legacy_metric_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a.b", "ä"] {
            assert!(!is_valid_legacy_metric_name(bad), "{bad}");
        }
        assert!(is_valid_legacy_label_name("le"));
        assert!(!is_valid_legacy_label_name("a:b"));
        assert!(!is_valid_legacy_label_name("0"));
        assert!(NameValidation::Utf8.label_name("my.label"));
        assert!(!NameValidation::Legacy.label_name("my.label"));
        assert!(!NameValidation::Utf8.label_name(""));
    }
}
