//! Prometheus's multi-line layout of a query (`Pretty`), used by
//! `/api/v1/format_query` and `beacontool promql format`.
//!
//! A node whose one-line form fits in [`MAX_LINE`] characters prints as one
//! line, indented by its depth. A longer node splits: aggregations, calls
//! and parentheses put their operands on their own indented lines, binary
//! operators put the operator on a line of its own between the two sides.
//! Selectors, literals and subquery suffixes never split. The quirks of the
//! upstream layout (a short subquery carries no indent; a split binary
//! expression starts with its left side's own indent) are kept so the text
//! is the same byte for byte.

use std::fmt::Write as _;

use crate::ast::{Expr, SubqueryExpr};
use crate::printer::{write_grouping_str, write_matching_str, write_modifiers_str};

/// Lines longer than this split.
pub const MAX_LINE: usize = 100;

const INDENT: &str = "  ";

/// The multi-line form of `e`.
pub fn pretty(e: &Expr) -> String {
    let mut out = String::new();
    node(e, 0, &mut out);
    out
}

fn indent(level: usize, out: &mut String) {
    for _ in 0..level {
        out.push_str(INDENT);
    }
}

/// The one-line form if it fits, else `None`.
fn one_line(e: &Expr) -> Option<String> {
    let s = e.to_string();
    (s.len() <= MAX_LINE).then_some(s)
}

fn node(e: &Expr, level: usize, out: &mut String) {
    match e {
        Expr::Subquery(s) => return subquery(e, s, level, out),
        Expr::Unary { neg, expr, .. } => {
            indent(level, out);
            out.push(if *neg { '-' } else { '+' });
            let mut child = String::new();
            node(expr, level, &mut child);
            out.push_str(child.trim());
            return;
        }
        Expr::Binary(b) if one_line(e).is_none() => {
            node(&b.lhs, level + 1, out);
            out.push('\n');
            indent(level, out);
            out.push_str(b.op.as_str());
            if b.return_bool {
                out.push_str(" bool");
            }
            write_matching_str(out, b);
            out.push('\n');
            node(&b.rhs, level + 1, out);
            return;
        }
        _ => {}
    }
    indent(level, out);
    let Some(line) = one_line(e) else {
        return split(e, level, out);
    };
    out.push_str(&line);
}

/// A node that does not fit on one line; its indent is already written.
fn split(e: &Expr, level: usize, out: &mut String) {
    match e {
        Expr::Aggregate(a) => {
            out.push_str(a.op.as_str());
            write_grouping_str(out, a);
            out.push_str("(\n");
            if let Some(p) = &a.param {
                node(p, level + 1, out);
                out.push_str(",\n");
            }
            node(&a.expr, level + 1, out);
            out.push('\n');
            indent(level, out);
            out.push(')');
        }
        Expr::Call(c) => {
            out.push_str(c.func.name);
            out.push_str("(\n");
            for (i, a) in c.args.iter().enumerate() {
                if i > 0 {
                    out.push_str(",\n");
                }
                node(a, level + 1, out);
            }
            out.push('\n');
            indent(level, out);
            out.push(')');
        }
        Expr::Paren { expr, .. } => {
            out.push_str("(\n");
            node(expr, level + 1, out);
            out.push('\n');
            indent(level, out);
            out.push(')');
        }
        // Selectors and literals never split, however long.
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

fn subquery(e: &Expr, s: &SubqueryExpr, level: usize, out: &mut String) {
    if let Some(line) = one_line(e) {
        out.push_str(&line);
        return;
    }
    node(&s.expr, level, out);
    let _ = write!(out, "[{}:", s.range);
    if let Some(st) = &s.step {
        let _ = write!(out, "{st}");
    }
    out.push(']');
    write_modifiers_str(out, &s.offset, &s.at);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: &str) {
        let e = crate::parse(input).unwrap_or_else(|err| panic!("{input}: {err}"));
        assert_eq!(pretty(&e), expected, "input: {input}");
        let again = crate::parse(&pretty(&e)).expect("pretty output parses");
        assert_eq!(again.to_string(), e.to_string(), "round trip of {input}");
    }

    #[test]
    fn short_queries_stay_on_one_line() {
        check("sum(rate(a[5m])) by (job)", "sum by (job) (rate(a[5m]))");
        check("a + b", "a + b");
        check("-a", "-a");
    }

    #[test]
    fn long_binary_splits_around_the_operator() {
        let lhs = format!("metric_with_a_rather_long_name_{}", "x".repeat(30));
        let rhs = format!("other_metric_with_a_long_name_{}", "y".repeat(30));
        check(
            &format!("{lhs} / on (instance) group_left (job) {rhs}"),
            &format!("  {lhs}\n/ on (instance) group_left (job)\n  {rhs}"),
        );
    }

    #[test]
    fn long_aggregation_and_call_split_their_arguments() {
        let sel = format!(
            "http_requests_total{{job=\"{}\", code=~\"5..\"}}",
            "j".repeat(60)
        );
        check(
            &format!("sum by (job) (rate({sel}[5m]))"),
            &format!("sum by (job) (\n  rate(\n    {sel}[5m]\n  )\n)"),
        );
        check(
            &format!("topk(5, rate({sel}[5m]))"),
            &format!("topk(\n  5,\n  rate(\n    {sel}[5m]\n  )\n)"),
        );
    }

    /// The layout Prometheus gives this query (matchers written as 3.x
    /// prints them).
    #[test]
    fn nested_binary_and_aggregations() {
        let j = "j".repeat(60);
        let k = "j".repeat(37);
        check(
            &format!(
                "sum by (job) (rate(http_requests_total{{code=~\"5..\",job=\"{j}\"}}[5m])) / on (job) group_left (x) sum by (job) (rate(http_requests_total{{job=\"{k}\"}}[5m])) > 0.5"
            ),
            &format!(
                "    sum by (job) (\n      rate(\n        http_requests_total{{code=~\"5..\", job=\"{j}\"}}[5m]\n      )\n    )\n  / on (job) group_left (x)\n    sum by (job) (rate(http_requests_total{{job=\"{k}\"}}[5m]))\n>\n  0.5"
            ),
        );
    }

    #[test]
    fn long_paren_unary_and_subquery() {
        let sel = format!("m{{a=\"{}\"}}", "v".repeat(100));
        check(
            &format!("({sel} + 1)"),
            &format!("(\n    {sel}\n  +\n    1\n)"),
        );
        check(&format!("-({sel})"), &format!("-(\n  {sel}\n)"));
        check(
            &format!("max_over_time(rate({sel}[1m])[5m:1m])"),
            &format!("max_over_time(\n  rate(\n    {sel}[1m]\n  )[5m:1m]\n)"),
        );
    }
}
