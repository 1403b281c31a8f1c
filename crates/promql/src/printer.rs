//! Prints expressions back in Prometheus's canonical single-line form.

use std::fmt::{self, Display, Formatter, Write};

use beacon_model::{MatchType, is_valid_legacy_label_name, is_valid_legacy_metric_name};

use crate::ast::*;

pub use beacon_model::format_float;

/// Quotes a string like Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if crate::lexer::invalid_byte(c).is_some() => {
                let _ = write!(out, "\\x{:02x}", crate::lexer::invalid_byte(c).unwrap_or(0));
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn label_name(n: &str) -> String {
    if is_valid_legacy_label_name(n) {
        n.to_owned()
    } else {
        quote(n)
    }
}

impl Display for DurationExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            DurationExpr::Literal { ms: Some(ms), .. } => {
                if *ms < 0 {
                    write!(f, "-{}", beacon_model::format_duration_ms(-ms))
                } else {
                    f.write_str(&beacon_model::format_duration_ms(*ms))
                }
            }
            DurationExpr::Literal { secs, .. } => f.write_str(&format_float(*secs)),
            DurationExpr::Step => f.write_str("step()"),
            DurationExpr::Range => f.write_str("range()"),
            DurationExpr::Neg(e) => write!(f, "-{e}"),
            DurationExpr::Paren(e) => write!(f, "({e})"),
            DurationExpr::MinOf(a, b) => write!(f, "min_of({a}, {b})"),
            DurationExpr::MaxOf(a, b) => write!(f, "max_of({a}, {b})"),
            DurationExpr::Binary { op, lhs, rhs } => {
                let o = match op {
                    DurOp::Add => "+",
                    DurOp::Sub => "-",
                    DurOp::Mul => "*",
                    DurOp::Div => "/",
                    DurOp::Mod => "%",
                    DurOp::Pow => "^",
                };
                write!(f, "{lhs} {o} {rhs}")
            }
        }
    }
}

fn write_modifiers(
    f: &mut Formatter<'_>,
    offset: &Option<DurationExpr>,
    at: &Option<AtModifier>,
) -> fmt::Result {
    if let Some(at) = at {
        match at {
            AtModifier::Start => f.write_str(" @ start()")?,
            AtModifier::End => f.write_str(" @ end()")?,
            AtModifier::Time(ms) => write!(f, " @ {:.3}", *ms as f64 / 1000.0)?,
        }
    }
    if let Some(o) = offset {
        write!(f, " offset {o}")?;
    }
    Ok(())
}

fn write_selector(f: &mut Formatter<'_>, vs: &VectorSelector) -> fmt::Result {
    let mut parts = Vec::new();
    let mut name_done = false;
    let legacy_name = vs.name.as_deref().is_some_and(is_valid_legacy_metric_name);
    if let Some(n) = &vs.name {
        if legacy_name {
            f.write_str(n)?;
        } else {
            parts.push(quote(n));
        }
    }
    for m in &vs.matchers {
        if !name_done && vs.name.is_some() && m.name == "__name__" && m.kind == MatchType::Equal {
            name_done = true;
            continue;
        }
        parts.push(format!(
            "{}{}{}",
            label_name(&m.name),
            m.kind.as_str(),
            quote(&m.value)
        ));
    }
    if !parts.is_empty() || !legacy_name {
        write!(f, "{{{}}}", parts.join(", "))?;
    }
    Ok(())
}

/// `write_grouping` into a string (for the multi-line printer).
pub(crate) fn write_grouping_str(out: &mut String, a: &AggregateExpr) {
    let _ = write!(out, "{}", Grouping(a));
}

/// The vector-matching clause of a binary expression, with a leading space.
pub(crate) fn write_matching_str(out: &mut String, b: &BinaryExpr) {
    let _ = write!(out, "{}", Matching(b));
}

/// Subquery/selector modifiers (`@`, `offset`) into a string.
pub(crate) fn write_modifiers_str(
    out: &mut String,
    offset: &Option<DurationExpr>,
    at: &Option<AtModifier>,
) {
    let _ = write!(out, "{}", Modifiers(offset, at));
}

struct Grouping<'a>(&'a AggregateExpr);

impl Display for Grouping<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_grouping(f, self.0)
    }
}

struct Matching<'a>(&'a BinaryExpr);

impl Display for Matching<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_matching(f, self.0)
    }
}

struct Modifiers<'a>(&'a Option<DurationExpr>, &'a Option<AtModifier>);

impl Display for Modifiers<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_modifiers(f, self.0, self.1)
    }
}

fn write_grouping(f: &mut Formatter<'_>, a: &AggregateExpr) -> fmt::Result {
    let labels: Vec<String> = a.grouping.iter().map(|l| label_name(l)).collect();
    if a.without {
        write!(f, " without ({}) ", labels.join(", "))
    } else if !labels.is_empty() {
        write!(f, " by ({}) ", labels.join(", "))
    } else {
        Ok(())
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number { val, .. } => f.write_str(&format_float(*val)),
            Expr::String { val, .. } => f.write_str(&quote(val)),
            Expr::Vector(vs) => {
                write_selector(f, vs)?;
                write_modifiers(f, &vs.offset, &vs.at)?;
                if vs.anchored {
                    f.write_str(" anchored")?;
                }
                if vs.smoothed {
                    f.write_str(" smoothed")?;
                }
                Ok(())
            }
            Expr::Matrix(m) => {
                write_selector(f, &m.vs)?;
                write!(f, "[{}]", m.range)?;
                write_modifiers(f, &m.vs.offset, &m.vs.at)?;
                if m.anchored {
                    f.write_str(" anchored")?;
                }
                if m.smoothed {
                    f.write_str(" smoothed")?;
                }
                Ok(())
            }
            Expr::Subquery(s) => {
                write!(f, "{}[{}:", s.expr, s.range)?;
                if let Some(st) = &s.step {
                    write!(f, "{st}")?;
                }
                f.write_str("]")?;
                write_modifiers(f, &s.offset, &s.at)
            }
            Expr::Paren { expr, .. } => write!(f, "({expr})"),
            Expr::Unary { neg, expr, .. } => write!(f, "{}{expr}", if *neg { "-" } else { "+" }),
            Expr::Binary(b) => write_binary(f, b),
            Expr::Call(c) => {
                write!(f, "{}(", c.func.name)?;
                for (i, a) in c.args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Expr::Aggregate(a) => {
                f.write_str(a.op.as_str())?;
                write_grouping(f, a)?;
                f.write_str("(")?;
                if let Some(p) = &a.param {
                    write!(f, "{p}, ")?;
                }
                write!(f, "{})", a.expr)
            }
        }
    }
}

fn write_binary(f: &mut Formatter<'_>, b: &BinaryExpr) -> fmt::Result {
    write!(f, "{} {}", b.lhs, b.op.as_str())?;
    if b.return_bool {
        f.write_str(" bool")?;
    }
    write_matching(f, b)?;
    write!(f, " {}", b.rhs)
}

/// ` on (..)`/` ignoring (..)`, `group_left/right (..)` and fill modifiers.
fn write_matching(f: &mut Formatter<'_>, b: &BinaryExpr) -> fmt::Result {
    let m = &b.matching;
    let labels: Vec<String> = m.labels.iter().map(|l| label_name(l)).collect();
    if m.on {
        write!(f, " on ({})", labels.join(", "))?;
    } else if !labels.is_empty() {
        write!(f, " ignoring ({})", labels.join(", "))?;
    }
    if matches!(m.card, Cardinality::ManyToOne | Cardinality::OneToMany) {
        let inc: Vec<String> = m.include.iter().map(|l| label_name(l)).collect();
        let g = if m.card == Cardinality::ManyToOne {
            "group_left"
        } else {
            "group_right"
        };
        write!(f, " {g} ({})", inc.join(", "))?;
    }
    match (m.fill_left, m.fill_right) {
        (Some(l), Some(r)) if l.to_bits() == r.to_bits() => {
            write!(f, " fill ({})", format_float(l))
        }
        (l, r) => {
            if let Some(l) = l {
                write!(f, " fill_left ({})", format_float(l))?;
            }
            if let Some(r) = r {
                write!(f, " fill_right ({})", format_float(r))?;
            }
            Ok(())
        }
    }
}
