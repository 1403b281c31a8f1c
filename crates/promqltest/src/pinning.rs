//! The `@`-pinning check upstream adds to every instant eval: give every
//! selector and subquery without its own `@` the modifier `@ <eval time>`,
//! re-print the expression, and run it at other evaluation times. Its
//! result must not change, because nothing in it depends on the evaluation
//! time any more. This catches engines that mix up the evaluation time and
//! the `@` time, and printers that do not round-trip.
//!
//! Expressions that call a function whose value depends on the evaluation
//! time itself (`time()`, `timestamp()`, `hour()`, …) are left out, as are
//! the selectors inside subqueries: a subquery is pinned as a whole.

use beacon_promql::ast::{AtModifier, Expr};

/// Functions whose value changes with the evaluation time even when their
/// arguments do not.
const TIME_DEPENDENT_FUNCS: [&str; 15] = [
    "time",
    "timestamp",
    "predict_linear",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
    "month",
    "year",
    "start",
    "end",
    "range",
    "step",
];

/// The pinned expression and the evaluation times to run it at, or `None`
/// when the check does not apply (or the expression does not parse, which
/// the eval itself already reports).
pub fn pinned_variants(expr: &str, at_ms: i64) -> Option<(String, Vec<i64>)> {
    let mut ast = beacon_promql::parse(expr).ok()?;
    let mut time_dependent = false;
    pin(&mut ast, at_ms, false, &mut time_dependent);
    if time_dependent {
        return None;
    }
    let times = if at_ms == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![
            at_ms.saturating_mul(-10),
            0,
            at_ms / 5,
            at_ms,
            at_ms.saturating_mul(10),
        ]
    };
    Some((ast.to_string(), times))
}

/// Pins selectors and subqueries outside subqueries; `in_subquery` is set
/// below a subquery, whose contents stay as written.
fn pin(e: &mut Expr, at_ms: i64, in_subquery: bool, time_dependent: &mut bool) {
    match e {
        Expr::Number { .. } | Expr::String { .. } => {}
        Expr::Vector(vs) => {
            if !in_subquery && vs.at.is_none() {
                vs.at = Some(AtModifier::Time(at_ms));
            }
        }
        Expr::Matrix(m) => {
            if !in_subquery && m.vs.at.is_none() {
                m.vs.at = Some(AtModifier::Time(at_ms));
            }
        }
        Expr::Subquery(s) => {
            if !in_subquery && s.at.is_none() {
                s.at = Some(AtModifier::Time(at_ms));
            }
            pin(&mut s.expr, at_ms, true, time_dependent);
        }
        Expr::Paren { expr, .. } | Expr::Unary { expr, .. } => {
            pin(expr, at_ms, in_subquery, time_dependent)
        }
        Expr::Binary(b) => {
            pin(&mut b.lhs, at_ms, in_subquery, time_dependent);
            pin(&mut b.rhs, at_ms, in_subquery, time_dependent);
        }
        Expr::Call(c) => {
            // Upstream does not look at calls below a pinned subquery.
            if !in_subquery && TIME_DEPENDENT_FUNCS.contains(&c.func.name) {
                *time_dependent = true;
            }
            for a in &mut c.args {
                pin(a, at_ms, in_subquery, time_dependent);
            }
        }
        Expr::Aggregate(a) => {
            pin(&mut a.expr, at_ms, in_subquery, time_dependent);
            if let Some(p) = &mut a.param {
                pin(p, at_ms, in_subquery, time_dependent);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(expr: &str, at_ms: i64, expected: &str) {
        let got = match pinned_variants(expr, at_ms) {
            Some((e, times)) => format!("{e} {times:?}"),
            None => "none".into(),
        };
        assert_eq!(got, expected, "expr: {expr}");
    }

    #[test]
    fn selectors_and_subqueries_get_pinned() {
        check("x", 0, "x @ 0.000 [-1000, 0, 1000]");
        check(
            "rate(x[5m]) + y @ 10",
            60_000,
            "rate(x[5m] @ 60.000) + y @ 10.000 [-600000, 0, 12000, 60000, 600000]",
        );
        check(
            "max_over_time(rate(x[1m])[5m:1m])",
            1000,
            "max_over_time(rate(x[1m])[5m:1m] @ 1.000) [-10000, 0, 200, 1000, 10000]",
        );
    }

    #[test]
    fn time_dependent_expressions_are_left_out() {
        check("time() - x", 1000, "none");
        check("hour(x)", 1000, "none");
        check("sum(", 1000, "none");
        // Below a subquery upstream does not look.
        check(
            "max_over_time(timestamp(x)[5m:1m])",
            0,
            "max_over_time(timestamp(x)[5m:1m] @ 0.000) [-1000, 0, 1000]",
        );
    }
}
