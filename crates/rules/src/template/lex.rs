//! The template lexer: text between actions, and the tokens inside
//! `{{ }}`, with Go's `{{- ` / ` -}}` whitespace trimming.

use std::collections::VecDeque;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Text(String),
    Open,
    Close,
    /// A whole `{{/* ... */}}` action, its closing delimiter included.
    Comment,
    Ident(String),
    /// `.Name` (one or more dotted names).
    Field(String),
    Dot,
    /// `$name`, or `$` alone.
    Var(String),
    Str(String),
    Number(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
    Eof,
}

pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    in_action: bool,
    /// The previous action ended with ` -}}`: trim the next text's start.
    trim_next: bool,
    pending: VecDeque<Tok>,
}

/// Go's trim markers need a space (or other ASCII white space) beside the `-`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            line: 1,
            in_action: false,
            trim_next: false,
            pending: VecDeque::new(),
        }
    }

    /// The 1-based line the lexer is on.
    pub fn line(&self) -> usize {
        self.line
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn advance(&mut self, n: usize) {
        let n = n.min(self.src.len() - self.pos);
        self.line += self.src[self.pos..self.pos + n].matches('\n').count();
        self.pos += n;
    }

    pub fn next(&mut self) -> Result<Tok, String> {
        if let Some(t) = self.pending.pop_front() {
            return Ok(t);
        }
        if self.in_action {
            self.action_tok()
        } else {
            self.text()
        }
    }

    fn text(&mut self) -> Result<Tok, String> {
        let rest = self.rest();
        if rest.is_empty() {
            return Ok(Tok::Eof);
        }
        let open = rest.find("{{");
        let end = open.unwrap_or(rest.len());
        let mut text = &rest[..end];
        if std::mem::take(&mut self.trim_next) {
            text = text.trim_start_matches(|c: char| c.is_ascii_whitespace());
        }
        let after = &rest.as_bytes()[end.min(rest.len())..];
        let left_trim = open.is_some() && after.len() > 3 && after[2] == b'-' && is_space(after[3]);
        if left_trim {
            text = text.trim_end_matches(|c: char| c.is_ascii_whitespace());
        }
        let text = text.to_owned();
        self.advance(end);
        if open.is_some() {
            self.advance(if left_trim { 3 } else { 2 });
            self.in_action = true;
            self.comment()?;
        }
        if text.is_empty() {
            self.next()
        } else {
            Ok(Tok::Text(text))
        }
    }

    /// After `{{`: a comment is lexed whole; otherwise queue `Open`.
    fn comment(&mut self) -> Result<(), String> {
        let trimmed = self
            .rest()
            .trim_start_matches(|c: char| c.is_ascii_whitespace());
        if !trimmed.starts_with("/*") {
            self.pending.push_back(Tok::Open);
            return Ok(());
        }
        let skip = self.rest().len() - trimmed.len();
        let Some(end) = trimmed.find("*/") else {
            return Err("unclosed comment".into());
        };
        self.advance(skip + end + 2);
        let after = self.rest();
        let close = after.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let ws = after.len() - close.len();
        if let Some(_rest) = close.strip_prefix("-}}").filter(|_| ws > 0) {
            self.trim_next = true;
            self.advance(ws + 3);
        } else if close.starts_with("}}") {
            self.advance(ws + 2);
        } else {
            return Err("comment ends before closing delimiter".into());
        }
        self.in_action = false;
        self.pending.push_back(Tok::Comment);
        Ok(())
    }

    fn action_tok(&mut self) -> Result<Tok, String> {
        let rest = self.rest();
        let body = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let ws = rest.len() - body.len();
        self.advance(ws);
        if body.is_empty() {
            return Err("unclosed action".into());
        }
        if ws > 0 && body.starts_with("-}}") {
            self.advance(3);
            self.in_action = false;
            self.trim_next = true;
            return Ok(Tok::Close);
        }
        if body.starts_with("}}") {
            self.advance(2);
            self.in_action = false;
            return Ok(Tok::Close);
        }
        let b = body.as_bytes();
        let simple = punct(b);
        if let Some((t, n)) = simple {
            self.advance(n);
            return Ok(t);
        }
        match b[0] {
            b'"' => self.quoted(body),
            b'`' => {
                let end = body[1..]
                    .find('`')
                    .ok_or("unterminated raw quoted string")?;
                let s = body[1..1 + end].to_owned();
                self.advance(end + 2);
                Ok(Tok::Str(s))
            }
            b'\'' => self.char_const(body),
            b'$' => {
                let n = 1 + word_len(&body[1..]);
                self.advance(n);
                Ok(Tok::Var(body[..n].to_owned()))
            }
            b'.' if b.get(1).is_some_and(|c| c.is_ascii_digit()) => self.number(body),
            b'.' => Ok(self.field(body)),
            c if c.is_ascii_digit() => self.number(body),
            b'-' | b'+' if b.get(1).is_some_and(|c| c.is_ascii_digit() || *c == b'.') => {
                self.number(body)
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let n = word_len(body);
                self.advance(n);
                Ok(Tok::Ident(body[..n].to_owned()))
            }
            _ => {
                let c = body.chars().next().unwrap_or(' ');
                Err(format!("unexpected {c:?} in command"))
            }
        }
    }

    /// `.` alone, or a field chain `.A.B`.
    fn field(&mut self, body: &str) -> Tok {
        let mut n = 0;
        while body[n..].starts_with('.') && word_len(&body[n + 1..]) > 0 {
            n += 1 + word_len(&body[n + 1..]);
        }
        if n == 0 {
            self.advance(1);
            return Tok::Dot;
        }
        self.advance(n);
        Tok::Field(body[..n].to_owned())
    }

    fn number(&mut self, body: &str) -> Result<Tok, String> {
        let mut n = 0;
        for (i, c) in body.char_indices() {
            let sign_ok = i == 0 || matches!(body.as_bytes()[i - 1], b'e' | b'E');
            if c.is_ascii_alphanumeric()
                || c == '.'
                || c == '_'
                || ((c == '-' || c == '+') && sign_ok)
            {
                n = i + 1;
            } else {
                break;
            }
        }
        self.advance(n);
        Ok(Tok::Number(body[..n].to_owned()))
    }

    fn quoted(&mut self, body: &str) -> Result<Tok, String> {
        let mut out = String::new();
        let mut chars = body.char_indices().skip(1);
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.advance(i + 1);
                    return Ok(Tok::Str(out));
                }
                '\n' => break,
                '\\' => {
                    let (_, e) = chars.next().ok_or("unterminated quoted string")?;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '\\' | '"' | '\'' => out.push(e),
                        'x' | 'u' | 'U' => {
                            let len = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let hex: String =
                                (0..len).filter_map(|_| chars.next().map(|p| p.1)).collect();
                            let ch = u32::from_str_radix(&hex, 16)
                                .ok()
                                .and_then(char::from_u32)
                                .ok_or_else(|| {
                                    format!("invalid escape \\{e}{hex} in quoted string")
                                })?;
                            out.push(ch);
                        }
                        _ => return Err(format!("invalid escape \\{e} in quoted string")),
                    }
                }
                _ => out.push(c),
            }
        }
        Err("unterminated quoted string".into())
    }

    fn char_const(&mut self, body: &str) -> Result<Tok, String> {
        let mut it = body.char_indices().skip(1);
        let (_, c) = it.next().ok_or("unterminated character constant")?;
        match it.next() {
            Some((i, '\'')) if c != '\\' => {
                self.advance(i + 1);
                Ok(Tok::Number((c as u32).to_string()))
            }
            _ => Err("unsupported character constant".into()),
        }
    }
}

/// Punctuation tokens and their length.
fn punct(b: &[u8]) -> Option<(Tok, usize)> {
    match b[0] {
        b'|' => Some((Tok::Pipe, 1)),
        b'(' => Some((Tok::LParen, 1)),
        b')' => Some((Tok::RParen, 1)),
        b',' => Some((Tok::Comma, 1)),
        b'=' => Some((Tok::Assign, 1)),
        b':' if b.get(1) == Some(&b'=') => Some((Tok::Declare, 2)),
        _ => None,
    }
}

/// Length of a Go identifier at the start of `s` (letters, digits, `_`).
fn word_len(s: &str) -> usize {
    s.char_indices()
        .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
        .map_or(s.len(), |(i, _)| i)
}
