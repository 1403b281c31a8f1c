//! Template execution: walks the parsed nodes over a data value, with Go's
//! variable scoping, truth rules and `missingkey=zero` map lookups.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Arg, Cmd, Node, Pipe, Template, Value, funcs};
use crate::error::{Error, Result};

/// The most bytes one expansion may produce; a runaway `range` stops here.
pub const TEMPLATE_OUTPUT_MAX_BYTES: usize = 1 << 20;
/// The most nodes one expansion may visit.
pub const TEMPLATE_STEPS_MAX: usize = 1_000_000;

/// One sample of a `query` result, as templates see it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// Runs PromQL for the `query` function at the evaluation's timestamp.
pub type QueryFn<'a> = &'a (dyn Fn(&str) -> std::result::Result<Vec<QuerySample>, String> + 'a);

/// What a template runs with: dot, predefined variables, and the hooks
/// Prometheus's functions need.
pub struct Expander<'a> {
    pub data: Value,
    /// Variables visible from the start (`$labels`, `$value`, ...).
    pub vars: Vec<(String, Value)>,
    pub query: Option<QueryFn<'a>>,
    /// The `--web.external-url`, for `externalURL` and `pathPrefix`.
    pub external_url: String,
}

impl std::fmt::Debug for Expander<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expander")
            .field("data", &self.data)
            .field("vars", &self.vars)
            .finish_non_exhaustive()
    }
}

pub(super) struct Ctx<'a> {
    pub query: Option<QueryFn<'a>>,
    pub external_url: &'a str,
}

struct Exec<'a> {
    ctx: Ctx<'a>,
    vars: Vec<(String, Value)>,
    out: String,
    steps: usize,
    line: usize,
}

impl Template {
    /// Executes the template with `ex`'s data and variables.
    pub fn execute(&self, ex: &Expander<'_>) -> Result<String> {
        let mut vars = vec![("$".to_owned(), ex.data.clone())];
        vars.extend(ex.vars.iter().cloned());
        let mut e = Exec {
            ctx: Ctx {
                query: ex.query,
                external_url: &ex.external_url,
            },
            vars,
            out: String::new(),
            steps: 0,
            line: 1,
        };
        e.walk(&self.nodes, &ex.data)
            .map_err(|msg| Error::TemplateExec {
                name: self.name.clone(),
                line: e.line,
                msg,
            })?;
        Ok(e.out)
    }
}

type R<T> = std::result::Result<T, String>;

impl Exec<'_> {
    fn walk(&mut self, nodes: &[Node], dot: &Value) -> R<()> {
        for n in nodes {
            self.steps += 1;
            if self.steps > TEMPLATE_STEPS_MAX {
                return Err(format!("more than {TEMPLATE_STEPS_MAX} steps"));
            }
            if self.out.len() > TEMPLATE_OUTPUT_MAX_BYTES {
                return Err(format!(
                    "output longer than {TEMPLATE_OUTPUT_MAX_BYTES} bytes"
                ));
            }
            self.node(n, dot)?;
        }
        Ok(())
    }

    fn node(&mut self, n: &Node, dot: &Value) -> R<()> {
        match n {
            Node::Text(t) => self.out.push_str(t),
            Node::Action(p) => {
                let v = self.pipe(p, dot, true)?;
                if p.decl.is_empty() {
                    self.out.push_str(&v.to_string_go());
                }
            }
            Node::If(p, then, els) | Node::With(p, then, els) => {
                let mark = self.vars.len();
                let v = self.pipe(p, dot, true)?;
                let res = match (v.truthy(), matches!(n, Node::With(..))) {
                    (true, true) => self.walk(then, &v),
                    (true, false) => self.walk(then, dot),
                    (false, _) => self.walk(els, dot),
                };
                self.vars.truncate(mark);
                res?;
            }
            Node::Range(p, body, els) => {
                let mark = self.vars.len();
                let v = self.pipe(p, dot, false)?;
                let res = self.range(p, &v, body, els, dot);
                self.vars.truncate(mark);
                res?;
            }
        }
        Ok(())
    }

    fn range(&mut self, p: &Pipe, v: &Value, body: &[Node], els: &[Node], dot: &Value) -> R<()> {
        let items: Vec<(Value, Value)> = match v {
            Value::List(l) => l
                .iter()
                .enumerate()
                .map(|(i, x)| (Value::Int(i as i64), x.clone()))
                .collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, x)| (Value::Str(k.clone()), x.clone()))
                .collect(),
            Value::StrMap(m) => m
                .iter()
                .map(|(k, x)| (Value::Str(k.clone()), Value::Str(x.clone())))
                .collect(),
            Value::Int(n) => (0..*n).map(|i| (Value::Int(i), Value::Int(i))).collect(),
            Value::Nil => Vec::new(),
            other => return Err(format!("range can't iterate over {}", other.to_string_go())),
        };
        if items.is_empty() {
            return self.walk(els, dot);
        }
        let mark = self.vars.len();
        for (k, x) in items {
            self.vars.truncate(mark);
            match p.decl.as_slice() {
                [v] => self.vars.push((v.clone(), x.clone())),
                [kv, vv] => {
                    self.vars.push((kv.clone(), k));
                    self.vars.push((vv.clone(), x.clone()));
                }
                _ => {}
            }
            self.walk(body, &x)?;
        }
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value, declare: bool) -> R<Value> {
        self.line = p.line;
        let mut v: Option<Value> = None;
        for c in &p.cmds {
            v = Some(self.cmd(c, dot, v)?);
        }
        let v = v.unwrap_or(Value::Nil);
        if declare && let Some(name) = p.decl.first() {
            if p.assign {
                let slot = self.vars.iter_mut().rev().find(|(n, _)| n == name);
                match slot {
                    Some(s) => s.1 = v.clone(),
                    None => return Err(format!("undefined variable: {name}")),
                }
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn cmd(&mut self, c: &Cmd, dot: &Value, last: Option<Value>) -> R<Value> {
        if let Arg::Func(name) = &c.args[0] {
            if (name == "and" || name == "or") && c.args.len() > 1 {
                return self.and_or(name == "and", &c.args[1..], dot, last);
            }
            let mut args = Vec::with_capacity(c.args.len());
            for a in &c.args[1..] {
                args.push(self.arg(a, dot)?);
            }
            args.extend(last);
            return funcs::call(name, args, &self.ctx);
        }
        if c.args.len() > 1 || last.is_some() {
            return Err("can't give argument to non-function".into());
        }
        self.arg(&c.args[0], dot)
    }

    /// `and`/`or` stop at the first argument that decides the result, as
    /// in Go, so `and .X (gt .X.Y 1.0)` never evaluates its second half
    /// when `.X` is empty.
    fn and_or(&mut self, is_and: bool, args: &[Arg], dot: &Value, last: Option<Value>) -> R<Value> {
        let mut v = Value::Nil;
        for a in args {
            v = self.arg(a, dot)?;
            if v.truthy() != is_and {
                return Ok(v);
            }
        }
        Ok(last.unwrap_or(v))
    }

    fn arg(&mut self, a: &Arg, dot: &Value) -> R<Value> {
        match a {
            Arg::Dot(fields) => fields_of(dot.clone(), fields),
            Arg::Var(name, fields) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("undefined variable: {name}"))?;
                fields_of(v, fields)
            }
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Func(name) => funcs::call(name, Vec::new(), &self.ctx),
            Arg::Sub(p, fields) => {
                let v = self.pipe(p, dot, false)?;
                fields_of(v, fields)
            }
        }
    }
}

/// Follows `.A.B` from `v`.
fn fields_of(mut v: Value, fields: &[String]) -> R<Value> {
    for f in fields {
        v = match &v {
            Value::StrMap(m) => Value::Str(m.get(f).cloned().unwrap_or_default()),
            Value::Map(m) => m.get(f).cloned().unwrap_or(Value::Nil),
            Value::Record(r) => r
                .iter()
                .find(|(n, _)| *n == f)
                .map(|(_, x)| x.clone())
                .ok_or_else(|| format!("can't evaluate field {f} in type {}", v.go_type()))?,
            Value::Nil => return Err(format!("nil pointer evaluating interface {{}}.{f}")),
            other => {
                return Err(format!(
                    "can't evaluate field {f} in type {}",
                    other.go_type()
                ));
            }
        };
    }
    Ok(v)
}

/// A label map as a template value.
pub fn str_map(m: &BTreeMap<String, String>) -> Value {
    Value::StrMap(Arc::new(m.clone()))
}
