//! `info(v, {selector})`: enriches series with the data labels of info
//! metrics (`target_info` by default) that share their identifying labels
//! (`instance`, `job`).

use beacon_model::{Labels, MatchType, Matcher};

use super::{Evaluator, Sample, Val, Vector};
use crate::ast::{AtModifier, Call, Expr, ValueType, VectorSelector};
use crate::error::{Error, Result};

/// Labels that tie a series to its info series.
const IDENTIFYING_LABELS: [&str; 2] = ["instance", "job"];
/// The info metric used when the selector names none.
const DEFAULT_INFO_METRIC: &str = "target_info";
/// The names info metrics have when the selector only excludes some.
const INFO_METRIC_PATTERN: &str = ".+_info";

impl Evaluator<'_> {
    pub(crate) fn info_call(&mut self, c: &Call) -> Result<Val> {
        let (name_matchers, data_matchers) = split_matchers(c.args.get(1));
        let base = self.eval_vector(&c.args[0])?;
        // Info series are read at the times the base series were read.
        let (at, offset) = time_modifiers_in(self, &c.args[0]);
        let info_sel = VectorSelector {
            name: None,
            matchers: name_matchers.clone(),
            offset: (offset != 0).then(|| crate::ast::DurationExpr::from_ms(offset)),
            at: at.map(AtModifier::Time),
            smoothed: false,
            anchored: false,
            pos: c.pos,
        };
        // Values are the info samples' timestamps, to prefer the newest.
        let infos = self.select_instant(&info_sel, true)?;
        let mut out = Vec::with_capacity(base.len());
        for (vec, info) in base.into_iter().zip(infos) {
            out.push(enrich_step(vec, &info, &name_matchers, &data_matchers)?);
        }
        Ok(Val::Vector(out))
    }
}

/// The `@` time and total offset (ms) under which an expression reads its
/// input: from its selector, or the range argument of the call it is.
fn time_modifiers_in(ev: &Evaluator<'_>, e: &Expr) -> (Option<i64>, i64) {
    match e {
        Expr::Paren { expr, .. } | Expr::Unary { expr, .. } => time_modifiers_in(ev, expr),
        Expr::Vector(vs) => (ev.at_ms(vs.at), ev.dur_ms(&vs.offset)),
        Expr::Matrix(ms) => (ev.at_ms(ms.vs.at), ev.dur_ms(&ms.vs.offset)),
        Expr::Subquery(sq) => {
            let (inner_at, inner_off) = time_modifiers_in(ev, &sq.expr);
            let off = ev.dur_ms(&sq.offset);
            match (inner_at, ev.at_ms(sq.at)) {
                (Some(a), _) => (Some(a), inner_off),
                (None, Some(a)) => (Some(a), off + inner_off),
                (None, None) => (None, off + inner_off),
            }
        }
        Expr::Call(c) => c
            .args
            .iter()
            .find(|a| matches!(a.value_type(), ValueType::Vector | ValueType::Matrix))
            .map_or((None, 0), |a| time_modifiers_in(ev, a)),
        Expr::Aggregate(a) => time_modifiers_in(ev, &a.expr),
        _ => (None, 0),
    }
}

/// Splits the selector argument into `__name__` matchers (which pick the
/// info metrics) and data-label matchers.
fn split_matchers(arg: Option<&Expr>) -> (Vec<Matcher>, Vec<Matcher>) {
    let mut inner = arg;
    while let Some(Expr::Paren { expr, .. }) = inner {
        inner = Some(expr);
    }
    let matchers = match inner {
        Some(Expr::Vector(vs)) => vs.matchers.clone(),
        _ => Vec::new(),
    };
    let (mut names, data): (Vec<Matcher>, Vec<Matcher>) =
        matchers.into_iter().partition(|m| m.name == "__name__");
    if names.is_empty() {
        names.push(Matcher::equal("__name__", DEFAULT_INFO_METRIC));
    } else if !names
        .iter()
        .any(|m| matches!(m.kind, MatchType::Equal | MatchType::Regex))
    {
        // Only exclusions given: choose among the info metrics.
        if let Ok(m) = Matcher::new(MatchType::Regex, "__name__", INFO_METRIC_PATTERN) {
            names.push(m);
        }
    }
    (names, data)
}

/// Whether info series `info` belongs to `base`: every identifying label
/// the base has must be present on the info series with the same value,
/// and the base must have at least one.
fn same_identity(base: &Labels, info: &Labels) -> bool {
    let mut any = false;
    for name in IDENTIFYING_LABELS {
        if let Some(v) = base.get(name) {
            any = true;
            if info.get(name) != Some(v) {
                return false;
            }
        }
    }
    any
}

fn enrich_step(vec: Vector, info: &Vector, names: &[Matcher], data: &[Matcher]) -> Result<Vector> {
    if info.iter().any(|s| s.h.is_some()) {
        return Err(Error::Eval(
            "info metrics must be float series, got a native histogram".into(),
        ));
    }
    let candidates: Vec<&Sample> = info
        .iter()
        .filter(|s| data.iter().all(|m| m.matches_labels(&s.metric)))
        .collect();
    let data_needs_value = data.iter().any(|m| !m.matches_empty());
    // A base series that is itself one of the selected info metrics (by
    // the positive name matchers) is left alone.
    let positive = names
        .iter()
        .any(|m| matches!(m.kind, MatchType::Equal | MatchType::Regex));
    let mut out = Vec::with_capacity(vec.len());
    for mut s in vec {
        if positive && !s.drop_name && names.iter().all(|m| m.matches_labels(&s.metric)) {
            out.push(s);
            continue;
        }
        let matches: Vec<&&Sample> = candidates
            .iter()
            .filter(|i| same_identity(&s.metric, &i.metric))
            .collect();
        if matches.is_empty() {
            if !data_needs_value {
                out.push(s);
            }
            continue;
        }
        // Per label: value, sample time (newest wins within one info
        // metric) and the info metric it came from.
        let mut add: Vec<(String, String, f64, String)> = Vec::new();
        for inf in matches {
            let metric = inf.metric.get("__name__").unwrap_or("");
            for l in inf.metric.iter() {
                if l.name == "__name__"
                    || IDENTIFYING_LABELS.contains(&l.name)
                    || (!data.is_empty() && !data.iter().any(|m| m.name == l.name))
                    || s.metric.has(l.name)
                {
                    continue;
                }
                match add.iter_mut().find(|a| a.0 == l.name) {
                    Some(a) if a.3 != metric && a.1 != l.value => {
                        return Err(Error::Eval(format!(
                            "conflicting label {:?}: info metrics {:?} and {metric:?} disagree",
                            l.name, a.3
                        )));
                    }
                    Some(a) if a.2 < inf.f => {
                        a.1 = l.value.to_owned();
                        a.2 = inf.f;
                    }
                    Some(_) => {}
                    None => add.push((
                        l.name.to_owned(),
                        l.value.to_owned(),
                        inf.f,
                        metric.to_owned(),
                    )),
                }
            }
        }
        let mut b = s.metric.builder();
        for (n, v, _, _) in &add {
            b.set(n, v);
        }
        s.metric = b.build();
        out.push(s);
    }
    Ok(out)
}
