//! A Go `text/template` subset: what real alert labels and annotations use.
//!
//! Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming and
//! `{{/* comments */}}`; pipelines with `|`; fields `.Labels.x`, variables
//! (`$labels`, `$x := ...`, `$x = ...`); literals; parenthesised pipelines;
//! `if`/`else if`/`else`, `range` (with `$i, $v :=`) and `with`; Go's
//! built-ins `and or not eq ne lt le gt ge len index print printf println
//! urlquery` and Prometheus's template functions (see `template/funcs.rs`).
//! Anything else (`define`, `template`, `block`, `break`, unknown functions)
//! is an error when the template is parsed, naming the construct, so a rule
//! file that would not render is rejected at load time.

mod exec;
mod funcs;
mod lex;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use lex::{Lexer, Tok};

pub use exec::{
    Expander, QueryFn, QuerySample, TEMPLATE_OUTPUT_MAX_BYTES, TEMPLATE_STEPS_MAX, str_map,
};

/// A value during execution, shaped like the Go values Prometheus passes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `map[string]string` (labels): a missing key reads as "".
    StrMap(Arc<BTreeMap<String, String>>),
    /// `map[string]interface{}` (`args`): a missing key reads as nil.
    Map(Arc<BTreeMap<String, Value>>),
    List(Arc<Vec<Value>>),
    /// A Go struct: named fields in declaration order (template data, a
    /// query sample).
    Record(Arc<Vec<(&'static str, Value)>>),
}

impl Value {
    /// The Go type name, for `%!d(float64=1.5)`-style messages.
    pub fn go_type(&self) -> &'static str {
        match self {
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::StrMap(_) => "map[string]string",
            Value::Map(_) => "map[string]interface {}",
            Value::List(_) => "[]interface {}",
            Value::Record(_) => "struct",
        }
    }

    /// How `fmt.Print` shows the value (`{{ . }}` output).
    pub fn to_string_go(&self) -> String {
        match self {
            Value::Nil => "<no value>".into(),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => crate::gofmt::format_g(*f, None),
            Value::Str(s) => s.clone(),
            Value::StrMap(m) => {
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("map[{}]", parts.join(" "))
            }
            Value::Map(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", v.to_string_go()))
                    .collect();
                format!("map[{}]", parts.join(" "))
            }
            Value::List(l) => {
                let parts: Vec<String> = l.iter().map(Value::to_string_go).collect();
                format!("[{}]", parts.join(" "))
            }
            Value::Record(r) => {
                let parts: Vec<String> = r.iter().map(|(_, v)| v.to_string_go()).collect();
                format!("{{{}}}", parts.join(" "))
            }
        }
    }

    /// Go's truth: false, 0, nil and empty strings, maps and lists are false.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::StrMap(m) => !m.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Record(_) => true,
        }
    }
}

/// One operand of a command.
#[derive(Debug, Clone)]
enum Arg {
    /// `.` or `.A.B` (fields of dot).
    Dot(Vec<String>),
    /// `$x` or `$x.A.B`.
    Var(String, Vec<String>),
    Lit(Value),
    /// A function name.
    Func(String),
    /// `( pipeline ).A.B`
    Sub(Box<Pipe>, Vec<String>),
}

/// A command: a function with arguments, or a single operand.
#[derive(Debug, Clone)]
struct Cmd {
    args: Vec<Arg>,
}

/// `$a, $b := cmd | cmd`.
#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    /// `=` rather than `:=`.
    assign: bool,
    cmds: Vec<Cmd>,
    line: usize,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

/// A parsed template, ready to execute many times.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    nodes: Vec<Node>,
}

/// The most nested control structures and parentheses accepted.
pub const TEMPLATE_DEPTH_MAX: usize = 100;

/// Go's keywords and built-ins that Beacon does not implement.
const UNSUPPORTED: &[&str] = &[
    "define", "template", "block", "break", "continue", "call", "html", "js", "slice",
];

struct Parser<'a> {
    name: &'a str,
    lx: Lexer<'a>,
    depth: usize,
}

/// How a list of nodes ended.
enum End {
    Eof,
    Close,
    Else(Option<(String, Pipe)>),
}

impl Parser<'_> {
    fn err(&self, msg: impl Into<String>) -> Error {
        Error::Template {
            name: self.name.to_owned(),
            line: self.lx.line(),
            msg: msg.into(),
        }
    }

    fn next(&mut self) -> Result<Tok> {
        self.lx.next().map_err(|m| self.err(m))
    }

    /// Parses nodes up to `{{end}}`, `{{else}}` or the end of input.
    fn list(&mut self) -> Result<(Vec<Node>, End)> {
        let mut nodes = Vec::new();
        loop {
            match self.next()? {
                Tok::Eof => return Ok((nodes, End::Eof)),
                Tok::Text(t) => nodes.push(Node::Text(t)),
                Tok::Comment => {}
                Tok::Open => {
                    if let Some(end) = self.action(&mut nodes)? {
                        return Ok((nodes, end));
                    }
                }
                t => return Err(self.err(format!("unexpected {t:?}"))),
            }
        }
    }

    /// Parses one action after `{{`; returns how a list ends, if it does.
    fn action(&mut self, nodes: &mut Vec<Node>) -> Result<Option<End>> {
        let first = self.next()?;
        match &first {
            Tok::Close => return Err(self.err("missing value for command")),
            Tok::Ident(k) if k == "end" => {
                self.expect_close("end")?;
                return Ok(Some(End::Close));
            }
            Tok::Ident(k) if k == "else" => {
                let t = self.next()?;
                return match t {
                    Tok::Close => Ok(Some(End::Else(None))),
                    Tok::Ident(k) if k == "if" || k == "with" => {
                        let pipe = self.pipeline(None, "else")?;
                        Ok(Some(End::Else(Some((k, pipe)))))
                    }
                    t => Err(self.err(format!("unexpected {t:?} in else"))),
                };
            }
            Tok::Ident(k) if k == "if" || k == "range" || k == "with" => {
                let node = self.control(k.clone())?;
                nodes.push(node);
                return Ok(None);
            }
            Tok::Ident(k) if UNSUPPORTED.contains(&k.as_str()) => {
                return Err(self.err(format!("{k:?} is not supported in Beacon's templates")));
            }
            _ => {}
        }
        let pipe = self.pipeline(Some(first), "command")?;
        nodes.push(Node::Action(pipe));
        Ok(None)
    }

    fn expect_close(&mut self, what: &str) -> Result<()> {
        match self.next()? {
            Tok::Close => Ok(()),
            t => Err(self.err(format!("unexpected {t:?} in {what}"))),
        }
    }

    /// `if`/`range`/`with`: the pipeline, the body and an optional else.
    fn control(&mut self, kw: String) -> Result<Node> {
        self.depth += 1;
        if self.depth > TEMPLATE_DEPTH_MAX {
            return Err(self.err(format!("nesting deeper than {TEMPLATE_DEPTH_MAX}")));
        }
        let pipe = self.pipeline(None, &kw)?;
        let node = self.control_body(kw, pipe)?;
        self.depth -= 1;
        Ok(node)
    }

    fn control_body(&mut self, kw: String, pipe: Pipe) -> Result<Node> {
        let (body, end) = self.list()?;
        let els = match end {
            End::Eof => return Err(self.err(format!("unexpected EOF in {kw}"))),
            End::Close => Vec::new(),
            End::Else(None) => match self.list()? {
                (els, End::Close) => els,
                _ => return Err(self.err(format!("expected end; found else or EOF in {kw}"))),
            },
            // `{{else if x}}...{{end}}` is `{{else}}{{if x}}...{{end}}{{end}}`
            // with one shared `end`.
            End::Else(Some((kw2, pipe2))) => vec![self.control_body(kw2, pipe2)?],
        };
        Ok(match kw.as_str() {
            "if" => Node::If(pipe, body, els),
            "range" => Node::Range(pipe, body, els),
            _ => Node::With(pipe, body, els),
        })
    }

    /// A pipeline up to `}}` (or `)` when `first` is given by a caller that
    /// already consumed a token).
    fn pipeline(&mut self, first: Option<Tok>, ctx: &str) -> Result<Pipe> {
        let line = self.lx.line();
        let mut toks = Vec::new();
        let mut depth = 0usize;
        if let Some(t) = first {
            depth = usize::from(matches!(t, Tok::LParen));
            toks.push(t);
        }
        loop {
            let t = self.next()?;
            match t {
                Tok::Close if depth == 0 => break,
                Tok::Eof | Tok::Close => return Err(self.err(format!("unclosed action in {ctx}"))),
                Tok::LParen => depth += 1,
                Tok::RParen => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > TEMPLATE_DEPTH_MAX {
                return Err(self.err(format!(
                    "parentheses nested deeper than {TEMPLATE_DEPTH_MAX}"
                )));
            }
            toks.push(t);
        }
        let mut pos = 0;
        let pipe = self.pipe_from(&toks, &mut pos, line, ctx)?;
        if pos != toks.len() {
            return Err(self.err(format!("unexpected {:?} in {ctx}", toks[pos])));
        }
        Ok(pipe)
    }

    fn pipe_from(&self, toks: &[Tok], pos: &mut usize, line: usize, ctx: &str) -> Result<Pipe> {
        let mut decl = Vec::new();
        let mut assign = false;
        // Declarations: `$x :=`, `$x =`, `$i, $v :=`.
        let mut look = *pos;
        let mut vars = Vec::new();
        while let Some(Tok::Var(v)) = toks.get(look) {
            vars.push(v.clone());
            look += 1;
            match toks.get(look) {
                Some(Tok::Comma) if vars.len() == 1 => look += 1,
                Some(Tok::Declare) | Some(Tok::Assign) => {
                    assign = matches!(toks[look], Tok::Assign);
                    decl = std::mem::take(&mut vars);
                    *pos = look + 1;
                    break;
                }
                _ => break,
            }
        }
        let mut cmds = Vec::new();
        loop {
            let mut args = Vec::new();
            while let Some(t) = toks.get(*pos) {
                if matches!(t, Tok::Pipe | Tok::RParen) {
                    break;
                }
                *pos += 1;
                args.push(self.operand(t, toks, pos, line, ctx)?);
            }
            if args.is_empty() {
                return Err(self.err(format!("missing value for {ctx}")));
            }
            cmds.push(Cmd { args });
            if let Some(Tok::Pipe) = toks.get(*pos) {
                *pos += 1;
                continue;
            }
            break;
        }
        Ok(Pipe {
            decl,
            assign,
            cmds,
            line,
        })
    }

    fn fields(toks: &[Tok], pos: &mut usize) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(Tok::Field(f)) = toks.get(*pos) {
            out.extend(f.split('.').filter(|s| !s.is_empty()).map(str::to_owned));
            *pos += 1;
        }
        out
    }

    fn operand(
        &self,
        t: &Tok,
        toks: &[Tok],
        pos: &mut usize,
        line: usize,
        ctx: &str,
    ) -> Result<Arg> {
        Ok(match t {
            Tok::Dot => Arg::Dot(Vec::new()),
            Tok::Field(f) => {
                let mut fs: Vec<String> = f
                    .split('.')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                fs.extend(Self::fields(toks, pos));
                Arg::Dot(fs)
            }
            Tok::Var(v) => Arg::Var(v.clone(), Self::fields(toks, pos)),
            Tok::Str(s) => Arg::Lit(Value::Str(s.clone())),
            Tok::Number(n) => {
                Arg::Lit(number(n).ok_or_else(|| self.err(format!("bad number syntax: {n:?}")))?)
            }
            Tok::Ident(k) => match k.as_str() {
                "true" => Arg::Lit(Value::Bool(true)),
                "false" => Arg::Lit(Value::Bool(false)),
                "nil" => Arg::Lit(Value::Nil),
                _ if UNSUPPORTED.contains(&k.as_str()) => {
                    return Err(self.err(format!("{k:?} is not supported in Beacon's templates")));
                }
                _ if funcs::exists(k) => Arg::Func(k.clone()),
                _ => return Err(self.err(format!("function {k:?} not defined"))),
            },
            Tok::LParen => {
                let inner = self.pipe_from(toks, pos, line, ctx)?;
                match toks.get(*pos) {
                    Some(Tok::RParen) => *pos += 1,
                    _ => return Err(self.err("unclosed left paren")),
                }
                Arg::Sub(Box::new(inner), Self::fields(toks, pos))
            }
            t => return Err(self.err(format!("unexpected {t:?} in {ctx}"))),
        })
    }
}

/// A number literal: Go integers (with `0x`), or floats.
fn number(s: &str) -> Option<Value> {
    let clean = s.replace('_', "");
    if let Some(hex) = clean
        .strip_prefix("0x")
        .or_else(|| clean.strip_prefix("0X"))
    {
        return i64::from_str_radix(hex, 16).ok().map(Value::Int);
    }
    if let Ok(i) = clean.parse::<i64>() {
        return Some(Value::Int(i));
    }
    clean.parse::<f64>().ok().map(Value::Float)
}

impl Template {
    /// Parses `text`; `name` appears in errors (`__alert_HighLoad`).
    pub fn parse(name: &str, text: &str) -> Result<Template> {
        let mut p = Parser {
            name,
            lx: Lexer::new(text),
            depth: 0,
        };
        let (nodes, end) = p.list()?;
        match end {
            End::Eof => Ok(Template {
                name: name.to_owned(),
                nodes,
            }),
            End::Close => Err(p.err("unexpected {{end}}")),
            End::Else(_) => Err(p.err("unexpected {{else}}")),
        }
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}
