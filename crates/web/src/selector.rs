//! Series selectors for `match[]` parameters: `name{label op "value", ...}`.
//!
//! This is the subset of PromQL that `ParseMetricSelector` accepts in
//! Prometheus. Errors carry `line:col` in PromQL's style; the parser works
//! on bytes and never panics.

use beacon_model::{METRIC_NAME, MatchType, Matcher};

/// Longest selector accepted, so a request cannot make us allocate
/// without bound while parsing.
pub const SELECTOR_BYTES_MAX: usize = 64 << 10;

/// Parses one series selector into its matchers.
pub fn parse_selector(input: &str) -> Result<Vec<Matcher>, String> {
    if input.len() > SELECTOR_BYTES_MAX {
        return Err(format!(
            "selector is {} bytes long, more than the limit of {SELECTOR_BYTES_MAX}",
            input.len()
        ));
    }
    let mut p = Parser { s: input, pos: 0 };
    let matchers = p.selector()?;
    p.skip_ws();
    if p.pos < input.len() {
        return Err(p.err("unexpected input after selector"));
    }
    if matchers.iter().all(Matcher::matches_empty) {
        return Err(p.err_at(
            0,
            "vector selector must contain at least one non-empty matcher",
        ));
    }
    Ok(matchers)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn err(&self, msg: &str) -> String {
        self.err_at(self.pos, msg)
    }

    fn err_at(&self, pos: usize, msg: &str) -> String {
        let before = &self.s.as_bytes()[..pos.min(self.s.len())];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        format!("{line}:{}: parse error: {msg}", pos - start + 1)
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn ident(&mut self, metric: bool) -> Option<&str> {
        let start = self.pos;
        let b = self.s.as_bytes();
        while let Some(&c) = b.get(self.pos) {
            let ok = c.is_ascii_alphabetic()
                || c == b'_'
                || (metric && c == b':')
                || (self.pos > start && c.is_ascii_digit());
            if !ok {
                break;
            }
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.s[start..self.pos])
    }

    fn selector(&mut self) -> Result<Vec<Matcher>, String> {
        self.skip_ws();
        let mut matchers = Vec::new();
        if let Some(name) = self.ident(true) {
            matchers.push(Matcher::equal(METRIC_NAME, name));
            self.skip_ws();
        }
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                self.matchers(&mut matchers)?;
            }
            None if !matchers.is_empty() => {}
            None => return Err(self.err("unexpected end of input")),
            Some(_) if matchers.is_empty() => {
                return Err(self.err("unexpected character, expected a series selector"));
            }
            Some(_) => {}
        }
        Ok(matchers)
    }

    fn matchers(&mut self, out: &mut Vec<Matcher>) -> Result<(), String> {
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                None => return Err(self.err("unexpected end of input inside braces")),
                _ => {}
            }
            let name = match self.peek() {
                Some(b'"' | b'\'' | b'`') => self.string()?,
                _ => match self.ident(false) {
                    Some(n) => n.to_owned(),
                    None => return Err(self.err("unexpected character inside braces")),
                },
            };
            self.skip_ws();
            if matches!(self.peek(), Some(b',' | b'}')) && out.is_empty() {
                // A quoted metric name on its own: `{"my.metric"}`.
                out.push(Matcher::equal(METRIC_NAME, name));
            } else {
                let op = self.op()?;
                self.skip_ws();
                let value = self.string()?;
                let m = Matcher::new(op, name, value).map_err(|e| self.err(&e.to_string()))?;
                out.push(m);
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                None => return Err(self.err("unexpected end of input inside braces")),
                Some(_) => return Err(self.err("unexpected character inside braces")),
            }
        }
    }

    fn op(&mut self) -> Result<MatchType, String> {
        let rest = &self.s.as_bytes()[self.pos..];
        let (op, len) = match rest {
            [b'=', b'~', ..] => (MatchType::Regex, 2),
            [b'!', b'~', ..] => (MatchType::NotRegex, 2),
            [b'!', b'=', ..] => (MatchType::NotEqual, 2),
            [b'=', ..] => (MatchType::Equal, 1),
            _ => {
                return Err(self.err(
                    "unexpected character inside braces, expected a label matching operator",
                ));
            }
        };
        self.pos += len;
        Ok(op)
    }

    /// A PromQL string literal: `"..."` or `'...'` with Go escapes, or a raw
    /// `` `...` ``.
    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        let Some(q) = self.peek() else {
            return Err(self.err("unexpected end of input, expected a string"));
        };
        if !matches!(q, b'"' | b'\'' | b'`') {
            return Err(self.err("unexpected character, expected a string"));
        }
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.s[self.pos..].char_indices();
        while let Some((i, c)) = chars.next() {
            if c as u32 == u32::from(q) {
                self.pos += i + 1;
                return Ok(out);
            }
            if c == '\\' && q != b'`' {
                let Some((_, e)) = chars.next() else { break };
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'v' => '\u{b}',
                    '\\' | '"' | '\'' => e,
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                        u32::from_str_radix(&hex, 16)
                            .ok()
                            .filter(|_| hex.len() == n)
                            .and_then(char::from_u32)
                            .ok_or_else(|| {
                                self.err_at(start, "invalid escape sequence in string")
                            })?
                    }
                    _ => return Err(self.err_at(start, "unknown escape sequence in string")),
                });
            } else {
                out.push(c);
            }
        }
        Err(self.err_at(start, "unterminated quoted string"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, want: Result<&str, &str>) {
        let got = parse_selector(input).map(|ms| {
            ms.iter()
                .map(|m| format!("{}{}{:?}", m.name, m.kind.as_str(), m.value))
                .collect::<Vec<_>>()
                .join(",")
        });
        match want {
            Ok(w) => assert_eq!(got.as_deref(), Ok(w), "{input}"),
            Err(w) => {
                let e = got.expect_err(input);
                assert!(e.contains(w), "{input}: {e}");
            }
        }
    }

    #[test]
    fn selectors() {
        check("up", Ok(r#"__name__="up""#));
        check(
            r#"up{job="a",i!~'b.*'}"#,
            Ok(r#"__name__="up",job="a",i!~"b.*""#),
        );
        check(r#"{job=~".+",}"#, Ok(r#"job=~".+""#));
        check(
            r#"{"my.metric", a="\x41\n"}"#,
            Ok(r#"__name__="my.metric",a="A\n""#),
        );
        check("{a=`x\\y`}", Ok(r#"a="x\\y""#));
        check(r#"{job=""}"#, Err("at least one non-empty matcher"));
        check(
            "up{",
            Err("1:4: parse error: unexpected end of input inside braces"),
        );
        check(r#"{a="b"#, Err("unterminated quoted string"));
        check("", Err("unexpected end of input"));
        check("up +", Err("unexpected input after selector"));
        check(r#"{a=~"("}"#, Err("parse error"));
        check(r#"{a="\q"}"#, Err("unknown escape"));
        check("{a=\"\\x4\"}", Err("escape"));
    }
}
