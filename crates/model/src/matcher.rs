//! Label matchers: `=`, `!=`, `=~`, `!~`.

use std::fmt;

use crate::regex::StringMatcher;
use crate::{Labels, Result};

/// The four matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchType {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchType {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchType::Equal => "=",
            MatchType::NotEqual => "!=",
            MatchType::Regex => "=~",
            MatchType::NotRegex => "!~",
        }
    }
}

/// One label matcher. Regexes are compiled once, at construction.
#[derive(Debug, Clone)]
pub struct Matcher {
    pub name: String,
    pub kind: MatchType,
    pub value: String,
    matcher: StringMatcher,
}

impl Matcher {
    /// Builds a matcher; a regex that does not compile is an error.
    pub fn new(
        kind: MatchType,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher> {
        let value = value.into();
        let matcher = match kind {
            MatchType::Equal | MatchType::NotEqual => StringMatcher::Equal(value.clone()),
            MatchType::Regex | MatchType::NotRegex => StringMatcher::from_regex(&value)?,
        };
        Ok(Matcher {
            name: name.into(),
            kind,
            value,
            matcher,
        })
    }

    /// An equality matcher (never fails).
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Matcher {
        let value = value.into();
        Matcher {
            name: name.into(),
            kind: MatchType::Equal,
            matcher: StringMatcher::Equal(value.clone()),
            value,
        }
    }

    /// Does a label value match? A missing label is the empty string.
    #[inline]
    pub fn matches(&self, value: &str) -> bool {
        let m = self.matcher.matches(value);
        match self.kind {
            MatchType::Equal | MatchType::Regex => m,
            MatchType::NotEqual | MatchType::NotRegex => !m,
        }
    }

    /// Does a whole series match?
    pub fn matches_labels(&self, labels: &Labels) -> bool {
        self.matches(labels.get(&self.name).unwrap_or(""))
    }

    /// True when the matcher accepts the empty string (and so also series
    /// that lack the label entirely).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }

    /// The underlying string matcher, for index fast paths.
    pub fn string_matcher(&self) -> &StringMatcher {
        &self.matcher
    }

    /// For a positive matcher with a finite set of values, those values.
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        match self.kind {
            MatchType::Equal | MatchType::Regex => self.matcher.set_matches(),
            _ => None,
        }
    }

    /// True for `!=` and `!~`.
    pub fn is_negative(&self) -> bool {
        matches!(self.kind, MatchType::NotEqual | MatchType::NotRegex)
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.kind == other.kind && self.value == other.value
    }
}

impl Eq for Matcher {}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if crate::is_valid_legacy_label_name(&self.name) {
            f.write_str(&self.name)?;
        } else {
            crate::labels::write_quoted(f, &self.name)?;
        }
        f.write_str(self.kind.as_str())?;
        crate::labels::write_quoted(f, &self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        let l = Labels::from_pairs([("job", "node"), ("env", "prod")]);
        assert!(
            Matcher::new(MatchType::Equal, "job", "node")
                .unwrap()
                .matches_labels(&l)
        );
        assert!(
            Matcher::new(MatchType::NotEqual, "job", "x")
                .unwrap()
                .matches_labels(&l)
        );
        assert!(
            Matcher::new(MatchType::Regex, "env", "pr.*")
                .unwrap()
                .matches_labels(&l)
        );
        assert!(
            !Matcher::new(MatchType::NotRegex, "env", "pr.*")
                .unwrap()
                .matches_labels(&l)
        );
        // A missing label matches the empty string.
        assert!(
            Matcher::new(MatchType::Equal, "missing", "")
                .unwrap()
                .matches_labels(&l)
        );
        assert!(
            Matcher::new(MatchType::Regex, "missing", ".*")
                .unwrap()
                .matches_empty()
        );
        assert!(Matcher::new(MatchType::Regex, "a", "(").is_err());
        assert_eq!(
            Matcher::new(MatchType::Regex, "a.b", "x\"")
                .unwrap()
                .to_string(),
            r#""a.b"=~"x\"""#
        );
    }
}
