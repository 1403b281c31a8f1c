//! The PromQL lexer: turns a query into tokens with byte positions.
//!
//! Keywords are not special here; the parser decides from context whether
//! an identifier such as `sum` or `offset` is a keyword or a metric name,
//! as Prometheus allows keywords as label names.

use crate::error::ParseError;

/// One token's kind and payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Number(f64),
    /// A duration literal such as `5m` or `1h30m`, in milliseconds.
    Duration(i64),
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    At,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eql,
    Neq,
    Lss,
    Lte,
    Gtr,
    Gte,
    Assign,
    EqlRegex,
    NeqRegex,
    /// `</`: keep histogram observations below a value.
    TrimUpper,
    /// `>/`: keep histogram observations above a value.
    TrimLower,
    Eof,
}

impl Tok {
    /// How the token reads in an error message.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier {s:?}"),
            Tok::Number(n) => format!("number {n}"),
            Tok::Duration(d) => format!("duration \"{}\"", beacon_model::format_duration_ms(*d)),
            Tok::Str(s) => format!("string {s:?}"),
            Tok::Eof => "end of input".into(),
            Tok::LParen => "\"(\"".into(),
            Tok::RParen => "\")\"".into(),
            Tok::LBrace => "\"{\"".into(),
            Tok::RBrace => "\"}\"".into(),
            Tok::LBracket => "\"[\"".into(),
            Tok::RBracket => "\"]\"".into(),
            Tok::Comma => "\",\"".into(),
            Tok::Colon => "\":\"".into(),
            Tok::At => "\"@\"".into(),
            Tok::Assign => "\"=\"".into(),
            other => format!("<op:{}>", op_text(other)),
        }
    }
}

fn op_text(t: &Tok) -> &'static str {
    match t {
        Tok::Add => "+",
        Tok::Sub => "-",
        Tok::Mul => "*",
        Tok::Div => "/",
        Tok::Mod => "%",
        Tok::Pow => "^",
        Tok::Eql => "==",
        Tok::Neq => "!=",
        Tok::Lss => "<",
        Tok::Lte => "<=",
        Tok::Gtr => ">",
        Tok::Gte => ">=",
        Tok::EqlRegex => "=~",
        Tok::NeqRegex => "!~",
        Tok::TrimUpper => "</",
        Tok::TrimLower => ">/",
        _ => "?",
    }
}

/// A token and the byte range it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub start: usize,
    pub end: usize,
}

/// Splits `input` into tokens, ending with `Tok::Eof`.
pub fn lex(input: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer {
        src: input,
        b: input.as_bytes(),
        i: 0,
        out: Vec::new(),
        brackets: 0,
    };
    lx.run()?;
    Ok(lx.out)
}

struct Lexer<'a> {
    src: &'a str,
    b: &'a [u8],
    i: usize,
    out: Vec<Token>,
    /// Open `[` count: inside brackets `:` separates range and step.
    brackets: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b':'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b':'
}

/// Characters that may not directly follow a number or duration.
fn is_word_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

const DURATION_UNITS: &[u8] = b"smhdwy";

impl Lexer<'_> {
    fn err(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError::at(self.src, pos, msg)
    }

    fn peek(&self, off: usize) -> u8 {
        self.b.get(self.i + off).copied().unwrap_or(0)
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.out.push(Token {
            tok,
            start,
            end: self.i,
        });
    }

    fn run(&mut self) -> Result<(), ParseError> {
        while self.i < self.b.len() {
            let c = self.b[self.i];
            let start = self.i;
            if c.is_ascii_whitespace() {
                self.i += 1;
                continue;
            }
            if c == b'#' {
                while self.i < self.b.len() && self.b[self.i] != b'\n' {
                    self.i += 1;
                }
                continue;
            }
            if c.is_ascii_digit() || (c == b'.' && self.peek(1).is_ascii_digit()) {
                let tok = self.number()?;
                self.push(tok, start);
                continue;
            }
            let in_brackets = self.brackets > 0;
            if is_ident_start(c) && !(in_brackets && c == b':') {
                while self.i < self.b.len()
                    && is_ident_char(self.b[self.i])
                    && !(in_brackets && self.b[self.i] == b':')
                {
                    self.i += 1;
                }
                let word = &self.src[start..self.i];
                let tok = if word.eq_ignore_ascii_case("inf") {
                    Tok::Number(f64::INFINITY)
                } else if word.eq_ignore_ascii_case("nan") {
                    Tok::Number(f64::NAN)
                } else {
                    Tok::Ident(word.to_owned())
                };
                self.push(tok, start);
                continue;
            }
            if c == b'"' || c == b'\'' || c == b'`' {
                let s = self.string(c)?;
                self.push(Tok::Str(s), start);
                continue;
            }
            let (tok, len) = self.operator(c)?;
            match tok {
                Tok::LBracket => self.brackets += 1,
                Tok::RBracket => self.brackets = self.brackets.saturating_sub(1),
                _ => {}
            }
            self.i += len;
            self.push(tok, start);
        }
        let end = self.b.len();
        self.out.push(Token {
            tok: Tok::Eof,
            start: end,
            end,
        });
        Ok(())
    }

    fn operator(&self, c: u8) -> Result<(Tok, usize), ParseError> {
        let n = self.peek(1);
        Ok(match (c, n) {
            (b'=', b'=') => (Tok::Eql, 2),
            (b'=', b'~') => (Tok::EqlRegex, 2),
            (b'=', _) => (Tok::Assign, 1),
            (b'!', b'=') => (Tok::Neq, 2),
            (b'!', b'~') => (Tok::NeqRegex, 2),
            (b'<', b'=') => (Tok::Lte, 2),
            (b'<', b'/') => (Tok::TrimUpper, 2),
            (b'>', b'/') => (Tok::TrimLower, 2),
            (b'<', _) => (Tok::Lss, 1),
            (b'>', b'=') => (Tok::Gte, 2),
            (b'>', _) => (Tok::Gtr, 1),
            (b'(', _) => (Tok::LParen, 1),
            (b')', _) => (Tok::RParen, 1),
            (b'{', _) => (Tok::LBrace, 1),
            (b'}', _) => (Tok::RBrace, 1),
            (b'[', _) => (Tok::LBracket, 1),
            (b']', _) => (Tok::RBracket, 1),
            (b',', _) => (Tok::Comma, 1),
            (b':', _) => (Tok::Colon, 1),
            (b'@', _) => (Tok::At, 1),
            (b'+', _) => (Tok::Add, 1),
            (b'-', _) => (Tok::Sub, 1),
            (b'*', _) => (Tok::Mul, 1),
            (b'/', _) => (Tok::Div, 1),
            (b'%', _) => (Tok::Mod, 1),
            (b'^', _) => (Tok::Pow, 1),
            _ => {
                let ch = self.src[self.i..].chars().next().unwrap_or('?');
                return Err(self.err(self.i, format!("unexpected character: {ch:?}")));
            }
        })
    }

    /// Lexes a number (decimal, hex, exponent, underscores) or a duration.
    fn number(&mut self) -> Result<Tok, ParseError> {
        let start = self.i;
        if self.peek(0) == b'0' && matches!(self.peek(1), b'x' | b'X') {
            self.i += 2;
            while self.peek(0).is_ascii_hexdigit() || self.peek(0) == b'_' {
                self.i += 1;
            }
            let digits: String = self.src[start + 2..self.i].replace('_', "");
            return u64::from_str_radix(&digits, 16)
                .map(|v| Tok::Number(v as f64))
                .map_err(|_| self.err(start, "bad number or duration syntax: \"0x\""));
        }
        self.digits();
        // A duration: digits followed by a unit, possibly repeated (`1h30m`).
        if DURATION_UNITS.contains(&self.peek(0)) && !is_word_char(self.unit_follow()) {
            return self.duration(start);
        }
        if self.peek(0) == b'.' {
            self.i += 1;
            self.digits();
        }
        if matches!(self.peek(0), b'e' | b'E')
            && (self.peek(1).is_ascii_digit()
                || (matches!(self.peek(1), b'+' | b'-') && self.peek(2).is_ascii_digit()))
        {
            self.i += 2;
            self.digits();
        }
        let text = &self.src[start..self.i];
        if is_word_char(self.peek(0)) || self.peek(0) == b'.' {
            return Err(self.err(start, format!("bad number or duration syntax: {text:?}")));
        }
        parse_number_text(text)
            .map(Tok::Number)
            .ok_or_else(|| self.err(start, format!("bad number or duration syntax: {text:?}")))
    }

    /// The byte after the unit at the cursor (`ms` is two letters).
    fn unit_follow(&self) -> u8 {
        if self.peek(0) == b'm' && self.peek(1) == b's' {
            let c = self.peek(2);
            return if c.is_ascii_digit() { b' ' } else { c };
        }
        let c = self.peek(1);
        if c.is_ascii_digit() { b' ' } else { c }
    }

    fn digits(&mut self) {
        while self.peek(0).is_ascii_digit()
            || (self.peek(0) == b'_' && self.peek(1).is_ascii_digit() && self.i > 0)
        {
            self.i += 1;
        }
    }

    fn duration(&mut self, start: usize) -> Result<Tok, ParseError> {
        loop {
            if self.peek(0) == b'm' && self.peek(1) == b's' {
                self.i += 2;
            } else if DURATION_UNITS.contains(&self.peek(0)) {
                self.i += 1;
            } else {
                break;
            }
            if !self.peek(0).is_ascii_digit() {
                break;
            }
            self.digits();
        }
        let text = &self.src[start..self.i];
        if is_word_char(self.peek(0)) {
            return Err(self.err(start, format!("bad number or duration syntax: {text:?}")));
        }
        beacon_model::parse_duration_ms(&text.replace('_', ""))
            .map(Tok::Duration)
            .map_err(|_| self.err(start, format!("bad duration syntax: {text:?}")))
    }

    fn string(&mut self, quote: u8) -> Result<String, ParseError> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        // Bytes from `\x`/octal escapes, decoded as UTF-8 once complete.
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.err(start, "unterminated quoted string"));
            };
            if !(c == b'\\' && matches!(self.peek(1), b'x' | b'0'..=b'7')) {
                flush_bytes(&mut out, &mut bytes);
            }
            if c == quote {
                self.i += 1;
                return Ok(out);
            }
            if quote == b'`' {
                let ch = self.next_char();
                out.push(ch);
                continue;
            }
            if c == b'\n' {
                return Err(self.err(start, "unterminated quoted string"));
            }
            if c == b'\\' {
                self.i += 1;
                self.escape(quote, &mut out, &mut bytes)?;
                continue;
            }
            out.push(self.next_char());
        }
    }

    fn next_char(&mut self) -> char {
        let ch = self.src[self.i..].chars().next().unwrap_or('\u{fffd}');
        self.i += ch.len_utf8();
        ch
    }

    /// Decodes one Go-style escape sequence (the backslash is consumed).
    fn escape(
        &mut self,
        quote: u8,
        out: &mut String,
        bytes: &mut Vec<u8>,
    ) -> Result<(), ParseError> {
        let pos = self.i;
        let Some(&c) = self.b.get(self.i) else {
            return Err(self.err(pos, "escape sequence not terminated"));
        };
        self.i += 1;
        let simple = match c {
            b'a' => Some('\x07'),
            b'b' => Some('\x08'),
            b'f' => Some('\x0c'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'v' => Some('\x0b'),
            b'\\' => Some('\\'),
            _ if c == quote => Some(c as char),
            _ => None,
        };
        if let Some(ch) = simple {
            out.push(ch);
            return Ok(());
        }
        let (len, radix) = match c {
            b'x' => (2, 16),
            b'u' => (4, 16),
            b'U' => (8, 16),
            b'0'..=b'7' => {
                self.i -= 1;
                (3, 8)
            }
            _ => return Err(self.err(pos, "unknown escape sequence")),
        };
        let digits = self.src.get(self.i..self.i + len).unwrap_or("");
        let v = u32::from_str_radix(digits, radix)
            .ok()
            .filter(|_| digits.len() == len)
            .ok_or_else(|| self.err(pos, "invalid escape sequence"))?;
        self.i += len;
        if c == b'x' || radix == 8 {
            // Go strings hold bytes: collect them and decode when the run
            // of byte escapes ends.
            bytes.push(u8::try_from(v).map_err(|_| self.err(pos, "octal escape value > 255"))?);
        } else {
            out.push(char::from_u32(v).ok_or_else(|| self.err(pos, "invalid unicode code point"))?);
        }
        Ok(())
    }
}

/// Byte escapes that do not form valid UTF-8 become characters from this
/// private-use block (`INVALID_BYTE_BASE + byte`), so the string stays
/// valid Rust while label-name checks can still reject it and messages can
/// print the original `\xNN`.
pub const INVALID_BYTE_BASE: u32 = 0x10_FF00;

/// The original byte of a character produced for an invalid byte escape.
pub fn invalid_byte(c: char) -> Option<u8> {
    let v = u32::from(c);
    (INVALID_BYTE_BASE + 0x80..=INVALID_BYTE_BASE + 0xff)
        .contains(&v)
        .then(|| u8::try_from(v - INVALID_BYTE_BASE).unwrap_or(0))
}

/// Appends `bytes` decoded as UTF-8 to `out`, mapping invalid bytes to
/// the private-use block, and empties `bytes`.
fn flush_bytes(out: &mut String, bytes: &mut Vec<u8>) {
    let mut rest: &[u8] = bytes;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                break;
            }
            Err(e) => {
                let (ok, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(ok).unwrap_or(""));
                let n = e.error_len().unwrap_or(bad.len()).max(1);
                for b in &bad[..n] {
                    let ch =
                        char::from_u32(INVALID_BYTE_BASE + u32::from(*b)).unwrap_or('\u{fffd}');
                    out.push(ch);
                }
                rest = &bad[n..];
            }
        }
    }
    bytes.clear();
}

/// Parses a decimal float the way Go's `ParseInt(s, 0)`/`ParseFloat` pair
/// does for PromQL: underscores between digits, a leading-zero octal integer.
pub fn parse_number_text(text: &str) -> Option<f64> {
    let clean = text.replace('_', "");
    if clean.len() > 1
        && clean.starts_with('0')
        && clean.bytes().all(|b| (b'0'..=b'7').contains(&b))
    {
        return u64::from_str_radix(&clean[1..], 8).ok().map(|v| v as f64);
    }
    clean.parse::<f64>().ok()
}
