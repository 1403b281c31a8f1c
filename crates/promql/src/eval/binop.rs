//! Binary operators: scalar/scalar, vector/scalar and vector/vector with
//! `on`/`ignoring`, `group_left`/`group_right`, set operators and fill
//! modifiers.

use std::collections::HashMap;

use beacon_model::{FloatHistogram, Labels};

use super::{Evaluator, Sample, Val, Vector};
use crate::ast::{BinOp, BinaryExpr, Cardinality, VectorMatching};
use crate::error::{Error, Result};

/// Applies a float operator; the bool says whether a comparison held.
pub(crate) fn float_op(op: BinOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinOp::Add => (l + r, true),
        BinOp::Sub => (l - r, true),
        BinOp::Mul => (l * r, true),
        BinOp::Div => (l / r, true),
        BinOp::Mod => (l % r, true),
        BinOp::Pow => (l.powf(r), true),
        BinOp::Atan2 => (l.atan2(r), true),
        BinOp::Eql => (l, l == r),
        BinOp::Neq => (l, l != r),
        BinOp::Lss => (l, l < r),
        BinOp::Lte => (l, l <= r),
        BinOp::Gtr => (l, l > r),
        BinOp::Gte => (l, l >= r),
        BinOp::And | BinOp::Or | BinOp::Unless | BinOp::TrimUpper | BinOp::TrimLower => (l, true),
    }
}

/// Whether an operator's result drops the metric name.
fn drops_name(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod | BinOp::Pow | BinOp::Atan2
    )
}

/// The operands of one element operation.
struct Operand<'a> {
    f: f64,
    h: Option<&'a FloatHistogram>,
}

/// One element operation; `None` drops the element.
fn elem_op(
    ev: &mut Evaluator<'_>,
    b: &BinaryExpr,
    l: Operand<'_>,
    r: Operand<'_>,
) -> Option<(f64, Option<Box<FloatHistogram>>)> {
    let op = b.op;
    match (l.h, r.h) {
        (None, None) => {
            let (v, keep) = float_op(op, l.f, r.f);
            if b.return_bool {
                return Some((if keep { 1.0 } else { 0.0 }, None));
            }
            keep.then_some((v, None))
        }
        (lh, rh) => super::hist::hist_binop(ev, b, l.f, lh, r.f, rh),
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval_binary(&mut self, b: &BinaryExpr) -> Result<Val> {
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        match (lhs, rhs) {
            (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
                l.iter()
                    .zip(&r)
                    .map(|(a, c)| {
                        let (v, keep) = float_op(b.op, *a, *c);
                        if b.op.is_comparison() {
                            if keep { 1.0 } else { 0.0 }
                        } else {
                            v
                        }
                    })
                    .collect(),
            )),
            (Val::Vector(l), Val::Scalar(r)) => {
                let mut out = Vec::with_capacity(l.len());
                for (vec, s) in l.into_iter().zip(r) {
                    out.push(self.vector_scalar(b, vec, s, false));
                }
                Ok(Val::Vector(out))
            }
            (Val::Scalar(l), Val::Vector(r)) => {
                let mut out = Vec::with_capacity(r.len());
                for (vec, s) in r.into_iter().zip(l) {
                    out.push(self.vector_scalar(b, vec, s, true));
                }
                Ok(Val::Vector(out))
            }
            (Val::Vector(l), Val::Vector(r)) => {
                let mut out = Vec::with_capacity(l.len());
                for (lv, rv) in l.into_iter().zip(r) {
                    self.tick()?;
                    out.push(self.vector_vector(b, lv, rv)?);
                }
                Ok(Val::Vector(out))
            }
            _ => Err(Error::Eval(
                "binary expression must contain only scalar and instant vector types".into(),
            )),
        }
    }

    fn vector_scalar(&mut self, b: &BinaryExpr, vec: Vector, s: f64, swap: bool) -> Vector {
        let mut out = Vec::with_capacity(vec.len());
        for mut sample in vec {
            let h = sample.h.take();
            let (l, r) = if swap {
                (
                    Operand { f: s, h: None },
                    Operand {
                        f: sample.f,
                        h: h.as_deref(),
                    },
                )
            } else {
                (
                    Operand {
                        f: sample.f,
                        h: h.as_deref(),
                    },
                    Operand { f: s, h: None },
                )
            };
            let Some((mut v, mut nh)) = elem_op(self, b, l, r) else {
                continue;
            };
            // A comparison keeps the vector's own value even when the
            // scalar is on the left.
            if b.op.is_comparison() && !b.return_bool {
                v = sample.f;
                nh = h;
            }
            sample.f = v;
            sample.h = nh;
            if drops_name(b.op) || b.return_bool {
                sample.drop_name = true;
            }
            out.push(sample);
        }
        out
    }

    fn vector_vector(&mut self, b: &BinaryExpr, lhs: Vector, rhs: Vector) -> Result<Vector> {
        let m = &b.matching;
        match b.op {
            BinOp::And => {
                let keys: std::collections::HashSet<Labels> =
                    rhs.iter().map(|s| signature(m, &s.metric)).collect();
                Ok(lhs
                    .into_iter()
                    .filter(|s| keys.contains(&signature(m, &s.metric)))
                    .collect())
            }
            BinOp::Unless => {
                let keys: std::collections::HashSet<Labels> =
                    rhs.iter().map(|s| signature(m, &s.metric)).collect();
                Ok(lhs
                    .into_iter()
                    .filter(|s| !keys.contains(&signature(m, &s.metric)))
                    .collect())
            }
            BinOp::Or => {
                let keys: std::collections::HashSet<Labels> =
                    lhs.iter().map(|s| signature(m, &s.metric)).collect();
                let mut out = lhs;
                out.extend(
                    rhs.into_iter()
                        .filter(|s| !keys.contains(&signature(m, &s.metric))),
                );
                Ok(out)
            }
            _ => self.vector_match(b, lhs, rhs),
        }
    }

    /// One-to-one and many-to-one/one-to-many matching.
    fn vector_match(&mut self, b: &BinaryExpr, lhs: Vector, rhs: Vector) -> Result<Vector> {
        let m = &b.matching;
        let swap = m.card == Cardinality::OneToMany;
        let (many, one) = if swap { (rhs, lhs) } else { (lhs, rhs) };
        // Index the "one" side by signature; duplicates are an error.
        let mut one_index: HashMap<Labels, usize> = HashMap::with_capacity(one.len());
        for (i, s) in one.iter().enumerate() {
            let sig = signature(m, &s.metric);
            if let Some(prev) = one_index.insert(sig.clone(), i) {
                let side = if swap { "left" } else { "right" };
                let (a, c) = sort_pair(&one[prev].metric, &s.metric);
                let (a, c) = (braced(a), braced(c));
                let sig = braced(&sig);
                return Err(Error::Eval(format!(
                    "found duplicate series for the match group {sig} on the {side} hand-side of the operation: [{a}, {c}];many-to-many matching not allowed: matching labels must be unique on one side"
                )));
            }
        }
        let mut out = Vec::with_capacity(many.len());
        let mut matched_one = vec![false; one.len()];
        let mut seen_sigs: HashMap<Labels, usize> = HashMap::new();
        let mut seen_out: std::collections::HashSet<Labels> = std::collections::HashSet::new();
        for ms in &many {
            let sig = signature(m, &ms.metric);
            let Some(&oi) = one_index.get(&sig) else {
                // Fill sides refer to the sides after a group_right swap.
                let fill = m.fill_right;
                if let Some(fv) = fill {
                    let filler = fill_sample(m, &ms.metric, fv);
                    self.push_result(b, ms, &filler, swap, &mut out, None)?;
                }
                continue;
            };
            matched_one[oi] = true;
            if m.card == Cardinality::OneToOne {
                let count = seen_sigs.entry(sig).or_insert(0);
                *count += 1;
                if *count > 1 {
                    return Err(Error::Eval(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
                    ));
                }
            }
            self.push_result(b, ms, &one[oi], swap, &mut out, Some(&mut seen_out))?;
        }
        let fill_many = m.fill_left;
        if let Some(fv) = fill_many {
            for (i, os) in one.iter().enumerate() {
                if !matched_one[i] {
                    let filler = fill_sample(m, &os.metric, fv);
                    self.push_result(b, &filler, os, swap, &mut out, None)?;
                }
            }
        }
        Ok(out)
    }

    fn push_result(
        &mut self,
        b: &BinaryExpr,
        many: &Sample,
        one: &Sample,
        swap: bool,
        out: &mut Vector,
        seen_out: Option<&mut std::collections::HashSet<Labels>>,
    ) -> Result<()> {
        let (l, r) = if swap { (one, many) } else { (many, one) };
        let Some((v, h)) = elem_op(
            self,
            b,
            Operand {
                f: l.f,
                h: l.h.as_deref(),
            },
            Operand {
                f: r.f,
                h: r.h.as_deref(),
            },
        ) else {
            return Ok(());
        };
        let metric = result_metric(&many.metric, &one.metric, &b.matching);
        if b.matching.card != Cardinality::OneToOne
            && let Some(seen) = seen_out
            && !seen.insert(metric.clone())
        {
            return Err(Error::Eval(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        out.push(Sample {
            metric,
            f: v,
            h,
            drop_name: drops_name(b.op) || b.return_bool || many.drop_name,
        });
        Ok(())
    }
}

/// Labels as Go's `labels.String()` prints them: `{__name__="x", a="b"}`.
pub(crate) fn braced(l: &Labels) -> String {
    let parts: Vec<String> = l
        .iter()
        .map(|lb| format!("{}={}", lb.name, crate::printer::quote(lb.value)))
        .collect();
    format!("{{{}}}", parts.join(", "))
}

fn sort_pair<'a>(a: &'a Labels, b: &'a Labels) -> (&'a Labels, &'a Labels) {
    if a <= b { (a, b) } else { (b, a) }
}

/// A stand-in sample for a missing side, carrying the match group's labels.
fn fill_sample(m: &VectorMatching, other: &Labels, v: f64) -> Sample {
    Sample {
        metric: signature_labels(m, other),
        f: v,
        h: None,
        drop_name: false,
    }
}

/// The labels that identify a match group.
pub(crate) fn signature(m: &VectorMatching, l: &Labels) -> Labels {
    if m.on {
        let names: Vec<&str> = m.labels.iter().map(String::as_str).collect();
        l.keep(&names)
    } else {
        let mut names: Vec<&str> = m.labels.iter().map(String::as_str).collect();
        names.push("__name__");
        l.drop_names(&names)
    }
}

/// The match-group labels of `l`, as a filled-in sample's labels.
fn signature_labels(m: &VectorMatching, l: &Labels) -> Labels {
    signature(m, l)
}

/// The result labels of a matched pair, as Prometheus's `resultMetric`.
fn result_metric(l: &Labels, one: &Labels, m: &VectorMatching) -> Labels {
    let mut b = l.builder();
    if m.card == Cardinality::OneToOne {
        if m.on {
            let keep: Vec<&str> = m.labels.iter().map(String::as_str).collect();
            b.retain(|n, _| keep.contains(&n));
        } else {
            b.retain(|n, _| !m.labels.iter().any(|x| x == n));
        }
    }
    for name in &m.include {
        match one.get(name) {
            Some(v) if !v.is_empty() => {
                b.set(name, v);
            }
            _ => {
                b.del(name);
            }
        }
    }
    b.build()
}
