//! Go RE2-compatible regular expressions for label matchers.
//!
//! Prometheus compiles a matcher's pattern with Go's `regexp` as
//! `^(?s:P)$`: fully anchored, `.` matches newline. Rust's `regex` crate is
//! also an RE2-family engine (no backtracking), but differs in details this
//! module evens out before compiling:
//!
//! - `\d \w \s` and `\b` are ASCII in Go, Unicode in Rust: rewritten to ASCII.
//! - `\Q…\E` quotes a literal in Go: expanded to escaped literals.
//! - Go reads `[` inside a class as a literal; Rust nests classes: escaped.
//! - Rust-only syntax (class set operations `&&`/`--`/`~~`, the `x`/`u`/`R`
//!   flags, `\<`/`\>`, `\b{…}`) is rejected, so a query means the same
//!   thing on Beacon as on Prometheus.
//!
//! `StringMatcher` then recognises common shapes (`a|b|c`, `foo.*`, `.*`,
//! `.+`) and answers them without running the regex at all.

use crate::{Error, Result};

/// Translates a Go RE2 pattern into the equivalent Rust `regex` pattern.
pub fn translate_go_regex(pattern: &str) -> Result<String> {
    let err = |reason: &str| Error::InvalidRegex {
        pattern: pattern.to_owned(),
        reason: reason.to_owned(),
    };
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    let mut class_start = 0usize; // index in `chars` just after `[` or `[^`
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&n) = chars.get(i + 1) else {
                return Err(err("trailing backslash at end of expression"));
            };
            i += 2;
            match n {
                'd' => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                'D' => out.push_str("[^0-9]"),
                'w' => out.push_str(if in_class {
                    "0-9A-Za-z_"
                } else {
                    "[0-9A-Za-z_]"
                }),
                'W' => out.push_str("[^0-9A-Za-z_]"),
                's' => out.push_str(if in_class {
                    "\\t\\n\\x0C\\r "
                } else {
                    "[\\t\\n\\x0C\\r ]"
                }),
                'S' => out.push_str("[^\\t\\n\\x0C\\r ]"),
                'b' | 'B' if in_class => {
                    return Err(err("invalid escape sequence in character class"));
                }
                'b' => {
                    if chars.get(i) == Some(&'{') {
                        return Err(err("invalid escape sequence: \\b{"));
                    }
                    out.push_str("(?-u:\\b)");
                }
                'B' => out.push_str("(?-u:\\B)"),
                'Q' => {
                    // Literal text up to \E or the end.
                    while i < chars.len() {
                        if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                            i += 2;
                            break;
                        }
                        push_literal(&mut out, chars[i]);
                        i += 1;
                    }
                }
                'E' => {} // A stray \E is ignored, as in Go.
                '0'..='7' => {
                    // Go: octal escape \123 (up to three digits); \0 alone too.
                    // A single nonzero digit is a backreference, which RE2 lacks.
                    let mut v = n.to_digit(8).unwrap_or(0);
                    let mut digits = 1;
                    while digits < 3 {
                        match chars.get(i).and_then(|c| c.to_digit(8)) {
                            Some(d) => {
                                v = v * 8 + d;
                                i += 1;
                                digits += 1;
                            }
                            None => break,
                        }
                    }
                    if n != '0' && digits == 1 {
                        return Err(err(
                            "invalid escape sequence (backreferences are not supported)",
                        ));
                    }
                    out.push_str(&format!("\\x{{{v:x}}}"));
                }
                'a' | 'f' | 't' | 'n' | 'r' | 'v' | 'x' | 'p' | 'P' | 'A' | 'z' => {
                    out.push('\\');
                    out.push(n);
                }
                // Go reads any escaped punctuation as that literal character;
                // Rust gives some (`\<`, `\>`) other meanings, so re-escape.
                c if c.is_ascii_punctuation() => push_literal(&mut out, c),
                _ => return Err(err(&format!("invalid escape sequence: \\{n}"))),
            }
            continue;
        }
        if in_class {
            match c {
                ']' if i > class_start => {
                    in_class = false;
                    out.push(']');
                }
                '[' => {
                    // Go's POSIX classes like [:alpha:] are shared with Rust.
                    if chars.get(i + 1) == Some(&':') {
                        let rest: String = chars[i..].iter().collect();
                        if let Some(end) = rest.find(":]") {
                            out.push_str(&rest[..end + 2]);
                            i += rest[..end + 2].chars().count();
                            continue;
                        }
                    }
                    out.push_str("\\[");
                }
                '&' | '-' | '~' if chars.get(i + 1) == Some(&c) => {
                    // Rust reads these pairs as set operations; Go as literals.
                    out.push('\\');
                    out.push(c);
                    out.push('\\');
                    out.push(c);
                    i += 2;
                    continue;
                }
                c => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // A `]` right after `[` or `[^` is a literal in both dialects.
                class_start = i + usize::from(chars.get(i) == Some(&']'));
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                continue;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                // Flags group: Go knows i, m, s, U and named groups.
                let mut j = i + 2;
                if matches!(chars.get(j), Some('P') | Some('<')) {
                    out.push_str("(?");
                    i += 2;
                    continue;
                }
                while let Some(&f) = chars.get(j) {
                    match f {
                        'i' | 'm' | 's' | 'U' | '-' => j += 1,
                        ':' | ')' => break,
                        _ => {
                            return Err(err(&format!("invalid or unsupported Perl syntax: (?{f}")));
                        }
                    }
                }
                out.push(c);
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    if in_class {
        return Err(err("missing closing ]"));
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if regex_syntax::is_meta_character(c) {
        out.push('\\');
    }
    out.push(c);
}

/// Compiles a Go RE2 pattern, fully anchored and with `.` matching newline,
/// exactly as Prometheus compiles label matcher regexes.
pub fn compile_anchored(pattern: &str) -> Result<regex::Regex> {
    let translated = translate_go_regex(pattern)?;
    regex::RegexBuilder::new(&format!("^(?s:{translated})$"))
        .size_limit(64 << 20)
        .build()
        .map_err(|e| Error::InvalidRegex {
            pattern: pattern.to_owned(),
            reason: first_line(&e.to_string()),
        })
}

/// Compiles a Go RE2 pattern unanchored (for `label_replace` and friends,
/// which anchor themselves, and for `expect fail regex:` in test scripts).
pub fn compile_unanchored(pattern: &str) -> Result<regex::Regex> {
    let translated = translate_go_regex(pattern)?;
    regex::RegexBuilder::new(&translated)
        .size_limit(64 << 20)
        .build()
        .map_err(|e| Error::InvalidRegex {
            pattern: pattern.to_owned(),
            reason: first_line(&e.to_string()),
        })
}

fn first_line(s: &str) -> String {
    s.lines()
        .filter(|l| l.starts_with("error:"))
        .map(|l| l.trim_start_matches("error:").trim())
        .next()
        .unwrap_or(s)
        .to_owned()
}

/// A matcher for a string value, with fast paths for common regex shapes.
#[derive(Debug, Clone)]
pub enum StringMatcher {
    /// `.*`: everything, including the empty string.
    Any,
    /// `.+`: everything but the empty string.
    NotEmpty,
    /// A literal: `foo`.
    Equal(String),
    /// An alternation of literals: `a|b|c`, sorted and deduplicated.
    Set(Vec<String>),
    /// `foo.*`
    Prefix(String),
    /// `.*foo`
    Suffix(String),
    /// `.*foo.*`
    Contains(String),
    /// Anything else: the compiled, anchored regex.
    Regex(Box<regex::Regex>),
}

impl StringMatcher {
    /// Builds the matcher for a Go RE2 pattern (validated by compiling it).
    pub fn from_regex(pattern: &str) -> Result<StringMatcher> {
        let re = compile_anchored(pattern)?;
        Ok(Self::fast_path(pattern).unwrap_or_else(|| StringMatcher::Regex(Box::new(re))))
    }

    fn fast_path(p: &str) -> Option<StringMatcher> {
        match p {
            ".*" => return Some(StringMatcher::Any),
            ".+" => return Some(StringMatcher::NotEmpty),
            _ => {}
        }
        if let Some(mid) = p.strip_prefix(".*").and_then(|r| r.strip_suffix(".*"))
            && is_plain_literal(mid)
        {
            return Some(StringMatcher::Contains(mid.to_owned()));
        }
        if let Some(pre) = p.strip_suffix(".*")
            && is_plain_literal(pre)
        {
            return Some(StringMatcher::Prefix(pre.to_owned()));
        }
        if let Some(suf) = p.strip_prefix(".*")
            && is_plain_literal(suf)
        {
            return Some(StringMatcher::Suffix(suf.to_owned()));
        }
        let inner = p
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .filter(|r| !r.contains(['(', ')']))
            .unwrap_or(p);
        let alts: Vec<&str> = inner.split('|').collect();
        if alts.iter().all(|a| is_plain_literal(a)) {
            if alts.len() == 1 {
                return Some(StringMatcher::Equal(alts[0].to_owned()));
            }
            let mut v: Vec<String> = alts.iter().map(|s| (*s).to_owned()).collect();
            v.sort();
            v.dedup();
            return Some(StringMatcher::Set(v));
        }
        None
    }

    /// Does `s` match?
    #[inline]
    pub fn matches(&self, s: &str) -> bool {
        match self {
            StringMatcher::Any => true,
            StringMatcher::NotEmpty => !s.is_empty(),
            StringMatcher::Equal(v) => s == v,
            StringMatcher::Set(v) => {
                if v.len() < 8 {
                    v.iter().any(|x| x == s)
                } else {
                    v.binary_search_by(|x| x.as_str().cmp(s)).is_ok()
                }
            }
            StringMatcher::Prefix(p) => s.starts_with(p.as_str()),
            StringMatcher::Suffix(p) => s.ends_with(p.as_str()),
            StringMatcher::Contains(p) => s.contains(p.as_str()),
            StringMatcher::Regex(re) => re.is_match(s),
        }
    }

    /// When the matcher accepts only a finite set of strings, that set.
    /// An index uses it to look values up instead of scanning them all.
    pub fn set_matches(&self) -> Option<Vec<&str>> {
        match self {
            StringMatcher::Equal(v) => Some(vec![v.as_str()]),
            StringMatcher::Set(v) => Some(v.iter().map(String::as_str).collect()),
            _ => None,
        }
    }

    /// A literal prefix every match starts with, if there is one.
    pub fn prefix(&self) -> Option<&str> {
        match self {
            StringMatcher::Prefix(p) | StringMatcher::Equal(p) => Some(p),
            _ => None,
        }
    }
}

/// True when `s` has no regex metacharacters, so it matches only itself.
fn is_plain_literal(s: &str) -> bool {
    !s.chars()
        .any(|c| regex_syntax::is_meta_character(c) || c == '\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pattern: &str, yes: &[&str], no: &[&str]) {
        let m = StringMatcher::from_regex(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        for s in yes {
            assert!(m.matches(s), "{pattern} should match {s:?} ({m:?})");
        }
        for s in no {
            assert!(!m.matches(s), "{pattern} should not match {s:?} ({m:?})");
        }
    }

    #[test]
    fn anchored_and_dotall() {
        check("foo", &["foo"], &["foox", "xfoo", ""]);
        check("f.o", &["f\no", "fxo"], &["fo"]);
        check(".*", &["", "a\nb"], &[]);
        check(".+", &["a"], &[""]);
        check("foo.*", &["foo", "foo\nbar"], &["fo"]);
        check(".*bar", &["bar", "xbar"], &["barx"]);
        check(".*ba.*", &["ba", "xbax"], &["b"]);
        check("a|b|c", &["a", "c"], &["ab", ""]);
        check("(a|bb)", &["bb"], &["b"]);
        check("a|b.*", &["a", "bcd"], &["ab"]);
    }

    #[test]
    fn go_semantics() {
        // \d and \w are ASCII in Go.
        check(r"\d+", &["123"], &["١٢٣"]);
        check(r"\w+", &["a_1"], &["é"]);
        check(r"[\d.]+", &["1.5"], &["a"]);
        check(r"\Qa.b\E", &["a.b"], &["axb"]);
        check(r"[[]", &["["], &["]"]);
        check(r"[]a]", &["]", "a"], &["b"]);
        check(r"\101", &["A"], &["B"]);
        check(r"(?i)foo", &["FoO"], &["bar"]);
        check(r"[a&&b]", &["a", "&", "b"], &["c"]);
        check(r"\<a\>", &["<a>"], &["a"]);
    }

    #[test]
    fn rust_only_syntax_rejected() {
        for bad in [
            r"(?x)a b",
            r"\b{start}",
            "a\\",
            "(?u)a",
            r"\1",
            "[a",
            "a(",
            "*",
        ] {
            assert!(
                StringMatcher::from_regex(bad).is_err(),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn fast_paths_chosen() {
        assert!(matches!(
            StringMatcher::from_regex("a|b").unwrap(),
            StringMatcher::Set(_)
        ));
        assert!(matches!(
            StringMatcher::from_regex("foo.*").unwrap(),
            StringMatcher::Prefix(_)
        ));
        assert!(matches!(
            StringMatcher::from_regex("f[o]o.*").unwrap(),
            StringMatcher::Regex(_)
        ));
        assert_eq!(
            StringMatcher::from_regex("x|y").unwrap().set_matches(),
            Some(vec!["x", "y"])
        );
    }
}
