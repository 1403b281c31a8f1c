//! Judging one query result against an eval's expectations, the way the
//! test format defines it (error, annotations, series identity, float and
//! histogram equality), and writing a precise, readable diff when it does
//! not match: every mismatching, missing and unexpected series, not just
//! the first.
//!
//! Results arrive here in the runner's own [`Output`] type, so this module
//! does not depend on the engine's API.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use beacon_model::{FloatHistogram, Labels, is_stale_nan};

use crate::histogram::{format_histogram, histograms_equal};
use crate::script::{AnnotationExpect, Eval, ExpectedSeries};
use crate::series::Slot;

/// Relative tolerance for float results.
pub const EPSILON: f64 = 1e-6;

/// What a successful query returned, independent of the engine's types.
#[derive(Debug, Clone)]
pub struct Output {
    pub value: ResultValue,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// A query's value.
#[derive(Debug, Clone)]
pub enum ResultValue {
    Scalar(f64),
    String(String),
    Vector(Vec<VectorSample>),
    Matrix(Vec<MatrixSeries>),
}

/// One instant-vector element: a float, or a histogram when `h` is set.
#[derive(Debug, Clone)]
pub struct VectorSample {
    pub labels: Labels,
    pub f: f64,
    pub h: Option<FloatHistogram>,
}

/// One range-vector series.
#[derive(Debug, Clone)]
pub struct MatrixSeries {
    pub labels: Labels,
    pub floats: Vec<(i64, f64)>,
    pub histograms: Vec<(i64, FloatHistogram)>,
}

/// Float equality of the test format: the stale marker equals only itself,
/// two NaNs are equal, and otherwise the relative difference must be below
/// [`EPSILON`] (effectively exact when either side is zero).
pub fn floats_equal(a: f64, b: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

/// Formats a float the way scripts write them: `stale`, `NaN`, `+Inf`,
/// integers without a fraction, the shortest round-trip form otherwise.
pub fn format_float(v: f64) -> String {
    if is_stale_nan(v) {
        return "stale".into();
    }
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if v == v.trunc() && v.abs() < 1e15 {
        return format!("{v:.0}");
    }
    let s = format!("{v:?}");
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

fn format_slot(s: &Slot) -> String {
    match s {
        Slot::Empty => "_".into(),
        Slot::Float(v) => format_float(*v),
        Slot::Histogram(h) => format_histogram(&h.h),
    }
}

/// Renders slots in the series notation, for diffs and tests.
pub fn format_slots(slots: &[Slot]) -> String {
    let items: Vec<String> = slots.iter().map(format_slot).collect();
    items.join(" ")
}

fn format_sample(s: &VectorSample) -> String {
    match &s.h {
        Some(h) => format_histogram(h),
        None => format_float(s.f),
    }
}

/// Checks an error against `expect fail` (with any message or pattern).
pub fn check_error(eval: &Eval, error: &str) -> Result<(), String> {
    match &eval.fail {
        None => Err(format!("unexpected error: {error}")),
        Some(p) if p.matches(error) => Ok(()),
        Some(p) => Err(format!(
            "expected an error matching {p}\n  got error: {error}"
        )),
    }
}

fn check_kind(kind: &str, exp: &AnnotationExpect, got: &[String]) -> Result<(), String> {
    if exp.required && got.is_empty() {
        return Err(format!("expected {kind} annotations, got none"));
    }
    if exp.none && !got.is_empty() {
        return Err(format!("expected no {kind} annotations, got: {got:?}"));
    }
    if exp.patterns.is_empty() {
        return Ok(());
    }
    if got.is_empty() {
        return Err(format!("expected {kind} annotations, got none"));
    }
    for p in &exp.patterns {
        if !got.iter().any(|a| p.matches(a)) {
            return Err(format!(
                "expected a {kind} annotation matching {p}\n  got: {got:?}"
            ));
        }
    }
    for a in got {
        if !exp.patterns.iter().any(|p| p.matches(a)) {
            return Err(format!("unexpected {kind} annotation {a:?}"));
        }
    }
    Ok(())
}

/// Checks warnings and infos. A plain eval looks at neither.
pub fn check_annotations(eval: &Eval, out: &Output) -> Result<(), String> {
    check_kind("warn", &eval.warn, &out.warnings)?;
    check_kind("info", &eval.info, &out.infos)
}

/// The grid a matrix result is judged on: start, end and step in ms.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// Checks a result value against the expected series, scalar or string.
pub fn check_value(eval: &Eval, value: &ResultValue, grid: Option<Grid>) -> Result<(), String> {
    match value {
        ResultValue::Scalar(v) => match eval.expected_scalar {
            Some(e) if floats_equal(e, *v) => Ok(()),
            Some(e) => Err(format!(
                "expected scalar {}, got {}",
                format_float(e),
                format_float(*v)
            )),
            None => Err(format!(
                "expected a vector or matrix, got scalar {}",
                format_float(*v)
            )),
        },
        ResultValue::String(s) => {
            let e = eval.expected_string.as_deref().unwrap_or("");
            if e == s {
                Ok(())
            } else {
                Err(format!("expected string {e:?}, got {s:?}"))
            }
        }
        ResultValue::Vector(v) => check_vector(eval, v),
        ResultValue::Matrix(m) => match grid {
            Some(g) => check_matrix(eval, m, g),
            // Upstream accepts a range vector from an instant eval without
            // `expect range vector` only when it is empty and so is the body.
            None if m.is_empty() && eval.expected.is_empty() && eval.expected_scalar.is_none() => {
                Ok(())
            }
            None => Err(format!(
                "got a range vector of {} series; an instant eval needs 'expect range vector' for that",
                m.len()
            )),
        },
    }
}

/// Expected series by label set; a repeated label set replaces the earlier
/// line, as upstream keys them.
fn expected_by_labels(eval: &Eval) -> BTreeMap<&Labels, (usize, &ExpectedSeries)> {
    let mut map = BTreeMap::new();
    for (i, e) in eval.expected.iter().enumerate() {
        map.insert(&e.labels, (i + 1, e));
    }
    map
}

fn check_vector(eval: &Eval, got: &[VectorSample]) -> Result<(), String> {
    if let Some(e) = eval.expected_scalar {
        return Err(format!(
            "expected scalar {}, got a vector of {} series{}",
            format_float(e),
            got.len(),
            render_vector(got)
        ));
    }
    let expected = expected_by_labels(eval);
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for (pos, s) in got.iter().enumerate() {
        let Some((exp_pos, exp)) = expected.get(&s.labels) else {
            problems.push(format!("unexpected: {} {}", s.labels, format_sample(s)));
            continue;
        };
        seen.push(&s.labels);
        if eval.ordered && *exp_pos != pos + 1 {
            problems.push(format!(
                "order: {} is result #{} but expected #{} (line {})",
                s.labels,
                pos + 1,
                exp_pos,
                exp.line
            ));
        }
        if let Err(why) = sample_matches(exp.slots.first(), s) {
            problems.push(format!("value of {} (line {}): {why}", s.labels, exp.line));
        }
    }
    for (labels, (_, exp)) in &expected {
        if !seen.contains(labels) {
            problems.push(format!(
                "missing: {} {} (line {})",
                labels,
                format_slots(&exp.slots),
                exp.line
            ));
        }
    }
    finish(problems, || render_vector(got))
}

fn sample_matches(exp: Option<&Slot>, got: &VectorSample) -> Result<(), String> {
    let mismatch = |e: String| Err(format!("expected {e}, got {}", format_sample(got)));
    match (exp, &got.h) {
        (None, _) => mismatch("a value (the line has none)".into()),
        (Some(Slot::Histogram(e)), Some(h)) => {
            if histograms_equal(&e.h, h, e.hint_set) {
                Ok(())
            } else {
                mismatch(format_histogram(&e.h))
            }
        }
        (Some(Slot::Histogram(e)), None) => {
            mismatch(format!("histogram {}", format_histogram(&e.h)))
        }
        (Some(Slot::Float(e)), None) if floats_equal(*e, got.f) => Ok(()),
        // Upstream reads `_` in an instant expectation as the value 0.
        (Some(Slot::Empty), None) if floats_equal(0.0, got.f) => Ok(()),
        (Some(e), _) => mismatch(format_slot(e)),
    }
}

fn render_vector(got: &[VectorSample]) -> String {
    let mut out = String::from("\n  result:");
    if got.is_empty() {
        out.push_str(" (empty vector)");
    }
    for s in got {
        let _ = write!(out, "\n    {} {}", s.labels, format_sample(s));
    }
    out
}

fn finish(problems: Vec<String>, render: impl FnOnce() -> String) -> Result<(), String> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(problems.join("\n") + &render())
}

/// Where the points of one result series fall on the grid: one slot per
/// step, plus any points off the grid.
fn series_slots(s: &MatrixSeries, g: Grid) -> (Vec<Slot>, Vec<i64>) {
    let n = ((g.end_ms - g.start_ms) / g.step_ms + 1).max(0) as usize;
    let mut slots = vec![Slot::Empty; n];
    let mut off_grid = Vec::new();
    let index = |t: i64| {
        let d = t - g.start_ms;
        (d >= 0 && d % g.step_ms == 0)
            .then(|| (d / g.step_ms) as usize)
            .filter(|i| *i < n)
    };
    for (t, v) in &s.floats {
        match index(*t) {
            Some(i) => slots[i] = Slot::Float(*v),
            None => off_grid.push(*t),
        }
    }
    for (t, h) in &s.histograms {
        match index(*t) {
            Some(i) => {
                slots[i] = Slot::Histogram(Box::new(crate::series::HistogramValue {
                    h: h.clone(),
                    hint_set: false,
                }))
            }
            None => off_grid.push(*t),
        }
    }
    (slots, off_grid)
}

fn slots_match(exp: &[Slot], got: &[Slot]) -> bool {
    let len = exp.len().max(got.len());
    (0..len).all(|i| match (exp.get(i), got.get(i)) {
        (None | Some(Slot::Empty), None | Some(Slot::Empty)) => true,
        (Some(Slot::Float(e)), Some(Slot::Float(g))) => floats_equal(*e, *g),
        (Some(Slot::Histogram(e)), Some(Slot::Histogram(g))) => {
            histograms_equal(&e.h, &g.h, e.hint_set)
        }
        _ => false,
    })
}

fn check_matrix(eval: &Eval, got: &[MatrixSeries], g: Grid) -> Result<(), String> {
    if eval.ordered {
        return Err("'ordered' cannot be checked on a range vector".into());
    }
    if let Some(e) = eval.expected_scalar {
        return Err(format!(
            "expected scalar {}, got a range vector",
            format_float(e)
        ));
    }
    let mut problems = Vec::new();
    if let Some(w) = got.windows(2).find(|w| w[0].labels > w[1].labels) {
        problems.push(format!(
            "result is not sorted by labels: {} comes before {}",
            w[0].labels, w[1].labels
        ));
    }
    let expected = expected_by_labels(eval);
    let n = ((g.end_ms - g.start_ms) / g.step_ms + 1).max(0) as usize;
    let mut seen = Vec::new();
    for s in got {
        let (slots, off_grid) = series_slots(s, g);
        let Some((_, exp)) = expected.get(&s.labels) else {
            problems.push(format!("unexpected: {} {}", s.labels, format_slots(&slots)));
            continue;
        };
        seen.push(&s.labels);
        if exp.slots.len() > n {
            problems.push(format!(
                "{} (line {}): {} values expected but the range has only {n} steps",
                s.labels,
                exp.line,
                exp.slots.len()
            ));
            continue;
        }
        if !off_grid.is_empty() || !slots_match(&exp.slots, &slots) {
            let mut p = format!(
                "{} (line {}):\n    expected: {}\n    got:      {}",
                s.labels,
                exp.line,
                format_slots(&exp.slots),
                format_slots(&slots)
            );
            if !off_grid.is_empty() {
                let _ = write!(p, "\n    points off the step grid at t={off_grid:?}");
            }
            problems.push(p);
        }
    }
    for (labels, (_, exp)) in &expected {
        if !seen.contains(labels) {
            problems.push(format!(
                "missing: {} {} (line {})",
                labels,
                format_slots(&exp.slots),
                exp.line
            ));
        }
    }
    finish(problems, String::new)
}

/// The points of a range-mode run at time `t`, as an instant vector (the
/// range-mode agreement check).
pub fn matrix_at(m: &[MatrixSeries], t: i64) -> Vec<VectorSample> {
    let mut out = Vec::new();
    for s in m {
        if let Some((_, f)) = s.floats.iter().find(|p| p.0 == t) {
            out.push(VectorSample {
                labels: s.labels.clone(),
                f: *f,
                h: None,
            });
        }
        if let Some((_, h)) = s.histograms.iter().find(|p| p.0 == t) {
            out.push(VectorSample {
                labels: s.labels.clone(),
                f: 0.0,
                h: Some(h.clone()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{Command, parse_script};
    use beacon_model::stale_nan;

    fn eval_of(script: &str) -> Eval {
        match parse_script(script).unwrap().commands.remove(0) {
            Command::Eval(e) => *e,
            other => panic!("not an eval: {other:?}"),
        }
    }

    fn sample(labels: &[(&str, &str)], f: f64) -> VectorSample {
        VectorSample {
            labels: Labels::from_pairs(labels.iter().copied()),
            f,
            h: None,
        }
    }

    /// Judges `value` against the eval in `script` and renders the verdict.
    fn check(script: &str, value: ResultValue, expected: &str) {
        let eval = eval_of(script);
        let grid = match eval.kind {
            crate::script::EvalKind::Range {
                start_ms,
                end_ms,
                step_ms,
            } => Some(Grid {
                start_ms,
                end_ms,
                step_ms,
            }),
            _ => None,
        };
        let got = match check_value(&eval, &value, grid) {
            Ok(()) => "ok".to_owned(),
            Err(e) => e,
        };
        assert_eq!(got, expected, "script:\n{script}");
    }

    #[test]
    fn float_equality() {
        assert!(floats_equal(f64::NAN, f64::NAN));
        assert!(floats_equal(stale_nan(), stale_nan()));
        assert!(!floats_equal(stale_nan(), f64::NAN));
        assert!(floats_equal(1.0, 1.0 + 1e-9));
        assert!(!floats_equal(1.0, 1.0 + 1e-5));
        assert!(!floats_equal(0.0, 1e-300));
        assert!(floats_equal(f64::INFINITY, f64::INFINITY));
        assert!(!floats_equal(f64::INFINITY, f64::MAX));
        assert_eq!(format_float(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_float(-3.0), "-3");
        assert_eq!(format_float(1e300), "1e300");
        assert_eq!(format_float(stale_nan()), "stale");
    }

    #[test]
    fn vectors_report_every_difference() {
        let script = "eval instant at 0 x\n  x{a=\"1\"} 1\n  x{a=\"2\"} 2\n  x{a=\"3\"} 3\n";
        let got = ResultValue::Vector(vec![
            sample(&[("__name__", "x"), ("a", "1")], 1.0000000001),
            sample(&[("__name__", "x"), ("a", "2")], 2.5),
            sample(&[("__name__", "x"), ("a", "4")], 4.0),
        ]);
        check(
            script,
            got,
            "value of x{a=\"2\"} (line 3): expected 2, got 2.5\n\
             unexpected: x{a=\"4\"} 4\n\
             missing: x{a=\"3\"} 3 (line 4)\n  result:\n    x{a=\"1\"} 1.0000000001\n    x{a=\"2\"} 2.5\n    x{a=\"4\"} 4",
        );
    }

    #[test]
    fn order_is_checked_only_when_asked() {
        let unordered = "eval instant at 0 x\n  x{a=\"1\"} 1\n  x{a=\"2\"} 2\n";
        let swapped = || {
            ResultValue::Vector(vec![
                sample(&[("__name__", "x"), ("a", "2")], 2.0),
                sample(&[("__name__", "x"), ("a", "1")], 1.0),
            ])
        };
        check(unordered, swapped(), "ok");
        let ordered = "eval instant at 0 x\n  expect ordered\n  x{a=\"1\"} 1\n  x{a=\"2\"} 2\n";
        check(
            ordered,
            swapped(),
            "order: x{a=\"2\"} is result #1 but expected #2 (line 4)\n\
             order: x{a=\"1\"} is result #2 but expected #1 (line 3)\n  result:\n    x{a=\"2\"} 2\n    x{a=\"1\"} 1",
        );
    }

    #[test]
    fn scalars_strings_and_empty_results() {
        check(
            "eval instant at 0 1\n  1.0000001\n",
            ResultValue::Scalar(1.0),
            "ok",
        );
        check(
            "eval instant at 0 1\n  2\n",
            ResultValue::Scalar(1.0),
            "expected scalar 2, got 1",
        );
        check(
            "eval instant at 0 1\n",
            ResultValue::Scalar(1.0),
            "expected a vector or matrix, got scalar 1",
        );
        check("eval instant at 0 x\n", ResultValue::Vector(vec![]), "ok");
        check(
            "eval instant at 0 \"a\"\n  expect string \"a\"\n",
            ResultValue::String("a".into()),
            "ok",
        );
        check(
            "eval instant at 0 \"a\"\n  expect string \"b\"\n",
            ResultValue::String("a".into()),
            "expected string \"b\", got \"a\"",
        );
    }

    #[test]
    fn matrices_are_compared_step_by_step() {
        let script = "eval range from 0 to 2m step 1m x\n  x 1 _ 3\n";
        let series = |floats: Vec<(i64, f64)>| {
            ResultValue::Matrix(vec![MatrixSeries {
                labels: Labels::from_pairs([("__name__", "x")]),
                floats,
                histograms: vec![],
            }])
        };
        check(script, series(vec![(0, 1.0), (120_000, 3.0)]), "ok");
        check(
            script,
            series(vec![(0, 1.0), (60_000, 2.0), (120_000, 3.0)]),
            "x (line 2):\n    expected: 1 _ 3\n    got:      1 2 3",
        );
        check(
            script,
            series(vec![(0, 1.0), (90_000, 2.0), (120_000, 3.0)]),
            "x (line 2):\n    expected: 1 _ 3\n    got:      1 _ 3\n    points off the step grid at t=[90000]",
        );
        check(
            "eval range from 0 to 1m step 1m x\n  x 1 2 3\n",
            series(vec![(0, 1.0), (60_000, 2.0)]),
            "x (line 2): 3 values expected but the range has only 2 steps",
        );
    }

    #[test]
    fn annotations_and_errors() {
        let out = |warnings: &[&str], infos: &[&str]| Output {
            value: ResultValue::Vector(vec![]),
            warnings: warnings.iter().map(|s| s.to_string()).collect(),
            infos: infos.iter().map(|s| s.to_string()).collect(),
        };
        let verdict = |script: &str, o: Output| match check_annotations(&eval_of(script), &o) {
            Ok(()) => "ok".to_owned(),
            Err(e) => e,
        };
        // A plain eval ignores annotations.
        assert_eq!(verdict("eval instant at 0 x\n", out(&["w"], &["i"])), "ok");
        assert_eq!(
            verdict("eval instant at 0 x\n  expect no_warn\n", out(&["w"], &[])),
            "expected no warn annotations, got: [\"w\"]"
        );
        assert_eq!(
            verdict(
                "eval instant at 0 x\n  expect info msg: i (1:1)\n",
                out(&[], &["i (1:1)", "j"])
            ),
            "unexpected info annotation \"j\""
        );
        assert_eq!(
            verdict(
                "eval instant at 0 x\n  expect warn regex: ^w\\d\n",
                out(&["w1", "w2"], &[])
            ),
            "ok"
        );
        assert_eq!(
            verdict("eval_info instant at 0 x\n", out(&["w"], &[])),
            "expected info annotations, got none"
        );
        let fail = eval_of("eval instant at 0 x\n  expect fail msg: bad\n");
        assert_eq!(check_error(&fail, "bad"), Ok(()));
        assert_eq!(
            check_error(&fail, "worse"),
            Err("expected an error matching message \"bad\"\n  got error: worse".into())
        );
        let plain = eval_of("eval instant at 0 x\n");
        assert_eq!(
            check_error(&plain, "boom"),
            Err("unexpected error: boom".into())
        );
    }
}
