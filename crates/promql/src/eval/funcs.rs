//! Function calls: dispatch, and the functions over instant vectors and
//! scalars (math, time, labels, sorting, `absent`, `scalar`, `vector`).

use beacon_model::{Labels, MatchType};

use super::{Evaluator, Sample, Val, Vector};
use crate::ast::{Call, Expr, ValueType};
use crate::error::{Error, Result};

/// The labels `absent(...)` reports: the selector's equality matchers.
pub(crate) fn absent_labels(e: &Expr) -> Labels {
    let vs = match e {
        Expr::Vector(vs) => vs,
        Expr::Matrix(m) => &m.vs,
        Expr::Paren { expr, .. } => return absent_labels(expr),
        _ => return Labels::empty(),
    };
    let mut seen: Vec<(&str, &str)> = Vec::new();
    let mut dup: Vec<&str> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for m in &vs.matchers {
        if names.contains(&m.name.as_str()) {
            dup.push(&m.name);
        }
        names.push(&m.name);
        if m.kind != MatchType::Equal || m.name == "__name__" {
            continue;
        }
        seen.push((&m.name, &m.value));
    }
    seen.retain(|(n, _)| !dup.contains(n));
    Labels::from_pairs(seen)
}

/// A valid label name: UTF-8 (no invalid byte escapes) and non-empty.
pub(crate) fn valid_label_name(s: &str) -> bool {
    beacon_model::is_valid_utf8_name(s)
        && !s.chars().any(|c| crate::lexer::invalid_byte(c).is_some())
}

/// Go's `math.Max`/`math.Min`: NaN wins.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "sgn" => |v: f64| {
            if v > 0.0 {
                1.0
            } else if v < 0.0 {
                -1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// Civil date parts of a Unix time in seconds.
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    weekday: i64,
    yday: i64,
}

fn civil(secs: f64) -> Civil {
    let s = secs.floor() as i64;
    let days = s.div_euclid(86_400);
    let rem = s.rem_euclid(86_400);
    // Days-from-civil inverse (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    const CUM: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let yday = CUM[(month - 1) as usize] + day + i64::from(leap && month > 2);
    Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        weekday: (days + 4).rem_euclid(7),
        yday,
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn time_fn(name: &str, v: f64) -> f64 {
    let c = civil(v);
    (match name {
        "year" => c.year,
        "month" => c.month,
        "day_of_month" => c.day,
        "day_of_week" => c.weekday,
        "day_of_year" => c.yday,
        "hour" => c.hour,
        "minute" => c.minute,
        _ => days_in_month(c.year, c.month),
    }) as f64
}

impl Evaluator<'_> {
    pub(crate) fn eval_call(&mut self, c: &Call) -> Result<Val> {
        let name = c.func.name;
        if let Some(idx) = c.func.args.iter().position(|t| *t == ValueType::Matrix) {
            return self.eval_range_call(c, idx);
        }
        let n = self.n_steps();
        match name {
            "time" => {
                return Ok(Val::Scalar(
                    (0..n).map(|i| self.ts(i) as f64 / 1000.0).collect(),
                ));
            }
            "pi" => return Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
            "step" => return Ok(Val::Scalar(vec![self.query_step as f64 / 1000.0; n])),
            "range" => {
                let r = (self.query_end - self.query_start) as f64 / 1000.0;
                return Ok(Val::Scalar(vec![r; n]));
            }
            "start" => return Ok(Val::Scalar(vec![self.query_start as f64 / 1000.0; n])),
            "end" => return Ok(Val::Scalar(vec![self.query_end as f64 / 1000.0; n])),
            "min_of" | "max_of" => {
                let a = self.eval_scalar(&c.args[0])?;
                let b = self.eval_scalar(&c.args[1])?;
                let max = name == "max_of";
                return Ok(Val::Scalar(
                    a.iter()
                        .zip(&b)
                        .map(|(x, y)| if max { go_max(*x, *y) } else { go_min(*x, *y) })
                        .collect(),
                ));
            }
            "vector" => {
                let s = self.eval_scalar(&c.args[0])?;
                return Ok(Val::Vector(
                    s.into_iter()
                        .map(|v| vec![Sample::float(Labels::empty(), v)])
                        .collect(),
                ));
            }
            "scalar" => {
                let v = self.eval_vector(&c.args[0])?;
                return Ok(Val::Scalar(
                    v.iter()
                        .map(|vec| {
                            let mut floats = vec.iter().filter(|s| s.h.is_none());
                            match (floats.next(), floats.next()) {
                                (Some(s), None) => s.f,
                                _ => f64::NAN,
                            }
                        })
                        .collect(),
                ));
            }
            "timestamp" => return self.timestamp(c),
            "absent" => {
                let v = self.eval_vector(&c.args[0])?;
                let labels = absent_labels(&c.args[0]);
                return Ok(Val::Vector(
                    v.iter()
                        .map(|vec| {
                            if vec.is_empty() {
                                vec![Sample::float(labels.clone(), 1.0)]
                            } else {
                                Vec::new()
                            }
                        })
                        .collect(),
                ));
            }
            "year" | "month" | "day_of_month" | "day_of_week" | "day_of_year" | "hour"
            | "minute" | "days_in_month" => return self.time_call(c),
            "label_replace" => return self.label_replace(c),
            "label_join" => return self.label_join(c),
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
                return self.sort_call(c);
            }
            "info" => return self.info_call(c),
            _ => {}
        }
        if name.starts_with("histogram_") {
            return self.eval_histogram_call(c);
        }
        let mut scalars = Vec::new();
        for a in c.args.iter().skip(1) {
            scalars.push(self.eval_scalar(a)?);
        }
        let steps = self.eval_vector(&c.args[0])?;
        let mut out = Vec::with_capacity(steps.len());
        for (i, vec) in steps.into_iter().enumerate() {
            let args: Vec<f64> = scalars.iter().map(|s| s[i]).collect();
            out.push(self.simple_fn(c, vec, &args)?);
        }
        Ok(Val::Vector(out))
    }

    fn simple_fn(&mut self, c: &Call, vec: Vector, args: &[f64]) -> Result<Vector> {
        let name = c.func.name;
        let mut out = Vec::with_capacity(vec.len());
        if name == "clamp" && args[1] < args[0] {
            return Ok(out);
        }
        let f = math_fn(name);
        for mut s in vec {
            if s.h.is_some() {
                continue;
            }
            s.f = match (name, f) {
                (_, Some(f)) => f(s.f),
                ("clamp", _) => go_max(args[0], go_min(args[1], s.f)),
                ("clamp_min", _) => go_max(args[0], s.f),
                ("clamp_max", _) => go_min(args[0], s.f),
                ("round", _) => {
                    let to = args.first().copied().unwrap_or(1.0);
                    let inv = 1.0 / to;
                    (s.f * inv + 0.5).floor() / inv
                }
                ("start_timestamp", _) => continue,
                _ => return Err(Error::Eval(format!("function {name} is not supported"))),
            };
            s.drop_name = true;
            out.push(s);
        }
        Ok(out)
    }

    fn timestamp(&mut self, c: &Call) -> Result<Val> {
        let mut inner = &c.args[0];
        while let Expr::Paren { expr, .. } = inner {
            inner = expr;
        }
        let steps = if let Expr::Vector(vs) = inner {
            self.select_instant(vs, true)?
        } else {
            let v = self.eval_vector(inner)?;
            v.into_iter()
                .enumerate()
                .map(|(i, vec)| {
                    let t = self.ts(i) as f64 / 1000.0;
                    vec.into_iter()
                        .map(|s| Sample { f: t, h: None, ..s })
                        .collect()
                })
                .collect()
        };
        Ok(Val::Vector(
            steps
                .into_iter()
                .map(|vec| {
                    vec.into_iter()
                        .map(|mut s| {
                            s.drop_name = true;
                            s
                        })
                        .collect()
                })
                .collect(),
        ))
    }

    fn time_call(&mut self, c: &Call) -> Result<Val> {
        let name = c.func.name;
        let n = self.n_steps();
        if c.args.is_empty() {
            return Ok(Val::Vector(
                (0..n)
                    .map(|i| {
                        let v = time_fn(name, self.ts(i) as f64 / 1000.0);
                        vec![Sample::float(Labels::empty(), v)]
                    })
                    .collect(),
            ));
        }
        let steps = self.eval_vector(&c.args[0])?;
        Ok(Val::Vector(
            steps
                .into_iter()
                .map(|vec| {
                    vec.into_iter()
                        .filter(|s| s.h.is_none())
                        .map(|mut s| {
                            s.f = if s.f.is_finite() {
                                time_fn(name, s.f)
                            } else {
                                f64::NAN
                            };
                            s.drop_name = true;
                            s
                        })
                        .collect()
                })
                .collect(),
        ))
    }

    fn string_arg(&mut self, e: &Expr) -> Result<String> {
        match self.eval(e)? {
            Val::Str(s) => Ok(s),
            _ => Err(Error::Eval("expected string".into())),
        }
    }

    fn label_replace(&mut self, c: &Call) -> Result<Val> {
        let dst = self.string_arg(&c.args[1])?;
        let repl = self.string_arg(&c.args[2])?;
        let src = self.string_arg(&c.args[3])?;
        let re_src = self.string_arg(&c.args[4])?;
        let re = beacon_model::regex::compile_anchored(&re_src).map_err(|_| {
            Error::Eval(format!(
                "invalid regular expression in label_replace(): {re_src}"
            ))
        })?;
        if !valid_label_name(&dst) {
            return Err(Error::Eval(format!(
                "invalid destination label name in label_replace(): {dst}"
            )));
        }
        let steps = self.eval_vector(&c.args[0])?;
        let mut out = Vec::with_capacity(steps.len());
        for vec in steps {
            let mut res = Vec::with_capacity(vec.len());
            for mut s in vec {
                let value = s.metric.get(&src).unwrap_or("").to_owned();
                if let Some(caps) = re.captures(&value) {
                    let mut dest = String::new();
                    caps.expand(&repl, &mut dest);
                    let mut b = s.metric.builder();
                    b.set(&dst, &dest);
                    s.metric = b.build();
                    if dst == "__name__" {
                        s.drop_name = false;
                    }
                }
                res.push(s);
            }
            check_dups_pending(&res)?;
            out.push(res);
        }
        Ok(Val::Vector(out))
    }

    fn label_join(&mut self, c: &Call) -> Result<Val> {
        let dst = self.string_arg(&c.args[1])?;
        let sep = self.string_arg(&c.args[2])?;
        let mut srcs = Vec::new();
        for a in &c.args[3..] {
            srcs.push(self.string_arg(a)?);
        }
        if !valid_label_name(&dst) {
            return Err(Error::Eval(format!(
                "invalid destination label name in label_join(): {dst}"
            )));
        }
        let steps = self.eval_vector(&c.args[0])?;
        let mut out = Vec::with_capacity(steps.len());
        for vec in steps {
            let mut res = Vec::with_capacity(vec.len());
            for mut s in vec {
                let joined: Vec<&str> =
                    srcs.iter().map(|n| s.metric.get(n).unwrap_or("")).collect();
                let v = joined.join(&sep);
                let mut b = s.metric.builder();
                b.set(&dst, &v);
                s.metric = b.build();
                if dst == "__name__" {
                    s.drop_name = false;
                }
                res.push(s);
            }
            check_dups_pending(&res)?;
            out.push(res);
        }
        Ok(Val::Vector(out))
    }

    fn sort_call(&mut self, c: &Call) -> Result<Val> {
        let name = c.func.name;
        if self.step != 0 {
            self.warn(
                "sort is ineffective for range queries since results are always ordered by labels",
                c.pos,
            );
        }
        let mut labels = Vec::new();
        for a in c.args.iter().skip(1) {
            labels.push(self.string_arg(a)?);
        }
        let steps = self.eval_vector(&c.args[0])?;
        let mut out = Vec::with_capacity(steps.len());
        for mut vec in steps {
            match name {
                "sort" | "sort_desc" => {
                    vec.retain(|s| s.h.is_none());
                    let desc = name == "sort_desc";
                    vec.sort_by(|a, b| match (a.f.is_nan(), b.f.is_nan()) {
                        (true, true) => std::cmp::Ordering::Equal,
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ if desc => b.f.partial_cmp(&a.f).unwrap_or(std::cmp::Ordering::Equal),
                        _ => a.f.partial_cmp(&b.f).unwrap_or(std::cmp::Ordering::Equal),
                    });
                }
                _ => {
                    let desc = name == "sort_by_label_desc";
                    vec.sort_by(|a, b| {
                        let mut ord = std::cmp::Ordering::Equal;
                        for l in &labels {
                            ord = natural_cmp(
                                a.metric.get(l).unwrap_or(""),
                                b.metric.get(l).unwrap_or(""),
                            );
                            if ord != std::cmp::Ordering::Equal {
                                break;
                            }
                        }
                        if ord == std::cmp::Ordering::Equal {
                            ord = a.metric.cmp(&b.metric);
                        }
                        if desc { ord.reverse() } else { ord }
                    });
                }
            }
            out.push(vec);
        }
        Ok(Val::Vector(out))
    }
}

/// Fails if two samples would share labels once pending name drops apply.
fn check_dups_pending(vec: &Vector) -> Result<()> {
    let mut seen = std::collections::HashSet::with_capacity(vec.len());
    for s in vec {
        let l = if s.drop_name {
            super::drop_metric_name(&s.metric)
        } else {
            s.metric.clone()
        };
        if !seen.insert(l) {
            return Err(Error::Eval(
                "vector cannot contain metrics with the same labelset".into(),
            ));
        }
    }
    Ok(())
}

/// Natural ordering: digit runs compare by numeric value.
pub(crate) fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = a[si..i].trim_start_matches('0');
            let nb = b[sj..j].trim_start_matches('0');
            let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if ord != Ordering::Equal {
                return ord;
            }
        } else {
            if ab[i] != bb[j] {
                return ab[i].cmp(&bb[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}
