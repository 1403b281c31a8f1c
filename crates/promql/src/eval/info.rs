//! `info(v, {selector})`: enriches series with the data labels of info
//! metrics (`target_info` by default) that share their identifying labels
//! (`instance`, `job`).

use std::collections::HashMap;

use beacon_model::{Labels, Matcher};

use super::{Evaluator, Sample, Val, Vector};
use crate::ast::{Call, Expr, VectorSelector};
use crate::error::Result;

/// Labels that tie a series to its info series.
const IDENTIFYING_LABELS: [&str; 2] = ["instance", "job"];
/// The info metric used when the selector names none.
const DEFAULT_INFO_METRIC: &str = "target_info";

impl Evaluator<'_> {
    pub(crate) fn info_call(&mut self, c: &Call) -> Result<Val> {
        let (name_matchers, data_matchers) = split_matchers(c.args.get(1));
        let base = self.eval_vector(&c.args[0])?;
        let info_sel = VectorSelector {
            name: None,
            matchers: name_matchers.clone(),
            offset: None,
            at: None,
            smoothed: false,
            anchored: false,
            pos: c.pos,
        };
        // Values are the info samples' timestamps, to prefer the newest.
        let infos = self.select_instant(&info_sel, true)?;
        let mut out = Vec::with_capacity(base.len());
        for (vec, info) in base.into_iter().zip(infos) {
            out.push(enrich_step(vec, &info, &name_matchers, &data_matchers));
        }
        Ok(Val::Vector(out))
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
    }
    (names, data)
}

fn identity(l: &Labels) -> Option<(String, String)> {
    Some((
        l.get(IDENTIFYING_LABELS[0])?.to_owned(),
        l.get(IDENTIFYING_LABELS[1])?.to_owned(),
    ))
}

fn enrich_step(vec: Vector, info: &Vector, names: &[Matcher], data: &[Matcher]) -> Vector {
    let mut by_id: HashMap<(String, String), Vec<&Sample>> = HashMap::new();
    for s in info {
        if s.h.is_none()
            && data.iter().all(|m| m.matches_labels(&s.metric))
            && let Some(id) = identity(&s.metric)
        {
            by_id.entry(id).or_default().push(s);
        }
    }
    let data_needs_value = data.iter().any(|m| !m.matches_empty());
    let mut out = Vec::with_capacity(vec.len());
    for mut s in vec {
        let is_info = names.iter().all(|m| m.matches_labels(&s.metric)) && !s.drop_name;
        if is_info {
            out.push(s);
            continue;
        }
        let matches = identity(&s.metric).and_then(|id| by_id.get(&id));
        let Some(matches) = matches else {
            if !data_needs_value {
                out.push(s);
            }
            continue;
        };
        // Newest info sample wins per label.
        let mut add: Vec<(String, String, f64)> = Vec::new();
        for inf in matches {
            for l in inf.metric.iter() {
                if l.name == "__name__" || IDENTIFYING_LABELS.contains(&l.name) {
                    continue;
                }
                if !data.is_empty() && !data.iter().any(|m| m.name == l.name) {
                    continue;
                }
                if s.metric.has(l.name) {
                    continue;
                }
                match add.iter_mut().find(|a| a.0 == l.name) {
                    Some(a) if a.2 < inf.f => {
                        a.1 = l.value.to_owned();
                        a.2 = inf.f;
                    }
                    Some(_) => {}
                    None => add.push((l.name.to_owned(), l.value.to_owned(), inf.f)),
                }
            }
        }
        let mut b = s.metric.builder();
        for (n, v, _) in &add {
            b.set(n, v);
        }
        s.metric = b.build();
        out.push(s);
    }
    out
}
